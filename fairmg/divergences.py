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

:func:`fdiv_argmax` solves (4) exactly for every state at once, at any omega and any
scale of Q (the maximizer depends on Q/omega only):

* KL: closed form :math:`\pi \propto \pi_{old} e^{(Q - \max Q)/\omega}` (stable
  log-sum-exp);
* TV: closed form (a linear program): every action whose Q is below the best action's
  by more than omega gives all its mass to the best action;
* any other strictly convex differentiable f: the root of the monotone
  :math:`\phi_s = \sum_a \pi_{old}(a) g(y_a) - 1`, :math:`y_a = (Q(a)+\lambda_s)/\omega`,
  solved for the best action's :math:`y_*` (so that
  :math:`y_a = y_* - (Q_* - Q(a))/\omega` has no cancellation) in the proven bracket
  :math:`[f'(1), f'(1/\pi_{old}(a_*))]` (at the left end every ratio
  :math:`\pi/\pi_{old}` is at most 1, at the right end the best action alone has mass
  1), which does not depend on the scale of Q or omega. Where :math:`f'(\infty)` is
  finite (squared Hellinger, reverse KL) ``g`` has a pole there and the unknown is the
  distance to the pole instead (:meth:`FDivergence._pole`), which keeps every
  :math:`\pi(a)` to full relative precision next to the pole. The root finder
  (:func:`_bracketed_root`) takes safeguarded Newton steps and bisects over the floats
  of the bracket, so it reaches the root to the last bit in at most ~130 steps; where
  the sum jumps across two adjacent floats, the point of the segment between them
  whose sum is 1 is taken (:func:`_solve`). Rows then sum to 1 within ``SUM_TOL``
  before the final renormalization, or a ``RuntimeError`` reports a solver failure.

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

User strings (``FDivergence("x*log(x)")``) are parsed by a whitelist over Python's
``ast`` (:func:`_parse_string`), never evaluated: ``sympy.sympify`` and ``parse_expr``
call ``eval`` and would run any code in the string.

Inputs and outputs: every public function here raises ``ValueError`` / ``TypeError``
naming the argument on invalid input (mismatched shapes included: nothing broadcasts
silently) and returns finite numbers, except the values that are infinite by
definition and documented as such (``D_f`` of mismatched supports, ``g`` past the pole).

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
           "kl_divergence", "SUM_TOL", "ROOT_FTOL", "CONVEXITY_TOL", "ROOT_MAX_ITER", "PROB_TOL",
           "MAX_EXPR_CHARS", "MAX_EXPR_DEPTH", "MAX_EXPONENT"]

#: Largest allowed |sum_a pi_new(a) - 1| at the root before the final renormalization;
#: a larger residual raises (the root finder failed).
SUM_TOL = 1e-9
#: Relative tolerance of the numerical convexity checks on a log-spaced grid: second
#: differences of f may be this negative relative to the local slope scale, and f'' this
#: negative relative to its largest value.
CONVEXITY_TOL = 1e-9
#: The root finder stops when |sum_a pi(a) - 1| is below this (or the bracket's ends are
#: adjacent floats).
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


# -- parsing user strings (no eval) --------------------------------------------------------
#: Longest user string :class:`FDivergence` / :class:`UnaryRegularizer` accept.
MAX_EXPR_CHARS = 2000
#: Deepest nesting of a parsed user expression.
MAX_EXPR_DEPTH = 60
#: Largest |exponent| a literal power may have (sympy evaluates ``10**10**10`` exactly).
MAX_EXPONENT = 1000

_CALLS = {  # name -> (sympy attribute, allowed numbers of arguments)
    "log": ("log", (1, 2)), "ln": ("log", (1,)), "exp": ("exp", (1,)),
    "sqrt": ("sqrt", (1,)), "cbrt": ("cbrt", (1,)), "Abs": ("Abs", (1,)),
    "abs": ("Abs", (1,)), "Pow": ("Pow", (2,)), "Rational": ("Rational", (1, 2)),
    "Max": ("Max", tuple(range(2, 9))), "Min": ("Min", tuple(range(2, 9))),
}
_CONSTANTS = {"E": "E", "pi": "pi"}


def _parse_string(text: str, what: str):
    """A sympy expression from a user string, by a whitelist over Python's ``ast``.

    Allowed: numbers, the variable ``x``, the constants ``E`` and ``pi``, ``+ - * / **``,
    unary minus and plus, and calls of ``log, ln, exp, sqrt, cbrt, Abs, abs, Pow,
    Rational, Max, Min`` with positional arguments. Nothing is evaluated: the sympy
    expression is built node by node (``sympy.sympify`` and ``parse_expr`` call ``eval``
    and would run ``__import__('os').system(...)``).
    """
    import ast

    sp = _sympy()
    x, _ = _symbols()
    allowed = ("numbers, the variable x, E, pi, + - * / **, and calls of "
               + ", ".join(_CALLS))
    if len(text) > MAX_EXPR_CHARS:
        raise ValueError(f"{what}: cannot parse a string of {len(text)} characters: too "
                         f"long (at most MAX_EXPR_CHARS={MAX_EXPR_CHARS})")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        raise ValueError(f"{what}: cannot parse {text!r}: {exc}") from None

    def refuse(node, why=None):
        piece = ast.get_source_segment(text.strip(), node) or type(node).__name__
        raise ValueError(f"{what}: cannot parse {text!r}: {why or repr(piece) + ' is not allowed'}"
                         f" (allowed: {allowed})")

    def number(node):
        v = node.value
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            refuse(node)
        if isinstance(v, float):
            if not np.isfinite(v):
                refuse(node, f"the number {v!r} is not finite")
            return sp.Float(v)
        return sp.Integer(v)

    def power(base, exp, node):
        if exp.is_Number and abs(exp) > MAX_EXPONENT:
            refuse(node, f"the exponent {exp} is too large (|exponent| <= "
                         f"MAX_EXPONENT={MAX_EXPONENT})")
        return sp.Pow(base, exp)

    binops = {ast.Add: lambda a, b, n: a + b, ast.Sub: lambda a, b, n: a - b,
              ast.Mult: lambda a, b, n: a * b, ast.Div: lambda a, b, n: a / b,
              ast.Pow: power}

    def build(node, depth):
        if depth > MAX_EXPR_DEPTH:
            refuse(node, f"it is nested too deeply (more than MAX_EXPR_DEPTH="
                         f"{MAX_EXPR_DEPTH} levels)")
        if isinstance(node, ast.Expression):
            return build(node.body, depth + 1)
        if isinstance(node, ast.Constant):
            return number(node)
        if isinstance(node, ast.Name):
            if node.id == "x":
                return x
            if node.id in _CONSTANTS:
                return getattr(sp, _CONSTANTS[node.id])
            refuse(node, f"the name {node.id!r} is not allowed (the variable is x)")
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
            v = build(node.operand, depth + 1)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp) and type(node.op) in binops:
            a, b = build(node.left, depth + 1), build(node.right, depth + 1)
            return binops[type(node.op)](a, b, node)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) \
                and node.func.id in _CALLS and not node.keywords:
            name, arities = _CALLS[node.func.id]
            if len(node.args) not in arities:
                refuse(node, f"{node.func.id} takes {' or '.join(map(str, arities))} "
                             f"arguments, got {len(node.args)}")
            args = [build(a, depth + 1) for a in node.args]
            if name == "Rational":
                if not all(a.is_Integer for a in args) or (len(args) == 2 and args[1] == 0):
                    refuse(node, "Rational takes integers and a non-zero denominator")
            if name == "Pow":
                return power(args[0], args[1], node)
            return getattr(sp, name)(*args)
        refuse(node)

    try:
        e = build(tree, 0)
    except RecursionError:
        raise ValueError(f"{what}: cannot parse {text!r}: nested too deeply") from None
    if not isinstance(e, sp.Basic) or e.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        raise ValueError(f"{what}: cannot parse {text!r}: it is not a finite expression")
    return e


