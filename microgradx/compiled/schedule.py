"""The compiler's passes: a trace becomes a :class:`Schedule` of vectorised groups, which ``program.py`` runs.

A trace (``trace.py``) is a graph of scalar ops. Run naively, one numpy call per
node would be no faster than the eager engine. Instead the graph is scheduled
once, by five passes; each is a function of the trace and the earlier passes'
results, and reads the op table's rows and traits, never a particular op:

1. :func:`stages` -- a node that depends on no input (a parameter, a constant, or
   an op on those only, like an L2 penalty) is *uniform*: the same for every
   sample, computed once per call in stage U, a buffer of shape ``(n_uniform, 1)``.
   Every other node is computed per sample in stage V, ``(n_varying, batch)``.
   A node *needs a gradient* when it depends on a parameter.
2. :func:`sums` -- a chain of ``sum_like`` ops (out = x + y) whose intermediate
   results are used once (what ``sum(w_i * x_i)`` builds) becomes one n-ary sum.
   This is scheduling, not a new op: ∂(x + y)/∂x = ∂(x + y)/∂y = 1, so every
   term of the sum gets the sum's gradient.
3. :func:`matrix_products` -- when several such sums at one level add up
   ``bilinear`` products ``w_jk · x_k`` (out = x·y) of the same per-sample rows
   ``x`` (the neurons of an MLP layer), the products and sums become one
   ``W @ X``: ∂(w·x)/∂w = x and ∂(w·x)/∂x = w is what the matrix product's
   backward pass ``g @ X.T`` and ``W.T @ g`` computes.
4. :func:`groups` -- within a stage, a node's *level* is one more than its
   deepest operand's. Nodes of the same op at the same level (reading the same
   buffers) form a group: one numpy call for all of them. An MLP layer is two
   groups (dot, relu), however wide it is.
5. :func:`row_layout` -- every node gets a row of its stage's buffer: U holds the
   parameters (each matrix product's weights row-major, then its biases, so they
   are read as views, not copies), the constants, then the uniform groups; V
   holds the inputs, then the per-sample groups. A group's rows are contiguous.

:func:`build` then prepares, once, the rows each group reads and adds gradients
into (a slice where they are contiguous, else an index). A long stretch of
one-node levels (a deep chain: nothing to vectorise across nodes) becomes one
:class:`RunGroup` of arrays rather than one object per node. :func:`schedule`
runs all of it and returns the :class:`Schedule`.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from ..modes import gc_paused
from ..ops import Op
from .trace import K_INPUT, K_OP, K_PARAM, Trace

__all__ = ["Schedule", "Group", "OpGroup", "SumGroup", "DotGroup", "RunGroup", "Rows", "Terms", "schedule",
           "stages", "sums", "matrix_products", "groups", "row_layout", "build", "U", "V"]

U, V = 0, 1  # the two stages / buffers
_SHORT_SUM = 4  # sums of at most this many terms are added position by position
_RUN = 32  # at least this many one-node groups in a row (in one stage) become one RunGroup


# -------------------------------------------------------------------- what the passes produce


@dataclass(eq=False)
class Stages:
    """Pass 1: per node, whether it is uniform, whether it needs a gradient, and who reads it."""

    uniform: np.ndarray     # bool: the same for every sample (depends on no input)
    needs_grad: np.ndarray  # bool: depends on a parameter
    uses: np.ndarray        # int: how many op arguments and outputs read it
    parent: np.ndarray      # int: an op that reads it (the only one where uses == 1), -1 if none


@dataclass(eq=False)
class Sums:
    """Pass 2: the adds folded into n-ary sums, and each remaining sum's terms, left to right."""

    absorbed: np.ndarray         # bool per node
    terms: dict[int, list[int]]  # sum node -> its terms


@dataclass(eq=False)
class Dot:
    """Pass 3: one sum Σ_k weights[k]·xs[k] + Σ others, to run as a row of a matrix product."""

    weights: list[int]   # uniform factors, one per product
    xs: list[int]        # the rows they multiply (shared by every sum of the group)
    others: list[int]    # the sum's other terms (a bias)
    products: list[int]  # the product nodes it replaces


@dataclass(eq=False)
class Grouping:
    """Pass 4: the executed nodes, group after group."""

    nodes: np.ndarray    # group k is nodes[bounds[k]:bounds[k + 1]]
    bounds: np.ndarray
    stage: np.ndarray    # per group: U or V
    level: np.ndarray    # per group
    kind: list[str]      # per group: "op", "sum" or "dot"


