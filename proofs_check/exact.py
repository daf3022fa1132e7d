r"""Exact quantities the claims of 002 need, computed on small games.

Every "max/min over policies" here is exact: the extremum over all (even correlated,
history-dependent) policies of a discounted sum of a state-action reward is attained by a
deterministic stationary joint policy, which is a product policy, so Howard's policy
iteration on the joint-action MDP (:func:`fairmg.solve_mdp`) gives it.

* :func:`potential_range` -- :math:`\Phi_{\min}, \Phi_{\max}` of Assumption 2.3.
* :func:`visitation_extremes`, :func:`distribution_mismatch` -- the extreme discounted
  visitations and :math:`M = \max_{\pi,\pi'} \|d^\pi_\mu / d^{\pi'}_\mu\|_\infty` of
  Lemma 3.5 (exactly: :math:`\max_s \max_\pi d^\pi_\mu(s) / \min_{\pi'} d^{\pi'}_\mu(s)`).
* :func:`reward_smoothness` -- the best :math:`(\lambda, \mu)` of Proposition 4.3 (exact:
  both sides are multilinear in the policies at a state, so vertices suffice).
* :func:`transition_certificate` -- a valid :math:`\nu` for a given :math:`\kappa` of
  Proposition 4.3 (sufficient condition from the extreme visitations; not the best).
* :func:`smoothness_pairs` -- valid :math:`(\alpha, \beta)` of Definition 4.2: exact for
  one-state games, from Proposition 4.3 otherwise.
* :func:`mpg_violation`, :func:`is_markov_potential` -- Definition 2.2, exactly over all
  of agent i's policies for a given :math:`\pi^{-i}`.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import fairmg as fm
from fairmg.equilibrium import solve_mdp
from fairmg.dynamics.pg import log_barrier_gradient
from fairmg.dynamics.pg import policy_gradient as _policy_gradient
from fairmg.evaluate import Evaluation

__all__ = ["extreme_values", "potential_range", "visitation_extremes",
           "distribution_mismatch", "policy_gradient", "value_of_reward", "potential_q",
           "fd_gradient", "mpg_violation", "is_markov_potential", "MPGCheck",
           "reward_smoothness", "transition_certificate", "one_state_beta",
           "smoothness_pairs", "deviation_index", "log_barrier_gradient"]


#: Relative floor below which a minimal visitation counts as 0 (policy iteration returns
#: ~1e-17 for states a policy can avoid forever).
VISIT_FLOOR = 1e-9


def extreme_values(game: fm.MarkovGame, reward: np.ndarray, maximize: bool = True):
    """max (or min) over all policies of the value of ``reward[s, a]`` from every state."""
    sign = 1.0 if maximize else -1.0
    P, r = game.joint_mdp(sign * np.asarray(reward, np.float64))
    sol = solve_mdp(P, r, game.gamma)
    if not sol.converged:
        raise RuntimeError(f"policy iteration did not converge (residual {sol.residual})")
    return sign * sol.values


def potential_range(game: fm.MarkovGame, phi=None) -> tuple[float, float]:
    r""":math:`(\Phi_{\min}, \Phi_{\max})` of 002 Assumption 2.3: the extremes of
    :math:`\Phi_\pi(s)` over every policy and state (exact)."""
    phi = game.joint_potential() if phi is None else np.asarray(phi, np.float64)
    if phi is None:
        raise ValueError(f"{game!r} carries no potential; pass phi")
    return (float(extreme_values(game, phi, False).min()),
            float(extreme_values(game, phi, True).max()))


def visitation_extremes(game: fm.MarkovGame) -> tuple[np.ndarray, np.ndarray]:
    r"""``(U, L)`` with ``U[s, s'] = max_pi M_pi[s, s']`` and ``L`` the min, where
    :math:`M_\pi = (I - \gamma P_\pi)^{-1}` (discounted visits of s' from s)."""
    S, A = game.n_states, game.n_joint_actions
    U, L = np.empty((S, S)), np.empty((S, S))
    for t in range(S):
        e = np.zeros((S, A))
        e[t] = 1.0
        U[:, t] = extreme_values(game, e, True)
        L[:, t] = extreme_values(game, e, False)
    return U, L


def distribution_mismatch(game: fm.MarkovGame) -> float:
    r"""M of 002 Lemma 3.5, exactly: :math:`\max_s \max_\pi d^\pi_\mu(s) / \min_{\pi'}
    d^{\pi'}_\mu(s)`. Raises ``ValueError`` when some state can go unvisited
    (Assumption 2.1 fails, M is infinite)."""
    U, L = visitation_extremes(game)
    hi, lo = game.initial @ U, game.initial @ L
    if np.any(lo <= 0):
        s = int(np.argmin(lo))
        raise ValueError(f"state {s} has min visitation {lo[s]:.3g}: Assumption 2.1 fails")
    return float(np.max(hi / lo))


def policy_gradient(game: fm.MarkovGame, theta: np.ndarray) -> tuple[np.ndarray, Evaluation]:
    r"""002 eq. (2): :math:`\partial V^i/\partial\theta^i_{s,a} = d_\mu(s)\pi^i(a|s)A^i(s,a)`
    (unnormalized visitation), from :func:`fairmg.evaluate`; ``(grad [N,S,A_max], ev)``."""
    ev = fm.evaluate(game, fm.ProductPolicy.from_logits(game, theta))
    return _policy_gradient(ev), ev


def value_of_reward(game: fm.MarkovGame, reward: np.ndarray, policy: fm.ProductPolicy):
    """Values V(s) of an arbitrary reward ``reward[s, a]`` under ``policy``, shape (S,)."""
    r_pi = fm.marginals.marginalize(np.asarray(reward, np.float64), policy.probs,
                                    game.action_sizes, ())
    return game.policy_system(policy).solve(r_pi[None])[0]


def potential_q(game: fm.MarkovGame, ev: Evaluation) -> np.ndarray:
    r""":math:`Q_\phi(s, a) = \phi(s, a) + \gamma\sum_{s'} P(s'|s,a)\Phi_\pi(s')`, (S, A)."""
    return game.joint_potential() + game.gamma * game.joint_continuation(
        ev.potential_values[None])[0]


def fd_gradient(f, theta: np.ndarray, mask: np.ndarray, h: float) -> np.ndarray:
    """Five-point central differences of ``f(theta)`` (scalar or array) in every entry
    of ``theta`` where ``mask`` is True; zero elsewhere. Error O(h^4)."""
    theta = np.asarray(theta, np.float64)
    f0 = np.asarray(f(theta), np.float64)
    out = np.zeros(theta.shape + f0.shape)
    for idx in zip(*np.nonzero(mask)):
        vals = []
        for k in (-2, -1, 1, 2):
            t = theta.copy()
            t[idx] += k * h
            vals.append(np.asarray(f(t), np.float64))
        out[idx] = (vals[0] - 8 * vals[1] + 8 * vals[2] - vals[3]) / (12 * h)
    return out


# ----------------------------------------------------------------- Definition 2.2

def mpg_violation(game: fm.MarkovGame, phi: np.ndarray, policy: fm.ProductPolicy,
                  agent: int) -> float:
    r"""How far Definition 2.2 fails for agent ``agent`` against ``policy``'s others.

    Eq. (1) holds for every pair :math:`(\pi^i, \bar\pi^i)` against :math:`\pi^{-i}` iff
    the value :math:`W` of the reward :math:`r^i - \phi` in agent i's MDP is the same for
    all its policies, iff every local advantage of :math:`W` is 0 (a zero advantage gives
    equal values by the performance difference lemma; conversely, playing b once at s and
    then :math:`\pi^i` has value :math:`Q_W(s,b) = W(s)`). Returns
    :math:`\max_{s,b}|Q^i_W(s,b) - W(s)|` (0 for an MPG), exact for this :math:`\pi^{-i}`.
    """
    w = game.joint_rewards()[agent] - np.asarray(phi, np.float64)
    W = value_of_reward(game, w, policy)
    P_i, w_i = game.agent_mdp(policy, agent, reward=w)
    Q = w_i + game.gamma * np.einsum("sbt,t->sb", P_i, W)
    return float(np.abs(Q - W[:, None]).max())


@dataclass(frozen=True)
class MPGCheck:
    """Result of :func:`is_markov_potential`; ``bool(check)`` is ``is_mpg``."""

    is_mpg: bool
    max_violation: float
    agent: int
    policy: fm.ProductPolicy
    tested: int

    def __bool__(self) -> bool:
        return self.is_mpg


def is_markov_potential(game: fm.MarkovGame, phi=None, *, samples: int = 32, rng=None,
                        tol: float = 1e-9) -> MPGCheck:
    r"""Does ``game`` satisfy 002 Definition 2.2 with potential ``phi``?

    For each agent, exact over all of its own policies (:func:`mpg_violation`), against
    the others' policies drawn as: every deterministic profile (when there are at most
    ``samples``), then softmax policies with logit scales 0.5 to 20. ``False`` is a proof
    (the witness policy is returned); ``True`` means no violation on the tested
    :math:`\pi^{-i}` (the definition quantifies over a continuum).

    ``tol`` is relative to ``max(1, max|r|, max|phi|) / (1 - gamma)``.
    """
    phi = game.joint_potential() if phi is None else np.asarray(phi, np.float64)
    if phi is None:
        raise ValueError(f"{game!r} carries no potential; pass phi")
    if phi.shape != (game.n_states, game.n_joint_actions):
        raise ValueError(f"phi must have shape {(game.n_states, game.n_joint_actions)}, "
                         f"got {phi.shape}")
    rng = np.random.default_rng(rng)
    scale = max(1.0, game.max_abs_reward, np.abs(phi).max()) / (1 - game.gamma)
    pols = []
    n_det = int(np.prod([a ** game.n_states for a in game.action_sizes]))
    if n_det <= samples:
        for joint in np.ndindex(*[a ** game.n_states for a in game.action_sizes]):
            acts = [np.unravel_index(j, (a,) * game.n_states)
                    for j, a in zip(joint, game.action_sizes)]
            pols.append(fm.ProductPolicy.deterministic(game, np.array(acts)))
    shape = (game.n_agents, game.n_states, game.max_actions)
    for k in range(samples):
        pols.append(fm.ProductPolicy.from_logits(
            game, [0.5, 2.0, 5.0, 20.0][k % 4] * rng.normal(size=shape)))
    worst, witness = -1.0, (0, pols[0])
    for pol in pols:
        for i in range(game.n_agents):
            v = mpg_violation(game, phi, pol, i)
            if v > worst:
                worst, witness = v, (i, pol)
    return MPGCheck(bool(worst <= tol * scale), float(worst), witness[0], witness[1],
                    len(pols) * game.n_agents)


# ---------------------------------------------------------------- smoothness (Sec. 4)

def deviation_index(game: fm.MarkovGame) -> np.ndarray:
    """``dev[i, a, b]``: the joint action (b_i, a_{-i}) (agent i plays b's action)."""
    ja = game.joint_actions
    A, N = ja.shape
    out = np.empty((N, A, A), dtype=np.int64)
    for i in range(N):
        mixed = np.broadcast_to(ja[:, None, :], (A, A, N)).copy()
        mixed[:, :, i] = ja[None, :, i]
        out[i] = np.ravel_multi_index(tuple(np.moveaxis(mixed, -1, 0)), game.action_sizes)
    return out


def _deviation_sums(game: fm.MarkovGame) -> tuple[np.ndarray, np.ndarray]:
    """``num[s, a, b] = sum_i r^i(s, b_i, a_{-i})`` and ``tot[s, a] = sum_i r^i(s, a)``."""
    dev = deviation_index(game)
    R = game.joint_rewards()
    num = sum(R[i][:, dev[i]] for i in range(game.n_agents))
    return num, R.sum(axis=0)


def reward_smoothness(game: fm.MarkovGame) -> tuple[float, float]:
    r"""The best :math:`(\lambda, \mu)` of 002 Prop. 4.3's reward smoothness,
    :math:`\lambda r_{\pi'}(s) \le \sum_i r^i_{\pi'^i,\pi^{-i}}(s) \le \mu r_\pi(s)`.

    Both sides are affine in each agent's policy at s separately, so the extremes over
    product policies are at pure profiles (a, b = a'): ``lambda = min num / tot[b]``,
    ``mu = max num / tot[a]``. ``mu`` is inf when some ``tot[a] = 0 < num``. Needs
    rewards >= 0.
    """
    if np.any(game.joint_rewards() < 0):
        raise ValueError("reward_smoothness needs rewards >= 0")
    num, tot = _deviation_sums(game)
    den_l = np.broadcast_to(tot[:, None, :], num.shape)
    den_m = np.broadcast_to(tot[:, :, None], num.shape)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        lam = np.where(den_l > 0, num / np.where(den_l > 0, den_l, 1), np.inf).min()
        mu_r = np.where(den_m > 0, num / np.where(den_m > 0, den_m, 1), 0.0).max()
    if np.any((den_m == 0) & (num > 0)):
        mu_r = np.inf
    return float(lam if np.isfinite(lam) else 0.0), float(mu_r)


def transition_certificate(game: fm.MarkovGame, kappa: float,
                           extremes=None) -> float:
    r"""A :math:`\nu` making the transitions :math:`(\kappa, \nu)`-smooth (002 Prop. 4.3)
    for every reward vector :math:`r \ge 0`, or inf.

    :math:`M_{\pi'^i,\pi^{-i}} r \ge \kappa M_{\pi'} r - \nu M_\pi r` for all
    :math:`r \ge 0` iff the matrix :math:`M_{\pi'^i,\pi^{-i}} - \kappa M_{\pi'} + \nu
    M_\pi` is elementwise :math:`\ge 0`; with the extreme visitations U, L over all
    policies, :math:`L - \kappa U + \nu L \ge 0` suffices: :math:`\nu = \max(0,
    \max_{s,s'}(\kappa U - L)/L)`. Valid (maybe not the smallest). Minimal visits below
    :data:`VISIT_FLOOR` times the largest count as 0 (conservative: no certificate).
    """
    U, L = visitation_extremes(game) if extremes is None else extremes
    L = np.where(L > VISIT_FLOOR * U.max(), L, 0.0)   # round-off is no visit
    need = kappa * U - L
    if np.any((need > 0) & (L <= 0)):
        return float("inf")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        ratio = np.where(need > 0, need / np.where(L > 0, L, 1.0), 0.0)
    return float(max(0.0, ratio.max()))


def one_state_beta(game: fm.MarkovGame, alpha: float) -> float:
    r"""The smallest :math:`\beta \ge 0` making a one-state game :math:`(\alpha,
    \beta)`-smooth (Def. 4.2), exactly: values are :math:`r_\pi/(1-\gamma)`, multilinear,
    so pure profiles suffice; inf if none."""
    if game.n_states != 1:
        raise ValueError("one_state_beta needs a one-state game")
    num, tot = _deviation_sums(game)
    need = alpha * tot[0][None, :] - num[0]          # [a, b]: alpha r(b) - sum_i r^i(b_i, a_-i)
    den = np.broadcast_to(tot[0][:, None], need.shape)
    if np.any((den <= 0) & (need > 0)):
        return float("inf")
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        beta = np.where(den > 0, need / np.where(den > 0, den, 1.0), 0.0).max()
    return float(max(0.0, beta))


def smoothness_pairs(game: fm.MarkovGame, grid=(0.25, 0.5, 0.75, 1.0, 1.5, 2.0)):
    r"""Valid :math:`(\alpha, \beta, \text{source})` of Definition 4.2 (finite ones only).

    One state: exact :math:`\beta(\alpha)` for ``alpha`` in ``grid`` and the reward
    :math:`\lambda` (with :math:`\beta = 0`). More states: Proposition 4.3 with the exact
    reward :math:`(\lambda, \mu)` and :func:`transition_certificate` for
    :math:`\kappa` in ``grid`` (clipped to (0, 1]), :math:`(\alpha, \beta) = (\kappa
    \lambda, \mu\nu)` -- valid given Proposition 4.3, which ``mpg_pg/prop-4.3`` checks.
    """
    out = []
    if game.n_states == 1:
        lam, _ = reward_smoothness(game)
        for a in sorted(set(grid) | {lam}):
            if a > 0:
                b = one_state_beta(game, a)
                if np.isfinite(b):
                    out.append((float(a), b, "exact (one state)"))
        return out
    lam, mu_r = reward_smoothness(game)
    ext = visitation_extremes(game)
    for kappa in sorted({min(1.0, k) for k in grid}):
        nu = transition_certificate(game, kappa, ext)
        beta = mu_r * nu if nu > 0 else 0.0
        if kappa * lam > 0 and np.isfinite(beta):
            out.append((kappa * lam, float(beta), f"Prop. 4.3 (kappa={kappa:g})"))
    return out
