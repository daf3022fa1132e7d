"""The papers' benchmark environments, batched and functional on NumPy/CuPy (issue 16).

>>> import fairmg as fm
>>> sorted(fm.envs.names())[:3]
['cleanup', 'cooperative_navigation', 'cooperative_predation']
"""
from __future__ import annotations

import importlib

from .base import Env, StepResult, counter_uniforms, env_keys
from .render import animate, episode_states

__all__ = ["make", "names", "Env", "StepResult", "env_keys", "counter_uniforms", "animate",
           "episode_states"]

#: name -> (module, class). Modules import lazily so one broken env never hides the rest.
_REGISTRY = {
    "harvest": ("fairmg.envs.commons_grid", "Harvest"),
    "cleanup": ("fairmg.envs.commons_grid", "CleanUp"),
    "matthew": ("fairmg.envs.matthew", "MatthewEffect"),
    "job_scheduling": ("fairmg.envs.job_scheduling", "JobScheduling"),
    "exchange": ("fairmg.envs.tabular", "ExchangeEnv"),
    "cooperative_predation": ("fairmg.envs.tabular", "CooperativePredationEnv"),
    "cooperative_navigation": ("fairmg.envs.navigation", "CooperativeNavigation"),
}


def names() -> list[str]:
    """The names :func:`make` accepts."""
    return list(_REGISTRY)


def make(name: str, n_envs: int = 1, seed=None, *, xp=None, **preset) -> Env:
    """Build environment ``name`` with ``n_envs`` envs in lockstep.

    Parameters
    ----------
    name : str
        One of :func:`names`.
    n_envs : int
        Batch size B.
    seed : int, optional
        Kept as the default seed of ``env.reset()``.
    xp : module, optional
        Array namespace (NumPy by default; ``cupy``; ``array_api_strict``).
    **preset
        ``preset="..."`` picks a paper's configuration; other keywords override its
        constants (see each environment's docstring).
    """
    if name not in _REGISTRY:
        raise ValueError(f"unknown environment {name!r}; choose one of {names()}")
    module, cls = _REGISTRY[name]
    env = getattr(importlib.import_module(module), cls)(n_envs=n_envs, xp=xp, **preset)
    env.default_seed = seed
    return env
