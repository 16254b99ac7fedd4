"""Each group's forward and backward step, bound once to the buffers of one batch size.

``program.py`` runs a :class:`~.groups.Schedule` over two buffers, U ``(n_uniform, 1)``
(parameters, constants, what is the same for every sample) and V ``(n_varying, batch)``
(one column per sample), and two gradient buffers shaped the same. Whatever about a
group does not change from call to call is settled when its step is *bound*: the views
of the rows it reads and writes (a gather into a buffer of its own where the rows are
not contiguous), the op row's functions, and where each gradient goes. A bound step is
a function of no arguments whose body is its numpy work.

**Forward.** An op group is ``out = op.forward(NUMPY, *xs)``, its domain checked
first; a matrix-product group ``out = W @ X + others``; a sum group adds its terms;
a run (a deep chain of one-node levels) steps through its nodes one numpy call each.

**Backward.** ``g_out`` (the group's rows of the gradient buffer) times the op table's
local derivatives ``op.local(NUMPY, out, *xs)`` is each input's contribution, added into
the input's rows; a uniform input's contribution is summed over the batch, which is how
a parameter collects every sample's share, ∂L/∂w = Σ_b ∂L/∂w_b. A sum passes ``g_out``
to each term (∂(x + y)/∂x = 1); a matrix product passes ``W.T @ g_out`` to X and
``g_out @ X.T`` to W (∂(w·x)/∂x = w, ∂(w·x)/∂w = x).

``safe``: where ``g_out`` is 0 a contribution is 0 even if the local derivative is
infinite, as eager skips a node whose gradient is 0 (``Program`` binds a safe backward
pass only to replay one that gave a gradient that is not finite).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import partial
from typing import Any

import numpy as np

from .. import ops
from .groups import DotGroup, Group, OpGroup, Rows, RunGroup, SumGroup, U

__all__ = ["Step", "Undefined", "bind_forward", "bind_backward"]

Step = Callable[[], None]
Add = Callable[[np.ndarray], Any]
_NUMPY = ops.NUMPY


class Undefined(Exception):
    """An op group met operands outside its domain (raised inside a step, explained by ``Program``)."""

    def __init__(self, group: OpGroup, xs: list[np.ndarray], bad: np.ndarray) -> None:
        super().__init__(group.name)
        self.group, self.xs, self.bad = group, xs, bad


# -------------------------------------------------------------------- reading and adding rows


def _reader(r: Rows, bufs: list[np.ndarray]) -> tuple[np.ndarray, Step | None]:
    """Rows ``r`` of their buffer: a view, or (rows not contiguous) an array of their own and the gather filling it."""
    src = bufs[r.src]
    if r.idx is None:
        return src[r.start:r.stop], None
    out = np.empty((len(r.idx), src.shape[1]))
    return out, partial(np.take, src, r.idx, 0, out, "clip")


def _readers(rows: Sequence[Rows], bufs: list[np.ndarray]) -> tuple[list[np.ndarray], tuple[Step, ...]]:
    """The arrays holding ``rows``, and the gathers to run (before each use) for those that are not views."""
    pairs = [_reader(r, bufs) for r in rows]
    return [a for a, _ in pairs], tuple(gather for _, gather in pairs if gather is not None)


class _Claims:
    """Which gradient rows have received a contribution, as the backward steps are bound in the order they run.

    Rows that nothing has written yet (contiguous ones) can take their first contribution
    straight from the numpy call that makes it (``out=``), not as a temporary added to zeros:
    the same numbers, one call fewer, and those rows need no zeroing before a pass. The
    outputs' rows are taken from the start (the seed).
    """

    def __init__(self, grads: list[np.ndarray], outputs: Sequence[tuple[int, int]]) -> None:
        self.written = [np.zeros(len(g), bool) for g in grads]
        self.stored = [np.zeros(len(g), bool) for g in grads]
        for stage, row in outputs:
            self.written[stage][row] = True

    def claim(self, r: Rows) -> bool:
        """Mark ``r``'s rows written; True if none was before (and they are a view: they can be stored into)."""
        written = self.written[r.src]
        fresh = r.idx is None and not written[r.start:r.stop].any()
        written[r.at] = True
        self.stored[r.src][r.at] |= fresh
        return fresh

    def clear(self, grads: list[np.ndarray]) -> Step:
        """Zero the rows of ``grads`` that are not stored into (the rest are, before anything reads them)."""
        views = []
        for g, stored in zip(grads, self.stored, strict=True):
            edges = np.flatnonzero(np.diff(np.r_[0, ~stored, 0].astype(np.int8))).tolist()
            views += [g[a:b] for a, b in zip(edges[::2], edges[1::2], strict=True)]

        def clear() -> None:
            for view in views:
                view.fill(0.0)

        return clear


