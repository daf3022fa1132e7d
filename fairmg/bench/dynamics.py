"""Benchmarks of the learning dynamics of 002.

* ``npg`` -- 400 NPG iterations on the N = 5 coordination game with the Nash-gap and POA
  of every iterate: ``fm.dynamics.npg`` against :func:`fairmg.testing.vectorized.npg_run`
  doing the same work (trajectories checked to agree). Issue 11 target: >= 20x.
* ``figure1`` (opt-in: ``--only figure1``) -- the whole Figure 1 grid of 002 (N = 2, 3, 5;
  10 seeds; PG and NPG with lambda in {0} + 5 values, NPG-BR with 5 K's and 5 lambdas:
  660 runs of 400 iterations) through ``fairmg reproduce mpg-fig1``'s runner, on every
  core; no baseline. Issue 11 target: < 15 s.

``quick`` shortens both (40 NPG iterations at N = 3; the grid at N = 2, 3 with 2 seeds).
"""
from __future__ import annotations

import time

import numpy as np

from .. import games
from ..dynamics import npg
from ..testing import vectorized as vec
from . import Row, Timing, group, timed
from .core import dense
from .machine import npg_phases

LR = 0.1
METRICS = ("nash_gap", "poa")


def _fairmg_npg(g, theta0, iters):
    """``fm.dynamics.npg`` recording the Nash-gap and POA only (its defaults also record
    the potential, welfare and values; an engine without ``metrics=`` gets its defaults)."""
    try:
        return npg(g, theta0, lr=LR, iters=iters, metrics=METRICS)
    except TypeError:
        return npg(g, theta0, lr=LR, iters=iters)


@group("npg", "NPG on the coordination game, Nash-gap + POA every iteration",
       expected_s=(6, 1), order=1)
def npg_group(quick: bool):
    n, iters = (3, 40) if quick else (5, 400)
    g = games.coordination(n)
    P, R, gamma, mu = dense(g)
    sizes = tuple(g.action_sizes)
    theta0 = np.random.default_rng(0).normal(size=(n, g.n_states, 2))
    repeat = dict(repeat=3, min_total_s=0.0)
    ours = timed(lambda: _fairmg_npg(g, theta0, iters), **repeat)
    base = timed(lambda: vec.npg_run(P, R, gamma, mu, theta0, sizes, LR, iters), **repeat)
    run = _fairmg_npg(g, theta0, iters)
    _, expected = vec.npg_run(P, R, gamma, mu, theta0, sizes, LR, iters)
    for k in METRICS:
        if not np.allclose(run.metrics[k], expected[k], rtol=1e-8, atol=1e-9):
            raise AssertionError(f"NPG {k} differs from the vectorized baseline's")
    yield Row(f"NPG coordination N={n} S={g.n_states} A={g.n_joint_actions}, {iters} "
              f"iters + Nash-gap + POA", ours, {"numpy": base.best},
              npg_phases(g.n_states, sizes, iters), ("numpy", 20.0),
              note=f"fairmg records {sorted(run.metrics)}; bound per iteration: {n} "
                   f"warm-started best-response policy iterations (>= {n} LU solves of "
                   f"{g.n_states}x{g.n_states}) and the agent MDPs (about 2 reads of P)")


@group("figure1", "the Figure 1 grid of 002 (660 runs), all cores", expected_s=(60, 15),
       default=False, order=5)
def figure1_group(quick: bool):
    from ..reproduce import mpg

    agents, seeds = ((2, 3), 2) if quick else (mpg.AGENTS, mpg.SEEDS_TABULAR)
    t0 = time.perf_counter()
    mpg.tabular_grid(agents, seeds, mpg.ITERS, progress=False)
    t = time.perf_counter() - t0
    yield Row(f"Figure 1 grid of 002 (N={agents}, {seeds} seeds)", Timing(t, t, 1),
              note="one run, no warm-up (1st call = the same run); target < 15 s")
