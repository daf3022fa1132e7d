"""Campaigns: every selected claim checked in shards, spread over workers, merged back.

A claim's budget of ``n`` examples is cut into shards of at most ``shard_size`` examples
(:func:`plan`). Shard ``k`` is an independent :func:`proofs_check.check_claim` run with its
own hypothesis settings (no example database: ``database=None``) and its own seed, derived
deterministically from ``(seed, claim id, k)`` (:func:`shard_seed`), so that the shards
draw different instances and the campaign gives the same results whatever the number of
workers. Only shard 0 checks the claim's explicit examples, and the claim's shrink time
bound is split between its shards (:func:`shard_shrink_seconds`).

The shards run on an executor of :mod:`fairmg.reproduce._executor`: by default a Dask
``LocalCluster(n_workers=W, threads_per_worker=1, processes=True)``, or a running Dask
scheduler (``scheduler="tcp://host:8786"``); without ``dask.distributed`` installed, a
process pool (one worker: this process). Each shard returns its :class:`Report` (with the
shrunk counterexample, or the traceback of an error) to the driver, where the shards of
one claim are merged into one report (:func:`merge_reports`): shards ``0..k``, ``k`` the
first shard (in shard order) that refuted or errored, else all of them. As a single run
stops at its first failure, the shards after ``k`` do not count: they are cancelled once
``k`` fails (or ignored if they already ran), so the merged report is the same for any
number of workers and a refuted claim costs about what one run costs.
"""
from __future__ import annotations

import hashlib
import math
import time
import traceback
import warnings
from dataclasses import dataclass, replace
from typing import Callable, Iterable, Sequence

from . import search as _search
from .core import Claim, get_claim, load_claims
from .runner import PROFILES, Report, check_claim, get_profile

__all__ = ["Shard", "CampaignResult", "plan", "shard_seed", "run_shard", "merge_reports",
           "run_campaign", "shard_shrink_seconds", "SHARD_SIZE", "MIN_SHRINK_SECONDS"]

#: Examples per shard: the thorough budget, so that a claim is one shard, exactly the
#: ``table`` run of the same seed, and claims spread over the workers. Hypothesis's targeted
#: search and the local optimizer work best in one long run: with 4 shards of 250 the
#: thorough campaign missed the rare counterexample of ``mpg_pg/thm-4.7`` that one run of
#: 1000 finds (measured, seed 0). Smaller shards trade that for balance.
SHARD_SIZE = 1000
#: Smallest shrink time bound of a shard (seconds); see :func:`shard_shrink_seconds`.
MIN_SHRINK_SECONDS = 2.0


@dataclass(frozen=True)
class Shard:
    """One independent piece of a claim's check (picklable: sent to a worker).

    Attributes
    ----------
    claim_id : str
    index, count : int
        This is shard ``index`` of the claim's ``count`` shards.
    examples : int
        Examples this shard draws.
    seed : int
        Its hypothesis seed (:func:`shard_seed`).
    profile : str
        The settings profile (:data:`proofs_check.runner.PROFILES`).
    cost : float
        Expected seconds (for scheduling the longest first; 0 if unknown).
    """

    claim_id: str
    index: int
    count: int
    examples: int
    seed: int
    profile: str
    cost: float = 0.0


def shard_seed(seed: int, claim_id: str, index: int) -> int:
    """The seed of shard ``index`` of ``claim_id`` in a campaign of seed ``seed``.

    Shard 0 uses ``seed`` itself, so that a claim run as one shard is exactly
    ``check_claim(claim_id, seed=seed)`` (what ``table`` runs); shard k > 0 a hash
    (SHA-256) of the three, so that it depends on nothing else (not the number of workers,
    not the other claims selected) and differs between claims and shards.

    Returns
    -------
    int
        In ``[0, 2**32)``.
    """
    if int(index) == 0:
        return int(seed) % 2**32
    digest = hashlib.sha256(f"{int(seed)}|{claim_id}|{int(index)}".encode()).digest()
    return int.from_bytes(digest[:4], "big")


def plan(claims: Sequence[Claim], budgets: Sequence[int], seed: int, profile: str,
         shard_size: int = SHARD_SIZE, costs: dict[str, float] | None = None) -> list[Shard]:
    """The shards of a campaign: ``ceil(n / shard_size)`` per claim of budget ``n``,
    their examples as even as possible (summing to ``n``).

    Parameters
    ----------
    claims, budgets
        The claims and the examples each should run.
    seed : int
        The campaign's seed (see :func:`shard_seed`).
    profile : str
        The settings profile of every shard.
    shard_size : int
        Most examples per shard.
    costs : dict, optional
        Expected seconds per example of each claim id; the shards are ordered longest
        first (the order only affects the wall time, never the results).
    """
    if shard_size < 1:
        raise ValueError(f"shard_size must be >= 1, got {shard_size}")
    costs = costs or {}
    shards = []
    for c, n in zip(claims, budgets):
        n = int(n)
        if n < 1:
            raise ValueError(f"claim {c.id}: examples must be >= 1, got {n}")
        count = math.ceil(n / shard_size)
        base, extra = divmod(n, count)
        for k in range(count):
            m = base + (1 if k < extra else 0)
            shards.append(Shard(c.id, k, count, m, shard_seed(seed, c.id, k), profile,
                                costs.get(c.id, 0.0) * m))
    return sorted(shards, key=lambda s: -s.cost)


