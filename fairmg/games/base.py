r"""The :class:`Game` interface that every solver, dynamic and checker goes through.

A finite discounted Markov game :math:`\langle N, S, A, P, r, \gamma, \mu\rangle` (002,
Section 2) is reached only through these methods, so that a dense game (a joint tensor
``P[s, a, s']``), a factored game (per-agent local transitions, no joint tensor) and,
later, a batched environment are interchangeable:

===========================  ============================================================
``n_agents, n_states``       sizes; ``action_sizes`` ``(A_1, ..., A_N)``; ``gamma``; ``initial`` mu
``policy_system(pi)``        :math:`I - \gamma P_\pi` with ``solve`` / ``solve_transposed``
``policy_transition(pi)``    :math:`P_\pi[s, s']` as a dense array (where it fits)
``policy_rewards(pi)``       :math:`r^i_\pi(s) = \sum_a \pi(a|s) r^i(s, a)`, shape (N, S)
``policy_potential(pi)``     :math:`\phi_\pi(s)` when the game carries a potential, else None
``continuation(V, pi, keep)``  :math:`E_{a_{-K}\sim\pi_{-K}}[\sum_{s'} P(s'|s,a) V_k(s')]`
``reward_marginal(pi, keep)``  :math:`E_{a_{-K}\sim\pi_{-K}}[r^i(s, a)]`
``agent_mdp(pi, i)``         the MDP agent i faces when the others play pi (dense arrays)
``to_dense()``               a :class:`~fairmg.games.dense.MarkovGame` with the same numbers
``step(s, a, rng)``          sample next states (the sampled mode)
===========================  ============================================================

``keep`` is a tuple of agent indices K; the marginals return arrays of shape
``(K_values, S, A_{k_1}, ..., A_{k_m})`` with one axis per kept agent, in the order given.
Joint actions are ``ravel_multi_index((a_1, ..., a_N), action_sizes)`` (C order, agent 0
most significant).
"""
from __future__ import annotations

import abc
from functools import cached_property

import numpy as np

from .._validate import as_float_array, as_index_array, as_rng, check_int, check_memory

__all__ = ["Game"]


