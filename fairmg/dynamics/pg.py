r"""Tabular softmax policy-gradient dynamics in Markov potential games (002, Section 3).

Every agent i has logits ``theta[i, s, a_i]`` and the softmax policy
:math:`\pi^i(a_i|s) \propto \exp\theta^i_{s,a_i}` (002, Section 3). Three dynamics:

* :func:`softmax_pg` -- independent policy gradient ascent, eq. (3), with the exact
  gradient of Lemma 3.1, optionally on the log-barrier objective :math:`L_\lambda` of
  Section 3.2;
* :func:`npg` -- natural policy gradient, eq. (4), computed in closed form
  (:func:`natural_direction`, Lemma 3.7), with a log-barrier variant;
* :func:`npg_best_response` -- the approximate-best-response NPG of eqs. (5)-(6): every
  agent runs ``inner_steps`` soft policy-iteration steps against the others fixed, and only
  the agent with the largest gain keeps its update.

Gradients are always those of each agent's *own* objective
:math:`J^i(\theta) = V^i_\theta(\mu) + \lambda\, b^i(\theta^i)`; in a Markov potential game
:math:`\nabla_{\theta^i} V^i = \nabla_{\theta^i}\Phi` (002, eq. (1)), so this is the
gradient of :math:`L_\lambda` of Section 3.2, and the dynamics also run on general games.

Scaling of the NPG step (Lemma 3.7). With the paper's *unnormalized* visitation
:math:`d_\mu^\pi` (it sums to :math:`1/(1-\gamma)`) in both the gradient (Lemma 3.1) and the
Fisher matrix, :math:`(F^i)^\dagger \nabla_{\theta^i} V^i = A^i - \text{mean}_{a_i} A^i`
state by state, so eq. (4) is :math:`\theta \leftarrow \theta + \eta A^i` up to a constant
per state (which leaves the policy unchanged) -- *no* factor :math:`1/(1-\gamma)`, unlike
Agarwal et al.'s Lemma 5.1, whose visitation is normalized. This module applies the exact
Moore-Penrose step (centered advantages), so ``run.thetas`` are those of eq. (4) itself.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from ..evaluate import Evaluation, evaluate
from .._validate import NonFiniteError, as_float_array, check_scalar
from ..games.base import Game
from ..games.dense import MarkovGame
from ..kernels import (agent_mdps, joint_probs, local_q, masked_softmax, policy_rewards,
                       policy_transition, solve_dd)
from ..policy import ProductPolicy
from ..policy import log_softmax as _log_softmax
from .run import Run, iterate

__all__ = ["softmax_pg", "softmax_pg_logits", "npg", "npg_best_response", "policy_gradient",
           "log_barrier_gradient", "log_barrier_objective", "natural_directions",
           "regularized_values", "best_response_step"]

#: States whose visitation is at most this fraction of the largest one are treated as
#: unvisited: their Fisher block is 0, so the Moore-Penrose step leaves them unchanged
#: (numpy.linalg.pinv's default cutoff plays the same role).
VISITATION_RTOL = 1e-12


# -- inputs ---------------------------------------------------------------------------
def check_logits(game: Game, theta0, name: str = "theta0", *, batch: bool = False) -> np.ndarray:
    """A float64 copy of logits ``[N, S, A_max]`` (``[B, N, S, A_max]`` with ``batch``)
    with the padding set to 0.

    Raises ``ValueError`` naming ``name`` for a wrong shape or a non-finite valid entry.
    """
    if not isinstance(game, Game):
        raise TypeError(f"game must be a fairmg Game, got {type(game).__name__}")
    theta = as_float_array(theta0, name, finite=False)
    shape = (game.n_agents, game.n_states, game.max_actions)
    if theta.shape[-3:] != shape or theta.ndim not in ((3, 4) if batch else (3,)):
        want = f"{shape} or (B, *{shape})" if batch else f"{shape}"
        raise ValueError(f"{name} must have shape {want} (agents, states, max actions), "
                         f"got {theta.shape}")
    if theta.ndim == 4 and theta.shape[0] == 0:
        raise ValueError(f"{name} has an empty batch axis")
    mask = np.broadcast_to(game.action_mask[:, None, :], theta.shape)
    bad = np.argwhere(mask & ~np.isfinite(theta))
    if bad.size:
        idx = tuple(int(v) for v in bad[0])
        raise ValueError(f"{name}{list(idx)} is {theta[idx]}, expected a finite number")
    return np.ascontiguousarray(np.where(mask, theta, 0.0))


def _check_finite_update(theta: np.ndarray, what: str) -> np.ndarray:
    if not np.all(np.isfinite(theta)):
        raise NonFiniteError(   # a FloatingPointError and a ValueError
            f"{what} produced non-finite logits (max |finite theta| "
            f"{np.abs(theta[np.isfinite(theta)]).max(initial=0):.3g}); lower lr or "
            f"log_barrier")
    return theta


# -- the pieces of the gradients -------------------------------------------------------
def log_softmax(game: Game, theta: np.ndarray) -> np.ndarray:
    """log pi^i(a_i|s) of logits ``theta [..., N, S, A_max]`` (stable log-sum-exp); padding 0."""
    return _log_softmax(theta, game.action_mask)


def policy_gradient(ev: Evaluation) -> np.ndarray:
    r"""Exact :math:`\partial V^i_\theta(\mu) / \partial\theta^i_{s,a_i}` of every agent (002, Lemma 3.1).

    .. math:: d_\mu^{\pi_\theta}(s)\, \pi^i_{\theta^i}(a_i|s)\, A^i_\theta(s, a_i)

    with the unnormalized visitation and the local (marginal) advantage. Shape
    (N, S, A_max), zero on padding. In a Markov potential game this is also
    :math:`\partial\Phi_\theta(\mu)/\partial\theta^i` (eq. (2)).
    """
    return ev.visitation[..., None, :, None] * ev.probs * ev.local_advantages


def log_barrier_terms(game: Game, probs: np.ndarray) -> np.ndarray:
    r"""The log-barrier term of every agent, :math:`b^i` of 002, Section 3.2, shape (N,).

    .. math:: b^i(\theta^i) = -\mathbb{E}_{s\sim \mathrm{Unif}_S}\,
              \mathrm{KL}(\mathrm{Unif}_{A^i} \,\|\, \pi^i(\cdot|s))
              = \frac{1}{|S||A^i|}\sum_{s,a_i}\log\pi^i(a_i|s) + \log|A^i|

    (<= 0, = 0 exactly at the uniform policy). Raises ``FloatingPointError`` if a
    probability is 0 (the barrier is -inf there).
    """
    mask = np.broadcast_to(game.action_mask[:, None, :], probs.shape)
    if np.any(probs[mask] <= 0):
        raise FloatingPointError("log_barrier_terms: a policy probability underflowed to 0, "
                                 "the barrier is -inf")
    logp = np.where(mask, np.log(np.where(mask, probs, 1.0)), 0.0)
    sizes = np.array(game.action_sizes, dtype=np.float64)
    return logp.sum(axis=(1, 2)) / (game.n_states * sizes) + np.log(sizes)


def log_barrier_gradient(game: Game, probs: np.ndarray, lam: float) -> np.ndarray:
    r""":math:`\lambda\,\partial b^i/\partial\theta^i_{s,a}` for every agent, shape (N, S, A_max).

    Derived by hand from :func:`log_barrier_terms`:
    :math:`\partial \sum_{a'}\log\pi(a'|s)/\partial\theta_{s,a} = 1 - |A^i|\pi(a|s)`, so

    .. math:: \lambda\,\frac{\partial b^i}{\partial\theta^i_{s,a}}
              = \frac{\lambda}{|S|}\Big(\frac{1}{|A^i|} - \pi^i(a|s)\Big).
    """
    mask = game.action_mask[:, None, :]
    sizes = np.array(game.action_sizes, dtype=np.float64)[:, None, None]
    return np.where(mask, lam / game.n_states * (1.0 / sizes - probs), 0.0)


def regularized_values(game: Game, theta, lam: float = 0.0) -> np.ndarray:
    r"""Each agent's objective :math:`J^i(\theta) = V^i_\theta(\mu) + \lambda b^i(\theta^i)`, shape (N,).

    The function whose gradient in :math:`\theta^i` the dynamics of this module follow
    (for finite-difference checks).
    """
    theta = check_logits(game, theta, "theta")
    pol = ProductPolicy.from_logits(game, theta)
    out = evaluate(game, pol).value_at_initial
    if lam:
        out = out + lam * log_barrier_terms(game, pol.probs)
    return out


def log_barrier_objective(game: Game, theta, lam: float) -> float:
    r""":math:`L_\lambda(\theta) = \Phi_\theta(\mu) + \lambda\sum_i b^i(\theta^i)` (002, Section 3.2).

    Needs a game that carries its potential (``game.potential``).
    """
    if game.potential is None:
        raise ValueError(f"game {game!r} carries no potential; L_lambda needs Phi")
    theta = check_logits(game, theta, "theta")
    pol = ProductPolicy.from_logits(game, theta)
    return float(evaluate(game, pol).potential_at_initial
                 + lam * log_barrier_terms(game, pol.probs).sum())


@njit(cache=True)
def natural_direction(adv, logp, d, lam, n_states):
    r"""The Moore-Penrose natural gradient :math:`(F^i)^\dagger \nabla_{\theta^i} J^i` of one agent.

    Parameters
    ----------
    adv, logp : ndarray (S, n) float64
        Local advantages :math:`A^i(s, a)` and :math:`\log\pi^i(a|s)` over the agent's own
        n actions.
    d : ndarray (S,) float64
        Unnormalized visitation :math:`d_\mu^\pi`.
    lam : float
        Log-barrier coefficient :math:`\lambda` (0: plain NPG, eq. (4)).
    n_states : int
        |S| of the barrier's uniform state average.

    Notes
    -----
    Derived by hand (the paper states only the unregularized case, Lemma 3.7). The
    Fisher matrix of 002, Section 3.3 is block diagonal with blocks
    :math:`F_s = d(s)(\mathrm{diag}\,\pi_s - \pi_s\pi_s^\top)`, whose null space is the
    constant vector. With :math:`\sum_a \pi A = 0`,
    :math:`F_s (A_s - \bar A_s) = d(s)\,\pi_s\odot A_s` (the gradient of Lemma 3.1) and
    :math:`F_s (1/\pi_s - \overline{1/\pi_s}) = d(s)(1 - n\pi_s)`, so the minimum-norm
    solution of :math:`F_s w = d\,\pi\odot A + \tfrac{\lambda}{|S|}(\tfrac1n - \pi)` is

    .. math:: w_s = (A_s - \bar A_s) + \frac{\lambda}{|S|\,n\,d(s)}
              \Big(\frac{1}{\pi_s} - \overline{1/\pi_s}\Big)

    (bars: means over the n actions), and :math:`w_s = 0` where :math:`d(s) = 0`
    (below ``VISITATION_RTOL * max d``). Non-finite entries (a probability underflowed)
    are returned as such for the caller to report.
    """
    S, n = adv.shape
    out = np.zeros((S, n))
    dmax = 0.0
    for s in range(S):
        dmax = max(dmax, d[s])
    for s in range(S):
        if d[s] <= VISITATION_RTOL * dmax:
            continue
        mean_adv = 0.0
        mean_inv = 0.0
        for a in range(n):
            mean_adv += adv[s, a]
            mean_inv += math.exp(-logp[s, a])
        mean_adv /= n
        mean_inv /= n
        coef = lam / (n_states * n * d[s])
        for a in range(n):
            out[s, a] = adv[s, a] - mean_adv
            if lam != 0.0:
                out[s, a] += coef * (math.exp(-logp[s, a]) - mean_inv)
    return out


def natural_directions(game: Game, ev, logp: np.ndarray | None, lam: float = 0.0) -> np.ndarray:
    """:func:`natural_direction` of every agent (and every run of a batch) at once.

    The same closed form, vectorized over agents, states and a leading batch axis:
    ``ev`` is an :class:`Evaluation` (result (N, S, A_max)) or a
    :class:`~fairmg.dynamics.run.BatchEvaluation` (result (B, N, S, A_max)).
    """
    if not lam and isinstance(ev.local_qs, np.ndarray):
        qs, visit = ev.local_qs, ev.visitation
        batch = qs.ndim == 4
        out = _centered_advantages(
            np.ascontiguousarray(qs if batch else qs[None]),
            np.ascontiguousarray(visit if batch else visit[None]),
            np.asarray(game.action_sizes, dtype=np.int64), VISITATION_RTOL)
        return out if batch else out[0]
    adv = ev.local_advantages
    mask = game.action_mask[:, None, :]
    n = np.array(game.action_sizes, dtype=np.float64)[:, None, None]
    d = ev.visitation[..., None, :, None]                      # (..., 1, S, 1)
    out = adv - np.where(mask, adv, 0.0).sum(axis=-1, keepdims=True) / n
    if lam:
        # 1/pi overflows only in states the policy (almost) never visits, zeroed below;
        # a visited one makes the caller raise
        with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
            inv = np.where(mask, np.exp(-np.where(mask, logp, 0.0)), 0.0)
            mean_inv = inv.sum(axis=-1, keepdims=True) / n
            out = out + lam / (game.n_states * n * d) * (inv - mean_inv)
    dmax = ev.visitation.max(axis=-1)[..., None, None, None]
    return np.where(mask & (d > VISITATION_RTOL * dmax), out, 0.0)


@njit(cache=True)
def _centered_advantages(local_qs, visitation, sizes, rtol):
    """:func:`natural_directions` at lambda = 0 for (B, N, S, M) local Q's: per state the
    advantage minus its mean over the agent's actions (the local Q minus its mean: V
    cancels), 0 where d(s) <= rtol * max d."""
    B, N, S, M = local_qs.shape
    out = np.zeros((B, N, S, M))
    for b in range(B):
        dmax = 0.0
        for s in range(S):
            dmax = max(dmax, visitation[b, s])
        for s in range(S):
            if visitation[b, s] <= rtol * dmax:
                continue
            for i in range(N):
                n = sizes[i]
                mean = 0.0
                for a in range(n):
                    mean += local_qs[b, i, s, a]
                mean /= n
                for a in range(n):
                    out[b, i, s, a] = local_qs[b, i, s, a] - mean
    return out


# -- the inner loop of NPG-BR ------------------------------------------------------------
@njit(cache=True)
def _log_softmax_rows(theta):
    S, n = theta.shape
    out = np.empty((S, n))
    for s in range(S):
        top = theta[s, 0]
        for a in range(1, n):
            top = max(top, theta[s, a])
        acc = 0.0
        for a in range(n):
            acc += math.exp(theta[s, a] - top)
        lse = top + math.log(acc)
        for a in range(n):
            out[s, a] = theta[s, a] - lse
    return out


@njit(cache=True)
def soft_policy_iteration(P, r, theta, mu, gamma, lr, lam, n_states, steps):
    r"""``steps`` NPG steps of one agent in its MDP with the others fixed (002, eq. (5)).

    Each step evaluates the softmax policy of ``theta`` exactly in the MDP ``(P, r)``
    (:math:`I - \gamma P_\pi` solved for the values and, transposed, for the unnormalized
    visitation, as :class:`fairmg.linear.PolicySystem` does) and moves
    ``theta += lr * natural_direction(...)``.

    Parameters
    ----------
    P : ndarray (S, n, S), r : ndarray (S, n)
        The agent's MDP (:meth:`MarkovGame.agent_mdp`).
    theta : ndarray (S, n)
        Its logits; not modified.
    mu : ndarray (S,)
    gamma, lr, lam : float
    n_states : int
        |S| of the barrier.
    steps : int
        K.

    Returns
    -------
    theta_K : ndarray (S, n)
    objective_0, objective_K : float
        :math:`V(\mu) + \lambda b` before the first and after the last step
        (``objective_K`` is NaN, and ``theta_K`` non-finite, if the logits overflowed).
    """
    S, n, _ = P.shape
    th = theta.copy()
    obj0 = 0.0
    obj = 0.0
    for k in range(steps + 1):
        logp = _log_softmax_rows(th)
        M = np.eye(S)
        r_pi = np.zeros(S)
        barrier = 0.0
        for s in range(S):
            for a in range(n):
                p = math.exp(logp[s, a])
                r_pi[s] += p * r[s, a]
                barrier += logp[s, a]
                for t in range(S):
                    M[s, t] -= gamma * p * P[s, a, t]
        X, d = solve_dd(M, r_pi.reshape(S, 1), mu)
        V = X[:, 0]
        obj = 0.0
        for s in range(S):
            obj += V[s] * mu[s]
        obj += lam * (barrier / (n_states * n) + math.log(n))
        if k == 0:
            obj0 = obj
        if k == steps:
            break
        adv = np.empty((S, n))
        for s in range(S):
            for a in range(n):
                acc = r[s, a]
                for t in range(S):
                    acc += gamma * P[s, a, t] * V[t]
                adv[s, a] = acc - V[s]
        th += lr * natural_direction(adv, logp, d, lam, n_states)
        if not np.all(np.isfinite(th)):
            return th, obj0, np.nan  # the caller raises
    return th, obj0, obj


@njit(cache=True)
def _best_response_steps(P, R, probs, theta, sizes, mu, gamma, lr, lam, steps):
    """:func:`best_response_step` for a batch of policies of one dense game, compiled.

    ``probs``/``theta`` (B, N, S, M). For each b every agent's MDP comes from one
    :func:`fairmg.kernels.agent_mdps` pass and runs :func:`soft_policy_iteration`; the
    agent with the largest gain (lowest index on ties) keeps its logits. Returns the new
    logits, the agents (B,) and the gains (B, N) (non-finite gains or logits are returned
    as such for the caller to report).
    """
    B, N, S, M = theta.shape
    out = theta.copy()
    agents = np.zeros(B, dtype=np.int64)
    gains = np.empty((B, N))
    for b in range(B):
        Pis, ris = agent_mdps(P, R, probs[b], sizes)
        proposals = np.zeros((N, S, M))
        for i in range(N):
            n = sizes[i]
            th_i, before, after = soft_policy_iteration(
                np.ascontiguousarray(Pis[i, :, :n, :]), np.ascontiguousarray(ris[i, :, :n]),
                np.ascontiguousarray(theta[b, i, :, :n]), mu, gamma, lr, lam, S, steps)
            proposals[i, :, :n] = th_i
            gains[b, i] = after - before
        best = 0
        for i in range(1, N):
            if gains[b, i] > gains[b, best]:
                best = i
        agents[b] = best
        out[b, best] = proposals[best]
    return out, agents, gains


# -- the dynamics --------------------------------------------------------------------
def _logits_policy(game: Game):
    """logits -> a ProductPolicy (N, S, A_max) or a batch of tables (B, N, S, A_max)."""
    sizes = np.asarray(game.action_sizes, dtype=np.int64)

    def to_policy(theta):
        probs = masked_softmax(theta.reshape((-1,) + theta.shape[-3:]), sizes)
        if theta.ndim == 3:
            return ProductPolicy(game, probs[0], _checked=True)
        return probs
    return to_policy


def softmax_pg(game: Game, theta0, lr: float = 0.1, iters: int = 400,
               log_barrier: float = 0.0, *, metrics="auto", keep="all", evaluator=None,
               progress: bool = False) -> Run:
    r"""Independent softmax policy gradient, 002 eq. (3), optionally log-barrier regularized.

    .. math:: \theta^i_{t+1} = \theta^i_t + \eta\big(\nabla_{\theta^i} V^i_{\theta_t}(\mu)
              + \lambda \nabla_{\theta^i} b^i(\theta^i_t)\big)

    for every agent at once, with the exact gradient of Lemma 3.1
    (:func:`policy_gradient`) and, for ``log_barrier = lambda > 0``, the barrier term of
    Section 3.2 (:func:`log_barrier_gradient`): gradient ascent on :math:`L_\lambda`.

    Parameters
    ----------
    game : Game
        Dense or factored.
    theta0 : array_like (N, S, A_max) or (B, N, S, A_max)
        Initial logits (padding ignored). With a leading batch axis the B runs step in
        lockstep (one compiled evaluation of the batch per iteration for dense games) and
        the metrics gain a batch axis; ``run[b]`` is run b.
    lr : float
        Step size eta > 0.
    iters : int
        Number of updates; the run records ``iters + 1`` policies.
    log_barrier : float
        lambda >= 0.
    metrics : "auto", str or sequence
        Metrics recorded every iteration (:func:`fairmg.dynamics.resolve_metrics`).
    keep : {"all", "last", "none"} or int
        Which iterations' logits and policies to keep.
    evaluator : callable, optional
        The driver's evaluator (default exact; see :func:`fairmg.dynamics.iterate`).
    progress : bool
        Show a tqdm bar.

    Returns
    -------
    Run
        ``run.thetas`` holds the logits of every kept iteration.
    """
    theta = check_logits(game, theta0, batch=True)
    lr = check_scalar(lr, "lr", positive=True)
    lam = check_scalar(log_barrier, "log_barrier")

    def step(theta, ev):
        grad = policy_gradient(ev)
        if lam:
            grad = grad + log_barrier_gradient(game, ev.probs, lam)
        with np.errstate(over="ignore", invalid="ignore"):   # reported just below
            new = theta + lr * grad
        return _check_finite_update(new, "softmax_pg")

    return iterate(game, theta, step, _logits_policy(game), iters,
                   name="softmax-pg" + ("-lb" if lam else ""),
                   params=dict(lr=lr, iters=iters, log_barrier=lam), metrics=metrics,
                   keep=keep, evaluator=evaluator, progress=progress)


@njit(cache=True)
def _softmax_pg_path(P, R, gamma, mu, ja, sizes, theta0, lr, lam, iters):
    """Logits (iters + 1, N, S, M) of eq. (3) on a dense game in one compiled loop, and the
    number of finite updates (< iters when one overflowed)."""
    N, S, M = theta0.shape
    A = ja.shape[0]
    out = np.zeros((iters + 1, N, S, M))
    out[0] = theta0
    th = theta0.copy().reshape((1, N, S, M))
    eye = np.eye(S)
    q = np.empty((N, S, A))
    for t in range(iters):
        probs = masked_softmax(th, sizes)[0]
        pij = joint_probs(probs, ja)
        lhs = eye - gamma * policy_transition(P, pij)
        V, d = solve_dd(lhs, np.ascontiguousarray(policy_rewards(R, pij).T), mu)
        for i in range(N):
            for s in range(S):
                for a in range(A):
                    acc = 0.0
                    for u in range(S):
                        acc += P[s, a, u] * V[u, i]
                    q[i, s, a] = R[i, s, a] + gamma * acc
        lq = local_q(q, probs, ja)
        for i in range(N):
            for s in range(S):
                for a in range(sizes[i]):
                    g = d[s] * probs[i, s, a] * (lq[i, s, a] - V[s, i])
                    if lam != 0.0:
                        g += lam / S * (1.0 / sizes[i] - probs[i, s, a])
                    x = th[0, i, s, a] + lr * g
                    if not np.isfinite(x):
                        return out, t
                    th[0, i, s, a] = x
        out[t + 1] = th[0]
    return out, iters


def softmax_pg_logits(game: Game, theta0, lr: float = 0.1, iters: int = 400,
                      log_barrier: float = 0.0) -> np.ndarray:
    r"""The logits :math:`\theta_0, \dots, \theta_T` of :func:`softmax_pg` (002, eq. (3)) on a
    dense game, in one compiled loop: shape (iters + 1, N, S, A_max), zero on padding.

    The same update as :func:`softmax_pg` (Lemma 3.1's exact gradient with the unnormalized
    visitation, plus the log-barrier term of Sec. 3.2 for ``log_barrier > 0``) with no
    per-iteration Python: for long runs on small games (the checks of Thms. 3.4 and 3.6
    run thousands of steps on 2-state games) it is 20-80x faster than :func:`softmax_pg`,
    which records metrics and policies every step. Compute metrics afterwards in one batch
    (:func:`fairmg.dynamics.run.evaluate_batch`).

    Raises
    ------
    TypeError
        For a factored game (use :func:`softmax_pg`).
    NonFiniteError
        When an update overflows.
    """
    if not isinstance(game, MarkovGame):
        raise TypeError(f"softmax_pg_logits needs a dense MarkovGame, got "
                        f"{type(game).__name__}; use softmax_pg")
    theta = check_logits(game, theta0)
    lr = check_scalar(lr, "lr", positive=True)
    lam = check_scalar(log_barrier, "log_barrier")
    iters = int(iters)
    if iters < 0:
        raise ValueError(f"iters must be >= 0, got {iters}")
    out, done = _softmax_pg_path(
        np.ascontiguousarray(game.transition, np.float64),
        np.ascontiguousarray(game.rewards, np.float64), float(game.gamma),
        np.ascontiguousarray(game.initial, np.float64),
        np.ascontiguousarray(game.joint_actions, np.int64),
        np.asarray(game.action_sizes, np.int64), np.ascontiguousarray(theta, np.float64),
        lr, lam, iters)
    if done < iters:
        raise NonFiniteError(f"softmax_pg_logits: update {done + 1} overflowed (lr = {lr:g})")
    return out


def npg(game: Game, theta0, lr: float = 0.1, iters: int = 400,
        log_barrier: float = 0.0, *, metrics="auto", keep="all", evaluator=None,
        progress: bool = False) -> Run:
    r"""Natural policy gradient, 002 eq. (4), every agent at once.

    .. math:: \theta^i_{t+1} = \theta^i_t + \eta (F^i_{\theta_t})^\dagger
              \nabla_{\theta^i} J^i(\theta_t)

    computed in closed form by :func:`natural_direction`: for ``log_barrier = 0`` it is
    Lemma 3.7's soft policy iteration :math:`\theta + \eta A^i` (advantages centered per
    state, which is the Moore-Penrose solution and gives the same policy; no
    :math:`1/(1-\gamma)`, the visitation being unnormalized). For ``log_barrier > 0``
    the gradient is that of :math:`L_\lambda` and the direction gains the term
    :math:`\lambda (1/\pi - \overline{1/\pi}) / (|S||A^i| d(s))` (derived in
    :func:`natural_direction`; the paper does not state it).

    Parameters and return value as :func:`softmax_pg` (batches of logits included).
    """
    theta = check_logits(game, theta0, batch=True)
    lr = check_scalar(lr, "lr", positive=True)
    lam = check_scalar(log_barrier, "log_barrier")

    def step(theta, ev):
        logp = log_softmax(game, theta) if lam else None     # only the barrier needs it
        direction = natural_directions(game, ev, logp, lam)
        with np.errstate(over="ignore", invalid="ignore"):   # reported just below
            new = theta + lr * direction
        return _check_finite_update(new, "npg")

    return iterate(game, theta, step, _logits_policy(game), iters,
                   name="npg" + ("-lb" if lam else ""),
                   params=dict(lr=lr, iters=iters, log_barrier=lam), metrics=metrics,
                   keep=keep, evaluator=evaluator, progress=progress)


def best_response_step(game: Game, theta: np.ndarray, policy: ProductPolicy, *,
                       inner_steps: int, lr: float, lam: float = 0.0):
    r"""One outer step of NPG-BR, 002 eqs. (5)-(6).

    Every agent i runs ``inner_steps`` soft policy-iteration steps
    (:func:`soft_policy_iteration`) in the MDP it faces with the others fixed at
    ``policy`` (:meth:`MarkovGame.agent_mdp`, exact single-agent evaluation); the gain is
    the change of its objective :math:`V^i(\mu) + \lambda b^i` (in a Markov potential
    game the same as the change of :math:`L_\lambda`, and of :math:`\Phi` for
    ``lam = 0``, by eq. (1)). Only the agent with the largest gain (lowest index on ties)
    keeps its update, eq. (6).

    Returns
    -------
    theta_next : ndarray (N, S, A_max)
    agent : int
        The updated agent.
    gains : ndarray (N,)
    """
    gains = np.empty(game.n_agents)
    proposals = []
    for i, (n, (P_i, r_i)) in enumerate(zip(game.action_sizes, game.agent_mdps(policy))):
        th_i, before, after = soft_policy_iteration(
            np.ascontiguousarray(P_i), np.ascontiguousarray(r_i),
            np.ascontiguousarray(theta[i, :, :n]), game.initial, game.gamma, lr, lam,
            game.n_states, inner_steps)
        proposals.append(_check_finite_update(th_i, "npg_best_response"))
        gains[i] = after - before
    if not np.all(np.isfinite(gains)):
        raise NonFiniteError(f"npg_best_response: non-finite gains {gains}; lower lr or "
                             f"log_barrier")
    agent = int(np.argmax(gains))
    out = theta.copy()
    out[agent, :, : game.action_sizes[agent]] = proposals[agent]
    return out, agent, gains


def npg_best_response(game: Game, theta0, inner_steps: int = 5, lr: float = 1.0,
                      iters: int = 400, log_barrier: float = 0.0, *, metrics="auto",
                      progress: bool = False) -> Run:
    r"""Approximate-best-response NPG (NPG-BR), 002 eqs. (5)-(6).

    Each outer iteration: every agent, against the others fixed, takes K =
    ``inner_steps`` NPG (soft policy-iteration) steps
    :math:`\theta^i_{t,k} = \theta^i_{t,k-1} + \eta A^i_{t,k-1}` with exact advantages in
    its own MDP (with ``log_barrier``: the natural gradient of its part of
    :math:`L_\lambda`, as in :func:`npg`); then only the maximum-gain agent's update is
    kept (:func:`best_response_step`).

    Eq. (5) as printed reads :math:`\theta_{t,k} = \theta_{t,k} + A_{t,k-1}`, with no
    step size: a typo for :math:`\theta_{t,k-1}`, and step size 1, the default ``lr``.

    Parameters
    ----------
    inner_steps : int
        K >= 1.
    lr : float
        Inner step size eta (eq. (5): 1).
    Other parameters and return value as :func:`softmax_pg` (a batch of logits runs in
    lockstep, dense games in one compiled call per outer iteration). ``run.params`` gains
    ``"agents"``, the agent updated at each outer iteration, shape (iters,) (a batch:
    (iters, B)).
    """
    theta = check_logits(game, theta0, batch=True)
    lr = check_scalar(lr, "lr", positive=True)
    lam = check_scalar(log_barrier, "log_barrier")
    if not (isinstance(inner_steps, (int, np.integer)) and inner_steps >= 1):
        raise ValueError(f"inner_steps must be an int >= 1, got {inner_steps!r}")
    K = int(inner_steps)
    chosen: list = []
    sizes = np.asarray(game.action_sizes, dtype=np.int64)

    def step(theta, ev):
        if theta.ndim == 3:
            nxt, agent, _ = best_response_step(game, theta, ev.policy, inner_steps=K,
                                               lr=lr, lam=lam)
            chosen.append(agent)
            return nxt
        if game.is_dense:       # the batch in one compiled call
            nxt, agents, gains = _best_response_steps(
                game.transition, game.rewards, ev.probs, theta, sizes, game.initial,
                game.gamma, lr, lam, K)
            if not np.all(np.isfinite(gains)):
                raise NonFiniteError("npg_best_response: non-finite gains; lower lr or "
                                     "log_barrier")
            chosen.append(agents)
            return _check_finite_update(nxt, "npg_best_response")
        steps = [best_response_step(game, th, ev.policy(b), inner_steps=K, lr=lr, lam=lam)
                 for b, th in enumerate(theta)]
        chosen.append(np.array([s[1] for s in steps], dtype=np.int64))
        return np.stack([s[0] for s in steps])

    run = iterate(game, theta, step, _logits_policy(game), iters,
                  name=f"npg-br-K{inner_steps}" + ("-lb" if lam else ""),
                  params=dict(inner_steps=int(inner_steps), lr=lr, iters=iters,
                              log_barrier=lam), metrics=metrics, progress=progress)
    run.params["agents"] = np.array(chosen, dtype=np.int64)
    return run
