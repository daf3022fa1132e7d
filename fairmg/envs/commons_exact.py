r"""The exact Markov game behind a small Harvest or CleanUp grid (issue 16).

:func:`commons_game` enumerates the states reachable from the reset distribution and, for
every state s and joint action a, the exact distribution of the next state. The step of
:mod:`fairmg.envs.commons_grid` is a deterministic function of four random draws, each
enumerated here with its probability:

* the move priority order: a uniformly random permutation of the N agents (the argsort of
  N i.i.d. uniforms), weight :math:`1/N!` each;
* teleport destinations (presets with ``teleport``): hit agent i takes entry i of a
  uniformly random order of the F free spawn cells and stays put if i >= F; an ordered
  tuple of :math:`n = \min(N, F)` distinct free cells has weight :math:`(F - n)!/F!`;
* regrowth: every empty, unoccupied apple cell independently with the probability of
  ``env._growth_probabilities`` (Harvest: by its neighbour count; CleanUp: by the river's
  waste density);
* waste (CleanUp): every clean river cell independently with ``waste_prob`` while the
  density is below ``depletion``.

Turns, moves, eating and beams are the env's own code (``env._act``), so the game is the
env by construction; the tests check the enumeration of the randomness against sampled
steps of the env at stated standard errors.

The game is the **infinite-horizon discounted** game of these dynamics (``gamma``): the
env truncates episodes at ``max_steps``, the game does not, so a discounted return of the
env matches the game's value once :math:`\gamma^{\text{max\_steps}}` is negligible.
``r^i(s, a)`` is the expected reward over the move order. CleanUp's ``dirt_delay`` makes
the dynamics depend on time: only ``dirt_delay = 0`` has a Markov game here.

States are coded as integers (positions, orientations, apple bits, waste bits; mixed
radix), and :attr:`CommonsGame.codes` lists the reachable codes in increasing order, so
state ``k`` of the game is ``codes[k]``. The state space grows like
:math:`(\text{cells})^N 4^N 2^{\text{apple}+\text{river cells}}`: only tiny grids fit
(e.g. Harvest ``height=3, width=5`` with 2 agents: 128 reachable states, 64 joint
actions; CleanUp ``height=4, width=7`` with 1 agent: 576 states, 9 actions).
"""
from __future__ import annotations

import itertools
import math
from typing import Any, NamedTuple

import numpy as np

from .._validate import check_gamma, check_int
from ..sampled.backend import is_numpy_namespace
from .commons_grid import GridState, _CommonsGrid

__all__ = ["CommonsGame", "commons_game", "encode_states"]

#: State codes must stay below this (int64 arithmetic with headroom).
_MAX_CODE = 2 ** 62


class CommonsGame(NamedTuple):
    """The result of :func:`commons_game`: the dense ``game``, the sorted state ``codes``
    (state k is ``codes[k]``) and the ``env`` whose dynamics it holds."""

    game: Any
    codes: np.ndarray
    env: Any

    def indices(self, state) -> np.ndarray:
        """The game's state index of every env of a batch ``state`` (B,); raises
        ``ValueError`` for a state the enumeration did not reach."""
        codes = encode_states(self.env, state)
        k = np.minimum(np.searchsorted(self.codes, codes), self.codes.size - 1)
        if np.any(self.codes[k] != codes):
            raise ValueError("a state of the batch is not a reachable state of this game")
        return k

    def states(self) -> GridState:
        """Every state of the game as a batch :class:`GridState` (S envs; ``t`` zero,
        ``keys`` zero), e.g. for ``env.render_ascii``."""
        return _decode(self.env, self.codes)


def _cells(env):
    """Flat indices of the random cells: apple cells then river cells."""
    return (np.flatnonzero(env.apple_cells.reshape(-1)),
            np.flatnonzero(env.river_cells.reshape(-1)))


def _radix(env):
    apple, river = _cells(env)
    HW, N = env.height * env.width, env.n_agents
    n_bits = apple.size + river.size
    if float(HW) ** N * 4.0 ** N * 2.0 ** n_bits >= _MAX_CODE:
        raise ValueError(f"{env.name}: {N} agents on {env.height} x {env.width} with "
                         f"{n_bits} apple/river cells is far too large for a tabular game")
    return HW, N, apple, river


def _encode(env, pflat, ori, aflat, wflat):
    HW, N, apple, river = _radix(env)
    code = np.zeros(pflat.shape[0], np.int64)
    for i in range(N):
        code = code * HW + pflat[:, i]
    for i in range(N):
        code = code * 4 + ori[:, i]
    for bits in (aflat[:, apple], wflat[:, river]):
        for m in range(bits.shape[1]):
            code = code * 2 + bits[:, m]
    return code


def encode_states(env, state) -> np.ndarray:
    """The integer codes (B,) of a batch :class:`GridState` of ``env`` (NumPy arrays)."""
    B = np.asarray(state.pos).shape[0]
    pos = np.asarray(state.pos)
    return _encode(env, pos[..., 0] * env.width + pos[..., 1], np.asarray(state.ori),
                   np.asarray(state.apples).reshape(B, -1), np.asarray(state.waste).reshape(B, -1))


