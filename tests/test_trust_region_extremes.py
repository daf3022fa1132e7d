"""``fairmg.alpha_fair.trust_region_argmax`` and its certificate at extreme inputs.

Every solution is checked by an independent evaluation of the objective
``F(q) = sum_s <q_s - p_s, W_s> - C max_s KL(p_s || q_s)`` (KL in a form without
cancellation near q = p, below), against random competitors and a Nelder-Mead search
(``F(other) <= value + gap``), and by homogeneity (``F(q; kW, kC) = k F(q; W, C)``).

Bugs these found (fixed in ``fairmg/alpha_fair.py``): a penalty C >= 1e8 max|W| returned
steps worse than no step (F < 0, at C = 1e20 F = -4.6e4) certified with gap 0 (the
closed-form KL lost every digit near q = p); C >= 1e300 or C = inf returned NaN; tables
scaled to 1e-200 got a false certificate and to 1e200 none (absolute floors); probabilities
<= 1e-300 on a row's best action gave q = 0 where p > 0 (KL infinite) and probabilities
<= 1e-100 no certificate; ``penalty_constant`` raised OverflowError for large alpha.
"""
import warnings

import numpy as np
import pytest
from scipy.optimize import minimize

import fairmg as fm
from fairmg import alpha_fair as af
from fairmg.dynamics.trust_region import fair_hatrl

EPS = np.finfo(float).eps


def kl_rows(p, q):
    """KL(p_s || q_s) per row: sum_supp p (r - 1 - log r) + q's mass off supp(p), r = q/p.

    Equal to KL for distributions, term-wise >= 0, and accurate near q = p, where the
    textbook sum p log(p / q) cancels to noise of order eps (times C: the whole value)."""
    supp = p > 0
    with np.errstate(all="ignore"):
        logr = np.where(supp, np.log(np.where(supp, q, 1.0)) - np.log(np.where(supp, p, 1.0)),
                        0.0)
        small = np.abs(logr) < 1e-3
        ls = np.where(small, logr, 0.0)
        series = ls * ls * (0.5 + ls * (1 / 6 + ls * (1 / 24 + ls / 120)))
        term = np.where(small, series, np.expm1(logr) - logr)
    return np.where(supp, p * term, 0.0).sum(1) + np.where(supp, 0.0, q).sum(1)


def objective(W, p, C, q):
    """F(q); rows of W centred at <p_s, W_s> (F is unchanged on the simplex, and a level
    of 1e12 would otherwise swamp the value with q's rounding)."""
    kl = kl_rows(p, q).max()
    Wc = W - np.sum(p * W, axis=1, keepdims=True)
    with np.errstate(over="ignore"):              # C kl = inf: a competitor far out
        return float(np.sum((q - p) * Wc) - (C * kl if C > 0 and kl > 0 else 0.0))


def competitors(W, p, rng, k=150):
    for _ in range(k):
        z = rng.normal(size=W.shape) * rng.choice([0.1, 1.0, 5.0, 30.0])
        q = np.exp(z - z.max(1, keepdims=True))
        q /= q.sum(1, keepdims=True)
        t = rng.choice([1e-6, 1e-3, 0.1, 0.5, 1.0])
        yield (1 - t) * p + t * q


def check(W, p, C, *, converged=True, rng=0):
    sol = af.trust_region_argmax(W, p, C)
    q = sol.q
    scale = float(np.abs(W - np.sum(p * W, 1, keepdims=True)).max())
    assert np.all(np.isfinite(q)) and np.all(q >= 0)
    np.testing.assert_allclose(q.sum(1), 1.0, atol=1e-14)
    if C > 0:                                   # C = 0: the greedy policy, KL unpenalized
        assert np.all(q[p > 0] > 0), "q = 0 where p > 0: KL(p||q) = inf"
    assert np.isfinite(sol.value) and sol.value >= 0
    assert np.isfinite(sol.gap) and sol.gap >= 0
    assert sol.converged is converged
    # the reported value is F(q) (to F's own float resolution, ~ C eps for huge C)
    f = objective(W, p, C, q)
    assert f == pytest.approx(sol.value, abs=1e-9 * (sol.value + scale) + 8 * C * EPS
                              if np.isfinite(C) else 0.0)
    assert f >= -8 * C * EPS if np.isfinite(C) else f == 0.0   # never worse than no step
    # the certificate: nobody beats value + gap
    rng = np.random.default_rng(rng)
    best = max(objective(W, p, C, o) for o in competitors(W, p, rng))
    assert best <= sol.value + sol.gap + 1e-9 * (sol.value + scale)
    return sol


