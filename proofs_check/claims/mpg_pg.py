r"""Claims of 002_83fd5d2aa78f7214.txt: softmax policy gradient in Markov potential games.

Every check compares the paper's statement on one drawn instance, strictly; the exact
quantities (Phi_max - Phi_min, M, smoothness constants) come from :mod:`proofs_check.exact`.
Dynamics are those of :mod:`fairmg.dynamics` (softmax PG, NPG, NPG-BR); one-step claims
also recompute the exact gradient here from :func:`fairmg.evaluate` (an independent
cross-check). What each refutation means is in ``proofs_check/claim_notes.md``.

Constants used
--------------
* ``Phi_max - Phi_min`` (Assumption 2.3): exact, over all policies and states
  (:func:`~proofs_check.exact.potential_range`). Using the exact range gives the largest
  step sizes the theorems allow, the hardest honest test.
* ``M`` (Lemma 3.5): exact, ``max_s max_pi d(s) / min_pi' d(s)``.
* ``(alpha, beta)`` (Def. 4.2): exact for one-state games; otherwise Proposition 4.3
  with the exact reward constants and a valid transition certificate (not the best
  constants: a weaker, never a false, test).
"""
from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as hst
from scipy.optimize import minimize
from scipy.special import logsumexp

import fairmg as fm
from fairmg.dynamics import npg, npg_best_response
from fairmg.dynamics.pg import softmax_pg_logits
from fairmg.dynamics.pg import best_response_step
from fairmg.dynamics.run import evaluate_batch
from fairmg.kernels import masked_softmax

from .. import exact as ex
from .. import strategies as st
from ..core import Case, Verdict, assume, claim

PAPER = "002_83fd5d2aa78f7214.txt"
MPG_KINDS = ("potential", "identical")


def _horizon(g) -> float:
    return 1.0 / (1.0 - g.gamma)


#: Reward (potential) families for the claims whose step sizes or iteration counts scale
#: with 1/(Phi_max - Phi_min) (PG/NPG runs): every structured family except near-ties,
#: whose potential ranges of 1e-12 would need ~1e12 iterations (a cost limit, not an
#: assumption of the paper; the one-step claims draw near-ties too).
RUN_REWARDS = tuple(f for f in st.REWARD_FAMILIES if f != "near_tie")


def _mpg_games(**kw):
    """Array-drawn MPGs (shaping/dummy/controller construction, or identical interest,
    from every structured family of :func:`proofs_check.strategies.games`) and
    ``fairmg.games.random_game(kind="potential")`` from a seed."""
    seeded = dict(kw)
    for k in ("initial", "sparse", "rewards", "transitions", "reward_scales"):
        seeded.pop(k, None)
    return hst.one_of(st.games(kind=MPG_KINDS, **kw),
                      st.games(kind="potential", draw="seed", **seeded))


# ------------------------------------------------------------------ Definition 2.2

@claim("mpg_pg/def-2.2", expected="verified", paper=PAPER, section="Def. 2.2, eq. (1)",
       statement="The MPG generators (identical interest; phi plus shaping terms gamma P h^i "
                 "- h^i plus dummy terms u^i(s, a^-i) of agents that do not move the state; "
                 "fairmg.games.random_game(kind='potential')) satisfy Definition 2.2: for "
                 "every agent i and policies differing only in agent i, V^i differences equal "
                 "Phi differences at every state.",
       assumptions=("rewards in [0, 1]",),
       strategy=lambda: st.cases(game=_mpg_games(n_agents=(1, 3), max_states=3),
                                 policy=st.policies(), other=st.policies(),
                                 agent=st.agent_indices()),
       atol=1e-10, tolerance="scale = 1/(1-gamma) (values' range): round-off of two solves.")
def def_2_2(c) -> Verdict:
    r"""Eq. (1) for the drawn pair, and exactly for all of agent i's policies against
    :math:`\pi^{-i}` (zero local advantages of :math:`r^i - \phi`)."""
    g, i = c.game, c.agent
    n = g.action_sizes[i]
    other = c.policy.replace(i, c.other.probs[i, :, :n])
    e1, e2 = fm.evaluate(g, c.policy), fm.evaluate(g, other)
    pair = Verdict.close(e2.values[i] - e1.values[i],
                         e2.potential_values - e1.potential_values,
                         f"V^{i} difference vs Phi difference", scale=_horizon(g))
    every = Verdict.close(ex.mpg_violation(g, g.joint_potential(), c.policy, i), 0.0,
                          f"max |A^{i}_(r^i - phi)| over agent {i}'s MDP",
                          scale=_horizon(g))
    return Verdict.worst(pair=pair, all_policies=every)


# ------------------------------------------------------------------ Lemma 3.1

@claim("mpg_pg/lemma-3.1", expected="verified", paper=PAPER, section="Lemma 3.1, eq. (2); App. A",
       statement="dPhi_theta(mu)/dtheta^i_{s,a} = dV^i_theta(mu)/dtheta^i_{s,a} = "
                 "d_mu(s) pi^i(a|s) A^i(s,a) (unnormalized visitation, local advantage).",
       assumptions=("Markov potential game", "tabular softmax"),
       strategy=lambda: st.cases(game=_mpg_games(n_agents=(1, 3), max_states=3,
                                                 max_gamma=0.99),
                                 theta=st.logits(max_peak=10.0, large_gaps=True)),
       atol=1e-8, rtol=1e-7,
       tolerance="scale = 1/(1-gamma)^2 (gradient range); five-point differences with "
                 "h = 1e-3 (1-gamma): truncation ~ h^4 / (1-gamma)^6 and round-off "
                 "~ 1e-16 / (h (1-gamma)) are both below 1e-10 / (1-gamma)^2. The FD of "
                 "Phi uses phi minus its mean (phi + c is as much a potential, with the "
                 "same gradient), else round-off grows as eps max|phi| / h.")
def lemma_3_1(c) -> Verdict:
    """Closed form (2) against central finite differences of V^i(mu) and Phi(mu)."""
    g, theta = c.game, c.theta
    closed, _ = ex.policy_gradient(g, theta)

    phi = g.joint_potential()
    centred = g.with_rewards(g.joint_rewards(), potential=phi - phi.mean())

    def f(th):
        ev = fm.evaluate(g, fm.ProductPolicy.from_logits(g, th))
        pot = fm.evaluate(centred, fm.ProductPolicy.from_logits(centred, th))
        return np.append(ev.value_at_initial, pot.potential_at_initial)

    mask = np.broadcast_to(g.action_mask[:, None, :], theta.shape)
    fd = ex.fd_gradient(f, theta, mask, 1e-3 * (1 - g.gamma))
    own = np.stack([fd[i, ..., i] for i in range(g.n_agents)])
    scale = _horizon(g) ** 2
    return Verdict.worst(
        value=Verdict.close(closed, own, "closed form vs FD of V^i(mu)", scale=scale),
        potential=Verdict.close(closed, fd[..., -1], "closed form vs FD of Phi(mu)",
                                scale=scale))


