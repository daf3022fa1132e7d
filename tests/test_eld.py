"""ELD (001 Sec. 4.2) exactly: enumeration, the Lagrangian gradient (by finite
differences), eq. (10), (11), (13) by hand, and the bias of the printed estimator."""
import numpy as np
import pytest

import fairmg as fm
from fairmg import eld


@pytest.fixture(scope="module")
def small():
    g = fm.games.random_game(2, (2, 2), 0.9, rng=3)
    th = np.random.default_rng(0).normal(size=(2, 2, 2))
    return g, th


def test_episodes_are_a_distribution_and_match_rollouts(small):
    g, th = small
    pol = fm.ProductPolicy.from_logits(g, th)
    ep = eld.episodes(g, pol, 3)
    assert abs(ep.prob.sum() - 1.0) < 1e-14 and ep.rewards.shape == (len(ep.prob), 3, 2)
    # the exact mean undiscounted return matches a Monte Carlo one within 5 s.e.
    roll = fm.sampled.rollouts(g, pol, 20000, 3, seed=1)
    x = np.asarray(roll.rewards).sum(axis=0)
    exact = ep.prob @ ep.rewards.sum(axis=1)
    se = x.std(0, ddof=1) / np.sqrt(len(x))
    assert np.all(np.abs(x.mean(0) - exact) <= 5 * se)


@pytest.mark.parametrize("gamma", [None, 1.0])
def test_lagrangian_gradient_matches_finite_differences(small, gamma):
    g, th = small
    T, lam, tau, h = 3, 2.0, 0.1, 1e-6
    grad = eld.lagrangian_gradient(g, fm.ProductPolicy.from_logits(g, th), T, lam, tau,
                                   gamma=gamma)
    fd = np.zeros_like(grad)
    for idx in np.ndindex(th.shape):
        e = np.zeros_like(th)
        e[idx] = h
        up = eld.lagrangian(g, fm.ProductPolicy.from_logits(g, th + e), T, lam, 0.3, tau,
                            gamma=gamma)
        dn = eld.lagrangian(g, fm.ProductPolicy.from_logits(g, th - e), T, lam, 0.3, tau,
                            gamma=gamma)
        fd[idx] = (up[idx[0]] - dn[idx[0]]) / (2 * h)
    np.testing.assert_allclose(grad, fd, atol=1e-8)
    assert np.abs(grad).max() > 1e-3


def test_signals_dual_step_and_combined_advantage_by_hand():
    s = eld.identity_signals([[0.0, 0.3, 0.6], [0.0, 0.0, 0.0]])
    np.testing.assert_allclose(s, [[0.0, 0.15, 0.3], [0.0, 0.0, 0.0]])
    assert eld.dual_step(0.2, -0.5, 1.0) == 0.0 and eld.dual_step(0.2, 0.1, 2.0) == 0.4
    r = np.array([[[1.0, 0.0]], [[0.0, 2.0]]])           # T = 2, B = 1, N = 2
    A = eld.combined_advantages(r, 0.5, 2.0, np.array([[0.1, 0.3]]), signal="id",
                                alpha=1.0, b_eff=0.25, b_eq=0.05, s_bar=0.2)
    # G_eff: t=0 (1, 1), t=1 (0, 2); G_id: t=0 0.5 s, t=1 s
    hand = np.array([[[1 - 0.25 - 2 * (0.05 - 0.05) - 2 * (0.1 - 0.2),
                       1 - 0.25 - 2 * (0.15 - 0.05) - 2 * (0.3 - 0.2)]],
                     [[0 - 0.25 - 2 * (0.1 - 0.05) - 2 * (0.1 - 0.2),
                       2 - 0.25 - 2 * (0.3 - 0.05) - 2 * (0.3 - 0.2)]]])
    np.testing.assert_allclose(A, hand, atol=1e-15)


def test_team_cost_estimator_is_unbiased_and_the_printed_one_is_not(small):
    g, th = small
    pol = fm.ProductPolicy.from_logits(g, th)
    grad = eld.lagrangian_gradient(g, pol, 3, 2.0, 0.1, gamma=1.0)
    team = eld.expected_estimator(g, pol, 3, 2.0, 0.1, signal="eq", gamma=1.0)
    np.testing.assert_allclose(team, grad, atol=1e-13)
    printed = eld.expected_estimator(g, pol, 3, 2.0, 0.1, signal="id", alpha=1.0, gamma=1.0)
    assert np.abs(printed - grad).max() > 1e-2


def test_the_shrunk_counterexample_by_hand():
    """One step, one state, agent 1 paid 1 on (1, 1), uniform policies, tau = 0: x is
    (0, 0) or (0, 1), whose relative excess is uniform, so H_bar = 0 always and
    grad J_eq = 0; yet s = (1/4, 1/4) on (1, 1): the estimator carries
    -lambda E[grad log pi_i s_i] = lambda/32 (1, -1) per agent."""
    P = np.ones((1, 4, 1))
    R = np.array([[[0.0, 0.0, 0.0, 0.0]], [[0.0, 0.0, 0.0, 1.0]]])
    g = fm.MarkovGame(transition=P, rewards=R, gamma=0.0, initial=np.array([1.0]),
                      action_sizes=(2, 2))
    pol = fm.ProductPolicy.uniform(g)
    est = eld.expected_estimator(g, pol, 1, 0.5, 0.0, signal="id")
    grad = eld.lagrangian_gradient(g, pol, 1, 0.5, 0.0)
    np.testing.assert_allclose(grad[0, 0], [0.0, 0.0], atol=1e-15)      # agent 0: no reward
    np.testing.assert_allclose(grad[1, 0], [-0.125, 0.125], atol=1e-15)  # E[r grad log pi]
    np.testing.assert_allclose(est[0, 0], [0.5 / 32, -0.5 / 32], atol=1e-15)
    np.testing.assert_allclose(est[1, 0], [-0.125 + 0.5 / 32, 0.125 - 0.5 / 32],
                               atol=1e-15)


def test_bad_inputs():
    with pytest.raises(ValueError, match="rewards"):
        eld.combined_advantages(np.zeros((2, 3)), 0.9, 1.0, np.zeros((3,)))
    with pytest.raises(ValueError, match="hbar"):
        eld.combined_advantages(np.zeros((2, 1, 2)), 0.9, 1.0, np.zeros((1, 2)), signal="eq")
    with pytest.raises(ValueError, match="signal"):
        eld.combined_advantages(np.zeros((2, 1, 2)), 0.9, 1.0, np.zeros((1, 2)), signal="x")
