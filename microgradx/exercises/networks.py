"""Exercises of notebooks 4, 5, 6 and 8: XOR, optimizers and initialisation, tracing, digits."""

from __future__ import annotations

from typing import Any

import numpy as np

import microgradx as mx
from microgradx import MLP, Value
from microgradx.graph import topological_order
from microgradx.nn.optim import SGD, Adam

from . import solutions as S
from .core import Case, Feedback, as_number, as_numbers
from .kinds import choice, function, number

CORNERS = ((0.0, 0.0), (0.0, 1.0), (1.0, 0.0), (1.0, 1.0))
XOR = (-1.0, 1.0, 1.0, -1.0)
AND = (-1.0, -1.0, -1.0, 1.0)

# ---- 04 XOR -------------------------------------------------------------------------------------------------


def _perceptron_update() -> tuple[float, float, float]:
    w, b, x, t = np.zeros(2), 0.0, np.array([1.0, 1.0]), -1.0
    if np.sign(w @ x + b) != t:
        w, b = w + t * x, b + t
    return (float(w[0]), float(w[1]), b)


number(
    "04.1", "The perceptron rule from w = (0, 0), b = 0 meets the example x = (1, 1), t = −1 (a score of 0 counts "
    "as a mistake). After this one step, what is (w1, w2, b)?", (-1.0, -1.0, -1.0), expected_by=_perceptron_update,
    what="a tuple (w1, w2, b)",
    mistakes=[((1.0, 1.0, 1.0), "you moved the line towards +1, but this example's target is −1: the rule adds "
                                "t·x and t, with their sign."),
              ((0.0, 0.0, 0.0), "the score is exactly 0, and the notebook's rule counts that as a mistake, so "
                                "there is an update.")],
    hint="After a mistake on (x, t): w ← w + t·x, b ← b + t.",
    explanation="The score 0 is a mistake, so w = (0, 0) + (−1)(1, 1) and b = 0 + (−1).")


def _judge_and(answer: Any) -> Any:
    w1, w2, b = as_numbers(answer, 3)
    verdicts = tuple("right" if np.sign(w1 * x1 + w2 * x2 + b) == t else "wrong" for (x1, x2), t in zip(CORNERS, AND))
    return "ok" if verdicts == ("right",) * 4 else verdicts


def _and_advice(answer: Any, obs: Any) -> str:
    wrong = [f"({x1:g}, {x2:g})" for (x1, x2), o in zip(CORNERS, obs) if o == "wrong"]
    return (f"your line gets {', '.join(wrong)} wrong (a score of exactly 0 counts as wrong). Only (1, 1) may "
            "score above 0.")


choice(
    "04.2", "Give weights (w1, w2, b) for one neuron, score = w1·x1 + w2·x2 + b, whose sign is AND on the four corners "
    "(+1 only for (1, 1)).", (1.0, 1.0, -1.5), judge=_judge_and, what="a tuple (w1, w2, b)",
    mistakes=[((1.0, 1.0, -0.5), "your line puts (0, 1) and (1, 0) on the positive side: that is OR. For AND the "
                                 "bias must outweigh one input alone but not two."),
              ((-1.0, -1.0, 1.5), "every corner has the wrong sign: that is NAND, AND's negation. Flip all three "
                                  "signs.")],
    advise=_and_advice,
    hint="(1, 1) scores w1 + w2 + b, (0, 1) scores w2 + b, (0, 0) scores b. Which signs do you need?",
    explanation="Scores: (0,0) → −1.5, (0,1) and (1,0) → −0.5, (1,1) → +0.5. Any w1 = w2 = w with −2w < b < −w works.")


def _measure_xor(fn: Any) -> Any:
    signs, tanh = [], 0
    for (x1, x2), t in zip(CORNERS, XOR):
        out = fn(Value(x1), Value(x2))
        if out is None:
            return None
        if not isinstance(out, Value):
            raise Feedback(f"my_xor_net must return a Value built from x1 and x2, it returned {type(out).__name__}")
        tanh = max(tanh, sum(n._op == "tanh" for n in topological_order(out)))
        signs.append("unsure" if abs(out.data) < 0.1 else "right" if np.sign(out.data) == t else "wrong")
    return (tuple(signs), min(tanh, 3))


