"""Acceptance: micrograd's moons demo, written with microgradx, reaches 100% training accuracy in 100 steps.

The demo's setup exactly (scikit-learn's moons with numpy seed 1337, weights
from ``random.seed(1337)``, MLP(2, [16, 16, 1]), SVM max-margin loss, L2
1e-4, SGD with lr = 1.0 - 0.9·k/100), trained with ``fit``. That micrograd's
own loop gives the same numbers with microgradx is checked step by step in
``test_nn.py``. 100 full-batch steps over 100 points in a scalar engine: this
is the slowest test of the nn part.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from microgradx.nn import MLP
from microgradx.nn.optim import SGD, LinearLR
from microgradx.nn.train import accuracy, fit


def test_micrograd_moons_demo_reaches_full_training_accuracy_in_100_steps():
    datasets = pytest.importorskip("sklearn.datasets")
    np.random.seed(1337)
    random.seed(1337)
    X, y = datasets.make_moons(n_samples=100, noise=0.1)
    y = y * 2 - 1
    model = MLP(2, [16, 16, 1])
    opt = SGD(model.parameters(), lr=1.0)
    history = fit(model, X, y, loss="hinge", optimizer=opt, epochs=100, l2_alpha=1e-4, progress=False,
                  scheduler=LinearLR(opt, start_factor=1.0, end_factor=0.1, total_iters=100))
    assert history.epochs == 100
    assert history.accuracy[-1] == 1.0
    assert accuracy(model, X, y) == 1.0
    # the demo's printed trajectory: loss 0.8958 at step 0, 0.01098 at step 99
    assert history.loss[0] == pytest.approx(0.8958441028683222, rel=1e-9)
    assert history.loss[-1] == pytest.approx(0.010978370135492717, rel=1e-6)


def test_fit_takes_exactly_the_steps_of_micrograds_hand_written_demo_loop():
    pytest.importorskip("sklearn.datasets")
    from microgradx.engine import Value
    from tests.nn.test_nn import micrograd_demo_loop

    steps = 25  # of the demo's 100: enough to compare every kind of step, a quarter of the time
    hand_model, trace = micrograd_demo_loop(Value, MLP, steps)  # micrograd's loop verbatim, microgradx classes
    np.random.seed(1337)
    random.seed(1337)
    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=100, noise=0.1)
    model = MLP(2, [16, 16, 1])
    opt = SGD(model.parameters(), lr=1.0)
    history = fit(model, X, y * 2 - 1, loss="hinge", optimizer=opt, epochs=steps, l2_alpha=1e-4, progress=False,
                  scheduler=LinearLR(opt, start_factor=1.0, end_factor=0.1, total_iters=100))
    assert history.loss == pytest.approx([loss for loss, _ in trace], rel=1e-12)
    assert history.accuracy == [acc for _, acc in trace]
    assert [p.data for p in model.parameters()] == pytest.approx([p.data for p in hand_model.parameters()],
                                                                 rel=1e-12)
