"""Where independent jobs run: in this process, in worker processes, or on Dask.

One small interface serves ``fairmg reproduce`` (its grids of runs) and ``python -m
proofs_check campaign`` (its shards of claims): :meth:`Executor.run` maps a picklable
function over a list of items and yields ``(index, result)`` as each finishes.

* :class:`SerialExecutor`: in this process, in order (``workers=1``).
* :class:`ProcessExecutor`: a :class:`concurrent.futures.ProcessPoolExecutor` (forked where
  the platform can); Ctrl-C or an error stops every worker at once.
* :class:`DaskExecutor`: a :class:`distributed.Client`, either on a fresh
  ``distributed.LocalCluster(n_workers=W, threads_per_worker=1, processes=True)``
  (``scheduler="local"``) or connected to a running scheduler (``scheduler="tcp://host:8786"``,
  whose workers must have the same ``fairmg`` installed). Needs the optional extra
  ``pip install "fairmg[dask]"``.

:func:`make_executor` picks one. The scheduler ``reproduce`` uses when a figure does not
say is set for a block of code with :func:`use_scheduler` (a context variable), so that the
figure functions need no extra argument.
"""
from __future__ import annotations

import contextlib
import contextvars
import os
import signal
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from multiprocessing import get_all_start_methods, get_context
from typing import Any, Callable, Iterator, Sequence

import numpy as np

__all__ = ["run_grid", "Executor", "SerialExecutor", "ProcessExecutor", "DaskExecutor", "make_executor",
           "use_scheduler", "current_scheduler", "dask_available", "LOCAL"]

#: The ``scheduler`` value that starts a Dask ``LocalCluster`` on this machine.
LOCAL = "local"

_SCHEDULER: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "fairmg_scheduler", default=None)


def dask_available() -> bool:
    """Whether ``dask.distributed`` is installed (the ``fairmg[dask]`` extra)."""
    import importlib.util

    try:
        return importlib.util.find_spec("distributed") is not None
    except (ImportError, ValueError):
        return False


@contextlib.contextmanager
def use_scheduler(scheduler: str | None):
    """Make :func:`make_executor` default to ``scheduler`` inside the ``with`` block.

    Parameters
    ----------
    scheduler : str or None
        A Dask scheduler address, :data:`LOCAL`, or ``None`` (processes / serial).
    """
    token = _SCHEDULER.set(scheduler)
    try:
        yield
    finally:
        _SCHEDULER.reset(token)


def current_scheduler() -> str | None:
    """The scheduler set by the innermost :func:`use_scheduler` (``None`` outside)."""
    return _SCHEDULER.get()


class Executor:
    """Runs ``fn(item)`` for every item; results come back as they finish.

    Use as a context manager (``with make_executor(...) as ex: for i, r in ex.run(...)``):
    leaving the block releases the workers.

    Attributes
    ----------
    workers : int
        How many items run at once (for a remote scheduler: its workers' threads when
        connected).
    kind : str
        ``"serial"``, ``"processes"`` or ``"dask"``.
    """

    workers: int = 1
    kind: str = "serial"

    def run(self, fn: Callable[[Any], Any], items: Sequence) -> Iterator[tuple[int, Any]]:
        """Yield ``(index, fn(items[index]))`` for every item, in order of completion.

        An exception raised by ``fn`` propagates (the other items are cancelled).
        """
        raise NotImplementedError

    def cancel(self, indices) -> None:
        """Skip the items ``indices`` of the running :meth:`run` if they have not started
        (an item already running still finishes and is yielded)."""

    def close(self) -> None:
        """Release the workers once every item finished (idempotent)."""

    def stop(self) -> None:
        """Release the workers now, dropping the items not finished (Ctrl-C, errors)."""
        self.close()

    def describe(self) -> str:
        """One line saying where the jobs run."""
        return f"{self.kind}, {self.workers} worker{'s' if self.workers != 1 else ''}"

    def __enter__(self) -> "Executor":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.stop()
        else:
            self.close()


