"""Fuzz test of the public API (issue 10).

Every public entry point is called with valid arguments of which some (usually one) are
replaced by junk: wrong shapes, ragged lists, strings, complex, bool, NaN/inf, +-1e308,
-0.0, empty arrays, a valid array with one entry spoiled; any scalar (str, None, bool,
negative, nan, inf, huge); any seed. The outcome must be

* a result holding only finite numbers, or
* a ``ValueError`` / ``TypeError`` (``TooLargeError`` is a ``ValueError``) whose message
  names one of the replaced arguments,

never another exception (IndexError, ZeroDivisionError, LinAlgError, AttributeError...),
a RuntimeWarning (turned into an error here), a NaN or inf in the result, or a hang.

Sizes stay small (S <= 4, N <= 3) so each example takes milliseconds: the ``ci`` profile
(25 derandomized examples per entry point) runs in seconds; ``HYPOTHESIS_PROFILE=thorough``
is the full campaign.
"""
from __future__ import annotations

import dataclasses
import re
import signal
import warnings
from contextlib import contextmanager

import numpy as np
import pytest
from hypothesis import given, note, strategies as st
from hypothesis.extra import numpy as hnp

import fairmg as fm
from fairmg import fairness as fx
from fairmg.dynamics import fdiv as fdyn

#: A call that takes longer than this (seconds) is a hang.
HANG_SECONDS = 60

# ---------------------------------------------------------------------------- the junk
SPECIAL_FLOATS = [0.0, -0.0, 1.0, -1.0, 0.5, 1.5, 2.0, 1 - 2**-53, 1 + 2**-52, 5e-324,
                  1e-300, 1e-12, 1e150, 1e151, 1e300, 1e308, -1e308, 1.7976931348623157e308,
                  np.inf, -np.inf, np.nan, float(2**63), -1e-300]
SPECIAL_INTS = [-(2**63), -1, 0, 1, 2, 3, 2**31, 2**63, 2**64, 10**30]


def _odd_objects():
    return st.sampled_from([None, "", "abc", "1.5", "nan", "kl", b"1", [], [1], (0.5,),
                            [[1, 2], [3]], {"a": 1}, {1, 2}, object(), Ellipsis, slice(1),
                            np.float32(0.5), np.float16(np.inf), np.int64(2), np.uint8(3),
                            np.bool_(True), np.array(0.5), np.array([0.5]), np.array(2),
                            np.array(np.nan), np.complex128(1 + 0j), 1j, 1 + 0j,
                            np.datetime64("2020-01-01"), np.array("a"), np.str_("x")])


scalar_junk = st.one_of(
    st.booleans(), st.sampled_from(SPECIAL_FLOATS), st.sampled_from(SPECIAL_INTS),
    st.integers(-4, 5), st.floats(allow_nan=True, allow_infinity=True),
    st.complex_numbers(max_magnitude=10.0), st.text(max_size=3), _odd_objects())

#: Junk for counts that size an allocation or a loop: no mid-sized ints (a 5000-state game
#: or 10**6 iterations are valid, just slow), only small, negative or absurd ones.
count_junk = st.one_of(
    st.booleans(), st.sampled_from(SPECIAL_FLOATS), st.sampled_from(SPECIAL_INTS),
    st.integers(-3, 3), st.sampled_from([2.0, 2.5, -1.0, 1e30]),
    st.complex_numbers(max_magnitude=3.0), st.text(max_size=3), _odd_objects())

#: Junk for iteration counts (``iters``, ``max_iter``): at most 2 steps when valid.
iters_junk = st.one_of(
    st.sampled_from([-(2**63), -3, -1, 0, 1, 2, 2.0, 1.5, np.int64(2), np.float64(1.0),
                     np.nan, np.inf, -np.inf, True, False, None, "2", "", 2 + 0j, [2],
                     np.array(2), np.array([2]), object()]))

_DTYPES = st.sampled_from([np.float64, np.float32, np.float16, np.int64, np.int8,
                           np.uint8, np.bool_, np.complex128, np.dtype("U2"),
                           np.dtype("S2")])

generic_arrays = hnp.arrays(dtype=_DTYPES,
                            shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0,
                                                   max_side=3))

nested_lists = st.recursive(
    st.one_of(st.floats(-3, 3), st.integers(-2, 3), st.sampled_from([np.nan, 1e308, "x"])),
    lambda inner: st.lists(inner, max_size=3), max_leaves=12)


@st.composite
def mutated(draw, valid):
    """``valid`` (an array) spoiled in one way: an entry, the dtype, the shape, the form."""
    a = np.array(valid)
    how = draw(st.sampled_from([
        "entry", "entry", "entry", "complex", "complex_imag", "bool", "int", "str", "float32",
        "list", "ragged", "drop", "add", "newaxis", "ravel", "transpose", "scale", "empty",
        "negzero", "nudge", "object", "scalar"]))
    note(f"mutation: {how}")
    if how == "entry":
        if a.size == 0:
            return a
        a = a.astype(np.float64)
        for _ in range(draw(st.integers(1, 3))):
            idx = tuple(draw(st.integers(0, n - 1)) for n in a.shape)
            a[idx] = draw(st.sampled_from(SPECIAL_FLOATS))
        return a
    if how == "complex":
        return a.astype(np.complex128)
    if how == "complex_imag":
        return a.astype(np.complex128) + 1e-3j
    if how == "bool":
        return a.astype(bool)
    if how == "int":
        return np.floor(a * 2).astype(np.int64) if a.dtype.kind == "f" else a.astype(np.int64)
    if how == "str":
        return a.astype(str)
    if how == "float32":
        return a.astype(np.float32)
    if how == "list":
        return a.tolist()
    if how == "ragged":
        lst = a.tolist()
        if a.ndim >= 2 and a.shape[-1] > 0 and a.shape[0] > 1:
            row = lst[0]
            while isinstance(row[0], list) and len(row) > 0 and len(row[0]) > 0:
                row = row[0]
            row.pop()
        return lst
    if how == "object":
        return a.astype(object)
    if how == "scalar":
        return a.ravel()[0] if a.size else a
    if a.ndim == 0:
        return a[None]
    axis = draw(st.integers(0, a.ndim - 1))
    if how == "drop":
        return np.delete(a, -1, axis=axis) if a.shape[axis] else a
    if how == "add":
        return np.concatenate([a, np.take(a, [0], axis=axis)], axis=axis) if a.shape[axis] \
            else np.ones(a.shape[:axis] + (1,) + a.shape[axis + 1:])
    if how == "newaxis":
        return a[None]
    if how == "ravel":
        return a.ravel()
    if how == "transpose":
        return a.T
    if how == "scale":
        return a * draw(st.sampled_from([1e300, -1.0, 1e-300, 1e150, 0.0, 1e10]))
    if how == "empty":
        return np.take(a, [], axis=axis)
    if how == "negzero":
        a = a.astype(np.float64)
        a[a == 0] = -0.0
        return a
    # nudge: a tiny change that breaks exact sums, as round-off would
    return a.astype(np.float64) + draw(st.sampled_from([1e-12, 1e-8, -1e-8, 1e-3]))


