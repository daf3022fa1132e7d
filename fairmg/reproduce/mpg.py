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
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from multiprocessing import get_all_start_methods, get_context
from pathlib import Path

import numpy as np
from tqdm.auto import tqdm

from . import figure

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
        """Rough relative cost, to start the longest runs first."""
        per_iter = 2.0 ** self.n_agents
        if self.algo == "npg-br":
            per_iter *= 1 + 0.2 * self.K * self.n_agents
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


def _job_curves(job: Job) -> dict[str, np.ndarray]:
    import fairmg as fm

    g = fm.games.coordination(n_agents=job.n_agents, eps=EPS, gamma=GAMMA)
    theta0 = initial_logits(job.n_agents, job.seed)
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


def limit_blas_threads(n: int = 1) -> list[str]:
    """Best effort: set every OpenBLAS loaded in this process to ``n`` threads (as
    threadpoolctl does). On the tiny linear systems here a threaded OpenBLAS only spins,
    and on a busy machine that costs 10-100x per call. Returns the libraries set."""
    import ctypes
    import re

    try:
        with open("/proc/self/maps") as fh:
            paths = sorted(set(re.findall(r"/\S*openblas\S*\.so\S*", fh.read())))
    except OSError:
        return []
    done = []
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for symbol in ("openblas_set_num_threads", "scipy_openblas_set_num_threads64_",
                       "scipy_openblas_set_num_threads", "openblas_set_num_threads64_"):
            setter = getattr(lib, symbol, None)
            if setter is not None:
                setter(int(n))
                done.append(path)
                break
    return done


def _worker_init() -> None:
    limit_blas_threads(1)


def _pool(workers: int) -> ProcessPoolExecutor:
    """Worker processes, forked where the platform can (no re-import, no ``__main__``
    guard needed), each with one BLAS thread."""
    methods = get_all_start_methods()
    ctx = get_context("fork" if "fork" in methods else "spawn")
    return ProcessPoolExecutor(workers, mp_context=ctx, initializer=_worker_init)


def run_jobs(jobs, *, workers: int | None = None, progress: bool = True, desc: str = "runs"):
    """Run ``jobs`` (in ``workers`` processes; 1: in this process).

    Returns ``{config: {metric: array (seeds, iters + 1)}}`` with seeds in order.
    """
    jobs = sorted(set(jobs), key=lambda j: -j.cost)
    workers = (os.cpu_count() or 1) if workers is None else int(workers)
    results: dict = {}
    if workers <= 1 or len(jobs) <= 1:
        with tqdm(total=len(jobs), desc=desc, disable=not progress) as bar:
            for job in jobs:
                results[job] = run_job(job)[1]
                bar.update()
    else:
        with _pool(workers) as pool:
            futures = [pool.submit(run_job, j) for j in jobs]
            with tqdm(total=len(jobs), desc=desc, disable=not progress) as bar:
                for fut in as_completed(futures):
                    job, curves = fut.result()
                    results[job] = curves
                    bar.update()
    out: dict = {}
    for job in sorted(results, key=lambda j: j.seed):
        for k, v in results[job].items():
            out.setdefault(job.config, {}).setdefault(k, []).append(v)
    return {c: {k: np.array(v) for k, v in m.items()} for c, m in out.items()}


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
    return [Curve((n, algo, lam, K), f"{label} + barrier (lambda={lam:g})", color, True)]


# -- plotting and CSV -----------------------------------------------------------------------
@dataclass(frozen=True)
class Curve:
    config: tuple
    label: str
    color: str
    dashed: bool = False


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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(2, len(agents), figsize=(4.6 * len(agents), 7.2),
                             squeeze=False)
    for col, n in enumerate(agents):
        for curve in curves_by_n[n]:
            for row, metric in enumerate(METRICS):
                m, s = mean_se(results[curve.config][metric])
                t = np.arange(len(m))
                ax = axes[row, col]
                ax.plot(t, m, color=curve.color, ls="--" if curve.dashed else "-", lw=1.4,
                        label=curve.label)
                ax.fill_between(t, m - s, m + s, color=curve.color, alpha=0.15, lw=0)
        axes[0, col].set_title(f"N = {n}")
        axes[0, col].set_ylabel("POA")
        axes[1, col].set_ylabel("Nash-gap")
        axes[1, col].set_xlabel("iteration")
        axes[0, col].legend(fontsize=7, loc="best")
    fig.suptitle(title, fontsize=11)
    fig.text(0.5, 0.005, caption, ha="center", va="bottom", fontsize=7, wrap=True)
    fig.tight_layout(rect=(0, 0.06, 1, 0.96))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def _write_outputs(out: Path, fig_id: str, title: str, caption: str, notes: str, agents,
                   results: dict, curves_by_n: dict) -> list[Path]:
    png, csv_path, txt = out / f"{fig_id}.png", out / f"{fig_id}.csv", out / f"{fig_id}.txt"
    _plot(png, title, caption, agents, results, curves_by_n)
    selected = {c.config for curves in curves_by_n.values() for c in curves}
    _write_csv(csv_path, fig_id, results, selected)
    txt.write_text(notes)
    return [png, csv_path, txt]


def _settings(quick: bool, seeds: int | None, default_seeds: int):
    if quick:
        return QUICK["agents"], QUICK["iters"], seeds or QUICK["seeds"], 1
    return AGENTS, ITERS, seeds or default_seeds, None


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


