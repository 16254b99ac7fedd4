"""Drawing a computational graph with Graphviz: the forward pass, and the gradients flowing back.

``draw_dot(root)`` returns a ``graphviz.Digraph`` (Jupyter shows it inline as
SVG, scaled to the output's width). Each value node shows its name, ``data`` and
``grad``; each op node the op's symbol from the op table. The *backward* view
reverses the arrows and labels every edge with the chain rule's two factors::

    ∂c/∂a = b = 3.0          the local derivative (op table: describe_local)
    upstream 0.6667 × local 3.0 = 2.0     this path's share of a's gradient

and a node reached by several paths shows the sum of the shares.

Nodes made by ``microgradx.nn`` are grouped by neuron and layer, as nn marked them
(``graph.Scope``); ``collapse='neuron'`` or ``'layer'`` draws one row per neuron,
or one box per layer, instead. The layout direction fits the graph's shape (see
``style``); ``fontsize=``, ``theme=`` and Graphviz's own ``g.attr(...)``,
``g.node_attr``, ``g.edge_attr``, ``g.graph_attr`` restyle a drawing.

Node ids come from the order the expression was written (``n0``, ``n1``, ...), never from
``id()``, so the same graph always gives byte-identical DOT source.
"""

from __future__ import annotations

import os
import re
import warnings
from pathlib import Path
from typing import Any

import graphviz

from ..files import write_atomic
from ..graph import scope_of
from .boxes import Boxes
from .cells import Frame, Texts
from .flow import Flow, Node, walk_within
from .markup import html_label
from .options import DEFAULT_MAX_NODES, Collapse, DrawOptions, GraphTooLargeError, View, draw_options
from .render import INSTALL_HELP, RENDERED, GraphvizNotFoundError, in_browser, needs_dot, render
from .scene import Scene
from .stills import Sizes, fixed_text
from .style import Sketch, choose_rankdir, text_height, text_width
from .tables import Tables

__all__ = ["draw_dot", "trace", "save", "render_bytes", "Graph", "Drawer", "flow_within", "fit_to_width",
           "DEFAULT_MAX_NODES", "COLLAPSE_WALK_LIMIT", "GraphTooLargeError", "GraphvizNotFoundError",
           "INSTALL_HELP", "RENDERED", "DrawOptions", "View", "Collapse"]

COLLAPSE_WALK_LIMIT = 200_000  # a collapsed drawing reads every node to group them: past this, refuse
NAME_LIMIT = 60                # characters of a label drawn in a box; a longer one ends in "…"
NODESEP, RANKSEP = 0.25, 0.4   # inches, as Graphviz takes them


