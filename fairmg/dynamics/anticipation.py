r"""Anticipation Sharing (004, Sec. 4.3, eq. (16), Algorithm 1) and its baselines, exactly.

Every dynamic here is an exact, tabular reading: expectations over
:math:`s\sim(1-\gamma)d^{\pi_{old}}` (the *normalized* visitation: the paper's objective is
a mean over on-policy samples) and :math:`\mathbf a\sim\pi_{old}` are sums over all states
and joint actions, :math:`\hat A_i` is the exact joint advantage
:math:`A_i^{\pi_{old}}(s,\mathbf a)` (GAE with exact values and :math:`\lambda=1` is
unbiased for it), and each iteration takes ``epochs`` (K) steps of plain gradient ascent
with the exact gradient of the (piecewise smooth) objective, the clip branches and the
indicator sets of eq. (14) being re-evaluated at every epoch (they are constant a.e.).

The state of every dynamic is one logit array ``theta[i, j, s, a_j]`` (N, N, S, A_max):
row ``[i, i]`` is agent i's own policy, row ``[i, j]`` its anticipation of agent j (AS) or
its copy of agent j's policy (PS). ``run.thetas`` keeps it; the actual policy is the
diagonal.

Agents update simultaneously (Jacobi): every agent uses the distributions shared at the
start of the iteration (:math:`\pi^{jj}_{old}`, :math:`\pi^{ji}_{old}`). Algorithm 1 loops
over agents and re-shares after each update; with exact expectations over a fixed
:math:`\pi_{old}` the only difference is which copy of the shared distributions the
penalty targets, and we keep the symmetric reading.

Baselines (Sec. 5.2 and Fig. 6), all with the same clipped PPO machinery:

* ``independent``: every agent maximizes its own clipped objective on its private
  advantage :math:`A_i` (AS with no neighbours: independent PPO, the selfish dynamic).
* ``centralised``: one policy over joint actions on the team reward :math:`\sum_i r^i`
  (a one-agent game whose actions are the joint actions; centralized PPO of Fig. 6).
* ``value_sharing`` (VS, Du et al. 2022): agent i's advantage is the average of the
  advantages of its closed neighbourhood, :math:`\hat A_i = \frac{1}{|\mathcal N_i|+1}
  \sum_{j\in\{i\}\cup\mathcal N_i} A_j` (shared value outputs, averaged).
* ``value_parameter_sharing`` (VPS, Zhang et al. 2018b): agent i holds a critic table
  :math:`U_i(s,\mathbf a)`; each iteration one critic step towards its own exact Q
  (step ``beta``) followed by one consensus average over the closed neighbourhood,
  :math:`U_i \leftarrow \sum_j W_{ij}(U_j + \beta(Q_j^{\pi} - U_j))`; the policy step uses
  :math:`\hat A_i = U_i - E_{\pi_{old}}U_i`. With ``beta = 1`` it is VS on Q.
* ``policy_sharing`` (PS, Zhang & Zavlanos 2019): agent i holds a copy of the whole
  product policy, ascends its private clipped objective (joint ratio clipped) over every
  factor of its copy, then averages logits with its neighbours,
  :math:`\Theta^{(i)} \leftarrow \sum_j W_{ij}\Theta^{(j)}`; agent i acts with factor i
  of its copy.

:math:`W` is the uniform average over the closed neighbourhood :math:`\{i\}\cup\mathcal N_i`.
"""
from __future__ import annotations

import numpy as np

from .. import anticipation as an
from .._validate import (as_float_array, as_rng, check_choice, check_int, check_scalar)
from ..games.dense import MarkovGame
from ..policy import ProductPolicy
from .run import iterate

__all__ = ["anticipation_sharing", "independent_ppo", "centralised_ppo", "value_sharing",
           "value_parameter_sharing", "policy_sharing", "neighbourhoods", "as_objective",
           "as_gradient", "AgentProblem", "solve_problem_12",
           "ideal_anticipation_sharing"]


