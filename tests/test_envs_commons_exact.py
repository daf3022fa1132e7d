"""The exact game of tiny Harvest/CleanUp grids (fairmg.envs.commons_exact) against the env.

The deterministic part of a step is the env's own code; these tests check the part the
enumeration adds (move orders, teleports, regrowth, waste, the reset distribution) against
sampled env steps, every frequency within K = 5 standard errors with fixed seeds, supports
exactly; and a few transitions worked out by hand.
"""
import numpy as np
import pytest

import fairmg as fm
from fairmg.envs.commons_exact import commons_game, encode_states
from fairmg.envs.commons_grid import GridState

K = 5.0          # standard errors
N_SAMPLES = 20000

# view=0: the observations play no part in the game, and small windows keep steps cheap
HARVEST = dict(name="harvest", preset="tiny", height=3, width=5, view=0,
               regrowth=(0.3, 0.5, 0.6, 0.7))
HARVEST_TELEPORT = dict(name="harvest", preset="alpha_fair", height=3, width=6, n_agents=2,
                        view=0, regrowth=(0.3, 0.5, 0.6, 0.7))
CLEANUP = dict(name="cleanup", preset="tiny", height=4, width=7, n_agents=1, view=0,
               apple_prob=0.4, waste_prob=0.3, depletion=0.75)


@pytest.fixture(scope="module", params=[HARVEST, HARVEST_TELEPORT, CLEANUP],
                ids=["harvest", "harvest-teleport", "cleanup"])
def exact(request):
    env = fm.envs.make(**request.param)
    return commons_game(env, gamma=0.8)


def _batch(env, state_codes, cg, seed):
    """An env of len(state_codes) copies set to those game states, with fresh keys."""
    st = cg.states()
    k = np.searchsorted(cg.codes, state_codes)
    B = k.size
    big = fm.envs.make(env.name, n_envs=B, preset=env.preset, **_overrides(env))
    keys = fm.envs.env_keys(seed, B)
    t = np.random.default_rng(seed).integers(0, 10**6, B)
    return big, GridState(st.pos[k], st.ori[k], st.apples[k], st.waste[k], t, keys)


def _overrides(env):
    out = dict(height=env.height, width=env.width, n_agents=env.n_agents,
               regrowth=env.regrowth, view=env.view)
    if env.kind == "cleanup":
        out.update(apple_prob=env.apple_prob, waste_prob=env.waste_prob,
                   depletion=env.depletion)
    return out


def _within(freq, p, n):
    se = np.sqrt(p * (1 - p) / n)
    return np.all(np.abs(freq - p) <= K * se + 1e-12) and np.all(freq[p == 0] == 0)


def test_transitions_match_sampled_env_steps(exact):
    cg, env, game = exact, exact.env, exact.game
    rng = np.random.default_rng(1)
    S, A = game.n_states, game.n_joint_actions
    cand = np.stack([rng.integers(0, S, 400), rng.integers(0, A, 400)], axis=1)
    support = (game.transition[cand[:, 0], cand[:, 1]] > 0).sum(axis=1)
    # the 10 pairs with the most successors (orders x teleports x regrowth) and 10 at random
    pairs = [tuple(map(int, p)) for p in cand[np.argsort(-support, kind="stable")[:10]]]
    pairs += [tuple(map(int, p)) for p in cand[rng.choice(400, 10, replace=False)]]
    joint = np.stack(np.unravel_index(np.arange(A), env.action_sizes), axis=1)
    hits = 0
    for j, (s, a) in enumerate(pairs):
        big, state = _batch(env, np.full(N_SAMPLES, cg.codes[s]), cg, seed=100 + j)
        res = big.step(state, np.tile(joint[a], (N_SAMPLES, 1)))
        nxt = cg.indices(res.state)
        freq = np.bincount(nxt, minlength=S) / N_SAMPLES
        assert _within(freq, game.transition[s, a], N_SAMPLES), (s, a)
        r = np.asarray(res.rewards)
        se = r.std(axis=0) / np.sqrt(N_SAMPLES)
        assert np.all(np.abs(r.mean(axis=0) - game.rewards[:, s, a]) <= K * se + 1e-12)
        hits += int((game.transition[s, a] > 0).sum() > 1)
    assert hits >= 3                       # the pairs do exercise random transitions