class Graph(graphviz.Digraph):  # type: ignore[misc]  # graphviz ships no types
    """A ``graphviz.Digraph`` as a graphviz user expects it, made for slides and notebooks.

    * ``g.attr('node', fontsize='18')`` (and ``'edge'``, ``'graph'``) restyles the whole
      drawing: defaults live in ``node_attr``/``edge_attr``/``graph_attr``, never in the body;
    * ``g.save('graph.png')`` (or ``.svg``, ``.pdf``) writes the rendered picture, atomically and
      with no stray DOT file; a ``.dot``/``.gv`` name (or none) saves the source, as graphviz does;
    * ``g.pipe(format='svg')`` renders through :func:`~microgradx.draw.render.render` (``dot``, or
      Graphviz in WebAssembly in the browser);
    * in Jupyter the SVG scales down to the output's width (no scrolling, nothing cut off);
    * a missing ``dot`` is an error that says how to install it.
    """

    def attr(self, kw: str | None = None, _attributes: Any = None, **attrs: Any) -> None:
        """Set graph, node or edge defaults for the whole drawing (graphviz would append a body line instead)."""
        target = {None: self.graph_attr, "graph": self.graph_attr, "node": self.node_attr, "edge": self.edge_attr}
        if kw not in target:
            super().attr(kw, _attributes, **attrs)  # graphviz's own error for a bad kw
            return
        values = {**dict(_attributes or {}), **attrs}
        target[kw].update({k: v if isinstance(v, str) else str(v) for k, v in values.items() if v is not None})

    def save(self, filename: Any = None, directory: Any = None, *, skip_existing: bool | None = False,
             width: int | None = None) -> str:
        """Write the picture for ``.svg``/``.png``/``.pdf``... names; the DOT source otherwise (as graphviz).

        ``width`` (pixels, ``.png`` only): a PNG exactly that wide, e.g. ``save("x.png", width=1920)``."""
        if width is not None or (filename is not None and directory is None and not skip_existing
                                 and _format_of(filename) in RENDERED):
            if directory is not None:
                filename = Path(directory) / filename
            return str(save(self, filename, width=width))
        return str(super().save(filename, directory=directory, skip_existing=skip_existing))

    def pipe(self, format: str | None = None, renderer: str | None = None, formatter: str | None = None,
             neato_no_op: Any = None, quiet: bool = False, *, engine: str | None = None,
             encoding: str | None = None) -> bytes | str:
        """The rendered picture, as graphviz's ``pipe``; plain ``dot`` rendering goes through ``render``."""
        if renderer or formatter or neato_no_op or (engine or self.engine) != "dot":
            piped: bytes | str = needs_dot(lambda: super(Graph, self).pipe(
                format, renderer, formatter, neato_no_op, quiet, engine=engine, encoding=encoding))
            return piped
        data = render(self.source, format or self.format)
        return data.decode(encoding) if encoding is not None else data

    def render(self, *args: Any, **kwargs: Any) -> Any:
        return needs_dot(lambda: super(Graph, self).render(*args, **kwargs))

    def _repr_image_svg_xml(self) -> str:
        return fit_to_width(render(self.source, "svg").decode("utf-8"))

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **_: Any) -> tuple[dict[str, Any],
                                                                                           dict[str, Any]]:
        """What Jupyter stores: the SVG, and a PNG beside it (JupyterLab shows an untrusted notebook's PNG, never
        its SVG), both at most :data:`OUTPUT_WIDTH` pixels wide; the PNG is drawn at ``PNG_SCALE`` times that,
        so it stays crisp on a high-density screen. In the browser (no PNG there), the SVG alone."""
        wanted = set(include or ("image/svg+xml", "image/png")) - set(exclude or ())
        data: dict[str, Any] = {}
        metadata: dict[str, Any] = {}
        svg = render(self.source, "svg").decode("utf-8")
        width = display_width(svg)
        if "image/svg+xml" in wanted:
            data["image/svg+xml"] = fit_to_width(svg, width)
        if "image/png" in wanted and not in_browser():
            sharp = self.copy()
            sharp.graph_attr["dpi"] = f"{96 * PNG_SCALE:g}"
            data["image/png"] = render(sharp.source, "png")
            metadata["image/png"] = {"width": round(width)}
        return data, metadata

    def __repr__(self) -> str:  # no memory address: notebooks that show a graph stay byte-stable
        return "<microgradx drawing: a graphviz.Digraph; Jupyter shows it, save(path) writes it>"


OUTPUT_WIDTH = 800  # CSS pixels: a notebook's output area at a 1280x800 window with JupyterLab's file browser open
PNG_SCALE = 1.5     # the PNG's pixels per CSS pixel (crisp on a high-density screen, light in the notebook)


def natural_size(svg: str) -> tuple[float, float]:
    """The size ``dot`` gives an SVG (``width="213pt"``), in CSS pixels (a point is 4/3 of a pixel)."""
    tag = svg[svg.index("<svg"):svg.index(">", svg.index("<svg"))]

    def length(name: str) -> float:
        found = re.search(rf'\s{name}="([0-9.]+)(pt|px)?"', tag)
        if found is None:
            raise ValueError(f"the SVG has no {name} to scale")
        return float(found.group(1)) * (1.0 if found.group(2) == "px" else 4 / 3)

    return length("width"), length("height")


def display_width(svg: str) -> float:
    """How wide a notebook shows the drawing: its natural width, at most :data:`OUTPUT_WIDTH` pixels."""
    return min(natural_size(svg)[0], float(OUTPUT_WIDTH))