class _Into:
    """Gradient rows ``r`` receiving a contribution: stored into when ``fresh`` (see :class:`_Claims`), else added.

    Each way of contributing is chosen once, here: ``put(c)`` (rows += c), ``product(a, b)``
    (rows += a·b), ``matmul(a, b)`` (rows += a @ b) and ``batch_sum(c)`` (rows += Σ_b c[:, b],
    a uniform row's share of a per-sample contribution). ``shape``: the contribution's shape
    when it is not the rows' own (a weight matrix's gradient).
    """

    __slots__ = ("put", "product", "matmul", "batch_sum")

    def __init__(self, r: Rows, grads: list[np.ndarray], fresh: bool, shape: tuple[int, int] | None = None) -> None:
        buf = grads[r.src]
        if r.idx is not None:  # rows gathered from all over: added with a segment sum (never fresh)
            add_into = partial(r.add_into, buf)
            self._adding(add_into if shape is None else (lambda c: add_into(c.reshape(-1, 1))))
            return
        view = buf[r.start:r.stop] if shape is None else buf[r.start:r.stop].reshape(shape)
        if not fresh:
            self._adding(partial(np.add, view, out=view))
            return
        self.put: Add = partial(np.copyto, view)
        self.product: Callable[[np.ndarray, Any], Any] = partial(np.multiply, out=view)
        self.matmul: Callable[[np.ndarray, np.ndarray], Any] = partial(np.matmul, out=view)
        self.batch_sum: Add = partial(np.add.reduce, axis=1, keepdims=True, out=view)

    def _adding(self, add: Add) -> None:
        """Every way of contributing as: make the contribution, then ``add`` it."""
        self.put = add
        self.product = lambda a, b: add(_times(a, b))
        self.matmul = lambda a, b: add(a @ b)
        self.batch_sum = lambda c: add(np.add.reduce(c, axis=1, keepdims=True))


def _times(g: np.ndarray, d: Any, safe: bool = False) -> np.ndarray:
    """g * d, skipping the multiplication for the constant local derivatives ±1 (``safe``: 0 where g is 0)."""
    if isinstance(d, float):
        if d == 1.0:
            return g
        if d == -1.0:
            return -g
    return np.where(g == 0.0, 0.0, g * d) if safe else g * d


# -------------------------------------------------------------------- forward steps


def _op_forward(g: OpGroup, bufs: list[np.ndarray]) -> Step:
    xs, gathers = _readers(g.args, bufs)
    out = bufs[g.stage][g.start:g.stop]
    forward, domain = partial(g.op.forward, _NUMPY), g.op.domain

    def step() -> None:
        for gather in gathers:
            gather()
        if domain is not None:
            bad = domain(*xs)
            if np.any(bad):
                raise Undefined(g, xs, bad)
        out[...] = forward(*xs)

    return step


def _term_adds(g: SumGroup | DotGroup, out: np.ndarray, bufs: list[np.ndarray]) -> tuple[list[Any], tuple[Step, ...]]:
    """(add, term values) per buffer of a group's terms: out += terms, each into its sum's row."""
    values, gathers = _readers([t.rows for t in g.terms], bufs)
    adds = [partial(np.add, out, out=out) if t.into is None else partial(t.into.add_into, out) for t in g.terms]
    return list(zip(adds, values, strict=True)), gathers


def _dot_forward(g: DotGroup, bufs: list[np.ndarray]) -> Step:
    (w, x), gathers = _readers((g.weights, g.xs), bufs)
    W, out = w.reshape(g.size, -1), bufs[g.stage][g.start:g.stop]
    terms, term_gathers = _term_adds(g, out, bufs)
    gathers += term_gathers

    def step() -> None:
        for gather in gathers:
            gather()
        np.matmul(W, x, out=out)
        for add, t in terms:
            add(t)

    return step


