r"""Deep MARL on fairmg's batched environments: HAPPO/HATRPO (alpha-fair too), IPPO, MAPPO and
ELD with MLP actors and critics, as practitioners run them (issues 15 and 16).

:func:`train_env` runs, per iteration, one episode in each of the env's B copies
(``env.max_steps`` steps, every copy in lockstep), then

* one critic per agent (:class:`~fairmg.sampled.ValueNetwork` on the agent's flattened
  observation; softplus head optional, 000 App. D.2) fitted by Adam on the squared error to
  the bootstrapped discounted returns (``critic_epochs`` full-batch steps);
* per-agent GAE advantages (terminations stop the recursion; the time limit bootstraps);
* the fair advantage (000 eq. (5)) with weights :math:`(\nu + \hat V_j(o^j_0))^{-\alpha}`
  at the episode's first observation, or ELD's eq. (13) (001), normalised per batch as
  HARL does (``normalize=True``);
* the same per-agent steps as the tabular algorithms
  (:func:`~fairmg.sampled.algorithms.heterogeneous_update`) on MLP actors, one per agent.

Progress bars (tqdm), seeds (episode keys from ``seed`` and the iteration), and a
checkpoint file (``checkpoint=path``: every ``checkpoint_every`` iterations and at the end;
the same call resumes from it) make long runs resumable.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._validate import check_choice, check_int, check_scalar
from .algorithms import (ELD_DEFAULTS, HAPPO_DEFAULTS, HATRPO_DEFAULTS, eld_advantages,
                         heterogeneous_update)
from .backend import categorical
from .estimators import gae
from .networks import MLPPolicy, ValueNetwork
from .optim import Adam, AdamState, ValueNorm
from .samples import Samples

__all__ = ["train_env", "EnvRun", "collect_episodes", "Episodes"]

ENV_ALGORITHMS = ("happo", "hatrpo", "ippo", "mappo")


@dataclass
class Episodes:
    """B episodes of T steps: ``obs`` (T + 1, B, N, D) float (flattened observations),
    ``actions`` (T, B, N), ``rewards`` (T, B, N), ``alive`` (T, B) (1 until the step that
    terminated), ``terminated`` (T, B)."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    alive: np.ndarray
    terminated: np.ndarray


@dataclass
class EnvRun:
    """What :func:`train_env` returns: ``returns`` (iters, N) the mean undiscounted
    episode return of each agent per iteration; ``eld`` (iters, 2) lambda and mean H/N
    (ELD runs); ``actors``, ``params`` (final); ``config``."""

    returns: np.ndarray
    eld: np.ndarray | None
    actors: list
    params: list
    config: dict = field(default_factory=dict)


def _flat_obs(obs, B, N):
    return np.asarray(obs, dtype=np.float64).reshape(B, N, -1)


def collect_episodes(env, actors, params, seed: int, rng) -> Episodes:
    """One episode in each of the B envs with the actors' sampled actions."""
    B, N, T = env.n_envs, env.n_agents, env.max_steps
    obs, state = env.reset(seed)
    obs = _flat_obs(obs, B, N)
    O, A, R, alive, term = [obs], [], [], [], []
    live = np.ones(B)
    for _ in range(T):
        a = np.zeros((B, N), dtype=np.int64)
        u = rng.random((B, N))
        for i in range(N):
            p = actors[i].probs(params[i], obs[:, i, :])[:, 0, :]
            a[:, i] = categorical(p, u[:, i])
        obs, state, r, terminated, truncated, _ = env.step(state, env.xp.asarray(a))
        obs = _flat_obs(obs, B, N)
        terminated = np.asarray(terminated, dtype=bool)
        O.append(obs)
        A.append(a)
        R.append(np.asarray(r, dtype=np.float64) * live[:, None])
        alive.append(live.copy())
        term.append(terminated & (live > 0))
        live = live * ~terminated
    return Episodes(np.stack(O), np.stack(A), np.stack(R), np.stack(alive), np.stack(term))


def _save(path: Path, it, params, critics, adam_states, cstates, vnorms, returns,
          eld_log, lam_state, config):
    arrays = {f"actor{i}": p for i, p in enumerate(params)}
    for i, vn in enumerate(vnorms or []):
        arrays[f"vnorm{i}"] = np.concatenate([np.asarray(vn.running_mean),
                                              np.asarray(vn.running_mean_sq),
                                              [vn.debiasing_term]])
    arrays.update({f"critic{i}": c for i, c in enumerate(critics)})
    for name, states in (("adam", adam_states or []), ("cadam", cstates)):
        for i, st in enumerate(states):
            arrays[f"{name}{i}"] = np.stack([st.m, st.v])
            arrays[f"{name}{i}_t"] = np.array(st.t)
    arrays["returns"] = np.asarray(returns, dtype=np.float64).reshape(-1, len(params))
    arrays["eld"] = np.asarray(eld_log, dtype=np.float64).reshape(-1, 2)
    arrays["meta"] = np.array(json.dumps(dict(iteration=it, lam=lam_state["lam"],
                                              t=lam_state["t"], config=config)))
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, **arrays)
    tmp.replace(path)


