"""Guided search for counterexamples: slack targeting, a local optimizer, bounded shrinking.

:func:`proofs_check.check_claim` runs three stages, all driven by the :class:`Verdict` slack
(``rhs - lhs`` for ``<=``: negative means violated):

1. **Targeting.** Every checked instance reports ``-slack`` (and the slack relative to
   ``1 + |lhs| + |rhs|``) to :func:`hypothesis.target`, so hypothesis' search moves towards
   instances where the claim is tight (:meth:`Tracker.note`).
2. **Local optimization.** After the drawn examples, :func:`refine` starts a bounded
   Nelder-Mead (:func:`scipy.optimize.minimize`) from the tightest instances seen and
   minimizes the slack over the instance's *continuous* parameters that can move without
   leaving the claim's assumptions:

   * the rewards of a dense :class:`fairmg.MarkovGame`, inside the box the drawn rewards
     came from ([0, 1] for the strategies of :mod:`proofs_check.strategies`); for a game
     with a potential (identical-interest or Markov potential game) one common table
     ``delta(s, a)`` is added to every agent's reward *and* to the potential, which keeps
     Definition 2.2 of 002 exact;
   * the discount ``gamma`` in ``[0, the largest gamma among the drawn instances]`` (the
     range the claim's strategy draws from);
   * logits (``ndarray`` fields named ``theta*``/``logits*``) and full-support
     :class:`fairmg.ProductPolicy` fields (through their log-probabilities).

   Everything else (transitions, sizes, step-size fractions, integers, allocations with
   relational constraints) stays as drawn: a generic optimizer must not break structure a
   strategy built (majorization, controllers of a potential game). An instance whose check
   calls :func:`proofs_check.assume` negatively is infeasible (a penalty), never a
   counterexample. A violation found is simplified (parameters rounded to few digits while
   it still fails) and reported with where it was found.
3. **Bounded shrinking.** Once a failure is found, hypothesis shrinks it for at most
   :func:`shrink_seconds` (per profile); after that the check answers from a memo of the
   failures already seen (no re-computation), so shrinking ends within seconds and the
   final replay still fails (:meth:`Tracker.memo`).
"""
from __future__ import annotations

import contextlib
import importlib
import math
import time
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .core import Case, Verdict, to_code

__all__ = ["Tracker", "SearchResult", "refine", "parameters", "describe", "shrink_seconds",
           "SHRINK_SECONDS", "REFINE_SECONDS", "TARGET_CALLS_PER_EXAMPLE", "target_slack",
           "engine_shrink_deadline", "engine_target_budget", "target_calls"]

#: Time bound (seconds) on shrinking one claim's counterexample, per profile.
SHRINK_SECONDS = {"ci": 3.0, "thorough": 30.0}
#: Budget of the local optimizer per claim, per profile (0 disables it): evaluations of
#: the check (reproducible), at most a quarter of the examples drawn ...
REFINE_EVALS = {"ci": 0, "thorough": 400}
#: ... and a time cap (seconds) for slow checks: at most a quarter of the time the drawn
#: examples took, at least :data:`MIN_REFINE_SECONDS`.
REFINE_SECONDS = {"ci": 0.0, "thorough": 6.0}
MIN_REFINE_SECONDS = 1.0
#: Candidates hypothesis' target phase (hill-climbing the slack) may consider per example
#: of a claim check; past that the phase accepts nothing. Below 1000 examples hypothesis
#: bounds the phase only by the improvements it finds, and a slack that kept improving by
#: tiny steps through draws the assumptions reject kept it going for minutes (a
#: 250-example shard of mpg_pg/thm-3.6: 22,000 candidates, 210 s instead of 10 s). A count,
#: not a time, so that a seed gives the same search on any machine and worker count.
#: Thorough runs of 1000 examples consider 700-14,000 (measured on six claims).
TARGET_CALLS_PER_EXAMPLE = 20
#: Largest |logit| the optimizer may reach (softmax saturates far earlier).
MAX_LOGIT = 60.0
#: Discount the optimizer may raise gamma to (never lowers a larger drawn gamma).
GAMMA_CAP = 0.99
#: Penalty slack of an infeasible point (an assumption failed, or the check raised).
_INFEASIBLE = 1e12


def _conjecture_internal(module: str, name: str):
    """``hypothesis.internal.conjecture.<module>.<name>``, or None if this hypothesis
    version lacks it (the deadlines below are then no-ops)."""
    try:
        mod = importlib.import_module(f"hypothesis.internal.conjecture.{module}")
    except ImportError:  # pragma: no cover
        return None
    return getattr(mod, name, None)


