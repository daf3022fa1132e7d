r"""Policy evaluation, written once: the linear system :math:`(I - \gamma P_\pi)`.

Every exact quantity of a stationary policy comes from two solves with this matrix
(002, Section 2):

.. math:: (I - \gamma P_\pi) V = r_\pi, \qquad (I - \gamma P_\pi)^\top d_\mu^\pi = \mu,

the values of any number of reward vectors (columns of one right-hand side) and the
unnormalized discounted visitation. :class:`PolicySystem` holds the matrix either densely
(one LU solve; :func:`numpy.linalg.solve`) or as a matrix-free operator (a product with
:math:`P_\pi` and :math:`P_\pi^\top`) solved by restarted GMRES with a stated residual,
which is how factored games evaluate policies far past dense memory.
"""
from __future__ import annotations

import numpy as np
import scipy.sparse.linalg as spla

__all__ = ["PolicySystem", "SOLVE_RTOL", "KRYLOV_MAXITER", "policy_values"]

#: Relative residual ``||b - (I - gamma P) x|| / ||b||`` required of a matrix-free solve
#: (or the larger one float64 can certify at gamma near 1: :meth:`PolicySystem.attainable_rtol`).
SOLVE_RTOL = 1e-12
#: Restart cycles of GMRES (restart 60) before a matrix-free solve reports failure.
KRYLOV_MAXITER = 200


class PolicySystem:
    r""":math:`M = I - \gamma P_\pi` of one policy, dense or matrix-free.

    Parameters
    ----------
    gamma : float
    n_states : int
    dense : ndarray (S, S), optional
        :math:`P_\pi` itself.
    matvec, rmatvec : callable, optional
        ``x -> P_pi @ x`` and ``y -> P_pi.T @ y`` for a matrix-free system.

    Attributes
    ----------
    residual : float
        Largest relative residual of the solves so far (0 for dense solves).
    iterations : int
        Krylov iterations so far (0 for dense solves).
    """

    def __init__(self, gamma: float, n_states: int, *, dense=None, matvec=None, rmatvec=None):
        self.gamma = float(gamma)
        self.n_states = int(n_states)
        self._P = dense
        self._matvec = matvec
        self._rmatvec = rmatvec
        self._lhs = None
        self.residual = 0.0
        self.iterations = 0

    @property
    def is_dense(self) -> bool:
        return self._P is not None

    def transition(self) -> np.ndarray:
        """:math:`P_\\pi` as a dense (S, S) array (built by the matrix-free product if needed)."""
        if self._P is None:
            from ._validate import check_memory
            check_memory(float(self.n_states) ** 2, "the dense policy transition (S, S)")
            self._P = np.stack([self._matvec(e) for e in np.eye(self.n_states)], axis=1)
        return self._P

    def matvec(self, x: np.ndarray) -> np.ndarray:
        """:math:`P_\\pi x`."""
        return self._P @ x if self._P is not None else self._matvec(x)

    def rmatvec(self, y: np.ndarray) -> np.ndarray:
        """:math:`P_\\pi^\\top y`."""
        return self._P.T @ y if self._P is not None else self._rmatvec(y)

    def _dense_lhs(self):
        if self._lhs is None:
            self._lhs = np.eye(self.n_states) - self.gamma * self._P
        return self._lhs

    def solve(self, rhs: np.ndarray, x0: np.ndarray | None = None) -> np.ndarray:
        """``V`` with :math:`(I - \\gamma P_\\pi) V_k = r_k` for each row of ``rhs`` (K, S)."""
        rhs = np.atleast_2d(np.asarray(rhs, dtype=np.float64))
        if self._P is not None:
            # numpy's solve: on small systems scipy's LU path costs far more per call
            return np.linalg.solve(self._dense_lhs(), np.ascontiguousarray(rhs.T)).T
        if len(rhs) == 1:
            return self._krylov(self._matvec, rhs[0], None if x0 is None else x0[0])[None]
        # identical reward rows (identical-interest games) are solved once
        unique, inverse = np.unique(rhs, axis=0, return_inverse=True)
        first = [int(np.flatnonzero(inverse.ravel() == u)[0]) for u in range(len(unique))]
        sols = np.stack([self._krylov(self._matvec, unique[u],
                                      None if x0 is None else x0[first[u]])
                         for u in range(len(unique))])
        return sols[inverse.ravel()]

    def solve_transposed(self, rhs: np.ndarray) -> np.ndarray:
        """``d`` with :math:`(I - \\gamma P_\\pi)^\\top d = b` for one vector ``rhs`` (S,)."""
        rhs = np.asarray(rhs, dtype=np.float64)
        if self._P is not None:
            return np.linalg.solve(self._dense_lhs().T, rhs)
        return self._krylov(self._rmatvec, rhs, None)

    def attainable_rtol(self) -> float:
        r"""The relative residual a matrix-free solve must reach: :data:`SOLVE_RTOL`, or
        what float64 can certify for :math:`I - \gamma P_\pi` when that is larger --
        16 eps times its condition bound :math:`(1 + \gamma)/(1 - \gamma)` (the residual
        of the exact solution, rounded, is already that large; at gamma = 0.999999 it is
        7e-9)."""
        g = self.gamma
        return max(SOLVE_RTOL, 16 * np.finfo(np.float64).eps * (1.0 + g) / (1.0 - g))

    def _krylov(self, product, b, x0):
        S, g = self.n_states, self.gamma
        op = spla.LinearOperator((S, S), matvec=lambda x: x - g * product(x), dtype=np.float64)
        bnorm = float(np.linalg.norm(b))
        if bnorm == 0.0:
            return np.zeros(S)
        count = [0]

        def cb(_):
            count[0] += 1

        rtol = self.attainable_rtol()
        x, info = spla.gmres(op, b, x0=x0, rtol=rtol, atol=0.0, restart=60,
                             maxiter=KRYLOV_MAXITER, callback=cb, callback_type="pr_norm")
        res = float(np.linalg.norm(b - op.matvec(x))) / bnorm
        self.iterations += count[0]
        self.residual = max(self.residual, res)
        if info != 0 and res > 100 * rtol:
            raise RuntimeError(f"matrix-free policy evaluation did not converge: relative "
                               f"residual {res:.3g} after {count[0]} GMRES iterations")
        return x


def policy_values(P_pi: np.ndarray, r_pi: np.ndarray, gamma: float, initial: np.ndarray):
    """Solve (I - gamma P_pi) V = r_pi (rows of ``r_pi``) and the visitation, densely.

    Returns ``(V, d)`` with V of shape ``r_pi.shape`` and ``d`` of shape (S,). The v1
    entry point; :class:`PolicySystem` is the general one.
    """
    system = PolicySystem(gamma, P_pi.shape[0], dense=np.asarray(P_pi, dtype=np.float64))
    V = system.solve(r_pi)
    return V.reshape(np.shape(r_pi)), system.solve_transposed(initial)
