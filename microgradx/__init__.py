"""microgradx: a scalar reverse-mode autodiff engine for learning and teaching how backpropagation works."""

from . import data, losses, optim
from .animate import animate_backward, backward_steps
from .engine import TracingError, Value, no_grad
from .explain import explain
from .functional import grad, gradients, value_and_grad
from .gradcheck import GradcheckError, GradcheckReport, gradcheck
from .jit import Jitted, Trace, compile_loss, jit
from .nn import MLP, Layer, Module, Neuron
from .ops import OPS, DomainError, Op
from .train import fit
from .viz import GraphTooLargeError, GraphvizNotFoundError, draw_dot, trace

__version__ = "0.1.0"

__all__ = [
    "Value", "no_grad", "TracingError", "grad", "gradients", "value_and_grad",
    "gradcheck", "GradcheckError", "GradcheckReport", "OPS", "Op", "DomainError",
    "draw_dot", "trace", "explain", "backward_steps", "animate_backward",
    "GraphTooLargeError", "GraphvizNotFoundError",
    "Module", "Neuron", "Layer", "MLP", "fit", "data", "losses", "optim",
    "jit", "Jitted", "Trace", "compile_loss",
]
