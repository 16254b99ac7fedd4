"""The op table: every row's forward and local derivative, on floats, numpy arrays and Values."""

from __future__ import annotations

import numpy as np
import pytest

from microgradx import OPS, Value, gradcheck, no_grad
from microgradx.ops import FLOAT, NUMPY, POW, VALUE
from tests.oracle import ORACLE


def bound(name):
    return ORACLE[name].op(name)


def test_the_oracle_has_one_entry_per_row_of_the_table():
    assert set(ORACLE) == set(OPS)


@pytest.mark.parametrize("name", sorted(OPS))
def test_float_forward_matches_the_math(name):
    assert bound(name).forward(FLOAT, *ORACLE[name].point) == pytest.approx(ORACLE[name].value, rel=1e-12)


@pytest.mark.parametrize("name", sorted(OPS))
def test_numpy_forward_and_local_agree_with_float_elementwise(name):
    op = bound(name)
    xs = [np.array([p, p * 0.5 if p > 0 else p * 1.5]) for p in ORACLE[name].point]
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
    x = ORACLE[name].point

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
    assert mask.tolist() == [False, True, False]  # 0 ** 0.5 = 0; only its derivative is infinite there
    assert POW.bind(-1.0).domain(np.array([0.0])).tolist() == [True]


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


@pytest.mark.parametrize("name", sorted(OPS))
def test_local_derivatives_equal_the_ones_worked_out_by_hand(name):
    case = ORACLE[name]
    op = bound(name)
    out = op.forward(FLOAT, *case.point)
    assert op.local(FLOAT, out, *case.point) == pytest.approx(case.derivatives, rel=1e-12)


@pytest.mark.parametrize("name", sorted(OPS))
def test_value_and_derivatives_agree_with_pytorch(name):
    torch = pytest.importorskip("torch")
    case = ORACLE[name]
    xs = [torch.tensor(p, dtype=torch.float64, requires_grad=True) for p in case.point]
    out = case.torch(*xs, case.param) if case.param is not None else case.torch(*xs)
    out.backward()
    assert out.item() == pytest.approx(case.value, rel=1e-12)
    assert [x.grad.item() for x in xs] == pytest.approx(case.derivatives, rel=1e-12)


def test_every_backend_offers_the_same_functions_and_they_agree():
    assert set(vars(FLOAT)) == set(vars(NUMPY)) == set(vars(VALUE))
    for x in (-1.5, -0.0, 0.0, 2.25):
        assert NUMPY.maximum(np.array([x]), 0.0)[0] == FLOAT.maximum(x, 0.0) == VALUE.maximum(Value(x), 0.0).data
        assert NUMPY.step(np.array([x]))[0] == FLOAT.step(x) == VALUE.step(Value(x))


@pytest.mark.parametrize("name", sorted(OPS))
def test_the_value_backend_gives_the_same_local_derivatives_as_graphs(name):
    case = ORACLE[name]
    op = bound(name)
    xs = [Value(p) for p in case.point]
    out = xs[0]._apply(op, xs[1] if len(xs) > 1 else None)
    locals_ = op.local(VALUE, out, *xs)
    assert [d.data if isinstance(d, Value) else d for d in locals_] == pytest.approx(case.derivatives, rel=1e-12)


def test_every_row_is_applied_by_its_value_method_and_every_op_method_has_its_row():
    x, y = Value(0.7), Value(1.3)
    for name, op in OPS.items():
        method = getattr(Value, op.method)
        case = ORACLE[name]
        if op.arity == 2:
            out = method(x, y)
        elif op.method == "__pow__":
            out = method(x, case.param)
        else:
            out = method(x, case.param) if op.has_param else method(x)
        assert out._op.name == name, f"Value.{op.method} applies {out._op.name}, not {name}"
    public = {n for n in dir(Value) if not n.startswith("_") and callable(getattr(Value, n))}
    made_by_rows = {op.method for op in OPS.values() if not op.method.startswith("_")}
    not_ops = {"apply", "backward", "item", "local_derivatives"}
    assert public - not_ops == made_by_rows


@pytest.mark.parametrize("name", sorted(OPS))
def test_declared_traits_hold_for_the_rows_forward_and_derivatives(name):
    op = bound(name)
    x, y = 1.7, -0.6
    if op.sum_like:
        assert op.forward(FLOAT, x, y) == x + y and tuple(op.local(FLOAT, x + y, x, y)) == (1.0, 1.0)
    if op.bilinear:
        assert op.forward(FLOAT, x, y) == x * y and tuple(op.local(FLOAT, x * y, x, y)) == (y, x)
    for kink in op.kinks:
        below, above = (op.local(FLOAT, op.forward(FLOAT, kink + s), kink + s)[0] for s in (-1e-6, 1e-6))
        assert below != above, f"{name} declares a kink at {kink}, but its derivative does not jump there"
    assert op.form in ("infix", "prefix", "postfix") and (op.form == "infix") == (op.arity == 2)


def test_the_engines_written_out_add_and_mul_agree_with_their_rows():
    for a, b in [(1.5, -2.25), (1e-300, 1e-10), (-3.0, 0.0)]:
        for op_name, fn in (("add", lambda u, v: u + v), ("mul", lambda u, v: u * v)):
            u, v = Value(a), Value(b)
            out = fn(u, v)
            assert out.data == OPS[op_name].forward(FLOAT, a, b) and out._op is OPS[op_name]
            out.backward()
            assert (u.grad, v.grad) == tuple(OPS[op_name].local(FLOAT, out.data, a, b))


def test_the_engines_written_out_relu_agrees_with_its_row():
    row = OPS["relu"]
    for a in (2.5, 1e-300, 0.0, -0.0, -1e-300, -3.0):
        u = Value(a)
        out = u.relu()
        assert out.data == row.forward(FLOAT, a) and out._op is row
        out.backward()
        assert (u.grad,) == tuple(row.local(FLOAT, out.data, a))
        with no_grad():  # the checked path the written-out one stands for
            assert u.relu().data == out.data


def test_the_default_parameter_comes_from_the_row():
    assert Value(-2.0).leaky_relu().data == pytest.approx(-2.0 * OPS["leaky_relu"].default)


def test_every_op_method_is_written_in_the_value_class_and_typed_to_return_a_value():
    import typing

    import microgradx.engine as engine

    for op in OPS.values():
        method = Value.__dict__.get(op.method)  # in the class body, not made by a loop at import
        assert method is not None, f"Value.{op.method} is not written in the class"
        hints = typing.get_type_hints(method, globalns=vars(engine))
        assert hints["return"] is Value, f"Value.{op.method} is not typed to return a Value"
        if not op.method.startswith("__"):
            assert method.__doc__ == op.doc, f"Value.{op.method}'s docstring is not its row's"
