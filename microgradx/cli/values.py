"""What the command line accepts as a value: argparse types that refuse a bad one with status 2, before any work.

Each type raises ``argparse.ArgumentTypeError``, so argparse prints the command's
usage and one line naming the option, and exits with status 2 (a bad command line).
"""

from __future__ import annotations

import argparse
import math

from ..draw.dot import draw_dot
from ..engine import Value

__all__ = ["UsageError", "positive_int", "learning_rate", "fontsize", "plain"]


class UsageError(ValueError):
    """A value on the command line that cannot work (found before any work): the command exits with status 2."""


def positive_int(text: str) -> int:
    """argparse type: an int >= 1."""
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {n}")
    return n


def _number(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None


def learning_rate(text: str) -> float:
    """argparse type: a finite number > 0 (a step of size lr against the gradient: p -= lr * ∂loss/∂p)."""
    lr = _number(text)
    if not (math.isfinite(lr) and lr > 0):
        raise argparse.ArgumentTypeError(f"the learning rate must be a finite number > 0, got {text}")
    return lr


def fontsize(text: str) -> float:
    """argparse type: a text size the drawings accept (the drawing's own check says which)."""
    size = _number(text)
    try:
        draw_dot(Value(0.0), fontsize=size)  # builds a one-node drawing's source: no Graphviz run
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e).replace("fontsize must be", "expected")) from None
    return size


def plain(doc: str | None) -> str | None:
    """The first line of a module docstring as help text: without reStructuredText's ``double backticks``."""
    return doc.strip().splitlines()[0].replace("``", "") if doc else None
