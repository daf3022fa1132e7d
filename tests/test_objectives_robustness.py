"""Fuzz of the public API of fairmg.divergences and fairmg.fairness (issue 10).

The contract: for any finite array and any scalar, a function returns only finite numbers,
or raises ValueError/TypeError whose message names the offending argument; never NaN, an
inf the docstring does not promise, a RuntimeWarning, or another exception. The hypothesis
profile (``HYPOTHESIS_PROFILE=ci|thorough``, tests/conftest.py) sets the number of
examples: CI runs the fast profile, a full campaign the thorough one.
"""
import re
import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from fairmg import divergences as D
from fairmg import fairness as fx

finite = st.floats(allow_nan=False, allow_infinity=False)
edge = st.sampled_from([0.0, -0.0, 1.0, -1.0, 5e-324, 1e-300, 1e-6, 1e6, 1e300, 1.7e308,
                        -1.7e308])
number = st.one_of(finite, edge)
scalars = st.one_of(number, st.integers(-5, 5), st.sampled_from(["x", None, 1j, True]))


def arrays(elements=number, max_dims=2, min_side=1):
    return hnp.arrays(np.float64, hnp.array_shapes(min_dims=1, max_dims=max_dims,
                                                   min_side=min_side, max_side=5),
                      elements=elements)


def leaves(out):
    """The numeric arrays of a result (an EquityReport, a ProximalStep, an array)."""
    if hasattr(out, "__dataclass_fields__"):
        for name in out.__dataclass_fields__:
            yield from leaves(getattr(out, name))
    elif out is not None and not isinstance(out, (str, int, bool)):
        arr = np.asarray(out)
        if arr.dtype.kind == "f":
            yield arr
    elif isinstance(out, int) and not isinstance(out, bool):
        yield np.asarray(out, dtype=float)


