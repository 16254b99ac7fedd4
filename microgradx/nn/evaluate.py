"""Using a model: ``predict``, ``accuracy``, ``decision_boundary`` (eager or compiled), and ``grad_norms``.

Predictions are made in evaluation mode (dropout off) and the model's own mode
is restored afterwards. With ``compiled=True`` the model is traced once
(``microgradx.compiled.jit``) and run on all rows with numpy; the trace is kept
for the next call while the model's parameters are the same Values.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np

from ..compiled.jit import Jitted, jit
from ..engine import Value, no_grad
from .arrays import as_floats, features, labels
from .modules import Module
from .optim import grad_vector

__all__ = ["predict", "accuracy", "decision_boundary", "grad_norms", "mode", "predicted_labels"]


@contextmanager
def mode(model: Any, training: bool) -> Iterator[None]:
    """Run a block with ``model`` in training (or evaluation) mode, then give every sub-module its mode back."""
    if not isinstance(model, Module):
        yield
        return
    before = [(m, m.training) for m in model.modules()]
    model.train(training)
    try:
        yield
    finally:
        for m, was in before:
            m.training = was


def score_data(out: Any) -> Any:
    """A model output as floats: one float, or a list for multi-output models."""
    if isinstance(out, Value):
        return out.data
    return [o.data for o in out]


# One trace per model, kept while its parameters are the same Values (weak keys: a model
# that is gone takes its trace with it; the traced function holds only a weak reference).
_TRACES: weakref.WeakKeyDictionary[Any, tuple[tuple[int, ...], Jitted]] = weakref.WeakKeyDictionary()


def _traced(model: Any) -> Jitted:
    params = tuple(map(id, model.parameters())) if hasattr(model, "parameters") else ()
    try:
        cached = _TRACES.get(model)
    except TypeError:  # not weakly referenceable: trace every time
        return jit(model)
    if cached is not None and cached[0] == params:
        return cached[1]
    ref = weakref.ref(model)
    jitted = jit(lambda x: ref()(x))  # type: ignore[misc]
    _TRACES[model] = (params, jitted)
    return jitted


def predict(model: Callable[[Any], Any], X: Any, compiled: bool = False) -> np.ndarray:
    """The model's raw outputs for every row of ``X``: shape (n,) or (n, k); no graph is recorded.

    ``compiled=True`` traces the model once and runs every row at once with numpy
    (same numbers to rounding; much faster for many rows).
    """
    arr = features(X)
    with mode(model, False):
        if compiled:
            if not len(arr):
                raise ValueError("X has no rows to predict")
            out = _traced(model)(arr)
            return np.stack(out, axis=1) if isinstance(out, (list, tuple)) else np.asarray(out)
        with no_grad():
            scores = [score_data(model(row)) for row in arr.tolist()]
    return np.asarray(scores, dtype=np.float64)


def predicted_labels(scores: np.ndarray, threshold: float, negative: float) -> np.ndarray:
    """Class predictions: the argmax of a row of scores, or (one score) 1 above ``threshold``, else ``negative``."""
    labels: np.ndarray = np.argmax(scores, axis=1) if scores.ndim == 2 else np.where(scores > threshold, 1.0, negative)
    return labels


def hits(scores: np.ndarray, y: np.ndarray, threshold: float, negative: float) -> np.ndarray:
    """Which predictions are right; a row of class probabilities counts its most likely class as the label."""
    target = np.argmax(y, axis=1) if y.ndim == 2 else y
    right: np.ndarray = predicted_labels(scores, threshold, negative) == target
    return right


def accuracy(model_or_scores: Any, X: Any = None, y: Any = None, threshold: float = 0.0,
             compiled: bool = False) -> float:
    """Fraction of correct predictions.

    ``accuracy(model, X, y)`` or ``accuracy(scores, y=y)``. Multi-output
    scores predict their argmax (labels are class indices); a single score
    predicts the positive class when it is above ``threshold`` (0 for scores
    and logits, use 0.5 for probabilities); labels may be {-1, +1} or {0, 1}.
    ``compiled``: predict with the compiled model (see :func:`predict`).
    """
    if y is None:
        raise ValueError("accuracy needs the labels y")
    if callable(model_or_scores):
        scores = predict(model_or_scores, X, compiled=compiled)
    else:
        scores = as_floats(model_or_scores, "scores")
    if len(scores) != len(np.asarray(y)):
        raise ValueError(f"got {len(scores)} predictions but {len(np.asarray(y))} labels")
    ys = labels(y, len(scores), rows_of="the scores")
    negative = -1.0 if np.all(np.isin(ys, (-1.0, 1.0))) and np.any(ys == -1) else 0.0
    return float(np.mean(hits(scores, ys, threshold, negative)))


def decision_boundary(model: Callable[[Any], Any], X: Any, resolution: int = 60, margin: float = 0.5,
                      compiled: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Scores on a grid covering ``X`` (2-D inputs), for ``plt.contourf(xx, yy, scores)``.

    Returns ``(xx, yy, scores)``: meshgrids of shape (resolution, resolution)
    spanning the data plus ``margin``, and the model's outputs there, shape
    (resolution, resolution) or (resolution, resolution, k) for k outputs.
    ``compiled``: score the grid with the compiled model (see :func:`predict`).
    """
    pts = np.asarray(X, dtype=np.float64)
    if pts.ndim != 2 or pts.shape[1] != 2:
        raise ValueError(f"decision_boundary draws 2-D inputs: X must have shape (n, 2), got {pts.shape}")
    if isinstance(resolution, bool) or not isinstance(resolution, (int, np.integer)) or resolution < 2:
        raise ValueError(f"resolution must be an int >= 2 (grid points per side), got {resolution!r}")
    (x0, y0), (x1, y1) = pts.min(axis=0) - margin, pts.max(axis=0) + margin
    xx, yy = np.meshgrid(np.linspace(x0, x1, resolution), np.linspace(y0, y1, resolution))
    scores = predict(model, np.column_stack([xx.ravel(), yy.ravel()]), compiled=compiled)
    return xx, yy, scores.reshape(xx.shape + scores.shape[1:])


def layer_groups(model: Any, params: list[Value]) -> list[tuple[str, np.ndarray]]:
    """Positions in ``params`` grouped per layer (``layers.0``, ...) for an MLP, else one group ``model``."""
    where = {id(p): i for i, p in enumerate(params)}
    groups: dict[str, list[int]] = {}
    named = model.named_parameters() if isinstance(model, Module) else (("model", p) for p in params)
    for name, p in named:
        parts = name.split(".")
        key = ".".join(parts[:2]) if parts[0] == "layers" else "model"
        if id(p) in where:
            groups.setdefault(key, []).append(where[id(p)])
    return [(k, np.asarray(ix, dtype=np.intp)) for k, ix in groups.items()]


def group_norms(g: np.ndarray, groups: list[tuple[str, np.ndarray]]) -> dict[str, float]:
    """√(Σ g²) over each group's positions in the gradient vector ``g``."""
    return {k: math.sqrt(float(np.dot(g[ix], g[ix]))) for k, ix in groups}


def grad_norms(model: Any) -> dict[str, float]:
    """√(Σ g²) of the current gradients, per layer: ``{'layers.0': 0.8, 'layers.1': 0.05}``."""
    params = list(model.parameters())
    return group_norms(grad_vector(params), layer_groups(model, params))
