r"""The Equity-Lagrangian Dual (ELD) update of 001 (Sec. 4, Algorithm 1), exactly and sampled.

001 maximizes :math:`J_{eff}` subject to :math:`J_{eq} = E[\bar{\mathcal H}_\tau(x)] \le
\varepsilon` (eq. (8)) through :math:`\mathcal L(\theta, \lambda) = J_{eff}(\theta) -
\lambda(J_{eq}(\theta) - \varepsilon)` (eq. (9)). Per episode of T steps the reducer forms
the outcome vector x, the band excess e, :math:`\bar{\mathcal H} = \mathcal H_\tau(x)/N`
and the identity signals (eq. (11)) :math:`s_i = e_i 1(e_i > 0)/\max(c, 1)`,
:math:`c = \#\{j: e_j > 0\}`; every K iterations :math:`\lambda \leftarrow [\lambda +
\eta_\lambda(\bar{\mathcal H} - \varepsilon)]_+` (eq. (10)); the actor uses the combined
advantage (eq. (13))

.. math:: A_{t,i} = (G^{eff}_{t,i} - b^{eff}_i) - \lambda(G^{id}_{t,i} - b^{eq}_i)
          - \lambda\alpha(s_i - \bar s_t),\quad G^{eff}_{t,i} = \sum_{k\ge t}\gamma^{k-t}
          r_{k,i},\ G^{id}_{t,i} = \gamma^{T-1-t}s_i\ (G^{eq}_t = \gamma^{T-1-t}\bar{\mathcal H}).

Our reading (001 leaves these open; documented as such):

* x is the vector of undiscounted episode returns, :math:`x_i = \sum_{t<T} r_{t,i}`;
* agent i's Lagrangian is :math:`\mathcal L_i = E[\sum_t\gamma^t r_{t,i}] -
  \lambda(E[\bar{\mathcal H}(x)] - \varepsilon)` (fully decentralized: own efficiency);
* the backbone's policy gradient is the REINFORCE form :math:`\hat g_i = \sum_t
  \nabla_{\theta_i}\log\pi_i(a_{t,i}|s_t) A_{t,i}`, baselines constants.

Exact side: :func:`episodes` enumerates every trajectory of a small game (probabilities
exact), :func:`lagrangian`, :func:`lagrangian_gradient` (the exact score-function sum, checked
by finite differences in the tests) and :func:`expected_estimator` (the exact expectation of
:math:`\hat g` under (13)). ``proofs_check`` compares the last two (claim ``eld/unbiased``).
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ._validate import check_choice, check_int, check_scalar
from .fairness import band_excess, mre
from .policy import ProductPolicy

__all__ = ["identity_signals", "episode_equity", "dual_step", "combined_advantages",
           "Episodes", "episodes", "lagrangian", "lagrangian_gradient",
           "expected_estimator", "SIGNALS", "MAX_EPISODES"]

#: ``"id"``: :math:`G^{id}_{t,i} = \gamma^{T-1-t}s_i` (eq. (12c), fully decentralized);
#: ``"eq"``: :math:`G^{eq}_t = \gamma^{T-1-t}\bar{\mathcal H}` (eq. (12b), the CTDE team cost).
SIGNALS = ("id", "eq")
#: The most trajectories :func:`episodes` enumerates.
MAX_EPISODES = 2_000_000


# ------------------------------------------------------------------ eqs. (10), (11), (13)
def identity_signals(e):
    r"""Eq. (11): :math:`s_i = e_i 1(e_i > 0)/\max(c, 1)`, :math:`c = \#\{j: e_j > 0\}`
    (Alg. 1 line 6), over the last axis of the excess ``e`` (..., N)."""
    e = np.asarray(e, dtype=np.float64)
    pos = e > 0
    c = np.maximum(pos.sum(axis=-1, keepdims=True), 1)
    return np.where(pos, e, 0.0) / c


def episode_equity(x, tau: float = 0.0, *, excess: str = "relative"):
    r"""The reducer of Alg. 1 line 4 on outcomes ``x`` (..., N): ``(hbar, s)`` with
    :math:`\bar{\mathcal H} = \mathcal H_\tau(x)/N` (Sec. 4.2.1) and s of eq. (11)."""
    x = np.asarray(x, dtype=np.float64)
    e = band_excess(x, tau, excess=excess)
    return np.asarray(mre(x, tau, excess=excess)) / x.shape[-1], identity_signals(e)


def dual_step(lam: float, violation: float, eta: float) -> float:
    r"""Eq. (10): :math:`\lambda \leftarrow [\lambda + \eta_\lambda\psi]_+`,
    :math:`\psi = \bar{\mathcal H} - \varepsilon` (``violation``)."""
    lam = check_scalar(lam, "lam")
    eta = check_scalar(eta, "eta")
    return max(lam + eta * float(violation), 0.0)


def combined_advantages(rewards, gamma: float, lam: float, s, hbar=None, *,
                        signal: str = "id", alpha: float = 0.0, b_eff=0.0, b_eq=0.0,
                        s_bar=0.0):
    r"""Eq. (13) for B episodes of T steps: ``A[t, b, i]``.

    Parameters
    ----------
    rewards : array (T, B, N)
    gamma, lam : float
        Discount and the dual variable :math:`\lambda \ge 0`.
    s : array (B, N)
        Identity signals (eq. (11)).
    hbar : array (B,), optional
        :math:`\bar{\mathcal H}` per episode (needed for ``signal="eq"``).
    signal : {"id", "eq"}
        :data:`SIGNALS`.
    alpha : float
        The optional term's coefficient in [0, 1].
    b_eff, b_eq, s_bar : float or arrays broadcasting to (T, B, N)
        The baselines and :math:`\bar s_t` (action independent).
    """
    r = np.asarray(rewards, dtype=np.float64)
    if r.ndim != 3:
        raise ValueError(f"rewards must have shape (T, B, N), got {r.shape}")
    T, B, N = r.shape
    gamma = check_scalar(gamma, "gamma", upper=1.0)
    lam = check_scalar(lam, "lam")
    alpha = check_scalar(alpha, "alpha", upper=1.0)
    signal = check_choice(signal, "signal", SIGNALS)
    s = np.asarray(s, dtype=np.float64)
    if s.shape != (B, N):
        raise ValueError(f"s must have shape ({B}, {N}), got {s.shape}")
    G = np.zeros_like(r)
    acc = np.zeros((B, N))
    for t in range(T - 1, -1, -1):
        acc = r[t] + gamma * acc
        G[t] = acc
    decay = gamma ** (T - 1 - np.arange(T, dtype=np.float64))              # (T,)
    if signal == "id":
        cost = decay[:, None, None] * s[None]
    else:
        if hbar is None:
            raise ValueError("signal='eq' needs hbar (B,)")
        hbar = np.asarray(hbar, dtype=np.float64).reshape(B)
        cost = np.broadcast_to(decay[:, None, None] * hbar[None, :, None], r.shape)
    return (G - b_eff) - lam * (cost - b_eq) - lam * alpha * (s[None] - s_bar)


# ------------------------------------------------------------------ exact enumeration
class Episodes(NamedTuple):
    """Every T-step trajectory of a game under a policy: ``prob`` (E,), ``states`` (E, T)
    int, ``actions`` (E, T, N) int, ``rewards`` (E, T, N)."""

    prob: np.ndarray
    states: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray


def episodes(game, policy, horizon: int) -> Episodes:
    """All trajectories of ``horizon`` steps with their exact probabilities (zero-probability
    branches pruned). Dense games only; raises when more than :data:`MAX_EPISODES`."""
    if not game.is_dense:
        raise ValueError("episodes enumerates dense games only")
    T = check_int(horizon, "horizon", low=1)
    pol = policy if isinstance(policy, ProductPolicy) else ProductPolicy(game, policy)
    joint = pol.joint_probs()                                              # (S, A)
    P, R, ja = game.transition, game.rewards, game.joint_actions
    mu = np.asarray(game.initial, dtype=np.float64)
    s0 = np.flatnonzero(mu > 0)
    prob, states = mu[s0], s0[:, None]
    acts = np.zeros((len(s0), 0), dtype=np.int64)
    for t in range(T):
        s = states[:, -1]
        pa = joint[s]                                                      # (E, A)
        e_idx, a_idx = np.nonzero(pa > 0)
        prob = prob[e_idx] * pa[e_idx, a_idx]
        states, acts = states[e_idx], np.concatenate([acts[e_idx], a_idx[:, None]], 1)
        if t == T - 1:
            break
        ps = P[states[:, -1], a_idx]                                       # (E, S)
        e_idx, s_next = np.nonzero(ps > 0)
        if len(e_idx) > MAX_EPISODES:
            raise ValueError(f"more than {MAX_EPISODES} trajectories; shorten the horizon")
        prob = prob[e_idx] * ps[e_idx, s_next]
        states = np.concatenate([states[e_idx], s_next[:, None]], 1)
        acts = acts[e_idx]
    rewards = np.transpose(R[:, states, acts], (1, 2, 0))                   # (E, T, N)
    return Episodes(prob, states, ja[acts], rewards)


def _score(game, policy, ep: Episodes) -> np.ndarray:
    r""":math:`\sum_t\nabla_{\theta}\log\pi_i(a_{t,i}|s_t)` per episode and agent in the
    softmax logits, shape (E, N, S, A_max) (zero on padding)."""
    E, T, N = ep.actions.shape
    S, M = game.n_states, game.max_actions
    probs = policy.probs
    out = np.zeros((E, N, S, M))
    rows = np.arange(E)
    for t in range(T):
        s = ep.states[:, t]
        for i in range(N):
            out[rows, i, s, :] -= probs[i, s]
            out[rows, i, s, ep.actions[:, t, i]] += 1.0
    return out * game.action_mask[None, :, None, :]


def _outcomes(ep: Episodes, gamma: float):
    disc = gamma ** np.arange(ep.rewards.shape[1], dtype=np.float64)
    return ep.rewards.sum(axis=1), np.einsum("t,etn->en", disc, ep.rewards)


def _gamma(game, gamma):
    """The episodic discount: the game's, or ``gamma`` in [0, 1] (1 allowed: T is finite)."""
    return game.gamma if gamma is None else check_scalar(gamma, "gamma", upper=1.0)


