"""Networks and optimisers of the sampled mode (issue 15, item 4).

Every hand-written gradient is checked against central finite differences in float64
(relative error < 1e-6 of the gradient's largest entry); the Fisher-vector product
against an explicit Fisher matrix built two ways (finite-difference Jacobians with the
softmax Hessian, and the score-function definition E[g g^T] by enumerating the actions)
and against finite differences of the KL gradient; NumPy and ``array_api_strict`` agree.
"""
import itertools

import numpy as np
import pytest

import fairmg as fm
from fairmg.sampled import networks as nets
from fairmg.sampled import optim

xps = pytest.importorskip("array_api_strict")

RTOL = 1e-6
EPS = 1e-6


def fd_grad(f, x, eps=EPS):
    """Central differences of the scalar function f at x (float64)."""
    out = np.empty_like(x)
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = eps
        out[j] = (float(f(x + e)) - float(f(x - e))) / (2 * eps)
    return out


def fd_jac(f, x, eps=EPS):
    """Central-difference Jacobian (out.size, x.size) of the array function f."""
    cols = []
    for j in range(x.size):
        e = np.zeros_like(x)
        e[j] = eps
        cols.append((np.asarray(f(x + e)) - np.asarray(f(x - e))).ravel() / (2 * eps))
    return np.stack(cols, axis=1)


def assert_rel(a, b, tol=RTOL):
    a, b = np.asarray(a), np.asarray(b)
    scale = max(np.max(np.abs(b)), 1e-12)
    assert np.max(np.abs(a - b)) / scale < tol, np.max(np.abs(a - b)) / scale


def _data(policy, B, seed):
    rng = np.random.default_rng(seed)
    if isinstance(policy, nets.TabularPolicy):
        obs = rng.integers(0, policy.n_states, B)
        params = policy.init(rng, scale=1.0)
    else:
        obs = rng.standard_normal((B, policy.obs_dim))
        params = policy.init(rng) + 0.5 * rng.standard_normal(policy.n_params)
    actions = np.stack([rng.integers(0, n, B) for n in policy.action_sizes], axis=1)
    return params, obs, actions, rng


POLICIES = {
    "tabular": nets.TabularPolicy(4, (2, 3)),
    "mlp-tanh": nets.MLPPolicy(3, (2, 3), hidden=(5, 4), activation="tanh"),
    "mlp-relu": nets.MLPPolicy(3, 3, hidden=(6,), activation="relu"),
    "linear": nets.MLPPolicy(2, (3, 2), hidden=()),
}


# -- gradients against finite differences ----------------------------------------------
@pytest.mark.parametrize("name", POLICIES)
@pytest.mark.parametrize("shared_weights", [False, True])
def test_log_prob_grad_matches_finite_differences(name, shared_weights):
    pol = POLICIES[name]
    params, obs, actions, rng = _data(pol, 7, 1)
    w = rng.standard_normal(7 if shared_weights else (7, pol.n_agents))
    wb = w[:, None] if shared_weights else w
    g = pol.log_prob_grad(params, obs, actions, w)
    assert g.shape == (pol.n_params,)
    fd = fd_grad(lambda p: np.sum(wb * pol.log_prob(p, obs, actions)), params)
    assert_rel(g, fd)


def test_surrogate_gradient_is_log_prob_grad_with_ratio_weights():
    # grad of mean_k sum_i r_ki A_ki, r = pi / pi_old, is log_prob_grad with w = r A / B
    pol = POLICIES["mlp-tanh"]
    params, obs, actions, rng = _data(pol, 8, 14)
    old_logp = pol.log_prob(params, obs, actions)
    adv = rng.standard_normal((8, pol.n_agents))
    moved = params + 0.2 * rng.standard_normal(pol.n_params)
    surr = lambda p: np.mean(np.sum(np.exp(pol.log_prob(p, obs, actions) - old_logp) * adv,
                                    axis=1))                    # noqa: E731
    r = np.exp(pol.log_prob(moved, obs, actions) - old_logp)
    assert_rel(pol.log_prob_grad(moved, obs, actions, r * adv / 8), fd_grad(surr, moved))


