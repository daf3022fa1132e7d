r"""The alpha-fair objective of 000 (Sec. 2.4, Sec. 3.1) and its exact trust-region quantities.

Reading of the *contextualized state* (000, Sec. 2.2, Def. 3.1, App. A.1 Def. A.2)
-------------------------------------------------------------------------------
000 augments a state :math:`\tilde s` with a context :math:`\tilde c`, the initial state of
the trajectory, which never changes (:math:`P((\tilde s', \tilde c')|(\tilde s, \tilde c),
a) = \tilde P(\tilde s'|\tilde s, a) 1\{\tilde c' = \tilde c\}`, rewards ignore
:math:`\tilde c`). We read it as a *bookkeeping device only*:

* policies stay functions of the base state :math:`\tilde s` (the practical algorithms act on
  observations, which carry no context), so ``ProductPolicy`` tables are unchanged;
* values, Q and advantages of the contextualized game equal the base game's:
  :math:`V_j((\tilde s, \tilde c)) = V_j(\tilde s)`;
* the only context-dependent quantity is the fair weight of Def. 3.1,
  :math:`1/\mathcal V_j(\tilde s, \tilde c) = (\nu + V_j(\tilde c))^{-\alpha}`, the weight of
  agent j along every trajectory that *started* in :math:`\tilde c`;
* the (unnormalized) contextualized visitation is
  :math:`d_\pi(\tilde s, \tilde c) = \mu(\tilde c)\, d^\pi_{\tilde c}(\tilde s)`, with
  :math:`d^\pi_{\tilde c}` the visitation from the point mass at :math:`\tilde c`
  (:func:`contextual_visitation`), so that :math:`\sum_{\tilde c} d_\pi(\cdot, \tilde c) =
  d_\mu^\pi` and every expectation :math:`E_{s\sim d_\pi}[\sum_j A_j(s, a)/\mathcal V_j(s)]`
  is :math:`\sum_{j, \tilde s} \Omega_j(\tilde s)\, E[A_j(\tilde s, a)]` with the *fair
  visitation* :math:`\Omega_j(\tilde s) = \sum_{\tilde c}\mu(\tilde c)(\nu +
  V_j(\tilde c))^{-\alpha} d^\pi_{\tilde c}(\tilde s)` (:func:`fair_visitation`; one
  transposed solve per agent, no joint table, factored games included).
* :math:`D_{KL}^{\max}` is a max over contextualized states, equal to the max over base
  states since policies ignore the context.

With this reading Lemma 3.4 holds exactly (the surrogate is the Gateaux derivative of J, see
the tests). Rewards must be >= 0 (000, Sec. 2.2) so that :math:`\nu + V_j > 0`.

The utility (000, Sec. 2.4)
---------------------------
The printed :math:`U_\alpha(x) = x^{1-\alpha}/(1-\alpha)` is discontinuous at
:math:`\alpha = 1` (it tends to :math:`\pm\infty`, not to :math:`\ln x`). We use
:math:`U_\alpha(x) = (x^{1-\alpha} - 1)/(1-\alpha)`
(``fairmg.fairness.alpha_fair_utility(x, alpha, centered=True)``), which differs from the
printed one by the constant :math:`-1/(1-\alpha)` per agent: every difference
:math:`J(\pi') - J(\pi)`, derivative, advantage, bound and algorithm of the paper is
unchanged, and :math:`U_\alpha` is continuous in :math:`\alpha` on :math:`[0, \infty)`, with
:math:`U_1 = \ln` and :math:`U_0(x) = x - 1`. At :math:`\alpha = \infty` no value limit
exists (:math:`U_\alpha(x) \to 0` for x > 1, :math:`-\infty` for x < 1); the paper's
"equivalent to the Rawlsian welfare" holds for the power-mean form
``form="mean"`` of :func:`fair_objective`, continuous on all of :math:`[0, \infty]`.
"""
from __future__ import annotations

import numpy as np

from ._validate import check_game, check_int, check_scalar
from .evaluate import check_evaluation

__all__ = ["fair_objective", "fair_weights", "contextual_visitation",
           "fair_visitation", "fair_advantage", "multi_agent_fair_advantage", "surrogate",
           "sequential_surrogate", "sequential_table", "penalty_constant", "kl_max",
           "max_abs_advantage", "trust_region_argmax", "TrustRegionSolution"]


# ------------------------------------------------------------------ checks
def _alpha(alpha, *, allow_inf: bool = True) -> float:
    if isinstance(alpha, (float, np.floating)) and np.isinf(alpha) and alpha > 0:
        if not allow_inf:
            raise ValueError("alpha = inf (Rawlsian) has no fair advantage (the weights "
                             "(nu + V)^-alpha vanish or blow up); use a finite alpha")
        return float("inf")
    return check_scalar(alpha, "alpha")


