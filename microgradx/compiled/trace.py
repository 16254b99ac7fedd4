"""Tracing: record a function of ``Value``\\ s once, as a small readable IR.

``trace(fn, structure)`` calls ``fn`` once on *placeholder* inputs: ``Value``\\ s whose
``data`` is unknown (:data:`~microgradx.modes.UNKNOWN`: arithmetic on it gives it back; a
comparison, ``float()`` or ``math.*`` of it raises :class:`~microgradx.modes.TracingError`).
While tracing, the engine records structure only (it computes and checks nothing), so the
call records the graph and nothing else. Each leaf of the
recorded graph is one of

* an **input**     -- a placeholder made for one of ``fn``'s arguments (per sample),
* a **constant**   -- a number ``fn`` itself introduced (the ``2`` in ``x * 2``),
* a **parameter**  -- a ``Value`` that existed before the call (an MLP's weights, or an
  ``h = w * 3`` computed before it): shared by every sample, and read afresh at every
  call, since training changes it; never recomputed from its own inputs.
* a **constant** too -- a number an op lifted into a Value before the call.

The recorded graph prints in the spirit of JAX's ``make_jaxpr``, one equation
per op, children before parents (see ``jit.py`` for an example). A Python ``if``
on a ``Value`` or on its number cannot be recorded: the trace would keep one branch
for every sample, so it raises :class:`~microgradx.engine.TracingError`. Neither can an op
built micrograd's way (``Value(data, (x,), 'sin')`` with a ``_backward`` closure):
a closure of floats cannot run on a batch. A gradient taken inside the function
(``mx.grad``) is recorded as ops like any other.

The IR is compact -- a trace of an MNIST-sized MLP has half a million nodes -- so
it is kept as numpy arrays: per node its kind, its op (an index into ``ops``) and
its two argument indices. Names (``%7``, ``w.0.1``, ``c0``) are made when the
trace is printed or a :class:`Node` is looked at, not stored.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..engine import Constant, Value
from ..modes import UNKNOWN, TracingError, gc_paused, tracing
from ..ops import Op, format_param

__all__ = ["Trace", "Node", "trace", "INPUT", "PARAM", "CONST", "OP", "KINDS"]

INPUT, PARAM, CONST, OP = "input", "param", "const", "op"
KINDS = (INPUT, PARAM, CONST, OP)  # Trace.kind holds each node's position in this tuple
K_INPUT, K_PARAM, K_CONST, K_OP = range(4)


@dataclass(slots=True)
class Node:
    """One node of a trace, as read back from it: a leaf (input, param, const) or an op applied to earlier nodes."""

    kind: str                  # INPUT, PARAM, CONST or OP
    name: str                  # how the IR text refers to it: x, w.0.1, c0, %3
    op: Op | None = None
    args: tuple[int, ...] = ()  # indices of earlier nodes, in argument order
    label: str | None = None   # the Value's label (op nodes labelled by nn: a neuron's name)
    value: float = math.nan    # a constant's number


@dataclass(eq=False)
class Trace:
    """The graph ``fn`` built, in topological order, with its inputs, parameters and outputs.

    Node ``i`` has kind ``KINDS[kind[i]]``; an op node applies ``ops[op[i]]`` to the
    nodes ``args[i]`` (``-1`` where the op takes one argument), which are all below
    ``i``. ``params`` holds the parameter ``Value`` objects themselves (read at call
    time); ``param_nodes[k]`` is the node index of ``params[k]`` (ascending).
    """

    kind: np.ndarray                  # int8 per node
    op: np.ndarray                    # int32 per node: index into ops, -1 for a leaf
    args: np.ndarray                  # int32 (n, 2)
    ops: list[Op]
    input_nodes: list[int]
    param_nodes: np.ndarray           # int per parameter
    params: list[Value]
    outputs: list[int]
    output_kind: str                  # "value", "tuple" or "list"
    structure: tuple[Any, ...]        # per argument: None (scalar) or the list length
    fn_name: str = "fn"
    input_labels: list[str] | None = None  # per input node (the placeholder's name)
    op_labels: dict[int, str] | None = None  # op nodes with a label (nn: a neuron's output)
    const_nodes: np.ndarray | None = None   # the constant nodes, ascending
    const_values: np.ndarray | None = None  # and their numbers

    @property
    def n_nodes(self) -> int:
        return len(self.kind)

    @property
    def n_ops(self) -> int:
        """How many op equations the trace has."""
        return int(np.count_nonzero(self.kind == K_OP))

    @property
    def nodes(self) -> _Nodes:
        """The nodes as :class:`Node` records (made on access; the trace stores arrays)."""
        return _Nodes(self)

    # ---------------------------------------------------------------- names, made when asked

    def _leaf_names(self) -> dict[int, str]:
        """Input and parameter names: their labels, made unique (``w``, ``w#1``) in node order."""
        param_nodes = np.asarray(self.param_nodes).tolist()
        labels = dict(zip(self.input_nodes, self.input_labels or (), strict=False))
        labels.update(zip(param_nodes, (p.label for p in self.params), strict=True))
        param_pos = {i: k for k, i in enumerate(param_nodes)}
        used: dict[str, int] = {}
        names = {}
        for i in sorted(labels):
            name = labels[i] or (f"p{param_pos[i]}" if i in param_pos else f"x{i}")
            k = used.get(name, 0)
            used[name] = k + 1
            names[i] = name if k == 0 else f"{name}#{k}"
        return names

    def names(self) -> list[str]:
        """Every node's name: ``%k`` for the k-th op, ``c<k>`` for a constant, labels for the leaves."""
        kind = self.kind
        names = [""] * len(kind)
        for k, i in enumerate(np.flatnonzero(kind == K_OP).tolist()):
            names[i] = f"%{k}"
        for k, i in enumerate(self.constants()[0].tolist()):
            names[i] = f"c{k}"
        for i, name in self._leaf_names().items():
            names[i] = name
        return names

    def constants(self) -> tuple[np.ndarray, np.ndarray]:
        """The constant nodes (ascending) and their numbers."""
        if self.const_nodes is None or self.const_values is None:
            return np.zeros(0, np.intp), np.zeros(0)
        return self.const_nodes, self.const_values

    def node(self, i: int, names: Sequence[str] | None = None) -> Node:
        """Node ``i`` as a record (``names``: from :meth:`names`, when reading many nodes)."""
        i = int(i)
        kind = KINDS[int(self.kind[i])]
        if names is not None:
            name = names[i]
        elif kind == OP:
            name = f"%{int(np.count_nonzero(self.kind[:i] == K_OP))}"
        elif kind == CONST:
            name = f"c{int(np.searchsorted(self.constants()[0], i))}"
        else:
            name = self._leaf_names()[i]
        if kind == OP:
            a, b = self.args[i].tolist()
            return Node(OP, name, self.ops[int(self.op[i])], (a,) if b < 0 else (a, b),
                        (self.op_labels or {}).get(i))
        if kind == CONST:
            nodes, values = self.constants()
            return Node(CONST, name, value=float(values[int(np.searchsorted(nodes, i))]))
        if kind == PARAM:
            label = self.params[int(np.searchsorted(self.param_nodes, i))].label
        else:
            label = (self.input_labels or [""] * len(self.input_nodes))[self.input_nodes.index(i)]
        return Node(kind, name, label=label or None)

    # ---------------------------------------------------------------- text

    def equations(self, names: Sequence[str] | None = None) -> list[str]:
        """One line per op: ``%7 = mul %3 w.0.1``, with ``[p=2]`` for an op's parameter."""
        names = self.names() if names is None else names
        heads = [op.name if op.param is None else f"{op.name}[p={format_param(op.param)}]" for op in self.ops]
        op_labels = self.op_labels or {}
        ops, args = self.op.tolist(), self.args.tolist()
        lines = []
        for i in np.flatnonzero(self.kind == K_OP).tolist():
            a, b = args[i]
            operands = names[a] if b < 0 else f"{names[a]} {names[b]}"
            note = f"    # {op_labels[i]}" if i in op_labels else ""
            lines.append(f"{names[i]} = {heads[ops[i]]} {operands}{note}")
        return lines

    def __str__(self) -> str:
        names = self.names()
        inputs = " ".join(names[i] for i in self.input_nodes)
        params = " ".join(names[i] for i in np.asarray(self.param_nodes).tolist())
        consts = " ".join(f"{names[i]}={v!r}" for i, v in zip(*(a.tolist() for a in self.constants()), strict=True))
        head = f"{{ lambda ; {inputs} ."
        if params:
            head += f"  params: {params}"
        if consts:
            head += f"  consts: {consts}"
        outs = ", ".join(names[i] for i in self.outputs)
        if self.output_kind == "tuple":
            outs = f"({outs}{',' if len(self.outputs) == 1 else ''})"
        elif self.output_kind == "list":
            outs = f"[{outs}]"
        body = [f"  {line}" for line in self.equations(names)]
        return "\n".join([head, *body, f"  return {outs} }}"])

    def __repr__(self) -> str:
        return (f"<Trace of {self.fn_name}: {len(self.input_nodes)} inputs, {len(self.params)} params, "
                f"{self.n_ops} ops, {len(self.outputs)} outputs>")


class _Nodes(Sequence[Node]):
    """``trace.nodes``: a read-only sequence of :class:`Node` records, made on access."""

    def __init__(self, trace: Trace) -> None:
        self._trace = trace

    def __len__(self) -> int:
        return self._trace.n_nodes

    def __getitem__(self, i: Any) -> Any:
        if isinstance(i, slice):
            names = self._trace.names()
            return [self._trace.node(k, names) for k in range(*i.indices(len(self)))]
        if not -len(self) <= i < len(self):
            raise IndexError(f"node {i} is out of range: the trace has {len(self)} nodes")
        return self._trace.node(i % len(self))

    def __iter__(self) -> Iterator[Node]:
        names = self._trace.names()
        return (self._trace.node(i, names) for i in range(len(self)))


# -------------------------------------------------------------------- tracing


def _placeholder(label: str) -> Value:
    """A Value holding the unknown number, created without ``Value.__init__`` (which wants a number)."""
    v = object.__new__(Value)
    v.data = UNKNOWN  # type: ignore[assignment]  # the one place a Value's data is not a float
    v.grad, v.label, v._mark = 0.0, label, None
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


def _placeholders(fn: Callable[..., Any], structure: tuple[Any, ...]) -> tuple[list[Any], list[Value]]:
    """``fn``'s call arguments (a placeholder, or a list of them, per argument) and every placeholder."""
    call_args: list[Any] = []
    placeholders: list[Value] = []
    for name, s in zip(_arg_names(fn, len(structure)), structure, strict=True):
        if s is None:
            v = _placeholder(name)
            placeholders.append(v)
            call_args.append(v)
        else:
            vs = [_placeholder(f"{name}[{k}]") for k in range(s)]
            placeholders.extend(vs)
            call_args.append(vs)
    return call_args, placeholders


def _call(fn: Callable[..., Any], fn_name: str, call_args: list[Any], created: _Constants) -> Any:
    """``fn(*call_args)`` with the engine recording structure only; errors explained for jit's users."""
    try:
        with tracing(created):
            return fn(*call_args)
    except TracingError as e:
        raise TracingError(f"while tracing {fn_name}: {e}") from None
    except (TypeError, ValueError) as e:
        if "finite, got nan" in str(e):
            raise TracingError(
                f"while tracing {fn_name}: {e}. While jit traces, the inputs are placeholders holding nan, "
                "so reading x.data or float(x) and making a new number from it cannot be recorded (nor can "
                "an op built micrograd's way, Value(data, (x,), 'op') with a _backward closure). "
                "Build the result from the Value arguments with Value operations only "
                "(the op table's methods: x.sin(), x.apply(OPS[name]), ...).") from None
        raise


def _outputs(out: Any, fn_name: str) -> tuple[list[Value], str]:
    if isinstance(out, Value):
        return [out], "value"
    if isinstance(out, (tuple, list)) and out and all(isinstance(o, Value) for o in out):
        return list(out), ("tuple" if isinstance(out, tuple) else "list")
    raise TypeError(f"{fn_name} must return a Value or a non-empty tuple/list of Values, got "
                    f"{type(out).__name__}: build the result from the Value arguments it receives")


def trace(fn: Callable[..., Any], structure: Sequence[int | None]) -> Trace:
    """Run ``fn`` on placeholders and record its graph.

    ``structure`` gives one entry per argument: ``None`` for a scalar ``Value``
    argument, an int ``k`` for a list of ``k`` Values (as an MLP takes ``x``).
    """
    structure = tuple(structure)
    call_args, placeholders = _placeholders(fn, structure)
    fn_name = getattr(fn, "__name__", type(fn).__name__)
    created = _Constants()
    # The graph is built and walked with the cyclic GC paused: it makes no cycles, and the
    # collector would only rescan the growing graph (about 1.6x the time of tracing).
    with gc_paused():
        outputs, output_kind = _outputs(_call(fn, fn_name, call_args, created), fn_name)
        order, leaf_index = _order(outputs)
        tr = _record(order, leaf_index, outputs, placeholders, created, fn_name)
    tr.output_kind, tr.structure = output_kind, structure
    return tr


def _order(outputs: list[Value]) -> tuple[list[Value], dict[int, int]]:
    """The traced graph, children before parents, first argument first; and each leaf's position by id.

    The same depth-first order as ``graph.topological_order(..., first_argument_first=True)``, with two
    differences. Only the op nodes made while tracing are entered: a Value that existed before the
    call is a leaf of the trace even if it has inputs (``h = w * 3`` made outside is read as a parameter,
    its number as it is at each call, as eager code reads it). And leaves are remembered by id, never
    marked in their ``_mark`` slot: parameters are shared, and another thread's ``backward()`` may be
    marking them at this moment.
    """
    order: list[Value] = []
    leaf_index: dict[int, int] = {}
    entered, done = object(), object()
    stack: list[Any] = list(reversed(outputs))
    pop, push, emit = stack.pop, stack.append, order.append
    while stack:
        node = pop()
        op = node._op
        # A leaf of the trace unless an op made it while tracing: then its number is unknown (a user-defined
        # op is entered too, to be refused by name).
        if op is None or (node.data is not UNKNOWN and not op.user_defined):
            if id(node) not in leaf_index:
                leaf_index[id(node)] = len(order)
                emit(node)
            continue
        mark = node._mark
        if mark is done:  # reached again by another path
            continue
        if mark is entered:  # back from its inputs: all are done
            node._mark = done
            emit(node)
            continue
        node._mark = entered
        push(node)
        if node._y is not None:  # explore the first argument first: push it last
            push(node._y)
        push(node._x)
    return order, leaf_index


def _record(order: list[Any], leaf_index: dict[int, int], outputs: list[Any], placeholders: list[Value],
            created: list[Value], fn_name: str) -> Trace:
    """The compact IR of the walked graph ``order`` (children before parents).

    Each op node's index is written into its ``_mark`` slot as it is reached (its inputs,
    earlier in ``order``, already have theirs): a slot read instead of a dict lookup per
    edge. These nodes were made by this trace, so no other walk is using the slot; graph
    walks start from fresh mark objects, so an index left there reads as "not visited" to
    them. Leaves (shared) are found by id in ``leaf_index``.
    """
    n = len(order)
    codes: dict[int, int] = {}  # id(op) -> its index in ops
    ops: list[Op] = []
    op_of, first, second = [-1] * n, [-1] * n, [-1] * n
    op_labels: dict[int, str] = {}
    leaves: list[int] = []
    leaf_at = leaf_index.get
    for i, v in enumerate(order):
        if leaf_at(id(v)) == i:
            leaves.append(i)
            continue
        v._mark = i
        x = v._x
        op = v._op
        code = codes.get(id(op))
        if code is None:
            code = codes[id(op)] = len(ops)
            ops.append(op)
        op_of[i] = code
        k = leaf_at(id(x))
        first[i] = x._mark if k is None else k
        y = v._y
        if y is not None:
            k = leaf_at(id(y))
            second[i] = y._mark if k is None else k
        if v.label:
            op_labels[i] = v.label
    _refuse_user_defined(ops, fn_name)
    args = np.empty((n, 2), np.int32)
    args[:, 0], args[:, 1] = first, second
    op_type = np.int16 if len(ops) < 2**15 else np.int32
    tr = Trace(np.full(n, K_OP, np.int8), np.array(op_of, op_type), args, ops, [], np.zeros(0, np.int32), [],
               [leaf_at(id(o), o._mark) for o in outputs], "value", (), fn_name, op_labels=op_labels)
    _record_leaves(tr, order, leaf_index, leaves, placeholders, created)
    return tr


def _refuse_user_defined(ops: list[Op], fn_name: str) -> None:
    for op in ops:
        if op.user_defined:
            raise TracingError(
                f"while tracing {fn_name}: the op {str(op)!r} was built micrograd's way, Value(data, (x,), "
                f"{str(op)!r}) with a _backward closure; jit cannot run a closure of floats on a batch. "
                "Use the op table's method instead (x.sin(), x.tanh(), x.apply(OPS[name]), ...), "
                "or add the op as a row of the op table.")


def _record_leaves(tr: Trace, order: list[Value], leaf_index: dict[int, int], leaves: list[int],
                   placeholders: list[Value], created: list[Value]) -> None:
    """Sort the leaves into inputs (the placeholders), constants and parameters (the rest).

    A constant is a number made into a Value while tracing (the ``2`` in ``x * 2``), or one an op
    lifted before the call (a :class:`~microgradx.engine.Constant`): never a trainable parameter.
    """
    input_nodes = [leaf_index.get(id(v)) for v in placeholders]
    consts = sorted({leaf_index[id(v)] for v in created if id(v) in leaf_index}
                    | {i for i in leaves if type(order[i]) is Constant})
    leaf = np.zeros(len(order), bool)
    leaf[leaves] = True
    leaf[[i for i in input_nodes if i is not None]] = False
    leaf[consts] = False
    param_nodes = np.flatnonzero(leaf).astype(np.int32)
    params = [order[i] for i in param_nodes.tolist()]
    lost = [v for v in params if v.data is UNKNOWN or math.isnan(v.data)]
    if lost:
        label = f" ({lost[0].label})" if lost[0].label else ""
        raise TracingError(
            f"while tracing {tr.fn_name}: a leaf Value holding {'nan' if lost[0].data is not UNKNOWN else 'no number'}"
            f"{label}. "
            "Either it was made from the inputs and lost its history (computed under no_grad(), or copied "
            "as a new leaf), so jit cannot tell how it depends on the inputs: compute it with Value "
            "operations outside no_grad(); or it is a parameter whose data is nan: give it a finite value.")
    tr.kind[[i for i in input_nodes if i is not None]] = K_INPUT
    tr.kind[consts] = K_CONST
    tr.kind[param_nodes] = K_PARAM
    # An input fn never used is not in the graph; keep a node for it so arrays line up.
    missing = [k for k, i in enumerate(input_nodes) if i is None]
    if missing:
        n = len(tr.kind)
        tr.kind = np.concatenate([tr.kind, np.full(len(missing), K_INPUT, np.int8)])
        tr.op = np.concatenate([tr.op, np.full(len(missing), -1, np.int32)])
        tr.args = np.concatenate([tr.args, np.full((len(missing), 2), -1, np.int32)])
        for j, k in enumerate(missing):
            input_nodes[k] = n + j
    tr.input_nodes = [int(i) for i in input_nodes if i is not None]
    tr.param_nodes, tr.params = param_nodes, params
    tr.input_labels = [v.label for v in placeholders]
    tr.const_nodes = np.array(consts, np.intp)
    tr.const_values = np.array([order[i].data for i in consts], float)
