"""Softmax PG, NPG and NPG best-response (002, Section 3) against independent computations:
finite differences of exact values (fairmg.reference), an explicit Fisher matrix with
numpy.linalg.pinv, and plain-loop implementations (fairmg.reference_dynamics)."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import fairmg as fm
from fairmg.testing import reference as ref
from fairmg.testing import reference_dynamics as rd
from fairmg.dynamics import pg
from fairmg._validate import NonFiniteError

#: Central differences with step FD_STEP on values <= 1 / (1 - 0.9) = 10: truncation
#: ~ FD_STEP^2 * 10 and round-off ~ 1e-16 * 10 / FD_STEP, both below FD_TOL.
FD_STEP = 1e-5
FD_TOL = 1e-7
#: Closed forms against dense inverses / pinv: agree to round-off times the conditioning.
EXACT_TOL = 1e-8


@st.composite
def small_games(draw, kinds=fm.games.GAME_KINDS, max_agents=3):
    n = draw(st.integers(1, max_agents))
    sizes = tuple(draw(st.lists(st.integers(1, 3), min_size=n, max_size=n)))
    S = draw(st.integers(1, 3))
    gamma = draw(st.sampled_from([0.0, 0.5, 0.9]))
    kind = draw(st.sampled_from(kinds))
    seed = draw(st.integers(0, 2**32 - 1))
    return fm.games.random_game(S, sizes, gamma, rng=seed, kind=kind)


@st.composite
def logits(draw, game, scales=(0.0, 0.5, 1.0, 2.0)):
    scale = draw(st.sampled_from(scales))
    seed = draw(st.integers(0, 2**32 - 1))
    return scale * np.random.default_rng(seed).normal(
        size=(game.n_agents, game.n_states, game.max_actions))


def objective_ref(game, theta, lam):
    """J^i = V^i(mu) - lam * E_{s ~ Unif} KL(Unif_A^i || pi^i(.|s)) from the definitions."""
    probs = rd.product_probs(theta, game.action_sizes)
    V = ref.evaluate(game.transition, game.rewards, game.gamma, game.initial, probs,
                     game.action_sizes)[0]
    out = V @ game.initial
    for i, n in enumerate(game.action_sizes):
        p = probs[i, :, :n]
        kl = (np.full_like(p, 1.0 / n) * np.log((1.0 / n) / p)).sum(axis=1)
        out[i] -= lam * kl.mean()
    return out


def finite_difference_gradient(f, theta, game, agent_values=True):
    """d f(theta)[i] / d theta[i, s, a] (agent_values) or d f(theta) / d theta."""
    grad = np.zeros_like(theta)
    for idx in np.ndindex(theta.shape):
        i, _, a = idx
        if a >= game.action_sizes[i]:
            continue
        up, down = theta.copy(), theta.copy()
        up[idx] += FD_STEP
        down[idx] -= FD_STEP
        diff = f(up) - f(down)
        grad[idx] = (diff[i] if agent_values else diff) / (2 * FD_STEP)
    return grad


# -- gradients ------------------------------------------------------------------------
@given(st.data())
def test_policy_gradient_is_finite_difference_of_values(data):
    g = data.draw(small_games())
    theta = data.draw(logits(g))
    ev = fm.evaluate(g, fm.ProductPolicy.from_logits(g, theta))
    fd = finite_difference_gradient(lambda t: objective_ref(g, t, 0.0), theta, g)
    np.testing.assert_allclose(pg.policy_gradient(ev), fd, atol=FD_TOL)


@given(st.data())
def test_barrier_gradient_is_finite_difference_of_L_lambda(data):
    g = data.draw(small_games(kinds=("identical", "potential")))
    theta = data.draw(logits(g))
    lam = data.draw(st.sampled_from([0.01, 1.0, 10.0]))
    ev = fm.evaluate(g, fm.ProductPolicy.from_logits(g, theta))

    def L(t):  # Phi(mu) + lam * sum_i b^i, from the definitions
        probs = rd.product_probs(t, g.action_sizes)
        phi = rd.potential_value(g.transition, g.potential, g.gamma, g.initial, probs,
                                 g.action_sizes)
        return phi + (objective_ref(g, t, lam) - objective_ref(g, t, 0.0)).sum()

    fd = finite_difference_gradient(L, theta, g, agent_values=False)
    analytic = pg.policy_gradient(ev) + pg.log_barrier_gradient(g, ev.policy.probs, lam)
    np.testing.assert_allclose(analytic, fd, atol=FD_TOL * max(1.0, lam))
    assert pg.log_barrier_objective(g, theta, lam) == pytest.approx(L(theta), abs=1e-9)


@given(st.data())
def test_natural_direction_is_pinv_of_explicit_fisher(data):
    g = data.draw(small_games())
    theta = data.draw(logits(g))
    lam = data.draw(st.sampled_from([0.0, 0.1, 10.0]))
    probs = rd.product_probs(theta, g.action_sizes)
    adv, _, d = rd.local_advantages(g.transition, g.rewards, g.gamma, g.initial, probs,
                                    g.action_sizes)
    ev = fm.evaluate(g, fm.ProductPolicy.from_logits(g, theta))
    ours = pg.natural_directions(g, ev, pg.log_softmax(g, theta), lam)
    for i, n in enumerate(g.action_sizes):
        grad = d[:, None] * probs[i] * adv[i] + lam / g.n_states * (1.0 / n - probs[i])
        expected = rd.natural_gradient_pinv(probs[i, :, :n], d, grad, n)
        scale = max(1.0, np.abs(expected).max())
        np.testing.assert_allclose(ours[i, :, :n], expected, atol=EXACT_TOL * scale)
        assert np.all(ours[i, :, n:] == 0)


# -- one step of each dynamic ---------------------------------------------------------
@given(st.data())
def test_softmax_pg_step_follows_finite_difference_gradient(data):
    g = data.draw(small_games())
    theta = data.draw(logits(g))
    lam = data.draw(st.sampled_from([0.0, 1.0]))
    run = fm.dynamics.softmax_pg(g, theta, lr=0.3, iters=1, log_barrier=lam,
                                 metrics=("welfare",))
    fd = finite_difference_gradient(lambda t: objective_ref(g, t, lam), theta, g)
    base = np.where(g.action_mask[:, None, :], theta, 0.0)  # padding is set to 0
    np.testing.assert_allclose(run.thetas[1], base + 0.3 * fd, atol=0.3 * FD_TOL)


@given(st.data())
def test_npg_step_is_soft_policy_iteration(data):
    """Lemma 3.7: pi_{t+1}(a|s) = pi_t(a|s) exp(eta A(s, a)) / Z(s), and eq. (4) with pinv."""
    g = data.draw(small_games())
    theta = data.draw(logits(g))
    eta = data.draw(st.sampled_from([0.1, 1.0]))
    run = fm.dynamics.npg(g, theta, lr=eta, iters=1, metrics=())
    probs = rd.product_probs(theta, g.action_sizes)
    adv, _, d = rd.local_advantages(g.transition, g.rewards, g.gamma, g.initial, probs,
                                    g.action_sizes)
    for i, n in enumerate(g.action_sizes):
        w = probs[i, :, :n] * np.exp(eta * adv[i, :, :n])
        np.testing.assert_allclose(run.policies[1].probs[i, :, :n],
                                   w / w.sum(axis=1, keepdims=True), atol=1e-10)
        grad = d[:, None] * probs[i] * adv[i]
        np.testing.assert_allclose(run.thetas[1][i, :, :n], theta[i, :, :n] + eta *
                                   rd.natural_gradient_pinv(probs[i, :, :n], d, grad, n),
                                   atol=EXACT_TOL)


@given(st.data())
def test_npg_best_response_matches_plain_loops(data):
    g = data.draw(small_games())
    theta = data.draw(logits(g))
    K = data.draw(st.sampled_from([1, 3]))
    lam = data.draw(st.sampled_from([0.0, 0.1]))
    lr = data.draw(st.sampled_from([1.0, 0.3]))
    run = fm.dynamics.npg_best_response(g, theta, inner_steps=K, lr=lr, iters=2,
                                        log_barrier=lam, metrics=())
    expected = np.where(g.action_mask[:, None, :], theta, 0.0)
    for t in range(2):
        expected, agent = rd.npg_best_response_step(g.transition, g.rewards, g.gamma,
                                                    g.initial, g.action_sizes, expected, K,
                                                    lr, lam)
        assert run.params["agents"][t] == agent
        scale = max(1.0, np.abs(expected).max())
        np.testing.assert_allclose(run.thetas[t + 1], expected, atol=1e-7 * scale)


# -- properties the paper's results rest on -------------------------------------------
@given(st.data())
def test_npg_best_response_never_decreases_the_potential(data):
    """Soft policy iteration improves the moving agent's value (single-agent NPG is
    monotone), hence Phi by eq. (1); the chosen gain is the max over agents."""
    g = data.draw(small_games(kinds=("identical", "potential")))
    theta = data.draw(logits(g))
    run = fm.dynamics.npg_best_response(g, theta, inner_steps=2, lr=1.0, iters=4,
                                        metrics=("potential", "values"))
    scale = 1.0 / (1.0 - g.gamma)
    assert np.all(np.diff(run.metrics["potential"]) >= -1e-10 * scale)
    # the potential's change is the moving agent's value change (eq. (1))
    for t, i in enumerate(run.params["agents"]):
        dv = run.metrics["values"][t + 1, i] - run.metrics["values"][t, i]
        dphi = run.metrics["potential"][t + 1] - run.metrics["potential"][t]
        assert dv == pytest.approx(dphi, abs=1e-9 * scale)


def test_npg_matches_plain_numpy_run_metrics():
    g = fm.games.coordination(n_agents=3)
    theta = np.random.default_rng(1).normal(size=(3, 8, 2))
    run = fm.dynamics.npg(g, theta, lr=0.1, iters=15)
    expected, theta_T = rd.npg_run(g.transition, g.rewards, g.gamma, g.initial,
                                   g.action_sizes, theta, 0.1, 15, phi=g.potential)
    for key in ("nash_gap", "poa", "potential"):
        np.testing.assert_allclose(run.metrics[key], expected[key], atol=1e-9)
    np.testing.assert_allclose(run.thetas[-1], theta_T, atol=1e-9)


@pytest.mark.parametrize("dynamic", ["npg", "npg_best_response"])
def test_reaches_a_nash_policy_on_the_coordination_game(dynamic):
    g = fm.games.coordination(n_agents=2)
    theta = np.random.default_rng(0).normal(size=(2, 4, 2))
    run = getattr(fm.dynamics, dynamic)(g, theta, iters=150, metrics=("nash_gap", "poa"))
    assert run.metrics["nash_gap"][-1] < 1e-6
    assert run.metrics["nash_gap"][-1] < run.metrics["nash_gap"][0]
    assert len(run.metrics["poa"]) == len(run.policies) == len(run.thetas) == 151


def test_softmax_pg_ascends_the_potential_with_a_small_step():
    """Below 1/smoothness (Lemma 3.2: 41N / (4 (1 - gamma)^3)) ascent is monotone."""
    g = fm.games.random_game(4, (2, 3), 0.5, rng=3, kind="potential")
    lr = 4 * (1 - g.gamma) ** 3 / (41 * 2) / (g.potential.max() - g.potential.min())
    theta = np.random.default_rng(0).normal(size=(2, 4, 3))
    run = fm.dynamics.softmax_pg(g, theta, lr=lr, iters=30, metrics=("potential",))
    assert np.all(np.diff(run.metrics["potential"]) > 0)


# -- inputs and failures ----------------------------------------------------------------
@pytest.mark.parametrize("kwargs, name", [
    (dict(lr=0.0), "lr"), (dict(lr=np.nan), "lr"), (dict(log_barrier=-1.0), "log_barrier"),
    (dict(iters=-1), "iters"), (dict(inner_steps=0), "inner_steps"),
    (dict(inner_steps=2.5), "inner_steps")])
def test_invalid_arguments_raise_naming_them(kwargs, name):
    g = fm.games.coordination(n_agents=2)
    theta = np.zeros((2, 4, 2))
    fn = fm.dynamics.npg_best_response if "inner_steps" in kwargs else fm.dynamics.npg
    with pytest.raises(ValueError, match=name):
        fn(g, theta, **kwargs)


@pytest.mark.parametrize("theta, match", [
    (np.zeros((2, 4, 3)), "theta0 must have shape"),
    (np.full((2, 4, 2), np.nan), r"theta0\[0, 0, 0\]")])
def test_bad_logits_raise(theta, match):
    g = fm.games.coordination(n_agents=2)
    for fn in (fm.dynamics.softmax_pg, fm.dynamics.npg, fm.dynamics.npg_best_response):
        with pytest.raises(ValueError, match=match):
            fn(g, theta, iters=1)


def test_padding_of_theta0_is_ignored():
    g = fm.games.random_game(2, (2, 3), 0.9, rng=0)
    theta = np.random.default_rng(0).normal(size=(2, 2, 3))
    padded = theta.copy()
    padded[0, :, 2] = np.nan
    a = fm.dynamics.npg(g, theta, iters=3, metrics=("welfare",))
    b = fm.dynamics.npg(g, padded, iters=3, metrics=("welfare",))
    np.testing.assert_array_equal(a.metrics["welfare"], b.metrics["welfare"])


def test_underflowing_barrier_raises_instead_of_returning_inf():
    g = fm.games.coordination(n_agents=2)
    theta = np.zeros((2, 4, 2))
    theta[:, :, 0] = 800.0  # pi(1|s) = exp(-800) underflows to 0: the barrier is -inf
    with pytest.raises(FloatingPointError):
        fm.dynamics.npg(g, theta, iters=1, log_barrier=1.0, metrics=())


# -- the figures of 002 (fairmg reproduce mpg-*) ----------------------------------------
@pytest.mark.parametrize("fig_id", ["mpg-fig1", "mpg-fig2", "mpg-fig4", "mpg-k-grid"])
def test_figures_quick(fig_id, tmp_path):
    import csv

    from fairmg.reproduce import mpg, reproduce

    paths = reproduce(fig_id, tmp_path, quick=True, progress=False)
    assert [p.name for p in paths[:2]] == [f"{fig_id}.png", f"{fig_id}.csv"]
    assert paths[0].stat().st_size > 10_000
    with open(paths[1]) as fh:
        rows = list(csv.DictReader(fh))
    finite = [r for r in rows if r["poa_mean"] != "nan"]
    assert {int(r["iteration"]) for r in rows} == set(range(mpg.QUICK["iters"] + 1))
    assert {int(r["n_agents"]) for r in rows} == set(mpg.QUICK["agents"])
    assert all(0 < float(r["poa_mean"]) <= 1 + 1e-12 for r in finite)
    assert all(float(r["nash_gap_mean"]) >= 0 for r in finite)
    assert any(r["selected"] == "1" for r in rows)
    assert "leaves open" in paths[2].read_text()


def _fake_results(finals, means=None):
    """results[config]["poa"] of 2 seeds x 3 iterations with the given final means."""
    out = {}
    for k, (config, final) in enumerate(finals.items()):
        mean = final if means is None else means[k]
        poa = np.array([[mean, 2 * mean - final, final]] * 2)
        out[config] = {"poa": poa, "nash_gap": np.zeros_like(poa)}
    return out


def test_selection_by_best_final_poa():
    from fairmg.reproduce import mpg

    cfg = [(2, "pg", lam, 0) for lam in mpg.LAMBDAS]
    res = _fake_results(dict(zip(cfg, [0.5, 0.9, 0.7, 0.9, 0.1])), means=[0, 0.5, 0, 0.8, 0])
    assert mpg.best_lambda(res, 2, "pg") == 10.0        # tie at 0.9 -> higher mean POA
    res[cfg[3]]["poa"][1, 1] = np.nan                     # a diverged seed is never chosen
    assert mpg.best_lambda(res, 2, "pg") == 0.1
    for c in cfg:
        res[c]["poa"][0, 0] = np.nan
    assert mpg.best_lambda(res, 2, "pg") is None


def test_mean_and_standard_error():
    from scipy import stats

    from fairmg.reproduce import mpg

    x = np.random.default_rng(0).normal(size=(7, 5))
    m, se = mpg.mean_se(x)
    np.testing.assert_allclose(m, x.mean(0))
    np.testing.assert_allclose(se, stats.sem(x, axis=0))


def test_worker_pool_gives_the_serial_results():
    from fairmg.reproduce import mpg

    jobs = [mpg.Job(2, s, "npg-br", 0.0, 2, 3) for s in range(2)] + [
        mpg.Job(2, 0, "nn-adam", 0.1, 0, 3)]
    serial = mpg.run_jobs(jobs, workers=1, progress=False)
    pooled = mpg.run_jobs(jobs, workers=2, progress=False)
    assert serial.keys() == pooled.keys()
    for c in serial:
        np.testing.assert_array_equal(serial[c]["poa"], pooled[c]["poa"])


@pytest.mark.parametrize("algo,lam,K", [("pg", 0.0, 0), ("npg", 0.0, 0), ("npg", 100.0, 0),
                                        ("npg-br", 0.0, 3), ("npg-br", 1.0, 3)])
def test_lockstep_batches_of_seeds_give_the_single_runs(algo, lam, K):
    """Figure 1's grid runs the seeds of a configuration in lockstep (one batch of logits);
    each seed's curves must be those of its own run, NaN where a seed diverges (NPG with
    lambda = 100 overshoots: the batch falls back to single runs)."""
    from fairmg.reproduce import mpg
    jobs = [mpg.Job(3, s, algo, lam, K, 15) for s in range(3)]
    for (job, curves), single in zip(mpg.run_batch(jobs), jobs):
        assert job == single
        _, want = mpg.run_job(single)
        for k in mpg.METRICS:
            np.testing.assert_allclose(curves[k], want[k], rtol=0, atol=1e-12)
    every = jobs + [mpg.Job(2, 0, "nn-pg", 0.0, 0, 15)]
    split = mpg.batches(every, workers=2)
    assert sorted(map(str, (j for b in split for j in b))) == sorted(map(str, every))
    assert all(len({j.config for j in b}) == 1 for b in split)


@pytest.mark.parametrize("seed, S, sizes, lam", [(0, 2, (2, 2), 0.0), (1, 3, (2, 3), 0.1),
                                                 (2, 2, (3,), 0.05), (3, 4, (2, 2, 2), 0.0)])
def test_softmax_pg_logits_is_softmax_pg(seed, S, sizes, lam):
    """The compiled loop takes softmax_pg's steps (padding, barrier and general games)."""
    g = fm.games.random_game(S, sizes, 0.8, rng=seed, kind="general")
    theta = np.random.default_rng(seed).normal(size=(g.n_agents, S, g.max_actions))
    got = pg.softmax_pg_logits(g, theta, lr=0.3, iters=300, log_barrier=lam)
    run = pg.softmax_pg(g, theta, lr=0.3, iters=300, log_barrier=lam, metrics=())
    assert got.shape == (301,) + theta.shape
    np.testing.assert_allclose(got, np.stack(run.thetas), rtol=0, atol=1e-11)


def test_softmax_pg_logits_rejects_factored_games_and_reports_overflow():
    fg = fm.games.random_factored_game((2, 2), (2, 2), 0.85, rng=3)
    with pytest.raises(TypeError, match="dense MarkovGame"):
        pg.softmax_pg_logits(fg, np.zeros((2, 4, 2)))
    bandit = fm.MarkovGame(transition=np.ones((1, 2, 1)), rewards=[[[0.0, 1000.0]]],
                           gamma=0.5, initial=[1.0], action_sizes=(2,))
    with pytest.raises(NonFiniteError, match="update 1 overflowed"):   # 1e308 * 500
        pg.softmax_pg_logits(bandit, np.zeros((1, 1, 2)), lr=1e308, iters=5)