# ------------------------------------------------------------------ Lemma 3.2

def _start_state_gradients(g, theta):
    """d Phi_theta(s0) / d theta for every start state s0, shape (S, D) (D free entries)."""
    ev = fm.evaluate(g, fm.ProductPolicy.from_logits(g, theta))
    Minv = np.linalg.inv(np.eye(g.n_states) - g.gamma * g.policy_transition(ev.policy))
    core = ev.policy.probs * ev.local_advantages                  # (N, S, A_max)
    grads = Minv[:, None, :, None] * core[None]                   # (S0, N, S, A_max)
    mask = np.broadcast_to(g.action_mask[:, None, :], core.shape)
    return grads[:, mask]


@claim("mpg_pg/lemma-3.2", expected="verified", paper=PAPER, section="Lemma 3.2; App. B",
       statement="Under tabular softmax, Phi_theta(s) is 41N/(4(1-gamma)^3)-smooth for every "
                 "state s (rewards, i.e. phi, in [0, 1]).",
       assumptions=("phi in [0, 1]", "tabular softmax"),
       strategy=lambda: st.cases(game=st.games(n_agents=(1, 3), max_states=3,
                                               kind="identical", max_gamma=0.99),
                                 theta=st.logits(max_peak=10.0, large_gaps=True)),
       atol=0.0, rtol=1e-6,
       tolerance="relative to the bound: the Hessian is central differences (h = 1e-4 "
                 "(1-gamma)) of the exact gradient, error O(h^2 / (1-gamma)^4).")
def lemma_3_2(c) -> Verdict:
    """Largest |eigenvalue| of the Hessian of Phi_theta(s), every s, vs the bound."""
    g, theta = c.game, c.theta
    mask = np.broadcast_to(g.action_mask[:, None, :], theta.shape)
    idx = list(zip(*np.nonzero(mask)))
    h = 1e-4 * (1 - g.gamma)
    H = np.empty((g.n_states, len(idx), len(idx)))
    for k, j in enumerate(idx):
        tp, tm = theta.copy(), theta.copy()
        tp[j] += h
        tm[j] -= h
        H[:, :, k] = (_start_state_gradients(g, tp) - _start_state_gradients(g, tm)) / (2 * h)
    H = 0.5 * (H + H.transpose(0, 2, 1))
    eig = np.abs(np.linalg.eigvalsh(H)).max(axis=1)
    bound = 41 * g.n_agents / (4 * (1 - g.gamma) ** 3)
    return Verdict.leq(eig, np.full_like(eig, bound),
                       "spectral norm of the Hessian of Phi_theta(s) vs 41N/(4(1-gamma)^3)")


# ------------------------------------------------------------------ Lemma C.3 / Thm 3.4

def _pg_step_bound(g) -> float:
    """(1-gamma) / (N max(5, sqrt N) (Phi_max - Phi_min)) of Lemma C.3 / Theorem 3.4."""
    lo, hi = ex.potential_range(g)
    assume(hi - lo > 1e-9)
    n = g.n_agents
    return (1 - g.gamma) / (n * max(5.0, math.sqrt(n)) * (hi - lo))


@claim("mpg_pg/lemma-C.3", expected="verified", paper=PAPER, section="Lemma C.3 (App. C.2)",
       statement="With eta <= (1-gamma)/(N max(5, sqrt N)(Phi_max - Phi_min)), one parallel "
                 "policy-gradient step (3) does not decrease Phi_theta(s) at any state nor "
                 "Q_phi(s, a) at any state-action pair.",
       assumptions=("Markov potential game", "tabular softmax", "eta at most the bound"),
       strategy=lambda: st.cases(game=_mpg_games(n_agents=(1, 3), max_states=3,
                                                 max_gamma=0.999),
                                 theta=st.logits(large_gaps=True),
                                 frac=st.fractions(0.01, 1.0)),
       atol=1e-12, rtol=1e-12,
       tolerance="scale = 1/(1-gamma): decreases below round-off of the values are allowed.")
def lemma_c_3(c) -> Verdict:
    """Phi and Q_phi after one exact gradient step vs before, every state (and action)."""
    g = c.game
    eta = c.frac * _pg_step_bound(g)
    grad, ev0 = ex.policy_gradient(g, c.theta)
    ev1 = fm.evaluate(g, fm.ProductPolicy.from_logits(g, c.theta + eta * grad))
    scale = _horizon(g)
    return Verdict.worst(
        phi=Verdict.geq(ev1.potential_values, ev0.potential_values,
                        f"Phi(s) after vs before (eta = {eta:.4g})", scale=scale),
        q=Verdict.geq(ex.potential_q(g, ev1), ex.potential_q(g, ev0),
                      "Q_phi(s, a) after vs before", scale=scale))


#: thm-3.4 runs PG in chunks of PG_STEPS steps, at most PG_CHUNKS of them; a run that
#: stalls above the target is confirmed by one run PG_CONFIRM times longer.
PG_STEPS, PG_CHUNKS, PG_CONFIRM = 3000, 40, 10
#: Logits that move less than this (max-norm) over the last half of a run have "stopped".
PG_STALL = 1e-3


@claim("mpg_pg/thm-3.4", expected="verified", paper=PAPER, section="Thm. 3.4; App. C",
       statement="Policy gradient (3) with eta <= min((1-gamma)/(N max(5, sqrt N)(Phi_max - "
                 "Phi_min)), 4(1-gamma)^3/(41N)) whose iterates converge ends at a Nash "
                 "policy. Finite form: PG runs in chunks of 3000 steps (at most 40) until "
                 "its Nash-gap is below 1% of Phi_max - Phi_min; a chunk whose logits stop "
                 "moving (change < 1e-3 over its last half) with the gap above that is "
                 "followed by a run 10x longer, which refutes only if the gap stays while "
                 "the logits stay put over its last half and slow down from its first.",
       assumptions=("Markov potential game", "Assumption 3.3 (iterates converge)"),
       strategy=lambda: st.cases(
           game=_mpg_games(n_agents=(1, 2), max_states=2, max_actions=2, max_gamma=0.8,
                           rewards=RUN_REWARDS),
           theta=st.logits(scale=2.0, near_deterministic=False),
           frac=st.fractions(0.5, 1.0)),
       max_examples={"ci": 6}, atol=0.0, rtol=0.0,
       tolerance="the gap target is 1% of Phi_max - Phi_min (the theorem is asymptotic).",
       notes="Runs on fairmg.dynamics.pg.softmax_pg_logits (the compiled twin of softmax_pg; "
             "tests/test_dynamics_pg.py pins them equal). Runs still moving after 40 "
             "chunks (120,000 steps) do not meet the premise and are filtered, as are "
             "stalls whose logits speed up during the 30,000-step confirmation: softmax "
             "PG crosses long plateaus near suboptimal corners, where a logit gap of ~15 "
             "makes the better action's probability ~1e-7 and the run moves < 1e-3 per "
             "15,000 steps while accelerating (e.g. a one-state 2 x 2 potential game at "
             "logits (-1.8, 0), (-2, 12.6): Nash-gap 0.28 after 150,000 steps, refuted by "
             "the stall test alone before the acceleration test was added).")
