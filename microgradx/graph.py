"""Walking a computational graph without recursion.

A node is anything shaped like a ``Value`` (the :class:`Node` protocol): its inputs
are ``_x`` and ``_y`` (``_prev``), and ``_mark`` is a slot the walk uses to remember
where it has been. The walks only walk: they read the graph and set marks, never a
gradient. Deep graphs (a chain of a
million ops) are routine, so the walk uses an explicit stack instead of Python
recursion, which stops near 1,000 frames.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, TypeVar

if TYPE_CHECKING:
    from typing_extensions import Self

__all__ = ["Node", "topological_order", "backward_order", "edges", "Scope", "scope_of"]


class Node(Protocol):
    """What the walks need of a node: its inputs and a mark (``engine.Value`` is one)."""

    _mark: object

    @property
    def _x(self) -> Self | None: ...

    @property
    def _y(self) -> Self | None: ...

    @property
    def _prev(self) -> tuple[Self, ...]: ...


N = TypeVar("N", bound=Node)


@dataclass(frozen=True, eq=False)
class Scope:
    """The part of a model that made a node: how ``nn`` tells the drawings which nodes are which neuron.

    A module puts its scope on its parameters and on the Value it returns, as the
    attribute ``_scope``; the drawings group and order nodes by it instead of
    guessing from labels. ``index`` is the position among its siblings (neuron 3
    of its layer), ``parent`` the enclosing scope (the layer).
    """

    name: str
    kind: str  # "neuron", "layer" or "model"
    index: int = 0
    parent: Scope | None = None

    @property
    def path(self) -> tuple[int, ...]:
        """Indices from the outermost scope down: sorts layers, then neurons, in model order."""
        return (*self.parent.path, self.index) if self.parent is not None else (self.index,)


def scope_of(node: object) -> Scope | None:
    """The scope a module gave ``node`` (a parameter or a neuron's output), or None."""
    scope = getattr(node, "_scope", None)
    return scope if isinstance(scope, Scope) else None


def topological_order(root: N, *more_roots: N, first_argument_first: bool = False) -> list[N]:
    """Every node reachable from the roots, children before the nodes that use them.

    An iterative depth-first search: a node is emitted once all its children
    have been. Each node appears once, however many paths lead to it, and the
    order is deterministic. By default the *last* argument of an op is explored
    first, so that in reverse (the order of the backward pass) the first
    argument's subgraph comes first; ``first_argument_first`` reads the other way
    round, in the order the expression was written. A single root comes last.
    """
    return _walk((root, *more_roots), first_argument_first=first_argument_first)


def backward_order(root: N) -> tuple[list[N], list[N]]:
    """What ``backward()`` walks: the interior nodes in topological order, and the leaves.

    This is the hot path of every training step, so unlike :func:`topological_order`
    it meets a leaf as its parent is expanded instead of pushing it on the stack (half
    the work on a graph with many leaves). A leaf may be listed twice if another
    thread walked it at the same time.
    """
    interior: list[N] = []
    leaves: list[N] = []
    if root._x is None:
        return interior, [root]
    entered, done = object(), object()
    stack = [root]
    pop, push, emit_interior, emit_leaf = stack.pop, stack.append, interior.append, leaves.append
    while stack:
        node = pop()
        mark = node._mark
        if mark is done:  # reached again by another path
            continue
        if mark is entered:  # back from its inputs: all are done
            node._mark = done
            emit_interior(node)
            continue
        while True:  # enter the node; go on down its first input at once, as long as that one is new
            node._mark = entered
            push(node)
            # (The two inputs written out: a loop over them costs ~25% more. A node is entered only if its
            # _x is set, so x is no None: a test for it would cost 1.4% of backward(), for mypy alone.)
            x: N = node._x  # type: ignore[assignment]
            y = node._y
            if y is not None and y._mark is not done:
                if y._x is None:
                    y._mark = done
                    emit_leaf(y)
                else:
                    push(y)
            if x._mark is done:
                break
            if x._x is None:
                x._mark = done
                emit_leaf(x)
                break
            node = x  # (a chain such as sum(xs) goes down here: no push and pop per node)
    return interior, leaves


def _walk(roots: tuple[N, ...], first_argument_first: bool = False) -> list[N]:
    """Depth-first, children before parents; a leaf is emitted when it is popped.

    Visited nodes are marked in their ``_mark`` slot (about 2.5 times faster than
    keeping Python sets of them); fresh mark objects per walk mean a mark left by an
    earlier walk reads as "not seen".
    """
    order: list[N] = []
    entered, done = object(), object()
    stack = list(reversed(roots))
    pop, push, emit = stack.pop, stack.append, order.append
    while stack:
        node = pop()
        mark = node._mark
        if mark is done:  # reached again by another path
            continue
        x = node._x
        if x is None:  # a leaf
            node._mark = done
            emit(node)
        elif mark is entered:  # back from its inputs: all are done
            node._mark = done
            emit(node)
        else:
            node._mark = entered
            push(node)
            y = node._y
            if first_argument_first:  # explore x first: push it last
                x, y = y, x
            if x is not None and x._mark is not done:
                push(x)
            if y is not None and y._mark is not done:
                push(y)
    return order


def edges(order: list[N]) -> list[tuple[N, N, int]]:
    """``(child, parent, argument position)`` for every edge, duplicates kept (``a + a`` gives two)."""
    return [(child, node, i) for node in order for i, child in enumerate(node._prev)]
