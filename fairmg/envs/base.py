r"""The batched, functional environment interface and its counter-based randomness.

An environment holds only constants (grid, presets, ``n_envs``, the namespace); the whole
simulation state is an explicit value passed in and out::

    obs, state = env.reset(seed)
    obs, state, rewards, terminated, truncated, info = env.step(state, actions)

Arrays carry a leading env axis B: ``actions`` (B, N) int64, ``rewards`` (B, N) float64,
``terminated``/``truncated`` (B,) bool, ``obs`` (B, N, *obs_shape).

Randomness is *counter based*: every uniform is a hash of (env key, step, stream, index)
(:func:`counter_uniforms`, SplitMix64's finaliser), so env b of a batch reset with
``seed`` follows exactly the trajectory of a single env reset with ``keys[b]``
(:func:`env_keys`), and a batch equals a loop of single environments bit for bit, on
NumPy, CuPy and ``array_api_strict`` alike.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from .._validate import check_int
from ..sampled.backend import resolve_namespace

__all__ = ["Env", "StepResult", "env_keys", "counter_uniforms", "splitmix64"]

_GOLDEN = 0x9E3779B97F4A7C15
_M1 = 0xBF58476D1CE4E5B9
_M2 = 0x94D049BB133111EB


class StepResult(NamedTuple):
    """What :meth:`Env.step` returns (a tuple, as Gymnasium's ``step``)."""

    obs: Any
    state: Any
    rewards: Any
    terminated: Any
    truncated: Any
    info: dict


def splitmix64(x, xp):
    """SplitMix64's finaliser of uint64 array ``x`` (wrapping arithmetic): a bijection of
    uint64 whose outputs pass BigCrush as a counter-based generator."""
    u = xp.uint64
    x = x + xp.asarray(_GOLDEN, dtype=u)
    x = (x ^ (x >> xp.asarray(30, dtype=u))) * xp.asarray(_M1, dtype=u)
    x = (x ^ (x >> xp.asarray(27, dtype=u))) * xp.asarray(_M2, dtype=u)
    return x ^ (x >> xp.asarray(31, dtype=u))


def env_keys(seed, n_envs: int, xp=None):
    """uint64 keys (n_envs,) of the envs of a batch reset with int ``seed``:
    ``splitmix64(splitmix64(seed) + b)``. An array of keys is returned as given."""
    xp = resolve_namespace(xp)
    if not isinstance(seed, (int, np.integer)):
        keys = xp.asarray(seed, dtype=xp.uint64)
        if keys.shape != (n_envs,):
            raise ValueError(f"seed must be an int or {n_envs} uint64 keys, got shape "
                             f"{tuple(keys.shape)}")
        return keys
    seed = check_int(seed, "seed", low=0, high=2 ** 63 - 1)
    base = splitmix64(xp.asarray(seed, dtype=xp.uint64), xp)
    return splitmix64(base + xp.arange(n_envs, dtype=xp.uint64), xp)


def counter_uniforms(keys, step, stream: int, n: int, xp):
    """Uniforms in [0, 1) of shape (B, n), a pure function of (keys[b], step[b], stream,
    index): ``splitmix64(splitmix64(key ^ step * c1 ^ stream * c2) + index)`` top 53 bits.

    ``step`` is the (B,) int step counter of each env; ``stream`` separates the draws of
    one step (regrowth, spawns, ...).
    """
    u64 = xp.uint64
    s = xp.astype(step, u64) * xp.asarray(0xD1B54A32D192ED03, dtype=u64)
    h = splitmix64(keys ^ s ^ xp.asarray((stream * 0x8CB92BA72F3D8DD7) % 2 ** 64, dtype=u64), xp)
    x = splitmix64(h[:, None] + xp.arange(n, dtype=u64)[None, :], xp)
    return xp.astype(x >> xp.asarray(11, dtype=u64), xp.float64) * (1.0 / 2 ** 53)


class Env:
    """Base of fairmg's batched environments (the interface of issue 16).

    Attributes set by subclasses
    ----------------------------
    name : str
    n_agents : int
    action_sizes : tuple[int, ...]
        Every agent's number of actions.
    obs_shape : tuple[int, ...]
        One agent's observation shape (obs arrays are (B, N, *obs_shape)).
    max_steps : int
        Episodes are truncated after ``max_steps`` steps.
    n_envs : int
    xp : namespace
    """

    name: str = "env"
    n_agents: int
    action_sizes: tuple
    obs_shape: tuple
    max_steps: int
    reconstructed: tuple = ()   # parameters a paper leaves open, decided here

    def __init__(self, n_envs: int = 1, xp=None):
        self.n_envs = check_int(n_envs, "n_envs", low=1)
        self.xp = resolve_namespace(xp)

    def reset(self, seed=None):
        """``(obs, state)`` of B fresh episodes; ``seed`` an int or (B,) uint64 keys
        (default: the ``seed`` given to :func:`fairmg.envs.make`, else 0)."""
        raise NotImplementedError

    def _configure(self, presets: dict, preset: str, overrides: dict, defaults=None) -> dict:
        """The constants of ``presets[preset]`` and ``defaults``, updated by ``overrides``
        (unknown names raise ``TypeError``); sets ``self.preset``."""
        from .._validate import check_choice
        self.preset = check_choice(preset, "preset", tuple(presets))
        cfg = {**presets[self.preset], **(defaults or {})}
        unknown = set(overrides) - set(cfg)
        if unknown:
            raise TypeError(f"{self.name}: unknown parameters {sorted(unknown)}; known: "
                            f"{sorted(cfg)}")
        cfg.update(overrides)
        return cfg

    def _reset_keys(self, seed):
        """``(keys (B,), t (B,) zeros)`` of a reset with ``seed``."""
        seed = getattr(self, "default_seed", None) if seed is None else seed
        keys = env_keys(0 if seed is None else seed, self.n_envs, self.xp)
        return keys, self.xp.zeros((self.n_envs,), dtype=self.xp.int64)

    def step(self, state, actions) -> StepResult:
        """Advance every env one step with joint ``actions`` (B, N)."""
        raise NotImplementedError

    def check_actions(self, actions):
        xp = self.xp
        actions = xp.asarray(actions)
        if tuple(actions.shape) != (self.n_envs, self.n_agents):
            raise ValueError(f"{self.name}: actions must have shape "
                             f"({self.n_envs}, {self.n_agents}), got {tuple(actions.shape)}")
        sizes = xp.asarray(self.action_sizes, dtype=xp.int64)
        a = xp.astype(actions, xp.int64)
        if bool(xp.any(a < 0)) or bool(xp.any(a >= sizes[None, :])):
            raise ValueError(f"{self.name}: actions out of range; agent i takes values in "
                             f"0..action_sizes[i]-1 = {self.action_sizes}")
        return a

    def render_ascii(self, state, env: int = 0) -> str:
        """A text picture of env ``env`` of the batch."""
        raise NotImplementedError

    def render_rgb(self, state, env: int = 0) -> np.ndarray:
        """An (H, W, 3) uint8 picture of env ``env`` of the batch."""
        raise NotImplementedError

    def to_game(self):
        """The exact tabular game of this preset, where the state space is small."""
        raise NotImplementedError(f"{self.name} has no tabular form at this size")

    def __repr__(self):
        return (f"{type(self).__name__}(n_envs={self.n_envs}, n_agents={self.n_agents}, "
                f"action_sizes={self.action_sizes})")
