r"""Weighted state-action samples: what the sampled algorithms consume, from rollouts or exact.

A :class:`Samples` batch stands for an expectation over the normalized discounted visitation
of the papers' surrogates,

.. math:: E_{(c, s)\sim\bar d,\ a\sim\pi}[f(c, s, a)] \approx \sum_k w_k f(c_k, s_k, a_k),
          \qquad \bar d(c, s) = (1-\gamma)\mu(c)\,d^\pi_c(s),

with c the context (the episode's initial state, 000 Def. A.2). Two sources:

* :func:`samples_from_rollout` -- K = T B samples of a rollout. ``weighting="discounted"``
  gives :math:`w_{t,b} = (1-\gamma)\gamma^t/B` (unbiased for :math:`\bar d` up to the
  truncation mass :math:`\gamma^T`); ``"uniform"`` gives :math:`1/(TB)`, the undiscounted
  state distribution practitioners' buffers hold (HARL). Per-agent advantages by
  :func:`~fairmg.sampled.estimators.gae` from a value table.
* :func:`exact_samples` -- every (c, s, joint a) with its exact weight
  :math:`(1-\gamma)\mu(c)d^\pi_c(s)\pi(a|s)` and exact advantages: the infinite batch.
  A sampled algorithm run on it must take exactly the exact engine's step, which is how
  :mod:`fairmg.sampled.algorithms` is checked against :mod:`fairmg.dynamics.trust_region`.

:func:`fair_advantages` forms 000's fair advantage (eq. (5)) of every sample from
per-agent advantages and the context's values.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .._validate import check_choice, check_game, check_scalar
from ..alpha_fair import contextual_visitation
from ..evaluate import evaluate
from .backend import namespace, resolve_namespace
from .estimators import gae

__all__ = ["Samples", "samples_from_rollout", "exact_samples", "fair_advantages",
           "WEIGHTINGS"]

#: How :func:`samples_from_rollout` weights time steps.
WEIGHTINGS = ("discounted", "uniform")


class Samples(NamedTuple):
    """K weighted samples (arrays of one namespace).

    Attributes
    ----------
    states : (K,) int64
        :math:`s_k` (the observation of tabular policies).
    contexts : (K,) int64
        :math:`c_k`, the initial state of the sample's episode.
    actions : (K, N) int64
        The joint action :math:`a_k`.
    weights : (K,) float64
        :math:`w_k` (sum 1 for exact samples, :math:`1-\\gamma^T` for discounted rollouts).
    advantages : (K, N) float64
        Every agent's advantage estimate :math:`\\hat A_j(s_k, a_k)`.
    returns : (K, N) float64
        The critics' regression targets (:math:`\\hat A + V`; exact V for exact samples).
    """

    states: Any
    contexts: Any
    actions: Any
    weights: Any
    advantages: Any
    returns: Any


def samples_from_rollout(roll, values, gamma: float, lam: float = 0.95, *,
                         weighting: str = "discounted") -> Samples:
    r"""Flatten a :class:`~fairmg.sampled.Rollout` into :class:`Samples`.

    Advantages are GAE(gamma, lam) of every agent with the value table ``values`` (N, S)
    (the critics), bootstrapping from :math:`V(s_T)` at the time limit (HARL's
    ``bad_masks``). ``returns`` (the critics' targets) are the discounted returns
    bootstrapped from :math:`V(s_T)` (GAE with lambda = 1): unbiased for :math:`V^\pi`
    up to :math:`\gamma^{T-t}` times the critic's error at :math:`s_T`. (HARL regresses on
    the lambda-return instead, which inherits a lagging critic's bias at every step: with a
    table refit once per iteration from zero it converges only geometrically, and the fair
    weights of 000 read from it point the wrong way; see ``sampled-vs-exact``.)

    Parameters
    ----------
    roll : Rollout
    values : array (N, S)
        Per-agent critics :math:`V_j(s)` (exact values give the lowest-variance
        unbiased-in-the-limit estimates).
    gamma, lam : float
    weighting : {"discounted", "uniform"}
    """
    weighting = check_choice(weighting, "weighting", WEIGHTINGS)
    gamma = check_scalar(gamma, "gamma", upper=1.0 - 1e-12)
    xp = namespace(roll.rewards)
    values = xp.asarray(values, dtype=xp.float64)
    T, B, N = roll.rewards.shape
    if len(values.shape) != 2 or values.shape[0] != N:
        raise ValueError(f"values must have shape ({N}, S), got {tuple(values.shape)}")
    v = xp.permute_dims(xp.take(values, xp.reshape(roll.states, (-1,)), axis=1), (1, 0))
    v = xp.reshape(v, (T + 1, B, N))
    adv, _ = gae(roll.rewards, v, gamma, lam)
    _, ret = gae(roll.rewards, v, gamma, 1.0)
    if weighting == "discounted":
        w_t = xp.asarray([(1.0 - gamma) * gamma ** t / B for t in range(T)],
                         dtype=xp.float64)
    else:
        w_t = xp.full((T,), 1.0 / (T * B), dtype=xp.float64)
    K = T * B
    ctx = xp.broadcast_to(roll.states[0:1, :], (T, B))
    return Samples(xp.reshape(roll.states[:T, :], (K,)), xp.reshape(ctx, (K,)),
                   xp.reshape(roll.actions, (K, N)),
                   xp.reshape(xp.broadcast_to(w_t[:, None], (T, B)), (K,)),
                   xp.reshape(adv, (K, N)), xp.reshape(ret, (K, N)))


def exact_samples(game, policy, *, evaluation=None, xp=None) -> Samples:
    r"""Every (c, s, a) with :math:`\mu(c) d^\pi_c(s)\pi(a|s) > 0`, weighted exactly.

    :math:`w = (1-\gamma)\mu(c)d^\pi_c(s)\pi(a|s)` (sum 1), advantages
    :math:`A_j(s, a) = Q_j(s, a) - V_j(s)` and returns :math:`Q_j(s, a)` of the exact
    evaluation. Needs the joint tables (S_c x S x A) to fit; for small dense games.
    """
    check_game(game)
    ev = evaluate(game, policy) if evaluation is None else evaluation
    xp = resolve_namespace(xp)
    pol = ev.policy
    dc = (1.0 - game.gamma) * contextual_visitation(game, pol)          # (C, S)
    joint = pol.joint_probs()                                            # (S, A)
    w = dc[:, :, None] * joint[None, :, :]                               # (C, S, A)
    c, s, a = np.nonzero(w > 0)
    adv = np.transpose(ev.q - ev.values[:, :, None], (1, 2, 0))          # (S, A, N)
    q = np.transpose(ev.q, (1, 2, 0))
    as_ = lambda x, dt: xp.asarray(np.ascontiguousarray(x), dtype=dt)   # noqa: E731
    return Samples(as_(s, xp.int64), as_(c, xp.int64),
                   as_(game.joint_actions[a], xp.int64), as_(w[c, s, a], xp.float64),
                   as_(adv[s, a], xp.float64), as_(q[s, a], xp.float64))


def fair_advantages(samples: Samples, context_values, alpha=None, nu: float = 0.1):
    r"""000's fair advantage (eq. (5)) of every sample,

    .. math:: \hat A_F(k) = \sum_j (\nu + \hat V_j(c_k))^{-\alpha}\,\hat A_j(k),

    the weights of Def. 3.1 read at the sample's context (its episode's initial state)
    with the critics' values ``context_values`` (N, S). ``alpha=None`` gives the
    utilitarian :math:`\sum_j \hat A_j` (HAPPO/HATRPO of [31] on the summed reward).
    Raises ``ValueError`` where :math:`\nu + \hat V_j(c) \le 0` (000 needs rewards
    >= 0).
    """
    xp = namespace(samples.advantages)
    if alpha is None:
        return xp.sum(samples.advantages, axis=1)
    alpha = check_scalar(alpha, "alpha")
    nu = check_scalar(nu, "nu")
    V = xp.asarray(context_values, dtype=xp.float64)
    shifted = nu + xp.take(V, samples.contexts, axis=1)                  # (N, K)
    if bool(xp.any(shifted <= 0)):
        raise ValueError("nu + V_j(c) must be > 0 for the fair weights (000 Def. 3.1 "
                         "needs rewards >= 0); raise nu or shift the rewards")
    w = shifted ** (-alpha)
    return xp.sum(xp.permute_dims(w, (1, 0)) * samples.advantages, axis=1)
