r"""Small networks with hand-written forward, reverse (VJP) and forward (JVP) modes, on any
array-API namespace (issue 15, item 4).

Every network is a frozen *spec* (sizes, activation); its parameters are ONE flat float64
vector (``init`` draws it, ``unflatten`` gives views of the layers), so conjugate gradient
and line searches (:mod:`fairmg.sampled.optim`) work on plain vectors. The namespace comes
from the inputs (:func:`~fairmg.sampled.backend.namespace`): NumPy, CuPy or
``array_api_strict`` arrays in, the same namespace out.

Policies (categorical, N agents, one head per agent, logits zero-padded to ``A_max``):

* :class:`TabularPolicy` -- one logit per (agent, state, action), the contract's
  ``theta[i, s, a_i]``; observations are state indices (B,);
* :class:`MLPPolicy` -- a tanh/ReLU trunk shared by N linear heads (one head and
  N = 1 for an agent's own network, as HARL's actors), observations float (B, obs_dim).

Both give ``forward(params, obs) -> logits (B, N, A_max)``,
``log_prob(params, obs, actions) -> (B, N)`` and
``log_prob_grad(params, obs, actions, weights)``
:math:`= \nabla_\theta\sum_k\sum_i w_{k,i}\log\pi^i(a_{k,i}|o_k)` (the logits'
cotangent :math:`w(e_a - p)` carried back by :meth:`vjp`; with :math:`w = r\hat A/B`,
:math:`r = \pi/\pi_{old}`, it is the gradient of the importance-weighted surrogate),
``entropy`` / ``entropy_grad``, ``kl`` / ``kl_grad``, and the categorical
Fisher-vector product (``fisher_vector_product``, or ``fisher_operator`` for CG)

.. math:: F v = \frac1B\sum_{k} J_k^\top\,\mathrm{blockdiag}_i\big(\mathrm{diag}\,p_{k,i}
          - p_{k,i}p_{k,i}^\top\big)\,J_k v,

with :math:`J_k = \partial z(o_k)/\partial\theta`: one JVP (:meth:`jvp`, forward mode by
hand), a product with the softmax Hessian, one VJP. It is the Hessian at
:math:`\theta = \theta_{old}` of the mean :math:`KL(\pi_{old}\|\pi_\theta)`
(``divergence="kl"``, the default). ``divergence="kl_approx"`` is HARL's literal
choice (``harl/utils/trpo_util.py``: ``fisher_vector_product`` differentiates twice
``kl_divergence`` -> ``kl_approx(old_logits, new_logits)``
:math:`= \sum_a (r_a - 1 - \log r_a)`, :math:`r_a = \pi(a)/\pi_{old}(a)`, with torch's
normalised ``Categorical.logits``, summed over the actions *without* the weights
:math:`\pi_{old}(a)`): its Hessian at the old point is
:math:`J^\top\sum_a(e_a - p)(e_a - p)^\top J`, which is NOT the Fisher matrix (the
"k3" term :math:`r - 1 - \log r` has expectation :math:`KL(\pi_{old}\|\pi)` under
:math:`a\sim\pi_{old}`; summing it over the actions drops those weights). We record
this as a discrepancy between HARL's code and the TRPO/HATRPO papers' Fisher; both are
offered, and :meth:`kl` / :meth:`kl_grad` evaluate either divergence so that the HVP can be
checked by finite differences. HARL adds its damping (0.1) inside the FVP; here it is the
``damping`` argument (and :func:`~fairmg.sampled.optim.conjugate_gradient`'s). HARL's line
search also measures ``kl_approx``: pass ``divergence="kl_approx"`` to :meth:`kl` there
for a HARL-faithful HATRPO.

Value network: :class:`ValueNetwork`, an MLP with an optional softplus head (000,
App. D.2: "softplus ... for the final layer of critics to ensure positiveness"), with the
squared loss :math:`\frac{1}{2}\,\mathrm{mean}(V - y)^2` (HARL's ``mse_loss``) and its
gradient (:meth:`ValueNetwork.loss_grad`).

Initialisation (HARL ``harl/models/base/mlp.py``, ``distributions.py``; PyTorch
``nn.init.orthogonal_``): hidden layers orthogonal with gain ``calculate_gain(act)``
(ReLU :math:`\sqrt2`, tanh 5/3), the categorical head orthogonal with gain 0.01, biases 0.
HARL's ``LayerNorm`` layers (feature and hidden normalisation) are not reproduced.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .._validate import as_rng, check_choice, check_int, check_scalar
from .backend import namespace, resolve_namespace

__all__ = ["TabularPolicy", "MLPPolicy", "ValueNetwork", "orthogonal", "one_hot",
           "ACTIVATIONS", "DIVERGENCES", "activation_gain"]

ACTIVATIONS = ("tanh", "relu")
#: ``"kl"``: the mean KL(pi_old || pi) (its Hessian is the Fisher matrix);
#: ``"kl_approx"``: HARL's ``kl_approx`` summed over the actions (see the module doc).
DIVERGENCES = ("kl", "kl_approx")


def activation_gain(activation: str) -> float:
    """PyTorch's ``nn.init.calculate_gain``: ReLU :math:`\\sqrt2`, tanh 5/3."""
    check_choice(activation, "activation", ACTIVATIONS)
    return math.sqrt(2.0) if activation == "relu" else 5.0 / 3.0