def array_junk(valid):
    base = st.one_of(generic_arrays, nested_lists, scalar_junk)
    if valid is None:
        return base
    return st.one_of(mutated(valid), mutated(valid), base)


# ------------------------------------------------------------------- valid instances
def fm_max_gamma() -> float:
    from fairmg._validate import MAX_GAMMA
    return MAX_GAMMA


GAMMAS = st.sampled_from([0.0, 0.5, 0.9, 0.99, fm_max_gamma()])
seeds = st.integers(0, 2**32 - 1)


@st.composite
def games(draw, kinds=("random", "potential", "identical", "coordination", "matrix",
                       "factored", "factored_joint", "extreme"), dense: bool = False):
    """Small games of every construction (shared reward for ``identical`` / ``matrix`` /
    ``coordination``); ``extreme``: the largest rewards accepted (+-1e150, mixed signs) and
    the largest discount."""
    if dense:
        kinds = tuple(k for k in kinds if not k.startswith("factored"))
    kind = draw(st.sampled_from(kinds))
    gamma = draw(GAMMAS)
    seed = draw(seeds)
    if kind == "extreme":
        g = draw(games(kinds=("random", "identical", "matrix"), dense=True))
        signs = np.where(np.random.default_rng(seed).random(g.n_agents) < 0.5, -1.0, 1.0)
        top = max(1.0, float(np.abs(g.rewards).max()))
        rewards = np.array(g.rewards) / top * signs[:, None, None] * draw(
            st.sampled_from([1e150, 1e-300, 1.0]))
        return fm.MarkovGame(g.transition, rewards, draw(st.sampled_from([fm_max_gamma(), 0.0])),
                             g.initial, g.action_sizes)
    if kind == "coordination":
        rep = draw(st.sampled_from(["dense"] if dense else ["dense", "factored"]))
        return fm.games.coordination(draw(st.integers(1, 2)), draw(st.sampled_from(
            [0.0, 0.1, 0.5])), gamma, representation=rep)
    if kind == "matrix":
        sizes = tuple(draw(st.lists(st.integers(1, 3), min_size=1, max_size=3)))
        pay = np.random.default_rng(seed).integers(-2, 3, sizes).astype(float)
        return fm.games.matrix_game(pay, gamma, per_agent=False)
    n = draw(st.integers(1, 3))
    sizes = tuple(draw(st.lists(st.integers(1, 3), min_size=n, max_size=n)))
    if kind.startswith("factored"):
        local = tuple(draw(st.lists(st.integers(1, 2), min_size=n, max_size=n)))
        g = fm.games.random_factored_game(
            local, sizes, gamma, rng=seed, dependence=draw(st.sampled_from(
                ["global", "local", "action"])), joint_rewards=kind == "factored_joint")
        if draw(st.booleans()):     # matrix-free (GMRES) policy evaluation
            g = fm.FactoredGame(g._local_forms(), g.rewards, g.gamma, g.initial,
                                name="matrix-free", dense_states=0)
        return g
    S = draw(st.integers(1, 4))
    rkind = {"random": "general"}.get(kind, kind)
    return fm.games.random_game(S, sizes, gamma, rng=seed, kind=rkind,
                                sparsity=draw(st.sampled_from([0.0, 0.5])))


def shared_games():
    return games(kinds=("identical", "coordination", "matrix"))


@st.composite
def policies(draw, game):
    form = draw(st.sampled_from(["uniform", "logits", "deterministic"]))
    rng = np.random.default_rng(draw(seeds))
    if form == "uniform":
        return fm.ProductPolicy.uniform(game)
    if form == "deterministic":
        acts = np.stack([rng.integers(0, n, game.n_states) for n in game.action_sizes])
        return fm.ProductPolicy.deterministic(game, acts)
    scale = draw(st.sampled_from([1.0, 5.0, 40.0]))
    return fm.ProductPolicy.from_logits(game, scale * rng.normal(
        size=(game.n_agents, game.n_states, game.max_actions)))


def logits(game, seed):
    return np.random.default_rng(seed).normal(size=(game.n_agents, game.n_states,
                                                    game.max_actions))


# ------------------------------------------------------------- junk by argument kind
@st.composite
def other_policy(draw, game):
    """A policy of another game with a different shape (or a raw array, or junk)."""
    other = draw(games())
    if (other.n_agents, other.n_states, other.action_sizes) == (
            game.n_agents, game.n_states, game.action_sizes):
        other = fm.games.random_game(game.n_states + 1, game.action_sizes, rng=0)
    return draw(st.one_of(policies(other), st.just(fm.ProductPolicy.uniform(game).probs),
                          st.just(fm.ProductPolicy.uniform(game)).map(
                              lambda p: fm.evaluate(game, p)), scalar_junk))


