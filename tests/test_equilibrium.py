"""Best responses, Nash-gap, social optimum and POA against independent solvers."""
import itertools
import warnings

import nashpy
import numpy as np
import pytest
import quantecon as qe
from hypothesis import given, strategies as st

import fairmg as fm
from fairmg.testing import reference as ref

from fairmg.testing.strategies import games, policies

VALUE_TOL = 1e-8   # relative to 1 / (1 - gamma)


def qe_values(P, r, gamma):
    return qe.markov.DiscreteDP(r, P, gamma).solve("policy_iteration").v


@given(st.data())
def test_best_response_matches_quantecon_and_reference(data):
    g = data.draw(games())
    pol = data.draw(policies(g))
    scale = 1.0 / (1.0 - g.gamma)
    for i in range(g.n_agents):
        br = fm.best_response(g, pol, i)
        P_i, r_i = ref.agent_mdp(g.transition, g.rewards, pol.probs, g.action_sizes, i)
        np.testing.assert_allclose(br.values, qe_values(P_i, r_i, g.gamma),
                                   atol=VALUE_TOL * scale)
        np.testing.assert_allclose(br.values, ref.value_iteration(P_i, r_i, g.gamma, 1e-10),
                                   atol=VALUE_TOL * scale)
        assert br.converged and br.residual < 1e-9 * scale
        # the returned deterministic row attains the values
        ev = fm.evaluate(g, br.policy)
        np.testing.assert_allclose(ev.values[i], br.values, atol=VALUE_TOL * scale)
        values, row = br
        assert row.shape == (g.n_states, g.max_actions) and set(np.unique(row)) <= {0.0, 1.0}


@given(st.data())
def test_nash_gap_matches_reference(data):
    g = data.draw(games())
    pol = data.draw(policies(g))
    gaps = fm.nash_gap(g, pol, per_agent=True)
    expected = ref.nash_gap(g.transition, g.rewards, g.gamma, g.initial, pol.probs,
                            g.action_sizes, per_agent=True)
    np.testing.assert_allclose(gaps, np.maximum(expected, 0), atol=VALUE_TOL / (1 - g.gamma))
    assert fm.nash_gap(g, pol) == gaps.max()
    assert np.all(gaps >= 0)


@given(games(max_agents=2, max_states=3, max_actions=2))
def test_social_optimum_brute_force_and_quantecon(g):
    """Max over all deterministic joint policies (enumerated) = the solver's optimum."""
    S, A = g.n_states, g.n_joint_actions
    best = -np.inf
    for joint in itertools.product(range(A), repeat=S):
        pol = fm.ProductPolicy.from_joint_actions(g, joint)
        best = max(best, fm.evaluate(g, pol).value_at_initial.sum())
    opt = fm.social_optimum(g)
    tol = VALUE_TOL / (1 - g.gamma)
    assert opt.value == pytest.approx(best, abs=tol)
    assert fm.evaluate(g, opt.policy).value_at_initial.sum() == pytest.approx(best, abs=tol)
    np.testing.assert_allclose(opt.values, qe_values(g.transition, g.rewards.sum(0), g.gamma),
                               atol=tol)
    value, policy = opt
    assert value == opt.value


def test_social_optimum_bounds_every_policy():
    g = fm.games.random_game(6, (2, 2, 3), 0.9, rng=3)
    opt = fm.social_optimum(g).value
    rng = np.random.default_rng(0)
    for _ in range(20):
        pol = fm.ProductPolicy.from_logits(g, 3 * rng.normal(size=(3, 6, 3)))
        assert fm.price_of_anarchy(g, pol) <= 1.0 + 1e-12
        assert fm.evaluate(g, pol).value_at_initial.sum() <= opt + 1e-10
    assert fm.price_of_anarchy(g, fm.social_optimum(g).policy) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("seed", range(8))
