r"""Figures 1, 5 and 6 of paper 003 (f-divergence iterations and the unary formulation).

``fdiv-fig1``: Fig. 1 (reward) and Fig. 5 (p, q) in one grid: KL-, TV-, chi^2- and
H-iteration (eq. 4) over the four initializations of Sec. 5.1 on the 2x2 game a=5, b=7,
c=6, d=4. ``fdiv-fig6``: the unary formulation (eq. 44, entropy) on cases 2 and 3 of
Appendix E.2.

The paper states no omega and no horizon for Fig. 1, and omega = 0.1 (no
initialization) for Fig. 6. The figure notes (in the PNG and as ``#`` lines at the top of
the CSV) say which values reproduce the text's description and which do not.
"""
from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from ..dynamics.fdiv import (alice_bob_game, alice_bob_policy, fdiv_iteration, tvpo_omega,
                             unary_iteration)
from . import figure, quick_label
from ._progress import run_units

__all__ = ["FIG1_GAME", "FIG1_INITS", "FIG6_CASES", "fig1_runs", "fig6_runs",
           "tv_threshold"]

#: Sec. 5.1: a, b, c, d.
FIG1_GAME = (5.0, 7.0, 6.0, 4.0)
#: Sec. 5.1: init_1..init_4 as (p_0, q_0).
FIG1_INITS = ((0.4, 0.8), (0.6, 0.6), (0.49, 0.76), (0.51, 0.74))
#: Appendix E.2: case 2 and case 3 as (a, b, c, d).
FIG6_CASES = {"case 2": (5.0, 6.0, 3.0, 5.0), "case 3": (7.0, 5.0, 4.0, 6.0)}
FIG1_DIVERGENCES = ("kl", "tv", "chi2", "hellinger")
#: omega used for the smooth divergences (the paper gives none; any omega > 0 gives the
#: text's outcome, only the speed changes).
FIG1_OMEGA = 1.0
#: TV weight that reproduces the text (below tv_threshold of every init).
FIG1_TV_OMEGA = 0.02
FIG6_OMEGAS = (0.1, 1.0)     # the paper's, and the one that gives its case-2 limit
FIG6_INIT = (0.5, 0.1)       # not stated in the paper


def tv_threshold(a, b, c, d, p, q) -> float:
    r"""The largest omega for which the TV-iteration moves at (p, q): the larger of the
    two agents' critic gaps :math:`|Q_A(0)-Q_A(1)| = |M(\hat q - q)|` and
    :math:`|Q_B(0)-Q_B(1)| = |M(\hat p - p)|` (a TV step moves mass only across a gap
    larger than omega; 003, proof of Prop. 1)."""
    gap_a = abs((b - d) + (a - b - c + d) * q)
    gap_b = abs((c - d) + (a - c - b + d) * p)
    return max(gap_a, gap_b)


def _pq(run) -> np.ndarray:
    return np.array([[pol.probs[0, 0, 0], pol.probs[1, 0, 0]] for pol in run.policies])


def fig1_runs(iters: int, progress: bool = False) -> list[dict]:
    """Every curve of Fig. 1/5: dicts with divergence, omega, init, p, q, reward.

    ``progress``: print the expected duration (from the first run), then one bar over
    the runs on a terminal, or one line when done elsewhere.
    """
    g = alice_bob_game(*FIG1_GAME)
    settings = [(d, FIG1_TV_OMEGA if d == "tv" else FIG1_OMEGA) for d in FIG1_DIVERGENCES]
    settings += [("tv", FIG1_OMEGA), ("tv", tvpo_omega(g))]
    units = [(k, init, div, om) for k, init in enumerate(FIG1_INITS) for div, om in settings]

    def one(unit):
        k, init, div, om = unit
        run = fdiv_iteration(g, alice_bob_policy(g, *init), div, om, iters,
                             metrics=("values",))
        pq = _pq(run)
        return dict(divergence=div, omega=om, init=k + 1, p=pq[:, 0], q=pq[:, 1],
                    reward=run.metrics["values"][:, 0])

    def warmup():  # one iteration of each setting: set-up of each divergence, untimed
        for div, om in settings:
            fdiv_iteration(g, alice_bob_policy(g, *FIG1_INITS[0]), div, om, 1, metrics=())

    return run_units("fdiv-fig1", units, one, enabled=progress, first=len(settings),
                     warmup=warmup if progress else None)


