r"""Hypothesis strategies for claims: games, policies, logits, step sizes, composite cases.

Games are drawn as arrays (default): sizes first, then integer transition weights and
float rewards, so hypothesis shrinks a counterexample to few states and actions, uniform
transitions and simple rewards (0, 1, 0.5), and :func:`proofs_check.core.to_code` prints it
as an ``fm.MarkovGame(...)`` call. ``draw="seed"`` instead draws a seed for
:func:`fairmg.games.random_game` (the snippet is then that one call).

Markov potential games (002, Definition 2.2) beyond identical interest are built by
:func:`potential_game` from a potential ``phi`` plus per-agent terms that cancel in the
definition:

* a shaping term :math:`\gamma \sum_{s'} P(s'|s,a) h^i(s') - h^i(s)`, whose discounted sum
  telescopes to :math:`-h^i(s_0)` under every policy (any transitions), and
* a dummy term :math:`u^i(s, a^{-i})` for agents that do not move the state (the
  transition depends only on the actions of the "controllers"), whose value then does not
  depend on :math:`\pi^i`.

So :math:`V^i_\pi(s) = \Phi_\pi(s) - h^i(s) + U^i_{\pi^{-i}}(s)` and (1) holds. With no
controller the transitions are action-independent (the construction of
``random_game(kind="potential")``); with every agent a controller there are no dummy terms.
"""
from __future__ import annotations

import numpy as np
from hypothesis import strategies as st
from hypothesis.strategies import SearchStrategy

import fairmg as fm
from fairmg.testing import strategies as _fts

from .core import Case

__all__ = ["games", "potential_game", "gammas", "policies", "logits", "step_sizes",
           "fractions", "cases", "unit_floats", "agent_indices", "GAME_KINDS",
           "TRANSITION_FAMILIES", "REWARD_FAMILIES", "FULL_SUPPORT_FAMILIES"]

#: Structured transition families drawn by :func:`games` (see
#: :func:`fairmg.testing.strategies.transitions`); ``sparse`` (integer weights 0..4, a zero
#: row uniform) first, so counterexamples shrink towards it.
TRANSITION_FAMILIES = ("sparse",) + tuple(f for f in _fts.TRANSITION_FAMILIES
                                          if f != "sparse")
#: The transition families with full support (``games(sparse=False)``).
FULL_SUPPORT_FAMILIES = ("dense", "near_deterministic")
#: Reward families drawn by :func:`games` (:func:`fairmg.testing.strategies.reward_tables`).
REWARD_FAMILIES = _fts.REWARD_FAMILIES

GAME_KINDS = ("general", "identical", "potential")
#: Discounts close to 1 that :func:`gammas` mixes in (those <= ``max_gamma``).
NEAR_ONE = (0.9, 0.95, 0.99, 0.999)
#: Transition rows are integer weights in [0, MAX_WEIGHT] (a zero row means uniform).
MAX_WEIGHT = 4


def unit_floats(lo: float = 0.0, hi: float = 1.0) -> SearchStrategy:
    """Finite floats in [lo, hi] (shrink towards simple values)."""
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False)


def gammas(min_gamma: float = 0.0, max_gamma: float = 0.99,
           near_one: bool = True) -> SearchStrategy:
    """Discounts in [min_gamma, max_gamma], mixing in values close to 1."""
    if not 0.0 <= min_gamma <= max_gamma < 1.0:
        raise ValueError(f"need 0 <= min_gamma <= max_gamma < 1, got {min_gamma}, "
                         f"{max_gamma}")
    base = unit_floats(min_gamma, max_gamma)
    extra = [g for g in (0.0,) + NEAR_ONE if min_gamma <= g <= max_gamma]
    return st.one_of(base, st.sampled_from(extra)) if near_one and extra else base


def _int_range(x, name: str) -> tuple[int, int]:
    lo, hi = (x, x) if isinstance(x, (int, np.integer)) else tuple(x)
    if not 1 <= lo <= hi:
        raise ValueError(f"{name} must be an int >= 1 or a range (lo, hi), got {x!r}")
    return int(lo), int(hi)