# ------------------------------------------------------------------ neighbourhoods
def neighbourhoods(n_agents: int, neighbours, rng=None) -> np.ndarray:
    """The directed graph ``adj[i, j]`` (agent i receives from j), no self loops.

    ``"all"``, ``"ring"`` (i-1, i+1), ``"none"``, ``"random"`` (each agent one uniformly
    drawn other agent, fresh each call: the scalability protocol of Sec. 5.3), or an
    (N, N) boolean array.
    """
    N = n_agents
    if isinstance(neighbours, str):
        kind = check_choice(neighbours, "neighbours", ("all", "ring", "none", "random"))
        adj = np.zeros((N, N), bool)
        if kind == "all":
            adj[:] = True
        elif kind == "ring" and N > 1:
            for i in range(N):
                adj[i, (i - 1) % N] = adj[i, (i + 1) % N] = True
        elif kind == "random" and N > 1:
            rng = as_rng(rng, "seed")
            for i in range(N):
                others = [j for j in range(N) if j != i]
                adj[i, others[int(rng.integers(len(others)))]] = True
    else:
        adj = np.asarray(neighbours)
        if adj.shape != (N, N):
            raise ValueError(f"neighbours must be 'all', 'ring', 'none', 'random' or an "
                             f"({N}, {N}) boolean adjacency, got shape {adj.shape}")
        adj = adj.astype(bool).copy()
    np.fill_diagonal(adj, False)
    return adj


def _consensus_weights(adj: np.ndarray) -> np.ndarray:
    W = adj.astype(float) + np.eye(adj.shape[0])
    return W / W.sum(axis=1, keepdims=True)


# ------------------------------------------------------------------ one agent's problem
def _softmax_rows(theta, sizes):
    out = np.zeros_like(theta)
    for j, n in enumerate(sizes):
        z = theta[j, :, :n] - theta[j, :, :n].max(axis=1, keepdims=True)
        e = np.exp(z)
        out[j, :, :n] = e / e.sum(axis=1, keepdims=True)
    return out


