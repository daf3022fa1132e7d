"""The shared driver of every learning dynamic, its evaluators, observers and :class:`Run`.

A dynamic is a ``step(state, evaluation) -> state`` on some parameters (logits, policy
tables, network weights) plus a map ``to_policy(state)``. :func:`iterate` evaluates the
policy once per iteration with an injected *evaluator* (exact now; sampled estimators plug
in the same way), hands that evaluation to the *observers* (the metrics; an unknown name is
an error) and to the step, and keeps what ``keep`` asks for.

Batches: when ``to_policy`` returns an array ``probs[b, i, s, a_i]`` instead of a
:class:`~fairmg.policy.ProductPolicy`, the driver runs the B runs in lockstep (one
compiled evaluation of the whole batch for dense games), the step receives a
:class:`BatchEvaluation`, and every metric gains a batch axis; ``run[b]`` is run b alone.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from tqdm.auto import tqdm

from .. import kernels
from .._validate import check_int
from ..equilibrium import (GAP_TOL, IMPROVE_TOL, MAX_PI_ITER, nash_gap, social_optimum)
from ..evaluate import Evaluation, evaluate
from ..policy import ProductPolicy

__all__ = ["Run", "iterate", "record_metrics", "METRICS", "BatchEvaluation", "evaluate_batch",
           "OBSERVERS", "resolve_metrics"]


# -- evaluation of a batch -------------------------------------------------------------
class BatchEvaluation:
    """Exact quantities of B product policies of one game (leading axis b).

    Attributes
    ----------
    probs : ndarray (B, N, S, A_max)
    values : ndarray (B, N, S)
    local_qs : ndarray (B, N, S, A_max)
    visitation : ndarray (B, S)
        Unnormalized, as in :class:`~fairmg.evaluate.Evaluation`.
    potential_values : ndarray (B, S) or None
    """

    def __init__(self, game, probs, values, local_qs, visitation, potential_values,
                 evaluations=None):
        self.game = game
        self.probs = probs
        self.values = values
        self.local_qs = local_qs
        self.visitation = visitation
        self.potential_values = potential_values
        self._evaluations = evaluations
        self._best = None
        self._at_initial = None

    def __len__(self) -> int:
        return self.probs.shape[0]

    @property
    def value_at_initial(self) -> np.ndarray:
        """V^i(mu), shape (B, N)."""
        if self._at_initial is None:
            self._at_initial = self.values @ self.game.initial
        return self._at_initial

    @property
    def local_advantages(self) -> np.ndarray:
        """A^i(s, a_i), zero-padded, shape (B, N, S, A_max)."""
        adv = self.local_qs - self.values[..., None]
        return np.where(self.game.action_mask[None, :, None, :], adv, 0.0)

    def policy(self, b: int) -> ProductPolicy:
        return ProductPolicy(self.game, self.probs[b], _checked=True)

    def evaluation(self, b: int) -> Evaluation:
        """The b-th policy's :class:`~fairmg.evaluate.Evaluation`."""
        if self._evaluations is not None:
            return self._evaluations[b]
        pot = None if self.potential_values is None else self.potential_values[b]
        return Evaluation(self.game, self.policy(b), self.values[b], None, self.local_qs[b],
                          self.visitation[b], pot)

    def best_values(self) -> np.ndarray:
        """max_{pi^i'} V^i_{pi^i', pi^-i}(mu) of every agent and run, shape (B, N)."""
        if self._best is None:
            g = self.game
            if g.is_dense:
                self._best = evaluate_batch(g, self.probs, best=True)._best
            else:
                gaps = np.stack([nash_gap(g, self.policy(b), per_agent=True,
                                          evaluation=self.evaluation(b))
                                 for b in range(len(self))])
                self._best = gaps + self.value_at_initial
        return self._best

    def nash_gaps(self) -> np.ndarray:
        """Per-agent Nash-gaps (002 Def. 2.4), shape (B, N); round-off below 0 is 0."""
        current = self.value_at_initial
        gaps = self.best_values() - current
        floor = GAP_TOL * np.maximum(1.0, np.abs(current))
        if np.any(gaps < -floor):
            raise RuntimeError(f"a best response is worse than the policy by "
                               f"{-gaps.min():.3g}: a numerical failure")
        return np.maximum(gaps, 0.0)


