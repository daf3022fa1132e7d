r"""The exact engine in plain, vectorized NumPy: the baseline of ``fairmg bench``.

This is the implementation a careful researcher writes without numba: no Python loop over
states or joint actions (loops over agents and over policy-iteration steps only), joint
actions contracted by reshapes and batched ``matmul``, all agents' values in one
``np.linalg.solve`` with several right-hand sides, all agents' best responses solved as one
stacked system per policy-iteration step. It works on raw dense arrays and is written
independently of :mod:`fairmg.kernels`, :mod:`fairmg.evaluate` and
:mod:`fairmg.equilibrium` (and of the loop oracle :mod:`fairmg.testing.reference`), so the
tests cross-check all three.

Conventions (DESIGN.md)
-----------------------
``P[s, a, s']`` transition (rows sum to 1), ``R[i, s, a]`` rewards, ``gamma`` in [0, 1),
``mu[s]`` initial distribution, ``action_sizes = (A_1, ..., A_N)``, ``probs[i, s, a_i]`` the
product policy (zero-padded to ``A_max``). The joint action is
``a = ravel_multi_index((a_1, ..., a_N), action_sizes)`` (C order, agent 0 most
significant), so ``P.reshape(S, A_1, ..., A_N, S)`` exposes the agents' axes. The
visitation :math:`d_\mu^\pi(s) = \sum_t \gamma^t \Pr(s_t = s)` is unnormalized.

Marginals over the other agents
-------------------------------
The MDP agent i faces (:func:`agent_mdp`) and its local Q-function contract a joint-action
table with the policies of the other agents,

.. math:: T_i(s, a_i, x) = \sum_{a_{-i}} \prod_{j \ne i} \pi^j(a_j|s)\, T(s, (a_i, a_{-i}), x).

Doing it agent by agent reads the table N times. :func:`leave_one_out` does it for every
agent by divide and conquer over the agents (contract the right half's axes for the left
half's agents and vice versa, recursively): about 2-3 passes over ``P`` for any N, against
N. Each contraction is a batched ``matmul`` over the leading (or trailing) joint-action
axes of one state.

Best responses and the Nash-gap
-------------------------------
The Nash-gap (002, Definition 2.4) needs, for every agent, the optimal value of the MDP
:math:`(P_i, r_i)` of :func:`agent_mdp`. :func:`solve_mdp` is Howard's policy iteration,
batched over several MDPs: per step one stacked ``np.linalg.solve`` of
:math:`(I - \gamma P_\sigma) v = r_\sigma` for the MDPs still improving and one
``matmul`` for all Q-values. The best responses start from the greedy action of the local
Q-function, which is usually optimal already (one or two steps).
"""
from __future__ import annotations

import math

import numpy as np

__all__ = ["joint_policy", "leave_one_out", "evaluate", "agent_mdp", "agent_mdps",
           "solve_mdp", "best_response_value", "nash_gap", "social_optimum", "softmax",
           "npg_step", "npg_run", "random_game"]

#: Relative improvement threshold of policy iteration (as :data:`fairmg.equilibrium.IMPROVE_TOL`):
#: an action replaces the current one when its Q-value is larger by more than
#: ``IMPROVE_TOL * max(1, max |v|)``.
IMPROVE_TOL = 1e-12


def _sizes(action_sizes) -> tuple[int, ...]:
    return tuple(int(n) for n in action_sizes)


# -- joint policies and marginals --------------------------------------------------------
def _range_policy(probs, sizes, lo, hi):
    r"""Joint policy of agents ``lo .. hi-1`` (C order), shape (S, prod A_j)."""
    S = probs.shape[1]
    w = probs[lo, :, : sizes[lo]]
    for j in range(lo + 1, hi):
        w = (w[:, :, None] * probs[j, :, None, : sizes[j]]).reshape(S, -1)
    return w


