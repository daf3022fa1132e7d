"""The sampled mode (issue 15, first slice) against the exact engine.

Statistical checks use CLT tolerances: an estimate passes when it is within K = 5 standard
errors (plus the stated truncation-bias bound) of the exact value; with fixed seeds they are
deterministic, and a correct estimator fails one at rate ~6e-7 per entry.
"""
import numpy as np
import pytest

import fairmg as fm
from fairmg import sampled
from fairmg.dynamics.pg import policy_gradient

xps = pytest.importorskip("array_api_strict")

K = 5   # standard errors


@pytest.fixture(scope="module")
def dense():
    g = fm.games.random_game(4, (2, 3), 0.9, rng=0)
    theta = np.random.default_rng(1).normal(size=(2, 4, 3))
    return g, fm.ProductPolicy.from_logits(g, theta)


@pytest.fixture(scope="module")
def factored():
    g = fm.games.random_factored_game((2, 2), (2, 2), 0.85, rng=3)
    theta = np.random.default_rng(2).normal(size=(2, 4, 2))
    return g, fm.ProductPolicy.from_logits(g, theta)


def _within(est, se, exact, bias=0.0):
    err = np.abs(np.asarray(est) - np.asarray(exact))
    assert np.all(err <= K * np.asarray(se) + bias), (est, exact, se, bias)


# -- Monte Carlo values --------------------------------------------------------------
@pytest.mark.parametrize("which", ["dense", "factored"])
def test_mc_values_converge_to_exact(which, request):
    g, pol = request.getfixturevalue(which)
    exact = fm.evaluate(g, pol).value_at_initial
    est = sampled.estimate_values(g, pol, n_envs=8000, seed=5)
    mean, se = est                                    # unpacks like a tuple
    assert mean.shape == se.shape == (g.n_agents,)
    assert est.bias_bound <= sampled.BIAS_TOL
    assert np.all(se > 0) and np.all(se < 0.05)
    _within(mean, se, exact, est.bias_bound)


def test_stderr_is_calibrated(dense):
    # z = (mean - V) / se over 40 seeds and 2 agents: E[z^2] = 1, sd of the mean of 80
    # squares sqrt(2 / 80) (chi-square), checked to K of those sd
    g, pol = dense
    exact = fm.evaluate(g, pol).value_at_initial
    z = np.concatenate([(e.mean - exact) / e.stderr for e in
                        (sampled.estimate_values(g, pol, 300, seed=s) for s in range(40))])
    assert abs(np.mean(z ** 2) - 1.0) <= K * np.sqrt(2.0 / z.size), np.mean(z ** 2)


def test_truncation_horizon_is_the_smallest():
    for gamma, r_max, tol in [(0.9, 1.0, 1e-3), (0.99, 3.0, 1e-4), (0.5, 0.1, 1e-2)]:
        T = sampled.truncation_horizon(gamma, r_max, tol)
        assert gamma ** T * r_max / (1 - gamma) <= tol
        assert T == 1 or gamma ** (T - 1) * r_max / (1 - gamma) > tol
    assert sampled.truncation_horizon(0.0, 5.0) == 1


def test_rollout_shapes_and_masks(dense):
    g, pol = dense
    r = sampled.rollouts(g, pol, n_envs=7, horizon=5, seed=0)
    assert r.states.shape == (6, 7) and r.actions.shape == (5, 7, 2)
    assert r.rewards.shape == (5, 7, 2) and r.truncated.shape == (5, 7)
    assert r.truncated[-1].all() and not r.truncated[:-1].any()
    assert r.states.min() >= 0 and r.states.max() < g.n_states
    assert np.all(r.actions < np.array(g.action_sizes))
    # rewards are the game's r^i(s_t, a_t)
    joint = np.ravel_multi_index(tuple(np.moveaxis(r.actions, -1, 0)), g.action_sizes)
    np.testing.assert_array_equal(r.rewards, np.moveaxis(g.rewards[:, r.states[:-1], joint],
                                                         0, -1))
    again = sampled.rollouts(g, pol, n_envs=7, horizon=5, seed=0)
    np.testing.assert_array_equal(r.states, again.states)


