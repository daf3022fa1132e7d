r"""f-divergences, their derivative inverses, and the exact per-state regularized argmax.

Paper 003 (``003_0170c5bbe7a21af9.txt``), Section 4.1: every agent's update is

.. math:: \pi^i_{new}(\cdot|s) = \arg\max_{\pi^i} \sum_{a_i} \pi^i(a_i|s) Q_i(s, a_i)
          - \omega D_f(\pi^i(\cdot|s) \,\|\, \pi^i_{old}(\cdot|s)),              \qquad (4)

with :math:`D_f(p\|q) = \sum_i q_i f(p_i / q_i)`, ``f`` convex on [0, inf) and
``f(1) = 0``. Lemma 1 (eq. 6) writes the maximizer with :math:`g = (f')^{-1}` and a
multiplier :math:`\lambda_s`:
:math:`\pi_{new}(a) = \max\{\pi_{old}(a)\, g((\lambda_s + Q(a)) / \omega), 0\}`,
:math:`\sum_a \pi_{new}(a) = 1`.

:class:`FDivergence` builds everything from a sympy expression of ``f``: it checks
``f(1) = 0`` (exactly) and convexity (symbolically where sympy decides it, else on a
log-spaced grid), derives ``f'`` and ``g`` symbolically where sympy can (else inverts
``f'`` numerically) and compiles them with :func:`sympy.lambdify`. Built-ins: KL,
reverse KL, chi^2, squared Hellinger and total variation (TV; not differentiable, it
gets its exact closed-form maximizer).

:func:`fdiv_argmax` solves (4) exactly for every state at once:

* KL: closed form :math:`\pi \propto \pi_{old} e^{Q/\omega}` (stable log-sum-exp);
* TV: closed form (a linear program): every action whose Q is below the best action's
  by more than omega gives all its mass to the best action;
* any other strictly convex differentiable f: the root :math:`\lambda_s` of the
  non-decreasing :math:`\phi_s(\lambda) = \sum_a \pi_{old}(a) g((Q(a)+\lambda)/\omega) - 1`
  inside the proven bracket
  :math:`[\omega f'(1) - \max_a Q(a), \omega f'(1) - \min_a Q(a)]` (max/min over the
  support of :math:`\pi_{old}`; at the left end every ``g`` term is at most
  ``g(f'(1)) = 1``, at the right end at least 1), by safeguarded Newton (a bisection
  step whenever Newton leaves the bracket).

Zero-probability actions. Where :math:`\pi_{old}(a) = 0` the paper's formula (6) gives
:math:`\pi_{new}(a) = 0`. With the standard convention
:math:`0 f(p/0) = p f'(\infty)`, :math:`f'(\infty) = \lim_{x\to\infty} f(x)/x`, that is
the maximizer only when :math:`f'(\infty) = \infty` (KL, chi^2). For finite
:math:`f'(\infty)` (TV: 1/2, squared Hellinger: 1, reverse KL: 0) putting mass on a new
action costs :math:`\omega f'(\infty)` per unit, and the exact maximizer (computed
here) can put mass there; :func:`lemma1_formula` evaluates the paper's (6) as printed,
so the two can be compared (``proofs_check`` claim ``fdiv/lemma-1-boundary``).

The unary formulation of Appendix E.1 (eqs. 44-45) is :class:`UnaryRegularizer` and
:func:`unary_argmax`.

Hellinger. The paper pairs ``f(x) = (1 - sqrt x)^2`` with
:math:`D_H(p\|q) = \sqrt{\sum_i (\sqrt{p_i} - \sqrt{q_i})^2}` (Sec. 4.1), but that ``f``
gives the f-divergence :math:`\sum_i (\sqrt{p_i} - \sqrt{q_i})^2` (no square root). The
built-in ``"hellinger"`` is the f-divergence (used by the H-iteration of Fig. 1);
:func:`hellinger_distance` is the square-root distance of eq. (17) and Appendix A.7.
"""
from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Callable

import numpy as np

__all__ = ["FDivergence", "UnaryRegularizer", "ProximalStep", "fdiv_argmax",
           "unary_argmax", "lemma1_formula", "get_divergence", "get_regularizer",
           "DIVERGENCES", "REGULARIZERS", "tv_distance", "hellinger_distance",
           "kl_divergence", "SUM_TOL", "ROOT_FTOL", "CONVEXITY_TOL", "ROOT_MAX_ITER", "PROB_TOL"]

#: Largest allowed |sum_a pi_new(a) - 1| at the root before the final renormalization;
#: a larger residual raises (the root finder failed).
SUM_TOL = 1e-9
#: Relative tolerance of the numerical convexity check (second differences of f on a
#: log-spaced grid may be this negative, relative to the local slope scale).
CONVEXITY_TOL = 1e-9
#: The root finder stops when |sum_a pi(a) - 1| is below this (or the bracket is a few
#: ulps wide).
ROOT_FTOL = 1e-14
#: Cap on root-finder iterations; reaching it without convergence raises.
ROOT_MAX_ITER = 400
#: Tolerance on an input probability row's sum.
PROB_TOL = 1e-9

