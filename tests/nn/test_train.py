"""Specification of microgradx.train: fit, history, early stopping, divergence, predict/accuracy/decision_boundary."""

from __future__ import annotations

import numpy as np
import pytest

from microgradx import data
from microgradx.engine import Value, no_grad
from microgradx.nn import MLP
from microgradx.nn.optim import SGD, Adam, AdamW, LinearLR, RMSProp, StepLR
from microgradx.nn.train import (
    History,
    NonFiniteLossError,
    StopRules,
    accuracy,
    batches,
    decision_boundary,
    fit,
    grad_norms,
    predict,
)

# ---------------------------------------------------------------- acceptance


def test_seeded_mlp_learns_xor_within_500_steps_for_at_least_9_of_10_seeds():
    X, y = data.xor()
    solved = 0
    for seed in range(10):
        model = MLP(2, [4, 1], activation="tanh", seed=seed)
        history = fit(model, X, y, loss="mse", optimizer="sgd", lr=0.3, epochs=500, progress=False,
                      target_accuracy=1.0)
        solved += accuracy(model, X, y) == 1.0 and history.epochs <= 500
    assert solved >= 9


def test_three_class_spiral_trains_to_90_percent_with_softmax_cross_entropy_and_adam():
    X, y = data.spirals(n=60, n_classes=3, seed=0)
    model = MLP(2, [16, 3], seed=0)
    history = fit(model, X, y, loss="softmax_cross_entropy", optimizer="adam", lr=0.05, epochs=200,
                  progress=False, target_accuracy=0.95)
    assert accuracy(model, X, y) >= 0.9
    assert history.loss[-1] < history.loss[0] / 2


# ---------------------------------------------------------------- the loop


def test_full_batch_fit_matches_the_hand_written_loop():
    X, y = data.moons(n=20, seed=0)
    a, b = MLP(2, [4, 1], seed=1), MLP(2, [4, 1], seed=1)
    history = fit(a, X, y, loss="hinge", optimizer=SGD(a.parameters(), lr=0.5), epochs=5, l2_alpha=1e-4,
                  progress=False)
    losses = []
    for _ in range(5):
        scores = [b(list(map(Value, row))) for row in X]
        total = sum((1 + -yi * si).relu() for yi, si in zip(y, scores, strict=True)) * (1.0 / len(y))
        total = total + 1e-4 * sum(p * p for p in b.parameters())
        b.zero_grad()
        total.backward()
        for p in b.parameters():
            p.data -= 0.5 * p.grad
        losses.append(total.data)
    assert history.loss == pytest.approx(losses, rel=1e-12)
    assert a.state_dict() == pytest.approx(b.state_dict(), rel=1e-12)


def test_history_has_one_loss_accuracy_and_lr_per_epoch():
    X, y = data.xor()
    h = fit(MLP(2, [4, 1], seed=0), X, y, epochs=7, progress=False)
    assert h.epochs == 7 and len(h.accuracy) == 7 and len(h.lr) == 7
    assert all(0.0 <= a <= 1.0 for a in h.accuracy)
    assert h.stopped == ""
    assert set(h.as_dict()) >= {"loss", "accuracy", "val_loss", "grad_norms"}


def test_minibatches_take_several_steps_per_epoch():
    X, y = data.moons(n=20, seed=0)
    model = MLP(2, [3, 1], seed=0)
    opt = SGD(model.parameters(), lr=0.1)
    fit(model, X, y, optimizer=opt, epochs=2, batch_size=6, progress=False)
    assert opt.steps == 2 * 4


def test_minibatch_training_is_deterministic_for_a_seed():
    X, y = data.moons(n=20, seed=0)
    runs = []
    for _ in range(2):
        model = MLP(2, [3, 1], seed=0)
        runs.append(fit(model, X, y, epochs=3, batch_size=5, seed=7, progress=False).loss)
    assert runs[0] == runs[1]


def test_scheduler_is_stepped_once_per_epoch():
    X, y = data.xor()
    model = MLP(2, [4, 1], seed=0)
    opt = SGD(model.parameters(), lr=1.0)
    h = fit(model, X, y, optimizer=opt, epochs=4, progress=False,
            scheduler=lambda o: LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=100))
    assert h.lr == pytest.approx([1.0, 0.991, 0.982, 0.973])


def test_callback_runs_every_epoch_and_can_stop_training():
    X, y = data.xor()
    seen = []
    h = fit(MLP(2, [4, 1], seed=0), X, y, epochs=10, progress=False,
            callback=lambda epoch, hist: seen.append(epoch) or epoch == 3)
    assert seen == [1, 2, 3] and h.epochs == 3 and "callback" in h.stopped


def test_stops_early_on_target_loss():
    X, y = data.xor()
    h = fit(MLP(2, [4, 1], activation="tanh", seed=0), X, y, loss="mse", lr=0.3, epochs=500, progress=False,
            target_loss=0.1)
    assert h.loss[-1] <= 0.1 and all(v > 0.1 for v in h.loss[:-1]) and "target" in h.stopped


