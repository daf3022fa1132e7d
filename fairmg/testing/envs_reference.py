"""A plain per-env Python Harvest step: the test oracle of :mod:`fairmg.envs.commons_grid`
and the per-env baseline of ``fairmg bench --only envs``.

One environment, Python loops over agents, beam cells and grid cells, written from the
rules of the module docstring without the batched code's tricks; it draws the same
counter-based uniforms (so its steps equal the batched env's bit for bit), for the
``ssd``/``anticipation``/``tiny`` presets (no teleport).
"""
from __future__ import annotations

import numpy as np

from ..envs.base import counter_uniforms

__all__ = ["harvest_step"]

_DIRS = [(-1, 0), (0, 1), (1, 0), (0, -1)]


def harvest_step(env, pos, ori, apples, t, key, actions):
    """One step of one Harvest env: ``pos`` list of (r, c), ``ori`` list, ``apples`` (H, W)
    bool array (copied), ``t`` int, ``key`` uint64, ``actions`` list of ints. Returns
    (pos, ori, apples, rewards)."""
    if env.teleport or env.kind != "harvest":
        raise ValueError("the reference covers Harvest without teleport")
    import array_api_compat.numpy as cnp
    H, W, N = env.height, env.width, len(pos)
    keys, tt = np.array([key], np.uint64), np.array([t], np.int64)
    pos, ori, apples = [tuple(p) for p in pos], list(ori), apples.copy()
    for i, a in enumerate(actions):
        if a == 5:
            ori[i] = (ori[i] + 1) % 4
        elif a == 6:
            ori[i] = (ori[i] - 1) % 4
    prio = counter_uniforms(keys, tt, 10, N, cnp)[0]
    for i in sorted(range(N), key=lambda k: (prio[k], k)):
        a = actions[i]
        if a not in (0, 1, 2, 3):
            continue
        dy, dx = _DIRS[(ori[i] + (0, 2, 3, 1)[a]) % 4]
        target = (pos[i][0] + dy, pos[i][1] + dx)
        if not env.walls[target] and target not in pos:
            pos[i] = target
    rewards = [0.0] * N
    for i, p in enumerate(pos):
        if apples[p]:
            rewards[i] += 1.0
            apples[p] = False
    hit = [False] * N
    for i, a in enumerate(actions):
        if a != 7:
            continue
        rewards[i] -= env.fire_cost
        fy, fx = _DIRS[ori[i]]
        sy, sx = _DIRS[(ori[i] + 1) % 4]
        for lat in (-1, 0, 1):
            r, c = pos[i][0] + lat * sy, pos[i][1] + lat * sx
            if not (0 <= r < H and 0 <= c < W) or env.walls[r, c]:
                continue
            for k in range(1, env.beam_length + 1):
                rr, cc = r + k * fy, c + k * fx
                if not (0 <= rr < H and 0 <= cc < W) or env.walls[rr, cc]:
                    break
                others = [j for j, p in enumerate(pos) if p == (rr, cc) and j != i]
                if others:
                    hit[others[0]] = True
                    break
    for j in range(N):
        if hit[j]:
            rewards[j] -= env.hit_penalty
    u = counter_uniforms(keys, tt, 12, H * W, cnp)[0]
    grown = apples.copy()
    for r in range(H):
        for c in range(W):
            if not env.apple_cells[r, c] or apples[r, c] or (r, c) in pos:
                continue
            k = sum(1 for dy, dx in env._neigh.tolist()
                    if 0 <= r + dy < H and 0 <= c + dx < W and apples[r + dy, c + dx])
            if u[r * W + c] < env.regrowth[min(k, len(env.regrowth) - 1)]:
                grown[r, c] = True
    return pos, ori, grown, rewards