def _parse(expr, what: str):
    """A sympy expression of one positive symbol ``x`` from a string or an expression."""
    sp = _sympy()
    x, _ = _symbols()
    if isinstance(expr, str):
        e = _parse_string(expr, what)
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
    syms = sorted(e.free_symbols, key=str)
    sym = syms[0] if syms else x
    fn = sp.lambdify(sym, e, modules="numpy")

    def call(v):
        v = np.asarray(v, dtype=np.float64)
        with np.errstate(all="ignore"):
            out = np.asarray(fn(v))
            if np.iscomplexobj(out):   # a complex branch (sympy's principal roots): no value
                out = np.where(out.imag == 0, out.real, np.nan)
        return np.broadcast_to(out.astype(np.float64), v.shape).copy()

    return call


def _lambdify_stable(e) -> Callable[[np.ndarray], np.ndarray]:
    """:func:`_lambdify` after rewriting ``exp(.) - 1`` and ``log(1 + .)`` as ``expm1`` and
    ``log1p`` (sympy.codegen), so that they keep their digits near 0."""
    from sympy.codegen.rewriting import expm1_opt, log1p_opt, optimize

    try:
        e = optimize(e, [expm1_opt, log1p_opt])
    except Exception:  # noqa: BLE001 - an optimization only; the plain form is correct
        pass
    return _lambdify(e)


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


def _strictly_convex_on_grid(f2vals: np.ndarray) -> bool:
    r"""``f'' >= 0`` on the grid with its zeros isolated (no two neighbours).

    For a convex f this is strict convexity: f' is then strictly increasing. ``f''`` may
    vanish at points (``(x-1)^4`` at 1); a sympy expression without non-smooth parts is
    analytic on (0, inf), so its ``f''`` is either identically 0 on an interval (f affine
    there) or has isolated zeros, and a zero run on the grid means the former."""
    if not np.all(np.isfinite(f2vals)):
        return False
    scale = 1.0 + np.max(np.abs(f2vals))
    if np.any(f2vals < -CONVEXITY_TOL * scale):
        return False
    flat = f2vals <= 0
    return not np.any(flat[1:] & flat[:-1])


def _inverse(fprime_expr, lo: float, hi: float, decreasing: bool, *, var=None, target=None):
    """``(f')^{-1}`` symbolically if sympy finds a valid branch, else None.

    Solves ``fprime_expr(var) = target`` for ``var`` (default: ``x`` and the symbol ``y``)
    and keeps the first solution that is real, positive and inverts ``fprime_expr`` at
    points of (lo, hi)."""
    sp = _sympy()
    x, y = _symbols()
    var = x if var is None else var
    target = y if target is None else target
    try:
        sols = sp.solve(sp.Eq(fprime_expr, target), var)
    except (NotImplementedError, ValueError, TypeError):
        return None
    fp = _lambdify(fprime_expr)
    ys = _probe_points(lo, hi)
    for sol in sols:
        if sol.has(var) or _is_nonsmooth(sol):
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


# -- bisection over the floats ---------------------------------------------------------
_I64_MIN = np.int64(np.iinfo(np.int64).min)
_BIG = np.finfo(np.float64).max
_TINY = np.finfo(np.float64).tiny


def _ordered(v) -> np.ndarray:
    """float64 -> int64 with the same order (adjacent floats -> adjacent integers)."""
    i = np.ascontiguousarray(v, dtype=np.float64).view(np.int64)
    return np.where(i < 0, _I64_MIN - i, i)


def _from_ordered(o) -> np.ndarray:
    o = np.asarray(o, dtype=np.int64)
    return np.ascontiguousarray(np.where(o < 0, _I64_MIN - o, o)).view(np.float64)


def _float_mid(lo, hi) -> np.ndarray:
    """The float halfway between ``lo`` and ``hi`` in the count of floats between them: a
    bisection that halves any bracket (``[1e-300, 1]`` as well as ``[1, 1 + 1e-12]``), so
    64 steps reach adjacent floats."""
    a, b = _ordered(lo), _ordered(hi)
    return _from_ordered((a >> 1) + (b >> 1) + (a & b & 1))


def _float_gap(lo, hi) -> np.ndarray:
    """Number of floats from ``lo`` to ``hi`` (as a float; 1 for adjacent floats)."""
    return _ordered(hi).astype(np.float64) - _ordered(lo).astype(np.float64)


