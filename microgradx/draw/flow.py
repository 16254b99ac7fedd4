"""The gradient-flow model: every edge's local derivative, and the backward pass replayed.

After ``out.backward()``, a node's gradient is the sum over the nodes ``p`` that
use it (its *parents*) of the upstream gradient times the local derivative::

    a.grad = Σ_p  p.grad · ∂p/∂a

:class:`Flow` indexes those terms for a whole graph, with each local derivative
(value and formula) read from the op table. The drawings, :func:`explain` and the
step-by-step animation all read the same model, so an edge label, a sentence and
an animation frame always agree.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

from ..graph import topological_order


def fmt(x: float) -> str:
    """A number as a learner reads it: ``6.0``, ``0.6667``, ``-1.2e+05``."""
    x = float(x)
    if x == 0.0:
        return "0.0"  # also for -0.0
    if not math.isfinite(x):
        return str(x)
    if x.is_integer() and abs(x) < 1e6:
        return f"{x:.1f}"
    text = f"{x:.4g}"
    return text if any(ch in text for ch in ".e") else text + ".0"  # 1.0000000000000002 -> 1.0


def grad_value(node: Any) -> float:
    """``node.grad`` as a float (after ``backward(create_graph=True)`` it is a Value)."""
    g = node.grad
    return float(g.data) if hasattr(g, "data") else float(g)


def backward_done(root: Any) -> bool:
    """Has ``root.backward()`` been called? It seeds ``root.grad`` with 1, so a zero means no."""
    return grad_value(root) != 0.0


def node_names(order: list[Any]) -> dict[Any, str]:
    """A name per node: its label, or ``v{i}`` from its position in ``order`` (stable, unlike ``id``)."""
    return {node: (node.label if node.label else f"v{i}") for i, node in enumerate(order)}


def term(name: str) -> str:
    """``name`` safe inside a formula: labels such as ``x1w1+x2w2`` get parentheses."""
    return name if re.fullmatch(r"[\w.]+", name) else f"({name})"


def op_expression(node: Any, names: dict[Any, str]) -> str:
    """How ``node`` was computed, in the op table's symbols: ``a*b``, ``tanh(n)``, ``x**2``."""
    op = node._op
    args = [term(names[c]) for c in node._prev]
    if op.infix:
        return f"{args[0]}{op.display}{args[1]}"
    if op.symbol[:1].isalpha():
        return f"{op.display}({', '.join(args)})"
    return f"{args[0]}{op.display}"  # a postfix symbol such as **2


def _operand_names(parent: Any, names: dict[Any, str]) -> dict[str, str]:
    keys = ("x", "y")
    found = {keys[i]: term(names[c]) for i, c in enumerate(parent._prev)}
    found["out"] = term(names[parent])
    return found


@dataclass(frozen=True)
class LocalDerivative:
    """The local derivative on one edge: ∂parent/∂child through argument ``position``."""

    child: Any
    parent: Any
    position: int
    value: float
    formula: str  # from the op table, operands named: "b"

    def text(self, names: dict[Any, str]) -> str:
        """``∂c/∂a = b = 3.0`` (the formula is left out when it is just the number)."""
        head = f"∂{term(names[self.parent])}/∂{term(names[self.child])}"
        value = fmt(self.value)
        try:
            is_number = float(self.formula) == self.value
        except ValueError:
            is_number = False
        return f"{head} = {value}" if is_number else f"{head} = {self.formula} = {value}"


def local_derivatives(parent: Any, names: dict[Any, str]) -> list[LocalDerivative]:
    """One :class:`LocalDerivative` per argument of ``parent``, values and formulas from the op table."""
    if parent._op is None:
        return []
    values = parent.local_derivatives()
    operands = _operand_names(parent, names)
    return [LocalDerivative(child, parent, i, float(values[i]), parent._op.describe_local(i, operands))
            for i, child in enumerate(parent._prev)]


@dataclass(frozen=True)
class Flow:
    """Every edge's local derivative in the graph of ``root``, indexed for drawing and explaining.

    ``order`` is the topological order (children first, root last); ``into[n]`` lists
    the edges along which gradient flows *into* node ``n`` (one per use of ``n``,
    duplicates kept: in ``a + a`` the node ``a`` has two).
    """

    root: Any
    order: list[Any]
    names: dict[Any, str]
    into: dict[Any, list[LocalDerivative]]
    out_of: dict[Any, list[LocalDerivative]]

    @classmethod
    def of(cls, root: Any) -> Flow:
        order = topological_order(root)
        names = node_names(order)
        into: dict[Any, list[LocalDerivative]] = {n: [] for n in order}
        out_of: dict[Any, list[LocalDerivative]] = {}
        # Parents in backward order, so terms are listed as backward() adds them.
        for parent in reversed(order):
            out_of[parent] = local_derivatives(parent, names)
            for d in out_of[parent]:
                into[d.child].append(d)
        return cls(root, order, names, into, out_of)

    def simulate(self) -> list[Step]:
        """The backward pass replayed, one :class:`Step` per stage; every ``grad`` is left as it was.

        Step 0 seeds ``root.grad = 1``; each further step runs the engine's own
        chain-rule step, ``node._backward()``, on the next interior node of the
        backward order (so a user-defined op's closure runs too), and records the
        gradients accumulated so far. The nodes' ``grad`` values are saved first and
        restored afterwards.
        """
        saved = [node.grad for node in self.order]
        try:
            for node in self.order:
                node.grad = 0.0
            self.root.grad = 1.0
            grads: dict[Any, float] = {self.root: 1.0}
            processed: list[Any] = []
            steps = [Step(self.root, dict(grads), frozenset())]
            for node in reversed(self.order):
                if not node._prev:
                    continue
                node._backward()
                grads.update((child, child.grad) for child in node._prev)
                processed.append(node)
                steps.append(Step(node, dict(grads), frozenset(processed)))
            return steps
        finally:
            for node, g in zip(self.order, saved):
                node.grad = g


@dataclass(frozen=True)
class Step:
    """The state of a replayed backward pass: ``current`` was just processed (step 0: seeded)."""

    current: Any
    grads: dict[Any, float]       # gradients accumulated so far (missing: not reached yet)
    processed: frozenset[Any]     # nodes that have sent their gradient to their children


@dataclass(frozen=True)
class Term:
    """One path's share of a gradient: ``upstream × local``."""

    local: LocalDerivative
    upstream: float

    @property
    def contribution(self) -> float:
        return self.upstream * self.local.value


def terms(flow: Flow, node: Any, grads: dict[Any, float] | None = None) -> list[Term]:
    """The terms of ``node``'s gradient sum; upstream gradients from ``grads`` or else the nodes' ``grad``."""
    def upstream(p: Any) -> float:
        return grads.get(p, 0.0) if grads is not None else grad_value(p)
    return [Term(d, upstream(d.parent)) for d in flow.into[node]]
