r"""The Matthew Effect of 001 (Sec. 5.1, after FEN, Jiang & Lu 2019, and SOTO), batched.

Ten Pac-Man-like agents and three "ghost" resources in the unit square. Every step:

1. each agent moves by its speed :math:`v_i` in one of 5 directions (stay, up, down, left,
   right), clipped to the square;
2. each ghost takes a random step of length ``ghost_step`` (a uniform direction), clipped;
3. a ghost within an agent's radius :math:`\rho_i` (centre distance) is captured by the
   closest such agent (ties: the lower index): that agent gets reward 1, its radius and
   speed grow by the factor ``growth`` (capped at ``max_radius`` / ``max_speed``) -- the
   cumulative advantage -- and the ghost respawns uniformly.

Observation of agent i (10 floats): its position, radius and speed, and the positions of
the three ghosts relative to it. Initial radii and speeds are uniform in ``radius0`` and
``speed0``: heterogeneous from the start, as FEN's. 001 and FEN give no constants; every
number here is ours (``env.reconstructed``). Presets: ``"eld"`` (10 agents, 3 ghosts, 100
steps), ``"tiny"`` (3 agents, 2 ghosts, 10 steps).

Randomness is counter-based (:mod:`fairmg.envs.base`): a batch equals a loop of single envs.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._validate import check_int, check_scalar
from .base import Env, StepResult, counter_uniforms

__all__ = ["MatthewEffect", "MatthewState", "PRESETS"]

PRESETS = {"eld": dict(n_agents=10, n_ghosts=3, max_steps=100),
           "tiny": dict(n_agents=3, n_ghosts=2, max_steps=10)}
_MOVES = np.array([[0.0, 0.0], [0.0, 1.0], [0.0, -1.0], [-1.0, 0.0], [1.0, 0.0]])


class MatthewState(NamedTuple):
    """``pos`` (B, N, 2), ``radius`` / ``speed`` (B, N), ``ghosts`` (B, G, 2), ``t``,
    ``keys``."""

    pos: object
    radius: object
    speed: object
    ghosts: object
    t: object
    keys: object


class MatthewEffect(Env):
    """See the module docstring."""

    name = "matthew"

    def __init__(self, n_envs: int = 1, xp=None, *, preset: str = "eld", **overrides):
        super().__init__(n_envs, xp)
        cfg = self._configure(PRESETS, preset, overrides, dict(
            radius0=(0.04, 0.08), speed0=(0.02, 0.05), growth=1.1, max_radius=0.15,
            max_speed=0.08, ghost_step=0.01))
        self.n_agents = check_int(cfg["n_agents"], "n_agents", low=1)
        self.n_ghosts = check_int(cfg["n_ghosts"], "n_ghosts", low=1)
        self.max_steps = check_int(cfg["max_steps"], "max_steps", low=1)
        self.radius0, self.speed0 = tuple(cfg["radius0"]), tuple(cfg["speed0"])
        self.growth = check_scalar(cfg["growth"], "growth", positive=True)
        self.max_radius = check_scalar(cfg["max_radius"], "max_radius", positive=True)
        self.max_speed = check_scalar(cfg["max_speed"], "max_speed", positive=True)
        self.ghost_step = check_scalar(cfg["ghost_step"], "ghost_step")
        self.action_sizes = (5,) * self.n_agents
        self.obs_shape = (4 + 2 * self.n_ghosts,)
        self.reconstructed = ("every constant: radius0, speed0, growth, caps, ghost_step, "
                              "max_steps (001 and FEN give none)",)

    def _observe(self, st):
        xp = self.xp
        B, N, G = self.n_envs, self.n_agents, self.n_ghosts
        rel = st.ghosts[:, None, :, :] - st.pos[:, :, None, :]              # (B, N, G, 2)
        return xp.concat([st.pos, st.radius[..., None], st.speed[..., None],
                          xp.reshape(rel, (B, N, 2 * G))], axis=-1)

    def reset(self, seed=None):
        xp = self.xp
        keys, t = self._reset_keys(seed)
        B, N, G = self.n_envs, self.n_agents, self.n_ghosts
        u = counter_uniforms(keys, t, 0, 4 * N + 2 * G, xp)
        pos = xp.reshape(u[:, :2 * N], (B, N, 2))
        lo, hi = self.radius0
        radius = lo + (hi - lo) * u[:, 2 * N:3 * N]
        lo, hi = self.speed0
        speed = lo + (hi - lo) * u[:, 3 * N:4 * N]
        ghosts = xp.reshape(u[:, 4 * N:], (B, G, 2))
        st = MatthewState(pos, radius, speed, ghosts, t, keys)
        return self._observe(st), st

    def step(self, state, actions) -> StepResult:
        xp = self.xp
        a = self.check_actions(actions)
        B, N, G = self.n_envs, self.n_agents, self.n_ghosts
        moves = xp.asarray(_MOVES)
        d = xp.reshape(xp.take(moves, xp.reshape(a, (-1,)), axis=0), (B, N, 2))
        pos = xp.clip(state.pos + state.speed[..., None] * d, 0.0, 1.0)
        u = counter_uniforms(state.keys, state.t, 1, 3 * G, xp)
        angle = 2.0 * np.pi * u[:, :G]
        step = xp.stack([xp.cos(angle), xp.sin(angle)], axis=-1) * self.ghost_step
        ghosts = xp.clip(state.ghosts + step, 0.0, 1.0)
        dist = xp.sqrt(xp.sum((ghosts[:, None, :, :] - pos[:, :, None, :]) ** 2, axis=-1))
        inrange = dist < state.radius[..., None]                          # (B, N, G)
        big = xp.asarray(np.inf, dtype=xp.float64)
        masked = xp.where(inrange, dist, big)
        winner = xp.argmin(masked, axis=1)                                # (B, G) first min
        caught = xp.any(inrange, axis=1)                                  # (B, G)
        agents = xp.arange(N, dtype=xp.int64)
        wins = (winner[:, None, :] == agents[None, :, None]) & caught[:, None, :]
        gain = xp.sum(xp.astype(wins, xp.float64), axis=2)                # (B, N)
        factor = self.growth ** gain
        radius = xp.minimum(state.radius * factor, self.max_radius)
        speed = xp.minimum(state.speed * factor, self.max_speed)
        fresh = xp.reshape(u[:, G:], (B, G, 2))
        ghosts = xp.where(caught[..., None], fresh, ghosts)
        t = state.t + 1
        st = MatthewState(pos, radius, speed, ghosts, t, state.keys)
        return StepResult(self._observe(st), st, gain, xp.zeros((B,), dtype=xp.bool),
                          t >= self.max_steps, {"captures": xp.sum(gain, axis=1)})

    def render_ascii(self, state, env: int = 0, size: int = 20) -> str:
        from ..sampled.backend import to_numpy
        grid = [["." for _ in range(size)] for _ in range(size)]
        for x, y in to_numpy(state.ghosts)[env]:
            grid[min(int((1 - y) * size), size - 1)][min(int(x * size), size - 1)] = "G"
        for i, (x, y) in enumerate(to_numpy(state.pos)[env]):
            grid[min(int((1 - y) * size), size - 1)][min(int(x * size), size - 1)] = str(i % 10)
        return "\n".join("".join(r) for r in grid)

    def render_rgb(self, state, env: int = 0, size: int = 160) -> np.ndarray:
        from ..sampled.backend import to_numpy
        img = np.full((size, size, 3), 240, np.uint8)
        yy, xx = np.mgrid[0:size, 0:size]
        X, Y = (xx + 0.5) / size, 1 - (yy + 0.5) / size
        for x, y in to_numpy(state.ghosts)[env]:
            img[(X - x) ** 2 + (Y - y) ** 2 < 0.02 ** 2] = (200, 40, 40)
        for (x, y), r in zip(to_numpy(state.pos)[env], to_numpy(state.radius)[env]):
            img[(X - x) ** 2 + (Y - y) ** 2 < r ** 2] = (240, 200, 0)
        return img
