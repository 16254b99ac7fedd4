"""The micrograd lecture and its exercises, typed the way a student types them, run on microgradx.

Written from the lecture's descriptions (karpathy's "Neural Networks: Zero to Hero", lecture 1) and
micrograd's public API: the manual backward pass node by node, ops students add themselves with a
``_backward`` closure, micrograd's constructor, attributes on Values, and ``math.sin`` refused.
"""

from __future__ import annotations

import math
import random
import sys

import pytest

import microgradx as mx
from microgradx.engine import Value
from microgradx.nn import MLP

# ------------------------------------------------------------------ the lecture's neuron, by hand


def lecture_neuron():
    """o = tanh(x1*w1 + x2*w2 + b) with the lecture's numbers (b chosen so that o = 0.7071)."""
    x1 = Value(2.0, label="x1")
    x2 = Value(0.0, label="x2")
    w1 = Value(-3.0, label="w1")
    w2 = Value(1.0, label="w2")
    b = Value(6.8813735870195432, label="b")
    x1w1 = x1 * w1; x1w1.label = "x1*w1"  # noqa: E702
    x2w2 = x2 * w2; x2w2.label = "x2*w2"  # noqa: E702
    x1w1x2w2 = x1w1 + x2w2; x1w1x2w2.label = "x1*w1 + x2*w2"  # noqa: E702
    n = x1w1x2w2 + b; n.label = "n"  # noqa: E702
    o = n.tanh(); o.label = "o"  # noqa: E702
    return locals()


def test_manual_backward_node_by_node_gives_the_lectures_gradients():
    v = lecture_neuron()
    v["o"].grad = 1.0
    v["o"]._backward()
    v["n"]._backward()
    v["b"]._backward()  # a leaf: nothing to pass on, as in micrograd
    v["x1w1x2w2"]._backward()
    v["x2w2"]._backward()
    v["x1w1"]._backward()
    grads = {k: v[k].grad for k in ("x1", "x2", "w1", "w2", "b", "n")}
    assert grads == pytest.approx({"x1": -1.5, "x2": 0.5, "w1": 1.0, "w2": 0.0, "b": 0.5, "n": 0.5})


def test_manual_backward_equals_backward():
    by_hand, auto = lecture_neuron(), lecture_neuron()
    by_hand["o"].grad = 1.0
    for name in ("o", "n", "x1w1x2w2", "x2w2", "x1w1"):
        by_hand[name]._backward()
    auto["o"].backward()
    for name in ("x1", "x2", "w1", "w2", "b", "n", "x1w1", "x2w2", "x1w1x2w2", "o"):
        assert by_hand[name].grad == pytest.approx(auto[name].grad, abs=1e-15), name


def test_backward_step_is_one_step_only():
    a, b = Value(2.0), Value(3.0)
    c = a * b
    d = c + 1.0
    d.grad = 1.0
    d._backward()
    assert c.grad == 1.0 and a.grad == 0.0 and b.grad == 0.0  # nothing below c moved yet
    c._backward()
    assert (a.grad, b.grad) == (3.0, 2.0)


def test_the_lectures_manual_chain_rule_with_grads_set_by_hand():
    a, b, c, f = Value(2.0, label="a"), Value(-3.0, label="b"), Value(10.0, label="c"), Value(-2.0, label="f")
    e = a * b
    d = e + c
    L = d * f
    L.grad = 1.0
    d.grad, f.grad = f.data * L.grad, d.data * L.grad  # the lecture fills these in by hand first
    e.grad = c.grad = d.grad
    a.grad, b.grad = b.data * e.grad, a.data * e.grad
    by_hand = [n.grad for n in (a, b, c, f)]
    for n in (a, b, c, f):
        n.grad = 0.0
    L.backward()
    assert [n.grad for n in (a, b, c, f)] == by_hand == [6.0, -4.0, -2.0, 4.0]


# ------------------------------------------------------------------ ops students add themselves