def joint_policy(probs, action_sizes) -> np.ndarray:
    r"""The joint policy :math:`\pi(a|s) = \prod_i \pi^i(a_i|s)`, shape (S, A).

    Built by successive outer products along the agents (``probs[i, :, :A_i]``
    broadcast against the joint policy of agents ``0 .. i-1``), C order.

    Parameters
    ----------
    probs : ndarray (N, S, A_max)
        The product policy, zero-padded.
    action_sizes : sequence of int
        ``(A_1, ..., A_N)``.
    """
    probs = np.asarray(probs, dtype=np.float64)
    sizes = _sizes(action_sizes)
    return _range_policy(probs, sizes, 0, len(sizes))


def _contract_right(T, w):
    """sum_r w[s, r] T[s, l, r, x] -> (S, l, x); T is (S, l, r, x)."""
    if T.shape[2] == 1:
        return T[:, :, 0, :] * w[:, None, 0:1]
    if T.size >= 1 << 17:       # large: numpy's einsum loop reads T once, a bit faster
        return np.einsum("sr,slrx->slx", w, T)
    return np.matmul(w[:, None, None, :], T)[:, :, 0, :]


def _contract_left(T, w):
    """sum_l w[s, l] T[s, l, y] -> (S, y): one gemv per state."""
    if T.shape[1] == 1:
        return T[:, 0, :] * w[:, 0:1]
    return np.matmul(w[:, None, :], T)[:, 0, :]


def leave_one_out(T, probs, action_sizes) -> list:
    r"""Every agent's marginal of a joint-action table over the other agents.

    .. math:: T_i(s, a_i, x) = \sum_{a_{-i}} \prod_{j \ne i} \pi^j(a_j|s)\,
              T(s, (a_1, \dots, a_N), x)

    by divide and conquer over the agents: with the agents ``lo .. hi-1`` left open, split
    them in halves, contract the right half's axes (their joint policy) for the left half
    and the left half's axes for the right half, and recurse. The top level reads ``T``
    twice; the levels below read tables smaller by the contracted half's action count,
    so the whole costs about 2-3 passes over ``T`` for any N (N passes agent by agent).

    Parameters
    ----------
    T : ndarray (S, A, X)
        The table (``P`` with X = S, rewards stacked along X, ...).
    probs : ndarray (N, S, A_max)
    action_sizes : sequence of int

    Returns
    -------
    list of ndarray
        ``out[i]`` of shape (S, A_i, X).
    """
    sizes = _sizes(action_sizes)
    S, A, X = T.shape
    out = [None] * len(sizes)

    def rec(T, lo, hi):                  # T: (S, prod A_lo..A_{hi-1}, X)
        if hi - lo == 1:
            out[lo] = T
            return
        mid = lo + (hi - lo) // 2
        left_n = (math.prod(sizes[lo:mid]))
        right_n = (math.prod(sizes[mid:hi]))
        w_right = _range_policy(probs, sizes, mid, hi)
        w_left = _range_policy(probs, sizes, lo, mid)
        T4 = T.reshape(S, left_n, right_n, X)
        rec(_contract_right(T4, w_right), lo, mid)
        rec(_contract_left(T.reshape(S, left_n, right_n * X), w_left).reshape(S, right_n, X),
            mid, hi)

    rec(T, 0, len(sizes))
    return out


def _marginal_vector(Ti, probs, sizes, agent):
    """One agent's marginal of a table ``Ti [S, A]`` (no trailing axis): ``[S, A_agent]``."""
    S = Ti.shape[0]
    n = sizes[agent]
    left_n = (math.prod(sizes[:agent]))
    right_n = (math.prod(sizes[agent + 1:]))
    T = Ti.reshape(S, left_n * n, right_n)
    if right_n > 1:
        T = np.matmul(T, _range_policy(probs, sizes, agent + 1, len(sizes))[:, :, None])
    T = T.reshape(S, left_n, n)
    if left_n > 1:
        return np.matmul(_range_policy(probs, sizes, 0, agent)[:, None, :], T)[:, 0, :]
    return T[:, 0, :]


