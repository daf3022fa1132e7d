r"""Optimisers of the sampled mode on flat parameter vectors, any array-API namespace
(issue 15, item 4). One class or function per item, with the source and its constants:

* :class:`Adam` -- PyTorch's ``torch.optim.Adam`` (betas 0.9 / 0.999, eps 1e-8, bias
  correction; 000 App. D.2 Table 3 uses exactly these, weight decay 0);
* :func:`conjugate_gradient` -- HARL ``harl/utils/trpo_util.py`` ``conjugate_gradient``
  (after OpenAI baselines ``cg.py``): 10 iterations, stop when
  :math:`\|r\|^2 <` 1e-10, the damping 0.1 that HARL adds inside
  ``fisher_vector_product`` applied here as :math:`(A + 0.1 I)`;
* :func:`trust_region_step` -- HARL ``harl/algorithms/actors/hatrpo.py`` ``update``: the
  CG direction scaled to the KL radius, and the expected improvement;
* :func:`backtracking_line_search` -- the same ``update``'s line search: accept ratio 0.5,
  backtrack coefficient 0.8, 10 steps (``harl/configs/algos_cfgs/hatrpo.yaml``:
  ``accept_ratio``, ``backtrack_coeff``, ``ls_step``; ``kl_threshold`` 0.01);
* :class:`ValueNorm` -- HARL ``harl/common/valuenorm.py``: running mean / mean square
  with beta 0.99999 and a debiasing term (epsilon 1e-5, variance clamped at 1e-2).
"""
from __future__ import annotations

import math
from typing import Any, Callable, NamedTuple

import numpy as np

from .._validate import check_bool, check_int, check_scalar
from .backend import namespace, resolve_namespace

__all__ = ["Adam", "AdamState", "conjugate_gradient", "CGResult", "trust_region_step",
           "TrustRegionStep", "backtracking_line_search", "LineSearchResult", "ValueNorm"]


def _flat(x, name):
    if not hasattr(x, "shape") or len(x.shape) != 1:
        raise ValueError(f"{name} must be a flat (1-d) vector, got "
                         f"{getattr(x, 'shape', type(x).__name__)}")
    return x


def _dot(a, b, xp) -> float:
    return float(xp.sum(a * b))


# -- Adam ------------------------------------------------------------------------------
class AdamState(NamedTuple):
    """Adam's first and second moments (flat, like the parameters) and its step count."""

    m: Any
    v: Any
    t: int


class Adam:
    r"""Adam as PyTorch's ``torch.optim.Adam`` (Kingma & Ba 2015, Algorithm 1), functional:

    .. math::
        m_t = \beta_1 m_{t-1} + (1-\beta_1)g_t,\quad
        v_t = \beta_2 v_{t-1} + (1-\beta_2)g_t^2,\quad
        \theta_t = \theta_{t-1} \mp \frac{\text{lr}}{1-\beta_1^t}\,
                   \frac{m_t}{\sqrt{v_t}/\sqrt{1-\beta_2^t} + \epsilon}

    (``-`` descends; ``maximize=True`` ascends, PyTorch's ``maximize``). Defaults:
    lr 1e-3, betas (0.9, 0.999), eps 1e-8 (PyTorch's and 000's Table 3). HARL's configs
    pass ``opti_eps`` 1e-5; give ``eps=1e-5`` for that.

    >>> import numpy as np
    >>> opt = Adam(lr=0.1)
    >>> x, st = np.array([1.0]), opt.init(np.array([1.0]))
    >>> x, st = opt.step(x, 2 * x, st)     # one step on x^2
    >>> round(float(x[0]), 6)
    0.9
    """

    def __init__(self, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8, *,
                 maximize: bool = False):
        self.lr = check_scalar(lr, "lr", positive=True)
        if len(betas) != 2:
            raise ValueError(f"betas must be a pair (beta1, beta2), got {betas!r}")
        b1, b2 = (check_scalar(b, "betas", upper=1.0) for b in betas)
        if not (b1 < 1.0 and b2 < 1.0):
            raise ValueError(f"betas must lie in [0, 1), got {betas!r}")
        self.betas = (b1, b2)
        self.eps = check_scalar(eps, "eps")
        self.maximize = check_bool(maximize, "maximize")

    def init(self, params) -> AdamState:
        """Zero moments shaped like ``params``, step 0."""
        xp = namespace(_flat(params, "params"))
        return AdamState(xp.zeros_like(params), xp.zeros_like(params), 0)

    def step(self, params, grad, state: AdamState):
        """``(new_params, new_state)`` after one step along ``grad`` (same shape)."""
        _flat(params, "params")
        if tuple(grad.shape) != tuple(params.shape):
            raise ValueError(f"grad must have the params' shape {tuple(params.shape)}, got "
                             f"{tuple(grad.shape)}")
        if not isinstance(state, AdamState):
            raise TypeError(f"state must be an AdamState (from Adam.init), got "
                            f"{type(state).__name__}")
        xp = namespace(params, grad)
        if not bool(xp.all(xp.isfinite(grad))):
            raise ValueError("grad has non-finite entries")
        b1, b2 = self.betas
        t = state.t + 1
        m = b1 * state.m + (1.0 - b1) * grad
        v = b2 * state.v + (1.0 - b2) * grad * grad
        denom = xp.sqrt(v) / math.sqrt(1.0 - b2 ** t) + self.eps
        step = (self.lr / (1.0 - b1 ** t)) * m / denom
        new = params + step if self.maximize else params - step
        return new, AdamState(m, v, t)


