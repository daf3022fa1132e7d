r"""Exact heterogeneous-agent trust-region learning of 000 (alpha-fair HATRL, HATRPO, HAPPO).

* :func:`fair_hatrl` -- 000 Algorithm 1 exactly: each iteration a seeded random order
  :math:`I_n`, and agent :math:`i_m`'s new table the exact argmax of
  :math:`\mathcal L^{I_m}_{\pi_k}(\pi_{k+1}^{I_{m-1}}, \pi^{i_m}) - C\,D_{KL}^{\max}(\pi_k^{i_m}
  \|\pi^{i_m})` (:func:`fairmg.alpha_fair.trust_region_argmax`, certified per call).
* :func:`hatrpo` -- 000 Sec. 4.1 / App. C Algorithm 2 (HATRPO of [31] when ``alpha=None``)
  on tabular softmax logits with exact expectations: the gradient of the sequential
  surrogate (eq. (15), with the factor :math:`M_F^{i_{1:m}}` of Alg. 2 line 15 computed
  exactly from the marginals), the exact Fisher of the expected KL (eq. (14)), conjugate
  gradient, the step :math:`\sqrt{2\delta/x^\top H x}`, and HARL's backtracking line search.
* :func:`happo` -- 000 Sec. 4.2 / Algorithm 3: the clipped objective (16) with the exact
  :math:`M_F` maximized by Adam (Table 3) for a fixed number of epochs.

Expectations over states use the normalized visitation :math:`(1-\gamma)d_\mu^\pi` (what a
batch average estimates) for HATRPO/HAPPO; Algorithm 1 uses 000's unnormalized
:math:`d_\pi` (Lemma 3.1's constant C is stated for it). The contextualized-state reading is
that of :mod:`fairmg.alpha_fair`. ``alpha=None`` is the utilitarian algorithm of [31] on the
summed reward (the fair advantage at :math:`\alpha = 0` is :math:`\sum_j A_j`).
"""
from __future__ import annotations

import warnings

import numpy as np

from .. import alpha_fair as af
from .._validate import as_float_array, as_rng, check_int, check_scalar
from ..policy import ProductPolicy
from .run import iterate

__all__ = ["fair_hatrl", "hatrpo", "happo", "fair_metrics"]


# ------------------------------------------------------------------ metrics
def fair_metrics(alpha, nu) -> list:
    r"""The observers of the 000 dynamics: ``fair_objective`` (J at ``alpha``; at 0 for
    ``alpha=None``), ``welfare`` (sum_i V^i(mu)), ``gini`` (Gini of the V^i(mu)),
    ``min_value`` (min_i V^i(mu)) and ``nash_gap`` (002 Def. 2.4, individual rewards).

    J at alpha = 0 is :math:`\sum_i V^i(\mu) + n(\nu - 1)`, affine in the welfare and
    defined for negative values too (the unfair runs on games with penalties)."""
    def fair_objective(game, bev):
        if alpha is None:
            return bev.value_at_initial.sum(axis=1) + game.n_agents * (nu - 1.0)
        return np.array([af.fair_objective(game, bev.policy(b), alpha, nu,
                                           evaluation=bev.evaluation(b))
                         for b in range(len(bev))])

    def gini(game, bev):
        from ..fairness import gini as _gini
        return np.atleast_1d(_gini(np.maximum(bev.value_at_initial, 0.0)))

    def min_value(game, bev):
        return bev.value_at_initial.min(axis=1)

    return [fair_objective, "welfare", gini, min_value, "nash_gap"]


def _alpha_nu(alpha, nu):
    a = None if alpha is None else af._alpha(alpha, allow_inf=False)
    return a, af._nu(nu)


def _weights_alpha(alpha):
    return 0.0 if alpha is None else alpha