def test_deterministic_policy_follows_the_transition():
    # two states, one agent, action k moves to state k: the policy always plays 1
    P = np.zeros((2, 2, 2))
    P[:, 0, 0] = 1.0
    P[:, 1, 1] = 1.0
    R = np.array([[[0.0, 1.0], [0.0, 1.0]]])
    g = fm.MarkovGame(P, R, 0.5, initial=[1.0, 0.0])
    pol = fm.ProductPolicy.deterministic(g, np.array([[1, 1]]))
    r = sampled.rollouts(g, pol, 3, 4, seed=0)
    assert np.all(r.states[0] == 0) and np.all(r.states[1:] == 1) and np.all(r.actions == 1)
    est = sampled.estimate_values(g, pol, n_envs=2, seed=0)
    np.testing.assert_allclose(est.mean, fm.evaluate(g, pol).value_at_initial,
                               atol=est.bias_bound)
    assert np.all(est.stderr == 0)


# -- the sampled policy gradient ------------------------------------------------------
@pytest.mark.parametrize("use_baseline", [False, True])
def test_reinforce_gradient_is_unbiased(use_baseline):
    g = fm.games.random_game(3, (2, 2), 0.8, rng=0)
    pol = fm.ProductPolicy.from_logits(g, np.random.default_rng(0).normal(size=(2, 3, 2)))
    ev = fm.evaluate(g, pol)
    exact = policy_gradient(ev)
    T = 60      # truncation bias <= T gamma^T r_max / (1 - gamma) ~ 4e-4 << one s.e.
    r = sampled.rollouts(g, pol, n_envs=12000, horizon=T, seed=11)
    base = ev.values if use_baseline else None
    per = sampled.reinforce_gradient(pol.probs, r.states, r.actions, r.rewards, g.gamma,
                                     baseline=base, per_episode=True)
    mean = per.mean(axis=0)
    se = per.std(axis=0, ddof=1) / np.sqrt(per.shape[0])
    bias = T * g.gamma ** T * g.max_abs_reward / (1 - g.gamma)
    _within(mean, se, exact, bias)
    reduced = sampled.reinforce_gradient(pol.probs, r.states, r.actions, r.rewards, g.gamma,
                                         baseline=base)
    np.testing.assert_allclose(reduced, mean, rtol=1e-10, atol=1e-12)
    assert np.all(reduced[~np.broadcast_to(g.action_mask[:, None, :], reduced.shape)] == 0)


# -- GAE and returns on hand-made arrays --------------------------------------------
def _hand_arrays():
    # dyadic numbers and gamma = lam-friendly powers of 2: every operation is exact
    rewards = np.array([[1.0, -2.0], [0.5, 4.0], [3.0, 0.25], [-1.0, 1.0]])   # (T=4, B=2)
    values = np.array([[2.0, 1.0], [0.5, -1.0], [4.0, 2.0], [1.0, 0.0], [8.0, -4.0]])
    return rewards, values


def test_gae_lambda_one_is_the_mc_return():
    rewards, values = _hand_arrays()
    adv, ret = sampled.gae(rewards, values, 0.5, 1.0)
    mc = sampled.discounted_returns(rewards, 0.5, bootstrap=values[-1])
    np.testing.assert_array_equal(ret, mc)
    np.testing.assert_array_equal(adv, mc - values[:-1])
    # and with no bootstrap the MC return is the plain discounted sum
    plain = sampled.discounted_returns(rewards, 0.5)
    np.testing.assert_array_equal(plain[0], rewards[0] + 0.5 * rewards[1] + 0.25 * rewards[2]
                                  + 0.125 * rewards[3])


def test_gae_lambda_zero_is_td0():
    rewards, values = _hand_arrays()
    adv, ret = sampled.gae(rewards, values, 0.5, 0.0)
    np.testing.assert_array_equal(adv, rewards + 0.5 * values[1:] - values[:-1])
    np.testing.assert_array_equal(adv, sampled.td_errors(rewards, values, 0.5))
    np.testing.assert_array_equal(ret, adv + values[:-1])