@contextlib.contextmanager
def _swapped(owner, name: str, value):
    """``owner.name = value`` inside the block, restored on exit (no-op for owner None)."""
    if owner is None:
        yield
        return
    old = getattr(owner, name)
    setattr(owner, name, value)
    try:
        yield
    finally:
        setattr(owner, name, old)


def engine_shrink_deadline(seconds: float):
    """Make hypothesis' own shrinker stop after ``seconds`` (its fixed 300 s otherwise).

    Past the bound, :class:`Tracker` already answers every check from its memo, but the
    shrinker still re-draws candidates (tens of ms each for game strategies); this ends it.
    Sets the module constant ``hypothesis.internal.conjecture.engine.MAX_SHRINKING_SECONDS``
    (a context manager; restored on exit).
    """
    engine = importlib.import_module("hypothesis.internal.conjecture.engine")
    has = _conjecture_internal("engine", "MAX_SHRINKING_SECONDS") is not None
    return _swapped(engine if has else None, "MAX_SHRINKING_SECONDS", max(0.0, float(seconds)))


def engine_target_budget(calls: int):
    """Make hypothesis' target-phase optimiser stop improving after ``calls`` candidates.

    Counts ``Optimiser.consider_new_data`` calls inside the block; past ``calls`` every
    candidate is declined and the climber's improvement budget closed, so the hill climb
    in progress ends at its next step and later ones at once; the generate phase goes on
    as before. Patches the class in ``hypothesis.internal.conjecture.optimiser`` (a
    context manager; restored on exit).
    """
    optimiser = _conjecture_internal("optimiser", "Optimiser")
    if optimiser is None or not hasattr(optimiser, "consider_new_data"):
        return _swapped(None, "", None)
    original = optimiser.consider_new_data
    seen = [0]

    def bounded(self, data):
        seen[0] += 1
        if seen[0] > calls:
            self.max_improvements = -1
            return False
        return original(self, data)

    return _swapped(optimiser, "consider_new_data", bounded)


def target_calls(max_examples: int) -> int:
    """The target phase's budget of a check of ``max_examples`` examples
    (:data:`TARGET_CALLS_PER_EXAMPLE` each)."""
    return TARGET_CALLS_PER_EXAMPLE * max(1, int(max_examples))


def shrink_seconds(profile: str, default: float = 30.0) -> float:
    """The shrink time bound of ``profile`` (:data:`SHRINK_SECONDS`, else ``default``)."""
    return float(SHRINK_SECONDS.get(profile, default))


def refine_seconds(profile: str, default: float = 0.0) -> float:
    """The local optimizer's budget under ``profile`` (:data:`REFINE_SECONDS`)."""
    return float(REFINE_SECONDS.get(profile, default))


def target_slack(verdict: Verdict) -> None:
    """Report the verdict's slack to :func:`hypothesis.target` (maximizes ``-slack``).

    Outside a hypothesis test this does nothing.
    """
    from hypothesis import target
    from hypothesis.errors import InvalidArgument

    rel = verdict.slack / (1.0 + abs(verdict.lhs) + abs(verdict.rhs))
    try:
        target(float(np.clip(-verdict.slack, -1e300, 1e300)), label="-slack")
        target(float(-rel), label="-relative slack")
    except InvalidArgument:      # not inside a test (or the label was already used)
        pass


def _key(instance) -> str | None:
    try:
        return to_code(instance)
    except Exception:  # noqa: BLE001 - an unprintable instance just has no memo key
        return None


