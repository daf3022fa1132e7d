"""Benchmarks: ``fairmg bench [--only GROUP[,GROUP...]] [--quick]``.

Every group times fairmg against the fastest plain NumPy implementation we could write,
:mod:`fairmg.testing.vectorized` (einsum/matmul over the joint action, ``np.linalg.solve``
with several right-hand sides, batched policy iteration; no Python loop over states or
joint actions), and, for MDPs, against QuantEcon's ``DiscreteDP`` -- *in the same run*, on
the same arrays, after checking that both computed the same numbers. The loop oracle
:mod:`fairmg.testing.reference` is a test oracle only, never a baseline.

Each row reports absolute times (best of k after a warm-up call; the warm-up call of
fairmg, which includes loading or compiling its numba kernels, is reported separately as
"1st call"), the ratios baseline / fairmg (> 1: fairmg is faster), and a *physical limit*:
the flops of the LU factorizations and contractions the task needs and the bytes they must
read, at this machine's measured LU and GEMM GFLOP/s and memory/cache bandwidth
(:mod:`fairmg.bench.machine`, measured at the start and at the end of the run; the better
of the two is used, so the tables are printed at the end). Speed is only ever claimed
through these numbers, never in timed tests.

Groups are registered with :func:`group`; modules of this package are discovered
automatically. ``--only`` takes group names or the aliases of :data:`ALIASES`.
"""
from __future__ import annotations

import importlib
import math
import os
import pkgutil
import sys
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

__all__ = ["Row", "Timing", "group", "groups", "timed", "run_benchmarks", "ALIASES"]


@dataclass(frozen=True)
class Timing:
    """Best and first wall time of a callable (seconds) and the number of timed calls."""

    best: float
    first: float
    calls: int


