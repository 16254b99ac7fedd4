"""Model files: an architecture and its parameters as JSON (never pickle), read with every check first.

::

    {"format": "microgradx.nn", "version": 1,
     "architecture": {"type": "MLP", "nin": 2, "nouts": [4, 1], ...},
     "parameters": {"layers.0.neurons.0.w.0": 0.53, ...}}

A module's persistence lives here and ``Module``'s methods hand over to it: ``state_dict`` /
``load_state_dict`` (parameters by dotted name), ``save_model`` (``model.save(path)``), ``load_model``
(``MLP.load(path)``) and ``restore_model`` (``model.restore(path)``). Floats are written with ``repr``,
so a model round-trips bit for bit. A file is only ever trusted for numbers: it can name one of the
module types in :data:`MODEL_TYPES` (Neuron, Layer, MLP) and nothing else is built, its size is checked
from the architecture's numbers before anything is built, and every parameter must be a finite number
before any is set.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from typing import Any, Protocol, TypeVar

import numpy as np

from ..engine import Value
from ..files import write_atomic

__all__ = ["ModelFileError", "FORMAT", "FORMAT_VERSION", "MAX_PARAMETERS", "MODEL_TYPES", "Model",
           "read_model_file", "write_model_file", "describe_config",
           "state_dict", "load_state_dict", "save_model", "load_model", "restore_model"]

FORMAT = "microgradx.nn"
FORMAT_VERSION = 1
#: The most parameters a model file may describe: checked from the architecture's numbers before
#: anything is built (a scalar engine at this size already needs gigabytes).
MAX_PARAMETERS = 10_000_000
_INT_DIGITS = 18  # longer integers are read as floats (inf if too large), never as huge Python ints


_P = TypeVar("_P", bound="Model")


class Model(Protocol):
    """What a model file needs of a module (``nn.Module`` has it all)."""

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Value]]: ...

    def parameters(self) -> list[Value]: ...

    def config(self) -> dict[str, Any]: ...

    def describe(self) -> str: ...

    @classmethod
    def parameter_count(cls, config: dict[str, Any]) -> int: ...

    @classmethod
    def from_config(cls: type[_P], config: dict[str, Any]) -> _P: ...


#: The module types a model file may name, by the ``"type"`` it records (``nn.modules`` registers
#: Neuron, Layer and MLP). A file can only ever build one of these.
MODEL_TYPES: dict[str, type[Model]] = {}


class ModelFileError(ValueError):
    """A saved model file could not be used (unreadable, not JSON, wrong architecture, ...)."""


def write_model_file(path: str | os.PathLike[str], architecture: dict[str, Any], parameters: dict[str, float]) -> None:
    """Write a model file atomically (see ``files.write_atomic``): a crash never leaves half a model behind."""
    doc = {"format": FORMAT, "version": FORMAT_VERSION, "architecture": architecture, "parameters": parameters}
    write_atomic(path, json.dumps(doc, indent=1), what="model file")


def read_model_file(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Parse and shape-check a model file; returns (architecture, parameters)."""
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ModelFileError(f"cannot read model file {name}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise ModelFileError(f"{name} is not a text file, so not a model saved by microgradx") from None
    try:
        doc = json.loads(text, parse_int=_integer)
    except json.JSONDecodeError as e:
        hint = "it looks truncated" if e.pos >= len(text.rstrip()) else "it is not valid JSON"
        raise ModelFileError(f"{name}: {hint} ({e.msg} at line {e.lineno} column {e.colno}). "
                             "Save the model again with model.save(path).") from None
    except RecursionError:
        raise ModelFileError(f"{name}: its JSON is nested too deeply to be a model file; "
                             "save the model again with model.save(path)") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ModelFileError(f"{name} is JSON but not a microgradx model file "
                             f"(expected a 'format': {FORMAT!r} entry); save one with model.save(path)")
    if doc.get("version") != FORMAT_VERSION:
        raise ModelFileError(f"{name} has format version {doc.get('version')!r}; "
                             f"this microgradx reads version {FORMAT_VERSION}")
    arch, params = doc.get("architecture"), doc.get("parameters")
    if not isinstance(arch, dict) or not isinstance(params, dict):
        raise ModelFileError(f"{name} lacks an 'architecture' object or a 'parameters' object")
    return arch, params


def _integer(digits: str) -> int | float:
    """A JSON integer: an int when short, else a float (``inf`` when too large), so that a damaged file's
    400-digit number is reported like any other non-finite parameter instead of overflowing later."""
    return int(digits) if len(digits.lstrip("-")) <= _INT_DIGITS else float(digits)


def describe_config(arch: dict[str, Any]) -> str:
    kind = arch.get("type")
    if kind == "MLP":
        return f"MLP({arch.get('nin')}, {arch.get('nouts')})"
    if kind == "Layer":
        return f"Layer({arch.get('nin')}, {arch.get('nout')})"
    if kind == "Neuron":
        return f"Neuron({arch.get('nin')})"
    return repr(arch)


# --------------------------------------------------------------------- a module's state


def state_dict(model: Model) -> dict[str, float]:
    """``{dotted name: value}`` for every parameter of ``model``, in order."""
    return {name: p.data for name, p in model.named_parameters()}


def load_state_dict(model: Model, state: dict[str, Any]) -> None:
    """Set ``model``'s parameters from ``state`` (as made by :func:`state_dict`).

    Every key must match a parameter and every value must be a finite number; the whole dict is
    checked before anything changes, so on error the model is untouched.
    """
    if not isinstance(state, dict):
        raise TypeError(f"state must be a dict of parameter name -> number, got {type(state).__name__}")
    named = dict(model.named_parameters())
    missing = [k for k in named if k not in state]
    unexpected = [k for k in state if k not in named]
    if missing or unexpected:
        parts = []
        if missing:
            parts.append(f"missing {len(missing)} parameter(s) (first: {missing[0]!r})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected name(s) (first: {unexpected[0]!r})")
        raise ValueError(f"state does not fit {model.describe()}: {'; '.join(parts)}. "
                         f"It has {len(state)} entries, the model has {len(named)} parameters; "
                         "build the model with the architecture the state came from.")
    values = {k: _parameter_value(k, v) for k, v in state.items()}
    for k, p in named.items():
        p.data = values[k]


def _parameter_value(name: str, v: object) -> float:
    """A parameter's number from a state dict or a file: a finite float, or an error naming the parameter."""
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise ValueError(f"parameter {name!r} must be a number, got {type(v).__name__}: {v!r:.40}")
    try:
        f = float(v)
    except OverflowError:
        f = math.inf if v > 0 else -math.inf  # an int hundreds of digits long
    if not math.isfinite(f):
        big = " (too large for a float)" if math.isinf(f) else ""
        raise ValueError(f"parameter {name!r} is {f}{big}: a model's parameters must be finite numbers")
    return f


# --------------------------------------------------------------------- a module and its file


def save_model(model: Model, path: str | os.PathLike[str]) -> None:
    """Write ``model``'s architecture and parameters as JSON (never pickle), atomically.

    The file is written to a temporary file in the same folder and renamed over ``path``, so a crash
    never leaves a half-written model behind; non-finite parameters are refused before anything is written.
    """
    state = state_dict(model)
    bad = [k for k, v in state.items() if not math.isfinite(v)]
    if bad:
        raise ValueError(f"refusing to save {model.describe()}: parameter {bad[0]!r} is {state[bad[0]]}"
                         f"{f' (and {len(bad) - 1} more)' if len(bad) > 1 else ''}; a model file holds finite "
                         f"numbers only. {os.fspath(path)} was not written (training probably diverged).")
    write_model_file(path, model.config(), state)


def load_model(path: str | os.PathLike[str], cls: type[_P]) -> _P:
    """The model saved in ``path``, which must be a ``cls`` (``MLP.load(path)``; ``Module.load`` takes any)."""
    arch, params = read_model_file(path)
    target = _model_type(path, arch, cls)
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
    _fill(model, params, path)
    return model


def _model_type(path: str | os.PathLike[str], arch: dict[str, Any], cls: type[_P]) -> type[_P]:
    """The registered type the file names, if it is a ``cls``; a :class:`ModelFileError` otherwise."""
    kind = arch.get("type")
    target = MODEL_TYPES.get(kind) if isinstance(kind, str) else None
    if target is None:
        raise ModelFileError(f"{os.fspath(path)}: unknown module type {kind!r:.60}; "
                             f"expected one of {', '.join(MODEL_TYPES)}")
    if not issubclass(target, cls):
        raise ModelFileError(f"{os.fspath(path)} holds a {kind}, not a {cls.__name__}: "
                             f"load it with {kind}.load(path)")
    return target


def restore_model(model: Model, path: str | os.PathLike[str]) -> None:
    """Load the parameters saved in ``path`` into ``model``.

    The file's architecture must equal the model's. On any problem a :class:`ModelFileError` is
    raised and the model is left untouched.
    """
    arch, params = read_model_file(path)
    if arch != model.config():
        raise ModelFileError(f"{os.fspath(path)} holds {describe_config(arch)} but this model is "
                             f"{model.describe()}: build a model with the file's architecture, "
                             f"or use {type(model).__name__}.load(path)")
    _fill(model, params, path)


def _fill(model: Model, params: dict[str, Any], path: str | os.PathLike[str]) -> None:
    n_model = len(model.parameters())
    if len(params) != n_model:
        raise ModelFileError(f"{os.fspath(path)} has {len(params)} parameters but {model.describe()} "
                             f"has {n_model}: the file is damaged or belongs to another model")
    try:
        load_state_dict(model, params)
    except (TypeError, ValueError) as e:
        raise ModelFileError(f"{os.fspath(path)}: {e}") from None
