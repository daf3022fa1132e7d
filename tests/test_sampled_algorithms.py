"""Sampled HATRPO/HAPPO/IPPO/MAPPO (issue 15, item 5-6) against the exact engine.

* On the infinite batch (``exact_samples``) every algorithm's step equals the exact engine's
  (``fairmg.dynamics.trust_region``) to round-off: same orders, same acceptances.
* On sampled batches the surrogate gradients (with the sequential factor M and the fair
  advantage) and the Fisher-vector products are unbiased: the mean over R independent
  batches is within K = 5 standard errors (plus the truncation mass gamma^T times the
  largest term) of the exact quantity, per entry, at fixed seeds.
"""
import numpy as np
import pytest

import fairmg as fm
from fairmg import alpha_fair as af
from fairmg.dynamics.trust_region import happo, hatrpo
from fairmg.sampled import algorithms as alg
from fairmg.sampled.networks import TabularPolicy
from fairmg.sampled.samples import (exact_samples, fair_advantages,
                                    samples_from_rollout)

K = 5   # standard errors


@pytest.fixture(scope="module")
def game():
    return fm.games.random_game(3, (2, 3), 0.8, rng=1)


@pytest.fixture(scope="module")
def theta0():
    th = np.random.default_rng(0).normal(size=(2, 3, 3))
    th[0, :, 2] = 0.0
    return th


# -- the infinite batch is the exact algorithm ---------------------------------------
@pytest.mark.parametrize("alpha", [None, 1.0, 2.0])
def test_hatrpo_on_the_exact_batch_is_exact_hatrpo(game, theta0, alpha):
    hp = dict(cg_iters=15, accept_ratio=0.1, damping=0.0)
    ex = hatrpo(game, theta0, alpha=alpha, nu=0.1, kl=0.01, iters=3, seed=5, **hp)
    sm = alg.train(game, "hatrpo", 3, seed=5, alpha=alpha, nu=0.1, theta0=theta0,
                   batch="exact", max_kl=0.01, **hp)
    assert sm.orders == ex.orders
    assert sm.accepted == ex.accepted and any(map(any, ex.accepted))
    np.testing.assert_allclose(sm.thetas[-1], ex.thetas[-1], atol=1e-11, rtol=0)
    assert np.abs(sm.thetas[-1] - theta0).max() > 1e-2            # it moved


@pytest.mark.parametrize("alpha", [None, 0.5])
def test_happo_on_the_exact_batch_is_exact_happo(game, theta0, alpha):
    ex = happo(game, theta0, alpha=alpha, nu=0.1, clip=0.05, iters=4, seed=2, lr=0.05,
               epochs=3)
    sm = alg.train(game, "happo", 4, seed=2, alpha=alpha, nu=0.1, theta0=theta0,
                   batch="exact", clip=0.05, lr=0.05, epochs=3)
    assert sm.orders == ex.orders
    np.testing.assert_allclose(sm.thetas[-1], ex.thetas[-1], atol=1e-12, rtol=0)
    assert np.abs(sm.thetas[-1] - theta0).max() > 1e-2


def test_mappo_is_happo_without_the_sequential_factor(game, theta0):
    """With one agent updated first, the second agent's M differs by the first's ratio:
    MAPPO (simultaneous) and HAPPO (sequential) agree on the first agent and differ on the
    second, and MAPPO's second agent equals a PPO step on the unweighted advantage."""
    kw = dict(seed=2, theta0=theta0, batch="exact", clip=0.2, lr=0.1, epochs=4)
    h = alg.train(game, "happo", 1, **kw)
    m = alg.train(game, "mappo", 1, **kw)
    first, second = h.orders[0]
    np.testing.assert_allclose(m.thetas[-1][first], h.thetas[-1][first], atol=1e-14)
    assert np.abs(m.thetas[-1][second] - h.thetas[-1][second]).max() > 1e-6
    ev = fm.evaluate(game, fm.ProductPolicy.from_logits(game, theta0))
    smp = exact_samples(game, ev.policy, evaluation=ev)
    actor = TabularPolicy(game.n_states, (game.action_sizes[second],))
    n = game.action_sizes[second]
    opt = fm.sampled.Adam(lr=0.1, maximize=True)
    p0 = theta0[second, :, :n].reshape(-1)
    p, _ = alg.ppo_agent_step(actor, p0, opt.init(p0), smp, smp.advantages.sum(axis=1),
                              second, clip=0.2, epochs=4, optimizer=opt)
    np.testing.assert_allclose(m.thetas[-1][second, :, :n].reshape(-1), p, atol=1e-14)