# -- exact evaluation ---------------------------------------------------------------------
def evaluate(P, R, gamma, mu, probs, action_sizes):
    r"""Exact evaluation of a product policy: values, Q, local Q and visitation.

    .. math::
        P_\pi(s, s') = \sum_a \pi(a|s) P(s'|s, a), \qquad
        r^i_\pi(s) = \sum_a \pi(a|s) R^i(s, a),

        (I - \gamma P_\pi) V^i = r^i_\pi \ \text{(all i in one solve)}, \qquad
        (I - \gamma P_\pi)^\top d = \mu,

        Q^i(s, a) = R^i(s, a) + \gamma \sum_{s'} P(s'|s, a) V^i(s'), \qquad
        \bar Q^i(s, a_i) = \sum_{a_{-i}} \pi^{-i}(a_{-i}|s)\, Q^i(s, a).

    Parameters
    ----------
    P : ndarray (S, A, S)
    R : ndarray (N, S, A)
    gamma : float
    mu : ndarray (S,)
    probs : ndarray (N, S, A_max)
    action_sizes : sequence of int

    Returns
    -------
    V : ndarray (N, S)
    Q : ndarray (N, S, A)
    local_q : ndarray (N, S, A_max)
        Zero on padding.
    d : ndarray (S,)
        Unnormalized visitation (sums to 1 / (1 - gamma)).
    """
    sizes = _sizes(action_sizes)
    N, S, A = R.shape
    pij = _range_policy(probs, sizes, 0, N)
    P_pi = np.matmul(pij[:, None, :], P)[:, 0, :]                 # one gemv per state
    r_pi = np.einsum("isa,sa->is", R, pij)
    M = np.eye(S) - gamma * P_pi
    V = np.linalg.solve(M, r_pi.T).T
    d = np.linalg.solve(M.T, mu)
    Q = R + gamma * (P.reshape(S * A, S) @ V.T).T.reshape(N, S, A)
    local_q = np.zeros((N, S, probs.shape[2]))
    for i, n in enumerate(sizes):
        local_q[i, :, :n] = _marginal_vector(Q[i], probs, sizes, i)
    return V, Q, local_q, d


def _values(P_pi, r_pi, gamma):
    """V [K, S] solving (I - gamma P_pi) V^k = r_pi^k for all k in one call."""
    S = P_pi.shape[0]
    return np.linalg.solve(np.eye(S) - gamma * P_pi, r_pi.T).T


# -- the MDPs the agents face --------------------------------------------------------------
def agent_mdp(P, R_i, probs, action_sizes, agent):
    r"""The MDP agent ``agent`` faces when the others play ``probs``.

    .. math:: P_i(s'|s, a_i) = \sum_{a_{-i}} \pi^{-i}(a_{-i}|s)\, P(s'|s, a), \qquad
              r_i(s, a_i) = \sum_{a_{-i}} \pi^{-i}(a_{-i}|s)\, R^i(s, a)

    (the joint axis reshaped to ``(A_1, ..., A_N)`` and contracted with the other agents'
    policies: the agents before ``agent`` in one gemv per state, those after it in a
    batched matmul).

    Returns
    -------
    P_i : ndarray (S, A_i, S)
    r_i : ndarray (S, A_i)
    """
    sizes = _sizes(action_sizes)
    S = P.shape[0]
    n = sizes[agent]
    left_n = (math.prod(sizes[:agent]))
    right_n = (math.prod(sizes[agent + 1:]))
    T = P.reshape(S, left_n, n * right_n * S)
    if left_n > 1:
        T = _contract_left(T, _range_policy(probs, sizes, 0, agent))
    T = T.reshape(S, n, right_n, S)
    if right_n > 1:
        T = _contract_right(T, _range_policy(probs, sizes, agent + 1, len(sizes)))
    P_i = T.reshape(S, n, S)
    r_i = _marginal_vector(R_i, probs, sizes, agent)
    return P_i, r_i


