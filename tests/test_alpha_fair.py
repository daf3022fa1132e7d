"""fairmg.alpha_fair (000 Secs. 2.4, 3.1-3.2) against brute force over joint actions, finite
differences and fairmg.testing references."""
import numpy as np
import pytest
from scipy.optimize import minimize

import fairmg as fm
from fairmg import alpha_fair as af
from fairmg.testing import reference as ref

NU = 0.1


def _game(seed=1, S=3, sizes=(2, 3), gamma=0.8):
    return fm.games.random_game(S, sizes, gamma, rng=seed)


def _pol(g, seed):
    rng = np.random.default_rng(seed)
    return fm.ProductPolicy.from_logits(g, rng.normal(size=(g.n_agents, g.n_states,
                                                            g.max_actions)))


def _brute(g, pol):
    """(V, Q, joint probs) by the loop reference, and the per-context visitation."""
    d = g.to_dense()
    V, Q, _, _ = ref.evaluate(d.transition, d.rewards, g.gamma, g.initial, pol.probs,
                              g.action_sizes)
    pij = ref.joint_policy(pol.probs, g.action_sizes)
    P_pi = np.einsum("sa,sat->st", pij, d.transition)
    inv = np.linalg.inv(np.eye(g.n_states) - g.gamma * P_pi)
    D = g.initial[:, None] * inv                     # D[c, s] = mu(c) d_c(s)
    return V, Q, pij, D


def _U(x, a):
    return np.log(x) if a == 1 else (x ** (1 - a) - 1) / (1 - a)


@pytest.mark.parametrize("alpha", [0.0, 0.3, 1.0, 1.5, 4.0])
def test_fair_objective_brute(alpha):
    g = _game()
    pol = _pol(g, 0)
    V, *_ = _brute(g, pol)
    want = g.initial @ _U(NU + V, alpha).sum(axis=0)
    assert af.fair_objective(g, pol, alpha, NU) == pytest.approx(want, rel=1e-10)
    per = af.fair_objective(g, pol, alpha, NU, per_initial=True)
    assert per.shape == (g.n_states,)


def test_fair_objective_limits_and_continuity():
    g = _game(2)
    pol = _pol(g, 3)
    V = fm.evaluate(g, pol).values
    x = NU + V
    J = lambda a, **kw: af.fair_objective(g, pol, a, NU, **kw)  # noqa: E731
    # continuous at alpha = 1 (the printed U_alpha is not)
    assert J(1 - 1e-9) == pytest.approx(J(1.0), abs=1e-7)
    assert J(1 + 1e-9) == pytest.approx(J(1.0), abs=1e-7)
    assert J(1e-12) == pytest.approx(J(0.0), abs=1e-9)
    assert J(0.0) == pytest.approx(g.initial @ (x.sum(0) - g.n_agents))
    assert J(np.inf) == pytest.approx(g.initial @ (g.n_agents * x.min(0)))
    # power-mean form: continuous on [0, inf], min at infinity, geometric mean at 1
    assert J(0.0, form="mean") == pytest.approx(g.initial @ x.sum(0))
    assert J(1.0, form="mean") == pytest.approx(
        g.initial @ (g.n_agents * np.exp(np.log(x).mean(0))))
    assert J(1e7, form="mean") == pytest.approx(J(np.inf), rel=1e-5)
    assert J(1 + 1e-9, form="mean") == pytest.approx(J(1.0, form="mean"), rel=1e-7)
    with pytest.raises(ValueError):
        af.fair_objective(g, pol, -0.1, NU)
    with pytest.raises(ValueError):
        af.fair_objective(g, pol, 1.0, 0.0)


def test_visitation_and_fair_advantage_brute():
    g = _game(4, S=3, sizes=(2, 2))
    pol = _pol(g, 1)
    alpha = 1.5
    V, Q, pij, D = _brute(g, pol)
    np.testing.assert_allclose(af.contextual_visitation(g, pol), D, atol=1e-12)
    np.testing.assert_allclose(D.sum(0), fm.evaluate(g, pol).visitation, atol=1e-12)
    w = (NU + V) ** -alpha                                     # (N, C)
    A = Q - V[:, :, None]
    want = np.einsum("jc,jsa->csa", w, A)
    np.testing.assert_allclose(af.fair_advantage(g, pol, alpha, NU), want, atol=1e-12)
    omega = np.einsum("jc,cs->js", w, D)
    np.testing.assert_allclose(af.fair_visitation(g, pol, alpha, NU), omega, atol=1e-12)
    assert af.max_abs_advantage(g, pol) == pytest.approx(np.abs(A).max())


