"""Turning DOT source into a picture: the one place a drawing is rendered (SVG, PNG, PDF ...).

On a computer, Graphviz's ``dot`` program lays the graph out; a missing ``dot`` is an
error that says how to install it. Under Pyodide (``sys.platform == "emscripten"``,
the browser course) no program can run -- graphviz's ``pipe()`` raises ``OSError``
errno 138 there, which is not "not installed" -- so SVG comes from Graphviz compiled
to WebAssembly, through ``microgradx.draw.wasm.render_svg``.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable
from typing import TypeVar

import graphviz

INSTALL_HELP = ("Install Graphviz, which provides `dot`:\n"
                "  Debian/Ubuntu:  sudo apt-get install graphviz\n"
                "  macOS:          brew install graphviz\n"
                "  conda:          conda install -c conda-forge graphviz\n"
                "(Building the graph and reading its .source work without it.)")
RENDERED = ("svg", "png", "pdf", "jpg", "jpeg", "gif", "webp")

T = TypeVar("T")


class GraphvizNotFoundError(graphviz.ExecutableNotFound):  # type: ignore[misc]  # graphviz ships no types
    """The Graphviz ``dot`` program is not installed (or not on PATH)."""

    def __init__(self, message: str) -> None:
        RuntimeError.__init__(self, message)


def in_browser() -> bool:
    """Running under Pyodide, where no program (``dot`` included) can be started."""
    return sys.platform == "emscripten"


def needs_dot(run: Callable[[], T]) -> T:
    """Run a call that starts ``dot``; a missing ``dot`` becomes an error that says how to install it."""
    try:
        return run()
    except graphviz.ExecutableNotFound as e:
        if isinstance(e, GraphvizNotFoundError):
            raise
        raise GraphvizNotFoundError(f"cannot render the graph: the Graphviz `dot` program was not found "
                                    f"({e}).\n{INSTALL_HELP}") from None


def render(source: str, format: str = "svg") -> bytes:
    """The picture of the DOT ``source`` in ``format`` (``svg``, ``png``, ``pdf`` ...), laid out by ``dot``.

    In the browser only SVG can be made (Graphviz in WebAssembly writes SVG); other formats
    are refused with an error that says so.
    """
    if in_browser():
        if format != "svg":
            raise ValueError(f"in the browser a drawing renders only as SVG, not {format!r}: save it as .svg "
                             "(or .dot, its source)")
        # Imported here, by name: the browser renderer exists only in the browser course's build.
        wasm = importlib.import_module(f"{__package__}.wasm")
        svg: str = wasm.render_svg(source)
        return svg.encode("utf-8")
    data = source.encode("utf-8")
    picture: bytes = needs_dot(lambda: graphviz.pipe("dot", format, data))
    return picture


if in_browser():  # start loading Graphviz-as-WebAssembly now, so it is ready by the first drawing
    try:
        importlib.import_module(f"{__package__}.wasm").start_loading()
    except Exception:  # noqa: BLE001 -- not fatal here: the first drawing waits for it and reports the reason
        pass