def test_nashpy_equilibria_have_zero_gap(seed):
    rng = np.random.default_rng(seed)
    A, B = rng.integers(-3, 4, size=(2, 3, 3)).astype(float)
    g = fm.games.matrix_game(np.stack([A, B]), per_agent=True)
    found = 0
    for x, y in nashpy.Game(A, B).support_enumeration():
        pol = fm.ProductPolicy(g, np.stack([x, y])[:, None, :])
        assert fm.nash_gap(g, pol) == pytest.approx(0.0, abs=1e-9)
        found += 1
    assert found >= 1
    # a pure profile is a Nash equilibrium iff it has zero gap (by direct enumeration)
    for a, b in itertools.product(range(3), range(3)):
        pol = fm.ProductPolicy.deterministic(g, [[a], [b]])
        direct = max(A[:, b].max() - A[a, b], B[a, :].max() - B[a, b])
        assert fm.nash_gap(g, pol) == pytest.approx(direct, abs=1e-12)


def test_prisoners_dilemma_gap_and_poa():
    # (C, C) pays 3 each, (D, D) 1 each; D dominates.
    A = np.array([[3.0, 0.0], [5.0, 1.0]])
    g = fm.games.matrix_game(np.stack([A, A.T]), per_agent=True)
    cc = fm.ProductPolicy.deterministic(g, [[0], [0]])
    dd = fm.ProductPolicy.deterministic(g, [[1], [1]])
    assert fm.nash_gap(g, cc, per_agent=True) == pytest.approx([2.0, 2.0])
    assert fm.nash_gap(g, dd) == 0.0
    assert fm.social_optimum(g).value == pytest.approx(6.0)
    assert fm.price_of_anarchy(g, dd) == pytest.approx(2.0 / 6.0)


def test_poa_rejects_non_positive_optimum():
    g = fm.games.matrix_game(-np.ones((2, 2)))
    with pytest.raises(ValueError, match="game has social optimum -2"):
        fm.price_of_anarchy(g, fm.ProductPolicy.uniform(g))


def chain_mdp(S=20):
    """Action 0 stays for 0.5 a step; action 1 walks right for 0; the last state pays 1."""
    P, r = np.zeros((S, 2, S)), np.zeros((S, 2))
    for s in range(S - 1):
        P[s, 0, s], P[s, 1, s + 1], r[s, 0] = 1.0, 1.0, 0.5
    P[S - 1, :, S - 1], r[S - 1] = 1.0, 1.0
    return P, r


def test_solve_mdp_reports_iteration_cap():
    P, r = chain_mdp()
    full = fm.solve_mdp(P, r, 0.99)
    np.testing.assert_allclose(full.values, qe_values(P, r, 0.99), rtol=1e-12)
    assert full.converged and full.iterations > 2
    capped = fm.solve_mdp(P, r, 0.99, max_iter=2)
    assert not capped.converged and capped.iterations == 2 and capped.residual > 1e-3


def test_tie_breaking_is_deterministic_lowest_index():
    # all actions identical: the myopic start (argmax -> 0) is kept
    P = np.full((3, 4, 3), 1 / 3)
    sol = fm.solve_mdp(P, np.ones((3, 4)), 0.9)
    np.testing.assert_array_equal(sol.actions, 0)
    assert sol.iterations == 1 and sol.converged


def test_best_response_agent_validation():
    g = fm.games.coordination(2)
    with pytest.raises(ValueError, match=r"agent must be an int in \[0, 1\], got 2"):
        fm.best_response(g, fm.ProductPolicy.uniform(g), 2)
    with pytest.raises(TypeError, match=r"agent must be an int"):      # issue 10: not agent 1
        fm.best_response(g, fm.ProductPolicy.uniform(g), True)


def test_tie_among_improving_actions_takes_lowest_index():
    P = np.full((2, 4, 2), 0.5)
    r = np.array([[0.0, 1.0, 1.0, 0.5], [0.2, 0.2, 0.1, 0.2]])
    sol = fm.solve_mdp(P, r, 0.5, init=[0, 3])
    np.testing.assert_array_equal(sol.actions, [1, 3])   # state 1: incumbent 3 ties, kept


