"""The compiled moons step against hand-written numpy, PyTorch and JAX, in one run, as paired ratios.

    python benchmarks/bench_compiled.py [--quick] [--rounds N] [--out DIR]

One training step of micrograd's moons problem (a 2-w-w-1 ReLU MLP, 100 points, SVM loss
mean((1 - y·score).relu()) + 1e-4·Σp², forward + backward + SGD with lr 0.05) at w = 16, 64, 256,
run by six contenders, all in float64 on one pinned core (see harness.py):

* fit(compiled=True): ``fit(model, X, y, loss="hinge", l2_alpha=1e-4, optimizer=optim.SGD(...),
  compiled=True)``, with X repeated n times, ``batch_size=100`` and ``shuffle=False``, so that an
  epoch is n full-batch steps on the same 100 points; ``History.seconds`` (fit's clock around an
  epoch's steps and its accuracy) times the second epoch (the tracing, in the first epoch, is not timed).
* compile_loss, .grad + optim.SGD: the loop ``compile_loss``'s docstring shows -- ``opt.zero_grad()``,
  ``value_and_grad(X, y)`` (adds into every ``.grad``), ``opt.step()``.
* compile_loss, parameter vector: the same loss with the parameters held in one numpy vector
  (``value_and_grad(..., params=vec, write_grad=False)``, then ``vec -= lr·g``).
* hand-written numpy: the forward and backward written out with matrices; the baseline.
* PyTorch: ``nn.Linear`` layers, autograd, ``torch.optim.SGD``; one thread.
* JAX: the numpy code's loss under ``jax.value_and_grad``, the update included, in one ``jax.jit``.

Every contender starts from the same weights (``MLP(2, [w, w, 1], seed=0)``), and all take the
same steps: the first losses must agree to 1e-9, and the last ones are compared too. Each round
runs a block per contender: n untimed steps (fit traces in them: it traces afresh in every call),
then n timed steps (n chosen so that numpy's n steps take about 20 ms).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any

import harness
import numpy as np
from harness import Goal, Spread, ratios, seconds

from microgradx import MLP, fit
from microgradx.compiled import compile_loss
from microgradx.nn.data import moons
from microgradx.nn.losses import hinge, l2
from microgradx.nn.optim import SGD

ALPHA, LR = 1e-4, 0.05
FIT = "fit(compiled=True)"
LOOP = "compile_loss, .grad + optim.SGD"
VECTOR = "compile_loss, parameter vector"
NUMPY = "hand-written numpy"
TORCH = "PyTorch (nn.Linear, optim.SGD)"
JAX = "JAX jit"

Step = Callable[[], float]  # one training step; returns the loss before the update


@dataclass
class Contender:
    """``one()``: one training step, returning its loss; ``block(n)``: n untimed steps, then n timed ones,
    returning seconds per timed step (fit's first epoch of n steps traces; everyone takes as many, to keep step)."""

    one: Step
    block: Callable[[int], float]

    @classmethod
    def stepping(cls, step: Step | None) -> Contender | None:
        return None if step is None else cls(step, lambda n: harness.per_call(step, n, untimed=n)())


def svm_loss(model: MLP) -> Any:
    """micrograd's moons loss per sample, jitted: hinge + L2 (the L2 term counts once in the batch mean)."""
    params = model.parameters()
    return compile_loss(model, lambda score, y: hinge([score], [y]) + l2(params, ALPHA))


def fit_contender(model: MLP, X: np.ndarray, y: np.ndarray) -> Contender:
    """fit itself, on the batch repeated n times with batch_size=len(X) and no shuffling: an epoch is n
    steps, each the full-batch step on X. Two epochs a block, no callback; the second epoch's time
    (``History.seconds``, fit's own clock around an epoch's steps) is the block's."""

    def run(Xs: np.ndarray, ys: np.ndarray, epochs: int) -> Any:
        return fit(model, Xs, ys, loss="hinge", optimizer=SGD(model.parameters(), lr=LR), epochs=epochs,
                   batch_size=len(X), shuffle=False, l2_alpha=ALPHA, compiled=True, progress=False)

    def block(n: int) -> float:
        history = run(np.tile(X, (n, 1)), np.tile(y, n), 2)  # the first epoch traces (fit traces in every call)
        return history.seconds[1] / n

    return Contender(lambda: float(run(X, y, 1).loss[0]), block)


def loop_step(model: MLP, X: np.ndarray, y: np.ndarray) -> Step:
    f, opt = svm_loss(model), SGD(model.parameters(), lr=LR)

    def step() -> float:
        opt.zero_grad()
        loss, _ = f.value_and_grad(X, y)
        opt.step()
        return float(loss)

    return step


def vector_step(model: MLP, X: np.ndarray, y: np.ndarray) -> Step:
    f = svm_loss(model)
    vec: np.ndarray | None = None

    def step() -> float:
        nonlocal vec
        if vec is None:  # the first call traces; the vector is ordered like the traced parameters
            vec = f.param_vector(X, y)
        loss, grads = f.value_and_grad(X, y, write_grad=False, params=vec)
        vec -= LR * grads
        return float(loss)

    return step


def numpy_step(model: MLP, X: np.ndarray, y: np.ndarray) -> Step:
    """Forward, backward and SGD for the 2-w-w-1 ReLU MLP, written out (its own copy of the weights)."""
    (W1, b1), (W2, b2), (W3, b3) = harness.weight_matrices(model)
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
        return float(loss)

    return step


def torch_step(model: MLP, X: np.ndarray, y: np.ndarray) -> Step | None:
    torch = harness.import_torch()
    if torch is None:
        return None
    layers = harness.weight_matrices(model)
    mods: list[Any] = []
    for i, (W, b) in enumerate(layers):
        lin = torch.nn.Linear(*W.shape).double()
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(W.T))
            lin.bias.copy_(torch.from_numpy(b))
        mods += [lin, torch.nn.ReLU()] if i < len(layers) - 1 else [lin]
    net = torch.nn.Sequential(*mods)
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    Xt, yt = torch.from_numpy(X), torch.from_numpy(y)

    def step() -> float:
        opt.zero_grad()
        loss = (1 - yt * net(Xt)[:, 0]).relu().mean() + ALPHA * sum((p * p).sum() for p in net.parameters())
        loss.backward()
        opt.step()
        return float(loss.item())

    return step


