"""Training: ``fit`` runs the loop every notebook writes by hand::

    for epoch in range(epochs):
        for batch in batches:
            scores = [model(x) for x in batch]        # forward
            loss = loss_fn(scores, targets) + l2      # one Value
            opt.zero_grad(); loss.backward()          # backward
            opt.step()                                # update

and records the loss and accuracy of every epoch in a :class:`History`. It is
made of parts, each replaceable on its own: the data are checked (``arrays``),
cut into :func:`batches`, each batch is one :class:`~microgradx.nn.steps.Step`
(eager, or compiled with the parameters in one vector), every epoch is recorded
in the ``History``, and :class:`StopRules` decide whether to go on.
``predict``, ``accuracy``, ``decision_boundary`` and ``grad_norms`` live in
``evaluate`` and are importable from here too.
"""

from __future__ import annotations

import math
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from tqdm import TqdmWarning

with warnings.catch_warnings():
    # Without ipywidgets, tqdm.auto warns and draws a text bar, which Jupyter shows fine
    # (and which, unlike a widget, still reads "100%" in a notebook saved with its outputs).
    warnings.simplefilter("ignore", TqdmWarning)
    from tqdm.auto import tqdm

if sys.platform == "emscripten":  # the browser course: no threads, so no thread to watch slow bars
    tqdm.monitor_interval = 0

from ..engine import Value
from .args import positive_int, positive_int_or_none, real, real_or_none
from .arrays import features, labels
from .evaluate import accuracy, decision_boundary, grad_norms, group_norms, hits, layer_groups, mode, predict
from .history import History
from .losses import get_loss
from .optim import LRScheduler, Optimizer, make_optimizer
from .steps import CompiledStep, EagerStep, Step, check_targets, n_outputs

__all__ = ["fit", "History", "NonFiniteLossError", "StopRules", "batches",
           "predict", "accuracy", "decision_boundary", "grad_norms"]


class NonFiniteLossError(FloatingPointError):
    """Training diverged: the loss (or a gradient) stopped being a finite number."""


