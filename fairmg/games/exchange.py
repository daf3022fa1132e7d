r"""The Exchange task of 004 (Sec. 5.1, App. A.2) as an exact finite game, solved exactly.

What the paper says (004, Sec. 5.1, "Exchange"):

    "Three agents interact with three boxes, each containing food for a specific agent.
    However, a box can only be opened by another agent at a cost of 5 reward points. The
    food's intended recipient gains 10 reward points. Every agent loses 0.01 reward points
    per time step, with a maximum of 300 steps per episode. [...] The time horizon of an
    episode is set as 300. The environment size is 5x5. [...] The state comprises the
    positions of agents and food items, randomly initialized each episode. Agents can move
    in four directions, open a box, or stay still."

and (Sec. 5.3) "Given the reward structure (300 maximum time steps, 0.01 reward loss per
time step, 5 reward cost for opening a box, and 10 reward gain for the intended recipient),
we can calculate the theoretical optimal returns. The optimal cooperative policy yields
approximately 6, while the non-cooperative policy results in -9."

The reading implemented here (every point the paper leaves open is a parameter; the
defaults are marked):

* **Grid, agents, boxes.** ``rows x cols`` cells (default 5 x 5), ``N`` agents (default
  3) and ``N`` boxes; box ``k`` holds the food of agent ``k`` and sits on a fixed cell
  (``boxes``; default: cells ``round(k (C - 1) / (N - 1))`` in row-major order, the
  diagonal (0,0), (2,2), (4,4) of the 5 x 5 grid). Box positions never change, so they are
  a parameter of the game, not part of its state: the paper's random layout per episode
  is a distribution over these games (the optimal and the selfish values below do not
  depend on the layout as long as every box can be reached in time).
* **Who may open box k** (``openers``): ``"others"`` (default; the literal "can only be
  opened by another agent": any agent but ``k``), ``"cyclic"`` (only agent ``k + 1 mod
  N``: an exchange ring), or an explicit sequence ``openers[k]`` (one agent ``!= k``).
* **Actions** (6 per agent, index order): 0 up, 1 down, 2 left, 3 right, 4 stay, 5 open.
  A move off the grid leaves the agent where it is. Agents may share cells and may walk
  over boxes (no collisions: the paper mentions collision penalties for C. Navigation
  only).
* **Opening** (``reach``): agent ``j`` playing *open* opens box ``k`` when ``k`` is still
  closed, ``j`` may open ``k`` and ``j`` stands on the box's cell (``"cell"``, default) or
  on it or a 4-neighbour (``"adjacent"``). Agents are processed in index order; each opens
  at most one box (the lowest-indexed one it can), so two agents never open the same box
  in one step and only the one that opens it pays. An *open* that opens nothing is a stay.
  The opener pays ``open_cost`` (5) and the box's owner gains ``food`` (10) in that same
  step (the food is delivered when the box opens; the owner need not walk to it). An
  opened box stays open for the rest of the episode.
* **Step cost**: every agent receives ``-step_cost`` (0.01) at every one of the
  ``horizon`` steps, also after all boxes are open: the episode always lasts ``horizon``
  (300) steps. This is the reading that gives the paper's numbers (below).
* **Returns**: undiscounted over the finite horizon (``gamma = 1``, default: the paper's
  "returns" 6 and -9 are undiscounted sums), or discounted finite horizon (``gamma < 1``;
  the paper trains with gamma = 0.99), or infinite-horizon discounted (``horizon=None``,
  ``gamma < 1``; the setting of :class:`~fairmg.MarkovGame`, used for the cross-checks).
* **Start**: all boxes closed; agents on distinct cells, uniformly at random over all such
  placements (``start=None``; box cells allowed) or at the given cells (``start``).

State = (cell of agent 0, ..., cell of agent N-1, closed-box mask) with index
``s = ravel_multi_index((c_0, ..., c_{N-1}), (C,) * N) * 2**N + mask`` (agent 0 most
significant; bit ``k`` of the mask set while box ``k`` is closed); with a finite horizon
the number of steps to go is the time part of the state. 5 x 5, 3 agents: 25^3 * 8 =
125,000 states, 216 joint actions, 300 time layers.

What the paper's numbers are, exactly, in this reading (``solve_exchange``):
the social optimum opens every box, once: each of the three openings moves
``food - open_cost = 5`` to the team, and the step cost is paid for all 300 steps by all 3
agents, so the optimal team return is ``3 * 5 - 3 * 300 * 0.01 = 15 - 9 = 6`` exactly
(any layout where the boxes can be reached within the horizon). Opening only costs the
opener: in a profile of deterministic policies, the agent who makes the last opening on
the path gains at least ``open_cost`` by skipping it and opening nothing afterwards (the
others may still open its box, which only adds), so in every such Nash equilibrium no box
is opened and the selfish return is ``-3 * 300 * 0.01 = -9`` (the best-response dynamics
of ``solve_exchange`` reach one, with an exact Nash-gap of 0). Both hold for every layout and start (all boxes are reachable well within 300
steps). Had the episode ended once all boxes are open, the optimum would be
``15 - 0.03 T_min`` = 14.8453 on the default layout (T_min, the fewest steps that open all
three boxes, is 5.16 on average over the starts, at most 9), not 6. Discounted returns
(gamma = 0.99, the paper's training discount) are not 6 and -9 either: 11.7429 vs -2.8529
over 300 steps, 11.5958 vs -3 with an infinite horizon (default layout, uniform start).

Solvers (numba, serial, deterministic transitions): the transition is tabulated once as
``next[s, a]`` (int32) and ``opened[s, a]`` (uint16: bit ``j N + k`` = agent ``j`` opened
box ``k``), the rewards are looked up from ``opened``. Finite horizon: backward
induction; with ``gamma = 1`` rewards are held in integer units (cents by default), so
the arithmetic is exact, and once ``V_t - V_{t-1}`` is the same constant in every state
the remaining layers are added exactly (the Bellman operator commutes with adding a
constant). Infinite horizon: Howard policy iteration with exact evaluation of
deterministic policies (functional graphs: cycles solved in closed form).
"""
from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np
from numba import njit

