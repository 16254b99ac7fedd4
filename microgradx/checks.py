"""Checks at the engine's edges: numbers coming in, gradients going out.

``number`` turns what a user passes into a finite float or says clearly what was
wrong; ``gradient_error`` runs only after a backward pass failed, and replays it
to name the op where the gradient stopped being a finite number.
"""

from __future__ import annotations

import math
import numbers
from operator import attrgetter
from typing import Any

import numpy as np

from .modes import STATE, TracingError
from .ops import DomainError, Op, gradient_message

__all__ = ["BACKWARD_WHILE_TRACING", "number", "float_data", "label_text", "refuse_conversion", "compared",
           "finite_gradients", "grads", "restore", "gradient_error", "table_row"]

_GRAD = attrgetter("grad")
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


def float_data(node: Any) -> float:
    """``node.data`` as a Python float: a numpy scalar put there (``p.data = np.float32(1)``) is converted in
    place, so no arithmetic runs in float32; anything else that is not a number is refused, saying why."""
    data = node.data
    if type(data) is float:
        return data
    what = f"the data of {node.label!r}" if node.label else "a Value's data"
    if hasattr(data, "_prev"):
        raise TypeError(f"{what} holds a Value, not a number. After backward(create_graph=True) every grad is a "
                        "Value, so `p.data += -lr * p.grad` stores a graph in data: write "
                        "`p.data += -lr * p.grad.data` (or `p.data -= lr * p.grad.item()`)")
    node.data = number(data, what)
    return node.data  # type: ignore[no-any-return]


def refuse_conversion(node: Any, call: str) -> TypeError:
    """The error for ``float(v)``, ``int(v)``, ``round(v)``: a Value is a node, its number is ``v.data``."""
    return TypeError(f"{call}() of a Value is refused: it would drop the gradient. Use v.data (or v.item()) for "
                     f"the number {node.data!r}, e.g. {call}(v.data); for a differentiable op call the Value's "
                     "method, e.g. v.sin() or mx.sin(v), not math.sin(v)")


def compared(other: Any) -> float:
    """The number a Value is compared with (``v < other``), refused while jit traces (it would freeze a branch)."""
    if STATE.tracer is not None:
        raise TracingError(
            "a Value was compared (or used in an `if`) while jit was tracing: the traced graph "
            "would bake in one branch for every sample. Write the choice with ops instead: "
            "relu(x) for max(x, 0), leaky_relu(x, slope), abs(x), or (x - y).relu() + y for max(x, y).")
    return other.data if hasattr(other, "_prev") else number(other, "the compared number")


def finite_gradients(leaves: list[Any], create_graph: bool) -> None:
    """Raise ArithmeticError if a leaf's gradient is not a finite number (every wrong gradient reaches some leaf)."""
    grads = map(_GRAD, leaves)
    # The sum is inf or nan if any term is (or if finite terms overflow: the loop below tells which).
    total = sum(g.data if hasattr(g, "_prev") else g for g in grads) if create_graph else sum(grads)
    if total - total != 0.0:
        for leaf in leaves:
            g = leaf.grad.data if hasattr(leaf.grad, "_prev") else leaf.grad  # (a Value: from create_graph)
            if g - g != 0.0 and not getattr(leaf, "_constant", False):  # a lifted number is no input: no check
                raise ArithmeticError(f"a gradient became {g}")


def grads(nodes: list[Any]) -> list[Any]:
    """The nodes' gradients, as a list (``map`` with ``attrgetter``: C speed on 100,000 leaves)."""
    return list(map(_GRAD, nodes))


def restore(leaves: list[Any], before: list[Any], error: BaseException) -> bool:
    """After a failed backward pass: every leaf's grad as it was. True if it failed on ``p.grad = None``
    (PyTorch's way to zero a gradient): those grads are now 0.0, and the pass may run again."""
    for leaf, g in zip(reversed(leaves), reversed(before)):
        leaf.grad = g
    cleared = [leaf for leaf in leaves if leaf.grad is None] if isinstance(error, TypeError) else []
    for leaf in cleared:
        leaf.grad = 0.0
    return bool(cleared)


def table_row(op: Any, arity: int) -> None:
    """``x.apply(op, ...)`` needs a row of the op table and as many operands as it takes."""
    if not isinstance(op, Op) or op.user_defined:
        raise TypeError(f"apply needs a row of the op table (microgradx.OPS), got {op!r}")
    if arity != op.arity:
        raise TypeError(f"{op.name} takes {op.arity} operand(s), got {arity}")


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


BACKWARD_WHILE_TRACING = (
    "backward() was called while jit was tracing: the gradients would be numbers computed from placeholders. "
    "Inside a jitted function take gradients with mx.grad(f)(x) (traced too); for the parameters' gradients "
    "call jitted.value_and_grad(...) outside it.")
