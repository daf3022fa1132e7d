"""The ``fairmg`` command: ``solve``, ``reproduce``, ``bench``.

Usage errors (a bad flag value, a flag that does not apply, an output folder that cannot
be written) exit with status 2 and one line naming the flag; Ctrl-C exits with 130.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

import numpy as np

#: ``solve``: the flags each game reads, and their defaults (a flag given for a game that
#: does not read it is a usage error, not silently ignored).
SOLVE_FLAGS = {
    "coordination": {"agents": 2, "eps": 0.1, "gamma": 0.95},
    "random": {"agents": 2, "gamma": 0.95, "states": 10, "actions": 2, "kind": "general",
               "seed": 0},
}


# -- argument types: each error names the flag (argparse prefixes "argument --flag:") ----
def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}") \
            from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {text!r}")
    return value


def check_out_dir(parser: argparse.ArgumentParser, out: Path, flag: str = "--out") -> Path:
    """Create the output folder ``out`` and check that a file can be written in it, before
    any work is done; a usage error (exit 2) naming ``flag`` otherwise."""
    if out.exists() and not out.is_dir():
        parser.error(f"{flag} {out}: is an existing file, not a folder")
    try:
        out.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out):
            pass
    except OSError as exc:
        parser.error(f"{flag} {out}: cannot write there ({exc.strerror or exc})")
    return out


# -- numba ------------------------------------------------------------------------------
COMPILING_MESSAGE = "compiling numba kernels (first run only)..."


def announce_numba_compiles() -> None:
    """Print :data:`COMPILING_MESSAGE` to stderr once, when numba starts compiling.

    numba emits its ``numba:compile`` event only when a kernel is *not* in its on-disk
    cache (after an install, a source change, or for a new argument type), before the
    compilation (about 10 s for fairmg's kernels); loading a cached kernel emits none. So
    the message shows exactly when the wait is compilation, in this process only (not
    again in forked workers).
    """
    global _LISTENING
    if _LISTENING:
        return
    try:
        from numba.core import event
    except ImportError:
        return
    pid = os.getpid()

    class _Once(event.Listener):
        said = False

        def on_start(self, ev):
            if not self.said and os.getpid() == pid:
                _Once.said = True
                print(COMPILING_MESSAGE, file=sys.stderr, flush=True)

        def on_end(self, ev):
            pass

    event.register("numba:compile", _Once())
    _LISTENING = True


_LISTENING = False


# -- solve ------------------------------------------------------------------------------
def format_gap(value: float, tol: float) -> str:
    """A Nash-gap for people: ``0 (< tol, solver tolerance)`` when within ``tol``."""
    if abs(value) <= tol:
        return f"0 (< {tol:.2g}, solver tolerance)"
    return f"{value:.6g}"


def _solve(args, parser) -> int:
    given = {k for k in ("agents", "eps", "gamma", "states", "actions", "kind", "seed")
             if getattr(args, k) is not None}
    applies = SOLVE_FLAGS[args.game]
    for flag in sorted(given - set(applies)):
        other = [g for g, flags in SOLVE_FLAGS.items() if flag in flags]
        parser.error(f"--{flag} applies to the {' and '.join(other)} game only, not to "
                     f"{args.game}")
    for flag, default in applies.items():
        if getattr(args, flag) is None:
            setattr(args, flag, default)

    import fairmg as fm
    from fairmg.equilibrium import GAP_TOL

    announce_numba_compiles()
    if args.game == "coordination":
        g = fm.games.coordination(n_agents=args.agents, eps=args.eps, gamma=args.gamma)
    else:
        sizes = (args.actions,) * args.agents
        g = fm.games.random_game(args.states, sizes, args.gamma, rng=args.seed,
                                 kind=args.kind)
    pol = fm.ProductPolicy.uniform(g)
    ev = fm.evaluate(g, pol)
    opt = fm.social_optimum(g)
    print(g)
    print(f"social optimum  max_pi sum_i V^i(mu) = {opt.value:.6f}  "
          f"(policy iteration: {opt.iterations} improvement step(s), "
          f"residual {opt.residual:.1e})")
    print("uniform policy:")
    print(f"  sum_i V^i(mu)   = {ev.value_at_initial.sum():.6f}")
    if opt.value > 0:
        print(f"  price of anarchy = {fm.price_of_anarchy(g, pol, evaluation=ev):.6f}")
    gaps = fm.nash_gap(g, pol, per_agent=True, evaluation=ev)
    # the solver's own threshold: gaps within GAP_TOL * max(1, |V^i(mu)|) are round-off
    tols = GAP_TOL * np.maximum(1.0, np.abs(ev.value_at_initial))
    worst = int(np.argmax(gaps))
    print(f"  Nash-gap        = {format_gap(gaps[worst], tols.max())}")
    print(f"  {'agent':>5s} {'V^i(mu)':>12s} {'best response':>14s} {'gap':>12s}")
    for i in range(g.n_agents):
        br = fm.best_response(g, pol, i)
        gap = "0" if abs(gaps[i]) <= tols[i] else f"{gaps[i]:.3g}"
        print(f"  {i:5d} {ev.value_at_initial[i]:12.6f} {br.value_at_initial:14.6f} "
              f"{gap:>12s}")
    if np.any(np.abs(gaps) <= tols):
        print(f"  (a gap of 0 is below the solver tolerance GAP_TOL x max(1, |V^i(mu)|), "
              f"GAP_TOL = {GAP_TOL:g})")
    return 0


# -- reproduce --------------------------------------------------------------------------
def _figure_epilog() -> str:
    """The figure ids with one line each (for ``fairmg reproduce --help``)."""
    import textwrap

    from .reproduce import figures

    lines = ["figures:"]
    for fid, fig in figures().items():
        lines.append(textwrap.fill(f"{fid:<12s} {fig.paper}: {fig.description}", width=88,
                                   initial_indent="  ", subsequent_indent=" " * 15))
    lines += ["", textwrap.fill(
        "Full runs write to figures/ (the committed figures); --quick runs write to "
        "figures/quick/ (git-ignored) and say QUICK in their titles. Each figure prints its "
        "expected duration first. Ctrl-C stops every worker at once and keeps the finished "
        "runs in <out>/<id>.partial.npz; the same command resumes from them.", width=88)]
    return "\n".join(lines)


def _reproduce(args, parser) -> int:
    from .reproduce import FULL_OUT, Interrupted, default_out, figures, reproduce

    known = figures()
    if args.list or args.figure is None:
        for fid, fig in known.items():
            print(f"{fid:<16s} {fig.paper}: {fig.description}")
        return 0
    if args.figure != "all" and args.figure not in known:
        import difflib

        close = difflib.get_close_matches(args.figure, list(known), n=3, cutoff=0.5)
        hint = f"did you mean {', '.join(close)}? " if close else ""
        parser.error(f"unknown figure {args.figure!r}; {hint}known: {', '.join(known)}, all")
    out = default_out(args.quick) if args.out is None else Path(args.out)
    if args.quick and out.resolve() == FULL_OUT.resolve():
        parser.error(f"--out {args.out}: --quick would overwrite the committed full-run "
                     f"figures there; drop --out (quick runs go to {default_out(True)}/) "
                     f"or name another folder")
    check_out_dir(parser, out)
    announce_numba_compiles()
    ids = list(known) if args.figure == "all" else [args.figure]
    done = []
    for fid in ids:
        try:
            paths = reproduce(fid, out, seeds=args.seeds, quick=args.quick,
                              progress=not args.no_progress, workers=args.workers,
                              scheduler=args.scheduler, budget=args.budget,
                              resume=not args.fresh)
        except ImportError as exc:
            parser.error(f"--scheduler {args.scheduler}: {exc}")
        except Interrupted as exc:
            print(f"fairmg: {exc}", file=sys.stderr)
            if done:
                print(f"fairmg: finished figures kept: {', '.join(done)}", file=sys.stderr)
            return 130
        for p in paths:
            print(f"wrote {p}", flush=True)
        done.append(fid)
    return 0


def _bench(args, parser) -> int:
    from .bench import run_benchmarks

    run_benchmarks(only=args.only, quick=args.quick)
    return 0


# -- parser -------------------------------------------------------------------------------
class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose epilog may be computed when help is shown (the figure
    list imports the figure modules, which ``fairmg solve`` does not need)."""

    def __init__(self, *args, epilog_factory=None, **kwargs):
        super().__init__(*args, **kwargs)
        self._epilog_factory = epilog_factory

    def format_help(self) -> str:
        if self._epilog_factory is not None:
            self.epilog = self._epilog_factory()
        return super().format_help()


def build_parser() -> argparse.ArgumentParser:
    """The ``fairmg`` argument parser."""
    parser = _Parser(prog="fairmg", description=__doc__,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("solve", help="social optimum, POA, Nash-gap and best responses of "
                                     "the uniform policy",
                       description="Social optimum, price of anarchy, Nash-gap and best "
                                   "responses of the uniform policy. A flag that the game "
                                   "does not read is an error.")
    p.add_argument("game", choices=sorted(SOLVE_FLAGS))
    p.add_argument("--agents", type=positive_int, help="number of agents (default 2)")
    p.add_argument("--eps", type=float, help="coordination only: local noise (default 0.1)")
    p.add_argument("--gamma", type=float, help="discount (default 0.95)")
    p.add_argument("--states", type=positive_int,
                   help="random only: number of states (default 10)")
    p.add_argument("--actions", type=positive_int,
                   help="random only: actions per agent (default 2)")
    p.add_argument("--kind", choices=["general", "identical", "potential"],
                   help="random only: reward structure (default general)")
    p.add_argument("--seed", type=non_negative_int, help="random only: seed (default 0)")
    p.set_defaults(func=_solve, parser=p)

    p = sub.add_parser("reproduce", help="write a paper figure (PNG + CSV); --help lists them",
                       description="Write a paper figure as PNG + CSV (+ notes).",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       epilog_factory=_figure_epilog)
    p.add_argument("figure", nargs="?", help="figure id (listed below), or 'all'")
    p.add_argument("--list", action="store_true", help="list the figure ids")
    p.add_argument("--out", default=None,
                   help="output folder (default figures/, or figures/quick/ with --quick)")
    p.add_argument("--seeds", type=positive_int, default=None,
                   help="number of seeds (default: the paper's)")
    p.add_argument("--quick", action="store_true",
                   help="a reduced run (seconds; not the paper's settings)")
    p.add_argument("--workers", type=positive_int, default=None,
                   help="worker processes of the mpg-* figures (default: every core; "
                        "1 with --quick); with --scheduler local, the Dask workers")
    p.add_argument("--scheduler", default=None,
                   help="run the grids of runs of the mpg-* figures on Dask: 'local' (a "
                        "LocalCluster of --workers processes) or a scheduler address "
                        "(tcp://host:8786, workers with fairmg installed); needs pip "
                        "install \"fairmg[dask]\"; resumable like any run")
    p.add_argument("--budget", choices=["default", "full"], default="default",
                   help="environment experiments (fair-*, eld-*): 'default' runs in minutes "
                        "on a laptop, 'full' the papers' step counts (a GPU or a cluster)")
    p.add_argument("--resume", action="store_true",
                   help="resume from <out>/<id>.partial.npz and the runs' checkpoints "
                        "(the default; stated for scripts)")
    p.add_argument("--fresh", action="store_true",
                   help="discard finished runs and checkpoints of an earlier interrupted "
                        "run and start afresh")
    p.add_argument("--no-progress", action="store_true",
                   help="no expected duration, no progress bar")
    p.set_defaults(func=_reproduce, parser=p)

    p = sub.add_parser("bench", help="time fairmg against the vectorized NumPy baseline "
                                     "and QuantEcon")
    p.add_argument("--only", default=None,
                   help="group(s), comma-separated: npg, nash_gap, construction, mdp, "
                        "figure1 (opt-in); aliases core, dynamics")
    p.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    p.set_defaults(func=_bench, parser=p)
    return parser


def main(argv=None) -> int:
    """Entry point of the ``fairmg`` console script; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args, args.parser)
    except (ValueError, TypeError) as exc:
        print(f"fairmg: error: {exc}", file=sys.stderr)
        return 2
    except MemoryError as exc:
        print(f"fairmg: error: not enough memory for this problem ({exc or 'MemoryError'}); "
              f"try fewer agents, actions or states", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("fairmg: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    sys.exit(main())
