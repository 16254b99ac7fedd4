"""backward(create_graph=True) and nested grad: gradients that can be differentiated again."""

from __future__ import annotations

import math

import pytest

import microgradx as mx
from microgradx import OPS, Value
from tests.oracle import ORACLE


def test_create_graph_makes_every_leaf_gradient_a_value():
    x, y = Value(0.5), Value(2.0)
    out = (x * y).tanh() + x
    out.backward(create_graph=True)
    assert isinstance(x.grad, Value) and isinstance(y.grad, Value)
    t = math.tanh(1.0)
    assert x.grad.data == pytest.approx(2.0 * (1 - t * t) + 1.0)


def test_second_derivative_of_tanh_by_differentiating_the_gradient():
    x = Value(0.7)
    x.tanh().backward(create_graph=True)
    g = x.grad
    x.grad = 0.0
    g.backward()
    t = math.tanh(0.7)
    assert x.grad == pytest.approx(-2 * t * (1 - t * t), rel=1e-12)


def test_third_derivative_of_a_polynomial_with_nested_grad():
    f = lambda x: 2 * x ** 4 - 3 * x ** 3 + x  # noqa: E731
    d3 = mx.grad(mx.grad(mx.grad(f)))
    assert d3(1.5) == pytest.approx(48 * 1.5 - 18)


@pytest.mark.parametrize("name", sorted(n for n, op in OPS.items() if op.arity == 1))
def test_second_derivatives_of_unary_ops(name):
    case = ORACLE[name]
    d2 = mx.grad(mx.grad(lambda x: x.apply(case.op(name))))
    assert d2(case.point[0]) == pytest.approx(case.second, rel=1e-10, abs=1e-12)


def test_second_derivative_of_division_and_value_power():
    assert mx.grad(mx.grad(lambda x: 1 / x))(2.0) == pytest.approx(2 / 8)
    assert mx.grad(mx.grad(lambda x: x ** x))(1.5) == pytest.approx(
        1.5 ** 1.5 * ((math.log(1.5) + 1) ** 2 + 1 / 1.5))


def test_second_derivative_of_a_value_power_where_the_exponent_passes_zero():
    # f = (x + 1.5) ** tanh(x) at 0, where the exponent is exactly 0: f'' = 1/1.5 + ln(1.5)^2 + 1/1.5.
    # (PyTorch gives 0.831 here: its pow backward is where(y == 0, 0, y·x^(y-1)), a constant that
    # drops the first term. Finite differences side with the formula.)
    f = lambda x: (x + 1.5) ** x.tanh()  # noqa: E731
    want = 2 / 1.5 + math.log(1.5) ** 2
    assert mx.grad(mx.grad(f))(0.0) == pytest.approx(want, rel=1e-12)
    g = lambda x: (x + 1.5) ** math.tanh(x)  # noqa: E731
    h = 1e-4
    assert (g(h) - 2 * g(0.0) + g(-h)) / h ** 2 == pytest.approx(want, rel=1e-6)


def test_newton_step_on_a_one_dimensional_function():
    f = lambda x: (x - 3.0) ** 4 + x ** 2  # noqa: E731
    df, d2f = mx.grad(f), mx.grad(mx.grad(f))
    x = 0.0
    for _ in range(30):
        x = x - df(x) / d2f(x)
    assert df(x) == pytest.approx(0.0, abs=1e-9)


def test_mixed_partial_derivative():
    f = lambda x, y: x * x * y + (x * y).sin()  # noqa: E731
    dfdx = mx.grad(f, argnums=0)
    d2 = mx.grad(lambda x, y: dfdx(x, y), argnums=1)
    x, y = 0.3, 1.1
    assert d2(x, y) == pytest.approx(2 * x + math.cos(x * y) - x * y * math.sin(x * y))


def test_gradient_graph_can_be_walked_again_with_backward_twice():
    x = Value(2.0)
    (x ** 3).backward(create_graph=True)
    g = x.grad                      # 3x^2 as a graph
    assert g.data == pytest.approx(12.0)
    x.grad = 0.0
    g.backward()
    assert x.grad == pytest.approx(12.0)  # 6x


def test_create_graph_gives_values_even_where_no_gradient_flows():
    x = Value(-1.0)
    y = Value(2.0)
    out = x.relu() + y * 3   # nothing flows back through the dead relu
    out.backward(create_graph=True)
    assert isinstance(x.grad, Value) and x.grad.data == 0.0
    assert isinstance(y.grad, Value) and y.grad.data == 3.0
