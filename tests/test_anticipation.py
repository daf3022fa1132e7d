"""004 (anticipation sharing): the quantities of fairmg.anticipation against brute force
over joint actions (itertools.product) and plain linear solves, the AS dynamic's gradient
against finite differences and its unconstrained limit against softmax PG, the baselines
and the dilemma games."""
import itertools

import numpy as np
import pytest

import fairmg as fm
from fairmg import anticipation as an


def _setup(seed=0, sizes=(2, 3), S=3, gamma=0.8):
    g = fm.games.random_game(S, sizes, gamma, rng=seed)
    rng = np.random.default_rng(seed + 1)
    N, Am = len(sizes), max(sizes)
    old = fm.ProductPolicy.from_logits(g, rng.normal(size=(N, S, Am)))
    new = fm.ProductPolicy.from_logits(g, rng.normal(size=(N, S, Am)))
    ant = an.anticipations_from(new, [fm.ProductPolicy.from_logits(
        g, rng.normal(size=(N, S, Am))) for _ in range(N)])
    return g, old, new, ant


def _brute(g, pol):
    """V, joint Q, visitation of a product policy by itertools.product and np.linalg."""
    S, N = g.n_states, g.n_agents
    P, R = g.transition, g.rewards
    joint = np.zeros((S, g.n_joint_actions))
    for s in range(S):
        for acts in itertools.product(*[range(n) for n in g.action_sizes]):
            a = np.ravel_multi_index(acts, g.action_sizes)
            joint[s, a] = np.prod([pol.probs[i, s, acts[i]] for i in range(N)])
    Ppi = np.einsum("sa,sat->st", joint, P)
    rpi = np.einsum("sa,isa->is", joint, R)
    M = np.eye(S) - g.gamma * Ppi
    V = np.linalg.solve(M, rpi.T).T
    d = np.linalg.solve(M.T, g.initial)
    Q = R + g.gamma * np.einsum("sat,it->isa", P, V)
    return V, Q, d, joint


def _joint_of(g, probs):
    S = g.n_states
    out = np.zeros((S, g.n_joint_actions))
    for s in range(S):
        for acts in itertools.product(*[range(n) for n in g.action_sizes]):
            a = np.ravel_multi_index(acts, g.action_sizes)
            out[s, a] = np.prod([probs[i, s, acts[i]] for i in range(g.n_agents)])
    return out


@pytest.mark.parametrize("seed, sizes", [(0, (2, 3)), (1, (2, 2, 2)), (2, (3,))])
def test_quantities_match_brute_force(seed, sizes):
    g, old, new, ant = _setup(seed, sizes)
    V, Q, d, jold = _brute(g, old)
    A = Q - V[:, :, None]
    jnew = _joint_of(g, new.probs)
    assert an.team_return(g, old) == pytest.approx(float((V @ g.initial).sum()), abs=1e-10)
    assert np.allclose(an.visitation(g, old), d)
    assert an.visitation(g, old).sum() == pytest.approx(1 / (1 - g.gamma))
    assert np.allclose(an.joint_advantages(g, old), A)
    # eq. (5)
    z5 = sum(d[s] * jnew[s, a] * A[:, s, a].sum() for s in range(g.n_states)
             for a in range(g.n_joint_actions))
    assert an.zeta(g, old, new) == pytest.approx(z5, abs=1e-10)
    # eq. (6): agent i's term under its own anticipated joint policy
    z6 = 0.0
    sq = np.zeros(g.n_agents)
    for i in range(g.n_agents):
        ji = _joint_of(g, ant[i])
        z6 += float(np.einsum("s,sa,sa->", d, ji, A[i]))
        sq[i] = np.sum((ji - jnew) ** 2)
    assert an.zeta(g, old, ant) == pytest.approx(z6, abs=1e-10)
    assert np.allclose(an.anticipation_sq_distance(g, ant), sq, atol=1e-12)
    C = 4 * g.gamma * np.abs(A.sum(0)).max() / (1 - g.gamma) ** 2
    assert an.penalty_constant(g, old) == pytest.approx(C)
    M = np.abs(A).max(axis=(1, 2))
    assert np.allclose(an.kappa(g, old, "max"), M)
    mean = np.einsum("s,sa,isa->i", (1 - g.gamma) * d, jold, np.abs(A))
    assert np.allclose(an.kappa(g, old, "mean"), mean)
    assert an.f_constant(g, old) == pytest.approx(0.5 * M.sum() * g.n_joint_actions
                                                  * np.sum(d ** 2))
    # D_KL^max of the joint table (brute force) and per agent
    kl_joint = max(np.sum(jold[s] * np.log(jold[s] / jnew[s])) for s in range(g.n_states))
    assert an.kl_max_joint(old, new) == pytest.approx(kl_joint, abs=1e-12)
    per = [max(np.sum(old.probs[i, s, :n] * np.log(old.probs[i, s, :n] / new.probs[i, s, :n]))
               for s in range(g.n_states)) for i, n in enumerate(g.action_sizes)]
    assert np.allclose(an.kl_max_agents(old, new), per)
    # perfect anticipations: zeta(Pi~) = zeta(pi), zero distance
    perfect = an.anticipations_from(new)
    assert an.zeta(g, old, perfect) == pytest.approx(an.zeta(g, old, new), abs=1e-12)
    assert np.allclose(an.anticipation_sq_distance(g, perfect), 0.0)
    assert an.zeta(g, old, old) == pytest.approx(0.0, abs=1e-10)


