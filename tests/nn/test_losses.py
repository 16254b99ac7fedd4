"""Specification of microgradx.losses: values and gradients against PyTorch and finite differences."""

from __future__ import annotations

import math

import numpy as np
import pytest

from microgradx.engine import Value
from microgradx.nn.losses import LOSSES, bce, bce_with_logits, get_loss, hinge, l2, mse, softmax_cross_entropy

SCORES = [0.7, -1.3, 2.1, -0.2, 0.05]
SIGNED = [1.0, -1.0, -1.0, 1.0, 1.0]
BINARY = [1.0, 0.0, 0.0, 1.0, 1.0]
PROBS = [0.8, 0.3, 0.55, 0.1, 0.97]
CLASS_SCORES = [[1.0, -0.5, 2.0], [0.1, 0.2, -0.3], [-2.0, 3.0, 0.0]]
LABELS = [2, 0, 1]


def value_and_grads(loss, xs, targets):
    vs = [Value(x) for x in xs]
    out = loss(vs, targets)
    out.backward()
    return out.data, [v.grad for v in vs]


def value_and_grads_2d(xss, labels):
    vss = [[Value(x) for x in row] for row in xss]
    out = softmax_cross_entropy(vss, labels)
    out.backward()
    return out.data, [[v.grad for v in row] for row in vss]


def finite_difference(loss, xs, targets, eps=1e-6):
    grads = []
    for i in range(len(xs)):
        up, down = list(xs), list(xs)
        up[i] += eps
        down[i] -= eps
        grads.append((loss([Value(x) for x in up], targets).data
                      - loss([Value(x) for x in down], targets).data) / (2 * eps))
    return grads


CASES = [(mse, SCORES, SIGNED), (hinge, SCORES, SIGNED), (bce_with_logits, SCORES, BINARY), (bce, PROBS, BINARY),
         (bce, PROBS, [0.2, 0.5, 1.0, 0.0, 0.9])]


@pytest.mark.parametrize("loss,xs,targets", CASES)
def test_gradient_matches_finite_differences(loss, xs, targets):
    _, grads = value_and_grads(loss, xs, targets)
    assert grads == pytest.approx(finite_difference(loss, xs, targets), rel=1e-6, abs=1e-8)


def test_softmax_cross_entropy_gradient_matches_finite_differences():
    _, grads = value_and_grads_2d(CLASS_SCORES, LABELS)
    eps = 1e-6
    for i, row in enumerate(CLASS_SCORES):
        for j in range(len(row)):
            up = [list(r) for r in CLASS_SCORES]
            down = [list(r) for r in CLASS_SCORES]
            up[i][j] += eps
            down[i][j] -= eps
            num = (value_and_grads_2d(up, LABELS)[0] - value_and_grads_2d(down, LABELS)[0]) / (2 * eps)
            assert grads[i][j] == pytest.approx(num, rel=1e-6, abs=1e-8)


def test_mse_is_the_mean_of_squared_errors():
    assert mse([Value(1.0), Value(3.0)], [0.0, 1.0]).data == pytest.approx((1 + 4) / 2)


def test_hinge_is_micrograds_svm_loss():
    scores = [Value(s) for s in SCORES]
    expected = sum(max(0.0, 1 - y * s) for y, s in zip(SIGNED, SCORES, strict=True)) / len(SCORES)
    out = hinge(scores, SIGNED)
    assert out.data == pytest.approx(expected)
    # micrograd's graph: sum(losses) * (1.0 / len(losses)), each (1 + -yi*scorei).relu()
    assert out._op.name == "mul" and out._prev[1].data == 1.0 / len(SCORES)


def test_l2_is_alpha_times_the_sum_of_squares():
    ps = [Value(1.0), Value(-2.0)]
    out = l2(ps, alpha=0.1)
    out.backward()
    assert out.data == pytest.approx(0.5)
    assert [p.grad for p in ps] == pytest.approx([0.2, -0.4])


def test_bce_with_logits_equals_bce_on_sigmoid_probabilities():
    probs = [1 / (1 + math.exp(-s)) for s in SCORES]
    assert bce_with_logits([Value(s) for s in SCORES], BINARY).data == pytest.approx(
        bce([Value(p) for p in probs], BINARY).data)


def test_bce_with_logits_is_stable_for_huge_logits():
    out = bce_with_logits([Value(1000.0), Value(-1000.0)], [0.0, 1.0])
    assert out.data == pytest.approx(1000.0)
    out = bce_with_logits([Value(800.0), Value(-800.0)], [1.0, 0.0])
    assert out.data == pytest.approx(0.0)


def test_bce_with_logits_gradient_is_sigmoid_minus_target_even_at_zero():
    z = Value(0.0)
    bce_with_logits([z], [1.0]).backward()
    assert z.grad == pytest.approx(0.5 - 1.0)


def test_softmax_cross_entropy_is_stable_for_huge_scores():
    row = [Value(1000.0), Value(999.0), Value(-1000.0)]
    out = softmax_cross_entropy([row], [0])
    assert out.data == pytest.approx(math.log(1 + math.exp(-1)))


