"""How fast is the compiled path? One run prints every figure, with ratios taken in the same run.

    PYTHONPATH=. python benchmarks/bench_compiled.py            # about 30-70 s on 2 cores

1. micrograd's moons step (2-16-16-1 ReLU MLP, 100 points, SVM loss
   mean((1 - y*score).relu()) + 1e-4 * sum(p*p), forward + backward + SGD update), run by
   micrograd 0.1.0, the microgradx eager engine, the microgradx compiled path, hand-written
   numpy and PyTorch (batched, float64, 1 thread). All start from the same weights; the first
   losses are checked equal before anything is timed. The compiled path runs three ways:
   parameters read from the Values with SGD on the Values (``p.data -= lr * g``), the same
   through ``.grad`` as an nn optimizer would, and with the parameters held in one numpy
   vector (``value_and_grad(..., params=vec)``; ``set_params`` writes them back).
2. Step time of the compiled moons step against batch size and width.
3. A 5-class spiral, MLP(2, [64, 64, 5]) on 1,000 points with softmax cross-entropy, compiled.
4. Scikit-learn's 8x8 digits, MLP(64, [32, 10]) with softmax cross-entropy, compiled, held-out accuracy.

Timings are the best of many short blocks of steps, the contenders' blocks interleaved (the
machine is shared); BLAS is limited to one thread for everyone. Nothing here is asserted; see
tests/ for correctness.
"""

from __future__ import annotations

import math
import os
import random
import sys
import time
from collections.abc import Callable

# One BLAS thread for every contender: on a small, shared machine a second BLAS thread spins
# and waits instead of helping (set before numpy is imported; override from the shell).
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402

import microgradx  # noqa: E402
from microgradx import Value  # noqa: E402
from microgradx.jit import jit  # noqa: E402

ALPHA, LR = 1e-4, 0.05


# ------------------------------------------------------------------ models built from Values