def test_stops_when_validation_loss_stops_improving():
    X, y = data.moons(n=30, seed=0)
    Xv, yv = data.moons(n=30, seed=1)
    h = fit(MLP(2, [4, 1], seed=0), X, y, lr=0.0, epochs=50, progress=False, validation=(Xv, yv), patience=3)
    # with lr = 0 nothing changes: the first epoch is the best, three more without improvement
    assert h.epochs == 4 and len(h.val_loss) == 4 and "did not improve for 3 epochs" in h.stopped


def test_patience_without_validation_data_is_a_clear_error():
    X, y = data.xor()
    with pytest.raises(ValueError, match="patience needs validation"):
        fit(MLP(2, [1]), X, y, patience=3, progress=False)


def test_records_per_layer_gradient_norms():
    X, y = data.xor()
    model = MLP(2, [4, 4, 1], activation="sigmoid", seed=0)
    h = fit(model, X, y, loss="mse", epochs=3, progress=False, record_grad_norms=True)
    assert len(h.grad_norms) == 3
    assert set(h.grad_norms[0]) == {"layers.0", "layers.1", "layers.2"}
    assert all(v >= 0 for v in h.grad_norms[0].values())


def test_grad_norms_are_the_norm_of_each_layers_gradients():
    model = MLP(2, [2, 1], seed=0)
    model([1.0, 1.0]).backward()
    norms = grad_norms(model)
    expected = np.sqrt(sum(p.grad ** 2 for p in model.layers[1].parameters()))
    assert norms["layers.1"] == pytest.approx(expected)


def test_diverging_training_raises_an_error_naming_epoch_and_step():
    X, y = data.moons(n=20, seed=0)
    model = MLP(2, [8, 1], seed=0)
    with pytest.raises(NonFiniteLossError, match=r"epoch \d+, step \d+.*Lower the learning rate"):
        fit(model, X, y, loss="mse", lr=1e6, epochs=50, progress=False)


def test_progress_bar_shows_epoch_loss_and_accuracy(capsys):
    X, y = data.xor()
    fit(MLP(2, [4, 1], seed=0), X, y, epochs=3, progress=True)
    err = capsys.readouterr().err
    assert "3/3" in err and "loss=" in err and "acc=" in err


def test_no_progress_prints_nothing(capsys):
    X, y = data.xor()
    fit(MLP(2, [4, 1], seed=0), X, y, epochs=3, progress=False)
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == ""


def test_length_mismatch_between_x_and_y_is_a_clear_error():
    with pytest.raises(ValueError, match="X has 4 rows but y has 3 labels"):
        fit(MLP(2, [1]), data.xor()[0], [1, -1, 1], progress=False)


# ---------------------------------------------------------------- helpers


def test_predict_returns_raw_scores_without_recording_a_graph():
    model = MLP(2, [3, 1], seed=0)
    X, _ = data.xor()
    scores = predict(model, X)
    assert scores.shape == (4,)
    assert scores[1] == pytest.approx(model([0.0, 1.0]).data)
    assert all(p.grad == 0 for p in model.parameters())


def test_predict_gives_one_column_per_output():
    assert predict(MLP(2, [3, 3], seed=0), np.zeros((5, 2))).shape == (5, 3)


def test_accuracy_reads_signed_binary_and_class_index_labels():
    assert accuracy([0.5, -0.2, 3.0], y=[1, -1, -1]) == pytest.approx(2 / 3)
    assert accuracy([0.5, -0.2, 3.0], y=[1, 0, 0]) == pytest.approx(2 / 3)
    assert accuracy([0.7, 0.2], y=[1, 0], threshold=0.5) == 1.0
    assert accuracy([[0.1, 0.9], [2.0, 1.0]], y=[1, 1]) == 0.5


def test_decision_boundary_is_a_grid_of_scores_over_the_data():
    X, _ = data.moons(n=20, seed=0)
    model = MLP(2, [3, 1], seed=0)
    xx, yy, zz = decision_boundary(model, X, resolution=7, margin=0.25)
    assert xx.shape == yy.shape == zz.shape == (7, 7)
    assert xx.min() == pytest.approx(X[:, 0].min() - 0.25) and yy.max() == pytest.approx(X[:, 1].max() + 0.25)
    assert zz[3, 2] == pytest.approx(model([xx[3, 2], yy[3, 2]]).data)


def test_decision_boundary_for_a_multi_class_model_has_a_score_axis():
    X, _ = data.spirals(n=30)
    _, _, zz = decision_boundary(MLP(2, [4, 3], seed=0), X, resolution=5)
    assert zz.shape == (5, 5, 3)


def test_gradient_norms_show_vanishing_gradients_in_a_deep_sigmoid_network():
    X, y = data.moons(n=20, seed=0)
    ratios = {}
    for activation in ("sigmoid", "relu"):
        model = MLP(2, [8] * 6 + [1], activation=activation, init="xavier", seed=0)
        h = fit(model, X, y, loss="mse", lr=0.0, epochs=1, progress=False, record_grad_norms=True)
        norms = h.grad_norms[0]
        ratios[activation] = norms["layers.0"] / norms["layers.6"]
    assert ratios["sigmoid"] < 0.01 < ratios["relu"]