def fit_to_width(svg: str, width: float | None = None) -> str:
    """An SVG document that shrinks to its container's width, keeping its proportions (never enlarged).

    With ``width`` (pixels), its ``width``/``height`` attributes say that size too (the ``viewBox`` stays, so
    it scales crisply): JupyterLab shows an SVG as an ``<img>``, which a style alone does not limit.
    """
    if width is not None:
        w, h = natural_size(svg)
        start = svg.index("<svg")
        end = svg.index(">", start)
        tag = re.sub(r'\swidth="[^"]*"', f' width="{width:.0f}px"', svg[start:end], count=1)
        tag = re.sub(r'\sheight="[^"]*"', f' height="{h * width / w:.0f}px"', tag, count=1)
        svg = svg[:start] + tag + svg[end:]
    return re.sub(r"<svg ", '<svg style="max-width: 100%; height: auto;" ', svg, count=1)


# --------------------------------------------------------------------- tracing


def trace(root: Node) -> tuple[list[Node], list[tuple[Node, Node]]]:
    """The nodes reachable from ``root`` (children first) and every edge ``(child, parent)``.

    Unlike micrograd's notebook helper, edges are a list with duplicates kept:
    ``a + a`` gives two edges from ``a``, one per argument.
    """
    flow = Flow.of(root)
    return list(flow.order), [(c, p) for p in flow.order for c in p._prev]


def flow_within(root: Node, options: DrawOptions) -> Flow:
    """The :class:`Flow` of ``root``, from one walk that stops past the node limit: a graph too large is refused
    first.

    Drawn in full, every node is at least one drawn node, so the walk stops past
    ``max_nodes``; collapsed, every node must be read to find the groups, up to
    :data:`COLLAPSE_WALK_LIMIT`. Refusing a million-node graph costs that many steps.
    """
    if not hasattr(root, "_prev"):
        raise TypeError(f"draw a Value (the output of a computation), got {type(root).__name__}")
    collapse, max_nodes = options.collapse, options.max_nodes
    limit = max_nodes if collapse is None else max(COLLAPSE_WALK_LIMIT, max_nodes)
    order, seen = walk_within(root, limit)
    if order is not None:
        return Flow(root, order, name_limit=NAME_LIMIT)
    if collapse is not None:
        raise GraphTooLargeError(f"this graph has more than {limit} nodes: too many to group and draw, even "
                                 "collapsed. Draw a smaller part of it (for example one sample's output).")
    hint = ("Draw it with collapse='neuron' or collapse='layer' (one row per nn neuron or layer)"
            if any(scope_of(n) is not None for n in seen) else "Draw a smaller part of it")
    raise GraphTooLargeError(f"this graph has more than max_nodes={limit} nodes to draw: Graphviz would take "
                             f"minutes to lay it out. {hint}, or raise max_nodes= if you really want it all.")


def draw_dot(root: Node, format: str = "svg", rankdir: str = "auto", *, view: View = "forward",
             show_grad: bool = True, collapse: Collapse = None, max_nodes: int = DEFAULT_MAX_NODES,
             fontsize: float = 11, theme: str = "light", highlight: Any = None) -> Graph:
    """Draw the graph that computed ``root``; returns a ``graphviz.Digraph`` (shown inline in Jupyter).

    ``view='forward'``: data flows from the inputs to ``root``; each value shows name, data, grad.
    ``view='backward'``: arrows reversed, each edge labelled with its local derivative
    ∂parent/∂child and its share ``upstream × local`` of the child's gradient.
    ``collapse='neuron'|'layer'`` draws each nn neuron as one row, or each layer as one box.
    ``rankdir='auto'`` lays the graph out top to bottom when that fits a slide better than
    left to right (``'LR'``, ``'TB'``, ``'RL'``, ``'BT'`` choose). ``fontsize`` is in points;
    ``theme`` is ``'light'``, ``'dark'`` or ``'print'`` (black on white, for handouts), or a ``Theme``.
    ``highlight=x`` draws every path from ``x`` to ``root`` emphasised and the rest faded (the paths that
    ``explain(x)`` sums over); ``highlight={x, p, ...}`` emphasises those nodes and the edges between them
    (one term of ``explain(x)``: ``x``, its user ``p`` and ``p``'s paths to ``root``).
    Raises :class:`GraphTooLargeError` past ``max_nodes`` drawn nodes, before building anything.
    """
    options = draw_options(view=view, show_grad=show_grad, collapse=collapse, max_nodes=max_nodes,
                           rankdir=rankdir, fontsize=fontsize, theme=theme, format=format, highlight=highlight)
    scene = Scene(flow_within(root, options), options)
    scene.check_size()
    drawer = Drawer(scene, Frame(backward=options.backward, show_grad=options.show_grad))
    caption = ""
    if options.show_grad and not drawer.texts.grads_known:
        caption = f"backward() has not been called on {scene.flow.names[root]}: no gradients yet (grad shows ?)"
    g = drawer.draw(caption)
    drawer.warn_accumulated()
    return g