class ValueMLP:
    """An MLP made of microgradx Values exactly as micrograd builds one (neuron = sum(w_i*x_i, b)).

    Stands in for microgradx.nn.MLP until that lands; parameters carry nn's dotted labels.
    """

    def __init__(self, nin: int, nouts: list[int], seed: int = 0) -> None:
        rng = random.Random(seed)
        sizes = [nin] + nouts
        self.layers = [[([Value(rng.uniform(-1, 1), label=f"layers.{i}.neurons.{j}.w.{k}") for k in range(sizes[i])],
                         Value(0.0, label=f"layers.{i}.neurons.{j}.b")) for j in range(sizes[i + 1])]
                       for i in range(len(nouts))]

    def __call__(self, x: list) -> Value | list[Value]:
        for i, layer in enumerate(self.layers):
            x = [sum((wi * xi for wi, xi in zip(w, x, strict=True)), b) for w, b in layer]
            if i < len(self.layers) - 1:
                x = [v.relu() for v in x]
        return x[0] if len(x) == 1 else x

    def parameters(self) -> list[Value]:
        return [p for layer in self.layers for w, b in layer for p in w + [b]]

    def matrices(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """(W of shape (n_in, n_out), b) per layer, for numpy and torch."""
        return [(np.array([[p.data for p in w] for w, _ in layer]).T, np.array([b.data for _, b in layer]))
                for layer in self.layers]


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


def moons(n: int, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=n, noise=0.1, random_state=seed)
    return X, y * 2.0 - 1.0


# ------------------------------------------------------------------ the five moons steps


def svm_loss_fn(model: ValueMLP) -> Callable[[list, Value], Value]:
    params = model.parameters()

    def loss(x: list, y: Value) -> Value:
        """Per-sample SVM loss plus the L2 penalty; its mean over the batch is micrograd's total loss."""
        return (1 + -y * model(x)).relu() + ALPHA * sum(p * p for p in params)

    return loss


def compiled_step(model: ValueMLP, X: np.ndarray, y: np.ndarray) -> Callable[[], float]:
    f = jit(svm_loss_fn(model))
    params = f.params(X, y)

    def step() -> float:
        loss, grads = f.value_and_grad(X, y, write_grad=False)
        for p, g in zip(params, grads.tolist(), strict=True):  # SGD on the Values themselves
            p.data -= LR * g
        return loss

    return step


def compiled_flat_step(model: ValueMLP, X: np.ndarray, y: np.ndarray) -> Callable[[], float]:
    """The parameters as one numpy vector (SGD in numpy); write them back with f.set_params when done."""
    f = jit(svm_loss_fn(model))
    vec = f.param_vector(X, y)

    def step() -> float:
        loss, grads = f.value_and_grad(X, y, write_grad=False, params=vec)
        vec[:] -= LR * grads
        return loss

    return step


def compiled_step_via_grad(model: ValueMLP, X: np.ndarray, y: np.ndarray) -> Callable[[], float]:
    """As an nn optimizer would use it: gradients written into .grad, then p.data -= lr * p.grad."""
    f = jit(svm_loss_fn(model))
    params = f.params(X, y)

    def step() -> float:
        for p in params:
            p.grad = 0.0
        loss, _ = f.value_and_grad(X, y)
        for p in params:
            p.data -= LR * p.grad
        return loss

    return step


def eager_step(model: ValueMLP, X: np.ndarray, y: np.ndarray) -> Callable[[], float]:
    params = model.parameters()
    inputs = [[Value(a), Value(b)] for a, b in X]
    targets = [Value(t) for t in y]

    def step() -> float:
        scores = [model(x) for x in inputs]
        losses = [(1 + -t * s).relu() for t, s in zip(targets, scores, strict=True)]
        total = sum(losses) * (1.0 / len(losses)) + ALPHA * sum(p * p for p in params)
        for p in params:
            p.grad = 0.0
        total.backward()
        for p in params:
            p.data -= LR * p.grad
        return total.data

    return step


def micrograd_step(model: ValueMLP, X: np.ndarray, y: np.ndarray) -> Callable[[], float]:
    from micrograd.engine import Value as MValue
    from micrograd.nn import MLP as MMLP

    mm = MMLP(2, [16, 16, 1])
    for mlayer, layer in zip(mm.layers, model.layers, strict=True):
        for neuron, (w, b) in zip(mlayer.neurons, layer, strict=True):
            for mw, v in zip(neuron.w, w, strict=True):
                mw.data = v.data
            neuron.b.data = b.data

    def step() -> float:  # the loss and update of micrograd's demo.ipynb
        inputs = [list(map(MValue, xrow)) for xrow in X]
        scores = list(map(mm, inputs))
        losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores, strict=True)]
        data_loss = sum(losses) * (1.0 / len(losses))
        reg_loss = ALPHA * sum(p * p for p in mm.parameters())
        total = data_loss + reg_loss
        mm.zero_grad()
        total.backward()
        for p in mm.parameters():
            p.data -= LR * p.grad
        return total.data

    return step


def numpy_step(model: ValueMLP, X: np.ndarray, y: np.ndarray) -> Callable[[], float]:
    (W1, b1), (W2, b2), (W3, b3) = [(W.copy(), b.copy()) for W, b in model.matrices()]
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


def torch_step(model: ValueMLP, X: np.ndarray, y: np.ndarray) -> Callable[[], float] | None:
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    net = torch.nn.Sequential(torch.nn.Linear(2, 16), torch.nn.ReLU(), torch.nn.Linear(16, 16), torch.nn.ReLU(),
                              torch.nn.Linear(16, 1)).double()
    with torch.no_grad():
        for lin, (W, b) in zip([net[0], net[2], net[4]], model.matrices(), strict=True):
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


