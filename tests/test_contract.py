"""The public API contract of DESIGN.md, call by call: names, argument names and shapes."""
import numpy as np
import pytest

import fairmg as fm


@pytest.fixture(scope="module")
def game():
    rg = fm.games.random_game(3, (2, 3), 0.9, rng=0)
    P, R, mu = rg.transition, rg.rewards, rg.initial
    return fm.MarkovGame(transition=P, rewards=R, gamma=0.95, initial=mu, action_sizes=(2, 3))


def test_games_and_policies(game):
    N, S, A = 2, 3, 6
    assert (game.n_agents, game.n_states, game.transition.shape) == (N, S, (S, A, S))
    g = fm.games.coordination(n_agents=3, eps=0.1, gamma=0.95)
    assert (g.n_states, g.gamma) == (8, 0.95)
    assert fm.games.matrix_game(np.zeros((2, 3))).gamma == 0.0
    assert fm.games.matrix_game(np.zeros((2, 2, 3)), per_agent=True).n_states == 1
    for kind in ("general", "identical", "potential"):
        assert fm.games.random_game(4, (2, 2), 0.9, rng=np.random.default_rng(1),
                                    kind=kind).n_states == 4
    theta = np.zeros((N, S, 3))
    probs = fm.ProductPolicy.from_logits(game, theta).probs
    assert probs.shape == (N, S, 3) and np.all(probs[0, :, 2] == 0)
    pol = fm.ProductPolicy(game, probs)
    np.testing.assert_array_equal(pol.probs, fm.ProductPolicy.uniform(game).probs)


def test_evaluation_and_equilibria(game):
    pol = fm.ProductPolicy.uniform(game)
    ev = fm.evaluate(game, pol)
    assert ev.values.shape == (2, 3) and ev.q.shape == (2, 3, 6)
    assert ev.visitation.shape == (3,) and ev.value_at_initial.shape == (2,)
    assert ev.local_advantage(1).shape == (3, 3)
    values, row = fm.best_response(game, pol, 1)
    assert values.shape == (3,) and row.shape == (3, 3)
    assert set(np.unique(row)) <= {0.0, 1.0} and np.all(row.sum(1) == 1)
    assert isinstance(fm.nash_gap(game, pol), float)
    assert fm.nash_gap(game, pol, per_agent=True).shape == (2,)
    value, joint = fm.social_optimum(game)
    assert np.isscalar(value) or np.ndim(value) == 0
    assert isinstance(fm.price_of_anarchy(fm.games.coordination(2), fm.ProductPolicy.uniform(
        fm.games.coordination(2))), float)


def test_dynamics_runs():
    g = fm.games.coordination(n_agents=2)
    theta0 = np.random.default_rng(0).normal(size=(2, 4, 2))
    iters = 3
    for run in (fm.dynamics.softmax_pg(g, theta0, lr=0.1, iters=iters, log_barrier=0.0),
                fm.dynamics.npg(g, theta0, lr=0.1, iters=iters),
                fm.dynamics.npg_best_response(g, theta0, inner_steps=5, lr=1.0, iters=iters)):
        for key in ("nash_gap", "poa", "potential"):
            assert len(run.metrics[key]) == iters + 1
        assert isinstance(run.policies[-1], fm.ProductPolicy)
        assert run.thetas[-1].shape == theta0.shape
    m = fm.games.matrix_game(np.array([[5.0, 0.0], [7.0, 6.0]]))
    pol0 = fm.ProductPolicy.uniform(m)
    runs = [fm.dynamics.fdiv_iteration(m, pol0, divergence=d, omega=1.0, iters=iters)
            for d in ("kl", "tv", "chi2", "hellinger")]
    runs.append(fm.dynamics.tvpo(m, pol0, omega=None, iters=iters))
    runs += [fm.dynamics.unary_iteration(m, pol0, regularizer=r, omega=1.0, iters=iters)
             for r in ("entropy", "tsallis")]
    for run in runs:
        assert all(len(run.metrics[k]) == iters + 1 for k in ("nash_gap", "poa", "potential"))
        assert isinstance(run.policies[-1], fm.ProductPolicy)


def test_fairness_calls():
    x = np.array([1.0, 2.0, 3.0, 6.0])
    assert np.ndim(fm.fairness.mre(x, tau=0.0)) == 0
    rep = fm.fairness.equity_report(x, 0.1)
    for attr in ("excess", "total_excess", "incidence_rate", "q_inc", "h_inc", "q_mag",
                 "h_mag", "mre", "mre_normalized", "identity_signal"):
        assert np.all(np.isfinite(getattr(rep, attr)))
    for f in (fm.fairness.gini, fm.fairness.cv, fm.fairness.jain, fm.fairness.theil):
        assert np.isfinite(f(x))
    assert np.isfinite(fm.fairness.atkinson(x, eps=0.5))
