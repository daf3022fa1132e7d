"""Running a claim through hypothesis: settings profiles, :func:`check_claim`, :class:`Report`.

Statuses
--------
``verified``      every drawn instance satisfied the claim, and enough of them passed the
                  assumptions (``claim.min_examples`` of the requested budget).
``refuted``       an instance violated it; ``report.counterexample`` is the instance
                  hypothesis shrank to, printable as a snippet that rebuilds it.
``inconclusive``  the assumptions (``hypothesis.assume`` in the check, or filters in the
                  strategy) rejected so many draws that fewer than the required number of
                  instances were checked. Never reported as verified.
``error``         the check raised (including NaN/inf in a verdict): a bug in the check or
                  in the library, with the shrunk instance that triggers it.
"""
from __future__ import annotations

import math
import time
import traceback
from dataclasses import dataclass, field
from typing import Any

from hypothesis import (HealthCheck, Phase, Verbosity, example, given, seed as hyp_seed,
                        settings)
from hypothesis.errors import (FailedHealthCheck, Unsatisfiable, UnsatisfiedAssumption)

from . import search as _search
from .core import Claim, Verdict, get_claim, snippet

__all__ = ["Report", "Counterexample", "check_claim", "PROFILES", "register_profile",
           "get_profile", "STATUSES"]

STATUSES = ("verified", "refuted", "inconclusive", "error")

# no "explain" phase: it traces every line of re-run checks (10x slower shrinking)
_BASE = dict(deadline=None, database=None, verbosity=Verbosity.quiet,
             phases=[p for p in Phase if p.name != "explain"],
             report_multiple_bugs=False, print_blob=False,
             suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                    HealthCheck.large_base_example])

#: Settings profiles by name. ``ci``: few examples, derandomized (same examples every
#: run). ``thorough``: many examples, random unless a seed is given (``check_claim(...,
#: seed=0)`` makes it reproducible).
PROFILES: dict[str, settings] = {
    "ci": settings(max_examples=20, derandomize=True, **_BASE),
    "thorough": settings(max_examples=1000, derandomize=False, **_BASE),
}


def register_profile(name: str, *, max_examples: int, derandomize: bool = False,
                     **kwargs) -> settings:
    """Add (or replace) a profile usable as ``check_claim(..., profile=name)``."""
    opts = {**_BASE, **kwargs}
    PROFILES[name] = settings(max_examples=int(max_examples), derandomize=derandomize,
                              **opts)
    return PROFILES[name]


def get_profile(profile) -> tuple[str, settings]:
    """``(name, settings)`` of a profile name or a hypothesis ``settings`` object."""
    if isinstance(profile, settings):
        return "custom", profile
    try:
        return profile, PROFILES[profile]
    except KeyError:
        raise ValueError(f"profile must be one of {sorted(PROFILES)} or a hypothesis "
                         f"settings object, got {profile!r}") from None


@dataclass
class Counterexample:
    """A shrunk instance on which the claim failed (or its check raised)."""

    claim_id: str
    instance: Any
    verdict: Verdict | None = None
    error: str | None = None

    @property
    def snippet(self) -> str:
        """Python code that rebuilds the instance and re-checks the claim."""
        return snippet(self.instance, self.claim_id)

    def __str__(self) -> str:
        what = str(self.verdict) if self.verdict is not None else f"error: {self.error}"
        return f"{what}\n{self.snippet}"


