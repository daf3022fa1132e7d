r"""Exact quantities of Anticipation Sharing (004, Secs. 3-4 and App. A).

Notation (004)
--------------
* Every agent i has a private reward :math:`r^i`; the team objective is eq. (1),
  :math:`\eta(\pi) = \sum_i E_{\tau\sim\pi}[\sum_t\gamma^t r^i_t] = \sum_i V_i^\pi(\mu)`:
  the **sum** of the private returns (not the mean; eq. (22) restates it), see
  :func:`team_return`.
* :math:`A_i^\pi(s, \mathbf a) = Q_i^\pi(s, \mathbf a) - V_i^\pi(s)` on **joint** actions
  (eq. (2)).
* **Anticipations** are stored as one array ``anticipations[i, j, s, a_j]`` of shape
  (N, N, S, A_max): row ``[i, j]`` is :math:`\pi^{ij}`, agent i's anticipation of agent j's
  policy, and the diagonal ``[i, i]`` is agent i's own (actual) policy :math:`\pi^{ii} =
  \pi^i` (Def. 1). The anticipated joint policy of agent i is the product policy
  ``ProductPolicy(game, anticipations[i])``: :math:`\tilde\pi^i(\mathbf a|s) = \prod_j
  \pi^{ij}(a_j|s)` (Def. 1); the actual joint policy is the diagonal (:func:`actual_policy`).

Visitation convention
---------------------
:math:`d^\pi(s) = \sum_t \gamma^t \Pr(s_t = s)`, **unnormalized** (sums to
:math:`1/(1-\gamma)`), fairmg's convention. The paper implies it: the proof of Lemma 1
(eq. (28)) writes :math:`d^{\pi_{old}}(s) = P(s_0 = s) + \gamma P(s_1 = s) + \dots` and
identifies :math:`\sum_s d(s)\bar A(s)` with :math:`\sum_t\gamma^t E[\bar A(s_t)]` of TRPO's
:math:`L_\pi`, which is what makes :math:`C = 4\gamma\max|\sum_i A_i|/(1-\gamma)^2` the right
constant (with a normalized d, :math:`\zeta` would be :math:`1-\gamma` times smaller and
Lemma 1 would need a different C). The same unnormalized d enters :math:`f^{\pi'}` (eq. (8))
through :math:`\|d^{\pi'}\|_2^2`. The practical objective (16) is an empirical mean over
samples, i.e. an expectation under the *normalized* :math:`(1-\gamma)d`;
:mod:`fairmg.dynamics.anticipation` uses that one and says so.

All quantities are exact: one evaluation (:func:`fairmg.evaluate`) of the reference policy,
expectations over anticipated joint policies through the game's marginals (no joint table),
maxima of :math:`|A_i|` over the joint table ``ev.q`` (dense games, or factored ones whose
(N, S, A) table fits).
"""
from __future__ import annotations

import numpy as np

from ._validate import as_float_array, check_choice, check_distributions, check_game
from .evaluate import check_evaluation
from .policy import ProductPolicy

__all__ = ["check_anticipations", "anticipations_from", "actual_policy",
           "anticipated_policies", "team_return", "visitation", "joint_advantages",
           "max_abs_advantages", "zeta", "penalty_constant", "kappa", "f_constant",
           "anticipation_sq_distance", "kl_per_agent", "kl_max_joint", "kl_max_agents",
           "lemma1_bound", "lemma2_bound", "theorem1_bound", "discrepancy_mse"]


# ------------------------------------------------------------------ anticipations
def check_anticipations(game, anticipations, name: str = "anticipations") -> np.ndarray:
    """``anticipations`` as a float array (N, N, S, A_max) of per-agent distributions
    (``[i, j, s, :A_j]`` sums to 1, padding 0); errors name the index."""
    check_game(game)
    N, S, Am = game.n_agents, game.n_states, game.max_actions
    arr = as_float_array(anticipations, name, 4)
    if arr.shape != (N, N, S, Am):
        raise ValueError(f"{name} must have shape (N, N, S, A_max) = {(N, N, S, Am)} "
                         f"([i, j, s, a_j]: agent i's anticipation of agent j), got {arr.shape}")
    mask = np.broadcast_to(game.action_mask[None, :, None, :], arr.shape)
    check_distributions(arr, name, mask)
    return arr


