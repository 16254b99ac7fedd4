"""The ``viz/`` gallery: committed drawings a reader sees without running anything.

``python -m microgradx.gallery [folder]`` (``make viz``) writes each entry as
``.dot`` (the DOT source, byte-identical on every run, checked by the tests) and
``.svg``, plus the step-by-step backward pass of the neuron as one HTML file.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import graphviz

from . import data
from .animate import animation_html
from .engine import Value
from .nn import MLP
from .train import fit
from .viz import draw_dot, render_bytes, write_atomic


def readme_example(a: Value, b: Value) -> Value:
    """The expression from micrograd's README, as a function of its two inputs."""
    c = a + b
    d = a * b + b**3
    c += c + 1
    c += 1 + c + (-a)
    d += d * 2 + (b + a).relu()
    d += 3 * d + (b - a).relu()
    e = c - d
    f = e**2
    g = f / 2.0
    g += 10.0 / f
    return g


def readme_expression() -> Value:
    """micrograd's README example at a = -4, b = 2, leaves and output labelled; after ``backward()``."""
    g = readme_example(Value(-4.0, label="a"), Value(2.0, label="b"))
    g.label = "g"
    g.backward()
    return g


def neuron() -> Value:
    """A 2-input neuron ``o = tanh(x1*w1 + x2*w2 + b)``, every node labelled; after ``backward()``.

    The bias is chosen so that ``n = 0.8814`` and ``o = tanh(n) = 0.7071``, hence
    ``do/dn = 1 - o² = 0.5``: easy numbers to follow by hand.
    """
    x1, x2 = Value(2.0, label="x1"), Value(0.0, label="x2")
    w1, w2 = Value(-3.0, label="w1"), Value(1.0, label="w2")
    b = Value(6.881373587019543, label="b")
    x1w1 = x1 * w1
    x1w1.label = "x1*w1"
    x2w2 = x2 * w2
    x2w2.label = "x2*w2"
    s = x1w1 + x2w2
    s.label = "x1*w1 + x2*w2"
    n = s + b
    n.label = "n"
    o = n.tanh()
    o.label = "o"
    o.backward()
    return o


def second_derivative() -> Value:
    """``dy/dx`` for ``y = tanh(x)`` at x = 0.5 as a graph, after its own ``backward()``.

    ``y.backward(create_graph=True)`` records ``dy/dx = 1 - y²`` as Values;
    differentiating that graph again gives ``d²y/dx² = -2·y·(1 - y²)`` in ``x.grad``.
    """
    x = Value(0.5, label="x")
    y = x.tanh()
    y.label = "y"
    y.backward(create_graph=True)
    dydx = x.grad
    dydx.label = "dy/dx"
    x.grad = 0.0  # keep the second pass from adding onto the first derivative
    dydx.backward()
    return dydx


def xor_network() -> Value:
    """An MLP(2, [4, 1]) trained on XOR (seed 0), its output for the input (1, 0), after ``backward()``.

    The gradients are ∂output/∂parameter: how the trained network's answer for
    this input depends on each weight.
    """
    X, y = data.xor()
    model = MLP(2, [4, 1], activation="tanh", seed=0)
    fit(model, X, y, loss="mse", optimizer="sgd", lr=0.3, epochs=300, progress=False)
    out = model([1.0, 0.0])
    out.backward()
    return out


def entries() -> dict[str, Callable[[], graphviz.Digraph]]:
    """Gallery name -> function building its drawing (fresh graph each call)."""
    return {
        "readme_forward": lambda: draw_dot(readme_expression()),
        "readme_backward": lambda: draw_dot(readme_expression(), view="backward"),
        "neuron_forward": lambda: draw_dot(neuron()),
        "neuron_backward": lambda: draw_dot(neuron(), view="backward"),
        "second_derivative": lambda: draw_dot(second_derivative(), view="backward"),
        "xor_neurons": lambda: draw_dot(xor_network(), view="backward", collapse="neuron"),
    }


def build(folder: str | Path = "viz") -> list[Path]:
    """Write every entry to ``folder`` as ``.dot`` and ``.svg`` (and the neuron's HTML steps); returns the paths."""
    out = Path(folder)
    written = []
    for name, make in entries().items():
        graph = make()
        written.append(write_atomic(out / f"{name}.dot", graph.source.encode("utf-8")))
        written.append(write_atomic(out / f"{name}.svg", render_bytes(graph, "svg")))
    page = animation_html(neuron(), title="Backward pass of a neuron: o = tanh(x1*w1 + x2*w2 + b)")
    written.append(write_atomic(out / "neuron_steps.html", page.encode("utf-8")))
    return written


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    for path in build(args[0] if args else "viz"):
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