def fig6_runs(iters: int, progress: bool = False) -> list[dict]:
    """Every curve of Fig. 6: dicts with case, omega, p, q, reward (``progress`` as in
    :func:`fig1_runs`)."""
    units = [(case, abcd, om) for case, abcd in FIG6_CASES.items() for om in FIG6_OMEGAS]

    def one(unit):
        case, abcd, om = unit
        g = alice_bob_game(*abcd)
        run = unary_iteration(g, alice_bob_policy(g, *FIG6_INIT), "entropy", om, iters,
                              metrics=("values",))
        pq = _pq(run)
        return dict(case=case, omega=om, p=pq[:, 0], q=pq[:, 1],
                    reward=run.metrics["values"][:, 0])

    def warmup():
        g = alice_bob_game(*FIG6_CASES["case 2"])
        unary_iteration(g, alice_bob_policy(g, *FIG6_INIT), "entropy", FIG6_OMEGAS[0], 1,
                        metrics=())

    return run_units("fdiv-fig6", units, one, enabled=progress, first=len(FIG6_OMEGAS),
                     warmup=warmup if progress else None)


def _write_csv(path: Path, notes: list[str], keys: list[str], runs: list[dict]) -> None:
    with open(path, "w", newline="") as fh:
        for line in notes:
            fh.write(f"# {line}\n")
        w = csv.writer(fh)
        w.writerow(keys + ["t", "p", "q", "reward"])
        for r in runs:
            for t in range(len(r["p"])):
                w.writerow([r[k] for k in keys] + [t, f"{r['p'][t]:.12g}",
                                                   f"{r['q'][t]:.12g}",
                                                   f"{r['reward'][t]:.12g}"])


def _notes_fig1(runs: list[dict]) -> list[str]:
    a, b, c, d = FIG1_GAME
    thr = [tv_threshold(a, b, c, d, *init) for init in FIG1_INITS]
    g = alice_bob_game(*FIG1_GAME)
    final = {(r["divergence"], r["omega"], r["init"]): (r["p"][-1], r["q"][-1])
             for r in runs}
    stuck = all(abs(final[("tv", FIG1_OMEGA, k + 1)][0] - FIG1_INITS[k][0]) < 1e-12
                for k in range(4))
    return [
        "003 Fig. 1 (reward) and Fig. 5 (p, q): eq. (4) on a=5 b=7 c=6 d=4, "
        "(p_hat, q_hat) = (0.5, 0.75); init_1..4 = " + ", ".join(map(str, FIG1_INITS)) + ".",
        f"The paper states no omega and no horizon. KL, chi^2, H: omega = {FIG1_OMEGA:g} "
        "(any omega > 0 gives the text's outcome: init_1,3 -> (0, 1) reward 6, "
        "init_2,4 -> (1, 0) reward 7).",
        f"TV: a step moves mass only across a critic gap > omega; the largest gap at "
        f"init_1..4 is {', '.join(f'{t:.2f}' for t in thr)}, so TV with omega >= "
        f"{min(thr):.2f} never moves from init_3/init_4. omega = {FIG1_OMEGA:g}: "
        f"{'frozen at every init' if stuck else 'moves'} (dotted); TVPO's omega = (N-1)M/N "
        f"= {tvpo_omega(g):g} (Thm. 1): frozen too (dash-dot). omega = {FIG1_TV_OMEGA:g} "
        "reproduces the text (solid; one jump to the corner).",
    ]


@figure("fdiv-fig1", paper="003 Fig. 1 + Fig. 5",
        description="KL/TV/chi^2/H iterations, 4 inits, 2x2 game a=5 b=7 c=6 d=4 "
                    "(reward, p, q)")
