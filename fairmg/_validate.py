"""Argument checks shared by every public function: one place, one wording.

Every check raises ``TypeError`` (wrong kind of object) or ``ValueError`` (right kind,
wrong value) whose message names the argument, the offending index and the expected
property, e.g. ``transition[1, 4, :] sums to 0.97, expected 1``.
"""
from __future__ import annotations

import numbers

import numpy as np

from . import kernels

__all__ = ["STOCHASTIC_TOL", "MEMORY_LIMIT_BYTES", "MAX_GAMMA", "MAX_MAGNITUDE", "check_scalar", "check_int", "check_gamma",
           "check_probability", "check_bool", "check_choice", "as_float_array",
           "as_action_sizes", "as_index_array", "check_distributions", "check_memory",
           "as_rng", "check_finite_result", "check_game", "TooLargeError", "NonFiniteError"]

#: Largest allowed deviation of a probability row's sum from 1.
STOCHASTIC_TOL = 1e-9
#: Largest array (bytes) the exact engine allocates before refusing with a clear error.
MEMORY_LIMIT_BYTES = 4 * 2**30
#: The largest discount factor accepted (see :func:`check_gamma`).
MAX_GAMMA = 1.0 - 1e-6
#: Magnitudes above this are refused: sums over a few thousand terms and 1 / (1 - gamma)
#: factors must stay finite in float64.
MAX_MAGNITUDE = 1e150


def _is_number(value) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool) or (
        isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "iuf")


def check_scalar(value, name: str, *, positive: bool = False, upper: float | None = None,
                 allow_negative: bool = False) -> float:
    """``value`` as a finite float, >= 0 (> 0 with ``positive``; any sign with
    ``allow_negative``) and <= ``upper`` when given, else raise.

    Raises ``TypeError`` for a non-number (strings, bools and complex numbers included) and
    ``ValueError`` naming ``name`` otherwise.
    """
    if not _is_number(value):
        raise TypeError(f"{name} must be a float (a real number), got {value!r}")
    v = float(value)
    ok = np.isfinite(v) and (allow_negative or (v > 0 if positive else v >= 0))
    if not ok or (upper is not None and v > upper):
        want = "a finite number" + ("" if allow_negative else (" > 0" if positive else " >= 0"))
        if upper is not None:
            want += f" and <= {upper}"
        raise ValueError(f"{name} is {value!r}, expected {want}")
    return v


def check_int(value, name: str, *, low: int = 0, high: int | None = None) -> int:
    """``value`` as an int in ``[low, high]``, else raise naming ``name``.

    Integral floats (``3.0``) are accepted; bools, strings and non-integral numbers are not.
    """
    rng = f">= {low}" if high is None else f"in [{low}, {high}]"
    if isinstance(value, (bool, np.bool_)) or not (
            isinstance(value, numbers.Real) or (isinstance(value, np.ndarray)
                                                and value.ndim == 0
                                                and value.dtype.kind in "iuf")):
        raise TypeError(f"{name} must be an int {rng}, got {value!r}")
    if isinstance(value, numbers.Integral):
        v = int(value)
    else:
        f = float(value)
        if not (np.isfinite(f) and f == int(f)):
            raise ValueError(f"{name} is {value!r}, expected an int {rng}")
        v = int(f)
    if v < low or (high is not None and v > high):
        raise ValueError(f"{name} must be an int {rng}, got {v}")
    return v


def check_bool(value, name: str) -> bool:
    """``value`` if it is a bool, else ``TypeError`` (so ``1`` or ``"yes"`` never pass)."""
    if not isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return bool(value)


def check_gamma(gamma, name: str = "gamma") -> float:
    r"""A discount factor in [0, :data:`MAX_GAMMA`].

    Closer to 1, :math:`I - \gamma P_\pi` has condition number up to
    :math:`(1+\gamma)/(1-\gamma)`: at ``1 - 1e-7`` float64 solves lose so many digits
    that a best response can come out worse than the policy it answers, and at
    ``1 - 2**-53`` the visitation is off by half; such values are refused.
    """
    g = check_scalar(gamma, name)
    if not g <= MAX_GAMMA:
        why = ("" if g >= 1.0 else f" (closer to 1, policy evaluation in float64 loses "
               f"too many digits: I - gamma P has condition number ~ 2 / (1 - gamma))")
        raise ValueError(f"{name} is {gamma!r}, expected 0 <= {name} <= {MAX_GAMMA!r} < 1"
                         f"{why}")
    return g


