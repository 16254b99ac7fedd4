"""Exercises of notebooks 1, 2, 3 and 7: derivatives by hand, the backward pass, a neuron, higher orders."""

from __future__ import annotations

import math
from typing import Any

import microgradx as mx
from microgradx import Value
from microgradx.graph import topological_order

from . import solutions as S
from .core import Case, Feedback
from .kinds import function, graph, number

# ---- 01 values and the chain rule --------------------------------------------------------------------------


def _dl_dy() -> float:
    x, y, z, w = Value(1.5), Value(-2.0), Value(4.0), Value(-3.0)
    ((x * y + z) * w).backward()
    return float(y.grad)


number(
    "01.1", "L = (x·y + z)·w at x = 1.5, y = −2, z = 4, w = −3. By hand (no backward()): what is dL/dy?", -4.5,
    expected_by=_dl_dy,
    mistakes=[(1.5, "that is the local derivative d(x·y)/dy only. The chain rule multiplies it by the gradient "
                    "arriving from above: how does L change when x·y changes?"),
              (4.5, "your dL/dy is positive, but nudging y up lowers L here -- did you take the sign of w into "
                    "account when multiplying by the upstream gradient?")],
    hint="Work from L backwards: dL/d(x·y + z) = w, a + passes it on unchanged, and d(x·y)/dy = x.",
    explanation="dL/dy = dL/d(xy+z) · d(xy+z)/d(xy) · d(xy)/dy = w · 1 · x = (−3)(1.5) = −4.5.")


number(
    "01.2", "Estimate d(x³)/dx at x = 2 by the central difference (f(x + h) − f(x − h)) / 2h with h = 0.1.",
    12.01, rtol=1e-5, expected_by=lambda: ((2.1 ** 3) - (1.9 ** 3)) / 0.2,
    mistakes=[(12.0, "that is the exact derivative 3x². The question asks what the central difference gives with "
                     "h = 0.1: compute f(2.1) and f(1.9)."),
              (12.61, "that is the one-sided difference (f(x + h) − f(x)) / h. The central one steps both ways and "
                      "divides by 2h; its error is of order h², not h.")],
    hint="f(2.1) = 2.1³ and f(1.9) = 1.9³; subtract and divide by 0.2.",
    explanation="(2.1³ − 1.9³) / 0.2 = (9.261 − 6.859) / 0.2 = 12.01: off the exact 12 by h² = 0.01.")


def _square_obs(out: Any) -> Any:
    if not isinstance(out, Value):
        raise Feedback(f"expected the output Value of your expression, got {type(out).__name__}")
    nodes = topological_order(out)
    xs = [n for n in nodes if n.label == "x" and not n._prev]
    if len(xs) != 1:
        return "no x"
    for n in nodes:
        n.grad = 0.0
    out.backward()
    return (out.data, xs[0].grad)


def _square_advice(answer: Any, obs: Any) -> str:
    if obs == "no x":
        return "your output does not depend on gx: build it from gx with ops, e.g. gx * something."
    value, slope = obs
    if not math.isclose(value, 9.0):
        return f"its value is {value:g}, not 9."
    return f"the value 9 is right, but d(out)/dx is {slope:g}, not 6: which function of x has slope 2x?"


graph(
    "01.3", "Starting from gx = Value(3.0, label='x'), build an expression out whose value is 9 and whose "
    "d(out)/dx is 6 (backward() must find that gradient).", S.build_square,
    observe=_square_obs, correct=lambda obs: obs != "no x" and math.isclose(obs[0], 9.0)
    and math.isclose(obs[1], 6.0),
    mistakes=[(lambda: Value(9.0) + Value(0.0, label="y"),
               "your output does not depend on x, so x gets no gradient: build it from gx with ops, not a new Value."),
              (lambda: Value(3.0, label="x") * 3.0,
               "x·3 has the value, but its derivative is 3 everywhere, and 6 is needed: use gx more than once.")],
    advise=_square_advice, hint="A node used twice gets a gradient from each use. What do you get from gx used twice?",
    explanation="gx * gx: both inputs of the product are x, each use sends d/dx = x = 3, and they add up to 6.",
    template="""
from microgradx import Value

gx = Value(3.0, label="x")
answer = ...  # your answer: a Value built from gx
""")

