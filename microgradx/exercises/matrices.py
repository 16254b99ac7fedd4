"""Exercises of notebooks 9 and 10: backpropagation in matrix form, and losses."""

from __future__ import annotations

from typing import Any

import numpy as np

from microgradx import Value
from microgradx.nn.losses import bce_with_logits, softmax_cross_entropy

from . import solutions as S
from .core import Case, Feedback
from .kinds import choice, function, number
from .networks import _measure_array

# ---- 09 backprop in matrix form ----------------------------------------------------------------------------

_rng = np.random.default_rng(9)
_DELTA_CASES = [
    Case("W_next 2×3, one sample", (_rng.normal(size=(2, 3)), _rng.normal(size=(2, 1)), _rng.normal(size=(3, 1)))),
    Case("W_next 2×3, a batch of 4", (_rng.normal(size=(2, 3)), _rng.normal(size=(2, 4)), _rng.normal(size=(3, 4)))),
    Case("W_next 3×3, a batch of 2", (_rng.normal(size=(3, 3)), _rng.normal(size=(3, 2)), _rng.normal(size=(3, 2)))),
]


def _delta_advice(answer: Any, obs: Any) -> str:
    for o, case in zip(obs, _DELTA_CASES):
        want = case.args[2].shape
        if isinstance(o, np.ndarray) and o.shape != want:
            return f"on {case.name} your δ has shape {o.shape}; it must have z's shape {want} (a row per neuron)."
    return "the shape is right but the numbers are not: check each factor of (W⁽ˡ⁺¹⁾)ᵀ δ⁽ˡ⁺¹⁾ ⊙ f′(z⁽ˡ⁾)."


function(
    "09.1", "Write my_delta(W_next, delta_next, z): δ of a tanh layer from the next layer's weights and δ, with "
    "samples in columns: δ⁽ˡ⁾ = (W⁽ˡ⁺¹⁾)ᵀ δ⁽ˡ⁺¹⁾ ⊙ f′(z⁽ˡ⁾).", S.my_delta, cases=_DELTA_CASES,
    measure=_measure_array, advise=_delta_advice,
    mistakes=[(lambda W, d, z: (W @ d) * (1 - np.tanh(z) ** 2),
               "no transpose: W_next @ delta_next fails (or mixes the wrong weights) because row k of W holds the "
               "weights INTO neuron k; neuron i collects its gradient along column i, so use W_next.T."),
              (lambda W, d, z: W.T @ d, "you left out the activation's derivative: multiply element by element by "
                                        "f′(z) = 1 − tanh(z)²."),
              (lambda W, d, z: (W.T @ d) * (1 - z ** 2), "the derivative of tanh is 1 − tanh(z)², not 1 − z²: z is "
                                                          "the sum before the tanh.")],
    hint="Two steps, as in the notebook: the sum over uses ((W_next)ᵀ δ_next), then ⊙ tanh′(z).",
    explanation="(W⁽ˡ⁺¹⁾)ᵀ δ⁽ˡ⁺¹⁾ sums each neuron's outgoing gradients; ⊙ f′(z) passes them through its tanh.",
    template="""
import numpy as np


def my_delta(W_next, delta_next, z):
    ...  # your code: return δ, the shape of z
""")

_WG_CASES = [
    Case("δ 3×1 and a 2×1 (one sample)", (_rng.normal(size=(3, 1)), _rng.normal(size=(2, 1)))),
    Case("δ 3×5 and a 2×5 (a batch of 5)", (_rng.normal(size=(3, 5)), _rng.normal(size=(2, 5)))),
]


def _wg_mean(d: Any, a: Any) -> Any:
    return d @ a.T / d.shape[1]


function(
    "09.2", "Write my_weight_grad(delta, a_prev): ∂L/∂W of a layer from its δ (a row per neuron) and the previous "
    "layer's outputs a_prev (a row per input), samples in columns.", S.my_weight_grad, cases=_WG_CASES,
    measure=_measure_array,
    mistakes=[(lambda d, a: a @ d.T, "your gradient is transposed: ∂L/∂W must have W's shape, a row per neuron and a "
                                     "column per input."),
              (_wg_mean, "right for one sample, too small for a batch: δ already carries the 1/N of the mean loss, "
                         "so the product's sum over samples is the whole gradient. Do not divide again.")],
    hint="Each weight Wⱼᵢ gets δⱼ · aᵢ, summed over samples: an outer product, as a matrix product.",
    explanation="δ a_prevᵀ: entry (j, i) is Σₙ δⱼₙ aᵢₙ, every weight's single use summed over the batch.",
    template="""
def my_weight_grad(delta, a_prev):
    ...  # your code: return an array of W's shape
""")