class Drawer:
    """One Digraph of a scene as ``frame`` shows it: value boxes (``Boxes``), collapsed tables (``Tables``)."""

    def __init__(self, scene: Scene, frame: Frame, *, slots: bool = False, tooltips: bool = True,
                 sizes: Sizes | None = None) -> None:
        self.scene, self.frame, self.options, self.sizes = scene, frame, scene.options, sizes
        self.texts = Texts(scene.flow, frame, brief=scene.options.collapse is not None)
        self.boxes = Boxes(scene, frame, self.texts, slots=slots, tooltips=tooltips, sizes=sizes)
        self.tables = Tables(self.boxes)

    def warn_accumulated(self) -> None:
        """One warning per drawing when some stored gradient holds more than this graph's paths add up to."""
        found = list(dict.fromkeys(self.texts.accumulated))
        if not found:
            return
        names = ", ".join(self.scene.flow.names[n] for n in found[:3]) + (" ..." if len(found) > 3 else "")
        warnings.warn(f"{len(found)} gradient(s) ({names}) hold more than the paths of this graph add up to: "
                      "gradients from an earlier backward() (leaves accumulate) or from a larger graph. The boxes "
                      "show that part as 'earlier' (or 'outside'); zero the gradients (x.grad = 0, "
                      "model.zero_grad()) before backward() to see one pass alone.", UserWarning, stacklevel=3)

    # ---------------------------------------------------------------- the whole drawing

    def draw(self, caption: str = "") -> Graph:
        """The Digraph (its size was checked by the caller, once per drawing or animation)."""
        options = self.options
        theme, fs = options.theme, f"{options.fontsize:g}"
        rankdir = self.final_rankdir() if options.rankdir == "auto" else options.rankdir
        g = Graph("microgradx", format=options.format, encoding="utf-8",
                  graph_attr={"rankdir": rankdir, "fontname": "Helvetica",
                              "fontsize": f"{options.fontsize + 2:g}", "fontcolor": theme.text,
                              "bgcolor": theme.background, "nodesep": str(NODESEP), "ranksep": str(RANKSEP),
                              "newrank": "true"},
                  node_attr={"fontname": "Helvetica", "fontsize": fs, "fontcolor": theme.text,
                             "color": theme.border},
                  edge_attr={"fontname": "Helvetica", "fontsize": fs, "fontcolor": theme.text,
                             "color": theme.edge, "arrowsize": "0.7"})
        if caption and self.sizes is not None:  # a frame of the steps: the caption's box fixed
            g.attr(label=fixed_text(html_label(self.sizes.wrap(caption)), self.sizes.caption), labelloc="t")
        elif caption:
            g.attr(label=html_label(caption), labelloc="t")
        if options.collapse is None:
            self._expanded(g)
        else:
            self.tables.draw(g, rankdir)
        return g

    def final_rankdir(self) -> str:
        """The direction ``rankdir='auto'`` picks for this graph: the one that fits its *backward* view (edge
        labels and all) on a slide, so the forward view, the backward view and the player of one graph run the
        same way."""
        return choose_rankdir(self.sketch(), NODESEP * 72, RANKSEP * 72)

    def sketch(self) -> Sketch:
        """The drawing's nodes and edges with estimated sizes (for choosing the layout direction)."""
        sk, fs, scene = Sketch(), self.options.fontsize, self.scene
        h = text_height("x", fs) + 9
        for node in scene.flow.order:
            if node in scene.cplan.unit_of:
                continue
            sk.node(scene.ids[node], sum(c.width(fs) for c in self.boxes.value_cells(node)), h)
            if node._prev:
                sk.node(scene.ids[node] + "op", max(text_width(node._op.display, fs) + 10, 22), 22)
                sk.edge(scene.ids[node] + "op", scene.ids[node])
        for t in scene.cplan.tables:
            stacked, side_by_side = self.tables.extent(t, fs, h)
            sk.node(t.key, *stacked, top_to_bottom=side_by_side)
        for tail, head, label in self.edge_list(backward=True):
            size = None if label is None else (max(text_width(line, fs) for line in label),
                                               text_height("\n".join(label), fs))
            sk.edge(tail, head, size)
        return sk

    def edge_list(self, backward: bool | None = None) -> list[tuple[str, str, tuple[str, ...] | None]]:
        """Every drawn edge ``(tail, head, label lines)``: the expanded graph's, or the collapsed one's; with
        ``backward``, labelled as the backward view labels them, whichever view this is."""
        scene, texts = self.scene, self.texts
        backward = self.frame.backward if backward is None else backward
        if self.options.collapse is not None:
            return [(p.tail, p.head, self.tables.pair_label(p, backward)[0]) for p in scene.pairs]
        return [(scene.ids[d.child], scene.ids[parent] + "op", tuple(t for t in texts.edge(d) if t is not None)
                 if backward else None) for parent in scene.flow.order for d in scene.flow.out_of[parent]]

    # ---------------------------------------------------------------- the expanded view

    def _expanded(self, g: Graph) -> None:
        """Value boxes (inside a cluster per nn neuron, per layer) and one labelled edge per argument."""
        bodies, nest_in, cluster_of = self.clusters()
        for node in self.scene.declared():
            key = cluster_of.get(node)
            self.boxes.box(g if key is None else bodies[key], node)
        # Subgraphs copy their body when attached: neurons into layers first, then layers into the graph.
        for key, layer_key in nest_in.items():
            bodies[layer_key].subgraph(bodies[key])
        for key, sub in bodies.items():
            if key not in nest_in:
                g.subgraph(sub)
        self._expanded_edges(g)

    def _expanded_edges(self, g: Graph) -> None:
        """One edge per argument, from the argument's box to its user's op node."""
        boxes, scene = self.boxes, self.scene
        # Edge ids follow the topological order (the player's slots do too); edges are declared in the order
        # the expression was written, so that dot places x1 before w1 before x2 ...
        edges = enumerate((p, d) for p in scene.flow.order for d in scene.flow.out_of[p])
        position = {n: i for i, n in enumerate(scene.declared())}
        for k, (parent, d) in sorted(edges, key=lambda e: (position[e[1][0]], e[1][1].position)):
            label = boxes.edge_label(d)
            eid = f"e{k}" if boxes.slots else None
            if eid is not None and label is not None and self.frame.show_grad:  # the last line changes
                label = (*label[:-1], boxes.layout.get(eid, label[-1]))
            boxes.edge(g, scene.ids[d.child], scene.ids[parent] + "op", label, eid=eid,
                       active=parent is self.frame.current and self.texts.flowed(parent),
                       state="unknown" if label is not None and "?" in label[-1] else "final",
                       emphasis=boxes.emphasis(d.child, parent))

    def clusters(self) -> tuple[dict[str, Graph], dict[str, str], dict[Node, str]]:
        """A cluster per nn neuron, inside one per layer (when there is more than one, or it is named)."""
        bodies: dict[str, Graph] = {}
        nest_in: dict[str, str] = {}
        cluster_of: dict[Node, str] = {}
        theme, layers = self.options.theme, self.scene.structure.layers
        for layer in layers:
            layer_key = None
            if len(layers) > 1 or layer.name != "layer":
                layer_key = f"cluster_{len(bodies)}"
                bodies[layer_key] = Graph(layer_key)
                bodies[layer_key].attr(label=html_label(layer.title()), style="rounded,dashed",
                                       color=theme.cluster_border, fontcolor=theme.muted)
            for neuron in layer.neurons:
                key = f"cluster_{len(bodies)}"
                bodies[key] = Graph(key)
                bodies[key].attr(label=html_label(neuron.title()), style="rounded,filled",
                                 fillcolor=theme.cluster_fill, color=theme.cluster_border, fontcolor=theme.muted)
                if layer_key is not None:
                    nest_in[key] = layer_key
                for n in neuron.members:
                    cluster_of[n] = key
        return bodies, nest_in, cluster_of


