r"""Marginals of joint-action tables over any subset of agents.

The multi-agent quantities of 000 (eqs. (2)-(3), (6)-(8)) and 004 (eqs. (6), (13), (16))
average a joint-action table over the actions of some agents under per-agent policies
(possibly a mix of old and new ones, :meth:`~fairmg.policy.ProductPolicy.mix`) and keep
the actions of the others:

.. math:: T_{K}(s, a_K) = \sum_{a_{-K}} \Big(\prod_{j \notin K} \pi^j(a_j|s)\Big)
          T(s, a_K, a_{-K}).

:func:`marginalize` does this for a dense table ``T[..., s, a]``; games expose it for
their Q-functions without ever forming a joint table when they are factored
(:meth:`~fairmg.games.base.Game.continuation`, :meth:`~fairmg.games.base.Game.reward_marginal`).
:func:`multi_agent_q` and :func:`multi_agent_advantage` are the quantities of 000.
The local Q of 002 Lemma 3.1 is the special case ``keep=(i,)``.
"""
from __future__ import annotations

import string

import numpy as np

from ._validate import (as_action_sizes, as_float_array, check_distributions, check_game,
                        check_int, check_memory)

__all__ = ["marginalize", "multi_agent_q", "multi_agent_advantage", "local_q"]


def _check_agents(keep, name: str, sizes: tuple[int, ...]) -> tuple[int, ...]:
    """``keep`` as a tuple of distinct agent indices of ``action_sizes`` ``sizes``."""
    n_agents = len(sizes)
    if isinstance(keep, (int, np.integer)) and not isinstance(keep, (bool, np.bool_)):
        keep = (keep,)
    if isinstance(keep, np.ndarray) and keep.ndim == 1:
        keep = keep.tolist()
    if not isinstance(keep, (list, tuple, range)):
        raise TypeError(f"{name} must be a sequence of agent indices, got {keep!r}")
    out = tuple(check_int(k, f"{name}[{j}] (an agent of action_sizes {sizes})", low=0,
                          high=n_agents - 1) for j, k in enumerate(keep))
    if len(set(out)) != len(out):
        raise ValueError(f"{name} has repeated agents: {out}")
    return out


def marginalize(table, probs, action_sizes, keep=()) -> np.ndarray:
    r"""Average ``table[..., s, a]`` over the actions of the agents not in ``keep``.

    Parameters
    ----------
    table : ndarray (..., S, A)
        Joint-action table, ``a = ravel_multi_index((a_1, ..., a_N), action_sizes)``.
    probs : ndarray (N, S, A_max)
        Per-agent policies ``probs[j, s, a_j]`` (zero-padded), used for j not in ``keep``.
    action_sizes : tuple of int
    keep : sequence of int
        Agents whose actions stay, in the order of the output axes.

    Returns
    -------
    ndarray (..., S, A_{keep[0]}, A_{keep[1]}, ...)
    """
    sizes = as_action_sizes(action_sizes)
    N = len(sizes)
    keep = _check_agents(keep, "keep", sizes)
    check_memory(float(np.prod(sizes, dtype=np.float64)),
                 f"action_sizes {sizes}: one state's row of table (A = prod(action_sizes))")
    table = as_float_array(table, "table", max_magnitude=1e300)
    if table.ndim < 2:
        raise ValueError(f"table must have shape (..., S, A), got {table.shape}")
    S = table.shape[-2]
    if table.shape[-1] != int(np.prod(sizes)):
        raise ValueError(f"table has {table.shape[-1]} joint actions, action_sizes {sizes} "
                         f"give {int(np.prod(sizes))}")
    probs = as_float_array(probs, "probs", 3)
    if probs.shape[:2] != (N, S) or probs.shape[2] < max(sizes):
        raise ValueError(f"probs must have shape ({N}, {S}, A_max >= {max(sizes)}) "
                         f"(agents, states, actions) to match table {table.shape} and "
                         f"action_sizes {sizes}, got {probs.shape}")
    mask = np.arange(probs.shape[2])[None, :] < np.array(sizes)[:, None]
    check_distributions(probs, "probs", mask[:, None, :])
    return _marginalize(table, probs, sizes, keep)


