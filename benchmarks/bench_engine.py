"""The eager engine against micrograd 0.1.0, in one run, as paired per-round ratios.

    python benchmarks/bench_engine.py [--quick] [--rounds N] [--out DIR]

Both engines run in this process, pinned to one core (see harness.py), with the garbage
collector on, as a user has it. Every round runs a block of each engine, back to back, in turn;
the collector is run (untimed) before each block, so a block does not pay for the other engine's
garbage (micrograd's graphs are reference cycles that only the collector frees):

1. moons step: one step of micrograd's demo notebook loop, verbatim (a 2-16-16-1 ReLU MLP of
   scalar neurons, 100 points, SVM max-margin loss + 1e-4 L2, forward + zero_grad + backward + SGD
   with its learning-rate schedule, the accuracy line included). Both start from micrograd's
   weights (random.seed(1337)) and take the same steps, in blocks of two of which the second is
   timed (so it pays, as every step of the loop but the first does, for collecting the graph of the
   step before); the loss of every step must agree to 1e-9.
2. XOR to 100%: MLP(2, [4, 1]) trained by micrograd's loop (hinge loss, SGD 0.1) until every
   corner is classified right with zero hinge loss, for ten seeds; both must need the same steps
   per seed. (With micrograd's uniform init most seeds leave this small ReLU net stuck below 100%;
   the seeds in XOR_SEEDS are the first ten of 0-59 that get there within 500 steps.)
3. sum backward: ``backward()`` of ``sum(xs)`` over 100,000 leaves (a chain of 100,000 adds).
   micrograd's recursive topological sort needs a raised recursion limit and a big thread stack,
   so both engines run it in a thread with a 512 MB stack.
4. chain of 1,000,000 ops: build and backward of ``y = y * x`` repeated, both engines in that thread.
5. bytes per interior node: memory held by a live chain of 100,000 products (tracemalloc).
"""

from __future__ import annotations

import gc
import random
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import harness
import numpy as np
from harness import Goal, Spread, ratios, seconds

try:
    import micrograd.engine as mg_engine
    import micrograd.nn as mg_nn
except ImportError:  # pragma: no cover - the bench extra installs it
    sys.exit("micrograd 0.1.0 is the reference: pip install -e '.[bench]' (or run `make bench`)")

import microgradx.engine as mx_engine
import microgradx.nn as mx_nn
from microgradx.nn.data import moons, xor

MG, MX = "micrograd 0.1.0", "microgradx"
LIBS: dict[str, tuple[Any, Any]] = {MG: (mg_engine, mg_nn), MX: (mx_engine, mx_nn)}
XOR_SEEDS = (3, 8, 9, 11, 12, 15, 17, 20, 22, 25)


# ---------------------------------------------------------------- 1. the moons step


class MoonsLoop:
    """micrograd's demo training loop, one step per call; the same code runs either library."""

    def __init__(self, lib: str, X: np.ndarray, y: np.ndarray) -> None:
        engine, nn = LIBS[lib]
        Value = engine.Value
        random.seed(1337)
        model = nn.MLP(2, [16, 16, 1])
        self.model, self.k = model, 0
        self.losses: list[float] = []

        # loss() as the demo notebook writes it (batch_size=None: the whole data set)
        def loss() -> tuple[Any, float]:
            inputs = [list(map(Value, xrow)) for xrow in X]
            scores = list(map(model, inputs))
            losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(y, scores)]
            data_loss = sum(losses) * (1.0 / len(losses))
            alpha = 1e-4
            reg_loss = alpha * sum(p * p for p in model.parameters())
            total_loss = data_loss + reg_loss
            accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(y, scores)]
            return total_loss, sum(accuracy) / len(accuracy)

        self.loss = loss

    def step(self) -> float:
        """Seconds for the demo loop's body at step k (forward, zero_grad, backward, update); then k += 1."""
        model, k = self.model, self.k
        t0 = time.perf_counter()
        total_loss, acc = self.loss()
        model.zero_grad()
        total_loss.backward()
        learning_rate = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= learning_rate * p.grad
        t = time.perf_counter() - t0
        self.losses.append(total_loss.data)
        self.k += 1
        return t


