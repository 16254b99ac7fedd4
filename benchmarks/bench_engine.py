"""microgradx vs micrograd 0.1.0, measured in one run, printed as a table of times and ratios.

    python benchmarks/bench_engine.py [--quick]

1. One training step of micrograd's moons demo: a 2-16-16-1 ReLU MLP built from scalar neurons,
   100 points, SVM max-margin loss + 1e-4 L2, forward + zero_grad + backward + SGD update, written
   exactly as micrograd's demo notebook writes it, garbage collector on.
2. Build + backward of a long chain ``y = y * x`` (micrograd only at depths it survives).
3. Bytes per interior node (tracemalloc, while the graph is alive).
4. XOR: wall time to reach 100% accuracy, same seeds, same loop.
"""

from __future__ import annotations

import argparse
import gc
import random
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

try:
    import micrograd.engine as mg_engine
    import micrograd.nn as mg_nn
except ImportError:  # pragma: no cover - the bench extra installs it
    sys.exit("micrograd 0.1.0 is the reference: pip install -e '.[bench]' (or run `make bench`)")

import microgradx.engine as mx_engine
import microgradx.nn as mx_nn
from microgradx.nn.data import moons, xor

LIBS: dict[str, tuple[Any, Any]] = {"micrograd": (mg_engine, mg_nn), "microgradx": (mx_engine, mx_nn)}


# ---------------------------------------------------------------- 1. the moons step

def moons_step(lib: str, X: np.ndarray, y: np.ndarray, steps: int) -> list[float]:
    """Seconds per step of micrograd's demo loop, as its notebook writes it."""
    engine, nn = LIBS[lib]
    Value = engine.Value
    random.seed(1337)
    model = nn.MLP(2, [16, 16, 1])

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

    times = []
    for k in range(steps):
        t0 = time.perf_counter()
        total_loss, acc = loss()
        model.zero_grad()
        total_loss.backward()
        learning_rate = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= learning_rate * p.grad
        times.append(time.perf_counter() - t0)
    return times


# ---------------------------------------------------------------- 2. the chain

def chain(lib: str, n: int) -> tuple[float, float]:
    """(build seconds, backward seconds) for y = y * x repeated n times."""
    Value = LIBS[lib][0].Value
    x = Value(1.0000001)
    t0 = time.perf_counter()
    y = x
    for _ in range(n):
        y = y * x
    t1 = time.perf_counter()
    y.backward()
    t2 = time.perf_counter()
    return t1 - t0, t2 - t1


def deepest_micrograd_chain() -> int:
    """The longest chain micrograd's recursive topological sort survives (powers of ten and halves)."""
    best = 0
    for n in (100, 500, 900, 2_000, 5_000, 10_000):
        try:
            chain("micrograd", n)
            best = n
        except RecursionError:
            break
    return best


# ---------------------------------------------------------------- 3. memory

def bytes_per_node(lib: str, n: int = 100_000) -> float:
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
    return (after - before) / n


# ---------------------------------------------------------------- 4. XOR

def xor_time_to_perfect(lib: str, seed: int, max_steps: int = 500) -> tuple[float, int]:
    """Seconds (and steps) for MLP(2, [4, 1]) with micrograd's neurons to classify XOR perfectly."""
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
    return time.perf_counter() - t0, max_steps


# ---------------------------------------------------------------- report

def fmt_s(s: float) -> str:
    return f"{s * 1e3:,.1f} ms" if s < 1 else f"{s:,.2f} s"


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions (for a smoke run)")
    args = ap.parse_args(argv)
    mg_steps, mx_steps = (2, 5) if args.quick else (4, 15)
    chain_n = 200_000 if args.quick else 1_000_000

    print(f"Python {sys.version.split()[0]}, numpy {np.__version__}; gc enabled: {gc.isenabled()}\n")
    X, y = moons(100, noise=0.1, seed=1, labels="signed")
    rows: list[tuple[str, str, str, str]] = []

    mg = statistics.median(moons_step("micrograd", X, y, mg_steps))
    mx = statistics.median(moons_step("microgradx", X, y, mx_steps))
    rows.append(("moons step (2-16-16-1, 100 pts)", fmt_s(mg), fmt_s(mx), f"{mg / mx:.1f}x faster"))

    depth = deepest_micrograd_chain()
    b_mg, f_mg = chain("micrograd", depth)
    b_mx, f_mx = chain("microgradx", depth)
    rows.append((f"chain of {depth:,} ops: build + backward", fmt_s(b_mg + f_mg), fmt_s(b_mx + f_mx),
                 f"{(b_mg + f_mg) / (b_mx + f_mx):.1f}x faster"))
    b, f = chain("microgradx", chain_n)
    rows.append((f"chain of {chain_n:,} ops: build + backward", "RecursionError", f"{fmt_s(b)} + {fmt_s(f)}",
                 f"total {fmt_s(b + f)}"))

    m_mg, m_mx = bytes_per_node("micrograd"), bytes_per_node("microgradx")
    rows.append(("bytes per interior node", f"{m_mg:.0f} B", f"{m_mx:.0f} B", f"{m_mg / m_mx:.1f}x smaller"))

    seeds = range(3) if args.quick else range(5)
    t_mg = [xor_time_to_perfect("micrograd", s) for s in seeds]
    t_mx = [xor_time_to_perfect("microgradx", s) for s in seeds]
    assert [s for _, s in t_mg] == [s for _, s in t_mx], "same seeds must take the same steps"
    tot_mg, tot_mx = sum(t for t, _ in t_mg), sum(t for t, _ in t_mx)
    rows.append((f"XOR to 100%, {len(seeds)} seeds ({sum(s for _, s in t_mx)} steps)", fmt_s(tot_mg),
                 fmt_s(tot_mx), f"{tot_mg / tot_mx:.1f}x faster"))

    head = ("benchmark", "micrograd 0.1.0", "microgradx", "ratio")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(4)]
    line: Callable[[tuple[str, ...]], str] = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"
    print(line(head))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print(line(r))


if __name__ == "__main__":
    main()
