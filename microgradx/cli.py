"""The ``microgradx`` command line (also ``python -m microgradx``).

::

    microgradx train xor                 # train an MLP on XOR, print its predictions
    microgradx train moons --epochs 50   # micrograd's moons demo
    microgradx train spirals --save spirals.json
    microgradx draw "tanh(a*b + c)" --set a=2 --set b=-3 --set c=10 -o graph.svg --backward

Each subcommand is one ``_add_<name>_parser`` function registered in
:func:`build_parser` and one ``_run_<name>`` function; adding a command means
adding one of each.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import data
from .draw_cli import add_draw_parser
from .nn import MLP
from .optim import LinearLR, LRScheduler, Optimizer
from .train import accuracy, fit, predict

__all__ = ["main", "build_parser", "RECIPES"]


@dataclass(frozen=True)
class Recipe:
    """Sensible defaults for training on one toy data set."""

    description: str
    load: Callable[[int], tuple[np.ndarray, np.ndarray]]
    model: Callable[[int], MLP]
    loss: str
    optimizer: str
    lr: float
    epochs: int
    l2_alpha: float = 0.0
    scheduler: Callable[[Optimizer, int], LRScheduler] | None = None


RECIPES: dict[str, Recipe] = {
    "xor": Recipe("MLP(2, [4, 1]) with tanh hidden units, mean squared error, SGD",
                  load=lambda seed: data.xor(),
                  model=lambda seed: MLP(2, [4, 1], activation="tanh", seed=seed),
                  loss="mse", optimizer="sgd", lr=0.3, epochs=300),
    "moons": Recipe("micrograd's demo: MLP(2, [16, 16, 1]), SVM max-margin loss, L2 1e-4, "
                    "SGD with lr decaying linearly from 1.0 to 0.1",
                    load=lambda seed: data.moons(n=100, noise=0.1, seed=seed),
                    model=lambda seed: MLP(2, [16, 16, 1], seed=seed),
                    loss="hinge", optimizer="sgd", lr=1.0, epochs=100, l2_alpha=1e-4,
                    scheduler=lambda opt, epochs: LinearLR(opt, 1.0, 0.1, total_iters=epochs)),
    "circles": Recipe("MLP(2, [16, 16, 1]), SVM max-margin loss, L2 1e-4, Adam",
                      load=lambda seed: data.circles(n=100, noise=0.05, seed=seed),
                      model=lambda seed: MLP(2, [16, 16, 1], seed=seed),
                      loss="hinge", optimizer="adam", lr=0.05, epochs=60, l2_alpha=1e-4),
    "spirals": Recipe("3 spiral arms, MLP(2, [16, 3]), softmax cross-entropy, Adam",
                      load=lambda seed: data.spirals(n=60, n_classes=3, seed=seed),
                      model=lambda seed: MLP(2, [16, 3], seed=seed),
                      loss="softmax_cross_entropy", optimizer="adam", lr=0.05, epochs=150),
}


# --------------------------------------------------------------------- train


def _add_train_parser(subparsers: Any) -> None:
    p = subparsers.add_parser(
        "train", help="train an MLP on a toy data set",
        description="Train an MLP on a toy data set with sensible defaults and print its accuracy.",
        epilog="\n".join(f"{name}: {r.description}" for name, r in RECIPES.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", choices=sorted(RECIPES), help="which data set")
    p.add_argument("--epochs", type=_positive_int, default=None, help="training epochs (default: per data set)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: per data set)")
    p.add_argument("--seed", type=int, default=0, help="seed for the data and the initial weights (default 0)")
    p.add_argument("--save", metavar="PATH", default=None, help="write the trained model to PATH as JSON")
    p.add_argument("--no-progress", action="store_true", help="do not show the progress bar")
    p.set_defaults(run=_run_train)


def _run_train(args: argparse.Namespace) -> int:
    recipe = RECIPES[args.dataset]
    if args.save and not os.path.isdir(os.path.dirname(os.path.abspath(args.save))):
        raise OSError(f"cannot save to {args.save}: the folder {os.path.dirname(os.path.abspath(args.save))} "
                      "does not exist")
    X, y = recipe.load(args.seed)
    model = recipe.model(args.seed)
    epochs = args.epochs or recipe.epochs
    scheduler = None
    if recipe.scheduler is not None:
        make = recipe.scheduler
        scheduler = lambda opt: make(opt, epochs)  # noqa: E731
    history = fit(model, X, y, loss=recipe.loss, optimizer=recipe.optimizer,
                  lr=recipe.lr if args.lr is None else args.lr, epochs=epochs, l2_alpha=recipe.l2_alpha,
                  scheduler=scheduler, progress=not args.no_progress)
    model.eval()
    acc = accuracy(model, X, y)
    print(f"Trained {model.describe()} on {args.dataset} ({len(X)} points) for {history.epochs} epochs: "
          f"loss {history.loss[-1]:.4g}, accuracy {acc * 100:.1f}%")
    if args.dataset == "xor":
        _print_xor(model, X, y)
    if args.save:
        model.save(args.save)
        print(f"Saved the model to {args.save}; load it with MLP.load({args.save!r})")
    return 0


def _print_xor(model: MLP, X: np.ndarray, y: np.ndarray) -> None:
    scores = predict(model, X)
    print(f"{'x1':>4} {'x2':>4} {'target':>7} {'score':>8} {'predicted':>10}")
    for (a, b), t, s in zip(X, y, scores, strict=True):
        print(f"{a:>4g} {b:>4g} {t:>+7g} {s:>+8.3f} {(1 if s > 0 else -1):>+10d}")


# --------------------------------------------------------------------- entry point


def _positive_int(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {n}")
    return n


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: one sub-parser per command."""
    parser = argparse.ArgumentParser(prog="microgradx", description="microgradx: backpropagation you can see.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    _add_train_parser(subparsers)
    add_draw_parser(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args = build_parser().parse_args(argv)
    try:
        return int(args.run(args))
    except (OSError, ValueError, ArithmeticError) as e:
        print(f"microgradx {args.command}: error: {e}", file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
