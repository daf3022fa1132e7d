"""Benchmarks of the exact engine (issue 2).

* evaluate + every agent's local advantages + Nash-gap on the coordination game
  (N = 2..8) and a random game (200 states, 3 agents, 4 actions), against the plain
  NumPy reference of :mod:`fairmg.reference` doing the same work;
* one best response (an MDP with 1024 states, 32 actions, 90% zero transition entries)
  against QuantEcon's ``DiscreteDP(...).solve("policy_iteration")`` when installed.
"""
from __future__ import annotations

import numpy as np

from .. import games, reference
from ..equilibrium import nash_gap, solve_mdp
from ..evaluate import evaluate
from ..model import ProductPolicy
from . import Row, benchmark, best_time


def _ours(g, pol):
    ev = evaluate(g, pol)
    adv = [ev.local_advantage(i) for i in range(g.n_agents)]
    return adv, nash_gap(g, pol, evaluation=ev)


def _reference(g, pol):
    V, Q, localq, d = reference.evaluate(g.transition, g.rewards, g.gamma, g.initial,
                                         pol.probs, g.action_sizes)
    adv = [localq[i] - V[i][:, None] for i in range(g.n_agents)]
    return adv, reference.nash_gap(g.transition, g.rewards, g.gamma, g.initial, pol.probs,
                                   g.action_sizes)


def _case(name, g, rng, ref_repeat):
    theta = rng.normal(size=(g.n_agents, g.n_states, g.max_actions))
    pol = ProductPolicy.from_logits(g, theta)
    ours = best_time(lambda: _ours(g, pol))
    base = best_time(lambda: _reference(g, pol), repeat=ref_repeat, min_total_s=0.0)
    gap_ours, gap_ref = _ours(g, pol)[1], _reference(g, pol)[1]
    if not np.isclose(gap_ours, gap_ref, rtol=1e-8, atol=1e-8):
        raise AssertionError(f"{name}: Nash-gap {gap_ours} differs from reference {gap_ref}")
    return Row(name, ours, base)


@benchmark("core")
def core(quick: bool = False):
    rng = np.random.default_rng(0)
    for n in range(2, 6 if quick else 9):
        yield _case(f"coordination N={n}: evaluate+advantages+Nash-gap",
                    games.coordination(n), rng, ref_repeat=1 if n >= 6 else 3)
    S = 40 if quick else 200
    g = games.random_game(S, (4, 4, 4), 0.95, rng=rng)
    yield _case(f"random S={S} 3 agents x 4 actions: same", g, rng, ref_repeat=1)

    try:
        import quantecon as qe
    except ImportError:  # a test-only dependency
        qe = None
    S, B = (256, 16) if quick else (1024, 32)
    for gamma in (0.95, 0.99):
        g = games.random_game(S, (B,), gamma, rng=rng, sparsity=0.9)
        P, r = np.array(g.transition), np.array(g.rewards[0])
        ours = best_time(lambda: solve_mdp(P, r, gamma), repeat=3)
        base = None
        if qe is not None:
            base = best_time(lambda: qe.markov.DiscreteDP(r, P, gamma).solve("pi"), repeat=3)
            v_ref = qe.markov.DiscreteDP(r, P, gamma).solve("pi").v
            assert np.allclose(solve_mdp(P, r, gamma).values, v_ref, rtol=1e-10)
        yield Row(f"best response MDP S={S} B={B} gamma={gamma}", ours, base,
                  baseline="quantecon DiscreteDP pi")