def _sum_forward(g: SumGroup, bufs: list[np.ndarray]) -> Step:
    out = bufs[g.stage][g.start:g.stop]
    if g.columns:  # a short sum: t_0 + t_1 + ..., left to right like the chain
        (first, second, *rest), gathers = _readers(g.columns, bufs)

        def short() -> None:
            for gather in gathers:
                gather()
            np.add(first, second, out=out)
            for col in rest:
                np.add(out, col, out=out)

        return short
    values, gathers = _readers([t.rows for t in g.terms], bufs)
    width, n, seg_starts = out.shape[1], g.size, g.seg_starts
    stacked = np.empty((g.n_terms, width)) if len(values) > 1 else None
    places = [(t.position, v) for t, v in zip(g.terms, values, strict=True)]

    def stack() -> np.ndarray:
        if stacked is None:
            t = values[0]
            return t if t.shape[1] == width else np.broadcast_to(t, (t.shape[0], width))
        for position, v in places:
            stacked[position] = v
        return stacked

    def long() -> None:
        for gather in gathers:
            gather()
        t = stack()
        if g.width:  # summing over the middle axis adds the terms one after another, like the chain did
            out[...] = t.reshape(n, g.width, width).sum(axis=1)
        else:
            assert seg_starts is not None
            out[...] = np.add.reduceat(t, seg_starts, axis=0)

    return long


_CHUNK = 4096  # a run's steps are read from its arrays this many at a time


def _run_steps(g: RunGroup, lo: int, hi: int, reverse: bool = False) -> Any:
    """Steps lo .. hi - 1 of a run as plain numbers: (row, op code, src0, src1, row0, row1, needs0, needs1)."""
    sl = slice(lo, hi) if not reverse else slice(hi - 1, lo - 1 if lo else None, -1)
    rows = range(g.start + lo, g.start + hi) if not reverse else range(g.start + hi - 1, g.start + lo - 1, -1)
    return zip(rows, g.code[sl].tolist(), *g.src[sl].T.tolist(), *g.rows[sl].T.tolist(), *g.needs[sl].T.tolist())


def _run_forward(g: RunGroup, bufs: list[np.ndarray]) -> Step:
    """Step by step: row ``start + k`` = op_k(its argument rows), one numpy call per step."""
    out, ops_ = bufs[g.stage], g.ops

    def step() -> None:
        for lo in range(0, g.size, _CHUNK):
            for row, code, s0, s1, r0, r1, _, _ in _run_steps(g, lo, min(lo + _CHUNK, g.size)):
                op = ops_[code]
                xs = (bufs[s0][r0],) if s1 < 0 else (bufs[s0][r0], bufs[s1][r1])
                if op.domain is not None and np.any(op.domain(*xs)):
                    raise Undefined(g.step(row - g.start), [x.reshape(1, -1) for x in xs],
                                    np.reshape(op.domain(*xs), (1, -1)))
                out[row] = op.forward(_NUMPY, *xs)

    return step


_FORWARD: dict[type, Callable[[Any, list[np.ndarray]], Step]] = {
    OpGroup: _op_forward, DotGroup: _dot_forward, SumGroup: _sum_forward, RunGroup: _run_forward}


def bind_forward(groups: Sequence[Group], bufs: list[np.ndarray]) -> list[Step]:
    """The groups' forward steps, in order, bound to the value buffers ``[U, V]``."""
    return [_FORWARD[type(g)](g, bufs) for g in groups]


# -------------------------------------------------------------------- backward steps


def _op_backward(g: OpGroup, bufs: list[np.ndarray], grads: list[np.ndarray], safe: bool,
                 claims: _Claims) -> Step:
    xs, gathers = _readers(g.args, bufs)
    out, g_out = bufs[g.stage][g.start:g.stop], grads[g.stage][g.start:g.stop]
    local = partial(g.op.local, _NUMPY)
    targets = [(i, r.src == g.stage, _Into(r, grads, claims.claim(r))) for i, r in enumerate(g.args) if r.needs_grad]

    def step() -> None:
        for gather in gathers:
            gather()
        ds = local(out, *xs)
        for i, same_stage, into in targets:
            d = ds[i]
            if same_stage and not safe:
                into.product(g_out, d)
            elif same_stage:
                into.put(_times(g_out, d, safe))
            elif isinstance(d, float) and not safe:  # a uniform input's share, summed over the batch
                into.put(np.add.reduce(g_out, axis=1, keepdims=True) * d)
            else:
                into.batch_sum(_times(g_out, d, safe))

    return step