def test_zeta_is_the_directional_derivative_of_eta():
    """zeta_{pi}(pi') = sum_i d/dt V_i(mu) of the joint mixture (1-t) pi + t pi' at t=0
    (TRPO's L matches eta to first order); central differences on the joint table."""
    g, old, new, _ = _setup(3, (2, 2))
    _, _, _, jold = _brute(g, old)
    jnew = _joint_of(g, new.probs)
    one = fm.MarkovGame(g.transition, g.rewards.sum(0)[None], g.gamma, initial=g.initial,
                        action_sizes=(g.n_joint_actions,))

    def eta(t):
        p = (1 - t) * jold + t * jnew
        return fm.evaluate(one, fm.ProductPolicy(one, p[None])).value_at_initial[0]

    h = 1e-5
    assert (eta(h) - eta(-h)) / (2 * h) == pytest.approx(an.zeta(g, old, new), rel=1e-6)


def test_lemma1_and_theorem1_bounds_on_one_instance():
    g, old, new, ant = _setup(4, (2, 2))
    assert an.team_return(g, new) >= an.lemma1_bound(g, old, new)
    lhs = an.team_return(g, new) - an.zeta(g, old, ant)
    assert lhs >= an.theorem1_bound(g, old, ant)
    assert an.discrepancy_mse(g, an.anticipations_from(new)) == 0.0
    assert an.discrepancy_mse(g, ant) > 0.0


def test_anticipation_errors_name_the_argument():
    g, old, new, ant = _setup(0, (2, 3))
    with pytest.raises(ValueError, match="anticipations"):
        an.check_anticipations(g, ant[:, :, :2])
    bad = ant.copy()
    bad[0, 1, 0, 0] += 0.5
    with pytest.raises(ValueError, match="anticipations"):
        an.zeta(g, old, bad)
    with pytest.raises(ValueError, match="kind"):
        an.kappa(g, old, "median")


# ------------------------------------------------------------------ the AS dynamic
from fairmg.dynamics import anticipation as D          # noqa: E402
from fairmg.games import dilemma as dl                  # noqa: E402


def _problem(seed, clip_on, rows=(1,)):
    g = fm.games.random_game(3, (2, 3), 0.8, rng=seed)
    rng = np.random.default_rng(seed)
    theta = np.where(g.action_mask[None, :, None, :], rng.normal(size=(2, 2, 3, 3)), 0.0)
    probs = D._all_probs(g, theta)
    pol = D._diag_policy(g, theta)
    ev = fm.evaluate(g, pol)
    A = ev.q - ev.values[:, :, None]
    prob = D.AgentProblem(g, (1 - g.gamma) * ev.visitation, pol.joint_probs(), A[0], 0, rows,
                          probs[0], probs, rho=0.7, kappa_i=0.3, clip=0.2, clip_on=clip_on)
    th = theta[0] + np.where(g.action_mask[:, None, :], 0.3 * rng.normal(size=(2, 3, 3)), 0)
    return g, prob, th


@pytest.mark.parametrize("clip_on", ["own", "joint"])
def test_as_gradient_matches_finite_differences(clip_on):
    g, prob, th = _problem(0, clip_on)
    grad = D.as_gradient(prob, th)
    h = 1e-6
    for idx in np.ndindex(th.shape):
        if not g.action_mask[idx[0], idx[2]]:
            assert grad[idx] == 0.0
            continue
        e = np.zeros_like(th)
        e[idx] = h
        fd = (D.as_objective(prob, th + e) - D.as_objective(prob, th - e)) / (2 * h)
        assert grad[idx] == pytest.approx(fd, abs=1e-8)


