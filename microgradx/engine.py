"""The scalar autodiff engine: a ``Value`` records each operation; ``backward()`` applies the chain rule.

A ``Value`` holds a number (``data``), the derivative of the final output with
respect to it (``grad``), the op that made it (``_op``, a row of the op table in
``ops.py``) and its inputs ``_prev``: at most two, kept in the slots ``_x`` and
``_y``, in argument order, duplicates kept (``(a + a)._prev == (a, a)``).

An op computes its output with its row's ``forward`` and records the node; the row
also gives its local derivatives ∂out/∂xᵢ (``op.local``), e.g.::

    out = x * y        ∂out/∂x = y,  ∂out/∂y = x
    out = tanh(x)      ∂out/∂x = 1 - out²

``backward()`` visits the nodes from the output down (reverse topological order)
and each node passes its gradient on to its inputs -- the chain rule, summed over
every path from the output to the input::

    child.grad += node.grad * ∂node/∂child

Leaves accumulate (zero them between training steps); interior nodes start from 0
at every ``backward()``. With ``create_graph=True`` the same loop runs on Values,
so every gradient is itself a graph that can be differentiated again.

``fastpath.py`` writes out ``+``, ``×``, ``relu`` and the float loop for speed (held equal to
their rows by tests); ``compat.py`` runs micrograd's ops (``Value(data, children, op)``).
"""

from __future__ import annotations

import math
import weakref
from typing import Any, Union

import numpy as np

from . import checks, compat, fastpath, modes, ops
from .checks import number
from .graph import Scope, backward_order
from .modes import STATE, TracingError, enable_grad, gc_paused, no_grad
from .ops import FLOAT, OPS, VALUE, DomainError, Op

__all__ = ["Value", "Constant", "no_grad", "gc_paused", "TracingError", "DomainError"]

Operand = Union["Value", int, float, np.number]


