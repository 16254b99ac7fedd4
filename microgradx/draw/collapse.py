"""The collapsed views: an nn layer as one table of neuron rows (``collapse='neuron'``), or one box per layer.

A table keeps its neurons in index order (Graphviz would reorder separate boxes);
edges come in at a row's first cell and leave from its last, so they attach to the
box from the side the flow comes from. Every edge into a row has a cell of its own
there, its *port*, which names where the edge comes from and, in the backward view,
holds the gradient flowing along it (the sum of its paths' ``upstream × local``): a
label sits on its own edge however the edges cross. More than
:data:`BUNDLE_LIMIT` edges between two layers are one edge, ``256 connections``,
since a solid band of lines shows nothing. A batch loss draws each sample's layers
(``L0 · sample 2``) and the parameters all samples share once, in the column
before the layer they feed, like inputs.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .flow import Flow, LocalDerivative, Node, is_constant, short_name
from .groups import Group, Structure

BUNDLE_LIMIT = 24


@dataclass
class Table:
    """One drawn table: a layer's neurons (or one layer box, or shared parameters) as rows with ports."""

    key: str
    title: str | None
    rows: list[tuple[str, Any]]   # (port, Group or a leaf node)
    column: float                 # where it sits along the flow: layer i in column i, inputs in -1
    sample: int = -1              # -1: a single call of the model; -2: parameters the samples share


@dataclass
class Pair:
    """An edge of the collapsed drawing: the graph's edges between two drawn units (None: a bundle)."""

    tail: str
    head: str
    edges: list[LocalDerivative] | None
    count: int = 0
    port: str | None = None       # the head row's cell this edge comes in at (``r3i0``), when it has one

    def slot(self, k: int) -> str:
        """Where the animation writes the gradient along the ``k``-th edge: its port cell, or its label."""
        return f"e{k}" if self.port is None else self.head.split(":")[0] + self.port


@dataclass
class CollapsedPlan:
    """What the collapsed view draws: tables, the loose inputs in order, which node sits in which row."""

    tables: list[Table] = field(default_factory=list)
    inputs: list[list[Node]] = field(default_factory=list)   # per sample, in index order
    unit_of: dict[Node, tuple[str, str]] = field(default_factory=dict)

    def row(self, unit: tuple[str, str]) -> Any:
        """What the row ``(table key, port)`` stands for: a Group, or a leaf drawn in a table."""
        table = next(t for t in self.tables if t.key == unit[0])
        return dict(table.rows)[unit[1]]

    def row_title(self, node: Node) -> str | None:
        """The title of the group row ``node`` is drawn in (None when it is drawn on its own, or in a leaf row)."""
        unit = self.unit_of.get(node)
        if unit is None:
            return None
        grp = self.row(unit)
        return grp.title() if isinstance(grp, Group) else None