# -- conjugate gradient ----------------------------------------------------------------
class CGResult(NamedTuple):
    """``x`` solving :math:`(A + \\text{damping} I)x = b`; ``iterations``, ``converged``
    (:math:`\\|r\\|^2 <` residual_tol) and ``residual`` (:math:`\\|r\\|^2`, HARL's
    ``rdotr``) as fields."""

    x: Any
    iterations: int
    converged: bool
    residual: float


def conjugate_gradient(Avp: Callable, b, *, iters: int = 10, residual_tol: float = 1e-10,
                       damping: float = 0.1) -> CGResult:
    r"""Solve :math:`(A + \text{damping}\,I)x = b` for symmetric positive definite
    :math:`A` given only ``Avp(v) = A v`` (e.g. a policy's
    :meth:`~fairmg.sampled.networks.TabularPolicy.fisher_vector_product`).

    HARL ``harl/utils/trpo_util.py`` ``conjugate_gradient``: start at x = 0, at most
    ``iters`` = 10 iterations (``nsteps=10`` in ``hatrpo.py``), stop once
    :math:`r^\top r <` ``residual_tol`` = 1e-10 (a squared norm, as there); HARL's
    ``fisher_vector_product`` returns ``kl_hessian_p + 0.1 * p``, here ``damping`` = 0.1.
    Unlike HARL, ``b = 0`` returns x = 0 at once (no 0/0), and a direction of
    non-positive curvature stops the iteration (``converged`` False) instead of
    producing inf.
    """
    _flat(b, "b")
    iters = check_int(iters, "iters", low=1)
    residual_tol = check_scalar(residual_tol, "residual_tol")
    damping = check_scalar(damping, "damping")
    if not callable(Avp):
        raise TypeError(f"Avp must be a callable v -> A v, got {type(Avp).__name__}")
    xp = namespace(b)
    x = xp.zeros_like(b)
    r = b
    p = b
    rdotr = _dot(r, r, xp)
    if rdotr < residual_tol:
        return CGResult(x, 0, True, rdotr)
    for it in range(1, iters + 1):
        Ap = Avp(p)
        if tuple(Ap.shape) != tuple(b.shape):
            raise ValueError(f"Avp returned shape {tuple(Ap.shape)}, expected "
                             f"{tuple(b.shape)}")
        if damping:
            Ap = Ap + damping * p
        pAp = _dot(p, Ap, xp)
        if not pAp > 0:
            return CGResult(x, it - 1, False, rdotr)
        alpha = rdotr / pAp
        x = x + alpha * p
        r = r - alpha * Ap
        new_rdotr = _dot(r, r, xp)
        p = r + (new_rdotr / rdotr) * p
        rdotr = new_rdotr
        if rdotr < residual_tol:
            return CGResult(x, it, True, rdotr)
    return CGResult(x, iters, False, rdotr)


class TrustRegionStep(NamedTuple):
    """The full TRPO step, its predicted (first-order) improvement, and the CG result."""

    full_step: Any
    expected_improve: float
    cg: CGResult


