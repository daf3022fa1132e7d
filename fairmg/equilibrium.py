r"""Best responses, Nash-gap, social optimum and price of anarchy, all exact.

Every quantity is computed by Howard's policy iteration (:func:`howard`, written once) on a
finite MDP: the MDP one agent faces when the others are fixed, or the joint-action MDP with
the summed reward for the social optimum. For dense games the MDP is built
(:meth:`MarkovGame.agent_mdp`); for factored games policy iteration runs matrix-free through
the game protocol (evaluation by :class:`~fairmg.linear.PolicySystem`, improvement by the
marginal :meth:`~fairmg.games.base.Game.continuation`). Policy iteration terminates
finitely; ties are broken deterministically (keep the incumbent action unless another beats
it by more than ``tol``, then the lowest index), which is also what rules out cycling on
round-off.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from . import kernels
from ._validate import (as_float_array, as_index_array, check_bool, check_distributions,
                        check_game, check_gamma, check_int, check_scalar)
from .evaluate import Evaluation, check_evaluation
from .policy import ProductPolicy

__all__ = ["MDPSolution", "BestResponse", "SocialOptimum", "solve_mdp", "howard",
           "best_response", "nash_gap", "social_optimum", "price_of_anarchy", "IMPROVE_TOL",
           "GAP_TOL", "MAX_PI_ITER"]

#: An action replaces the incumbent only if its Q-value is larger by this much
#: (relative to ``max(1, max |V|)``).
IMPROVE_TOL = 1e-12
#: A Nash-gap below ``-GAP_TOL * max(1, |V|)`` would mean the best response lost to the
#: policy itself: a bug, so it raises; above that, round-off is reported as 0.
GAP_TOL = 1e-9
#: Cap on policy-improvement steps (policy iteration needs far fewer in practice).
MAX_PI_ITER = 10_000


class _TupleView:
    """Unpack and index like the tuple of ``_tuple_fields``; the rest are attributes."""

    _tuple_fields: tuple[str, ...] = ()

    def _as_tuple(self):
        return tuple(getattr(self, f) for f in self._tuple_fields)

    def __iter__(self):
        return iter(self._as_tuple())

    def __getitem__(self, index):
        return self._as_tuple()[index]

    def __len__(self) -> int:
        return len(self._tuple_fields)


@dataclass(frozen=True)
class MDPSolution(_TupleView):
    """Result of :func:`solve_mdp`; unpacks and indexes as ``(values, actions)``.

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
    _tuple_fields = ("values", "actions")


def howard(evaluate_actions: Callable, q_of: Callable, n_actions: int, init: np.ndarray, *,
           max_iter: int = MAX_PI_ITER, tol: float = IMPROVE_TOL) -> MDPSolution:
    r"""Howard's policy iteration, the one implementation every solver uses.

    Parameters
    ----------
    evaluate_actions : callable
        ``(actions [S], v_prev or None) -> V [S]``, the value of the deterministic policy.
    q_of : callable
        ``V -> Q [S, B]``, the one-step lookahead :math:`r(s, b) + \gamma E[V(s')]`.
    n_actions : int
        B.
    init : ndarray (S,) of int
        Initial policy.
    max_iter, tol
        Cap on improvement steps and the relative improvement threshold
        (:data:`IMPROVE_TOL`).
    """
    actions = np.array(init, dtype=np.int64)
    v = None
    converged = False
    it = 0
    while it < max_iter:
        v = evaluate_actions(actions, v)
        q = q_of(v)
        it += 1
        scale = max(1.0, float(np.abs(v).max()))
        actions, changed = kernels.greedy_update(q, n_actions, actions, tol * scale)
        if changed == 0:
            converged = True
            break
    residual = float(np.abs(q.max(axis=1) - v).max())
    return MDPSolution(v, actions, q, it, converged, residual)


def solve_mdp(P: np.ndarray, r: np.ndarray, gamma: float, *, init=None,
              max_iter: int = MAX_PI_ITER, tol: float = IMPROVE_TOL) -> MDPSolution:
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
    max_iter = check_int(max_iter, "max_iter", low=1)
    tol = _check_tol(tol)
    return _solve_mdp(P, r, gamma, init=init, max_iter=max_iter, tol=tol)


