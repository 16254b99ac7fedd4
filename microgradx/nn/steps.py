"""One training step behind one small protocol, :class:`Step`: eager (``EagerStep``) or compiled (``CompiledStep``).

``fit`` drives a step like this, for every batch (``rows``: indices into the training data)::

    loss, scores = step(rows)        # forward and backward: the gradient is filled in
    g = step.gradient()              # ∂loss/∂p, one entry per optimizer parameter (checked, recorded)
    step.update(clip_grad_norm)      # clip, then the optimizer's update
    ...
    step.sync()                      # the parameter Values hold the current numbers (before user code runs)
    step.reload()                    # user code may have changed them: read them back

``EagerStep`` builds the graph of the batch with ``Value`` and calls ``backward()``;
the parameters live in the Values, so ``sync`` and ``reload`` do nothing. Its
``evaluate`` (validation, in evaluation mode) scores a Module as ``predict(compiled=True)`` does.
``CompiledStep`` traces the per-sample loss once and keeps the parameters in one
numpy vector for the whole fit: each step is the compiled forward and backward
pass on that vector and the optimizer's vector update (``Optimizer.update``), with
no Python loop over parameters. The Values are written at ``sync``: before each
call of fit's callback and at the end of ``fit``, also when it ends with an exception.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

import numpy as np

from ..compiled.jit import jit
from ..engine import Value, gc_paused, no_grad
from ..modes import TracingError
from .evaluate import predict, score_data
from .losses import l2
from .modules import Module
from .optim import Optimizer, clip_grad_norm, clip_grad_vector, data_vector, grad_vector

__all__ = ["Step", "EagerStep", "CompiledStep", "n_outputs", "check_targets"]


class Step(Protocol):
    """One optimisation step on a batch; see the module docstring for the order of calls."""

    params: list[Value]  # what the gradient vector's entries belong to: the optimizer's parameters

    def __call__(self, rows: np.ndarray) -> tuple[float, np.ndarray]:
        """Forward and backward on the training rows ``rows``: (mean loss, scores (b,) or (b, k))."""
        ...

    def gradient(self) -> np.ndarray:
        """The gradient of the last call, ordered like ``params`` (clipping scales it in place)."""
        ...

    def update(self, clip: float | None) -> None:
        """Clip the gradient's norm to ``clip`` (if given), then take the optimizer's step."""
        ...

    def evaluate(self, X: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """(mean loss without the L2 penalty, scores) on other data, recording no graph."""
        ...

    def sync(self) -> None:
        """Make the parameter Values hold the current numbers (and the last gradient)."""
        ...

    def reload(self) -> None:
        """Read the parameters back from the Values (after user code ran)."""
        ...


def n_outputs(model: Any, X: np.ndarray) -> int:
    """How many scores ``model`` gives per sample: as the model says, else counted on the first row."""
    n = getattr(model, "n_outputs", None)
    if isinstance(n, int):
        return n
    with no_grad():
        out = model(X[0].tolist())
    return 1 if isinstance(out, Value) else len(out)


def _checked(loss: Any) -> Value:
    if not isinstance(loss, Value):
        raise TypeError(f"the loss function must return a Value built from the scores it is given, got "
                        f"{type(loss).__name__}: {loss!r:.40}")
    return loss


def check_targets(loss_fn: Callable[..., Value], y: np.ndarray, k: int, what: str = "y") -> None:
    """The loss's own checks (±1 for hinge, [0, 1] for bce, ...) on every target, before any training.

    Each distinct target is checked once, on plain numbers. If one is refused, the
    check runs again over all of ``y`` in order, so the error names the real row of
    ``y`` (not the target's place among the distinct ones, nor in a shuffled batch).
    Targets other than the training ``y`` get their name (``what``) in front of the message.
    """
    def run(targets: np.ndarray) -> None:
        with no_grad():
            _checked(loss_fn([[0.5] * k if k > 1 else 0.5 for _ in range(len(targets))], targets.tolist()))

    try:
        try:
            run(np.unique(y, axis=0))
        except (ValueError, TypeError):
            run(y)
            raise  # (not refused row by row: the loss judges the batch as a whole; its own words stand)
    except (ValueError, TypeError) as e:
        if what == "y":
            raise
        raise type(e)(f"{what}: {e}") from None


def _scores(outs: list[Any]) -> np.ndarray:
    return np.asarray([score_data(s) for s in outs], dtype=np.float64)


class EagerStep:
    """A step in the eager engine: the batch's graph built with ``Value``, then ``backward()``.

    The graph is dropped before returning, so reference counting frees it at once;
    the cyclic GC is paused meanwhile because it would only rescan the growing graph.
    """

    def __init__(self, model: Any, loss_fn: Callable[..., Value], X: np.ndarray, y: np.ndarray,
                 alpha: float, opt: Optimizer) -> None:
        self.model, self.loss_fn, self.alpha, self.opt = model, loss_fn, alpha, opt
        self.params = opt.params
        check_targets(loss_fn, y, n_outputs(model, X))
        self.rows, self.targets = X.tolist(), y.tolist()

    def __call__(self, rows: np.ndarray) -> tuple[float, np.ndarray]:
        model, X, Y = self.model, self.rows, self.targets
        with gc_paused():
            outs = [model([Value(v) for v in X[i]]) for i in rows]
            total = _checked(self.loss_fn(outs, [Y[i] for i in rows]))
            if self.alpha:
                total = total + l2(model.parameters(), self.alpha)
            self.opt.zero_grad()
            total.backward()
            return total.data, _scores(outs)

    def gradient(self) -> np.ndarray:
        return grad_vector(self.params)

    def update(self, clip: float | None) -> None:
        if clip is not None:
            clip_grad_norm(self.params, clip)
        self.opt.step()

    def evaluate(self, X: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        """Scored as ``predict`` scores: a Module through its compiled trace, else (or if that fails) eagerly.

        Validation runs in evaluation mode, where a Module draws no random numbers (dropout is
        off), so one trace stands for every call: the rows go through numpy at once instead of
        a graph each (the same scores to rounding; validating a dropout model every epoch cost
        twice its training). A model that does not trace, or a row the compiled path refuses
        (outside an op's domain), is scored eagerly again: the engine's own numbers, or its own error.
        """
        scores = self._compiled_scores(X)
        with no_grad():
            if scores is None:
                outs = [self.model(row) for row in X.tolist()]
                return self.loss_fn(outs, y.tolist()).data, _scores(outs)
            rows = scores.tolist()
            outs = [Value(s) for s in rows] if scores.ndim == 1 else [[Value(s) for s in r] for r in rows]
            return self.loss_fn(outs, y.tolist()).data, scores

    def _compiled_scores(self, X: np.ndarray) -> np.ndarray | None:
        if not isinstance(self.model, Module):  # a plain callable may do anything in its forward pass
            return None
        try:
            return predict(self.model, X, compiled=True)
        except (TracingError, TypeError, ValueError, ArithmeticError):
            return None

    def sync(self) -> None:
        pass

    def reload(self) -> None:
        pass


class CompiledStep:
    """A step through the compiled path, with the parameters in one vector for the whole fit.

    The traced function is one sample's ``(loss + penalty, loss, *scores)``: the
    batch loss is the mean over samples, and the L2 penalty, which does not depend
    on the sample, counts once (jit computes it once). Class-index labels become
    one-hot rows, so each sample's target is an input of the traced graph.
    """

    def __init__(self, model: Any, loss_fn: Callable[..., Value], X: np.ndarray, y: np.ndarray,
                 alpha: float, opt: Optimizer) -> None:
        if getattr(model, "has_dropout", False):
            raise ValueError("fit(compiled=True) traces the model once, so dropout would keep one fixed mask; "
                             "train with dropout eagerly (compiled=False), or build the model with dropout=0")
        self.k = n_outputs(model, X)
        self.loss_fn, self.opt, self.params = loss_fn, opt, opt.params
        self.X, self.Y = X, self._targets(y)

        def per_sample(x: list[Value], t: Any) -> tuple[Value, ...]:
            out = model(x)
            loss = loss_fn([out], [t])  # a batch of one; the step takes the mean over the batch
            total = loss + l2(model.parameters(), alpha) if alpha else loss
            return (total, loss, *(out if isinstance(out, list) else [out]))

        self.jitted = jit(per_sample)
        try:
            traced = self.jitted.params(X[:1], self.Y[:1])
        except TracingError as e:
            raise TracingError(f"fit(compiled=True) could not trace the model and loss: {e}") from None
        where = {id(p): i for i, p in enumerate(self.params)}
        pairs = [(j, where[id(p)]) for j, p in enumerate(traced) if id(p) in where]
        self._traced_rows = np.asarray([j for j, _ in pairs], dtype=np.intp)  # positions in the trace's vector
        self._opt_rows = np.asarray([i for _, i in pairs], dtype=np.intp)     # ... and in the optimizer's
        self._same_order = len(traced) == len(self.params) and all(j == i for j, i in pairs)
        # Every parameter traced and nothing else (the usual case): the trace's vector is a permutation of ours.
        self._perm = (np.asarray([i for _, i in pairs], dtype=np.intp)
                      if len(pairs) == len(traced) == len(self.params) else None)
        self._inverse = None if self._perm is None else np.argsort(self._perm)
        self._vector_update = type(opt).step is Optimizer.step and type(opt)._update is not Optimizer._update
        self._g = np.zeros(len(self.params))
        self._val_targets: tuple[Any, np.ndarray] = (None, self.Y)
        self._p: np.ndarray = data_vector(self.params)  # the optimizer's parameters, trained in place
        self._base: np.ndarray = self.jitted.param_vector(X[:1], self.Y[:1])  # the trace's vector

    def _targets(self, y: np.ndarray) -> np.ndarray:
        check_targets(self.loss_fn, y, self.k)
        if self.k > 1 and y.ndim == 1:  # class indices -> one-hot rows
            one_hot: np.ndarray = np.eye(self.k)[y.astype(int)]
            return one_hot
        return y

    def _traced_vector(self) -> np.ndarray:
        if self._same_order:
            return self._p
        if self._perm is not None:
            return np.take(self._p, self._perm, out=self._base)
        self._base[self._traced_rows] = self._p[self._opt_rows]
        return self._base

    def __call__(self, rows: np.ndarray) -> tuple[float, np.ndarray]:
        # One forward and one backward pass: the loss, its gradient (in the trace's order) and every
        # output per sample, whose scores give the training accuracy.
        loss, g, outs = self.jitted.value_grad_and_outputs(self.X[rows], self.Y[rows], params=self._traced_vector())
        if self._same_order:
            self._g = g
        elif self._inverse is not None:
            self._g = np.take(g, self._inverse)
        else:
            self._g = np.zeros(len(self.params))
            self._g[self._opt_rows] = g[self._traced_rows]
        return loss, self._score_columns(outs)

    def _score_columns(self, outs: Any) -> np.ndarray:
        return outs[2] if self.k == 1 else np.stack(outs[2:], axis=1)

    def gradient(self) -> np.ndarray:
        return self._g

    def update(self, clip: float | None) -> None:
        if clip is not None:
            clip_grad_vector(self._g, clip)
        if self._vector_update:
            self.opt.update(self._p, self._g)
            return
        # An optimizer that defines only step(): let it work on the Values, then read them back.
        self.sync()
        self.opt.step()
        self._p = data_vector(self.params)

    def evaluate(self, X: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
        if self._val_targets[0] is not y:  # checked and one-hot encoded once per validation set
            self._val_targets = (y, self._targets(y))
        outs = self.jitted(X, self._val_targets[1], params=self._traced_vector())
        return float(np.mean(outs[1])), self._score_columns(outs)

    def sync(self) -> None:
        for p, d, g in zip(self.params, self._p.tolist(), self._g.tolist(), strict=True):
            p.data, p.grad = d, g

    def reload(self) -> None:
        self._p = data_vector(self.params)
        self._base = self.jitted.param_vector(self.X[:1], self.Y[:1])  # parameters the optimizer does not train
