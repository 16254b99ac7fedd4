"""Safe expressions for the command line: ``"tanh(x1*w1 + x2*w2 + b)"`` parsed into a graph of Values.

The text is parsed with Python's ``ast`` module and only these forms are accepted:
numbers, variable names, ``+ - * / **``, unary ``-`` and ``+``, and calls of the op
table's prefix rows by name (``exp(x)``, ``tanh(x)``, ``leaky_relu(x, 0.1)``: a row
with a parameter takes it as a number after the operand). Anything else
(attributes, subscripts, keywords, strings, ...) is rejected with an error naming
it. Nothing is ever passed to ``eval``.

Building is iterative, so a long flat sum ``a + a + ... + a`` (up to the length
limit) works; what Python's own parser cannot nest (hundreds of parentheses,
thousands of signs or powers inside one another) is a clear error.
"""

from __future__ import annotations

import ast
import math
import operator
import re
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .. import ops
from ..engine import Value
from ..ops import DomainError, Op

MAX_LENGTH = 10_000  # characters in an expression
MAX_NAME_LENGTH = 100  # characters in a variable's name (a drawing repeats it in several labels)
# Python builds the syntax tree of ``a + a + ... + a`` recursively: a flat sum of MAX_LENGTH / 2 terms needs
# this recursion limit while parsing (the parser's own stack limit still refuses deeper nesting).
_PARSE_RECURSION_LIMIT = 3 * MAX_LENGTH

#: The functions an expression may call: the op table's prefix rows, by the name of their Value method.
CALLABLE: dict[str, Op] = ops.FUNCTIONS
FUNCTIONS: tuple[str, ...] = tuple(sorted(CALLABLE))
# Python's operators, applied to Values (which pick the op table's row: ``x ** 2`` is pow, ``x ** y`` vpow).
_BINARY: dict[type, Callable[[Any, Any], Any]] = {ast.Add: operator.add, ast.Sub: operator.sub,
                                                  ast.Mult: operator.mul, ast.Div: operator.truediv,
                                                  ast.Pow: operator.pow}


def signature(name: str) -> str:
    """How a function is called: ``tanh(x)``, ``leaky_relu(x, slope=0.01)``."""
    op = CALLABLE[name]
    if not op.has_param:
        return f"{name}(x)"
    default = "" if op.default is None else f"={op.default:g}"
    return f"{name}(x, {op.param_name}{default})"


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
        return self._build(values, None)

    def differentiate(self, values: Mapping[str, float], parts: dict[int, ast.AST] | None = None) -> Value:
        """:meth:`build`, then ``backward()``; a derivative that is not finite is named by the part that has it.

        ``parts``, if given, receives the part of the tree each Value was made by (by ``id``)."""
        parts = {} if parts is None else parts
        root = self._build(values, parts)
        try:
            root.backward()
        except DomainError as e:
            node = _made_by(e, root, parts)
            raise (e if node is None else _in_expression(e, node, self.text)) from None
        return root

    def _build(self, values: Mapping[str, float], parts: dict[int, ast.AST] | None) -> Value:
        missing = [n for n in self.names if n not in values]
        if missing:
            raise ExpressionError(f"no value for {_listing(missing)} in {quote(self.text)}: give one with "
                                  + _listing([f"--set {n}=<number>" for n in missing], " "))
        unused = [n for n in values if n not in self.names]
        if unused:
            raise ExpressionError(f"{_listing(unused)} set but not used in {quote(self.text)} "
                                  f"(its variables are: {_listing(list(self.names)) or 'none'})")
        leaves = {n: Value(values[n], label=n) for n in self.names}
        out = _build(self.tree.body, leaves, self.text, parts)
        return out if isinstance(out, Value) else Value(out)


def _made_by(e: DomainError, root: Value, parts: dict[int, ast.AST]) -> ast.AST | None:
    """The part of the expression whose node raised ``e`` in backward(): its op, with ``e``'s operands."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if node._op is e.op and tuple(child.data for child in node._prev) == e.operands and id(node) in parts:
            return parts[id(node)]
        stack.extend(node._prev)
    return None


def quote(text: str, limit: int = 60) -> str:
    """``text`` as ``repr`` shows it, cut to ``limit`` characters (with its length) when longer."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}… ({len(text)} characters)"