#: Names of the built-in f-divergences (aliases accepted by :func:`get_divergence`).
DIVERGENCES = ("kl", "reverse_kl", "chi2", "hellinger", "tv")
#: Names of the built-in unary regularizers of Appendix E.
REGULARIZERS = ("entropy", "tsallis")

_ALIASES = {"kl": "kl", "reverse_kl": "reverse_kl", "rkl": "reverse_kl",
            "chi2": "chi2", "chi^2": "chi2", "chi_squared": "chi2",
            "hellinger": "hellinger", "h": "hellinger", "tv": "tv",
            "total_variation": "tv"}

_BUILTIN_F = {"kl": "x*log(x)", "reverse_kl": "-log(x)", "chi2": "(x - 1)**2",
              "hellinger": "(1 - sqrt(x))**2", "tv": "Abs(x - 1)/2"}

_GRID = np.logspace(-6, 6, 2401)


def _sympy():
    import sympy  # imported lazily: ``import fairmg`` stays fast

    return sympy


def _symbols():
    sp = _sympy()
    return sp.Symbol("x", positive=True), sp.Symbol("y", real=True)


def _to_float(v) -> float:
    """sympy number (possibly +-oo) -> float."""
    sp = _sympy()
    if v is sp.oo:
        return np.inf
    if v is -sp.oo:
        return -np.inf
    if v is sp.zoo or v is sp.nan or v is None:
        return np.nan
    try:
        return float(v)
    except (TypeError, ValueError):
        return np.nan


def _parse(expr, what: str):
    """A sympy expression of one positive symbol ``x`` from a string or an expression."""
    sp = _sympy()
    x, _ = _symbols()
    if isinstance(expr, str):
        try:
            e = sp.sympify(expr, locals={"x": x})
        except (sp.SympifyError, SyntaxError, TypeError) as exc:
            raise ValueError(f"{what}: cannot parse {expr!r} as a sympy expression") from exc
    elif isinstance(expr, sp.Basic):
        e = expr
    else:
        raise TypeError(f"{what} must be a sympy expression or a string, got "
                        f"{type(expr).__name__}")
    free = e.free_symbols
    if len(free) > 1:
        raise ValueError(f"{what} must have one free symbol, got {sorted(map(str, free))}")
    if free:
        e = e.subs(next(iter(free)), x)
    return e


def _lambdify(e) -> Callable[[np.ndarray], np.ndarray]:
    sp = _sympy()
    x, y = _symbols()
    sym = y if y in e.free_symbols else x
    fn = sp.lambdify(sym, e, modules="numpy")

    def call(v):
        v = np.asarray(v, dtype=np.float64)
        with np.errstate(all="ignore"):
            out = fn(v)
        return np.broadcast_to(np.asarray(out, dtype=np.float64), v.shape).copy()

    return call


_NONSMOOTH = ("Abs", "sign", "Piecewise", "Heaviside", "Max", "Min", "floor", "ceiling")


def _is_nonsmooth(e) -> bool:
    sp = _sympy()
    return any(e.has(getattr(sp, n)) for n in _NONSMOOTH)


def _numeric_convex(fvals: np.ndarray, grid: np.ndarray, sign: float) -> tuple[bool, float]:
    """Are the slopes of ``sign * f`` on ``grid`` non-decreasing (within tolerance)?"""
    dx = np.diff(grid)
    slopes = np.diff(sign * fvals) / dx
    # round-off of each slope: a few ulps of the f values it differences
    err = 16 * np.finfo(float).eps * (np.abs(fvals[1:]) + np.abs(fvals[:-1])) / dx
    jumps = np.diff(slopes) + err[1:] + err[:-1]
    scale = 1.0 + np.maximum(np.abs(slopes[1:]), np.abs(slopes[:-1]))
    worst = float(np.min(jumps / scale))
    return worst >= -CONVEXITY_TOL, worst


def _inverse(fprime_expr, lo: float, hi: float, decreasing: bool):
    """g = (f')^{-1} symbolically if sympy finds a valid branch, else None."""
    sp = _sympy()
    x, y = _symbols()
    try:
        sols = sp.solve(sp.Eq(fprime_expr, y), x)
    except (NotImplementedError, ValueError, TypeError):
        return None
    fp = _lambdify(fprime_expr)
    ys = _probe_points(lo, hi)
    for sol in sols:
        if sol.has(x) or _is_nonsmooth(sol):
            continue
        cand = _lambdify(sol)
        xs = cand(ys)
        if np.all(np.isfinite(xs)) and np.all(xs > 0) and np.allclose(
                fp(xs), ys, rtol=1e-8, atol=1e-10):
            return sol
    return None