@dataclass(eq=False)
class Layout:
    """Pass 5: every node's row in its stage's buffer."""

    row: np.ndarray          # per node (-1: folded into a sum or a matrix product)
    param_order: np.ndarray  # the parameter nodes in row order: U rows 0 .. n_params - 1
    n_rows: tuple[int, int]  # rows of U and of V


# -------------------------------------------------------------------- the executable groups


class Rows:
    """Rows of one buffer that a group reads (a view when contiguous, else a gather) or adds into.

    Adding handles rows that appear several times (a node read twice by one group)
    with a segment sum, prepared here once.
    """

    __slots__ = ("src", "start", "stop", "idx", "repeated", "needs_grad", "at")

    def __init__(self, src: int, rows: list[int], needs_grad: bool) -> None:
        self.src, self.needs_grad = src, needs_grad
        first, n = rows[0], len(rows)
        self.start, self.stop = first, first + n
        self.at: Any = slice(first, first + n)  # what to index the buffer with: this slice, or idx
        self.idx: np.ndarray | None = None
        self.repeated: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        if n == 1 or rows == list(range(first, first + n)):
            return
        self.idx = self.at = idx = np.array(rows, np.intp)
        if len(set(rows)) < n:  # sort once; then each row receives the sum of its segment
            order = np.argsort(idx, kind="stable")
            ordered = idx[order]
            starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
            self.repeated = (order, ordered[starts], starts)

    def __len__(self) -> int:
        return self.stop - self.start if self.idx is None else len(self.idx)

    def read(self, bufs: list[np.ndarray]) -> np.ndarray:
        """These rows of their buffer: a view when contiguous, else a copy."""
        return bufs[self.src][self.at]

    def add(self, bufs: list[np.ndarray], contrib: np.ndarray) -> None:
        """bufs[src][rows] += contrib, correct when a row appears several times."""
        self.add_into(bufs[self.src], contrib)

    def add_into(self, buf: np.ndarray, contrib: np.ndarray) -> None:
        """buf[rows] += contrib, for a buffer given directly."""
        if self.repeated is None:
            buf[self.at] += contrib
        else:
            order, uniq, starts = self.repeated
            if contrib.shape[0] != len(order):
                contrib = np.broadcast_to(contrib, (len(order),) + contrib.shape[1:])
            buf[uniq] += np.add.reduceat(contrib[order], starts, axis=0)


@dataclass(slots=True, eq=False)
class Terms:
    """The terms of a group's sums that live in one buffer."""

    rows: Rows             # where they are
    member: np.ndarray     # which sum of the group each one belongs to
    into: Rows | None      # adds them into the group's rows (None: one per sum, in order)
    position: np.ndarray   # where they stand among all the group's terms (sums in order)


@dataclass(slots=True, eq=False)
class Group:
    """Nodes of one kind at one level of one stage: rows ``start:stop`` of that stage's buffer."""

    stage: int
    level: int
    start: int
    stop: int
    needs_grad: bool

    @property
    def name(self) -> str:
        return "?"

    @property
    def size(self) -> int:
        return self.stop - self.start


@dataclass(slots=True, eq=False)
class OpGroup(Group):
    """One op of the table applied row-wise: ``rows = op(args[0], args[1])``."""

    op: Op
    args: tuple[Rows, ...]

    @property
    def name(self) -> str:
        return self.op.name if self.op.param is None else f"{self.op.name}[p={self.op.param:g}]"


@dataclass(slots=True, eq=False)
class SumGroup(Group):
    """n-ary sums, one per row: ``columns`` (equal short sums, added position by position) or ``terms``."""

    n_terms: int
    columns: tuple[Rows, ...] = ()
    terms: tuple[Terms, ...] = ()
    width: int = 0                 # every sum has this many terms (0: they differ)
    seg_starts: np.ndarray | None = None  # where each sum's terms start among the group's

    @property
    def name(self) -> str:
        return "sum"


@dataclass(slots=True, eq=False)
class DotGroup(Group):
    """Sums of products weight·x sharing the x rows, plus other terms: ``rows = W @ X + others``."""

    n_terms: int
    weights: Rows                  # U rows of the (rows x m) weight matrix, row-major
    xs: Rows                       # the m shared x rows
    terms: tuple[Terms, ...] = ()

    @property
    def name(self) -> str:
        return "dot"