# ---------------------------------------------------------------- the compiled path

@pytest.mark.parametrize("loss, labels, n_out", [
    ("hinge", "signed", 1), ("mse", "signed", 1), ("bce_with_logits", "binary", 1),
    ("softmax_cross_entropy", "index", 3),
])
def test_compiled_fit_takes_the_same_steps_as_eager_fit(loss, labels, n_out):
    from microgradx import data
    from microgradx.nn import MLP

    if n_out == 1:
        X, y = data.moons(40, noise=0.1, seed=3, labels=labels)
    else:
        X, y = data.spirals(45, n_classes=3, seed=3, labels=labels)
    eager, compiled = MLP(2, [8, n_out], seed=5), MLP(2, [8, n_out], seed=5)
    h_e = fit(eager, X, y, loss=loss, optimizer="adam", lr=0.02, epochs=5, l2_alpha=1e-3, progress=False)
    h_c = fit(compiled, X, y, loss=loss, optimizer="adam", lr=0.02, epochs=5, l2_alpha=1e-3, progress=False,
              compiled=True)
    assert h_c.loss == pytest.approx(h_e.loss, rel=1e-9)
    assert h_c.accuracy == h_e.accuracy
    for p, q in zip(eager.parameters(), compiled.parameters()):
        assert q.data == pytest.approx(p.data, rel=1e-9, abs=1e-12)


def test_compiled_fit_trains_micrograds_moons_demo_to_full_accuracy():
    from microgradx import data
    from microgradx.nn import MLP
    from microgradx.nn.optim import SGD, LinearLR

    X, y = data.moons(100, noise=0.1, seed=1)
    model = MLP(2, [16, 16, 1], seed=1337)
    opt = SGD(model.parameters(), lr=1.0)
    history = fit(model, X, y, loss="hinge", optimizer=opt, epochs=100, l2_alpha=1e-4, progress=False,
                  scheduler=LinearLR(opt, 1.0, 0.1, total_iters=100), compiled=True)
    assert history.accuracy[-1] == 1.0


def test_compiled_fit_checks_targets_like_the_eager_loss():
    from microgradx.nn import MLP

    with pytest.raises(ValueError, match="hinge targets must be -1 or"):
        fit(MLP(2, [3, 1], seed=0), [[0.0, 1.0], [1.0, 0.0]], [0, 1], loss="hinge", epochs=1, progress=False,
            compiled=True)


def test_compiled_fit_refuses_dropout_with_a_reason():
    from microgradx.nn import MLP

    with pytest.raises(ValueError, match="dropout"):
        fit(MLP(2, [3, 1], seed=0, dropout=0.5), [[0.0, 1.0]], [1], epochs=1, progress=False, compiled=True)


# ---------------------------------------------------------------- fit's parts


def test_batches_cover_every_row_once_per_epoch_and_shuffle_only_when_there_are_several():
    rng = np.random.default_rng(0)
    parts = batches(10, 4, shuffle=True, rng=rng)
    assert [len(b) for b in parts] == [4, 4, 2]
    assert sorted(np.concatenate(parts).tolist()) == list(range(10))
    assert np.concatenate(batches(10, 10, shuffle=True, rng=rng)).tolist() == list(range(10))
    assert np.concatenate(batches(10, 3, shuffle=False, rng=rng)).tolist() == list(range(10))


def _history(losses, val_losses=(), accuracies=None):
    h = History()
    for k, loss in enumerate(losses):
        h.record(loss, (accuracies or [0.5] * len(losses))[k], 0.1,
                 validation=(val_losses[k], 0.5) if val_losses else None)
    return h


def test_stop_rules_say_why_in_the_order_callback_target_loss_target_accuracy_patience():
    h = _history([0.5], accuracies=[1.0])
    assert "callback" in StopRules(target_loss=1.0, callback=lambda e, hist: True).reason(1, h)
    assert "loss 0.5 reached target 1" in StopRules(target_loss=1.0, target_accuracy=0.9).reason(1, h)
    assert "accuracy 1.000 reached target 0.9" in StopRules(target_accuracy=0.9).reason(1, h)
    assert StopRules(target_loss=0.1).reason(1, h) == ""


def test_stop_rules_count_epochs_without_validation_progress_beyond_min_delta():
    rules = StopRules(patience=2, min_delta=0.1)
    seen = []
    h = History()
    for k, v in enumerate([1.0, 0.95, 0.8, 0.75, 0.72], start=1):
        h.record(1.0, 0.5, 0.1, validation=(v, 0.5))
        seen.append(rules.reason(k, h))
    # 0.95 is within 0.1 of 1.0 (no progress); 0.8 is progress, the count restarts; 0.75 and 0.72 are not
    assert seen[:4] == ["", "", "", ""] and "did not improve for 2 epochs (best 0.8)" in seen[4]


class Line:
    """A model that is not a Module: a plain object with parameters() and a call, one output per sample."""

    def __init__(self):
        self.w, self.b = Value(0.0), Value(0.0)

    def parameters(self):
        return [self.w, self.b]

    def __call__(self, x):
        return self.w * x[0] + self.b


