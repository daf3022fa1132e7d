r"""Product policies and the softmax that makes them from logits.

A product policy :math:`\pi(a|s) = \prod_i \pi^i(a_i|s)` of a game with ``N`` agents,
``S`` states and action sizes ``(A_1, ..., A_N)`` is stored as ``probs[i, s, a_i]``,
zero-padded where agent i has fewer than ``A_max = max(action_sizes)`` actions. Logits
``theta[..., i, s, a_i]`` (any leading batch axes) map to policies by the softmax of
002, Section 3, computed stably by :func:`softmax` / :func:`log_softmax`.
"""
from __future__ import annotations

import numpy as np

from . import kernels
from ._validate import as_float_array, as_index_array, check_distributions, check_game

__all__ = ["ProductPolicy", "softmax", "log_softmax"]


def _mask(mask, theta):
    return np.broadcast_to(np.asarray(mask)[:, None, :], theta.shape[-3:])


def softmax(theta: np.ndarray, mask: np.ndarray) -> np.ndarray:
    r"""Stable softmax over the last axis of ``theta[..., i, s, :]`` restricted to ``mask[i, :]``.

    :math:`\pi^i(a|s) = \exp(\theta_{i,s,a} - m) / \sum_b \exp(\theta_{i,s,b} - m)` with
    :math:`m = \max_b \theta_{i,s,b}`; padded entries (``mask`` False) are 0.
    """
    if type(theta) is np.ndarray and theta.dtype == np.float64 and theta.ndim >= 3:
        mask = np.asarray(mask)
        sizes = mask.sum(axis=-1)
        if mask.ndim == 2 and np.array_equal(mask, np.arange(mask.shape[1]) < sizes[:, None]):
            flat = np.ascontiguousarray(theta).reshape((-1,) + theta.shape[-3:])
            return kernels.masked_softmax(flat, sizes.astype(np.int64)).reshape(theta.shape)
    m = _mask(mask, theta)
    z = np.where(m, theta, -np.inf)
    with np.errstate(over="ignore", under="ignore"):   # theta - max -> -inf: exp gives 0
        z = z - z.max(axis=-1, keepdims=True)
        e = np.where(m, np.exp(z), 0.0)
    return e / e.sum(axis=-1, keepdims=True)


