"""The scalar autodiff engine: a ``Value`` records each operation; ``backward()`` applies the chain rule.

A ``Value`` holds a number (``data``), the derivative of the final output with
respect to it (``grad``), the op that made it (``_op``, a row of the op table in
``ops.py``) and its inputs ``_prev``: at most two, kept in the slots ``_x`` and
``_y``, in argument order, duplicates kept (``(a + a)._prev == (a, a)``).

``backward()`` visits the nodes from the output down (reverse topological order),
and each node passes its gradient on to its inputs, with the local derivative
∂node/∂input that the op table gives -- the chain rule, summed over every path::

    child.grad += node.grad * local          # node._backward(), one step

Leaves accumulate (zero them between training steps); interior nodes start from 0
at every ``backward()``. With ``create_graph=True`` the same steps run on Values,
so every gradient is itself a graph that can be differentiated again.
"""

from __future__ import annotations

import math
import weakref
from operator import attrgetter
from typing import Any, Union

import numpy as np

from . import modes
from .checks import gradient_error, label_text, number
from .graph import backward_order
from .modes import STATE, TracingError, enable_grad, gc_paused, no_grad
from .ops import ADD, FLOAT, LEAKY_RELU, MUL, OPS, POW, RELU, VALUE, VPOW, DomainError, Op, user_op

__all__ = ["Value", "no_grad", "gc_paused", "TracingError", "DomainError"]

Number = Union[int, float, np.number]
Operand = Union["Value", int, float, np.number]
_new = object.__new__
_GRAD = attrgetter("grad")


