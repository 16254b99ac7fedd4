"""The compiled batch executor: same numbers as the eager engine, for a whole batch at once."""

from __future__ import annotations

import gc
import math
import random
import sys
import threading
import tracemalloc

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from microgradx import OPS, DomainError, Value
from microgradx.compiled.jit import jit
from tests.oracle import ORACLE, guarded

RTOL = 1e-12


def assert_close(actual, expected, scale=None):
    """Equal to 1e-12 relative; ``scale`` bounds the size of terms that may have cancelled."""
    actual, expected = np.asarray(actual, float), np.asarray(expected, float)
    scale = np.maximum(np.abs(expected), 1.0) if scale is None else scale
    assert np.all(np.abs(actual - expected) <= RTOL * scale), (actual, expected)


def eager(fn, params, columns, reduction="mean"):
    """Outputs per sample, the reduced loss (output 0) and ∂loss/∂params, with the eager engine."""
    for p in params:
        p.grad = 0.0
    outs, losses = [], []
    for row in zip(*columns, strict=True):
        out = fn(*[Value(float(v)) for v in row])
        out = list(out) if isinstance(out, (tuple, list)) else [out]
        outs.append([o.data for o in out])
        losses.append(out[0])
    total = sum(losses[1:], losses[0])
    loss = total * (1.0 / len(losses)) if reduction == "mean" else total
    loss.backward()
    return np.array(outs).T, loss.data, np.array([p.grad for p in params])


class MLP:
    """An MLP built from Values exactly as micrograd does: neuron = sum(w_i * x_i, b)."""

    def __init__(self, nin, nouts, seed=0):
        rng = random.Random(seed)
        sizes = [nin] + nouts
        self.layers = [[([Value(rng.uniform(-1, 1), label=f"layers.{i}.neurons.{j}.w.{k}") for k in range(sizes[i])],
                         Value(rng.uniform(-0.1, 0.1), label=f"layers.{i}.neurons.{j}.b"))
                        for j in range(sizes[i + 1])] for i in range(len(nouts))]

    def __call__(self, x):
        for i, layer in enumerate(self.layers):
            x = [sum((wi * xi for wi, xi in zip(w, x, strict=True)), b) for w, b in layer]
            if i < len(self.layers) - 1:
                x = [v.relu() for v in x]
        return x[0] if len(x) == 1 else x

    def parameters(self):
        return [p for layer in self.layers for w, b in layer for p in w + [b]]


# ------------------------------------------------------------------ basics


def test_a_compiled_function_returns_one_array_per_output_of_shape_batch():
    w = Value(1.5, label="w")
    f = jit(lambda x, y: (w * x - y, (x * y).sin()))
    xs, ys = np.array([1.0, 2.0, 3.0]), np.array([0.5, -1.0, 2.0])
    a, b = f(xs, ys)
    assert a.shape == b.shape == (3,)
    assert_close(a, 1.5 * xs - ys)
    assert_close(b, np.sin(xs * ys))


def test_outputs_and_gradients_equal_the_eager_engine_on_an_mlp():
    model = MLP(3, [8, 8, 1])
    X = np.random.default_rng(0).normal(size=(20, 3))
    f = jit(lambda x0, x1, x2: model([x0, x1, x2]))
    outs, loss, grads = eager(lambda *x: model(list(x)), model.parameters(), X.T)
    assert_close(f(X), outs[0])
    got_loss, got_grads = f.value_and_grad(X, write_grad=False)
    order = [f.params(X).index(p) for p in model.parameters()]
    assert_close(got_loss, loss)
    assert_close(got_grads[order], grads)


def test_an_mlp_taking_a_list_accepts_one_2d_array_and_matches_eager_with_a_sum_reduction():
    model = MLP(2, [6, 3])
    X = np.random.default_rng(1).normal(size=(15, 2))
    f = jit(lambda x: model(x)[1])
    outs, loss, grads = eager(lambda a, b: model([a, b])[1], model.parameters(), X.T, reduction="sum")
    assert_close(f(X), outs[0])
    got_loss, got_grads = f.value_and_grad(X, reduction="sum", write_grad=False)
    order = [f.params(X).index(p) for p in model.parameters() if p in f.params(X)]
    assert_close(got_loss, loss)
    used = [p for p in model.parameters() if p in f.params(X)]
    assert_close(got_grads[order], [g for p, g in zip(model.parameters(), grads, strict=True) if p in used])


