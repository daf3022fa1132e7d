"""Random Markov games: general-sum, identical-interest and Markov potential games."""
from __future__ import annotations

import numpy as np

from .. import kernels
from .._validate import (as_action_sizes, as_rng, check_bool, check_choice, check_gamma,
                         check_int, check_memory, check_scalar)
from .dense import MarkovGame, check_dense_size

__all__ = ["random_game", "random_factored_game", "GAME_KINDS"]

GAME_KINDS = ("general", "identical", "potential")


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

    The size is checked before anything is allocated: a game whose dense transition
    would exceed :data:`fairmg._validate.MEMORY_LIMIT_BYTES` raises ``TooLargeError``.
    """
    kind = check_choice(kind, "kind", GAME_KINDS)
    S = check_int(n_states, "n_states", low=1)
    sparsity = check_scalar(sparsity, "sparsity")
    if not sparsity < 1.0:
        raise ValueError(f"sparsity is {sparsity}, expected in [0, 1)")
    sizes = as_action_sizes(action_sizes)
    gamma = check_gamma(gamma)
    rng = as_rng(rng)
    n, A = len(sizes), int(np.prod(sizes, dtype=np.float64))
    check_dense_size(S, A, f"random_game(n_states={S}, action_sizes={sizes})")
    n_trans = S if kind == "potential" else S * A
    # Dirichlet(1) rows as Generator.dirichlet draws them (exponentials times the inverse
    # of their sequential sum: the same numbers, bit for bit), in one vectorized call
    P = rng.standard_exponential((n_trans, S))
    kernels.normalize_rows_sequentially(P)
    if sparsity > 0 and S > 1:
        keep = rng.random((n_trans, S)) >= sparsity
        keep[np.arange(n_trans), rng.integers(0, S, n_trans)] = True
        P *= keep
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
    # every array is built valid above (Dirichlet rows, rewards in [0, 1]): skip the copy
    # and re-check of the validating constructor, which cost 3x the generation itself
    return MarkovGame._from_valid(P, R, gamma, sizes, potential=potential,
                                  name=f"random {kind}")


def random_factored_game(local_sizes, action_sizes, gamma: float = 0.9, *, rng=None,
                         dependence: str = "global", joint_rewards: bool = False):
    """A random :class:`~fairmg.games.factored.FactoredGame` with rewards in [0, 1].

    Parameters
    ----------
    local_sizes : sequence of int
        ``n_j``, agent j's number of local states (S = prod n_j).
    action_sizes : sequence of int
    gamma : float
    rng : numpy.random.Generator or int seed
    dependence : {"global", "local", "action"}
        What agent j's local transition depends on besides its action: the global state
        ``(S, A_j, n_j)``, its own local state ``(n_j, A_j, n_j)``, or nothing ``(A_j, n_j)``.
    joint_rewards : bool
        Rewards r^i(s, a) on joint actions (N, S, A) instead of state rewards (N, S).
    """
    from .factored import FactoredGame
    n_local = as_action_sizes(local_sizes, "local_sizes")
    sizes = as_action_sizes(action_sizes)
    if len(n_local) != len(sizes):
        raise ValueError(f"local_sizes has {len(n_local)} agents, action_sizes {len(sizes)}")
    dependence = check_choice(dependence, "dependence", ("global", "local", "action"))
    joint_rewards = check_bool(joint_rewards, "joint_rewards")
    gamma = check_gamma(gamma)
    rng = as_rng(rng)
    S = int(np.prod(n_local, dtype=np.float64))
    call = f"random_factored_game(local_sizes={n_local}, action_sizes={sizes})"
    check_memory(float(S) * len(sizes), f"{call}: the state rewards (N, S)",
                 "fewer agents or local states")
    if joint_rewards:
        check_memory(float(S) * len(sizes) * np.prod(sizes, dtype=np.float64),
                     f"{call}: the joint rewards (N, S, A)", "use joint_rewards=False")
    for j, (n, a) in enumerate(zip(n_local, sizes)):
        lead = {"global": S, "local": n, "action": 1}[dependence]
        check_memory(float(lead) * a * n, f"{call}: agent {j}'s local transition "
                     f"({dependence} dependence)", "fewer local states")
    locs = []
    for n, a in zip(n_local, sizes):
        lead = {"global": (S,), "local": (n,), "action": ()}[dependence]
        L = rng.standard_exponential(lead + (a, n))
        locs.append(L / L.sum(axis=-1, keepdims=True))
    shape = (len(sizes), S) + ((int(np.prod(sizes)),) if joint_rewards else ())
    return FactoredGame(locs, rng.random(shape), gamma, name=f"random factored {dependence}")
