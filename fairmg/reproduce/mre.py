"""Figure 2 of 001: same dispersion, different MRE.

Four allocations of ``N_AGENTS`` outcomes with mean 1 whose CV, Gini and Jain agree
within 1% but whose Minimum Reallocation of Excess (001, Sec. 3.2.3) differs by a factor
of about three. The paper prints neither its allocations nor its tolerance, so the
parameters are ours: ``N_AGENTS = 10`` (the Matthew-effect task of 001, Sec. 5),
``TAU = 0.2`` and the common dispersion ``(TARGET_CV, TARGET_GINI) = (0.5, 0.27)``, a
moderate spread at which the achievable MRE range is wide. The allocations are not typed
in: a seeded Nelder-Mead search (penalty on the CV and Gini targets) finds the least and
the largest MRE at that dispersion and two allocations at 1/3 and 2/3 of that range.
Jain's index is ``1 / (1 + CV^2)``, so matching CV matches it.
"""
from __future__ import annotations

import csv
import time
from pathlib import Path

import numpy as np
from scipy.optimize import minimize

from .. import fairness as fx
from . import figure, quick_label
from ._progress import Stage, format_duration, say

N_AGENTS = 10
TAU = 0.2
TARGET_CV = 0.5
TARGET_GINI = 0.27
#: Largest relative spread (max - min) / mean allowed across the four cases for CV, Gini,
#: Jain: the "agree within 1%" of the figure.
AGREEMENT = 0.01
#: Least relative gap between consecutive MREs of the cases ("differ clearly").
MIN_MRE_GAP = 0.05
DEFAULT_RESTARTS = 4
_PENALTY = 1e4  # weight of the dispersion targets against the MRE objective


def _allocation(z: np.ndarray) -> np.ndarray:
    """Nonnegative allocation with mean 1 (sum N) from unconstrained parameters."""
    w = z * z
    return len(z) * w / w.sum()


def _loss(z, h_target=None, direction=0.0) -> float:
    x = _allocation(z)
    if not np.isfinite(x).all():
        return np.inf
    miss = ((fx.cv(x) - TARGET_CV) / TARGET_CV) ** 2 \
        + ((fx.gini(x) - TARGET_GINI) / TARGET_GINI) ** 2
    h = fx.mre(x, TAU)
    fit = 0.0 if h_target is None else (h - h_target) ** 2
    return _PENALTY * miss + fit + 1e-2 * direction * h


def _search(rng, restarts: int, max_iter: int, tick=None, **objective) -> np.ndarray:
    best = None
    for _ in range(restarts):
        z0 = rng.normal(size=N_AGENTS) + 1.5
        res = minimize(lambda z: _loss(z, **objective), z0, method="Nelder-Mead",
                       options=dict(maxiter=max_iter, xatol=1e-9, fatol=1e-13,
                                    adaptive=True))
        if best is None or res.fun < best.fun:
            best = res
        if tick is not None:
            tick()
    return _allocation(best.x)


class _Ticker:
    """Progress of the 4 x ``restarts`` Nelder-Mead searches: the first one is timed to
    print the expected duration, then one :class:`._progress.Stage` covers the rest."""

    def __init__(self, n: int, enabled: bool):
        self.n, self.enabled, self.stage = n, enabled, None
        self.t0 = time.perf_counter()

    def __call__(self) -> None:
        if self.stage is None:
            dt = time.perf_counter() - self.t0
            say(f"mre-cases: {self.n} Nelder-Mead searches, expected about "
                f"{format_duration(dt * self.n)} (from the time of the first)", self.enabled)
            self.stage = Stage("mre-cases", self.n, enabled=self.enabled, unit="searches",
                               done=1)
        else:
            self.stage.advance()

    def close(self, interrupted: bool = False) -> None:
        if self.stage is not None:
            self.stage.close(interrupted)


def find_cases(*, restarts: int = DEFAULT_RESTARTS, seed: int = 0,
               max_iter: int = 4000, progress: bool = False) -> np.ndarray:
    """Four allocations ``[4, N_AGENTS]`` at the target dispersion, by increasing MRE.

    ``progress`` prints the expected duration (from the first search) and one progress
    bar (one line when stderr is not a terminal). Raises ``RuntimeError`` if the search
    misses the 1% agreement of CV, Gini and Jain or finds two MREs closer than
    ``MIN_MRE_GAP``.
    """
    rng = np.random.default_rng(seed)
    tick = _Ticker(4 * restarts, progress)
    try:
        low = _search(rng, restarts, max_iter, tick, direction=1.0)
        high = _search(rng, restarts, max_iter, tick, direction=-1.0)
        h_low, h_high = fx.mre(low, TAU), fx.mre(high, TAU)
        middle = [_search(rng, restarts, max_iter, tick,
                          h_target=h_low + f * (h_high - h_low)) for f in (1 / 3, 2 / 3)]
    except BaseException:
        tick.close(interrupted=True)
        raise
    tick.close()
    cases = np.array([low, *middle, high])
    h = fx.mre(cases, TAU)
    cases, h = cases[np.argsort(h)], np.sort(h)
    if np.min(np.diff(h) / h[1:]) < MIN_MRE_GAP:
        raise RuntimeError(f"search found MREs {np.round(h, 4).tolist()} closer than "
                           f"{MIN_MRE_GAP:.0%}; raise restarts")
    for name, index in (("CV", fx.cv), ("Gini", fx.gini), ("Jain", fx.jain)):
        v = index(cases)
        spread = np.ptp(v) / v.mean()
        if spread > AGREEMENT:
            raise RuntimeError(f"search missed the target: {name} spreads {spread:.2%} "
                               f"across the cases ({np.round(v, 4).tolist()}); raise "
                               f"restarts")
    return cases