@pytest.mark.parametrize("name", POLICIES)
def test_entropy_and_its_gradient(name):
    pol = POLICIES[name]
    params, obs, _, rng = _data(pol, 6, 3)
    p = np.asarray(pol.probs(params, obs))
    with np.errstate(divide="ignore", invalid="ignore"):
        ref = -np.sum(np.where(p > 0, p * np.log(p), 0.0), axis=-1)
    np.testing.assert_allclose(pol.entropy(params, obs), ref, rtol=1e-13)
    w = rng.standard_normal((6, pol.n_agents))
    assert_rel(pol.entropy_grad(params, obs, w),
               fd_grad(lambda q: np.sum(w * pol.entropy(q, obs)), params))


@pytest.mark.parametrize("name", POLICIES)
def test_jvp_and_vjp_are_the_jacobian(name):
    pol = POLICIES[name]
    params, obs, _, rng = _data(pol, 5, 2)
    J = fd_jac(lambda p: pol.forward(p, obs), params)
    v = rng.standard_normal(pol.n_params)
    u = rng.standard_normal((5, pol.n_agents, pol.max_actions))
    mask = pol._mask(nets.namespace(params))
    u = u * mask                                      # padding carries nothing
    assert_rel(pol.jvp(params, obs, v), (J @ v).reshape(u.shape) * mask)
    assert_rel(pol.vjp(params, obs, u), J.T @ u.ravel())


def test_tabular_policy_is_the_softmax_of_theta():
    g = fm.games.random_game(4, (2, 3), 0.9, rng=0)
    pol = nets.TabularPolicy(4, g.action_sizes)
    params = pol.init(3, scale=1.0)
    theta = pol.unflatten(params)
    assert theta.shape == (2, 4, 3) and theta[0, :, 2].tolist() == [0.0] * 4
    ref = fm.ProductPolicy.from_logits(g, np.asarray(theta)).probs      # (N, S, A)
    states = np.array([0, 3, 1, 1, 2])
    np.testing.assert_allclose(pol.probs(params, states),
                               np.transpose(ref[:, states, :], (1, 0, 2)), atol=1e-14)
    # padded parameters are inert
    _, _, actions, rng = _data(pol, 5, 0)
    grad = pol.unflatten(pol.log_prob_grad(params, states, actions, np.ones(5)))
    assert np.all(grad[0, :, 2] == 0)


@pytest.mark.parametrize("softplus", [False, True])
@pytest.mark.parametrize("n_outputs", [1, 2])
def test_value_loss_grad_matches_finite_differences(softplus, n_outputs):
    vn = nets.ValueNetwork(3, hidden=(5, 4), activation="tanh", softplus=softplus,
                           n_outputs=n_outputs)
    rng = np.random.default_rng(4)
    params = vn.init(rng) + 0.3 * rng.standard_normal(vn.n_params)
    obs = rng.standard_normal((9, 3))
    y = rng.standard_normal((9, n_outputs)) + 1.0
    v = vn.forward(params, obs)
    assert v.shape == (9, n_outputs)
    if softplus:
        assert np.all(v > 0)
    loss, grad = vn.loss_grad(params, obs, y)
    np.testing.assert_allclose(loss, 0.5 * np.mean((v - y) ** 2), rtol=1e-14)
    assert_rel(grad, fd_grad(lambda p: vn.loss(p, obs, y), params))
    u = rng.standard_normal((9, n_outputs))
    assert_rel(vn.vjp(params, obs, u), fd_grad(lambda p: np.sum(u * vn.forward(p, obs)),
                                               params))


def test_relu_value_network_and_softplus_extremes():
    vn = nets.ValueNetwork(2, hidden=(6,), activation="relu", softplus=True)
    rng = np.random.default_rng(5)
    params = vn.init(rng) + 0.3 * rng.standard_normal(vn.n_params)
    obs = rng.standard_normal((8, 2))
    y = rng.standard_normal((8, 1))
    assert_rel(vn.loss_grad(params, obs, y)[1], fd_grad(lambda p: vn.loss(p, obs, y), params))
    # softplus stays finite and exact far out
    big = vn._head(np.array([-800.0, 0.0, 800.0]), nets.namespace(obs))
    np.testing.assert_allclose(big[0], [0.0, np.log(2.0), 800.0], atol=1e-300)
    np.testing.assert_allclose(big[1], [0.0, 0.5, 1.0])


# -- Fisher-vector products ------------------------------------------------------------
def _softmax_hessian(p):
    return np.diag(p) - np.outer(p, p)


