"""The vectorized NumPy baseline (fairmg.testing.vectorized) against the loop oracle
(fairmg.testing.reference) and fairmg's public API, to 1e-10."""
import numpy as np
import pytest

import fairmg as fm
from fairmg.testing import reference as ref
from fairmg.testing import vectorized as vec

TOL = dict(rtol=0, atol=1e-10)

#: (states, action sizes, gamma, seed): equal and unequal sizes, one agent, an agent with
#: one action, odd agent counts (the divide and conquer splits unevenly).
CASES = [(5, (2, 3), 0.9, 0), (4, (3,), 0.95, 1), (6, (2, 3, 2), 0.9, 2),
         (3, (2, 2, 2, 2), 0.8, 3), (7, (1, 3, 2), 0.99, 4), (4, (2, 1, 2, 3, 2), 0.9, 5)]


def _npg(g, theta, lr, iters):
    """fm.dynamics.npg recording the Nash-gap and POA (the games here carry no potential)."""
    try:
        return fm.dynamics.npg(g, theta, lr=lr, iters=iters, metrics=("nash_gap", "poa"))
    except TypeError:       # an engine without metrics=
        return fm.dynamics.npg(g, theta, lr=lr, iters=iters)


def _dense(g):
    return (np.ascontiguousarray(g.transition), np.ascontiguousarray(g.rewards), g.gamma,
            np.ascontiguousarray(g.initial))


@pytest.fixture(params=CASES, ids=lambda c: f"S{c[0]}-{'x'.join(map(str, c[1]))}")
def case(request):
    S, sizes, gamma, seed = request.param
    rng = np.random.default_rng(seed)
    g = fm.games.random_game(S, sizes, gamma, rng=rng)
    theta = 2.0 * rng.normal(size=(len(sizes), S, max(sizes)))
    return g, fm.ProductPolicy.from_logits(g, theta), theta


def test_joint_policy_and_softmax(case):
    g, pol, theta = case
    probs = vec.softmax(theta, g.action_sizes)
    np.testing.assert_allclose(probs, pol.probs, **TOL)
    np.testing.assert_allclose(vec.joint_policy(probs, g.action_sizes),
                               ref.joint_policy(probs, g.action_sizes), **TOL)


def test_evaluate(case):
    g, pol, _ = case
    P, R, gamma, mu = _dense(g)
    got = vec.evaluate(P, R, gamma, mu, pol.probs, g.action_sizes)
    for a, b in zip(got, ref.evaluate(P, R, gamma, mu, pol.probs, g.action_sizes)):
        np.testing.assert_allclose(a, b, **TOL)
    ev = fm.evaluate(g, pol)
    for a, b in zip(got, (ev.values, ev.q, ev.local_qs, ev.visitation)):
        np.testing.assert_allclose(a, b, **TOL)
    assert got[3].sum() == pytest.approx(1 / (1 - gamma))


@pytest.mark.parametrize("fused", [False, True])
def test_agent_mdps(case, fused):
    g, pol, _ = case
    P, R, gamma, mu = _dense(g)
    sizes = g.action_sizes
    PR = np.concatenate([P, R.transpose(1, 2, 0)], axis=2) if fused else None
    Ps, rs, P_pi, r_pi = vec.agent_mdps(P, R, pol.probs, sizes, PR)
    for i in range(g.n_agents):
        P_ref, r_ref = ref.agent_mdp(P, R, pol.probs, sizes, i)
        np.testing.assert_allclose(Ps[i], P_ref, **TOL)
        np.testing.assert_allclose(rs[i], r_ref, **TOL)
        P_i, r_i = vec.agent_mdp(P, R[i], pol.probs, sizes, i)
        np.testing.assert_allclose(P_i, P_ref, **TOL)
        np.testing.assert_allclose(r_i, r_ref, **TOL)
    pij = ref.joint_policy(pol.probs, sizes)
    np.testing.assert_allclose(P_pi, np.einsum("sa,sat->st", pij, P), **TOL)
    np.testing.assert_allclose(r_pi, np.einsum("sa,isa->is", pij, R), **TOL)


def test_nash_gap_and_best_responses(case):
    g, pol, _ = case
    P, R, gamma, mu = _dense(g)
    sizes = g.action_sizes
    gaps = vec.nash_gap(P, R, gamma, mu, pol.probs, sizes, per_agent=True)
    np.testing.assert_allclose(gaps, np.maximum(
        ref.nash_gap(P, R, gamma, mu, pol.probs, sizes, per_agent=True), 0.0), **TOL)
    np.testing.assert_allclose(gaps, fm.nash_gap(g, pol, per_agent=True), **TOL)
    assert vec.nash_gap(P, R, gamma, mu, pol.probs, sizes) == pytest.approx(gaps.max(),
                                                                            abs=1e-12)
    for i in range(g.n_agents):
        values, at_mu, _ = vec.best_response_value(P, R, gamma, mu, pol.probs, sizes, i)
        br = fm.best_response(g, pol, i)
        np.testing.assert_allclose(values, br.values, **TOL)
        assert at_mu == pytest.approx(br.value_at_initial, abs=1e-10)