rng0 = np.random.default_rng(1)
W0 = rng0.normal(size=(3, 3))
P0 = rng0.dirichlet(np.ones(3), size=3)


@pytest.mark.parametrize("C", [0.0, 5e-324, 1e-310, 1e-300, 1e-200, 1e-100, 1e-20, 1e-8, 1.0,
                               1e4, 1e8, 1e12, 1e20, 1e100, 1e300, 1.7e308, np.inf])
def test_tiny_and_huge_penalties(C):
    sol = check(W0, P0, C)
    if C >= 1e20:
        np.testing.assert_array_equal(sol.q, P0)          # certified by Pinsker's bound
        assert sol.gap <= 10.0 / C if np.isfinite(C) else sol.gap == 0


def test_huge_penalty_steps_are_improvements_and_second_order():
    """For large C the step is tiny but real (F(q) > 0): KL ~ chi^2 / 2 gives row s the gain
    sqrt(2 t Var_p(W_s)) at a common KL level t, so the value is (sum_s sd_s)^2 / (2 C)."""
    Wc = W0 - np.sum(P0 * W0, 1, keepdims=True)
    sd = np.sqrt(np.sum(P0 * Wc ** 2, axis=1))
    for C in (1e4, 1e6, 1e8):
        sol = check(W0, P0, C)
        assert sol.value == pytest.approx(sd.sum() ** 2 / (2 * C), rel=1e-3)
    sol = check(W0, P0, 1e12)   # below the tolerance: "no step", certified by Pinsker
    assert sol.value == 0 and sol.gap <= 1e-10 * np.abs(W0).max()


@pytest.mark.parametrize("k", [1e-300, 1e-200, 1e-12, 1e6, 1e100, 1e200, 1e300])
def test_homogeneity(k):
    base = af.trust_region_argmax(W0, P0, 1.0)
    sol = check(W0 * k, P0, 1.0 * k)
    np.testing.assert_allclose(sol.q, base.q, rtol=1e-8, atol=1e-14)
    assert sol.value == pytest.approx(k * base.value, rel=1e-9)
    check(W0 * k, P0, 1.0)                                  # unmatched scales too


def test_advantages_of_1e6_and_1e_12_in_one_table():
    W = W0.copy()
    W[0] *= 1e6
    W[1] *= 1e-12
    for C in (1e-12, 1.0, 1e6, 1e12):
        check(W, P0, C)
    check(W0 * 1e-3 + 1e12, P0, 1.0)                        # a level far above the spread
    check(W0 * 1e-12 + 1e6, P0, 1e-12)


@pytest.mark.parametrize("eps", [1e-8, 1e-16, 1e-100, 1e-300])
@pytest.mark.parametrize("C", [1e-6, 1.0, 1e6])
def test_near_deterministic_rows(eps, C):
    p = np.array([[1 - 2 * eps, eps, eps], [eps, 1 - 2 * eps, eps], [0.3, 0.3, 0.4]])
    # known limit: a probability <= 1e-300 on a row's best action with a tiny penalty is
    # solved (an ascent step) but certified only by F <= B (the linear maximum)
    ok = not (eps <= 1e-300 and C <= 1e-6)
    sol = check(W0, p, C, converged=ok)
    if not ok:
        assert sol.gap <= np.sum((W0 - np.sum(p * W0, 1, keepdims=True)).max(1))


def test_deterministic_rows_and_subnormal_probabilities():
    check(np.array([[0.0, 1.0]]), np.array([[1.0, 0.0]]), 0.5)      # leaves the support
    check(np.array([[0.0, 1.0]]), np.array([[1.0, 0.0]]), 5.0)      # stays (slope < C)
    p = np.array([[1.0, 5e-324], [0.5, 0.5]])
    p = p / p.sum(1, keepdims=True)
    sol = af.trust_region_argmax(np.array([[0.0, 1.0], [1.0, 0.0]]), p, 1.0)
    assert np.all(np.isfinite(sol.q)) and sol.value >= 0 and np.all(sol.q[p > 0] > 0)


