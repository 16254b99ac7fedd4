"""The backward pass, one step at a time: a drawing per step, and a self-contained HTML player.

Backpropagation visits the nodes in reverse topological order. At each step the
node being processed has its complete gradient, and passes it on::

    child.grad += node.grad × ∂node/∂child      for each child

``backward_steps(root)`` yields one ``graphviz.Digraph`` per step (the node being
processed highlighted, the gradients accumulated so far filled in), replaying the
pass with the engine's own chain-rule step without touching any ``grad``.
``animate_backward(root, path)`` writes one HTML file: the graph laid out *once*,
and per step only what changed (a few texts and highlights), so the page grows
linearly with the graph and nothing moves between steps. It pans and zooms, needs
no network and no external script.
"""

from __future__ import annotations

import base64
import html
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, overload

from ..files import write_atomic
from .cells import Frame
from .dot import Drawer, Graph, check_width, flow_within, png_of_width
from .flow import Delta, Flow, Node, definition, fmt, short_name, term
from .options import DEFAULT_MAX_NODES, DrawOptions, draw_options
from .pdf import join_pdfs
from .player import PAGE
from .render import GraphvizNotFoundError, in_browser, render
from .scene import Scene
from .slots import Slot, SlotMap
from .stills import measure
from .style import THEMES, Theme


@dataclass
class Stage:
    """One frame of the animation: the steps it covers and what they did."""

    index: int
    current: Any                 # the node (or, collapsed, the first node of the group) processed
    deltas: list[Delta]
    grad: float = 1.0            # the gradient ``current`` passes on (complete before its step)
    receivers: list[Any] = field(default_factory=list)  # nodes outside the group that received gradient


def step_caption(flow: Flow, stage: Stage, total: int, unit_name: str | None = None) -> str:
    """What happens in ``stage``, in words: ``step 2/5: c = a*b passes c.grad = 3.0 on: a.grad += 3.0 × 3.0 = 9.0``."""
    names = flow.names
    head = f"step {stage.index}/{total - 1}: "
    root = term(names[flow.root])
    if stage.index == 0:
        text = head + f"seed {root}.grad = 1.0 (∂{root}/∂{root} = 1)"
    elif unit_name is not None:
        nodes = len(stage.deltas)
        to = ", ".join(dict.fromkeys(term(names[n]) for n in stage.receivers)) or "nothing outside it"
        ops = "1 op" if nodes == 1 else f"{nodes} ops"
        text = head + f"{short_name(unit_name)} passes its gradient back through its {ops} to {to}"
    else:
        node, grad = stage.current, stage.grad
        sends = "; ".join(f"{term(names[d.child])}.grad += {fmt(grad)} × {fmt(d.value)} = {fmt(grad * d.value)}"
                          for d in flow.out_of[node])
        text = head + f"{definition(node, names)} passes {term(names[node])}.grad = {fmt(grad)} on: {sends}"
    if stage.index == total - 1:
        text += ". Done: every gradient is complete."
    return text


def group_schedule(flow: Flow, unit_of: dict[Any, Any]) -> list[Any] | None:
    """A backward order that processes each collapsed group's ops together, or None if there is none.

    Groups are taken in the order their first op comes in the backward pass, each group's
    ops in backward order; valid when every node still comes after all the nodes using it.
    """
    interior = [n for n in reversed(flow.order) if n._prev]
    blocks: dict[Any, list[Any]] = {}
    for n in interior:
        blocks.setdefault(unit_of.get(n, n), []).append(n)
    schedule = [n for block in blocks.values() for n in block]
    position = {n: i for i, n in enumerate(schedule)}
    for parent in schedule:
        for child in parent._prev:
            if child in position and position[child] < position[parent]:
                return None
    return schedule


def runs(flow: Flow, unit_of: dict[Any, Any]) -> list[list[Delta]]:
    """The replayed pass cut into frames: one step each; collapsed, a group's consecutive steps together."""
    log = flow.replay(group_schedule(flow, unit_of) if unit_of else None)
    out: list[list[Delta]] = [[log[0]]]
    for delta in log[1:]:
        unit = unit_of.get(delta.current)
        if unit is not None and len(out) > 1 and unit_of.get(out[-1][0].current) == unit:
            out[-1].append(delta)
        else:
            out.append([delta])
    return out


def stages(flow: Flow, unit_of: dict[Any, Any]) -> Iterator[tuple[Stage, dict[Any, float], set[Any], int]]:
    """The frames with the gradients and processed nodes after each (live objects: read them at once),
    and how many frames there are.

    Collapsed (``unit_of`` maps nodes to their group), a group passes its gradient back
    through all its ops in one frame.
    """
    grads: dict[Any, float] = {}
    processed: set[Any] = set()
    frames = runs(flow, unit_of)
    for i, run in enumerate(frames):
        first = run[0]
        unit = unit_of.get(first.current) if i else None
        stage = Stage(i, first.current, run, grads.get(first.current, 1.0))
        for delta in run:
            grads.update(delta.updates)
            if i:
                processed.add(delta.current)
            if unit is not None:
                stage.receivers.extend(c for c, _ in delta.updates if unit_of.get(c) != unit)
        yield stage, grads, processed, len(frames)