def orthogonal(rng, shape, gain: float = 1.0) -> np.ndarray:
    """A (semi-)orthogonal NumPy matrix of ``shape`` = (rows, cols) times ``gain``, by
    PyTorch's ``nn.init.orthogonal_`` recipe: QR of a standard normal matrix (transposed
    when rows < cols), columns of Q signed by ``sign(diag R)``. Result: ``W.T @ W =
    gain**2 I`` when rows >= cols, ``W @ W.T = gain**2 I`` otherwise.

    ``rng``: a ``numpy.random.Generator`` or an int seed.
    """
    rng = as_rng(rng)
    if len(shape) != 2:
        raise ValueError(f"shape must be (rows, cols), got {shape}")
    rows, cols = (check_int(n, "shape", low=1) for n in shape)
    gain = check_scalar(gain, "gain")
    a = rng.standard_normal((rows, cols))
    if rows < cols:
        a = a.T
    q, r = np.linalg.qr(a)
    d = np.sign(np.diag(r))
    d[d == 0] = 1.0
    q = q * d
    if rows < cols:
        q = q.T
    return gain * q


def one_hot(indices, n: int):
    """Float64 one-hot rows (B, n) of the int array ``indices`` (B,), same namespace
    (e.g. states as MLP observations)."""
    xp = namespace(indices)
    n = check_int(n, "n", low=1)
    return xp.astype(indices[..., None] == xp.arange(n, dtype=indices.dtype), xp.float64)


# -- shared checks ---------------------------------------------------------------------
#: Reduce a last axis this short column by column (elementwise over the rest): NumPy's
#: ``max``/``sum`` along a last axis of 2-8 entries is ~10x slower than that.
_SHORT_AXIS = 8


def _last_axis(op, x, xp):
    """``op``-reduction (``xp.maximum`` or ``xp.add``) over the last axis, kept as size 1;
    sums run left to right, as NumPy's pairwise sum does below 8 entries."""
    M = x.shape[-1]
    if M > _SHORT_AXIS:
        return (xp.max if op is xp.maximum else xp.sum)(x, axis=-1, keepdims=True)
    acc = x[..., 0:1]
    for a in range(1, M):
        acc = op(acc, x[..., a:a + 1])
    return acc


def _check_params(params, n_params: int, name: str = "params"):
    if not hasattr(params, "shape") or tuple(params.shape) != (n_params,):
        raise ValueError(f"{name} must be a flat float vector of shape ({n_params},), got "
                         f"{getattr(params, 'shape', type(params).__name__)}")
    xp = namespace(params)
    if not xp.isdtype(params.dtype, "real floating"):
        raise TypeError(f"{name} must be a real floating array, got dtype {params.dtype}")
    if not bool(xp.all(xp.isfinite(params))):
        raise ValueError(f"{name} has non-finite entries")
    return params


def _check_batch(obs):
    if obs.shape[0] < 1:
        raise ValueError("obs must hold at least one observation (B >= 1)")
    return obs


def _as_sizes(action_sizes) -> tuple:
    if isinstance(action_sizes, (int, np.integer)):
        action_sizes = (action_sizes,)
    try:
        sizes = tuple(check_int(a, "action_sizes", low=1) for a in action_sizes)
    except TypeError as exc:
        raise TypeError(f"action_sizes must be a positive int or a sequence of positive "
                        f"ints, got {action_sizes!r}") from exc
    if not sizes:
        raise ValueError("action_sizes must name at least one agent")
    return sizes


def _as_hidden(hidden) -> tuple:
    try:
        return tuple(check_int(h, "hidden", low=1) for h in hidden)
    except TypeError as exc:
        raise TypeError(f"hidden must be a sequence of positive ints, got {hidden!r}") from exc


