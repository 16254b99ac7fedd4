"""The compiled path never gives a silent wrong number: every bad input or overflow is a clear error.

Regression tests for the compiled-path defects of the red-team pass (issue 11).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import microgradx as mx
from microgradx import DomainError, TracingError, Value
from microgradx.compiled.jit import jit

# ------------------------------------------------------------------ a Python list is a batch


def test_a_python_list_of_numbers_is_a_batch_like_an_array():
    np.testing.assert_array_equal(mx.jit(lambda x: x * 2)([1.0, 2.0, 3.0]), [2.0, 4.0, 6.0])


def test_a_nested_list_is_a_2d_batch_like_an_array():
    f = jit(lambda a, b: a - b)
    np.testing.assert_array_equal(f([[5.0, 1.0], [2.0, 3.0]]), [4.0, -1.0])


def test_a_list_of_numpy_columns_is_still_a_list_argument():
    f = jit(lambda x: x[0] * x[1])
    np.testing.assert_array_equal(f([np.array([1.0, 2.0]), np.array([3.0, 4.0])]), [3.0, 8.0])


# ------------------------------------------------------------------ overflow inside the graph


def test_an_intermediate_overflow_raises_like_eager_and_writes_no_gradient():
    w = Value(0.5, label="w")
    fn = lambda x: (x.exp() * x.exp() * w).tanh()  # noqa: E731  exp(400)² overflows; tanh(inf) = 1
    with pytest.raises(DomainError):
        fn(Value(400.0))  # eager
    f = jit(fn)
    with pytest.raises(DomainError, match=r"mul overflowed: .* 1 of 2 samples \(first: sample 0\)") as err:
        f.value_and_grad(np.array([400.0, 0.1]))
    assert err.value.kind == "overflow" and err.value.op.name == "mul"
    assert w.grad == 0.0
    with pytest.raises(DomainError, match="mul overflowed"):
        f(np.array([400.0, 0.1]))  # the forward pass alone checks too
    assert f(np.array([0.1, 0.2])).shape == (2,)  # and finite batches still run


def test_an_overflow_in_the_uniform_stage_names_the_parameters():
    w = Value(400.0, label="w")
    f = jit(lambda x: x * (w.exp() * w.exp()).tanh())
    with pytest.raises(DomainError, match="mul overflowed: .*current parameter values"):
        f(np.array([1.0]))


def test_a_gradient_that_is_not_finite_names_the_op_and_leaves_every_grad_alone():
    w = Value(1.0, label="w")
    w.grad = 0.25
    fn = lambda x: (w * x).log()  # noqa: E731  log(1e-310) is finite; its derivative 1/x is not
    with pytest.raises(DomainError):
        fn(Value(1e-310)).backward()
    assert w.grad == 0.25
    f = jit(fn)
    with pytest.raises(DomainError, match=r"gradient through %1 = log %0 is not a finite number for 1 of 2 "
                                          r"samples \(first: sample 1\)") as err:
        f.value_and_grad(np.array([1.0, 1e-310]))
    assert err.value.kind == "gradient"
    assert w.grad == 0.25
    with pytest.raises(DomainError, match="gradient through"):
        f.value_grad_and_outputs(np.array([1.0, 1e-310]))


# ------------------------------------------------------------------ placeholders and the runtime domain checks


@pytest.mark.parametrize(("name", "fn", "expected"), [
    ("sqrt", lambda x: x.relu().sqrt(), lambda x: np.sqrt(x)),
    ("log", lambda x: x.relu().log(), lambda x: np.log(x)),
    ("div", lambda x: 1.0 / x.relu(), lambda x: 1.0 / x),
    ("vpow base", lambda x: x.relu() ** Value(-1.5), lambda x: x ** -1.5),  # 0 ** y is defined for y > 0
    ("negative fractional pow", lambda x: x.relu() ** -0.5, lambda x: 1.0 / np.sqrt(x)),
])
def test_tracing_never_trips_a_domain_check_and_the_compiled_program_checks_the_numbers(name, fn, expected):
    f = jit(fn)
    X = np.array([4.0, 9.0])
    np.testing.assert_allclose(f(X), expected(X), rtol=1e-15)  # traced on placeholders without complaint
    with pytest.raises(DomainError, match=r"is undefined for 1 of 2 samples \(first: sample 1\)"):
        f(np.array([4.0, -9.0]))  # relu gives 0: outside the domain, as eager says too
    with pytest.raises(DomainError):
        fn(Value(-9.0))


def test_a_domain_error_in_the_uniform_stage_names_the_parameter_values():
    w = Value(1.0, label="w")
    f = jit(lambda x: x * (w - 2.0).log())
    with pytest.raises(DomainError, match=r"log is undefined for the current parameter values .* -1\.0"):
        f(np.array([1.0, 2.0]))


# ------------------------------------------------------------------ bad batches and parameter vectors


def test_an_empty_batch_is_a_clear_error():
    f = jit(lambda x: x * 2)
    for empty in (np.array([]), []):
        with pytest.raises(ValueError, match="empty"):
            f(empty)
    with pytest.raises(ValueError, match="empty"):
        jit(lambda x: x[0] * x[1] * x[2]).value_and_grad(np.zeros((0, 3)))


def test_a_function_without_ops_compiles():
    np.testing.assert_array_equal(jit(lambda x: x)(np.array([1.0, 2.0])), [1.0, 2.0])


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_a_parameter_vector_that_is_not_finite_is_refused_naming_the_parameter(bad):
    w, b = Value(2.0, label="w"), Value(1.0, label="b")
    f = jit(lambda x: w * x + b)
    X = np.array([1.0, 2.0])
    vec = f.param_vector(X)
    k = f.params(X).index(b)
    vec[k] = bad
    for call in (lambda: f(X, params=vec), lambda: f.value_and_grad(X, params=vec, write_grad=False),
                 lambda: f.value_grad_and_outputs(X, params=vec)):
        with pytest.raises(ValueError, match=rf"parameter {k} \(b\) of .* is {bad}"):
            call()


def test_a_parameter_value_that_is_not_finite_is_refused_too():
    w = Value(2.0, label="w")
    f = jit(lambda x: (w * x).relu())
    f(np.array([1.0]))
    w.data = math.nan  # relu would turn it into a silent 0
    with pytest.raises(ValueError, match=r"parameter 0 \(w\) .* is nan"):
        f(np.array([1.0]))
    with pytest.raises(TracingError, match=r"holding nan \(w\).*a parameter whose data is nan"):
        jit(lambda x: (w * x).relu())(np.array([1.0]))  # nan already when traced


def test_an_input_that_is_not_finite_is_named_by_argument_row_and_column():
    f = jit(lambda x, y: (x * y).relu())  # relu would turn nan into a silent 0
    with pytest.raises(ValueError, match=r"argument 1 of jit\(<lambda>\) holds nan at row 2:"):
        f(np.array([1.0, 2.0, 3.0]), np.array([1.0, 2.0, math.nan]))
    g = jit(lambda x: x[0] + x[1])
    with pytest.raises(ValueError, match=r"argument 0 .* holds inf at row 1, column 1"):
        g(np.array([[1.0, 2.0], [3.0, math.inf]]))
    with pytest.raises(ValueError, match=r"argument 0 .* holds -inf at row 0, column 0"):
        g.value_and_grad([np.array([-math.inf, 1.0]), np.array([1.0, 2.0])])
    h = jit(lambda a, b: a * b)  # one 2-D array spread over two scalar arguments
    with pytest.raises(ValueError, match=r"argument 0 .* holds nan at row 0, column 1"):
        h(np.array([[1.0, math.nan]]))


# ------------------------------------------------------------------ what cannot be traced


def test_a_user_defined_op_cannot_be_traced_and_the_error_says_to_use_the_op_table():
    def my_sin(v):  # micrograd's way: a number and a closure
        out = Value(0.0, (v,), "sin")

        def _backward():
            v.grad += math.cos(v.data) * out.grad

        out._backward = _backward
        return out

    with pytest.raises(TracingError, match=r"op 'sin' was built micrograd's way.*op table's method"):
        jit(lambda x: my_sin(x) * 2)(np.array([1.0]))


def test_a_user_defined_op_computed_from_the_placeholder_says_the_same():
    def my_exp(v):
        out = Value(math.exp(v.data), (v,), "exp")
        out._backward = lambda: None
        return out

    with pytest.raises(TracingError, match=r"micrograd's way.*op table's methods"):
        jit(my_exp)(np.array([1.0]))


# ------------------------------------------------------------------ deep graphs


def test_a_deep_sequential_graph_compiles_and_matches_eager():
    w = Value(0.999, label="w")

    def f(x):
        for _ in range(3000):
            x = (x * w + 0.001).tanh()
        return x

    X = np.array([-0.5, 0.25, 1.0])
    outs, grads = [], []
    for v in X:
        w.grad = 0.0
        y = f(Value(v))
        y.backward()
        outs.append(y.data)
        grads.append(w.grad)
    g = jit(f)
    np.testing.assert_allclose(g(X), outs, rtol=1e-12)
    loss, (grad,) = g.value_and_grad(X, write_grad=False)
    np.testing.assert_allclose(loss, np.mean(outs), rtol=1e-12)
    np.testing.assert_allclose(grad, np.mean(grads), rtol=1e-10)


def test_errors_inside_a_deep_chain_name_the_step():
    w = Value(2.0, label="w")

    def f(x):
        for _ in range(60):
            x = x * w
        return (x - 1e10).log()  # log of a negative for small x; x·2^60 overflows for huge x

    g = jit(f)
    assert "run" in g.program(np.ones(2)).schedule()
    with pytest.raises(DomainError, match=r"log is undefined for 1 of 2 samples \(first: sample 0\)"):
        g(np.array([1e-9, 1.0]))
    with pytest.raises(DomainError, match=r"mul overflowed: .* 1 of 2 samples \(first: sample 1\)"):
        g(np.array([1.0, 1e300]))


def test_a_gradient_that_stops_being_finite_inside_a_deep_chain_names_the_op():
    w = Value(1.0, label="w")

    def f(x):
        x = (w * x).log()  # finite for x = 1e-310, but its derivative 1/x is not
        for _ in range(60):
            x = x * 0.5 + 1.0
        return x

    with pytest.raises(DomainError, match=r"gradient through %1 = log %0"):
        jit(f).value_and_grad(np.array([1.0, 1e-310]))
    assert w.grad == 0.0


# ------------------------------------------------------------------ found by the fuzzer


def test_a_uniform_matrix_product_runs_after_the_ops_that_make_its_factors():
    a = Value(1.0, label="a")
    w = [Value(0.0), Value(0.0), Value(0.0), Value(1.0)]

    def f(x):
        h = a.abs().abs()  # uniform, two levels deep: the dot Σ h·w_i must wait for it
        return sum(h * wi for wi in w) * x

    assert f(Value(2.0)).data == 2.0
    np.testing.assert_array_equal(jit(f)(np.array([2.0, 3.0])), [2.0, 3.0])


def test_no_gradient_flows_through_an_infinite_local_derivative_where_the_gradient_is_zero():
    w = Value(1.0, label="w")
    fn = lambda x: ((w * 1e-300 + x) ** -1.0).tanh()  # noqa: E731  tanh'(1e300) = 0 meets -1/y² = -inf
    fn(Value(0.0)).backward()
    assert w.grad == 0.0  # eager: nothing flows past the saturated tanh
    loss, grads = jit(fn).value_and_grad(np.array([0.0, 1.0]))
    expected = (1.0 - math.tanh(1.0 / (1e-300 + 1.0)) ** 2) * -(1.0 / (1e-300 + 1.0) ** 2) * 1e-300 / 2
    assert math.isfinite(grads[0]) and math.isclose(grads[0], expected, rel_tol=1e-12, abs_tol=1e-320)
    assert w.grad == grads[0]