# -- unbiasedness on sampled batches -------------------------------------------------
def _sequential_grad_exact(game, pol, new_first, order, alpha, nu, ev):
    """The exact gradient in the second agent's logits of 000 eq. (15): p (W - <p, W>)
    with W = (1 - gamma) sequential_table (the exact engine's formula)."""
    new = pol.replace(order[0], new_first)
    a = 0.0 if alpha is None else alpha
    W = (1.0 - game.gamma) * af.sequential_table(game, pol, new, order, 2, a, nu,
                                                 evaluation=ev)
    i = order[1]
    p = pol.probs[i, :, :game.action_sizes[i]]
    return p * (W - np.sum(p * W, axis=1, keepdims=True))


@pytest.mark.parametrize("alpha", [None, 1.0])
def test_sequential_fair_gradient_is_unbiased(game, theta0, alpha):
    """The sampled gradient of agent i_2's surrogate, with M = r^{i_1} A_F (exact critics,
    GAE lambda = 0.9, discounted weights), averaged over R batches, matches the exact
    engine's eq. (15) within K s.e. + gamma^T max|g|."""
    nu, order = 0.1, (0, 1)
    pol = fm.ProductPolicy.from_logits(game, theta0)
    ev = fm.evaluate(game, pol)
    rng = np.random.default_rng(7)
    new_first = pol.probs[0, :, :2] * np.exp(0.3 * rng.normal(size=(3, 2)))
    new_first /= new_first.sum(axis=1, keepdims=True)
    exact = _sequential_grad_exact(game, pol, new_first, order, alpha, nu, ev)
    a0 = TabularPolicy(3, (2,))
    a1 = TabularPolicy(3, (3,))
    p0_old = theta0[0, :, :2].reshape(-1)
    p0_new = np.log(new_first).reshape(-1)
    p1 = theta0[1, :, :3].reshape(-1)
    T, B, R = 60, 400, 40
    grads = []
    for r in range(R):
        roll = fm.sampled.rollouts(game, pol, B, T, seed=1000 + r)
        smp = samples_from_rollout(roll, ev.values, game.gamma, 0.9)
        A = fair_advantages(smp, ev.values, alpha, nu)
        a_first = smp.actions[:, 0:1]
        ratio = np.exp(a0.log_prob(p0_new, smp.states, a_first)[:, 0]
                       - a0.log_prob(p0_old, smp.states, a_first)[:, 0])
        g = a1.log_prob_grad(p1, smp.states, smp.actions[:, 1:2], smp.weights * ratio * A)
        grads.append(g.reshape(3, 3))
    grads = np.array(grads)
    mean, se = grads.mean(0), grads.std(0, ddof=1) / np.sqrt(R)
    bias = game.gamma ** T * np.abs(exact).max() * 50
    assert np.all(np.abs(mean - exact) <= K * se + bias), (mean, exact, se)
    assert np.abs(exact).max() > 10 * se.max()           # the test can see a wrong sign


def test_weighted_fisher_is_unbiased(game, theta0):
    """The weighted FVP of sampled batches (discounted weights) averages to the FVP of the
    exact batch, which is the exact engine's rho (diag p - p p^T) v."""
    pol = fm.ProductPolicy.from_logits(game, theta0)
    ev = fm.evaluate(game, pol)
    actor = TabularPolicy(3, (3,))
    p1 = theta0[1, :, :3].reshape(-1)
    v = np.random.default_rng(3).normal(size=9)
    smp = exact_samples(game, pol, evaluation=ev)
    exact = actor.fisher_vector_product(p1, smp.states, v, weights=smp.weights)
    rho = (1.0 - game.gamma) * ev.visitation
    p = pol.probs[1, :, :3]
    x = v.reshape(3, 3)
    hand = rho[:, None] * (p * x - p * np.sum(p * x, axis=1, keepdims=True))
    np.testing.assert_allclose(exact, hand.reshape(-1), atol=1e-14)
    T, R = 60, 40
    outs = []
    for r in range(R):
        roll = fm.sampled.rollouts(game, pol, 300, T, seed=r)
        s = samples_from_rollout(roll, ev.values, game.gamma)
        outs.append(actor.fisher_vector_product(p1, s.states, v, weights=s.weights))
    outs = np.array(outs)
    se = outs.std(0, ddof=1) / np.sqrt(R)
    assert np.all(np.abs(outs.mean(0) - exact) <= K * se + game.gamma ** T * 10)