class AgentProblem:
    r"""Agent i's dual-clipped objective (16) at fixed old/shared quantities, as a weighted
    sum over entries :math:`(s_k, \mathbf a_k, w_k, \hat A_k)`.

    The exact objective's entries are every (s, a) with :math:`w = \bar d(s)\pi_{old}(a|s)`
    (this constructor); a sampled batch's are its samples
    (:meth:`from_entries`; :mod:`fairmg.sampled.anticipation`). Expectations are
    :math:`\sum_k w_k f_k`; the state weights of the penalties are
    :math:`\sum_{k: s_k = s} w_k\,\mathbb I_X(k)`.

    Parameters
    ----------
    game : Game
        Its joint (S, A) table must fit.
    dbar : ndarray (S,)
        :math:`(1-\gamma)d^{\pi_{old}}`.
    joint_old : ndarray (S, A)
        :math:`\pi_{old}(\mathbf a|s)`, the actual joint policy that generated the data.
    adv : ndarray (S, A)
        :math:`\hat A_i(s, \mathbf a)`.
    agent : int
    rows : sequence of int
        The neighbours :math:`\mathcal N_i` whose anticipations agent i optimizes.
    probs_old : ndarray (N, S, A_max)
        Agent i's own rows at the start of the iteration (:math:`\pi^{ii}_{old}`,
        :math:`\pi^{ij}_{old}`): the ratios' denominators, eq. (13).
    shared : ndarray (N, N, S, A_max)
        Everyone's distributions at the start of the iteration; the penalty targets
        :math:`\pi^{jj}` and :math:`\pi^{ji}` are read from it.
    rho, kappa_i, clip : float
    clip_on : {"own", "joint"}
        ``"own"``: eq. (16), only :math:`\xi_i` is clipped; ``"joint"``: the whole ratio
        :math:`\xi_i\xi_{\mathcal N_i}` (PPO on a joint policy, used by PS).
    """

    def __init__(self, game, dbar, joint_old, adv, agent, rows, probs_old, shared, rho,
                 kappa_i, clip, clip_on="own"):
        S, A = game.n_states, game.n_joint_actions
        self._setup(game, np.repeat(np.arange(S), A), np.tile(game.joint_actions, (S, 1)),
                    (dbar[:, None] * joint_old).reshape(-1), np.asarray(adv).reshape(-1),
                    agent, rows, probs_old, shared, rho, kappa_i, clip, clip_on)

    @classmethod
    def from_entries(cls, game, states, actions, weights, adv, agent, rows, probs_old,
                     shared, rho, kappa_i, clip, clip_on="own"):
        """The objective over K weighted entries: ``states`` (K,), joint ``actions``
        (K, N), ``weights`` (K,), advantages ``adv`` (K,); other arguments as the
        constructor's."""
        self = cls.__new__(cls)
        self._setup(game, np.asarray(states), np.asarray(actions), np.asarray(weights),
                    np.asarray(adv), agent, rows, probs_old, shared, rho, kappa_i, clip,
                    clip_on)
        return self

    def _setup(self, game, states, actions, w, adv, agent, rows, probs_old, shared, rho,
               kappa_i, clip, clip_on):
        self.game, self.i, self.rows = game, int(agent), tuple(int(j) for j in rows)
        self.s, self.act, self.w, self.adv = states, actions, w, adv
        self.sizes = game.action_sizes
        self.probs_old, self.shared = probs_old, shared
        self.rho, self.kappa, self.clip, self.clip_on = rho, kappa_i, clip, clip_on

    def _at(self, table, j):
        """Agent j's probability of its action in every entry: ``table[s_k, a_k^j]``."""
        return table[self.s, self.act[:, j]]

    def _per_state(self, x):
        return np.bincount(self.s, weights=x, minlength=self.game.n_states)

    def _parts(self, probs):
        i, eps = self.i, self.clip
        xi = self._at(probs[i], i) / self._at(self.probs_old[i], i)
        xin = np.ones_like(xi)
        for j in self.rows:
            xin = xin * self._at(probs[j], j) / self._at(self.probs_old[j], j)
        A = self.adv
        if self.clip_on == "own":
            r = xi
            unclipped = ~(((A > 0) & (r > 1 + eps)) | ((A < 0) & (r < 1 - eps)))
            term = xin * np.minimum(r * A, np.clip(r, 1 - eps, 1 + eps) * A)
        else:
            r = xi * xin
            unclipped = ~(((A > 0) & (r > 1 + eps)) | ((A < 0) & (r < 1 - eps)))
            term = np.minimum(r * A, np.clip(r, 1 - eps, 1 + eps) * A)
        # indicator sets of eq. (14), per entry, and the state weights of the penalties
        Wij, Wii = {}, {}
        for j in self.rows:
            rij = self._at(probs[j], j) / self._at(self.shared[j, j], j)
            Wij[j] = self._per_state(self.w * (rij * A >= A))
            rii = self._at(probs[i], i) / self._at(self.shared[j, i], i)
            Wii[j] = self._per_state(self.w * (rii * A >= A))
        return xi, xin, r, unclipped, term, Wij, Wii

    def value(self, theta_rows) -> float:
        """The objective (16) at agent i's logit rows ``theta_rows`` (N, S, A_max)."""
        probs = _softmax_rows(theta_rows, self.sizes)
        _, _, _, _, term, Wij, Wii = self._parts(probs)
        val = float(np.sum(self.w * term))
        i, c = self.i, self.kappa * self.rho
        for j in self.rows:
            val -= c * float(np.sum(Wij[j] * np.sum((probs[j] - self.shared[j, j]) ** 2, -1)))
            val -= c * float(np.sum(Wii[j] * np.sum((probs[i] - self.shared[j, i]) ** 2, -1)))
        return val

    def gradient(self, theta_rows) -> np.ndarray:
        """Exact gradient of :meth:`value` (indicators and clip branches held at their
        current values, which is the gradient wherever it exists), shape (N, S, A_max),
        zero outside rows ``{i} U rows``."""
        probs = _softmax_rows(theta_rows, self.sizes)
        xi, xin, r, unclipped, term, Wij, Wii = self._parts(probs)
        i, A, c = self.i, self.adv, self.kappa * self.rho
        S = self.game.n_states
        grad = np.zeros_like(theta_rows)
        if self.clip_on == "own":
            g_own = self.w * xin * xi * A * unclipped        # d/dlog pi^ii(a_i)
            g_nb = self.w * term                             # d/dlog pi^ij(a_j)
        else:
            g_own = g_nb = self.w * r * A * unclipped
        dprob = {}                                           # d value / d probs (penalties)
        for j in (i,) + self.rows:
            dprob[j] = np.zeros_like(probs[j])
        for j in self.rows:
            dprob[j] -= 2 * c * Wij[j][:, None] * (probs[j] - self.shared[j, j])
            dprob[i] -= 2 * c * Wii[j][:, None] * (probs[i] - self.shared[j, i])
        for j in (i,) + self.rows:
            n = self.sizes[j]
            flat = self.s * n + self.act[:, j]               # d/dlog pi summed per (s, b)
            G = np.bincount(flat, weights=g_own if j == i else g_nb,
                            minlength=S * n).reshape(S, n)
            p = probs[j, :, :n]
            h = G + p * dprob[j][:, :n]                   # d/dlog pi, penalty via p dV/dp
            grad[j, :, :n] = h - p * h.sum(axis=1, keepdims=True)
        return grad


def as_objective(problem: AgentProblem, theta_rows) -> float:
    """:meth:`AgentProblem.value` (eq. (16))."""
    return problem.value(theta_rows)


