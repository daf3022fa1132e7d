r"""Claims of 000_fec2da8e4d859b95.txt: alpha-fair heterogeneous-agent trust-region learning.

Every check is exact (tabular evaluation, brute force over joint actions where the
statement is about joint actions) and strict. The contextualized-state reading, the
continuous U_alpha and C with nu^alpha are those of :mod:`fairmg.alpha_fair`.

Findings (pinned in ``tests/test_trust_region.py`` / ``tests/test_alpha_fair.py``):

* ``lemma-3.1-upper`` is refuted: :math:`\mathcal L_\pi(\pi') \ge J(\pi') - J(\pi)` uses the
  concavity bound with :math:`d_{\pi'}`, but :math:`\mathcal L` is defined with
  :math:`d_\pi` (App. B.2 writes :math:`E_{\tau\sim\pi'}` and calls it :math:`\mathcal L`).
  Already false at alpha = 0 with one agent (TRPO's surrogate is no upper bound).
* ``lemma-3.4`` is refuted for n >= 2: with the per-agent perturbation of Def. 3.4 the
  joint policy :math:`\prod_i(\pi^i + \eta(\pi'^i - \pi^i))` is not the mixture
  :math:`(1-\eta)\pi + \eta\pi'` used in the proof of Lemma B.7; the derivative is
  :math:`\sum_i \mathcal L_\pi(\pi'^i, \pi^{-i})`. It holds for one agent.
* ``def-3.5`` (Thm. 3.5's third bullet) is refuted: a deterministic policy is a fixed point
  of Algorithm 1 whenever :math:`C` exceeds the surrogate's slope, because
  :math:`D_{KL}(\pi_k\|\pi)` grows linearly when mass leaves a deterministic row (Step 2
  of App. B.6 assumes the KL gradient vanishes, eq. (88), false on the boundary).
  One-state bandit, rewards (0, 1), start on arm 0, alpha = 1, nu = 0.1.
"""
from __future__ import annotations

import itertools

import numpy as np
from hypothesis import strategies as hst

import fairmg as fm
from fairmg import alpha_fair as af
from fairmg.dynamics.trust_region import fair_hatrl

from .. import strategies as st
from ..core import Case, Verdict, assume, claim

PAPER = "000_fec2da8e4d859b95.txt"

#: alpha in [0, 3]; drawn values below 1e-6 become 0 (C ~ alpha nu^-1-alpha A^2 of a
#: subnormal alpha makes the trust region meaninglessly wide, not a test of the paper).
_ALPHAS = hst.one_of(hst.sampled_from([0.0, 0.5, 1.0, 1.5, 3.0]),
                     st.unit_floats(0.0, 3.0).map(lambda a: a if a >= 1e-6 else 0.0))
_NUS = hst.one_of(hst.sampled_from([0.1, 1.0]), st.unit_floats(0.05, 2.0))


def _games(**kw):
    kw.setdefault("n_agents", (1, 3))
    kw.setdefault("max_states", 3)
    kw.setdefault("max_actions", 3)
    kw.setdefault("max_gamma", 0.95)
    return st.games(**kw)


def _pair_cases(**kw):
    return lambda: st.cases(game=_games(**kw), policy=st.policies(deterministic=False),
                            other=st.policies(), alpha=_ALPHAS, nu=_NUS)


def _scale(g, nu, alpha) -> float:
    """Range of J differences: n U'(nu) R/(1-gamma) with R <= 1."""
    return g.n_agents * nu ** (-alpha) / (1.0 - g.gamma) + 1.0


# ------------------------------------------------------------------ Lemma 3.1

@claim("alpha_fair/lemma-3.1-upper", expected="refuted", paper=PAPER,
       section="Lemma 3.1 (upper inequality); App. B.2",
       statement="L_pi(pi') >= J(pi') - J(pi), L_pi(pi') = E_{s~d_pi, a~pi'}[A_F^pi(s, a)].",
       assumptions=("rewards >= 0", "nu > 0"), strategy=_pair_cases(),
       max_examples={"ci": 20, "thorough": 1000}, atol=1e-9,
       tolerance="scale = n nu^-alpha / (1-gamma) + 1 (range of J differences).",
       examples=lambda: [_CHAIN])
def lemma_3_1_upper(c) -> Verdict:
    g = c.game
    dJ = af.fair_objective(g, c.other, c.alpha, c.nu) - af.fair_objective(g, c.policy, c.alpha,
                                                                           c.nu)
    L = af.surrogate(g, c.policy, c.other, c.alpha, c.nu)
    return Verdict.geq(L, dJ, "L_pi(pi') vs J(pi') - J(pi)", scale=_scale(g, c.nu, c.alpha))


