"""The collapsed views: an nn layer as one table of neuron rows (``collapse='neuron'``), or one box per layer.

A table keeps its neurons in index order (Graphviz would reorder separate boxes);
edges come in at a row's first cell and leave from its last, so they attach to the
box from the side the flow comes from. In the backward view each edge carries the
gradient flowing along it (the sum of its paths' ``upstream × local``); more than
:data:`BUNDLE_LIMIT` edges between two layers are one edge, ``256 connections``,
since a solid band of lines shows nothing. A batch loss draws each sample's layers
(``layers.0 · sample 2``) and the parameters all samples share once, in the column
before the layer they feed, like inputs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import graphviz

from .flow import is_constant
from .groups import Group
from .markup import Cell, attr_text, html_text

BUNDLE_LIMIT = 24
_COMPASS = {("LR", "tail"): "e", ("LR", "head"): "w", ("RL", "tail"): "w", ("RL", "head"): "e",
            ("TB", "tail"): "s", ("TB", "head"): "n", ("BT", "tail"): "n", ("BT", "head"): "s"}


@dataclass
class Table:
    """One drawn table: a layer's neurons (or one layer box, or shared parameters) as rows with ports."""

    key: str
    title: str | None
    rows: list[tuple[str, Any]]   # (port, Group or a leaf)
    column: float                 # where it sits along the flow: layer i in column i, inputs in -1
    sample: int = -1              # -1: a single call of the model; -2: parameters the samples share


@dataclass
class Pair:
    """An edge of the collapsed drawing: the graph's edges between two drawn units (None: a bundle)."""

    tail: str
    head: str
    edges: list[Any] | None
    count: int = 0


@dataclass
class CollapsedPlan:
    """What the collapsed view draws: tables, the loose inputs in order, which node sits in which row."""

    tables: list[Table] = field(default_factory=list)
    inputs: list[list[Any]] = field(default_factory=list)   # per sample, in index order
    unit_of: dict[Any, tuple[str, str]] = field(default_factory=dict)


def _natural(name: str) -> list[Any]:
    """A sort key that puts ``t2`` before ``t10``."""
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name)]


def row_name(unit: Group, collapse: Any) -> str:
    """A neuron's row names it within its layer's table (``neurons.2``, its scope below the layer's); a layer's box
    in full."""
    parent = unit.scope.parent
    if collapse == "neuron" and unit.kind != "layer" and parent is not None and parent.kind == "layer" \
            and unit.name.startswith(parent.name + "."):
        return unit.name[len(parent.name) + 1:]
    return unit.title()


def plan(structure: Any, collapse: str, written: dict[Any, int]) -> CollapsedPlan:
    """Tables of rows per layer (and sample), shared parameters, and the model's inputs.

    ``written`` numbers the nodes in the order the code wrote them: the inputs keep that order.
    """
    p = CollapsedPlan()
    paths = sorted({layer.scope.path for layer in structure.layers})
    column = {path: float(i) for i, path in enumerate(paths)}

    def add(title: str | None, units: list[Any], col: float, sample: int | None) -> None:
        key = f"t{len(p.tables)}"
        rows = [(f"r{j}", u) for j, u in enumerate(units)]
        for port, u in rows:
            for n in (u.members if isinstance(u, Group) else [u]):
                p.unit_of[n] = (key, port)
        p.tables.append(Table(key, title, rows, col, -1 if sample is None else sample))

    for layer in structure.layers:
        units = layer.neurons if collapse == "neuron" else [layer]
        title = (layer.title() if layer.name != "layer" else None) if collapse == "neuron" else None
        add(title, units, column[layer.scope.path], layer.sample)
    for params in structure.layer_params:  # in the column before the layer they feed, like its inputs
        units = params.neurons if collapse == "neuron" else [params]
        add(f"{params.name} parameters" if collapse == "neuron" else None, units,
            column[params.scope.path] - 1.0, -2)
    grouped = set(p.unit_of)
    by_sample: dict[int | None, list[Any]] = {}
    for grp in structure.neurons:
        for n in grp.members:
            for c in n._prev:
                if not c._prev and c not in grouped and not is_constant(c):
                    by_sample.setdefault(grp.sample, []).append(c)
    p.inputs = [sorted(dict.fromkeys(leaves), key=written.__getitem__)
                for _, leaves in sorted(by_sample.items(), key=lambda kv: kv[0] or 0)]
    return p