def moons_table() -> None:
    X, y = moons(100)
    makers = [("micrograd 0.1.0", micrograd_step), ("microgradx eager", eager_step),
              ("microgradx compiled", compiled_step),
              ("microgradx compiled, parameter vector", compiled_flat_step),
              ("microgradx compiled (.grad + SGD loop)", compiled_step_via_grad),
              ("hand-written numpy", numpy_step), ("PyTorch batched (float64, 1 thread)", torch_step)]
    steps = {}
    for name, make in makers:
        s = make(ValueMLP(2, [16, 16, 1], seed=0), X, y)
        if s is not None:
            steps[name] = s
    first = {name: s() for name, s in steps.items()}  # also warms up (and traces the compiled one)
    ref = first["microgradx eager"]
    for name, loss in first.items():
        assert abs(loss - ref) <= 1e-9 * abs(ref), f"{name} computes a different loss: {loss} vs {ref}"
    print(f"first-step loss {ref:.12f}, equal (to 1e-9) in all {len(first)} implementations")
    slow = {"micrograd 0.1.0": (1, 2), "microgradx eager": (2, 3)}
    times = {name: best_time(steps[name], *blocks) for name, blocks in slow.items()}
    # Short blocks, many of them, interleaved: the best block is the one least disturbed by other work.
    # PyTorch goes last and alone: its worker threads keep spinning after each call and slow down
    # whatever runs next (measured here: numpy 68 -> 105 us/step when interleaved with it).
    torch_name = "PyTorch batched (float64, 1 thread)"
    times.update(best_times({name: s for name, s in steps.items() if name not in slow and name != torch_name},
                            20, 60))
    if torch_name in steps:
        times[torch_name] = best_time(steps[torch_name], 20, 30)
    np_t, comp_t = times["hand-written numpy"], times["microgradx compiled"]
    print("\n## moons step: 2-16-16-1 ReLU MLP, 100 points, SVM loss + L2, forward + backward + SGD\n")
    print("| implementation | time / step | vs compiled | vs numpy |")
    print("|---|---:|---:|---:|")
    for name, t in times.items():
        print(f"| {name} | {fmt(t)} | {t / comp_t:.3g}x | {t / np_t:.3g}x |")
    mg = times["micrograd 0.1.0"]
    torch_t = times.get("PyTorch batched (float64, 1 thread)")
    print(f"\ntargets: compiled within 2x of numpy: {comp_t / np_t:.2f}x  |  micrograd / compiled: {mg / comp_t:.0f}x"
          + (f"  |  PyTorch / compiled: {torch_t / comp_t:.2f}x" if torch_t else "  |  PyTorch not installed"))


def fmt(t: float) -> str:
    return f"{t * 1e3:.3f} ms" if t < 1 else f"{t:.2f} s"


# ------------------------------------------------------------------ scaling


