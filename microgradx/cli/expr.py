"""Safe expressions for the command line: ``"tanh(a*b + c)"`` parsed into a graph of Values.

The text is parsed with Python's ``ast`` module and only these forms are accepted:
numbers, variable names, ``+ - * / **``, unary ``-`` and ``+``, and calls of the op
table's one-argument functions (``exp``, ``log``, ``tanh``, ``sigmoid``, ``relu``,
``sqrt``, ``abs``, ``sin``, ``cos``) plus ``leaky_relu(x, slope)``. Anything else
(attributes, subscripts, keywords, strings, ...) is rejected with an error naming
it. Nothing is ever passed to ``eval``.
"""

from __future__ import annotations

import ast
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..engine import Value
from ..ops import OPS

MAX_LENGTH = 10_000

# The functions an expression may call: the op table's unary ops that Value has a method for.
FUNCTIONS: tuple[str, ...] = tuple(sorted(name for name, op in OPS.items()
                                          if op.arity == 1 and not op.has_param and hasattr(Value, name)))
_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/", ast.Pow: "**"}


class ExpressionError(ValueError):
    """The expression is not one microgradx can build (names the offending part)."""


@dataclass(frozen=True)
class Expression:
    """A parsed, checked expression; :meth:`build` turns it into a graph of Values."""

    text: str
    tree: ast.Expression
    names: tuple[str, ...]  # variables, in order of first appearance

    def build(self, values: Mapping[str, float]) -> Value:
        """The expression's graph with each variable a leaf ``Value(values[name], label=name)``."""
        missing = [n for n in self.names if n not in values]
        if missing:
            raise ExpressionError(f"no value for {', '.join(missing)} in {self.text!r}: give one with "
                                  + " ".join(f"--set {n}=<number>" for n in missing))
        unused = [n for n in values if n not in self.names]
        if unused:
            raise ExpressionError(f"{', '.join(unused)} set but not used in {self.text!r} "
                                  f"(its variables are: {', '.join(self.names) or 'none'})")
        leaves = {n: Value(values[n], label=n) for n in self.names}
        try:
            out = _build(self.tree.body, leaves)
        except RecursionError:
            raise ExpressionError("the expression is nested too deeply to build") from None
        return out if isinstance(out, Value) else Value(out)


def _where(text: str, node: ast.AST) -> str:
    part = ast.get_source_segment(text, node) or ast.dump(node)
    return f"{part!r} (column {getattr(node, 'col_offset', 0) + 1})"


def parse(text: str) -> Expression:
    """Parse and check ``text``; raises :class:`ExpressionError` for anything outside the allowed forms."""
    if not isinstance(text, str):
        raise ExpressionError(f"the expression must be a str, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the expression is {len(text)} characters long; the limit is {MAX_LENGTH}")
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as e:
        raise ExpressionError(f"cannot parse {text!r}: {e.msg} at column {e.offset}") from None
    except (RecursionError, MemoryError, ValueError) as e:
        raise ExpressionError(f"cannot parse {text!r}: {type(e).__name__}") from None
    source = text.strip()
    for node in ast.walk(tree):  # iterative: no recursion limit here
        _check(node, source)
    callees = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    variables = sorted(((n.lineno, n.col_offset), n.id) for n in ast.walk(tree)
                       if isinstance(n, ast.Name) and id(n) not in callees)
    names = tuple(dict.fromkeys(name for _, name in variables))  # reading order, each once
    return Expression(source, tree, names)