def _solve_mdp(P, r, gamma, *, init=None, max_iter=MAX_PI_ITER, tol=IMPROVE_TOL):
    """:func:`solve_mdp` on an MDP already checked (a game's own: its summed reward may
    exceed the magnitude a user's reward is allowed)."""
    S, B, _ = P.shape
    flat = P.reshape(S * B, S)
    if init is None:
        # greedy after one Bellman backup of max_b r(s, b), as QuantEcon's DiscreteDP
        init = np.argmax(r + gamma * (flat @ r.max(axis=1)).reshape(S, B), axis=1)
    actions = as_index_array(init, "init", B)
    if actions.shape != (S,):
        raise ValueError(f"init must have shape ({S},), got {actions.shape}")
    rows = np.arange(S)
    if S >= KRYLOV_MDP_STATES:
        def evaluate_actions(acts, v_prev):
            return _krylov_policy_values(P[rows, acts], r[rows, acts], gamma, v_prev)
    else:
        eye = np.eye(S)

        def evaluate_actions(acts, _):
            return np.linalg.solve(eye - gamma * P[rows, acts], r[rows, acts])

    def q_of(v):
        return r + gamma * (flat @ v).reshape(S, B)

    return howard(evaluate_actions, q_of, B, actions, max_iter=max_iter, tol=tol)


#: MDPs with at least this many states evaluate each policy of policy iteration by GMRES
#: warm-started from the previous policy's values (a sparse P_sigma when at most
#: :data:`SPARSE_DENSITY` of it is nonzero) instead of an O(S^3) LU: at 1024 states the LU
#: costs 31 ms, GMRES on a 10%-dense P_sigma about 5 ms (measured on this 2-core machine).
KRYLOV_MDP_STATES = 512
#: Largest fraction of nonzeros for which P_sigma is converted to CSR for the products.
SPARSE_DENSITY = 0.25


def _krylov_policy_values(P_sigma, r_sigma, gamma, v0):
    r"""``V`` with :math:`(I - \gamma P_\sigma) V = r_\sigma` by GMRES to the relative residual
    of :meth:`fairmg.linear.PolicySystem.attainable_rtol` (a dense LU where GMRES fails).

    The returned values are within :math:`\|r_\sigma\|_2\,\mathrm{rtol}/(1-\gamma)` of the
    exact ones in the max norm; policy iteration's final Bellman residual
    (``MDPSolution.residual``) certifies the optimality of what it returns either way.
    """
    import scipy.sparse as sp

    from .linear import PolicySystem
    S = P_sigma.shape[0]
    A = P_sigma
    if np.count_nonzero(P_sigma) <= SPARSE_DENSITY * P_sigma.size:
        A = sp.csr_matrix(kernels.dense_to_csr(P_sigma), shape=(S, S))
    system = PolicySystem(gamma, P_sigma.shape[0], matvec=A.dot, rmatvec=A.T.dot)
    try:
        return system.solve(r_sigma[None], None if v0 is None else v0[None])[0]
    except RuntimeError:          # GMRES stalled: the exact dense solve
        return np.linalg.solve(np.eye(P_sigma.shape[0]) - gamma * P_sigma, r_sigma)


def _check_tol(tol) -> float:
    """The improvement threshold: > 0 (with 0, round-off can make policy iteration cycle)
    and finite."""
    return check_scalar(tol, "tol", positive=True)


def _check_mdp(P, r, gamma):
    """An MDP's ``P`` (S, B, S), ``r`` (S, B) and ``gamma``, validated, as float64."""
    if not (isinstance(P, np.ndarray) and P.dtype == np.float64):
        P = as_float_array(P, "P")
    P = np.ascontiguousarray(P)
    if P.ndim != 3:
        raise ValueError(f"P must have 3 dimensions (S, B, S), got shape {P.shape}")
    r = as_float_array(r, "r", 2)
    S, B, S2 = P.shape
    if S2 != S or S == 0 or B == 0:
        raise ValueError(f"P must have shape (S, B, S) with S, B >= 1, got {P.shape}")
    if r.shape != (S, B):
        raise ValueError(f"r must have shape ({S}, {B}) to match P, got {r.shape}")
    check_distributions(P, "P")
    return P, r, check_gamma(gamma)


_check_evaluation = check_evaluation


def _one_hot(actions, S, M):
    row = np.zeros((S, M))
    row[np.arange(S), actions] = 1.0
    return row


#: Factored games with more states than this solve best responses by warm-started GMRES
#: (each policy-iteration step is then a few O(S^2) products instead of an O(S^3) LU).
KRYLOV_BR_STATES = 256


