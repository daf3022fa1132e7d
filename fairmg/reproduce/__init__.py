"""Registry of reproducible paper figures: ``fairmg reproduce <figure-id>``.

A figure is a function registered with :func:`figure`; it writes
``<out>/<id>.png`` and ``<out>/<id>.csv`` (the numbers behind the plot) and returns
the paths it wrote. Modules of this package are discovered automatically, so a new
figure is one new module (``fairmg/reproduce/<topic>.py``) with decorated functions.

Each figure function takes ``(out, *, seeds=None, quick=False, progress=True)``:
``seeds`` overrides the number of seeds (``None`` means the paper's), ``quick`` runs
a reduced version for tests, ``progress`` shows tqdm bars.
"""
from __future__ import annotations

import importlib
import pkgutil
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

__all__ = ["Figure", "figure", "figures", "reproduce"]


@dataclass(frozen=True)
class Figure:
    """A registered figure: its id, the paper figure it reproduces and how."""

    id: str
    paper: str
    description: str
    make: Callable[..., list[Path]]


_REGISTRY: dict[str, Figure] = {}


def figure(id: str, *, paper: str, description: str):
    """Register ``make(out, *, seeds=None, quick=False, progress=True) -> list[Path]``."""

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


def reproduce(id: str, out: str | Path = "figures", *, seeds: int | None = None,
              quick: bool = False, progress: bool = True) -> list[Path]:
    """Make figure ``id`` under ``out``; returns the written paths (PNG first, then CSV)."""
    known = figures()
    if id not in known:
        raise ValueError(f"figure id {id!r} is unknown; known ids: {', '.join(known)}")
    if seeds is not None and seeds < 1:
        raise ValueError(f"seeds must be >= 1, got {seeds}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    return known[id].make(out, seeds=seeds, quick=quick, progress=progress)