from .._validate import (TooLargeError, as_index_array, check_choice, check_gamma, check_int,
                         check_memory, check_scalar)

__all__ = ["ExchangeGame", "ExchangeSolution", "exchange", "solve_exchange", "ACTIONS",
           "OPEN"]

#: Per-agent actions, in index order.
ACTIONS = ("up", "down", "left", "right", "stay", "open")
#: Index of the *open* action.
OPEN = 5
_N_ACT = len(ACTIONS)
_MOVES = ((-1, 0), (1, 0), (0, -1), (0, 1), (0, 0), (0, 0))
#: Largest number of agents (the ``opened`` code has N * N bits, held in uint16).
MAX_EXCHANGE_AGENTS = 4
#: Largest transition table (S * A entries) the solvers build (6 bytes an entry).
MAX_TABLE_ENTRIES = 400_000_000


# --------------------------------------------------------------------------- kernels ---
@njit(cache=True)
def _build_tables(move, elig, n_agents, n_cells, n_actions):
    """next[s, a] (int32) and opened[s, a] (uint16) of the Exchange rules (module doc)."""
    N = n_agents
    M = 1 << N
    S = n_cells ** N * M
    A = n_actions ** N
    nxt = np.empty((S, A), np.int32)
    opened = np.empty((S, A), np.uint16)
    pos = np.empty(N, np.int64)
    act = np.empty(N, np.int64)
    for s in range(S):
        mask = s % M
        rest = s // M
        for i in range(N - 1, -1, -1):
            pos[i] = rest % n_cells
            rest //= n_cells
        for a in range(A):
            r = a
            for i in range(N - 1, -1, -1):
                act[i] = r % n_actions
                r //= n_actions
            m = mask
            code = 0
            for j in range(N):
                if act[j] == 5:
                    for k in range(N):
                        if (m >> k) & 1 and elig[k, j, pos[j]]:
                            m &= ~(1 << k)
                            code |= 1 << (j * N + k)
                            break
            idx = 0
            for i in range(N):
                idx = idx * n_cells + move[pos[i], act[i]]
            nxt[s, a] = idx * M + m
            opened[s, a] = code
    return nxt, opened


@njit(cache=True)
def _team_finite(nxt, opened, team_r, horizon, gamma, exact):
    """Backward induction of max_a team_r[opened[s, a]] + gamma V[next[s, a]].

    Returns (V with ``horizon`` steps to go, pol[L, S] joint actions with steps-to-go
    t using layer min(t, L) - 1, L). With ``exact`` (integer rewards, gamma = 1) it stops
    at the first t with V_t - V_{t-1} constant over states and adds the rest exactly.
    """
    S, A = nxt.shape
    V = np.zeros(S)
    Vn = np.empty(S)
    pol = np.empty((horizon, S), np.uint16)
    for t in range(horizon):
        for s in range(S):
            best = -np.inf
            ba = 0
            for a in range(A):
                q = team_r[opened[s, a]] + gamma * V[nxt[s, a]]
                if q > best:
                    best = q
                    ba = a
            Vn[s] = best
            pol[t, s] = ba
        if exact:
            c = Vn[0] - V[0]
            same = True
            for s in range(S):
                if Vn[s] - V[s] != c:
                    same = False
                    break
            if same:
                for s in range(S):
                    V[s] = Vn[s] + (horizon - 1 - t) * c
                return V, pol[:t + 1].copy(), t + 1
        V, Vn = Vn, V
    return V, pol, horizon


@njit(cache=True)
def _split_joint(pol, n_agents, n_actions):
    """acts[i, l, s] = agent i's action in joint action pol[l, s]."""
    L, S = pol.shape
    acts = np.empty((n_agents, L, S), np.uint8)
    for l in range(L):
        for s in range(S):
            r = np.int64(pol[l, s])
            for i in range(n_agents - 1, -1, -1):
                acts[i, l, s] = r % n_actions
                r //= n_actions
    return acts


