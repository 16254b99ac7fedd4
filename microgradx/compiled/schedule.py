"""The compiler: a trace becomes a :class:`Schedule` of vectorised groups, which ``program.py`` runs.

A trace (``trace.py``) is a graph of scalar ops. Run naively, one numpy call per
node would be no faster than the eager engine. Instead the graph is scheduled
once, by five passes (``passes.py``); each is a function of the trace and the
earlier passes' results, and reads the op table's rows and traits, never a particular op:

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

:func:`build` (``lower.py``) then turns the groups into executable ones
(``groups.py``), preparing once the rows each reads and adds gradients into (a
slice where they are contiguous, else an index); a long stretch of one-node levels
(a deep chain: nothing to vectorise across nodes) becomes one :class:`RunGroup`.
:func:`schedule` below is the whole compiler: the passes in order, each handing
its result to the next, and nothing shared between them but those results.
"""

from __future__ import annotations

import numpy as np

from ..modes import gc_paused
from .groups import DotGroup, Group, OpGroup, Rows, RunGroup, Schedule, SumGroup, Terms, U, V
from .lower import build
from .passes import Dot, Grouping, Layout, Stages, Sums, groups, levels, matrix_products, row_layout, stages, sums
from .trace import Trace

__all__ = ["Schedule", "Group", "OpGroup", "SumGroup", "DotGroup", "RunGroup", "Rows", "Terms", "schedule",
           "stages", "sums", "matrix_products", "levels", "groups", "row_layout", "build", "U", "V",
           "Stages", "Sums", "Dot", "Grouping", "Layout", "assemble"]


def schedule(trace: Trace) -> Schedule:
    """The compiler: run the passes on ``trace`` and return the schedule ``Program`` executes."""
    # The GC is paused: the passes make many small objects and no cycles, so its scans would be waste.
    with gc_paused():
        st = stages(trace)                                   # 1. uniform or per sample; needs a gradient
        sm = sums(trace, st)                                 # 2. chains of adds -> n-ary sums
        dots = matrix_products(trace, st, sm)                # 3. sums of w·x sharing x -> rows of W @ X
        grouping = groups(trace, st, sm, dots)               # 4. one kind, one level, one stage -> a group
        layout = row_layout(trace, st, grouping, dots)       # 5. every node's row in U or V
        executable = build(trace, st, sm, dots, grouping, layout)  # the groups, ready to bind and run
    return assemble(trace, st, layout, executable)


def assemble(trace: Trace, st: Stages, layout: Layout, executable: list[Group]) -> Schedule:
    """The schedule: the groups, the constants placed in U, each output's row, each row's node."""
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
