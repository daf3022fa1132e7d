r"""The papers' environment experiments at laptop scale (issue 16): deep MARL on fairmg's
batched environments with :func:`fairmg.sampled.train_env`.

* ``fair-harvest``, ``fair-cleanup`` (000 Sec. 5, Figs. 1-2): HAPPO and HATRPO against
  FHAPPO and FHATRPO at alpha in {0.5, 1, 1.5} (nu = 0.1): total return (apples) and the
  Gini index of the agents' returns over training, mean +- s.e. over seeds.
* ``eld-matthew``, ``eld-jobs`` (001 Sec. 5, Table 2 analogue): IPPO and ELD-IPPO: the
  final efficiency (total return), MRE (tau = 0.1, relative band), CV, Gini, min and max
  per-agent return, mean +- s.e. over seeds; curves of return and MRE.

Budgets: ``default`` (the command's, minutes on 2 cores: small presets -- Harvest and
CleanUp at 004's sizes with 000's zap semantics (teleport, no reward cost: the fair weights
need rewards >= 0) -- few envs and iterations; every figure says so in its title) and ``full`` (the papers' sizes and step
counts, for a GPU or a cluster: ``fairmg reproduce fair-harvest --budget full
--scheduler ...``). Each run writes its own checkpoint (``<out>/<id>.runs/``) every
:data:`CHECKPOINT_EVERY` iterations, so an interrupted command resumes where it stopped;
finished runs are kept as for every figure (``<out>/<id>.partial.npz``).

Hyper-parameters: HAPPO clip 0.2 and Adam lr 5e-4 x 10 (networks see few samples here),
5 epochs; HATRPO HARL's (delta 0.01, CG 10, damping 0.1, accept 0.5); critics (64, 64)
tanh with ValueNorm, 5 epochs at 5e-4; GAE(0.99, 0.95); advantages normalised per batch
(HARL). ELD: tau 0.1, epsilon 0.05, eta 0.5, dual step every iteration (001 gives no
values; ours).
"""
from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import figure, quick_label
from ._executor import run_grid

__all__ = ["EXPERIMENTS", "BUDGETS", "Job", "run_job", "reading", "CHECKPOINT_EVERY"]

CHECKPOINT_EVERY = 5
ALPHAS = (None, 0.5, 1.0, 1.5)
ELD_CFG = dict(tau=0.1, eps=0.05, eta=0.5)
HP = {"happo": dict(clip=0.2, lr=5e-3, epochs=5), "hatrpo": dict(), "ippo":
      dict(clip=0.2, lr=5e-3, epochs=5)}

#: id -> (env name, paper, methods [(algorithm, alpha, eld)])
EXPERIMENTS = {
    "fair-harvest": ("harvest", "000 Sec. 5, Figs. 1-2",
                     [(a, al, False) for a in ("happo", "hatrpo") for al in ALPHAS]),
    "fair-cleanup": ("cleanup", "000 Sec. 5, Figs. 1-2",
                     [(a, al, False) for a in ("happo", "hatrpo") for al in ALPHAS]),
    "eld-matthew": ("matthew", "001 Sec. 5, Table 2",
                    [("ippo", None, False), ("ippo", None, True)]),
    "eld-jobs": ("job_scheduling", "001 Sec. 5, Table 2",
                 [("ippo", None, False), ("ippo", None, True)]),
}
#: 000's zap (SocialJax): teleport, no reward cost; the fair weights need rewards >= 0.
ZAP_000 = (("fire_cost", 0.0), ("hit_penalty", 0.0), ("teleport", True))
#: budget -> env name -> (preset, n_envs, iterations, seeds, overrides)
BUDGETS = {
    "quick": {"harvest": ("tiny", 2, 3, 1, ZAP_000), "cleanup": ("tiny", 2, 3, 1, ZAP_000),
              "matthew": ("tiny", 2, 3, 1, ()), "job_scheduling": ("tiny", 2, 3, 1, ())},
    "default": {"harvest": ("anticipation", 4, 40, 2, ZAP_000),
                "cleanup": ("anticipation", 4, 40, 2, ZAP_000),
                "matthew": ("eld", 4, 40, 2, ()), "job_scheduling": ("eld", 4, 40, 2, ())},
    "full": {"harvest": ("alpha_fair", 32, 2000, 5, ()),
             "cleanup": ("alpha_fair", 32, 2000, 5, ()),
             "matthew": ("eld", 32, 2000, 5, ()), "job_scheduling": ("eld", 32, 2000, 5, ())},
}


