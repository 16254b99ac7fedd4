"""microgradx: a scalar reverse-mode autodiff engine for learning and teaching how backpropagation works.

The folders are the wings of the house; imports run one way, from the top down:

* core (this folder): ``ops`` (the op table), ``engine`` (``Value``, ``backward``), ``graph``,
  ``functional`` (``grad``), ``gradcheck``, ``files``
* ``nn``: modules, losses, optimizers, data sets, training, recipes
* ``draw``: the gradient-flow model, Graphviz drawings, ``explain``, the backward animation
* ``compiled``: tracing, the compiler's passes, the numpy executor, ``jit``
* ``cli``: the ``microgradx`` command (train, draw, demo, gallery)
"""

import sys

from . import _startup  # noqa: F401 - first: Ctrl-C while the `microgradx` command starts is one line, status 130
from .compiled import Jitted, compile_loss, jit
from .compiled.trace import Trace
from .draw import (
    GraphTooLargeError,
    GraphvizNotFoundError,
    animate_backward,
    backward_steps,
    draw_dot,
    explain,
    save,
    trace,
)
from .engine import Value
from .functional import FUNCTION_FORMS, grad, gradients, value_and_grad
from .gradcheck import GradcheckError, GradcheckReport, gradcheck
from .modes import TracingError, enable_grad, no_grad
from .nn import MLP, Layer, Module, Neuron, data, losses, optim, train
from .nn.train import fit
from .ops import OPS, DomainError, Op

__version__ = "0.1.0"

# Module paths of microgradx 0.1, when every module sat in this one folder: code that imports
# ``microgradx.train`` or ``microgradx.losses`` keeps working.
for _old, _new in {"data": data, "losses": losses, "optim": optim, "train": train}.items():
    sys.modules.setdefault(f"{__name__}.{_old}", _new)
del _old, _new, sys

# mx.sin, mx.exp, ...: the op table's prefix rows as functions (tests/core/test_ops.py holds this line to the table).
abs, cos, exp, leaky_relu, log, relu, sigmoid, sin, softplus, sqrt, tanh = (
    FUNCTION_FORMS[_name] for _name in
    ("abs", "cos", "exp", "leaky_relu", "log", "relu", "sigmoid", "sin", "softplus", "sqrt", "tanh"))

__all__ = [
    "Value", "no_grad", "enable_grad", "TracingError", "grad", "gradients", "value_and_grad",
    "gradcheck", "GradcheckError", "GradcheckReport", "OPS", "Op", "DomainError",
    "draw_dot", "save", "trace", "explain", "backward_steps", "animate_backward",
    "GraphTooLargeError", "GraphvizNotFoundError",
    "Module", "Neuron", "Layer", "MLP", "fit", "data", "losses", "optim", "train",
    "jit", "Jitted", "Trace", "compile_loss",
    "abs", "cos", "exp", "leaky_relu", "log", "relu", "sigmoid", "sin", "softplus", "sqrt", "tanh",
]
