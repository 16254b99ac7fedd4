"""The compiled executor: run a :class:`~.schedule.Schedule` forward and backward with numpy, for a whole batch.

Two buffers hold every value: U ``(n_uniform, 1)`` for what is the same for every
sample (parameters, constants, an L2 penalty), V ``(n_varying, batch)`` for the
rest, one column per sample (``schedule.py`` says which node has which row).

**Forward.** Each group is three numpy steps: read its inputs (a view when the
rows are contiguous), ``op.forward(ops.NUMPY, *inputs)``, store its rows. A
matrix-product group is ``W @ X`` plus its other terms. A run (a deep chain of
one-node levels) is stepped through node by node, one numpy call per node.

**Backward.** The groups in reverse. A group's output gradient ``g`` (rows of
the gradient buffer) times the op table's local derivatives
``op.local(ops.NUMPY, out, *inputs)`` is each input's contribution, added into
the input rows (with a segment sum where one node feeds the group several
times). A uniform input's contribution is summed over the batch: that is how a
parameter's gradient collects every sample's share, ∂L/∂w = Σ_b ∂L/∂w_b.

**Checks, as the eager engine makes them.** Inputs and parameters must be
finite (checked on entry, naming the input, sample or parameter). An op's
domain is checked per group before it runs. Every value the forward pass
computed must be finite: if not, the first group in execution order holding a
non-finite value is where it overflowed (its inputs were finite), and that op,
node and sample are named. Every parameter gradient must be finite: if not, the
backward pass is replayed with a check after each group to name where it broke.
All of these raise :class:`~microgradx.ops.DomainError`; no gradient is returned
or written into ``.grad`` unless every one is finite.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import ops
from ..ops import DomainError
from .schedule import DotGroup, Group, OpGroup, Rows, RunGroup, SumGroup, U, V, schedule
from .trace import Trace

__all__ = ["Program", "InputError"]

_DATA = operator.attrgetter("data")  # read every parameter's value without a Python-level loop
_NUMPY = ops.NUMPY


class InputError(ValueError):
    """An input holds nan or inf: input ``input`` (its position among the trace's inputs) at ``sample``."""

    def __init__(self, message: str, input: int, sample: int, value: float) -> None:
        super().__init__(message)
        self.input, self.sample, self.value = input, sample, value


class _Undefined(Exception):
    """An op group met operands outside its domain (raised inside a step, explained by ``Program``)."""

    def __init__(self, group: OpGroup, xs: list[np.ndarray], bad: np.ndarray) -> None:
        super().__init__(group.name)
        self.group, self.xs, self.bad = group, xs, bad


# -------------------------------------------------------------------- forward steps


def _op_forward(g: OpGroup, bufs: list[np.ndarray]) -> None:
    xs = [r.read(bufs) for r in g.args]
    op = g.op
    if op.domain is not None:
        bad = op.domain(*xs)
        if np.any(bad):
            raise _Undefined(g, xs, bad)
    bufs[g.stage][g.start:g.stop] = op.forward(_NUMPY, *xs)


def _dot_forward(g: DotGroup, bufs: list[np.ndarray]) -> None:
    out = bufs[g.stage][g.start:g.stop]
    np.matmul(g.weights.read(bufs).reshape(g.stop - g.start, -1), g.xs.read(bufs), out=out)
    for t in g.terms:
        if t.into is None:
            out += t.rows.read(bufs)
        else:
            t.into.add_into(out, t.rows.read(bufs))


def _sum_forward(g: SumGroup, bufs: list[np.ndarray]) -> None:
    out = bufs[g.stage][g.start:g.stop]
    if g.columns:  # a short sum: t_0 + t_1 + ..., left to right like the chain
        first, second, *rest = g.columns
        np.add(first.read(bufs), second.read(bufs), out=out)
        for col in rest:
            out += col.read(bufs)
        return
    width = out.shape[1]
    if len(g.terms) == 1:
        t = g.terms[0].rows.read(bufs)
        if t.shape[1] != width:
            t = np.broadcast_to(t, (t.shape[0], width))
    else:
        t = np.empty((g.n_terms, width))
        for terms in g.terms:
            t[terms.position] = terms.rows.read(bufs)
    if g.width:  # summing over the middle axis adds the terms one after another, like the chain did
        out[...] = t.reshape(g.stop - g.start, g.width, width).sum(axis=1)
    else:
        assert g.seg_starts is not None
        out[...] = np.add.reduceat(t, g.seg_starts, axis=0)


_CHUNK = 4096  # a run's steps are read from its arrays this many at a time


def _run_steps(g: RunGroup, lo: int, hi: int, reverse: bool = False) -> Any:
    """Steps lo .. hi - 1 of a run as plain numbers: (row, op code, src0, src1, row0, row1, needs0, needs1)."""
    sl = slice(lo, hi) if not reverse else slice(hi - 1, lo - 1 if lo else None, -1)
    rows = range(g.start + lo, g.start + hi) if not reverse else range(g.start + hi - 1, g.start + lo - 1, -1)
    return zip(rows, g.code[sl].tolist(), *g.src[sl].T.tolist(), *g.rows[sl].T.tolist(), *g.needs[sl].T.tolist())


def _run_forward(g: RunGroup, bufs: list[np.ndarray]) -> None:
    """Step by step: row ``start + k`` = op_k(its argument rows), one numpy call per step."""
    out, ops = bufs[g.stage], g.ops
    for lo in range(0, g.size, _CHUNK):
        for row, code, s0, s1, r0, r1, _, _ in _run_steps(g, lo, min(lo + _CHUNK, g.size)):
            op = ops[code]
            xs = (bufs[s0][r0],) if s1 < 0 else (bufs[s0][r0], bufs[s1][r1])
            if op.domain is not None and np.any(op.domain(*xs)):
                raise _Undefined(g.step(row - g.start), [x.reshape(1, -1) for x in xs],
                                 np.reshape(op.domain(*xs), (1, -1)))
            out[row] = op.forward(_NUMPY, *xs)


_FORWARD: dict[type, Callable[[Any, list[np.ndarray]], None]] = {
    OpGroup: _op_forward, DotGroup: _dot_forward, SumGroup: _sum_forward, RunGroup: _run_forward}


# -------------------------------------------------------------------- backward steps


def _times(g: np.ndarray, d: Any, safe: bool = False) -> np.ndarray:
    """g * d, skipping the multiplication for the constant local derivatives ±1.

    ``safe``: 0 where g is 0, also where d is infinite -- as eager, which skips a node
    whose gradient is 0 (the backward pass is rerun so only when the fast one gave inf or nan).
    """
    if isinstance(d, float):
        if d == 1.0:
            return g
        if d == -1.0:
            return -g
    return np.where(g == 0.0, 0.0, g * d) if safe else g * d


def _op_backward(g: OpGroup, bufs: list[np.ndarray], grads: list[np.ndarray], safe: bool = False) -> None:
    st = g.stage
    g_out = grads[st][g.start:g.stop]
    xs = [r.read(bufs) for r in g.args]
    for r, d in zip(g.args, g.op.local(_NUMPY, bufs[st][g.start:g.stop], *xs), strict=True):
        if not r.needs_grad:
            continue
        if r.src == st:
            r.add(grads, _times(g_out, d, safe))
        elif isinstance(d, float) and not safe:  # a uniform input's share, summed over the batch
            r.add(grads, g_out.sum(axis=1, keepdims=True) * d)
        else:
            r.add(grads, _times(g_out, d, safe).sum(axis=1, keepdims=True))


def _to_terms(g: SumGroup | DotGroup, grads: list[np.ndarray], g_out: np.ndarray) -> None:
    """∂(sum)/∂term = 1: each term receives its sum's gradient (summed over the batch if uniform)."""
    g_u = None
    columns = g.columns if isinstance(g, SumGroup) else ()
    for r in columns:
        if r.needs_grad:
            if r.src == g.stage:
                r.add(grads, g_out)
            else:
                g_u = g_out.sum(axis=1, keepdims=True) if g_u is None else g_u
                r.add(grads, g_u)
    for t in g.terms:
        if t.rows.needs_grad:
            if t.rows.src == g.stage:
                share = g_out
            else:
                g_u = g_out.sum(axis=1, keepdims=True) if g_u is None else g_u
                share = g_u
            t.rows.add(grads, share if t.into is None else share[t.member])


def _sum_backward(g: SumGroup, bufs: list[np.ndarray], grads: list[np.ndarray], safe: bool = False) -> None:
    _to_terms(g, grads, grads[g.stage][g.start:g.stop])


def _dot_backward(g: DotGroup, bufs: list[np.ndarray], grads: list[np.ndarray], safe: bool = False) -> None:
    g_out = grads[g.stage][g.start:g.stop]
    # (an inner dimension of 1 -- one row, or the U stage's one column -- is an outer product:
    # a broadcast multiply, the same numbers, without matmul's overhead)
    if g.xs.needs_grad:  # ∂(w·x)/∂x = w
        w_t = g.weights.read(bufs).reshape(g.stop - g.start, -1).T
        g.xs.add(grads, w_t * g_out if g_out.shape[0] == 1 else w_t @ g_out)
    if g.weights.needs_grad:  # ∂(w·x)/∂w = x, summed over the batch
        x_t = g.xs.read(bufs).T
        g.weights.add(grads, (g_out * x_t if g_out.shape[1] == 1 else g_out @ x_t).reshape(-1, 1))
    _to_terms(g, grads, g_out)


def _run_backward(g: RunGroup, bufs: list[np.ndarray], grads: list[np.ndarray], safe: bool = False) -> None:
    """The steps in reverse: each argument row gets g_out × its local derivative."""
    st, ops, values, g_rows = g.stage, g.ops, bufs[g.stage], grads[g.stage]
    for hi in range(g.size, 0, -_CHUNK):
        for row, code, s0, s1, r0, r1, n0, n1 in _run_steps(g, max(hi - _CHUNK, 0), hi, reverse=True):
            if not (n0 or n1):
                continue
            g_out, x = g_rows[row], bufs[s0][r0]
            if s1 < 0:
                _step_into(grads, st, s0, r0, g_out, ops[code].local(_NUMPY, values[row], x)[0], safe)
                continue
            d0, d1 = ops[code].local(_NUMPY, values[row], x, bufs[s1][r1])
            if n0:
                _step_into(grads, st, s0, r0, g_out, d0, safe)
            if n1:
                _step_into(grads, st, s1, r1, g_out, d1, safe)


def _step_into(grads: list[np.ndarray], stage: int, src: int, r: int, g_out: np.ndarray, d: Any,
               safe: bool) -> None:
    """grads[src][r] += g_out · d: per sample in the same stage, summed over the batch into a uniform row."""
    if src == stage:
        row = grads[src][r]
        row += _times(g_out, d, safe)
    elif safe:
        grads[U][r, 0] += _times(g_out, d, safe).sum()
    elif type(d) is float:
        grads[U][r, 0] += g_out.sum() * d
    else:
        grads[U][r, 0] += g_out.dot(d) if d.shape == g_out.shape else (g_out * d).sum()


def _finite(a: np.ndarray) -> bool:
    """Every entry finite? One sum (a sum too large for a float, though every entry is finite, looks closer)."""
    return math.isfinite(float(a.sum())) or bool(np.isfinite(a).all())


_BACKWARD: dict[type, Callable[[Any, list[np.ndarray], list[np.ndarray], bool], None]] = {
    OpGroup: _op_backward, DotGroup: _dot_backward, SumGroup: _sum_backward, RunGroup: _run_backward}


# -------------------------------------------------------------------- the program


class Program:
    """A trace scheduled for batched numpy execution (see the module docstring and ``schedule.py``)."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self.plan = schedule(trace)
        self.params = [trace.params[k] for k in self.plan.param_order.tolist()]  # in row order
        self.n_params = len(self.params)
        self.n_inputs = len(trace.input_nodes)
        self._buffers: dict[str, np.ndarray] = {}
        self._u = self.plan.u_template  # the U buffer: constants in place; parameters written per call

    @property
    def groups(self) -> list[Group]:
        return self.plan.groups

    @property
    def n_rows(self) -> tuple[int, int]:
        return self.plan.n_rows

    @property
    def outputs(self) -> list[tuple[int, int]]:
        return self.plan.outputs

    @property
    def n_groups(self) -> int:
        """How many vectorised steps one forward pass takes."""
        return len(self.plan.groups)

    def schedule(self) -> str:
        """The forward schedule as text: one line per group (stage, level, op, how many nodes)."""
        return self.plan.text(self.trace.fn_name, self.trace.n_ops)

    # ---------------------------------------------------------------- parameters

    def param_vector(self) -> np.ndarray:
        """The parameters' current ``data``, in the order of ``self.params``."""
        return np.fromiter(map(_DATA, self.params), dtype=float, count=self.n_params)

    def set_params(self, vector: np.ndarray) -> None:
        """Write ``vector`` (ordered like ``self.params``) into the parameters' ``data``."""
        values = self._check_vector(vector).tolist()
        for p, d in zip(self.params, values, strict=True):
            p.data = d

    def _check_vector(self, vector: Any) -> np.ndarray:
        vector = np.asarray(vector, dtype=float)
        if vector.shape != (self.n_params,):
            raise ValueError(f"a parameter vector for {self.trace.fn_name} has shape ({self.n_params},) "
                             f"(one entry per parameter, ordered like .params), got {vector.shape}")
        self._check_finite_params(vector)
        return vector

    def _check_finite_params(self, vector: np.ndarray) -> None:
        if not np.isfinite(vector).all():
            k = int(np.flatnonzero(~np.isfinite(vector))[0])
            label = self.params[k].label
            raise ValueError(f"parameter {k}{f' ({label})' if label else ''} of {self.trace.fn_name} is "
                             f"{vector[k]}: parameters must be finite numbers. Training diverged (lower the "
                             "learning rate), or the parameter vector was damaged.")

    # ---------------------------------------------------------------- forward

    def _buffer(self, name: str, batch: int) -> np.ndarray:
        """A (per-sample rows, batch) work buffer, kept between calls of the same batch size.

        Fresh large arrays cost page faults on every call; outputs are copied out, so
        nothing returned to the caller aliases these buffers (not thread-safe).
        """
        buf = self._buffers.get(name)
        if buf is None or buf.shape[1] != batch:
            buf = self._buffers[name] = np.empty((self.n_rows[V], batch))
        return buf

    def _uniform_buffer(self, params: np.ndarray | None) -> np.ndarray:
        """The U buffer with the parameters (``params``, or read from the Values) and constants in place."""
        u = self._u
        if self.n_params:
            if params is None:
                u[: self.n_params, 0] = self.param_vector()
            else:
                vector = np.asarray(params, dtype=float)
                if vector.shape != (self.n_params,):
                    self._check_vector(vector)
                u[: self.n_params, 0] = vector
        return u

    def _forward(self, cols: Sequence[np.ndarray], params: np.ndarray | None = None) -> tuple[list[np.ndarray], int]:
        batch = self._check_inputs(cols)
        bufs = [self._uniform_buffer(params), self._buffer("values", batch)]
        if cols:
            bufs[V][: self.n_inputs] = cols
        forward = _FORWARD
        try:
            for g in self.plan.groups:
                forward[type(g)](g, bufs)
        except _Undefined as e:
            self._check_given(bufs)
            raise self._domain_error(e.group, e.xs, e.bad, batch) from None
        self._check_values(bufs, batch)
        return bufs, batch

    def _check_inputs(self, cols: Sequence[np.ndarray]) -> int:
        if len(cols) != self.n_inputs:
            raise ValueError(f"{self.trace.fn_name} was traced with {self.n_inputs} inputs, got {len(cols)} columns")
        batch = len(cols[0]) if cols else 1
        for k, c in enumerate(cols):
            if c.shape != (batch,):
                raise ValueError(f"input {self._input_name(k)} has shape {c.shape}; "
                                 f"every input must have the same shape (batch,) = ({batch},)")
        if batch == 0:
            raise ValueError(f"the batch given to {self.trace.fn_name} is empty (0 samples): give at least one row")
        return batch

    def _input_name(self, k: int) -> str:
        labels = self.trace.input_labels
        return labels[k] if labels and labels[k] else f"{k}"

    def _bad_input(self, inputs: np.ndarray) -> None:
        k, b = (int(i[0]) for i in np.nonzero(~np.isfinite(inputs)))
        raise InputError(f"the input {self._input_name(k)} of {self.trace.fn_name} is {inputs[k, b]} for sample "
                         f"{b}: inputs must be finite numbers. Clean or drop that sample.", k, b, float(inputs[k, b]))

    def _check_values(self, bufs: list[np.ndarray], batch: int) -> None:
        """Every value is finite: the parameters and inputs given, then every computed one (else the group
        where the first non-finite value appeared is named)."""
        if math.isfinite(float(bufs[U].sum()) + float(bufs[V].sum())):
            return  # (a sum too large for a float, though every value is finite, looks closer and passes)
        self._check_given(bufs)
        for g in self.plan.groups:
            rows = bufs[g.stage][g.start:g.stop]
            if not np.isfinite(rows).all():
                if isinstance(g, RunGroup):  # the step that overflowed
                    g = g.step(int(np.flatnonzero(~np.isfinite(rows).all(axis=1))[0]))
                raise self._overflow_error(g, bufs, batch)

    def _check_given(self, bufs: list[np.ndarray]) -> None:
        """The parameters and the inputs are finite (else a ValueError names the first that is not)."""
        self._check_finite_params(bufs[U][: self.n_params, 0])
        inputs = bufs[V][: self.n_inputs]
        if not np.isfinite(inputs).all():
            self._bad_input(inputs)

    # ---------------------------------------------------------------- results

    def _results(self, bufs: list[np.ndarray], batch: int) -> Any:
        """Every output for every sample, arrays of shape (batch,), shaped like fn's result (copies)."""
        outs = [np.full(batch, bufs[U][r, 0]) if stage == U else bufs[V][r].copy() for stage, r in self.outputs]
        kind = self.trace.output_kind
        return outs[0] if kind == "value" else (tuple(outs) if kind == "tuple" else outs)

    # (numpy's floating-point warnings are off while a program runs: every result is checked instead)

    def run(self, cols: Sequence[np.ndarray], params: np.ndarray | None = None) -> Any:
        """Every output for every sample: arrays of shape (batch,), shaped like fn's result."""
        with np.errstate(all="ignore"):
            bufs, batch = self._forward(cols, params)
            return self._results(bufs, batch)

    def value_and_grad(self, cols: Sequence[np.ndarray], reduction: str = "mean", output: int = 0,
                       write_grad: bool = True, params: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """Loss reduced over the batch and its gradient for each parameter (see ``Jitted.value_and_grad``)."""
        with np.errstate(all="ignore"):
            _, _, loss, grads = self._loss_and_grads(cols, reduction, output, params)
        if write_grad:
            for p, g in zip(self.params, grads.tolist(), strict=True):
                p.grad += g
        return loss, grads

    def value_grad_and_outputs(self, cols: Sequence[np.ndarray], reduction: str = "mean", output: int = 0,
                               params: np.ndarray | None = None) -> tuple[float, np.ndarray, Any]:
        """``value_and_grad`` (writing no ``.grad``) and every output per sample, from one forward pass."""
        with np.errstate(all="ignore"):
            bufs, batch, loss, grads = self._loss_and_grads(cols, reduction, output, params)
            return loss, grads, self._results(bufs, batch)

    def _loss_and_grads(self, cols: Sequence[np.ndarray], reduction: str, output: int,
                        params: np.ndarray | None) -> tuple[list[np.ndarray], int, float, np.ndarray]:
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
        if not -len(self.outputs) <= output < len(self.outputs):
            raise IndexError(f"output {output} is out of range: {self.trace.fn_name} returns "
                             f"{len(self.outputs)} value(s)")
        bufs, batch = self._forward(cols, params)
        stage, r = self.outputs[output]
        y = bufs[stage][r]
        scale = 1.0 / batch if reduction == "mean" else 1.0
        if stage == V:
            loss = float(y.sum()) / batch if reduction == "mean" else float(y.sum())
            seed = (V, r, scale)
        else:  # the output does not depend on the inputs: the same for every sample
            loss = float(y[0]) if reduction == "mean" else float(y[0]) * batch
            seed = (U, r, scale * batch)
        if not math.isfinite(loss):
            raise DomainError(f"the loss of {self.trace.fn_name} summed over the batch of {batch} overflows "
                              f"({loss}): every sample's value is finite, their sum is not. Use "
                              "reduction='mean' on smaller batches, or scale the loss down.", kind="overflow")
        param_grads = self._backward(bufs, batch, seed)[U][: self.n_params, 0]  # (a fresh array per call)
        if not _finite(param_grads):  # again, as eager: where a gradient is 0, nothing flows (no 0·inf)
            param_grads = self._backward(bufs, batch, seed, safe=True)[U][: self.n_params, 0]
            if not _finite(param_grads):
                raise self._gradient_error(bufs, batch, seed)
        return bufs, batch, loss, param_grads

    # ---------------------------------------------------------------- backward

    def _seeded(self, batch: int, seed: tuple[int, int, float]) -> list[np.ndarray]:
        """Zeroed gradient buffers with ∂loss/∂output = ``seed``."""
        grads = [np.zeros((self.n_rows[U], 1)), self._buffer("grads", batch)]
        grads[V].fill(0.0)
        stage, r, value = seed
        grads[stage][r] += value
        return grads

    def _backward(self, bufs: list[np.ndarray], batch: int, seed: tuple[int, int, float],
                  safe: bool = False) -> list[np.ndarray]:
        grads = self._seeded(batch, seed)
        backward = _BACKWARD
        for g in reversed(self.plan.groups):
            if g.needs_grad:
                backward[type(g)](g, bufs, grads, safe)
        return grads

    def _gradient_error(self, bufs: list[np.ndarray], batch: int, seed: tuple[int, int, float]) -> DomainError:
        """The backward pass again, checked after every group: the first that made a gradient non-finite."""
        grads = self._seeded(batch, seed)
        steps = [g.step(k) if isinstance(g, RunGroup) else g
                 for g in self.plan.groups for k in (range(g.size) if isinstance(g, RunGroup) else (0,))]
        for g in reversed(steps):
            if not g.needs_grad:
                continue
            _BACKWARD[type(g)](g, bufs, grads, True)
            if not all(np.isfinite(r.read(grads)).all() for r in _gradient_rows(g)):
                return self._explain_gradient(g, bufs, grads, batch)
        return DomainError(f"a parameter gradient of {self.trace.fn_name} is not a finite number. Rescale the "
                           "inputs, or keep them away from where a derivative is infinite.")

    # ---------------------------------------------------------------- errors

    def _describe(self, g: Group, bad: np.ndarray, batch: int) -> tuple[int, int, str, tuple[int, ...], str]:
        """For the first bad entry of group ``g``: its row, its sample, the equation, the operand nodes, who."""
        rows, samples = np.nonzero(bad)
        r, b = int(rows[0]), int(samples[0])
        tr = self.trace
        names = tr.names()
        nd = tr.node(int(self.plan.row_nodes[g.stage][g.start + r]), names)
        where = nd.name + (f" ({nd.label})" if nd.label else "")
        if isinstance(g, OpGroup):
            equation = f"{where} = {g.name} {' '.join(names[a] for a in nd.args)}"
        else:
            equation = f"{where}, one of {g.size} {g.name}s ({getattr(g, 'n_terms', 0)} terms in all)"
        if g.stage == U:
            who = "for the current parameter values (it does not depend on the inputs)"
        else:
            who = f"for {int(bad.any(axis=0).sum())} of {batch} samples (first: sample {b})"
        return r, b, equation, nd.args if isinstance(g, OpGroup) else (), who

    def _domain_error(self, g: OpGroup, xs: list[np.ndarray], bad: Any, batch: int) -> DomainError:
        op = g.op
        bad = np.broadcast_to(bad, (g.size, batch if g.stage == V else 1))
        r, b, equation, _, who = self._describe(g, bad, batch)
        values = tuple(float(np.broadcast_to(x, bad.shape)[r, b]) for x in xs)
        return DomainError(f"{op.name} is undefined {who}: {op.name} needs {op.domain_text}; at {equation} "
                           f"with operands {', '.join(map(repr, values))}. "
                           "Change those inputs (or the expression) so that this holds.", op, values, "domain")

    def _overflow_error(self, g: Group, bufs: list[np.ndarray], batch: int) -> DomainError:
        out = bufs[g.stage][g.start:g.stop]
        r, b, equation, args, who = self._describe(g, ~np.isfinite(out), batch)
        values = tuple(float(np.broadcast_to(x, out.shape)[r, b]) for x in self._operands(g, bufs))
        operands = f" with operands {', '.join(map(repr, values))}" if values else ""
        return DomainError(f"{g.name} overflowed: its result is not finite {who}, at "
                           f"{equation}{operands} (result {float(out[r, b])}). Scale the inputs down, or look for "
                           "a runaway value earlier in the computation.", getattr(g, "op", None), values, "overflow")

    def _explain_gradient(self, g: Group, bufs: list[np.ndarray], grads: list[np.ndarray], batch: int) -> DomainError:
        g_out = grads[g.stage][g.start:g.stop]
        if isinstance(g, OpGroup):
            locals_ = g.op.local(_NUMPY, bufs[g.stage][g.start:g.stop], *self._operands(g, bufs))
            for d in locals_:
                d = np.broadcast_to(d, g_out.shape)
                bad = ~np.isfinite(g_out * d) & (g_out != 0.0)
                if bad.any():
                    r, b, equation, _, who = self._describe(g, bad, batch)
                    return DomainError(
                        f"the gradient through {equation} is not a finite number {who}: the local derivative "
                        f"{float(d[r, b])!r} times the upstream gradient {float(g_out[r, b])!r}. No gradient was "
                        "returned or written. Rescale the inputs, or keep them away from where the derivative is "
                        "infinite (log or 1/x near 0, say).", g.op, (), "gradient")
        bad = np.ones_like(g_out, dtype=bool)
        _, _, equation, _, who = self._describe(g, bad, batch)
        return DomainError(f"the gradient flowing out of {equation} is not a finite number once summed (over the "
                           "batch, or over the paths that meet there): it overflowed. No gradient was returned or "
                           "written. Scale the loss or the inputs down.", kind="gradient")

    @staticmethod
    def _operands(g: Group, bufs: list[np.ndarray]) -> list[np.ndarray]:
        return [r.read(bufs) for r in g.args] if isinstance(g, OpGroup) else []


def _gradient_rows(g: Group) -> list[Rows]:
    """The rows a group's backward step adds gradients into."""
    rows: list[Rows] = []
    if isinstance(g, OpGroup):
        rows = list(g.args)
    elif isinstance(g, SumGroup):
        rows = [*g.columns, *(t.rows for t in g.terms)]
    elif isinstance(g, DotGroup):
        rows = [g.xs, g.weights, *(t.rows for t in g.terms)]
    return [r for r in rows if r.needs_grad]
