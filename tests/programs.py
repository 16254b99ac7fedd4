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
from tests.oracle import ORACLE

Instruction = tuple[str, tuple[int, ...], float | None]

# Ops whose derivative jumps (the table says where): finite differences are meaningless right at the kink.
KINKED = {name for name, op in OPS.items() if op.kinked}
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
        p = draw(st.sampled_from(POWERS)) if name == "pow" else ORACLE[name].param
        guards = ORACLE[name].guard
        if name == "pow" and p is not None and not (p < 1 or p % 1):
            guards = ("any",)  # a whole power >= 1 is defined everywhere
        args = tuple(positive(a) if g == "positive" else bounded(a) if g == "bounded" else a
                     for a, g in zip(args, guards, strict=True))
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
        else:
            op = OPS[name]
            nodes.append(a[0].apply(op.bind(p) if op.has_param else op, *a[1:]))
    return nodes


def run_torch(xs: list[Any], prog: list[Instruction]) -> list[Any]:
    """The same program on torch tensors: an independent witness of every op."""
    import torch

    nodes = list(xs)
    for name, args, p in prog:
        a = [nodes[i] for i in args]
        if name == "const":
            nodes.append(torch.tensor(p, dtype=torch.float64))
        else:
            fn = ORACLE[name].torch
            nodes.append(fn(*a, p) if OPS[name].has_param else fn(*a))
    return nodes


def near_kink(nodes: list[Any], prog: list[Instruction], n_inputs: int, tol: float = 1e-3) -> bool:
    """True if a kinked op (relu, abs, ...) is evaluated within ``tol`` of its kink."""
    for name, args, _ in prog:
        if name in KINKED and abs(nodes[args[0]].data) < tol:
            return True
    return False


def all_finite(nodes: list[Any], limit: float = 1e6) -> bool:
    return all(math.isfinite(v.data) and abs(v.data) < limit for v in nodes)