class Game(abc.ABC):
    """Abstract finite Markov game; see the module docstring for the protocol."""

    #: True when the game holds a dense joint transition ``P[s, a, s']``.
    is_dense: bool = False
    action_sizes: tuple[int, ...]
    gamma: float
    initial: np.ndarray
    name: str | None = None

    # -- sizes ------------------------------------------------------------------------
    @property
    @abc.abstractmethod
    def n_agents(self) -> int: ...

    @property
    @abc.abstractmethod
    def n_states(self) -> int: ...

    @property
    def n_joint_actions(self) -> int:
        return int(np.prod(self.action_sizes, dtype=np.float64))

    @property
    def max_actions(self) -> int:
        return max(self.action_sizes)

    @cached_property
    def action_mask(self) -> np.ndarray:
        """``mask[i, a_i]`` is True where agent i has action ``a_i`` (shape (N, A_max))."""
        mask = np.arange(self.max_actions)[None, :] < np.array(self.action_sizes)[:, None]
        mask.setflags(write=False)
        return mask

    @cached_property
    def joint_actions(self) -> np.ndarray:
        """``joint_actions[a, i]`` is agent i's action in joint action a, shape (A, N)."""
        check_memory(self.n_joint_actions * self.n_agents, "the joint-action index table")
        ja = np.stack(np.unravel_index(np.arange(self.n_joint_actions), self.action_sizes),
                      axis=1).astype(np.int64)
        ja.setflags(write=False)
        return np.ascontiguousarray(ja)

    def check_joint_size(self, what: str) -> None:
        """Refuse a (S, A) joint-action table that would not fit in memory."""
        check_memory(float(self.n_states) * self.n_joint_actions, what,
                     "use the per-agent marginals (game.continuation / reward_marginal)")

    @property
    def has_potential(self) -> bool:
        """True when the game carries a potential phi (002 Definition 2.2)."""
        return getattr(self, "potential", None) is not None

    def _repr_fields(self) -> str:
        """The ``name=value`` fields of ``repr`` beyond agents, states, actions and gamma."""
        return ""

    def __repr__(self) -> str:
        name = f"{self.name!r}, " if self.name else ""
        pot = ", potential" if self.has_potential else ""
        return (f"{type(self).__name__}({name}agents={self.n_agents}, states={self.n_states}"
                f"{self._repr_fields()}, action_sizes={self.action_sizes}, "
                f"gamma={self.gamma}{pot})")

    @property
    def max_abs_reward(self) -> float:
        """max over agents, states and actions of |r^i(s, a)|."""
        return float(np.abs(self.rewards).max())

    # -- the protocol -----------------------------------------------------------------
    @abc.abstractmethod
    def policy_system(self, policy, *, matrix_free: bool | None = None):
        """The linear system :math:`I - \\gamma P_\\pi` of ``policy`` (a
        :class:`~fairmg.linear.PolicySystem`); ``matrix_free`` asks for a Krylov solve
        (None: the game decides; dense games always solve densely)."""

    def policy_transition(self, policy) -> np.ndarray:
        """P_pi[s, s'] = sum_a pi(a|s) P(s'|s, a), shape (S, S)."""
        return self.policy_system(policy).transition()

    @abc.abstractmethod
    def policy_rewards(self, policy) -> np.ndarray:
        """r_pi[i, s] = sum_a pi(a|s) r^i(s, a), shape (N, S)."""

    def policy_potential(self, policy) -> np.ndarray | None:
        """phi_pi(s) = sum_a pi(a|s) phi(s, a), or None when the game carries no potential."""
        return None

    @abc.abstractmethod
    def continuation(self, values, policy, keep=()) -> np.ndarray:
        r""":math:`E_{a_{-K} \sim \pi_{-K}(\cdot|s)}\big[\sum_{s'} P(s'|s, a) V_k(s')\big]`.

        ``values`` has shape (K, S); the result (K, S, A_{keep_1}, ...).
        """

    @abc.abstractmethod
    def reward_marginal(self, policy, keep=()) -> np.ndarray:
        r""":math:`E_{a_{-K} \sim \pi_{-K}(\cdot|s)}[r^i(s, a)]`, shape (N, S, A_{keep_1}, ...)."""

    def local_q(self, values, policy) -> np.ndarray:
        """Every agent's local Q (002, Lemma 3.1) from its value row, (N, S, A_max)."""
        from ..marginals import local_q
        return local_q(self, policy, values)

    def potential_marginal(self, policy, keep=()) -> np.ndarray | None:
        """As :meth:`reward_marginal` for the potential phi (shape (S, ...)), or None."""
        return None

    @abc.abstractmethod
    def agent_mdp(self, policy, agent: int, reward=None):
        """``(P_i [S, A_i, S], r_i [S, A_i])``: the MDP of ``agent`` with the others fixed."""

    def agent_mdps(self, policy) -> list:
        """``[(P_i, r_i) for every agent i]``: :meth:`agent_mdp` of each agent with its own
        reward (dense games build them all in one compiled pass)."""
        return [self.agent_mdp(policy, i) for i in range(self.n_agents)]

    @abc.abstractmethod
    def to_dense(self):
        """The same game as a dense :class:`~fairmg.games.dense.MarkovGame` (where it fits)."""

    @abc.abstractmethod
    def step(self, states, actions, rng):
        """Sample ``s' ~ P(.|s, a)`` for index arrays ``states`` [B] and ``actions`` [B, N].

        Returns ``(next_states [B], rewards [B, N])``.
        """

    # -- joint-action tables (where S x A fits) -----------------------------------------
    def joint_rewards(self) -> np.ndarray:
        """r^i(s, a) on joint actions, shape (N, S, A)."""
        from ..policy import ProductPolicy
        self.check_joint_size("the joint reward table (N, S, A)")
        everyone = tuple(range(self.n_agents))
        table = self.reward_marginal(ProductPolicy.uniform(self), everyone)
        return table.reshape(self.n_agents, self.n_states, self.n_joint_actions)

    def joint_potential(self) -> np.ndarray | None:
        """phi(s, a) on joint actions (S, A), or None."""
        from ..policy import ProductPolicy
        if not self.has_potential:
            return None
        everyone = tuple(range(self.n_agents))
        table = self.potential_marginal(ProductPolicy.uniform(self), everyone)
        return table.reshape(self.n_states, self.n_joint_actions)

    def joint_continuation(self, values) -> np.ndarray:
        """sum_s' P(s'|s, a) V_k(s') for every joint action, shape (K, S, A)."""
        from ..policy import ProductPolicy
        V = self.check_values(values)
        self.check_joint_size("the joint continuation table (K, S, A)")
        everyone = tuple(range(self.n_agents))
        out = self.continuation(V, ProductPolicy.uniform(self), everyone)
        return out.reshape(V.shape[0], self.n_states, self.n_joint_actions)

    def joint_mdp(self, reward=None):
        """``(P [S, A, S], r [S, A])``: the joint-action MDP (summed reward by default) as
        dense arrays, where they fit."""
        dense = self.to_dense()
        return dense.joint_mdp(reward)

    @abc.abstractmethod
    def with_rewards(self, rewards, potential=None):
        """The same game with other rewards (and potential), in this game's reward format."""

    # -- checks -----------------------------------------------------------------------
    def check_policy(self, policy, name: str = "policy"):
        """``policy`` if it is a :class:`~fairmg.policy.ProductPolicy` that fits this game
        (else an error naming ``name``)."""
        from ..policy import ProductPolicy
        if not isinstance(policy, ProductPolicy):
            raise TypeError(f"{name} must be a ProductPolicy, got {type(policy).__name__}")
        if policy.game is not self and (
                policy.probs.shape != (self.n_agents, self.n_states, self.max_actions)
                or tuple(policy.game.action_sizes) != tuple(self.action_sizes)):
            raise ValueError(f"{name} has shape {policy.probs.shape} and action sizes "
                             f"{policy.game.action_sizes}, which do not fit {self!r}")
        return policy

    def check_agent(self, agent, name: str = "agent") -> int:
        """``agent`` as an int in [0, N) (bools refused)."""
        return check_int(agent, name, low=0, high=self.n_agents - 1)

    _check_agent = check_agent   # v1 name

    def check_agents(self, agents, name: str = "agents", *, distinct: bool = True
                     ) -> tuple[int, ...]:
        """``agents`` (a sequence of agent indices, or one int) as a tuple of ints in
        [0, N), distinct unless ``distinct=False``; errors name ``name[j]``."""
        if isinstance(agents, (int, np.integer)) and not isinstance(agents, (bool, np.bool_)):
            agents = (agents,)
        if isinstance(agents, np.ndarray):
            if agents.ndim != 1:
                raise ValueError(f"{name} must be a flat sequence of agent indices, got an "
                                 f"array of shape {agents.shape}")
            agents = agents.tolist()
        if isinstance(agents, (str, bytes, dict, set, frozenset)) or not isinstance(
                agents, (list, tuple, range)):
            raise TypeError(f"{name} must be a sequence of agent indices (ints in "
                            f"[0, {self.n_agents - 1}]), got {agents!r}")
        out = tuple(check_int(k, f"{name}[{j}]", low=0, high=self.n_agents - 1)
                    for j, k in enumerate(agents))
        if distinct and len(set(out)) != len(out):
            raise ValueError(f"{name} has repeated agents: {out}")
        return out

    def check_keep(self, keep, name: str = "keep") -> tuple[int, ...]:
        """``keep`` as a tuple of distinct agent indices."""
        return self.check_agents(keep, name)

    def check_step(self, states, actions, rng):
        """``(states [B], actions [B, N], rng)`` of :meth:`step`, validated: states in
        [0, S), ``actions[b, i]`` in [0, A_i), a Generator or an int seed."""
        states = as_index_array(states, "states", self.n_states)
        if states.ndim != 1:
            raise ValueError(f"states must have shape (B,), got {states.shape}")
        actions = as_index_array(actions, "actions", self.max_actions)
        if actions.shape != (states.shape[0], self.n_agents):
            raise ValueError(f"actions must have shape ({states.shape[0]}, {self.n_agents}) "
                             f"(one joint action per entry of states, shape "
                             f"{states.shape}), got {actions.shape}")
        for i, n in enumerate(self.action_sizes):
            bad = np.flatnonzero(actions[:, i] >= n)
            if bad.size:
                b = int(bad[0])
                raise ValueError(f"actions[{b}, {i}] is {actions[b, i]}, expected in [0, {n})")
        return states, actions, as_rng(rng)

    def check_values(self, values, name: str = "values") -> np.ndarray:
        """``values`` as a float64 array (K, S) of finite numbers."""
        # values reach r_max / (1 - gamma) <= 1e150 * 2**53: a wider cap than rewards'
        v = as_float_array(values, name, max_magnitude=1e300)
        if v.ndim == 1:
            v = v[None]
        if v.ndim != 2 or v.shape[1] != self.n_states or v.shape[0] == 0:
            raise ValueError(f"{name} must have shape (K, {self.n_states}) with K >= 1, got "
                             f"{np.shape(values)}")
        return np.ascontiguousarray(v)
