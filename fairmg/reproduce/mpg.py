"""Figures 1, 2 and 4 of 002 (softmax PG in Markov potential games) and its NPG-BR K grid.

All on the coordination game of 002, Section 5 / App. G.1 (``fairmg.games.coordination``,
eps = 0.1) with N = 2, 3, 5 agents; gamma 0.95, uniform mu, step size 0.1, 400
iterations, initial logits N(0, 1) (App. G.2, Table 1). Curves are means over seeds with
standard errors (std / sqrt(seeds), ddof = 1) of the POA (top row) and the Nash-gap
(bottom row), both computed exactly every iteration.

Settings the paper leaves open, and ours (also written under every figure and into
``<id>.txt``):

* **Selection of lambda and K** ("picked the one with the best POA"): the highest mean
  over seeds of the POA at the last iteration; ties (within ``TIE_TOL``) go to the higher
  mean POA over all iterations, then to the smaller parameter.
* **NPG-BR step size**: eq. (5) has none (step 1); Table 1 lists one learning rate, 0.1.
  We use eq. (5)'s step 1 (``NPG_BR_LR``); the inner loop then is soft policy iteration
  as printed.
* **NPG-BR with log barrier**: lambda is searched at the best unregularized K of each N;
  the maximum-gain agent is chosen by the gain of its regularized objective.
* **x-axis of NPG-BR**: outer iterations t of eq. (6); each costs N x K inner
  soft-PI steps (exact single-agent evaluations) of which one agent's K are kept.
* **Which algorithms get a barrier**: all three tabular ones (PG, NPG, NPG-BR) and both
  NN optimizers (the captions: "the log barrier regularized version of the algorithms").
* **NN**: ReLU hidden layers, PyTorch's default ``nn.Linear`` initialization (the paper's
  code is PyTorch; its "N(0, 1) initial parameters" cannot be shared between logits and
  weights), the network's seed equal to the logits' seed, Adam with betas (0.9, 0.999),
  eps 1e-8 and the same step 0.1. Figure 2 also shows tabular Softmax-PG and
  Softmax-NPG from the same seeds, which its text compares against.
* **Seeds**: seed k draws the initial logits (and NN weights) from
  ``numpy.random.default_rng(k)``; Figures 1, 4 and the K grid use 10 seeds, Figure 2 20.
"""
from __future__ import annotations

import csv
import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from . import figure, job_key, quick_label
from ._executor import run_grid, worker_init
from ._progress import check_interrupt, format_duration, say

PAPER = "002 (Convergence and PoA of softmax PG in MPGs)"
AGENTS = (2, 3, 5)
GAMMA = 0.95
EPS = 0.1
LR = 0.1
ITERS = 400
LAMBDAS = (0.01, 0.1, 1.0, 10.0, 100.0)
KS = (1, 5, 10, 20, 50)
NPG_BR_LR = 1.0
SEEDS_TABULAR = 10
SEEDS_NN = 20
METRICS = ("poa", "nash_gap")
#: Mean final POAs closer than this count as tied in the lambda / K selection.
TIE_TOL = 1e-9

QUICK = dict(agents=(2, 3, 5), iters=4, seeds=2)

SETTINGS_NOTE = (
    f"coordination game eps={EPS}, gamma={GAMMA}, uniform mu, lr={LR} (NPG-BR inner step "
    f"{NPG_BR_LR}, eq. (5)), logits ~ N(0,1); mean +- s.e. over seeds. Best lambda in "
    f"{LAMBDAS} / K in {KS} = highest mean final POA (ours; the paper says only 'best "
    f"POA'); NPG-BR+barrier searched at the best K.")


# -- one run ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Job:
    """One run: ``algo`` in {"pg", "npg", "npg-br", "nn-pg", "nn-adam"} with ``lam`` and
    (NPG-BR) ``K`` on the N-agent coordination game from seed ``seed``."""

    n_agents: int
    seed: int
    algo: str
    lam: float = 0.0
    K: int = 0
    iters: int = ITERS

    @property
    def config(self) -> tuple:
        return (self.n_agents, self.algo, self.lam, self.K)

    @property
    def cost(self) -> float:
        """Modelled run time, in units of about 1 ms on the machine the model was fitted
        on (timings of every algorithm at N = 2, 3, 5, 400 iterations). Per iteration:
        PG ``0.2 + 2^N / 64``; NPG that times ``1 + 2^N / 20`` (its natural direction);
        NPG-BR ``(1.4 PG + K N 2^N / 2800) (1 + 2^N / 32)`` (K inner soft-PI steps per
        agent); the networks ``0.3 + 2^N / 25``. Used to start the longest runs first, to
        weight the progress bar and, calibrated by :func:`seconds_per_cost`, to estimate
        the duration."""
        size = 2.0 ** self.n_agents
        pg = 0.2 + size / 64
        if self.algo in ("nn-pg", "nn-adam"):
            per_iter = 0.3 + size / 25
        elif self.algo == "npg":
            per_iter = pg * (1 + size / 20)
        elif self.algo == "npg-br":
            per_iter = (1.4 * pg + self.K * self.n_agents * size / 2800) * (1 + size / 32)
        else:
            per_iter = pg
        return per_iter * self.iters