def _explicit_fisher(pol, params, obs):
    """F = mean_k J_k^T blockdiag_i(diag p - p p^T) J_k with finite-difference J_k."""
    P = pol.n_params
    F = np.zeros((P, P))
    probs = np.asarray(pol.probs(params, obs))
    for k in range(obs.shape[0]):
        Jk = fd_jac(lambda p: pol.forward(p, obs[k:k + 1]), params)
        Jk = Jk.reshape(pol.n_agents, pol.max_actions, P)
        for i, n in enumerate(pol.action_sizes):
            J = Jk[i, :n]
            F += J.T @ _softmax_hessian(probs[k, i, :n]) @ J
    return F / obs.shape[0]


def _score_fisher(pol, params, obs):
    """F = mean_k E_{a ~ pi(.|o_k)}[g g^T], g = grad log pi(a|o_k), all joint actions."""
    P = pol.n_params
    F = np.zeros((P, P))
    probs = np.asarray(pol.probs(params, obs))
    for k in range(obs.shape[0]):
        for a in itertools.product(*(range(n) for n in pol.action_sizes)):
            pa = np.prod([probs[k, i, ai] for i, ai in enumerate(a)])
            g = pol.log_prob_grad(params, obs[k:k + 1], np.array([a]), np.ones(1))
            F += pa * np.outer(g, g)
    return F / obs.shape[0]


@pytest.mark.parametrize("name", ["tabular", "mlp-tanh", "linear"])
def test_fvp_matches_explicit_fisher(name):
    pol = POLICIES[name]
    params, obs, _, rng = _data(pol, 4, 6)
    F = _explicit_fisher(pol, params, obs)
    F2 = _score_fisher(pol, params, obs)
    assert_rel(F, F2)                                  # the two definitions agree
    for _ in range(2):
        v = rng.standard_normal(pol.n_params)
        assert_rel(pol.fisher_vector_product(params, obs, v), F @ v)
        np.testing.assert_allclose(pol.fisher_vector_product(params, obs, v, damping=0.1),
                                   pol.fisher_vector_product(params, obs, v) + 0.1 * v,
                                   rtol=1e-13, atol=1e-15)


@pytest.mark.parametrize("name", POLICIES)
@pytest.mark.parametrize("divergence", nets.DIVERGENCES)
def test_fvp_is_the_hessian_of_the_divergence(name, divergence):
    pol = POLICIES[name]
    params, obs, _, rng = _data(pol, 6, 7)
    old = pol.forward(params, obs)
    # the divergence's gradient, checked against finite differences away from old
    moved = params + 0.3 * rng.standard_normal(pol.n_params)
    assert_rel(pol.kl_grad(moved, obs, old, divergence=divergence),
               fd_grad(lambda p: pol.kl(p, obs, old, divergence=divergence), moved))
    assert float(pol.kl(params, obs, old, divergence=divergence)) == pytest.approx(0, abs=1e-14)
    assert float(pol.kl(moved, obs, old, divergence=divergence)) > 0
    # its Hessian at old along v, by central differences of the gradient
    v = rng.standard_normal(pol.n_params)
    hvp = (pol.kl_grad(params + EPS * v, obs, old, divergence=divergence)
           - pol.kl_grad(params - EPS * v, obs, old, divergence=divergence)) / (2 * EPS)
    assert_rel(pol.fisher_vector_product(params, obs, v, divergence=divergence), hvp)


def test_harl_kl_approx_curvature_is_not_the_fisher():
    # documented discrepancy: HARL sums r - 1 - log r over the actions unweighted
    pol = POLICIES["mlp-tanh"]
    params, obs, _, rng = _data(pol, 6, 8)
    v = rng.standard_normal(pol.n_params)
    a = pol.fisher_vector_product(params, obs, v, divergence="kl_approx")
    f = pol.fisher_vector_product(params, obs, v)
    assert np.max(np.abs(a - f)) > 1e-3 * np.max(np.abs(f))
    # and one sample's curvature in the logits is sum_a (e_a - p)(e_a - p)^T
    tab = nets.TabularPolicy(1, 3)
    theta = np.array([0.2, -0.4, 1.0])
    p = np.exp(theta) / np.exp(theta).sum()
    H = sum(np.outer(np.eye(3)[a] - p, np.eye(3)[a] - p) for a in range(3))
    M = np.stack([tab.fisher_vector_product(theta, np.array([0]), e, divergence="kl_approx")
                  for e in np.eye(3)])
    np.testing.assert_allclose(M, H, atol=1e-14)
    M = np.stack([tab.fisher_vector_product(theta, np.array([0]), e) for e in np.eye(3)])
    np.testing.assert_allclose(M, _softmax_hessian(p), atol=1e-14)


