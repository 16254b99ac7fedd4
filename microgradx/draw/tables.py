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
from .stills import node_attrs
from .style import text_width

_COMPASS = {("LR", "tail"): "e", ("LR", "head"): "w", ("RL", "tail"): "w", ("RL", "head"): "e",
            ("TB", "tail"): "s", ("TB", "head"): "n", ("BT", "tail"): "n", ("BT", "head"): "s"}


class Tables:
    """The collapsed parts of a drawing: tables, the loose boxes around them, and the edges between."""

    def __init__(self, boxes: Boxes) -> None:
        self.boxes = boxes
        self.scene, self.texts, self.theme = boxes.scene, boxes.texts, boxes.theme

    def pair_label(self, pair: Pair, backward: bool | None = None) -> tuple[tuple[str, ...] | None, str]:
        """``(label lines, state)`` of an edge drawn without a port cell: a bundle's size, or (backward) the
        gradient along an edge into a loose node (``backward``: label it so whichever view this is)."""
        if pair.edges is None:
            return (f"{pair.count} connections",), "final"
        frame = self.boxes.frame
        if pair.port is None and (frame.backward if backward is None else backward) and frame.show_grad:
            text, state = self.texts.share(pair.edges)
            return (text,), state
        return None, "final"

    def tail_name(self, pair: Pair) -> str:
        """What an edge comes from, by name: an input (``x0``), a neuron (``L0.n2``), a layer (``L0``), the
        parameters a batch's samples share (``L0.n2 params``)."""
        if not pair.edges:
            return f"{pair.count} connections"
        child = pair.edges[0].child
        unit = self.scene.cplan.unit_of.get(child)
        if unit is None:
            return self.scene.flow.names[child]
        row = self.scene.cplan.row(unit)
        if not isinstance(row, Group):
            return self.scene.flow.names[row]
        return row.title() + (" params" if row.kind == "params" else "")  # a batch's shared parameters

    def port_cell(self, pair: Pair, k: int) -> tuple[Cell, str]:
        """An edge's own cell on the row it comes into, and its state: where it comes from and, backward, the
        gradient flowing along it (``x0 0.4435``)."""
        frame, name = self.boxes.frame, self.tail_name(pair)
        if not (frame.backward and frame.show_grad) or pair.edges is None:
            return Cell(name, "muted"), "final"
        slot = pair.slot(k) if self.boxes.slots else None
        text, state = self.texts.share(pair.edges)
        width = self.boxes.cell_width(slot=pair.slot(k))
        return Cell(self.boxes.layout.get(slot or "", text), "grad", slot, lead=name, min_width=width), state

    def extent(self, table: Table, fontsize: float, h: float) -> tuple[tuple[float, float], tuple[float, float]]:
        """The table's estimated size laid out left to right (rows stacked) and top to bottom (side by side), its
        port cells as the backward view writes them."""
        ins = self.ports_in(table)
        rows = []
        for port, unit in table.rows:
            cells = sum(c.width(fontsize) for c in self.row_cells(table, port, unit))
            widest = max((c.width(fontsize) for c in self.row_cells(table, port, unit)), default=0.0)
            ports = [text_width(f"{self.tail_name(p)} {self.texts.share(p.edges or [])[0]}", fontsize) + 8
                     for _, p in ins.get(port, [])]
            rows.append((cells, widest, ports))
        title = h * (1 + bool(self.shared_size(table))) if table.title else 0.0
        port_column = max((max(ports, default=0.0) for _, _, ports in rows), default=0.0)
        stacked = (max(c for c, _, _ in rows) + port_column,
                   h * sum(max(len(ports), 1) for _, _, ports in rows) + title)
        cells_high = max(len(self.row_cells(table, port, unit)) for port, unit in table.rows)
        side_by_side = (sum(max(w, sum(ports)) for _, w, ports in rows) + title * 3,
                        h * (cells_high + bool(ins)))
        return stacked, side_by_side

    def size_text(self, unit: Group) -> str:
        if unit.kind == "params":
            return f"{unit.params} params"
        return f"{len(unit.members)} nodes" if unit.sample is not None else \
            f"{len(unit.members)} nodes, {unit.params} params"

    def shared_size(self, table: Table) -> str | None:
        """The size every row of a titled table has, said once under its title instead of on every row
        (``each 8 nodes, 3 params``)."""
        sizes = {self.size_text(u) if isinstance(u, Group) else "" for _, u in table.rows}
        if table.title and len(sizes) == 1 and "" not in sizes:
            return ("each " if len(table.rows) > 1 else "") + sizes.pop()
        return None

    def row_cells(self, table: Table, port: str, unit: Any) -> list[Cell]:
        """A neuron's (or layer's) row: name | size | out | grad (its size under the title when all rows share
        it); a leaf's row: its value cells."""
        if not isinstance(unit, Group):
            return self.boxes.value_cells(unit)
        slot = self.scene.row_slot(table, port, unit) if self.boxes.slots else None
        cells = [Cell(row_name(unit, self.scene.options.collapse), "b", slot and slot + "n")]
        if self.shared_size(table) is None:
            cells.append(Cell(self.size_text(unit), "muted"))
        cells.append(Cell(self.texts.group_data(unit)))
        if self.boxes.frame.show_grad:
            text, _ = self.texts.group_grad(unit)
            width = self.boxes.cell_width(slot=self.scene.row_slot(table, port, unit))
            cells.append(Cell(self.boxes.layout.get(slot or "", text), "grad", slot, min_width=width))
        return cells

    def _row_html(self, table: Table, port: str, unit: Any, span: str) -> list[str]:
        """A row's cells as ``<td>``s, filled by role, with the ports edges attach to on the first and last."""
        cells = self.row_cells(table, port, unit)
        state = self.texts.group_grad(unit)[1] if isinstance(unit, Group) else self.texts.grad(unit)[1]
        fill = self.theme.fills["group" if isinstance(unit, Group) else self.boxes.role(unit)]
        last = len(cells) - 1
        return [c.html(self.theme, state, f' bgcolor="{fill}"{span}' + (f' port="{port}"' if i == 0 else "")
                       + (f' port="{port}x"' if i == last and i else ""))
                for i, c in enumerate(cells)]

    def ports_in(self, table: Table) -> dict[str, list[tuple[int, Pair]]]:
        """The edges coming in at each row's port cells (``row -> [(edge number, pair)]``)."""
        out: dict[str, list[tuple[int, Pair]]] = {}
        for k, pair in enumerate(self.scene.pairs):
            if pair.port is not None and pair.head.split(":")[0] == table.key:
                out.setdefault(pair.head.split(":")[1], []).append((k, pair))
        return out

    def _ports_html(self, ports: list[tuple[int, Pair]]) -> list[str]:
        html = []
        for k, pair in ports:
            cell, state = self.port_cell(pair, k)
            # a thinner padding: a neuron with many inputs stacks that many port cells
            html.append(cell.html(self.theme, state, f' bgcolor="{self.theme.background}" cellpadding="2"'
                                                     f' port="{pair.port}"'))
        return html

    def table_label(self, table: Table, rankdir: str) -> str:
        """The table: rows stacked (left to right) or side by side (top to bottom); each row's port cells on the
        side the flow comes from, one per edge coming in."""
        theme, ins = self.theme, self.ports_in(table)
        vertical, last = rankdir in ("LR", "RL"), rankdir in ("RL", "BT")  # ports go first, or last
        blank = "<td></td>" if ins else None
        blocks = []
        for port, unit in table.rows:
            ports = self._ports_html(ins.get(port, []))
            k = max(len(ports), 1)
            span = "" if k == 1 else f' {"rowspan" if vertical else "colspan"}="{k}"'
            blocks.append((self._row_html(table, port, unit, span), ports or ([blank] if blank else []), span))
        width = max(len(cells) for cells, _, _ in blocks)
        grid: list[list[str]] = []
        if vertical:  # a row per port; the row's other cells span them
            for cells, ports, span in blocks:
                cells = cells + [f"<td{span}></td>"] * (width - len(cells))
                grid.append(cells + ports[:1] if last else ports[:1] + cells)
                grid.extend([p] for p in ports[1:])
        else:  # a column per neuron; its port cells side by side above (or below) it
            body = [[cells[i] if i < len(cells) else f"<td{span}></td>" for cells, _, span in blocks]
                    for i in range(width)]
            top = [p for _, ports, _ in blocks for p in ports]
            grid = body + [top] if last and top else ([top] if top else []) + body
        title_text = table.title or ""
        shared = self.shared_size(table)
        if shared:
            title_text += f"\n{shared}"
        title = f'<font color="{theme.muted}">{html_text(title_text)}</font>'
        head = ""
        if table.title and vertical:  # above: edges meet the rows at their sides
            head = f'<tr><td colspan="{max(len(r) for r in grid)}" border="0">{title}</td></tr>'
        elif table.title:  # to the left: edges meet the columns at their ends
            grid[0].insert(0, f'<td rowspan="{len(grid)}" border="0">{title}</td>')
        rows = "".join("<tr>" + "".join(r) + "</tr>" for r in grid)
        return (f'<<table border="0" cellborder="1" cellspacing="0" cellpadding="4" color="{theme.border}">'
                f"{head}{rows}</table>>")

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
            attrs.update(node_attrs(boxes.sizes.node(table.key) if boxes.sizes else None))
            g.node(table.key, self.table_label(table, rankdir), **attrs)
        self._columns(g)
        for k, pair in enumerate(scene.pairs):
            label, state = self.pair_label(pair)
            eid = f"e{k}" if boxes.slots else None
            if eid is not None and label is not None and pair.edges is not None:
                label = (boxes.layout.get(eid, label[0]),)
            head = pair.head if pair.port is None else f"{pair.head.split(':')[0]}:{pair.port}"
            boxes.edge(g, self.port(pair.tail, "tail", rankdir), self.port(head, "head", rankdir), label,
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
