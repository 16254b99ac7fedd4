"""Tracing a function of Values into a readable IR (microgradx.jit)."""

from __future__ import annotations

import math

import numpy as np
import pytest

import microgradx as mx
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


# ------------------------------------------------------------------ reading a traced number (issue 20, 1)

X3 = np.array([1.0, -2.0, 3.0])


def test_a_branch_on_data_while_tracing_is_refused_and_says_what_to_write_instead():
    with pytest.raises(TracingError, match=r"x\.relu\(\).*without jit"):
        jit(lambda x: x if x.data >= 0 else -x)(X3)


@pytest.mark.parametrize("read", [
    lambda x: x * (1.0 if x.data else 2.0),                  # bool of the number
    lambda x: x * float(x.data),                             # float() of the number
    lambda x: x * int(x.data),                               # int()
    lambda x: x * round(x.data, 2),                          # round()
    lambda x: x * math.exp(x.data),                          # math.* on the number
    lambda x: x * max(x.data, 0.0),                          # max() compares
    lambda x: x * (2.0 if x.data == 0.0 else 1.0),           # equality
    lambda x: x * (2.0 if (x * 2.0).data > 0 else 1.0),      # the number of an op's result
    lambda x: x * float(f"{x.data:.3f}"),                    # a format
    lambda x: x * Value(x.data),                             # a new leaf from the number
    lambda x: x * np.exp(x.data),                            # a numpy function of the number
], ids=["bool", "float", "int", "round", "math", "max", "eq", "op-result", "format", "new-leaf", "numpy"])
def test_every_way_of_reading_a_traced_number_is_refused(read):
    with pytest.raises(TracingError, match="number was read while jit was tracing"):
        jit(read)(X3)


def test_printing_a_traced_number_is_allowed_and_says_it_is_unknown(capsys):
    jit(lambda x: (print(x.data), x * 2)[1])(X3)
    assert "unknown while tracing" in capsys.readouterr().out


def test_arithmetic_on_a_traced_number_still_gives_the_unknown_number_back():
    seen = []
    jit(lambda x: (seen.append(x.data * 2 + 1), x)[1])(X3)
    assert seen[0] is modes.UNKNOWN


# ------------------------------------------------------------------ gradients inside jit (issue 20, 2)


def _eager_grads(f, xs):
    return np.array([mx.grad(f)(float(x)) for x in xs])


@pytest.mark.parametrize("act", ["relu", "tanh", "leaky_relu", "abs", "sigmoid", "sin"])
def test_grad_inside_jit_gives_the_eager_gradient_for_every_sample(act):
    w = Value(0.5)

    def inner(v):
        return getattr(v * w, act)() * v

    got = jit(lambda x: mx.grad(inner)(x))(np.array([1.0, -1.0, 2.0, -0.3]))
    np.testing.assert_allclose(got, _eager_grads(inner, [1.0, -1.0, 2.0, -0.3]), rtol=1e-14, atol=1e-15)


def test_grad_of_relu_inside_jit_is_the_issues_reproducer():
    w = Value(0.5)
    got = jit(lambda x: mx.grad(lambda v: (v * w).relu())(x))(np.array([1.0, -1.0, 2.0]))
    assert got.tolist() == [0.5, 0.0, 0.5]


def test_second_derivative_inside_jit_matches_eager():
    def f(v):
        return (v * v).tanh() * v.relu()

    xs = np.array([0.3, -0.7, 1.2])
    got = jit(lambda x: mx.grad(mx.grad(f))(x))(xs)
    np.testing.assert_allclose(got, [mx.grad(mx.grad(f))(float(x)) for x in xs], rtol=1e-13)


def test_parameter_gradients_through_a_traced_gradient_match_eager():
    w = Value(0.5, label="w")
    xs = [1.0, -1.0, 2.0]
    f = jit(lambda x: mx.grad(lambda v: (v * w).tanh() + (v * w).relu())(x))
    loss, grads = f.value_and_grad(np.array(xs), write_grad=False)
    eager = [mx.grad(lambda v: (v * w).tanh() + (v * w).relu())(Value(x)) for x in xs]
    total = sum(eager) * (1.0 / 3.0)
    assert mx.gradients(total, [w])[0] == pytest.approx(grads[0], rel=1e-14)
    assert loss == pytest.approx(total.data, rel=1e-14)


