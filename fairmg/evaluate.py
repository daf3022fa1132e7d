r"""Exact policy evaluation: values, Q, local advantages and visitation of a product policy.

One :class:`~fairmg.linear.PolicySystem` :math:`I - \gamma P_\pi` per policy gives every
agent's value (:math:`(I - \gamma P_\pi) V^i = r^i_\pi`, all agents, and the potential, as
rows of one right-hand side) and the unnormalized discounted visitation
(:math:`(I - \gamma P_\pi)^\top d_\mu^\pi = \mu`), 002 Section 2. Works on any
:class:`~fairmg.games.base.Game` (dense or factored).
"""
from __future__ import annotations

import numpy as np

from ._validate import check_finite_result, check_game
from .linear import PolicySystem, policy_values

__all__ = ["Evaluation", "evaluate", "check_evaluation", "policy_values", "PolicySystem"]


class Evaluation:
    r"""Exact quantities of a product policy pi in a game (002, Sections 2-3).

    Attributes
    ----------
    values : ndarray (N, S)
        V^i_pi(s).
    local_qs : ndarray (N, S, A_max)
        Q^i_pi(s, a_i) = E_{a_-i ~ pi_-i}[Q^i_pi(s, a_i, a_-i)], zero-padded.
    visitation : ndarray (S,)
        Unnormalized d_mu^pi(s) = sum_t gamma^t Pr(s_t = s); sums to 1 / (1 - gamma).
    potential_values : ndarray (S,) or None
        Phi_pi(s) of Definition 2.2 when the game carries a potential phi.
    q : ndarray (N, S, A)
        Joint Q^i_pi(s, a) = r^i(s, a) + gamma sum_s' P(s'|s, a) V^i_pi(s') (computed on
        first access; dense games, or factored ones whose joint table fits).
    residual : float
        Relative residual of the linear solves (0 for dense LU solves).
    """

    __slots__ = ("game", "policy", "values", "local_qs", "visitation", "potential_values",
                 "residual", "_q")

    def __init__(self, game, policy, values, q, local_qs, visitation, potential_values=None,
                 residual: float = 0.0):
        self.game = game
        self.policy = policy
        self.values = values
        self._q = q
        self.local_qs = local_qs
        self.visitation = visitation
        self.potential_values = potential_values
        self.residual = residual

    @property
    def q(self) -> np.ndarray:
        if self._q is None:
            game = self.game
            if game.is_dense:
                self._q = game.joint_q(self.values)
            else:
                game.check_joint_size("the joint Q table (N, S, A)")
                cont = game.continuation(self.values, self.policy,
                                         tuple(range(game.n_agents)))
                rew = game.reward_marginal(self.policy, tuple(range(game.n_agents)))
                shape = (game.n_agents, game.n_states, game.n_joint_actions)
                self._q = (rew + game.gamma * cont).reshape(shape)
        return self._q

    @property
    def probs(self) -> np.ndarray:
        """The policy's table ``probs[i, s, a_i]``."""
        return self.policy.probs

    @property
    def value_at_initial(self) -> np.ndarray:
        """V^i_pi(mu) for every agent, shape (N,)."""
        return self.values @ self.game.initial

    @property
    def potential_at_initial(self) -> float | None:
        """Phi_pi(mu), or None when the game has no potential."""
        if self.potential_values is None:
            return None
        return float(self.potential_values @ self.game.initial)

    @property
    def local_advantages(self) -> np.ndarray:
        """A^i(s, a_i) = Q^i(s, a_i) - V^i(s) for all agents, zero-padded (N, S, A_max)."""
        adv = self.local_qs - self.values[:, :, None]
        return np.where(self.game.action_mask[:, None, :], adv, 0.0)

    def local_q(self, agent: int) -> np.ndarray:
        """Q^i(s, a_i) of one agent, shape (S, A_i)."""
        i = self.game.check_agent(agent)
        return self.local_qs[i, :, : self.game.action_sizes[i]]

    def local_advantage(self, agent: int) -> np.ndarray:
        """A^i(s, a_i) = E_{a_-i}[Q^i(s, a)] - V^i(s) of one agent (002, Lemma 3.1), (S, A_i)."""
        i = self.game.check_agent(agent)
        return self.local_q(i) - self.values[i][:, None]

    def __repr__(self) -> str:
        v = np.array2string(self.value_at_initial, precision=4)
        return f"Evaluation(value_at_initial={v}, states={self.game.n_states})"


def evaluate(game, policy) -> Evaluation:
    """Evaluate ``policy`` exactly in ``game``.

    Parameters
    ----------
    game : Game
        Dense or factored.
    policy : ProductPolicy
        Must belong to a game of the same shape.

    Returns
    -------
    Evaluation

    Raises
    ------
    FloatingPointError
        If a value overflows float64 (rewards too large for ``1 / (1 - gamma)``).
    """
    check_game(game).check_policy(policy)
    system = game.policy_system(policy)
    r_pi = game.policy_rewards(policy)
    phi_pi = game.policy_potential(policy)
    if phi_pi is not None:
        r_pi = np.vstack([r_pi, phi_pi[None]])
    with np.errstate(over="ignore", invalid="ignore"):
        V = system.solve(r_pi)
        d = system.solve_transposed(game.initial)
    check_finite_result(V, "the policy's values")
    potential = None
    if phi_pi is not None:
        V, potential = V[:-1], V[-1]
    V = np.ascontiguousarray(V)
    local = game.local_q(V, policy)
    return Evaluation(game, policy, V, None, local, d, potential, system.residual)


def check_evaluation(game, policy, evaluation=None) -> Evaluation:
    """``evaluate(game, policy)``, or ``evaluation`` after checking that it is an
    :class:`Evaluation` of ``policy`` in ``game`` (errors name the argument)."""
    check_game(game).check_policy(policy)
    if evaluation is None:
        return evaluate(game, policy)
    if not isinstance(evaluation, Evaluation):
        raise TypeError(f"evaluation must be an Evaluation (fairmg.evaluate(game, policy)), "
                        f"got {type(evaluation).__name__}")
    if evaluation.game is not game:
        raise ValueError(f"evaluation is of another game, {evaluation.game!r} (pass "
                         f"evaluate(game, policy))")
    if evaluation.policy is not policy and not np.array_equal(evaluation.policy.probs,
                                                              policy.probs):
        raise ValueError("evaluation is not of policy (pass evaluate(game, policy))")
    return evaluation
