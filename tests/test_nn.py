"""Neural softmax policy gradient (002, Section 5): the hand-written backpropagation and
the exact policy gradient against finite differences of exact values (fairmg.reference),
Adam against a plain loop, seeding (every run reproducible from run.params["seed"]) and
validation."""
import numpy as np
import pytest
from hypothesis import given, strategies as st

import fairmg as fm
from fairmg.testing import reference as ref
from fairmg.dynamics import nn

FD_STEP = 1e-6
#: Central differences of smooth maps with O(1)-O(10) curvature: error ~ FD_STEP^2 * 10
#: plus round-off ~ 1e-16 * 10 / FD_STEP, well below FD_TOL (relative to max(1, |grad|)).
FD_TOL = 1e-6


def fd_gradient(f, x):
    grad = np.zeros_like(x)
    for k in range(x.size):
        up, down = x.copy(), x.copy()
        up[k] += FD_STEP
        down[k] -= FD_STEP
        grad[k] = (f(up) - f(down)) / (2 * FD_STEP)
    return grad


def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def plain_forward(sizes, activation, flat, X):
    """The MLP written out layer by layer, independently of nn.MLP."""
    h, k = X, 0
    act = (lambda x: np.maximum(x, 0)) if activation == "relu" else np.tanh
    for layer, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        W = flat[k: k + a * b].reshape(a, b)
        bias = flat[k + a * b: k + a * b + b]
        k += a * b + b
        h = h @ W + bias
        if layer < len(sizes) - 2:
            h = act(h)
    return h


def objective_of_weights(game, nets, params, agent, lam):
    """V^i(mu) + lam * b^i of the networks' policy, by the reference evaluation."""
    S = game.n_states
    probs = np.zeros((game.n_agents, S, game.max_actions))
    for i, (net, p) in enumerate(zip(nets, params)):
        probs[i, :, : game.action_sizes[i]] = softmax(
            plain_forward(net.sizes, net.activation, p, np.eye(S)))
    V = ref.evaluate(game.transition, game.rewards, game.gamma, game.initial, probs,
                     game.action_sizes)[0]
    n = game.action_sizes[agent]
    barrier = np.log(probs[agent, :, :n]).sum() / (S * n) + np.log(n)
    return V[agent] @ game.initial + lam * barrier


@given(seed=st.integers(0, 2**32 - 1), activation=st.sampled_from(nn.ACTIVATIONS),
       sizes=st.sampled_from([(3, 4, 2), (4, 3, 5, 2), (2, 1)]))
def test_backward_is_finite_difference_of_forward(seed, activation, sizes):
    rng = np.random.default_rng(seed)
    net = nn.MLP(sizes, activation)
    flat = net.init(rng, "normal")
    X = rng.normal(size=(5, sizes[0]))
    G = rng.normal(size=(5, sizes[-1]))
    out, cache = net.forward(flat, X)
    np.testing.assert_allclose(out, plain_forward(sizes, activation, flat, X), atol=1e-12)
    fd = fd_gradient(lambda p: np.sum(G * plain_forward(sizes, activation, p, X)), flat)
    np.testing.assert_allclose(net.backward(flat, cache, G), fd,
                               atol=FD_TOL * max(1.0, np.abs(fd).max()))


@given(st.data())
def test_network_gradient_is_finite_difference_of_exact_values(data):
    n = data.draw(st.integers(1, 3))
    sizes = tuple(data.draw(st.lists(st.integers(1, 3), min_size=n, max_size=n)))
    g = fm.games.random_game(data.draw(st.integers(1, 3)), sizes,
                             data.draw(st.sampled_from([0.0, 0.5, 0.9])),
                             rng=data.draw(st.integers(0, 2**32 - 1)),
                             kind=data.draw(st.sampled_from(fm.games.GAME_KINDS)))
    activation = data.draw(st.sampled_from(nn.ACTIVATIONS))
    lam = data.draw(st.sampled_from([0.0, 0.5]))
    nets = nn.agent_networks(g, hidden=(3, 2), activation=activation)
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    params = [net.init(rng, "normal") for net in nets]
    pol = fm.ProductPolicy.from_logits(g, nn.network_logits(g, nets, params))
    grads = nn.network_gradients(g, nets, params, fm.evaluate(g, pol), lam)
    for i in range(g.n_agents):
        def f(p, i=i):
            return objective_of_weights(g, nets, params[:i] + [p] + params[i + 1:], i, lam)
        fd = fd_gradient(f, params[i])
        np.testing.assert_allclose(grads[i], fd, atol=FD_TOL * max(1.0, np.abs(fd).max()))