def as_gradient(problem: AgentProblem, theta_rows) -> np.ndarray:
    """:meth:`AgentProblem.gradient`."""
    return problem.gradient(theta_rows)


# ------------------------------------------------------------------ the engine
def _state0(game, theta0):
    N, S, Am = game.n_agents, game.n_states, game.max_actions
    th = as_float_array(theta0, "theta0", None, max_magnitude=1e6)
    if th.shape == (N, S, Am):                    # anticipations start at the actual policies
        th = np.broadcast_to(th[None], (N, N, S, Am)).copy()
    if th.shape != (N, N, S, Am):
        raise ValueError(f"theta0 must have shape (N, S, A_max) = {(N, S, Am)} (own logits; "
                         f"anticipations start equal to them) or (N, N, S, A_max), got "
                         f"{th.shape}")
    return np.where(game.action_mask[None, :, None, :], th, 0.0)


def _all_probs(game, theta):
    return np.stack([_softmax_rows(theta[i], game.action_sizes) for i in range(len(theta))])


def _diag_policy(game, theta):
    idx = np.arange(game.n_agents)
    return ProductPolicy.from_logits(game, theta[idx, idx])


def _engine(game, theta0, *, name, params, iters, epochs, lr, rho, clip, clip_on,
            kappa_kind, graph, communicate_every, seed, advantage_fn, rows_fn,
            consensus=False, metrics=None, keep="all", progress=False, sampler=None):
    if sampler is None:
        game.check_joint_size("the joint tables of the exact PPO objectives")
    elif not callable(sampler):
        raise TypeError(f"sampler must be a callable (evaluation, kappa_kind) -> entries, "
                        f"got {type(sampler).__name__}")
    iters = check_int(iters, "iters", low=0)
    epochs = check_int(epochs, "epochs", low=1)
    lr = check_scalar(lr, "lr", positive=True)
    rho = check_scalar(rho, "rho")
    if rho < 0:
        raise ValueError(f"rho must be >= 0, got {rho}")
    clip = check_scalar(clip, "clip", positive=True)
    every = check_int(communicate_every, "communicate_every", low=1)
    rng = as_rng(seed, "seed")
    state0 = _state0(game, theta0)
    N = game.n_agents
    disc, graphs, t_count = [], [], [0]

    def to_policy(theta):
        disc.append(an.discrepancy_mse(game, _all_probs(game, theta)))
        return _diag_policy(game, theta)

    def step(theta, ev):
        t = t_count[0]
        t_count[0] += 1
        adj = (neighbourhoods(N, graph, rng) if t % every == 0
               else np.zeros((N, N), bool))
        graphs.append(adj)
        shared = _all_probs(game, theta)
        if sampler is None:
            dbar = (1.0 - game.gamma) * ev.visitation
            joint_old = ev.policy.joint_probs()
            A = ev.q - ev.values[:, :, None]
            kap = an.kappa(game, ev.policy, kappa_kind, evaluation=ev)
        else:
            states, actions, weights, A, kap = sampler(ev, kappa_kind)
        adv = advantage_fn(A, adj, ev)
        new = theta.copy()
        for i in range(N):
            rows = rows_fn(i, adj)
            args = (i, rows, shared[i], shared, rho if rows else 0.0, float(kap[i]), clip,
                    clip_on)
            if sampler is None:
                prob = AgentProblem(game, dbar, joint_old, adv[i], *args)
            else:
                prob = AgentProblem.from_entries(game, states, actions, weights, adv[i],
                                                 *args)
            th = theta[i].copy()
            for _ in range(epochs):
                th = th + lr * prob.gradient(th)
            new[i] = th
        if consensus and adj.any():
            W = _consensus_weights(adj)
            new = np.einsum("ij,jnsa->insa", W, new)
        return new

    run = iterate(game, state0, step, to_policy, iters, name=name, params=params,
                  metrics=("welfare", "values") if metrics is None else metrics, keep=keep,
                  store="thetas", progress=progress)
    run.metrics["discrepancy"] = np.array(disc)
    run.graphs = graphs
    return run


def _own_advantage(A, adj, ev):
    return A


