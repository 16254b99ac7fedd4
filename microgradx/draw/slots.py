"""Where the changing texts of a drawing live, for the animation that rewrites only them.

A *slot* is one text that changes during the backward pass: a box's gradient cell
(an anchor ``a_<slot>`` in the SVG), or an edge's ``upstream × local`` line (the
last text of the edge ``e<k>``). A step changes the slots of the inputs of the node
it processes and of the edges to them: O(edges) over the whole pass.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .groups import Group


class Slots:
    """The animation's view of a drawing (mixed into the drawer)."""

    flow: Any
    frame: Any
    texts: Any
    ids: dict[Any, str]
    collapse: Any
    cplan: Any
    _slots: dict[str, tuple[str, Any]] | None
    _index: tuple[dict[Any, str], dict[tuple[Any, int], str], dict[tuple[str, str], str]] | None

    if TYPE_CHECKING:  # supplied by the drawer
        def edge_pairs(self) -> list[Any]: ...
        def endpoint(self, node: Any, as_child: bool) -> str: ...
        def row_slot(self, table: Any, port: str, unit: Any) -> str: ...

    def slot_sources(self) -> list[tuple[str, tuple[str, Any]]]:
        """Every text that changes during the backward pass: ``(slot, what)``, in drawing order."""
        if self._slots is None:
            slots: dict[str, tuple[str, Any]] = {}
            if self.frame.show_grad:
                for node in self.flow.order:
                    if node not in self.cplan.unit_of:
                        slots[self.ids[node]] = ("node", node)
                for table in self.cplan.tables:
                    for port, unit in table.rows:
                        slots[self.row_slot(table, port, unit)] = ("group", unit) if isinstance(unit, Group) \
                            else ("node", unit)
            if self.frame.backward:
                self._edge_slots(slots)
            self._slots = slots
        return list(self._slots.items())

    def _edge_slots(self, slots: dict[str, tuple[str, Any]]) -> None:
        if self.collapse is None:
            k = 0
            for parent in self.flow.order:
                for d in self.flow.out_of[parent]:
                    slots[f"e{k}"] = ("edge", d)
                    k += 1
        elif self.frame.show_grad:
            for k, pair in enumerate(self.edge_pairs()):
                if pair.edges is not None:
                    slots[f"e{k}"] = ("pair", pair.edges)

    def slot_text(self, what: tuple[str, Any]) -> tuple[str, str]:
        """The text in a slot now, and its state (``unknown``, ``partial``, ``final``)."""
        kind, obj = what
        if kind == "node":
            return self.texts.grad(obj)  # type: ignore[no-any-return]
        if kind == "group":
            return self.texts.group_grad(obj)  # type: ignore[no-any-return]
        if kind == "pair":
            return self.texts.share(obj)  # type: ignore[no-any-return]
        second = self.texts.edge(obj)[1] or ""
        return second, "unknown" if "?" in second else "final"

    @staticmethod
    def element_of(slot: str) -> str:
        """The SVG element holding the slot's text: an edge's group, or a cell's anchor ``a_<slot>``."""
        return slot if slot.startswith("e") else "a_" + slot

    def _slot_index(self) -> tuple[dict[Any, str], dict[tuple[Any, int], str], dict[tuple[str, str], str]]:
        """Node -> its grad slot; (parent, argument) -> its edge slot; (tail, head) -> collapsed edge slot."""
        if self._index is None:
            node_slot: dict[Any, str] = {}
            edge_slot: dict[tuple[Any, int], str] = {}
            for slot, (kind, obj) in self.slot_sources():
                if kind == "node":
                    node_slot[obj] = slot
                elif kind == "group":
                    for n in obj.outputs if obj.kind != "params" else obj.members:
                        node_slot[n] = slot
                elif kind == "edge":
                    edge_slot[(obj.parent, obj.position)] = slot
            pairs = self.edge_pairs() if self.collapse else []
            self._index = node_slot, edge_slot, {(p.tail, p.head): f"e{k}" for k, p in enumerate(pairs)}
        return self._index

    def slots_changed_by(self, deltas: list[Any]) -> list[tuple[str, tuple[str, Any]]]:
        """The slots whose text the steps ``deltas`` may change: their inputs' grads and the edges to them."""
        node_slot, edge_slot, pair_slot = self._slot_index()
        sources = self._slots or {}
        changed: dict[str, tuple[str, Any]] = {}
        for delta in deltas:
            p = delta.current
            for child, _ in delta.updates:
                if child in node_slot:
                    changed[node_slot[child]] = sources[node_slot[child]]
            for i, child in enumerate(p._prev):
                slot = edge_slot.get((p, i)) or pair_slot.get((self.endpoint(child, True), self.endpoint(p, False)))
                if slot is not None and slot in sources:
                    changed[slot] = sources[slot]
        return list(changed.items())

    def highlight_of(self, node: Any) -> list[str]:
        """The SVG elements to highlight while ``node`` (or its row) is processed."""
        unit = self.cplan.unit_of.get(node)
        if unit is not None:
            slot = "".join(unit)
            return ["a_" + slot, "a_" + slot + "n"]
        return [self.ids[node]] + ([self.ids[node] + "op"] if node._prev else [])

    def active_edges_of(self, node: Any) -> list[str]:
        """The edges along which ``node`` (or its row) sends gradient."""
        _, edge_slot, pair_slot = self._slot_index()
        if self.collapse is None:
            return [self.ids[node] + "e"] + [edge_slot[(node, i)] for i in range(len(node._prev))
                                             if (node, i) in edge_slot]
        head = self.endpoint(node, as_child=False)
        return [slot for (_, h), slot in pair_slot.items() if h == head]
