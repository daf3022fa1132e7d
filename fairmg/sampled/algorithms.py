r"""The papers' deep-RL algorithms as practitioners run them, on sampled batches (issue 15).

One step function per algorithm, each acting on weighted :class:`~fairmg.sampled.samples.Samples`
with one actor per agent (HARL's layout: :class:`~fairmg.sampled.networks.TabularPolicy` or
:class:`~fairmg.sampled.networks.MLPPolicy` with one head):

* :func:`hatrpo_agent_step` -- HATRPO's per-agent update (HARL ``hatrpo.py``; 000 Alg. 2):
  :math:`g = \nabla_\theta E[r_\theta M]` at :math:`\theta_k`, CG on the Fisher of the mean
  KL, the step :math:`\sqrt{2\delta/x^\top Fx}\,x`, backtracking line search;
* :func:`ppo_agent_step` -- the clipped objective :math:`E[\min(rM, \mathrm{clip}(r,
  1\pm\epsilon)M)]` (000 eq. (16), HAPPO; IPPO/MAPPO with their M) by ``epochs`` full-batch
  Adam steps;
* :func:`heterogeneous_update` -- the sequential scheme of HATRPO/HAPPO (000 Alg. 2-3): a
  random order, agent :math:`i_m` updated on :math:`M^{i_{1:m}} = (\prod_{l<m}
  \pi_{k+1}^{i_l}/\pi_k^{i_l})\hat A_F`; ``simultaneous=True`` gives IPPO (own advantage) and
  MAPPO (the shared one);
* :func:`train` -- rollouts, critics, advantages (GAE, fair advantage eq. (5) with weights at
  the episode's initial state) and one of ``"hatrpo"``, ``"happo"``, ``"ippo"``,
  ``"mappo"`` per iteration, recorded by the exact driver (:func:`fairmg.dynamics.run.iterate`)
  so every learning curve is the exact value of the sampled iterate.

Validation (``tests/test_sampled_algorithms.py``): on :func:`~fairmg.sampled.samples.exact_samples`
(the infinite batch) :func:`train`'s steps equal the exact engine's
(:func:`fairmg.dynamics.trust_region.hatrpo` / ``happo``) to round-off; on sampled batches
the gradients are unbiased within k standard errors.
"""
from __future__ import annotations


import numpy as np

from .._validate import as_rng, check_choice, check_int, check_scalar
from ..dynamics.run import iterate
from ..dynamics.trust_region import fair_metrics
from ..policy import ProductPolicy
from .backend import namespace, resolve_namespace, to_numpy
from .networks import TabularPolicy
from .optim import Adam, backtracking_line_search, trust_region_step
from .rollouts import rollouts, truncation_horizon
from .samples import exact_samples, fair_advantages, samples_from_rollout

__all__ = ["hatrpo_agent_step", "ppo_agent_step", "heterogeneous_update", "train",
           "ALGORITHMS", "CRITICS", "HATRPO_DEFAULTS", "HAPPO_DEFAULTS", "ELD_DEFAULTS"]

ALGORITHMS = ("hatrpo", "happo", "ippo", "mappo")
#: ``"tabular"``: each agent's V(s) refit every iteration to the weighted mean discounted
#: return seen at s (the MSE minimizer; unvisited states keep their value), first fitted on
#: the first batch before any update (an all-zero critic's uncentred advantages would set
#: Adam's second moments for hundreds of steps); ``"exact"``: the exact values of the
#: current policy (isolates the actors' sampling error).
CRITICS = ("tabular", "exact")
#: HARL ``hatrpo.yaml``: kl_threshold 0.01, CG 10 steps, damping 0.1, backtrack 0.8,
#: accept ratio 0.5, 10 line-search steps.
HATRPO_DEFAULTS = dict(max_kl=0.01, cg_iters=10, damping=0.1, backtrack=0.8,
                       accept_ratio=0.5, ls_steps=10, divergence="kl")
#: 000 Table 5 (clip 0.05, lr 5e-4) and HARL's 5 epochs, full batch, Adam (0.9, 0.999, 1e-8).
HAPPO_DEFAULTS = dict(clip=0.05, lr=5e-4, epochs=5)


def _agent_actions(samples, i):
    return samples.actions[:, i:i + 1]


def _agent_obs(samples, i):
    """Agent i's observations: ``states`` (K,) shared (tabular) or (K, N, D) per agent."""
    return samples.states if len(samples.states.shape) < 3 else samples.states[:, i, :]