def test_a_penalty_that_does_not_depend_on_the_inputs_counts_once_with_the_mean():
    w = Value(2.0, label="w")
    f = jit(lambda x: w * x + 0.5 * w * w)
    X = np.array([1.0, 2.0, 3.0, 4.0])
    loss, grads = f.value_and_grad(X, write_grad=False)
    assert_close(loss, 2.0 * X.mean() + 0.5 * 4.0)
    assert_close(grads, [X.mean() + 2.0])
    loss, grads = f.value_and_grad(X, reduction="sum", write_grad=False)
    assert_close(loss, 2.0 * X.sum() + 4 * 0.5 * 4.0)


def test_value_and_grad_adds_into_each_parameters_grad_like_backward():
    w = Value(3.0, label="w")
    w.grad = 1.0
    f = jit(lambda x: w * x * x)
    loss, grads = f.value_and_grad(np.array([1.0, 3.0]))
    assert_close(loss, 3.0 * 5.0)
    assert_close(w.grad, 1.0 + 5.0)
    f.value_and_grad(np.array([1.0, 3.0]), write_grad=False)
    assert_close(w.grad, 6.0)


def test_parameters_are_read_at_every_call_without_retracing():
    calls = []
    w = Value(1.0, label="w")

    def f(x):
        calls.append(1)
        return w * x

    g = jit(f)
    assert_close(g(np.array([2.0])), [2.0])
    w.data = 5.0
    assert_close(g(np.array([2.0])), [10.0])
    assert len(calls) == 1


def test_value_and_grad_picks_the_requested_output():
    w = Value(2.0, label="w")
    f = jit(lambda x: (w * x, w * w * x))
    loss, grads = f.value_and_grad(np.array([1.0, 2.0]), output=1, write_grad=False)
    assert_close(loss, 4.0 * 1.5)
    assert_close(grads, [2 * 2.0 * 1.5])
    with pytest.raises(IndexError, match="out of range"):
        f.value_and_grad(np.array([1.0]), output=2)


def test_an_unknown_reduction_is_rejected():
    f = jit(lambda x: x * Value(1.0))
    with pytest.raises(ValueError, match="'mean' or 'sum'"):
        f.value_and_grad(np.array([1.0]), reduction="max")


def test_an_output_that_depends_on_no_input_is_broadcast_over_the_batch():
    w = Value(3.0, label="w")
    f = jit(lambda x: (w * w, x))
    a, b = f(np.array([1.0, 2.0]))
    assert_close(a, [9.0, 9.0])
    loss, grads = f.value_and_grad(np.array([1.0, 2.0]), write_grad=False)
    assert_close(loss, 9.0)
    assert_close(grads, [6.0])


def test_nodes_used_several_times_accumulate_their_gradient():
    w = Value(0.7, label="w")

    def f(x):
        h = w * x
        return h * h + h.tanh() + w * x * w

    X = np.array([0.3, -1.2, 2.0])
    outs, loss, grads = eager(f, [w], [X])
    got_loss, got_grads = jit(f).value_and_grad(X, write_grad=False)
    assert_close(got_loss, loss)
    assert_close(got_grads, grads)


def test_shared_weights_and_repeated_inputs_in_a_matrix_product_accumulate():
    a, b = Value(0.4, label="a"), Value(-1.1, label="b")

    def f(x, y):  # both sums read x twice and share weight a
        return (a * x + b * x + a * y).relu() + (a * x + a * x + b * y).tanh()

    X = np.random.default_rng(2).normal(size=(2, 9))
    outs, loss, grads = eager(f, [a, b], X)
    got_loss, got_grads = jit(f).value_and_grad(*X, write_grad=False)
    order = [jit(f).params(*X).index(p) for p in (a, b)]
    assert_close(got_loss, loss)
    assert_close(got_grads[order], grads)


# ------------------------------------------------------------------ every op of the table


