"""The scalar autodiff engine: a ``Value`` records each operation; ``backward()`` applies the chain rule.

A ``Value`` holds a number (``data``), the derivative of the final output with
respect to it (``grad``), the op that made it (``_op``, a row of the op table in
``ops.py``) and its inputs: every op takes one or two, ``_x`` and ``_y``, read
together as ``_prev``, a tuple in argument order with duplicates kept.

Backpropagation visits every node from the output down and, with the local
derivative ∂node/∂child that the op table gives, applies::

    child.grad += node.grad * local      # the chain rule, summed over every path
"""

from __future__ import annotations

import gc
import math
import numbers
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Union

import numpy as np

from . import ops
from .graph import topological_order
from .ops import (
    ABS,
    ADD,
    COS,
    DIV,
    EXP,
    FLOAT,
    LEAKY_RELU,
    LOG,
    MUL,
    NEG,
    POW,
    RELU,
    SIGMOID,
    SIN,
    SQRT,
    SUB,
    TANH,
    VALUE,
    VPOW,
    DomainError,
    Op,
)

Number = Union[int, float, np.number]
Operand = Union["Value", int, float, np.number]

_INF = math.inf
_new = object.__new__


class _Mode:
    """Global switches: is the graph recorded, and are we tracing for ``jit``?"""

    grad_enabled: bool = True
    tracing: bool = False  # set by jit; see Value._apply
    trace_leaves: list[Value] | None = None  # leaves created while tracing are constants
    last_backward: weakref.ref[Value] | None = None  # the root of the latest backward(), weakly


MODE = _Mode()


@contextmanager
def no_grad() -> Iterator[None]:
    """Within this block ops compute values but record no graph (results are leaves)."""
    before = MODE.grad_enabled
    MODE.grad_enabled = False
    try:
        yield
    finally:
        MODE.grad_enabled = before


class gc_paused:  # noqa: N801 - used like a function: ``with gc_paused():``
    """Pause Python's cyclic garbage collector while a large graph is built or walked.

    The engine never creates reference cycles (nodes point only to their
    children), so graphs are freed by reference counting the moment they are
    dropped. The cyclic collector has nothing to find in them, yet it would
    rescan every live node again and again while a big graph grows: in
    micrograd's moons step that is most of the time. Used by ``backward()`` and
    by the nn forward pass; safe to nest. (A class, not a generator: it is
    entered on every forward and backward, so it should cost next to nothing.)
    """

    __slots__ = ("was_enabled",)

    def __enter__(self) -> None:
        self.was_enabled = gc.isenabled()
        gc.disable()

    def __exit__(self, *exc: object) -> None:
        if self.was_enabled:
            gc.enable()


def _check_number(data: Any, what: str) -> float:
    """``data`` as a finite float, or a clear error."""
    if isinstance(data, Value):
        raise TypeError(f"{what} must be a number, not a Value: use the Value itself, or its .data")
    if isinstance(data, (numbers.Real, np.bool_)):
        x = float(data)
    else:
        raise TypeError(f"{what} must be a real number (int, float or numpy scalar), "
                        f"got {type(data).__name__}: {data!r:.60}. Pass a single number, e.g. Value(2.0).")
    if not math.isfinite(x):
        raise ValueError(f"{what} must be finite, got {x}. Check the computation that produced it.")
    return x


