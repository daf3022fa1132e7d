import numpy as np
import pytest

import fairmg as fm


def small_arrays(S=2, sizes=(2, 3), N=None):
    A = int(np.prod(sizes))
    N = len(sizes) if N is None else N
    P = np.full((S, A, S), 1.0 / S)
    R = np.zeros((N, S, A))
    return P, R


@pytest.mark.parametrize("mutate, match", [
    (lambda P, R: P.__setitem__((1, 4, 0), P[1, 4, 0] - 0.03), r"transition\[1, 4, :\] sums to 0\.97"),
    (lambda P, R: (P.__setitem__((0, 1, 0), -0.5), P.__setitem__((0, 1, 1), 1.5)), r"transition\[0, 1, 0\] is -0\.5"),
    (lambda P, R: R.__setitem__((1, 0, 2), np.nan), r"rewards\[1, 0, 2\] is nan"),
    (lambda P, R: R.__setitem__((0, 1, 5), np.inf), r"rewards\[0, 1, 5\] is inf"),
])
def test_invalid_arrays_name_argument_and_index(mutate, match):
    P, R = small_arrays()
    mutate(P, R)
    with pytest.raises(ValueError, match=match):
        fm.MarkovGame(P, R, 0.9, action_sizes=(2, 3))


def test_invalid_scalars_and_shapes():
    P, R = small_arrays()
    for gamma in (1.0, -0.1, 1.5):
        with pytest.raises(ValueError, match="gamma is"):
            fm.MarkovGame(P, R, gamma, action_sizes=(2, 3))
    with pytest.raises(ValueError, match=r"action_sizes \(2, 2\) give 4 joint actions"):
        fm.MarkovGame(P, R, 0.9, action_sizes=(2, 2))
    with pytest.raises(ValueError, match="action_sizes has 3 entries"):
        fm.MarkovGame(P, R, 0.9, action_sizes=(2, 3, 1))
    with pytest.raises(ValueError, match="action_sizes is required"):
        fm.MarkovGame(P, R, 0.9)
    with pytest.raises(ValueError, match=r"rewards must have shape \(N, 2, 6\)"):
        fm.MarkovGame(P, R[:, :, :5], 0.9, action_sizes=(2, 3))
    with pytest.raises(ValueError, match=r"initial sums to 0\.9, expected 1"):
        fm.MarkovGame(P, R, 0.9, initial=[0.5, 0.4], action_sizes=(2, 3))
    with pytest.raises(ValueError, match=r"initial must have shape \(2,\)"):
        fm.MarkovGame(P, R, 0.9, initial=[1.0], action_sizes=(2, 3))
    with pytest.raises(TypeError, match="transition must be a numeric array"):
        fm.MarkovGame("abc", R, 0.9, action_sizes=(2, 3))


def test_policy_validation_and_padding():
    g = fm.MarkovGame(*small_arrays(), 0.9, action_sizes=(2, 3))
    good = np.zeros((2, 2, 3))
    good[0, :, :2] = 0.5
    good[1, :, :] = 1 / 3
    pol = fm.ProductPolicy(g, good)
    assert pol.joint_probs().shape == (2, 6)
    np.testing.assert_allclose(pol.joint_probs().sum(1), 1.0, atol=1e-15)
    bad = good.copy()
    bad[0, 1, 2] = 0.1
    bad[0, 1, 0] = 0.4
    with pytest.raises(ValueError, match=r"probs\[0, 1, 2\] is 0\.1 but that action does not exist"):
        fm.ProductPolicy(g, bad)
    bad = good.copy()
    bad[1, 0, 0] = 0.5
    with pytest.raises(ValueError, match=r"probs\[1, 0, :\] sums to"):
        fm.ProductPolicy(g, bad)
    with pytest.raises(ValueError, match=r"probs must have shape \(2, 2, 3\)"):
        fm.ProductPolicy(g, good[:, :, :2])


def test_uniform_and_deterministic_policies():
    g = fm.MarkovGame(*small_arrays(), 0.9, action_sizes=(2, 3))
    u = fm.ProductPolicy.uniform(g)
    np.testing.assert_allclose(u.probs[0, :, :2], 0.5)
    np.testing.assert_allclose(u.probs[0, :, 2], 0.0)
    np.testing.assert_allclose(u.probs[1], 1 / 3)
    det = fm.ProductPolicy.deterministic(g, [[1, 0], [2, 1]])
    # joint action of (1, 2) in state 0 is 1 * 3 + 2 = 5 (agent 0 most significant)
    assert det.joint_probs()[0, 5] == 1.0 and det.joint_probs()[1, 1] == 1.0
    back = fm.ProductPolicy.from_joint_actions(g, [5, 1])
    np.testing.assert_array_equal(back.probs, det.probs)
    with pytest.raises(ValueError, match=r"actions\[0, 1\] is 2, expected in \[0, 2\)"):
        fm.ProductPolicy.deterministic(g, [[1, 2], [2, 1]])
    assert "deterministic" in repr(det) and "min prob 0.333" in repr(u)