def anticipation_sharing(game, theta0, rho: float = 0.1, clip: float = 0.2,
                         neighbours="all", iters: int = 100, epochs: int = 3,
                         lr: float = 1.0, kappa: str = "mean", seed=None, *,
                         communicate_every: int = 1, metrics=None, keep="all",
                         progress: bool = False, sampler=None):
    r"""Exact Anticipation Sharing, 004 Sec. 4.3, eq. (16), Algorithm 1.

    Each agent i holds logits of its own policy :math:`\pi^{ii}` and of its anticipations
    :math:`\pi^{ij}` of its neighbours and, every iteration, takes ``epochs`` gradient
    steps on

    .. math:: E_{s\sim\bar d^{\pi_{old}},\,\mathbf a\sim\pi_{old}}\Big[\min(\xi_i
              \xi_{\mathcal N_i}A_i,\ \mathrm{clip}(\xi_i, 1\pm\epsilon)\xi_{\mathcal N_i}
              A_i) - \kappa_i\rho\sum_{j\in\mathcal N_i}\big(\mathbb I_{X^{ij}}
              \|\pi^{ij}-\pi^{jj}\|^2 + \mathbb I_{X^{ii}}\|\pi^{ii}-\pi^{ji}\|^2\big)\Big]

    with :math:`\xi_i = \pi^{ii}/\pi^{ii}_{old}`, :math:`\xi_{\mathcal N_i} =
    \prod_{j\in\mathcal N_i}\pi^{ij}/\pi^{ij}_{old}` (eq. (13): the denominators are agent
    i's own old anticipations, as printed, although the samples come from the actual
    :math:`\pi_{old}`), the sets of eq. (14) per (s, a), and :math:`\rho_j = \rho'_j = \rho`
    (implementation details).

    Parameters
    ----------
    game : Game
    theta0 : array (N, S, A_max) or (N, N, S, A_max)
        Own logits (anticipations start equal to the actual policies), or the full state.
    rho : float
        Penalty weight (Table 2: 0.1 for C. Predation; 0 is the ablation of Fig. 5).
    clip : float
        :math:`\epsilon` (Table 1: 0.2).
    neighbours : "all" | "ring" | "random" | "none" | (N, N) bool
        :func:`neighbourhoods`; ``"random"`` redraws one neighbour per agent each iteration.
    iters, epochs : int
        Iterations; K gradient steps per iteration (Table 1: K = 3).
    lr : float
        Step of plain gradient ascent on the logits (exact gradients; the paper's Adam on
        networks has no exact tabular counterpart).
    kappa : "mean" | "max"
        :math:`\kappa_i` (:func:`fairmg.anticipation.kappa`): the implementation's mean
        :math:`|A_i|` or eq. (12)'s max.
    seed : int or Generator
        Draws the random neighbourhoods.
    communicate_every : int
        Communicate every k iterations (Sec. 5.3); in the others every agent updates its
        own policy alone (no penalty, no :math:`\xi_{\mathcal N_i}`, anticipations frozen).
    sampler : callable, optional
        ``sampler(evaluation, kappa_kind) -> (states (K,), actions (K, N), weights (K,),
        advantages (N, K), kappa (N,))``: replaces the exact expectations by weighted
        samples (:func:`fairmg.sampled.anticipation.anticipation_sampler`), with the same
        objective (:meth:`AgentProblem.from_entries`) and steps. :func:`independent_ppo`,
        :func:`value_sharing` and :func:`policy_sharing` take it too.

    Returns
    -------
    Run
        Metrics ``welfare`` (the total return :math:`\eta`, eq. (1)), ``values`` (each
        agent's return), ``discrepancy`` (mean squared difference of every anticipation
        and the actual policy it anticipates, :func:`fairmg.anticipation.discrepancy_mse`);
        ``run.thetas`` the (N, N, S, A_max) logits, ``run.graphs`` the graphs used.
    """
    kappa = check_choice(kappa, "kappa", ("mean", "max"))
    params = dict(rho=rho, clip=clip, neighbours=neighbours if isinstance(neighbours, str)
                  else "custom", iters=iters, epochs=epochs, lr=lr, kappa=kappa, seed=seed,
                  communicate_every=communicate_every)
    return _engine(game, theta0, name="anticipation_sharing", params=params, iters=iters,
                   epochs=epochs, lr=lr, rho=rho, clip=clip, clip_on="own",
                   kappa_kind=kappa, graph=neighbours, communicate_every=communicate_every,
                   seed=seed, advantage_fn=_own_advantage,
                   rows_fn=lambda i, adj: tuple(np.flatnonzero(adj[i])), metrics=metrics,
                   keep=keep, progress=progress, sampler=sampler)