# -- the categorical policies ----------------------------------------------------------
class _CategoricalPolicy:
    """Shared categorical machinery; subclasses give ``_forward``, ``_jvp``, ``_vjp``."""

    action_sizes: tuple

    @property
    def n_agents(self) -> int:
        return len(self.action_sizes)

    @property
    def max_actions(self) -> int:
        return max(self.action_sizes)

    def _mask(self, xp):
        """Float (N, A_max): 1 on real actions, 0 on padding."""
        sizes = xp.asarray(self.action_sizes, dtype=xp.int64)
        return xp.astype(xp.arange(self.max_actions, dtype=xp.int64)[None, :]
                         < sizes[:, None], xp.float64)

    def _log_softmax(self, logits, mask, xp):
        """(log pi, pi) over the real actions; both 0 on padding."""
        neg = xp.asarray(-np.inf, dtype=logits.dtype)
        z = xp.where(mask > 0, logits, neg)
        z = z - _last_axis(xp.maximum, z, xp)
        e = xp.exp(z)
        logp = z - xp.log(_last_axis(xp.add, e, xp))
        zero = xp.asarray(0.0, dtype=logits.dtype)
        logp = xp.where(mask > 0, logp, zero)
        return logp, e / _last_axis(xp.add, e, xp)

    def _check_actions(self, actions, B, xp):
        if not hasattr(actions, "shape") or tuple(actions.shape) != (B, self.n_agents):
            raise ValueError(f"actions must have shape ({B}, {self.n_agents}) (one action "
                             f"per observation and agent), got "
                             f"{getattr(actions, 'shape', type(actions).__name__)}")
        if not xp.isdtype(actions.dtype, "integral"):
            raise TypeError(f"actions must be an integer array, got dtype {actions.dtype}")
        sizes = xp.asarray(self.action_sizes, dtype=actions.dtype)
        if B and (bool(xp.any(actions < 0)) or bool(xp.any(actions >= sizes[None, :]))):
            raise ValueError(f"actions must lie in [0, action_sizes[i]) for agent i, with "
                             f"action_sizes = {self.action_sizes}")
        return actions

    def _setup(self, params, obs):
        _check_params(params, self.n_params)
        obs = self._check_obs(obs)
        xp = namespace(params, obs)
        return xp, obs

    # -- public API --------------------------------------------------------------------
    def forward(self, params, obs):
        """The logits (B, N, A_max) of every agent at every observation (0 on padding)."""
        xp, obs = self._setup(params, obs)
        return self._forward(params, obs, xp)[0]

    def probs(self, params, obs):
        """:math:`\\pi^i(a|o_k)`, shape (B, N, A_max), 0 on padding."""
        xp, obs = self._setup(params, obs)
        logits = self._forward(params, obs, xp)[0]
        return self._log_softmax(logits, self._mask(xp), xp)[1]

    def log_prob(self, params, obs, actions):
        """:math:`\\log\\pi^i(a_{k,i}|o_k)`, shape (B, N); sum over the agents for the
        product policy."""
        xp, obs = self._setup(params, obs)
        logits = self._forward(params, obs, xp)[0]
        actions = self._check_actions(actions, logits.shape[0], xp)
        logp, _ = self._log_softmax(logits, self._mask(xp), xp)
        return _last_axis(xp.add, self._one_hot_actions(actions, xp) * logp, xp)[..., 0]

    def entropy(self, params, obs):
        """Every agent's entropy :math:`-\\sum_a\\pi\\log\\pi` at every observation, (B, N)."""
        xp, obs = self._setup(params, obs)
        logp, p = self._log_softmax(self._forward(params, obs, xp)[0], self._mask(xp), xp)
        return -xp.sum(p * logp, axis=-1)

    def entropy_grad(self, params, obs, weights):
        r""":math:`\nabla_\theta\sum_k\sum_i w_{k,i}H(\pi^i(\cdot|o_k))` (flat), ``weights``
        (B,) or (B, N) (e.g. HARL's ``entropy_coef`` / B); in the logits
        :math:`\partial H/\partial z_a = -\pi_a(\log\pi_a + H)`."""
        xp, obs = self._setup(params, obs)
        logits, cache = self._forward(params, obs, xp)
        w = self._weights(weights, logits.shape[0], xp)
        mask = self._mask(xp)
        logp, p = self._log_softmax(logits, mask, xp)
        H = -xp.sum(p * logp, axis=-1, keepdims=True)
        return self._vjp(params, cache, -w[..., None] * p * (logp + H) * mask, xp)

    def _one_hot_actions(self, actions, xp):
        return xp.astype(actions[..., None] == xp.arange(self.max_actions,
                                                          dtype=actions.dtype), xp.float64)

    def _weights(self, weights, B, xp, name="weights"):
        if not hasattr(weights, "shape") or tuple(weights.shape) not in ((B,), (B, self.n_agents)):
            raise ValueError(f"{name} must have shape ({B},) or ({B}, {self.n_agents}), got "
                             f"{getattr(weights, 'shape', type(weights).__name__)}")
        return weights if len(weights.shape) == 2 else weights[:, None]

    def log_prob_grad(self, params, obs, actions, weights):
        r""":math:`\nabla_\theta\sum_k\sum_i w_{k,i}\log\pi^i(a_{k,i}|o_k)` (flat).

        ``weights`` (B,) (shared by the agents) or (B, N); e.g. advantages / B for the
        gradient of a mean surrogate. The logits' cotangent
        :math:`w_{k,i}(e_{a_{k,i}} - \pi^i(\cdot|o_k))` goes back by :meth:`vjp`.
        """
        xp, obs = self._setup(params, obs)
        logits, cache = self._forward(params, obs, xp)
        B = logits.shape[0]
        actions = self._check_actions(actions, B, xp)
        w = self._weights(weights, B, xp)
        mask = self._mask(xp)
        _, p = self._log_softmax(logits, mask, xp)
        g = w[..., None] * (self._one_hot_actions(actions, xp) - p) * mask
        return self._vjp(params, cache, g, xp)

    def vjp(self, params, obs, cotangent):
        """:math:`J^\\top g`: the flat gradient of ``sum(cotangent * logits)``; the
        cotangent has the logits' shape (B, N, A_max)."""
        xp, obs = self._setup(params, obs)
        logits, cache = self._forward(params, obs, xp)
        if tuple(cotangent.shape) != tuple(logits.shape):
            raise ValueError(f"cotangent must have the logits' shape {tuple(logits.shape)}, "
                             f"got {tuple(cotangent.shape)}")
        return self._vjp(params, cache, cotangent * self._mask(xp), xp)

    def jvp(self, params, obs, tangent):
        """:math:`J v`: the directional derivative (B, N, A_max) of the logits along the
        flat ``tangent`` (forward mode by hand; 0 on padding)."""
        xp, obs = self._setup(params, obs)
        _check_params(tangent, self.n_params, "tangent")
        _, cache = self._forward(params, obs, xp)
        return self._jvp(params, tangent, cache, xp) * self._mask(xp)

    def _old(self, old_logits, logits, name="old_logits"):
        if not hasattr(old_logits, "shape") or tuple(old_logits.shape) != tuple(logits.shape):
            raise ValueError(f"{name} must have the logits' shape {tuple(logits.shape)} "
                             f"(forward at the old parameters), got "
                             f"{getattr(old_logits, 'shape', type(old_logits).__name__)}")
        return old_logits

    def _sample_weights(self, weights, B, xp):
        """(B, 1, 1) weights of the batch mean: 1/B, or ``weights`` (B,) (e.g. a weighted
        batch whose weights sum to 1, :class:`~fairmg.sampled.samples.Samples`)."""
        if weights is None:
            return 1.0 / B
        if not hasattr(weights, "shape") or tuple(weights.shape) != (B,):
            raise ValueError(f"weights must have shape ({B},), got "
                             f"{getattr(weights, 'shape', type(weights).__name__)}")
        return weights[:, None, None]

    def kl(self, params, obs, old_logits, *, divergence: str = "kl", weights=None):
        r"""The mean over the batch of the divergence of :math:`\pi_\theta` from the old
        policy (logits ``old_logits``), summed over the agents (the product policy's):

        * ``"kl"``: :math:`KL(\pi_{old}\|\pi_\theta) = \sum_a \pi_{old}(a)
          (\log\pi_{old}(a) - \log\pi_\theta(a))`;
        * ``"kl_approx"``: HARL's :math:`\sum_a (r_a - 1 - \log r_a)`,
          :math:`r_a = \pi_\theta(a)/\pi_{old}(a)` (``trpo_util.kl_approx``).

        ``weights`` (B,) replace the batch mean by a weighted sum. Returns a 0-d array of
        the namespace.
        """
        check_choice(divergence, "divergence", DIVERGENCES)
        xp, obs = self._setup(params, obs)
        logits = self._forward(params, obs, xp)[0]
        old_logits = self._old(old_logits, logits)
        mask = self._mask(xp)
        logp, _ = self._log_softmax(logits, mask, xp)
        logq, q = self._log_softmax(old_logits, mask, xp)
        if divergence == "kl":
            per = xp.sum(q * (logq - logp), axis=(1, 2))
        else:
            d = logp - logq
            per = xp.sum(mask * (xp.exp(d) - 1.0 - d), axis=(1, 2))
        if weights is not None:
            return xp.sum(self._sample_weights(weights, per.shape[0], xp)[:, 0, 0] * per)
        return xp.mean(per)

    def kl_grad(self, params, obs, old_logits, *, divergence: str = "kl", weights=None):
        r"""The flat gradient of :meth:`kl`. In the logits: ``"kl"`` gives
        :math:`(\pi_\theta - \pi_{old})/B`; ``"kl_approx"`` gives
        :math:`(c - \pi_\theta\sum_a c_a)/B` with :math:`c_a = r_a - 1`."""
        check_choice(divergence, "divergence", DIVERGENCES)
        xp, obs = self._setup(params, obs)
        logits, cache = self._forward(params, obs, xp)
        old_logits = self._old(old_logits, logits)
        mask = self._mask(xp)
        B = logits.shape[0]
        logp, p = self._log_softmax(logits, mask, xp)
        logq, q = self._log_softmax(old_logits, mask, xp)
        if divergence == "kl":
            g = p - q
        else:
            c = mask * (xp.exp(logp - logq) - 1.0)
            g = c - p * xp.sum(c, axis=-1, keepdims=True)
        return self._vjp(params, cache, g * self._sample_weights(weights, B, xp), xp)

    def fisher_vector_product(self, params, obs, v, *, divergence: str = "kl",
                              damping: float = 0.0, weights=None):
        r"""The curvature-vector product :math:`(H + \text{damping}\,I)v` of the mean
        divergence at :math:`\theta_{old} = \theta` (``params``), by one JVP and one VJP.

        * ``divergence="kl"``: :math:`H = F = \frac1B\sum_k J_k^\top\mathrm{blockdiag}_i
          (\mathrm{diag}\,p - pp^\top)J_k`, the exact categorical Fisher matrix (the
          Hessian of the mean :math:`KL(\pi_{old}\|\pi_\theta)` there);
        * ``divergence="kl_approx"``: HARL's ``fisher_vector_product`` for discrete
          actions (``harl/utils/trpo_util.py``), the Hessian of its ``kl_approx``:
          :math:`H = \frac1B\sum_k J_k^\top\sum_a(e_a - p)(e_a - p)^\top J_k`
          (not F; see the module doc).

        HARL adds ``0.1 * p`` inside; here ``damping`` (default 0) does that. For many
        products at one point (conjugate gradient) use :meth:`fisher_operator`.
        """
        return self.fisher_operator(params, obs, divergence=divergence,
                                    damping=damping, weights=weights)(v)

    def fisher_operator(self, params, obs, *, divergence: str = "kl",
                        damping: float = 0.0, weights=None):
        """The map ``v -> fisher_vector_product(params, obs, v, ...)`` with the forward
        pass done once (pass it to :func:`~fairmg.sampled.optim.conjugate_gradient`)."""
        check_choice(divergence, "divergence", DIVERGENCES)
        damping = check_scalar(damping, "damping")
        xp, obs = self._setup(params, obs)
        logits, cache = self._forward(params, obs, xp)
        mask = self._mask(xp)
        wb = self._sample_weights(weights, logits.shape[0], xp)
        _, p = self._log_softmax(logits, mask, xp)

        def fvp(v):
            _check_params(v, self.n_params, "v")
            u = self._jvp(params, v, cache, xp) * mask
            pu = xp.sum(p * u, axis=-1, keepdims=True)
            if divergence == "kl":
                hu = p * u - p * pu
            else:
                w = mask * (u - pu)
                hu = w - p * xp.sum(w, axis=-1, keepdims=True)
            out = self._vjp(params, cache, hu * wb, xp)
            return out + damping * v if damping else out

        return fvp


