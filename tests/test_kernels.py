"""The compiled kernels of the hot paths, each against an independent computation.

Issue 11's speed work replaced per-agent passes and LAPACK calls with one-pass kernels;
each is checked here against the brute-force oracles of :mod:`fairmg.testing.reference`,
``np.linalg.solve`` or the NumPy fallback it replaces, at the corners (agents with one
action, ragged action sizes, gamma near 1, logits far apart).
"""
from __future__ import annotations

import numpy as np
import pytest

import fairmg as fm
from fairmg import kernels
from fairmg.dynamics.run import evaluate_batch
from fairmg.policy import softmax
from fairmg.testing import reference as ref

SIZES = [(2,), (2, 2), (3, 1, 2), (2, 3, 2, 2), (1, 1), (2, 2, 2, 2, 2)]


def _policy(g, seed, scale=1.0):
    theta = np.random.default_rng(seed).normal(scale=scale, size=(g.n_agents, g.n_states,
                                                                  g.max_actions))
    return fm.ProductPolicy.from_logits(g, theta)


@pytest.mark.parametrize("sizes", SIZES, ids=str)
def test_agent_mdps_equal_brute_force(sizes):
    g = fm.games.random_game(3, sizes, 0.9, rng=1)
    pol = _policy(g, 2)
    Pis, ris = kernels.agent_mdps(g.transition, g.rewards, pol.probs,
                                  np.array(sizes, dtype=np.int64))
    for i, n in enumerate(sizes):
        Pi, ri = ref.agent_mdp(g.transition, g.rewards, pol.probs, sizes, i)
        np.testing.assert_allclose(Pis[i, :, :n], Pi, rtol=0, atol=1e-14)
        np.testing.assert_allclose(ris[i, :, :n], ri, rtol=0, atol=1e-14)
        assert not Pis[i, :, n:].any() and not ris[i, :, n:].any()   # padding stays 0
        got_P, got_r = g.agent_mdps(pol)[i]                          # the Game method
        np.testing.assert_array_equal(got_P, Pis[i, :, :n])
        np.testing.assert_array_equal(got_r, ris[i, :, :n])


def test_factored_game_agent_mdps_default_equal_agent_mdp():
    g = fm.games.random_factored_game((2, 2), (2, 3), 0.9, rng=3)
    pol = _policy(g, 4)
    for i, (P_i, r_i) in enumerate(g.agent_mdps(pol)):
        P_ref, r_ref = g.to_dense().agent_mdp(pol.__class__(g.to_dense(), pol.probs), i)
        np.testing.assert_allclose(P_i, P_ref, atol=1e-13)
        np.testing.assert_allclose(r_i, r_ref, atol=1e-13)


@pytest.mark.parametrize("n", [1, 5, 32, kernels.SMALL_LU, kernels.SMALL_LU + 1, 90])
@pytest.mark.parametrize("gamma", [0.0, 0.9, 0.999999])
def test_solve_dd_equals_lapack(n, gamma):
    rng = np.random.default_rng(n)
    P = rng.dirichlet(np.full(n, 0.3), size=n)
    M = np.eye(n) - gamma * P
    B = rng.normal(size=(n, 3))
    mu = rng.dirichlet(np.ones(n))
    X, y = kernels.solve_dd(M, B, mu)
    # relative to the solution's size: cond(M) ~ 1/(1-gamma) at gamma near 1
    scale = 1.0 / (1.0 - gamma)
    np.testing.assert_allclose(X, np.linalg.solve(M, B), rtol=0,
                               atol=1e-13 * scale * np.abs(B).max() * scale)
    np.testing.assert_allclose(y, np.linalg.solve(M.T, mu), rtol=0, atol=1e-13 * scale**2)
    X2, y2 = kernels.solve_dd(M, B, np.empty(0))
    np.testing.assert_array_equal(X2, X)
    assert y2.shape == (0,)


@pytest.mark.parametrize("scale", [1.0, 50.0, 1e3, 1e300])
def test_compiled_softmax_equals_the_numpy_formula(scale):
    mask = np.array([[True, True, True], [True, False, False], [True, True, False]])
    theta = np.random.default_rng(0).normal(scale=scale, size=(4, 3, 5, 3))
    got = softmax(theta, mask)
    # the plain formula, row by row, with the max subtracted by hand
    want = np.zeros_like(theta)
    for idx in np.ndindex(theta.shape[:-1]):
        n = mask[idx[-2]].sum()
        z = theta[idx][:n] - theta[idx][:n].max()
        want[idx][:n] = np.exp(z) / np.exp(z).sum()
    np.testing.assert_allclose(got, want, rtol=1e-15, atol=1e-300)
    assert np.all(np.isfinite(got))
    # a mask that is not a prefix takes the general path and still sums to 1 on the mask
    odd = np.array([[False, True, True], [True, False, True], [True, True, True]])
    got = softmax(theta, odd)
    assert not (got * ~odd[:, None, :]).any()
    np.testing.assert_allclose(got.sum(axis=-1), 1.0, rtol=1e-14)


