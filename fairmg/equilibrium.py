r"""Best responses, Nash-gap, social optimum and price of anarchy, all exact.

Every quantity is computed by Howard's policy iteration on a finite MDP
(:func:`solve_mdp`): the MDP one agent faces when the others are fixed
(:meth:`MarkovGame.agent_mdp`), or the joint-action MDP with the summed reward for the
social optimum. Policy iteration terminates finitely; ties are broken deterministically
(keep the incumbent action unless another beats it by more than ``tol``, then the
lowest index), which is also what rules out cycling on round-off.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import kernels
from .evaluate import Evaluation, evaluate
from .model import (MarkovGame, ProductPolicy, _as_float_array, _check_distributions,
                    as_index_array)

__all__ = ["MDPSolution", "BestResponse", "SocialOptimum", "solve_mdp", "best_response",
           "nash_gap", "social_optimum", "price_of_anarchy", "IMPROVE_TOL", "GAP_TOL"]

#: An action replaces the incumbent only if its Q-value is larger by this much
#: (relative to ``max(1, max |V|)``).
IMPROVE_TOL = 1e-12
#: A Nash-gap below ``-GAP_TOL * max(1, |V|)`` would mean the best response lost to the
#: policy itself: a bug, so it raises; above that, round-off is reported as 0.
GAP_TOL = 1e-9


@dataclass(frozen=True)
class MDPSolution:
    """Result of :func:`solve_mdp`.

    Attributes
    ----------
    values : ndarray (S,)
        Optimal values V*(s).
    actions : ndarray (S,) of int
        An optimal deterministic policy.
    q : ndarray (S, B)
        Optimal Q*(s, b).
    iterations : int
        Policy-improvement steps taken.
    converged : bool
        True when no action improved by more than the tolerance.
    residual : float
        Bellman residual max_s |max_b Q*(s, b) - V*(s)| of the returned values.
    """

    values: np.ndarray
    actions: np.ndarray
    q: np.ndarray
    iterations: int
    converged: bool
    residual: float


def solve_mdp(P: np.ndarray, r: np.ndarray, gamma: float, *, init=None,
              max_iter: int = 10_000, tol: float = IMPROVE_TOL) -> MDPSolution:
    r"""Optimal values and a deterministic optimal policy by policy iteration.

    Solves :math:`V^*(s) = \max_b r(s, b) + \gamma \sum_{s'} P(s'|s, b) V^*(s')`.

    Parameters
    ----------
    P : ndarray (S, B, S)
        Transition probabilities.
    r : ndarray (S, B)
        Rewards.
    gamma : float
        Discount in [0, 1).
    init : ndarray (S,) of int, optional
        Initial policy; default greedy after one Bellman backup of ``max_b r(s, b)``.
    max_iter : int
        Cap on improvement steps; reaching it gives ``converged=False`` (never silent).
    tol : float
        Relative improvement threshold (see :data:`IMPROVE_TOL`).

    Returns
    -------
    MDPSolution
    """
    P, r, gamma = _check_mdp(P, r, gamma)
    if not (isinstance(max_iter, (int, np.integer)) and max_iter >= 1):
        raise ValueError(f"max_iter must be an int >= 1, got {max_iter!r}")
    S, B, _ = P.shape
    flat = P.reshape(S * B, S)
    if init is None:
        # greedy after one Bellman backup of max_b r(s, b), as QuantEcon's DiscreteDP
        init = np.argmax(r + gamma * (flat @ r.max(axis=1)).reshape(S, B), axis=1)
    actions = as_index_array(init, "init", B)
    if actions.shape != (S,):
        raise ValueError(f"init must have shape ({S},), got {actions.shape}")
    actions = actions.copy()
    rows = np.arange(S)
    eye = np.eye(S)
    converged = False
    it = 0
    while it < max_iter:
        v = np.linalg.solve(eye - gamma * P[rows, actions], r[rows, actions])
        q = r + gamma * (flat @ v).reshape(S, B)
        it += 1
        scale = max(1.0, float(np.abs(v).max()))
        actions, changed = kernels.greedy_update(q, B, actions, tol * scale)
        if changed == 0:
            converged = True
            break
    residual = float(np.abs(q.max(axis=1) - v).max())
    return MDPSolution(v, actions, q, it, converged, residual)


def _check_mdp(P, r, gamma):
    """An MDP's ``P`` (S, B, S), ``r`` (S, B) and ``gamma``, validated, as float64."""
    try:
        P = np.ascontiguousarray(P, dtype=np.float64)       # no copy of a float64 array
    except (TypeError, ValueError) as exc:
        raise TypeError(f"P must be a numeric array, got {type(P).__name__}") from exc
    if P.ndim != 3:
        raise ValueError(f"P must have 3 dimensions (S, B, S), got shape {P.shape}")
    r = _as_float_array(r, "r", 2)
    S, B, S2 = P.shape
    if S2 != S or S == 0 or B == 0:
        raise ValueError(f"P must have shape (S, B, S) with S, B >= 1, got {P.shape}")
    if r.shape != (S, B):
        raise ValueError(f"r must have shape ({S}, {B}) to match P, got {r.shape}")
    _check_distributions(P, "P")
    try:
        gamma = float(gamma)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"gamma must be a float, got {gamma!r}") from exc
    if not 0.0 <= gamma < 1.0:
        raise ValueError(f"gamma is {gamma}, expected 0 <= gamma < 1")
    return P, r, gamma


