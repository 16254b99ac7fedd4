"""The test oracle: for every row of the op table, facts worked out independently of the table.

Each entry gives a point inside the op's domain (away from kinks), the op's value
and local derivatives there (written with ``math``, not read from the table), the
same op in PyTorch (the second witness), and how random programs keep each operand
inside the domain (``guard``): ``"any"``, ``"positive"`` (built as x·x + 0.5) or
``"bounded"`` (built as 2·tanh x). Every op test reads this table; a test checks that
it has exactly one entry per row of ``OPS``.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from microgradx.ops import OPS, Op


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


@dataclass(frozen=True)
class Case:
    """One op at one point: what it must give, and PyTorch's version of it."""

    point: tuple[float, ...]
    value: float
    derivatives: tuple[float, ...]
    torch: Callable[..., Any]          # tensors (and the parameter, for a row that has one) -> tensor
    guard: tuple[str, ...]
    param: float | None = None         # the parameter a row that takes one is tested with
    second: float | None = None        # d²/dx² at the point (unary ops)

    def op(self, name: str) -> Op:
        """The row, bound to this case's parameter when it takes one."""
        row = OPS[name]
        return row.bind(self.param) if self.param is not None else row


def _torch() -> Any:
    import torch
    return torch


ORACLE: dict[str, Case] = {
    "add": Case((1.3, -0.4), 0.9, (1.0, 1.0), lambda a, b: a + b, ("any", "any")),
    "sub": Case((1.3, -0.4), 1.7, (1.0, -1.0), lambda a, b: a - b, ("any", "any")),
    "mul": Case((1.3, -0.4), -0.52, (-0.4, 1.3), lambda a, b: a * b, ("bounded", "bounded")),
    "div": Case((1.3, -0.4), -3.25, (-2.5, -1.3 / 0.16), lambda a, b: a / b, ("any", "positive")),
    "vpow": Case((1.3, -0.4), 1.3 ** -0.4, (-0.4 * 1.3 ** -1.4, 1.3 ** -0.4 * math.log(1.3)),
                 lambda a, b: a ** b, ("positive", "bounded")),
    "neg": Case((0.7,), -0.7, (-1.0,), lambda a: -a, ("any",), second=0.0),
    "pow": Case((1.3,), 1.3 ** 2.5, (2.5 * 1.3 ** 1.5,), lambda a, p: a ** p, ("positive",), param=2.5,
                second=2.5 * 1.5 * 1.3 ** 0.5),
    "exp": Case((0.7,), math.exp(0.7), (math.exp(0.7),), lambda a: _torch().exp(a), ("bounded",),
                second=math.exp(0.7)),
    "log": Case((0.7,), math.log(0.7), (1 / 0.7,), lambda a: _torch().log(a), ("positive",), second=-1 / 0.49),
    "sqrt": Case((0.7,), math.sqrt(0.7), (0.5 / math.sqrt(0.7),), lambda a: _torch().sqrt(a), ("positive",),
                 second=-0.25 * 0.7 ** -1.5),
    "tanh": Case((0.7,), math.tanh(0.7), (1 - math.tanh(0.7) ** 2,), lambda a: _torch().tanh(a), ("any",),
                 second=-2 * math.tanh(0.7) * (1 - math.tanh(0.7) ** 2)),
    "sigmoid": Case((-0.7,), _sigmoid(-0.7), (_sigmoid(-0.7) * (1 - _sigmoid(-0.7)),),
                    lambda a: _torch().sigmoid(a), ("any",),
                    second=_sigmoid(-0.7) * (1 - _sigmoid(-0.7)) * (1 - 2 * _sigmoid(-0.7))),
    "relu": Case((0.7,), 0.7, (1.0,), lambda a: _torch().relu(a), ("any",), second=0.0),
    "leaky_relu": Case((-0.7,), -0.07, (0.1,), lambda a, p: _torch().nn.functional.leaky_relu(a, p), ("any",),
                       param=0.1, second=0.0),
    "softplus": Case((0.7,), math.log1p(math.exp(0.7)), (_sigmoid(0.7),),
                     lambda a: _torch().nn.functional.softplus(a), ("any",),
                     second=_sigmoid(0.7) * (1 - _sigmoid(0.7))),
    "abs": Case((-0.7,), 0.7, (-1.0,), lambda a: _torch().abs(a), ("any",), second=0.0),
    "sin": Case((0.7,), math.sin(0.7), (math.cos(0.7),), lambda a: _torch().sin(a), ("any",),
                second=-math.sin(0.7)),
    "cos": Case((0.7,), math.cos(0.7), (-math.sin(0.7),), lambda a: _torch().cos(a), ("any",),
                second=-math.cos(0.7)),
}


def guarded(name: str, operands: list[Any]) -> list[Any]:
    """The operands moved inside op ``name``'s domain by other ops, as its guard says (Values or tensors)."""
    out = []
    for v, guard in zip(operands, ORACLE[name].guard, strict=True):
        if guard == "positive":
            v = v * v + 0.5
        elif guard == "bounded":
            v = v.tanh() * 2.0
        out.append(v)
    return out
