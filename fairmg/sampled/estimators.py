r"""Sampled estimators, one function per equation, on any array-API namespace.

Arrays are time-major: ``rewards [T, ...]`` (e.g. ``[T, B, N]``), ``values [T + 1, ...]``
(the last row: the value at truncation, HARL's ``next_value``), and HARL's masks
``[T + 1, ...]``: ``masks[t + 1] = 0`` when the episode *terminated* at step t,
``bad_masks[t + 1] = 0`` when it was *truncated* by a time limit there. Masks with fewer
trailing axes than the rewards (e.g. ``[T + 1, B]`` for rewards ``[T, B, N]``) are
broadcast over the missing ones. The namespace comes from the inputs
(:func:`~fairmg.sampled.backend.namespace`).

* :func:`discounted_returns` -- Monte Carlo returns by a reverse scan (HARL's non-GAE
  branch with ``use_proper_time_limits``);
* :func:`td_errors` -- :math:`\delta_t = r_t + \gamma m_{t+1} V_{t+1} - V_t`;
* :func:`gae` -- GAE(:math:`\gamma, \lambda`) (Schulman et al. 2016, eq. 16) with HARL's
  ``bad_masks`` time-limit semantics (``harl/common/buffers/on_policy_critic_buffer_ep.py``,
  ``compute_returns``);
* :func:`reinforce_gradient` -- the score-function estimator of the exact gradient of 002
  Lemma 3.1 for tabular softmax policies.
"""
from __future__ import annotations

import numpy as np

from .._validate import check_scalar
from .backend import namespace

__all__ = ["discounted_returns", "td_errors", "gae", "reinforce_gradient"]


def _check_gamma(gamma, name="gamma") -> float:
    return check_scalar(gamma, name, upper=1.0)


def _check_rewards(rewards, name="rewards"):
    if not hasattr(rewards, "shape") or len(rewards.shape) < 1 or rewards.shape[0] < 1:
        raise ValueError(f"{name} must be an array of shape (T, ...) with T >= 1, got "
                         f"{getattr(rewards, 'shape', type(rewards).__name__)}")
    return rewards


def _check_values(values, rewards, name="values"):
    want = (rewards.shape[0] + 1,) + tuple(rewards.shape[1:])
    if not hasattr(values, "shape") or tuple(values.shape) != want:
        raise ValueError(f"{name} must have shape {want} (T + 1 rows: the last is the "
                         f"value at truncation), got "
                         f"{getattr(values, 'shape', type(values).__name__)}")
    return values


def _check_mask(mask, rewards, xp, name):
    """A float mask (T + 1, ...) broadcast to the rewards' trailing axes, or None."""
    if mask is None:
        return None
    T = rewards.shape[0]
    if not hasattr(mask, "shape") or mask.shape[0] != T + 1 or len(mask.shape) > len(
            rewards.shape):
        raise ValueError(f"{name} must have shape ({T + 1}, ...) with at most "
                         f"{len(rewards.shape)} axes (HARL's masks: row t + 1 is step t), "
                         f"got {getattr(mask, 'shape', type(mask).__name__)}")
    m = xp.astype(mask, xp.float64)
    while len(m.shape) < len(rewards.shape):
        m = m[..., None]
    try:
        np.broadcast_shapes(tuple(m.shape[1:]), tuple(rewards.shape[1:]))
    except ValueError as exc:
        raise ValueError(f"{name} of shape {tuple(mask.shape)} does not broadcast with "
                         f"rewards of shape {tuple(rewards.shape)}") from exc
    return m