def jax_step(model: MLP, X: np.ndarray, y: np.ndarray) -> Step | None:
    jax = harness.import_jax()
    if jax is None:
        return None
    jnp = jax.numpy

    def loss_fn(params: list[tuple[Any, Any]], X: Any, y: Any) -> Any:
        h = X
        for W, b in params[:-1]:
            h = jnp.maximum(h @ W + b, 0.0)
        W, b = params[-1]
        s = (h @ W + b)[:, 0]
        penalty = sum(jnp.sum(W * W) + jnp.sum(b * b) for W, b in params)
        return jnp.mean(jnp.maximum(1.0 - y * s, 0.0)) + ALPHA * penalty

    @jax.jit
    def update(params: list[tuple[Any, Any]], X: Any, y: Any) -> tuple[list[tuple[Any, Any]], Any]:
        loss, grads = jax.value_and_grad(loss_fn)(params, X, y)
        return jax.tree_util.tree_map(lambda p, g: p - LR * g, params, grads), loss

    state = {"params": [(jnp.asarray(W), jnp.asarray(b)) for W, b in harness.weight_matrices(model)]}
    Xj, yj = jnp.asarray(X), jnp.asarray(y)

    def step() -> float:
        state["params"], loss = update(state["params"], Xj, yj)
        return float(loss)  # waits for the result, as every other contender's float does

    return step


MAKERS: dict[str, Callable[[MLP, np.ndarray, np.ndarray], Contender | None]] = {
    FIT: fit_contender,
    LOOP: lambda *a: Contender.stepping(loop_step(*a)),
    VECTOR: lambda *a: Contender.stepping(vector_step(*a)),
    NUMPY: lambda *a: Contender.stepping(numpy_step(*a)),
    TORCH: lambda *a: Contender.stepping(torch_step(*a)),
    JAX: lambda *a: Contender.stepping(jax_step(*a))}


def block_size(X: np.ndarray, y: np.ndarray, width: int, target: float = 0.02) -> int:
    """Steps per block: numpy's block (on a spare copy of the model) takes about ``target`` seconds."""
    spare = numpy_step(MLP(2, [width, width, 1], seed=0), X, y)
    spare()
    t = harness.per_call(spare, 5)()
    return int(min(200, max(2, round(target / t))))


def one_size(width: int, rounds: int) -> dict[str, Any]:
    """Every contender at 2-width-width-1, batch 100: first-call times, per-round step times."""
    X, y = moons(100, noise=0.1, seed=1, labels="signed")
    found: dict[str, Contender] = {}
    first_call: dict[str, float] = {}
    first_loss: dict[str, float] = {}
    for name, make in MAKERS.items():
        c = make(MLP(2, [width, width, 1], seed=0), X, y)
        if c is None:
            print(f"  {name}: not installed, skipped", flush=True)
            continue
        t = time.perf_counter()
        first_loss[name] = c.one()  # traces / compiles
        first_call[name] = time.perf_counter() - t
        found[name] = c
    harness.check_same(first_loss, f"2-{width}-{width}-1: first-step loss")
    n = block_size(X, y, width)
    blocks: dict[str, Callable[[], float]] = {name: partial(c.block, n) for name, c in found.items()}
    times = harness.paired_rounds(blocks, rounds, f"2-{width}-{width}-1, blocks of {n} + {n} steps")
    last = {name: c.one() for name, c in found.items()}  # the step after 1 + rounds·2n steps each
    spread = max(abs(v - last[NUMPY]) / abs(last[NUMPY]) for v in last.values())
    return {"width": width, "params": 2 * width + width * width + 3 * width + 1, "n": n, "times": times,
            "first_call": first_call, "first_loss": first_loss[NUMPY], "last_spread": spread,
            "steps": 2 + rounds * 2 * n}