def timed(fn: Callable[[], object], repeat: int = 5, min_total_s: float = 0.3,
          max_repeat: int = 50) -> Timing:
    """Best wall time of ``fn()`` (``time.perf_counter``) over at least ``repeat`` calls,
    more while less than ``min_total_s`` has passed (at most ``max_repeat``), after one
    warm-up call whose time is kept as ``first``."""
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    best, n, start = math.inf, 0, time.perf_counter()
    while n < repeat or (time.perf_counter() - start < min_total_s and n < max_repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
        n += 1
    return Timing(best, first, n)


@dataclass(frozen=True)
class Row:
    """One timed case.

    ``baselines`` maps a baseline's name to its best time (seconds); the first one is the
    main baseline, the one ``target`` refers to unless it names another. ``phases`` are the
    task's ``(flops, bytes, kind)`` (:mod:`fairmg.bench.machine`; ``None``: not modelled),
    from which its physical limit follows. ``target = (name, ratio)``: the
    issue's target for baseline / fairmg. ``extra`` holds further labelled cells.
    """

    case: str
    fairmg: Timing
    baselines: dict = field(default_factory=dict)
    phases: list | None = None
    target: tuple | None = None
    extra: dict = field(default_factory=dict)
    note: str = ""

    def ratio(self, name: str) -> float:
        return self.baselines[name] / self.fairmg.best

    @property
    def meets_target(self) -> bool | None:
        if self.target is None:
            return None
        name, want = self.target
        return self.ratio(name) >= want


def fmt_time(seconds: float | None) -> str:
    """Milliseconds with 3-4 significant digits."""
    if seconds is None:
        return "-"
    ms = seconds * 1e3
    if ms >= 1000:
        return f"{ms:,.0f}"
    if ms >= 100:
        return f"{ms:.0f}"
    if ms >= 10:
        return f"{ms:.1f}"
    if ms >= 1:
        return f"{ms:.2f}"
    if ms >= 0.01:
        return f"{ms:.3f}"
    return f"{ms:.1e}"


def format_table(rows: list[Row], machine=None) -> str:
    """A fixed-width table of rows of one group (columns: the union of their baselines;
    the limit columns need ``machine``)."""
    names: list[str] = []
    extras: list[str] = []
    for r in rows:
        names += [n for n in r.baselines if n not in names]
        extras += [k for k in r.extra if k not in extras]
    header = ["case", "fairmg ms", "1st call ms"]
    for n in names:
        header += [f"{n} ms", f"vs {n}"]
    header += ["limit ms", "fairmg/limit"] + extras + ["target"]
    table = [header]
    for r in rows:
        cells = [r.case, fmt_time(r.fairmg.best), fmt_time(r.fairmg.first)]
        for n in names:
            if n in r.baselines:
                cells += [fmt_time(r.baselines[n]), f"{r.ratio(n):.2f}x"]
            else:
                cells += ["-", "-"]
        if r.phases is None or machine is None:
            cells += ["-", "-"]
        else:
            limit = machine.seconds(r.phases)
            cells += [fmt_time(limit), f"{r.fairmg.best / limit:.1f}"]
        cells += [str(r.extra.get(k, "-")) for k in extras]
        if r.target is None:
            cells.append("-")
        else:
            name, want = r.target
            cells.append(f">={want:g}x {name}: {'met' if r.meets_target else 'MISSED'}")
        table.append(cells)
    widths = [max(len(row[j]) for row in table) for j in range(len(header))]
    lines = []
    for k, row in enumerate(table):
        lines.append("  ".join(c.ljust(w) if j == 0 else c.rjust(w)
                               for j, (c, w) in enumerate(zip(row, widths))))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    notes = [f"  note: {r.case}: {r.note}" for r in rows if r.note]
    return "\n".join(lines + notes)


@dataclass(frozen=True)
class Group:
    """A registered benchmark group: ``fn(quick) -> Iterator[Row]``."""

    name: str
    fn: Callable[..., Iterator[Row]]
    title: str
    expected_s: tuple           # (full, quick) expected seconds on an idle 2-core machine
    default: bool = True        # run without --only
    order: int = 100            # position in the run and in listings


_REGISTRY: dict[str, Group] = {}

#: ``--only`` aliases (the names of the v1 groups).
ALIASES = {"core": ("nash_gap", "construction", "mdp"), "dynamics": ("npg",)}


def group(name: str, title: str, expected_s=(10.0, 2.0), default: bool = True,
          order: int = 100):
    """Register a generator ``fn(quick: bool) -> Iterator[Row]``."""

    def register(fn):
        _REGISTRY[name] = Group(name, fn, title, tuple(expected_s), default, order)
        return fn

    return register


def groups() -> dict[str, Group]:
    """The registered groups, in their ``order``."""
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")
    return dict(sorted(_REGISTRY.items(), key=lambda kv: kv[1].order))


def _select(only: str | None, known: dict[str, Group]) -> list[str]:
    if only is None:
        return [n for n, g in known.items() if g.default]
    chosen: list[str] = []
    for part in (p.strip() for p in only.split(",")):
        names = ALIASES.get(part, (part,))
        for n in names:
            if n not in known:
                listing = "; ".join(
                    f"{k} ({g.title}{'' if g.default else ', opt-in'})"
                    for k, g in known.items())
                aliases = ", ".join(f"{a} = {'+'.join(v)}" for a, v in ALIASES.items())
                raise ValueError(f"benchmark group {part!r} is unknown; groups: {listing}; "
                                 f"aliases: {aliases}")
            if n not in chosen:
                chosen.append(n)
    return chosen


def _load() -> float | None:
    try:
        return os.getloadavg()[0]
    except (OSError, AttributeError):
        return None


def run_benchmarks(only: str | None = None, quick: bool = False, echo=print,
                   progress=None) -> list[Row]:
    """Run the default groups (or those of ``only``: comma-separated names or aliases).

    Progress (the expected duration first, then each group's start, cases and end) goes to
    ``progress`` (default: standard error); at the end, the machine's measured rates and
    one table per group go through ``echo``. Returns every row.
    """
    from .machine import measure

    if progress is None:
        def progress(msg):
            print(msg, file=sys.stderr, flush=True)
    known = groups()
    chosen = _select(only, known)
    k = 1 if quick else 0
    expected = (2.0 if quick else 5.0) + sum(known[n].expected_s[k] for n in chosen)
    progress(f"fairmg bench: {len(chosen)} group(s) ({', '.join(chosen)}), expected "
             f"~{expected:.0f} s on an idle 2-core machine (longer under load, and when "
             f"numba must compile fairmg's kernels first)")
    t_start = time.perf_counter()
    load = _load()
    progress("[machine] measuring GEMM/LU GFLOP/s and bandwidths ...")
    machine = measure(quick=quick)
    tables = []
    rows: list[Row] = []
    for j, name in enumerate(chosen, 1):
        g = known[name]
        progress(f"[{j}/{len(chosen)}] {name}: {g.title} (expected "
                 f"~{g.expected_s[k]:.0f} s) ...")
        t0 = time.perf_counter()
        group_rows = []
        for row in g.fn(quick=quick):
            group_rows.append(row)
            base = ", ".join(f"{n} {fmt_time(t)} ms" for n, t in row.baselines.items())
            progress(f"    {row.case}: fairmg {fmt_time(row.fairmg.best)} ms"
                     + (f"; {base}" if base else ""))
        rows += group_rows
        tables.append((name, g.title, group_rows))
        progress(f"[{j}/{len(chosen)}] {name} done in {time.perf_counter() - t0:.1f} s")
    progress("[machine] measuring again (the limits use the better of the two) ...")
    machine = machine.best(measure(quick=quick))
    echo(machine.describe())
    threads = {k: os.environ[k] for k in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS",
                                          "MKL_NUM_THREADS", "NUMBA_NUM_THREADS")
               if k in os.environ}
    echo("threads: " + (", ".join(f"{k}={v}" for k, v in threads.items()) if threads
                        else "library defaults (BLAS on every core)"))
    if load is not None:
        busy = load > 0.5 * (os.cpu_count() or 1)
        echo(f"load average at start: {load:.2f} on {os.cpu_count()} cores"
             + (" -- a busy machine: times are inflated and noisy" if busy else ""))
    for name, title, group_rows in tables:
        echo(f"\n== {name}: {title}\n{format_table(group_rows, machine)}")
    echo("\nratios are baseline time / fairmg time (> 1: fairmg faster); 'limit' is the "
         "physical limit of the task on this machine (see the machine line above)")
    progress(f"fairmg bench: done in {time.perf_counter() - t_start:.1f} s")
    return rows
