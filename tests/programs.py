"""Random expression programs over the whole op table, for property-based tests.

A program is a list of instructions ``(op_name, argument indices, param)``
over a growing list of nodes that starts with the inputs. Before an op with a
domain, the generator inserts instructions that move its operand inside the
domain (``x*x + 0.5`` is positive, ``tanh(x)`` is bounded), so every program
is defined everywhere near its inputs. The same program can be run on
microgradx Values, on numpy arrays, or on torch tensors.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from hypothesis import strategies as st

from microgradx.ops import OPS

Instruction = tuple[str, tuple[int, ...], float | None]

# Ops whose derivative jumps at 0: finite differences are meaningless right at the kink.
KINKED = {"relu", "leaky_relu", "abs"}
POWERS = [-2.0, -1.0, 0.5, 1.5, 2.0, 3.0]


@st.composite
def programs(draw: Callable[..., Any], n_inputs: int = 2, max_ops: int = 8) -> tuple[list[float], list[Instruction]]:
    xs = [draw(st.floats(-2.0, 2.0, allow_nan=False).filter(lambda v: abs(v) > 0.05)) for _ in range(n_inputs)]
    prog: list[Instruction] = []
    n = n_inputs

    def emit(name: str, args: tuple[int, ...], p: float | None = None) -> int:
        nonlocal n
        prog.append((name, args, p))
        n += 1
        return n - 1

    def positive(i: int) -> int:  # x*x + 0.5 > 0
        sq = emit("mul", (i, i))
        half = emit("const", (), 0.5)
        return emit("add", (sq, half))

    def bounded(i: int) -> int:  # tanh(x) in (-1, 1)
        return emit("tanh", (i,))

    for _ in range(draw(st.integers(1, max_ops))):
        name = draw(st.sampled_from(sorted(OPS)))
        op = OPS[name]
        args = tuple(draw(st.integers(0, n - 1)) for _ in range(op.arity))
        p = draw(st.sampled_from(POWERS)) if name == "pow" else (0.1 if name == "leaky_relu" else None)
        if name in ("log", "sqrt"):
            args = (positive(args[0]),)
        elif name == "exp":
            args = (bounded(args[0]),)
        elif name == "div":
            args = (args[0], positive(args[1]))
        elif name == "vpow":
            args = (positive(args[0]), bounded(args[1]))
        elif name == "pow" and p is not None and (p < 1 or p % 1):
            args = (positive(args[0]),)
        elif name == "mul":  # keep products of products well-conditioned
            args = tuple(bounded(a) for a in args)
        emit(name, args, p)
    return xs, prog


def run_values(xs: list[Any], prog: list[Instruction]) -> list[Any]:
    """Run a program on microgradx Values (or anything with the Value methods)."""
    from microgradx import Value

    nodes = list(xs)
    for name, args, p in prog:
        a = [nodes[i] for i in args]
        if name == "const":
            nodes.append(Value(p))
        elif name == "add":
            nodes.append(a[0] + a[1])
        elif name == "sub":
            nodes.append(a[0] - a[1])
        elif name == "mul":
            nodes.append(a[0] * a[1])
        elif name == "div":
            nodes.append(a[0] / a[1])
        elif name == "vpow":
            nodes.append(a[0] ** a[1])
        elif name == "neg":
            nodes.append(-a[0])
        elif name == "pow":
            nodes.append(a[0] ** p)
        elif name == "leaky_relu":
            nodes.append(a[0].leaky_relu(p))
        else:
            nodes.append(getattr(a[0], name)())
    return nodes


def run_torch(xs: list[Any], prog: list[Instruction]) -> list[Any]:
    """The same program on torch tensors: an independent witness of every op."""
    import torch
    import torch.nn.functional as F

    table: dict[str, Callable[..., Any]] = {
        "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
        "div": lambda a, b: a / b, "vpow": lambda a, b: a ** b, "neg": lambda a: -a,
        "exp": torch.exp, "log": torch.log, "sqrt": torch.sqrt, "tanh": torch.tanh,
        "sigmoid": torch.sigmoid, "relu": torch.relu, "abs": torch.abs, "sin": torch.sin, "cos": torch.cos,
    }
    nodes = list(xs)
    for name, args, p in prog:
        a = [nodes[i] for i in args]
        if name == "const":
            nodes.append(torch.tensor(p, dtype=torch.float64))
        elif name == "pow":
            nodes.append(a[0] ** p)
        elif name == "leaky_relu":
            nodes.append(F.leaky_relu(a[0], p))
        else:
            nodes.append(table[name](*a))
    return nodes


def near_kink(nodes: list[Any], prog: list[Instruction], n_inputs: int, tol: float = 1e-3) -> bool:
    """True if a kinked op (relu, abs, ...) is evaluated within ``tol`` of its kink."""
    for name, args, _ in prog:
        if name in KINKED and abs(nodes[args[0]].data) < tol:
            return True
    return False


def all_finite(nodes: list[Any], limit: float = 1e6) -> bool:
    return all(math.isfinite(v.data) and abs(v.data) < limit for v in nodes)