def _probe_points(lo: float, hi: float) -> np.ndarray:
    """Points strictly inside (lo, hi) (either end may be infinite)."""
    if np.isfinite(lo) and np.isfinite(hi):
        return lo + (hi - lo) * np.linspace(0.02, 0.98, 25)
    if np.isfinite(lo):
        return lo + np.logspace(-3, 2, 25)
    if np.isfinite(hi):
        return hi - np.logspace(-3, 2, 25)
    return np.linspace(-20, 20, 25)


class _NumericInverse:
    """x = (f')^{-1}(y) by bisection in log x, for a strictly monotone f' (vectorized)."""

    def __init__(self, fprime: Callable, increasing: bool):
        self.fprime = fprime
        self.sign = 1.0 if increasing else -1.0

    def __call__(self, y):
        y = np.asarray(y, dtype=np.float64)
        lo = np.full(y.shape, -745.0)
        hi = np.full(y.shape, 709.0)
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            above = self.sign * (self.fprime(np.exp(mid)) - y) > 0
            hi = np.where(above, mid, hi)
            lo = np.where(above, lo, mid)
        return np.exp(0.5 * (lo + hi))


class FDivergence:
    r"""An f-divergence :math:`D_f(p\|q) = \sum_i q_i f(p_i/q_i)` (003, Sec. 4.1).

    Parameters
    ----------
    f : sympy expression or str
        ``f`` in one variable (any symbol, or ``x`` in a string), convex on (0, inf)
        with ``f(1) = 0``; both are checked and a violation raises ``ValueError``.
    name : str, optional

    Attributes
    ----------
    expr, fprime_expr, g_expr : sympy expressions
        ``f``, ``f'`` and ``g = (f')^{-1}`` (``g_expr`` is None when sympy finds no
        inverse; then ``g`` is inverted numerically; both None for non-smooth f).
    f0 : float
        :math:`f(0) = \lim_{x\to 0^+} f(x)` (may be inf).
    fprime0, fprime_inf : float
        :math:`f'(0^+)` and :math:`f'(\infty) = \lim_{x\to\infty} f(x)/x` (may be
        infinite): the range of ``f'``, i.e. the domain of ``g``.
    differentiable : bool
        True when ``f`` has no non-smooth part (Abs, sign, Piecewise, ...).
    strictly_convex : bool
        ``f'' > 0`` on (0, inf): needed for ``g`` to exist.
    """

    def __init__(self, f, name: str | None = None):
        sp = _sympy()
        x, _ = _symbols()
        e = _parse(f, "f")
        self.expr = e
        self.name = name or str(e)
        at_one = sp.simplify(e.subs(x, 1))
        if at_one != 0:
            raise ValueError(f"f(1) = {at_one}, expected 0 (an f-divergence needs f(1) = 0); "
                             f"f = {e}")
        self._f = _lambdify(e)
        fvals = self._f(_GRID)
        bad = np.flatnonzero(~np.isfinite(fvals))
        if bad.size:
            raise ValueError(f"f({_GRID[bad[0]]:.3g}) = {fvals[bad[0]]}: f must be finite on "
                             f"(0, inf); f = {e}")
        self.differentiable = not _is_nonsmooth(e)
        ok, worst = _numeric_convex(fvals, _GRID, 1.0)
        if not ok:
            raise ValueError(f"f = {e} is not convex on (0, inf): its slopes decrease "
                             f"(worst relative second difference {worst:.3g} on a grid of "
                             f"[1e-6, 1e6]); an f-divergence needs a convex f")
        self.f0 = _to_float(sp.limit(e, x, 0, "+"))
        self.fprime_inf = _to_float(sp.limit(e / x, x, sp.oo))
        self.fprime_expr = None
        self.g_expr = None
        self.strictly_convex = False
        self._fprime = self._g = self._gprime = None
        if self.differentiable:
            fp = sp.diff(e, x)
            f2 = sp.simplify(sp.diff(e, x, 2))
            if f2.is_nonnegative is False or (f2.is_negative is True):
                raise ValueError(f"f'' = {f2} < 0: f = {e} is not convex")
            self.fprime_expr = fp
            self._fprime = _lambdify(fp)
            self.fprime0 = _to_float(sp.limit(fp, x, 0, "+"))
            self.fprime_one = _to_float(fp.subs(x, 1))
            f2vals = _lambdify(f2)(_GRID)
            self.strictly_convex = bool(f2.is_positive) or bool(
                np.all(np.isfinite(f2vals)) and np.all(f2vals > 0))
            if self.strictly_convex:
                self.g_expr = _inverse(fp, self.fprime0, self.fprime_inf, decreasing=False)
                if self.g_expr is not None:
                    _, y = _symbols()
                    self._g = _lambdify(self.g_expr)
                    self._gprime = _lambdify(sp.diff(self.g_expr, y))
                else:
                    self._g = _NumericInverse(self._fprime, increasing=True)
                    fpp = _lambdify(f2)
                    self._gprime = lambda yv: 1.0 / fpp(self._g(yv))
        else:
            self.fprime0 = np.nan
            self.fprime_one = np.nan

    # -- numerical functions -------------------------------------------------------------
    def f(self, x) -> np.ndarray:
        """f(x) for x >= 0 (f(0) is the limit ``f0``)."""
        x = np.asarray(x, dtype=np.float64)
        with np.errstate(all="ignore"):
            out = np.where(x > 0, self._f(np.where(x > 0, x, 1.0)), self.f0)
        return out

    def fprime(self, x) -> np.ndarray:
        """f'(x) for x > 0."""
        self._need_smooth("f'")
        return self._fprime(x)

    def g(self, y) -> np.ndarray:
        r"""g = (f')^{-1} extended to all reals: 0 at or below f'(0+), +inf at or above
        f'(inf) (Lemma 1 / Appendix A.1; the max{., 0} of eq. 19 is the lower end)."""
        self._need_g()
        y = np.asarray(y, dtype=np.float64)
        inside = (y > self.fprime0) & (y < self.fprime_inf)
        with np.errstate(all="ignore"):
            val = self._g(np.where(inside, y, self.fprime_one))
        return np.where(inside, val, np.where(y <= self.fprime0, 0.0, np.inf))

    def gprime(self, y) -> np.ndarray:
        """g'(y) = 1 / f''(g(y)) inside the range of f', 0 outside."""
        self._need_g()
        y = np.asarray(y, dtype=np.float64)
        inside = (y > self.fprime0) & (y < self.fprime_inf)
        with np.errstate(all="ignore"):
            val = self._gprime(np.where(inside, y, self.fprime_one))
        return np.where(inside, val, 0.0)

    def _need_smooth(self, what: str) -> None:
        if not self.differentiable:
            raise ValueError(f"{what} of the non-differentiable f = {self.expr} does not exist")

    def _need_g(self) -> None:
        self._need_smooth("g = (f')^{-1}")
        if not self.strictly_convex:
            raise ValueError(f"g = (f')^(-1) needs a strictly convex f; f = {self.expr} is not")

    # -- the divergence ------------------------------------------------------------------
    def value(self, p, q) -> np.ndarray | float:
        r"""D_f(p || q) along the last axis, with :math:`0 f(0/0) = 0` and
        :math:`0 f(p/0) = p f'(\infty)` (may be +inf, e.g. KL with new support)."""
        p = np.asarray(p, dtype=np.float64)
        q = np.asarray(q, dtype=np.float64)
        if p.shape != q.shape:
            raise ValueError(f"p and q must have the same shape, got {p.shape} and {q.shape}")
        for nm, arr in (("p", p), ("q", q)):
            if not np.all(np.isfinite(arr)) or np.any(arr < 0):
                raise ValueError(f"{nm} must be finite and >= 0")
        pos = q > 0
        with np.errstate(all="ignore"):
            ratio = np.where(pos, p / np.where(pos, q, 1.0), 0.0)
            inner = np.where(pos, q * self.f(ratio), 0.0)
            new = np.where(~pos & (p > 0), p * self.fprime_inf, 0.0)
        out = (inner + new).sum(axis=-1)
        return float(out) if np.ndim(out) == 0 else out

    __call__ = value

    def solve(self, q, prior, omega: float, *, mask=None) -> "ProximalStep":
        """:func:`fdiv_argmax` with this divergence."""
        return fdiv_argmax(q, prior, self, omega, mask=mask)

    def __repr__(self) -> str:
        return f"FDivergence({self.name!r}, f={self.expr})"


