"""The compiled executor: run a traced scalar graph for a whole batch with numpy.

A trace (``jit.py``) is a graph of scalar ops. Run naively, one numpy call per
node would be no faster than the eager engine. Instead the graph is
*scheduled* once:

1. **Stages.** A node that depends on no input (a parameter, a constant, or an
   op on those only, like an L2 penalty) is *uniform*: the same for every sample,
   computed once per call in stage U, a buffer of shape ``(n_uniform, 1)``.
   Every other node is computed per sample in stage V, ``(n_varying, batch)``.
2. **Sums.** A chain of additions whose intermediate results are used once
   (what ``sum(w_i * x_i)`` builds) becomes one n-ary sum. This is scheduling,
   not a new op: the add row of the op table says ∂(x + y)/∂x = ∂(x + y)/∂y = 1,
   so every term of the sum gets the sum's gradient.
3. **Groups.** Within a stage, a node's *level* is one more than its deepest
   child's. Nodes of the same op at the same level (and reading the same
   buffers) form a group, whose rows in the buffer are contiguous. The forward
   pass of a group is three numpy steps: gather the inputs by index,
   ``op.forward(ops.NUMPY, *inputs)``, store the rows. An MLP layer is three
   groups (mul, sum, relu), however wide it is.

The backward pass walks the groups in reverse. A group's output gradient
``g`` (rows of the gradient buffer) times the op table's local derivatives
``op.local(ops.NUMPY, out, *inputs)`` gives each input's contribution, which is
added into the input rows (with a segment sum where one node feeds the group
several times). A uniform input's contribution is summed over the batch:
that is how a parameter's gradient collects every sample's share.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from . import ops
from .jit import CONST, INPUT, OP, PARAM, Trace
from .ops import DomainError, Op

__all__ = ["Program"]

# Fusing additions relies on ∂(x + y)/∂x = ∂(x + y)/∂y = 1; read that from the table.
_ADD_IS_UNIT = tuple(ops.ADD.local(ops.FLOAT, 3.0, 1.0, 2.0)) == (1.0, 1.0)

U, V = 0, 1  # the two stages / buffers


class _Index:
    """Rows of a buffer to read from (gather) or add into (scatter-add), prepared once."""

    __slots__ = ("src", "idx", "sl", "order", "uniq", "starts", "needs_grad")

    def __init__(self, src: int, rows: Sequence[int], needs_grad: bool) -> None:
        self.src = src
        self.idx = np.asarray(rows, dtype=np.intp)
        self.needs_grad = needs_grad
        n = len(self.idx)
        first = int(self.idx[0]) if n else 0
        contiguous = n > 0 and bool(np.array_equal(self.idx, np.arange(first, first + n)))
        self.sl = slice(first, first + n) if contiguous else None
        self.order = self.uniq = self.starts = None
        if self.sl is None and len(np.unique(self.idx)) < n:
            # Repeated rows: sort once, then segment-sum contributions per row.
            order = np.argsort(self.idx, kind="stable")
            sorted_idx = self.idx[order]
            starts = np.flatnonzero(np.r_[True, sorted_idx[1:] != sorted_idx[:-1]])
            self.order, self.uniq, self.starts = order, sorted_idx[starts], starts

    def gather(self, buf: np.ndarray) -> np.ndarray:
        return buf[self.sl] if self.sl is not None else buf[self.idx]

    def add_into(self, buf: np.ndarray, contrib: np.ndarray) -> None:
        """buf[rows] += contrib, correct when a row appears several times."""
        if self.sl is not None:
            buf[self.sl] += contrib
        elif self.order is None:
            buf[self.idx] += contrib
        else:
            if contrib.shape[0] != len(self.idx):
                contrib = np.broadcast_to(contrib, (len(self.idx),) + contrib.shape[1:])
            buf[self.uniq] += np.add.reduceat(contrib[self.order], self.starts, axis=0)


@dataclass
class _Group:
    """Nodes of one op at one level of one stage: rows ``start:stop`` of that stage's buffer."""

    stage: int
    op: Op | None            # None: an n-ary sum
    level: int
    start: int
    stop: int
    nodes: list[int]         # trace node indices, one per row
    needs_grad: bool
    args: list[_Index]       # an op's inputs, one gather per argument position
    # n-ary sums: terms grouped by buffer, with each term's row (segment) in the group
    terms: list[tuple[_Index, np.ndarray]]
    sum_positions: list[np.ndarray]  # where each buffer's terms go in the sum's term list
    n_terms: int
    seg_starts: np.ndarray | None

    @property
    def name(self) -> str:
        if self.op is None:
            return "sum"
        return self.op.name if self.op.param is None else f"{self.op.name}[p={self.op.param:g}]"