def test_sgd_step_follows_the_finite_difference_gradient():
    g = fm.games.coordination(n_agents=2)
    run = fm.dynamics.nn_pg(g, seed=3, lr=0.1, iters=1, log_barrier=0.1, keep_weights=True,
                            metrics=())
    nets = nn.agent_networks(g)
    p0 = run.states[0].params
    for i in range(2):
        fd = fd_gradient(lambda p: objective_of_weights(
            g, nets, p0[:i] + [p] + p0[i + 1:], i, 0.1), p0[i])
        np.testing.assert_allclose(run.states[1].params[i], p0[i] + 0.1 * fd, atol=1e-8)


def test_adam_matches_a_plain_loop():
    g = fm.games.coordination(n_agents=2)
    lr, b1, b2, eps = 0.05, 0.8, 0.99, 1e-8
    run = fm.dynamics.nn_pg(g, seed=1, optimizer="adam", lr=lr, betas=(b1, b2),
                            adam_eps=eps, iters=4, keep_weights=True, metrics=())
    nets = nn.agent_networks(g)
    params = [p.copy() for p in run.states[0].params]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    for t in range(1, 5):
        pol = fm.ProductPolicy.from_logits(g, nn.network_logits(g, nets, params))
        grads = nn.network_gradients(g, nets, params, fm.evaluate(g, pol))
        for i in range(2):
            for k in range(params[i].size):
                m[i][k] = b1 * m[i][k] + (1 - b1) * grads[i][k]
                v[i][k] = b2 * v[i][k] + (1 - b2) * grads[i][k] ** 2
                mhat, vhat = m[i][k] / (1 - b1 ** t), v[i][k] / (1 - b2 ** t)
                params[i][k] += lr * mhat / (np.sqrt(vhat) + eps)
        for i in range(2):
            np.testing.assert_allclose(run.states[t].params[i], params[i], atol=1e-12)


def test_architecture_logits_and_metrics_of_a_run():
    g = fm.games.coordination(n_agents=3)
    run = fm.dynamics.nn_pg(g, seed=0, iters=5)
    nets = nn.agent_networks(g)
    assert [net.sizes for net in nets] == [(8, 8, 8, 2)] * 3  # 2^N-FC(2^N)-FC(2^N)-Linear(2)
    final = run.states[-1].params
    np.testing.assert_allclose(run.thetas[-1], np.stack(
        [plain_forward(net.sizes, "relu", p, np.eye(8)) for net, p in zip(nets, final)]))
    for key in ("nash_gap", "poa", "potential"):
        assert run.metrics[key].shape == (6,)
    assert len(run.thetas) == len(run.policies) == 6


def test_seeding_is_reproducible():
    g = fm.games.coordination(n_agents=2)
    a = fm.dynamics.nn_pg(g, seed=7, iters=3, metrics=("welfare",))
    b = fm.dynamics.nn_pg(g, seed=7, iters=3, metrics=("welfare",))
    c = fm.dynamics.nn_pg(g, seed=8, iters=3, metrics=("welfare",))
    np.testing.assert_array_equal(a.thetas[-1], b.thetas[-1])
    assert a.params["seed"] == 7
    assert not np.allclose(a.thetas[0], c.thetas[0])


