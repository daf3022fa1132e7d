"""Learning dynamics of the papers as exact (closed-form) iterations.

Every dynamic returns a :class:`Run` recorded by the shared driver :func:`iterate`.
``pg``: softmax PG, NPG, NPG best-response (002); ``nn``: neural softmax PG (002, Sec. 5);
``fdiv``: f-divergence iterations, TVPO and the unary formulation (003).
"""
from .run import (METRICS, OBSERVERS, BatchEvaluation, Run, evaluate_batch, iterate,
                  record_metrics, resolve_metrics)
from .pg import *  # noqa: F401,F403
from .nn import *  # noqa: F401,F403
from .fdiv import *  # noqa: F401,F403
from .trust_region import fair_hatrl, hatrpo, happo  # noqa
from .anticipation import (anticipation_sharing, independent_ppo, centralised_ppo,  # noqa
                           value_sharing, value_parameter_sharing, policy_sharing)