@dataclass(frozen=True)
class TabularPolicy(_CategoricalPolicy):
    r"""Tabular softmax policies :math:`\pi^i(\cdot|s) = \mathrm{softmax}(\theta^i_s)` of N
    agents: ``params`` is the contract's ``theta[i, s, a_i]`` (N, S, A_max) flattened
    (C order); padded entries are inert (zero gradient, masked out of the logits).
    Observations are int state indices (B,).
    """

    n_states: int
    action_sizes: tuple

    def __post_init__(self):
        object.__setattr__(self, "n_states", check_int(self.n_states, "n_states", low=1))
        object.__setattr__(self, "action_sizes", _as_sizes(self.action_sizes))

    @property
    def n_params(self) -> int:
        return self.n_agents * self.n_states * self.max_actions

    def init(self, rng=None, *, scale: float = 0.0, xp=None):
        """Flat parameters: zeros (the uniform policy) or, with ``scale`` > 0,
        N(0, scale^2) logits drawn by ``rng`` (Generator or seed); 0 on padding."""
        scale = check_scalar(scale, "scale")
        xp = resolve_namespace(xp)
        theta = np.zeros((self.n_agents, self.n_states, self.max_actions))
        if scale > 0:
            theta = scale * as_rng(rng).standard_normal(theta.shape)
        mask = np.arange(self.max_actions)[None, :] < np.array(self.action_sizes)[:, None]
        theta = theta * mask[:, None, :]
        return xp.asarray(np.reshape(theta, (-1,)), dtype=xp.float64)

    def unflatten(self, params):
        """``theta`` (N, S, A_max), a reshape of ``params``."""
        _check_params(params, self.n_params)
        xp = namespace(params)
        return xp.reshape(params, (self.n_agents, self.n_states, self.max_actions))

    def _check_obs(self, obs):
        if not hasattr(obs, "shape") or len(obs.shape) != 1:
            raise ValueError(f"obs must be a 1-d int array of state indices (B,), got "
                             f"{getattr(obs, 'shape', type(obs).__name__)}")
        xp = namespace(obs)
        if not xp.isdtype(obs.dtype, "integral"):
            raise TypeError(f"obs must be an integer array of state indices, got dtype "
                            f"{obs.dtype}")
        _check_batch(obs)
        if bool(xp.any(obs < 0)) or bool(xp.any(obs >= self.n_states)):
            raise ValueError(f"obs must be state indices in [0, {self.n_states})")
        return obs

    def _forward(self, params, obs, xp):
        theta = xp.reshape(params, (self.n_agents, self.n_states, self.max_actions))
        z = xp.permute_dims(xp.take(theta, obs, axis=1), (1, 0, 2))
        return z * self._mask(xp), obs

    def _jvp(self, params, v, obs, xp):
        return self._forward(v, obs, xp)[0]

    def _vjp(self, params, obs, g, xp):
        onehot = one_hot(obs, self.n_states)                                 # (B, S)
        gt = xp.permute_dims(g, (1, 0, 2))                                   # (N, B, A)
        grad = xp.matmul(xp.matrix_transpose(onehot)[None, ...], gt)       # (N, S, A)
        return xp.reshape(grad * self._mask(xp)[:, None, :], (-1,))