def test_unconstrained_as_without_neighbours_is_softmax_pg():
    """rho = 0, no neighbours, clip never active, one epoch: the gradient of
    E_{s~(1-g)d, a~pi_old}[xi_i A_i] at theta_old is (1-gamma) dV_i/dtheta_i (policy
    gradient theorem), so AS is independent softmax PG with step lr (1-gamma)."""
    g = fm.games.random_game(3, (2, 3), 0.8, rng=1)
    theta0 = np.where(g.action_mask[:, None, :],
                      np.random.default_rng(1).normal(size=(2, 3, 3)), 0.0)
    run = D.anticipation_sharing(g, theta0, rho=0.0, clip=1e9, neighbours="none", iters=5,
                                 epochs=1, lr=2.0)
    theta = theta0.copy()                  # softmax PG (002 eq. (3)) with the exact gradient
    for _ in range(5):
        ev = fm.evaluate(g, fm.ProductPolicy.from_logits(g, theta))
        theta = theta + 2.0 * (1 - g.gamma) * fm.dynamics.pg.policy_gradient(ev)
    idx = np.arange(2)
    assert np.allclose(run.thetas[-1][idx, idx], theta, atol=1e-10)
    ind = D.independent_ppo(g, theta0, clip=1e9, iters=5, epochs=1, lr=2.0)
    assert np.allclose(ind.metrics["welfare"], run.metrics["welfare"])


def test_first_anticipation_step_is_agent_is_gradient_in_js_policy():
    """All neighbours, rho = 0, no clip, anticipations equal to the policies: agent i's
    anticipation of j moves along (1-gamma) dV_i/dtheta_j (what i would like j to do)."""
    g = fm.games.random_game(2, (2, 2), 0.7, rng=2)
    theta0 = np.random.default_rng(2).normal(size=(2, 2, 2))
    lr = 1e-3
    run = D.anticipation_sharing(g, theta0, rho=0.0, clip=1e9, neighbours="all", iters=1,
                                 epochs=1, lr=lr)
    step = (run.thetas[1] - run.thetas[0]) / lr

    def V(i, th):
        return fm.evaluate(g, fm.ProductPolicy.from_logits(g, th)).value_at_initial[i]

    h = 1e-6
    for i, j in [(0, 1), (1, 0), (0, 0)]:
        for s, a in np.ndindex(2, 2):
            e = np.zeros_like(theta0)
            e[j, s, a] = h
            fd = (V(i, theta0 + e) - V(i, theta0 - e)) / (2 * h)
            assert step[i, j, s, a] == pytest.approx((1 - g.gamma) * fd, abs=1e-7)


def test_neighbourhoods_and_communication_schedule():
    assert D.neighbourhoods(4, "ring").sum(axis=1).tolist() == [2, 2, 2, 2]
    assert not D.neighbourhoods(3, "none").any()
    rnd = D.neighbourhoods(5, "random", np.random.default_rng(0))
    assert rnd.sum(axis=1).tolist() == [1] * 5 and not np.diag(rnd).any()
    with pytest.raises(ValueError, match="neighbours"):
        D.neighbourhoods(3, np.ones((2, 2), bool))
    g = dl.iterated_prisoners_dilemma()
    run = D.anticipation_sharing(g, np.zeros((2, 5, 2)), rho=1.0, neighbours="random",
                                 iters=4, communicate_every=2, seed=0)
    assert [a.any() for a in run.graphs] == [True, False, True, False]
    off = [0, 1]                                         # agent 0's anticipation of 1
    assert np.array_equal(run.thetas[2][off[0], off[1]], run.thetas[1][off[0], off[1]])


def test_baselines_exact_identities():
    g = dl.public_goods(levels=2)
    theta0 = np.zeros((2, g.n_states, 2))
    vs = D.value_sharing(g, theta0, neighbours="all", iters=4)
    mean = fm.MarkovGame(g.transition, np.broadcast_to(g.rewards.mean(0), g.rewards.shape),
                         g.gamma, initial=g.initial, action_sizes=g.action_sizes)
    ind = D.independent_ppo(mean, theta0, iters=4)     # VS(all) = PPO on the mean reward
    assert np.allclose(vs.thetas[-1], ind.thetas[-1])
    vps = D.value_parameter_sharing(g, theta0, neighbours="all", beta=1.0, iters=4)
    assert np.allclose(vps.thetas[-1], vs.thetas[-1])   # beta = 1: VPS = VS
    ps = D.policy_sharing(g, theta0, neighbours="all", iters=4)
    assert np.allclose(ps.metrics["discrepancy"], 0.0)  # full consensus each iteration
    cen = D.centralised_ppo(g, iters=3)
    assert np.allclose(cen.metrics["values"].sum(axis=1), cen.metrics["welfare"])


