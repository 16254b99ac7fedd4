"""Exercises of notebooks 11 to 15: initialisation, dead ReLUs, exploding gradients, batches, overfitting."""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import numpy as np

import microgradx as mx
from microgradx import MLP, Value
from microgradx.nn.modules import ACTIVATIONS, INITS
from microgradx.nn.optim import SGD, clip_grad_vector

from . import solutions as S
from .core import Case, Feedback, as_number
from .kinds import choice, function, number
from .networks import _measure_array

# ---- 11 initialisation -----------------------------------------------------------------------------------------

number(
    "11.1", "He initialisation draws a weight from U(−a, a) with Var(w) = 2/n_in. For n_in = 50, what is a?",
    0.34641, expected_by=lambda: math.sqrt(3 * 2 / 50),
    mistakes=[(0.2, "that is the standard deviation √(2/50). The variance of U(−a, a) is a²/3, so a is larger."),
              (0.24495, "that is Xavier's bound with n_in = n_out = 50; He's variance is 2/n_in.")],
    hint="Var(U(−a, a)) = a²/3. Set it equal to 2/n_in and solve for a.",
    explanation="a²/3 = 2/50 gives a = √(6/50) = 0.3464.")

number(
    "11.2", "A ReLU layer with fan-in 32 and weights from U(−1, 1): by about what factor does it multiply the "
    "signal's variance E[a²]? (the notebook's argument)", 5.3333, expected_by=lambda: 32 * (1 / 3) / 2,
    mistakes=[(10.667, "the ReLU zeroes half of the sums (the negative half), which halves E[a²]: you left that out."),
              (16.0, "the variance of U(−1, 1) is 1/3, not 1.")],
    hint="Var(z) = n · Var(w) · E[a²]; then the ReLU keeps half of a symmetric z's second moment.",
    explanation="32 · (1/3) · (1/2) = 5.33 per layer: after ten layers, thousands (notebook 11's explosion).")


@cache
def _spread(init: str) -> str:
    X = np.random.default_rng(0).normal(size=(32, 200))
    model = MLP(32, [32] * 10 + [1], activation="relu", init=init, seed=0)
    A, stds = X, []
    for layer in model.layers[:-1]:
        W = np.array([[w.data for w in n.w] for n in layer.neurons])
        b = np.array([n.b.data if n.b is not None else 0.0 for n in layer.neurons])
        A = np.maximum(W @ A + b[:, None], 0.0)
        stds.append(float(A.std()))
    if stds[0] == 0.0 or len(np.unique(np.round(A, 12), axis=0)) == 1:
        return "symmetric"
    ratio = stds[-1] / stds[0]
    return "explodes" if ratio > 3 else "fades" if ratio < 1 / 3 else "ok"


def _judge_init(answer: Any) -> str:
    if answer not in INITS:
        raise Feedback(f"{answer!r} is not an init microgradx knows: give the name MLP(..., init=...) takes")
    return _spread(answer)


choice(
    "11.3", "Choose init= for MLP(32, [32] * 10 + [1], activation='relu') so that the signal neither explodes nor "
    "fades over the ten layers (output spread within 3× of the first layer's).", "he", judge=_judge_init,
    what="an init name, as a string",
    mistakes=[("uniform", "it explodes: U(−1, 1) with 32 inputs multiplies the variance by about 5 per ReLU layer."),
              ("xavier", "it fades: Xavier's 2/(n_in + n_out) is half of what a ReLU layer needs, so each layer "
                         "shrinks the signal."),
              ("zeros", "every neuron computes the same thing (here 0): the symmetry is never broken. A start must be "
                        "random.")],
    hint="Which recipe was designed for ReLU, whose derivative zeroes half the inputs?",
    explanation="He: Var(w) = 2/n_in makes n · Var(w) · 1/2 = 1, so each ReLU layer keeps the variance.")

# ---- 12 dead ReLUs ------------------------------------------------------------------------------------------------

_W12 = np.array([[1.0, -1.0], [-2.0, -1.0], [0.5, 0.5]])
_B12 = np.array([0.0, -1.0, -2.0])
_X12 = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0], [0.0, 0.0]])


def _dead() -> tuple[float, ...]:
    z = _X12 @ _W12.T + _B12
    return tuple(float(i) for i in np.flatnonzero((z <= 0).all(axis=0)))


