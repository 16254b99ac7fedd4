"""How fast is the compiled path? One run prints every figure, with ratios taken in the same run.

    PYTHONPATH=. python benchmarks/bench_compiled.py            # about 30-60 s on 2 cores

1. micrograd's moons step (2-16-16-1 ReLU MLP, 100 points, SVM loss
   mean((1 - y*score).relu()) + 1e-4 * sum(p*p), forward + backward + SGD update), run by
   micrograd 0.1.0, the microgradx eager engine, the microgradx compiled path, hand-written
   numpy and PyTorch (batched, float64, 1 thread). Every contender starts from micrograd's own
   initial weights (``random.seed(1337)`` then ``MLP(2, [16, 16, 1])``, in both libraries); the
   first losses are checked equal before anything is timed. The compiled path
   (``jit.compile_loss(model, hinge + l2)``) runs three ways: SGD on the parameter Values
   (``p.data -= lr * g``), through ``.grad`` and ``optim.SGD`` as any nn training loop does, and
   with the parameters held in one numpy vector (``value_and_grad(..., params=vec)``).
2. Step time of the compiled moons step against batch size and width.
3. A 5-class spiral (``data.spirals``), MLP(2, [64, 64, 5]) on 1,000 points with softmax
   cross-entropy, trained by ``fit(..., compiled=True)`` with ``optim.Adam``.
4. Scikit-learn's 8x8 digits, MLP(64, [32, 10]), the same way; held-out accuracy and wall time.

Everything comes from the library (``nn.MLP``, ``data``, ``losses``, ``jit``, ``optim``, ``fit``)
except the baselines: micrograd's demo loop (one function, run by both engines), hand-written
numpy and PyTorch, which read the MLP's weights as matrices (``weight_matrices``). Timings are
the best of many short blocks of steps, the contenders' blocks interleaved (the machine is
shared); BLAS is limited to one thread for everyone. Nothing here is asserted beyond equal
first losses; see tests/ for correctness. The last thing printed is a markdown block for the README.
"""

from __future__ import annotations

import math
import os
import random
import sys
import time
from collections.abc import Callable
from typing import Any

# One BLAS thread for every contender: on a small, shared machine a second BLAS thread spins
# and waits instead of helping (set before numpy is imported; override from the shell).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

import microgradx  # noqa: E402
from microgradx import MLP, Value, fit  # noqa: E402
from microgradx.compiled.jit import Jitted, compile_loss, jit  # noqa: E402
from microgradx.nn.data import moons, spirals  # noqa: E402
from microgradx.nn.losses import hinge, l2, softmax_cross_entropy  # noqa: E402
from microgradx.nn.optim import SGD, Adam  # noqa: E402

ALPHA, LR = 1e-4, 0.05
SEED = 1337  # micrograd's demo notebook: random.seed(1337) before MLP(2, [16, 16, 1])
MOONS = {"noise": 0.1, "seed": 1, "labels": "signed"}

MICROGRAD = "micrograd 0.1.0 (its demo loop)"
EAGER = "microgradx eager (nn.MLP, the same loop)"
COMPILED = "microgradx compiled"
VECTOR = "microgradx compiled, parameter vector"
VIA_GRAD = "microgradx compiled, .grad + optim.SGD"
NUMPY = "hand-written numpy"
TORCH = "PyTorch batched (float64, 1 thread)"

Step = Callable[[], float]


# ------------------------------------------------------------------ timing


def best_time(step: Callable[[], object], n: int, repeats: int = 5) -> float:
    """Seconds per call: the best over ``repeats`` blocks of ``n`` calls."""
    return best_times({"": step}, n, repeats)[""]


def best_times(steps: dict[str, Callable[[], object]], n: int, repeats: int) -> dict[str, float]:
    """Like best_time for several contenders, their blocks interleaved so that they share the load."""
    best = dict.fromkeys(steps, math.inf)
    for _ in range(repeats):
        for name, step in steps.items():
            t = time.perf_counter()
            for _ in range(n):
                step()
            best[name] = min(best[name], (time.perf_counter() - t) / n)
    return best