def _one_neuron(x1: Any, x2: Any) -> Any:
    return (x1 + x2 - 0.5).tanh()


def _no_bias(x1: Any, x2: Any) -> Any:
    return (x1 + x2 - 0.5).tanh() + (-x1 - x2 + 1.5).tanh()


def _xor_advice(answer: Any, obs: Any) -> str:
    ((signs, tanh),) = obs
    if tanh < 3:
        return "a network for XOR needs a hidden layer: two tanh neurons and a tanh output (three tanh nodes)."
    bad = [f"({x1:g}, {x2:g}) {s}" for (x1, x2), s in zip(CORNERS, signs) if s != "right"]
    return f"corners not right yet (a score within 0.1 of 0 counts as unsure): {', '.join(bad)}."


function(
    "04.3", "Write my_xor_net(x1, x2) from Values: two hidden tanh neurons and a tanh output neuron, weights of your "
    "choosing, whose sign is XOR (−1, +1, +1, −1) on the four corners, each score at least 0.1 from 0.", S.my_xor_net,
    kind="graph", cases=[Case("the four corners", ())], measure=_measure_xor, atol=0.0,
    mistakes=[(_one_neuron, "one neuron draws one line, and no line separates XOR: add a hidden layer of two tanh "
                            "neurons and combine them in an output neuron."),
              (_no_bias, "the output is the plain sum of the two hidden neurons: it is 0 on (0, 0) and (1, 1). Put "
                         "the output through its own neuron, with weights and a bias: AND of the two.")],
    advise=_xor_advice,
    hint="Notebook 4 found it: one hidden neuron is OR, the other NAND, the output is AND of the two. "
         "Large weights (like 20) make each tanh nearly ±1.",
    explanation="h1 = OR and h2 = NAND, each a line; XOR = OR and NAND, which is one more line in (h1, h2) space.",
    template="""
def my_xor_net(x1, x2):
    ...  # your code: hidden tanh neurons h1, h2, then the output neuron; return the output Value
""")

# ---- 05 moons and optimizers ---------------------------------------------------------------------------------

_ADAM_GRADS = (np.array([0.1, -0.2, 3.0]), np.array([0.2, -0.1, -1.0]), np.array([0.05, 0.3, 0.5]))


def _measure_adam(fn: Any, p0: np.ndarray, grads: tuple[np.ndarray, ...]) -> Any:
    p, m, v, path = p0.copy(), np.zeros_like(p0), np.zeros_like(p0), []
    for t, g in enumerate(grads, start=1):
        out = fn(p.copy(), g.copy(), m.copy(), v.copy(), t)
        if out is None:
            return None
        if not isinstance(out, tuple) or len(out) != 3:
            raise Feedback("my_adam_step must return the tuple (p, m, v)")
        p, m, v = (np.asarray(x, dtype=float) for x in out)
        path.append(p.copy())
    return tuple(path)


def _adam_by_library() -> Any:
    params = [Value(x) for x in (0.5, -1.0, 2.0)]
    opt, path = Adam(params, lr=0.01), []
    for g in _ADAM_GRADS:
        for q, gi in zip(params, g):
            q.grad = float(gi)
        opt.step()
        path.append(np.array([q.data for q in params]))
    return (tuple(path),)


def _adam_no_correction(p: Any, g: Any, m: Any, v: Any, t: int) -> Any:
    m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
    return p - 0.01 * m / (np.sqrt(v) + 1e-8), m, v


def _adam_plus(p: Any, g: Any, m: Any, v: Any, t: int) -> Any:
    q, m, v = S.my_adam_step(p, g, m, v, t)
    return 2 * p - q, m, v


def _adam_g(p: Any, g: Any, m: Any, v: Any, t: int) -> Any:
    m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
    return p - 0.01 * g / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8), m, v