@dataclass(slots=True, eq=False)
class RunGroup(Group):
    """Single-node steps, each on the rows the ones before wrote: a deep chain such as y = tanh(w·y + c).

    A level holding one node cannot be vectorised across nodes, so a long stretch of them
    is kept as arrays, one entry per step, instead of one group object per node: step k
    writes row ``start + k`` with ``ops[code[k]]`` applied to rows ``rows[k]`` of the
    buffers ``src[k]`` (``-1``: the op takes one argument). Levels ``level`` .. ``last_level``.
    """

    last_level: int
    ops: list[Op]
    code: np.ndarray   # int per step: index into ops
    src: np.ndarray    # int8 (steps, 2): U, V, or -1
    rows: np.ndarray   # int32 (steps, 2)
    needs: np.ndarray  # bool (steps, 2): that argument needs a gradient

    @property
    def name(self) -> str:
        return "run"

    def step(self, k: int) -> OpGroup:
        """Step ``k`` as a one-node group (what the error messages describe)."""
        args = tuple(Rows(int(s), [int(r)], bool(n))
                     for s, r, n in zip(self.src[k], self.rows[k], self.needs[k], strict=True) if s >= 0)
        return OpGroup(self.stage, self.level, self.start + k, self.start + k + 1, bool(self.needs[k].any()),
                       self.ops[int(self.code[k])], args)


@dataclass(eq=False)
class Schedule:
    """What ``Program`` executes: the groups in order, and where everything lives in the two buffers."""

    groups: list[Group]
    n_rows: tuple[int, int]       # rows of U (uniform) and V (per sample)
    param_order: np.ndarray       # U row r < n_params holds trace.params[param_order[r]]
    u_template: np.ndarray        # (n_rows[U], 1): the constants in place, the rest 0 (Program runs in it)
    outputs: list[tuple[int, int]]  # (stage, row) of each output
    row_nodes: tuple[np.ndarray, np.ndarray]  # per stage: the trace node of each row (-1: none)

    def text(self, fn_name: str, n_ops: int) -> str:
        """One line per group, in execution order: stage, level, op, how many nodes (and terms)."""
        lines = [f"schedule of {fn_name}: {n_ops} ops in {len(self.groups)} groups "
                 f"({self.n_rows[U]} uniform rows, {self.n_rows[V]} per-sample rows)"]
        for g in self.groups:
            stage = "U" if g.stage == U else "V"
            extra = f", {g.n_terms} terms" if isinstance(g, (SumGroup, DotGroup)) else ""
            if isinstance(g, RunGroup):
                extra = f", one node per level to {g.last_level}: {', '.join(sorted({op.name for op in g.ops}))}"
            lines.append(f"  {stage} level {g.level:3d}  {g.name:<16} x{g.size}{extra}")
        return "\n".join(lines)


# -------------------------------------------------------------------- the passes


@lru_cache(maxsize=1)  # the passes of one schedule() share them; schedule() clears the cache
def _columns(trace: Trace) -> tuple[list[int], list[int]]:
    """Each node's first and second argument as lists (-1: none; as a list index, -1 reads a sentinel)."""
    return trace.args[:, 0].tolist(), trace.args[:, 1].tolist()


def _trait(trace: Trace, name: str) -> np.ndarray:
    """Per node: does its op have the row trait ``name`` (False for leaves)?"""
    per_op = np.array([bool(getattr(op, name)) for op in trace.ops] + [False])
    return per_op[trace.op]  # a leaf's op is -1: the False at the end


def stages(trace: Trace) -> Stages:
    """Pass 1: uniform (no input below it) or per sample; needs a gradient (a parameter below it); readers."""
    n = trace.n_nodes
    first, second = trace.args[:, 0], trace.args[:, 1]
    op_nodes = np.flatnonzero(trace.kind == K_OP)
    reads = np.concatenate([first[first >= 0], second[second >= 0], np.asarray(trace.outputs, np.intp)])
    uses = np.bincount(reads, minlength=n)
    parent = np.full(n, -1, np.intp)
    parent[first[op_nodes]] = op_nodes
    binary = op_nodes[second[op_nodes] >= 0]
    parent[second[binary]] = binary
    varying = (trace.kind == K_INPUT).tolist() + [False]  # index -1 (no second argument): False
    needs = (trace.kind == K_PARAM).tolist() + [False]
    a, b = _columns(trace)
    for i in op_nodes.tolist():  # children before parents
        x, y = a[i], b[i]
        varying[i] = varying[x] or varying[y]
        needs[i] = needs[x] or needs[y]
    return Stages(~np.array(varying[:n], bool), np.array(needs[:n], bool), uses, parent)


