"""Tracing: record a function of ``Value``\\ s once, as a small readable IR.

``trace(fn, structure)`` calls ``fn`` once on *placeholder* inputs: ``Value``\\ s whose
``data`` is nan. nan passes every domain check and flows through every op, so
the call records the graph's structure and nothing else. Each leaf of the
recorded graph is one of

* an **input**     -- a placeholder made for one of ``fn``'s arguments (per sample),
* a **constant**   -- a number ``fn`` itself introduced (the ``2`` in ``x * 2``),
* a **parameter**  -- a ``Value`` that existed before the call (an MLP's weights):
  shared by every sample, and read afresh at every call, since training changes it.

The recorded graph prints in the spirit of JAX's ``make_jaxpr``, one equation
per op, children before parents (see ``jit.py`` for an example). A Python ``if``
on a ``Value`` cannot be recorded: the trace would keep one branch for every
sample, so it raises :class:`~microgradx.engine.TracingError`.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..engine import Value
from ..graph import topological_order
from ..modes import TracingError, tracing
from ..ops import Op, format_param

__all__ = ["Trace", "Node", "trace", "INPUT", "PARAM", "CONST", "OP"]

INPUT, PARAM, CONST, OP = "input", "param", "const", "op"


@dataclass(slots=True)
class Node:
    """One node of a trace: a leaf (input, param, const) or an op applied to earlier nodes."""

    kind: str                  # INPUT, PARAM, CONST or OP
    name: str                  # how the IR text refers to it: x, w.0.1, c0, %3
    op: Op | None = None
    args: tuple[int, ...] = ()  # indices of earlier nodes, in argument order
    label: str | None = None   # the Value's label (op nodes labelled by nn: a neuron's name)
    value: float = math.nan    # a constant's number


@dataclass
class Trace:
    """The graph ``fn`` built, in topological order, with its inputs, parameters and outputs.

    ``nodes[i].args`` only refer to indices below ``i``. ``params`` holds the
    parameter ``Value`` objects themselves (read at call time);
    ``param_nodes[k]`` is the node index of ``params[k]``.
    """

    nodes: list[Node]
    input_nodes: list[int]
    param_nodes: list[int]
    params: list[Value]
    outputs: list[int]
    output_kind: str                  # "value", "tuple" or "list"
    structure: tuple[Any, ...]        # per argument: None (scalar) or the list length
    fn_name: str = "fn"
    _text: str | None = field(default=None, repr=False)

    @property
    def n_ops(self) -> int:
        """How many op equations the trace has."""
        return sum(1 for n in self.nodes if n.kind == OP)

    def equations(self) -> list[str]:
        """One line per op: ``%7 = mul %3 w.0.1``, with ``[p=2]`` for an op's parameter."""
        lines = []
        for n in self.nodes:
            if n.kind != OP:
                continue
            assert n.op is not None
            head = n.op.name if n.op.param is None else f"{n.op.name}[p={format_param(n.op.param)}]"
            args = " ".join(self.nodes[a].name for a in n.args)
            note = f"    # {n.label}" if n.label else ""
            lines.append(f"{n.name} = {head} {args}{note}")
        return lines

    def __str__(self) -> str:
        if self._text is None:
            inputs = " ".join(self.nodes[i].name for i in self.input_nodes)
            params = " ".join(self.nodes[i].name for i in self.param_nodes)
            consts = " ".join(f"{n.name}={n.value!r}" for n in self.nodes if n.kind == CONST)
            head = f"{{ lambda ; {inputs} ."
            if params:
                head += f"  params: {params}"
            if consts:
                head += f"  consts: {consts}"
            outs = ", ".join(self.nodes[i].name for i in self.outputs)
            if self.output_kind == "tuple":
                outs = f"({outs}{',' if len(self.outputs) == 1 else ''})"
            elif self.output_kind == "list":
                outs = f"[{outs}]"
            body = [f"  {line}" for line in self.equations()]
            self._text = "\n".join([head, *body, f"  return {outs} }}"])
        return self._text

    def __repr__(self) -> str:
        return (f"<Trace of {self.fn_name}: {len(self.input_nodes)} inputs, {len(self.params)} params, "
                f"{self.n_ops} ops, {len(self.outputs)} outputs>")


def _placeholder(label: str) -> Value:
    """A Value holding nan, created without ``Value.__init__`` (which rejects nan)."""
    v = object.__new__(Value)
    v.data, v.grad, v.label, v._mark = math.nan, 0.0, label, None
    v._op = v._x = v._y = None
    return v


class _Constants(list):  # type: ignore[type-arg]
    """The tracing hook: collects every number that became a Value while ``fn`` ran (its constants)."""

    def constant(self, value: Any) -> None:
        self.append(value)