def tabular_grid(agents, seeds: int, iters: int, *, workers=None, progress=True):
    """All runs of Figure 1 and the selections: returns (results, best_k, best_lambda)."""
    results = run_jobs(tabular_jobs(agents, seeds, iters), workers=workers,
                       progress=progress, desc="mpg tabular grid")
    best_k = {n: best_inner_steps(results, n) for n in agents}
    results.update(run_jobs(npg_br_barrier_jobs(agents, seeds, iters, best_k),
                            workers=workers, progress=progress,
                            desc="mpg NPG-BR + barrier"))
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
def make_fig1(out, *, seeds=None, quick=False, progress=True, workers=None) -> list[Path]:
    agents, iters, n_seeds, w = _settings(quick, seeds, SEEDS_TABULAR)
    results, best_k, best_lam = tabular_grid(agents, n_seeds, iters,
                                             workers=w if workers is None else workers,
                                             progress=progress)
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
    return _write_outputs(out, "mpg-fig1",
                          f"002 Fig. 1: tabular softmax, {n_seeds} seeds (mean +- s.e.)",
                          SETTINGS_NOTE, notes, agents, results, curves)


@figure("mpg-fig4", paper="002 Figure 4",
        description="POA and Nash-gap of tabular softmax PG for every log-barrier lambda")
def make_fig4(out, *, seeds=None, quick=False, progress=True, workers=None) -> list[Path]:
    agents, iters, n_seeds, w = _settings(quick, seeds, SEEDS_TABULAR)
    jobs = [Job(n, seed, "pg", lam, 0, iters) for n in agents for seed in range(n_seeds)
            for lam in (0.0,) + LAMBDAS]
    results = run_jobs(jobs, workers=w if workers is None else workers, progress=progress,
                       desc="mpg-fig4")
    cmap = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple", "tab:brown"]
    curves = {n: [Curve((n, "pg", lam, 0), "PG" if lam == 0 else f"lambda={lam:g}",
                        cmap[k], lam != 0) for k, lam in enumerate((0.0,) + LAMBDAS)]
              for n in agents}
    configs = [c.config for n in agents for c in curves[n]]
    notes = (f"{__doc__}\nRun: agents {agents}, {n_seeds} seeds, {iters} iterations.\n"
             f"{_final_table(results, configs)}\n")
    return _write_outputs(out, "mpg-fig4",
                          f"002 Fig. 4: softmax PG with log barrier lambda, {n_seeds} seeds",
                          SETTINGS_NOTE, notes, agents, results, curves)


@figure("mpg-k-grid", paper="002 Section 5.1 / App. H.1",
        description="POA and Nash-gap of NPG-BR for every K in {1, 5, 10, 20, 50}")
def make_k_grid(out, *, seeds=None, quick=False, progress=True, workers=None) -> list[Path]:
    agents, iters, n_seeds, w = _settings(quick, seeds, SEEDS_TABULAR)
    jobs = [Job(n, seed, "npg-br", 0.0, K, iters) for n in agents for seed in range(n_seeds)
            for K in KS]
    results = run_jobs(jobs, workers=w if workers is None else workers, progress=progress,
                       desc="mpg-k-grid")
    cmap = ["tab:blue", "tab:orange", "tab:green", "tab:red", "tab:purple"]
    best_k = {n: best_inner_steps(results, n) for n in agents}
    curves = {n: [Curve((n, "npg-br", 0.0, K), f"K={K}" + (" (best)" if K == best_k[n] else ""),
                        cmap[k]) for k, K in enumerate(KS)] for n in agents}
    configs = [c.config for n in agents for c in curves[n]]
    notes = (f"{__doc__}\nRun: agents {agents}, {n_seeds} seeds, {iters} iterations.\n"
             f"Best K per N (highest mean final POA): {best_k}; the paper: K=50 for N=2, "
             f"K=5 for N=3, 5.\n{_final_table(results, configs)}\n")
    return _write_outputs(out, "mpg-k-grid",
                          f"002 NPG-BR K grid (inner step {NPG_BR_LR}), {n_seeds} seeds; "
                          f"best K {best_k}", SETTINGS_NOTE, notes, agents, results, curves)


@figure("mpg-fig2", paper="002 Figure 2",
        description="POA and Nash-gap of NN-PG and NN-Adam (each with its best log-barrier "
                    "lambda) against tabular softmax PG and NPG")
def make_fig2(out, *, seeds=None, quick=False, progress=True, workers=None) -> list[Path]:
    agents, iters, n_seeds, w = _settings(quick, seeds, SEEDS_NN)
    jobs = [Job(n, seed, algo, lam, 0, iters) for n in agents for seed in range(n_seeds)
            for algo in ("nn-pg", "nn-adam") for lam in (0.0,) + LAMBDAS]
    jobs += [Job(n, seed, algo, 0.0, 0, iters) for n in agents for seed in range(n_seeds)
             for algo in ("pg", "npg")]
    results = run_jobs(jobs, workers=w if workers is None else workers, progress=progress,
                       desc="mpg-fig2")
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
             f"Softmax-NPG at N=5.\nBest lambda per (N, optimizer): {best_lam}\n{_final_table(results, configs)}\n"
             f"All runs:\n{_final_table(results, sorted(results, key=str))}\n")
    return _write_outputs(out, "mpg-fig2",
                          f"002 Fig. 2: NN parameterization (ReLU, PyTorch init), "
                          f"{n_seeds} seeds", SETTINGS_NOTE, notes, agents, results, curves)