def test_solve_mdp_and_warm_starts_validate_their_input():
    g = fm.games.random_game(3, (2, 3), 0.9, rng=0)
    P, r = g.agent_mdp(fm.ProductPolicy.uniform(g), 1)
    cases = [(dict(gamma=1.0), ValueError, "gamma is 1.0"),
             (dict(init=[1]), ValueError, r"init must have shape \(3,\)"),
             (dict(init=[-1, 0, 0]), ValueError, r"init\[0\] is -1"),
             (dict(init=[0, 3, 0]), ValueError, r"init\[1\] is 3, expected in \[0, 3\)"),
             (dict(init=[0.0, 1.0, 0.0]), TypeError, "init must hold ints"),
             (dict(max_iter=0), ValueError, "max_iter must be an int >= 1")]
    for kwargs, exc, match in cases:
        args = dict(P=P, r=r, gamma=0.9) | kwargs
        with pytest.raises(exc, match=match):
            fm.solve_mdp(**args)
    r_nan = r.copy()
    r_nan[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"r\[1, 2\] is nan"):
        fm.solve_mdp(P, r_nan, 0.9)
    P_bad = P.copy()
    P_bad[2, 1, 0] += 0.1
    with pytest.raises(ValueError, match=r"P\[2, 1, :\] sums to"):
        fm.solve_mdp(P_bad, r, 0.9)
    with pytest.raises(ValueError, match=r"init must have shape"):
        fm.best_response(g, fm.ProductPolicy.uniform(g), 1, init=[1])


def test_an_evaluation_of_another_policy_is_rejected():
    g = fm.games.coordination(2)
    uniform = fm.ProductPolicy.uniform(g)
    det = fm.ProductPolicy.deterministic(g, np.zeros((2, 4), int))
    for f in (fm.nash_gap, fm.price_of_anarchy):
        with pytest.raises(ValueError, match="evaluation is not of policy"):
            f(g, det, evaluation=fm.evaluate(g, uniform))
        assert f(g, det, evaluation=fm.evaluate(g, det)) == f(g, det)


# -- issue 10: bad inputs get a clear error naming the argument -------------------------
def test_largest_rewards_give_finite_gap_and_poa_and_1e308_is_refused():
    """Issue 10: rewards of +-1e308 mixed gave nash_gap = inf and POA 0.0 with a
    RuntimeWarning. They are refused at construction; the largest accepted ones (1e150,
    mixed signs, the largest discount) give finite results."""
    from fairmg._validate import MAX_GAMMA
    P = np.full((2, 4, 2), 0.5)
    R = np.zeros((2, 2, 4))
    R[0, :, 0], R[1, :, 0], R[0, :, 3] = 1e308, -1e308, 1.0
    with pytest.raises(ValueError, match=r"rewards\[0, 0, 0\] is 1e\+308, expected \|value\| "
                                         r"<= 1e\+150 \(rescale it\)"):
        fm.MarkovGame(P, R, 0.9, action_sizes=(2, 2))
    with pytest.raises(ValueError, match=r"payoffs\[0, 1\] is -1e\+308"):
        fm.games.matrix_game([[1.0, -1e308], [1e308, 1.0]])
    R = np.zeros((2, 2, 4))                              # |r| <= 1e150, mixed signs
    R[0, :, :] = 1e150 * np.array([1.0, 0.0, 0.0, 0.5])
    R[1, :, :] = -1e150 * np.array([0.0, 1.0, 0.0, 0.25])
    g = fm.MarkovGame(P, R, MAX_GAMMA, action_sizes=(2, 2))
    pol = fm.ProductPolicy.uniform(g)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        gap = fm.nash_gap(g, pol)
        assert np.isfinite(gap) and gap > 1e150
        opt = fm.social_optimum(g)          # joint action 0 forever: 1e150 / (1 - gamma)
        assert opt.value == pytest.approx(1e150 / (1 - MAX_GAMMA), rel=1e-6)
        # uniform: sum_i r^i averages (1 - 1 + 0 + 0.25) / 4 * 1e150
        assert fm.price_of_anarchy(g, pol) == pytest.approx(0.0625, rel=1e-6)