class SerialExecutor(Executor):
    """Every item in this process, in order, with one BLAS thread (restored after)."""

    kind = "serial"

    def __init__(self):
        self._skip: set = set()

    def run(self, fn, items):
        self._skip = set()
        before = blas_threads()
        limit_blas_threads(1)              # as the workers: results independent of --workers
        try:
            for k, item in enumerate(items):
                if k not in self._skip:
                    yield k, fn(item)
        finally:
            if before is not None:
                limit_blas_threads(before)

    def cancel(self, indices) -> None:
        self._skip.update(int(k) for k in indices)


#: (setter, getter) symbol pairs of OpenBLAS builds (plain, scipy-openblas, 64-bit ints).
_OPENBLAS_SYMBOLS = (("openblas_set_num_threads", "openblas_get_num_threads"),
                     ("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
                     ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
                     ("openblas_set_num_threads64_", "openblas_get_num_threads64_"))


def _openblas() -> list[tuple[str, Any, Any]]:
    """(path, setter, getter) of every OpenBLAS loaded in this process (as threadpoolctl
    finds them: /proc/self/maps)."""
    import ctypes
    import re

    try:
        with open("/proc/self/maps") as fh:
            paths = sorted(set(re.findall(r"/\S*openblas\S*\.so\S*", fh.read())))
    except OSError:
        return []
    found = []
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for set_name, get_name in _OPENBLAS_SYMBOLS:
            setter, getter = getattr(lib, set_name, None), getattr(lib, get_name, None)
            if setter is not None and getter is not None:
                found.append((path, setter, getter))
                break
    return found


def limit_blas_threads(n: int = 1) -> list[str]:
    """Best effort: set every OpenBLAS loaded in this process to ``n`` threads. On small
    linear algebra a threaded OpenBLAS only spins, and with several worker processes on a
    few cores it oversubscribes them (10-100x per call on a busy machine; 1.5x on whole
    sampled-training runs). Returns the libraries set."""
    done = []
    for path, setter, _ in _openblas():
        setter(int(n))
        done.append(path)
    return done


def blas_threads() -> int | None:
    """OpenBLAS's thread count in this process (None where none is loaded). The thread
    count changes float summation order, hence long sampled runs: a seed reproduces a run
    at a fixed count, which is why every executor runs items with one thread."""
    libs = _openblas()
    return int(libs[0][2]()) if libs else None


def worker_init() -> None:
    """The default set-up of a worker process: one BLAS and one numba thread, and Ctrl-C
    left to the parent (which stops the workers itself: a SIGINT delivered to the whole
    process group would otherwise raise in every worker and leave the pool to hang on its
    dead processes)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    limit_blas_threads(1)
    import numba
    numba.set_num_threads(1)            # the parallel kernels too (grid_windows)


class ProcessExecutor(Executor):
    """A pool of ``workers`` processes (forked where possible, so that nothing is
    re-imported or re-compiled), each set up by ``initializer``.

    Parameters
    ----------
    workers : int
        Processes.
    initializer : callable, optional
        Run once in each worker process; default :func:`worker_init` (one BLAS thread,
        Ctrl-C ignored).
    """

    kind = "processes"

    def __init__(self, workers: int, initializer: Callable[[], None] | None = None):
        self.workers = max(1, int(workers))
        methods = get_all_start_methods()
        ctx = get_context("fork" if "fork" in methods else "spawn")
        self._pool = ProcessPoolExecutor(self.workers, mp_context=ctx,
                                         initializer=initializer or worker_init)

    def run(self, fn, items):
        self._futures = [self._pool.submit(fn, item) for item in items]
        futures = {f: k for k, f in enumerate(self._futures)}
        try:
            for fut in as_completed(futures):
                if not fut.cancelled():
                    yield futures[fut], fut.result()
        except BaseException:
            self.stop()
            raise

    def cancel(self, indices) -> None:
        for k in indices:
            self._futures[k].cancel()

    def stop(self, timeout: float = 1.0) -> None:
        """Stop every worker now (SIGTERM, then SIGKILL after ``timeout``) and drop the
        queued items; ``shutdown(wait=True)`` would finish every queued item first."""
        pool = self._pool
        procs = list((getattr(pool, "_processes", None) or {}).values())
        for p in procs:
            if p.is_alive():
                p.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        deadline = time.monotonic() + timeout
        for p in procs:
            p.join(max(0.0, deadline - time.monotonic()))
            if p.is_alive():
                p.kill()
                p.join(0.2)

    def close(self) -> None:
        self._pool.shutdown(wait=True)

    def __del__(self):
        pool = getattr(self, "_pool", None)
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


class DaskExecutor(Executor):
    """Items as Dask tasks: on a new ``LocalCluster`` or a running scheduler.

    Parameters
    ----------
    scheduler : str
        :data:`LOCAL` (a ``LocalCluster(n_workers=workers, threads_per_worker=1,
        processes=True)`` started here and closed on exit) or the address of a running
        scheduler (``"tcp://10.0.0.5:8786"``), whose workers need ``fairmg`` installed.
        A local cluster's workers run one BLAS thread each (:func:`limit_blas_threads`).
    workers : int, optional
        Worker processes of a local cluster (default: every core); ignored for a remote
        scheduler.

    Raises
    ------
    ImportError
        Without ``dask.distributed`` (install the extra: ``pip install "fairmg[dask]"``).
    """

    kind = "dask"

    def __init__(self, scheduler: str = LOCAL, workers: int | None = None):
        try:
            from distributed import Client, LocalCluster
        except ImportError as exc:
            raise ImportError(
                "the Dask executor needs dask.distributed: pip install \"fairmg[dask]\" "
                "(or run without --scheduler: worker processes serve)") from exc
        self._cluster = None
        self.address = scheduler
        if scheduler == LOCAL:
            n = max(1, int(workers or os.cpu_count() or 1))
            self._cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True,
                                         dashboard_address=None, silence_logs=40)
            self.address = self._cluster.scheduler_address
            self._client = Client(self._cluster)
            self._client.run(limit_blas_threads, 1)      # as worker_init: n processes
            self.workers = n
        else:
            self._client = Client(scheduler)
            info = self._client.scheduler_info()
            self.workers = max(1, sum(int(w.get("nthreads", 1))
                                      for w in info.get("workers", {}).values()))

    @property
    def client(self):
        """The :class:`distributed.Client`."""
        return self._client

    def run(self, fn, items):
        from distributed import as_completed as dask_completed

        # pure=False: equal items (two identical jobs) are still two tasks
        futures = self._futures = self._client.map(fn, list(items), pure=False)
        index = {f.key: k for k, f in enumerate(futures)}
        self._cancelled: set = set()
        try:
            for fut in dask_completed(futures):
                k = index[fut.key]
                if k in self._cancelled or fut.cancelled():
                    continue
                yield k, fut.result()
        except BaseException:
            self._client.cancel(futures)
            raise

    def cancel(self, indices) -> None:
        indices = [int(k) for k in indices]
        self._cancelled.update(indices)
        self._client.cancel([self._futures[k] for k in indices])

    def describe(self) -> str:
        where = "a local cluster" if self._cluster is not None else self.address
        return f"dask on {where}, {self.workers} worker{'s' if self.workers != 1 else ''}"

    def close(self) -> None:
        if self._client is not None:
            self._client.close()
            self._client = None
        if self._cluster is not None:
            self._cluster.close()
            self._cluster = None


def make_executor(workers: int | None = None, scheduler: str | None = None, *,
                  initializer: Callable[[], None] | None = None,
                  prefer_dask: bool = False) -> Executor:
    """The executor for ``workers`` and ``scheduler``.

    Parameters
    ----------
    workers : int, optional
        Worker processes (default: every core).
    scheduler : str, optional
        A Dask scheduler address or :data:`LOCAL`; default the one set by
        :func:`use_scheduler`, else none.
    initializer : callable, optional
        Per-process set-up of a :class:`ProcessExecutor` (ignored otherwise).
    prefer_dask : bool
        With no scheduler: a Dask local cluster when ``dask.distributed`` is installed
        (``proofs_check campaign``), else processes. When false (``fairmg reproduce``),
        no scheduler means processes, or this process for one worker.

    Returns
    -------
    Executor
        :class:`DaskExecutor` if a scheduler is given (or ``prefer_dask`` and dask is
        installed), :class:`SerialExecutor` for one worker without Dask,
        :class:`ProcessExecutor` otherwise.
    """
    if scheduler is None:
        scheduler = current_scheduler()
    if scheduler is None and prefer_dask and dask_available():
        scheduler = LOCAL
    if scheduler is not None:
        return DaskExecutor(scheduler, workers)
    n = (os.cpu_count() or 1) if workers is None else int(workers)
    if n <= 1:
        return SerialExecutor()
    return ProcessExecutor(n, initializer)


def run_grid(jobs, run_unit: Callable, *, workers: int | None = None, progress: bool = True,
             desc: str = "runs", checkpoint=None, group: Callable | None = None,
             initializer: Callable | None = None, warm_up: Callable | None = None) -> dict:
    """Run a figure's grid of ``jobs`` (frozen dataclasses with ``seed``, ``config`` and a
    modelled ``cost``) through one executor; the shared runner of every figure module.

    Parameters
    ----------
    run_unit : callable
        ``run_unit(unit) -> [(job, curves)]`` for a tuple of jobs (a module-level
        function: it is sent to worker processes).
    workers : int, optional
        Processes (default every core; 1: this process); on Dask inside
        :func:`use_scheduler` (``fairmg reproduce --scheduler``).
    checkpoint : fairmg.reproduce.Checkpoint, optional
        Jobs already in it are not run again; every finished job is added as it finishes,
        so an interruption or a lost worker loses only the runs in flight.
    group : callable, optional
        ``group(todo, workers) -> [unit, ...]`` (default one job per unit), e.g. seeds of
        one configuration run in lockstep.
    initializer, warm_up : callable, optional
        Worker set-up; ``warm_up(todo)`` runs here before forking (compiled kernels are
        then inherited).

    Returns
    -------
    dict
        ``{config: {metric: array (seeds, ...)}}`` with seeds in order.
    """
    from . import job_key
    from ._progress import Stage

    jobs = sorted(set(jobs), key=lambda j: -j.cost)
    results: dict = {}
    if checkpoint is not None:
        for job in jobs:
            got = checkpoint.results.get(job_key(job))
            if got is not None:
                results[job] = got
    todo = [j for j in jobs if j not in results]
    workers = (os.cpu_count() or 1) if workers is None else int(workers)
    scheduler = current_scheduler()

    def finished(job, curves, stage):
        results[job] = curves
        if checkpoint is not None:
            checkpoint.results[job_key(job)] = curves
        stage.advance(job.cost)

    units = group(todo, workers) if group is not None else [(j,) for j in todo]
    with Stage(desc, len(jobs), total_cost=sum(j.cost for j in todo), enabled=progress,
               done=len(results)) as stage:
        if scheduler is None and (workers <= 1 or len(units) <= 1):
            for unit in units:
                for job, curves in run_unit(unit):
                    finished(job, curves, stage)
        elif units:
            with make_executor(min(workers, len(units)), scheduler,
                               initializer=initializer) as ex:
                if ex.kind == "processes" and warm_up is not None:
                    warm_up(todo)
                for _, done in ex.run(run_unit, units):
                    for job, curves in done:
                        finished(job, curves, stage)
    out: dict = {}
    for job in sorted(results, key=lambda j: j.seed):
        for k, v in results[job].items():
            out.setdefault(job.config, {}).setdefault(k, []).append(np.asarray(v))
    return {c: {k: np.array(v) for k, v in m.items()} for c, m in out.items()}
