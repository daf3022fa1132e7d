r"""Neural softmax policy gradient (NN-PG, NN-Adam) with exact gradients (002, Section 5).

Each agent i has its own small MLP policy on the one-hot global state (002, App. G.2,
Table 1: ``2^N-FC(2^N)-FC(2^N)-Linear(2)-softmax``; for a general game the input and
hidden widths are |S| and the output width is |A^i|):

.. math:: z^i(s) = W_3\,\sigma(W_2\,\sigma(W_1 e_s + b_1) + b_2) + b_3, \qquad
          \pi^i(\cdot|s) = \mathrm{softmax}(z^i(s)),

with hidden nonlinearity :math:`\sigma` = ReLU by default (the table does not name one;
"FC" is read as a fully connected layer followed by the nonlinearity and "Linear" as the
plain output layer; ``activation="tanh"`` is available). Initial weights: PyTorch's
``nn.Linear`` default by default (the paper's code is PyTorch; its "initial parameters
~ N(0, 1)" fits the tabular logits), or every weight and bias N(0, 1) (``init="normal"``).

The gradient is exact. Section 5 writes it as
:math:`\sum_s\sum_{a^i} d(s)\,\pi^i(a^i|s) A^i(s,a^i)\,\nabla\pi^i(a^i|s)`, which has
one factor :math:`\pi` too many (the policy-gradient theorem gives
:math:`\sum_{s,a} d(s)\pi A\,\nabla\log\pi = \sum_{s,a} d(s) A\,\nabla\pi`). Because
:math:`\sum_a \pi(a|s) A(s, a) = 0`, the gradient with respect to the logits
:math:`z^i(s)` is exactly Lemma 3.1's :math:`d(s)\pi^i(a|s)A^i(s,a)`
(:func:`fairmg.dynamics.pg.policy_gradient`; plus the log-barrier term of Section 3.2,
:func:`fairmg.dynamics.pg.log_barrier_gradient`, which is also a gradient in the logits),
and :meth:`MLP.backward` carries it back through the network by hand.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .._validate import check_scalar
from ..games.base import Game
from ..policy import ProductPolicy
from .pg import log_barrier_gradient, policy_gradient
from .run import METRICS, Run, iterate

__all__ = ["nn_pg", "MLP", "NNState", "agent_networks", "network_logits",
           "network_gradients"]

ACTIVATIONS = ("relu", "tanh")
#: ``"torch"``: PyTorch's ``nn.Linear`` default, W and b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in));
#: ``"normal"``: every weight and bias ~ N(0, 1).
INITS = ("torch", "normal")


@dataclass(frozen=True)
class MLP:
    """A fully connected network ``sizes[0] -> ... -> sizes[-1]`` stored as one flat vector.

    Hidden layers apply ``activation``; the last layer is linear (the logits). Layer k
    maps rows: ``h_{k+1} = act(h_k @ W_k + b_k)`` with ``W_k`` of shape
    ``(sizes[k], sizes[k+1])``; a batch of inputs is a matrix of rows.
    """

    sizes: tuple
    activation: str = "relu"

    def __post_init__(self):
        if len(self.sizes) < 2 or min(self.sizes) < 1:
            raise ValueError(f"sizes must be >= 2 positive layer widths, got {self.sizes}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {ACTIVATIONS}, got "
                             f"{self.activation!r}")

    @property
    def n_params(self) -> int:
        return sum((a + 1) * b for a, b in zip(self.sizes[:-1], self.sizes[1:]))

    def init(self, rng: np.random.Generator, init: str = "torch") -> np.ndarray:
        """Random flat parameters (see :data:`INITS`), drawn layer by layer, W then b."""
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        parts = []
        for a, b in zip(self.sizes[:-1], self.sizes[1:]):
            if init == "torch":
                bound = 1.0 / np.sqrt(a)
                parts += [rng.uniform(-bound, bound, a * b), rng.uniform(-bound, bound, b)]
            else:
                parts += [rng.standard_normal(a * b), rng.standard_normal(b)]
        return np.concatenate(parts)

    def unpack(self, flat: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
        """Views ``[(W_0, b_0), ...]`` into ``flat``."""
        if flat.shape != (self.n_params,):
            raise ValueError(f"params must have shape ({self.n_params},), got {flat.shape}")
        layers, k = [], 0
        for a, b in zip(self.sizes[:-1], self.sizes[1:]):
            W = flat[k: k + a * b].reshape(a, b)
            k += a * b
            layers.append((W, flat[k: k + b]))
            k += b
        return layers

    def _act(self, x):
        return np.maximum(x, 0.0) if self.activation == "relu" else np.tanh(x)

    def _act_grad(self, pre, post):
        return (pre > 0).astype(np.float64) if self.activation == "relu" else 1.0 - post ** 2

    def forward(self, flat: np.ndarray, X: np.ndarray):
        """Outputs for the input rows ``X``, and the cache :meth:`backward` needs."""
        h = X
        cache = [(None, X)]
        layers = self.unpack(flat)
        for k, (W, b) in enumerate(layers):
            pre = h @ W + b
            h = pre if k == len(layers) - 1 else self._act(pre)
            cache.append((pre, h))
        return h, cache

    def backward(self, flat: np.ndarray, cache, grad_out: np.ndarray) -> np.ndarray:
        """d(sum(grad_out * outputs))/d(params) as a flat vector (reverse-mode by hand)."""
        layers = self.unpack(flat)
        grads = []
        g = grad_out
        for k in range(len(layers) - 1, -1, -1):
            W, _ = layers[k]
            h_in = cache[k][1]
            grads.append((h_in.T @ g, g.sum(axis=0)))
            if k > 0:
                pre, post = cache[k]
                g = (g @ W.T) * self._act_grad(pre, post)
        return np.concatenate([x.ravel() for Wb in reversed(grads) for x in Wb])


@dataclass
class NNState:
    """The state of :func:`nn_pg`: every agent's flat parameters and Adam's moments."""

    params: list
    m: list | None = None
    v: list | None = None
    t: int = 0


def agent_networks(game: Game, hidden=None, activation: str = "relu") -> list[MLP]:
    """One :class:`MLP` per agent: |S| -> hidden... -> |A^i| (default hidden (|S|, |S|))."""
    S = game.n_states
    hidden = (S, S) if hidden is None else tuple(int(h) for h in hidden)
    return [MLP((S,) + hidden + (n,), activation) for n in game.action_sizes]


def network_logits(game: Game, nets: list[MLP], params: list) -> np.ndarray:
    """Every agent's logits on every (one-hot) state, padded: shape (N, S, A_max)."""
    X = np.eye(game.n_states)
    out = np.zeros((game.n_agents, game.n_states, game.max_actions))
    for i, (net, p) in enumerate(zip(nets, params)):
        out[i, :, : game.action_sizes[i]] = net.forward(p, X)[0]
    if not np.all(np.isfinite(out)):
        raise FloatingPointError("the policy networks produced non-finite logits")
    return out