# ---- 02 the backward pass -----------------------------------------------------------------------------------


def _graph_small() -> Value:
    a = Value(3.0, label="a")
    b = a + a
    return b * b


def _graph_diamond() -> Value:
    a, b, e = Value(2.0, label="a"), Value(-3.0, label="b"), Value(1.5, label="e")
    return (a * b) * (a + e)


def _graph_chain() -> Value:
    y = Value(1.0, label="x")
    for _ in range(5_000):
        y = y * 1.0001
    return y


def _measure_topo(fn: Any, build: Any) -> Any:
    root = build()
    order = fn(root)
    if order is None:
        return None
    order = list(order)
    everything = {id(n) for n in topological_order(root)}
    ids = [id(n) for n in order]
    if len(set(ids)) < len(ids):
        return "duplicate"
    if set(ids) != everything:
        return "missing"
    position = {i: k for k, i in enumerate(ids)}
    if any(position[id(c)] > position[id(n)] for n in order for c in n._prev):
        return "order"
    return "ok"


def _recursive_topo(root: Any) -> list[Any]:
    order: list[Any] = []
    seen: set[int] = set()

    def visit(v: Any) -> None:
        if id(v) not in seen:
            seen.add(id(v))
            for child in v._prev:
                visit(child)
            order.append(v)

    visit(root)
    return order


def _parents_first(root: Any) -> list[Any]:
    return list(reversed(S.my_topo(root)))


def _no_seen(root: Any) -> list[Any]:
    order, stack = [], [(root, False)]
    while stack:
        node, done = stack.pop()
        if done:
            order.append(node)
        else:
            stack.append((node, True))
            stack.extend((c, False) for c in reversed(node._prev))
    return order


def _topo_advice(answer: Any, obs: Any) -> str:
    words = {"duplicate": "lists a node twice", "missing": "leaves out nodes of the graph (or adds others)",
             "order": "puts a node before one of its children", "ok": "is right"}
    names = ("b * b with b = a + a", "(a·b)·(a + e)", "a 5,000-op chain")
    bad = [f"on {n} it {words.get(o, o)}" for n, o in zip(names, obs) if o != "ok"]
    return "your order " + "; ".join(bad) + "."


function(
    "02.1", "Write my_topo(root): every node of root's graph once, children before the nodes that use them, "
    "without recursion (it must handle a 5,000-op chain).", S.my_topo,
    cases=[Case("b * b with b = a + a", (_graph_small,)), Case("(a·b)·(a + e)", (_graph_diamond,)),
           Case("a 5,000-op chain", (_graph_chain,))],
    measure=_measure_topo,
    mistakes=[(_recursive_topo, "RecursionError on the 5,000-op chain: Python stops at about 1,000 nested calls. "
                                "Keep your own stack (a list) of nodes still to visit instead of recursing."),
              (_parents_first, "a node came before its children: backward() walks the list from the end, so the "
                               "output must be last. Append a node only after all its children."),
              (_no_seen, "a node used twice appears twice: remember which nodes you have already visited "
                         "(a set of id(node)) and skip them.")],
    advise=_topo_advice,
    hint="Use a stack of (node, children_done) pairs: push (node, True) and then its children; when you pop a "
         "(node, True), all its children are placed, so append it.",
    explanation="A depth-first search with an explicit stack: a node is appended after everything below it, and a "
                "set of ids keeps each node once.",
    template="""
def my_topo(root):
    ...  # your code: return a list of all nodes, children first
""")


def _predict_a() -> float:
    a = Value(2.0)
    b = a * a
    c = b + a
    out = c * b
    out.backward()
    return float(a.grad)


number(
    "02.2", "a = Value(2.0); b = a * a; c = b + a; out = c * b. Predict a.grad after out.backward(), before "
    "running it.",
    44.0, expected_by=_predict_a,
    mistakes=[(20.0, "you followed only the path through c. b is used twice (in c and in out): add the share that "
                     "reaches a through b's direct use too."),
              (24.0, "you followed only out's direct use of b; c depends on a as well (through b and directly). "
                     "A gradient is the sum over every path.")],
    hint="List the paths from out to a: through c (and inside c, via b and directly) and through b. Sum them.",
    explanation="out = (a² + a)·a² = a⁴ + a³, so d out/da = 4a³ + 3a² = 32 + 12 = 44.")


