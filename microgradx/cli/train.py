"""``microgradx train DATASET``: train an MLP on a toy data set with its recipe and print how it did.

    microgradx train xor
    microgradx train moons --epochs 50 --save moons.json
    microgradx train spirals --compiled --plot spirals.png

The model, loss, optimizer, learning rate and number of epochs come from the data
set's recipe (:data:`microgradx.nn.recipes.RECIPES`; ``--help`` lists them).
``--compiled`` traces the loss once and runs every step on numpy
(``fit(compiled=True)``: the same numbers, faster). ``--plot`` writes the loss
curve and the decision boundary side by side (needs matplotlib:
``pip install 'microgradx[plot]'``).
"""

from __future__ import annotations

import argparse
import io
import os
from pathlib import Path
from typing import Any

import numpy as np

from ..files import write_atomic
from ..nn import MLP
from ..nn.recipes import RECIPES, Recipe, Trained
from ..nn.train import accuracy, predict
from .preflight import need_matplotlib, writable_file
from .values import UsageError, learning_rate, positive_int

__all__ = ["add_train_parser", "train_command", "positive_int", "print_xor_table", "recipe_defaults"]


def recipe_defaults(recipe: Recipe) -> str:
    """What a recipe trains and its defaults, read from the recipe: ``..., SGD; lr 0.3, 300 epochs, full batch``."""
    l2 = f", L2 alpha {recipe.l2_alpha:g}" if recipe.l2_alpha else ""
    return f"{recipe.description}; defaults: lr {recipe.lr:g}, {recipe.epochs} epochs{l2}, full-batch steps"


def add_train_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``train`` command to an ``argparse`` subparsers object."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "train", help="train an MLP on a toy data set",
        description="Train an MLP on a toy data set with its recipe and print its accuracy.",
        epilog="data sets (model, loss, optimizer; default hyper-parameters):\n"
               + "\n".join(f"  {name}: {recipe_defaults(r)}" for name, r in RECIPES.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", choices=sorted(RECIPES), help="which data set")
    p.add_argument("--epochs", type=positive_int, default=None, help="training epochs (default: the data set's, "
                                                                      "listed below)")
    p.add_argument("--lr", type=learning_rate, default=None,
                   help="learning rate, a number > 0 (default: the data set's, listed below)")
    p.add_argument("--seed", type=int, default=0, help="seed for the data and the initial weights (default 0)")
    p.add_argument("--compiled", action="store_true",
                   help="trace the loss once and run each step on numpy: same numbers, faster (fit(compiled=True))")
    p.add_argument("--save", metavar="PATH", default=None, help="write the trained model to PATH as JSON")
    p.add_argument("--plot", metavar="PNG", default=None,
                   help="write the loss curve and the decision boundary side by side to PNG (.png, .svg or .pdf; "
                        "2-D data sets; needs matplotlib: pip install 'microgradx[plot]')")
    p.add_argument("--no-progress", action="store_true", help="do not show the progress bar")
    p.set_defaults(run=train_command)
    return p


def train_command(args: argparse.Namespace) -> int:
    """Run ``microgradx train``; returns the exit status."""
    recipe = RECIPES[args.dataset]
    # Everything that can be known before training is checked before training.
    if args.save:
        writable_file(args.save, "model file")
    if args.plot:
        _check_plot(args.plot, recipe, args.seed)
    run = recipe.train(args.seed, epochs=args.epochs, lr=args.lr, progress=not args.no_progress,
                       compiled=args.compiled)
    model, X, y = run.model, run.X, run.y
    model.eval()
    acc = accuracy(model, X, y)
    how = " (compiled)" if args.compiled else ""
    print(f"Trained {model.describe()} on {args.dataset} ({len(X)} points) for {run.history.epochs} epochs{how}: "
          f"loss {run.history.loss[-1]:.4g}, accuracy {acc * 100:.1f}%")
    if args.dataset == "xor":
        print_xor_table(model, X, y)
    if args.save:
        model.save(args.save)
        print(f"Saved the model to {args.save}; load it with MLP.load({args.save!r})")
    if args.plot:
        write_plot(args.plot, run, title=f"{args.dataset}: {model.describe()}, {run.history.epochs} epochs")
        print(f"Wrote the loss curve and the decision boundary to {args.plot}")
    return 0


def _plot_format(path: str) -> str:
    return Path(path).suffix.lstrip(".").lower() or "png"


def _check_plot(path: str, recipe: Recipe, seed: int) -> None:
    """--plot needs matplotlib, a format matplotlib writes, a place to write and 2-D inputs."""
    need_matplotlib("--plot")
    from matplotlib.figure import Figure

    formats = Figure().canvas.get_supported_filetypes()
    if _plot_format(path) not in formats:
        raise UsageError(f"cannot plot to {path}: matplotlib writes {', '.join('.' + f for f in sorted(formats))}")
    writable_file(path, "plot")
    X, _ = recipe.load(seed)
    if np.ndim(X) != 2 or np.shape(X)[1] != 2:
        raise UsageError(f"--plot draws the decision boundary of 2-D data; this data set has inputs of shape "
                         f"{np.shape(X)[1:]}")


def write_plot(path: str | os.PathLike[str], run: Trained, title: str | None = None) -> Path:
    """Loss curve and decision boundary of a trained recipe, rendered and written atomically to ``path``."""
    from ..nn.plot import training_figure

    fig = training_figure(run.model, run.X, run.y, run.history, title=title)
    buffer = io.BytesIO()
    fig.savefig(buffer, format=_plot_format(os.fspath(path)), dpi=110)
    return write_atomic(path, buffer.getvalue(), what="plot")


def print_xor_table(model: MLP, X: np.ndarray, y: np.ndarray, indent: str = "") -> None:
    """The four XOR inputs, their targets, the model's scores and its predicted signs."""
    scores = predict(model, X)
    print(f"{indent}{'x1':>4} {'x2':>4} {'target':>7} {'score':>8} {'predicted':>10}")
    for (a, b), t, s in zip(X, y, scores, strict=True):
        print(f"{indent}{a:>4g} {b:>4g} {t:>+7g} {s:>+8.3f} {(1 if s > 0 else -1):>+10d}")
