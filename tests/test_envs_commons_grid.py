"""Harvest and CleanUp (fairmg.envs.commons_grid): rule by rule on hand-built states,
regrowth probabilities statistically (K = 5 standard errors, fixed keys), determinism,
batch = loop of single envs, NumPy = array_api_strict."""
import numpy as np
import pytest

import fairmg as fm
from fairmg.envs import commons_grid as cg
from fairmg.envs.base import env_keys

K = 5


def _state(env, pos, ori, apples=None, waste=None, t=0, seed=0):
    B = env.n_envs
    H, W = env.height, env.width
    pos = np.broadcast_to(np.asarray(pos, np.int64), (B, env.n_agents, 2)).copy()
    ori = np.broadcast_to(np.asarray(ori, np.int64), (B, env.n_agents)).copy()
    apples = np.zeros((B, H, W), bool) if apples is None else np.broadcast_to(apples, (B, H, W)).copy()
    waste = np.zeros((B, H, W), bool) if waste is None else np.broadcast_to(waste, (B, H, W)).copy()
    return cg.GridState(pos, ori, apples, waste, np.full(B, t, np.int64),
                        np.asarray(env_keys(seed, B)))


def _act(env, *acts):
    return np.broadcast_to(np.asarray(acts, np.int64), (env.n_envs, env.n_agents))


def test_beam_hits_the_first_agent_and_stops():
    env = fm.envs.make("harvest", preset="tiny", n_agents=3, width=9)
    s = _state(env, [(2, 1), (2, 3), (2, 4)], [1, 0, 0])          # 0 faces right
    _, _, r, *_ = env.step(s, _act(env, cg.ZAP, cg.STAY, cg.STAY))
    np.testing.assert_array_equal(r[0], [-1.0, -50.0, 0.0])       # SSD: cost 1, penalty 50


def test_beam_stops_at_walls_and_ray_width_is_three():
    env = fm.envs.make("harvest", preset="tiny", n_agents=3, width=9)
    # firer at (1, 2) facing down: rays at columns 1, 2, 3; agent at (3, 3) is on a side ray
    s = _state(env, [(1, 2), (3, 3), (3, 5)], [2, 0, 0])
    _, _, r, *_ = env.step(s, _act(env, cg.ZAP, cg.STAY, cg.STAY))
    np.testing.assert_array_equal(r[0], [-1.0, -50.0, 0.0])
    s = _state(env, [(1, 2), (3, 3), (3, 5)], [0, 0, 0])           # facing the wall
    _, _, r, *_ = env.step(s, _act(env, cg.ZAP, cg.STAY, cg.STAY))
    np.testing.assert_array_equal(r[0], [-1.0, 0.0, 0.0])


def test_eating_moving_into_walls_and_turning():
    env = fm.envs.make("harvest", preset="tiny")
    apples = np.zeros((env.height, env.width), bool)
    apples[2, 2] = True
    s = _state(env, [(1, 2), (4, 1)], [2, 3], apples=apples)        # 0 faces down onto it
    _, s2, r, *_ = env.step(s, _act(env, cg.FORWARD, cg.FORWARD))   # 1 faces the west wall
    np.testing.assert_array_equal(r[0], [1.0, 0.0])
    assert not s2.apples[0, 2, 2]
    np.testing.assert_array_equal(s2.pos[0], [(2, 2), (4, 1)])
    _, s3, *_ = env.step(s2, _act(env, cg.TURN_CW, cg.RIGHT))     # 1 steps right = north
    np.testing.assert_array_equal(s3.ori[0], [3, 3])
    np.testing.assert_array_equal(s3.pos[0], [(2, 2), (3, 1)])


def test_two_agents_never_share_a_cell():
    env = fm.envs.make("harvest", preset="tiny", n_envs=256)
    s = _state(env, [(2, 1), (2, 3)], [1, 3], seed=4)                # both step into (2, 2)
    _, s2, *_ = env.step(s, _act(env, cg.FORWARD, cg.FORWARD))
    moved = (s2.pos[:, :, 1] == 2)
    assert np.all(moved.sum(axis=1) == 1)                           # exactly one wins
    frac = moved[:, 0].mean()                                       # by a fair coin
    assert abs(frac - 0.5) <= K * np.sqrt(0.25 / 256)


@pytest.mark.parametrize("k", [0, 1, 2, 3, 4])
def test_harvest_regrowth_probability_by_neighbours(k):
    env = fm.envs.make("harvest", preset="tiny", n_envs=40000)
    centre = (2, 3)
    arms = [(1, 3), (3, 3), (2, 2), (2, 4)]
    assert all(env.apple_cells[c] for c in arms + [centre])
    apples = np.zeros((env.height, env.width), bool)
    for c in arms[:k]:
        apples[c] = True
    s = _state(env, [(4, 1), (4, 5)], [0, 0], apples=apples, seed=k)
    _, s2, *_ = env.step(s, _act(env, cg.STAY, cg.STAY))
    p = cg.REGROWTH[min(k, 3)]
    freq = s2.apples[:, centre[0], centre[1]].mean()
    assert abs(freq - p) <= K * np.sqrt(max(p * (1 - p), 1e-12) / env.n_envs) + 1e-12, (k, freq)