def _check(node: ast.AST, text: str) -> None:
    allowed = "numbers, names, + - * / **, unary -, and calls of " + ", ".join(FUNCTIONS + ("leaky_relu",))
    if isinstance(node, (ast.Expression, ast.Load)) or type(node) in _BINARY or isinstance(node, (ast.USub, ast.UAdd)):
        return
    if isinstance(node, ast.BinOp):
        if type(node.op) not in _BINARY:
            raise ExpressionError(f"operator {type(node.op).__name__} in {_where(text, node)} is not allowed; "
                                  f"allowed: {allowed}")
        return
    if isinstance(node, ast.UnaryOp):
        if not isinstance(node.op, (ast.USub, ast.UAdd)):
            raise ExpressionError(f"{_where(text, node)} is not allowed; allowed: {allowed}")
        return
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
            raise ExpressionError(f"the constant {_where(text, node)} is not a real number")
        try:
            finite = math.isfinite(float(node.value))
        except OverflowError:
            finite = False
        if not finite:
            raise ExpressionError(f"the constant {_where(text, node)} is not finite")
        return
    if isinstance(node, ast.Name):
        if node.id.startswith("_"):
            raise ExpressionError(f"the name {_where(text, node)} is not allowed (names may not start with _)")
        return
    if isinstance(node, ast.Call):
        func = node.func
        if not isinstance(func, ast.Name):
            raise ExpressionError(f"the call {_where(text, node)} is not allowed: call a function by its name, "
                                  f"one of {', '.join(FUNCTIONS + ('leaky_relu',))}")
        if node.keywords:
            raise ExpressionError(f"keyword arguments in {_where(text, node)} are not allowed")
        if func.id == "leaky_relu":
            if len(node.args) not in (1, 2):
                raise ExpressionError(f"leaky_relu takes 1 or 2 arguments (x, slope) in {_where(text, node)}")
            if len(node.args) == 2 and _constant(node.args[1]) is None:
                raise ExpressionError(f"the slope in {_where(text, node)} must be a number")
            return
        if func.id not in FUNCTIONS:
            raise ExpressionError(f"unknown function {func.id!r} in {_where(text, node)}; "
                                  f"available: {', '.join(FUNCTIONS + ('leaky_relu',))}")
        if len(node.args) != 1 or any(isinstance(a, ast.Starred) for a in node.args):
            raise ExpressionError(f"{func.id} takes exactly one argument, in {_where(text, node)}")
        return
    raise ExpressionError(f"{_where(text, node)} is not allowed in an expression; allowed: {allowed}")


def _constant(node: ast.AST) -> float | None:
    """The number ``node`` stands for if it is a literal (optionally negated), else None."""
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return float(node.value)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _constant(node.operand)
        return None if inner is None else (-inner if isinstance(node.op, ast.USub) else inner)
    return None


def _build(node: ast.AST, leaves: dict[str, Value]) -> Any:
    """Value (or a plain number for a constant part) computed by the checked tree ``node``."""
    if isinstance(node, ast.Constant):
        assert isinstance(node.value, (int, float))  # _check allows only real numbers
        return float(node.value)
    if isinstance(node, ast.Name):
        return leaves[node.id]
    if isinstance(node, ast.UnaryOp):
        x = _build(node.operand, leaves)
        return -x if isinstance(node.op, ast.USub) else x
    if isinstance(node, ast.BinOp):
        x, y = _build(node.left, leaves), _build(node.right, leaves)
        if not isinstance(x, Value) and not isinstance(y, Value):
            x = Value(x)  # keep constant arithmetic in the graph, and in the op table's domain checks
        op = _BINARY[type(node.op)]
        if op == "+":
            return x + y
        if op == "-":
            return x - y
        if op == "*":
            return x * y
        if op == "/":
            return x / y
        return x ** y
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        x = _build(node.args[0], leaves)
        if not isinstance(x, Value):
            x = Value(x)
        if node.func.id == "leaky_relu":
            slope = _constant(node.args[1]) if len(node.args) == 2 else None
            return x.leaky_relu(0.01 if slope is None else slope)
        return getattr(x, node.func.id)()
    raise ExpressionError(f"unexpected node {type(node).__name__}")  # _check rejects these first


def build(text: str, values: Mapping[str, float]) -> Value:
    """Parse ``text`` and build its graph with the given variable values: ``build("a*b", {"a": 2, "b": 3})``."""
    return parse(text).build(values)