def _nu(nu) -> float:
    return check_scalar(nu, "nu", positive=True)


def _evaluation(game, policy, evaluation):
    return check_evaluation(game, policy, evaluation)   # type, game, policy: named


def _shifted(game, values, nu) -> np.ndarray:
    x = nu + values
    if np.any(x <= 0):
        j, s = np.argwhere(x <= 0)[0]
        raise ValueError(f"nu + V_{j}({s}) = {x[j, s]:.6g} <= 0: 000 assumes rewards >= 0 "
                         f"(Sec. 2.2) and nu > 0")
    return x


# ------------------------------------------------------------------ utility and objective
def fair_objective(game, policy, alpha, nu, *, form: str = "utility",
                   per_initial: bool = False, evaluation=None):
    r"""The fair global objective J of 000, Sec. 3.1, per initial state.

    .. math:: J(\pi) = E_{s_0\sim\mu}\Big[\sum_{i=1}^n U_\alpha(\nu + V_i^\pi(s_0))\Big]

    with :math:`U_\alpha(x) = (x^{1-\alpha} - 1)/(1-\alpha)`, :math:`U_1 = \ln`
    (:func:`fairmg.fairness.alpha_fair_utility`, ``centered=True``; ``form="utility"``,
    the paper's J up to the constant :math:`-n/(1-\alpha)`, continuous in alpha).
    ``alpha`` in :math:`[0, \infty]`:

    * ``alpha = 0``: :math:`E_\mu[\sum_i (\nu + V_i(s_0))] - n` (utilitarian, affine in the
      welfare);
    * ``alpha = 1``: :math:`E_\mu[\sum_i \ln(\nu + V_i(s_0))]` (proportional fairness);
    * ``alpha = inf``: the Rawlsian closed form :math:`E_\mu[n \min_i (\nu + V_i(s_0))]`.

    ``form="mean"`` returns :math:`E_\mu[n\, M_{1-\alpha}(\nu + V(s_0))]` with the power mean
    :math:`M_p(x) = (\frac1n\sum_i x_i^p)^{1/p}` (geometric mean at p = 0, min at
    :math:`p = -\infty`): a monotone transform of the summand per initial state, continuous
    on all of :math:`[0, \infty]`, equal to the Rawlsian form at infinity and to
    :math:`E_\mu[\sum_i(\nu + V_i)]` at 0 (with one initial state it has J's maximizers).

    Parameters
    ----------
    game : Game
    policy : ProductPolicy
    alpha : float in [0, inf]
    nu : float > 0
    form : {"utility", "mean"}
    per_initial : bool
        Return the summand for every initial state (shape (S,)) instead of its
        mu-expectation.
    evaluation : Evaluation, optional
        ``fairmg.evaluate(game, policy)`` if already computed.
    """
    a, v = _alpha(alpha), _nu(nu)
    ev = _evaluation(game, policy, evaluation)
    x = _shifted(game, ev.values, v)                       # (N, S)
    n = x.shape[0]
    if form not in ("utility", "mean"):
        raise ValueError(f"form must be 'utility' or 'mean', got {form!r}")
    from .fairness import alpha_fair_utility, equally_distributed_equivalent
    if np.isinf(a):
        per = n * x.min(axis=0)
    elif form == "utility":
        per = alpha_fair_utility(x, a, centered=True).sum(axis=0)
    else:
        per = n * np.atleast_1d(equally_distributed_equivalent(x.T, a))
    if per_initial:
        return per
    return float(per @ game.initial)


# ------------------------------------------------------------------ weights and visitation
def fair_weights(game, policy, alpha, nu, *, evaluation=None) -> np.ndarray:
    r"""The weights :math:`1/\mathcal V_j(\cdot, \tilde c) = (\nu + V_j(\tilde c))^{-\alpha}`
    of 000 Def. 3.1, shape (N, S) indexed by the context (initial state) :math:`\tilde c`.
    Equal to :math:`U_\alpha'(\nu + V_j(\tilde c))`; at alpha = 0 all ones, whatever the
    sign of the values (the unfair algorithms on games with penalties)."""
    a, v = _alpha(alpha, allow_inf=False), _nu(nu)
    ev = _evaluation(game, policy, evaluation)
    if a == 0:
        return np.ones_like(ev.values)
    return _shifted(game, ev.values, v) ** (-a)


