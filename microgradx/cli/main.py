"""The ``microgradx`` command line (also ``python -m microgradx``).

::

    microgradx train xor                 # train an MLP on XOR, print its predictions
    microgradx train moons --plot moons.png   # micrograd's moons demo, loss curve and decision boundary
    microgradx draw "tanh(x1*w1 + x2*w2 + b)" --set x1=2 --set w1=-3 --set x2=0 --set w2=1 --set b=6.8814 \\
        -o neuron.svg --backward         # the neuron of the lecture: do/dn = 1 - tanh(n)² = 0.5
    microgradx demo                      # what `make demo` runs
    microgradx gallery viz               # what `make viz` runs

Each command lives in its own module with an ``add_<name>_parser(subparsers)``
function that registers it and sets its ``run``; adding a command is one module
and one line in :data:`COMMANDS`.

Errors are one line on stderr, never a traceback: exit status 2 for a bad command
line or expression, 1 for anything that failed while running, 130 after Ctrl-C.
Set ``MICROGRADX_TRACEBACK=1`` to see the traceback of an unexpected error.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .. import __version__
from .demo import add_demo_parser
from .draw import add_draw_parser, expression_last
from .gallery import add_gallery_parser
from .train import add_train_parser

__all__ = ["main", "build_parser", "COMMANDS"]

#: Every command's parser builder, in the order ``--help`` lists them.
COMMANDS: tuple[Callable[[Any], argparse.ArgumentParser], ...] = (
    add_train_parser, add_draw_parser, add_demo_parser, add_gallery_parser)

INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a program stopped by Ctrl-C


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: one sub-parser per command."""
    parser = argparse.ArgumentParser(prog="microgradx", description="microgradx: backpropagation you can see.")
    parser.add_argument("--version", action="version", version=f"microgradx {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for add in COMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        if args_list[:1] == ["draw"]:  # an expression may start with "-": "-a*b"
            args_list = ["draw", *expression_last(args_list[1:])]
        args = build_parser().parse_args(args_list)
        status = int(args.run(args))
        sys.stdout.flush()  # here, where a closed pipe is caught, not at exit
        return status
    except KeyboardInterrupt:
        print("microgradx: interrupted", file=sys.stderr)
        return INTERRUPTED
    except BrokenPipeError:  # the reader of our output went away (`microgradx train xor | head -1`)
        _silence_stdout()
        return 1
    except Exception as e:  # noqa: BLE001 - the command line's promise: one line, never a traceback
        return _report(e, args_list[0] if args_list else "")


def _report(e: Exception, command: str) -> int:
    """Print ``e`` as one line naming the command; returns exit status 1."""
    prefix = f"microgradx {command}".strip() + ": error:"
    if isinstance(e, (OSError, ValueError, ArithmeticError)):
        print(f"{prefix} {e}", file=sys.stderr)
    elif isinstance(e, (RecursionError, MemoryError)):
        print(f"{prefix} the computation is too large or too deeply nested ({type(e).__name__})", file=sys.stderr)
    else:
        if os.environ.get("MICROGRADX_TRACEBACK"):
            raise e
        print(f"{prefix} unexpected {type(e).__name__}: {e} - this is a bug in microgradx; please report it "
              "with the command you ran (MICROGRADX_TRACEBACK=1 shows where it happened)", file=sys.stderr)
    return 1


def _silence_stdout() -> None:
    """Point stdout at the null device, so that Python's final flush does not fail a second time."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):
        pass


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
