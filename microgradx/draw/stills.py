"""The steps of the backward pass as still pictures that hold still: every frame drawn on one layout.

A frame shows the gradients known at its step: ``grad ?`` early, ``grad 0.5 + 1.0 = 1.5``
late. Laid out alone, each frame would size its boxes to its own texts, and Graphviz
would move everything from one slide to the next. So the steps are measured once, on
the drawing with every changing text at its longest (the player's layout), and each
frame is drawn with those sizes fixed: boxes, edge labels and the caption keep their
place and size from the first slide to the last.
"""

from __future__ import annotations

import json
import re
import textwrap
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from .render import render

CAPTION_MIN_WIDTH = 480.0  # points: a narrow drawing's captions still get a line this long
CHAR_WIDTH = 0.6           # a caption character's width, in ems (Helvetica's widest run of digits and symbols)
ROOM = 4.0                 # points added to every node: the current step's box has a 3-pt border, not 1


@dataclass
class Sizes:
    """What every frame keeps fixed, in points: each node's size, each edge label's, the caption's."""

    nodes: dict[str, tuple[float, float]]
    cells: dict[str, float]  # a changing text's cell (its slot, as the player names it) -> its width
    labels: dict[tuple[str, str, int], tuple[float, float]]  # (tail node, head node, k-th such edge) -> size
    caption: tuple[float, float]
    caption_chars: int  # a caption line's length in characters
    _seen: Counter[tuple[str, str]] = field(default_factory=Counter)

    def node(self, name: str) -> tuple[float, float] | None:
        return self.nodes.get(name)

    def label(self, tail: str, head: str) -> tuple[float, float] | None:
        """The size of the next edge label from ``tail`` to ``head`` (ports left out), in drawing order."""
        key = (tail.split(":")[0], head.split(":")[0])
        k = self._seen[key]
        self._seen[key] += 1
        return self.labels.get((*key, k))

    def cell(self, slot: str | None) -> float | None:
        return self.cells.get(slot) if slot else None

    def fresh(self) -> Sizes:
        """The same sizes for the next frame (edges counted again from the first)."""
        return Sizes(self.nodes, self.cells, self.labels, self.caption, self.caption_chars)

    def wrap(self, caption: str) -> str:
        return "\n".join(textwrap.wrap(caption, self.caption_chars)) if caption else ""


def measure(layout_source: str, longest: dict[str, str], captions: list[str], fontsize: float) -> Sizes:
    """The sizes of the drawing ``layout_source`` (every changing text at its longest, ``longest``: slot -> text),
    laid out by ``dot``.

    Read from Graphviz's JSON output: each node's ``width``/``height`` (inches), the
    cell around each changing text (``p`` polygons and ``T`` texts), and each edge
    label's lines. The caption gets the drawing's width (at least
    :data:`CAPTION_MIN_WIDTH`) and as many lines as the longest step needs.
    """
    data = json.loads(render(layout_source, "json"))
    objects = [obj for obj in data.get("objects", []) if "nodes" not in obj]  # nodes, not clusters
    names = {obj["_gvid"]: obj.get("name", "") for obj in objects}
    nodes = {obj["name"]: (float(obj["width"]) * 72 + ROOM, float(obj["height"]) * 72 + ROOM)
             for obj in objects if "width" in obj}
    drawn = {obj["name"]: obj.get("_ldraw_", []) for obj in objects}
    cells = {}
    for slot, text in longest.items():
        node = re.match(r"n\d+|t\d+", slot)
        width = _cell_width(drawn.get(node.group(0), []), text) if node and not slot.startswith("e") else None
        if width is not None:
            cells[slot] = width
    labels: dict[tuple[str, str, int], tuple[float, float]] = {}
    seen: Counter[tuple[str, str]] = Counter()
    for edge in data.get("edges", []):
        key = (names.get(edge["tail"], ""), names.get(edge["head"], ""))
        lines = [op for op in edge.get("_ldraw_", []) if op.get("op") == "T"]
        if lines:
            size = max(float(op.get("width", 0.0)) for op in lines) + 6.0, len(lines) * fontsize * 1.25 + 4.0
            labels[(key[0], key[1], seen[key])] = size
        seen[key] += 1
    x0, _, x1, _ = (float(v) for v in data.get("bb", "0,0,0,0").split(","))
    width = max(x1 - x0, CAPTION_MIN_WIDTH)
    chars = max(int(width / (CHAR_WIDTH * (fontsize + 2))), 20)
    most = max((len(textwrap.wrap(c, chars)) for c in captions if c), default=1)
    return Sizes(nodes, cells, labels, (width, most * (fontsize + 2) * 1.3 + 4.0), chars)


def _cell_width(ops: list[dict[str, Any]], text: str) -> float | None:
    """The width of the cell around ``text`` in a node's drawing operations: the smallest rectangle (``p``/``P``
    polygon) that holds the text's anchor point (the widest, if the text is in several cells)."""
    rects = []
    for op in ops:
        if op.get("op") in ("p", "P") and len(op.get("points", [])) == 4:
            xs, ys = [pt[0] for pt in op["points"]], [pt[1] for pt in op["points"]]
            rects.append((min(xs), max(xs), min(ys), max(ys)))
    found = None
    for op in ops:
        if op.get("op") == "T" and op.get("text") == text:
            x, y = op["pt"]
            around = [r for r in rects if r[0] <= x <= r[1] and r[2] <= y <= r[3]]
            if around:
                r = min(around, key=lambda r: (r[1] - r[0]) * (r[3] - r[2]))
                found = max(found or 0.0, r[1] - r[0])
    return found


def fixed_text(text_html: str, size: tuple[float, float] | None) -> str:
    """A text label (already escaped for an HTML-like label, ``<...>``) in a borderless box of ``size``."""
    if size is None:
        return text_html
    w, h = size
    return (f'<<table border="0" cellborder="0" cellspacing="0" cellpadding="0" width="{w:.0f}" height="{h:.0f}" '
            f'fixedsize="true"><tr><td>{text_html[1:-1]}</td></tr></table>>')


def node_attrs(size: tuple[float, float] | None) -> dict[str, Any]:
    """Graphviz node attributes that hold a node at ``size`` points whatever its label says now."""
    if size is None:
        return {}
    w, h = size
    return {"width": f"{w / 72:.4f}", "height": f"{h / 72:.4f}", "fixedsize": "true"}