def anticipations_from(policy, anticipated=None) -> np.ndarray:
    r"""Build the (N, N, S, A_max) anticipation array.

    Parameters
    ----------
    policy : ProductPolicy
        The actual policies :math:`\pi^{ii}` (the diagonal).
    anticipated : sequence of N ProductPolicy or array (N, N, S, A_max), optional
        ``anticipated[i]``'s rows ``j != i`` are agent i's anticipations :math:`\pi^{ij}`
        (its row i is ignored). Default: every anticipation equals the actual policy
        (perfect anticipations, :math:`\tilde\pi^i = \pi`).
    """
    game = policy.game
    N = game.n_agents
    if anticipated is None:
        out = np.broadcast_to(policy.probs[None], (N,) + policy.probs.shape).copy()
    else:
        out = np.stack([np.asarray(a.probs if isinstance(a, ProductPolicy) else a,
                                   dtype=np.float64) for a in anticipated]).copy()
        if out.shape != (N,) + policy.probs.shape:
            raise ValueError(f"anticipated must hold {N} policies of shape "
                             f"{policy.probs.shape}, got {out.shape}")
    idx = np.arange(N)
    out[idx, idx] = policy.probs
    return check_anticipations(game, out)


def actual_policy(game, anticipations) -> ProductPolicy:
    r"""The actual joint policy :math:`\pi = \prod_i \pi^{ii}` (the diagonal)."""
    arr = check_anticipations(game, anticipations)
    idx = np.arange(game.n_agents)
    return ProductPolicy(game, arr[idx, idx], _checked=True)


def anticipated_policies(game, anticipations) -> list[ProductPolicy]:
    r"""Def. 1: :math:`\tilde\pi^i = \prod_j \pi^{ij}` for every agent i (product policies)."""
    arr = check_anticipations(game, anticipations)
    return [ProductPolicy(game, arr[i], _checked=True) for i in range(game.n_agents)]


# ------------------------------------------------------------------ returns, advantages
def team_return(game, policy, *, evaluation=None) -> float:
    r""":math:`\eta(\pi) = \sum_i E_{s_0\sim\mu}[V_i^\pi(s_0)]`, eqs. (1) and (22): the sum
    (not the mean) of the agents' private discounted returns."""
    ev = check_evaluation(game, policy, evaluation)
    return float(ev.value_at_initial.sum())


def visitation(game, policy, *, normalized: bool = False, evaluation=None) -> np.ndarray:
    r""":math:`d^\pi(s) = \sum_t\gamma^t\Pr(s_t=s)` (unnormalized, the paper's convention,
    eq. (28)); ``normalized=True`` gives :math:`(1-\gamma)d^\pi`, a distribution."""
    ev = check_evaluation(game, policy, evaluation)
    d = ev.visitation.copy()
    return (1.0 - game.gamma) * d if normalized else d


def joint_advantages(game, policy, *, evaluation=None) -> np.ndarray:
    r""":math:`A_i^\pi(s, \mathbf a) = Q_i^\pi(s, \mathbf a) - V_i^\pi(s)` (eq. (2)), shape
    (N, S, A) over joint actions ``a = ravel_multi_index``."""
    ev = check_evaluation(game, policy, evaluation)
    return ev.q - ev.values[:, :, None]


def max_abs_advantages(game, policy, *, evaluation=None) -> np.ndarray:
    r""":math:`\max_{s,\mathbf a}|A_i^\pi(s,\mathbf a)|` per agent, shape (N,) (the factor of
    eqs. (7), (8), (10) and :math:`\kappa_i` of eq. (12)); over all states and joint actions."""
    return np.abs(joint_advantages(game, policy, evaluation=evaluation)).max(axis=(1, 2))


def _expected_q(game, values, policy) -> np.ndarray:
    """E_{a ~ policy(.|s)}[r_k(s, a) + gamma sum_s' P(s'|s, a) V_k(s')], shape (N, S)."""
    return game.policy_rewards(policy) + game.gamma * game.continuation(values, policy, ())


def zeta(game, reference, other, *, evaluation=None, per_agent: bool = False):
    r"""The total expected advantage of 004, eqs. (5), (6) and (9).

    * ``other`` a :class:`ProductPolicy` :math:`\pi`: eq. (5),
      :math:`\zeta_{\pi'}(\pi) = E_{s\sim d^{\pi'}, \mathbf a\sim\pi}
      [\sum_i A_i^{\pi'}(s,\mathbf a)]`;
    * ``other`` an anticipation array (N, N, S, A_max) :math:`\tilde\Pi`: eq. (6),
      :math:`\zeta_{\pi'}(\tilde\Pi) = \sum_i E_{s\sim d^{\pi'}, \mathbf a\sim\tilde\pi^i}
      [A_i^{\pi'}(s, \mathbf a)]` (eq. (9) with :math:`\pi' = \pi_{old}`).

    ``reference`` is :math:`\pi'`; d is unnormalized. Computed as :math:`\sum_s d(s)
    (E_{\mathbf a}[Q_i(s, \mathbf a)] - V_i(s))` through the game's marginals (factored games
    too). ``per_agent=True`` returns the N summands.
    """
    ev = check_evaluation(game, reference, evaluation)
    if isinstance(other, ProductPolicy):
        game.check_policy(other, "other")
        gain = _expected_q(game, ev.values, other) - ev.values           # (N, S)
    else:
        pols = anticipated_policies(game, other)
        gain = np.stack([game.policy_rewards(p)[i]
                         + game.gamma * game.continuation(ev.values[i:i + 1], p, ())[0]
                         for i, p in enumerate(pols)]) - ev.values
    terms = gain @ ev.visitation
    return terms if per_agent else float(terms.sum())


