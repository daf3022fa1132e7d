"""One-state (matrix) games."""
from __future__ import annotations

import numpy as np

from .._validate import as_float_array, check_bool, check_gamma
from .dense import MarkovGame

__all__ = ["matrix_game"]


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
        Which of the two shapes ``payoffs`` has. Required when the shape reads both ways
        (a leading axis equal to the number of remaining axes, e.g. (2, 2, 2): a shared
        3-agent game or 2 agents' 2x2 tables); otherwise inferred.

    A game whose agents all get the same payoff carries it as its potential.
    """
    arr = as_float_array(payoffs, "payoffs")
    if arr.ndim == 0:
        raise ValueError("payoffs must have at least one axis (one per agent)")
    if arr.size == 0:
        raise ValueError(f"payoffs must have at least one action per agent, got shape "
                         f"{arr.shape}")
    fits_per_agent = arr.ndim >= 2 and arr.shape[0] == arr.ndim - 1
    if per_agent is None:
        if fits_per_agent:
            raise ValueError(
                f"payoffs of shape {arr.shape} read both as one shared {arr.ndim}-agent table "
                f"and as {arr.shape[0]} agents' tables: pass per_agent=True or False")
        per_agent = False
    per_agent = check_bool(per_agent, "per_agent")
    if per_agent and not fits_per_agent:
        raise ValueError(f"payoffs must have shape (N, A_1, ..., A_N) with per_agent=True "
                         f"(per-agent payoffs), got {arr.shape}")
    gamma = check_gamma(gamma)
    sizes = arr.shape[1:] if per_agent else arr.shape
    A = int(np.prod(sizes))
    R = arr.reshape(len(sizes), 1, A) if per_agent else np.broadcast_to(
        arr.reshape(1, 1, A), (len(sizes), 1, A))
    shared = not per_agent or bool(np.all(R == R[:1]))
    P = np.ones((1, A, 1))
    return MarkovGame(P, R, gamma, action_sizes=sizes,
                      potential=R[0] if shared else None, name="matrix game")
