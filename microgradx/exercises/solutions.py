"""Reference solutions of the exercises that ask for code, kept apart from the notebooks.

Each is written the way a student would write it in the notebook's cell (the teacher's notebooks show exactly
this source), so they import what they use and use only the notebook's own tools.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def build_square() -> Any:
    from microgradx import Value

    gx = Value(3.0, label="x")
    return gx * gx  # value 9, and d(x·x)/dx = x + x = 6: both uses of x send a gradient


def my_topo(root: Any) -> list[Any]:
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        node, children_done = stack.pop()
        if children_done:
            order.append(node)  # every child is already in order: the node can follow them
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in reversed(node._prev))
    return order


def my_sigmoid(v: Any) -> Any:
    import math

    from microgradx import Value

    out = Value(1.0 / (1.0 + math.exp(-v.data)), (v,), "σ")

    def _backward() -> None:
        v.grad += out.data * (1.0 - out.data) * out.grad  # σ'(x) = σ(x)(1 - σ(x)), times the upstream gradient

    out._backward = _backward  # type: ignore[method-assign]
    return out


def my_xor_net(x1: Any, x2: Any) -> Any:
    h_or = (20 * x1 + 20 * x2 - 10).tanh()     # +1 unless both inputs are 0
    h_nand = (-20 * x1 - 20 * x2 + 30).tanh()  # +1 unless both inputs are 1
    return (20 * h_or + 20 * h_nand - 30).tanh()  # AND of the two: +1 only when both are +1


def my_adam_step(p: Any, g: Any, m: Any, v: Any, t: int, lr: float = 0.01, beta1: float = 0.9,
                 beta2: float = 0.999, eps: float = 1e-8) -> tuple[Any, Any, Any]:
    m = beta1 * m + (1 - beta1) * g
    v = beta2 * v + (1 - beta2) * g * g
    m_hat = m / (1 - beta1 ** t)  # the averages start at 0: undo that bias
    v_hat = v / (1 - beta2 ** t)
    return p - lr * m_hat / (np.sqrt(v_hat) + eps), m, v


def my_clamp(x: Any) -> Any:
    return x.relu() - (x - 1).relu()  # 0 below 0, x in between, 1 above 1: no `if`, so jit can trace it


def my_newton_step(f: Any, x: float) -> Any:
    import microgradx as mx

    return x - mx.grad(f)(x) / mx.grad(mx.grad(f))(x)


def my_softmax(scores: np.ndarray) -> Any:
    shifted = scores - scores.max(axis=1, keepdims=True)  # e^(s - max) never overflows; the ratio is unchanged
    e = np.exp(shifted)
    return e / e.sum(axis=1, keepdims=True)


def my_confusion(true: np.ndarray, predicted: np.ndarray, k: int) -> Any:
    table = np.zeros((k, k), dtype=int)
    np.add.at(table, (true, predicted), 1)  # add.at counts repeated (true, predicted) pairs every time
    return table


def my_delta(W_next: np.ndarray, delta_next: np.ndarray, z: np.ndarray) -> Any:
    return (W_next.T @ delta_next) * (1 - np.tanh(z) ** 2)


def my_weight_grad(delta: np.ndarray, a_prev: np.ndarray) -> Any:
    return delta @ a_prev.T  # a row per neuron, a column per input, like W; summed over the samples


def my_clip(g: np.ndarray, c: float) -> Any:
    norm = np.sqrt(np.sum(g * g))
    if norm <= c:
        return g.copy()  # short enough already: unchanged (this also keeps a zero gradient zero)
    return g * (c / norm)


def my_momentum_step(p: Any, g: Any, buf: Any, lr: float, mu: float) -> tuple[Any, Any]:
    buf = mu * buf + g
    return p - lr * buf, buf


def my_early_stop(val_losses: list[float], patience: int) -> tuple[int, int]:
    best, best_epoch = float("inf"), 0
    for epoch, loss in enumerate(val_losses, start=1):
        if loss < best:
            best, best_epoch = loss, epoch
        elif epoch - best_epoch >= patience:
            return best_epoch, epoch
    return best_epoch, len(val_losses)