def _observe_dead(answer: Any) -> Any:
    if not isinstance(answer, (list, tuple, set)) or not all(isinstance(i, (int, np.integer)) for i in answer):
        raise Feedback("expected a list of neuron indices, like [0, 2] (an empty list if none)")
    if any(not 0 <= i < 3 for i in answer):
        raise Feedback("the layer has neurons 0, 1 and 2")
    return tuple(float(i) for i in sorted(set(answer)))


number(
    "12.1", "A ReLU layer: W = [[1, −1], [−2, −1], [0.5, 0.5]], b = [0, −1, −2], inputs (1, 0), (0, 1), (1, 1), "
    "(0, 0). Which neurons (0, 1, 2) are dead, off on all four?", [1, 2], expected_by=_dead, observe=_observe_dead,
    what="a list of neuron indices",
    mistakes=[([1], "you found one but missed another: compute z = W·x + b for each neuron at the input where it is "
                       "largest. Is it ever above 0?"),
              ([0, 1, 2], "one of these is on for some input: check z for every input, not just one.")],
    hint="A neuron is dead on these inputs when z = W·x + b ≤ 0 for all four x.",
    explanation="z₀ = x₁ − x₂ is 1 at (1, 0): alive. z₁ = −2x₁ − x₂ − 1 < 0 always; z₂ = 0.5(x₁ + x₂) − 2 ≤ −1: "
                "neurons 1 and 2 are dead.", rtol=0.0, atol=0.0)


def _judge_activation(answer: Any) -> str:
    if answer not in ACTIVATIONS:
        raise Feedback(f"{answer!r} is not an activation microgradx knows: give the name MLP(..., activation=...) "
                       "takes")

    def f_of(v: Value) -> Value:
        return v if answer == "linear" else getattr(v, answer)()

    def f(z: float) -> Value:
        return f_of(Value(z))

    if any(abs(f(z).data - z) > 1e-12 for z in (0.5, 2.0)):
        return "changes positives"
    if all(abs(f(z).data - z) < 1e-12 for z in (-0.5, -2.0)):
        return "linear"
    def slope(z: float) -> float:
        v = Value(z)
        f_of(v).backward()
        return float(v.grad)

    if all(slope(z) == 0.0 for z in (-0.5, -2.0)):
        return "dead"
    return "ok"


choice(
    "12.2", "A ReLU net has a layer off on every sample, so it no longer learns. Choose an activation (by its name) "
    "that gives such neurons a gradient again and stays x for x > 0.", "leaky_relu", judge=_judge_activation,
    what="an activation name, as a string",
    mistakes=[("relu", "with relu a neuron whose sum is negative everywhere gets gradient 0 everywhere: nothing can "
                       "switch it back on. You need a slope below 0 that is not zero."),
              ("sigmoid", "that activation gives gradients everywhere, but it changes positive inputs too (and a "
                          "squashing function brings back vanishing gradients): the fix should leave x > 0 alone."),
              ("linear", "without any nonlinearity the whole network collapses into one linear function.")],
    hint="Keep relu's right half; give the left half a small, non-zero slope.",
    explanation="leaky_relu: f(z) = z for z > 0 and 0.01·z below, so a neuron that is off still passes a hundredth "
                "of its gradient, still learns, and can come back.")


def _leaky_grad() -> float:
    z = Value(-2.0)
    (z.leaky_relu(0.01) * 3.0).backward()
    return float(z.grad)


number(
    "12.3", "z = −2 goes through leaky_relu with slope 0.01 for negative inputs; the gradient arriving from above "
    "is 3. What is ∂L/∂z?", 0.03, expected_by=_leaky_grad,
    mistakes=[(0.0, "that is relu's answer. Leaky ReLU keeps a small slope for negative inputs."),
              (-0.06, "you multiplied by f(z) = 0.01·z; the chain rule multiplies by the derivative f′(z), a slope.")],
    hint="f′(z) for z < 0 is the slope; multiply by the upstream gradient.",
    explanation="f′(−2) = 0.01, times 3: 0.03. Small, but not zero: the neuron still learns.")

# ---- 13 exploding gradients ---------------------------------------------------------------------------------------


