"""The op table: every row's forward and local derivative, on floats, numpy arrays and Values."""

from __future__ import annotations

import math

import numpy as np
import pytest

from microgradx import OPS, Value, gradcheck
from microgradx.ops import FLOAT, NUMPY, POW

# One point inside the domain for every op, away from kinks.
POINTS = {
    "add": (1.3, -0.4), "sub": (1.3, -0.4), "mul": (1.3, -0.4), "div": (1.3, -0.4), "vpow": (1.3, -0.4),
    "neg": (0.7,), "pow": (1.3,), "exp": (0.7,), "log": (0.7,), "sqrt": (0.7,), "tanh": (0.7,),
    "sigmoid": (-0.7,), "relu": (0.7,), "leaky_relu": (-0.7,), "abs": (-0.7,), "sin": (0.7,), "cos": (0.7,),
}
EXPECTED = {
    "add": 0.9, "sub": 1.7, "mul": -0.52, "div": -3.25, "vpow": 1.3 ** -0.4, "neg": -0.7, "pow": 1.3 ** 2.5,
    "exp": math.exp(0.7), "log": math.log(0.7), "sqrt": math.sqrt(0.7), "tanh": math.tanh(0.7),
    "sigmoid": 1 / (1 + math.exp(0.7)), "relu": 0.7, "leaky_relu": -0.07, "abs": 0.7, "sin": math.sin(0.7),
    "cos": math.cos(0.7),
}


def bound(name):
    op = OPS[name]
    return op.bind(2.5 if name == "pow" else 0.1) if op.has_param else op


def test_every_op_has_a_point_and_an_expected_value():
    assert set(POINTS) == set(OPS) == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(OPS))
def test_float_forward_matches_the_math(name):
    assert bound(name).forward(FLOAT, *POINTS[name]) == pytest.approx(EXPECTED[name], rel=1e-12)


@pytest.mark.parametrize("name", sorted(OPS))
def test_numpy_forward_and_local_agree_with_float_elementwise(name):
    op = bound(name)
    xs = [np.array([p, p * 0.5 if p > 0 else p * 1.5]) for p in POINTS[name]]
    out = op.forward(NUMPY, *xs)
    local = op.local(NUMPY, out, *xs)
    for k in range(2):
        fx = [float(x[k]) for x in xs]
        assert out[k] == pytest.approx(op.forward(FLOAT, *fx), rel=1e-14)
        for d_np, d_f in zip(local, op.local(FLOAT, op.forward(FLOAT, *fx), *fx)):
            assert np.broadcast_to(d_np, (2,))[k] == pytest.approx(d_f, rel=1e-14)


@pytest.mark.parametrize("name", sorted(OPS))
def test_local_derivatives_match_finite_differences(name):
    op = bound(name)
    x = POINTS[name]

    def f(*vs: Value) -> Value:
        return vs[0]._apply(op, vs[1] if len(vs) > 1 else None)

    assert gradcheck(f, *x, rtol=1e-6).ok


@pytest.mark.parametrize("name", sorted(OPS))
def test_every_op_has_a_symbol_a_doc_and_a_local_formula_per_input(name):
    op = OPS[name]
    assert op.symbol and op.doc
    assert len(op.local_text) == op.arity


def test_domain_predicates_work_elementwise_on_arrays():
    mask = OPS["log"].domain(np.array([1.0, 0.0, -1.0]))
    assert mask.tolist() == [False, True, True]
    mask = POW.bind(0.5).domain(np.array([4.0, -4.0, 0.0]))
    assert mask.tolist() == [False, True, True]


def test_bound_ops_are_cached_and_display_their_parameter():
    assert POW.bind(2) is POW.bind(2.0)
    assert POW.bind(2).display == "**2"
    assert POW.bind(0.5).display == "**0.5"
    assert str(OPS["mul"]) == "*"


def test_op_concatenates_with_strings_like_micrograds_op_strings():
    op = (Value(1.0) + Value(2.0))._op
    assert "id" + op == "id+" and op + "!" == "+!" and f"{op}" == "+"


def test_describe_local_fills_in_operand_names():
    assert OPS["mul"].describe_local(0, {"x": "a", "y": "b", "out": "c"}) == "b"
    assert OPS["tanh"].describe_local(0, {"x": "n", "out": "o"}) == "1 - o²"
    assert POW.bind(3).describe_local(0, {"x": "a", "out": "c"}) == "3·a^2"


def test_sigmoid_is_stable_at_extremes():
    assert Value(-800.0).sigmoid().data == 0.0
    assert Value(800.0).sigmoid().data == 1.0


@pytest.mark.parametrize("x, d", [(2.0, 1.0), (-2.0, 0.0)])
def test_relu_derivative_is_a_step(x, d):
    v = Value(x)
    v.relu().backward()
    assert v.grad == d


def test_leaky_relu_slope_is_the_derivative_below_zero():
    v = Value(-2.0)
    out = v.leaky_relu(0.2)
    out.backward()
    assert out.data == pytest.approx(-0.4) and v.grad == pytest.approx(0.2)


def test_abs_has_zero_subgradient_at_zero():
    v = Value(0.0)
    v.abs().backward()
    assert v.grad == 0.0