def test_social_optimum_of_the_largest_accepted_rewards():
    """The summed reward of N agents may exceed the per-agent cap: social_optimum used to
    refuse such a valid game with an error about an internal ``r``."""
    g = fm.games.matrix_game(np.full((2, 2), 1e150))
    assert fm.social_optimum(g).value == pytest.approx(2e150)


def test_non_games_are_refused_naming_the_argument():
    """v2 regression (fuzz): a non-Game ``game`` raised AttributeError deep inside."""
    g = fm.games.coordination(2)
    pol = fm.ProductPolicy.uniform(g)
    for call in (lambda: fm.evaluate("abc", pol), lambda: fm.best_response(pol, pol, 0),
                 lambda: fm.nash_gap(None, pol), lambda: fm.social_optimum(3),
                 lambda: fm.price_of_anarchy(fm.games, pol)):
        with pytest.raises(TypeError, match="game must be a fairmg Game"):
            call()


def test_tol_must_be_positive():
    """A negative ``tol`` made policy iteration cycle for 10000 steps and then raise
    RuntimeError; a string or NaN one gave a raw comparison error."""
    g = fm.games.coordination(2, eps=0.0, gamma=0.0)
    pol = fm.ProductPolicy.uniform(g)
    for tol, exc in ((-1.0, ValueError), (0.0, ValueError), (np.nan, ValueError),
                     ("1e-9", TypeError)):
        with pytest.raises(exc, match="tol"):
            fm.best_response(g, pol, 0, tol=tol)
        with pytest.raises(exc, match="tol"):
            fm.solve_mdp(*g.agent_mdp(pol, 0), 0.5, tol=tol)


def test_an_evaluation_of_another_game_is_rejected():
    """nash_gap(evaluation=...) compared only the policy tables: an evaluation of the
    uniform policy in another game of the same shape gave a silently wrong gap."""
    g = fm.games.random_game(3, (2, 2), 0.9, rng=0)
    h = fm.games.random_game(3, (2, 2), 0.9, rng=1)
    pol = fm.ProductPolicy.uniform(g)
    for f in (fm.nash_gap, fm.price_of_anarchy):
        with pytest.raises(ValueError, match="evaluation is of another game"):
            f(g, pol, evaluation=fm.evaluate(h, fm.ProductPolicy.uniform(h)))
        with pytest.raises(TypeError, match="evaluation must be an Evaluation"):
            f(g, pol, evaluation=pol.probs)


def test_gamma_too_close_to_one_is_refused():
    """At gamma = 1 - 2**-53 the visitation came out half of 1/(1-gamma) and nash_gap
    raised 'a numerical failure'; such discounts are refused, the largest accepted one
    (MAX_GAMMA) is solved accurately."""
    from fairmg._validate import MAX_GAMMA
    for gamma in (1 - 2**-53, 1 - 1e-9):
        with pytest.raises(ValueError, match="gamma is .* loses too many digits"):
            fm.games.random_game(3, (2, 2), gamma, rng=1)
    g = fm.games.random_game(3, (2, 2), MAX_GAMMA, rng=1)
    pol = fm.ProductPolicy.from_logits(g, np.random.default_rng(0).normal(size=(2, 3, 2)))
    ev = fm.evaluate(g, pol)
    assert ev.visitation.sum() * (1 - MAX_GAMMA) == pytest.approx(1.0, rel=1e-8)
    assert fm.nash_gap(g, pol) > 0
