"""``microgradx draw``: draw an expression's graph from the command line.

    microgradx draw "tanh(x1*w1 + x2*w2 + b)" --set x1=2 --set w1=-3 --set x2=0 --set w2=1 --set b=6.8814 \\
        -o neuron.svg --backward [--steps neuron.html]

That is the neuron of the lecture (and of the gallery): n = x1*w1 + x2*w2 + b = 0.8814,
o = tanh(n) = 0.7071, so do/dn = 1 - o² = 0.5 and the backward view shows
do/dx1 = w1 * 0.5 = -1.5, do/dw1 = x1 * 0.5 = 1, do/dw2 = x2 * 0.5 = 0.

The expression is parsed safely (``microgradx.cli.expr``: never ``eval``), built as a
graph of Values, differentiated with ``backward()``, and drawn. The output format
comes from the file suffix (``.svg``, ``.png``, ``.pdf``, or ``.dot`` for the DOT
source); ``-o /dev/stdout`` writes to standard output. Files are written atomically.
An expression may start with ``-``: ``microgradx draw "-a*b" --set a=1 --set b=2``
(or, as usual, after ``--``).
"""

from __future__ import annotations

import argparse
import ast
import itertools
import math
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from ..draw.animate import animate_backward
from ..draw.dot import (
    DEFAULT_MAX_NODES,
    MAX_PNG_WIDTH,
    RENDERED,
    GraphTooLargeError,
    GraphvizNotFoundError,
    draw_dot,
    save,
)
from ..draw.style import THEMES
from ..engine import Value
from ..graph import topological_order
from ..ops import DomainError
from .expr import FUNCTIONS, MAX_NAME_LENGTH, Expression, ExpressionError, parse, quote, signature
from .preflight import MissingProgramError, need_dot, one_line, writable_file
from .values import UsageError, fontsize, positive_int

__all__ = ["add_draw_parser", "draw_command", "expression_last"]

EXAMPLE = ("microgradx draw \"tanh(x1*w1 + x2*w2 + b)\" --set x1=2 --set w1=-3 --set x2=0 --set w2=1 "
           "--set b=6.8814 -o neuron.svg --backward")


def _assignment(text: str) -> tuple[str, str]:
    """``a=2`` -> ("a", "2"); the number is checked by :func:`_values`, which can name the variable."""
    name, sep, number = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=NUMBER, e.g. --set a=2, got {quote(text)}")
    return name, number.strip()


def _values(assignments: list[tuple[str, str]]) -> dict[str, float]:
    """The ``--set`` values by name; ExpressionError naming ``--set NAME`` for a bad one."""
    values: dict[str, float] = {}
    for name, number in assignments:
        given = f"--set {_short(name, 40)}"
        if len(name) > MAX_NAME_LENGTH:
            raise ExpressionError(f"{given}: the name is {len(name)} characters long; "
                                  f"names may have at most {MAX_NAME_LENGTH}")
        if name in values:
            raise ExpressionError(f"{given} is given twice")
        try:
            value = float(number)
        except ValueError:
            raise ExpressionError(f"{given}={quote(number, 40)}: not a number") from None
        if not math.isfinite(value):
            raise ExpressionError(f"{given}={number}: the value must be a finite number")
        values[name] = value
    return values


def add_draw_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``draw`` command to an ``argparse`` subparsers object; its ``run`` is :func:`draw_command`."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "draw", help="draw the graph of an expression (forward or backward view)",
        description="Draw the computational graph of an expression, after backward(). Example, the neuron "
                    f"o = tanh(n) at n = 0.8814, where do/dn = 1 - o² = 0.5: {EXAMPLE}")
    _add_arguments(p)
    p.set_defaults(run=draw_command)
    return p


