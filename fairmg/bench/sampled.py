"""Benchmarks of the sampled mode (issue 15, item 7).

* ``rollouts`` -- env-steps/s of :func:`fairmg.sampled.rollouts` on a dense game (16
  states, 3 x 3 actions, T = 100) at B = 1, 64, 1024, 16384 against a straightforward
  per-episode Python loop (:func:`per_episode_rollouts`: one episode at a time, one NumPy
  draw per step), the alternative a researcher writes first; both estimate V(mu) and the
  two estimates are checked to agree within 5 standard errors. Target: >= 50x at B = 1024.
* ``updates`` -- updates/s of :func:`fairmg.sampled.train` (HAPPO and HATRPO, one
  iteration = rollouts + critics + GAE + the sequential update of every agent) vs B; no
  baseline exists outside fairmg (HARL runs torch networks), so the row reports the time
  and the share spent in the rollouts.
"""
from __future__ import annotations

import time

import numpy as np

from .. import games
from ..policy import ProductPolicy
from ..sampled import rollouts, train
from . import Row, Timing, group, timed

HORIZON = 100


def per_episode_rollouts(game, probs, n_envs: int, horizon: int, seed=0) -> np.ndarray:
    """The baseline: every episode in turn, every step one ``rng.random`` and
    ``searchsorted`` per agent and one for the next state. Returns the discounted returns
    (B, N)."""
    rng = np.random.default_rng(seed)
    P, R, mu = game.transition, game.rewards, game.initial
    sizes = game.action_sizes
    strides = np.cumprod((1,) + tuple(sizes[::-1]))[:-1][::-1]
    cdf_pi = np.cumsum(probs, axis=2)
    cdf_P = np.cumsum(P, axis=2)
    cdf_mu = np.cumsum(mu)
    out = np.zeros((n_envs, game.n_agents))
    for b in range(n_envs):
        s = min(int(np.searchsorted(cdf_mu, rng.random(), side="right")), len(mu) - 1)
        disc = 1.0
        for _ in range(horizon):
            u = rng.random(game.n_agents + 1)
            a = 0
            for i, n in enumerate(sizes):
                ai = min(int(np.searchsorted(cdf_pi[i, s, :n], u[i] * cdf_pi[i, s, n - 1],
                                             side="right")), n - 1)
                a += ai * int(strides[i])
            out[b] += disc * R[:, s, a]
            disc *= game.gamma
            s = min(int(np.searchsorted(cdf_P[s, a], u[-1] * cdf_P[s, a, -1],
                                        side="right")), game.n_states - 1)
    return out


def _game():
    g = games.random_game(16, (3, 3), 0.95, rng=0)
    theta = np.random.default_rng(1).normal(size=(2, 16, 3))
    return g, ProductPolicy.from_logits(g, theta)


@group("rollouts", "sampled rollouts: env-steps/s vs a per-episode Python loop",
       expected_s=(40, 8), order=6)
def rollouts_group(quick: bool):
    g, pol = _game()
    disc = g.gamma ** np.arange(HORIZON)
    for B in ((1, 64, 1024) if quick else (1, 64, 1024, 16384)):
        ours = timed(lambda: rollouts(g, pol, B, HORIZON, 0), repeat=3, min_total_s=0.2,
                     max_repeat=10)
        nb = min(B, 256)                          # the loop is linear in B: time 256 at most
        base = timed(lambda: per_episode_rollouts(g, pol.probs, nb, HORIZON, 0), repeat=1,
                     min_total_s=0.0, max_repeat=1)
        base_B = base.best * B / nb
        roll = rollouts(g, pol, B, HORIZON, 0)
        G = np.einsum("t,tbn->bn", disc, np.asarray(roll.rewards))
        Gb = per_episode_rollouts(g, pol.probs, max(nb, 64), HORIZON, 1)
        se = np.sqrt(G.var(0, ddof=1) / len(G) + Gb.var(0, ddof=1) / len(Gb)) \
            if len(G) > 1 else np.inf
        if np.any(np.abs(G.mean(0) - Gb.mean(0)) > 5 * se):
            raise AssertionError("rollouts and the per-episode loop disagree on V(mu)")
        steps = B * HORIZON
        yield Row(f"rollouts B={B}, T={HORIZON}, S=16, 3x3 actions", ours,
                  {"per-episode loop": base_B}, None,
                  ("per-episode loop", 50.0) if B == 1024 else None,
                  extra={"env-steps/s": f"{steps / ours.best:.3g}",
                         "loop env-steps/s": f"{steps / base_B:.3g}"},
                  note="" if nb == B else f"loop timed on {nb} episodes, scaled to B")


@group("updates", "sampled HAPPO/HATRPO: updates/s vs batch", expected_s=(30, 6),
       order=7)
def updates_group(quick: bool):
    g = games.commons(n_agents=2)
    for algo in ("happo", "hatrpo"):
        for B in ((16, 256) if quick else (16, 256, 4096)):
            t0 = time.perf_counter()
            train(g, algo, 1, n_envs=B, seed=0, metrics=())
            first = time.perf_counter() - t0
            iters = 5
            t0 = time.perf_counter()
            train(g, algo, iters, n_envs=B, seed=0, metrics=())
            per = (time.perf_counter() - t0) / iters
            r0 = time.perf_counter()
            rollouts(g, ProductPolicy.uniform(g), B, 88, 0)
            roll = time.perf_counter() - r0
            yield Row(f"sampled {algo} one iteration, B={B} episodes x T=88, 2 agents",
                      Timing(per, first, iters), {}, None, None,
                      extra={"updates/s": f"{1 / per:.3g}",
                             "rollout share": f"{min(roll / per, 1):.0%}"})
