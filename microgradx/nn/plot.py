"""Plots of training on matplotlib: the loss curve and a 2-D decision boundary (``pip install 'microgradx[plot]'``).

::

    import matplotlib.pyplot as plt
    from microgradx.nn.plot import plot_decision_boundary, plot_history

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    plot_history(history, ax=ax1)                 # loss per epoch (and accuracy, on the right)
    plot_decision_boundary(model, X, y, ax=ax2)   # where the model's prediction changes

The decision boundary is drawn from the model's scores on a grid around the data
(:func:`microgradx.nn.train.decision_boundary`): with one output the model predicts
the positive class where ``score > threshold`` (0 for raw scores, logits and tanh
outputs), and the boundary is the curve ``score = threshold``; with k outputs it
predicts the class of the largest score (argmax), and each class gets a region.
"""

from __future__ import annotations

from typing import Any

import numpy as np

try:
    from matplotlib.axes import Axes
    from matplotlib.colors import to_rgba
    from matplotlib.figure import Figure
except ModuleNotFoundError as e:  # matplotlib is an optional extra
    raise ModuleNotFoundError(f"microgradx.nn.plot draws with matplotlib, which is not installed ({e}): "
                              "pip install 'microgradx[plot]'", name=e.name) from None

from .train import History, accuracy, decision_boundary

__all__ = ["plot_history", "plot_decision_boundary", "training_figure"]

NEGATIVE, POSITIVE = "#2166ac", "#b2182b"  # points: blue for the negative class, red for the positive
CLASS_COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
                "#bcbd22", "#17becf")
REGION_ALPHA = 0.28  # regions are the class colours, faded, so that the points stand out on them


def _axes(ax: Axes | None) -> Axes:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt  # only when the caller wants pyplot's current axes

    return plt.gca()


def plot_history(history: History, ax: Axes | None = None, *, log: bool | None = None,
                 title: str | None = "training") -> Axes:
    """Loss per epoch (and validation loss), with accuracy on a second axis at the right; returns ``ax``.

    ``log``: a logarithmic loss axis; ``None`` picks it when the loss is positive
    and falls by more than a factor of 100 (where a linear axis shows only a cliff).
    """
    if not isinstance(history, History) or not history.loss:
        raise ValueError(f"plot_history needs the History that fit() returns, with at least one epoch; "
                         f"got {type(history).__name__}")
    ax = _axes(ax)
    epochs = np.arange(1, history.epochs + 1)
    loss = np.asarray(history.loss, dtype=np.float64)
    ax.plot(epochs, loss, color="black", label="loss")
    if history.val_loss:
        ax.plot(epochs[:len(history.val_loss)], history.val_loss, color="gray", ls="--", label="validation loss")
    if log is None:
        log = bool(np.all(loss > 0) and loss.max() > 100 * loss.min())
    if log:
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("loss" + (" (log scale)" if log else ""))
    handles, labels = ax.get_legend_handles_labels()
    if history.accuracy:
        right = ax.twinx()
        right.plot(epochs, history.accuracy, color=POSITIVE, alpha=0.8, label="accuracy")
        if history.val_accuracy:
            right.plot(epochs[:len(history.val_accuracy)], history.val_accuracy, color=POSITIVE, ls="--",
                       alpha=0.8, label="validation accuracy")
        right.set_ylim(-0.02, 1.02)
        right.set_ylabel("accuracy", color=POSITIVE)
        more_handles, more_labels = right.get_legend_handles_labels()
        handles, labels = handles + more_handles, labels + more_labels
    ax.legend(handles, labels, fontsize=8, loc="center right")
    if title:
        ax.set_title(title, fontsize=10)
    return ax


def plot_decision_boundary(model: Any, X: Any, y: Any, ax: Axes | None = None, *, resolution: int = 100,
                           threshold: float = 0.0, title: str | None = None, compiled: bool = False) -> Axes:
    """The data (coloured by label) on the regions where ``model`` predicts each class; returns ``ax``.

    ``X``: shape (n, 2); ``y``: labels {-1, +1} or {0, 1} for one output, class
    indices 0..k-1 for k outputs. The title says how many points are right.
    ``compiled``: score the grid through the compiled path (the same numbers, much faster
    for a fine grid or a big model).
    """
    pts = np.asarray(X, dtype=np.float64)
    labels = np.asarray(y, dtype=np.float64).reshape(-1)
    if len(labels) != len(pts):
        raise ValueError(f"X has {len(pts)} rows but y has {len(labels)} labels")
    xx, yy, scores = decision_boundary(model, pts, resolution=resolution, compiled=compiled)
    ax = _axes(ax)
    if scores.ndim == 2:
        _two_regions(ax, xx, yy, scores, threshold)
        colors = [POSITIVE if t > 0 else NEGATIVE for t in labels]
    else:
        _class_regions(ax, xx, yy, scores)
        colors = [CLASS_COLORS[int(t) % len(CLASS_COLORS)] for t in labels]
    ax.scatter(pts[:, 0], pts[:, 1], c=colors, s=max(12.0, 2000.0 / len(pts)), edgecolors="white",
               linewidths=0.6, zorder=3)
    ax.set_xlabel("x₁")
    ax.set_ylabel("x₂")
    correct = accuracy(model, pts, labels, threshold=threshold)
    ax.set_title(title if title is not None else f"decision boundary: {correct:.0%} of the points right",
                 fontsize=10)
    return ax


def _two_regions(ax: Axes, xx: np.ndarray, yy: np.ndarray, scores: np.ndarray, threshold: float) -> None:
    """One output: faded blue where ``score <= threshold``, faded red above, and the curve between."""
    low, high = min(float(scores.min()), threshold) - 1.0, max(float(scores.max()), threshold) + 1.0
    ax.contourf(xx, yy, scores, levels=[low, threshold, high],
                colors=[to_rgba(NEGATIVE, REGION_ALPHA), to_rgba(POSITIVE, REGION_ALPHA)])
    if scores.min() < threshold < scores.max():
        ax.contour(xx, yy, scores, levels=[threshold], colors="black", linewidths=1)


def _class_regions(ax: Axes, xx: np.ndarray, yy: np.ndarray, scores: np.ndarray) -> None:
    """k outputs: each point of the grid coloured by the class with the largest score."""
    k = scores.shape[-1]
    predicted = np.argmax(scores, axis=-1)
    colors = [to_rgba(CLASS_COLORS[i % len(CLASS_COLORS)], REGION_ALPHA) for i in range(k)]
    ax.contourf(xx, yy, predicted, levels=np.arange(k + 1) - 0.5, colors=colors)


def training_figure(model: Any, X: Any, y: Any, history: History, *, title: str | None = None,
                    threshold: float = 0.0) -> Figure:
    """Loss curve and decision boundary side by side, as a matplotlib ``Figure`` made without pyplot.

    For files and scripts (``fig.savefig("run.png")``; ``microgradx train --plot`` uses it):
    no window opens and no pyplot state changes. In a notebook, draw the two plots on
    ``plt.subplots(1, 2)`` instead, which Jupyter shows inline.
    """
    fig = Figure(figsize=(10, 4), layout="constrained")
    left, right = fig.subplots(1, 2)
    plot_history(history, ax=left)
    plot_decision_boundary(model, X, y, ax=right, threshold=threshold)
    if title:
        fig.suptitle(title, fontsize=11)
    return fig