def test_solve_mdp_and_social_optimum(case):
    g, _, _ = case
    P, R, gamma, mu = _dense(g)
    r = R.sum(axis=0)
    v, policy, iterations = vec.solve_mdp(P, r, gamma)
    np.testing.assert_allclose(v, ref.policy_iteration(P, r, gamma), **TOL)
    np.testing.assert_allclose(v, ref.value_iteration(P, r, gamma, tol=1e-11), atol=1e-10)
    np.testing.assert_allclose(v, fm.solve_mdp(P, r, gamma).values, **TOL)
    S = P.shape[0]
    np.testing.assert_allclose(  # the returned policy attains v
        np.linalg.solve(np.eye(S) - gamma * P[np.arange(S), policy],
                        r[np.arange(S), policy]), v, **TOL)
    assert iterations >= 1
    value, values, _ = vec.social_optimum(P, R, gamma, mu)
    opt = fm.social_optimum(g)
    assert value == pytest.approx(opt.value, abs=1e-10)
    np.testing.assert_allclose(values, opt.values, **TOL)


def test_solve_mdp_warm_start_and_larger_mdp():
    g = fm.games.random_game(60, (7,), 0.97, rng=11, sparsity=0.5)
    P, r = np.ascontiguousarray(g.transition), np.ascontiguousarray(g.rewards[0])
    v, policy, _ = vec.solve_mdp(P, r, g.gamma)
    np.testing.assert_allclose(v, fm.solve_mdp(P, r, g.gamma).values, **TOL)
    v2, _, iterations = vec.solve_mdp(P, r, g.gamma, init=policy)
    np.testing.assert_allclose(v2, v, **TOL)
    assert iterations == 1


def test_npg_step_and_run_match_fairmg(case):
    g, _, theta = case
    P, R, gamma, mu = _dense(g)
    run = _npg(g, theta, 0.3, 15)
    np.testing.assert_allclose(vec.npg_step(theta, P, R, gamma, mu, g.action_sizes, 0.3),
                               run.thetas[1], **TOL)
    final, metrics = vec.npg_run(P, R, gamma, mu, theta, g.action_sizes, 0.3, 15)
    np.testing.assert_allclose(final, run.thetas[-1], atol=1e-9)
    np.testing.assert_allclose(metrics["nash_gap"], run.metrics["nash_gap"], atol=1e-10)
    np.testing.assert_allclose(metrics["poa"], run.metrics["poa"], atol=1e-10)
    bare, none = vec.npg_run(P, R, gamma, mu, theta, g.action_sizes, 0.3, 15,
                             with_metrics=False)
    assert none == {}
    np.testing.assert_allclose(bare, final, atol=1e-12)


def test_npg_run_coordination_matches_fairmg():
    g = fm.games.coordination(4)
    P, R, gamma, mu = _dense(g)
    theta = np.random.default_rng(0).normal(size=(4, g.n_states, 2))
    run = _npg(g, theta, 0.1, 30)
    final, metrics = vec.npg_run(P, R, gamma, mu, theta, g.action_sizes, 0.1, 30)
    np.testing.assert_allclose(final, run.thetas[-1], atol=1e-10)
    for k in ("nash_gap", "poa"):
        np.testing.assert_allclose(metrics[k], run.metrics[k], atol=1e-10)


def test_npg_where_the_visitation_vanishes():
    """mu with zeros and an absorbing state: d(s) = 0 there and the Moore-Penrose step
    leaves those logits unchanged (as fairmg)."""
    S, sizes = 4, (2, 2)
    rng = np.random.default_rng(7)
    P = rng.dirichlet(np.ones(S), size=(S, 4))
    P[:, :, 3] = 0.0                      # state 3 is never entered ...
    P /= P.sum(axis=2, keepdims=True)
    mu = np.array([0.5, 0.5, 0.0, 0.0])   # ... nor started in
    R = rng.random((2, S, 4))
    g = fm.MarkovGame(transition=P, rewards=R, gamma=0.9, initial=mu, action_sizes=sizes)
    theta = rng.normal(size=(2, S, 2))
    run = _npg(g, theta, 0.5, 5)
    final, metrics = vec.npg_run(P, R, 0.9, mu, theta, sizes, 0.5, 5)
    np.testing.assert_allclose(final, run.thetas[-1], atol=1e-10)
    np.testing.assert_allclose(final[:, 3], theta[:, 3], atol=0)
    np.testing.assert_allclose(metrics["nash_gap"], run.metrics["nash_gap"], atol=1e-10)
    np.testing.assert_allclose(vec.npg_step(theta, P, R, 0.9, mu, sizes, 0.5),
                               run.thetas[1], atol=1e-12)


