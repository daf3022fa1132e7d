"""f-divergences and the exact per-state solvers (003, Lemma 1, Lemma 3), cross-checked
against independent computations: scipy SLSQP, scipy brentq, an LP (linprog)."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.optimize import brentq, linprog, minimize
from scipy.special import softmax

from fairmg import divergences as D

#: scipy's SLSQP optimum may beat the exact solver by at most this (it never should).
OPT_TOL = 1e-8


def slsqp_max(obj, n, seed=0, starts=5):
    rng = np.random.default_rng(seed)
    best = -np.inf
    for x0 in [np.full(n, 1 / n)] + [rng.dirichlet(np.ones(n)) for _ in range(starts)]:
        r = minimize(lambda x: -obj(np.clip(x, 0, None)), x0, method="SLSQP",
                     bounds=[(0, 1)] * n,
                     constraints=[{"type": "eq", "fun": lambda x: x.sum() - 1}],
                     options={"ftol": 1e-15, "maxiter": 1000})
        x = np.clip(r.x, 0, None)
        best = max(best, obj(x / x.sum()))
    return best


# -- construction -------------------------------------------------------------------------
@pytest.mark.parametrize("name, g_ref, ys", [
    ("kl", lambda y: np.exp(y - 1), np.linspace(-5, 5, 11)),
    ("chi2", lambda y: 1 + y / 2, np.linspace(-1.9, 5, 11)),
    ("hellinger", lambda y: 1 / (1 - y) ** 2, np.linspace(-5, 0.9, 11)),
    ("reverse_kl", lambda y: -1 / y, np.linspace(-5, -0.1, 11)),
])
def test_builtin_g_is_the_inverse_of_fprime(name, g_ref, ys):
    f = D.get_divergence(name)
    np.testing.assert_allclose(f.g(ys), g_ref(ys), rtol=1e-12)
    np.testing.assert_allclose(f.fprime(f.g(ys)), ys, rtol=1e-10, atol=1e-12)


def test_g_extension_below_and_above_the_range_of_fprime():
    chi2 = D.get_divergence("chi2")            # f'(0) = -2
    assert chi2.g(-3.0) == 0.0
    hel = D.get_divergence("hellinger")        # f'(inf) = 1
    assert np.isinf(hel.g(1.5))


def test_user_f_derived_symbolically_and_numerically_inverted():
    js = D.FDivergence("x*log(x) - (x + 1)*log((x + 1)/2)")
    y = np.linspace(-3, 0.6, 7)
    np.testing.assert_allclose(js.fprime(js.g(y)), y, rtol=1e-9)
    # an f whose f' sympy cannot invert in closed form: numeric inverse
    f = D.FDivergence("x*log(x) + (x - 1)**4")
    y = np.linspace(-2, 3, 7)
    np.testing.assert_allclose(f.fprime(f.g(y)), y, rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("expr, msg", [("x**2", "f\\(1\\)"), ("x - x**2", "not convex"),
                                       ("-x*log(x)", "not convex"),
                                       ("sqrt(x) - 1", "not convex"), (3, "sympy")])
def test_invalid_f_raises(expr, msg):
    with pytest.raises((ValueError, TypeError), match=msg):
        D.FDivergence(expr)


def test_unknown_names_raise():
    with pytest.raises(ValueError, match="divergence"):
        D.get_divergence("wasserstein")
    with pytest.raises(ValueError, match="regularizer"):
        D.get_regularizer("l2")


def test_unary_regularizer_conditions_checked():
    with pytest.raises(ValueError, match="phi\\(1\\)"):
        D.UnaryRegularizer("1 - log(x)")
    with pytest.raises(ValueError, match="non-increasing"):
        D.UnaryRegularizer("log(x)")


# -- values -------------------------------------------------------------------------------
def test_divergence_values_against_direct_formulas():
    rng = np.random.default_rng(3)
    p, q = rng.dirichlet(np.ones(5), size=2)
    assert D.get_divergence("kl").value(p, q) == pytest.approx(np.sum(p * np.log(p / q)))
    assert D.get_divergence("tv").value(p, q) == pytest.approx(0.5 * np.abs(p - q).sum())
    assert D.get_divergence("chi2").value(p, q) == pytest.approx(np.sum((p - q) ** 2 / q))
    assert D.get_divergence("hellinger").value(p, q) == pytest.approx(
        np.sum((np.sqrt(p) - np.sqrt(q)) ** 2))
    assert D.hellinger_distance(p, q) ** 2 == pytest.approx(
        D.get_divergence("hellinger").value(p, q))


def test_zero_probability_conventions():
    p, q = np.array([0.5, 0.5, 0.0]), np.array([0.5, 0.0, 0.5])
    assert np.isinf(D.get_divergence("kl").value(p, q))
    assert D.get_divergence("tv").value(p, q) == pytest.approx(0.5)
    # squared Hellinger: new mass 0.5 costs 0.5 * f'(inf) = 0.5; lost mass q f(0) = 0.5
    assert D.get_divergence("hellinger").value(p, q) == pytest.approx(
        np.sum((np.sqrt(p) - np.sqrt(q)) ** 2))


# -- the exact maximizer of (4) ------------------------------------------------------------
@st.composite
def problems(draw, zeros=True):
    n = draw(st.integers(2, 5))
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    q = rng.normal(size=n) * draw(st.sampled_from([0.1, 1.0, 5.0]))
    p = rng.dirichlet(np.ones(n))
    if zeros and draw(st.booleans()):
        p[rng.integers(n)] = 0.0
        p /= p.sum()
    return q, p, draw(st.sampled_from([0.05, 0.5, 2.0])), seed


@settings(max_examples=12)
@given(problems(), st.sampled_from(["kl", "reverse_kl", "chi2", "hellinger", "tv"]))
def test_fdiv_argmax_is_the_constrained_optimum(prob, name):
    q, p, omega, seed = prob
    f = D.get_divergence(name)
    x = D.fdiv_argmax(q, p, f, omega).probs
    assert x.sum() == pytest.approx(1.0, abs=1e-12) and np.all(x >= 0)

    def obj(v):
        return float(v @ q - omega * f.value(v, p))

    best = slsqp_max(obj, len(q), seed)
    assert obj(x) >= best - OPT_TOL


def test_kl_lambda_matches_brentq_root():
    rng = np.random.default_rng(5)
    q, p, omega = rng.normal(size=4), rng.dirichlet(np.ones(4)), 0.7
    step = D.fdiv_argmax(q, p, "kl", omega)
    lam = brentq(lambda l: np.sum(p * np.exp((q + l) / omega - 1)) - 1, -50, 50, xtol=1e-14)
    assert step.lam[0] == pytest.approx(lam, abs=1e-10)
    np.testing.assert_allclose(step.probs, p * np.exp((q + lam) / omega - 1), atol=1e-12)


def test_hellinger_lambda_matches_brentq_root():
    q, p, omega = np.array([0.3, -0.2, 1.0]), np.array([0.2, 0.5, 0.3]), 0.5
    step = D.fdiv_argmax(q, p, "hellinger", omega)
    # bracket: (q + lam)/omega < 1 for all actions
    hi = omega - q.max() - 1e-12
    lam = brentq(lambda l: np.sum(p / (1 - (q + l) / omega) ** 2) - 1, -100, hi, xtol=1e-15)
    assert step.lam[0] == pytest.approx(lam, abs=1e-9)


def test_tv_against_linear_program():
    rng = np.random.default_rng(7)
    for _ in range(20):
        n = rng.integers(2, 6)
        q, p, omega = rng.normal(size=n), rng.dirichlet(np.ones(n)), rng.uniform(0, 2)
        if rng.random() < 0.3:
            p[rng.integers(n)] = 0
            p /= p.sum()
        # variables (pi, t): max q.pi - omega/2 sum t, t >= |pi - p|
        c = np.concatenate([-q, np.full(n, omega / 2)])
        A = np.block([[np.eye(n), -np.eye(n)], [-np.eye(n), -np.eye(n)]])
        b = np.concatenate([p, -p])
        lp = linprog(c, A_ub=A, b_ub=b, A_eq=np.concatenate([np.ones(n), np.zeros(n)])[None],
                     b_eq=[1], bounds=[(0, None)] * (2 * n), method="highs")
        x = D.fdiv_argmax(q, p, "tv", omega).probs
        mine = x @ q - omega * D.tv_distance(x, p)
        assert mine == pytest.approx(-lp.fun, abs=1e-9)


def test_lemma1_formula_misses_new_support_with_finite_fprime_inf():
    """Squared Hellinger (f'(inf) = 1): a high-Q action with pi_old = 0 gets mass."""
    q, p, omega = np.array([0.0, 0.0, 10.0]), np.array([0.5, 0.5, 0.0]), 1.0
    f = D.get_divergence("hellinger")
    exact = D.fdiv_argmax(q, p, f, omega).probs
    assert exact[2] > 0.9
    lam = D.fdiv_argmax(q, p, f, omega, mask=p > 0).lam
    paper = D.lemma1_formula(q, p, f, omega, lam)[0]
    assert paper[2] == 0.0

    def obj(v):
        return float(v @ q - omega * f.value(v, p))

    assert obj(exact) > obj(paper) + 1.0
    assert obj(exact) >= slsqp_max(obj, 3) - OPT_TOL


def test_rows_and_masks():
    q = np.array([[1.0, 2.0, 99.0], [0.0, 1.0, 0.0]])
    p = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])
    mask = np.array([[True, True, False], [True, True, True]])
    x = D.fdiv_argmax(q, p, "kl", 1.0, mask=mask).probs
    assert x[0, 2] == 0.0
    np.testing.assert_allclose(x[1], p[1] * np.exp(q[1]) / (p[1] * np.exp(q[1])).sum())