def test_softmax_cross_entropy_gradient_is_softmax_minus_one_hot():
    _, grads = value_and_grads_2d(CLASS_SCORES, LABELS)
    for row, y, g in zip(CLASS_SCORES, LABELS, grads, strict=True):
        e = np.exp(np.array(row) - max(row))
        expected = e / e.sum()
        expected[y] -= 1
        assert g == pytest.approx(list(expected / len(LABELS)))


# ---------------------------------------------------------------- against PyTorch


def test_losses_and_gradients_match_torch():
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    s = torch.tensor(SCORES, dtype=torch.float64, requires_grad=True)
    p = torch.tensor(PROBS, dtype=torch.float64, requires_grad=True)
    c = torch.tensor(CLASS_SCORES, dtype=torch.float64, requires_grad=True)
    signed, binary = torch.tensor(SIGNED, dtype=torch.float64), torch.tensor(BINARY, dtype=torch.float64)
    references = [
        (mse, SCORES, SIGNED, s, lambda: F.mse_loss(s, signed)),
        (hinge, SCORES, SIGNED, s, lambda: torch.clamp(1 - signed * s, min=0).mean()),
        (bce_with_logits, SCORES, BINARY, s, lambda: F.binary_cross_entropy_with_logits(s, binary)),
        (bce, PROBS, BINARY, p, lambda: F.binary_cross_entropy(p, binary)),
    ]
    for loss, xs, targets, leaf, reference in references:
        leaf.grad = None
        ref = reference()
        ref.backward()
        value, grads = value_and_grads(loss, xs, targets)
        assert value == pytest.approx(ref.item(), rel=1e-12), loss.__name__
        assert grads == pytest.approx(leaf.grad.tolist(), rel=1e-10, abs=1e-14), loss.__name__
    ref = F.cross_entropy(c, torch.tensor(LABELS))
    ref.backward()
    value, grads = value_and_grads_2d(CLASS_SCORES, LABELS)
    assert value == pytest.approx(ref.item(), rel=1e-12)
    assert np.allclose(grads, c.grad.numpy(), rtol=1e-10, atol=1e-14)


# ---------------------------------------------------------------- inputs and errors


def test_numbers_are_accepted_as_predictions():
    assert mse([1.0, 2.0], [1.0, 1.0]).data == pytest.approx(0.5)


def test_numpy_targets_are_accepted():
    assert hinge([Value(0.5)], np.array([1])).data == pytest.approx(0.5)


def test_length_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="got 2 predictions but 3 targets"):
        mse([1.0, 2.0], [1.0, 2.0, 3.0])


def test_empty_batch_is_a_clear_error():
    with pytest.raises(ValueError, match="batch is empty"):
        hinge([], [])


def test_hinge_rejects_zero_one_labels_with_advice():
    with pytest.raises(ValueError, match=r"must be -1 or \+1.*y\*2 - 1"):
        hinge([Value(0.5)], [0.0])


def test_bce_rejects_probability_of_exactly_zero_for_a_positive_target():
    with pytest.raises(ValueError, match="bce_with_logits"):
        bce([Value(0.0)], [1.0])


def test_bce_rejects_targets_outside_zero_one():
    with pytest.raises(ValueError, match=r"not in \[0, 1\]"):
        bce_with_logits([Value(0.5)], [-1.0])


def test_softmax_cross_entropy_rejects_a_bad_class_index():
    with pytest.raises(ValueError, match=r"not a class index in 0..2"):
        softmax_cross_entropy([[Value(1.0), Value(2.0), Value(3.0)]], [3])


def test_softmax_cross_entropy_needs_a_row_of_scores_per_sample():
    with pytest.raises(ValueError, match="list of class scores per sample"):
        softmax_cross_entropy([Value(1.0)], [0])


def test_losses_are_found_by_name():
    assert get_loss("hinge") is hinge
    assert set(LOSSES) >= {"mse", "bce", "bce_with_logits", "hinge", "softmax_cross_entropy"}
    with pytest.raises(ValueError, match="unknown loss 'huber'"):
        get_loss("huber")


# ---------------------------------------------------------------- bad inputs (issue 11)


def test_bce_refuses_a_probability_above_one_instead_of_a_negative_loss():
    with pytest.raises(ValueError, match=r"prediction at index 0 is 1.5, outside \[0, 1\].*bce_with_logits"):
        bce([Value(1.5)], [1.0])
    with pytest.raises(ValueError, match="outside"):
        bce([Value(0.5), Value(-0.2)], [1.0, 0.0])


@pytest.mark.parametrize("row", [[1.5, -0.5], [0.5, 0.6], [float("nan"), 1.0]])
def test_softmax_cross_entropy_refuses_rows_that_are_not_probabilities(row):
    with pytest.raises(ValueError, match="label (0|at index 0)"):
        softmax_cross_entropy([[Value(1.0), Value(2.0)]], [row])


def test_soft_target_rows_that_are_probabilities_are_accepted():
    out = softmax_cross_entropy([[Value(1.0), Value(2.0)]], [[0.25, 0.75]])
    lse = math.log(math.exp(1.0) + math.exp(2.0))
    assert out.data == pytest.approx(lse - 0.25 * 1.0 - 0.75 * 2.0)


