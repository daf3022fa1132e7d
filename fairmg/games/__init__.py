"""Games: the :class:`Game` interface, dense and factored games, and the papers' games.

* :class:`Game` -- the protocol every solver, dynamic and checker goes through
  (:mod:`fairmg.games.base`);
* :class:`MarkovGame` -- a dense joint transition ``P[s, a, s']``;
* :class:`FactoredGame` -- per-agent local transitions, no joint tensor;
* :func:`coordination` (002, App. G.1; dense up to 8 agents, factored to 16),
  :func:`matrix_game`, :func:`random_game`, :func:`random_factored_game`.
"""
from .base import Game
from .commons import commons  # 000 Sec. 5 (CleanUp analogue)
from .coordination import (MAX_COORDINATION_AGENTS, coordination, coordination_reward)
from .dense import MarkovGame
from .dilemma import cooperative_predation, iterated_prisoners_dilemma, public_goods  # 004
from .exchange import ExchangeGame, exchange, solve_exchange  # 004 Sec. 5.1
from .factored import FactoredGame
from .matrix import matrix_game
from .random import GAME_KINDS, random_factored_game, random_game

__all__ = ["Game", "MarkovGame", "FactoredGame", "coordination", "coordination_reward",
           "matrix_game", "random_game", "random_factored_game", "GAME_KINDS",
           "MAX_COORDINATION_AGENTS", "iterated_prisoners_dilemma", "public_goods",
           "cooperative_predation", "exchange", "solve_exchange", "ExchangeGame", "commons"]
