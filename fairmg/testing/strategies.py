"""Hypothesis strategies for the core tests: small random games and policies.

Besides :func:`games` (seeded :func:`fairmg.games.random_game` draws), the *structured
families* below reach the games that dense random draws never do (deterministic and sparse
transitions, chains, absorbing traps, resets, one-state games, near-tie and 0-1 rewards);
:mod:`proofs_check.strategies` builds its claim instances from the same pieces.
"""
import numpy as np
from hypothesis import strategies as st

import fairmg as fm

__all__ = ["games", "policies", "structured_games", "transitions", "reward_tables",
           "TRANSITION_FAMILIES", "REWARD_FAMILIES", "GAMMAS"]

#: Transition structures (:func:`transitions`).
TRANSITION_FAMILIES = ("dense", "sparse", "deterministic", "near_deterministic", "chain",
                       "trap", "reset")
#: Reward structures in [0, 1] (:func:`reward_tables`).
REWARD_FAMILIES = ("uniform", "binary", "grid", "near_tie", "boundary", "single")
#: Discounts of the structured families: 0, moderate, and close to 1.
GAMMAS = (0.0, 0.5, 0.9, 0.99, 0.999)


def _rows(w):
    w = np.asarray(w, dtype=np.float64)
    zero = w.sum(axis=-1) == 0
    w[zero] = 1.0
    return w / w.sum(axis=-1, keepdims=True)


@st.composite
def transitions(draw, n_states, n_actions, family=None):
    """A transition tensor ``P[s, a, s']`` (S, A, S) of one structured family.

    ``dense``: integer weights 1..5 (full support); ``sparse``: weights 0..4 (a zero row is
    uniform); ``deterministic``: one next state per (s, a); ``near_deterministic``: that,
    mixed with uniform by 1e-9..1e-3; ``chain``: each action moves -1, 0 or +1 along
    0..S-1 (clipped); ``trap``: the last state is absorbing and every other row sends
    mass there; ``reset``: a deterministic move, or back to state 0 w.p. 0.001..0.5.
    ``family=None`` draws the family.
    """
    S, A = int(n_states), int(n_actions)
    fam = draw(st.sampled_from(TRANSITION_FAMILIES)) if family is None else family
    ints = lambda lo, hi, n: np.array(draw(st.lists(st.integers(lo, hi), min_size=n,  # noqa: E731
                                                    max_size=n)))
    if fam in ("dense", "sparse"):
        w = ints(0, 4, S * A * S).reshape(S, A, S) + (1 if fam == "dense" else 0)
        return _rows(w)
    if fam in ("deterministic", "near_deterministic", "reset"):
        nxt = ints(0, S - 1, S * A).reshape(S, A)
        P = np.zeros((S, A, S))
        P[np.arange(S)[:, None], np.arange(A)[None, :], nxt] = 1.0
        if fam == "near_deterministic":
            eps = draw(st.sampled_from([1e-9, 1e-6, 1e-3]))
            P = (1 - eps) * P + eps / S
        elif fam == "reset":
            p = draw(st.sampled_from([0.001, 0.01, 0.1, 0.5]))
            P = (1 - p) * P
            P[:, :, 0] += p
        return P
    if fam == "chain":
        step = ints(-1, 1, S * A).reshape(S, A)
        nxt = np.clip(np.arange(S)[:, None] + step, 0, S - 1)
        P = np.zeros((S, A, S))
        P[np.arange(S)[:, None], np.arange(A)[None, :], nxt] = 1.0
        return P
    if fam == "trap":
        w = ints(0, 2, S * A * S).reshape(S, A, S).astype(np.float64)
        w[:, :, S - 1] += ints(1, 4, S * A).reshape(S, A)
        P = _rows(w)
        P[S - 1] = 0.0
        P[S - 1, :, S - 1] = 1.0
        return P
    raise ValueError(f"family must be in {TRANSITION_FAMILIES}, got {fam!r}")


@st.composite
def reward_tables(draw, shape, family=None):
    """Rewards in [0, 1] of one family: ``uniform`` floats, ``binary`` {0, 1}, ``grid``
    multiples of 1/4, ``near_tie`` (a base value in [0.25, 1) plus offsets of
    1e-12..1e-4; small magnitudes are :func:`proofs_check.strategies.games`'
    ``reward_scales``),
    ``boundary`` (mostly 0 and 1, some interior), ``single`` (one non-zero entry)."""
    n = int(np.prod(shape))
    fam = draw(st.sampled_from(REWARD_FAMILIES)) if family is None else family
    if fam == "uniform":
        x = draw(st.lists(st.floats(0.0, 1.0), min_size=n, max_size=n))
    elif fam == "binary":
        x = draw(st.lists(st.sampled_from([0.0, 1.0]), min_size=n, max_size=n))
    elif fam == "grid":
        x = [k / 4 for k in draw(st.lists(st.integers(0, 4), min_size=n, max_size=n))]
    elif fam == "near_tie":
        base = draw(st.sampled_from([0.25, 0.5, 1.0 - 1e-3]))
        d = draw(st.sampled_from([1e-12, 1e-9, 1e-6, 1e-4]))
        x = [base + d * k for k in draw(st.lists(st.integers(0, 3), min_size=n,
                                                 max_size=n))]
    elif fam == "boundary":
        x = draw(st.lists(st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.0, 1.0)),
                          min_size=n, max_size=n))
    elif fam == "single":
        x = np.zeros(n)
        x[draw(st.integers(0, n - 1))] = draw(st.sampled_from([1.0, 0.5, 0.25]))
    else:
        raise ValueError(f"family must be in {REWARD_FAMILIES}, got {fam!r}")
    return np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0).reshape(shape)


@st.composite
def structured_games(draw, max_agents=3, max_states=4, max_actions=3, gammas=GAMMAS,
                     transition=None, reward=None, identical=None):
    """A dense game from the structured families (family names in ``game.family``).

    ``transition``/``reward`` fix a family (default: drawn); ``identical`` makes it
    identical-interest (the shared reward is its potential); default: drawn.
    """
    n = draw(st.integers(1, max_agents))
    sizes = tuple(draw(st.lists(st.integers(1, max_actions), min_size=n, max_size=n)))
    tfam = draw(st.sampled_from(TRANSITION_FAMILIES)) if transition is None else transition
    S = draw(st.sampled_from([1, 2, max_states])) if max_states > 1 else 1
    S = max(S, 2) if tfam == "trap" and max_states > 1 else S
    A = int(np.prod(sizes))
    P = draw(transitions(S, A, tfam))
    rfam = draw(st.sampled_from(REWARD_FAMILIES)) if reward is None else reward
    gamma = float(draw(st.sampled_from(gammas)))
    same = draw(st.booleans()) if identical is None else identical
    if same:
        phi = draw(reward_tables((S, A), rfam))
        g = fm.MarkovGame(P, np.broadcast_to(phi, (n, S, A)).copy(), gamma,
                          action_sizes=sizes, potential=phi)
    else:
        g = fm.MarkovGame(P, draw(reward_tables((n, S, A), rfam)), gamma,
                          action_sizes=sizes)
    g.family = f"{tfam}/{rfam}" + ("/identical" if same else "")
    return g


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