function(
    "05.1", "Write my_adam_step(p, g, m, v, t, lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8): one Adam update of the "
    "arrays p (step number t, from 1), returning the new (p, m, v).", S.my_adam_step,
    cases=[Case("p = (0.5, −1, 2) and three gradients, t = 1, 2, 3", (np.array([0.5, -1.0, 2.0]), _ADAM_GRADS))],
    measure=_measure_adam, expected_by=_adam_by_library, rtol=1e-9,
    mistakes=[(_adam_no_correction, "no bias correction: m and v start at 0, so early on they are far too small. "
                                    "Divide them by (1 − beta1**t) and (1 − beta2**t)."),
              (_adam_plus, "your step goes uphill: subtract lr · m̂ / (√v̂ + eps)."),
              (_adam_g, "you stepped along the raw gradient g: Adam steps along the averaged gradient m̂ (its "
                        "momentum part).")],
    hint="m ← β1·m + (1 − β1)·g; v ← β2·v + (1 − β2)·g²; correct both for starting at 0; p ← p − lr·m̂/(√v̂ + eps).",
    explanation="Adam is momentum (m) divided by a running size of the gradient (√v), each corrected for starting at "
                "0; it matches microgradx.nn.optim.Adam to the last bit.",
    template="""
import numpy as np


def my_adam_step(p, g, m, v, t, lr=0.01, beta1=0.9, beta2=0.999, eps=1e-8):
    ...  # your code: return p, m, v
""")


def _judge_lr(answer: Any) -> str:
    lr = as_number(answer)
    if lr <= 0:
        raise Feedback("a learning rate is a positive number")
    w1, w2 = Value(1.0), Value(1.0)
    opt = SGD([w1, w2], lr=lr)
    for _ in range(100):
        loss = 5 * w1 * w1 + 0.5 * w2 * w2
        opt.zero_grad()
        loss.backward()
        opt.step()
        if not abs(w1.data) < 1e6:
            return "diverged"
    final = 5 * w1.data ** 2 + 0.5 * w2.data ** 2
    if final < 1e-4:
        return "ok"
    return "slow" if abs(w1.data) < 1.0 else "stuck bouncing"


choice(
    "05.2", "L(w1, w2) = 5·w1² + 0.5·w2², from w1 = w2 = 1. Choose an SGD learning rate that brings L below 1e-4 "
    "in 100 steps.", 0.1, judge=_judge_lr, what="a learning rate",
    advise=lambda answer, obs: {
        "stuck bouncing": "w1 swings from side to side without shrinking: each step multiplies it by (1 − 10·lr), "
                          "and here that factor's size is about 1. A little smaller.",
        "diverged": "it diverged: along w1 each step multiplies w1 by (1 − 10·lr), and that factor is larger than 1 "
                    "in size.",
        "slow": "it converges, but too slowly: along w2 each step keeps a fraction (1 − lr) of w2."}.get(obs, str(obs)),
    mistakes=[(1.0, "it diverged: along w1 the curvature is 10, and each step multiplies w1 by (1 − 10·lr). Once "
                    "that factor is bigger than 1 in size, w1 grows every step."),
              (0.001, "too slow: along w2 the curvature is 1, and each step keeps a fraction (1 − lr) of w2. After "
                      "100 steps L is still well above 1e-4.")],
    hint="Two limits: the steep direction (curvature 10) needs |1 − 10·lr| < 1; the flat one needs (1 − lr)²⁰⁰ "
         "small enough.",
    explanation="Any lr between about 0.042 and 0.2 works: below, the flat direction is too slow; above, the steep "
                "one overshoots. This is why one learning rate for all parameters is a compromise.")


def _zero_init_count() -> float:
    model = MLP(2, [16, 16, 1], init="zeros")
    X = [[0.5, 1.0], [-1.0, 0.3], [0.2, -0.7], [1.5, 0.1]]
    mx.losses.hinge([model(x) for x in X], [1.0, 1.0, 1.0, -1.0]).backward()
    return float(sum(p.grad != 0 for p in model.parameters()))


number(
    "05.3", "MLP(2, [16, 16, 1], init='zeros'), the hinge loss on four points labelled +1, +1, +1, −1, one "
    "backward(). How many of the 337 parameters get a non-zero gradient?", 1.0, expected_by=_zero_init_count,
    rtol=0.0, atol=0.0,
    mistakes=[(0.0, "in notebook 5 the labels were balanced, so −mean(y) was 0. Here three are +1: one parameter's "
                    "gradient does not depend on any hidden output."),
              (17.0, "the output neuron's 16 weights get ∂score/∂wⱼ = hⱼ, and every hⱼ = relu(0) = 0.")],
    hint="Every hidden output is relu(0) = 0 and every weight is 0. Which parameter reaches the score without "
         "passing through a hidden output or a zero weight?",
    explanation="Only the output bias: ∂L/∂b = mean of −yᵢ over the points inside the margin = −0.5. Everything else "
                "is multiplied by a zero weight or a zero activation.")

