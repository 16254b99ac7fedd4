"""The compiled executor: run a :class:`~.schedule.Schedule` forward and backward with numpy, for a whole batch.

Two buffers hold every value: U ``(n_uniform, 1)`` for what is the same for every
sample (parameters, constants, an L2 penalty), V ``(n_varying, batch)`` for the
rest, one column per sample (``schedule.py`` says which node has which row).

**Forward** runs each group's step in order, **backward** the steps of the groups
that need a gradient in reverse, seeded with ∂loss/∂output; ``kernels.py`` holds the
steps, bound once per batch size to that batch's buffers (``buffers.py``). Every call
runs in buffers of its own, lent for the call and given back after it (kept for the
next call only while small), so threads may call one program at once.
A uniform input's contribution is summed over the batch: that is how a parameter's
gradient collects every sample's share, ∂L/∂w = Σ_b ∂L/∂w_b.

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
from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import ops
from ..ops import DomainError
from .buffers import Bound, Pool
from .groups import DotGroup, Group, OpGroup, Rows, RunGroup, SumGroup, U, V
from .kernels import Undefined, bind_backward
from .schedule import schedule
from .trace import Trace

__all__ = ["Program", "InputError"]

_DATA = operator.attrgetter("data")  # read every parameter's value without a Python-level loop
_NUMPY = ops.NUMPY


class InputError(ValueError):
    """An input holds nan or inf: input ``input`` (its position among the trace's inputs) at ``sample``."""

    def __init__(self, message: str, input: int, sample: int, value: float) -> None:
        super().__init__(message)
        self.input, self.sample, self.value = input, sample, value


def _seeded(bufs: list[np.ndarray], seed: tuple[int, int, float]) -> list[np.ndarray]:
    """Zero gradient buffers shaped like the value buffers ``bufs``, with ∂loss/∂output = ``seed``."""
    grads = [np.zeros_like(b) for b in bufs]
    stage, r, value = seed
    grads[stage][r] = value
    return grads


def _finite(a: np.ndarray) -> bool:
    """Every entry finite? One sum (a sum too large for a float, though every entry is finite, looks closer)."""
    return math.isfinite(float(a.sum())) or bool(np.isfinite(a).all())


# -------------------------------------------------------------------- the program


class Program:
    """A trace scheduled for batched numpy execution (see the module docstring and ``schedule.py``)."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        self.plan = schedule(trace)
        self.params = [trace.params[k] for k in self.plan.param_order.tolist()]  # in row order
        self.n_params = len(self.params)
        self.n_inputs = len(trace.input_nodes)
        self.buffers = Pool(self.plan)  # per call: its buffers and the steps bound to them

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
        checked: np.ndarray = np.asarray(vector, dtype=float)
        if checked.shape != (self.n_params,):
            raise ValueError(f"a parameter vector for {self.trace.fn_name} has shape ({self.n_params},) "
                             f"(one entry per parameter, ordered like .params), got {checked.shape}")
        self._check_finite_params(checked)
        return checked

    def _check_finite_params(self, vector: np.ndarray) -> None:
        if not np.isfinite(vector).all():
            k = int(np.flatnonzero(~np.isfinite(vector))[0])
            label = self.params[k].label
            raise ValueError(f"parameter {k}{f' ({label})' if label else ''} of {self.trace.fn_name} is "
                             f"{vector[k]}: parameters must be finite numbers. Training diverged (lower the "
                             "learning rate), or the parameter vector was damaged.")

    # ---------------------------------------------------------------- forward

    def _uniform_buffer(self, u: np.ndarray, params: np.ndarray | None) -> None:
        """Write the parameters (``params``, or read from the Values) into the U buffer ``u``."""
        if self.n_params:
            if params is None:
                u[: self.n_params, 0] = self.param_vector()
            else:
                vector = np.asarray(params, dtype=float)
                if vector.shape != (self.n_params,):
                    self._check_vector(vector)
                u[: self.n_params, 0] = vector

    def _forward(self, bound: Bound, inputs: Sequence[np.ndarray],
                 params: np.ndarray | None = None) -> list[np.ndarray]:
        """Every value for the batch ``inputs`` (per input a column (batch,), or per k inputs a block (batch, k)),
        computed in ``bound``'s buffers."""
        bufs, batch = bound.values, bound.batch
        self._uniform_buffer(bufs[U], params)
        k = 0
        for a in inputs:  # the inputs are V's first rows
            if a.ndim == 1:
                bufs[V][k] = a
            else:
                bufs[V][k:k + a.shape[1]] = a.T
            k += 1 if a.ndim == 1 else a.shape[1]
        try:
            for step in bound.forward:
                step()
        except Undefined as e:
            self._check_given(bufs)
            raise self._domain_error(e.group, e.xs, e.bad, batch) from None
        self._check_values(bufs, batch)
        return bufs

    def _check_inputs(self, inputs: Sequence[np.ndarray]) -> int:
        widths = [1 if a.ndim == 1 else a.shape[-1] for a in inputs]
        if sum(widths) != self.n_inputs:
            raise ValueError(f"{self.trace.fn_name} was traced with {self.n_inputs} inputs, got {sum(widths)} columns")
        batch = len(inputs[0]) if inputs else 1
        k = 0
        for a, width in zip(inputs, widths, strict=True):
            if a.ndim not in (1, 2) or a.shape[0] != batch:
                raise ValueError(f"input {self._input_name(k)} has shape {a.shape[:1]}; "
                                 f"every input must have the same shape (batch,) = ({batch},)")
            k += width
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

    # Each call takes buffers of its own from the pool (``self.buffers``) for the batch (checked first) and gives
    # them back when it ends. numpy's floating-point warnings are off while it runs: every result is checked instead.

    def run(self, inputs: Sequence[np.ndarray], params: np.ndarray | None = None) -> Any:
        """Every output for every sample: arrays of shape (batch,), shaped like fn's result."""
        bound = self.buffers.take(self._check_inputs(inputs))
        try:
            with np.errstate(all="ignore"):
                return self._results(self._forward(bound, inputs, params), bound.batch)
        finally:
            self.buffers.give(bound)

    def value_and_grad(self, inputs: Sequence[np.ndarray], reduction: str = "mean", output: int = 0,
                       write_grad: bool = True, params: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """Loss reduced over the batch and its gradient for each parameter (see ``Jitted.value_and_grad``)."""
        self._check_loss_args(reduction, output)
        bound = self.buffers.take(self._check_inputs(inputs))
        try:
            with np.errstate(all="ignore"):
                _, loss, grads = self._loss_and_grads(bound, inputs, reduction, output, params)
        finally:
            self.buffers.give(bound)
        if write_grad:
            for p, g in zip(self.params, grads.tolist(), strict=True):
                p.grad += g
        return loss, grads

    def value_grad_and_outputs(self, inputs: Sequence[np.ndarray], reduction: str = "mean", output: int = 0,
                               params: np.ndarray | None = None) -> tuple[float, np.ndarray, Any]:
        """``value_and_grad`` (writing no ``.grad``) and every output per sample, from one forward pass."""
        self._check_loss_args(reduction, output)
        bound = self.buffers.take(self._check_inputs(inputs))
        try:
            with np.errstate(all="ignore"):
                bufs, loss, grads = self._loss_and_grads(bound, inputs, reduction, output, params)
                return loss, grads, self._results(bufs, bound.batch)
        finally:
            self.buffers.give(bound)

    def _check_loss_args(self, reduction: str, output: int) -> None:
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
        if not -len(self.outputs) <= output < len(self.outputs):
            raise IndexError(f"output {output} is out of range: {self.trace.fn_name} returns "
                             f"{len(self.outputs)} value(s)")

    def _loss_and_grads(self, bound: Bound, inputs: Sequence[np.ndarray], reduction: str, output: int,
                        params: np.ndarray | None) -> tuple[list[np.ndarray], float, np.ndarray]:
        """The forward pass in ``bound``, the loss reduced over the batch, every parameter's gradient (a copy)."""
        bufs, batch = self._forward(bound, inputs, params), bound.batch
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
        param_grads = bound.backward(seed)[U][: self.n_params, 0]
        if not _finite(param_grads):  # again, as eager: where a gradient is 0, nothing flows (no 0·inf)
            grads = _seeded(bufs, seed)
            for step in bind_backward(self.plan.groups, bufs, grads, self.outputs, safe=True)[1]:
                step()
            param_grads = grads[U][: self.n_params, 0]
            if not _finite(param_grads):
                raise self._gradient_error(bufs, batch, seed)
        return bufs, loss, param_grads.copy()  # (a fresh array per call: the buffer is reused)

    # ---------------------------------------------------------------- backward

    def _gradient_error(self, bufs: list[np.ndarray], batch: int, seed: tuple[int, int, float]) -> DomainError:
        """The backward pass again, checked after every group: the first that made a gradient non-finite."""
        grads = _seeded(bufs, seed)
        steps = [g.step(k) if isinstance(g, RunGroup) else g
                 for g in self.plan.groups for k in (range(g.size) if isinstance(g, RunGroup) else (0,))]
        bound = iter(bind_backward(steps, bufs, grads, self.outputs, safe=True)[1])
        for g in reversed(steps):
            if not g.needs_grad:
                continue
            next(bound)()
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
