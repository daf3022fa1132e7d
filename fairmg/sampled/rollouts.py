r"""Batched rollouts of product policies, Monte Carlo values, and a sampled evaluator.

B episodes step in lockstep: :math:`s_0 \sim \mu`, :math:`a^i_t \sim \pi^i(\cdot|s_t)`
for every agent, :math:`s_{t+1} \sim P(\cdot|s_t, a_t)`, rewards :math:`r^i(s_t, a_t)`,
for :math:`t < T`; Markov games never terminate, so every episode is *truncated* at the
horizon T (the ``truncated`` mask; HARL's ``bad_masks`` are ``1 - truncated``).

Dense games sample next states on the backend from the joint table by inverse CDF
(:func:`~fairmg.sampled.backend.categorical`); other games (factored) go through the
protocol's :meth:`~fairmg.games.base.Game.step` on NumPy. Uniforms come from one NumPy
Generator, so a seed gives the same trajectories on NumPy, CuPy and ``array_api_strict``.
"""
from __future__ import annotations

import math
from typing import Any, NamedTuple

import numpy as np

from .._validate import as_rng, check_int, check_scalar
from ..games.base import Game
from ..policy import ProductPolicy
from .backend import (categorical, categorical_from_cdf, resolve_namespace, to_numpy,
                      uniforms)

__all__ = ["Rollout", "rollouts", "estimate_values", "ValueEstimate", "truncation_horizon",
           "Evaluator", "SampledBatchEvaluation", "BIAS_TOL"]

#: Default bound on the truncation bias of :func:`estimate_values`:
#: :math:`\gamma^T R_{max}/(1-\gamma) \le` ``BIAS_TOL``.
BIAS_TOL = 1e-3


class Rollout(NamedTuple):
    """B episodes of T steps, arrays of the backend's namespace.

    Attributes
    ----------
    states : array (T + 1, B) int64
        ``states[t, b]`` = s_t of episode b (``states[T]`` the state at truncation).
    actions : array (T, B, N) int64
        Every agent's action a^i_t.
    rewards : array (T, B, N) float64
        r^i(s_t, a_t).
    truncated : array (T, B) bool
        True where the episode was cut by the time limit after step t (t = T - 1): HARL's
        ``bad_masks[t + 1] = 1 - truncated[t]``; no step is a true termination.
    """

    states: Any
    actions: Any
    rewards: Any
    truncated: Any


class _ValueEstimate(NamedTuple):
    mean: np.ndarray
    stderr: np.ndarray


class ValueEstimate(_ValueEstimate):
    """``(mean [N], stderr [N])`` of V^i(mu); attributes ``horizon``, ``n_envs`` and
    ``bias_bound`` (:math:`\\gamma^T R_{max}/(1-\\gamma)`, the largest truncation bias)."""

    def __new__(cls, mean, stderr, horizon, n_envs, bias_bound):
        self = super().__new__(cls, mean, stderr)
        self.horizon = horizon
        self.n_envs = n_envs
        self.bias_bound = bias_bound
        return self


def truncation_horizon(gamma: float, r_max: float, tol: float = BIAS_TOL) -> int:
    r"""The smallest T >= 1 with :math:`\gamma^T R_{max}/(1-\gamma) \le` ``tol``.

    The discounted return truncated at T differs from the infinite one by at most
    :math:`\sum_{t \ge T}\gamma^t R_{max} = \gamma^T R_{max}/(1-\gamma)`.
    """
    gamma = check_scalar(gamma, "gamma", upper=1.0 - 1e-12)
    r_max = check_scalar(r_max, "r_max")
    tol = check_scalar(tol, "tol", positive=True)
    if gamma == 0.0 or r_max / (1.0 - gamma) <= tol:
        return 1
    T = math.ceil(math.log(tol * (1.0 - gamma) / r_max) / math.log(gamma))
    while gamma ** T * r_max / (1.0 - gamma) > tol:   # round-off of the logs
        T += 1
    return max(int(T), 1)


def _check_policy(game, policy) -> np.ndarray:
    """probs (N, S, A_max) of a ProductPolicy or a table that fits ``game``."""
    if isinstance(policy, ProductPolicy):
        return game.check_policy(policy).probs
    return ProductPolicy(game, policy).probs


