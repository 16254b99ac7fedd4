"""Neurons, layers and multi-layer perceptrons built from ``Value`` (micrograd's ``nn``, grown up).

A neuron computes a weighted sum of its inputs plus a bias and passes it
through an activation::

    act = b + Σᵢ wᵢ·xᵢ          out = f(act)      f ∈ {relu, tanh, sigmoid, leaky_relu, linear}

``Neuron``, ``Layer`` and ``MLP`` keep micrograd's signatures and behaviour
(ReLU hidden layers, a linear last layer, a one-neuron layer returns a single
``Value``), so micrograd's demo runs with only the import changed. Beyond
micrograd: a choice of activation and weight initialisation, seeded random
streams, bias on/off, dropout, dotted parameter names, ``state_dict`` and JSON
save/load.

Every parameter carries its dotted name as ``label`` (``layers.0.neurons.3.w.1``)
and each neuron labels the ``Value`` it returns with its own name
(``layers.0.neurons.3``), so drawings and error messages can name them.
"""

from __future__ import annotations

import gc
import html
import math
import os
import random
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from itertools import groupby
from operator import mul
from typing import Any

import numpy as np

from ..engine import Value, gc_paused
from ..graph import Scope
from ..modes import TracingError, current_tracer
from ..ops import OPS, RELU, Op
from .modelfile import MAX_PARAMETERS, ModelFileError, describe_config, read_model_file, write_model_file

__all__ = [
    "Module", "Neuron", "Layer", "MLP", "ModelFileError",
    "ACTIVATIONS", "INITS",
]


Rng = int | random.Random | None
Inputs = Sequence[Any] | np.ndarray

#: The activation functions a neuron can apply to its weighted sum: the op table's rows marked
#: ``activation`` (a row with a parameter uses its default, leaky ReLU's 0.01), and ``linear`` (none).
ACTIVATIONS: dict[str, Op | None] = {**{op.name: op.bound() for op in OPS.values() if op.activation}, "linear": None}


#: Weight initialisations (biases always start at 0, as in micrograd).
INITS = ("uniform", "xavier", "he", "zeros")


def _rng(seed: Rng) -> Any:
    """The random stream to draw from: micrograd's global ``random`` when no seed is given."""
    if seed is None or seed is random:
        return random
    if isinstance(seed, random.Random):
        return seed
    if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
        return random.Random(int(seed))
    raise TypeError(f"seed must be an int, a random.Random or None, got {type(seed).__name__}")


def _check_choice(name: str, value: str, choices: Sequence[str]) -> str:
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(map(repr, choices))}")
    return value


def _check_count(name: str, n: Any) -> int:
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"{name} must be a positive int, got {n!r:.60}")
    return int(n)


def _check_flag(name: str, flag: Any) -> bool:
    if not isinstance(flag, (bool, np.bool_)):
        raise TypeError(f"{name} must be True or False, got {type(flag).__name__}: {flag!r:.40}")
    return bool(flag)


_DROPOUT_WHILE_TRACING = (
    "dropout in training mode while jit traces the model: the trace would keep one random mask for every "
    "sample and every call. Call model.eval() before jit (dropout off, e.g. to predict), or train with dropout "
    "eagerly, without jit (fit(..., compiled=False)).")


def _check_dropout(p: Any) -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)) or not 0.0 <= p < 1.0:
        raise ValueError(f"dropout must be a probability in [0, 1), got {p!r:.40}")
    return float(p)