@pytest.mark.parametrize("sizes", [(2, 2), (3, 1, 2), (2, 2, 2, 2, 2)], ids=str)
def test_warm_started_best_responses_equal_cold_ones(sizes):
    g = fm.games.random_game(6, sizes, 0.95, rng=5)
    probs = np.stack([_policy(g, s).probs for s in range(3)])
    cold = evaluate_batch(g, probs, best=True).best_values()
    warm = np.full((3, g.n_agents, g.n_states), -1, dtype=np.int64)
    evaluate_batch(g, probs, best=True, warm_start=warm)
    # the best responses found are optimal: their values equal an independent VI
    for b in range(3):
        for i, n in enumerate(sizes):
            Pi, ri = ref.agent_mdp(g.transition, g.rewards, probs[b], sizes, i)
            v = ref.value_iteration(Pi, ri, g.gamma, tol=1e-11)
            np.testing.assert_allclose(v @ g.initial, cold[b, i], atol=1e-9)
            act = warm[b, i]
            assert act.max() < n
            P_act = Pi[np.arange(g.n_states), act]
            v_act = np.linalg.solve(np.eye(g.n_states) - g.gamma * P_act,
                                    ri[np.arange(g.n_states), act])
            np.testing.assert_allclose(v_act, v, atol=1e-9)
    # started from those (optimal) actions, or from a perturbed policy's, same values
    again = evaluate_batch(g, probs, best=True, warm_start=warm).best_values()
    np.testing.assert_allclose(again, cold, rtol=0, atol=1e-12)
    shifted = np.roll(probs, 1, axis=0)
    np.testing.assert_allclose(
        evaluate_batch(g, shifted, best=True, warm_start=warm).best_values(),
        evaluate_batch(g, shifted, best=True).best_values(), rtol=0, atol=1e-12)


def test_npg_best_response_batch_equals_single_runs():
    g = fm.games.coordination(3, eps=0.1, gamma=0.95)
    theta = np.random.default_rng(7).normal(size=(3, 3, g.n_states, 2))
    batch = fm.dynamics.npg_best_response(g, theta, inner_steps=3, iters=12,
                                          metrics=("nash_gap", "potential"))
    assert batch.params["agents"].shape == (12, 3)
    for b in range(3):
        one = fm.dynamics.npg_best_response(g, theta[b], inner_steps=3, iters=12,
                                            metrics=("nash_gap", "potential"))
        np.testing.assert_array_equal(batch.params["agents"][:, b], one.params["agents"])
        for k in ("nash_gap", "potential"):
            np.testing.assert_allclose(batch.metrics[k][:, b], one.metrics[k], rtol=0,
                                       atol=1e-12)
        np.testing.assert_allclose(batch.thetas[-1][b], one.thetas[-1], rtol=0, atol=1e-11)


def test_npg_best_response_batch_on_a_factored_game():
    g = fm.games.coordination(3, eps=0.1, gamma=0.9, representation="factored")
    theta = np.random.default_rng(8).normal(size=(2, 3, g.n_states, 2))
    batch = fm.dynamics.npg_best_response(g, theta, inner_steps=2, iters=3,
                                          metrics=("potential",))
    dense = fm.dynamics.npg_best_response(g.to_dense(), theta, inner_steps=2, iters=3,
                                          metrics=("potential",))
    np.testing.assert_array_equal(batch.params["agents"], dense.params["agents"])
    np.testing.assert_allclose(batch.metrics["potential"], dense.metrics["potential"],
                               atol=1e-10)


def test_npg_fast_direction_equals_the_general_formula():
    """lambda = 0 takes a compiled path; lambda -> 0 of the general one must agree."""
    from fairmg.dynamics.pg import log_softmax, natural_directions
    g = fm.games.random_game(5, (3, 2), 0.9, rng=9)
    theta = np.random.default_rng(10).normal(size=(g.n_agents, g.n_states, g.max_actions))
    pol = fm.ProductPolicy.from_logits(g, theta)
    ev = fm.evaluate(g, pol)
    fast = natural_directions(g, ev, None, 0.0)
    general = natural_directions(g, ev, log_softmax(g, theta), 1e-300)
    np.testing.assert_allclose(fast, general, rtol=0, atol=1e-14)
    # and the closed form by hand: advantages centred over each agent's own actions
    for i, n in enumerate(g.action_sizes):
        adv = ev.local_advantage(i)
        np.testing.assert_allclose(fast[i, :, :n], adv - adv.mean(axis=1, keepdims=True),
                                   atol=1e-14)


@pytest.mark.parametrize("sparsity", [0.0, 0.9])
@pytest.mark.parametrize("gamma", [0.9, 0.999])
def test_large_mdp_policy_iteration_by_gmres_equals_quantecon(sparsity, gamma):
    """From KRYLOV_MDP_STATES states on, policies are evaluated by GMRES (CSR when sparse)."""
    qe = pytest.importorskip("quantecon")
    from fairmg.equilibrium import KRYLOV_MDP_STATES
    g = fm.games.random_game(KRYLOV_MDP_STATES + 8, (3,), gamma, rng=11, sparsity=sparsity)
    P, r = g.transition, g.rewards[0]
    sol = fm.solve_mdp(P, r, gamma)
    want = qe.markov.DiscreteDP(r, P, gamma).solve("policy_iteration")
    scale = 1.0 / (1.0 - gamma)
    np.testing.assert_allclose(sol.values, want.v, rtol=0, atol=1e-10 * scale)
    assert sol.converged and sol.residual <= 1e-10 * scale
    # the actions are optimal: their exact (LU) values equal the optimum
    rows = np.arange(P.shape[0])
    exact = np.linalg.solve(np.eye(P.shape[0]) - gamma * P[rows, sol.actions], r[rows, sol.actions])
    np.testing.assert_allclose(exact, want.v, rtol=0, atol=1e-10 * scale)