def lagrangian(game, policy, horizon: int, lam: float, eps: float, tau: float = 0.0, *,
               excess: str = "relative", gamma=None) -> np.ndarray:
    r"""Every agent's :math:`\mathcal L_i = E[\sum_t\gamma^t r_{t,i}] - \lambda(E[\bar
    {\mathcal H}(x)] - \varepsilon)`, shape (N,), by enumeration. ``gamma`` overrides
    the game's discount (episodic: 1 is allowed)."""
    pol = policy if isinstance(policy, ProductPolicy) else ProductPolicy(game, policy)
    ep = episodes(game, pol, horizon)
    x, ret = _outcomes(ep, _gamma(game, gamma))
    hbar, _ = episode_equity(x, tau, excess=excess)
    return ep.prob @ ret - lam * (float(ep.prob @ hbar) - eps)


def lagrangian_gradient(game, policy, horizon: int, lam: float, tau: float = 0.0, *,
                        excess: str = "relative", gamma=None) -> np.ndarray:
    r""":math:`\nabla_{\theta_i}\mathcal L_i` in agent i's softmax logits, (N, S, A_max):
    :math:`\sum_\tau p(\tau)\,(\sum_t\nabla\log\pi_i)(\sum_t\gamma^t r_{t,i} -
    \lambda\bar{\mathcal H}(x))` over all trajectories (exact)."""
    pol = policy if isinstance(policy, ProductPolicy) else ProductPolicy(game, policy)
    ep = episodes(game, pol, horizon)
    x, ret = _outcomes(ep, _gamma(game, gamma))
    hbar, _ = episode_equity(x, tau, excess=excess)
    f = ret - lam * hbar[:, None]                                         # (E, N)
    return np.einsum("e,eisa,ei->isa", ep.prob, _score(game, pol, ep), f)


