"""The sampled mode (issue 15): batched rollouts, Monte Carlo values, return and advantage
estimators, small networks and optimisers, weighted samples, and the papers' algorithms
(HATRPO, HAPPO, IPPO, MAPPO and their alpha-fair versions, Anticipation Sharing and its
baselines) on NumPy or any array-API backend (CuPy, ``array_api_strict``).

>>> import fairmg as fm
>>> g = fm.games.coordination(n_agents=2)
>>> est = fm.sampled.estimate_values(g, fm.ProductPolicy.uniform(g), n_envs=256, seed=0)
>>> est.mean.shape, est.stderr.shape
((2,), (2,))
"""
from . import algorithms, backend, estimators, networks, optim, samples
from .backend import namespace
from .estimators import discounted_returns, gae, reinforce_gradient, td_errors
from .rollouts import (BIAS_TOL, Evaluator, Rollout, SampledBatchEvaluation, ValueEstimate,
                       estimate_values, rollouts, truncation_horizon)
from .networks import MLPPolicy, TabularPolicy, ValueNetwork
from .optim import Adam, AdamState, CGResult, LineSearchResult, TrustRegionStep, ValueNorm
from .samples import Samples, exact_samples, fair_advantages, samples_from_rollout
from .algorithms import heterogeneous_update, hatrpo_agent_step, ppo_agent_step, train
from .anticipation import anticipation_sampler
from .env_training import EnvRun, collect_episodes, train_env

__all__ = ["namespace", "rollouts", "Rollout", "estimate_values", "ValueEstimate",
           "truncation_horizon", "BIAS_TOL", "discounted_returns", "td_errors", "gae",
           "reinforce_gradient", "Evaluator", "SampledBatchEvaluation", "backend",
           "estimators", "networks", "optim", "TabularPolicy", "MLPPolicy",
           "ValueNetwork", "Adam", "AdamState", "CGResult", "TrustRegionStep",
           "LineSearchResult", "ValueNorm", "algorithms", "samples", "Samples",
           "exact_samples", "fair_advantages", "samples_from_rollout", "train",
           "hatrpo_agent_step", "ppo_agent_step", "heterogeneous_update",
           "anticipation_sampler", "train_env", "EnvRun", "collect_episodes"]
