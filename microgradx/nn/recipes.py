"""Recipes: a model, a loss, an optimizer and a schedule that train well on each toy data set.

``RECIPES["xor"].train()`` is the XOR network the demo, the gallery and
``microgradx train xor`` all use: one recipe, written once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import data
from .modules import MLP
from .optim import LinearLR, LRScheduler, Optimizer
from .train import History, fit

__all__ = ["Recipe", "RECIPES", "Trained"]


@dataclass(frozen=True)
class Trained:
    """What :meth:`Recipe.train` returns: the trained model, its data and the training history."""

    model: MLP
    X: np.ndarray
    y: np.ndarray
    history: History


@dataclass(frozen=True)
class Recipe:
    """Sensible defaults for training on one toy data set."""

    description: str
    load: Callable[[int], tuple[np.ndarray, np.ndarray]]
    model: Callable[[int], MLP]
    loss: str
    optimizer: str
    lr: float
    epochs: int
    l2_alpha: float = 0.0
    scheduler: Callable[[Optimizer, int], LRScheduler] | None = None

    def train(self, seed: int = 0, *, epochs: int | None = None, lr: float | None = None,
              progress: bool = False, **fit_options: Any) -> Trained:
        """Load the data, build the model (both from ``seed``) and ``fit`` it with this recipe's settings."""
        X, y = self.load(seed)
        model = self.model(seed)
        n_epochs = epochs or self.epochs
        make = self.scheduler
        scheduler = None if make is None else (lambda opt: make(opt, n_epochs))
        history = fit(model, X, y, loss=self.loss, optimizer=self.optimizer, lr=self.lr if lr is None else lr,
                      epochs=n_epochs, l2_alpha=self.l2_alpha, scheduler=scheduler, progress=progress,
                      **fit_options)
        return Trained(model, X, y, history)


RECIPES: dict[str, Recipe] = {
    "xor": Recipe("MLP(2, [4, 1]) with tanh hidden units, mean squared error, SGD",
                  load=lambda seed: data.xor(),
                  model=lambda seed: MLP(2, [4, 1], activation="tanh", seed=seed),
                  loss="mse", optimizer="sgd", lr=0.3, epochs=300),
    "moons": Recipe("micrograd's demo: MLP(2, [16, 16, 1]), SVM max-margin loss, L2 1e-4, "
                    "SGD with lr decaying linearly from 1.0 to 0.1",
                    load=lambda seed: data.moons(n=100, noise=0.1, seed=seed),
                    model=lambda seed: MLP(2, [16, 16, 1], seed=seed),
                    loss="hinge", optimizer="sgd", lr=1.0, epochs=100, l2_alpha=1e-4,
                    scheduler=lambda opt, epochs: LinearLR(opt, 1.0, 0.1, total_iters=epochs)),
    "circles": Recipe("MLP(2, [16, 16, 1]), SVM max-margin loss, L2 1e-4, Adam",
                      load=lambda seed: data.circles(n=100, noise=0.05, seed=seed),
                      model=lambda seed: MLP(2, [16, 16, 1], seed=seed),
                      loss="hinge", optimizer="adam", lr=0.05, epochs=60, l2_alpha=1e-4),
    "spirals": Recipe("3 spiral arms, MLP(2, [16, 3]), softmax cross-entropy, Adam",
                      load=lambda seed: data.spirals(n=60, n_classes=3, seed=seed),
                      model=lambda seed: MLP(2, [16, 3], seed=seed),
                      loss="softmax_cross_entropy", optimizer="adam", lr=0.05, epochs=150),
}