def evaluate_batch(game, probs, *, best: bool = False,
                   warm_start: np.ndarray | None = None) -> BatchEvaluation:
    """Evaluate the B policies ``probs[b]`` (B, N, S, A_max) of ``game`` exactly.

    Dense games: one compiled call for the whole batch (:func:`kernels.batch_evaluate`),
    which with ``best=True`` also computes every agent's best-response value (the
    Nash-gap) from the same agent MDPs; other games: :func:`fairmg.evaluate` policy by
    policy. ``warm_start`` (B, N, S) int64, dense games with ``best``: policy iteration
    starts from these actions (-1 in ``[b, i, 0]``: from the greedy ones) and they are
    overwritten with the best responses found; the values do not depend on it.
    """
    probs = np.ascontiguousarray(probs, dtype=np.float64)
    if game.is_dense:
        phi = game.potential if game.potential is not None else np.empty((0, 1))
        B = probs.shape[0]
        act = warm_start
        if act is None or act.shape != (B, game.n_agents, game.n_states):
            act = np.full((B, game.n_agents, game.n_states), -1, dtype=np.int64)
        values, pot, local, visit, best_values = kernels.batch_evaluate(
            game.transition, game.rewards, kernels.frozen(phi), kernels.frozen(probs),
            game.joint_actions, np.array(game.action_sizes, dtype=np.int64), game.gamma,
            game.initial, best, IMPROVE_TOL, MAX_PI_ITER, act)
        if not np.all(np.isfinite(values)):
            raise FloatingPointError("the policies' values are not finite: rescale rewards")
        bev = BatchEvaluation(game, probs, values, local, visit,
                              pot if game.potential is not None else None)
        if best:
            bev._best = best_values
        return bev
    evs = [evaluate(game, ProductPolicy(game, p, _checked=True)) for p in probs]
    pot = None if evs[0].potential_values is None else np.stack(
        [e.potential_values for e in evs])
    return BatchEvaluation(game, probs, np.stack([e.values for e in evs]),
                           np.stack([e.local_qs for e in evs]),
                           np.stack([e.visitation for e in evs]), pot, evs)


# -- observers (metrics) -----------------------------------------------------------------
def _poa(game, bev):
    return bev.value_at_initial.sum(axis=1) / social_optimum(game).value


def _potential(game, bev):
    return bev.potential_values @ game.initial


#: The built-in observers: ``name -> f(game, batch_evaluation) -> array (B, ...)``.
#: ``nash_gap`` (002 Def. 2.4), ``poa`` (sum of values over the social optimum; only when
#: the optimum is positive), ``potential`` (Phi_pi(mu); only when the game carries a
#: potential), ``welfare`` (sum_i V^i(mu)), ``values`` (V^i(mu), shape (N,)).
OBSERVERS: dict[str, Callable] = {
    "nash_gap": lambda game, bev: bev.nash_gaps().max(axis=1),
    "poa": _poa,
    "potential": _potential,
    "welfare": lambda game, bev: bev.value_at_initial.sum(axis=1),
    "values": lambda game, bev: bev.value_at_initial.copy(),
}
#: The names of :data:`OBSERVERS` (v1 name).
METRICS = tuple(OBSERVERS)


def _undefined(game, name: str) -> str | None:
    """Why metric ``name`` is undefined on ``game``, or None."""
    if name == "potential" and not game.has_potential:
        return "the game carries no potential"
    if name == "poa":
        opt = social_optimum(game).value
        if not opt > 0:
            return f"the social optimum is {opt:.6g} <= 0"
    return None


def resolve_metrics(game, metrics) -> tuple[dict[str, Callable], list[str]]:
    """The observers of ``metrics`` and notes on the defaults skipped.

    ``metrics`` is ``"auto"`` (every built-in one defined on the game; so is the tuple
    :data:`METRICS` itself, the v1 default), a name, or a
    sequence of names and callables ``f(game, batch_evaluation) -> array (B, ...)``
    (recorded under ``f.__name__``) or ``(name, f)`` pairs. An unknown name raises, and
    so does a built-in metric asked for by name where it is undefined (``poa`` when the
    social optimum is <= 0, ``potential`` without a potential).
    """
    notes: list[str] = []
    if metrics is METRICS or (isinstance(metrics, str) and metrics == "auto"):
        chosen = {}
        for name, fn in OBSERVERS.items():
            why = _undefined(game, name)
            if why is None:
                chosen[name] = fn
            else:
                notes.append(f"metric {name!r} not recorded: {why}")
        return chosen, notes
    if isinstance(metrics, str) or callable(metrics):
        metrics = [metrics]
    if not isinstance(metrics, (list, tuple)):
        raise TypeError(f"metrics must be 'auto', a name, or a sequence of names and "
                        f"callables, got {metrics!r}")
    chosen = {}
    for m in metrics:
        if isinstance(m, str):
            if m not in OBSERVERS:
                raise ValueError(f"metric {m!r} is unknown; choose from {METRICS} or pass a "
                                 f"callable f(game, batch_evaluation)")
            why = _undefined(game, m)
            if why is not None:
                raise ValueError(f"metric {m!r} is undefined on {game!r}: {why}")
            chosen[m] = OBSERVERS[m]
        elif isinstance(m, tuple) and len(m) == 2 and isinstance(m[0], str) and callable(m[1]):
            chosen[m[0]] = m[1]
        elif callable(m):
            chosen[getattr(m, "__name__", repr(m))] = m
        else:
            raise TypeError(f"metrics entries must be names or callables, got {m!r}")
    return chosen, notes


