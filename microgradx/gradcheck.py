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

from .engine import Value, no_grad
from .functional import gradients


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


def gradcheck(f: Callable[..., Value], *inputs: float, eps: float = 1e-6,
              atol: float = 1e-5, rtol: float = 1e-4, raise_on_failure: bool = True) -> GradcheckReport:
    """Compare ``backward()`` with central differences at ``inputs``; raise on mismatch.

    ``f`` takes one Value per input and returns a Value.
    """
    if not inputs:
        raise TypeError("gradcheck needs at least one input value to differentiate at")
    xs = [float(x) for x in inputs]
    names = _argument_names(f, len(xs))
    leaves = [Value(x, label=name) for x, name in zip(xs, names)]
    analytic = gradients(f(*leaves), leaves)

    def f_at(values: list[float]) -> float:
        with no_grad():
            return f(*[Value(v) for v in values]).data

    rows = []
    for i, x in enumerate(xs):
        hi, lo = list(xs), list(xs)
        hi[i], lo[i] = x + eps, x - eps
        numeric = (f_at(hi) - f_at(lo)) / (2 * eps)
        a = float(analytic[i])
        err = abs(a - numeric)
        rows.append(GradcheckRow(names[i], x, a, numeric, err, err <= atol + rtol * abs(numeric)))
    report = GradcheckReport(tuple(rows), eps, atol, rtol)
    if raise_on_failure and not report.ok:
        raise GradcheckError(report)
    return report
