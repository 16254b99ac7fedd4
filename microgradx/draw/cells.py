"""The text inside a drawing: each box's gradient, each edge's chain-rule label, each collapsed group's numbers.

These are functions of the graph and of what the drawing shows (after ``backward()``,
or a frame of the replayed pass), so a still drawing and every animation frame say
the same thing in the same words. A gradient reached by several paths is written
as its sum, bounded: past a few terms only the nonzero ones are listed, with a
count that says what it counts (``5 of 16 paths nonzero``); signs are operators (``2.0 − 333.2``, never ``+ -333.2``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from .flow import Flow, backward_done, fmt, grad_value, is_constant, signed, signed_terms, terms
from .groups import Group

MAX_TERMS = 4    # a sum with more terms lists only its nonzero ones, with a count
MAX_VECTOR = 6   # a layer box lists at most this many neuron numbers; more become a range


@dataclass
class Frame:
    """What a drawing shows: the final gradients, or one step of the replayed backward pass."""

    backward: bool = False
    show_grad: bool = True
    grads: dict[Any, float] | None = None   # None: read node.grad; else a replayed pass (missing: not reached)
    processed: set[Any] | None = None       # replay: nodes that have passed their gradient on
    current: Any = None                     # replay: the node being processed


class Texts:
    """Text of boxes and edges of ``flow`` as ``frame`` shows it (``brief``: a long sum as its total and count,
    when each of its terms is written on its own edge: the collapsed views)."""

    def __init__(self, flow: Flow, frame: Frame, brief: bool = False) -> None:
        self.flow, self.frame, self.brief = flow, frame, brief
        self.grads_known = frame.show_grad and (frame.grads is not None or backward_done(flow.root))
        self.accumulated: list[Any] = []  # nodes whose stored grad holds more than this graph's paths

    def grad_of(self, node: Any) -> float | None:
        """The gradient to show, or None when there is none yet."""
        if self.frame.grads is not None:
            return self.frame.grads.get(node)
        return grad_value(node) if self.grads_known else None

    def flowed(self, node: Any) -> bool:
        """Has ``node`` passed its gradient on? (Always, except in a replayed frame.)"""
        return self.frame.processed is None or node in self.frame.processed

    def grad(self, node: Any) -> tuple[str, str]:
        """``("grad 9.0 + 6.0 = 15.0", state)``; state is ``unknown``, ``partial`` or ``final``."""
        g = self.grad_of(node)
        if g is None:
            return "grad ?", "unknown"
        parts = [t.contribution for t in terms(self.flow, node, self.frame.grads) if self.flowed(t.local.parent)]
        complete = len(parts) == len(self.flow.into_of(node))
        extra = 0.0 if node is self.flow.root or not complete else g - math.fsum(parts)
        if extra and not math.isclose(g, math.fsum(parts), rel_tol=1e-9, abs_tol=1e-12):
            self.accumulated.append(node)
            where = "earlier" if not node._prev else "outside"
            return f"grad {signed(extra)} {where}{_plus(parts)} = {signed(g)}", "final"
        text = f"grad {sum_text(parts, g, self.brief)}" if self.frame.backward and len(parts) > 1 else f"grad {fmt(g)}"
        return (text, "final") if complete else (text + " so far", "partial")

    def edge(self, d: Any) -> tuple[str | None, str | None]:
        """A backward edge's label: the local derivative, and ``upstream × local = share`` once it flowed.

        Into a constant the first line is left out: ``∂v20/∂1`` would read as a derivative by the number 1.
        """
        names = self.flow.names
        first = None if is_constant(d.child) else d.text(names)
        up = self.grad_of(d.parent) if self.flowed(d.parent) else None
        if up is not None:
            return first, f"upstream {fmt(up)} × local {fmt(d.value)} = {fmt(up * d.value)}"
        if self.frame.show_grad:
            return first, f"upstream ? × local {fmt(d.value)}"
        return first or f"local {fmt(d.value)}", None

    def share(self, edges: list[Any]) -> tuple[str, str]:
        """The gradient flowing along edges merged into one (collapsed view), per node it reaches.

        One node (all of an input's gradient from a layer): the sum of the paths'
        ``upstream × local``; several (a layer's outputs): one such sum each, as a vector.
        """
        flowed = [d for d in edges if self.flowed(d.parent) and self.grad_of(d.parent) is not None]
        if not flowed:
            return "?", "unknown"
        per_child: dict[Any, list[float]] = {}
        for d in edges:
            per_child.setdefault(d.child, [])
        for d in flowed:
            upstream = self.grad_of(d.parent)
            if upstream is not None:  # (always: flowed keeps those only)
                per_child[d.child].append(upstream * d.value)
        text = vector([math.fsum(v) for v in per_child.values()])
        return text, "final" if len(flowed) == len(edges) else "partial"

    def group_data(self, grp: Group) -> str:
        """A neuron's output, or a layer's outputs as a short vector (or a range, past a few)."""
        if grp.kind == "params":
            return "data " + vector([n.data for n in grp.members])
        return "out " + vector([n.data for n in grp.outputs])

    def group_grad(self, grp: Group) -> tuple[str, str]:
        """The gradient of a neuron's output, of each output of a layer, or of each shared parameter."""
        nodes = grp.members if grp.kind == "params" else grp.outputs
        values = [self.grad_of(n) for n in nodes]
        if any(v is None for v in values):
            known = [v for v in values if v is not None]
            return ("grad ?", "unknown") if not known else (f"grad {len(known)}/{len(values)} so far", "partial")
        return "grad " + vector(values), "final"  # type: ignore[arg-type]


def _plus(parts: list[float]) -> str:
    """`` − 0.7269`` / `` + 0.5 + 0.5``: terms continuing a sum (bounded as :func:`sum_text`)."""
    if not parts:
        return ""
    text = sum_text(parts, None)
    return f" − {text[1:]}" if text.startswith("−") else f" + {text}"


def sum_text(parts: list[float], total: float | None, brief: bool = False) -> str:
    """``9.0 + 6.0 = 15.0``; past :data:`MAX_TERMS` terms the nonzero ones and what the count counts:
    ``… (5 of 16 paths nonzero)`` (``brief``: the total and the count alone, ``1.094 (5 of 16 paths nonzero)``,
    where each term is written on its own edge already)."""
    tail = "" if total is None else f" = {signed(total)}"
    if len(parts) <= MAX_TERMS:
        return signed_terms(parts) + tail
    nonzero = [p for p in parts if p != 0.0]
    count = f"{len(nonzero)} of {len(parts)} paths nonzero" if len(nonzero) < len(parts) else f"{len(parts)} paths"
    if brief and total is not None:
        return f"{signed(total)} ({count})"
    shown = signed_terms(nonzero[:MAX_TERMS]) if nonzero else "0.0"
    more = " + …" if len(nonzero) > MAX_TERMS else ""
    return f"{shown}{more}{tail} ({count})"


def vector(values: list[float]) -> str:
    """``[0.62, -0.99]`` for a few numbers; ``16 values in [-0.98, 0.99]`` for more; one number as itself."""
    if len(values) == 1:
        return fmt(values[0])
    if len(values) <= MAX_VECTOR:
        return "[" + ", ".join(fmt(v) for v in values) + "]"
    return f"{len(values)} values in [{fmt(min(values))}, {fmt(max(values))}]"