def agent_mdps(P, R, probs, action_sizes, PR=None):
    r"""Every agent's MDP, and the policy's transition and rewards, in ~2-3 passes over P.

    :func:`leave_one_out` on ``P`` (X = S) and on the rewards (X = N), or on both at once
    when ``PR = concat(P, R^T) [S, A, S + N]`` is given; the joint :math:`P_\pi`,
    :math:`r_\pi` follow from agent 0's marginal
    (:math:`P_\pi(s, \cdot) = \sum_{a_0} \pi^0(a_0|s) P_0(s, a_0, \cdot)`).

    Returns
    -------
    Ps : list of ndarray (S, A_i, S)
    rs : list of ndarray (S, A_i)
        Agent i's own reward marginal.
    P_pi : ndarray (S, S)
    r_pi : ndarray (N, S)
    """
    sizes = _sizes(action_sizes)
    N, S, _ = R.shape
    p0 = probs[0, :, None, : sizes[0]]
    if PR is None:
        Ps = leave_one_out(P, probs, sizes)
        Rt = leave_one_out(np.ascontiguousarray(R.transpose(1, 2, 0)), probs, sizes)
        P_pi = np.matmul(p0, Ps[0])[:, 0, :]
        r_pi = np.matmul(p0, Rt[0])[:, 0, :].T
        return Ps, [Rt[i][:, :, i] for i in range(N)], P_pi, r_pi
    M = leave_one_out(PR, probs, sizes)
    joint = np.matmul(p0, M[0])[:, 0, :]
    return ([m[:, :, :S] for m in M], [M[i][:, :, S + i] for i in range(N)], joint[:, :S],
            joint[:, S:].T)


def _all_mdps(P, R, probs, sizes, PR=None):
    """:func:`agent_mdps` with the MDPs stacked (:func:`_stack`): ``P_st [N, S, B, S]``,
    ``r_st [N, S, B]``, ``P_pi [S, S]``, ``r_pi [N, S]``."""
    Ps, rs, P_pi, r_pi = agent_mdps(P, R, probs, sizes, PR)
    return (*_stack(Ps, rs), P_pi, r_pi)


# -- policy iteration -------------------------------------------------------------------
def _stack(Ps, rs):
    """K MDPs as one (K, S, B, S) and (K, S, B) array, B = max A_i; an agent with fewer
    actions gets copies of its action 0 (which change no optimal value)."""
    B = max(P.shape[1] for P in Ps)
    if all(P.shape[1] == B for P in Ps):
        return np.stack(Ps), np.stack(rs)
    K, S = len(Ps), Ps[0].shape[0]
    Pst, rst = np.empty((K, S, B, S)), np.empty((K, S, B))
    for k, (P, r) in enumerate(zip(Ps, rs)):
        n = P.shape[1]
        Pst[k, :, :n], Pst[k, :, n:] = P, P[:, :1]
        rst[k, :, :n], rst[k, :, n:] = r, r[:, :1]
    return Pst, rst


