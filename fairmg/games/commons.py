r"""A cleaning commons: the CleanUp tension of 000 (Sec. 5.1) as a small exact Markov game.

:func:`commons` stands in for the CleanUp environment of 000 (SocialJax; Leibo et al.'s
sequential social dilemmas): apples grow only while the river is clean, cleaning earns
nothing, and whoever harvests collects the apples. It keeps the one feature of CleanUp
that the paper's Sec. 5.2 is about, the *efficiency/fairness tension*: the utilitarian
optimum needs some agents to clean (and earn nothing) while the others harvest, so the
welfare-maximizing policies are very unequal, and an alpha-fair objective must trade
welfare for a lower Gini index. Everything else (the grid, movement, zapping, the
500-step episodes) is dropped, so that values, advantages and trust-region steps are exact.

Rules
-----
* **State**: the pollution level :math:`s \in \{0, \dots, L-1\}`, ``L = len(yields)``;
  the game starts at level ``start`` (default 0, a clean river).
* **Actions**: every agent chooses 0 = *clean* or 1 = *harvest* (joint actions are
  ``numpy.ravel_multi_index`` of the agents' actions, agent 0 most significant).
* **Reward**: each harvester receives ``yields[s] / h`` (the apples of level s shared
  equally among the ``h`` harvesters); cleaners receive 0. Rewards are >= 0, as 000
  assumes (Sec. 2.2).
* **Transition**: the river first gets one level dirtier with probability ``dirt``
  (capped at ``L - 1``), then each cleaner removes one level (floored at 0):
  :math:`s' = \min(\max(\min(s + u, L-1) - c, 0), L-1)`, :math:`u \sim
  \mathrm{Bernoulli}(\mathrm{dirt})`, ``c`` the number of cleaners.

With the defaults (two agents, ``yields = (1, 0.6, 0.2, 0)``, ``dirt = 0.6``,
``gamma = 0.9``) this is the game of ``examples/06_alpha_fair_hatrl.py`` and of the
``alpha_fair/fhatrpo-monotone`` claims. If nobody cleans, the river silts up to the last
level, whose yield (0 by default) is all there is; if one agent always cleans and the
other always harvests the welfare is high and the cleaner earns nothing (Gini 1/2 for two
agents).
"""
from __future__ import annotations

import itertools

import numpy as np

from .._validate import as_float_array, check_gamma, check_int, check_probability
from .dense import MarkovGame

__all__ = ["commons", "COMMONS_YIELDS", "CLEAN", "HARVEST"]

#: Default apples per step at each pollution level (clean river first).
COMMONS_YIELDS = (1.0, 0.6, 0.2, 0.0)
#: The two actions of every agent.
CLEAN, HARVEST = 0, 1
#: Most agents :func:`commons` builds (the dense joint tables grow as 2^N).
MAX_COMMONS_AGENTS = 8


def commons(n_agents: int = 2, *, yields=COMMONS_YIELDS, dirt: float = 0.6,
            gamma: float = 0.9, start: int = 0) -> MarkovGame:
    r"""The cleaning commons (000's CleanUp, Sec. 5.1, as an exact tabular game).

    See the module docstring for the rules. Returns a dense :class:`MarkovGame` with
    ``len(yields)`` states, ``2 ** n_agents`` joint actions, rewards
    ``R[i, s, a] = yields[s] / h(a)`` for harvesters and 0 for cleaners, and the initial
    distribution the point mass at ``start``.

    Parameters
    ----------
    n_agents : int in [1, 8]
    yields : sequence of >= 2 floats >= 0
        Apples per step at pollution levels 0, 1, ..., L-1 (usually decreasing).
    dirt : float in [0, 1]
        Probability that the river gets one level dirtier each step.
    gamma : float in [0, 1)
    start : int in [0, L-1]
        The initial pollution level.
    """
    N = check_int(n_agents, "n_agents", low=1, high=MAX_COMMONS_AGENTS)
    y = as_float_array(yields, "yields", 1)
    if y.size < 2:
        raise ValueError(f"yields must have at least 2 levels, got {y.size}")
    if np.any(y < 0):
        k = int(np.flatnonzero(y < 0)[0])
        raise ValueError(f"yields[{k}] is {y[k]!r}, expected >= 0 (000 assumes rewards "
                         f">= 0, Sec. 2.2)")
    dirt = check_probability(dirt, "dirt")
    gamma = check_gamma(gamma)
    L = y.size
    start = check_int(start, "start", low=0, high=L - 1)
    A = 2 ** N
    P = np.zeros((L, A, L))
    R = np.zeros((N, L, A))
    for a, acts in enumerate(itertools.product(range(2), repeat=N)):
        cleaners = sum(1 for x in acts if x == CLEAN)
        harvesters = N - cleaners
        for s in range(L):
            for up, pr in ((1, dirt), (0, 1.0 - dirt)):
                P[s, a, min(max(min(s + up, L - 1) - cleaners, 0), L - 1)] += pr
            for i, x in enumerate(acts):
                if x == HARVEST:
                    R[i, s, a] = y[s] / harvesters
    mu = np.zeros(L)
    mu[start] = 1.0
    return MarkovGame(P, R, gamma, initial=mu, action_sizes=(2,) * N,
                      name=f"commons(n_agents={N}, levels={L})")