def test_reset_distribution_matches_env_resets(exact):
    cg, env = exact, exact.env
    big = fm.envs.make(env.name, n_envs=20000, preset=env.preset, **_overrides(env))
    _, state = big.reset(seed=7)
    freq = np.bincount(cg.indices(state), minlength=cg.game.n_states) / 20000
    assert _within(freq, cg.game.initial, 20000)


def test_discounted_return_of_env_matches_exact_value(exact):
    """Uniform random play: the env's discounted return against the exact value mu . V of
    the uniform policy (truncation at T = 70 moves it by at most 50 * 0.8^70 / 0.2 < 4e-5)."""
    cg, env, game = exact, exact.env, exact.game
    B, T = 2000, 70
    big = fm.envs.make(env.name, n_envs=B, preset=env.preset, **_overrides(env))
    _, state = big.reset(seed=11)
    rng = np.random.default_rng(11)
    ret = np.zeros((B, env.n_agents))
    for t in range(T):
        a = rng.integers(0, env.action_sizes[0], size=(B, env.n_agents))
        res = big.step(state, a)
        ret += 0.8 ** t * np.asarray(res.rewards)
        state = res.state
    value = fm.evaluate(game, fm.ProductPolicy.uniform(game)).value_at_initial
    se = ret.std(axis=0) / np.sqrt(B)
    assert np.all(np.abs(ret.mean(axis=0) - value) <= K * se), (ret.mean(0), value, se)


def _code(env, pos, ori, apples=(), waste=()):
    H, W = env.height, env.width
    a = np.zeros((1, H, W), bool)
    w = np.zeros((1, H, W), bool)
    for rc in apples:
        a[(0,) + rc] = True
    for rc in waste:
        w[(0,) + rc] = True
    return encode_states(env, GridState(np.array([pos]), np.array([ori]), a, w,
                                        np.zeros(1, np.int64), np.zeros(1, np.uint64)))[0]


def test_hand_worked_harvest_transitions():
    """The 1 x 3 corridor, apple cell (1, 2) in the middle, regrowth 0.3 with no apple
    neighbour. Derived by hand from the rules, not from the code."""
    env = fm.envs.make(**HARVEST)
    cg = commons_game(env, gamma=0.8)
    g = cg.game
    ix = {c: k for k, c in enumerate(cg.codes.tolist())}
    act = lambda a0, a1: int(np.ravel_multi_index((a0, a1), env.action_sizes))  # noqa: E731
    # agent 0 at (1,1) facing right steps onto the apple; agent 1 at (1,3) stays
    s = ix[_code(env, [(1, 1), (1, 3)], [1, 0], apples=[(1, 2)])]
    s2 = ix[_code(env, [(1, 2), (1, 3)], [1, 0])]
    assert g.transition[s, act(0, 4), s2] == 1.0          # occupied: the apple cannot regrow
    np.testing.assert_array_equal(g.rewards[:, s, act(0, 4)], [1.0, 0.0])
    # both step towards the apple: whoever moves first takes it (order 1/2 each)
    s = ix[_code(env, [(1, 1), (1, 3)], [1, 3], apples=[(1, 2)])]
    first0 = ix[_code(env, [(1, 2), (1, 3)], [1, 3])]
    first1 = ix[_code(env, [(1, 1), (1, 2)], [1, 3])]
    np.testing.assert_array_equal(g.transition[s, act(0, 0), [first0, first1]], [0.5, 0.5])
    np.testing.assert_array_equal(g.rewards[:, s, act(0, 0)], [0.5, 0.5])
    # agent 1 zaps agent 0 across the empty apple cell: the apple regrows w.p. 0.3
    s = ix[_code(env, [(1, 1), (1, 3)], [0, 3])]
    grown = ix[_code(env, [(1, 1), (1, 3)], [0, 3], apples=[(1, 2)])]
    np.testing.assert_allclose(g.transition[s, act(4, 7), [grown, s]], [0.3, 0.7], atol=1e-15)
    np.testing.assert_array_equal(g.rewards[:, s, act(4, 7)], [-50.0, -1.0])