def fmt(t: float) -> str:
    return f"{t * 1e3:.3f} ms" if t < 1 else f"{t:.2f} s"


def ratio(r: float) -> str:
    return f"{r:,.0f}x" if r >= 100 else f"{r:.1f}x" if r >= 10 else f"{r:.2f}x"


# ------------------------------------------------------------------ models


def micrograd_model(nin: int, nouts: list[int]) -> MLP:
    """An nn.MLP with micrograd's initial weights: drawn from the global ``random`` after its demo's seed."""
    random.seed(SEED)
    return MLP(nin, nouts)


def weight_matrices(model: MLP) -> list[tuple[np.ndarray, np.ndarray]]:
    """(W of shape (n_in, n_out), b) per layer: the model's weights for the numpy and torch baselines."""
    out = []
    for layer in model.layers:
        W = np.array([[w.data for w in n.w] for n in layer.neurons]).T
        b = np.array([n.b.data if n.b is not None else 0.0 for n in layer.neurons])
        out.append((W, b))
    return out


def svm_loss(model: MLP) -> Jitted:
    """micrograd's moons loss, per sample: hinge + L2 (the L2 term counts once in the batch mean)."""
    params = model.parameters()
    return compile_loss(model, lambda score, y: hinge([score], [y]) + l2(params, ALPHA))


# ------------------------------------------------------------------ the moons steps


def demo_step(value: Callable[[float], Any], model: Any, X: list[list[float]], y: list[float]) -> Step:
    """One step of micrograd's demo loop as its notebook writes it (minus the accuracy line).

    The same code runs micrograd's Value and MLP and microgradx's: only ``value`` and ``model`` differ.
    """

    def step() -> float:
        inputs = [list(map(value, xrow)) for xrow in X]
        scores = list(map(model, inputs))
        losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores, strict=True)]
        data_loss = sum(losses) * (1.0 / len(losses))
        reg_loss = ALPHA * sum(p * p for p in model.parameters())
        total_loss = data_loss + reg_loss
        model.zero_grad()
        total_loss.backward()
        for p in model.parameters():
            p.data -= LR * p.grad
        return total_loss.data

    return step


def micrograd_step(X: np.ndarray, y: np.ndarray) -> Step | None:
    try:
        from micrograd.engine import Value as MValue
        from micrograd.nn import MLP as MMLP
    except ImportError:
        return None
    random.seed(SEED)
    mm = MMLP(2, [16, 16, 1])
    mine = [p.data for p in micrograd_model(2, [16, 16, 1]).parameters()]
    assert [p.data for p in mm.parameters()] == mine, "nn.MLP must draw micrograd's initial weights"
    return demo_step(MValue, mm, X.tolist(), y.tolist())


def eager_step(X: np.ndarray, y: np.ndarray) -> Step:
    return demo_step(Value, micrograd_model(2, [16, 16, 1]), X.tolist(), y.tolist())


def compiled_step(model: MLP, X: np.ndarray, y: np.ndarray) -> Step:
    """Gradients as a vector (write_grad=False), SGD applied to the parameter Values directly."""
    f = svm_loss(model)
    params = f.params(X, y)

    def step() -> float:
        loss, grads = f.value_and_grad(X, y, write_grad=False)
        for p, g in zip(params, grads.tolist(), strict=True):
            p.data -= LR * g
        return loss

    return step


def compiled_vector_step(model: MLP, X: np.ndarray, y: np.ndarray) -> Step:
    """The parameters as one numpy vector (SGD in numpy); f.set_params writes them back when done."""
    f = svm_loss(model)
    vec = f.param_vector(X, y)

    def step() -> float:
        loss, grads = f.value_and_grad(X, y, write_grad=False, params=vec)
        vec[:] -= LR * grads
        return loss

    return step


