"""fairmg.dynamics.trust_region (000 Algorithm 1, HATRPO, HAPPO) against independent
brute-force computations over joint actions and finite differences."""
import numpy as np
import pytest

import fairmg as fm
from fairmg import alpha_fair as af
from fairmg.dynamics.trust_region import (clipped_tables, fair_hatrl, happo, happo_objective,
                                          hatrpo)
from fairmg.testing import reference as ref

NU = 0.1


def _game(seed=1, S=3, sizes=(2, 3), gamma=0.8):
    return fm.games.random_game(S, sizes, gamma, rng=seed)


def _brute(g, probs):
    d = g.to_dense()
    V, Q, _, dvis = ref.evaluate(d.transition, d.rewards, g.gamma, g.initial, probs,
                                 g.action_sizes)
    pij = ref.joint_policy(probs, g.action_sizes)
    P_pi = np.einsum("sa,sat->st", pij, d.transition)
    D = g.initial[:, None] * np.linalg.inv(np.eye(g.n_states) - g.gamma * P_pi)
    return V, Q, pij, D


def test_fair_hatrl_monotone_and_seeded():
    g = _game(3, S=3, sizes=(2, 2, 2))
    pol0 = fm.ProductPolicy.uniform(g)
    for alpha in (0.0, 0.5, 1.0, 1.5):
        run = fair_hatrl(g, pol0, alpha, NU, 4, seed=7)
        J = run.metrics["fair_objective"]
        assert np.all(np.diff(J) >= -1e-12 * np.abs(J[:-1]).max())
        assert set(run.metrics) == {"fair_objective", "welfare", "gini", "min_value",
                                    "nash_gap"}
        assert all(sorted(o) == [0, 1, 2] for o in run.orders)
        assert max(max(gp) for gp in run.gaps) <= 1e-6
        # eq. (12)'s summands are >= 0 and the improvement is at least their sum minus C KL
        assert min(min(s) for s in run.surrogates) >= 0
    a1 = fair_hatrl(g, pol0, 1.0, NU, 3, seed=7, metrics=["welfare"])
    a2 = fair_hatrl(g, pol0, 1.0, NU, 3, seed=7, metrics=["welfare"])
    assert a1.orders == a2.orders
    np.testing.assert_array_equal(a1.probs[-1], a2.probs[-1])
    orders = np.random.default_rng(7).permutation(3)
    assert tuple(orders) == a1.orders[0]


def _hatrl_reference(g, pol0, iters, seed):
    """HATRL on the summed reward (000 Sec. 2.3 / [31]), brute force over joint actions,
    with HATRL's C = 4 gamma max|A| / (1 - gamma)^2."""
    rng = np.random.default_rng(seed)
    probs = np.array(pol0.probs)
    sizes = g.action_sizes
    for _ in range(iters):
        V, Q, _, D = _brute(g, probs)
        d = D.sum(0)
        Qsum = Q.sum(0)
        A = Qsum - V.sum(0)[:, None]
        C = 4 * g.gamma * np.abs(A).max() / (1 - g.gamma) ** 2
        order = rng.permutation(g.n_agents)
        new = probs.copy()
        for m, i in enumerate(order):
            mix = probs.copy()
            for j in order[:m]:
                mix[j] = new[j]
            W = d[:, None] * ref.marginal(Qsum, mix, sizes, [int(i)])
            new[i, :, : sizes[i]] = af.trust_region_argmax(W, probs[i, :, : sizes[i]], C).q
        probs = new
    return probs


def test_alpha_zero_is_hatrl_on_summed_reward():
    g = _game(5, S=3, sizes=(2, 3))
    pol0 = fm.ProductPolicy.from_logits(g, np.random.default_rng(1).normal(size=(2, 3, 3)))
    run = fair_hatrl(g, pol0, 0.0, NU, 3, seed=11, penalty="hatrl", metrics=["welfare"])
    np.testing.assert_allclose(run.probs[-1], _hatrl_reference(g, pol0, 3, 11), atol=1e-8)
    # nu plays no role at alpha = 0
    other = fair_hatrl(g, pol0, 0.0, 5.0, 3, seed=11, penalty="hatrl", metrics=["welfare"])
    np.testing.assert_allclose(other.probs[-1], run.probs[-1], atol=1e-10)
    with pytest.raises(ValueError):
        fair_hatrl(g, pol0, 0.5, NU, 1, penalty="hatrl")


