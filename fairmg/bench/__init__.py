"""Benchmarks: ``fairmg bench [--only NAME] [--quick]``.

Each benchmark times fairmg against the plain NumPy reference
(:mod:`fairmg.reference`) doing the same work *in the same run*, and reports ratios.
Speed is only ever claimed through these numbers, never in timed tests.

A benchmark is a generator registered with :func:`benchmark`; it yields
:class:`Row` objects. Modules of this package are discovered automatically.
"""
from __future__ import annotations

import importlib
import pkgutil
import time
from dataclasses import dataclass
from typing import Callable, Iterator

__all__ = ["Row", "benchmark", "benchmarks", "best_time", "run_benchmarks"]


@dataclass(frozen=True)
class Row:
    """One timed case: fairmg's seconds next to the baseline's (``None``: no baseline)."""

    case: str
    ours_s: float
    baseline_s: float | None = None
    baseline: str = "numpy reference"

    @property
    def speedup(self) -> float | None:
        return None if self.baseline_s is None else self.baseline_s / self.ours_s

    def format(self) -> str:
        base = "" if self.baseline_s is None else (
            f"{self.baseline_s * 1e3:12.2f} ms  {self.speedup:8.1f}x  vs {self.baseline}")
        return f"{self.case:<52s} {self.ours_s * 1e3:12.2f} ms  {base}"


_REGISTRY: dict[str, Callable[..., Iterator[Row]]] = {}


def benchmark(name: str):
    """Register a generator ``fn(quick: bool) -> Iterator[Row]`` under ``name``."""

    def register(fn):
        _REGISTRY[name] = fn
        return fn

    return register


def benchmarks() -> dict[str, Callable[..., Iterator[Row]]]:
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")
    return dict(_REGISTRY)


def best_time(fn: Callable[[], object], repeat: int = 5, min_total_s: float = 0.2) -> float:
    """Best wall time of ``fn()`` over ``repeat`` runs (after one warm-up call)."""
    fn()
    best = float("inf")
    start = time.perf_counter()
    n = 0
    while n < repeat or (time.perf_counter() - start < min_total_s and n < 50 * repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
        n += 1
    return best


def run_benchmarks(only: str | None = None, quick: bool = False, echo=print) -> list[Row]:
    """Run all (or one) benchmarks, echoing each row as it is measured."""
    known = benchmarks()
    if only is not None and only not in known:
        raise ValueError(f"benchmark {only!r} is unknown; known: {', '.join(sorted(known))}")
    rows = []
    header = f"{'case':<52s} {'fairmg':>15s}  {'baseline':>15s}  {'ratio':>9s}"
    for name in sorted(known):
        if only is not None and name != only:
            continue
        echo(f"\n== {name}\n{header}")
        for row in known[name](quick=quick):
            echo(row.format())
            rows.append(row)
    return rows
