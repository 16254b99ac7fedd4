"""The page of ``animate_backward``: one laid-out SVG, the changes per step, and a small player.

The graph is drawn once; each step names the texts it changes (a gradient cell, an
edge's ``upstream × local`` line) and the elements it highlights, so nothing moves
between steps and the page grows linearly with the graph. The data sits in a
``<script type="application/json">`` block, read with ``JSON.parse`` and written into
the SVG with ``textContent``: a label is never parsed as HTML. No network, no
external script. Pan by dragging, zoom with the wheel, the buttons or + − 0 1.
"""

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title}</title>
<style>
html, body {{ height: 100%; margin: 0; }}
body {{ font-family: Helvetica, Arial, sans-serif; color: {text}; background: {background};
        display: flex; flex-direction: column; }}
header {{ padding: 0.6em 1em 0.3em; }}
h1 {{ font-size: 1.25em; margin: 0 0 0.3em; }}
.hint {{ color: {muted}; font-size: 0.85em; margin: 0.2em 0; }}
#controls {{ display: flex; gap: 0.4em; align-items: center; flex-wrap: wrap; }}
#controls button {{ font-size: 0.95em; padding: 0.25em 0.7em; }}
#slider {{ flex: 1; min-width: 8em; max-width: 36em; }}
#caption {{ font-size: 1.05em; min-height: 2.6em; margin: 0.4em 0 0; }}
#stage {{ flex: 1; position: relative; overflow: hidden; border-top: 1px solid {muted};
          cursor: grab; touch-action: none; }}