def _policy_iteration(P, r, gamma, sigma, tol=IMPROVE_TOL, max_iter=10_000):
    """Howard PI on K stacked MDPs ``P [K, S, B, S]``, ``r [K, S, B]`` from ``sigma [K, S]``.

    Per step: the systems of the MDPs still improving in one stacked ``np.linalg.solve``,
    all their Q-values in one batched ``matmul``. Returns (values [K, S], policies [K, S],
    iterations).
    """
    K, S, B, _ = P.shape
    flat = P.reshape(K, S * B, S)
    sigma = np.array(sigma, dtype=np.intp)
    values = np.empty((K, S))
    rows = np.arange(S)
    active = np.arange(K)
    for it in range(1, max_iter + 1):
        kk = active[:, None]
        sig = sigma[active]
        M = P[kk, rows, sig]                   # (K', S, S), a fresh array
        M *= -gamma
        M.reshape(len(active), S * S)[:, :: S + 1] += 1.0   # + I, on the diagonal only
        v = np.linalg.solve(M, r[kk, rows, sig][:, :, None])
        if len(active) == K:
            q = np.matmul(flat, v).reshape(K, S, B)
            q *= gamma
            q += r
        else:       # a few MDPs left: no copy of the converged ones' tensors
            q = np.stack([r[k] + gamma * (flat[k] @ v[j, :, 0]).reshape(S, B)
                          for j, k in enumerate(active)])
        v = v[:, :, 0]
        values[active] = v
        best = q.argmax(axis=2)
        gain = q.max(axis=2) - q[np.arange(len(active))[:, None], rows, sig]
        better = gain > tol * np.maximum(1.0, np.abs(v).max(axis=1, keepdims=True))
        if not better.any():
            return values, sigma, it
        sigma[active] = np.where(better, best, sig)
        active = active[better.any(axis=1)]
    raise RuntimeError(f"policy iteration did not converge in {max_iter} steps")


def solve_mdp(P, r, gamma, init=None):
    r"""Optimal values of an MDP by Howard's policy iteration, vectorized over states.

    .. math:: V^*(s) = \max_b\, r(s, b) + \gamma \sum_{s'} P(s'|s, b) V^*(s')

    Each step solves :math:`(I - \gamma P_\sigma) v = r_\sigma` (``np.linalg.solve``),
    computes :math:`q = r + \gamma P v` in one ``matmul`` and switches to the greedy action
    where it improves by more than ``IMPROVE_TOL * max(1, max|v|)``; it stops when no
    state improves (then ``v`` is optimal). The first policy is ``init``, or greedy after
    one Bellman backup of ``max_b r`` (as QuantEcon's ``DiscreteDP`` and
    :func:`fairmg.solve_mdp`).

    Parameters
    ----------
    P : ndarray (S, B, S)
    r : ndarray (S, B)
    gamma : float
    init : ndarray (S,) of int, optional

    Returns
    -------
    v : ndarray (S,)
    policy : ndarray (S,) of int
    iterations : int
        Policy evaluations done.
    """
    S, B, _ = P.shape
    if init is None:
        init = np.argmax(r + gamma * (P.reshape(S * B, S) @ r.max(axis=1)).reshape(S, B),
                         axis=1)
    v, sigma, it = _policy_iteration(P[None], r[None], gamma, np.asarray(init)[None])
    return v[0], sigma[0], it


def best_response_value(P, R, gamma, mu, probs, action_sizes, agent, init=None):
    r""":math:`\max_{\bar\pi^i} V^i_{\bar\pi^i, \pi^{-i}}` of ``agent``: :func:`solve_mdp`
    on :func:`agent_mdp`.

    Returns
    -------
    values : ndarray (S,)
    value_at_initial : float
    policy : ndarray (S,) of int
    """
    P_i, r_i = agent_mdp(P, R[agent], probs, action_sizes, agent)
    v, sigma, _ = solve_mdp(P_i, r_i, gamma, init=init)
    return v, float(v @ mu), sigma


def _local_q(P_st, r_st, V, gamma):
    """The local Q-values ``r_i + gamma P_i V^i`` of the stacked MDPs, shape (N, S, B)."""
    N, S = V.shape
    return r_st + gamma * np.matmul(P_st.reshape(N, -1, S), V[:, :, None]).reshape(r_st.shape)


def _gaps(P, r, local, V, gamma, mu):
    """Per-agent Nash-gaps [N] from the stacked MDPs, started at the greedy local action."""
    best, _, _ = _policy_iteration(P, r, gamma, local.argmax(axis=2))
    return np.maximum(best @ mu - V @ mu, 0.0)


