"""micrograd's ways of building and stepping a graph, kept working beside the op table.

micrograd has no op table: each op is a method that makes ``out = Value(data, (self, other), '+')``
and assigns ``out._backward``, a closure that adds ``other.data * out.grad`` to ``self.grad``.
Code written that way (the lecture's, a student's own ``sin``) runs here unchanged:

* ``Value(data, children, op)`` records a *user-defined* op (``ops.user_op``): drawn with its
  symbol, explained as user-defined; its ``_backward`` closure is its derivative;
* ``backward()`` runs that closure at the node's turn in the topological order;
* ``node._backward()`` on a node of the table's ops performs its one chain-rule step, and
  ``node._prev = (a, b)`` rewires a node, as micrograd allows.

A closure computes with numbers, so ``backward(create_graph=True)`` through it is refused
rather than silently giving a second derivative of 0. Nodes are duck-typed here (this module
sits below the engine and does not import it).
"""

from __future__ import annotations

import copy
from typing import Any

from . import fastpath
from .graph import topological_order
from .ops import user_op

__all__ = ["record_user_op", "set_prev", "backward_step", "run_closure", "probe_closure", "deepcopy_value",
           "reduce_value"]


def record_user_op(node: Any, children: Any, symbol: object) -> bool:
    """Make ``node`` the output of micrograd's ``Value(data, children, op)``; False if there are no children."""
    children = children if type(children) is tuple else tuple(children)
    if not children:
        return False
    for c in children:
        if not hasattr(c, "_prev") or not hasattr(c, "_mark"):
            raise TypeError(f"the inputs of a Value must be Values, got {type(c).__name__}")
    if len(children) > 2:
        raise ValueError(f"a node takes at most 2 inputs, got {len(children)}: build a {len(children)}-input "
                         "op from two-input ones (as a + b + c is (a + b) + c)")
    node._op = user_op(str(symbol), len(children))
    set_prev(node, children)
    return True


def set_prev(node: Any, children: tuple[Any, ...]) -> None:
    """``node._prev = children``: micrograd code may rewire a node (at most two inputs here)."""
    children = tuple(children)
    if len(children) > 2:
        raise ValueError(f"a node has at most 2 inputs, got {len(children)}")
    node._x = children[0] if children else None
    node._y = children[1] if len(children) == 2 else None


def backward_step(node: Any) -> None:
    """micrograd's ``_backward``, one step of the chain rule: each input gets ``node.grad × local``."""
    for child, local in zip(node._prev, node.local_derivatives()):
        child.grad += node.grad * local


def run_closure(node: Any, create_graph: bool) -> None:
    """The chain-rule step of a user-defined op: its own ``_backward`` closure (refused with create_graph)."""
    if create_graph:
        raise TypeError(f"backward(create_graph=True) cannot differentiate through the user-defined op "
                        f"{str(node._op)!r}: its _backward closure computes with numbers. Use the op table's "
                        "version (e.g. v.sin()) to get higher-order gradients.")
    _closure(node)()


def probe_closure(node: Any) -> tuple[float, ...]:
    """The local derivatives of a user-defined op, measured by running its ``_backward`` closure once.

    With ``node.grad = 1`` and the inputs' grads at 0, the closure leaves ∂node/∂input in each
    input's grad; an input that appears twice got the sum of both edges, so each edge gets its share.
    """
    closure = _closure(node)
    children, saved = node._prev, (node.grad, [c.grad for c in node._prev])
    try:
        node.grad = 1.0
        for c in children:
            c.grad = 0.0
        closure()
        return tuple(child.grad / sum(c is child for c in children) for child in children)  # shared equally
    finally:
        node.grad = saved[0]
        for c, g in zip(children, saved[1]):
            c.grad = g


def _closure(node: Any) -> Any:
    closure = node.__dict__.get("_backward")
    if closure is None:
        raise TypeError(f"the node {node.label or str(node._op)!r} (op {str(node._op)!r}) has inputs but no "
                        "_backward: assign one, as in micrograd (out._backward = _backward), or build it with "
                        "the op table's methods (v.sin(), a * b, ...)")
    return closure



# -------------------------------------------------------------------- copy and pickle, without recursion
# Python copies and pickles an object's attributes recursively, so a node deeper than ~1,000 ops (a sum()
# of 3,000 Values is a chain 3,000 deep) raised RecursionError. These walk the graph instead.


def deepcopy_value(root: Any, memo: dict[int, Any]) -> Any:
    """``copy.deepcopy(node)``: the graph copied in topological order, children before the nodes using them."""
    for n in topological_order(root):
        if id(n) in memo:
            continue
        if n._op is not None and n._op.user_defined:
            raise TypeError(f"cannot copy the node {n.label or str(n._op)!r} of the user-defined op {str(n._op)!r}: "
                            "its _backward closure refers to the original nodes, so the copy's backward() would "
                            "change their grads. Copy the numbers instead (Value(v.data)), or build it with the op "
                            "table's methods (v.sin(), a * b, ...)")
        x, y = memo[id(n._x)] if n._x is not None else None, memo[id(n._y)] if n._y is not None else None
        new = memo[id(n)] = fastpath.node(n.data, n._op, x, y, type(n))
        new.grad = copy.deepcopy(n.grad, memo)
        if n.__dict__:
            new.__dict__.update(copy.deepcopy(n.__dict__, memo))
    return memo[id(root)]


def reduce_value(node: Any, protocol: object = None) -> tuple[Any, ...]:
    """``pickle``: a leaf as its fields; an interior node as its graph in topological order, interior nodes as
    records pointing at earlier entries (leaves travel as themselves, so a model's parameters stay shared)."""
    if node._x is None:  # its grad and attributes as state: set once the leaf exists (they may refer to it)
        return _leaf, (type(node), node.data), (node.__dict__ or None, {"grad": node.grad})
    order = topological_order(node)
    index = {id(n): i for i, n in enumerate(order)}
    for n in order:
        if n._x is not None and type(n.grad) is not float:
            raise TypeError("cannot pickle a graph whose interior gradients are graphs (after "
                            "backward(create_graph=True)): pickle it before, or after a backward() without it")
    return _graph, ([n if n._x is None else (type(n), n.data, n.grad, n._op, index[id(n._x)],
                                            None if n._y is None else index[id(n._y)], n.__dict__ or None)
                     for n in order],)


def _leaf(kind: type, data: float) -> Any:
    return fastpath.node(data, None, None, None, kind)


def _graph(records: list[Any]) -> Any:
    nodes: list[Any] = []
    for r in records:
        if type(r) is tuple:
            kind, data, grad, op, x, y, attrs = r
            r = fastpath.node(data, op, nodes[x], None if y is None else nodes[y], kind)
            r.grad = grad
            if attrs:
                r.__dict__.update(attrs)
        nodes.append(r)
    return nodes[-1]
