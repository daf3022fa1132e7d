r"""Equity and welfare metrics of an allocation ``x = (x_1, ..., x_N)`` (one entry per agent).

Every function takes ``x`` of shape ``[..., N]``: the last axis is the agents, any leading
axes are a batch (episodes, seeds, ...) and come back as the shape of the result. One
allocation gives NumPy scalars. All arithmetic is float64.

Minimum Reallocation of Excess (MRE), 001 (Nguyen et al., AAMAS 2026), Section 3.2:

.. math::

    e_{i,\tau}(x) = \big[\,|x_i - \bar x| - \tau \bar x\,\big]_+            \quad\text{(eq. 2)}

    E = \textstyle\sum_i e_i, \qquad
    \mathrm{IncRate}_\tau(x) = \tfrac1N \textstyle\sum_i \mathbb 1(e_i > 0) \quad\text{(eq. 3)}

    q^{inc}_i = \frac{\mathbb 1(e_i>0)}{\sum_j \mathbb 1(e_j>0)},\quad
    \mathcal H^{inc} = \tfrac12 \|q^{inc} - u\|_1                          \quad\text{(eqs. 4, 5)}

    q^{mag}_i = e_i / E, \quad \mathcal H^{mag} = \tfrac12 \|q^{mag} - u\|_1    \quad\text{(eq. 6)}

    \mathcal H_\tau(x) = \tfrac12 \|e - E u\|_1, \qquad
    \overline{\mathcal H}_\tau(x) = \mathcal H_\tau(x) / N                   \quad\text{(Sec. 3.2.3)}

    s_i = e_i\, q^{inc}_i                                                   \quad\text{(eq. 11)}

with ``u = (1/N, ..., 1/N)``. Proposition 4 of 001 uses a second excess,
``e_i = [x_i - x_bar - tau]_+`` (absolute band, upper side only); pass
``excess="absolute"`` for it.

Notes on the text of 001 (PDF conversion)
-----------------------------------------
* Sec. 3.1 states the band as ``[(tau - 1) x_bar, (tau + 1) x_bar]``; that band is not
  centred on the mean and contradicts eq. (2). We follow eq. (2): the band is
  ``[(1 - tau) x_bar, (1 + tau) x_bar]``.
* Eqs. (5), (6) give the range as ``[0, 1 - u]``; ``u`` is a vector there, the intended
  bound is ``1 - 1/N`` (a point mass against the uniform distribution).
* ``H = 0`` means the excess is *uniform*, not that everybody is inside the band:
  ``x = (0, 0, 2, 2)`` puts every agent outside any band with ``tau < 1`` and has
  ``H = 0``; with ``N = 2`` the relative excess is always uniform and ``H = 0`` for every
  allocation. ``H`` is therefore not "the least reassignment needed to restore equity"
  (abstract, Sec. 1); see ``proofs_check/claims/mre_eld.py`` (claim ``mre/repair-cost``).
* ``H`` is convex in ``e`` but neither convex nor Schur-convex in ``x`` (Props. 3 and 4
  claim both): claims ``mre/prop-3`` and ``mre/prop-4`` there give counterexamples.
* By Lemma 4.1, ``H_mag = H / E``; the scale-free "concentration coefficient" that
  Sec. 3.2.3 ascribes to ``H / N`` is ``H_mag``; ``H / N`` keeps the units of ``x``.

Dispersion indices: 001, eqs. (7a)-(7e). Alpha-fair utility and welfare: 000
(alpha-fair HATRL), Section 2.4 and Section 3.1.

Scale and range
---------------
Every metric here is either *scale-invariant* (``m(c x) = m(x)`` for ``c > 0``: the five
dispersion indices, IncRate, ``q_inc``, ``H_inc``, ``q_mag``, ``H_mag``, the subgradient)
or *scale-equivariant* (``m(c x) = c m(x)``: the mean, the excess ``e`` and ``E``, the MRE
``H`` and ``H / N``, the identity signal, the equally distributed equivalent; for the
absolute excess ``tau`` scales with ``x``). An allocation whose largest ``|x_i|`` lies
outside ``[2^-400, 2^400]`` is therefore computed as ``x / 2^k``, ``2^k`` that largest
entry rounded to a power of two (an exact rescaling), so huge (``1e308``) and tiny
(subnormal) allocations get the same relative accuracy as ordinary ones. A scale-equivariant result that does not fit in
float64 (e.g. ``E`` of ``[-1.7e308, 1.7e308]``) raises ``ValueError`` naming the argument;
no metric returns inf or NaN.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.special import xlogy

__all__ = ["EquityReport", "equity_report", "mre", "band_excess", "mre_of_excess",
           "mre_subgradient", "gini", "cv", "jain", "theil", "atkinson",
           "alpha_fair_utility", "alpha_fair_welfare", "equally_distributed_equivalent",
           "EXCESS_KINDS", "fair_objective"]

#: Names accepted by ``excess=``: eq. (2) of 001 and the excess of its Proposition 4.
EXCESS_KINDS = ("relative", "absolute")


# --------------------------------------------------------------------------- validation

def _index(idx) -> str:
    return "[" + ", ".join(str(int(i)) for i in idx) + "]"


def _first(mask: np.ndarray) -> tuple | None:
    """Index of the first True entry of ``mask`` (``()`` for a 0-d True), or None.

    (``np.argwhere`` of a 0-d array has no rows, so it cannot be used for scalars.)
    """
    mask = np.asarray(mask)
    if not mask.any():
        return None
    return tuple(int(i) for i in np.unravel_index(int(np.argmax(mask)), mask.shape))


def _outcomes(x, name: str = "x", *, sign: str | None = None) -> np.ndarray:
    """``x`` as a float64 array ``[..., N]``; ``sign`` is None, "nonnegative" or "positive"."""
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:       # ragged nested sequences
        raise TypeError(f"{name} must be a real numeric array, got a ragged or non-numeric "
                        f"{type(x).__name__}") from exc
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{name} must be a real numeric array, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if arr.ndim == 0:
        raise ValueError(f"{name} must have at least one axis (agents last), got a scalar")
    if arr.size == 0:
        raise ValueError(f"{name} is empty (shape {arr.shape}); expected at least one agent")
    bad = np.argwhere(~np.isfinite(arr))
    if bad.size:
        idx = tuple(bad[0])
        raise ValueError(f"{name}{_index(idx)} is {arr[idx]}, expected a finite number")
    if sign is not None:
        bad = np.argwhere(arr <= 0 if sign == "positive" else arr < 0)
        if bad.size:
            idx = tuple(bad[0])
            expected = "> 0" if sign == "positive" else ">= 0"
            raise ValueError(f"{name}{_index(idx)} is {arr[idx]:.6g}, expected {expected}")
    return arr


def _real_scalar(value, name: str) -> float:
    if isinstance(value, (str, bytes, list, tuple, dict, set)) or np.iscomplexobj(value):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    try:
        return float(value)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{name} must be a real number, got {value!r}") from exc


def _nonnegative_scalar(value, name: str, *, allow_inf: bool = False) -> float:
    v = _real_scalar(value, name)
    if np.isnan(v) or v < 0 or (np.isinf(v) and not allow_inf):
        expected = "in [0, inf]" if allow_inf else "finite and >= 0"
        raise ValueError(f"{name} is {v}, expected {expected}")
    return v


def _scalar_or_array(a: np.ndarray):
    return a[()] if a.ndim == 0 else a


#: Allocations whose largest |x_i| lies in this range are not rescaled (k = 0): no sum of
#: fewer than 2^400 entries overflows and no product or quotient of the metrics leaves
#: the normal floats, so rescaling could not change a bit of the result.
_NO_RESCALE = (2.0 ** -400, 2.0 ** 400)


def _rescaled(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(x / 2^k, k)`` per allocation (last axis), ``2^k`` the power of two just above
    ``max_i |x_i|`` (``k = 0`` for an all-zero allocation); ``k`` has shape ``[..., 1]``.

    Multiplying by a power of two is exact (short of underflow of entries below
    ``2^-1074`` times the largest, which cannot change any metric), so every metric of a
    rescaled allocation is bitwise the metric of ``x`` up to its homogeneity.
    """
    top = np.max(np.abs(x), axis=-1, keepdims=True)
    if np.all((top >= _NO_RESCALE[0]) & (top <= _NO_RESCALE[1])):
        return x, np.zeros(top.shape, dtype=np.int32)   # nothing can over- or underflow
    _, k = np.frexp(top)                  # top = m 2^k, m in [0.5, 1): x / 2^(k-1) in [-2, 2)
    k = np.where(top > 0, k - 1, 0)
    return np.ldexp(x, -k), k