def hatrpo_agent_step(actor, params, samples, M, agent: int = 0, *, max_kl: float = 0.01,
                      cg_iters: int = 10, damping: float = 0.1, backtrack: float = 0.8,
                      accept_ratio: float = 0.5, ls_steps: int = 10,
                      divergence: str = "kl"):
    r"""One HATRPO update of one agent (000 Alg. 2 lines 12-14; HARL ``hatrpo.py``).

    Maximizes :math:`L(\theta) = \sum_k w_k\, r_\theta(k)\, M_k`,
    :math:`r_\theta = \pi_\theta(a^i_k|s_k)/\pi_{\theta_k}(a^i_k|s_k)`:
    :math:`g = \nabla L(\theta_k) = \sum_k w_k M_k\nabla\log\pi` (eq. (15)),
    :math:`x = \mathrm{CG}(F + \text{damping}\,I, g)` with the weighted Fisher of the mean
    KL, the step :math:`\sqrt{2\delta/x^\top(F + dI)x}\,x` (eq. (14)), and
    :func:`~fairmg.sampled.optim.backtracking_line_search` on :math:`L` and the weighted
    mean KL.

    Returns
    -------
    params : the new flat parameters (the old ones when the search rejects every point)
    search : :class:`~fairmg.sampled.optim.LineSearchResult`
    """
    obs, a, w = _agent_obs(samples, agent), _agent_actions(samples, agent), samples.weights
    xp = namespace(params, w)
    old_logits = actor.forward(params, obs)
    logp_old = actor.log_prob(params, obs, a)[:, 0]
    g = actor.log_prob_grad(params, obs, a, w * M)
    Avp = actor.fisher_operator(params, obs, divergence=divergence, weights=w)
    step = trust_region_step(Avp, g, max_kl, cg_iters=cg_iters, damping=damping)

    def objective(theta):
        return float(xp.sum(w * M * xp.exp(actor.log_prob(theta, obs, a)[:, 0] - logp_old)))

    def kl(theta):
        return float(actor.kl(theta, obs, old_logits, divergence=divergence, weights=w))

    search = backtracking_line_search(objective, kl, params, step.full_step,
                                      step.expected_improve, max_kl=max_kl,
                                      accept_ratio=accept_ratio, backtrack_coeff=backtrack,
                                      max_steps=ls_steps)
    return search.params, search


def ppo_agent_step(actor, params, adam_state, samples, M, agent: int = 0, *,
                   clip: float = 0.05, epochs: int = 5, optimizer: Adam | None = None):
    r"""``epochs`` full-batch Adam ascent steps on the clipped objective of one agent
    (000 eq. (16), Alg. 3 line 13; PPO's when M is the agent's own advantage),

    .. math:: L(\theta) = \sum_k w_k \min\big(r_\theta(k) M_k,\
              \mathrm{clip}(r_\theta(k), 1-\epsilon, 1+\epsilon) M_k\big),

    whose gradient is :math:`\sum_k w_k M_k r_\theta(k)\nabla\log\pi_\theta(a^i_k|s_k)` over
    the unclipped samples (:math:`M_k > 0, r < 1+\epsilon` or :math:`M_k < 0, r >
    1-\epsilon`). Returns ``(params, adam_state)``; the Adam state persists across
    iterations as one optimizer per actor does.
    """
    optimizer = Adam(lr=5e-4, maximize=True) if optimizer is None else optimizer
    if not optimizer.maximize:
        raise ValueError("ppo_agent_step ascends: pass Adam(..., maximize=True)")
    clip = check_scalar(clip, "clip", positive=True)
    epochs = check_int(epochs, "epochs", low=1)
    obs, a, w = _agent_obs(samples, agent), _agent_actions(samples, agent), samples.weights
    xp = namespace(params, w)
    logp_old = actor.log_prob(params, obs, a)[:, 0]
    for _ in range(epochs):
        r = xp.exp(actor.log_prob(params, obs, a)[:, 0] - logp_old)
        active = xp.astype(((M > 0) & (r < 1.0 + clip)) | ((M < 0) & (r > 1.0 - clip)),
                           xp.float64)
        grad = actor.log_prob_grad(params, obs, a, w * M * r * active)
        params, adam_state = optimizer.step(params, grad, adam_state)
    return params, adam_state


