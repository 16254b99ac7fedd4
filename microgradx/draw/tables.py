"""Drawing the collapsed views: each planned table (see ``collapse``) as one Graphviz node of rows.

Laid out left to right, a table's rows are stacked (edges meet them at their sides);
top to bottom, its rows stand side by side as columns. Edges come in at a row's first
cell and leave from its last, on the side the flow comes from.
"""

from __future__ import annotations

from typing import Any

import graphviz

from .boxes import Boxes
from .collapse import Pair, Table, row_name
from .groups import Group
from .markup import Cell, attr_text, html_text

_COMPASS = {("LR", "tail"): "e", ("LR", "head"): "w", ("RL", "tail"): "w", ("RL", "head"): "e",
            ("TB", "tail"): "s", ("TB", "head"): "n", ("BT", "tail"): "n", ("BT", "head"): "s"}


class Tables:
    """The collapsed parts of a drawing: tables, the loose boxes around them, and the edges between."""

    def __init__(self, boxes: Boxes) -> None:
        self.boxes = boxes
        self.scene, self.texts, self.theme = boxes.scene, boxes.texts, boxes.theme

    def pair_label(self, pair: Pair) -> tuple[tuple[str, ...] | None, str]:
        """``(label lines, state)``: the gradient along the edge (backward), or a bundle's size."""
        if pair.edges is None:
            return (f"{pair.count} connections",), "final"
        frame = self.boxes.frame
        if frame.backward and frame.show_grad:
            text, state = self.texts.share(pair.edges)
            return (text,), state
        return None, "final"

    def row_cells(self, table: Table, port: str, unit: Any) -> list[Cell]:
        """A neuron's (or layer's) row: name | size | out | grad; a leaf's row: its value cells."""
        if not isinstance(unit, Group):
            return self.boxes.value_cells(unit)
        slot = self.scene.row_slot(table, port, unit) if self.boxes.slots else None
        size = f"{unit.params} params" if unit.kind == "params" else (
            f"{len(unit.members)} nodes" if unit.sample is not None else f"{len(unit.members)} nodes, "
            f"{unit.params} params")
        cells = [Cell(row_name(unit, self.scene.options.collapse), "b", slot and slot + "n"), Cell(size, "muted"),
                 Cell(self.texts.group_data(unit))]
        if self.boxes.frame.show_grad:
            text, _ = self.texts.group_grad(unit)
            cells.append(Cell(self.boxes.layout.get(slot or "", text), "grad", slot))
        return cells

    def _row_html(self, table: Table, port: str, unit: Any) -> list[str]:
        """A row's cells as ``<td>``s, filled by role, with the ports edges attach to on the first and last."""
        cells = self.row_cells(table, port, unit)
        state = self.texts.group_grad(unit)[1] if isinstance(unit, Group) else self.texts.grad(unit)[1]
        fill = self.theme.fills["group" if isinstance(unit, Group) else self.boxes.role(unit)]
        last = len(cells) - 1
        return [c.html(self.theme, state, f' bgcolor="{fill}"' + (f' port="{port}"' if i == 0 else "")
                       + (f' port="{port}x"' if i == last and i else ""))
                for i, c in enumerate(cells)]

    def table_label(self, table: Table, rankdir: str) -> str:
        """The table: rows stacked (left to right) or side by side (top to bottom), ports on first and last cells."""
        theme = self.theme
        grid = [self._row_html(table, port, unit) for port, unit in table.rows]
        width = max(len(r) for r in grid)
        for r in grid:
            r.extend(["<td></td>"] * (width - len(r)))
        vertical = rankdir in ("LR", "RL")
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

    @staticmethod
    def port(end: str, side: str, rankdir: str) -> str:
        """A row's port with the side edges attach to: in where the flow comes from, out at the far side."""
        if ":" not in end:
            return end
        return f"{end}{'x' if side == 'tail' else ''}:{_COMPASS[(rankdir, side)]}"

    def draw(self, g: graphviz.Digraph, rankdir: str) -> None:
        """Tables, the loose nodes around them, edges between; each column kept in model and sample order."""
        scene, boxes = self.scene, self.boxes
        for node in scene.flow.order:
            if node not in scene.cplan.unit_of:
                boxes.box(g, node)
        for table in scene.cplan.tables:
            attrs = {"shape": "none", "margin": "0", "width": "0", "height": "0"}
            if boxes.tooltips:
                attrs["tooltip"] = attr_text(table.title or "")
            if boxes.slots:
                attrs["id"] = table.key
            g.node(table.key, self.table_label(table, rankdir), **attrs)
        self._columns(g)
        for k, pair in enumerate(scene.pairs):
            label, state = self.pair_label(pair)
            eid = f"e{k}" if boxes.slots else None
            if eid is not None and label is not None and pair.edges is not None:
                label = (boxes.layout.get(eid, label[0]),)
            boxes.edge(g, self.port(pair.tail, "tail", rankdir), self.port(pair.head, "head", rankdir), label,
                       active=False, eid=eid, state=state)

    def _columns(self, g: graphviz.Digraph) -> None:
        """Each column (inputs, each layer) in one rank, in order: shared parameters, then sample 0, 1, ..."""
        columns: dict[float, list[str]] = {}
        for table in sorted(self.scene.cplan.tables, key=lambda t: (t.column, t.sample)):
            columns.setdefault(table.column, []).append(table.key)
        for leaves in self.scene.cplan.inputs:
            columns.setdefault(-1.0, []).extend(self.scene.ids[n] for n in leaves)
        for names in columns.values():
            if len(names) > 1:
                same = graphviz.Digraph()
                same.attr(rank="same")
                for a, b in zip(names, names[1:]):
                    same.edge(a, b, style="invis")
                g.subgraph(same)