# -- MLPs ------------------------------------------------------------------------------
class _MLPCore:
    """A trunk ``obs_dim -> hidden...`` (activation after every layer) and linear heads
    of widths ``head_sizes`` on the last hidden layer; rows are samples
    (``h_{k+1} = act(h_k @ W_k + b_k)``, ``W_k`` (d_in, d_out)). Flat layout: trunk
    W_0, b_0, ..., then every head's W, b (C order)."""

    def _layer_shapes(self):
        dims = (self.obs_dim,) + self.hidden
        trunk = list(zip(dims[:-1], dims[1:]))
        heads = [(dims[-1], w) for w in self._head_sizes()]
        return trunk, heads

    @property
    def n_params(self) -> int:
        trunk, heads = self._layer_shapes()
        return sum((a + 1) * b for a, b in trunk + heads)

    def _split(self, params, xp):
        trunk, heads = self._layer_shapes()
        out, k = [], 0
        for a, b in trunk + heads:
            W = xp.reshape(params[k:k + a * b], (a, b))
            k += a * b
            out.append((W, params[k:k + b]))
            k += b
        return out[:len(trunk)], out[len(trunk):]

    def unflatten(self, params):
        """``{"trunk": [(W, b), ...], "heads": [(W, b), ...]}`` views of ``params``;
        ``W`` has shape (d_in, d_out)."""
        _check_params(params, self.n_params)
        trunk, heads = self._split(params, namespace(params))
        return {"trunk": trunk, "heads": heads}

    def _init_flat(self, rng, hidden_gain, out_gain, xp):
        rng = as_rng(rng)
        hidden_gain = activation_gain(self.activation) if hidden_gain is None else \
            check_scalar(hidden_gain, "hidden_gain")
        out_gain = check_scalar(out_gain, "out_gain")
        trunk, heads = self._layer_shapes()
        parts = []
        for (a, b), gain in [(s, hidden_gain) for s in trunk] + [(s, out_gain) for s in heads]:
            # torch stores (out, in) and initialises that; we store its transpose
            parts += [orthogonal(rng, (b, a), gain).T.ravel(), np.zeros(b)]
        ns = resolve_namespace(xp)
        return ns.asarray(np.concatenate(parts), dtype=ns.float64)

    def _check_obs(self, obs):
        if not hasattr(obs, "shape") or len(obs.shape) != 2 or obs.shape[1] != self.obs_dim:
            raise ValueError(f"obs must have shape (B, {self.obs_dim}), got "
                             f"{getattr(obs, 'shape', type(obs).__name__)}")
        xp = namespace(obs)
        if not xp.isdtype(obs.dtype, "real floating"):
            raise TypeError(f"obs must be a real floating array (use one_hot for state "
                            f"indices), got dtype {obs.dtype}")
        _check_batch(obs)
        if not bool(xp.all(xp.isfinite(obs))):
            raise ValueError("obs has non-finite entries")
        return obs

    def _act(self, x, xp):
        if self.activation == "tanh":
            return xp.tanh(x)
        return xp.maximum(x, xp.asarray(0.0, dtype=x.dtype))

    def _act_grad(self, pre, post, xp):
        if self.activation == "tanh":
            return 1.0 - post * post
        return xp.astype(pre > 0, pre.dtype)

    def _core_forward(self, params, obs, xp):
        trunk, heads = self._split(params, xp)
        h = obs
        hs, derivs = [obs], []
        for W, b in trunk:
            pre = xp.matmul(h, W) + b
            h = self._act(pre, xp)
            hs.append(h)
            derivs.append(self._act_grad(pre, h, xp))
        outs = [xp.matmul(h, W) + b for W, b in heads]
        return outs, (hs, derivs)

    def _core_jvp(self, params, v, cache, xp):
        trunk, heads = self._split(params, xp)
        dtrunk, dheads = self._split(v, xp)
        hs, derivs = cache
        dh = None
        for k, ((W, _), (dW, db)) in enumerate(zip(trunk, dtrunk)):
            dpre = xp.matmul(hs[k], dW) + db
            if dh is not None:
                dpre = dpre + xp.matmul(dh, W)
            dh = derivs[k] * dpre
        h = hs[-1]
        outs = []
        for (W, _), (dW, db) in zip(heads, dheads):
            d = xp.matmul(h, dW) + db
            outs.append(d if dh is None else d + xp.matmul(dh, W))
        return outs

    def _core_vjp(self, params, cache, gouts, xp):
        trunk, heads = self._split(params, xp)
        hs, derivs = cache
        h = hs[-1]
        head_grads = []
        gh = None
        for (W, _), g in zip(heads, gouts):
            head_grads.append((xp.matmul(xp.matrix_transpose(h), g), xp.sum(g, axis=0)))
            if trunk:
                back = xp.matmul(g, xp.matrix_transpose(W))
                gh = back if gh is None else gh + back
        trunk_grads = []
        for k in range(len(trunk) - 1, -1, -1):
            gpre = gh * derivs[k]
            trunk_grads.append((xp.matmul(xp.matrix_transpose(hs[k]), gpre),
                                xp.sum(gpre, axis=0)))
            if k > 0:
                gh = xp.matmul(gpre, xp.matrix_transpose(trunk[k][0]))
        parts = [x for Wb in reversed(trunk_grads) for x in Wb] + \
            [x for Wb in head_grads for x in Wb]
        return xp.concat([xp.reshape(x, (-1,)) for x in parts])