@dataclass
class Tracker:
    """Keeps the tightest instances seen and bounds the time spent shrinking.

    ``note`` is called with every verdict (and targets the slack); ``keep`` instances with
    the smallest slacks are kept as starting points of :func:`refine`.
    """

    shrink_s: float = 30.0
    keep: int = 3
    best: list = field(default_factory=list)          # [(slack, instance, verdict)]
    failed_at: float | None = None
    failures: dict = field(default_factory=dict)      # key -> exception to re-raise
    check_time: float = 0.0
    checks: int = 0
    max_gamma: float | None = None

    def note(self, instance, verdict: Verdict, seconds: float = 0.0) -> None:
        target_slack(verdict)
        self.checks += 1
        self.check_time += seconds
        if isinstance(instance, Case):
            for v in vars(instance).values():
                if _is_dense_game(v):
                    g = float(v.gamma)
                    self.max_gamma = g if self.max_gamma is None else max(self.max_gamma, g)
        if self.failed_at is not None:
            return
        if len(self.best) < self.keep or verdict.slack < self.best[-1][0]:
            self.best.append((verdict.slack, instance, verdict))
            self.best.sort(key=lambda t: t[0])
            del self.best[self.keep:]

    def failure(self, instance, exc: BaseException, info=None) -> None:
        """Record a failing instance (starts the shrink clock at the first one); ``info``
        is returned with ``exc`` by :meth:`memo`."""
        if self.failed_at is None:
            self.failed_at = time.perf_counter()
        k = _key(instance)
        if k is not None:
            self.failures[k] = (exc, info)

    def expired(self) -> bool:
        """Whether shrinking has run past its time bound."""
        return self.failed_at is not None and \
            time.perf_counter() - self.failed_at > self.shrink_s

    def memo(self, instance):
        """``(exception, info)`` recorded for an instance that failed before, else None.

        Past the shrink bound the runner answers from this memo: a known failure fails
        again (so hypothesis' final replay is consistent), anything else passes at once
        (so the shrinker rejects every new candidate and stops)."""
        return self.failures.get(_key(instance))

    @property
    def mean_check_s(self) -> float:
        return self.check_time / self.checks if self.checks else 0.0


# ------------------------------------------------------------------------ parameters

@dataclass
class _Block:
    name: str
    x0: np.ndarray            # flat, in optimizer coordinates
    lo: np.ndarray
    hi: np.ndarray


def _is_dense_game(g) -> bool:
    from fairmg.model import MarkovGame
    return isinstance(g, MarkovGame)


def parameters(instance, *, vary_gamma: bool = True, gamma_cap: float | None = None):
    """The continuous parameters of ``instance`` that :func:`refine` may move.

    Returns ``(blocks, build)``: a list of named blocks (start point and box bounds, in
    optimizer coordinates) and ``build(x)`` mapping a flat vector back to an instance. An
    instance with nothing to vary gives ``([], None)``. ``gamma`` moves in ``[0,
    max(gamma, gamma_cap)]`` (default cap :data:`GAMMA_CAP`).
    """
    from fairmg.model import ProductPolicy

    if not isinstance(instance, Case):
        return [], None
    fields = dict(vars(instance))
    blocks: list[_Block] = []
    plan: list[tuple[str, str, Any]] = []       # (field, what, data)

    games = [k for k, v in fields.items() if _is_dense_game(v)]
    for k in games:
        g = fields[k]
        R = np.asarray(g.rewards, dtype=np.float64)
        lo, hi = (0.0, 1.0) if R.min() >= 0.0 and R.max() <= 1.0 else (R.min(), R.max())
        if g.potential is None:
            blocks.append(_Block(f"{k}.rewards", R.ravel().copy(),
                                 np.full(R.size, lo), np.full(R.size, hi)))
            plan.append((k, "rewards", (R.shape, lo, hi)))
        else:
            # one common delta(s, a) added to every agent and to phi keeps Def. 2.2
            d = np.zeros(R.shape[1:])
            blocks.append(_Block(f"{k}.potential", d.ravel(), np.full(d.size, lo - hi),
                                 np.full(d.size, hi - lo)))
            plan.append((k, "delta", (R.shape, lo, hi)))
        if vary_gamma:
            gmax = max(float(g.gamma), GAMMA_CAP if gamma_cap is None else float(gamma_cap))
            blocks.append(_Block(f"{k}.gamma", np.array([float(g.gamma)]), np.array([0.0]),
                                 np.array([gmax])))
            plan.append((k, "gamma", None))
    for k, v in fields.items():
        if isinstance(v, np.ndarray) and v.dtype.kind == "f" and v.size and \
                (k.startswith("theta") or k.startswith("logit")) and np.all(np.isfinite(v)):
            blocks.append(_Block(k, v.ravel().copy(), np.full(v.size, -MAX_LOGIT),
                                 np.full(v.size, MAX_LOGIT)))
            plan.append((k, "array", v.shape))
        elif isinstance(v, ProductPolicy):
            p = np.asarray(v.probs)
            mask = np.asarray(v.game.action_mask)[:, None, :] & np.ones(p.shape, bool)
            if np.all(p[mask] > 1e-12):
                th = np.where(mask, np.log(np.where(mask, p, 1.0)), 0.0)
                blocks.append(_Block(k, th.ravel(), np.full(th.size, -MAX_LOGIT),
                                     np.full(th.size, MAX_LOGIT)))
                plan.append((k, "policy", (th.shape, v.game)))
    if not blocks:
        return [], None
    sizes = [b.x0.size for b in blocks]

    def build(x):
        parts = np.split(np.asarray(x, dtype=np.float64), np.cumsum(sizes)[:-1])
        new = dict(fields)
        gparts: dict[str, dict] = {}
        for (k, what, data), xs in zip(plan, parts):
            if what in ("rewards", "delta", "gamma"):
                gparts.setdefault(k, {})[what] = (xs, data)
        for k, spec in gparts.items():
            g = fields[k]
            R = np.asarray(g.rewards, dtype=np.float64)
            phi = None if g.potential is None else np.asarray(g.potential, dtype=np.float64)
            if "rewards" in spec:
                xs, (shape, lo, hi) = spec["rewards"]
                R = np.clip(xs.reshape(shape), lo, hi)
            if "delta" in spec:
                xs, (shape, lo, hi) = spec["delta"]
                d = xs.reshape(shape[1:])
                R, phi = R + d[None], phi + d
                if R.min() < lo - 1e-12 or R.max() > hi + 1e-12:
                    return None                      # left the reward box: infeasible
                R = np.clip(R, lo, hi)
            gamma = float(spec["gamma"][0][0]) if "gamma" in spec else float(g.gamma)
            new[k] = type(g)(g.transition, R, gamma, g.initial, g.action_sizes,
                             potential=phi, name=g.name)
        for (k, what, data), xs in zip(plan, parts):
            if what == "array":
                new[k] = np.clip(xs, -MAX_LOGIT, MAX_LOGIT).reshape(data)
            elif what == "policy":
                shape, old_game = data
                game = next((new[gk] for gk in games if fields[gk] is old_game), old_game)
                new[k] = ProductPolicy.from_logits(game, np.clip(xs, -MAX_LOGIT,
                                                                 MAX_LOGIT).reshape(shape))
        for k, v in fields.items():      # other policies follow their (rebuilt) game
            if isinstance(v, ProductPolicy) and not any(k == p[0] for p in plan):
                for gk in games:
                    if v.game is fields[gk] and new[gk] is not fields[gk]:
                        new[k] = ProductPolicy(new[gk], np.asarray(v.probs))
        return Case(**new)

    return blocks, build