# -- learning on samples ---------------------------------------------------------------
@pytest.mark.parametrize("algorithm", ["hatrpo", "happo", "ippo", "mappo"])
def test_sampled_training_improves_the_exact_welfare(algorithm):
    """On a coordination game every algorithm raises the exact welfare of its iterate
    well above the uniform start (a learning check, fixed seed)."""
    g = fm.games.coordination(n_agents=2)
    hp = dict(lr=0.05, clip=0.2) if algorithm != "hatrpo" else dict(max_kl=0.05)
    run = alg.train(g, algorithm, 15, n_envs=64, horizon=40, seed=0, **hp)
    w = run.metrics["welfare"]
    assert w[-1] > w[0] + 0.2 * abs(w[0]) + 0.1, w
    assert run.sampled_returns.shape == (15, 2)


def test_numpy_and_array_api_strict_steps_agree(game, theta0):
    xps = pytest.importorskip("array_api_strict")
    from fairmg.sampled.backend import resolve_namespace
    pol = fm.ProductPolicy.from_logits(game, theta0)
    ev = fm.evaluate(game, pol)
    out = {}
    for name, xp in (("np", None), ("strict", xps)):
        ns = resolve_namespace(xp)
        roll = fm.sampled.rollouts(game, pol, 32, 20, seed=4, xp=xp)
        smp = samples_from_rollout(roll, ns.asarray(ev.values), game.gamma, 0.95)
        A = fair_advantages(smp, ns.asarray(ev.values), 1.0, 0.1)
        actor = TabularPolicy(3, (3,))
        p = ns.asarray(theta0[1, :, :3].reshape(-1))
        new, search = alg.hatrpo_agent_step(actor, p, smp, A, 1)
        opt = fm.sampled.Adam(lr=0.05, maximize=True)
        q, _ = alg.ppo_agent_step(actor, p, opt.init(p), smp, A, 1, optimizer=opt)
        out[name] = (np.asarray(new), np.asarray(q), search.accepted)
    np.testing.assert_allclose(out["np"][0], out["strict"][0], atol=1e-13)
    np.testing.assert_allclose(out["np"][1], out["strict"][1], atol=1e-13)
    assert out["np"][2] == out["strict"][2]


def test_bad_arguments_raise(game):
    with pytest.raises(ValueError, match="algorithm"):
        alg.train(game, "trpo", 1)
    with pytest.raises(ValueError, match="ippo"):
        alg.train(game, "ippo", 1, alpha=1.0)
    with pytest.raises(TypeError, match="unknown hyper-parameters"):
        alg.train(game, "happo", 1, max_kl=0.1)
    with pytest.raises(ValueError, match="critic"):
        alg.train(game, "happo", 1, critic="mc")
    with pytest.raises(ValueError, match="theta0"):
        alg.train(game, "happo", 1, theta0=np.zeros((2, 2, 2)))


# -- Anticipation Sharing (004) on samples -------------------------------------------
from fairmg.dynamics import anticipation as D               # noqa: E402
from fairmg.sampled.anticipation import anticipation_sampler  # noqa: E402


@pytest.fixture(scope="module")
def dilemma():
    g = fm.games.iterated_prisoners_dilemma()
    return g, np.random.default_rng(0).normal(size=(g.n_agents, g.n_states, g.max_actions))


@pytest.mark.parametrize("method", ["anticipation_sharing", "policy_sharing",
                                    "value_sharing", "independent_ppo"])
def test_anticipation_on_the_exact_batch_is_exact(dilemma, method):
    g, th = dilemma
    f = getattr(D, method)
    kw = {} if method == "independent_ppo" else dict(seed=1)
    ex = f(g, th, iters=4, **kw)
    sm = f(g, th, iters=4, sampler=anticipation_sampler(g, batch="exact"), **kw)
    np.testing.assert_allclose(np.asarray(sm.thetas[-1]), np.asarray(ex.thetas[-1]),
                               atol=1e-12, rtol=0)
    assert np.abs(np.asarray(ex.thetas[-1])[0, 0] - th[0]).max() > 1e-2


