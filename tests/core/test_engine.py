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


# ------------------------------------------------------------------ the walk, the scope, the exports

def test_the_backward_walk_only_walks_it_leaves_every_gradient_alone():
    from microgradx.graph import backward_order

    a, b = Value(2.0), Value(3.0)
    h = a * b
    out = (h + a).tanh()
    for node, g in ((a, 5.0), (b, 6.0), (h, 7.0), (out, 8.0)):
        node.grad = g
    interior, leaves = backward_order(out)
    assert interior == [h, interior[1], out] and set(leaves) == {a, b}
    assert (a.grad, b.grad, h.grad, out.grad) == (5.0, 6.0, 7.0, 8.0)


def test_backward_starts_interior_gradients_from_zero_itself():
    a = Value(2.0)
    h = a * a
    out = h + 1.0
    h.grad = 100.0  # left over, e.g. from an earlier pass
    out.backward()
    assert h.grad == 1.0 and a.grad == 4.0


def test_scope_is_a_declared_attribute_none_until_nn_sets_it():
    from microgradx.graph import Scope, scope_of

    v = Value(1.0)
    assert "_scope" in Value.__annotations__ and v._scope is None and scope_of(v) is None
    v._scope = Scope("layers.0.neurons.1", "neuron", 1)
    assert scope_of(v) is v._scope and v.__dict__ == {"_scope": v._scope}


def test_the_package_exports_one_function_per_prefix_row_and_no_sys():
    import microgradx as mx
    from microgradx.ops import FUNCTIONS

    assert "sys" not in dir(mx)
    assert set(FUNCTIONS) <= set(mx.__all__) and all(name in dir(mx) for name in mx.__all__)
    for name, row in FUNCTIONS.items():
        out = getattr(mx, name)(Value(0.5))
        assert out._op.name == row.name, f"mx.{name} applies {out._op.name}"


# ------------------------------------------------------------------ from issue 20: never a silent wrong number

def test_two_threads_pausing_the_collector_at_once_leave_it_on_afterwards(monkeypatch):
    # The interleaving that lost the collector: B reads "off" while A is inside, A leaves and turns it
    # back on, then B turns it off and, having read "off", never turns it on again.
    import gc
    import threading

    from microgradx.modes import gc_paused

    real_disable = gc.disable
    b_read_off, a_left = threading.Event(), threading.Event()

    def disable() -> None:
        if threading.current_thread().name == "B":
            b_read_off.set()
            a_left.wait(2.0)
        real_disable()

    def b() -> None:
        with gc_paused():
            pass

    def a() -> None:
        with gc_paused():
            thread_b.start()
            b_read_off.wait(2.0)  # (times out once B no longer switches the collector itself)
        a_left.set()

    thread_b = threading.Thread(target=b, name="B")
    monkeypatch.setattr(gc, "disable", disable)
    try:
        thread_a = threading.Thread(target=a, name="A")
        thread_a.start()
        thread_a.join()
        thread_b.join()
        assert gc.isenabled()
    finally:
        gc.enable()


def test_backward_in_several_threads_at_once_gives_each_its_gradients_and_leaves_the_collector_on():
    import gc
    import threading

    results: list[float] = []

    def work() -> None:
        for _ in range(50):
            xs = [Value(0.5) for _ in range(200)]
            total = sum(x * x for x in xs)
            total.backward()
            results.append(sum(x.grad for x in xs))

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [200.0] * 200 and gc.isenabled()


def test_a_format_spec_formats_the_number_and_no_spec_gives_the_repr():
    v = Value(2.0 / 3.0, label="v")
    assert f"{v:.3f}" == "0.667" and f"{v:>8.2e}" == "6.67e-01" and f"{v}" == repr(v)


@pytest.mark.parametrize("convert, name", [(int, "int"), (float, "float"), (lambda v: round(v, 2), "round"),
                                           (round, "round")])
def test_int_float_and_round_of_a_value_are_refused_saying_to_use_data(convert, name):
    with pytest.raises(TypeError, match=rf"{name}\(\) of a Value is refused.*v\.data.*{name}\(v\.data\)"):
        convert(Value(2.5))


def test_a_gradient_set_to_none_counts_as_zero_as_in_pytorch():
    w, b = Value(2.0), Value(1.0)
    w.grad, b.grad = None, 5.0
    (w * 3.0 + b).backward()
    assert (w.grad, b.grad) == (3.0, 6.0)
    leaf = Value(1.0)
    leaf.grad = None
    leaf.backward()
    assert leaf.grad == 1.0