def record_metrics(game, ev: Evaluation, which) -> dict[str, Any]:
    """The metrics ``which`` (names of :data:`METRICS`, or ``"auto"``) of one evaluated policy."""
    observers, _ = resolve_metrics(game, which)
    bev = BatchEvaluation(game, ev.policy.probs[None], ev.values[None], ev.local_qs[None],
                          ev.visitation[None], None if ev.potential_values is None
                          else ev.potential_values[None], [ev])
    return {k: _unbatch(np.asarray(fn(game, bev))) for k, fn in observers.items()}


def _unbatch(x):
    x = x[0]
    return float(x) if np.ndim(x) == 0 else x


# -- the run ---------------------------------------------------------------------------
@dataclass
class Run:
    """The trajectory of a dynamic (or of B dynamics in lockstep).

    Attributes
    ----------
    name : str
    params : dict
        Hyper-parameters as called (and seeds drawn).
    metrics : dict of str -> ndarray
        Each of length ``iters + 1`` (a batch adds axis 1: ``(iters + 1, B, ...)``).
    probs : list of ndarray
        The kept policies' tables (N, S, A_max) (batch: (B, N, S, A_max)).
    kept : list of int
        The iterations kept in ``probs``, ``thetas`` and ``states``.
    thetas : list of ndarray or None
        Logits of the kept iterations, for dynamics that have them.
    states : list or None
        The raw step states (e.g. network weights) when they are not logits.
    notes : list of str
        What the driver decided on its own (metrics skipped and why).
    game : Game
    batch : int or None
        B for a batched run, None for a single one.
    """

    name: str
    params: dict
    metrics: dict = field(default_factory=dict)
    probs: list = field(default_factory=list)
    kept: list = field(default_factory=list)
    thetas: list | None = None
    states: list | None = None
    notes: list = field(default_factory=list)
    game: Any = None
    batch: int | None = None
    _policies: list | None = None

    @property
    def iterations(self) -> int:
        first = next(iter(self.metrics.values()), None)
        return (len(first) - 1) if first is not None else (self.kept[-1] if self.kept else 0)

    @property
    def policies(self) -> list:
        """The kept policies as :class:`ProductPolicy` (single runs; ``run[b]`` for a batch)."""
        if self.batch is not None:
            raise TypeError("a batched run has no single policy list: use run[b].policies")
        if self._policies is None or len(self._policies) != len(self.probs):
            self._policies = [ProductPolicy(self.game, p, _checked=True) for p in self.probs]
        return self._policies

    @policies.setter
    def policies(self, value):
        self._policies = list(value)
        self.probs = [p.probs for p in self._policies]

    @property
    def final(self) -> ProductPolicy:
        return self.policies[-1]

    def __len__(self) -> int:
        if self.batch is None:
            raise TypeError("a single run has no batch axis")
        return self.batch

    def __getitem__(self, b: int) -> "Run":
        """Run b of a batch, as a single :class:`Run`."""
        if self.batch is None:
            raise TypeError("a single run has no batch axis to index")
        b = check_int(b, "b", low=0, high=self.batch - 1)
        return Run(self.name, dict(self.params, batch_index=b),
                   {k: v[:, b] for k, v in self.metrics.items()},
                   [p[b] for p in self.probs], list(self.kept),
                   None if self.thetas is None else [t[b] for t in self.thetas],
                   None if self.states is None else list(self.states), list(self.notes),
                   self.game, None)

    def __iter__(self):
        return (self[b] for b in range(len(self)))

    def __repr__(self) -> str:
        if self.batch is not None:
            return f"Run({self.name}, batch={self.batch}, iterations={self.iterations})"
        last = ", ".join(f"{k}={np.round(v[-1], 4)}" for k, v in self.metrics.items()
                         if np.ndim(v[-1]) == 0)
        return f"Run({self.name}, iterations={self.iterations}, final: {last})"


def _keep_schedule(keep, iters: int):
    """Which iterations to keep: a predicate on t."""
    if keep == "all":
        return lambda t: True
    if keep == "last":
        return lambda t: t == iters
    if isinstance(keep, (int, np.integer)) and not isinstance(keep, bool) and keep >= 1:
        return lambda t: t % int(keep) == 0 or t == iters
    raise ValueError(f"keep must be 'all', 'last' or an int k >= 1 (every k-th "
                     f"iteration), got {keep!r}")