def initial_logits(n_agents: int, seed: int) -> np.ndarray:
    """Seed ``seed``'s initial logits ~ N(0, 1), shape (N, 2^N, 2) (002, Section 5)."""
    return np.random.default_rng(seed).normal(size=(n_agents, 2 ** n_agents, 2))


def run_job(job: Job) -> tuple[Job, dict[str, np.ndarray]]:
    """Run one job; returns it with its POA and Nash-gap curves (length iters + 1).

    A run that diverges (the dynamic raises ``FloatingPointError``: NPG with a large
    log-barrier lambda overshoots through its 1/pi term) gets all-NaN curves; such
    configurations are reported and never selected.
    """
    try:
        return job, _job_curves(job)
    except FloatingPointError:
        return job, {k: np.full(job.iters + 1, np.nan) for k in METRICS}


#: Algorithms whose runs of one configuration step in lockstep over seeds (a batch of
#: initial logits: one compiled evaluation, or one compiled NPG-BR step, per iteration).
BATCHED_ALGOS = ("pg", "npg", "npg-br")


def run_batch(jobs) -> list[tuple[Job, dict[str, np.ndarray]]]:
    """Run jobs of one configuration (different seeds) in lockstep; returns
    ``[(job, curves)]`` in the order given, each the same as :func:`run_job`'s.

    One seed's divergence (``FloatingPointError``) stops a lockstep run, so such a batch
    falls back to its runs one by one: each then gets its own curves or NaNs.
    """
    jobs = tuple(jobs)
    if len(jobs) == 1 or jobs[0].algo not in BATCHED_ALGOS:
        return [run_job(j) for j in jobs]
    if len({j.config + (j.iters,) for j in jobs}) != 1:
        raise ValueError("a batch holds runs of one configuration")
    try:
        curves = _job_curves(jobs[0], seeds=[j.seed for j in jobs])
    except FloatingPointError:
        return [run_job(j) for j in jobs]
    return [(j, {k: v[:, b] for k, v in curves.items()}) for b, j in enumerate(jobs)]


