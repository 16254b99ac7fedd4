"""``Module``: what every neuron, layer and network shares -- parameters, names, modes and files.

A subclass lists its parameters in ``_own_parameters()`` and its sub-modules in ``_children()``, as
``(name, thing)`` pairs, and computes in ``forward(x)``. Everything else follows from those two lists:
``parameters()``, dotted names (``layers.0.neurons.3.w.1``) given to every parameter as its label,
``zero_grad()``, ``train()``/``eval()``. Saving and loading live in :mod:`microgradx.nn.modelfile`;
the methods here (``state_dict``, ``save``, ``load``, ...) hand over to it.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import numpy as np

from ..engine import Value, gc_paused
from ..graph import Scope
from . import modelfile

__all__ = ["Module", "Inputs"]

#: One sample's inputs: a list or tuple of numbers or Values, or a 1-D array.
Inputs = Sequence[Any] | np.ndarray

_M = TypeVar("_M", bound="Module")


class Module:
    """Base class: parameters, names, gradients, train/eval mode, state and files."""

    training: bool = True
    _kind = "model"  # what the drawing calls it: "neuron", "layer" or "model"

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

    def _relabel(self, prefix: str = "") -> None:
        """Give every parameter its dotted name as label, and every module its name and scope."""
        for name, p in self.named_parameters(prefix):
            p.label = name
        self._set_names(prefix, None, 0)

    def _set_names(self, prefix: str, parent: Scope | None, index: int) -> None:
        """Name this module and its children, and hand their scopes to the parameters (for the drawings)."""
        self.name = prefix.rstrip(".") or self._kind
        self.scope = Scope(self.name, self._kind, index, parent)
        for _, p in self._own_parameters():
            p._scope = self.scope
        for k, (name, child) in enumerate(self._children()):
            child._set_names(prefix + name + ".", self.scope, k)

    # ---------------------------------------------------------------- what training needs to know

    @property
    def n_outputs(self) -> int | None:
        """How many numbers one sample's output holds (1: a single Value); None if the module cannot say."""
        return None

    @property
    def has_dropout(self) -> bool:
        """Does training mode draw random numbers (dropout)? Then one trace cannot stand for every step."""
        return any(getattr(m, "dropout", 0.0) for m in self.modules())

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

    # ---------------------------------------------------------------- architecture (what a file records)

    def config(self) -> dict[str, Any]:
        """The architecture as a JSON-able dict; ``type(**rest)`` rebuilds the module."""
        raise NotImplementedError(f"{type(self).__name__} cannot describe its architecture")

    def describe(self) -> str:
        """A one-line architecture summary such as ``MLP(2, [4, 1])``."""
        return type(self).__name__

    @classmethod
    def parameter_count(cls, config: dict[str, Any]) -> int:
        """How many parameters the module ``config()`` describes has, computed without building it."""
        raise NotImplementedError(f"{cls.__name__} cannot count the parameters of a config")

    @classmethod
    def from_config(cls: type[_M], config: dict[str, Any]) -> _M:
        """The module described by ``config()``, weights zero (``load``/``restore`` fill them in).

        Zero init draws no random numbers, so loading leaves ``random`` untouched.
        """
        make: Callable[..., _M] = cls
        return make(**config, init="zeros")

    # ---------------------------------------------------------------- state and files (see nn.modelfile)

    def state_dict(self) -> dict[str, float]:
        """``{dotted name: value}`` for every parameter, in order."""
        return modelfile.state_dict(self)

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Set parameters from ``state`` (as made by ``state_dict``); all checked first, so an error changes nothing."""
        modelfile.load_state_dict(self, state)

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write architecture and parameters as JSON (never pickle), atomically."""
        modelfile.save_model(self, path)

    @classmethod
    def load(cls: type[_M], path: str | os.PathLike[str]) -> _M:
        """Rebuild a model saved with :meth:`save` (``MLP.load('model.json')``)."""
        return modelfile.load_model(path, cls)

    def restore(self, path: str | os.PathLike[str]) -> None:
        """Load parameters saved with :meth:`save` into this model, whose architecture must be the file's."""
        modelfile.restore_model(self, path)
