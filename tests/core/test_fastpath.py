"""The speed section (microgradx/fastpath.py) is held equal to the op table's rows it writes out."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings

from microgradx import DomainError, Value, fastpath, no_grad
from microgradx.ops import ADD, FLOAT, MUL, OPS, RELU
from tests.programs import programs, run_values

EDGES = [1.5, -2.25, 0.0, -0.0, 1e-300, -1e-300, 5e-324, 1e154, -1e154, 3.0]


def _checked(row, *xs):
    """The row on the engine's checked path (inside no_grad, which the written-out copies hand over)."""
    with no_grad():
        return Value(xs[0])._apply(row, Value(xs[1]) if len(xs) == 2 else None).data


@pytest.mark.parametrize("row, fn", [(ADD, lambda u, v: u + v), (MUL, lambda u, v: u * v)], ids=["add", "mul"])
def test_written_out_add_and_mul_give_their_rows_values_and_local_derivatives(row, fn):
    for a in EDGES:
        for b in EDGES:
            u, v = Value(a), Value(b)
            out = fn(u, v)
            assert out._op is row and out._prev == (u, v)
            assert math.copysign(1.0, out.data) == math.copysign(1.0, row.forward(FLOAT, a, b))
            assert out.data == row.forward(FLOAT, a, b) == _checked(row, a, b)
            out.backward()
            assert (u.grad, v.grad) == tuple(row.local(FLOAT, out.data, a, b))


def test_written_out_relu_gives_its_rows_value_and_derivative_at_both_zeros():
    for a in EDGES:
        u = Value(a)
        out = u.relu()
        assert out._op is RELU and out.data == RELU.forward(FLOAT, a) == _checked(RELU, a)
        assert math.copysign(1.0, out.data) == math.copysign(1.0, _checked(RELU, a))
        out.backward()
        assert (u.grad,) == tuple(RELU.local(FLOAT, out.data, a))


@pytest.mark.parametrize("make, symbol", [
    (lambda: Value(1e200) * Value(1e200), "*"),
    (lambda: Value(1e308) + Value(1e308), "+"),
    (lambda: Value(-1e308) + (-1e308), "+"),
])
def test_an_overflowing_sum_or_product_goes_to_the_checked_path_and_is_named(make, symbol):
    with pytest.raises(DomainError, match="overflows") as info:
        make()
    assert symbol in str(info.value)


def test_inside_no_grad_the_written_out_ops_give_leaves():
    a, b = Value(2.0), Value(-3.0)
    with no_grad():
        outs = [a + b, a * b, b.relu()]
    assert [o.data for o in outs] == [-1.0, -6.0, 0.0]
    assert all(o._prev == () and o._op is None for o in outs)


def test_every_node_is_built_by_one_helper():
    out = fastpath.node(2.5, MUL, Value(1.0), None)
    assert type(out) is Value and (out.data, out.grad, out._op, out._mark) == (2.5, 0.0, MUL, None)
    assert out.__dict__ == {} and out.label == "" and out._scope is None


SLOTS = ("data", "grad", "_op", "_x", "_y", "_mark")


@pytest.mark.parametrize("make, op, args", [
    (lambda a, b: a + b, "add", 2), (lambda a, b: a * b, "mul", 2), (lambda a, b: a.relu(), "relu", 1),
])
def test_the_written_out_ops_build_the_node_the_one_helper_builds(make, op, args):
    a, b = Value(1.5), Value(-2.0)
    out = make(a, b)
    data = out.data
    twin = fastpath.node(data, OPS[op], a, b if args == 2 else None)
    assert [getattr(out, s) for s in SLOTS] == [getattr(twin, s) for s in SLOTS]
    assert type(out) is type(twin) and out.__dict__ == twin.__dict__ == {}


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(max_steps=10))
def test_the_written_out_float_loop_gives_the_engines_chain_rule_loop_gradients(prog):
    grads = []
    for enabled in (True, False):
        fastpath.ENABLED = enabled
        try:
            env, out = run_values(prog)
            out.backward()
        finally:
            fastpath.ENABLED = True
        grads.append([env[name].grad for name in sorted(env)])
    assert grads[0] == grads[1]


def test_the_float_loop_runs_a_user_defined_ops_closure():
    x = Value(0.3)
    out = Value(math.sin(x.data), (x,), "sin")

    def _backward() -> None:
        x.grad += math.cos(x.data) * out.grad

    out._backward = _backward
    (out * 2.0).backward()
    assert x.grad == 2.0 * math.cos(0.3)


def test_a_numpy_scalar_result_goes_to_the_checked_path_which_computes_in_python_floats():
    a = Value(1.0)
    a.data = np.float32(1.0)  # type: ignore[assignment]  (weights copied from a float32 file)
    out = a + 1e-8
    assert type(out.data) is float and out.data == 1.0 + 1e-8
    assert type(a.data) is float


@pytest.mark.parametrize("make", [lambda a, b: a + b, lambda a, b: a * b], ids=["add", "mul"])
def test_ints_put_in_data_go_to_the_checked_path_which_computes_in_python_floats(make):
    a, b = Value(1.0), Value(1.0)
    a.data, b.data = 3, 4  # type: ignore[assignment]
    out = make(a, b)
    assert type(out.data) is float and out.data == make(3.0, 4.0)
    assert type(a.data) is float and type(b.data) is float


def test_the_fast_paths_hand_over_while_any_thread_is_in_no_grad_and_take_over_again_after():
    from microgradx import modes

    assert modes.FAST_FLOAT is float
    with no_grad():
        assert modes.FAST_FLOAT is not float
        with no_grad():
            assert modes.FAST_FLOAT is not float
        assert modes.FAST_FLOAT is not float
    assert modes.FAST_FLOAT is float