def tables(results: list[dict[str, Any]]) -> tuple[list[str], list[Goal]]:
    names = [n for n in MAKERS if n != NUMPY]
    head = ["contender", *[f"2-{r['width']}-{r['width']}-1 ({r['params']:,} params)" for r in results]]
    rows = [[f"{NUMPY}: time / step", *[seconds(Spread.of(r["times"][NUMPY]).median) for r in results]]]
    goals = []
    for name in names:
        cells = []
        for r in results:
            if name not in r["times"]:
                cells.append("not installed")
                continue
            q = ratios(r["times"][name], r["times"][NUMPY])
            cells.append(f"{q.text()} ({seconds(Spread.of(r['times'][name]).median)})")
            if name in (FIT, LOOP):
                goals.append(Goal(f"{name}, 2-{r['width']}-{r['width']}-1, vs numpy", q, 1.5, "lower"))
        rows.append([f"{name} / numpy", *cells])
    first = [[name, *[seconds(r["first_call"][name]) if name in r["first_call"] else "not installed"
                      for r in results]] for name in (FIT, LOOP, JAX)]
    checks = "; ".join(f"2-{r['width']}-{r['width']}-1: first loss {r['first_loss']:.12f} equal in all, "
                       f"{r['steps']} steps each (blocks of {r['n']} untimed + {r['n']} timed), "
                       f"last losses within {r['last_spread']:.1e}"
                       for r in results)
    lines = ["#### Compiled moons step vs numpy, PyTorch and JAX (`benchmarks/bench_compiled.py`)", "",
             "Batch 100, float64, one core. Ratios are time / numpy's time: median (min-max) of per-round "
             "ratios; the time per step in brackets.", "",
             *harness.markdown_table(head, rows), "",
             "First call: trace and schedule (microgradx) or trace and compile (JAX), plus one step:", "",
             *harness.markdown_table(["first call", *head[1:]], first), "",
             f"Checks: {checks}.", "", "![ratio grid](bench_compiled.png)"]
    return lines, goals


def figure(results: list[dict[str, Any]]) -> Any:
    """Grouped bars: per model size, each contender's time / numpy's (median, whiskers min-max)."""
    plt = harness.pyplot()
    names = [n for n in MAKERS if n != NUMPY and n in results[0]["times"]]
    fig, ax = plt.subplots(figsize=(8, 4.2))
    width = 0.8 / len(names)
    for j, name in enumerate(names):
        qs = [ratios(r["times"][name], r["times"][NUMPY]) for r in results]
        xs = [i + (j - (len(names) - 1) / 2) * width for i in range(len(results))]
        meds = [q.median for q in qs]
        ax.bar(xs, meds, width * 0.95, label=name)
        ax.errorbar(xs, meds, yerr=[[q.median - q.lo for q in qs], [q.hi - q.median for q in qs]], fmt="none",
                    color="black", capsize=2, lw=1)
    ax.axhline(1.0, color="black", lw=1, label="hand-written numpy (= 1)")
    ax.axhline(1.5, color="tab:red", ls="--", lw=1, label="goal for the compiled path: 1.5x numpy")
    ax.set_yscale("log")
    ax.set_xticks(range(len(results)), [f"2-{r['width']}-{r['width']}-1\n{r['params']:,} params"
                                         for r in results])
    ax.set_ylabel("time per step / hand-written numpy's")
    ax.set_title("moons training step, batch 100, float64, one core")
    ax.legend(fontsize=8)
    return fig


def main() -> None:
    args = harness.arguments(__doc__, rounds=10, quick_rounds=2)
    print(harness.machine(), flush=True)
    t = time.perf_counter()
    results = [one_size(w, args.rounds) for w in (16, 64, 256)]
    lines, goals = tables(results)
    lines.append(f"\nWhole run {time.perf_counter() - t:.0f} s.")
    harness.publish(args, "bench_compiled", lines, goals, lambda: figure(results))


if __name__ == "__main__":
    main()