def describe(instance) -> str:
    """Where an instance lies, in words (``"gamma 0.99, S=2, actions (2, 1)"``)."""
    if not isinstance(instance, Case):
        return ""
    for v in vars(instance).values():
        if hasattr(v, "gamma") and hasattr(v, "n_states"):
            fam = getattr(v, "_proofs_check_family", None)
            sizes = tuple(int(a) for a in v.action_sizes)
            return (f"gamma {float(v.gamma):.4g}, S={v.n_states}, actions {sizes}" +
                    (f", family {fam}" if fam else ""))
    return ""


# ------------------------------------------------------------------------- optimizer

@dataclass
class SearchResult:
    """The outcome of :func:`refine`."""

    best_slack: float | None = None
    start_slack: float | None = None
    instance: Any = None
    verdict: Verdict | None = None
    violated: bool = False
    evaluations: int = 0
    starts: int = 0
    time_s: float = 0.0
    where: str = ""

    def summary(self) -> str:
        if self.best_slack is None:
            return "local search: nothing continuous to vary"
        what = "VIOLATION" if self.violated else "worst slack"
        return (f"local search ({self.starts} starts, {self.evaluations} evaluations, "
                f"{self.time_s:.1f} s): {what} {self.best_slack:.3g} (drawn: "
                f"{self.start_slack:.3g})" + (f" at {self.where}" if self.where else ""))


class _Found(Exception):
    pass


class _OutOfTime(Exception):
    pass


def _evaluate(claim, instance) -> tuple[float, Verdict | None]:
    from hypothesis.errors import UnsatisfiedAssumption
    if instance is None:
        return _INFEASIBLE, None
    try:
        v = claim(instance)
    except UnsatisfiedAssumption:
        return _INFEASIBLE, None
    except Exception:  # noqa: BLE001 - a point where the check fails to run is infeasible
        return _INFEASIBLE, None
    return float(v.slack), v


def _simplify(claim, build, x, lo, hi, verdict):
    """Round the violating point to as few digits as still violate (a cheap shrink)."""
    for digits in (1, 2, 3, 4, 6):
        xr = np.clip(np.round(x, digits), lo, hi)
        inst = build(xr)
        s, v = _evaluate(claim, inst)
        if v is not None and not v.holds:
            return inst, v
    return build(x), verdict