def test_from_logits_is_stable_and_ignores_padding():
    g = fm.MarkovGame(*small_arrays(), 0.9, action_sizes=(2, 3))
    theta = np.zeros((2, 2, 3))
    theta[0, 0] = [1000.0, 999.0, 1e308]      # padding entry ignored, no overflow
    theta[1, 1] = [-1000.0, -1001.0, -1000.0]
    pol = fm.ProductPolicy.from_logits(g, theta)
    e = np.exp(-1.0)
    np.testing.assert_allclose(pol.probs[0, 0], [1 / (1 + e), e / (1 + e), 0.0], rtol=1e-14)
    np.testing.assert_allclose(pol.probs[1, 1], np.array([1, e, 1]) / (2 + e), rtol=1e-14)
    theta[0, 1, 0] = np.nan
    with pytest.raises(ValueError, match=r"theta\[0, 1, 0\] is nan"):
        fm.ProductPolicy.from_logits(g, theta)


def test_replace_row_and_agent_validation():
    g = fm.MarkovGame(*small_arrays(), 0.9, action_sizes=(2, 3))
    u = fm.ProductPolicy.uniform(g)
    new = u.replace(0, [[0.0, 1.0], [1.0, 0.0]])
    np.testing.assert_array_equal(new.probs[0], [[0, 1, 0], [1, 0, 0]])
    np.testing.assert_array_equal(new.probs[1], u.probs[1])
    with pytest.raises(ValueError, match="agent must be an int in"):
        u.replace(2, [[0.0, 1.0], [1.0, 0.0]])
    assert "agents=2" in repr(g) and "action_sizes=(2, 3)" in repr(g)


def test_arrays_are_read_only():
    g = fm.games.coordination(2)
    with pytest.raises(ValueError):
        g.transition[0, 0, 0] = 1.0


def test_check_scalar_bounds_and_types():
    from fairmg.model import check_scalar
    assert check_scalar(0, "x") == 0.0
    assert check_scalar(np.float32(2.5), "x", positive=True) == 2.5
    for bad, positive in [(0.0, True), (-1e-300, False), (np.inf, False), (np.nan, True)]:
        with pytest.raises(ValueError, match=r"^x is .*expected a finite number"):
            check_scalar(bad, "x", positive=positive)
    with pytest.raises(TypeError, match="x must be a float"):
        check_scalar("fast", "x")


def test_index_inputs_are_checked():
    g = fm.MarkovGame(*small_arrays(), 0.9, action_sizes=(2, 3))
    with pytest.raises(ValueError, match=r"joint\[0\] is -1, expected in \[0, 6\)"):
        fm.ProductPolicy.from_joint_actions(g, [-1, 0])
    with pytest.raises(TypeError, match="joint must hold ints"):
        fm.ProductPolicy.from_joint_actions(g, [1.7, 0.0])
    with pytest.raises(TypeError, match="actions must hold ints"):
        fm.ProductPolicy.deterministic(g, [[0.0, 1.0], [1.0, 2.0]])
    with pytest.raises(ValueError, match=r"action_sizes\[0\] is 2.9"):
        fm.MarkovGame(*small_arrays(), 0.9, action_sizes=(2.9, 3))


def test_policies_of_another_game_and_bad_rewards_are_rejected():
    g = fm.games.random_game(6, (2, 3), 0.9, rng=0)
    h = fm.games.random_game(2, (2, 2), 0.9, rng=0)
    other = fm.ProductPolicy.uniform(h)
    for call in (lambda: g.policy_transition(other), lambda: g.policy_rewards(other),
                 lambda: g.agent_mdp(other, 0), lambda: fm.best_response(g, other, 1),
                 lambda: fm.nash_gap(g, other)):
        with pytest.raises(ValueError, match="do not fit"):
            call()
    pol = fm.ProductPolicy.uniform(g)
    with pytest.raises(ValueError, match=r"reward must have shape \(6, 6\)"):
        g.agent_mdp(pol, 0, reward=np.ones((6, 2)))
    bad = np.zeros((6, 6))
    bad[2, 3] = np.nan
    with pytest.raises(ValueError, match=r"reward\[2, 3\] is nan"):
        g.agent_mdp(pol, 0, reward=bad)


def test_game_arrays_are_read_only():
    g = fm.games.coordination(2)
    for arr in (g.transition, g.rewards, g.initial, g.potential, g.joint_actions):
        with pytest.raises(ValueError, match="read-only"):
            arr[(0,) * arr.ndim] = 1.0


# -- issue 10: bad inputs get a clear error naming the argument -------------------------
@pytest.mark.parametrize("imag", [0.0, 1e-3])
def test_complex_transition_is_refused(imag):
    """Issue 10: a complex transition was accepted with the imaginary part dropped."""
    P, R = small_arrays()
    with pytest.raises(TypeError, match="transition must be a numeric array of real numbers, "
                                        "got complex entries"):
        fm.MarkovGame(P + 1j * imag, R, 0.9, action_sizes=(2, 3))
    with pytest.raises(TypeError, match="rewards must be a numeric array of real numbers, "
                                        "got complex entries"):
        fm.MarkovGame(P, R.astype(complex), 0.9, action_sizes=(2, 3))