def sums(trace: Trace, st: Stages) -> Sums:
    """Pass 2: chains of ``sum_like`` ops whose intermediate results are used once become n-ary sums."""
    sum_like = _trait(trace, "sum_like") & (trace.args[:, 1] >= 0)  # out = x + y: two operands
    absorbed = sum_like & (st.uses == 1) & (st.parent >= 0)
    absorbed[absorbed] = sum_like[st.parent[absorbed]]
    folded = absorbed.tolist() + [False]
    a, b = _columns(trace)
    terms: dict[int, list[int]] = {}
    for root in np.flatnonzero(sum_like & ~absorbed).tolist():
        out: list[int] = []
        pending = [root]
        while pending:  # depth first, left to right: the order the chain added them
            t = pending.pop()
            if t != root and not folded[t]:
                out.append(t)
                continue
            while True:  # down the left spine (sum(...) builds ((t0 + t1) + t2) + ...), right sides for later
                pending.append(b[t])
                t = a[t]
                if not folded[t]:
                    break
            out.append(t)
        terms[root] = out
    return Sums(absorbed, terms)


def matrix_products(trace: Trace, st: Stages, sm: Sums) -> dict[int, Dot]:
    """Pass 3: sums of products weight·x become rows of a matrix product where that pays.

    A term is a product when its op is ``bilinear`` and the sum is its only reader;
    its weight is the uniform factor, x the per-sample one (in a uniform sum, such as
    an L2 penalty, both are uniform). A sum is contracted when another sum at its
    level shares its x rows (an MLP layer), or when it has four products or more.
    """
    product = (_trait(trace, "bilinear") & (st.uses == 1)).tolist()
    uniform = st.uniform.tolist()
    a, b = _columns(trace)
    candidates: dict[int, Dot] = {}
    for i, ts in sm.terms.items():
        dot = Dot([], [], [], [])
        for t in ts:
            w, x = a[t], b[t]
            if product[t] and (uniform[i] or uniform[w] != uniform[x]):
                if not uniform[w]:
                    w, x = x, w
                dot.weights.append(w)
                dot.xs.append(x)
                dot.products.append(t)
            else:
                dot.others.append(t)
        if dot.products:
            candidates[i] = dot
    same_xs = Counter(tuple(d.xs) for d in candidates.values())
    if all(same_xs[tuple(d.xs)] == 1 for d in candidates.values()):  # nothing shared: no levels needed
        return {i: d for i, d in candidates.items() if len(d.xs) >= 4}
    level = levels(trace, st, sm, candidates)
    shared = Counter((level[i], tuple(d.xs)) for i, d in candidates.items())
    return {i: d for i, d in candidates.items() if shared[(level[i], tuple(d.xs))] >= 2 or len(d.xs) >= 4}


def levels(trace: Trace, st: Stages, sm: Sums, dots: dict[int, Dot]) -> list[int]:
    """Per node: 1 + the deepest level among its operands in the same stage (0 for leaves and folded nodes)."""
    n = trace.n_nodes
    level = [0] * (n + 1)  # index -1 (no second argument): level 0
    uniform = st.uniform.tolist() + [None]
    a, b = _columns(trace)
    terms = sm.terms
    for i in _executed(trace, sm, dots).tolist():  # children before parents
        u = uniform[i]
        dot = dots.get(i)
        operands = dot.weights + dot.xs + dot.others if dot is not None else terms.get(i)
        if operands is None:  # an op: its one or two arguments
            x, y = a[i], b[i]
            lx = level[x] if uniform[x] == u else 0
            ly = level[y] if uniform[y] == u else 0
            level[i] = 1 + (lx if lx > ly else ly)
        else:
            level[i] = 1 + max((level[d] for d in operands if uniform[d] == u), default=0)
    return level


def _executed(trace: Trace, sm: Sums, dots: dict[int, Dot]) -> np.ndarray:
    """The op nodes that run: not folded into a sum, not a product inside a matrix product."""
    run = (trace.kind == K_OP) & ~sm.absorbed
    for d in dots.values():
        run[d.products] = False
    return np.flatnonzero(run)


