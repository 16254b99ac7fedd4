"""How long drawings and animations take, and how large the animation pages get: the basis of DEFAULT_MAX_NODES.

    python benchmarks/bench_viz.py

Draws the loss graphs of real nn MLPs forward, backward (edge labels) and collapsed
by neuron, timing ``draw_dot`` and ``dot -Tsvg``; then writes the step-by-step page
of a neuron, of a 2-4-1 MLP's loss and of the largest graphs the default limit allows
(a 3-13-12-1 MLP's loss: 1,975 nodes and edge labels to lay out; a tanh chain of 666
ops: 3 × 666 + 1 = 1,999), with its size;
and times refusing graphs far past the limit (which must not grow with the graph).
"""

from __future__ import annotations

import json
import re
import time
from typing import Any

from microgradx.draw.animate import animation_html
from microgradx.draw.dot import GraphTooLargeError, draw_dot, render_bytes
from microgradx.engine import Value
from microgradx.examples import neuron
from microgradx.nn import MLP


def mlp_loss(sizes: list[int], x: list[float]) -> Value:
    """(MLP(len(x), sizes)(x) - 1)², with tanh hidden units: a real nn graph, labelled by nn."""
    model = MLP(len(x), sizes, activation="tanh", seed=0)
    loss = (model(x) - 1.0) ** 2
    loss.label = "loss"
    return loss


def tanh_chain(n: int) -> Value:
    y = Value(0.3, label="x")
    for _ in range(n):
        y = y.tanh()
    y.label = "y"
    return y


def drawings() -> None:
    print(f"{'layers':>12} {'view':>9} {'values':>7} {'build s':>8} {'dot s':>7}")
    for sizes in ([4, 4, 1], [8, 8, 1], [12, 12, 1]):
        loss = mlp_loss(sizes, [0.5, -1.0, 2.0])
        loss.backward()
        views: list[tuple[str, dict[str, Any]]] = [("forward", {}), ("backward", {"view": "backward"}),
                                                   ("neuron", {"collapse": "neuron"})]
        for view, kw in views:
            t0 = time.perf_counter()
            g = draw_dot(loss, max_nodes=10**6, **kw)
            t1 = time.perf_counter()
            render_bytes(g, "svg")
            t2 = time.perf_counter()
            values = sum(1 for line in g.source.splitlines() if "<table" in line)
            print(f"{str(sizes):>12} {view:>9} {values:>7} {t1 - t0:8.2f} {t2 - t1:7.2f}", flush=True)


def animations() -> None:
    print(f"\n{'animation':>28} {'nodes':>6} {'steps':>6} {'page KB':>8} {'time s':>7}")
    loss = mlp_loss([4, 1], [0.5, -1.0])
    cases: list[tuple[str, Any, dict[str, Any]]] = [("neuron", neuron(), {}), ("2-4-1 MLP loss", loss, {}),
             ("2-4-1 MLP loss, by neuron", loss, {"collapse": "neuron"}),
             ("3-13-12-1 MLP loss (limit)", mlp_loss([13, 12, 1], [0.5, -1.0, 2.0]), {}),
             ("tanh chain 666 (the limit)", tanh_chain(666), {})]
    for name, root, kw in cases:
        t0 = time.perf_counter()
        page = animation_html(root, **kw)
        t1 = time.perf_counter()
        found = re.search(r'id="steps">(.*?)</script>', page, re.S)
        assert found is not None, "the player page has no steps block"
        steps = len(json.loads(found.group(1))["frames"])
        nodes = len({id(n) for n in _walk(root)})
        print(f"{name:>28} {nodes:>6} {steps:>6} {len(page.encode()) / 1024:8.1f} {t1 - t0:7.2f}", flush=True)


def refusals() -> None:
    print(f"\n{'refused':>28} {'nodes':>9} {'time s':>7}")
    for n in (10_000, 1_000_000):
        root = Value(0.1)
        for _ in range(n):
            root = root * 1.0001
        calls = (("draw_dot", lambda r=root: draw_dot(r)), ("animation_html", lambda r=root: animation_html(r)))
        for name, call in calls:
            t0 = time.perf_counter()
            try:
                call()
            except GraphTooLargeError:
                pass
            print(f"{name:>28} {n:>9} {time.perf_counter() - t0:7.3f}", flush=True)


def _walk(root: Value) -> list[Value]:
    seen, stack, out = set(), [root], []
    while stack:
        n = stack.pop()
        if id(n) not in seen:
            seen.add(id(n))
            out.append(n)
            stack.extend(n._prev)
    return out


def main() -> None:
    drawings()
    animations()
    refusals()


if __name__ == "__main__":
    main()