def test_policy_constructors_refuse_non_games():
    """ProductPolicy(pol, probs) and friends raised AttributeError on a non-game."""
    g = fm.games.coordination(2)
    u = fm.ProductPolicy.uniform(g)
    for call in (lambda: fm.ProductPolicy(u, u.probs), lambda: fm.ProductPolicy.uniform("g"),
                 lambda: fm.ProductPolicy.from_logits(None, np.zeros((2, 4, 2))),
                 lambda: fm.ProductPolicy.deterministic(u, np.zeros((2, 4), int)),
                 lambda: fm.ProductPolicy.from_joint_actions(3, [0, 0, 0, 0])):
        with pytest.raises(TypeError, match="game must be a fairmg Game"):
            call()


def test_replace_and_mix_name_their_arguments():
    """replace's row errors said probs; mix(other=array) said policy; mix(agents=True)
    raised "'bool' object is not iterable"."""
    g = fm.MarkovGame(*small_arrays(), 0.9, action_sizes=(2, 3))
    u = fm.ProductPolicy.uniform(g)
    with pytest.raises(ValueError, match=r"row\[1, :\] sums to 0\.5"):
        u.replace(0, [[0.0, 1.0], [0.5, 0.0]])
    with pytest.raises(ValueError, match=r"row\[0, 1\] is -1"):
        u.replace(0, [[2.0, -1.0], [0.5, 0.5]])
    with pytest.raises(ValueError, match=r"row\[1, 2\] is 0\.5 but agent 0 has only 2 actions"):
        u.replace(0, [[0.0, 1.0, 0.0], [0.5, 0.0, 0.5]])
    with pytest.raises(ValueError, match=r"row must have shape \(2, 2\) \(states, actions of "
                                         r"agent 0\)"):
        u.replace(0, np.full((2, 1), 1.0))
    with pytest.raises(TypeError, match="other must be a ProductPolicy, got ndarray"):
        u.mix(u.probs, [0])
    with pytest.raises(TypeError, match="agents must be a sequence of agent indices"):
        u.mix(u, True)
    with pytest.raises(ValueError, match=r"agents\[1\] must be an int in \[0, 1\], got 2"):
        u.mix(u, [0, 2])


def test_extreme_logits_give_a_policy_without_warnings():
    """Logits +-1e308 made the stable softmax overflow (theta - max = -inf) with a
    RuntimeWarning."""
    import warnings
    g = fm.MarkovGame(*small_arrays(), 0.9, action_sizes=(2, 3))
    theta = np.zeros((2, 2, 3))
    theta[1, 0] = [1e308, -1e308, 0.0]
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        pol = fm.ProductPolicy.from_logits(g, theta)
    np.testing.assert_array_equal(pol.probs[1, 0], [1.0, 0.0, 0.0])
    from fairmg.policy import log_softmax
    with pytest.raises(ValueError, match=r"theta\[1, 0, 1\] gives log-probability -inf"):
        log_softmax(theta, g.action_mask)


def test_game_marginals_check_values_and_agent_lists():
    """values with NaN gave NaN marginals; keep=True raised "'bool' object is not
    iterable"; a string values gave a raw float() error."""
    g = fm.games.random_game(3, (2, 2), 0.9, rng=0)
    u = fm.ProductPolicy.uniform(g)
    V = np.zeros((2, 3))
    V[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"values\[1, 2\] is nan, expected a finite number"):
        g.continuation(V, u, (0,))
    with pytest.raises(ValueError, match=r"values\[1, 2\] is nan"):
        fm.marginals.local_q(g, u, V)
    with pytest.raises(TypeError, match="values must be a numeric array"):
        g.joint_continuation("abc")
    with pytest.raises(TypeError, match="keep must be a sequence of agent indices"):
        g.reward_marginal(u, True)
    with pytest.raises(ValueError, match=r"keep\[0\] must be an int in \[0, 1\], got 5"):
        g.reward_marginal(u, [5])


def test_matrix_free_policy_systems():
    """PolicySystem.transition() of a matrix-free system raised ImportError (a relative
    import beyond the package); at the largest discount GMRES was held to a residual
    float64 cannot certify and raised 'did not converge'."""
    from fairmg._validate import MAX_GAMMA
    g = fm.games.random_factored_game((2, 2), (2, 2), MAX_GAMMA, rng=0)
    free = fm.FactoredGame(g._local_forms(), g.rewards, g.gamma, dense_states=0)
    u = fm.ProductPolicy.uniform(g)
    np.testing.assert_allclose(free.policy_transition(u), g.policy_transition(u), atol=1e-15)
    pol = fm.ProductPolicy.from_logits(g, np.random.default_rng(1).normal(size=(2, 4, 2)))
    dense_ev, free_ev = fm.evaluate(g, pol), fm.evaluate(free, pol)
    np.testing.assert_allclose(free_ev.values, dense_ev.values, rtol=1e-7)
    assert fm.nash_gap(free, pol) == pytest.approx(fm.nash_gap(g, pol), rel=1e-6, abs=1e-3)