def _arg_names(fn: Callable[..., Any], n: int) -> list[str]:
    """Names for the placeholders of ``n`` arguments: the parameter names where known."""
    try:
        params = list(inspect.signature(fn).parameters.values())
    except (TypeError, ValueError):
        params = []
    names: list[str] = []
    for p in params:
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append(p.name)
        elif p.kind == p.VAR_POSITIONAL:
            names.extend(f"{p.name}{k}" for k in range(n - len(names)))
    names = names[:n]
    names += [f"arg{k}" for k in range(len(names), n)]
    return names


def trace(fn: Callable[..., Any], structure: Sequence[int | None]) -> Trace:
    """Run ``fn`` on placeholders and record its graph.

    ``structure`` gives one entry per argument: ``None`` for a scalar ``Value``
    argument, an int ``k`` for a list of ``k`` Values (as an MLP takes ``x``).
    """
    structure = tuple(structure)
    names = _arg_names(fn, len(structure))
    call_args: list[Any] = []
    placeholders: list[Value] = []
    for name, s in zip(names, structure, strict=False):
        if s is None:
            v = _placeholder(name)
            placeholders.append(v)
            call_args.append(v)
        else:
            vs = [_placeholder(f"{name}[{k}]") for k in range(s)]
            placeholders.extend(vs)
            call_args.append(vs)
    fn_name = getattr(fn, "__name__", type(fn).__name__)

    created = _Constants()
    try:
        with tracing(created):
            out = fn(*call_args)
    except TracingError as e:
        raise TracingError(f"while tracing {fn_name}: {e}") from None
    except (TypeError, ValueError) as e:
        if "finite, got nan" in str(e):
            raise TracingError(
                f"while tracing {fn_name}: {e}. While jit traces, the inputs are placeholders holding nan, "
                "so reading x.data or float(x) and making a new number from it cannot be recorded. "
                "Build the result from the Value arguments with Value operations only.") from None
        raise

    if isinstance(out, Value):
        outputs, kind = [out], "value"
    elif isinstance(out, (tuple, list)) and out and all(isinstance(o, Value) for o in out):
        outputs, kind = list(out), ("tuple" if isinstance(out, tuple) else "list")
    else:
        raise TypeError(f"{fn_name} must return a Value or a non-empty tuple/list of Values, got "
                        f"{type(out).__name__}: build the result from the Value arguments it receives")

    order = topological_order(*outputs, first_argument_first=True)
    index = {id(v): i for i, v in enumerate(order)}
    placeholder_ids = {id(v): k for k, v in enumerate(placeholders)}
    constant_ids = {id(v) for v in created}
    nodes: list[Node] = []
    input_nodes: list[int | None] = [None] * len(placeholders)
    param_nodes: list[int] = []
    params: list[Value] = []
    used_names: dict[str, int] = {}
    n_consts = n_ops = 0

    def unique(name: str) -> str:
        k = used_names.get(name, 0)
        used_names[name] = k + 1
        return name if k == 0 else f"{name}#{k}"

    for i, v in enumerate(order):
        if v._prev:
            assert v._op is not None
            nodes.append(Node(OP, f"%{n_ops}", v._op, tuple(index[id(c)] for c in v._prev), v.label))
            n_ops += 1
        elif id(v) in placeholder_ids:
            input_nodes[placeholder_ids[id(v)]] = i
            nodes.append(Node(INPUT, unique(v.label or f"x{i}"), label=v.label))
        elif id(v) in constant_ids:
            nodes.append(Node(CONST, f"c{n_consts}", label=v.label, value=v.data))
            n_consts += 1
        elif math.isnan(v.data):
            raise TracingError(
                f"while tracing {fn_name}: a Value made from the inputs lost its history (it was computed "
                "under no_grad(), or copied as a new leaf), so jit cannot tell how it depends on the "
                "inputs. Compute it with Value operations outside no_grad().")
        else:
            param_nodes.append(i)
            params.append(v)
            nodes.append(Node(PARAM, unique(v.label or f"p{len(params) - 1}"), label=v.label))
    # An input fn never used is not in the graph; keep a node for it so arrays line up.
    for k, maybe in enumerate(input_nodes):
        if maybe is None:
            input_nodes[k] = len(nodes)
            nodes.append(Node(INPUT, unique(placeholders[k].label or f"x{k}"), label=placeholders[k].label))
    outputs_idx = [index[id(o)] for o in outputs]
    return Trace(nodes, [int(i) for i in input_nodes if i is not None], param_nodes, params, outputs_idx,
                 kind, structure, fn_name)
