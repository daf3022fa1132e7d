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
``to_game()`` is the exact Markov game of small presets (the move orders enumerated).
"""
from __future__ import annotations

import itertools
from typing import NamedTuple

import numpy as np

from .._validate import check_int
from ..sampled.backend import is_numpy_namespace
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
        B, N = self.n_envs, self.n_agents
        order = xp.argsort(counter_uniforms(state.keys, state.t, 1, N, xp), axis=1,
                           stable=True)
        pos = self._move(state.pos, a, order)
        on = (pos[..., 0] == self.server[0]) & (pos[..., 1] == self.server[1])
        t = state.t + 1
        st = JobState(pos, t, state.keys)
        r = xp.astype(on, xp.float64)
        return StepResult(self._observe(st), st, r, xp.zeros((B,), dtype=xp.bool),
                          t >= self.max_steps, {"utilized": xp.any(on, axis=1)})

    def _move(self, pos, a, order):
        """Positions (B, N, 2) after the moves ``a`` (B, N), agents in priority ``order``
        (B, N), each into its target cell if no agent stands there at that moment."""
        xp = self.xp
        B, N, S = pos.shape[0], self.n_agents, self.size
        moves = xp.asarray(_MOVES)
        target = pos + xp.reshape(xp.take(moves, xp.reshape(a, (-1,)), axis=0), (B, N, 2))
        target = xp.clip(target, 0, S - 1)
        agents = xp.arange(N, dtype=xp.int64)
        for k in range(N):
            me = order[:, k][:, None] == agents[None, :]                   # (B, N)
            tgt = xp.sum(xp.where(me[..., None], target, 0), axis=1)       # (B, 2)
            here = xp.all(pos == tgt[:, None, :], axis=-1) & ~me
            ok = ~xp.any(here, axis=1)
            pos = xp.where((me & ok[:, None])[..., None], tgt[:, None, :], pos)
        return pos

    def game_states(self) -> np.ndarray:
        """The states of :meth:`to_game`: every ordered tuple of distinct cells (S, N),
        as flat cell indices ``row * size + col``, in lexicographic order."""
        return np.array(list(itertools.permutations(range(self.size ** 2), self.n_agents)),
                        dtype=np.int64)

    def state_index(self, state) -> np.ndarray:
        """The :meth:`to_game` state (B,) of every env of a batch ``state``."""
        from ..sampled.backend import to_numpy
        pos = to_numpy(state.pos)
        return self._index(pos[..., 0] * self.size + pos[..., 1])

    def _index(self, flat):
        C, N = self.size ** 2, self.n_agents
        code = np.zeros(flat.shape[0], np.int64)
        for i in range(N):
            code = code * C + flat[:, i]
        lookup = np.full(C ** N, -1, np.int64)
        states = self.game_states()
        scode = np.zeros(states.shape[0], np.int64)
        for i in range(N):
            scode = scode * C + states[:, i]
        lookup[scode] = np.arange(states.shape[0])
        return lookup[code]

    def to_game(self, gamma: float = 0.95):
        r"""The exact :class:`fairmg.MarkovGame` of these dynamics (infinite horizon,
        discount ``gamma``; the env truncates at ``max_steps``, the game does not).

        States: :meth:`game_states` (``size^2! / (size^2 - N)!`` of them: 72 for the
        ``tiny`` preset). Each of the N! move orders has probability 1/N!; ``r^i(s, a)``
        is the probability that agent i stands on the server after the step; mu is
        uniform over the tuples of distinct non-server cells (the reset).
        """
        from ..games.dense import MarkovGame, check_dense_size
        from .._validate import check_gamma
        gamma = check_gamma(gamma)
        if not is_numpy_namespace(self.xp):
            raise TypeError("to_game enumerates with NumPy; build the env with xp=None")
        N, C = self.n_agents, self.size
        states = self.game_states()
        S, A = states.shape[0], 5 ** N
        check_dense_size(S, A, "the exact job_scheduling game")
        joint = np.stack(np.unravel_index(np.arange(A), (5,) * N), axis=1)
        orders = np.array(list(itertools.permutations(range(N))), np.int64)
        O = orders.shape[0]
        pos = np.stack([states // C, states % C], axis=-1)
        rep = np.repeat(np.arange(S), A * O)
        a_rows = np.tile(np.repeat(joint, O, axis=0), (S, 1))
        new = self._move(pos[rep], a_rows, np.tile(orders, (S * A, 1)))
        nxt = self._index(new[..., 0] * C + new[..., 1])
        sa = np.repeat(np.arange(S * A), O)
        P = np.zeros((S * A, S))
        np.add.at(P, (sa, nxt), 1.0 / O)
        on = (new[..., 0] == self.server[0]) & (new[..., 1] == self.server[1])
        R = on.reshape(S, A, O, N).mean(axis=2).transpose(2, 0, 1)
        server = self.server[0] * C + self.server[1]
        mu = np.where(np.any(states == server, axis=1), 0.0, 1.0)
        return MarkovGame(P.reshape(S, A, S), R, gamma, initial=mu / mu.sum(),
                          action_sizes=self.action_sizes,
                          name=f"exact job_scheduling {C}x{C}, {N} agents")

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