def _add_arguments(p: argparse.ArgumentParser) -> list[argparse.Action]:
    """Register draw's arguments on ``p``; returns their actions (read by :func:`expression_last`)."""
    return [
        p.add_argument("expression", help="e.g. \"tanh(x1*w1 + x2*w2 + b)\": numbers, names, + - * / **, "
                                          "unary -, and " + ", ".join(signature(name) for name in FUNCTIONS)),
        p.add_argument("--set", dest="assignments", metavar="NAME=NUMBER", action="append", default=[],
                       type=_assignment, help="value of a variable (repeat for each one)"),
        p.add_argument("-o", "--output", default="graph.svg",
                       help="output file; the suffix picks the format: .svg .png .pdf .dot (default: graph.svg)"),
        p.add_argument("--backward", action="store_true",
                       help="draw the backward view: edges labelled with local derivatives and upstream × local"),
        p.add_argument("--steps", metavar="HTML_PDF_OR_PNG", default=None,
                       help="also write the step-by-step backward pass: one self-contained HTML player; with a "
                            ".pdf name one slide per step; with a .png name one picture per step (NAME-00.png, ...)"),
        p.add_argument("--rankdir", default="auto", choices=["auto", "LR", "RL", "TB", "BT"],
                       help="layout direction (default: auto, whichever keeps the text larger on a slide)"),
        p.add_argument("--theme", default="light", choices=sorted(THEMES),
                       help="colours: light, dark, or print (black on white, for handouts)"),
        p.add_argument("--fontsize", type=fontsize, default=11.0, help="text size in points, 4 to 72 (default: 11)"),
        p.add_argument("--width", type=positive_int, default=None, metavar="PIXELS",
                       help="a .png output (and .png steps) exactly this many pixels wide, e.g. 1920 for a slide "
                            "(text stays sharp)"),
        p.add_argument("--max-nodes", type=positive_int, default=DEFAULT_MAX_NODES,
                       help=f"refuse graphs with more drawn nodes (default: {DEFAULT_MAX_NODES})"),
    ]


def expression_last(args: Sequence[str]) -> list[str]:
    """draw's arguments with the expression moved behind ``--``, so that ``"-a*b"`` is not read as an option.

    Every argument that is neither one of draw's options (``--set``, ``--back`` for
    ``--backward``, ``-ograph.svg``, ...) nor an option's value is the expression;
    an argument right after ``--`` is one too, and options may follow it.
    """
    takes_value = {name: action.nargs != 0 for action in _add_arguments(argparse.ArgumentParser(add_help=False))
                   for name in action.option_strings}
    takes_value.update({"-h": False, "--help": False})
    options: list[str] = []
    positionals: list[str] = []
    pending = iter(args)
    for arg in pending:
        name = None if arg == "--" else _option_named(arg, takes_value)
        if name is None:
            positionals.extend(_next(pending) if arg == "--" else [arg])
            continue
        options.append(arg)
        if takes_value[name] and not _value_attached(arg):
            options.extend(_next(pending))
    return [*options, "--", *positionals] if positionals else options


def _next(pending: Iterator[str]) -> list[str]:
    """The next argument, if there is one."""
    return list(itertools.islice(pending, 1))


def _option_named(arg: str, takes_value: dict[str, bool]) -> str | None:
    """The option ``arg`` is (argparse's way: ``--out=x``, ``--back``, ``-ox``), or None if it is none of them."""
    if arg.startswith("--"):
        key = arg.partition("=")[0]
        matches = [name for name in takes_value if name.startswith(key) and name.startswith("--")]
        return key if key in takes_value else (matches[0] if matches else None)
    if arg.startswith("-") and arg[:2] in takes_value:
        return arg[:2]
    return None


def _value_attached(arg: str) -> bool:
    """Whether an option argument carries its value (``--output=g.svg``, ``-og.svg``)."""
    return "=" in arg if arg.startswith("--") else len(arg) > 2


def draw_command(args: argparse.Namespace) -> int:
    """Run ``microgradx draw``; prints the written paths, returns the exit status (errors on stderr)."""
    try:
        expression, values = parse(args.expression), _values(args.assignments)
        _check_outputs(args)
        root = _differentiate(expression, values)
        written = _draw(root, args)
    except GraphTooLargeError as e:
        return _fail(_too_large(e, args.max_nodes), status=2)
    except (ExpressionError, UsageError) as e:
        return _fail(str(e), status=2)
    except (DomainError, ValueError, MissingProgramError, GraphvizNotFoundError) as e:
        return _fail(one_line(str(e)))
    except subprocess.CalledProcessError as e:
        stderr = e.stderr.decode("utf-8", "replace") if isinstance(e.stderr, bytes) else str(e.stderr or "")
        reason = stderr.strip().splitlines()
        return _fail(f"Graphviz could not draw the graph: {reason[0] if reason else e}")
    except FileExistsError as e:  # PNG steps: frames of an earlier, longer run under the same name
        return _fail(str(e))
    except OSError as e:  # the file writer's errors start "cannot write <path>"; others come from Graphviz
        if str(e).startswith("cannot write"):
            return _fail(str(e))
        return _fail(f"Graphviz could not draw the graph ({e.strerror or e}): a label may be longer than "
                     "the 16384 characters Graphviz accepts")
    # With -o /dev/stdout the drawing is the output: the report goes to stderr then.
    report = sys.stderr if any(_is_stdout(path) for path in written) else sys.stdout
    print(f"{_short(args.expression)} = {root.data!r}", file=report)
    for path in written:
        print(f"wrote {path}", file=report)
    return 0