def contextual_visitation(game, policy) -> np.ndarray:
    r"""The unnormalized visitation of the contextualized game (000 Def. A.2), shape (S, S):
    ``d[c, s]`` :math:`= \mu(c)\, d^\pi_c(s)`, :math:`d^\pi_c(s) = \sum_t \gamma^t
    \Pr(s_t = s | s_0 = c)`. Rows with :math:`\mu(c) = 0` are zero; the column sums are
    :math:`d_\mu^\pi` and the total is :math:`1/(1-\gamma)`."""
    check_game(game).check_policy(policy)
    system = game.policy_system(policy)
    S = game.n_states
    out = np.zeros((S, S))
    for c in np.flatnonzero(game.initial > 0):
        e = np.zeros(S)
        e[c] = game.initial[c]
        out[c] = system.solve_transposed(e)
    return out


def fair_visitation(game, policy, alpha, nu, *, evaluation=None) -> np.ndarray:
    r""":math:`\Omega_j(s) = \sum_c \mu(c)\,(\nu + V_j(c))^{-\alpha}\, d^\pi_c(s)`, shape (N, S):
    the contextualized visitation weighted by Def. 3.1's weights and summed over contexts.
    Every surrogate of 000 is :math:`\sum_{j,s}\Omega_j(s)\,E[A_j(s, \cdot)]`. Computed as
    :math:`(I - \gamma P_\pi)^{-\top}(\mu \odot w_j)`, one transposed solve per agent."""
    ev = _evaluation(game, policy, evaluation)
    w = fair_weights(game, policy, alpha, nu, evaluation=ev)
    system = game.policy_system(policy)
    return np.stack([system.solve_transposed(game.initial * w[j])
                     for j in range(game.n_agents)])


# ------------------------------------------------------------------ advantages
def _joint_advantages(game, ev) -> np.ndarray:
    """A_j(s, a) = Q_j(s, a) - V_j(s) on joint actions, (N, S, A)."""
    return ev.q - ev.values[:, :, None]


def max_abs_advantage(game, policy, *, evaluation=None) -> float:
    r""":math:`A_{\max} = \max_{j, s, a}|A_j^\pi(s, a)|` over joint actions (000 Lemma 3.1,
    Algorithm 1 line 4's :math:`\omega`)."""
    ev = _evaluation(game, policy, evaluation)
    return float(np.abs(_joint_advantages(game, ev)).max())


def fair_advantage(game, policy, alpha, nu, *, evaluation=None) -> np.ndarray:
    r"""The fair advantage of 000 eq. (5) on contextualized states, shape (S_c, S, A):

    .. math:: A_F^\pi((s, c), a) = \sum_{j=1}^n \frac{A_j^\pi(s, a)}{\mathcal V_j^\pi(s, c)}
              = \sum_j (\nu + V_j(c))^{-\alpha} A_j^\pi(s, a).

    Axis 0 is the context c (every state; only :math:`\mu(c) > 0` matter), axis 2 the
    joint action. Needs the joint table (N, S, A) to fit in memory.
    """
    ev = _evaluation(game, policy, evaluation)
    w = fair_weights(game, policy, alpha, nu, evaluation=ev)
    return np.einsum("jc,jsa->csa", w, _joint_advantages(game, ev))


def multi_agent_fair_advantage(game, policy, alpha, nu, agents, given=(), *,
                               evaluation=None) -> np.ndarray:
    r"""The multi-agent fair advantage of 000 eq. (8), from eqs. (6)-(7):

    .. math:: A_F^{\pi, I_m}((s, c), a^{J_k}, a^{I_m}) = \sum_j (\nu + V_j(c))^{-\alpha}
              \big[Q_j^{\pi, J_k \sqcup I_m}(s, a^{J_k}, a^{I_m}) - Q_j^{\pi, J_k}(s, a^{J_k})\big]

    with :math:`Q_j^{\pi, K}` agent j's Q marginalized over the agents outside K under
    :math:`\pi` (:func:`fairmg.marginals.multi_agent_advantage`; no joint table for
    factored games). Shape (S_c, S, A_{given...}, A_{agents...}).
    """
    from .marginals import multi_agent_advantage
    ev = _evaluation(game, policy, evaluation)
    w = fair_weights(game, policy, alpha, nu, evaluation=ev)
    adv = multi_agent_advantage(game, policy, agents, given, values=ev.values)
    return np.tensordot(w.T, adv, axes=(1, 0))


# ------------------------------------------------------------------ surrogates
def _expected_q(game, values, policy) -> np.ndarray:
    """E_{a ~ policy(.|s)}[r_j(s, a) + gamma sum_s' P(s'|s, a) V_j(s')], shape (N, S)."""
    return game.policy_rewards(policy) + game.gamma * game.continuation(values, policy, ())


