"""Games: the coordination game of 002, matrix games, and random Markov games."""
from __future__ import annotations

import numpy as np

from .model import MarkovGame, as_action_sizes

__all__ = ["coordination", "coordination_reward", "matrix_game", "random_game", "GAME_KINDS"]

GAME_KINDS = ("general", "identical", "potential")
#: The dense transition of the N-agent coordination game has 8^N float64 entries:
#: 1 GiB at N = 9, 8 GiB at N = 10.
MAX_COORDINATION_AGENTS = 9


def coordination_reward(counts_zero: int, n_agents: int) -> float:
    """Team reward of 002, Appendix G.1, Algorithm 1, from the number of local 0s.

    Within ``difference_bound`` (1 for N <= 3, else 2) of a tie: 1 if 1s outnumber 0s,
    else 0; beyond it: 3 if 0s are the majority, 2 if 1s are.
    """
    zeros, ones = counts_zero, n_agents - counts_zero
    bound = 1 if n_agents <= 3 else 2
    if abs(zeros - ones) <= bound:
        return 1.0 if zeros < ones else 0.0
    return 3.0 if zeros > ones else 2.0


def coordination(n_agents: int = 2, eps: float = 0.1, gamma: float = 0.95) -> MarkovGame:
    r"""The N-agent coordination game of 002, Section 5 and Appendix G.1.

    Local states and actions are in {0, 1}; the global state is the tuple of local states
    (index by ``ravel_multi_index``, agent 0 most significant). Each agent's next local
    state depends on its own action only: :math:`P(s_i' = 0 | a_i = 0) = 1 - \epsilon`,
    :math:`P(s_i' = 0 | a_i = 1) = \epsilon`. All agents get the team reward of
    :func:`coordination_reward` of the current state; mu is uniform. Identical interest,
    so the shared reward is the potential.
    """
    if not (isinstance(n_agents, (int, np.integer))
            and 1 <= n_agents <= MAX_COORDINATION_AGENTS):
        raise ValueError(f"n_agents must be an int in [1, {MAX_COORDINATION_AGENTS}] (the "
                         f"dense transition has 8^N entries), got {n_agents!r}")
    if not 0.0 <= eps <= 1.0:
        raise ValueError(f"eps is {eps}, expected a probability in [0, 1]")
    n = int(n_agents)
    sizes = (2,) * n
    S = A = 2 ** n
    bits = np.array(np.unravel_index(np.arange(S), sizes)).T          # bits[s, i] = s_i
    local = np.array([[1 - eps, eps], [eps, 1 - eps]])                 # local[a_i, s_i']
    P_row = np.ones((A, S))
    for i in range(n):
        P_row *= local[bits[:, i]][:, bits[:, i]]
    P = np.broadcast_to(P_row, (S, A, S))
    reward = np.array([coordination_reward(int(np.sum(b == 0)), n) for b in bits])
    r = np.broadcast_to(reward[:, None], (S, A))
    R = np.broadcast_to(r, (n, S, A))
    return MarkovGame(P, R, gamma, action_sizes=sizes, potential=r,
                      name=f"coordination N={n} eps={eps}")


def matrix_game(payoffs, gamma: float = 0.0, *, per_agent: bool | None = None) -> MarkovGame:
    """A one-state game: shared ``payoffs[a_1, ..., a_N]`` or per-agent ``payoffs[i, a_1, ...]``.

    Parameters
    ----------
    payoffs : array_like
        Shape (A_1, ..., A_N) (one payoff for all agents; a 1-D array is a one-agent
        bandit) or (N, A_1, ..., A_N) (one payoff table per agent).
    gamma : float
        Discount (0: a one-shot game).
    per_agent : bool, optional
        Which of the two shapes ``payoffs`` has. By default a leading axis equal to the
        number of remaining axes (``payoffs.shape[0] == payoffs.ndim - 1``) means per-agent
        tables, so a shared 3-agent game of shape (2, 2, 2) needs ``per_agent=False``.

    A game whose agents all get the same payoff carries it as its potential.
    """
    arr = np.asarray(payoffs, dtype=np.float64)
    if arr.ndim == 0:
        raise ValueError("payoffs must have at least one axis (one per agent)")
    if per_agent is None:
        per_agent = arr.ndim >= 2 and arr.shape[0] == arr.ndim - 1
    elif per_agent and not (arr.ndim >= 2 and arr.shape[0] == arr.ndim - 1):
        raise ValueError(f"per-agent payoffs must have shape (N, A_1, ..., A_N), got "
                         f"{arr.shape}")
    sizes = arr.shape[1:] if per_agent else arr.shape
    A = int(np.prod(sizes))
    R = arr.reshape(len(sizes), 1, A) if per_agent else np.broadcast_to(
        arr.reshape(1, 1, A), (len(sizes), 1, A))
    shared = not per_agent or bool(np.all(R == R[:1]))
    P = np.ones((1, A, 1))
    return MarkovGame(P, R, gamma, action_sizes=sizes,
                      potential=R[0] if shared else None, name="matrix game")