def compiled_step_via_grad(model: MLP, X: np.ndarray, y: np.ndarray) -> Step:
    """As any nn training loop: gradients added into .grad, then the library's optimizer steps."""
    f = svm_loss(model)
    opt = SGD(model.parameters(), lr=LR)

    def step() -> float:
        opt.zero_grad()
        loss, _ = f.value_and_grad(X, y)
        opt.step()
        return loss

    return step


def numpy_step(model: MLP, X: np.ndarray, y: np.ndarray) -> Step:
    """Hand-written forward, backward and SGD for a 2-w-w-1 ReLU MLP (its own copy of the weights)."""
    (W1, b1), (W2, b2), (W3, b3) = weight_matrices(model)
    P = [W1, b1, W2, b2, W3, b3]
    n = len(y)

    def step() -> float:
        a1 = X @ W1 + b1
        h1 = np.maximum(a1, 0.0)
        a2 = h1 @ W2 + b2
        h2 = np.maximum(a2, 0.0)
        s = (h2 @ W3 + b3)[:, 0]
        margin = 1.0 - y * s
        loss = np.maximum(margin, 0.0).mean() + ALPHA * sum(float((p * p).sum()) for p in P)
        ds = np.where(margin > 0, -y, 0.0) / n
        dW3, db3 = h2.T @ ds[:, None], ds.sum(keepdims=True)
        da2 = np.outer(ds, W3[:, 0]) * (a2 > 0)
        dW2, db2 = h1.T @ da2, da2.sum(axis=0)
        da1 = (da2 @ W2.T) * (a1 > 0)
        dW1, db1 = X.T @ da1, da1.sum(axis=0)
        for p, g in zip(P, (dW1, db1, dW2, db2, dW3, db3), strict=True):
            p -= LR * (g + 2 * ALPHA * p)
        return loss

    return step


def torch_step(model: MLP, X: np.ndarray, y: np.ndarray) -> Step | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    net = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16), torch.nn.ReLU(),
                              torch.nn.Linear(16, 1)).double()
    with torch.no_grad():
        for lin, (W, b) in zip([net[0], net[2], net[4]], weight_matrices(model), strict=True):
            lin.weight.copy_(torch.from_numpy(W.T))
            lin.bias.copy_(torch.from_numpy(b))
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def step() -> float:
        opt.zero_grad()
        loss = (1 - yt * net(Xt)[:, 0]).relu().mean() + ALPHA * sum((p * p).sum() for p in net.parameters())
        loss.backward()
        opt.step()
        return loss.item()

    return step


