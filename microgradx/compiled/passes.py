"""The compiler's five passes, each a function of the trace and the earlier passes' results.

Each pass reads the op table's rows and traits (``sum_like``, ``bilinear``), never a
particular op, and returns a small record of what it decided (see ``schedule.py`` for
the whole pipeline and the math of each pass):

1. :func:`stages`          -- uniform (the same for every sample) or per sample; needs a gradient; readers;
2. :func:`sums`            -- chains of adds whose intermediate results are used once become n-ary sums;
3. :func:`matrix_products` -- sums of products ``w·x`` sharing their x rows become rows of ``W @ X``;
4. :func:`groups`          -- nodes of one kind at one level of one stage become one group;
5. :func:`row_layout`      -- every node's row in its stage's buffer.

Nothing is shared between passes but what they return: pass 1 also hands on each
node's argument columns as lists (:attr:`Stages.first`, :attr:`Stages.second`), which
the later passes walk node by node.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from .groups import U, V
from .trace import K_INPUT, K_OP, K_PARAM, Trace

__all__ = ["Stages", "Sums", "Dot", "Grouping", "Layout", "stages", "sums", "matrix_products", "levels", "groups",
           "row_layout"]


# -------------------------------------------------------------------- what the passes produce


@dataclass(eq=False)
class Stages:
    """Pass 1: per node, whether it is uniform, whether it needs a gradient, and who reads it."""

    uniform: np.ndarray     # bool: the same for every sample (depends on no input)
    needs_grad: np.ndarray  # bool: depends on a parameter
    uses: np.ndarray        # int: how many op arguments and outputs read it
    parent: np.ndarray      # int: an op that reads it (the only one where uses == 1), -1 if none
    first: list[int]        # per node: its first argument (-1: none), as a list for node-by-node walks
    second: list[int]       # per node: its second argument (-1: none; as a list index, -1 reads a sentinel)


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


# -------------------------------------------------------------------- the passes


def _trait(trace: Trace, name: str) -> np.ndarray:
    """Per node: does its op have the row trait ``name`` (False for leaves)?"""
    per_op = np.array([bool(getattr(op, name)) for op in trace.ops] + [False])
    has: np.ndarray = per_op[trace.op]  # a leaf's op is -1: the False at the end
    return has


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
    a, b = first.tolist(), second.tolist()
    for i in op_nodes.tolist():  # children before parents
        x, y = a[i], b[i]
        varying[i] = varying[x] or varying[y]
        needs[i] = needs[x] or needs[y]
    return Stages(~np.array(varying[:n], bool), np.array(needs[:n], bool), uses, parent, a, b)


def sums(trace: Trace, st: Stages) -> Sums:
    """Pass 2: chains of ``sum_like`` ops whose intermediate results are used once become n-ary sums."""
    sum_like = _trait(trace, "sum_like") & (trace.args[:, 1] >= 0)  # out = x + y: two operands
    absorbed = sum_like & (st.uses == 1) & (st.parent >= 0)
    absorbed[absorbed] = sum_like[st.parent[absorbed]]
    folded = absorbed.tolist() + [False]
    a, b = st.first, st.second
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
    a, b = st.first, st.second
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
    a, b = st.first, st.second
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