# ---- 10 losses -----------------------------------------------------------------------------------------------


def _ce_grad() -> float:
    scores = [Value(1.0), Value(2.0), Value(0.0)]
    softmax_cross_entropy([scores], [0]).backward()
    return float(scores[0].grad)


number(
    "10.1", "Softmax cross-entropy, scores s = (1, 2, 0), true class 0. By hand: ∂loss/∂s₀? (3 significant digits)",
    -0.7553, expected_by=_ce_grad,
    mistakes=[(0.2447, "that is p₀ alone. The gradient is p₀ minus the one-hot target, and class 0 is the true one."),
              (1.4076, "that is the loss −ln p₀ itself, not its gradient.")],
    hint="pⱼ = e^sⱼ / Σ e^sᵢ; ∂loss/∂sⱼ = pⱼ − [j is the true class].",
    explanation="p₀ = e / (e + e² + 1) = 0.2447; the gradient is p₀ − 1 = −0.7553: the true class is pulled up.")


def _bce_grad() -> float:
    z = Value(-2.0)
    bce_with_logits([z], [1.0]).backward()
    return float(z.grad)


number(
    "10.2", "bce_with_logits on one example with logit z = −2 and target 1. By hand: ∂loss/∂z? (3 significant digits)",
    -0.8808, expected_by=_bce_grad,
    mistakes=[(0.8808, "your ∂loss/∂z is positive, but raising z (towards the target 1) lowers the loss: the "
                       "gradient is σ(z) − t."),
              (-0.185, "that is squared error on σ(z): 2(σ − 1)·σ′(z). Cross-entropy has no σ′ factor; that is "
                       "its point.")],
    hint="For binary cross-entropy on the logit, ∂loss/∂z = σ(z) − t.",
    explanation="σ(−2) = 0.1192, so the gradient is 0.1192 − 1 = −0.8808: nearly the full push for a wrong answer.")

_TASKS = {"price": "a house's price in euros", "spam": "spam or not (one output)", "digit": "which digit, 0–9"}
_LOSSES = {"mse", "bce_with_logits", "bce", "softmax_cross_entropy", "hinge"}
_RIGHT = {"price": {"mse"}, "spam": {"bce_with_logits", "bce"}, "digit": {"softmax_cross_entropy"}}


def _judge_losses(answer: Any) -> Any:
    if not isinstance(answer, dict) or set(answer) != set(_TASKS):
        raise Feedback(f"expected a dict with the keys {sorted(_TASKS)}, a loss name for each")
    unknown = [v for v in answer.values() if v not in _LOSSES]
    if unknown:
        raise Feedback(f"{unknown[0]!r} is not a loss of microgradx.nn.losses: write its name as a string")
    verdicts = tuple(f"{task}: ok" if answer[task] in _RIGHT[task] else f"{task}: {answer[task]}" for task in _TASKS)
    return "ok" if all(v.endswith(": ok") for v in verdicts) else verdicts


def _losses_advice(answer: Any, obs: Any) -> str:
    wrong = [v.split(":")[0] for v in obs if not v.endswith(": ok")]
    return (f"not the right loss for: {', '.join(_TASKS[w] for w in wrong)}. A number: a linear output and squared "
            "error; classes: cross-entropy on the logits, one output for two classes, k outputs for k.")


choice(
    "10.3", "Pick a loss (its name in microgradx.nn.losses) for each task: {'price': ..., 'spam': ..., 'digit': ...}"
    " -- a house's price, spam or not, which digit 0–9.",
    {"price": "mse", "spam": "bce_with_logits", "digit": "softmax_cross_entropy"}, judge=_judge_losses,
    what="a dict of loss names", advise=_losses_advice,
    mistakes=[({"price": "mse", "spam": "mse", "digit": "mse"},
               "squared error is right for the price, but on classes it stalls when the model is confidently wrong "
               "(notebook 10): use a cross-entropy for spam and for the digit."),
              ({"price": "mse", "spam": "bce_with_logits", "digit": "bce_with_logits"},
               "binary cross-entropy is for one output and two classes; ten digits need ten scores and the softmax "
               "over them.")],
    hint="Regression or classification? And for classification: two classes or k?",
    explanation="mse for a number; bce_with_logits for two classes (one logit); softmax_cross_entropy for k classes.")

