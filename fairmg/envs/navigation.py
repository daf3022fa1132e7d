r"""Cooperative Navigation (MPE ``simple_spread``; 004 Sec. 5.1, Fig. 8a), batched.

N agents (size 0.15) and N landmarks in the plane; the physics of MPE's ``World.step``
(``mpe2/_mpe_utils/core.py``): a discrete action u in {no-op, -x, +x, -y, +y} times the
sensitivity 5 is the force; contact forces between agents
:math:`f = c\,\frac{\Delta}{|\Delta|}\,k\log(1 + e^{-(|\Delta| - d_{min})/k})` (c = 100,
k = 1e-3, :math:`d_{min}` the sum of the sizes), applied pairwise; then, in mpe2's order
(``World.integrate_state``: the position first, with the old velocity),
:math:`x \leftarrow x + v\,dt`, :math:`v \leftarrow (1 - 0.25) v + f/m\,dt` (dt 0.1,
m 1; OpenAI's original MPE updated the velocity first). Checked against ``mpe2`` step for
step in the tests (positions and rewards bit for bit) when it is installed.
Reward (``simple_spread.py`` with the parallel env's ``local_ratio`` 0.5): agent i gets
:math:`0.5\,(-\sum_l \min_j |x_j - y_l|) + 0.5\,(-\#\{j \ne i: |x_i - x_j| < 0.3\})`.
Observation (MPE's order): own velocity, own position, landmarks relative, other agents
relative, and the (silent) communication channels, zeros: 4 + 2N + 4(N - 1) floats.
Initial positions uniform in [-1, 1]^2 (agents and landmarks), velocities 0.

Presets: ``"mpe"`` (3 agents, 25 steps: MPE's defaults), ``"anticipation"`` (004: 3
agents, 100 steps). Randomness is counter-based (:mod:`fairmg.envs.base`).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._validate import check_int
from .base import Env, StepResult, counter_uniforms

__all__ = ["CooperativeNavigation", "NavState", "PRESETS", "DT", "DAMPING", "SENSITIVITY",
           "CONTACT_FORCE", "CONTACT_MARGIN", "AGENT_SIZE"]

PRESETS = {"mpe": dict(n_agents=3, max_steps=25), "anticipation": dict(n_agents=3,
                                                                       max_steps=100)}
DT, DAMPING, SENSITIVITY = 0.1, 0.25, 5.0
CONTACT_FORCE, CONTACT_MARGIN, AGENT_SIZE = 100.0, 1e-3, 0.15
LOCAL_RATIO = 0.5
_U = np.array([[0.0, 0.0], [-1.0, 0.0], [1.0, 0.0], [0.0, -1.0], [0.0, 1.0]])


class NavState(NamedTuple):
    """``pos`` / ``vel`` (B, N, 2), ``landmarks`` (B, N, 2), ``t``, ``keys``."""

    pos: object
    vel: object
    landmarks: object
    t: object
    keys: object


class CooperativeNavigation(Env):
    """See the module docstring."""

    name = "cooperative_navigation"

    def __init__(self, n_envs: int = 1, xp=None, *, preset: str = "mpe", **overrides):
        super().__init__(n_envs, xp)
        cfg = self._configure(PRESETS, preset, overrides)
        self.n_agents = check_int(cfg["n_agents"], "n_agents", low=1)
        self.max_steps = check_int(cfg["max_steps"], "max_steps", low=1)
        N = self.n_agents
        self.action_sizes = (5,) * N
        self.obs_shape = (4 + 2 * N + 4 * (N - 1),)

    def _observe(self, st):
        xp = self.xp
        B, N = self.n_envs, self.n_agents
        lm = st.landmarks[:, None, :, :] - st.pos[:, :, None, :]            # (B, N, L, 2)
        parts = [st.vel, st.pos, xp.reshape(lm, (B, N, 2 * N))]
        rel = st.pos[:, None, :, :] - st.pos[:, :, None, :]                 # (B, i, j, 2)
        others = []
        for i in range(N):
            idx = [j for j in range(N) if j != i]
            others.append(xp.reshape(xp.take(rel[:, i, ...], xp.asarray(idx, dtype=xp.int64),
                                             axis=1), (B, 2 * (N - 1))))
        parts.append(xp.stack(others, axis=1))
        parts.append(xp.zeros((B, N, 2 * (N - 1)), dtype=xp.float64))
        return xp.concat(parts, axis=-1)

    def reset(self, seed=None):
        xp = self.xp
        keys, t = self._reset_keys(seed)
        B, N = self.n_envs, self.n_agents
        u = 2.0 * counter_uniforms(keys, t, 0, 4 * N, xp) - 1.0
        st = NavState(xp.reshape(u[:, :2 * N], (B, N, 2)), xp.zeros((B, N, 2), dtype=xp.float64),
                      xp.reshape(u[:, 2 * N:], (B, N, 2)), t, keys)
        return self._observe(st), st

    def forces(self, pos):
        """Pairwise contact forces on every agent (B, N, 2), MPE's ``get_collision_force``."""
        xp = self.xp
        N = self.n_agents
        f = [xp.zeros_like(pos[:, 0, :]) for _ in range(N)]
        for a in range(N):
            for b in range(a + 1, N):
                delta = pos[:, a, :] - pos[:, b, :]
                dist = xp.sqrt(xp.sum(delta * delta, axis=-1))
                pen = xp.logaddexp(xp.zeros_like(dist),
                                   -(dist - 2 * AGENT_SIZE) / CONTACT_MARGIN) * CONTACT_MARGIN
                force = CONTACT_FORCE * delta / dist[:, None] * pen[:, None]
                f[a] = f[a] + force
                f[b] = f[b] - force
        return xp.stack(f, axis=1)

    def rewards(self, st):
        """0.5 (global: -sum_l min_j dist) + 0.5 (local: -collisions), (B, N)."""
        xp = self.xp
        d = xp.sqrt(xp.sum((st.pos[:, :, None, :] - st.landmarks[:, None, :, :]) ** 2,
                           axis=-1))                                       # (B, agent, lm)
        glob = -xp.sum(xp.min(d, axis=1), axis=1)                          # (B,)
        dd = xp.sqrt(xp.sum((st.pos[:, :, None, :] - st.pos[:, None, :, :]) ** 2, axis=-1))
        eye = xp.asarray(np.eye(self.n_agents, dtype=bool))
        coll = xp.sum(xp.astype((dd < 2 * AGENT_SIZE) & ~eye[None, ...], xp.float64), axis=2)
        return (1 - LOCAL_RATIO) * glob[:, None] + LOCAL_RATIO * (-coll)

    def step(self, state, actions) -> StepResult:
        xp = self.xp
        a = self.check_actions(actions)
        B, N = self.n_envs, self.n_agents
        u = SENSITIVITY * xp.reshape(xp.take(xp.asarray(_U), xp.reshape(a, (-1,)), axis=0),
                                     (B, N, 2))
        force = u + self.forces(state.pos)
        pos = state.pos + state.vel * DT              # mpe2 moves first, then accelerates
        vel = state.vel * (1.0 - DAMPING) + force * DT
        t = state.t + 1
        st = NavState(pos, vel, state.landmarks, t, state.keys)
        return StepResult(self._observe(st), st, self.rewards(st),
                          xp.zeros((B,), dtype=xp.bool), t >= self.max_steps, {})

    def render_ascii(self, state, env: int = 0, size: int = 21) -> str:
        from ..sampled.backend import to_numpy
        grid = [["." for _ in range(size)] for _ in range(size)]

        def cell(x, y):
            c = int(np.clip((x + 1.5) / 3 * size, 0, size - 1))
            r = int(np.clip((1.5 - y) / 3 * size, 0, size - 1))
            return r, c
        for x, y in to_numpy(state.landmarks)[env]:
            r, c = cell(x, y)
            grid[r][c] = "L"
        for i, (x, y) in enumerate(to_numpy(state.pos)[env]):
            r, c = cell(x, y)
            grid[r][c] = str(i % 10)
        return "\n".join("".join(row) for row in grid)

    def render_rgb(self, state, env: int = 0, size: int = 180) -> np.ndarray:
        from ..sampled.backend import to_numpy
        img = np.full((size, size, 3), 245, np.uint8)
        yy, xx = np.mgrid[0:size, 0:size]
        X, Y = (xx + 0.5) / size * 3 - 1.5, 1.5 - (yy + 0.5) / size * 3
        for x, y in to_numpy(state.landmarks)[env]:
            img[(X - x) ** 2 + (Y - y) ** 2 < 0.05 ** 2] = (60, 60, 60)
        for x, y in to_numpy(state.pos)[env]:
            img[(X - x) ** 2 + (Y - y) ** 2 < AGENT_SIZE ** 2] = (90, 90, 220)
        return img