class Collapsed:
    """The collapsed parts of a drawing (mixed into the drawer, which supplies texts, theme and ids)."""

    flow: Any
    frame: Any
    texts: Any
    theme: Any
    ids: dict[Any, str]
    collapse: Any
    rankdir: str
    slots: bool
    tooltips: bool
    layout: dict[str, str]
    cplan: CollapsedPlan
    _pairs: list[Pair] | None

    if TYPE_CHECKING:  # supplied by the drawer
        def box(self, body: graphviz.Digraph, node: Any) -> None: ...
        def value_cells(self, node: Any) -> list[Cell]: ...
        def role(self, node: Any) -> str: ...
        def edge(self, g: graphviz.Digraph, tail: str, head: str, label: tuple[str, ...] | None, *,
                 active: bool, eid: str | None = None, state: str = "final") -> None: ...

    def endpoint(self, node: Any, as_child: bool) -> str:
        unit = self.cplan.unit_of.get(node)
        if unit is not None:
            return f"{unit[0]}:{unit[1]}"
        return self.ids[node] if as_child else self.ids[node] + "op"

    def edge_pairs(self) -> list[Pair]:
        """Edges between drawn units, each once; bundles for dense layer-to-layer connections."""
        if self._pairs is not None:
            return self._pairs
        pairs: dict[tuple[str, str], list[Any]] = {}
        for parent in self.flow.order:
            head = self.endpoint(parent, as_child=False)
            for i, child in enumerate(parent._prev):
                tail = self.endpoint(child, as_child=True)
                if tail != head:
                    pairs.setdefault((tail, head), []).append((parent, i))
        between: dict[tuple[str, str], int] = {}
        for tail, head in pairs:
            key = (tail.split(":")[0], head.split(":")[0])
            between[key] = between.get(key, 0) + 1
        out: list[Pair] = []
        bundled: set[tuple[str, str]] = set()
        for (tail, head), uses in sorted(pairs.items(), key=lambda kv: _natural(kv[0][1] + " " + kv[0][0])):
            tables = (tail.split(":")[0], head.split(":")[0])
            if between[tables] <= BUNDLE_LIMIT:
                edges = [self.flow.out_of[p][i] for p, i in uses]
                out.append(Pair(tail, head, sorted(edges, key=self._child_rank)))
            elif tables not in bundled:
                bundled.add(tables)
                out.append(Pair(tables[0], tables[1], None, between[tables]))
        self._pairs = out
        return out

    def _child_rank(self, d: Any) -> int:
        """Where an edge's child sits in its row's numbers (a layer's outputs in index order)."""
        unit = self.cplan.unit_of.get(d.child)
        if unit is None:
            return 0
        table = next(t for t in self.cplan.tables if t.key == unit[0])
        grp = dict(table.rows)[unit[1]]
        outputs = grp.outputs if isinstance(grp, Group) else []
        return outputs.index(d.child) if d.child in outputs else len(outputs)

    def pair_label(self, pair: Pair) -> tuple[tuple[str, ...] | None, str]:
        """``(label lines, state)``: the gradient along the edge (backward), or a bundle's size."""
        if pair.edges is None:
            return (f"{pair.count} connections",), "final"
        if self.frame.backward and self.frame.show_grad:
            text, state = self.texts.share(pair.edges)
            return (text,), state
        return None, "final"

    def row_slot(self, table: Table, port: str, unit: Any) -> str:
        return table.key + port if isinstance(unit, Group) else self.ids[unit]

    def row_cells(self, table: Table, port: str, unit: Any) -> list[Cell]:
        """A neuron's (or layer's) row: name | size | out | grad; a leaf's row: its value cells."""
        if not isinstance(unit, Group):
            return self.value_cells(unit)
        slot = self.row_slot(table, port, unit) if self.slots else None
        size = f"{unit.params} params" if unit.kind == "params" else (
            f"{len(unit.members)} nodes" if unit.sample is not None else f"{len(unit.members)} nodes, "
            f"{unit.params} params")
        cells = [Cell(row_name(unit, self.collapse), "b", slot and slot + "n"), Cell(size, "muted"),
                 Cell(self.texts.group_data(unit))]
        if self.frame.show_grad:
            text, _ = self.texts.group_grad(unit)
            cells.append(Cell(self.layout.get(slot or "", text), "grad", slot))
        return cells

    def table_label(self, table: Table) -> str:
        """The table: rows stacked (left to right) or side by side (top to bottom), ports on first and last cells."""
        theme = self.theme
        grid = []
        for port, unit in table.rows:
            cells = self.row_cells(table, port, unit)
            state = self.texts.group_grad(unit)[1] if isinstance(unit, Group) else self.texts.grad(unit)[1]
            fill = theme.fills["group" if isinstance(unit, Group) else self.role(unit)]
            last = len(cells) - 1
            grid.append([c.html(theme, state, f' bgcolor="{fill}"' + (f' port="{port}"' if i == 0 else "")
                                + (f' port="{port}x"' if i == last and i else ""))
                         for i, c in enumerate(cells)])
        width = max(len(r) for r in grid)
        for r in grid:
            r.extend(["<td></td>"] * (width - len(r)))
        vertical = self.rankdir in ("LR", "RL")
        if not vertical:
            grid = [list(col) for col in zip(*grid)]  # one column per neuron
        title = f'<font color="{theme.muted}">{html_text(table.title or "")}</font>'
        head = ""
        if table.title and vertical:  # above: edges meet the rows at their sides
            head = f'<tr><td colspan="{len(grid[0])}" border="0">{title}</td></tr>'
        elif table.title:  # to the left: edges meet the columns at their ends
            grid[0].insert(0, f'<td rowspan="{len(grid)}" border="0">{title}</td>')
        body = "".join("<tr>" + "".join(r) + "</tr>" for r in grid)
        return (f'<<table border="0" cellborder="1" cellspacing="0" cellpadding="4" color="{theme.border}">'
                f"{head}{body}</table>>")

    def port(self, end: str, side: str) -> str:
        """A row's port with the side edges attach to: in where the flow comes from, out at the far side."""
        if ":" not in end:
            return end
        return f"{end}{'x' if side == 'tail' else ''}:{_COMPASS[(self.rankdir, side)]}"

    def draw_collapsed(self, g: graphviz.Digraph) -> None:
        """Tables, the loose nodes around them, edges between; each column kept in model and sample order."""
        for node in self.flow.order:
            if node not in self.cplan.unit_of:
                self.box(g, node)
        for table in self.cplan.tables:
            attrs = {"shape": "none", "margin": "0", "width": "0", "height": "0"}
            if self.tooltips:
                attrs["tooltip"] = attr_text(table.title or "")
            if self.slots:
                attrs["id"] = table.key
            g.node(table.key, self.table_label(table), **attrs)
        self._columns(g)
        for k, pair in enumerate(self.edge_pairs()):
            label, state = self.pair_label(pair)
            eid = f"e{k}" if self.slots else None
            if eid is not None and label is not None and pair.edges is not None:
                label = (self.layout.get(eid, label[0]),)
            self.edge(g, self.port(pair.tail, "tail"), self.port(pair.head, "head"), label, active=False,
                      eid=eid, state=state)

    def _columns(self, g: graphviz.Digraph) -> None:
        """Each column (inputs, each layer) in one rank, in order: shared parameters, then sample 0, 1, ..."""
        columns: dict[float, list[str]] = {}
        for table in sorted(self.cplan.tables, key=lambda t: (t.column, t.sample)):
            columns.setdefault(table.column, []).append(table.key)
        for leaves in self.cplan.inputs:
            columns.setdefault(-1.0, []).extend(self.ids[n] for n in leaves)
        for names in columns.values():
            if len(names) > 1:
                same = graphviz.Digraph()
                same.attr(rank="same")
                for a, b in zip(names, names[1:]):
                    same.edge(a, b, style="invis")
                g.subgraph(same)
