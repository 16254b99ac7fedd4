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
import re
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import graphviz

from .explain import Flow, backward_done, explain_in, fmt, grad_value, terms

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

_NEURON = re.compile(r"^(?:(?P<layer>.+)\.)?neurons\.\d+$")
_PARAM = re.compile(r"(?:^|\.)w\.\d+$|\.b$")  # nn parameters; a bare Neuron's plain "b" too (see _role)


class GraphvizNotFoundError(graphviz.ExecutableNotFound):
    """The Graphviz ``dot`` program is not installed (or not on PATH)."""

    def __init__(self, message: str) -> None:
        RuntimeError.__init__(self, message)


class GraphTooLargeError(ValueError):
    """The drawing would have more nodes than ``dot`` lays out in reasonable time."""


class Graph(graphviz.Digraph):
    """A ``graphviz.Digraph`` whose rendering explains how to install Graphviz when ``dot`` is missing."""

    def pipe(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        try:
            return super().pipe(*args, **kwargs)
        except graphviz.ExecutableNotFound as e:
            raise GraphvizNotFoundError(f"cannot render the graph: the Graphviz `dot` program was not found "
                                        f"({e}).\n{INSTALL_HELP}") from None

    def render(self, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        try:
            return super().render(*args, **kwargs)
        except graphviz.ExecutableNotFound as e:
            raise GraphvizNotFoundError(f"cannot render the graph: the Graphviz `dot` program was not found "
                                        f"({e}).\n{INSTALL_HELP}") from None


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


def _table(cells: list[str], fill: str, *, border: int = 1, color: str = "black", pen: int = 1) -> str:
    row = "".join(f"<td>{c}</td>" for c in cells)
    return (f'<<table border="{pen}" cellborder="{border}" cellspacing="0" cellpadding="4" '
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
    """Neurons and layers found by the nn label convention, in topological order.

    A neuron's output node is labelled with its dotted name (``layers.1.neurons.0``);
    its group is the nodes reachable backward from that output without crossing
    another neuron's output or a leaf that is not one of its own parameters
    (``<name>.w.<k>``, ``<name>.b``).
    """
    outputs = {n: n.label for n in order if n.label and _NEURON.match(n.label)}
    claimed: set[Any] = set()
    neurons: list[Group] = []
    for out, name in outputs.items():
        if out in claimed:
            continue
        group = Group(name, out)
        stack = [out]
        seen = {out}
        while stack:
            node = stack.pop()
            claimed.add(node)
            group.members.append(node)
            for child in node._prev:
                if child in seen or child in claimed or child in outputs:
                    continue
                if not child._prev:
                    lab = child.label or ""
                    if not (lab.startswith(name + ".w.") or lab == name + ".b"):
                        continue
                seen.add(child)
                stack.append(child)
        neurons.append(group)
    neurons.sort(key=lambda g: _natural(g.name))
    position = {n: i for i, n in enumerate(order)}
    for g in neurons:
        g.members.sort(key=position.__getitem__)
    layers: dict[str, Group] = {}
    for g in neurons:
        m = _NEURON.match(g.name)
        layer_name = (m.group("layer") if m else None) or "layer"
        if layer_name not in layers:
            layers[layer_name] = Group(layer_name, g.output)
        layer = layers[layer_name]
        layer.neurons.append(g)
        layer.members.extend(g.members)
        layer.output = g.output
    for layer in layers.values():
        layer.members.sort(key=position.__getitem__)
    return neurons, list(layers.values())


def _natural(name: str) -> tuple[Any, ...]:
    """Sort key reading numbers as numbers: layers.2 before layers.10."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in name.split("."))


# --------------------------------------------------------------------- drawing


def _role(node: Any, root: Any, bare_neuron: bool) -> str:
    if node is root:
        return "output"
    if node._prev:
        return "inner"
    if node.label and (_PARAM.search(node.label) or (bare_neuron and node.label == "b")):
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
    root = flow.root
    neurons, layers = neuron_groups(flow.order)
    groups = {"neuron": neurons, "layer": layers}.get(collapse or "", [])
    group_of = {n: g for g in groups for n in g.members}
    drawn = sum(1 + (1 if n._prev else 0) for n in flow.order if n not in group_of) + len(groups)
    what = "nodes"
    if style.view == "backward" and collapse is None:
        drawn += sum(len(n._prev) for n in flow.order)  # dot lays out each edge label as a node too
        what = "nodes and edge labels"
    if drawn > max_nodes:
        hint = ("draw it with collapse='neuron' or collapse='layer' (one node per nn neuron or layer)"
                if collapse is None and neurons else "draw a smaller part of it (for example one neuron's output)")
        raise GraphTooLargeError(
            f"this graph has {drawn} {what} to draw, more than max_nodes={max_nodes}: Graphviz would take "
            f"minutes to lay it out. {hint[0].upper() + hint[1:]}, or raise max_nodes= if you really want it all.")

    g = Graph("microgradx", format=format, encoding="utf-8")
    g.attr(rankdir=rankdir, fontname="Helvetica", nodesep="0.25", ranksep="0.45")
    g.attr("node", fontname="Helvetica", fontsize="11")
    g.attr("edge", fontname="Helvetica", fontsize="10")
    if style.caption:
        g.attr(label=_h(style.caption).join(("<", ">")), labelloc="t", fontcolor=style.caption_color,
               fontsize="13")

    ids = {n: f"n{i}" for i, n in enumerate(flow.order)}
    bare_neuron = any(n.label and re.fullmatch(r"w\.\d+", n.label) for n in flow.order)
    backward = style.view == "backward"
    grads_known = style.show_grad and (style.grads is not None or backward_done(root))

    def grad_of(node: Any) -> float | None:
        if style.grads is not None:
            return style.grads.get(node)
        return grad_value(node) if grads_known else None

    # Which container (cluster) each drawn node goes into; None = the top graph.
    bodies: dict[str, Graph] = {}
    nest_in: dict[str, str] = {}  # neuron cluster -> its layer cluster
    cluster_of: dict[Any, str] = {}
    if collapse is None:
        for layer in layers:
            if len(layers) > 1 or layer.name != "layer":
                key = f"cluster_{len(bodies)}"
                bodies[key] = Graph(key)
                bodies[key].attr(label=_h(layer.name).join("<>"), style="rounded,dashed", color=_MUTED,
                                 fontcolor="#6b7280")
                parent_key: str | None = key
            else:
                parent_key = None
            for neuron in layer.neurons:
                key = f"cluster_{len(bodies)}"
                bodies[key] = Graph(key)
                bodies[key].attr(label=_h(neuron.name).join("<>"), style="rounded,filled", fillcolor="#f9fafb",
                                 color="#d1d5db", fontcolor="#6b7280")
                if parent_key is not None:
                    nest_in[key] = parent_key
                for n in neuron.members:
                    cluster_of[n] = key

    def body(node: Any) -> Graph:
        key = cluster_of.get(node)
        return g if key is None else bodies[key]

    # Value and op nodes.
    for node in flow.order:
        if node in group_of:
            continue
        nid = ids[node]
        name = flow.names[node]
        role = _role(node, root, bare_neuron)
        cells = [f"<b>{_h(name)}</b>" if node.label else f'<font color="#6b7280">{_h(name)}</font>',
                 f"data {_h(fmt(node.data))}"]
        tooltip = f"{name}: data = {fmt(node.data)}"
        if style.show_grad:
            gv = grad_of(node)
            if gv is None:
                cells.append(f'<font color="{_MUTED}">grad ?</font>')
            else:
                cells.append(_grad_cell(flow, node, gv, style, backward))
                if style.grads is None and grads_known:
                    tooltip = explain_in(flow, node)
        current = node is style.current
        pen = 3 if current else (2 if role == "output" else 1)
        color = _CURRENT if current else "black"
        attrs = {"shape": "none", "margin": "0", "tooltip": _esc(tooltip)}
        if current:
            attrs["class"] = "current"
        body(node).node(nid, _table(cells, _FILL[role], pen=pen, color=color, border=1 if not current else 1),
                        **attrs)
        if node._prev:
            body(node).node(nid + "op", _h(node._op.display).join("<>"), shape="circle", width="0.3",
                            fixedsize="false", margin="0.02", style="filled",
                            fillcolor="#ede9fe" if current else "#f3f4f6", color=color,
                            tooltip=_esc(f"{node._op.name}: {node._op.doc}"))
            _edge(g, nid + "op", nid, backward, style, label=None,
                  active=current and style.processed is not None and node in style.processed)

    # Nest neuron clusters in their layer cluster, then attach layers to the graph.
    for key, layer_key in nest_in.items():
        bodies[layer_key].subgraph(bodies[key])
    for key, sub in bodies.items():
        if key not in nest_in:
            g.subgraph(sub)

    if collapse is not None:
        _draw_collapsed(g, flow, groups, group_of, ids, style, grad_of, backward)
        return g

    # Edges child -> op node of parent, one per argument (duplicates kept).
    for parent in flow.order:
        if not parent._prev:
            continue
        for d in flow.out_of[parent]:
            label = None
            if backward:
                label = d.text(flow.names)
                up = grad_of(parent)
                if style.processed is not None and parent not in style.processed:
                    up = None  # its gradient is not complete yet, so nothing has flowed along this edge
                if up is not None:
                    label += f"\nupstream {fmt(up)} × local {fmt(d.value)} = {fmt(up * d.value)}"
                else:
                    label += f"\nupstream ? × local {fmt(d.value)}"
            _edge(g, ids[d.child], ids[parent] + "op", backward, style, label=label,
                  active=parent is style.current and style.processed is not None and parent in style.processed)
    return g


def _grad_cell(flow: Flow, node: Any, gv: float, style: _Style, backward: bool) -> str:
    """``grad 6.0``; in the backward view a node reached by several paths shows ``grad 2.0 + 4.0 = 6.0``."""
    text = f"grad {fmt(gv)}"
    parts = terms(flow, node, style.grads)
    complete = True
    if style.processed is not None:
        arrived = [t for t in parts if t.local.parent in style.processed]
        complete = len(arrived) == len(parts)
        parts = arrived
    if backward and len(parts) > 1:
        text = "grad " + " + ".join(fmt(t.contribution) for t in parts) + f" = {fmt(gv)}"
    if not complete:
        text += " so far"
    return f'<font color="{_GRAD_COLOR}"><b>{_h(text)}</b></font>'


def _edge(g: Graph, tail: str, head: str, backward: bool, style: _Style, *, label: str | None,
          active: bool) -> None:
    attrs: dict[str, str] = {}
    if backward:
        attrs.update(dir="back", color=_CURRENT if active else _GRAD_COLOR, fontcolor=_GRAD_COLOR)
        if active:
            attrs["penwidth"] = "2.5"
    if label is not None:
        attrs["label"] = _h(label).join("<>")
        attrs["tooltip"] = _esc(label)
    g.edge(tail, head, **attrs)


def _draw_collapsed(g: Graph, flow: Flow, groups: list[Group], group_of: dict[Any, Group], ids: dict[Any, str],
                    style: _Style, grad_of: Any, backward: bool) -> None:
    gid = {id(grp): f"g{i}" for i, grp in enumerate(groups)}
    for grp in groups:
        params = sum(1 for n in grp.members if not n._prev)
        cells = [f"<b>{_h(grp.name)}</b>", f"out {_h(fmt(grp.output.data))}"]
        gv = grad_of(grp.output) if style.show_grad else None
        if style.show_grad:
            cells.append(f'<font color="{_MUTED}">grad ?</font>' if gv is None
                         else f'<font color="{_GRAD_COLOR}"><b>grad {_h(fmt(gv))}</b></font>')
        cells.append(f'<font color="#6b7280">{len(grp.members)} nodes, {params} params</font>')
        g.node(gid[id(grp)], _table(cells, "#f9fafb", color="#6b7280"), shape="none", margin="0",
               tooltip=_esc(f"{grp.name}: {len(grp.members)} nodes collapsed; output data = {fmt(grp.output.data)}"))

    def endpoint(node: Any, as_child: bool) -> str:
        grp = group_of.get(node)
        if grp is not None:
            return gid[id(grp)]
        return ids[node] if as_child else ids[node] + "op"

    seen: set[tuple[str, str]] = set()
    for parent in flow.order:
        for child in parent._prev:
            tail, head = endpoint(child, True), endpoint(parent, False)
            if group_of.get(child) is not None and group_of.get(child) is group_of.get(parent):
                continue
            if (tail, head) in seen:
                continue
            seen.add((tail, head))
            _edge(g, tail, head, backward, style, label=None, active=False)


# --------------------------------------------------------------------- files


def _file_mode(target: Path) -> int:
    if target.exists():
        return target.stat().st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def write_atomic(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, _file_mode(target))  # mkstemp makes 0600; give the file ordinary permissions
        os.replace(tmp, target)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return target


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