def _chain(factor: float, depth: int) -> float:
    x = Value(1.0)
    out = x
    for _ in range(depth):
        out = out * factor
    out.backward()
    return float(x.grad)


number(
    "13.1", "x multiplied by 1.2, twenty times in a chain (out = x · 1.2 · 1.2 ⋯). What is d out/dx?", 38.338,
    expected_by=lambda: _chain(1.2, 20),
    mistakes=[(24.0, "you added the links' local derivatives; the chain rule multiplies them."),
              (1.2, "that is one link. The gradient passes through all twenty.")],
    hint="Each link has local derivative 1.2; the chain rule multiplies the local derivatives along the path.",
    explanation="1.2²⁰ = 38.34: a factor just above 1 grows geometrically with depth.")

_CLIP_CASES = [Case("g = [30, −40] (norm 50), c = 5", (np.array([30.0, -40.0]), 5.0)),
               Case("g = [0.3, 0.4] (norm 0.5), c = 1", (np.array([0.3, 0.4]), 1.0)),
               Case("g = [0, 0, 0], c = 1", (np.zeros(3), 1.0)),
               Case("g = [1, 2, 2] (norm 3), c = 3", (np.array([1.0, 2.0, 2.0]), 3.0))]


def _clip_advice(answer: Any, obs: Any) -> str:
    for o, case in zip(obs, _CLIP_CASES):
        g, c = case.args
        if isinstance(o, str):
            return f"on {case.name} your function gives inf or nan: a zero gradient must stay zero."
        if o.shape != g.shape:
            return f"on {case.name} the result has shape {o.shape}, not the gradient's {g.shape}."
        if np.linalg.norm(o) > c * (1 + 1e-9):
            return f"on {case.name} the result's norm is {np.linalg.norm(o):.4g}, above c."
    return "the norms are fine, but the direction or size changed where it should not."


function(
    "13.2", "Write my_clip(g, c): the gradient vector g rescaled so that its norm √(Σ g²) is at most c, its direction "
    "unchanged; a g already within c comes back unchanged.", S.my_clip, cases=_CLIP_CASES, measure=_measure_array,
    advise=_clip_advice,
    mistakes=[(lambda g, c: np.clip(g, -c, c), "you clipped each entry on its own: that changes the direction (and "
                                               "does not bound the norm). Scale the whole vector by one number."),
              (lambda g, c: g * c / np.linalg.norm(g), "you rescaled every gradient to length c, also short ones "
                                                       "(and a zero one becomes nan): only shrink when ‖g‖ > c.")],
    hint="Multiply the whole vector by one number, chosen so that the new norm is c, and only when ‖g‖ > c.",
    explanation="Scaling by one number keeps the direction; clipping only when ‖g‖ > c leaves ordinary steps alone.",
    template="""
import numpy as np


def my_clip(g, c):
    ...  # your code: return the clipped gradient (a new array)
""")


def _judge_clip(answer: Any) -> str:
    c = as_number(answer)
    if c <= 0:
        raise Feedback("a clipping threshold is a positive number")
    w, flips, furthest = 5.0, 0, 5.0
    for _ in range(300):
        g = np.array([w ** 3 + w])
        clip_grad_vector(g, c)
        new = w - 0.1 * float(g[0])
        flips += (new > 0) != (w > 0)
        w, furthest = new, max(furthest, abs(new))
        if not abs(w) < 1e6:
            return "diverged"
    if abs(w) < 1e-6:
        return "ok"
    return "bouncing" if flips > 10 else "slow"


choice(
    "13.3", "Gradient descent (lr 0.1, 300 steps) on f(w) = w⁴/4 + w²/2 from w = 5 diverges unclipped. Choose a "
    "clipping threshold c (fit's clip_grad_norm) that makes it reach the minimum w = 0.", 5.0, judge=_judge_clip,
    what="a threshold c",
    advise=lambda answer, obs: {
        "diverged": "it still diverged: with a threshold this large the steps are hardly ever clipped.",
        "bouncing": "w jumps across the minimum and back without settling: the clipped step, lr · c, is too long.",
        "slow": "w is still on its way after 300 steps: the clipped step, lr · c, is too short."}.get(obs, str(obs)),
    mistakes=[(0.001, "too small: a clipped step is at most lr · c long, and 300 such steps do not cover the distance "
                      "from 5 to 0."),
              (1000.0, "too large: steps up to lr · c long jump across the minimum and back, round and round, never "
                       "settling. Limit a step to well under the distance to the minimum.")],
    hint="A clipped step is lr · c long. It must be long enough to travel from 5 to 0 in 300 steps, and short "
         "enough not to leap across the valley.",
    explanation="Anything from about 0.5 to 60 works; c = 5 moves 0.5 per step until the gradient is small, then "
                "plain gradient descent finishes the job.")

