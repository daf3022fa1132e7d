"""f-divergence iteration, TVPO, practical TVPO and the unary formulation (003) on matrix
and Markov games, cross-checked with hand-written recursions and independent solvers."""
import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from scipy.optimize import fsolve
from scipy.special import expit

import fairmg as fm
from fairmg.dynamics import fdiv as F

FIG1 = (5.0, 7.0, 6.0, 4.0)


def gaps(a, b, c, d, p, q):
    """Q_A(0) - Q_A(1) and Q_B(0) - Q_B(1) of Table 1, written out by hand."""
    return (q * a + (1 - q) * b) - (q * c + (1 - q) * d), \
           (p * a + (1 - p) * c) - (p * b + (1 - p) * d)


def pq(run):
    return np.array([[x.probs[0, 0, 0], x.probs[1, 0, 0]] for x in run.policies])


def test_critic_is_the_fixed_point_of_its_operator_by_iteration():
    """Eq. (3) by plain value iteration of Gamma (a third, independent computation)."""
    g = fm.games.random_game(3, (2, 3), 0.8, rng=4, kind="general")
    pol = fm.ProductPolicy.from_logits(g, np.random.default_rng(1).normal(size=(2, 3, 3)))
    ev = fm.evaluate(g, pol)
    for i in range(2):
        P_i, r_i = g.agent_mdp(pol, i)
        pi = pol.probs[i, :, : g.action_sizes[i]]
        Q = np.zeros_like(r_i)
        for _ in range(400):
            Q = r_i + g.gamma * np.einsum("sat,tb,tb->sa", P_i, pi, Q)
        np.testing.assert_allclose(ev.local_q(i), Q, atol=1e-10)
        np.testing.assert_allclose(F.decentralized_critic(g, pol, i), Q, atol=1e-10)


def test_kl_iteration_matches_the_logit_recursion():
    g = F.alice_bob_game(*FIG1)
    omega, (p, q) = 0.7, (0.49, 0.76)
    run = F.fdiv_iteration(g, F.alice_bob_policy(g, p, q), "kl", omega, iters=15,
                           metrics=("values",))
    traj = [(p, q)]
    for _ in range(15):
        ga, gb = gaps(*FIG1, p, q)
        p, q = expit(np.log(p / (1 - p)) + ga / omega), expit(np.log(q / (1 - q)) + gb / omega)
        traj.append((p, q))
    np.testing.assert_allclose(pq(run), traj, atol=1e-12)
    a, b, c, d = FIG1
    reward = [p * q * a + p * (1 - q) * b + (1 - p) * q * c + (1 - p) * (1 - q) * d
              for p, q in traj]
    np.testing.assert_allclose(run.metrics["values"][:, 0], reward, atol=1e-12)


def test_chi2_iteration_matches_the_closed_form_step():
    """chi^2 without clipping: p' = p + p(1-p)(Q_A(0)-Q_A(1))/(2 omega)."""
    g = F.alice_bob_game(*FIG1)
    p, q, omega = 0.4, 0.8, 3.0
    run = F.fdiv_iteration(g, F.alice_bob_policy(g, p, q), "chi2", omega, iters=1,
                           metrics=())
    ga, gb = gaps(*FIG1, p, q)
    np.testing.assert_allclose(pq(run)[1], [p + p * (1 - p) * ga / (2 * omega),
                                            q + q * (1 - q) * gb / (2 * omega)], atol=1e-13)


@pytest.mark.parametrize("div", ["kl", "chi2", "hellinger"])
def test_fig1_outcomes(div):
    """Sec. 5.1: init_1, init_3 -> (0, 1); init_2, init_4 -> (1, 0)."""
    g = F.alice_bob_game(*FIG1)
    for (p, q), target in zip([(0.4, 0.8), (0.6, 0.6), (0.49, 0.76), (0.51, 0.74)],
                              [(0, 1), (1, 0), (0, 1), (1, 0)]):
        run = F.fdiv_iteration(g, F.alice_bob_policy(g, p, q), div, 1.0, iters=80,
                               metrics=())
        np.testing.assert_allclose(pq(run)[-1], target, atol=1e-4)