def make_fig1(out, *, seeds=None, quick=False, progress=True) -> list[Path]:
    """Write ``fdiv-fig1.png`` and ``fdiv-fig1.csv`` (``seeds`` unused: deterministic)."""
    out = Path(out)
    iters = 20 if quick else 60
    runs = fig1_runs(iters, progress=progress)
    notes = _notes_fig1(runs)
    png, csvp = out / "fdiv-fig1.png", out / "fdiv-fig1.csv"
    plot_fig1(png, runs, notes, quick=quick)
    _write_csv(csvp, notes, ["divergence", "omega", "init"], runs)
    return [png, csvp]


def plot_fig1(png: Path, runs: list[dict], notes: list[str], quick: bool = False) -> None:
    """The 4 x 4 grid of Fig. 1/5 (rows: inits, columns: divergences) with one legend for
    the whole figure above the panels, so that no legend covers a curve."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.ticker import MaxNLocator

    fig, axes = plt.subplots(4, 4, figsize=(16, 13.6), sharex=True)
    titles = {"kl": "KL-iteration", "tv": "TV-iteration", "chi2": r"$\chi^2$-iteration",
              "hellinger": "H-iteration"}
    twins = {}
    for r in runs:
        row = r["init"] - 1
        col = FIG1_DIVERGENCES.index(r["divergence"])
        ax = axes[row, col]
        main = r["divergence"] != "tv" or r["omega"] == FIG1_TV_OMEGA
        style = "-" if main else (":" if r["omega"] == FIG1_OMEGA else "-.")
        t = np.arange(len(r["p"]))
        ax.plot(t, r["reward"], "k" + style, lw=2 if main else 1.2)
        if ax not in twins:
            twins[ax] = ax.twinx()
        ax2 = twins[ax]
        ax2.plot(t, r["p"], style, color="tab:blue", lw=1.5 if main else 1)
        ax2.plot(t, r["q"], style, color="tab:orange", lw=1.5 if main else 1)
        ax2.set_ylim(-0.05, 1.05)
        ax.set_ylim(5.3, 7.1)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
        if row == 0:
            ax.set_title(titles[r["divergence"]])
        if col == 0:
            ax.set_ylabel(f"init$_{row + 1}$ {FIG1_INITS[row]}\nreward")
        if col == 3:
            ax2.set_ylabel("p, q")
        if row == 3:
            ax.set_xlabel("iteration")
    # one legend for the whole figure, above the panels (in a panel it hides curves)
    tvpo = tvpo_omega(alice_bob_game(*FIG1_GAME))
    by = {(r["divergence"], r["omega"], r["init"]): r for r in runs}
    hidden = all(np.array_equal(by["tv", FIG1_OMEGA, k][key], by["tv", tvpo, k][key])
                 for k in range(1, len(FIG1_INITS) + 1) for key in ("p", "q", "reward"))
    handles = [Line2D([], [], color="k", lw=2, label="reward (left axis)"),
               Line2D([], [], color="tab:blue", lw=1.5, label="p (right axis)"),
               Line2D([], [], color="tab:orange", lw=1.5, label="q (right axis)"),
               Line2D([], [], color="grey", ls="-", lw=1.5,
                      label=f"KL, $\\chi^2$, H: $\\omega$={FIG1_OMEGA:g}; TV: "
                            f"$\\omega$={FIG1_TV_OMEGA:g}"),
               Line2D([], [], color="grey", ls=":", lw=1.2,
                      label=f"TV, $\\omega$={FIG1_OMEGA:g}"
                            + (" (same curves, under the dash-dot)" if hidden else "")),
               Line2D([], [], color="grey", ls="-.", lw=1.2,
                      label=f"TV, TVPO's $\\omega$={tvpo:g}")]
    fig.legend(handles=handles, loc="upper center", ncol=6, fontsize=9,
               bbox_to_anchor=(0.5, 0.965), frameon=False)
    title = ("003 Fig. 1 / Fig. 5: f-divergence policy iteration (eq. 4), reward (black) "
             "and p, q (colour)")
    fig.suptitle(title + (f" -- {quick_label()}" if quick else ""))
    fig.text(0.01, 0.005, "\n".join(notes), fontsize=8.5, va="bottom", wrap=True)
    fig.tight_layout(rect=(0, 0.07, 1, 0.945))
    fig.savefig(png, dpi=110)
    plt.close(fig)


def _notes_fig6(runs: list[dict]) -> list[str]:
    fin = {(r["case"], r["omega"]): (r["p"][-1], r["q"][-1]) for r in runs}
    c2p, c2b = fin[("case 2", 0.1)], fin[("case 2", 1.0)]
    c3b = fin[("case 3", 1.0)]
    return [
        "003 Fig. 6: unary formulation (44) with phi = -log x (softmax(Q/omega)); case 2 "
        "a,b,c,d = 5,6,3,5, case 3 = 7,5,4,6; init (p_0, q_0) = "
        f"{FIG6_INIT} (the paper states none).",
        f"Paper: omega = 0.1 for both; case 2 -> (0.773, 0.227), case 3 oscillates. "
        f"omega = 0.1 gives case 2 -> ({c2p[0]:.3f}, {c2p[1]:.3f}) (the optimum b = 6, "
        "not a sub-optimum) and case 3 oscillates between (1,0) and (0,1) (reproduced).",
        f"omega = 1 gives case 2 -> ({c2b[0]:.3f}, {c2b[1]:.3f}) monotonically (the "
        f"paper's numbers) but case 3 then converges to ({c3b[0]:.3f}, {c3b[1]:.3f}) "
        "(no oscillation): no single omega reproduces both panels.",
    ]


@figure("fdiv-fig6", paper="003 Fig. 6",
        description="unary formulation (entropy) on cases 2 and 3 of Appendix E.2")
def make_fig6(out, *, seeds=None, quick=False, progress=True) -> list[Path]:
    """Write ``fdiv-fig6.png`` and ``fdiv-fig6.csv`` (``seeds`` unused: deterministic)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    out = Path(out)
    iters = 12 if quick else 30
    runs = fig6_runs(iters, progress=progress)
    notes = _notes_fig6(runs)
    fig, axes = plt.subplots(1, 4, figsize=(17, 4.8))
    for r in runs:
        k = 0 if r["case"] == "case 2" else 2
        style = "-" if r["omega"] == 0.1 else "--"
        t = np.arange(len(r["p"]))
        axes[k].plot(t, r["reward"], "k" + style, marker=".",
                     label=f"$\\omega$={r['omega']:g}")
        axes[k + 1].plot(t, r["p"], style, color="tab:blue", marker=".",
                         label=f"p, $\\omega$={r['omega']:g}")
        axes[k + 1].plot(t, r["q"], style, color="tab:orange", marker=".",
                         label=f"q, $\\omega$={r['omega']:g}")
    for k, case in ((0, "case 2"), (2, "case 3")):
        axes[k].set_title(f"{case}: reward")
        axes[k + 1].set_title(f"{case}: p, q")
        axes[k + 1].set_ylim(-0.05, 1.05)
        for ax in axes[k:k + 2]:
            ax.set_xlabel("iteration")
            ax.xaxis.set_major_locator(MaxNLocator(integer=True, steps=[1, 2, 5, 10]))
            ax.legend(fontsize=8)
    fig.suptitle("003 Fig. 6: unary formulation, entropy regularizer "
                 "(solid: paper's omega = 0.1; dashed: omega = 1)"
                 + (f" -- {quick_label()}" if quick else ""))
    fig.text(0.01, 0.01, "\n".join(notes), fontsize=8.5, va="bottom")
    fig.tight_layout(rect=(0, 0.16, 1, 0.95))
    png, csvp = out / "fdiv-fig6.png", out / "fdiv-fig6.csv"
    fig.savefig(png, dpi=110)
    plt.close(fig)
    _write_csv(csvp, notes, ["case", "omega"], runs)
    return [png, csvp]
