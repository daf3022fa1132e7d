"""Deep MARL on batched environments (fairmg.sampled.env_training): learning, alpha-fair
weights, ELD, resumable checkpoints, on a small environment wrapping a dense game (its
own counter-based sampler, so the test does not depend on fairmg.envs' environments)."""
from typing import NamedTuple

import numpy as np
import pytest

import fairmg as fm
from fairmg.envs.base import Env, StepResult, counter_uniforms, env_keys
from fairmg.fairness import gini
from fairmg.sampled.env_training import train_env


class _State(NamedTuple):
    s: np.ndarray
    t: np.ndarray
    keys: np.ndarray


class GameEnv(Env):
    """A dense game as a batched env: one-hot state observations for every agent."""

    name = "game"

    def __init__(self, game, max_steps, n_envs=1, xp=None):
        super().__init__(n_envs, xp)
        self.g, self.max_steps = game, max_steps
        self.n_agents, self.action_sizes = game.n_agents, game.action_sizes
        self.obs_shape = (game.n_states,)
        self.cdf = np.cumsum(game.transition, axis=2)
        self.strides = np.cumprod((1,) + game.action_sizes[::-1])[:-1][::-1]

    def _obs(self, s):
        return np.repeat(np.eye(self.g.n_states)[s][:, None, :], self.n_agents, axis=1)

    def reset(self, seed=0):
        k = np.asarray(env_keys(seed, self.n_envs))
        u = np.asarray(counter_uniforms(k, np.zeros(self.n_envs, np.int64), 0, 1, self.xp))
        s = np.minimum((u >= np.cumsum(self.g.initial)[None]).sum(1), self.g.n_states - 1)
        return self._obs(s), _State(s, np.zeros(self.n_envs, np.int64), k)

    def step(self, st, a):
        ja = (np.asarray(a) * self.strides).sum(1)
        r = self.g.rewards[:, st.s, ja].T
        u = np.asarray(counter_uniforms(st.keys, st.t, 1, 1, self.xp))
        c = self.cdf[st.s, ja]
        s = np.minimum((u * c[:, -1:] >= c).sum(1), self.g.n_states - 1)
        t = st.t + 1
        return StepResult(self._obs(s), _State(s, t, st.keys), r,
                          np.zeros(self.n_envs, bool), t >= self.max_steps, {})


@pytest.fixture(scope="module")
def env():
    return GameEnv(fm.games.commons(n_agents=2), 30, n_envs=16)


def test_happo_and_hatrpo_learn(env):
    for algo, hp in (("happo", dict(lr=5e-3, clip=0.2)), ("hatrpo", dict(max_kl=0.05))):
        run = train_env(env, algo, 20, seed=0, hidden=(16,), **hp)
        total = run.returns.sum(axis=1)
        assert total[-3:].mean() > total[:3].mean() + 3.0, (algo, total)


def test_fair_weights_trade_efficiency_for_equality(env):
    """The cleaning commons: utilitarian MAPPO lets one agent clean for nothing; at
    alpha = 3 the fair advantage (000 eq. (5)) keeps the returns close."""
    kw = dict(seed=1, hidden=(16,), lr=5e-3, clip=0.2)
    util = train_env(env, "mappo", 30, **kw).returns[-5:].mean(axis=0)
    fair = train_env(env, "mappo", 30, alpha=3.0, **kw).returns[-5:].mean(axis=0)
    assert gini(util) > 0.4 and gini(fair) < 0.1, (util, fair)


def test_checkpoint_resume_is_exact(env, tmp_path):
    kw = dict(seed=2, hidden=(8,), lr=5e-3, clip=0.2, alpha=1.0)
    straight = train_env(env, "happo", 6, **kw)
    ck = tmp_path / "run.npz"
    train_env(env, "happo", 3, checkpoint=ck, checkpoint_every=1, **kw)
    resumed = train_env(env, "happo", 6, checkpoint=ck, checkpoint_every=1, **kw)
    np.testing.assert_array_equal(resumed.returns, straight.returns)
    for a, b in zip(resumed.params, straight.params):
        np.testing.assert_array_equal(a, b)
    with pytest.raises(ValueError, match="another configuration"):
        train_env(env, "happo", 6, checkpoint=ck, seed=3, hidden=(8,))


def test_eld_on_an_environment_and_errors():
    env3 = GameEnv(fm.games.random_game(3, (2, 2, 2), 0.9, rng=11), 10, n_envs=8)
    run = train_env(env3, "ippo", 4, seed=0, hidden=(8,), eld=dict(eps=0.0, eta=1.0))
    assert run.eld.shape == (4, 2) and run.eld[0, 0] == 0.0 and run.eld[-1, 0] > 0
    with pytest.raises(ValueError, match="eld"):
        train_env(env3, "happo", 1, eld={})
    with pytest.raises(ValueError, match="alpha"):
        train_env(env3, "ippo", 1, alpha=1.0)
    with pytest.raises(TypeError, match="unknown"):
        train_env(env3, "happo", 1, max_kl=0.1)