def _listing(items: list[str], sep: str = ", ", most: int = 8) -> str:
    """``items`` joined, the first ``most`` of them and a count of the rest."""
    shown = sep.join(item if len(item) <= 40 else quote(item, 40) for item in items[:most])
    return shown + (f"{sep}... ({len(items) - most} more)" if len(items) > most else "")


def _where(text: str, node: ast.AST) -> str:
    part = ast.get_source_segment(text, node) or type(node).__name__
    return f"{quote(part)} (column {getattr(node, 'col_offset', 0) + 1})"


def _column(e: SyntaxError, source: str) -> str:
    """Where Python's parser stopped, counting columns from 1 as every other message does."""
    if not source:
        return "(the expression is empty)"
    if e.offset is None or not 1 <= e.offset <= len(source):  # 0, or one past the end: the text ended too soon
        return f"at the end (column {len(source) + 1})"
    return f"at column {e.offset}"


def _parse_tree(source: str) -> ast.Expression:
    """``ast.parse`` in eval mode, with room for long flat sums; failures become :class:`ExpressionError`."""
    limit = sys.getrecursionlimit()
    try:
        sys.setrecursionlimit(max(limit, _PARSE_RECURSION_LIMIT))
        return ast.parse(source, mode="eval")
    except SyntaxError as e:
        raise ExpressionError(f"cannot parse {quote(source)}: {e.msg} {_column(e, source)}") from None
    except (RecursionError, MemoryError):  # the parser's stack limit: too much nesting, not too little memory
        raise ExpressionError(f"{quote(source)} is nested too deeply for Python's parser (too many "
                              "parentheses, calls, powers or signs inside one another): write it flatter, "
                              "e.g. a*b*c instead of a*(b*(c))") from None
    except ValueError as e:  # e.g. a NUL character
        raise ExpressionError(f"cannot parse {quote(source)}: {e}") from None
    finally:
        sys.setrecursionlimit(limit)


def parse(text: str) -> Expression:
    """Parse and check ``text``; raises :class:`ExpressionError` for anything outside the allowed forms."""
    if not isinstance(text, str):
        raise ExpressionError(f"the expression must be a str, got {type(text).__name__}")
    if len(text) > MAX_LENGTH:
        raise ExpressionError(f"the expression is {len(text)} characters long; the limit is {MAX_LENGTH}")
    source = text.strip()
    tree = _parse_tree(source)
    for node in ast.walk(tree):  # iterative: no recursion limit here
        _check(node, source)
    callees = {id(n.func) for n in ast.walk(tree) if isinstance(n, ast.Call)}
    variables = sorted(((n.lineno, n.col_offset), n.id) for n in ast.walk(tree)
                       if isinstance(n, ast.Name) and id(n) not in callees)
    names = tuple(dict.fromkeys(name for _, name in variables))  # reading order, each once
    return Expression(source, tree, names)


ALLOWED = "numbers, names, + - * / **, unary -, and calls of " + ", ".join(FUNCTIONS)


def _check(node: ast.AST, text: str) -> None:
    """Raise :class:`ExpressionError` naming ``node`` unless it is one of the allowed forms."""
    if isinstance(node, (ast.Expression, ast.Load, ast.keyword, ast.USub, ast.UAdd)) or type(node) in _BINARY:
        return
    check = _CHECKS.get(type(node))
    if check is None:
        raise ExpressionError(f"{_where(text, node)} is not allowed in an expression; allowed: {ALLOWED}")
    check(node, text)


def _check_binary(node: Any, text: str) -> None:
    if type(node.op) not in _BINARY:
        raise ExpressionError(f"operator {type(node.op).__name__} in {_where(text, node)} is not allowed; "
                              f"allowed: {ALLOWED}")


def _check_unary(node: Any, text: str) -> None:
    if not isinstance(node.op, (ast.USub, ast.UAdd)):
        raise ExpressionError(f"{_where(text, node)} is not allowed; allowed: {ALLOWED}")