class _NumericInverse:
    """x = (f')^{-1}(y) for a strictly monotone f' on (0, inf), by bisection over the
    floats of [5e-324, 8e307] (64 steps, to adjacent floats; vectorized)."""

    def __init__(self, fprime: Callable, increasing: bool):
        self.fprime = fprime
        self.sign = 1.0 if increasing else -1.0

    def __call__(self, y):
        y = np.asarray(y, dtype=np.float64)
        lo = np.full(y.shape, 5e-324)
        hi = np.full(y.shape, 8e307)
        for _ in range(66):
            mid = _float_mid(lo, hi)
            above = self.sign * (self.fprime(mid) - y) > 0
            hi = np.where(above, mid, hi)
            lo = np.where(above, lo, mid)
        return _float_mid(lo, hi)


def _float_array(v, name: str) -> np.ndarray:
    """``v`` as a float64 array; a non-numeric or complex input raises ``TypeError``."""
    arr = np.asarray(v)
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    return arr.astype(np.float64)


def _where(bad: np.ndarray) -> str:
    """``[i, j]`` of the first True entry of ``bad`` ('' for a 0-d array)."""
    idx = np.unravel_index(int(np.argmax(bad)), bad.shape)
    return "[" + ", ".join(str(int(i)) for i in idx) + "]" if idx else ""


def _check_points(v, name: str, *, positive: bool) -> np.ndarray:
    """``v`` as float64, every entry finite and ``> 0`` (``positive``) or ``>= 0``."""
    arr = _float_array(v, name)
    bad = ~np.isfinite(arr) | (arr <= 0 if positive else arr < 0)
    if bad.any():
        k = np.unravel_index(int(np.argmax(bad)), bad.shape)
        raise ValueError(f"{name}{_where(bad)} is {arr[k]:.6g}, expected "
                         f"{'> 0' if positive else '>= 0'} and finite")
    return arr


def _check_y(y) -> np.ndarray:
    """``y`` as float64, no NaN (+-inf allowed: g is defined on the extended reals)."""
    y = _float_array(y, "y")
    if np.isnan(y).any():
        raise ValueError(f"y{_where(np.isnan(y))} is nan, expected a number")
    return y


def _no_overflow(out: np.ndarray, finite_expected, what: str, arg: str) -> np.ndarray:
    """``out``, unless it is not finite where the exact value is (a float64 overflow)."""
    bad = ~np.isfinite(out) & finite_expected
    if np.any(bad):
        bad = np.broadcast_to(bad, np.shape(out))
        raise ValueError(f"{what} at {arg}{_where(bad)} is infinite or overflows float64")
    return out


