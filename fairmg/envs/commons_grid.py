r"""Harvest and CleanUp, the sequential social dilemmas of 000 (App. D.1) and 004 (Sec. 5.1),
batched and functional (issue 16).

Rules (sequential_social_dilemma_games, ``social_dilemmas/envs/{map_env,harvest,cleanup,
agent}.py``, Vinitsky et al.; the papers build on it through SocialJax and Christoffersen et
al. 2023):

* **Actions** (8; CleanUp 9): 0 forward, 1 backward, 2 step left, 3 step right (moves are
  relative to the agent's orientation, as SSD's ``rotate_action``), 4 stay, 5 turn
  clockwise, 6 turn counter-clockwise, 7 fire the penalty beam (zap), 8 fire the cleaning
  beam (CleanUp).
* **Order of a step**: turns and moves (agents in a random priority order, each moving if
  its target cell is free: no wall, no agent standing there at that moment), eating (an
  agent on an apple gets +1 and the apple goes), beams, regrowth, respawn.
* **Beams**: three parallel rays (the agent's cell and the two beside it, SSD's width 3)
  of length ``beam_length`` (5) ahead; a ray stops at a wall and at the first agent it hits
  (agents block beams). A zap costs the firer ``fire_cost`` and the hit agent
  ``hit_penalty`` (SSD: 1 and 50); in the ``alpha_fair`` preset (SocialJax, 000 App. D.3) a
  zapped agent is instead *teleported* to a random free spawn point at no reward cost (agent
  i to entry i of a random order of the free spawn points; it stays put when fewer than
  i + 1 are free, which only tiny maps reach). The
  cleaning ray turns the first waste cell it meets into clean river and stops there.
* **Harvest regrowth** (SSD ``HarvestEnv.spawn_apples``): every empty apple cell with no
  agent regrows with probability ``regrowth[min(k, 3)]``, k the apples at offsets
  :math:`j^2 + l^2 \le` ``radius`` (SSD compares with ``APPLE_RADIUS = 2`` itself, not its
  square: the 3 x 3 block minus nothing, i.e. 8 neighbours), ``regrowth`` = (0, 0.005,
  0.02, 0.05).
* **CleanUp** (SSD ``CleanupEnv.compute_probabilities``): waste density d = the share of
  river cells holding waste; apples spawn on empty orchard cells with probability
  :math:`p_a(1 - (d - d_r)/(d_d - d_r))` clipped to [0, p_a] (0 once d >= ``depletion``
  0.4; p_a = 0.05, d_r = 0), waste on clean river cells with probability ``waste_prob``
  (0.5) while d < ``depletion``, after ``dirt_delay`` steps (000 Table 1: 50; SSD: 0).
* **Observations**: an egocentric window of side ``2 view + 1`` (SSD view 7: 15 x 15)
  rotated so that the agent faces up, one-hot channels (wall or outside, apple, waste,
  clean river, self, other agents), float64, (B, N, 2v+1, 2v+1, 6).

Randomness (spawn points, move priorities, regrowth, waste, teleports) is counter-based
(:mod:`fairmg.envs.base`): a batch equals a loop of single envs bit for bit.

Presets (``preset=``): ``"ssd"`` (SSD constants; maps reconstructed at SSD's sizes),
``"alpha_fair"`` (000 App. D.1: Harvest 22 x 16, CleanUp 28 x 19, 500 steps, zap
teleports, dirt delay 50), ``"anticipation"`` (004 Sec. 5.1: Harvest 7 x 38, CleanUp
11 x 18, 100 steps), ``"tiny"`` (tests). Maps are generated (apple patches / orchard and
river bands, walls around) and the agent counts are ours where the papers do not state
them: both are listed in ``env.reconstructed``.
"""
from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .._validate import check_choice, check_int, check_scalar
from ..sampled.backend import is_numpy_namespace
from .base import Env, StepResult, counter_uniforms

__all__ = ["Harvest", "CleanUp", "GridState", "PRESETS", "N_CHANNELS"]