# ------------------------------------------------------------------ Algorithm 1
def fair_hatrl(game, pol0, alpha, nu, iters: int, seed=None, *, penalty="lemma-3.1",
               tol: float = 1e-10, metrics=None, keep="all", progress: bool = False):
    r"""000 Algorithm 1 (alpha-fair HATRL), exactly.

    Every iteration k: evaluate :math:`\pi_k`; :math:`C` of line 4 (Lemma 3.1, with
    :math:`\nu^\alpha` for the printed :math:`\epsilon^\alpha`,
    :func:`~fairmg.alpha_fair.penalty_constant`); draw a random permutation :math:`I_n`
    (``numpy`` Generator from ``seed``); for m = 1..n set :math:`\pi_{k+1}^{i_m}` to the
    exact argmax over agent :math:`i_m`'s table of

    .. math:: \mathcal L^{I_m}_{\pi_k}(\pi_{k+1}^{I_{m-1}}, \pi^{i_m})
              - C\, D_{KL}^{\max}(\pi_k^{i_m}\|\pi^{i_m})

    (eq. (10); :math:`D_{KL}(\pi_k\|\pi)`, max over states as in Lemma 3.3 / eq. (70)),
    solved by :func:`~fairmg.alpha_fair.trust_region_argmax` to a certified duality gap.
    By Lemma 3.3 every iteration does not decrease J (when Lemma 3.1's lower bound holds).

    Parameters
    ----------
    game : Game
        Rewards >= 0. The joint Q table (for A_max) must fit.
    pol0 : ProductPolicy
    alpha : float in [0, inf)
        ``0`` is HATRL on the summed reward with Lemma 3.1's C at alpha = 0,
        :math:`4n\gamma A_{\max}/(1-\gamma)^2` (``penalty="hatrl"`` uses HATRL's own
        :math:`4\gamma\max|\sum_j A_j|/(1-\gamma)^2`).
    nu : float > 0
    iters : int
    seed : int or Generator, optional
    penalty : "lemma-3.1", "hatrl" (alpha = 0 only) or float
        The constant C (a float fixes it for every iteration).
    tol : float
        Relative certified tolerance of each argmax. Larger gaps (rows with probabilities
        near 0, penalties near 0) give a RuntimeWarning and are recorded in ``run.gaps``;
        the step is still never worse than no update (value >= 0), which is all Theorem
        3.5's monotonicity uses.
    metrics : optional
        Default :func:`fair_metrics`.

    Returns
    -------
    Run
        ``run.metrics``: fair_objective, welfare, gini, min_value, nash_gap; ``run.orders``
        the permutations; ``run.penalties`` C per iteration; ``run.gaps`` the certified
        gaps of every argmax; ``run.surrogates`` the summands of eq. (12) per iteration.
    """
    a, v = _alpha_nu(alpha, nu)
    game.check_policy(pol0, "pol0")
    iters = check_int(iters, "iters", low=0)
    rng = as_rng(seed, "seed")
    if isinstance(penalty, str):
        if penalty not in ("lemma-3.1", "hatrl"):
            raise ValueError(f"penalty must be 'lemma-3.1', 'hatrl' or a float, got "
                             f"{penalty!r}")
        if penalty == "hatrl" and a != 0:
            raise ValueError("penalty='hatrl' is HATRL's constant: alpha must be 0")
    else:
        penalty = check_scalar(penalty, "penalty", positive=True)
    orders, penalties, gaps, summands = [], [], [], []
    sizes = game.action_sizes

    def step(probs, ev):
        pol = ev.policy
        if penalty == "lemma-3.1":
            C = af.penalty_constant(game, pol, a, v, evaluation=ev)
        elif penalty == "hatrl":
            adv = (ev.q - ev.values[:, :, None]).sum(axis=0)
            C = 4 * game.gamma * float(np.abs(adv).max()) / (1 - game.gamma) ** 2
        else:
            C = penalty
        omega = af.fair_visitation(game, pol, a, v, evaluation=ev)
        order = tuple(int(i) for i in rng.permutation(game.n_agents))
        new = pol
        it_gaps, it_sum = [], []
        for m, i in enumerate(order, start=1):
            W = af.sequential_table(game, pol, new, order, m, a, v, evaluation=ev,
                                    omega=omega)
            sol = af.trust_region_argmax(W, pol.probs[i, :, : sizes[i]], C, tol=tol)
            if not sol.converged and sol.gap > 1e3 * tol * (1 + abs(sol.value)
                                                             + float(np.abs(W).max())):
                # still an ascent step (value >= 0: never worse than no update), which is
                # all Theorem 3.5's monotonicity uses; only optimality is uncertified
                warnings.warn(f"fair_hatrl: argmax of agent {i} at iteration "
                              f"{len(orders)} certified only to gap {sol.gap:.3g} "
                              f"(probabilities near 0 or a penalty near 0)", RuntimeWarning,
                              stacklevel=4)
            new = new.replace(i, sol.q)
            it_gaps.append(sol.gap)
            it_sum.append(sol.value)
        orders.append(order)
        penalties.append(C)
        gaps.append(it_gaps)
        summands.append(it_sum)
        return new.probs

    run = iterate(game, np.array(pol0.probs), step,
                  lambda p: ProductPolicy(game, p, _checked=True), iters,
                  name=f"fair_hatrl(alpha={a})",
                  params=dict(alpha=a, nu=v, iters=iters, seed=seed, penalty=penalty,
                              tol=tol),
                  metrics=fair_metrics(a, v) if metrics is None else metrics, keep=keep,
                  store=None, progress=progress)
    run.orders, run.penalties, run.gaps, run.surrogates = orders, penalties, gaps, summands
    return run