def game_junk():
    return st.one_of(scalar_junk, generic_arrays,
                     st.just(fm.ProductPolicy.uniform(fm.games.coordination(2))),
                     st.just(fm.games), st.just(fm.games.coordination))


def choice_junk(choices):
    return st.one_of(st.text(max_size=6), scalar_junk,
                     st.sampled_from([c.upper() for c in choices] + [c + " " for c in choices]
                                     + ["__init__", "\x00", "ＫＬ"]))


def rng_junk():
    return st.one_of(scalar_junk, st.integers(-5, 5), st.sampled_from(
        [2**64 + 1, -(2**63), np.random.default_rng(0), np.random.SeedSequence(1),
         np.random.RandomState(0), np.random.PCG64(0), np.int64(-1), np.uint64(3), 1.0,
         "abc", [1, 2], np.array([1, 2])]))


def agent_seq_junk():
    return st.one_of(
        st.lists(st.integers(-2, 4), max_size=4), st.lists(st.booleans(), max_size=2),
        st.lists(st.sampled_from([0.0, 1.5, np.nan, "0", None, np.int64(0)]), max_size=2),
        scalar_junk, st.sampled_from([np.array([0, 1]), np.array([[0]]), "01", (0, 0)]))


def sizes_junk():
    return st.one_of(
        st.lists(st.sampled_from([-1, 0, 1, 2, 3, 2.0, 2.5, True, np.nan, "2", None,
                                  2**40, 10**6, np.int64(2), np.float64(3.0), 1 + 0j]),
                 max_size=4),
        st.sampled_from([(), "22", np.array([2, 2]), np.array([[2, 2]]), np.array([2.0, 2.5]),
                         2, 2.0, 0, -1, None, [[2, 2]], (2, (2,)), {2: 2}]))


def junk_for(kind, valid, game=None):
    """The junk strategy of one argument."""
    if kind == "array":
        return array_junk(valid)
    if kind == "scalar":
        return scalar_junk
    if kind == "count":
        return count_junk
    if kind == "iters":
        return iters_junk
    if kind == "game":
        return game_junk()
    if kind == "policy":
        return other_policy(game)
    if kind == "rng":
        return rng_junk()
    if kind == "agents":
        return agent_seq_junk()
    if kind == "sizes":
        return sizes_junk()
    if kind == "array_list":
        return st.one_of(
            st.lists(array_junk(valid[0]), min_size=1, max_size=3),
            st.builds(lambda v, j, i: v[:i] + [j] + v[i + 1:], st.just(list(valid)),
                      array_junk(valid[0]), st.integers(0, len(valid) - 1)),
            array_junk(np.array(valid[0])), st.just([]), st.just(tuple(valid)))
    if isinstance(kind, tuple) and kind[0] == "choice":
        return choice_junk(kind[1])
    raise AssertionError(kind)


# ------------------------------------------------------------------- the property
class Hang(Exception):
    pass


@contextmanager
def time_limit(seconds: int):
    if not hasattr(signal, "SIGALRM"):       # Windows: no alarm, no hang detection
        yield
        return

    def handler(signum, frame):
        raise Hang(f"call did not return within {seconds} s")

    old = signal.signal(signal.SIGALRM, handler)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


def _walk_numbers(obj, path="result", seen=None, depth=0):
    """Yield ``(path, array)`` for every number held by ``obj`` (arrays, scalars, and the
    attributes of fairmg's result types), each object once."""
    seen = set() if seen is None else seen
    if depth > 8 or id(obj) in seen:
        return
    if isinstance(obj, (str, bytes, type(None), type)) or callable(obj):
        return
    seen.add(id(obj))
    if isinstance(obj, (bool, np.bool_)):
        return
    if isinstance(obj, (int, float, complex, np.number)):
        yield path, np.asarray(obj)
        return
    if isinstance(obj, np.ndarray):
        if obj.dtype.kind in "fciu":
            yield path, obj
        elif obj.dtype == object:
            for k, v in enumerate(obj.ravel()):
                yield from _walk_numbers(v, f"{path}.flat[{k}]", seen, depth + 1)
        return
    if isinstance(obj, dict):
        for k, v in obj.items():
            yield from _walk_numbers(v, f"{path}[{k!r}]", seen, depth + 1)
        return
    if isinstance(obj, (list, tuple)):
        for k, v in enumerate(obj):
            yield from _walk_numbers(v, f"{path}[{k}]", seen, depth + 1)
        return
    if dataclasses.is_dataclass(obj):
        for f in dataclasses.fields(obj):
            yield from _walk_numbers(getattr(obj, f.name), f"{path}.{f.name}", seen, depth + 1)
        return
    if isinstance(obj, fm.Evaluation):
        for name in ("values", "local_qs", "visitation", "potential_values",
                     "value_at_initial", "local_advantages", "q", "residual"):
            yield from _walk_numbers(getattr(obj, name), f"{path}.{name}", seen, depth + 1)
        return
    if isinstance(obj, fm.ProductPolicy):
        yield path + ".probs", obj.probs
        return
    if isinstance(obj, fm.Game):
        for name in ("transition", "rewards", "initial", "potential", "gamma", "_L"):
            if hasattr(obj, name):
                yield from _walk_numbers(getattr(obj, name), f"{path}.{name}", seen, depth + 1)
        return
    names = list(getattr(obj, "__slots__", ())) + list(getattr(obj, "__dict__", {}))
    for name in names:
        yield from _walk_numbers(getattr(obj, name, None), f"{path}.{name}", seen, depth + 1)


def assert_finite(result):
    for path, arr in _walk_numbers(result):
        assert np.all(np.isfinite(arr)), f"{path} is not finite: {arr}"


