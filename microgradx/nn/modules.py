"""Neurons, layers and multi-layer perceptrons built from ``Value`` (micrograd's ``nn``, grown up).

A neuron computes a weighted sum of its inputs plus a bias and passes it
through an activation::

    act = b + Σᵢ wᵢ·xᵢ          out = f(act)      f ∈ {tanh, sigmoid, relu, leaky_relu, softplus, linear}

A layer is ``nout`` neurons reading the same inputs; an MLP is layers in a row,
each reading the outputs of the one before.

``Neuron``, ``Layer`` and ``MLP`` keep micrograd's signatures and behaviour
(ReLU hidden layers, a linear last layer, a one-neuron layer returns a single
``Value``, the same ``repr``), so micrograd's demo runs with only the import
changed. Beyond micrograd: a choice of activation and weight initialisation,
seeded random streams, bias on/off, dropout, dotted parameter names, and files
(the shared machinery is in :mod:`~microgradx.nn.module`, files in
:mod:`~microgradx.nn.modelfile`).

Every parameter carries its dotted name as ``label`` (``layers.0.neurons.3.w.1``)
and each neuron labels the ``Value`` it returns with its own name
(``layers.0.neurons.3``), so drawings and error messages can name them.
"""

from __future__ import annotations

import html
import math
import random
from collections.abc import Iterable, Mapping, Sequence
from itertools import groupby
from operator import mul
from typing import Any, Protocol

import numpy as np

from ..engine import Value
from ..modes import TracingError, current_tracer
from ..ops import OPS, RELU, Op
from .args import choice, flag, positive_int, probability
from .modelfile import MODEL_TYPES, ModelFileError
from .module import Inputs, Module

__all__ = [
    "Module", "Neuron", "Layer", "MLP", "ModelFileError",
    "ACTIVATIONS", "INITS",
]

#: The activation functions a neuron can apply to its weighted sum: the op table's rows marked
#: ``activation`` (a row with a parameter uses its default, leaky ReLU's 0.01), and ``linear`` (none).
ACTIVATIONS: dict[str, Op | None] = {**{op.name: op.bound() for op in OPS.values() if op.activation}, "linear": None}

#: Weight initialisations (biases always start at 0, as in micrograd).
INITS = ("uniform", "xavier", "he", "zeros")


_DROPOUT_WHILE_TRACING = (
    "dropout in training mode while jit traces the model: the trace would keep one random mask for every "
    "sample and every call. Call model.eval() before jit (dropout off, e.g. to predict), or train with dropout "
    "eagerly, without jit (fit(..., compiled=False)).")


class Neuron(Module):
    """``f(b + Σ wᵢ·xᵢ)`` for ``nin`` inputs.

    ``Neuron(nin, nonlin=True)`` is micrograd's: ReLU when ``nonlin`` else
    linear, weights ~ U(-1, 1) drawn from the global ``random`` module, bias 0.
    ``activation`` (one of :data:`ACTIVATIONS`) overrides ``nonlin``; ``init``
    chooses the weights: ``uniform`` U(-1, 1), ``xavier`` U(-a, a) with
    a = √(6/(nin+fan_out)), ``he`` N(0, 2/nin), or ``zeros``; ``seed`` is an int
    or a ``random.Random`` to draw from; ``bias=False`` drops the bias.
    """

    def __init__(self, nin: int, nonlin: bool = True, activation: str | None = None, init: str = "uniform",
                 seed: Rng = None, bias: bool = True, fan_out: int = 1) -> None:
        nin = positive_int("nin", nin)
        if activation is None:
            activation = "relu" if nonlin else "linear"
        self.activation = choice("activation", activation, ACTIVATIONS)
        self.nonlin = activation != "linear"
        self.init = choice("init", init, INITS)
        bias = flag("bias", bias)
        self.w = [Value(wi) for wi in _initial_weights(self.init, nin, fan_out, _rng(seed))]
        self.b: Value | None = Value(0.0) if bias else None
        self._f = ACTIVATIONS[self.activation]
        self._relabel()

    def forward(self, x: Inputs) -> Value:
        return self._forward(_as_inputs(x, len(self.w)))

    def _forward(self, x: list[Value]) -> Value:
        act = _weighted_sum(self.w, x, self.b)
        f = self._f
        out = act if f is None else (act.relu() if f is RELU else act._apply(f))
        out.label = self.name
        out._scope = self.scope
        return out

    def parameters(self) -> list[Value]:
        """micrograd's ``self.w + [self.b]`` (the weights, then the bias)."""
        return self.w + [self.b] if self.b is not None else list(self.w)

    def __repr__(self) -> str:
        """micrograd's ``ReLUNeuron(2)`` / ``LinearNeuron(2)``; other activations by name (``TanhNeuron(2)``)."""
        f = ACTIVATIONS[self.activation]
        kind = "Linear" if f is None else f.display_name
        return f"{kind}Neuron({len(self.w)}{'' if self.b is not None else ', bias=False'})"

    # ---------------------------------------------------------------- beyond micrograd

    def _own_parameters(self) -> list[tuple[str, Value]]:
        named = [(f"w.{k}", w) for k, w in enumerate(self.w)]
        if self.b is not None:
            named.append(("b", self.b))
        return named

    @property
    def nin(self) -> int:
        return len(self.w)

    @property
    def n_outputs(self) -> int:
        return 1

    def config(self) -> dict[str, Any]:
        return {"type": "Neuron", "nin": len(self.w), "activation": self.activation, "bias": self.b is not None}

    @classmethod
    def parameter_count(cls, config: dict[str, Any]) -> int:
        return positive_int("nin", config["nin"]) + flag("bias", config.get("bias", True))

    def describe(self) -> str:
        return f"Neuron({len(self.w)})"