# ------------------------------------------------------------------ shared pieces
def _logits(game, theta0):
    theta = as_float_array(theta0, "theta0", 3, max_magnitude=1e6)
    shape = (game.n_agents, game.n_states, game.max_actions)
    if theta.shape != shape:
        raise ValueError(f"theta0 must have shape {shape}, got {theta.shape}")
    return np.where(game.action_mask[:, None, :], theta, 0.0)


def _row_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _conjugate_gradient(matvec, b, iters: int, tol: float = 1e-10):
    """HARL's conjugate gradient: ``iters`` steps for H x = b from x = 0."""
    x = np.zeros_like(b)
    r = b.copy()
    p = b.copy()
    rr = float(np.sum(r * r))
    for _ in range(iters):
        if rr < tol:
            break
        Ap = matvec(p)
        denom = float(np.sum(p * Ap))
        if denom <= 0:
            break
        step = rr / denom
        x += step * p
        r -= step * Ap
        new = float(np.sum(r * r))
        p = r + (new / rr) * p
        rr = new
    return x


def _setup(game, ev, alpha, nu):
    """Normalized state weights and the fair visitation of the current policy."""
    a = _weights_alpha(alpha)
    omega = af.fair_visitation(game, ev.policy, a, nu, evaluation=ev)
    rho = (1.0 - game.gamma) * ev.visitation
    return a, omega, rho


