"""Test oracles, public so that users can check their own code against them.

* :mod:`fairmg.testing.reference` -- plain, loop-based NumPy references of the exact engine
  (slow on purpose: independent code paths, used only as oracles);
* :mod:`fairmg.testing.reference_dynamics` -- the same for the learning dynamics;
* :mod:`fairmg.testing.vectorized` -- the fastest plain NumPy implementation we can write
  (einsum, ``np.linalg.solve``, no Python loops over states or joint actions): the
  baseline of ``fairmg bench``;
* :mod:`fairmg.testing.strategies` -- hypothesis strategies of games and policies.
"""
