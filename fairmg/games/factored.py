r"""Factored Markov games: per-agent local transitions, never a joint tensor.

The global state is the tuple of local states :math:`s = (s_1, \dots, s_N)`, indexed by
``ravel_multi_index`` (C order, agent 0 most significant), and every agent's local next
state depends only on the current state and its own action:

.. math:: P(s' | s, a) = \prod_{j=1}^N P_j(s'_j \mid s, a_j).

Under a product policy the rows of :math:`P_\pi` are Kronecker products of the averaged
local rows :math:`\bar P_j(\cdot|s) = \sum_{a_j} \pi^j(a_j|s) P_j(\cdot|s, a_j)`, so a
product :math:`P_\pi x` costs :math:`O(S^2)` time and :math:`O(S)` memory
(:func:`fairmg.kernels.factored_contract`), and a marginal of a Q-function over any subset
of agents contracts one local matrix per agent. Policy evaluation is dense (a
:math:`P_\pi` built in :math:`O(S^2)`, one LU) up to :data:`DENSE_STATES` states and
matrix-free (GMRES) beyond; the coordination game of 002 runs this way to N = 14 and more.
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from .._validate import (as_float_array, as_initial, check_distributions, check_gamma, check_int,
                         check_memory)
from ..linear import PolicySystem
from ..marginals import _marginalize as marginalize
from .base import Game

__all__ = ["FactoredGame", "DENSE_STATES"]

#: Up to this many states a factored game builds P_pi densely (O(S^2)) and solves by LU;
#: beyond it, matrix-free GMRES.
DENSE_STATES = 2048


class FactoredGame(Game):
    r"""A Markov game with per-agent local transitions.

    Parameters
    ----------
    local_transitions : sequence of N array_like
        Agent j's :math:`P_j(s'_j | \cdot, a_j)` in one of three forms:
        ``(A_j, n_j)`` (depends on the action only), ``(n_j, A_j, n_j)`` (on the agent's own
        local state), or ``(S, A_j, n_j)`` (on the global state), where ``n_j`` is agent
        j's number of local states and ``S = prod(n_j)``.
    rewards : array_like
        ``(N, S)``: :math:`r^i(s)` (the same for every joint action), or ``(N, S, A)``: a
        joint table :math:`r^i(s, a)` (only where S x A fits in memory).
    gamma : float
    initial : array_like (S,), optional
        Uniform if omitted.
    potential : array_like (S,) or (S, A), optional
        phi of 002 Definition 2.2 when the game is a Markov potential game with it.
    name : str, optional
    dense_states : int
        Build :math:`P_\pi` densely up to this many states (default :data:`DENSE_STATES`).
    """

    def __init__(self, local_transitions, rewards, gamma, initial=None, potential=None,
                 name: str | None = None, dense_states: int = DENSE_STATES):
        if isinstance(local_transitions, np.ndarray) or not hasattr(local_transitions,
                                                                     "__len__"):
            raise TypeError("local_transitions must be a sequence with one array per agent")
        locs = [as_float_array(Lj, f"local_transitions[{j}]")
                for j, Lj in enumerate(local_transitions)]
        N = len(locs)
        if N == 0:
            raise ValueError("local_transitions must hold at least one agent's array")
        n_local = np.array([Lj.shape[-1] if Lj.ndim else 0 for Lj in locs], dtype=np.int64)
        S = int(np.prod(n_local.astype(np.float64)))
        check_memory(float(S) * 4, "the factored game's value vectors",
                     "fewer agents or local states")
        sizes = []
        for j, Lj in enumerate(locs):
            name_j = f"local_transitions[{j}]"
            if Lj.ndim not in (2, 3) or Lj.shape[-1] < 1 or Lj.shape[-2] < 1:
                raise ValueError(f"{name_j} must have shape (A_j, n_j), (n_j, A_j, n_j) or "
                                 f"(S, A_j, n_j), got {Lj.shape}")
            if Lj.ndim == 3 and Lj.shape[0] not in (S, Lj.shape[-1]):
                raise ValueError(f"{name_j} has shape {Lj.shape}: its first axis must be the "
                                 f"agent's {Lj.shape[-1]} local states or all {S} states")
            check_distributions(Lj, name_j)
            sizes.append(int(Lj.shape[-2]))
        self.action_sizes = tuple(sizes)
        self.n_local = n_local
        M, X = max(sizes), int(n_local.max())
        check_memory(float(N) * S * M * X, "the factored game's local transition table")
        L = np.zeros((N, S, M, X))
        grid = np.stack(np.unravel_index(np.arange(S), tuple(n_local)), axis=1)  # [s, j]
        for j, Lj in enumerate(locs):
            a, n = Lj.shape[-2], Lj.shape[-1]
            if Lj.ndim == 2:
                L[j, :, :a, :n] = Lj[None]
            elif Lj.shape[0] == S:
                L[j, :, :a, :n] = Lj
            else:
                L[j, :, :a, :n] = Lj[grid[:, j]]
        self._L = L
        self._L.setflags(write=False)
        self.local_states = grid
        self.local_states.setflags(write=False)
        R = as_float_array(rewards, "rewards")
        A = self.n_joint_actions
        whence = (f" (N={N} agents, S={S} states and A={A} joint actions from the "
                  f"local_transitions)")
        if R.ndim == 2 and R.shape == (N, S):
            self._state_rewards = True
        elif R.ndim == 3 and R.shape[:2] == (N, S):
            check_memory(float(N) * S * A, "a joint reward table (N, S, A)",
                         "give state rewards of shape (N, S)")
            if R.shape[2] != A:
                raise ValueError(f"rewards must have shape ({N}, {S}) or ({N}, {S}, {A})"
                                 f"{whence}, got {R.shape}")
            self._state_rewards = False
        else:
            raise ValueError(f"rewards must have shape ({N}, {S}) or ({N}, {S}, {A}){whence}, "
                             f"got {R.shape}")
        self.rewards = R
        self.gamma = check_gamma(gamma)
        self.initial = as_initial(initial, S, whence)
        if potential is not None:
            potential = as_float_array(potential, "potential")
            if potential.shape not in ((S,), (S, A)):
                raise ValueError(f"potential must have shape ({S},) or ({S}, {A}){whence}, "
                                 f"got {potential.shape}")
        self.potential = potential
        self.name = name
        self.dense_states = check_int(dense_states, "dense_states", low=0)
        for arr in (self.rewards, self.initial, self.potential):
            if arr is not None:
                arr.setflags(write=False)

    # -- sizes ---------------------------------------------------------------------------
    @property
    def n_agents(self) -> int:
        return len(self.action_sizes)

    @property
    def n_states(self) -> int:
        return self._L.shape[1]

    def _repr_fields(self) -> str:
        return f", local_states={tuple(int(n) for n in self.n_local)}"

    # -- local matrices ------------------------------------------------------------------
    def _averaged(self, probs: np.ndarray) -> np.ndarray:
        """Pbar[j, s, 0, x] = sum_a probs[j, s, a] P_j(x | s, a), shape (N, S, 1, X)."""
        return np.einsum("jsa,jsax->jsx", probs, self._L)[:, :, None, :]

    def _matrices(self, probs: np.ndarray, keep) -> tuple[np.ndarray, np.ndarray]:
        """Per-agent matrices for :func:`kernels.factored_contract` and the output rows."""
        keep = tuple(keep)
        if not keep:
            return self._averaged(probs), np.ones(self.n_agents, dtype=np.int64)
        M = self._L.copy()
        avg = self._averaged(probs)
        m_out = np.ones(self.n_agents, dtype=np.int64)
        for j in range(self.n_agents):
            if j in keep:
                m_out[j] = self.action_sizes[j]
            else:
                M[j] = 0.0
                M[j, :, :1] = avg[j]
        return M, m_out

    def _contract(self, values, probs, keep) -> np.ndarray:
        keep = tuple(keep)
        M, m_out = self._matrices(probs, keep)
        out_size = int(np.prod(m_out))
        check_memory(float(values.shape[0]) * self.n_states * out_size,
                     "the marginal table (K, S, A_keep)")
        out = kernels.factored_contract(M, values, self.n_local, m_out, out_size)
        natural = tuple(sorted(keep))
        out = out.reshape((values.shape[0], self.n_states)
                          + tuple(self.action_sizes[j] for j in natural))
        order = [natural.index(j) for j in keep]
        return out.transpose((0, 1) + tuple(2 + o for o in order))

    # -- the protocol --------------------------------------------------------------------
    def policy_system(self, policy, *, matrix_free: bool | None = None) -> PolicySystem:
        """Dense (``P_pi`` built in O(S^2), one LU) up to ``dense_states`` states, or with
        ``matrix_free=False``; matrix-free (GMRES on the O(S^2)-time, O(S)-memory product)
        beyond, or with ``matrix_free=True``."""
        probs = self.check_policy(policy).probs
        M = self._averaged(probs)
        S = self.n_states
        if not matrix_free and (matrix_free is False or S <= self.dense_states):
            return PolicySystem(self.gamma, S, dense=kernels.factored_dense(M, self.n_local))
        ones = np.ones(self.n_agents, dtype=np.int64)

        def matvec(x):
            x = np.ascontiguousarray(x, dtype=np.float64).reshape(1, S)
            return kernels.factored_contract(M, x, self.n_local, ones, 1)[0, :, 0]

        def rmatvec(y):
            return kernels.factored_rmatvec(M, self.n_local,
                                            np.ascontiguousarray(y, dtype=np.float64))

        return PolicySystem(self.gamma, S, matvec=matvec, rmatvec=rmatvec)

    def policy_rewards(self, policy) -> np.ndarray:
        probs = self.check_policy(policy).probs
        if self._state_rewards:
            return np.array(self.rewards)
        return marginalize(self.rewards, probs, self.action_sizes, ())

    def policy_potential(self, policy):
        if self.potential is None:
            return None
        probs = self.check_policy(policy).probs
        if self.potential.ndim == 1:
            return np.array(self.potential)
        return marginalize(self.potential, probs, self.action_sizes, ())

    def continuation(self, values, policy, keep=()) -> np.ndarray:
        keep = self.check_keep(keep)
        probs = self.check_policy(policy).probs
        return self._contract(self.check_values(values), probs, keep)

    def _table_marginal(self, table, probs, keep, lead):
        if table.ndim == lead + 1:          # state-only: the same for every action
            shape = table.shape + tuple(self.action_sizes[k] for k in keep)
            return np.broadcast_to(table.reshape(table.shape + (1,) * len(keep)),
                                   shape).copy()
        return marginalize(table, probs, self.action_sizes, keep)

    def reward_marginal(self, policy, keep=()) -> np.ndarray:
        keep = self.check_keep(keep)
        probs = self.check_policy(policy).probs
        return self._table_marginal(self.rewards, probs, keep, 1)

    def potential_marginal(self, policy, keep=()):
        if self.potential is None:
            return None
        keep = self.check_keep(keep)
        probs = self.check_policy(policy).probs
        return self._table_marginal(self.potential, probs, keep, 0)

    def agent_mdp(self, policy, agent: int, reward=None):
        """The MDP of ``agent`` with the others fixed, as dense arrays (S, A_i, S), (S, A_i).

        Built in O(A_i S^2) without a joint tensor; ``reward`` (N-free, shape (S,) or
        (S, A)) replaces the agent's own reward.
        """
        agent = self.check_agent(agent)
        probs = self.check_policy(policy).probs
        S, n = self.n_states, self.action_sizes[agent]
        check_memory(float(S) * n * S, f"agent {agent}'s dense MDP (S, A_i, S)")
        avg = self._averaged(probs)
        P_i = np.empty((S, n, S))
        for b in range(n):
            M = avg.copy()
            M[agent, :, 0] = self._L[agent, :, b]
            P_i[:, b] = kernels.factored_dense(M, self.n_local)
        if reward is None:
            r_i = self.reward_marginal(policy, (agent,))[agent]
        else:
            r = as_float_array(reward, "reward")
            if r.shape not in ((S,), (S, self.n_joint_actions)):
                raise ValueError(f"reward must have shape ({S},) or ({S}, "
                                 f"{self.n_joint_actions}), got {r.shape}")
            r_i = self._table_marginal(r[None], probs, (agent,), 1)[0]
        return P_i, np.ascontiguousarray(r_i)

    def with_rewards(self, rewards, potential=None) -> "FactoredGame":
        return FactoredGame(self._local_forms(), rewards, self.gamma, self.initial, potential,
                            self.name, self.dense_states)

    def _local_forms(self):
        """The local transitions in global form (S, A_j, n_j), one per agent."""
        return [self._L[j, :, : self.action_sizes[j], : self.n_local[j]]
                for j in range(self.n_agents)]

    def to_dense(self):
        """The same game as a :class:`~fairmg.games.dense.MarkovGame` (refused if too large)."""
        from .dense import MarkovGame
        S, A, N = self.n_states, self.n_joint_actions, self.n_agents
        check_memory(float(S) * A * S, "the dense transition (S, A, S)",
                     "keep the factored game")
        ja = self.joint_actions
        P = np.empty((S, A, S))
        for a in range(A):
            M = self._L[np.arange(N), :, ja[a]][:, :, None, :]
            P[:, a] = kernels.factored_dense(np.ascontiguousarray(M), self.n_local)
        R = self.rewards if not self._state_rewards else np.broadcast_to(
            self.rewards[:, :, None], (N, S, A))
        pot = self.potential
        if pot is not None and pot.ndim == 1:
            pot = np.broadcast_to(pot[:, None], (S, A))
        return MarkovGame(P, R, self.gamma, initial=self.initial,
                          action_sizes=self.action_sizes, potential=pot, name=self.name)

    def step(self, states, actions, rng):
        states, actions, rng = self.check_step(states, actions, rng)
        B, N = states.shape[0], self.n_agents
        local = np.empty((B, N), dtype=np.int64)
        for j in range(N):
            cdf = np.cumsum(self._L[j, states, actions[:, j]], axis=-1)
            u = rng.random(B)[:, None] * cdf[:, -1:]
            local[:, j] = np.minimum((u >= cdf).sum(axis=-1), self.n_local[j] - 1)
        nxt = np.ravel_multi_index(tuple(local.T), tuple(self.n_local))
        if self._state_rewards:
            r = self.rewards[:, states].T
        else:
            joint = np.ravel_multi_index(tuple(actions.T), self.action_sizes)
            r = self.rewards[:, states, joint].T
        return nxt, r