@dataclass(frozen=True)
class Job:
    """One training run."""

    experiment: str
    algorithm: str
    alpha: float | None
    eld: bool
    seed: int
    iters: int
    n_envs: int
    preset: str
    overrides: tuple
    ckdir: str

    @property
    def config(self) -> tuple:
        return (self.algorithm, self.alpha, self.eld)

    @property
    def cost(self) -> float:
        return float(self.iters * self.n_envs)


def label(algorithm, alpha, eld) -> str:
    if eld:
        return f"ELD-{algorithm.upper()}"
    base = algorithm.upper()
    return base if alpha is None else f"{alpha:g}-F{base}"


def run_job(job: Job):
    """Curves ``returns`` (iters, N) of one run (checkpointed in ``job.ckdir``)."""
    from .. import envs
    from ..sampled import train_env

    name = EXPERIMENTS[job.experiment][0]
    env = envs.make(name, n_envs=job.n_envs, preset=job.preset, **dict(job.overrides))
    path = Path(job.ckdir) / (f"{job.algorithm}-{job.alpha}-{int(job.eld)}-s{job.seed}"
                              f"-{job.preset}-{job.n_envs}.npz")
    path.parent.mkdir(parents=True, exist_ok=True)
    run = train_env(env, job.algorithm, job.iters, seed=job.seed, alpha=job.alpha,
                    eld=dict(ELD_CFG) if job.eld else None, checkpoint=path,
                    checkpoint_every=CHECKPOINT_EVERY, **HP[job.algorithm])
    out = {"returns": np.asarray(run.returns, float)}
    if run.eld is not None:
        out["lam"] = run.eld[:, 0]
    return job, out


def run_unit(unit):
    return [run_job(j) for j in unit]


def _stats(returns):
    """Per iteration: total, Gini, MRE (tau 0.1), CV, min, max of the agents' returns."""
    from ..fairness import cv, gini, mre
    R = np.maximum(np.asarray(returns, float), 0.0)
    total = R.sum(axis=-1)
    safe = np.where(R.sum(axis=-1, keepdims=True) > 0, R, 1e-12)
    return dict(total=total, gini=np.atleast_1d(gini(safe)), mre=np.atleast_1d(
        mre(safe, 0.1)), cv=np.atleast_1d(cv(safe)), min=R.min(axis=-1), max=R.max(axis=-1))


def _mean_se(a):
    a = np.asarray(a, float)
    if a.shape[0] < 2:
        return a.mean(axis=0), np.zeros(a.shape[1:])
    return a.mean(axis=0), a.std(axis=0, ddof=1) / np.sqrt(a.shape[0])