def _unscale(v: np.ndarray, k: np.ndarray, what: str) -> np.ndarray:
    """``v * 2^k`` for a scale-equivariant quantity; raises if it exceeds float64."""
    if not np.any(k):
        out = v
    else:
        with np.errstate(over="ignore"):
            out = np.ldexp(v, k)
    idx = _first(~np.isfinite(out))
    if idx is not None:
        v0, k0 = float(v[idx]), int(np.broadcast_to(k, np.shape(v))[idx])
        exp10 = np.log10(abs(v0)) + k0 * np.log10(2.0)
        size = f"{np.sign(v0) * 10 ** (exp10 % 1):.4g}e+{int(exp10 // 1)}"
        raise ValueError(f"{what}{_index(idx) if idx else ''} is about {size}, which "
                         f"overflows float64; rescale the argument (this quantity is "
                         f"proportional to its scale)")
    return out


# ------------------------------------------------------------------------------- excess

def _excess_scaled(x, tau, excess: str):
    """Validated ``(x, e / 2^k, mean / 2^k, k, tau)``: the excess of :func:`band_excess`
    computed on the rescaled allocation (1-homogeneous: the absolute band's ``tau`` is
    rescaled with ``x``)."""
    if excess not in EXCESS_KINDS:
        raise ValueError(f"excess is {excess!r}, expected one of {EXCESS_KINDS}")
    x = _outcomes(x)
    tau = _nonnegative_scalar(tau, "tau")
    xs, k = _rescaled(x)
    mean = xs.mean(axis=-1, keepdims=True)
    if excess == "relative":
        if tau > 0 and np.any(mean < 0):
            idx = _first(mean[..., 0] < 0)
            where = f"x[{', '.join(map(str, idx))}, :]" if idx else "x"
            value = float(np.ldexp(mean[idx][0], k[idx][0]))
            raise ValueError(
                f"mean({where}) is {value:.6g} < 0: the relative band tau * mean "
                f"has negative width; use excess='absolute' for signed outcomes")
        with np.errstate(over="ignore"):   # tau * mean > max float: everything in band
            e = np.maximum(np.abs(xs - mean) - tau * mean, 0.0)
    else:
        with np.errstate(over="ignore", under="ignore"):
            e = np.maximum(xs - mean - np.ldexp(tau, -k), 0.0)
    return x, e, mean, k, tau


