"""The last step of the compiler: the passes' decisions become executable groups (``groups.py``).

For each group of :func:`~.passes.groups`, :func:`build` prepares, once, the rows it
reads and adds gradients into (:class:`~.groups.Rows`: a slice where they are
contiguous, else an index), so that nothing about the layout is worked out again
when a batch runs. A long stretch of one-node levels (a deep chain: nothing to
vectorise across nodes) becomes one :class:`~.groups.RunGroup` of arrays rather
than one object per node. Short sums of equal width are added position by position;
a matrix product's columns are put in the order that lets it read views.
"""

from __future__ import annotations

import numpy as np

from ..ops import Op
from .groups import DotGroup, Group, OpGroup, Rows, RunGroup, SumGroup, Terms, U, V
from .passes import Dot, Grouping, Layout, Stages, Sums
from .trace import Trace

__all__ = ["build"]

_SHORT_SUM = 4  # sums of at most this many terms are added position by position
_RUN = 32  # at least this many one-node groups in a row (in one stage) become one RunGroup


class _Indexer:
    """Rows of nodes, from the layout (plain lists: the build touches every node once or twice)."""

    def __init__(self, trace: Trace, st: Stages, layout: Layout) -> None:
        self.row = layout.row.tolist()
        self.uniform = st.uniform.tolist()
        self.needs = st.needs_grad.tolist()
        self.first, self.second = st.first, st.second
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
            out.append(_op_group(ix, head, trace.ops[ix.op[members[0]]], members))
        elif kind == "sum":
            out.append(_sum_group(ix, head, [sm.terms[i] for i in members]))
        else:
            out.append(_dot_group(ix, head, [dots[i] for i in members]))
        k += 1
    return out


_Head = tuple[int, int, int, int, bool]  # what every group starts with: stage, level, start, stop, needs_grad


def _op_group(ix: _Indexer, head: _Head, op: Op, members: list[int]) -> OpGroup:
    """``op`` on every member's arguments: one Rows per argument position."""
    args = ([ix.first[i] for i in members], [ix.second[i] for i in members])[: op.arity]
    return OpGroup(*head, op, tuple(ix.rows(a) for a in args))


def _dot_group(ix: _Indexer, head: _Head, ds: list[Dot]) -> DotGroup:
    """Rows ``W @ X + others``: the weights row-major, the shared x rows, the other terms per row."""
    weights, xs = _dot_columns(ix, ds)
    flat = [(t, j) for j, d in enumerate(ds) for t in d.others]
    return DotGroup(*head, len(weights) + len(flat), weights, xs, ix.terms(flat, len(ds)))


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


def _sum_group(ix: _Indexer, head: _Head, terms: list[list[int]]) -> SumGroup:
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
