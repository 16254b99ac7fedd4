"""One moons training step, timed in two (or more) source trees of microgradx, in alternating processes.

    python benchmarks/ab_trees.py [--rounds N] [--steps S] TREE_A TREE_B [TREE ...]

A tree is a folder holding a ``microgradx`` package, e.g. an old commit exported with
``git archive b1c4e70 | tar -x -C /tmp/old``. Each round runs one short process per tree,
in an order that rotates from round to round; a process times S steps of bench_engine.py's
moons loop (``MLP(2, [16, 16, 1])`` on 100 points, SVM loss, SGD; collector on, run untimed
before each step) and reports its median forward, backward and whole step. The table gives
the median over rounds, and each tree's time over the first tree's. On a shared machine many
short alternating rounds beat one long run: a busy minute slows every tree in it alike.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

PARTS = ("step", "forward", "backward")

# One process of one tree: prints {part: median milliseconds}.
CHILD = r"""
import gc, json, random, statistics, sys, time
import microgradx.engine as engine, microgradx.nn as nn
from microgradx.nn.data import moons
assert engine.__file__.startswith(sys.argv[2]), engine.__file__
Value = engine.Value
X, y = moons(100, noise=0.1, seed=1, labels="signed")
random.seed(1337)
model = nn.MLP(2, [16, 16, 1])
times = {"step": [], "forward": [], "backward": []}
clock = time.perf_counter
for k in range(int(sys.argv[1]) + 1):
    gc.collect()
    t0 = clock()
    scores = list(map(model, [list(map(Value, row)) for row in X]))
    losses = [(1 + -yi * si).relu() for yi, si in zip(y, scores)]
    loss = sum(losses) * (1.0 / len(losses)) + 1e-4 * sum(p * p for p in model.parameters())
    t1 = clock()
    model.zero_grad()
    loss.backward()
    t2 = clock()
    for p in model.parameters():
        p.data -= (1.0 - 0.9 * k / 100) * p.grad
    t3 = clock()
    if k:  # step 0 warms up
        for part, dt in zip(times, (t3 - t0, t1 - t0, t2 - t1)):
            times[part].append(dt * 1e3)
    del scores, losses, loss
print(json.dumps({part: statistics.median(v) for part, v in times.items()}))
"""


def run(tree: Path, steps: int) -> dict[str, float]:
    """One process of ``tree``: the median milliseconds of each part."""
    env = {**os.environ, "PYTHONPATH": str(tree), "OPENBLAS_NUM_THREADS": "1"}
    # (run from the tree itself: ``-c`` puts the working folder first on sys.path, ahead of PYTHONPATH)
    out = subprocess.run([sys.executable, "-c", CHILD, str(steps), str(tree)], env=env, capture_output=True,
                         text=True, check=True, cwd=tree).stdout
    result: dict[str, float] = json.loads(out.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("trees", nargs="+", type=Path, help="folders holding a microgradx package (two or more)")
    ap.add_argument("--rounds", type=int, default=20, help="alternating rounds (default 20)")
    ap.add_argument("--steps", type=int, default=8, help="timed steps per process (default 8)")
    args = ap.parse_args()
    trees: list[Path] = [t.resolve() for t in args.trees]
    if len(trees) < 2 or not all((t / "microgradx" / "__init__.py").is_file() for t in trees):
        ap.error("give two or more folders, each holding a microgradx package")
    times: dict[Path, list[dict[str, float]]] = {t: [] for t in trees}
    for r in range(args.rounds):
        for t in trees[r % len(trees):] + trees[:r % len(trees)]:
            times[t].append(run(t, args.steps))
    base = {part: statistics.median(x[part] for x in times[trees[0]]) for part in PARTS}
    print(f"median ms over {args.rounds} rounds of {args.steps} steps (time / first tree's)")
    for t in trees:
        cells = [f"{part} {m:7.2f} ({m / base[part]:.3f})"
                 for part in PARTS for m in [statistics.median(x[part] for x in times[t])]]
        print(f"{str(t):40s} " + "   ".join(cells))


if __name__ == "__main__":
    main()
