"""Tracing a function of Values into a readable IR (microgradx.jit)."""

from __future__ import annotations

import numpy as np
import pytest

from microgradx import TracingError, Value, modes, no_grad
from microgradx.compiled.jit import jit
from microgradx.compiled.trace import CONST, INPUT, PARAM


def test_ir_prints_one_equation_per_op_in_order_with_parameter_labels():
    w = Value(0.5, label="w")
    f = jit(lambda x: (w * x + 1.0).tanh())
    assert str(f.trace(0.0)) == (
        "{ lambda ; x .  params: w  consts: c0=1.0\n"
        "  %0 = mul w x\n"
        "  %1 = add %0 c0\n"
        "  %2 = tanh %1\n"
        "  return %2 }"
    )


def test_ir_shows_an_ops_parameter_and_nn_style_labels():
    w = Value(2.0, label="layers.0.neurons.3.w.1")

    def f(x):
        out = (w * x) ** 2
        out.label = "layers.0.neurons.3"
        return out.leaky_relu(0.1)

    text = str(jit(f).trace(0.0))
    assert "%0 = mul layers.0.neurons.3.w.1 x" in text
    assert "%1 = pow[p=2] %0    # layers.0.neurons.3" in text
    assert "%2 = leaky_relu[p=0.1] %1" in text


def test_list_argument_gets_indexed_placeholder_names():
    f = jit(lambda x: x[0] * x[1])
    tr = f.trace(np.zeros((3, 2)))
    assert [tr.nodes[i].name for i in tr.input_nodes] == ["x[0]", "x[1]"]
    assert tr.equations() == ["%0 = mul x[0] x[1]"]


def test_a_2d_array_spreads_over_a_function_of_several_scalars():
    f = jit(lambda a, b: a - b)
    tr = f.trace(np.zeros((3, 2)))
    assert [tr.nodes[i].name for i in tr.input_nodes] == ["a", "b"]
    assert tr.structure == (None, None)


def test_values_that_existed_before_the_call_are_parameters_and_new_numbers_are_constants():
    w = Value(3.0, label="w")
    f = jit(lambda x: w * x + Value(4.0) + 2)
    tr = f.trace(0.0)
    kinds = {n.name: n.kind for n in tr.nodes}
    assert kinds["w"] == PARAM and kinds["x"] == INPUT
    assert sorted(n.value for n in tr.nodes if n.kind == CONST) == [2.0, 4.0]
    assert tr.params == [w]


def test_unlabelled_parameters_get_numbered_names_and_clashing_labels_are_made_unique():
    a, b, c = Value(1.0), Value(2.0), Value(3.0, label="w")
    d = Value(4.0, label="w")
    tr = jit(lambda x: a * x + b * x + c * d).trace(0.0)
    names = [tr.nodes[i].name for i in tr.param_nodes]
    assert names == ["p0", "p1", "w", "w#1"]


def test_comparing_a_value_while_tracing_raises_a_tracing_error_naming_the_function_and_the_fix():
    def hinge(x):
        return x if x > 0 else -x

    with pytest.raises(TracingError) as err:
        jit(hinge)(np.array([1.0]))
    msg = str(err.value)
    assert "while tracing hinge" in msg
    assert "relu" in msg and "abs" in msg


def test_an_if_on_a_value_while_tracing_raises_a_tracing_error():
    def f(x):
        if x:
            return x
        return x * 2

    with pytest.raises(TracingError, match="while tracing f"):
        jit(f).trace(0.0)


def test_tracing_mode_is_restored_after_an_error():
    with pytest.raises(TracingError):
        jit(lambda x: x if x > 0 else x).trace(0.0)
    assert modes.current_tracer() is None and modes.is_recording() is True and modes.unusual == 0
    assert (Value(2.0) > 1.0) is True  # comparisons work again outside tracing


def test_reading_data_of_an_input_while_tracing_explains_the_placeholder():
    with pytest.raises(TracingError, match="number was read while jit was tracing"):
        jit(lambda x: x * Value(x.data)).trace(0.0)


def test_a_result_computed_under_no_grad_inside_the_function_is_reported():
    def f(x):
        with no_grad():
            y = x * 2
        return y + x

    with pytest.raises(TracingError, match="no_grad"):
        jit(f).trace(0.0)


def test_a_function_that_returns_no_value_is_a_type_error():
    with pytest.raises(TypeError, match="must return a Value"):
        jit(lambda x: 3.0).trace(0.0)


def test_traces_are_cached_per_argument_structure_and_retraced_when_it_changes():
    calls = []

    def f(x):
        calls.append(len(x))
        return sum(x[1:], x[0])

    g = jit(f)
    g(np.ones((4, 2)))
    g(np.ones((7, 2)))
    assert calls == [2]
    g(np.ones((4, 3)))
    assert calls == [2, 3]
    g(np.ones((5, 2)))
    assert calls == [2, 3]


def test_a_deep_chain_traces_without_recursion_errors():
    def f(x):
        for _ in range(5000):
            x = x * 1.0001
        return x

    tr = jit(f).trace(0.0)
    assert tr.n_ops == 5000


def test_tuple_and_list_outputs_are_recorded_as_such():
    tr = jit(lambda x: (x * 2, x + 1)).trace(0.0)
    assert str(tr).endswith("return (%0, %1) }")
    tr = jit(lambda x: [x.exp()]).trace(0.0)
    assert str(tr).endswith("return [%0] }")


def test_an_input_the_function_ignores_still_takes_its_column():
    w = Value(2.0, label="w")
    f = jit(lambda x, unused: w * x)
    assert len(f.trace(np.zeros((2, 2))).input_nodes) == 2
    np.testing.assert_array_equal(f(np.array([[1.0, 9.0], [3.0, 9.0]])), [2.0, 6.0])