def refine(claim, starts, *, seconds: float = 8.0, max_evals: int = 400,
           vary_gamma: bool = True, gamma_cap: float | None = None) -> SearchResult:
    """Minimize ``claim``'s slack from each instance of ``starts`` (tightest first).

    Parameters
    ----------
    claim : Claim
    starts : list of instances (or of ``(slack, instance, verdict)``)
    seconds : float
        Total time budget; the optimizer stops at the first violation.
    max_evals : int
        Evaluations in all (over the starts): the budget that makes a run reproducible;
        ``seconds`` is a safety cap for slow checks.
    vary_gamma : bool
        Move gamma too, within ``[0, max(gamma, gamma_cap)]`` (default cap
        :data:`GAMMA_CAP`).

    Returns
    -------
    SearchResult
        ``violated`` with the (simplified) violating ``instance`` and its ``verdict``, else
        the smallest slack reached and where.
    """
    from scipy.optimize import minimize

    t0 = time.perf_counter()
    res = SearchResult()
    for item in starts:
        inst0 = item[1] if isinstance(item, tuple) else item
        if time.perf_counter() - t0 > seconds or res.evaluations >= max_evals:
            break
        blocks, build = parameters(inst0, vary_gamma=vary_gamma, gamma_cap=gamma_cap)
        if not blocks:
            continue
        x0 = np.concatenate([b.x0 for b in blocks])
        lo = np.concatenate([b.lo for b in blocks])
        hi = np.concatenate([b.hi for b in blocks])
        x0 = np.clip(x0, lo, hi)
        s0, v0 = _evaluate(claim, build(x0))
        if v0 is None:
            continue
        res.starts += 1
        if res.start_slack is None or s0 < res.start_slack:
            res.start_slack = s0
        if res.best_slack is None or s0 < res.best_slack:
            res.best_slack, res.instance, res.verdict = s0, build(x0), v0
        best = {"s": s0, "x": x0, "v": v0}

        def f(x, best=best):
            if time.perf_counter() - t0 > seconds or res.evaluations >= max_evals:
                raise _OutOfTime
            res.evaluations += 1
            s, v = _evaluate(claim, build(x))
            if v is not None and s < best["s"]:
                best.update(s=s, x=np.array(x, copy=True), v=v)
                if not v.holds:
                    raise _Found
            return s

        try:
            # a first simplex step of ~10% of each box (at least 0.05) explores the region
            step = np.maximum(0.1 * (hi - lo), 0.05)
            step = np.where(x0 + step <= hi, step, -step)
            simplex = np.vstack([x0] + [x0 + np.eye(x0.size)[j] * step[j]
                                        for j in range(x0.size)])
            minimize(f, x0, method="Nelder-Mead", bounds=list(zip(lo, hi)),
                     options=dict(maxfev=max_evals + 1, initial_simplex=simplex,
                                  adaptive=x0.size > 4, xatol=1e-10, fatol=1e-12))
        except (_Found, _OutOfTime):
            pass
        if best["s"] < res.best_slack:
            res.best_slack, res.instance, res.verdict = best["s"], build(best["x"]), best["v"]
        if best["v"] is not None and not best["v"].holds:
            res.violated = True
            res.instance, res.verdict = _simplify(claim, build, best["x"], lo, hi, best["v"])
            res.best_slack = float(res.verdict.slack)
            break
    res.time_s = time.perf_counter() - t0
    if res.instance is not None:
        res.where = describe(res.instance)
    if res.best_slack is not None and not math.isfinite(res.best_slack):
        res.best_slack = None
    return res


def run_refine(claim, tracker: Tracker, profile: str, seconds: float | None = None,
               drawn_s: float | None = None, drawn: int | None = None) -> SearchResult | None:
    """:func:`refine` from the tracker's tightest instances under ``profile``'s budget
    (None when the budget is 0 or nothing was checked). ``drawn_s``: the time the drawn
    examples took (the budget is at most a quarter of it, at least
    :data:`MIN_REFINE_SECONDS`)."""
    budget = refine_seconds(profile) if seconds is None else float(seconds)
    if drawn_s is not None and budget > 0:
        budget = min(budget, max(MIN_REFINE_SECONDS, 0.25 * float(drawn_s)))
    evals = int(REFINE_EVALS.get(profile, 0))
    if drawn is not None:
        evals = min(evals, max(10, int(drawn) // 4))
    if budget <= 0 or evals <= 0 or not tracker.best:
        return None
    return refine(claim, list(tracker.best), seconds=budget, max_evals=evals,
                  gamma_cap=tracker.max_gamma)