@pytest.mark.parametrize("compiled", [False, True])
def test_any_callable_with_parameters_can_be_fitted(compiled):
    X = np.linspace(-1, 1, 20)[:, None]
    y = 3 * X[:, 0] - 1
    model = Line()
    fit(model, X, y, loss="mse", optimizer="sgd", lr=0.5, epochs=200, progress=False, compiled=compiled)
    assert model.w.data == pytest.approx(3.0, abs=1e-6) and model.b.data == pytest.approx(-1.0, abs=1e-6)


def test_fit_reads_the_number_of_outputs_from_the_model_not_its_layers():
    class TwoHeads(Line):
        def __call__(self, x):
            return [self.w * x[0], self.b + 0.0 * x[0]]

    X, y = np.array([[1.0], [-1.0]]), np.array([0, 1])
    h = fit(TwoHeads(), X, y, loss="softmax_cross_entropy", epochs=2, progress=False, compiled=True)
    assert h.epochs == 2


# ---------------------------------------------------------------- modes, data and arguments (issue 11)


def test_validation_is_measured_in_evaluation_mode_and_the_callers_mode_comes_back():
    from microgradx.nn.losses import hinge

    X, y = data.moons(n=30, seed=0)
    Xv, yv = data.moons(n=20, seed=1)
    model = MLP(2, [16, 1], dropout=0.5, seed=0)
    h = fit(model, X, y, lr=0.0, epochs=3, progress=False, validation=(Xv, yv))
    assert model.training  # as the caller left it
    model.eval()
    with no_grad():
        expected = hinge([model(row) for row in Xv.tolist()], yv.tolist()).data
    assert h.val_loss == [expected] * 3  # no dropout noise: lr = 0, so the same number every epoch
    fit(model, X, y, lr=0.0, epochs=1, progress=False)
    assert not model.training and not any(m.training for m in model.modules())


def test_predict_and_accuracy_use_evaluation_mode_and_leave_the_mode_alone():
    X, y = data.moons(n=30, seed=0)
    model = MLP(2, [32, 1], dropout=0.5, seed=0)
    assert model.training
    first = predict(model, X)
    assert np.array_equal(first, predict(model, X)) and accuracy(model, X, y) == accuracy(model, X, y)
    assert model.training
    model.eval()
    assert np.array_equal(first, predict(model, X))


@pytest.mark.parametrize("compiled", [False, True])
def test_non_finite_training_data_is_named_by_array_row_and_column(compiled):
    X, y = data.moons(n=10, seed=0)
    X[4, 1] = np.nan
    with pytest.raises(ValueError, match=r"X holds nan at row 4, column 1"):
        fit(MLP(2, [3, 1]), X, y, progress=False, compiled=compiled)
    X[4, 1] = 0.0
    y = y.astype(float)
    y[7] = np.inf
    with pytest.raises(ValueError, match=r"^y holds inf at row 7"):
        fit(MLP(2, [3, 1]), X, y, progress=False, compiled=compiled)
    with pytest.raises(ValueError, match=r"validation X holds inf at row 0, column 0"):
        fit(MLP(2, [3, 1]), X, np.sign(X[:, 0]) + (X[:, 0] == 0), progress=False, compiled=compiled,
            validation=(np.full((2, 2), np.inf), [1, -1]))


def test_labels_in_a_column_are_read_as_one_label_per_sample():
    X, y = data.moons(n=20, seed=0)
    a, b = MLP(2, [4, 1], seed=1), MLP(2, [4, 1], seed=1)
    assert fit(a, X, y[:, None], epochs=3, progress=False).loss == fit(b, X, y, epochs=3, progress=False).loss
    assert accuracy(a, X, y[:, None]) == accuracy(a, X, y)


def test_numpy_integers_are_accepted_as_counts():
    X, y = data.xor()
    h = fit(MLP(2, [3, 1]), X, y, epochs=np.int64(3), batch_size=np.int32(2), progress=False)
    assert h.epochs == 3


@pytest.mark.parametrize("options, pattern", [
    ({"l2_alpha": -1e-4}, "l2_alpha must be a finite number >= 0"),
    ({"l2_alpha": float("nan")}, "l2_alpha"),
    ({"patience": -1, "validation": "ok"}, "patience must be a positive int"),
    ({"patience": 1.5, "validation": "ok"}, "patience must be a positive int"),
    ({"min_delta": -0.1}, "min_delta"),
    ({"target_accuracy": 95}, r"target_accuracy must be a fraction in \[0, 1\] or None, got 95"),
    ({"clip_grad_norm": 0.0}, r"clip_grad_norm must be a finite number > 0 or None \(the largest gradient norm"),
    ({"epochs": 2.0}, "epochs must be a positive int"),
    ({"validation": "short"}, "validation X has 4 rows but validation y has 3 labels"),
    ({"validation": "narrow"}, "validation data must be shaped like the training data"),
])
def test_bad_fit_arguments_are_refused_before_any_training(options, pattern):
    X, y = data.xor()
    choices = {"ok": (X, y), "short": (X, y[:3]), "narrow": (X[:, :1], y)}
    if "validation" in options:
        options = {**options, "validation": choices[options["validation"]]}
    model = MLP(2, [3, 1], seed=0)
    opt = SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match=pattern):
        fit(model, X, y, optimizer=opt, progress=False, **options)
    assert opt.steps == 0


