"""Test configuration: hypothesis settings profiles and the non-interactive backend.

Profiles: ``ci`` (default; derandomized, few examples, no deadline) and ``thorough``
(randomized, many examples) -- select with ``HYPOTHESIS_PROFILE=thorough pytest``.
"""
import os

import matplotlib
from hypothesis import HealthCheck, settings

matplotlib.use("Agg")

settings.register_profile("ci", max_examples=25, derandomize=True, deadline=None,
                          print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.data_too_large])
settings.register_profile("thorough", max_examples=500, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