def thm_3_4(c) -> Verdict:
    """Nash-gap at the end of a (converged) PG run with the theorem's step size."""
    g = c.game
    lo, hi = ex.potential_range(g)
    eta = c.frac * min(_pg_step_bound(g), 4 * (1 - g.gamma) ** 3 / (41 * g.n_agents))
    target = 0.01 * (hi - lo)

    def run(theta, steps):
        """Final logits, Nash-gap, and the logits' movement over each half of the run."""
        thetas = softmax_pg_logits(g, theta, lr=eta, iters=steps)
        gap = fm.nash_gap(g, fm.ProductPolicy.from_logits(g, thetas[-1]))
        h = steps // 2
        return (thetas[-1], gap, float(np.abs(thetas[h] - thetas[0]).max()),
                float(np.abs(thetas[-1] - thetas[h]).max()))

    theta, steps = c.theta, 0
    for _ in range(PG_CHUNKS):
        theta, gap, _, moved = run(theta, PG_STEPS)
        steps += PG_STEPS
        if gap <= target or moved < PG_STALL:
            break
    assume(gap <= target or moved < PG_STALL)          # still moving: premise not met
    if gap > target:                                    # stalled above the target: confirm
        theta, gap, before, moved = run(theta, PG_STEPS * PG_CONFIRM)
        steps += PG_STEPS * PG_CONFIRM
        # converging logits slow down; logits on a plateau (a tiny probability growing
        # towards a better action) speed up: that run has not converged yet
        assume(gap <= target or (moved < PG_STALL and moved < before))
    return Verdict.leq(gap, target, f"Nash-gap after {steps} PG steps (eta = {eta:.3g}; "
                                    f"logits moved {moved:.2g} over the last half run)")


# ------------------------------------------------------------------ Lemma 3.5, Thm 3.6

def _barrier_objective_and_grad(g, theta, lam):
    grad, ev = ex.policy_gradient(g, theta)
    probs = ev.policy.probs
    mask = np.broadcast_to(g.action_mask[:, None, :], probs.shape)
    sizes = np.array(g.action_sizes, np.float64)
    z = np.where(mask, theta, -np.inf)
    lse = logsumexp(z, axis=-1, keepdims=True)
    logp = np.where(mask, theta - lse, 0.0)             # stable log pi (never -inf)
    barrier = logp.sum(axis=(1, 2)) / (g.n_states * sizes) + np.log(sizes)
    value = ev.potential_at_initial + lam * barrier.sum()
    return value, grad + ex.log_barrier_gradient(g, probs, lam), ev


def _stationary_point(g, theta0, lam, tol):
    """L-BFGS on -L_lambda from theta0 until ||grad L|| <= tol (or None)."""
    mask = np.broadcast_to(g.action_mask[:, None, :], theta0.shape)

    def fun(x):
        th = np.zeros(theta0.shape)
        th[mask] = x
        val, grad, _ = _barrier_objective_and_grad(g, th, lam)
        return -val, -grad[mask]

    res = minimize(fun, theta0[mask], jac=True, method="L-BFGS-B",
                   options=dict(maxiter=3000, gtol=0.05 * tol, ftol=1e-15))
    th = np.zeros(theta0.shape)
    th[mask] = res.x
    return th


@claim("mpg_pg/lemma-3.5", expected="verified", paper=PAPER, section="Lemma 3.5; App. D.1",
       statement="||grad L_lambda(theta)||_2 <= lambda/(2|S| max_i |A^i|) implies "
                 "Nash-gap(pi_theta) <= 2 lambda M, M = max_{pi,pi'} ||d^pi_mu / "
                 "d^pi'_mu||_inf.",
       assumptions=("Markov potential game", "Assumption 2.1 (mu has full support)"),
       strategy=lambda: st.cases(game=_mpg_games(n_agents=(1, 2), max_states=3,
                                                 max_gamma=0.95, rewards=RUN_REWARDS),
                                 lam=st.step_sizes(1e-3, 1.0),
                                 theta0=st.logits(max_peak=8.0)),
       max_examples={"ci": 10}, atol=1e-10,
       tolerance="scale = 1/(1-gamma); M is exact (max over s of the largest over the "
                 "smallest visitation of s).")
def lemma_3_5(c) -> Verdict:
    """Nash-gap at a near-stationary point of L_lambda (found by L-BFGS) vs 2 lambda M."""
    g = c.game
    lo, hi = ex.potential_range(g)
    lam = c.lam * max(hi - lo, 1e-3)
    tol = lam / (2 * g.n_states * g.max_actions)
    theta = _stationary_point(g, c.theta0, lam, tol)
    _, grad, ev = _barrier_objective_and_grad(g, theta, lam)
    gnorm = float(np.linalg.norm(grad))
    assume(gnorm <= tol)
    M = ex.distribution_mismatch(g)
    gap = fm.nash_gap(g, ev.policy, evaluation=ev)
    return Verdict.leq(gap, 2 * lam * M, f"Nash-gap vs 2 lambda M (lambda = {lam:.3g}, "
                                         f"M = {M:.4g}, ||grad|| = {gnorm:.2g} <= {tol:.2g})",
                       scale=_horizon(g))


#: Longest log-barrier PG run of thm-3.6.
LB_STEPS = 4000


def _thm_3_6_horizon(g, M, eps, rng) -> float:
    n, S, A = g.n_agents, g.n_states, g.max_actions
    return (328 * n * M**2 * S**2 * A**2 * rng / ((1 - g.gamma) ** 3 * eps**2)
            + 32 * n * M * S * A**2 * rng / eps)


def _probs(g, thetas) -> np.ndarray:
    """Softmax policies (T, N, S, A_max) of logits (T, N, S, A_max), zero on padding."""
    return masked_softmax(np.ascontiguousarray(thetas, np.float64),
                          np.asarray(g.action_sizes, np.int64))


