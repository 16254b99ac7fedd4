"""Training loops and helpers: ``fit``, ``predict``, ``accuracy``, ``decision_boundary``.

``fit`` runs the loop every notebook writes by hand::

    for epoch in range(epochs):
        for batch in batches:
            scores = [model(x) for x in batch]        # forward
            loss = loss_fn(scores, targets) + l2      # one Value
            opt.zero_grad(); loss.backward()          # backward
            opt.step()                                # update

and records the loss and accuracy of every epoch in a :class:`History`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from tqdm import TqdmWarning

with warnings.catch_warnings():
    # Without ipywidgets, tqdm.auto warns and draws a text bar, which Jupyter shows fine
    # (and which, unlike a widget, still reads "100%" in a notebook saved with its outputs).
    warnings.simplefilter("ignore", TqdmWarning)
    from tqdm.auto import tqdm

from ..compiled.jit import compile_loss, jit
from ..engine import Value, gc_paused, no_grad
from .losses import get_loss, l2
from .modules import Module
from .optim import LRScheduler, Optimizer, make_optimizer

__all__ = ["fit", "History", "NonFiniteLossError", "predict", "accuracy", "decision_boundary", "grad_norms"]


class NonFiniteLossError(FloatingPointError):
    """Training diverged: the loss (or a gradient) stopped being a finite number."""


@dataclass
class History:
    """What ``fit`` measured, one entry per epoch (``val_*`` only with validation data)."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    grad_norms: list[dict[str, float]] = field(default_factory=list)
    stopped: str = ""  # why training ended early ("" when all epochs ran)

    @property
    def epochs(self) -> int:
        return len(self.loss)

    def as_dict(self) -> dict[str, Any]:
        return {"loss": self.loss, "accuracy": self.accuracy, "val_loss": self.val_loss,
                "val_accuracy": self.val_accuracy, "lr": self.lr, "grad_norms": self.grad_norms,
                "stopped": self.stopped}


# --------------------------------------------------------------------- helpers


def _rows(X: Any) -> list[list[float]]:
    arr = np.asarray(X, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"X must be a 2-D array (one row per sample), got shape {arr.shape}")
    return arr.tolist()


def _score_data(out: Any) -> Any:
    """A model output as floats: one float, or a list for multi-output models."""
    if isinstance(out, Value):
        return out.data
    return [o.data for o in out]


def predict(model: Callable[[Any], Any], X: Any) -> np.ndarray:
    """The model's raw outputs for every row of ``X``: shape (n,) or (n, k); no graph is recorded."""
    with no_grad():
        scores = [_score_data(model(row)) for row in _rows(X)]
    return np.asarray(scores, dtype=np.float64)


def _predicted_labels(scores: np.ndarray, y: np.ndarray, threshold: float) -> np.ndarray:
    if scores.ndim == 2:
        return np.argmax(scores, axis=1)
    positive = scores > threshold
    if np.all(np.isin(y, (-1.0, 1.0))) and np.any(y == -1):
        return np.where(positive, 1.0, -1.0)
    return positive.astype(np.float64)