def call(fn, names, *args, allow_inf=None, **kwargs):
    """Run ``fn``; returns its result, or None after a ValueError/TypeError that names one
    of ``names`` (as a word). ``allow_inf(result_leaf)``: where +inf is a documented value."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        try:
            out = fn(*args, **kwargs)
        except (ValueError, TypeError) as exc:
            msg = str(exc)
            assert any(re.search(rf"(?<![A-Za-z_]){re.escape(n)}(?![A-Za-z_])", msg)
                       for n in names), f"{type(exc).__name__} names none of {names}: {msg}"
            return None
    for arr in leaves(out):
        ok = np.isfinite(arr)
        if allow_inf is not None:
            ok |= allow_inf(arr)
        assert np.all(ok), f"non-finite result {arr}"
    return out


# ------------------------------------------------------------------------ fairness

@given(arrays(max_dims=3), scalars)
def test_fuzz_dispersion_indices(x, eps):
    for fn in (fx.gini, fx.cv, fx.jain, fx.theil, fx.atkinson):
        out = call(fn, ["x"], x)
        if out is not None:
            assert np.all(np.asarray(out) >= -1e-12)
    call(fx.atkinson, ["x", "eps"], x, eps)


@given(arrays(max_dims=3), scalars, st.sampled_from(["relative", "absolute", "other"]),
       scalars)
def test_fuzz_mre_suite(x, tau, kind, flag_tol):
    names = ["x", "tau", "excess"]
    call(fx.band_excess, names, x, tau, excess=kind)
    h = call(fx.mre, names, x, tau, excess=kind)
    call(fx.mre, names, x, tau, excess=kind, normalized=True)
    rep = call(fx.equity_report, names + ["flag_tol"], x, tau, excess=kind,
               flag_tol=flag_tol)
    if rep is not None and h is not None:
        np.testing.assert_allclose(rep.mre, h, rtol=1e-12)
    call(fx.mre_of_excess, ["e"], x)
    call(fx.mre_subgradient, ["e", "tie"], x, tie=flag_tol)


@given(arrays(max_dims=3), scalars, st.booleans())
def test_fuzz_alpha_fairness(x, alpha, centered):
    names = ["x", "alpha"]
    call(fx.alpha_fair_utility, names, x, alpha, centered=centered)
    call(fx.alpha_fair_welfare, names, x, alpha, centered=centered)
    call(fx.equally_distributed_equivalent, names, x, alpha)


# ----------------------------------------------------------------------- divergences

@st.composite
def distributions(draw, shape):
    """Rows summing to 1: random weights (some zero, some tiny) normalized."""
    w = draw(hnp.arrays(np.float64, shape, elements=st.one_of(
        st.floats(0.0, 1.0), st.sampled_from([0.0, 1e-300, 1e-30, 5e-324]))))
    w[..., 0] += (w.sum(axis=-1) == 0)     # a row of zeros gets a point mass
    return w / w.sum(axis=-1, keepdims=True)


@st.composite
def argmax_problems(draw):
    q = draw(arrays(max_dims=2))
    if draw(st.booleans()):
        prior = draw(distributions(q.shape))
    else:                                   # anything: must be refused cleanly
        prior = draw(arrays(max_dims=2))
    return q, prior


@given(argmax_problems(), st.sampled_from(D.DIVERGENCES), scalars)
def test_fuzz_fdiv_argmax(problem, name, omega):
    q, prior = problem
    step = call(D.fdiv_argmax, ["q", "prior", "omega"], q, prior, name, omega)
    if step is not None:
        x = np.atleast_2d(step.probs)
        assert np.all(x >= 0) and step.residual <= D.SUM_TOL
        np.testing.assert_allclose(x.sum(axis=1), 1.0, rtol=0, atol=1e-14)
        if step.lam is not None:            # the paper's (6) at the solver's lambda
            call(D.lemma1_formula, ["lam"], q, prior, name, omega, step.lam)


@given(arrays(max_dims=1), st.sampled_from(D.REGULARIZERS))
def test_fuzz_unary_pointwise_functions(x, name):
    reg = D.get_regularizer(name)
    call(reg.phi, ["x"], x)
    call(reg.fprime, ["x"], x)
    call(reg.value, ["p"], x)
    call(reg.g, ["y"], x, allow_inf=lambda a: np.isposinf(a) & (x <= reg.fprime_inf))
    call(reg.gprime, ["y"], x)


@given(arrays(max_dims=2), st.sampled_from(D.REGULARIZERS), scalars)
def test_fuzz_unary_argmax(q, name, omega):
    step = call(D.unary_argmax, ["q", "omega"], q, name, omega)
    if step is not None:
        x = np.atleast_2d(step.probs)
        assert np.all(x >= 0) and step.residual <= D.SUM_TOL


@given(arrays(), st.one_of(arrays(), st.just(None)), st.sampled_from(D.DIVERGENCES))
def test_fuzz_distances(p, q, name):
    if q is None:
        q = p[::-1].copy() if p.ndim == 1 else p
    names = ["p", "q"]
    call(D.tv_distance, names, p, q)
    call(D.hellinger_distance, names, p, q)
    f = D.get_divergence(name)
    # +inf is the value where the divergence is infinite (documented in FDivergence.value)
    support_mismatch = p.shape == q.shape and bool(np.any((p > 0) & (q == 0))
                                                   or np.any((q > 0) & (p == 0)))
    call(f.value, names, p, q, allow_inf=lambda a: np.isposinf(a) & support_mismatch)
    call(D.kl_divergence, names, p, q, allow_inf=lambda a: np.isposinf(a) & support_mismatch)


@given(arrays(max_dims=1), st.sampled_from(D.DIVERGENCES))
def test_fuzz_pointwise_functions(x, name):
    f = D.get_divergence(name)
    # f(0) = f0 = +inf for reverse KL (the limit)
    call(f.f, ["x"], x, allow_inf=lambda a: np.isposinf(a) & (x == 0) & np.isinf(f.f0))
    if f.differentiable:
        call(f.fprime, ["x"], x)
        # g is +inf past the pole f'(inf) by definition (Lemma 1); gprime is finite
        call(f.g, ["y"], x, allow_inf=lambda a: np.isposinf(a) & np.isfinite(f.fprime_inf))
        call(f.gprime, ["y"], x)


@pytest.mark.parametrize("bad, name", [("abc", "omega"), (1j, "omega"), (None, "omega")])
def test_scalar_arguments_of_the_wrong_type_name_themselves(bad, name):
    with pytest.raises(TypeError, match=name):
        D.fdiv_argmax([1.0, 0.0], [0.5, 0.5], "chi2", bad)
    with pytest.raises(TypeError, match="tau"):
        fx.mre([1.0, 2.0], "abc")
    with pytest.raises(TypeError, match="tie"):
        fx.mre_subgradient([1.0, 2.0], tie="abc")
    with pytest.raises(TypeError, match="q"):
        D.fdiv_argmax(["a", "b"], [0.5, 0.5], "chi2", 1.0)


def test_cases_the_fuzz_found():
    """Each of these returned inf/NaN or raised a RuntimeError before."""
    # a subnormal prior on the best action: its ratio pi/p does not fit in float64
    for name in ("reverse_kl", "hellinger", "chi2"):
        step = D.fdiv_argmax([2.0, 0.0], [5e-324, 1.0], name, 1.0)
        assert np.all(np.isfinite(step.probs)) and step.residual <= D.SUM_TOL
    # a power mean with |p log x| beyond float64: the limit (the minimum)
    assert fx.equally_distributed_equivalent([3.0, 5.0], 1.6e308) == pytest.approx(3.0)
    assert fx.atkinson([3.0, 6.0], 1e308) == pytest.approx(1 - 3.0 / 4.5)
    # g and g' beyond float64 are refused, not returned as inf
    with pytest.raises(ValueError, match=r"g\(y\) at y\[0\]"):
        D.get_divergence("kl").g([711.0])
    with pytest.raises(ValueError, match=r"g'\(y\) at y\[0\]"):
        D.get_divergence("reverse_kl").gprime([-3e-297])


@pytest.mark.parametrize("omega", [1e-6, 1.0, 1e3])
@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e6])
def test_unary_tsallis_is_sparsemax_at_every_scale(omega, scale):
    """Tsallis (q=2, k=1/2) is sparsemax(q / omega) (closed form below) at any scale."""
    rng = np.random.default_rng(11)
    for _ in range(5):
        q = rng.normal(size=5) * scale
        z = q / omega
        srt = np.sort(z)[::-1]
        k = np.arange(1, len(z) + 1)
        kmax = k[1 + k * srt > np.cumsum(srt)][-1]
        tau = (np.cumsum(srt)[kmax - 1] - 1) / kmax
        want = np.maximum(z - tau, 0)
        step = D.unary_argmax(q, "tsallis", omega)
        assert step.residual <= D.SUM_TOL
        np.testing.assert_allclose(step.probs, want, rtol=0, atol=1e-12)
