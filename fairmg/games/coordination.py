"""The N-agent coordination game of 002, Section 5 and Appendix G.1, dense or factored."""
from __future__ import annotations

import numpy as np

from .._validate import check_choice, check_gamma, check_int, check_probability
from .dense import MarkovGame
from .factored import FactoredGame

__all__ = ["coordination", "coordination_reward", "MAX_COORDINATION_AGENTS",
           "MAX_DENSE_COORDINATION_AGENTS"]

#: The factored game's values need 2^N floats per agent; N = 16 is 65536 states.
MAX_COORDINATION_AGENTS = 16
#: The dense transition has 8^N float64 entries: 128 MiB at N = 8, 8 GiB at N = 10.
MAX_DENSE_COORDINATION_AGENTS = 8


def coordination_reward(counts_zero: int, n_agents: int) -> float:
    """Team reward of 002, Appendix G.1, Algorithm 1, from the number of local 0s.

    Within ``difference_bound`` (1 for N <= 3, else 2) of a tie: 1 if 1s outnumber 0s,
    else 0; beyond it: 3 if 0s are the majority, 2 if 1s are.
    """
    n = check_int(n_agents, "n_agents", low=1)
    zeros = check_int(counts_zero, "counts_zero", low=0)
    if zeros > n:
        raise ValueError(f"counts_zero is {zeros}, expected at most n_agents = {n} (the "
                         f"number of agents in local state 0)")
    ones = n - zeros
    bound = 1 if n <= 3 else 2
    if abs(zeros - ones) <= bound:
        return 1.0 if zeros < ones else 0.0
    return 3.0 if zeros > ones else 2.0


def coordination(n_agents: int = 2, eps: float = 0.1, gamma: float = 0.95, *,
                 representation: str = "auto"):
    r"""The N-agent coordination game of 002, Section 5 and Appendix G.1.

    Local states and actions are in {0, 1}; the global state is the tuple of local states
    (index by ``ravel_multi_index``, agent 0 most significant). Each agent's next local
    state depends on its own action only: :math:`P(s_i' = 0 | a_i = 0) = 1 - \epsilon`,
    :math:`P(s_i' = 0 | a_i = 1) = \epsilon`. All agents get the team reward of
    :func:`coordination_reward` of the current state; mu is uniform. Identical interest,
    so the shared reward is the potential.

    Parameters
    ----------
    n_agents : int
        1 to :data:`MAX_COORDINATION_AGENTS` (16).
    eps, gamma : float
    representation : {"auto", "dense", "factored"}
        ``auto``: a dense :class:`MarkovGame` up to :data:`MAX_DENSE_COORDINATION_AGENTS`
        agents, a :class:`FactoredGame` beyond. Both give the same numbers (tested).
    """
    n = check_int(n_agents, "n_agents", low=1, high=MAX_COORDINATION_AGENTS)
    eps = check_probability(eps, "eps")
    gamma = check_gamma(gamma)
    rep = check_choice(representation, "representation", ("auto", "dense", "factored"))
    if rep == "auto":
        rep = "dense" if n <= MAX_DENSE_COORDINATION_AGENTS else "factored"
    if rep == "dense" and n > MAX_DENSE_COORDINATION_AGENTS:
        raise ValueError(f"a dense coordination game with {n} agents needs "
                         f"{8.0 ** n * 8 / 2**30:.3g} GiB; use representation='factored' "
                         f"(dense up to {MAX_DENSE_COORDINATION_AGENTS} agents)")
    sizes = (2,) * n
    S = 2 ** n
    bits = np.array(np.unravel_index(np.arange(S), sizes)).T          # bits[s, i] = s_i
    counts = (bits == 0).sum(axis=1)
    table = np.array([coordination_reward(c, n) for c in range(n + 1)])
    reward = table[counts]
    local = np.array([[1 - eps, eps], [eps, 1 - eps]])                 # local[a_i, s_i']
    name = f"coordination N={n} eps={eps}"
    if rep == "factored":
        return FactoredGame([local] * n, np.broadcast_to(reward, (n, S)), gamma,
                            potential=reward, name=name)
    P_row = np.ones((S, S))
    for i in range(n):
        P_row *= local[bits[:, i]][:, bits[:, i]]
    P = np.broadcast_to(P_row, (S, S, S))
    r = np.broadcast_to(reward[:, None], (S, S))
    return MarkovGame(P, np.broadcast_to(r, (n, S, S)), gamma, action_sizes=sizes,
                      potential=r, name=name)