def _agent_policy_iteration(game, policy, agent: int, init, tol, v0=None) -> MDPSolution:
    """Policy iteration on ``agent``'s MDP, matrix-free through the game protocol.

    ``v0`` (S,), e.g. the agent's value under ``policy``, warm-starts the first Krylov
    solve; later ones start from the previous step's values.
    """
    S, M = game.n_states, game.max_actions
    krylov = S > KRYLOV_BR_STATES
    n = game.action_sizes[agent]
    r_i = game.reward_marginal(policy, (agent,))[agent]            # (S, A_i)
    rows = np.arange(S)

    def evaluate_actions(acts, v_prev):
        probs = np.array(policy.probs)
        probs[agent] = _one_hot(acts, S, M)
        mixed = ProductPolicy(game, probs, _checked=True)
        start = v0 if v_prev is None else v_prev
        x0 = None if start is None else np.asarray(start, dtype=np.float64)[None]
        system = game.policy_system(mixed, matrix_free=True if krylov else None)
        return system.solve(r_i[rows, acts][None], x0=x0)[0]

    def q_of(v):
        return r_i + game.gamma * game.continuation(v[None], policy, (agent,))[0]

    if init is None:
        init = np.argmax(r_i, axis=1)
    return howard(evaluate_actions, q_of, n, as_index_array(init, "init", n), tol=tol)


def _agent_best(game, policy, agent, init, tol) -> MDPSolution:
    if game.is_dense:
        P_i, r_i = game.agent_mdp(policy, agent)
        return _solve_mdp(P_i, r_i, game.gamma, init=init, tol=tol)
    return _agent_policy_iteration(game, policy, agent, init, tol)


@dataclass(frozen=True)
class BestResponse(_TupleView):
    """A best response of one agent; unpacks and indexes as ``(values, row)``.

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
    _tuple_fields = ("values", "row")


def best_response(game, policy: ProductPolicy, agent: int, *, init=None,
                  tol: float = IMPROVE_TOL) -> BestResponse:
    r"""Exact best response of ``agent`` to the others' policies (002, Definition 2.4).

    Policy iteration on the MDP the agent faces (:func:`solve_mdp` on
    :meth:`MarkovGame.agent_mdp` for dense games, matrix-free for factored ones).
    ``init`` (S,) warm-starts policy iteration; it does not change the result's values.
    Raises ``RuntimeError`` if policy iteration does not converge.
    """
    check_game(game).check_policy(policy)
    agent = game.check_agent(agent)
    tol = _check_tol(tol)
    n = game.action_sizes[agent]
    if init is not None:
        init = as_index_array(init, "init", n)
        if init.shape != (game.n_states,):
            raise ValueError(f"init must have shape ({game.n_states},), got {init.shape}")
    sol = _agent_best(game, policy, agent, init, tol)
    if not sol.converged:
        raise RuntimeError(f"policy iteration for agent {agent}'s best response did not "
                           f"converge in {sol.iterations} steps (residual {sol.residual:.3g})")
    row = _one_hot(sol.actions, game.n_states, game.max_actions)
    return BestResponse(sol.values, row, policy.replace(agent, row),
                        float(sol.values @ game.initial), sol.iterations, sol.converged,
                        sol.residual)


def _best_value(game, policy, agent, init, v0=None) -> float:
    """max over ``agent``'s policies of its V(mu), the others fixed (``v0``: a warm start
    for matrix-free solves)."""
    if game.is_dense:
        # one compiled call: agent MDP + policy iteration, no ProductPolicy per agent
        value, iterations, converged = kernels.best_response_value(
            game.transition, game.rewards[agent], policy.probs, game.joint_actions, agent,
            game.max_actions, game.action_sizes[agent], game.gamma, game.initial, init,
            IMPROVE_TOL, MAX_PI_ITER)
    else:
        sol = _agent_policy_iteration(game, policy, agent, init, IMPROVE_TOL, v0)
        value, iterations, converged = float(sol.values @ game.initial), sol.iterations, \
            sol.converged
    if not converged:
        raise RuntimeError(f"policy iteration for agent {agent}'s best response did not "
                           f"converge in {iterations} steps")
    return value


def nash_gap(game, policy: ProductPolicy, *, per_agent: bool = False,
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

    Gaps within ``GAP_TOL * max(1, |V^i(mu)|)`` below 0 are round-off and reported as 0.
    """
    per_agent = check_bool(per_agent, "per_agent")
    if check_game(game).is_dense and evaluation is None:
        # one compiled pass: the agent MDPs serve the evaluation and the best responses
        game.check_policy(policy)
        phi = np.empty((0, 1))
        values, _, _, _, best = kernels.batch_evaluate(
            game.transition, game.rewards, kernels.frozen(phi), kernels.frozen(policy.probs[None]),
            game.joint_actions, np.array(game.action_sizes, dtype=np.int64), game.gamma,
            game.initial, True, IMPROVE_TOL, MAX_PI_ITER,
            np.full((1, game.n_agents, game.n_states), -1, dtype=np.int64))
        current = values[0] @ game.initial
        best_values = best[0]
    else:
        ev = _check_evaluation(game, policy, evaluation)
        current = ev.value_at_initial
        best_values = [_best_value(game, policy, i,
                                   np.argmax(ev.local_q(i), axis=1).astype(np.int64),
                                   ev.values[i]) for i in range(game.n_agents)]
    gaps = np.empty(game.n_agents)
    for i in range(game.n_agents):
        gap = best_values[i] - current[i]
        floor = GAP_TOL * max(1.0, abs(current[i]))
        if gap < -floor:
            raise RuntimeError(f"agent {i}'s best response is worse than its policy by "
                               f"{-gap:.3g}: a numerical failure")
        gaps[i] = max(gap, 0.0)
    return gaps if per_agent else float(gaps.max())


