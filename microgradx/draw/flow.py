"""The gradient-flow model: every edge's local derivative, and the backward pass replayed.

After ``out.backward()``, a node's gradient is the sum over the nodes ``p`` that
use it (its *parents*) of the upstream gradient times the local derivative::

    a.grad = Σ_p  p.grad · ∂p/∂a

:class:`Flow` indexes those terms for a whole graph, with each local derivative
(value and formula) read from the op table, or measured from the ``_backward``
closure of a user-defined op. It computes what is asked for and no more: a
drawing asks for every edge, :func:`explain` for one node's. The drawings,
``explain`` and the step-by-step animation all read the same model, so an edge
label, a sentence and an animation frame always agree.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, TypeAlias

from ..engine import Constant
from ..graph import scope_of, topological_order

# A graph node: the engine's Value, or a micrograd-style node with ``data``, ``grad``, ``label``, ``_prev``,
# ``_op``. Any until the engine offers a Node protocol to name here.
Node: TypeAlias = Any

MINUS = "\u2212"  # the minus sign of printed mathematics: "0.5 − 1.5", never "0.5 + -1.5"


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


def signed_terms(values: Iterable[float]) -> str:
    """Terms of a sum with their signs as operators: ``2.0 − 333.2 + 0.5`` (a leading ``−`` if negative)."""
    out = []
    for i, v in enumerate(values):
        text = fmt(abs(v)) if v < 0 else fmt(v)
        if i == 0:
            out.append(MINUS + text if v < 0 else text)
        else:
            out.append(f" {MINUS} {text}" if v < 0 else f" + {text}")
    return "".join(out)


def signed(x: float) -> str:
    """One number in a printed sum: ``−1.5`` (the minus sign, as in :func:`signed_terms`)."""
    return signed_terms([x])


def grad_value(node: Any) -> float:
    """``node.grad`` as a float (after ``backward(create_graph=True)`` it is a Value)."""
    g = node.grad
    return float(g.data) if hasattr(g, "data") else float(g)


def backward_done(root: Any) -> bool:
    """Has ``root.backward()`` been called? It seeds ``root.grad`` with 1, so a zero means no."""
    return grad_value(root) != 0.0


def is_constant(node: Any) -> bool:
    """Is ``node`` a number written into an expression (the ``1`` of ``a + 1``), not a value the user made?

    The engine lifts plain numbers into ``engine.Constant`` leaves; a user's ``Value(2.0)`` is an input,
    named or not.
    """
    return isinstance(node, Constant) and not node.label and scope_of(node) is None


def constant_text(x: float) -> str:
    """A constant as it is written in an expression: ``1``, ``0.5``, ``-3``, ``1.0001`` (rounded past 10 characters)."""
    x = float(x)
    if x.is_integer() and abs(x) < 1e6:
        return str(int(x))
    text = repr(x)
    return text if len(text) <= 10 else fmt(x)


SHORT_SCOPES = {"layers": "L", "neurons": "n", "w": "w", "x": "x"}  # nn's dotted names, as a slide writes them


def short_name(label: str) -> str:
    """nn's dotted name shortened: ``layers.0.neurons.3.w.1`` -> ``L0.n3.w1``, ``x.0`` -> ``x0``.

    Only the parts nn writes (``layers.k``, ``neurons.k``, ``w.k``, ``x.k``) are joined to their index;
    any other label is returned as it is.
    """
    parts = label.split(".")
    if len(parts) < 2 or not any(p in SHORT_SCOPES for p in parts):
        return label
    out: list[str] = []
    i = 0
    while i < len(parts):
        if parts[i] in SHORT_SCOPES and i + 1 < len(parts) and parts[i + 1].isdigit():
            out.append(SHORT_SCOPES[parts[i]] + parts[i + 1])
            i += 2
        else:
            out.append(parts[i])
            i += 1
    return ".".join(out)


class Names:
    """A name per node: its label; a constant's value (``1``); else ``v{i}``, ``i`` its position in ``order``.

    A name nn gave (a parameter's, a neuron's output's, an input's ``x.0``) is shortened the
    way a slide writes it: ``layers.0.neurons.3.w.1`` is ``L0.n3.w1`` (:func:`short_name`).
    Positions, not ``id()``: the same graph always gets the same names. With ``limit``
    (a drawing's), a longer label is cut to that many characters, ending in ``…``.
    """

    def __init__(self, order: list[Node], limit: int | None = None) -> None:
        self.order, self.limit = order, limit
        self._position: dict[Node, int] | None = None

    def __getitem__(self, node: Node) -> str:
        if node.label:
            label = str(node.label)
            if scope_of(node) is not None or re.fullmatch(r"x\.\d+", label):  # named by nn
                label = short_name(label)
            return label if self.limit is None or len(label) <= self.limit else label[:self.limit - 1] + "…"
        if is_constant(node):
            return constant_text(node.data)
        if self._position is None:
            self._position = {n: i for i, n in enumerate(self.order)}
        return f"v{self._position[node]}"


def term(name: str) -> str:
    """``name`` safe inside a formula: labels such as ``x1w1+x2w2`` (or ``-3``) get parentheses."""
    return name if re.fullmatch(r"[\w.]+", name) else f"({name})"


def op_expression(node: Any, names: Names | dict[Any, str]) -> str:
    """How ``node`` was computed, in the op table's symbols: ``a*b``, ``tanh(n)``, ``x**2``, ``a+1``."""
    op = node._op
    args = [term(names[c]) for c in node._prev]
    if op.infix:
        return f"{args[0]}{op.display}{args[1]}"
    if op.user_defined or op.symbol[:1].isalpha():  # f(a+b): the call's parentheses hold its arguments
        return f"{op.display or op.name}({', '.join(names[c] for c in node._prev)})"
    return f"{args[0]}{op.display}"  # a postfix symbol such as **2


def _bare(formula: str) -> str:
    return re.sub(r"[\s()]", "", formula)


def definition(node: Any, names: Names | dict[Any, str]) -> str:
    """``node`` named once with how it was computed: ``c = a*b``; a node whose label already *is* its formula
    (``x1*w1``, ``x1*w1 + x2*w2``) is written once, as labelled."""
    name, formula = names[node], op_expression(node, names)
    return name if _bare(name) == _bare(formula) else f"{term(name)} = {formula}"


def _operand_names(parent: Any, names: Names | dict[Any, str]) -> dict[str, str]:
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
    formula: str  # from the op table, operands named: "b"; "user-defined" for a _backward closure

    def text(self, names: Names | dict[Any, str]) -> str:
        """``∂c/∂a = b = 3.0`` (the formula is left out when it is just the number)."""
        head = f"∂{term(names[self.parent])}/∂{term(names[self.child])}"
        value = fmt(self.value)
        try:
            is_number = float(self.formula.strip("()")) == self.value  # a constant operand: "(-3)"
        except ValueError:
            is_number = False
        return f"{head} = {value}" if is_number else f"{head} = {self.formula} = {value}"


def local_derivatives(parent: Any, names: Names | dict[Any, str]) -> list[LocalDerivative]:
    """One :class:`LocalDerivative` per argument of ``parent``, values and formulas from the op table.

    For a user-defined op (micrograd's ``Value(data, (x,), 'sin')`` with a ``_backward``
    closure) the value is measured by running the closure once; the formula says so.
    """
    if parent._op is None:
        return []
    values = parent.local_derivatives()
    operands = _operand_names(parent, names)
    return [LocalDerivative(child, parent, i, float(values[i]), parent._op.describe_local(i, operands))
            for i, child in enumerate(parent._prev)]


class _Lazy(dict):  # type: ignore[type-arg]
    """A dict that computes a missing entry with ``make(key)`` the first time it is read."""

    def __init__(self, make: Callable[[Any], Any]) -> None:
        super().__init__()
        self.make = make

    def __missing__(self, key: Any) -> Any:
        value = self[key] = self.make(key)
        return value


class Flow:
    """Every edge's local derivative in the graph of ``root``, computed when first asked for.

    ``order`` is the topological order (children first, root last); ``out_of[p]``
    lists the local derivatives of ``p``'s arguments; ``into[n]`` the edges along
    which gradient flows *into* ``n`` (one per use of ``n``, duplicates kept: in
    ``a + a`` the node ``a`` has two), in the order ``backward()`` adds them.
    """

    def __init__(self, root: Node, order: list[Node], name_limit: int | None = None) -> None:
        self.root, self.order = root, order
        self.names = Names(order, name_limit)
        self.out_of: dict[Any, list[LocalDerivative]] = _Lazy(lambda p: local_derivatives(p, self.names))
        self._into: dict[Any, list[LocalDerivative]] | None = None

    @classmethod
    def of(cls, root: Any) -> Flow:
        return cls(root, topological_order(root))

    def __contains__(self, node: Any) -> bool:
        return node in self.order  # one question: a scan costs less than indexing a million nodes

    @property
    def into(self) -> dict[Any, list[LocalDerivative]]:
        """The index of every node's incoming terms (built once, for drawings that show them all)."""
        if self._into is None:
            into: dict[Any, list[LocalDerivative]] = {n: [] for n in self.order}
            for parent in reversed(self.order):  # parents in backward order: terms listed as backward() adds them
                for d in self.out_of[parent]:
                    into[d.child].append(d)
            self._into = into
        return self._into

    def into_of(self, node: Any) -> list[LocalDerivative]:
        """``into[node]`` without indexing the whole graph when it is not indexed yet (what explain needs)."""
        if self._into is not None:
            return self._into[node]
        return [d for p in reversed(self.order) if any(c is node for c in p._prev)
                for d in self.out_of[p] if d.child is node]

    def replay(self, schedule: list[Any] | None = None) -> list[Delta]:
        """The backward pass replayed, as a log: one :class:`Delta` per step; every ``grad`` is left as it was.

        Step 0 seeds ``root.grad = 1``; each further step runs the engine's own
        chain-rule step, ``node._backward()``, on the next interior node of the
        backward order (so a user-defined op's closure runs too) and records the
        new gradients of that node's inputs: O(edges) in all. ``schedule`` is another
        valid backward order of the interior nodes (each after every node that uses it).
        """
        saved = [node.grad for node in self.order]
        try:
            for node in self.order:
                node.grad = 0.0
            self.root.grad = 1.0
            log = [Delta(self.root, ((self.root, 1.0),))]
            for node in reversed(self.order) if schedule is None else schedule:
                if node._prev:
                    node._backward()
                    log.append(Delta(node, tuple((c, float(c.grad)) for c in dict.fromkeys(node._prev))))
            return log
        finally:
            for node, g in zip(self.order, saved):
                node.grad = g

    def simulate(self) -> list[Step]:
        """The replayed pass as full states, one :class:`Step` per stage (O(steps × nodes): for small graphs)."""
        grads: dict[Any, float] = {}
        processed: list[Any] = []
        steps = []
        for i, delta in enumerate(self.replay()):
            grads.update(delta.updates)
            if i:
                processed.append(delta.current)
            steps.append(Step(delta.current, dict(grads), frozenset(processed)))
        return steps


@dataclass(frozen=True)
class Delta:
    """One step of a replayed backward pass: ``current`` passed its gradient on; ``updates`` are the new grads."""

    current: Any
    updates: tuple[tuple[Any, float], ...]


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
    return [Term(d, upstream(d.parent)) for d in flow.into_of(node)]


# --------------------------------------------------------------------- size, before any work


def walk_within(root: Node, limit: int) -> tuple[list[Node] | None, list[Node]]:
    """``(topological order, nodes seen)`` of the graph of ``root``, walked once; the order is None past
    ``limit`` nodes, where the walk stops (refusing a million-node graph costs ``limit`` steps).

    The order is :func:`~microgradx.graph.topological_order`'s (children first, the last
    argument's subgraph explored first), found with a dict of states instead of the
    engine's marks: it reads each node's ``_prev`` once.
    """
    entered, done = 1, 2
    state: dict[int, int] = {id(root): 0}
    seen, order, stack = [root], [], [root]
    while stack:
        node = stack.pop()
        mark = state[id(node)]
        if mark == done:  # reached again by another path
            continue
        if mark == entered:  # back from its inputs: all are done
            state[id(node)] = done
            order.append(node)
            continue
        children = node._prev
        state[id(node)] = entered if children else done
        if not children:
            order.append(node)
            continue
        stack.append(node)
        for child in children:
            known = state.get(id(child))
            if known is None:
                state[id(child)] = 0
                seen.append(child)
                if len(seen) > limit:
                    return None, seen
            if known != done:
                stack.append(child)
    return order, seen