#stage.dragging {{ cursor: grabbing; }}
#canvas {{ position: absolute; left: 0; top: 0; transform-origin: 0 0; }}
#canvas svg {{ display: block; }}
#canvas .current polygon, #canvas .current ellipse {{ stroke: {current}; stroke-width: 3px; }}
#canvas .active path {{ stroke: {current}; stroke-width: 2.5px; }}
#canvas .active polygon {{ stroke: {current}; fill: {current}; }}
#canvas .unknown text, #canvas text.unknown {{ fill: {muted}; }}
#canvas .partial text, #canvas text.partial {{ fill: {grad}; font-style: italic; }}
</style>
</head>
<body>
<header>
<h1>{title}</h1>
<p class="hint">Backpropagation visits the nodes from the output back to the inputs. At each step the
highlighted node passes its gradient to its inputs: <code>child.grad += node.grad × local derivative</code>.
Keys: ← → step, Home/End first/last, space play/pause, + − zoom, 0 fit, 1 actual size. Drag to pan, wheel to zoom.</p>
<div id="controls">
<button id="first" type="button" title="first step (Home)">|◀</button>
<button id="prev" type="button" title="previous step (←)">◀ step</button>
<button id="play" type="button" title="play/pause (space)">▶ play</button>
<button id="next" type="button" title="next step (→)">step ▶</button>
<button id="last" type="button" title="last step (End)">▶|</button>
<input id="slider" type="range" min="0" max="{last}" value="0" aria-label="step">
<button id="zoomout" type="button" title="zoom out (−)">−</button>
<button id="zoomin" type="button" title="zoom in (+)">+</button>
<button id="fit" type="button" title="fit the whole graph (0)">fit</button>
<button id="actual" type="button" title="actual size (1)">1:1</button>
</div>
<p id="caption"></p>
</header>
<div id="stage"><div id="canvas">
{svg}
</div></div>
<script type="application/json" id="steps">{data}</script>
<script>
"use strict";
(function () {{
  var data = JSON.parse(document.getElementById("steps").textContent);
  var frames = data.frames;
  var stage = document.getElementById("stage"), canvas = document.getElementById("canvas");
  var svg = canvas.querySelector("svg");
  var slider = document.getElementById("slider"), caption = document.getElementById("caption");
  var play = document.getElementById("play");
  var current = -1, timer = null, marked = [];
  var view = {{ scale: 1, x: 0, y: 0 }};

  function slotText(id) {{
    var el = document.getElementById(id);
    if (!el) {{ return null; }}
    var texts = el.querySelectorAll("text");
    return texts.length ? texts[texts.length - 1] : null;
  }}
  function write(entries) {{
    for (var i = 0; i < entries.length; i++) {{
      var t = slotText(entries[i][0]);
      if (t) {{ t.textContent = entries[i][1]; t.setAttribute("class", entries[i][2]); }}
    }}
  }}
  function mark(ids, cls) {{
    for (var i = 0; i < ids.length; i++) {{
      var el = document.getElementById(ids[i]);
      if (el) {{ el.classList.add(cls); marked.push([el, cls]); }}
    }}
  }}
  function show(i) {{
    i = Math.max(0, Math.min(frames.length - 1, i));
    if (i === current) {{ return; }}
    if (i !== current + 1) {{ write(data.initial); current = -1; }}
    while (current < i) {{ current += 1; write(frames[current].set); }}
    marked.forEach(function (m) {{ m[0].classList.remove(m[1]); }});
    marked = [];
    mark(frames[i].current, "current");
    mark(frames[i].active, "active");
    slider.value = String(i);
    caption.textContent = frames[i].caption;
    follow();
  }}

  function apply() {{
    canvas.style.transform = "translate(" + view.x + "px," + view.y + "px) scale(" + view.scale + ")";
  }}
  function natural() {{ return {{ w: svg.width.baseVal.value, h: svg.height.baseVal.value }}; }}
  function fitScale() {{
    var n = natural();
    return Math.min(stage.clientWidth / n.w, stage.clientHeight / n.h);
  }}
  function zoomAt(factor, cx, cy) {{
    var s = Math.max(0.05, Math.min(8, view.scale * factor));
    view.x = cx - (cx - view.x) * s / view.scale;
    view.y = cy - (cy - view.y) * s / view.scale;
    view.scale = s;
    apply();
  }}
  function fit() {{
    var n = natural();
    view.scale = Math.min(1, fitScale());
    view.x = (stage.clientWidth - n.w * view.scale) / 2;
    view.y = Math.max(0, (stage.clientHeight - n.h * view.scale) / 2);
    apply();
  }}
  function actual() {{
    zoomAt(1 / view.scale, stage.clientWidth / 2, stage.clientHeight / 2);
    follow(true);
  }}
  function follow(always) {{
    var el = marked.length ? marked[0][0] : null;
    if (!el) {{ return; }}
    var box = el.getBoundingClientRect(), area = stage.getBoundingClientRect();
    var inside = box.left >= area.left && box.right <= area.right && box.top >= area.top && box.bottom <= area.bottom;
    if (inside && !always) {{ return; }}
    view.x += area.left + area.width / 2 - (box.left + box.right) / 2;
    view.y += area.top + area.height / 2 - (box.top + box.bottom) / 2;
    apply();
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
  function toggle() {{ if (timer === null) {{ start(); }} else {{ stop(); }} }}
  function click(id, f) {{ document.getElementById(id).addEventListener("click", f); }}
  click("play", toggle);
  click("prev", function () {{ stop(); show(current - 1); }});
  click("next", function () {{ stop(); show(current + 1); }});
  click("first", function () {{ stop(); show(0); }});
  click("last", function () {{ stop(); show(frames.length - 1); }});
  click("zoomin", function () {{ zoomAt(1.25, stage.clientWidth / 2, stage.clientHeight / 2); }});
  click("zoomout", function () {{ zoomAt(0.8, stage.clientWidth / 2, stage.clientHeight / 2); }});
  click("fit", fit);
  click("actual", actual);
  slider.addEventListener("input", function () {{ stop(); show(Number(slider.value)); }});
  var keys = {{
    "ArrowRight": function () {{ stop(); show(current + 1); }},
    "ArrowLeft": function () {{ stop(); show(current - 1); }},
    "Home": function () {{ stop(); show(0); }},
    "End": function () {{ stop(); show(frames.length - 1); }},
    " ": toggle,
    "+": function () {{ zoomAt(1.25, stage.clientWidth / 2, stage.clientHeight / 2); }},
    "=": function () {{ zoomAt(1.25, stage.clientWidth / 2, stage.clientHeight / 2); }},
    "-": function () {{ zoomAt(0.8, stage.clientWidth / 2, stage.clientHeight / 2); }},
    "0": fit,
    "1": actual
  }};
  // One handler for every key, before the focused control sees it: a key acts once.
  document.addEventListener("keydown", function (e) {{
    if (e.ctrlKey || e.metaKey || e.altKey || !keys.hasOwnProperty(e.key)) {{ return; }}
    e.preventDefault();
    keys[e.key]();
  }}, true);
  stage.addEventListener("wheel", function (e) {{
    e.preventDefault();
    var area = stage.getBoundingClientRect();
    zoomAt(Math.exp(-e.deltaY * 0.0015), e.clientX - area.left, e.clientY - area.top);
  }}, {{ passive: false }});
  var drag = null;
  stage.addEventListener("pointerdown", function (e) {{
    drag = {{ x: e.clientX - view.x, y: e.clientY - view.y }};
    stage.classList.add("dragging");
    stage.setPointerCapture(e.pointerId);
  }});
  stage.addEventListener("pointermove", function (e) {{
    if (drag) {{ view.x = e.clientX - drag.x; view.y = e.clientY - drag.y; apply(); }}
  }});
  stage.addEventListener("pointerup", function () {{ drag = null; stage.classList.remove("dragging"); }});

  write(data.initial);
  fit();
  if (view.scale < 0.7) {{ view.scale = 1; apply(); }}
  show(0);
  follow(view.scale === 1 && fitScale() < 0.7);
  window.microgradxPlayer = {{ show: show, view: view, fit: fit, actual: actual, zoomAt: zoomAt,
                               frame: function () {{ return current; }} }};
}})();
</script>
</body>
</html>
"""