def test_tv_iteration_freezes_unless_omega_below_the_gap():
    g = F.alice_bob_game(*FIG1)
    pol = F.alice_bob_policy(g, 0.49, 0.76)           # both gaps are 0.04
    frozen = F.fdiv_iteration(g, pol, "tv", 0.05, iters=3, metrics=())
    np.testing.assert_array_equal(pq(frozen)[-1], [0.49, 0.76])
    moved = F.fdiv_iteration(g, pol, "tv", 0.03, iters=3, metrics=())
    np.testing.assert_array_equal(pq(moved)[1:], [[0.0, 1.0]] * 3)
    paper = F.tvpo(g, pol, iters=2, metrics=())
    assert paper.params["omega"] == pytest.approx(7.0)      # (N-1)M/N, M = 2*7/(1-0)
    np.testing.assert_array_equal(pq(paper)[-1], [0.49, 0.76])


def test_tvpo_paper_omega_cycles_on_anti_coordination():
    g = fm.games.matrix_game(np.array([[-1.0, 1.0], [1.0, -1.0]]))
    run = F.tvpo(g, F.alice_bob_policy(g, 0.1, 0.1), iters=4, metrics=("values",))
    np.testing.assert_allclose(run.metrics["values"][:, 0], [-0.64, -1, -1, -1, -1])
    np.testing.assert_array_equal(pq(run)[1:], [[1, 1], [0, 0], [1, 1], [0, 0]])
    safe = F.tvpo(g, F.alice_bob_policy(g, 0.1, 0.1), omega=F.tvpo_omega(g, "monotone"),
                  iters=2, metrics=("values",))
    np.testing.assert_allclose(safe.metrics["values"][:, 0], -0.64)


@settings(max_examples=10)
@given(st.integers(0, 10**6), st.sampled_from([2, 3]), st.sampled_from([0.0, 0.5]))
def test_tvpo_monotone_omega_never_decreases_values(seed, n, gamma):
    g0 = fm.games.random_game(2, (2,) * n, gamma, rng=seed, kind="identical")
    g = fm.MarkovGame(g0.transition, 2 * g0.rewards - 1, gamma, action_sizes=g0.action_sizes)
    pol = fm.ProductPolicy.from_logits(g, np.random.default_rng(seed).normal(
        size=(n, 2, 2)) * 2)
    run = F.tvpo(g, pol, omega=F.tvpo_omega(g, "monotone"), iters=4, metrics=())
    V = np.array([fm.evaluate(g, p).values[0] for p in run.policies])
    assert np.all(np.diff(V, axis=0) >= -1e-12)


def test_fdiv_step_on_a_markov_game_is_the_per_state_kl_formula():
    g = fm.games.random_game(3, (2, 3), 0.9, rng=11, kind="general")
    pol = fm.ProductPolicy.from_logits(g, np.random.default_rng(2).normal(size=(2, 3, 3)))
    run = F.fdiv_iteration(g, pol, "kl", 0.5, iters=1, metrics=("nash_gap",))
    ev = fm.evaluate(g, pol)
    for i, n in enumerate(g.action_sizes):
        w = pol.probs[i, :, :n] * np.exp(ev.local_q(i) / 0.5)
        np.testing.assert_allclose(run.final.probs[i, :, :n], w / w.sum(1, keepdims=True),
                                   atol=1e-12)
    assert run.metrics["nash_gap"].shape == (2,)