def test_against_nelder_mead_at_moderate_scale():
    """An independent optimizer (softmax logits) never beats value + gap."""
    rng = np.random.default_rng(3)
    for C in (0.05, 1.0, 20.0):
        W = rng.normal(size=(2, 3)) * 1e6
        p = rng.dirichlet(np.ones(3), size=2)
        sol = check(W, p, C * 1e6)

        def neg(z):
            z = z.reshape(2, 3)
            q = np.exp(z - z.max(1, keepdims=True))
            return -objective(W, p, C * 1e6, q / q.sum(1, keepdims=True))
        found = max(-minimize(neg, np.log(p).ravel() + rng.normal(size=6) * s,
                              method="Nelder-Mead", options=dict(maxiter=4000, xatol=1e-10,
                                                                 fatol=1e-6)).fun
                    for s in (0.0, 1.0))
        assert found <= sol.value + sol.gap + 1e-9 * 1e6


@pytest.mark.parametrize("C, err", [(np.nan, ValueError), (-1.0, ValueError),
                                    ("1", TypeError), (np.ones(2), TypeError)])
def test_bad_penalties_are_refused(C, err):
    with pytest.raises(err, match="C"):
        af.trust_region_argmax(W0, P0, C)


def test_bad_tables_are_refused():
    with pytest.raises(ValueError, match="shape"):
        af.trust_region_argmax(W0, P0[:2], 1.0)
    with pytest.raises(ValueError, match="finite"):
        af.trust_region_argmax(np.where(W0 > 0, np.inf, W0), P0, 1.0)


# -- through Algorithm 1: alpha, nu and gamma at their extremes -----------------------------
def _commons_policy(gamma=0.9):
    g = fm.games.commons(gamma=gamma)
    return g, fm.ProductPolicy.from_logits(g, np.random.default_rng(0).normal(size=(2, 4, 2)))


def test_penalty_constant_closed_form_and_no_overflow_error():
    g, pol = _commons_policy()
    A = af.max_abs_advantage(g, pol)
    for a, nu in [(0.0, 0.1), (1.0, 0.1), (1.5, 0.3), (3.0, 1.0), (50.0, 2.0)]:
        want = 8 * a * nu ** (-1 - a) * A ** 2 / 0.01 + 8 * A * 0.9 / (nu ** a * 0.01)
        assert af.penalty_constant(g, pol, a, nu) == pytest.approx(want, rel=1e-12)
    assert af.penalty_constant(g, pol, 400.0, 0.1) == np.inf      # was OverflowError
    assert af.penalty_constant(g, pol, 1000.0, 10.0) == 0.0       # underflows (no error)


@pytest.mark.parametrize("alpha, nu", [(5e-324, 0.1), (1e-300, 1.0), (1e-12, 0.1),
                                       (10.0, 0.1), (50.0, 1.0), (200.0, 10.0), (400.0, 0.1),
                                       (1000.0, 1.0)])
def test_algorithm_1_at_extreme_alpha(alpha, nu):
    g, pol = _commons_policy()
    with warnings.catch_warnings():
        warnings.simplefilter("error")                  # no overflow, no uncertified step
        run = fair_hatrl(g, pol, alpha, nu, 2, seed=0)
    J = run.metrics["fair_objective"]
    assert np.all(np.isfinite(J)) and np.all(np.diff(J) >= -1e-12 * np.abs(J).max())
    assert all(np.isfinite(gp).all() for gp in np.array(run.gaps, float))
    if alpha <= 1e-12:                                   # alpha ~ 0 is HATRL (alpha = 0)
        ref = fair_hatrl(g, pol, 0.0, nu, 2, seed=0)
        np.testing.assert_allclose(run.probs[-1], ref.probs[-1], atol=1e-9)


@pytest.mark.parametrize("gamma", [5e-324, 1e-300, 0.0, 0.999999])
def test_algorithm_1_at_extreme_gamma(gamma):
    g, pol = _commons_policy(gamma)
    run = fair_hatrl(g, pol, 1.0, 0.1, 2, seed=0)
    J = run.metrics["fair_objective"]
    assert np.all(np.isfinite(J)) and np.all(np.diff(J) >= -1e-12 * np.abs(J).max())
    assert max(max(gp) for gp in run.gaps) <= 1e-8 * (1 + np.abs(J).max())