def test_fair_hatrl_factored_game():
    g = fm.games.coordination(n_agents=2, representation="factored")
    run = fair_hatrl(g, fm.ProductPolicy.uniform(g), 1.0, NU, 2, seed=0,
                     metrics=["welfare"])
    dense = fair_hatrl(g.to_dense(), fm.ProductPolicy.uniform(g.to_dense()), 1.0, NU, 2,
                       seed=0, metrics=["welfare"])
    np.testing.assert_allclose(run.probs[-1], dense.probs[-1], atol=1e-9)


def _surrogate_brute(g, pol, theta_i, i, prev_probs, prev_agents, alpha):
    """Lemma C.1 (eq. (101)) with the normalized visitation, brute force:
    sum_{c,s,a} dbar(c,s) pi_k(a|s) (r - 1) M, M = (prod of previous ratios) A_F."""
    V, Q, pij, D = _brute(g, pol.probs)
    w = (NU + V) ** -alpha
    AF = np.einsum("jc,jsa->csa", w, Q - V[:, :, None])
    rho = (1 - g.gamma) * D
    acts = ref.joint_actions(g.action_sizes)
    z = theta_i - theta_i.max(1, keepdims=True)
    pn = np.exp(z) / np.exp(z).sum(1, keepdims=True)
    total = 0.0
    for s in range(g.n_states):
        for a, tup in enumerate(acts):
            Rprev = np.prod([prev_probs[j, s, tup[j]] / pol.probs[j, s, tup[j]]
                             for j in prev_agents])
            r = pn[s, tup[i]] / pol.probs[i, s, tup[i]]
            total += np.sum(rho[:, s] * pij[s, a] * (r - 1) * Rprev * AF[:, s, a])
    return total


def test_hatrpo_step_is_the_natural_gradient_step():
    g = _game(8, S=2, sizes=(2, 3))
    theta0 = np.random.default_rng(2).normal(size=(2, 2, 3)) * np.array(
        g.action_mask)[:, None, :]
    alpha = 1.0
    run = hatrpo(g, theta0, alpha, NU, kl=0.01, iters=1, seed=3, cg_iters=50)
    pol = fm.ProductPolicy.from_logits(g, theta0)
    order = run.orders[0]
    assert all(run.accepted[0])
    th1 = run.thetas[1]
    dvis = (1 - g.gamma) * fm.evaluate(g, pol).visitation
    prev = pol.probs.copy()
    for m, i in enumerate(order):
        n = g.action_sizes[i]
        t0 = theta0[i, :, :n]
        # gradient by central differences of the brute-force surrogate
        grad = np.zeros_like(t0)
        h = 1e-6
        for s in range(g.n_states):
            for b in range(n):
                e = np.zeros_like(t0)
                e[s, b] = h
                up = _surrogate_brute(g, pol, t0 + e, i, prev, order[:m], alpha)
                down = _surrogate_brute(g, pol, t0 - e, i, prev, order[:m], alpha)
                grad[s, b] = (up - down) / (2 * h)
        p = pol.probs[i, :, :n]
        H = np.zeros((g.n_states * n, g.n_states * n))
        for s in range(g.n_states):
            blk = dvis[s] * (np.diag(p[s]) - np.outer(p[s], p[s]))
            H[s * n:(s + 1) * n, s * n:(s + 1) * n] = blk
        x = np.linalg.pinv(H) @ grad.ravel()
        beta = np.sqrt(2 * 0.01 / (x @ H @ x))
        step = (th1[i, :, :n] - t0).ravel()
        frac = step @ (beta * x) / (beta * x @ (beta * x))
        np.testing.assert_allclose(step, frac * beta * x, atol=1e-6 * np.abs(step).max())
        j = np.log(frac) / np.log(0.8)
        assert abs(j - round(j)) < 1e-6 and 0 <= round(j) < 10
        newp = np.exp(th1[i, :, :n]) / np.exp(th1[i, :, :n]).sum(1, keepdims=True)
        assert dvis @ np.sum(p * np.log(p / newp), axis=1) < 0.01
        prev[i, :, :n] = newp