def _use(op_name, x, y, w):
    """An expression with op ``op_name`` whose operands stay inside its domain (the oracle's guards)."""
    case = ORACLE[op_name]
    operands = guarded(op_name, [w * x, y][: OPS[op_name].arity])
    return operands[0].apply(case.op(op_name), *operands[1:])


@pytest.mark.parametrize("op_name", sorted(OPS))
def test_every_op_of_the_table_compiles_to_the_eager_values_and_gradients(op_name):
    w = Value(0.8, label="w")
    fn = lambda x, y: _use(op_name, x, y, w) * y  # noqa: E731
    f = jit(fn)
    assert op_name in {f.trace(np.zeros((2, 2))).nodes[i].op.name
                       for i in range(len(f.trace(np.zeros((2, 2))).nodes))
                       if f.trace(np.zeros((2, 2))).nodes[i].op is not None}
    X = np.random.default_rng(3).uniform(-1.5, 1.5, size=(2, 12))
    outs, loss, grads = eager(fn, [w], X)
    assert_close(f(*X), outs[0])
    got_loss, got_grads = f.value_and_grad(*X, write_grad=False)
    assert_close(got_loss, loss)
    assert_close(got_grads, grads)


# ------------------------------------------------------------------ random graphs (hypothesis)

UNARY = sorted(name for name, op in OPS.items() if op.arity == 1)
BINARY = sorted(name for name, op in OPS.items() if op.arity == 2)


def _apply(name, a, b, p):
    """op ``name`` on a (and b), with operands guarded into the op's domain by other ops."""
    squash = lambda v: v.tanh() * 2.0  # noqa: E731  (bounded: keeps exp and powers finite)
    safe = lambda v: squash(v) * squash(v) + 0.5  # noqa: E731  (> 0, bounded)
    operands = [a, b][: OPS[name].arity]
    operands = [safe(v) if g == "positive" else squash(v) if g == "bounded" else v
                for v, g in zip(operands, ORACLE[name].guard, strict=True)]
    op = OPS[name].bind(p if name == "pow" else ORACLE[name].param) if OPS[name].has_param else OPS[name]
    return operands[0].apply(op, *operands[1:])


