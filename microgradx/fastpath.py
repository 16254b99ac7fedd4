"""The engine's speed section: the hottest steps written out by hand, each held equal to its op-table row.

Nothing here is new mathematics. ``engine.py`` states every op once, through the op
table (``Value._apply`` runs a row, ``backward()``'s loop reads ``op.local``); this
module repeats three rows -- ``x + y``, ``x · y``, ``relu(x)`` -- and the float chain
rule without the generic machinery (no domain check to call, no tuple of local
derivatives to build, no method call per node). A training step of an MLP is almost
only these three ops, so they are worth writing out; ``tests/core/test_fastpath.py``
holds each one equal to its row (values, gradients, ±0, and inf/nan going to the
checked path). Every node is built by :func:`node`, the one place that makes a
``Value`` without running its constructor -- except in ``add``, ``mul`` and ``relu``, which
write its six stores out (a function call is a fifth of their time); a test holds them to it.

What a fast path may not do is decide anything itself: when the result is not a
finite Python float, or some thread is in ``no_grad()`` or tracing, it hands the
op to the engine's checked path (``Value._apply``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, TypeVar

import numpy as np

from . import modes
from .ops import ADD, FLOAT, MUL, RELU, Op

__all__ = ["node", "add", "mul", "relu", "chain_rule", "ENABLED"]

#: Read by ``Value.backward``: False runs the engine's generic loop for floats too (the tests compare the two).
ENABLED = True



_N = TypeVar("_N")


class Node(Protocol):
    """What the fast paths read and write of a node (``engine.Value`` is one; this module does not import it)."""

    data: Any
    grad: Any
    _op: Op | None
    _x: Any
    _y: Any
    _mark: object

    def _apply(self: _N, op: Op, other: Any = None) -> _N: ...


Value = TypeVar("Value", bound=Node)  # the engine's class, whatever builds: each op returns its own kind
Operand = Any  # a Value or a number (engine.Operand)

_new = object.__new__
# Set by engine.py through bind(): the class ``node`` builds, and engine._lift (this module is imported first).
_Value: type[Any] = None  # type: ignore[assignment]
_lift: Callable[[Operand], Any] = None  # type: ignore[assignment]


def bind(value_class: type[Any], lift: Callable[[Operand], Any]) -> None:
    """Tell this module which class to build and how numbers are lifted (engine.py calls it once)."""
    global _Value, _lift
    _Value, _lift = value_class, lift


def node(data: float, op: Op | None, x: Node | None, y: Node | None, kind: type[Any] | None = None) -> Any:
    """A new node holding ``data``, made by ``op`` from ``x`` (and ``y``): no checks, the caller made them.

    One store a line: a tuple assignment of six costs about 15% more, and this is the
    line every op of a training step runs.
    """
    out = _new(kind or _Value)  # (``kind``: a subclass, engine.Constant)
    out.data = data
    out.grad = 0.0
    out._mark = None
    out._op = op
    out._x = x
    out._y = y
    return out


# ``type(data) is modes.FAST_FLOAT`` holds for a Python float while no thread is in ``no_grad()`` or tracing
# (a numpy scalar, say a float32 a user put in ``data``, or an int is not one); ``data - data != 0.0`` then
# tells inf and nan. (One test, ``(data - data == 0.0) is True``, costs more: CPython 3.11 fuses a float
# comparison with the jump after it, and ``is True`` stands between them.)


def add(self: Value, other: Value | float | int | np.number[Any]) -> Value:
    """``x + y``, the row ``ADD`` written out: out = x + y."""
    if type(other) is not _Value:
        other = _lift(other)
    try:
        data = self.data + other.data  # type: ignore[union-attr]  # (other is a Value now: a runtime test)
    except TypeError:  # data that is not a number: the checked path says what is wrong
        return self._apply(ADD, other)
    if type(data) is not modes.FAST_FLOAT or data - data != 0.0:  # not a finite float, or a mode to respect
        return self._apply(ADD, other)
    out: Value = _new(_Value)  # node(data, ADD, self, other), written out: a call costs a fifth of the op
    out.data = data
    out.grad = 0.0
    out._mark = None
    out._op = ADD
    out._x = self
    out._y = other
    return out


def mul(self: Value, other: Value | float | int | np.number[Any]) -> Value:
    """``x · y``, the row ``MUL`` written out: out = x · y."""
    if type(other) is not _Value:
        other = _lift(other)
    try:
        data = self.data * other.data  # type: ignore[union-attr]  # (other is a Value now: a runtime test)
    except TypeError:  # data that is not a number: the checked path says what is wrong
        return self._apply(MUL, other)
    if type(data) is not modes.FAST_FLOAT or data - data != 0.0:  # not a finite float, or a mode to respect
        return self._apply(MUL, other)
    out: Value = _new(_Value)  # node(data, MUL, self, other), written out: a call costs a fifth of the op
    out.data = data
    out.grad = 0.0
    out._mark = None
    out._op = MUL
    out._x = self
    out._y = other
    return out


def relu(self: Value) -> Value:
    """``relu(x)``, the row ``RELU`` written out: out = max(x, 0)."""
    data = self.data
    if type(data) is not modes.FAST_FLOAT:  # not a float, or a mode to respect
        return self._apply(RELU)
    out: Value = _new(_Value)  # node(max(data, 0), RELU, self, None), written out as in add
    out.data = data if data > 0.0 else 0.0
    out.grad = 0.0
    out._mark = None
    out._op = RELU
    out._x = self
    out._y = None
    return out


def chain_rule(interior: list[Any]) -> None:  # interior nodes: their _op and _x are set
    """``backward()``'s loop for float gradients, with the three commonest rows' local derivatives inlined.

    ∂(x+y) = (1, 1), ∂(x·y) = (y, x), ∂relu(x) = [x > 0]; every other row is read
    from the table as the engine's loop reads it, and a user-defined op runs its
    ``_backward`` closure. Interior gradients must be 0 when it starts.
    """
    for n in reversed(interior):
        g = n.grad
        if g == 0.0:  # nothing flows back through this node (behind a dead relu, say)
            continue
        op, x, y = n._op, n._x, n._y
        if op is ADD:
            x.grad += g
            y.grad += g
        elif op is MUL:
            x.grad += g * y.data
            y.grad += g * x.data
        elif op is RELU:
            if x.data > 0.0:
                x.grad += g
        elif op.user_defined:
            n._backward()  # the user's closure
        elif y is None:
            (dx,) = op.local(FLOAT, n.data, x.data)
            x.grad += g * dx
        else:
            dx, dy = op.local(FLOAT, n.data, x.data, y.data)
            x.grad += g * dx
            y.grad += g * dy
