"""Drawing a computational graph with Graphviz: the forward pass, and the gradients flowing back.

``draw_dot(root)`` returns a ``graphviz.Digraph`` (Jupyter shows it inline as
SVG). Each value node shows its name, ``data`` and ``grad``; each op node the
op's symbol from the op table. The *backward* view reverses the arrows and labels
every edge with the chain rule's two factors::

    ∂c/∂a = b = 3.0          the local derivative (op table: describe_local)
    0.6667 × 3.0 = 2.0       upstream gradient × local derivative = this path's share

and a node reached by several paths shows the sum of the shares.

Nodes made by ``microgradx.nn`` (labelled ``layers.1.neurons.0`` for a neuron's
output and ``layers.1.neurons.0.w.2`` / ``.b`` for its parameters) are grouped
in clusters by neuron and layer; ``collapse='neuron'`` or ``'layer'`` draws one
summary node per group instead.

Node ids come from the topological order (``n0``, ``n1``, ...), never from
``id()``, so the same graph always gives byte-identical DOT source.
"""

from __future__ import annotations

import html
import os
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import graphviz

from ..files import write_atomic
from ..graph import Scope, scope_of
from .explain import explain_in
from .flow import Flow, backward_done, fmt, grad_value, terms

DEFAULT_MAX_NODES = 2000

INSTALL_HELP = ("Install Graphviz, which provides `dot`:\n"
                "  Debian/Ubuntu:  sudo apt-get install graphviz\n"
                "  macOS:          brew install graphviz\n"
                "  conda:          conda install -c conda-forge graphviz\n"
                "(Building the graph and reading its .source work without it.)")

View = Literal["forward", "backward"]
Collapse = Literal["neuron", "layer"] | None

# Colours: value nodes by role, and the gradient flow.
_FILL = {"input": "#dbeafe", "const": "#f3f4f6", "param": "#fef3c7", "output": "#dcfce7", "inner": "#ffffff"}
_GRAD_COLOR = "#c2410c"
_CURRENT = "#7c3aed"
_MUTED = "#9ca3af"



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
        raise GraphvizNotFoundError(f"cannot render the graph: the Graphviz `dot` program was not found "
                                    f"({e}).\n{INSTALL_HELP}") from None