@njit(cache=True)
def _eval_finite(nxt, opened, rew, acts, horizon, gamma, n_actions, exact):
    """Per-agent values [N, S] with ``horizon`` steps to go of the profile acts[N, L, S];
    the shortcut of :func:`_team_finite` once t >= L (the profile stationary) and every
    agent's V_t - V_{t-1} is constant over states."""
    N, L, S = acts.shape
    V = np.zeros((N, S))
    Vn = np.empty((N, S))
    for t in range(1, horizon + 1):
        layer = min(t, L) - 1
        for s in range(S):
            a = 0
            for i in range(N):
                a = a * n_actions + acts[i, layer, s]
            code = opened[s, a]
            sn = nxt[s, a]
            for i in range(N):
                Vn[i, s] = rew[code, i] + gamma * V[i, sn]
        if exact and t >= L:
            same = True
            for i in range(N):
                c = Vn[i, 0] - V[i, 0]
                for s in range(S):
                    if Vn[i, s] - V[i, s] != c:
                        same = False
                        break
                if not same:
                    break
            if same:
                for i in range(N):
                    c = Vn[i, 0] - V[i, 0]
                    for s in range(S):
                        V[i, s] = Vn[i, s] + (horizon - t) * c
                return V
        V, Vn = Vn, V
    return V


@njit(cache=True)
def _best_response_finite(nxt, opened, rew, acts, agent, horizon, gamma, n_actions, exact):
    """Agent ``agent``'s exact best response to the others' acts[N, L, S] by backward
    induction: (V [S], pol[L', S] uint8, L'); the shortcut of :func:`_team_finite` once
    t >= L (the others' policy stationary)."""
    N, L, S = acts.shape
    V = np.zeros(S)
    Vn = np.empty(S)
    pol = np.empty((horizon, S), np.uint8)
    stride = 1
    for i in range(N - 1 - agent):
        stride *= n_actions
    for t in range(1, horizon + 1):
        layer = min(t, L) - 1
        for s in range(S):
            base = 0
            for i in range(N):
                base = base * n_actions + (0 if i == agent else acts[i, layer, s])
            best = -np.inf
            bb = 0
            for b in range(n_actions):
                a = base + b * stride
                q = rew[opened[s, a], agent] + gamma * V[nxt[s, a]]
                if q > best:
                    best = q
                    bb = b
            Vn[s] = best
            pol[t - 1, s] = bb
        if exact and t >= L:
            c = Vn[0] - V[0]
            same = True
            for s in range(S):
                if Vn[s] - V[s] != c:
                    same = False
                    break
            if same:
                for s in range(S):
                    V[s] = Vn[s] + (horizon - t) * c
                return V, pol[:t].copy(), t
        V, Vn = Vn, V
    return V, pol, horizon


@njit(cache=True)
def _eval_functional(f, r, gamma):
    """V = r + gamma V[f] exactly for a deterministic successor map f (gamma < 1):
    each path is followed to a cycle or a solved state; a cycle of length L is solved in
    closed form, V(c_0) = sum_{m<L} gamma^m r(c_m) / (1 - gamma^L)."""
    S = f.size
    V = np.zeros(S)
    state = np.zeros(S, np.int8)
    where = np.full(S, -1, np.int64)
    stack = np.empty(S, np.int64)
    for s0 in range(S):
        if state[s0] == 2:
            continue
        n = 0
        s = s0
        while state[s] == 0:
            state[s] = 1
            where[s] = n
            stack[n] = s
            n += 1
            s = f[s]
        end = n
        if state[s] == 1:                       # a new cycle stack[k0:n]
            k0 = where[s]
            acc = 0.0
            g = 1.0
            for m in range(k0, n):
                acc += g * r[stack[m]]
                g *= gamma
            V[stack[k0]] = acc / (1.0 - g)
            for m in range(n - 1, k0, -1):
                V[stack[m]] = r[stack[m]] + gamma * V[f[stack[m]]]
            end = k0
        for m in range(end - 1, -1, -1):
            V[stack[m]] = r[stack[m]] + gamma * V[f[stack[m]]]
        for m in range(n):
            state[stack[m]] = 2
    return V


@njit(cache=True)
def _team_infinite(nxt, opened, team_r, gamma, tol, max_iter):
    """Howard policy iteration on the joint MDP of the team reward (infinite horizon):
    (V, pol[1, S], iterations, converged, residual). An action replaces the incumbent only
    when better by more than ``tol`` (then the lowest index of the max)."""
    S, A = nxt.shape
    pol = np.empty((1, S), np.uint16)
    for s in range(S):
        best = -np.inf
        for a in range(A):
            q = team_r[opened[s, a]]
            if q > best:
                best = q
                pol[0, s] = a
    f = np.empty(S, np.int64)
    r = np.empty(S)
    V = np.zeros(S)
    residual = np.inf
    for it in range(1, max_iter + 1):
        for s in range(S):
            f[s] = nxt[s, pol[0, s]]
            r[s] = team_r[opened[s, pol[0, s]]]
        V = _eval_functional(f, r, gamma)
        changed = False
        residual = 0.0
        for s in range(S):
            best = -np.inf
            ba = 0
            for a in range(A):
                q = team_r[opened[s, a]] + gamma * V[nxt[s, a]]
                if q > best:
                    best = q
                    ba = a
            residual = max(residual, abs(best - V[s]))
            if best > V[s] + tol:
                pol[0, s] = ba
                changed = True
        if not changed:
            return V, pol, it, True, residual
    return V, pol, max_iter, False, residual