@dataclass(frozen=True)
class SocialOptimum(_TupleView):
    """The social optimum; unpacks and indexes as ``(value, policy)``.

    ``value`` = max over policies of sum_i V^i(mu), attained by the deterministic
    ``policy``; ``values`` (S,) is the optimal summed value per state.
    """

    value: float
    policy: ProductPolicy
    values: np.ndarray
    iterations: int
    converged: bool
    residual: float
    _tuple_fields = ("value", "policy")


def _joint_policy_iteration(game) -> MDPSolution:
    """Policy iteration on the joint-action MDP of the summed reward, matrix-free."""
    game.check_joint_size("the social optimum's joint Q table (S, A)")
    S, A = game.n_states, game.n_joint_actions
    everyone = tuple(range(game.n_agents))
    uniform = ProductPolicy.uniform(game)          # unused by a full keep, but required
    r = game.reward_marginal(uniform, everyone).sum(axis=0).reshape(S, A)
    rows = np.arange(S)

    def evaluate_actions(acts, v_prev):
        pol = ProductPolicy.from_joint_actions(game, acts)
        x0 = None if v_prev is None else v_prev[None]
        return game.policy_system(pol).solve(r[rows, acts][None], x0=x0)[0]

    def q_of(v):
        return r + game.gamma * game.continuation(v[None], uniform, everyone)[0].reshape(S, A)

    return howard(evaluate_actions, q_of, A, np.argmax(r, axis=1))


def social_optimum(game) -> SocialOptimum:
    r"""max over product policies of :math:`\sum_i V^i_\pi(\mu)` (002, Section 4).

    A deterministic joint policy attains the maximum of the joint-action MDP with the
    summed reward, and a deterministic joint policy is a product policy, so this is
    the optimum over product policies too. Cached on the game.
    """
    check_game(game)
    cached = getattr(game, "_social_optimum", None)
    if cached is not None:
        return cached
    if game.is_dense:
        P, r = game.joint_mdp()
        sol = _solve_mdp(P, r, game.gamma)
    else:
        sol = _joint_policy_iteration(game)
    if not sol.converged:
        raise RuntimeError(f"policy iteration for the social optimum did not converge in "
                           f"{sol.iterations} steps (residual {sol.residual:.3g})")
    policy = ProductPolicy.from_joint_actions(game, sol.actions)
    result = SocialOptimum(float(sol.values @ game.initial), policy, sol.values,
                           sol.iterations, sol.converged, sol.residual)
    game._social_optimum = result
    return result


def price_of_anarchy(game, policy: ProductPolicy, *,
                     evaluation: Evaluation | None = None) -> float:
    r"""POA of ``policy``: :math:`\sum_i V^i_\pi(\mu) / \max_{\pi'} \sum_i V^i_{\pi'}(\mu)`.

    002, Definition 4.1 (the ratio for one policy; the paper's POA is its worst case
    over Nash policies). Raises ``ValueError`` when the social optimum is not positive,
    where the ratio has no meaning.
    """
    ev = _check_evaluation(game, policy, evaluation)
    opt = social_optimum(game).value
    if not opt > 0:
        raise ValueError(f"game has social optimum {opt:.6g} (max over policies of "
                         f"sum_i V^i(mu)); the price of anarchy needs a positive optimum "
                         f"(shift the rewards to be positive): {game!r}")
    return float(ev.value_at_initial.sum() / opt)