def _batched_barrier_gradients(g, thetas, lam) -> np.ndarray:
    r"""The exact gradient of :math:`L_\lambda` (002 Sec. 3.2) at every logits ``thetas[t]``
    (shape (T, N, S, A_max)) in one vectorized pass, independent of fairmg's evaluators.

    Plain numpy linear algebra on the joint tables: the product policy :math:`\pi_t`,
    :math:`V^i = (I - \gamma P_\pi)^{-1} r^i_\pi`, the unnormalized visitation
    :math:`d = \mu^\top (I - \gamma P_\pi)^{-1}`, the local Q of agent i (the joint Q
    averaged over the others' actions) and eq. (2), :math:`d(s) \pi^i(a|s) A^i(s, a)`,
    plus the barrier term :math:`\frac{\lambda}{|S|}(1/|A^i| - \pi^i(a|s))`. Zero on
    padding. Equals :func:`_barrier_objective_and_grad` (its gradient) at every iterate
    (``tests/test_claims_mpg.py`` pins it); used by thm-3.6 for its 4000 iterates at once
    instead of 4000 separate evaluations.
    """
    th = np.asarray(thetas, np.float64)
    T, N, S, Am = th.shape
    mask = np.broadcast_to(g.action_mask[None, :, None, :], th.shape)
    z = np.where(mask, th, -np.inf)
    z = z - z.max(axis=-1, keepdims=True)
    probs = np.where(mask, np.exp(z), 0.0)
    probs /= probs.sum(axis=-1, keepdims=True)
    ja = np.asarray(g.joint_actions)                             # (A, N)
    P = np.asarray(g.transition, np.float64)                     # (S, A, S)
    R = np.asarray(g.rewards, np.float64)                        # (N, S, A)
    A = ja.shape[0]
    own = np.stack([probs[:, i][:, :, ja[:, i]] for i in range(N)], axis=1)  # (T,N,S,A)
    pij = own.prod(axis=1)                                       # (T, S, A)
    lhs = np.eye(S)[None] - g.gamma * np.einsum("tsa,sau->tsu", pij, P)
    r_pi = np.einsum("tsa,nsa->tsn", pij, R)                     # (T, S, N)
    V = np.linalg.solve(lhs, r_pi)                               # (T, S, N)
    d = np.linalg.solve(np.swapaxes(lhs, 1, 2),
                        np.broadcast_to(np.asarray(g.initial, np.float64)[None, :, None],
                                        (T, S, 1)))[..., 0]      # (T, S)
    Q = R[None] + g.gamma * np.einsum("sau,tun->tnsa", P, V)     # (T, N, S, A)
    grad = np.zeros_like(th)
    for i in range(N):
        others = np.prod(np.delete(own, i, axis=1), axis=1) if N > 1 else \
            np.ones((T, S, A))
        onehot = np.zeros((A, Am))
        onehot[np.arange(A), ja[:, i]] = 1.0
        local = np.einsum("tsa,ab->tsb", others * Q[:, i], onehot)   # (T, S, A_max)
        adv = local - V[:, :, i][..., None]
        grad[:, i] = d[..., None] * probs[:, i] * adv
    sizes = np.array(g.action_sizes, np.float64)[None, :, None, None]
    grad = grad + lam / S * (1.0 / sizes - probs)
    return np.where(mask, grad, 0.0)


@claim("mpg_pg/thm-3.6", expected="verified", paper=PAPER, section="Thm. 3.6; App. D.2",
       statement="Log-barrier PG from theta_0 = 0 with lambda = eps/(2M), eta = 1/beta_lambda, "
                 "beta_lambda = 41N/(4(1-gamma)^3) + 2 lambda N/|S| has min_{t<T} Nash-gap_t "
                 "<= eps for T >= 328 N M^2 |S|^2 max|A|^2 (Phi_max - Phi_min)/((1-gamma)^3 "
                 "eps^2) + 32 N M |S| max|A|^2 (Phi_max - Phi_min)/eps. When that T exceeds "
                 "4000 steps, the proof's steps on the first 4000: min_{t<T} ||grad "
                 "L||^2 <= 2 beta_lambda (Phi_max - Phi_min)/T for every T, and Lemma 3.5 at "
                 "every iterate meeting its gradient condition.",
       assumptions=("Markov potential game", "Assumption 2.1"),
       strategy=lambda: st.cases(game=_mpg_games(n_agents=(1, 2), max_states=2,
                                                 max_actions=2, max_gamma=0.5,
                                                 rewards=RUN_REWARDS),
                                 eps_frac=st.fractions(0.3, 0.95)),
       max_examples={"ci": 4}, atol=1e-10,
       tolerance="scale = 1/(1-gamma) for gaps; rtol 1e-9 on the gradient bound.")
def thm_3_6(c) -> Verdict:
    """The rate at the stated horizon (or the proof's steps when it is out of reach).

    The logits come from :func:`fairmg.dynamics.pg.softmax_pg_logits` (one compiled loop);
    the Nash-gaps of the iterates are computed afterwards in one compiled batch
    (:func:`fairmg.dynamics.run.evaluate_batch`, the evaluator of the ``nash_gap``
    metric), and the gradients of ``L_lambda`` at all
    iterates in one vectorized pass (:func:`_batched_barrier_gradients`)."""
    g = c.game
    lo, hi = ex.potential_range(g)
    assume(hi - lo > 1e-6)
    M = ex.distribution_mismatch(g)
    eps = c.eps_frac * (hi - lo)
    lam = eps / (2 * M)
    beta = 41 * g.n_agents / (4 * (1 - g.gamma) ** 3) + 2 * lam * g.n_agents / g.n_states
    T_star = _thm_3_6_horizon(g, M, eps, hi - lo)
    T = int(min(math.ceil(T_star), LB_STEPS))
    theta0 = np.zeros((g.n_agents, g.n_states, g.max_actions))
    thetas = softmax_pg_logits(g, theta0, lr=1 / beta, iters=T, log_barrier=lam)

    def gaps_of(idx):
        if len(idx) == 0:
            return np.zeros(0)
        bev = evaluate_batch(g, _probs(g, thetas[idx]), best=True)
        return bev.nash_gaps().max(axis=1)

    if T_star <= LB_STEPS:
        gaps = gaps_of(np.arange(T))
        return Verdict.leq(gaps.min(), eps, f"min_(t<T) Nash-gap vs eps (T = {T})",
                           scale=_horizon(g))
    gn2 = np.sum(_batched_barrier_gradients(g, thetas[:T], lam) ** 2,
                 axis=(1, 2, 3))
    t = np.arange(1, T + 1)
    rate = Verdict.leq(np.minimum.accumulate(gn2), 2 * beta * (hi - lo) / t,
                       "min_(t'<t) ||grad L||^2 vs 2 beta (Phi_max - Phi_min)/t",
                       atol=0.0, rtol=1e-9)
    near = np.sqrt(gn2) <= lam / (2 * g.n_states * g.max_actions)
    lemma = Verdict.leq(gaps_of(np.nonzero(near)[0]) if near.any() else 0.0, 2 * lam * M,
                        f"Lemma 3.5 on the {int(near.sum())} iterates meeting the gradient "
                        f"condition (T* = {T_star:.3g} > {LB_STEPS})", scale=_horizon(g))
    return Verdict.worst(rate=rate, lemma_3_5=lemma)