def _three_calls() -> float:
    w = Value(3.0)
    loss = w * w
    for _ in range(3):
        loss.backward()
    return float(w.grad)


number(
    "02.3", "w = Value(3.0); loss = w * w; then loss.backward() is called three times without zeroing. What is w.grad?",
    18.0, expected_by=_three_calls,
    mistakes=[(6.0, "that is w.grad after one call. A leaf's grad adds up across backward() calls until it is zeroed."),
              (12.0, "that is after two calls: count again.")],
    hint="One call gives d(w²)/dw = 2w. A leaf accumulates: each call adds its gradient to what is there.",
    explanation="Each call adds 2w = 6 to w.grad: three calls give 18. This is why training loops call zero_grad().")

# ---- 03 a neuron -------------------------------------------------------------------------------------------


def _neuron_w2() -> float:
    w2 = Value(-1.0)
    (Value(1.0) * 0.5 + Value(2.0) * w2 + 1.0).tanh().backward()
    return float(w2.grad)


number(
    "03.1", "o = tanh(x1·w1 + x2·w2 + b) with x1 = 1, x2 = 2, w1 = 0.5, w2 = −1, b = 1. By hand: do/dw2? "
    "(3 significant digits)", 1.5729, rtol=2e-3, expected_by=_neuron_w2,
    mistakes=[(2.0, "that is x2 alone: you skipped the tanh. The gradient arriving at x2·w2 is "
                    "tanh's local derivative, not 1."),
              (1.5, "you used 1 − n² with n the tanh's input; the derivative of tanh is 1 − tanh(n)² = 1 − o².")],
    hint="n = x1·w1 + x2·w2 + b first; then do/dn = 1 − tanh(n)²; then dn/dw2 = x2.",
    explanation="n = 0.5 − 2 + 1 = −0.5, o = tanh(−0.5) = −0.4621, 1 − o² = 0.7864, times x2 = 2: 1.5729.")


def _measure_op(fn: Any, x: float, upstream: float, twice: bool) -> Any:
    v = Value(x, label="v")
    out = fn(v)
    if out is None:
        return None
    if not isinstance(out, Value):
        raise Feedback(f"my_sigmoid must return a Value, it returned {type(out).__name__}")
    if not any(c is v for c in out._prev) or "_backward" not in vars(out):
        raise Feedback("build out yourself, micrograd's way: out = Value(σ, (v,), 'σ') and assign out._backward "
                       "= _backward (using v.sigmoid() or other ops skips the exercise)")
    loss = out * upstream + fn(v) * upstream if twice else out * upstream
    loss.backward()
    return (out.data, v.grad)


def _op_mistake(grad: Any) -> Any:
    def op(v: Any) -> Any:
        out = Value(1.0 / (1.0 + math.exp(-v.data)), (v,), "σ")

        def _backward() -> None:
            grad(v, out)

        out._backward = _backward  # type: ignore[method-assign]
        return out
    return op


def _set_grad(v: Any, out: Any) -> None:
    v.grad = out.data * (1 - out.data) * out.grad


def _op_advice(answer: Any, obs: Any) -> str:
    for (value, _grad), case in zip(obs, _OP_CASES):
        x = case.args[0]
        if not math.isclose(value, 1 / (1 + math.exp(-x)), rel_tol=1e-9):
            return f"the forward value is off: on {case.name} out.data is {value:.6g}, which is not 1/(1 + e^(−x))."
    return "the forward value is right, but the gradient v.grad is not: check the local derivative σ(1 − σ)."


_OP_CASES = [Case("v = 0.3, upstream gradient 1", (0.3, 1.0, False)),
             Case("v = −1.2, upstream gradient 3", (-1.2, 3.0, False)),
             Case("v = 0.5 used by two σ nodes", (0.5, 2.0, True))]

