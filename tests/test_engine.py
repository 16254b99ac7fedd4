"""The Value engine: construction, operators, backward, accumulation, reuse, deep graphs."""

from __future__ import annotations

import math

import numpy as np
import pytest

from microgradx import DomainError, Value, no_grad

# ------------------------------------------------------------------ construction

def test_value_holds_float_data_grad_label():
    v = Value(3, label="a")
    assert v.data == 3.0 and isinstance(v.data, float)
    assert v.grad == 0.0 and v.label == "a"
    assert v._prev == () and v._op is None


@pytest.mark.parametrize("x", [True, np.float32(1.5), np.float64(2.5), np.int64(7), np.bool_(True)])
def test_value_accepts_bools_and_numpy_scalars(x):
    assert Value(x).data == float(x)


@pytest.mark.parametrize("bad", ["1.0", None, [1.0], 1 + 2j, np.array([1.0, 2.0])])
def test_value_rejects_non_numbers_naming_the_type(bad):
    with pytest.raises(TypeError, match=type(bad).__name__):
        Value(bad)


def test_value_of_a_value_is_a_type_error_that_says_what_to_do():
    with pytest.raises(TypeError, match=r"\.data"):
        Value(Value(1.0))


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, np.float64("nan")])
def test_value_rejects_non_finite_data(bad):
    with pytest.raises(ValueError, match="finite"):
        Value(bad)


def test_label_must_be_a_string():
    with pytest.raises(TypeError, match="label"):
        Value(1.0, label=3)  # type: ignore[arg-type]


def test_values_keep_their_fields_in_slots_and_take_new_attributes():
    v = Value(1.0)
    assert {"data", "grad", "_x", "_y"} <= set(Value.__slots__)
    v.foo = 1  # type: ignore[attr-defined]  (micrograd code sets its own attributes)
    assert v.foo == 1 and v.__dict__ == {"foo": 1}


# ------------------------------------------------------------------ operators

def test_children_are_a_tuple_in_argument_order_with_duplicates_kept():
    a, b = Value(2.0), Value(3.0)
    assert (a - b)._prev == (a, b)
    assert (b - a)._prev == (b, a)
    assert (a + a)._prev == (a, a)


@pytest.mark.parametrize("expr, expected", [
    (lambda v: v + 2, 5.0), (lambda v: 2 + v, 5.0), (lambda v: v - 2, 1.0), (lambda v: 2 - v, -1.0),
    (lambda v: v * 2, 6.0), (lambda v: 2 * v, 6.0), (lambda v: v / 2, 1.5), (lambda v: 6 / v, 2.0),
    (lambda v: v ** 2, 9.0), (lambda v: 2 ** v, 8.0), (lambda v: v ** Value(2.0), 9.0), (lambda v: -v, -3.0),
    (lambda v: abs(-v), 3.0),
])
def test_operators_on_either_side_with_numbers(expr, expected):
    out = expr(Value(3.0))
    assert isinstance(out, Value) and out.data == pytest.approx(expected)


@pytest.mark.parametrize("scalar", [np.float64(2.0), np.int64(2), np.float32(2.0)])
def test_numpy_scalars_on_either_side_give_values_not_object_arrays(scalar):
    v = Value(3.0)
    for out in (scalar * v, v * scalar, scalar + v, v - scalar, scalar / v, scalar - v):
        assert type(out) is Value


def test_operator_with_a_string_is_a_clear_type_error():
    with pytest.raises(TypeError, match="str"):
        Value(1.0) + "2"  # type: ignore[operator]


def test_comparisons_compare_data_and_return_bool():
    a, b = Value(1.0), Value(2.0)
    assert (a < b) is True and (a >= b) is False and (b > 1.5) is True and (a <= 1) is True


def test_equality_and_hash_are_identity_based():
    a, b = Value(1.0), Value(1.0)
    assert a != b and a == a
    assert len({a, b}) == 2


def test_repr_matches_micrograd_and_shows_the_label():
    assert repr(Value(2.0)) == "Value(data=2.0, grad=0.0)"
    assert repr(Value(2.0, label="w")) == "Value(data=2.0, grad=0.0, label='w')"


# ------------------------------------------------------------------ backward

def test_backward_applies_the_chain_rule():
    a, b = Value(2.0), Value(-3.0)
    c = a * b + b            # dc/da = b, dc/db = a + 1
    c.backward()
    assert c.grad == 1.0 and a.grad == -3.0 and b.grad == 3.0


