"""Loss functions over a batch, built from ``Value`` ops so they draw and differentiate like anything else.

Each takes the model's outputs for a batch and the targets, and returns one
``Value``: the mean loss over the batch. Targets are numbers, or Values
when the loss is traced by ``jit`` for the compiled path (``fit(compiled=True)``),
where each sample's target is an input of the traced graph.

==========================  ======================================  =================
loss                        per sample                              targets
==========================  ======================================  =================
``mse``                     (s - t)²                                numbers
``bce``                     -[t·ln p + (1-t)·ln(1-p)]               {0, 1} (or [0, 1])
``bce_with_logits``         softplus(z) - t·z  (stable)             {0, 1} (or [0, 1])
``hinge``                   max(0, 1 - t·s)   (micrograd's SVM)     {-1, +1}
``softmax_cross_entropy``   ln Σⱼ e^(sⱼ - m) - (s_y - m), m = max   class index, or a row
                                                                    of class probabilities
==========================  ======================================  =================

``l2(params, alpha)`` is the regulariser alpha·Σ p².
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from ..engine import Value
from ..modes import current_tracer

__all__ = ["mse", "bce", "bce_with_logits", "hinge", "softmax_cross_entropy", "l2", "LOSSES", "get_loss"]


def _as_list(xs: Any, what: str) -> list[Any]:
    if isinstance(xs, np.ndarray):
        column = xs[:, 0] if xs.ndim == 2 and xs.shape[1] == 1 else xs  # a column (n, 1) is n numbers
        return list(column.tolist())
    if isinstance(xs, (Value, int, float, np.number)):
        return [xs]
    if isinstance(xs, (str, bytes)) or not hasattr(xs, "__iter__"):
        raise TypeError(f"{what} must be a list (or array) of numbers, got {type(xs).__name__}")
    return list(xs)


def _number(x: Any, what: str, i: int, j: int | None = None) -> float:
    """A target (or a prediction given as a number) as a finite float; the error names where it is."""
    where = f"index {i}" + (f", class {j}" if j is not None else "")
    if isinstance(x, bool) or not isinstance(x, (int, float, np.integer, np.floating)):
        raise TypeError(f"{what} at {where} must be a number, got {type(x).__name__}: {x!r:.40}")
    f = float(x)
    if not math.isfinite(f):
        raise ValueError(f"{what} at {where} is {f}: losses take finite numbers. Drop or fix that sample.")
    return f


def _pair(preds: Any, targets: Any) -> tuple[list[Any], list[Any]]:
    """Predictions and targets as two equal lists; targets as floats, or Values when traced."""
    ps, ts = _as_list(preds, "predictions"), _as_list(targets, "targets")
    if len(ps) != len(ts):
        raise ValueError(f"got {len(ps)} predictions but {len(ts)} targets; give one target per prediction")
    if not ps:
        raise ValueError("the batch is empty: give at least one prediction and target")
    return ([_lift(p, i) for i, p in enumerate(ps)],
            [t if isinstance(t, Value) else _number(t, "target", i) for i, t in enumerate(ts)])


def _lift(p: Any, i: int = 0, j: int | None = None) -> Value:
    return p if isinstance(p, Value) else Value(_number(p, "prediction", i, j))


def _mean(terms: list[Value]) -> Value:
    """micrograd's form, ``sum(losses) * (1.0 / len(losses))``.

    While ``jit`` traces a per-sample loss (a batch of one), the one term is its own
    mean: the compiled step then skips the ``0 + term`` and ``× 1.0`` it would add.
    """
    if len(terms) == 1 and current_tracer() is not None:
        return terms[0]
    return sum(terms) * (1.0 / len(terms))  # type: ignore[return-value]


def mse(preds: Sequence[Any], targets: Sequence[float]) -> Value:
    """Mean squared error, (1/n) Σ (sᵢ - tᵢ)²; d/dsᵢ = 2(sᵢ - tᵢ)/n."""
    ps, ts = _pair(preds, targets)
    return _mean([(p - t) ** 2 for p, t in zip(ps, ts, strict=True)])


def bce(probs: Sequence[Any], targets: Sequence[float]) -> Value:
    """Binary cross-entropy on probabilities p ∈ (0, 1): -(1/n) Σ [t ln p + (1-t) ln(1-p)].

    Only the terms with a non-zero weight are built, so a hard target t = 1
    needs p > 0 only. For raw scores use :func:`bce_with_logits`, which never
    takes the log of 0. A "probability" outside [0, 1] is refused.
    """
    ps, ts = _pair(probs, targets)
    terms = []
    tracing = current_tracer() is not None  # then p holds no number yet to check
    for i, (p, t) in enumerate(zip(ps, ts, strict=True)):
        if not tracing and not 0.0 <= p.data <= 1.0:
            raise ValueError(f"bce takes probabilities, but the prediction at index {i} is {p.data:g}, outside "
                             "[0, 1]. Put a sigmoid on the model's output, or give the raw scores to "
                             "bce_with_logits.")
        if isinstance(t, Value):  # a traced target: both terms, weighted
            terms.append(-(t * p.log() + (1 - t) * (1 - p).log()))
            continue
        _check_unit("target", t, i)
        if (t > 0 and p.data <= 0) or (t < 1 and p.data >= 1):
            raise ValueError(f"probability {p.data} at index {i} (target {t:g}) makes the log infinite: "
                             "bce needs probabilities strictly between 0 and 1. Use bce_with_logits on the "
                             "raw scores (before the sigmoid), which is numerically stable.")
        term = None
        if t > 0:
            term = p.log() * t if t != 1 else p.log()
        if t < 1:
            other = (1 - p).log() * (1 - t) if t != 0 else (1 - p).log()
            term = other if term is None else term + other
        terms.append(-term)  # type: ignore[operator]
    return _mean(terms)


def bce_with_logits(logits: Sequence[Any], targets: Sequence[float]) -> Value:
    """Binary cross-entropy on raw scores z, with p = σ(z): (1/n) Σ [softplus(z) - t·z].

    Same value as ``bce([σ(z)], t)`` but stable for any z; d/dz = σ(z) - t.
    """
    zs, ts = _pair(logits, targets)
    terms = []
    for i, (z, t) in enumerate(zip(zs, ts, strict=True)):
        sp = z.softplus()
        if isinstance(t, Value):
            terms.append(sp - z * t)
            continue
        _check_unit("target", t, i)
        terms.append(sp - z * t if t != 0 else sp)
    return _mean(terms)


def hinge(scores: Sequence[Any], targets: Sequence[float]) -> Value:
    """micrograd's SVM max-margin loss: (1/n) Σ max(0, 1 - tᵢ·sᵢ), targets in {-1, +1}.

    Written as micrograd's demo does, ``(1 + -yi*scorei).relu()``, so the graph is the same.
    """
    ss, ts = _pair(scores, targets)
    for i, t in enumerate(ts):
        if not isinstance(t, Value):
            _check_signed(t, i)
    return _mean([(1 + -yi * si).relu() for yi, si in zip(ts, ss, strict=True)])


def softmax_cross_entropy(scores: Sequence[Sequence[Any]], labels: Sequence[Any]) -> Value:
    """Cross-entropy of softmax(scores) against the labels, averaged over the batch.

    A label is a class index y, or a row t of class probabilities (one-hot, or
    soft targets: each in [0, 1], summing to 1; Values when traced). Subtracting
    m = max s (a constant, so gradients are unchanged) keeps every exp ≤ 1::

        loss = ln Σⱼ e^(sⱼ - m) - Σⱼ tⱼ·(sⱼ - m)      ∂loss/∂sⱼ = softmax(s)ⱼ - tⱼ

    (for an index, t is one-hot at y and the last sum is just s_y - m).

    While ``jit`` traces, the scores hold no numbers to take the max of. The
    log-sum-exp is then built pairwise from ops that cannot overflow,
    ln(eᵃ + eᵇ) = b + softplus(a - b), down the row (depth log₂ k), and the loss is
    ``ln Σⱼ e^(sⱼ) - Σⱼ tⱼ·sⱼ`` (Σ t = 1): the same value and gradient, for logits of
    any size, as eager.
    """
    rows = _as_list(scores, "scores")
    ys = _as_list(labels, "labels")
    if len(rows) != len(ys):
        raise ValueError(f"got {len(rows)} score rows but {len(ys)} labels; give one label per sample")
    if not rows:
        raise ValueError("the batch is empty: give at least one row of scores and a label")
    terms = []
    for i, (row, y) in enumerate(zip(rows, ys, strict=True)):
        if isinstance(row, Value) or not hasattr(row, "__len__"):
            raise ValueError(f"sample {i}: softmax_cross_entropy needs a list of class scores per sample "
                             "(a model with one output per class), got a single score")
        row = [_lift(s, i, j) for j, s in enumerate(row)]
        t = _probabilities(y, len(row), i) if hasattr(y, "__len__") else None  # else: a class index
        index = _class_index(y, len(row), i) if t is None else 0
        if current_tracer() is not None:
            target = row[index] if t is None else sum(tj * s for tj, s in zip(t, row, strict=True))
            terms.append(_traced_log_sum_exp(row) - target)
            continue
        m = max(s.data for s in row)
        shifted = [s - m for s in row]
        target = shifted[index] if t is None else sum(tj * s for tj, s in zip(t, shifted, strict=True))
        terms.append(sum(e.exp() for e in shifted).log() - target)
    return _mean(terms)


def _traced_log_sum_exp(row: list[Value]) -> Value:
    """ln Σ e^s from ops that never overflow: ln(eᵃ + eᵇ) = b + softplus(a - b), pairwise down the row."""
    level = row
    while len(level) > 1:
        pairs = [b + (a - b).softplus() for a, b in zip(level[0::2], level[1::2], strict=False)]
        level = pairs + level[len(pairs) * 2:]
    return level[0]


def _class_index(y: Any, k: int, i: int) -> int:
    if isinstance(y, Value):
        raise ValueError(f"label {i} is a single Value: a traced label is a row of class probabilities")
    f = _number(y, "label", i)
    if f != int(f) or not 0 <= f < k:
        raise ValueError(f"label {y!r} at index {i} is not a class index in 0..{k - 1}")
    return int(f)


def _probabilities(t: Any, k: int, i: int) -> list[Any]:
    """A row of k class probabilities: each in [0, 1], summing to 1 (Values, when traced, are taken as given)."""
    if len(t) != k:
        raise ValueError(f"label {i} has {len(t)} class probabilities but there are {k} scores")
    if any(isinstance(tj, Value) for tj in t):
        return list(t)
    row = [_number(tj, "label", i, j) for j, tj in enumerate(t)]
    if any(not 0.0 <= tj <= 1.0 for tj in row) or abs(sum(row) - 1.0) > 1e-6:
        raise ValueError(f"label {i} is not a row of class probabilities: {row!r:.80} must each be in [0, 1] and "
                         "sum to 1 (give a class index, or a one-hot or soft row)")
    return row


def l2(params: Iterable[Value], alpha: float = 1e-4) -> Value:
    """L2 regularisation alpha·Σ p² (micrograd's ``alpha * sum((p*p for p in params))``); d/dp = 2·alpha·p."""
    return alpha * sum(p * p for p in params)  # type: ignore[return-value]


def _check_signed(t: float, i: int) -> None:
    if t not in (-1.0, 1.0):
        raise ValueError(f"hinge targets must be -1 or +1, got {t:g} at index {i}; "
                         "map {0, 1} labels with y*2 - 1 (or data sets' labels='signed')")


def _check_unit(what: str, t: float, i: int) -> None:
    if not (0.0 <= t <= 1.0) or math.isnan(t):
        raise ValueError(f"{what} {t:g} at index {i} is not in [0, 1]: binary cross-entropy takes "
                         "targets 0 or 1 (data sets' labels='binary')")


# ---------------------------------------------------------------- targets given as a whole array
# While jit traces a loss, each target is a placeholder Value with no number to check. ``compile_loss``
# (and so anything compiled) runs a loss's ``check_targets(Y)``, if it has one, on the real target array
# before every call: the checks above, on every row, with the eager message naming the row.


def _first_bad_row(bad: Any) -> int | None:
    rows = np.flatnonzero(np.asarray(bad))
    return int(rows[0]) if rows.size else None


def _target_column(targets: Any) -> np.ndarray:
    """Targets as an array of rows: (n,) numbers, or (n, k) rows."""
    arr = np.asarray(targets, dtype=np.float64)
    return arr.reshape(1) if arr.ndim == 0 else arr


def _signed_targets(targets: Any) -> None:
    """Every target is -1 or +1 (what :func:`hinge` says otherwise, naming the first bad row)."""
    arr = _target_column(targets)
    i = _first_bad_row(~np.isin(arr, (-1.0, 1.0)).reshape(len(arr), -1).all(axis=1))
    if i is not None:
        t = arr[i].tolist()
        _check_signed(_number(t, "target", i), i)


def _unit_targets(targets: Any) -> None:
    """Every target is in [0, 1] (what :func:`bce` says otherwise, naming the first bad row)."""
    arr = _target_column(targets)
    inside = (arr >= 0.0) & (arr <= 1.0)
    i = _first_bad_row(~inside.reshape(len(arr), -1).all(axis=1))
    if i is not None:
        _check_unit("target", _number(arr[i].tolist(), "target", i), i)


# An attribute, so that compile_loss (compiled/, which nn imports, not the other way) can find it.
setattr(hinge, "check_targets", _signed_targets)  # noqa: B010
setattr(bce, "check_targets", _unit_targets)  # noqa: B010
setattr(bce_with_logits, "check_targets", _unit_targets)  # noqa: B010


#: Losses by name (for ``fit(loss='hinge')`` and the command line).
LOSSES: dict[str, Callable[..., Value]] = {
    "mse": mse,
    "bce": bce,
    "bce_with_logits": bce_with_logits,
    "hinge": hinge,
    "softmax_cross_entropy": softmax_cross_entropy,
    "cross_entropy": softmax_cross_entropy,
}


def get_loss(loss: str | Callable[..., Value]) -> Callable[..., Value]:
    """A loss function by name, or the callable itself."""
    if callable(loss):
        return loss
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose one of {', '.join(map(repr, LOSSES))} "
                         "or pass a function loss(predictions, targets) -> Value")
    return LOSSES[loss]