def _to_terms(g: SumGroup | DotGroup, grads: list[np.ndarray], claims: _Claims) -> Step:
    """∂(sum)/∂term = 1: each term receives its sum's gradient (summed over the batch if uniform)."""
    g_out = grads[g.stage][g.start:g.stop]
    targets: list[tuple[Rows, np.ndarray | None]] = [(r, None) for r in (g.columns if isinstance(g, SumGroup) else ())]
    targets += [(t.rows, t.member if t.into is not None else None) for t in g.terms]  # member: each its sum's row
    same = [(_Into(r, grads, claims.claim(r)), m) for r, m in targets if r.needs_grad and r.src == g.stage]
    summed = [(_Into(r, grads, claims.claim(r)), m) for r, m in targets if r.needs_grad and r.src != g.stage]

    def step() -> None:
        for into, member in same:
            into.put(g_out if member is None else g_out[member])
        if len(summed) == 1 and summed[0][1] is None:
            summed[0][0].batch_sum(g_out)
        elif summed:
            g_u = np.add.reduce(g_out, axis=1, keepdims=True)
            for into, member in summed:
                into.put(g_u if member is None else g_u[member])

    return step


def _sum_backward(g: SumGroup, bufs: list[np.ndarray], grads: list[np.ndarray], safe: bool,
                  claims: _Claims) -> Step:
    return _to_terms(g, grads, claims)


def _dot_backward(g: DotGroup, bufs: list[np.ndarray], grads: list[np.ndarray], safe: bool,
                  claims: _Claims) -> Step:
    (w, x), gathers = _readers((g.weights, g.xs), bufs)
    n, m = g.size, len(g.xs)
    w_t, x_t = w.reshape(n, m).T, x.T
    g_out = grads[g.stage][g.start:g.stop]
    # (an inner dimension of 1 -- one row, or the U stage's one column -- is an outer product:
    # a broadcast multiply, the same numbers, without matmul's overhead)
    one_row, one_column = n == 1, g_out.shape[1] == 1
    into_x = _Into(g.xs, grads, claims.claim(g.xs)) if g.xs.needs_grad else None
    into_w = _Into(g.weights, grads, claims.claim(g.weights), (n, m)) if g.weights.needs_grad else None
    to_terms = _to_terms(g, grads, claims)

    def step() -> None:
        for gather in gathers:
            gather()
        if into_x is not None:  # ∂(w·x)/∂x = w
            into_x.product(w_t, g_out) if one_row else into_x.matmul(w_t, g_out)
        if into_w is not None:  # ∂(w·x)/∂w = x, summed over the batch
            into_w.product(g_out, x_t) if one_column else into_w.matmul(g_out, x_t)
        to_terms()

    return step


def _run_backward(g: RunGroup, bufs: list[np.ndarray], grads: list[np.ndarray], safe: bool,
                  claims: _Claims) -> Step:
    """The steps in reverse: each argument row gets g_out × its local derivative."""
    st, ops_, values, g_rows = g.stage, g.ops, bufs[g.stage], grads[g.stage]
    for src, written in enumerate(claims.written):  # (its rows are added into, never stored into)
        written[g.rows[(g.src == src) & g.needs]] = True

    def step() -> None:
        for hi in range(g.size, 0, -_CHUNK):
            for row, code, s0, s1, r0, r1, n0, n1 in _run_steps(g, max(hi - _CHUNK, 0), hi, reverse=True):
                if not (n0 or n1):
                    continue
                g_out, x = g_rows[row], bufs[s0][r0]
                if s1 < 0:
                    _step_into(grads, st, s0, r0, g_out, ops_[code].local(_NUMPY, values[row], x)[0], safe)
                    continue
                d0, d1 = ops_[code].local(_NUMPY, values[row], x, bufs[s1][r1])
                if n0:
                    _step_into(grads, st, s0, r0, g_out, d0, safe)
                if n1:
                    _step_into(grads, st, s1, r1, g_out, d1, safe)

    return step


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


_BACKWARD: dict[type, Callable[[Any, list[np.ndarray], list[np.ndarray], bool, _Claims], Step]] = {
    OpGroup: _op_backward, DotGroup: _dot_backward, SumGroup: _sum_backward, RunGroup: _run_backward}


def bind_backward(groups: Sequence[Group], bufs: list[np.ndarray], grads: list[np.ndarray],
                  outputs: Sequence[tuple[int, int]], safe: bool = False) -> tuple[Step, list[Step]]:
    """``(clear, steps)``: the backward steps of the groups that need a gradient, last group first,
    bound to the value and gradient buffers, and the step that zeroes the gradients they read.

    A pass is ``clear()``, the seed added at an output (``outputs``: (stage, row) of each), then
    the steps in order; a step stores into rows no step before it has written.
    """
    claims = _Claims(grads, outputs)
    steps = [_BACKWARD[type(g)](g, bufs, grads, safe, claims) for g in reversed(groups) if g.needs_grad]
    return claims.clear(grads), steps