def batches(n: int, size: int, shuffle: bool, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch's batches as row indices: shuffled with ``rng`` when there is more than one batch."""
    order = rng.permutation(n) if (shuffle and size < n) else np.arange(n)
    return [order[start:start + size] for start in range(0, n, size)]


@dataclass
class StopRules:
    """When to end training early: a target loss or accuracy, no validation progress, or the callback."""

    target_loss: float | None = None
    target_accuracy: float | None = None
    patience: int | None = None
    min_delta: float = 0.0
    callback: Callable[[int, History], Any] | None = None
    best: float = math.inf  # the best validation loss so far
    since_best: int = 0     # epochs since it improved by more than min_delta

    def reason(self, epoch: int, history: History) -> str:
        """Why to stop after this epoch ("" to go on). Call once per epoch: it runs the callback."""
        if history.val_loss and history.val_loss[-1] < self.best - self.min_delta:
            self.best, self.since_best = history.val_loss[-1], 0
        elif history.val_loss:
            self.since_best += 1
        if self.callback is not None and self.callback(epoch, history) is True:
            return f"callback stopped training at epoch {epoch}"
        loss, acc = history.loss[-1], history.accuracy[-1]
        if self.target_loss is not None and loss <= self.target_loss:
            return f"loss {loss:.4g} reached target {self.target_loss:g} at epoch {epoch}"
        if self.target_accuracy is not None and acc >= self.target_accuracy:
            return f"accuracy {acc:.3f} reached target {self.target_accuracy:g} at epoch {epoch}"
        if self.patience is not None and self.since_best >= self.patience:
            return (f"validation loss did not improve for {self.patience} epochs "
                    f"(best {self.best:.4g}); stopped at epoch {epoch}")
        return ""


# --------------------------------------------------------------------- checking the arguments


def _check_options(epochs: Any, batch_size: Any, l2_alpha: Any, min_delta: Any, clip: Any, target_loss: Any,
                   target_accuracy: Any, patience: Any, validation: Any) -> tuple[int, int | None]:
    """fit's numeric options checked before any training; returns (epochs, batch_size) as ints."""
    counts = positive_int("epochs", epochs), positive_int_or_none("batch_size", batch_size)
    real("l2_alpha", l2_alpha)
    real("min_delta", min_delta)
    real_or_none("clip_grad_norm", clip, open_low=True, note="the largest gradient norm a step may take")
    real_or_none("target_loss", target_loss, low=-math.inf)
    real_or_none("target_accuracy", target_accuracy, 0.0, 1.0, what="a fraction")
    positive_int_or_none("patience", patience)
    if patience is not None and validation is None:
        raise ValueError("patience needs validation=(X_val, y_val) to watch")
    return counts


def _data(model: Any, X: Any, y: Any, validation: Any) -> tuple[np.ndarray, np.ndarray, Any]:
    """Training and validation arrays, checked before any training: shapes, lengths, finite numbers."""
    if not callable(model) or not callable(getattr(model, "parameters", None)):
        raise TypeError(f"fit trains a model: a Module such as MLP(2, [16, 1]), or a callable with a parameters() "
                        f"method; got {type(model).__name__}")
    Xs = features(X)
    ys = labels(y, len(Xs))
    if not len(Xs):
        raise ValueError("no training data: X is empty")
    nin = getattr(model, "nin", None)
    if isinstance(nin, int) and Xs.shape[1] != nin:
        raise ValueError(f"X has {Xs.shape[1]} columns but the model takes {nin} inputs")
    if validation is None:
        return Xs, ys, None
    if not isinstance(validation, (tuple, list)) or len(validation) != 2:
        raise ValueError("validation must be a pair (X_val, y_val)")
    Xv = features(validation[0], "validation X")
    yv = labels(validation[1], len(Xv), "validation y", rows_of="validation X")
    if Xv.shape[1] != Xs.shape[1] or not len(Xv) or yv.shape[1:] != ys.shape[1:]:
        raise ValueError(f"validation data must be shaped like the training data: X {Xs.shape}, y {ys.shape}; "
                         f"got X {Xv.shape}, y {yv.shape}")
    return Xs, ys, (Xv, yv)


def _optimizer(optimizer: Any, model: Any, lr: float, scheduler: Any, callback: Any
               ) -> tuple[Optimizer, LRScheduler | None]:
    if callback is not None and not callable(callback):
        raise TypeError(f"callback must be a function callback(epoch, history), got {type(callback).__name__}")
    if isinstance(optimizer, Optimizer):
        mine = set(map(id, model.parameters()))
        if not any(id(p) in mine for p in optimizer.params):
            raise ValueError("the optimizer holds none of this model's parameters (was it made for another model?): "
                             "build it with the model's own, e.g. SGD(model.parameters(), lr=0.1)")
    opt = optimizer if isinstance(optimizer, Optimizer) else make_optimizer(optimizer, model.parameters(), lr)
    if scheduler is not None and not isinstance(scheduler, LRScheduler) and not callable(scheduler):
        raise TypeError(f"scheduler must be a scheduler or a function of the optimizer, got {type(scheduler).__name__}")
    sched = scheduler(opt) if scheduler is not None and not isinstance(scheduler, LRScheduler) else scheduler
    if sched is not None and (not isinstance(sched, LRScheduler) or sched.optimizer is not opt):
        raise ValueError("scheduler must be a scheduler of the optimizer fit uses (or a function of it making one, "
                         "e.g. lambda opt: StepLR(opt, 10)); this one would change another optimizer's lr")
    return opt, sched


# --------------------------------------------------------------------- one epoch


def _threshold_for(loss: Any) -> float:
    return 0.5 if getattr(loss, "__name__", "") == "bce" else 0.0


def _diverged(why: str, epoch: int, k: int, lr: float) -> NonFiniteLossError:
    return NonFiniteLossError(f"training diverged at epoch {epoch}, step {k}: {why.rstrip('.')}. Lower the learning "
                              f"rate (now {lr:g}) or clip gradients (fit(..., clip_grad_norm=1.0)).")


def _train_epoch(step: Step, y: np.ndarray, rows_per_batch: list[np.ndarray], opt: Optimizer, clip: float | None,
                 groups: list[tuple[str, np.ndarray]], labels_like: tuple[float, float], epoch: int
                 ) -> tuple[float, float, dict[str, float] | None]:
    """Every batch's step; returns the epoch's (mean loss, training accuracy, mean gradient norms per layer)."""
    total, scores, norms = 0.0, [], []
    for k, rows in enumerate(rows_per_batch, start=1):
        try:
            loss, batch_scores = step(rows)
        except ArithmeticError as e:
            raise _diverged(str(e), epoch, k, opt.lr) from e
        g = step.gradient()
        if not math.isfinite(loss):
            raise _diverged(f"the loss became {loss}", epoch, k, opt.lr)
        if not np.isfinite(g).all():
            i = int(np.flatnonzero(~np.isfinite(g))[0])
            raise _diverged(f"the gradient of {step.params[i].label or 'a parameter'} became {g[i]}", epoch, k, opt.lr)
        if groups:
            norms.append(group_norms(g, groups))
        step.update(clip)
        total += loss * len(rows)
        scores.append(batch_scores)
    seen = np.concatenate(rows_per_batch)
    acc = float(np.mean(hits(np.concatenate(scores), y[seen], *labels_like)))
    mean_norms = {name: float(np.mean([d[name] for d in norms])) for name in norms[0]} if norms else None
    return total / len(seen), acc, mean_norms


def _validate(model: Any, step: Step, data: tuple[np.ndarray, np.ndarray], labels_like: tuple[float, float]
              ) -> tuple[float, float]:
    """(loss, accuracy) on the validation data, in evaluation mode (dropout off)."""
    with mode(model, False):
        loss, scores = step.evaluate(*data)
    return loss, float(np.mean(hits(scores, data[1], *labels_like)))


def _postfix(h: History) -> dict[str, str]:
    post = {"loss": f"{h.loss[-1]:.4f}", "acc": f"{h.accuracy[-1]:.3f}"}
    if h.val_loss:
        post["val_loss"] = f"{h.val_loss[-1]:.4f}"
    return post


def _end_epoch(epoch: int, history: History, rules: StopRules, sched: LRScheduler | None, bar: Any, step: Step
               ) -> None:
    """Show the epoch on the progress bar, step the schedule, and ask the stop rules (they run the callback)."""
    if bar is not None:
        bar.set_postfix(_postfix(history), refresh=False)
    if sched is not None:
        sched.step()
    history.stopped = rules.reason(epoch, history)
    if rules.callback is not None:  # it may have changed the parameter Values: the step reads them again
        step.reload()


# --------------------------------------------------------------------- fit


def fit(model: Any, X: Any, y: Any, loss: str | Callable[..., Value] = "hinge",
        optimizer: str | Optimizer = "sgd", lr: float = 0.1, epochs: int = 100, batch_size: int | None = None,
        l2_alpha: float = 0.0, scheduler: LRScheduler | Callable[[Optimizer], LRScheduler] | None = None,
        callback: Callable[[int, History], Any] | None = None, progress: bool = True,
        target_loss: float | None = None, target_accuracy: float | None = None,
        validation: tuple[Any, Any] | None = None, patience: int | None = None, min_delta: float = 0.0,
        record_grad_norms: bool = False, shuffle: bool = True, seed: int = 0, compiled: bool = False,
        clip_grad_norm: float | None = None) -> History:
    """Train ``model`` on ``(X, y)`` and return the per-epoch :class:`History`.

    * ``loss``: a name from :data:`microgradx.losses.LOSSES` or ``fn(scores, targets) -> Value``.
    * ``optimizer``: an :class:`~microgradx.optim.Optimizer`, or a name (``'sgd'``, ``'adam'``, ...)
      built with ``lr`` on ``model.parameters()``.
    * ``batch_size``: ``None`` for full-batch steps; else the data, shuffled every epoch (``seed``), in mini-batches.
    * ``l2_alpha``: adds alpha·Σ p² to the loss (micrograd's regulariser).
    * ``clip_grad_norm``: before each update, scale the gradient so that √(Σ g²) ≤ this.
    * ``scheduler``: stepped once per epoch; a scheduler, or a function of the optimizer making one.
    * ``callback(epoch, history)`` runs after every epoch; returning ``True`` stops training.
    * stops early when the epoch loss reaches ``target_loss`` or the accuracy reaches
      ``target_accuracy``, or when the loss on ``validation=(X_val, y_val)`` (measured in
      evaluation mode) has not improved by ``min_delta`` for ``patience`` epochs.
    * ``record_grad_norms``: keep the per-layer gradient norm of each epoch (mean over its steps).
    * ``compiled``: trace the per-sample loss once with :func:`microgradx.jit.jit` and run each step for
      the whole batch with numpy (same loss, same gradients, many times faster). The parameter Values
      are updated before every call of ``callback`` and when ``fit`` returns or raises. Eager training
      still scores a Module's validation loss compiled, as ``predict(compiled=True)`` does.

    The model trains in training mode (its own mode is restored at the end). Labels of shape (n, 1) are
    read as (n,). A loss or gradient that becomes non-finite raises :class:`NonFiniteLossError`.
    """
    loss_fn = get_loss(loss)
    Xs, ys, val = _data(model, X, y, validation)
    epochs, batch_size = _check_options(epochs, batch_size, l2_alpha, min_delta, clip_grad_norm, target_loss,
                                        target_accuracy, patience, validation)
    opt, sched = _optimizer(optimizer, model, lr, scheduler, callback)
    rules = StopRules(target_loss, target_accuracy, patience, min_delta, callback)
    history, rng, n = History(), np.random.default_rng(seed), len(Xs)
    labels_like = (_threshold_for(loss_fn), -1.0 if np.any(ys == -1) else 0.0)  # threshold; {-1, +1} or {0, 1}
    with mode(model, True):
        step: Step = (CompiledStep if compiled else EagerStep)(model, loss_fn, Xs, ys, l2_alpha, opt)
        if val is not None:  # checked now, not at the end of the first epoch
            check_targets(loss_fn, val[1], n_outputs(model, Xs), "validation y")
        groups = layer_groups(model, step.params) if record_grad_norms else []
        with tqdm(range(1, epochs + 1), desc="train", unit="epoch", disable=not progress, leave=True) as bar:
            try:
                for epoch in bar:
                    lr_now, started = opt.lr, time.perf_counter()
                    rows = batches(n, batch_size or n, shuffle, rng)
                    loss_e, acc, norms = _train_epoch(step, ys, rows, opt, clip_grad_norm, groups, labels_like, epoch)
                    seconds = time.perf_counter() - started
                    if callback is not None:  # the only user code that runs inside fit sees the current numbers
                        step.sync()
                    measured = _validate(model, step, val, labels_like) if val is not None else None
                    history.record(loss_e, acc, lr_now, norms, measured, seconds)
                    _end_epoch(epoch, history, rules, sched, bar if progress else None, step)
                    if history.stopped:
                        break
            finally:
                step.sync()
    return history