@pytest.mark.parametrize("kwargs, msg", [
    (dict(q=[1.0, np.nan], prior=[0.5, 0.5], omega=1.0), "q\\[0, 1\\]"),
    (dict(q=[1.0, 0.0], prior=[0.5, 0.6], omega=1.0), "prior\\[0, :\\] sums"),
    (dict(q=[1.0, 0.0], prior=[0.5, 0.5], omega=-1.0), "omega"),
    (dict(q=[1.0, 0.0], prior=[0.5, 0.5, 0.0], omega=1.0), "prior must have the shape"),
])
def test_solver_input_errors(kwargs, msg):
    with pytest.raises(ValueError, match=msg):
        D.fdiv_argmax(divergence="kl", **kwargs)


# -- the unary maximizer (44) ----------------------------------------------------------------
@settings(max_examples=10)
@given(problems(zeros=False), st.sampled_from(["entropy", "tsallis"]))
def test_unary_argmax_is_the_constrained_optimum(prob, name):
    q, _, omega, seed = prob
    reg = D.get_regularizer(name)
    x = D.unary_argmax(q, reg, omega).probs

    def obj(v):
        return float(v @ q + omega * reg.value(v))

    assert obj(x) >= slsqp_max(obj, len(q), seed) - OPT_TOL


def test_unary_entropy_is_softmax_and_tsallis_is_sparsemax():
    q = np.array([1.0, 0.2, -3.0, 0.9])
    np.testing.assert_allclose(D.unary_argmax(q, "entropy", 0.5).probs, softmax(q / 0.5))
    # Tsallis q=2, k=1/2: argmax pi.q - (omega/2)|pi|^2 = Euclidean projection of q/omega
    z = q / 1.0
    srt = np.sort(z)[::-1]
    k = np.arange(1, len(z) + 1)
    kmax = k[1 + k * srt > np.cumsum(srt)][-1]
    tau = (np.cumsum(srt)[kmax - 1] - 1) / kmax
    np.testing.assert_allclose(D.unary_argmax(q, "tsallis", 1.0).probs,
                               np.maximum(z - tau, 0), atol=1e-12)
