"""Claims, verdicts, the registry, and instances that print as Python.

A :class:`Claim` is a statement of a paper (or a user's own bound) with its assumptions, a
hypothesis strategy that draws instances satisfying them, a check that returns a
:class:`Verdict` for one instance, and an explicit numerical tolerance. :func:`claim`
registers one; :func:`load_claims` imports every module of :mod:`proofs_check.claims`
(discovered with :mod:`pkgutil`, no hard-coded list).
"""
from __future__ import annotations

import contextvars
import importlib
import pkgutil
import traceback
import types
from dataclasses import dataclass, replace
from typing import Any, Callable

import numpy as np

__all__ = ["Verdict", "Claim", "Case", "claim", "assume", "get_claim", "all_claims", "load_claims",
           "load_errors", "to_code", "NonFiniteError", "DEFAULT_ATOL", "DEFAULT_RTOL",
           "REGISTRY"]

#: Default absolute tolerance of a claim (``lhs <= rhs + atol * scale + rtol * |rhs|``).
DEFAULT_ATOL = 1e-9
#: Default relative tolerance of a claim.
DEFAULT_RTOL = 1e-9

_TOLERANCE: contextvars.ContextVar[tuple[float, float]] = contextvars.ContextVar(
    "proofs_check_tolerance", default=(DEFAULT_ATOL, DEFAULT_RTOL))


def assume(condition, reason: str = "") -> bool:
    """Reject the current instance unless ``condition`` (an assumption of the claim).

    Like :func:`hypothesis.assume` (counted as filtered by :func:`check_claim`), but also
    usable when a claim is called directly on an instance (a snippet), where it raises
    :class:`hypothesis.errors.UnsatisfiedAssumption` with ``reason``.
    """
    if not condition:
        from hypothesis.errors import UnsatisfiedAssumption
        raise UnsatisfiedAssumption(reason or "assumption not met")
    return True


class NonFiniteError(ValueError):
    """A check produced NaN or inf: never a verdict, always an error."""