function(
    "03.2", "Write my_sigmoid(v), micrograd's way: a new Value out = σ(v.data) with children (v,) and a _backward "
    "closure that adds the chain rule's share to v.grad.", S.my_sigmoid, cases=_OP_CASES, measure=_measure_op,
    mistakes=[(_op_mistake(lambda v, out: setattr(v, "grad", v.grad + out.data * (1 - out.data))),
               "right when the gradient arriving at out is 1, wrong otherwise: multiply the local derivative by "
               "out.grad, the upstream gradient."),
              (_op_mistake(_set_grad),
               "right when v is used once, wrong when it feeds two nodes: use v.grad += ..., not =, so every use "
               "adds its share."),
              (_op_mistake(lambda v, out: setattr(v, "grad", v.grad + v.data * (1 - v.data) * out.grad)),
               "the local derivative is σ(x)(1 − σ(x)), computed from the output σ(x) = out.data, not from "
               "the input v.data.")],
    advise=_op_advice,
    hint="σ'(x) = σ(x)·(1 − σ(x)) = out.data·(1 − out.data); the closure runs after out.grad is known.",
    explanation="The closure is one step of the chain rule: v.grad += (local derivative) × (upstream gradient), with "
                "+= because a node used twice collects a share from each use.",
    template="""
from microgradx import Value


def my_sigmoid(v):
    ...  # your code: out = Value(..., (v,), "σ"), a _backward closure, return out
""")

# ---- 07 higher-order derivatives ----------------------------------------------------------------------------

number(
    "07.1", "f(x) = x³ − 2x². By hand: f''(1.5)?", 5.0,
    expected_by=lambda: mx.grad(mx.grad(lambda x: x ** 3 - 2 * x ** 2))(1.5),
    mistakes=[(0.75, "that is f'(1.5), the first derivative. Differentiate once more."),
              (9.0, "you dropped the −2x² term: its second derivative is a constant, and not zero.")],
    hint="f'(x) = 3x² − 4x; differentiate that again and put x = 1.5.",
    explanation="f''(x) = 6x − 4, so f''(1.5) = 9 − 4 = 5.")


def _poly(x: Any) -> Any:
    return x ** 4 - 3 * x ** 3 + 2


def _bowl(x: Any) -> Any:
    return (x - 1.5) ** 4 + (x - 1.5) ** 2


def _parabola(x: Any) -> Any:
    return 3 * x ** 2 - 2 * x


def _measure_newton(fn: Any, f: Any, x: float) -> Any:
    r = fn(f, x)
    if r is None:
        return None
    if isinstance(r, Value):
        r = r.data
    return float(r)


function(
    "07.2", "Write my_newton_step(f, x): one step of Newton's method, x − f'(x)/f''(x), with both derivatives "
    "from mx.grad.", S.my_newton_step,
    cases=[Case("f = x⁴ − 3x³ + 2 at x = 3", (_poly, 3.0)), Case("f = (x − 1.5)⁴ + (x − 1.5)² at x = 3", (_bowl, 3.0)),
           Case("f = 3x² − 2x at x = 5", (_parabola, 5.0))],
    measure=_measure_newton,
    mistakes=[(lambda f, x: x - mx.grad(f)(x), "that is a gradient-descent step with step size 1. Newton divides the "
                                               "slope by the curvature f''(x)."),
              (lambda f, x: x + mx.grad(f)(x) / mx.grad(mx.grad(f))(x),
               "your step goes uphill: the parabola's minimum is at d = −f'(x)/f''(x), a minus sign."),
              (lambda f, x: x - mx.grad(mx.grad(f))(x) / mx.grad(f)(x), "the ratio is upside down: f' over f''.")],
    hint="mx.grad(f) is f'; mx.grad(mx.grad(f)) is f''. On a parabola one Newton step lands exactly on its minimum.",
    explanation="Newton jumps to the minimum of the parabola with f's value, slope and curvature at x: "
                "d = −f'(x)/f''(x).",
    template="""
import microgradx as mx


def my_newton_step(f, x):
    ...  # your code: return the next x
""")

number(
    "07.3", "f(x) = x⁴ − 3x³ + 2 (the notebook's). What is the third derivative f'''(1)?", 6.0,
    expected_by=lambda: mx.grad(mx.grad(mx.grad(_poly)))(1.0),
    mistakes=[(-6.0, "that is f''(1) = 12 − 18. One more derivative."),
              (24.0, "you dropped the −3x³ term: its third derivative is the constant −18.")],
    hint="Differentiate three times: 4x³ − 9x², then 12x² − 18x, then ...",
    explanation="f'''(x) = 24x − 18, so f'''(1) = 6.")