def test_anticipation_gradient_is_unbiased(dilemma):
    """At theta_old (ratios 1, every indicator of eq. (14) on) the gradient of (16) is
    linear in the samples: its mean over R batches matches the exact one within K s.e."""
    g, th = dilemma
    pol = fm.ProductPolicy.from_logits(g, th)
    ev = fm.evaluate(g, pol)
    state = np.broadcast_to(th[None], (2, 2) + th.shape[1:]).copy()
    state[0, 1] += 0.2 * np.random.default_rng(5).normal(size=th.shape[1:])  # anticipation off
    shared = np.stack([D._softmax_rows(state[i], g.action_sizes) for i in range(2)])
    args = (0, (1,), shared[0], shared, 0.1, 1.0, 0.2, "own")
    exact = D.AgentProblem(g, (1 - g.gamma) * ev.visitation, pol.joint_probs(),
                           (ev.q - ev.values[:, :, None])[0], *args).gradient(state[0])
    R, T = 40, 80
    grads = []
    for r in range(R):
        s = anticipation_sampler(g, n_envs=200, horizon=T, seed=r, critic="exact", lam=0.9)
        st, act, w, A, _ = s(ev, "mean")
        grads.append(D.AgentProblem.from_entries(g, st, act, w, A[0], *args)
                     .gradient(state[0]))
    grads = np.array(grads)
    mean, se = grads.mean(0), grads.std(0, ddof=1) / np.sqrt(R)
    assert np.all(np.abs(mean - exact) <= K * se + g.gamma ** T * 100), (mean, exact)
    assert np.abs(exact).max() > 10 * se.max()


# -- ELD on an IPPO backbone (001 Alg. 1) ---------------------------------------------
def test_eld_dual_ascent_and_equity():
    """lambda follows eq. (10) on the logged batch means of H_bar (every K = 2; 3 agents:
    with 2 the relative excess is always uniform and H = 0), and the dual changes the
    learning (the advantages differ from plain IPPO's once lambda > 0)."""
    g = fm.games.random_game(3, (2, 2, 2), 0.9, rng=11)
    kw = dict(n_envs=64, horizon=30, seed=0, lr=0.05, clip=0.2)
    plain = alg.train(g, "ippo", 40, **kw)
    cfg = dict(eps=0.0, eta=5.0, every=2)
    run = alg.train(g, "ippo", 40, eld=cfg, **kw)
    lam, hbar = run.eld[:, 0], run.eld[:, 1]
    expect = [0.0]                # Alg. 1: reducer on this rollout (line 4), dual (line 5)
    for t in range(1, len(lam)):
        prev = expect[-1]
        expect.append(max(prev + 5.0 * (hbar[t] - 0.0), 0.0) if t % 2 == 0 else prev)
    np.testing.assert_allclose(lam, expect, rtol=1e-12, atol=0)
    assert lam[0] == 0.0 and np.all(np.diff(lam) >= 0) and lam[-1] > 1.0
    assert np.abs(run.metrics["welfare"][-1] - plain.metrics["welfare"][-1]) > 1e-3
    with pytest.raises(ValueError, match="eld"):
        alg.train(g, "happo", 1, eld=cfg)
    with pytest.raises(TypeError, match="unknown eld"):
        alg.train(g, "ippo", 1, eld=dict(beta=1.0))


# -- practical TVPO (003) and NN-PG (002) with a sampled evaluator --------------------
def test_sampled_tvpo_and_nn_pg_approach_their_exact_twins():
    """The exact dynamics driven by Monte Carlo estimates: TVPO's first step (an argmax
    under TV, every |A_i| >= 0.007 here) equals the exact one at B = 16384 and differs at
    B = 64; NN-PG's logits after 3 steps approach the exact ones as B grows."""
    from fairmg.dynamics.fdiv import practical_tvpo
    from fairmg.dynamics.nn import nn_pg
    g = fm.games.random_game(3, (2, 2), 0.9, rng=2)
    p0 = fm.ProductPolicy.uniform(g)
    exact = np.asarray(practical_tvpo(g, p0, iters=1).probs[-1])

    def tvpo(B):
        ev = fm.sampled.Evaluator(n_envs=B, seed=0)
        return np.asarray(practical_tvpo(g, p0, iters=1, evaluator=ev).probs[-1])

    assert np.array_equal(tvpo(16384), exact) and not np.array_equal(tvpo(64), exact)
    ex = np.asarray(nn_pg(g, seed=0, iters=3).thetas[-1])
    err = [np.abs(np.asarray(nn_pg(g, seed=0, iters=3, evaluator=fm.sampled.Evaluator(
        n_envs=B, seed=0)).thetas[-1]) - ex).max() for B in (64, 1024, 16384)]
    assert err[0] > err[1] > err[2] > 0, err