def _prepare(root: Node, options: DrawOptions) -> Scene:
    """Count the nodes before any per-step work (the final drawing fixes the layout): the scene every frame shares,
    laid out along the direction ``draw_dot`` picks for this graph (every frame, the page and its poster alike)."""
    scene = Scene(flow_within(root, options), options)
    scene.check_size()
    if options.rankdir == "auto":
        final = Frame(backward=True, show_grad=options.show_grad)
        scene.options = options.with_rankdir(Drawer(scene, final, tooltips=False).final_rankdir())
    return scene


def _replay_frame() -> Frame:
    """The frame of a replayed pass before its first step: no gradient reached, no node processed."""
    return Frame(backward=True, grads={}, processed=set())


def backward_steps(root: Node, rankdir: str = "auto", *, max_nodes: int = DEFAULT_MAX_NODES,
                   collapse: Any = None, fontsize: float = 11, theme: str | Theme = "light") -> Iterator[Graph]:
    """One drawing per step of the backward pass of ``root`` (step 0 seeds ``root.grad = 1``).

    Each frame is the backward view with the node being processed highlighted,
    edges labelled ``upstream × local`` once their gradient has flowed, and every
    node's gradient as accumulated so far (``?`` before any path reached it). The
    user's ``grad`` attributes are neither read nor changed. Every frame is drawn in
    full; :func:`animate_backward` stores only the changes.
    """
    options = draw_options(view="backward", collapse=collapse, max_nodes=max_nodes, rankdir=rankdir,
                           fontsize=fontsize, theme=theme)
    return _steps(_prepare(root, options))


def _steps(scene: Scene) -> Iterator[Graph]:
    """The frames of :func:`backward_steps`, all laid out along the direction :func:`_prepare` picked, and all
    with the sizes of the player's layout (``stills``): nothing moves from one frame to the next."""
    flow = scene.flow
    captions = [_caption(scene, stage, total) for stage, _, _, total in stages(flow, scene.cplan.unit_of)]
    sizes = None
    if not in_browser():  # (Graphviz in the browser writes SVG only: no sizes to read there)
        timeline = Timeline(scene)
        try:
            sizes = measure(timeline.layout_graph().source, timeline.longest, captions, scene.options.fontsize)
        except GraphvizNotFoundError:  # the DOT sources alone need no Graphviz: each frame then sizes itself
            sizes = None
    for (stage, grads, processed, _), caption in zip(stages(flow, scene.cplan.unit_of), captions):
        frame = Frame(backward=True, grads=grads, processed=processed, current=stage.current)
        yield Drawer(scene, frame, sizes=sizes and sizes.fresh()).draw(caption)


def _caption(scene: Scene, stage: Stage, total: int) -> str:
    name = scene.cplan.row_title(stage.current) if stage.index else None
    return step_caption(scene.flow, stage, total, name)


def _inline_svg(svg: str) -> str:
    """An SVG document as an element that sits inside HTML: no prolog or comments, no link targets."""
    start = svg.find("<svg")
    if start < 0:
        raise ValueError("Graphviz returned no <svg> element")
    body = svg[start:].strip()
    body = body.replace(' xlink:href="#"', "")  # cells are anchors only to carry an id
    return re.sub(r"<!--.*?-->\n?", "", body, flags=re.S)