def discounted_returns(rewards, gamma: float, bootstrap=None, *, masks=None, bad_masks=None,
                       values=None):
    r"""Discounted returns-to-go by a reverse scan.

    .. math:: G_T = \text{bootstrap}, \qquad
              G_t = \big(r_t + \gamma\, m_{t+1} G_{t+1}\big)\, b_{t+1}
                    + (1 - b_{t+1})\, V_t

    (HARL ``compute_returns``, ``use_gae=False``, ``use_proper_time_limits=True``): with
    no masks, :math:`G_t = \sum_{k=t}^{T-1}\gamma^{k-t} r_k + \gamma^{T-t}\,\text{bootstrap}`,
    the Monte Carlo return of every step; ``m = masks`` cut at terminations; where
    ``b = bad_masks`` is 0 (a time limit at step t) the return is the value estimate
    :math:`V_t` itself (``values`` required).

    Parameters
    ----------
    rewards : array (T, ...)
    gamma : float
        In [0, 1].
    bootstrap : array (...) , optional
        :math:`G_T` (default 0; HARL's ``next_value``).
    masks, bad_masks : array (T + 1, ...), optional
    values : array (T + 1, ...), optional
        Needed with ``bad_masks``.

    Returns
    -------
    array (T, ...)
    """
    rewards = _check_rewards(rewards)
    gamma = _check_gamma(gamma)
    xp = namespace(rewards)
    m = _check_mask(masks, rewards, xp, "masks")
    bad = _check_mask(bad_masks, rewards, xp, "bad_masks")
    if bad is not None:
        if values is None:
            raise ValueError("values is required with bad_masks (the return at a "
                             "truncated step is the value estimate there)")
        _check_values(values, rewards)
    T = rewards.shape[0]
    G = xp.zeros(rewards.shape[1:], dtype=rewards.dtype) if bootstrap is None else \
        xp.asarray(bootstrap, dtype=rewards.dtype)
    out = [None] * T
    for t in range(T - 1, -1, -1):
        nxt = G if m is None else m[t + 1, ...] * G
        G = rewards[t, ...] + gamma * nxt
        if bad is not None:
            G = G * bad[t + 1, ...] + (1.0 - bad[t + 1, ...]) * values[t, ...]
        out[t] = G
    return xp.stack(out)


def td_errors(rewards, values, gamma: float, *, masks=None):
    r"""TD(0) errors :math:`\delta_t = r_t + \gamma\, m_{t+1} V_{t+1} - V_t` (the GAE
    increments), shape (T, ...); ``values`` (T + 1, ...), ``masks`` as in :func:`gae`."""
    rewards = _check_rewards(rewards)
    _check_values(values, rewards)
    gamma = _check_gamma(gamma)
    xp = namespace(rewards, values)
    m = _check_mask(masks, rewards, xp, "masks")
    nxt = values[1:, ...] if m is None else m[1:, ...] * values[1:, ...]
    return rewards + gamma * nxt - values[:-1, ...]


def gae(rewards, values, gamma: float, lam: float, *, masks=None, bad_masks=None):
    r"""Generalized advantage estimation with HARL's time-limit semantics.

    .. math::
        \delta_t = r_t + \gamma\, m_{t+1} V_{t+1} - V_t, \qquad
        \hat A_t = b_{t+1}\big(\delta_t + \gamma\lambda\, m_{t+1} \hat A_{t+1}\big),
        \qquad \hat R_t = \hat A_t + V_t

    with :math:`\hat A_T = 0` (Schulman et al. 2016, eq. 16; HARL
    ``OnPolicyCriticBufferEP.compute_returns`` with ``use_gae`` and
    ``use_proper_time_limits``). ``masks`` m (default 1) stop the recursion at
    terminations (no bootstrap); ``bad_masks`` b (default 1) mark time limits: where
    :math:`b_{t+1} = 0` the advantage is 0 and the return *bootstraps from the value at
    truncation*, :math:`\hat R_t = V_t` (HARL's choice, as the next state of an
    auto-resetting environment is the next episode's). Rollouts of
    :func:`~fairmg.sampled.rollouts` keep the state at truncation: pass its value as
    ``values[T]`` and no masks, and every step bootstraps from :math:`V(s_T)`.

    ``lam = 1`` gives :math:`\hat R_t` = the discounted return bootstrapped from
    :math:`V_T` (:func:`discounted_returns`); ``lam = 0`` gives
    :math:`\hat A_t = \delta_t` (:func:`td_errors`).

    Parameters
    ----------
    rewards : array (T, ...)
    values : array (T + 1, ...)
        :math:`V(s_t)`; row T is HARL's ``next_value``.
    gamma, lam : float
        In [0, 1].
    masks, bad_masks : array (T + 1, ...), optional

    Returns
    -------
    advantages, returns : arrays (T, ...)
    """
    rewards = _check_rewards(rewards)
    _check_values(values, rewards)
    gamma = _check_gamma(gamma)
    lam = check_scalar(lam, "lam", upper=1.0)
    xp = namespace(rewards, values)
    m = _check_mask(masks, rewards, xp, "masks")
    bad = _check_mask(bad_masks, rewards, xp, "bad_masks")
    delta = td_errors(rewards, values, gamma, masks=masks)
    T = rewards.shape[0]
    adv = [None] * T
    A = xp.zeros(tuple(rewards.shape[1:]), dtype=rewards.dtype)
    for t in range(T - 1, -1, -1):
        carry = A if m is None else m[t + 1, ...] * A
        A = delta[t, ...] + (gamma * lam) * carry
        if bad is not None:
            A = bad[t + 1, ...] * A
        adv[t] = A
    adv = xp.stack(adv)
    return adv, adv + values[:-1, ...]