# ---- 14 batches and loss surfaces -----------------------------------------------------------------------------

number(
    "14.1", "200 samples, mini-batches of 32 (the last, smaller batch kept), 5 epochs. How many optimizer steps?", 35.0,
    expected_by=lambda: 5.0 * math.ceil(200 / 32), rtol=0.0, atol=0.0,
    mistakes=[(30.0, "you dropped the last, smaller batch; here it is kept, and it is one more step per epoch."),
              (31.25, "steps come in whole batches: count the batches per epoch first, a partial one included.")],
    hint="Batches per epoch: 200 / 32 rounded up.",
    explanation="⌈200/32⌉ = 7 batches per epoch (six of 32 and one of 8), so 35 steps.")


def _measure_momentum(fn: Any, grads: tuple[float, ...]) -> Any:
    p, buf, path = np.array([1.0, -2.0]), np.zeros(2), []
    for g in grads:
        out = fn(p.copy(), np.array([g, -g]), buf.copy(), 0.1, 0.9)
        if out is None:
            return None
        if not isinstance(out, tuple) or len(out) != 2:
            raise Feedback("my_momentum_step must return the tuple (p, buf)")
        p, buf = (np.asarray(x, dtype=float) for x in out)
        path.append(p.copy())
    return tuple(path)


_MOM_GRADS = (1.0, 0.5, -0.25, 2.0)


def _momentum_by_library() -> Any:
    params = [Value(1.0), Value(-2.0)]
    opt, path = SGD(params, lr=0.1, momentum=0.9), []
    for g in _MOM_GRADS:
        params[0].grad, params[1].grad = g, -g
        opt.step()
        path.append(np.array([q.data for q in params]))
    return (tuple(path),)


function(
    "14.2", "Write my_momentum_step(p, g, buf, lr, mu): SGD with momentum as in the notebooks, buf ← μ·buf + g, "
    "p ← p − lr·buf; return (p, buf).", S.my_momentum_step,
    cases=[Case("four steps with gradients ±1, ±0.5, ∓0.25, ±2 (lr 0.1, μ 0.9)", (_MOM_GRADS,))],
    measure=_measure_momentum, expected_by=_momentum_by_library, rtol=1e-9,
    mistakes=[(lambda p, g, b, lr, mu: (p - lr * g, b), "your steps ignore the velocity: that is plain SGD. Update "
                                                         "buf and step along it."),
              (lambda p, g, b, lr, mu: (p - lr * (mu * b + (1 - mu) * g), mu * b + (1 - mu) * g),
               "that is an average of the gradients (buf ← μ·buf + (1 − μ)·g), which keeps the step size of SGD. "
               "Momentum adds the whole gradient, so steps grow up to 1/(1 − μ) times.")],
    hint="First update the velocity with the new gradient, then move p along the velocity.",
    explanation="buf accumulates gradients that keep their sign (up to 1/(1 − μ) = 10 times one gradient) and cancels "
                "those that flip; this matches microgradx.nn.optim.SGD(momentum=0.9).",
    template="""
def my_momentum_step(p, g, buf, lr, mu):
    ...  # your code: return p, buf
""")


def _batch_grad() -> float:
    w = Value(0.5)
    mx.losses.mse([w * 1.0, w * 2.0], [2.0, 3.0]).backward()
    return float(w.grad)


number(
    "14.3", "A line through the origin, prediction w·x, w = 0.5, mean squared error on the batch (x, y) = (1, 2), "
    "(2, 3). By hand: dL/dw?", -5.5, expected_by=_batch_grad,
    mistakes=[(-11.0, "you summed over the batch; the loss is a mean, so its gradient is the mean of the samples' "
                      "gradients."),
              (-2.75, "d(e²)/de = 2e: the factor 2 is missing.")],
    hint="Per sample, d(wx − y)²/dw = 2(wx − y)·x. Then average over the batch.",
    explanation="Samples give 2(−1.5)(1) = −3 and 2(−2)(2) = −8; their mean is −5.5.")