# --------------------------------------------------------------------- files


def _format_of(path: str | os.PathLike[str]) -> str:
    return Path(path).suffix.lstrip(".").lower()


def render_bytes(graph: graphviz.Digraph, format: str = "svg") -> bytes:
    """The picture of ``graph`` (through :func:`~microgradx.draw.render.render`: ``dot``, or Graphviz in
    WebAssembly in the browser); a clear error with install instructions when Graphviz is missing."""
    return render(graph.source, format)


def save(graph: graphviz.Digraph, path: str | os.PathLike[str], *, width: int | None = None) -> Path:
    """Write ``graph`` to ``path``, the format from the suffix: ``.svg``, ``.png``, ``.pdf`` (or ``.dot`` source).

    ``width`` (pixels, ``.png`` only) makes the PNG exactly that wide, e.g. 1920 for a
    full-HD slide: the picture is drawn at ``dpi = 72 × width / (the SVG's width in pt)``,
    so text stays crisp instead of being scaled up; the SVG and the layout do not change.
    Written atomically (a half-written file is never left behind) and with no stray DOT
    file next to it, unlike ``Digraph.render``. Returns the path.
    """
    if not isinstance(graph, graphviz.Digraph):
        raise TypeError(f"save() writes a drawing: pass draw_dot(value), got {type(graph).__name__}")
    target = Path(path)
    kind = _format_of(target) or "svg"
    if width is not None:
        check_width(width, kind)
    if kind in ("dot", "gv"):
        return write_atomic(target, graph.source.encode("utf-8"))
    if kind not in RENDERED:
        raise ValueError(f"cannot tell the format of {str(target)!r} from its suffix: use .svg, .png, .pdf or .dot")
    return write_atomic(target, render_bytes(graph, kind) if width is None else png_of_width(graph, width))