class FDivergence:
    r"""An f-divergence :math:`D_f(p\|q) = \sum_i q_i f(p_i/q_i)` (003, Sec. 4.1).

    Parameters
    ----------
    f : sympy expression or str
        ``f`` in one variable (any symbol, or ``x`` in a string), convex on (0, inf)
        with ``f(1) = 0``; both are checked and a violation raises ``ValueError``.
        A string is parsed by a whitelist (numbers, ``x``, ``E``, ``pi``,
        ``+ - * / **`` and ``log, ln, exp, sqrt, cbrt, Abs, abs, Pow, Rational, Max,
        Min``), never evaluated: anything else raises ``ValueError``.
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
        ``f'' >= 0`` on (0, inf) with isolated zeros (``(x-1)^4`` qualifies; an affine
        piece does not): f' strictly increasing, so that ``g`` exists.
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
        self._fprime_inf_expr = sp.limit(e / x, x, sp.oo)
        self.fprime_inf = _to_float(self._fprime_inf_expr)
        self.fprime_expr = None
        self.g_expr = None
        self.strictly_convex = False
        self._fprime = self._g = self._gprime = self._f2 = None
        self._pole_cache = None
        if self.differentiable:
            fp = sp.diff(e, x)
            f2 = sp.simplify(sp.diff(e, x, 2))
            if f2.is_nonnegative is False or (f2.is_negative is True):
                raise ValueError(f"f'' = {f2} < 0: f = {e} is not convex")
            self.fprime_expr = fp
            self._fprime = _lambdify(fp)
            self._f2 = _lambdify(f2)
            self.fprime0 = _to_float(sp.limit(fp, x, 0, "+"))
            self.fprime_one = _to_float(fp.subs(x, 1))
            self.strictly_convex = bool(f2.is_positive) or (
                f2 != 0 and _strictly_convex_on_grid(self._f2(_GRID)))
            if self.strictly_convex:
                self.g_expr = _inverse(fp, self.fprime0, self.fprime_inf, decreasing=False)
                if self.g_expr is not None:
                    _, y = _symbols()
                    self._g = _lambdify(self.g_expr)
                    self._gprime = _lambdify(sp.diff(self.g_expr, y))
                else:
                    self._g = _NumericInverse(self._fprime, increasing=True)
                    self._gprime = lambda yv: 1.0 / self._f2(self._g(yv))
        else:
            self.fprime0 = np.nan
            self.fprime_one = np.nan

    # -- numerical functions -------------------------------------------------------------
    # The public functions check their input and refuse a result beyond float64; the
    # solvers use the unchecked ``_g_ext`` / ``_gprime_ext``, which may return inf.
    def f(self, x) -> np.ndarray:
        """f(x) for finite x >= 0 (f(0) is the limit ``f0``, possibly +inf)."""
        x = _check_points(x, "x", positive=False)
        return _no_overflow(self._f_at(x), x > 0, "f(x)", "x")

    def _f_at(self, x: np.ndarray) -> np.ndarray:
        with np.errstate(all="ignore"):
            out = np.where(x > 0, self._f(np.where(x > 0, x, 1.0)), self.f0)
        return out

    def fprime(self, x) -> np.ndarray:
        """f'(x) for finite x > 0."""
        self._need_smooth("f'")
        return _no_overflow(self._fprime(_check_points(x, "x", positive=True)), True,
                            "f'(x)", "x")

    def g(self, y) -> np.ndarray:
        r"""g = (f')^{-1} extended to all reals: 0 at or below f'(0+), +inf at or above
        f'(inf) (Lemma 1 / Appendix A.1; the max{., 0} of eq. 19 is the lower end)."""
        self._need_g()
        y = _check_y(y)
        return _no_overflow(self._g_ext(y), y < self.fprime_inf, "g(y)", "y")

    def gprime(self, y) -> np.ndarray:
        """g'(y) = 1 / f''(g(y)) inside the range of f', 0 outside. ``ValueError`` where it
        is not finite: f'' = 0 at g(y) (``(x-1)^4`` at y = 0) or beyond float64."""
        self._need_g()
        y = _check_y(y)
        return _no_overflow(self._gprime_ext(y), True, "g'(y)", "y")

    def _g_ext(self, y: np.ndarray) -> np.ndarray:
        inside = (y > self.fprime0) & (y < self.fprime_inf)
        with np.errstate(all="ignore"):
            val = self._g(np.where(inside, y, self.fprime_one))
        return np.where(inside, val, np.where(y <= self.fprime0, 0.0, np.inf))

    def _gprime_ext(self, y: np.ndarray) -> np.ndarray:
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
            raise ValueError(f"g = (f')^(-1) needs a strictly convex f; f = {self.expr} is not "
                             f"(f'' vanishes on an interval: f is affine there)")

    # -- the pole of g -------------------------------------------------------------------
    def _pole(self):
        r"""``(h, H, H')`` for finite :math:`f'(\infty)`: the pole distance
        :math:`h(x) = f'(\infty) - f'(x)` (decreasing, > 0), its inverse ``H`` (the ratio
        ``x`` at pole distance ``d``, extended by inf at ``d <= 0`` and 0 past
        :math:`h(0^+)`) and ``H'``. ``g(y) = H(f'(\infty) - y)``, but ``H`` of a small ``d``
        keeps all its digits where ``g`` of a ``y`` next to the pole has lost them: for
        squared Hellinger ``H(d) = 1/d^2``, for reverse KL ``H(d) = 1/d``. Symbolic where
        sympy inverts h (with ``expm1``/``log1p`` rewriting), else numeric."""
        if self._pole_cache is not None:
            return self._pole_cache
        sp = _sympy()
        x, _ = _symbols()
        d = sp.Symbol("d", positive=True)
        h_expr = sp.simplify(self._fprime_inf_expr - self.fprime_expr)
        h = _lambdify(h_expr)
        h0 = self.fprime_inf - self.fprime0                      # h(0+), may be inf
        H_expr = _inverse(h_expr, 0.0, h0 if np.isfinite(h0) else np.inf, decreasing=True,
                          var=x, target=d)
        if H_expr is not None:
            H_raw = _lambdify_stable(H_expr)
            dH_raw = _lambdify_stable(sp.diff(H_expr, d))
        else:
            H_raw = _NumericInverse(h, increasing=False)
            dH_raw = lambda dv: -1.0 / self._f2(H_raw(dv))   # noqa: E731  h' = -f''

        def H(dv):
            dv = np.asarray(dv, dtype=np.float64)
            inside = (dv > 0) & (dv < h0)
            with np.errstate(all="ignore"):
                val = H_raw(np.where(inside, dv, 1.0))
            return np.where(inside, val, np.where(dv <= 0, np.inf, 0.0))

        def dH(dv):
            dv = np.asarray(dv, dtype=np.float64)
            inside = (dv > 0) & (dv < h0)
            with np.errstate(all="ignore"):
                val = dH_raw(np.where(inside, dv, 1.0))
            return np.where(inside, val, 0.0)

        self._pole_cache = (h, H, dH)
        return self._pole_cache

    # -- the divergence ------------------------------------------------------------------
    def value(self, p, q) -> np.ndarray | float:
        r"""D_f(p || q) along the last axis, with :math:`0 f(0/0) = 0` and
        :math:`0 f(p/0) = p f'(\infty)`.

        +inf exactly where the divergence is infinite: p puts mass outside the support of
        q and :math:`f'(\infty) = \infty` (KL, chi^2), or q puts mass where p has none and
        :math:`f(0) = \infty` (reverse KL). A finite divergence beyond float64 raises
        ``ValueError``."""
        p, q = _distribution_pair(p, q)
        pos = q > 0
        both = pos & (p > 0)
        with np.errstate(all="ignore"):
            ratio = np.where(both, p / np.where(both, q, 1.0), 1.0)
            inner = np.where(both, q * self._f_at(ratio), 0.0).sum(axis=-1)
            lost = np.where(pos & (p == 0), q * self.f0, 0.0).sum(axis=-1)
            new = np.where(~pos & (p > 0), p * self.fprime_inf, 0.0).sum(axis=-1)
            out = inner + lost + new
        if not np.all(np.isfinite(inner)):
            bad = ~np.isfinite(inner)
            raise ValueError(f"D_f(p || q){_where(bad)} with f = {self.expr} overflows "
                             f"float64 (p/q reaches {np.max(ratio):.3g}): p and q are not "
                             f"distributions, or q is below 1e-300 where p is not")
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
        self._f2 = _lambdify(f2)
        self._phi = _lambdify(e)
        #: range of f_phi' over (0, inf): (fprime_inf, fprime0), f_phi' decreasing
        self.fprime0 = _to_float(sp.limit(fp, x, 0, "+"))
        self.fprime_inf = _to_float(sp.limit(fp, x, sp.oo))
        self._fprime_half = float(self._fprime(np.array(0.5)))
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
        for nm, v in (("q", q), ("k", k)):
            if isinstance(v, (str, bytes, bool)) or not np.isscalar(v) or np.iscomplexobj(v):
                raise TypeError(f"tsallis: {nm} must be a real number, got {v!r}")
        q, k = float(q), float(k)
        if not (np.isfinite(q) and np.isfinite(k) and q > 0 and q != 1 and k > 0):
            raise ValueError(f"tsallis needs finite q > 0, q != 1 and k > 0, got q={q}, k={k}")
        sp = _sympy()
        x, _ = _symbols()
        qq, kk = sp.nsimplify(q), sp.nsimplify(k)
        return cls(kk / (qq - 1) * (1 - x ** (qq - 1)), name=f"tsallis(q={q:g}, k={k:g})")

    def phi(self, x) -> np.ndarray:
        """phi(x) for finite x > 0."""
        return self._phi(_check_points(x, "x", positive=True))

    def fprime(self, x) -> np.ndarray:
        """f_phi'(x) for finite x > 0, decreasing."""
        return self._fprime(_check_points(x, "x", positive=True))

    def g(self, y) -> np.ndarray:
        r"""g_phi = (f_phi')^{-1} (decreasing), extended by 0 at or above f_phi'(0+) and
        +inf at or below f_phi'(inf); the max{., 0} of eq. (45)."""
        y = _check_y(y)
        return _no_overflow(self._g_ext(y), y > self.fprime_inf, "g_phi(y)", "y")

    def gprime(self, y) -> np.ndarray:
        """g_phi'(y) = 1 / f_phi''(g_phi(y)) (< 0) inside the range of f_phi', 0 outside."""
        y = _check_y(y)
        return _no_overflow(self._gprime_ext(y), True, "g_phi'(y)", "y")

    def _inside(self, y):
        return (y < self.fprime0) & (y > self.fprime_inf)

    def _g_ext(self, y: np.ndarray) -> np.ndarray:
        inside = self._inside(y)
        with np.errstate(all="ignore"):
            val = self._g(np.where(inside, y, self._fprime_half))
        return np.where(inside, val, np.where(y >= self.fprime0, 0.0, np.inf))

    def _gprime_ext(self, y: np.ndarray) -> np.ndarray:
        inside = self._inside(y)
        with np.errstate(all="ignore"):
            val = 1.0 / self._f2(self._g_ext(np.where(inside, y, self._fprime_half)))
        return np.where(inside, val, 0.0)

    def value(self, p) -> np.ndarray | float:
        r""":math:`\sum_a p_a \phi(p_a)` with :math:`0 \phi(0) = \lim_{x\to0} x\phi(x)`;
        ``p`` finite and ``>= 0``."""
        p = _check_points(p, "p", positive=False)
        with np.errstate(all="ignore"):
            terms = np.where(p > 0, p * self._phi(np.where(p > 0, p, 1.0)), 0.0)
            out = terms.sum(axis=-1)
        if not np.all(np.isfinite(out)):
            raise ValueError(f"sum_a p_a phi(p_a){_where(~np.isfinite(out))} overflows "
                             f"float64 (p is not a distribution: max {np.max(p):.3g})")
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
def _distribution_pair(p, q) -> tuple[np.ndarray, np.ndarray]:
    """``p`` and ``q`` as float64 arrays of one shape, finite and ``>= 0``."""
    p, q = _float_array(p, "p"), _float_array(q, "q")
    if p.shape != q.shape:
        raise ValueError(f"p and q must have the same shape, got {p.shape} and {q.shape}")
    if p.ndim == 0:
        raise ValueError("p and q must have at least one axis (the outcomes), got scalars")
    for nm, arr in (("p", p), ("q", q)):
        bad = ~np.isfinite(arr) | (arr < 0)
        if bad.any():
            k = np.unravel_index(int(np.argmax(bad)), bad.shape)
            raise ValueError(f"{nm}{_where(bad)} is {arr[k]:.6g}, expected a finite number "
                             f">= 0")
    return p, q