# -- initialisation --------------------------------------------------------------------
@pytest.mark.parametrize("shape", [(5, 3), (3, 5), (4, 4)])
def test_orthogonal_gram_is_gain_squared(shape):
    W = nets.orthogonal(np.random.default_rng(0), shape, gain=2.0)
    gram = W.T @ W if shape[0] >= shape[1] else W @ W.T
    np.testing.assert_allclose(gram, 4.0 * np.eye(min(shape)), atol=1e-12)
    np.testing.assert_array_equal(W, nets.orthogonal(0, shape, gain=2.0))   # seeded


def test_mlp_init_is_harl_orthogonal():
    pol = nets.MLPPolicy(3, (2, 4), hidden=(8, 5), activation="relu")
    params = pol.init(np.random.default_rng(1))
    layers = pol.unflatten(params)
    gains = [np.sqrt(2.0)] * 2 + [0.01] * 2
    for (W, b), gain in zip(layers["trunk"] + layers["heads"], gains):
        assert np.all(b == 0)
        gram = W @ W.T if W.shape[0] <= W.shape[1] else W.T @ W
        np.testing.assert_allclose(gram, gain ** 2 * np.eye(min(W.shape)), atol=1e-12)
    assert [W.shape for W, _ in layers["trunk"] + layers["heads"]] == \
        [(3, 8), (8, 5), (5, 2), (5, 4)]
    assert nets.activation_gain("tanh") == pytest.approx(5 / 3)
    np.testing.assert_array_equal(params, pol.init(1))
    vn = nets.ValueNetwork(3, hidden=(4,))
    W, _ = vn.unflatten(vn.init(0, out_gain=1.0))["heads"][0]
    assert np.sum(W ** 2) == pytest.approx(1.0)


# -- optimisers ------------------------------------------------------------------------
def test_adam_matches_hand_computed_trace():
    opt = optim.Adam(lr=0.1)
    assert opt.betas == (0.9, 0.999) and opt.eps == 1e-8
    p = np.array([1.0, -2.0])
    st = opt.init(p)
    g1, g2 = np.array([0.5, -1.0]), np.array([1.0, 2.0])
    p, st = opt.step(p, g1, st)
    # t = 1: m = 0.1 g1, v = 0.001 g1^2, m / (1 - 0.9) = g1, sqrt(v / 0.001) = |g1|
    np.testing.assert_allclose(p, [1.0 - 0.1 * 0.5 / (0.5 + 1e-8),
                                   -2.0 + 0.1 * 1.0 / (1.0 + 1e-8)], rtol=1e-15)
    p1 = p.copy()
    p, st = opt.step(p, g2, st)
    m = 0.9 * 0.1 * g1 + 0.1 * g2                        # [0.145, 0.11]
    v = 0.999 * 0.001 * g1 ** 2 + 0.001 * g2 ** 2        # [0.00124975, 0.004999]
    np.testing.assert_allclose(m, [0.145, 0.11], rtol=1e-14)
    np.testing.assert_allclose(v, [0.00124975, 0.004999], rtol=1e-14)
    want = p1 - 0.1 / (1 - 0.81) * m / (np.sqrt(v) / np.sqrt(1 - 0.999 ** 2) + 1e-8)
    np.testing.assert_allclose(p, want, rtol=1e-15)
    np.testing.assert_allclose(st.m, m, rtol=1e-15)
    assert st.t == 2
    # maximize ascends by the same amount
    q, _ = optim.Adam(lr=0.1, maximize=True).step(np.array([1.0, -2.0]), g1,
                                                   optim.AdamState(np.zeros(2), np.zeros(2), 0))
    np.testing.assert_allclose(q - np.array([1.0, -2.0]), -(p1 - np.array([1.0, -2.0])))


def _spd(n, seed):
    rng = np.random.default_rng(seed)
    Q, _ = np.linalg.qr(rng.standard_normal((n, n)))
    return Q @ np.diag(np.linspace(0.5, 5.0, n)) @ Q.T, rng.standard_normal(n)