def case_table(cases: np.ndarray) -> dict[str, np.ndarray]:
    """Dispersion indices and the MRE suite of each allocation (columns of the CSV)."""
    rep = fx.equity_report(cases, TAU)
    return {"CV": fx.cv(cases), "Gini": fx.gini(cases), "Jain": fx.jain(cases),
            "Theil": fx.theil(cases), "Atkinson(0.5)": fx.atkinson(cases, 0.5),
            "E": rep.total_excess, "IncRate": rep.incidence_rate, "H_inc": rep.h_inc,
            "H_mag": rep.h_mag, "MRE": rep.mre, "MRE/N": rep.mre_normalized}


def _write_csv(path: Path, cases: np.ndarray, table: dict) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["case", "tau"] + [f"x_{i + 1}" for i in range(cases.shape[1])]
                   + list(table))
        for k, x in enumerate(cases):
            w.writerow([chr(ord("A") + k), TAU] + [f"{v:.10g}" for v in x]
                       + [f"{table[c][k]:.10g}" for c in table])


def _plot(path: Path, cases: np.ndarray, table: dict, quick: bool = False) -> None:
    """Bars of each case coloured by where each agent is relative to the band, one legend
    that explains the colours, and the table of indices under them."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D
    from matplotlib.patches import Patch

    n = cases.shape[1]
    fig = plt.figure(figsize=(13, 7.2))
    grid = fig.add_gridspec(2, 4, height_ratios=[2.2, 1.0], hspace=0.25, top=0.85)
    agents = np.arange(1, n + 1)
    for k, x in enumerate(cases):
        ax = fig.add_subplot(grid[0, k])
        lo, hi = (1 - TAU) * x.mean(), (1 + TAU) * x.mean()
        colors = np.where(x > hi, "tab:red", np.where(x < lo, "tab:blue", "tab:gray"))
        ax.axhspan(lo, hi, color="tab:green", alpha=0.15, label=f"band (tau={TAU})")
        ax.bar(agents, x, color=colors)
        ax.axhline(x.mean(), color="k", lw=0.8, ls="--")
        ax.set_title(f"case {chr(ord('A') + k)}: MRE = {table['MRE'][k]:.3f}")
        ax.set_xlabel("agent")
        ax.set_xticks(agents)
        ax.set_ylim(0, 1.1 * cases.max())
        if k == 0:
            ax.set_ylabel("outcome x_i")
    ax = fig.add_subplot(grid[1, :])
    ax.axis("off")
    cols = list(table)
    cells = [[f"{table[c][k]:.4f}" for c in cols] for k in range(len(cases))]
    tab = ax.table(cellText=cells, colLabels=cols,
                   rowLabels=[f"case {chr(ord('A') + k)}" for k in range(len(cases))],
                   loc="center")
    tab.auto_set_font_size(False)
    tab.set_fontsize(9)
    tab.scale(1.0, 1.4)
    handles = [Patch(color="tab:red", label="above the band (x_i > (1+tau) mean)"),
               Patch(color="tab:gray", label="inside the band"),
               Patch(color="tab:blue", label="below the band (x_i < (1-tau) mean)"),
               Patch(color="tab:green", alpha=0.15, label=f"band: mean +- {TAU:.0%} "
                                                           f"(tau = {TAU})"),
               Line2D([], [], color="k", lw=0.8, ls="--", label="mean")]
    fig.legend(handles=handles, loc="upper center", ncol=5, fontsize=9, frameon=False,
               bbox_to_anchor=(0.5, 0.955))
    fig.suptitle("Same dispersion (CV, Gini, Jain within 1%), different MRE "
                 "(001, Figure 2 analogue)"
                 + (f" -- {quick_label()}" if quick else ""))
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)


@figure("mre-cases", paper="001 (Nguyen et al., AAMAS 2026), Figure 2",
        description="four allocations with CV, Gini, Jain within 1% and clearly "
                    "different MRE (tau = 0.2, N = 10), found by a seeded search")
def make(out: Path, *, seeds=None, quick=False, progress=True) -> list[Path]:
    """Write ``mre-cases.png`` and ``mre-cases.csv``; ``seeds`` = restarts per search."""
    restarts = seeds if seeds is not None else (2 if quick else DEFAULT_RESTARTS)
    cases = find_cases(restarts=restarts, max_iter=2500 if quick else 4000,
                       progress=progress)
    table = case_table(cases)
    out = Path(out)
    png, csv_path = out / "mre-cases.png", out / "mre-cases.csv"
    _write_csv(csv_path, cases, table)
    _plot(png, cases, table, quick=quick)
    return [png, csv_path]
