"""Markov games and product policies: the plain data every solver works on.

Conventions (002, Section 2): ``P[s, a, s']`` with the joint action
``a = ravel_multi_index((a_1, ..., a_N), action_sizes)`` (C order, agent 0 most
significant), per-agent rewards ``R[i, s, a]``, discount ``gamma`` in [0, 1), initial
distribution ``mu``. A product policy ``pi(a|s) = prod_i pi^i(a_i|s)`` is stored as
``probs[i, s, a_i]``, zero-padded where agent i has fewer than ``max(action_sizes)``
actions.
"""
from __future__ import annotations

import numpy as np

from . import kernels

__all__ = ["MarkovGame", "ProductPolicy", "STOCHASTIC_TOL"]

#: Largest allowed deviation of a probability row's sum from 1.
STOCHASTIC_TOL = 1e-9


def check_scalar(value, name: str, *, positive: bool = False) -> float:
    """``value`` as a finite float that is >= 0 (> 0 with ``positive``), else raise.

    Raises ``TypeError`` for a non-number and ``ValueError`` naming ``name`` otherwise.
    """
    try:
        v = float(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a float, got {value!r}") from exc
    if not (np.isfinite(v) and (v > 0 if positive else v >= 0)):
        raise ValueError(f"{name} is {value!r}, expected a finite number "
                         f"{'> 0' if positive else '>= 0'}")
    return v


def _as_float_array(x, name: str, ndim: int) -> np.ndarray:
    try:
        arr = np.array(x, dtype=np.float64, order="C")
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a numeric array, got {type(x).__name__}") from exc
    if arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {arr.shape}")
    bad = np.argwhere(~np.isfinite(arr))
    if bad.size:
        idx = tuple(int(v) for v in bad[0])
        raise ValueError(f"{name}{list(idx)} is {arr[idx]}, expected a finite number")
    return arr


def as_action_sizes(action_sizes, name: str = "action_sizes") -> tuple[int, ...]:
    """``action_sizes`` as a tuple of ints >= 1; non-integral entries raise."""
    arr = np.atleast_1d(np.asarray(action_sizes))
    if arr.ndim != 1 or arr.size == 0 or not np.issubdtype(arr.dtype, np.number):
        raise ValueError(f"{name} must be a non-empty sequence of ints, got {action_sizes!r}")
    for i, a in enumerate(arr):
        if not (a == int(a) and a >= 1):
            raise ValueError(f"{name}[{i}] is {a.item()!r}, expected an int >= 1")
    return tuple(int(a) for a in arr)


def as_index_array(x, name: str, upper: int) -> np.ndarray:
    """``x`` as an int64 array with entries in [0, upper); floats and bad entries raise."""
    arr = np.asarray(x)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must hold ints, got dtype {arr.dtype}")
    bad = np.argwhere((arr < 0) | (arr >= upper))
    if bad.size:
        idx = tuple(int(v) for v in bad[0])
        raise ValueError(f"{name}{list(idx)} is {arr[idx]}, expected in [0, {upper})")
    return arr.astype(np.int64)


def _check_distributions(arr: np.ndarray, name: str, mask: np.ndarray | None = None) -> None:
    """Raise unless every row ``arr[..., :]`` (restricted to ``mask``) is a distribution."""
    rows = np.ascontiguousarray(arr).reshape(-1, arr.shape[-1])
    if (kernels.rows_are_distributions(rows, STOCHASTIC_TOL)
            and (mask is None or not np.any((arr != 0) & ~mask))):
        return  # valid: skip the slower search for the offending index below
    bad = np.argwhere(~np.isfinite(arr))
    if bad.size:
        idx = tuple(int(v) for v in bad[0])
        raise ValueError(f"{name}{list(idx)} is {arr[idx]}, expected a finite number")
    neg = np.argwhere(arr < 0)
    if neg.size:
        idx = tuple(int(v) for v in neg[0])
        raise ValueError(f"{name}{list(idx)} is {arr[idx]:.6g}, expected >= 0")
    sums = arr.sum(axis=-1)
    if arr.ndim == 1:
        if abs(sums - 1.0) > STOCHASTIC_TOL:
            raise ValueError(f"{name} sums to {sums:.12g}, expected 1")
        return
    bad = np.argwhere(np.abs(sums - 1.0) > STOCHASTIC_TOL)
    if bad.size:
        idx = tuple(int(v) for v in bad[0])
        raise ValueError(
            f"{name}[{', '.join(map(str, idx))}, :] sums to {sums[idx]:.12g}, expected 1")
    if mask is not None:
        off = np.argwhere((arr != 0) & ~mask)
        if off.size:
            idx = tuple(int(v) for v in off[0])
            raise ValueError(f"{name}{list(idx)} is {arr[idx]:.6g} but that action does not "
                             f"exist (padding must be 0)")


class MarkovGame:
    r"""A finite discounted Markov game :math:`\langle N, S, A, P, r, \gamma, \mu \rangle`.

    Parameters
    ----------
    transition : array_like, shape (S, A, S)
        ``transition[s, a, s']`` = P(s' | s, a) for joint action index ``a``.
    rewards : array_like, shape (N, S, A)
        ``rewards[i, s, a]`` = r^i(s, a).
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
    Every algorithm reaches the game through :meth:`policy_transition`,
    :meth:`policy_rewards` and :meth:`agent_mdp`, so that a factored game can later
    implement these without a dense joint tensor.
    """

    def __init__(self, transition, rewards, gamma, initial=None, action_sizes=None,
                 potential=None, name: str | None = None):
        P = _as_float_array(transition, "transition", 3)
        R = _as_float_array(rewards, "rewards", 3)
        S, A, S2 = P.shape
        if S2 != S or S == 0 or A == 0:
            raise ValueError(f"transition must have shape (S, A, S) with S, A >= 1, "
                             f"got {P.shape}")
        if R.shape[1:] != (S, A):
            raise ValueError(f"rewards must have shape (N, {S}, {A}) to match transition "
                             f"{P.shape}, got {R.shape}")
        N = R.shape[0]
        if N == 0:
            raise ValueError("rewards must describe at least one agent, got shape "
                             f"{R.shape}")
        _check_distributions(P, "transition")
        if action_sizes is None:
            if N != 1:
                raise ValueError(f"action_sizes is required for {N} agents")
            action_sizes = (A,)
        sizes = as_action_sizes(action_sizes)
        if len(sizes) != N:
            raise ValueError(f"action_sizes has {len(sizes)} entries but rewards has {N} "
                             f"agents")
        if int(np.prod(sizes)) != A:
            raise ValueError(f"action_sizes {sizes} give {int(np.prod(sizes))} joint actions "
                             f"but transition has {A}")
        try:
            gamma = float(gamma)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"gamma must be a float, got {gamma!r}") from exc
        if not 0.0 <= gamma < 1.0:
            raise ValueError(f"gamma is {gamma}, expected 0 <= gamma < 1")
        if initial is None:
            mu = np.full(S, 1.0 / S)
        else:
            mu = _as_float_array(initial, "initial", 1)
            if mu.shape != (S,):
                raise ValueError(f"initial must have shape ({S},), got {mu.shape}")
            _check_distributions(mu, "initial")
        if potential is not None:
            potential = _as_float_array(potential, "potential", 2)
            if potential.shape != (S, A):
                raise ValueError(f"potential must have shape ({S}, {A}), got "
                                 f"{potential.shape}")
        self.transition = P
        self.rewards = R
        self.gamma = gamma
        self.initial = mu
        self.action_sizes = sizes
        self.potential = potential
        self.name = name
        #: ``joint_actions[a, i]`` is agent i's action in joint action a.
        self.joint_actions = np.ascontiguousarray(
            np.stack(np.unravel_index(np.arange(A), sizes), axis=1).astype(np.int64))
        for arr in (self.transition, self.rewards, self.initial, self.joint_actions,
                    self.potential):
            if arr is not None:
                arr.setflags(write=False)

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

    @property
    def max_actions(self) -> int:
        return max(self.action_sizes)

    @property
    def action_mask(self) -> np.ndarray:
        """``mask[i, a_i]`` is True where agent i has action ``a_i`` (shape (N, A_max))."""
        return np.arange(self.max_actions)[None, :] < np.array(self.action_sizes)[:, None]

    def __repr__(self) -> str:
        name = f"{self.name!r}, " if self.name else ""
        pot = ", potential" if self.potential is not None else ""
        return (f"MarkovGame({name}agents={self.n_agents}, states={self.n_states}, "
                f"action_sizes={self.action_sizes}, gamma={self.gamma}{pot})")

    # -- what the algorithms use ---------------------------------------------------------
    def policy_transition(self, policy: "ProductPolicy") -> np.ndarray:
        """P_pi[s, s'] = sum_a pi(a|s) P(s'|s, a), shape (S, S)."""
        pij = self.check_policy(policy).joint_probs()
        return kernels.policy_transition(self.transition, pij)

    def policy_rewards(self, policy: "ProductPolicy") -> np.ndarray:
        """r_pi[i, s] = sum_a pi(a|s) r^i(s, a), shape (N, S)."""
        pij = self.check_policy(policy).joint_probs()
        return kernels.policy_rewards(self.rewards, pij)

    def agent_mdp(self, policy: "ProductPolicy", agent: int,
                  reward: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """The MDP agent ``agent`` faces when the others play ``policy``.

        Returns ``(P_i, r_i)`` with ``P_i[s, a_i, s'] = E_{a_-i ~ pi_-i}[P(s'|s, a)]`` and
        ``r_i[s, a_i] = E_{a_-i ~ pi_-i}[r(s, a)]`` of shapes (S, A_i, S) and (S, A_i);
        ``reward`` (shape (S, A)) replaces the agent's own reward if given.
        """
        agent = self._check_agent(agent)
        self.check_policy(policy)
        if reward is None:
            r = self.rewards[agent]
        else:
            r = _as_float_array(reward, "reward", 2)
            if r.shape != (self.n_states, self.n_joint_actions):
                raise ValueError(f"reward must have shape ({self.n_states}, "
                                 f"{self.n_joint_actions}), got {r.shape}")
        Pi, ri = kernels.agent_mdp(self.transition, r, policy.probs, self.joint_actions,
                                   agent, self.max_actions)
        n = self.action_sizes[agent]
        return Pi[:, :n, :], ri[:, :n]

    def check_policy(self, policy) -> "ProductPolicy":
        """``policy`` if it is a :class:`ProductPolicy` that fits this game, else raise."""
        if not isinstance(policy, ProductPolicy):
            raise TypeError(f"policy must be a ProductPolicy, got {type(policy).__name__}")
        if policy.game is not self and (
                policy.probs.shape != (self.n_agents, self.n_states, self.max_actions)
                or policy.game.action_sizes != self.action_sizes):
            raise ValueError(f"policy has shape {policy.probs.shape} and action sizes "
                             f"{policy.game.action_sizes}, which do not fit {self!r}")
        return policy

    def _check_agent(self, agent) -> int:
        if not (isinstance(agent, (int, np.integer)) and 0 <= agent < self.n_agents):
            raise ValueError(f"agent must be an int in [0, {self.n_agents}), got {agent!r}")
        return int(agent)


class ProductPolicy:
    r"""A product policy :math:`\pi(a|s) = \prod_i \pi^i(a_i|s)` of a :class:`MarkovGame`.

    Parameters
    ----------
    game : MarkovGame
    probs : array_like, shape (N, S, A_max)
        ``probs[i, s, a_i]`` = pi^i(a_i | s); entries past ``action_sizes[i]`` must be 0.
    """

    def __init__(self, game: MarkovGame, probs):
        probs = _as_float_array(probs, "probs", 3)
        shape = (game.n_agents, game.n_states, game.max_actions)
        if probs.shape != shape:
            raise ValueError(f"probs must have shape {shape} (agents, states, max actions), "
                             f"got {probs.shape}")
        _check_distributions(probs, "probs", game.action_mask[:, None, :])
        self.game = game
        self.probs = probs
        self.probs.setflags(write=False)
        self._joint = None

    @classmethod
    def uniform(cls, game: MarkovGame) -> "ProductPolicy":
        """Every agent uniform over its own actions in every state."""
        mask = game.action_mask.astype(np.float64)
        probs = np.broadcast_to((mask / mask.sum(1, keepdims=True))[:, None, :],
                                (game.n_agents, game.n_states, game.max_actions))
        return cls(game, probs)

    @classmethod
    def from_logits(cls, game: MarkovGame, theta) -> "ProductPolicy":
        """Softmax policy pi^i(a|s) = exp(theta[i,s,a]) / sum_b exp(theta[i,s,b]) (002, Sec. 3).

        ``theta`` has shape (N, S, A_max); padded entries are ignored. The softmax is
        computed stably (max subtracted).
        """
        theta = _as_float_array(theta, "theta", 3)
        shape = (game.n_agents, game.n_states, game.max_actions)
        if theta.shape != shape:
            raise ValueError(f"theta must have shape {shape}, got {theta.shape}")
        return cls(game, softmax(theta, game.action_mask))

    @classmethod
    def deterministic(cls, game: MarkovGame, actions) -> "ProductPolicy":
        """Agent i plays ``actions[i, s]`` in state s (shape (N, S), ints)."""
        actions = np.asarray(actions)
        if actions.shape != (game.n_agents, game.n_states):
            raise ValueError(f"actions must have shape {(game.n_agents, game.n_states)}, "
                             f"got {actions.shape}")
        probs = np.zeros((game.n_agents, game.n_states, game.max_actions))
        actions = as_index_array(actions, "actions", game.max_actions)
        for i, n in enumerate(game.action_sizes):
            if np.any(actions[i] >= n):
                s = int(np.argmax(actions[i] >= n))
                raise ValueError(f"actions[{i}, {s}] is {actions[i, s]}, expected in [0, {n})")
            probs[i, np.arange(game.n_states), actions[i]] = 1.0
        return cls(game, probs)

    @classmethod
    def from_joint_actions(cls, game: MarkovGame, joint) -> "ProductPolicy":
        """The deterministic product policy playing joint action ``joint[s]`` in state s."""
        joint = as_index_array(joint, "joint", game.n_joint_actions)
        if joint.shape != (game.n_states,):
            raise ValueError(f"joint must have shape ({game.n_states},), got {joint.shape}")
        return cls.deterministic(game, game.joint_actions[joint].T)

    def replace(self, agent: int, row) -> "ProductPolicy":
        """This policy with agent ``agent``'s table replaced by ``row`` (shape (S, A_i))."""
        agent = self.game._check_agent(agent)
        row = np.asarray(row, dtype=np.float64)
        n = self.game.action_sizes[agent]
        if row.shape not in ((self.game.n_states, n), (self.game.n_states,
                                                        self.game.max_actions)):
            raise ValueError(f"row must have shape ({self.game.n_states}, {n}), got "
                             f"{row.shape}")
        probs = self.probs.copy()
        probs[agent] = 0.0
        probs[agent, :, : row.shape[1]] = row
        return ProductPolicy(self.game, probs)

    def joint_probs(self) -> np.ndarray:
        """pi(a|s) for every joint action, shape (S, A) (computed once, then cached)."""
        if self._joint is None:
            self._joint = kernels.joint_probs(self.probs, self.game.joint_actions)
            self._joint.setflags(write=False)
        return self._joint

    def __repr__(self) -> str:
        g = self.game
        det = bool(np.all(np.isclose(self.probs.max(-1), 1.0)))
        kind = "deterministic" if det else f"min prob {self.probs[g.action_mask[:, None, :].repeat(g.n_states, 1)].min():.3g}"
        return (f"ProductPolicy(agents={g.n_agents}, states={g.n_states}, "
                f"action_sizes={g.action_sizes}, {kind})")


def softmax(theta: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Stable softmax over the last axis of ``theta[i, s, :]`` restricted to ``mask[i, :]``."""
    m = mask[:, None, :]
    z = np.where(m, theta, -np.inf)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.where(m, np.exp(z), 0.0)
    return e / e.sum(axis=-1, keepdims=True)
