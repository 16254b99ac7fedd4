"""Optimizers and learning-rate schedules with PyTorch's shape.

::

    opt = SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = LinearLR(opt, start_factor=1.0, end_factor=0.1, total_iters=100)
    for step in range(100):
        loss = ...
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()

Each optimizer follows the update rule of its ``torch.optim`` namesake, so the
same parameters and gradients give the same steps (the tests check this).
With g the gradient, λ the weight decay and η the learning rate:

* SGD:      g ← g + λp;  b ← μb + (1-τ)g;  p ← p - η·(g + μb if nesterov else b)
* Adam:     m ← β₁m + (1-β₁)g;  v ← β₂v + (1-β₂)g²;  p ← p - η·m̂/(√v̂ + ε)
* AdamW:    as Adam, but the decay is applied to p directly: p ← p(1 - ηλ)
* RMSProp:  v ← αv + (1-α)g²;  p ← p - η·g/(√v + ε)
"""

from __future__ import annotations

import math
import numbers
import operator
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from ..engine import Value
from .args import positive_int, real

__all__ = [
    "Optimizer", "SGD", "Adam", "AdamW", "RMSProp", "clip_grad_norm", "clip_grad_vector",
    "grad_vector", "data_vector", "write_data",
    "LRScheduler", "StepLR", "LinearLR", "LambdaLR", "OPTIMIZERS", "make_optimizer",
]

_DATA = operator.attrgetter("data")


def _grad(p: Value) -> float:
    # After backward(create_graph=True) a grad is itself a Value.
    g = p.grad
    return g.data if isinstance(g, Value) else float(g)


def grad_vector(params: list[Value]) -> np.ndarray:
    """Every parameter's gradient as one vector (a Value gradient is read as its number)."""
    return np.fromiter(map(_grad, params), dtype=np.float64, count=len(params))


def data_vector(params: list[Value]) -> np.ndarray:
    """Every parameter's ``data`` as one vector."""
    return np.fromiter(map(_DATA, params), dtype=np.float64, count=len(params))


def write_data(params: list[Value], vector: np.ndarray) -> None:
    """``params[i].data = vector[i]`` for every i (as Python floats)."""
    for p, d in zip(params, vector.tolist(), strict=True):
        p.data = d


def _parameter_list(params: Any) -> list[Value]:
    """``params`` as a list of distinct Values, or a clear error saying what to pass."""
    if hasattr(params, "parameters") and callable(params.parameters):
        raise TypeError(f"an optimizer takes the parameters, not the {type(params).__name__}: "
                        "pass model.parameters()")
    if isinstance(params, Value):
        raise TypeError("an optimizer takes a list of parameters, got a single Value: pass [v]")
    try:
        ps = list(params)
    except TypeError:
        raise TypeError(f"an optimizer takes a list of parameters (Values), got {type(params).__name__}: "
                        "pass model.parameters()") from None
    if not ps:
        raise ValueError("the optimizer got an empty parameter list: pass model.parameters()")
    seen: dict[int, int] = {}
    for i, p in enumerate(ps):
        if not isinstance(p, Value):
            raise TypeError(f"parameter {i} is a {type(p).__name__}, not a Value: pass model.parameters()")
        first = seen.setdefault(id(p), i)
        if first != i:
            raise ValueError(f"parameter {i} ({p.label or 'unlabelled'}) is the same Value as parameter {first}: "
                             "each parameter may appear once, or it would be updated twice per step")
    return ps