def independent_ppo(game, theta0, clip: float = 0.2, iters: int = 100, epochs: int = 3,
                    lr: float = 1.0, *, metrics=None, keep="all", progress: bool = False,
                    sampler=None):
    r"""Independent PPO on private rewards (Fig. 6): each agent maximizes
    :math:`E[\min(\xi_i A_i, \mathrm{clip}(\xi_i)A_i)]` alone (AS with no neighbours)."""
    run = _engine(game, theta0, name="independent_ppo", params=dict(
        clip=clip, iters=iters, epochs=epochs, lr=lr), iters=iters, epochs=epochs, lr=lr,
        rho=0.0, clip=clip, clip_on="own", kappa_kind="max", graph="none",
        communicate_every=1, seed=0, advantage_fn=_own_advantage,
        rows_fn=lambda i, adj: (), metrics=metrics, keep=keep, progress=progress,
        sampler=sampler)
    return run


def value_sharing(game, theta0, clip: float = 0.2, neighbours="all", iters: int = 100,
                  epochs: int = 3, lr: float = 1.0, seed=None, *, communicate_every: int = 1,
                  metrics=None, keep="all", progress: bool = False, sampler=None):
    r"""VS (Du et al. 2022), tabular: agent i runs PPO on the neighbourhood-averaged
    advantage :math:`\frac{1}{|\mathcal N_i|+1}\sum_{j\in\{i\}\cup\mathcal N_i}A_j`."""
    def adv(A, adj, ev):
        return np.tensordot(_consensus_weights(adj), A, axes=1)

    return _engine(game, theta0, name="value_sharing", params=dict(
        clip=clip, neighbours=neighbours if isinstance(neighbours, str) else "custom",
        iters=iters, epochs=epochs, lr=lr, seed=seed), iters=iters, epochs=epochs, lr=lr,
        rho=0.0, clip=clip, clip_on="own", kappa_kind="max", graph=neighbours,
        communicate_every=communicate_every, seed=seed, advantage_fn=adv,
        rows_fn=lambda i, adj: (), metrics=metrics, keep=keep, progress=progress,
        sampler=sampler)


def value_parameter_sharing(game, theta0, clip: float = 0.2, neighbours="all",
                            iters: int = 100, epochs: int = 3, lr: float = 1.0,
                            beta: float = 0.5, seed=None, *, communicate_every: int = 1,
                            metrics=None, keep="all", progress: bool = False):
    r"""VPS (Zhang et al. 2018b), tabular: critic tables :math:`U_i(s,\mathbf a)`, one step
    ``beta`` towards the agent's own exact :math:`Q_i^{\pi}` then one consensus average
    :math:`U_i \leftarrow \sum_j W_{ij}(U_j + \beta(Q_j - U_j))`; PPO on
    :math:`U_i - E_{\pi_{old}}U_i`. ``U`` starts at 0."""
    beta = check_scalar(beta, "beta", positive=True, upper=1.0)
    U = {}

    def adv(A, adj, ev):
        Q = ev.q
        if "U" not in U:
            U["U"] = np.zeros_like(Q)
        stepped = U["U"] + beta * (Q - U["U"])
        U["U"] = np.einsum("ij,jsa->isa", _consensus_weights(adj), stepped)
        base = np.einsum("sa,isa->is", ev.policy.joint_probs(), U["U"])
        return U["U"] - base[:, :, None]

    return _engine(game, theta0, name="value_parameter_sharing", params=dict(
        clip=clip, neighbours=neighbours if isinstance(neighbours, str) else "custom",
        iters=iters, epochs=epochs, lr=lr, beta=beta, seed=seed), iters=iters,
        epochs=epochs, lr=lr, rho=0.0, clip=clip, clip_on="own", kappa_kind="max",
        graph=neighbours, communicate_every=communicate_every, seed=seed,
        advantage_fn=adv, rows_fn=lambda i, adj: (), metrics=metrics, keep=keep,
        progress=progress)


def policy_sharing(game, theta0, clip: float = 0.2, neighbours="all", iters: int = 100,
                   epochs: int = 3, lr: float = 1.0, seed=None, *, communicate_every: int = 1,
                   metrics=None, keep="all", progress: bool = False, sampler=None):
    r"""PS (Zhang & Zavlanos 2019), tabular: agent i ascends its private clipped objective
    over every factor of its copy of the product policy (joint ratio clipped), then
    :math:`\Theta^{(i)}\leftarrow\sum_j W_{ij}\Theta^{(j)}` over its closed neighbourhood.
    ``discrepancy`` measures the disagreement of the copies."""
    N = game.n_agents
    return _engine(game, theta0, name="policy_sharing", params=dict(
        clip=clip, neighbours=neighbours if isinstance(neighbours, str) else "custom",
        iters=iters, epochs=epochs, lr=lr, seed=seed), iters=iters, epochs=epochs, lr=lr,
        rho=0.0, clip=clip, clip_on="joint", kappa_kind="max", graph=neighbours,
        communicate_every=communicate_every, seed=seed, advantage_fn=_own_advantage,
        rows_fn=lambda i, adj: tuple(j for j in range(N) if j != i), consensus=True,
        metrics=metrics, keep=keep, progress=progress, sampler=sampler)