def _finite_distance(out: np.ndarray, what: str):
    if not np.all(np.isfinite(out)):
        raise ValueError(f"{what}{_where(~np.isfinite(out))} overflows float64: p and q are "
                         f"not distributions (entries near 1e308)")
    return float(out) if np.ndim(out) == 0 else out


def tv_distance(p, q) -> np.ndarray | float:
    r""":math:`D_{TV}(p\|q) = \frac12 \sum_i |p_i - q_i|` along the last axis (003, Sec. 4.2).

    ``p`` and ``q`` finite, ``>= 0``, of one shape (no broadcasting: ``ValueError``)."""
    p, q = _distribution_pair(p, q)
    with np.errstate(over="ignore"):
        out = np.abs(0.5 * p - 0.5 * q).sum(-1)
    return _finite_distance(out, "D_TV(p || q)")


def hellinger_distance(p, q) -> np.ndarray | float:
    r""":math:`D_H(p\|q) = \sqrt{\sum_i (\sqrt{p_i} - \sqrt{q_i})^2}` (003, eq. 17, App. A.7).

    Not the f-divergence of ``f = (1 - sqrt x)^2``, which is the square of this. ``p`` and
    ``q`` finite, ``>= 0``, of one shape."""
    p, q = _distribution_pair(p, q)
    d = np.sqrt(p) - np.sqrt(q)
    with np.errstate(over="ignore"):
        out = np.sqrt((d * d).sum(-1))
    return _finite_distance(out, "D_H(p || q)")


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


def _check_omega(omega) -> float:
    if isinstance(omega, (str, bytes)) or np.iscomplexobj(omega):
        raise TypeError(f"omega must be a float, got {omega!r}")
    try:
        omega = float(omega)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"omega must be a float, got {omega!r}") from exc
    if not (np.isfinite(omega) and omega >= 0):
        raise ValueError(f"omega is {omega}, expected a finite number >= 0")
    return omega


def _check_rows(q, prior, mask, omega, *, need_prior=True):
    q = _float_array(q, "q")
    one_row = q.ndim == 1
    if q.ndim not in (1, 2):
        raise ValueError(f"q must have shape (S, A) or (A,), got {q.shape}")
    q = np.atleast_2d(q)
    if q.size == 0:
        raise ValueError(f"q must have at least one state and one action, got shape "
                         f"{q.shape[1:] if one_row else q.shape}")
    if not np.all(np.isfinite(q)):
        s, a = np.argwhere(~np.isfinite(q))[0]
        raise ValueError(f"q[{s}, {a}] is {q[s, a]}, expected a finite number")
    if mask is None:
        mask = np.ones(q.shape, dtype=bool)
    else:
        mask = np.asarray(mask)
        if mask.dtype.kind not in "biuf":
            raise TypeError(f"mask must be an array of bools, got dtype {mask.dtype}")
        if mask.shape != q.shape and mask.shape != (q.shape[1],):
            raise ValueError(f"mask must have the shape of q {q.shape} or ({q.shape[1]},), "
                             f"got {mask.shape}")
        mask = np.broadcast_to(mask.astype(bool), q.shape)
        if not np.all(mask.any(axis=1)):
            raise ValueError(f"mask row {int(np.argmin(mask.any(axis=1)))} has no action")
    omega = _check_omega(omega)
    p = None
    if need_prior:
        p = _float_array(prior, "prior")
        if p.ndim > 2 or np.atleast_2d(p).shape != q.shape:
            raise ValueError(f"prior must have the shape of q {q.shape[1:] if one_row else q.shape}"
                             f", got {p.shape}")
        p = np.atleast_2d(p)
        bad = ~np.isfinite(p) | (p < 0)
        if bad.any():
            s, a = np.argwhere(bad)[0]
            raise ValueError(f"prior[{s}, {a}] is {p[s, a]:.6g}, expected a finite number "
                             f">= 0")
        if np.any((p > 0) & ~mask):
            s, a = np.argwhere((p > 0) & ~mask)[0]
            raise ValueError(f"prior[{s}, {a}] is {p[s, a]:.3g} on a masked-out action")
        with np.errstate(over="ignore"):
            sums = p.sum(axis=1)
        bad = np.flatnonzero(~(np.abs(sums - 1) <= PROB_TOL))
        if bad.size:
            raise ValueError(f"prior[{bad[0]}, :] sums to {sums[bad[0]]:.12g}, expected 1")
    return q, p, mask, omega, one_row