class UnaryRegularizer:
    r"""The unary regularizer :math:`\sum_a \pi(a) \phi(\pi(a))` of 003, Appendix E.1.

    Lemma 3 (eq. 45) needs phi non-increasing on (0, 1], phi(1) = 0, differentiable and
    :math:`f_\phi(x) = x\phi(x)` strictly concave; all four are checked (symbolically,
    or numerically on a grid of (0, 1]). :math:`g_\phi = (f_\phi')^{-1}` is then
    decreasing.

    Parameters
    ----------
    phi : sympy expression or str
    name : str, optional
    """

    def __init__(self, phi, name: str | None = None):
        sp = _sympy()
        x, y = _symbols()
        e = _parse(phi, "phi")
        self.expr = e
        self.name = name or str(e)
        if _is_nonsmooth(e):
            raise ValueError(f"phi = {e} must be differentiable (Lemma 3, condition 3)")
        at_one = sp.simplify(e.subs(x, 1))
        if at_one != 0:
            raise ValueError(f"phi(1) = {at_one}, expected 0 (Lemma 3, condition 2)")
        grid = np.logspace(-8, 0, 1601)
        dphi = _lambdify(sp.diff(e, x))(grid)
        if not np.all(np.isfinite(dphi)) or np.any(dphi > CONVEXITY_TOL * (1 + np.abs(dphi))):
            raise ValueError(f"phi = {e} must be non-increasing on (0, 1] (Lemma 3, "
                             f"condition 1)")
        fphi = x * e
        fp = sp.diff(fphi, x)
        f2 = sp.simplify(sp.diff(fphi, x, 2))
        f2v = _lambdify(f2)(grid)
        if not (f2.is_negative or (np.all(np.isfinite(f2v)) and np.all(f2v < 0))):
            raise ValueError(f"x*phi(x) = {fphi} must be strictly concave on (0, 1] (Lemma 3, "
                             f"condition 4); its second derivative is {f2}")
        self.fphi_expr = fphi
        self.fprime_expr = fp
        self._fprime = _lambdify(fp)
        self._phi = _lambdify(e)
        #: range of f_phi' over (0, inf): (fprime_inf, fprime0), f_phi' decreasing
        self.fprime0 = _to_float(sp.limit(fp, x, 0, "+"))
        self.fprime_inf = _to_float(sp.limit(fp, x, sp.oo))
        self.g_expr = _inverse(fp, self.fprime_inf, self.fprime0, decreasing=True)
        if self.g_expr is not None:
            self._g = _lambdify(self.g_expr)
        else:
            self._g = _NumericInverse(self._fprime, increasing=False)

    @classmethod
    def entropy(cls) -> "UnaryRegularizer":
        """phi(x) = -log x (Shannon entropy; independent SAC)."""
        return cls("-log(x)", name="entropy")

    @classmethod
    def tsallis(cls, q: float = 2.0, k: float = 0.5) -> "UnaryRegularizer":
        """phi(x) = k/(q-1) (1 - x^(q-1)) (Tsallis entropy; q = 2, k = 1/2: sparsemax)."""
        if not (q > 0 and q != 1 and k > 0):
            raise ValueError(f"tsallis needs q > 0, q != 1 and k > 0, got q={q}, k={k}")
        sp = _sympy()
        x, _ = _symbols()
        qq, kk = sp.nsimplify(q), sp.nsimplify(k)
        return cls(kk / (qq - 1) * (1 - x ** (qq - 1)), name=f"tsallis(q={q:g}, k={k:g})")

    def phi(self, x) -> np.ndarray:
        return self._phi(x)

    def fprime(self, x) -> np.ndarray:
        """f_phi'(x), decreasing."""
        return self._fprime(x)

    def g(self, y) -> np.ndarray:
        r"""g_phi = (f_phi')^{-1} (decreasing), extended by 0 at or above f_phi'(0+) and
        +inf at or below f_phi'(inf); the max{., 0} of eq. (45)."""
        y = np.asarray(y, dtype=np.float64)
        inside = (y < self.fprime0) & (y > self.fprime_inf)
        with np.errstate(all="ignore"):
            val = self._g(np.where(inside, y, self._fprime(np.array(0.5)).item()))
        return np.where(inside, val, np.where(y >= self.fprime0, 0.0, np.inf))

    def value(self, p) -> np.ndarray | float:
        r""":math:`\sum_a p_a \phi(p_a)` with :math:`0 \phi(0) = \lim_{x\to0} x\phi(x)`."""
        p = np.asarray(p, dtype=np.float64)
        with np.errstate(all="ignore"):
            terms = np.where(p > 0, p * self._phi(np.where(p > 0, p, 1.0)), 0.0)
        out = terms.sum(axis=-1)
        return float(out) if np.ndim(out) == 0 else out

    def __repr__(self) -> str:
        return f"UnaryRegularizer({self.name!r}, phi={self.expr})"