def _json_for_script(data: Any) -> str:
    """JSON that cannot end its ``<script>`` element early, whatever the labels say."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026") \
        .replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


def animation_html(root: Node, *, title: str | None = None, interval_ms: int = 1500, rankdir: str = "auto",
                   max_nodes: int = DEFAULT_MAX_NODES, collapse: Any = None, fontsize: float = 11,
                   theme: str | Theme = "light") -> str:
    """The HTML page of :func:`animate_backward` as a string: one SVG, and per step the changes to it."""
    options = draw_options(view="backward", collapse=collapse, max_nodes=max_nodes, rankdir=rankdir,
                           fontsize=fontsize, theme=theme)
    return _page(_prepare(root, options), root, title=title, interval_ms=interval_ms)


def _page(scene: Scene, root: Node, *, title: str | None, interval_ms: int) -> str:
    timeline = Timeline(scene)
    svg = render(timeline.layout_graph().source, "svg").decode("utf-8")
    t = scene.options.theme
    return PAGE.format(
        title=html.escape(title or f"Backward pass of {scene.flow.names[root]}", quote=True),
        last=len(timeline.frames) - 1, svg=_inline_svg(svg), data=_json_for_script(timeline.data()),
        interval=int(interval_ms), background=t.background, text=t.text, muted=t.muted, grad=t.grad,
        current=t.current)


@dataclass(frozen=True)
class Animation:
    """The step-by-step player, in memory: Jupyter shows it inline; :meth:`save` writes the page.

    Inline, the page runs in an ``<iframe srcdoc>``: its script and styles stay inside it,
    and nothing is written to disk.
    """

    html: str
    height: int = 600  # pixels of the inline frame
    theme: Theme = field(default=THEMES["light"], repr=False, compare=False)  # the inline frame's border colour
    poster: Graph | None = field(default=None, repr=False, compare=False)  # the first frame, as a still picture
    steps: Callable[[], Iterator[Graph]] | None = field(default=None, repr=False, compare=False)  # for slides

    def __repr__(self) -> str:
        steps = self.html.count('"caption":')
        return f"<Animation: a backward-pass player of {steps} steps; Jupyter shows it, .save(path) writes it>"

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None, **_: Any) -> tuple[dict[str, Any],
                                                                                           dict[str, Any]]:
        """The player in its frame, with its first frame as a picture in front of it.

        JupyterLab shows an untrusted notebook's HTML sanitized: the frame and scripts are removed and the
        picture stays, so a student sees the first frame before running anything. Trusted (the cell was run),
        a one-line script removes the picture and the player shows alone.
        """
        wanted = set(include or ("text/html",)) - set(exclude or ())
        data: dict[str, Any] = {"text/plain": repr(self)}
        if "text/html" in wanted:
            data["text/html"] = self._repr_html_()
        return data, {}

    def _repr_html_(self) -> str:
        frame = (f'<iframe srcdoc="{html.escape(self.html, quote=True)}" style="width: 100%; '
                 f'height: {self.height}px; border: 1px solid {self.theme.cluster_border}; border-radius: 4px;" '
                 'title="backward pass, step by step"></iframe>')
        if self.poster is None or in_browser():
            return frame
        still, metadata = self.poster._repr_mimebundle_(include=["image/png"])
        width = metadata.get("image/png", {}).get("width", 800)
        picture = (f'<img src="data:image/png;base64,{base64.b64encode(still["image/png"]).decode("ascii")}" '
                   f'width="{width}" alt="the first step of the backward pass (run the cell for the player)">')
        return (f'<div>{picture}{frame}<script>document.currentScript.parentElement.querySelector("img")'
                '.remove()</script></div>')

    def save(self, path: str | os.PathLike[str], *, width: int | None = None) -> Path:
        """Write the page to ``path`` (atomically); returns the path. The steps as slides instead: a ``.pdf``
        name writes one page per step (see :func:`steps_pdf`), a ``.png`` name one picture per step,
        ``steps-00.png``, ``steps-01.png``, ... (``width`` pixels wide; see :func:`save_frames`)."""
        kind = Path(path).suffix.lower()
        if width is not None:
            check_width(width, kind.lstrip("."))
        if kind in (".pdf", ".png"):
            if self.steps is None:
                raise ValueError(f"this animation holds its page only: make it with animate_backward(root) to save "
                                 f"its steps as {kind[1:].upper()}")
            return write_atomic(path, steps_pdf(self.steps())) if kind == ".pdf" else \
                save_frames(self.steps(), path, width)
        return write_atomic(path, self.html.encode("utf-8"))


def frame_paths(path: str | os.PathLike[str], count: int) -> list[Path]:
    """Where :func:`save_frames` writes ``count`` frames named after ``path``: ``steps-00.png``, ... (numbered
    from 0, the seed, with as many digits as the last number needs, at least two)."""
    target = Path(path)
    digits = max(2, len(str(count - 1)))
    return [target.with_name(f"{target.stem}-{k:0{digits}d}.png") for k in range(count)]


def save_frames(frames: Iterable[Graph], path: str | os.PathLike[str], width: int | None = None) -> Path:
    """One PNG per frame beside ``path`` (``steps.png`` -> ``steps-00.png``, ``steps-01.png``, ...), each written
    atomically, ``width`` pixels wide if given; returns the first one's path.

    Frames of an earlier, longer run under the same name would be mixed in with these:
    they are refused before anything is drawn, not deleted.
    """
    graphs = list(frames)
    paths = frame_paths(path, len(graphs))
    ours = set(paths)
    stem = re.escape(Path(path).stem)
    folder = Path(path).parent
    stale = sorted(p.name for p in folder.glob("*.png") if re.fullmatch(rf"{stem}-\d+\.png", p.name)
                   and p not in ours) if folder.is_dir() else []
    if stale:
        listed = ", ".join(stale[:3]) + (" ..." if len(stale) > 3 else "")
        raise FileExistsError(f"the folder {folder} holds {listed} from an earlier run, which these {len(graphs)} "
                              "steps would not replace: remove them, or save under another name")
    for target, graph in zip(paths, graphs):
        write_atomic(target, render(graph.source, "png") if width is None else png_of_width(graph, width))
    return paths[0]


def steps_pdf(frames: Iterable[Graph]) -> bytes:
    """One PDF page per frame, in order: each frame drawn by ``dot -Tpdf``, the pages joined (``draw.pdf``)."""
    return join_pdfs([render(frame.source, "pdf") for frame in frames])


@overload
def animate_backward(root: Any, path: None = None, *, title: str | None = ..., interval_ms: int = ...,
                     rankdir: str = ..., max_nodes: int = ..., collapse: Any = ..., fontsize: float = ...,
                     theme: str | Theme = ...) -> Animation: ...
@overload
def animate_backward(root: Any, path: str | os.PathLike[str], *, title: str | None = ..., interval_ms: int = ...,
                     rankdir: str = ..., max_nodes: int = ..., collapse: Any = ..., fontsize: float = ...,
                     theme: str | Theme = ...) -> Path: ...
def animate_backward(root: Any, path: str | os.PathLike[str] | None = None, *, title: str | None = None,
                     interval_ms: int = 1500, rankdir: str = "auto", max_nodes: int = DEFAULT_MAX_NODES,
                     collapse: Any = None, fontsize: float = 11, theme: str | Theme = "light") -> Animation | Path:
    """The step-by-step backward pass of ``root`` as one self-contained HTML player.

    With ``path``, writes it there (atomically) and returns the path; without, returns an
    :class:`Animation`, which Jupyter shows inline (``.save(path)`` writes it later). A ``.pdf``
    path writes the steps as slides: one page per step (the frames of :func:`backward_steps`); a ``.png``
    path one picture per step, ``NAME-00.png``, ``NAME-01.png``, ... (:func:`save_frames`).
    The graph is laid out once; play/pause, step buttons, a slider and the keys
    (← → step, Home/End, space play, + − 0 zoom) move through the steps; the mouse
    wheel zooms and dragging pans. ``collapse='neuron'|'layer'`` animates an nn model
    one neuron (or layer) at a time. Works offline. The size is checked first: a graph
    past ``max_nodes`` is refused before any work.
    """
    options = draw_options(view="backward", collapse=collapse, max_nodes=max_nodes, rankdir=rankdir,
                           fontsize=fontsize, theme=theme)
    scene = _prepare(root, options)
    if path is not None and Path(path).suffix.lower() == ".pdf":  # slides: no page needed
        return write_atomic(path, steps_pdf(_steps(scene)))
    if path is not None and Path(path).suffix.lower() == ".png":
        return save_frames(_steps(scene), path)
    page = _page(scene, root, title=title, interval_ms=interval_ms)
    if path is not None:
        return Animation(page).save(path)
    return Animation(page, theme=options.theme, poster=next(_steps(scene)), steps=lambda: _steps(scene))


class Timeline:
    """The animation as data: every changing text's first value, then per frame what changed."""

    def __init__(self, scene: Scene) -> None:
        self.scene = scene
        self.frame = _replay_frame()
        self.drawer = Drawer(scene, self.frame, slots=True, tooltips=False)
        self.slots = SlotMap(scene, self.frame, self.drawer.texts)
        self.longest: dict[str, str] = {}
        self.frames: list[dict[str, Any]] = []
        self.initial = self._texts(list(self.slots.sources.items()))
        self._record()

    def _texts(self, slots: list[tuple[str, Slot]]) -> list[list[str]]:
        out = []
        for slot, what in slots:
            text, state = self.slots.slot_text(what)
            if len(text) > len(self.longest.get(slot, "")):
                self.longest[slot] = text
            out.append([self.slots.element_of(slot), text, state])
        return out

    def _record(self) -> None:
        flow, frame, slots = self.scene.flow, self.frame, self.slots
        for stage, grads, processed, total in stages(flow, self.scene.cplan.unit_of):
            frame.grads, frame.processed, frame.current = grads, processed, stage.current
            self.frames.append({
                "caption": _caption(self.scene, stage, total),
                "current": slots.highlight_of(stage.current),
                "active": slots.active_edges_of(stage.current) if stage.index else [],
                "set": self._texts(slots.changed_by(stage.deltas)),
            })

    def layout_graph(self) -> Graph:
        """The final frame, every changing text at its longest: laid out once, restyled by the page."""
        self.frame.current = None
        self.drawer.boxes.layout = self.longest
        return self.drawer.draw()

    def data(self) -> dict[str, Any]:
        return {"initial": self.initial, "frames": self.frames}
