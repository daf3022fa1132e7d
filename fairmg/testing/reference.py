"""A plain NumPy reference of the exact engine: dense inverses, explicit loops.

Written independently of :mod:`fairmg.kernels` and :mod:`fairmg.evaluate` to
cross-check them in the tests and to be the baseline of ``fairmg bench``. It works on
raw arrays (``P[s, a, s']``, ``R[i, s, a]``, ``probs[i, s, a_i]``) and is slow on
purpose: clarity over speed. Not part of the public API.
"""
from __future__ import annotations

import itertools

import numpy as np


def joint_actions(action_sizes):
    """List of joint action tuples in C order (agent 0 most significant)."""
    return list(itertools.product(*[range(n) for n in action_sizes]))


def joint_policy(probs, action_sizes):
    S = probs.shape[1]
    acts = joint_actions(action_sizes)
    pij = np.ones((S, len(acts)))
    for s in range(S):
        for a, tup in enumerate(acts):
            for i, ai in enumerate(tup):
                pij[s, a] *= probs[i, s, ai]
    return pij


def evaluate(P, R, gamma, mu, probs, action_sizes):
    """Return (V [N,S], Q [N,S,A], local Q [N,S,A_max], visitation [S])."""
    N, S, A = R.shape
    pij = joint_policy(probs, action_sizes)
    P_pi = np.einsum("sa,sat->st", pij, P)
    inv = np.linalg.inv(np.eye(S) - gamma * P_pi)
    V = np.array([inv @ np.einsum("sa,sa->s", pij, R[i]) for i in range(N)])
    Q = np.array([R[i] + gamma * np.einsum("sat,t->sa", P, V[i]) for i in range(N)])
    d = mu @ inv
    acts = joint_actions(action_sizes)
    localq = np.zeros((N, S, probs.shape[2]))
    for i in range(N):
        for s in range(S):
            for a, tup in enumerate(acts):
                w = np.prod([probs[j, s, tup[j]] for j in range(N) if j != i])
                localq[i, s, tup[i]] += w * Q[i, s, a]
    return V, Q, localq, d


def agent_mdp(P, R, probs, action_sizes, agent):
    """(P_i [S, A_i, S], r_i [S, A_i]) of ``agent`` against the others' policies."""
    N, S, A = R.shape
    acts = joint_actions(action_sizes)
    n = action_sizes[agent]
    Pi = np.zeros((S, n, S))
    ri = np.zeros((S, n))
    for s in range(S):
        for a, tup in enumerate(acts):
            w = np.prod([probs[j, s, tup[j]] for j in range(N) if j != agent])
            Pi[s, tup[agent]] += w * P[s, a]
            ri[s, tup[agent]] += w * R[agent, s, a]
    return Pi, ri


def value_iteration(P, r, gamma, tol=1e-12, max_iter=1_000_000):
    """Optimal values of an MDP by value iteration to a sup-norm error below ``tol``."""
    v = np.zeros(P.shape[0])
    for _ in range(max_iter):
        v_new = (r + gamma * P @ v).max(axis=1)
        # ||v_new - v*|| <= gamma / (1 - gamma) ||v_new - v||
        if np.abs(v_new - v).max() * gamma / (1 - gamma) < tol:
            return v_new
        v = v_new
    raise RuntimeError("value iteration did not converge")


def policy_iteration(P, r, gamma):
    """Optimal values of an MDP by textbook policy iteration with dense inverses."""
    S = P.shape[0]
    sigma = np.argmax(r, axis=1)
    while True:
        P_s = P[np.arange(S), sigma]
        v = np.linalg.inv(np.eye(S) - gamma * P_s) @ r[np.arange(S), sigma]
        q = r + gamma * P @ v
        new = sigma.copy()
        better = q.max(axis=1) > q[np.arange(S), sigma] + 1e-12 * max(1, abs(v).max())
        new[better] = np.argmax(q, axis=1)[better]
        if not better.any():
            return v
        sigma = new


def nash_gap(P, R, gamma, mu, probs, action_sizes, per_agent=False):
    V = evaluate(P, R, gamma, mu, probs, action_sizes)[0]
    gaps = []
    for i in range(R.shape[0]):
        Pi, ri = agent_mdp(P, R, probs, action_sizes, i)
        gaps.append(policy_iteration(Pi, ri, gamma) @ mu - V[i] @ mu)
    gaps = np.array(gaps)
    return gaps if per_agent else gaps.max()


def marginal(table, probs, action_sizes, keep):
    """Brute-force marginal of ``table[..., s, a]`` onto the agents ``keep`` (loops)."""
    table = np.asarray(table, dtype=np.float64)
    lead, S = table.shape[:-2], table.shape[-2]
    acts = joint_actions(action_sizes)
    out = np.zeros(lead + (S,) + tuple(action_sizes[k] for k in keep))
    for s in range(S):
        for a, tup in enumerate(acts):
            w = 1.0
            for j, aj in enumerate(tup):
                if j not in keep:
                    w *= probs[j, s, aj]
            idx = (Ellipsis, s) + tuple(tup[k] for k in keep)
            out[idx] += w * table[..., s, a]
    return out


def factored_transition(local_transitions, action_sizes):
    """Dense P[s, a, s'] = prod_j P_j(s'_j | s, a_j) of a factored game, by loops.

    ``local_transitions[j]`` has shape (A_j, n_j), (n_j, A_j, n_j) or (S, A_j, n_j).
    """
    n_local = [L.shape[-1] for L in local_transitions]
    states = list(itertools.product(*[range(n) for n in n_local]))
    S = len(states)
    acts = joint_actions(action_sizes)
    P = np.zeros((S, len(acts), S))
    for s, stup in enumerate(states):
        for a, atup in enumerate(acts):
            for t, ttup in enumerate(states):
                p = 1.0
                for j, L in enumerate(local_transitions):
                    if L.ndim == 2:
                        row = L[atup[j]]
                    elif L.shape[0] == S:
                        row = L[s, atup[j]]
                    else:
                        row = L[stup[j], atup[j]]
                    p *= row[ttup[j]]
                P[s, a, t] = p
    return P