@functools.lru_cache(maxsize=None)
def _builtin(name: str) -> FDivergence:
    return FDivergence(_BUILTIN_F[name], name=name)


def get_divergence(divergence) -> FDivergence:
    """An :class:`FDivergence` from a built-in name (``kl``, ``reverse_kl``, ``chi2``,
    ``hellinger``, ``tv``; aliases ``chi^2``, ``h``, ``rkl``) or an instance."""
    if isinstance(divergence, FDivergence):
        return divergence
    if isinstance(divergence, str) and divergence.lower() in _ALIASES:
        return _builtin(_ALIASES[divergence.lower()])
    raise ValueError(f"divergence must be one of {DIVERGENCES} or an FDivergence, got "
                     f"{divergence!r}")


@functools.lru_cache(maxsize=None)
def _builtin_regularizer(name: str) -> UnaryRegularizer:
    return UnaryRegularizer.entropy() if name == "entropy" else UnaryRegularizer.tsallis()


def get_regularizer(regularizer) -> UnaryRegularizer:
    """A :class:`UnaryRegularizer` from ``"entropy"``, ``"tsallis"`` (q=2, k=1/2) or an
    instance."""
    if isinstance(regularizer, UnaryRegularizer):
        return regularizer
    if isinstance(regularizer, str) and regularizer.lower() in REGULARIZERS:
        return _builtin_regularizer(regularizer.lower())
    raise ValueError(f"regularizer must be one of {REGULARIZERS} or a UnaryRegularizer, "
                     f"got {regularizer!r}")


