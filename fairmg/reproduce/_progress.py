"""Progress of ``fairmg reproduce``: the expected duration first, then one honest bar.

A figure is made of stages (a grid of runs, a search); each stage reports through one
:class:`Stage`:

* **first**, its expected duration (:func:`say`), from a stated cost model calibrated on a
  quick probe run (``mpg-*``) or from the time of the stage's first unit (``fdiv-*``,
  ``mre-cases``);
* on a terminal (stderr is a TTY): **one** tqdm bar whose length is the modelled cost of
  the units, so that the longest runs, which go first, move it as much as they cost (a bar
  counting runs sits at 0/510 while the slowest 10% of the work is done, and its rate-based
  estimate is then several times too long); its postfix counts finished units;
* elsewhere (a log file, CI): no bar; **one line** when the stage ends.

Nothing is printed when ``enabled`` is false (``progress=False``, ``--no-progress``).
"""
from __future__ import annotations

import signal
import sys
import threading
import time

__all__ = ["Stage", "say", "format_duration", "run_units", "InterruptGuard",
           "check_interrupt"]

_INTERRUPTED = threading.Event()


def check_interrupt() -> None:
    """Raise ``KeyboardInterrupt`` if Ctrl-C came while an :class:`InterruptGuard` was
    active and its exception was swallowed (see there)."""
    if _INTERRUPTED.is_set():
        raise KeyboardInterrupt


class InterruptGuard:
    """Make Ctrl-C stick for the duration of a ``with`` block (main thread only).

    A SIGINT raises ``KeyboardInterrupt`` as usual and also sets a flag. The flag matters
    when the exception is lost: during a numba compilation Python runs the signal handler
    inside a ctypes callback of llvmlite, which prints the exception and carries on, so a
    Ctrl-C typed while kernels compile would otherwise be ignored and the whole figure run.
    With the flag set, :func:`check_interrupt` raises again at the next check point: the
    end of each numba compilation (a ``numba:compile`` listener), each finished run
    (:meth:`Stage.advance`), each warm-up run.
    """

    def __enter__(self) -> "InterruptGuard":
        self._old = None
        self._listener = None
        _INTERRUPTED.clear()
        if threading.current_thread() is not threading.main_thread():
            return self

        def handler(signum, frame):
            _INTERRUPTED.set()
            f = frame
            while f is not None:     # inside llvmlite (numba compiling): raising here is
                if "llvmlite" in f.f_code.co_filename:   # printed and dropped; the flag
                    return                               # raises at the compile's end
                f = f.f_back
            raise KeyboardInterrupt

        self._old = signal.signal(signal.SIGINT, handler)
        try:
            from numba.core import event

            class _AfterCompile(event.Listener):
                def on_start(self, ev):
                    pass

                def on_end(self, ev):
                    check_interrupt()

            self._listener = _AfterCompile()
            event.register("numba:compile", self._listener)
        except ImportError:
            pass
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._listener is not None:
            from numba.core import event

            event.unregister("numba:compile", self._listener)
        if self._old is not None:
            signal.signal(signal.SIGINT, self._old)
        _INTERRUPTED.clear()


def format_duration(seconds: float) -> str:
    """``12 s``, ``3.5 min``, ``1.2 h``: a duration rounded for people."""
    seconds = max(0.0, float(seconds))
    if seconds < 90:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.1f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def say(message: str, enabled: bool = True) -> None:
    """Print one progress message to stderr (flushed), unless disabled."""
    if enabled:
        print(message, file=sys.stderr, flush=True)


def _is_tty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class Stage:
    """One stage of a figure: a bar on a terminal, one line at the end elsewhere.

    Parameters
    ----------
    desc : str
        What the stage does (``"mpg-fig1: tabular grid"``).
    n_units : int
        Units (runs) in the stage.
    total_cost : float, optional
        Modelled cost of all units (any unit of measure); the bar advances by each unit's
        cost. Default: every unit costs 1.
    enabled : bool
        ``False`` prints nothing.
    unit : str
        Name of the units (``"runs"``).
    done : int
        Units already finished (loaded from a checkpoint); counted, not timed.
    """

    def __init__(self, desc: str, n_units: int, *, total_cost: float | None = None,
                 enabled: bool = True, unit: str = "runs", done: int = 0, stream=None):
        self.desc, self.n_units, self.unit = desc, int(n_units), unit
        self.enabled = bool(enabled)
        self.stream = sys.stderr if stream is None else stream
        self.done = int(done)
        self.t0 = time.perf_counter()
        self._bar = None
        if self.enabled and _is_tty(self.stream):
            from tqdm.auto import tqdm

            total = float(total_cost) if total_cost is not None else float(n_units)
            initial = 0.0 if total_cost is not None else float(self.done)
            self._bar = tqdm(total=total, initial=initial, desc=self._label(),
                             file=self.stream, leave=True,
                             bar_format="{desc}: {percentage:3.0f}%|{bar}| "
                                        "[{elapsed}<{remaining}]")

    def _count(self) -> str:
        return f"{self.done}/{self.n_units} {self.unit}"

    def _label(self) -> str:
        return f"{self.desc} ({self._count()})"

    def advance(self, cost: float = 1.0) -> None:
        """One unit finished, of modelled ``cost`` (a Ctrl-C check point)."""
        check_interrupt()
        self.done += 1
        if self._bar is not None:
            self._bar.set_description_str(self._label(), refresh=False)
            self._bar.update(cost)

    def close(self, interrupted: bool = False) -> None:
        """End the stage: close the bar, or print its one line (not when interrupted:
        the caller says what was kept)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.enabled and not interrupted:
            print(f"{self.desc}: {self._count()} done in "
                  f"{format_duration(time.perf_counter() - self.t0)}",
                  file=self.stream, flush=True)

    def __enter__(self) -> "Stage":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.close(interrupted=exc_type is not None)


def run_units(desc: str, units, fn, *, enabled: bool = True, unit: str = "runs",
              first: int = 1, warmup=None) -> list:
    """``[fn(u) for u in units]`` with progress.

    The expected duration is printed first: ``warmup()`` (if given: one-time set-up such
    as compiling or deriving closed forms, so that it does not inflate the estimate) runs,
    then the first ``first`` units (one of each kind when the units differ in cost) are
    timed and their mean time per unit is scaled to all units. Then one :class:`Stage`
    covers the rest.
    """
    units = list(units)
    if not units:
        return []
    if warmup is not None:
        warmup()
    first = max(1, min(int(first), len(units)))
    t0 = time.perf_counter()
    results = [fn(u) for u in units[:first]]
    dt = (time.perf_counter() - t0) / first
    say(f"{desc}: {len(units)} {unit}, expected about {format_duration(dt * len(units))} "
        f"(from the time of the first {first})", enabled)
    with Stage(desc, len(units), enabled=enabled, unit=unit, done=first) as stage:
        for u in units[first:]:
            results.append(fn(u))
            stage.advance()
    return results
