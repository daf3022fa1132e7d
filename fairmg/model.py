"""v1 home of the game and policy classes; they now live in :mod:`fairmg.games.dense`,
:mod:`fairmg.policy` and :mod:`fairmg._validate`. Kept so that v1 imports keep working.
"""
from ._validate import (STOCHASTIC_TOL, as_action_sizes, as_float_array, as_index_array,
                        check_distributions, check_scalar)
from .games.dense import MarkovGame
from .policy import ProductPolicy, softmax

_as_float_array = as_float_array
_check_distributions = check_distributions

__all__ = ["MarkovGame", "ProductPolicy", "STOCHASTIC_TOL", "check_scalar", "softmax",
           "as_action_sizes", "as_index_array"]