def band_excess(x, tau: float = 0.0, *, excess: str = "relative") -> np.ndarray:
    r"""Outside-band excess ``e_tau(x)``, shape ``[..., N]``.

    ``excess="relative"`` (001, eq. 2): :math:`e_i = [\,|x_i - \bar x| - \tau\bar x\,]_+`,
    a two-sided band of half-width ``tau * x_bar`` around the mean.
    ``excess="absolute"`` (001, Proposition 4): :math:`e_i = [x_i - \bar x - \tau]_+`,
    only the upper side, ``tau`` in the units of ``x``.

    Scale-equivariant: ``e(c x) = c e(x)`` for ``c > 0`` (with ``tau -> c tau`` for the
    absolute band); computed on a rescaled ``x`` (see the module notes).

    Parameters
    ----------
    x : array_like, shape (..., N)
        Outcomes, any real numbers.
    tau : float
        Tolerance, ``>= 0``.
    excess : {"relative", "absolute"}

    Raises
    ------
    ValueError
        On non-finite or empty ``x``, negative ``tau``, for the relative band with
        ``tau > 0`` an allocation with negative mean (its band would have negative width),
        whatever the number of axes, or an excess beyond float64 (``|x_i - mean|`` of
        ``[-1.7e308, 1.7e308, 1.7e308]``).
    """
    _, e, _, k, _ = _excess_scaled(x, tau, excess)
    return _unscale(e, k, "x: the excess e")