# -- distances used by the claims ---------------------------------------------------------
def tv_distance(p, q) -> np.ndarray | float:
    r""":math:`D_{TV}(p\|q) = \frac12 \sum_i |p_i - q_i|` along the last axis (003, Sec. 4.2)."""
    out = 0.5 * np.abs(np.asarray(p, np.float64) - np.asarray(q, np.float64)).sum(-1)
    return float(out) if np.ndim(out) == 0 else out


def hellinger_distance(p, q) -> np.ndarray | float:
    r""":math:`D_H(p\|q) = \sqrt{\sum_i (\sqrt{p_i} - \sqrt{q_i})^2}` (003, eq. 17, App. A.7).

    Not the f-divergence of ``f = (1 - sqrt x)^2``, which is the square of this."""
    d = np.sqrt(np.asarray(p, np.float64)) - np.sqrt(np.asarray(q, np.float64))
    out = np.sqrt((d * d).sum(-1))
    return float(out) if np.ndim(out) == 0 else out


def kl_divergence(p, q) -> np.ndarray | float:
    r""":math:`D_{KL}(p\|q) = \sum_i p_i \log(p_i/q_i)` (+inf where p_i > 0 = q_i)."""
    return _builtin("kl").value(p, q)


# -- the exact per-state solvers -------------------------------------------------------
@dataclass(frozen=True)
class ProximalStep:
    """Result of :func:`fdiv_argmax` / :func:`unary_argmax`.

    Attributes
    ----------
    probs : ndarray (S, A)
        The maximizer per row (zeros on masked-out actions).
    lam : ndarray (S,) or None
        The multiplier lambda_s of eq. (6) / (45) (None for TV, which has no g).
    iterations : int
        Root-finder iterations (0 for closed forms).
    residual : float
        max_s |sum_a pi(a|s) - 1| at the root, before the final renormalization.
    """

    probs: np.ndarray
    lam: np.ndarray | None
    iterations: int
    residual: float


def _check_rows(q, prior, mask, omega, *, need_prior=True):
    q = np.asarray(q, dtype=np.float64)
    one_row = q.ndim == 1
    q = np.atleast_2d(q)
    if q.ndim != 2:
        raise ValueError(f"q must have shape (S, A) or (A,), got {np.shape(q)}")
    if not np.all(np.isfinite(q)):
        s, a = np.argwhere(~np.isfinite(q))[0]
        raise ValueError(f"q[{s}, {a}] is {q[s, a]}, expected a finite number")
    if mask is None:
        mask = np.ones(q.shape, dtype=bool)
    else:
        mask = np.broadcast_to(np.atleast_2d(np.asarray(mask, dtype=bool)), q.shape)
        if not np.all(mask.any(axis=1)):
            raise ValueError(f"mask row {int(np.argmin(mask.any(axis=1)))} has no action")
    try:
        omega = float(omega)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"omega must be a float, got {omega!r}") from exc
    if not (np.isfinite(omega) and omega >= 0):
        raise ValueError(f"omega is {omega}, expected a finite number >= 0")
    p = None
    if need_prior:
        p = np.atleast_2d(np.asarray(prior, dtype=np.float64))
        if p.shape != q.shape:
            raise ValueError(f"prior must have the shape of q {q.shape}, got {p.shape}")
        if not np.all(np.isfinite(p)) or np.any(p < 0):
            raise ValueError("prior must be finite and >= 0")
        if np.any((p > 0) & ~mask):
            s, a = np.argwhere((p > 0) & ~mask)[0]
            raise ValueError(f"prior[{s}, {a}] is {p[s, a]:.3g} on a masked-out action")
        sums = p.sum(axis=1)
        bad = np.flatnonzero(np.abs(sums - 1) > PROB_TOL)
        if bad.size:
            raise ValueError(f"prior[{bad[0]}, :] sums to {sums[bad[0]]:.12g}, expected 1")
    return q, p, mask, omega, one_row