def _names_one_of(message: str, names) -> bool:
    return any(re.search(rf"(?<![A-Za-z0-9_]){re.escape(n)}(?![A-Za-z0-9_])", message)
               for n in names)


def check_call(fn, kwargs: dict, fuzzed, *, also=(), refusals=()):
    """Call ``fn(**kwargs)`` and check the property; ``fuzzed`` are the replaced names
    (an error must name one of them, or one of ``also``). ``refusals``: regexes of the
    documented ``ValueError`` s that valid arguments may meet (e.g. an infinite
    divergence); such an error must still name one of ``also``."""
    note(f"call {getattr(fn, '__qualname__', fn)} with {sorted(fuzzed)} replaced")
    for k, v in kwargs.items():
        note(f"  {k} = {v!r}"[:400])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", UserWarning)   # notes such as "no potential"
        with np.errstate(divide="warn", over="warn", invalid="warn", under="ignore"):
            try:
                with time_limit(HANG_SECONDS):
                    out = fn(**kwargs)
                    assert_finite(out)
            except (ValueError, TypeError) as exc:
                msg = str(exc)
                if not fuzzed and not (any(re.search(r, msg) for r in refusals)
                                       and _names_one_of(msg, also)):
                    raise AssertionError(f"valid arguments were refused: {exc!r}") from exc
                assert _names_one_of(msg, tuple(fuzzed) + tuple(also)), (
                    f"{type(exc).__name__} does not name the argument {sorted(fuzzed)}: "
                    f"{msg!r}")
                return exc
    return out


def fuzz(data, fn, spec: dict, *, game=None, also=(), refusals=(), max_fuzzed=2,
         fixed=None):
    """Replace 0..``max_fuzzed`` of the arguments in ``spec`` (name -> (valid, kind)) by
    junk and check the call."""
    names = list(spec)
    fuzzed = data.draw(st.lists(st.sampled_from(names), max_size=max_fuzzed, unique=True)
                       if names else st.just([]), label="fuzzed")
    kwargs = dict(fixed or {})
    for name, (valid, kind) in spec.items():
        kwargs[name] = (data.draw(junk_for(kind, valid, game), label=name) if name in fuzzed
                        else valid)
    return check_call(fn, kwargs, fuzzed, also=also, refusals=refusals)


# --------------------------------------------------------------------------- targets
TARGETS = {}


def target(fn):
    TARGETS[fn.__name__] = fn
    return fn


@target
def markov_game(data):
    g = data.draw(games(dense=True))
    spec = dict(transition=(np.array(g.transition), "array"),
                rewards=(np.array(g.rewards), "array"), gamma=(g.gamma, "scalar"),
                initial=(np.array(g.initial), "array"), action_sizes=(g.action_sizes, "sizes"),
                potential=(None if g.potential is None else np.array(g.potential), "array"))
    fuzz(data, fm.MarkovGame, spec, also=("P",))


@target
def factored_game(data):
    g = data.draw(games(kinds=("factored", "factored_joint")))
    spec = dict(local_transitions=(g._local_forms(), "array_list"),
                rewards=(np.array(g.rewards), "array"), gamma=(g.gamma, "scalar"),
                initial=(np.array(g.initial), "array"),
                potential=(np.array(g.rewards[0]), "array"),
                dense_states=(data.draw(st.sampled_from([0, 1, 2048])), "count"))
    fuzz(data, fm.FactoredGame, spec)


@target
def product_policy(data):
    g = data.draw(games())
    p = data.draw(policies(g))
    fuzz(data, fm.ProductPolicy, dict(game=(g, "game"), probs=(np.array(p.probs), "array")))


@target
def policy_constructors(data):
    g = data.draw(games())
    rng = np.random.default_rng(data.draw(seeds))
    acts = np.stack([rng.integers(0, n, g.n_states) for n in g.action_sizes])
    joint = rng.integers(0, g.n_joint_actions, g.n_states)
    which = data.draw(st.sampled_from(["uniform", "from_logits", "deterministic",
                                       "from_joint_actions"]))
    spec = {"uniform": dict(game=(g, "game")),
            "from_logits": dict(game=(g, "game"), theta=(logits(g, 1) * 3, "array")),
            "deterministic": dict(game=(g, "game"), actions=(acts, "array")),
            "from_joint_actions": dict(game=(g, "game"), joint=(joint, "array"))}[which]
    fuzz(data, getattr(fm.ProductPolicy, which), spec)


@target
def policy_methods(data):
    g = data.draw(games())
    p = data.draw(policies(g))
    q = data.draw(policies(g))
    agent = data.draw(st.integers(0, g.n_agents - 1))
    if data.draw(st.booleans()):
        row = np.array(q.probs[agent, :, : g.action_sizes[agent]])
        fuzz(data, p.replace, dict(agent=(agent, "count"), row=(row, "array")))
    else:
        fuzz(data, p.mix, dict(other=(q, "policy"), agents=([agent], "agents")), game=g)


@target
def evaluate(data):
    g = data.draw(games())
    p = data.draw(policies(g))
    ev = fuzz(data, fm.evaluate, dict(game=(g, "game"), policy=(p, "policy")), game=g)
    if isinstance(ev, fm.Evaluation):
        agent = data.draw(st.one_of(st.integers(0, g.n_agents - 1), count_junk), label="agent")
        valid = isinstance(agent, int) and not isinstance(agent, bool) and 0 <= agent < g.n_agents
        method = data.draw(st.sampled_from([ev.local_q, ev.local_advantage]))
        check_call(method, dict(agent=agent), () if valid else ("agent",))