def heterogeneous_update(actors, params, samples, advantage, order, algorithm: str, *,
                         adam_states=None, optimizer=None, simultaneous: bool = False,
                         **hp):
    r"""One iteration of the sequential scheme (000 Alg. 2-3, HARL's ``train``).

    ``advantage`` is (K,) (shared: :math:`\hat A_F`) or (K, N) (agent i uses column i:
    IPPO). Sequentially (default) agent :math:`i_m` sees :math:`M = \hat A
    \prod_{l<m} r^{i_l}` with the ratios of the agents already updated (Alg. 3 line 14);
    ``simultaneous=True`` keeps M = :math:`\hat A` for all (IPPO/MAPPO).

    Returns ``(params, adam_states, accepted)`` (``accepted`` per agent for HATRPO, None
    for the PPO family).
    """
    algorithm = check_choice(algorithm, "algorithm", ("hatrpo", "ppo"))
    params = list(params)
    xp = namespace(samples.weights)
    factor = xp.ones_like(samples.weights)
    accepted = []
    for i in order:
        A = advantage if len(advantage.shape) == 1 else advantage[:, i]
        M = A if simultaneous else factor * A
        a, obs = _agent_actions(samples, i), _agent_obs(samples, i)
        before = actors[i].log_prob(params[i], obs, a)[:, 0]
        if algorithm == "hatrpo":
            params[i], search = hatrpo_agent_step(actors[i], params[i], samples, M, i, **hp)
            accepted.append(search.accepted)
        else:
            params[i], adam_states[i] = ppo_agent_step(actors[i], params[i], adam_states[i],
                                                       samples, M, i, optimizer=optimizer,
                                                       **hp)
        if not simultaneous:
            after = actors[i].log_prob(params[i], obs, a)[:, 0]
            factor = factor * xp.exp(after - before)
    return params, adam_states, (accepted if algorithm == "hatrpo" else None)


# ------------------------------------------------------------------ training loop
def _tabular_actors(game):
    return [TabularPolicy(game.n_states, (n,)) for n in game.action_sizes]


def _split(game, theta, xp):
    return [xp.asarray(np.ascontiguousarray(theta[i, :, :n]).reshape(-1), dtype=xp.float64)
            for i, n in enumerate(game.action_sizes)]


def _join(game, params):
    theta = np.zeros((game.n_agents, game.n_states, game.max_actions))
    for i, n in enumerate(game.action_sizes):
        theta[i, :, :n] = to_numpy(params[i]).reshape(game.n_states, n)
    return theta


def _refit_tabular_critic(V, samples, xp):
    """Each agent's V(s) := the weighted mean return at s over the batch (the MSE fit of a
    table), unvisited states unchanged."""
    V = to_numpy(V).copy()
    s = to_numpy(samples.states)
    w = to_numpy(samples.weights)
    ret = to_numpy(samples.returns)
    tot = np.bincount(s, weights=w, minlength=V.shape[1])
    seen = tot > 0
    for j in range(V.shape[0]):
        num = np.bincount(s, weights=w * ret[:, j], minlength=V.shape[1])
        V[j, seen] = num[seen] / tot[seen]
    return V