@claim("alpha_fair/lemma-3.1-lower", expected="verified", paper=PAPER,
       section="Lemma 3.1 (lower inequality); App. B.2",
       statement="J(pi') - J(pi) >= L_pi(pi') - C D_KL^max(pi || pi'), C = 4 n alpha "
                 "nu^(-1-alpha) A_max^2/(1-gamma)^2 + 4 n A_max gamma/(nu^alpha (1-gamma)^2).",
       assumptions=("rewards >= 0", "nu > 0"), strategy=_pair_cases(),
       max_examples={"ci": 20, "thorough": 1000}, atol=1e-9,
       tolerance="scale = n nu^-alpha / (1-gamma) + 1.")
def lemma_3_1_lower(c) -> Verdict:
    g = c.game
    kl = af.kl_max(c.policy, c.other)
    assume(np.isfinite(kl), "pi' must cover pi's support (else the bound is -inf)")
    dJ = af.fair_objective(g, c.other, c.alpha, c.nu) - af.fair_objective(g, c.policy, c.alpha,
                                                                           c.nu)
    L = af.surrogate(g, c.policy, c.other, c.alpha, c.nu)
    C = af.penalty_constant(g, c.policy, c.alpha, c.nu)
    return Verdict.geq(dJ, L - C * kl, "J(pi') - J(pi) vs L - C KLmax",
                       scale=_scale(g, c.nu, c.alpha))


# ------------------------------------------------------------------ Lemma 3.2

@claim("alpha_fair/lemma-3.2", expected="verified", paper=PAPER, section="Lemma 3.2, eq. (9)",
       statement="A_F^{pi,I_m}(s, a^{I_m}) = sum_l A_F^{pi,i_l}(s, a^{I_{l-1}}, a^{i_l}) for "
                 "every order, state (with context) and joint action of I_m = I_n.",
       assumptions=(), strategy=lambda: st.cases(
           game=_games(n_agents=(2, 3), max_actions=2), policy=st.policies(), alpha=_ALPHAS,
           nu=_NUS, order=hst.permutations([0, 1, 2])),
       max_examples={"ci": 20, "thorough": 1000}, atol=1e-10,
       tolerance="scale = n nu^-alpha / (1-gamma) + 1 (advantage range).")
def lemma_3_2(c) -> Verdict:
    g = c.game
    order = tuple(i for i in c.order if i < g.n_agents)
    n = len(order)
    full = af.multi_agent_fair_advantage(g, c.policy, c.alpha, c.nu, order)
    parts = sum(af.multi_agent_fair_advantage(g, c.policy, c.alpha, c.nu, (order[l],),
                                              order[:l])[(Ellipsis,) + (None,) * (n - 1 - l)]
                for l in range(n))
    return Verdict.close(full, np.broadcast_to(parts, full.shape),
                         "A_F^{I_n} vs sum of sequential fair advantages",
                         scale=_scale(g, c.nu, c.alpha))


# ------------------------------------------------------------------ Lemma 3.3

@claim("alpha_fair/lemma-3.3", expected="verified", paper=PAPER, section="Lemma 3.3, eq. (12)",
       statement="J(pi') - J(pi) >= sum_m [L^{I_m}_pi(pi'^{I_{m-1}}, pi'^{i_m}) - C "
                 "D_KL^max(pi^{i_m} || pi'^{i_m})] for every order I_n.",
       assumptions=("rewards >= 0", "nu > 0"), strategy=lambda: st.cases(
           game=_games(), policy=st.policies(deterministic=False), other=st.policies(),
           alpha=_ALPHAS, nu=_NUS, order=hst.permutations([0, 1, 2])),
       max_examples={"ci": 20, "thorough": 1000}, atol=1e-9,
       tolerance="scale = n nu^-alpha / (1-gamma) + 1.")
def lemma_3_3(c) -> Verdict:
    g = c.game
    order = tuple(i for i in c.order if i < g.n_agents)
    C = af.penalty_constant(g, c.policy, c.alpha, c.nu)
    rhs = 0.0
    for m, i in enumerate(order, start=1):
        kl = af.kl_max(c.policy.mix(c.policy, ()), c.policy.mix(c.other, (i,)))
        assume(np.isfinite(kl), "pi'^i must cover pi^i's support")
        rhs += af.sequential_surrogate(g, c.policy, c.other, order, m, c.alpha, c.nu) - C * kl
    dJ = af.fair_objective(g, c.other, c.alpha, c.nu) - af.fair_objective(g, c.policy, c.alpha,
                                                                           c.nu)
    return Verdict.geq(dJ, rhs, "J(pi') - J(pi) vs sum of penalized summands",
                       scale=_scale(g, c.nu, c.alpha))