@njit(cache=True)
def _eval_infinite(nxt, opened, rew, acts, gamma, n_actions):
    """Per-agent values [N, S] of the stationary profile acts[N, 1, S] (exact)."""
    N, _, S = acts.shape
    f = np.empty(S, np.int64)
    codes = np.empty(S, np.int64)
    for s in range(S):
        a = 0
        for i in range(N):
            a = a * n_actions + acts[i, 0, s]
        f[s] = nxt[s, a]
        codes[s] = opened[s, a]
    V = np.empty((N, S))
    r = np.empty(S)
    for i in range(N):
        for s in range(S):
            r[s] = rew[codes[s], i]
        V[i] = _eval_functional(f, r, gamma)
    return V


@njit(cache=True)
def _best_response_infinite(nxt, opened, rew, acts, agent, gamma, n_actions, tol, max_iter):
    """Howard policy iteration for one agent against stationary acts[N, 1, S]:
    (V, pol[1, S] uint8, iterations, converged, residual)."""
    N, _, S = acts.shape
    stride = 1
    for i in range(N - 1 - agent):
        stride *= n_actions
    base = np.empty(S, np.int64)
    for s in range(S):
        b0 = 0
        for i in range(N):
            b0 = b0 * n_actions + (0 if i == agent else acts[i, 0, s])
        base[s] = b0
    pol = acts[agent].copy()
    f = np.empty(S, np.int64)
    r = np.empty(S)
    V = np.zeros(S)
    residual = np.inf
    for it in range(1, max_iter + 1):
        for s in range(S):
            a = base[s] + pol[0, s] * stride
            f[s] = nxt[s, a]
            r[s] = rew[opened[s, a], agent]
        V = _eval_functional(f, r, gamma)
        changed = False
        residual = 0.0
        for s in range(S):
            best = -np.inf
            bb = 0
            for b in range(n_actions):
                a = base[s] + b * stride
                q = rew[opened[s, a], agent] + gamma * V[nxt[s, a]]
                if q > best:
                    best = q
                    bb = b
            residual = max(residual, abs(best - V[s]))
            if best > V[s] + tol:
                pol[0, s] = bb
                changed = True
        if not changed:
            return V, pol, it, True, residual
    return V, pol, max_iter, False, residual


# ------------------------------------------------------------------------------ game ---
def _units(values) -> int:
    """The smallest power of ten (<= 10**6) making every value an integer, else 0."""
    for p in range(7):
        scale = 10 ** p
        if all(abs(v * scale - round(v * scale)) <= 1e-9 * max(1.0, abs(v * scale))
               for v in values):
            return scale
    return 0