class Value:
    """A scalar in a computational graph: ``Value(2.0, label='a')``.

    Arithmetic with other Values or plain numbers builds the graph;
    ``out.backward()`` fills in ``grad`` = ∂out/∂node everywhere. micrograd's
    constructor works too: ``Value(data, (child, ...), 'op')`` with a
    ``_backward`` closure assigned afterwards makes a user-defined op.

    ``==`` and ``hash`` are identity-based: a Value is a node, and two nodes
    holding the same number are still two nodes. ``<``, ``>``, ... compare
    ``data``. ``float(v)`` is refused (it would drop the gradient): use ``v.data``.
    """

    # Inputs live in two slots rather than a tuple: one object per node instead of two.
    # ``_mark`` is the graph walk's visited mark; ``__dict__`` (made only when first used) holds a
    # label once set, and any attribute a user adds: most interior nodes never have one.
    __slots__ = ("data", "grad", "_op", "_x", "_y", "_mark", "__dict__", "__weakref__")
    label: str = ""
    __array_ufunc__ = None  # make numpy defer: np.float64(2) * v calls v.__rmul__

    data: float
    grad: Any  # float, or a Value after backward(create_graph=True)
    _op: Op | None
    _x: Value | None
    _y: Value | None

    def __init__(self, data: Number, _children: Any = (), _op: str = "", label: str | None = "") -> None:
        self.data = data if type(data) is float and data - data == 0.0 else number(data, "Value(data)")
        self.grad = 0.0
        if label:
            self.label = label_text(label)
        self._mark = None
        children = _children if type(_children) is tuple else tuple(_children)
        if not children:
            self._op = self._x = self._y = None
            if modes.unusual and STATE.tracer is not None:
                STATE.tracer.constant(self)
            return
        for c in children:
            if not isinstance(c, Value):
                raise TypeError(f"the inputs of a Value must be Values, got {type(c).__name__}")
        if len(children) > 2:
            raise ValueError(f"a node takes at most 2 inputs, got {len(children)}: build a {len(children)}-input "
                             "op from two-input ones (as a + b + c is (a + b) + c)")
        self._op = user_op(str(_op), len(children))
        self._x, self._y = children[0], (children[1] if len(children) == 2 else None)

    # ---------------------------------------------------------------- the chain rule

    def _backward(self) -> None:
        """One step of the chain rule, micrograd's ``_backward``: each input gets ``self.grad × local``."""
        for child, local in zip(self._prev, self.local_derivatives()):
            child.grad += self.grad * local

    def backward(self, create_graph: bool = False) -> None:
        """Fill ``grad`` of every node with ∂self/∂node, stepping the chain rule from here down.

        Leaf gradients accumulate across calls; interior nodes start from 0, so two
        calls give exactly twice the leaf gradients. If a gradient is not a finite
        number a :class:`DomainError` names the op where it went wrong, and every
        leaf's ``grad`` is left as it was before the call.
        """
        if STATE.tracer is not None and not create_graph:
            raise TracingError("backward() was called while jit was tracing: the gradients would be numbers "
                               "computed from placeholders. Inside a jitted function take gradients with "
                               "mx.grad(f)(x) (traced too); for the parameters' gradients call "
                               "jitted.value_and_grad(...) outside it.")
        with gc_paused():
            interior, leaves = backward_order(self)  # interior grads set to 0; leaves keep theirs
            before = list(map(_GRAD, leaves))  # to put back if the pass fails
            try:
                if self._x is None:
                    self.grad = self.grad + (_lift(1.0) if create_graph else 1.0)
                else:
                    self.grad = _lift(1.0) if create_graph else 1.0
                if create_graph and not STATE.recording:  # the gradients are graphs, also inside no_grad()
                    with enable_grad():
                        _chain_rule(interior, create_graph)
                else:
                    _chain_rule(interior, create_graph)
                if STATE.tracer is None:  # while tracing there are no numbers yet (jit checks each sample's)
                    _check_finite(leaves, create_graph)
            except BaseException as e:
                for leaf, g in zip(reversed(leaves), reversed(before)):
                    leaf.grad = g
                if isinstance(e, (ArithmeticError, ValueError)) and not isinstance(e, DomainError):
                    raise gradient_error(self, interior, e) from None
                raise
            if create_graph:  # every gradient is a Value, also where none flowed (behind a dead relu)
                for node in (*interior, *leaves):
                    if not isinstance(node.grad, Value):
                        node.grad = _lift(node.grad)
        STATE.last_backward = weakref.ref(self)  # so explain(node) knows which output to trace from

    def local_derivatives(self) -> tuple[Any, ...]:
        """∂self/∂child for each child in ``_prev``, from the op table (``()`` for a leaf)."""
        op = self._op
        if op is None:
            return ()
        if op.user_defined:
            return _probe_closure(self)
        return tuple(op.local(FLOAT, self.data, *(c.data for c in self._prev)))

    # ---------------------------------------------------------------- applying ops

    def apply(self, op: Op, *operands: Operand) -> Value:
        """The op table's row ``op`` applied to this value (and ``operands``): ``x.apply(OPS['tanh'])``."""
        if not isinstance(op, Op) or op.user_defined:
            raise TypeError(f"apply needs a row of the op table (microgradx.OPS), got {op!r}")
        if len(operands) != op.arity - 1:
            raise TypeError(f"{op.name} takes {op.arity} operand(s), got {1 + len(operands)}")
        return self._apply(op.bound(), _lift(operands[0]) if operands else None)

    def _apply(self, op: Op, other: Value | None = None) -> Value:
        """Run ``op`` on ``self`` (and ``other``), checked by the op table; record the node."""
        if modes.unusual:
            return _apply_in_mode(op, self, other)
        try:
            data = op.evaluate(self.data) if other is None else op.evaluate(self.data, other.data)
        except DomainError as e:
            raise _named(e, self, other) from None
        return _node(data, op, self, other)

    # The hottest ops (+ and × here, relu below) skip the generic path: no domain to check, just the
    # sum or product and an overflow check (the test suite holds them to the op table's rows).
    def __add__(self, other: Operand) -> Value:
        if type(other) is not Value:
            other = _lift(other)
        data = self.data + other.data
        if modes.unusual or data - data != 0.0:  # a mode to respect, or inf/nan: the checked path
            return self._apply(ADD, other)
        out = _new(Value)  # _node(data, ADD, self, other), written out: this is the hottest line of a step
        out.data = data  # (one store a line: a tuple assignment of five costs 15% more)
        out.grad = 0.0
        out._mark = None
        out._op = ADD
        out._x = self
        out._y = other
        return out

    def __mul__(self, other: Operand) -> Value:
        if type(other) is not Value:
            other = _lift(other)
        data = self.data * other.data
        if modes.unusual or data - data != 0.0:  # a mode to respect, or inf/nan: the checked path
            return self._apply(MUL, other)
        out = _new(Value)  # _node(data, MUL, self, other), written out: this is the hottest line of a step
        out.data = data  # (one store a line: a tuple assignment of five costs 15% more)
        out.grad = 0.0
        out._mark = None
        out._op = MUL
        out._x = self
        out._y = other
        return out

    def __radd__(self, other: Operand) -> Value:
        return _lift(other) + self

    def __rmul__(self, other: Operand) -> Value:
        return _lift(other) * self

    def __sub__(self, other: Operand) -> Value:
        return self._apply(OPS["sub"], _lift(other))

    def __rsub__(self, other: Operand) -> Value:
        return _lift(other)._apply(OPS["sub"], self)

    def __truediv__(self, other: Operand) -> Value:
        return self._apply(OPS["div"], _lift(other))

    def __rtruediv__(self, other: Operand) -> Value:
        return _lift(other)._apply(OPS["div"], self)

    def __pow__(self, other: Operand) -> Value:
        if isinstance(other, Value):
            return self._apply(VPOW, other)
        return self._apply(POW.bind(number(other, "the exponent")))

    def __rpow__(self, other: Operand) -> Value:
        return _lift(other)._apply(VPOW, self)

    def __neg__(self) -> Value:
        return self._apply(OPS["neg"])

    def __pos__(self) -> Value:
        return self

    def __abs__(self) -> Value:
        return self._apply(OPS["abs"])

    def exp(self) -> Value:
        return self._apply(OPS["exp"])

    def log(self) -> Value:
        return self._apply(OPS["log"])

    def tanh(self) -> Value:
        return self._apply(OPS["tanh"])

    def sigmoid(self) -> Value:
        return self._apply(OPS["sigmoid"])

    def relu(self) -> Value:
        if modes.unusual:  # written out like + and ×: every hidden neuron applies it
            return self._apply(RELU)
        out = _new(Value)
        data = self.data
        out.data = data if data > 0.0 else 0.0
        out.grad = 0.0
        out._mark = None
        out._op = RELU
        out._x = self
        out._y = None
        return out

    def leaky_relu(self, slope: float | None = None) -> Value:
        return self._apply(LEAKY_RELU.bound(None if slope is None else number(slope, "slope")))

    def sqrt(self) -> Value:
        return self._apply(OPS["sqrt"])

    def abs(self) -> Value:
        return self._apply(OPS["abs"])

    def sin(self) -> Value:
        return self._apply(OPS["sin"])

    def cos(self) -> Value:
        return self._apply(OPS["cos"])

    # (each op method's docstring is its row's ``doc``, set below: the math is written once, in the table)

    # ---------------------------------------------------------------- numbers

    def item(self) -> float:
        """The number this Value holds (as PyTorch's ``tensor.item()``): ``v.data``."""
        return self.data

    def __float__(self) -> float:
        raise TypeError(f"float() of a Value is refused: it would drop the gradient. Use v.data (or v.item()) for "
                        f"the number {self.data!r}; for a differentiable op call the Value's method, e.g. v.sin() or "
                        "mx.sin(v), not math.sin(v)")

    def _compare(self, other: Operand) -> float:
        if STATE.tracer is not None:
            raise TracingError(
                "a Value was compared (or used in an `if`) while jit was tracing: the traced graph "
                "would bake in one branch for every sample. Write the choice with ops instead: "
                "relu(x) for max(x, 0), leaky_relu(x, slope), abs(x), or (x - y).relu() + y for max(x, y).")
        return other.data if isinstance(other, Value) else number(other, "the compared number")

    def __lt__(self, other: Operand) -> bool:
        return self.data < self._compare(other)

    def __le__(self, other: Operand) -> bool:
        return self.data <= self._compare(other)

    def __gt__(self, other: Operand) -> bool:
        return self.data > self._compare(other)

    def __ge__(self, other: Operand) -> bool:
        return self.data >= self._compare(other)

    def __bool__(self) -> bool:
        return self.data != self._compare(0.0)

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

    def __repr__(self) -> str:
        lab = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data}, grad={self.grad}{lab})"