class Graph(graphviz.Digraph):
    """A ``graphviz.Digraph`` whose rendering explains how to install Graphviz when ``dot`` is missing."""

    def pipe(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return _needs_dot(super().pipe, *args, **kwargs)

    def render(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        return _needs_dot(super().render, *args, **kwargs)

    def __repr__(self) -> str:  # no memory address: notebooks that show a graph stay byte-stable
        return "<microgradx drawing: a graphviz.Digraph; Jupyter shows it, .render() or save() writes it>"


# --------------------------------------------------------------------- tracing


def trace(root: Any) -> tuple[list[Any], list[tuple[Any, Any]]]:
    """The nodes reachable from ``root`` (children first) and every edge ``(child, parent)``.

    Unlike micrograd's notebook helper, edges are a list with duplicates kept:
    ``a + a`` gives two edges from ``a``, one per argument.
    """
    flow = Flow.of(root)
    return list(flow.order), [(c, p) for p in flow.order for c in p._prev]


# --------------------------------------------------------------------- text


def clean_text(s: str) -> str:
    """``s`` with characters no renderer can show (control codes, lone surrogates) written as escapes."""
    out = []
    for ch in s:
        cat = unicodedata.category(ch)
        if ch in "\n":
            out.append(ch)
        elif ch == "\t":
            out.append(" ")
        elif cat in ("Cc", "Cs", "Co", "Cn") or ch in "\ufffe\uffff":
            out.append(ch.encode("unicode_escape", "backslashreplace").decode("ascii")
                       if cat != "Cs" else f"\\u{ord(ch):04x}")
        else:
            out.append(ch)
    return "".join(out)


def _h(s: str) -> str:
    """Text for an HTML-like Graphviz label: escaped, newlines as line breaks.

    Graphviz expands ``\\N``, ``\\G``, ... even inside HTML labels, so backslashes are doubled.
    """
    return "<br/>".join(html.escape(line, quote=True).replace("\\", "\\\\")
                        for line in clean_text(s).split("\n"))


def _esc(s: str) -> str:
    """Text for a Graphviz escString attribute (tooltips): backslashes doubled, newlines as ``\\n``."""
    return graphviz.nohtml(clean_text(s).replace("\\", "\\\\").replace("\n", "\\n"))


def _table(cells: list[str], fill: str, *, color: str = "black", pen: int = 1) -> str:
    row = "".join(f"<td>{c}</td>" for c in cells)
    return (f'<<table border="{pen}" cellborder="1" cellspacing="0" cellpadding="4" '
            f'bgcolor="{fill}" color="{color}"><tr>{row}</tr></table>>')


# --------------------------------------------------------------------- groups


@dataclass
class Group:
    """The nodes of one neuron (or one layer) of an nn model."""

    name: str
    output: Any
    members: list[Any] = field(default_factory=list)
    neurons: list[Group] = field(default_factory=list)  # for a layer


def neuron_groups(order: list[Any]) -> tuple[list[Group], list[Group]]:
    """Neurons and layers, as ``nn`` marked them (``graph.Scope``), in model order.

    A neuron's output node carries the neuron's scope; its group is the nodes
    reachable backward from that output without crossing another neuron's output
    or a leaf that is not one of its own parameters.
    """
    outputs = {n: sc for n in order if n._prev and (sc := scope_of(n)) is not None and sc.kind == "neuron"}
    claimed: set[Any] = set()
    neurons: list[Group] = []
    scopes: dict[int, Scope] = {}
    for out, scope in outputs.items():
        if out in claimed:
            continue
        group = Group(scope.name, out)
        scopes[id(group)] = scope
        stack = [out]
        seen = {out}
        while stack:
            node = stack.pop()
            claimed.add(node)
            group.members.append(node)
            for child in node._prev:
                if child in seen or child in claimed or child in outputs:
                    continue
                if not child._prev and scope_of(child) is not scope:
                    continue
                seen.add(child)
                stack.append(child)
        neurons.append(group)
    neurons.sort(key=lambda g: scopes[id(g)].path)
    position = {n: i for i, n in enumerate(order)}
    for g in neurons:
        g.members.sort(key=position.__getitem__)
    layers: dict[str, Group] = {}
    for g in neurons:
        parent = scopes[id(g)].parent
        layer_name = parent.name if parent is not None and parent.kind == "layer" else "layer"
        if layer_name not in layers:
            layers[layer_name] = Group(layer_name, g.output)
        layer = layers[layer_name]
        layer.neurons.append(g)
        layer.members.extend(g.members)
        layer.output = g.output
    for layer in layers.values():
        layer.members.sort(key=position.__getitem__)
    return neurons, list(layers.values())


# --------------------------------------------------------------------- drawing


def _role(node: Any, root: Any) -> str:
    if node is root:
        return "output"
    if node._prev:
        return "inner"
    if scope_of(node) is not None:  # nn marked it as a module's parameter
        return "param"
    return "input" if node.label else "const"


@dataclass
class _Style:
    """What one drawing shows; shared by draw_dot and the backward animation."""

    view: str = "forward"
    show_grad: bool = True
    grads: dict[Any, float] | None = None  # None: read node.grad; else a replayed backward pass
    current: Any = None                     # the node being processed (animation)
    processed: frozenset[Any] | None = None  # animation: nodes that have passed their gradient on
    caption: str = ""
    caption_color: str = "#b91c1c"


def _check_args(view: str, collapse: Any, max_nodes: int) -> None:
    if view not in ("forward", "backward"):
        raise ValueError(f"view must be 'forward' or 'backward', got {view!r}")
    if collapse not in (None, "neuron", "layer"):
        raise ValueError(f"collapse must be None, 'neuron' or 'layer', got {collapse!r}")
    if not isinstance(max_nodes, int) or max_nodes < 1:
        raise ValueError(f"max_nodes must be a positive int, got {max_nodes!r}")


def draw_dot(root: Any, format: str = "svg", rankdir: str = "LR", *, view: View = "forward",
             show_grad: bool = True, collapse: Collapse = None, max_nodes: int = DEFAULT_MAX_NODES) -> Graph:
    """Draw the graph that computed ``root``; returns a ``graphviz.Digraph`` (shown inline in Jupyter).

    ``view='forward'``: data flows left to right; each value shows name, data, grad.
    ``view='backward'``: arrows reversed, each edge labelled with its local derivative
    ∂parent/∂child and its share ``upstream × local`` of the child's gradient.
    ``collapse='neuron'|'layer'`` draws each nn neuron or layer as one node.
    Raises :class:`GraphTooLargeError` past ``max_nodes`` drawn nodes.
    """
    _check_args(view, collapse, max_nodes)
    flow = Flow.of(root)
    style = _Style(view=view, show_grad=show_grad)
    if show_grad and not backward_done(root):
        style.caption = (f"backward() has not been called on {flow.names[root]}: "
                         "no gradients yet (grad shows ?)")
    return _draw(flow, style, format=format, rankdir=rankdir, collapse=collapse, max_nodes=max_nodes)


def _draw(flow: Flow, style: _Style, *, format: str, rankdir: str, collapse: Any, max_nodes: int) -> Graph:
    """The drawing of ``flow`` as ``style`` asks; shared by :func:`draw_dot` and the animation frames."""
    return _Drawer(flow, style, collapse).draw(format=format, rankdir=rankdir, max_nodes=max_nodes)


class _Drawer:
    """Builds one Digraph: value and op nodes (in clusters), then the edges or the collapsed groups."""

    def __init__(self, flow: Flow, style: _Style, collapse: Any) -> None:
        self.flow, self.style, self.collapse = flow, style, collapse
        self.neurons, self.layers = neuron_groups(flow.order)
        self.groups = {"neuron": self.neurons, "layer": self.layers}.get(collapse or "", [])
        self.group_of = {n: grp for grp in self.groups for n in grp.members}
        self.ids = {n: f"n{i}" for i, n in enumerate(flow.order)}
        self.backward = style.view == "backward"
        self.grads_known = style.show_grad and (style.grads is not None or backward_done(flow.root))

    def grad_of(self, node: Any) -> float | None:
        """The gradient to show, or None when there is none yet."""
        if self.style.grads is not None:
            return self.style.grads.get(node)
        return grad_value(node) if self.grads_known else None

    def flowed(self, node: Any) -> bool:
        """Has ``node`` passed its gradient on? (Always, except in an animation frame.)"""
        return self.style.processed is None or node in self.style.processed

    def check_size(self, max_nodes: int) -> None:
        order = self.flow.order
        drawn = sum(2 if n._prev else 1 for n in order if n not in self.group_of) + len(self.groups)
        what = "nodes"
        if self.backward and self.collapse is None:
            drawn += sum(len(n._prev) for n in order)  # dot lays out each edge label as a node too
            what = "nodes and edge labels"
        if drawn > max_nodes:
            hint = ("Draw it with collapse='neuron' or collapse='layer' (one node per nn neuron or layer)"
                    if self.collapse is None and self.neurons
                    else "Draw a smaller part of it (for example one neuron's output)")
            raise GraphTooLargeError(
                f"this graph has {drawn} {what} to draw, more than max_nodes={max_nodes}: Graphviz would take "
                f"minutes to lay it out. {hint}, or raise max_nodes= if you really want it all.")

    def draw(self, *, format: str, rankdir: str, max_nodes: int) -> Graph:
        self.check_size(max_nodes)
        g = Graph("microgradx", format=format, encoding="utf-8")
        g.attr(rankdir=rankdir, fontname="Helvetica", nodesep="0.25", ranksep="0.45")
        g.attr("node", fontname="Helvetica", fontsize="11")
        g.attr("edge", fontname="Helvetica", fontsize="10")
        if self.style.caption:
            g.attr(label=_h(self.style.caption).join("<>"), labelloc="t", fontcolor=self.style.caption_color,
                   fontsize="13")
        bodies, nest_in, cluster_of = self.clusters()
        for node in self.flow.order:
            if node not in self.group_of:
                key = cluster_of.get(node)
                self.value_node(g, g if key is None else bodies[key], node)
        # Subgraphs copy their body when attached: neurons into layers first, then layers into the graph.
        for key, layer_key in nest_in.items():
            bodies[layer_key].subgraph(bodies[key])
        for key, sub in bodies.items():
            if key not in nest_in:
                g.subgraph(sub)
        if self.collapse is None:
            self.edges(g)
        else:
            self.collapsed(g)
        return g

    def clusters(self) -> tuple[dict[str, Graph], dict[str, str], dict[Any, str]]:
        """A cluster per nn neuron, inside one per layer (not when collapsed: groups are single nodes then)."""
        bodies: dict[str, Graph] = {}
        nest_in: dict[str, str] = {}  # neuron cluster -> its layer cluster
        cluster_of: dict[Any, str] = {}
        if self.collapse is not None:
            return bodies, nest_in, cluster_of
        for layer in self.layers:
            layer_key = None
            if len(self.layers) > 1 or layer.name != "layer":
                layer_key = f"cluster_{len(bodies)}"
                bodies[layer_key] = Graph(layer_key)
                bodies[layer_key].attr(label=_h(layer.name).join("<>"), style="rounded,dashed", color=_MUTED,
                                       fontcolor="#6b7280")
            for neuron in layer.neurons:
                key = f"cluster_{len(bodies)}"
                bodies[key] = Graph(key)
                bodies[key].attr(label=_h(neuron.name).join("<>"), style="rounded,filled", fillcolor="#f9fafb",
                                 color="#d1d5db", fontcolor="#6b7280")
                if layer_key is not None:
                    nest_in[key] = layer_key
                for n in neuron.members:
                    cluster_of[n] = key
        return bodies, nest_in, cluster_of

    def value_node(self, g: Graph, body: Graph, node: Any) -> None:
        """The node's box (name | data | grad) and, if an op made it, the op's circle feeding it."""
        flow, style = self.flow, self.style
        nid, name = self.ids[node], flow.names[node]
        role = _role(node, flow.root)
        cells = [f"<b>{_h(name)}</b>" if node.label else f'<font color="#6b7280">{_h(name)}</font>',
                 f"data {_h(fmt(node.data))}"]
        tooltip = f"{name}: data = {fmt(node.data)}"
        if style.show_grad:
            gv = self.grad_of(node)
            if gv is None:
                cells.append(f'<font color="{_MUTED}">grad ?</font>')
            else:
                cells.append(self.grad_cell(node, gv))
                if style.grads is None:
                    tooltip = explain_in(flow, node)
        current = node is style.current
        color = _CURRENT if current else "black"
        attrs = {"shape": "none", "margin": "0", "tooltip": _esc(tooltip)}
        if current:
            attrs["class"] = "current"
        pen = 3 if current else (2 if role == "output" else 1)
        body.node(nid, _table(cells, _FILL[role], pen=pen, color=color), **attrs)
        if node._prev:
            body.node(nid + "op", _h(node._op.display).join("<>"), shape="circle", width="0.3", margin="0.02",
                      style="filled", fillcolor="#ede9fe" if current else "#f3f4f6", color=color,
                      tooltip=_esc(f"{node._op.name}: {node._op.doc}"))
            _edge(g, nid + "op", nid, self.backward, label=None, active=current and self.flowed(node))

    def grad_cell(self, node: Any, gv: float) -> str:
        """``grad 6.0``; in the backward view a node reached by several paths shows ``grad 2.0 + 4.0 = 6.0``."""
        text = f"grad {fmt(gv)}"
        parts = [t for t in terms(self.flow, node, self.style.grads) if self.flowed(t.local.parent)]
        if self.backward and len(parts) > 1:
            text = "grad " + " + ".join(fmt(t.contribution) for t in parts) + f" = {fmt(gv)}"
        if len(parts) < len(self.flow.into[node]):
            text += " so far"  # an animation frame: some paths have not delivered their share yet
        return f'<font color="{_GRAD_COLOR}"><b>{_h(text)}</b></font>'

    def edges(self, g: Graph) -> None:
        """Edges child -> op node of parent, one per argument (duplicates kept); labelled when backward."""
        flow = self.flow
        for parent in flow.order:
            for d in flow.out_of[parent]:
                label = None
                if self.backward:
                    label = d.text(flow.names)
                    up = self.grad_of(parent) if self.flowed(parent) else None
                    if up is not None:
                        label += f"\nupstream {fmt(up)} × local {fmt(d.value)} = {fmt(up * d.value)}"
                    elif self.style.show_grad:
                        label += f"\nupstream ? × local {fmt(d.value)}"
                _edge(g, self.ids[d.child], self.ids[parent] + "op", self.backward, label=label,
                      active=parent is self.style.current and self.flowed(parent))

    def collapsed(self, g: Graph) -> None:
        """One summary node per group; edges between groups and the remaining nodes, each drawn once."""
        gid = {id(grp): f"g{i}" for i, grp in enumerate(self.groups)}
        for grp in self.groups:
            params = sum(1 for n in grp.members if not n._prev)
            cells = [f"<b>{_h(grp.name)}</b>", f"out {_h(fmt(grp.output.data))}"]
            if self.style.show_grad:
                gv = self.grad_of(grp.output)
                cells.append(f'<font color="{_MUTED}">grad ?</font>' if gv is None
                             else f'<font color="{_GRAD_COLOR}"><b>grad {_h(fmt(gv))}</b></font>')
            cells.append(f'<font color="#6b7280">{len(grp.members)} nodes, {params} params</font>')
            tooltip = f"{grp.name}: {len(grp.members)} nodes collapsed; output data = {fmt(grp.output.data)}"
            g.node(gid[id(grp)], _table(cells, "#f9fafb", color="#6b7280"), shape="none", margin="0",
                   tooltip=_esc(tooltip))

        def endpoint(node: Any, as_child: bool) -> str:
            grp = self.group_of.get(node)
            if grp is not None:
                return gid[id(grp)]
            return self.ids[node] if as_child else self.ids[node] + "op"

        seen: set[tuple[str, str]] = set()
        for parent in self.flow.order:
            for child in parent._prev:
                if self.group_of.get(child) is not None and self.group_of.get(child) is self.group_of.get(parent):
                    continue
                pair = (endpoint(child, True), endpoint(parent, False))
                if pair not in seen:
                    seen.add(pair)
                    _edge(g, *pair, self.backward, label=None, active=False)


def _edge(g: Graph, tail: str, head: str, backward: bool, *, label: str | None, active: bool) -> None:
    attrs: dict[str, str] = {}
    if backward:
        attrs.update(dir="back", color=_CURRENT if active else _GRAD_COLOR, fontcolor=_GRAD_COLOR)
        if active:
            attrs["penwidth"] = "2.5"
    if label is not None:
        attrs["label"] = _h(label).join("<>")
        attrs["tooltip"] = _esc(label)
    g.edge(tail, head, **attrs)


# --------------------------------------------------------------------- files


def render_bytes(graph: graphviz.Digraph, format: str = "svg") -> bytes:
    """Run ``dot`` on ``graph``; a clear error with install instructions when Graphviz is missing."""
    try:
        return graph.pipe(format=format)
    except graphviz.ExecutableNotFound as e:
        if isinstance(e, GraphvizNotFoundError):
            raise
        raise GraphvizNotFoundError(f"cannot render the graph: the Graphviz `dot` program was not found "
                                    f"({e}).\n{INSTALL_HELP}") from None


def save(graph: graphviz.Digraph, path: str | os.PathLike[str]) -> Path:
    """Write ``graph`` to ``path`` atomically; the format comes from the suffix (``.svg``, ``.png``, ``.dot``)."""
    target = Path(path)
    fmt_ = target.suffix.lstrip(".").lower() or "svg"
    if fmt_ in ("dot", "gv"):
        return write_atomic(target, graph.source.encode("utf-8"))
    return write_atomic(target, render_bytes(graph, fmt_))
