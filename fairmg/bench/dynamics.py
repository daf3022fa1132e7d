"""Benchmarks of the learning dynamics of 002 (issue 3).

* 400 NPG iterations on the N = 5 coordination game with the Nash-gap, POA and potential
  recorded every iteration (``fairmg.dynamics.npg``), against the plain NumPy reference
  (:func:`fairmg.reference_dynamics.npg_run`: dense inverses, explicit loops) doing the
  same work; the two trajectories are checked to agree.
* The whole Figure 1 grid of 002 (N = 2, 3, 5; 10 seeds; PG and NPG with lambda in
  {0} + 5 values, NPG-BR with 5 K's and 5 lambdas: 660 runs of 400 iterations) through
  ``fairmg reproduce mpg-fig1``'s runner, on every core; no baseline.

``quick`` shortens both (40 NPG iterations at N = 3; the grid at N = 2, 3 with 2 seeds).
"""
from __future__ import annotations

import time

import numpy as np

from .. import games, reference_dynamics
from ..dynamics import npg
from . import Row, benchmark, best_time


def _npg_case(n_agents: int, iters: int) -> Row:
    g = games.coordination(n_agents)
    theta0 = np.random.default_rng(0).normal(size=(n_agents, g.n_states, 2))
    metrics = ("nash_gap", "poa", "potential")
    ours = best_time(lambda: npg(g, theta0, lr=0.1, iters=iters, metrics=metrics), repeat=3,
                     min_total_s=0.0)
    t0 = time.perf_counter()
    expected, _ = reference_dynamics.npg_run(g.transition, g.rewards, g.gamma, g.initial,
                                             g.action_sizes, theta0, 0.1, iters,
                                             phi=g.potential)
    base = time.perf_counter() - t0
    run = npg(g, theta0, lr=0.1, iters=iters, metrics=metrics)
    for k in metrics:
        if not np.allclose(run.metrics[k], expected[k], rtol=1e-8, atol=1e-8):
            raise AssertionError(f"NPG {k} differs from the reference")
    return Row(f"NPG N={n_agents} coordination, {iters} iters + metrics", ours, base)


def _figure1_grid(quick: bool) -> Row:
    from ..reproduce import mpg

    agents, seeds = ((2, 3), 2) if quick else (mpg.AGENTS, mpg.SEEDS_TABULAR)
    t0 = time.perf_counter()
    mpg.tabular_grid(agents, seeds, mpg.ITERS, progress=False)
    return Row(f"Figure 1 grid of 002 (N={agents}, {seeds} seeds, all cores)",
               time.perf_counter() - t0)


@benchmark("dynamics")
def dynamics(quick: bool = False):
    yield _npg_case(3, 40) if quick else _npg_case(5, 400)
    yield _figure1_grid(quick)