def scaling_table() -> None:
    print("\n## compiled moons step vs batch size (2-16-16-1) and width (2-w-w-1, batch 100)\n")
    print("| model | batch | params | trace + schedule | compiled step | compiled, parameter vector | numpy step "
          "| compiled / numpy | vector / numpy |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for width, batch in [(16, 100), (16, 1000), (16, 10000), (64, 100), (256, 100)]:
        X, y = moons(batch)
        model = ValueMLP(2, [width, width, 1], seed=0)
        t = time.perf_counter()
        step = compiled_step(model, X, y)
        step()
        t_trace = time.perf_counter() - t
        n = max(2, int(0.01 / max(best_time(step, 1, 1), 1e-6)))
        flat = compiled_flat_step(model, X, y)
        numpy_ = numpy_step(ValueMLP(2, [width, width, 1], seed=0), X, y)
        best = best_times({"compiled": step, "vector": flat, "numpy": numpy_}, n, 12)
        tc, tf, tn = best["compiled"], best["vector"], best["numpy"]
        n_params = len(model.parameters())
        print(f"| 2-{width}-{width}-1 | {batch} | {n_params} | {fmt(t_trace)} | {fmt(tc)} | {fmt(tf)} | {fmt(tn)} | "
              f"{tc / tn:.2f}x | {tf / tn:.2f}x |")


# ------------------------------------------------------------------ classification with softmax CE


def softmax_ce(model: ValueMLP, n_classes: int, alpha: float) -> Callable[[list, list], Value]:
    """Per-sample cross-entropy log Σ_k e^{s_k} - Σ_k y_k s_k (y one-hot), plus an L2 penalty."""
    params = model.parameters()

    def loss(x: list, y: list) -> Value:
        s = model(x)
        lse = sum(si.exp() for si in s).log()
        return lse - sum(yk * sk for yk, sk in zip(y, s, strict=True)) + alpha * sum(p * p for p in params)

    return loss


class Adam:
    """Adam on a parameter vector (the compiled path takes it in place of every .data)."""

    def __init__(self, data: np.ndarray, lr: float) -> None:
        self.data, self.lr, self.t = data, lr, 0
        self.m, self.v = np.zeros_like(data), np.zeros_like(data)

    def step(self, grads: np.ndarray) -> None:
        self.t += 1
        self.m = 0.9 * self.m + 0.1 * grads
        self.v = 0.999 * self.v + 0.001 * grads * grads
        mhat, vhat = self.m / (1 - 0.9 ** self.t), self.v / (1 - 0.999 ** self.t)
        self.data -= self.lr * mhat / (np.sqrt(vhat) + 1e-8)


def train_classifier(model: ValueMLP, n_classes: int, X: np.ndarray, labels: np.ndarray, steps: int, lr: float,
                     alpha: float, batch: int | None = None, seed: int = 0) -> tuple[Callable, float, float]:
    onehot = np.eye(n_classes)[labels]
    f = jit(softmax_ce(model, n_classes, alpha))
    scores = jit(lambda x: tuple(model(x)))
    opt = Adam(f.param_vector(X, onehot), lr)
    rng = np.random.default_rng(seed)
    t = time.perf_counter()
    loss = math.nan
    for _ in range(steps):
        idx = rng.choice(len(X), batch, replace=False) if batch else slice(None)
        loss, grads = f.value_and_grad(X[idx], onehot[idx], write_grad=False, params=opt.data)
        opt.step(grads)
    f.set_params(opt.data, X, onehot)  # the trained weights back into the model's Values
    wall = time.perf_counter() - t

    def predict(Z: np.ndarray) -> np.ndarray:
        return np.argmax(np.stack(scores(Z)), axis=0)

    return predict, wall, loss


def spiral(n_per_class: int, k: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X, y = [], []
    for j in range(k):
        r = np.linspace(0.0, 1.0, n_per_class)
        t = np.linspace(j * 4.0, (j + 1) * 4.0, n_per_class) + rng.normal(0, 0.2, n_per_class)
        X.append(np.c_[r * np.sin(t), r * np.cos(t)])
        y.append(np.full(n_per_class, j))
    return np.concatenate(X), np.concatenate(y)


def spiral_run() -> None:
    X, y = spiral(200, 5)
    model = ValueMLP(2, [64, 64, 5], seed=0)
    steps = 1000
    predict, wall, loss = train_classifier(model, 5, X, y, steps=steps, lr=0.01, alpha=1e-5)
    acc = (predict(X) == y).mean()
    print(f"\n## 5-class spiral, MLP(2, [64, 64, 5]), 1,000 points, softmax CE, Adam lr 0.01, full batch\n\n"
          f"{steps} compiled steps in {wall:.2f} s ({fmt(wall / steps)} / step), final loss {loss:.4f}, "
          f"training accuracy {acc:.1%}")


def digits_run() -> None:
    try:
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split
    except ImportError:
        print("\n## digits: scikit-learn is not installed (pip install microgradx[bench])")
        return
    d = load_digits()
    Xtr, Xte, ytr, yte = train_test_split(d.data / 16.0, d.target, test_size=0.25, random_state=0,
                                          stratify=d.target)
    model = ValueMLP(64, [32, 10], seed=0)
    t = time.perf_counter()
    predict, wall, loss = train_classifier(model, 10, Xtr, ytr, steps=300, lr=0.01, alpha=1e-4, batch=128)
    total = time.perf_counter() - t
    acc = (predict(Xte) == yte).mean()
    print(f"\n## digits, MLP(64, [32, 10]), softmax CE, Adam lr 0.01, 300 steps of 128 images\n\n"
          f"held-out accuracy {acc:.1%} on {len(yte)} images ({len(ytr)} for training); "
          f"wall time {total:.2f} s including tracing ({fmt(wall / 300)} / step), final batch loss {loss:.4f}")


def main() -> None:
    t = time.perf_counter()
    print(f"microgradx {microgradx.__version__}, numpy {np.__version__}, python {sys.version.split()[0]}, "
          f"OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')}, {os.cpu_count()} cores")
    moons_table()
    scaling_table()
    spiral_run()
    digits_run()
    print(f"\nwhole benchmark: {time.perf_counter() - t:.0f} s")


if __name__ == "__main__":
    main()
