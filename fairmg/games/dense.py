"""The dense Markov game: a joint transition tensor ``P[s, a, s']``.

Conventions (002, Section 2): ``P[s, a, s']`` with the joint action
``a = ravel_multi_index((a_1, ..., a_N), action_sizes)`` (C order, agent 0 most
significant), per-agent rewards ``R[i, s, a]``, discount ``gamma`` in [0, 1), initial
distribution ``mu``.
"""
from __future__ import annotations

import math

import numpy as np

from .. import kernels
from .._validate import (MEMORY_LIMIT_BYTES, as_action_sizes, as_float_array, as_initial,
                         check_distributions, check_gamma, check_memory)
from ..linear import PolicySystem
from ..marginals import _marginalize as marginalize
from .base import Game

__all__ = ["MarkovGame"]


class MarkovGame(Game):
    r"""A finite discounted Markov game :math:`\langle N, S, A, P, r, \gamma, \mu \rangle`.

    Parameters
    ----------
    transition : array_like, shape (S, A, S)
        ``transition[s, a, s']`` = P(s' | s, a) for joint action index ``a``.
    rewards : array_like, shape (N, S, A)
        ``rewards[i, s, a]`` = r^i(s, a); ``|r| <= 1e150`` (rescale larger rewards).
    gamma : float
        Discount factor in [0, 1).
    initial : array_like, shape (S,), optional
        Initial distribution mu; uniform if omitted.
    action_sizes : sequence of int, optional
        ``(A_1, ..., A_N)`` with ``prod(action_sizes) == A``. Required when N > 1; for
        N = 1 it defaults to ``(A,)``.
    potential : array_like, shape (S, A), optional
        A potential phi(s, a) of Definition 2.2 of 002, when the game is known to be a
        Markov potential game with it (the generators in :mod:`fairmg.games` set it).
    name : str, optional
        Shown in ``repr``.

    Notes
    -----
    Implements the :class:`~fairmg.games.base.Game` protocol; only this module reads
    ``transition`` and ``rewards`` (tests and benchmarks aside).
    """

    is_dense = True

    def __init__(self, transition, rewards, gamma, initial=None, action_sizes=None,
                 potential=None, name: str | None = None):
        P = as_float_array(transition, "transition", 3)
        R = as_float_array(rewards, "rewards", 3)
        S, A, S2 = P.shape
        if S2 != S or S == 0 or A == 0:
            raise ValueError(f"transition must have shape (S, A, S) with S, A >= 1, "
                             f"got {P.shape}")
        if R.shape[1:] != (S, A):
            raise ValueError(f"rewards must have shape (N, {S}, {A}) to match transition "
                             f"{P.shape}, got {R.shape}")
        N = R.shape[0]
        if N == 0:
            raise ValueError(f"rewards must describe at least one agent, got shape {R.shape}")
        check_distributions(P, "transition")
        if action_sizes is None:
            if N != 1:
                raise ValueError(f"action_sizes is required for {N} agents")
            action_sizes = (A,)
        sizes = as_action_sizes(action_sizes)
        if len(sizes) != N:
            raise ValueError(f"action_sizes has {len(sizes)} entries but rewards has {N} agents")
        if int(np.prod(sizes)) != A:
            raise ValueError(f"action_sizes {sizes} give {int(np.prod(sizes))} joint actions "
                             f"but transition has {A}")
        gamma = check_gamma(gamma)
        mu = as_initial(initial, S)
        if potential is not None:
            potential = as_float_array(potential, "potential", 2)
            if potential.shape != (S, A):
                raise ValueError(f"potential must have shape ({S}, {A}), got {potential.shape}")
        self._store(P, R, gamma, mu, sizes, potential, name)

    def _store(self, P, R, gamma, mu, sizes, potential, name) -> None:
        self.transition = P
        self.rewards = R
        self.gamma = gamma
        self.initial = mu
        self.action_sizes = sizes
        self.potential = potential
        self.name = name
        for arr in (self.transition, self.rewards, self.initial, self.potential):
            if arr is not None:
                arr.setflags(write=False)

    @classmethod
    def _from_valid(cls, P, R, gamma, sizes, potential=None, name=None) -> "MarkovGame":
        """A game from float64 arrays a generator of this package built valid by
        construction (rows of ``P`` sum to 1, finite bounded rewards): no copy, no check.
        Users construct with the validating constructor."""
        game = cls.__new__(cls)
        S = P.shape[0]
        game._store(np.ascontiguousarray(P), np.ascontiguousarray(R), float(gamma),
                    np.full(S, 1.0 / S), tuple(sizes),
                    None if potential is None else np.ascontiguousarray(potential), name)
        return game

    # -- sizes ---------------------------------------------------------------------------
    @property
    def n_agents(self) -> int:
        return self.rewards.shape[0]

    @property
    def n_states(self) -> int:
        return self.transition.shape[0]

    @property
    def n_joint_actions(self) -> int:
        return self.transition.shape[1]


    # -- the protocol --------------------------------------------------------------------
    def policy_system(self, policy, *, matrix_free: bool | None = None) -> PolicySystem:
        pij = self.check_policy(policy).joint_probs()
        return PolicySystem(self.gamma, self.n_states,
                            dense=kernels.policy_transition(self.transition, pij))

    def policy_rewards(self, policy) -> np.ndarray:
        pij = self.check_policy(policy).joint_probs()
        return kernels.policy_rewards(self.rewards, kernels.frozen(pij))

    def policy_potential(self, policy):
        if self.potential is None:
            return None
        pij = self.check_policy(policy).joint_probs()
        return kernels.policy_rewards(kernels.frozen(self.potential[None]),
                                      kernels.frozen(pij))[0]

    def joint_continuation(self, values) -> np.ndarray:
        """sum_s' P(s'|s, a) V_k(s') for every joint action, shape (K, S, A)."""
        V = self.check_values(values)
        S, A = self.n_states, self.n_joint_actions
        return (self.transition.reshape(S * A, S) @ V.T).reshape(S, A, -1).transpose(2, 0, 1)

    def joint_q(self, values) -> np.ndarray:
        """Q^i(s, a) = r^i(s, a) + gamma sum_s' P(s'|s, a) V^i(s'), shape (N, S, A)."""
        return self.rewards + self.gamma * self.joint_continuation(values)

    def continuation(self, values, policy, keep=()) -> np.ndarray:
        keep = self.check_keep(keep)
        self.check_policy(policy)
        return marginalize(self.joint_continuation(values), policy.probs, self.action_sizes,
                           keep)

    def reward_marginal(self, policy, keep=()) -> np.ndarray:
        keep = self.check_keep(keep)
        self.check_policy(policy)
        return marginalize(self.rewards, policy.probs, self.action_sizes, keep)

    def potential_marginal(self, policy, keep=()):
        if self.potential is None:
            return None
        keep = self.check_keep(keep)
        self.check_policy(policy)
        return marginalize(self.potential, policy.probs, self.action_sizes, keep)

    def local_q(self, values, policy) -> np.ndarray:
        """Every agent's local Q (002, Lemma 3.1), (N, S, A_max), by one compiled pass."""
        self.check_policy(policy)
        q = np.ascontiguousarray(self.joint_q(values))
        return kernels.local_q(q, policy.probs, self.joint_actions)

    def agent_mdp(self, policy, agent: int, reward=None):
        """The MDP agent ``agent`` faces when the others play ``policy``.

        Returns ``(P_i, r_i)`` with ``P_i[s, a_i, s'] = E_{a_-i ~ pi_-i}[P(s'|s, a)]`` and
        ``r_i[s, a_i] = E_{a_-i ~ pi_-i}[r(s, a)]`` of shapes (S, A_i, S) and (S, A_i);
        ``reward`` (shape (S, A)) replaces the agent's own reward if given.
        """
        agent = self.check_agent(agent)
        self.check_policy(policy)
        if reward is None:
            r = self.rewards[agent]
        else:
            r = as_float_array(reward, "reward", 2)
            if r.shape != (self.n_states, self.n_joint_actions):
                raise ValueError(f"reward must have shape ({self.n_states}, "
                                 f"{self.n_joint_actions}), got {r.shape}")
        Pi, ri = kernels.agent_mdp(self.transition, kernels.frozen(r),
                                   kernels.frozen(policy.probs), self.joint_actions, agent,
                                   self.max_actions)
        n = self.action_sizes[agent]
        return Pi[:, :n, :], ri[:, :n]

    def agent_mdps(self, policy) -> list:
        """Every agent's :meth:`agent_mdp` (own reward) by recursive halving of the joint
        action (:func:`fairmg.kernels.agent_mdps`: about two passes over P instead of N)."""
        self.check_policy(policy)
        Pis, ris = kernels.agent_mdps(self.transition, self.rewards, policy.probs,
                                      np.asarray(self.action_sizes, dtype=np.int64))
        return [(Pis[i, :, :n, :], ris[i, :, :n]) for i, n in enumerate(self.action_sizes)]

    def joint_mdp(self, reward=None):
        """``(P [S, A, S], r [S, A])``: the joint-action MDP, summed reward by default."""
        if reward is None:
            return self.transition, self.rewards.sum(axis=0)
        r = as_float_array(reward, "reward", 2)
        if r.shape != (self.n_states, self.n_joint_actions):
            raise ValueError(f"reward must have shape ({self.n_states}, "
                             f"{self.n_joint_actions}), got {r.shape}")
        return self.transition, r

    def joint_rewards(self) -> np.ndarray:
        return self.rewards

    def joint_potential(self):
        return self.potential

    def with_rewards(self, rewards, potential=None) -> "MarkovGame":
        return MarkovGame(self.transition, rewards, self.gamma, self.initial,
                          self.action_sizes, potential=potential, name=self.name)

    def to_dense(self) -> "MarkovGame":
        return self

    def step(self, states, actions, rng):
        states, actions, rng = self.check_step(states, actions, rng)
        joint = np.ravel_multi_index(tuple(actions.T), self.action_sizes)
        cdf = np.cumsum(self.transition[states, joint], axis=-1)
        u = rng.random(states.shape)[:, None] * cdf[:, -1:]
        nxt = np.minimum((u >= cdf).sum(axis=-1), self.n_states - 1)
        return nxt, self.rewards[:, states, joint].T


def max_dense_states(n_joint: int) -> int:
    """The largest S whose dense transition (S, A, S) fits :data:`MEMORY_LIMIT_BYTES`."""
    s = int(math.isqrt(int(MEMORY_LIMIT_BYTES // (8 * max(int(n_joint), 1)))))
    while s > 0 and 8.0 * s * s * n_joint > MEMORY_LIMIT_BYTES:
        s -= 1
    return s


def check_dense_size(n_states: int, n_joint: int, what: str) -> None:
    """Refuse, before allocating, a dense game whose transition tensor would not fit,
    saying the largest number of states that fits with these joint actions."""
    largest = max_dense_states(n_joint)
    fits = (f"with {n_joint:g} joint actions at most n_states={largest} fits"
            if largest >= 1 else f"not even one state fits with {n_joint:g} joint actions")
    check_memory(float(n_states) ** 2 * n_joint, f"{what}: the dense transition "
                 f"(S={n_states}, A={n_joint:g}, S)",
                 f"{fits}; or use fairmg.games.FactoredGame")
