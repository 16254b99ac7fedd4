"""``microgradx demo`` (``make demo``): micrograd's README example, then an MLP trained on XOR, drawn.

    microgradx demo [--out DIR]
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..draw.dot import draw_dot, save
from ..engine import Value
from ..examples import readme_example
from ..gradcheck import gradcheck
from ..nn.recipes import RECIPES
from ..nn.train import accuracy
from .preflight import need_dot, writable_folder
from .train import print_xor_table
from .values import plain

__all__ = ["add_demo_parser", "demo_command"]


def show_readme_example() -> None:
    a, b = Value(-4.0, label="a"), Value(2.0, label="b")
    g = readme_example(a, b)
    g.backward()
    print("1. micrograd's README example, computed by microgradx:")
    print(f"   g = {g.data:.4f}   dg/da = {a.grad:.4f}   dg/db = {b.grad:.4f}"
          "   (micrograd: 24.7041, 138.8338, 645.5773)")
    print("   checked against central finite differences:")
    print("   " + str(gradcheck(readme_example, -4.0, 2.0)).replace("\n", "\n   "))


def train_xor(out: Path) -> None:
    recipe = RECIPES["xor"]
    print(f"\n2. Training {recipe.description} on XOR:")
    run = recipe.train(seed=0, progress=True)
    model, X, y = run.model, run.X, run.y
    acc = accuracy(model, X, y)
    print(f"   accuracy {acc * 100:.0f}% after {run.history.epochs} epochs (loss {run.history.loss[-1]:.4f})")
    print_xor_table(model, X, y, indent="   ")

    slides, poster = draw_xor(model, out)
    print("\n3. The trained network on input (1, 0), drawn to fit a 16:9 slide (open them in a browser):")
    for path, what in slides:
        print(f"   {path}  ({what})")
    print(f"   The whole graph does not fit a slide; it is a poster to zoom into: {poster}")


def draw_xor(model: Any, out: Path) -> tuple[list[tuple[Path, str]], Path]:
    """The drawings of ``make demo``: the views that fit a 16:9 slide with text of at least 8 pt, and the whole
    backward graph as a poster (too large for a slide: one box per value, 4 neurons of 8 ops each and more)."""
    # What the trained network computes for (1, 0), and how its output depends on every
    # parameter (∂score/∂parameter, filled in by backward()), one row per neuron.
    score = model([1.0, 0.0])
    model.zero_grad()
    score.backward()
    slides = [(save(draw_dot(score, view="backward", collapse="neuron"), out / "xor_neurons.svg"),
               "every neuron as one row: its output and ∂score/∂output")]
    poster = save(draw_dot(score, view="backward"), out / "xor_whole_backward.svg")
    # One hidden neuron h = tanh(w·x + b) value by value: ∂h/∂w, ∂h/∂b of that neuron alone.
    model.zero_grad()
    hidden = model.layers[0].neurons[0]([1.0, 0.0])
    hidden.backward()
    slides.append((save(draw_dot(hidden, view="backward"), out / "xor_hidden_neuron.svg"),
                   "one hidden neuron value by value, h = tanh(w·x + b), backward"))
    model.zero_grad()
    return slides, poster


def add_demo_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``demo`` command to an ``argparse`` subparsers object."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "demo", help="micrograd's README example, then XOR trained and drawn (`make demo`)", description=plain(__doc__))
    p.add_argument("--out", type=Path, default=Path("out"), help="folder for the drawings (default: out)")
    p.set_defaults(run=demo_command)
    return p


def demo_command(args: argparse.Namespace) -> int:
    """Run ``microgradx demo``: its folder and Graphviz are checked before anything is computed."""
    need_dot("the demo's drawings")
    out = writable_folder(args.out, "the demo's drawings")
    show_readme_example()
    train_xor(out)
    return 0