@pytest.mark.parametrize("loss, preds, targets, where", [
    (mse, [1.0, 2.0], [1.0, float("nan")], "target at index 1 is nan"),
    (hinge, [Value(1.0)], [float("inf")], "target at index 0 is inf"),
    (mse, [1.0, float("inf")], [1.0, 1.0], "prediction at index 1 is inf"),
])
def test_non_finite_numbers_given_to_a_loss_are_named_by_index(loss, preds, targets, where):
    with pytest.raises(ValueError, match=where):
        loss(preds, targets)


def test_softmax_cross_entropy_names_a_non_finite_score_by_sample_and_class():
    with pytest.raises(ValueError, match="index 1, class 2 is nan"):
        softmax_cross_entropy([[0.0, 1.0, 2.0], [0.0, 1.0, float("nan")]], [0, 1])


def test_a_nan_class_index_is_a_clear_error():
    with pytest.raises(ValueError, match="label at index 0 is nan"):
        softmax_cross_entropy([[Value(1.0), Value(2.0)]], [float("nan")])


def test_a_column_of_targets_is_read_as_one_target_per_sample():
    assert mse([Value(1.0), Value(3.0)], np.array([[1.0], [1.0]])).data == pytest.approx(2.0)


# ---------------------------------------------------------------- traced (compiled) softmax cross-entropy


def _eager_and_compiled_sce(scores, labels):
    from microgradx.compiled.jit import jit

    w = Value(1.0, label="w")
    compiled = jit(lambda s, t: softmax_cross_entropy([[w * si for si in s]], [t]))
    loss_c, grad_c = compiled.value_and_grad(scores, np.eye(scores.shape[1])[labels], write_grad=False)
    eager = softmax_cross_entropy([[w * float(si) for si in row] for row in scores], labels.tolist())
    eager.backward()
    return (loss_c, grad_c[0]), (eager.data, w.grad)


def test_compiled_softmax_cross_entropy_keeps_the_max_shift_for_logits_beyond_709():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=(6, 4)) * 3 + np.array([[800.0], [0.0], [-800.0], [710.0], [1e4], [5.0]])
    labels = rng.integers(0, 4, size=6)
    (loss_c, grad_c), (loss_e, grad_e) = _eager_and_compiled_sce(scores, labels)
    assert math.isfinite(loss_c) and loss_c == pytest.approx(loss_e, rel=1e-12)
    assert grad_c == pytest.approx(grad_e, rel=1e-12)


def test_compiled_softmax_cross_entropy_matches_torch_on_huge_logits():
    torch = pytest.importorskip("torch")
    scores = np.array([[800.0, 799.0, -3.0], [1000.0, 1002.5, 1001.0]])
    labels = np.array([1, 2])
    (loss_c, grad_c), _ = _eager_and_compiled_sce(scores, labels)
    w = torch.tensor(1.0, dtype=torch.float64, requires_grad=True)
    ref = torch.nn.functional.cross_entropy(w * torch.tensor(scores), torch.tensor(labels))
    ref.backward()
    assert loss_c == pytest.approx(ref.item(), rel=1e-12) and grad_c == pytest.approx(w.grad.item(), rel=1e-9)


# ---------------------------------------------------------------- compile_loss checks its targets as eager does


def _eager_and_compiled_refusals(loss, targets):
    """The messages the eager loss and ``compile_loss`` raise for the same bad ``targets``."""
    from microgradx import compile_loss
    from microgradx.nn import MLP

    model = MLP(2, [3, 1], seed=0)
    X = np.arange(2.0 * len(targets)).reshape(len(targets), 2) / 10
    with pytest.raises(ValueError) as eager:
        loss([model(list(x)) for x in X], targets)
    with pytest.raises(ValueError) as compiled:
        compile_loss(model, loss).value_and_grad(X, np.asarray(targets))
    return str(eager.value), str(compiled.value)


@pytest.mark.parametrize("loss, targets", [
    (hinge, [1.0, 1.0, 0.0]),                 # {0, 1} labels given to the SVM loss
    (bce_with_logits, [1.0, 0.0, -1.0]),      # {-1, +1} labels given to cross-entropy
    (bce_with_logits, [0.5, 1.5]),
    (bce, [1.0, 2.0]),
])
def test_compile_loss_refuses_the_targets_the_eager_loss_refuses_with_the_same_message(loss, targets):
    eager, compiled = _eager_and_compiled_refusals(loss, targets)
    assert compiled == eager and f"at index {len(targets) - 1}" in compiled


def test_compile_loss_still_takes_the_targets_the_loss_accepts():
    from microgradx import compile_loss
    from microgradx.nn import MLP

    model = MLP(2, [3, 1], seed=0)
    X, y = np.array([[0.1, 0.2], [0.3, -0.4]]), np.array([1.0, -1.0])
    loss_c, _ = compile_loss(model, hinge).value_and_grad(X, y, write_grad=False)
    assert loss_c == pytest.approx(hinge([model(list(x)) for x in X], y.tolist()).data, rel=1e-12)