def shard_shrink_seconds(profile: str, count: int) -> float:
    """The shrink time bound of one of ``count`` shards: the profile's bound per claim
    (:func:`proofs_check.search.shrink_seconds`) split between them, at least
    :data:`MIN_SHRINK_SECONDS`, so that a claim refuted in every shard does not shrink
    ``count`` times as long as in one run."""
    return max(MIN_SHRINK_SECONDS, _search.shrink_seconds(profile) / max(1, int(count)))


def run_shard(shard: Shard) -> Report:
    """Check one shard (in a worker): never raises, an error comes back as a report.

    The profile's settings are used with ``database=None`` (no example database shared
    between workers or campaigns); shards after the first skip the claim's explicit
    examples (shard 0 checks them once).
    """
    t0 = time.perf_counter()
    try:
        load_claims()
        c = get_claim(shard.claim_id)
        if shard.index > 0 and c.examples:
            c = replace(c, examples=())
        name, prof = get_profile(shard.profile)
        saved = PROFILES[name]
        PROFILES[name] = prof.__class__(prof, database=None)
        saved_shrink = _search.SHRINK_SECONDS.get(name)
        _search.SHRINK_SECONDS[name] = shard_shrink_seconds(name, shard.count)
        try:
            with warnings.catch_warnings():
                # a Dask worker's own threads use the global `random` module; hypothesis
                # would blame the strategy being drawn (its draws do not use it)
                warnings.filterwarnings("ignore", message="Do not use the `random` module")
                rep = check_claim(c, max_examples=shard.examples, seed=shard.seed,
                                  profile=name)
        finally:
            PROFILES[name] = saved
            if saved_shrink is None:
                _search.SHRINK_SECONDS.pop(name, None)
            else:
                _search.SHRINK_SECONDS[name] = saved_shrink
    except Exception:  # noqa: BLE001 - reported to the driver as an error
        return Report(claim_id=shard.claim_id, status="error", examples_run=0,
                      time_s=time.perf_counter() - t0, max_examples=shard.examples,
                      seed=shard.seed, profile=shard.profile, error=traceback.format_exc(),
                      notes=[f"shard {shard.index} failed to run"])
    return rep


def merge_reports(claim_id: str, reports: Sequence[Report], seed: int | None = None
                  ) -> Report:
    """One report from the shard reports of a claim (in shard order).

    * ``examples_run``, ``filtered``, ``shrink_calls``, ``max_examples``, ``required`` and
      ``time_s`` (the seconds of work, not the wall time) are summed, so the filtered
      fraction is pooled: ``sum filtered / (sum filtered + sum examples_run)``;
    * ``worst_slack`` is the minimum (``tightest`` its verdict);
    * status: ``refuted`` if a shard refuted (the counterexample of the first such shard),
      else ``error`` if a shard errored (its traceback), else ``verified`` when the pooled
      examples reach the pooled requirement, else ``inconclusive``. An error beside a
      refutation is kept in the notes.

    Parameters
    ----------
    claim_id : str
    reports : sequence of Report
        The shards' reports, shard 0 first.
    seed : int, optional
        The campaign's seed (recorded in the merged report).
    """
    reports = list(reports)
    if not reports:
        raise ValueError(f"claim {claim_id}: no shard reports to merge")
    total = lambda name: sum(getattr(r, name) for r in reports)  # noqa: E731
    slacks = [r for r in reports if r.worst_slack is not None]
    tight = min(slacks, key=lambda r: r.worst_slack) if slacks else None
    refuted = [r for r in reports if r.status == "refuted"]
    errored = [r for r in reports if r.status == "error"]
    notes: list[str] = []
    ce, error = None, None
    if refuted:
        status, ce = "refuted", refuted[0].counterexample
    elif errored:
        status, ce, error = "error", errored[0].counterexample, errored[0].error
    else:
        status = "verified" if total("examples_run") >= total("required") else "inconclusive"
    for k, r in enumerate(reports):
        if r.status in ("refuted", "error"):
            what = (r.error or "").strip().splitlines()[-1:] or [""]
            notes.append(f"shard {k} {r.status}" + (f": {what[0]}" if r.status == "error"
                                                    else ""))
    if refuted and errored:
        error = errored[0].error
    seen = set()
    for r in reports:
        for n in r.notes:
            if n.startswith("tightest drawn instance") and (tight is None or r is not tight):
                continue           # keep the tightest shard's note only
            if n not in seen:
                seen.add(n)
                notes.append(n)
    filtered, run = total("filtered"), total("examples_run")
    if filtered and filtered >= run:
        notes.append(f"pooled over {len(reports)} shards: the assumptions filtered out "
                     f"{filtered} of {filtered + run} draws")
    notes.append(f"{len(reports)} shard{'s' if len(reports) != 1 else ''}")
    return Report(claim_id=claim_id, status=status, examples_run=run, counterexample=ce,
                  filtered=filtered, shrink_calls=total("shrink_calls"),
                  worst_slack=None if tight is None else tight.worst_slack,
                  tightest=None if tight is None else tight.tightest,
                  time_s=total("time_s"), max_examples=total("max_examples"),
                  required=total("required"), seed=seed,
                  profile=reports[0].profile, error=error, notes=notes)


