"""Example graphs that the tests, the notebooks, the demo and the gallery share.

Each function builds a small graph a learner meets in the course (micrograd's
README expression, a neuron, a second derivative, a trained XOR network) and
returns its output after ``backward()``, so it can be drawn or explained at once.
"""

from __future__ import annotations

from .engine import Value
from .nn.recipes import RECIPES

__all__ = ["readme_example", "readme_expression", "neuron", "second_derivative", "xor_network"]


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
    dydx: Value = x.grad  # a Value: create_graph=True recorded it
    dydx.label = "dy/dx"
    x.grad = 0.0  # keep the second pass from adding onto the first derivative
    dydx.backward()
    return dydx


def xor_network() -> Value:
    """An MLP(2, [4, 1]) trained on XOR (seed 0), its output for the input (1, 0), after ``backward()``.

    The gradients are ∂output/∂parameter: how the trained network's answer for
    this input depends on each weight.
    """
    model = RECIPES["xor"].train(seed=0).model
    out = model([1.0, 0.0])
    assert isinstance(out, Value)  # one output neuron: one Value
    out.backward()
    return out
