"""``microgradx draw``: draw an expression's graph from the command line.

    microgradx draw "tanh(a*b + c)" --set a=2 --set b=-3 --set c=10 -o graph.svg [--backward] [--steps out.html]

The expression is parsed safely (``microgradx.expr``: never ``eval``), built as a
graph of Values, differentiated with ``backward()``, and drawn. The output format
comes from the file suffix (``.svg``, ``.png``, ``.pdf``, or ``.dot`` for the DOT
source). Files are written atomically.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..draw.animate import animate_backward
from ..draw.dot import DEFAULT_MAX_NODES, GraphTooLargeError, GraphvizNotFoundError, draw_dot, save
from ..ops import DomainError
from .expr import FUNCTIONS, ExpressionError, parse, signature


def _assignment(text: str) -> tuple[str, float]:
    """``a=2`` -> ("a", 2.0); argparse shows the ArgumentTypeError message."""
    name, sep, number = text.partition("=")
    name = name.strip()
    if not sep or not name.isidentifier():
        raise argparse.ArgumentTypeError(f"expected NAME=NUMBER, e.g. --set a=2, got {text!r}")
    try:
        value = float(number)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{number.strip()!r} in --set {text} is not a number") from None
    return name, value


def add_draw_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Add the ``draw`` command to an ``argparse`` subparsers object; its ``run`` is :func:`draw_command`."""
    p = subparsers.add_parser(
        "draw", help="draw the graph of an expression (forward or backward view)",
        description="Draw the computational graph of an expression, after backward(). Example: "
                    "microgradx draw \"tanh(a*b + c)\" --set a=2 --set b=-3 --set c=10 -o graph.svg --backward")
    p.add_argument("expression", help="e.g. \"tanh(a*b + c)\": numbers, names, + - * / **, unary -, and "
                                      + ", ".join(signature(name) for name in FUNCTIONS))
    p.add_argument("--set", dest="assignments", metavar="NAME=NUMBER", action="append", default=[],
                   type=_assignment, help="value of a variable (repeat for each one)")
    p.add_argument("-o", "--output", default="graph.svg",
                   help="output file; the suffix picks the format: .svg .png .pdf .dot (default: graph.svg)")
    p.add_argument("--backward", action="store_true",
                   help="draw the backward view: edges labelled with local derivatives and upstream × local")
    p.add_argument("--steps", metavar="HTML", default=None,
                   help="also write the step-by-step backward pass as one self-contained HTML file")
    p.add_argument("--rankdir", default="LR", choices=["LR", "RL", "TB", "BT"], help="layout direction")
    p.add_argument("--max-nodes", type=int, default=DEFAULT_MAX_NODES, help="refuse graphs with more drawn nodes")
    p.set_defaults(run=draw_command)
    return p


def draw_command(args: argparse.Namespace) -> int:
    """Run ``microgradx draw``; prints the written paths, returns the exit status (errors on stderr)."""
    values: dict[str, float] = {}
    for name, value in args.assignments:
        if name in values:
            return _fail(f"--set {name} is given twice")
        values[name] = value
    try:
        root = parse(args.expression).build(values)
        if root.label is None:
            root.label = "out"
        root.backward()
        graph = draw_dot(root, rankdir=args.rankdir, view="backward" if args.backward else "forward",
                         max_nodes=args.max_nodes)
        written = [save(graph, args.output)]
        if args.steps:
            written.append(animate_backward(root, args.steps, title=f"Backward pass of {args.expression}",
                                            rankdir=args.rankdir, max_nodes=args.max_nodes))
    except (ExpressionError, DomainError, GraphTooLargeError, ValueError) as e:
        return _fail(str(e), status=2 if isinstance(e, ExpressionError) else 1)
    except GraphvizNotFoundError as e:
        return _fail(str(e))
    except OSError as e:
        return _fail(f"cannot write the output: {e}")
    print(f"{args.expression} = {root.data!r}")
    for path in written:
        print(f"wrote {path}")
    return 0


def _fail(message: str, status: int = 1) -> int:
    print(f"microgradx draw: error: {message}", file=sys.stderr)
    return status