# ------------------------------------------------------------------ Lemma 3.7

def _fisher(g, ev, i):
    """F^i = sum_s d(s) sum_a pi(a|s) grad log pi grad log pi^T, on agent i's real actions."""
    n, S = g.action_sizes[i], g.n_states
    pi = ev.policy.probs[i, :, :n]
    F = np.zeros((S * n, S * n))
    for s in range(S):
        J = np.eye(n) - pi[s][None, :]                # row a: d log pi(a|s) / d theta_s
        F[s * n:(s + 1) * n, s * n:(s + 1) * n] = ev.visitation[s] * (J.T * pi[s]) @ J
    return F


@claim("mpg_pg/lemma-3.7", expected="verified", paper=PAPER, section="Lemma 3.7, eq. (4); App. E.1",
       statement="The NPG step (F^i)^+ grad_{theta^i} V^i(mu) equals A^i(s, .) up to a "
                 "constant per state, so theta + eta (F^i)^+ grad gives pi_{t+1} = pi_t "
                 "exp(eta A^i)/Z (soft policy iteration); fairmg.dynamics.npg takes that step.",
       assumptions=("tabular softmax", "Assumption 2.1"),
       strategy=lambda: st.cases(game=_mpg_games(n_agents=(1, 2), max_states=3,
                                                 max_gamma=0.99),
                                 theta=st.logits(max_peak=8.0),
                                 eta=st.step_sizes(1e-2, 10.0)),
       atol=1e-7, rtol=1e-7,
       tolerance="scale = 1/(1-gamma) (advantage range); the explicit pseudo-inverse loses "
                 "~cond(F) x 1e-16 (cond(F) <~ 1e8 with logit spreads <= 14).")
def lemma_3_7(c) -> Verdict:
    """Explicit Moore-Penrose step vs the closed form, and vs fairmg.dynamics.npg."""
    g, theta = c.game, c.theta
    valid = np.broadcast_to(g.action_mask[:, None, :], np.shape(theta))
    spread = float(np.max(np.where(valid, theta, -np.inf).max(-1)
                          - np.where(valid, theta, np.inf).min(-1)))
    # the explicit pinv oracle is only accurate within the stated condition (spreads <= 14);
    # the local search can leave that domain, where a "violation" is the oracle's round-off
    assume(spread <= 14.0, f"logit spread {spread:.3g} > 14: outside the pinv oracle's precision")
    grad, ev = ex.policy_gradient(g, theta)
    run = npg(g, theta, lr=c.eta, iters=1, metrics=())
    parts = {}
    for i, n in enumerate(g.action_sizes):
        w = np.linalg.pinv(_fisher(g, ev, i)) @ grad[i, :, :n].ravel()
        A = ev.local_advantage(i)
        closed = A - A.mean(axis=1, keepdims=True)
        parts[f"agent{i}_direction"] = Verdict.close(
            w.reshape(A.shape), closed, "(F^i)^+ grad vs A^i - mean_a A^i",
            scale=_horizon(g))
        soft = ev.policy.probs[i, :, :n] * np.exp(c.eta * (A - A.max(axis=1, keepdims=True)))
        soft /= soft.sum(axis=1, keepdims=True)
        after = fm.ProductPolicy.from_logits(g, run.thetas[1]).probs[i, :, :n]
        parts[f"agent{i}_policy"] = Verdict.close(
            after, soft, "npg step's policy vs pi exp(eta A)/Z", scale=1.0)
    return Verdict.worst(**parts)


# ------------------------------------------------------------------ Theorem 3.8

#: Cost limit of the NPG-BR claims: inner steps x (outer iterations + 1). A draw (or a
#: shrink candidate) above it -- a potential range near 1e-6 asks for ~1e9 inner steps --
#: is filtered as beyond the budget (counted in ``filtered``), not run for hours.
MAX_NPG_STEPS = 200_000


def _npg_br_setup(g, eps_frac):
    lo, hi = ex.potential_range(g)
    assume(hi - lo > 1e-6)
    eps = eps_frac * (hi - lo)
    K = math.ceil(4 / ((1 - g.gamma) ** 2 * eps))
    assume(K * (math.ceil(2 * (hi - lo) / eps) + 1) <= MAX_NPG_STEPS,
           "beyond the cost limit MAX_NPG_STEPS")
    return lo, hi, eps, K


#: The counterexample to Thm. 3.8 the search rarely reaches (a review found it by hand): a
#: bandit with rewards (0, 1), gamma = 0, eps = 0.9 (K = 5, 3 outer iterations) started
#: from logits (20, 0): the iteration count needed grows with the initial logits.
_BANDIT_FROM_20 = Case(game=fm.games.matrix_game([0.0, 1.0]),
                       theta0=np.array([[[20.0, 0.0]]]), eps_frac=0.9)


def _npg_br_strategy():
    return st.cases(game=_mpg_games(n_agents=(1, 2), max_states=2, max_actions=3,
                                    max_gamma=0.8, rewards=RUN_REWARDS),
                    theta0=st.logits(max_peak=60.0), eps_frac=st.fractions(0.1, 0.9))


@claim("mpg_pg/thm-3.8", expected="refuted", paper=PAPER, section="Thm. 3.8; App. E.2",
       statement="NPG-BR (5, 6) with K >= 4/((1-gamma)^2 eps) inner steps reaches an eps-Nash "
                 "policy within O((Phi_max - Phi_min)/((1-gamma)^2 eps^2)) inner steps; with "
                 "the constant of App. E.2: within ceil(2 (Phi_max - Phi_min)/eps) outer "
                 "iterations of K inner steps each.",
       assumptions=("Markov potential game",),
       strategy=_npg_br_strategy, max_examples={"ci": 6}, atol=1e-10,
       tolerance="scale = 1/(1-gamma) on the gap.", examples=lambda: [_BANDIT_FROM_20])
def thm_3_8(c) -> Verdict:
    """Smallest Nash-gap over the first ceil(2 range/eps) + 1 NPG-BR policies vs eps."""
    g = c.game
    lo, hi, eps, K = _npg_br_setup(g, c.eps_frac)
    outer = math.ceil(2 * (hi - lo) / eps)
    run = npg_best_response(g, c.theta0, inner_steps=K, lr=1.0, iters=outer,
                            metrics=("nash_gap",))
    gaps = run.metrics["nash_gap"]
    return Verdict.leq(gaps.min(), eps, f"min Nash-gap over {outer} outer iterations "
                                        f"(K = {K}) vs eps = {eps:.4g}", scale=_horizon(g))