class ExchangeGame:
    """The Exchange task of 004, Sec. 5.1, as an exact deterministic finite game.

    Build it with :func:`exchange`; the rules and the state encoding are in the module
    docstring of :mod:`fairmg.games.exchange`. Attributes: ``rows``, ``cols``,
    ``n_agents``, ``boxes`` (cell of box k, row-major), ``openers`` (bool [N, N]:
    ``openers[k, j]`` = agent j may open box k), ``reach``, ``horizon`` (None: infinite),
    ``gamma``, ``step_cost``, ``open_cost``, ``food``, ``initial_states`` and
    ``initial_probs`` (the start distribution mu).
    """

    def __init__(self, rows, cols, n_agents, boxes, openers, reach, horizon, gamma,
                 step_cost, open_cost, food, start):
        self.rows, self.cols, self.n_agents = rows, cols, n_agents
        self.boxes = boxes
        self.openers = openers
        self.reach = reach
        self.horizon = horizon
        self.gamma = gamma
        self.step_cost, self.open_cost, self.food = step_cost, open_cost, food
        self.n_cells = rows * cols
        self.n_masks = 2 ** n_agents
        self.n_states = self.n_cells ** n_agents * self.n_masks
        self.n_joint_actions = _N_ACT ** n_agents
        self.action_sizes = (_N_ACT,) * n_agents
        self._scale = _units((step_cost, open_cost, food)) or 1
        self.exact = bool(_units((step_cost, open_cost, food))) and gamma == 1.0
        full = self.n_masks - 1
        if start is None:
            cells = np.indices((self.n_cells,) * n_agents).reshape(n_agents, -1)
            distinct = np.array([len(set(c)) == n_agents for c in cells.T])
            codes = np.ravel_multi_index(cells[:, distinct], (self.n_cells,) * n_agents)
        else:
            codes = np.array([np.ravel_multi_index(tuple(start), (self.n_cells,) * n_agents)])
        self.initial_states = (codes * self.n_masks + full).astype(np.int64)
        self.initial_probs = np.full(self.initial_states.size, 1.0 / self.initial_states.size)
        self._tables = None

    def __repr__(self) -> str:
        h = "inf" if self.horizon is None else self.horizon
        return (f"ExchangeGame({self.rows}x{self.cols}, N={self.n_agents}, boxes="
                f"{[self.cell(b) for b in self.boxes]}, horizon={h}, gamma={self.gamma}, "
                f"S={self.n_states:,}, A={self.n_joint_actions})")

    # -- encoding ------------------------------------------------------------------------
    def cell(self, index: int) -> tuple[int, int]:
        """(row, col) of a row-major cell index."""
        return divmod(int(index), self.cols)

    def state_index(self, cells, closed) -> int:
        """Index of the state with agent i on row-major cell ``cells[i]`` and box k closed
        iff ``closed[k]``."""
        cells = as_index_array(cells, "cells", self.n_cells).reshape(-1)
        closed = np.asarray(closed, dtype=bool).reshape(-1)
        if cells.size != self.n_agents or closed.size != self.n_agents:
            raise ValueError(f"cells and closed must have {self.n_agents} entries, got "
                             f"{cells.size} and {closed.size}")
        mask = int(sum(1 << k for k in range(self.n_agents) if closed[k]))
        return int(np.ravel_multi_index(tuple(cells), (self.n_cells,) * self.n_agents)
                   * self.n_masks + mask)

    def state_tuple(self, s: int):
        """(cells of the agents, closed-box flags) of state index ``s``."""
        s = check_int(s, "s", low=0, high=self.n_states - 1)
        mask, code = s % self.n_masks, s // self.n_masks
        cells = tuple(int(c) for c in np.unravel_index(code, (self.n_cells,) * self.n_agents))
        return cells, tuple(bool((mask >> k) & 1) for k in range(self.n_agents))

    # -- tables --------------------------------------------------------------------------
    def _move_table(self) -> np.ndarray:
        move = np.empty((self.n_cells, _N_ACT), np.int64)
        for c in range(self.n_cells):
            r, q = divmod(c, self.cols)
            for b, (dr, dc) in enumerate(_MOVES):
                rr, qq = r + dr, q + dc
                move[c, b] = rr * self.cols + qq if (0 <= rr < self.rows
                                                     and 0 <= qq < self.cols) else c
        return move

    def _eligible(self) -> np.ndarray:
        """elig[k, j, c]: agent j on cell c may open box k (if closed)."""
        N = self.n_agents
        elig = np.zeros((N, N, self.n_cells), np.bool_)
        for k in range(N):
            br, bc = self.cell(self.boxes[k])
            for c in range(self.n_cells):
                r, q = self.cell(c)
                d = abs(r - br) + abs(q - bc)
                if d == 0 or (self.reach == "adjacent" and d == 1):
                    elig[k, self.openers[k], c] = True  # bool row
        return elig

    def tables(self):
        """(next[s, a] int32, opened[s, a] uint16), built once (numba) and cached.

        ``opened`` bit ``j * N + k`` is set when agent j opened box k in that step.
        """
        if self._tables is None:
            entries = float(self.n_states) * self.n_joint_actions
            if entries > MAX_TABLE_ENTRIES:
                raise TooLargeError(f"the Exchange transition table has {entries:.3g} "
                                    f"entries (6 bytes each), over {MAX_TABLE_ENTRIES:.3g}; "
                                    f"use a smaller grid or fewer agents")
            self._tables = _build_tables(self._move_table(), self._eligible(),
                                         self.n_agents, self.n_cells, _N_ACT)
        return self._tables

    def reward_table(self) -> np.ndarray:
        """rew[code, i] in the game's integer units (see :attr:`unit`) for every
        ``opened`` code."""
        N = self.n_agents
        codes = np.arange(2 ** (N * N))
        bits = (codes[:, None] >> np.arange(N * N)) & 1            # [code, j*N + k]
        by = bits.reshape(-1, N, N)                                 # [code, j, k]
        sc = self._scale
        rew = (-self.step_cost * sc - self.open_cost * sc * by.sum(axis=2)
               + self.food * sc * by.sum(axis=1))
        return np.ascontiguousarray(np.round(rew) if self.exact else rew, dtype=np.float64)

    @property
    def unit(self) -> float:
        """The reward unit of the solvers' tables (0.01 for the paper's rewards)."""
        return 1.0 / self._scale

    def step(self, s: int, actions):
        """(next state, rewards [N]) of state ``s`` under per-agent ``actions``."""
        s = check_int(s, "s", low=0, high=self.n_states - 1)
        acts = as_index_array(actions, "actions", _N_ACT).reshape(-1)
        if acts.size != self.n_agents:
            raise ValueError(f"actions must have {self.n_agents} entries, got {acts.size}")
        nxt, opened = self.tables()
        a = int(np.ravel_multi_index(tuple(acts), self.action_sizes))
        return int(nxt[s, a]), self.reward_table()[opened[s, a]] * self.unit

    def to_markov_game(self):
        """This game as a dense :class:`fairmg.MarkovGame` (infinite horizon, gamma < 1,
        and small instances only: the dense P has S * 6^N * S floats)."""
        from .dense import MarkovGame, check_dense_size
        if self.horizon is not None:
            raise ValueError("to_markov_game needs horizon=None (a MarkovGame is "
                             "infinite-horizon discounted); build the game with "
                             "horizon=None and gamma < 1")
        S, A = self.n_states, self.n_joint_actions
        check_dense_size(S, A, "Exchange as a MarkovGame")
        nxt, opened = self.tables()
        P = np.zeros((S, A, S))
        P[np.arange(S)[:, None], np.arange(A)[None, :], nxt] = 1.0
        R = np.moveaxis(self.reward_table()[opened] * self.unit, 2, 0)
        mu = np.zeros(S)
        np.add.at(mu, self.initial_states, self.initial_probs)
        return MarkovGame(P, R, self.gamma, initial=mu, action_sizes=self.action_sizes,
                          name=repr(self))

    def initial_distribution(self) -> np.ndarray:
        """mu as a dense vector of length S."""
        mu = np.zeros(self.n_states)
        np.add.at(mu, self.initial_states, self.initial_probs)
        return mu


