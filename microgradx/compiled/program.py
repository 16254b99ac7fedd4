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
3. **Matrix products.** When several such sums at one level add up products
   ``w_jk · x_k`` of the same per-sample rows ``x`` (the neurons of an MLP
   layer), the products and the sums become one ``W @ X``: the mul row of the
   table says ∂(w·x)/∂w = x and ∂(w·x)/∂x = w, which is what the matrix
   product's backward pass ``g @ X.T`` and ``W.T @ g`` computes.
4. **Groups.** Within a stage, a node's *level* is one more than its deepest
   child's. Nodes of the same op at the same level (and reading the same
   buffers) form a group, whose rows in the buffer are contiguous. The forward
   pass of a group is three numpy steps: gather the inputs by index (a view
   when the rows are contiguous), ``op.forward(ops.NUMPY, *inputs)``, store
   the rows. An MLP layer is two groups (dot, relu), however wide it is.

The backward pass walks the groups in reverse. A group's output gradient
``g`` (rows of the gradient buffer) times the op table's local derivatives
``op.local(ops.NUMPY, out, *inputs)`` gives each input's contribution, which is
added into the input rows (with a segment sum where one node feeds the group
several times). A uniform input's contribution is summed over the batch:
that is how a parameter's gradient collects every sample's share.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import ops
from ..ops import DomainError, Op
from .trace import CONST, OP, PARAM, Trace

__all__ = ["Program"]