def surrogate(game, policy, other, alpha, nu, *, evaluation=None) -> float:
    r"""The surrogate of 000 Lemma 3.1,
    :math:`\mathcal L_\pi(\pi') = E_{s\sim d_\pi, a\sim\pi'(\cdot|s)}[A_F^\pi(s, a)]`
    (contextualized :math:`d_\pi`, unnormalized) :math:`= \sum_{j,s}\Omega_j(s)
    (E_{a\sim\pi'}[Q_j^\pi(s, a)] - V_j^\pi(s))`. Equals the Gateaux derivative of J at
    :math:`\pi` towards :math:`\pi'` (Lemma 3.4)."""
    ev = _evaluation(game, policy, evaluation)
    game.check_policy(other, "other")
    omega = fair_visitation(game, policy, alpha, nu, evaluation=ev)
    return float(np.sum(omega * (_expected_q(game, ev.values, other) - ev.values)))


def _order(game, order) -> tuple[int, ...]:
    order = game.check_agents(order, "order")
    if len(order) != game.n_agents:
        raise ValueError(f"order must be a permutation of the {game.n_agents} agents, got "
                         f"{order}")
    return order


def sequential_table(game, policy, updated, order, m, alpha, nu, *, evaluation=None,
                     omega=None) -> np.ndarray:
    r"""Coefficients :math:`W[s, a]` of agent :math:`i_m`'s linear surrogate (000 eq. (10)):

    .. math:: W[s, a] = \sum_j \Omega_j(s)\,
              E_{a^{I_{m-1}}\sim\pi'^{I_{m-1}},\ a^{-I_m}\sim\pi^{-I_m}}
              [Q_j^\pi(s, a^{I_{m-1}}, a, a^{-I_m})],

    so that :math:`\mathcal L^{I_m}_\pi(\pi'^{I_{m-1}}, \hat\pi^{i_m}) = \sum_{s,a}
    (\hat\pi^{i_m}(a|s) - \pi^{i_m}(a|s))\, W[s, a]`. ``updated`` supplies
    :math:`\pi'` for :math:`I_{m-1}` (mixed in with :meth:`ProductPolicy.mix`); ``m`` is
    1-based. Shape (S, A_{i_m}).
    """
    ev = _evaluation(game, policy, evaluation)
    order = _order(game, order)
    m = check_int(m, "m", low=1, high=game.n_agents)
    i = order[m - 1]
    mixed = policy.mix(updated, order[: m - 1]) if m > 1 else policy
    q = game.reward_marginal(mixed, (i,)) + game.gamma * game.continuation(ev.values, mixed,
                                                                           (i,))
    if omega is None:
        omega = fair_visitation(game, policy, alpha, nu, evaluation=ev)
    return np.einsum("js,jsa->sa", omega, q)


def sequential_surrogate(game, policy, other, order, m, alpha, nu, *,
                         evaluation=None) -> float:
    r""":math:`\mathcal L^{I_m}_\pi(\pi'^{I_{m-1}}, \pi'^{i_m})` of 000 Def. 3.3, eq. (10):

    .. math:: E_{s\sim d_\pi,\ a^{I_{m-1}}\sim\pi'^{I_{m-1}},\ a^{i_m}\sim\pi'^{i_m}}
              [A_F^{\pi, i_m}(s, a^{I_{m-1}}, a^{i_m})]

    for the order ``order`` (a permutation) and 1-based ``m``; zero when
    :math:`\pi'^{i_m} = \pi^{i_m}` (eq. (11)); the sum over m is :math:`\mathcal
    L_\pi(\pi')` (Lemma 3.2)."""
    ev = _evaluation(game, policy, evaluation)
    game.check_policy(other, "other")
    order = _order(game, order)
    i = order[check_int(m, "m", low=1, high=game.n_agents) - 1]
    W = sequential_table(game, policy, other, order, m, alpha, nu, evaluation=ev)
    n = game.action_sizes[i]
    return float(np.sum((other.probs[i, :, :n] - policy.probs[i, :, :n]) * W))


def penalty_constant(game, policy, alpha, nu, *, evaluation=None) -> float:
    r"""C of 000 Lemma 3.1 (and Algorithm 1 line 4):

    .. math:: C = \frac{4 n \alpha \nu^{-1-\alpha}}{(1-\gamma)^2} A_{\max}^2
              + \frac{4 n A_{\max}\gamma}{\nu^\alpha (1-\gamma)^2}

    Algorithm 1 prints :math:`\epsilon^\alpha` in the second term; :math:`\epsilon` is the
    paper's earlier name of :math:`\nu` (eq. (21), Lemma A.4), so we use :math:`\nu^\alpha`
    as in Lemma 3.1. At :math:`\alpha = 0` this is HATRL's :math:`4 n\gamma
    A_{\max}/(1-\gamma)^2` with the per-agent :math:`A_{\max}` (the summed advantage's
    max is at most :math:`n A_{\max}`).
    """
    a, v = _alpha(alpha, allow_inf=False), _nu(nu)
    A = max_abs_advantage(game, policy, evaluation=evaluation)
    n, g = game.n_agents, game.gamma
    # in logarithms: nu^(-1-alpha) and nu^alpha leave float64 for large alpha (a Python
    # float power raises OverflowError there); C overflows to inf (no step) instead
    with np.errstate(divide="ignore", over="ignore"):
        base = np.log(4.0 * n) - 2.0 * np.log1p(-g)
        t1 = np.exp(base + np.log(a) + 2.0 * np.log(A) - (1.0 + a) * np.log(v))
        t2 = np.exp(base + np.log(A) + np.log(g) - a * np.log(v))
    return float(t1 + t2)


