"""What ``fit`` measured, one entry per epoch: a :class:`History`.

In a terminal it reads as one line (``History(100 epochs, loss 0.896 → 0.011, accuracy 1.000)``);
in Jupyter as that line and a sparkline of the loss (and of the validation loss, dashed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["History", "sparkline"]


@dataclass(repr=False)
class History:
    """What ``fit`` measured, one entry per epoch (``val_*`` only with validation data)."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    lr: list[float] = field(default_factory=list)
    grad_norms: list[dict[str, float]] = field(default_factory=list)
    stopped: str = ""  # why training ended early ("" when all epochs ran)

    @property
    def epochs(self) -> int:
        return len(self.loss)

    def record(self, loss: float, accuracy: float, lr: float, grad_norms: dict[str, float] | None = None,
               validation: tuple[float, float] | None = None) -> None:
        """Append one epoch's numbers."""
        self.loss.append(loss)
        self.accuracy.append(accuracy)
        self.lr.append(lr)
        if grad_norms is not None:
            self.grad_norms.append(grad_norms)
        if validation is not None:
            self.val_loss.append(validation[0])
            self.val_accuracy.append(validation[1])

    def as_dict(self) -> dict[str, Any]:
        return {"loss": self.loss, "accuracy": self.accuracy, "val_loss": self.val_loss,
                "val_accuracy": self.val_accuracy, "lr": self.lr, "grad_norms": self.grad_norms,
                "stopped": self.stopped}

    def _summary(self) -> str:
        if not self.loss:
            return "0 epochs"
        parts = [f"{self.epochs} epoch{'s' if self.epochs != 1 else ''}",
                 f"loss {self.loss[0]:.4g} → {self.loss[-1]:.4g}"]
        if self.accuracy:
            parts.append(f"accuracy {self.accuracy[-1]:.3f}")
        if self.val_loss:
            parts.append(f"val_loss {self.val_loss[-1]:.4g}, val_accuracy {self.val_accuracy[-1]:.3f}")
        if self.stopped:
            parts.append(f"stopped: {self.stopped}")
        return ", ".join(parts)

    def __repr__(self) -> str:
        return f"History({self._summary()})"

    def _repr_html_(self) -> str:
        import html

        curves = [(self.loss, "")] + ([(self.val_loss, "4 2")] if self.val_loss else [])
        return (f"<div><code>{html.escape(repr(self))}</code><br>{sparkline(curves)}"
                f"<small> loss{' — and validation loss, dashed' if self.val_loss else ''}</small></div>")


def sparkline(curves: Sequence[tuple[Sequence[float], str]], width: int = 240, height: int = 40) -> str:
    """An inline SVG drawing each ``(values, dasharray)`` curve on one shared scale (empty string if no data)."""
    values = [v for ys, _ in curves for v in ys]
    if not values:
        return ""
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    lines = []
    for ys, dash in curves:
        step = (width - 2) / max(len(ys) - 1, 1)
        points = " ".join(f"{1 + i * step:.1f},{1 + (height - 2) * (hi - y) / span:.1f}" for i, y in enumerate(ys))
        style = f' stroke-dasharray="{dash}"' if dash else ""
        lines.append(f'<polyline points="{points}" fill="none" stroke="#1f77b4" stroke-width="1.5"{style}/>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}">{"".join(lines)}</svg>')
