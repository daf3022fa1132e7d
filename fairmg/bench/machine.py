r"""The machine's measured rates and the physical limits of the benchmarked tasks.

:func:`measure` times, in the same run as the benchmarks, with NumPy's BLAS/LAPACK on all
the cores it uses:

* ``gemm`` -- GFLOP/s of a large ``A @ B`` (2 n^3 flops): the compute peak for
  contractions;
* ``lu`` -- GFLOP/s of a large ``np.linalg.solve`` (2/3 n^3 + 2 n^2 flops): the best rate
  at which LU factorizations run here (small ones run slower; the limit stays a bound);
* read bandwidths of an array resident in the last-level cache and of one in memory
  (``np.sum`` and ``np.dot``, the better of the two).

A task is modelled as a sequence of *phases* ``(flops, bytes, kind)``: LU factorizations
(``kind="lu"``) and contractions (``kind="gemm"``), both at the better of the two measured
rates (small LUs run far slower than a large one: the limit is a bound, not a forecast),
each reading ``bytes`` of input at the cache's bandwidth when they fit in the last-level
cache, else at the memory's. The limit is

.. math:: \sum_{\text{phases}} \max\Big(\frac{\text{flops}}{\text{rate}},
          \frac{\text{bytes}}{\text{bandwidth}}\Big),

the time of a perfect implementation that overlaps memory traffic with arithmetic inside a
phase and has no overhead. The flop counts are those of the *minimal* exact algorithm
(one pass over the joint tensor for all contractions of an evaluation, one LU per policy
evaluation), not of any particular implementation.
"""
from __future__ import annotations

import os
import time
from dataclasses import dataclass

import numpy as np

__all__ = ["Machine", "measure", "lu_flops", "nash_gap_phases", "npg_phases",
           "mdp_phases", "construction_phases"]

F8 = 8  # bytes per float64


def _llc_bytes() -> int:
    for key in ("SC_LEVEL3_CACHE_SIZE", "SC_LEVEL2_CACHE_SIZE"):
        try:
            v = os.sysconf(key)
            if v and v > 0:
                return int(v)
        except (ValueError, OSError, AttributeError):
            pass
    try:
        with open("/sys/devices/system/cpu/cpu0/cache/index3/size") as fh:
            text = fh.read().strip().upper()
        return int(text.rstrip("KMB")) * (1 << 20 if text.endswith("M") else 1 << 10)
    except (OSError, ValueError):
        return 32 << 20


@dataclass(frozen=True)
class Machine:
    """Measured rates: GFLOP/s and GB/s (1e9)."""

    gemm_gflops: float
    lu_gflops: float
    llc_gbs: float
    mem_gbs: float
    llc_bytes: int

    def bandwidth(self, nbytes: float) -> float:
        """Bytes per second for a working set of ``nbytes``."""
        if nbytes <= self.llc_bytes:
            return self.llc_gbs * 1e9
        return self.mem_gbs * 1e9

    def seconds(self, phases) -> float:
        """The limit of a task given as phases ``(flops, bytes, kind)``."""
        total = 0.0
        for flops, nbytes, kind in phases:
            rate = max(self.lu_gflops, self.gemm_gflops) * 1e9   # a bound: the best rate
            total += max(flops / rate, nbytes / self.bandwidth(nbytes) if nbytes else 0.0)
        return total

    def best(self, other: "Machine") -> "Machine":
        """The better rate of two measurements, quantity by quantity."""
        return Machine(max(self.gemm_gflops, other.gemm_gflops),
                       max(self.lu_gflops, other.lu_gflops),
                       max(self.llc_gbs, other.llc_gbs), max(self.mem_gbs, other.mem_gbs),
                       self.llc_bytes)

    def describe(self) -> str:
        return (f"machine: {os.cpu_count()} cores; GEMM {self.gemm_gflops:.1f} GFLOP/s, "
                f"LU (np.linalg.solve) {self.lu_gflops:.1f} GFLOP/s; read bandwidth "
                f"last-level cache ({self.llc_bytes >> 20} MiB) "
                f"{self.llc_gbs:.0f} GB/s, memory {self.mem_gbs:.1f} GB/s")