def train(game, algorithm: str, iters: int, *, n_envs: int = 256, horizon: int | None = None,
          seed=0, alpha=None, nu: float = 0.1, theta0=None, critic: str = "tabular",
          lam: float = 0.95, weighting: str = "discounted", batch: str = "sampled",
          eld=None, metrics=None, keep="all", progress: bool = False, xp=None, **hp):
    r"""Train tabular actors on ``game`` with a sampled algorithm; an exact learning curve.

    Per iteration: B = ``n_envs`` rollouts of T = ``horizon`` steps (default the horizon at
    which the truncated tail is below 1e-3, :func:`~fairmg.sampled.truncation_horizon`),
    per-agent GAE(gamma, ``lam``) advantages with the critics (``critic``), the fair
    advantage (000 eq. (5); ``alpha=None`` the summed one), then

    * ``"hatrpo"`` / ``"happo"``: :func:`heterogeneous_update` in a random order
      (FHATRPO / FHAPPO, 000 Alg. 2-3, when ``alpha`` is given);
    * ``"mappo"``: all agents at once on the shared advantage (a centralised critic of the
      summed reward);
    * ``"ippo"``: all agents at once, each on its own advantage (``alpha`` must be None).

    ``eld`` (a dict, IPPO/MAPPO backbones) runs 001's Equity-Lagrangian Dual (Alg. 1):
    keys ``tau`` (band, 0), ``eps`` (budget, 0.05), ``eta`` (dual step, 0.1), ``every`` (K
    iterations between dual steps, 1), ``alpha`` (0), ``signal`` ("id"), ``excess``
    ("relative"); the actors' advantages become eq. (13)'s (:func:`fairmg.eld.
    combined_advantages`, baselines: the critic at s_t and the batch mean of the cost at
    t, :math:`\bar s` the batch mean) and ``run.eld`` records lambda and the batch mean
    of :math:`\bar{\mathcal H}` per iteration.

    ``batch="exact"`` replaces the rollouts by :func:`~fairmg.sampled.samples.exact_samples`
    with exact advantages: the infinite-batch limit, which must reproduce
    :func:`fairmg.dynamics.trust_region.hatrpo` / ``happo`` (same ``seed`` gives the same
    orders). ``hp`` overrides :data:`HATRPO_DEFAULTS` or :data:`HAPPO_DEFAULTS`
    (PPO family: ``clip``, ``lr``, ``epochs``).

    Returns
    -------
    Run
        As the exact dynamics' (metrics of the exact evaluation of each iterate:
        ``fair_objective``, ``gini``, ``min_value``), with ``orders``, ``accepted`` and
        ``sampled_returns`` (per iteration, the batch's mean discounted return per agent).
    """
    algorithm = check_choice(algorithm, "algorithm", ALGORITHMS)
    critic = check_choice(critic, "critic", CRITICS)
    batch = check_choice(batch, "batch", ("sampled", "exact"))
    if algorithm == "ippo" and alpha is not None:
        raise ValueError("ippo updates each agent on its own advantage; alpha needs a "
                         "shared (fair) advantage: use 'mappo', 'happo' or 'hatrpo'")
    if eld is not None:
        if algorithm not in ("ippo", "mappo") or batch != "sampled":
            raise ValueError("eld runs on sampled IPPO/MAPPO backbones (episodes are "
                             "needed for its reducer)")
        unknown = set(eld) - set(ELD_DEFAULTS)
        if unknown:
            raise TypeError(f"unknown eld keys {sorted(unknown)}; known: "
                            f"{sorted(ELD_DEFAULTS)}")
        eld = {**ELD_DEFAULTS, **eld}
    B = check_int(n_envs, "n_envs", low=1)
    xp = resolve_namespace(xp)
    if horizon is None:
        r_max = float(np.abs(np.asarray(game.rewards)).max()) if game.is_dense else 1.0
        horizon = min(truncation_horizon(game.gamma, max(r_max, 1e-12)), 10_000)
    T = check_int(horizon, "horizon", low=1)
    theta = np.zeros((game.n_agents, game.n_states, game.max_actions)) if theta0 is None \
        else np.asarray(theta0, dtype=np.float64)
    if theta.shape != (game.n_agents, game.n_states, game.max_actions):
        raise ValueError(f"theta0 must have shape {(game.n_agents, game.n_states, game.max_actions)}")
    trpo = algorithm == "hatrpo"
    defaults = HATRPO_DEFAULTS if trpo else HAPPO_DEFAULTS
    unknown = set(hp) - set(defaults)
    if unknown:
        raise TypeError(f"unknown hyper-parameters for {algorithm}: {sorted(unknown)}; "
                        f"known: {sorted(defaults)}")
    hp = {**defaults, **hp}
    optimizer = None
    if not trpo:
        optimizer = Adam(lr=hp.pop("lr"), maximize=True)
    order_rng = as_rng(seed, "seed")
    roll_rng = np.random.default_rng(np.random.SeedSequence(
        seed if isinstance(seed, (int, np.integer)) else 0).spawn(1)[0])
    actors = _tabular_actors(game)
    adam_states = [optimizer.init(p) for p in _split(game, theta, xp)] if optimizer else None
    V = np.zeros((game.n_agents, game.n_states))
    orders, accepted, sampled = [], [], []
    state = dict(adam=adam_states, V=V, lam=0.0, t=0)
    eld_log = []

    def step(theta, ev):
        params = _split(game, theta, xp)
        pol = ev.policy
        if batch == "exact":
            smp = exact_samples(game, pol, evaluation=ev, xp=xp)
            ctx_values = ev.values
        else:
            roll = rollouts(game, pol, B, T, roll_rng, xp=xp)
            if critic == "tabular" and not orders:
                # warm start: fit the critics on the first batch before any advantage, so
                # Adam's moments never see the advantages of an all-zero critic
                first = samples_from_rollout(roll, state["V"], game.gamma, lam,
                                             weighting=weighting)
                state["V"] = _refit_tabular_critic(state["V"], first, xp)
            values = ev.values if critic == "exact" else state["V"]
            smp = samples_from_rollout(roll, values, game.gamma, lam, weighting=weighting)
            if critic == "tabular":
                state["V"] = _refit_tabular_critic(state["V"], smp, xp)
            ctx_values = values
            disc = xp.asarray([game.gamma ** t for t in range(T)], dtype=xp.float64)
            sampled.append(to_numpy(xp.mean(xp.sum(disc[:, None, None] * roll.rewards,
                                                   axis=0), axis=0)))
        if eld is not None:
            smp = _eld_samples(smp, roll, values, game.gamma, eld, state, eld_log, B, T)
        if algorithm == "ippo":
            adv = smp.advantages
        else:
            adv = fair_advantages(smp, ctx_values, alpha, nu)
        simultaneous = algorithm in ("ippo", "mappo")
        order = tuple(int(i) for i in order_rng.permutation(game.n_agents))
        new, state["adam"], acc = heterogeneous_update(
            actors, params, smp, adv, order, "hatrpo" if trpo else "ppo",
            adam_states=state["adam"], optimizer=optimizer, simultaneous=simultaneous,
            **hp)
        orders.append(order)
        accepted.append(acc)
        return _join(game, new)

    a = None if alpha is None else check_scalar(alpha, "alpha")
    name = f"sampled-{algorithm}" + ("" if a is None else f"(alpha={a})")
    run = iterate(game, theta, step, lambda th: ProductPolicy.from_logits(game, th), iters,
                  name=name, params=dict(algorithm=algorithm, alpha=a, nu=nu, n_envs=B,
                                         horizon=T, seed=seed, critic=critic, lam=lam,
                                         weighting=weighting, batch=batch, **hp),
                  metrics=fair_metrics(a, nu) if metrics is None else metrics, keep=keep,
                  progress=progress)
    run.orders, run.accepted = orders, accepted
    run.sampled_returns = np.asarray(sampled) if sampled else None
    run.eld = np.asarray(eld_log) if eld is not None else None
    return run


