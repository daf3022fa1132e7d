"""Matthew Effect, Job Scheduling, Cooperative Navigation (against mpe2 when installed),
the tabular envs (against their games' P and r), the PettingZoo adapter: rules, determinism,
batch = loop of single envs, NumPy = array_api_strict."""
import numpy as np
import pytest

import fairmg as fm
from fairmg.envs import job_scheduling as js
from fairmg.envs import matthew as mt
from fairmg.envs.base import env_keys

K = 5
NAMES = {"matthew": {"preset": "tiny"}, "job_scheduling": {"preset": "tiny"},
         "cooperative_navigation": {}, "exchange": {}, "cooperative_predation": {}}


def test_matthew_capture_grows_the_captor_and_respawns_the_ghost():
    env = fm.envs.make("matthew", preset="tiny", ghost_step=0.0)
    _, s = env.reset(0)
    pos = np.array([[[0.5, 0.5], [0.52, 0.5], [0.1, 0.1]]])
    s = s._replace(pos=pos, radius=np.array([[0.05, 0.05, 0.05]]),
                   speed=np.array([[0.02, 0.02, 0.02]]),
                   ghosts=np.array([[[0.53, 0.5], [0.9, 0.9]]]))
    _, s2, r, *_ = env.step(s, np.zeros((1, 3), int))
    np.testing.assert_array_equal(r[0], [0.0, 1.0, 0.0])       # the closer agent captures
    np.testing.assert_allclose(s2.radius[0], [0.05, 0.05 * env.growth, 0.05])
    np.testing.assert_allclose(s2.speed[0], [0.02, 0.02 * env.growth, 0.02])
    assert np.abs(s2.ghosts[0, 0] - [0.53, 0.5]).max() > 0        # respawned
    np.testing.assert_allclose(s2.ghosts[0, 1], [0.9, 0.9])       # the other stays
    _, s3, *_ = env.step(s2, np.array([[2, 4, 0]]))               # down, right, stay
    np.testing.assert_allclose(s3.pos[0, 0], [0.5, 0.5 - 0.02])
    np.testing.assert_allclose(s3.pos[0, 1], [0.52 + 0.02 * env.growth, 0.5])


def test_job_scheduling_rewards_only_the_server_holder_and_agents_never_overlap():
    env = fm.envs.make("job_scheduling", n_envs=500)
    _, s = env.reset(1)
    rng = np.random.default_rng(0)
    for _ in range(30):
        _, s, r, *_ = env.step(s, rng.integers(0, 5, size=(500, 4)))
        flat = s.pos[..., 0] * 5 + s.pos[..., 1]
        assert all(len(set(row)) == 4 for row in flat)
        on = (s.pos[..., 0] == 2) & (s.pos[..., 1] == 2)
        np.testing.assert_array_equal(r, on.astype(float))
        assert np.all(r.sum(axis=1) <= 1)
    one = fm.envs.make("job_scheduling")
    _, s = one.reset(0)
    s = s._replace(pos=np.array([[[2, 1], [0, 0], [4, 4], [0, 4]]]))
    _, s2, r, *_ = one.step(s, np.array([[js.np.int64(4), 0, 0, 0]]))   # right onto S
    assert r[0, 0] == 1.0 and tuple(s2.pos[0, 0]) == (2, 2)


def test_navigation_one_step_by_hand_and_collisions():
    from fairmg.envs import navigation as nv
    env = fm.envs.make("cooperative_navigation")
    _, s = env.reset(0)
    pos = np.array([[[0.0, 0.0], [0.2, 0.0], [1.0, 1.0]]])        # 0 and 1 overlap (0.2 < 0.3)
    vel = np.array([[[0.1, 0.0], [0.0, 0.0], [0.0, -0.2]]])
    lm = np.array([[[0.0, 0.5], [1.0, 0.0], [-1.0, -1.0]]])
    s = s._replace(pos=pos, vel=vel, landmarks=lm)
    _, s2, r, *_ = env.step(s, np.array([[2, 0, 4]]))           # +x, no-op, +y
    pen = np.logaddexp(0, -(0.2 - 0.3) / 1e-3) * 1e-3
    f01 = 100.0 * np.array([-1.0, 0.0]) * pen                    # on agent 0, away from 1
    np.testing.assert_allclose(s2.pos[0], pos[0] + vel[0] * 0.1, atol=1e-15)
    np.testing.assert_allclose(s2.vel[0, 0], vel[0, 0] * 0.75 + (np.array([5.0, 0]) + f01) * 0.1)
    np.testing.assert_allclose(s2.vel[0, 1], -f01 * 0.1)
    np.testing.assert_allclose(s2.vel[0, 2], vel[0, 2] * 0.75 + np.array([0, 5.0]) * 0.1)
    d = np.linalg.norm(s2.pos[0][:, None] - lm[0][None], axis=-1)
    glob = -d.min(axis=0).sum()
    np.testing.assert_allclose(r[0], 0.5 * glob + 0.5 * np.array([-1.0, -1.0, 0.0]))