# ---- 06 tracing and speed ------------------------------------------------------------------------------------

number(
    "06.2", "How many ops does mx.jit(MLP(3, [4, 2])).trace(...) record? (Count as notebook 6 does: each neuron's "
    "multiplies and adds, plus the ReLU of each hidden neuron.)", 44.0, rtol=0.0, atol=0.0,
    expected_by=lambda: float(mx.jit(MLP(3, [4, 2], seed=0)).trace(np.zeros((1, 3))).n_ops),
    mistakes=[(40.0, "you left out the activations: each hidden neuron's relu is one op."),
              (46.0, "the output layer is linear (no relu): only hidden neurons have one.")],
    hint="A neuron with n inputs: n multiplies, n adds (b + w₀x₀ + w₁x₁ + ...), one relu if hidden. MLP(2, [3, 2]) "
         "gave 27.",
    explanation="Hidden layer: 4 × (3 + 3 + 1) = 28; output: 2 × (4 + 4) = 16; 44 in all.")


def _measure_clamp(fn: Any, xs: tuple[float, ...], compiled: bool) -> Any:
    if compiled:
        if fn(Value(0.5)) is None:  # an empty body: not attempted, whatever jit would say
            return None
        out = mx.jit(fn)(np.array(xs))
        return None if out is None else tuple(float(x) for x in np.asarray(out, dtype=float))
    values = []
    for x in xs:
        r = fn(Value(x))
        if r is None:
            return None
        values.append(float(r.data if isinstance(r, Value) else r))
    return tuple(values)


def _clamp_if(x: Any) -> Any:
    if x < 0:
        return 0 * x
    if x > 1:
        return 0 * x + 1
    return x


def _clamp_advice(answer: Any, obs: Any) -> str:
    eager = obs[0]
    xs = _CLAMP_CASES[0].args[0]
    for x, got in zip(xs, eager):
        want = min(max(x, 0.0), 1.0)
        if abs(got - want) > 1e-9:
            return f"at x = {x:g} your function gives {got:g}: below 0 it must be 0, above 1 it must be 1."
    return "eagerly right, but jit gives other numbers: is something computed outside the ops (with floats)?"


_CLAMP_CASES = [Case("Values −2, 0.3, 0.7, 1.5 (eagerly)", ((-2.0, 0.3, 0.7, 1.5), False)),
                Case("the array [−2, 0.3, 0.7, 1.5] through mx.jit", ((-2.0, 0.3, 0.7, 1.5), True))]

function(
    "06.1", "Write my_clamp(x) = 0 below 0, x between 0 and 1, 1 above 1, with ops only (no if), so that mx.jit can "
    "trace it.", S.my_clamp, cases=_CLAMP_CASES, measure=_measure_clamp,
    mistakes=[(_clamp_if, "mx.jit raised TracingError: a Python if (or min/max) on a Value picks one branch while "
                          "tracing. Write the choice with ops, as notebook 6 did with relu."),
              (lambda x: x.relu(), "relu(x) handles the bottom end, but above 1 your function keeps growing. Subtract "
                                   "what is above 1.")],
    advise=_clamp_advice,
    hint="relu(x) is 0 below 0 and x above. What does relu(x − 1) add above 1?",
    explanation="relu(x) − relu(x − 1): the second relu switches on at 1 and cancels the growth.",
    template="""
def my_clamp(x):
    ...  # your code: ops on x only
""")

# ---- 08 digits ------------------------------------------------------------------------------------------------

number(
    "08.1", "How many parameters does MLP(64, [16, 10]) have?", 1210.0, rtol=0.0, atol=0.0,
    expected_by=lambda: float(len(MLP(64, [16, 10], seed=0).parameters())),
    mistakes=[(1184.0, "you counted the weights only: every neuron has a bias too."),
              (10240.0, "layers add up, they do not multiply: count each layer's weights and biases, then sum.")],
    hint="A layer of n neurons with m inputs has n·m weights and n biases.",
    explanation="64·16 + 16 = 1040 for the hidden layer, 16·10 + 10 = 170 for the output: 1210.")