class Layer(Module):
    """``nout`` neurons reading the same inputs; returns a list, or one ``Value`` if ``nout == 1``.

    Keyword arguments go to every :class:`Neuron` (``nonlin``, ``activation``,
    ``init``, ``seed``, ``bias``). With ``dropout=p`` > 0, in training mode each
    output is zeroed with probability p and the others scaled by 1/(1-p)
    ("inverted dropout", so evaluation needs no rescaling).
    """

    def __init__(self, nin: int, nout: int, dropout: float = 0.0, **kwargs: Any) -> None:
        nin, nout = positive_int("nin", nin), positive_int("nout", nout)
        self.dropout = probability("dropout", dropout)
        rng = _rng(kwargs.pop("seed", None))
        # One stream for every neuron's weights and for dropout; None is the global one (a module cannot be copied).
        self._dropout_rng = rng if isinstance(rng, random.Random) else None
        kwargs.setdefault("fan_out", nout)
        self.neurons = [Neuron(nin, seed=self._dropout_rng, **kwargs) for _ in range(nout)]
        self._relabel()

    def forward(self, x: Inputs) -> Any:
        return self._forward(_as_inputs(x, len(self.neurons[0].w)))

    def _forward(self, x: list[Any]) -> Any:
        out = [n._forward(x) for n in self.neurons]
        if self.dropout and self.training:
            if current_tracer() is not None:  # one mask drawn now would be frozen into the trace
                raise TracingError(_DROPOUT_WHILE_TRACING)
            keep = 1.0 / (1.0 - self.dropout)
            draw = (self._dropout_rng or random).random
            out = [o * (0.0 if draw() < self.dropout else keep) for o in out]
        return out[0] if len(out) == 1 else out

    def parameters(self) -> list[Value]:
        """micrograd's ``[p for n in self.neurons for p in n.parameters()]`` (no names built: a step calls it twice)."""
        return [p for n in self.neurons for p in n.parameters()]

    def __repr__(self) -> str:
        """micrograd's ``Layer of [ReLUNeuron(2), ReLUNeuron(2)]``, word for word.

        A layer wider than :data:`REPR_WIDTH` neurons writes each run of equal neurons once with its
        count (``Layer of [ReLUNeuron(2) × 500]``): micrograd's text would be thousands of characters.
        """
        texts = [repr(n) for n in self.neurons]
        if len(texts) > REPR_WIDTH:
            runs = [(text, len(list(group))) for text, group in groupby(texts)]
            texts = [text if k == 1 else f"{text} × {k}" for text, k in runs]
        drop = f" + Dropout({self.dropout:g})" if self.dropout else ""
        return f"Layer of [{', '.join(texts)}]{drop}"

    # ---------------------------------------------------------------- beyond micrograd

    def _children(self) -> list[tuple[str, Module]]:
        return [(f"neurons.{j}", n) for j, n in enumerate(self.neurons)]

    @property
    def nin(self) -> int:
        return len(self.neurons[0].w)

    @property
    def n_outputs(self) -> int:
        return len(self.neurons)

    def config(self) -> dict[str, Any]:
        n = self.neurons[0]
        return {"type": "Layer", "nin": len(n.w), "nout": len(self.neurons), "activation": n.activation,
                "bias": n.b is not None, "dropout": self.dropout}

    @classmethod
    def parameter_count(cls, config: dict[str, Any]) -> int:
        nin, nout = positive_int("nin", config["nin"]), positive_int("nout", config["nout"])
        return nout * (nin + flag("bias", config.get("bias", True)))

    def describe(self) -> str:
        return f"Layer({len(self.neurons[0].w)}, {len(self.neurons)})"


