"""Training data in, checked once: features as an (n, d) float array, labels as (n,) or (n, k), all finite.

``fit``, ``predict`` and ``accuracy`` read their arrays through these two
functions, so a bad entry is reported the same way everywhere, by array, row
and column (``X holds nan at row 3, column 1``), before any training starts.
"""

from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["features", "labels", "as_floats"]


def as_floats(a: Any, what: str) -> np.ndarray:
    """``a`` as a float64 array; TypeError naming ``what`` if it is not numbers, or has complex ones."""
    try:
        raw = np.asarray(a)
    except (TypeError, ValueError):
        raw = None  # ragged: np.asarray with a dtype below says why
    if raw is not None and np.iscomplexobj(raw):  # numpy would drop the imaginary parts with only a warning
        _refuse_complex(raw, what)
    try:
        return np.asarray(a if raw is None else raw, dtype=np.float64)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{what} must be numbers in a rectangular array (one row per sample), "
                        f"and it cannot be read as one: {e}") from None


def _refuse_complex(arr: np.ndarray, what: str) -> None:
    """Raise TypeError naming the first entry with an imaginary part (or the array, if none has one)."""
    imaginary = np.argwhere(np.imag(arr) != 0)
    if not len(imaginary):
        raise TypeError(f"{what} is a complex array (all imaginary parts are 0): training data must be real "
                        f"numbers; pass {what}.real")
    first = tuple(int(i) for i in imaginary[0])
    where = ", ".join(f"{axis} {i}" for axis, i in zip(("row", "column", "entry"), first, strict=False)) or "0"
    raise TypeError(f"{what} holds the complex number {arr[first]} at {where}: training data must be real "
                    "numbers, as in the eager engine (a Value refuses complex numbers too)")


def _check_finite(arr: np.ndarray, what: str) -> None:
    bad = ~np.isfinite(arr)
    if bad.any():
        first = tuple(int(i) for i in np.argwhere(bad)[0])
        where = f"row {first[0]}" + (f", column {first[1]}" if arr.ndim == 2 else "")
        more = f" (and {int(bad.sum()) - 1} more non-finite entries)" if bad.sum() > 1 else ""
        raise ValueError(f"{what} holds {arr[first]} at {where}{more}: training data must be finite numbers. "
                         "Drop or fill those entries first.")


def features(X: Any, what: str = "X") -> np.ndarray:
    """``X`` as a float array of shape (n, d); a 1-D ``X`` is one feature per sample, shape (n, 1)."""
    arr = as_floats(X, what)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{what} must be a 2-D array (one row per sample), got shape {arr.shape}")
    _check_finite(arr, what)
    return arr


def labels(y: Any, n: int, what: str = "y", rows_of: str = "X") -> np.ndarray:
    """``y`` as floats, shape (n,) (a column (n, 1) is squeezed) or (n, k) rows of class probabilities."""
    arr = as_floats(y, what)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim not in (1, 2):
        raise ValueError(f"{what} must hold one label (or one row of class probabilities) per sample, "
                         f"got shape {arr.shape}")
    if len(arr) != n:
        raise ValueError(f"{rows_of} has {n} rows but {what} has {len(arr)} labels")
    _check_finite(arr, what)
    return arr