def nash_gap(P, R, gamma, mu, probs, action_sizes, per_agent=False):
    r"""Nash-gap of a product policy (002, Definition 2.4).

    .. math:: \max_i\, \big(\max_{\bar\pi^i} V^i_{\bar\pi^i, \pi^{-i}}(\mu) - V^i_\pi(\mu)\big)

    All agents' MDPs by :func:`agent_mdps` (~2-3 passes over ``P``), the policy's values in
    one solve with N right-hand sides, and the N best responses by one batched policy
    iteration started at the greedy local action. Each agent's gap is clipped at 0 (it is
    >= 0 up to rounding), as in :func:`fairmg.nash_gap`.

    Returns
    -------
    float, or ndarray (N,) for ``per_agent=True``
    """
    sizes = _sizes(action_sizes)
    P_st, r_st, P_pi, r_pi = _all_mdps(P, R, probs, sizes)
    V = _values(P_pi, r_pi, gamma)
    gaps = _gaps(P_st, r_st, _local_q(P_st, r_st, V, gamma), V, gamma, mu)
    return gaps if per_agent else float(gaps.max())


def social_optimum(P, R, gamma, mu):
    r""":math:`\max_\pi \sum_i V^i_\pi(\mu)`: :func:`solve_mdp` on the joint-action MDP
    with the summed reward (a deterministic joint policy is a product policy).

    Returns
    -------
    value : float
    values : ndarray (S,)
    policy : ndarray (S,) of int
        Joint actions.
    """
    v, sigma, _ = solve_mdp(P, R.sum(axis=0), gamma)
    return float(v @ mu), v, sigma


# -- natural policy gradient (002 eq. (4), Lemma 3.7) ----------------------------------------
def _mask(action_sizes, width):
    return np.arange(width)[None, :] < np.asarray(action_sizes)[:, None]


def softmax(theta, action_sizes):
    r"""Product policy of logits ``theta [N, S, A_max]``: :math:`\pi^i(a|s) \propto
    e^{\theta^i_{s,a}}` over the agent's own actions, zero on padding."""
    mask = _mask(_sizes(action_sizes), theta.shape[2])[:, None, :]
    z = np.where(mask, theta, -np.inf)
    e = np.exp(z - z.max(axis=2, keepdims=True))
    return e / e.sum(axis=2, keepdims=True)


def _npg_direction(local, V, sizes, d=None):
    """Centered local advantages [N, S, B] from local Q-values ``local [N, S, B]``
    (zero on padding; zero where d(s) = 0)."""
    adv = local - V[:, :, None]
    if len(set(sizes)) == 1:
        adv -= adv.mean(axis=2, keepdims=True)
    else:
        mask = _mask(sizes, local.shape[2])[:, None, :]
        adv = np.where(mask, adv - (adv * mask).sum(2, keepdims=True)
                       / np.array(sizes)[:, None, None], 0.0)
    if d is not None:
        adv[:, d <= 1e-12 * d.max(), :] = 0.0
    return adv


def npg_step(theta, P, R, gamma, mu, action_sizes, lr):
    r"""One natural policy gradient step of every agent (002, eq. (4) and Lemma 3.7).

    .. math:: \theta^i_{s, a_i} \leftarrow \theta^i_{s, a_i} + \eta
              \big(A^i(s, a_i) - \tfrac{1}{A_i}\textstyle\sum_b A^i(s, b)\big),
              \qquad A^i(s, a_i) = \bar Q^i(s, a_i) - V^i(s)

    With the unnormalized visitation in both the gradient and the Fisher matrix, the
    Moore-Penrose natural gradient is the centered local advantage where
    :math:`d_\mu^\pi(s) > 0` and 0 where it vanishes (no factor 1/(1-gamma)).

    Returns
    -------
    ndarray (N, S, A_max)
        The new logits (padding set to 0).
    """
    sizes = _sizes(action_sizes)
    probs = softmax(theta, sizes)
    V, _, local_q, d = evaluate(P, R, gamma, mu, probs, sizes)
    B = max(sizes)
    out = np.where(_mask(sizes, theta.shape[2])[:, None, :], theta, 0.0)
    out[:, :, :B] += lr * _npg_direction(local_q[:, :, :B], V, sizes, d)
    return out