def test_cleanup_pollution_stops_apples_and_cleaning_removes_waste():
    env = fm.envs.make("cleanup", preset="tiny", n_envs=20000)
    river = env.river_cells
    full = river.copy()                                              # density 1 >= 0.4
    s = _state(env, [(1, 3), (5, 3)], [0, 0], waste=full)
    _, s2, *_ = env.step(s, _act(env, cg.STAY, cg.STAY))
    assert not s2.apples.any()
    clean = np.zeros_like(river)                                     # density 0: p = 0.05
    s = _state(env, [(1, 3), (5, 3)], [0, 0], waste=clean, seed=1)
    _, s2, *_ = env.step(s, _act(env, cg.STAY, cg.STAY))
    cells = env.apple_cells.sum()
    freq = s2.apples.sum(axis=(1, 2)).mean() / cells
    assert abs(freq - 0.05) <= K * np.sqrt(0.05 * 0.95 / (env.n_envs * cells))
    waste_freq = s2.waste.sum(axis=(1, 2)).mean() / river.sum()     # waste_prob 0.5
    assert abs(waste_freq - 0.5) <= K * np.sqrt(0.25 / (env.n_envs * river.sum()))
    # the cleaning beam removes the first waste cell in line, not the one behind it
    env1 = fm.envs.make("cleanup", preset="tiny")
    w = np.zeros_like(river)
    w[3, 1] = True
    s = _state(env1, [(3, 3), (1, 5)], [3, 0], waste=w)             # 0 faces west
    _, s2, r, *_ = env1.step(s, _act(env1, cg.CLEAN, cg.STAY))
    assert not s2.waste[0, 3, 1] and r[0, 0] == 0.0


def test_teleport_preset_moves_the_zapped_agent_to_a_spawn_cell():
    env = fm.envs.make("harvest", preset="alpha_fair", n_agents=2)
    s = _state(env, [(5, 3), (5, 5)], [1, 0])
    _, s2, r, *_ = env.step(s, _act(env, cg.ZAP, cg.STAY))
    np.testing.assert_array_equal(r[0], [0.0, 0.0])
    assert env.spawn_cells[tuple(s2.pos[0, 1])] and tuple(s2.pos[0, 1]) != (5, 5)


def _rollout(env, seed, steps=15):
    obs, s = env.reset(seed)
    rng = np.random.default_rng(3)
    out = [np.asarray(obs)]
    for _ in range(steps):
        a = rng.integers(0, env.action_sizes[0], size=(env.n_envs, env.n_agents))
        obs, s, r, te, tr, _ = env.step(s, a)
        out += [np.asarray(obs), np.asarray(r)]
    return out, s


@pytest.mark.parametrize("name", ["harvest", "cleanup"])
def test_determinism_and_batch_equals_loop(name):
    env = fm.envs.make(name, preset="tiny", n_envs=3)
    a, sa = _rollout(env, 7)
    b, _ = _rollout(env, 7)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    one = fm.envs.make(name, preset="tiny", n_envs=1)
    keys = np.asarray(env_keys(7, 3))
    obs_b, sb = env.reset(7)
    for e in range(3):
        obs1, s1 = one.reset(keys[e:e + 1])
        np.testing.assert_array_equal(obs1[0], obs_b[e])
        rng = np.random.default_rng(e)
        s_all = sb
        for _ in range(10):
            act = rng.integers(0, env.action_sizes[0], size=(3, env.n_agents))
            o_all, s_all, r_all, *_ = env.step(s_all, act)
            o1, s1, r1, *_ = one.step(s1, act[e:e + 1])
            np.testing.assert_array_equal(o1[0], o_all[e])
            np.testing.assert_array_equal(r1[0], r_all[e])


def test_numpy_equals_array_api_strict():
    xps = pytest.importorskip("array_api_strict")
    for name in ("harvest", "cleanup"):
        a, _ = _rollout(fm.envs.make(name, preset="tiny", n_envs=2), 1, steps=6)
        b, _ = _rollout(fm.envs.make(name, preset="tiny", n_envs=2, xp=xps), 1, steps=6)
        assert all(np.array_equal(x, np.asarray(y)) for x, y in zip(a, b))


def test_renders_and_errors(tmp_path):
    env = fm.envs.make("cleanup", preset="tiny", n_envs=2)
    obs, s = env.reset(0)
    assert obs.shape == (2, 2) + env.obs_shape
    txt = env.render_ascii(s, 1)
    assert txt.count("@") == 2 * env.width + 2 * (env.height - 2) and "0" in txt
    img = env.render_rgb(s)
    assert img.shape == (env.height * 8, env.width * 8, 3) and img.dtype == np.uint8
    with pytest.raises(ValueError, match="actions"):
        env.step(s, np.zeros((2, 3), int))
    with pytest.raises(ValueError, match="out of range"):
        env.step(s, np.full((2, 2), 9))
    with pytest.raises(ValueError, match="preset"):
        fm.envs.make("harvest", preset="huge")
    with pytest.raises(TypeError, match="unknown parameters"):
        fm.envs.make("harvest", apple_radius=3)
    with pytest.raises(ValueError, match="unknown environment"):
        fm.envs.make("harvset")


def test_batched_harvest_equals_the_plain_python_reference():
    """fairmg.testing.envs_reference.harvest_step: one env, Python loops, same uniforms."""
    from fairmg.testing.envs_reference import harvest_step
    env = fm.envs.make("harvest", preset="anticipation", n_envs=3)
    _, s = env.reset(11)
    rng = np.random.default_rng(0)
    for _ in range(25):
        act = rng.integers(0, 8, size=(3, env.n_agents))
        _, s2, r, *_ = env.step(s, act)
        for e in range(3):
            pos, ori, apples, rew = harvest_step(env, s.pos[e].tolist(), s.ori[e].tolist(),
                                                 s.apples[e], int(s.t[e]), s.keys[e],
                                                 act[e].tolist())
            np.testing.assert_array_equal(s2.pos[e], pos)
            np.testing.assert_array_equal(s2.ori[e], ori)
            np.testing.assert_array_equal(s2.apples[e], apples)
            np.testing.assert_array_equal(r[e], rew)
        s = s2