def _tv_to_uniform(q: np.ndarray) -> np.ndarray:
    return 0.5 * np.abs(q - 1.0 / q.shape[-1]).sum(axis=-1)


def mre_of_excess(e) -> np.ndarray:
    r"""MRE as a function of the excess vector: :math:`\mathcal H(e) = \frac12\sum_i |e_i - \bar e|`.

    001, Sec. 3.2.3 and Propositions 1-2 (any real ``e``; ``Eu = \bar e \mathbf 1``).
    Scale-equivariant; computed on a rescaled ``e``.
    """
    es, k = _rescaled(_outcomes(e, "e"))
    return _scalar_or_array(_unscale(_half_mad(es), k[..., 0], "e: MRE(e)"))


def _half_mad(e: np.ndarray) -> np.ndarray:
    """``1/2 sum_i |e_i - mean(e)|`` over the last axis."""
    return 0.5 * np.abs(e - e.mean(axis=-1, keepdims=True)).sum(axis=-1)


def mre_subgradient(e, *, tie: float = 0.0) -> np.ndarray:
    r"""The subgradient of :math:`\mathcal H(e)` stated in 001, Proposition 2.

    :math:`g_i = \frac12(\sigma_i - \bar\sigma)` with :math:`\sigma_i = \operatorname{sign}
    (e_i - \bar e)` and :math:`\sigma_i =` ``tie`` (any value in [-1, 1]) where
    :math:`e_i = \bar e` exactly. Scale-invariant; computed on a rescaled ``e``.
    """
    e, _ = _rescaled(_outcomes(e, "e"))
    tie = _real_scalar(tie, "tie")
    if not -1.0 <= tie <= 1.0:
        raise ValueError(f"tie is {tie}, expected a value in [-1, 1]")
    d = e - e.mean(axis=-1, keepdims=True)
    sigma = np.where(d == 0, tie, np.sign(d))
    return 0.5 * (sigma - sigma.mean(axis=-1, keepdims=True))


@dataclass(frozen=True, eq=False)
class EquityReport:
    r"""The identity-aware equity suite of 001, Sec. 3.2, for a batch of allocations.

    Arrays have the batch shape ``[...]`` of ``x`` (scalars for one allocation) or
    ``[..., N]`` for per-agent quantities.

    Attributes
    ----------
    excess : [..., N]      e_i, eq. (2) (or Prop. 4 with ``excess="absolute"``)
    total_excess : [...]   E = sum_i e_i
    flagged : [..., N]     bool, e_i > flag_tol
    incidence_rate : [...] IncRate, eq. (3)
    q_inc : [..., N]       selection profile, eq. (4); uniform when nobody is flagged
    h_inc : [...]          TV(q_inc, u), eq. (5), in [0, 1 - 1/N]
    q_mag : [..., N]       magnitude profile e / E, Sec. 3.2.2; uniform when E = 0
    h_mag : [...]          TV(q_mag, u), eq. (6), in [0, 1 - 1/N]
    mre : [...]            H = 1/2 ||e - E u||_1, Sec. 3.2.3
    mre_normalized : [...] H / N
    identity_signal : [..., N]  s_i = e_i q_inc_i, eq. (11); 0 when nobody is flagged
    """

    x: np.ndarray
    tau: float
    excess_kind: str
    mean: np.ndarray
    excess: np.ndarray
    total_excess: np.ndarray
    flagged: np.ndarray
    incidence_rate: np.ndarray
    q_inc: np.ndarray
    h_inc: np.ndarray
    q_mag: np.ndarray
    h_mag: np.ndarray
    mre: np.ndarray
    mre_normalized: np.ndarray
    identity_signal: np.ndarray

    @property
    def n_agents(self) -> int:
        return self.x.shape[-1]

    def __repr__(self) -> str:
        if self.x.ndim > 1:
            return (f"EquityReport(batch shape {self.x.shape[:-1]}, N={self.n_agents}, "
                    f"tau={self.tau}, excess={self.excess_kind!r})")
        return (f"EquityReport(N={self.n_agents}, tau={self.tau}, excess={self.excess_kind!r}:"
                f" E={self.total_excess:.6g}, IncRate={self.incidence_rate:.4g}, "
                f"H_inc={self.h_inc:.4g}, H_mag={self.h_mag:.4g}, MRE={self.mre:.6g}, "
                f"MRE/N={self.mre_normalized:.6g})")


