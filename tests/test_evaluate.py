"""Exact evaluation against the plain NumPy reference and against its defining equations."""
import numpy as np
from hypothesis import given, strategies as st

import fairmg as fm
from fairmg.testing import reference as ref

from fairmg.testing.strategies import games, policies

# Values are O(1 / (1 - gamma)) <= 1000 here; LU vs dense inverse agree to ~1e-12 relative.
RTOL, ATOL = 1e-9, 1e-9


@given(st.data())
def test_matches_plain_numpy_reference(data):
    g = data.draw(games())
    pol = data.draw(policies(g))
    ev = fm.evaluate(g, pol)
    V, Q, localq, d = ref.evaluate(g.transition, g.rewards, g.gamma, g.initial, pol.probs,
                                   g.action_sizes)
    scale = 1.0 / (1.0 - g.gamma)
    np.testing.assert_allclose(ev.values, V, rtol=RTOL, atol=ATOL * scale)
    np.testing.assert_allclose(ev.q, Q, rtol=RTOL, atol=ATOL * scale)
    np.testing.assert_allclose(ev.local_qs, localq, rtol=RTOL, atol=ATOL * scale)
    np.testing.assert_allclose(ev.visitation, d, rtol=RTOL, atol=ATOL * scale)


@given(st.data())
def test_defining_equations(data):
    g = data.draw(games())
    pol = data.draw(policies(g))
    ev = fm.evaluate(g, pol)
    scale = 1.0 / (1.0 - g.gamma)
    # visitation is unnormalized: sums to 1 / (1 - gamma)
    np.testing.assert_allclose(ev.visitation.sum(), scale, rtol=1e-10)
    assert np.all(ev.visitation >= -1e-12)
    # V^i(s) = sum_a pi(a|s) Q^i(s, a)
    pij = pol.joint_probs()
    np.testing.assert_allclose(np.einsum("sa,isa->is", pij, ev.q), ev.values,
                               atol=1e-9 * scale)
    # E_{a_i ~ pi_i}[A^i(s, a_i)] = 0
    for i in range(g.n_agents):
        n = g.action_sizes[i]
        adv = ev.local_advantage(i)
        assert adv.shape == (g.n_states, n)
        np.testing.assert_allclose((pol.probs[i, :, :n] * adv).sum(1), 0.0, atol=1e-9 * scale)
    np.testing.assert_allclose(ev.value_at_initial, ev.values @ g.initial)


@given(st.data())
def test_potential_value_is_value_of_phi(data):
    g = data.draw(games(kinds=("identical", "potential")))
    pol = data.draw(policies(g))
    ev = fm.evaluate(g, pol)
    phi_game = fm.MarkovGame(g.transition, g.potential[None], g.gamma, g.initial,
                             action_sizes=(int(np.prod(g.action_sizes)),))
    flat = fm.ProductPolicy(phi_game, pol.joint_probs()[None])
    np.testing.assert_allclose(ev.potential_values, fm.evaluate(phi_game, flat).values[0],
                               rtol=1e-10, atol=1e-10)


def test_visitation_by_simulation_of_the_chain():
    """d_mu(s) = sum_t gamma^t (mu^T P_pi^t)(s), summed directly for a short horizon."""
    g = fm.games.random_game(5, (2, 3), 0.6, rng=1)
    pol = fm.ProductPolicy.from_logits(g, np.random.default_rng(2).normal(size=(2, 5, 3)))
    P_pi = np.einsum("sa,sat->st", pol.joint_probs(), g.transition)
    d, x = np.zeros(5), g.initial.copy()
    for t in range(200):
        d += 0.6 ** t * x
        x = x @ P_pi
    np.testing.assert_allclose(fm.evaluate(g, pol).visitation, d, rtol=1e-12)


def test_coordination_uniform_values():
    """Under the uniform policy every local state is 0 w.p. 1/2 independently, so the
    expected team reward is the binomial average of Algorithm 1, in every state."""
    from math import comb
    for n in (2, 3, 5):
        g = fm.games.coordination(n)
        mean_r = sum(comb(n, k) * fm.games.coordination_reward(k, n) for k in range(n + 1)) / 2**n
        ev = fm.evaluate(g, fm.ProductPolicy.uniform(g))
        bits = np.array(np.unravel_index(np.arange(2**n), (2,) * n)).T
        r_now = np.array([fm.games.coordination_reward(int((b == 0).sum()), n) for b in bits])
        np.testing.assert_allclose(ev.values, np.broadcast_to(r_now + 0.95 * mean_r / 0.05,
                                                              (n, 2**n)), rtol=1e-12)