@pytest.mark.parametrize("kwargs, error, pattern", [
    ({"optimizer": None}, TypeError, "named by a string"),
    ({"callback": "print"}, TypeError, "callback must be a function"),
    ({"scheduler": 3}, TypeError, "scheduler must be a scheduler"),
])
def test_arguments_of_the_wrong_kind_are_clear_errors(kwargs, error, pattern):
    X, y = data.xor()
    with pytest.raises(error, match=pattern):
        fit(MLP(2, [3, 1]), X, y, progress=False, **kwargs)


def test_an_optimizer_or_scheduler_made_for_another_model_is_refused():
    X, y = data.xor()
    model, other = MLP(2, [3, 1], seed=0), MLP(2, [3, 1], seed=1)
    with pytest.raises(ValueError, match="none of this model's parameters"):
        fit(model, X, y, optimizer=SGD(other.parameters(), lr=0.1), progress=False)
    opt = SGD(model.parameters(), lr=0.1)
    with pytest.raises(ValueError, match="another optimizer's lr"):
        fit(model, X, y, optimizer=opt, scheduler=LinearLR(SGD(other.parameters(), lr=0.1)), progress=False)


def test_fit_without_a_model_says_what_a_model_is():
    with pytest.raises(TypeError, match="fit trains a model"):
        fit(None, *data.xor(), progress=False)


def test_x_with_the_wrong_number_of_columns_is_refused_before_training():
    with pytest.raises(ValueError, match="X has 3 columns but the model takes 2 inputs"):
        fit(MLP(2, [1]), np.zeros((4, 3)), [1, -1, 1, -1], progress=False)


def test_decision_boundary_resolution_must_be_a_whole_number():
    with pytest.raises(ValueError, match="resolution must be an int >= 2"):
        decision_boundary(MLP(2, [1]), np.zeros((3, 2)), resolution=2.5)


# ---------------------------------------------------------------- compiled training: parameters in one vector


@pytest.mark.parametrize("optimizer", [
    lambda ps: SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    lambda ps: SGD(ps, lr=0.1, momentum=0.5, dampening=0.1),
    lambda ps: AdamW(ps, lr=0.02, weight_decay=0.05),
    lambda ps: RMSProp(ps, lr=0.01, momentum=0.3, weight_decay=1e-3),
], ids=["nesterov+wd", "momentum+dampening", "adamw", "rmsprop"])
def test_compiled_fit_takes_the_same_steps_as_eager_fit_with_every_optimizer_schedule_and_clipping(optimizer):
    X, y = data.moons(40, noise=0.1, seed=3)
    runs = []
    for compiled in (False, True):
        model = MLP(2, [6, 6, 1], seed=5)
        opt = optimizer(model.parameters())
        h = fit(model, X, y, optimizer=opt, epochs=6, batch_size=16, l2_alpha=1e-3, clip_grad_norm=0.5,
                scheduler=lambda o: StepLR(o, step_size=2, gamma=0.5), progress=False, compiled=compiled,
                record_grad_norms=True)
        runs.append((h, model, opt))
    (h_e, eager, opt_e), (h_c, comp, opt_c) = runs
    assert h_c.loss == pytest.approx(h_e.loss, rel=1e-9) and h_c.accuracy == h_e.accuracy and h_c.lr == h_e.lr
    assert [v for d in h_c.grad_norms for v in d.values()] == pytest.approx(
        [v for d in h_e.grad_norms for v in d.values()], rel=1e-9)
    assert [p.data for p in comp.parameters()] == pytest.approx([p.data for p in eager.parameters()], rel=1e-9)
    assert [p.grad for p in comp.parameters()] == pytest.approx([p.grad for p in eager.parameters()], rel=1e-7,
                                                                abs=1e-12)
    assert opt_c.steps == opt_e.steps == 6 * 3


def test_clipping_in_fit_bounds_every_step_norm():
    X, y = data.moons(30, seed=0)
    seen = []

    class Watch(SGD):
        def _update(self, p, g):
            seen.append(float(np.linalg.norm(g)))
            super()._update(p, g)

    for compiled in (False, True):
        model = MLP(2, [8, 1], seed=0)
        fit(model, X, y, loss="mse", optimizer=Watch(model.parameters(), lr=0.01), epochs=3, progress=False,
            clip_grad_norm=0.1, compiled=compiled)
    assert len(seen) == 6 and max(seen) <= 0.1 + 1e-9