@pytest.mark.parametrize("source", ["none", "rng"])
def test_the_seed_used_is_recorded_and_reproduces_the_run(source):
    """Issue 10: without a seed, nn_pg drew OS entropy and recorded nothing. Whatever the
    source of randomness, run.params["seed"] is an int that reproduces the run exactly."""
    g = fm.games.coordination(n_agents=2)
    kw = dict(optimizer="adam", iters=4, metrics=("nash_gap", "welfare"))
    extra = {} if source == "none" else dict(rng=np.random.default_rng(11))
    run = fm.dynamics.nn_pg(g, **extra, **kw)
    seed = run.params["seed"]
    assert isinstance(seed, int) and 0 <= seed < nn.SEED_BOUND
    again = fm.dynamics.nn_pg(g, seed=seed, **kw)
    assert again.params["seed"] == seed
    for x, y in zip(run.thetas, again.thetas):
        np.testing.assert_array_equal(x, y)
    for key in kw["metrics"]:
        np.testing.assert_array_equal(run.metrics[key], again.metrics[key])
    if source == "rng":      # the generator decides the seed
        assert fm.dynamics.nn_pg(g, rng=np.random.default_rng(11), **kw).params["seed"] == seed


def test_runs_from_given_weights_record_no_seed():
    g = fm.games.coordination(n_agents=2)
    first = fm.dynamics.nn_pg(g, seed=0, iters=1, keep_weights=True, metrics=())
    run = fm.dynamics.nn_pg(g, params0=first.states[0].params, iters=1, metrics=())
    assert run.params["seed"] is None
    np.testing.assert_array_equal(run.thetas[-1], first.thetas[-1])


@pytest.mark.parametrize("init", nn.INITS)
def test_initializations(init):
    net = nn.MLP((64, 64, 64, 2))
    flat = net.init(np.random.default_rng(0), init)
    W1, b1 = net.unpack(flat)[0]
    if init == "torch":
        assert np.abs(W1).max() <= 1 / 8 and np.abs(b1).max() <= 1 / 8
        assert W1.std() == pytest.approx(1 / 8 / np.sqrt(3), rel=0.05)
    else:
        assert W1.mean() == pytest.approx(0, abs=0.05) and W1.std() == pytest.approx(1, rel=0.05)


def test_reaches_a_nash_policy_on_the_coordination_game():
    g = fm.games.coordination(n_agents=2)
    run = fm.dynamics.nn_pg(g, seed=0, optimizer="adam", iters=150,
                            metrics=("nash_gap", "poa"))
    assert run.metrics["nash_gap"][-1] < 1e-3 < run.metrics["nash_gap"][0]


@pytest.mark.parametrize("kwargs, match", [
    (dict(optimizer="rmsprop"), "optimizer"), (dict(lr=-1.0), "lr"),
    (dict(activation="gelu"), "activation"), (dict(init="xavier"), "init"),
    (dict(log_barrier=np.inf), "log_barrier"), (dict(seed=1, rng=np.random.default_rng()),
                                                "seed or rng"),
    (dict(params0=[np.zeros(3), np.zeros(3)]), r"params0\[0\]"),
    (dict(params0=[np.zeros(3), np.zeros(3)], seed=0), "params0 or seed/rng"),
    (dict(seed=-1), r"seed is -1, expected a non-negative int"),
    (dict(betas=(0.9, 1.0)), "betas")])
def test_invalid_arguments_raise(kwargs, match):
    with pytest.raises(ValueError, match=match):
        fm.dynamics.nn_pg(fm.games.coordination(n_agents=2), iters=1, **kwargs)


@pytest.mark.parametrize("kwargs, match", [
    (dict(seed=1.5), "seed must be a non-negative int"),
    (dict(seed="abc"), "seed must be a non-negative int"),
    (dict(seed=True), "seed must be a non-negative int"),
    (dict(rng="abc"), "rng must be a numpy.random.Generator"),
    (dict(rng=3), "rng must be a numpy.random.Generator")])
def test_invalid_randomness_raises_type_error(kwargs, match):
    with pytest.raises(TypeError, match=match):
        fm.dynamics.nn_pg(fm.games.coordination(n_agents=2), iters=1, **kwargs)