def kl_max(p, q) -> float:
    r""":math:`D_{KL}^{\max}(\pi\|\pi') = \max_s D_{KL}(\pi(\cdot|s)\|\pi'(\cdot|s))` of two
    product policies; the joint KL is the sum of the agents' (000 Lemma B.6). ``inf`` when
    :math:`\pi'` puts zero mass where :math:`\pi` does not."""
    P, Q = p.probs, q.probs
    if P.shape != Q.shape:
        raise ValueError(f"policies of different shapes {P.shape} and {Q.shape}")
    with np.errstate(divide="ignore", invalid="ignore"):
        terms = np.where(P > 0, P * (np.log(P) - np.log(Q)), 0.0)
    return float(terms.sum(axis=(0, 2)).max())


# ------------------------------------------------------------------ the trust-region argmax
class TrustRegionSolution(tuple):
    """``(q, value)`` of :func:`trust_region_argmax`, with ``gap`` (certified duality gap),
    ``kl`` (max-KL of the solution), ``iterations``, ``converged``."""

    def __new__(cls, q, value, gap, kl, iterations, converged):
        self = super().__new__(cls, (q, value))
        self.q, self.value, self.gap, self.kl = q, value, gap, kl
        self.iterations, self.converged = iterations, converged
        return self


def _x_minus_log1p(x):
    """x - log(1 + x) >= 0 for x > -1, accurate for small |x| (a series below 1e-4)."""
    x = np.asarray(x, dtype=np.float64)
    small = np.abs(x) < 1e-4
    xs = np.where(small, x, 0.0)
    series = xs * xs * (0.5 - xs * (1.0 / 3 - xs * (0.25 - xs / 5)))
    with np.errstate(divide="ignore", invalid="ignore"):
        direct = x - np.log1p(np.where(small, 0.0, x))
    return np.where(small, series, direct)