def _natural(name: str) -> list[Any]:
    """A sort key that puts ``t2`` before ``t10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def row_name(unit: Group, collapse: str | None) -> str:
    """A neuron's row names it within its layer's table (``n2``, its scope below the layer's ``L0``); a layer's
    box in full."""
    parent = unit.scope.parent
    if collapse == "neuron" and unit.kind != "layer" and parent is not None and parent.kind == "layer" \
            and unit.name.startswith(parent.name + "."):
        return short_name(unit.name[len(parent.name) + 1:])
    return unit.title()


def plan(structure: Structure, collapse: str, written: Callable[[], dict[Node, int]]) -> CollapsedPlan:
    """Tables of rows per layer (and sample), shared parameters, and the model's inputs.

    ``written()`` numbers the nodes in the order the code wrote them: the inputs keep that order.
    """
    p = CollapsedPlan()
    column = _columns(structure)
    for layer in structure.layers:
        title = (layer.title() if layer.name != "layer" else None) if collapse == "neuron" else None
        _add_table(p, title, _units(layer, collapse), column[layer.scope.path], layer.sample)
    for params in structure.layer_params:  # in the column before the layer they feed, like its inputs
        title = f"{params.title()} parameters" if collapse == "neuron" else None
        _add_table(p, title, _units(params, collapse), column[params.scope.path] - 1.0, -2)
    by_sample = _inputs_by_sample(structure, set(p.unit_of))
    if by_sample:
        order = written()
        p.inputs = [sorted(dict.fromkeys(leaves), key=order.__getitem__)
                    for _, leaves in sorted(by_sample.items(), key=lambda kv: kv[0] or 0)]
    return p


def _columns(structure: Structure) -> dict[tuple[int, ...], float]:
    """Layer i sits in column i (by its place in the model), whatever sample it belongs to."""
    paths = sorted({layer.scope.path for layer in structure.layers})
    return {path: float(i) for i, path in enumerate(paths)}


def _units(box: Group, collapse: str) -> list[Any]:
    """A table's rows: the layer's neurons (``collapse='neuron'``), or the layer as one row."""
    return list(box.neurons) if collapse == "neuron" else [box]


def _add_table(p: CollapsedPlan, title: str | None, units: list[Any], column: float, sample: int | None) -> None:
    key = f"t{len(p.tables)}"
    rows = [(f"r{j}", u) for j, u in enumerate(units)]
    for port, u in rows:
        for n in (u.members if isinstance(u, Group) else [u]):
            p.unit_of[n] = (key, port)
    p.tables.append(Table(key, title, rows, column, -1 if sample is None else sample))


def _inputs_by_sample(structure: Structure, grouped: set[Node]) -> dict[int | None, list[Node]]:
    """The leaves the neurons read that no table holds (the model's inputs, not constants), per sample."""
    by_sample: dict[int | None, list[Node]] = {}
    for grp in structure.neurons:
        for n in grp.members:
            for c in n._prev:
                if not c._prev and c not in grouped and not is_constant(c):
                    by_sample.setdefault(grp.sample, []).append(c)
    return by_sample


def edge_pairs(flow: Flow, cplan: CollapsedPlan, endpoint: Callable[[Node, bool], str]) -> list[Pair]:
    """Edges between drawn units, each once; bundles for dense layer-to-layer connections."""
    uses = _uses(flow, endpoint)
    between = Counter((tail.split(":")[0], head.split(":")[0]) for tail, head in uses)
    out: list[Pair] = []
    bundled: set[tuple[str, str]] = set()
    for (tail, head), edges in sorted(uses.items(), key=lambda kv: _natural(kv[0][1] + " " + kv[0][0])):
        tables = (tail.split(":")[0], head.split(":")[0])
        if between[tables] <= BUNDLE_LIMIT:
            out.append(Pair(tail, head, sorted(edges, key=lambda d: _child_rank(cplan, d))))
        elif tables not in bundled:
            bundled.add(tables)
            out.append(Pair(tables[0], tables[1], None, between[tables]))
    _give_ports(out)
    return out


def _give_ports(pairs: list[Pair]) -> None:
    """Each edge into a table's row its own cell of the row, numbered in the order the edges are drawn."""
    count: Counter[str] = Counter()
    for pair in pairs:
        if pair.edges is not None and ":" in pair.head:
            row = pair.head.split(":")[1]
            pair.port = f"{row}i{count[pair.head]}"
            count[pair.head] += 1


def _uses(flow: Flow, endpoint: Callable[[Node, bool], str]) -> dict[tuple[str, str], list[LocalDerivative]]:
    """The graph's edges by the drawn units they join (an edge inside one unit is not drawn)."""
    uses: dict[tuple[str, str], list[LocalDerivative]] = {}
    for parent in flow.order:
        head = endpoint(parent, False)
        for i, child in enumerate(parent._prev):
            tail = endpoint(child, True)
            if tail != head:
                uses.setdefault((tail, head), []).append(flow.out_of[parent][i])
    return uses


def _child_rank(cplan: CollapsedPlan, d: LocalDerivative) -> int:
    """Where an edge's child sits in its row's numbers (a layer's outputs in index order)."""
    unit = cplan.unit_of.get(d.child)
    if unit is None:
        return 0
    grp = cplan.row(unit)
    outputs = grp.outputs if isinstance(grp, Group) else []
    return outputs.index(d.child) if d.child in outputs else len(outputs)