def test_a_reused_node_gets_the_sum_of_every_path():
    a = Value(3.0)
    b = a + a                # 2a
    c = b * b                # 4a^2 -> dc/da = 8a
    c.backward()
    assert a.grad == pytest.approx(24.0)
    assert b.grad == pytest.approx(12.0)


def test_self_multiplication_counts_both_edges():
    a = Value(3.0)
    (a * a).backward()
    assert a.grad == 6.0


def test_leaf_gradients_accumulate_and_interior_ones_reset():
    a, b = Value(2.0), Value(5.0)
    d = a * b
    e = d + a
    e.backward()
    first = (a.grad, b.grad, d.grad)
    e.backward()
    assert (a.grad, b.grad) == (2 * first[0], 2 * first[1])
    assert d.grad == first[2]  # interior: reset, not doubled


def test_backward_on_a_leaf_seeds_it():
    a = Value(2.0)
    a.backward()
    assert a.grad == 1.0


def test_no_grad_records_no_graph():
    a = Value(2.0)
    with no_grad():
        b = a * 3 + 1
    assert b.data == 7.0 and b._prev == () and b._op is None
    c = a * 3
    assert c._prev != ()


def test_no_grad_restores_recording_after_an_exception():
    with pytest.raises(RuntimeError):
        with no_grad():
            raise RuntimeError("boom")
    assert (Value(1.0) * 2)._prev != ()


def test_a_million_op_chain_backpropagates_without_recursion_error():
    x = Value(0.5)
    y = x
    for _ in range(1_000_000):
        y = y + x
    y.backward()
    assert x.grad == 1_000_001.0


def test_a_million_term_sum_backpropagates():
    xs = [Value(float(i % 7)) for i in range(1_000_000)]
    total = sum(xs)
    total.backward()
    assert total.data == sum(i % 7 for i in range(1_000_000))
    assert xs[0].grad == 1.0 and xs[-1].grad == 1.0


def test_backward_leaves_the_garbage_collector_as_it_was():
    import gc
    Value(1.0).backward()
    assert gc.isenabled()
    gc.disable()
    try:
        (Value(1.0) * 2).backward()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_graphs_have_no_reference_cycles_and_are_freed_by_refcounting():
    import gc

    def live_values() -> int:
        return sum(1 for o in gc.get_objects() if type(o) is Value)

    gc.collect()
    gc.disable()  # so only reference counting can free anything
    try:
        before = live_values()
        a = Value(2.0)
        out = (a * a + a).tanh()
        out.backward()
        assert live_values() - before == 4  # a, a*a, a*a + a, tanh
        del out, a
        assert live_values() == before
    finally:
        gc.enable()


# ------------------------------------------------------------------ domain errors

@pytest.mark.parametrize("make, op", [
    (lambda: Value(0.0, label="x").log(), "log"),
    (lambda: Value(-1.0).log(), "log"),
    (lambda: Value(1.0) / Value(0.0, label="d"), "div"),
    (lambda: Value(1.0) / 0, "div"),
    (lambda: Value(-4.0).sqrt(), "sqrt"),
    (lambda: Value(-2.0) ** 0.5, "pow"),
    (lambda: Value(0.0) ** -1, "pow"),
    (lambda: Value(-2.0) ** Value(2.0), "vpow"),
    (lambda: Value(710.0).exp(), "exp"),
    (lambda: Value(1e200) * Value(1e200), "*"),
    (lambda: Value(1e200) ** 2, "pow"),
])
def test_domain_errors_are_arithmetic_errors_naming_the_op_and_operands(make, op):
    with pytest.raises(ArithmeticError) as info:
        make()
    assert isinstance(info.value, DomainError)
    assert op in str(info.value)


def test_domain_error_names_operand_labels_and_values():
    with pytest.raises(DomainError, match=r"x = -1.5 \('a'\).*needs x > 0"):
        Value(-1.5, label="a").log()


def test_domain_errors_also_apply_without_a_graph():
    with no_grad(), pytest.raises(DomainError):
        Value(-1.0).log()


def test_negative_base_to_an_integer_power_is_fine():
    x = Value(-2.0)
    y = x ** 3
    y.backward()
    assert y.data == -8.0 and x.grad == pytest.approx(12.0)


def test_zero_to_the_zero_has_derivative_zero():
    x = Value(0.0)
    y = x ** 0
    y.backward()
    assert y.data == 1.0 and x.grad == 0.0