def equity_report(x, tau: float = 0.0, *, excess: str = "relative",
                  flag_tol: float = 0.0) -> EquityReport:
    r"""Every quantity of 001, Sec. 3.2, and the identity signal of eq. (11).

    Parameters
    ----------
    x : array_like, shape (..., N)
        Outcomes per agent (last axis); leading axes are a batch.
    tau : float
        Tolerance band, ``>= 0`` (relative to the mean for ``excess="relative"``, in the
        units of ``x`` for ``excess="absolute"``).
    excess : {"relative", "absolute"}
        Eq. (2) (default) or the one-sided absolute excess of Proposition 4; see
        :func:`band_excess`.
    flag_tol : float
        An identity is *flagged* (counted in eqs. 3, 4, 11) when ``e_i > flag_tol``.
        The paper's definition is ``flag_tol = 0``. An allocation exactly on the band's
        edge can get a rounding-level excess (``1e-17``) from the floating-point mean;
        pass e.g. ``1e-12 * max|x|`` to keep it unflagged.

    Returns
    -------
    EquityReport

    Notes
    -----
    Degenerate cases, defined here because eqs. (4) and (6) divide by zero:

    * nobody flagged (in particular ``E = 0``): ``q_inc = u`` and ``h_inc = 0``
      (eq. (4) is stated "conditional on at least one identity being flagged"; Algorithm 1
      line 6 instead divides by ``max(c, 1)``, giving ``q_inc = 0``, which is not a
      distribution and would put ``h_inc = 1/2`` on a perfectly equal allocation). The
      identity signal follows Algorithm 1: ``s = 0``.
    * ``E = 0``: ``q_mag = u``, ``h_mag = 0``, ``mre = 0`` (Lemma 4.1: ``H = E h_mag``).
    * mean 0 with the relative band: the band has width 0 and ``e_i = |x_i|``; a negative
      mean with ``tau > 0`` raises (see :func:`band_excess`).
    * ``N = 1``: everything is 0 (``1 - 1/N = 0``).

    Scale: ``mean``, ``excess``, ``total_excess``, ``mre``, ``mre_normalized`` and
    ``identity_signal`` are scale-equivariant, the rest scale-invariant (module notes);
    ``ValueError`` (naming ``x``) when an equivariant one exceeds float64.
    """
    x, es, mean, k, tau = _excess_scaled(x, tau, excess)
    flag_tol = _nonnegative_scalar(flag_tol, "flag_tol")
    n = x.shape[-1]
    # e and E are 1-homogeneous: computed on x / 2^k, then scaled back (raising if they
    # exceed float64); q_inc, q_mag and the H's are scale-invariant.
    e = _unscale(es, k, "x: the excess e")
    total_s = es.sum(axis=-1)
    total = _unscale(total_s, k[..., 0], "x: the total excess E")
    flagged = e > flag_tol
    count = flagged.sum(axis=-1)
    uniform = np.full_like(e, 1.0 / n)
    some = (count > 0)[..., None]
    q_inc = np.where(some, flagged / np.maximum(count, 1)[..., None], uniform)
    positive = (total_s > 0)[..., None]
    q_mag = np.where(positive, es / np.where(positive, total_s[..., None], 1.0), uniform)
    h = _unscale(_half_mad(es), k[..., 0], "x: the MRE H")
    signal = np.where(flagged, e, 0.0) / np.maximum(count, 1)[..., None]
    s = _scalar_or_array
    return EquityReport(
        x=x, tau=tau, excess_kind=excess, mean=s(np.ldexp(mean[..., 0], k[..., 0])),
        excess=e, total_excess=s(total), flagged=flagged, incidence_rate=s(count / n),
        q_inc=q_inc, h_inc=s(_tv_to_uniform(q_inc)), q_mag=q_mag,
        h_mag=s(_tv_to_uniform(q_mag)), mre=s(h), mre_normalized=s(h / n),
        identity_signal=signal)


