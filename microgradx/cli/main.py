"""The ``microgradx`` command line (also ``python -m microgradx``).

::

    microgradx train xor                 # train an MLP on XOR, print its predictions
    microgradx train moons --epochs 50   # micrograd's moons demo
    microgradx draw "tanh(a*b + c)" --set a=2 --set b=-3 --set c=10 -o graph.svg --backward
    microgradx demo                      # what `make demo` runs
    microgradx gallery viz               # what `make viz` runs

Each command lives in its own module with an ``add_<name>_parser(subparsers)``
function that registers it and sets its ``run``; adding a command is one module
and one line in :data:`COMMANDS`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .demo import add_demo_parser
from .draw import add_draw_parser
from .gallery import add_gallery_parser
from .train import add_train_parser

__all__ = ["main", "build_parser", "COMMANDS"]

#: Every command's parser builder, in the order ``--help`` lists them.
COMMANDS: tuple[Callable[[Any], argparse.ArgumentParser], ...] = (
    add_train_parser, add_draw_parser, add_demo_parser, add_gallery_parser)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: one sub-parser per command."""
    parser = argparse.ArgumentParser(prog="microgradx", description="microgradx: backpropagation you can see.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in COMMANDS:
        add(subparsers)
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