def test_conjugate_gradient_solves_spd_systems():
    A, b = _spd(12, 0)
    res = optim.conjugate_gradient(lambda v: A @ v, b, iters=50, damping=0.0)
    x, it, conv, r = res
    assert conv and r < 1e-10 and it <= 50
    np.testing.assert_allclose(np.sum((A @ x - b) ** 2), r, rtol=1e-3, atol=1e-13)
    np.testing.assert_allclose(x, np.linalg.solve(A, b), atol=1e-5)
    # HARL's defaults: damping 0.1 inside, 10 iterations (not enough here)
    res = optim.conjugate_gradient(lambda v: A @ v, b)
    assert res.iterations == 10 and not res.converged
    res = optim.conjugate_gradient(lambda v: A @ v, b, iters=100)
    np.testing.assert_allclose(res.x, np.linalg.solve(A + 0.1 * np.eye(12), b), atol=1e-5)
    assert optim.conjugate_gradient(lambda v: A @ v, np.zeros(12)).iterations == 0


def test_cg_on_the_fisher_and_the_trust_region_step():
    pol = POLICIES["mlp-tanh"]
    params, obs, actions, rng = _data(pol, 8, 9)
    g = pol.log_prob_grad(params, obs, actions, rng.standard_normal(8) / 8)
    fvp = lambda v: pol.fisher_vector_product(params, obs, v)   # noqa: E731
    res = optim.conjugate_gradient(fvp, g, iters=200, damping=0.1, residual_tol=1e-20)
    assert_rel(fvp(res.x) + 0.1 * res.x, g, 1e-8)
    step = optim.trust_region_step(fvp, g, max_kl=0.01, cg_iters=200, residual_tol=1e-20)
    s = step.full_step
    assert 0.5 * s @ (fvp(s) + 0.1 * s) == pytest.approx(0.01, rel=1e-10)
    assert step.expected_improve == pytest.approx(g @ s) and step.expected_improve > 0


def test_line_search_accepts_and_rejects():
    x0, s = np.zeros(2), np.array([1.0, 0.0])
    lin = lambda x: 2.0 * x[0]                               # noqa: E731
    small_kl = lambda x: 0.0                                 # noqa: E731
    res = optim.backtracking_line_search(lin, small_kl, x0, s, 2.0)
    assert res.accepted and res.fraction == 1.0 and res.iterations == 1
    np.testing.assert_array_equal(res.params, s)
    # KL 4 delta |x|^2: accepted at the first 0.8^k < 1/2, k = 4
    quad_kl = lambda x: 0.04 * float(x @ x)                  # noqa: E731
    res = optim.backtracking_line_search(lin, quad_kl, x0, s, 2.0, max_kl=0.01)
    assert res.accepted and res.iterations == 5 and res.fraction == pytest.approx(0.8 ** 4)
    assert res.kl < 0.01
    # overshooting concave objective t - t^2: ratio 1 - f must exceed accept_ratio
    concave = lambda x: x[0] - x[0] ** 2                     # noqa: E731
    res = optim.backtracking_line_search(concave, small_kl, x0, s, 1.0, accept_ratio=0.3)
    assert res.accepted and res.fraction == pytest.approx(0.64) and res.iterations == 3
    res = optim.backtracking_line_search(concave, small_kl, x0, s, 1.0)     # HARL's 0.5
    assert res.fraction == pytest.approx(0.8 ** 4)
    # a direction that never improves is rejected after ls_step tries; the start returned
    res = optim.backtracking_line_search(lambda x: -x[0], small_kl, x0, s, 1.0)
    assert not res.accepted and res.iterations == 10 and res.fraction == 0.0
    assert res.params is x0


def _valuenorm_reference(batches, beta, per_element=False):
    """Debiased exponential averages: sum_k w_k m_k / sum_k w_k, w_k = (1 - b_k) prod_{j>k} b_j."""
    bs = [beta ** (len(x) if per_element else 1) for x in batches]
    w = [(1 - bs[k]) * np.prod(bs[k + 1:]) for k in range(len(batches))]
    mean = sum(wk * x.mean(0) for wk, x in zip(w, batches)) / sum(w)
    sq = sum(wk * (x ** 2).mean(0) for wk, x in zip(w, batches)) / sum(w)
    return mean, np.maximum(sq - mean ** 2, 1e-2)


