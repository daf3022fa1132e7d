r"""Sampled Anticipation Sharing and its baselines (004 Alg. 1, eq. (16); issue 15).

The exact dynamics of :mod:`fairmg.dynamics.anticipation` take their expectations from a
*sampler*; :func:`anticipation_sampler` builds one from batched rollouts, so the sampled
algorithms run the same objective and steps as their exact twins::

    sampler = fm.sampled.anticipation_sampler(game, n_envs=256, seed=0)
    run = fm.dynamics.anticipation_sharing(game, theta0, sampler=sampler)

Per iteration the sampler draws B episodes of the current actual policy, forms every agent's
private advantages :math:`\hat A_i` by GAE (004 Table 1: GAE; lambda 0.95 by default) with
per-agent critics, and returns the weighted samples (:mod:`fairmg.sampled.samples`);
:math:`\hat\kappa_i` is the weighted mean of :math:`|\hat A_i|` over the batch (Sec. 4.3,
implementation details) or its max. The ratios of eq. (13) are then evaluated on the
samples' actions by :meth:`~fairmg.dynamics.anticipation.AgentProblem.from_entries`.
``batch="exact"`` gives the infinite batch, on which the sampled runs equal the exact ones.
"""
from __future__ import annotations

import numpy as np

from .._validate import as_rng, check_choice, check_int
from .algorithms import CRITICS, _refit_tabular_critic
from .backend import to_numpy
from .rollouts import rollouts, truncation_horizon
from .samples import WEIGHTINGS, exact_samples, samples_from_rollout

__all__ = ["anticipation_sampler"]


def anticipation_sampler(game, n_envs: int = 256, horizon: int | None = None, seed=0, *,
                         lam: float = 0.95, critic: str = "tabular",
                         weighting: str = "discounted", batch: str = "sampled"):
    r"""A ``sampler(evaluation, kappa_kind)`` for the dynamics of
    :mod:`fairmg.dynamics.anticipation` (``sampler=`` argument).

    Parameters
    ----------
    game : Game
    n_envs, horizon : int
        Episodes per iteration and their length (default: the truncation horizon of
        :func:`~fairmg.sampled.truncation_horizon`).
    seed : int or Generator
        The rollouts' randomness (one stream for the whole run).
    lam : float
        GAE lambda.
    critic : {"tabular", "exact"}
        Per-agent critics (:data:`fairmg.sampled.algorithms.CRITICS`).
    weighting : {"discounted", "uniform"}
        :func:`~fairmg.sampled.samples.samples_from_rollout`.
    batch : {"sampled", "exact"}
        ``"exact"``: every (s, a) with its exact weight and advantage.

    Returns
    -------
    callable
        ``sampler(ev, kappa_kind) -> (states (K,), actions (K, N), weights (K,),
        advantages (N, K), kappa (N,))``, NumPy arrays; ``sampler.returns`` lists each
        iteration's mean discounted return per agent (sampled batches).
    """
    critic = check_choice(critic, "critic", CRITICS)
    weighting = check_choice(weighting, "weighting", WEIGHTINGS)
    batch = check_choice(batch, "batch", ("sampled", "exact"))
    B = check_int(n_envs, "n_envs", low=1)
    if horizon is None:
        r_max = float(np.abs(np.asarray(game.rewards)).max()) if game.is_dense else 1.0
        horizon = min(truncation_horizon(game.gamma, max(r_max, 1e-12)), 10_000)
    T = check_int(horizon, "horizon", low=1)
    rng = as_rng(seed, "seed")
    state = dict(V=np.zeros((game.n_agents, game.n_states)))
    returns = []

    def sampler(ev, kappa_kind):
        if batch == "exact":
            smp = exact_samples(game, ev.policy, evaluation=ev)
        else:
            roll = rollouts(game, ev.policy, B, T, rng)
            if critic == "tabular" and not state.get("fitted"):
                first = samples_from_rollout(roll, state["V"], game.gamma, lam,
                                             weighting=weighting)
                state["V"] = _refit_tabular_critic(state["V"], first, np)
                state["fitted"] = True
            values = ev.values if critic == "exact" else state["V"]
            smp = samples_from_rollout(roll, values, game.gamma, lam, weighting=weighting)
            if critic == "tabular":
                state["V"] = _refit_tabular_critic(state["V"], smp, np)
            disc = game.gamma ** np.arange(T)
            returns.append(np.einsum("t,tbn->n", disc, to_numpy(roll.rewards)) / B)
        w = to_numpy(smp.weights)
        A = to_numpy(smp.advantages).T                                   # (N, K)
        if kappa_kind == "max":
            kap = np.abs(A).max(axis=1)
        else:
            kap = np.abs(A) @ w / w.sum()
        return (to_numpy(smp.states), to_numpy(smp.actions), w, A, kap)

    sampler.returns = returns
    return sampler