@claim("mpg_pg/thm-3.8-inner", expected="refuted",
       paper=PAPER, section="Thm. 3.8 proof (App. E.2), Sec. 3.3",
       statement="The step the proof of Thm. 3.8 rests on: K >= 4/((1-gamma)^2 eps) soft "
                 "policy-iteration steps (5) from the current logits make every agent an "
                 "eps/2-near best response to the others.",
       assumptions=("Markov potential game",), strategy=_npg_br_strategy,
       max_examples={"ci": 20}, atol=1e-10,
       tolerance="scale = 1/(1-gamma).")
def thm_3_8_inner(c) -> Verdict:
    """Best-response value minus the value after K inner steps, each agent, first step."""
    g = c.game
    _, _, eps, K = _npg_br_setup(g, c.eps_frac)
    pol = fm.ProductPolicy.from_logits(g, c.theta0)
    ev = fm.evaluate(g, pol)
    _, _, gains = best_response_step(g, np.asarray(c.theta0, np.float64), pol,
                                     inner_steps=K, lr=1.0)
    short = np.array([fm.best_response(g, pol, i).value_at_initial - ev.value_at_initial[i]
                      - gains[i] for i in range(g.n_agents)])
    return Verdict.leq(short, np.full_like(short, eps / 2),
                       f"BR value - value after K = {K} inner steps vs eps/2",
                       scale=_horizon(g))


# ------------------------------------------------------------------ Prop. 4.3

@claim("mpg_pg/prop-4.3", expected="verified", paper=PAPER, section="Prop. 4.3 (Sec. 4.1)",
       statement="(lambda, mu)-smooth rewards (lambda r_pi'(s) <= sum_i r^i_{pi'^i, pi^-i}(s) "
                 "<= mu r_pi(s)) and (kappa, nu)-smooth transitions (M_{pi'^i, pi^-i} r >= "
                 "kappa M_pi' r - nu M_pi r for r >= 0) give an (alpha, beta) = "
                 "(kappa lambda, mu nu)-smooth game: sum_i V^i_{pi'^i, pi^-i}(s) >= alpha "
                 "V_pi'(s) - beta V_pi(s).",
       assumptions=("rewards in [0, 1]", "exact best (lambda, mu); a valid nu for kappa"),
       strategy=lambda: st.cases(game=st.games(n_agents=(1, 3), max_states=3,
                                               max_actions=2, sparse=False),
                                 kappa=st.fractions(0.05, 1.0), pi=st.policies(),
                                 pi_prime=st.policies()),
       atol=1e-10, tolerance="scale = 1/(1-gamma).")
def prop_4_3(c) -> Verdict:
    """Definition 4.2 with (kappa lambda, mu nu) at the drawn pair, every state."""
    g = c.game
    lam, mu_r = ex.reward_smoothness(g)
    nu = ex.transition_certificate(g, c.kappa)
    assume(np.isfinite(nu) and (nu == 0 or np.isfinite(mu_r)))
    alpha, beta = c.kappa * lam, (mu_r * nu if nu > 0 else 0.0)
    V = fm.evaluate(g, c.pi).values.sum(axis=0)
    Vp = fm.evaluate(g, c.pi_prime).values.sum(axis=0)
    dev = sum(fm.evaluate(g, c.pi.replace(i, c.pi_prime.probs[i, :, :n])).values[i]
              for i, n in enumerate(g.action_sizes))
    with np.errstate(over="ignore", invalid="ignore"):
        rhs = alpha * Vp - beta * V
    # a smoothness constant mu near float64's limit (near-tie or tiny rewards) makes the
    # bound -inf: true and empty, so such draws say nothing
    assume(bool(np.all(np.isfinite(rhs))), "alpha V_pi' - beta V_pi overflows (vacuous bound)")
    return Verdict.geq(dev, rhs,
                       f"sum_i V^i(pi'^i, pi^-i) vs alpha V_pi' - beta V_pi (lambda = "
                       f"{lam:.3g}, mu = {mu_r:.3g}, kappa = {c.kappa:.3g}, nu = {nu:.3g})",
                       scale=_horizon(g))


# ------------------------------------------------------------------ Thm. 4.5

def _best_response_dynamics(g, pol, steps):
    for _ in range(steps):
        ev = fm.evaluate(g, pol)
        gains = [fm.best_response(g, pol, i).value_at_initial - ev.value_at_initial[i]
                 for i in range(g.n_agents)]
        i = int(np.argmax(gains))
        if gains[i] <= 1e-12:
            break
        pol = fm.best_response(g, pol, i).policy
    return pol


def _ratio_eps(g, pol, ev=None):
    """Smallest eps with (1 - eps) max V^i_BR(mu) <= V^i(mu) for every agent (Def. 4.4,
    read as in the proof of Thm. 4.5)."""
    ev = fm.evaluate(g, pol) if ev is None else ev
    eps = 0.0
    for i in range(g.n_agents):
        br = fm.best_response(g, pol, i).value_at_initial
        if br > 0:
            eps = max(eps, 1.0 - ev.value_at_initial[i] / br)
    return min(max(eps, 0.0), 1.0)


#: Reward floors of the lifted games of thm-4.5 (``floor + (1 - floor) r``): near the
#: boundary (alpha -> 0) and well inside.
REWARD_FLOORS = (1e-3, 0.05, 0.25)
#: Weight of the uniform kernel mixed into transitions whose visits are too small for a
#: transition certificate (thm-4.5's general and identical games only).
CERT_MIX = 1e-3


def _tag(new, old, what: str):
    fam = getattr(old, "_proofs_check_family", None)
    new._proofs_check_family = f"{fam}, {what}" if fam else what
    return new


def _lift_rewards(g, floor: float):
    """Rewards (and an identical-interest potential) ``floor + (1 - floor) r``: every
    joint action pays every agent at least ``floor`` > 0, so the reward smoothness
    constants of Prop. 4.3 are positive and finite and the social optimum is positive."""
    pot = None if g.potential is None else floor + (1 - floor) * g.joint_potential()
    return _tag(g.with_rewards(floor + (1 - floor) * g.joint_rewards(), potential=pot), g,
                f"rewards lifted to >= {floor:g}")


def _mix_transitions(g, w: float = CERT_MIX):
    """Transitions ``(1 - w) P + w / S`` (every state reachable from every state, so the
    transition certificate of Prop. 4.3 exists), and a discount below 1e-6 set to 0 (the
    certificate counts visits ``gamma P`` below ``VISIT_FLOOR`` as none); for general and
    identical-interest games only (their potential, if any, involves no transition)."""
    P = (1 - w) * np.asarray(g.transition) + w / g.n_states
    gamma = g.gamma if g.gamma >= 1e-6 else 0.0
    out = fm.MarkovGame(transition=P, rewards=np.asarray(g.rewards), gamma=gamma,
                        initial=np.asarray(g.initial), action_sizes=g.action_sizes,
                        potential=None if g.potential is None else np.asarray(g.potential))
    return _tag(out, g, f"transitions mixed with {w:g} uniform" +
                ("" if gamma == g.gamma else ", gamma 0"))