@pytest.mark.parametrize("beta, per_element", [(0.99999, False), (0.9, False), (0.99, True)])
def test_valuenorm_matches_running_statistics(beta, per_element):
    rng = np.random.default_rng(10)
    vn = optim.ValueNorm(2, beta=beta, per_element_update=per_element)
    batches = [rng.normal(loc=[1.0, -3.0], scale=[2.0, 0.5], size=(n, 2)) + t
               for t, n in enumerate([5, 9, 3, 7])]
    for x in batches:
        vn.update(x)
    mean, var = vn.running_mean_var()
    rm, rv = _valuenorm_reference(batches, beta, per_element)
    np.testing.assert_allclose(mean, rm, rtol=1e-9)
    np.testing.assert_allclose(var, rv, rtol=1e-8)
    x = rng.standard_normal((4, 2))
    np.testing.assert_allclose(vn.normalize(x), (x - rm) / np.sqrt(rv), rtol=1e-8)
    np.testing.assert_allclose(vn.denormalize(vn.normalize(x)), x, rtol=1e-12)
    # a constant stream: variance clamped at 1e-2, as HARL
    c = optim.ValueNorm(())
    c.update(np.full(6, 3.0))
    assert float(c.running_mean_var()[1]) == pytest.approx(1e-2)
    assert float(c.running_mean_var()[0]) == pytest.approx(3.0)


# -- NumPy vs array_api_strict ---------------------------------------------------------
def _s(x):
    return xps.asarray(x)


@pytest.mark.parametrize("name", POLICIES)
def test_numpy_and_array_api_strict_agree(name):
    pol = POLICIES[name]
    params, obs, actions, rng = _data(pol, 5, 11)
    w = rng.standard_normal((5, pol.n_agents))
    v = rng.standard_normal(pol.n_params)
    old = pol.forward(params + 0.1 * v, obs)
    P, O, A, W, V, OLD = (_s(x) for x in (params, obs, actions, w, v, old))
    pairs = [(pol.forward(params, obs), pol.forward(P, O)),
             (pol.log_prob(params, obs, actions), pol.log_prob(P, O, A)),
             (pol.log_prob_grad(params, obs, actions, w), pol.log_prob_grad(P, O, A, W)),
             (pol.jvp(params, obs, v), pol.jvp(P, O, V)),
             (pol.entropy_grad(params, obs, w), pol.entropy_grad(P, O, W))]
    for d in nets.DIVERGENCES:
        pairs += [(pol.fisher_vector_product(params, obs, v, divergence=d, damping=0.1),
                   pol.fisher_vector_product(P, O, V, divergence=d, damping=0.1)),
                  (pol.kl(params, obs, old, divergence=d), pol.kl(P, O, OLD, divergence=d)),
                  (pol.kl_grad(params, obs, old, divergence=d),
                   pol.kl_grad(P, O, OLD, divergence=d))]
    for a, b in pairs:
        assert nets.namespace(b) is xps
        np.testing.assert_allclose(np.asarray(b), a, rtol=1e-12, atol=1e-14)
    init = pol.init(0, xp=xps) if name != "tabular" else pol.init(0, scale=1.0, xp=xps)
    assert nets.namespace(init) is xps
    np.testing.assert_array_equal(np.asarray(init), pol.init(0) if name != "tabular"
                                  else pol.init(0, scale=1.0))


def test_value_network_and_optimisers_on_array_api_strict():
    vn = nets.ValueNetwork(3, hidden=(4,), softplus=True)
    rng = np.random.default_rng(12)
    params, obs, y = vn.init(0), rng.standard_normal((6, 3)), rng.standard_normal((6, 1))
    loss, grad = vn.loss_grad(params, obs, y)
    sloss, sgrad = vn.loss_grad(_s(params), _s(obs), _s(y))
    assert nets.namespace(sgrad) is xps
    np.testing.assert_allclose(float(sloss), float(loss), rtol=1e-13)
    np.testing.assert_allclose(np.asarray(sgrad), grad, rtol=1e-12, atol=1e-15)
    # Adam
    opt = optim.Adam(lr=0.01)
    p, st = opt.step(params, grad, opt.init(params))
    sp, sst = opt.step(_s(params), sgrad, opt.init(_s(params)))
    np.testing.assert_allclose(np.asarray(sp), p, rtol=1e-13)
    # CG and the line search
    A, b = _spd(6, 1)
    x = optim.conjugate_gradient(lambda v: A @ v, b).x
    SA = _s(A)
    sx = optim.conjugate_gradient(lambda v: SA @ v, _s(b)).x
    np.testing.assert_allclose(np.asarray(sx), x, rtol=1e-12)
    res = optim.backtracking_line_search(lambda z: float(xps.sum(z)), lambda z: 0.0,
                                         _s(np.zeros(3)), _s(np.ones(3)), 3.0)
    assert res.accepted and nets.namespace(res.params) is xps
    # ValueNorm
    vals = rng.standard_normal((10, 2))
    a, s = optim.ValueNorm(2, beta=0.9), optim.ValueNorm(2, beta=0.9, xp=xps)
    a.update(vals)
    s.update(_s(vals))
    np.testing.assert_allclose(np.asarray(s.normalize(_s(vals))), a.normalize(vals),
                               rtol=1e-13)
    # one_hot
    oh = nets.one_hot(_s(np.array([2, 0])), 3)
    np.testing.assert_array_equal(np.asarray(oh), [[0, 0, 1], [1, 0, 0]])