class Value:
    """A scalar in a computational graph: ``Value(2.0, label='a')``.

    Arithmetic with Values or numbers builds the graph; ``out.backward()`` fills in ``grad`` =
    ∂out/∂node. ``==`` and ``hash`` are identity (a Value is a node); ``<``, ``>``, ... compare ``data``.
    """

    # Inputs in two slots, not a tuple: one object per node instead of two. ``_mark``: the graph walk's.
    # ``__dict__`` (made when first used) holds a label, a scope or a user's attribute: most nodes have none.
    __slots__ = ("data", "grad", "_op", "_x", "_y", "_mark", "__dict__", "__weakref__")
    __array_ufunc__ = None  # make numpy defer: np.float64(2) * v calls v.__rmul__

    data: float
    grad: Any  # float, or a Value after backward(create_graph=True)
    _op: Op | None
    _x: Value | None
    _y: Value | None
    _mark: object
    label: str = ""
    _scope: Scope | None = None  # the nn module that made it (set by nn, read by the drawings)

    def __init__(self, data: float | np.number, _children: Any = (), _op: str = "", label: str | None = "") -> None:
        self.data = data if type(data) is float and data - data == 0.0 else number(data, "Value(data)")
        self.grad = 0.0
        self._mark = None
        self._op = self._x = self._y = None
        if label:
            self.label = checks.label_text(label)
        if _children and compat.record_user_op(self, _children, _op):
            return  # micrograd's Value(data, (x, y), 'op'): a node of the user's own op
        if modes.unusual:  # while jit traces, a new leaf is a constant of the trace
            _register_leaf(self)

    # ---------------------------------------------------------------- the chain rule

    def backward(self, create_graph: bool = False) -> None:
        """Fill ``grad`` of every node with ∂self/∂node, stepping the chain rule from here down.

        Leaf gradients accumulate across calls (``grad = None`` counts as 0); interior
        nodes start from 0. If a gradient is not a finite number a :class:`DomainError`
        names the op where it went wrong, and every leaf's ``grad`` is left as it was.
        """
        if STATE.tracer is not None and not create_graph:
            raise TracingError(checks.BACKWARD_WHILE_TRACING)
        with gc_paused():
            interior, leaves = backward_order(self)
            for node in interior:  # recomputed from 0; leaves keep theirs (they accumulate)
                node.grad = 0.0
            before = checks.grads(leaves)  # to put back if the pass fails
            try:
                one = _lift(1.0) if create_graph else 1.0
                self.grad = self.grad + one if self._x is None else one
                if create_graph:
                    with enable_grad():  # the gradients are graphs, also inside no_grad()
                        _chain_rule(interior, True)
                elif fastpath.ENABLED:
                    fastpath.chain_rule(interior)  # the same loop as _chain_rule, written out for floats
                else:
                    _chain_rule(interior, False)
                if STATE.tracer is None:  # while tracing there are no numbers yet (jit checks each sample's)
                    checks.finite_gradients(leaves, create_graph)
            except BaseException as e:
                if checks.restore(leaves, before, e):  # it failed on `p.grad = None`, now 0: once more
                    return self.backward(create_graph)
                if isinstance(e, (ArithmeticError, ValueError)) and not isinstance(e, DomainError):
                    raise checks.gradient_error(self, interior, e) from None
                raise
            if create_graph:  # every gradient is a Value, also where none flowed (behind a dead relu)
                for node in (*interior, *leaves):
                    if not isinstance(node.grad, Value):
                        node.grad = _lift(node.grad)
        STATE.last_backward = weakref.ref(self)  # so explain(node) knows which output to trace from

    def local_derivatives(self) -> tuple[Any, ...]:
        """∂self/∂child for each child in ``_prev``, from the op table (``()`` for a leaf)."""
        op = self._op
        if op is None or op.user_defined:  # a leaf; micrograd's way: ask the closure
            return () if op is None else compat.probe_closure(self)
        return tuple(op.local(FLOAT, self.data, *(c.data for c in self._prev)))

    # ---------------------------------------------------------------- applying a row of the op table

    def apply(self, op: Op, *operands: Operand) -> Value:
        """The op table's row ``op`` applied to this value (and ``operands``): ``x.apply(OPS['tanh'])``."""
        checks.table_row(op, 1 + len(operands))
        return self._apply(op.bound(), _lift(operands[0]) if operands else None)

    def _apply(self, op: Op, other: Value | None = None) -> Value:
        """Run the row ``op`` on ``self`` (and ``other``), checked by the table, and record the node."""
        data: Any
        if modes.unusual and STATE.tracer is not None:  # jit records structure only: no numbers yet
            data = modes.UNKNOWN  # arithmetic gives it back; reading it (if, float, math.*) raises TracingError
        else:
            x, y = self.data, None if other is None else other.data
            if type(x) is not float or (other is not None and type(y) is not float):
                x, y = checks.float_data(self), None if other is None else checks.float_data(other)
            try:
                data = op.evaluate(x) if y is None else op.evaluate(x, y)
            except DomainError as e:
                raise e.with_labels(tuple(v.label or None for v in (self, other) if v is not None)) from None
        if modes.unusual and not STATE.recording:  # inside no_grad(): the result is a leaf
            leaf: Value = fastpath.node(data, None, None, None)
            return leaf
        out: Value = fastpath.node(data, op, self, other)
        return out

    # Each op applies its row (the row's doc is the method's docstring). ``+``, ``×`` and relu are
    # the copies written out in fastpath.py: a training step is made of little else.
    __add__ = fastpath.add
    __mul__ = fastpath.mul
    relu = fastpath.relu
    def __radd__(self, other: Operand) -> Value: return _lift(other) + self
    def __rmul__(self, other: Operand) -> Value: return _lift(other) * self
    def __sub__(self, other: Operand) -> Value: return self._apply(ops.SUB, _lift(other))
    def __rsub__(self, other: Operand) -> Value: return _lift(other)._apply(ops.SUB, self)
    def __truediv__(self, other: Operand) -> Value: return self._apply(ops.DIV, _lift(other))
    def __rtruediv__(self, other: Operand) -> Value: return _lift(other)._apply(ops.DIV, self)
    def __rpow__(self, other: Operand) -> Value: return _lift(other)._apply(ops.VPOW, self)
    def __neg__(self) -> Value: return self._apply(ops.NEG)
    def __pos__(self) -> Value: return self
    def __abs__(self) -> Value: return self._apply(ops.ABS)
    def exp(self) -> Value: return self._apply(ops.EXP)
    def log(self) -> Value: return self._apply(ops.LOG)
    def tanh(self) -> Value: return self._apply(ops.TANH)
    def sigmoid(self) -> Value: return self._apply(ops.SIGMOID)
    def softplus(self) -> Value: return self._apply(ops.SOFTPLUS)
    def sqrt(self) -> Value: return self._apply(ops.SQRT)
    def abs(self) -> Value: return self._apply(ops.ABS)
    def sin(self) -> Value: return self._apply(ops.SIN)
    def cos(self) -> Value: return self._apply(ops.COS)

    def __pow__(self, other: Operand) -> Value:
        if isinstance(other, Value):
            return self._apply(ops.VPOW, other)
        return self._apply(ops.POW.bind(number(other, "the exponent")))

    def leaky_relu(self, slope: float | None = None) -> Value:
        return self._apply(ops.LEAKY_RELU.bound(None if slope is None else number(slope, "slope")))

    # ---------------------------------------------------------------- numbers and comparisons

    def item(self) -> float: return self.data  # the number, as PyTorch's tensor.item()
    def __format__(self, spec: str) -> str:  # f"{v:.3f}" formats v.data, as PyTorch does a 0-d tensor
        return format(self.data, spec) if spec else repr(self)
    def __float__(self) -> float: raise checks.refuse_conversion(self, "float")
    def __int__(self) -> int: raise checks.refuse_conversion(self, "int")
    def __round__(self, ndigits: int | None = None) -> float: raise checks.refuse_conversion(self, "round")
    def __lt__(self, other: Operand) -> bool: return self.data < checks.compared(other)
    def __le__(self, other: Operand) -> bool: return self.data <= checks.compared(other)
    def __gt__(self, other: Operand) -> bool: return self.data > checks.compared(other)
    def __ge__(self, other: Operand) -> bool: return self.data >= checks.compared(other)
    def __bool__(self) -> bool: return self.data != checks.compared(0.0)

    @property
    def _prev(self) -> tuple[Value, ...]:
        """The inputs in argument order, duplicates kept: ``(a + a)._prev == (a, a)``."""
        return () if self._x is None else (self._x,) if self._y is None else (self._x, self._y)

    @_prev.setter
    def _prev(self, children: tuple[Value, ...]) -> None:
        compat.set_prev(self, children)
    _backward = compat.backward_step  # micrograd's one chain-rule step; a user op's closure replaces it
    __deepcopy__, __reduce_ex__ = compat.deepcopy_value, compat.reduce_value  # copy, pickle: no recursion

    def __repr__(self) -> str:
        lab = f", label={self.label!r}" if self.label else ""
        return f"Value(data={self.data}, grad={self.grad}{lab})"


