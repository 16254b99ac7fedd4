"""Which drawn nodes belong to which nn neuron and layer, as ``nn`` says (``graph.Scope``), never from labels.

A module puts its :class:`~microgradx.graph.Scope` on its parameters and on the
Value it returns. A neuron's *group* is the nodes reachable backward from its
output without crossing another neuron's output or a leaf that is not its own
parameter. A loss over a batch calls the model once per sample, so one scope has
one output per sample: each sample's neuron is a group of its own, and the
parameters all samples share form a separate group, drawn once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..graph import Scope, scope_of, topological_order
from .flow import short_name


@dataclass(eq=False)
class Group:
    """Nodes drawn as one box: a neuron, a layer, or (in a batch) the parameters one neuron or layer shares."""

    name: str
    kind: str                      # "neuron", "layer", "params"
    scope: Scope
    members: list[Any] = field(default_factory=list)   # in topological order
    outputs: list[Any] = field(default_factory=list)   # the neuron outputs it stands for, in index order
    sample: int | None = None      # which call of the model (None: the graph calls it once)
    neurons: list[Group] = field(default_factory=list)  # a layer's neurons

    @property
    def output(self) -> Any:
        """A neuron's output (a layer's last neuron's: use ``outputs`` for all)."""
        return self.outputs[-1]

    @property
    def params(self) -> int:
        """How many parameters the box stands for."""
        return sum(1 for n in self.members if not n._prev)

    def title(self) -> str:
        """nn's name as a slide writes it (``layers.0.neurons.2`` is ``L0.n2``), and which sample when the
        model was called several times."""
        name = short_name(self.name)
        return name if self.sample is None else f"{name} · sample {self.sample}"


@dataclass
class Structure:
    """An nn model's groups in a graph: neurons and layers in model order (sample by sample), shared parameters."""

    neurons: list[Group]
    layers: list[Group]
    neuron_params: list[Group]   # one per neuron scope, when samples share them (else empty)
    layer_params: list[Group]
    samples: int                 # how many times the model was called (1 for a single output)


def written_order(root: Any) -> dict[Any, int]:
    """Each node's position in the order the expression was written (first argument first)."""
    return {n: i for i, n in enumerate(topological_order(root, first_argument_first=True))}


def _layer_scope(scope: Scope) -> Scope | None:
    parent = scope.parent
    return parent if parent is not None and parent.kind == "layer" else None


def _claim(out: Any, scope: Scope, outputs: set[Any], claimed: set[Any], with_params: bool) -> list[Any]:
    """The nodes of the neuron whose output is ``out``: backward from it, up to other outputs and foreign leaves."""
    members, stack, seen = [], [out], {out}
    while stack:
        node = stack.pop()
        claimed.add(node)
        members.append(node)
        for child in node._prev:
            if child in seen or child in claimed or child in outputs:
                continue
            if not child._prev and not (with_params and scope_of(child) is scope):
                continue
            seen.add(child)
            stack.append(child)
    return members


def _by_scope(order: list[Any]) -> tuple[dict[Scope, list[Any]], dict[Scope, list[Any]]]:
    """Neuron outputs and neuron parameters, each by the scope nn gave them."""
    outputs: dict[Scope, list[Any]] = {}
    params: dict[Scope, list[Any]] = {}
    for n in order:
        sc = scope_of(n)
        if sc is not None and sc.kind == "neuron":
            (outputs if n._prev else params).setdefault(sc, []).append(n)
    return outputs, params


def model_structure(order: list[Any], root: Any,
                    written: Callable[[], dict[Any, int]] | None = None) -> Structure:
    """The neurons and layers of the nn model(s) that computed ``root``; empty lists when nn made none of it.

    ``written()`` gives each node's place in the order the code wrote it (asked for only when the model
    was called several times; by default :func:`written_order`).
    """
    outputs, params = _by_scope(order)
    samples = max((len(v) for v in outputs.values()), default=1)
    if samples > 1:  # the k-th call of the model is sample k: number outputs in the order the code wrote them
        position_written = written() if written is not None else written_order(root)
        for outs in outputs.values():
            outs.sort(key=position_written.__getitem__)
    is_output = {n for outs in outputs.values() for n in outs}
    claimed: set[Any] = set()
    position = {n: i for i, n in enumerate(order)}
    neurons = []
    for scope, outs in outputs.items():
        for k, out in enumerate(outs):
            members = _claim(out, scope, is_output, claimed, with_params=samples == 1)
            members.sort(key=position.__getitem__)
            neurons.append(Group(scope.name, "neuron", scope, members, [out], k if samples > 1 else None))
    neurons.sort(key=lambda g: (g.sample or 0, g.scope.path))
    neuron_params = [] if samples == 1 else [
        Group(sc.name, "params", sc, sorted(ps, key=position.__getitem__)) for sc, ps in params.items()]
    neuron_params.sort(key=lambda g: g.scope.path)
    layers = _layers(neurons, position)
    layer_params = _layers(neuron_params, position, kind="params")
    return Structure(neurons, layers, neuron_params, layer_params, samples)


def _layers(neurons: list[Group], position: dict[Any, int], kind: str = "layer") -> list[Group]:
    """Neuron groups gathered by layer (and sample), in model order."""
    layers: dict[tuple[Any, int | None], Group] = {}
    for g in neurons:
        layer = _layer_scope(g.scope)
        key = (layer if layer is not None else g.scope, g.sample)
        if key not in layers:
            scope = layer if layer is not None else g.scope
            layers[key] = Group(scope.name if layer is not None else "layer", kind, scope, sample=g.sample)
        box = layers[key]
        box.neurons.append(g)
        box.members.extend(g.members)
        box.outputs.extend(g.outputs)
    for box in layers.values():
        box.members.sort(key=position.__getitem__)
    return list(layers.values())


def neuron_groups(order: list[Any]) -> tuple[list[Group], list[Group]]:
    """Neurons and layers, as ``nn`` marked them (``graph.Scope``), in model order."""
    s = model_structure(order, order[-1]) if order else Structure([], [], [], [], 1)
    return s.neurons, s.layers