def check_probability(p, name: str) -> float:
    """A probability in [0, 1]."""
    return check_scalar(p, name, upper=1.0)


def check_choice(value, name: str, choices) -> str:
    """``value`` if it is one of ``choices`` (strings), else raise listing them."""
    if not isinstance(value, str) or value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")
    return value


def as_rng(rng, name: str = "rng") -> np.random.Generator:
    """A ``numpy.random.Generator`` from a Generator, a non-negative int seed or None."""
    if rng is None or isinstance(rng, np.random.Generator):
        return np.random.default_rng(rng)
    if isinstance(rng, (bool, np.bool_)) or not isinstance(rng, (numbers.Integral,
                                                                 np.random.SeedSequence)):
        raise TypeError(f"{name} must be a numpy.random.Generator, an int seed or None, "
                        f"got {rng!r}")
    if isinstance(rng, numbers.Integral) and rng < 0:
        raise ValueError(f"{name} is {rng}, expected a non-negative int seed")
    return np.random.default_rng(rng)


def as_float_array(x, name: str, ndim: int | None = None, *,
                   max_magnitude: float = MAX_MAGNITUDE, finite: bool = True) -> np.ndarray:
    """``x`` as a C-contiguous float64 array (a copy), every entry finite and at most
    ``max_magnitude`` in absolute value (both unchecked with ``finite=False``); ``ndim``
    checked when given.

    Complex, boolean, string and ragged inputs raise ``TypeError`` naming ``name``.
    """
    try:
        raw = np.asarray(x)
    except (TypeError, ValueError) as exc:   # ragged nested sequences
        raise TypeError(f"{name} must be a numeric array, got a ragged or non-numeric "
                        f"{type(x).__name__}") from exc
    if raw.dtype == object or raw.dtype.kind not in "iuf":
        kind = {"c": "complex", "b": "boolean", "U": "string", "S": "bytes",
                "O": "ragged or non-numeric"}.get(raw.dtype.kind, str(raw.dtype))
        raise TypeError(f"{name} must be a numeric array of real numbers, got {kind} entries")
    arr = np.array(raw, dtype=np.float64, order="C")
    if ndim is not None and arr.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimensions, got shape {arr.shape}")
    bad = np.argwhere(~np.isfinite(arr) | (np.abs(arr) > max_magnitude)) if finite else ()
    if len(bad):
        idx = tuple(int(v) for v in bad[0])
        what = ("a finite number" if not np.isfinite(arr[idx])
                else f"|value| <= {max_magnitude:g} (rescale it)")
        raise ValueError(f"{name}{list(idx)} is {arr[idx]}, expected {what}")
    return arr


def check_game(game, name: str = "game"):
    """``game`` if it is a :class:`~fairmg.games.base.Game`, else ``TypeError`` naming ``name``."""
    from .games.base import Game
    if not isinstance(game, Game):
        raise TypeError(f"{name} must be a fairmg Game (MarkovGame, FactoredGame, ...), got "
                        f"{type(game).__name__}")
    return game


def as_action_sizes(action_sizes, name: str = "action_sizes") -> tuple[int, ...]:
    """``action_sizes`` as a tuple of ints >= 1; non-integral entries raise."""
    if isinstance(action_sizes, (str, bytes)):
        raise TypeError(f"{name} must be a sequence of ints, got {action_sizes!r}")
    arr = np.atleast_1d(np.asarray(action_sizes, dtype=object))
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty sequence of ints, got {action_sizes!r}")
    return tuple(check_int(a, f"{name}[{i}]", low=1) for i, a in enumerate(arr))


def as_index_array(x, name: str, upper: int) -> np.ndarray:
    """``x`` as an int64 array with entries in [0, upper); floats and bad entries raise."""
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:   # ragged nested sequences
        raise TypeError(f"{name} must be an array of ints, got a ragged or non-numeric "
                        f"{type(x).__name__}") from exc
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(f"{name} must hold ints, got dtype {arr.dtype}")
    bad = np.argwhere((arr < 0) | (arr >= upper))
    if bad.size:
        idx = tuple(int(v) for v in bad[0])
        raise ValueError(f"{name}{list(idx)} is {arr[idx]}, expected in [0, {upper})")
    return arr.astype(np.int64)