def test_a_closure_grad_inside_jit_differentiates_through_the_outer_variable():
    got = jit(lambda x: x * mx.grad(lambda y: x * y * y)(2.0))(np.array([1.0, 3.0]))
    assert got.tolist() == [4.0, 36.0]  # x · 4x


def test_backward_inside_a_traced_function_is_refused_and_points_to_grad():
    def f(x):
        y = x * x
        y.backward()
        return y

    with pytest.raises(TracingError, match=r"mx\.grad\(f\)\(x\)"):
        jit(f)(X3)


# ------------------------------------------------------------------ Values made before the call (issue 20, 8)


def test_a_value_computed_before_the_call_is_read_as_a_parameter_not_recomputed():
    w = Value(1.0, label="w")
    h = w * 3
    f = jit(lambda x: h * x)
    w.data = 2.0  # h still holds 3, as eager h * x reads it
    assert f(np.array([1.0, 2.0])).tolist() == [3.0, 6.0] == [(h * x).data for x in (1.0, 2.0)]
    h.data = 5.0  # a parameter is read afresh at every call
    assert f(np.array([1.0])).tolist() == [5.0]


def test_a_constant_inside_a_value_made_before_the_call_is_not_a_parameter():
    w = Value(1.0, label="w")
    h = w * 3
    f = jit(lambda x: h * x)
    assert f.params(np.array([1.0])) == [h]  # not w, and not the 3 that h was made with


def test_a_lifted_constant_used_directly_is_a_constant_of_the_trace():
    from microgradx.engine import _lift

    c = _lift(2.5)
    f = jit(lambda x: c * x)
    assert f.params(np.array([1.0])) == [] and "c0=2.5" in str(f.trace(0.0))


def test_value_and_grad_passes_a_prebuilt_parameters_gradient_on_as_backward_would():
    w = Value(2.0, label="w")
    h = w * 3
    f = jit(lambda x: h * x + w * x)
    xs = [1.0, 2.0]
    f.value_and_grad(np.array(xs))
    jit_w, jit_h = w.grad, h.grad
    w.grad = h.grad = 0.0
    (sum(h * x + w * x for x in xs) * 0.5).backward()
    assert (jit_w, jit_h) == (w.grad, h.grad) == (6.0, 1.5)


# ------------------------------------------------------------------ dropout while tracing (issue 20, 9)


def test_jit_of_a_dropout_model_in_training_mode_is_refused_saying_to_call_eval():
    from microgradx.nn import MLP

    m = MLP(2, [4, 1], dropout=0.5, seed=0)
    X = np.zeros((3, 2))
    for f in (jit(m), jit(lambda x: m(x)), mx.compile_loss(m, lambda s, y: (s - y) ** 2)):
        with pytest.raises(TracingError, match=r"model\.eval\(\)"):
            f(X) if not f.__name__.startswith("compile_loss") else f(X, np.zeros(3))


def test_a_dropout_model_traced_in_eval_mode_is_retraced_and_refused_back_in_training_mode():
    from microgradx.nn import MLP

    m = MLP(2, [4, 1], dropout=0.5, seed=0)
    X = np.ones((3, 2))
    f = jit(m)
    m.eval()
    assert f(X).tolist() == [m(list(r)).data for r in X.tolist()]
    m.train()
    with pytest.raises(TracingError, match="dropout"):
        f(X)


# ------------------------------------------------------------------ complex and text arguments (issue 20, 21)


@pytest.mark.parametrize("arg", [np.array([1 + 2j, 3.0]), [1.0, 2j], [np.array([1.0]), np.array([1j])]],
                         ids=["array", "list", "columns"])
def test_jit_refuses_complex_numbers_as_eager_does(arg):
    with pytest.raises(TypeError, match="complex numbers"):
        jit(lambda x: x * 2)(arg)
    with pytest.raises(TypeError):
        Value(1 + 2j)


def test_jit_refuses_text_instead_of_converting_it():
    with pytest.raises(TypeError, match="text"):
        jit(lambda x: x * 2)(np.array(["1", "2"]))
