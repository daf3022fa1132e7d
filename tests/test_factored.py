"""Factored games against dense ones and against brute force (engine v2)."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import fairmg as fm
from fairmg.testing import reference as ref

TOL = 1e-10


def _pair(seed, n_local=(2, 3), sizes=(2, 2), dependence="global", joint=False, gamma=0.9):
    f = fm.games.random_factored_game(n_local, sizes, gamma, rng=seed, dependence=dependence,
                                      joint_rewards=joint)
    return f, f.to_dense()


@pytest.mark.parametrize("dependence", ["global", "local", "action"])
def test_to_dense_is_the_product_of_local_rows(dependence):
    rng = np.random.default_rng(0)
    n_local, sizes = (2, 3), (3, 2)
    S = 6
    locs = []
    for n, a in zip(n_local, sizes):
        lead = {"global": (S,), "local": (n,), "action": ()}[dependence]
        L = rng.random(lead + (a, n))
        locs.append(L / L.sum(-1, keepdims=True))
    f = fm.FactoredGame(locs, rng.random((2, S)), 0.8)
    np.testing.assert_allclose(f.to_dense().transition, ref.factored_transition(locs, sizes),
                               atol=1e-14)


@given(seed=st.integers(0, 2**31), dependence=st.sampled_from(["global", "local", "action"]),
       joint=st.booleans(), gamma=st.sampled_from([0.0, 0.5, 0.95, 0.999]),
       scale=st.sampled_from([0.0, 1.0, 8.0]))
def test_factored_and_dense_agree(seed, dependence, joint, gamma, scale):
    f, d = _pair(seed, (2, 2, 2), (2, 3, 2), dependence, joint, gamma)
    theta = scale * np.random.default_rng(seed + 1).normal(size=(3, 8, 3))
    pf, pd = fm.ProductPolicy.from_logits(f, theta), fm.ProductPolicy.from_logits(d, theta)
    ef, ed = fm.evaluate(f, pf), fm.evaluate(d, pd)
    scale_v = max(1.0, np.abs(ed.values).max())
    np.testing.assert_allclose(ef.values, ed.values, atol=TOL * scale_v)
    np.testing.assert_allclose(ef.visitation, ed.visitation, atol=TOL / (1 - gamma))
    np.testing.assert_allclose(ef.local_qs, ed.local_qs, atol=TOL * scale_v)
    np.testing.assert_allclose(ef.q, ed.q, atol=TOL * scale_v)
    np.testing.assert_allclose(fm.nash_gap(f, pf, per_agent=True),
                               fm.nash_gap(d, pd, per_agent=True), atol=1e-9 * scale_v)
    assert abs(fm.social_optimum(f).value - fm.social_optimum(d).value) <= 1e-9 * scale_v
    for i in range(3):
        Pf, rf = f.agent_mdp(pf, i)
        Pd, rd = d.agent_mdp(pd, i)
        np.testing.assert_allclose(Pf, Pd, atol=1e-13)
        np.testing.assert_allclose(rf, rd, atol=1e-13)
        brf, brd = fm.best_response(f, pf, i), fm.best_response(d, pd, i)
        np.testing.assert_allclose(brf.values, brd.values, atol=1e-9 * scale_v)


@pytest.mark.parametrize("keep", [(), (0,), (2,), (1, 0), (0, 1, 2), (2, 0)])
def test_factored_continuation_is_the_dense_marginal(keep):
    f, d = _pair(3, (2, 3, 2), (2, 3, 2), "global", True)
    pol = fm.ProductPolicy.from_logits(f, np.random.default_rng(1).normal(size=(3, 12, 3)))
    V = np.random.default_rng(2).normal(size=(2, 12))
    cont = d.joint_continuation(V)                          # (K, S, A)
    expect = ref.marginal(cont, pol.probs, d.action_sizes, keep)
    np.testing.assert_allclose(f.continuation(V, pol, keep), expect, atol=1e-12)
    np.testing.assert_allclose(f.reward_marginal(pol, keep),
                               ref.marginal(d.rewards, pol.probs, d.action_sizes, keep),
                               atol=1e-12)


def test_matrix_free_evaluation_matches_the_dense_solve():
    f = fm.games.random_factored_game((2, 2, 2, 2, 2), (2, 2, 2, 2, 2), 0.95, rng=4)
    pol = fm.ProductPolicy.from_logits(f, np.random.default_rng(0).normal(size=(5, 32, 2)))
    dense = fm.evaluate(f, pol)
    f.dense_states = 0                                   # force GMRES
    free = fm.evaluate(f, pol)
    assert 0 < free.residual <= 1e-11
    np.testing.assert_allclose(free.values, dense.values, atol=1e-9)
    np.testing.assert_allclose(free.visitation, dense.visitation, atol=1e-9)
    np.testing.assert_allclose(fm.nash_gap(f, pol, per_agent=True),
                               fm.nash_gap(f.to_dense(), fm.ProductPolicy(f.to_dense(),
                                                                          pol.probs),
                                           per_agent=True), atol=1e-8)


@pytest.mark.parametrize("n", [1, 2, 4, 7])
def test_coordination_factored_equals_dense(n):
    d = fm.games.coordination(n, eps=0.2, gamma=0.9)
    f = fm.games.coordination(n, eps=0.2, gamma=0.9, representation="factored")
    assert isinstance(f, fm.FactoredGame) and isinstance(d, fm.MarkovGame)
    np.testing.assert_allclose(f.to_dense().transition, d.transition, atol=1e-15)
    theta = np.random.default_rng(n).normal(size=(n, 2 ** n, 2))
    pf, pd = fm.ProductPolicy.from_logits(f, theta), fm.ProductPolicy.from_logits(d, theta)
    ef, ed = fm.evaluate(f, pf), fm.evaluate(d, pd)
    np.testing.assert_allclose(ef.values, ed.values, atol=1e-9)
    np.testing.assert_allclose(ef.potential_values, ed.potential_values, atol=1e-9)
    assert abs(fm.nash_gap(f, pf) - fm.nash_gap(d, pd)) <= 1e-9


def test_coordination_past_dense_memory():
    g = fm.games.coordination(10)              # dense would need 8.6 GB
    assert isinstance(g, fm.FactoredGame) and g.n_states == 1024
    ev = fm.evaluate(g, fm.ProductPolicy.uniform(g))
    # the uniform policy makes every local state uniform next step: V = r(s) + gamma c / (1-gamma)
    # with c the mean team reward over uniformly random local states
    r = g.policy_rewards(fm.ProductPolicy.uniform(g))[0]
    c = r.mean()
    np.testing.assert_allclose(ev.values[0], r + g.gamma * c / (1 - g.gamma), rtol=1e-10)
    np.testing.assert_allclose(ev.visitation.sum(), 1 / (1 - g.gamma), rtol=1e-10)


def test_factored_step_samples_the_product_law():
    f, d = _pair(7, (2, 3), (2, 2), "local")
    rng = np.random.default_rng(0)
    B = 40_000
    s = np.full(B, 4)
    a = np.tile([[1, 0]], (B, 1))
    nxt, r = f.step(s, a, rng)
    freq = np.bincount(nxt, minlength=6) / B
    p = d.transition[4, np.ravel_multi_index((1, 0), (2, 2))]
    se = np.sqrt(p * (1 - p) / B)
    assert np.all(np.abs(freq - p) <= 5 * se + 1e-12)      # 5 standard errors, seed 0
    np.testing.assert_array_equal(r, np.tile(f.rewards[:, 4], (B, 1)))
    nxt_d, _ = d.step(s, a, np.random.default_rng(0))
    freq_d = np.bincount(nxt_d, minlength=6) / B
    assert np.all(np.abs(freq_d - p) <= 5 * se + 1e-12)


def test_factored_game_input_errors():
    with pytest.raises(TypeError, match="local_transitions must be a sequence"):
        fm.FactoredGame(np.ones((2, 2)), np.zeros((1, 2)), 0.9)
    with pytest.raises(ValueError, match=r"local_transitions\[1\]\[0, :\] sums to"):
        fm.FactoredGame([np.eye(2), np.array([[0.5, 0.4], [0.5, 0.5]])], np.zeros((2, 4)), 0.9)
    with pytest.raises(ValueError, match=r"rewards must have shape \(2, 4\) or \(2, 4, 4\)"):
        fm.FactoredGame([np.eye(2), np.eye(2)], np.zeros((2, 5)), 0.9)
    with pytest.raises(ValueError, match="first axis must be"):
        fm.FactoredGame([np.ones((3, 2, 2)) / 2, np.eye(2)], np.zeros((2, 4)), 0.9)
    g = fm.games.coordination(12)
    with pytest.raises(MemoryError, match="GiB"):
        g.to_dense()