MAX_PNG_WIDTH = 20_000  # pixels: past this Graphviz's cairo renderer runs out of memory or silently scales down


def check_width(width: object, kind: str) -> None:
    """A PNG width must be a whole number of pixels, 1 to :data:`MAX_PNG_WIDTH`, and the file a ``.png``."""
    if isinstance(width, bool) or not isinstance(width, int) or not 1 <= width <= MAX_PNG_WIDTH:
        raise ValueError(f"width must be a whole number of pixels from 1 to {MAX_PNG_WIDTH}, got {width!r}")
    if kind != "png":
        raise ValueError(f"width= sets a PNG's size in pixels; this file is .{kind}: save as .png, or leave width "
                         "out (an SVG or PDF scales without loss)")


def png_size(png: bytes) -> tuple[int, int]:
    """A PNG's width and height in pixels, from its header (the IHDR chunk right after the signature)."""
    if not png.startswith(b"\x89PNG\r\n\x1a\n") or len(png) < 24:
        raise ValueError("Graphviz returned no PNG")
    return int.from_bytes(png[16:20], "big"), int.from_bytes(png[20:24], "big")


def png_of_width(graph: graphviz.Digraph, width: int) -> bytes:
    """The PNG of ``graph``, exactly ``width`` pixels wide (see :func:`save`).

    ``dot`` rounds the pixel size of a drawing drawn at a given dpi, so the dpi is
    corrected by the pixels found off (at most a few tries; each is one render).
    """
    sharp = graph.copy()
    sharp.graph_attr.pop("dpi", None)  # a dpi of the user's own would change the size measured here
    points = natural_size(render(sharp.source, "svg").decode("utf-8"))[0] * 3 / 4
    dpi = 72 * width / points
    png = b""
    for _ in range(4):
        sharp.graph_attr["dpi"] = f"{dpi:.6f}"
        png = render(sharp.source, "png")
        got = png_size(png)[0]
        if got == width:
            return png
        dpi *= width / got if abs(got - width) > 1 else 1 + (width - got) / (2 * width)
    raise ValueError(f"Graphviz drew the PNG {png_size(png)[0]} pixels wide, not {width}: try another width")