# ------------------------------------------------------------------ Lemma 3.4

@claim("alpha_fair/lemma-3.4", expected="refuted", paper=PAPER,
       section="Def. 3.4, Lemma 3.4; App. B.5",
       statement="The Gateaux derivative of J at pi along pi_eta^i = pi^i + eta (pi'^i - "
                 "pi^i) (every agent) equals L_pi(pi').",
       assumptions=("rewards >= 0", "nu > 0"),
       strategy=lambda: st.cases(game=_games(max_gamma=0.9),
                                 policy=st.policies(deterministic=False, max_peak=5.0),
                                 other=st.policies(), alpha=_ALPHAS, nu=_NUS),
       max_examples={"ci": 20, "thorough": 1000}, atol=1e-6, rtol=1e-6,
       tolerance="central differences, eta = 1e-5: truncation ~ eta^2 J''' and round-off "
                 "~ 1e-16 scale / eta, both below 1e-6 scale.",
       examples=lambda: [_TWO_AGENT_FD])
def lemma_3_4(c) -> Verdict:
    g = c.game
    eta = 1e-5
    step = c.other.probs - c.policy.probs

    def J(p):
        return af.fair_objective(g, fm.ProductPolicy(g, p), c.alpha, c.nu)

    fd = (J(c.policy.probs + eta * step) - J(c.policy.probs - eta * step)) / (2 * eta)
    L = af.surrogate(g, c.policy, c.other, c.alpha, c.nu)
    return Verdict.close(fd, L, "finite-difference derivative of J vs L_pi(pi')",
                         scale=_scale(g, c.nu, c.alpha))


# ------------------------------------------------------------------ Theorem 3.5

@claim("alpha_fair/thm-3.5", expected="verified", paper=PAPER,
       section="Thm. 3.5 (monotonic improvement, convergence of J); Algorithm 1",
       statement="Along Algorithm 1 (exact argmax of L^{I_m} - C D_KL^max, C of Lemma 3.1), "
                 "J(pi_{k+1}) >= J(pi_k) for every k and every drawn order.",
       assumptions=("rewards >= 0", "nu > 0"),
       strategy=lambda: st.cases(game=_games(max_states=3, max_actions=2),
                                 policy=st.policies(), alpha=_ALPHAS, nu=_NUS,
                                 seed=hst.integers(0, 2 ** 16)),
       max_examples={"ci": 10, "thorough": 1000}, atol=1e-10,
       tolerance="scale = n nu^-alpha / (1-gamma) + 1; each argmax certified to 1e-10.")
def thm_3_5(c) -> Verdict:
    g = c.game
    run = fair_hatrl(g, c.policy, c.alpha, c.nu, 3, seed=c.seed,
                     metrics=[("fair_objective", lambda game, bev: np.array(
                         [af.fair_objective(game, bev.policy(0), c.alpha, c.nu)]))])
    J = run.metrics["fair_objective"]
    return Verdict.geq(np.diff(J), 0.0, "J(pi_{k+1}) - J(pi_k) along Algorithm 1",
                       scale=_scale(g, c.nu, c.alpha))


def _fixed_point_cases():
    return st.cases(game=_games(n_agents=(1, 2), max_states=2, max_actions=2),
                    policy=st.policies(deterministic=True), alpha=_ALPHAS, nu=_NUS)


@claim("alpha_fair/def-3.5", expected="refuted", paper=PAPER,
       section="Thm. 3.5 (limit points are Nash equilibria, Def. 3.5); App. B.6 Steps 1-3",
       statement="A limit point of Algorithm 1 is a Nash equilibrium of J: no agent's "
                 "unilateral deviation raises J. Checked at fixed points of Algorithm 1 "
                 "(pi_{k+1} = pi_k, hence limit points) against every deterministic "
                 "deviation.",
       assumptions=("rewards >= 0", "nu > 0"), strategy=_fixed_point_cases,
       max_examples={"ci": 20, "thorough": 1000}, atol=1e-9, min_examples=0.2,
       tolerance="scale = n nu^-alpha / (1-gamma) + 1.",
       examples=lambda: [_STUCK_BANDIT])
