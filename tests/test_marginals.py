"""Marginals over agent subsets and the multi-agent Q/advantages of 000 (engine v2)."""
import itertools

import numpy as np
import pytest
from hypothesis import given, strategies as st

import fairmg as fm
from fairmg.testing import reference as ref
from fairmg.testing.strategies import games, policies


@given(games(max_agents=3, max_states=3), st.data())
def test_marginalize_matches_brute_force(g, data):
    pol = data.draw(policies(g))
    table = np.random.default_rng(0).normal(size=(2, g.n_states, g.n_joint_actions))
    agents = list(range(g.n_agents))
    keep = tuple(data.draw(st.permutations(agents))[: data.draw(st.integers(0, g.n_agents))])
    got = fm.marginals.marginalize(table, pol.probs, g.action_sizes, keep)
    np.testing.assert_allclose(got, ref.marginal(table, pol.probs, g.action_sizes, keep),
                               atol=1e-12)


@given(games(max_agents=3, max_states=3), st.data())
def test_local_q_is_the_single_agent_marginal(g, data):
    pol = data.draw(policies(g))
    ev = fm.evaluate(g, pol)
    for i in range(g.n_agents):
        q_i = fm.marginals.multi_agent_q(g, pol, (i,))[i]
        np.testing.assert_allclose(q_i, ev.local_q(i), atol=1e-9 * max(1, np.abs(ev.q).max()))
    # keeping nobody gives V; keeping everybody gives the joint Q
    np.testing.assert_allclose(fm.marginals.multi_agent_q(g, pol, ()), ev.values, atol=1e-9)
    full = fm.marginals.multi_agent_q(g, pol, tuple(range(g.n_agents)))
    np.testing.assert_allclose(full.reshape(ev.q.shape), ev.q, atol=1e-9)


def test_multi_agent_advantage_decomposition():
    """000 Lemma (multi-agent advantage decomposition, from HATRPO): for any ordering,
    A^{i_{1:m}}(s, a^{i_{1:m}}) = sum_j A^{i_j}(s, a^{i_{1:j-1}}, a^{i_j})."""
    g = fm.games.random_game(3, (2, 3, 2), 0.9, rng=5)
    pol = fm.ProductPolicy.from_logits(g, np.random.default_rng(1).normal(size=(3, 3, 3)))
    for order in itertools.permutations(range(3)):
        whole = fm.marginals.multi_agent_advantage(g, pol, order)            # (N,S,A,A,A)
        total = np.zeros_like(whole)
        for j, agent in enumerate(order):
            term = fm.marginals.multi_agent_advantage(g, pol, (agent,), given=order[:j])
            total = total + term.reshape(term.shape + (1,) * (len(order) - j - 1))
        np.testing.assert_allclose(total, whole, atol=1e-10)


def test_mixed_old_new_policies():
    """Q marginalized under a mixture (agents 0 new, 1 and 2 old) equals brute force."""
    g = fm.games.random_game(2, (2, 2, 3), 0.8, rng=2)
    rng = np.random.default_rng(3)
    old = fm.ProductPolicy.from_logits(g, rng.normal(size=(3, 2, 3)))
    new = fm.ProductPolicy.from_logits(g, rng.normal(size=(3, 2, 3)))
    mixed = old.mix(new, [0])
    np.testing.assert_array_equal(mixed.probs[0], new.probs[0])
    np.testing.assert_array_equal(mixed.probs[1:], old.probs[1:])
    V = fm.evaluate(g, old).values
    q_joint = g.rewards + g.gamma * np.einsum("sat,it->isa", g.transition, V)
    got = fm.marginals.multi_agent_q(g, mixed, (2,), values=V)
    np.testing.assert_allclose(got, ref.marginal(q_joint, mixed.probs, g.action_sizes, (2,)),
                               atol=1e-12)


def test_marginal_input_errors():
    g = fm.games.coordination(2)
    pol = fm.ProductPolicy.uniform(g)
    with pytest.raises(ValueError, match="repeated agents"):
        fm.marginals.multi_agent_q(g, pol, (0, 0))
    with pytest.raises(ValueError, match="disjoint"):
        fm.marginals.multi_agent_advantage(g, pol, (0,), given=(0,))
    with pytest.raises(ValueError, match=r"agents\[0\] must be an int in \[0, 1\]"):
        fm.marginals.multi_agent_q(g, pol, (2,))
    with pytest.raises(ValueError, match="joint actions"):
        fm.marginals.marginalize(np.zeros((4, 3)), pol.probs, (2, 2))