def test_as_with_a_strong_penalty_escapes_the_dilemma_where_independent_ppo_does_not():
    g = dl.iterated_prisoners_dilemma()
    theta0 = np.zeros((2, 5, 2))
    ind = D.independent_ppo(g, theta0, iters=100, lr=0.3)
    asr = D.anticipation_sharing(g, theta0, rho=10.0, iters=100, lr=0.3)
    assert ind.metrics["welfare"][-1] < 22.0            # towards mutual defection (20)
    assert asr.metrics["welfare"][-1] > 45.0            # above the start, towards 60
    assert asr.metrics["discrepancy"][-1] < 0.01


# ------------------------------------------------------------------ the dilemma games
@pytest.mark.parametrize("make", [dl.iterated_prisoners_dilemma, dl.public_goods,
                                  dl.cooperative_predation])
def test_selfish_equilibrium_is_not_the_social_optimum(make):
    g = make()
    S, N = g.n_states, g.n_agents
    selfish = fm.ProductPolicy.deterministic(g, np.ones((N, S), int))
    coop = fm.ProductPolicy.deterministic(g, np.zeros((N, S), int))
    assert fm.nash_gap(g, selfish) < 1e-9                # defecting everywhere is Nash
    assert fm.nash_gap(g, coop) > 0.1                    # cooperating is not
    opt = fm.social_optimum(g)
    welfare = fm.evaluate(g, selfish).value_at_initial.sum()
    assert opt.value > welfare + 1.0
    assert opt.value == pytest.approx(fm.evaluate(g, coop).value_at_initial.sum())


def test_predation_payoff_table_of_section_5_1():
    g = dl.cooperative_predation(positions=3)
    s = np.ravel_multi_index((2, 1), (3, 3))
    table = {(0, 0): (-1, -1), (1, 1): (-3, -3), (0, 1): (-4, 0), (1, 0): (0, -4)}
    for (a0, a1), r in table.items():
        a = np.ravel_multi_index((a0, a1), (2, 2))
        assert tuple(g.rewards[:, s, a]) == r
    nxt = np.argmax(g.transition[s, np.ravel_multi_index((0, 1), (2, 2))])
    assert np.unravel_index(nxt, (3, 3)) == (1, 2)
    assert g.transition[0, :, 0].tolist() == [1.0] * 4 and not g.rewards[:, 0].any()


def test_reproduce_runs_are_well_formed():
    from fairmg.reproduce import anticipation as R
    runs = R.fig7_runs(1, 4)
    assert {r["rho"] for r in runs} == set(R.RHOS)
    for r in runs:
        assert r["toward"].shape == (5, 2) and r["discrepancy"].shape == (5,)
        assert r["discrepancy"][0] > 0                   # anticipations start random
    runs = R.matrix_runs(1, 2)
    assert len(runs) == len(R.MATRIX_GAMES) * len(R.MATRIX_METHODS)
    assert all(r["welfare"].shape == (3,) for r in runs)


def test_problem_12_solution_is_feasible_and_wide_constraints_give_the_wished_joint_action():
    g = fm.games.matrix_game(np.array([[[3.0, 0.0], [5.0, 1.0]], [[3.0, 5.0], [0.0, 1.0]]]),
                             per_agent=True)                  # one-shot PD, 0 = cooperate
    pol = fm.ProductPolicy.uniform(g)
    ev = fm.evaluate(g, pol)
    probs = np.broadcast_to(pol.probs[None], (2,) + pol.probs.shape).copy()
    new, val, res = D.solve_problem_12(g, ev, probs, 0, (1,), 1e3, 1e3, 1.0)
    # agent 0 defects and anticipates that agent 1 cooperates: its best joint action (D, C)
    assert new[0, 0, 1] > 0.999 and new[1, 0, 0] > 0.999      # agent 0's rows (N, S, A)
    assert val == pytest.approx(5.0 - 2.25, abs=1e-6)        # A_0(D, C) = 5 - V_0 (2.25)
    new, val, res = D.solve_problem_12(g, ev, probs, 0, (1,), 0.01, 0.02, 1.0)
    kl = an.kl_per_agent(pol.probs[0], new[0])
    assert kl.max() <= 0.01 + 1e-7
    assert np.sum((new[1] - probs[1, 1]) ** 2) <= 0.02 + 1e-7
    assert np.sum((new[0] - probs[1, 0]) ** 2) <= 0.02 + 1e-7
    assert 0 < val < 5.0 - 2.25