def expected_estimator(game, policy, horizon: int, lam: float, tau: float = 0.0, *,
                       signal: str = "id", alpha: float = 0.0, excess: str = "relative",
                       b_eff=0.0, b_eq=0.0, s_bar=None, gamma=None) -> np.ndarray:
    r"""The exact expectation of the ELD policy gradient :math:`\hat g_i = \sum_t
    \nabla_{\theta_i}\log\pi_i(a_{t,i}|s_t)A_{t,i}` with the combined advantage (13),
    (N, S, A_max). ``s_bar`` defaults to :math:`E[s_i]` (the limit of a batch mean);
    ``gamma`` overrides the game's discount."""
    pol = policy if isinstance(policy, ProductPolicy) else ProductPolicy(game, policy)
    ep = episodes(game, pol, horizon)
    gam = _gamma(game, gamma)
    x, _ = _outcomes(ep, gam)
    hbar, s = episode_equity(x, tau, excess=excess)
    if s_bar is None:
        s_bar = ep.prob @ s                                                # (N,)
    A = combined_advantages(np.transpose(ep.rewards, (1, 0, 2)), gam, lam, s, hbar,
                            signal=signal, alpha=alpha, b_eff=b_eff, b_eq=b_eq,
                            s_bar=s_bar)                                   # (T, E, N)
    E, T, N = ep.actions.shape
    probs = pol.probs
    out = np.zeros((N, game.n_states, game.max_actions))
    for t in range(T):
        s_t = ep.states[:, t]
        for i in range(N):
            w = ep.prob * A[t, :, i]
            np.add.at(out[i], (s_t, ep.actions[:, t, i]), w)
            np.add.at(out[i], s_t, -w[:, None] * probs[i, s_t])
    return out * game.action_mask[:, None, :]