def _monotone_root(phi: Callable, lo: np.ndarray, hi: np.ndarray, increasing: bool):
    r"""Vectorized safeguarded Newton for the root of a monotone ``phi`` in [lo, hi].

    ``phi(lam) -> (value, derivative)``; ``value(lo) <= 0 <= value(hi)`` when
    ``increasing`` (reversed otherwise). Newton steps that leave the current bracket
    (or have a zero derivative) are replaced by bisection, so it converges for any
    monotone phi. Stops when |phi| <= ROOT_FTOL or the bracket is a few ulps wide.
    """
    sgn = 1.0 if increasing else -1.0
    lam = 0.5 * (lo + hi)
    lo, hi = lo.copy(), hi.copy()
    for it in range(1, ROOT_MAX_ITER + 1):
        val, der = phi(lam)
        val = sgn * val
        der = sgn * der
        done = (np.abs(val) <= ROOT_FTOL) | (hi - lo <= 4 * np.spacing(
            np.maximum(np.abs(lo), np.abs(hi))))
        if np.all(done):
            return lam, it
        lo = np.where(val < 0, lam, lo)
        hi = np.where(val > 0, lam, hi)
        with np.errstate(all="ignore"):
            newton = lam - val / der
        ok = np.isfinite(newton) & (newton > lo) & (newton < hi) & (der > 0)
        nxt = np.where(ok, newton, 0.5 * (lo + hi))
        lam = np.where(done, lam, nxt)
    val, _ = phi(lam)
    raise RuntimeError(f"the lambda root finder did not converge in {ROOT_MAX_ITER} "
                       f"iterations (max |phi| = {np.max(np.abs(val)):.3g})")


def _finish(probs, mask, lam, iterations, one_row) -> ProximalStep:
    probs = np.where(mask, probs, 0.0)
    if not np.all(np.isfinite(probs)):
        s = int(np.argwhere(~np.isfinite(probs))[0][0])
        raise RuntimeError(f"the maximizer of row {s} is not finite: {probs[s]}")
    sums = probs.sum(axis=1)
    residual = float(np.max(np.abs(sums - 1.0)))
    if residual > SUM_TOL:
        s = int(np.argmax(np.abs(sums - 1.0)))
        raise RuntimeError(f"row {s} of the maximizer sums to {sums[s]:.15g}, expected 1 "
                           f"within SUM_TOL={SUM_TOL}")
    probs = probs / sums[:, None]
    if one_row:
        probs = probs[0]
        lam = None if lam is None else lam[:1]
    return ProximalStep(probs, lam, iterations, residual)


def _tv_argmax(q, p, mask, omega):
    """Exact maximizer of sum_a pi(a) q(a) - omega D_TV(pi || p) for every row.

    Moving mass m from action a to action b changes the objective by m (q_b - q_a - omega)
    (TV changes by m/2 at each end), whatever p(b) is, so the optimum moves all of the
    mass of every action with q_a < max q - omega to a best action (the lowest-index
    one; ties at exactly omega stay, the minimal move among the maximizers).
    """
    qm = np.where(mask, q, -np.inf)
    best = np.argmax(qm, axis=1)
    top = qm[np.arange(q.shape[0]), best]
    leave = mask & (q < top[:, None] - omega)
    out = np.where(leave, 0.0, p)
    out[np.arange(q.shape[0]), best] += np.where(leave, p, 0.0).sum(axis=1)
    return out


def _kl_argmax(q, p, mask, omega):
    """pi ∝ p exp(q / omega) on supp(p), by log-sum-exp; lambda = omega (1 - logsumexp)."""
    supp = mask & (p > 0)
    z = np.where(supp, q / omega, -np.inf)
    zmax = z.max(axis=1, keepdims=True)
    w = np.where(supp, p * np.exp(z - zmax), 0.0)
    tot = w.sum(axis=1, keepdims=True)
    lse = np.log(tot[:, 0]) + zmax[:, 0]
    return w / tot, omega * (1.0 - lse)


def fdiv_argmax(q, prior, divergence, omega: float, *, mask=None) -> ProximalStep:
    r"""Exact maximizer of (4): :math:`\max_\pi \sum_a \pi(a) q(a) - \omega D_f(\pi\|p)`.

    003, Lemma 1 and Appendix A.1, for every row (state) at once.

    Parameters
    ----------
    q : array_like (S, A) or (A,)
        The critic Q_i^{pi_old}(s, a_i) (eq. 3) or any scores.
    prior : array_like, same shape
        pi_old(.|s), rows summing to 1 (zeros allowed).
    divergence : str or FDivergence
    omega : float
        Regularization weight, > 0 (TV also accepts 0: plain greedy improvement).
    mask : array_like of bool, optional
        Actions that exist (the padding of a ProductPolicy is excluded).

    Returns
    -------
    ProximalStep
        ``probs`` the maximizer; ``lam`` the lambda_s of eq. (6) where f is smooth.

    Notes
    -----
    Actions with prior 0: kept at 0 when f'(inf) = inf; otherwise they are offered mass
    at the linear price omega f'(inf) (see the module notes), which (6) omits.
    """
    f = get_divergence(divergence)
    q, p, mask, omega, one_row = _check_rows(q, prior, mask, omega)
    if f.name == "tv" and not f.differentiable:
        return _finish(_tv_argmax(q, p, mask, omega), mask, None, 0, one_row)
    if omega <= 0:
        raise ValueError(f"omega is {omega}, expected > 0 for a smooth f-divergence")
    f._need_g()
    supp = mask & (p > 0)
    if f.name == "kl":
        probs, lam = _kl_argmax(q, p, mask, omega)
        return _finish(probs, mask, lam, 0, one_row)
    c = omega * f.fprime_one
    lo = c - np.where(supp, q, -np.inf).max(axis=1)
    hi = c - np.where(supp, q, np.inf).min(axis=1)

    def phi(lam):
        y = np.where(supp, (q + lam[:, None]) / omega, f.fprime_one)
        gv = np.where(supp, p * f.g(y), 0.0)
        dv = np.where(supp, p * f.gprime(y), 0.0) / omega
        return gv.sum(axis=1) - 1.0, dv.sum(axis=1)

    def at(lam):
        return np.where(supp, p * f.g(np.where(supp, (q + lam[:, None]) / omega,
                                               f.fprime_one)), 0.0)

    lam, its = _monotone_root(phi, lo, hi, increasing=True)
    probs = at(lam)
    zero = mask & ~supp
    if np.isfinite(f.fprime_inf) and zero.any():
        qz = np.where(zero, q, -np.inf)
        zbest = np.argmax(qz, axis=1)
        qbest = qz[np.arange(q.shape[0]), zbest]
        grow = qbest + lam > omega * f.fprime_inf
        if grow.any():
            lam = np.where(grow, omega * f.fprime_inf - qbest, lam)
            probs = at(lam)
            rows = np.flatnonzero(grow)
            probs[rows, zbest[rows]] = 1.0 - probs[rows].sum(axis=1)
    return _finish(probs, mask, lam, its, one_row)