def _seq_brute(g, pol, other, order, m, alpha):
    """L^{I_m} of eq. (10) from eqs. (6)-(8) by loops over joint actions."""
    V, Q, _, D = _brute(g, pol)
    w = (NU + V) ** -alpha
    I_m, I_prev = list(order[:m]), list(order[: m - 1])
    total = 0.0
    Qm = ref.marginal(Q, pol.probs, g.action_sizes, I_m)          # (N, S, A_I_m...)
    Qp = ref.marginal(Q, pol.probs, g.action_sizes, I_prev)
    for s in range(g.n_states):
        for idx in np.ndindex(*[g.action_sizes[k] for k in I_m]):
            prob = np.prod([other.probs[k, s, idx[t]] for t, k in enumerate(I_m)])
            adv = Qm[(slice(None), s) + idx] - Qp[(slice(None), s) + idx[:-1]]  # (N,)
            total += prob * np.sum(D[:, s][None, :] * w * adv[:, None])
    return total


def test_sequential_surrogate_brute_and_lemma_3_2():
    g = _game(5, S=2, sizes=(2, 3, 2))
    pol, other = _pol(g, 2), _pol(g, 3)
    alpha = 0.7
    order = (2, 0, 1)
    parts = [af.sequential_surrogate(g, pol, other, order, m, alpha, NU) for m in (1, 2, 3)]
    for m in (1, 2, 3):
        assert parts[m - 1] == pytest.approx(_seq_brute(g, pol, other, order, m, alpha),
                                             rel=1e-9, abs=1e-12)
    # Lemma 3.2 / 3.3's decomposition: the summands add up to L (Lemma 3.1)
    L = af.surrogate(g, pol, other, alpha, NU)
    assert sum(parts) == pytest.approx(L, rel=1e-10, abs=1e-12)
    # L by brute force over joint actions and contexts
    AF = af.fair_advantage(g, pol, alpha, NU)
    _, _, _, D = _brute(g, pol)
    pij_new = ref.joint_policy(other.probs, g.action_sizes)
    assert L == pytest.approx(np.einsum("cs,sa,csa->", D, pij_new, AF), rel=1e-10)
    # eq. (11): zero when agent i_m keeps its policy
    keep_i = other.mix(pol, (order[1],))
    assert af.sequential_surrogate(g, pol, keep_i, order, 2, alpha, NU) == pytest.approx(
        0.0, abs=1e-12)


def test_multi_agent_fair_advantage_decomposes():
    """Lemma 3.2, eq. (9): A_F^{I_m}(s, a^{I_m}) = sum_l A_F^{i_l}(s, a^{I_{l-1}}, a^{i_l})."""
    g = _game(6, S=2, sizes=(2, 2, 3))
    pol = _pol(g, 4)
    order = (1, 2, 0)
    full = af.multi_agent_fair_advantage(g, pol, 1.0, NU, order)        # (C, S, a1, a2, a0)
    parts = sum(
        af.multi_agent_fair_advantage(g, pol, 1.0, NU, (order[l],), order[:l])[
            (Ellipsis,) + (None,) * (2 - l)]
        for l in range(3))
    np.testing.assert_allclose(full, np.broadcast_to(parts, full.shape), atol=1e-12)


def test_lemma_3_4_gateaux_derivative():
    """Finite differences of J along the per-agent mixture pi_eta of Def. 3.4 equal
    sum_i L(pi'^i, pi^-i) -- which is L(pi') of Lemma 3.4 for one agent only (erratum)."""
    for sizes in ((3,), (2, 3)):
        g = _game(7, S=3, sizes=sizes)
        pol, other = _pol(g, 5), _pol(g, 6)
        alpha, eta = 1.0, 1e-5
        J = lambda p: af.fair_objective(g, p, alpha, NU)  # noqa: E731
        step = other.probs - pol.probs
        fd = (J(fm.ProductPolicy(g, pol.probs + eta * step))
              - J(fm.ProductPolicy(g, pol.probs - eta * step))) / (2 * eta)
        per_agent = sum(af.surrogate(g, pol, pol.mix(other, (i,)), alpha, NU)
                        for i in range(g.n_agents))
        assert fd == pytest.approx(per_agent, rel=1e-6)
        L = af.surrogate(g, pol, other, alpha, NU)
        if len(sizes) == 1:
            assert fd == pytest.approx(L, rel=1e-6)
        else:
            assert abs(fd - L) > 1e-3 * abs(L)


