"""What one drawing is made of, worked out once: the graph's flow, nn's groups, node ids, the collapsed plan.

Every frame of an animation shares one :class:`Scene`; only what a frame shows (its
gradients so far, the node being processed) changes between frames. Node ids come
from the order the expression was written (``n0``, ``n1``, ...), never from ``id()``, so the same graph
always gives byte-identical DOT source.
"""

from __future__ import annotations

from typing import Any

from .collapse import CollapsedPlan, Pair, Table, edge_pairs, plan
from .flow import Flow, Node
from .groups import Group, model_structure, written_order
from .options import DrawOptions, GraphTooLargeError


class Scene:
    """The parts of a drawing of ``flow`` that do not change while it is shown: computed once per drawing."""

    def __init__(self, flow: Flow, options: DrawOptions) -> None:
        self.flow, self.options = flow, options
        self._written: dict[Node, int] | None = None
        self._pairs: list[Pair] | None = None
        self._declared: list[Node] | None = None
        self.ids = {n: f"n{i}" for i, n in enumerate(self.declared())}
        self.lit = self._lit()
        self.structure = model_structure(flow.order, flow.root, self.written)
        collapse = options.collapse
        self.cplan = CollapsedPlan() if collapse is None else plan(self.structure, collapse, self.written)
        flow.into  # noqa: B018 -- index every node's terms once: every box shows its sum

    def written(self) -> dict[Node, int]:
        """Each node's place in the order the code wrote it (a second walk, made once per drawing: the DOT
        declares the nodes in that order)."""
        if self._written is None:
            self._written = written_order(self.flow.root)
        return self._written

    def _lit(self) -> frozenset[Node] | None:
        """The nodes ``highlight=`` emphasises (None: no highlight, nothing faded): the nodes given, and for
        one node every node on a path from it to the output (its uses, their uses, ...)."""
        wanted = self.options.highlight
        if wanted is None:
            return None
        known = set(self.flow.order)
        for node in wanted.nodes:
            if node not in known:
                raise ValueError(f"highlight: {node!r} is not part of the graph of {self.flow.names[self.flow.root]}"
                                 ": pass Values that this output was computed from")
        lit = set(wanted.nodes)
        if wanted.paths:
            stack = list(wanted.nodes)
            while stack:
                for d in self.flow.into[stack.pop()]:
                    if d.parent not in lit:
                        lit.add(d.parent)
                        stack.append(d.parent)
        return frozenset(lit)

    def faded(self, node: Node) -> bool:
        """Is ``node`` drawn faded (a highlight is asked for, and it is not part of it)?"""
        return self.lit is not None and node not in self.lit

    def declared(self) -> list[Node]:
        """The nodes in the order the expression wrote them (``x1, w1, x1*w1, x2, ...``): the order the DOT
        source declares them in, which is the order ``dot`` places them side by side."""
        if self._declared is None:
            written = self.written()
            self._declared = sorted(self.flow.order, key=lambda n: written.get(n, -1))
        return self._declared

    @property
    def pairs(self) -> list[Pair]:
        """The collapsed drawing's edges between drawn units (empty when nothing is collapsed)."""
        if self._pairs is None:
            self._pairs = [] if self.options.collapse is None else edge_pairs(self.flow, self.cplan, self.endpoint)
        return self._pairs

    def endpoint(self, node: Node, as_child: bool) -> str:
        """Where an edge from (``as_child``) or into ``node`` is drawn: its row, its box, or its op's node."""
        unit = self.cplan.unit_of.get(node)
        if unit is not None:
            return f"{unit[0]}:{unit[1]}"
        return self.ids[node] if as_child else self.ids[node] + "op"

    def row_slot(self, table: Table, port: str, unit: Any) -> str:
        """The id of a row's changing gradient text: the row's, or the leaf's own."""
        return table.key + port if isinstance(unit, Group) else self.ids[unit]

    # ---------------------------------------------------------------- size

    def drawn(self) -> tuple[int, str]:
        """How many nodes Graphviz lays out (edge labels count: dot places each like a node)."""
        order = self.flow.order
        if self.options.collapse is None:
            n = sum(2 if v._prev else 1 for v in order)
            if self.options.backward:
                return n + sum(len(v._prev) for v in order), "nodes and edge labels"
            return n, "nodes"
        loose = sum(2 if v._prev else 1 for v in order if v not in self.cplan.unit_of)
        return loose + sum(len(t.rows) for t in self.cplan.tables), "nodes and rows"

    def bends(self) -> int:
        """Roughly how many bends ``dot`` puts on the edges of values used far apart (drawn in full).

        A value with several users is pulled to one rank; each edge to a user ``k`` ranks
        away passes ``k`` ranks, and ``dot`` lays out a point per rank passed, like a node:
        ``a`` used by each term of ``a + a + ... + a`` (n terms) costs about n² of them.
        A value with one user is placed next to it, at no cost.
        """
        step = 3 if self.options.backward else 2  # a box, its op's node (and an edge label) per level
        rank: dict[Node, int] = {}
        users: dict[Node, list[int]] = {}
        for node in self.flow.order:
            children = node._prev
            rank[node] = max((rank[c] for c in children), default=-step) + step
            for c in children:
                users.setdefault(c, []).append(rank[node])
        return sum(sum(r) - len(r) * min(r) for r in users.values() if len(r) > 1)

    def check_size(self) -> None:
        """Refuse, before any drawing, more than ``max_nodes`` nodes for Graphviz to lay out."""
        drawn, what = self.drawn()
        max_nodes = self.options.max_nodes
        if self.options.collapse is None and drawn <= max_nodes:
            bends = self.bends()
            if bends > max_nodes:
                raise GraphTooLargeError(
                    f"this graph uses some values in ops far apart: its edges bend about {bends} times, more than "
                    f"max_nodes={max_nodes}: Graphviz would take minutes to lay them out (each bend costs it like a "
                    "node). Draw a smaller part of it, or raise max_nodes= if you really want it all.", reason="bends")
        if drawn > max_nodes:
            hint = ("Draw it with collapse='neuron' or collapse='layer' (one row per nn neuron or layer)"
                    if self.options.collapse is None and self.structure.neurons
                    else "Draw a smaller part of it (for example one neuron's output)")
            raise GraphTooLargeError(
                f"this graph has {drawn} {what} to draw, more than max_nodes={max_nodes}: Graphviz would take "
                f"minutes to lay it out. {hint}, or raise max_nodes= if you really want it all.")