def test_bad_masks_bootstrap_like_harl():
    # T = 3, one env; the episode is cut by a time limit after step 1 (HARL: masks[2] =
    # bad_masks[2] = 0) and a new one starts at step 2.
    r = np.array([1.0, 2.0, 3.0])
    V = np.array([10.0, 20.0, 30.0, 40.0])
    masks = np.array([1.0, 1.0, 0.0, 1.0])
    bad = np.array([1.0, 1.0, 0.0, 1.0])
    adv, ret = sampled.gae(r, V, 0.5, 0.5, masks=masks, bad_masks=bad)
    # step 2: delta = 3 + .5 * 40 - 30 = -7                      -> A = -7, R = 23
    # step 1: truncated: A = 0, R = V(s_1) = 20 (bootstrap from the value at truncation)
    # step 0: delta = 1 + .5 * 20 - 10 = 1; A = 1 + .25 * 0 = 1   -> R = 11
    np.testing.assert_array_equal(adv, [1.0, 0.0, -7.0])
    np.testing.assert_array_equal(ret, [11.0, 20.0, 23.0])
    G = sampled.discounted_returns(r, 0.5, bootstrap=V[-1], masks=masks, bad_masks=bad,
                                   values=V)
    np.testing.assert_array_equal(G, [11.0, 20.0, 23.0])
    # a termination (masks = 0, bad_masks = 1) does not bootstrap at all
    adv, ret = sampled.gae(r, V, 0.5, 0.5, masks=masks)
    np.testing.assert_array_equal(adv, [1.0 + 0.25 * -18.0, -18.0, -7.0])
    # masks (T + 1, B) broadcast over the agents of rewards (T, B, N)
    r3 = np.stack([r, 2 * r], axis=-1)[:, None, :]
    V3 = np.stack([V, 2 * V], axis=-1)[:, None, :]
    adv3, _ = sampled.gae(r3, V3, 0.5, 0.5, masks=masks[:, None], bad_masks=bad[:, None])
    np.testing.assert_array_equal(adv3[:, 0, 0], [1.0, 0.0, -7.0])
    np.testing.assert_array_equal(adv3[:, 0, 1], [2.0, 0.0, -14.0])


# -- backends -------------------------------------------------------------------------
@pytest.mark.parametrize("which", ["dense", "factored"])
def test_numpy_and_array_api_strict_agree(which, request):
    g, pol = request.getfixturevalue(which)
    a = sampled.rollouts(g, pol, 16, 6, seed=3)
    b = sampled.rollouts(g, pol, 16, 6, seed=3, xp=xps)
    assert sampled.namespace(b.states) is xps
    for x, y in zip(a, b):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))
    ea = sampled.estimate_values(g, pol, 64, seed=1)
    eb = sampled.estimate_values(g, pol, 64, seed=1, xp=xps)
    np.testing.assert_allclose(ea.mean, eb.mean, rtol=1e-13)
    np.testing.assert_allclose(ea.stderr, eb.stderr, rtol=1e-12)
    # the estimators on strict arrays
    val = np.random.default_rng(0).normal(size=(7, 16, g.n_agents))
    bad = np.ones((7, 16))
    bad[1:] = 1.0 - a.truncated
    ga = sampled.gae(a.rewards, val, 0.9, 0.95, bad_masks=bad)
    gb = sampled.gae(b.rewards, xps.asarray(val), 0.9, 0.95, bad_masks=xps.asarray(bad))
    for x, y in zip(ga, gb):
        np.testing.assert_allclose(x, np.asarray(y), rtol=1e-13)
    pa = sampled.reinforce_gradient(pol.probs, a.states, a.actions, a.rewards, g.gamma)
    pb = sampled.reinforce_gradient(xps.asarray(pol.probs), b.states, b.actions, b.rewards,
                                    g.gamma)
    np.testing.assert_allclose(pa, np.asarray(pb), rtol=1e-12, atol=1e-14)


def test_namespace_from_inputs():
    assert sampled.namespace(xps.asarray([1.0])) is xps
    with pytest.raises(TypeError):
        sampled.namespace(np.zeros(1), xps.asarray([1.0]))


def test_cupy_matches_numpy(dense):
    cp = pytest.importorskip("cupy")
    try:
        if cp.cuda.runtime.getDeviceCount() < 1:
            pytest.skip("no GPU")
    except Exception:   # noqa: BLE001 - any CUDA runtime error means no usable GPU
        pytest.skip("no usable GPU")
    g, pol = dense
    a = sampled.rollouts(g, pol, 64, 8, seed=3)
    b = sampled.rollouts(g, pol, 64, 8, seed=3, xp=cp)
    for x, y in zip(a, b):
        np.testing.assert_array_equal(x, cp.asnumpy(y))
    pb = sampled.reinforce_gradient(cp.asarray(pol.probs), b.states, b.actions, b.rewards,
                                    g.gamma)
    pa = sampled.reinforce_gradient(pol.probs, a.states, a.actions, a.rewards, g.gamma)
    np.testing.assert_allclose(pa, cp.asnumpy(pb), rtol=1e-10, atol=1e-13)