def mre(x, tau: float = 0.0, *, excess: str = "relative", normalized: bool = False):
    r"""Minimum Reallocation of Excess :math:`\mathcal H_\tau(x) = \frac12\|e_\tau(x) - Eu\|_1`.

    001, Sec. 3.2.3; ``normalized=True`` gives :math:`\overline{\mathcal H} = \mathcal H/N`.
    See :func:`equity_report` for the parameters and degenerate cases. Scale-equivariant
    (``tau`` scaled too for the absolute band); computed on a rescaled ``x``, so it is
    finite whenever ``H`` fits in float64, even where the excess itself does not.
    """
    x, es, _, k, _ = _excess_scaled(x, tau, excess)
    h = _half_mad(es)
    if normalized:
        h = h / x.shape[-1]
    return _scalar_or_array(_unscale(h, k[..., 0], "x: the MRE H"))


# ------------------------------------------------------------------ dispersion (eq. 7)

def _ratios(x: np.ndarray):
    """``(x / mean, mean / 2^k, zero)`` with the all-zero allocations marked and given
    ratio 1; the mean is taken of the rescaled allocation (no overflow)."""
    x, _ = _rescaled(x)
    mean = x.mean(axis=-1)
    zero = mean == 0
    return x / np.where(zero, 1.0, mean)[..., None] + zero[..., None], mean, zero


def gini(x):
    r"""Gini coefficient, 001 eq. (7b): :math:`G = \sum_i\sum_j |x_i - x_j| / (2N^2\bar x)`.

    Computed from the sorted values, :math:`G = \sum_k (2k - N - 1)\, x_{(k)} / (N^2\bar x)`
    (``k = 1..N`` ascending), O(N log N). Requires ``x >= 0``; in ``[0, 1 - 1/N]``.
    The all-zero allocation is perfectly equal: ``G = 0``.
    """
    r, _, _ = _ratios(_outcomes(x, sign="nonnegative"))
    n = r.shape[-1]
    weights = 2.0 * np.arange(1, n + 1) - n - 1
    return _scalar_or_array((np.sort(r, axis=-1) @ weights) / n**2)


def cv(x):
    r"""Coefficient of variation, 001 eq. (7a): :math:`\sigma/\bar x`, population ``sigma``
    (``ddof = 0``). Requires ``x >= 0``; 0 for the all-zero allocation."""
    r, _, _ = _ratios(_outcomes(x, sign="nonnegative"))
    return _scalar_or_array(r.std(axis=-1))


def jain(x):
    r"""Jain's index, 001 eq. (7c): :math:`(\sum_i x_i)^2 / (N\sum_i x_i^2) = 1/(1 + CV^2)`.

    Requires ``x >= 0``; in ``[1/N, 1]``; 1 for the all-zero allocation.
    """
    r, _, _ = _ratios(_outcomes(x, sign="nonnegative"))
    return _scalar_or_array(1.0 / np.mean(r * r, axis=-1))


def theil(x):
    r"""Theil's T, 001 eq. (7d): :math:`\frac1N\sum_i \frac{x_i}{\bar x}\log\frac{x_i}{\bar x}`,
    with ``0 log 0 = 0``. Requires ``x >= 0``; in ``[0, log N]``; 0 for the all-zero
    allocation."""
    r, _, _ = _ratios(_outcomes(x, sign="nonnegative"))
    return _scalar_or_array(np.mean(xlogy(r, r), axis=-1))


