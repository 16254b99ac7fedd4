"""``microgradx train DATASET``: train an MLP on a toy data set with its recipe and print how it did.

    microgradx train xor
    microgradx train moons --epochs 50 --save moons.json
"""

from __future__ import annotations

import argparse
import os
from typing import Any

import numpy as np

from ..nn import MLP
from ..nn.recipes import RECIPES
from ..nn.train import accuracy, predict

__all__ = ["add_train_parser", "train_command", "positive_int", "print_xor_table"]


def positive_int(text: str) -> int:
    """argparse type: an int >= 1."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {n}")
    return n


def add_train_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``train`` command to an ``argparse`` subparsers object."""
    p = subparsers.add_parser(
        "train", help="train an MLP on a toy data set",
        description="Train an MLP on a toy data set with sensible defaults and print its accuracy.",
        epilog="\n".join(f"{name}: {r.description}" for name, r in RECIPES.items()),
        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("dataset", choices=sorted(RECIPES), help="which data set")
    p.add_argument("--epochs", type=positive_int, default=None, help="training epochs (default: per data set)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: per data set)")
    p.add_argument("--seed", type=int, default=0, help="seed for the data and the initial weights (default 0)")
    p.add_argument("--save", metavar="PATH", default=None, help="write the trained model to PATH as JSON")
    p.add_argument("--no-progress", action="store_true", help="do not show the progress bar")
    p.set_defaults(run=train_command)
    return p


def train_command(args: argparse.Namespace) -> int:
    """Run ``microgradx train``; returns the exit status."""
    if args.save and not os.path.isdir(os.path.dirname(os.path.abspath(args.save))):
        raise OSError(f"cannot save to {args.save}: the folder {os.path.dirname(os.path.abspath(args.save))} "
                      "does not exist")
    run = RECIPES[args.dataset].train(args.seed, epochs=args.epochs, lr=args.lr, progress=not args.no_progress)
    model, X, y = run.model, run.X, run.y
    model.eval()
    acc = accuracy(model, X, y)
    print(f"Trained {model.describe()} on {args.dataset} ({len(X)} points) for {run.history.epochs} epochs: "
          f"loss {run.history.loss[-1]:.4g}, accuracy {acc * 100:.1f}%")
    if args.dataset == "xor":
        print_xor_table(model, X, y)
    if args.save:
        model.save(args.save)
        print(f"Saved the model to {args.save}; load it with MLP.load({args.save!r})")
    return 0


def print_xor_table(model: MLP, X: np.ndarray, y: np.ndarray, indent: str = "") -> None:
    """The four XOR inputs, their targets, the model's scores and its predicted signs."""
    scores = predict(model, X)
    print(f"{indent}{'x1':>4} {'x2':>4} {'target':>7} {'score':>8} {'predicted':>10}")
    for (a, b), t, s in zip(X, y, scores, strict=True):
        print(f"{indent}{a:>4g} {b:>4g} {t:>+7g} {s:>+8.3f} {(1 if s > 0 else -1):>+10d}")
