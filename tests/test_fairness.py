"""fairmg.fairness against hand-computed cases, brute-force formulas written out here from
the papers (001 Sec. 3.2 and eq. 7; 000 Sec. 2.4), quantecon's Gini and scipy.stats."""
import math

import numpy as np
import pytest
import quantecon
import scipy.stats
from hypothesis import given
from hypothesis import strategies as st

from fairmg import fairness as fx

TOL = 1e-12

# Brute-force formulas square the values: keep them clear of underflow (tiny scales are
# tested separately through scale invariance).
finite = st.floats(0.0, 100.0).map(lambda v: v if v > 1e-100 else 0.0)
quarters = st.integers(0, 40).map(lambda k: k / 4)       # exact: creates ties, zeros
value = st.one_of(finite, quarters)
positive = st.floats(0.01, 100.0, allow_nan=False, allow_infinity=False)


def vectors(elements=value, min_size=1, max_size=8):
    return st.lists(elements, min_size=min_size, max_size=max_size).map(np.array)


taus = st.one_of(st.sampled_from([0.0, 0.1, 0.5]), st.floats(0.0, 2.0))
kinds = st.sampled_from(["relative", "absolute"])


# ------------------------------------------------------- brute force, from the papers

def brute_excess(x, tau, kind):
    n = len(x)
    mean = sum(x) / n
    if kind == "relative":
        return [max(abs(xi - mean) - tau * mean, 0.0) for xi in x]
    return [max(xi - mean - tau, 0.0) for xi in x]


def brute_suite(x, tau, kind="relative"):
    """Every quantity of 001 Sec. 3.2 by the equations, one loop each."""
    n = len(x)
    e = brute_excess(x, tau, kind)
    total = sum(e)
    flagged = [ei > 0 for ei in e]
    c = sum(flagged)
    q_inc = [f / c for f in flagged] if c else [1 / n] * n
    q_mag = [ei / total for ei in e] if total > 0 else [1 / n] * n
    return {
        "excess": e, "total_excess": total, "incidence_rate": c / n, "q_inc": q_inc,
        "h_inc": 0.5 * sum(abs(q - 1 / n) for q in q_inc), "q_mag": q_mag,
        "h_mag": 0.5 * sum(abs(q - 1 / n) for q in q_mag),
        "mre": 0.5 * sum(abs(ei - total / n) for ei in e),
        "mre_normalized": 0.5 * sum(abs(ei - total / n) for ei in e) / n,
        "identity_signal": [ei * (f / c if c else 0.0) for ei, f in zip(e, flagged)],
    }


def brute_gini(x):
    n, mean = len(x), sum(x) / len(x)
    return sum(abs(a - b) for a in x for b in x) / (2 * n * n * mean)


def brute_atkinson(x, eps):
    n, mean = len(x), sum(x) / len(x)
    if eps == 1:
        return 1 - math.exp(sum(math.log(v) for v in x) / n) / mean
    return 1 - (sum((v / mean) ** (1 - eps) for v in x) / n) ** (1 / (1 - eps))


# ------------------------------------------------------------------ equity report

def assert_report_matches(rep, expected, rtol=1e-9, atol=1e-12):
    for name, value in expected.items():
        np.testing.assert_allclose(getattr(rep, name), value, rtol=rtol, atol=atol,
                                   err_msg=name)


def test_report_by_hand_concentrated():
    # x = (0, 0, 3), tau = 0: mean 1, e = (1, 1, 2), E = 4, ebar = 4/3.
    rep = fx.equity_report([0.0, 0.0, 3.0], 0.0)
    assert_report_matches(rep, {
        "excess": [1, 1, 2], "total_excess": 4, "incidence_rate": 1,
        "q_inc": [1 / 3] * 3, "h_inc": 0, "q_mag": [0.25, 0.25, 0.5],
        "h_mag": 0.5 * (1 / 12 + 1 / 12 + 1 / 6), "mre": 0.5 * (1 / 3 + 1 / 3 + 2 / 3),
        "mre_normalized": 2 / 9, "identity_signal": [1 / 3, 1 / 3, 2 / 3]})