def penalty_constant(game, policy, *, evaluation=None) -> float:
    r""":math:`C = 4\gamma\max_{s,\mathbf a}|\sum_i A_i^{\pi}(s,\mathbf a)|/(1-\gamma)^2`,
    Lemma 1, eq. (5) (TRPO's constant for the summed reward)."""
    A = joint_advantages(game, policy, evaluation=evaluation).sum(axis=0)
    return float(4.0 * game.gamma * np.abs(A).max() / (1.0 - game.gamma) ** 2)


def kappa(game, policy, kind: str = "max", *, evaluation=None) -> np.ndarray:
    r""":math:`\kappa_i`, shape (N,).

    ``"max"``: :math:`\max_{s,\mathbf a}|A_i^{\pi_{old}}(s,\mathbf a)|` (eq. (12)).
    ``"mean"``: the implementation details of Sec. 4.3 use
    :math:`\hat\kappa_i = \mathrm{mean}_{s,\mathbf a}|\hat A_i|` over the on-policy batch;
    its exact expectation is :math:`E_{s\sim(1-\gamma)d^{\pi_{old}},\,\mathbf a\sim\pi_{old}}
    |A_i^{\pi_{old}}(s,\mathbf a)|` (normalized visitation: a batch mean), which we use.
    """
    kind = check_choice(kind, "kind", ("max", "mean"))
    ev = check_evaluation(game, policy, evaluation)
    absA = np.abs(joint_advantages(game, policy, evaluation=ev))
    if kind == "max":
        return absA.max(axis=(1, 2))
    w = (1.0 - game.gamma) * ev.visitation[:, None] * policy.joint_probs()
    return np.einsum("sa,isa->i", w, absA)


def f_constant(game, policy, *, evaluation=None) -> float:
    r""":math:`f^{\pi'} = \sum_i \tfrac12\max_{s,\mathbf a}|A_i^{\pi'}(s,\mathbf a)|\,
    |\mathcal A|\,\|d^{\pi'}\|_2^2`, eq. (8)/(31); :math:`|\mathcal A| = \prod_i|\mathcal A^i|`
    is the joint action count (Sec. 3 defines :math:`\mathcal A` as the joint space), d
    unnormalized."""
    ev = check_evaluation(game, policy, evaluation)
    M = max_abs_advantages(game, policy, evaluation=ev)
    return float(0.5 * M.sum() * game.n_joint_actions * np.sum(ev.visitation ** 2))


def anticipation_sq_distance(game, anticipations) -> np.ndarray:
    r""":math:`\sum_{s,\mathbf a}(\tilde\pi^i(\mathbf a|s) - \pi(\mathbf a|s))^2` for every
    agent i, shape (N,) (eqs. (7), (10)), without a joint table: for product distributions
    :math:`\sum_{\mathbf a}(\prod_j p_j - \prod_j q_j)^2 = \prod_j\|p_j\|^2 -
    2\prod_j\langle p_j, q_j\rangle + \prod_j\|q_j\|^2`, per state."""
    arr = check_anticipations(game, anticipations)
    N = game.n_agents
    idx = np.arange(N)
    q = arr[idx, idx]                                   # actual (N, S, A)
    qq = np.prod(np.sum(q * q, axis=-1), axis=0)        # (S,)
    pp = np.prod(np.sum(arr * arr, axis=-1), axis=1)    # (N, S)
    pq = np.prod(np.sum(arr * q[None], axis=-1), axis=1)
    return np.maximum(pp - 2.0 * pq + qq[None], 0.0).sum(axis=1)


# ------------------------------------------------------------------ KL
def kl_per_agent(old, new) -> np.ndarray:
    r""":math:`D_{KL}(\pi_{old}^{i}(\cdot|s)\|\pi_{new}^{i}(\cdot|s))`, shape (N, S); ``inf``
    where the new policy drops an action the old one plays."""
    P, Q = np.asarray(getattr(old, "probs", old)), np.asarray(getattr(new, "probs", new))
    if P.shape != Q.shape:
        raise ValueError(f"policies of different shapes {P.shape} and {Q.shape}")
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(P > 0, P * (np.log(np.where(P > 0, P, 1.0)) - np.log(Q)), 0.0)
    return terms.sum(axis=-1)