def groups(trace: Trace, st: Stages, sm: Sums, dots: dict[int, Dot]) -> Grouping:
    """Pass 4: nodes of one kind at one level of one stage, reading the same buffers, form one group.

    "One kind" is one op with one parameter, or a sum, or a matrix product over the
    same x rows. Groups run stage U first, then level by level.
    """
    nodes = _executed(trace, sm, dots)  # ascending
    level = np.asarray(levels(trace, st, sm, dots), np.int64)[nodes]
    stage = np.where(st.uniform[nodes], U, V)
    names = sorted({op.name for op in trace.ops} | {"~dot", "~sum"})  # '~' sorts sums and products last
    name_of_op = np.array([names.index(op.name) for op in trace.ops] + [0])
    param_of_op = np.array([-np.inf if op.param is None else op.param for op in trace.ops] + [0.0])
    name, param = name_of_op[trace.op[nodes]], param_of_op[trace.op[nodes]]
    first, second = trace.args[nodes, 0], trace.args[nodes, 1]
    reads_v = ~st.uniform
    source = reads_v[first] * 2 + np.where(second >= 0, reads_v[second], 0)  # the buffers its arguments are in
    at = np.searchsorted(nodes, np.fromiter(sm.terms, np.intp, len(sm.terms)))
    name[at], param[at], source[at] = names.index("~sum"), 0.0, 0
    xs_rank = {xs: r for r, xs in enumerate(sorted({tuple(d.xs) for d in dots.values()}))}
    for i, dot in dots.items():
        k = int(np.searchsorted(nodes, i))
        name[k], param[k], source[k] = names.index("~dot"), 0.0, xs_rank[tuple(dot.xs)]
    keys = (source, param, name, level, stage)
    order = np.lexsort(keys)  # stable: a group's nodes stay in trace order
    ordered = np.stack([np.asarray(key, float)[order] for key in keys])
    changes = np.any(ordered[:, 1:] != ordered[:, :-1], axis=0)
    starts = np.flatnonzero(np.r_[True, changes]) if len(nodes) else np.zeros(0, np.intp)
    kinds = {names.index("~dot"): "dot", names.index("~sum"): "sum"}
    return Grouping(nodes[order], np.r_[starts, len(nodes)], stage[order][starts], level[order][starts],
                    [kinds.get(int(r), "op") for r in name[order][starts]])


def row_layout(trace: Trace, st: Stages, grouping: Grouping, dots: dict[int, Dot]) -> Layout:
    """Pass 5: rows. U = parameters, constants, uniform groups; V = inputs, per-sample groups.

    Parameters come in the order the matrix products read them -- per-sample products
    first (the hot path), then uniform ones (penalties); per product its weights row
    by row, then its other terms (biases) -- then the rest in trace order.
    """
    row = np.full(trace.n_nodes, -1, np.intp)
    placed: list[list[int]] = []
    dot_groups = [k for k, kind in enumerate(grouping.kind) if kind == "dot"]
    for k in sorted(dot_groups, key=lambda k: grouping.stage[k] != V):
        members = grouping.nodes[grouping.bounds[k]:grouping.bounds[k + 1]].tolist()
        placed.extend(dots[i].weights for i in members)
        placed.extend(dots[i].others for i in members)
    placed.append(np.asarray(trace.param_nodes).tolist())
    candidates = np.concatenate([np.asarray(p, np.intp) for p in placed])
    candidates = candidates[trace.kind[candidates] == K_PARAM]
    _, first = np.unique(candidates, return_index=True)
    param_order = candidates[np.sort(first)]
    consts = trace.constants()[0]
    n_fixed = len(param_order) + len(consts)
    row[param_order] = np.arange(len(param_order))
    row[consts] = np.arange(len(param_order), n_fixed)
    row[trace.input_nodes] = np.arange(len(trace.input_nodes))
    stage = np.repeat(grouping.stage, np.diff(grouping.bounds))
    uniform_nodes, varying_nodes = grouping.nodes[stage == U], grouping.nodes[stage == V]
    row[uniform_nodes] = n_fixed + np.arange(len(uniform_nodes))
    row[varying_nodes] = len(trace.input_nodes) + np.arange(len(varying_nodes))
    return Layout(row, param_order, (n_fixed + len(uniform_nodes), len(trace.input_nodes) + len(varying_nodes)))


# -------------------------------------------------------------------- the groups, ready to run