@dataclass(frozen=True)
class MLPPolicy(_MLPCore, _CategoricalPolicy):
    r"""A categorical MLP policy: a trunk ``obs_dim -> hidden...`` (``activation`` after
    each layer) shared by one linear head per agent (width ``action_sizes[i]``), logits
    zero-padded to (B, N, A_max). ``action_sizes`` an int is one agent (HARL's actor,
    without its LayerNorms). Orthogonal initialisation (:meth:`init`).
    """

    obs_dim: int
    action_sizes: tuple
    hidden: tuple = (64, 64)
    activation: str = "tanh"

    def __post_init__(self):
        object.__setattr__(self, "obs_dim", check_int(self.obs_dim, "obs_dim", low=1))
        object.__setattr__(self, "action_sizes", _as_sizes(self.action_sizes))
        object.__setattr__(self, "hidden", _as_hidden(self.hidden))
        check_choice(self.activation, "activation", ACTIVATIONS)

    def _head_sizes(self):
        return self.action_sizes

    def init(self, rng=None, *, hidden_gain=None, out_gain: float = 0.01, xp=None):
        """Flat parameters: every weight matrix orthogonal (:func:`orthogonal`, drawn by
        ``rng``, a Generator or seed, layer by layer), hidden gain
        :func:`activation_gain` (HARL ``MLPLayer``), head gain 0.01 (HARL
        ``Categorical``), biases 0; float64 arrays of ``xp`` (default NumPy)."""
        return self._init_flat(rng, hidden_gain, out_gain, xp)

    def _forward(self, params, obs, xp):
        outs, cache = self._core_forward(params, obs, xp)
        return self._pad(outs, xp), cache

    def _pad(self, outs, xp):
        B, M = outs[0].shape[0], self.max_actions
        cols = []
        for z in outs:
            if z.shape[1] < M:
                z = xp.concat([z, xp.zeros((B, M - z.shape[1]), dtype=z.dtype)], axis=1)
            cols.append(z)
        return xp.stack(cols, axis=1)

    def _jvp(self, params, v, cache, xp):
        return self._pad(self._core_jvp(params, v, cache, xp), xp)

    def _vjp(self, params, cache, g, xp):
        return self._core_vjp(params, cache, [g[:, i, :n] for i, n in
                                              enumerate(self.action_sizes)], xp)