def _chain_rule(interior: list[Value], create_graph: bool) -> None:
    """Every interior node, output first, passes its gradient on: ``child.grad += node.grad × local``.

    On floats the local derivatives are numbers; with ``create_graph`` they come from
    the op table's Value backend, so each gradient is recorded as a graph.
    """
    m = VALUE if create_graph else FLOAT
    for node in reversed(interior):
        g, op = node.grad, node._op
        if (type(g) is float and g == 0.0) or op is None:  # nothing flows back through this node
            continue
        if op.user_defined:
            compat.run_closure(node, create_graph)
            continue
        children = node._prev
        operands = (node, *children) if create_graph else (node.data, *(c.data for c in children))
        for child, local in zip(children, op.local(m, *operands)):
            if type(local) is float and local == 0.0:  # nor through a zero local derivative
                continue
            child.grad = _add_term(child.grad, g, local)


def _add_term(old: Any, g: Any, local: Any) -> Any:
    """``old + g × local``; with Values, a factor ±1 or a float 0 to add to records no node (the graph stays
    as it would be written by hand)."""
    term = g * local if type(g) is float or type(local) is not float else (
        g if local == 1.0 else -g if local == -1.0 else g * local)
    return term if type(old) is float and old == 0.0 and type(term) is not float else old + term


class Constant(Value):
    """A number an op lifted into the graph (the ``2`` in ``x * 2``): drawn by its value, not as an input."""

    __slots__ = ()
    _constant = True  # its gradient is drawn, never used: an infinite one (0.0 ** y at y < 1) is no error


def _lift(x: Operand) -> Value:
    """A Value as is; a number as a constant leaf."""
    if isinstance(x, Value):
        return x
    data = x if type(x) is float and -math.inf < x < math.inf else number(x, "operand")
    return _register_leaf(fastpath.node(data, None, None, None, Constant))


def _register_leaf(v: Value) -> Value:
    """A new leaf; while jit traces in this thread, the tracer hears of it (it is a constant of the trace)."""
    if modes.unusual and STATE.tracer is not None:
        STATE.tracer.constant(v)
    return v


fastpath.bind(Value, _lift)
for _row in OPS.values():  # each op method's docstring is its row's doc: the math is written once, in the table
    if not _row.method.startswith("__"):
        getattr(Value, _row.method).__doc__ = _row.doc