def _check_constant(node: Any, text: str) -> None:
    if isinstance(node.value, bool) or not isinstance(node.value, (int, float)):
        raise ExpressionError(f"the constant {_where(text, node)} is not a real number")
    try:
        finite = math.isfinite(float(node.value))
    except OverflowError:
        finite = False
    if not finite:
        raise ExpressionError(f"the constant {_where(text, node)} is not finite")


def _check_name(node: Any, text: str) -> None:
    if node.id.startswith("_"):
        raise ExpressionError(f"the name {_where(text, node)} is not allowed (names may not start with _)")
    if len(node.id) > MAX_NAME_LENGTH:
        raise ExpressionError(f"the name {_where(text, node)} is {len(node.id)} characters long; "
                              f"names may have at most {MAX_NAME_LENGTH}")


def _check_call(node: Any, text: str) -> None:
    func = node.func
    if not isinstance(func, ast.Name):
        raise ExpressionError(f"the call {_where(text, node)} is not allowed: call a function by its name, "
                              f"one of {', '.join(FUNCTIONS)}")
    if func.id not in CALLABLE:
        raise ExpressionError(f"unknown function {quote(func.id)} in {_where(text, node)}; "
                              f"available: {', '.join(FUNCTIONS)}")
    op = CALLABLE[func.id]
    _check_keywords(node, op, text)
    most = 2 if op.has_param else 1
    least = 1 if not op.has_param or op.default is not None else 2
    given = len(node.args) + len(node.keywords)
    if not least <= given <= most or any(isinstance(a, ast.Starred) for a in node.args):
        count = "exactly one argument" if most == 1 else ("1 or 2 arguments" if least == 1 else "2 arguments")
        raise ExpressionError(f"{func.id} takes {count}: call it as {signature(func.id)}, in {_where(text, node)}")
    param = _param_node(node)
    if param is not None and _constant(param) is None:
        raise ExpressionError(f"the {op.param_name} in {_where(text, node)} must be a number")


def _check_keywords(node: ast.Call, op: Op, text: str) -> None:
    """The one keyword a call may have is the row's parameter, by its name (``slope=0.1``), after the operand."""
    for keyword in node.keywords:
        if not op.has_param or keyword.arg != op.param_name:
            name = "**" if keyword.arg is None else f"{keyword.arg}="
            accepted = f"; it takes {op.param_name}=" if op.has_param else ""
            raise ExpressionError(f"{op.method} has no keyword argument {name} in {_where(text, node)}{accepted}: "
                                  f"call it as {signature(op.method)}")
        if len(node.args) != 1:
            raise ExpressionError(f"{op.param_name} is given twice in {_where(text, node)}: "
                                  f"call it as {signature(op.method)}")


def _param_node(node: ast.Call) -> ast.AST | None:
    """The parameter of a call, given second (``leaky_relu(x, 0.1)``) or by name (``slope=0.1``), if any."""
    if len(node.args) == 2:
        return node.args[1]
    return node.keywords[0].value if node.keywords else None


_CHECKS: dict[type, Callable[[Any, str], None]] = {
    ast.BinOp: _check_binary, ast.UnaryOp: _check_unary, ast.Constant: _check_constant, ast.Name: _check_name,
    ast.Call: _check_call}


def _constant(node: ast.AST) -> float | None:
    """The number ``node`` stands for if it is a literal under any number of signs (``--1``), else None."""
    sign = 1.0
    while isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign = -sign if isinstance(node.op, ast.USub) else sign
        node = node.operand
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return sign * float(node.value)
    return None


def _operands(node: ast.AST) -> list[ast.AST]:
    """The sub-expressions ``node`` is computed from, left to right (a call's parameter is a constant)."""
    if isinstance(node, ast.UnaryOp):
        return [node.operand]
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.Call):
        return [node.args[0]]
    return []


