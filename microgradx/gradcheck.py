"""Checking backprop against central finite differences.

For each input xᵢ the numeric derivative is

    (f(x + eps·eᵢ) - f(x - eps·eᵢ)) / (2·eps)

and it must agree with the gradient ``backward()`` computes, within
``atol + rtol·|numeric|``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .checks import number
from .engine import Value, no_grad
from .functional import gradients
from .modes import enable_grad


@dataclass(frozen=True)
class GradcheckRow:
    """One input: the backprop gradient, the finite-difference one, and their gap."""

    name: str
    value: float
    analytic: float
    numeric: float
    error: float
    ok: bool


@dataclass(frozen=True)
class GradcheckReport:
    """The per-input comparison; ``ok`` when every row agrees."""

    rows: tuple[GradcheckRow, ...]
    eps: float
    atol: float
    rtol: float

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.rows)

    def __str__(self) -> str:
        head = f"{'input':<10} {'value':>12} {'analytic':>14} {'numeric':>14} {'error':>10}"
        lines = [head] + [
            f"{r.name:<10} {r.value:>12.6g} {r.analytic:>14.8g} {r.numeric:>14.8g} {r.error:>10.2e}"
            + ("" if r.ok else "  <-- mismatch")
            for r in self.rows
        ]
        return "\n".join(lines)


class GradcheckError(AssertionError):
    """Backprop and finite differences disagree; ``.report`` holds the numbers."""

    def __init__(self, report: GradcheckReport) -> None:
        super().__init__(
            f"gradient check failed (eps={report.eps}, atol={report.atol}, rtol={report.rtol}):\n{report}")
        self.report = report


def _argument_names(f: Callable[..., Value], n: int) -> list[str]:
    """The parameter names of ``f`` where it has them (``a``, ``b``), else ``x0, x1, ...``."""
    try:
        params = [p.name for p in inspect.signature(f).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        params = []
    return params[:n] if len(params) >= n else [f"x{i}" for i in range(n)]


def _tolerance(x: Any, what: str, positive: bool) -> float:
    """``eps`` (> 0) or a tolerance (>= 0) as a finite float, or a clear error."""
    v = number(x, f"gradcheck's {what}")
    if v < 0 or (positive and v == 0):
        need = "> 0 (the step of the finite differences)" if positive else ">= 0"
        raise ValueError(f"gradcheck's {what} must be {need}, got {x!r}")
    return v


def _point(x: Any, i: int) -> float:
    """Input ``i`` as a number: a Value gives its ``data`` (the point to check at)."""
    return number(x.data if isinstance(x, Value) else x, f"gradcheck input {i}")


def gradcheck(f: Callable[..., Value], *inputs: float | Value, eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-4, raise_on_failure: bool = True) -> GradcheckReport:
    """Compare ``backward()`` with central differences at ``inputs``; raise on mismatch.

    ``f`` takes one Value per input and returns a Value. An input may be a number or a
    Value (its ``data`` is the point). ``f``'s graph is recorded also inside ``no_grad()``.
    """
    if not inputs:
        raise TypeError("gradcheck needs at least one input value to differentiate at")
    eps, atol, rtol = _tolerance(eps, "eps", True), _tolerance(atol, "atol", False), _tolerance(rtol, "rtol", False)
    xs = [_point(x, i) for i, x in enumerate(inputs)]
    names = _argument_names(f, len(xs))
    leaves = [Value(x, label=name) for x, name in zip(xs, names)]
    with enable_grad():
        out = f(*leaves)
        if not isinstance(out, Value):
            raise TypeError(f"gradcheck: f must return a Value, got {type(out).__name__}")
        analytic = gradients(out, leaves)

    def f_at(values: list[float]) -> float:
        with no_grad():
            return f(*[Value(v) for v in values]).data

    rows = []
    for i, x in enumerate(xs):
        hi, lo = list(xs), list(xs)
        hi[i], lo[i] = x + eps, x - eps
        if hi[i] == lo[i]:  # eps below x's spacing: the difference quotient would be 0/0
            raise ValueError(f"gradcheck: eps={eps!r} is too small to move input {names[i]} = {x!r}; "
                             "use a larger eps (1e-6 relative to the input's size is typical)")
        numeric = (f_at(hi) - f_at(lo)) / (2 * eps)
        a = float(analytic[i])
        err = abs(a - numeric)
        rows.append(GradcheckRow(names[i], x, a, numeric, err, err <= atol + rtol * abs(numeric)))
    report = GradcheckReport(tuple(rows), eps, atol, rtol)
    if raise_on_failure and not report.ok:
        raise GradcheckError(report)
    return report