def centralised_ppo(game, theta0=None, clip: float = 0.2, iters: int = 100, epochs: int = 3,
                    lr: float = 1.0, *, keep="all", progress: bool = False):
    r"""Centralized PPO on the team reward (Fig. 6): one policy over joint actions,
    :math:`\pi(\mathbf a|s)`, on :math:`\sum_i r^i`, i.e. PPO in the one-agent game whose
    actions are the joint actions. ``theta0``: logits (S, A) (default 0). Metrics:
    ``welfare`` (= :math:`\eta`) and ``values`` (each agent's private return under the
    joint policy, by a linear solve in the original game)."""
    dense = game.to_dense()
    S, A = dense.n_states, dense.n_joint_actions
    one = MarkovGame(dense.transition, dense.rewards.sum(axis=0)[None], dense.gamma,
                     initial=dense.initial, action_sizes=(A,), name="joint policy, team reward")
    th = np.zeros((1, S, A)) if theta0 is None else as_float_array(theta0, "theta0").reshape(
        1, S, A)

    def values(g1, bev):
        out = []
        for p in bev.probs:
            Ppi = np.einsum("sa,sat->st", p[0], dense.transition)
            r = np.einsum("sa,isa->is", p[0], dense.rewards)
            V = np.linalg.solve(np.eye(S) - dense.gamma * Ppi, r.T).T
            out.append(V @ dense.initial)
        return np.array(out)

    run = _engine(one, th, name="centralised_ppo", params=dict(
        clip=clip, iters=iters, epochs=epochs, lr=lr), iters=iters, epochs=epochs, lr=lr,
        rho=0.0, clip=clip, clip_on="own", kappa_kind="max", graph="none",
        communicate_every=1, seed=0, advantage_fn=_own_advantage,
        rows_fn=lambda i, adj: (), metrics=["welfare", ("values", values)], keep=keep,
        progress=progress)
    return run