_SOFTMAX_CASES = [Case("[[1, 2, 3]]", (np.array([[1.0, 2.0, 3.0]]),)),
                  Case("[[1000, 1001, 999], [0, 0, 0]]", (np.array([[1000.0, 1001.0, 999.0], [0.0, 0.0, 0.0]]),)),
                  Case("[[−1000, −1002, −1001]]", (np.array([[-1000.0, -1002.0, -1001.0]]),))]


def _measure_array(fn: Any, *args: Any) -> Any:
    with np.errstate(all="ignore"):
        out = fn(*(a.copy() if isinstance(a, np.ndarray) else a for a in args))
    if out is None:
        return None
    out = np.asarray(out, dtype=float)
    return out if np.isfinite(out).all() else "not finite"


def _naive_softmax(s: Any) -> Any:
    e = np.exp(s)
    return e / e.sum(axis=1, keepdims=True)


def _softmax_advice(answer: Any, obs: Any) -> str:
    for o, case in zip(obs, _SOFTMAX_CASES):
        if isinstance(o, str):
            return f"on {case.name} your function gives inf or nan: exp of a large score overflows."
        if o.shape != case.args[0].shape:
            return f"on {case.name} the result has shape {o.shape}: one row of probabilities per row of scores."
        if not np.allclose(o.sum(axis=1), 1.0):
            return f"on {case.name} the rows sum to {np.round(o.sum(axis=1), 4)}, not to 1."
    return "your rows sum to 1, but the probabilities are not e^sⱼ / Σᵢ e^sᵢ."


function(
    "08.2", "Write my_softmax(scores): for a 2-D array (a row of scores per sample), the softmax of each row; it must "
    "not overflow on scores like 1000.", S.my_softmax, cases=_SOFTMAX_CASES, measure=_measure_array,
    mistakes=[(_naive_softmax, "on [[1000, 1001, 999], ...] your function gives inf or nan: e^1000 overflows. "
                               "Subtract each row's max first: the ratios do not change."),
              (lambda s: np.exp(s - s.max(axis=1, keepdims=True)) / np.exp(s - s.max(axis=1, keepdims=True)).sum(),
               "you divided by the sum of the whole array: each row (one sample) must sum to 1 on its own; sum "
               "with axis=1, keepdims=True.")],
    advise=_softmax_advice,
    hint="softmax(s) = softmax(s − c) for any constant c; pick c = the row's max.",
    explanation="Subtracting the row max makes the largest exponent e⁰ = 1, so nothing overflows.",
    template="""
import numpy as np


def my_softmax(scores):
    ...  # your code: return an array of the same shape
""")

_CONF_CASES = [Case("true [0, 1, 2, 2], predicted [0, 2, 2, 1], k = 3",
                    (np.array([0, 1, 2, 2]), np.array([0, 2, 2, 1]), 3)),
               Case("true [1, 1, 1, 0], predicted [1, 1, 0, 0], k = 2",
                    (np.array([1, 1, 1, 0]), np.array([1, 1, 0, 0]), 2))]


def _conf_set(true: Any, predicted: Any, k: int) -> Any:
    table = np.zeros((k, k), dtype=int)
    table[true, predicted] += 1
    return table


function(
    "08.3", "Write my_confusion(true, predicted, k): the k × k table whose row i, column j counts the samples of "
    "true class i predicted as j.", S.my_confusion, cases=_CONF_CASES, measure=_measure_array,
    mistakes=[(lambda t, p, k: S.my_confusion(p, t, k), "rows and columns are swapped: a row is the true class, a "
                                                         "column the predicted one."),
              (_conf_set, "a pair that occurs twice is counted once: table[true, predicted] += 1 with arrays adds "
                          "only once per distinct pair. Loop, or use np.add.at.")],
    hint="Start from np.zeros((k, k), dtype=int) and add 1 at [true class, predicted class] for every sample.",
    explanation="np.add.at(table, (true, predicted), 1) counts each sample, repeats included; the diagonal holds the "
                "right answers.",
    template="""
import numpy as np


def my_confusion(true, predicted, k):
    ...  # your code: return a k × k array of counts
""")