def npg_run(P, R, gamma, mu, theta0, action_sizes, lr, iters, with_metrics=True):
    r"""``iters`` NPG steps (:func:`npg_step`) with the Nash-gap and POA of every iterate.

    Per iteration: the agents' MDPs and the policy's transition and rewards in one
    divide-and-conquer contraction of ``[P | R^T]`` (precomputed once), the values of all
    agents in one solve, the local advantages :math:`r_i + \gamma P_i V^i - V^i` from the
    agents' MDPs (the joint Q is never formed), the Nash-gap by the batched best
    responses, and POA :math:`= \sum_i V^i(\mu) / \max_\pi \sum_i V^i_\pi(\mu)` (the social
    optimum is solved once; POA is recorded only when it is positive, as in
    :func:`fairmg.dynamics.npg`). Where :math:`\mu > 0` everywhere, :math:`d \ge \mu > 0` and
    the visitation is not needed; otherwise it is solved for, to zero the step where it
    vanishes.

    Parameters
    ----------
    P, R, gamma, mu
        The game.
    theta0 : ndarray (N, S, A_max)
    action_sizes : sequence of int
    lr : float
    iters : int
    with_metrics : bool
        Record the Nash-gap and POA of theta_0 .. theta_iters.

    Returns
    -------
    theta : ndarray (N, S, A_max)
        theta_iters.
    metrics : dict
        ``"nash_gap"`` and (optimum > 0) ``"poa"``, each of length ``iters + 1``; empty
        without metrics.
    """
    sizes = _sizes(action_sizes)
    N, S, A = R.shape
    width, B = theta0.shape[2], max(sizes)
    theta = np.where(_mask(sizes, width)[:, None, :], np.asarray(theta0, dtype=np.float64), 0.0)
    PR = np.concatenate([P, R.transpose(1, 2, 0)], axis=2)     # contracted together
    need_d = bool(np.any(mu <= 0))
    eye = np.eye(S)
    opt = social_optimum(P, R, gamma, mu)[0] if with_metrics else 0.0
    gaps, poa = [], []
    for t in range(iters + 1):
        probs = softmax(theta, sizes)
        P_st, r_st, P_pi, r_pi = _all_mdps(P, R, probs, sizes, PR)
        Mt = eye - gamma * P_pi
        V = np.linalg.solve(Mt, r_pi.T).T
        local = _local_q(P_st, r_st, V, gamma)
        if with_metrics:
            gaps.append(_gaps(P_st, r_st, local, V, gamma, mu).max())
            if opt > 0:
                poa.append((V @ mu).sum() / opt)
        if t == iters:
            break
        d = np.linalg.solve(Mt.T, mu) if need_d else None
        theta[:, :, :B] += lr * _npg_direction(local, V, sizes, d)
    metrics = {}
    if with_metrics:
        metrics["nash_gap"] = np.array(gaps)
        if opt > 0:
            metrics["poa"] = np.array(poa)
    return theta, metrics


# -- random games -----------------------------------------------------------------------
def random_game(n_states, action_sizes, rng=None):
    r"""A random dense game: Dirichlet(1) transition rows, rewards uniform in [0, 1).

    Dirichlet(1, ..., 1) rows are normalized standard exponentials, drawn in one call;
    ``mu`` is uniform.

    Returns
    -------
    P : ndarray (S, A, S)
    R : ndarray (N, S, A)
    mu : ndarray (S,)
    """
    sizes = _sizes(action_sizes)
    rng = np.random.default_rng(rng)
    S, A = int(n_states), (math.prod(sizes))
    P = rng.standard_exponential((S, A, S))
    P /= P.sum(axis=2, keepdims=True)
    R = rng.random((len(sizes), S, A))
    return P, R, np.full(S, 1.0 / S)