def network_gradients(game: Game, nets: list[MLP], params: list, ev,
                      lam: float = 0.0) -> list[np.ndarray]:
    r"""Exact :math:`\nabla_{w^i}\big(V^i(\mu) + \lambda b^i\big)` of every agent's network weights.

    ``ev`` is the evaluation of the networks' policy. The gradient in the logits
    (Lemma 3.1 plus the barrier term) is backpropagated through each network.
    """
    dz = policy_gradient(ev)
    if lam:
        dz = dz + log_barrier_gradient(game, ev.policy.probs, lam)
    X = np.eye(game.n_states)
    grads = []
    for i, (net, p) in enumerate(zip(nets, params)):
        _, cache = net.forward(p, X)
        grads.append(net.backward(p, cache, dz[i, :, : game.action_sizes[i]]))
    return grads


def _adam_ascent(state: NNState, grads, lr, beta1, beta2, eps) -> NNState:
    t = state.t + 1
    m = [beta1 * m + (1 - beta1) * g for m, g in zip(state.m, grads)]
    v = [beta2 * v + (1 - beta2) * g * g for v, g in zip(state.v, grads)]
    params = [p + lr * (mi / (1 - beta1 ** t)) / (np.sqrt(vi / (1 - beta2 ** t)) + eps)
              for p, mi, vi in zip(state.params, m, v)]
    return NNState(params, m, v, t)


#: Seeds drawn by :func:`nn_pg` (from OS entropy, or from a given generator) lie in
#: ``[0, SEED_BOUND)``.
SEED_BOUND = 2 ** 63


def _resolve_seed(seed, rng) -> int:
    """The integer seed of the initial weights: ``seed``, or one drawn from ``rng``, or
    one drawn from OS entropy when neither is given (recorded in ``run.params["seed"]``)."""
    if seed is not None and rng is not None:
        raise ValueError("pass seed or rng, not both")
    if rng is not None:
        if not isinstance(rng, np.random.Generator):
            raise TypeError(f"rng must be a numpy.random.Generator, got "
                            f"{type(rng).__name__}; pass an int as seed=")
        return int(rng.integers(SEED_BOUND))
    if seed is None:
        return int(np.random.default_rng().integers(SEED_BOUND))
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be a non-negative int, got {seed!r}")
    if seed < 0:
        raise ValueError(f"seed is {seed}, expected a non-negative int")
    return int(seed)


