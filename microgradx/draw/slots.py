"""Where the changing texts of a drawing live, for the animation that rewrites only them.

A *slot* is one text that changes during the backward pass: a box's gradient cell
(an anchor ``a_<slot>`` in the SVG), an edge's ``upstream × local`` line (the
last text of the edge ``e<k>``), or, collapsed, the port cell an edge comes in at.
A step changes the slots of the inputs of the node it processes and of the edges to
them: O(edges) over the whole pass.
"""

from __future__ import annotations

from typing import Any

from .cells import Frame, Texts
from .flow import Node
from .groups import Group
from .scene import Scene

Slot = tuple[str, Any]  # (kind, what): ("node", a node), ("group", a Group), ("edge", an edge), ("pair", edges)
Index = tuple[dict[Node, str], dict[tuple[Node, int], str], dict[tuple[str, str], str]]


class SlotMap:
    """The animation's view of a drawing of ``scene``: which texts change, and what they say in ``frame``."""

    def __init__(self, scene: Scene, frame: Frame, texts: Texts) -> None:
        self.scene, self.frame, self.texts = scene, frame, texts
        self.sources = self._sources()
        self.node_slot, self.edge_slot, self.pair_slot = self._index()

    def _sources(self) -> dict[str, Slot]:
        """Every text that changes during the backward pass: ``slot -> what``, in drawing order."""
        scene = self.scene
        slots: dict[str, Slot] = {}
        if self.frame.show_grad:
            for node in scene.flow.order:
                if node not in scene.cplan.unit_of:
                    slots[scene.ids[node]] = ("node", node)
            for table in scene.cplan.tables:
                for port, unit in table.rows:
                    slots[scene.row_slot(table, port, unit)] = ("group", unit) if isinstance(unit, Group) \
                        else ("node", unit)
        if self.frame.backward:
            self._edge_slots(slots)
        return slots

    def _edge_slots(self, slots: dict[str, Slot]) -> None:
        if self.scene.options.collapse is None:
            k = 0
            for parent in self.scene.flow.order:
                for d in self.scene.flow.out_of[parent]:
                    slots[f"e{k}"] = ("edge", d)
                    k += 1
        elif self.frame.show_grad:
            for k, pair in enumerate(self.scene.pairs):
                if pair.edges is not None:
                    slots[pair.slot(k)] = ("pair", pair.edges)

    def slot_text(self, what: Slot) -> tuple[str, str]:
        """The text in a slot now, and its state (``unknown``, ``partial``, ``final``)."""
        kind, obj = what
        if kind == "node":
            return self.texts.grad(obj)
        if kind == "group":
            return self.texts.group_grad(obj)
        if kind == "pair":
            return self.texts.share(obj)
        second = self.texts.edge(obj)[1] or ""
        return second, "unknown" if "?" in second else "final"

    @staticmethod
    def element_of(slot: str) -> str:
        """The SVG element holding the slot's text: an edge's group, or a cell's anchor ``a_<slot>`` (a box's
        gradient, a row's, or an edge's port cell)."""
        return slot if slot.startswith("e") else "a_" + slot

    def _index(self) -> Index:
        """Node -> its grad slot; (parent, argument) -> its edge slot; (tail, head) -> collapsed edge slot."""
        node_slot: dict[Node, str] = {}
        edge_slot: dict[tuple[Node, int], str] = {}
        for slot, (kind, obj) in self.sources.items():
            if kind == "node":
                node_slot[obj] = slot
            elif kind == "group":
                for n in obj.outputs if obj.kind != "params" else obj.members:
                    node_slot[n] = slot
            elif kind == "edge":
                edge_slot[(obj.parent, obj.position)] = slot
        pair_slot = {(p.tail, p.head): p.slot(k) for k, p in enumerate(self.scene.pairs)}
        return node_slot, edge_slot, pair_slot

    def changed_by(self, deltas: list[Any]) -> list[tuple[str, Slot]]:
        """The slots whose text the steps ``deltas`` may change: their inputs' grads and the edges to them."""
        changed: dict[str, Slot] = {}
        endpoint = self.scene.endpoint
        for delta in deltas:
            p = delta.current
            for child, _ in delta.updates:
                if child in self.node_slot:
                    changed[self.node_slot[child]] = self.sources[self.node_slot[child]]
            for i, child in enumerate(p._prev):
                slot = self.edge_slot.get((p, i)) or self.pair_slot.get((endpoint(child, True), endpoint(p, False)))
                if slot is not None and slot in self.sources:
                    changed[slot] = self.sources[slot]
        return list(changed.items())

    def highlight_of(self, node: Node) -> list[str]:
        """The SVG elements to highlight while ``node`` (or its row) is processed."""
        unit = self.scene.cplan.unit_of.get(node)
        if unit is not None:
            slot = "".join(unit)
            return ["a_" + slot, "a_" + slot + "n"]
        ids = self.scene.ids
        return [ids[node]] + ([ids[node] + "op"] if node._prev else [])

    def active_edges_of(self, node: Node) -> list[str]:
        """The edges along which ``node`` (or its row) sends gradient."""
        if self.scene.options.collapse is None:
            nid = self.scene.ids[node]
            return [nid + "e"] + [self.edge_slot[(node, i)] for i in range(len(node._prev))
                                  if (node, i) in self.edge_slot]
        head = self.scene.endpoint(node, as_child=False)
        return [f"e{k}" for k, p in enumerate(self.scene.pairs) if p.head == head]