def test_random_game():
    P, R, mu = vec.random_game(9, (2, 3), rng=3)
    assert P.shape == (9, 6, 9) and R.shape == (2, 9, 6) and mu.shape == (9,)
    assert np.all(P >= 0) and np.allclose(P.sum(axis=2), 1.0, atol=1e-14)
    assert np.all((R >= 0) & (R < 1)) and mu.sum() == pytest.approx(1.0)
    P2, R2, _ = vec.random_game(9, (2, 3), rng=3)
    assert np.array_equal(P, P2) and np.array_equal(R, R2)
    g = fm.MarkovGame(transition=P, rewards=R, gamma=0.9, initial=mu, action_sizes=(2, 3))
    pol = fm.ProductPolicy.uniform(g)
    assert vec.nash_gap(P, R, 0.9, mu, pol.probs, (2, 3)) == pytest.approx(
        fm.nash_gap(g, pol), abs=1e-10)


# -- fairmg bench: selection, output, limits (no timing asserted) ----------------------------
def test_bench_groups_are_listed_for_an_unknown_name():
    from fairmg.bench import _select, groups

    known = groups()
    assert {"npg", "nash_gap", "construction", "mdp", "figure1"} <= set(known)
    assert _select(None, known) == ["npg", "nash_gap", "construction", "mdp", "rollouts",
                                    "updates", "envs"]
    assert _select("core", known) == ["nash_gap", "construction", "mdp"]
    assert _select("npg,mdp", known) == ["npg", "mdp"]
    with pytest.raises(ValueError, match="unknown.*npg.*nash_gap.*figure1"):
        _select("nope", known)


def _machine():
    from fairmg.bench.machine import Machine

    return Machine(gemm_gflops=50.0, lu_gflops=20.0, llc_gbs=40.0, mem_gbs=10.0,
                   llc_bytes=32 << 20)


def test_bench_limits():
    from fairmg.bench import machine as mc

    m = _machine()
    # a compute-bound phase at the best rate, a memory-bound one at the memory's bandwidth
    assert m.seconds([(1e9, 0, "lu")]) == pytest.approx(1e9 / 50e9)
    assert m.seconds([(0.0, 1 << 30, "gemm")]) == pytest.approx((1 << 30) / 10e9)
    assert m.seconds([(0.0, 1 << 20, "gemm")]) == pytest.approx((1 << 20) / 40e9)
    assert mc.lu_flops(300) == pytest.approx(2 / 3 * 300**3)
    small, big = (m.seconds(mc.nash_gap_phases(S, (4, 4, 4))) for S in (50, 200))
    assert 0 < small < big
    one = m.seconds(mc.nash_gap_phases(32, (2,) * 5))
    assert m.seconds(mc.npg_phases(32, (2,) * 5, 10)) > 11 * one
    assert m.seconds(mc.mdp_phases(1024, 32, 3)) > m.seconds(mc.mdp_phases(1024, 32, 2))
    assert m.seconds(mc.construction_phases(200, (4, 4, 4))) > 0


def test_bench_run_prints_tables_and_progress(monkeypatch):
    import fairmg.bench as bench
    from fairmg.bench import Group, Row, Timing, machine

    def fake(quick):
        yield Row("case A", Timing(0.002, 0.5, 5), {"numpy": 0.01}, [(5e7, 0, "lu")],
                  ("numpy", 5.0))
        yield Row("case B", Timing(0.004, 0.004, 5), {"numpy": 0.002, "quantecon": 0.006},
                  None, ("quantecon", 1.5), extra={"col": "v"}, note="a note")

    monkeypatch.setitem(bench._REGISTRY, "fake", Group("fake", fake, "a fake group", (1, 1),
                                                       default=False, order=999))
    monkeypatch.setattr(machine, "measure", lambda quick=False: _machine())
    out, err = [], []
    rows = bench.run_benchmarks(only="fake", echo=out.append, progress=err.append)
    assert [r.case for r in rows] == ["case A", "case B"]
    text = "\n".join(out)
    assert "GEMM 50.0 GFLOP/s" in text and "== fake: a fake group" in text
    for cell in ("fairmg ms", "1st call ms", "numpy ms", "vs numpy", "quantecon ms",
                 "limit ms", "fairmg/limit", "5.00x", "0.50x", "1.50x", ">=5x numpy: met",
                 ">=1.5x quantecon: met", "a note"):
        assert cell in text, cell
    assert rows[0].ratio("numpy") == pytest.approx(5.0) and rows[0].meets_target
    assert err[0].startswith("fairmg bench: 1 group(s) (fake), expected ~")
    assert any("[1/1] fake done in" in e for e in err)
    assert "fake" not in bench._select(None, bench.groups())    # opt-in
