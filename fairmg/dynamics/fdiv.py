r"""f-divergence policy iteration, TVPO and the unary formulation (paper 003).

All dynamics run on general Markov games through the shared driver
:func:`fairmg.dynamics.run.iterate`: each iteration the policy is evaluated once
(:func:`fairmg.evaluate`) and every agent i updates every state from its decentralized
critic :math:`Q_i^{\pi_{old}}(s, a_i) = E_{a_{-i}\sim\pi^{-i}_{old}}[Q^{\pi_{old}}(s, a_i,
a_{-i})]` (eq. 3; ``ev.local_q(i)``, its own reward ``R[i]``), simultaneously:

* :func:`fdiv_iteration`: eq. (4) with any f-divergence (Lemma 1, eq. 6);
* :func:`tvpo`: eq. (13), TV with :math:`\omega = (N-1)M/N`, :math:`M = 2r_{max}/(1-\gamma)`
  (Theorem 1);
* :func:`practical_tvpo`: eqs. (14)-(15), TV with an adaptive per-agent coefficient on the
  exact advantages :math:`A_i = Q_i - V`;
* :func:`unary_iteration`: eq. (44) (Appendix E.1), entropy or Tsallis regularizer.

Also the objects of the theory: :func:`decentralized_critic` (eq. 3 solved as the fixed
point of its operator, independently of :func:`fairmg.evaluate`),
:func:`decentralized_value` / :func:`decentralized_q` (eqs. 8-9), :func:`tvpo_omega`, and
the two-player matrix game of Table 1 (:func:`alice_bob_game`, :func:`alice_bob_policy`).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..divergences import (fdiv_argmax, get_divergence, get_regularizer,
                           tv_distance, unary_argmax)
from ..evaluate import Evaluation, policy_values
from ..games import matrix_game
from .._validate import (MAX_MAGNITUDE, check_choice, check_game, check_probability,
                           check_scalar)
from ..games.base import Game
from ..policy import ProductPolicy
from .run import METRICS, Run, iterate

__all__ = ["fdiv_iteration", "tvpo", "practical_tvpo", "unary_iteration", "fdiv_step",
           "unary_step", "tvpo_omega", "value_bound", "decentralized_critic",
           "decentralized_value", "decentralized_q", "alice_bob_game", "alice_bob_policy"]


# -- input checks -------------------------------------------------------------------------
def _check_game_policy(game, pol0) -> None:
    check_game(game).check_policy(pol0, "pol0")


# -- one step ---------------------------------------------------------------------------
def fdiv_step(ev: Evaluation, divergence, omega: float) -> ProductPolicy:
    r"""One simultaneous step of (4) for every agent and state, from an evaluation.

    :math:`\pi^i_{new}(\cdot|s) = \arg\max_\pi \sum_{a_i}\pi(a_i) Q_i^{\pi_{old}}(s,a_i)
    - \omega D_f(\pi \| \pi^i_{old}(\cdot|s))`, solved exactly by
    :func:`fairmg.divergences.fdiv_argmax`.
    """
    game, pol = ev.game, ev.policy
    probs = np.zeros_like(pol.probs)
    for i, n in enumerate(game.action_sizes):
        step = fdiv_argmax(ev.local_q(i), pol.probs[i, :, :n], divergence, omega)
        probs[i, :, :n] = step.probs
    return ProductPolicy(game, probs)


def unary_step(ev: Evaluation, regularizer, omega: float) -> ProductPolicy:
    r"""One simultaneous step of the unary update (44) for every agent and state."""
    game = ev.game
    probs = np.zeros_like(ev.policy.probs)
    for i, n in enumerate(game.action_sizes):
        probs[i, :, :n] = unary_argmax(ev.local_q(i), regularizer, omega).probs
    return ProductPolicy(game, probs)


# -- the dynamics -------------------------------------------------------------------------
def fdiv_iteration(game, pol0: ProductPolicy, divergence="kl",
                   omega: float = 1.0, iters: int = 200, *,
                   metrics: Sequence[str] = METRICS, progress: bool = False) -> Run:
    r"""f-divergence policy iteration (003, eq. 4; Sec. 4.1, Fig. 1).

    Parameters
    ----------
    game : MarkovGame
    pol0 : ProductPolicy
        pi_0. Actions it gives probability 0 stay at 0 unless f'(inf) is finite.
    divergence : {"kl", "tv", "chi2", "hellinger", "reverse_kl"} or FDivergence
    omega : float
        The weight omega > 0 of the divergence.
    iters : int
    metrics : sequence of str
        Metrics the driver records (:data:`fairmg.dynamics.run.METRICS`).
    progress : bool

    Returns
    -------
    Run
        ``run.policies`` pi_0..pi_T and the driver's metrics.
    """
    _check_game_policy(game, pol0)
    f = get_divergence(divergence)
    omega = check_scalar(omega, "omega", positive=True)
    return iterate(game, pol0, lambda pol, ev: fdiv_step(ev, f, omega), lambda pol: pol,
                   iters, name=f"fdiv[{f.name}]",
                   params={"divergence": f.name, "omega": omega, "iters": iters},
                   metrics=metrics, keep="none", progress=progress)


def value_bound(game) -> float:
    r""":math:`M = 2 r_{max} / (1-\gamma)` of Lemma 2 (r_max = max |r^i(s, a)|), a bound on
    the range of every Q-value: :math:`|Q^\pi| \le M/2`."""
    check_game(game)
    return 2.0 * game.max_abs_reward / (1.0 - game.gamma)


def tvpo_omega(game, rule: str = "paper") -> float:
    r"""The TV weight of TVPO.

    ``rule="paper"``: :math:`\omega = (N-1)M/N` of Theorem 1.
    ``rule="monotone"``: :math:`\omega = (N-1)M`, the weight for which the proof's own
    steps do give :math:`V^{\pi_{t+1}} \ge V^{\pi_t}`: each agent's step guarantees
    :math:`\pi^i_{t+1}\cdot Q_i \ge V + \omega D_{TV}^i`, the average over agents gives
    :math:`V + (\omega/N)\sum_i D^i_{TV}`, and Lemma 2 subtracts
    :math:`((N-1)M/N)\sum_i D^i_{TV}`; the performance-difference lemma then needs
    :math:`\omega/N \ge (N-1)M/N`. (The paper's weight is N times too small: see the
    ``fdiv/thm-1`` claim for counterexamples.)
    """
    N = check_game(game).n_agents
    M = value_bound(game)
    if rule == "paper":
        return (N - 1) * M / N
    if rule == "monotone":
        return (N - 1) * M
    raise ValueError(f"rule must be 'paper' or 'monotone', got {rule!r}")


def tvpo(game, pol0: ProductPolicy, omega: float | None = None,
         iters: int = 200, *, metrics: Sequence[str] = METRICS,
         progress: bool = False) -> Run:
    r"""Total variation policy optimization (003, eq. 13, Theorem 1).

    Every agent maximizes
    :math:`\sum_{a_i}\pi^i(a_i|s) Q_i^{\pi_t}(s,a_i) - \omega D_{TV}(\pi^i\|\pi^i_t)`
    exactly (closed form: mass moves to the best action from every action worse by
    more than omega).

    Parameters
    ----------
    omega : float or None
        None: the paper's :math:`(N-1)M/N`, :math:`M = 2 r_{max}/(1-\gamma)`
        (:func:`tvpo_omega`); ``tvpo_omega(game, "monotone")`` gives the weight with a
        valid monotonicity proof. 0 is plain simultaneous policy iteration.
    """
    _check_game_policy(game, pol0)
    rule = "paper" if omega is None else "given"
    omega = tvpo_omega(game) if omega is None else check_scalar(omega, "omega")
    f = get_divergence("tv")
    return iterate(game, pol0, lambda pol, ev: fdiv_step(ev, f, omega), lambda pol: pol,
                   iters, name="tvpo", params={"omega": omega, "omega_rule": rule,
                                               "iters": iters},
                   metrics=metrics, keep="none", progress=progress)


def practical_tvpo(game, pol0: ProductPolicy, iters: int = 200, *,
                   beta0: float = 0.01, d_target: float = 0.001, delta: float = 1.5,
                   alpha: float = 2.0, divergence="tv",
                   metrics: Sequence[str] = METRICS, progress: bool = False,
                   evaluator=None) -> Run:
    r"""Practical TVPO (003, Sec. 4.3, eqs. 14-15, Algorithm 1) on exact advantages.

    Each agent maximizes
    :math:`\sum_{a_i}\pi^i(a_i|s) A_i^{\pi_t}(s,a_i) - \beta^i D(\pi^i\|\pi^i_t)` with
    :math:`A_i = Q_i - V` (eq. 14; exact, no critic), then adapts its coefficient (15):
    :math:`\beta^i \leftarrow \alpha\beta^i` if :math:`\bar D^i > \delta d_{target}`,
    :math:`\beta^i \leftarrow \beta^i/\alpha` if :math:`\bar D^i < d_{target}/\delta`,
    where :math:`\bar D^i` is :math:`D_{TV}(\pi^i_{t+1}\|\pi^i_t)` averaged over states
    under the normalized visitation :math:`(1-\gamma) d^{\pi_t}_\mu` (the sampled
    algorithm averages it over visited states).

    Parameters
    ----------
    beta0, d_target, delta, alpha : float
        Table 3 of 003: initial beta 0.01, d_target 0.001, delta 1.5; alpha = 2 as in
        the text (Table 3 labels it omega).
    divergence : {"tv", "hellinger"} or FDivergence
        TV (eq. 14) or any f-divergence (eq. 17 uses Hellinger for continuous actions).
    evaluator : callable, optional
        The driver's evaluator (default exact); ``fairmg.sampled.Evaluator(...)`` runs the
        sampled algorithm of practice (Monte Carlo advantages and visitation).

    Returns
    -------
    Run
        ``run.states[t] = (policy_t, beta_t)`` with ``beta_t`` of shape (N,).
    """
    _check_game_policy(game, pol0)
    beta0 = check_scalar(beta0, "beta0", positive=True)
    d_target = check_scalar(d_target, "d_target", positive=True)
    delta = check_scalar(delta, "delta", positive=True)
    alpha = check_scalar(alpha, "alpha", positive=True)
    if delta < 1 or alpha < 1:
        raise ValueError(f"delta and alpha must be >= 1, got delta={delta}, alpha={alpha}")
    f = get_divergence(divergence)

    def step(state, ev: Evaluation):
        pol, beta = state
        probs = np.zeros_like(pol.probs)
        weights = ev.visitation / ev.visitation.sum()
        new_beta = beta.copy()
        for i, n in enumerate(game.action_sizes):
            old = pol.probs[i, :, :n]
            new = fdiv_argmax(ev.local_advantage(i), old, f, beta[i]).probs
            probs[i, :, :n] = new
            moved = float(weights @ tv_distance(new, old))
            if moved > d_target * delta:
                new_beta[i] = beta[i] * alpha
            elif moved < d_target / delta:
                new_beta[i] = beta[i] / alpha
        return ProductPolicy(game, probs), new_beta

    state0 = (pol0, np.full(game.n_agents, beta0))
    return iterate(game, state0, step, lambda st: st[0], iters, name="practical_tvpo",
                   params={"beta0": beta0, "d_target": d_target, "delta": delta,
                           "alpha": alpha, "divergence": f.name, "iters": iters},
                   metrics=metrics, keep="states", progress=progress, evaluator=evaluator)


def unary_iteration(game, pol0: ProductPolicy, regularizer="entropy",
                    omega: float = 1.0, iters: int = 200, *,
                    metrics: Sequence[str] = METRICS, progress: bool = False) -> Run:
    r"""The unary formulation (003, Appendix E.1, eq. 44; Fig. 6).

    :math:`\pi^i_{new} = \arg\max_{\pi^i}\sum_{a_i}\pi^i(a_i|s) Q_i^{\pi_{old}}(s,a_i)
    + \omega\sum_{a_i}\pi^i(a_i|s)\phi(\pi^i(a_i|s))`, solved exactly by Lemma 3 (eq. 45).
    The update does not depend on pi_old except through the critic.

    Parameters
    ----------
    regularizer : {"entropy", "tsallis"} or UnaryRegularizer
        phi(x) = -log x (entropy: softmax(Q/omega)), or Tsallis q=2, k=1/2.
    omega : float
        > 0.
    """
    _check_game_policy(game, pol0)
    reg = get_regularizer(regularizer)
    omega = check_scalar(omega, "omega", positive=True)
    return iterate(game, pol0, lambda pol, ev: unary_step(ev, reg, omega), lambda pol: pol,
                   iters, name=f"unary[{reg.name}]",
                   params={"regularizer": reg.name, "omega": omega, "iters": iters},
                   metrics=metrics, keep="none", progress=progress)


# -- the objects of the theory ---------------------------------------------------------
def decentralized_critic(game, policy: ProductPolicy, agent: int) -> np.ndarray:
    r"""Q_i of eq. (3), the unique fixed point of the operator :math:`\Gamma^{\pi^i}_{\pi^{-i}}`.

    :math:`Q(s,a_i) = r_{\pi^{-i}}(s,a_i) + \gamma E_{a_{-i}\sim\pi^{-i},\,s'\sim P,\,
    a_i'\sim\pi^i}[Q(s',a_i')]`, solved as one linear system in the S*A_i unknowns from
    the agent's MDP (:meth:`MarkovGame.agent_mdp`), independently of
    :func:`fairmg.evaluate`. Shape (S, A_i).
    """
    agent = check_game(game).check_agent(agent)
    P_i, r_i = game.agent_mdp(policy, agent)
    S, n = r_i.shape
    pi_i = policy.probs[agent, :, :n]                                  # (S, A_i)
    # T[(s,a), (s',a')] = P_i(s'|s,a) pi^i(a'|s')
    T = (P_i[:, :, :, None] * pi_i[None, None, :, :]).reshape(S * n, S * n)
    Q = np.linalg.solve(np.eye(S * n) - game.gamma * T, r_i.reshape(-1))
    return Q.reshape(S, n)


def _shared_reward(game, policy: ProductPolicy) -> np.ndarray:
    """The shared reward r(s, a) as a joint table (S, A); raises unless all agents share it."""
    everyone = tuple(range(game.n_agents))
    R = game.reward_marginal(policy, everyone).reshape(game.n_agents, game.n_states, -1)
    if not np.all(R == R[0]):
        i = int(np.argmax(np.any(R != R[0], axis=(1, 2))))
        raise ValueError(f"the decentralized value (8) of 003 needs a shared reward; "
                         f"agent {i}'s reward differs from agent 0's")
    return R[0]


def _mixture_components(pi: ProductPolicy, rho: ProductPolicy) -> list[ProductPolicy]:
    r"""The product policies :math:`\pi^i \times \rho^{-i}`, i = 1..N, whose (1/N) mixture
    is the joint action law of eq. (8)."""
    return [rho.mix(pi, [i]) for i in range(pi.game.n_agents)]


def decentralized_value(game, pi: ProductPolicy, rho: ProductPolicy,
                        divergence, omega: float, *,
                        penalty: str = "paper") -> np.ndarray:
    r""":math:`V^\pi_\rho(s)` of eq. (8), the fixed point of :math:`\Gamma^\pi_\rho`, shape (S,).

    .. math:: V^\pi_\rho(s) = \frac1N\sum_i\sum_{a_i}\pi^i(a_i|s)\sum_{a_{-i}}
              \rho^{-i}(a_{-i}|s) Q^\pi_\rho(s,a_i,a_{-i})
              - \omega\sum_i D_f(\pi^i(\cdot|s)\|\rho^i(\cdot|s)),

    :math:`Q^\pi_\rho = r + \gamma P V^\pi_\rho` (eq. 9). The print of (8) leaves open
    whether the penalty sits inside the 1/N average; ``penalty="paper"`` is the reading
    of the paper's own proofs (A.5, eq. 36; A.6, eq. 40: :math:`-\omega\sum_i D_f`, not
    divided by N); ``penalty="averaged"`` divides it by N. The (1/N) mixture of the
    product policies :math:`\pi^i\times\rho^{-i}` is a distribution over joint actions,
    so V solves one linear system (shared reward only).
    """
    check_game(game).check_policy(pi, "pi")
    game.check_policy(rho, "rho")
    _shared_reward(game, pi)
    f = get_divergence(divergence)
    omega = check_scalar(omega, "omega")
    penalty = check_choice(penalty, "penalty", ("paper", "averaged"))
    parts = _mixture_components(pi, rho)
    P_w = sum(game.policy_transition(p) for p in parts) / game.n_agents
    r_w = sum(game.policy_rewards(p)[0] for p in parts) / game.n_agents
    per_agent = [np.asarray(f.value(pi.probs[i], rho.probs[i]), dtype=np.float64)
                 for i in range(game.n_agents)]
    for i, d in enumerate(per_agent):
        if not np.all(np.isfinite(d)):
            s = int(np.argmax(~np.isfinite(d)))
            raise ValueError(f"pi and rho: D_{f.name}(pi^{i} || rho^{i}) is infinite in "
                             f"state {s} (pi[{i}, {s}] = {pi.probs[i, s].tolist()} against "
                             f"rho[{i}, {s}] = {rho.probs[i, s].tolist()}), so V_rho^pi is "
                             f"-inf there")
    pen = sum(per_agent)
    if penalty == "averaged":
        pen = pen / game.n_agents
    V, _ = policy_values(P_w, (r_w - omega * pen)[None, :], game.gamma, game.initial)
    return V[0]


def decentralized_q(game, pi: ProductPolicy, rho: ProductPolicy, divergence,
                    omega: float, *, penalty: str = "paper") -> np.ndarray:
    r""":math:`Q^\pi_\rho(s, \mathbf a) = r(s,\mathbf a) + \gamma E_{s'}[V^\pi_\rho(s')]`
    (eq. 9), shape (S, A)."""
    V = decentralized_value(game, pi, rho, divergence, omega, penalty=penalty)
    everyone = tuple(range(game.n_agents))
    cont = game.continuation(V[None], pi, everyone).reshape(game.n_states, -1)
    return _shared_reward(game, pi) + game.gamma * cont


# -- Table 1: the two-player matrix game ------------------------------------------------
def alice_bob_game(a: float, b: float, c: float, d: float) -> Game:
    r"""The 2x2 game of 003, Table 1: shared reward a, b, c, d for the joint actions
    (u_A^0, u_B^0), (u_A^0, u_B^1), (u_A^1, u_B^0), (u_A^1, u_B^1). Alice is agent 0."""
    payoffs = np.empty((2, 2))
    for k, (name, v) in enumerate((("a", a), ("b", b), ("c", c), ("d", d))):
        v = check_scalar(v, name, allow_negative=True)
        if abs(v) > MAX_MAGNITUDE:
            raise ValueError(f"{name} is {v!r}, expected |{name}| <= {MAX_MAGNITUDE:g} "
                             f"(rescale it)")
        payoffs[k // 2, k % 2] = v
    return matrix_game(payoffs)


def alice_bob_policy(game, p: float, q: float) -> ProductPolicy:
    """Alice plays u_A^0 with probability p, Bob plays u_B^0 with probability q."""
    p, q = check_probability(p, "p"), check_probability(q, "q")
    if check_game(game).action_sizes != (2, 2) or game.n_states != 1:
        raise ValueError(f"alice_bob_policy needs a one-state 2x2 game, got {game!r}")
    return ProductPolicy(game, np.array([[[p, 1 - p]], [[q, 1 - q]]]))
