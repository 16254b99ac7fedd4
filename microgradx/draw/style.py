"""How a drawing looks: colour themes, font sizes, and a layout direction that fits the graph's shape.

A slide is 16:9 (960 × 540 pt). Graphviz draws value boxes wide and short, so a
chain of them laid out left to right is far wider than tall, and fitted to a slide
its text shrinks to a few points. :func:`choose_rankdir` estimates the drawing's
size both ways (ranks along the flow, nodes side by side within a rank) and keeps
the direction whose fit to a slide leaves the text larger.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

SLIDE = (960.0, 540.0)  # points: a 16:9 slide
RANKDIRS = ("auto", "LR", "TB", "RL", "BT")


@dataclass(frozen=True, kw_only=True)
class Theme:
    """The colours of one drawing style, every one by name: ``Theme(name="mine", background="white", ...)``.

    Every colour a drawing, a table, the player page or its inline frame uses comes from here.
    """

    name: str
    background: str
    text: str
    muted: str           # secondary text: unnamed values, counts, "grad ?"
    border: str
    edge: str            # forward edges
    grad: str            # gradients: backward edges and grad cells
    current: str         # the node being processed (animation)
    op_fill: str
    cluster_fill: str
    cluster_border: str  # also the frame of the inline player
    fills: Mapping[str, str]  # value boxes by role: input, const, param, output, inner, group


def _fills(**by_role: str) -> Mapping[str, str]:
    return MappingProxyType(by_role)


THEMES: dict[str, Theme] = {
    "light": Theme(name="light", background="white", text="#111827", muted="#6b7280", border="#1f2937",
                   edge="#374151", grad="#c2410c", current="#7c3aed", op_fill="#f3f4f6",
                   cluster_fill="#f9fafb", cluster_border="#d1d5db",
                   fills=_fills(input="#dbeafe", const="#f3f4f6", param="#fef3c7", output="#dcfce7",
                                inner="#ffffff", group="#f9fafb")),
    "dark": Theme(name="dark", background="#111827", text="#e5e7eb", muted="#9ca3af", border="#9ca3af",
                  edge="#9ca3af", grad="#fb923c", current="#c4b5fd", op_fill="#374151",
                  cluster_fill="#1f2937", cluster_border="#4b5563",
                  fills=_fills(input="#1e3a5f", const="#374151", param="#4a3b12", output="#14532d",
                               inner="#111827", group="#1f2937")),
    "print": Theme(name="print", background="white", text="black", muted="#404040", border="black",
                   edge="black", grad="black", current="black", op_fill="white",
                   cluster_fill="white", cluster_border="#808080",
                   fills=_fills(input="white", const="white", param="white", output="white",
                                inner="white", group="white")),
}
ROLES = ("input", "const", "param", "output", "inner", "group")


def theme_of(theme: str | Theme) -> Theme:
    """The theme called ``theme`` (a :class:`Theme` passes through); a clear error naming the choices otherwise."""
    if isinstance(theme, Theme):
        missing = [role for role in ROLES if role not in theme.fills]
        if missing:
            raise ValueError(f"theme {theme.name!r} has no fill colour for {', '.join(missing)}: give fills= "
                             f"a colour for each of {', '.join(ROLES)}")
        return theme
    if not isinstance(theme, str) or theme not in THEMES:
        raise ValueError(f"theme must be one of {', '.join(repr(t) for t in THEMES)}, got {theme!r}")
    return THEMES[theme]


def text_width(text: str, fontsize: float) -> float:
    """Roughly how wide Helvetica sets ``text`` (points): 0.55 em per character on average."""
    return 0.55 * fontsize * max((len(line) for line in text.split("\n")), default=0)


def text_height(text: str, fontsize: float) -> float:
    return 1.25 * fontsize * (text.count("\n") + 1)


class Sketch:
    """What a drawing will contain, for estimating its size before Graphviz lays it out."""

    def __init__(self) -> None:
        self.sizes: dict[str, tuple[float, float]] = {}
        self.across: dict[str, tuple[float, float]] = {}  # a different size when laid out top to bottom
        self.edges: list[tuple[str, str, tuple[float, float] | None]] = []  # tail, head, label size

    def node(self, name: str, width: float, height: float, top_to_bottom: tuple[float, float] | None = None) -> None:
        """A node of ``width × height`` points (``top_to_bottom``: its size in that layout, if it differs)."""
        self.sizes[name] = (width, height)
        if top_to_bottom is not None:
            self.across[name] = top_to_bottom

    def edge(self, tail: str, head: str, label: tuple[float, float] | None = None) -> None:
        self.edges.append((tail.split(":")[0], head.split(":")[0], label))

    def ranks(self) -> dict[str, int]:
        """Each node's rank: the longest path to it (a labelled edge spans two ranks, as in dot)."""
        into: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for tail, head, label in self.edges:
            into[head].append((tail, 2 if label else 1))
        rank: dict[str, int] = {}
        for name in self._topological():
            rank[name] = max((rank.get(t, 0) + span for t, span in into[name]), default=0)
        return rank

    def _topological(self) -> list[str]:
        indeg = {n: 0 for n in self.sizes}
        after: dict[str, list[str]] = defaultdict(list)
        for tail, head, _ in self.edges:
            if tail in indeg and head in indeg:
                indeg[head] += 1
                after[tail].append(head)
        ready = [n for n, d in indeg.items() if d == 0]
        out = []
        while ready:
            n = ready.pop()
            out.append(n)
            for h in after[n]:
                indeg[h] -= 1
                if indeg[h] == 0:
                    ready.append(h)
        return out

    def extent(self, rankdir: str, nodesep: float, ranksep: float) -> tuple[float, float]:
        """Estimated (width, height) in points when laid out along ``rankdir``."""
        rank = self.ranks()
        along: dict[int, float] = defaultdict(float)   # a rank's depth along the flow
        across: dict[int, float] = defaultdict(float)  # the sum of its nodes side by side
        flow_axis = 1 if rankdir in ("TB", "BT") else 0
        sizes = {**self.sizes, **self.across} if flow_axis else self.sizes
        items = [(rank.get(n, 0), s) for n, s in sizes.items()]
        items += [(rank.get(t, 0) + 1, lab) for t, _, lab in self.edges if lab]
        for r, size in items:
            along[r] = max(along[r], size[flow_axis])
            across[r] += size[1 - flow_axis] + nodesep
        depth = sum(along.values()) + ranksep * max(len(along) - 1, 0)
        breadth = max(across.values(), default=0.0)
        return (breadth, depth) if flow_axis else (depth, breadth)


def fit_scale(size: tuple[float, float], slide: tuple[float, float] = SLIDE) -> float:
    """How much a drawing of ``size`` shrinks to fit ``slide`` (never enlarged: at most 1)."""
    w, h = size
    return min(slide[0] / max(w, 1.0), slide[1] / max(h, 1.0), 1.0)


def choose_rankdir(sketch: Sketch, nodesep: float, ranksep: float) -> str:
    """``"TB"`` when a top-to-bottom layout fits a slide clearly better than left-to-right, else ``"LR"``."""
    lr = fit_scale(sketch.extent("LR", nodesep, ranksep))
    tb = fit_scale(sketch.extent("TB", nodesep, ranksep))
    return "TB" if tb > 1.1 * lr else "LR"
