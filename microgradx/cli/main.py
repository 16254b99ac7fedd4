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
line, value or expression (before any work), 1 for anything that failed while
running, 130 after Ctrl-C (also while the command is still starting). What a
command needs (Graphviz, matplotlib, a folder it can write in) is checked before
its work, and a missing program is named with the command that installs it.
Set ``MICROGRADX_TRACEBACK=1`` to see the traceback of an unexpected error.
"""

from __future__ import annotations

import argparse
import difflib
import os
import re
import sys
from collections.abc import Callable, Sequence
from typing import Any, NoReturn

from .. import __version__
from .._startup import interrupts_raise
from ..draw.dot import GraphvizNotFoundError
from .demo import add_demo_parser
from .draw import add_draw_parser, expression_last
from .gallery import add_gallery_parser
from .preflight import MissingProgramError, one_line
from .train import add_train_parser
from .values import UsageError

__all__ = ["main", "build_parser", "parse", "Parser", "COMMANDS"]

#: Every command's parser builder, in the order ``--help`` lists them.
COMMANDS: tuple[Callable[[Any], argparse.ArgumentParser], ...] = (
    add_train_parser, add_draw_parser, add_demo_parser, add_gallery_parser)

INTERRUPTED = 130  # 128 + SIGINT, what a shell reports for a program stopped by Ctrl-C
TOP_OPTIONS = ("-h", "--help", "--version")


class Parser(argparse.ArgumentParser):
    """argparse's parser, whose errors suggest the nearest option or command (``--versoin``: ``--version``?)."""

    commands: dict[str, Parser]

    def error(self, message: str) -> NoReturn:
        choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if choice:
            message += _did_you_mean(choice.group(1), re.findall(r"'([^']*)'", choice.group(2)))
        super().error(message)

    def unrecognized(self, extras: list[str]) -> NoReturn:
        """Exit with status 2 naming the arguments this parser does not know, and the nearest option."""
        options = [s for action in self._actions for s in action.option_strings]
        first = next((e.partition("=")[0] for e in extras if e.startswith("-")), "")
        self.error(f"unrecognized arguments: {' '.join(extras)}" + (_did_you_mean(first, options) if first else ""))


def _did_you_mean(word: str, choices: Sequence[str]) -> str:
    """`` (did you mean train?)`` for the choice nearest to ``word`` (case aside: XOR is xor), if one is near."""
    by_lower = {choice.lower(): choice for choice in choices}
    close = difflib.get_close_matches(word.lower(), list(by_lower), n=1, cutoff=0.6)
    return f" (did you mean {by_lower[close[0]]}?)" if close else ""


def build_parser() -> Parser:
    """The argument parser: one sub-parser per command (``parser.commands`` by name)."""
    parser = Parser(prog="microgradx", description="microgradx: backpropagation you can see.")
    parser.add_argument("--version", action="version", version=f"microgradx {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    parser.commands = {}
    for add in COMMANDS:
        sub = add(subparsers)
        assert isinstance(sub, Parser)  # argparse makes sub-parsers of the parser's own class
        parser.commands[sub.prog.split()[-1]] = sub
    return parser


def parse(args_list: list[str]) -> argparse.Namespace:
    """The command line parsed; status 2 with the usage of the command it concerns for anything unknown."""
    parser = build_parser()
    for arg in args_list:  # options before the command: argparse would only say that a command is required
        if not arg.startswith("-") or arg == "--":
            break
        if not _top_option(arg):
            parser.unrecognized([arg])
    args, extras = parser.parse_known_args(args_list)
    if extras:
        parser.commands[args.command].unrecognized(extras)
    return args


def _top_option(arg: str) -> bool:
    """Whether argparse reads ``arg`` as one of the top-level options (``--vers`` is ``--version``)."""
    key = arg.partition("=")[0]
    if key.startswith("--"):
        return any(option.startswith(key) for option in TOP_OPTIONS if option.startswith("--"))
    return key in TOP_OPTIONS


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; returns the exit status."""
    interrupts_raise()  # Ctrl-C while importing ended quietly (see microgradx._startup); from here it raises
    args_list = list(sys.argv[1:] if argv is None else argv)
    try:
        if args_list[:1] == ["draw"]:  # an expression may start with "-": "-a*b"
            args_list = ["draw", *expression_last(args_list[1:])]
        args = parse(args_list)
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
    """Print ``e`` as one line naming the command; returns exit status 2 for a bad value, else 1."""
    prefix = f"microgradx {command}".strip() + ": error:"
    if isinstance(e, UsageError):
        print(f"{prefix} {one_line(str(e))}", file=sys.stderr)
        return 2
    if isinstance(e, (OSError, ValueError, ArithmeticError, MissingProgramError, GraphvizNotFoundError)):
        print(f"{prefix} {one_line(str(e))}", file=sys.stderr)
    elif isinstance(e, ImportError):  # a package microgradx needs is missing (its message names it)
        print(f"{prefix} {one_line(str(e))}; reinstall microgradx (pip install microgradx) or install that "
              "package", file=sys.stderr)
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