def train_env(env, algorithm: str = "happo", iters: int = 50, *, seed: int = 0,
              alpha=None, nu: float = 0.1, gamma: float = 0.99, lam: float = 0.95,
              hidden=(64, 64), activation: str = "tanh", critic_lr: float = 5e-4,
              critic_epochs: int = 5, softplus_critic: bool = False,
              value_norm: bool = True, fair_values: str = "returns",
              normalize: bool = True, eld=None, checkpoint=None,
              checkpoint_every: int = 10, progress: bool = False, **hp) -> EnvRun:
    r"""Train one MLP actor and critic per agent on ``env`` (a :class:`fairmg.envs.Env`).

    Parameters
    ----------
    env : fairmg.envs.Env
        B = ``env.n_envs`` copies; one episode each per iteration.
    algorithm : {"happo", "hatrpo", "ippo", "mappo"}
        As :func:`~fairmg.sampled.train`; ``alpha`` gives FHAPPO/FHATRPO (000).
    seed : int
        Initial weights (agent i: ``seed + i``), actions and episode keys.
    value_norm : bool
        HARL's ``use_valuenorm``: each critic fits the targets normalised by a running
        :class:`~fairmg.sampled.ValueNorm` (its values are denormalised); without it,
        ``softplus_critic`` gives 000's positive head.
    fair_values : {"returns", "critic"}
        Where the fair weights :math:`(\nu + \hat V_j)^{-\alpha}` read :math:`\hat V_j`:
        the batch mean of agent j's discounted return from the start (an unbiased
        :math:`V_j(\mu)`: contexts pooled over the env's random initial states), or each
        critic at the episode's first observation (000's per-context weights; only as good
        as the critics: with HARL's 5 critic epochs per iteration they lag badly early on).
    eld : dict, optional
        001's ELD on an IPPO/MAPPO backbone (keys of
        :data:`~fairmg.sampled.algorithms.ELD_DEFAULTS`).
    checkpoint : path, optional
        An ``.npz`` written every ``checkpoint_every`` iterations; an existing one with
        the same configuration is resumed.
    hp :
        The algorithm's hyper-parameters (HARL's defaults otherwise).
    """
    algorithm = check_choice(algorithm, "algorithm", ENV_ALGORITHMS)
    fair_values = check_choice(fair_values, "fair_values", ("returns", "critic"))
    iters = check_int(iters, "iters", low=0)
    gamma = check_scalar(gamma, "gamma", upper=1.0)
    check_int(critic_epochs, "critic_epochs", low=1)
    if algorithm == "ippo" and alpha is not None:
        raise ValueError("ippo uses each agent's own advantage; alpha needs a shared one")
    if eld is not None:
        if algorithm not in ("ippo", "mappo"):
            raise ValueError("eld runs on IPPO/MAPPO backbones")
        eld = {**ELD_DEFAULTS, **eld}
    trpo = algorithm == "hatrpo"
    defaults = HATRPO_DEFAULTS if trpo else HAPPO_DEFAULTS
    if set(hp) - set(defaults):
        raise TypeError(f"unknown hyper-parameters {sorted(set(hp) - set(defaults))}")
    hp = {**defaults, **hp}
    optimizer = None if trpo else Adam(lr=hp.pop("lr"), maximize=True)
    B, N = env.n_envs, env.n_agents
    probe, _ = env.reset(0)
    D = int(np.prod(np.asarray(probe).shape[2:])) if len(np.asarray(probe).shape) > 2 else 1
    actors = [MLPPolicy(D, (n,), hidden, activation) for n in env.action_sizes]
    critics = [ValueNetwork(D, hidden, activation, softplus_critic and not value_norm)
               for _ in range(N)]
    vnorms = [ValueNorm(1) for _ in range(N)] if value_norm else None
    params = [a.init(seed + i) for i, a in enumerate(actors)]
    cparams = [c.init(10_000 + seed + i) for i, c in enumerate(critics)]
    copt = Adam(lr=critic_lr)
    cstates = [copt.init(c) for c in cparams]
    adam_states = [optimizer.init(p) for p in params] if optimizer else None
    config = dict(env=type(env).__name__, n_envs=B, algorithm=algorithm, seed=seed,
                  alpha=alpha, nu=nu, gamma=gamma, lam=lam, hidden=list(hidden),
                  value_norm=value_norm, fair_values=fair_values,
                  eld=eld, hp={k: v for k, v in hp.items()})
    returns, eld_log, lam_state = [], [], dict(lam=0.0, t=0)
    start = 0
    path = None if checkpoint is None else Path(checkpoint)
    if path is not None and path.is_file():
        with np.load(path, allow_pickle=False) as data:
            meta = json.loads(str(data["meta"]))
            if meta["config"] != json.loads(json.dumps(config)):
                raise ValueError(f"{path} holds a run with another configuration; delete "
                                 f"it or pass another checkpoint path")
            params = [data[f"actor{i}"] for i in range(N)]
            cparams = [data[f"critic{i}"] for i in range(N)]
            cstates = [AdamState(*data[f"cadam{i}"], int(data[f"cadam{i}_t"]))
                       for i in range(N)]
            if optimizer is not None:
                adam_states = [AdamState(*data[f"adam{i}"], int(data[f"adam{i}_t"]))
                               for i in range(N)]
            for i, vn in enumerate(vnorms or []):
                m, sq, d = data[f"vnorm{i}"]
                vn.running_mean, vn.running_mean_sq = np.array([m]), np.array([sq])
                vn.debiasing_term = float(d)
            returns = [r for r in data["returns"]]
            eld_log = [tuple(e) for e in data["eld"]]
            start, lam_state = meta["iteration"], dict(lam=meta["lam"], t=meta["t"])
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=iters, initial=start, desc=f"{algorithm} on {env.name}")
    for it in range(start, iters):
        rng = np.random.default_rng(np.random.SeedSequence([seed, it]))   # resumable
        ep = collect_episodes(env, actors, params, seed * 1_000_003 + it, rng)
        T = ep.actions.shape[0]
        obs = ep.obs                                                   # (T+1, B, N, D)
        V = []
        for i in range(N):
            v = np.asarray(critics[i].forward(cparams[i], obs[:, :, i, :].reshape(-1, D)))
            if vnorms is not None:
                v = np.asarray(vnorms[i].denormalize(v))
            V.append(v.reshape(T + 1, B))
        V = np.stack(V, axis=-1)                                       # (T+1, B, N)
        masks = np.concatenate([np.ones((1, B)), 1.0 - ep.terminated], 0)[..., None]
        masks = np.broadcast_to(masks, (T + 1, B, N))
        adv, ret = gae(ep.rewards, V, gamma, lam, masks=masks)
        alive = ep.alive.reshape(-1) > 0
        for i in range(N):                                             # critics
            x = obs[:T, :, i, :].reshape(-1, D)[alive]
            y = ret[:, :, i].reshape(-1)[alive][:, None]
            if vnorms is not None:
                vnorms[i].update(y)
                y = np.asarray(vnorms[i].normalize(y))
            for _ in range(critic_epochs):
                _, g = critics[i].loss_grad(cparams[i], x, y)
                cparams[i], cstates[i] = copt.step(cparams[i], g, cstates[i])
        if eld is not None:
            adv = eld_advantages(ep.rewards, V[:T], gamma, eld, lam_state, eld_log)
        K = T * B
        flat_adv = adv.reshape(K, N)
        if algorithm == "ippo":
            A = flat_adv
        elif alpha is None:
            A = flat_adv.sum(axis=1)
        else:
            if fair_values == "returns":
                disc = gamma ** np.arange(T)
                v0 = np.broadcast_to(np.einsum("t,tbn->n", disc, ep.rewards) / B, (B, N))
            else:
                v0 = V[0]
            if np.any(nu + v0 <= 0):
                raise ValueError("nu + V_j <= 0: 000's fair weights need rewards >= 0; "
                                 "raise nu or shift the rewards")
            w = (nu + v0) ** (-check_scalar(alpha, "alpha"))             # (B, N)
            A = (np.broadcast_to(w[None], (T, B, N)).reshape(K, N) * flat_adv).sum(axis=1)
        A = np.where(alive[:, None] if A.ndim == 2 else alive, A, 0.0)
        if normalize:
            sel = A[alive]
            A = np.where(alive[:, None] if A.ndim == 2 else alive,
                         (A - sel.mean(axis=0)) / (sel.std(axis=0) + 1e-5), 0.0)
        weights = alive / max(alive.sum(), 1)
        smp = Samples(obs[:T].reshape(K, N, D), np.zeros(K, dtype=np.int64),
                      ep.actions.reshape(K, N), weights, flat_adv, ret.reshape(K, N))
        order = tuple(int(i) for i in rng.permutation(N))
        params, adam_states, _ = heterogeneous_update(
            actors, params, smp, A, order, "hatrpo" if trpo else "ppo",
            adam_states=adam_states, optimizer=optimizer,
            simultaneous=algorithm in ("ippo", "mappo"), **hp)
        returns.append(ep.rewards.sum(axis=0).mean(axis=0))
        if bar is not None:
            bar.update(1)
            bar.set_postfix(ret=f"{float(np.sum(returns[-1])):.3g}")
        if path is not None and ((it + 1) % checkpoint_every == 0 or it + 1 == iters):
            _save(path, it + 1, params, cparams, adam_states, cstates, vnorms, returns,
                  eld_log, lam_state, config)
    if bar is not None:
        bar.close()
    return EnvRun(np.asarray(returns).reshape(-1, N),
                  np.asarray(eld_log).reshape(-1, 2) if eld is not None else None,
                  actors, params, config)