# -- errors name the argument ----------------------------------------------------------
def test_errors_name_the_argument():
    pol = POLICIES["mlp-tanh"]
    params, obs, actions, _ = _data(pol, 4, 0)
    tab = POLICIES["tabular"]
    tp, tobs, tact, _ = _data(tab, 4, 0)
    cases = [
        (ValueError, "params", lambda: pol.forward(params[:-1], obs)),
        (ValueError, "obs", lambda: pol.forward(params, obs[:, :2])),
        (TypeError, "obs", lambda: tab.forward(tp, tobs.astype(float))),
        (ValueError, "obs", lambda: tab.forward(tp, tobs + 4)),
        (ValueError, "actions", lambda: pol.log_prob(params, obs, actions[:, :1])),
        (ValueError, "actions", lambda: pol.log_prob(params, obs, actions + 3)),
        (TypeError, "actions", lambda: pol.log_prob(params, obs, actions * 1.0)),
        (ValueError, "weights", lambda: pol.log_prob_grad(params, obs, actions, np.ones(3))),
        (ValueError, "divergence", lambda: pol.kl(params, obs, obs, divergence="js")),
        (ValueError, "old_logits", lambda: pol.kl(params, obs, obs)),
        (ValueError, "damping", lambda: pol.fisher_vector_product(params, obs, params,
                                                                  damping=-1.0)),
        (ValueError, "v", lambda: pol.fisher_vector_product(params, obs, params[:3])),
        (ValueError, "cotangent", lambda: pol.vjp(params, obs, np.ones(3))),
        (ValueError, "obs", lambda: pol.forward(params, obs[:0])),
        (ValueError, "obs", lambda: tab.forward(tp, tobs[:0])),
        (ValueError, "obs", lambda: pol.forward(params, obs * np.nan)),
        (ValueError, "params", lambda: pol.forward(params * np.inf, obs)),
        (ValueError, "grad", lambda: optim.Adam().step(params, params * np.nan,
                                                        optim.Adam().init(params))),
        (ValueError, "obs_dim", lambda: nets.MLPPolicy(0, 2)),
        (ValueError, "action_sizes", lambda: nets.MLPPolicy(2, (2, 0))),
        (ValueError, "activation", lambda: nets.MLPPolicy(2, 2, activation="gelu")),
        (ValueError, "hidden", lambda: nets.ValueNetwork(2, hidden=(3, 0))),
        (TypeError, "softplus", lambda: nets.ValueNetwork(2, softplus=1)),
        (ValueError, "targets", lambda: nets.ValueNetwork(2).loss(
            nets.ValueNetwork(2).init(0), np.ones((3, 2)), np.ones(3))),
        (ValueError, "shape", lambda: nets.orthogonal(0, (3,))),
        (ValueError, "lr", lambda: optim.Adam(lr=0.0)),
        (ValueError, "betas", lambda: optim.Adam(betas=(0.9, 1.0))),
        (ValueError, "grad", lambda: optim.Adam().step(params, params[:2],
                                                        optim.Adam().init(params))),
        (ValueError, "iters", lambda: optim.conjugate_gradient(lambda v: v, params, iters=0)),
        (TypeError, "Avp", lambda: optim.conjugate_gradient(None, params)),
        (ValueError, "max_kl", lambda: optim.trust_region_step(lambda v: v, params,
                                                                max_kl=0.0)),
        (ValueError, "full_step", lambda: optim.backtracking_line_search(
            sum, sum, params, params[:2], 1.0)),
        (ValueError, "backtrack_coeff", lambda: optim.backtracking_line_search(
            sum, sum, params, params, 1.0, backtrack_coeff=1.5)),
        (ValueError, "x", lambda: optim.ValueNorm(2).update(np.ones((3, 3)))),
        (ValueError, "beta", lambda: optim.ValueNorm(2, beta=1.5)),
    ]
    for exc, name, call in cases:
        with pytest.raises(exc, match=name):
            call()


