"""microgradx: a scalar reverse-mode autodiff engine for learning how backpropagation works."""

from .engine import TracingError, Value, no_grad
from .functional import grad, gradients, value_and_grad
from .gradcheck import GradcheckError, GradcheckReport, gradcheck
from .ops import OPS, DomainError, Op

__version__ = "0.1.0"

__all__ = [
    "Value", "no_grad", "TracingError", "grad", "gradients", "value_and_grad",
    "gradcheck", "GradcheckError", "GradcheckReport", "OPS", "Op", "DomainError",
]
