"""Specification of microgradx.nn.plot: the loss curve and the decision boundary, on matplotlib."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from microgradx.engine import Value  # noqa: E402
from microgradx.nn.plot import (  # noqa: E402
    CLASS_COLORS,
    NEGATIVE,
    POSITIVE,
    REGION_ALPHA,
    plot_decision_boundary,
    plot_history,
    training_figure,
)
from microgradx.nn.train import History  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
SQUARE = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])


def axes() -> tuple[Figure, object]:
    fig = Figure(figsize=(4, 4), dpi=100)
    FigureCanvasAgg(fig)  # a canvas that renders to pixels, which the colour checks read
    return fig, fig.subplots()


def right_of_half(row):
    """A hand-made model: score x₁ - 0.5, so its decision boundary is the line x₁ = 0.5."""
    return Value(row[0]) - 0.5


def three_bands(row):
    """Three outputs; the largest is class 0 for x₁ < 1/3, class 1 up to 2/3, class 2 beyond."""
    x = row[0]
    return [Value(1 / 3 - x), Value(min(x - 1 / 3, 2 / 3 - x)), Value(x - 2 / 3)]


def pixel(fig: Figure, ax, x: float, y: float) -> np.ndarray:
    """The RGBA colour (0..1) the rendered figure shows at data coordinates (x, y)."""
    fig.canvas.draw()
    image = np.asarray(fig.canvas.buffer_rgba(), dtype=np.float64) / 255
    px, py = ax.transData.transform((x, y))
    return image[image.shape[0] - 1 - int(py), int(px)]


def faded(color: str) -> np.ndarray:
    """``color`` at REGION_ALPHA over a white background, as the regions appear."""
    r, g, b, _ = to_rgba(color)
    return np.array([1 - REGION_ALPHA * (1 - c) for c in (r, g, b)])


# ---------------------------------------------------------------- loss curves


def test_history_plots_every_epochs_loss_and_accuracy():
    h = History(loss=[1.0, 0.5, 0.25], accuracy=[0.5, 0.75, 1.0])
    fig, ax = axes()
    assert plot_history(h, ax=ax) is ax
    (loss_line,) = ax.get_lines()
    assert list(loss_line.get_xdata()) == [1, 2, 3] and list(loss_line.get_ydata()) == h.loss
    (accuracy_axis,) = [a for a in fig.axes if a is not ax]
    (accuracy_line,) = accuracy_axis.get_lines()
    assert list(accuracy_line.get_ydata()) == h.accuracy
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["loss", "accuracy"]


def test_history_with_validation_plots_both_losses():
    h = History(loss=[1.0, 0.5], accuracy=[0.5, 1.0], val_loss=[1.2, 0.9], val_accuracy=[0.4, 0.6])
    fig, ax = axes()
    plot_history(h, ax=ax)
    assert [list(line.get_ydata()) for line in ax.get_lines()] == [h.loss, h.val_loss]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == [
        "loss", "validation loss", "accuracy", "validation accuracy"]


@pytest.mark.parametrize("loss, log, scale", [
    ([1.0, 1e-3, 1e-6], None, "log"),      # falls by orders of magnitude: log
    ([1.0, 0.6, 0.4], None, "linear"),     # falls by a factor 2.5: linear
    ([1.0, -0.5, -1.0], None, "linear"),   # negative losses cannot go on a log axis
    ([1.0, 1e-3, 1e-6], False, "linear"),  # the caller decides
])
def test_history_uses_a_log_axis_when_the_loss_spans_orders_of_magnitude(loss, log, scale):
    fig, ax = axes()
    plot_history(History(loss=loss), ax=ax, log=log)
    assert ax.get_yscale() == scale


def test_history_refuses_what_is_not_a_history():
    with pytest.raises(ValueError, match="History that fit"):
        plot_history([1.0, 0.5])
    with pytest.raises(ValueError, match="at least one epoch"):
        plot_history(History())


# ---------------------------------------------------------------- decision boundaries


def test_binary_boundary_is_the_zero_score_curve_with_blue_below_and_red_above():
    fig, ax = axes()
    plot_decision_boundary(right_of_half, SQUARE, [-1, -1, 1, 1], ax=ax, resolution=41)
    boundary = np.concatenate([p.vertices for c in ax.collections[1:2] for p in c.get_paths()])
    assert np.allclose(boundary[:, 0], 0.5, atol=1e-9)  # the line x₁ = 0.5, from the model, not from the points
    assert np.allclose(pixel(fig, ax, 0.2, 0.5)[:3], faded(NEGATIVE), atol=0.02)
    assert np.allclose(pixel(fig, ax, 0.8, 0.5)[:3], faded(POSITIVE), atol=0.02)


def test_points_are_coloured_by_their_label_and_the_title_counts_the_right_ones():
    fig, ax = axes()
    labels = np.array([[0.0], [1.0], [1.0], [1.0]])  # {0, 1} labels shaped (n, 1); (0, 1) is on the wrong side
    plot_decision_boundary(right_of_half, SQUARE, labels, ax=ax)
    colors = ax.collections[-1].get_facecolors()
    assert [tuple(c) for c in colors] == [to_rgba(c) for c in (NEGATIVE, POSITIVE, POSITIVE, POSITIVE)]
    assert ax.get_title() == "decision boundary: 75% of the points right"


def test_several_outputs_colour_each_region_by_the_class_with_the_largest_score():
    fig, ax = axes()
    plot_decision_boundary(three_bands, SQUARE, [0, 0, 2, 2], ax=ax, resolution=61)
    colours = [pixel(fig, ax, x, 0.5)[:3] for x in (0.1, 0.5, 0.9)]
    for seen, klass in zip(colours, range(3), strict=True):
        assert np.allclose(seen, faded(CLASS_COLORS[klass]), atol=0.02)
    assert ax.get_title() == "decision boundary: 100% of the points right"


def test_a_compiled_boundary_draws_the_same_regions_as_the_eager_one():
    from microgradx.nn import MLP

    model = MLP(2, [8, 1], activation="tanh", seed=3)
    X = np.array([[-1.0, -1.0], [1.0, 1.0], [-1.0, 1.0], [1.0, -1.0]])
    drawn = []
    for compiled in (False, True):
        fig, ax = axes()
        plot_decision_boundary(model, X, [1, 1, -1, -1], ax=ax, resolution=31, compiled=compiled)
        boundary = np.concatenate([p.vertices for p in ax.collections[1].get_paths()])  # the score-0 curve
        drawn.append((boundary, ax.get_title()))
    assert len(drawn[0][0]) > 10 and drawn[0][0].shape == drawn[1][0].shape
    assert np.allclose(drawn[0][0], drawn[1][0], rtol=0, atol=1e-9) and drawn[0][1] == drawn[1][1]


def test_decision_boundary_needs_2d_inputs_and_one_label_per_point():
    with pytest.raises(ValueError, match=r"shape \(n, 2\)"):
        plot_decision_boundary(right_of_half, np.zeros((4, 3)), [1, 1, 1, 1])
    with pytest.raises(ValueError, match="4 rows but y has 3 labels"):
        plot_decision_boundary(right_of_half, SQUARE, [1, 1, 1])


def test_without_axes_the_plots_go_to_pyplots_current_axes():
    plt = pytest.importorskip("matplotlib.pyplot")
    fig = plt.figure()
    try:
        ax = plot_history(History(loss=[1.0, 0.5]))
        assert ax is plt.gca() and ax.figure is fig
    finally:
        plt.close(fig)


def test_training_figure_has_the_loss_curve_and_the_boundary_side_by_side():
    fig = training_figure(right_of_half, SQUARE, [-1, -1, 1, 1], History(loss=[1.0, 0.5], accuracy=[0.5, 1.0]),
                          title="a hand-made model")
    left, right, _accuracy_axis = fig.axes
    assert left.get_title() == "training" and right.get_title().startswith("decision boundary")
    assert fig.get_suptitle() == "a hand-made model"
    png = io.BytesIO()
    fig.savefig(png, format="png")
    assert png.getvalue().startswith(b"\x89PNG\r\n\x1a\n")


def test_without_matplotlib_importing_the_module_says_what_to_install():
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "try:\n    import microgradx.nn.plot\n"
            "except ImportError as e:\n    print(type(e).__name__, e)\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert result.stdout.startswith("ModuleNotFoundError microgradx.nn.plot draws with matplotlib"), result
    assert "pip install 'microgradx[plot]'" in result.stdout
