"""Checks for the arguments of ``nn``'s classes and functions, each written once.

Every check returns the argument in its plain form (an ``int`` for a count, a ``float`` for an
amount, a ``bool`` for a flag) or raises an error that names the argument, shows the value it got
and says what to pass instead::

    positive_int("epochs", 2.5)   ->  epochs must be a positive int (1, 2, 3, ...), got 2.5 (a float)
    real("lr", -1.0)              ->  lr must be a finite number >= 0, got -1.0
    probability("dropout", 1.0)   ->  dropout must be a probability in [0, 1), got 1.0

An argument of the wrong kind (a str where a number goes) raises :class:`ArgumentKindError`, and one of
the right kind outside its range a ``ValueError``.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable

import numpy as np

__all__ = ["ArgumentKindError", "positive_int", "positive_int_or_none", "real", "real_or_none", "probability",
           "flag", "choice"]


class ArgumentKindError(TypeError, ValueError):
    """An argument of the wrong kind, e.g. ``"0.1"`` or ``True`` where a number goes.

    A ``TypeError``, as Python's own checks raise; also a ``ValueError``, as nn's checks raised for
    counts and amounts before they were gathered here, so an ``except ValueError`` written then still holds.
    """


def _shown(value: object) -> str:
    """The value and its type, e.g. ``'2' (a str)``, cut short so that a huge argument stays one line."""
    if value is None:
        return "None"
    kind = type(value).__name__
    return f"{value!r:.40} ({'an' if kind[:1] in 'aeiou' else 'a'} {kind})"


def positive_int(name: str, value: object) -> int:
    """``value`` as an int >= 1; numpy integers are accepted, ``True`` and ``2.0`` are not."""
    return _positive_int(name, value, "")


def positive_int_or_none(name: str, value: object) -> int | None:
    """``None``, or ``value`` as an int >= 1."""
    return None if value is None else _positive_int(name, value, " or None")


def _positive_int(name: str, value: object, alternative: str) -> int:
    expected = f"{name} must be a positive int (1, 2, 3, ...){alternative}"
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        hint = ""
        if isinstance(value, (float, np.floating)) and float(value).is_integer() and value >= 1:
            hint = f"; write {int(value)}"
        raise ArgumentKindError(f"{expected}, got {_shown(value)}{hint}")
    if value < 1:
        raise ValueError(f"{expected}, got {value!r:.40}")
    return int(value)


def real(name: str, value: object, low: float = 0.0, high: float = math.inf, *, open_low: bool = False,
         open_high: bool = False, what: str = "", note: str = "") -> float:
    """``value`` as a float in the range from ``low`` to ``high`` (each end closed unless ``open_``).

    ``what`` names the kind of number in the message (``"a probability"``); by default "a number",
    or "a finite number" when an end of the range is infinite. ``note`` says what the number means.
    """
    return _real(name, value, (low, high, open_low, open_high), what, note, "")


def real_or_none(name: str, value: object, low: float = 0.0, high: float = math.inf, *, open_low: bool = False,
                 open_high: bool = False, what: str = "", note: str = "") -> float | None:
    """``None``, or ``value`` as in :func:`real`."""
    return None if value is None else _real(name, value, (low, high, open_low, open_high), what, note, " or None")


def probability(name: str, value: object) -> float:
    """``value`` as a float in [0, 1), e.g. a dropout rate (1 would drop everything)."""
    return real(name, value, 0.0, 1.0, open_high=True, what="a probability")


def _real(name: str, value: object, span: tuple[float, float, bool, bool], what: str, note: str,
          alternative: str) -> float:
    low, high, open_low, open_high = span
    expected = f"{name} must be {what or _number_word(low, high)}{_range_text(*span)}{alternative}"
    if note:
        expected += f" ({note})"
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise ArgumentKindError(f"{expected}, got {_shown(value)}")
    try:
        v = float(value)
    except OverflowError:  # an int of hundreds of digits
        raise ValueError(f"{expected}, got {value!r:.40}... (too large for a float)") from None
    inside = (low < v if open_low else low <= v) and (v < high if open_high else v <= high)
    if not (math.isfinite(v) and inside):
        raise ValueError(f"{expected}, got {value!r:.40}")
    return v


def _number_word(low: float, high: float) -> str:
    return "a number" if math.isfinite(low) and math.isfinite(high) else "a finite number"


def _range_text(low: float, high: float, open_low: bool, open_high: bool) -> str:
    """`` >= 0``, `` in [0, 1)``, or nothing when the range is every finite number."""
    if math.isinf(low) and math.isinf(high):
        return ""
    if math.isinf(high):
        return f" {'>' if open_low else '>='} {low:g}"
    if math.isinf(low):
        return f" {'<' if open_high else '<='} {high:g}"
    return f" in {'(' if open_low else '['}{low:g}, {high:g}{')' if open_high else ']'}"


def flag(name: str, value: object) -> bool:
    """``value`` as a bool; only ``True``/``False`` (or numpy's) are accepted, so ``"no"`` is not read as true."""
    if not isinstance(value, (bool, np.bool_)):
        raise ArgumentKindError(f"{name} must be True or False, got {_shown(value)}")
    return bool(value)


def choice(name: str, value: object, choices: Iterable[str]) -> str:
    """``value`` if it is one of ``choices``; otherwise an error listing them."""
    options = list(choices)
    listed = ", ".join(map(repr, options))
    if not isinstance(value, str):
        raise ArgumentKindError(f"{name} must be a name, one of {listed}; got {_shown(value)}")
    if value not in options:
        raise ValueError(f"unknown {name} {value!r:.60}; choose one of {listed}")
    return value