def moons_row(rounds: int) -> tuple[list[str], Spread, str]:
    X, y = moons(100, noise=0.1, seed=1, labels="signed")
    loops = {lib: MoonsLoop(lib, X, y) for lib in LIBS}
    mine = [p.data for p in loops[MX].model.parameters()]
    if [p.data for p in loops[MG].model.parameters()] != mine:
        raise SystemExit("nn.MLP no longer draws micrograd's initial weights after random.seed(1337)")
    for loop in loops.values():
        loop.step()  # step 0: a warm-up, and the first losses to compare
    harness.check_same({lib: loop.losses[0] for lib, loop in loops.items()}, "moons first-step loss")
    # Two steps a block, the second timed: like any step of the loop but the first, it pays for collecting
    # the graph of the step before (micrograd's graphs are cycles; the first step after a collection does not).
    blocks = {lib: harness.per_call(loop.step, 1, untimed=1) for lib, loop in loops.items()}
    times = harness.paired_rounds(blocks, rounds, "moons, blocks of two steps, the second timed")
    for k, (a, b) in enumerate(zip(loops[MG].losses, loops[MX].losses, strict=True)):
        harness.check_same({MG: a, MX: b}, f"moons loss at step {k}")
    r = ratios(times[MG], times[MX])
    note = f"equal losses at all {rounds * 2 + 1} steps (first {loops[MX].losses[0]:.12f})"
    row = ["moons step (2-16-16-1, 100 points)", seconds(Spread.of(times[MG]).median),
           seconds(Spread.of(times[MX]).median), r.text(), ">= 15x"]
    return row, r, note


# ---------------------------------------------------------------- 2. XOR


def xor_to_perfect(lib: str, seed: int, max_steps: int = 500) -> tuple[float, int]:
    """Seconds (and steps) for MLP(2, [4, 1]) with micrograd's loop to classify XOR perfectly."""
    engine, nn = LIBS[lib]
    Value = engine.Value
    X, y = xor(labels="signed")
    random.seed(seed)
    model = nn.MLP(2, [4, 1])
    t0 = time.perf_counter()
    for step in range(1, max_steps + 1):
        scores = [model([Value(float(a)), Value(float(b))]) for a, b in X]
        loss = sum((1 + -float(yi) * s).relu() for yi, s in zip(y, scores)) * (1.0 / len(y))
        if all((s.data > 0) == (yi > 0) for s, yi in zip(scores, y)) and loss.data < 1e-9:
            return time.perf_counter() - t0, step
        model.zero_grad()
        loss.backward()
        for p in model.parameters():
            p.data -= 0.1 * p.grad
    raise SystemExit(f"XOR: seed {seed} did not reach 100% in {max_steps} steps with {lib}; XOR_SEEDS must list "
                     "seeds that do (the engine's numbers or nn.MLP's initial weights have changed)")


def xor_row(rounds: int, seeds: tuple[int, ...]) -> tuple[list[str], Spread, str]:
    steps: dict[str, list[int]] = {}

    def block(lib: str) -> Callable[[], float]:
        def run() -> float:
            results = [xor_to_perfect(lib, s) for s in seeds]
            steps[lib] = [n for _, n in results]
            return sum(t for t, _ in results)

        return run

    times = harness.paired_rounds({lib: block(lib) for lib in LIBS}, rounds, "XOR")
    if steps[MG] != steps[MX]:
        raise SystemExit(f"XOR: the same seeds took different steps: micrograd {steps[MG]}, microgradx {steps[MX]}")
    r = ratios(times[MG], times[MX])
    row = [f"XOR to 100%, {len(seeds)} seeds ({sum(steps[MX]):,} steps)", seconds(Spread.of(times[MG]).median),
           seconds(Spread.of(times[MX]).median), r.text(), ">= 6x"]
    return row, r, f"same steps per seed: {steps[MX]}"


# ---------------------------------------------------------------- 3, 4. deep graphs


def sum_graph(lib: str, n: int) -> tuple[float, float, float]:
    """(build seconds, backward seconds, grad of the last leaf) for ``sum(xs)`` over n leaves."""
    Value = LIBS[lib][0].Value
    xs = [Value(float(i % 7) - 3.0) for i in range(n)]
    t0 = time.perf_counter()
    s = sum(xs)
    t1 = time.perf_counter()
    s.backward()
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, xs[-1].grad


