r"""Job Scheduling of 001 (Sec. 5.1, after FEN, Jiang & Lu 2019), batched.

Four agents on a 5 x 5 grid share one permanent server cell. Every step each agent moves
(stay, up, down, left, right; walls are the grid's edges); agents move in a random priority
order into free cells only (no two agents share a cell), so at most one agent holds the
server; the agent on the server cell gets reward 1 that step (FEN: "the agent occupying the
resource gets reward"). Utilization = the share of steps the server is held; the per-agent
returns measure who gets it.

Observation of agent i (2 + 2 + 2(N-1) floats, coordinates / (size - 1)): its position, the
server's, and the other agents' positions relative to it. Agents start on distinct random
non-server cells. The server sits at the centre; episode length 100 (ours: 001 and FEN do not
say; ``env.reconstructed``). Presets: ``"eld"`` (4 agents, 5 x 5, 100 steps), ``"tiny"``
(2 agents, 3 x 3, 10 steps).

Randomness is counter-based (:mod:`fairmg.envs.base`): a batch equals a loop of single envs.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._validate import check_int
from .base import Env, StepResult, counter_uniforms

__all__ = ["JobScheduling", "JobState", "PRESETS"]

PRESETS = {"eld": dict(n_agents=4, size=5, max_steps=100),
           "tiny": dict(n_agents=2, size=3, max_steps=10)}
_MOVES = np.array([[0, 0], [-1, 0], [1, 0], [0, -1], [0, 1]], dtype=np.int64)


class JobState(NamedTuple):
    """``pos`` (B, N, 2) int64 (row, col), ``t`` (B,), ``keys`` (B,)."""

    pos: object
    t: object
    keys: object


class JobScheduling(Env):
    """See the module docstring."""

    name = "job_scheduling"

    def __init__(self, n_envs: int = 1, xp=None, *, preset: str = "eld", **overrides):
        super().__init__(n_envs, xp)
        cfg = self._configure(PRESETS, preset, overrides)
        self.n_agents = check_int(cfg["n_agents"], "n_agents", low=1)
        self.size = check_int(cfg["size"], "size", low=2)
        self.max_steps = check_int(cfg["max_steps"], "max_steps", low=1)
        if self.n_agents > self.size ** 2 - 1:
            raise ValueError(f"job_scheduling: {self.n_agents} agents do not fit on a "
                             f"{self.size} x {self.size} grid beside the server")
        self.server = (self.size // 2, self.size // 2)
        self.action_sizes = (5,) * self.n_agents
        self.obs_shape = (4 + 2 * (self.n_agents - 1),)
        self.reconstructed = ("server at the centre", "episode length",
                              "start cells uniform")

    def _observe(self, st):
        xp = self.xp
        B, N = self.n_envs, self.n_agents
        scale = 1.0 / (self.size - 1)
        p = xp.astype(st.pos, xp.float64) * scale
        server = xp.asarray([float(self.server[0]), float(self.server[1])],
                            dtype=xp.float64) * scale
        parts = [p, xp.broadcast_to(server[None, None, :], (B, N, 2))]
        rel = p[:, None, :, :] - p[:, :, None, :]                         # (B, N, N, 2)
        for k in range(1, N):                                             # others, in order
            idx = (xp.arange(N, dtype=xp.int64) + k) % N
            parts.append(_diag_take(rel, idx, xp))
        return xp.concat(parts, axis=-1)

    def reset(self, seed=None):
        xp = self.xp
        keys, t = self._reset_keys(seed)
        B, N, S = self.n_envs, self.n_agents, self.size
        cells = np.array([r * S + c for r in range(S) for c in range(S)
                          if (r, c) != self.server], dtype=np.int64)
        u = counter_uniforms(keys, t, 0, cells.shape[0], xp)
        order = xp.argsort(u, axis=1, stable=True)[:, :N]
        flat = xp.reshape(xp.take(xp.asarray(cells), xp.reshape(order, (-1,)), axis=0),
                          (B, N))
        st = JobState(xp.stack([flat // S, flat % S], axis=-1), t, keys)
        return self._observe(st), st

    def step(self, state, actions) -> StepResult:
        xp = self.xp
        a = self.check_actions(actions)
        B, N, S = self.n_envs, self.n_agents, self.size
        moves = xp.asarray(_MOVES)
        target = state.pos + xp.reshape(xp.take(moves, xp.reshape(a, (-1,)), axis=0),
                                        (B, N, 2))
        target = xp.clip(target, 0, S - 1)
        order = xp.argsort(counter_uniforms(state.keys, state.t, 1, N, xp), axis=1,
                           stable=True)
        pos = state.pos
        agents = xp.arange(N, dtype=xp.int64)
        for k in range(N):
            me = order[:, k][:, None] == agents[None, :]                   # (B, N)
            tgt = xp.sum(xp.where(me[..., None], target, 0), axis=1)       # (B, 2)
            here = xp.all(pos == tgt[:, None, :], axis=-1) & ~me
            ok = ~xp.any(here, axis=1)
            pos = xp.where((me & ok[:, None])[..., None], tgt[:, None, :], pos)
        on = (pos[..., 0] == self.server[0]) & (pos[..., 1] == self.server[1])
        t = state.t + 1
        st = JobState(pos, t, state.keys)
        r = xp.astype(on, xp.float64)
        return StepResult(self._observe(st), st, r, xp.zeros((B,), dtype=xp.bool),
                          t >= self.max_steps, {"utilized": xp.any(on, axis=1)})

    def render_ascii(self, state, env: int = 0) -> str:
        from ..sampled.backend import to_numpy
        grid = [["." for _ in range(self.size)] for _ in range(self.size)]
        grid[self.server[0]][self.server[1]] = "S"
        for i, (r, c) in enumerate(to_numpy(state.pos)[env]):
            grid[r][c] = str(i % 10)
        return "\n".join("".join(row) for row in grid)

    def render_rgb(self, state, env: int = 0, scale: int = 24) -> np.ndarray:
        from ..sampled.backend import to_numpy
        img = np.full((self.size, self.size, 3), 235, np.uint8)
        img[self.server] = (90, 90, 220)
        for i, (r, c) in enumerate(to_numpy(state.pos)[env]):
            img[r, c] = (220, 60 + 40 * (i % 4), 40)
        return np.kron(img, np.ones((scale, scale, 1), np.uint8))


def _diag_take(rel, idx, xp):
    """``rel[b, i, idx[i], :]`` for every b, i: the position of agent idx[i] relative to
    agent i, (B, N, 2)."""
    N = rel.shape[1]
    sel = xp.astype(idx[:, None] == xp.arange(N, dtype=xp.int64)[None, :], rel.dtype)
    return xp.sum(rel * sel[None, :, :, None], axis=2)