def _smooth_games():
    """thm-4.5's games, satisfying its assumptions by construction: the game as drawn
    (every structured reward family, full-support transitions) when it has a positive
    social optimum and a certified (alpha, beta) pair; otherwise its rewards lifted to
    ``>= floor`` (:func:`_lift_rewards`, floor from :data:`REWARD_FLOORS`), and if the
    transitions still admit no certificate (near-deterministic rows), mixed with
    :data:`CERT_MIX` of the uniform kernel (:func:`_mix_transitions`). Before this, 50-64%
    of the draws were filtered (zero rewards make lambda = 0, no valid pair)."""
    base = st.games(n_agents=(2, 3), max_states=2, max_actions=3,
                    kind=("general", "identical"), sparse=False)

    @hst.composite
    def draw(draw):
        g = draw(base)
        floor = draw(hst.sampled_from(REWARD_FLOORS))
        if fm.social_optimum(g).value > 1e-9 and ex.smoothness_pairs(g):
            return g
        g = _lift_rewards(g, floor)
        if not ex.smoothness_pairs(g):
            g = _mix_transitions(g)
        return g

    return draw()


@claim("mpg_pg/thm-4.5", expected="verified", paper=PAPER, section="Thm. 4.5, Def. 4.4 (Sec. 4.2)",
       statement="In an (alpha, beta)-smooth Markov game the POA of an eps-ratio-Nash policy "
                 "((1-eps) max V^i_BR(mu) <= V^i(mu) for all i) is at least (1-eps) alpha / "
                 "(1 + (1-eps) beta).",
       assumptions=("rewards in [0, 1]", "positive social optimum",
                    "(alpha, beta) valid for the game"),
       strategy=lambda: st.cases(game=_smooth_games(), policy=st.policies(),
                                 br_steps=hst.integers(0, 6)),
       atol=1e-10, tolerance="scale = 1 (POA is a ratio).")
def thm_4_5(c) -> Verdict:
    """POA of the policy (after a few best-response steps) vs the bound, every valid pair."""
    g = c.game
    opt = fm.social_optimum(g).value
    assume(opt > 1e-9)
    pol = _best_response_dynamics(g, c.policy, c.br_steps)
    eps = _ratio_eps(g, pol)
    pairs = ex.smoothness_pairs(g)
    assume(pairs)
    bound = max((1 - eps) * a / (1 + (1 - eps) * b) for a, b, _ in pairs)
    return Verdict.geq(fm.price_of_anarchy(g, pol), bound,
                       f"POA vs max over {len(pairs)} valid (alpha, beta) of (1-eps) alpha/"
                       f"(1 + (1-eps) beta), eps = {eps:.4g}")


# ------------------------------------------------------------------ Thm. 4.7, Cor. 4.8

def _assumption_4_6(g) -> bool:
    """0 < Phi_pi(s) <= V_pi(s) for every policy and state (exact)."""
    lo, _ = ex.potential_range(g)
    slack = ex.extreme_values(g, g.joint_rewards().sum(axis=0) - g.joint_potential(), False).min()
    return lo > 1e-9 and slack >= -1e-12


def _positive_mpgs(max_states, rewards=None):
    # two actions per agent: with one-action agents the potential range is often 0 and
    # the claims are vacuous (those draws were most of the filtered ones)
    return st.games(n_agents=(2, 3), max_states=max_states, max_actions=(2, 2),
                    kind=("identical", "potential"), max_gamma=0.9,
                    rewards=rewards).map(_shift_potential)


def _shift_potential(g):
    """Rewards 0.1 + 0.9 r and phi 0.1 + 0.9 phi: Phi > 0, same MPG structure."""
    out = g.with_rewards(0.1 + 0.9 * g.joint_rewards(),
                         potential=0.1 + 0.9 * g.joint_potential())
    out._proofs_check_family = getattr(g, "_proofs_check_family", None)
    return out


def _count_bad(g, policies, alpha, beta, sigma):
    opt = fm.social_optimum(g).value
    target = alpha / ((1 + beta) * (1 + sigma)) * opt
    vals = np.array([fm.evaluate(g, p).value_at_initial.sum() for p in policies])
    return int(np.sum(vals < target - 1e-12 * max(1.0, opt)))


def thm_4_7_counterexample():
    """The counterexample the 1000-example thorough search found (issue 12; seed 0, ~840
    examples): one state, gamma 0; agent 0's actions pay (0.1, 0.55), agent 1 (one action)
    gets phi = (0.55, 1.0): an MPG (r^0 = phi - 0.45, agent 1 a dummy) with 0 < Phi <= V;
    pi_0 = softmax(1, 0). Kept as the claim's explicit example: the search does not find
    it on every run (later campaigns of 1000 missed it), and a refuted claim's status must
    not depend on the luck of one."""
    g = fm.MarkovGame(np.ones((1, 2, 1)), np.array([[[0.1, 0.55]], [[0.55, 1.0]]]), 0.0,
                      action_sizes=(2, 1), potential=np.array([[0.55, 1.0]]))
    p0 = 1 / (1 + np.exp(-1.0))
    pol = fm.ProductPolicy(g, np.array([[[p0, 1 - p0]], [[1.0, 0.0]]]))
    return Case(game=g, policy=pol, eps=0.5, sigma=1.0)


@claim("mpg_pg/thm-4.7", expected="refuted",
       paper=PAPER, section="Thm. 4.7, eqs. (7)-(8); App. F.1",
       statement="Along maximum-gain eps-ratio-best-response dynamics pi_0..pi_T (until eps-"
                 "ratio-Nash) in an (alpha, beta)-smooth MPG with 0 < Phi <= V, all but at "
                 "most log_rho(Phi_max/Phi_0) - T log_rho(1/(1-eps)) policies satisfy (8) "
                 "V(mu) >= alpha/((1+beta)(1+sigma)) V_pi*(mu), rho = (1-eps)(1 + sigma "
                 "(1+beta)/N).",
       assumptions=("Markov potential game", "Assumption 4.6", "rho > 1"),
       strategy=lambda: st.cases(game=_positive_mpgs(2), policy=st.policies(),
                                 eps=st.unit_floats(0.01, 0.5), sigma=st.unit_floats(0.05, 4.0)),
       max_examples={"ci": 10}, atol=1e-9,
       tolerance="counts are integers; atol covers round-off in the log bound.",
       examples=lambda: [thm_4_7_counterexample()])