def test_navigation_matches_mpe2_step_for_step():
    mpe = pytest.importorskip("mpe2.simple_spread_v3")
    pz = mpe.parallel_env(N=3, local_ratio=0.5, max_cycles=25, continuous_actions=False)
    obs, _ = pz.reset(seed=3)
    world = pz.unwrapped.world
    env = fm.envs.make("cooperative_navigation")
    _, s = env.reset(0)
    start = np.array([a.state.p_pos for a in world.agents])
    start[1] = start[0] + [0.25, 0.0]                             # a contact from the start
    for a, p in zip(world.agents, start):
        a.state.p_pos = p.copy()
    s = s._replace(pos=start[None].copy(), vel=np.zeros((1, 3, 2)),
                   landmarks=np.array([lm.state.p_pos for lm in world.landmarks])[None])
    rng = np.random.default_rng(0)
    for _ in range(25):
        acts = rng.integers(0, 5, size=3)
        obs, rew, *_ = pz.step({a: int(acts[i]) for i, a in enumerate(pz.agents)})
        o, s, r, *_ = env.step(s, acts[None])
        np.testing.assert_array_equal(np.array([a.state.p_pos for a in world.agents]),
                                      s.pos[0])
        np.testing.assert_array_equal(np.array([rew[a] for a in pz.possible_agents]), r[0])
        np.testing.assert_allclose(np.array([obs[a] for a in pz.possible_agents]), o[0],
                                   atol=1e-6)                     # mpe2 observes in float32


def test_tabular_env_samples_the_games_transitions():
    env = fm.envs.make("cooperative_predation", n_envs=40000)
    g = env.to_game()
    _, s = env.reset(2)
    s = s._replace(s=np.full(40000, 5))
    a = np.zeros((40000, 2), int)
    a[20000:, 1] = 1
    _, s2, r, *_ = env.step(s, a)
    for half, act in ((slice(0, 20000), (0, 0)), (slice(20000, None), (0, 1))):
        ja = int(np.ravel_multi_index(act, g.action_sizes))
        p = g.transition[5, ja]
        freq = np.bincount(s2.s[half], minlength=g.n_states) / 20000
        assert np.all(np.abs(freq - p) <= K * np.sqrt(p * (1 - p) / 20000) + 1e-12)
        np.testing.assert_array_equal(r[half], np.broadcast_to(g.rewards[:, 5, ja], (20000, 2)))


def _rollout(env, seed, steps=8):
    obs, s = env.reset(seed)
    rng = np.random.default_rng(1)
    out = [np.asarray(obs)]
    for _ in range(steps):
        a = np.stack([rng.integers(0, n, size=env.n_envs) for n in env.action_sizes], axis=1)
        obs, s, r, *_ = env.step(s, a)
        out += [np.asarray(obs), np.asarray(r)]
    return out


@pytest.mark.parametrize("name", list(NAMES))
def test_determinism_batch_equals_loop_and_strict(name):
    kw = NAMES[name]
    env = fm.envs.make(name, n_envs=3, **kw)
    a, b = _rollout(env, 5), _rollout(env, 5)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    keys = np.asarray(env_keys(5, 3))
    one = fm.envs.make(name, n_envs=1, **kw)
    obs, s = env.reset(5)
    rng = np.random.default_rng(2)
    singles = [one.reset(keys[e:e + 1])[1] for e in range(3)]
    for _ in range(6):
        act = np.stack([rng.integers(0, n, size=3) for n in env.action_sizes], axis=1)
        obs, s, r, *_ = env.step(s, act)
        for e in range(3):
            o1, singles[e], r1, *_ = one.step(singles[e], act[e:e + 1])
            np.testing.assert_array_equal(o1[0], obs[e])
            np.testing.assert_array_equal(r1[0], r[e])
    xps = pytest.importorskip("array_api_strict")
    c = _rollout(fm.envs.make(name, n_envs=2, xp=xps, **kw), 1, steps=4)
    d = _rollout(fm.envs.make(name, n_envs=2, **kw), 1, steps=4)
    assert all(np.array_equal(np.asarray(x), y) for x, y in zip(c, d))


@pytest.mark.parametrize("name", list(NAMES))
def test_renders_spaces_and_errors(name):
    env = fm.envs.make(name, n_envs=2, **NAMES[name])
    obs, s = env.reset(0)
    assert obs.shape == (2, env.n_agents) + env.obs_shape
    assert isinstance(env.render_ascii(s, 1), str)
    img = env.render_rgb(s)
    assert img.ndim == 3 and img.shape[2] == 3 and img.dtype == np.uint8
    with pytest.raises(ValueError, match="actions"):
        env.step(s, np.zeros((2, env.n_agents + 1), int))
    with pytest.raises(ValueError, match="out of range"):
        env.step(s, np.full((2, env.n_agents), 99))


