"""Benchmarks of the exact engine against :mod:`fairmg.testing.vectorized` and QuantEcon.

* ``nash_gap`` -- the Nash-gap of the uniform policy on random games S = 16 (2x2),
  64 (3x3), 200 (4x4x4) (issue 11 target: >= 5x the vectorized NumPy baseline);
* ``construction`` -- building those games (``fm.games.random_game``) against the
  vectorized construction, and against one Nash-gap (target: no slower than it);
* ``mdp`` -- a best response: policy iteration on a 1024-state, 32-action MDP (90% zero
  transition entries, gamma 0.95 and 0.99): ``fm.solve_mdp`` against the vectorized
  ``solve_mdp`` and QuantEcon's ``DiscreteDP(R, Q, beta).solve("policy_iteration")``
  (target: >= 1.5x QuantEcon).

Only this package and the tests read a game's dense arrays (``g.transition``, ...).
"""
from __future__ import annotations

import numpy as np

from .. import games
from ..equilibrium import nash_gap, solve_mdp
from ..model import ProductPolicy
from ..testing import vectorized as vec
from . import Row, group, timed
from .machine import construction_phases, mdp_phases, nash_gap_phases

GAMES = ((16, (2, 2)), (64, (3, 3)), (200, (4, 4, 4)))
GAMMA = 0.95


def dense(g):
    """A game's arrays as contiguous float64 copies (what a NumPy user holds)."""
    return (np.ascontiguousarray(g.transition, dtype=np.float64),
            np.ascontiguousarray(g.rewards, dtype=np.float64), float(g.gamma),
            np.ascontiguousarray(g.initial, dtype=np.float64))


def _label(S, sizes):
    return f"S={S} {'x'.join(map(str, sizes))}"


def _games(quick):
    return GAMES[:2] if quick else GAMES


def _gap_case(S, sizes, seed=0):
    g = games.random_game(S, sizes, GAMMA, rng=seed)
    P, R, gamma, mu = dense(g)
    pol = ProductPolicy.uniform(g)
    probs = np.array(pol.probs)
    ours = timed(lambda: nash_gap(g, pol))
    base = timed(lambda: vec.nash_gap(P, R, gamma, mu, probs, sizes))
    a, b = nash_gap(g, pol), vec.nash_gap(P, R, gamma, mu, probs, sizes)
    if not np.isclose(a, b, rtol=1e-9, atol=1e-10):
        raise AssertionError(f"{_label(S, sizes)}: Nash-gap {a} differs from the "
                             f"vectorized baseline's {b}")
    # the evaluations policy iteration needed (from the greedy local action): for the limit
    Ps, rs, P_pi, r_pi = vec.agent_mdps(P, R, probs, sizes)
    V = np.linalg.solve(np.eye(S) - gamma * P_pi, r_pi.T).T
    evals = 0
    for i in range(len(sizes)):
        init = (rs[i] + gamma * (Ps[i].reshape(-1, S) @ V[i]).reshape(S, -1)).argmax(1)
        evals += vec.solve_mdp(Ps[i], rs[i], gamma, init=init)[2]
    return ours, Row(f"Nash-gap, uniform policy, {_label(S, sizes)}", ours,
                     {"numpy": base.best}, nash_gap_phases(S, sizes, evals), ("numpy", 5.0),
                     note=f"bound: {evals} policy-iteration LU solves of {S}x{S} (LAPACK in "
                          f"both) and one read of P for all agent MDPs")


@group("nash_gap", "Nash-gap of the uniform policy on random games", expected_s=(4, 2), order=2)
def nash_gap_group(quick: bool):
    for S, sizes in _games(quick):
        yield _gap_case(S, sizes)[1]


@group("construction", "random_game construction vs the vectorized one and one Nash-gap",
       expected_s=(5, 2), order=3)
def construction_group(quick: bool):
    for S, sizes in _games(quick):
        ours = timed(lambda: games.random_game(S, sizes, GAMMA, rng=1))
        base = timed(lambda: vec.random_game(S, sizes, rng=1))
        gap = _gap_case(S, sizes)[0]
        ratio = ours.best / gap.best
        yield Row(f"random_game {_label(S, sizes)}", ours, {"numpy": base.best},
                  construction_phases(S, sizes),
                  extra={"fairmg Nash-gap ms": f"{gap.best * 1e3:.3g}",
                         "build/Nash-gap": f"{ratio:.2f} ({'met' if ratio <= 1 else 'MISSED'}"
                                           f" <=1)"},
                  note=f"bound: the RNG, {S * int(np.prod(sizes)) * S:,} exponential draws "
                       f"(bit-identical to Generator.dirichlet; the vectorized baseline's "
                       f"row sums are not sequential, ours are)")


@group("mdp", "best response: policy iteration on a 1024-state, 32-action MDP",
       expected_s=(25, 3), order=4)
def mdp_group(quick: bool):
    try:
        import quantecon as qe
    except ImportError:      # a test-only dependency
        qe = None
    S, B = (256, 16) if quick else (1024, 32)
    g = games.random_game(S, (B,), 0.95, rng=2, sparsity=0.9)
    P, r = np.ascontiguousarray(g.transition), np.ascontiguousarray(g.rewards[0])
    del g
    for gamma in ((0.95,) if quick else (0.95, 0.99)):
        repeat = dict(repeat=3, min_total_s=0.0)
        ours = timed(lambda: solve_mdp(P, r, gamma), **repeat)
        base = {"numpy": timed(lambda: vec.solve_mdp(P, r, gamma), **repeat).best}
        sol = solve_mdp(P, r, gamma)
        v_np = vec.solve_mdp(P, r, gamma)[0]
        if not np.allclose(sol.values, v_np, rtol=1e-9, atol=1e-9):
            raise AssertionError("solve_mdp differs from the vectorized baseline")
        target, note = ("numpy", 1.5), "QuantEcon not installed"
        if qe is not None:
            run_qe = lambda: qe.markov.DiscreteDP(r, P, gamma).solve("policy_iteration")
            base["quantecon"] = timed(run_qe, **repeat).best
            res = run_qe()
            if not np.allclose(sol.values, res.v, rtol=1e-9, atol=1e-9):
                raise AssertionError("solve_mdp differs from QuantEcon's DiscreteDP")
            target = ("quantecon", 1.5)
            note = (f"policy iteration: fairmg {sol.iterations}, QuantEcon {res.num_iter} "
                    f"evaluations; QuantEcon timed with its DiscreteDP construction")
        yield Row(f"solve_mdp S={S} B={B} 90% zeros gamma={gamma}", ours, base,
                  mdp_phases(S, B, sol.iterations), target, note=note)
