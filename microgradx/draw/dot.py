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

Node ids come from the topological order (``n0``, ``n1``, ...), never from
``id()``, so the same graph always gives byte-identical DOT source.
"""

from __future__ import annotations

import os
import re
import sys
import warnings
from pathlib import Path
from typing import Any, Literal

import graphviz

from ..files import write_atomic
from ..graph import scope_of
from .cells import Frame, Texts
from .collapse import Collapsed, CollapsedPlan, Pair, plan
from .explain import explain_in
from .flow import Flow, count_nodes, fmt, is_constant
from .groups import model_structure, written_order
from .markup import Cell, attr_text, box_label, html_label
from .slots import Slots
from .style import RANKDIRS, Sketch, Theme, choose_rankdir, text_height, text_width, theme_of

DEFAULT_MAX_NODES = 2000
COLLAPSE_WALK_LIMIT = 200_000  # a collapsed drawing reads every node to group them: past this, refuse
NODESEP, RANKSEP = 0.25, 0.4   # inches, as Graphviz takes them

INSTALL_HELP = ("Install Graphviz, which provides `dot`:\n"
                "  Debian/Ubuntu:  sudo apt-get install graphviz\n"
                "  macOS:          brew install graphviz\n"
                "  conda:          conda install -c conda-forge graphviz\n"
                "(Building the graph and reading its .source work without it.)")
RENDERED = ("svg", "png", "pdf", "jpg", "jpeg", "gif", "webp")

View = Literal["forward", "backward"]
Collapse = Literal["neuron", "layer"] | None


if sys.platform == "emscripten":  # start loading Graphviz-as-WebAssembly now, so it is ready by the first drawing
    from . import wasm as _wasm
    try:
        _wasm.start_loading()
    except Exception:  # noqa: BLE001 -- not fatal here: the first drawing retries and reports the reason
        pass


class GraphvizNotFoundError(graphviz.ExecutableNotFound):
    """The Graphviz ``dot`` program is not installed (or not on PATH)."""

    def __init__(self, message: str) -> None:
        RuntimeError.__init__(self, message)


class GraphTooLargeError(ValueError):
    """The drawing would have more nodes than ``dot`` lays out in reasonable time."""


def _needs_dot(run: Any, *args: Any, **kwargs: Any) -> Any:
    """Run a graphviz rendering call; a missing ``dot`` becomes an error that says how to install it."""
    try:
        return run(*args, **kwargs)
    except graphviz.ExecutableNotFound as e:
        if isinstance(e, GraphvizNotFoundError):
            raise
        raise GraphvizNotFoundError(f"cannot render the graph: the Graphviz `dot` program was not found "
                                    f"({e}).\n{INSTALL_HELP}") from None


class Graph(graphviz.Digraph):
    """A ``graphviz.Digraph`` as a graphviz user expects it, made for slides and notebooks.

    * ``g.attr('node', fontsize='18')`` (and ``'edge'``, ``'graph'``) restyles the whole
      drawing: defaults live in ``node_attr``/``edge_attr``/``graph_attr``, never in the body;
    * ``g.save('graph.png')`` (or ``.svg``, ``.pdf``) writes the rendered picture, atomically and
      with no stray DOT file; a ``.dot``/``.gv`` name (or none) saves the source, as graphviz does;
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

    def save(self, filename: Any = None, directory: Any = None, *,  # type: ignore[override]
             skip_existing: bool | None = False) -> str:
        """Write the picture for ``.svg``/``.png``/``.pdf``... names; the DOT source otherwise (as graphviz)."""
        if filename is not None and directory is None and not skip_existing and _format_of(filename) in RENDERED:
            return str(save(self, filename))
        return str(super().save(filename, directory=directory, skip_existing=skip_existing))

    def pipe(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        if sys.platform == "emscripten":  # the browser course: no processes, Graphviz runs as WebAssembly
            from . import wasm
            return wasm.pipe(self, *args, **kwargs)
        return _needs_dot(super().pipe, *args, **kwargs)

    def render(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return _needs_dot(super().render, *args, **kwargs)

    def _repr_image_svg_xml(self) -> str:
        return fit_to_width(super()._repr_image_svg_xml())

    def __repr__(self) -> str:  # no memory address: notebooks that show a graph stay byte-stable
        return "<microgradx drawing: a graphviz.Digraph; Jupyter shows it, save(path) writes it>"


def fit_to_width(svg: str) -> str:
    """An SVG document that shrinks to its container's width, keeping its proportions (never enlarged)."""
    return re.sub(r"<svg ", '<svg style="max-width: 100%; height: auto;" ', svg, count=1)


# --------------------------------------------------------------------- tracing


def trace(root: Any) -> tuple[list[Any], list[tuple[Any, Any]]]:
    """The nodes reachable from ``root`` (children first) and every edge ``(child, parent)``.

    Unlike micrograd's notebook helper, edges are a list with duplicates kept:
    ``a + a`` gives two edges from ``a``, one per argument.
    """
    flow = Flow.of(root)
    return list(flow.order), [(c, p) for p in flow.order for c in p._prev]


def _check_args(view: str, collapse: Any, max_nodes: int, rankdir: str = "auto", fontsize: float = 11,
                theme: str = "light") -> None:
    if view not in ("forward", "backward"):
        raise ValueError(f"view must be 'forward' or 'backward', got {view!r}")
    if collapse not in (None, "neuron", "layer"):
        raise ValueError(f"collapse must be None, 'neuron' or 'layer', got {collapse!r}")
    if isinstance(max_nodes, bool) or not isinstance(max_nodes, int) or max_nodes < 1:
        raise ValueError(f"max_nodes must be a positive int, got {max_nodes!r}")
    if rankdir not in RANKDIRS:
        raise ValueError(f"rankdir must be one of {', '.join(RANKDIRS)}, got {rankdir!r}")
    if isinstance(fontsize, bool) or not isinstance(fontsize, (int, float)) or not 4 <= fontsize <= 72:
        raise ValueError(f"fontsize must be a number of points between 4 and 72, got {fontsize!r}")
    theme_of(theme)


def flow_within(root: Any, max_nodes: int, collapse: Any) -> Flow:
    """``Flow.of(root)``, after counting the nodes with an early exit: a graph too large is refused first.

    Drawn in full, every node is at least one drawn node, so counting stops past
    ``max_nodes``; collapsed, every node must be read to find the groups, up to
    :data:`COLLAPSE_WALK_LIMIT`. Refusing a million-node graph costs that many steps.
    """
    if not hasattr(root, "_prev"):
        raise TypeError(f"draw a Value (the output of a computation), got {type(root).__name__}")
    limit = max_nodes if collapse is None else max(COLLAPSE_WALK_LIMIT, max_nodes)
    seen = count_nodes(root, limit)
    if len(seen) > limit:
        if collapse is not None:
            raise GraphTooLargeError(f"this graph has more than {limit} nodes: too many to group and draw, even "
                                     "collapsed. Draw a smaller part of it (for example one sample's output).")
        hint = ("Draw it with collapse='neuron' or collapse='layer' (one row per nn neuron or layer)"
                if any(scope_of(n) is not None for n in seen) else "Draw a smaller part of it")
        raise GraphTooLargeError(f"this graph has more than max_nodes={limit} nodes to draw: Graphviz would take "
                                 f"minutes to lay it out. {hint}, or raise max_nodes= if you really want it all.")
    return Flow.of(root)


def draw_dot(root: Any, format: str = "svg", rankdir: str = "auto", *, view: View = "forward",
             show_grad: bool = True, collapse: Collapse = None, max_nodes: int = DEFAULT_MAX_NODES,
             fontsize: float = 11, theme: str = "light") -> Graph:
    """Draw the graph that computed ``root``; returns a ``graphviz.Digraph`` (shown inline in Jupyter).

    ``view='forward'``: data flows from the inputs to ``root``; each value shows name, data, grad.
    ``view='backward'``: arrows reversed, each edge labelled with its local derivative
    ∂parent/∂child and its share ``upstream × local`` of the child's gradient.
    ``collapse='neuron'|'layer'`` draws each nn neuron as one row, or each layer as one box.
    ``rankdir='auto'`` lays the graph out top to bottom when that fits a slide better than
    left to right (``'LR'``, ``'TB'``, ``'RL'``, ``'BT'`` choose). ``fontsize`` is in points;
    ``theme`` is ``'light'``, ``'dark'`` or ``'print'`` (black on white, for handouts).
    Raises :class:`GraphTooLargeError` past ``max_nodes`` drawn nodes, before building anything.
    """
    _check_args(view, collapse, max_nodes, rankdir, fontsize, theme)
    flow = flow_within(root, max_nodes, collapse)
    frame = Frame(backward=view == "backward", show_grad=show_grad)
    caption = ""
    if show_grad and not Texts(flow, frame).grads_known:
        caption = f"backward() has not been called on {flow.names[root]}: no gradients yet (grad shows ?)"
    drawer = Drawer(flow, frame, collapse, fontsize=float(fontsize), theme=theme_of(theme))
    g = drawer.draw(format=format, rankdir=rankdir, max_nodes=max_nodes, caption=caption)
    drawer.warn_accumulated()
    return g


class Drawer(Collapsed, Slots):
    """Builds one Digraph of ``flow`` as ``frame`` shows it: boxes and op circles, or collapsed groups."""

    def __init__(self, flow: Flow, frame: Frame, collapse: Any, *, fontsize: float = 11,
                 theme: Theme | None = None, slots: bool = False, tooltips: bool = True) -> None:
        self.flow, self.frame, self.collapse = flow, frame, collapse
        self.fontsize, self.theme = fontsize, theme or theme_of("light")
        self.slots, self.tooltips = slots, tooltips  # slots: ids on every changing text (the animation)
        self.texts = Texts(flow, frame)
        self.structure = model_structure(flow.order, flow.root)
        self.ids = {n: f"n{i}" for i, n in enumerate(flow.order)}
        self.layout: dict[str, str] = {}   # slot -> the text the layout is made for (the animation's longest)
        self.rankdir = "LR"
        self.cplan = CollapsedPlan() if collapse is None else plan(self.structure, collapse, written_order(flow.root))
        self._pairs: list[Pair] | None = None
        self._slots: dict[str, tuple[str, Any]] | None = None
        self._index: Any = None
        flow.into  # noqa: B018 -- index every node's terms once: every box shows its sum

    # ---------------------------------------------------------------- size

    def drawn(self) -> tuple[int, str]:
        """How many nodes Graphviz lays out (edge labels count: dot places each like a node)."""
        order = self.flow.order
        if self.collapse is None:
            n = sum(2 if v._prev else 1 for v in order)
            if self.frame.backward:
                return n + sum(len(v._prev) for v in order), "nodes and edge labels"
            return n, "nodes"
        loose = sum(2 if v._prev else 1 for v in order if v not in self.cplan.unit_of)
        return loose + sum(len(t.rows) for t in self.cplan.tables), "nodes and rows"

    def check_size(self, max_nodes: int) -> None:
        drawn, what = self.drawn()
        if drawn > max_nodes:
            hint = ("Draw it with collapse='neuron' or collapse='layer' (one row per nn neuron or layer)"
                    if self.collapse is None and self.structure.neurons
                    else "Draw a smaller part of it (for example one neuron's output)")
            raise GraphTooLargeError(
                f"this graph has {drawn} {what} to draw, more than max_nodes={max_nodes}: Graphviz would take "
                f"minutes to lay it out. {hint}, or raise max_nodes= if you really want it all.")

    def warn_accumulated(self) -> None:
        """One warning per drawing when some stored gradient holds more than this graph's paths add up to."""
        found = list(dict.fromkeys(self.texts.accumulated))
        if not found:
            return
        names = ", ".join(self.flow.names[n] for n in found[:3]) + (" ..." if len(found) > 3 else "")
        warnings.warn(f"{len(found)} gradient(s) ({names}) hold more than the paths of this graph add up to: "
                      "gradients from an earlier backward() (leaves accumulate) or from a larger graph. The boxes "
                      "show that part as 'earlier' (or 'outside'); zero the gradients (x.grad = 0, "
                      "model.zero_grad()) before backward() to see one pass alone.", UserWarning, stacklevel=3)

    # ---------------------------------------------------------------- the whole drawing

    def draw(self, *, format: str, rankdir: str, max_nodes: int, caption: str = "") -> Graph:
        self.check_size(max_nodes)
        theme, fs = self.theme, f"{self.fontsize:g}"
        self.rankdir = self.final_rankdir() if rankdir == "auto" else rankdir
        g = Graph("microgradx", format=format, encoding="utf-8",
                  graph_attr={"rankdir": self.rankdir, "fontname": "Helvetica",
                              "fontsize": f"{self.fontsize + 2:g}", "fontcolor": theme.text,
                              "bgcolor": theme.background, "nodesep": str(NODESEP), "ranksep": str(RANKSEP),
                              "newrank": "true"},
                  node_attr={"fontname": "Helvetica", "fontsize": fs, "fontcolor": theme.text,
                             "color": theme.border},
                  edge_attr={"fontname": "Helvetica", "fontsize": fs, "fontcolor": theme.text,
                             "color": theme.edge, "arrowsize": "0.7"})
        if caption:
            g.attr(label=html_label(caption), labelloc="t")
        if self.collapse is None:
            self._expanded(g)
        else:
            self.draw_collapsed(g)
        return g

    def sketch(self) -> Sketch:
        """The drawing's nodes and edges with estimated sizes (for choosing the layout direction)."""
        sk, fs = Sketch(), self.fontsize
        h = text_height("x", fs) + 9
        for node in self.flow.order:
            if node in self.cplan.unit_of:
                continue
            sk.node(self.ids[node], sum(c.width(fs) for c in self.value_cells(node)), h)
            if node._prev:
                sk.node(self.ids[node] + "op", max(text_width(node._op.display, fs) + 10, 22), 22)
                sk.edge(self.ids[node] + "op", self.ids[node])
        for t in self.cplan.tables:
            cells = [self.row_cells(t, port, unit) for port, unit in t.rows]
            extra = h if t.title else 0.0
            stacked = (max(sum(c.width(fs) for c in r) for r in cells), h * len(cells) + extra)
            side_by_side = (sum(max(c.width(fs) for c in r) for r in cells) + extra * 3,
                            h * max(len(r) for r in cells))
            sk.node(t.key, *stacked, top_to_bottom=side_by_side)
        for tail, head, label in self.edge_list():
            size = None if label is None else (max(text_width(line, fs) for line in label),
                                               text_height("\n".join(label), fs))
            sk.edge(tail, head, size)
        return sk

    # ---------------------------------------------------------------- boxes

    def role(self, node: Any) -> str:
        if node is self.flow.root:
            return "output"
        if node._prev:
            return "inner"
        if scope_of(node) is not None:  # nn marked it as a module's parameter
            return "param"
        return "const" if is_constant(node) else "input"

    def value_cells(self, node: Any) -> list[Cell]:
        """name | data | grad; a constant shows its value once: ``1 | grad 6.0``."""
        name = self.flow.names[node]
        slot = self.ids[node] if self.slots else None
        if is_constant(node):
            cells = [Cell(name)]
        else:
            cells = [Cell(name, "b" if node.label else "muted"), Cell(f"data {fmt(node.data)}")]
        if self.frame.show_grad:
            text, _ = self.texts.grad(node)
            cells.append(Cell(self.layout.get(slot or "", text), "grad", slot))
        return cells

    def box(self, body: graphviz.Digraph, node: Any) -> None:
        """The node's box and, if an op made it, the op's node feeding it."""
        theme, nid = self.theme, self.ids[node]
        cells = self.value_cells(node)
        state = self.texts.grad(node)[1] if self.frame.show_grad else "final"
        role = self.role(node)
        current = node is self.frame.current
        pen = 3 if current else (2 if role == "output" else 1)
        attrs = {"shape": "none", "margin": "0", "width": "0", "height": "0"}
        if self.tooltips:
            attrs["tooltip"] = attr_text(self._tooltip(node))
        if current:
            attrs["class"] = "current"
        if self.slots:
            attrs["id"] = nid
        body.node(nid, box_label([c.html(theme, state) for c in cells], theme.fills[role],
                                 color=theme.current if current else theme.border, pen=pen), **attrs)
        if node._prev:
            self.op_node(body, node, current)

    def op_node(self, body: graphviz.Digraph, node: Any, current: bool) -> None:
        """The op's node: a circle for a short symbol (``*``, ``tanh``), a rounded box for a long one."""
        theme, nid, op = self.theme, self.ids[node], node._op
        label = op.display or op.name
        shape = {"shape": "circle", "width": "0.3"} if len(label) <= 4 else \
            {"shape": "box", "style": "rounded,filled", "width": "0", "height": "0.25", "margin": "0.06,0.02"}
        attrs = {"margin": "0.02", "style": "filled", **shape, "fillcolor": theme.op_fill,
                 "color": theme.current if current else theme.border}
        if current:
            attrs["penwidth"] = "2"
        if self.tooltips:
            attrs["tooltip"] = attr_text(f"{op.name}: {op.doc}")
        if self.slots:
            attrs["id"] = nid + "op"
        body.node(nid + "op", html_label(label), **attrs)
        self.edge(body, nid + "op", nid, None, active=current and self.texts.flowed(node),
                  eid=nid + "e" if self.slots else None)

    def _tooltip(self, node: Any) -> str:
        if self.frame.grads is None and self.texts.grads_known:
            return explain_in(self.flow, node)
        return f"{self.flow.names[node]}: data = {fmt(node.data)}"

    # ---------------------------------------------------------------- edges

    def edge(self, g: graphviz.Digraph, tail: str, head: str, label: tuple[str, ...] | None, *, active: bool,
             eid: str | None = None, state: str = "final") -> None:
        theme = self.theme
        attrs: dict[str, str] = {}
        if self.frame.backward:
            attrs.update(dir="back", color=theme.current if active else theme.grad, fontcolor=theme.grad)
            if active:
                attrs["penwidth"] = "2.5"
        if label is not None:
            text = "\n".join(label)
            attrs["label"] = html_label(text)
            if state == "unknown":
                attrs["fontcolor"] = theme.muted
            if self.tooltips:
                attrs["tooltip"] = attr_text(text)
        if eid is not None:
            attrs["id"] = eid
        g.edge(tail, head, **attrs)

    def edge_list(self) -> list[tuple[str, str, tuple[str, ...] | None]]:
        """Every drawn edge ``(tail, head, label lines)``: the expanded graph's, or the collapsed one's."""
        if self.collapse is not None:
            return [(p.tail, p.head, self.pair_label(p)[0]) for p in self.edge_pairs()]
        return [(self.ids[d.child], self.ids[parent] + "op", self.edge_label(d))
                for parent in self.flow.order for d in self.flow.out_of[parent]]

    def edge_label(self, d: Any) -> tuple[str, ...] | None:
        if not self.frame.backward:
            return None
        first, second = self.texts.edge(d)
        return (first,) if second is None else (first, second)

    def _expanded(self, g: Graph) -> None:
        """Value boxes (inside a cluster per nn neuron, per layer) and one labelled edge per argument."""
        bodies, nest_in, cluster_of = self.clusters()
        for node in self.flow.order:
            key = cluster_of.get(node)
            self.box(g if key is None else bodies[key], node)
        # Subgraphs copy their body when attached: neurons into layers first, then layers into the graph.
        for key, layer_key in nest_in.items():
            bodies[layer_key].subgraph(bodies[key])
        for key, sub in bodies.items():
            if key not in nest_in:
                g.subgraph(sub)
        k = 0
        for parent in self.flow.order:
            for d in self.flow.out_of[parent]:
                label = self.edge_label(d)
                eid = f"e{k}" if self.slots else None
                if eid is not None and label is not None and len(label) > 1:
                    label = (label[0], self.layout.get(eid, label[1]))
                self.edge(g, self.ids[d.child], self.ids[parent] + "op", label, eid=eid,
                          active=parent is self.frame.current and self.texts.flowed(parent),
                          state="unknown" if label is not None and "?" in label[-1] else "final")
                k += 1

    def clusters(self) -> tuple[dict[str, Graph], dict[str, str], dict[Any, str]]:
        """A cluster per nn neuron, inside one per layer (when there is more than one, or it is named)."""
        bodies: dict[str, Graph] = {}
        nest_in: dict[str, str] = {}
        cluster_of: dict[Any, str] = {}
        theme, layers = self.theme, self.structure.layers
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

    def final_rankdir(self) -> str:
        """The direction ``rankdir='auto'`` picks for this drawing."""
        return choose_rankdir(self.sketch(), NODESEP * 72, RANKSEP * 72)


# --------------------------------------------------------------------- files


def _format_of(path: str | os.PathLike[str]) -> str:
    return Path(path).suffix.lstrip(".").lower()


def render_bytes(graph: graphviz.Digraph, format: str = "svg") -> bytes:
    """Run ``dot`` on ``graph``; a clear error with install instructions when Graphviz is missing."""
    if sys.platform == "emscripten":  # the browser course: no processes, Graphviz runs as WebAssembly
        from . import wasm
        return wasm.pipe(graph, format=format)  # type: ignore[return-value]
    return _needs_dot(graphviz.Digraph.pipe, graph, format=format)  # type: ignore[no-any-return]


def save(graph: graphviz.Digraph, path: str | os.PathLike[str]) -> Path:
    """Write ``graph`` to ``path``, the format from the suffix: ``.svg``, ``.png``, ``.pdf`` (or ``.dot`` source).

    Written atomically (a half-written file is never left behind) and with no stray DOT
    file next to it, unlike ``Digraph.render``. Returns the path.
    """
    if not isinstance(graph, graphviz.Digraph):
        raise TypeError(f"save() writes a drawing: pass draw_dot(value), got {type(graph).__name__}")
    target = Path(path)
    kind = _format_of(target) or "svg"
    if kind in ("dot", "gv"):
        return write_atomic(target, graph.source.encode("utf-8"))
    if kind not in RENDERED:
        raise ValueError(f"cannot tell the format of {str(target)!r} from its suffix: use .svg, .png, .pdf or .dot")
    return write_atomic(target, render_bytes(graph, kind))
