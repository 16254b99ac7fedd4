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
from collections.abc import Callable, Iterable
from typing import Any

from ..engine import Value

__all__ = [
    "Optimizer", "SGD", "Adam", "AdamW", "RMSProp", "clip_grad_norm",
    "LRScheduler", "StepLR", "LinearLR", "LambdaLR", "OPTIMIZERS", "make_optimizer",
]


def _grad(p: Value) -> float:
    # After backward(create_graph=True) a grad is itself a Value.
    g = p.grad
    return g.data if isinstance(g, Value) else float(g)


def _check_hyper(name: str, value: float, low: float = 0.0, high: float | None = None,
                 open_high: bool = False) -> float:
    v = float(value)
    bad = not math.isfinite(v) or v < low or (high is not None and (v >= high if open_high else v > high))
    if bad:
        rng = f">= {low}" if high is None else f"in [{low}, {high}{')' if open_high else ']'}"
        raise ValueError(f"{name} must be {rng}, got {value!r}")
    return v


class Optimizer:
    """Holds the parameters and per-parameter state; subclasses define :meth:`step`.

    ``lr`` is a plain attribute: schedules (and you) may change it between steps.
    """

    def __init__(self, params: Iterable[Value], lr: float) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError("the optimizer got an empty parameter list: pass model.parameters()")
        for i, p in enumerate(self.params):
            if not isinstance(p, Value):
                raise TypeError(f"parameter {i} is a {type(p).__name__}, not a Value: pass model.parameters()")
        self.lr = _check_hyper("lr", lr)
        self.steps = 0

    def zero_grad(self) -> None:
        """Set every parameter's gradient to 0 before the next ``backward``."""
        for p in self.params:
            p.grad = 0.0

    def step(self) -> None:
        raise NotImplementedError

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
        self.momentum = _check_hyper("momentum", momentum)
        self.dampening = _check_hyper("dampening", dampening, 0.0, 1.0)
        self.weight_decay = _check_hyper("weight_decay", weight_decay)
        if nesterov and (self.momentum <= 0 or self.dampening != 0):
            raise ValueError("Nesterov momentum needs momentum > 0 and dampening = 0")
        self.nesterov = bool(nesterov)
        self._buf: list[float] | None = None

    def step(self) -> None:
        lr, mu, wd = self.lr, self.momentum, self.weight_decay
        if mu == 0.0:
            for p in self.params:
                g = _grad(p)
                if wd:
                    g += wd * p.data
                p.data -= lr * g
            self.steps += 1
            return
        first = self._buf is None
        if first:
            self._buf = [0.0] * len(self.params)
        buf = self._buf
        assert buf is not None
        for i, p in enumerate(self.params):
            g = _grad(p)
            if wd:
                g += wd * p.data
            b = g if first else mu * buf[i] + (1.0 - self.dampening) * g
            buf[i] = b
            p.data -= lr * (g + mu * b if self.nesterov else b)
        self.steps += 1

    def _hyper(self) -> dict[str, Any]:
        return {"lr": self.lr, "momentum": self.momentum, "nesterov": self.nesterov,
                "weight_decay": self.weight_decay}


