"""Gradients as functions (``grad(f)``, ``value_and_grad(f)``, ``gradients(out, inputs)``), and ops as functions.

``mx.sin(x)``, ``mx.exp(x)``, ... (every prefix row of the op table, made from it):
a Value in gives a Value out (the op is recorded); a number in gives a float out,
with the same domain errors. They are what ``math.sin`` cannot be: differentiable.

``grad(f)(x)`` is f'(x). Given plain numbers it returns floats; given ``Value``
arguments it returns ``Value`` graphs, which is what makes ``grad(grad(f))``
work: the outer ``grad`` passes a Value to the inner one and differentiates its
result again.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any, Union

from .checks import number
from .engine import Value, _lift
from .graph import topological_order
from .modes import current_tracer, enable_grad
from .ops import FUNCTIONS, Op

ArgNums = Union[int, Sequence[int]]


class _Depth(threading.local):
    """How many ``grad``/``value_and_grad`` calls this thread is inside (a gradient inside one is nested)."""

    depth = 0


_DEPTH = _Depth()


def gradients(output: Value, inputs: Sequence[Value], create_graph: bool = False) -> list[Any]:
    """∂output/∂input for each input, leaving every leaf's ``.grad`` as it was.

    Like ``torch.autograd.grad``: the leaves' gradients are set aside, the
    backward pass runs, the wanted gradients are read, and the old ones come back.
    An input that ``output`` does not depend on gets 0.
    """
    if not isinstance(output, Value):
        raise TypeError(f"the function must return a Value, got {type(output).__name__}; "
                        "build the result from the Value arguments it receives")
    for i, v in enumerate(inputs):
        if not isinstance(v, Value):
            raise TypeError(f"input {i} must be a Value, got {type(v).__name__}")
    leaves = [n for n in topological_order(output) if not n._prev]
    leaves += [v for v in inputs if v._prev]  # an interior input is read before it is reset
    saved = [n.grad for n in leaves] + [v.grad for v in inputs]
    try:
        for n in leaves:
            n.grad = 0.0
        for v in inputs:
            v.grad = 0.0
        output.backward(create_graph=create_graph)
        result = [v.grad for v in inputs]
    finally:
        for n, g in zip(leaves + list(inputs), saved):
            n.grad = g
    if create_graph:
        result = [g if isinstance(g, Value) else _lift(float(g)) for g in result]
    return result


def _prepare(fn: Callable[..., Any], args: tuple[Any, ...], argnums: ArgNums,
             inside: bool) -> tuple[Any, list[Value], bool]:
    nums = [argnums] if isinstance(argnums, int) else list(argnums)
    for n in nums:
        if not -len(args) <= n < len(args):
            raise IndexError(f"argnums {n} is out of range: the function got {len(args)} argument(s)")
    call = list(args)
    wrt: list[Value] = []
    # Any Value argument may be part of an outer graph (grad(grad(f)), mixed partials), and inside an
    # outer grad (or jit's trace) fn may close over the outer variable (grad(lambda x: x * grad(lambda y:
    # x * y)(2.0))): then the gradient must be a graph too, or the outer derivative misses a path.
    nested = inside or current_tracer() is not None or any(isinstance(a, Value) for a in call)
    for n in nums:
        # A Value argument gets a node of its own (v + 0): fn may also reach v through a closure
        # (grad(lambda x: grad(lambda y: x * y * y)(x))), and only this argument's path is ∂/∂y.
        call[n] = call[n] + 0.0 if isinstance(call[n], Value) else Value(call[n], label=f"arg{n}")
        wrt.append(call[n])
    out = fn(*call)
    if not isinstance(out, Value):
        what = type(out).__name__
        hint = (" (a plain number: if it was read from x.data the derivative through it is lost, so 0 could be "
                "wrong; build it with Value ops, and for a constant function return x * 0.0 + c)"
                if isinstance(out, (int, float)) else "")
        raise TypeError(f"{getattr(fn, '__name__', 'the function')} must return a single Value "
                        f"to be differentiated, got {what}{hint}")
    return out, wrt, nested


def value_and_grad(fn: Callable[..., Value], argnums: ArgNums = 0) -> Callable[..., tuple[Any, Any]]:
    """A function returning ``(fn(*args), ∂fn/∂args[argnums])``.

    Floats in, floats out; if any argument is a Value, or the call is inside another
    ``grad`` (or a function ``jit`` traces), the results are Values (differentiable
    again), so a closure over an outer variable is differentiated through too.
    ``fn`` records its graph also inside ``no_grad()``.
    With a tuple ``argnums`` the gradient is a tuple.
    """

    def wrapped(*args: Any) -> tuple[Any, Any]:
        # Recording is on for fn's own graph, also inside no_grad() (as torch.func.grad and JAX do):
        # without it fn's result would be a leaf and every gradient 0.
        inside = _DEPTH.depth > 0
        _DEPTH.depth += 1
        try:
            with enable_grad():
                out, wrt, nested = _prepare(fn, args, argnums, inside)
                gs = gradients(out, wrt, create_graph=nested)
        finally:
            _DEPTH.depth -= 1
        if not nested:
            gs = [float(g) for g in gs]
        g = gs[0] if isinstance(argnums, int) else tuple(gs)
        return (out if nested else out.data), g

    wrapped.__name__ = f"value_and_grad({getattr(fn, '__name__', 'f')})"
    return wrapped


def grad(fn: Callable[..., Value], argnums: ArgNums = 0) -> Callable[..., Any]:
    """The derivative of ``fn`` as a function: ``grad(f)(x) = f'(x)``; nestable."""
    vg = value_and_grad(fn, argnums)

    def wrapped(*args: Any) -> Any:
        return vg(*args)[1]

    wrapped.__name__ = f"grad({getattr(fn, '__name__', 'f')})"
    return wrapped


def _function_form(op: Op) -> Callable[..., Any]:
    """``op`` as a function: of a Value (recorded in the graph) or of a number (a checked float)."""

    def function(x: Any, *param: float, **named: float) -> Any:
        if op.has_param and op.param_name in named and not param:  # leaky_relu(v, slope=0.1), as the method
            param = (named.pop(op.param_name),)
        if op.has_param and op.param_name in named:
            raise TypeError(f"{op.method}() got multiple values for argument {op.param_name!r}")
        if named:
            raise TypeError(f"{op.method}() got an unexpected keyword argument {next(iter(named))!r}"
                            + (f"; it takes {op.param_name}=" if op.has_param else ""))
        if len(param) > int(op.has_param):
            raise TypeError(f"{op.method}() takes {1 + int(op.has_param)} argument(s), got {1 + len(param)}")
        row = op.bound(number(param[0], op.param_name) if param else None)
        if isinstance(x, Value):
            return x._apply(row)
        return row.evaluate(number(x, f"{op.method}(x)"))

    function.__name__ = function.__qualname__ = op.method
    extra = f", {op.param_name}={op.default:g}" if op.has_param and op.default is not None else ""
    function.__doc__ = (f"{op.method}(x{extra}): {op.doc}. A Value in gives a Value (recorded in the graph); "
                        "a number in gives a float.")
    return function


#: ``mx.sin``, ``mx.exp``, ``mx.leaky_relu``, ...: every prefix row of the op table as a function.
FUNCTION_FORMS: dict[str, Callable[..., Any]] = {name: _function_form(op) for name, op in FUNCTIONS.items()}
globals().update(FUNCTION_FORMS)