def exchange(grid=5, n_agents: int = 3, *, horizon: int | None = 300, gamma: float = 1.0,
             boxes=None, openers="others", reach: str = "cell", step_cost: float = 0.01,
             open_cost: float = 5.0, food: float = 10.0, start=None) -> ExchangeGame:
    """The Exchange task of 004, Sec. 5.1 (App. A.2, Fig. 8b), as an exact finite game.

    Parameters
    ----------
    grid : int or (int, int)
        Grid size: ``5`` is the paper's 5 x 5; ``(rows, cols)`` for other shapes.
    n_agents : int
        Agents and boxes (the paper: 3), 2 to 4.
    horizon : int or None
        Steps per episode (the paper: 300); ``None``: infinite horizon (needs gamma < 1).
    gamma : float
        Discount; 1 (default, undiscounted returns as in Sec. 5.3) needs a finite horizon.
    boxes : sequence of (row, col), optional
        Cell of box k (food for agent k); distinct. Default: row-major cells
        ``round(k (C - 1) / (N - 1))``.
    openers : {"others", "cyclic"} or sequence of int
        Who may open box k: any agent but k (default), only agent k + 1 mod N, or
        ``openers[k]`` (an agent other than k).
    reach : {"cell", "adjacent"}
        An opener must stand on the box's cell, or on it or a 4-neighbour.
    step_cost, open_cost, food : float
        Per-agent per-step cost (0.01), the opener's cost (5), the owner's gain (10).
    start : sequence of (row, col), optional
        Start cells of the agents; default uniform over placements on distinct cells.

    Returns
    -------
    ExchangeGame
        Solve it with :func:`solve_exchange`; small infinite-horizon instances convert to a
        dense :class:`fairmg.MarkovGame` with :meth:`ExchangeGame.to_markov_game`.

    Examples
    --------
    >>> g = exchange(grid=(1, 3), horizon=3, start=[(0, 0), (0, 1), (0, 2)])
    >>> round(solve_exchange(g).team_value, 10)
    14.91
    """
    if isinstance(grid, (tuple, list, np.ndarray)):
        if len(grid) != 2:
            raise ValueError(f"grid must be an int or (rows, cols), got {grid!r}")
        rows = check_int(grid[0], "grid[0]", low=1)
        cols = check_int(grid[1], "grid[1]", low=1)
    else:
        rows = cols = check_int(grid, "grid", low=1)
    N = check_int(n_agents, "n_agents", low=2, high=MAX_EXCHANGE_AGENTS)
    C = rows * cols
    if C < N:
        raise ValueError(f"grid {rows}x{cols} has {C} cells, fewer than the {N} boxes")
    if horizon is not None:
        horizon = check_int(horizon, "horizon", low=1, high=100_000)
    gamma = check_scalar(gamma, "gamma", upper=1.0)
    if gamma == 1.0:
        if horizon is None:
            raise ValueError("gamma = 1 needs a finite horizon; pass horizon=... or "
                             "gamma < 1")
    elif horizon is None:
        gamma = check_gamma(gamma)
    step_cost = check_scalar(step_cost, "step_cost", allow_negative=True)
    open_cost = check_scalar(open_cost, "open_cost", allow_negative=True)
    food = check_scalar(food, "food", allow_negative=True)
    reach = check_choice(reach, "reach", ("cell", "adjacent"))

    def as_cells(x, name, count, distinct):
        arr = np.asarray(x)
        if arr.shape != (count, 2) or arr.dtype.kind not in "iu":
            raise ValueError(f"{name} must be {count} (row, col) int pairs, got {x!r}")
        for k, (r, q) in enumerate(arr):
            if not (0 <= r < rows and 0 <= q < cols):
                raise ValueError(f"{name}[{k}] = {(int(r), int(q))} is off the "
                                 f"{rows}x{cols} grid")
        cells = [int(r) * cols + int(q) for r, q in arr]
        if distinct and len(set(cells)) != count:
            raise ValueError(f"{name} must be on distinct cells, got {x!r}")
        return np.array(cells, np.int64)

    if boxes is None:
        box_cells = np.array([round(k * (C - 1) / (N - 1)) for k in range(N)], np.int64)
    else:
        box_cells = as_cells(boxes, "boxes", N, True)
    if isinstance(openers, str):
        openers = check_choice(openers, "openers", ("others", "cyclic"))
        allow = (~np.eye(N, dtype=bool) if openers == "others"
                 else np.roll(np.eye(N, dtype=bool), 1, axis=1))
    else:
        ops = as_index_array(openers, "openers", N).reshape(-1)
        if ops.size != N:
            raise ValueError(f"openers must have {N} entries, got {ops.size}")
        for k, j in enumerate(ops):
            if j == k:
                raise ValueError(f"openers[{k}] is {k}: a box can only be opened by another "
                                 f"agent (004, Sec. 5.1)")
        allow = np.zeros((N, N), bool)
        allow[np.arange(N), ops] = True
    start_cells = None if start is None else as_cells(start, "start", N, False)
    if start is None and C < N:
        raise ValueError("the default start needs at least n_agents cells")
    return ExchangeGame(rows, cols, N, box_cells, allow, reach, horizon, gamma,
                        step_cost, open_cost, food, start_cells)


