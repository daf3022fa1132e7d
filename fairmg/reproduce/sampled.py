r"""``sampled-vs-exact``: the papers' algorithms run exactly and on samples, side by side.

On the cleaning commons of ``fair-hatrl`` (:func:`fairmg.games.commons`, 2 agents, the
CleanUp dilemma), four algorithms run from the same initial logits and agent orders:

* HATRPO ([31]; 000 Sec. 4.1 with alpha = None), HAPPO ([31]; 000 Sec. 4.2), FHAPPO at
  alpha = 1 (000 Alg. 3), Anticipation Sharing (004 Alg. 1, eq. (16));
* **exact**: the exact engine (:mod:`fairmg.dynamics.trust_region`,
  :mod:`fairmg.dynamics.anticipation`): exact expectations and advantages;
* **sampled**: :func:`fairmg.sampled.train` / :func:`fairmg.sampled.anticipation_sampler`
  with B episodes per iteration (B in :data:`BATCHES`), tabular critics refit every
  iteration, GAE(0.9, 0.95), discounted sample weights; the curves are the *exact* values
  of each sampled iterate.

The figure shows, per algorithm, the exact curve beside the sampled ones (mean +- s.e. over
seeds) of the objective the algorithm improves (welfare for HATRPO/HAPPO/AS, the alpha = 1
fair objective for FHAPPO), and a table of how often an iteration *decreased* it (the
papers' monotone-improvement statements are for exact expectations; with samples they need
not survive, and this says where they do).

Settings (the same on both sides): HATRPO delta 0.01, 15 CG steps, damping 0.1, accept
ratio 0.1, backtracking 0.8 x 10; HAPPO/FHAPPO clip 0.05, Adam lr 0.05 (Table 5's 5e-4 x
``fair_hatrl.HAPPO_LR_SCALE``), 5 epochs; AS rho 0.1, clip 0.2, 3 epochs, lr 1 (plain
gradient ascent, as the exact AS). nu = 0.1. Seed k: logits N(0, 1) from
``default_rng(k)``, orders and rollouts from ``seed=k``.
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import figure, quick_label
from ._executor import run_grid
from .fair_hatrl import HAPPO_LR_SCALE, NU, game, initial_logits, mean_se

__all__ = ["Job", "run_job", "BATCHES", "METHODS", "objective_of", "decrease_fraction"]

METHODS = ("hatrpo", "happo", "fhappo", "as")
#: Episodes per iteration of the sampled runs (0 = exact).
BATCHES = (16, 128, 1024)
QUICK_BATCHES = (16, 256)
FULL = dict(seeds=5, iters=60)
QUICK = dict(seeds=2, iters=8)
HATRPO_HP = dict(max_kl=0.01, cg_iters=15, damping=0.1, accept_ratio=0.1, backtrack=0.8,
                 ls_steps=10)
HAPPO_HP = dict(clip=0.05, lr=5e-4 * HAPPO_LR_SCALE, epochs=5)
AS_HP = dict(rho=0.1, clip=0.2, epochs=3, lr=1.0)
#: An iteration "decreased" the objective when it fell by more than this.
DECREASE_TOL = 1e-9
_LABEL = {"hatrpo": "HATRPO", "happo": "HAPPO", "fhappo": "1-FHAPPO",
          "as": "Anticipation Sharing"}


@dataclass(frozen=True)
class Job:
    """``method`` with B = ``batch`` episodes per iteration (0: exact), seed, iterations."""

    method: str
    batch: int
    seed: int
    iters: int

    @property
    def config(self) -> tuple:
        return (self.method, self.batch)

    @property
    def cost(self) -> float:
        return (2.0 + 0.004 * self.batch * (3 if self.method == "as" else 1)) * self.iters


def objective_of(method: str) -> str:
    """The metric each method improves: ``fair_objective`` for FHAPPO, else ``welfare``."""
    return "fair_objective" if method == "fhappo" else "welfare"


def run_job(job: Job) -> tuple[Job, dict[str, np.ndarray]]:
    """Curves ``welfare`` and ``objective`` (T + 1,) of one run."""
    from ..dynamics import anticipation as D
    from ..dynamics import trust_region as tr
    from ..dynamics.trust_region import fair_metrics
    from ..sampled import anticipation_sampler, train

    g = game()
    th = initial_logits(g, job.seed)
    alpha = 1.0 if job.method == "fhappo" else None
    if job.method == "as":
        sampler = (None if job.batch == 0 else
                   anticipation_sampler(g, n_envs=job.batch, seed=job.seed, lam=0.95))
        run = D.anticipation_sharing(g, th, iters=job.iters, seed=job.seed,
                                     sampler=sampler, **AS_HP)
        w = np.asarray(run.metrics["welfare"], float)
        return job, {"welfare": w, "objective": w}
    metrics = fair_metrics(alpha, NU)[:2]                     # fair_objective, welfare
    if job.batch == 0:
        if job.method == "hatrpo":
            hp = {("kl" if k == "max_kl" else k): v for k, v in HATRPO_HP.items()}
            run = tr.hatrpo(g, th, alpha, NU, iters=job.iters, seed=job.seed,
                            metrics=metrics, keep="last", **hp)
        else:
            run = tr.happo(g, th, alpha, NU, iters=job.iters, seed=job.seed,
                           metrics=metrics, keep="last", **HAPPO_HP)
    else:
        hp = HATRPO_HP if job.method == "hatrpo" else HAPPO_HP
        algo = "hatrpo" if job.method == "hatrpo" else "happo"
        run = train(g, algo, job.iters, n_envs=job.batch, seed=job.seed, alpha=alpha,
                    nu=NU, theta0=th, lam=0.95, metrics=metrics, keep="last", **hp)
    return job, {"welfare": np.asarray(run.metrics["welfare"], float),
                 "objective": np.asarray(run.metrics[objective_of(job.method)], float)}


def run_unit(unit):
    return [run_job(j) for j in unit]


def largest_decrease(curves: np.ndarray) -> float:
    """The largest fall of the objective in one iteration, over seeds (0 if none)."""
    d = np.diff(np.asarray(curves, float), axis=-1)
    return float(max(0.0, -d.min())) if d.size else 0.0


def decrease_fraction(curves: np.ndarray) -> float:
    """Fraction of iterations (over seeds) whose objective fell by > DECREASE_TOL."""
    d = np.diff(np.asarray(curves, float), axis=-1)
    return float(np.mean(d < -DECREASE_TOL))


def _plot(path, results, batches, seeds, iters, quick):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 4, figsize=(18, 4.8), constrained_layout=True)
    cmap = plt.get_cmap("viridis")
    colors = {b: cmap(0.15 + 0.7 * k / max(len(batches) - 1, 1))
              for k, b in enumerate(batches)}
    for ax, method in zip(axes, METHODS):
        for b in (0,) + tuple(batches):
            if (method, b) not in results:
                continue
            m, se = mean_se(results[(method, b)]["objective"])
            t = np.arange(len(m))
            style = dict(color="k", lw=2.4, label="exact") if b == 0 else dict(
                color=colors[b], lw=1.6, label=f"sampled, B = {b} episodes")
            ax.plot(t, m, **style)
            ax.fill_between(t, m - se, m + se, color=style["color"], alpha=0.18, lw=0)
        ax.set_title(_LABEL[method])
        ax.set_xlabel("iteration")
        ax.set_ylabel("fair objective J (alpha = 1)" if method == "fhappo"
                      else "welfare sum_i V_i(mu)")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8, loc="lower right")
    title = (f"Exact vs sampled learning on the cleaning commons (2 agents): exact value of "
             f"each iterate, mean +- s.e. over {seeds} seeds, {iters} iterations")
    if quick:
        title += f" -- {quick_label(seeds)}"
    fig.suptitle(title, fontsize=12)
    fig.savefig(path, dpi=110)
    plt.close(fig)


@figure("sampled-vs-exact", paper="000 Algs. 2-3, 004 Alg. 1 (sampled vs exact)",
        description="HATRPO, HAPPO, 1-FHAPPO and Anticipation Sharing exactly and on "
                    "samples at three batch sizes: exact value of each iterate, and how "
                    "often an iteration decreased the objective")
def make(out, *, seeds=None, quick=False, progress=True, workers=None,
         checkpoint=None) -> list[Path]:
    """Write ``sampled-vs-exact.png``, ``.csv`` and ``.md``."""
    out = Path(out)
    cfg = QUICK if quick else FULL
    seeds = cfg["seeds"] if seeds is None else int(seeds)
    iters = cfg["iters"]
    batches = QUICK_BATCHES if quick else BATCHES
    jobs = [Job(m, b, s, iters) for m in METHODS for b in (0,) + tuple(batches)
            for s in range(seeds)]
    if quick and workers is None:
        workers = 1
    results = run_grid(jobs, run_unit, workers=workers, progress=progress,
                       desc="sampled-vs-exact", checkpoint=checkpoint)
    png, csv_path, md = (out / f"sampled-vs-exact.{e}" for e in ("png", "csv", "md"))
    _plot(png, results, batches, seeds, iters, quick)
    rows = []
    for method in METHODS:
        for b in (0,) + tuple(batches):
            obj = results[(method, b)]["objective"]
            m, se = mean_se(obj[:, -1])
            rows.append((method, b, float(obj[:, 0].mean()), float(m), float(se),
                         decrease_fraction(obj), largest_decrease(obj)))
    with open(csv_path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["method", "batch_episodes(0=exact)", "objective_start",
                    "objective_final_mean", "objective_final_se", "fraction_decreasing",
                    "largest_decrease"])
        w.writerows(rows)
    lines = ["# sampled-vs-exact" + (f" ({quick_label(seeds)})" if quick else ""), "",
             f"Cleaning commons, 2 agents; {seeds} seeds, {iters} iterations; objective = "
             "welfare (fair objective at alpha = 1 for FHAPPO), exact value of each "
             "iterate.", "",
             "| method | B (episodes; 0 = exact) | start | final (mean +- s.e.) | "
             "iterations that decreased it | largest decrease |", "|---|---|---|---|---|---|"]
    for method, b, start, m, se, frac, drop in rows:
        lines.append(f"| {_LABEL[method]} | {b if b else 'exact'} | {start:.4f} | "
                     f"{m:.4f} +- {se:.4f} | {100 * frac:.1f}% | {drop:.2g} |")
    lines += ["", "Reading (from the rows above): an iteration 'decreased' the objective when "
              f"it fell by more than {DECREASE_TOL:g}. None of these algorithms carries a "
              "monotone-improvement guarantee for J itself (000's is for Algorithm 1's "
              "exact trust-region update; HATRPO's line search accepts surrogate "
              "improvements; PPO-style clipping and AS's penalties give none). Compare each "
              "sampled row with its exact row: the fraction and the size of the falls that "
              "sampling adds, per batch size."]
    md.write_text("\n".join(lines) + "\n")
    return [png, csv_path, md]