def test_zero_to_a_value_power_is_zero_with_derivative_zero_for_a_positive_exponent():
    y = Value(0.5)
    out = 0.0 ** y
    out.backward()
    assert (out.data, y.grad) == (0.0, 0.0)
    x, y = Value(0.0), Value(2.0)
    (x ** y).backward()
    assert (x.grad, y.grad) == (0.0, 0.0)  # torch: the same
    with pytest.raises(DomainError, match="not a finite number"):  # ∂/∂x = 0.5·0^-0.5: infinite, said so
        (Value(0.0) ** Value(0.5)).backward()
    with pytest.raises(DomainError, match="undefined"):
        0.0 ** Value(-1.0)


def test_zero_to_a_value_power_is_zero_for_every_positive_y_so_its_derivatives_in_y_are_zero():
    import microgradx as mx

    assert mx.grad(lambda y: 0.0 ** y)(0.5) == 0.0
    assert mx.grad(mx.grad(lambda y: 0.0 ** y))(0.5) == 0.0  # 0^y = 0 for all y > 0: every derivative is 0


def test_the_derivative_graph_of_a_value_base_at_zero_with_y_at_most_one_is_a_clear_domain_error():
    x, y = Value(0.0), Value(0.5)
    with pytest.raises(DomainError, match="infinite at x = 0 for y <= 1"):  # ∂²/∂x∂y = x^(y-1)(1 + y ln x)
        (x ** y).backward(create_graph=True)


@pytest.mark.parametrize("scalar", [np.float32(1.0), np.float16(1.0), np.float64(1.0), np.int64(1)])
def test_a_numpy_scalar_assigned_to_data_becomes_a_python_float_before_any_arithmetic(scalar):
    a = Value(0.0, label="a")
    a.data = scalar  # type: ignore[assignment]
    out = a + 1e-8
    assert type(a.data) is float and type(out.data) is float and out.data == 1.0 + 1e-8
    b = Value(0.0)
    b.data = scalar  # type: ignore[assignment]
    h = (b * 3.0).tanh()
    h.backward()
    assert type(b.data) is float and b.grad == pytest.approx(3 * (1 - math.tanh(3.0) ** 2), rel=1e-12)


@pytest.mark.parametrize("bad", ["1.0", None, [1.0]])
def test_a_non_number_assigned_to_data_is_refused_at_its_first_use(bad):
    a = Value(1.0, label="w")
    a.data = bad  # type: ignore[assignment]
    for use in (lambda: a + 1.0, lambda: a * 2.0, lambda: a.relu(), lambda: a.tanh()):
        with pytest.raises(TypeError, match="the data of 'w' must be a real number"):
            use()


def test_the_lecture_update_with_a_value_gradient_is_refused_naming_grad_data():
    p = Value(0.5, label="p")
    (p * p).backward(create_graph=True)
    p.data += -0.1 * p.grad  # the lecture's update, with p.grad a Value
    for use in (lambda: p * 2.0, lambda: p + 1.0, lambda: p.tanh(), lambda: p.relu()):
        with pytest.raises(TypeError, match=r"holds a Value.*p\.grad\.data"):
            use()


def test_deepcopy_and_pickle_of_a_sum_of_3000_values_need_no_recursion():
    import copy
    import pickle

    xs = [Value(float(i), label=f"x{i}") for i in range(3000)]
    total = sum(xs)
    total.backward()
    for clone in (copy.deepcopy(total), pickle.loads(pickle.dumps(total))):
        assert clone.data == total.data and clone.grad == 1.0
        assert clone._y.label == "x2999" and clone._y.grad == 1.0 and clone._y is not xs[-1]
    first, clone = copy.deepcopy([xs[0], total])
    node = clone
    while node._x._x is not None:  # down to 0 + x0, the first add of sum()
        node = node._x
    assert node._y is first and first is not xs[0] and first.label == "x0"


def test_deepcopy_keeps_shared_nodes_shared():
    import copy

    a = Value(2.0, label="a")
    h = a * a
    out = h + h
    params, copied = copy.deepcopy(([a], out))
    assert copied._x is copied._y and copied._x._x is copied._x._y is params[0]


def test_copying_a_node_of_a_user_defined_op_is_a_clear_error_not_a_key_error():
    import copy

    x = Value(0.3)
    out = Value(math.sin(0.3), (x,), "sin")
    out._backward = lambda: None
    with pytest.raises(TypeError, match="user-defined op 'sin'.*closure"):
        copy.deepcopy(out)
    assert copy.deepcopy(out._op) is out._op