def _strides(sizes) -> np.ndarray:
    """C-order strides of the joint action index (agent 0 most significant)."""
    out = np.ones(len(sizes), dtype=np.int64)
    for i in range(len(sizes) - 2, -1, -1):
        out[i] = out[i + 1] * sizes[i + 1]
    return out


def rollouts(game, policy, n_envs: int, horizon: int, seed=0, *, xp=None) -> Rollout:
    r"""Sample ``n_envs`` episodes of ``horizon`` steps of ``policy`` in lockstep.

    Parameters
    ----------
    game : Game
        Dense games sample on the backend; other games call ``game.step`` on NumPy.
    policy : ProductPolicy or array_like (N, S, A_max)
        The product policy :math:`\pi^i(a_i|s)`.
    n_envs : int
        B >= 1.
    horizon : int
        T >= 1 steps per episode.
    seed : int, numpy.random.Generator or None
        All randomness (a NumPy Generator; the same draws on every backend).
    xp : module, optional
        The array namespace of the result (``numpy`` by default, ``cupy``,
        ``array_api_strict``, ...).

    Returns
    -------
    Rollout
        ``(states [T+1, B], actions [T, B, N], rewards [T, B, N], truncated [T, B])``.
    """
    if not isinstance(game, Game):
        raise TypeError(f"game must be a fairmg Game, got {type(game).__name__}")
    probs = _check_policy(game, policy)
    B = check_int(n_envs, "n_envs", low=1)
    T = check_int(horizon, "horizon", low=1)
    rng = as_rng(seed, "seed")
    xp = resolve_namespace(xp)
    N, S, M = probs.shape
    pi = xp.asarray(np.ascontiguousarray(np.cumsum(probs.reshape(N * S, M), axis=1)))
    mu = xp.asarray(np.asarray(game.initial, dtype=np.float64))
    offsets = xp.asarray(np.arange(N, dtype=np.int64) * S)
    dense = bool(game.is_dense)
    if dense:
        A = game.n_joint_actions
        P = xp.asarray(np.ascontiguousarray(np.cumsum(game.transition.reshape(S * A, S),
                                                      axis=1)))
        R = xp.asarray(np.ascontiguousarray(game.rewards.reshape(N, S * A)))
        strides = xp.asarray(_strides(game.action_sizes))
    s = categorical(mu, uniforms(rng, (B,), xp), xp)
    states, actions, rewards = [s], [], []
    for _ in range(T):
        u = uniforms(rng, (B, N + 1) if dense else (B, N), xp)
        rows = xp.take(pi, xp.reshape(offsets[None, :] + s[:, None], (B * N,)), axis=0)
        a = categorical_from_cdf(xp.reshape(rows, (B, N, M)), u[:, :N], xp)
        if dense:
            flat = s * A + xp.sum(a * strides, axis=1)
            r = xp.matrix_transpose(xp.take(R, flat, axis=1))
            s = categorical_from_cdf(xp.take(P, flat, axis=0), u[:, N], xp)
        else:
            nxt, r = game.step(to_numpy(s), to_numpy(a), rng)
            s, r = xp.asarray(nxt, dtype=xp.int64), xp.asarray(r, dtype=xp.float64)
        states.append(s)
        actions.append(a)
        rewards.append(r)
    truncated = np.zeros((T, B), dtype=bool)
    truncated[-1] = True
    return Rollout(xp.stack(states), xp.stack(actions), xp.stack(rewards),
                   xp.asarray(truncated))