@dataclass(frozen=True)
class ValueNetwork(_MLPCore):
    r"""An MLP critic ``obs_dim -> hidden... -> n_outputs`` (several outputs: per-agent
    critics on one trunk), values (B, n_outputs); ``softplus=True`` puts
    :math:`\log(1 + e^z)` on the head (000, App. D.2: positive values). Loss:
    :math:`\frac12\,\mathrm{mean}_{k,j}(V_j(o_k) - y_{k,j})^2` (HARL ``mse_loss``,
    averaged)."""

    obs_dim: int
    hidden: tuple = (64, 64)
    activation: str = "tanh"
    softplus: bool = False
    n_outputs: int = 1

    def __post_init__(self):
        object.__setattr__(self, "obs_dim", check_int(self.obs_dim, "obs_dim", low=1))
        object.__setattr__(self, "hidden", _as_hidden(self.hidden))
        object.__setattr__(self, "n_outputs", check_int(self.n_outputs, "n_outputs", low=1))
        check_choice(self.activation, "activation", ACTIVATIONS)
        if not isinstance(self.softplus, (bool, np.bool_)):
            raise TypeError(f"softplus must be True or False, got {self.softplus!r}")

    def _head_sizes(self):
        return (self.n_outputs,)

    def init(self, rng=None, *, hidden_gain=None, out_gain: float = 1.0, xp=None):
        """Orthogonal weights (hidden gain :func:`activation_gain`, head gain
        ``out_gain``), zero biases; see :meth:`MLPPolicy.init`."""
        return self._init_flat(rng, hidden_gain, out_gain, xp)

    def _setup(self, params, obs):
        _check_params(params, self.n_params)
        obs = self._check_obs(obs)
        return namespace(params, obs), obs

    def _head(self, z, xp):
        if not self.softplus:
            return z, None
        e = xp.exp(-xp.abs(z))
        v = xp.log1p(e) + xp.maximum(z, xp.asarray(0.0, dtype=z.dtype))
        sig = xp.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
        return v, sig

    def forward(self, params, obs):
        """Values (B, n_outputs)."""
        xp, obs = self._setup(params, obs)
        outs, _ = self._core_forward(params, obs, xp)
        return self._head(outs[0], xp)[0]

    def vjp(self, params, obs, cotangent):
        """The flat gradient of ``sum(cotangent * forward(params, obs))``."""
        xp, obs = self._setup(params, obs)
        outs, cache = self._core_forward(params, obs, xp)
        if tuple(cotangent.shape) != tuple(outs[0].shape):
            raise ValueError(f"cotangent must have the values' shape "
                             f"{tuple(outs[0].shape)}, got {tuple(cotangent.shape)}")
        _, sig = self._head(outs[0], xp)
        g = cotangent if sig is None else cotangent * sig
        return self._core_vjp(params, cache, [g], xp)

    def loss(self, params, obs, targets):
        """:math:`\\frac12\\mathrm{mean}(V - y)^2`, a 0-d array."""
        return self.loss_grad(params, obs, targets)[0]

    def loss_grad(self, params, obs, targets):
        """``(loss, flat gradient)`` of the squared loss against ``targets``
        (B, n_outputs)."""
        xp, obs = self._setup(params, obs)
        outs, cache = self._core_forward(params, obs, xp)
        if not hasattr(targets, "shape") or tuple(targets.shape) != tuple(outs[0].shape):
            raise ValueError(f"targets must have shape {tuple(outs[0].shape)} (B, "
                             f"n_outputs), got "
                             f"{getattr(targets, 'shape', type(targets).__name__)}")
        v, sig = self._head(outs[0], xp)
        err = v - targets
        n = err.shape[0] * err.shape[1]
        loss = 0.5 * xp.sum(err * err) / n
        g = err / n if sig is None else err * sig / n
        return loss, self._core_vjp(params, cache, [g], xp)
