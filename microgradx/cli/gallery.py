"""``microgradx gallery [FOLDER]`` (``make viz``): the committed drawings a reader sees without running anything.

Each entry is written as ``.dot`` (the DOT source, byte-identical on every run,
checked by the tests) and ``.svg``, plus the step-by-step backward pass of the
neuron, and of the XOR network one neuron at a time, as HTML pages.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

import graphviz

from ..draw.animate import animation_html
from ..draw.dot import draw_dot, render_bytes
from ..examples import neuron, readme_expression, second_derivative, xor_network
from ..files import write_atomic
from .preflight import need_dot, writable_folder
from .values import plain

__all__ = ["entries", "animations", "build", "add_gallery_parser", "gallery_command"]


def entries() -> dict[str, Callable[[], graphviz.Digraph]]:
    """Gallery name -> function building its drawing (fresh graph each call)."""
    return {
        "readme_forward": lambda: draw_dot(readme_expression()),
        "readme_backward": lambda: draw_dot(readme_expression(), view="backward"),
        "neuron_forward": lambda: draw_dot(neuron()),
        "neuron_backward": lambda: draw_dot(neuron(), view="backward"),
        "second_derivative": lambda: draw_dot(second_derivative(), view="backward"),
        "xor_neurons": lambda: draw_dot(xor_network(), view="backward", collapse="neuron"),
        "xor_layers": lambda: draw_dot(xor_network(), view="backward", collapse="layer"),
    }


def animations() -> dict[str, Callable[[], str]]:
    """Gallery name -> function building its step-by-step page."""
    return {
        "neuron_steps": lambda: animation_html(neuron(),
                                               title="Backward pass of a neuron: o = tanh(x1*w1 + x2*w2 + b)"),
        "xor_steps": lambda: animation_html(xor_network(), collapse="neuron",
                                            title="Backward pass of the XOR network, one neuron at a time"),
    }


def build(folder: str | Path = "viz") -> list[Path]:
    """Write every entry to ``folder`` as ``.dot`` and ``.svg``, and the step-by-step pages; returns the paths."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, make in entries().items():
        graph = make()
        written.append(write_atomic(out / f"{name}.dot", graph.source))
        written.append(write_atomic(out / f"{name}.svg", render_bytes(graph, "svg")))
    for name, page in animations().items():
        written.append(write_atomic(out / f"{name}.html", page()))
    return written


def add_gallery_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``gallery`` command to an ``argparse`` subparsers object."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "gallery", help="write the gallery of drawings (what `make viz` runs)", description=plain(__doc__))
    p.add_argument("folder", nargs="?", default="viz", help="where to write the drawings (default: viz)")
    p.set_defaults(run=gallery_command)
    return p


def gallery_command(args: argparse.Namespace) -> int:
    """Run ``microgradx gallery``: write every drawing and print its path (folder and Graphviz checked first)."""
    need_dot("the gallery")
    writable_folder(args.folder, "the gallery")
    for path in build(args.folder):
        print(path)
    return 0
