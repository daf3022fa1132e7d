"""fairmg: exact tabular solvers for multi-agent Markov games, the learning dynamics of
five MARL papers, and property-based checks of their theorems.

>>> import fairmg as fm
>>> g = fm.games.coordination(n_agents=2)
>>> round(fm.nash_gap(g, fm.ProductPolicy.uniform(g)), 6) > 0
True
"""
from . import dynamics, fairness, games, marginals
from . import envs, sampled
from .equilibrium import (BestResponse, MDPSolution, SocialOptimum, best_response, nash_gap,
                          price_of_anarchy, social_optimum, solve_mdp)
from .evaluate import Evaluation, evaluate
from .games import FactoredGame, Game, MarkovGame
from .policy import ProductPolicy

__version__ = "0.1.0"

__all__ = ["Game", "MarkovGame", "FactoredGame", "ProductPolicy", "marginals", "evaluate", "Evaluation", "best_response",
           "nash_gap", "social_optimum", "price_of_anarchy", "solve_mdp", "MDPSolution",
           "BestResponse", "SocialOptimum", "games", "dynamics", "fairness", "sampled", "envs"]
