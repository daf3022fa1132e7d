"""Plain NumPy references of the policy-gradient dynamics of 002 (explicit loops, dense
inverses, explicit Moore-Penrose inverses).

Written independently of :mod:`fairmg.dynamics.pg` and on top of :mod:`fairmg.reference`
(not :mod:`fairmg.evaluate`), to cross-check the dynamics in the tests and to be the
baseline of ``fairmg bench --only dynamics``. Works on raw arrays (``P[s, a, s']``,
``R[i, s, a]``, ``theta[i, s, a_i]``). Slow on purpose. Not part of the public API.
"""
from __future__ import annotations

import numpy as np

from . import reference as ref


def softmax_rows(theta_i, n):
    """pi(a|s) of one agent's logits ``theta_i[s, :n]``, row by row."""
    S = theta_i.shape[0]
    out = np.zeros(theta_i.shape)
    for s in range(S):
        z = theta_i[s, :n] - max(theta_i[s, :n])
        e = np.exp(z)
        out[s, :n] = e / e.sum()
    return out


def product_probs(theta, action_sizes):
    return np.array([softmax_rows(theta[i], n) for i, n in enumerate(action_sizes)])


def local_advantages(P, R, gamma, mu, probs, action_sizes):
    """(A^i(s, a_i) [N, S, A_max], V [N, S], d [S]) by the reference evaluation."""
    V, _, localq, d = ref.evaluate(P, R, gamma, mu, probs, action_sizes)
    adv = np.zeros_like(localq)
    for i, n in enumerate(action_sizes):
        adv[i, :, :n] = localq[i, :, :n] - V[i][:, None]
    return adv, V, d


def score_vector(probs_i, s, a, n):
    """grad_theta log pi(a|s) of one agent's tabular softmax, flattened over (s', b)."""
    S = probs_i.shape[0]
    g = np.zeros((S, n))
    for b in range(n):
        g[s, b] = (1.0 if a == b else 0.0) - probs_i[s, b]
    return g.ravel()


def fisher_matrix(probs_i, d, n):
    """F = E_{s ~ d, a ~ pi(.|s)}[grad log pi grad log pi^T] (002, Section 3.3), (S n, S n)."""
    S = probs_i.shape[0]
    F = np.zeros((S * n, S * n))
    for s in range(S):
        for a in range(n):
            g = score_vector(probs_i, s, a, n)
            F += d[s] * probs_i[s, a] * np.outer(g, g)
    return F


def natural_gradient_pinv(probs_i, d, grad_i, n):
    """(F^i)^+ grad by numpy.linalg.pinv of the explicit Fisher matrix, shape (S, n)."""
    S = probs_i.shape[0]
    return (np.linalg.pinv(fisher_matrix(probs_i, d, n)) @ grad_i[:, :n].ravel()).reshape(S, n)


def social_optimum_value(P, R, gamma, mu):
    """max_pi sum_i V^i(mu) by textbook policy iteration on the joint-action MDP."""
    return float(ref.policy_iteration(P, R.sum(axis=0), gamma) @ mu)


def potential_value(P, phi, gamma, mu, probs, action_sizes):
    """Phi_pi(mu): the value of the potential phi(s, a) under pi."""
    pij = ref.joint_policy(probs, action_sizes)
    S = P.shape[0]
    P_pi = np.einsum("sa,sat->st", pij, P)
    return float(mu @ np.linalg.inv(np.eye(S) - gamma * P_pi) @ np.einsum("sa,sa->s", pij, phi))


def npg_run(P, R, gamma, mu, action_sizes, theta0, lr, iters, phi=None):
    """NPG (Lemma 3.7's soft policy iteration, theta += lr * centered A) with the metrics of
    every iteration (Nash-gap, POA, potential) by the reference: the bench baseline."""
    N = R.shape[0]
    opt = social_optimum_value(P, R, gamma, mu)
    theta = np.array(theta0, dtype=np.float64)
    out = {"nash_gap": [], "poa": [], "potential": []}
    for t in range(iters + 1):
        probs = product_probs(theta, action_sizes)
        adv, V, _ = local_advantages(P, R, gamma, mu, probs, action_sizes)
        out["nash_gap"].append(ref.nash_gap(P, R, gamma, mu, probs, action_sizes))
        out["poa"].append(float((V @ mu).sum() / opt))
        if phi is not None:
            out["potential"].append(potential_value(P, phi, gamma, mu, probs, action_sizes))
        if t == iters:
            break
        for i in range(N):
            n = action_sizes[i]
            for s in range(P.shape[0]):
                theta[i, s, :n] += lr * (adv[i, s, :n] - adv[i, s, :n].mean())
    return {k: np.array(v) for k, v in out.items()}, theta


def single_agent_npg(Pi, ri, gamma, mu, theta_i, lr, lam, n, K, n_states):
    """K natural-gradient steps (with pinv) of one agent in its MDP; returns
    (theta_K, objective_0, objective_K) with objective V(mu) + lam * barrier."""
    S = Pi.shape[0]
    th = theta_i.copy()
    objs = []
    for k in range(K + 1):
        p = softmax_rows(th, n)[:, :n]
        P_pi = np.einsum("sa,sat->st", p, Pi)
        inv = np.linalg.inv(np.eye(S) - gamma * P_pi)
        V = inv @ np.einsum("sa,sa->s", p, ri)
        d = mu @ inv
        barrier = np.log(p).sum() / (n_states * n) + np.log(n)
        objs.append(V @ mu + lam * barrier)
        if k == K:
            break
        A = ri + gamma * np.einsum("sat,t->sa", Pi, V) - V[:, None]
        grad = d[:, None] * p * A + lam / n_states * (1.0 / n - p)
        th[:, :n] += lr * natural_gradient_pinv(p, d, grad, n)
    return th, objs[0], objs[-1]


def npg_best_response_step(P, R, gamma, mu, action_sizes, theta, K, lr, lam=0.0):
    """One outer step of NPG-BR (002, eqs. (5)-(6)) by plain loops; returns (theta, agent)."""
    N, S = R.shape[0], P.shape[0]
    probs = product_probs(theta, action_sizes)
    best, best_gain, best_theta = None, -np.inf, None
    for i in range(N):
        n = action_sizes[i]
        Pi, ri = ref.agent_mdp(P, R, probs, action_sizes, i)
        th, before, after = single_agent_npg(Pi, ri, gamma, mu, theta[i, :, :n].copy(), lr,
                                             lam, n, K, S)
        if after - before > best_gain:
            best, best_gain, best_theta = i, after - before, th
    out = theta.copy()
    out[best, :, : action_sizes[best]] = best_theta
    return out, best