@dataclass
class Report:
    """The outcome of :func:`check_claim`.

    Attributes
    ----------
    claim_id, status : str
        ``status`` is one of :data:`STATUSES`.
    examples_run : int
        Instances checked (that passed the assumptions) before any failure; shrinking
        steps are counted in ``shrink_calls``.
    filtered : int
        Draws rejected by ``hypothesis.assume`` inside the check.
    counterexample : Counterexample or None
        For ``refuted`` (and ``error``): the shrunk instance.
    worst_slack : float or None
        Smallest slack over the instances checked (the tightest one).
    tightest : Verdict or None
        The verdict with that slack.
    time_s : float
        Wall time.
    """

    claim_id: str
    status: str
    examples_run: int
    counterexample: Counterexample | None = None
    filtered: int = 0
    shrink_calls: int = 0
    worst_slack: float | None = None
    tightest: Verdict | None = None
    time_s: float = 0.0
    max_examples: int = 0
    required: int = 0
    seed: int | None = None
    profile: str = ""
    error: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Not an error (a refutation is a result, not a failure of the run)."""
        return self.status != "error"

    def __str__(self) -> str:
        slack = "-" if self.worst_slack is None else f"{self.worst_slack:.3g}"
        lines = [f"{self.claim_id}: {self.status} ({self.examples_run} examples, "
                 f"{self.filtered} filtered, worst slack {slack}, {self.time_s:.1f} s)"]
        lines += [f"  note: {n}" for n in self.notes]
        if self.error and self.status == "error":
            lines.append("  " + self.error.strip().splitlines()[-1])
        if self.counterexample is not None:
            lines.append("counterexample:")
            lines.append(str(self.counterexample))
        return "\n".join(lines)

    def to_dict(self) -> dict:
        """JSON-able summary (the counterexample as its snippet)."""
        ce = self.counterexample
        return dict(claim=self.claim_id, status=self.status, examples_run=self.examples_run,
                    filtered=self.filtered, shrink_calls=self.shrink_calls,
                    worst_slack=self.worst_slack, time_s=round(self.time_s, 3),
                    max_examples=self.max_examples, required=self.required,
                    seed=self.seed, profile=self.profile, notes=self.notes,
                    error=self.error,
                    counterexample=None if ce is None else dict(
                        snippet=ce.snippet, verdict=None if ce.verdict is None else
                        str(ce.verdict), error=ce.error))


class _Refuted(AssertionError):
    pass


@dataclass
class _State:
    run: int = 0
    filtered: int = 0
    shrink: int = 0
    failed: bool = False
    worst: Verdict | None = None
    last_bad: tuple | None = None     # (instance, verdict or None, error text or None)

    def note_valid(self, verdict: Verdict) -> None:
        if self.failed:
            self.shrink += 1
            return
        self.run += 1
        if self.worst is None or verdict.slack < self.worst.slack:
            self.worst = verdict


def check_claim(claim: str | Claim, *, max_examples: int | None = None,
                seed: int | None = None, profile="ci", on_example=None) -> Report:
    """Draw instances of ``claim`` with hypothesis and check each.

    Parameters
    ----------
    claim : str or Claim
        A registered id (``"mpg_pg/lemma-3.2"``) or a :class:`Claim`.
    max_examples : int, optional
        Examples to run; default the profile's, capped by ``claim.max_examples``.
    seed : int, optional
        Makes a random profile reproducible (and overrides ``derandomize``).
    profile : str or hypothesis.settings
        ``"ci"`` (fast, derandomized), ``"thorough"``, or any registered profile.
    on_example : callable, optional
        Progress hook, called after every drawn instance as ``on_example(examples_run,
        filtered, shrinking)`` (``shrinking`` is true once a failure was found and
        hypothesis is shrinking it). Ctrl-C (``KeyboardInterrupt``) is never swallowed:
        it propagates out of :func:`check_claim`.

    Returns
    -------
    Report
    """
    c = get_claim(claim) if isinstance(claim, str) else claim
    pname, base = get_profile(profile)
    n = int(max_examples) if max_examples is not None else c.budget(pname, base.max_examples)
    if n < 1:
        raise ValueError(f"max_examples must be >= 1, got {n}")
    required = max(1, math.ceil(c.min_examples * n))
    opts = dict(max_examples=n)
    if seed is not None:
        opts["derandomize"] = False
    st_ = _State()
    tracker = _search.Tracker(shrink_s=_search.shrink_seconds(pname))

    def body(instance):
        try:
            _check(instance)
        finally:
            if on_example is not None:
                on_example(st_.run, st_.filtered, st_.failed)

    def _check(instance):
        if st_.failed and tracker.expired():       # shrink time bound (search.py)
            hit = tracker.memo(instance)
            if hit is None:
                return
            st_.last_bad = hit[1]
            raise hit[0]
        t_check = time.perf_counter()
        try:
            verdict = c(instance)
        except UnsatisfiedAssumption:
            if not st_.failed:
                st_.filtered += 1
            raise
        except Exception as exc:  # noqa: BLE001 - reported as status "error"
            st_.failed = True
            st_.last_bad = (instance, None, traceback.format_exc())
            tracker.failure(instance, exc, st_.last_bad)
            raise
        st_.note_valid(verdict)
        tracker.note(instance, verdict, time.perf_counter() - t_check)
        if not verdict.holds:
            st_.failed = True
            st_.last_bad = (instance, verdict, None)
            exc = _Refuted(str(verdict))
            tracker.failure(instance, exc, st_.last_bad)
            raise exc

    explicit = c.get_examples()
    test = given(c.get_strategy())(body)
    for inst in reversed(explicit):
        test = example(inst)(test)
    test = settings(base, **opts)(test)
    if seed is not None:
        test = hyp_seed(int(seed))(test)
    t0 = time.perf_counter()
    status, error, notes = None, None, []
    try:
        with _search.engine_shrink_deadline(tracker.shrink_s), \
                _search.engine_target_budget(_search.target_calls(n)):
            test()
    except _Refuted:
        status = "refuted"
    except (Unsatisfiable, FailedHealthCheck) as exc:
        status, error = "inconclusive", f"{type(exc).__name__}: {exc}"
        notes.append("hypothesis gave up: the assumptions rejected almost every draw")
    except Exception as exc:  # noqa: BLE001
        status = "error"
        error = st_.last_bad[2] if st_.last_bad and st_.last_bad[2] else \
            "".join(traceback.format_exception(exc))
    if status is None and tracker.best:            # guided search: local optimizer
        found = _search.run_refine(c, tracker, pname, drawn_s=time.perf_counter() - t0,
                                   drawn=st_.run)
        slack, inst, _ = tracker.best[0]
        notes.append(f"tightest drawn instance: slack {slack:.3g}" +
                     (f" at {_search.describe(inst)}" if _search.describe(inst) else ""))
        if found is not None:
            notes.append(found.summary())
            if found.verdict is not None and (st_.worst is None or
                                              found.verdict.slack < st_.worst.slack):
                st_.worst = found.verdict
            if found.violated:
                status = "refuted"
                st_.last_bad = (found.instance, found.verdict, None)
    elapsed = time.perf_counter() - t0
    if status is None:
        status = "verified" if st_.run >= required else "inconclusive"
    if st_.filtered and st_.filtered >= st_.run:
        notes.append(f"the assumptions filtered out {st_.filtered} of "
                     f"{st_.filtered + st_.run} draws")
    if status == "inconclusive" and st_.run < required:
        notes.append(f"only {st_.run} instances passed the assumptions; {required} required")
    ce = None
    if status in ("refuted", "error") and st_.last_bad is not None:
        inst, verdict, err = st_.last_bad
        ce = Counterexample(c.id, inst, verdict,
                            None if err is None else err.strip().splitlines()[-1])
        if any(inst is e for e in explicit):
            notes.append("the counterexample is one of the claim's explicit examples "
                         "(not found by the search)")
    worst = st_.worst
    return Report(claim_id=c.id, status=status, examples_run=st_.run, counterexample=ce,
                  filtered=st_.filtered, shrink_calls=st_.shrink,
                  worst_slack=None if worst is None else worst.slack, tightest=worst,
                  time_s=elapsed, max_examples=n, required=required, seed=seed,
                  profile=pname, error=error, notes=notes)