# -------------------------------------------------------------------- the backward pass


def _chain_rule(interior: list[Any], create_graph: bool) -> None:  # interior nodes: _op and _x are set
    """Every interior node, output first, passes its gradient on: ``child.grad += node.grad × local``.

    This is ``Value._backward`` over the reverse topological order, written out once for
    floats (the hot loop: no method call per node, nodes with gradient 0 skipped) and once
    for Values (``create_graph``: the local derivatives come from the op table's Value backend,
    so the gradients are graphs). Both read the same rows of the op table.
    """
    if create_graph:
        for node in reversed(interior):
            op, g = node._op, node.grad
            if type(g) is float and g == 0.0:
                continue
            if op.user_defined:
                raise TypeError(f"backward(create_graph=True) cannot differentiate through the user-defined op "
                                f"{str(op)!r}: its _backward closure computes with numbers. Use the op table's "
                                "version (e.g. v.sin()) to get higher-order gradients.")
            for child, local in zip(node._prev, op.local(VALUE, node, *node._prev)):
                if type(local) is float:
                    if local == 0.0:
                        continue
                    term = g if local == 1.0 else (-g if local == -1.0 else g * local)
                else:
                    term = g * local
                old = child.grad
                child.grad = term if type(old) is float and old == 0.0 else old + term
        return
    for node in reversed(interior):
        g = node.grad
        if g == 0.0:  # nothing flows back through this node (behind a dead relu, say)
            continue
        op, x, y = node._op, node._x, node._y
        if op is ADD:  # the three commonest rows' steps written out: ∂(x+y) = (1, 1), ∂(x·y) = (y, x),
            x.grad += g  # ∂relu(x) = [x > 0]
            y.grad += g
        elif op is MUL:
            x.grad += g * y.data
            y.grad += g * x.data
        elif op is RELU:
            if x.data > 0.0:
                x.grad += g
        elif op.user_defined:
            node._backward()  # the user's closure
        elif y is None:
            (dx,) = op.local(FLOAT, node.data, x.data)
            x.grad += g * dx
        else:
            dx, dy = op.local(FLOAT, node.data, x.data, y.data)
            x.grad += g * dx
            y.grad += g * dy