class _Indexer:
    """Rows of nodes, from the layout (plain lists: the build touches every node once or twice)."""

    def __init__(self, trace: Trace, st: Stages, layout: Layout) -> None:
        self.row = layout.row.tolist()
        self.uniform = st.uniform.tolist()
        self.needs = st.needs_grad.tolist()
        self.first, self.second = _columns(trace)
        self.op = trace.op.tolist()

    def stage(self, node: int) -> int:
        return U if self.uniform[node] else V

    def rows(self, nodes: list[int]) -> Rows:
        """The rows of ``nodes``, which are all in one stage."""
        row, needs, first = self.row, self.needs, nodes[0]
        if len(nodes) == 1:
            return Rows(U if self.uniform[first] else V, [row[first]], needs[first])
        return Rows(U if self.uniform[first] else V, [row[i] for i in nodes], any(needs[i] for i in nodes))

    def terms(self, flat: list[tuple[int, int]], n_members: int) -> tuple[Terms, ...]:
        """Terms ``(node, member)`` split by buffer, each with the scatter into its member's row."""
        out = []
        for src in (U, V):
            pos = [p for p, (t, _) in enumerate(flat) if self.stage(t) == src]
            if not pos:
                continue
            member = np.array([flat[p][1] for p in pos], np.intp)
            direct = len(member) == n_members and bool(np.array_equal(member, np.arange(n_members)))
            into = None if direct else Rows(-1, member.tolist(), True)
            out.append(Terms(self.rows([flat[p][0] for p in pos]), member, into, np.array(pos, np.intp)))
        return tuple(out)


def build(trace: Trace, st: Stages, sm: Sums, dots: dict[int, Dot], grouping: Grouping,
          layout: Layout) -> list[Group]:
    """The executable groups: for each, the rows it reads and adds gradients into."""
    ix = _Indexer(trace, st, layout)
    runs = _runs(trace, st, sm, grouping, layout)
    nodes, bounds = grouping.nodes.tolist(), grouping.bounds.tolist()
    stages_, levels_ = grouping.stage.tolist(), grouping.level.tolist()
    out: list[Group] = []
    k = 0
    while k < len(grouping.kind):
        if k in runs:
            k, run = runs[k]
            out.append(run)
            continue
        members = nodes[bounds[k]:bounds[k + 1]]
        start = ix.row[members[0]]
        needs = ix.needs[members[0]] if len(members) == 1 else any(ix.needs[i] for i in members)
        head = (stages_[k], levels_[k], start, start + len(members), needs)
        kind = grouping.kind[k]
        if kind == "op":
            op = trace.ops[ix.op[members[0]]]
            args = ([ix.first[i] for i in members], [ix.second[i] for i in members])[: op.arity]
            out.append(OpGroup(*head, op, tuple(ix.rows(a) for a in args)))
        elif kind == "sum":
            out.append(_sum_group(ix, head, [sm.terms[i] for i in members]))
        else:
            ds = [dots[i] for i in members]
            weights, xs = _dot_columns(ix, ds)
            flat = [(t, j) for j, d in enumerate(ds) for t in d.others]
            out.append(DotGroup(*head, len(weights) + len(flat), weights, xs, ix.terms(flat, len(ds))))
        k += 1
    return out


def _runs(trace: Trace, st: Stages, sm: Sums, grouping: Grouping, layout: Layout) -> dict[int, tuple[int, RunGroup]]:
    """Stretches of at least ``_RUN`` one-node groups of one stage, as RunGroups: first group -> (end, run).

    A one-node group qualifies when it is an op, or a sum of exactly its own two
    arguments (nothing folded into it: then it is its add op).
    """
    if len(grouping.kind) < _RUN:
        return {}
    first_node = grouping.nodes[grouping.bounds[:-1]]
    kind = np.array(grouping.kind)
    a, b = trace.args[first_node, 0], trace.args[first_node, 1]
    plain_sum = (kind == "sum") & ~sm.absorbed[a] & ~sm.absorbed[np.where(b >= 0, b, a)]
    single = (np.diff(grouping.bounds) == 1) & ((kind == "op") | plain_sum)
    # maximal stretches of consecutive qualifying groups in one stage
    key = np.where(single, grouping.stage, -1)
    edges = np.flatnonzero(np.r_[True, key[1:] != key[:-1], True])
    runs = {}
    for k0, k1 in zip(edges[:-1].tolist(), edges[1:].tolist(), strict=True):
        if key[k0] >= 0 and k1 - k0 >= _RUN:
            runs[k0] = (k1, _run_group(trace, st, grouping, layout, k0, k1))
    return runs