def estimate_values(game, policy, n_envs: int = 4096, horizon: int | None = None, seed=0,
                    *, tol: float = BIAS_TOL, xp=None) -> ValueEstimate:
    r"""Monte Carlo estimate of every agent's :math:`V^i(\mu)` with its standard error.

    The estimate is the mean over ``n_envs`` (>= 2) episodes of the truncated discounted return
    :math:`G^i = \sum_{t<T}\gamma^t r^i_t`; ``stderr`` is the sample standard deviation
    over :math:`\sqrt{B}`. The default horizon is :func:`truncation_horizon`: the smallest
    T with :math:`\gamma^T R_{max}/(1-\gamma) \le` ``tol`` (default
    :data:`BIAS_TOL` = 1e-3), so ``|E[mean] - V^i(mu)| <= tol``; e.g. 88 steps for
    gamma = 0.9 and R_max = 1.

    Returns
    -------
    ValueEstimate
        ``(mean [N], stderr [N])`` as NumPy arrays, with attributes ``horizon``,
        ``n_envs`` and ``bias_bound``.
    """
    if not isinstance(game, Game):
        raise TypeError(f"game must be a fairmg Game, got {type(game).__name__}")
    check_int(n_envs, "n_envs", low=2)        # a standard error needs two episodes
    r_max = float(np.abs(np.asarray(game.rewards)).max())
    if horizon is None:
        horizon = truncation_horizon(game.gamma, r_max, tol)
    roll = rollouts(game, policy, n_envs, horizon, seed, xp=xp)
    from .estimators import discounted_returns
    G0 = discounted_returns(roll.rewards, game.gamma)[0, ...]         # (B, N)
    ns = resolve_namespace(xp)
    B = G0.shape[0]
    mean = to_numpy(ns.mean(G0, axis=0))
    std = to_numpy(ns.std(G0, axis=0, correction=1))
    bias = game.gamma ** int(horizon) * r_max / (1.0 - game.gamma)
    return ValueEstimate(np.asarray(mean, dtype=np.float64),
                         np.asarray(std, dtype=np.float64) / math.sqrt(B), int(horizon), B,
                         bias)


# -- a sampled evaluator for the driver -------------------------------------------------
from ..dynamics.run import BatchEvaluation, evaluate_batch  # noqa: E402


class SampledBatchEvaluation(BatchEvaluation):
    """A :class:`~fairmg.dynamics.run.BatchEvaluation` whose ``values``, ``local_qs`` and
    ``visitation`` (what the steps use) are Monte Carlo estimates.

    ``value_at_initial`` is the direct estimate of :math:`V^i(\\mu)` (mean of the returns
    from s_0); ``value_stderr`` its standard error. The metrics that need a best response
    or the potential (``nash_gap``, ``potential``) are computed *exactly* on the same
    policies (:attr:`exact`), so a sampled run is measured against the truth.
    """

    def __init__(self, game, probs, values, local_qs, visitation, at_initial, stderr,
                 counts):
        super().__init__(game, probs, values, local_qs, visitation, None)
        self._at_initial = at_initial
        self.value_stderr = stderr
        self.counts = counts
        self._exact = None

    @property
    def exact(self) -> BatchEvaluation:
        """The exact evaluation of the same policies (computed on first use)."""
        if self._exact is None:
            self._exact = evaluate_batch(self.game, self.probs, best=self.game.is_dense)
        return self._exact

    @property
    def potential_values(self):
        return self.exact.potential_values if self.game.has_potential else None

    @potential_values.setter
    def potential_values(self, value):
        pass   # estimated evaluations carry no potential of their own

    def best_values(self):
        return self.exact.best_values()

    def nash_gaps(self):
        return self.exact.nash_gaps()


