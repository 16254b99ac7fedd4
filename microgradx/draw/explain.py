"""Where a gradient comes from, in words: the chain rule, one path at a time.

:func:`explain` writes a node's gradient sum out, with each local derivative read
from the op table (``op.describe_local``), e.g.::

    a.grad = 6.0 = 2.0 (c = a*b: ∂c/∂a = b = 3.0, upstream 0.6667) + 4.0 (d = a+1: ∂d/∂a = 1.0, upstream 4.0)
    b.grad = 2.0 (c = a*b: ∂c/∂b = a = 2.0, upstream 1.0)        one path: its term alone

Each thing is named once: a value labelled with its own formula (``x1*w1``) is not
defined again. Constants are written as their value (``a+1``), unnamed values by
position (``v3``), nn's values by short names (``L0.n3.w1``).
"""

from __future__ import annotations

import math
from typing import Any

from ..modes import STATE
from .flow import MINUS, Flow, backward_done, definition, fmt, grad_value, term, terms


def explain_in(flow: Flow, node: Any) -> str:
    """:func:`explain` on an already computed :class:`Flow`."""
    names = flow.names
    name = term(names[node])
    grad = grad_value(node)
    if node is flow.root:
        return f"{name}.grad = {fmt(grad)} (the output: ∂{name}/∂{name} = 1)"
    parts = terms(flow, node)
    total = math.fsum(t.contribution for t in parts)
    agrees = math.isclose(total, grad, rel_tol=1e-9, abs_tol=1e-12)
    if len(parts) == 1 and agrees:  # one path: the sum is its one term, said once
        t = parts[0]
        return (f"{name}.grad = {fmt(grad)} ({definition(t.local.parent, names)}: {t.local.text(names)}, "
                f"upstream {fmt(t.upstream)})")
    text = f"{name}.grad = {fmt(grad)} = "
    for i, t in enumerate(parts):
        p, share = t.local.parent, t.contribution
        sign = ("-" if share < 0 else "") if i == 0 else (f" {MINUS} " if share < 0 else " + ")
        text += f"{sign}{fmt(abs(share))} ({definition(p, names)}: {t.local.text(names)}, upstream {fmt(t.upstream)})"
    if not agrees:
        text += (f"; the stored grad differs from this sum by {fmt(grad - total)}: it was accumulated by "
                 "other backward() calls (zero the gradients between calls)")
    return text


def explain(node: Any, root: Any = None) -> str:
    """Explain ``node.grad`` as the chain-rule sum over every path from ``root``.

    ``node.grad = Σ_p upstream_p × ∂p/∂node``, one term per use of ``node``. A node
    does not know which outputs use it, so the paths are traced from ``root``: by
    default the Value that ``backward()`` was last called on. Only the local
    derivatives of ``node``'s own users are computed. Raises ``ValueError`` before
    any ``backward()`` or when ``node`` is not in ``root``'s graph.
    """
    if root is None:
        root = STATE.last_backward() if STATE.last_backward is not None else None
        if root is None:
            raise ValueError("no gradients to explain yet: call backward() on the output first "
                             "(or pass the output as explain(node, root))")
    flow = Flow.of(root)
    if node not in flow:
        raise ValueError(f"{node!r} is not part of the graph of {root!r}: pass the output that was computed "
                         "from it (the Value you called backward() on) as explain(node, root)")
    if not backward_done(root):
        raise ValueError(f"{flow.names[node]}.grad is not computed yet: call {flow.names[root]}.backward() first, "
                         "then explain the gradient")
    return explain_in(flow, node)