def test_penalty_constant_and_kl():
    g = _game(8)
    pol, other = _pol(g, 1), _pol(g, 2)
    V, Q, _, _ = _brute(g, pol)
    A = np.abs(Q - V[:, :, None]).max()
    n, gam, a = g.n_agents, g.gamma, 1.5
    want = 4 * n * a * NU ** (-1 - a) * A ** 2 / (1 - gam) ** 2 + 4 * n * A * gam / (
        NU ** a * (1 - gam) ** 2)
    assert af.penalty_constant(g, pol, a, NU) == pytest.approx(want)
    P, R = pol.probs, other.probs
    k = g.action_sizes
    kl = max(sum(np.sum(P[i, s, :k[i]] * np.log(P[i, s, :k[i]] / R[i, s, :k[i]]))
                 for i in range(n)) for s in range(g.n_states))
    assert af.kl_max(pol, other) == pytest.approx(kl)
    det = fm.ProductPolicy.deterministic(g, np.zeros((n, g.n_states), int))
    assert af.kl_max(pol, det) == np.inf


def _penalized(W, p, C):
    def F(z):
        S, n = W.shape
        z = z.reshape(S, n)
        q = np.exp(z - z.max(1, keepdims=True))
        q /= q.sum(1, keepdims=True)
        with np.errstate(all="ignore"):
            kl = np.where(p > 0, p * np.log(p / q), 0).sum(1).max()
        return -(np.sum((q - p) * W) - C * kl)
    return F


@pytest.mark.parametrize("seed", range(4))
def test_trust_region_argmax_certified(seed):
    rng = np.random.default_rng(seed)
    S, n = 3, 3
    W = rng.normal(size=(S, n))
    p = rng.dirichlet(np.ones(n), size=S)
    if seed == 3:                      # zero-probability actions and a flat state
        p[0] = [1.0, 0.0, 0.0]
        W[1] = 0.0
    C = float(rng.uniform(0.2, 3))
    sol = af.trust_region_argmax(W, p, C)
    assert sol.converged and sol.gap <= 1e-8
    F = _penalized(W, p, C)
    assert -F(np.log(np.maximum(sol.q, 1e-300)).ravel()) == pytest.approx(sol.value, abs=1e-8)
    others = [-minimize(F, rng.normal(size=S * n), method="Nelder-Mead",
                        options=dict(maxiter=6000, xatol=1e-10, fatol=1e-13)).fun
              for _ in range(2)]
    assert max(others) <= sol.value + 1e-9
    np.testing.assert_allclose(sol.q.sum(1), 1.0)
    assert sol.value >= 0


def test_trust_region_argmax_one_state_closed_form():
    """One state, two actions: the argmax solves q / p - ... by a scalar search."""
    W = np.array([[1.0, 0.0]])
    p = np.array([[0.5, 0.5]])
    C = 2.0
    sol = af.trust_region_argmax(W, p, C)
    xs = np.linspace(1e-6, 1 - 1e-6, 200001)
    f = xs - 0.5 - C * (0.5 * np.log(0.5 / xs) + 0.5 * np.log(0.5 / (1 - xs)))
    assert sol.value == pytest.approx(f.max(), abs=1e-9)
    assert sol.q[0, 0] == pytest.approx(xs[f.argmax()], abs=1e-5)