def chain(lib: str, n: int) -> tuple[float, float, float]:
    """(build seconds, backward seconds, dy/dx) for y = x·x·…·x (n products)."""
    Value = LIBS[lib][0].Value
    x = Value(1.0000001)
    t0 = time.perf_counter()
    y = x
    for _ in range(n):
        y = y * x
    t1 = time.perf_counter()
    y.backward()
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1, x.grad


def deep_row(what: str, graph: Callable[[str, int], tuple[float, float, float]], n: int, rounds: int,
             backward_only: bool) -> tuple[list[str], Spread, str]:
    """Build + backward of a graph n deep in both engines (big-stack thread); ratio of backward or of both."""
    found: dict[str, tuple[float, float, float]] = {}
    builds: dict[str, list[float]] = {lib: [] for lib in LIBS}
    with harness.deep_recursion(n + 100) as run:
        def block(lib: str) -> Callable[[], float]:
            def timed() -> float:
                b, f, g = found[lib] = run(lambda: graph(lib, n))
                builds[lib].append(b)
                return f if backward_only else b + f

            return timed

        times = harness.paired_rounds({lib: block(lib) for lib in LIBS}, rounds, what)
    harness.check_same({lib: found[lib][2] for lib in LIBS}, f"{what}: the gradient of x")
    r = ratios(times[MG], times[MX])
    med = {lib: seconds(Spread.of(times[lib]).median) for lib in LIBS}
    bld = {lib: seconds(Spread.of(builds[lib]).median) for lib in LIBS}
    cells = [f"{med[lib]} (build {bld[lib]})" for lib in LIBS]
    build_ratio = ratios(builds[MG], builds[MX])
    return [what, *cells, r.text(), ">= 3x" if backward_only else ""], r, f"build alone {build_ratio.text()}"


# ---------------------------------------------------------------- 5. memory


def bytes_per_node(lib: str, n: int = 100_000) -> float:
    """Bytes held per interior node of a live chain of n products (tracemalloc)."""
    Value = LIBS[lib][0].Value
    gc.collect()
    tracemalloc.start()
    x = Value(1.0)
    y = x
    before = tracemalloc.get_traced_memory()[0]
    for _ in range(n):
        y = y * x
    after = tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    del y
    gc.collect()
    return (after - before) / n


# ---------------------------------------------------------------- report


def main() -> None:
    args = harness.arguments(__doc__, rounds=5, quick_rounds=2)
    quick, rounds = args.quick, args.rounds
    print(harness.machine(), flush=True)
    t_start = time.perf_counter()
    head = ["workload", MG, MX, "speed-up: median (min-max)", "goal"]
    rows, goals, notes = [], [], []

    row, r, note = moons_row(rounds)
    rows.append(row)
    goals.append(Goal("eager moons step vs micrograd", r, 15, "higher"))
    notes.append(f"moons: {note}")

    row, r, note = xor_row(max(1, rounds - 2), XOR_SEEDS[:4] if quick else XOR_SEEDS)
    rows.append(row)
    goals.append(Goal("XOR to 100% vs micrograd", r, 6, "higher"))
    notes.append(f"XOR: {note}")

    n_sum = 20_000 if quick else 100_000
    row, r, note = deep_row(f"backward() of a {n_sum:,}-term sum()", sum_graph, n_sum, rounds, backward_only=True)
    rows.append(row)
    goals.append(Goal(f"backward() of a {n_sum:,}-term sum() vs micrograd", r, 3, "higher"))
    notes.append(f"sum: {note}")

    n_chain = 100_000 if quick else 1_000_000
    row, r, note = deep_row(f"chain of {n_chain:,} ops: build + backward", chain, n_chain, min(rounds, 2),
                            backward_only=False)
    rows.append(row)
    notes.append(f"chain: {note}")

    m_mg, m_mx = bytes_per_node(MG), bytes_per_node(MX)
    rows.append(["bytes per interior node (live chain)", f"{m_mg:.0f} B", f"{m_mx:.0f} B",
                 f"{m_mg / m_mx:.1f}x smaller", ""])

    total = time.perf_counter() - t_start
    lines = ["#### Eager engine vs micrograd 0.1.0 (`benchmarks/bench_engine.py`)", "",
             *harness.markdown_table(head, rows, "lrrrr"), "",
             "Checks: " + "; ".join(notes) + f". Whole run {total:.0f} s."]
    harness.publish(args, "bench_engine", lines, goals)


if __name__ == "__main__":
    main()