def student_sin(self):
    out = Value(math.sin(self.data), (self,), "sin")

    def _backward():
        self.grad += math.cos(self.data) * out.grad

    out._backward = _backward
    return out


def student_mul(self, other):
    other = other if isinstance(other, Value) else Value(other)
    out = Value(self.data * other.data, (self, other), "*")

    def _backward():
        self.grad += other.data * out.grad
        other.grad += self.data * out.grad

    out._backward = _backward
    return out


def test_micrograds_constructor_signature_and_defaults():
    a = Value(2.0)
    assert a.label == "" and a.grad == 0.0 and a._prev == () and not a._op
    b = Value(3.0, (), "", "b")  # positional label, as micrograd's Value(data, _children, _op, label)
    assert b.label == "b"
    c = Value(6.0, (a, b), "*", label="c")
    assert c._prev == (a, b) and c._op == "*" and c.label == "c"


def test_a_student_defined_op_takes_part_in_backward():
    x = Value(0.7, label="x")
    y = student_sin(x) * 3.0
    y.backward()
    expected = Value(0.7)
    (expected.sin() * 3.0).backward()
    assert x.grad == pytest.approx(expected.grad) == pytest.approx(3 * math.cos(0.7))
    assert y._prev[0]._op == "sin"


def test_student_ops_agree_with_the_table_and_finite_differences():
    report = mx.gradcheck(lambda a, b: student_mul(student_sin(a), b) + student_mul(a, a), 0.4, -1.3)
    assert report.ok
    a1, b1, a2, b2 = Value(0.4), Value(-1.3), Value(0.4), Value(-1.3)
    student_mul(student_sin(a1), b1).backward()
    (a2.sin() * b2).backward()
    assert (a1.grad, b1.grad) == pytest.approx((a2.grad, b2.grad), rel=1e-15)


def test_a_student_op_used_twice_gets_both_paths():
    x = Value(1.1)
    s = student_sin(x)
    (s + s).backward()
    assert x.grad == pytest.approx(2 * math.cos(1.1))


def test_a_student_op_inside_an_mlp_trains_as_the_table_op_does():
    def train(activation):
        random.seed(3)
        model = MLP(2, [4, 1])
        xs, ys = [[0.5, -1.0], [1.0, 0.2], [-0.3, 0.8]], [1.0, -1.0, 1.0]
        losses = []
        for _ in range(5):
            scores = [activation(model(x)) for x in xs]
            loss = sum((s - y) ** 2 for s, y in zip(scores, ys, strict=True))
            model.zero_grad()
            loss.backward()
            for p in model.parameters():
                p.data -= 0.05 * p.grad
            losses.append(loss.data)
        return losses

    mine, table = train(student_sin), train(lambda v: v.sin())
    assert mine == pytest.approx(table, rel=1e-12)
    assert mine[-1] < mine[0]


def test_a_node_with_inputs_but_no_backward_is_a_clear_error_and_changes_nothing():
    a = Value(2.0, label="a")
    a.grad = 5.0
    odd = Value(a.data ** 3, (a,), "cube")
    with pytest.raises(TypeError, match=r"'cube'.*no _backward.*out._backward = _backward"):
        (odd * 2.0).backward()
    assert a.grad == 5.0


def test_create_graph_through_a_student_op_is_refused_rather_than_wrong():
    x = Value(0.3)
    with pytest.raises(TypeError, match="user-defined op 'sin'.*v.sin()"):
        student_sin(x).backward(create_graph=True)


def test_more_than_two_inputs_is_a_clear_error():
    a = Value(1.0)
    with pytest.raises(ValueError, match="at most 2 inputs"):
        Value(3.0, (a, a, a), "+3")


# ------------------------------------------------------------------ attributes, numbers, math


def test_values_take_new_attributes_as_micrograd_rewrites_use_them():
    a, b = Value(1.0), Value(2.0)
    c = a * b
    setattr(c, "_vis_color", "red")  # noqa: B010  (as a micrograd rewrite colours nodes)
    p = Value(0.5)
    p.m, p.v = 0.0, 0.0  # AdamW state kept on the parameter
    c.backward()
    assert c._vis_color == "red" and (p.m, p.v) == (0.0, 0.0) and a.grad == 2.0


