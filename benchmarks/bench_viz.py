"""How long Graphviz takes to lay out microgradx drawings, by size: the basis of viz.DEFAULT_MAX_NODES.

    python benchmarks/bench_viz.py

Builds MLP-shaped graphs (nn's label convention), draws them forward, backward
(edge labels) and collapsed by neuron, and times `draw_dot` and `dot -Tsvg`.
"""

from __future__ import annotations

import time

from microgradx.engine import Value
from microgradx.viz import draw_dot, render_bytes


def mlp_shaped(sizes: list[int], x: list[float]) -> Value:
    inputs = [Value(v, label=f"x{k}") for k, v in enumerate(x)]
    for i, n_out in enumerate(sizes):
        outs = []
        for j in range(n_out):
            name = f"layers.{i}.neurons.{j}"
            act = Value(0.05 * j, label=f"{name}.b")
            for k, xi in enumerate(inputs):
                act = act + Value(0.1 * (k + 1) * (-1) ** j, label=f"{name}.w.{k}") * xi
            out = act.tanh() if i < len(sizes) - 1 else act
            out.label = name
            outs.append(out)
        inputs = outs
    loss = (inputs[0] - 1.0) ** 2
    loss.label = "loss"
    return loss


def main() -> None:
    print(f"{'layers':>12} {'view':>9} {'values':>7} {'build s':>8} {'dot s':>7}")
    for sizes in ([4, 4, 1], [8, 8, 1], [12, 12, 1]):
        loss = mlp_shaped(sizes, [0.5, -1.0, 2.0])
        loss.backward()
        for view, kw in (("forward", {}), ("backward", {"view": "backward"}), ("neuron", {"collapse": "neuron"})):
            t0 = time.perf_counter()
            g = draw_dot(loss, max_nodes=10**6, **kw)
            t1 = time.perf_counter()
            render_bytes(g, "svg")
            t2 = time.perf_counter()
            values = sum(1 for line in g.source.splitlines() if "<table" in line)
            print(f"{str(sizes):>12} {view:>9} {values:>7} {t1 - t0:8.2f} {t2 - t1:7.2f}", flush=True)


if __name__ == "__main__":
    main()