def _differentiate(expression: Expression, values: dict[str, float]) -> Value:
    """The expression's graph after ``backward()``, each part named as it is written (``x1*w1 + x2*w2``, never
    ``v3``) and the whole ``out``: the drawings, the player and ``explain`` name every value by its part."""
    parts: dict[int, ast.AST] = {}
    root = expression.differentiate(values, parts)
    if not root.label:
        root.label = "out"
    for node in topological_order(root):
        part = parts.get(id(node))
        if node._prev and not node.label and part is not None:
            node.label = " ".join((ast.get_source_segment(expression.text, part) or "").split())
    return root


def _check_outputs(args: argparse.Namespace) -> None:
    """The output's format, Graphviz (unless only DOT source is written) and the places to write, before drawing."""
    kind = Path(args.output).suffix.lstrip(".").lower() or "svg"
    if kind not in (*RENDERED, "dot", "gv"):
        raise UsageError(f"cannot tell the format of {args.output!r} from its suffix: use .svg, .png, .pdf or .dot")
    if kind in RENDERED or args.steps:
        need_dot("drawing to " + (args.output if kind in RENDERED else args.steps),
                 also="; or write the DOT source alone with -o NAME.dot" if kind in RENDERED else "")
    if args.width is not None:
        if kind != "png" and not _png_steps(args):
            raise UsageError(f"--width sets a PNG's size in pixels; {args.output!r} is .{kind}: write a .png "
                             "(an SVG or PDF scales without loss)")
        if args.width > MAX_PNG_WIDTH:
            raise UsageError(f"--width {args.width}: at most {MAX_PNG_WIDTH} pixels")
    writable_file(args.output, "drawing")
    if args.steps:
        writable_file(args.steps, "step-by-step page")


def _png_steps(args: argparse.Namespace) -> bool:
    return bool(args.steps) and Path(args.steps).suffix.lower() == ".png"


def _draw(root: Value, args: argparse.Namespace) -> list[Path]:
    """Draw ``root`` (and its step-by-step page) as ``args`` say; returns the paths written."""
    style = {"rankdir": args.rankdir, "max_nodes": args.max_nodes, "theme": args.theme, "fontsize": args.fontsize}
    graph = draw_dot(root, view="backward" if args.backward else "forward", **style)
    steps: list[Path] = []
    if args.steps:  # first: PNG steps may be refused (an earlier run's frames), and then nothing is written
        player = animate_backward(root, title=f"Backward pass of {_short(args.expression)}", **style)
        first = player.save(args.steps, width=args.width if _png_steps(args) else None)
        # PNG steps: every frame is ours (frames of an earlier run under this name are refused, not mixed in)
        steps = sorted(first.parent.glob(first.name[:-6] + "*.png")) if _png_steps(args) else [first]
    png = args.width is not None and Path(args.output).suffix.lower() == ".png"
    return [save(graph, args.output, width=args.width) if png else save(graph, args.output), *steps]


def _too_large(e: GraphTooLargeError, max_nodes: int) -> str:
    """The drawing library's message, or, when the user set the limit, one about their limit."""
    if max_nodes == DEFAULT_MAX_NODES:
        return f"{e} (here: --max-nodes N)"
    if e.reason == "bends":
        return (f"the expression uses a value in ops far apart: its drawing's edges would bend more times than "
                f"--max-nodes {max_nodes} allows, and Graphviz would take minutes to lay them out: "
                "draw a smaller expression, or raise --max-nodes")
    return (f"the drawing has more nodes than --max-nodes {max_nodes} allows: raise --max-nodes "
            f"(the default is {DEFAULT_MAX_NODES}), or draw a smaller expression")


def _short(expression: str, limit: int = 80) -> str:
    """The expression as typed, or its start and its length when it is long."""
    return expression if len(expression) <= limit else f"{expression[:limit]}… ({len(expression)} characters)"


def _is_stdout(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is the file standard output writes to (``/dev/stdout``, ``/dev/fd/1``, ...)."""
    try:
        return os.path.samestat(os.stat(path), os.fstat(sys.stdout.fileno()))
    except (OSError, ValueError, AttributeError):  # no such file, or stdout is not a real file (pytest)
        return False


def _fail(message: str, status: int = 1) -> int:
    print(f"microgradx draw: error: {message}", file=sys.stderr)
    return status