def trust_region_step(Avp: Callable, grad, max_kl: float = 0.01, *, cg_iters: int = 10,
                      damping: float = 0.1, residual_tol: float = 1e-10) -> TrustRegionStep:
    r"""HATRPO's step before the line search (HARL ``hatrpo.py`` ``update``):
    :math:`x = \mathrm{CG}(A + \text{damping} I, g)`,
    :math:`shs = \tfrac12 x^\top(A + \text{damping}I)x`,
    ``full_step`` :math:`= x/\sqrt{shs/\delta}` (so :math:`\tfrac12 s^\top(A+dI)s =
    \delta` = ``max_kl``, HARL's ``kl_threshold`` 0.01), ``expected_improve``
    :math:`= g^\top s`. A zero gradient gives a zero step."""
    _flat(grad, "grad")
    max_kl = check_scalar(max_kl, "max_kl", positive=True)
    xp = namespace(grad)
    cg = conjugate_gradient(Avp, grad, iters=cg_iters, residual_tol=residual_tol,
                            damping=damping)
    Ax = Avp(cg.x) + damping * cg.x
    shs = 0.5 * _dot(cg.x, Ax, xp)
    if not shs > 0:
        return TrustRegionStep(xp.zeros_like(grad), 0.0, cg)
    step = cg.x * math.sqrt(max_kl / shs)
    return TrustRegionStep(step, _dot(grad, step, xp), cg)


# -- backtracking line search ----------------------------------------------------------
class LineSearchResult(NamedTuple):
    """``params`` (the accepted point, or the start when nothing was accepted),
    ``accepted``, ``fraction`` of the full step taken (0 when rejected), ``iterations``
    (points tried), and the last tried point's ``improvement`` and ``kl``."""

    params: Any
    accepted: bool
    fraction: float
    iterations: int
    improvement: float
    kl: float


def backtracking_line_search(objective: Callable, kl: Callable, params, full_step,
                             expected_improve: float, *, max_kl: float = 0.01,
                             accept_ratio: float = 0.5, backtrack_coeff: float = 0.8,
                             max_steps: int = 10) -> LineSearchResult:
    r"""HATRPO's backtracking line search (HARL ``harl/algorithms/actors/hatrpo.py``,
    ``update``; constants of ``hatrpo.yaml``: ``accept_ratio`` 0.5,
    ``backtrack_coeff`` 0.8, ``ls_step`` 10, ``kl_threshold`` 0.01).

    For fraction :math:`f = 1, c, c^2, \dots` (``max_steps`` tries) the point
    :math:`\theta + f s` is accepted at the first f with

    .. math:: \mathrm{kl}(\theta + f s) < \delta,\qquad
              \frac{L(\theta + fs) - L(\theta)}{f\,\text{expected\_improve}}
              > \text{accept\_ratio},\qquad L(\theta + fs) - L(\theta) > 0,

    the objective ``L`` being *maximised* (HARL's surrogate); otherwise the start is
    returned (``accepted`` False; HARL then restores the old actor). ``objective`` and
    ``kl`` map a flat vector to a float (``kl`` the mean divergence from the start).
    """
    if not callable(objective) or not callable(kl):
        raise TypeError("objective and kl must be callables of the flat parameters")
    _flat(params, "params")
    if tuple(full_step.shape) != tuple(params.shape):
        raise ValueError(f"full_step must have the params' shape {tuple(params.shape)}, "
                         f"got {tuple(full_step.shape)}")
    expected = check_scalar(expected_improve, "expected_improve", allow_negative=True)
    max_kl = check_scalar(max_kl, "max_kl", positive=True)
    accept_ratio = check_scalar(accept_ratio, "accept_ratio")
    backtrack_coeff = check_scalar(backtrack_coeff, "backtrack_coeff", positive=True,
                                   upper=1.0)
    max_steps = check_int(max_steps, "max_steps", low=1)
    base = float(objective(params))
    fraction = 1.0
    improve, d = float("nan"), float("nan")
    for i in range(max_steps):
        new = params + fraction * full_step
        improve = float(objective(new)) - base
        d = float(kl(new))
        if d < max_kl and expected != 0 and improve / expected > accept_ratio and improve > 0:
            return LineSearchResult(new, True, fraction, i + 1, improve, d)
        expected *= backtrack_coeff
        fraction *= backtrack_coeff
    return LineSearchResult(params, False, 0.0, max_steps, improve, d)