def test_bytes_per_interior_node_stay_small():
    import tracemalloc

    x = Value(1.0)
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    y = x
    for _ in range(20_000):
        y = y * 1.0000001  # an interior node (and a constant leaf) per step
    per_node = (tracemalloc.get_traced_memory()[0] - before) / 40_000
    tracemalloc.stop()
    assert per_node <= 150, per_node
    del y


def test_float_and_math_functions_refuse_a_value_with_what_to_do():
    v = Value(3.0)
    with pytest.raises(TypeError, match=r"v\.data.*v\.item\(\).*v\.sin\(\).*mx\.sin\(v\)"):
        float(v)
    with pytest.raises(TypeError, match="drop the gradient"):
        math.sin(v)
    assert v.item() == v.data == 3.0


def test_the_lecture_exercise_with_math_sin_is_refused_and_with_mx_sin_is_right():
    def f(a, b, c, sin):
        return -a ** 3 + sin(3 * b) - 1.0 / c + b ** 2.5 - a ** 0.5

    a, b, c = Value(2.0), Value(3.0), Value(4.0)
    with pytest.raises(TypeError):
        f(a, b, c, math.sin)
    f(a, b, c, mx.sin).backward()
    expected = [-3 * 2.0 ** 2 - 0.5 * 2.0 ** -0.5, 3 * math.cos(3 * 3.0) + 2.5 * 3.0 ** 1.5, 1 / 4.0 ** 2]
    assert [a.grad, b.grad, c.grad] == pytest.approx(expected, rel=1e-12)
    assert round(b.grad, 3) == 10.257  # the exercise's answer; math.sin gave 12.99 (sin(3b) a constant)


# ------------------------------------------------------------------ function forms


@pytest.mark.parametrize("name", sorted(mx.functional.FUNCTION_FORMS))
def test_function_forms_take_values_and_numbers(name):
    fn = getattr(mx, name)
    x = 0.6
    as_value = fn(Value(x))
    assert isinstance(as_value, Value) and as_value._op.name == mx.OPS[name].name
    as_float = fn(x)
    assert type(as_float) is float and as_float == as_value.data


def test_function_forms_raise_the_same_domain_errors_on_numbers():
    with pytest.raises(mx.DomainError, match="log needs x > 0"):
        mx.log(-1.0)
    with pytest.raises(mx.DomainError, match="log needs x > 0"):
        mx.log(Value(-1.0))
    with pytest.raises(mx.DomainError, match="overflows"):
        mx.exp(1000.0)


def test_function_forms_with_a_parameter_use_the_tables_default():
    assert mx.leaky_relu(-2.0) == pytest.approx(-2.0 * mx.OPS["leaky_relu"].default)
    assert mx.leaky_relu(-2.0, 0.1) == pytest.approx(-0.2)


def test_function_forms_nest_under_grad_of_grad():
    d2 = mx.grad(mx.grad(lambda t: mx.sin(t) * mx.exp(t)))
    t = 0.3
    assert d2(t) == pytest.approx(2 * math.cos(t) * math.exp(t), rel=1e-12)
    mixed = mx.grad(lambda x, y: mx.tanh(x * y), argnums=1)  # y differentiated, x passed as a float
    assert mixed(0.5, 2.0) == pytest.approx(0.5 * (1 - math.tanh(1.0) ** 2))


def test_the_functions_are_every_prefix_row_of_the_table():
    prefix = {op.method for op in mx.OPS.values() if op.form == "prefix" and not op.method.startswith("_")}
    assert set(mx.functional.FUNCTION_FORMS) == prefix
    assert {"sin", "cos", "exp", "log", "tanh", "sigmoid", "relu", "sqrt", "abs", "leaky_relu", "softplus"} <= prefix
    assert all(getattr(sys.modules["microgradx"], name) is fn for name, fn in mx.functional.FUNCTION_FORMS.items())
