"""Registry of reproducible paper figures: ``fairmg reproduce <figure-id>``.

A figure is a function registered with :func:`figure`; it writes
``<out>/<id>.png`` and ``<out>/<id>.csv`` (the numbers behind the plot) and returns
the paths it wrote. Modules of this package are discovered automatically, so a new
figure is one new module (``fairmg/reproduce/<topic>.py``) with decorated functions.

Each figure function takes ``(out, *, seeds=None, quick=False, progress=True,
workers=None, checkpoint=None)``: ``seeds`` overrides the number of seeds (``None`` means
the paper's), ``quick`` runs a reduced version for tests (its title says so), ``progress``
prints the expected duration and one progress bar per stage (:mod:`._progress`),
``workers`` caps the worker processes of figures that use them, and ``checkpoint`` (a
:class:`Checkpoint`) keeps finished runs when the figure is interrupted. Where the runs go
(this process, worker processes, a Dask cluster: ``reproduce(..., scheduler=...)``) is
decided by :mod:`._executor`.

Where figures go: full runs to ``figures/`` (the committed ones), quick runs to
``figures/quick/`` (git-ignored): :func:`default_out`.
"""
from __future__ import annotations

import importlib
import inspect
import json
import pkgutil
from dataclasses import astuple, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np

__all__ = ["Figure", "figure", "figures", "reproduce", "default_out", "quick_label",
           "Checkpoint", "Interrupted", "job_key", "FULL_OUT", "QUICK_OUT"]

#: Where full runs go by default (the committed figures).
FULL_OUT = Path("figures")
#: Where quick runs go by default (git-ignored scratch; never over a committed full run).
QUICK_OUT = FULL_OUT / "quick"


@dataclass(frozen=True)
class Figure:
    """A registered figure: its id, the paper figure it reproduces and how."""

    id: str
    paper: str
    description: str
    make: Callable[..., list[Path]]


_REGISTRY: dict[str, Figure] = {}


def figure(id: str, *, paper: str, description: str):
    """Register ``make(out, *, seeds=None, quick=False, progress=True, ...) -> list[Path]``."""

    def register(make):
        if id in _REGISTRY:
            raise ValueError(f"figure id {id!r} is registered twice")
        _REGISTRY[id] = Figure(id, paper, description, make)
        return make

    return register


def figures() -> dict[str, Figure]:
    """All registered figures by id (imports every module of this package once)."""
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")
    return dict(sorted(_REGISTRY.items()))


def default_out(quick: bool) -> Path:
    """``figures/`` for a full run, ``figures/quick/`` for a quick one."""
    return QUICK_OUT if quick else FULL_OUT


