"""grad, value_and_grad, gradients, gradcheck."""

from __future__ import annotations

import math

import pytest

import microgradx as mx
from microgradx import GradcheckError, Value


def test_grad_returns_the_derivative_as_a_float():
    g = mx.grad(lambda x: x.tanh())(0.5)
    assert isinstance(g, float) and g == pytest.approx(1 - math.tanh(0.5) ** 2)


def test_value_and_grad_returns_both():
    v, g = mx.value_and_grad(lambda x, y: x * y + y, argnums=(0, 1))(2.0, 3.0)
    assert v == 9.0 and g == (3.0, 3.0)


def test_grad_with_argnums_picks_the_argument():
    assert mx.grad(lambda x, y: x * y * y, argnums=1)(2.0, 3.0) == 12.0


def test_grad_of_a_function_not_returning_a_value_is_a_clear_error():
    with pytest.raises(TypeError, match="must return a single Value"):
        mx.grad(lambda x: 3.0)(1.0)


def test_grad_argnums_out_of_range_is_a_clear_error():
    with pytest.raises(IndexError, match="argnums 2"):
        mx.grad(lambda x: x, argnums=2)(1.0)


def test_gradients_leaves_leaf_grads_untouched():
    w = Value(3.0)
    w.grad = 0.25
    x = Value(2.0)
    (gx,) = mx.gradients(w * x, [x])
    assert gx == 3.0 and w.grad == 0.25 and x.grad == 0.0


def test_gradient_of_an_unused_input_is_zero():
    a, b = Value(1.0), Value(2.0)
    assert mx.gradients(a * 3, [a, b]) == [3.0, 0.0]


def test_gradcheck_returns_a_report_per_input():
    report = mx.gradcheck(lambda a, b: (a * b).exp() / b, 0.3, 1.7)
    assert report.ok and [r.name for r in report.rows] == ["a", "b"]
    row = report.rows[0]
    assert row.analytic == pytest.approx(row.numeric, rel=1e-6) and row.error < 1e-6
    assert "analytic" in str(report)


def test_gradcheck_raises_with_the_report_on_a_wrong_gradient():
    def wrong(x: Value) -> Value:
        out = x * x
        # Forge a node whose recorded op claims d/dx = x (the truth is 2x).
        forged = Value(out.data)
        forged._prev, forged._op = (x,), mx.OPS["sin"]  # sin's local derivative is cos(x), not 2x
        return forged

    with pytest.raises(GradcheckError) as info:
        mx.gradcheck(wrong, 1.2)
    assert not info.value.report.ok and "mismatch" in str(info.value)
