"""Hypothesis strategies for the core tests: small random games and policies."""
import numpy as np
from hypothesis import strategies as st

import fairmg as fm


@st.composite
def games(draw, max_agents=3, max_states=4, max_actions=3, kinds=fm.games.GAME_KINDS,
          gammas=(0.0, 0.5, 0.9, 0.99, 0.999)):
    n = draw(st.integers(1, max_agents))
    sizes = tuple(draw(st.lists(st.integers(1, max_actions), min_size=n, max_size=n)))
    S = draw(st.integers(1, max_states))
    gamma = draw(st.sampled_from(gammas))
    kind = draw(st.sampled_from(kinds))
    seed = draw(st.integers(0, 2**32 - 1))
    sparsity = draw(st.sampled_from([0.0, 0.5, 0.9]))
    return fm.games.random_game(S, sizes, gamma, rng=seed, kind=kind, sparsity=sparsity)


@st.composite
def policies(draw, game):
    """Softmax policies with logit scales from uniform-ish to near-deterministic."""
    scale = draw(st.sampled_from([0.0, 1.0, 10.0, 40.0]))
    seed = draw(st.integers(0, 2**32 - 1))
    theta = scale * np.random.default_rng(seed).normal(
        size=(game.n_agents, game.n_states, game.max_actions))
    return fm.ProductPolicy.from_logits(game, theta)
