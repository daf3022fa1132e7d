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

from .core import Case

__all__ = ["games", "potential_game", "gammas", "policies", "logits", "step_sizes",
           "fractions", "cases", "unit_floats", "agent_indices", "GAME_KINDS"]

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
    extra = [g for g in NEAR_ONE if min_gamma <= g <= max_gamma]
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


@st.composite
def _game_arrays(draw, n_agents, max_states, min_states, max_actions, kind, gamma,
                 initial, sparse):
    lo_n, hi_n = _int_range(n_agents, "n_agents")
    n = draw(st.integers(lo_n, hi_n))
    sizes = tuple(draw(st.lists(st.integers(1, max_actions), min_size=n, max_size=n)))
    S = draw(st.integers(min_states, max_states))
    A = int(np.prod(sizes))
    g = draw(gamma)
    kind = draw(st.sampled_from(kind)) if isinstance(kind, tuple) else kind
    if initial == "uniform":
        mu = np.full(S, 1.0 / S)
    else:
        lo_w = 0 if initial == "any" else 1
        mu = _stochastic_rows(np.array(draw(st.lists(st.integers(lo_w, MAX_WEIGHT),
                                                     min_size=S, max_size=S))))
    if kind == "potential":
        controllers = draw(st.lists(st.booleans(), min_size=n, max_size=n))
        ctrl_sizes = tuple(a if c else 1 for a, c in zip(sizes, controllers))
        Pc = _stochastic_rows(draw(_weights((S, int(np.prod(ctrl_sizes)), S)))
                              + (0 if sparse else 1))
        Pc = Pc.reshape((S,) + ctrl_sizes + (S,))
        P = np.broadcast_to(Pc, (S,) + sizes + (S,)).reshape(S, A, S)
        phi = draw(_floats((S, A)))
        h = draw(_floats((n, S), -1.0, 1.0)) if draw(st.booleans()) else None
        dummies = []
        for i in range(n):
            if controllers[i] or not draw(st.booleans()):
                dummies.append(None)
            else:
                dummies.append(draw(_floats((S, A // sizes[i]))))
        return potential_game(P, phi, g, sizes, shaping=h, dummies=dummies, initial=mu)
    P = _stochastic_rows(draw(_weights((S, A, S))) + (0 if sparse else 1))
    if kind == "identical":
        phi = draw(_floats((S, A)))
        return fm.MarkovGame(P, np.broadcast_to(phi, (n, S, A)), g, initial=mu,
                             action_sizes=sizes, potential=phi)
    if kind != "general":
        raise ValueError(f"kind must be in {GAME_KINDS}, got {kind!r}")
    return fm.MarkovGame(P, draw(_floats((n, S, A))), g, initial=mu, action_sizes=sizes)


@st.composite
def _game_seeded(draw, n_agents, max_states, min_states, max_actions, kind, gamma):
    lo_n, hi_n = _int_range(n_agents, "n_agents")
    n = draw(st.integers(lo_n, hi_n))
    sizes = tuple(draw(st.lists(st.integers(1, max_actions), min_size=n, max_size=n)))
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
          draw: str = "arrays") -> SearchStrategy:
    """Markov games with rewards in [0, 1].

    Parameters
    ----------
    n_agents : int or (lo, hi)
    max_states, min_states, max_actions : int
        Size bounds (each agent has 1..max_actions actions).
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
        Allow zero transition probabilities.
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
    if not 1 <= min_states <= max_states or max_actions < 1:
        raise ValueError(f"need 1 <= min_states <= max_states and max_actions >= 1, got "
                         f"{min_states}, {max_states}, {max_actions}")
    if draw == "seed":
        return _game_seeded(n_agents, max_states, min_states, max_actions, kind, gamma)
    if draw != "arrays":
        raise ValueError(f"draw must be 'arrays' or 'seed', got {draw!r}")
    return _game_arrays(n_agents, max_states, min_states, max_actions, kind, gamma,
                        initial, sparse)


class _Dependent:
    """A strategy that needs the game drawn before it (resolved inside :func:`cases`)."""

    def __init__(self, build, of: str):
        self.build, self.of = build, of

    def __call__(self, case) -> SearchStrategy:
        return self.build(getattr(case, self.of))


@st.composite
def _logits_for(draw, game, scale, near_deterministic, max_peak):
    shape = (game.n_agents, game.n_states, game.max_actions)
    theta = draw(_floats(shape, -scale, scale)) if scale > 0 else np.zeros(shape)
    if near_deterministic and draw(st.booleans()):
        for i, n in enumerate(game.action_sizes):
            for s in range(game.n_states):
                peak = draw(unit_floats(0.0, max_peak))
                theta[i, s, draw(st.integers(0, n - 1))] += peak
    return np.where(game.action_mask[:, None, :], theta, 0.0)


def logits(game=None, *, scale: float = 3.0, near_deterministic: bool = True,
           max_peak: float = 20.0, of: str = "game"):
    """Logits ``theta[i, s, a]`` (padding 0) in [-scale, scale], sometimes with one action
    per (agent, state) raised by up to ``max_peak`` (near-deterministic policies).

    With ``game=None`` this is a placeholder for :func:`cases`, using the field ``of``.
    """
    def build(g):
        return _logits_for(g, float(scale), near_deterministic, float(max_peak))
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