@dataclass
class CampaignResult:
    """What :func:`run_campaign` returns.

    Attributes
    ----------
    reports : list of Report
        One merged report per claim, in the order the claims were given.
    shards : dict
        ``claim id -> [shard reports]`` in shard order.
    wall_s : float
        Wall time of the campaign (starting the workers included).
    executor : str
        Where it ran (:meth:`fairmg.reproduce._executor.Executor.describe`).
    seed : int
    """

    reports: list
    shards: dict
    wall_s: float
    executor: str
    seed: int


def run_campaign(claims: Iterable[Claim | str], *, examples: int | None = None,
                 workers: int | None = None, scheduler: str | None = None, seed: int = 0,
                 profile: str = "thorough", shard_size: int = SHARD_SIZE,
                 costs: dict[str, float] | None = None,
                 on_report: Callable[[Report], None] | None = None,
                 use_dask: bool | None = None) -> CampaignResult:
    """Check ``claims`` in shards on workers and merge each claim's shards.

    Parameters
    ----------
    claims : iterable of Claim or str
    examples : int, optional
        Examples per claim; default the profile's, capped by each claim's
        ``max_examples``.
    workers : int, optional
        Worker processes (default: every core).
    scheduler : str, optional
        A Dask scheduler address; default a Dask ``LocalCluster`` of ``workers`` processes
        when ``dask.distributed`` is installed, else a process pool (this process for one
        worker).
    seed : int
        The campaign's seed: shard ``k`` of claim ``c`` uses ``shard_seed(seed, c, k)``.
    profile : str
        Settings profile of every shard.
    shard_size : int
        Most examples per shard.
    costs : dict, optional
        Expected seconds per example by claim id (only orders the shards).
    on_report : callable, optional
        Called with each claim's merged report as soon as its last shard finishes.
    use_dask : bool, optional
        With no ``scheduler``: ``True`` a Dask ``LocalCluster``, ``False`` a process pool
        (this process for one worker); default Dask when it is installed.

    Returns
    -------
    CampaignResult
        The merged reports (shards up to each claim's first failing shard, see the module
        docstring) come out the same for any ``workers`` (given ``seed``), up to the
        time-bounded stages of the search (shrinking, the local optimizer).
    """
    from fairmg.reproduce import _executor

    t0 = time.perf_counter()
    claims = [get_claim(c) if isinstance(c, str) else c for c in claims]
    name, prof = get_profile(profile)
    budgets = [int(examples) if examples is not None else c.budget(name, prof.max_examples)
               for c in claims]
    shards = plan(claims, budgets, seed, name, shard_size, costs)
    where_is = {(s.claim_id, s.index): k for k, s in enumerate(shards)}
    got: dict[str, dict[int, Report]] = {c.id: {} for c in claims}
    first_fail: dict[str, int] = {}
    merged: dict[str, Report] = {}
    prefer = _executor.dask_available() if use_dask is None else bool(use_dask)
    with _executor.make_executor(workers, scheduler, initializer=_executor.worker_init,
                                 prefer_dask=prefer) as ex:
        where = ex.describe()
        for k, rep in ex.run(run_shard, shards):
            s = shards[k]
            cid = s.claim_id
            if cid in merged:
                continue                    # a shard past the first failure, still run
            got[cid][s.index] = rep
            if rep.status in ("refuted", "error") and s.index < first_fail.get(cid, s.count):
                first_fail[cid] = s.index   # the shards after it no longer count
                ex.cancel([where_is[cid, i] for i in range(s.index + 1, s.count)
                           if i not in got[cid]])
            last = first_fail.get(cid, s.count - 1)
            if all(i in got[cid] for i in range(last + 1)):
                parts = [got[cid][i] for i in range(last + 1)]
                merged[cid] = merge_reports(cid, parts, seed)
                if last + 1 < s.count:
                    merged[cid].notes.append(
                        f"shards {last + 1}-{s.count - 1} of {s.count} not counted (shard "
                        f"{last} failed; a single run stops at its first failure too)")
                if on_report is not None:
                    on_report(merged[cid])
    shard_reports = {cid: [d[i] for i in sorted(d) if i <= first_fail.get(cid, i)]
                     for cid, d in got.items()}
    return CampaignResult([merged[c.id] for c in claims], shard_reports,
                          time.perf_counter() - t0, where, seed)