def _power_mean(x: np.ndarray, p: float) -> np.ndarray:
    r"""Power mean ``(mean x^p)^(1/p)`` of nonnegative x along the last axis, ``p <= 1``.

    ``p = 0``: geometric mean; ``p = -inf``: minimum; ``p < 0`` with a zero entry: 0.
    Overflow-free for every ``p`` and accurate for ``|p|`` near 0: with ``m`` the entry
    that dominates (the minimum for ``p < 0``, the maximum for ``p > 0``),

    .. math:: M_p(x) = m \exp\Big(\tfrac1p \operatorname{log1p}\Big(\tfrac1N\sum_i
              \operatorname{expm1}\big(p \log(x_i/m)\big)\Big)\Big),

    where every ``p log(x_i/m) <= 0``. The mean (``p = 1``) is taken of ``x / 2^k`` and
    scaled back (it lies in ``[min, max]``).
    """
    if p == 1.0:
        xs, k = _rescaled(x)
        return np.ldexp(xs.mean(axis=-1), k[..., 0])
    if p == -np.inf:
        return x.min(axis=-1)
    has_zero = (x == 0).any(axis=-1)
    with np.errstate(divide="ignore"):
        logx = np.log(x)
    if p == 0.0:
        return np.exp(logx.mean(axis=-1))
    if p < 0:
        logx = np.where(has_zero[..., None], 0.0, logx)
        ref = logx.min(axis=-1)
    else:
        ref = logx.max(axis=-1)
        ref = np.where(np.isneginf(ref), 0.0, ref)          # all zero: M_p = 0 below
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        z = p * (logx - ref[..., None])                     # <= 0, -inf allowed
        z = np.where(np.isnan(z), 0.0, z)                   # 0 * inf: x_i = m exactly
        value = np.exp(ref + np.log1p(np.mean(np.expm1(z), axis=-1)) / p)
    if p < 0:
        return np.where(has_zero, 0.0, value)
    return np.where((x == 0).all(axis=-1), 0.0, value)


def atkinson(x, eps: float = 0.5):
    r"""Atkinson's index, 001 eq. (7e) for general ``eps``:

    .. math:: A_\epsilon = 1 - \Big[\frac1N\sum_i (x_i/\bar x)^{1-\epsilon}\Big]^{1/(1-\epsilon)}
              = 1 - \frac{M_{1-\epsilon}(x)}{\bar x},

    :math:`M_p` the power mean; ``eps = 1`` gives ``1 - geometric mean / mean`` and
    ``eps = inf`` gives ``1 - min / mean``. For ``eps >= 1`` a zero entry gives ``A = 1``
    (the limit). Requires ``x >= 0`` and ``eps >= 0``; in ``[0, 1]``; 0 for the all-zero
    allocation. ``eps = 1/2`` is the closed form ``1 - (sum_i sqrt x_i)^2 / (N^2 x_bar)``
    of eq. (7e).
    """
    eps = _nonnegative_scalar(eps, "eps", allow_inf=True)
    r, _, _ = _ratios(_outcomes(x, sign="nonnegative"))
    return _scalar_or_array(1.0 - _power_mean(r, 1.0 - eps))


# ---------------------------------------------------------- alpha-fairness (000, 2.4)

def _alpha(alpha) -> float:
    return _nonnegative_scalar(alpha, "alpha", allow_inf=True)


def _alpha_fair_domain(x, alpha: float) -> np.ndarray:
    return _outcomes(x, sign="positive" if alpha >= 1 else "nonnegative")


def _finite_or_raise(value: np.ndarray, what: str, alpha: float) -> np.ndarray:
    idx = _first(~np.isfinite(value))
    if idx is not None:
        raise ValueError(f"{what}{_index(idx) if idx else ''} overflows float64 at "
                         f"alpha={alpha}; compare "
                         f"allocations with equally_distributed_equivalent(x, alpha) instead")
    return value