def _check_finite(leaves: list[Value], create_graph: bool) -> None:
    """Raise if a leaf's gradient is not a finite number (every wrong gradient reaches some leaf)."""
    grads = map(_GRAD, leaves)
    # The sum is inf or nan if any term is (or if finite terms overflow: the loop below tells which).
    total = sum(g.data if isinstance(g, Value) else g for g in grads) if create_graph else sum(grads)
    if total - total != 0.0:
        for leaf in leaves:
            g = leaf.grad.data if isinstance(leaf.grad, Value) else leaf.grad
            if g - g != 0.0:
                raise ArithmeticError(f"a gradient became {g}")


def _probe_closure(node: Value) -> tuple[float, ...]:
    """The local derivatives of a user-defined op, measured by running its ``_backward`` closure once."""
    closure = node.__dict__.get("_backward")
    if closure is None:
        raise TypeError(f"the node {node.label or str(node._op)!r} (op {str(node._op)!r}) has inputs but no "
                        "_backward: assign one, as in micrograd (out._backward = _backward), or build it with "
                        "the op table's methods (v.sin(), a * b, ...)")
    children, saved = node._prev, (node.grad, [c.grad for c in node._prev])
    try:
        node.grad = 1.0
        for c in children:
            c.grad = 0.0
        closure()
        return tuple(sum(c.grad for c in children if c is child) / children.count(child) for child in children)
    finally:
        node.grad = saved[0]
        for c, g in zip(children, saved[1]):
            c.grad = g


# -------------------------------------------------------------------- building nodes


def _node(data: float, op: Op, x: Value, y: Value | None) -> Value:
    """A new interior node (no checks: the caller computed ``data`` and checked it)."""
    out = _new(Value)
    out.data, out.grad, out._mark = data, 0.0, None
    out._op, out._x, out._y = op, x, y
    return out


def _apply_in_mode(op: Op, x: Value, y: Value | None) -> Value:
    """``_apply`` when some thread is in ``no_grad`` or tracing: this thread's mode decides."""
    data: Any
    if STATE.tracer is not None:  # recording structure only: placeholders have no numbers to check
        data = modes.UNKNOWN  # arithmetic gives it back; reading it (if, float, math.*) raises TracingError
    else:
        try:
            data = op.evaluate(x.data) if y is None else op.evaluate(x.data, y.data)
        except DomainError as e:
            raise _named(e, x, y) from None
    out = _node(data, op, x, y)
    if not STATE.recording:  # no_grad: the result is a leaf
        out._op = out._x = out._y = None
    return out


def _named(error: DomainError, x: Value | None, y: Value | None) -> DomainError:
    """The same error, with the operands' labels in its message."""
    labels = tuple(v.label or None for v in (x, y) if v is not None)
    return error.with_labels(labels)


class Constant(Value):
    """A number an op lifted into the graph (the ``2`` in ``x * 2``): drawn by its value, not as an input."""

    __slots__ = ()


def _lift(x: Operand) -> Value:
    """A Value as is; a number as a constant leaf."""
    if isinstance(x, Value):
        return x
    c = _new(Constant)
    c.data = x if type(x) is float and -math.inf < x < math.inf else number(x, "operand")
    c.grad, c._mark = 0.0, None
    c._op = c._x = c._y = None
    if modes.unusual and STATE.tracer is not None:
        STATE.tracer.constant(c)
    return c


def _method(op: Op) -> Any:
    """A ``Value`` method applying ``op``, for a row whose method is not written out above."""
    def apply_op(self: Value, *p: float) -> Value:
        if len(p) > int(op.has_param):
            raise TypeError(f"{op.method}() takes {int(op.has_param)} argument(s), got {len(p)}")
        return self._apply(op.bound(number(p[0], op.param_name) if p else None))

    apply_op.__name__ = apply_op.__qualname__ = op.method
    apply_op.__doc__ = op.doc
    return apply_op


# A row added to the op table gets its method here; the methods written out above stay typed and greppable.
# Every op method's docstring is its row's doc.
for _row in OPS.values():
    if not hasattr(Value, _row.method):
        setattr(Value, _row.method, _method(_row))
    elif _row.method.isidentifier() and not _row.method.startswith("__"):
        getattr(Value, _row.method).__doc__ = _row.doc