def nn_pg(game: Game, *, seed=None, rng=None, params0=None, hidden=None,
          activation: str = "relu", init: str = "torch", optimizer: str = "sgd",
          lr: float = 0.1, iters: int = 400, log_barrier: float = 0.0,
          betas: tuple = (0.9, 0.999), adam_eps: float = 1e-8, keep_weights: bool = False,
          metrics=METRICS, progress: bool = False, evaluator=None) -> Run:
    r"""Independent policy gradient with neural softmax policies (NN-PG / NN-Adam, 002 Sec. 5).

    Every agent ascends its own objective :math:`V^i(\mu) + \lambda b^i` (in a Markov
    potential game the gradient of :math:`L_\lambda`) with the exact gradient
    (:func:`network_gradients`), by plain gradient ascent (``optimizer="sgd"``:
    :math:`w \leftarrow w + \eta\nabla`) or by Adam (Kingma & Ba, with bias correction,
    as an ascent).

    Parameters
    ----------
    game : Game
    seed : int >= 0, optional
        Seed of the initial weights (``numpy.random.default_rng(seed)``). Without
        ``seed``, ``rng`` and ``params0``, a seed is drawn from OS entropy; either way
        the seed used is recorded in ``run.params["seed"]``, and
        ``nn_pg(game, seed=run.params["seed"], ...)`` reproduces the run exactly.
    rng : numpy.random.Generator, optional
        Instead of ``seed``: the seed is drawn from ``rng`` (one draw), then used as
        above and recorded.
    params0 : list of ndarray, optional
        Initial flat weights per agent (see :class:`MLP`), instead of seed/rng
        (``run.params["seed"]`` is then None).
    hidden : sequence of int, optional
        Hidden widths; default (|S|, |S|) (002, App. G.2).
    activation : {"relu", "tanh"}
    init : {"torch", "normal"}
        Weight initialization (:data:`INITS`).
    optimizer : {"sgd", "adam"}
    lr : float
        Step size (002, App. G.2: 0.1 for every algorithm).
    iters : int
    log_barrier : float
        lambda >= 0 of Section 3.2, applied to the networks' policies.
    betas, adam_eps :
        Adam's moment decay rates and denominator constant.
    keep_weights : bool
        Keep every iteration's :class:`NNState` in ``run.states``; otherwise
        ``run.states`` holds only the final one.
    metrics, progress :
        As in :func:`fairmg.dynamics.softmax_pg`.
    evaluator : callable, optional
        The driver's evaluator (default exact); ``fairmg.sampled.Evaluator(...)`` gives
        the sampled NN-PG of practice (Monte Carlo Q and visitation in Lemma 3.1).

    Returns
    -------
    Run
        ``run.thetas`` are the networks' logits (N, S, A_max) of every iteration.
    """
    if not isinstance(game, Game):
        raise TypeError(f"game must be a fairmg Game, got {type(game).__name__}")
    if optimizer not in ("sgd", "adam"):
        raise ValueError(f"optimizer must be 'sgd' or 'adam', got {optimizer!r}")
    lr = check_scalar(lr, "lr", positive=True)
    lam = check_scalar(log_barrier, "log_barrier")
    beta1, beta2 = (float(b) for b in betas)
    if not (0 <= beta1 < 1 and 0 <= beta2 < 1):
        raise ValueError(f"betas must be in [0, 1), got {betas}")
    adam_eps = check_scalar(adam_eps, "adam_eps", positive=True)
    nets = agent_networks(game, hidden, activation)
    if params0 is not None:
        if seed is not None or rng is not None:
            raise ValueError("pass params0 or seed/rng, not both")
        if len(params0) != game.n_agents:
            raise ValueError(f"params0 must hold {game.n_agents} weight vectors, got "
                             f"{len(params0)}")
        params = []
        for i, (net, p) in enumerate(zip(nets, params0)):
            p = np.array(p, dtype=np.float64)
            if p.shape != (net.n_params,) or not np.all(np.isfinite(p)):
                raise ValueError(f"params0[{i}] must be {net.n_params} finite floats, got "
                                 f"shape {p.shape}")
            params.append(p)
    else:
        seed = _resolve_seed(seed, rng)
        gen = np.random.default_rng(seed)
        params = [net.init(gen, init) for net in nets]
    state0 = NNState(params)
    if optimizer == "adam":
        state0 = NNState(params, [np.zeros_like(p) for p in params],
                         [np.zeros_like(p) for p in params], 0)
    logits: list[np.ndarray] = []
    last = [state0]

    def to_policy(state: NNState) -> ProductPolicy:
        z = network_logits(game, nets, state.params)
        logits.append(z)
        return ProductPolicy.from_logits(game, z)

    def step(state: NNState, ev) -> NNState:
        grads = network_gradients(game, nets, state.params, ev, lam)
        if optimizer == "sgd":
            nxt = NNState([p + lr * g for p, g in zip(state.params, grads)])
        else:
            nxt = _adam_ascent(state, grads, lr, beta1, beta2, adam_eps)
        if not all(np.all(np.isfinite(p)) for p in nxt.params):
            raise FloatingPointError("nn_pg produced non-finite weights; lower lr")
        last[0] = nxt
        return nxt

    name = "nn-" + ("pg" if optimizer == "sgd" else "adam") + ("-lb" if lam else "")
    run = iterate(game, state0, step, to_policy, iters, name=name,
                  params=dict(optimizer=optimizer, lr=lr, iters=iters, log_barrier=lam,
                              hidden=nets[0].sizes[1:-1], activation=activation, init=init,
                              seed=seed), metrics=metrics,
                  keep="states" if keep_weights else "none", progress=progress,
                  evaluator=evaluator)
    run.thetas = logits
    if not keep_weights:
        run.states = [last[0]]
    return run