def quick_label(seeds: int | None = None) -> str:
    """The marker every quick figure carries in its title."""
    n = "" if seeds is None else f"{seeds} seed{'s' if seeds != 1 else ''}, "
    return f"QUICK ({n}not the paper's settings)"


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during :func:`reproduce`; says which finished runs were kept on disk.

    Attributes: ``figure_id``; ``checkpoint`` (the file with the finished runs, or
    ``None`` if none had finished); ``runs`` (how many it holds).
    """

    def __init__(self, figure_id: str, checkpoint: Path | None, runs: int):
        self.figure_id, self.checkpoint, self.runs = figure_id, checkpoint, runs
        where = (f"{runs} finished run(s) kept in {checkpoint} (the same command resumes "
                 f"from them; delete the file to start afresh)" if checkpoint is not None
                 else "no run had finished")
        super().__init__(f"{figure_id} interrupted; {where}")


@dataclass
class Checkpoint:
    """Finished runs of one figure, saved to ``path`` when the figure is interrupted and
    loaded again by the next run of the same figure (a run is reused only if its job,
    every parameter included, is the same).

    ``results`` maps a job (a tuple of plain values, e.g. ``dataclasses.astuple``) to
    ``{metric: 1-D array}``. The file is ``.npz`` with no pickled objects.
    """

    path: Path
    results: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> "Checkpoint":
        """The checkpoint at ``path`` (empty if there is none)."""
        path = Path(path)
        ck = cls(path)
        if path.is_file():
            try:
                with np.load(path, allow_pickle=False) as data:
                    jobs = json.loads(str(data["jobs"]))
                    for k, job in enumerate(jobs):
                        prefix = f"{k}/"
                        ck.results[tuple(job)] = {name[len(prefix):]: data[name]
                                                  for name in data.files
                                                  if name.startswith(prefix)}
            except Exception as exc:  # noqa: BLE001 - any unreadable file: say which
                raise ValueError(f"{path} is not a readable checkpoint of finished runs "
                                 f"({type(exc).__name__}: {exc}); delete it to start "
                                 f"afresh") from None
        return ck

    def save(self) -> Path | None:
        """Write the finished runs (none: nothing written); returns the path written."""
        if not self.results:
            return None
        arrays = {"jobs": np.array(json.dumps([list(j) for j in self.results]))}
        for k, curves in enumerate(self.results.values()):
            for name, arr in curves.items():
                arrays[f"{k}/{name}"] = np.asarray(arr)
        tmp = self.path.with_name(self.path.name + ".tmp.npz")
        np.savez(tmp, **arrays)
        tmp.replace(self.path)
        return self.path

    def discard(self) -> None:
        """Remove the file (the figure finished)."""
        self.path.unlink(missing_ok=True)


def reproduce(id: str, out: str | Path | None = None, *, seeds: int | None = None,
              quick: bool = False, progress: bool = True,
              workers: int | None = None, scheduler: str | None = None,
              budget: str = "default", resume: bool = True) -> list[Path]:
    """Make figure ``id`` under ``out``; returns the written paths (PNG first, then CSV).

    ``out`` defaults to :func:`default_out` (``figures/``, or ``figures/quick/`` when
    ``quick``). On Ctrl-C the worker processes stop at once, the finished runs are saved to
    ``<out>/<id>.partial.npz`` (reused by the next run) and :class:`Interrupted` is raised;
    on any other error (a lost Dask worker or scheduler) the finished runs are saved there
    too before the error propagates.

    ``scheduler`` runs the figure's grid of runs on Dask (:mod:`._executor`): ``"local"``
    (a ``LocalCluster`` of ``workers`` processes) or a scheduler's address
    (``"tcp://host:8786"``; its workers need ``fairmg``). Default: ``workers`` processes.

    ``budget`` (``"default"`` or ``"full"``) sizes the environment experiments (figures
    whose ``make`` takes it); ``resume=False`` discards an earlier interrupted run's
    finished runs (``<out>/<id>.partial.npz``) and per-run checkpoints
    (``<out>/<id>.runs/``) first.
    """
    known = figures()
    if id not in known:
        raise ValueError(f"figure id {id!r} is unknown; known ids: {', '.join(known)}")
    if seeds is not None and (isinstance(seeds, bool) or int(seeds) != seeds or seeds < 1):
        raise ValueError(f"seeds must be an integer >= 1, got {seeds!r}")
    if workers is not None and (isinstance(workers, bool) or int(workers) != workers
                                or workers < 1):
        raise ValueError(f"workers must be an integer >= 1, got {workers!r}")
    out = default_out(quick) if out is None else Path(out)
    out.mkdir(parents=True, exist_ok=True)
    make = known[id].make
    params = inspect.signature(make).parameters
    kwargs = dict(seeds=seeds, quick=quick, progress=progress)
    if budget not in ("default", "full"):
        raise ValueError(f"budget must be 'default' or 'full', got {budget!r}")
    if "budget" in params:
        kwargs["budget"] = budget
    if not resume:
        import shutil
        (out / f"{id}.partial.npz").unlink(missing_ok=True)
        shutil.rmtree(out / f"{id}.runs", ignore_errors=True)
    ck = None
    if "checkpoint" in params:
        ck = Checkpoint.load(out / f"{id}.partial.npz")
        kwargs["checkpoint"] = ck
        if ck.results and progress:
            from ._progress import say
            say(f"{id}: resuming, {len(ck.results)} finished run(s) loaded from {ck.path}")
    if "workers" in params:
        kwargs["workers"] = workers
    from ._executor import use_scheduler
    from ._progress import InterruptGuard

    try:
        with InterruptGuard(), use_scheduler(scheduler):
            paths = make(out, **kwargs)
    except KeyboardInterrupt:
        saved = ck.save() if ck is not None else None
        raise Interrupted(id, saved, len(ck.results) if saved else 0) from None
    except BaseException:
        if ck is not None and ck.save() is not None and progress:
            from ._progress import say
            say(f"{id}: failed; {len(ck.results)} finished run(s) kept in {ck.path} "
                f"(the same command resumes from them)")
        raise
    if ck is not None:
        ck.discard()
    import shutil
    shutil.rmtree(out / f"{id}.runs", ignore_errors=True)      # per-run checkpoints: done
    return paths


def job_key(job) -> tuple:
    """The checkpoint key of a dataclass job: its fields as a tuple of plain values."""
    return tuple(v.item() if isinstance(v, np.generic) else v for v in astuple(job))
