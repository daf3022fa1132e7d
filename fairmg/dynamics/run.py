"""The shared driver of every learning dynamic, and the :class:`Run` it returns.

A dynamic is a step ``state -> state`` on some parameters (logits, policy tables,
network weights) plus a map ``state -> ProductPolicy``. :func:`iterate` evaluates the
policy exactly once per iteration (:func:`fairmg.evaluate`), hands that evaluation to
both the metric recorder and the step, so no dynamic re-implements evaluation and no
work is done twice.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
from tqdm.auto import tqdm

from ..equilibrium import nash_gap, price_of_anarchy, social_optimum
from ..evaluate import Evaluation, evaluate
from ..model import MarkovGame, ProductPolicy

__all__ = ["Run", "iterate", "record_metrics", "METRICS"]

#: Metrics the driver can record each iteration.
#: ``nash_gap`` (002 Def. 2.4), ``poa`` (sum of values over the social optimum; only
#: when the optimum is positive), ``potential`` (Phi_pi(mu); only when the game carries
#: a potential), ``welfare`` (sum_i V^i(mu)), ``values`` (V^i(mu), shape (N,)).
METRICS = ("nash_gap", "poa", "potential", "welfare", "values")


@dataclass
class Run:
    """The trajectory of a dynamic.

    Attributes
    ----------
    name : str
        The dynamic's name.
    params : dict
        Its hyper-parameters, as called.
    policies : list of ProductPolicy
        pi_0, ..., pi_T (length ``iters + 1``).
    metrics : dict of str -> ndarray
        Each of length ``iters + 1`` (``values``: shape (iters + 1, N)).
    thetas : list of ndarray or None
        Logits theta_0, ..., theta_T for dynamics that have them.
    states : list
        The raw step states (e.g. network weights) when they are not logits.
    """

    name: str
    params: dict
    policies: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    thetas: list | None = None
    states: list | None = None

    @property
    def iterations(self) -> int:
        return len(self.policies) - 1

    @property
    def final(self) -> ProductPolicy:
        return self.policies[-1]

    def __repr__(self) -> str:
        last = ", ".join(f"{k}={np.round(v[-1], 4)}" for k, v in self.metrics.items()
                         if np.ndim(v[-1]) == 0)
        return f"Run({self.name}, iterations={self.iterations}, final: {last})"


def record_metrics(game: MarkovGame, ev: Evaluation, which: Sequence[str]) -> dict[str, Any]:
    """The metrics ``which`` (a subset of :data:`METRICS`) of one evaluated policy."""
    out: dict[str, Any] = {}
    values = ev.value_at_initial
    if "nash_gap" in which:
        out["nash_gap"] = nash_gap(game, ev.policy, evaluation=ev)
    if "poa" in which and social_optimum(game).value > 0:
        out["poa"] = price_of_anarchy(game, ev.policy, evaluation=ev)
    if "potential" in which and game.potential is not None:
        out["potential"] = ev.potential_at_initial
    if "welfare" in which:
        out["welfare"] = float(values.sum())
    if "values" in which:
        out["values"] = values.copy()
    return out


def _check_metrics(metrics: Sequence[str]) -> tuple[str, ...]:
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ValueError(f"metrics {unknown} are unknown; choose from {METRICS}")
    return tuple(metrics)


def iterate(game: MarkovGame, state0, step: Callable[[Any, Evaluation], Any],
            to_policy: Callable[[Any], ProductPolicy], iters: int, *, name: str,
            params: dict, metrics: Sequence[str] = METRICS, keep: str = "logits",
            progress: bool = False) -> Run:
    """Run ``state_{t+1} = step(state_t, evaluate(game, to_policy(state_t)))``.

    Parameters
    ----------
    state0 : any
        Initial state of the dynamic.
    step : callable
        ``step(state, evaluation) -> next state``.
    to_policy : callable
        ``to_policy(state) -> ProductPolicy``.
    iters : int
        Number of steps; metrics and policies are recorded ``iters + 1`` times.
    keep : {"logits", "states", "none"}
        Keep each state as ``run.thetas`` (logits), ``run.states``, or not at all.
    progress : bool
        Show a tqdm bar.
    """
    if not (isinstance(iters, (int, np.integer)) and iters >= 0):
        raise ValueError(f"iters must be an int >= 0, got {iters!r}")
    which = _check_metrics(metrics)
    run = Run(name=name, params=dict(params))
    kept: list = []
    series: dict[str, list] = {}
    state = state0
    for t in tqdm(range(iters + 1), desc=name, disable=not progress, leave=False):
        policy = to_policy(state)
        ev = evaluate(game, policy)
        for k, v in record_metrics(game, ev, which).items():
            series.setdefault(k, []).append(v)
        run.policies.append(policy)
        if keep != "none":
            kept.append(state)
        if t < iters:
            state = step(state, ev)
    run.metrics = {k: np.asarray(v) for k, v in series.items()}
    if keep == "logits":
        run.thetas = kept
    elif keep == "states":
        run.states = kept
    return run