# ------------------------------------------------------------------ HATRPO
def hatrpo(game, theta0, alpha=None, nu: float = 0.1, kl: float = 0.01, iters: int = 100,
           seed=None, *, cg_iters: int = 15, accept_ratio: float = 0.1,
           backtrack: float = 0.8, ls_steps: int = 10, damping: float = 0.0, metrics=None,
           keep="all", progress: bool = False):
    r"""Exact tabular HATRPO ([31]; ``alpha=None``) and alpha-fair FHATRPO (000 Sec. 4.1,
    eqs. (13)-(15), Algorithm 2).

    Per iteration: a seeded random order; for each agent :math:`i_m`, with the previous
    agents already updated,

    * objective (Lemma C.1, eq. (101)): :math:`f(\theta) = E_{s\sim\bar d, a\sim\pi_k}
      [(\pi_\theta^{i_m}/\pi_k^{i_m} - 1) M_F^{i_{1:m}}(s, a)]`, :math:`M_F^{i_{1:m}} =
      (\pi_{k+1}^{I_{m-1}}/\pi_k^{I_{m-1}}) A_F` -- exactly
      :math:`\sum_{s,a}\bar d(s)(\pi_\theta - \pi_k)(a|s) W[s, a]` with
      :func:`~fairmg.alpha_fair.sequential_table` (normalized :math:`\bar d = (1-\gamma)
      d`);
    * :math:`g = \nabla f(\theta_k)` (eq. (15)), the Fisher
      :math:`H = \nabla^2 E_{\bar d}[D_{KL}(\pi_k\|\pi_\theta)]` exactly (block
      :math:`\bar d(s)(\mathrm{diag}\,\pi_s - \pi_s\pi_s^\top)`, plus ``damping`` I),
      :math:`x \approx H^{-1}g` by ``cg_iters`` conjugate-gradient steps,
      :math:`\beta = \sqrt{2\delta/x^\top H x}` (eq. (14), Alg. 2 line 13);
    * backtracking (Alg. 2 line 14, HARL): the first j < ``ls_steps`` with
      :math:`E_{\bar d}[D_{KL}] < \delta`, improvement > 0 and improvement /
      (``backtrack``^j g.(beta x)) > ``accept_ratio``; no step if none.

    Defaults: :math:`\delta` = 0.01, accept ratio 0.1, 15 CG iterations (000 Table 4);
    backtrack 0.8 and 10 line-search steps (HARL's defaults; not in the paper); nu = 0.1.
    """
    a, v = _alpha_nu(alpha, nu)
    theta0 = _logits(game, theta0)
    iters = check_int(iters, "iters", low=0)
    delta = check_scalar(kl, "kl", positive=True)
    cg_iters = check_int(cg_iters, "cg_iters", low=1)
    ls_steps = check_int(ls_steps, "ls_steps", low=1)
    accept_ratio = check_scalar(accept_ratio, "accept_ratio")
    backtrack = check_scalar(backtrack, "backtrack", positive=True, upper=1.0)
    damping = check_scalar(damping, "damping")
    rng = as_rng(seed, "seed")
    sizes = game.action_sizes
    orders, accepted = [], []

    def step(theta, ev):
        pol = ev.policy
        wa, omega, rho = _setup(game, ev, a, v)
        order = tuple(int(i) for i in rng.permutation(game.n_agents))
        theta = theta.copy()
        new = pol
        acc = []
        for m, i in enumerate(order, start=1):
            n = sizes[i]
            W = (1.0 - game.gamma) * af.sequential_table(game, pol, new, order, m, wa, v,
                                                         evaluation=ev, omega=omega)
            p_old = pol.probs[i, :, :n]
            t_old = theta[i, :, :n]
            base = np.sum(p_old * W, axis=1, keepdims=True)
            grad = p_old * (W - base)                              # eq. (15), exact

            def fvp(x, p_old=p_old):
                return rho[:, None] * (p_old * x - p_old * np.sum(p_old * x, axis=1,
                                                                  keepdims=True)) + damping * x

            x = _conjugate_gradient(fvp, grad, cg_iters)
            xHx = float(np.sum(x * fvp(x)))
            ok = False
            if xHx > 0 and np.sum(grad * grad) > 0:
                full = np.sqrt(2.0 * delta / xHx) * x
                expected = float(np.sum(grad * full))
                frac = 1.0
                for _ in range(ls_steps):
                    p_new = _row_softmax(t_old + frac * full)
                    improve = float(np.sum((p_new - p_old) * W))
                    with np.errstate(divide="ignore", invalid="ignore"):
                        kls = np.where(p_old > 0, p_old * (np.log(p_old) - np.log(p_new)),
                                       0.0).sum(axis=1)
                    mean_kl = float(rho @ kls)
                    if (mean_kl < delta and improve > 0 and expected > 0
                            and improve / expected > accept_ratio):
                        ok = True
                        break
                    expected *= backtrack
                    frac *= backtrack
                if ok:
                    theta[i, :, :n] = t_old + frac * full
                    new = new.replace(i, _row_softmax(theta[i, :, :n]))
            acc.append(ok)
        orders.append(order)
        accepted.append(acc)
        return theta

    name = "hatrpo" if a is None else f"fhatrpo(alpha={a})"
    run = iterate(game, theta0, step, lambda th: ProductPolicy.from_logits(game, th), iters,
                  name=name, params=dict(alpha=a, nu=v, kl=delta, iters=iters, seed=seed,
                                         cg_iters=cg_iters, accept_ratio=accept_ratio,
                                         backtrack=backtrack, ls_steps=ls_steps,
                                         damping=damping),
                  metrics=fair_metrics(a, v) if metrics is None else metrics, keep=keep,
                  progress=progress)
    run.orders, run.accepted = orders, accepted
    return run