class Program:
    """A trace scheduled for batched numpy execution (see the module docstring)."""

    def __init__(self, trace: Trace) -> None:
        self.trace = trace
        nodes = trace.nodes
        n = len(nodes)
        uniform = [False] * n
        needs = [False] * n
        uses = [0] * n
        parent = [-1] * n
        for i, node in enumerate(nodes):
            if node.kind in (PARAM, CONST):
                uniform[i] = True
                needs[i] = node.kind == PARAM
            elif node.kind == OP:
                uniform[i] = all(uniform[a] for a in node.args)
                needs[i] = any(needs[a] for a in node.args)
                for a in node.args:
                    uses[a] += 1
                    parent[a] = i
        for o in trace.outputs:
            uses[o] += 1
        is_add = [nd.kind == OP and nd.op is ops.ADD for nd in nodes]
        absorbed = [_ADD_IS_UNIT and is_add[i] and uses[i] == 1 and parent[i] >= 0 and is_add[parent[i]]
                    for i in range(n)]

        # Executed nodes, their dependencies (args, or a sum's terms) and levels.
        deps: dict[int, list[int]] = {}
        for i, node in enumerate(nodes):
            if node.kind != OP or absorbed[i]:
                continue
            if is_add[i] and _ADD_IS_UNIT:
                terms: list[int] = []
                stack = list(reversed(node.args))
                while stack:
                    a = stack.pop()
                    if absorbed[a]:
                        stack.extend(reversed(nodes[a].args))
                    else:
                        terms.append(a)
                deps[i] = terms
            else:
                deps[i] = list(node.args)
        level = [0] * n
        for i, ds in deps.items():  # dict order is topological order
            st = uniform[i]
            level[i] = 1 + max((level[d] for d in ds if uniform[d] == st), default=0)

        def key(i: int) -> tuple[Any, ...]:
            op = nodes[i].op
            assert op is not None
            stage = U if uniform[i] else V
            if i in deps and is_add[i] and _ADD_IS_UNIT:
                return (stage, level[i], "", -np.inf, ())
            srcs = tuple(U if uniform[a] else V for a in deps[i])
            return (stage, level[i], op.name, -np.inf if op.param is None else op.param, srcs)

        groups_of: dict[tuple[Any, ...], list[int]] = {}
        for i in deps:
            groups_of.setdefault(key(i), []).append(i)
        keys = sorted(groups_of, key=lambda k: (k[0], k[1], k[2], k[3], k[4]))

        # Rows: U = params, constants, then uniform groups; V = inputs, then groups.
        row = [-1] * n
        for r, i in enumerate(trace.param_nodes):
            row[i] = r
        consts = [i for i, nd in enumerate(nodes) if nd.kind == CONST]
        for r, i in enumerate(consts, start=len(trace.param_nodes)):
            row[i] = r
        for r, i in enumerate(trace.input_nodes):
            row[i] = r
        size = [len(trace.param_nodes) + len(consts), len(trace.input_nodes)]
        spans = []
        for k in keys:
            members = groups_of[k]
            stage = k[0]
            start = size[stage]
            for i in members:
                row[i] = size[stage]
                size[stage] += 1
            spans.append((start, size[stage]))

        self.groups: list[_Group] = []
        for k, (start, stop) in zip(keys, spans):
            members = groups_of[k]
            stage = k[0]
            op = nodes[members[0]].op
            is_sum = is_add[members[0]] and _ADD_IS_UNIT
            args: list[_Index] = []
            terms: list[tuple[_Index, np.ndarray]] = []
            positions: list[np.ndarray] = []
            n_terms = 0
            seg_starts = None
            if is_sum:
                op = None
                flat = [(t, j) for j, i in enumerate(members) for t in deps[i]]
                counts = [len(deps[i]) for i in members]
                seg_starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.intp)
                n_terms = len(flat)
                for src in (U, V):
                    pos = [p for p, (t, _) in enumerate(flat) if (U if uniform[t] else V) == src]
                    if pos:
                        rows_ = [row[flat[p][0]] for p in pos]
                        ng = any(needs[flat[p][0]] for p in pos)
                        terms.append((_Index(src, rows_, ng), np.asarray([flat[p][1] for p in pos], np.intp)))
                        positions.append(np.asarray(pos, np.intp))
            else:
                assert op is not None
                for j in range(op.arity):
                    children = [deps[i][j] for i in members]
                    src = U if uniform[children[0]] else V
                    args.append(_Index(src, [row[c] for c in children], any(needs[c] for c in children)))
            self.groups.append(_Group(stage, op, k[1], start, stop, members, any(needs[i] for i in members),
                                      args, terms, positions, n_terms, seg_starts))

        self.row = row
        self.uniform = uniform
        self.n_rows = size
        self.n_params = len(trace.param_nodes)
        self.params = trace.params
        self._u_template = np.zeros((size[U], 1))
        for i in consts:
            self._u_template[row[i], 0] = nodes[i].value
        self.outputs = [(U if uniform[o] else V, row[o]) for o in trace.outputs]
        self.n_inputs = len(trace.input_nodes)

    # ---------------------------------------------------------------- description

    @property
    def n_groups(self) -> int:
        """How many vectorised steps one forward pass takes."""
        return len(self.groups)

    def schedule(self) -> str:
        """The forward schedule as text: one line per group (stage, level, op, how many nodes)."""
        lines = [f"schedule of {self.trace.fn_name}: {self.trace.n_ops} ops in {len(self.groups)} groups "
                 f"({self.n_rows[U]} uniform rows, {self.n_rows[V]} per-sample rows)"]
        for g in self.groups:
            stage = "U" if g.stage == U else "V"
            extra = f", {g.n_terms} terms" if g.op is None else ""
            lines.append(f"  {stage} level {g.level:3d}  {g.name:<16} x{g.stop - g.start}{extra}")
        return "\n".join(lines)

    # ---------------------------------------------------------------- forward

    def _params_and_consts(self) -> np.ndarray:
        u = self._u_template.copy()
        if self.n_params:
            u[: self.n_params, 0] = np.fromiter((p.data for p in self.params), float, self.n_params)
        return u

    def _forward(self, cols: Sequence[np.ndarray]) -> tuple[list[np.ndarray], list[Any], int]:
        if len(cols) != self.n_inputs:
            raise ValueError(f"{self.trace.fn_name} was traced with {self.n_inputs} inputs, got {len(cols)} columns")
        batch = len(cols[0]) if cols else 1
        for k, c in enumerate(cols):
            if c.shape != (batch,):
                raise ValueError(f"input {self.trace.nodes[self.trace.input_nodes[k]].name} has shape {c.shape}; "
                                 f"every input must have the same shape (batch,) = ({batch},)")
        bufs = [self._params_and_consts(), np.empty((self.n_rows[V], batch))]
        if cols:
            bufs[V][: self.n_inputs] = cols
        saved: list[Any] = []
        np_ = ops.NUMPY
        with np.errstate(all="ignore"):
            for g in self.groups:
                out = bufs[g.stage]
                if g.op is None:
                    width = out.shape[1]
                    if len(g.terms) == 1:
                        ix, _ = g.terms[0]
                        t = ix.gather(bufs[ix.src])
                        if t.shape[1] != width:
                            t = np.broadcast_to(t, (t.shape[0], width))
                    else:
                        t = np.empty((g.n_terms, width))
                        for (ix, _), pos in zip(g.terms, g.sum_positions):
                            t[pos] = ix.gather(bufs[ix.src])
                    out[g.start:g.stop] = np.add.reduceat(t, g.seg_starts, axis=0)
                    saved.append(None)
                    continue
                xs = [ix.gather(bufs[ix.src]) for ix in g.args]
                if g.op.domain is not None:
                    bad = g.op.domain(*xs)
                    if np.any(bad):
                        self._domain_error(g, xs, np.broadcast_to(bad, (g.stop - g.start, out.shape[1])), batch)
                out[g.start:g.stop] = g.op.forward(np_, *xs)
                saved.append(xs)
        return bufs, saved, batch

    def _domain_error(self, g: _Group, xs: list[np.ndarray], bad: np.ndarray, batch: int) -> None:
        assert g.op is not None
        rows, samples = np.nonzero(bad)
        node = self.trace.nodes[g.nodes[int(rows[0])]]
        where = f"{node.name}" + (f" ({node.label})" if node.label else "")
        args = " ".join(self.trace.nodes[a].name for a in node.args)
        values = ", ".join(f"{float(np.broadcast_to(x, bad.shape)[rows[0], samples[0]])!r}" for x in xs)
        if g.stage == U:
            who = "for the current parameter values (it does not depend on the inputs)"
        else:
            who = f"for {int(bad.any(axis=0).sum())} of {batch} samples (first: sample {int(samples[0])})"
        raise DomainError(
            f"{g.op.name} is undefined {who}: {g.op.name} needs {g.op.domain_text}; at "
            f"{where} = {g.op.name} {args} with operands {values}. "
            "Change those inputs (or the expression) so that this holds.")

    def _output(self, bufs: list[np.ndarray], k: int, batch: int) -> np.ndarray:
        stage, r = self.outputs[k]
        y = bufs[stage][r]
        y = np.full(batch, y[0]) if stage == U else y.copy()
        if not np.all(np.isfinite(y)):
            bad = int((~np.isfinite(y)).sum())
            name = self.trace.nodes[self.trace.outputs[k]].name
            raise DomainError(f"output {k} ({name}) of {self.trace.fn_name} is not finite for {bad} of {batch} "
                              "samples: an op overflowed. Scale the inputs down, or look for a runaway value.")
        return y

    def run(self, cols: Sequence[np.ndarray]) -> Any:
        """Every output for every sample: arrays of shape (batch,), shaped like fn's result."""
        bufs, _, batch = self._forward(cols)
        outs = [self._output(bufs, k, batch) for k in range(len(self.outputs))]
        kind = self.trace.output_kind
        return outs[0] if kind == "value" else (tuple(outs) if kind == "tuple" else outs)

    # ---------------------------------------------------------------- backward

    def value_and_grad(self, cols: Sequence[np.ndarray], reduction: str = "mean", output: int = 0,
                       write_grad: bool = True) -> tuple[float, np.ndarray]:
        """Loss reduced over the batch and its gradient for each parameter (see ``Jitted.value_and_grad``)."""
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
        if not -len(self.outputs) <= output < len(self.outputs):
            raise IndexError(f"output {output} is out of range: {self.trace.fn_name} returns "
                             f"{len(self.outputs)} value(s)")
        bufs, saved, batch = self._forward(cols)
        y = self._output(bufs, output, batch)
        loss = float(y.mean() if reduction == "mean" else y.sum())
        grads = [np.zeros((self.n_rows[U], 1)), np.zeros_like(bufs[V])]
        stage, r = self.outputs[output]
        scale = 1.0 / batch if reduction == "mean" else 1.0
        grads[stage][r] += scale if stage == V else scale * batch
        np_ = ops.NUMPY
        with np.errstate(all="ignore"):
            for g, xs in zip(reversed(self.groups), reversed(saved)):
                if not g.needs_grad:
                    continue
                g_out = grads[g.stage][g.start:g.stop]
                if g.op is None:
                    g_u = None
                    for ix, seg in g.terms:
                        if not ix.needs_grad:
                            continue
                        if ix.src == g.stage:
                            ix.add_into(grads[ix.src], g_out[seg])
                        else:
                            if g_u is None:
                                g_u = g_out.sum(axis=1, keepdims=True)
                            ix.add_into(grads[U], g_u[seg])
                    continue
                out = bufs[g.stage][g.start:g.stop]
                locals_ = g.op.local(np_, out, *xs)
                for ix, d in zip(g.args, locals_):
                    if not ix.needs_grad:
                        continue
                    if ix.src == g.stage:
                        ix.add_into(grads[ix.src], _times(g_out, d))
                    elif isinstance(d, float):
                        ix.add_into(grads[U], g_out.sum(axis=1, keepdims=True) * d)
                    else:
                        d = np.broadcast_to(d, g_out.shape)
                        ix.add_into(grads[U], np.einsum("ij,ij->i", g_out, d)[:, None])
        param_grads = grads[U][: self.n_params, 0].copy()
        if write_grad:
            for p, gp in zip(self.params, param_grads.tolist()):
                p.grad += gp
        return loss, param_grads


def _times(g: np.ndarray, d: Any) -> np.ndarray:
    """g * d, skipping the multiplication for the constant local derivatives ±1."""
    if isinstance(d, float):
        if d == 1.0:
            return g
        if d == -1.0:
            return -g
    return g * d
