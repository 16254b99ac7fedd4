"""Drawing in the browser: Graphviz compiled to WebAssembly, for when ``dot`` cannot run.

Under Pyodide (``sys.platform == "emscripten"``, as in the JupyterLite course) there are no
processes, so graphviz's ``pipe()`` raises ``OSError`` errno 138. There the drawings are laid out
by @viz-js/viz (Graphviz 16 built for the web, MIT wrapper, Graphviz itself EPL), which the course
site serves from its own files at ``static/viz/viz-global.js``.

Loading it has one asynchronous step -- the browser compiles Graphviz's WebAssembly -- and then
every drawing is synchronous (a few milliseconds)::

    import microgradx.draw.wasm
    await microgradx.draw.wasm.load()      # once per kernel; top-level await works in a notebook

The library starts that load by itself when ``microgradx.draw`` is imported under Pyodide, so by
the time a later cell shows a drawing the renderer is ready. A drawing asked for before it is ready
waits for it where the browser allows a synchronous wait (Pyodide's ``run_sync``, on browsers with
JavaScript Promise Integration); otherwise it is a clear error that says to ``await load()``.

The script is found at ``$MICROGRADX_VIZ_URL`` if set, else at ``static/viz/viz-global.js`` under
the JupyterLite site's root (the kernel runs in a web worker under ``<root>/extensions/``).
"""

from __future__ import annotations

import os
import sys
from typing import Any

SCRIPT_PATH = "static/viz/viz-global.js"
URL_VARIABLE = "MICROGRADX_VIZ_URL"
FORMATS = ("svg",)

_renderer: Any = None   # the viz-js Viz instance, once loaded
_loading: Any = None    # the JavaScript promise of that instance, once started


class RendererNotReady(RuntimeError):
    """The in-browser Graphviz has not finished loading yet."""


def in_browser() -> bool:
    """True under Pyodide/Emscripten, where ``dot`` cannot be run as a program."""
    return sys.platform == "emscripten"


def script_url() -> str:
    """Where the viz-js script is served: ``$MICROGRADX_VIZ_URL``, else the course site's own copy."""
    configured = os.environ.get(URL_VARIABLE)
    if configured:
        return configured
    import js  # only under Pyodide

    here = str(js.location.href)
    root = here.split("/extensions/")[0] if "/extensions/" in here else here.rsplit("/", 1)[0]
    return f"{root}/{SCRIPT_PATH}"


def _require_browser() -> None:
    if not in_browser():
        raise RuntimeError("microgradx.draw.wasm renders with Graphviz compiled to WebAssembly, which runs only "
                           "under Pyodide (the browser course); here Graphviz's `dot` program draws instead")


def start_loading() -> None:
    """Begin loading the renderer in the background (idempotent): fetch the script, compile Graphviz."""
    global _loading
    _require_browser()
    if _loading is not None or _renderer is not None:
        return
    import js
    from pyodide.ffi import create_once_callable

    if not hasattr(js, "Viz"):
        url = script_url()
        if hasattr(js, "importScripts"):  # a classic web worker: JupyterLite's Pyodide kernel
            js.importScripts(url)
        else:
            raise RuntimeError(f"cannot load {url}: no importScripts here; load the script in the page "
                               "(it defines globalThis.Viz) and call load() again")

    def ready(instance: Any) -> None:
        global _renderer
        _renderer = instance

    _loading = js.Viz.instance()
    _loading.then(create_once_callable(ready))


async def load() -> None:
    """Load the in-browser Graphviz (once); afterwards ``render_svg`` is synchronous."""
    global _renderer
    start_loading()
    if _renderer is None:
        _renderer = await _loading


def is_loaded() -> bool:
    return _renderer is not None


def _wait_for_renderer() -> Any:
    if _renderer is not None:
        return _renderer
    start_loading()
    try:
        from pyodide.ffi import can_run_sync, run_sync
    except ImportError:  # an older Pyodide
        can_run_sync = None
    if can_run_sync is not None and can_run_sync():
        run_sync(load())
        return _renderer
    raise RendererNotReady("the in-browser Graphviz is still loading: run `await microgradx.draw.wasm.load()` "
                           "in a cell (once per kernel), then show the drawing again")


def render_svg(source: str) -> str:
    """The SVG document Graphviz draws for the DOT ``source``, laid out in the browser.

    Raises ``ValueError`` with Graphviz's own message when the source is not valid DOT.
    """
    _require_browser()
    renderer = _wait_for_renderer()
    result = renderer.render(source, _options())
    if str(result.status) != "success":
        errors = [str(e.message) for e in result.errors] if result.errors else []
        reason = "; ".join(errors) or "no reason given"
        raise ValueError(f"Graphviz (in the browser) could not draw this graph: {reason}")
    return str(result.output)


def _options() -> Any:
    import js
    from pyodide.ffi import to_js

    return to_js({"format": "svg", "engine": "dot"}, dict_converter=js.Object.fromEntries)


def pipe(graph: Any, format: str | None = None, renderer: str | None = None, formatter: str | None = None,
         neato_no_op: Any = None, quiet: bool = False, *, engine: str | None = None,
         encoding: str | None = None) -> bytes | str:
    """``graphviz.Digraph.pipe`` in the browser: ``graph`` drawn as SVG (str given ``encoding``, else bytes)."""
    fmt = format or getattr(graph, "format", None) or "svg"
    if fmt not in FORMATS or renderer or formatter:
        raise ValueError(f"in the browser a drawing can only be rendered as SVG, not {fmt!r}; "
                         "save it as .svg, or as .dot and render that with Graphviz elsewhere")
    if (engine or getattr(graph, "engine", "dot")) != "dot":
        raise ValueError("in the browser microgradx lays drawings out with the `dot` engine only")
    svg = render_svg(graph.source)
    return svg if encoding is not None else svg.encode("utf-8")