class Optimizer:
    """Holds the parameters and per-parameter state; subclasses define :meth:`_update`.

    Two ways to take a step, with the same math: :meth:`step` reads every
    parameter's ``grad`` and updates its ``data`` (the Value path), and
    :meth:`update` updates a vector of parameter values from a vector of
    gradients, both ordered like ``params`` (the vector path, which
    ``fit(compiled=True)`` uses so that no step loops over parameters in Python).
    ``step()`` is ``update()`` on the gathered numbers, written back.

    ``lr`` may be changed between steps (schedules do); it must stay a finite number >= 0.
    """

    def __init__(self, params: Iterable[Value], lr: float) -> None:
        self.params = _parameter_list(params)
        self.lr = lr
        self.steps = 0

    @property
    def lr(self) -> float:
        """The learning rate η of the next step."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        self._lr = real("lr", value)

    def zero_grad(self) -> None:
        """Set every parameter's gradient to 0 before the next ``backward``."""
        for p in self.params:
            p.grad = 0.0

    def step(self) -> None:
        """Update every parameter's ``data`` from its ``grad``."""
        p = data_vector(self.params)
        self.update(p, grad_vector(self.params))
        write_data(self.params, p)

    def update(self, p: np.ndarray, g: np.ndarray) -> None:
        """One step on the vector ``p`` in place, with gradient ``g`` (both ordered like ``params``)."""
        self.steps += 1
        self._update(p, g)

    def _update(self, p: np.ndarray, g: np.ndarray) -> None:
        raise NotImplementedError(f"{type(self).__name__} must define _update(p, g) (or step())")

    def __repr__(self) -> str:
        fields = ", ".join(f"{k}={v!r}" for k, v in self._hyper().items())
        return f"{type(self).__name__}({len(self.params)} parameters, {fields})"

    def _hyper(self) -> dict[str, Any]:
        return {"lr": self.lr}


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum μ, dampening τ, Nesterov and weight decay λ.

    ``SGD(params, lr)`` alone is micrograd's update ``p.data -= lr * p.grad``.
    """

    def __init__(self, params: Iterable[Value], lr: float = 0.01, momentum: float = 0.0,
                 dampening: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        self.momentum = real("momentum", momentum)
        self.dampening = real("dampening", dampening, 0.0, 1.0)
        self.weight_decay = real("weight_decay", weight_decay)
        if nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("Nesterov momentum needs momentum > 0 and dampening = 0")
        self.nesterov = bool(nesterov)
        self._buf: np.ndarray | None = None

    def _update(self, p: np.ndarray, g: np.ndarray) -> None:
        lr, mu, wd = self.lr, self.momentum, self.weight_decay
        if wd:
            g = g + wd * p
        if mu == 0.0:
            p -= lr * g
            return
        if self._buf is None:  # the first step starts the velocity at g
            self._buf = g.copy()
        else:
            self._buf *= mu
            self._buf += (1.0 - self.dampening) * g
        p -= lr * (g + mu * self._buf if self.nesterov else self._buf)

    def _hyper(self) -> dict[str, Any]:
        return {"lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov,
                "weight_decay": self.weight_decay}


def _betas(betas: Any) -> tuple[float, float]:
    if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
        raise ValueError(f"betas must be a pair (beta1, beta2), e.g. (0.9, 0.999); got {betas!r:.60}")
    return (real("beta1", betas[0], 0.0, 1.0, open_high=True),
            real("beta2", betas[1], 0.0, 1.0, open_high=True))


class Adam(Optimizer):
    """Adam: running means of g and g² with bias correction; step η·m̂/(√v̂ + ε).

    ``weight_decay`` adds λp to the gradient (PyTorch's Adam); see :class:`AdamW` for decoupled decay.
    """

    _decoupled = False

    def __init__(self, params: Iterable[Value], lr: float = 0.001, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        self.betas = _betas(betas)
        self.eps = real("eps", eps)
        self.weight_decay = real("weight_decay", weight_decay)
        self._m = np.zeros(len(self.params))
        self._v = np.zeros(len(self.params))

    def _update(self, p: np.ndarray, g: np.ndarray) -> None:
        t, lr, wd, eps = self.steps, self.lr, self.weight_decay, self.eps
        b1, b2 = self.betas
        c1, c2 = 1.0 - b1 ** t, 1.0 - b2 ** t
        step_size, sqrt_c2 = lr / c1, math.sqrt(c2)
        if wd:
            if self._decoupled:
                p *= 1.0 - lr * wd
            else:
                g = g + wd * p
        m, v = self._m, self._v
        m *= b1
        m += (1.0 - b1) * g
        v *= b2
        v += (1.0 - b2) * g * g
        p -= step_size * m / (np.sqrt(v) / sqrt_c2 + eps)

    def _hyper(self) -> dict[str, Any]:
        return {"lr": self.lr, "betas": self.betas, "eps": self.eps, "weight_decay": self.weight_decay}


class AdamW(Adam):
    """Adam with decoupled weight decay: p ← p·(1 - ηλ) before the Adam step (default λ = 0.01)."""

    _decoupled = True

    def __init__(self, params: Iterable[Value], lr: float = 0.001, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.01) -> None:
        super().__init__(params, lr, betas, eps, weight_decay)


class RMSProp(Optimizer):
    """RMSProp: v ← αv + (1-α)g²;  p ← p - η·g/(√v + ε), with optional momentum on that step."""

    def __init__(self, params: Iterable[Value], lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0) -> None:
        super().__init__(params, lr)
        self.alpha = real("alpha", alpha, 0.0, 1.0)
        self.eps = real("eps", eps)
        self.weight_decay = real("weight_decay", weight_decay)
        self.momentum = real("momentum", momentum)
        self._v = np.zeros(len(self.params))
        self._buf = np.zeros(len(self.params))

    def _update(self, p: np.ndarray, g: np.ndarray) -> None:
        lr, a, eps, wd, mu = self.lr, self.alpha, self.eps, self.weight_decay, self.momentum
        if wd:
            g = g + wd * p
        v = self._v
        v *= a
        v += (1.0 - a) * g * g
        d = g / (np.sqrt(v) + eps)
        if mu:
            self._buf *= mu
            self._buf += d
            d = self._buf
        p -= lr * d

    def _hyper(self) -> dict[str, Any]:
        return {"lr": self.lr, "alpha": self.alpha, "eps": self.eps, "weight_decay": self.weight_decay,
                "momentum": self.momentum}


def clip_grad_vector(g: np.ndarray, max_norm: float) -> float:
    """Scale the gradient vector ``g`` in place so that its norm √(Σ g²) is at most ``max_norm``.

    Returns the norm before clipping. As ``torch.nn.utils.clip_grad_norm_``, the
    scale is max_norm/(norm + 1e-6), applied only when that is below 1.
    """
    max_norm = real("max_norm", max_norm)
    total = math.sqrt(float(np.dot(g, g)))
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        g *= coef
    return total


def clip_grad_norm(params: Iterable[Value], max_norm: float) -> float:
    """Scale all gradients so that their global norm √(Σ g²) is at most ``max_norm``.

    Returns the norm before clipping (see :func:`clip_grad_vector`, which this
    applies to the parameters' gradients).
    """
    if hasattr(params, "parameters"):
        raise TypeError(f"clip_grad_norm takes the parameters, not the {type(params).__name__}: "
                        "pass model.parameters()")
    ps = list(params)
    g = grad_vector(ps)
    total = clip_grad_vector(g, max_norm)
    if max_norm / (total + 1e-6) < 1.0:
        for p, gi in zip(ps, g.tolist(), strict=True):
            p.grad = gi
    return total


# --------------------------------------------------------------------- schedules


class LRScheduler:
    """Sets ``optimizer.lr = base_lr · factor(epoch)``; call :meth:`step` once per epoch (or step).

    Schedules only change one number, so the Value path and the vector path of
    the optimizer share them unchanged. A factor that would make the learning
    rate negative or not a number is refused, naming the schedule and the epoch.
    """

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"a scheduler needs a microgradx optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.last_epoch = 0
        self._set_lr()

    def factor(self, epoch: int) -> float:
        raise NotImplementedError

    def step(self) -> None:
        self.last_epoch += 1
        self._set_lr()

    def _set_lr(self) -> None:
        epoch = self.last_epoch
        factor = self.factor(epoch)
        lr = self.base_lr * factor
        if not (isinstance(lr, float) and math.isfinite(lr) and lr >= 0.0):
            raise ValueError(f"{type(self).__name__} would set the learning rate to {lr!r} at epoch {epoch} "
                             f"(base lr {self.base_lr:g} x factor {factor!r}): a learning rate must be a "
                             "finite number >= 0; check the schedule's arguments (or lr_lambda)")
        self.optimizer.lr = lr

    def get_last_lr(self) -> list[float]:
        """The current learning rate, as a one-element list (PyTorch's shape)."""
        return [self.optimizer.lr]


class StepLR(LRScheduler):
    """lr = base_lr · γ^⌊epoch / step_size⌋."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        self.step_size, self.gamma = positive_int("step_size", step_size), real("gamma", gamma)
        super().__init__(optimizer)

    def factor(self, epoch: int) -> float:
        return self.gamma ** (epoch // self.step_size)


class LinearLR(LRScheduler):
    """Linear decay: the factor goes from ``start_factor`` to ``end_factor`` over ``total_iters`` steps.

    micrograd's moons schedule ``lr = 1.0 - 0.9*k/100`` is
    ``LinearLR(SGD(params, lr=1.0), start_factor=1.0, end_factor=0.1, total_iters=100)``.
    """

    def __init__(self, optimizer: Optimizer, start_factor: float = 1.0 / 3, end_factor: float = 1.0,
                 total_iters: int = 5) -> None:
        self.total_iters = positive_int("total_iters", total_iters)
        self.start_factor = real("start_factor", start_factor)
        self.end_factor = real("end_factor", end_factor)
        super().__init__(optimizer)

    def factor(self, epoch: int) -> float:
        k = min(epoch, self.total_iters)
        return self.start_factor + (self.end_factor - self.start_factor) * k / self.total_iters


class LambdaLR(LRScheduler):
    """lr = base_lr · fn(epoch), for any schedule you can write as a function."""

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float]) -> None:
        if not callable(lr_lambda):
            raise TypeError(f"lr_lambda must be a function of the epoch, got {type(lr_lambda).__name__}")
        self.lr_lambda = lr_lambda
        super().__init__(optimizer)

    def factor(self, epoch: int) -> float:
        f = self.lr_lambda(epoch)
        if isinstance(f, bool) or not isinstance(f, numbers.Real):
            raise TypeError(f"lr_lambda({epoch}) returned {type(f).__name__} {f!r:.40}, not a number")
        return float(f)


#: Optimizers by name (for ``fit(optimizer='adam')`` and the command line).
OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSProp}


def make_optimizer(name: str, params: Iterable[Value], lr: float, **kwargs: Any) -> Optimizer:
    """``make_optimizer('adam', model.parameters(), lr=0.01)``."""
    if not isinstance(name, str):
        raise TypeError(f"an optimizer is named by a string ({', '.join(map(repr, OPTIMIZERS))}) or given as an "
                        f"Optimizer, got {type(name).__name__}: {name!r:.40}")
    key = name.lower()
    if key not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(map(repr, OPTIMIZERS))}")
    return OPTIMIZERS[key](params, lr=lr, **kwargs)