programs = st.lists(
    st.tuples(st.sampled_from(UNARY + BINARY), st.integers(0, 1000), st.integers(0, 1000),
              st.sampled_from([2.0, 3.0, 0.5, -1.0, 1.5])),
    min_size=1, max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(program=programs, seed=st.integers(0, 2**16))
def test_random_graphs_from_the_whole_op_table_match_the_eager_engine(program, seed):
    params = [Value(0.9, label="p0"), Value(-0.6, label="p1")]

    def fn(x, y):
        pool = [x, y] + params
        for name, i, j, p in program:
            pool.append(_apply(name, pool[i % len(pool)], pool[j % len(pool)], p))
        return pool[-1] + params[0] * pool[-2], pool[-1] * x

    X = np.random.default_rng(seed).uniform(-2, 2, size=(2, 6))
    outs, loss, grads = eager(fn, params, X)
    f = jit(fn)
    got = f(*X)
    scale = np.max(np.abs(outs), axis=1, keepdims=True) + 1.0
    assert_close(np.array(got), outs, scale=scale)
    got_loss, got_grads = f.value_and_grad(*X, write_grad=False)
    traced = f.params(*X)
    expected = [g for p, g in zip(params, grads, strict=True) if any(p is q for q in traced)]
    order = [next(k for k, q in enumerate(traced) if q is p) for p in params if any(p is q for q in traced)]
    assert_close(got_loss, loss, scale=scale[0, 0])
    assert_close(got_grads[order], expected, scale=np.max(np.abs(grads)) + 1.0)


# ------------------------------------------------------------------ independent witnesses


def test_compiled_gradients_agree_with_finite_differences():
    model = MLP(2, [5, 1], seed=4)
    X = np.random.default_rng(4).normal(size=(10, 2))
    f = jit(lambda x: (model(x) - 0.3).tanh() ** 2)
    _, grads = f.value_and_grad(X, write_grad=False)
    h = 1e-6
    for k, p in enumerate(f.params(X)):
        old = p.data
        p.data = old + h
        up = f(X).mean()
        p.data = old - h
        down = f(X).mean()
        p.data = old
        assert math.isclose(grads[k], (up - down) / (2 * h), rel_tol=1e-5, abs_tol=1e-8)


def test_compiled_batch_gradient_agrees_with_pytorch():
    torch = pytest.importorskip("torch")
    model = MLP(2, [4, 1], seed=5)
    X = np.random.default_rng(5).normal(size=(12, 2))
    y = np.sign(np.random.default_rng(6).normal(size=12))
    f = jit(lambda x, t: (1 - t * model(x)).relu())
    loss, grads = f.value_and_grad(X, y, write_grad=False)

    (w1, b1), (w2, b2) = [(torch.tensor([[p.data for p in w] for w, _ in layer], dtype=torch.float64,
                                        requires_grad=True),
                           torch.tensor([b.data for _, b in layer], dtype=torch.float64, requires_grad=True))
                          for layer in model.layers]
    h = torch.relu(torch.tensor(X) @ w1.T + b1)
    out = (torch.relu(1 - torch.tensor(y) * (h @ w2.T + b2)[:, 0])).mean()
    out.backward()
    assert_close(loss, out.item())
    by_param = dict(zip(map(id, f.params(X, y)), grads, strict=True))
    for layer, (tw, tb) in zip(model.layers, [(w1, b1), (w2, b2)], strict=True):
        for j, (w, b) in enumerate(layer):
            assert_close([by_param[id(p)] for p in w], tw.grad[j].numpy())
            assert_close(by_param[id(b)], tb.grad[j].item())


# ------------------------------------------------------------------ errors and schedule


def test_a_domain_error_names_the_op_and_how_many_samples_failed():
    f = jit(lambda x: (x - 1.0).log())
    with pytest.raises(DomainError, match=r"log is undefined for 2 of 4 samples \(first: sample 1\)"):
        f(np.array([2.0, 0.5, 3.0, 1.0]))


def test_an_overflowing_output_is_a_domain_error():
    f = jit(lambda x: (x * x).exp() * 1e300)
    with pytest.raises(DomainError, match="not finite for 1 of 2 samples"):
        f(np.array([0.0, 20.0]))


def test_inputs_of_different_lengths_are_rejected():
    f = jit(lambda x, y: x * y)
    with pytest.raises(ValueError, match="same shape"):
        f(np.ones(3), np.ones(4))


def test_the_number_of_vectorised_steps_does_not_grow_with_the_width_of_an_mlp():
    narrow, wide = MLP(2, [4, 4, 1]), MLP(2, [32, 32, 1])
    n_narrow = jit(lambda x: narrow(x).relu()).program(np.zeros((1, 2))).n_groups
    n_wide = jit(lambda x: wide(x).relu()).program(np.zeros((1, 2))).n_groups
    assert n_narrow == n_wide


def test_a_long_sum_becomes_one_step():
    f = jit(lambda x: sum((x * k for k in range(1, 200)), x))
    prog = f.program(np.zeros(1))
    assert prog.n_groups <= 2
    assert_close(f(np.array([1.0, 2.0])), [sum(range(1, 200)) + 1.0, 2 * (sum(range(1, 200)) + 1.0)])


def test_the_schedule_lists_one_line_per_group():
    model = MLP(2, [3, 1])
    prog = jit(lambda x: model(x)).program(np.zeros((1, 2)))
    text = prog.schedule()
    assert text.count("\n") == prog.n_groups
    assert "dot" in text and "relu" in text


def test_compile_loss_gives_a_training_step_that_optimizers_can_follow():
    from microgradx.compiled.jit import compile_loss

    model = MLP(2, [4, 1], seed=7)
    X = np.random.default_rng(7).normal(size=(16, 2))
    y = np.sign(X[:, 0] * X[:, 1])
    step = compile_loss(model, lambda score, t: (1 - t * score).relu())
    params = model.parameters()
    losses = []
    for _ in range(30):
        for p in params:
            p.grad = 0.0
        loss, _ = step.value_and_grad(X, y)
        for p in params:
            p.data -= 0.1 * p.grad
        losses.append(loss)
    outs, eager_loss, _ = eager(lambda a, b, t: (1 - t * model([a, b])).relu(), params, [X[:, 0], X[:, 1], y])
    assert_close(step(X, y).mean(), eager_loss)
    assert losses[-1] < losses[0]


def test_a_parameter_vector_can_stand_in_for_the_values_and_be_written_back():
    w, b = Value(2.0, label="w"), Value(1.0, label="b")
    f = jit(lambda x: w * x + b)
    X = np.array([1.0, 2.0])
    vec = f.param_vector(X)
    order = [f.params(X).index(p) for p in (w, b)]
    vec[order] = [3.0, -1.0]
    assert_close(f(X, params=vec), [2.0, 5.0])
    loss, grads = f.value_and_grad(X, params=vec, write_grad=False)
    assert_close(loss, 3.5)
    assert (w.data, b.data) == (2.0, 1.0)
    f.set_params(vec, X)
    assert (w.data, b.data) == (3.0, -1.0)
    with pytest.raises(ValueError, match=r"shape \(2,\)"):
        f(X, params=np.zeros(3))


def test_value_and_grad_reports_a_loss_that_overflowed():
    f = jit(lambda x: (x * x).exp() * 1e300)
    with pytest.raises(DomainError, match="not finite for 1 of 2 samples"):
        f.value_and_grad(np.array([0.0, 20.0]), write_grad=False)


def test_sums_of_weighted_rows_become_a_matrix_product_with_correct_gradients_for_repeated_rows():
    a, b, c = Value(0.4, label="a"), Value(-1.1, label="b"), Value(0.3, label="c")

    def f(x, y):
        h, k = (c * x).tanh(), (c * y).sin()   # per-sample rows that need gradients
        u = a * h + b * h + a * k              # h appears twice; weight a is shared
        v = b * h + a * h + c * k
        return u.relu() + v.tanh() * u

    X = np.random.default_rng(8).normal(size=(2, 11))
    prog = jit(f).program(*X)
    assert "dot" in prog.schedule()
    outs, loss, grads = eager(f, [a, b, c], X)
    got_loss, got_grads = jit(f).value_and_grad(*X, write_grad=False)
    order = [prog.params.index(p) for p in (a, b, c)]
    assert_close(got_loss, loss)
    assert_close(got_grads[order], grads)


# ------------------------------------------------------------------ one forward for a training step


def test_value_grad_and_outputs_gives_loss_gradients_and_every_output_from_one_forward(monkeypatch):
    model = MLP(2, [5, 1], seed=9)
    X = np.random.default_rng(9).normal(size=(13, 2))
    y = np.sign(np.random.default_rng(10).normal(size=13))
    f = jit(lambda x, t: ((1 - t * model(x)).relu(), model(x)))
    prog = f.program(X, y)
    forwards = []
    real = prog._forward
    monkeypatch.setattr(prog, "_forward", lambda *a, **k: forwards.append(1) or real(*a, **k))
    loss, grads, (per_sample, scores) = f.value_grad_and_outputs(X, y)
    assert len(forwards) == 1
    assert all(p.grad == 0.0 for p in model.parameters())  # nothing written into .grad
    outs, eager_loss, eager_grads = eager(lambda a, b, t: ((1 - t * model([a, b])).relu(), model([a, b])),
                                          model.parameters(), [X[:, 0], X[:, 1], y])
    order = [f.params(X, y).index(p) for p in model.parameters()]
    assert_close(loss, eager_loss)
    assert_close(grads[order], eager_grads)
    assert_close(per_sample, outs[0])
    assert_close(scores, outs[1])


def test_value_grad_and_outputs_reads_a_parameter_vector_instead_of_the_values():
    w = Value(2.0, label="w")
    f = jit(lambda x: (w * x, x * 3))
    X = np.array([1.0, -2.0])
    loss, grads, (wx, x3) = f.value_grad_and_outputs(X, params=np.array([0.5]), reduction="sum")
    assert_close(loss, 0.5 * X.sum())
    assert_close(grads, [X.sum()])
    assert_close(wx, 0.5 * X)
    assert_close(x3, 3 * X)
    assert w.data == 2.0


def test_param_vector_is_a_copy_and_set_params_refuses_a_vector_that_is_not_finite():
    w, b = Value(2.0, label="w"), Value(1.0, label="b")
    f = jit(lambda x: w * x + b)
    vec = f.param_vector(np.zeros(1))
    vec[:] = 7.0
    assert (w.data, b.data) == (2.0, 1.0)
    bad = np.array([1.0, np.nan])
    with pytest.raises(ValueError, match=r"parameter 1 \(\w\) .* is nan"):
        f.set_params(bad, np.zeros(1))
    assert (w.data, b.data) == (2.0, 1.0)


# ------------------------------------------------------------------ buffers kept between calls


def _penalised_hinge(model):
    """One sample's (hinge + penalty, hinge, score): the loss row feeds the total, as fit traces it."""
    params = model.parameters()

    def per_sample(x0, x1, t):
        score = model([x0, x1])
        loss = (1 - t * score).relu()
        return loss + 1e-2 * sum(p * p for p in params), loss, score

    return per_sample


@pytest.mark.parametrize("order", ["C", "F"])
def test_calls_that_change_batch_size_output_and_reduction_each_match_eager(order):
    model = MLP(2, [4, 4, 1], seed=3)
    fn = _penalised_hinge(model)
    f = jit(lambda x, t: fn(x[0], x[1], t))
    rng = np.random.default_rng(4)
    # more batch sizes than the program keeps buffers for, revisited, with the loss at either output
    for batch, output, reduction in [(7, 0, "mean"), (5, 1, "mean"), (3, 0, "sum"), (7, 1, "sum"), (9, 0, "mean"),
                                     (5, 0, "mean"), (7, 0, "mean")]:
        X = np.asarray(rng.normal(size=(batch, 2)), order=order)
        y = np.sign(rng.normal(size=batch))
        loss, grads, outs = f.value_grad_and_outputs(X, y, output=output, reduction=reduction)

        def loss_first(*row, output=output):  # eager() reduces its function's first output
            outs = fn(*row)
            return (outs[output], *outs)

        eager_outs, eager_loss, eager_grads = eager(loss_first, model.parameters(), [X[:, 0], X[:, 1], y], reduction)
        order_ = [f.params(X, y).index(p) for p in model.parameters()]
        assert_close(loss, eager_loss)
        assert_close(grads[order_], eager_grads)
        for got, expected in zip(outs, eager_outs[1:], strict=True):
            assert_close(got, expected)


def test_returned_gradients_and_outputs_are_not_overwritten_by_the_next_call():
    model = MLP(2, [3, 1], seed=5)
    f = jit(lambda x: model(x).tanh())
    rng = np.random.default_rng(6)
    X1, X2 = rng.normal(size=(4, 2)), rng.normal(size=(4, 2))
    loss1, grads1, out1 = f.value_grad_and_outputs(X1)
    kept = grads1.copy(), out1.copy()
    f.value_grad_and_outputs(X2)
    f.value_and_grad(X2, write_grad=False)
    np.testing.assert_array_equal(grads1, kept[0])
    np.testing.assert_array_equal(out1, kept[1])
    assert_close(f.value_grad_and_outputs(X1)[1], grads1)  # and the same batch again gives the same numbers


# ------------------------------------------------------------------ threads, and buffers released (issue 20: 5, 17)


def _in_threads(work, n):
    """Run ``work(k)`` for k < n in n threads started together; re-raise the first failure."""
    failures = []
    start = threading.Barrier(n)

    def body(k):
        try:
            start.wait()
            work(k)
        except BaseException as e:  # noqa: BLE001 -- handed to the main thread
            failures.append(e)

    before = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, so that their calls interleave
    try:
        threads = [threading.Thread(target=body, args=(k,)) for k in range(n)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(before)
    if failures:
        raise failures[0]


@pytest.mark.parametrize("traced_first", [True, False])
def test_threads_predicting_with_one_compiled_model_each_get_their_own_scores(traced_first):
    from microgradx import MLP as NNMLP
    from microgradx.nn.evaluate import predict

    model = NNMLP(2, [16, 16, 1], seed=0)
    rng = np.random.default_rng(1)
    batches = [rng.normal(size=(256, 2)) * (k + 1) for k in range(4)]  # one batch size: one set of buffers before
    if traced_first:
        predict(model, batches[0], compiled=True)

    def work(k):
        want = predict(model, batches[k])  # eager, in this thread
        for _ in range(100):
            assert_close(predict(model, batches[k], compiled=True), want)

    _in_threads(work, len(batches))


def test_threads_calling_one_program_with_their_own_parameter_vectors_get_their_own_losses_and_gradients():
    model = MLP(2, [5, 1], seed=2)
    f = jit(lambda x, t: (1 - t * model(x)).relu())
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(32, 2)), np.sign(rng.normal(size=32))
    vectors = [f.param_vector(X, y) * (1 + k) for k in range(4)]
    want = [f.value_and_grad(X, y, params=v, write_grad=False) for v in vectors]

    def work(k):
        for _ in range(100):
            loss, grads = f.value_and_grad(X, y, params=vectors[k], write_grad=False)
            assert_close(loss, want[k][0])
            assert_close(grads, want[k][1])

    _in_threads(work, len(vectors))


def test_a_large_compiled_prediction_releases_its_buffers_when_it_returns():
    from microgradx import MLP as NNMLP
    from microgradx.nn.evaluate import predict

    model = NNMLP(2, [16, 16, 1], seed=0)
    large = np.random.default_rng(0).normal(size=(150_000, 2))  # ~80 MB of buffers while it runs
    want = predict(model, large[:5])
    predict(model, large[:50], compiled=True)  # traced, and a small batch's buffers kept
    gc.collect()
    tracemalloc.start()
    try:
        before = tracemalloc.get_traced_memory()[0]
        scores = predict(model, large, compiled=True)
        got = scores[:5].copy()
        del scores
        gc.collect()
        retained = tracemalloc.get_traced_memory()[0] - before
    finally:
        tracemalloc.stop()
    assert retained < 2**20, f"{retained / 2**20:.0f} MB still held after a 150,000-row prediction returned"
    assert_close(got, want)


def test_a_call_paused_after_its_forward_pass_still_returns_its_own_outputs_when_another_thread_calls():
    w = Value(2.0, label="w")
    f = jit(lambda x: w * x)
    X1, X2 = np.arange(5.0), -np.arange(5.0) - 1.0  # one batch size: the same kept buffers, were they shared
    prog = f.program(X1)
    real = prog._results
    paused, resume = threading.Event(), threading.Event()

    def results_after_a_pause(*args):
        if threading.current_thread() is not threading.main_thread():
            paused.set()
            resume.wait(10)
        return real(*args)

    prog._results = results_after_a_pause
    got = []
    t = threading.Thread(target=lambda: got.append(f(X1)))
    t.start()
    try:
        assert paused.wait(10)
        assert_close(f(X2), 2.0 * X2)  # this thread's call runs to the end while the other is paused
    finally:
        resume.set()
        t.join()
    assert_close(got[0], 2.0 * X1)


def test_a_small_batch_keeps_its_buffers_for_the_next_call_and_a_large_one_does_not(monkeypatch):
    from microgradx.compiled import buffers

    monkeypatch.setattr(buffers, "KEEP_BYTES", 2**20)
    model = MLP(2, [4, 1], seed=1)
    f = jit(lambda x: model(x).tanh())
    X = np.random.default_rng(2).normal(size=(100, 2))
    first = f(X)
    prog = f.program(X)
    kept = prog.buffers.retained_bytes()
    assert 0 < kept <= buffers.KEEP_BYTES
    bound = prog.buffers.take(100)  # the set the last call gave back
    prog.buffers.give(bound)
    assert_close(f(X), first)
    assert prog.buffers.take(100) is bound  # reused, not bound afresh
    prog.buffers.give(bound)
    big = np.random.default_rng(3).normal(size=(50_000, 2))
    scores = f(big)
    assert prog.buffers.retained_bytes() == kept  # the large batch's buffers went with its call
    assert_close(scores[:100], f(big[:100]))
