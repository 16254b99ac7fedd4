"""The engine never gives a silent wrong number: per-thread modes, atomic backward, clear errors (issue 11)."""

from __future__ import annotations

import copy
import math
import threading

import numpy as np
import pytest

import microgradx as mx
from microgradx import DomainError, TracingError, Value, modes, no_grad
from microgradx.ops import LEAKY_RELU

# ------------------------------------------------------------------ modes are per thread


def in_thread(target, *args):
    """Run ``target(*args)`` in a thread; return what it returned, re-raising what it raised."""
    result: dict[str, object] = {}

    def run():
        try:
            result["value"] = target(*args)
        except BaseException as e:  # noqa: BLE001 - handed back to the test
            result["error"] = e

    t = threading.Thread(target=run)
    t.start()
    t.join(timeout=30)
    if "error" in result:
        raise result["error"]  # type: ignore[misc]
    return result.get("value")


def test_no_grad_in_one_thread_does_not_stop_another_from_recording():
    inside, release = threading.Event(), threading.Event()

    def hold_no_grad():
        with no_grad():
            inside.set()
            release.wait(10)

    holder = threading.Thread(target=hold_no_grad)
    holder.start()
    inside.wait(10)
    try:
        a, b = Value(2.0), Value(3.0)
        c = a * b + a
        c.backward()
        assert (a.grad, b.grad) == (4.0, 2.0)
        assert in_thread(lambda: modes.is_recording()) is True
    finally:
        release.set()
        holder.join()


def test_interleaved_no_grad_blocks_in_two_threads_leave_recording_on():
    steps = [threading.Event() for _ in range(4)]

    def a():
        with no_grad():
            steps[0].set()
            steps[1].wait(10)
        steps[2].set()

    def b():
        steps[0].wait(10)
        with no_grad():
            steps[1].set()
            steps[2].wait(10)  # A leaves first, then B
        steps[3].set()

    ta, tb = threading.Thread(target=a), threading.Thread(target=b)
    ta.start(), tb.start()
    ta.join(10), tb.join(10)
    assert steps[3].is_set()
    assert modes.is_recording() and modes.unusual == 0
    x = Value(2.0)
    (x * x).backward()
    assert x.grad == 4.0


def test_tracing_in_one_thread_leaves_comparisons_and_overflow_checks_of_others_alone():
    inside, release = threading.Event(), threading.Event()

    def slow(x):
        inside.set()
        release.wait(10)
        return x * 2

    tracer = threading.Thread(target=lambda: mx.jit(slow).trace(1.0))
    tracer.start()
    inside.wait(10)
    try:
        assert (Value(2.0) > 1.0) is True
        with pytest.raises(DomainError, match="overflows"):
            Value(1e308) * 10
        with pytest.raises(TracingError):
            in_thread(lambda: mx.jit(lambda x: x if x > 0 else -x).trace(1.0))
    finally:
        release.set()
        tracer.join()


# ------------------------------------------------------------------ backward: right or a clear error


@pytest.mark.parametrize("build, op", [
    (lambda x: (x * 1e-300).log(), "log"),
    (lambda x: 1 / x, "/"),
    (lambda x: x ** -1, "pow"),
    (lambda x: x ** 0.5, "pow"),
])
@pytest.mark.parametrize("at", [1e-160, 1e-10, 0.0])
def test_a_non_finite_gradient_is_a_domain_error_and_leaves_every_leaf_as_it_was(build, op, at):
    x = Value(at, label="x")
    other = Value(3.0, label="other")
    try:
        y = build(x) * other
    except DomainError:
        return  # refused already in the forward pass (e.g. 1/0): also a clear error
    x.grad, other.grad = 0.25, -1.5
    try:
        y.backward()
    except DomainError as e:
        assert op in str(e) and "not a finite number" in str(e)
        assert (x.grad, other.grad) == (0.25, -1.5)
    else:
        assert math.isfinite(x.grad) and math.isfinite(other.grad)


def test_an_error_inside_a_user_closure_leaves_the_leaves_too():
    a = Value(1.0)
    a.grad = 9.0
    out = Value(2.0, (a,), "boom")

    def _backward():
        a.grad += 1.0
        raise RuntimeError("the student's closure failed")

    out._backward = _backward
    with pytest.raises(RuntimeError, match="closure failed"):
        (out * 2.0).backward()
    assert a.grad == 9.0


def test_second_derivatives_of_powers_work_wherever_the_first_exists():
    assert mx.grad(lambda t: t ** 1.5)(Value(0.0)).data == 0.0
    assert mx.grad(mx.grad(lambda t: t ** 2.5))(0.0) == 0.0
    assert mx.grad(mx.grad(lambda t: t ** 1.5))(4.0) == pytest.approx(0.75 / 2)
    with pytest.raises(DomainError, match="pow.*not a finite number"):
        mx.grad(mx.grad(lambda t: t ** 1.5))(0.0)  # 0.75/√t is infinite at 0: said, not returned


# ------------------------------------------------------------------ raw errors made clear


@pytest.mark.parametrize("make, match", [
    (lambda: Value(10 ** 400), "too large for a float"),
    (lambda: Value(float("nan")), "finite"),
    (lambda: Value("2.0"), "real number"),
    (lambda: Value(1.0) ** float("inf"), "finite"),
    (lambda: Value(1.0).leaky_relu(float("nan")), "finite"),
    (lambda: Value(1.0, label=3), "label must be a str"),
    (lambda: Value(1.0, (2.0,), "x"), "inputs of a Value must be Values"),
    (lambda: Value(1.0).apply("tanh"), "row of the op table"),
    (lambda: Value(1.0).apply(mx.OPS["add"]), "takes 2 operand"),
])
def test_bad_inputs_raise_errors_that_say_what_to_do(make, match):
    with pytest.raises((TypeError, ValueError)) as info:
        make()
    assert info.match(match)


def test_a_graph_deep_copies_into_an_independent_graph():
    a, b = Value(2.0, label="a"), Value(3.0)
    c = (a * b).tanh() + a
    c2 = copy.deepcopy(c)
    c2.backward()
    assert a.grad == 0.0 and c2._op is c._op and c2._prev[0]._op is c._prev[0]._op
    c.backward()
    assert a.grad == pytest.approx(c2._prev[1].grad)


def test_bound_op_caches_are_bounded():
    for k in range(5_000):
        Value(1.5) ** (1.0 + k * 1e-6)
        Value(-1.0).leaky_relu(1e-3 + k * 1e-7)
    from microgradx.ops import _bind, user_op

    assert _bind.cache_info().currsize <= _bind.cache_info().maxsize
    for k in range(1_000):
        Value(1.0, (Value(1.0),), f"op{k}")
    assert user_op.cache_info().currsize <= user_op.cache_info().maxsize
    assert LEAKY_RELU.bind(0.5) is LEAKY_RELU.bind(0.5)


def test_numpy_scalars_and_arrays():
    assert (Value(2.0) * np.float64(3.0)).data == 6.0
    assert (np.float64(3.0) * Value(2.0)).data == 6.0
    with pytest.raises(TypeError, match="real number"):
        Value(np.array([1.0, 2.0]))