def test_report_by_hand_band():
    # mean 1, band [0.9, 1.1]: the first two are inside, the others 0.9 outside.
    rep = fx.equity_report([0.95, 1.05, 0.0, 2.0], 0.1)
    assert_report_matches(rep, {
        "excess": [0, 0, 0.9, 0.9], "total_excess": 1.8, "incidence_rate": 0.5,
        "q_inc": [0, 0, 0.5, 0.5], "h_inc": 0.5, "q_mag": [0, 0, 0.5, 0.5],
        "h_mag": 0.5, "mre": 0.9, "mre_normalized": 0.225,
        "identity_signal": [0, 0, 0.45, 0.45]})
    assert rep.flagged.tolist() == [False, False, True, True]


def test_report_by_hand_absolute():
    # Prop. 4's excess [x - mean - tau]_+ with tau = 0.5: only the top agent, by 1.5.
    rep = fx.equity_report([0.0, 0.0, 3.0], 0.5, excess="absolute")
    assert_report_matches(rep, {
        "excess": [0, 0, 1.5], "total_excess": 1.5, "incidence_rate": 1 / 3,
        "q_inc": [0, 0, 1], "h_inc": 2 / 3, "q_mag": [0, 0, 1], "h_mag": 2 / 3,
        "mre": 1.0, "identity_signal": [0, 0, 1.5]})


def test_report_degenerate_equal_allocation():
    rep = fx.equity_report([2.0, 2.0, 2.0, 2.0], 0.0)
    assert_report_matches(rep, {
        "excess": [0] * 4, "total_excess": 0, "incidence_rate": 0, "q_inc": [0.25] * 4,
        "h_inc": 0, "q_mag": [0.25] * 4, "h_mag": 0, "mre": 0, "identity_signal": [0] * 4})


def test_report_degenerate_zero_mean_and_single_agent():
    rep = fx.equity_report([0.0, 0.0], 0.3)
    assert rep.total_excess == 0 and rep.mre == 0 and rep.h_inc == 0
    rep = fx.equity_report([-1.0, 1.0], 0.3)          # mean 0: band of width 0
    np.testing.assert_allclose(rep.excess, [1.0, 1.0])
    rep = fx.equity_report([5.0], 0.0)
    assert rep.mre == 0 and rep.h_mag == 0 and rep.h_inc == 0 and rep.incidence_rate == 0


def test_signed_outcomes():
    # tau = 0 needs no sign; the absolute excess accepts a negative mean.
    np.testing.assert_allclose(fx.band_excess([-1.0, -3.0], 0.0), [1.0, 1.0])
    np.testing.assert_allclose(fx.band_excess([-1.0, -3.0], 0.5, excess="absolute"),
                               [0.5, 0.0])
    with pytest.raises(ValueError, match=r"mean\(x\[1, :\]\) is -0.5"):
        fx.band_excess([[1.0, 1.0], [-1.0, 0.0]], 0.1)


def test_polarized_allocation_has_zero_mre_with_everyone_out_of_band():
    rep = fx.equity_report([0.0, 0.0, 2.0, 2.0], 0.2)
    assert rep.mre == 0 and rep.incidence_rate == 1


@given(vectors(min_size=2, max_size=2), taus)
def test_two_agents_relative_mre_is_always_zero(x, tau):
    # |x_1 - mean| = |x_2 - mean|: the relative excess of two agents is always uniform.
    assert fx.mre(x, tau) == pytest.approx(0.0, abs=1e-12)


def test_flag_tol():
    x = [1.0, 1.0 + 1e-15, 1.0 - 1e-15, 3.0, -1.0]   # mean 1 up to rounding, tau = 0
    assert fx.equity_report(x, 0.0).incidence_rate > 0.4
    assert fx.equity_report(x, 0.0, flag_tol=1e-12).incidence_rate == 0.4


@given(vectors(), taus, kinds)
def test_report_matches_brute_force(x, tau, kind):
    assert_report_matches(fx.equity_report(x, tau, excess=kind),
                          brute_suite(list(x), tau, kind), rtol=1e-9, atol=1e-9)


