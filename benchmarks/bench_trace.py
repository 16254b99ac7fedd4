"""What compiling costs: trace + schedule of a 784-128-10 MLP's loss, per node, against JAX's first jit call.

    python benchmarks/bench_trace.py [--quick] [--rounds N] [--out DIR]

The loss is what ``fit(compiled=True)`` traces for an MNIST-sized classifier: an MLP(784, [128, 10])
(ReLU), softmax cross-entropy against a one-hot row, plus 1e-4·Σp², per sample
(``compile_loss``). Tracing records one node per scalar op, parameter, input and constant
(509,568 nodes at this size). Measured, on one pinned core with the garbage collector on:

* trace + schedule: ``compile_loss(...)`` and ``.program(X, Y)`` (trace, then the compiler's
  passes), in µs per trace node; and the first ``value_and_grad`` after it, for a batch of 128.
* JAX's first call of ``jax.jit(jax.value_and_grad(loss))`` on the same batch, float64: tracing,
  lowering, XLA compiling and one run (a new Python function every round, so nothing is cached).
* retained bytes per node: the memory the compiled loss still holds once it is built (after a
  garbage collection), by tracemalloc, in a separate, untimed run (tracemalloc slows everything).
"""

from __future__ import annotations

import gc
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import harness
import numpy as np
from harness import Goal, Spread, ratios, seconds

from microgradx import MLP
from microgradx.compiled import compile_loss
from microgradx.nn.losses import l2, softmax_cross_entropy

ALPHA, BATCH = 1e-4, 128


def loss_of(model: MLP) -> Any:
    """The per-sample loss fit(compiled=True) would trace: cross-entropy + L2, jitted (not yet traced)."""
    params = model.parameters()
    return compile_loss(model, lambda s, t: softmax_cross_entropy([s], [t]) + l2(params, ALPHA))


def trace_nodes(f: Any, X: np.ndarray, Y: np.ndarray) -> int:
    """How many nodes the trace holds (ops, parameters, inputs, constants)."""
    return len(f.trace(X, Y).nodes)


def microgradx_block(model: MLP, X: np.ndarray, Y: np.ndarray, record: dict[str, list[float]]) -> Callable[[], float]:
    """Trace + schedule, then the first step; records both, returns their sum."""

    def block() -> float:
        t0 = time.perf_counter()
        f = loss_of(model)
        f.program(X, Y)
        t1 = time.perf_counter()
        f.value_and_grad(X, Y, write_grad=False)
        t2 = time.perf_counter()
        record["schedule"].append(t1 - t0)
        record["first step"].append(t2 - t1)
        return t2 - t0

    return block


def jax_block(model: MLP, X: np.ndarray, Y: np.ndarray) -> Callable[[], float] | None:
    jax = harness.import_jax()
    if jax is None:
        return None
    jnp = jax.numpy
    params = [(jnp.asarray(W), jnp.asarray(b)) for W, b in harness.weight_matrices(model)]
    Xj, Yj = jnp.asarray(X), jnp.asarray(Y)

    def block() -> float:
        def loss(params: Any, X: Any, Y: Any) -> Any:  # a new function every round: JAX caches by function
            (W1, b1), (W2, b2) = params
            s = jnp.maximum(X @ W1 + b1, 0.0) @ W2 + b2
            ce = jnp.mean(jax.nn.logsumexp(s, axis=1) - jnp.sum(Y * s, axis=1))
            return ce + ALPHA * sum(jnp.sum(W * W) + jnp.sum(b * b) for W, b in params)

        t = time.perf_counter()
        value, grads = jax.jit(jax.value_and_grad(loss))(params, Xj, Yj)
        jax.block_until_ready(grads)
        block.loss = float(value)  # type: ignore[attr-defined]
        return time.perf_counter() - t

    return block


def retained_bytes(model: MLP, X: np.ndarray, Y: np.ndarray) -> tuple[float, float]:
    """(bytes the built loss keeps, peak bytes while building it), by tracemalloc."""
    gc.collect()
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    f = loss_of(model)
    f.program(X, Y)
    gc.collect()
    kept, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    del f
    return kept - base, peak - base


def main() -> None:
    args = harness.arguments(__doc__, rounds=3, quick_rounds=1)
    print(harness.machine(), flush=True)
    t_start = time.perf_counter()
    hidden = 16 if args.quick else 128
    model = MLP(784, [hidden, 10], seed=0)
    rng = np.random.default_rng(0)
    X, Y = rng.random((BATCH, 784)), np.eye(10)[rng.integers(0, 10, BATCH)]

    f = loss_of(model)  # once untimed: the node count, and the loss JAX must agree with
    loss, _ = f.value_and_grad(X, Y, write_grad=False)
    nodes = trace_nodes(f, X, Y)
    del f
    record: dict[str, list[float]] = {"schedule": [], "first step": []}
    blocks: dict[str, Callable[[], float]] = {"microgradx": microgradx_block(model, X, Y, record)}
    jb = jax_block(model, X, Y)
    if jb is not None:
        jb()  # JAX's own start-up (backend, first import of its passes) is not this workload
        harness.check_same({"microgradx": float(loss), "JAX": jb.loss}, "first loss")  # type: ignore[attr-defined]
        blocks["JAX"] = jb
    times = harness.paired_rounds(blocks, args.rounds, f"784-{hidden}-10 trace")
    kept, peak = retained_bytes(model, X, Y)

    per_node = Spread.of([t / nodes * 1e6 for t in record["schedule"]])
    name = f"784-{hidden}-10 MLP, cross-entropy + L2 ({nodes:,} trace nodes)"
    rows = [["trace + schedule", seconds(Spread.of(record["schedule"]).median), f"{per_node.text(' µs')} / node"],
            ["first value_and_grad, batch 128", seconds(Spread.of(record["first step"]).median), ""],
            ["microgradx: both", seconds(Spread.of(times["microgradx"]).median), ""],
            ["retained once built (tracemalloc)", f"{kept / 2**20:.1f} MB", f"{kept / nodes:.0f} B / node"],
            ["peak while building (tracemalloc)", f"{peak / 2**20:.1f} MB", f"{peak / nodes:.0f} B / node"]]
    goals = [Goal(f"trace + schedule, 784-{hidden}-10", per_node, 3, "lower", " µs/node"),
             Goal(f"retained IR, 784-{hidden}-10", Spread.of([kept / nodes]), 40, "lower", " B/node")]
    if "JAX" in times:
        r = ratios(times["microgradx"], times["JAX"])
        rows.append(["JAX: first jit call (trace, compile, run)", seconds(Spread.of(times["JAX"]).median),
                     f"microgradx / JAX: {r.text()}"])
    lines = [f"#### Trace + schedule: {name} (`benchmarks/bench_trace.py`)", "",
             *harness.markdown_table(["what", "time or memory", "per node / ratio"], rows), "",
             f"Checks: the first loss {float(loss):.12f} is JAX's too. Whole run "
             f"{time.perf_counter() - t_start:.0f} s."]
    harness.publish(args, "bench_trace", lines, goals)


if __name__ == "__main__":
    main()