def log_softmax(theta: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """log of :func:`softmax` by a stable log-sum-exp; padded entries are 0."""
    m = _mask(mask, theta)
    z = np.where(m, theta, -np.inf)
    top = z.max(axis=-1, keepdims=True)
    with np.errstate(over="ignore", under="ignore"):
        lse = top + np.log(np.where(m, np.exp(z - top), 0.0).sum(axis=-1, keepdims=True))
        out = theta - lse
    bad = np.argwhere(m & ~np.isfinite(out))
    if bad.size:   # log pi = -inf: a probability underflowed to 0
        idx = tuple(int(v) for v in bad[0])
        raise ValueError(f"theta{list(idx)} gives log-probability {out[idx]} (the spread of "
                         f"the logits exceeds float64; keep |theta| <= 1e300)")
    return np.where(m, out, 0.0)


class ProductPolicy:
    r"""A product policy :math:`\pi(a|s) = \prod_i \pi^i(a_i|s)` of a game.

    Parameters
    ----------
    game : Game
        Any game of :mod:`fairmg.games` (dense or factored).
    probs : array_like, shape (N, S, A_max)
        ``probs[i, s, a_i]`` = pi^i(a_i | s); entries past ``action_sizes[i]`` must be 0.
    """

    def __init__(self, game, probs, *, _checked: bool = False):
        if _checked:
            probs = np.ascontiguousarray(probs, dtype=np.float64)
        else:
            check_game(game)
            probs = as_float_array(probs, "probs", 3)
            shape = (game.n_agents, game.n_states, game.max_actions)
            if probs.shape != shape:
                raise ValueError(f"probs must have shape {shape} (agents, states, max "
                                 f"actions), got {probs.shape}")
            check_distributions(probs, "probs", game.action_mask[:, None, :])
        self.game = game
        self.probs = probs
        self.probs.setflags(write=False)
        self._joint = None

    @classmethod
    def uniform(cls, game) -> "ProductPolicy":
        """Every agent uniform over its own actions in every state."""
        check_game(game)
        mask = game.action_mask.astype(np.float64)
        probs = np.broadcast_to((mask / mask.sum(1, keepdims=True))[:, None, :],
                                (game.n_agents, game.n_states, game.max_actions))
        return cls(game, probs)

    @classmethod
    def from_logits(cls, game, theta) -> "ProductPolicy":
        """Softmax policy pi^i(a|s) = exp(theta[i,s,a]) / sum_b exp(theta[i,s,b]) (002, Sec. 3).

        ``theta`` has shape (N, S, A_max); padded entries are ignored. The softmax is
        computed stably (max subtracted).
        """
        check_game(game)
        theta = as_float_array(theta, "theta", 3, max_magnitude=np.inf)
        shape = (game.n_agents, game.n_states, game.max_actions)
        if theta.shape != shape:
            raise ValueError(f"theta must have shape {shape}, got {theta.shape}")
        return cls(game, softmax(theta, game.action_mask), _checked=True)

    @classmethod
    def deterministic(cls, game, actions) -> "ProductPolicy":
        """Agent i plays ``actions[i, s]`` in state s (shape (N, S), ints)."""
        check_game(game)
        actions = as_index_array(actions, "actions", game.max_actions)
        if actions.shape != (game.n_agents, game.n_states):
            raise ValueError(f"actions must have shape {(game.n_agents, game.n_states)}, "
                             f"got {actions.shape}")
        probs = np.zeros((game.n_agents, game.n_states, game.max_actions))
        for i, n in enumerate(game.action_sizes):
            if np.any(actions[i] >= n):
                s = int(np.argmax(actions[i] >= n))
                raise ValueError(f"actions[{i}, {s}] is {actions[i, s]}, expected in [0, {n})")
            probs[i, np.arange(game.n_states), actions[i]] = 1.0
        return cls(game, probs, _checked=True)

    @classmethod
    def from_joint_actions(cls, game, joint) -> "ProductPolicy":
        """The deterministic product policy playing joint action ``joint[s]`` in state s."""
        check_game(game)
        joint = as_index_array(joint, "joint", game.n_joint_actions)
        if joint.shape != (game.n_states,):
            raise ValueError(f"joint must have shape ({game.n_states},), got {joint.shape}")
        return cls.deterministic(game, np.stack(np.unravel_index(joint, game.action_sizes)))

    def replace(self, agent: int, row) -> "ProductPolicy":
        """This policy with agent ``agent``'s table replaced by ``row`` (shape (S, A_i))."""
        agent = self.game.check_agent(agent)
        row = as_float_array(row, "row", 2)
        n = self.game.action_sizes[agent]
        if row.shape not in ((self.game.n_states, n), (self.game.n_states,
                                                        self.game.max_actions)):
            raise ValueError(f"row must have shape ({self.game.n_states}, {n}) (states, "
                             f"actions of agent {agent}), got {row.shape}")
        extra = np.argwhere(row[:, n:] != 0)
        if extra.size:
            s, a = int(extra[0][0]), n + int(extra[0][1])
            raise ValueError(f"row[{s}, {a}] is {row[s, a]:.6g} but agent {agent} has only "
                             f"{n} actions (padding must be 0)")
        padded = np.zeros((self.game.n_states, self.game.max_actions))
        padded[:, : row.shape[1]] = row
        check_distributions(padded, "row", self.game.action_mask[agent][None, :])
        probs = self.probs.copy()
        probs[agent] = padded
        return ProductPolicy(self.game, probs, _checked=True)

    def mix(self, other: "ProductPolicy", agents) -> "ProductPolicy":
        """Agents in ``agents`` play ``other``'s tables, the rest this policy's.

        The per-agent mixtures of old and new policies of 000 eqs. (6)-(8) and 004 eq. (6).
        """
        self.game.check_policy(other, "other")
        take = np.zeros(self.game.n_agents, dtype=bool)
        for j in self.game.check_agents(agents, "agents", distinct=False):
            take[j] = True
        return ProductPolicy(self.game, np.where(take[:, None, None], other.probs, self.probs),
                             _checked=True)

    def joint_probs(self) -> np.ndarray:
        """pi(a|s) for every joint action, shape (S, A) (computed once, then cached)."""
        if self._joint is None:
            self.game.check_joint_size("the joint policy table (S, A)")
            self._joint = kernels.joint_probs(self.probs, self.game.joint_actions)
            self._joint.setflags(write=False)
        return self._joint

    def __repr__(self) -> str:
        g = self.game
        det = bool(np.all(np.isclose(self.probs.max(-1), 1.0)))
        mask = np.broadcast_to(g.action_mask[:, None, :], self.probs.shape)
        kind = "deterministic" if det else f"min prob {self.probs[mask].min():.3g}"
        return (f"ProductPolicy(agents={g.n_agents}, states={g.n_states}, "
                f"action_sizes={g.action_sizes}, {kind})")