@given(st.integers(1, 6).flatmap(lambda n: st.lists(vectors(value, n, n), min_size=1,
                                                  max_size=4)), taus, kinds)
def test_batch_equals_rows(rows, tau, kind):
    batch = np.stack(rows)
    rep = fx.equity_report(batch[None], tau, excess=kind)   # shape (1, B, N)
    assert rep.mre.shape == (1, len(rows)) and rep.q_inc.shape == (1,) + batch.shape
    for k, x in enumerate(rows):
        one = fx.equity_report(x, tau, excess=kind)
        for name in ("excess", "total_excess", "incidence_rate", "q_inc", "h_inc",
                     "q_mag", "h_mag", "mre", "mre_normalized", "identity_signal"):
            np.testing.assert_array_equal(getattr(rep, name)[0, k], getattr(one, name))
    np.testing.assert_array_equal(fx.mre(batch, tau, excess=kind), rep.mre[0])


@given(vectors(min_size=2), taus, kinds, st.randoms(use_true_random=False))
def test_permutation_equivariance(x, tau, kind, rnd):
    perm = list(range(len(x)))
    rnd.shuffle(perm)
    a, b = fx.equity_report(x, tau, excess=kind), fx.equity_report(x[perm], tau,
                                                                   excess=kind)
    np.testing.assert_allclose(b.excess, a.excess[perm], atol=1e-12)
    np.testing.assert_allclose(b.identity_signal, a.identity_signal[perm], atol=1e-12)
    for name in ("mre", "h_inc", "h_mag", "incidence_rate"):
        np.testing.assert_allclose(getattr(b, name), getattr(a, name), atol=1e-12)


