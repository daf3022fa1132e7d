"""A PettingZoo ``ParallelEnv`` view of any fairmg environment (``pip install "fairmg[envs]"``).

``to_parallel_env(env)`` drives env 0 of a one-env :class:`fairmg.envs.Env` through the
PettingZoo parallel API, so trainers written for PettingZoo run on fairmg's environments:
agents ``"agent_0" ... "agent_{N-1}"``, ``reset(seed, options) -> (observations, infos)``,
``step(actions) -> (observations, rewards, terminations, truncations, infos)`` with dicts by
agent, Box observation spaces (float64) and Discrete action spaces. Episodes end for every
agent at once (the environments are synchronous).
"""
from __future__ import annotations

import numpy as np

__all__ = ["to_parallel_env"]


def to_parallel_env(env):
    """Wrap ``env`` (``n_envs`` must be 1) as a ``pettingzoo.ParallelEnv``."""
    try:
        from gymnasium import spaces
        from pettingzoo import ParallelEnv
    except ImportError as exc:                      # pragma: no cover - depends on extras
        raise ImportError('to_parallel_env needs pettingzoo and gymnasium: pip install '
                          '"fairmg[envs]"') from exc
    if env.n_envs != 1:
        raise ValueError(f"to_parallel_env drives one env; make it with n_envs=1, got "
                         f"{env.n_envs}")

    class FairmgParallelEnv(ParallelEnv):
        metadata = {"name": f"fairmg_{env.name}", "render_modes": ["ansi", "rgb_array"]}

        def __init__(self):
            self.fairmg_env = env
            self.possible_agents = [f"agent_{i}" for i in range(env.n_agents)]
            self.agents = []
            self._obs_spaces = {a: spaces.Box(-np.inf, np.inf, env.obs_shape, np.float64)
                                for a in self.possible_agents}
            self._act_spaces = {a: spaces.Discrete(n) for a, n in
                                zip(self.possible_agents, env.action_sizes)}
            self.state_ = None
            self.render_mode = None

        def observation_space(self, agent):
            return self._obs_spaces[agent]

        def action_space(self, agent):
            return self._act_spaces[agent]

        def _split(self, x):
            x = np.asarray(x)[0]
            return {a: x[i] for i, a in enumerate(self.possible_agents)}

        def reset(self, seed=None, options=None):
            obs, self.state_ = env.reset(0 if seed is None else int(seed))
            self.agents = list(self.possible_agents)
            return self._split(obs), {a: {} for a in self.agents}

        def step(self, actions):
            acts = np.array([[int(actions[a]) for a in self.possible_agents]])
            obs, self.state_, r, term, trunc, _ = env.step(self.state_, acts)
            done_t, done_r = bool(np.asarray(term)[0]), bool(np.asarray(trunc)[0])
            out = (self._split(obs), {a: float(v) for a, v in self._split(r).items()},
                   {a: done_t for a in self.agents}, {a: done_r for a in self.agents},
                   {a: {} for a in self.agents})
            if done_t or done_r:
                self.agents = []
            return out

        def render(self):
            return env.render_ascii(self.state_)

        def state(self):
            return np.concatenate([np.ravel(np.asarray(x)) for x in self.state_
                                   if np.asarray(x).dtype != np.uint64])

    return FairmgParallelEnv()
