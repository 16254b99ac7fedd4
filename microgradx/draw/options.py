"""A drawing's options, checked once where the user's call enters and passed down as one frozen object.

``draw_dot``, ``backward_steps``, ``animate_backward`` and ``animation_html`` keep their
keyword arguments (``view=``, ``fontsize=``, ``theme=`` ...); each turns them into a
:class:`DrawOptions` with :func:`draw_options`, which says what is wrong with a bad
value, and everything below reads that object. The theme is looked up once: the
options hold the :class:`~microgradx.draw.style.Theme` itself.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, Literal

from .style import RANKDIRS, Theme, theme_of

DEFAULT_MAX_NODES = 2000
FONTSIZE_RANGE = (4, 72)  # points

View = Literal["forward", "backward"]
Collapse = Literal["neuron", "layer"] | None


@dataclass(frozen=True)
class Highlight:
    """What ``highlight=`` emphasises: ``nodes`` and, with ``paths``, every path from them to the output."""

    nodes: tuple[Any, ...]
    paths: bool


def highlight_of(highlight: Any) -> Highlight | None:
    """``highlight=`` as given: None; a node (its paths to the output); or an iterable of nodes (those alone)."""
    if highlight is None:
        return None
    if hasattr(highlight, "_prev"):
        return Highlight((highlight,), paths=True)
    if isinstance(highlight, (str, bytes)) or not isinstance(highlight, Iterable):
        raise TypeError(f"highlight must be a Value (drawn with its paths to the output) or a set of Values, "
                        f"got {type(highlight).__name__}")
    nodes = tuple(dict.fromkeys(highlight))
    strays = [type(n).__name__ for n in nodes if not hasattr(n, "_prev")]
    if strays:
        raise TypeError(f"highlight must hold Values of the graph, got a {strays[0]}")
    return Highlight(nodes, paths=False)


class GraphTooLargeError(ValueError):
    """The drawing would have more nodes (``reason="nodes"``) or edge bends (``reason="bends"``) than
    ``dot`` lays out in reasonable time."""

    def __init__(self, message: str, reason: str = "nodes") -> None:
        super().__init__(message)
        self.reason = reason


@dataclass(frozen=True, kw_only=True)
class DrawOptions:
    """How to draw: the view, what to show, how big, in which colours and direction. Valid by construction
    when made by :func:`draw_options`."""

    view: View = "forward"
    show_grad: bool = True
    collapse: Collapse = None
    max_nodes: int = DEFAULT_MAX_NODES
    rankdir: str = "auto"      # "auto" until a drawing resolves it (see ``dot.Drawer.final_rankdir``)
    fontsize: float = 11.0     # points
    theme: Theme = theme_of("light")
    format: str = "svg"
    highlight: Highlight | None = None  # emphasised, the rest faded (see ``Scene.lit``)

    @property
    def backward(self) -> bool:
        return self.view == "backward"

    def with_rankdir(self, rankdir: str) -> DrawOptions:
        """The same options, laid out along ``rankdir`` (every frame of an animation shares one direction)."""
        return replace(self, rankdir=rankdir)


def draw_options(*, view: str = "forward", show_grad: bool = True, collapse: str | None = None,
                 max_nodes: int = DEFAULT_MAX_NODES, rankdir: str = "auto", fontsize: float = 11,
                 theme: str | Theme = "light", format: str = "svg", highlight: Any = None) -> DrawOptions:
    """The options of one call, each checked; a ``ValueError`` naming the argument and its choices otherwise."""
    if view not in ("forward", "backward"):
        raise ValueError(f"view must be 'forward' or 'backward', got {view!r}")
    if collapse not in (None, "neuron", "layer"):
        raise ValueError(f"collapse must be None, 'neuron' or 'layer', got {collapse!r}")
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1:
        raise ValueError(f"max_nodes must be a positive int, got {max_nodes!r}")
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    lit = highlight_of(highlight)
    if lit is not None and collapse is not None:
        raise ValueError("highlight= draws the graph in full, value by value: leave collapse= out")
    low, high = FONTSIZE_RANGE
    if isinstance(fontsize, bool) or not isinstance(fontsize, (int, float)) or not low <= fontsize <= high:
        raise ValueError(f"fontsize must be a number of points between {low} and {high}, got {fontsize!r}")
    return DrawOptions(view="backward" if view == "backward" else "forward", show_grad=bool(show_grad),
                       collapse=None if collapse is None else ("neuron" if collapse == "neuron" else "layer"),
                       max_nodes=max_nodes, rankdir=rankdir, fontsize=float(fontsize), theme=theme_of(theme),
                       format=format, highlight=lit)