U, V = 0, 1  # the two stages / buffers
_DATA = operator.attrgetter("data")  # read every parameter's value without a Python-level loop
_SHORT_SUM = 4  # sums of at most this many terms are added position by position


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
        self.order: np.ndarray | None = None
        self.uniq: np.ndarray | None = None
        self.starts: np.ndarray = np.zeros(0, np.intp)
        if self.sl is None and len(np.unique(self.idx)) < n:
            # Repeated rows: sort once, then segment-sum contributions per row.
            order = np.argsort(self.idx, kind="stable")
            sorted_idx = self.idx[order]
            starts = np.flatnonzero(np.r_[True, sorted_idx[1:] != sorted_idx[:-1]])
            self.order, self.uniq, self.starts = order, sorted_idx[starts], starts

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
    """Nodes of one kind at one level of one stage: rows ``start:stop`` of that stage's buffer.

    ``kind`` is ``"op"`` (one op of the table applied row-wise), ``"sum"`` (n-ary
    sums) or ``"dot"`` (n-ary sums of products weight·x sharing the same x rows:
    a matrix product).
    """

    kind: str
    stage: int
    op: Op | None
    level: int
    start: int
    stop: int
    nodes: list[int]         # trace node indices, one per row
    needs_grad: bool
    args: list[_Index] = field(default_factory=list)   # "op": one gather per argument position
    # "sum" and "dot": the (other) terms, per buffer, each with its row (segment) in the group
    terms: list[tuple[_Index, np.ndarray, _Index | None]] = field(default_factory=list)
    sum_positions: list[np.ndarray] = field(default_factory=list)  # "sum": where each buffer's terms go
    n_terms: int = 0
    seg_starts: np.ndarray | None = None
    equal_width: int = 0     # "sum": every sum has this many terms (0: ragged)
    weights: _Index | None = None  # "dot": U rows of the (rows x m) weight matrix, row-major
    xs: _Index | None = None       # "dot": the m shared x rows

    @property
    def name(self) -> str:
        if self.kind != "op":
            return self.kind
        assert self.op is not None
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
        is_add = [nd.kind == OP and nd.op is not None and nd.op.sum_like for nd in nodes]
        absorbed = [is_add[i] and uses[i] == 1 and parent[i] >= 0 and is_add[parent[i]] for i in range(n)]

        # Executed nodes and their dependencies (an op's args, or a sum's terms).
        deps: dict[int, list[int]] = {}
        for i, node in enumerate(nodes):
            if node.kind != OP or absorbed[i]:
                continue
            if is_add[i]:
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

        # Sums of products weight·x (weight uniform, x per sample, the product used
        # only by this sum) are candidates for a matrix product.
        def product(t: int, in_uniform_sum: bool) -> tuple[int, int] | None:
            """(weight, x) if term t is a product used only by its sum: weight uniform, x per sample
            (or, in a uniform sum such as an L2 penalty, both uniform)."""
            nd = nodes[t]
            if not (nd.op is not None and nd.op.bilinear and uses[t] == 1 and t in deps):
                return None
            a, b = nd.args
            if in_uniform_sum:
                return (a, b)
            if uniform[a] != uniform[b]:
                return (a, b) if uniform[a] else (b, a)
            return None

        # sum -> (weights, xs, other terms, the product nodes it replaces)
        dots: dict[int, tuple[list[int], list[int], list[int], list[int]]] = {}
        for i, ds in deps.items():
            if is_add[i]:
                prods = [(t, product(t, uniform[i])) for t in ds]
                if any(p is not None for _, p in prods):
                    dots[i] = ([p[0] for _, p in prods if p is not None], [p[1] for _, p in prods if p is not None],
                               [t for t, p in prods if p is None], [t for t, p in prods if p is not None])

        def levels(contracted: set[int]) -> list[int]:
            hidden = {t for i in contracted for t in dots[i][3]}
            level = [0] * n
            for i, ds in deps.items():  # dict order is topological order
                if i in hidden:
                    continue
                if i in contracted:
                    ds = dots[i][1] + dots[i][2]
                level[i] = 1 + max((level[d] for d in ds if uniform[d] == uniform[i]), default=0)
            return level

        # Contract where several sums at one level share their x rows (an MLP layer), or one sum is long.
        level = levels(set(dots))
        count: dict[tuple[int, tuple[int, ...]], int] = {}
        for i, (_, xs, _, _) in dots.items():
            count[(level[i], tuple(xs))] = count.get((level[i], tuple(xs)), 0) + 1
        contracted = {i for i, (_, xs, _, _) in dots.items() if count[(level[i], tuple(xs))] >= 2 or len(xs) >= 4}
        level = levels(contracted)
        hidden = {t for i in contracted for t in dots[i][3]}

        def key(i: int) -> tuple[Any, ...]:
            op = nodes[i].op
            assert op is not None
            stage = U if uniform[i] else V
            if i in contracted:
                return (stage, level[i], "~dot", 0.0, tuple(dots[i][1]))
            if is_add[i]:
                return (stage, level[i], "~sum", 0.0, ())
            srcs = tuple(U if uniform[a] else V for a in deps[i])
            return (stage, level[i], op.name, -np.inf if op.param is None else op.param, srcs)

        groups_of: dict[tuple[Any, ...], list[int]] = {}
        for i in deps:
            if i not in hidden:
                groups_of.setdefault(key(i), []).append(i)
        keys = sorted(groups_of)

        # Rows: U = params, constants, then uniform groups; V = inputs, then groups.
        # Parameters are laid out so that each matrix product's weights, row-major, and then
        # its other uniform terms (the biases) are contiguous rows: gathered as views, not copies.
        row = [-1] * n
        param_order: list[int] = []
        placed: set[int] = set()

        def place(candidates: list[int]) -> None:
            for t in candidates:
                if nodes[t].kind == PARAM and t not in placed:
                    placed.add(t)
                    param_order.append(t)

        # Per-sample matrix products first (they are the hot path), then uniform ones (penalties).
        for k in sorted(keys, key=lambda k: k[0] != V):
            if k[2] == "~dot":
                for i in groups_of[k]:
                    place(dots[i][0])
                for i in groups_of[k]:
                    place(dots[i][2])
        place(trace.param_nodes)
        for r, i in enumerate(param_order):
            row[i] = r
        consts = [i for i, nd in enumerate(nodes) if nd.kind == CONST]
        for r, i in enumerate(consts, start=len(trace.param_nodes)):
            row[i] = r
        for r, i in enumerate(trace.input_nodes):
            row[i] = r
        size = [len(trace.param_nodes) + len(consts), len(trace.input_nodes)]
        spans = []
        for k in keys:
            stage = k[0]
            start = size[stage]
            for i in groups_of[k]:
                row[i] = size[stage]
                size[stage] += 1
            spans.append((start, size[stage]))

        def stage_of(t: int) -> int:
            return U if uniform[t] else V

        def term_indices(flat: list[tuple[int, int]], n_members: int) -> tuple[list[Any], list[np.ndarray]]:
            """Terms (node, member) split by buffer: (gather, member of each, scatter-into-members or None)."""
            out, positions = [], []
            for src in (U, V):
                pos = [p for p, (t, _) in enumerate(flat) if stage_of(t) == src]
                if not pos:
                    continue
                seg = np.asarray([flat[p][1] for p in pos], np.intp)
                gather = _Index(src, [row[flat[p][0]] for p in pos], any(needs[flat[p][0]] for p in pos))
                direct = len(seg) == n_members and bool(np.array_equal(seg, np.arange(n_members)))
                out.append((gather, seg, None if direct else _Index(-1, seg.tolist(), True)))
                positions.append(np.asarray(pos, np.intp))
            return out, positions

        self.groups: list[_Group] = []
        for k, (start, stop) in zip(keys, spans, strict=True):
            members = groups_of[k]
            stage = k[0]
            group = _Group("op", stage, nodes[members[0]].op, k[1], start, stop, members,
                           any(needs[i] for i in members))
            if k[2] == "~dot":
                group.kind, group.op = "dot", None
                weights = [row[w] for i in members for w in dots[i][0]]
                group.weights = _Index(U, weights, any(needs[w] for i in members for w in dots[i][0]))
                xs = dots[members[0]][1]
                group.xs = _Index(stage, [row[x] for x in xs], any(needs[x] for x in xs))
                flat = [(t, j) for j, i in enumerate(members) for t in dots[i][2]]
                group.terms, _ = term_indices(flat, len(members))
                group.n_terms = len(weights) + len(flat)
            elif k[2] == "~sum":
                group.kind, group.op = "sum", None
                flat = [(t, j) for j, i in enumerate(members) for t in deps[i]]
                counts = [len(deps[i]) for i in members]
                group.seg_starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.intp)
                group.equal_width = counts[0] if len(set(counts)) == 1 else 0
                group.n_terms = len(flat)
                columns = [[deps[i][j] for i in members] for j in range(group.equal_width)]
                if 0 < group.equal_width <= _SHORT_SUM and all(
                        len({stage_of(c) for c in col}) == 1 for col in columns):
                    # Short sums of equal length: add the j-th terms of every row, position by position.
                    group.args = [_Index(stage_of(col[0]), [row[c] for c in col], any(needs[c] for c in col))
                                  for col in columns]
                if not group.args:
                    group.terms, group.sum_positions = term_indices(flat, len(members))
            else:
                op = group.op
                assert op is not None
                for j in range(op.arity):
                    children = [deps[i][j] for i in members]
                    group.args.append(_Index(stage_of(children[0]), [row[c] for c in children],
                                             any(needs[c] for c in children)))
            self.groups.append(group)

        self.row = row            # trace node -> its row in its stage's buffer (-1: folded away)
        self.uniform = uniform    # trace node -> computed once per call (True) or per sample
        self.n_rows = size
        self.n_params = len(trace.param_nodes)
        position = {i: k for k, i in enumerate(trace.param_nodes)}
        self.params = [trace.params[position[i]] for i in param_order]  # in row order
        self._u_template = np.zeros((size[U], 1))
        for i in consts:
            self._u_template[row[i], 0] = nodes[i].value
        self.outputs = [(stage_of(o), row[o]) for o in trace.outputs]
        self.n_inputs = len(trace.input_nodes)
        self._buffers: dict[str, np.ndarray] = {}
        self._forward_steps = [self._forward_step(g, k) for k, g in enumerate(self.groups)]
        self._backward_steps = [self._backward_step(g, k) for k, g in reversed(list(enumerate(self.groups)))
                                if g.needs_grad]

    # ---------------------------------------------------------------- steps
    # Each group becomes one forward and one backward closure with every decision
    # (which buffer, slice or index, which kind) taken here, once.

    def _forward_step(self, g: _Group, k: int) -> Callable[[list[np.ndarray], list[Any]], None]:
        st, s, e = g.stage, g.start, g.stop
        np_ = ops.NUMPY
        if g.kind == "op":
            assert g.op is not None
            forward, domain = g.op.forward, g.op.domain
            gets = [_getter(ix) for ix in g.args]

            def op_step(bufs: list[np.ndarray], saved: list[Any]) -> None:
                xs = [get(bufs) for get in gets]
                if domain is not None:
                    bad = domain(*xs)
                    if np.any(bad):
                        batch = bufs[V].shape[1]
                        self._domain_error(g, xs, np.broadcast_to(bad, (e - s, bufs[st].shape[1])), batch)
                bufs[st][s:e] = forward(np_, *xs)
                saved[k] = xs

            return op_step
        if g.kind == "dot":
            assert g.weights is not None and g.xs is not None
            get_w, get_x, shape = _getter(g.weights), _getter(g.xs), (e - s, -1)
            terms = [(_getter(ix), scatter) for ix, _, scatter in g.terms]

            def dot_step(bufs: list[np.ndarray], saved: list[Any]) -> None:
                w, x = get_w(bufs).reshape(shape), get_x(bufs)
                out = bufs[st][s:e]
                np.matmul(w, x, out=out)
                for get, scatter in terms:
                    if scatter is None:
                        out += get(bufs)
                    else:
                        scatter.add_into(out, get(bufs))
                saved[k] = (w, x)

            return dot_step
        if g.args:  # a short sum: t_0 + t_1 + ..., left to right like the chain
            get0, get1, *rest = [_getter(ix) for ix in g.args]

            def short_sum_step(bufs: list[np.ndarray], saved: list[Any]) -> None:
                out = bufs[st][s:e]
                np.add(get0(bufs), get1(bufs), out=out)
                for get in rest:
                    out += get(bufs)

            return short_sum_step
        terms_ = [(_getter(ix), pos) for (ix, _, _), pos in zip(g.terms, g.sum_positions, strict=True)]
        n_terms, width_of_sum = g.n_terms, g.equal_width
        seg_starts = g.seg_starts if g.seg_starts is not None else np.zeros(1, np.intp)

        def sum_step(bufs: list[np.ndarray], saved: list[Any]) -> None:
            width = bufs[st].shape[1]
            if len(terms_) == 1:
                t = terms_[0][0](bufs)
                if t.shape[1] != width:
                    t = np.broadcast_to(t, (t.shape[0], width))
            else:
                t = np.empty((n_terms, width))
                for get, pos in terms_:
                    t[pos] = get(bufs)
            if width_of_sum:
                # Summing over the middle axis adds the terms one after another, like the chain did.
                bufs[st][s:e] = t.reshape(e - s, width_of_sum, width).sum(axis=1)
            else:
                bufs[st][s:e] = np.add.reduceat(t, seg_starts, axis=0)

        return sum_step

    def _backward_step(self, g: _Group, k: int) -> Callable[[list[np.ndarray], list[np.ndarray], list[Any]], None]:
        st, s, e = g.stage, g.start, g.stop
        np_ = ops.NUMPY
        if g.kind == "op":
            assert g.op is not None
            local = g.op.local
            args = [(j, _adder(ix), ix.src == st) for j, ix in enumerate(g.args) if ix.needs_grad]

            def op_back(bufs: list[np.ndarray], grads: list[np.ndarray], saved: list[Any]) -> None:
                g_out = grads[st][s:e]
                locals_ = local(np_, bufs[st][s:e], *saved[k])
                for j, add, same_stage in args:
                    d = locals_[j]
                    if same_stage:
                        add(grads, _times(g_out, d))
                    elif isinstance(d, float):  # a parameter's share, summed over the batch
                        add(grads, g_out.sum(axis=1, keepdims=True) * d)
                    else:
                        add(grads, np.einsum("ij,ij->i", g_out, np.broadcast_to(d, g_out.shape))[:, None])

            return op_back
        # sums and dots: ∂(sum)/∂term = 1, so each term receives the sum's gradient
        positional = [(_adder(ix), ix.src == st) for ix in g.args if ix.needs_grad]
        terms = [(_adder(ix), None if scatter is None else seg, ix.src == st)
                 for ix, seg, scatter in g.terms if ix.needs_grad]
        add_x = _adder(g.xs) if g.xs is not None and g.xs.needs_grad else None
        add_w = _adder(g.weights) if g.weights is not None and g.weights.needs_grad else None
        is_dot = g.kind == "dot"

        def sum_back(bufs: list[np.ndarray], grads: list[np.ndarray], saved: list[Any]) -> None:
            g_out = grads[st][s:e]
            if is_dot:
                w, x = saved[k]
                if add_x is not None:  # ∂(w·x)/∂x = w
                    add_x(grads, w.T @ g_out)
                if add_w is not None:  # ∂(w·x)/∂w = x, summed over the batch
                    add_w(grads, (g_out @ x.T).reshape(-1, 1))
            g_u = None
            for add, same_stage in positional:
                if same_stage:
                    add(grads, g_out)
                else:
                    if g_u is None:
                        g_u = g_out.sum(axis=1, keepdims=True)
                    add(grads, g_u)
            for add, seg, same_stage in terms:
                if same_stage:
                    add(grads, g_out if seg is None else g_out[seg])
                else:
                    if g_u is None:
                        g_u = g_out.sum(axis=1, keepdims=True)
                    add(grads, g_u if seg is None else g_u[seg])

        return sum_back

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
            extra = f", {g.n_terms} terms" if g.kind != "op" else ""
            lines.append(f"  {stage} level {g.level:3d}  {g.name:<16} x{g.stop - g.start}{extra}")
        return "\n".join(lines)

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

    def param_vector(self) -> np.ndarray:
        """The parameters' current ``data``, in the order of ``self.params``."""
        return np.fromiter(map(_DATA, self.params), dtype=float, count=self.n_params)

    def set_params(self, vector: np.ndarray) -> None:
        """Write ``vector`` (ordered like ``self.params``) into the parameters' ``data``."""
        vector = self._check_vector(vector)
        for p, d in zip(self.params, vector.tolist(), strict=True):
            p.data = d

    def _check_vector(self, vector: Any) -> np.ndarray:
        vector = np.asarray(vector, dtype=float)
        if vector.shape != (self.n_params,):
            raise ValueError(f"a parameter vector for {self.trace.fn_name} has shape ({self.n_params},) "
                             f"(one entry per parameter, ordered like .params), got {vector.shape}")
        return vector

    def _params_and_consts(self, vector: np.ndarray | None = None) -> np.ndarray:
        u = self._u_template.copy()
        if self.n_params:
            u[: self.n_params, 0] = self.param_vector() if vector is None else self._check_vector(vector)
        return u

    def _forward(self, cols: Sequence[np.ndarray],
                 params: np.ndarray | None = None) -> tuple[list[np.ndarray], list[Any], int]:
        if len(cols) != self.n_inputs:
            raise ValueError(f"{self.trace.fn_name} was traced with {self.n_inputs} inputs, got {len(cols)} columns")
        batch = len(cols[0]) if cols else 1
        for k, c in enumerate(cols):
            if c.shape != (batch,):
                raise ValueError(f"input {self.trace.nodes[self.trace.input_nodes[k]].name} has shape {c.shape}; "
                                 f"every input must have the same shape (batch,) = ({batch},)")
        bufs = [self._params_and_consts(params), self._buffer("values", batch)]
        if cols:
            bufs[V][: self.n_inputs] = cols
        saved: list[Any] = [None] * len(self.groups)
        with np.errstate(all="ignore"):
            for step in self._forward_steps:
                step(bufs, saved)
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

    def run(self, cols: Sequence[np.ndarray], params: np.ndarray | None = None) -> Any:
        """Every output for every sample: arrays of shape (batch,), shaped like fn's result."""
        bufs, _, batch = self._forward(cols, params)
        outs = [self._output(bufs, k, batch) for k in range(len(self.outputs))]
        kind = self.trace.output_kind
        return outs[0] if kind == "value" else (tuple(outs) if kind == "tuple" else outs)

    # ---------------------------------------------------------------- backward

    def value_and_grad(self, cols: Sequence[np.ndarray], reduction: str = "mean", output: int = 0,
                       write_grad: bool = True, params: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """Loss reduced over the batch and its gradient for each parameter (see ``Jitted.value_and_grad``)."""
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
        if not -len(self.outputs) <= output < len(self.outputs):
            raise IndexError(f"output {output} is out of range: {self.trace.fn_name} returns "
                             f"{len(self.outputs)} value(s)")
        bufs, saved, batch = self._forward(cols, params)
        stage, r = self.outputs[output]
        y = bufs[stage][r]
        if stage == V:
            loss = float(y.sum()) / batch if reduction == "mean" else float(y.sum())
        else:  # the output does not depend on the inputs: the same for every sample
            loss = float(y[0]) if reduction == "mean" else float(y[0]) * batch
        if not math.isfinite(loss):
            self._output(bufs, output, batch)  # raises, counting the samples that overflowed
        grads = [np.zeros((self.n_rows[U], 1)), self._buffer("grads", batch)]
        grads[V].fill(0.0)
        scale = 1.0 / batch if reduction == "mean" else 1.0
        grads[stage][r] += scale if stage == V else scale * batch
        with np.errstate(all="ignore"):
            for step in self._backward_steps:
                step(bufs, grads, saved)
        param_grads = grads[U][: self.n_params, 0].copy()
        if write_grad:
            for p, gp in zip(self.params, param_grads.tolist(), strict=False):
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


def _getter(ix: _Index) -> Callable[[list[np.ndarray]], np.ndarray]:
    """bufs -> the rows ``ix`` names: a view for a contiguous range, else a gather."""
    src = ix.src
    if ix.sl is not None:
        sl = ix.sl
        return lambda bufs: bufs[src][sl]
    idx = ix.idx
    return lambda bufs: bufs[src][idx]


def _adder(ix: _Index) -> Callable[[list[np.ndarray], np.ndarray], None]:
    """(grads, contribution) -> grads[src][rows] += contribution, rows repeated or not."""
    src = ix.src
    if ix.sl is not None:
        sl = ix.sl

        def add_range(grads: list[np.ndarray], c: np.ndarray) -> None:
            grads[src][sl] += c

        return add_range
    if ix.order is None:
        idx = ix.idx

        def add_rows(grads: list[np.ndarray], c: np.ndarray) -> None:
            grads[src][idx] += c

        return add_rows
    order, uniq, starts = ix.order, ix.uniq, ix.starts

    def add_repeated(grads: list[np.ndarray], c: np.ndarray) -> None:
        grads[src][uniq] += np.add.reduceat(c[order], starts, axis=0)

    return add_repeated
