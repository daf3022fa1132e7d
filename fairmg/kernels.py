"""The hot loops, compiled with numba (``cache=True``).

All kernels take float64 C-contiguous arrays and int64 index arrays, so each compiles
for one signature (two where an argument can be read-only or writable). Shapes: ``N``
agents, ``S`` states, ``A`` joint actions, ``M = max(action_sizes)``;
``ja[a, i]`` is agent i's action in joint action a.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = ["rows_are_distributions", "joint_probs", "policy_transition", "policy_rewards", "agent_mdp",
           "local_q", "greedy_update", "best_response_value", "agent_mdps", "solve_dd", "masked_softmax", "dense_to_csr", "normalize_rows_sequentially",
           "factored_contract",
           "factored_rmatvec", "factored_dense", "grid_windows", "frozen"]


def frozen(a) -> np.ndarray:
    """A read-only C-contiguous float64/int64 view (or copy) of ``a``: numba compiles one
    signature per read-only flag, so the kernels' inputs are passed read-only throughout
    (the games' tensors already are)."""
    a = np.ascontiguousarray(a)
    v = a.view()
    v.setflags(write=False)
    return v


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
    same weights for ``r_i``. Rows of actions the agent does not have stay 0. (One pass
    over P, a contiguous row update per joint action.)
    """
    S, A, _ = P.shape
    n = ja.shape[1]
    Pi = np.zeros((S, M, S))
    ri = np.zeros((S, M))
    for s in range(S):
        for a in range(A):
            w = 1.0
            for j in range(n):
                if j != agent:
                    w *= probs[j, s, ja[a, j]]
            if w != 0.0:
                b = ja[a, agent]
                ri[s, b] += w * r[s, a]
                row = Pi[s, b]
                src = P[s, a]
                for t in range(S):
                    row[t] += w * src[t]
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
    v, its, ok = _policy_iteration(Pi, ri, n_actions, gamma, init.copy(), tol, max_iter)
    return v @ mu, its, ok



@njit(cache=True)
def masked_softmax(theta, sizes):
    r"""Stable softmax of ``theta[k, i, s, :sizes[i]]`` (K, N, S, M); padding 0.

    :math:`\pi^i(a|s) = e^{\theta_a - m} / \sum_b e^{\theta_b - m}`, :math:`m = \max_b\theta_b`.
    """
    K, N, S, M = theta.shape
    out = np.zeros((K, N, S, M))
    for k in range(K):
        for i in range(N):
            n = sizes[i]
            for s in range(S):
                top = theta[k, i, s, 0]
                for a in range(1, n):
                    top = max(top, theta[k, i, s, a])
                acc = 0.0
                for a in range(n):
                    e = np.exp(theta[k, i, s, a] - top)
                    out[k, i, s, a] = e
                    acc += e
                for a in range(n):
                    out[k, i, s, a] /= acc
    return out


@njit(cache=True)
def dense_to_csr(A):
    """``(data, indices, indptr)`` of the nonzeros of a 2-D array, row by row (CSR)."""
    n, m = A.shape
    indptr = np.zeros(n + 1, dtype=np.int64)
    for i in range(n):
        c = 0
        for j in range(m):
            if A[i, j] != 0.0:
                c += 1
        indptr[i + 1] = indptr[i] + c
    data = np.empty(indptr[n])
    indices = np.empty(indptr[n], dtype=np.int64)
    for i in range(n):
        k = indptr[i]
        for j in range(m):
            if A[i, j] != 0.0:
                data[k] = A[i, j]
                indices[k] = j
                k += 1
    return data, indices, indptr


@njit(cache=True)
def normalize_rows_sequentially(rows):
    """``rows[k] *= 1 / sum(rows[k])`` in place, the sum taken left to right as
    ``numpy.cumsum`` (and so ``Generator.dirichlet``) takes it: the same numbers, bit for
    bit, in one pass without a cumulative-sum temporary."""
    for k in range(rows.shape[0]):
        acc = 0.0
        for j in range(rows.shape[1]):
            acc += rows[k, j]
        inv = 1.0 / acc
        for j in range(rows.shape[1]):
            rows[k, j] *= inv

# -- every agent's MDP at once, by recursive halving of the joint action -----------------
@njit(cache=True)
def _kron_weights(probs, s, sizes, lo, hi):
    """prod_{j in [lo, hi)} pi^j(a_j|s) for every joint action of agents lo..hi-1 (C order)."""
    size = 1
    for j in range(lo, hi):
        size *= sizes[j]
    w = np.empty(size)
    w[0] = 1.0
    cur = 1
    for j in range(lo, hi):
        n = sizes[j]
        for p in range(cur - 1, -1, -1):
            base = w[p]
            for x in range(n - 1, -1, -1):
                w[p * n + x] = base * probs[j, s, x]
        cur *= n
    return w


@njit(cache=True)
def _split_rows(src, row, wl, wr, out_l, out_r):
    """Add row ``src[row(x_l, x_r)]`` weighted by ``wr[x_r]`` to ``out_l[x_l]`` and by
    ``wl[x_l]`` to ``out_r[x_r]``: one pass contracts either half of the agents."""
    nr = wr.shape[0]
    W = out_l.shape[1]
    for xl in range(wl.shape[0]):
        a = wl[xl]
        ol = out_l[xl]
        for xr in range(nr):
            b = wr[xr]
            s = src[row + xl * nr + xr]
            orr = out_r[xr]
            for c in range(W):
                v = s[c]
                ol[c] += b * v
                orr[c] += a * v


@njit(cache=True)
def agent_mdps(P, R, probs, sizes):
    r"""The MDP every agent faces with the others fixed: ``P_i (N, S, M, S)``, ``r_i (N, S, M)``.

    .. math:: P_i(s'|s, b) = \sum_{a: a_i = b} \prod_{j\ne i}\pi^j(a_j|s) P(s'|s, a),
              \qquad r_i(s, b) = \sum_{a: a_i = b} \prod_{j\ne i}\pi^j(a_j|s) R^i(s, a).

    By recursive halving: the table ``[P(.|s, a), R^1(s, a), ..., R^N(s, a)]`` over the
    joint actions of agents ``[lo, hi)`` is contracted over the right half of them (keeping
    the left) and over the left half (keeping the right) in one pass, and each half
    recurses; a leaf ``[i, i+1)`` is agent i's MDP. Per state this reads the joint table
    about twice (:math:`2 A (S + N)` multiply-adds) instead of N times for N separate
    :func:`agent_mdp` calls. Rows of actions an agent does not have stay 0.
    """
    S, A, _ = P.shape
    N = R.shape[0]
    M = probs.shape[2]
    W = S + N
    Pis = np.zeros((N, S, M, S))
    ris = np.zeros((N, S, M))
    if N == 2:     # two direct passes beat one pass with two outputs (measured)
        ja = np.empty((A, 2), dtype=np.int64)
        for a in range(A):
            ja[a, 0] = a // sizes[1]
            ja[a, 1] = a % sizes[1]
        for i in range(2):
            Pi, ri = agent_mdp(P, R[i], probs, ja, i, M)
            Pis[i] = Pi
            ris[i] = ri
        return Pis, ris
    Rt = np.empty((S, A, N))          # the rewards beside P's rows, for the first split
    for i in range(N):
        for s in range(S):
            for a in range(A):
                Rt[s, a, i] = R[i, s, a]
    for s in range(S):
        if N == 1:
            for b in range(sizes[0]):
                for t in range(S):
                    Pis[0, s, b, t] = P[s, b, t]
                ris[0, s, b] = R[0, s, b]
            continue
        # the first split reads P[s] in place (no copy of the largest table)
        mid = N // 2
        wl = _kron_weights(probs, s, sizes, 0, mid)
        wr = _kron_weights(probs, s, sizes, mid, N)
        left = np.zeros((wl.shape[0], W))
        right = np.zeros((wr.shape[0], W))
        _split_rows(P[s], 0, wl, wr, left[:, :S], right[:, :S])
        _split_rows(Rt[s], 0, wl, wr, left[:, S:], right[:, S:])
        stack = [(left, 0, mid), (right, mid, N)]
        while len(stack) > 0:
            T, lo, hi = stack.pop()
            if hi - lo == 1:
                for b in range(sizes[lo]):
                    for t in range(S):
                        Pis[lo, s, b, t] = T[b, t]
                    ris[lo, s, b] = T[b, S + lo]
                continue
            mid = (lo + hi) // 2
            wl = _kron_weights(probs, s, sizes, lo, mid)
            wr = _kron_weights(probs, s, sizes, mid, hi)
            left = np.zeros((wl.shape[0], W))
            right = np.zeros((wr.shape[0], W))
            _split_rows(T, 0, wl, wr, left, right)
            stack.append((left, lo, mid))
            stack.append((right, mid, hi))
    return Pis, ris


# -- small dense systems (I - gamma P): LU without pivoting ---------------------------------
#: Policy evaluations up to this many states (values for several rewards and the
#: visitation: two systems, one factorization) use the compiled LU below; larger ones
#: LAPACK (``np.linalg.solve``) twice, which wins beyond it (measured inside numba on this
#: 2-core machine: 13.5 vs 21 us at 32 states, equal at 48; a single right-hand side
#: favours LAPACK from 24 states on, so policy iteration keeps LAPACK).
SMALL_LU = 40


@njit(cache=True)
def lu_factor_dd(M):
    r"""In-place LU factors (unit lower L below the diagonal, U on and above) of a matrix
    strictly diagonally dominant by rows, such as :math:`I - \gamma P` with P row-stochastic
    and :math:`\gamma < 1`.

    Gaussian elimination without pivoting keeps row diagonal dominance in every Schur
    complement, so every pivot is at least the dominance margin :math:`1 - \gamma` and the
    growth factor is at most 2 (Wilkinson): backward stable without pivoting.
    """
    n = M.shape[0]
    for k in range(n):
        inv = 1.0 / M[k, k]
        rk = M[k]
        for i in range(k + 1, n):
            f = M[i, k] * inv
            M[i, k] = f
            if f != 0.0:
                ri = M[i]
                for j in range(k + 1, n):
                    ri[j] -= f * rk[j]


@njit(cache=True)
def lu_solve_dd(LU, B):
    """Solve ``(L U) X = B`` in place for B of shape (n, K) with the factors of :func:`lu_factor_dd`."""
    n, K = B.shape
    for i in range(n):
        for k in range(i):
            f = LU[i, k]
            if f != 0.0:
                for c in range(K):
                    B[i, c] -= f * B[k, c]
    for i in range(n - 1, -1, -1):
        for k in range(i + 1, n):
            f = LU[i, k]
            if f != 0.0:
                for c in range(K):
                    B[i, c] -= f * B[k, c]
        inv = 1.0 / LU[i, i]
        for c in range(K):
            B[i, c] *= inv


@njit(cache=True)
def lu_solve_transposed_dd(LU, b):
    """Solve ``(L U)^T y = b`` (the visitation's system) with the same factors; returns y."""
    n = b.shape[0]
    y = b.copy()
    for i in range(n):                  # U^T z = b
        y[i] /= LU[i, i]
        v = y[i]
        if v != 0.0:
            for k in range(i + 1, n):
                y[k] -= LU[i, k] * v
    for i in range(n - 1, -1, -1):      # L^T y = z
        v = y[i]
        if v != 0.0:
            for k in range(i):
                y[k] -= LU[i, k] * v
    return y


@njit(cache=True)
def solve_dd(M, B, b):
    r"""``X = M^{-1} B`` (n, K) and ``y = M^{-T} b`` (n,) for :math:`M = I - \gamma P`.

    One compiled LU without pivoting (:func:`lu_factor_dd`) serves both for n <=
    :data:`SMALL_LU`; LAPACK for larger n. ``M`` is not modified. ``b`` of length 0
    skips the transposed solve (y is then empty).
    """
    n = M.shape[0]
    if n <= SMALL_LU:
        LU = M.copy()
        lu_factor_dd(LU)
        X = B.copy()
        lu_solve_dd(LU, X)
        y = lu_solve_transposed_dd(LU, b) if b.shape[0] > 0 else np.empty(0)
        return X, y
    X = np.linalg.solve(M, B)
    y = np.linalg.solve(np.ascontiguousarray(M.T), b) if b.shape[0] > 0 else np.empty(0)
    return X, y


# -- factored games: per-agent local transitions, never a joint tensor --------------------
@njit(cache=True)
def _contract_one(M, s, src, n_local, m_out, cur, nxt):
    """The contraction of :func:`factored_contract` for one state; returns the buffer
    holding the result (``cur`` or ``nxt``). ``src`` is read, never written."""
    N = n_local.shape[0]
    pre = src.shape[0]
    post = 1
    first = True
    for j in range(N - 1, -1, -1):
        mid = n_local[j]
        pre = pre // mid
        m = m_out[j]
        inp = src if first else cur
        if m == 1 and post == 1 and mid == 2:   # binary local states: the hot case
            w0 = M[j, s, 0, 0]
            w1 = M[j, s, 0, 1]
            for p in range(pre):
                nxt[p] = w0 * inp[2 * p] + w1 * inp[2 * p + 1]
        elif m == 1 and post == 1:         # a plain weighted sum
            for p in range(pre):
                acc = 0.0
                for x in range(mid):
                    acc += M[j, s, 0, x] * inp[p * mid + x]
                nxt[p] = acc
        else:
            for p in range(pre):
                for b in range(m):
                    for q in range(post):
                        acc = 0.0
                        for x in range(mid):
                            acc += M[j, s, b, x] * inp[(p * mid + x) * post + q]
                        nxt[(p * m + b) * post + q] = acc
            post = post * m
        first = False
        cur, nxt = nxt, cur
    return cur


@njit(cache=True, parallel=True)
def factored_contract(M, V, n_local, m_out, out_size):
    r"""Contract each value vector with one local matrix per agent, state by state.

    For every value row k and state s, view ``V[k]`` as a tensor over the local next
    states :math:`(s'_1, ..., s'_N)` and contract agent j's axis with the matrix
    ``M[j, s, :m_out[j], :n_local[j]]``:

    .. math:: \text{out}[k, s, b_{K}] = \sum_{s'} \prod_{j} M_j(s)[b_j, s'_j]\, V_k(s'),

    where ``b_j`` ranges over ``m_out[j]`` rows (the kept agents' actions; 1 row for the
    others, whose matrix is then their policy-averaged local transition). Output axes:
    the kept agents' rows in agent order, flattened (C order), size ``out_size``.
    Cost per (k, s): :math:`\sum_j \prod_{l<j} n_l \cdot n_j m_j \prod_{l>j} m_l`;
    states are split over threads (numba ``prange``).
    """
    K, S = V.shape
    N = n_local.shape[0]
    out = np.empty((K, S, out_size))
    big = 1
    size = S
    for j in range(N - 1, -1, -1):
        size = size // n_local[j] * m_out[j]
        big = max(big, size)
    chunks = min(S, 64)
    for c in prange(chunks):
        cur = np.empty(big)
        nxt = np.empty(big)
        for s in range(c, S, chunks):
            for k in range(K):
                res = _contract_one(M, s, V[k], n_local, m_out, cur, nxt)
                for t in range(out_size):
                    out[k, s, t] = res[t]
    return out


@njit(cache=True)
def _kron_row(M, s, n_local, row):
    """row[:S] = kron(M[0, s, 0, :n_0], ..., M[N-1, s, 0, :n_{N-1}]) built in place."""
    N = n_local.shape[0]
    size = 1
    row[0] = 1.0
    for j in range(N):
        n = n_local[j]
        for p in range(size - 1, -1, -1):
            base = row[p]
            for x in range(n - 1, -1, -1):
                row[p * n + x] = base * M[j, s, 0, x]
        size *= n
    return size


@njit(cache=True, parallel=True)
def factored_rmatvec(M, n_local, y):
    r""":math:`P^\top y` for :math:`P(s'|s) = \prod_j M_j(s)[0, s'_j]`, shape (S,).

    Threads accumulate private partial sums over their share of the states, then add.
    """
    S = y.shape[0]
    chunks = min(S, 8)
    part = np.zeros((chunks, S))
    for c in prange(chunks):
        row = np.empty(S)
        for s in range(c, S, chunks):
            w = y[s]
            if w != 0.0:
                _kron_row(M, s, n_local, row)
                for t in range(S):
                    part[c, t] += w * row[t]
    return part.sum(axis=0)


@njit(cache=True, parallel=True)
def factored_dense(M, n_local):
    r""":math:`P(s'|s) = \prod_j M_j(s)[0, s'_j]` as a dense (S, S) array, in O(S^2)."""
    S = M.shape[1]
    out = np.empty((S, S))
    for s in prange(S):
        _kron_row(M, s, n_local, out[s])
    return out


# -- batches of policies of one dense game, in lockstep -----------------------------------
@njit(cache=True)
def _policy_iteration(Pi, ri, n_actions, gamma, act, tol, max_iter):
    """Howard PI on one agent MDP (S, M, S) from ``act`` (modified in place): ``(v, its, ok)``."""
    S = Pi.shape[0]
    for it in range(1, max_iter + 1):
        lhs = np.empty((S, S))
        rhs = np.empty(S)
        for s in range(S):
            rhs[s] = ri[s, act[s]]
            row = Pi[s, act[s]]
            for t in range(S):
                lhs[s, t] = -gamma * row[t]
            lhs[s, s] += 1.0
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
                row = Pi[s, b]
                for t in range(S):
                    q += gamma * row[t] * v[t]
                if b == act[s]:
                    q_current = q
                if q > q_best:
                    q_best = q
                    best = b
            if q_best > q_current + tol * scale:
                act[s] = best
                changed += 1
        if changed == 0:
            return v, it, True
    return v, max_iter, False


@njit(cache=True)
def _evaluate_joint(P, R, phi, probs, ja, gamma, mu):
    r"""Exact evaluation of B product policies through the joint tables (no best responses).

    For each b: the joint policy (:func:`joint_probs`), :math:`P_\pi`
    (:func:`policy_transition`), one solve of :math:`(I - \gamma P_\pi) X = [r^1_\pi, ...,
    r^N_\pi, \phi_\pi]` and one of the transposed system for the unnormalized visitation,
    then every agent's local Q (:func:`local_q`). ``phi`` has shape (0, A) or (S, A)
    (a potential). Returns ``values (B, N, S)``, ``potential (B, S)`` (zeros without a
    potential), ``local_qs (B, N, S, M)`` and ``visitation (B, S)``.
    """
    B, N, S, M = probs.shape
    A = P.shape[1]
    K = N + (1 if phi.shape[0] > 0 else 0)
    Rk = np.empty((K, S, A))
    Rk[:N] = R
    if K > N:
        Rk[N] = phi
    values = np.empty((B, N, S))
    potential = np.zeros((B, S))
    local = np.empty((B, N, S, M))
    visit = np.empty((B, S))
    flat = P.reshape(S * A, S)
    for b in range(B):
        pij = joint_probs(probs[b], ja)
        lhs = -gamma * policy_transition(P, pij)
        for s in range(S):
            lhs[s, s] += 1.0
        rhs = np.ascontiguousarray(policy_rewards(Rk, pij).T)
        X, visit[b] = solve_dd(lhs, rhs, mu)
        for i in range(N):
            for s in range(S):
                values[b, i, s] = X[s, i]
        if K > N:
            for s in range(S):
                potential[b, s] = X[s, N]
        cont = flat @ np.ascontiguousarray(X[:, :N])          # (S*A, N)
        q = np.empty((N, S, A))
        for i in range(N):
            for s in range(S):
                for a in range(A):
                    q[i, s, a] = R[i, s, a] + gamma * cont[s * A + a, i]
        local[b] = local_q(q, probs[b], ja)
    return values, potential, local, visit


@njit(cache=True)
def batch_evaluate(P, R, phi, probs, ja, sizes, gamma, mu, best, tol, max_iter, act):
    r"""Exact evaluation of B product policies ``probs[b]`` of one dense game, and
    optionally every agent's best-response value, in one compiled pass per policy.

    For each policy, every agent's MDP with the others fixed (:func:`agent_mdp`, with its
    own reward) is built once and serves three ends: :math:`P_\pi(s, \cdot) = \sum_{a_0}
    \pi^0(a_0|s) P_0(s, a_0, \cdot)` and :math:`r^i_\pi(s) = \sum_{a_i}\pi^i(a_i|s)
    r_i(s, a_i)`; the local Q of 002 Lemma 3.1, :math:`Q^i(s, a_i) = r_i(s, a_i) + \gamma
    \sum_{s'} P_i(s'|s, a_i) V^i(s')`, without a joint Q table; and, with ``best``, Howard
    policy iteration on it from the greedy action of the local Q (the Nash-gap's best
    responses). One solve of :math:`(I - \gamma P_\pi) X = [r^1_\pi, ..., r^N_\pi,
    \phi_\pi]` and one transposed solve for the unnormalized visitation.

    ``phi`` has shape (0, A) or (S, A) (a potential). ``act`` (B, N, S) int64, read and
    written with ``best``: where ``act[b, i, 0] >= 0`` agent i's policy iteration starts
    from ``act[b, i]`` (a warm start: the previous iterate's best response, which a slowly
    moving dynamic rarely changes), elsewhere from the greedy action; on return it holds
    the best responses found. Returns ``values (B, N, S)``, ``potential (B, S)`` (zeros
    without a potential), ``local_qs (B, N, S, M)``, ``visitation (B, S)`` and
    ``best_values (B, N)`` (zeros unless ``best``). Raises if policy iteration reaches
    ``max_iter``.
    """
    B, N, S, M = probs.shape
    if not best:      # cheaper through the joint tables when no agent MDP is needed
        values, potential, local, visit = _evaluate_joint(P, R, phi, probs, ja, gamma, mu)
        return values, potential, local, visit, np.zeros((B, N))
    A = P.shape[1]
    has_phi = phi.shape[0] > 0
    K = N + (1 if has_phi else 0)
    values = np.empty((B, N, S))
    potential = np.zeros((B, S))
    local = np.zeros((B, N, S, M))
    visit = np.empty((B, S))
    best_values = np.zeros((B, N))
    for b in range(B):
        pr = probs[b]
        mdps, rews = agent_mdps(P, R, pr, sizes)
        lhs = np.empty((S, S))
        rhs = np.zeros((S, K))
        P0 = mdps[0]
        for s in range(S):
            for t in range(S):
                acc = 0.0
                for a0 in range(sizes[0]):
                    acc += pr[0, s, a0] * P0[s, a0, t]
                lhs[s, t] = -gamma * acc
            lhs[s, s] += 1.0
            for i in range(N):
                acc = 0.0
                for ai in range(sizes[i]):
                    acc += pr[i, s, ai] * rews[i][s, ai]
                rhs[s, i] = acc
        if has_phi:
            for s in range(S):
                for a in range(A):
                    w = 1.0
                    for j in range(N):
                        w *= pr[j, s, ja[a, j]]
                    rhs[s, N] += w * phi[s, a]
        X, visit[b] = solve_dd(lhs, rhs, mu)
        for i in range(N):
            Pi = mdps[i]
            ri = rews[i]
            for s in range(S):
                values[b, i, s] = X[s, i]
            for s in range(S):
                for ai in range(sizes[i]):
                    acc = ri[s, ai]
                    row = Pi[s, ai]
                    for t in range(S):
                        acc += gamma * row[t] * X[t, i]
                    local[b, i, s, ai] = acc
            if best:
                start = act[b, i]
                if start[0] < 0:
                    for s in range(S):
                        top = 0
                        for ai in range(1, sizes[i]):
                            if local[b, i, s, ai] > local[b, i, s, top]:
                                top = ai
                        start[s] = top
                v, its, ok = _policy_iteration(Pi, ri, sizes[i], gamma, start, tol, max_iter)
                if not ok:
                    raise RuntimeError("best-response policy iteration did not converge")
                acc = 0.0
                for s in range(S):
                    acc += v[s] * mu[s]
                best_values[b, i] = acc
        if has_phi:
            for s in range(S):
                potential[b, s] = X[s, N]
    return values, potential, local, visit, best_values


@njit(cache=True, parallel=True)
def grid_windows(code, agent_cells, ori, offsets, width, onehot, out):
    """Egocentric one-hot windows of a batch of grids (Harvest / CleanUp observations).

    ``code`` (B, H*W) terrain codes (0 floor, 1 wall, 2 apple, 3 waste, 4 river);
    ``agent_cells`` (B, N) flat cells; ``ori`` (B, N) in 0..3; ``offsets`` (4, K, 2) the
    window's (dy, dx) per orientation; ``onehot`` (N * 5(N+1), C) agent i's channels of
    a cell with terrain g and occupant j (0 none, j + 1 agent j) at row
    ``i * 5(N+1) + g (N+1) + j``; cells off the grid read as wall. Writes ``out``
    (B, N, K, C); environments in parallel.
    """
    B, N = agent_cells.shape
    HW = code.shape[1]
    height = HW // width
    K = offsets.shape[1]
    R = onehot.shape[0] // N
    C = onehot.shape[1]
    for b in prange(B):
        occ = np.zeros(HW, np.int64)
        for j in range(N):
            occ[agent_cells[b, j]] += j + 1
        for i in range(N):
            r0 = agent_cells[b, i] // width
            c0 = agent_cells[b, i] % width
            o = ori[b, i]
            for k in range(K):
                r = r0 + offsets[o, k, 0]
                c = c0 + offsets[o, k, 1]
                if 0 <= r < height and 0 <= c < width:
                    f = r * width + c
                    g = code[b, f] * (N + 1) + occ[f]
                else:
                    g = N + 1
                row = i * R + g
                for ch in range(C):
                    out[b, i, k, ch] = onehot[row, ch]