def _make(eid, out, seeds, quick, progress, workers, checkpoint, budget):
    env_name, paper, methods = EXPERIMENTS[eid]
    budget = "quick" if quick else budget
    if budget not in BUDGETS:
        raise ValueError(f"budget must be one of {sorted(BUDGETS)}, got {budget!r}")
    preset, n_envs, iters, n_seeds, overrides = BUDGETS[budget][env_name]
    seeds = n_seeds if seeds is None else int(seeds)
    out = Path(out)
    ckdir = str(out / f"{eid}.runs")
    jobs = [Job(eid, a, al, e, s, iters, n_envs, preset, overrides, ckdir)
            for a, al, e in methods for s in range(seeds)]
    if quick and workers is None:
        workers = 1
    results = run_grid(jobs, run_unit, workers=workers, progress=progress, desc=eid,
                       checkpoint=checkpoint)
    results = {c: results[c] for c in sorted(results, key=lambda c: (
        c[0], -1.0 if c[1] is None else c[1], c[2]))}
    stats = {c: {k: np.stack([_stats(r)[k] for r in results[c]["returns"]])
                 for k in ("total", "gini", "mre", "cv", "min", "max")} for c in results}
    png, csv_path, md = (out / f"{eid}.{e}" for e in ("png", "csv", "md"))
    _plot(png, eid, env_name, paper, stats, seeds, iters, n_envs, preset, budget)
    rows = []
    last = max(1, iters // 5)
    for c in results:
        row = [label(*c)]
        for k in ("total", "mre", "cv", "gini", "min", "max"):
            m, se = _mean_se(stats[c][k][:, -last:].mean(axis=1))
            row += [float(m), float(se)]
        rows.append(row)
    head = ["method"] + [f"{k}_{s}" for k in ("total", "mre", "cv", "gini", "min", "max")
                         for s in ("mean", "se")]
    with open(csv_path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(head)
        w.writerows(rows)
    lines = [f"# {eid}: {paper} on `{env_name}` (preset `{preset}`"
             + (f", with {dict(overrides)}" if overrides else "") + ")"
             + (f" ({quick_label(seeds)})" if budget == "quick" else
                f" (`{budget}` budget, not the papers' step counts)" if budget != "full"
                else ""), "",
             f"Budget `{budget}`: {n_envs} envs x {iters} iterations (one episode per env "
             f"per iteration), {seeds} seed(s). Final = mean of the last {last} "
             f"iterations' mean episode returns; mean +- s.e. over seeds.", "",
             "| method | total | MRE | CV | Gini | min | max |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        cells = [f"{r[1 + 2 * k]:.3g} +- {r[2 + 2 * k]:.2g}" for k in range(6)]
        lines.append(f"| {r[0]} | " + " | ".join(cells) + " |")
    summary = {c: {k: tuple(float(x) for x in _mean_se(stats[c][k][:, -last:].mean(axis=1)))
                   for k in stats[c]} for c in stats}
    lines += ["", "## Reading against the paper", ""] + reading(eid, summary, seeds)
    if budget != "full":
        lines += ["", "This budget is far below the papers' (millions of steps): the numbers "
                  "show the direction of each method's pressure, not the papers' final "
                  "values; `--budget full` runs their step counts."]
    md.write_text("\n".join(lines) + "\n")
    return [png, csv_path, md]


def _diff(a, b):
    """Mean and s.e. of a - b for independent (mean, s.e.) pairs."""
    return a[0] - b[0], float(np.hypot(a[1], b[1]))


def reading(eid, summary, seeds: int = 2) -> list[str]:
    """Markdown lines comparing the final values with the paper's text: each fair or ELD
    method against its own baseline (differences of seed means, +- s.e.; "clearly" means
    beyond 2 s.e.). ``summary[(algorithm, alpha, eld)][metric]`` is (mean, s.e.) over
    seeds, as in the CSV. With one seed there is no s.e. and the text says so."""
    out = [] if seeds > 1 else ["One seed: no standard errors (the +- 0 below are not "
                                "measured); run more seeds with --seeds.", ""]
    if eid.startswith("fair"):
        out.append("000 Sec. 5 (Figs. 1-2): FHATRPO and FHAPPO reach a lower Gini than "
                   "HATRPO and HAPPO at a slightly better (Harvest) or similar (CleanUp) "
                   "total, and a higher alpha gives a fairer outcome. Here, each alpha-fair "
                   "run minus its baseline:")
        out.append("")
        lower = clearly = kept = n = 0
        for alg in ("happo", "hatrpo"):
            base = summary.get((alg, None, False))
            if base is None:
                continue
            ginis = []
            for c in sorted((c for c in summary if c[0] == alg and c[1] is not None),
                            key=lambda c: c[1]):
                dg, sg = _diff(summary[c]["gini"], base["gini"])
                dt, st_ = _diff(summary[c]["total"], base["total"])
                out.append(f"- {label(*c)}: Gini {dg:+.3g} +- {sg:.2g}, total "
                           f"{dt:+.3g} +- {st_:.2g}")
                ginis.append(summary[c]["gini"][0])
                n += 1
                lower += dg < 0
                clearly += dg < -2 * sg
                kept += dt > -2 * st_
            if ginis:
                mono = all(b <= a for a, b in zip(ginis, ginis[1:]))
                out.append(f"- {alg.upper()}: Gini {'decreases' if mono else 'does not decrease'}"
                           f" with alpha ({', '.join(f'{g:.3g}' for g in ginis)})")
        out += ["", f"Gini below the baseline in {lower} of {n} fair runs ({clearly} by more "
                    f"than 2 s.e.); total not clearly below the baseline in {kept} of {n}."]
    else:
        base, eld = summary.get(("ippo", None, False)), summary.get(("ippo", None, True))
        out.append("001 Sec. 6: ELD variants reduced MRE by about 20% to 60% and lowered CV, "
                   "while maintaining or modestly improving the return and raising the "
                   "worst-case agent. Here, ELD-IPPO minus IPPO:")
        out.append("")
        if base is not None and eld is not None:
            for k, name in (("mre", "MRE"), ("cv", "CV"), ("total", "total"),
                            ("min", "min agent")):
                d, se = _diff(eld[k], base[k])
                ref = base[k][0]
                rel = f" ({100 * d / ref:+.0f}% of IPPO's)" if ref > 0 else ""
                out.append(f"- {name}: {d:+.3g} +- {se:.2g}{rel}")
    return out


#: Curves are shown as a rolling mean over this many iterations (000's figures: 100).
SMOOTH = 5


def _rolling(a, w):
    """Trailing rolling mean along the last axis (the first w - 1 points over fewer)."""
    c = np.cumsum(np.asarray(a, float), axis=-1)
    out = c.copy()
    out[..., w:] = c[..., w:] - c[..., :-w]
    n = np.minimum(np.arange(1, a.shape[-1] + 1), w)
    return out / n


def _style(c):
    """Colour by alpha (or ELD), line style by algorithm: a legend read at a glance."""
    alg, alpha, eld = c
    colours = {None: "black", 0.5: "tab:blue", 1.0: "tab:green", 1.5: "tab:red"}
    colour = "tab:red" if eld else colours.get(alpha, "tab:purple")
    return colour, ("--" if alg == "hatrpo" else "-")


def _plot(path, eid, env_name, paper, stats, seeds, iters, n_envs, preset, budget):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    keys = ("total", "gini") if eid.startswith("fair") else ("total", "mre")
    fig, axes = plt.subplots(1, 2, figsize=(13, 4.6), constrained_layout=True)
    w = max(1, min(SMOOTH, iters // 4))
    for c in stats:
        colour, ls = _style(c)
        for ax, key in zip(axes, keys):
            m, se = _mean_se(_rolling(stats[c][key], w))
            t = np.arange(1, len(m) + 1)
            ax.plot(t, m, color=colour, ls=ls, lw=1.8, label=label(*c))
            ax.fill_between(t, m - se, m + se, color=colour, alpha=0.12, lw=0)
    names = {"total": "total episode return (all agents)", "gini": "Gini of agents' returns",
             "mre": "MRE (tau = 0.1) of agents' returns"}
    from matplotlib.ticker import MaxNLocator
    for ax, key in zip(axes, keys):
        ax.set_xlabel("iteration")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(names[key] + (f", rolling mean of {w}" if w > 1 else ""))
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8, ncol=2, title=("colour: alpha; solid HAPPO, dashed HATRPO"
                                              if eid.startswith("fair") else None),
                   title_fontsize=8)
    title = (f"{eid}: {paper} on {env_name} ({preset}), {n_envs} envs x {iters} iterations, "
             f"mean +- s.e. over {seeds} seed(s)")
    if budget != "full":
        title += f" -- {budget.upper()} BUDGET, not the papers' step counts"
    fig.suptitle(title, fontsize=11)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _register(eid):
    env_name, paper, _ = EXPERIMENTS[eid]

    @figure(eid, paper=paper + " (laptop scale)",
            description=f"{eid} on the batched {env_name} environment with deep MARL "
                        f"(train_env); --budget full for the papers' step counts")
    def make(out, *, seeds=None, quick=False, progress=True, workers=None,
             checkpoint=None, budget="default"):
        return _make(eid, out, seeds, quick, progress, workers, checkpoint, budget)

    return make


for _eid in EXPERIMENTS:
    _register(_eid)