class Value:
    """A scalar in a computational graph.

    ``Value(2.0, label='a')``. Arithmetic with other Values or plain numbers
    builds the graph; ``out.backward()`` fills in ``grad`` = ∂out/∂node everywhere.

    ``==`` and ``hash`` are identity-based (as for any object): a Value is a node
    in a graph, and two nodes holding the same number are still two nodes, so
    they can live in sets and dicts during graph walks. ``<``, ``<=``, ``>``,
    ``>=`` compare ``data`` and return a bool.
    """

    # Inputs live in two slots rather than a tuple: one object per node instead
    # of two halves the memory and the garbage collector's work on big graphs.
    __slots__ = ("data", "grad", "label", "_op", "_x", "_y", "__weakref__")
    __array_ufunc__ = None  # make numpy defer: np.float64(2) * v calls v.__rmul__

    data: float
    grad: Any  # float, or a Value after backward(create_graph=True)
    label: str | None
    _op: Op | None
    _x: Value | None  # first input (None for a leaf)
    _y: Value | None  # second input (None for a leaf or a unary op)

    def __init__(self, data: Number, label: str | None = None) -> None:
        if label is not None and not isinstance(label, str):
            raise TypeError(f"label must be a str or None, got {type(label).__name__}")
        self.data = _check_number(data, "Value(data)")
        self.grad = 0.0
        self.label = label
        self._op = self._x = self._y = None
        if MODE.trace_leaves is not None:
            MODE.trace_leaves.append(self)

    # ---------------------------------------------------------------- applying ops

    def _apply(self, op: Op, other: Value | None = None) -> Value:
        """Run ``op`` on ``self`` (and ``other``) through the op table; record the node.

        While ``jit`` traces, placeholder inputs hold nan: nan passes the domain
        checks and flows through, and only the graph's structure is kept.
        """
        x = self.data
        if other is None:
            undefined = op.domain is not None and op.domain(x)
        else:
            y = other.data
            undefined = op.domain is not None and op.domain(x, y)
        if undefined:
            raise _op_error(op, self, other, "domain")
        try:
            data = op.forward(FLOAT, x) if other is None else op.forward(FLOAT, x, y)
        except (ArithmeticError, ValueError) as e:
            raise _op_error(op, self, other, "overflow" if isinstance(e, OverflowError) else "domain") from None
        if not -_INF < data < _INF and not MODE.tracing:
            raise _op_error(op, self, other, "overflow")
        out = _new(Value)
        out.data = data
        out.grad = 0.0
        out.label = None
        if MODE.grad_enabled:
            out._op, out._x, out._y = op, self, other
        else:
            out._op = out._x = out._y = None
        return out

    # ---------------------------------------------------------------- operators

    def __add__(self, other: Operand) -> Value:
        return self._apply(ADD, other if isinstance(other, Value) else _lift(other))

    def __radd__(self, other: Operand) -> Value:
        return _lift(other)._apply(ADD, self)

    def __sub__(self, other: Operand) -> Value:
        return self._apply(SUB, other if isinstance(other, Value) else _lift(other))

    def __rsub__(self, other: Operand) -> Value:
        return _lift(other)._apply(SUB, self)

    def __mul__(self, other: Operand) -> Value:
        return self._apply(MUL, other if isinstance(other, Value) else _lift(other))

    def __rmul__(self, other: Operand) -> Value:
        return _lift(other)._apply(MUL, self)

    def __truediv__(self, other: Operand) -> Value:
        return self._apply(DIV, other if isinstance(other, Value) else _lift(other))

    def __rtruediv__(self, other: Operand) -> Value:
        return _lift(other)._apply(DIV, self)

    def __pow__(self, other: Operand) -> Value:
        if isinstance(other, Value):
            return self._apply(VPOW, other)
        return self._apply(POW.bind(_check_number(other, "the exponent")))

    def __rpow__(self, other: Operand) -> Value:
        return _lift(other)._apply(VPOW, self)

    def __neg__(self) -> Value:
        return self._apply(NEG)

    def __pos__(self) -> Value:
        return self

    def __abs__(self) -> Value:
        return self._apply(ABS)

    # ---------------------------------------------------------------- functions

    def exp(self) -> Value:
        """e^x; d/dx = e^x."""
        return self._apply(EXP)

    def log(self) -> Value:
        """ln x (x > 0); d/dx = 1/x."""
        return self._apply(LOG)

    def tanh(self) -> Value:
        """tanh x; d/dx = 1 - tanh² x."""
        return self._apply(TANH)

    def sigmoid(self) -> Value:
        """σ(x) = 1/(1+e^-x); d/dx = σ(x)(1-σ(x))."""
        return self._apply(SIGMOID)

    def relu(self) -> Value:
        """max(0, x); d/dx = 1 if x > 0 else 0."""
        return self._apply(RELU)

    def leaky_relu(self, slope: float = 0.01) -> Value:
        """x if x > 0 else slope·x; d/dx = 1 or slope."""
        return self._apply(LEAKY_RELU.bind(_check_number(slope, "slope")))

    def sqrt(self) -> Value:
        """√x (x > 0); d/dx = 1/(2√x)."""
        return self._apply(SQRT)

    def abs(self) -> Value:
        """|x|; d/dx = sign(x)."""
        return self._apply(ABS)

    def sin(self) -> Value:
        """sin x; d/dx = cos x."""
        return self._apply(SIN)

    def cos(self) -> Value:
        """cos x; d/dx = -sin x."""
        return self._apply(COS)

    # ---------------------------------------------------------------- comparisons

    def _compare_data(self, other: Operand) -> float:
        if MODE.tracing:
            raise TracingError(
                "a Value was compared (or used in an `if`) while jit was tracing: the traced graph "
                "would bake in one branch for every sample. Write the choice with ops instead: "
                "relu(x) for max(x, 0), leaky_relu(x, slope), abs(x), or (x - y).relu() + y for max(x, y).")
        return other.data if isinstance(other, Value) else _check_number(other, "the compared number")

    def __lt__(self, other: Operand) -> bool:
        return self.data < self._compare_data(other)

    def __le__(self, other: Operand) -> bool:
        return self.data <= self._compare_data(other)

    def __gt__(self, other: Operand) -> bool:
        return self.data > self._compare_data(other)

    def __ge__(self, other: Operand) -> bool:
        return self.data >= self._compare_data(other)

    def __bool__(self) -> bool:
        return self.data != self._compare_data(0.0)

    def __float__(self) -> float:
        return self.data

    @property
    def _prev(self) -> tuple[Value, ...]:
        """The inputs in argument order, duplicates kept: ``(a + a)._prev == (a, a)``."""
        if self._x is None:
            return ()
        return (self._x,) if self._y is None else (self._x, self._y)

    @_prev.setter
    def _prev(self, children: tuple[Value, ...]) -> None:
        if len(children) > 2:
            raise ValueError(f"a node has at most 2 inputs, got {len(children)}")
        self._x = children[0] if children else None
        self._y = children[1] if len(children) == 2 else None

    def local_derivatives(self) -> tuple[float, ...]:
        """∂self/∂child for each child in ``_prev``, read from the op table (``()`` for a leaf)."""
        if self._op is None:
            return ()
        return tuple(self._op.local(FLOAT, self.data, *(c.data for c in self._prev)))

    # ---------------------------------------------------------------- backward

    def backward(self, create_graph: bool = False) -> None:
        """Fill ``grad`` of every node with ∂self/∂node by the chain rule.

        Leaf gradients accumulate across calls (zero them between training
        steps); interior nodes are reset first, so two calls give exactly twice
        the leaf gradients. With ``create_graph=True`` every gradient is itself a
        ``Value`` graph, so it can be differentiated again.
        """
        with gc_paused():
            self._backward(create_graph)
        MODE.last_backward = weakref.ref(self)  # so explain(node) knows which output to trace from

    def _backward(self, create_graph: bool) -> None:
        order = topological_order(self)
        for node in order:
            if node._x is not None:
                node.grad = 0.0
        self.grad = self.grad + 1.0
        if create_graph:
            self.grad = _lift(self.grad) if not isinstance(self.grad, Value) else self.grad
            for node in reversed(order):
                if node._prev:
                    locals_ = node._op.local(VALUE, node, *node._prev)  # type: ignore[union-attr]
                    for child, d in zip(node._prev, locals_):
                        _accumulate(child, node.grad, d)
            for node in order:  # a node no gradient reached (behind a dead relu) holds a constant 0
                if not isinstance(node.grad, Value):
                    node.grad = _lift(node.grad)
            return
        for node in reversed(order):
            x, y, g = node._x, node._y, node.grad
            if x is None or g == 0.0:  # a leaf, or nothing flows back through this node
                continue
            if y is None:
                (dx,) = node._op.local(FLOAT, node.data, x.data)  # type: ignore[union-attr]
                x.grad += g * dx
            else:
                dx, dy = node._op.local(FLOAT, node.data, x.data, y.data)  # type: ignore[union-attr]
                x.grad += g * dx
                y.grad += g * dy

    def __repr__(self) -> str:
        lab = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data}, grad={self.grad}{lab})"