@target
def best_response(data):
    g = data.draw(games())
    p = data.draw(policies(g))
    agent = data.draw(st.integers(0, g.n_agents - 1))
    init = np.zeros(g.n_states, dtype=np.int64)
    fuzz(data, fm.best_response, dict(game=(g, "game"), policy=(p, "policy"),
                                      agent=(agent, "count"), init=(init, "array"),
                                      tol=(1e-12, "scalar")), game=g)


@target
def nash_gap(data):
    g = data.draw(games())
    p = data.draw(policies(g))
    ev = fm.evaluate(g, p)
    fuzz(data, fm.nash_gap, dict(game=(g, "game"), policy=(p, "policy"),
                                 per_agent=(data.draw(st.booleans()), "scalar"),
                                 evaluation=(ev, "policy")), game=g)


@target
def social_optimum_and_poa(data):
    g = data.draw(games())
    p = data.draw(policies(g))
    if data.draw(st.booleans()):
        fuzz(data, fm.social_optimum, dict(game=(g, "game")))
    elif fm.social_optimum(g).value > 0:
        fuzz(data, fm.price_of_anarchy, dict(game=(g, "game"), policy=(p, "policy"),
                                             evaluation=(fm.evaluate(g, p), "policy")),
             game=g)
    else:   # the ratio has no meaning: a ValueError naming the game
        with pytest.raises(ValueError, match="game has social optimum"):
            fm.price_of_anarchy(g, p)


@target
def solve_mdp(data):
    g = data.draw(games(dense=True))
    p = data.draw(policies(g))
    P, r = g.agent_mdp(p, 0)
    fuzz(data, fm.solve_mdp, dict(P=(P, "array"), r=(r, "array"), gamma=(g.gamma, "scalar"),
                                  init=(np.zeros(g.n_states, dtype=np.int64), "array"),
                                  max_iter=(50, "iters"), tol=(1e-12, "scalar")))


@target
def coordination(data):
    fuzz(data, fm.games.coordination, dict(
        n_agents=(data.draw(st.integers(1, 3)), "count"), eps=(0.1, "scalar"),
        gamma=(0.95, "scalar"),
        representation=(data.draw(st.sampled_from(["auto", "dense", "factored"])),
                        ("choice", ("auto", "dense", "factored")))))


@target
def coordination_reward(data):
    n = data.draw(st.integers(1, 6))
    fuzz(data, fm.games.coordination_reward, dict(
        counts_zero=(data.draw(st.integers(0, n)), "count"), n_agents=(n, "count")))


@target
def commons(data):
    fuzz(data, fm.games.commons, dict(
        n_agents=(data.draw(st.integers(1, 3)), "count"),
        yields=(np.array([1.0, 0.6, 0.2, 0.0]), "array"), dirt=(0.6, "scalar"),
        gamma=(0.9, "scalar"), start=(data.draw(st.integers(0, 3)), "count")))


@target
def iterated_prisoners_dilemma(data):
    fuzz(data, fm.games.iterated_prisoners_dilemma, dict(
        gamma=(0.9, "scalar"), payoffs=(np.array([3.0, 0.0, 5.0, 1.0]), "array")))


@target
def public_goods(data):
    fuzz(data, fm.games.public_goods, dict(
        n_agents=(data.draw(st.integers(1, 3)), "count"), levels=(3, "count"),
        gamma=(0.9, "scalar"), multiplier=(1.5, "scalar"), cost=(1.0, "scalar")))


@target
def cooperative_predation(data):
    fuzz(data, fm.games.cooperative_predation, dict(
        positions=(data.draw(st.integers(2, 4)), "count"), gamma=(0.9, "scalar")))


@target
def exchange(data):
    fuzz(data, fm.games.exchange, dict(
        grid=((1, 3), "sizes"), n_agents=(data.draw(st.integers(2, 3)), "count"),
        horizon=(data.draw(st.sampled_from([None, 2])), "count"),
        gamma=(0.9, "scalar"), step_cost=(0.01, "scalar"), open_cost=(5.0, "scalar"),
        food=(10.0, "scalar"),
        reach=("cell", ("choice", ("cell", "adjacent"))),
        openers=("others", ("choice", ("others", "cyclic")))))


@target
def solve_exchange(data):
    g = fm.games.exchange((1, 3), data.draw(st.integers(2, 3)),
                          horizon=data.draw(st.sampled_from([None, 2])), gamma=0.9)
    fuzz(data, fm.games.solve_exchange, dict(
        game=(g, "game"), kind=("social", ("choice", ("social", "selfish"))),
        max_rounds=(5, "iters")))


@target
def matrix_game(data):
    g = data.draw(games(kinds=("matrix",)))
    pay = g.rewards[0, 0].reshape(g.action_sizes)
    per_agent = data.draw(st.booleans())
    if per_agent:
        pay = np.stack([pay] * g.n_agents)
    fuzz(data, fm.games.matrix_game, dict(payoffs=(pay, "array"), gamma=(g.gamma, "scalar"),
                                          per_agent=(per_agent, "scalar")))


@target
def random_game(data):
    n = data.draw(st.integers(1, 3))
    fuzz(data, fm.games.random_game, dict(
        n_states=(data.draw(st.integers(1, 4)), "count"),
        action_sizes=(tuple(data.draw(st.lists(st.integers(1, 3), min_size=n, max_size=n))),
                      "sizes"),
        gamma=(0.9, "scalar"), rng=(data.draw(seeds), "rng"),
        kind=(data.draw(st.sampled_from(fm.games.GAME_KINDS)), ("choice", fm.games.GAME_KINDS)),
        sparsity=(data.draw(st.sampled_from([0.0, 0.5])), "scalar")))


@target
def random_factored_game(data):
    n = data.draw(st.integers(1, 3))
    sizes = st.lists(st.integers(1, 2), min_size=n, max_size=n).map(tuple)
    fuzz(data, fm.games.random_factored_game, dict(
        local_sizes=(data.draw(sizes), "sizes"), action_sizes=(data.draw(sizes), "sizes"),
        gamma=(0.9, "scalar"), rng=(data.draw(seeds), "rng"),
        dependence=("global", ("choice", ("global", "local", "action"))),
        joint_rewards=(data.draw(st.booleans()), "scalar")))