def iterate(game, state0, step: Callable, to_policy: Callable, iters: int, *, name: str,
            params: dict, metrics="auto", keep="all", store: str | None = "thetas",
            evaluator: Callable | None = None, progress: bool = False) -> Run:
    """Run ``state_{t+1} = step(state_t, evaluator(game, to_policy(state_t)))``.

    Parameters
    ----------
    game : Game
    state0 : any
        Initial state of the dynamic.
    step : callable
        ``step(state, evaluation) -> next state``; the evaluation is an
        :class:`~fairmg.evaluate.Evaluation` for a single run, a :class:`BatchEvaluation`
        for a batch.
    to_policy : callable
        ``to_policy(state)`` -> a :class:`ProductPolicy` (a single run) or an array
        ``probs [B, N, S, A_max]`` (B runs in lockstep).
    iters : int
        Number of steps; metrics are recorded ``iters + 1`` times.
    metrics : "auto", str or sequence
        The observers (:func:`resolve_metrics`).
    keep : {"all", "last"} or int
        Which iterations' policies (and states) to keep (an int k: every k-th and the
        last). v1 values: ``"logits"`` (all, states as thetas), ``"states"`` (all, as
        states), ``"none"`` (all policies, no states).
    store : {"thetas", "states", None}
        Where kept states go (None: nowhere).
    evaluator : callable, optional
        ``evaluator(game, probs [B, N, S, A_max]) -> BatchEvaluation``; default the exact
        :func:`evaluate_batch`. A sampled estimator plugs in here.
    progress : bool
        Show a tqdm bar.
    """
    iters = check_int(iters, "iters", low=0)
    v1 = {"states": "states", "logits": "thetas", "none": None}
    if isinstance(keep, str) and keep in v1:
        keep, store = "all", v1[keep]
    if store not in ("thetas", "states", None):
        raise ValueError(f"store must be 'thetas', 'states' or None, got {store!r}")
    keep_it = _keep_schedule(keep, iters)
    store_states = store is not None
    observers, notes = resolve_metrics(game, metrics)
    for note in notes:
        if "'poa'" in note:          # a game without a potential is ordinary; no POA is news
            warnings.warn(f"{name}: {note}", stacklevel=3)
    default_evaluator = evaluator is None
    if evaluator is None:
        need_best = "nash_gap" in observers
        warm = [None]      # the last iterate's best responses start the next search

        def evaluator(game, probs):
            if need_best and game.is_dense and (warm[0] is None or
                                                warm[0].shape[0] != np.shape(probs)[0]):
                warm[0] = np.full((np.shape(probs)[0], game.n_agents, game.n_states), -1,
                                  dtype=np.int64)
            return evaluate_batch(game, probs, best=need_best, warm_start=warm[0])
    run = Run(name=name, params=dict(params), notes=notes, game=game)
    series: dict[str, list] = {k: [] for k in observers}
    kept_states: list = []
    state = state0
    single = None
    for t in tqdm(range(iters + 1), desc=name, disable=not progress, leave=False):
        pol = to_policy(state)
        if single is None:
            single = isinstance(pol, ProductPolicy)
            run.batch = None if single else int(np.shape(pol)[0])
        if single:
            bev = _single_evaluation(game, pol, evaluator, default=default_evaluator)
        else:
            bev = evaluator(game, pol)
        for k, fn in observers.items():
            series[k].append(np.asarray(fn(game, bev)))
        if keep_it(t):
            run.kept.append(t)
            run.probs.append(bev.probs[0] if single else bev.probs)
            if store_states:
                kept_states.append(state)
        if t < iters:
            state = step(state, bev.evaluation(0) if single else bev)
    run.metrics = {k: (np.stack(v)[:, 0] if single else np.stack(v)) for k, v in series.items()}
    if store_states:
        if store == "thetas":
            run.thetas = kept_states
        else:
            run.states = kept_states
    return run


def _single_evaluation(game, pol, evaluator, default: bool) -> BatchEvaluation:
    if default and not game.is_dense:
        ev = evaluate(game, pol)
        return BatchEvaluation(game, pol.probs[None], ev.values[None], ev.local_qs[None],
                               ev.visitation[None], None if ev.potential_values is None
                               else ev.potential_values[None], [ev])
    bev = evaluator(game, pol.probs[None])
    if bev._evaluations is None:
        bev._evaluations = [Evaluation(game, pol, bev.values[0], None, bev.local_qs[0],
                                       bev.visitation[0], None if bev.potential_values is None
                                       else bev.potential_values[0])]
    return bev