def def_3_5(c) -> Verdict:
    g = c.game
    run = fair_hatrl(g, c.policy, c.alpha, c.nu, 1, seed=0, metrics=[])
    assume(np.abs(run.probs[-1] - run.probs[0]).max() <= 1e-12,
           "only fixed points of Algorithm 1 are known limit points")
    J0 = af.fair_objective(g, c.policy, c.alpha, c.nu)
    best = J0
    for i, n in enumerate(g.action_sizes):
        for acts in itertools.product(range(n), repeat=g.n_states):
            row = np.zeros((g.n_states, n))
            row[np.arange(g.n_states), acts] = 1.0
            best = max(best, af.fair_objective(g, c.policy.replace(i, row), c.alpha, c.nu))
    return Verdict.leq(best, J0, "best deterministic unilateral deviation's J vs J at the "
                                 "fixed point", scale=_scale(g, c.nu, c.alpha))


# ------------------------------------------------------------------ Lemma C.1

@claim("alpha_fair/lemma-C.1", expected="verified", paper=PAPER, section="Lemma C.1, eq. (101)",
       statement="E_{a^{I_{m-1}}~pi'^{I_{m-1}}, a^{i_m}~pi'^{i_m}}[A_F^{pi,i_m}(s, a^{I_{m-1}}, "
                 "a^{i_m})] = E_{a~pi}[(pi'^{i_m}/pi^{i_m} - 1) (pi'^{I_{m-1}}/pi^{I_{m-1}}) "
                 "A_F^pi(s, a)] at every contextualized state.",
       assumptions=("pi > 0 (softmax)",), strategy=lambda: st.cases(
           game=_games(n_agents=(1, 3), max_actions=2), policy=st.policies(
               deterministic=False, max_peak=5.0), other=st.policies(), alpha=_ALPHAS,
           nu=_NUS, order=hst.permutations([0, 1, 2]), m=hst.integers(1, 3)),
       max_examples={"ci": 20, "thorough": 1000}, atol=1e-10,
       tolerance="scale = n nu^-alpha / (1-gamma) + 1.")
def lemma_c_1(c) -> Verdict:
    g = c.game
    order = tuple(i for i in c.order if i < g.n_agents)
    m = min(c.m, len(order))
    i = order[m - 1]
    prev = order[: m - 1]
    AF = af.fair_advantage(g, c.policy, c.alpha, c.nu)                  # (C, S, A)
    acts = g.joint_actions
    P, Q = c.policy.probs, c.other.probs
    S = g.n_states
    pij = c.policy.joint_probs()
    ratio_i = Q[i][:, acts[:, i]] / P[i][:, acts[:, i]]                # (S, A)
    ratio_prev = np.ones_like(pij)
    for j in prev:
        ratio_prev *= Q[j][:, acts[:, j]] / P[j][:, acts[:, j]]
    rhs = np.einsum("sa,csa->cs", pij * (ratio_i - 1) * ratio_prev, AF)
    # lhs from eqs. (6)-(8): the multi-agent fair advantage of i given I_{m-1}
    A_seq = af.multi_agent_fair_advantage(g, c.policy, c.alpha, c.nu, (i,), prev)
    lhs = np.zeros((S, S))
    for idx in itertools.product(*[range(g.action_sizes[k]) for k in prev + (i,)]):
        w = np.ones(S)
        for t, k in enumerate(prev + (i,)):
            w = w * Q[k, :, idx[t]]
        lhs += w[None, :] * A_seq[(slice(None), slice(None)) + idx]
    return Verdict.close(lhs, rhs, "sequential fair surrogate vs importance-weighted form",
                         scale=_scale(g, c.nu, c.alpha))


# ------------------------------------------------------------------ instances

#: Lemma 3.1 (upper): one agent, two states, reward 1 for staying in state 1; pi' stays
#: there w.p. 0.9 instead of 0.1, same policy in state 0: J(pi') - J(pi) =
#: d_pi'(1) A(1, pi') > L = d_pi(1) A(1, pi') since pi' visits state 1 far more.
_CHAIN = None
#: Lemma 3.4: two agents, one state, gamma = 0, agent 0 paid 1 iff both play 1; pi uniform,
#: pi' plays 1 w.p. 0.9: dJ/deta = 2 (0.9 * 0.5 - 0.25) = 0.4, L_pi(pi') = 0.81 - 0.25 = 0.56.
_TWO_AGENT_FD = None
#: Def. 3.5: one-state bandit, rewards (0, 1), Algorithm 1 stuck on arm 0.
_STUCK_BANDIT = None