# --------------------------------------------------------------------------- solving ---
class ExchangeSolution(NamedTuple):
    """Result of :func:`solve_exchange`; unpacks as a tuple.

    team_value : float
        sum_i V^i(mu) of the returned profile (the social optimum or the selfish
        equilibrium), in reward units of the paper.
    values : ndarray (N,)
        V^i(mu).
    policy : ndarray (N, L, S) uint8
        Agent i plays ``policy[i, min(t, L) - 1, s]`` in state s with t steps to go
        (infinite horizon: L = 1, stationary).
    state_values : ndarray (N, S)
        V^i(s) with the full horizon to go.
    nash_gaps : ndarray (N,)
        max over agent i's policies of V^i(mu) minus V^i(mu), exact (backward induction /
        policy iteration on agent i's MDP, the others fixed): the certificate.
    iterations : int
        Backward-induction layers computed (finite horizon) or policy-iteration steps, of
        the team solve or summed over the best responses.
    rounds : int
        Best-response rounds (0 for the social optimum).
    converged : bool
    seconds : float
        Wall time, tables included.
    memory_bytes : int
        Bytes of the transition tables and policies held.
    """

    team_value: float
    values: np.ndarray
    policy: np.ndarray
    state_values: np.ndarray
    nash_gaps: np.ndarray
    iterations: int
    rounds: int
    converged: bool
    seconds: float
    memory_bytes: int


def _check_exchange(game):
    if not isinstance(game, ExchangeGame):
        raise TypeError(f"game must be an ExchangeGame (from fairmg.games.exchange), got "
                        f"{type(game).__name__}")
    return game


def _tol(game) -> float:
    """Improvement tolerance in units: 0 when the arithmetic is exact."""
    if game.exact:
        return 0.0
    rmax = game._scale * (game.step_cost + abs(game.open_cost) + abs(game.food))
    span = game.horizon if game.horizon is not None else 1.0 / (1.0 - game.gamma)
    return 1e-11 * rmax * span


def _evaluate(game, acts):
    nxt, opened = game.tables()
    rew = game.reward_table()
    if game.horizon is None:
        return _eval_infinite(nxt, opened, rew, acts, game.gamma, _N_ACT)
    return _eval_finite(nxt, opened, rew, acts, game.horizon, game.gamma, _N_ACT,
                        game.exact)


def _best_response(game, acts, agent, max_iter):
    """(values [S], policy [L, S] uint8, iterations, converged) in units."""
    nxt, opened = game.tables()
    rew = game.reward_table()
    if game.horizon is None:
        V, pol, it, conv, _ = _best_response_infinite(nxt, opened, rew, acts, agent,
                                                      game.gamma, _N_ACT, _tol(game),
                                                      max_iter)
        return V, pol, it, conv
    V, pol, it = _best_response_finite(nxt, opened, rew, acts, agent, game.horizon,
                                       game.gamma, _N_ACT, game.exact)
    return V, pol, it, True


def _at_mu(game, values):
    """V(mu): mu is uniform over ``initial_states``, so a mean (exact on integer units)."""
    return values[..., game.initial_states].sum(axis=-1) / game.initial_states.size