def lemma1_formula(q, prior, divergence, omega: float, lam) -> np.ndarray:
    r"""The right-hand side of eq. (6) as printed, for a given lambda_s (per row).

    :math:`\max\{\pi_{old}(a) g((\lambda_s + Q(a))/\omega), 0\}`; with ``lam`` from
    :func:`fdiv_argmax` this is the paper's claimed maximizer.
    """
    f = get_divergence(divergence)
    f._need_g()
    q = np.atleast_2d(np.asarray(q, np.float64))
    p = np.atleast_2d(np.asarray(prior, np.float64))
    lam = np.atleast_1d(np.asarray(lam, np.float64))
    with np.errstate(invalid="ignore"):
        out = np.where(p > 0, p * f.g((q + lam[:, None]) / omega), 0.0)
    return np.maximum(out, 0.0)


def unary_argmax(q, regularizer, omega: float, *, mask=None) -> ProximalStep:
    r"""Exact maximizer of (44): :math:`\max_\pi \sum_a \pi(a) q(a) + \omega\sum_a \pi(a)\phi(\pi(a))`.

    003, Lemma 3, eq. (45): :math:`\pi(a) = \max\{g_\phi((\lambda_s - q(a))/\omega), 0\}`
    with :math:`\sum_a \pi(a) = 1` (the paper prints "= 0", a typo: a sum of
    non-negative terms equal to 0 is not a distribution). Entropy: closed form
    softmax(q / omega); otherwise lambda_s by the bracketed root finder, in the proven
    bracket :math:`[\min q + \omega c, \max q + \omega c]`, :math:`c = f_\phi'(1/n)`
    (so that every term is ``1/n`` at a common point).
    """
    reg = get_regularizer(regularizer)
    q, _, mask, omega, one_row = _check_rows(q, None, mask, omega, need_prior=False)
    if omega <= 0:
        raise ValueError(f"omega is {omega}, expected > 0")
    if reg.name == "entropy":
        z = np.where(mask, q / omega, -np.inf)
        zmax = z.max(axis=1, keepdims=True)
        w = np.where(mask, np.exp(z - zmax), 0.0)
        tot = w.sum(axis=1, keepdims=True)
        lam = omega * (np.log(tot[:, 0]) + zmax[:, 0] - 1.0)
        return _finish(w / tot, mask, lam, 0, one_row)
    n = mask.sum(axis=1)
    c = reg.fprime(1.0 / n)
    lo = np.where(mask, q, np.inf).min(axis=1) + omega * c
    hi = np.where(mask, q, -np.inf).max(axis=1) + omega * c
    h = 1e-7

    def phi(lam):
        y = (lam[:, None] - q) / omega
        gv = np.where(mask, reg.g(y), 0.0).sum(axis=1) - 1.0
        # derivative by a central difference of the monotone g (only steers Newton)
        up = np.where(mask, reg.g(y + h), 0.0).sum(axis=1)
        dn = np.where(mask, reg.g(y - h), 0.0).sum(axis=1)
        with np.errstate(invalid="ignore"):
            der = (up - dn) / (2 * h * omega)
        return gv, np.where(np.isfinite(der), der, 0.0)

    lam, its = _monotone_root(phi, lo, hi, increasing=False)
    probs = np.where(mask, reg.g((lam[:, None] - q) / omega), 0.0)
    return _finish(probs, mask, lam, its, one_row)