def moons_table() -> list[str]:
    X, y = moons(100, **MOONS)
    batched = [(COMPILED, compiled_step), (VECTOR, compiled_vector_step), (VIA_GRAD, compiled_step_via_grad),
               (NUMPY, numpy_step), (TORCH, torch_step)]
    made: dict[str, Step | None] = {MICROGRAD: micrograd_step(X, y), EAGER: eager_step(X, y)}
    for name, make in batched:  # each its own model with micrograd's initial weights
        made[name] = make(micrograd_model(2, [16, 16, 1]), X, y)
    steps = {name: s for name, s in made.items() if s is not None}
    first = {name: s() for name, s in steps.items()}  # also warms up (and traces the compiled ones)
    ref = first[EAGER]
    for name, loss in first.items():
        assert abs(loss - ref) <= 1e-9 * abs(ref), f"{name} computes a different loss: {loss} vs {ref}"
    check = f"first-step loss {ref:.12f}, equal (to 1e-9) in all {len(first)} implementations"
    print(f"moons: {check}", flush=True)

    slow = {MICROGRAD: (1, 2), EAGER: (2, 3)}
    times = {name: best_time(steps[name], *blocks) for name, blocks in slow.items() if name in steps}
    # Short blocks, many of them, interleaved: the best block is the one least disturbed by other work.
    # PyTorch goes last and alone: its worker threads keep spinning after each call and slow down
    # whatever runs next (measured here: numpy 68 -> 105 us/step when interleaved with it).
    fast = {name: s for name, s in steps.items() if name not in slow and name != TORCH}
    times.update(best_times(fast, 20, 60))
    if TORCH in steps:
        times[TORCH] = best_time(steps[TORCH], 20, 30)
    np_t, comp_t = times[NUMPY], times[COMPILED]

    lines = ["### moons step: 2-16-16-1 ReLU MLP, 100 points, SVM loss + L2, forward + backward + SGD", "",
             "| implementation | time / step | vs compiled | vs numpy |", "|---|---:|---:|---:|"]
    for name in made:  # the order of the table above, missing contenders as rows that say so
        if name in times:
            t = times[name]
            lines.append(f"| {name} | {fmt(t)} | {ratio(t / comp_t)} | {ratio(t / np_t)} |")
        else:
            lines.append(f"| {name} | not installed | | |")
    targets = [f"compiled / numpy: {comp_t / np_t:.2f}x (target <= 2x)",
               f"parameter vector / numpy: {times[VECTOR] / np_t:.2f}x"]
    if MICROGRAD in times:
        targets.append(f"micrograd / compiled: {times[MICROGRAD] / comp_t:,.0f}x (target >= 1000x)")
    if TORCH in times:
        targets.append(f"PyTorch / compiled: {times[TORCH] / comp_t:.2f}x (target > 1x)")
    lines += ["", f"All start from micrograd's initial weights; {check}.", "",
              "Targets: " + "; ".join(targets) + "."]
    print("moons: " + "; ".join(targets), flush=True)
    return lines


# ------------------------------------------------------------------ scaling


