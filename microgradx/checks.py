"""Checks at the engine's edges: numbers coming in, gradients going out.

``number`` turns what a user passes into a finite float or says clearly what was
wrong; ``gradient_error`` runs only after a backward pass failed, and replays it
to name the op where the gradient stopped being a finite number.
"""

from __future__ import annotations

import math
import numbers
from typing import Any

import numpy as np

from .ops import DomainError, gradient_message

__all__ = ["number", "label_text", "gradient_error"]

_INT_LIMIT = 2 ** 1023  # ints below this in size convert to a finite float


def number(data: Any, what: str) -> float:
    """``data`` as a finite float, or a clear error."""
    kind = type(data)
    if kind is float and data - data == 0.0:  # the common case first: a finite float
        return data  # type: ignore[no-any-return]
    if kind is int and -_INT_LIMIT < data < _INT_LIMIT:
        return float(data)
    if hasattr(data, "_prev"):
        raise TypeError(f"{what} must be a number, not a Value: use the Value itself, or its .data")
    if not isinstance(data, (numbers.Real, np.bool_)):
        raise TypeError(f"{what} must be a real number (int, float or numpy scalar), "
                        f"got {type(data).__name__}: {data!r:.60}. Pass a single number, e.g. Value(2.0).")
    try:
        x = float(data)
    except OverflowError:
        raise ValueError(f"{what} must be a finite number; {str(data)[:20]}... ({len(str(data))} digits) is too "
                         "large for a float") from None
    if not math.isfinite(x):
        raise ValueError(f"{what} must be finite, got {x}. Check the computation that produced it.")
    return x


def label_text(label: Any) -> str:
    if label is None:
        return ""
    if not isinstance(label, str):
        raise TypeError(f"label must be a str, got {type(label).__name__}")
    return label


def gradient_error(root: Any, interior: list[Any], error: BaseException) -> DomainError:
    """The op where the backward pass stopped being finite, named (a replay, run only on failure)."""
    grads: dict[int, float] = {id(root): 1.0}
    for node in reversed(interior):
        g = grads.get(id(node), 0.0)
        if g == 0.0:
            continue
        try:
            locals_ = node.local_derivatives()
        except (ArithmeticError, ValueError):
            locals_ = (math.inf,) * len(node._prev)
        for child, local in zip(node._prev, locals_):
            share = g * local
            if share - share != 0.0:
                datas = tuple(c.data for c in node._prev)
                labels = tuple(c.label or None for c in node._prev)
                return DomainError(gradient_message(node._op, datas, labels, local, g), node._op, datas, "gradient")
            grads[id(child)] = grads.get(id(child), 0.0) + share
    return DomainError(f"the backward pass did not give finite gradients ({error}); every leaf's grad is as it was. "
                       "Rescale the inputs, or look for a value near a point where a derivative is infinite.")