def kl_max_joint(old, new) -> float:
    r""":math:`D_{KL}^{\max}(\pi_{old}\|\pi_{new}) = \max_s D_{KL}(\pi_{old}(\cdot|s)\|
    \pi_{new}(\cdot|s))` of the **joint** product policies (eq. (5)). The KL of product
    distributions is the sum of the factors' KLs (chain rule), so this is
    :math:`\max_s\sum_i D_{KL}(\pi^i_{old}(\cdot|s)\|\pi^i_{new}(\cdot|s))` (tests check it
    against the joint table)."""
    return float(kl_per_agent(old, new).sum(axis=0).max())


def kl_max_agents(old, new) -> np.ndarray:
    r""":math:`D_{KL}^{\max}(\pi^{ii}_{old}\|\pi^{ii}_{new}) = \max_s D_{KL}(\cdot)` per agent,
    shape (N,) (eqs. (10), (35))."""
    return kl_per_agent(old, new).max(axis=-1)


# ------------------------------------------------------------------ the bounds
def lemma1_bound(game, old, new, *, evaluation=None) -> float:
    r"""The right side of Lemma 1, eq. (4):
    :math:`\eta(\pi_{old}) + \zeta_{\pi_{old}}(\pi_{new}) - C\,D_{KL}^{\max}(\pi_{old}\|
    \pi_{new})` (``-inf`` when the KL is infinite)."""
    ev = check_evaluation(game, old, evaluation)
    kl = kl_max_joint(old, new)
    if not np.isfinite(kl):
        return -np.inf
    return (team_return(game, old, evaluation=ev) + zeta(game, old, new, evaluation=ev)
            - penalty_constant(game, old, evaluation=ev) * kl)


def lemma2_bound(game, reference, anticipations, *, evaluation=None) -> float:
    r"""The right side of Lemma 2, eq. (7): :math:`f^{\pi'} + \sum_i\tfrac12
    \max|A_i^{\pi'}|\sum_{s,\mathbf a}(\tilde\pi^i - \pi)^2`, with :math:`\pi` the actual
    policy (diagonal of ``anticipations``)."""
    ev = check_evaluation(game, reference, evaluation)
    M = max_abs_advantages(game, reference, evaluation=ev)
    return (f_constant(game, reference, evaluation=ev)
            + float(0.5 * M @ anticipation_sq_distance(game, anticipations)))


def theorem1_bound(game, old, anticipations, *, evaluation=None) -> float:
    r"""The right side of Theorem 1, eq. (10):

    .. math:: \eta(\pi_{old}) - C\sum_i D_{KL}^{\max}(\pi^{ii}_{old}\|\pi^{ii}_{new})
              - f^{\pi_{old}} - \sum_i\tfrac12\max|A_i^{\pi_{old}}|
              \sum_{s,\mathbf a}(\tilde\pi^i_{new} - \pi_{new})^2

    with :math:`\pi_{new}` the diagonal of ``anticipations`` (:math:`\tilde\Pi_{new}`).
    ``-inf`` when a KL is infinite. The left side is :math:`\eta(\pi_{new}) -
    \zeta_{\pi_{old}}(\tilde\Pi_{new})`."""
    ev = check_evaluation(game, old, evaluation)
    new = actual_policy(game, anticipations)
    kl = kl_max_agents(old, new).sum()
    if not np.isfinite(kl):
        return -np.inf
    return (team_return(game, old, evaluation=ev)
            - penalty_constant(game, old, evaluation=ev) * kl
            - lemma2_bound(game, old, anticipations, evaluation=ev))


def discrepancy_mse(game, anticipations, pairs=None) -> float:
    r"""Mean squared difference between anticipations and the actual policies (Fig. 7,
    bottom): the mean of :math:`(\pi^{ij}(a_j|s) - \pi^{jj}(a_j|s))^2` over ordered pairs
    ``pairs`` (default every i != j), states and agent j's actions (uniform weights)."""
    arr = check_anticipations(game, anticipations)
    N = game.n_agents
    if pairs is None:
        pairs = [(i, j) for i in range(N) for j in range(N) if i != j]
    if not pairs:
        return 0.0
    tot, cnt = 0.0, 0
    for i, j in pairs:
        n = game.action_sizes[j]
        diff = arr[i, j, :, :n] - arr[j, j, :, :n]
        tot += float(np.sum(diff * diff))
        cnt += diff.size
    return tot / cnt