def _build(root: ast.AST, leaves: dict[str, Value], text: str = "", parts: dict[int, ast.AST] | None = None) -> Any:
    """Value (or a plain number for a constant part) computed by the checked tree ``root`` (parsed from ``text``).

    Post-order with an explicit stack, left operands first (the order a recursive
    evaluation, and Python, would create the nodes in): no recursion limit. ``parts``, if
    given, receives the part of the tree each new Value node was made by (by ``id``).
    """
    results: dict[int, Any] = {}
    stack: list[tuple[ast.AST, bool]] = [(root, False)]
    while stack:
        node, operands_done = stack.pop()
        operands = _operands(node)
        if operands and not operands_done:
            stack.append((node, True))
            stack.extend((operand, False) for operand in reversed(operands))
            continue
        args = [results.pop(id(operand)) for operand in operands]
        try:
            results[id(node)] = made = _apply(node, args, leaves)
        except DomainError as e:
            raise _in_expression(e, node, text) from None
        if parts is not None and isinstance(made, Value):
            parts.setdefault(id(made), node)
    return results[id(root)]


def _in_expression(e: DomainError, node: ast.AST, text: str) -> DomainError:
    """``e`` told in the user's words: the part of the expression, its operands as written, their values.

    The op table states its rule with its own operand names, x and y (``the divisor y != 0``);
    those are replaced by the operands as the user wrote them, which may themselves be named x or y.
    """
    operands = _operands(node)
    if e.op is None or not text or len(e.operands) != len(operands[:e.op.arity]):
        return e
    written = [_source(text, n) for n in operands[:e.op.arity]]
    shown = {ast.get_source_segment(text, n): v for n, v in zip(operands, e.operands, strict=False)
             if _constant(n) is None}  # each operand once (x*x), constants are in the text already
    at = (" at " + ", ".join(f"{w} = {v!r}" for w, v in shown.items())) if shown else ""
    part = f"{_where(text, node)}"
    if e.kind == "overflow":
        message = f"{part} overflows{at}: the result is too large for a float. Use smaller values."
    elif e.kind == "gradient":
        message = (f"{part} has no finite derivative{at}, so backward() cannot give a gradient that is a number. "
                   "Change the --set values (or the expression) to stay away from that point.")
    else:
        rule = re.sub(r"\b[xy]\b", lambda m: written["xy".index(m.group())] if "xy".index(m.group()) < len(written)
                      else m.group(), e.op.domain_text)
        message = (f"{part} is undefined{at}: {ast.get_source_segment(text, node)} needs {rule}. "
                   "Change the --set values (or the expression) so that this holds.")
    return DomainError(message, e.op, e.operands, e.kind)


def _source(text: str, node: ast.AST) -> str:
    """The text of ``node`` as written, in parentheses unless it is a name or a number."""
    part = ast.get_source_segment(text, node) or type(node).__name__
    return part if isinstance(node, (ast.Name, ast.Constant)) or part.isidentifier() else f"({part})"


def _apply(node: ast.AST, args: list[Any], leaves: dict[str, Value]) -> Any:
    """One node of the checked tree applied to its computed operands ``args``."""
    if isinstance(node, ast.Constant):
        assert isinstance(node.value, (int, float))  # _check allows only real numbers
        return float(node.value)
    if isinstance(node, ast.Name):
        return leaves[node.id]
    if isinstance(node, ast.UnaryOp):
        return -args[0] if isinstance(node.op, ast.USub) else args[0]
    if isinstance(node, ast.BinOp):
        x, y = args
        if not isinstance(x, Value) and not isinstance(y, Value):
            x = Value(x)  # keep constant arithmetic in the graph, and in the op table's domain checks
        return _BINARY[type(node.op)](x, y)
    if isinstance(node, ast.Call):
        assert isinstance(node.func, ast.Name)
        x = args[0] if isinstance(args[0], Value) else Value(args[0])
        op = CALLABLE[node.func.id]
        param = _param_node(node)
        return x.apply(op.bound(None if param is None else _constant(param)))
    raise ExpressionError(f"unexpected node {type(node).__name__}")  # _check rejects these first


def build(text: str, values: Mapping[str, float]) -> Value:
    """Parse ``text`` and build its graph with the given variable values: ``build("a*b", {"a": 2, "b": 3})``."""
    return parse(text).build(values)