def _marginalize(table: np.ndarray, probs: np.ndarray, sizes: tuple[int, ...],
                 keep: tuple[int, ...]) -> np.ndarray:
    """:func:`marginalize` on arguments already checked (the games' hot path)."""
    N = len(sizes)
    S = table.shape[-2]
    lead = table.shape[:-2]
    if len(lead) + N + 1 > 50:
        raise ValueError(f"too many axes to marginalize ({len(lead)} + {N} agents)")
    letters = iter(string.ascii_letters)
    lead_ix = "".join(next(letters) for _ in lead)
    s_ix = next(letters)
    agent_ix = [next(letters) for _ in range(N)]
    operands = [table.reshape(lead + (S,) + sizes)]
    subscripts = [lead_ix + s_ix + "".join(agent_ix)]
    for j in range(N):
        if j not in keep:
            operands.append(np.asarray(probs[j, :, : sizes[j]], dtype=np.float64))
            subscripts.append(s_ix + agent_ix[j])
    out = lead_ix + s_ix + "".join(agent_ix[k] for k in keep)
    return np.einsum(",".join(subscripts) + "->" + out, *operands, optimize="greedy")


def _q_kept(game, policy, keep, values):
    """Each agent's Q marginalized onto ``keep``: (N, S, A_keep...)."""
    game.check_policy(policy)
    V = game.check_values(values)
    if V.shape[0] != game.n_agents:
        raise ValueError(f"values must have one row per agent ({game.n_agents}), got {V.shape}")
    return game.reward_marginal(policy, keep) + game.gamma * game.continuation(V, policy, keep)


def multi_agent_q(game, policy, agents, values=None) -> np.ndarray:
    r"""The multi-agent state-action value of 000, eq. (2), for every agent's reward.

    .. math:: Q^{i}_{\pi}(s, a^{i_{1:m}}) = \mathbb{E}_{a^{-i_{1:m}} \sim \pi^{-i_{1:m}}}
              \big[r^i(s, a) + \gamma \textstyle\sum_{s'} P(s'|s, a) V^i_\pi(s')\big]

    Parameters
    ----------
    game : Game
    policy : ProductPolicy
        Averages the actions of the agents not in ``agents``. Pass a mixture
        (:meth:`ProductPolicy.mix`) for the old/new mixtures of 000 eqs. (6)-(8).
    agents : sequence of int
        :math:`i_{1:m}`, the output's action axes in this order (empty: :math:`V_\pi`).
    values : ndarray (N, S), optional
        :math:`V^i` in the continuation; default the values of ``policy`` itself.

    Returns
    -------
    ndarray (N, S, A_{i_1}, ..., A_{i_m})
    """
    check_game(game)
    game.check_policy(policy)
    agents = game.check_agents(agents, "agents")
    if values is None:
        from .evaluate import evaluate
        values = evaluate(game, policy).values
    return _q_kept(game, policy, agents, values)


def multi_agent_advantage(game, policy, agents, given=(), values=None) -> np.ndarray:
    r"""The multi-agent advantage of 000, eq. (3).

    .. math:: A^{i}_\pi(s, a^{j_{1:k}}, a^{i_{1:m}}) = Q^{i}_\pi(s, a^{j_{1:k}}, a^{i_{1:m}})
              - Q^{i}_\pi(s, a^{j_{1:k}})

    Returns shape (N, S, A_{j_1}, ..., A_{j_k}, A_{i_1}, ..., A_{i_m}) (``given`` axes
    first).
    """
    check_game(game)
    game.check_policy(policy)
    given = game.check_agents(given, "given")
    agents = game.check_agents(agents, "agents")
    if set(given) & set(agents):
        raise ValueError(f"agents {agents} and given {given} must be disjoint")
    if values is None:
        from .evaluate import evaluate
        values = evaluate(game, policy).values
    both = _q_kept(game, policy, given + agents, values)
    base = _q_kept(game, policy, given, values)
    return both - base.reshape(base.shape + (1,) * len(agents))


def local_q(game, policy, values) -> np.ndarray:
    r"""Every agent's local :math:`Q^i(s, a_i) = E_{a_{-i}\sim\pi_{-i}}[Q^i(s, a)]`, (N, S, A_max).

    002, Lemma 3.1: agent i's value column marginalized onto its own action, zero-padded.
    """
    check_game(game)
    game.check_policy(policy)
    V = game.check_values(values)
    if V.shape[0] != game.n_agents:
        raise ValueError(f"values must have one row per agent ({game.n_agents}), got "
                         f"{np.shape(values)}")
    out = np.zeros((game.n_agents, game.n_states, game.max_actions))
    for i, n in enumerate(game.action_sizes):
        out[i, :, :n] = (game.reward_marginal(policy, (i,))[i]
                         + game.gamma * game.continuation(V[i:i + 1], policy, (i,))[0])
    return out