def _op_error(op: Op, x: Value, y: Value | None, kind: str) -> DomainError:
    inputs = (x,) if y is None else (x, y)
    datas, labels = tuple(v.data for v in inputs), tuple(v.label for v in inputs)
    message = ops.overflow_message if kind == "overflow" else ops.domain_message
    return DomainError(message(op, datas, labels))


class TracingError(RuntimeError):
    """Python control flow on a Value while ``jit`` traces a function."""


def _lift(x: Operand) -> Value:
    """A Value as is; a number as a constant leaf."""
    if isinstance(x, Value):
        return x
    c = object.__new__(Value)
    c.data = x if type(x) is float and -_INF < x < _INF else _check_number(x, "operand")
    c.grad, c.label = 0.0, None
    c._op = c._x = c._y = None
    if MODE.trace_leaves is not None:
        MODE.trace_leaves.append(c)
    return c


def _accumulate(child: Value, upstream: Any, local: Any) -> None:
    """child.grad += upstream * local, building a graph; skips trivial ×1 and 0+."""
    if isinstance(local, float) and local == 0.0:
        return
    if isinstance(local, float) and local == 1.0:
        term = upstream
    elif isinstance(local, float) and local == -1.0:
        term = -upstream
    else:
        term = upstream * local
    if not isinstance(child.grad, Value) and child.grad == 0.0:
        child.grad = term if isinstance(term, Value) else _lift(term)
    else:
        child.grad = child.grad + term