def batches(jobs, workers: int) -> list[tuple[Job, ...]]:
    """Group ``jobs`` by configuration into lockstep batches (:func:`run_batch`), each
    split so that no batch costs more than a quarter of a worker's share of the total (or
    one run): the longest batch bounds the wall time."""
    groups: dict = {}
    for j in jobs:
        key = j.config + (j.iters,) if j.algo in BATCHED_ALGOS else (j,)
        groups.setdefault(key, []).append(j)
    cap = sum(j.cost for j in jobs) / (4 * max(1, workers))
    out = []
    for group in groups.values():
        group.sort(key=lambda j: j.seed)
        size = max(1, int(cap // max(group[0].cost, 1e-9)))
        out += [tuple(group[k:k + size]) for k in range(0, len(group), size)]
    return sorted(out, key=lambda b: -sum(j.cost for j in b))


def _job_curves(job: Job, seeds=None) -> dict[str, np.ndarray]:
    """The curves of ``job``; with ``seeds``, of those seeds in lockstep (axis 1)."""
    import fairmg as fm

    g = fm.games.coordination(n_agents=job.n_agents, eps=EPS, gamma=GAMMA)
    theta0 = (initial_logits(job.n_agents, job.seed) if seeds is None else
              np.stack([initial_logits(job.n_agents, s) for s in seeds]))
    if job.algo == "pg":
        run = fm.dynamics.softmax_pg(g, theta0, lr=LR, iters=job.iters, log_barrier=job.lam,
                                     metrics=METRICS)
    elif job.algo == "npg":
        run = fm.dynamics.npg(g, theta0, lr=LR, iters=job.iters, log_barrier=job.lam,
                              metrics=METRICS)
    elif job.algo == "npg-br":
        run = fm.dynamics.npg_best_response(g, theta0, inner_steps=job.K, lr=NPG_BR_LR,
                                            iters=job.iters, log_barrier=job.lam,
                                            metrics=METRICS)
    elif job.algo in ("nn-pg", "nn-adam"):
        run = fm.dynamics.nn_pg(g, seed=job.seed, optimizer=job.algo[3:].replace("pg", "sgd"),
                                lr=LR, iters=job.iters, log_barrier=job.lam, metrics=METRICS)
    else:
        raise ValueError(f"algo {job.algo!r} is unknown")
    return {k: run.metrics[k] for k in METRICS}


def warm_up(jobs) -> None:
    """Run one 1-iteration job of each kind in ``jobs`` (N = 2) in this process, so that
    every numba kernel they need is loaded (or compiled) once, here, before the worker
    processes are forked: they inherit it instead of each loading it again (and the
    estimate does not count it)."""
    kinds = {(j.algo, j.lam > 0, j.K) for j in jobs}
    for algo, barrier, K in sorted(kinds, key=str):
        pair = tuple(Job(2, s, algo, 0.1 if barrier else 0.0, K, 1) for s in (0, 1))
        run_job(pair[0])
        run_batch(pair)               # the lockstep kernels too
        check_interrupt()


def seconds_per_cost(repeats: int = 5) -> float:
    """Seconds per unit of :attr:`Job.cost` on this machine as loaded now: the median of
    ``repeats`` timed probe runs (N = 3 PG, 40 iterations, about 15 ms each) after one
    warm-up run (not the fastest: the probe should see the load the runs will see)."""
    probe = Job(3, 0, "pg", 0.0, 0, 40)
    run_job(probe)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        run_job(probe)
        times.append(time.perf_counter() - t0)
    return float(np.median(times)) / probe.cost


def effective_workers(workers: int | None, n_jobs: int) -> int:
    """Processes that will actually run at once: ``workers`` (default: every core),
    at most one per job and per core."""
    cores = os.cpu_count() or 1
    w = cores if workers is None else int(workers)
    return max(1, min(w, n_jobs, cores))


def parallel_speedup(workers: int) -> float:
    """How many times faster ``workers`` processes finish than the one probe process, on
    this machine as loaded now: with ``L`` other runnable processes (the 1-minute load
    average) on ``C`` cores each of ``w`` processes gets ``min(1, C / (L + w))`` of a core."""
    cores = os.cpu_count() or 1
    try:
        load = max(0.0, os.getloadavg()[0])
    except (AttributeError, OSError):
        load = 0.0
    share = lambda w: min(1.0, cores / (load + w))  # noqa: E731
    return max(1.0, workers * share(workers) / share(1))


def estimate_seconds(jobs, workers: int | None = None, per_cost: float | None = None) -> float:
    """Expected wall time of ``jobs`` on ``workers`` processes: the cost model calibrated
    by a probe run (:func:`seconds_per_cost`), divided by :func:`parallel_speedup`."""
    jobs = list(jobs)
    if not jobs:
        return 0.0
    per_cost = seconds_per_cost() if per_cost is None else per_cost
    costs = [j.cost for j in jobs]
    w = effective_workers(workers, len(jobs))
    # the longest run bounds the wall time from below however many workers there are
    return per_cost * max(sum(costs) / parallel_speedup(w), max(costs))


def run_jobs(jobs, *, workers: int | None = None, progress: bool = True, desc: str = "runs",
             checkpoint=None):
    """Run ``jobs`` (in ``workers`` processes; 1: in this process; on Dask inside
    :func:`fairmg.reproduce._executor.use_scheduler`, as ``fairmg reproduce --scheduler``).

    Returns ``{config: {metric: array (seeds, iters + 1)}}`` with seeds in order.

    ``checkpoint`` (a :class:`fairmg.reproduce.Checkpoint`): jobs already in it are not
    run again, and every finished job is added to it as it finishes, so that an
    interruption (Ctrl-C) loses only the runs in flight. On Ctrl-C the worker processes
    are stopped at once and ``KeyboardInterrupt`` propagates.
    """
    return run_grid(jobs, run_batch, workers=workers, progress=progress, desc=desc,
                    checkpoint=checkpoint, group=batches, initializer=worker_init,
                    warm_up=warm_up)


# -- statistics and selection ----------------------------------------------------------
def mean_se(curves: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and standard error over seeds (axis 0) of ``curves`` (seeds, T)."""
    mean = curves.mean(axis=0)
    if curves.shape[0] < 2:
        return mean, np.zeros_like(mean)
    return mean, curves.std(axis=0, ddof=1) / np.sqrt(curves.shape[0])


def diverged(results: dict, config) -> int:
    """Number of seeds of ``config`` whose run diverged (NaN curves)."""
    return int(np.isnan(results[config]["poa"]).any(axis=1).sum())


def best_config(results: dict, configs) -> tuple | None:
    """The config with the best POA: highest mean final POA, then mean POA over all
    iterations (ties within ``TIE_TOL``), then the smaller parameter. Configurations with
    a diverged seed are skipped; ``None`` if all diverged."""
    configs = [c for c in configs if not diverged(results, c)]
    if not configs:
        return None
    finals = {c: results[c]["poa"][:, -1].mean() for c in configs}
    top = max(finals.values())
    tied = [c for c in configs if finals[c] >= top - TIE_TOL]
    return max(tied, key=lambda c: (results[c]["poa"].mean(), -c[2], -c[3]))


def best_lambda(results: dict, n: int, algo: str, K: int = 0) -> float | None:
    """The selected log-barrier lambda of ``algo`` at N = ``n`` (None: all diverged)."""
    best = best_config(results, [(n, algo, lam, K) for lam in LAMBDAS])
    return None if best is None else best[2]


def best_inner_steps(results: dict, n: int) -> int:
    """The selected K of unregularized NPG-BR at N = ``n``."""
    best = best_config(results, [(n, "npg-br", 0.0, K) for K in KS])
    if best is None:
        raise RuntimeError(f"NPG-BR diverged for every K at N={n}")
    return best[3]


def _barrier_curve(n, algo, lam, K, label, color):
    """The dashed curve of ``algo`` with its best lambda; none if every lambda diverged."""
    if lam is None:
        return []
    return [Curve((n, algo, lam, K), f"{label} + barrier (lambda={lam:g})", color, True,
                  base=(n, algo, 0.0, K))]


# -- plotting and CSV -----------------------------------------------------------------------
@dataclass(frozen=True)
class Curve:
    """One plotted curve: its run config, legend label, colour; a dashed curve (a
    regularized variant, drawn with markers) names the solid curve it varies (``base``)."""

    config: tuple
    label: str
    color: str
    dashed: bool = False
    base: tuple | None = None


#: A dashed curve whose mean POA and mean Nash-gap differ from those of its solid base
#: curve by less than this fraction of the base curve's range (max - min over the
#: iterations) at every iteration is said to coincide with it (legend and caption): it is
#: then drawn on top of it, indistinguishable at the plot's resolution.
COINCIDE_FRACTION = 0.01
MARKERS = ("o", "s", "^", "D", "v", "P")


def coincides(results: dict, curve: Curve) -> bool:
    """Whether the dashed ``curve`` lies on its base curve (:data:`COINCIDE_FRACTION`)."""
    if curve.base is None or curve.base not in results:
        return False
    for metric in METRICS:
        a = mean_se(results[curve.config][metric])[0]
        b = mean_se(results[curve.base][metric])[0]
        span = float(np.ptp(b)) if np.isfinite(b).all() else np.nan
        if not np.isfinite(span) or not np.all(
                np.abs(a - b) <= COINCIDE_FRACTION * max(span, 1e-12)):
            return False
    return True


def _write_csv(path: Path, fig_id: str, results: dict, selected: set) -> None:
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["figure", "n_agents", "algorithm", "lambda", "K", "selected", "seeds",
                    "iteration", "poa_mean", "poa_se", "nash_gap_mean", "nash_gap_se"])
        for config in sorted(results, key=str):
            n, algo, lam, K = config
            poa_m, poa_s = mean_se(results[config]["poa"])
            gap_m, gap_s = mean_se(results[config]["nash_gap"])
            seeds = results[config]["poa"].shape[0]
            for t in range(len(poa_m)):
                w.writerow([fig_id, n, algo, lam, K, int(config in selected), seeds, t,
                            f"{poa_m[t]:.10g}", f"{poa_s[t]:.6g}", f"{gap_m[t]:.10g}",
                            f"{gap_s[t]:.6g}"])


def _plot(path: Path, title: str, caption: str, agents, results: dict,
          curves_by_n: dict) -> None:
    """Top row POA, bottom row Nash-gap, one column per N. Dashed curves (regularized
    variants) carry hollow markers, staggered so that one lying on a solid curve stays
    visible; the legend says which coincide, and the caption explains both."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(2, len(agents), figsize=(4.6 * len(agents), 7.4),
                             squeeze=False)
    any_dashed = any_same = False
    for col, n in enumerate(agents):
        dashed_k = 0
        for curve in curves_by_n[n]:
            same = curve.dashed and coincides(results, curve)
            label = curve.label + (" = solid" if same else "")
            style = dict(color=curve.color, ls="-", lw=1.4)
            if curve.dashed:
                any_dashed, any_same = True, any_same or same
                style.update(ls="--", lw=1.2, marker=MARKERS[dashed_k % len(MARKERS)],
                             mfc="none", ms=5)
                dashed_k += 1
            for row, metric in enumerate(METRICS):
                m, s = mean_se(results[curve.config][metric])
                t = np.arange(len(m))
                if curve.dashed:
                    step = max(1, len(m) // 8)
                    style["markevery"] = (min(len(m) - 1, (dashed_k * step) // 4), step)
                ax = axes[row, col]
                ax.plot(t, m, label=label, **style)
                ax.fill_between(t, m - s, m + s, color=curve.color, alpha=0.15, lw=0)
        axes[0, col].set_title(f"N = {n}")
        axes[0, col].set_ylabel("POA")
        axes[1, col].set_ylabel("Nash-gap")
        axes[1, col].set_xlabel("iteration")
        axes[0, col].legend(fontsize=7, loc="best")
        for ax in axes[:, col]:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if any_dashed:
        caption += (" Dashed with hollow markers: the regularized variant" +
                    ("; '= solid' marks one that coincides with its solid curve (the means "
                     f"differ by less than {COINCIDE_FRACTION:.0%} of that curve's range at "
                     "every iteration), drawn on top of it." if any_same else "."))
    fig.suptitle(title, fontsize=11)
    fig.text(0.5, 0.005, caption, ha="center", va="bottom", fontsize=7, wrap=True)
    fig.tight_layout(rect=(0, 0.07, 1, 0.96))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _write_outputs(out: Path, fig_id: str, title: str, caption: str, notes: str, agents,
                   results: dict, curves_by_n: dict, png_only: bool = False) -> list[Path]:
    out = Path(out)
    png, csv_path, txt = out / f"{fig_id}.png", out / f"{fig_id}.csv", out / f"{fig_id}.txt"
    _plot(png, title, caption, agents, results, curves_by_n)
    if png_only:
        return [png]
    selected = {c.config for curves in curves_by_n.values() for c in curves}
    _write_csv(csv_path, fig_id, results, selected)
    txt.write_text(notes)
    return [png, csv_path, txt]


def _settings(quick: bool, seeds: int | None, default_seeds: int, workers: int | None):
    """``(agents, iters, seeds, workers)`` of a full or a quick run (quick: in-process
    unless ``workers`` says otherwise)."""
    if quick:
        return (QUICK["agents"], QUICK["iters"], seeds or QUICK["seeds"],
                1 if workers is None else workers)
    return AGENTS, ITERS, seeds or default_seeds, workers


def _title(text: str, n_seeds: int, quick: bool) -> str:
    """A figure title: ``text, n seeds``, or for a quick run the QUICK label."""
    return f"{text} -- {quick_label(n_seeds)}" if quick else f"{text}, {n_seeds} seeds"


def announce(fig_id: str, jobs, workers: int | None, progress: bool, checkpoint=None,
             note: str = "") -> None:
    """Print, before any run, how many runs ``fig_id`` has left (those not in
    ``checkpoint``) and their expected duration (:func:`estimate_seconds`)."""
    if not progress:
        return
    todo = [j for j in set(jobs) if checkpoint is None or job_key(j) not in checkpoint.results]
    warm_up(todo)
    w = effective_workers(workers, len(todo))
    say(f"{fig_id}: {len(todo)} runs on {w} process{'es' if w > 1 else ''}, expected about "
        f"{format_duration(estimate_seconds(todo, w))} (a cost model calibrated by a probe "
        f"run on this machine as loaded now{note})")


def _missing_note(best_lam: dict, labels: dict) -> str:
    """Caption text naming the barrier curves left out because every lambda diverged."""
    gone = [f"{labels[a]} at N={n}" for (n, a), lam in sorted(best_lam.items(), key=str)
            if lam is None]
    return (f" No dashed curve for {', '.join(gone)}: every lambda diverged in some seed."
            if gone else "")


def _final_table(results: dict, configs) -> str:
    rows = []
    for c in configs:
        if diverged(results, c):
            rows.append(f"  N={c[0]} {c[1]:8s} lambda={c[2]:<6g} K={c[3]:<3d} DIVERGED in "
                        f"{diverged(results, c)} of {results[c]['poa'].shape[0]} seeds "
                        f"(non-finite logits)")
            continue
        poa, gap = results[c]["poa"][:, -1], results[c]["nash_gap"][:, -1]
        rows.append(f"  N={c[0]} {c[1]:8s} lambda={c[2]:<6g} K={c[3]:<3d} final POA "
                    f"{poa.mean():.4f} +- {mean_se(results[c]['poa'])[1][-1]:.4f}  "
                    f"Nash-gap {gap.mean():.2e}")
    return "\n".join(rows)


# -- the grids ------------------------------------------------------------------------------
def tabular_jobs(agents, seeds: int, iters: int):
    """Every run of Figure 1's grid: PG and NPG with lambda in {0} + LAMBDAS, NPG-BR with
    K in KS (the NPG-BR + barrier runs depend on the best K: :func:`npg_br_barrier_jobs`)."""
    jobs = []
    for n in agents:
        for seed in range(seeds):
            for algo in ("pg", "npg"):
                jobs += [Job(n, seed, algo, lam, 0, iters) for lam in (0.0,) + LAMBDAS]
            jobs += [Job(n, seed, "npg-br", 0.0, K, iters) for K in KS]
    return jobs


def npg_br_barrier_jobs(agents, seeds: int, iters: int, best_k: dict):
    return [Job(n, seed, "npg-br", lam, best_k[n], iters) for n in agents
            for seed in range(seeds) for lam in LAMBDAS]


def tabular_grid(agents, seeds: int, iters: int, *, workers=None, progress=True,
                 checkpoint=None, fig_id: str = "mpg-fig1"):
    """All runs of Figure 1 and the selections: returns (results, best_k, best_lambda)."""
    jobs = tabular_jobs(agents, seeds, iters)
    guess_k = {n: KS[len(KS) // 2] for n in agents}
    announce(fig_id, jobs + npg_br_barrier_jobs(agents, seeds, iters, guess_k), workers,
             progress, checkpoint, note=f"; the NPG-BR + barrier runs counted at "
                                        f"K = {KS[len(KS) // 2]}")
    results = run_jobs(jobs, workers=workers, progress=progress,
                       desc=f"{fig_id}: tabular grid", checkpoint=checkpoint)
    best_k = {n: best_inner_steps(results, n) for n in agents}
    results.update(run_jobs(npg_br_barrier_jobs(agents, seeds, iters, best_k),
                            workers=workers, progress=progress,
                            desc=f"{fig_id}: NPG-BR + barrier at the best K",
                            checkpoint=checkpoint))
    best_lam = {}
    for n in agents:
        for algo in ("pg", "npg"):
            best_lam[n, algo] = best_lambda(results, n, algo)
        best_lam[n, "npg-br"] = best_lambda(results, n, "npg-br", best_k[n])
    return results, best_k, best_lam


COLORS = {"pg": "tab:blue", "npg": "tab:orange", "npg-br": "tab:green",
          "nn-pg": "tab:red", "nn-adam": "tab:purple"}


@figure("mpg-fig1", paper="002 Figure 1",
        description="POA and Nash-gap of softmax PG, NPG, NPG-BR (best K), each with its "
                    "best log-barrier lambda, N = 2, 3, 5")
def make_fig1(out, *, seeds=None, quick=False, progress=True, workers=None,
              checkpoint=None) -> list[Path]:
    """Run Figure 1's grid and write its PNG, CSV and notes."""
    agents, iters, n_seeds, w = _settings(quick, seeds, SEEDS_TABULAR, workers)
    results, _, _ = tabular_grid(agents, n_seeds, iters, workers=w, progress=progress,
                                 checkpoint=checkpoint)
    return draw_fig1(out, results, agents, n_seeds, iters, quick)


def draw_fig1(out, results, agents, n_seeds, iters, quick=False, png_only=False):
    """Figure 1 from the grid's ``results`` (the selections are made here)."""
    best_k = {n: best_inner_steps(results, n) for n in agents}
    best_lam = {}
    for n in agents:
        for algo in ("pg", "npg"):
            best_lam[n, algo] = best_lambda(results, n, algo)
        best_lam[n, "npg-br"] = best_lambda(results, n, "npg-br", best_k[n])
    curves = {}
    for n in agents:
        K = best_k[n]
        curves[n] = []
        for algo, label, k in (("pg", "PG", 0), ("npg", "NPG", 0),
                               ("npg-br", f"NPG-BR (K={K})", K)):
            curves[n].append(Curve((n, algo, 0.0, k), label, COLORS[algo]))
            curves[n] += _barrier_curve(n, algo, best_lam[n, algo], k, label, COLORS[algo])
    selected = [c.config for n in agents for c in curves[n]]
    notes = (f"{__doc__}\nRun: agents {agents}, {n_seeds} seeds, {iters} iterations.\n"
             f"The paper (Sec. 5.1): NPG converges fastest, NPG-BR second, PG slowest; "
             f"best K = 50 for N=2 and 5 for N=3, 5; final POA NPG > NPG-BR > PG.\n"
             f"Best K (NPG-BR) per N: {best_k}\nBest lambda per (N, algorithm): {best_lam}\n"
             f"(None: every lambda diverged in some seed, no dashed curve)\n"
             f"Final values of the plotted curves:\n{_final_table(results, selected)}\n"
             f"All runs of the grid:\n{_final_table(results, sorted(results, key=str))}\n")
    caption = SETTINGS_NOTE + _missing_note(best_lam, {"pg": "PG", "npg": "NPG",
                                                       "npg-br": "NPG-BR"})
    return _write_outputs(out, "mpg-fig1",
                          _title("002 Fig. 1: tabular softmax (mean +- s.e.)", n_seeds, quick),
                          caption, notes, agents, results, curves, png_only)


@figure("mpg-fig4", paper="002 Figure 4",
        description="POA and Nash-gap of tabular softmax PG for every log-barrier lambda")
def make_fig4(out, *, seeds=None, quick=False, progress=True, workers=None,
              checkpoint=None) -> list[Path]:
    """Run Figure 4's runs and write its PNG, CSV and notes."""
    agents, iters, n_seeds, w = _settings(quick, seeds, SEEDS_TABULAR, workers)
    jobs = [Job(n, seed, "pg", lam, 0, iters) for n in agents for seed in range(n_seeds)
            for lam in (0.0,) + LAMBDAS]
    announce("mpg-fig4", jobs, w, progress, checkpoint)
    results = run_jobs(jobs, workers=w, progress=progress, desc="mpg-fig4",
                       checkpoint=checkpoint)
    return draw_fig4(out, results, agents, n_seeds, iters, quick)


def draw_fig4(out, results, agents, n_seeds, iters, quick=False, png_only=False):
    """Figure 4 from its ``results``."""
    cmap = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]
    curves = {n: [Curve((n, "pg", lam, 0), "PG" if lam == 0 else f"lambda={lam:g}",
                        cmap[k], lam != 0, base=None if lam == 0 else (n, "pg", 0.0, 0))
                  for k, lam in enumerate((0.0,) + LAMBDAS)]
              for n in agents}
    configs = [c.config for n in agents for c in curves[n]]
    notes = (f"{__doc__}\nRun: agents {agents}, {n_seeds} seeds, {iters} iterations.\n"
             f"{_final_table(results, configs)}\n")
    return _write_outputs(out, "mpg-fig4",
                          _title("002 Fig. 4: softmax PG with log barrier lambda", n_seeds,
                                 quick),
                          SETTINGS_NOTE, notes, agents, results, curves, png_only)


@figure("mpg-k-grid", paper="002 Section 5.1 / App. H.1",
        description="POA and Nash-gap of NPG-BR for every K in {1, 5, 10, 20, 50}")
def make_k_grid(out, *, seeds=None, quick=False, progress=True, workers=None,
                checkpoint=None) -> list[Path]:
    """Run the NPG-BR K grid and write its PNG, CSV and notes."""
    agents, iters, n_seeds, w = _settings(quick, seeds, SEEDS_TABULAR, workers)
    jobs = [Job(n, seed, "npg-br", 0.0, K, iters) for n in agents for seed in range(n_seeds)
            for K in KS]
    announce("mpg-k-grid", jobs, w, progress, checkpoint)
    results = run_jobs(jobs, workers=w, progress=progress, desc="mpg-k-grid",
                       checkpoint=checkpoint)
    return draw_k_grid(out, results, agents, n_seeds, iters, quick)


def draw_k_grid(out, results, agents, n_seeds, iters, quick=False, png_only=False):
    """The K grid figure from its ``results``."""
    cmap = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"]
    best_k = {n: best_inner_steps(results, n) for n in agents}
    curves = {n: [Curve((n, "npg-br", 0.0, K), f"K={K}" + (" (best)" if K == best_k[n] else ""),
                        cmap[k]) for k, K in enumerate(KS)] for n in agents}
    configs = [c.config for n in agents for c in curves[n]]
    notes = (f"{__doc__}\nRun: agents {agents}, {n_seeds} seeds, {iters} iterations.\n"
             f"Best K per N (highest mean final POA): {best_k}; the paper: K=50 for N=2, "
             f"K=5 for N=3, 5.\n{_final_table(results, configs)}\n")
    return _write_outputs(out, "mpg-k-grid",
                          _title(f"002 NPG-BR K grid (inner step {NPG_BR_LR}); best K "
                                 f"{best_k}", n_seeds, quick), SETTINGS_NOTE, notes, agents,
                          results, curves, png_only)


@figure("mpg-fig2", paper="002 Figure 2",
        description="POA and Nash-gap of NN-PG and NN-Adam (each with its best log-barrier "
                    "lambda) against tabular softmax PG and NPG")
def make_fig2(out, *, seeds=None, quick=False, progress=True, workers=None,
              checkpoint=None) -> list[Path]:
    """Run Figure 2's runs and write its PNG, CSV and notes."""
    agents, iters, n_seeds, w = _settings(quick, seeds, SEEDS_NN, workers)
    jobs = [Job(n, seed, algo, lam, 0, iters) for n in agents for seed in range(n_seeds)
            for algo in ("nn-pg", "nn-adam") for lam in (0.0,) + LAMBDAS]
    jobs += [Job(n, seed, algo, 0.0, 0, iters) for n in agents for seed in range(n_seeds)
             for algo in ("pg", "npg")]
    announce("mpg-fig2", jobs, w, progress, checkpoint)
    results = run_jobs(jobs, workers=w, progress=progress, desc="mpg-fig2",
                       checkpoint=checkpoint)
    return draw_fig2(out, results, agents, n_seeds, iters, quick)


def draw_fig2(out, results, agents, n_seeds, iters, quick=False, png_only=False):
    """Figure 2 from its ``results`` (the lambda selection is made here)."""
    best_lam = {(n, a): best_lambda(results, n, a) for n in agents
                for a in ("nn-pg", "nn-adam")}
    curves = {}
    for n in agents:
        curves[n] = [Curve((n, "pg", 0.0, 0), "Softmax-PG", COLORS["pg"]),
                     Curve((n, "npg", 0.0, 0), "Softmax-NPG", COLORS["npg"])]
        for a, label in (("nn-pg", "NN-PG"), ("nn-adam", "NN-Adam")):
            curves[n].append(Curve((n, a, 0.0, 0), label, COLORS[a]))
            curves[n] += _barrier_curve(n, a, best_lam[n, a], 0, label, COLORS[a])
    configs = [c.config for n in agents for c in curves[n]]
    notes = (f"{__doc__}\nRun: agents {agents}, {n_seeds} seeds, {iters} iterations.\n"
             f"The paper (Sec. 5.2): NN-PG beats Softmax-PG in speed and POA and Softmax-NPG "
             f"early on, Softmax-NPG ends highest; the barrier helps NN markedly (N=5); "
             f"NN-PG best for small N, regularized NN-Adam for large N but still below "
             f"Softmax-NPG at N=5.\nBest lambda per (N, optimizer): {best_lam}\n"
             f"{_final_table(results, configs)}\n"
             f"All runs:\n{_final_table(results, sorted(results, key=str))}\n")
    caption = SETTINGS_NOTE + _missing_note(best_lam, {"nn-pg": "NN-PG",
                                                       "nn-adam": "NN-Adam"})
    return _write_outputs(out, "mpg-fig2",
                          _title("002 Fig. 2: NN parameterization (ReLU, PyTorch init)",
                                 n_seeds, quick), caption, notes, agents, results,
                          curves, png_only)


_DRAW = {"mpg-fig1": draw_fig1, "mpg-fig4": draw_fig4, "mpg-k-grid": draw_k_grid,
         "mpg-fig2": draw_fig2}


def redraw(fig_id: str, out="figures") -> Path:
    """Redraw ``<out>/<fig_id>.png`` from its CSV, without running anything (seconds, not
    minutes): after a change to the plotting only. The CSV keeps each curve's mean and
    standard error, which is all the plot and the selections use; returns the PNG path.
    """
    if fig_id not in _DRAW:
        raise ValueError(f"fig_id must be one of {sorted(_DRAW)}, got {fig_id!r}")
    out = Path(out)
    with open(out / f"{fig_id}.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    if not rows:
        raise ValueError(f"{out / f'{fig_id}.csv'} has no rows")
    curves: dict = {}
    for r in rows:
        config = (int(r["n_agents"]), r["algorithm"], float(r["lambda"]), int(r["K"]))
        for metric in METRICS:
            m, se = float(r[f"{metric}_mean"]), float(r[f"{metric}_se"])
            curves.setdefault(config, {}).setdefault(metric, []).append((m, se))
    # two pseudo-seeds m -+ se have mean m and standard error se (ddof = 1)
    results = {c: {k: np.array([[m - s for m, s in v], [m + s for m, s in v]])
                   for k, v in per.items()} for c, per in curves.items()}
    agents = tuple(sorted({c[0] for c in results}))
    n_seeds = int(rows[0]["seeds"])
    iters = max(int(r["iteration"]) for r in rows)
    quick = (agents, iters) == (tuple(QUICK["agents"]), QUICK["iters"])
    return _DRAW[fig_id](out, results, agents, n_seeds, iters, quick, png_only=True)[0]