class MLP(Module):
    """A multi-layer perceptron: ``MLP(2, [16, 16, 1])`` maps 2 inputs through two hidden layers to 1 output.

    As in micrograd, hidden layers use ReLU and the last layer is linear;
    ``activation`` sets the hidden activation and ``output_activation`` the
    last one. ``init``, ``seed`` and ``bias`` go to every neuron; one seeded
    stream is drawn in order, so ``MLP(2, [4, 1], seed=0)`` is reproducible.
    ``dropout`` applies after every hidden layer in training mode.
    """

    def __init__(self, nin: int, nouts: Sequence[int], activation: str = "relu",
                 output_activation: str = "linear", init: str = "uniform", seed: Rng = None,
                 bias: bool = True, dropout: float = 0.0) -> None:
        nin = positive_int("nin", nin)
        nouts = _layer_sizes(nouts)
        choice("activation", activation, ACTIVATIONS)  # also when there is no hidden layer
        if probability("dropout", dropout) and len(nouts) == 1:
            raise ValueError(f"dropout applies after hidden layers, and MLP({nin}, {nouts}) has none: "
                             "add a hidden layer or leave dropout at 0")
        rng = _rng(seed)
        sz = [nin] + nouts
        last = len(nouts) - 1
        self.layers = [Layer(sz[i], sz[i + 1], activation=activation if i != last else output_activation,
                             init=init, seed=rng, bias=bias, dropout=dropout if i != last else 0.0)
                       for i in range(len(nouts))]
        self._relabel()

    def forward(self, x: Inputs) -> Any:
        xs: Any = _as_inputs(x, self.nin)
        for layer in self.layers:
            xs = layer._forward(xs if isinstance(xs, list) else [xs])
        return xs

    def parameters(self) -> list[Value]:
        """micrograd's ``[p for layer in self.layers for p in layer.parameters()]``."""
        return [p for layer in self.layers for p in layer.parameters()]

    def __repr__(self) -> str:
        """micrograd's ``MLP of [Layer of [...], ...]`` (see :meth:`Layer.__repr__` for very wide layers)."""
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"

    # ---------------------------------------------------------------- beyond micrograd

    def _children(self) -> list[tuple[str, Module]]:
        return [(f"layers.{i}", layer) for i, layer in enumerate(self.layers)]

    @property
    def nin(self) -> int:
        return len(self.layers[0].neurons[0].w)

    @property
    def nouts(self) -> list[int]:
        return [len(layer.neurons) for layer in self.layers]

    @property
    def n_outputs(self) -> int:
        return len(self.layers[-1].neurons)

    @classmethod
    def parameter_count(cls, config: dict[str, Any]) -> int:
        sizes = [positive_int("nin", config["nin"]), *_layer_sizes(config["nouts"])]
        bias = flag("bias", config.get("bias", True))
        return sum((a + bias) * b for a, b in zip(sizes, sizes[1:]))

    def config(self) -> dict[str, Any]:
        first, last = self.layers[0].neurons[0], self.layers[-1].neurons[0]
        hidden = first.activation if len(self.layers) > 1 else "relu"
        return {"type": "MLP", "nin": self.nin, "nouts": self.nouts, "activation": hidden,
                "output_activation": last.activation, "bias": first.b is not None,
                "dropout": self.layers[0].dropout if len(self.layers) > 1 else 0.0}

    def describe(self) -> str:
        return f"MLP({self.nin}, {self.nouts})"

    def summary(self) -> list[dict[str, Any]]:
        """One row per layer: name, inputs, outputs, activation, dropout, parameter count, weight range."""
        rows = []
        for layer in self.layers:
            ws = [w.data for n in layer.neurons for w in n.w]
            rows.append({"layer": layer.name, "nin": layer.nin, "nout": layer.n_outputs,
                         "activation": layer.neurons[0].activation, "dropout": layer.dropout,
                         "parameters": len(layer.parameters()), "weights": (min(ws), max(ws))})
        return rows

    def _repr_html_(self) -> str:
        """Jupyter's view: a table of the layers (micrograd's repr lists every neuron)."""
        head = "".join(f"<th>{h}</th>" for h in ("layer", "in → out", "activation", "dropout", "parameters",
                                                  "weights (min … max)"))
        body = "".join(
            f"<tr><td>{html.escape(r['layer'])}</td><td>{r['nin']} → {r['nout']}</td><td>{r['activation']}</td>"
            f"<td>{r['dropout']:g}</td><td>{r['parameters']:,}</td>"
            f"<td>{r['weights'][0]:.3g} … {r['weights'][1]:.3g}</td></tr>" for r in self.summary())
        total = len(self.parameters())
        return (f"<table><caption>{html.escape(self.describe())}: {total:,} parameters</caption>"
                f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")


# --------------------------------------------------------------------- what the classes above use

#: The widest layer whose ``repr`` is micrograd's word for word; wider layers fold runs of equal neurons.
REPR_WIDTH = 64


class RandomStream(Protocol):
    """What weights and dropout draw from: the ``random`` module itself, or a ``random.Random``."""

    def random(self) -> float: ...

    def uniform(self, a: float, b: float) -> float: ...

    def gauss(self, mu: float, sigma: float) -> float: ...


#: A seed: an int, a ``random.Random`` to draw from, or None for micrograd's global ``random``.
Rng = int | random.Random | None


def _rng(seed: object) -> RandomStream:
    """The random stream to draw from: micrograd's global ``random`` when no seed is given."""
    if seed is None or seed is random:
        return random
    if isinstance(seed, random.Random):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return random.Random(int(seed))
    raise TypeError(f"seed must be an int, a random.Random or None, got {type(seed).__name__}")


def _initial_weights(init: str, nin: int, fan_out: object, rng: RandomStream) -> list[float]:
    """``nin`` weights drawn as ``init`` says (see :class:`Neuron`)."""
    if init == "uniform":
        return [rng.uniform(-1, 1) for _ in range(nin)]
    if init == "xavier":
        a = math.sqrt(6.0 / (nin + positive_int("fan_out", fan_out)))
        return [rng.uniform(-a, a) for _ in range(nin)]
    if init == "he":
        std = math.sqrt(2.0 / nin)
        return [rng.gauss(0.0, std) for _ in range(nin)]
    return [0.0] * nin


def _as_inputs(x: Inputs, nin: int) -> list[Any]:
    """The inputs as a list of length ``nin``: numbers become (labelled) leaves, Values stay."""
    if type(x) is list and len(x) == nin:  # the common case first: a list of Values, used as it is
        for xi in x:
            if type(xi) is not Value:
                break
        else:
            return x
    if isinstance(x, np.ndarray):
        if x.ndim != 1:
            raise ValueError(f"expected a single sample of {nin} inputs (a 1-D array), got an array of "
                             f"shape {x.shape}; call the model once per row")
        x = x.tolist()
    elif isinstance(x, (Value, int, float, np.number)):
        raise ValueError(f"expected {nin} inputs, got a single {type(x).__name__}; pass a list, e.g. [x]")
    elif not isinstance(x, Sequence) or isinstance(x, (str, bytes)):
        order = " (a set has no order)" if isinstance(x, (set, frozenset)) else ""
        keys = " (a dict would give its keys)" if isinstance(x, Mapping) else ""
        raise TypeError(f"expected {nin} inputs as a list, tuple or 1-D array, got a {type(x).__name__}"
                        f"{order}{keys}: pass the numbers in order, e.g. [x0, x1]")
    if len(x) != nin:
        raise ValueError(f"expected {nin} inputs, got {len(x)}")
    return [xi if isinstance(xi, Value) else Value(xi, label=f"x.{k}") for k, xi in enumerate(x)]


def _weighted_sum(w: list[Value], x: list[Any], b: Value | None) -> Value:
    """b + Σ wᵢ·xᵢ: the graph of micrograd's ``sum((wi*xi for wi,xi in zip(self.w, x)), self.b)``, node for node.

    (``map`` makes each product as ``sum`` asks for it, like the generator, at two thirds of the cost.)
    """
    total: Value = sum(map(mul, w, x), b) if b is not None else sum(map(mul, w[1:], x[1:]), w[0] * x[0])
    return total


def _layer_sizes(nouts: Any) -> list[int]:
    """``nouts`` as a non-empty list of positive ints, or a clear error."""
    if isinstance(nouts, (int, np.integer, str, bytes, Mapping)) or not isinstance(nouts, Iterable):
        raise ValueError(f"nouts must be a non-empty list of layer sizes, e.g. [16, 16, 1]; got {nouts!r:.60}")
    sizes = [positive_int("layer size", n) for n in nouts]
    if not sizes:
        raise ValueError("nouts must be a non-empty list of layer sizes, e.g. [16, 16, 1]; got an empty list")
    return sizes


Neuron._kind, Layer._kind, MLP._kind = "neuron", "layer", "model"
MODEL_TYPES.update({"Neuron": Neuron, "Layer": Layer, "MLP": MLP})