def _finite(x, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        bad = np.argwhere(~np.isfinite(arr))
        where = f" at index {tuple(int(v) for v in bad[0])}" if arr.ndim else ""
        raise NonFiniteError(f"{name} is not finite{where}: {arr.ravel()[:5]}")
    return arr


@dataclass(frozen=True)
class Verdict:
    """The outcome of checking one claim on one instance.

    Attributes
    ----------
    holds : bool
        Whether the statement holds on this instance (within the tolerance).
    lhs, rhs : float
        The two compared quantities (at the worst element when arrays were compared).
    slack : float
        The raw margin, before tolerance, by which the relation holds: ``rhs - lhs`` for
        ``<=``, ``lhs - rhs`` for ``>=``, ``-|lhs - rhs|`` for ``==``. Negative values
        within the tolerance still hold.
    detail : str
        What was compared, in words.
    relation : str
        ``"<="``, ``">="``, ``"=="`` or ``"custom"`` (the check set ``holds`` itself).
    atol, rtol, scale : float
        The tolerance used: holds iff the violation is at most ``atol * scale + rtol *
        |rhs|``.

    The constructors :meth:`leq`, :meth:`geq` and :meth:`close` accept scalars or arrays
    (compared elementwise, the worst element reported) and take ``atol``/``rtol`` from the
    running claim unless given. NaN or inf raise :class:`NonFiniteError`.
    """

    holds: bool
    lhs: float
    rhs: float
    slack: float
    detail: str = ""
    relation: str = "custom"
    atol: float = 0.0
    rtol: float = 0.0
    scale: float = 1.0

    def __post_init__(self):
        for name in ("lhs", "rhs", "slack"):
            v = getattr(self, name)
            if not np.isfinite(v):
                raise NonFiniteError(f"Verdict.{name} is {v}: {self.detail}")
        object.__setattr__(self, "holds", bool(self.holds))

    # -- constructors ----------------------------------------------------------------
    @classmethod
    def _compare(cls, lhs, rhs, relation, detail, atol, rtol, scale) -> "Verdict":
        dflt_atol, dflt_rtol = _TOLERANCE.get()
        atol = dflt_atol if atol is None else float(atol)
        rtol = dflt_rtol if rtol is None else float(rtol)
        l, r = np.broadcast_arrays(_finite(lhs, "lhs"), _finite(rhs, "rhs"))
        allowed = atol * float(scale) + rtol * np.abs(r)
        if relation == "<=":
            raw, adjusted = r - l, r - l + allowed
        elif relation == ">=":
            raw, adjusted = l - r, l - r + allowed
        else:
            raw = -np.abs(l - r)
            adjusted = raw + allowed
        k = int(np.argmin(adjusted)) if adjusted.ndim else 0
        idx = np.unravel_index(k, adjusted.shape) if adjusted.ndim else ()
        where = f" [worst at index {tuple(int(v) for v in idx)}]" if adjusted.ndim else ""
        return cls(bool(adjusted[idx] >= 0), float(l[idx]), float(r[idx]), float(raw[idx]),
                   detail + where, relation, atol, rtol, float(scale))

    @classmethod
    def leq(cls, lhs, rhs, detail: str = "", *, atol=None, rtol=None,
            scale: float = 1.0) -> "Verdict":
        """``lhs <= rhs`` (elementwise), within ``atol * scale + rtol * |rhs|``."""
        return cls._compare(lhs, rhs, "<=", detail, atol, rtol, scale)

    @classmethod
    def geq(cls, lhs, rhs, detail: str = "", *, atol=None, rtol=None,
            scale: float = 1.0) -> "Verdict":
        """``lhs >= rhs`` (elementwise), within ``atol * scale + rtol * |rhs|``."""
        return cls._compare(lhs, rhs, ">=", detail, atol, rtol, scale)

    @classmethod
    def close(cls, lhs, rhs, detail: str = "", *, atol=None, rtol=None,
              scale: float = 1.0) -> "Verdict":
        """``lhs == rhs`` (elementwise), within ``atol * scale + rtol * |rhs|``."""
        return cls._compare(lhs, rhs, "==", detail, atol, rtol, scale)

    @staticmethod
    def worst(*verdicts: "Verdict", **named: "Verdict") -> "Verdict":
        """The first failing verdict (smallest slack), else the one with the smallest slack.

        Keyword verdicts get their name prefixed to ``detail``.
        """
        items = [(None, v) for v in verdicts] + list(named.items())
        if not items:
            raise ValueError("Verdict.worst needs at least one verdict")
        failing = [(n, v) for n, v in items if not v.holds]
        name, v = min(failing or items, key=lambda nv: nv[1].slack)
        return replace(v, detail=f"{name}: {v.detail}") if name else v

    def __str__(self) -> str:
        word = "holds" if self.holds else "VIOLATED"
        rel = "" if self.relation == "custom" else f" {self.relation}"
        return (f"{word}: lhs = {self.lhs:.10g}{rel} rhs = {self.rhs:.10g} (slack "
                f"{self.slack:.3g}; atol {self.atol:g} x scale {self.scale:.3g}, rtol "
                f"{self.rtol:g}) -- {self.detail}")


# ------------------------------------------------------------------------ instances

class Case(types.SimpleNamespace):
    """An instance made of named parts (``Case(game=g, theta=th, eta=0.1)``).

    Its ``repr`` is Python code that rebuilds it (see :func:`to_code`).
    """

    def __repr__(self) -> str:
        return to_code(self)

    def __getitem__(self, key):
        return getattr(self, key)


def _float_code(x: float) -> str:
    x = float(x)
    if np.isfinite(x):
        return repr(x)
    return f"float({str(x)!r})"


def to_code(obj: Any, names: dict[int, str] | None = None) -> str:
    """Python source that rebuilds ``obj`` (floats exactly, via their shortest repr).

    Handles numbers, strings, None, lists/tuples/dicts, numpy arrays (``np.array``),
    :class:`Case`, :class:`fairmg.MarkovGame` (``fm.MarkovGame(...)``, or the recipe in
    its ``_proofs_check_code`` attribute when a strategy set one) and
    :class:`fairmg.ProductPolicy`. ``names`` maps ``id(obj)`` to a variable name already
    defined in the snippet. Other objects fall back to ``repr``.
    """
    from fairmg.model import MarkovGame, ProductPolicy

    names = names or {}
    if id(obj) in names:
        return names[id(obj)]
    rec = lambda o: to_code(o, names)  # noqa: E731
    if obj is None or isinstance(obj, (bool, str)):
        return repr(obj)
    if isinstance(obj, (int, np.integer)):
        return repr(int(obj))
    if isinstance(obj, (float, np.floating)):
        return _float_code(obj)
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind == "f":
            body = repr(obj.tolist()) if np.all(np.isfinite(obj)) else \
                "[" + ", ".join(_float_code(v) for v in obj.ravel()) + "]"
            code = f"np.array({body})"
            if obj.size == 0 or not np.all(np.isfinite(obj)):
                code += f".reshape({obj.shape})"
            return code
        if obj.dtype.kind in "iub":
            return f"np.array({obj.tolist()!r}, dtype=np.{obj.dtype.name})"
        return repr(obj)
    if isinstance(obj, Case):
        return "Case(" + ", ".join(f"{k}={rec(v)}" for k, v in vars(obj).items()) + ")"
    if isinstance(obj, MarkovGame):
        recipe = getattr(obj, "_proofs_check_code", None)
        if recipe:
            return recipe
        parts = [f"transition={rec(np.asarray(obj.transition))}",
                 f"rewards={rec(np.asarray(obj.rewards))}", f"gamma={rec(obj.gamma)}",
                 f"initial={rec(np.asarray(obj.initial))}",
                 f"action_sizes={obj.action_sizes!r}"]
        if obj.potential is not None:
            parts.append(f"potential={rec(np.asarray(obj.potential))}")
        return "fm.MarkovGame(" + ", ".join(parts) + ")"
    if isinstance(obj, ProductPolicy):
        return f"fm.ProductPolicy({rec(obj.game)}, {rec(np.asarray(obj.probs))})"
    if isinstance(obj, tuple):
        inner = ", ".join(rec(v) for v in obj)
        return f"({inner},)" if len(obj) == 1 else f"({inner})"
    if isinstance(obj, list):
        return "[" + ", ".join(rec(v) for v in obj) + "]"
    if isinstance(obj, dict):
        return "{" + ", ".join(f"{rec(k)}: {rec(v)}" for k, v in obj.items()) + "}"
    return repr(obj)


def snippet(instance: Any, claim_id: str | None = None) -> str:
    """A self-contained Python snippet that rebuilds ``instance`` (and re-checks it).

    Games inside the instance become variables (``game``, ``game1``, ...) so policies
    refer to them instead of repeating them.
    """
    from fairmg.model import MarkovGame, ProductPolicy

    games: list = []

    def collect(o):
        if isinstance(o, MarkovGame):
            if all(g is not o for g in games):
                games.append(o)
        elif isinstance(o, ProductPolicy):
            collect(o.game)
        elif isinstance(o, Case):
            for v in vars(o).values():
                collect(v)
        elif isinstance(o, (list, tuple)):
            for v in o:
                collect(v)
        elif isinstance(o, dict):
            for v in o.values():
                collect(v)

    collect(instance)
    names: dict[int, str] = {}
    lines = ["import numpy as np", "import fairmg as fm",
             "from proofs_check import Case, get_claim", ""]
    for k, g in enumerate(games):
        name = "game" if k == 0 else f"game{k}"
        lines.append(f"{name} = {to_code(g, names)}")
        names[id(g)] = name
    lines.append(f"instance = {to_code(instance, names)}")
    if claim_id is not None:
        own = not REGISTRY.get(claim_id, Claim(claim_id, None, None)).module.startswith(
            "proofs_check.claims")
        lines.append(f"print(get_claim({claim_id!r})(instance))" +
                     ("  # your own claim: run the cell that defines it first" if own else ""))
    return "\n".join(lines)


# ---------------------------------------------------------------------------- claims

@dataclass
class Claim:
    """A registered statement and how to check it (see :func:`claim`).

    Calling a claim on an instance runs its check under the claim's tolerance and returns
    the :class:`Verdict`.
    """

    id: str
    check: Callable[[Any], Verdict]
    strategy: Any
    paper: str = "unpublished"
    section: str = ""
    statement: str = ""
    assumptions: tuple[str, ...] = ()
    atol: float = DEFAULT_ATOL
    rtol: float = DEFAULT_RTOL
    tolerance: str = ""
    max_examples: int | dict | None = None
    min_examples: float = 0.5
    notes: str = ""
    module: str = ""
    examples: Any = ()
    expected: str | None = None

    @property
    def group(self) -> str:
        """The id's prefix (``mpg_pg`` of ``mpg_pg/lemma-3.2``)."""
        return self.id.split("/", 1)[0]

    def get_examples(self) -> list:
        """The explicit instances (a zero-argument factory is called on every use)."""
        return list(self.examples() if callable(self.examples) else self.examples)

    def get_strategy(self):
        """The hypothesis strategy (a zero-argument factory is called once, lazily)."""
        from hypothesis.strategies import SearchStrategy

        if not isinstance(self.strategy, SearchStrategy) and callable(self.strategy):
            self.strategy = self.strategy()
        if not isinstance(self.strategy, SearchStrategy):
            raise TypeError(f"claim {self.id!r}: strategy must be a hypothesis strategy or a "
                            f"zero-argument factory of one, got {type(self.strategy)}")
        return self.strategy

    def budget(self, profile: str, default: int) -> int:
        """Examples to run under ``profile``: the profile's, capped by ``max_examples``."""
        cap = self.max_examples
        if isinstance(cap, dict):
            cap = cap.get(profile)
        return default if cap is None else min(default, int(cap))

    def __call__(self, instance) -> Verdict:
        token = _TOLERANCE.set((self.atol, self.rtol))
        try:
            out = self.check(instance)
        finally:
            _TOLERANCE.reset(token)
        if isinstance(out, Verdict):
            return out
        if isinstance(out, tuple) and len(out) in (4, 5):
            return Verdict(*out)
        if isinstance(out, (bool, np.bool_)):
            return Verdict(bool(out), 0.0, 0.0, 0.0, "check returned a bare bool")
        raise TypeError(f"claim {self.id!r}: the check returned {type(out).__name__}, "
                        f"expected a Verdict")


#: Every registered claim by id.
REGISTRY: dict[str, Claim] = {}
#: The statuses a claim may be registered as expecting (``claim(..., expected=...)``).
EXPECTED_STATUSES = ("verified", "refuted", "inconclusive")
_LOAD_ERRORS: dict[str, str] = {}
_LOADED = False


def claim(id: str, *, strategy, paper: str = "unpublished", section: str = "",
          statement: str | None = None, assumptions=(), atol: float = DEFAULT_ATOL,
          rtol: float = DEFAULT_RTOL, tolerance: str = "", max_examples=None,
          min_examples: float = 0.5, notes: str = "", examples=(), expected: str | None = None):
    """Register the decorated check as a :class:`Claim` and return the claim.

    Parameters
    ----------
    id : str
        ``"group/name"`` (``"mpg_pg/lemma-3.2"``; ``"mine/gap-le-range"``).
    strategy : hypothesis strategy, or a zero-argument callable returning one
        Draws instances satisfying the assumptions (see :mod:`proofs_check.strategies`).
    paper, section : str
        Where the claim is stated.
    statement : str, optional
        The claim in words; default the check's docstring (first paragraph).
    assumptions : sequence of str
        The assumptions the strategy (or ``hypothesis.assume`` in the check) enforces.
    atol, rtol : float
        Tolerance: ``lhs <= rhs`` holds iff ``lhs - rhs <= atol * scale + rtol * |rhs|``,
        ``scale`` being given per verdict (default 1). Explicit, never hidden.
    tolerance : str
        Why these tolerances (units of ``scale``, error estimates).
    max_examples : int or dict, optional
        Cap on examples for a slow claim (a dict maps profile name -> cap).
    min_examples : float
        Fraction of the requested examples that must pass the assumptions; fewer gives the
        status ``"inconclusive"`` instead of ``"verified"``.
    notes : str
        What a refutation means, known caveats (merged into ``CLAIMS.md``).
    examples : sequence of instances, or a zero-argument callable returning one
        Instances always checked first (``hypothesis.example``), before the drawn ones:
        known hard cases, e.g. a counterexample found by hand that the search rarely
        reaches. They are not shrunk; a report whose counterexample is one says so.
    expected : {"verified", "refuted", "inconclusive"}, optional
        The status the checker is expected to report (:data:`EXPECTED_STATUSES`); the
        tests pin it, and ``tests/test_claims_md.py`` fails when ``CLAIMS.md`` disagrees.

    Re-registering an id from the same function (a re-run notebook cell) replaces it; a
    different function under an existing id raises ``ValueError``.
    """
    assumptions = (assumptions,) if isinstance(assumptions, str) else tuple(assumptions)
    if expected is not None and expected not in EXPECTED_STATUSES:
        raise ValueError(f"expected must be one of {EXPECTED_STATUSES} or None, got "
                         f"{expected!r}")

    def wrap(func) -> Claim:
        doc = (func.__doc__ or "").strip().split("\n\n")[0]
        c = Claim(id=id, check=func, strategy=strategy, paper=paper, section=section,
                  statement=" ".join((statement or doc).split()), assumptions=assumptions,
                  atol=float(atol), rtol=float(rtol), tolerance=tolerance,
                  max_examples=max_examples, min_examples=float(min_examples),
                  notes=notes, module=getattr(func, "__module__", "") or "",
                  examples=examples, expected=expected)
        old = REGISTRY.get(id)
        if old is not None and getattr(old.check, "__qualname__", None) != func.__qualname__:
            raise ValueError(f"claim id {id!r} is already registered by "
                             f"{old.module}.{old.check.__qualname__}")
        REGISTRY[id] = c
        return c

    if not isinstance(id, str) or not id.strip():
        raise ValueError(f"claim id must be a non-empty string, got {id!r}")
    return wrap


def load_claims() -> dict[str, Claim]:
    """Import every module of :mod:`proofs_check.claims` (found with pkgutil).

    A module that fails to import does not stop the others; its traceback is kept in
    :func:`load_errors` (the CLI reports it as an error row).
    """
    global _LOADED
    from . import claims as pkg

    for info in pkgutil.iter_modules(pkg.__path__, prefix=pkg.__name__ + "."):
        try:
            importlib.import_module(info.name)
            _LOAD_ERRORS.pop(info.name, None)
        except Exception:  # noqa: BLE001 - reported, not hidden
            _LOAD_ERRORS[info.name] = traceback.format_exc()
    _LOADED = True
    return REGISTRY


def load_errors() -> dict[str, str]:
    """Module name -> traceback of the claim modules that failed to import."""
    return dict(_LOAD_ERRORS)


def get_claim(claim_id: str) -> Claim:
    """The registered claim ``claim_id`` (loading the claim modules if needed)."""
    if claim_id not in REGISTRY and not _LOADED:
        load_claims()
    try:
        return REGISTRY[claim_id]
    except KeyError:
        raise KeyError(f"no claim {claim_id!r}; registered: {sorted(REGISTRY)}") from None


def all_claims(paper: str | None = None, load: bool = True) -> list[Claim]:
    """Registered claims sorted by id; ``paper`` matches the id prefix or the paper file."""
    if load and not _LOADED:
        load_claims()
    out = sorted(REGISTRY.values(), key=lambda c: c.id)
    if paper:
        out = [c for c in out if c.group == paper or paper in c.paper or
               c.id.startswith(paper)]
    return out