class Adam(Optimizer):
    """Adam: running means of g and g² with bias correction; step η·m̂/(√v̂ + ε).

    ``weight_decay`` adds λp to the gradient (PyTorch's Adam); see :class:`AdamW` for decoupled decay.
    """

    _decoupled = False

    def __init__(self, params: Iterable[Value], lr: float = 0.001, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        b1, b2 = betas
        self.betas = (_check_hyper("beta1", b1, 0.0, 1.0, open_high=True),
                      _check_hyper("beta2", b2, 0.0, 1.0, open_high=True))
        self.eps = _check_hyper("eps", eps)
        self.weight_decay = _check_hyper("weight_decay", weight_decay)
        self._m = [0.0] * len(self.params)
        self._v = [0.0] * len(self.params)

    def step(self) -> None:
        self.steps += 1
        t, lr, wd, eps = self.steps, self.lr, self.weight_decay, self.eps
        b1, b2 = self.betas
        c1, c2 = 1.0 - b1 ** t, 1.0 - b2 ** t
        step_size, sqrt_c2 = lr / c1, math.sqrt(c2)
        m, v = self._m, self._v
        for i, p in enumerate(self.params):
            g = _grad(p)
            if wd:
                if self._decoupled:
                    p.data *= 1.0 - lr * wd
                else:
                    g += wd * p.data
            m[i] = b1 * m[i] + (1.0 - b1) * g
            v[i] = b2 * v[i] + (1.0 - b2) * g * g
            p.data -= step_size * m[i] / (math.sqrt(v[i]) / sqrt_c2 + eps)

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
        self.alpha = _check_hyper("alpha", alpha, 0.0, 1.0)
        self.eps = _check_hyper("eps", eps)
        self.weight_decay = _check_hyper("weight_decay", weight_decay)
        self.momentum = _check_hyper("momentum", momentum)
        self._v = [0.0] * len(self.params)
        self._buf = [0.0] * len(self.params)

    def step(self) -> None:
        lr, a, eps, wd, mu = self.lr, self.alpha, self.eps, self.weight_decay, self.momentum
        v, buf = self._v, self._buf
        for i, p in enumerate(self.params):
            g = _grad(p)
            if wd:
                g += wd * p.data
            v[i] = a * v[i] + (1.0 - a) * g * g
            d = g / (math.sqrt(v[i]) + eps)
            if mu:
                buf[i] = mu * buf[i] + d
                d = buf[i]
            p.data -= lr * d
        self.steps += 1

    def _hyper(self) -> dict[str, Any]:
        return {"lr": self.lr, "alpha": self.alpha, "eps": self.eps, "weight_decay": self.weight_decay,
                "momentum": self.momentum}


def clip_grad_norm(params: Iterable[Value], max_norm: float) -> float:
    """Scale all gradients so that their global norm √(Σ g²) is at most ``max_norm``.

    Returns the norm before clipping (as ``torch.nn.utils.clip_grad_norm_``,
    which scales by max_norm/(norm + 1e-6) when the norm is larger).
    """
    ps = list(params)
    max_norm = _check_hyper("max_norm", max_norm)
    total = math.sqrt(sum(_grad(p) ** 2 for p in ps))
    coef = max_norm / (total + 1e-6)
    if coef < 1.0:
        for p in ps:
            p.grad = _grad(p) * coef
    return total


# --------------------------------------------------------------------- schedules


class LRScheduler:
    """Sets ``optimizer.lr = base_lr · factor(epoch)``; call :meth:`step` once per epoch (or step)."""

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"a scheduler needs a microgradx optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lr = optimizer.lr
        self.last_epoch = 0
        self.optimizer.lr = self.base_lr * self.factor(0)

    def factor(self, epoch: int) -> float:
        raise NotImplementedError

    def step(self) -> None:
        self.last_epoch += 1
        self.optimizer.lr = self.base_lr * self.factor(self.last_epoch)

    def get_last_lr(self) -> list[float]:
        """The current learning rate, as a one-element list (PyTorch's shape)."""
        return [self.optimizer.lr]


class StepLR(LRScheduler):
    """lr = base_lr · γ^⌊epoch / step_size⌋."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        if step_size < 1:
            raise ValueError(f"step_size must be a positive int, got {step_size!r}")
        self.step_size, self.gamma = int(step_size), _check_hyper("gamma", gamma)
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
        if total_iters < 1:
            raise ValueError(f"total_iters must be a positive int, got {total_iters!r}")
        self.start_factor = _check_hyper("start_factor", start_factor)
        self.end_factor = _check_hyper("end_factor", end_factor)
        self.total_iters = int(total_iters)
        super().__init__(optimizer)

    def factor(self, epoch: int) -> float:
        k = min(epoch, self.total_iters)
        return self.start_factor + (self.end_factor - self.start_factor) * k / self.total_iters


class LambdaLR(LRScheduler):
    """lr = base_lr · fn(epoch), for any schedule you can write as a function."""

    def __init__(self, optimizer: Optimizer, lr_lambda: Callable[[int], float]) -> None:
        self.lr_lambda = lr_lambda
        super().__init__(optimizer)

    def factor(self, epoch: int) -> float:
        return float(self.lr_lambda(epoch))


#: Optimizers by name (for ``fit(optimizer='adam')`` and the command line).
OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "adam": Adam, "adamw": AdamW, "rmsprop": RMSProp}


def make_optimizer(name: str, params: Iterable[Value], lr: float, **kwargs: Any) -> Optimizer:
    """``make_optimizer('adam', model.parameters(), lr=0.01)``."""
    key = name.lower()
    if key not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {', '.join(map(repr, OPTIMIZERS))}")
    return OPTIMIZERS[key](params, lr=lr, **kwargs)
