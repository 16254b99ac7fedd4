"""grad, value_and_grad, gradients, gradcheck."""

from __future__ import annotations

import math

import pytest

import microgradx as mx
from microgradx import GradcheckError, Value
from microgradx.modes import is_recording


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


# ------------------------------------------------------------------ grad inside no_grad (issue 20, 3)


def test_grad_inside_no_grad_records_its_own_function_and_gives_the_derivative():
    with mx.no_grad():
        assert mx.grad(lambda x: x * x)(3.0) == 6.0
        assert not is_recording()  # no_grad is still on for the caller


def test_value_and_grad_inside_no_grad_gives_the_value_and_the_derivative():
    with mx.no_grad():
        assert mx.value_and_grad(lambda x, y: x * y.sin(), argnums=(0, 1))(2.0, 0.0) == (0.0, (0.0, 2.0))


def test_gradcheck_inside_no_grad_passes_for_a_correct_function():
    with mx.no_grad():
        assert mx.gradcheck(lambda x: x * x.tanh(), 0.7).ok


def test_grad_of_grad_inside_no_grad_is_the_second_derivative():
    with mx.no_grad():
        assert mx.grad(mx.grad(lambda x: x ** 3))(2.0) == 12.0


# ------------------------------------------------------------------ nested grad through closures (issue 20, 4)
# Witnesses: autograd's test_enclosing_scope_ref(_2) and the perturbation-confusion example that JAX's and
# autograd's nested-differentiation tests guard (Siskind & Pearlmutter), worked out by hand.


def test_nested_grad_through_a_closure_over_the_outer_variable_is_autograds_enclosing_scope_ref():
    assert mx.grad(lambda x: x * mx.grad(lambda y: x * y)(2.0))(1.0) == 2.0  # d/dx x·x = 2x


def test_nested_grad_through_a_closure_with_the_operands_swapped_is_autograds_enclosing_scope_ref_2():
    assert mx.grad(lambda x: x * mx.grad(lambda y: y * x)(2.0))(3.0) == 6.0


def test_nested_grad_does_not_confuse_the_inner_and_outer_perturbations():
    assert mx.grad(lambda x: x * mx.grad(lambda y: x + y)(1.0))(1.0) == 1.0  # d/dx (x·1) = 1, not 2


def test_nested_grad_evaluated_at_the_outer_variable_differentiates_both_uses():
    assert mx.grad(lambda x: mx.grad(lambda y: x * y * y)(x))(3.0) == 12.0  # d/dx 2x² = 4x


def test_nested_grad_through_a_closure_with_a_transcendental_matches_the_hand_derivative():
    x = 0.5  # inner: d/dy sin(x·y) at y = 1 is x·cos(x); f = x²·cos(x); f' = 2x·cos(x) - x²·sin(x)
    got = mx.grad(lambda v: v * mx.grad(lambda y: (v * y).sin())(1.0))(x)
    assert got == pytest.approx(2 * x * math.cos(x) - x * x * math.sin(x), rel=1e-14)


def test_a_gradient_taken_inside_another_grad_is_a_value_graph():
    seen = []

    def outer(x):
        g = mx.grad(lambda y: x * y)(2.0)
        seen.append(g)
        return x * g

    mx.grad(outer)(1.5)
    assert isinstance(seen[0], Value) and seen[0].data == 1.5


def test_a_top_level_grad_with_a_closure_over_a_parameter_still_returns_a_float():
    w = Value(3.0)
    g = mx.grad(lambda x: w * x * x)(2.0)
    assert isinstance(g, float) and g == 12.0


# ------------------------------------------------------------------ gradcheck's arguments (issue 20, 18)


def test_gradcheck_takes_values_as_the_point_to_check_at():
    report = mx.gradcheck(lambda a, b: a * b + a.tanh(), Value(0.3), Value(-0.4))
    assert report.ok and [r.value for r in report.rows] == [0.3, -0.4]


@pytest.mark.parametrize("eps", [0, -1e-6, math.nan, math.inf])
def test_gradcheck_refuses_an_eps_that_is_not_a_positive_number(eps):
    with pytest.raises(ValueError, match="eps"):
        mx.gradcheck(lambda a: a * a, 0.3, eps=eps)


@pytest.mark.parametrize("name", ["atol", "rtol"])
@pytest.mark.parametrize("bad", [-1.0, math.nan])
def test_gradcheck_refuses_a_negative_or_nan_tolerance_naming_it(name, bad):
    with pytest.raises(ValueError, match=name):
        mx.gradcheck(lambda a: a * a, 0.3, **{name: bad})


def test_gradcheck_refuses_an_eps_too_small_to_move_the_input():
    with pytest.raises(ValueError, match="too small to move input a = 1e\\+20"):
        mx.gradcheck(lambda a: a * 2.0, 1e20, eps=1e-6)


def test_gradcheck_refuses_a_function_that_returns_a_number():
    with pytest.raises(TypeError, match="must return a Value, got float"):
        mx.gradcheck(lambda a: a.data * 2.0, 0.3)


# ------------------------------------------------------------------ a constant function (issue 20, 23)


def test_grad_of_a_function_returning_a_plain_number_explains_why_it_is_not_zero():
    # autograd and JAX return 0.0; a number may have been read from x.data, so 0 could be silently wrong.
    with pytest.raises(TypeError, match=r"x\.data.*x \* 0\.0 \+ c"):
        mx.grad(lambda x: x.data ** 2)(2.0)


def test_grad_of_a_constant_written_with_values_is_zero():
    assert mx.grad(lambda x: x * 0.0 + 1.0)(2.0) == 0.0


def test_backward_with_create_graph_inside_no_grad_still_builds_the_gradient_graph():
    x = Value(2.0)
    y = x * x * x
    with mx.no_grad():
        y.backward(create_graph=True)
        assert not is_recording()
    assert x.grad.data == 12.0 and mx.gradients(x.grad, [x]) == [12.0]  # d²(x³)/dx² = 6x


def test_gradcheck_of_a_function_that_takes_a_gradient_checks_the_second_derivative():
    report = mx.gradcheck(lambda x: mx.grad(lambda y: y.tanh() * y)(x), 0.3)
    t = math.tanh(0.3)  # d²/dx² x·tanh x = 2(1 - t²) - 2x·t(1 - t²)
    assert report.ok and report.rows[0].analytic == pytest.approx(2 * (1 - t * t) - 2 * 0.3 * t * (1 - t * t))