def test_decentralized_value_of_pi_against_itself_is_v_pi():
    """003: V_pi^pi = V^pi (the penalty vanishes and the mixture is pi)."""
    g = fm.games.random_game(3, (2, 2, 2), 0.7, rng=3, kind="identical")
    pol = fm.ProductPolicy.from_logits(g, np.random.default_rng(0).normal(size=(3, 3, 2)))
    np.testing.assert_allclose(F.decentralized_value(g, pol, pol, "tv", 1.3),
                               fm.evaluate(g, pol).values[0], atol=1e-12)
    with pytest.raises(ValueError, match="shared reward"):
        gg = fm.games.random_game(2, (2, 2), 0.5, rng=1, kind="general")
        F.decentralized_value(gg, fm.ProductPolicy.uniform(gg),
                              fm.ProductPolicy.uniform(gg), "kl", 1.0)


def test_unary_case_2_fixed_point():
    """App. E.2: omega = 1 gives the paper's (0.773, 0.227); its omega = 0.1 does not."""
    a, b, c, d = 5.0, 6.0, 3.0, 5.0
    g = F.alice_bob_game(a, b, c, d)
    for omega in (1.0, 0.1):
        def fp(x):
            ga, gb = gaps(a, b, c, d, *x)
            return [x[0] - expit(ga / omega), x[1] - expit(gb / omega)]
        ref = fsolve(fp, [0.5, 0.5], xtol=1e-12)
        run = F.unary_iteration(g, F.alice_bob_policy(g, 0.5, 0.1), "entropy", omega,
                                iters=60, metrics=())
        np.testing.assert_allclose(pq(run)[-1], ref, atol=1e-9)
        if omega == 1.0:
            np.testing.assert_allclose(ref, [0.773, 0.227], atol=5e-4)
        else:
            assert ref[0] > 0.999 and ref[1] < 1e-3


def test_unary_case_3_oscillates_at_the_papers_omega():
    g = F.alice_bob_game(7.0, 5.0, 4.0, 6.0)
    run = F.unary_iteration(g, F.alice_bob_policy(g, 0.5, 0.1), "entropy", 0.1, iters=12,
                            metrics=())
    x = pq(run)[4:]
    assert np.all(np.abs(np.diff(x[:, 0])) > 0.99)         # p jumps between ~0 and ~1


def test_practical_tvpo_adapts_beta():
    g = F.alice_bob_game(*FIG1)
    run = F.practical_tvpo(g, F.alice_bob_policy(g, 0.6, 0.6), iters=3, metrics=())
    betas = np.array([b for _, b in run.states])
    # first step: gaps 0.6, 0.4 > beta0 = 0.01, everything moves (TV 0.4) -> beta doubles
    np.testing.assert_allclose(betas[0], [0.01, 0.01])
    np.testing.assert_allclose(betas[1], [0.02, 0.02])
    np.testing.assert_allclose(pq(run)[1], [1.0, 0.0])
    # then nothing moves (a corner): beta halves
    np.testing.assert_allclose(betas[2], [0.01, 0.01])


@pytest.mark.parametrize("call, msg", [
    (lambda g, p: F.fdiv_iteration(g, p, "kl", omega=-1.0), "omega"),
    (lambda g, p: F.fdiv_iteration(g, p, "js"), "divergence"),
    (lambda g, p: F.fdiv_iteration(g, p.probs), "pol0"),
    (lambda g, p: F.unary_iteration(g, p, "l2"), "regularizer"),
    (lambda g, p: F.tvpo(g, p, omega=float("nan")), "omega"),
    (lambda g, p: F.practical_tvpo(g, p, alpha=0.5), "alpha"),
    (lambda g, p: F.fdiv_iteration(g, p, iters=-1), "iters"),
])
def test_input_validation(call, msg):
    g = F.alice_bob_game(*FIG1)
    with pytest.raises((ValueError, TypeError), match=msg):
        call(g, F.alice_bob_policy(g, 0.5, 0.5))


def test_reproduce_quick(tmp_path):
    from fairmg.reproduce import reproduce

    for fid in ("fdiv-fig1", "fdiv-fig6"):
        png, csv = reproduce(fid, tmp_path, quick=True, progress=False)
        assert png.stat().st_size > 10_000
        head = csv.read_text().splitlines()[:4]
        assert head[0].startswith("# 003 Fig.")
