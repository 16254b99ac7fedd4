"""The backward pass, one step at a time: a drawing per step, and a self-contained HTML player.

Backpropagation visits the nodes in reverse topological order. At each step the
node being processed has its complete gradient, and passes it on::

    child.grad += node.grad × ∂node/∂child      for each child

``backward_steps(root)`` yields one ``graphviz.Digraph`` per step (the node being
processed highlighted, the gradients accumulated so far filled in), replaying the
pass from the op table's local derivatives without touching any ``grad``.
``animate_backward(root, path)`` writes all frames into one HTML file with
play/pause/step buttons and a slider; it needs no network and no external script.
"""

from __future__ import annotations

import html
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..files import write_atomic
from .dot import DEFAULT_MAX_NODES, Graph, _check_args, _draw, _Style, render_bytes
from .flow import Flow, Step, fmt, op_expression, term


def step_caption(flow: Flow, step: Step, index: int, total: int) -> str:
    """What happens at ``step``, in words: ``step 2/5: c = a*b passes c.grad = 3.0 on: a.grad += 3.0 × 3.0``."""
    names = {n: term(name) for n, name in flow.names.items()}  # composite labels in parentheses
    head = f"step {index}/{total - 1}: "
    if index == 0:
        text = head + f"seed {names[flow.root]}.grad = 1.0 (∂{names[flow.root]}/∂{names[flow.root]} = 1)"
    else:
        node = step.current
        g = step.grads.get(node, 0.0)
        sends = "; ".join(f"{names[d.child]}.grad += {fmt(g)} × {fmt(d.value)} = {fmt(g * d.value)}"
                          for d in flow.out_of[node])
        text = head + (f"{names[node]} = {op_expression(node, flow.names)} passes {names[node]}.grad = {fmt(g)} "
                       f"on: {sends}")
    if index == total - 1:
        text += ". Done: every gradient is complete."
    return text


def backward_steps(root: Any, rankdir: str = "LR", *, max_nodes: int = DEFAULT_MAX_NODES) -> Iterator[Graph]:
    """One drawing per step of the backward pass of ``root`` (step 0 seeds ``root.grad = 1``).

    Each frame is the backward view with the node being processed highlighted,
    edges labelled ``upstream × local`` once their gradient has flowed, and every
    node's gradient as accumulated so far (``?`` before any path reached it). The
    user's ``grad`` attributes are neither read nor changed.
    """
    _check_args("backward", None, max_nodes)
    flow = Flow.of(root)
    steps = flow.simulate()
    for i, step in enumerate(steps):
        style = _Style(view="backward", grads=step.grads, current=step.current, processed=step.processed,
                       caption=step_caption(flow, step, i, len(steps)), caption_color="#1f2937")
        yield _draw(flow, style, format="svg", rankdir=rankdir, collapse=None, max_nodes=max_nodes)


def _inline_svg(svg: str) -> str:
    """An SVG document as an element that can sit inside HTML (no XML prolog, doctype or comments before it)."""
    start = svg.find("<svg")
    if start < 0:
        raise ValueError("Graphviz returned no <svg> element")
    return svg[start:].strip()