@given(vectors(min_size=2), taus, st.floats(0.1, 10.0), st.floats(-5.0, 5.0))
def test_scale_and_shift(x, tau, c, shift):
    # relative excess is 1-homogeneous; absolute excess (with tau scaled) too, and it is
    # blind to a common shift.
    np.testing.assert_allclose(fx.mre(c * x, tau), c * fx.mre(x, tau), rtol=1e-9,
                               atol=1e-9)
    np.testing.assert_allclose(fx.mre(c * x, c * tau, excess="absolute"),
                               c * fx.mre(x, tau, excess="absolute"), rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(fx.mre(x + shift, tau, excess="absolute"),
                               fx.mre(x, tau, excess="absolute"), atol=1e-9)


@given(vectors(), taus)
def test_mre_normalized_and_of_excess(x, tau):
    n = len(x)
    assert fx.mre(x, tau, normalized=True) == pytest.approx(fx.mre(x, tau) / n, abs=1e-12)
    assert fx.mre(x, tau) == pytest.approx(fx.mre_of_excess(fx.band_excess(x, tau)),
                                           abs=1e-12)


def test_mre_subgradient_by_hand():
    # e = (0, 1, 2): ebar = 1, sigma = (-1, tie, 1).
    np.testing.assert_allclose(fx.mre_subgradient([0.0, 1.0, 2.0], tie=0.0),
                               [-0.5, 0.0, 0.5])
    np.testing.assert_allclose(fx.mre_subgradient([0.0, 1.0, 2.0], tie=1.0),
                               0.5 * (np.array([-1, 1, 1]) - 1 / 3))
    with pytest.raises(ValueError, match="tie"):
        fx.mre_subgradient([0.0, 1.0], tie=2.0)


# ----------------------------------------------------------------- input validation

@pytest.mark.parametrize("fn", [
    lambda x: fx.equity_report(x, 0.1), lambda x: fx.mre(x), fx.gini, fx.cv, fx.jain,
    fx.theil, fx.atkinson, lambda x: fx.alpha_fair_welfare(x, 0.5),
    lambda x: fx.equally_distributed_equivalent(x, 2.0)])
def test_rejects_non_finite_and_empty(fn):
    with pytest.raises(ValueError, match=r"x\[1, 2\] is nan"):
        fn(np.array([[1.0, 2.0, 3.0], [1.0, 2.0, np.nan]]))
    with pytest.raises(ValueError, match=r"x\[0\] is inf"):
        fn([np.inf, 1.0])
    with pytest.raises(ValueError, match="empty"):
        fn([])
    with pytest.raises(ValueError, match="scalar"):
        fn(3.0)
    with pytest.raises(TypeError, match="dtype"):
        fn(["a", "b"])


@pytest.mark.parametrize("fn", [fx.gini, fx.cv, fx.jain, fx.theil, fx.atkinson])
def test_indices_reject_negative(fn):
    with pytest.raises(ValueError, match=r"x\[1\] is -2, expected >= 0"):
        fn([1.0, -2.0, 3.0])


def test_rejects_bad_parameters():
    with pytest.raises(ValueError, match="tau is -0.1"):
        fx.equity_report([1.0, 2.0], -0.1)
    with pytest.raises(ValueError, match="tau is nan"):
        fx.mre([1.0, 2.0], float("nan"))
    with pytest.raises(ValueError, match="excess is 'signed'"):
        fx.mre([1.0, 2.0], excess="signed")
    with pytest.raises(ValueError, match="eps is -1"):
        fx.atkinson([1.0, 2.0], -1.0)
    with pytest.raises(ValueError, match="alpha is -0.5"):
        fx.alpha_fair_welfare([1.0, 2.0], -0.5)
    with pytest.raises(ValueError, match=r"x\[1\] is 0, expected > 0"):
        fx.alpha_fair_welfare([1.0, 0.0], 1.0)
    with pytest.raises(ValueError, match="alpha is inf"):
        fx.alpha_fair_utility([1.0], np.inf)
    with pytest.raises(ValueError, match=r"overflows float64 at alpha=400"):
        fx.alpha_fair_welfare([1e-5, 2.0], 400.0)


# ---------------------------------------------------------------- dispersion indices

def test_indices_by_hand():
    x = [0.0, 1.0, 2.0, 5.0]                 # mean 2
    assert fx.gini(x) == pytest.approx((2 * (1 + 2 + 5 + 1 + 4 + 3)) / (2 * 16 * 2))
    assert fx.cv(x) == pytest.approx(math.sqrt((4 + 1 + 0 + 9) / 4) / 2)
    assert fx.jain(x) == pytest.approx(64 / (4 * 30))
    assert fx.theil(x) == pytest.approx((0.5 * math.log(0.5) + 2.5 * math.log(2.5)) / 4)
    assert fx.atkinson(x, 0.5) == pytest.approx(1 - (1 + math.sqrt(2) + math.sqrt(5)) ** 2
                                                / (16 * 2))       # eq. (7e)
    assert fx.atkinson(x, 1.0) == 1.0 and fx.atkinson(x, 3.0) == 1.0  # a zero, eps >= 1
    assert fx.atkinson(x, 0.0) == 0.0 and fx.atkinson(x, np.inf) == 1.0


@pytest.mark.parametrize("n", [1, 2, 5, 17])
def test_indices_extremes(n):
    point = np.zeros(n)
    point[-1] = 3.0
    assert fx.gini(point) == pytest.approx(1 - 1 / n, abs=TOL)
    assert fx.cv(point) == pytest.approx(math.sqrt(n - 1), abs=1e-12)
    assert fx.jain(point) == pytest.approx(1 / n, abs=TOL)
    assert fx.theil(point) == pytest.approx(math.log(n), abs=1e-12)
    assert fx.atkinson(point, 0.5) == pytest.approx(1 - 1 / n, abs=1e-12)
    for fn, equal in ((fx.gini, 0), (fx.cv, 0), (fx.jain, 1), (fx.theil, 0),
                      (fx.atkinson, 0)):
        assert fn(np.full(n, 0.7)) == pytest.approx(equal, abs=1e-12)
        assert fn(np.zeros(n)) == equal          # documented convention: all-zero is equal


@given(vectors().filter(lambda x: x.sum() > 0))
def test_gini_cross_checks(x):
    g = fx.gini(x)
    assert g == pytest.approx(brute_gini(list(x)), rel=1e-9, abs=1e-12)
    assert g == pytest.approx(quantecon.gini_coefficient(x), rel=1e-9, abs=1e-12)
    assert -TOL <= g <= 1 - 1 / len(x) + TOL


@given(vectors().filter(lambda x: x.sum() > 0))
def test_cv_jain_theil_cross_checks(x):
    n = len(x)
    assert fx.cv(x) == pytest.approx(scipy.stats.variation(x), rel=1e-9, abs=1e-12)
    assert fx.jain(x) == pytest.approx(x.sum() ** 2 / (n * (x ** 2).sum()), rel=1e-9)
    assert fx.jain(x) == pytest.approx(1 / (1 + fx.cv(x) ** 2), rel=1e-9)
    # Theil T = ln N - Shannon entropy of the shares x / sum(x).
    assert fx.theil(x) == pytest.approx(math.log(n) - scipy.stats.entropy(x), abs=1e-9)
    assert 1 / n - TOL <= fx.jain(x) <= 1 + TOL
    assert -TOL <= fx.theil(x) <= math.log(n) + 1e-9


@given(vectors(positive), st.one_of(st.sampled_from([0.0, 0.5, 1.0, 2.0, 5.0]),
                                    st.floats(0.0, 20.0)))
def test_atkinson_cross_checks(x, eps):
    a = fx.atkinson(x, eps)
    assert a == pytest.approx(brute_atkinson(list(x), eps), rel=1e-9, abs=1e-9)
    assert a == pytest.approx(1 - scipy.stats.pmean(x, 1 - eps) / x.mean(), rel=1e-9,
                              abs=1e-9)
    assert -TOL <= a <= 1 + TOL
    assert fx.atkinson(x, eps + 0.5) >= a - 1e-12   # more inequality aversion, larger A


@given(vectors(positive, min_size=2), st.sampled_from([1e-300, 0.1, 3.0, 1e300]))
def test_indices_scale_invariant_and_batched(x, c):
    for fn in (fx.gini, fx.cv, fx.jain, fx.theil, fx.atkinson):
        assert fn(c * x) == pytest.approx(fn(x), rel=1e-9, abs=1e-12)
        batch = fn(np.stack([x, c * x[::-1]]))
        np.testing.assert_allclose(batch, [fn(x), fn(x)], rtol=1e-9, atol=1e-12)


@given(vectors(positive, min_size=2), st.data())
def test_pigou_dalton_transfer_lowers_indices(x, data):
    # A rank-preserving transfer from a richer to a poorer agent lowers all five indices.
    i, j = int(np.argmax(x)), int(np.argmin(x))
    if x[i] - x[j] < 1e-3:
        return
    d = data.draw(st.floats(0.01, 0.5)) * (x[i] - x[j]) / 2
    y = x.copy()
    y[i] -= d
    y[j] += d
    for fn in (fx.gini, fx.cv, fx.theil, fx.atkinson):
        assert fn(y) < fn(x) + 1e-12
    assert fx.jain(y) > fx.jain(x) - 1e-12


# ------------------------------------------------------------------- alpha-fairness

def test_alpha_fair_utility_by_hand():
    assert fx.alpha_fair_utility(3.0, 0.0) == 3.0
    assert fx.alpha_fair_utility(4.0, 0.5) == pytest.approx(4.0)        # 4^0.5 / 0.5
    assert fx.alpha_fair_utility(4.0, 2.0) == pytest.approx(-0.25)
    assert fx.alpha_fair_utility(math.e, 1.0) == pytest.approx(1.0)
    assert fx.alpha_fair_utility(4.0, 2.0, centered=True) == pytest.approx(0.75)
    assert fx.alpha_fair_utility(0.0, 0.5, centered=True) == pytest.approx(-2.0)
    np.testing.assert_allclose(fx.alpha_fair_utility([1.0, 2.0], 3.0), [-0.5, -0.125])
    assert fx.alpha_fair_welfare([1.0, 2.0, 3.0], np.inf) == 1.0
    assert fx.alpha_fair_welfare([1.0, 2.0, 3.0], 0.0) == 6.0


@given(vectors(positive), st.floats(0.0, 30.0))
def test_alpha_fair_welfare_is_sum_of_utilities(x, alpha):
    w = sum(math.log(v) if alpha == 1 else v ** (1 - alpha) / (1 - alpha) for v in x)
    assert fx.alpha_fair_welfare(x, alpha) == pytest.approx(w, rel=1e-9, abs=1e-9)
    wc = fx.alpha_fair_welfare(x, alpha, centered=True)
    assert wc == pytest.approx(w - len(x) * (0.0 if alpha == 1 else 1 / (1 - alpha)),
                               rel=1e-8, abs=1e-8)


@given(vectors(positive), st.floats(0.0, 30.0))
def test_equally_distributed_equivalent(x, alpha):
    n = len(x)
    ede = fx.equally_distributed_equivalent(x, alpha)
    if alpha == 1:
        expected = math.exp(sum(math.log(v) for v in x) / n)
    else:  # U^{-1}(W / N) with U(y) = y^{1-a} / (1-a)
        expected = ((1 - alpha) * fx.alpha_fair_welfare(x, alpha) / n) ** (1 / (1 - alpha))
    assert ede == pytest.approx(expected, rel=1e-8)
    assert min(x) * (1 - 1e-12) <= ede <= x.mean() * (1 + 1e-12)
    assert fx.atkinson(x, alpha) == pytest.approx(1 - ede / x.mean(), abs=1e-12)


def test_centered_utility_is_continuous_at_one_and_paper_form_is_not():
    x = np.array([0.5, 2.0, 7.0])
    for h in (1e-4, -1e-4):
        np.testing.assert_allclose(fx.alpha_fair_utility(x, 1 + h, centered=True),
                                   np.log(x), atol=1e-3)
    assert abs(fx.alpha_fair_utility(2.0, 1 + 1e-4)) > 1e3


# ------------------------------------------------------- reproduction: 001, Figure 2

def test_mre_cases_figure(tmp_path):
    import csv

    from fairmg.reproduce import reproduce

    png, path = reproduce("mre-cases", tmp_path, quick=True, progress=False, seeds=1)
    assert png.stat().st_size > 10_000 and path.name == "mre-cases.csv"
    rows = list(csv.DictReader(path.open()))
    assert [r["case"] for r in rows] == ["A", "B", "C", "D"]
    xs = [[float(r[f"x_{i}"]) for i in range(1, 11)] for r in rows]
    tau = float(rows[0]["tau"])
    cvs = [math.sqrt(sum((v - sum(x) / 10) ** 2 for v in x) / 10) / (sum(x) / 10)
           for x in xs]
    for values in (cvs, [brute_gini(x) for x in xs],
                   [sum(x) ** 2 / (10 * sum(v * v for v in x)) for x in xs]):
        assert (max(values) - min(values)) / (sum(values) / 4) <= 0.01
    h = [brute_suite(x, tau)["mre"] for x in xs]
    np.testing.assert_allclose([float(r["MRE"]) for r in rows], h, rtol=1e-8)
    assert all(b >= 1.05 * a for a, b in zip(h, h[1:]))     # clearly different, increasing


# --------------------------------------------- robustness (issue 10, items 2 and 3)

@pytest.mark.parametrize("fn", [
    lambda x: fx.mre(x, 0.2), lambda x: fx.band_excess(x, 0.2),
    lambda x: fx.equity_report(x, 0.2), lambda x: fx.mre(x, 0.2, normalized=True)])
def test_negative_mean_with_relative_band_raises_for_1d_and_2d(fn):
    """Issue 10: [-1, -2, -3] with tau = 0.2 gave MRE 0.667 (the error fired for 2-D only)."""
    with pytest.raises(ValueError, match=r"mean\(x\) is -2 < 0"):
        fn([-1.0, -2.0, -3.0])
    with pytest.raises(ValueError, match=r"mean\(x\[1, :\]\) is -2 < 0"):
        fn([[1.0, 2.0, 3.0], [-1.0, -2.0, -3.0]])
    with pytest.raises(ValueError, match=r"mean\(x\[0, 1, :\]\) is -2 < 0"):
        fn([[[1.0, 2.0, 3.0], [-1.0, -2.0, -3.0]]])


def test_huge_allocations_are_computed_not_nan():
    """Issue 10: equity_report([1e308, 1e308, 1]) gave NaN with a RuntimeWarning. Every
    quantity is scale-invariant or 1-homogeneous, so it is computed on x / 2^k."""
    import warnings

    big = np.array([1e308, 1e308, 1.0])
    small = big / 1e308
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rep, ref = fx.equity_report(big, 0.2), fx.equity_report(small, 0.2)
        for name in ("incidence_rate", "q_inc", "h_inc", "q_mag", "h_mag"):
            np.testing.assert_allclose(getattr(rep, name), getattr(ref, name), rtol=1e-12)
        for name in ("mean", "excess", "total_excess", "mre", "mre_normalized",
                     "identity_signal"):
            np.testing.assert_allclose(getattr(rep, name), 1e308 * getattr(ref, name),
                                       rtol=1e-12)
        assert fx.mre(big) == pytest.approx(1e308 * fx.mre(small), rel=1e-12)
        assert fx.mre_of_excess(big) == pytest.approx(1e308 * fx.mre_of_excess(small),
                                                      rel=1e-12)
        np.testing.assert_array_equal(fx.mre_subgradient(big), fx.mre_subgradient(small))
        for fn in (fx.gini, fx.cv, fx.jain, fx.theil, fx.atkinson,
                   lambda x: fx.atkinson(x, 2.0), lambda x: fx.atkinson(x, np.inf)):
            assert fn(big) == pytest.approx(fn(small), rel=1e-12)
        for alpha in (0.0, 0.5, 1.0, 2.0, np.inf):
            assert fx.equally_distributed_equivalent(big, alpha) == pytest.approx(
                1e308 * fx.equally_distributed_equivalent(small, alpha), rel=1e-12)
        # tiny (subnormal) allocations: the same scale invariance
        tiny = np.array([3e-320, 1e-320, 0.0])
        assert fx.gini(tiny) == pytest.approx(fx.gini([3.0, 1.0, 0.0]), rel=1e-12)
        assert fx.mre(tiny) == pytest.approx(1e-320 * fx.mre([3.0, 1.0, 0.0]), rel=1e-3)


@pytest.mark.parametrize("fn, x, match", [
    (fx.equity_report, [-1.7e308, 1.7e308], r"x: the total excess .*overflows float64"),
    (fx.band_excess, [-1.7e308, 1.7e308, 1.7e308], r"x: the excess .*overflows float64"),
    (fx.equity_report, [-1.7e308, 1.7e308, 1.7e308], r"x: the excess .*overflows float64"),
    (fx.mre_of_excess, [-1.7e308, 1.7e308, 1.7e308],
     r"e: MRE\(e\) is about 2.267e\+308, which overflows float64"),
    (lambda x: fx.alpha_fair_welfare(x, 0.0), [1.7e308, 1.7e308],
     r"W_alpha\(x\) overflows float64 at alpha=0"),
])
def test_results_beyond_float64_raise_naming_the_argument(fn, x, match):
    """Values that exist but exceed float64 raise (no inf, no RuntimeWarning); the MRE of
    [-1.7e308, 1.7e308] (0) is still computed."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(ValueError, match=match):
            fn(np.array(x))
        assert fx.mre([-1.7e308, 1.7e308]) == 0.0
        assert fx.mre([-1.7e308, 1.7e308, 1.7e308]) == pytest.approx(
            1.7e308 * fx.mre([-1.0, 1.0, 1.0]), rel=1e-12)


def test_single_agent_and_zero_allocations_are_finite():
    for x in ([5.0], [0.0], [1e308], [5e-324], [0.0, 0.0, 0.0]):
        for fn in (fx.gini, fx.cv, fx.jain, fx.theil, fx.atkinson, fx.mre,
                   lambda v: fx.mre(v, 0.3), fx.mre_of_excess,
                   lambda v: fx.equally_distributed_equivalent(v, 0.5)):
            assert np.isfinite(fn(x))