def scaling_table() -> list[str]:
    lines = ["### compiled moons step vs batch size (2-16-16-1) and width (2-w-w-1, batch 100)", "",
             "| model | batch | params | trace + schedule | compiled step | compiled, parameter vector | numpy step "
             "| compiled / numpy | vector / numpy |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for width, batch in [(16, 100), (16, 1000), (16, 10000), (64, 100), (256, 100)]:
        X, y = moons(batch, **MOONS)
        model = MLP(2, [width, width, 1], seed=0)
        t = time.perf_counter()
        step = compiled_step(model, X, y)
        step()
        t_trace = time.perf_counter() - t
        n = max(2, int(0.01 / max(best_time(step, 1, 1), 1e-6)))
        vector = compiled_vector_step(MLP(2, [width, width, 1], seed=0), X, y)
        numpy_ = numpy_step(MLP(2, [width, width, 1], seed=0), X, y)
        vector()  # traces its own copy of the loss
        best = best_times({"compiled": step, "vector": vector, "numpy": numpy_}, n, 12)
        tc, tv, tn = best["compiled"], best["vector"], best["numpy"]
        lines.append(f"| 2-{width}-{width}-1 | {batch} | {len(model.parameters())} | {fmt(t_trace)} | {fmt(tc)} | "
                     f"{fmt(tv)} | {fmt(tn)} | {ratio(tc / tn)} | {ratio(tv / tn)} |")
        print(f"scaling: 2-{width}-{width}-1, batch {batch}: compiled {fmt(tc)}, numpy {fmt(tn)}", flush=True)
    return lines


# ------------------------------------------------------------------ classification: fit(compiled=True)


def predict_classes(model: MLP, X: np.ndarray) -> np.ndarray:
    """argmax of the model's scores for every row, through the compiled path."""
    return np.argmax(np.stack(jit(model)(X), axis=1), axis=1)


def train(model: MLP, X: np.ndarray, y: np.ndarray, lr: float, epochs: int, alpha: float,
          batch_size: int | None = None, target_accuracy: float | None = None) -> tuple[float, int, float]:
    """fit(..., compiled=True) with optim.Adam; returns (wall seconds, optimizer steps, last epoch's loss)."""
    opt = Adam(model.parameters(), lr=lr)
    t = time.perf_counter()
    history = fit(model, X, y, loss=softmax_cross_entropy, optimizer=opt, epochs=epochs, batch_size=batch_size,
                  l2_alpha=alpha, target_accuracy=target_accuracy, compiled=True, progress=False, seed=0)
    return time.perf_counter() - t, opt.steps, history.loss[-1]


def spiral_run() -> list[str]:
    X, y = spirals(1000, n_classes=5, seed=0)
    model = MLP(2, [64, 64, 5], seed=0)
    target, alpha = 0.99, 1e-5
    wall, steps, loss = train(model, X, y, lr=0.01, epochs=1000, alpha=alpha, target_accuracy=target)
    acc = float((predict_classes(model, X) == y).mean())
    # How much of fit's step is the compiled forward + backward: the same per-sample loss fit traces.
    params = model.parameters()
    f = compile_loss(model, lambda s, t: softmax_cross_entropy([s], [t]) + l2(params, alpha))
    Y = np.eye(5)[y]
    f.value_and_grad(X, Y, write_grad=False)  # traces
    t_vg = best_time(lambda: f.value_and_grad(X, Y, write_grad=False), 5, 5)
    line = (f"`fit(compiled=True)` with `optim.Adam` (lr 0.01, full batch, L2 1e-5) reached {acc:.1%} training "
            f"accuracy (target {target:.0%}) in {steps} steps, {wall:.2f} s including tracing "
            f"({fmt(wall / steps)} / step); final loss {loss:.4f}. The compiled forward + backward "
            f"(`value_and_grad`) of one step takes {fmt(t_vg)}; the rest of fit's step is Python work per "
            f"parameter Value ({len(params):,} of them: Adam's update, finite checks).")
    print(f"spiral: {line}", flush=True)
    return ["### 5-class spiral (`data.spirals`), MLP(2, [64, 64, 5]), 1,000 points, softmax cross-entropy", "",
            line]


def digits_run() -> list[str]:
    head = "### digits (scikit-learn's 8x8 images), MLP(64, [32, 10]), softmax cross-entropy"
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        print("digits: scikit-learn is not installed (pip install microgradx[bench])")
        return [head, "", "scikit-learn is not installed (pip install microgradx[bench])."]
    d = load_digits()
    Xtr, Xte, ytr, yte = train_test_split(d.data / 16.0, d.target, test_size=0.25, random_state=0,
                                          stratify=d.target)
    model = MLP(64, [32, 10], seed=0)
    epochs = 50
    wall, steps, loss = train(model, Xtr, ytr, lr=0.01, epochs=epochs, alpha=1e-4, batch_size=128)
    acc = float((predict_classes(model, Xte) == yte).mean())
    line = (f"`fit(compiled=True)` with `optim.Adam` (lr 0.01, batches of 128, L2 1e-4), {epochs} epochs = "
            f"{steps} steps: held-out accuracy {acc:.1%} on {len(yte)} images ({len(ytr)} for training; "
            f"target >= 95%); wall time {wall:.2f} s including tracing ({fmt(wall / steps)} / step); "
            f"last epoch's loss {loss:.4f}.")
    print(f"digits: {line}", flush=True)
    return [head, "", line]


def main() -> None:
    t = time.perf_counter()
    env = (f"microgradx {microgradx.__version__}, numpy {np.__version__}, python {sys.version.split()[0]}, "
           f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}, {os.cpu_count()} cores")
    print(env, flush=True)
    sections = [moons_table(), scaling_table(), spiral_run(), digits_run()]
    total = time.perf_counter() - t
    print(f"whole benchmark: {total:.0f} s")
    print("\n<!-- README block: paste in place of BENCH_COMPILED -->\n")
    print(f"Compiled path (`python benchmarks/bench_compiled.py`; {env}; whole run {total:.0f} s):\n")
    print("\n\n".join("\n".join(s) for s in sections))
    print("\n<!-- end of README block -->")


if __name__ == "__main__":
    main()