def _run_group(trace: Trace, st: Stages, grouping: Grouping, layout: Layout, k0: int, k1: int) -> RunGroup:
    """Groups k0 .. k1 - 1 (one node each, consecutive rows of one stage) as one RunGroup."""
    nodes = grouping.nodes[grouping.bounds[k0]:grouping.bounds[k1]]
    used, code = np.unique(trace.op[nodes], return_inverse=True)
    args = trace.args[nodes]
    has = args >= 0
    src = np.where(has, np.where(st.uniform[args], U, V), -1).astype(np.int8)
    rows = np.where(has, layout.row[args], -1).astype(np.int32)
    needs = has & st.needs_grad[args]
    start = int(layout.row[nodes[0]])
    return RunGroup(int(grouping.stage[k0]), int(grouping.level[k0]), start, start + len(nodes), bool(needs.any()),
                    int(grouping.level[k1 - 1]), [trace.ops[c] for c in used.tolist()], code.astype(np.int32),
                    src, rows, needs)


def _dot_columns(ix: _Indexer, ds: list[Dot]) -> tuple[Rows, Rows]:
    """The weight and x rows of a matrix product, columns in trace order -- or sorted by x row, when
    that makes both contiguous (an L2 penalty Σ p·p over every parameter: read as views, not gathered).

    A matrix product sums its columns in BLAS's order anyway, so their order is free."""
    weights, xs = ix.rows([w for d in ds for w in d.weights]), ix.rows(ds[0].xs)
    if weights.idx is None and xs.idx is None:
        return weights, xs
    x_rows = [ix.row[x] for x in ds[0].xs]
    order = sorted(range(len(x_rows)), key=x_rows.__getitem__)
    sorted_weights = ix.rows([d.weights[k] for d in ds for k in order])
    sorted_xs = ix.rows([ds[0].xs[k] for k in order])
    if sorted_weights.idx is None and sorted_xs.idx is None:
        return sorted_weights, sorted_xs
    return weights, xs


def _sum_group(ix: _Indexer, head: tuple[int, int, int, int, bool], terms: list[list[int]]) -> SumGroup:
    """Short sums of equal width from one buffer per position: added position by position; else stacked."""
    counts = [len(ts) for ts in terms]
    width = counts[0] if counts.count(counts[0]) == len(counts) else 0
    n_terms = sum(counts)
    if 0 < width <= _SHORT_SUM:
        columns = [[ts[j] for ts in terms] for j in range(width)]
        if all(len({ix.uniform[c] for c in col}) == 1 for col in columns):
            return SumGroup(*head, n_terms, tuple(ix.rows(col) for col in columns), (), width)
    flat = [(t, j) for j, ts in enumerate(terms) for t in ts]
    seg_starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.intp)
    return SumGroup(*head, n_terms, (), ix.terms(flat, len(terms)), width, seg_starts)


def schedule(trace: Trace) -> Schedule:
    """Run the passes on ``trace``: the schedule ``Program`` executes."""
    # The GC is paused: the passes make many small objects and no cycles, so its scans would be waste.
    with gc_paused():
        try:
            st = stages(trace)
            sm = sums(trace, st)
            dots = matrix_products(trace, st, sm)
            grouping = groups(trace, st, sm, dots)
            layout = row_layout(trace, st, grouping, dots)
            executable = build(trace, st, sm, dots, grouping, layout)
        finally:
            _columns.cache_clear()
    row = layout.row
    u_template = np.zeros((layout.n_rows[U], 1))
    consts, values = trace.constants()
    u_template[row[consts], 0] = values
    row_nodes = (np.full(layout.n_rows[U], -1, np.int32), np.full(layout.n_rows[V], -1, np.int32))
    placed = np.flatnonzero(row >= 0)
    uniform = st.uniform[placed]
    row_nodes[U][row[placed[uniform]]] = placed[uniform]
    row_nodes[V][row[placed[~uniform]]] = placed[~uniform]
    outputs = [(U if st.uniform[o] else V, int(row[o])) for o in trace.outputs]
    param_order = np.searchsorted(trace.param_nodes, layout.param_order)  # (param_nodes is ascending)
    return Schedule(executable, layout.n_rows, param_order, u_template, outputs, row_nodes)