def check_distributions(arr: np.ndarray, name: str, mask: np.ndarray | None = None) -> None:
    """Raise unless every row ``arr[..., :]`` (restricted to ``mask``) is a distribution."""
    rows = np.ascontiguousarray(arr).reshape(-1, arr.shape[-1])
    if (kernels.rows_are_distributions(rows, STOCHASTIC_TOL)
            and (mask is None or not np.any((arr != 0) & ~mask))):
        return  # valid: skip the slower search for the offending index below
    bad = np.argwhere(~np.isfinite(arr))
    if bad.size:
        idx = tuple(int(v) for v in bad[0])
        raise ValueError(f"{name}{list(idx)} is {arr[idx]}, expected a finite number")
    neg = np.argwhere(arr < 0)
    if neg.size:
        idx = tuple(int(v) for v in neg[0])
        raise ValueError(f"{name}{list(idx)} is {arr[idx]:.6g}, expected >= 0")
    sums = arr.sum(axis=-1)
    if arr.ndim == 1:
        if abs(sums - 1.0) > STOCHASTIC_TOL:
            raise ValueError(f"{name} sums to {sums:.12g}, expected 1")
        return
    bad = np.argwhere(np.abs(sums - 1.0) > STOCHASTIC_TOL)
    if bad.size:
        idx = tuple(int(v) for v in bad[0])
        raise ValueError(
            f"{name}[{', '.join(map(str, idx))}, :] sums to {sums[idx]:.12g}, expected 1")
    if mask is not None:
        off = np.argwhere((arr != 0) & ~mask)
        if off.size:
            idx = tuple(int(v) for v in off[0])
            raise ValueError(f"{name}{list(idx)} is {arr[idx]:.6g} but that action does not "
                             f"exist (padding must be 0)")


class TooLargeError(MemoryError, ValueError):
    """An array the caller asked for would exceed :data:`MEMORY_LIMIT_BYTES`."""


class NonFiniteError(FloatingPointError, ValueError):
    """A result overflowed float64 because of the caller's arguments (rewards too large,
    a step size too large): a ``FloatingPointError`` and a ``ValueError``."""


def as_initial(initial, n_states: int, whence: str = "") -> np.ndarray:
    """The initial distribution mu (S,): uniform for None, else checked to be one."""
    if initial is None:
        return np.full(n_states, 1.0 / n_states)
    mu = as_float_array(initial, "initial", 1)
    if mu.shape != (n_states,):
        raise ValueError(f"initial must have shape ({n_states},){whence}, got {mu.shape}")
    check_distributions(mu, "initial")
    return mu


def check_memory(n_floats: float, what: str, hint: str = "") -> None:
    """Refuse, before allocating, an array of ``n_floats`` float64 over the memory limit.

    Raises :class:`TooLargeError` (a ``MemoryError`` and a ``ValueError``) stating the
    size and the limit; ``hint`` says what fits or what to use instead.
    """
    n_bytes = 8.0 * float(n_floats)
    if n_bytes > MEMORY_LIMIT_BYTES:
        raise TooLargeError(f"{what} needs {_bytes(n_bytes)}, over the limit of "
                            f"{_bytes(MEMORY_LIMIT_BYTES)} "
                            f"(fairmg._validate.MEMORY_LIMIT_BYTES){'; ' + hint if hint else ''}")


def _bytes(n: float) -> str:
    """``n`` bytes, exactly where it is an integer that float64 holds, and in GiB."""
    exact = f"{int(n):,} bytes" if n < 2.0**53 else f"{n:.3g} bytes"
    return f"{exact} ({n / 2**30:.3g} GiB)"


def check_finite_result(x, what: str, fix: str = "rescale the rewards"):
    """``x`` if every entry is finite, else :class:`NonFiniteError` (a
    ``FloatingPointError`` and a ``ValueError``) naming ``what`` and saying ``fix``."""
    arr = np.asarray(x)
    if not np.all(np.isfinite(arr)):
        raise NonFiniteError(f"{what} is not finite (overflow): {fix}")
    return x
