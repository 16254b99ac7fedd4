"""The pieces of a drawing: a value's box (``name | data | grad``), its op's node, and the edges between.

A box's fill says its role (input, parameter, constant, output, inner value); in the
backward view edges point back along the gradient's way and carry the chain rule's
two factors. With *slots* on (the animation), every text that changes during the
backward pass carries an id the player can find.
"""

from __future__ import annotations

import graphviz

from ..graph import scope_of
from .cells import Frame, Texts
from .explain import explain_in
from .flow import LocalDerivative, Node, fmt, is_constant
from .markup import Cell, attr_text, box_label, html_label
from .scene import Scene
from .stills import Sizes, fixed_text, node_attrs


class Boxes:
    """Draws value boxes, op nodes and edges of ``scene`` as ``frame`` shows them (texts from ``texts``)."""

    def __init__(self, scene: Scene, frame: Frame, texts: Texts, *, slots: bool = False,
                 tooltips: bool = True, sizes: Sizes | None = None) -> None:
        self.scene, self.frame, self.texts = scene, frame, texts
        self.sizes = sizes  # a frame of the steps: every node and edge label at the size the layout measured
        self.theme = scene.options.theme
        self.slots, self.tooltips = slots, tooltips  # slots: ids on every changing text (the animation)
        self.layout: dict[str, str] = {}  # slot -> the text the layout is made for (the animation's longest)

    def cell_width(self, slot: str | None = None, node: Node | None = None) -> float | None:
        """A frame of the steps: the width of a changing text's cell (``slot``, or ``node``'s grad) in the layout."""
        if self.sizes is None:
            return None
        return self.sizes.cell(self.scene.ids[node] if node is not None else slot)

    def role(self, node: Node) -> str:
        if node is self.scene.flow.root:
            return "output"
        if node._prev:
            return "inner"
        if scope_of(node) is not None:  # nn marked it as a module's parameter
            return "param"
        return "const" if is_constant(node) else "input"

    def value_cells(self, node: Node) -> list[Cell]:
        """name | data | grad; a constant shows its value once: ``1 | grad 6.0``."""
        name = self.scene.flow.names[node]
        slot = self.scene.ids[node] if self.slots else None
        if is_constant(node):
            cells = [Cell(name)]
        else:
            cells = [Cell(name, "b" if node.label else "muted"), Cell(f"data {fmt(node.data)}")]
        if self.frame.show_grad:
            text, _ = self.texts.grad(node)
            cells.append(Cell(self.layout.get(slot or "", text), "grad", slot, min_width=self.cell_width(node=node)))
        return cells

    def box(self, body: graphviz.Digraph, node: Node) -> None:
        """The node's box and, if an op made it, the op's node feeding it."""
        theme, nid = self.theme, self.scene.ids[node]
        state = self.texts.grad(node)[1] if self.frame.show_grad else "final"
        role = self.role(node)
        current = node is self.frame.current
        faded, lit = self.scene.faded(node), self.scene.lit is not None and not self.scene.faded(node)
        pen = 3 if current else (2 if role == "output" or lit else 1)
        attrs = {"shape": "none", "margin": "0", "width": "0", "height": "0"}
        if self.tooltips:
            attrs["tooltip"] = attr_text(self._tooltip(node))
        if current:
            attrs["class"] = "current"
        if self.slots:
            attrs["id"] = nid
        cells = [Cell(c.text, "muted", c.slot, min_width=c.min_width).html(theme) if faded else c.html(theme, state)
                 for c in self.value_cells(node)]
        fill = theme.background if faded else theme.fills[role]
        color = theme.current if current or lit else (theme.cluster_border if faded else theme.border)
        attrs.update(node_attrs(self.sizes.node(nid) if self.sizes else None))
        body.node(nid, box_label(cells, fill, color=color, pen=pen), **attrs)
        if node._prev:
            self.op_node(body, node, current)

    def op_node(self, body: graphviz.Digraph, node: Node, current: bool) -> None:
        """The op's node: a circle for a short symbol (``*``, ``tanh``), a rounded box for a long one."""
        theme, nid, op = self.theme, self.scene.ids[node], node._op
        label = op.display or op.name
        shape = {"shape": "circle", "width": "0.3"} if len(label) <= 4 else \
            {"shape": "box", "style": "rounded,filled", "width": "0", "height": "0.25", "margin": "0.06,0.02"}
        faded = self.scene.faded(node)
        attrs = {"margin": "0.02", "style": "filled", **shape,
                 "fillcolor": theme.background if faded else theme.op_fill,
                 "color": theme.current if current else (theme.cluster_border if faded else theme.border)}
        if faded:
            attrs["fontcolor"] = theme.muted
        if current:
            attrs["penwidth"] = "2"
        if self.tooltips:
            attrs["tooltip"] = attr_text(f"{op.name}: {op.doc}")
        if self.slots:
            attrs["id"] = nid + "op"
        body.node(nid + "op", html_label(label), **attrs)
        self.edge(body, nid + "op", nid, None, active=current and self.texts.flowed(node),
                  eid=nid + "e" if self.slots else None, emphasis=self.emphasis(node, node))

    def _tooltip(self, node: Node) -> str:
        if self.frame.grads is None and self.texts.grads_known:
            return explain_in(self.scene.flow, node)
        return f"{self.scene.flow.names[node]}: data = {fmt(node.data)}"

    def emphasis(self, child: Node, parent: Node) -> str:
        """How the edge from ``child`` into ``parent`` is drawn under ``highlight=``: ``lit`` (both ends are
        highlighted), ``faded`` (not), or ``""`` (no highlight asked for)."""
        if self.scene.lit is None:
            return ""
        return "faded" if self.scene.faded(child) or self.scene.faded(parent) else "lit"

    def edge(self, g: graphviz.Digraph, tail: str, head: str, label: tuple[str, ...] | None, *, active: bool,
             eid: str | None = None, state: str = "final", emphasis: str = "") -> None:
        """An edge; backward, it points back along the gradient's way (``active``: the gradient flows now);
        ``emphasis`` (``lit``, ``faded``) says how ``highlight=`` draws it."""
        theme = self.theme
        attrs: dict[str, str] = {}
        if self.frame.backward:
            attrs.update(dir="back", color=theme.current if active else theme.grad, fontcolor=theme.grad)
        if active or emphasis == "lit":
            attrs["penwidth"] = "2.5"
        if emphasis:
            attrs["color"] = theme.current if emphasis == "lit" else theme.cluster_border
        size = self.sizes.label(tail, head) if self.sizes else None  # (counted for every edge, labelled or not)
        if label is not None:
            text = "\n".join(label)
            attrs["label"] = fixed_text(html_label(text), size)
            if state == "unknown" or emphasis == "faded":
                attrs["fontcolor"] = theme.muted
            if self.tooltips:
                attrs["tooltip"] = attr_text(text)
        if eid is not None:
            attrs["id"] = eid
        g.edge(tail, head, **attrs)

    def edge_label(self, d: LocalDerivative) -> tuple[str, ...] | None:
        """A backward edge's lines: the local derivative, and ``upstream × local = share`` once it flowed."""
        if not self.frame.backward:
            return None
        return tuple(line for line in self.texts.edge(d) if line is not None)
