"""The hot loops, compiled with numba (``cache=True``).

All kernels take float64 C-contiguous arrays and int64 index arrays, so each compiles
for one signature (two where an argument can be read-only or writable). Shapes: ``N``
agents, ``S`` states, ``A`` joint actions, ``M = max(action_sizes)``;
``ja[a, i]`` is agent i's action in joint action a.
"""
from __future__ import annotations

import numpy as np
from numba import njit

__all__ = ["rows_are_distributions", "joint_probs", "policy_transition", "policy_rewards", "agent_mdp",
           "local_q", "greedy_update", "best_response_value"]


@njit(cache=True, fastmath={"reassoc", "contract"})
def rows_are_distributions(rows, tol):
    """True when every row of ``rows`` (2-D) is finite, >= 0 and sums to 1 within ``tol``.

    One pass, no temporaries. ``sum |x| - x`` is 0 exactly when no entry is negative;
    NaN and inf make a sum NaN or inf, which fails both tests (reassociation only, so
    NaN semantics are kept).
    """
    for k in range(rows.shape[0]):
        acc = 0.0
        neg = 0.0
        for j in range(rows.shape[1]):
            x = rows[k, j]
            acc += x
            neg += abs(x) - x
        if not (neg == 0.0 and abs(acc - 1.0) <= tol):
            return False
    return True


@njit(cache=True)
def _leave_one_out(probs, ja, s, a, out):
    """out[i] = prod_{j != i} probs[j, s, ja[a, j]] by prefix and suffix products."""
    n = ja.shape[1]
    acc = 1.0
    for i in range(n):
        out[i] = acc
        acc *= probs[i, s, ja[a, i]]
    acc = 1.0
    for i in range(n - 1, -1, -1):
        out[i] *= acc
        acc *= probs[i, s, ja[a, i]]


@njit(cache=True)
def joint_probs(probs, ja):
    """pi(a|s) = prod_i probs[i, s, ja[a, i]], shape (S, A)."""
    n, S, _ = probs.shape
    A = ja.shape[0]
    out = np.empty((S, A))
    for s in range(S):
        for a in range(A):
            p = 1.0
            for i in range(n):
                p *= probs[i, s, ja[a, i]]
            out[s, a] = p
    return out


@njit(cache=True)
def policy_transition(P, pij):
    """P_pi[s, s'] = sum_a pij[s, a] P[s, a, s'], shape (S, S)."""
    S, A, _ = P.shape
    out = np.zeros((S, S))
    for s in range(S):
        for a in range(A):
            w = pij[s, a]
            if w != 0.0:
                for t in range(S):
                    out[s, t] += w * P[s, a, t]
    return out


@njit(cache=True)
def policy_rewards(R, pij):
    """r_pi[i, s] = sum_a pij[s, a] R[i, s, a], shape (N, S)."""
    n, S, A = R.shape
    out = np.zeros((n, S))
    for i in range(n):
        for s in range(S):
            acc = 0.0
            for a in range(A):
                acc += pij[s, a] * R[i, s, a]
            out[i, s] = acc
    return out


@njit(cache=True)
def agent_mdp(P, r, probs, ja, agent, M):
    """The MDP of ``agent`` with the others fixed: P_i (S, M, S) and r_i (S, M).

    ``P_i[s, b, s'] = sum_{a: a_i = b} prod_{j != i} pi^j(a_j|s) P[s, a, s']``, and the
    same weights for ``r_i``. Rows of actions the agent does not have stay 0.
    """
    S, A, _ = P.shape
    n = ja.shape[1]
    Pi = np.zeros((S, M, S))
    ri = np.zeros((S, M))
    loo = np.empty(n)
    for s in range(S):
        for a in range(A):
            _leave_one_out(probs, ja, s, a, loo)
            w = loo[agent]
            if w != 0.0:
                b = ja[a, agent]
                ri[s, b] += w * r[s, a]
                for t in range(S):
                    Pi[s, b, t] += w * P[s, a, t]
    return Pi, ri


@njit(cache=True)
def local_q(q, probs, ja):
    """Q^i(s, a_i) = E_{a_-i ~ pi_-i}[Q^i(s, a)] for all agents, shape (N, S, M).

    002, Lemma 3.1: the marginal over the other agents' actions of the joint Q.
    """
    n, S, A = q.shape
    out = np.zeros((n, S, probs.shape[2]))
    loo = np.empty(n)
    for s in range(S):
        for a in range(A):
            _leave_one_out(probs, ja, s, a, loo)
            for i in range(n):
                out[i, s, ja[a, i]] += loo[i] * q[i, s, a]
    return out


@njit(cache=True)
def greedy_update(q, n_actions, current, tol):
    """Policy-improvement step with deterministic tie-breaking.

    For each state keep ``current[s]`` unless some action beats it by more than ``tol``;
    then take the lowest-index maximizer. Returns the new actions and how many changed.
    Keeping the incumbent on near-ties is what makes policy iteration terminate.
    """
    S = q.shape[0]
    new = current.copy()
    changed = 0
    for s in range(S):
        best = 0
        for b in range(1, n_actions):
            if q[s, b] > q[s, best]:
                best = b
        if q[s, best] > q[s, current[s]] + tol:
            new[s] = best
            changed += 1
    return new, changed


@njit(cache=True)
def best_response_value(P, r, probs, ja, agent, M, n_actions, gamma, mu, init, tol,
                        max_iter):
    """max over ``agent``'s policies of its V(mu), the others fixed, in one compiled call.

    :func:`agent_mdp` followed by Howard's policy iteration from the deterministic policy
    ``init`` (S,), with the tie-breaking of :func:`greedy_update` (keep the incumbent
    unless an action beats it by more than ``tol * max(1, max|v|)``, then the lowest-index
    maximizer). Returns ``(value at mu, iterations, converged)``. This is what
    ``equilibrium.nash_gap`` needs each iteration of a dynamic, without Python overhead.
    """
    Pi, ri = agent_mdp(P, r, probs, ja, agent, M)
    S = P.shape[0]
    act = init.copy()
    v = np.zeros(S)
    for it in range(1, max_iter + 1):
        lhs = np.eye(S)
        rhs = np.empty(S)
        for s in range(S):
            rhs[s] = ri[s, act[s]]
            for t in range(S):
                lhs[s, t] -= gamma * Pi[s, act[s], t]
        v = np.linalg.solve(lhs, rhs)
        scale = 1.0
        for s in range(S):
            scale = max(scale, abs(v[s]))
        changed = 0
        for s in range(S):
            best = 0
            q_best = -np.inf
            q_current = -np.inf
            for b in range(n_actions):
                q = ri[s, b]
                for t in range(S):
                    q += gamma * Pi[s, b, t] * v[t]
                if b == act[s]:
                    q_current = q
                if q > q_best:
                    q_best = q
                    best = b
            if q_best > q_current + tol * scale:
                act[s] = best
                changed += 1
        if changed == 0:
            return v @ mu, it, True
    return v @ mu, max_iter, False
