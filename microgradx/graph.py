"""Walking a computational graph without recursion.

A node is anything with a ``_prev`` tuple of children (``Value`` is one).
Deep graphs (a chain of a million ops) are routine, so every walk here uses an
explicit stack instead of Python recursion, which stops near 1,000 frames.
"""

from __future__ import annotations

from typing import Any


def topological_order(root: Any) -> list[Any]:
    """Every node reachable from ``root``, children before the nodes that use them.

    An iterative depth-first search: a node is emitted once all its children
    have been. Each node appears once, however many paths lead to it, and the
    order is deterministic. ``root`` is last.
    Nodes are hashed by identity (``Value.__hash__`` is ``object``'s).
    """
    order: list[Any] = []
    entered: set[Any] = set()  # nodes whose children have been pushed
    done: set[Any] = set()     # nodes already in ``order``
    stack = [root]
    # Bound methods, looked up once: this loop runs once per node of every backward().
    pop, push_children, emit, enter, finish = stack.pop, stack.extend, order.append, entered.add, done.add
    while stack:
        node = stack[-1]
        if node in done:  # reached again by another path
            pop()
        elif node in entered:  # back from its children: all are done, emit it
            pop()
            finish(node)
            emit(node)
        else:
            enter(node)
            # The last argument is explored first, so in reverse order (the order
            # of the backward pass) the first argument's subgraph comes first.
            push_children(node._prev)
    return order


def edges(order: list[Any]) -> list[tuple[Any, Any, int]]:
    """``(child, parent, argument position)`` for every edge, duplicates kept (``a + a`` gives two)."""
    return [(child, node, i) for node in order for i, child in enumerate(node._prev)]
