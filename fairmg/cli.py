"""The ``fairmg`` command: ``solve``, ``reproduce``, ``bench``."""
from __future__ import annotations

import argparse
import sys

import numpy as np


def _solve(args) -> int:
    from . import games
    from .equilibrium import best_response, nash_gap, price_of_anarchy, social_optimum
    from .evaluate import evaluate
    from .model import ProductPolicy

    if args.game == "coordination":
        g = games.coordination(n_agents=args.agents, eps=args.eps, gamma=args.gamma)
    else:
        sizes = (args.actions,) * args.agents
        g = games.random_game(args.states, sizes, args.gamma, rng=args.seed, kind=args.kind)
    pol = ProductPolicy.uniform(g)
    ev = evaluate(g, pol)
    opt = social_optimum(g)
    print(g)
    print(f"social optimum  max_pi sum_i V^i(mu) = {opt.value:.6f}  "
          f"(policy iteration: {opt.iterations} improvement step(s), "
          f"residual {opt.residual:.1e})")
    print("uniform policy:")
    print(f"  sum_i V^i(mu)   = {ev.value_at_initial.sum():.6f}")
    if opt.value > 0:
        print(f"  price of anarchy = {price_of_anarchy(g, pol, evaluation=ev):.6f}")
    gaps = nash_gap(g, pol, per_agent=True, evaluation=ev)
    print(f"  Nash-gap        = {gaps.max():.6g}")
    print(f"  {'agent':>5s} {'V^i(mu)':>12s} {'best response':>14s} {'gap':>12s}")
    for i in range(g.n_agents):
        br = best_response(g, pol, i)
        print(f"  {i:5d} {ev.value_at_initial[i]:12.6f} {br.value_at_initial:14.6f} "
              f"{gaps[i]:12.3g}")
    return 0


def _reproduce(args) -> int:
    from .reproduce import figures, reproduce

    known = figures()
    if args.list or args.figure is None:
        for fid, fig in known.items():
            print(f"{fid:<16s} {fig.paper}: {fig.description}")
        return 0
    ids = list(known) if args.figure == "all" else [args.figure]
    for fid in ids:
        paths = reproduce(fid, args.out, seeds=args.seeds, quick=args.quick,
                          progress=not args.no_progress)
        for p in paths:
            print(f"wrote {p}")
    return 0


def _bench(args) -> int:
    from .bench import run_benchmarks

    run_benchmarks(only=args.only, quick=args.quick)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="fairmg", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("solve", help="social optimum, POA, Nash-gap and best responses of "
                                     "the uniform policy")
    p.add_argument("game", choices=["coordination", "random"])
    p.add_argument("--agents", type=int, default=2)
    p.add_argument("--eps", type=float, default=0.1, help="coordination: local noise")
    p.add_argument("--gamma", type=float, default=0.95)
    p.add_argument("--states", type=int, default=10, help="random: number of states")
    p.add_argument("--actions", type=int, default=2, help="random: actions per agent")
    p.add_argument("--kind", default="general", help="random: general|identical|potential")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_solve)

    p = sub.add_parser("reproduce", help="write a paper figure to figures/ (PNG + CSV)")
    p.add_argument("figure", nargs="?", help="figure id, or 'all' (see --list)")
    p.add_argument("--list", action="store_true", help="list the figure ids")
    p.add_argument("--out", default="figures", help="output folder (default figures/)")
    p.add_argument("--seeds", type=int, default=None, help="number of seeds (default: "
                                                           "the paper's)")
    p.add_argument("--quick", action="store_true", help="a reduced run (for smoke tests)")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    p.set_defaults(func=_reproduce)

    p = sub.add_parser("bench", help="time fairmg against the plain NumPy reference")
    p.add_argument("--only", default=None, help="run one benchmark group")
    p.add_argument("--quick", action="store_true", help="small sizes (seconds)")
    p.set_defaults(func=_bench)
    return parser


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError) as exc:
        print(f"fairmg: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    np.set_printoptions(precision=4)
    sys.exit(main())