def _replace(acts, agent, pol):
    """The profile acts with agent's policy replaced by pol [L', S] (layers aligned)."""
    N, L, S = acts.shape
    L2 = max(L, pol.shape[0])
    out = np.empty((N, L2, S), np.uint8)
    idx = np.minimum(np.arange(L2), L - 1)
    out[:] = acts[:, idx]
    out[agent] = pol[np.minimum(np.arange(L2), pol.shape[0] - 1)]
    return out


def _gaps(game, acts, values_units, max_iter):
    gaps = np.empty(game.n_agents)
    iters = 0
    for i in range(game.n_agents):
        V, _, it, conv = _best_response(game, acts, i, max_iter)
        if not conv:
            raise RuntimeError(f"agent {i}'s best response did not converge in {it} steps")
        iters += it
        gaps[i] = max(_at_mu(game, V) - _at_mu(game, values_units[i]), 0.0)
    return gaps * game.unit, iters


def solve_exchange(game: ExchangeGame, kind: str = "social", *, start_profile=None,
                   max_rounds: int = 100, max_iter: int = 10_000) -> ExchangeSolution:
    """Solve the Exchange task (004, Sec. 5.1) exactly: the social optimum or a selfish
    (Nash) equilibrium with its certificate.

    Parameters
    ----------
    game : ExchangeGame
        From :func:`exchange`.
    kind : {"social", "selfish"}
        ``"social"``: max over joint policies of sum_i V^i(mu) (backward induction over
        every state and time layer, or policy iteration with infinite horizon), with the
        per-agent values of the optimal policy and each agent's gain from deviating.
        ``"selfish"``: best-response dynamics, agents 0..N-1 in turn, each switching to
        its exact best response (backward induction / policy iteration on its MDP with
        the others fixed) when it improves V^i(mu), until a round changes nothing; the
        returned ``nash_gaps`` (each agent's exact best-response value minus its value)
        certify the equilibrium.
    start_profile : ndarray (N, L, S), optional
        Profile the selfish dynamics start from; default the social optimum's policy.
    max_rounds, max_iter : int
        Caps on best-response rounds and policy-iteration steps.

    Returns
    -------
    ExchangeSolution
    """
    game = _check_exchange(game)
    kind = check_choice(kind, "kind", ("social", "selfish"))
    max_rounds = check_int(max_rounds, "max_rounds", low=1)
    max_iter = check_int(max_iter, "max_iter", low=1)
    t0 = time.perf_counter()
    nxt, opened = game.tables()
    rew = game.reward_table()
    team_r = np.ascontiguousarray(rew.sum(axis=1))
    N = game.n_agents
    iterations = 0
    if kind == "social" or start_profile is None:
        if game.horizon is None:
            _, jpol, iterations, conv, _ = _team_infinite(nxt, opened, team_r, game.gamma,
                                                          _tol(game), max_iter)
            if not conv:
                raise RuntimeError(f"policy iteration for the Exchange social optimum did "
                                   f"not converge in {iterations} steps")
        else:
            check_memory(game.horizon * game.n_states / 4.0, "the Exchange policy table")
            _, jpol, iterations = _team_finite(nxt, opened, team_r, game.horizon,
                                               game.gamma, game.exact)
        acts = _split_joint(jpol, N, _N_ACT)
        del jpol
    else:
        acts = np.asarray(start_profile)
        if (acts.ndim != 3 or acts.shape[0] != N or acts.shape[2] != game.n_states
                or acts.shape[1] < 1 or acts.dtype.kind not in "iu"
                or acts.min() < 0 or acts.max() >= _N_ACT):
            raise ValueError(f"start_profile must be ints in [0, {_N_ACT}) of shape "
                             f"({N}, L, {game.n_states}), got {acts.shape}")
        acts = np.ascontiguousarray(acts, dtype=np.uint8)
    values = _evaluate(game, acts)
    rounds = 0
    converged = True
    if kind == "selfish":
        converged = False
        for rounds in range(1, max_rounds + 1):
            changed = False
            best = np.empty(N)
            for i in range(N):
                V, pol, it, conv = _best_response(game, acts, i, max_iter)
                iterations += it
                if not conv:
                    raise RuntimeError(f"agent {i}'s best response did not converge")
                best[i] = _at_mu(game, V)
                if best[i] > _at_mu(game, values[i]) + _tol(game):
                    acts = _replace(acts, i, pol)
                    values = _evaluate(game, acts)
                    changed = True
            if not changed:
                converged = True
                break
    if kind == "selfish" and converged:
        # a round without a change computed every best response against the final profile
        gaps = np.maximum(best - _at_mu(game, values), 0.0) * game.unit
    else:
        gaps, it = _gaps(game, acts, values, max_iter)
        iterations += it
    unit = game.unit
    state_values = values * unit
    at_mu = _at_mu(game, values)
    vals = at_mu * unit
    memory = nxt.nbytes + opened.nbytes + acts.nbytes + values.nbytes
    return ExchangeSolution(float(at_mu.sum() * unit), vals, acts, state_values, gaps,
                            int(iterations), int(rounds), bool(converged),
                            time.perf_counter() - t0, int(memory))
