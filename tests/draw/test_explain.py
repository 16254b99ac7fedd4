"""explain(): a gradient written out as the chain-rule sum over its paths."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microgradx.draw.explain import explain
from microgradx.draw.flow import Flow, fmt, terms
from microgradx.engine import Value
from microgradx.ops import FLOAT, OPS
from tests.graphs import chain_rule_example


def example() -> tuple[Value, Value, Value]:
    """L = c·d with c = a·b and d = a + e, after backward(): a is used on two paths."""
    a, b, _, L = chain_rule_example()
    L.backward()
    return a, b, L


def test_explain_writes_the_sum_over_paths_with_local_derivatives_and_upstreams():
    a, _, L = example()
    assert explain(a, L) == ("a.grad = 15.0 = 9.0 (c = a*b: ∂c/∂a = b = 3.0, upstream 3.0) "
                             "+ 6.0 (d = a+e: ∂d/∂a = 1.0, upstream 6.0)")


def test_explain_of_a_single_path():
    _, b, L = example()
    assert explain(b, L) == "b.grad = 6.0 (c = a*b: ∂c/∂b = a = 2.0, upstream 3.0)"  # one path: said once


def test_explain_of_the_output_itself():
    _, _, L = example()
    assert explain(L, L) == "L.grad = 1.0 (the output: ∂L/∂L = 1)"


def test_explain_names_unlabelled_nodes_by_their_position():
    x = Value(0.5, label="x")
    y = (x * 2.0).tanh()
    y.backward()
    text = explain(x, y)
    assert text.startswith("x.grad = ") and "= x*2" in text and "∂v" in text  # the constant 2.0 by its value


def test_explain_before_backward_says_to_call_it():
    a, b = Value(1.0, label="a"), Value(2.0, label="b")
    out = a * b
    out.label = "out"
    with pytest.raises(ValueError, match=r"call out\.backward\(\) first"):
        explain(a, out)


def test_explain_of_a_node_outside_the_graph_is_a_clear_error():
    _, _, L = example()
    with pytest.raises(ValueError, match="not part of the graph"):
        explain(Value(1.0), L)


def test_explain_notes_gradients_accumulated_by_earlier_backward_calls():
    a, _, L = example()
    L.backward()  # leaves accumulate: a.grad is now 30
    assert "accumulated by other backward() calls" in explain(a, L)


def test_composite_labels_are_parenthesised_in_formulas():
    x = Value(2.0, label="x")
    s = x + 1.0
    s.label = "x+1"
    y = s * s
    y.label = "y"
    y.backward()
    assert "∂y/∂(x+1) = (x+1) = 3.0" in explain(s, y)


# ---------------------------------------------------------------- correctness witnesses


def expression(ops: list[str], x0: float) -> tuple[Value, Value]:
    x = Value(x0, label="x")
    y = x
    for name in ops:
        y = {"tanh": lambda v: v.tanh(), "sin": lambda v: v.sin(), "sq": lambda v: v * v,
             "exp": lambda v: (v * 0.1).exp(), "mix": lambda v: v * x + x}[name](y)
    return x, y


@settings(max_examples=40, deadline=None)
@given(ops=st.lists(st.sampled_from(["tanh", "sin", "sq", "exp", "mix"]), min_size=1, max_size=6),
       x0=st.floats(-1.5, 1.5))
def test_terms_sum_to_the_gradient_backward_computes(ops, x0):
    x, y = expression(ops, x0)
    y.backward()
    flow = Flow.of(y)
    for node in flow.order[:-1]:
        total = math.fsum(t.contribution for t in terms(flow, node))
        assert total == pytest.approx(node.grad, rel=1e-12, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(ops=st.lists(st.sampled_from(["tanh", "sin", "sq", "exp", "mix"]), min_size=1, max_size=4),
       x0=st.floats(-1.5, 1.5))
def test_every_local_derivative_matches_finite_differences(ops, x0):
    _, y = expression(ops, x0)
    flow = Flow.of(y)
    h = 1e-6
    for parent in flow.order:
        for d in flow.out_of[parent]:
            xs = [c.data for c in parent._prev]
            up, down = list(xs), list(xs)
            up[d.position] += h
            down[d.position] -= h
            op = parent._op
            numeric = (op.forward(FLOAT, *up) - op.forward(FLOAT, *down)) / (2 * h)
            assert d.value == pytest.approx(numeric, rel=1e-5, abs=1e-6)


def test_local_derivative_formulas_come_from_the_op_table():
    _, _, L = example()
    flow = Flow.of(L)
    for parent in flow.order:
        for d in flow.out_of[parent]:
            names = {"out": flow.names[parent]}
            names.update(zip("xy", (flow.names[c] for c in parent._prev), strict=False))
            assert d.formula == OPS[parent._op.name].describe_local(d.position, names)


def test_explained_gradients_agree_with_torch():
    torch = pytest.importorskip("torch")
    a, b, L = example()
    ta = torch.tensor(2.0, dtype=torch.float64, requires_grad=True)
    tb = torch.tensor(3.0, dtype=torch.float64, requires_grad=True)
    (ta * tb * (ta + 1.0)).backward()
    assert explain(a, L).startswith(f"a.grad = {fmt(ta.grad.item())} = ")
    assert explain(b, L).startswith(f"b.grad = {fmt(tb.grad.item())} (")  # one path: its term alone


@pytest.mark.parametrize("x, text", [(6.0, "6.0"), (2 / 3, "0.6667"), (-0.0, "0.0"), (1.0000000000000002, "1.0"),
                                     (1e-7, "1e-07"), (123456789.0, "1.235e+08")])
def test_numbers_are_formatted_for_reading(x, text):
    assert fmt(x) == text


def test_explain_defaults_to_the_output_of_the_latest_backward():
    from microgradx import Value, explain

    a = Value(2.0, label="a")
    c = a * 3.0
    c.label = "c"
    c.backward()
    assert explain(a) == explain(a, c)
    assert explain(a).startswith("a.grad = 3.0 (c = a*3:")


def test_explain_before_any_backward_says_to_call_it():
    import pytest

    from microgradx import Value, explain
    from microgradx.modes import STATE

    saved = STATE.last_backward
    STATE.last_backward = None
    try:
        with pytest.raises(ValueError, match=r"call backward\(\)"):
            explain(Value(1.0))
    finally:
        STATE.last_backward = saved


def test_explain_computes_only_the_local_derivatives_of_the_nodes_users(monkeypatch):
    x = Value(0.1, label="x")
    y = x
    for _ in range(3000):
        y = y * 1.0001
    y.backward()
    calls = []
    local = Value.local_derivatives
    monkeypatch.setattr(Value, "local_derivatives", lambda node: calls.append(node) or local(node))
    text = explain(x, y)
    assert text.startswith("x.grad = ")
    assert len(calls) == 1  # x's one user, not the 3000 nodes of the graph


def test_explain_writes_constants_by_value_and_signs_as_operators():
    a = Value(2.0, label="a")
    b = a * -3.0 + a
    b.label = "b"
    b.backward()
    assert explain(a, b) == ("a.grad = -2.0 = 1.0 (b = v2+a: ∂b/∂a = 1.0, upstream 1.0) "
                             "− 3.0 (v2 = a*(-3): ∂v2/∂a = -3.0, upstream 1.0)")
