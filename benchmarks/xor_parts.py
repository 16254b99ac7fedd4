"""Where one step of micrograd's XOR loop spends its time, in each engine: a profile, not a race.

    python benchmarks/xor_parts.py [--steps N]

The loop is bench_engine.py's XOR row (``MLP(2, [4, 1])``, hinge loss, SGD 0.1), its parts timed
with ``time.perf_counter`` around each, collector on, on one pinned core. Then, for microgradx, the
same step's graph (about 164 nodes) taken apart: building it, walking it (``graph.backward_order``),
the chain rule over it, and freeing it, each per node. The XOR row's goal is a ratio of whole steps;
this says which parts a faster step would have to come from.
"""

from __future__ import annotations

import argparse
import gc
import random
import time
from collections.abc import Callable
from typing import Any

import harness  # (pins the process to one core on import)
from bench_engine import LIBS, MG, MX

from microgradx.fastpath import chain_rule
from microgradx.graph import backward_order
from microgradx.nn.data import xor

PARTS = ("forward (4 samples)", "loss", "zero_grad", "backward", "parameters + SGD")


def loop_parts(lib: str, steps: int) -> dict[str, float]:
    """Microseconds per step of each part of micrograd's XOR loop (restarting from new weights every 100 steps)."""
    engine, nn = LIBS[lib]
    Value = engine.Value
    X, y = xor(labels="signed")
    total = dict.fromkeys(PARTS, 0.0)
    clock = time.perf_counter
    for k in range(steps):
        if k % 100 == 0:
            random.seed(k)
            model = nn.MLP(2, [4, 1])
        t0 = clock()
        scores = [model([Value(float(a)), Value(float(b))]) for a, b in X]
        t1 = clock()
        loss = sum((1 + -float(yi) * s).relu() for yi, s in zip(y, scores)) * (1.0 / len(y))
        t2 = clock()
        model.zero_grad()
        t3 = clock()
        loss.backward()
        t4 = clock()
        for p in model.parameters():
            p.data -= 0.1 * p.grad
        t5 = clock()
        for part, dt in zip(PARTS, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4), strict=True):
            total[part] += dt
    return {part: t / steps * 1e6 for part, t in total.items()}


def xor_graph(model: Any) -> Any:
    """One step's loss, built by microgradx as the loop builds it."""
    Value = LIBS[MX][0].Value
    X, y = xor(labels="signed")
    scores = [model([Value(float(a)), Value(float(b))]) for a, b in X]
    return sum((1 + -float(yi) * s).relu() for yi, s in zip(y, scores)) * (1.0 / len(y))


def best_of(f: Callable[[], float], n: int = 2000) -> float:
    """The median of n timings of f (each returns its own seconds)."""
    times = sorted(f() for _ in range(n))
    return times[n // 2]


def graph_parts() -> tuple[int, dict[str, float]]:
    """(nodes in one step's graph, nanoseconds per node of building, walking, chain rule and freeing it)."""
    clock = time.perf_counter
    random.seed(3)
    model = LIBS[MX][1].MLP(2, [4, 1])
    gc.disable()
    try:
        interior, leaves = backward_order(xor_graph(model))
        n = len(interior) + len(leaves)

        def build() -> float:
            t0 = clock()
            xor_graph(model)  # (built and dropped: freeing is timed below, and subtracted)
            return clock() - t0

        def free() -> float:
            g = xor_graph(model)
            t0 = clock()
            del g
            return clock() - t0

        root = xor_graph(model)

        def walk() -> float:
            t0 = clock()
            backward_order(root)
            return clock() - t0

        def chain() -> float:
            order = backward_order(root)[0]  # (untimed, and so is setting the interior gradients to 0)
            for node in order:
                node.grad = 0.0
            root.grad = 1.0
            t0 = clock()
            chain_rule(order)
            return clock() - t0

        freeing = best_of(free)
        return n, {"build": (best_of(build) - freeing) / n * 1e9, "walk": best_of(walk) / n * 1e9,
                   "chain rule": best_of(chain) / n * 1e9, "free": freeing / n * 1e9}
    finally:
        gc.enable()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=2000, help="loop steps timed per engine (default 2000)")
    steps = parser.parse_args().steps
    print(harness.machine(), flush=True)
    parts = {lib: loop_parts(lib, steps) for lib in (MG, MX)}
    print(f"\nmicrograd's XOR loop, µs per step ({steps} steps each):\n")
    print(f"{'part':22s} {MG:>16s} {MX:>12s}")
    for part in PARTS:
        print(f"{part:22s} {parts[MG][part]:16.1f} {parts[MX][part]:12.1f}")
    whole = {lib: sum(p.values()) for lib, p in parts.items()}
    print(f"{'whole step':22s} {whole[MG]:16.1f} {whole[MX]:12.1f}   ({whole[MG] / whole[MX]:.2f}x)")
    n, per_node = graph_parts()
    print(f"\nmicrogradx, one step's graph ({n} nodes), ns per node (median of 2000, collector off):\n")
    for what, ns in per_node.items():
        print(f"  {what:12s} {ns:6.0f}")


if __name__ == "__main__":
    main()