# ------------------------------------------------------------------ HAPPO
def clipped_tables(game, ev, new, order, m, alpha, nu, *, rho_c=None):
    r"""The positive and negative parts of :math:`M_F^{i_{1:m}}` aggregated for agent
    :math:`i_m`: ``(Mpos, Mneg)`` of shape (S, A_{i_m}) with

    .. math:: M_\pm(s, a^i) = \sum_{c, a^{-i}} \bar d(s, c)\,
              [\pi_{k+1}^{I_{m-1}}\pi_k^{-I_{m-1}}](a|s)\,(A_F((s, c), a))_\pm,

    so that objective (16) is :math:`\sum_{s,a^i}\min(r, 1+\epsilon)M_+ + \max(r,
    1-\epsilon)M_-` with :math:`r = \pi_\theta^{i}/\pi_k^{i}` (the min/clip of (16) is
    taken per contextualized state and joint action, before aggregating). Needs the joint
    tables (S_c, S, A)."""
    a = _weights_alpha(alpha)
    pol = ev.policy
    i = order[m - 1]
    mixed = pol.mix(new, order[: m - 1]) if m > 1 else pol
    AF = af.fair_advantage(game, pol, a, nu, evaluation=ev)          # (C, S, A)
    if rho_c is None:
        rho_c = (1.0 - game.gamma) * af.contextual_visitation(game, pol)   # (C, S)
    joint = mixed.joint_probs()                                        # (S, A)
    T = rho_c[:, :, None] * joint[None] * AF
    pos = np.maximum(T, 0.0).sum(axis=0)
    neg = np.minimum(T, 0.0).sum(axis=0)
    n = game.action_sizes[i]
    ai = game.joint_actions[:, i]
    onehot = (ai[:, None] == np.arange(n)[None, :]).astype(np.float64)  # (A, n)
    return pos @ onehot, neg @ onehot