def _check_evaluation(game: MarkovGame, policy: ProductPolicy,
                      evaluation: Evaluation | None) -> Evaluation:
    """``evaluate(game, policy)``, or ``evaluation`` after checking it is of ``policy``."""
    game.check_policy(policy)
    if evaluation is None:
        return evaluate(game, policy)
    if evaluation.policy is not policy and not np.array_equal(evaluation.policy.probs,
                                                              policy.probs):
        raise ValueError("evaluation is not of policy (pass evaluate(game, policy))")
    return evaluation


@dataclass(frozen=True)
class BestResponse:
    """A best response of one agent; unpacks as ``values, row``.

    Attributes
    ----------
    values : ndarray (S,)
        max over the agent's policies of V^i(s) with the others fixed.
    row : ndarray (S, A_max)
        The deterministic best response as agent i's row of ``probs`` (one-hot).
    policy : ProductPolicy
        The input policy with agent i's row replaced by ``row``.
    value_at_initial : float
        ``values @ mu``.
    iterations, converged, residual
        As in :class:`MDPSolution`.
    """

    values: np.ndarray
    row: np.ndarray
    policy: ProductPolicy
    value_at_initial: float
    iterations: int
    converged: bool
    residual: float

    def __iter__(self):
        return iter((self.values, self.row))


def best_response(game: MarkovGame, policy: ProductPolicy, agent: int, *, init=None,
                  tol: float = IMPROVE_TOL) -> BestResponse:
    r"""Exact best response of ``agent`` to the others' policies (002, Definition 2.4).

    Solves the MDP :meth:`MarkovGame.agent_mdp` by :func:`solve_mdp`.
    ``init`` (S,) warm-starts policy iteration; it does not change the result's values.
    Raises ``RuntimeError`` if policy iteration does not converge.
    """
    agent = game._check_agent(agent)
    P_i, r_i = game.agent_mdp(policy, agent)
    sol = solve_mdp(P_i, r_i, game.gamma, init=init, tol=tol)
    if not sol.converged:
        raise RuntimeError(f"policy iteration for agent {agent}'s best response did not "
                           f"converge in {sol.iterations} steps (residual {sol.residual:.3g})")
    row = np.zeros((game.n_states, game.max_actions))
    row[np.arange(game.n_states), sol.actions] = 1.0
    return BestResponse(sol.values, row, policy.replace(agent, row),
                        float(sol.values @ game.initial), sol.iterations, sol.converged,
                        sol.residual)