def test_happo_objective_and_first_adam_step():
    g = _game(9, S=2, sizes=(2, 2))
    rng = np.random.default_rng(4)
    theta0 = rng.normal(size=(2, 2, 2))
    alpha, clip = 1.5, 0.2
    pol = fm.ProductPolicy.from_logits(g, theta0)
    ev = fm.evaluate(g, pol)
    V, Q, pij, D = _brute(g, pol.probs)
    AF = np.einsum("jc,jsa->csa", (NU + V) ** -alpha, Q - V[:, :, None])
    rho = (1 - g.gamma) * D
    acts = ref.joint_actions(g.action_sizes)
    new_probs = fm.ProductPolicy.from_logits(g, theta0 + rng.normal(size=(2, 2, 2)))
    order = (1, 0)

    def brute(row, m):
        i = order[m - 1]
        tot = 0.0
        for s in range(2):
            for a, tup in enumerate(acts):
                Rp = np.prod([new_probs.probs[j, s, tup[j]] / pol.probs[j, s, tup[j]]
                              for j in order[: m - 1]])
                r = row[s, tup[i]] / pol.probs[i, s, tup[i]]
                M = Rp * AF[:, s, a]
                tot += np.sum(rho[:, s] * pij[s, a] * np.minimum(
                    r * M, np.clip(r, 1 - clip, 1 + clip) * M))
        return tot

    for m in (1, 2):
        row = rng.dirichlet(np.ones(2), size=2)
        got = happo_objective(g, ev, row, new_probs, order, m, alpha, NU, clip)
        assert got == pytest.approx(brute(row, m), rel=1e-10, abs=1e-13)
    Mpos, Mneg = clipped_tables(g, ev, new_probs, order, 1, alpha, NU)
    assert np.all(Mpos >= 0) and np.all(Mneg <= 0)
    # first Adam step = lr * sign(gradient of (16)) at theta_k (epochs = 1)
    lr = 1e-3
    run = happo(g, theta0, alpha, NU, clip=clip, iters=1, seed=0, lr=lr, epochs=1)
    i = run.orders[0][0]
    step = run.thetas[1][i] - theta0[i]
    h = 1e-6
    for s in range(2):
        for b in range(2):
            e = np.zeros((2, 2))
            e[s, b] = h

            def obj(th):
                z = np.exp(th - th.max(1, keepdims=True))
                return happo_objective(g, ev, z / z.sum(1, keepdims=True), pol,
                                       run.orders[0], 1, alpha, NU, clip)
            fd = (obj(theta0[i] + e) - obj(theta0[i] - e)) / (2 * h)
            if abs(fd) > 1e-8:
                assert step[s, b] == pytest.approx(lr * np.sign(fd), rel=1e-4)


def test_utilitarian_runs_improve_welfare():
    g = _game(10, S=3, sizes=(2, 2))
    th = np.zeros((2, 3, 2))
    r1 = hatrpo(g, th, None, iters=20, seed=0)
    r2 = happo(g, th, None, iters=20, seed=0, lr=0.05, clip=0.2)
    for r in (r1, r2):
        assert r.metrics["welfare"][-1] > r.metrics["welfare"][0]
        assert r.params["alpha"] is None
    with pytest.raises(ValueError):
        hatrpo(g, th, alpha=-1.0, iters=1)
    with pytest.raises(ValueError):
        happo(g, np.zeros((2, 3, 3)), iters=1)


def test_hatrpo_and_happo_on_a_factored_game_match_dense():
    g = fm.games.coordination(n_agents=2, representation="factored")
    d = g.to_dense()
    th = np.random.default_rng(0).normal(size=(2, g.n_states, 2))
    for algo, kw in ((hatrpo, dict(kl=0.05)), (happo, dict(lr=0.05, clip=0.2))):
        rf = algo(g, th, 1.0, NU, iters=3, seed=1, metrics=["welfare"], **kw)
        rd = algo(d, th, 1.0, NU, iters=3, seed=1, metrics=["welfare"], **kw)
        np.testing.assert_allclose(rf.thetas[-1], rd.thetas[-1], atol=1e-8)
        np.testing.assert_allclose(rf.metrics["welfare"], rd.metrics["welfare"], atol=1e-10)


def test_unfair_runs_report_j_at_alpha_zero_even_with_negative_values():
    """alpha=None reports J at alpha 0, sum_i V^i(mu) + n (nu - 1): equal to
    af.fair_objective where that is defined, and defined on games with penalties."""
    g = _game(5)
    th = np.zeros((g.n_agents, g.n_states, g.max_actions))
    run = hatrpo(g, th, None, NU, iters=2, seed=0)
    J0 = [af.fair_objective(g, fm.ProductPolicy(g, p), 0.0, NU) for p in run.probs]
    np.testing.assert_allclose(run.metrics["fair_objective"], J0, rtol=0, atol=1e-12)
    neg = g.with_rewards(g.rewards - 5.0)              # every V^i < -nu
    run = hatrpo(neg, th, None, NU, iters=2, seed=0)
    V = run.metrics["welfare"]
    np.testing.assert_allclose(run.metrics["fair_objective"], V + 2 * (NU - 1.0), atol=1e-12)
    assert np.all(V < 0)