#: 001's ELD settings (Alg. 1); ``eps`` and ``eta`` are ours (the paper gives none).
ELD_DEFAULTS = dict(tau=0.0, eps=0.05, eta=0.1, every=1, alpha=0.0, signal="id",
                    excess="relative")


def _eld_samples(smp, roll, values, gamma, cfg, state, log, B, T):
    """Replace the samples' advantages by 001 eq. (13) and take the dual step (10)."""
    rewards = to_numpy(roll.rewards)                                     # (T, B, N)
    st = to_numpy(roll.states)[:T]                                      # (T, B)
    b_eff = np.transpose(to_numpy(values)[:, st], (1, 2, 0))             # (T, B, N)
    A = eld_advantages(rewards, b_eff, gamma, cfg, state, log)
    xp = namespace(smp.weights)
    return smp._replace(advantages=xp.asarray(A.reshape(T * B, -1), dtype=xp.float64))


def eld_advantages(rewards, b_eff, gamma: float, cfg: dict, state: dict, log: list):
    r"""001 Alg. 1 lines 4-7 on B episodes ``rewards`` (T, B, N): the reducer on
    :math:`x = \sum_t r_t`, the dual step (10) every ``cfg["every"]`` calls (``state``
    holds ``lam`` and the call count ``t``), and eq. (13) with the action-independent
    baselines ``b_eff`` (T, B, N) (the critics) and the batch means of the cost at t and of
    s. Appends ``(lambda, mean H_bar)`` to ``log``; returns A (T, B, N)."""
    from .. import eld
    T = rewards.shape[0]
    hbar, s = eld.episode_equity(rewards.sum(axis=0), cfg["tau"], excess=cfg["excess"])
    if state["t"] % cfg["every"] == 0 and state["t"] > 0:
        state["lam"] = eld.dual_step(state["lam"], float(hbar.mean()) - cfg["eps"],
                                     cfg["eta"])
    state["t"] += 1
    lam = state["lam"]
    decay = gamma ** (T - 1 - np.arange(T))
    cost = decay[:, None, None] * (s[None] if cfg["signal"] == "id"
                                   else hbar[None, :, None])
    log.append((lam, float(hbar.mean())))
    return eld.combined_advantages(rewards, gamma, lam, s, hbar, signal=cfg["signal"],
                                   alpha=cfg["alpha"], b_eff=b_eff,
                                   b_eq=cost.mean(axis=1, keepdims=True),
                                   s_bar=s.mean(axis=0))