def nash_gap(game: MarkovGame, policy: ProductPolicy, *, per_agent: bool = False,
             evaluation: Evaluation | None = None):
    r"""Nash-gap of ``policy`` (002, Definition 2.4).

    .. math:: \text{Nash-gap}(\pi) = \max_i \big(\max_{\bar\pi^i} V^i_{\bar\pi^i, \pi^{-i}}(\mu)
              - V^i_\pi(\mu)\big)

    Parameters
    ----------
    per_agent : bool
        Return the gap of every agent, shape (N,), instead of the max.
    evaluation : Evaluation, optional
        ``evaluate(game, policy)`` if already computed (saves one evaluation).
    """
    ev = _check_evaluation(game, policy, evaluation)
    current = ev.value_at_initial
    gaps = np.empty(game.n_agents)
    for i in range(game.n_agents):
        init = np.argmax(ev.local_q(i), axis=1).astype(np.int64)
        # best_response's values, in one compiled call (no ProductPolicy built per agent)
        value, iterations, converged = kernels.best_response_value(
            game.transition, game.rewards[i], policy.probs, game.joint_actions, i,
            game.max_actions, game.action_sizes[i], game.gamma, game.initial, init,
            IMPROVE_TOL, 10_000)
        if not converged:
            raise RuntimeError(f"policy iteration for agent {i}'s best response did not "
                               f"converge in {iterations} steps")
        gap = value - current[i]
        floor = GAP_TOL * max(1.0, abs(current[i]))
        if gap < -floor:
            raise RuntimeError(f"agent {i}'s best response is worse than its policy by "
                               f"{-gap:.3g}: a numerical failure")
        gaps[i] = max(gap, 0.0)
    return gaps if per_agent else float(gaps.max())


@dataclass(frozen=True)
class SocialOptimum:
    """The social optimum; unpacks as ``value, policy``.

    ``value`` = max over policies of sum_i V^i(mu), attained by the deterministic
    ``policy``; ``values`` (S,) is the optimal summed value per state.
    """

    value: float
    policy: ProductPolicy
    values: np.ndarray
    iterations: int
    converged: bool
    residual: float

    def __iter__(self):
        return iter((self.value, self.policy))


def social_optimum(game: MarkovGame) -> SocialOptimum:
    r"""max over product policies of :math:`\sum_i V^i_\pi(\mu)` (002, Section 4).

    A deterministic joint policy attains the maximum of the joint-action MDP with the
    summed reward, and a deterministic joint policy is a product policy, so this is
    the optimum over product policies too. Cached on the game.
    """
    cached = getattr(game, "_social_optimum", None)
    if cached is not None:
        return cached
    sol = solve_mdp(game.transition, game.rewards.sum(axis=0), game.gamma)
    if not sol.converged:
        raise RuntimeError(f"policy iteration for the social optimum did not converge in "
                           f"{sol.iterations} steps (residual {sol.residual:.3g})")
    policy = ProductPolicy.from_joint_actions(game, sol.actions)
    result = SocialOptimum(float(sol.values @ game.initial), policy, sol.values,
                           sol.iterations, sol.converged, sol.residual)
    game._social_optimum = result
    return result


def price_of_anarchy(game: MarkovGame, policy: ProductPolicy, *,
                     evaluation: Evaluation | None = None) -> float:
    r"""POA of ``policy``: :math:`\sum_i V^i_\pi(\mu) / \max_{\pi'} \sum_i V^i_{\pi'}(\mu)`.

    002, Definition 4.1 (the ratio for one policy; the paper's POA is its worst case
    over Nash policies). Raises ``ValueError`` when the social optimum is not positive,
    where the ratio has no meaning.
    """
    opt = social_optimum(game).value
    if not opt > 0:
        raise ValueError(f"the social optimum of {game!r} is {opt:.6g}; the price of anarchy "
                         f"needs a positive optimum (shift the rewards to be positive)")
    ev = _check_evaluation(game, policy, evaluation)
    return float(ev.value_at_initial.sum() / opt)