@target
def marginalize(data):
    g = data.draw(games(dense=True))
    p = data.draw(policies(g))
    keep = data.draw(st.lists(st.integers(0, g.n_agents - 1), unique=True))
    fuzz(data, fm.marginals.marginalize, dict(
        table=(np.array(g.rewards), "array"), probs=(np.array(p.probs), "array"),
        action_sizes=(g.action_sizes, "sizes"), keep=(keep, "agents")))


@target
def multi_agent_marginals(data):
    g = data.draw(games())
    p = data.draw(policies(g))
    V = fm.evaluate(g, p).values
    agents = data.draw(st.lists(st.integers(0, g.n_agents - 1), unique=True))
    which = data.draw(st.sampled_from(["q", "advantage", "local_q"]))
    if which == "q":
        fuzz(data, fm.marginals.multi_agent_q, dict(
            game=(g, "game"), policy=(p, "policy"), agents=(agents, "agents"),
            values=(V, "array")), game=g)
    elif which == "advantage":
        given_ = [j for j in range(g.n_agents) if j not in agents][:1]
        fuzz(data, fm.marginals.multi_agent_advantage, dict(
            game=(g, "game"), policy=(p, "policy"), agents=(agents, "agents"),
            given=(given_, "agents"), values=(V, "array")), game=g)
    else:
        fuzz(data, fm.marginals.local_q, dict(game=(g, "game"), policy=(p, "policy"),
                                              values=(V, "array")), game=g)


@target
def game_methods(data):
    g = data.draw(games())
    p = data.draw(policies(g))
    V = fm.evaluate(g, p).values
    agent = data.draw(st.integers(0, g.n_agents - 1))
    keep = tuple(data.draw(st.lists(st.integers(0, g.n_agents - 1), unique=True)))
    which = data.draw(st.sampled_from(["agent_mdp", "continuation", "reward_marginal",
                                       "step", "with_rewards", "policy_transition",
                                       "policy_rewards", "joint_continuation", "local_q"]))
    rng = np.random.default_rng(0)
    B = data.draw(st.integers(1, 3))
    states = rng.integers(0, g.n_states, B)
    actions = np.stack([rng.integers(0, n, B) for n in g.action_sizes], axis=1)
    spec = {
        "agent_mdp": dict(policy=(p, "policy"), agent=(agent, "count"),
                          reward=(None, "array")),
        "continuation": dict(values=(V, "array"), policy=(p, "policy"), keep=(keep, "agents")),
        "reward_marginal": dict(policy=(p, "policy"), keep=(keep, "agents")),
        "step": dict(states=(states, "array"), actions=(actions, "array"), rng=(rng, "rng")),
        "with_rewards": dict(rewards=(np.array(g.rewards), "array"), potential=(None, "array")),
        "policy_transition": dict(policy=(p, "policy")),
        "policy_rewards": dict(policy=(p, "policy")),
        "joint_continuation": dict(values=(V, "array")),
        "local_q": dict(values=(V, "array"), policy=(p, "policy")),
    }[which]
    fuzz(data, getattr(g, which), spec, game=g)


def _logit_dynamic(data, fn, extra=None):
    g = data.draw(games())
    theta = logits(g, data.draw(seeds))
    if fn is not fm.dynamics.npg_best_response and data.draw(st.booleans()):
        theta = np.stack([theta, -theta])          # a batch of two runs
    spec = dict(game=(g, "game"), theta0=(theta, "array"),
                lr=(data.draw(st.sampled_from([0.1, 1.0])), "scalar"), iters=(2, "iters"),
                log_barrier=(data.draw(st.sampled_from([0.0, 0.1])), "scalar"))
    spec.update(extra or {})
    # a step of lr * |advantage| beyond float64 (rewards near 1e150) is refused, naming lr
    fuzz(data, fn, spec, game=g, fixed=dict(metrics=("nash_gap",)), also=("lr",),
         refusals=("non-finite logits",))


@target
def softmax_pg(data):
    _logit_dynamic(data, fm.dynamics.softmax_pg)


@target
def npg(data):
    _logit_dynamic(data, fm.dynamics.npg)


@target
def npg_best_response(data):
    _logit_dynamic(data, fm.dynamics.npg_best_response, dict(inner_steps=(2, "iters")))


DIVS = ("kl", "tv", "chi2", "hellinger", "reverse_kl")


@target
def fdiv_dynamics(data):
    g = data.draw(games())
    p = data.draw(policies(g))
    which = data.draw(st.sampled_from(["fdiv", "tvpo", "unary", "practical"]))
    base = dict(game=(g, "game"), pol0=(p, "policy"), iters=(2, "iters"))
    if which == "fdiv":
        spec = dict(base, divergence=(data.draw(st.sampled_from(DIVS)), ("choice", DIVS)),
                    omega=(data.draw(st.sampled_from([0.1, 1.0, 10.0])), "scalar"))
        fn = fm.dynamics.fdiv_iteration
    elif which == "tvpo":
        spec = dict(base, omega=(data.draw(st.sampled_from([None, 0.0, 1.0])), "scalar"))
        fn = fm.dynamics.tvpo
    elif which == "unary":
        spec = dict(base, regularizer=(data.draw(st.sampled_from(["entropy", "tsallis"])),
                                       ("choice", ("entropy", "tsallis"))),
                    omega=(data.draw(st.sampled_from([0.1, 1.0])), "scalar"))
        fn = fm.dynamics.unary_iteration
    else:
        spec = dict(base, beta0=(0.01, "scalar"), d_target=(0.001, "scalar"),
                    delta=(1.5, "scalar"), alpha=(2.0, "scalar"),
                    divergence=("tv", ("choice", ("tv", "hellinger"))))
        fn = fm.dynamics.practical_tvpo
    fuzz(data, fn, spec, game=g, fixed=dict(metrics=("nash_gap",)))


