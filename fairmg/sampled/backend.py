"""Array namespaces of the sampled mode: NumPy by default, any array-API backend on request.

Sampled code takes its namespace from its inputs (:func:`namespace`, a thin wrapper of
``array_api_compat.array_namespace``) and uses only the array-API standard, so it runs
unchanged on NumPy, CuPy and ``array_api_strict`` (the tests' proof that only the
standard is used). Randomness is drawn with a NumPy ``Generator`` and moved to the target
namespace (:func:`uniforms`), so for one seed every backend samples exactly the same
trajectories.

Categorical sampling is the inverse CDF written with ``cumulative_sum`` and comparisons
(no ``searchsorted``, which the standard lacks on older versions):
``k = #{j : u * c_K >= c_j}`` for the running sums ``c_j`` of the probabilities, clipped to
``K - 1`` (round-off), which is ``j`` with probability ``p_j``.
"""
from __future__ import annotations

import types

import array_api_compat
import numpy as np

__all__ = ["namespace", "resolve_namespace", "uniforms", "categorical",
           "categorical_from_cdf", "to_numpy",
           "is_numpy_namespace"]


def namespace(*arrays):
    """The array-API namespace of ``arrays`` (``array_api_compat.array_namespace``).

    NumPy arrays give the compat wrapper ``array_api_compat.numpy``; CuPy arrays the CuPy
    wrapper; ``array_api_strict`` arrays ``array_api_strict``. Mixing backends raises
    ``TypeError``.
    """
    return array_api_compat.array_namespace(*arrays)


def resolve_namespace(xp=None, name: str = "xp"):
    """The namespace named by ``xp``: None (NumPy), a module such as ``numpy``, ``cupy`` or
    ``array_api_strict``, or an already compatible namespace; the result is always the
    array-API compatible one (``array_api_compat.numpy`` for ``numpy``)."""
    if xp is None:
        return array_api_compat.array_namespace(np.empty(0))
    if not isinstance(xp, types.ModuleType):
        raise TypeError(f"{name} must be an array namespace module (numpy, cupy, "
                        f"array_api_strict, ...) or None, got {type(xp).__name__}")
    try:
        return array_api_compat.array_namespace(xp.asarray(0.0))
    except (AttributeError, TypeError) as exc:
        raise TypeError(f"{name} is the module {xp.__name__!r}, which is not an array "
                        f"namespace that array_api_compat supports") from exc


def is_numpy_namespace(xp) -> bool:
    """True for NumPy (plain or the compat wrapper)."""
    return array_api_compat.is_numpy_namespace(xp)


def to_numpy(x) -> np.ndarray:
    """A NumPy copy of an array of any backend (CuPy arrays leave the device)."""
    if isinstance(x, np.ndarray):
        return x
    if hasattr(x, "get") and type(x).__module__.startswith("cupy"):
        return x.get()
    return np.asarray(x)


def uniforms(rng: np.random.Generator, shape, xp, device=None):
    """Uniform [0, 1) floats of ``shape`` drawn by ``rng`` (NumPy) as a float64 array of
    namespace ``xp`` (on ``device`` when given): the same numbers on every backend."""
    u = rng.random(shape)
    if device is None:
        return xp.asarray(u, dtype=xp.float64)
    return xp.asarray(u, dtype=xp.float64, device=device)


def categorical(probs, u, xp=None):
    """Inverse-CDF draws from the rows of ``probs`` (..., K) with uniforms ``u`` (...).

    Returns int64 indices of shape ``u.shape``: ``k`` with probability ``probs[..., k]``
    (rows need not be normalised: the uniform is scaled by the row sum; zero-padded
    entries are never drawn).
    """
    xp = namespace(probs, u) if xp is None else xp
    return categorical_from_cdf(xp.cumulative_sum(probs, axis=-1), u, xp)


def categorical_from_cdf(cdf, u, xp=None):
    """:func:`categorical` from running sums ``cdf`` (..., K) computed once (e.g. a whole
    transition table's, reused every step): ``k = #{j : u c_K >= c_j}``, clipped."""
    xp = namespace(cdf, u) if xp is None else xp
    K = cdf.shape[-1]
    scaled = u[..., None] * cdf[..., K - 1:K]
    k = xp.sum(xp.astype(scaled >= cdf, xp.int64), axis=-1)
    return xp.minimum(k, xp.asarray(K - 1, dtype=xp.int64))