def _bracketed_root(phi: Callable, lo: np.ndarray, hi: np.ndarray, sign: float):
    r"""Per-row root of a monotone ``phi`` in ``[lo, hi]``, to the last bit (vectorized).

    ``phi(t) -> (value, slope)``; ``sign * value`` is non-decreasing in ``t`` with
    ``sign * value(lo) <= 0 <= sign * value(hi)``. Each step is Newton's when it lands
    inside the bracket and the previous step at least halved the bracket, counted in
    floats; otherwise it bisects that count (:func:`_float_mid`), which shrinks any
    bracket, ``[1e-300, 1]`` as well as ``[1, 1 + 1e-12]``, to adjacent floats in 64
    steps. So it converges for every monotone phi, in at most ~130 steps.

    Returns ``(t, lo, hi, hit, iterations)``: rows with ``hit`` have
    ``|phi(t)| <= ROOT_FTOL``; the others end with ``lo``, ``hi`` adjacent floats.
    """
    lo, hi = lo.copy(), hi.copy()
    gap = _float_gap(lo, hi)
    done = gap <= 1
    hit = np.zeros(lo.shape, dtype=bool)
    t = np.where(done, lo, _float_mid(lo, hi))
    if done.all():
        return t, lo, hi, hit, 0
    prev = gap
    for it in range(1, ROOT_MAX_ITER + 1):
        val, der = phi(t)
        val, der = sign * val, sign * der
        live = ~done
        now = live & (np.abs(val) <= ROOT_FTOL)
        hit |= now
        lo = np.where(live & (val < 0), t, lo)
        hi = np.where(live & (val > 0), t, hi)
        gap = _float_gap(lo, hi)
        done = done | now | (gap <= 1)
        if done.all():
            return t, lo, hi, hit, it
        with np.errstate(all="ignore"):
            newton = t - val / der
        use = ((gap <= 0.5 * prev) & np.isfinite(newton) & (der > 0) & (newton > lo)
               & (newton < hi))
        prev = gap
        t = np.where(done, t, np.where(use, newton, _float_mid(lo, hi)))
    raise RuntimeError(f"the root finder did not converge in ROOT_MAX_ITER={ROOT_MAX_ITER} "
                       f"iterations")


def _widen(total: Callable, lo: np.ndarray, hi: np.ndarray, sign: float, *,
           floor: float = -_BIG):
    """Move ``lo`` down / ``hi`` up (1, 2, 4, ... floats) until ``sign * total`` changes
    sign across ``[lo, hi]``: the analytic bracket may be off by a rounding error."""
    step = np.ones(lo.shape, dtype=np.int64)
    o_floor, o_ceil = _ordered(floor), _ordered(_BIG)
    for _ in range(130):
        bad_lo = sign * total(lo) > 0
        bad_hi = sign * total(hi) < 0
        if not (bad_lo.any() or bad_hi.any()):
            return lo, hi
        lo = np.where(bad_lo, _from_ordered(np.maximum(_ordered(lo) - step, o_floor)), lo)
        hi = np.where(bad_hi, _from_ordered(np.minimum(_ordered(hi) + step, o_ceil)), hi)
        step = np.minimum(step * 2, np.int64(2) ** 61)
    raise RuntimeError("could not bracket the multiplier lambda (phi has no sign change)")


def _solve(at: Callable, slope: Callable, lo, hi, sign: float, *, floor: float = -_BIG):
    r"""Rows ``at(t)`` summing to 1, ``t`` the root of :math:`\sum_a at(t)_a = 1`.

    Where the root falls between two adjacent floats ``lo < hi`` (the sum jumps there by
    more than ``ROOT_FTOL``), the answer is the point of the segment from ``at(lo)`` to
    ``at(hi)`` whose sum is 1: the exact maximizer of a real ``t`` in ``(lo, hi)`` up to
    the variation of each ``at(t)_a`` over one float (each is monotone in ``t``).
    """
    def total(t):
        return at(t).sum(axis=1) - 1.0

    lo, hi = _widen(total, lo, hi, sign, floor=floor)

    def phi(t):
        return total(t), slope(t).sum(axis=1)

    t, lo, hi, hit, its = _bracketed_root(phi, lo, hi, sign)
    probs = at(t)
    miss = ~hit
    if miss.any():
        a, b = at(lo), at(hi)
        sa, sb = a.sum(axis=1), b.sum(axis=1)
        with np.errstate(all="ignore"):
            theta = np.clip(np.where(sa != sb, (sb - 1.0) / (sb - sa), 1.0), 0.0, 1.0)
            th = theta[:, None]
            mix = np.where(th == 0, b, np.where(th == 1, a, th * a + (1.0 - th) * b))
        probs = np.where(miss[:, None], mix, probs)
        t = np.where(miss, theta * lo + (1.0 - theta) * hi, t)
    return probs, t, its


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
    if lam is not None and not np.all(np.isfinite(lam)):
        s = int(np.argmax(~np.isfinite(lam)))
        raise ValueError(f"the multiplier lambda of row {s} overflows float64 (it is about "
                         f"omega * f'(pi/p) - max q): omega or q is too large in magnitude; "
                         f"rescale q and omega together (the maximizer depends on q/omega)")
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
    with np.errstate(over="ignore"):
        leave = mask & (top[:, None] - q > omega)
    out = np.where(leave, 0.0, p)
    out[np.arange(q.shape[0]), best] += np.where(leave, p, 0.0).sum(axis=1)
    return out