def test_parameter_values_hold_the_trained_numbers_in_callbacks_at_the_end_and_after_an_error():
    X, y = data.moons(30, seed=0)
    model = MLP(2, [8, 1], seed=0)
    reference = MLP(2, [8, 1], seed=0)
    at_callback = []

    def callback(epoch, history):
        at_callback.append(model.state_dict())
        fit(reference, X, y, optimizer=ref_opt, epochs=1, progress=False)  # the same steps, eagerly
        assert model.state_dict() == pytest.approx(reference.state_dict(), rel=1e-9)

    ref_opt = SGD(reference.parameters(), lr=0.2, momentum=0.9)
    fit(model, X, y, optimizer=SGD(model.parameters(), lr=0.2, momentum=0.9), epochs=3, progress=False,
        compiled=True, callback=callback)
    assert len(at_callback) == 3 and at_callback[0] != at_callback[1]
    assert model.state_dict() == at_callback[-1]

    def boom(epoch, history):
        raise KeyboardInterrupt

    before = model.state_dict()
    with pytest.raises(KeyboardInterrupt):
        fit(model, X, y, lr=0.1, epochs=5, progress=False, compiled=True, callback=boom)
    assert model.state_dict() != before  # the epoch that ran before the interruption is in the Values


def test_changes_a_callback_makes_to_the_parameters_are_kept_by_compiled_training():
    X, y = data.moons(30, seed=0)
    model = MLP(2, [4, 1], seed=0)

    def zero_the_weights(epoch, history):
        if epoch == 1:
            for p in model.parameters():
                p.data = 0.0

    fit(model, X, y, lr=0.0, epochs=2, progress=False, compiled=True, callback=zero_the_weights)
    assert all(p.data == 0.0 for p in model.parameters())


def test_an_optimizer_that_only_defines_step_works_compiled_too():
    class Halving(SGD):
        def step(self):
            for p in self.params:
                p.data -= 0.5 * self.lr * p.grad
            self.steps += 1

    X, y = data.moons(20, seed=0)
    models = []
    for compiled in (False, True):
        model = MLP(2, [4, 1], seed=0)
        fit(model, X, y, optimizer=Halving(model.parameters(), lr=0.2), epochs=3, progress=False, compiled=compiled)
        models.append(model)
    assert models[1].state_dict() == pytest.approx(models[0].state_dict(), rel=1e-9)


def test_an_optimizer_over_part_of_the_model_trains_only_that_part_compiled_as_eager():
    X, y = data.moons(20, seed=0)
    models = []
    for compiled in (False, True):
        model = MLP(2, [4, 1], seed=0)
        frozen = model.layers[0].state_dict()
        fit(model, X, y, optimizer=Adam(model.layers[1].parameters(), lr=0.05), epochs=4, progress=False,
            compiled=compiled)
        assert model.layers[0].state_dict() == frozen
        models.append(model)
    # The output bias's gradient is rounding noise here (~1e-17, summed in another order by each path), and
    # Adam divides by its own size: the bias moves by ~3e-10 either way. So equal to 1e-9 absolute too.
    assert models[1].state_dict() == pytest.approx(models[0].state_dict(), rel=1e-9, abs=1e-9)


def test_logits_of_800_train_compiled_without_overflow_and_as_eager():
    X, y = data.spirals(30, n_classes=3, seed=0)
    X = X * 1000.0  # first-layer sums, and so the logits, in the hundreds and beyond
    runs = []
    for compiled in (False, True):
        model = MLP(2, [4, 3], seed=1)
        h = fit(model, X, y, loss="softmax_cross_entropy", optimizer="sgd", lr=1e-5, epochs=3, progress=False,
                compiled=compiled)
        runs.append((h, model))
    assert max(abs(s) for s in predict(runs[1][1], X).ravel()) > 709
    assert runs[1][0].loss == pytest.approx(runs[0][0].loss, rel=1e-9)
    assert all(np.isfinite(runs[1][0].loss))


def test_predict_accuracy_and_decision_boundary_run_compiled_when_asked():
    X, y = data.spirals(40, n_classes=3, seed=0)
    model = MLP(2, [8, 3], seed=0, dropout=0.3)
    assert np.allclose(predict(model, X, compiled=True), predict(model, X), rtol=1e-12, atol=1e-15)
    assert accuracy(model, X, y, compiled=True) == accuracy(model, X, y)
    grid_e = decision_boundary(model, X, resolution=9)
    grid_c = decision_boundary(model, X, resolution=9, compiled=True)
    assert all(np.allclose(a, b, rtol=1e-12, atol=1e-15) for a, b in zip(grid_e, grid_c, strict=True))
    assert model.training  # the caller's mode
    model.layers[0].neurons[0].w[0] = Value(5.0)  # a new parameter Value: traced afresh
    assert np.allclose(predict(model, X, compiled=True), predict(model, X), rtol=1e-12, atol=1e-15)


# ---------------------------------------------------------------- how a History shows itself (issue 13)


def test_history_repr_is_one_line_with_the_first_and_last_loss():
    h = fit(MLP(2, [4, 1], seed=0), *data.xor(), epochs=5, progress=False, target_accuracy=2 / 4)
    text = repr(h)
    assert "\n" not in text and text.startswith(f"History({h.epochs} epoch")
    assert f"loss {h.loss[0]:.4g} → {h.loss[-1]:.4g}" in text and f"accuracy {h.accuracy[-1]:.3f}" in text
    assert repr(History()) == "History(0 epochs)"