class Evaluator:
    r"""A sampled evaluator for :func:`fairmg.dynamics.iterate` (and so ``softmax_pg``,
    ``npg``, ... through their ``evaluator=`` argument).

    ``evaluator(game, probs [R, N, S, A_max])`` runs ``n_envs`` episodes of ``horizon``
    steps per policy and returns a :class:`SampledBatchEvaluation` with every-visit Monte
    Carlo estimates (002 Lemma 3.1 needs exactly these three):

    * visitation :math:`\hat d(s) = \frac1B\sum_b\sum_{t<T}\gamma^t 1\{s_t = s\}`
      (unnormalized, as the exact one; bias :math:`\le \gamma^T/(1-\gamma)`);
    * local Q :math:`\hat Q^i(s, a_i)` = mean of the returns-to-go
      :math:`G^i_t = \sum_{k=t}^{T-1}\gamma^{k-t} r^i_k` over the visits with
      :math:`s_t = s, a^i_t = a_i` and :math:`t < T - H`, where H is the
      :func:`truncation_horizon` of ``tol`` (so every return used has truncation bias
      :math:`\le` ``tol``); :math:`E[G^i_t | s_t, a^i_t] = E_{a_{-i}}Q^i(s, a)` for a
      stationary policy, at every t;
    * values :math:`\hat V^i(s)` = mean of :math:`G^i_t` over the visits of s.

    Pairs never visited get :math:`\hat Q = \hat V` (zero advantage), states never
    visited 0. The estimates are consistent, not unbiased (ratios of sample means).

    Parameters
    ----------
    n_envs : int
        Episodes per policy and call (>= 2).
    horizon : int, optional
        T; default ``2 H`` (then half the steps serve as starts of returns-to-go).
    seed : int or numpy.random.Generator
        One Generator for the whole run: every call draws fresh samples.
    tol : float
        The truncation-bias bound of the returns used (default :data:`BIAS_TOL`).
    xp : module, optional
        The rollouts' backend (estimates are returned on NumPy for the driver).
    """

    def __init__(self, n_envs: int = 1024, horizon: int | None = None, seed=0, *,
                 tol: float = BIAS_TOL, xp=None):
        self.n_envs = check_int(n_envs, "n_envs", low=2)
        self.horizon = None if horizon is None else check_int(horizon, "horizon", low=1)
        self.tol = check_scalar(tol, "tol", positive=True)
        self.rng = as_rng(seed, "seed")
        self.xp = xp
        resolve_namespace(xp)

    def __repr__(self) -> str:
        return (f"Evaluator(n_envs={self.n_envs}, horizon={self.horizon}, tol={self.tol})")

    def _horizons(self, game) -> tuple[int, int]:
        r_max = float(np.abs(np.asarray(game.rewards)).max())
        H = truncation_horizon(game.gamma, r_max, self.tol)
        T = 2 * H if self.horizon is None else self.horizon
        if T <= H:
            raise ValueError(f"horizon is {T}, expected > {H} (the truncation horizon of "
                             f"tol={self.tol} on {game!r}), or None")
        return T, H

    def __call__(self, game, probs) -> SampledBatchEvaluation:
        probs = np.asarray(probs, dtype=np.float64)
        if probs.ndim != 4:
            raise ValueError(f"probs must have shape (R, N, S, A_max), got {probs.shape}")
        T, H = self._horizons(game)
        from .estimators import discounted_returns
        N, S, M = probs.shape[1:]
        gamma = game.gamma
        disc = gamma ** np.arange(T)
        out = {k: [] for k in ("V", "Q", "d", "v0", "se", "n")}
        for p in probs:
            roll = rollouts(game, p, self.n_envs, T, self.rng, xp=self.xp)
            st, ac = to_numpy(roll.states), to_numpy(roll.actions)
            G = to_numpy(discounted_returns(roll.rewards, gamma))           # (T, B, N)
            B = st.shape[1]
            d = np.bincount(st[:T].ravel(), weights=np.repeat(disc, B), minlength=S) / B
            use = slice(0, T - H)
            s_use = st[use].ravel()                                          # (K,)
            a_use = ac[use].reshape(-1, N)                                   # (K, N)
            g_use = G[use].reshape(-1, N)                                    # (K, N)
            cnt_s = np.bincount(s_use, minlength=S).astype(np.float64)
            V = np.zeros((N, S))
            Q = np.zeros((N, S, M))
            cnt = np.zeros((N, S, M))
            for i in range(N):
                V[i] = np.bincount(s_use, weights=g_use[:, i], minlength=S)
                key = s_use * M + a_use[:, i]
                Q[i] = np.bincount(key, weights=g_use[:, i], minlength=S * M).reshape(S, M)
                cnt[i] = np.bincount(key, minlength=S * M).reshape(S, M)
            V = np.divide(V, cnt_s, out=np.zeros_like(V), where=cnt_s > 0)
            Q = np.divide(Q, cnt, out=np.broadcast_to(V[..., None], Q.shape).copy(),
                          where=cnt > 0)
            Q = np.where(game.action_mask[:, None, :], Q, 0.0)
            out["V"].append(V)
            out["Q"].append(Q)
            out["d"].append(d)
            out["v0"].append(G[0].mean(axis=0))
            out["se"].append(G[0].std(axis=0, ddof=1) / math.sqrt(B))
            out["n"].append(cnt)
        st = {k: np.stack(v) for k, v in out.items()}
        return SampledBatchEvaluation(game, probs, st["V"], st["Q"], st["d"], st["v0"],
                                      st["se"], st["n"])