def test_factored_game_matches_dense():
    g = fm.games.coordination(n_agents=2, representation="factored")
    d = g.to_dense()
    rng = np.random.default_rng(0)
    th = rng.normal(size=(2, g.n_states, 2))
    pf, pd = fm.ProductPolicy.from_logits(g, th), fm.ProductPolicy.from_logits(d, th)
    of, od = fm.ProductPolicy.from_logits(g, -th), fm.ProductPolicy.from_logits(d, -th)
    assert af.fair_objective(g, pf, 1.0, NU) == pytest.approx(af.fair_objective(d, pd, 1.0, NU))
    assert af.surrogate(g, pf, of, 0.5, NU) == pytest.approx(af.surrogate(d, pd, od, 0.5, NU))
    np.testing.assert_allclose(af.sequential_table(g, pf, of, (1, 0), 2, 0.5, NU),
                               af.sequential_table(d, pd, od, (1, 0), 2, 0.5, NU), atol=1e-10)


# ----------------------------------------------------------------- claims of 000 (pinned)
from proofs_check import Case, check_claim, get_claim  # noqa: E402
from proofs_check.claims import alpha_fair as claims  # noqa: E402


def test_lemma_3_1_upper_is_refuted_by_the_two_state_chain():
    """L_pi(pi') uses d_pi; J(pi') - J(pi) = E_{d_pi'}[A]: pi' visits the improved state
    more, so the difference exceeds L (App. B.2 writes E_{tau~pi'} and calls it L)."""
    v = get_claim("alpha_fair/lemma-3.1-upper")(claims._CHAIN)
    assert not v.holds
    assert v.lhs == pytest.approx(2.822231834, rel=1e-8)       # L
    assert v.rhs == pytest.approx(5.997242647, rel=1e-8)       # J(pi') - J(pi)
    # the lower inequality holds on the same instance
    assert get_claim("alpha_fair/lemma-3.1-lower")(claims._CHAIN).holds


def test_lemma_3_4_is_refuted_for_two_agents_and_holds_for_one():
    v = get_claim("alpha_fair/lemma-3.4")(claims._TWO_AGENT_FD)
    assert not v.holds
    assert v.lhs == pytest.approx(0.4, abs=1e-8) and v.rhs == pytest.approx(0.56)
    one = claims._CHAIN
    assert get_claim("alpha_fair/lemma-3.4")(Case(game=one.game, policy=one.policy,
                                                  other=one.other, alpha=1.0,
                                                  nu=0.5)).holds


def test_def_3_5_is_refuted_by_a_stuck_deterministic_policy():
    """Bandit, rewards (0, 1), start on arm 0, alpha = 1, nu = 0.1: C = 4 alpha nu^(-2)
    A_max^2 = 400 > slope nu^-1 = 10 of the surrogate, and D_KL(pi_k || pi) grows linearly
    in the mass moved off a deterministic row, so Algorithm 1 never moves: a limit point
    that is not a Nash equilibrium of J (arm 1 raises J from ln 0.1 to ln 1.1)."""
    c = claims._STUCK_BANDIT
    v = get_claim("alpha_fair/def-3.5")(c)
    assert not v.holds
    assert v.rhs == pytest.approx(np.log(0.1)) and v.lhs == pytest.approx(np.log(1.1))
    from fairmg.dynamics.trust_region import fair_hatrl
    run = fair_hatrl(c.game, c.policy, 1.0, 0.1, 5, seed=0, metrics=["welfare"])
    np.testing.assert_array_equal(run.probs[-1], c.policy.probs)
    assert run.penalties[0] == pytest.approx(400.0)


def test_practical_algorithms_are_not_monotone_on_the_commons():
    c = claims._commons_case()
    assert not get_claim("alpha_fair/fhatrpo-monotone")(c).holds
    assert not get_claim("alpha_fair/fhappo-monotone")(c).holds


@pytest.mark.parametrize("cid", ["lemma-3.1-lower", "lemma-3.2", "lemma-3.3", "thm-3.5",
                                 "lemma-C.1"])
def test_verified_claims_in_ci(cid):
    rep = check_claim(f"alpha_fair/{cid}", profile="ci")
    assert rep.status == "verified", str(rep)


@pytest.mark.parametrize("cid", ["lemma-3.1-upper", "lemma-3.4", "def-3.5",
                                 "fhatrpo-monotone", "fhappo-monotone"])
def test_refuted_claims_in_ci(cid):
    rep = check_claim(f"alpha_fair/{cid}", profile="ci", max_examples=3)
    assert rep.status == "refuted", str(rep)
    assert not rep.counterexample.verdict.holds