def _stochastic_rows(weights: np.ndarray) -> np.ndarray:
    w = weights.astype(np.float64)
    zero = w.sum(axis=-1) == 0
    w[zero] = 1.0
    return w / w.sum(axis=-1, keepdims=True)


@st.composite
def _weights(draw, shape) -> np.ndarray:
    flat = draw(st.lists(st.integers(0, MAX_WEIGHT), min_size=int(np.prod(shape)),
                         max_size=int(np.prod(shape))))
    return np.array(flat, dtype=np.int64).reshape(shape)


@st.composite
def _floats(draw, shape, lo=0.0, hi=1.0) -> np.ndarray:
    n = int(np.prod(shape))
    return np.array(draw(st.lists(unit_floats(lo, hi), min_size=n, max_size=n)),
                    dtype=np.float64).reshape(shape)


def potential_game(transition, phi, gamma, action_sizes, *, shaping=None, dummies=None,
                   initial=None, rescale: bool = True) -> fm.MarkovGame:
    r"""A Markov potential game with potential ``phi`` that need not be identical-interest.

    Parameters
    ----------
    transition : ndarray (S, A, S)
        Must not depend on the action of any agent with a non-zero dummy term.
    phi : ndarray (S, A)
        The potential.
    gamma : float
    action_sizes : tuple of int
    shaping : ndarray (N, S), optional
        ``h^i(s)``; adds :math:`\gamma P h^i - h^i` to agent i's reward.
    dummies : list of ndarray or None, optional
        ``dummies[i]`` of shape ``(S, A_{-i})`` (the other agents' actions in C order) or
        None; adds :math:`u^i(s, a^{-i})` to agent i's reward.
    rescale : bool
        Map rewards affinely onto [0, 1] (the same map applied to phi keeps Def. 2.2).

    Raises ``ValueError`` if a dummy is given for an agent whose action moves the state.
    """
    P = np.asarray(transition, dtype=np.float64)
    phi = np.asarray(phi, dtype=np.float64)
    sizes = tuple(int(a) for a in action_sizes)
    n, (S, A) = len(sizes), phi.shape
    R = np.broadcast_to(phi, (n, S, A)).copy()
    if shaping is not None:
        h = np.asarray(shaping, dtype=np.float64)
        R += gamma * np.einsum("sat,it->isa", P, h) - h[:, :, None]
    for i, u in enumerate(dummies or []):
        if u is None:
            continue
        Pi = P.reshape((S,) + sizes + (S,))
        if not np.allclose(Pi, Pi.take([0], axis=1 + i), atol=0.0, rtol=0.0):
            raise ValueError(f"dummies[{i}] given, but agent {i}'s action changes the "
                             f"transition: the game would not be an MPG")
        others = tuple(a for j, a in enumerate(sizes) if j != i)
        u = np.asarray(u, dtype=np.float64).reshape((S,) + others)
        R[i] += np.expand_dims(u, axis=1 + i).repeat(sizes[i], axis=1 + i).reshape(S, A)
    if rescale:
        lo, hi = float(R.min()), float(R.max())
        scale = 1.0 / (hi - lo) if hi - lo > 1e-12 else 1.0   # (near-)constant: shift only
        R, phi = (R - lo) * scale, (phi - lo) * scale
    return fm.MarkovGame(P, R, gamma, initial=initial, action_sizes=sizes, potential=phi,
                         name="potential (proofs_check)")


def _family_transitions(draw, S, A, tfams):
    fam = draw(st.sampled_from(tfams))
    if fam == "trap" and S < 2:
        fam = tfams[0] if tfams[0] != "trap" else "sparse"
    return draw(_fts.transitions(S, A, fam)), fam


@st.composite
def _game_arrays(draw, n_agents, max_states, min_states, max_actions, kind, gamma,
                 initial, sparse, tfams=None, rfams=None, scales=(1.0,)):
    g = draw(_game_arrays_raw(n_agents, max_states, min_states, max_actions, kind, gamma,
                              initial, sparse, tfams, rfams))
    scale = draw(st.sampled_from(scales)) if len(scales) > 1 else scales[0]
    if scale != 1.0:      # small values: every reward (and the potential) times scale
        pot = g.joint_potential()
        fam = g._proofs_check_family
        g = g.with_rewards(scale * g.joint_rewards(),
                           potential=None if pot is None else scale * pot)
        g._proofs_check_family = f"{fam}, rewards x {scale:g}"
    return g


