r"""Small social-dilemma Markov games for Anticipation Sharing (004, Sec. 5.1).

* :func:`iterated_prisoners_dilemma` -- the sequential Prisoner's Dilemma the paper cites
  as the prototype of its setting (Sec. 1, Sec. 5.3 "Exchange ... an extension of the
  sequential Prisoner's Dilemma"): the state is the previous joint action.
* :func:`public_goods` -- a public-goods Markov game: a shared stock that contributions
  raise and that decays, every agent is paid from the stock and pays for its own
  contribution.
* :func:`cooperative_predation` -- a small discretised C. Predation with the payoff table
  of Sec. 5.1 (both toward: -1 each; both away: -3 each; mixed: the one moving toward
  -4, the other 0).

In all three the selfish equilibrium ("defect"/"free ride"/"away" everywhere) is a Nash
equilibrium and is not the social optimum (tests check it with :func:`fairmg.nash_gap`
and :func:`fairmg.social_optimum`). Action 0 is always the cooperative one
("cooperate", "contribute", "toward").
"""
from __future__ import annotations

import itertools

import numpy as np

from .._validate import as_float_array, check_gamma, check_int, check_scalar
from .dense import MarkovGame

__all__ = ["iterated_prisoners_dilemma", "public_goods", "cooperative_predation",
           "PREDATION_PAYOFFS", "PD_PAYOFFS"]

#: Prisoner's dilemma payoffs (R, S, T, P): mutual cooperation, sucker, temptation,
#: mutual defection (T > R > P > S, 2R > T + S).
PD_PAYOFFS = (3.0, 0.0, 5.0, 1.0)
#: C. Predation, Sec. 5.1: ``[a_0, a_1] -> (r_0, r_1)``, action 0 toward, 1 away.
PREDATION_PAYOFFS = np.array([[[-1.0, -4.0], [0.0, -3.0]],
                              [[-1.0, 0.0], [-4.0, -3.0]]])   # [agent, a_0, a_1]


def iterated_prisoners_dilemma(gamma: float = 0.9, payoffs=PD_PAYOFFS) -> MarkovGame:
    """Two agents, actions (cooperate, defect); 5 states: the start and the previous joint
    action (CC, CD, DC, DD); the stage payoffs ``(R, S, T, P)`` every step; starts at
    state 0."""
    gamma = check_gamma(gamma)
    R_, S_, T_, P_ = as_float_array(payoffs, "payoffs", 1)
    stage = np.array([[[R_, S_], [T_, P_]], [[R_, T_], [S_, P_]]])  # [agent, a0, a1]
    S, A = 5, 4
    P = np.zeros((S, A, S))
    P[:, np.arange(A), 1 + np.arange(A)] = 1.0
    R = np.broadcast_to(stage.reshape(2, 1, A), (2, S, A)).copy()
    mu = np.zeros(S)
    mu[0] = 1.0
    return MarkovGame(P, R, gamma, initial=mu, action_sizes=(2, 2),
                      name="iterated prisoner's dilemma")


def public_goods(n_agents: int = 2, levels: int = 3, gamma: float = 0.9,
                 multiplier: float = 1.5, cost: float = 1.0) -> MarkovGame:
    r"""A public-goods Markov game.

    The state is the stock :math:`k \in \{0, ..., L\}`; actions 0 = contribute,
    1 = free ride. Each contribution costs its agent ``cost`` and every agent receives
    :math:`m\,c\,(\#\text{contributions})/N` at once plus :math:`k/L` from the stock;
    the stock moves to :math:`\min(L, \max(0, k + \#\text{contributions} - 1))` (it decays
    by one per step). With :math:`m < N` contributing is individually dominated in the
    stage game while the stock makes cooperation pay for the team. Starts at ``k = 0``.
    """
    N = check_int(n_agents, "n_agents", low=1, high=6)
    L = check_int(levels, "levels", low=1)
    gamma = check_gamma(gamma)
    m = check_scalar(multiplier, "multiplier", positive=True)
    c = check_scalar(cost, "cost", positive=True)
    S, A = L + 1, 2 ** N
    P = np.zeros((S, A, S))
    R = np.zeros((N, S, A))
    for a, acts in enumerate(itertools.product(range(2), repeat=N)):
        n_c = sum(1 for x in acts if x == 0)
        for k in range(S):
            P[k, a, min(L, max(0, k + n_c - 1))] = 1.0
            for i in range(N):
                R[i, k, a] = m * c * n_c / N + k / L - (c if acts[i] == 0 else 0.0)
    mu = np.zeros(S)
    mu[0] = 1.0
    return MarkovGame(P, R, gamma, initial=mu, action_sizes=(2,) * N, name="public goods")


def cooperative_predation(positions: int = 4, gamma: float = 0.9) -> MarkovGame:
    r"""Two predators on a discretised line (C. Predation of Sec. 5.1, small).

    The state is the pair of distances to the prey :math:`(d_0, d_1) \in \{0, ...,
    D-1\}^2` (``positions = D``); action 0 moves one step toward the prey (not below 0),
    action 1 one step away (not beyond D-1). Every step pays the table of Sec. 5.1
    (:data:`PREDATION_PAYOFFS`). The prey is captured when both predators are at distance
    0: the state (0, 0) is absorbing with reward 0. Starts uniformly over the other
    states. Always-away is a Nash equilibrium (given the other's action, away is better
    in every stage and capture needs both), both-toward is the social optimum.
    """
    D = check_int(positions, "positions", low=2)
    gamma = check_gamma(gamma)
    S, A = D * D, 4
    P = np.zeros((S, A, S))
    R = np.zeros((2, S, A))
    for s in range(S):
        d = np.unravel_index(s, (D, D))
        for a in range(A):
            acts = np.unravel_index(a, (2, 2))
            if s == 0:                                   # captured: absorbing, reward 0
                P[s, a, s] = 1.0
                continue
            nxt = [min(D - 1, max(0, d[i] + (-1 if acts[i] == 0 else 1))) for i in range(2)]
            P[s, a, np.ravel_multi_index(nxt, (D, D))] = 1.0
            R[:, s, a] = PREDATION_PAYOFFS[:, acts[0], acts[1]]
    mu = np.full(S, 1.0 / (S - 1))
    mu[0] = 0.0
    return MarkovGame(P, R, gamma, initial=mu, action_sizes=(2, 2),
                      name=f"cooperative predation (D={D})")