def happo(game, theta0, alpha=None, nu: float = 0.1, clip: float = 0.05, iters: int = 100,
          seed=None, *, lr: float = 5e-4, epochs: int = 5, betas=(0.9, 0.999),
          eps: float = 1e-8, metrics=None, keep="all", progress: bool = False):
    r"""Exact tabular HAPPO ([31]; ``alpha=None``) and alpha-fair FHAPPO (000 Sec. 4.2,
    eq. (16), Algorithm 3).

    Per iteration: a seeded random order; agent :math:`i_m` maximizes the clipped objective

    .. math:: E_{s\sim\bar d, a\sim\pi_k}\Big[\min\Big(r\,M_F^{i_{1:m}},\
              \mathrm{clip}(r, 1\pm\epsilon)\,M_F^{i_{1:m}}\Big)\Big],\quad
              r = \frac{\pi_\theta^{i_m}(a^{i_m}|s)}{\pi_k^{i_m}(a^{i_m}|s)}

    with exact expectations (:func:`clipped_tables`) by ``epochs`` full-batch Adam steps
    (Table 3: betas (0.9, 0.999), eps 1e-8; each agent's Adam state persists across
    iterations, as an optimizer per actor does); then :math:`M_F^{i_{1:m+1}} = (\pi_{k+1}^{i_m}
    /\pi_k^{i_m}) M_F^{i_{1:m}}` (Alg. 3 line 14) through the mixture of new and old
    policies. Defaults: clip 0.05 and lr 5e-4 (Table 5), 5 epochs (HARL's default; the
    paper does not say), nu = 0.1. The joint tables (S_c, S, A) must fit.
    """
    a, v = _alpha_nu(alpha, nu)
    theta0 = _logits(game, theta0)
    iters = check_int(iters, "iters", low=0)
    clip = check_scalar(clip, "clip", positive=True)
    lr = check_scalar(lr, "lr", positive=True)
    epochs = check_int(epochs, "epochs", low=1)
    b1, b2 = (check_scalar(b, f"betas[{k}]", upper=1.0) for k, b in enumerate(betas))
    eps = check_scalar(eps, "eps", positive=True)
    rng = as_rng(seed, "seed")
    sizes = game.action_sizes
    adam = [dict(m=np.zeros((game.n_states, n)), v=np.zeros((game.n_states, n)), t=0)
            for n in sizes]
    orders = []

    def step(theta, ev):
        pol = ev.policy
        order = tuple(int(i) for i in rng.permutation(game.n_agents))
        rho_c = (1.0 - game.gamma) * af.contextual_visitation(game, pol)
        theta = theta.copy()
        new = pol
        for m, i in enumerate(order, start=1):
            n = sizes[i]
            Mpos, Mneg = clipped_tables(game, ev, new, order, m, a, v, rho_c=rho_c)
            p_old = pol.probs[i, :, :n]
            safe = np.where(p_old > 0, p_old, 1.0)
            th = theta[i, :, :n].copy()
            st = adam[i]
            for _ in range(epochs):
                p = _row_softmax(th)
                r = p / safe
                G = Mpos * (r < 1 + clip) + Mneg * (r > 1 - clip)      # d objective / d r
                h = G * r
                grad = h - p * h.sum(axis=1, keepdims=True)
                st["t"] += 1
                st["m"] = b1 * st["m"] + (1 - b1) * grad
                st["v"] = b2 * st["v"] + (1 - b2) * grad * grad
                mhat = st["m"] / (1 - b1 ** st["t"])
                vhat = st["v"] / (1 - b2 ** st["t"])
                th = th + lr * mhat / (np.sqrt(vhat) + eps)             # ascent
            theta[i, :, :n] = th
            new = new.replace(i, _row_softmax(th))
        orders.append(order)
        return theta

    name = "happo" if a is None else f"fhappo(alpha={a})"
    run = iterate(game, theta0, step, lambda th: ProductPolicy.from_logits(game, th), iters,
                  name=name, params=dict(alpha=a, nu=v, clip=clip, iters=iters, seed=seed,
                                         lr=lr, epochs=epochs, betas=(b1, b2), eps=eps),
                  metrics=fair_metrics(a, v) if metrics is None else metrics, keep=keep,
                  progress=progress)
    run.orders = orders
    return run


def happo_objective(game, ev, new_row, new, order, m, alpha, nu, clip) -> float:
    """Objective (16) of agent ``order[m-1]`` at its table ``new_row`` (S, A_i), exactly
    (for tests): the clipped sum over contexts, states and joint actions."""
    i = order[m - 1]
    Mpos, Mneg = clipped_tables(game, ev, new, order, m, alpha, nu)
    p_old = ev.policy.probs[i, :, : game.action_sizes[i]]
    r = new_row / p_old
    return float(np.sum(np.minimum(r, 1 + clip) * Mpos + np.maximum(r, 1 - clip) * Mneg))