@target
def decentralized(data):
    g = data.draw(shared_games())
    pi = data.draw(policies(g))
    rho = fm.ProductPolicy.from_logits(g, logits(g, data.draw(seeds)))
    which = data.draw(st.sampled_from(["value", "q", "critic", "omega", "bound"]))
    if which in ("value", "q"):
        fn = fdyn.decentralized_value if which == "value" else fdyn.decentralized_q
        spec = dict(game=(g, "game"), pi=(pi, "policy"), rho=(rho, "policy"),
                    divergence=(data.draw(st.sampled_from(DIVS)), ("choice", DIVS)),
                    omega=(data.draw(st.sampled_from([0.0, 0.5])), "scalar"),
                    penalty=("paper", ("choice", ("paper", "averaged"))))
        # pi puts mass where rho has none: D_f is infinite (a clear ValueError naming pi)
        fuzz(data, fn, spec, game=g, also=("pi", "rho"), refusals=("is infinite in state",))
    elif which == "critic":
        fuzz(data, fdyn.decentralized_critic, dict(
            game=(g, "game"), policy=(pi, "policy"),
            agent=(data.draw(st.integers(0, g.n_agents - 1)), "count")), game=g)
    elif which == "omega":
        fuzz(data, fdyn.tvpo_omega, dict(game=(g, "game"),
                                          rule=("paper", ("choice", ("paper", "monotone")))))
    else:
        fuzz(data, fdyn.value_bound, dict(game=(g, "game")))


@target
def alice_bob(data):
    vals = dict(a=(1.0, "scalar"), b=(0.0, "scalar"), c=(0.0, "scalar"), d=(2.0, "scalar"))
    game = fuzz(data, fdyn.alice_bob_game, vals)
    if isinstance(game, fm.Game):
        fuzz(data, fdyn.alice_bob_policy, dict(game=(game, "game"), p=(0.3, "scalar"),
                                               q=(0.6, "scalar")))


FAIRNESS = {
    "equity_report": lambda v: dict(tau=(0.1, "scalar"),
                                    excess=("relative", ("choice", fx.EXCESS_KINDS)),
                                    flag_tol=(0.0, "scalar")),
    "mre": lambda v: dict(tau=(0.1, "scalar"), excess=("absolute", ("choice", fx.EXCESS_KINDS)),
                          normalized=(True, "scalar")),
    "band_excess": lambda v: dict(tau=(0.0, "scalar"),
                                  excess=("relative", ("choice", fx.EXCESS_KINDS))),
    "mre_of_excess": lambda v: {},
    "mre_subgradient": lambda v: dict(tie=(0.0, "scalar")),
    "gini": lambda v: {}, "cv": lambda v: {}, "jain": lambda v: {}, "theil": lambda v: {},
    "atkinson": lambda v: dict(eps=(0.5, "scalar")),
    "alpha_fair_utility": lambda v: dict(alpha=(2.0, "scalar"), centered=(False, "scalar")),
    "alpha_fair_welfare": lambda v: dict(alpha=(1.0, "scalar"), centered=(True, "scalar")),
    "equally_distributed_equivalent": lambda v: dict(alpha=(0.5, "scalar")),
}


@target
def fairness(data):
    name = data.draw(st.sampled_from(sorted(FAIRNESS)))
    shape = data.draw(st.sampled_from([(3,), (1,), (2, 3)]))
    x = np.random.default_rng(data.draw(seeds)).uniform(0.5, 2.0, shape)
    first = "e" if name in ("mre_of_excess", "mre_subgradient") else "x"
    spec = {first: (x, "array")}
    spec.update(FAIRNESS[name](x))
    fuzz(data, getattr(fx, name), spec)


@target
def fair_objective(data):
    g = data.draw(games(kinds=("random", "potential", "identical", "coordination",
                               "factored", "factored_joint")))     # rewards in [0, 3]
    p = data.draw(policies(g))
    fuzz(data, fx.fair_objective, dict(
        game=(g, "game"), policy=(p, "policy"),
        alpha=(data.draw(st.sampled_from([0.0, 0.5, 1.0, 2.0, np.inf])), "scalar"),
        nu=(data.draw(st.sampled_from([0.5, 1.0])), "scalar"),
        form=(data.draw(st.sampled_from(["utility", "mean"])), ("choice", ("utility", "mean"))),
        per_initial=(data.draw(st.booleans()), "scalar"),
        evaluation=(fm.evaluate(g, p), "policy")), game=g)


# ------------------------------------------------------------- pinned cases (issue 10)
def test_decentralized_value_names_pi_and_rho():
    """Issue 10: a ``rho`` from another game gave a raw numpy error naming no argument; an
    infinite divergence now says which agent, state and tables."""
    g = fm.games.coordination(2)
    pi = fm.ProductPolicy.uniform(g)
    other = fm.ProductPolicy.uniform(fm.games.coordination(3))
    with pytest.raises(ValueError, match=r"rho has shape \(3, 8, 2\) and action sizes "
                                         r"\(2, 2, 2\), which do not fit"):
        fdyn.decentralized_value(g, pi, other, "kl", 1.0)
    with pytest.raises(ValueError, match=r"pi has shape"):
        fdyn.decentralized_q(g, other, pi, "kl", 1.0)
    det = fm.ProductPolicy.deterministic(g, np.zeros((2, 4), int))
    with pytest.raises(ValueError, match=r"pi and rho: D_kl\(pi\^0 \|\| rho\^0\) is "
                                         r"infinite in state 0"):
        fdyn.decentralized_value(g, pi, det, "kl", 1.0)
    with pytest.raises(ValueError, match="penalty must be one of"):
        fdyn.decentralized_value(g, pi, pi, "kl", 1.0, penalty=None)


