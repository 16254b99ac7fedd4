"""Tracing: record a function of ``Value``\\ s once, as a small readable IR.

``f = jit(fn)`` calls ``fn`` once on *placeholder* inputs: ``Value``\\ s whose
``data`` is nan. nan passes every domain check and flows through every op, so
the call records the graph's structure and nothing else. Each leaf of the
recorded graph is one of

* an **input**     -- a placeholder made for one of ``fn``'s arguments (per sample),
* a **constant**   -- a number ``fn`` itself introduced (the ``2`` in ``x * 2``),
* a **parameter**  -- a ``Value`` that existed before the call (an MLP's weights):
  shared by every sample, and read afresh at every call, since training changes it.

The recorded graph prints in the spirit of JAX's ``make_jaxpr``, one equation
per op, children before parents::

    >>> from microgradx import Value
    >>> from microgradx.jit import jit
    >>> w = Value(0.5, label="w")
    >>> print(jit(lambda x: (w * x + 1.0).tanh()).trace(0.0))
    { lambda ; x .  params: w  consts: c0=1.0
      %0 = mul w x
      %1 = add %0 c0
      %2 = tanh %1
      return %2 }

Calling ``f`` with numpy arrays runs the recorded graph for every sample at
once (see ``compile.py``). A Python ``if`` on a ``Value`` cannot be recorded:
the trace would keep one branch for every sample, so it raises
:class:`~microgradx.engine.TracingError`.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import engine
from .engine import TracingError, Value
from .ops import Op, format_param

__all__ = ["jit", "Jitted", "Trace", "Node", "trace", "compile_loss"]

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
    v.data, v.grad, v.label, v._prev, v._op = math.nan, 0.0, label, (), None
    return v


def _reading_order(outputs: Sequence[Value]) -> list[Value]:
    """Every node the outputs depend on, children first, first arguments before later ones.

    Like ``graph.topological_order`` (an explicit stack, so deep graphs are fine),
    but exploring the *first* argument first, so the IR reads in the order the
    function was written: ``w.0 * x[0]`` comes before ``w.1 * x[1]``.
    """
    order: list[Value] = []
    done: set[int] = set()
    stack: list[tuple[Value, bool]] = [(o, False) for o in reversed(outputs)]
    while stack:
        node, expanded = stack.pop()
        if id(node) in done:
            continue
        if expanded:
            done.add(id(node))
            order.append(node)
        else:
            stack.append((node, True))
            stack.extend((c, False) for c in reversed(node._prev) if id(c) not in done)
    return order


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

    saved = (engine.MODE.tracing, engine.MODE.trace_leaves, engine.MODE.grad_enabled)
    created: list[Value] = []
    engine.MODE.tracing, engine.MODE.trace_leaves, engine.MODE.grad_enabled = True, created, True
    try:
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
    finally:
        engine.MODE.tracing, engine.MODE.trace_leaves, engine.MODE.grad_enabled = saved

    if isinstance(out, Value):
        outputs, kind = [out], "value"
    elif isinstance(out, (tuple, list)) and out and all(isinstance(o, Value) for o in out):
        outputs, kind = list(out), ("tuple" if isinstance(out, tuple) else "list")
    else:
        raise TypeError(f"{fn_name} must return a Value or a non-empty tuple/list of Values, got "
                        f"{type(out).__name__}: build the result from the Value arguments it receives")

    order = _reading_order(outputs)
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


def _single_list_argument(fn: Callable[..., Any], k: int) -> bool:
    """Does ``fn`` take one 2-D array as one list argument (``mlp(x)``) rather than ``k`` scalars?"""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return True
    params = list(sig.parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    var = any(p.kind == p.VAR_POSITIONAL for p in params)
    spread = (k > 1 and len(required) == k) or (var and not positional)
    return not spread


class Jitted:
    """``jit(fn)``: ``fn`` traced once per argument structure, then run on whole batches.

    * ``f(*arrays)`` -- every output for every sample, arrays of shape ``(batch,)``.
      Pass one array of shape ``(batch,)`` per scalar argument, a 2-D array
      ``(batch, k)`` (or a list of ``k`` such 1-D arrays) for a list argument,
      or, for a function of ``k`` scalars, one 2-D array whose columns are them.
    * ``f.value_and_grad(*arrays, reduction="mean")`` -- the loss reduced over the
      batch and the gradients of the shared parameters (see ``compile.py``).
    * ``f.trace(*args)`` -- the :class:`Trace`; ``print`` it to read the graph.
    """

    def __init__(self, fn: Callable[..., Any]) -> None:
        if not callable(fn):
            raise TypeError(f"jit needs a function, got {type(fn).__name__}")
        self.fn = fn
        self._programs: dict[tuple[Any, ...], Any] = {}
        self.__name__ = f"jit({getattr(fn, '__name__', 'fn')})"
        self.__doc__ = getattr(fn, "__doc__", None)

    # ------------------------------------------------------------ argument structure

    def _structure(self, args: tuple[Any, ...]) -> tuple[tuple[Any, ...], list[np.ndarray]]:
        """Per argument None (scalar) or a list length, and the per-input columns as 1-D arrays."""
        if not args:
            raise TypeError(f"{self.__name__} needs at least one input array")
        if len(args) == 1:
            a = args[0]
            arr = a if isinstance(a, np.ndarray) else None
            if arr is None and not isinstance(a, (list, tuple)):
                arr = np.asarray(a, dtype=float)
            if arr is not None and arr.ndim == 2:
                k = arr.shape[1]
                columns = [arr[:, j] for j in range(k)]
                if _single_list_argument(self.fn, k):
                    return (k,), columns
                return (None,) * k, columns
        structure: list[Any] = []
        cols: list[np.ndarray] = []
        for pos, a in enumerate(args):
            if isinstance(a, (list, tuple)):
                parts = [np.asarray(c, dtype=float) for c in a]
                if parts and all(p.ndim == 0 for p in parts):
                    parts = [np.asarray([c], dtype=float) for c in a]  # one sample as a list of numbers
                if any(p.ndim != 1 for p in parts):
                    raise ValueError(f"argument {pos}: a list argument must hold 1-D arrays of shape (batch,)")
                structure.append(len(parts))
                cols.extend(parts)
                continue
            arr = np.asarray(a, dtype=float)
            if arr.ndim == 0:
                arr = arr.reshape(1)
            if arr.ndim == 2:
                structure.append(arr.shape[1])
                cols.extend(arr[:, j] for j in range(arr.shape[1]))
            elif arr.ndim == 1:
                structure.append(None)
                cols.append(arr)
            else:
                raise ValueError(f"argument {pos} has shape {arr.shape}: pass (batch,) per scalar argument "
                                 "or (batch, k) for a list argument")
        return tuple(structure), cols

    def program(self, *args: Any) -> Any:
        """The compiled program for these arguments' structure (traced on first use, then cached)."""
        structure, _ = self._structure(args)
        return self._program_for(structure)

    def _program_for(self, structure: tuple[Any, ...]) -> Any:
        prog = self._programs.get(structure)
        if prog is None:
            from .compile import Program

            prog = Program(trace(self.fn, structure))
            self._programs[structure] = prog
        return prog

    def trace(self, *args: Any) -> Trace:
        """The trace for arguments shaped like ``args`` (numbers, arrays or lists)."""
        return self.program(*args).trace

    # ------------------------------------------------------------ running

    def __call__(self, *args: Any, params: np.ndarray | None = None) -> Any:
        structure, cols = self._structure(args)
        return self._program_for(structure).run(cols, params)

    def value_and_grad(self, *args: Any, reduction: str = "mean", output: int = 0, write_grad: bool = True,
                       params: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """``(loss, grads)``: output ``output`` reduced over the batch, and ∂loss/∂param per parameter.

        ``reduction="mean"``: loss = (1/B) Σ_b f(x_b), so a term that does not
        depend on the inputs (an L2 penalty written inside ``fn``) counts once;
        ``"sum"``: loss = Σ_b f(x_b). ``grads[k]`` belongs to ``self.params(...)[k]``.
        With ``write_grad`` each parameter's ``.grad`` is increased by its gradient,
        exactly as ``loss.backward()`` would, so an optimizer step follows unchanged.

        ``params``: a vector of parameter values (ordered like ``self.params()``) to
        use instead of reading every ``.data``; for large models trained by an
        optimizer that keeps its own numpy copy (write it back with ``set_params``).
        """
        structure, cols = self._structure(args)
        return self._program_for(structure).value_and_grad(cols, reduction=reduction, output=output,
                                                            write_grad=write_grad, params=params)

    def params(self, *args: Any) -> list[Value]:
        """The shared parameters found by tracing, in the order of ``value_and_grad``'s gradients.

        (The order is the compiled program's row layout, not necessarily ``model.parameters()``'s.)
        """
        return self.program(*args).params

    def param_vector(self, *args: Any) -> np.ndarray:
        """The parameters' current values as one vector, ordered like ``self.params(*args)``."""
        return self.program(*args).param_vector()

    def set_params(self, vector: np.ndarray, *args: Any) -> None:
        """Write a parameter vector (ordered like ``self.params(*args)``) back into the Values."""
        self.program(*args).set_params(vector)

    def __repr__(self) -> str:
        return f"<{self.__name__}: {len(self._programs)} trace(s) cached>"


def jit(fn: Callable[..., Any]) -> Jitted:
    """Trace ``fn`` (a function of scalar ``Value``\\ s) once; run it on numpy batches.

    >>> import numpy as np
    >>> from microgradx import Value
    >>> w = Value(2.0, label="w")
    >>> f = jit(lambda x: w * x * x)
    >>> f(np.array([1.0, 2.0, 3.0]))
    array([ 2.,  8., 18.])
    """
    return Jitted(fn)


def compile_loss(model: Callable[[list[Value]], Any], loss_fn: Callable[[Any, Any], Value]) -> Jitted:
    """The per-sample loss ``loss_fn(model(x), y)``, jitted: what ``fit(..., compiled=True)`` runs.

    ``x`` is one sample's feature list, ``y`` its target (a Value, or a list of
    Values for a one-hot or multi-output target). One training step is::

        step = compile_loss(model, loss_fn)        # once
        optimizer.zero_grad()
        loss, _ = step.value_and_grad(X, Y)        # X: (batch, n_in); Y: (batch,) or (batch, k)
        optimizer.step()                           # reads each parameter's .grad as usual

    With the default ``reduction="mean"`` the loss is the batch mean, and a penalty
    that ``loss_fn`` adds (it does not depend on x, y) counts once.
    """

    def per_sample_loss(x: list[Value], y: Any) -> Value:
        return loss_fn(model(x), y)

    jitted = jit(per_sample_loss)
    jitted.__name__ = f"compile_loss({getattr(loss_fn, '__name__', 'loss')})"
    return jitted