# -- the sampled evaluator in the driver ----------------------------------------------
def test_evaluator_estimates_and_drives_softmax_pg():
    g = fm.games.random_game(3, (2, 2), 0.8, rng=0)
    pol = fm.ProductPolicy.from_logits(g, np.random.default_rng(4).normal(size=(2, 3, 2)))
    ev = fm.evaluate(g, pol)
    evaluator = sampled.Evaluator(n_envs=200, seed=0)
    calls = [evaluator(g, pol.probs[None]) for _ in range(25)]   # independent batches
    T = 2 * sampled.truncation_horizon(g.gamma, g.max_abs_reward)
    # the visitation's total mass is deterministic: sum_{t<T} gamma^t
    np.testing.assert_allclose(calls[0].visitation.sum(), (1 - g.gamma ** T) / (1 - g.gamma))
    for name, exact in [("values", ev.values), ("local_qs", ev.local_qs),
                        ("visitation", ev.visitation)]:
        x = np.stack([getattr(c, name)[0] for c in calls])
        se = x.std(axis=0, ddof=1) / np.sqrt(len(calls))
        bias = sampled.BIAS_TOL + g.gamma ** T / (1 - g.gamma)
        mask = np.broadcast_to(g.action_mask[:, None, :], exact.shape) if name == "local_qs" \
            else np.ones(exact.shape, bool)
        _within(x.mean(axis=0)[mask], se[mask], exact[mask], bias)
    v0 = calls[0].value_at_initial[0]
    _within(v0, calls[0].value_stderr[0], ev.value_at_initial, sampled.BIAS_TOL)
    run = fm.dynamics.softmax_pg(g, np.zeros((2, 3, 2)), lr=0.5, iters=8,
                                 evaluator=sampled.Evaluator(256, seed=1))
    exact_run = fm.dynamics.softmax_pg(g, np.zeros((2, 3, 2)), lr=0.5, iters=8)
    assert run.metrics["nash_gap"].shape == (9,)
    assert run.metrics["nash_gap"][-1] < run.metrics["nash_gap"][0]
    # the metrics that need best responses are exact: identical at the common start
    assert run.metrics["nash_gap"][0] == exact_run.metrics["nash_gap"][0]
    batch = fm.dynamics.softmax_pg(g, np.zeros((3, 2, 3, 2)), lr=0.5, iters=2,
                                   evaluator=sampled.Evaluator(64, seed=2))
    assert batch.metrics["nash_gap"].shape == (3, 3)


def test_evaluator_on_a_factored_game_with_npg(factored):
    g, _ = factored
    run = fm.dynamics.npg(g, np.zeros((2, 4, 2)), lr=0.5, iters=3,
                          evaluator=sampled.Evaluator(128, seed=0, xp=xps))
    assert np.all(np.isfinite(run.metrics["nash_gap"])) and run.metrics["values"].shape == (4, 2)


# -- argument errors ------------------------------------------------------------------
def test_argument_errors_name_the_argument(dense):
    g, pol = dense
    with pytest.raises(ValueError, match="n_envs"):
        sampled.rollouts(g, pol, 0, 5)
    with pytest.raises(ValueError, match="horizon"):
        sampled.rollouts(g, pol, 4, 0)
    with pytest.raises(TypeError, match="seed"):
        sampled.rollouts(g, pol, 4, 5, seed="x")
    with pytest.raises(TypeError, match="xp"):
        sampled.rollouts(g, pol, 4, 5, xp="numpy")
    with pytest.raises(TypeError, match="game"):
        sampled.rollouts("game", pol, 4, 5)
    with pytest.raises(ValueError, match="probs"):
        sampled.rollouts(g, np.ones((2, 4, 2)), 4, 5)
    with pytest.raises(ValueError, match="n_envs"):
        sampled.estimate_values(g, pol, 1)
    with pytest.raises(ValueError, match="tol"):
        sampled.estimate_values(g, pol, 4, tol=0.0)
    r, v = _hand_arrays()
    with pytest.raises(ValueError, match="values"):
        sampled.gae(r, v[:-1], 0.9, 0.9)
    with pytest.raises(ValueError, match="lam"):
        sampled.gae(r, v, 0.9, 1.5)
    with pytest.raises(ValueError, match="gamma"):
        sampled.discounted_returns(r, -0.1)
    with pytest.raises(ValueError, match="bad_masks"):
        sampled.gae(r, v, 0.9, 0.9, bad_masks=np.ones((4, 2)))
    with pytest.raises(ValueError, match="values is required"):
        sampled.discounted_returns(r, 0.9, bad_masks=np.ones((5, 2)))
    with pytest.raises(ValueError, match="actions"):
        sampled.reinforce_gradient(pol.probs, np.zeros((6, 3), int), np.zeros((5, 3, 1), int),
                                   np.zeros((5, 3, 2)), 0.9)
    with pytest.raises(ValueError, match="horizon"):
        sampled.Evaluator(8, horizon=2)(g, pol.probs[None])