def alpha_fair_utility(x, alpha: float, *, centered: bool = False):
    r"""Alpha-fair utility of 000, Section 2.4, elementwise:

    .. math:: U_\alpha(x) = \frac{x^{1-\alpha}}{1-\alpha}\ (\alpha \ne 1), \qquad
              U_1(x) = \ln x.

    Additive constant: by default the paper's form, with no constant. It makes
    ``U_0(x) = x`` (the utilitarian limit is exact at ``alpha = 0``) but is discontinuous
    in ``alpha`` at 1 (``x^{1-a}/(1-a)`` diverges as ``a -> 1``). ``centered=True``
    subtracts ``U_alpha(1)``: :math:`(x^{1-\alpha} - 1)/(1-\alpha)`, continuous in
    ``alpha`` with limit ``ln x`` at 1 and ``U(1) = 0`` for every alpha. The constant
    changes no comparison at a fixed alpha.

    Parameters
    ----------
    x : array_like
        Outcomes, ``>= 0`` for ``alpha < 1`` and ``> 0`` for ``alpha >= 1``. (000 adds a
        constant ``nu > 0`` to each value, ``U_alpha(nu + V_i)``, to make them positive:
        pass ``nu + V``.)
    alpha : float
        ``>= 0`` and finite (``alpha = inf`` has no per-agent utility: see
        :func:`alpha_fair_welfare`).
    """
    alpha = _alpha(alpha)
    if np.isinf(alpha):
        raise ValueError("alpha is inf: U_inf has no per-agent form; use "
                         "alpha_fair_welfare(x, inf) (the minimum) instead")
    try:
        scalar = np.ndim(x) == 0
        x = np.atleast_1d(x)
    except (TypeError, ValueError) as exc:       # ragged nested sequences
        raise TypeError(f"x must be a real numeric array, got a ragged or non-numeric "
                        f"{type(x).__name__}") from exc
    x = _alpha_fair_domain(x, alpha)
    with np.errstate(divide="ignore", over="ignore"):
        if alpha == 1.0:
            u = np.log(x)
        elif centered:
            u = np.expm1((1.0 - alpha) * np.log(x)) / (1.0 - alpha)
        else:
            u = x ** (1.0 - alpha) / (1.0 - alpha)
    u = _finite_or_raise(u, "U_alpha(x)", alpha)
    return u[0] if scalar else u


def alpha_fair_welfare(x, alpha: float, *, centered: bool = False):
    r"""Alpha-fair welfare :math:`W_\alpha(x) = \sum_i U_\alpha(x_i)` over the last axis
    (000, Sec. 3.1, with ``x_i = nu + V_i``).

    ``alpha = 0``: the utilitarian sum; ``alpha = 1``: proportional fairness
    ``sum_i ln x_i``; ``alpha = inf``: the Rawlsian ``min_i x_i``. The last is the limit
    of the *ordering* of allocations, not of the value (``W_alpha`` itself tends to 0 or
    to ``-inf``); the value that does converge to ``min_i x_i`` is
    :func:`equally_distributed_equivalent`. See :func:`alpha_fair_utility` for the
    additive constant and the domain.
    """
    alpha = _alpha(alpha)
    x = _alpha_fair_domain(x, alpha)
    if np.isinf(alpha):
        return _scalar_or_array(x.min(axis=-1))
    u = np.asarray(alpha_fair_utility(x, alpha, centered=centered))
    with np.errstate(over="ignore"):
        w = u.sum(axis=-1)
    return _scalar_or_array(_finite_or_raise(w, "W_alpha(x)", alpha))


def equally_distributed_equivalent(x, alpha: float):
    r"""The equal outcome with the same alpha-fair welfare: :math:`U_\alpha^{-1}(W_\alpha(x)/N)`.

    Equals the power mean :math:`M_{1-\alpha}(x)` (Atkinson 1970): the mean at
    ``alpha = 0``, the geometric mean at 1, the minimum as ``alpha -> inf``, with
    ``min x <= M_{1-alpha}(x) <= N^{1/(alpha-1)} min x`` for ``alpha > 1``. Increasing in
    ``W_alpha`` at fixed alpha, so it ranks allocations as ``W_alpha`` does, and it never
    overflows. ``atkinson(x, eps) = 1 - equally_distributed_equivalent(x, eps) / mean(x)``.
    """
    alpha = _alpha(alpha)
    x = _alpha_fair_domain(x, alpha)
    return _scalar_or_array(_power_mean(x, 1.0 - alpha))


from .alpha_fair import fair_objective  # noqa: E402
