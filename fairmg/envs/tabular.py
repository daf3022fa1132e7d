r"""Any dense fairmg game as a batched environment, and the two tabular tasks of 004.

:class:`TabularGameEnv` steps a :class:`fairmg.MarkovGame` (its P, r and mu) in B copies:
observations are the one-hot state, the same for every agent, (B, N, S); episodes are
truncated after ``max_steps``. ``to_game()`` returns the game itself, so the exact engine
solves what the sampled algorithms learn on.

* :class:`ExchangeEnv` -- 004's Exchange (Sec. 5.1, Fig. 8b) through
  :func:`fairmg.games.exchange` (``horizon=None``: its infinite-horizon Markov game;
  ``grid=(2, 3)``, 2 agents by default, the paper's 5 x 5 with 3 agents has ~10^9 dense
  entries); rewards as the exact game's (+10 food, -5 opening, -0.01 per step).
* :class:`CooperativePredationEnv` -- the 2-predator cooperative predation of
  :func:`fairmg.games.dilemma.cooperative_predation` (004 Sec. 5.1, payoffs of its table).

Randomness is counter-based (:mod:`fairmg.envs.base`): a batch equals a loop of single envs.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._validate import check_int
from .base import Env, StepResult, counter_uniforms

__all__ = ["TabularGameEnv", "ExchangeEnv", "CooperativePredationEnv", "TabularState"]


class TabularState(NamedTuple):
    """``s`` (B,) int64 states, ``t`` (B,) steps, ``keys`` (B,) uint64."""

    s: object
    t: object
    keys: object


class TabularGameEnv(Env):
    """A dense :class:`fairmg.MarkovGame` as a batched env (one-hot state observations)."""

    name = "tabular"

    def __init__(self, game, max_steps: int = 100, n_envs: int = 1, xp=None):
        super().__init__(n_envs, xp)
        if not getattr(game, "is_dense", False):
            raise TypeError(f"TabularGameEnv needs a dense fairmg game, got "
                            f"{type(game).__name__}")
        self.game = game
        self.max_steps = check_int(max_steps, "max_steps", low=1)
        self.n_agents = game.n_agents
        self.action_sizes = tuple(game.action_sizes)
        self.obs_shape = (game.n_states,)
        S, A = game.n_states, game.n_joint_actions
        xp = self.xp
        self._cdf = xp.asarray(np.cumsum(game.transition.reshape(S * A, S), axis=1))
        self._R = xp.asarray(np.ascontiguousarray(game.rewards.reshape(game.n_agents, S * A)))
        self._mu = xp.asarray(np.cumsum(game.initial))
        strides = np.cumprod((1,) + self.action_sizes[::-1])[:-1][::-1]
        self._strides = xp.asarray(np.ascontiguousarray(strides), dtype=xp.int64)

    def _draw(self, cdf, u):
        xp = self.xp
        k = xp.sum(xp.astype(u[:, None] * cdf[:, -1:] >= cdf, xp.int64), axis=1)
        return xp.minimum(k, cdf.shape[1] - 1)

    def _obs(self, s):
        xp = self.xp
        S = self.game.n_states
        one = xp.astype(s[:, None] == xp.arange(S, dtype=xp.int64)[None, :], xp.float64)
        return xp.broadcast_to(one[:, None, :], (self.n_envs, self.n_agents, S))

    def reset(self, seed=None):
        xp = self.xp
        keys, t = self._reset_keys(seed)
        u = counter_uniforms(keys, t, 0, 1, xp)[:, 0]
        mu = xp.broadcast_to(self._mu[None, :], (self.n_envs, self._mu.shape[0]))
        s = self._draw(mu, u)
        return self._obs(s), TabularState(s, t, keys)

    def step(self, state, actions) -> StepResult:
        xp = self.xp
        a = self.check_actions(actions)
        A = self.game.n_joint_actions
        flat = state.s * A + xp.sum(a * self._strides[None, :], axis=1)
        r = xp.permute_dims(xp.take(self._R, flat, axis=1), (1, 0))
        u = counter_uniforms(state.keys, state.t, 1, 1, xp)[:, 0]
        s = self._draw(xp.take(self._cdf, flat, axis=0), u)
        t = state.t + 1
        return StepResult(self._obs(s), TabularState(s, t, state.keys), r,
                          xp.zeros((self.n_envs,), dtype=xp.bool), t >= self.max_steps, {})

    def to_game(self):
        return self.game

    def render_ascii(self, state, env: int = 0) -> str:
        from ..sampled.backend import to_numpy
        return (f"{self.name}: state {int(to_numpy(state.s)[env])} of "
                f"{self.game.n_states}, step {int(to_numpy(state.t)[env])}")

    def render_rgb(self, state, env: int = 0) -> np.ndarray:
        """A one-row strip of the states, the current one highlighted."""
        from ..sampled.backend import to_numpy
        img = np.full((1, self.game.n_states, 3), 230, np.uint8)
        img[0, int(to_numpy(state.s)[env])] = (220, 50, 50)
        return np.kron(img, np.ones((16, 16, 1), np.uint8))


class ExchangeEnv(TabularGameEnv):
    """004's Exchange task (reconstructed sizes; see the module docstring)."""

    name = "exchange"

    def __init__(self, n_envs: int = 1, xp=None, *, grid=(2, 3), n_agents: int = 2,
                 gamma: float = 0.95, max_steps: int = 300, **kw):
        from ..games.exchange import exchange
        self.exchange_game = exchange(grid=grid, n_agents=n_agents, horizon=None,
                                      gamma=gamma, **kw)
        super().__init__(self.exchange_game.to_markov_game(), max_steps, n_envs, xp)
        self.reconstructed = ("grid (2, 3) and 2 agents: the paper's 5 x 5 with 3 agents "
                              "has no dense table", "infinite-horizon discounting")


class CooperativePredationEnv(TabularGameEnv):
    """004's cooperative predation, two predators on a line (see the module docstring)."""

    name = "cooperative_predation"

    def __init__(self, n_envs: int = 1, xp=None, *, positions: int = 4, gamma: float = 0.9,
                 max_steps: int = 100):
        from ..games.dilemma import cooperative_predation
        super().__init__(cooperative_predation(positions, gamma), max_steps, n_envs, xp)
        self.reconstructed = ("two predators on a line of `positions` cells",)
