"""How long Graphviz takes to lay out microgradx drawings, by size: the basis of viz.DEFAULT_MAX_NODES.

    python benchmarks/bench_viz.py

Builds the loss graph of nn MLPs of growing size, draws them forward, backward
(edge labels) and collapsed by neuron, and times `draw_dot` and `dot -Tsvg`.
"""

from __future__ import annotations

import time

from microgradx.draw.dot import draw_dot, render_bytes
from microgradx.engine import Value
from microgradx.nn import MLP


def mlp_loss(sizes: list[int], x: list[float]) -> Value:
    """(MLP(len(x), sizes)(x) - 1)², with tanh hidden units: a real nn graph, labelled by nn."""
    model = MLP(len(x), sizes, activation="tanh", seed=0)
    loss = (model(x) - 1.0) ** 2
    loss.label = "loss"
    return loss


def main() -> None:
    print(f"{'layers':>12} {'view':>9} {'values':>7} {'build s':>8} {'dot s':>7}")
    for sizes in ([4, 4, 1], [8, 8, 1], [12, 12, 1]):
        loss = mlp_loss(sizes, [0.5, -1.0, 2.0])
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