def random_game(n_states: int, action_sizes, gamma: float = 0.9, *, rng=None,
                kind: str = "general", sparsity: float = 0.0) -> MarkovGame:
    """A random Markov game with rewards in [0, 1].

    Parameters
    ----------
    n_states : int
    action_sizes : sequence of int
    gamma : float
    rng : numpy.random.Generator or int seed
    kind : {"general", "identical", "potential"}
        ``general``: independent rewards per agent, Dirichlet(1) transition rows.
        ``identical``: one shared reward (potential = that reward).
        ``potential``: a Markov potential game (002, Definition 2.2) that is *not* of
        identical interest: ``r^i(s, a) = phi(s, a) + u^i(s, a_-i)`` with a dummy term
        that does not depend on agent i's action, and action-independent transitions
        ``P(s'|s, a) = P(s'|s)``. Then the law of (s_t, a_-i,t) does not depend on
        pi^i, so the dummy term's value cancels in Definition 2.2 and Phi is the value
        of phi. (With action-dependent transitions a dummy term in general breaks the
        definition; the tests check both facts.) Rewards are rescaled into [0, 1].
    sparsity : float in [0, 1)
        Fraction of next states given zero probability in each row (at least one kept).
    """
    if kind not in GAME_KINDS:
        raise ValueError(f"kind must be one of {GAME_KINDS}, got {kind!r}")
    if not (isinstance(n_states, (int, np.integer)) and n_states >= 1):
        raise ValueError(f"n_states must be a positive int, got {n_states!r}")
    if not 0.0 <= sparsity < 1.0:
        raise ValueError(f"sparsity is {sparsity}, expected in [0, 1)")
    sizes = as_action_sizes(action_sizes)
    rng = np.random.default_rng(rng)
    n, S, A = len(sizes), int(n_states), int(np.prod(sizes))
    n_trans = S if kind == "potential" else S * A
    P = rng.dirichlet(np.ones(S), size=n_trans)
    if sparsity > 0 and S > 1:
        keep = rng.random((n_trans, S)) >= sparsity
        keep[np.arange(n_trans), rng.integers(0, S, n_trans)] = True
        P = P * keep
        P /= P.sum(axis=1, keepdims=True)
    if kind == "potential":
        P = np.broadcast_to(P[:, None, :], (S, A, S))
    else:
        P = P.reshape(S, A, S)
    potential = None
    if kind == "general":
        R = rng.random((n, S, A))
    elif kind == "identical":
        potential = rng.random((S, A))
        R = np.broadcast_to(potential, (n, S, A))
    else:
        phi = rng.random((S, A))
        R = np.empty((n, S, A))
        for i in range(n):
            others = tuple(a for j, a in enumerate(sizes) if j != i)
            u = rng.random((S,) + others)
            R[i] = phi + np.expand_dims(u, axis=1 + i).repeat(sizes[i], 1 + i).reshape(S, A)
        lo, hi = R.min(), R.max()
        scale = 1.0 / (hi - lo) if hi > lo else 1.0
        R = (R - lo) * scale
        potential = (phi - lo) * scale
    return MarkovGame(P, R, gamma, action_sizes=sizes, potential=potential,
                      name=f"random {kind}")