# ------------------------------------------------------------------ the idealised problem (12)
def solve_problem_12(game, ev, probs, agent, rows, delta1, delta2, kappa_i, *,
                     floor: float = 1e-9, maxiter: int = 200):
    r"""Agent i's idealised constrained problem, eq. (12), by SLSQP over probability tables.

    .. math:: \max_{\tilde\pi^i} E_{s\sim\bar d^{\pi_{old}},\,\mathbf a\sim\tilde\pi^i}
              [A_i^{\pi_{old}}(s,\mathbf a)]\ \text{s.t.}\ (a)\ D_{KL}(\pi^{ii}_{old}(\cdot|s)
              \|\pi^{ii}(\cdot|s)) \le \delta_1\ \forall s,\ (b)\ \kappa_i\sum_{s,a_j}
              (\pi^{ij}-\pi^{jj})^2 \le \delta_2,\ (c)\ \kappa_i\sum_{s,a_i}(\pi^{ii}-
              \pi^{ji})^2 \le \delta_2\ \ \forall j\in\mathcal N_i

    over agent i's own row and its anticipations of ``rows`` (its other anticipations stay),
    with :math:`\pi^{jj}, \pi^{ji}` the shared ``probs`` (N, N, S, A_max) and :math:`\bar d`
    normalized. The problem is multilinear, not concave: SLSQP returns a KKT point from the
    current tables. Returns ``(new rows (N, S, A_max), objective, scipy result)``.
    """
    from scipy.optimize import minimize

    i = int(agent)
    rows = tuple(int(j) for j in rows)
    var = (i,) + rows
    sizes = game.action_sizes
    S = game.n_states
    ja = game.joint_actions
    dbar = (1.0 - game.gamma) * ev.visitation
    A = (ev.q - ev.values[:, :, None])[i]
    w = dbar[:, None] * A                                  # (S, A)
    base = probs[i].copy()
    slices, start = {}, 0
    for r in var:
        slices[r] = slice(start, start + S * sizes[r])
        start += S * sizes[r]

    def unpack(x):
        t = base.copy()
        for r in var:
            t[r, :, :sizes[r]] = x[slices[r]].reshape(S, sizes[r])
        return t

    def joint_factors(t):
        return [t[k][:, ja[:, k]] for k in range(game.n_agents)]

    def f(x):
        fac = joint_factors(unpack(x))
        return -float(np.sum(w * np.prod(fac, axis=0)))

    def jac(x):
        fac = joint_factors(unpack(x))
        out = np.zeros_like(x)
        for r in var:
            others = np.prod([fac[k] for k in range(game.n_agents) if k != r], axis=0)
            n = sizes[r]
            onehot = (ja[:, r][:, None] == np.arange(n)[None, :]).astype(float)
            out[slices[r]] = -((w * others) @ onehot).ravel()
        return out

    old_own = ev.policy.probs[i, :, :sizes[i]]
    cons = []
    for r in var:
        for s in range(S):
            idx = np.arange(slices[r].start + s * sizes[r], slices[r].start + (s + 1) * sizes[r])
            cons.append(dict(type="eq", fun=lambda x, idx=idx: x[idx].sum() - 1.0))
    own = slices[i]

    def kl_con(x):
        q = x[own].reshape(S, sizes[i])
        with np.errstate(divide="ignore", invalid="ignore"):
            kl = np.where(old_own > 0, old_own * (np.log(np.where(old_own > 0, old_own, 1))
                                                  - np.log(q)), 0.0).sum(axis=1)
        return delta1 - kl
    cons.append(dict(type="ineq", fun=kl_con))
    for j in rows:
        tj = probs[j, j, :, :sizes[j]]
        ti = probs[j, i, :, :sizes[i]]
        cons.append(dict(type="ineq", fun=lambda x, j=j, tj=tj: delta2 - kappa_i * np.sum(
            (x[slices[j]].reshape(S, sizes[j]) - tj) ** 2)))
        cons.append(dict(type="ineq", fun=lambda x, ti=ti: delta2 - kappa_i * np.sum(
            (x[own].reshape(S, sizes[i]) - ti) ** 2)))
    x0 = np.concatenate([np.clip(base[r, :, :sizes[r]], floor, 1).ravel() for r in var])
    res = minimize(f, x0, jac=jac, method="SLSQP", bounds=[(floor, 1.0)] * len(x0),
                   constraints=cons, options=dict(maxiter=maxiter, ftol=1e-12))
    t = unpack(np.clip(res.x, floor, 1.0))
    for r in var:
        t[r, :, :sizes[r]] /= t[r, :, :sizes[r]].sum(axis=1, keepdims=True)
    return t, -f(np.concatenate([t[r, :, :sizes[r]].ravel() for r in var])), res


def ideal_anticipation_sharing(game, theta0, delta1: float = 0.05, delta2: float = 0.05,
                               neighbours="all", iters: int = 30, kappa: str = "mean",
                               seed=None, *, metrics=None, keep="all"):
    r"""Iterate the idealised problem (12) (:func:`solve_problem_12`) for every agent
    (Jacobi, shared start-of-iteration tables), to compare with the practical objective
    (16) of :func:`anticipation_sharing`. State: probabilities (N, N, S, A_max).
    ``run.results`` holds every SLSQP result (``success``, ``message``)."""
    kappa = check_choice(kappa, "kappa", ("mean", "max"))
    delta1 = check_scalar(delta1, "delta1", positive=True)
    delta2 = check_scalar(delta2, "delta2", positive=True)
    rng = as_rng(seed, "seed")
    state0 = _all_probs(game, _state0(game, theta0))
    N = game.n_agents
    results, disc = [], []
    idx = np.arange(N)

    def to_policy(p):
        disc.append(an.discrepancy_mse(game, p))
        return ProductPolicy(game, p[idx, idx])

    def step(p, ev):
        adj = neighbourhoods(N, neighbours, rng)
        kap = an.kappa(game, ev.policy, kappa, evaluation=ev)
        new = p.copy()
        for i in range(N):
            new[i], _, res = solve_problem_12(game, ev, p, i, tuple(np.flatnonzero(adj[i])),
                                              delta1, delta2, float(kap[i]))
            results.append(res)
        return new

    run = iterate(game, state0, step, to_policy, iters, name="ideal_anticipation_sharing",
                  params=dict(delta1=delta1, delta2=delta2, iters=iters, kappa=kappa,
                              neighbours=neighbours if isinstance(neighbours, str)
                              else "custom"),
                  metrics=("welfare", "values") if metrics is None else metrics, keep=keep,
                  store="states")
    run.metrics["discrepancy"] = np.array(disc)
    run.results = results
    return run
