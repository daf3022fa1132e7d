import itertools

import numpy as np
import pytest
from hypothesis import given, strategies as st

import fairmg as fm


def algorithm_1(s: str) -> float:
    """002, Appendix G.1, Algorithm 1, transcribed literally on the state string."""
    n = len(s)
    difference_bound = 1 if n in (2, 3) else 2
    if abs(s.count("0") - s.count("1")) <= difference_bound:
        return 1.0 if s.count("0") < s.count("1") else 0.0
    elif s.count("0") > s.count("1"):
        return 3.0
    return 2.0


@pytest.mark.parametrize("n", [2, 3, 5])
def test_coordination_matches_appendix_g1(n):
    eps = 0.1
    g = fm.games.coordination(n, eps=eps)
    assert g.n_states == g.n_joint_actions == 2**n and g.gamma == 0.95
    np.testing.assert_allclose(g.initial, 2.0**-n)
    for s, bits in enumerate(itertools.product("01", repeat=n)):
        np.testing.assert_array_equal(g.rewards[:, s, :], algorithm_1("".join(bits)))
    rng = np.random.default_rng(n)
    for _ in range(20):
        s, a, t = rng.integers(0, 2**n, size=3)
        a_bits = np.unravel_index(a, (2,) * n)
        t_bits = np.unravel_index(t, (2,) * n)
        p = 1.0
        for ai, ti in zip(a_bits, t_bits):
            p0 = 1 - eps if ai == 0 else eps          # P(s_i' = 0 | a_i)
            p *= p0 if ti == 0 else 1 - p0
        assert g.transition[s, a, t] == pytest.approx(p, rel=1e-12)


def test_matrix_game_shared_and_per_agent():
    shared = fm.games.matrix_game(np.arange(6.0).reshape(2, 3))
    assert shared.action_sizes == (2, 3) and shared.n_agents == 2 and shared.gamma == 0.0
    np.testing.assert_array_equal(shared.rewards[1, 0], np.arange(6.0))
    per = fm.games.matrix_game(np.stack([np.eye(2), 2 * np.eye(2)]), per_agent=True)
    np.testing.assert_array_equal(per.rewards[1, 0], [2, 0, 0, 2])
    assert per.potential is None and shared.potential is not None


def value_of_reward(g, r, pol):
    h = fm.MarkovGame(g.transition, r[None], g.gamma, g.initial,
                      action_sizes=(g.n_joint_actions,))
    return fm.evaluate(h, fm.ProductPolicy(h, pol.joint_probs()[None])).values[0]


def definition_2_2_violation(g, phi, rng, trials=10):
    """Largest |(V^i(pi') - V^i(pi)) - (Phi(pi') - Phi(pi))| over pairs differing in agent i."""
    worst = 0.0
    for _ in range(trials):
        theta = 2 * rng.normal(size=(g.n_agents, g.n_states, g.max_actions))
        pol = fm.ProductPolicy.from_logits(g, theta)
        i = int(rng.integers(g.n_agents))
        theta[i] = 2 * rng.normal(size=theta[i].shape)
        dev = fm.ProductPolicy.from_logits(g, theta)
        dv = fm.evaluate(g, dev).values[i] - fm.evaluate(g, pol).values[i]
        dphi = value_of_reward(g, phi, dev) - value_of_reward(g, phi, pol)
        worst = max(worst, float(np.abs(dv - dphi).max()))
    return worst


@given(st.integers(1, 6), st.lists(st.integers(1, 3), min_size=1, max_size=3),
       st.sampled_from([0.5, 0.95]), st.integers(0, 10**6))
def test_random_potential_games_satisfy_definition_2_2(S, sizes, gamma, seed):
    g = fm.games.random_game(S, sizes, gamma, rng=seed, kind="potential")
    assert g.rewards.min() >= 0 and g.rewards.max() <= 1
    assert definition_2_2_violation(g, g.potential, np.random.default_rng(seed)) < 1e-9


def test_potential_games_are_not_identical_interest():
    g = fm.games.random_game(4, (2, 3), 0.9, rng=0, kind="potential")
    assert np.abs(g.rewards[0] - g.rewards[1]).max() > 0.1


def test_dummy_terms_break_definition_with_action_dependent_transitions():
    """The same reward construction on action-dependent transitions is not an MPG with
    phi: the check of Definition 2.2 above can fail."""
    pot = fm.games.random_game(4, (2, 2), 0.9, rng=0, kind="potential")
    gen = fm.games.random_game(4, (2, 2), 0.9, rng=1)
    g = fm.MarkovGame(gen.transition, pot.rewards, 0.9, action_sizes=(2, 2))
    assert definition_2_2_violation(g, pot.potential, np.random.default_rng(0)) > 1e-3


def test_random_game_is_reproducible_and_validates():
    a = fm.games.random_game(5, (2, 2), 0.9, rng=7, sparsity=0.5)
    b = fm.games.random_game(5, (2, 2), 0.9, rng=np.random.default_rng(7), sparsity=0.5)
    np.testing.assert_array_equal(a.transition, b.transition)
    np.testing.assert_array_equal(a.rewards, b.rewards)
    assert (a.transition == 0).mean() > 0.2
    with pytest.raises(ValueError, match="kind must be one of"):
        fm.games.random_game(3, (2,), kind="zero-sum")
    with pytest.raises(ValueError, match="n_agents must be an int"):
        fm.games.coordination(0)


def test_matrix_game_shapes_and_potential():
    x = np.arange(8.0).reshape(2, 2, 2)
    with pytest.raises(ValueError, match=r"read both .* pass per_agent=True or False"):
        fm.games.matrix_game(x)                        # (2, 2, 2) is ambiguous (issue 10)
    per = fm.games.matrix_game(x, per_agent=True)      # N=2 agents' 2x2 tables
    shared = fm.games.matrix_game(x, per_agent=False)  # three agents, one payoff
    assert per.action_sizes == (2, 2) and per.potential is None
    assert shared.action_sizes == (2, 2, 2)
    np.testing.assert_array_equal(shared.potential[0], x.ravel())
    same = fm.games.matrix_game([x] * 3, per_agent=True)               # identical tables: a potential game
    np.testing.assert_array_equal(same.potential, shared.potential)
    np.testing.assert_array_equal(same.rewards, shared.rewards)
    with pytest.raises(ValueError, match=r"payoffs must have shape \(N, A_1, ..., A_N\) with per_agent=True"):
        fm.games.matrix_game(np.zeros((3, 2)), per_agent=True)


def test_coordination_refuses_games_too_large_to_store():
    with pytest.raises(ValueError, match=r"n_agents must be an int in \[1, 16\]"):
        fm.games.coordination(17)
    with pytest.raises(ValueError, match=r"dense coordination game with 10 agents needs 8"):
        fm.games.coordination(10, representation="dense")
    with pytest.raises(ValueError, match=r"action_sizes\[1\] is 2.5"):
        fm.games.random_game(2, (2, 2.5))