def _anchor(q, supp):
    """Per row: the best action of ``supp`` (the largest prior among ties is chosen by the
    caller), its q, and ``(q_top - q_a)`` (inf off ``supp``)."""
    qtop = np.where(supp, q, -np.inf).max(axis=1)
    with np.errstate(over="ignore"):
        gap = np.where(supp, qtop[:, None] - q, np.inf)
    return qtop, gap


def fdiv_argmax(q, prior, divergence, omega: float, *, mask=None) -> ProximalStep:
    r"""Exact maximizer of (4): :math:`\max_\pi \sum_a \pi(a) q(a) - \omega D_f(\pi\|p)`.

    003, Lemma 1 and Appendix A.1, for every row (state) at once.

    Parameters
    ----------
    q : array_like (S, A) or (A,)
        The critic Q_i^{pi_old}(s, a_i) (eq. 3) or any scores, finite.
    prior : array_like, same shape
        pi_old(.|s), rows summing to 1 (zeros allowed).
    divergence : str or FDivergence
    omega : float
        Regularization weight, > 0 (TV also accepts 0: plain greedy improvement).
    mask : array_like of bool, shape of q or (A,), optional
        Actions that exist (the padding of a ProductPolicy is excluded).

    Returns
    -------
    ProximalStep
        ``probs`` the maximizer; ``lam`` the lambda_s of eq. (6) where f is smooth.

    Raises
    ------
    ValueError
        On invalid input (naming the argument); when lambda_s itself overflows float64
        (``|omega f'(pi/p) - max q| > 1.8e308``: rescale q and omega together).

    Notes
    -----
    The maximizer depends on ``q / omega`` only. It is solved for the best action's
    argument :math:`y_* = (q_* + \lambda)/\omega` (not for lambda, whose digits cancel
    against ``q``): every action's argument is then
    :math:`y_a = y_* - (q_* - q_a)/\omega`, without cancellation, and the root lies in the
    proven bracket :math:`[f'(1), f'(1/p_*)]` whatever the scale of q and omega (at the
    left end every ratio is at most 1, at the right end the best action alone has mass
    1). Where :math:`f'(\infty)` is finite (squared Hellinger, reverse KL) ``g`` has a pole
    there and :math:`\pi_a = p_a g(y_a)` is computed from the distance to the pole
    :math:`d_a = f'(\infty) - y_a = d_* + (q_* - q_a)/\omega`, a sum of non-negative terms
    (see :meth:`FDivergence._pole`), so each :math:`\pi_a` has full relative precision at
    any omega and scale. The root is found to the last bit (:func:`_bracketed_root`);
    when the sum jumps across adjacent floats, the segment between the two is used
    (:func:`_solve`). Rows sum to 1 within ``SUM_TOL`` before renormalization, or a
    ``RuntimeError`` says the solver failed.

    Actions with prior 0: kept at 0 when f'(inf) = inf; otherwise they are offered mass
    at the linear price omega f'(inf) (see the module notes), which (6) omits. Prior
    entries below the smallest normal float (2.2e-308) count as 0 for f other than KL
    and TV: their ratio pi/p does not fit in float64 (the mass they could receive is
    below float64 resolution unless |q|/omega exceeds ~1e300).
    """
    f = get_divergence(divergence)
    q, p, mask, omega, one_row = _check_rows(q, prior, mask, omega)
    if f.name == "tv" and not f.differentiable:
        return _finish(_tv_argmax(q, p, mask, omega), mask, None, 0, one_row)
    if omega <= 0:
        raise ValueError(f"omega is {omega}, expected > 0 for a smooth f-divergence")
    f._need_g()
    supp = mask & (p > 0)
    qtop, gap = _anchor(q, supp)
    with np.errstate(all="ignore"):
        gap = gap / omega                                   # (q_* - q_a) / omega >= 0
    if f.name == "kl":
        # pi ∝ p exp((q - q_*)/omega) (log-sum-exp); lambda = omega (1 - log sum) - q_*
        w = np.where(supp, p * np.exp(-gap), 0.0)
        tot = w.sum(axis=1)
        with np.errstate(over="ignore"):
            lam = omega * (1.0 - np.log(tot)) - qtop
        return _finish(w / tot[:, None], mask, lam, 0, one_row)
    # Subnormal prior entries (< 2.2e-308) have ratios pi/p beyond float64: treated as 0.
    sub = supp & (p < _TINY)
    if sub.any():
        p = np.where(sub, 0.0, p)
        p = p / p.sum(axis=1, keepdims=True)
        supp = supp & ~sub
        qtop, gap = _anchor(q, supp)
        with np.errstate(all="ignore"):
            gap = gap / omega
    ptop = np.where(supp & (gap == 0), p, 0.0).max(axis=1)   # ties: the largest prior
    with np.errstate(all="ignore"):
        if np.isfinite(f.fprime_inf):
            h, H, dH = f._pole()

            def at(u):
                return np.where(supp, p * H(u[:, None] + gap), 0.0)

            def slope(u):
                return np.where(supp, p * dH(u[:, None] + gap), 0.0)

            hi = np.full(q.shape[0], f.fprime_inf - f.fprime_one)     # h(1)
            lo = np.minimum(np.nan_to_num(h(1.0 / ptop), nan=0.0, posinf=_BIG), hi)
            lo = np.maximum(lo, 5e-324)
            probs, u, its = _solve(at, slope, lo, hi, -1.0, floor=5e-324)
            lam = omega * (f.fprime_inf - u) - qtop
            probs, lam = _new_support(q, p, mask, supp, omega, f, H, qtop, u, probs, lam)
        else:
            def at(t):
                return np.where(supp, p * f._g_ext(t[:, None] - gap), 0.0)

            def slope(t):
                return np.where(supp, p * f._gprime_ext(t[:, None] - gap), 0.0)

            lo = np.full(q.shape[0], f.fprime_one)
            hi = np.nan_to_num(f._fprime(1.0 / ptop), nan=_BIG, posinf=_BIG, neginf=-_BIG)
            hi = np.maximum(hi, lo)
            probs, t, its = _solve(at, slope, lo, hi, 1.0)
            lam = omega * t - qtop
    return _finish(probs, mask, lam, its, one_row)