class Module:
    """Base class: parameters, names, gradients, train/eval mode, state and files.

    Subclasses list their parameters in ``_own_parameters()`` and their
    sub-modules in ``_children()``, as ``(name, thing)`` pairs; everything else
    (dotted names, labels, ``zero_grad``, ``state_dict``, ``save``) follows.
    """

    training: bool = True

    # ---------------------------------------------------------------- structure

    def _own_parameters(self) -> list[tuple[str, Value]]:
        return []

    def _children(self) -> list[tuple[str, Module]]:
        return []

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Value]]:
        """``(dotted name, parameter)`` pairs in a fixed order, e.g. ``('layers.0.neurons.3.w.1', Value)``."""
        for name, p in self._own_parameters():
            yield prefix + name, p
        for name, child in self._children():
            yield from child.named_parameters(prefix + name + ".")

    def parameters(self) -> list[Value]:
        """All parameters (a new list each call, as in micrograd), in ``named_parameters`` order.

        Read afresh every call, never cached, so a replaced weight (``neuron.w[1] = Value(3.0)``)
        is what an optimizer made afterwards gets.
        """
        out = [p for _, p in self._own_parameters()]
        for _, child in self._children():
            out.extend(child.parameters())
        return out

    def modules(self) -> Iterator[Module]:
        """This module and every sub-module, depth first."""
        yield self
        for _, child in self._children():
            yield from child.modules()

    # ---------------------------------------------------------------- what training needs to know

    @property
    def n_outputs(self) -> int | None:
        """How many numbers one sample's output holds (1: a single Value); None if the module cannot say."""
        return None

    @property
    def has_dropout(self) -> bool:
        """Does training mode draw random numbers (dropout)? Then one trace cannot stand for every step."""
        return any(getattr(m, "dropout", 0.0) for m in self.modules())

    def _relabel(self, prefix: str = "") -> None:
        """Give every parameter its dotted name as label, and every module its name and scope."""
        for name, p in self.named_parameters(prefix):
            p.label = name
        self._set_names(prefix, None, 0)

    _kind = "model"

    def _set_names(self, prefix: str, parent: Scope | None, index: int) -> None:
        """Name this module and its children, and hand their scopes to the parameters (for the drawings)."""
        self.name = prefix.rstrip(".") or self._kind
        self.scope = Scope(self.name, self._kind, index, parent)
        for _, p in self._own_parameters():
            p._scope = self.scope  # type: ignore[attr-defined]
        for k, (name, child) in enumerate(self._children()):
            child._set_names(prefix + name + ".", self.scope, k)

    # ---------------------------------------------------------------- training helpers

    def zero_grad(self) -> None:
        """Set every parameter's ``grad`` to 0 (gradients accumulate across ``backward`` calls)."""
        for p in self.parameters():
            p.grad = 0.0

    def train(self, mode: bool = True) -> Module:
        """Training mode (dropout active). Returns the module, as in PyTorch."""
        for m in self.modules():
            m.training = mode
        return self

    def eval(self) -> Module:
        """Evaluation mode: dropout is the identity."""
        return self.train(False)

    def __call__(self, x: Inputs) -> Any:
        # The engine makes no reference cycles, so the cyclic GC has nothing to
        # collect in a graph under construction, but it would rescan it over and
        # over as it grows. Pause it for the outermost call only.
        if gc.isenabled():
            with gc_paused():
                return self.forward(x)
        return self.forward(x)

    def forward(self, x: Inputs) -> Any:
        raise NotImplementedError(f"{type(self).__name__} must define forward(x)")

    # ---------------------------------------------------------------- state

    def state_dict(self) -> dict[str, float]:
        """``{dotted name: value}`` for every parameter, in order."""
        return {name: p.data for name, p in self.named_parameters()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Set parameters from ``state`` (as made by ``state_dict``).

        Every key must match a parameter and every value must be a finite
        number; the whole dict is checked before anything changes, so on error
        the model is untouched.
        """
        if not isinstance(state, dict):
            raise TypeError(f"state must be a dict of parameter name -> number, got {type(state).__name__}")
        named = dict(self.named_parameters())
        missing = [k for k in named if k not in state]
        unexpected = [k for k in state if k not in named]
        if missing or unexpected:
            parts = []
            if missing:
                parts.append(f"missing {len(missing)} parameter(s) (first: {missing[0]!r})")
            if unexpected:
                parts.append(f"{len(unexpected)} unexpected name(s) (first: {unexpected[0]!r})")
            raise ValueError(f"state does not fit {self.describe()}: {'; '.join(parts)}. "
                             f"It has {len(state)} entries, the model has {len(named)} parameters; "
                             "build the model with the architecture the state came from.")
        values: dict[str, float] = {}
        for k, v in state.items():
            if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
                raise ValueError(f"parameter {k!r} must be a number, got {type(v).__name__}: {v!r:.40}")
            try:
                f = float(v)
            except OverflowError:
                f = math.inf if v > 0 else -math.inf
            if not math.isfinite(f):
                big = " (too large for a float)" if math.isinf(f) else ""
                raise ValueError(f"parameter {k!r} is {f}{big}: a model's parameters must be finite numbers")
            values[k] = f
        for k, p in named.items():
            p.data = values[k]

    # ---------------------------------------------------------------- files

    def config(self) -> dict[str, Any]:
        """The architecture as a JSON-able dict; ``type(**rest)`` rebuilds the module."""
        raise NotImplementedError(f"{type(self).__name__} cannot describe its architecture")

    def describe(self) -> str:
        """A one-line architecture summary such as ``MLP(2, [4, 1])``."""
        return type(self).__name__

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write architecture and parameters as JSON (never pickle), atomically.

        The file is written to a temporary file in the same folder and renamed
        over ``path``, so a crash never leaves a half-written model behind.
        """
        state = self.state_dict()
        bad = [k for k, v in state.items() if not math.isfinite(v)]
        if bad:
            raise ValueError(f"refusing to save {self.describe()}: parameter {bad[0]!r} is {state[bad[0]]}"
                             f"{f' (and {len(bad) - 1} more)' if len(bad) > 1 else ''}; a model file holds finite "
                             f"numbers only. {os.fspath(path)} was not written (training probably diverged).")
        write_model_file(path, self.config(), state)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Any:
        """Rebuild a model saved with :meth:`save` (``MLP.load('model.json')``)."""
        arch, params = read_model_file(path)
        kind = arch.get("type")
        target = _MODULE_TYPES.get(kind) if isinstance(kind, str) else None
        if target is None:
            raise ModelFileError(f"{os.fspath(path)}: unknown module type {kind!r}; "
                                 f"expected one of {', '.join(_MODULE_TYPES)}")
        if cls is not Module and not issubclass(target, cls):
            raise ModelFileError(f"{os.fspath(path)} holds a {kind}, not a {cls.__name__}: "
                                 f"load it with {kind}.load(path)")
        kwargs = {k: v for k, v in arch.items() if k != "type"}
        try:
            n = target.parameter_count(kwargs)  # from the numbers alone: nothing is built yet
            if n > MAX_PARAMETERS:
                raise ValueError(f"it has {n:,} parameters, more than the {MAX_PARAMETERS:,} a model file may hold")
            if n != len(params):
                raise ModelFileError(f"{os.fspath(path)} has {len(params)} parameters but {describe_config(arch)} "
                                     f"has {n}: the file is damaged or belongs to another model")
            model = target.from_config(kwargs)
        except KeyError as e:
            raise ModelFileError(f"{os.fspath(path)}: the architecture {arch!r:.200} lacks the entry {e.args[0]!r}; "
                                 "save the model again with model.save(path)") from None
        except ModelFileError:
            raise
        except (TypeError, ValueError) as e:
            raise ModelFileError(f"{os.fspath(path)}: the architecture {arch!r:.200} is not valid ({e})") from None
        model._load_checked(params, path)
        return model

    def restore(self, path: str | os.PathLike[str]) -> None:
        """Load parameters saved with :meth:`save` into this model.

        The file's architecture must equal this model's. On any problem a
        :class:`ModelFileError` is raised and the model is left untouched.
        """
        arch, params = read_model_file(path)
        mine = self.config()
        if arch != mine:
            raise ModelFileError(f"{os.fspath(path)} holds {describe_config(arch)} but this model is "
                                 f"{self.describe()}: build a model with the file's architecture, "
                                 f"or use {type(self).__name__}.load(path)")
        self._load_checked(params, path)

    def _load_checked(self, params: dict[str, Any], path: str | os.PathLike[str]) -> None:
        n_model = len(self.parameters())
        if len(params) != n_model:
            raise ModelFileError(f"{os.fspath(path)} has {len(params)} parameters but {self.describe()} "
                                 f"has {n_model}: the file is damaged or belongs to another model")
        try:
            self.load_state_dict(params)
        except (TypeError, ValueError) as e:
            raise ModelFileError(f"{os.fspath(path)}: {e}") from None

    @classmethod
    def parameter_count(cls, config: dict[str, Any]) -> int:
        """How many parameters the module ``config()`` describes has, computed without building it."""
        raise NotImplementedError(f"{cls.__name__} cannot count the parameters of a config")

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Any:
        """The module described by ``config()``, weights zero (``load``/``restore`` fill them in).

        Zero init draws no random numbers, so loading leaves ``random`` untouched.
        """
        make: Callable[..., Module] = cls
        return make(**config, init="zeros")


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
    if b is not None:
        return sum(map(mul, w, x), b)
    return sum(map(mul, w[1:], x[1:]), w[0] * x[0])


class Neuron(Module):
    """``f(b + Σ wᵢ·xᵢ)`` for ``nin`` inputs.

    ``Neuron(nin, nonlin=True)`` is micrograd's: ReLU when ``nonlin`` else
    linear, weights ~ U(-1, 1) drawn from the global ``random`` module, bias 0.
    ``activation`` (one of :data:`ACTIVATIONS`) overrides ``nonlin``; ``init``
    chooses the weights (``uniform``: U(-1,1); ``xavier``: U(-a, a) with
    a = √(6/(nin+fan_out)); ``he``: N(0, 2/nin); ``zeros``); ``seed`` is an int
    or a ``random.Random`` to draw from; ``bias=False`` drops the bias.
    """

    def __init__(self, nin: int, nonlin: bool = True, activation: str | None = None, init: str = "uniform",
                 seed: Rng = None, bias: bool = True, fan_out: int = 1) -> None:
        nin = _check_count("nin", nin)
        if activation is None:
            activation = "relu" if nonlin else "linear"
        self.activation = _check_choice("activation", activation, list(ACTIVATIONS))
        self.nonlin = activation != "linear"
        self.init = _check_choice("init", init, INITS)
        bias = _check_flag("bias", bias)
        rng = _rng(seed)
        if init == "uniform":
            ws = [rng.uniform(-1, 1) for _ in range(nin)]
        elif init == "xavier":
            a = math.sqrt(6.0 / (nin + _check_count("fan_out", fan_out)))
            ws = [rng.uniform(-a, a) for _ in range(nin)]
        elif init == "he":
            std = math.sqrt(2.0 / nin)
            ws = [rng.gauss(0.0, std) for _ in range(nin)]
        else:
            ws = [0.0] * nin
        self.w = [Value(wi) for wi in ws]
        self.b: Value | None = Value(0.0) if bias else None
        self._f = ACTIVATIONS[self.activation]
        self._relabel()

    def _own_parameters(self) -> list[tuple[str, Value]]:
        named = [(f"w.{k}", w) for k, w in enumerate(self.w)]
        if self.b is not None:
            named.append(("b", self.b))
        return named

    def parameters(self) -> list[Value]:
        """micrograd's ``self.w + [self.b]`` (the weights, then the bias)."""
        return self.w + [self.b] if self.b is not None else list(self.w)

    def forward(self, x: Inputs) -> Value:
        return self._forward(_as_inputs(x, len(self.w)))

    def _forward(self, x: list[Value]) -> Value:
        act = _weighted_sum(self.w, x, self.b)
        f = self._f
        out = act if f is None else (act.relu() if f is RELU else act._apply(f))
        out.label = self.name
        out._scope = self.scope  # type: ignore[attr-defined]
        return out

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
        return _check_count("nin", config["nin"]) + _check_flag("bias", config.get("bias", True))

    def describe(self) -> str:
        return f"Neuron({len(self.w)})"

    def __repr__(self) -> str:
        f = ACTIVATIONS[self.activation]
        kind = "Linear" if f is None else f.display_name
        return f"{kind}Neuron({len(self.w)}{'' if self.b is not None else ', bias=False'})"


class Layer(Module):
    """``nout`` neurons reading the same inputs; returns a list, or one ``Value`` if ``nout == 1``.

    Keyword arguments go to every :class:`Neuron` (``nonlin``, ``activation``,
    ``init``, ``seed``, ``bias``). With ``dropout=p`` > 0, in training mode each
    output is zeroed with probability p and the others scaled by 1/(1-p)
    ("inverted dropout", so evaluation needs no rescaling).
    """

    def __init__(self, nin: int, nout: int, dropout: float = 0.0, **kwargs: Any) -> None:
        nin, nout = _check_count("nin", nin), _check_count("nout", nout)
        self.dropout = _check_dropout(dropout)
        rng = _rng(kwargs.pop("seed", None))
        self._dropout_rng = None if rng is random else rng  # None: the global stream (a module cannot be copied)
        kwargs.setdefault("fan_out", nout)
        self.neurons = [Neuron(nin, seed=rng, **kwargs) for _ in range(nout)]
        self._relabel()

    def _children(self) -> list[tuple[str, Module]]:
        return [(f"neurons.{j}", n) for j, n in enumerate(self.neurons)]

    def parameters(self) -> list[Value]:
        """micrograd's ``[p for n in self.neurons for p in n.parameters()]`` (no names built: a step calls it twice)."""
        return [p for n in self.neurons for p in n.parameters()]

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
        nin, nout = _check_count("nin", config["nin"]), _check_count("nout", config["nout"])
        return nout * (nin + _check_flag("bias", config.get("bias", True)))

    def describe(self) -> str:
        return f"Layer({len(self.neurons[0].w)}, {len(self.neurons)})"

    def __repr__(self) -> str:
        """micrograd's ``Layer of [ReLUNeuron(2), ...]``; a run of more than three equal neurons is written once
        with its count (``ReLUNeuron(2) × 16``), so that a wide model's repr stays one readable line."""
        drop = f" + Dropout({self.dropout:g})" if self.dropout else ""
        runs = [(text, len(list(group))) for text, group in groupby(repr(n) for n in self.neurons)]
        parts = [part for text, k in runs for part in ([f"{text} × {k}"] if k > 3 else [text] * k)]
        return f"Layer of [{', '.join(parts)}]{drop}"


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
        nin = _check_count("nin", nin)
        nouts = _layer_sizes(nouts)
        _check_choice("activation", activation, list(ACTIVATIONS))  # also when there is no hidden layer
        if _check_dropout(dropout) and len(nouts) == 1:
            raise ValueError(f"dropout applies after hidden layers, and MLP({nin}, {nouts}) has none: "
                             "add a hidden layer or leave dropout at 0")
        rng = _rng(seed)
        sz = [nin] + nouts
        last = len(nouts) - 1
        self.layers = [Layer(sz[i], sz[i + 1], activation=activation if i != last else output_activation,
                             init=init, seed=rng, bias=bias, dropout=dropout if i != last else 0.0)
                       for i in range(len(nouts))]
        self._relabel()

    def _children(self) -> list[tuple[str, Module]]:
        return [(f"layers.{i}", layer) for i, layer in enumerate(self.layers)]

    def parameters(self) -> list[Value]:
        """micrograd's ``[p for layer in self.layers for p in layer.parameters()]``."""
        return [p for layer in self.layers for p in layer.parameters()]

    def forward(self, x: Inputs) -> Any:
        xs: Any = _as_inputs(x, self.nin)
        for layer in self.layers:
            xs = layer._forward(xs if isinstance(xs, list) else [xs])
        return xs

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
        sizes = [_check_count("nin", config["nin"]), *_layer_sizes(config["nouts"])]
        bias = _check_flag("bias", config.get("bias", True))
        return sum((a + bias) * b for a, b in zip(sizes, sizes[1:]))

    def config(self) -> dict[str, Any]:
        first, last = self.layers[0].neurons[0], self.layers[-1].neurons[0]
        hidden = first.activation if len(self.layers) > 1 else "relu"
        return {"type": "MLP", "nin": self.nin, "nouts": self.nouts, "activation": hidden,
                "output_activation": last.activation, "bias": first.b is not None,
                "dropout": self.layers[0].dropout if len(self.layers) > 1 else 0.0}

    def describe(self) -> str:
        return f"MLP({self.nin}, {self.nouts})"

    def __repr__(self) -> str:
        return f"MLP of [{', '.join(str(layer) for layer in self.layers)}]"  # micrograd's (wide layers shortened)

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


def _layer_sizes(nouts: Any) -> list[int]:
    """``nouts`` as a non-empty list of positive ints, or a clear error."""
    if isinstance(nouts, (int, np.integer, str, bytes, Mapping)) or not isinstance(nouts, Iterable):
        raise ValueError(f"nouts must be a non-empty list of layer sizes, e.g. [16, 16, 1]; got {nouts!r:.60}")
    sizes = [_check_count("layer size", n) for n in nouts]
    if not sizes:
        raise ValueError("nouts must be a non-empty list of layer sizes, e.g. [16, 16, 1]; got an empty list")
    return sizes


Neuron._kind, Layer._kind, MLP._kind = "neuron", "layer", "model"

_MODULE_TYPES: dict[str, type[Module]] = {"Neuron": Neuron, "Layer": Layer, "MLP": MLP}