def test_fdiv_helpers_refuse_non_games_and_name_scalars():
    """tvpo_omega, value_bound, decentralized_critic and alice_bob_policy raised
    AttributeError on a non-game; alice_bob_game(a=1e151) blamed ``payoffs``, a complex
    ``b`` or ``p`` gave a raw float()/comparison error."""
    g = fm.games.coordination(2)
    for call in (lambda: fdyn.tvpo_omega("g"), lambda: fdyn.value_bound(fm.games),
                 lambda: fdyn.decentralized_critic(None, fm.ProductPolicy.uniform(g), 0),
                 lambda: fdyn.alice_bob_policy(fm.ProductPolicy.uniform(g), 0.5, 0.5),
                 lambda: fm.dynamics.fdiv_iteration(3, fm.ProductPolicy.uniform(g))):
        with pytest.raises(TypeError, match="game must be a fairmg Game"):
            call()
    with pytest.raises(ValueError, match=r"a is 1e\+151, expected \|a\| <= 1e\+150"):
        fdyn.alice_bob_game(1e151, 0, 0, 1)
    with pytest.raises(TypeError, match="b must be a float"):
        fdyn.alice_bob_game(1, 1j, 0, 1)
    game = fdyn.alice_bob_game(1, 0, 0, 2)
    with pytest.raises(TypeError, match="p must be a float"):
        fdyn.alice_bob_policy(game, 0.5j, 0.5)
    with pytest.raises(ValueError, match=r"q is 1.5, expected a finite number >= 0 and <= 1"):
        fdyn.alice_bob_policy(game, 0.5, 1.5)
    with pytest.raises(ValueError, match="pol0 has shape"):
        fm.dynamics.tvpo(g, fm.ProductPolicy.uniform(fm.games.coordination(3)))


def test_marginalize_checks_its_arrays():
    """marginalize trusted its arguments: an inf table gave inf, a string table a raw
    float() error, a probs list "list indices must be integers", keep=True "'bool' object
    is not iterable", probs rows that were no distributions a silently wrong average."""
    g = fm.games.random_game(2, (2, 3), 0.9, rng=0)
    p = fm.ProductPolicy.uniform(g).probs
    T = np.array(g.rewards)
    marg = fm.marginals.marginalize
    np.testing.assert_allclose(marg(T, p, (2, 3), (1,)), T.reshape(2, 2, 2, 3).mean(axis=2))
    bad = T.copy()
    bad[1, 0, 4] = np.inf
    cases = [(lambda: marg(bad, p, (2, 3)), ValueError, r"table\[1, 0, 4\] is inf"),
             (lambda: marg(T.astype(str), p, (2, 3)), TypeError, "table must be a numeric"),
             (lambda: marg(T, p.tolist()[:1], (2, 3)), ValueError, r"probs must have shape "
                                                                   r"\(2, 2, A_max >= 3\)"),
             (lambda: marg(T, 2 * p, (2, 3)), ValueError, r"probs\[0, 0, :\] sums to 2"),
             (lambda: marg(T, p, (2, 3), True), TypeError, "keep must be a sequence"),
             (lambda: marg(T, p, (2, 3), (0, 0)), ValueError, "keep has repeated agents"),
             (lambda: marg(T, p, (2, 3), (2,)), ValueError, r"keep\[0\] \(an agent of "
                                                            r"action_sizes \(2, 3\)\)"),
             (lambda: marg(T, p, (2, 10**30)), ValueError, r"action_sizes \(2, "),
             (lambda: marg(T[0, 0], p, (2, 3)), ValueError, r"table must have shape "
                                                            r"\(\.\.\., S, A\)")]
    for call, exc, match in cases:
        with pytest.raises(exc, match=match):
            call()


def test_multi_agent_marginals_name_agents_and_given():
    """Errors in ``agents`` / ``given`` said "keep[...]" or "agent"."""
    g = fm.games.random_game(2, (2, 2), 0.9, rng=0)
    u = fm.ProductPolicy.uniform(g)
    with pytest.raises(ValueError, match=r"agents\[0\] must be an int in \[0, 1\], got 2"):
        fm.marginals.multi_agent_q(g, u, (2,))
    with pytest.raises(TypeError, match=r"given\[0\] must be an int"):
        fm.marginals.multi_agent_advantage(g, u, (0,), given=("1",))
    with pytest.raises(TypeError, match="game must be a fairmg Game"):
        fm.marginals.local_q(u, u, np.zeros((2, 2)))
    with pytest.raises(ValueError, match=r"values must have one row per agent \(2\)"):
        fm.marginals.local_q(g, u, np.zeros((1, 2)))


def test_every_public_function_is_fuzzed():
    """The fuzz covers ``fairmg.__all__``'s callables and every game generator."""
    covered = {"MarkovGame", "FactoredGame", "ProductPolicy", "evaluate", "best_response",
               "nash_gap", "social_optimum", "price_of_anarchy", "solve_mdp"}
    callables = {n for n in fm.__all__ if callable(getattr(fm, n))
                 and n not in ("Game", "Evaluation", "MDPSolution", "BestResponse",
                               "SocialOptimum")}
    assert callables <= covered, callables - covered
    gens = {n for n in fm.games.__all__ if callable(getattr(fm.games, n))} - {
        "Game", "MarkovGame", "FactoredGame", "ExchangeGame"}
    assert gens <= set(TARGETS), gens - set(TARGETS)
    assert set(fx.__all__) - {"EquityReport", "EXCESS_KINDS"} <= set(FAIRNESS) | set(TARGETS)


@pytest.mark.parametrize("name", sorted(TARGETS))
@given(data=st.data())
def test_fuzz_public_api(name, data):
    TARGETS[name](data)