def thm_4_7(c) -> Verdict:
    """Number of policies violating (8) vs (7), for every valid (alpha, beta)."""
    g = c.game
    assume(_assumption_4_6(g))
    _, phi_max = ex.potential_range(g)
    seq, pol = [c.policy], c.policy
    for _ in range(50):
        ev = fm.evaluate(g, pol)
        brs = [fm.best_response(g, pol, i) for i in range(g.n_agents)]
        ok = all((1 - c.eps) * b.value_at_initial <= v + 1e-12
                 for b, v in zip(brs, ev.value_at_initial))
        if ok:
            break
        i = int(np.argmax([b.value_at_initial - v for b, v in zip(brs, ev.value_at_initial)]))
        pol = brs[i].policy
        seq.append(pol)
    assume(ok)
    T = len(seq) - 1
    phi0 = fm.evaluate(g, seq[0]).potential_at_initial
    out = []
    for alpha, beta, src in ex.smoothness_pairs(g):
        rho = (1 - c.eps) * (1 + c.sigma * (1 + beta) / g.n_agents)
        if rho <= 1 + 1e-9:
            continue
        bound = (math.log(phi_max / phi0) - T * math.log(1 / (1 - c.eps))) / math.log(rho)
        out.append(Verdict.leq(_count_bad(g, seq, alpha, beta, c.sigma), bound,
                               f"# policies violating (8) vs (7); T = {T}, alpha = "
                               f"{alpha:.3g}, beta = {beta:.3g} ({src})"))
    assume(out)
    return Verdict.worst(*out)


def _bump_flat_potential(g, s0: int, a0: int, h: float = 0.05):
    """A game whose potential is (nearly) constant gets ``h`` at ``(s0, a0)``, in the
    potential and in every agent's reward alike (``r' = (1-h) r + h e``, ``phi' = (1-h)
    phi + h e``): still an MPG (``r^i - phi`` only scaled), ``0 < Phi <= V`` kept, rewards
    in [0, 1], and the potential range positive."""
    e = np.zeros((g.n_states, g.n_joint_actions))
    e[s0 % g.n_states, a0 % g.n_joint_actions] = h
    out = g.with_rewards((1 - h) * g.joint_rewards() + e[None],
                         potential=(1 - h) * g.joint_potential() + e)
    return _tag(out, g, f"potential bumped at ({s0 % g.n_states}, {a0 % g.n_joint_actions})")


@hst.composite
def _cor_4_8_cases(draw):
    """cor-4.8's instances, satisfying its assumptions by construction (before: 54-65%
    filtered). Positive MPGs (rewards and potential ``0.1 + 0.9 x``, Assumption 4.6) with
    full-support transitions (sparse kernels leave states unvisited: no (alpha, beta)
    certificate) and every reward family but near-ties; a flat potential gets a bump
    (:func:`_bump_flat_potential`); ``sigma`` as drawn when some valid (alpha, beta) has
    ``rho > 1``, else ``sigma_min (1 + u) + 1e-6`` with ``sigma_min = N (growth - 1) /
    (1 + max beta)`` the smallest sigma giving ``rho > 1`` (the claim quantifies over
    every such sigma)."""
    g = draw(st.games(n_agents=(2, 3), max_states=2, max_actions=(2, 2),
                      kind=("identical", "potential"), max_gamma=0.9, rewards=RUN_REWARDS,
                      sparse=False).map(_shift_potential))
    lo, hi = ex.potential_range(g)
    if hi - lo <= 1e-6:
        g = _bump_flat_potential(g, draw(hst.integers(0, 1)), draw(hst.integers(0, 7)))
        lo, hi = ex.potential_range(g)
    theta0 = draw(st.logits(g, max_peak=10.0))
    eps_frac = draw(st.fractions(0.05, 0.5))
    sigma = draw(st.unit_floats(0.05, 4.0))
    pairs = ex.smoothness_pairs(g)
    if pairs:
        growth = 1 + eps_frac * (hi - lo) / (2 * (1 - g.gamma))
        rho = lambda b: (1 + sigma * (1 + b) / g.n_agents) / growth  # noqa: E731
        if not any(rho(b) > 1 + 1e-9 for _, b, _ in pairs):
            beta = max(b for _, b, _ in pairs)
            u = draw(st.unit_floats(1e-3, 1.0))
            sigma = g.n_agents * (growth - 1) / (1 + beta) * (1 + u) + 1e-6
    return Case(game=g, theta0=theta0, eps_frac=eps_frac, sigma=float(sigma))


@claim("mpg_pg/cor-4.8", expected="refuted", paper=PAPER, section="Cor. 4.8, eq. (9); App. F.2",
       statement="Along NPG-BR (5, 6) with K >= 4/((1-gamma)^2 eps), pi_0..pi_T (until eps-"
                 "Nash) in an (alpha, beta)-smooth MPG with 0 < Phi <= V, all but at most "
                 "log_rho(Phi_max/Phi_0) - T log_rho(1 + eps/(2(1-gamma))) policies satisfy "
                 "(8), rho = (1 + sigma(1+beta)/N)/(1 + eps/(2(1-gamma))).",
       assumptions=("Markov potential game", "Assumption 4.6", "rho > 1"),
       strategy=_cor_4_8_cases,
       max_examples={"ci": 6}, atol=1e-9,
       tolerance="counts are integers; atol covers round-off in the log bound.")
def cor_4_8(c) -> Verdict:
    """Number of NPG-BR policies violating (8) vs (9), for every valid (alpha, beta)."""
    g = c.game
    assume(_assumption_4_6(g))
    lo, phi_max = ex.potential_range(g)
    assume(phi_max - lo > 1e-6)
    eps = c.eps_frac * (phi_max - lo)
    K = math.ceil(4 / ((1 - g.gamma) ** 2 * eps))
    assume(K * (math.ceil(2 * (phi_max - lo) / eps) + 3) <= MAX_NPG_STEPS,
           "beyond the cost limit MAX_NPG_STEPS")
    run = npg_best_response(g, c.theta0, inner_steps=K, lr=1.0,
                            iters=math.ceil(2 * (phi_max - lo) / eps) + 2,
                            metrics=("nash_gap", "potential"))
    hit = np.nonzero(run.metrics["nash_gap"] <= eps)[0]
    assume(hit.size > 0)
    T = int(hit[0])
    seq = run.policies[:T + 1]
    phi0 = run.metrics["potential"][0]
    growth = 1 + eps / (2 * (1 - g.gamma))
    out = []
    for alpha, beta, src in ex.smoothness_pairs(g):
        rho = (1 + c.sigma * (1 + beta) / g.n_agents) / growth
        if rho <= 1 + 1e-9:
            continue
        bound = (math.log(phi_max / phi0) - T * math.log(growth)) / math.log(rho)
        out.append(Verdict.leq(_count_bad(g, seq, alpha, beta, c.sigma), bound,
                               f"# policies violating (8) vs (9); T = {T}, alpha = "
                               f"{alpha:.3g}, beta = {beta:.3g} ({src})"))
    assume(out)
    return Verdict.worst(*out)
