"""The open driver: injected evaluators, observers, keep, batches (engine v2)."""
import warnings

import numpy as np
import pytest

import fairmg as fm


def test_batched_runs_equal_single_runs():
    g = fm.games.coordination(3)
    theta = np.random.default_rng(0).normal(size=(4, 3, 8, 2))
    batch = fm.dynamics.npg(g, theta, lr=0.3, iters=30)
    assert batch.batch == 4 and batch.metrics["nash_gap"].shape == (31, 4)
    for b in range(4):
        single = fm.dynamics.npg(g, theta[b], lr=0.3, iters=30)
        for k, v in single.metrics.items():
            np.testing.assert_allclose(batch.metrics[k][:, b], v, atol=1e-12)
        np.testing.assert_allclose(batch[b].thetas[-1], single.thetas[-1], atol=1e-12)
        np.testing.assert_allclose(batch[b].policies[-1].probs, single.final.probs, atol=1e-12)


def test_batched_pg_on_a_factored_game_matches_dense():
    d = fm.games.coordination(3)
    f = fm.games.coordination(3, representation="factored")
    theta = np.random.default_rng(1).normal(size=(2, 3, 8, 2))
    rd = fm.dynamics.softmax_pg(d, theta, lr=0.5, iters=10)
    rf = fm.dynamics.softmax_pg(f, theta, lr=0.5, iters=10)
    for k in rd.metrics:
        np.testing.assert_allclose(rf.metrics[k], rd.metrics[k], atol=1e-9)


def test_metrics_are_validated():
    g = fm.games.coordination(2)
    theta = np.zeros((2, 4, 2))
    with pytest.raises(ValueError, match="metric 'bogus' is unknown"):
        fm.dynamics.npg(g, theta, iters=1, metrics=["bogus"])
    run = fm.dynamics.npg(g, theta, iters=2, metrics="poa")      # a string is one name
    assert list(run.metrics) == ["poa"]
    with pytest.raises(ValueError, match="metric 'bogus' is unknown"):
        fm.dynamics.record_metrics(g, fm.evaluate(g, fm.ProductPolicy.uniform(g)), ["bogus"])
    with pytest.raises(TypeError, match="metrics must be"):
        fm.dynamics.npg(g, theta, iters=1, metrics=3)


def test_undefined_poa_is_said_once_or_refused():
    g = fm.games.matrix_game(-np.ones((2, 2)))                  # social optimum < 0
    pol_theta = np.zeros((2, 1, 2))
    with pytest.raises(ValueError, match="metric 'poa' is undefined.*social optimum is -2 <= 0"):
        fm.dynamics.npg(g, pol_theta, iters=1, metrics=["poa"])
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        run = fm.dynamics.npg(g, pol_theta, iters=3)
    assert "poa" not in run.metrics
    assert any("poa" in n for n in run.notes)
    assert sum("poa" in str(w.message) for w in caught) == 1


def test_custom_observer_and_evaluator():
    g = fm.games.coordination(2)
    calls = []

    def counting(game, probs):
        calls.append(np.shape(probs))
        return fm.dynamics.evaluate_batch(game, probs)

    def entropy(game, bev):
        p = np.where(bev.probs > 0, bev.probs, 1.0)
        return -(bev.probs * np.log(p)).sum(axis=(1, 2, 3))

    run = fm.dynamics.npg(g, np.zeros((2, 4, 2)), iters=5, evaluator=counting,
                          metrics=["nash_gap", entropy])
    assert len(calls) == 6 and calls[0] == (1, 2, 4, 2)
    np.testing.assert_allclose(run.metrics["entropy"][0], 2 * 4 * np.log(2))
    assert np.all(np.diff(run.metrics["entropy"]) <= 1e-12)   # NPG sharpens this game


@pytest.mark.parametrize("keep, kept", [("all", list(range(11))), ("last", [10]),
                                        (4, [0, 4, 8, 10])])
def test_keep_schedules(keep, kept):
    g = fm.games.coordination(2)
    run = fm.dynamics.softmax_pg(g, np.zeros((2, 4, 2)), iters=10, keep=keep)
    assert run.kept == kept and len(run.thetas) == len(kept) == len(run.policies)
    assert run.metrics["nash_gap"].shape == (11,)
    with pytest.raises(ValueError, match="keep must be"):
        fm.dynamics.softmax_pg(g, np.zeros((2, 4, 2)), iters=1, keep="sometimes")


def test_results_index_like_tuples():
    g = fm.games.coordination(2)
    pol = fm.ProductPolicy.uniform(g)
    opt = fm.social_optimum(g)
    assert opt[0] == opt.value and opt[1] is opt.policy and len(opt) == 2
    value, policy = opt
    assert value == opt.value
    br = fm.best_response(g, pol, 0)
    assert br[0] is br.values and br[1] is br.row and br[-1] is br.row
    sol = fm.solve_mdp(*g.agent_mdp(pol, 0), g.gamma)
    assert sol[0] is sol.values and sol[1] is sol.actions
