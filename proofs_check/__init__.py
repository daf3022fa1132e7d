"""proofs_check: the lemmas and theorems of the papers (and your own bounds) as
property-based checks.

>>> from proofs_check import claim, Verdict, check_claim, strategies as st
>>> import fairmg as fm
>>> @claim("doc/gap-le-horizon", paper="my notes", strategy=st.games(max_states=2))
... def gap_le_horizon(g):
...     '''Nash-gap of the uniform policy <= 1/(1-gamma) for rewards in [0, 1].'''
...     return Verdict.leq(fm.nash_gap(g, fm.ProductPolicy.uniform(g)), 1 / (1 - g.gamma))
>>> check_claim("doc/gap-le-horizon", max_examples=5).status
'verified'

Every module of :mod:`proofs_check.claims` registers the claims of one paper; they are
found with :func:`load_claims` (pkgutil). Run them with ``python -m proofs_check run``.
"""
from . import strategies
from .core import (DEFAULT_ATOL, DEFAULT_RTOL, REGISTRY, Case, Claim, NonFiniteError, assume,
                   Verdict, all_claims, claim, get_claim, load_claims, load_errors,
                   snippet, to_code)
from .runner import (PROFILES, STATUSES, Counterexample, Report, check_claim, get_profile,
                     register_profile)

__all__ = ["claim", "assume", "Claim", "Verdict", "Case", "check_claim", "Report",
           "Counterexample", "strategies", "get_claim", "all_claims", "load_claims", "load_errors",
           "to_code", "snippet", "PROFILES", "STATUSES", "register_profile", "get_profile",
           "REGISTRY", "NonFiniteError", "DEFAULT_ATOL", "DEFAULT_RTOL"]