FORWARD, BACKWARD, LEFT, RIGHT, STAY, TURN_CW, TURN_CCW, ZAP, CLEAN = range(9)
#: Orientation 0 up, 1 right, 2 down, 3 left: (dy, dx) of "forward".
_DIRS = np.array([[-1, 0], [0, 1], [1, 0], [0, -1]], dtype=np.int64)
N_CHANNELS = 6        # wall/outside, apple, waste, clean river, self, other agents
REGROWTH = (0.0, 0.005, 0.02, 0.05)

#: preset -> constants (maps are built from ``height``/``width``).
PRESETS = {
    "ssd": dict(harvest=dict(height=16, width=38, n_agents=5, max_steps=1000),
                cleanup=dict(height=18, width=25, n_agents=5, max_steps=1000),
                fire_cost=1.0, hit_penalty=50.0, teleport=False, dirt_delay=0, view=7),
    "alpha_fair": dict(harvest=dict(height=16, width=22, n_agents=7, max_steps=500),
                       cleanup=dict(height=19, width=28, n_agents=7, max_steps=500),
                       fire_cost=0.0, hit_penalty=0.0, teleport=True, dirt_delay=50,
                       view=7),
    "anticipation": dict(harvest=dict(height=7, width=38, n_agents=5, max_steps=100),
                         cleanup=dict(height=11, width=18, n_agents=5, max_steps=100),
                         fire_cost=1.0, hit_penalty=50.0, teleport=False, dirt_delay=0,
                         view=5),
    "tiny": dict(harvest=dict(height=6, width=7, n_agents=2, max_steps=20),
                 cleanup=dict(height=7, width=7, n_agents=2, max_steps=20),
                 fire_cost=1.0, hit_penalty=50.0, teleport=False, dirt_delay=0, view=2),
}


class GridState(NamedTuple):
    """The state of B envs: ``pos`` (B, N, 2) int64 (row, col), ``ori`` (B, N) int64,
    ``apples`` / ``waste`` (B, H, W) bool, ``t`` (B,) int64 step, ``keys`` (B,) uint64."""

    pos: object
    ori: object
    apples: object
    waste: object
    t: object
    keys: object