def test_hand_worked_teleport():
    """alpha_fair: a zapped agent moves to a free spawn cell, each with probability 1/F
    (SSD's regrowth: the lone apple cell has no neighbour and cannot regrow)."""
    env = fm.envs.make(**{**HARVEST_TELEPORT, "regrowth": (0.0, 0.005, 0.02, 0.05)})
    cg = commons_game(env, gamma=0.8)
    ix = {c: k for k, c in enumerate(cg.codes.tolist())}
    spawn = [tuple(rc) for rc in np.argwhere(env.spawn_cells)]
    s = ix[_code(env, [(1, 1), (1, 4)], [0, 3])]
    a = int(np.ravel_multi_index((4, 7), env.action_sizes))
    free = [c for c in spawn if c not in [(1, 1), (1, 4)]]
    assert len(free) >= 1
    dest = [ix[_code(env, [c, (1, 4)], [0, 3])] for c in free]
    row = cg.game.transition[s, a]
    np.testing.assert_allclose(row[dest], 1.0 / len(free), atol=1e-15)
    np.testing.assert_allclose(row[dest].sum(), 1.0, atol=1e-14)
    np.testing.assert_array_equal(cg.game.rewards[:, s, a], [0.0, 0.0])
    # agent 0 zaps agent 1 with one free spawn cell: entry 1 does not exist, agent 1 stays
    # (the env once moved it onto agent 0's cell)
    if len(free) == 1:
        a = int(np.ravel_multi_index((7, 4), env.action_sizes))
        s = ix[_code(env, [(1, 1), (1, 4)], [1, 3])]
        assert cg.game.transition[s, a, s] == 1.0
    pos = cg.states().pos
    assert np.all(np.any(pos[:, 0] != pos[:, 1], axis=1))   # never two agents on one cell


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="dirt_delay"):
        commons_game(fm.envs.make("cleanup", preset="alpha_fair", height=4, width=7,
                                  n_agents=1))
    with pytest.raises(ValueError, match="max_states"):
        commons_game(fm.envs.make("harvest", preset="tiny"), max_states=500)
    with pytest.raises(ValueError, match="max_states"):
        commons_game(fm.envs.make(**HARVEST), max_states=0)
    with pytest.raises(TypeError, match="Harvest or CleanUp"):
        commons_game(fm.envs.make("matthew", preset="tiny"))
    with pytest.raises(ValueError, match="gamma"):
        commons_game(fm.envs.make(**HARVEST), gamma=1.5)
    with pytest.raises(ValueError, match="reachable"):
        env = fm.envs.make(**HARVEST)
        cg = commons_game(env)
        bad = GridState(np.array([[(1, 1), (1, 1)]]), np.zeros((1, 2), np.int64),
                        np.zeros((1, 3, 5), bool), np.zeros((1, 3, 5), bool),
                        np.zeros(1, np.int64), np.zeros(1, np.uint64))
        cg.indices(bad)


def test_non_numpy_envs_are_refused():
    xps = pytest.importorskip("array_api_strict")
    with pytest.raises(TypeError, match="NumPy"):
        commons_game(fm.envs.make(**HARVEST, xp=xps))
    with pytest.raises(TypeError, match="NumPy"):
        fm.envs.make("job_scheduling", preset="tiny", xp=xps).to_game()


def test_to_game_is_solvable_by_the_exact_engine():
    env = fm.envs.make(**HARVEST)
    game = env.to_game(gamma=0.8)
    assert isinstance(game, fm.MarkovGame)
    opt = fm.social_optimum(game)
    uniform = fm.evaluate(game, fm.ProductPolicy.uniform(game)).value_at_initial.sum()
    assert opt.value >= uniform - 1e-12
