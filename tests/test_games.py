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


# -- issue 10: bad inputs get a clear error naming the argument -------------------------
def test_matrix_game_ambiguous_ragged_and_string_payloads():
    """Issue 10: an integer (2, 2, 2) payoff silently became a 2-agent per-agent game;
    ragged and string payloads gave raw numpy errors naming no argument."""
    with pytest.raises(ValueError, match=r"payoffs of shape \(2, 2, 2\) read both .* "
                                         r"pass per_agent=True or False"):
        fm.games.matrix_game(np.arange(8).reshape(2, 2, 2))
    with pytest.raises(TypeError, match="payoffs must be a numeric array, got a ragged"):
        fm.games.matrix_game([[1, 2], [3]])
    with pytest.raises(TypeError, match="payoffs must be a numeric array of real numbers, "
                                        "got string entries"):
        fm.games.matrix_game([["a", "b"], ["c", "d"]])
    with pytest.raises(ValueError, match=r"payoffs must have shape \(N, A_1, ..., A_N\) with "
                                         r"per_agent=True"):
        fm.games.matrix_game(np.zeros((2, 2)), per_agent=True)


def test_scalar_and_seed_arguments_are_named():
    """Issue 10: rng='abc' and eps='x' gave raw numpy errors; counts_zero=5 with 3 agents
    returned 3.0."""
    with pytest.raises(TypeError, match="rng must be a numpy.random.Generator, an int seed "
                                        "or None, got 'abc'"):
        fm.games.random_game(3, (2,), rng="abc")
    with pytest.raises(ValueError, match="rng is -1, expected a non-negative int seed"):
        fm.games.random_game(3, (2,), rng=-1)
    with pytest.raises(TypeError, match="rng must be"):
        fm.games.random_factored_game((2,), (2,), rng=1.5)
    with pytest.raises(TypeError, match=r"eps must be a float \(a real number\), got 'x'"):
        fm.games.coordination(eps="x")
    with pytest.raises(ValueError, match="counts_zero is 5, expected at most n_agents = 3"):
        fm.games.coordination_reward(counts_zero=5, n_agents=3)
    with pytest.raises(TypeError, match="joint_rewards must be True or False"):
        fm.games.random_factored_game((2,), (2,), joint_rewards="yes")


def test_random_game_too_large_is_refused_before_allocating():
    """Issue 10: random_game(1000, (10, 10, 10)) allocated 8 GB and hung. It is refused at
    once, stating the bytes it needs and the largest n_states that fits."""
    import time
    import tracemalloc

    from fairmg._validate import MEMORY_LIMIT_BYTES, TooLargeError
    from fairmg.games.dense import max_dense_states
    tracemalloc.start()
    t0 = time.perf_counter()
    with pytest.raises(TooLargeError, match=r"random_game\(n_states=1000, action_sizes=\(10, 10, "
                                            r"10\)\): the dense transition .* needs "
                                            r"8,000,000,000 bytes \(7.45 GiB\).*at most "
                                            r"n_states=732 fits") as info:
        fm.games.random_game(1000, (10, 10, 10))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert time.perf_counter() - t0 < 1.0 and peak < 10 * 2**20
    assert isinstance(info.value, ValueError) and isinstance(info.value, MemoryError)
    assert max_dense_states(1000) == 732
    assert 8 * 732**2 * 1000 <= MEMORY_LIMIT_BYTES < 8 * 733**2 * 1000
    with pytest.raises(TooLargeError, match="not even one state fits"):
        fm.games.random_game(1, (10**6,) * 3)


def test_random_factored_game_too_large_is_refused():
    """random_factored_game((10**6,), (2,)) asked numpy for 14.6 TiB (a raw
    _ArrayMemoryError naming no argument)."""
    from fairmg._validate import TooLargeError
    with pytest.raises(TooLargeError, match=r"random_factored_game\(local_sizes=\(1000000,\), "
                                            r"action_sizes=\(2,\)\): agent 0's local transition"):
        fm.games.random_factored_game((10**6,), (2,))


def test_factored_game_arguments_are_named():
    """dense_states=1j gave a raw int() error; agent_mdp accepted a reward of any shape; a
    rewards shape that does not fit the local transitions did not say where S comes from."""
    g = fm.games.random_factored_game((2, 2), (2, 3), rng=0)
    with pytest.raises(TypeError, match="dense_states must be an int"):
        fm.FactoredGame(g._local_forms(), g.rewards, 0.9, dense_states=1j)
    with pytest.raises(ValueError, match="dense_states must be an int >= 0"):
        fm.FactoredGame(g._local_forms(), g.rewards, 0.9, dense_states=-1)
    pol = fm.ProductPolicy.uniform(g)
    with pytest.raises(ValueError, match=r"reward must have shape \(4,\) or \(4, 6\), got "
                                         r"\(3,\)"):
        g.agent_mdp(pol, 0, reward=np.ones(3))
    with pytest.raises(ValueError, match=r"rewards must have shape \(2, 4\) or \(2, 4, 6\) "
                                         r"\(N=2 agents, S=4 states and A=6 joint actions "
                                         r"from the local_transitions\)"):
        fm.FactoredGame(g._local_forms(), np.ones((2, 3)), 0.9)
    d = fm.games.random_game(2, (2, 2), rng=0)
    with pytest.raises(ValueError, match=r"reward must have shape \(2, 4\), got \(2, 3\)"):
        d.joint_mdp(np.ones((2, 3)))


@pytest.mark.parametrize("factored", [False, True])
def test_step_checks_states_actions_and_rng(factored):
    """Game.step read any index: state -1 wrapped to the last state silently, an action
    past A_i picked another joint action or raised IndexError, rng='abc' an AttributeError."""
    g = (fm.games.random_factored_game((2, 2), (2, 3), rng=0) if factored
         else fm.games.random_game(4, (2, 3), rng=0))
    ok_s, ok_a = np.array([0, 3]), np.array([[1, 2], [0, 0]])
    nxt, r = g.step(ok_s, ok_a, np.random.default_rng(0))
    assert nxt.shape == (2,) and r.shape == (2, 2) and np.all((0 <= nxt) & (nxt < 4))
    cases = [(dict(states=[-1, 0]), ValueError, r"states\[0\] is -1, expected in \[0, 4\)"),
             (dict(states=[0, 4]), ValueError, r"states\[1\] is 4"),
             (dict(states=[0.0, 1.0]), TypeError, "states must hold ints"),
             (dict(actions=[[2, 0], [0, 0]]), ValueError, r"actions\[0, 0\] is 2, expected "
                                                          r"in \[0, 2\)"),
             (dict(actions=[[1, 2]]), ValueError, r"actions must have shape \(2, 2\)"),
             (dict(rng="abc"), TypeError, "rng must be")]
    for kw, exc, match in cases:
        args = dict(states=ok_s, actions=ok_a, rng=np.random.default_rng(0)) | kw
        with pytest.raises(exc, match=match):
            g.step(**args)