def _decode(env, codes) -> GridState:
    HW, N, apple, river = _radix(env)
    code = np.array(codes, np.int64)
    B = code.size
    aflat, wflat = np.zeros((B, HW), bool), np.zeros((B, HW), bool)
    for cells, grid in ((river, wflat), (apple, aflat)):
        for m in range(cells.size - 1, -1, -1):
            grid[:, cells[m]] = code % 2 == 1
            code //= 2
    ori = np.zeros((B, N), np.int64)
    for i in range(N - 1, -1, -1):
        ori[:, i] = code % 4
        code //= 4
    pflat = np.zeros((B, N), np.int64)
    for i in range(N - 1, -1, -1):
        pflat[:, i] = code % HW
        code //= HW
    H, W = env.height, env.width
    return GridState(np.stack([pflat // W, pflat % W], axis=-1), ori,
                     aflat.reshape(B, H, W), wflat.reshape(B, H, W), np.zeros(B, np.int64),
                     np.zeros(B, np.uint64))


def _split_bits(env, pflat, ori, aflat, wflat, p_apple, p_waste, prob, row):
    """Enumerate the independent regrowth/waste draws: returns (codes, prob, row) with one
    entry per outcome of positive probability."""
    apple, river = _cells(env)
    cells = np.concatenate([apple, river])
    old = np.concatenate([aflat[:, apple], wflat[:, river]], axis=1)
    q = np.where(old, 1.0, np.concatenate([p_apple[:, apple], p_waste[:, river]], axis=1))
    idx = np.arange(pflat.shape[0])
    bits = np.zeros((idx.size, cells.size), bool)
    p = prob.copy()
    for m in range(cells.size):
        qm = q[idx, m]
        one, zero = qm >= 1.0, qm <= 0.0
        both = ~one & ~zero
        b1 = bits.copy()
        b1[:, m] = True
        b0 = bits.copy()
        b0[:, m] = False
        keep1 = one | both
        keep0 = zero | both
        idx = np.concatenate([idx[keep1], idx[keep0]])
        p = np.concatenate([p[keep1] * np.where(both, qm, 1.0)[keep1],
                            p[keep0] * np.where(both, 1.0 - qm, 1.0)[keep0]])
        bits = np.concatenate([b1[keep1], b0[keep0]])
    HW = env.height * env.width
    a_new, w_new = np.zeros((idx.size, HW), bool), np.zeros((idx.size, HW), bool)
    a_new[:, apple] = bits[:, :apple.size]
    w_new[:, river] = bits[:, apple.size:]
    return _encode(env, pflat[idx], ori[idx], a_new, w_new), p, row[idx]


def _teleports(env, pflat, hit, prob, row):
    """Expand the rows with a zapped agent over the teleport destinations."""
    spawn = np.flatnonzero(env.spawn_cells.reshape(-1))
    out_p, out_prob, out_row = [pflat[~hit.any(1)]], [prob[~hit.any(1)]], [row[~hit.any(1)]]
    N = env.n_agents
    for k in np.flatnonzero(hit.any(1)):
        free = [c for c in spawn if c not in set(pflat[k].tolist())]
        taken = [c for c in spawn if c in set(pflat[k].tolist())]
        n = min(N, len(free))
        w = math.factorial(len(free) - n) / math.factorial(len(free))
        room = np.arange(N) < n
        for tup in itertools.permutations(free, n):
            dest = (list(tup) + taken)[:N]
            new = np.where(hit[k] & room, dest, pflat[k])
            out_p.append(new[None, :])
            out_prob.append(np.array([prob[k] * w]))
            out_row.append(np.array([row[k]]))
    return np.concatenate(out_p), np.concatenate(out_prob), np.concatenate(out_row)


def _check_count(env, n, max_states):
    if n > max_states:
        raise ValueError(f"{env.name}: more than max_states={max_states} reachable states; "
                         f"use a smaller grid or fewer agents")


def _initial(env):
    """(codes, probabilities) of the reset distribution."""
    HW, N, apple, river = _radix(env)
    spawn = np.flatnonzero(env.spawn_cells.reshape(-1))
    tuples = np.array(list(itertools.permutations(spawn, N)), np.int64)
    oris = np.array(list(itertools.product(range(4), repeat=N)), np.int64)
    pflat = np.repeat(tuples, len(oris), axis=0)
    ori = np.tile(oris, (len(tuples), 1))
    B = pflat.shape[0]
    prob = np.full(B, 1.0 / B)
    zero = np.zeros((B, HW), bool)
    p_apple = np.zeros((B, HW))
    p_apple[:, apple] = env.initial_apples
    p_waste = np.zeros((B, HW))
    p_waste[:, river] = env.initial_waste
    codes, p, _ = _split_bits(env, pflat, ori, zero, zero, np.clip(p_apple, 0, 1),
                              np.clip(p_waste, 0, 1), prob, np.arange(B))
    return codes, p


def commons_game(env, gamma: float = 0.95, *, max_states: int | None = None) -> CommonsGame:
    r"""The exact dense Markov game of a small Harvest/CleanUp ``env``.

    Parameters
    ----------
    env : fairmg.envs.commons_grid.Harvest or CleanUp
        A NumPy env of a tiny grid (its ``n_envs`` is ignored).
    gamma : float
        Discount of the (infinite-horizon) game.
    max_states : int, optional
        Stop with ``ValueError`` once the enumeration passes this many states (default:
        the most whose dense transition fits the memory limit).

    Returns
    -------
    CommonsGame
        ``game`` (a :class:`fairmg.MarkovGame` with ``P[s, a, s']`` exact, ``r^i(s, a)``
        the expected reward over the move order, ``mu`` the reset distribution), ``codes``
        and ``env``; ``indices(state)`` maps env states to game states.
    """
    from ..games.dense import MarkovGame, check_dense_size, max_dense_states
    if not isinstance(env, _CommonsGrid):
        raise TypeError(f"env must be a Harvest or CleanUp env (fairmg.envs.make('harvest' "
                        f"or 'cleanup', ...)), got {type(env).__name__}")
    gamma = check_gamma(gamma)
    if max_states is not None:
        max_states = check_int(max_states, "max_states", low=1)
    if env.kind == "cleanup" and env.dirt_delay > 0:
        raise ValueError(f"cleanup with dirt_delay={env.dirt_delay}: the waste dynamics depend "
                         f"on the step count, so they are not a Markov game on grid states; "
                         f"pass dirt_delay=0")
    if not is_numpy_namespace(env.xp):
        raise TypeError("commons_game enumerates with NumPy; build the env with xp=None")
    HW, N, _, _ = _radix(env)
    sizes = env.action_sizes
    A = math.prod(sizes)
    max_states = max_dense_states(A) if max_states is None else max_states
    joint = np.stack(np.unravel_index(np.arange(A), sizes), axis=1).astype(np.int64)
    orders = np.array(list(itertools.permutations(range(N))), np.int64)
    init_codes, init_p = _initial(env)
    known = set(np.unique(init_codes).tolist())
    _check_count(env, len(known), max_states)
    frontier = np.array(sorted(known), np.int64)
    src, act, dst, prob = [], [], [], []
    rewards = {}
    W = env.width
    while frontier.size:
        st = _decode(env, frontier)
        F, O = frontier.size, len(orders)
        rep = np.repeat(np.arange(F), A * O)                        # row -> frontier state
        a_rows = np.tile(np.repeat(joint, O, axis=0), (F, 1))
        o_rows = np.tile(orders, (F * A, 1))
        rows = GridState(st.pos[rep], st.ori[rep], st.apples[rep], st.waste[rep],
                         np.zeros(rep.size, np.int64), np.zeros(rep.size, np.uint64))
        pos, ori, aflat, wflat, rew, hit, _, _ = env._act(rows, a_rows, o_rows)
        sa = rep * A + np.tile(np.repeat(np.arange(A), O), F)       # row -> (state, action)
        r_mean = np.asarray(rew).reshape(F, A, O, N).mean(axis=2)
        for f in range(F):
            rewards[int(frontier[f])] = r_mean[f]
        pflat = pos[..., 0] * W + pos[..., 1]
        p_rows = np.full(rep.size, 1.0 / O)
        row = np.arange(rep.size)
        if env.teleport and hit.any():
            pflat, p_rows, row = _teleports(env, pflat, hit, p_rows, row)
        pos_t = np.stack([pflat // W, pflat % W], axis=-1)
        p_apple, p_waste = env._growth_probabilities(pos_t, aflat[row], wflat[row],
                                                     np.zeros(row.size, np.int64))
        codes, p, row2 = _split_bits(env, pflat, ori[row], aflat[row], wflat[row],
                                     p_apple, p_waste, p_rows, np.arange(row.size))
        origin = row[row2]
        src.append(frontier[rep[origin]])
        act.append(sa[origin] % A)
        dst.append(codes)
        prob.append(p)
        new = np.setdiff1d(np.unique(codes), np.fromiter(known, np.int64, len(known)))
        known.update(new.tolist())
        _check_count(env, len(known), max_states)
        frontier = new
    codes = np.array(sorted(known), np.int64)
    S = codes.size
    check_dense_size(S, A, f"the exact {env.name} game")
    P = np.zeros((S, A, S))
    np.add.at(P, (np.searchsorted(codes, np.concatenate(src)), np.concatenate(act),
                  np.searchsorted(codes, np.concatenate(dst))), np.concatenate(prob))
    R = np.stack([rewards[int(c)] for c in codes]).transpose(2, 0, 1)   # (N, S, A)
    mu = np.zeros(S)
    np.add.at(mu, np.searchsorted(codes, init_codes), init_p)
    game = MarkovGame(P, R, gamma, initial=mu, action_sizes=sizes,
                      name=f"exact {env.name} {env.height}x{env.width}, {N} agents")
    return CommonsGame(game, codes, env)