def test_pettingzoo_adapter():
    pytest.importorskip("pettingzoo")
    from pettingzoo.test import parallel_api_test
    from fairmg.envs.pettingzoo import to_parallel_env
    for name in ("job_scheduling", "matthew"):
        parallel_api_test(to_parallel_env(fm.envs.make(name, **NAMES[name])), num_cycles=20)
    with pytest.raises(ValueError, match="n_envs=1"):
        to_parallel_env(fm.envs.make("matthew", n_envs=2))


def test_mt_presets_are_known():
    assert set(mt.PRESETS) == {"eld", "tiny"}
    with pytest.raises(TypeError, match="unknown"):
        fm.envs.make("matthew", speed=3)


def test_animate_writes_a_gif(tmp_path):
    from PIL import Image
    env = fm.envs.make("harvest", preset="tiny")
    states = fm.envs.episode_states(env, steps=5)
    assert len(states) == 6
    path = fm.envs.animate(env, states, tmp_path / "ep.gif", fps=4)
    with Image.open(path) as im:
        assert im.n_frames == 6
    with pytest.raises(ValueError, match="gif"):
        fm.envs.animate(env, states, tmp_path / "ep.avi")


def test_job_scheduling_exact_game_matches_sampled_steps():
    """to_game enumerates the move orders; env steps from fixed states land with the
    game's frequencies (K s.e., 20000 samples, seeds fixed), supports exactly."""
    env = fm.envs.make("job_scheduling", preset="tiny")
    g = env.to_game(gamma=0.8)
    states = env.game_states()
    rng = np.random.default_rng(3)
    n = 20000
    big = fm.envs.make("job_scheduling", n_envs=n, preset="tiny")
    # 6 pairs where both agents move into the same cell (orders matter), 6 at random
    contested = [(s, a) for s in range(g.n_states) for a in range(25)
                 if (g.transition[s, a] > 0).sum() > 1]
    pairs = [contested[k] for k in rng.choice(len(contested), 6, replace=False)]
    pairs += [tuple(map(int, p)) for p in zip(rng.integers(0, 72, 6), rng.integers(0, 25, 6))]
    for j, (s, a) in enumerate(pairs):
        pos = np.stack([states[s] // 3, states[s] % 3], axis=-1)
        st = js.JobState(np.repeat(pos[None], n, axis=0), rng.integers(0, 10**6, n),
                         env_keys(50 + j, n))
        res = big.step(st, np.tile(np.unravel_index(a, (5, 5)), (n, 1)))
        freq = np.bincount(env.state_index(res.state), minlength=g.n_states) / n
        p = g.transition[s, a]
        assert np.all(np.abs(freq - p) <= K * np.sqrt(p * (1 - p) / n) + 1e-12)
        assert np.all(freq[p == 0] == 0)
        r = res.rewards.mean(axis=0)
        assert np.all(np.abs(r - g.rewards[:, s, a]) <= K * np.sqrt(0.25 / n) + 1e-12)


def test_job_scheduling_exact_game_by_hand():
    """3 x 3, server at (1, 1): agent 0 at (0, 1) steps down, agent 1 at (2, 1) steps up;
    whoever moves first takes the server (1/2 each), the other is blocked."""
    env = fm.envs.make("job_scheduling", preset="tiny")
    g = env.to_game(gamma=0.8)
    ix = {tuple(t): k for k, t in enumerate(env.game_states().tolist())}
    s, a = ix[(1, 7)], int(np.ravel_multi_index((2, 1), (5, 5)))
    assert g.transition[s, a, ix[(4, 7)]] == 0.5 and g.transition[s, a, ix[(1, 4)]] == 0.5
    np.testing.assert_array_equal(g.rewards[:, s, a], [0.5, 0.5])
    assert g.initial[ix[(4, 7)]] == 0 and np.isclose(g.initial[s], 1 / 56)   # 8 x 7 starts


def test_job_scheduling_discounted_return_matches_exact_value():
    env = fm.envs.make("job_scheduling", preset="tiny")
    g = env.to_game(gamma=0.8)
    B, T = 4000, 70                                  # 0.8^70 / 0.2 < 1e-6 of truncation
    big = fm.envs.make("job_scheduling", n_envs=B, preset="tiny", max_steps=T)
    _, st = big.reset(seed=9)
    rng = np.random.default_rng(9)
    ret = np.zeros((B, 2))
    for t in range(T):
        res = big.step(st, rng.integers(0, 5, (B, 2)))
        ret += 0.8 ** t * res.rewards
        st = res.state
    value = fm.evaluate(g, fm.ProductPolicy.uniform(g)).value_at_initial
    assert np.all(np.abs(ret.mean(axis=0) - value) <= K * ret.std(axis=0) / np.sqrt(B))