# -- the README tour block (issue 15, item 4) -------------------------------------------
TOUR = r'''
import numpy as np
import fairmg as fm
from fairmg.sampled.networks import activation_gain, one_hot, orthogonal
from fairmg.sampled.optim import (backtracking_line_search, conjugate_gradient,
                                  trust_region_step)

g = fm.games.coordination(n_agents=2)
N = g.n_agents
tab = fm.sampled.TabularPolicy(g.n_states, g.action_sizes)   # theta[i, s, a_i] as one vector
theta = tab.init()                                            # zeros: the uniform policy
batch = fm.sampled.rollouts(g, fm.ProductPolicy.from_logits(g, tab.unflatten(theta)),
                            n_envs=512, horizon=30, seed=0)
states, actions = batch.states[:-1].reshape(-1), batch.actions.reshape(-1, N)
returns = fm.sampled.discounted_returns(batch.rewards, g.gamma).reshape(-1, N)
adv = returns - returns.mean(axis=0)
B = len(states)

# one HATRPO-style step: grad of the surrogate, exact Fisher (JVP + VJP), CG, line search
grad = tab.log_prob_grad(theta, states, actions, adv / B)
fvp = tab.fisher_operator(theta, states)                # divergence="kl_approx": HARL's
x = conjugate_gradient(fvp, grad)                       # 10 iterations, damping 0.1
step = trust_region_step(fvp, grad, max_kl=0.01)        # 0.5 s'(F + 0.1 I)s = 0.01
old_logits, old_logp = tab.forward(theta, states), tab.log_prob(theta, states, actions)
surrogate = lambda p: np.mean(np.sum(np.exp(tab.log_prob(p, states, actions) - old_logp)
                                     * adv, axis=1))
ls = backtracking_line_search(surrogate, lambda p: tab.kl(p, states, old_logits), theta,
                              step.full_step, step.expected_improve, max_kl=0.01)
theta = ls.params
assert ls.accepted and float(tab.kl(theta, states, old_logits)) < 0.01

# an MLP policy (orthogonal init, one head per agent) trained by Adam, and a critic
obs = one_hot(states, g.n_states)
mlp = fm.sampled.MLPPolicy(g.n_states, g.action_sizes, hidden=(16,), activation="tanh")
w = mlp.init(0)
opt = fm.sampled.Adam(lr=3e-4, maximize=True)
st = opt.init(w)
w, st = opt.step(w, mlp.log_prob_grad(w, obs, actions, adv / B), st)
assert mlp.forward(w, obs).shape == (B, N, 2) and x.x.shape == theta.shape

critic = fm.sampled.ValueNetwork(g.n_states, hidden=(16,), n_outputs=N)  # softplus=True: V > 0
c = critic.init(1)
copt = fm.sampled.Adam(lr=1e-3)
cst = copt.init(c)
vnorm = fm.sampled.ValueNorm(N)                          # HARL: beta 0.99999, debiased
vnorm.update(returns)
loss, cgrad = critic.loss_grad(c, obs, vnorm.normalize(returns))
c, cst = copt.step(c, cgrad, cst)
values = vnorm.denormalize(critic.forward(c, obs))       # (B, N), in return units
W = orthogonal(0, (4, 3), gain=activation_gain("relu"))
assert np.allclose(W.T @ W, 2.0 * np.eye(3))
'''


def test_tour_block_runs():
    exec(compile(TOUR, "<tour>", "exec"), {})


def test_fisher_operator_is_the_fvp():
    pol = POLICIES["mlp-relu"]
    params, obs, _, rng = _data(pol, 6, 13)
    for d in nets.DIVERGENCES:
        op = pol.fisher_operator(params, obs, divergence=d, damping=0.1)
        for _ in range(2):
            v = rng.standard_normal(pol.n_params)
            np.testing.assert_array_equal(op(v), pol.fisher_vector_product(
                params, obs, v, divergence=d, damping=0.1))