def test_history_shows_a_loss_sparkline_in_jupyter_with_validation_dashed():
    X, y = data.moons(n=20, seed=0)
    h = fit(MLP(2, [4, 1], seed=0), X, y, epochs=6, progress=False, validation=(X, y))
    page = h._repr_html_()
    assert page.count("<polyline") == 2 and 'stroke-dasharray="4 2"' in page
    first = page.split('points="')[1].split('"')[0].split()
    assert len(first) == 6
    assert History()._repr_html_().count("<svg") == 0


@pytest.mark.parametrize("compiled", [False, True])
def test_a_loss_function_that_returns_a_number_is_a_clear_error(compiled):
    with pytest.raises(TypeError, match="the loss function must return a Value"):
        fit(MLP(2, [1]), *data.xor(), loss=lambda scores, targets: 1.0, epochs=1, progress=False, compiled=compiled)


def test_compiled_training_that_diverges_stops_where_eager_does_and_keeps_the_last_good_numbers():
    X, y = data.moons(n=20, seed=0)
    errors, models = [], []
    for compiled in (False, True):
        model = MLP(2, [8, 1], seed=0)
        with pytest.raises(NonFiniteLossError, match=r"diverged at epoch \d+, step \d+: .*Lower the learning") as e:
            fit(model, X, y, loss="mse", lr=1e3, epochs=50, progress=False, compiled=compiled)
        errors.append(str(e.value).split(":")[0])
        models.append(model)
    assert errors[0] == errors[1]  # the same epoch and step
    assert all(np.isfinite(p.data) for p in models[1].parameters())
    assert models[1].state_dict() == pytest.approx(models[0].state_dict(), rel=1e-6)


def test_history_times_each_epoch_and_a_compiled_fit_without_callback_leaves_values_until_the_end():
    X, y = data.moons(40, noise=0.1, seed=0, labels="signed")
    model = MLP(2, [8, 1], seed=0)
    before = model.state_dict()
    h = fit(model, X, y, lr=0.1, epochs=3, progress=False, compiled=True, batch_size=10)
    assert len(h.seconds) == 3 and all(s > 0 for s in h.seconds) and h.as_dict()["seconds"] == h.seconds
    assert model.state_dict() != before  # written back once, when fit returns
    same = MLP(2, [8, 1], seed=0)
    fit(same, X, y, lr=0.1, epochs=3, progress=False, batch_size=10)
    assert max(abs(a - b) for a, b in zip(model.state_dict().values(), same.state_dict().values())) < 1e-12


# ---------------------------------------------------------------- a bad target or a complex array is named by its row


@pytest.mark.parametrize("compiled", [False, True])
@pytest.mark.parametrize("batch_size", [None, 3])
def test_a_bad_target_is_named_by_its_row_in_y(compiled, batch_size):
    X = np.random.default_rng(0).normal(size=(10, 2))
    y = np.array([1, -1, 1, 1, -1, 1, 0, 1, -1, 1.0])  # row 6 is a {0, 1} label given to hinge
    with pytest.raises(ValueError, match=r"hinge targets must be -1 or \+1, got 0 at index 6;"):
        fit(MLP(2, [3, 1], seed=0), X, y, loss="hinge", epochs=1, progress=False, compiled=compiled,
            batch_size=batch_size)


@pytest.mark.parametrize("compiled", [False, True])
def test_fit_refuses_complex_data_naming_the_entry_as_eager_values_do(compiled):
    X = np.random.default_rng(0).normal(size=(4, 2))
    y = np.array([1, -1, 1, 1 + 2j])
    with pytest.raises(TypeError, match=r"y holds the complex number \(1\+2j\) at row 3: .*real"):
        fit(MLP(2, [3, 1], seed=0), X, y, loss="hinge", epochs=1, progress=False, compiled=compiled)
    with pytest.raises(TypeError, match=r"X is a complex array .*pass X.real"):
        fit(MLP(2, [3, 1], seed=0), X + 0j, y.real, loss="hinge", epochs=1, progress=False, compiled=compiled)
    with pytest.raises(TypeError, match="Value"):
        Value(1 + 2j)  # the eager engine refuses them too


@pytest.mark.parametrize("compiled", [False, True])
def test_a_bad_validation_target_is_named_before_the_first_epoch(compiled):
    X = np.random.default_rng(0).normal(size=(6, 2))
    y, y_val = np.array([1, -1, 1, 1, -1, 1.0]), np.array([1, -1, 0.0])
    model = MLP(2, [3, 1], seed=0)
    before = model.state_dict()
    with pytest.raises(ValueError, match=r"^validation y: hinge targets must be -1 or \+1, got 0 at index 2;"):
        fit(model, X, y, loss="hinge", epochs=3, progress=False, compiled=compiled, validation=(X[:3], y_val))
    assert model.state_dict() == before  # refused before training, not after the first epoch


def test_predict_and_accuracy_refuse_complex_inputs_as_fit_does():
    from microgradx.nn.evaluate import accuracy, predict

    model = MLP(2, [3, 1], seed=0)
    X = np.array([[0.5, 1.0], [1.0, 2.0 + 1e-3j]])
    with pytest.raises(TypeError, match=r"X holds the complex number .* at row 1, column 1"):
        predict(model, X)
    with pytest.raises(TypeError, match=r"y holds the complex number"):
        accuracy(np.array([0.5, -0.5]), y=np.array([1.0, -1.0 + 2j]))