def _best(fn, repeat):
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def _read_gbs(nbytes: int, repeat: int) -> float:
    n = max(nbytes // F8 // 2, 1024)
    a, b = np.random.default_rng(0).random((2, n))
    t_sum = _best(lambda: a.sum(), repeat) / (n * F8)
    t_dot = _best(lambda: np.dot(a, b), repeat) / (2 * n * F8)
    return 1e-9 / min(t_sum, t_dot)


def measure(quick: bool = False) -> Machine:
    """Measure the rates (about 2 s on an idle machine; ``quick``: smaller, < 1 s)."""
    rng = np.random.default_rng(0)
    n = 600 if quick else 1200
    A, B = rng.random((2, n, n))
    gemm = 2.0 * n**3 / _best(lambda: A @ B, 2 if quick else 3) / 1e9
    n = 800 if quick else 1500
    M = rng.random((n, n)) + n * np.eye(n)
    rhs = rng.random(n)
    lu = (2.0 / 3.0 * n**3 + 2.0 * n**2) / _best(lambda: np.linalg.solve(M, rhs),
                                                  2 if quick else 3) / 1e9
    llc = _llc_bytes()
    cache = _read_gbs(min(llc // 2, 16 << 20), 5 if quick else 20)
    mem = _read_gbs(max(4 * llc, 64 << 20) if quick else max(4 * llc, 128 << 20), 3)
    return Machine(gemm, lu, cache, mem, llc)


# -- flop and byte counts of the tasks -----------------------------------------------------
def lu_flops(S: int) -> float:
    """LU factorization of an S x S matrix."""
    return 2.0 / 3.0 * S**3


def _evaluation_phases(S, A, N, n_rhs):
    """One policy evaluation of a dense game: one pass over ``P`` for every contraction
    (P_pi, r_pi, all agents' MDPs), one LU, ``n_rhs`` pairs of triangular solves."""
    return [(2.0 * S * A * (S + N), F8 * S * A * (S + N), "gemm"),
            (lu_flops(S) + 2.0 * S * S * n_rhs, F8 * S * S, "lu")]


def nash_gap_phases(S: int, sizes, br_evaluations: int | None = None):
    """Nash-gap of a policy: the evaluation (all agents' MDPs from the same pass over
    ``P``), then each agent's best response by policy iteration: ``br_evaluations``
    evaluations of S x S systems in all (at least one per agent: verifying a best response
    takes one), each an LU plus the Q-values of the agent's MDP."""
    N, A = len(sizes), int(np.prod(sizes))
    k = N if br_evaluations is None else max(int(br_evaluations), N)
    mean_n = sum(sizes) / N
    return _evaluation_phases(S, A, N, N) + [
        (k * (lu_flops(S) + 2.0 * S * S), F8 * S * S, "lu"),
        (k * 2.0 * S * mean_n * S, F8 * S * S * sum(sizes), "gemm")]


def npg_phases(S: int, sizes, iters: int, br_evaluations_per_iter: int | None = None):
    """``iters`` NPG steps with the Nash-gap and POA of the ``iters + 1`` iterates (one
    Nash-gap each; the local advantages come from the same agents' MDPs), plus the social
    optimum once (one evaluation of the joint MDP)."""
    A = int(np.prod(sizes))
    once = [(2.0 * S * A * S, F8 * S * A * S, "gemm"), (lu_flops(S), F8 * S * S, "lu")]
    per_iter = nash_gap_phases(S, sizes, br_evaluations_per_iter)
    return once + per_iter * (iters + 1)


def mdp_phases(S: int, B: int, evaluations: int):
    """Howard policy iteration on an (S, B) MDP with ``evaluations`` policy evaluations:
    the initial Bellman backup, then per evaluation one LU and one pass over ``P`` for
    the Q-values."""
    pass_P = (2.0 * S * B * S, F8 * S * B * S, "gemm")
    return [pass_P] + [(lu_flops(S) + 2.0 * S * S, F8 * S * S, "lu"), pass_P] * evaluations


def construction_phases(S: int, sizes):
    """Writing the game's arrays (``P`` and ``R``) once: a bandwidth bound (drawing the
    random numbers costs more; this is only a floor)."""
    N, A = len(sizes), int(np.prod(sizes))
    nbytes = F8 * (S * A * S + N * S * A)
    return [(0.0, nbytes, "gemm")]