# ---- 15 overfitting and regularisation ------------------------------------------------------------------------


def _l2_grad() -> float:
    p = Value(3.0)
    mx.losses.l2([p], 0.01).backward()
    return float(p.grad)


number(
    "15.1", "L2 weight decay adds α·Σ p² to the loss. With α = 0.01, how much does it add to the gradient of a "
    "weight p = 3?", 0.06, expected_by=_l2_grad,
    mistakes=[(0.03, "the derivative of p² is 2p: the factor 2 is missing."),
              (0.09, "that is the penalty α·p² itself, not its gradient.")],
    hint="d(α p²)/dp.",
    explanation="2·α·p = 2 · 0.01 · 3 = 0.06: every step shrinks p towards 0 by lr · 0.06.")

_STOP_CASES = [Case("[1.0, 0.8, 0.9, 0.85, 0.7, 0.75, 0.8, 0.9, 0.95], patience 3",
                    ([1.0, 0.8, 0.9, 0.85, 0.7, 0.75, 0.8, 0.9, 0.95], 3)),
               Case("[0.9, 0.8, 0.7], patience 2", ([0.9, 0.8, 0.7], 2)),
               Case("[1.0, 0.9, 0.95, 0.93, 0.94, 0.92], patience 2", ([1.0, 0.9, 0.95, 0.93, 0.94, 0.92], 2)),
               Case("[0.5, 0.6, 0.4, 0.45, 0.5], patience 2", ([0.5, 0.6, 0.4, 0.45, 0.5], 2))]


def _measure_stop(fn: Any, losses: list[float], patience: int) -> Any:
    out = fn(list(losses), patience)
    if out is None:
        return None
    if not isinstance(out, tuple) or len(out) != 2:
        raise Feedback("my_early_stop must return the tuple (best_epoch, stop_epoch)")
    return tuple(float(x) for x in out)


def _stop_vs_previous(losses: list[float], patience: int) -> tuple[int, int]:
    bad, best_epoch, best = 0, 1, losses[0]
    for epoch in range(2, len(losses) + 1):
        bad = bad + 1 if losses[epoch - 1] >= losses[epoch - 2] else 0
        if losses[epoch - 1] < best:
            best, best_epoch = losses[epoch - 1], epoch
        if bad >= patience:
            return best_epoch, epoch
    return best_epoch, len(losses)


def _stop_zero_based(losses: list[float], patience: int) -> tuple[int, int]:
    best_epoch, stop = S.my_early_stop(losses, patience)
    return best_epoch - 1, stop - 1


function(
    "15.2", "Write my_early_stop(val_losses, patience): (best_epoch, stop_epoch), 1-based; training stops at the epoch "
    "that makes `patience` epochs without a new best (or at the last epoch).", S.my_early_stop, cases=_STOP_CASES,
    measure=_measure_stop,
    mistakes=[(_stop_vs_previous, "you count epochs that are worse than the previous one; patience counts epochs "
                                  "since the best so far. A small dip after a rise is not a new best."),
              (_stop_zero_based, "your epochs are counted from 0; fit's epochs (and this exercise's) count from 1.")],
    hint="Keep the best loss and its epoch; stop when epoch − best_epoch reaches patience.",
    explanation="Compare with the best so far, never with the previous epoch: a noisy curve wiggles.",
    template="""
def my_early_stop(val_losses, patience):
    ...  # your code: return best_epoch, stop_epoch
""")

number(
    "15.3", "Inverted dropout with p = 0.25: in training, by what factor are the surviving outputs scaled so that the "
    "expected output is unchanged?", 1.3333, expected_by=lambda: 1 / (1 - 0.25),
    mistakes=[(0.75, "that is the probability of surviving. To keep the expectation, divide by it."),
              (4.0, "that is 1/p; the survivors are a fraction 1 − p of the outputs.")],
    hint="A fraction (1 − p) of the outputs survives; the expected output is (1 − p) · scale · output.",
    explanation="Scale by 1/(1 − p) = 1/0.75 = 4/3, so the expected output in training equals the output at test time.")