def _new_support(q, p, mask, supp, omega, f, H, qtop, u, probs, lam):
    r"""Mass on actions outside the prior's support, for finite :math:`f'(\infty)`.

    Such an action z costs :math:`\omega f'(\infty)` per unit of mass; it takes mass when
    its marginal value beats the common level, :math:`q_z + \lambda > \omega f'(\infty)`,
    i.e. :math:`u < (q_z - q_*)/\omega` (pole distance of the best supported action).
    Then lambda is pinned at :math:`\omega f'(\infty) - q_z`, the support keeps
    :math:`p_a H((q_z - q_a)/\omega)` and z the rest (the best such z)."""
    zero = mask & ~supp
    if not zero.any():
        return probs, lam
    rows = np.arange(q.shape[0])
    qz = np.where(zero, q, -np.inf)
    zb = np.argmax(qz, axis=1)
    qzb = qz[rows, zb]
    with np.errstate(all="ignore"):
        upin = (qzb - qtop) / omega
        grow = zero.any(axis=1) & (qzb > qtop) & (u < upin)
        if not grow.any():
            return probs, lam
        d = (qzb[:, None] - q) / omega
        pin = np.where(supp, p * H(d), 0.0)
    pin[rows, zb] = np.maximum(1.0 - pin.sum(axis=1), 0.0)
    probs = np.where(grow[:, None], pin, probs)
    with np.errstate(over="ignore"):
        lam = np.where(grow, omega * f.fprime_inf - qzb, lam)
    return probs, lam


def lemma1_formula(q, prior, divergence, omega: float, lam) -> np.ndarray:
    r"""The right-hand side of eq. (6) as printed, for a given lambda_s (per row).

    :math:`\max\{\pi_{old}(a) g((\lambda_s + Q(a))/\omega), 0\}`; with ``lam`` from
    :func:`fdiv_argmax` this is the paper's claimed maximizer. Returns shape (S, A)
    ((1, A) for one row). ``lam`` has shape (S,) (or is a number for one row); a
    ``(lambda_s + Q(a))/omega`` at or past the pole :math:`f'(\infty)` of ``g`` (where
    (6) is undefined) raises ``ValueError``.
    """
    f = get_divergence(divergence)
    f._need_g()
    q, p, _, omega, _ = _check_rows(q, prior, None, omega)
    if omega <= 0:
        raise ValueError(f"omega is {omega}, expected > 0")
    lam = _float_array(lam, "lam")
    if lam.ndim == 0 or lam.shape == (1,) and q.shape[0] == 1:
        lam = np.broadcast_to(lam.reshape(-1), (q.shape[0],))
    if lam.shape != (q.shape[0],):
        raise ValueError(f"lam must have shape ({q.shape[0]},) (one per row of q), got "
                         f"{lam.shape}")
    if not np.all(np.isfinite(lam)):
        raise ValueError(f"lam{_where(~np.isfinite(lam))} is not finite")
    with np.errstate(all="ignore"):
        y = (q + lam[:, None]) / omega
    out = np.where(p > 0, p * f._g_ext(np.where(p > 0, y, f.fprime_one)), 0.0)
    bad = ~np.isfinite(out)
    if bad.any():
        s, a = np.argwhere(bad)[0]
        raise ValueError(f"lam[{s}] = {lam[s]:.6g} puts (q + lam)/omega = {y[s, a]:.6g} of "
                         f"action {a} at or past the pole f'(inf) = {f.fprime_inf:g} of g: "
                         f"(6) is undefined there")
    return np.maximum(out, 0.0)


def unary_argmax(q, regularizer, omega: float, *, mask=None) -> ProximalStep:
    r"""Exact maximizer of (44): :math:`\max_\pi \sum_a \pi(a) q(a) + \omega\sum_a \pi(a)\phi(\pi(a))`.

    003, Lemma 3, eq. (45): :math:`\pi(a) = \max\{g_\phi((\lambda_s - q(a))/\omega), 0\}`
    with :math:`\sum_a \pi(a) = 1` (the paper prints "= 0", a typo: a sum of
    non-negative terms equal to 0 is not a distribution). Entropy: closed form
    softmax(q / omega) (log-sum-exp). Otherwise solved, as in :func:`fdiv_argmax`, for
    the best action's argument :math:`t = (\lambda_s - q_*)/\omega` (the others are
    :math:`t + (q_* - q_a)/\omega`, no cancellation) in the proven bracket
    :math:`[f_\phi'(1), f_\phi'(1/n)]` (the best action has mass between 1/n and 1),
    whatever the scale of q and omega.
    """
    reg = get_regularizer(regularizer)
    q, _, mask, omega, one_row = _check_rows(q, None, mask, omega, need_prior=False)
    if omega <= 0:
        raise ValueError(f"omega is {omega}, expected > 0")
    qtop, gap = _anchor(q, mask)
    with np.errstate(all="ignore"):
        gap = gap / omega
    if reg.name == "entropy":
        w = np.where(mask, np.exp(-gap), 0.0)
        tot = w.sum(axis=1)
        with np.errstate(over="ignore"):
            lam = omega * (np.log(tot) - 1.0) + qtop
        return _finish(w / tot[:, None], mask, lam, 0, one_row)
    n = mask.sum(axis=1)

    def at(t):
        return np.where(mask, reg._g_ext(t[:, None] + gap), 0.0)

    def slope(t):
        return np.where(mask, reg._gprime_ext(t[:, None] + gap), 0.0)

    lo = np.full(q.shape[0], float(reg._fprime(np.array(1.0))))
    hi = np.maximum(reg._fprime(1.0 / n), lo)
    probs, t, its = _solve(at, slope, lo, hi, -1.0)
    with np.errstate(over="ignore"):
        lam = omega * t + qtop
    return _finish(probs, mask, lam, its, one_row)