@st.composite
def _game_arrays_raw(draw, n_agents, max_states, min_states, max_actions, kind, gamma,
                     initial, sparse, tfams=None, rfams=None):
    lo_n, hi_n = _int_range(n_agents, "n_agents")
    n = draw(st.integers(lo_n, hi_n))
    lo_a, hi_a = _int_range(max_actions, "max_actions")
    sizes = tuple(draw(st.lists(st.integers(lo_a, hi_a), min_size=n, max_size=n)))
    S = draw(st.integers(min_states, max_states))
    A = int(np.prod(sizes))
    g = draw(gamma)
    kind = draw(st.sampled_from(kind)) if isinstance(kind, tuple) else kind
    if tfams is None:
        tfams = TRANSITION_FAMILIES if sparse else FULL_SUPPORT_FAMILIES
    rfams = REWARD_FAMILIES if rfams is None else rfams
    rfam = draw(st.sampled_from(rfams))
    if initial == "uniform":
        mu = np.full(S, 1.0 / S)
    else:
        lo_w = 0 if initial == "any" else 1
        mu = _stochastic_rows(np.array(draw(st.lists(st.integers(lo_w, MAX_WEIGHT),
                                                     min_size=S, max_size=S))))
    if kind == "potential":
        controllers = draw(st.lists(st.booleans(), min_size=n, max_size=n))
        ctrl_sizes = tuple(a if c else 1 for a, c in zip(sizes, controllers))
        Pc, tfam = _family_transitions(draw, S, int(np.prod(ctrl_sizes)), tfams)
        Pc = Pc.reshape((S,) + ctrl_sizes + (S,))
        P = np.broadcast_to(Pc, (S,) + sizes + (S,)).reshape(S, A, S)
        phi = draw(_fts.reward_tables((S, A), rfam))
        h = draw(_floats((n, S), -1.0, 1.0)) if draw(st.booleans()) else None
        dummies = []
        for i in range(n):
            if controllers[i] or not draw(st.booleans()):
                dummies.append(None)
            else:
                dummies.append(draw(_floats((S, A // sizes[i]))))
        game = potential_game(P, phi, g, sizes, shaping=h, dummies=dummies, initial=mu)
        game._proofs_check_family = f"{tfam} transitions, {rfam} potential"
        return game
    P, tfam = _family_transitions(draw, S, A, tfams)
    if kind == "identical":
        phi = draw(_fts.reward_tables((S, A), rfam))
        game = fm.MarkovGame(P, np.broadcast_to(phi, (n, S, A)), g, initial=mu,
                             action_sizes=sizes, potential=phi)
    elif kind == "general":
        game = fm.MarkovGame(P, draw(_fts.reward_tables((n, S, A), rfam)), g, initial=mu,
                             action_sizes=sizes)
    else:
        raise ValueError(f"kind must be in {GAME_KINDS}, got {kind!r}")
    game._proofs_check_family = f"{tfam} transitions, {rfam} rewards"
    return game


@st.composite
def _game_seeded(draw, n_agents, max_states, min_states, max_actions, kind, gamma):
    lo_n, hi_n = _int_range(n_agents, "n_agents")
    n = draw(st.integers(lo_n, hi_n))
    lo_a, hi_a = _int_range(max_actions, "max_actions")
    sizes = tuple(draw(st.lists(st.integers(lo_a, hi_a), min_size=n, max_size=n)))
    S = draw(st.integers(min_states, max_states))
    g = draw(gamma)
    kind = draw(st.sampled_from(kind)) if isinstance(kind, tuple) else kind
    seed = draw(st.integers(0, 2**32 - 1))
    game = fm.games.random_game(S, sizes, g, rng=seed, kind=kind)
    game._proofs_check_code = (f"fm.games.random_game({S}, {sizes!r}, {g!r}, rng={seed}, "
                               f"kind={kind!r})")
    return game


def games(n_agents=(1, 3), max_states: int = 4, max_actions: int = 3, *,
          kind="general", min_states: int = 1, gamma=None, min_gamma: float = 0.0,
          max_gamma: float = 0.99, initial: str = "uniform", sparse: bool = True,
          draw: str = "arrays", transitions=None, rewards=None,
          reward_scales=(1.0,)) -> SearchStrategy:
    """Markov games with rewards in [0, 1].

    Parameters
    ----------
    n_agents : int or (lo, hi)
    max_states, min_states : int
        Size bounds.
    max_actions : int or (lo, hi)
        Each agent has 1..max_actions (or lo..hi) actions.
    kind : {"general", "identical", "potential"} or a tuple of them
        ``potential``: :func:`potential_game` with a random set of transition
        controllers, optional shaping and dummy terms (the game carries ``potential``).
        ``identical``: one shared reward, which is the potential.
    gamma : strategy, optional
        Default :func:`gammas(min_gamma, max_gamma) <gammas>` (includes values near 1).
    initial : {"uniform", "random", "any"}
        mu uniform, random with full support (Assumption 2.1 of 002 then holds for every
        policy), or random possibly without full support.
    sparse : bool
        Allow zero transition probabilities (default: every family of
        :data:`TRANSITION_FAMILIES`; ``False``: only :data:`FULL_SUPPORT_FAMILIES`).
    transitions : tuple of str, optional
        The transition families to draw from (:data:`TRANSITION_FAMILIES`: sparse, dense,
        deterministic, near-deterministic, chains, absorbing traps, resets); default all
        that ``sparse`` allows. For potential games they shape the controllers' kernel.
    rewards : tuple of str, optional
        Reward families (:data:`REWARD_FAMILIES`: uniform, binary, grid, near-tie,
        boundary, single non-zero); default all. For potential games: of ``phi``.
    reward_scales : tuple of float
        Factors drawn to multiply every reward and the potential (e.g. ``(1.0, 1e-3,
        1e-6)``: games with small values; rewards stay in [0, 1]).
    draw : {"arrays", "seed"}
        Draw the arrays (shrinks to simple games), or a seed of
        :func:`fairmg.games.random_game` (compact snippet; kinds as that function).
    """
    if gamma is None:
        gamma = gammas(min_gamma, max_gamma)
    kinds = kind if isinstance(kind, tuple) else (kind,)
    for k in kinds:
        if k not in GAME_KINDS:
            raise ValueError(f"kind must be in {GAME_KINDS}, got {k!r}")
    if initial not in ("uniform", "random", "any"):
        raise ValueError(f"initial must be 'uniform', 'random' or 'any', got {initial!r}")
    _int_range(max_actions, "max_actions")
    if not 1 <= min_states <= max_states:
        raise ValueError(f"need 1 <= min_states <= max_states and max_actions >= 1, got "
                         f"{min_states}, {max_states}, {max_actions}")
    if draw == "seed":
        return _game_seeded(n_agents, max_states, min_states, max_actions, kind, gamma)
    if draw != "arrays":
        raise ValueError(f"draw must be 'arrays' or 'seed', got {draw!r}")
    for fams, known, what in ((transitions, _fts.TRANSITION_FAMILIES, "transitions"),
                              (rewards, REWARD_FAMILIES, "rewards")):
        bad = [f for f in (fams or ()) if f not in known]
        if bad or (fams is not None and not fams):
            raise ValueError(f"{what} must be a non-empty tuple of {known}, got {fams!r}")
    scales = tuple(float(s) for s in reward_scales)
    if not scales or not all(0.0 < s <= 1.0 for s in scales):
        raise ValueError(f"reward_scales must be factors in (0, 1], got {reward_scales!r}")
    return _game_arrays(n_agents, max_states, min_states, max_actions, kind, gamma,
                        initial, sparse, None if transitions is None else tuple(transitions),
                        None if rewards is None else tuple(rewards), scales)


class _Dependent:
    """A strategy that needs the game drawn before it (resolved inside :func:`cases`)."""

    def __init__(self, build, of: str):
        self.build, self.of = build, of

    def __call__(self, case) -> SearchStrategy:
        return self.build(getattr(case, self.of))


@st.composite
def _logits_for(draw, game, scale, near_deterministic, max_peak, large_gaps=False):
    shape = (game.n_agents, game.n_states, game.max_actions)
    theta = draw(_floats(shape, -scale, scale)) if scale > 0 else np.zeros(shape)
    if near_deterministic and draw(st.booleans()):
        big = large_gaps and draw(st.booleans())
        for i, n in enumerate(game.action_sizes):
            for s in range(game.n_states):
                peak = draw(st.sampled_from([30.0, 40.0, 60.0]) if big
                            else unit_floats(0.0, max_peak))
                theta[i, s, draw(st.integers(0, n - 1))] += peak
    return np.where(game.action_mask[:, None, :], theta, 0.0)


def logits(game=None, *, scale: float = 3.0, near_deterministic: bool = True,
           max_peak: float = 20.0, large_gaps: bool = False, of: str = "game"):
    """Logits ``theta[i, s, a]`` (padding 0) in [-scale, scale], sometimes with one action
    per (agent, state) raised by up to ``max_peak`` (near-deterministic policies), and with
    ``large_gaps`` sometimes by 30, 40 or 60 (probabilities down to e^-60).

    With ``game=None`` this is a placeholder for :func:`cases`, using the field ``of``.
    """
    def build(g):
        return _logits_for(g, float(scale), near_deterministic, float(max_peak),
                           bool(large_gaps))
    return build(game) if game is not None else _Dependent(build, of)


@st.composite
def _policy_for(draw, game, deterministic, scale, max_peak):
    if deterministic and draw(st.booleans()):
        acts = [[draw(st.integers(0, n - 1)) for _ in range(game.n_states)]
                for n in game.action_sizes]
        return fm.ProductPolicy.deterministic(game, np.array(acts))
    theta = draw(_logits_for(game, scale, True, max_peak))
    return fm.ProductPolicy.from_logits(game, theta)


def policies(game=None, *, deterministic: bool = True, scale: float = 3.0,
             max_peak: float = 20.0, of: str = "game"):
    """Product policies: softmax of :func:`logits`, or deterministic ones."""
    build = lambda g: _policy_for(g, deterministic, float(scale), float(max_peak))  # noqa: E731
    return build(game) if game is not None else _Dependent(build, of)


def agent_indices(game=None, *, of: str = "game"):
    """An agent index of the game."""
    build = lambda g: st.integers(0, g.n_agents - 1)  # noqa: E731
    return build(game) if game is not None else _Dependent(build, of)


def step_sizes(lo: float = 1e-3, hi: float = 10.0) -> SearchStrategy:
    """Step sizes in [lo, hi], log-uniform-ish (drawn as 10**x)."""
    if not 0 < lo <= hi:
        raise ValueError(f"need 0 < lo <= hi, got {lo}, {hi}")
    return unit_floats(np.log10(lo), np.log10(hi)).map(lambda x: float(10.0 ** x))


def fractions(lo: float = 0.01, hi: float = 1.0) -> SearchStrategy:
    """A factor in [lo, hi] (e.g. a step size as a fraction of a theorem's bound);
    shrinks towards ``hi`` (the boundary case of the bound)."""
    return unit_floats(0.0, 1.0).map(lambda u: float(hi - u * (hi - lo)))


def cases(**fields) -> SearchStrategy:
    """A :class:`~proofs_check.core.Case` whose fields are drawn in order.

    Each value is a strategy, or a placeholder from :func:`logits`, :func:`policies`,
    :func:`agent_indices` (or any callable ``case -> strategy``) that sees the fields
    drawn before it::

        cases(game=games(kind="potential"), theta=logits(), eta=step_sizes())
    """
    @st.composite
    def _draw(draw):
        case = Case()
        for name, f in fields.items():
            strat = f if isinstance(f, SearchStrategy) else f(case)
            setattr(case, name, draw(strat))
        return case
    return _draw()