def _state_parts(W, p, supp):
    """kappa-independent pieces of :func:`_state_solution`."""
    Wsup = np.where(supp, W, -np.inf)
    top = Wsup.max(axis=1)                                   # max over the support
    off = np.where(supp, -np.inf, W).max(axis=1)             # best action off the support
    gap = np.where(supp, top[:, None] - W, np.inf)           # >= 0 on the support
    dmin = np.maximum(off - top, 0.0)                        # delta >= dmin
    pinv = np.where(supp, p, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        lam_min = np.where(dmin > 0, 1.0 / np.sum(pinv / (dmin[:, None] + gap), axis=1), 0.0)
        plogp = np.where(supp, pinv * np.log(np.where(supp, p, 1.0)), 0.0).sum(axis=1)
    return off, gap, dmin, pinv, lam_min, plogp


def _state_solution(kappa, W, p, supp, parts=None, *, want_q=True):
    """Per-state maximizer of <q, W> - lam KL(p||q) parametrized by kappa > 0 (vectorized
    over states): q_a = lam p_a / (delta + g_a) on the support (g_a = max_supp W - W_a),
    leftover mass on the best off-support action. Returns (q, lam, KL, dKL/dlog kappa)."""
    off, gap, dmin, pinv, lam_min, plogp = parts if parts is not None else _state_parts(
        W, p, supp)
    low = kappa <= lam_min                                   # leftover mass goes off-support
    delta = np.where(low, dmin, dmin + (kappa - lam_min))
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        inv = 1.0 / (delta[:, None] + gap)                   # 1 / (mu - W_a)
        ratio = pinv * inv
        s1 = ratio.sum(axis=1)
        s2 = (ratio * inv).sum(axis=1)
        lam = np.where(low, kappa, 1.0 / s1)
        # KL(p||q) = sum_a p_a (x_a - log1p(x_a)) + (1 - sum_supp q), x_a = q_a/p_a - 1 =
        # lam/(delta + g_a) - 1: term-wise >= 0, no cancellation when q is close to p
        # (the textbook -log lam + sum p log(delta + g) loses every digit there)
        # (far from p, where r_a = 1 + x_a under- or overflows, r - 1 - log r with
        # log r = log lam - log(delta + g_a) instead)
        r = lam[:, None] * inv
        x = np.where(supp, r - 1.0, 0.0)
        logr = np.log(lam)[:, None] - np.log(np.where(supp, delta[:, None] + gap, 1.0))
        term = np.where(np.abs(x) < 0.5, _x_minus_log1p(np.where(np.abs(x) < 0.5, x, 0.0)),
                        r - 1.0 - logr)
        kl = np.where(supp, pinv * term, 0.0).sum(axis=1) + np.where(
            low, np.maximum(1.0 - lam * s1, 0.0), 0.0)
        dkl = np.where(low, -1.0, (s1 - s2 / s1) * kappa)
        q = None
        if want_q:
            q = np.where(supp, lam[:, None] * ratio, 0.0)
            rest = np.maximum(1.0 - q.sum(axis=1), 0.0)
            offmask = (~supp) & (W >= off[:, None]) & low[:, None]
            cnt = np.maximum(offmask.sum(axis=1), 1)
            q = q + offmask * (rest / cnt)[:, None]
    return q, lam, np.maximum(kl, 0.0), dkl


def trust_region_argmax(W, p, C, *, tol: float = 1e-10, max_iter: int = 200
                        ) -> TrustRegionSolution:
    r"""Exact maximizer of :math:`F(q) = \sum_s\langle q_s - p_s, W_s\rangle - C\max_s
    D_{KL}(p_s\|q_s)` over tables ``q[s, :]`` in the simplex (000 Algorithm 1 line 7).

    KL direction: :math:`D_{KL}(\pi_k\|\pi)` (old policy first), as printed in Algorithm 1
    and Lemma 3.1; max over states, as in Lemma 3.3 and the proof of Theorem 3.5 (eq. (70);
    Algorithm 1 line 7 drops the "max", which would not give Lemma 3.3's bound).

    Method: F is concave; with a common KL level t, :math:`\max_t\sum_s\phi_s(t) - Ct`,
    :math:`\phi_s(t) = \max\{\langle q, W_s\rangle : D_{KL}(p_s\|q)\le t\}`. The KKT
    conditions give :math:`q_a = \lambda_s p_a/(\mu_s - W_{s,a})` on the support of
    :math:`p_s` (mass off the support goes to its best action), with
    :math:`\sum_s\lambda_s = C` and equal KL t on the states with :math:`\lambda_s > 0`.
    An outer safeguarded regula falsi on :math:`\log t` (until :math:`\sum_s\lambda_s =
    C`) over an inner safeguarded Newton per state on the multiplier's parameter (q, KL and
    its derivative in closed form); rows whose support is flat are decided exactly (stay
    iff :math:`\sum_s \lambda_{\min}(s) \le C`). The result is certified by the
    Lagrangian dual bound
    :math:`\sum_s\max_q[\langle q - p_s, W_s\rangle - \lambda_s D_{KL}] +
    (\sum\lambda_s - C)^+ B/C` (with :math:`B \ge C t^*`), tightened by Pinsker's bound
    :math:`F \le R^2/(8C)` (:math:`R = \sum_s \mathrm{range}(W_s)`; it certifies "no step"
    when C is huge) and by :math:`F \le B`; ``gap`` = dual - primal.

    Numerics: F is homogeneous (:math:`F(q; kW, kC) = kF(q; W, C)`), so the problem is
    solved at :math:`\max|W| = 1` after centring each row (every floor and bracket is
    relative; tables from 1e-300 to 1e300 behave alike), and every KL is evaluated as
    :math:`\sum_a p_a(r_a - 1 - \log r_a)`, :math:`r = q/p`, which keeps its digits when
    q is close to p (C >> max|W|). ``tests/test_trust_region_extremes.py`` checks the
    certificate from C = 5e-324 to inf, tables at 1e-300 .. 1e300, advantages of 1e6 and
    1e-12 in one table and near-deterministic rows; the one known loose case is a
    probability <= ~1e-300 on a row's best action with C << max|W| (solved, value >= 0,
    but ``converged`` False, certified only by F <= B).

    Parameters
    ----------
    W : ndarray (S, n)
    p : ndarray (S, n)
        Old policy rows (distributions).
    C : float >= 0
        0 gives the greedy policy (ties split evenly); values below ``1e-200 max|W|`` are
        raised to it; ``inf`` (or any C with :math:`R^2/(8C) \le` ``tol`` max|W|) gives
        ``q = p``. NaN or negative C is a ValueError.
    tol : float
        Stops when the certified ``gap <= tol * (max|W| + |value|)`` (max|W| of the
        centred rows); ``converged`` says whether it was reached.

    Returns
    -------
    TrustRegionSolution
        ``(q, value)`` with ``value = F(q) >= 0`` (``q = p`` gives 0), ``gap``, ``kl``.
    """
    W = np.asarray(W, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    if W.ndim != 2 or W.shape != p.shape:
        raise ValueError(f"W and p must be (S, n) tables of the same shape, got {W.shape} "
                         f"and {p.shape}")
    if not np.all(np.isfinite(W)):
        raise ValueError("W must be finite")
    if isinstance(C, (bool, np.bool_, str)) or np.ndim(C) != 0:
        raise TypeError(f"C must be a float >= 0, got {C!r}")
    C = float(C)
    if not C >= 0:
        raise ValueError(f"C is {C!r}, expected a float >= 0 (inf: no step)")
    supp = p > 0
    # <q - p, W_s> is unchanged by a per-row shift: centre each row at <p_s, W_s>, so that
    # tolerances and brackets follow the surrogate's spread, not its level
    # F is homogeneous: F(q; k W, k C) = k F(q; W, C). Solve at max|W| = 1 (every floor
    # and bracket below is then relative; no overflow near 1e308) and scale value and gap
    # back at the end.
    level = float(np.abs(W).max()) if W.size else 0.0
    if level > 1e300:                  # centring could overflow: divide first
        W = W / level
    else:                              # centre first: W = 1e12 + 1e-3 x keeps its digits
        level = 1.0
    W = W - np.sum(p * W, axis=1, keepdims=True)
    spread = float(np.abs(W).max()) if W.size else 0.0
    scale = level * spread
    if not spread > 0 or not scale > 0 or np.isinf(C):
        return TrustRegionSolution(p.copy(), 0.0, 0.0, 0.0, 0, True)
    W = W / spread
    with np.errstate(over="ignore"):
        C = C / scale                                        # may overflow to inf: no step
    best = W.max(axis=1)
    B = float(np.sum(best))                                  # max of the linear part
    if B <= 0:
        return TrustRegionSolution(p.copy(), 0.0, 0.0, 0.0, 0, True)
    if C <= 0:            # no penalty (0 * inf = 0): the greedy policy, ties split evenly
        top = W >= best[:, None]
        q = top / top.sum(axis=1, keepdims=True)
        q = np.where((best <= 0)[:, None], p, q)
        with np.errstate(all="ignore"):
            kl = float(np.where(p > 0, p * (np.log(p) - np.log(q)), 0.0).sum(axis=1).max())
        return TrustRegionSolution(q, B * scale, 0.0, kl, 0, True)
    # Pinsker: <q_s - p_s, W_s> <= TV(p_s, q_s) range(W_s) <= sqrt(KL / 2) range(W_s), so
    # F(q) <= R sqrt(t/2) - C t <= R^2 / (8 C) for every q (R = sum_s range(W_s)): a dual
    # bound valid for any C, which certifies "no step" when it is below the tolerance
    R = float(np.sum(W.max(axis=1) - W.min(axis=1)))
    pinsker = R * R / (8.0 * C) if np.isfinite(C) else 0.0
    if pinsker <= tol:
        return TrustRegionSolution(p.copy(), 0.0, pinsker * scale, 0.0, 0, True)
    # a penalty below 1e-200 max|W| (subnormal gammas or alphas) is raised to it: a more
    # conservative step, for which Lemma 3.3's bound (hence monotone J) still holds
    C = max(C, 1e-200)
    scale_in = scale
    scale = 1.0
    # kappa ~ delta must reach ~ p_a when a near-zero p_a sits on a row's best action
    # (q_a = lam p_a / delta): the floor follows the smallest positive probability
    p_min = float(p[supp].min()) if supp.any() else 1.0
    lo_k = np.log(max(min(scale, C) * 1e-30 * min(1.0, p_min), 1e-300))
    parts = _state_parts(W, p, supp)
    flat_rows = np.all(~supp | (parts[1] <= 0), axis=1)      # W constant on each support
    if flat_rows.all() and parts[4].sum() <= C:
        # every row: KL(p||q) grows linearly in the mass moved off the support, at a rate
        # lam_min(s) = (best off-support W) - W_support; lambda_s = lam_min(s) (sum <= C)
        # makes every per-state dual term exactly 0 = F(p): staying is optimal, certified.
        return TrustRegionSolution(p.copy(), 0.0, 0.0, 0.0, 0, True)
    hi_k = np.log(scale * 1e30 + C * 1e30)

    kl_floor = _state_solution(np.full(W.shape[0], np.exp(lo_k)), W, p, supp, parts,
                               want_q=False)[2]

    def kappa_for(t):
        """log kappa_s with KL_s(kappa_s) = t: safeguarded Newton (KL decreasing)."""
        lo = np.full(W.shape[0], lo_k)
        hi = np.full(W.shape[0], hi_k)
        u = 0.5 * (lo + hi)
        flat = kl_floor <= t
        for _ in range(200):
            _, _, kl, dkl = _state_solution(np.exp(u), W, p, supp, parts, want_q=False)
            f = kl - t
            lo = np.where(f > 0, u, lo)
            hi = np.where(f > 0, hi, u)
            done = (np.abs(f) <= 1e-14 * (t + 1e-300)) | (hi - lo < 1e-13) | flat
            if done.all():
                break
            with np.errstate(divide="ignore", invalid="ignore"):
                nxt = u - f / dkl
            bad = ~np.isfinite(nxt) | (nxt <= lo) | (nxt >= hi) | (dkl >= 0)
            u = np.where(done, u, np.where(bad, 0.5 * (lo + hi), nxt))
        return np.where(flat, lo_k, u)

    def evaluate_t(t):
        q, lam, kl, _ = _state_solution(np.exp(kappa_for(t)), W, p, supp, parts)
        return q, lam, kl

    def certify(q, lam, kl):
        lin = float(np.sum((q - p) * W))
        primal = lin - C * float(kl.max())
        dual = float(np.sum(np.sum((q - p) * W, axis=1) - lam * kl)) + max(
            float(lam.sum()) - C, 0.0) * B / C
        return primal, min(dual, pinsker, B)                 # F <= B: KL >= 0

    # bracket log t: sum(lam(t)) is decreasing in t
    t_hi = B / C                                             # C t* <= B
    t_lo = t_hi
    for _ in range(150):
        t_lo *= 1e-2
        if t_lo < 1e-280 or evaluate_t(t_lo)[1].sum() >= C:
            break
    lo, hi = np.log(t_lo), np.log(max(t_hi, t_lo))

    def phi(u):
        q, lam, kl = evaluate_t(np.exp(u))
        return np.log(max(lam.sum(), 1e-300)) - np.log(C), (q, lam, kl)

    with np.errstate(invalid="ignore", over="ignore", divide="ignore"):
        f_lo, sol_lo = phi(lo)
        f_hi, sol_hi = phi(hi)
        best_sol, it, dual = None, 0, np.inf
        side = 0
        for it in range(1, max_iter + 1):
            for sol in (sol_lo, sol_hi):
                primal, d = certify(*sol)
                dual = min(dual, d)
                if best_sol is None or primal > best_sol[1]:
                    best_sol = (sol[0], primal, sol[2])
            if dual - best_sol[1] <= tol * (1.0 + abs(best_sol[1])) or hi - lo < 1e-15:
                break
            if f_lo > 0 > f_hi and np.isfinite(f_lo) and np.isfinite(f_hi):   # regula falsi
                mid = hi - f_hi * (hi - lo) / (f_hi - f_lo)
                if not lo < mid < hi:
                    mid = 0.5 * (lo + hi)
            else:
                mid = 0.5 * (lo + hi)
            if it % 4 == 0:
                mid = 0.5 * (lo + hi)
            f_mid, sol_mid = phi(mid)
            if f_mid > 0:
                lo, f_lo, sol_lo = mid, f_mid, sol_mid
                if side == -1:
                    f_hi *= 0.5
                side = -1
            else:
                hi, f_hi, sol_hi = mid, f_mid, sol_mid
                if side == 1:
                    f_lo *= 0.5
                side = 1
    q, primal, kl = best_sol
    if not (np.isfinite(primal) and np.all(np.isfinite(q)) and np.isfinite(kl.max())):
        # never reached on the tested range (see tests/test_trust_region_extremes.py);
        # a safe answer rather than NaN: no update, certified only by Pinsker's bound
        return TrustRegionSolution(p.copy(), 0.0, pinsker * scale_in, 0.0, it, False)
    gap = max(dual - primal, 0.0)
    ok = gap <= tol * (1.0 + abs(primal)) or primal >= 0 and gap <= 1e-8
    if primal < 0:                                           # never worse than no update
        return TrustRegionSolution(p.copy(), 0.0, gap * scale_in, 0.0, it, ok)
    # q_a = lam p_a / (delta + g_a) can underflow to 0 where p_a > 0 (p_a ~ 1e-300): that
    # would make KL(p||q) infinite; the smallest subnormal keeps it finite and changes
    # KL by less than p_a log(p_a / 5e-324), which is negligible
    q = np.where(supp & (q <= 0), np.nextafter(0.0, 1.0), q)
    q = q / q.sum(axis=1, keepdims=True)
    return TrustRegionSolution(q, primal * scale_in, gap * scale_in, float(kl.max()), it, ok)