# -- value normalisation ---------------------------------------------------------------
class ValueNorm:
    r"""HARL's ``ValueNorm`` (``harl/common/valuenorm.py``): running, debiased estimates
    of the mean and variance of the value targets.

    ``update(x)``: with the batch mean :math:`\bar x` and mean square
    :math:`\overline{x^2}` over the first ``norm_axes`` axes and
    :math:`w = \beta` (or :math:`\beta^{\text{batch size}}` with
    ``per_element_update``),

    .. math:: \mu \leftarrow w\mu + (1-w)\bar x,\quad
              \nu \leftarrow w\nu + (1-w)\overline{x^2},\quad
              d \leftarrow w d + (1 - w),

    and ``running_mean_var()`` :math:`= (\mu/\max(d,\epsilon),\ \max(\nu/\max(d,\epsilon)
    - (\mu/\max(d,\epsilon))^2, 10^{-2}))`; ``normalize(x) = (x - mean)/sqrt(var)``,
    ``denormalize`` its inverse. Defaults as HARL: ``beta`` 0.99999, ``epsilon`` 1e-5,
    ``norm_axes`` 1. HARL keeps float32 state; here it is float64 in the namespace
    ``xp`` (default NumPy), and ``denormalize`` returns that namespace's array.
    """

    def __init__(self, shape=(), *, beta: float = 0.99999, epsilon: float = 1e-5,
                 norm_axes: int = 1, per_element_update: bool = False, xp=None):
        shape = (shape,) if isinstance(shape, (int, np.integer)) else tuple(shape)
        self.shape = tuple(check_int(n, "shape", low=1) for n in shape)
        self.beta = check_scalar(beta, "beta", upper=1.0)
        self.epsilon = check_scalar(epsilon, "epsilon", positive=True)
        self.norm_axes = check_int(norm_axes, "norm_axes", low=1)
        self.per_element_update = check_bool(per_element_update, "per_element_update")
        self.xp = resolve_namespace(xp)
        self.running_mean = self.xp.zeros(self.shape, dtype=self.xp.float64)
        self.running_mean_sq = self.xp.zeros(self.shape, dtype=self.xp.float64)
        self.debiasing_term = 0.0

    def _check(self, x, name="x"):
        want = self.shape
        if not hasattr(x, "shape") or len(x.shape) != self.norm_axes + len(want) or \
                tuple(x.shape[self.norm_axes:]) != want:
            raise ValueError(f"{name} must have {self.norm_axes} batch axes followed by "
                             f"the shape {want}, got "
                             f"{getattr(x, 'shape', type(x).__name__)}")
        return self.xp.astype(self.xp.asarray(x), self.xp.float64)

    def running_mean_var(self):
        """The debiased ``(mean, var)``, var clamped below at 1e-2 (HARL)."""
        xp = self.xp
        d = max(self.debiasing_term, self.epsilon)
        mean = self.running_mean / d
        var = self.running_mean_sq / d - mean * mean
        return mean, xp.maximum(var, xp.asarray(1e-2, dtype=xp.float64))

    def update(self, x) -> None:
        """Fold the batch ``x`` (norm_axes batch axes, then ``shape``) into the running
        statistics."""
        x = self._check(x)
        xp = self.xp
        axes = tuple(range(self.norm_axes))
        batch_mean = xp.mean(x, axis=axes)
        batch_sq = xp.mean(x * x, axis=axes)
        if self.per_element_update:
            w = self.beta ** int(np.prod(x.shape[:self.norm_axes]))
        else:
            w = self.beta
        self.running_mean = w * self.running_mean + (1.0 - w) * batch_mean
        self.running_mean_sq = w * self.running_mean_sq + (1.0 - w) * batch_sq
        self.debiasing_term = w * self.debiasing_term + (1.0 - w)

    def normalize(self, x):
        """``(x - mean) / sqrt(var)``."""
        x = self._check(x)
        mean, var = self.running_mean_var()
        return (x - mean) / self.xp.sqrt(var)

    def denormalize(self, x):
        """``x * sqrt(var) + mean``, the inverse of :meth:`normalize`."""
        x = self._check(x)
        mean, var = self.running_mean_var()
        return x * self.xp.sqrt(var) + mean
