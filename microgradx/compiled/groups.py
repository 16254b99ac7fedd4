"""What the compiler hands the executor: a :class:`Schedule` of executable groups over two buffers.

``schedule.py`` (the passes) decides which nodes run together and where each value
lives; this module holds the result, which ``kernels.py`` binds to numpy buffers and
``program.py`` runs. Two buffers hold every value:

* U, ``(n_uniform, 1)``: what is the same for every sample (parameters, constants, an L2 penalty);
* V, ``(n_varying, batch)``: the rest, one column per sample.

A group is a run of contiguous rows ``start:stop`` of one buffer, computed by one numpy
call from rows it reads (:class:`Rows`):

* :class:`OpGroup`  -- one op of the table applied row-wise, ``rows = op(a, b)``;
* :class:`SumGroup` -- n-ary sums, ``rows = Σ terms`` (∂(Σ t)/∂t = 1);
* :class:`DotGroup` -- sums of products sharing their per-sample factor, ``rows = W @ X + others``;
* :class:`RunGroup` -- a deep chain of one-node levels, kept as arrays, one entry per step.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..ops import Op

__all__ = ["U", "V", "Rows", "Terms", "Group", "OpGroup", "SumGroup", "DotGroup", "RunGroup", "Schedule"]

U, V = 0, 1  # the two stages / buffers


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
        self.at: slice | np.ndarray = slice(first, first + n)  # what to index the buffer with: this slice, or idx
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
        rows: np.ndarray = bufs[self.src][self.at]
        return rows

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
    u_template: np.ndarray        # (n_rows[U], 1): the constants in place, the rest 0 (copied per call's buffers)
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