def _build_examples():
    global _CHAIN, _TWO_AGENT_FD, _STUCK_BANDIT
    P = np.zeros((2, 2, 2))
    P[0, 0, 0] = P[1, 0, 0] = 1.0         # action 0: go to (or back to) state 0
    P[0, 1, 1] = P[1, 1, 1] = 1.0         # action 1: go to (or stay in) state 1
    R = np.array([[[0.0, 0.0], [0.0, 1.0]]])          # reward 1 for staying in state 1
    chain = fm.MarkovGame(P, R, 0.9, initial=np.array([1.0, 0.0]), action_sizes=(2,))
    pol = fm.ProductPolicy(chain, np.array([[[0.5, 0.5], [0.9, 0.1]]]))
    other = fm.ProductPolicy(chain, np.array([[[0.5, 0.5], [0.1, 0.9]]]))
    _CHAIN = Case(game=chain, policy=pol, other=other, alpha=0.0, nu=1.0)
    R2 = np.array([[[0.0, 0.0, 0.0, 1.0]], [[0.0, 0.0, 0.0, 0.0]]])   # agent 0: 1 iff (1, 1)
    g2 = fm.MarkovGame(np.ones((1, 4, 1)), R2, 0.0, action_sizes=(2, 2))
    _TWO_AGENT_FD = Case(game=g2, policy=fm.ProductPolicy.uniform(g2),
                         other=fm.ProductPolicy(g2, np.array([[[0.1, 0.9]], [[0.1, 0.9]]])),
                         alpha=0.0, nu=1.0)
    g3 = fm.MarkovGame(np.ones((1, 2, 1)), np.array([[[0.0, 1.0]]]), 0.0, action_sizes=(2,))
    _STUCK_BANDIT = Case(game=g3, policy=fm.ProductPolicy.deterministic(g3, np.array([[0]])),
                         alpha=1.0, nu=0.1)


_build_examples()


# ------------------------------------------------------------------ practical algorithms
# 000 claims no monotonic improvement for its practical algorithms (Sec. 4 approximates the
# penalty by a KL constraint); the question of issue 13 is what the exact versions do.

from fairmg.games.commons import commons as _commons  # noqa: E402  (the game of examples/06)


def _practical_cases():
    return st.cases(game=_games(n_agents=(2, 3), max_states=3, max_actions=2),
                    theta=st.logits(max_peak=3.0), alpha=_ALPHAS, nu=_NUS,
                    seed=hst.integers(0, 2 ** 16))


def _commons_case():
    th = np.zeros((2, 4, 2))
    th[:, :, 1] = 0.5
    return Case(game=_commons(), theta=th, alpha=1.0, nu=0.1, seed=0)


def _monotone(run, c) -> Verdict:
    J = run.metrics["fair_objective"]
    return Verdict.geq(np.diff(J), 0.0, "J(theta_{k+1}) - J(theta_k)",
                       scale=_scale(c.game, c.nu, c.alpha))


@claim("alpha_fair/fhatrpo-monotone", expected="refuted", paper=PAPER,
       section="Sec. 4.1, Algorithm 2 (no guarantee claimed; issue 13's question)",
       statement="Exact tabular FHATRPO (delta = 0.05, HARL line search) does not decrease J "
                 "at any of its first 20 iterations.",
       assumptions=("rewards >= 0",), strategy=_practical_cases,
       max_examples={"ci": 5, "thorough": 300}, atol=1e-9,
       tolerance="scale = n nu^-alpha / (1-gamma) + 1.", examples=lambda: [_commons_case()])
def fhatrpo_monotone(c) -> Verdict:
    from fairmg.dynamics.trust_region import fair_metrics, hatrpo
    run = hatrpo(c.game, c.theta, c.alpha, c.nu, kl=0.05, iters=20, seed=c.seed,
                 metrics=fair_metrics(c.alpha, c.nu)[:1])
    return _monotone(run, c)


@claim("alpha_fair/fhappo-monotone", expected="refuted", paper=PAPER,
       section="Sec. 4.2, Algorithm 3 (no guarantee claimed; issue 13's question)",
       statement="Exact tabular FHAPPO (clip 0.2, Adam lr 0.05, 5 epochs) does not decrease J "
                 "at any of its first 20 iterations.",
       assumptions=("rewards >= 0",), strategy=_practical_cases,
       max_examples={"ci": 5, "thorough": 300}, atol=1e-9,
       tolerance="scale = n nu^-alpha / (1-gamma) + 1.", examples=lambda: [_commons_case()])
def fhappo_monotone(c) -> Verdict:
    from fairmg.dynamics.trust_region import fair_metrics, happo
    run = happo(c.game, c.theta, c.alpha, c.nu, clip=0.2, lr=0.05, iters=20, seed=c.seed,
                metrics=fair_metrics(c.alpha, c.nu)[:1])
    return _monotone(run, c)
