"""Benchmark of the batched environments (issue 16): agent-steps/s vs batch size.

``envs`` -- Harvest (preset ``anticipation``: 7 x 38, 5 agents, view 5) stepped with random
actions at B = 1, 64, 1024, 16384 (``--quick``: up to 1024) against the per-env Python
implementation :func:`fairmg.testing.envs_reference.harvest_step` looped over the B envs
(the same rules and uniforms; it computes no observations, so the ratio understates
ours). Every other environment at B = 1, 64, 1024 and 16384 (CleanUp at 004's size: 4096,
its observations take 70 kB per env) against B single environments (``n_envs=1``)
stepped in a Python loop: what a per-env vectorised wrapper does. Targets: >= 1e5
agent-steps/s for Harvest on 2 CPU cores at large batch (>= 1e6 on a GPU, not measured
here without one).
"""
from __future__ import annotations

import time

import numpy as np

from .. import envs
from ..testing.envs_reference import harvest_step
from . import Row, Timing, group

STEPS = 5


def _time_env(env, steps=STEPS):
    rng = np.random.default_rng(0)
    _, s = env.reset(0)
    acts = [np.stack([rng.integers(0, n, size=env.n_envs) for n in env.action_sizes], 1)
            for _ in range(steps + 1)]
    t0 = time.perf_counter()
    _, s, *_ = env.step(s, acts[0])
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    for a in acts[1:]:
        _, s, *_ = env.step(s, a)
    return Timing((time.perf_counter() - t0) / steps, first, steps), s, acts


def _time_reference(env, state, acts, n_envs):
    """The per-env loop over min(B, 64) envs for the steps, scaled to B."""
    m = min(n_envs, 64)
    pos = [state.pos[e].tolist() for e in range(m)]
    ori = [state.ori[e].tolist() for e in range(m)]
    apples = [state.apples[e].copy() for e in range(m)]
    t0 = time.perf_counter()
    for k, a in enumerate(acts[1:]):
        for e in range(m):
            pos[e], ori[e], apples[e], _ = harvest_step(env, pos[e], ori[e], apples[e],
                                                        int(state.t[e]) + k, state.keys[e],
                                                        a[e].tolist())
    return (time.perf_counter() - t0) / (len(acts) - 1) * n_envs / m


#: the environments benchmarked against B single envs, with their presets
OTHERS = {"cleanup": dict(preset="anticipation"), "matthew": {}, "job_scheduling": {},
          "exchange": {}, "cooperative_predation": {}, "cooperative_navigation": {}}


def _time_singles(single, acts, n_envs):
    """min(B, 64) single envs (``n_envs=1``) stepped one by one, scaled to B."""
    m = min(n_envs, 64)
    states = [single.reset(e)[1] for e in range(m)]
    t0 = time.perf_counter()
    for a in acts[1:]:
        for e in range(m):
            states[e] = single.step(states[e], a[e:e + 1])[1]
    return (time.perf_counter() - t0) / (len(acts) - 1) * n_envs / m


@group("envs", "batched environments: agent-steps/s vs a per-env Python loop",
       expected_s=(150, 20), order=8)
def envs_group(quick: bool):
    for B in ((1, 64, 1024) if quick else (1, 64, 1024, 16384)):
        env = envs.make("harvest", n_envs=B, preset="anticipation")
        ours, s, acts = _time_env(env)
        base = _time_reference(env, s, acts, B)
        n = B * env.n_agents
        yield Row(f"harvest (7x38, 5 agents) B={B}", ours, {"per-env loop": base}, None,
                  ("per-env loop", 1.0) if B >= 1024 else None,
                  extra={"agent-steps/s": f"{n / ours.best:.3g}",
                         "loop agent-steps/s": f"{n / base:.3g}"},
                  note="target >= 1e5 agent-steps/s on 2 cores" if B == 16384 else "")
    for name, kw in OTHERS.items():
        sizes = (1, 64, 1024) if quick else (1, 64, 1024, 4096 if name == "cleanup" else 16384)
        single = envs.make(name, n_envs=1, **kw)
        for B in sizes:
            env = envs.make(name, n_envs=B, **kw)
            ours, _, acts = _time_env(env)
            base = _time_singles(single, acts, B)
            n = B * env.n_agents
            yield Row(f"{name} B={B}", ours, {"B single envs": base}, None, None,
                      extra={"agent-steps/s": f"{n / ours.best:.3g}",
                             "loop agent-steps/s": f"{n / base:.3g}"})