_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: Helvetica, Arial, sans-serif; margin: 1.5em; color: #1f2937; }}
#controls {{ display: flex; gap: 0.5em; align-items: center; margin: 0.5em 0; }}
#controls button {{ font-size: 1em; padding: 0.3em 0.8em; }}
#slider {{ flex: 1; max-width: 40em; }}
#caption {{ font-size: 1.05em; min-height: 2.6em; }}
#stage {{ overflow-x: auto; }}
#stage svg {{ max-width: 100%; height: auto; }}  /* the whole graph in view: the pass starts at the far end */
.hint {{ color: #6b7280; font-size: 0.9em; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p class="hint">Backpropagation visits the nodes from the output back to the inputs. At each step the
highlighted node passes its gradient to its inputs: <code>child.grad += node.grad × local derivative</code>.
Keys: ← → step, space play/pause.</p>
<div id="controls">
<button id="prev" type="button">◀ step</button>
<button id="play" type="button">▶ play</button>
<button id="next" type="button">step ▶</button>
<input id="slider" type="range" min="0" max="{last}" value="0" aria-label="step">
<span id="counter"></span>
</div>
<p id="caption"></p>
<div id="stage"></div>
{frames}
<script>
"use strict";
(function () {{
  var frames = document.querySelectorAll("template.frame");
  var stage = document.getElementById("stage");
  var slider = document.getElementById("slider");
  var caption = document.getElementById("caption");
  var counter = document.getElementById("counter");
  var play = document.getElementById("play");
  var current = 0, timer = null;
  function show(i) {{
    current = Math.max(0, Math.min(frames.length - 1, i));
    stage.replaceChildren(frames[current].content.cloneNode(true));
    slider.value = String(current);
    caption.textContent = frames[current].dataset.caption;
    counter.textContent = (current + 1) + " / " + frames.length;
  }}
  function stop() {{
    if (timer !== null) {{ clearInterval(timer); timer = null; }}
    play.textContent = "▶ play";
  }}
  function start() {{
    if (current === frames.length - 1) {{ show(0); }}
    play.textContent = "❚❚ pause";
    timer = setInterval(function () {{
      if (current >= frames.length - 1) {{ stop(); }} else {{ show(current + 1); }}
    }}, {interval});
  }}
  play.addEventListener("click", function () {{ if (timer === null) {{ start(); }} else {{ stop(); }} }});
  document.getElementById("prev").addEventListener("click", function () {{ stop(); show(current - 1); }});
  document.getElementById("next").addEventListener("click", function () {{ stop(); show(current + 1); }});
  slider.addEventListener("input", function () {{ stop(); show(Number(slider.value)); }});
  document.addEventListener("keydown", function (e) {{
    if (e.key === "ArrowRight") {{ stop(); show(current + 1); }}
    else if (e.key === "ArrowLeft") {{ stop(); show(current - 1); }}
    else if (e.key === " ") {{ e.preventDefault(); play.click(); }}
  }});
  show(0);
}})();
</script>
</body>
</html>
"""


def animation_html(root: Any, *, title: str | None = None, interval_ms: int = 1500, rankdir: str = "LR",
                   max_nodes: int = DEFAULT_MAX_NODES) -> str:
    """The HTML page of :func:`animate_backward` as a string (every frame rendered to inline SVG)."""
    flow = Flow.of(root)
    steps = flow.simulate()
    frames = []
    for i, graph in enumerate(backward_steps(root, rankdir, max_nodes=max_nodes)):
        svg = _inline_svg(render_bytes(graph, "svg").decode("utf-8"))
        caption = step_caption(flow, steps[i], i, len(steps))
        frames.append(f'<template class="frame" data-caption="{html.escape(caption, quote=True)}">\n'
                      f"{svg}\n</template>")
    name = flow.names[root]
    return _PAGE.format(title=html.escape(title or f"Backward pass of {name}", quote=True), last=len(frames) - 1,
                        frames="\n".join(frames), interval=int(interval_ms))


def animate_backward(root: Any, path: str | os.PathLike[str], *, title: str | None = None,
                     interval_ms: int = 1500, rankdir: str = "LR", max_nodes: int = DEFAULT_MAX_NODES) -> Path:
    """Write the step-by-step backward pass of ``root`` to ``path`` as one self-contained HTML file.

    Frames are embedded SVG; play/pause, step buttons, a slider and arrow keys move
    through them. Works offline. The file is written atomically. Returns its path.
    """
    page = animation_html(root, title=title, interval_ms=interval_ms, rankdir=rankdir, max_nodes=max_nodes)
    return write_atomic(path, page.encode("utf-8"))