def accuracy(model_or_scores: Any, X: Any = None, y: Any = None, threshold: float = 0.0) -> float:
    """Fraction of correct predictions.

    ``accuracy(model, X, y)`` or ``accuracy(scores, y=y)``. Multi-output
    scores predict their argmax (labels are class indices); a single score
    predicts the positive class when it is above ``threshold`` (0 for scores
    and logits, use 0.5 for probabilities); labels may be {-1, +1} or {0, 1}.
    """
    if y is None:
        raise ValueError("accuracy needs the labels y")
    if callable(model_or_scores):
        scores = predict(model_or_scores, X)
    else:
        scores = np.asarray(model_or_scores, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    if len(scores) != len(ys):
        raise ValueError(f"got {len(scores)} predictions but {len(ys)} labels")
    return float(np.mean(_predicted_labels(scores, ys, threshold) == ys))


def decision_boundary(model: Callable[[Any], Any], X: Any, resolution: int = 60, margin: float = 0.5
                      ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores on a grid covering ``X`` (2-D inputs), for ``plt.contourf(xx, yy, scores)``.

    Returns ``(xx, yy, scores)``: meshgrids of shape (resolution, resolution)
    spanning the data plus ``margin``, and the model's outputs there, shape
    (resolution, resolution) or (resolution, resolution, k) for k outputs.
    """
    pts = np.asarray(X, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"decision_boundary draws 2-D inputs: X must have shape (n, 2), got {pts.shape}")
    if resolution < 2:
        raise ValueError(f"resolution must be at least 2, got {resolution}")
    (x0, y0), (x1, y1) = pts.min(axis=0) - margin, pts.max(axis=0) + margin
    xx, yy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    scores = predict(model, np.column_stack([xx.ravel(), yy.ravel()]))
    return xx, yy, scores.reshape(xx.shape + scores.shape[1:])


def _layer_groups(model: Any) -> list[tuple[str, list[Value]]]:
    """Parameters grouped per layer (``layers.0``, ...) for an MLP, else one group."""
    if isinstance(model, Module):
        groups: dict[str, list[Value]] = {}
        for name, p in model.named_parameters():
            parts = name.split(".")
            key = ".".join(parts[:2]) if parts[0] == "layers" else "model"
            groups.setdefault(key, []).append(p)
        return list(groups.items())
    return [("model", list(model.parameters()))]


def grad_norms(model: Any) -> dict[str, float]:
    """√(Σ g²) of the current gradients, per layer: ``{'layers.0': 0.8, 'layers.1': 0.05}``."""
    return {k: math.sqrt(sum(float(p.grad) ** 2 for p in ps)) for k, ps in _layer_groups(model)}


# --------------------------------------------------------------------- fit


def _threshold_for(loss: Any) -> float:
    return 0.5 if getattr(loss, "__name__", "") == "bce" else 0.0


def _eager_step(model: Any, loss_fn: Callable[..., Value], rows: list[list[float]], targets: list[Any],
                alpha: float, opt: Optimizer) -> tuple[float, list[Any]]:
    """Forward and backward for one batch in the eager engine; fills the gradients.

    Returns (loss, scores as floats). The graph is dropped before returning, so
    reference counting frees it at once; the cyclic GC is paused meanwhile
    because it would only rescan the growing graph (the engine makes no cycles).
    """
    with gc_paused():
        scores = [model([Value(v) for v in row]) for row in rows]
        total = loss_fn(scores, targets)
        if alpha:
            total = total + l2(model.parameters(), alpha)
        opt.zero_grad()
        total.backward()
        return total.data, [_score_data(s) for s in scores]


class _CompiledStep:
    """``_eager_step`` through the compiled path: the per-sample loss is traced once, then run batched.

    The batch loss is the mean of per-sample losses (a batch of one given to
    ``loss_fn``), plus the L2 penalty, which jit computes once since it does not
    depend on the sample. Class-index labels become one-hot rows, so the traced
    graph reads each sample's target as an input.
    """

    def __init__(self, model: Any, loss_fn: Callable[..., Value], targets: list[Any]) -> None:
        if any(getattr(m, "dropout", 0.0) for m in model.modules()):
            raise ValueError("fit(compiled=True) traces the model once, so dropout would keep one fixed mask; "
                             "train with dropout eagerly (compiled=False), or build the model with dropout=0")
        self.n_classes = k = _n_outputs(model)
        # The loss checks its targets (±1 for hinge, [0, 1] for bce, ...) on plain numbers: once, here.
        loss_fn([[0.5] * k if k > 1 else 0.5 for _ in targets], targets)
        self._programs: dict[float, Any] = {}
        self.model, self.loss_fn = model, loss_fn
        self.scores = jit(lambda x: model(x))

    def _loss(self, alpha: float) -> Any:
        if alpha not in self._programs:
            model, loss_fn = self.model, self.loss_fn

            def per_sample(score: Any, target: Any) -> Value:
                loss = loss_fn([score], [target])  # a batch of one; jit takes the mean over the batch
                return loss + l2(model.parameters(), alpha) if alpha else loss

            self._programs[alpha] = compile_loss(model, per_sample)
        return self._programs[alpha]

    def _targets(self, targets: list[Any]) -> np.ndarray:
        t = np.asarray(targets, dtype=float)
        if self.n_classes > 1 and t.ndim == 1:  # class indices -> one-hot rows
            return np.eye(self.n_classes)[t.astype(int)]
        return t

    def __call__(self, model: Any, loss_fn: Callable[..., Value], rows: list[list[float]], targets: list[Any],
                 alpha: float, opt: Optimizer) -> tuple[float, list[Any]]:
        X = np.asarray(rows, dtype=float)
        opt.zero_grad()
        loss, _ = self._loss(alpha).value_and_grad(X, self._targets(targets))  # adds into every .grad
        out = self.scores(X)
        scores = np.stack(out, axis=1).tolist() if isinstance(out, list) else out.tolist()
        return float(loss), scores


def _n_outputs(model: Any) -> int:
    """How many scores the model gives per sample (its last layer's width)."""
    layers = getattr(model, "layers", None)
    last = layers[-1] if layers else model
    return len(getattr(last, "neurons", [last]))


def _fraction_correct(scores: list[Any], targets: list[Any], threshold: float, negative: float) -> float:
    """Accuracy from float scores (one per sample, or a list per sample) without numpy overhead."""
    hits = 0
    for s, t in zip(scores, targets, strict=True):
        if isinstance(s, list):
            pred: float = max(range(len(s)), key=s.__getitem__)
        else:
            pred = 1.0 if s > threshold else negative
        hits += pred == t
    return hits / len(targets)


def _evaluate(model: Any, loss_fn: Callable[..., Value], rows: list[list[float]], targets: list[Any],
              threshold: float, negative: float) -> tuple[float, float]:
    with no_grad():
        outs = [model(row) for row in rows]
        loss = loss_fn(outs, targets).data
    return loss, _fraction_correct([_score_data(o) for o in outs], targets, threshold, negative)


def fit(model: Any, X: Any, y: Any, loss: str | Callable[..., Value] = "hinge",
        optimizer: str | Optimizer = "sgd", lr: float = 0.1, epochs: int = 100, batch_size: int | None = None,
        l2_alpha: float = 0.0, scheduler: LRScheduler | Callable[[Optimizer], LRScheduler] | None = None,
        callback: Callable[[int, History], Any] | None = None, progress: bool = True,
        target_loss: float | None = None, target_accuracy: float | None = None,
        validation: tuple[Any, Any] | None = None, patience: int | None = None, min_delta: float = 0.0,
        record_grad_norms: bool = False, shuffle: bool = True, seed: int = 0, compiled: bool = False) -> History:
    """Train ``model`` on ``(X, y)`` and return the per-epoch :class:`History`.

    * ``loss``: a name from :data:`microgradx.losses.LOSSES` or ``fn(scores, targets) -> Value``.
    * ``optimizer``: an :class:`~microgradx.optim.Optimizer`, or a name (``'sgd'``, ``'adam'``, ...)
      built with ``lr`` on ``model.parameters()``.
    * ``batch_size``: ``None`` for full-batch steps (one step per epoch); otherwise the
      data are shuffled every epoch (with ``seed``) and cut into mini-batches.
    * ``l2_alpha``: adds alpha·Σ p² to the loss (micrograd's regulariser).
    * ``scheduler``: stepped once per epoch; a scheduler, or a function of the optimizer making one.
    * ``callback(epoch, history)`` runs after every epoch; returning ``True`` stops training.
    * stops early when the epoch loss reaches ``target_loss`` or the accuracy reaches
      ``target_accuracy``, or when the loss on ``validation=(X_val, y_val)`` has not improved
      by ``min_delta`` for ``patience`` epochs.
    * ``record_grad_norms``: keep the per-layer gradient norm of each epoch (mean over its steps).
    * ``compiled``: trace the per-sample loss once with :func:`microgradx.jit.jit` and run each
      step for the whole batch with numpy (same loss, same gradients, many times faster).

    A loss or gradient that becomes non-finite raises :class:`NonFiniteLossError`
    naming the epoch and step.
    """
    loss_fn = get_loss(loss)
    rows = _rows(X)
    targets = np.asarray(y).tolist()
    if len(rows) != len(targets):
        raise ValueError(f"X has {len(rows)} rows but y has {len(targets)} labels")
    if not rows:
        raise ValueError("no training data: X is empty")
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive int, got {epochs!r}")
    if batch_size is not None and (not isinstance(batch_size, int) or batch_size < 1):
        raise ValueError(f"batch_size must be a positive int or None, got {batch_size!r}")
    if patience is not None and validation is None:
        raise ValueError("patience needs validation=(X_val, y_val) to watch")
    opt = optimizer if isinstance(optimizer, Optimizer) else make_optimizer(optimizer, model.parameters(), lr)
    sched = scheduler(opt) if scheduler is not None and not isinstance(scheduler, LRScheduler) else scheduler
    threshold = _threshold_for(loss_fn)
    negative = -1.0 if any(t == -1 for t in targets) else 0.0  # labels {-1, +1} or {0, 1}
    if validation is not None:
        val_rows, val_targets = _rows(validation[0]), np.asarray(validation[1]).tolist()
    if hasattr(model, "train"):
        model.train()



    # One optimisation step's forward and backward: the eager engine, or the
    # same loss traced once and run for the whole batch with numpy. Both fill
    # the gradients and return the loss and the scores as floats.
    step_fn = _CompiledStep(model, loss_fn, targets) if compiled else _eager_step
    history = History()
    rng = np.random.default_rng(seed)
    n = len(rows)
    size = n if batch_size is None else min(batch_size, n)
    best, since_best = math.inf, 0
    params = model.parameters()
    bar = tqdm(range(1, epochs + 1), desc="train", unit="epoch", disable=not progress, leave=True)
    try:
        for epoch in bar:
            order = rng.permutation(n) if (shuffle and size < n) else np.arange(n)
            total, scores_all, targets_all, norms = 0.0, [], [], []
            history.lr.append(opt.lr)
            for step, start in enumerate(range(0, n, size), start=1):
                idx = order[start:start + size]
                b_rows, b_targets = [rows[i] for i in idx], [targets[i] for i in idx]
                try:
                    loss_v, scores = step_fn(model, loss_fn, b_rows, b_targets, l2_alpha, opt)
                except ArithmeticError as e:
                    why = str(e).rstrip(".")
                    raise NonFiniteLossError(
                        f"training diverged at epoch {epoch}, step {step}: {why}. Lower the learning rate "
                        f"(now {opt.lr:g}) or clip gradients.") from e
                _check_finite(loss_v, params, epoch, step, opt.lr)
                if record_grad_norms:
                    norms.append(grad_norms(model))
                opt.step()
                total += loss_v * len(idx)
                scores_all.extend(scores)
                targets_all.extend(b_targets)
            epoch_loss = total / n
            acc = _fraction_correct(scores_all, targets_all, threshold, negative)
            history.loss.append(epoch_loss)
            history.accuracy.append(acc)
            if norms:
                history.grad_norms.append({k: float(np.mean([d[k] for d in norms])) for k in norms[0]})
            post = {"loss": f"{epoch_loss:.4f}", "acc": f"{acc:.3f}"}
            if validation is not None:
                v_loss, v_acc = _evaluate(model, loss_fn, val_rows, val_targets, threshold, negative)
                history.val_loss.append(v_loss)
                history.val_accuracy.append(v_acc)
                post["val_loss"] = f"{v_loss:.4f}"
                if v_loss < best - min_delta:
                    best, since_best = v_loss, 0
                else:
                    since_best += 1
            if progress:
                bar.set_postfix(post, refresh=False)
            if sched is not None:
                sched.step()
            if callback is not None and callback(epoch, history) is True:
                history.stopped = f"callback stopped training at epoch {epoch}"
                break
            if target_loss is not None and epoch_loss <= target_loss:
                history.stopped = f"loss {epoch_loss:.4g} reached target {target_loss:g} at epoch {epoch}"
                break
            if target_accuracy is not None and acc >= target_accuracy:
                history.stopped = f"accuracy {acc:.3f} reached target {target_accuracy:g} at epoch {epoch}"
                break
            if patience is not None and since_best >= patience:
                history.stopped = (f"validation loss did not improve for {patience} epochs "
                                   f"(best {best:.4g}); stopped at epoch {epoch}")
                break
    finally:
        bar.close()
    return history


def _check_finite(loss: float, params: Sequence[Value], epoch: int, step: int, lr: float) -> None:
    if not math.isfinite(loss):
        raise NonFiniteLossError(f"the loss became {loss} at epoch {epoch}, step {step}. "
                                 f"Lower the learning rate (now {lr:g}) or clip gradients.")
    for p in params:
        if not math.isfinite(float(p.grad)):
            raise NonFiniteLossError(f"the gradient of {p.label or 'a parameter'} became {float(p.grad)} at "
                                     f"epoch {epoch}, step {step}. Lower the learning rate (now {lr:g}) "
                                     "or clip gradients.")