def _harvest_map(H, W):
    """Walls around; apple patches (plus shapes) on a regular lattice; spawn points on the
    free cells of the first and last interior rows."""
    walls = np.zeros((H, W), bool)
    walls[0], walls[-1], walls[:, 0], walls[:, -1] = True, True, True, True
    apples = np.zeros((H, W), bool)
    for r in range(2, H - 2, 4):
        for c in range(3, W - 2, 5):
            for dr, dc in ((0, 0), (1, 0), (-1, 0), (0, 1), (0, -1)):
                if 1 <= r + dr < H - 1 and 1 <= c + dc < W - 1:
                    apples[r + dr, c + dc] = True
    if not apples.any():
        apples[H // 2, W // 2] = True
    spawn = np.zeros((H, W), bool)
    spawn[[1, H - 2], 1:W - 1] = True
    spawn &= ~apples
    return walls, apples, np.zeros((H, W), bool), spawn


def _cleanup_map(H, W):
    """Walls around; the river on the left third of the interior columns (waste cells),
    the orchard on the right third, spawn points between."""
    walls = np.zeros((H, W), bool)
    walls[0], walls[-1], walls[:, 0], walls[:, -1] = True, True, True, True
    inner = W - 2
    band = max(1, inner // 3)
    river = np.zeros((H, W), bool)
    river[1:H - 1, 1:1 + band] = True
    orchard = np.zeros((H, W), bool)
    orchard[1:H - 1, W - 1 - band:W - 1] = True
    spawn = np.zeros((H, W), bool)
    spawn[1:H - 1, 1 + band:W - 1 - band] = True
    if not spawn.any():
        spawn[1:H - 1, W // 2] = True
        orchard[:, W // 2] = False
    return walls, orchard, river, spawn


class _CommonsGrid(Env):
    kind = "harvest"

    def __init__(self, n_envs: int = 1, xp=None, *, preset: str = "ssd", **overrides):
        super().__init__(n_envs, xp)
        preset = check_choice(preset, "preset", tuple(PRESETS))
        cfg = dict(PRESETS[preset])
        cfg.update(cfg.pop("harvest") if self.kind == "harvest" else cfg.pop("cleanup"))
        cfg.pop("cleanup" if self.kind == "harvest" else "harvest", None)
        known = set(cfg) | {"beam_length", "regrowth", "radius", "apple_prob", "waste_prob",
                            "depletion", "restoration", "initial_apples", "initial_waste"}
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(f"{self.name}: unknown parameters {sorted(unknown)}; known: "
                            f"{sorted(known)}")
        cfg.update(overrides)
        self.preset = preset
        self.height = check_int(cfg["height"], "height", low=3)
        self.width = check_int(cfg["width"], "width", low=3)
        self.n_agents = check_int(cfg["n_agents"], "n_agents", low=1)
        self.max_steps = check_int(cfg["max_steps"], "max_steps", low=1)
        self.view = check_int(cfg["view"], "view", low=0)
        self.fire_cost = check_scalar(cfg["fire_cost"], "fire_cost")
        self.hit_penalty = check_scalar(cfg["hit_penalty"], "hit_penalty")
        self.teleport = bool(cfg["teleport"])
        self.dirt_delay = check_int(cfg["dirt_delay"], "dirt_delay", low=0)
        self.beam_length = check_int(cfg.get("beam_length", 5), "beam_length", low=1)
        self.regrowth = tuple(float(p) for p in cfg.get("regrowth", REGROWTH))
        self.radius = check_scalar(cfg.get("radius", 2.0), "radius")
        self.apple_prob = check_scalar(cfg.get("apple_prob", 0.05), "apple_prob", upper=1.0)
        self.waste_prob = check_scalar(cfg.get("waste_prob", 0.5), "waste_prob", upper=1.0)
        self.depletion = check_scalar(cfg.get("depletion", 0.4), "depletion", positive=True)
        self.restoration = check_scalar(cfg.get("restoration", 0.0), "restoration")
        H, W = self.height, self.width
        build = _harvest_map if self.kind == "harvest" else _cleanup_map
        self.walls, self.apple_cells, self.river_cells, self.spawn_cells = build(H, W)
        if self.spawn_cells.sum() < self.n_agents:
            raise ValueError(f"{self.name}: {self.n_agents} agents need as many spawn "
                             f"cells; the {H} x {W} map has {int(self.spawn_cells.sum())}")
        self.initial_apples = float(cfg.get("initial_apples", 1.0 if self.kind == "harvest"
                                            else 0.0))
        self.initial_waste = float(cfg.get("initial_waste", 0.0))
        self.action_sizes = (9 if self.kind == "cleanup" else 8,) * self.n_agents
        side = 2 * self.view + 1
        self.obs_shape = (side, side, N_CHANNELS)
        self.reconstructed = ("map layout", "n_agents") + (
            ("teleport semantics",) if self.teleport else ())
        self._spawn_flat = np.flatnonzero(self.spawn_cells.reshape(-1))
        off = [(dy, dx) for dy in range(-2, 3) for dx in range(-2, 3)
               if (dy or dx) and dy * dy + dx * dx <= self.radius]
        self._neigh = np.array(off, dtype=np.int64).reshape(-1, 2)
        v = self.view
        rel = np.array([(dy, dx) for dy in range(-v, v + 1) for dx in range(-v, v + 1)],
                       dtype=np.int64)                     # window rows/cols facing up
        rots = []
        for o in range(4):                                 # rotate "up" into orientation o
            r = rel.copy()
            for _ in range(o):
                r = np.stack([r[:, 1], -r[:, 0]], axis=1)
            rots.append(r)
        self._window = np.stack(rots)                      # (4, side*side, 2)
        # _onehot[i * 5(N+1) + terrain * (N+1) + occupant]: agent i's channels of a cell
        # with terrain 0 floor, 1 wall, 2 apple, 3 waste, 4 river and occupant 0 or j + 1
        N = self.n_agents
        c = np.arange(5 * (N + 1))
        terrain, who = c // (N + 1), c % (N + 1)
        self._onehot = np.concatenate([np.stack(
            [terrain == 1, terrain == 2, terrain == 3, terrain == 4, who == i + 1,
             (who > 0) & (who != i + 1)], axis=-1) for i in range(N)]).astype(np.float64)

    # -- helpers ---------------------------------------------------------------------------
    def _flat(self, rc):
        return rc[..., 0] * self.width + rc[..., 1]

    def _inside(self, rc):
        return ((rc[..., 0] >= 0) & (rc[..., 0] < self.height) & (rc[..., 1] >= 0)
                & (rc[..., 1] < self.width))

    def _occupied(self, pflat):
        """(B, H * W) bool: the cells an agent stands on (``pflat`` (B, N) flat cells)."""
        xp = self.xp
        B = pflat.shape[0]
        if is_numpy_namespace(xp):
            occ = np.zeros((B, self.height * self.width), dtype=bool)
            occ[np.arange(B)[:, None], pflat] = True
            return occ
        cells = xp.arange(self.height * self.width, dtype=xp.int64)
        return xp.any(cells[None, None, :] == pflat[:, :, None], axis=1)

    def _random_spawns(self, keys, t, stream, n, occupied):
        """n distinct free spawn cells per env (B, n) by counter-based priorities."""
        xp = self.xp
        spawn = xp.asarray(self._spawn_flat)
        u = counter_uniforms(keys, t, stream, spawn.shape[0], xp)          # (B, P)
        free = ~xp.take(occupied, spawn, axis=1) if occupied is not None else None
        if free is not None:
            u = xp.where(free, u, xp.asarray(2.0, dtype=xp.float64))
        order = xp.argsort(u, axis=1, stable=True)[:, :n]
        return xp.reshape(xp.take(spawn, xp.reshape(order, (-1,)), axis=0), order.shape)

    def reset(self, seed=None):
        xp = self.xp
        keys, t0 = self._reset_keys(seed)
        B, N, H, W = self.n_envs, self.n_agents, self.height, self.width
        cells = self._random_spawns(keys, t0, 1, N, None)                   # (B, N) flat
        pos = xp.stack([cells // W, cells % W], axis=-1)
        u = counter_uniforms(keys, t0, 2, N, xp)
        ori = xp.astype(xp.floor(u * 4.0), xp.int64)
        ua = xp.reshape(counter_uniforms(keys, t0, 3, H * W, xp), (B, H, W))
        apples = xp.asarray(self.apple_cells)[None, ...] & (ua < self.initial_apples)
        uw = xp.reshape(counter_uniforms(keys, t0, 4, H * W, xp), (B, H, W))
        waste = xp.asarray(self.river_cells)[None, ...] & (uw < self.initial_waste)
        state = GridState(pos, ori, apples, waste, t0, keys)
        return self.observe(state), state

    # -- observation ------------------------------------------------------------------------
    def observe(self, state):
        """(B, N, 2v+1, 2v+1, 6) one-hot windows, rotated so each agent faces up."""
        xp = self.xp
        B, N, H, W, v = self.n_envs, self.n_agents, self.height, self.width, self.view
        i64 = xp.int64
        code = (xp.astype(xp.asarray(self.walls), i64)[None, ...]             # 1 wall
                + 2 * xp.astype(state.apples, i64) + 3 * xp.astype(state.waste, i64)
                + 4 * xp.astype(xp.asarray(self.river_cells)[None, ...] & ~state.waste, i64))
        agent_flat = self._flat(state.pos)                                  # (B, N)
        side = 2 * v + 1
        if is_numpy_namespace(xp):            # a compiled loop, environments in parallel
            from ..kernels import grid_windows
            out = np.empty((B, N, side * side, N_CHANNELS))
            grid_windows(np.ascontiguousarray(np.reshape(code, (B, H * W)), dtype=np.int64),
                         np.ascontiguousarray(agent_flat, dtype=np.int64),
                         np.ascontiguousarray(state.ori, dtype=np.int64), self._window,
                         W, self._onehot, out)
            return np.reshape(out, (B, N, side, side, N_CHANNELS))
        ids = xp.arange(1, N + 1, dtype=i64)
        occ = xp.sum(xp.where(xp.arange(H * W, dtype=i64)[None, None, :]
                              == agent_flat[:, :, None], ids[None, :, None], 0), axis=1)
        # (terrain, occupant) of every cell, the grid padded by v cells of wall
        cell = code * (N + 1) + xp.reshape(occ, (B, H, W))
        Wp = W + 2 * v
        wall = N + 1
        cell = xp.concat([xp.full((B, H, v), wall, dtype=i64), cell,
                          xp.full((B, H, v), wall, dtype=i64)], axis=2)
        cell = xp.concat([xp.full((B, v, Wp), wall, dtype=i64), cell,
                          xp.full((B, v, Wp), wall, dtype=i64)], axis=1)
        # one gather of the window cells (flat offsets per orientation), one of their rows
        base = (state.pos[..., 0] + v) * Wp + state.pos[..., 1] + v         # (B, N)
        off = xp.asarray(self._window[..., 0] * Wp + self._window[..., 1])   # (4, K)
        K = off.shape[1]
        idx = base[:, :, None] + xp.reshape(xp.take(off, xp.reshape(state.ori, (-1,)), axis=0),
                                            (B, N, K))
        got = xp.take_along_axis(xp.reshape(cell, (B, -1)), xp.reshape(idx, (B, N * K)),
                                 axis=1)
        row = (xp.reshape(got, (B, N, K))
               + (xp.arange(N, dtype=i64) * (5 * (N + 1)))[None, :, None])
        obs = xp.take(xp.asarray(self._onehot), xp.reshape(row, (-1,)), axis=0)
        return xp.reshape(obs, (B, N, side, side, N_CHANNELS))

    # -- dynamics ---------------------------------------------------------------------------
    def step(self, state, actions) -> StepResult:
        xp = self.xp
        a = self.check_actions(actions)
        B, N, H, W = self.n_envs, self.n_agents, self.height, self.width
        t, keys = state.t, state.keys
        order = xp.argsort(counter_uniforms(keys, t, 10, N, xp), axis=1, stable=True)
        pos, ori, aflat, wflat, rewards, hit, zap, clean = self._act(state, a, order)
        if self.teleport and bool(xp.any(hit)):
            pflat = self._flat(pos)
            occ = self._occupied(pflat)
            dest = self._random_spawns(keys, t, 11, N, occ)                  # (B, N)
            spawn = xp.asarray(self._spawn_flat)
            n_free = xp.sum(xp.astype(~xp.take(occ, spawn, axis=1), xp.int64), axis=1)
            # hit agent i takes entry i of the random order of free spawn cells; with
            # fewer than i + 1 free cells it stays (entries past n_free are occupied)
            room = xp.arange(N, dtype=xp.int64)[None, :] < n_free[:, None]
            newflat = xp.where(hit & room, dest, pflat)
            pos = xp.stack([newflat // W, newflat % W], axis=-1)
        p_apple, p_waste = self._growth_probabilities(pos, aflat, wflat, t)
        aflat = aflat | (counter_uniforms(keys, t, 12, H * W, xp) < p_apple)
        if self.kind == "cleanup":
            wflat = wflat | (counter_uniforms(keys, t, 13, H * W, xp) < p_waste)
        t1 = t + 1
        new = GridState(pos, ori, xp.reshape(aflat, (B, H, W)), xp.reshape(wflat, (B, H, W)),
                        t1, keys)
        info = {"zaps": xp.sum(xp.astype(zap, xp.int64), axis=1),
                "cleans": xp.sum(xp.astype(clean, xp.int64), axis=1),
                "apples": xp.sum(xp.astype(aflat, xp.int64), axis=1)}
        return StepResult(self.observe(new), new, rewards, xp.zeros((B,), dtype=xp.bool),
                          t1 >= self.max_steps, info)

    def _act(self, state, a, order):
        """The deterministic part of a step, given the agents' move priority ``order``
        (B, N): turns, moves, eating, beams. Returns ``(pos, ori, apples, waste, rewards,
        hit, zap, clean)`` with the grids flattened to (B, H * W)."""
        xp = self.xp
        B, N, H, W = state.pos.shape[0], self.n_agents, self.height, self.width
        dirs = xp.asarray(_DIRS)
        walls = xp.reshape(xp.asarray(self.walls), (-1,))
        # turns
        i64 = xp.int64
        ori = state.ori + xp.astype(a == TURN_CW, i64) - xp.astype(a == TURN_CCW, i64)
        ori = ori % 4
        # moves: forward o, backward o+2, left o+3, right o+1
        rot = (2 * xp.astype(a == BACKWARD, i64) + 3 * xp.astype(a == LEFT, i64)
               + xp.astype(a == RIGHT, i64))
        moving = (a == FORWARD) | (a == BACKWARD) | (a == LEFT) | (a == RIGHT)
        d = xp.reshape(xp.take(dirs, xp.reshape((ori + rot) % 4, (-1,)), axis=0), (B, N, 2))
        target = state.pos + d
        pos = state.pos
        cells = xp.arange(H * W, dtype=xp.int64)
        for k in range(N):
            i = order[:, k]                                                  # (B,)
            onehot_i = i[:, None] == xp.arange(N, dtype=xp.int64)[None, :]  # (B, N)
            tgt = xp.sum(xp.where(onehot_i[..., None], target, 0), axis=1)   # (B, 2)
            mv = xp.any(onehot_i & moving, axis=1)
            tflat = self._flat(tgt)
            occupied = xp.any(self._flat(pos) == tflat[:, None], axis=1)
            ok = mv & ~xp.take(walls, tflat, axis=0) & ~occupied
            pos = xp.where((onehot_i & ok[:, None])[..., None], tgt[:, None, :], pos)
        apples, waste = state.apples, state.waste
        # eating
        pflat = self._flat(pos)                                              # (B, N)
        aflat = xp.reshape(apples, (B, H * W))
        eaten = xp.take_along_axis(aflat, pflat, axis=1)                     # (B, N)
        rewards = xp.astype(eaten, xp.float64)
        at = self._occupied(pflat)                                           # (B, HW)
        aflat = aflat & ~at
        # beams
        zap = a == ZAP
        rewards = rewards - self.fire_cost * xp.astype(zap, xp.float64)
        hit = xp.zeros((B, N), dtype=xp.bool)
        wflat = xp.reshape(waste, (B, H * W))
        clean = a == CLEAN
        fwd = xp.reshape(xp.take(dirs, xp.reshape(ori, (-1,)), axis=0), (B, N, 2))
        side = xp.reshape(xp.take(dirs, xp.reshape((ori + 1) % 4, (-1,)), axis=0),
                          (B, N, 2))
        if self.kind == "harvest":
            hit = self._zap_hits(pos, pflat, fwd, side, zap, walls)
        else:                                # cleaning rays interact: in turn
            for i in range(N):
                firing_z, firing_c = zap[:, i], clean[:, i]
                if not bool(xp.any(firing_z | firing_c)):
                    continue
                for lat in (-1, 0, 1):
                    start = pos[:, i, :] + lat * side[:, i, :]
                    alive = firing_z | firing_c
                    alive = alive & self._inside(start) & ~xp.take(
                        walls, xp.where(self._inside(start), self._flat(start), 0), axis=0)
                    for step_ in range(1, self.beam_length + 1):
                        c = start + step_ * fwd[:, i, :]
                        inside = self._inside(c)
                        cf = xp.where(inside, self._flat(c), 0)
                        alive = alive & inside & ~xp.take(walls, cf, axis=0)
                        on_agent = (pflat == cf[:, None]) & (xp.arange(N)[None, :] != i)
                        blocked = xp.any(on_agent, axis=1)
                        hit = hit | (on_agent & (alive & firing_z)[:, None])
                        if self.kind == "cleanup":
                            at_c = cells[None, :] == cf[:, None]                    # (B, HW)
                            w_here = xp.any(wflat & at_c, axis=1)
                            cleaned = alive & firing_c & w_here & ~blocked
                            wflat = wflat & ~(at_c & cleaned[:, None])
                            alive = alive & ~(firing_c & w_here)
                        alive = alive & ~blocked
        rewards = rewards - self.hit_penalty * xp.astype(hit, xp.float64)
        return pos, ori, aflat, wflat, rewards, hit, zap, clean

    def _zap_hits(self, pos, pflat, fwd, side, zap, walls):
        """(B, N) agents hit by a penalty beam, every agent's three rays at once (without
        cleaning beams the rays do not interact: each stops at a wall or the first agent)."""
        xp = self.xp
        B, N = pflat.shape
        lats = xp.asarray([-1, 0, 1], dtype=xp.int64)
        start = pos[:, :, None, :] + lats[None, None, :, None] * side[:, :, None, :]
        inside = self._inside(start)                                         # (B, N, 3)
        alive = (zap[:, :, None] & inside
                 & ~xp.reshape(xp.take(walls, xp.reshape(xp.where(inside, self._flat(start), 0),
                                                        (-1,)), axis=0), (B, N, 3)))
        others = ~xp.eye(N, dtype=xp.bool)[None, :, None, :]                # firer i, target j
        hit = xp.zeros((B, N), dtype=xp.bool)
        for step_ in range(1, self.beam_length + 1):
            if not bool(xp.any(alive)):
                break
            c = start + step_ * fwd[:, :, None, :]
            inside = self._inside(c)
            cf = xp.where(inside, self._flat(c), 0)                          # (B, N, 3)
            alive = alive & inside & ~xp.reshape(xp.take(walls, xp.reshape(cf, (-1,)),
                                                         axis=0), (B, N, 3))
            on_agent = (pflat[:, None, None, :] == cf[..., None]) & others   # (B, N, 3, N)
            hit = hit | xp.any(on_agent & alive[..., None], axis=(1, 2))
            alive = alive & ~xp.any(on_agent, axis=-1)
        return hit

    def _growth_probabilities(self, pos, aflat, wflat, t):
        """Per-cell probabilities (B, H * W) that an apple grows and that waste appears
        this step, after moves, eating, beams and teleports; zero where nothing can
        appear (walls, occupied or full cells)."""
        xp = self.xp
        B, H, W = pos.shape[0], self.height, self.width
        occ = self._occupied(self._flat(pos))
        empty = xp.reshape(xp.asarray(self.apple_cells), (1, -1)) & ~aflat & ~occ
        if self.kind == "harvest":
            grid = xp.reshape(aflat, (B, H, W))
            i8 = xp.int8                                 # counts <= 24: an eighth the bytes
            count = xp.zeros((B, H, W), dtype=i8)
            padded = xp.concat([xp.zeros((B, 2, W), dtype=i8), xp.astype(grid, i8),
                                xp.zeros((B, 2, W), dtype=i8)], axis=1)
            padded = xp.concat([xp.zeros((B, H + 4, 2), dtype=i8), padded,
                                xp.zeros((B, H + 4, 2), dtype=i8)], axis=2)
            for dy, dx in self._neigh.tolist():
                count = count + padded[:, 2 + dy:2 + dy + H, 2 + dx:2 + dx + W]
            probs = xp.asarray(self.regrowth, dtype=xp.float64)
            p = xp.reshape(xp.take(probs, xp.astype(xp.reshape(
                xp.minimum(count, len(self.regrowth) - 1), (-1,)), xp.int64), axis=0),
                (B, H * W))
            return xp.where(empty, p, 0.0), xp.zeros((B, H * W), dtype=xp.float64)
        river = xp.reshape(xp.asarray(self.river_cells), (1, -1))
        n_river = max(int(self.river_cells.sum()), 1)
        density = xp.sum(xp.astype(wflat & river, xp.float64), axis=1) / n_river
        span = self.depletion - self.restoration
        frac = xp.clip(1.0 - (density - self.restoration) / span, 0.0, 1.0)
        pa = xp.where(density >= self.depletion, 0.0, self.apple_prob * frac)
        pw = self.waste_prob * xp.astype((density < self.depletion)
                                         & (t >= self.dirt_delay), xp.float64)
        return (xp.where(empty, pa[:, None], 0.0),
                xp.where(river & ~wflat, pw[:, None], 0.0))

    def to_game(self, gamma: float = 0.95):
        """The exact :class:`fairmg.MarkovGame` of these dynamics on a tiny grid
        (infinite-horizon, discount ``gamma``); see :func:`fairmg.envs.commons_exact.
        commons_game`, which also maps env states to game states."""
        from .commons_exact import commons_game
        return commons_game(self, gamma).game

    # -- renders ---------------------------------------------------------------------------
    def _layers(self, state, env):
        from ..sampled.backend import to_numpy
        pos = to_numpy(state.pos)[env]
        return (to_numpy(state.apples)[env], to_numpy(state.waste)[env], pos,
                to_numpy(state.ori)[env])

    def render_ascii(self, state, env: int = 0) -> str:
        """``@`` wall, ``a`` apple, ``~`` clean river, ``w`` waste, digits agents
        (``^>v<`` their facing on the line below), ``.`` floor."""
        apples, waste, pos, ori = self._layers(state, env)
        rows = []
        for r in range(self.height):
            line = []
            for c in range(self.width):
                ch = "@" if self.walls[r, c] else "a" if apples[r, c] else \
                    "w" if waste[r, c] else "~" if self.river_cells[r, c] else "."
                line.append(ch)
            rows.append(line)
        for i, (r, c) in enumerate(pos):
            rows[r][c] = str(i % 10)
        facing = " ".join(f"{i}{'^>v<'[o]}" for i, o in enumerate(ori))
        return "\n".join("".join(r) for r in rows) + "\n" + facing

    def render_rgb(self, state, env: int = 0, scale: int = 8) -> np.ndarray:
        """(H * scale, W * scale, 3) uint8: walls grey, apples green, waste brown, river
        blue, agents in distinct colours."""
        apples, waste, pos, _ = self._layers(state, env)
        img = np.full((self.height, self.width, 3), 235, np.uint8)
        img[self.river_cells] = (120, 170, 230)
        img[waste] = (120, 90, 40)
        img[apples] = (40, 170, 60)
        img[self.walls] = (110, 110, 110)
        palette = (np.array([[230, 60, 60], [60, 60, 230], [230, 160, 20], [160, 40, 200],
                             [20, 180, 180], [240, 100, 180], [90, 90, 20], [0, 0, 0],
                             [200, 120, 60], [60, 130, 60]]))
        for i, (r, c) in enumerate(pos):
            img[r, c] = palette[i % len(palette)]
        return np.kron(img, np.ones((scale, scale, 1), np.uint8))


class Harvest(_CommonsGrid):
    """Commons Harvest (SSD; 000 App. D.1; 004 Sec. 5.1): see the module docstring."""

    name = "harvest"
    kind = "harvest"


class CleanUp(_CommonsGrid):
    """CleanUp (SSD; 000 App. D.1; 004 Sec. 5.1): see the module docstring."""

    name = "cleanup"
    kind = "cleanup"