def test_accuracy_refuses_complex_scores_instead_of_dropping_their_imaginary_part():
    from microgradx.nn.evaluate import accuracy

    with pytest.raises(TypeError, match=r"scores holds the complex number \(-0.5\+1j\) at row 1"):
        accuracy(np.array([0.5, -0.5 + 1j]), y=np.array([1.0, -1.0]))


# ---------------------------------------------------------------- validation of an eager fit


@pytest.mark.parametrize("nouts, loss", [([16, 16, 1], "bce_with_logits"), ([8, 3], "softmax_cross_entropy")])
def test_an_eager_fits_validation_loss_is_the_eager_engines_to_rounding_every_epoch(nouts, loss):
    from microgradx.nn.evaluate import mode
    from microgradx.nn.losses import get_loss

    X, y = data.moons(n=30, noise=0.3, seed=0, labels="binary")
    Xv, yv = data.moons(n=25, noise=0.3, seed=1, labels="binary")
    model = MLP(2, nouts, dropout=0.5, seed=0)
    eager = []

    def measure(epoch, history):
        with mode(model, False), no_grad():
            eager.append(get_loss(loss)([model(row) for row in Xv.tolist()], yv.tolist()).data)

    h = fit(model, X, y, loss=loss, optimizer="adam", lr=0.03, epochs=5, progress=False, validation=(Xv, yv),
            callback=measure)
    assert len(set(h.val_loss)) == 5  # the weights changed every epoch, and so did the measured loss
    assert h.val_loss == pytest.approx(eager, rel=1e-12, abs=0)


def test_an_eager_fit_validates_a_module_that_does_not_trace_eagerly():
    from microgradx.nn.losses import mse
    from microgradx.nn.module import Module

    class Branchy(Module):  # Python control flow on a Value: jit refuses to trace it
        def __init__(self):
            self.w = Value(0.5)

        def _own_parameters(self):
            return [("w", self.w)]

        def forward(self, x):
            return self.w * x[0] if x[0] > 0 else self.w * x[0] * 2.0

    X, y = np.array([[1.0], [-1.0]]), np.array([1.0, -2.0])
    Xv, yv = np.array([[2.0], [-3.0]]), np.array([2.0, -6.0])
    model = Branchy()
    h = fit(model, X, y, loss="mse", lr=0.1, epochs=3, progress=False, validation=(Xv, yv))
    with no_grad():
        expected = mse([model(row) for row in Xv.tolist()], yv.tolist()).data
    assert h.val_loss[-1] == expected and expected > 0


def test_a_validation_row_outside_the_models_domain_raises_the_engines_error_in_an_eager_fit():
    from microgradx.engine import DomainError
    from microgradx.nn.module import Module

    class LogModel(Module):
        def __init__(self):
            self.w = Value(1.0)

        def _own_parameters(self):
            return [("w", self.w)]

        def forward(self, x):
            return (self.w * x[0]).log()

    X, y = np.array([[1.0], [2.0]]), np.array([0.0, 0.7])
    with pytest.raises(DomainError, match=r"^log\(x\) with x = -1\.0 is undefined: log needs x > 0"):
        fit(LogModel(), X, y, loss="mse", lr=0.0, epochs=1, progress=False,
            validation=(np.array([[1.0], [-1.0]]), np.array([0.0, 0.0])))


def test_a_plain_callable_model_is_validated_by_calling_it_on_every_row():
    calls = []
    w = Value(0.5)

    class Plain:  # not a Module: whatever it does per call, it is called per row, as in training
        def __call__(self, x):
            calls.append(x)
            return w * x[0]

        def parameters(self):
            return [w]

    X, y = np.array([[1.0], [2.0]]), np.array([1.0, 2.0])
    Xv = np.array([[3.0], [4.0], [5.0]])
    fit(Plain(), X, y, loss="mse", lr=0.1, epochs=2, progress=False, validation=(Xv, np.array([3.0, 4.0, 5.0])))
    assert [row for row in calls if row in Xv.tolist()] == Xv.tolist() * 2


def test_an_eager_fit_validates_a_module_through_one_trace_not_a_graph_per_validation_row():
    from microgradx.nn.module import Module

    class Counted(Module):  # an MLP that counts its forward passes
        def __init__(self):
            self.mlp, self.calls = MLP(2, [8, 1], dropout=0.5, seed=0), 0

        def _children(self):
            return [("mlp", self.mlp)]

        def forward(self, x):
            self.calls += 1
            return self.mlp(x)

    X, y = data.moons(n=10, seed=0, labels="binary")
    Xv, yv = data.moons(n=50, seed=1, labels="binary")
    model = Counted()
    fit(model, X, y, loss="bce_with_logits", epochs=4, progress=False, validation=(Xv, yv))
    # every training row every epoch, the first row twice to count the outputs (for y and for y_val), and one
    # trace for validation (eagerly it would be 4 × 50 calls more)
    assert model.calls == 10 * 4 + 2 + 1