def reinforce_gradient(probs, states, actions, rewards, gamma: float, *, baseline=None,
                       per_episode: bool = False):
    r"""Score-function (REINFORCE) estimate of every agent's :math:`\nabla_{\theta^i}V^i(\mu)`
    for tabular softmax policies, the sampled twin of 002 Lemma 3.1.

    .. math::
        \hat g^i_{s, a} = \frac1B\sum_b\sum_{t<T}\gamma^t
            \big(1\{a^i_t = a\} - \pi^i(a|s)\big)1\{s_t = s\}\,
            \big(G^i_t - b^i(s_t)\big),\qquad
        G^i_t = \sum_{k=t}^{T-1}\gamma^{k-t}r^i_k,

    as :math:`\partial\log\pi^i(a_t|s_t)/\partial\theta^i_{s,a} = 1\{s_t=s\}(1\{a_t=a\}
    - \pi^i(a|s))`. Its expectation is :math:`\sum_t\gamma^t E[\nabla\log\pi\,Q^i(s_t,
    a_t)]`, i.e. :math:`d^\pi_\mu(s)\pi^i(a|s)A^i(s, a)` of Lemma 3.1 with the
    unnormalized visitation, up to a truncation bias of order
    :math:`T\gamma^T R_{max}/(1-\gamma)`; a state baseline ``b`` (e.g. estimated values)
    leaves it unbiased and lowers the variance.

    Parameters
    ----------
    probs : array (N, S, A_max)
        The policies :math:`\pi^i(a|s)` (zero-padded).
    states : array (T + 1, B) or (T, B) int
    actions : array (T, B, N) int
    rewards : array (T, B, N)
    gamma : float
    baseline : array (N, S), optional
    per_episode : bool
        Return the B per-episode estimates (B, N, S, A_max) instead of their mean.

    Returns
    -------
    array (N, S, A_max), or (B, N, S, A_max) with ``per_episode``; zero on padding.
    """
    rewards = _check_rewards(rewards)
    gamma = _check_gamma(gamma)
    xp = namespace(probs, states, actions, rewards)
    if len(probs.shape) != 3:
        raise ValueError(f"probs must have shape (N, S, A_max), got {tuple(probs.shape)}")
    N, S, M = probs.shape
    if len(rewards.shape) != 3 or rewards.shape[2] != N:
        raise ValueError(f"rewards must have shape (T, B, {N}), got {tuple(rewards.shape)}")
    T, B = rewards.shape[:2]
    if tuple(actions.shape) != (T, B, N):
        raise ValueError(f"actions must have shape {(T, B, N)}, got {tuple(actions.shape)}")
    if len(states.shape) != 2 or states.shape[1] != B or states.shape[0] not in (T, T + 1):
        raise ValueError(f"states must have shape ({T + 1}, {B}) or ({T}, {B}), got "
                         f"{tuple(states.shape)}")
    if baseline is not None and tuple(baseline.shape) != (N, S):
        raise ValueError(f"baseline must have shape ({N}, {S}), got {tuple(baseline.shape)}")
    G = discounted_returns(rewards, gamma)                                   # (T, B, N)
    onehot_s = xp.astype(states[:T, :, None] == xp.arange(S, dtype=states.dtype),
                         probs.dtype)                                        # (T, B, S)
    onehot_a = xp.astype(actions[..., None] == xp.arange(M, dtype=actions.dtype),
                         probs.dtype)                                        # (T, B, N, M)
    if baseline is not None:
        G = G - xp.matmul(onehot_s, xp.matrix_transpose(baseline))
    disc = xp.asarray([gamma ** t for t in range(T)], dtype=probs.dtype)
    w = disc[:, None, None] * G                                              # (T, B, N)
    ws = w[..., None] * onehot_s[:, :, None, :]                              # (T, B, N, S)
    if per_episode:
        out = xp.zeros((B, N, S, M), dtype=probs.dtype)
        for t in range(T):
            score = onehot_a[t, ...][:, :, None, :] - probs[None, ...]     # (B, N, 1, M)
            out = out + ws[t, ...][..., None] * score
        return out
    K = T * B
    wsK = xp.permute_dims(xp.reshape(ws, (K, N, S)), (1, 2, 0))             # (N, S, K)
    oaK = xp.permute_dims(xp.reshape(onehot_a, (K, N, M)), (1, 0, 2))       # (N, K, M)
    first = xp.matmul(wsK, oaK)                                              # (N, S, M)
    second = xp.sum(wsK, axis=2)[..., None] * probs
    return (first - second) / B
