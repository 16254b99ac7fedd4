"""What every benchmark here shares: one core for everyone, paired rounds, ratios, tables, plots.

Importing this module (do it before numpy, torch or JAX) holds the whole process to one core:

* ``OPENBLAS_NUM_THREADS``, ``MKL_NUM_THREADS``, ``OMP_NUM_THREADS`` = 1 (unless already set), so
  numpy's BLAS runs one thread; PyTorch gets ``torch.set_num_threads(1)`` (:func:`import_torch`).
* ``XLA_FLAGS`` gains ``--xla_cpu_multi_thread_eigen=false``. JAX has no thread-count setting and
  starts a thread pool as wide as the machine whatever the flags say, so what really holds it is:
* ``os.sched_setaffinity``: the process is pinned to one core, and every thread started later
  (PyTorch's, JAX's pool) inherits the pin. ``BENCH_CPU=N`` picks the core (default: the highest
  one this process may use); ``BENCH_CPU=none`` leaves the affinity alone.

Timing is *paired*: in every round each contender runs one block of work, in an order that
rotates from round to round, and each round gives one ratio per pair. A busy machine slows a
whole round, so the ratio of two blocks run back to back is steadier than the ratio of two best
times taken minutes apart. We report the median and the min-max of the per-round ratios.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

for _var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
if "xla_cpu_multi_thread_eigen" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_multi_thread_eigen=false").strip()


def _pin() -> str:
    """Pin this process (and the threads it starts from now on) to one core; say what was done."""
    wanted = os.environ.get("BENCH_CPU", "").strip().lower()
    if not hasattr(os, "sched_setaffinity"):
        return "not pinned (no sched_setaffinity on this system: use `taskset -c 0` or equivalent)"
    allowed = sorted(os.sched_getaffinity(0))
    if wanted == "none":
        return f"not pinned (BENCH_CPU=none); may run on cores {allowed}"
    cpu = int(wanted) if wanted else allowed[-1]
    if cpu not in allowed:
        sys.exit(f"BENCH_CPU={cpu}: this process may only use cores {allowed}")
    os.sched_setaffinity(0, {cpu})
    return f"pinned to core {cpu} (of {len(allowed)})"


PINNED = _pin()
HERE = Path(__file__).resolve().parent

Block = Callable[[], float]  # runs one block of work and returns its seconds (per unit of work)


# ------------------------------------------------------------------ the contenders' libraries


def import_torch() -> Any:
    """torch with one intra-op and one inter-op thread, or None when it is not installed."""
    try:
        import torch
    except ImportError:
        return None
    torch.set_num_threads(1)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass  # already set in this process (it can only be set once, before any parallel work)
    return torch


def import_jax() -> Any:
    """jax in float64 (the precision every other contender uses), or None when it is not installed."""
    try:
        import jax
    except ImportError:
        return None
    jax.config.update("jax_enable_x64", True)
    return jax


# ------------------------------------------------------------------ timing


def per_call(step: Callable[[], object], n: int, untimed: int = 0) -> Block:
    """A block that calls ``step`` ``untimed`` times, then ``n`` times more, and returns seconds per timed call."""

    def block() -> float:
        for _ in range(untimed):
            step()
        t = time.perf_counter()
        for _ in range(n):
            step()
        return (time.perf_counter() - t) / n

    return block


def paired_rounds(blocks: dict[str, Block], rounds: int, progress: str = "") -> dict[str, list[float]]:
    """Each contender's block once per round, the order rotated every round; the seconds, per contender.

    The collector runs between blocks (untimed), so no block pays for the garbage of the one before.
    """
    names = list(blocks)
    times: dict[str, list[float]] = {name: [] for name in names}
    for r in range(rounds):
        k = r % len(names)
        for name in names[k:] + names[:k]:
            gc.collect()
            times[name].append(blocks[name]())
        if progress:
            print(f"  {progress}: round {r + 1}/{rounds}", flush=True)
    return times


@dataclass
class Spread:
    """A median and the min-max around it (of per-round ratios, or of per-round values)."""

    median: float
    lo: float
    hi: float

    @classmethod
    def of(cls, values: list[float]) -> Spread:
        if not values:
            raise ValueError("no measurements: run at least one round")
        return cls(statistics.median(values), min(values), max(values))

    def text(self, unit: str = "x", digits: int | None = None) -> str:
        f = lambda v: number(v, digits)
        if len({f(self.lo), f(self.hi)}) == 1:
            return f"{f(self.median)}{unit}"
        return f"{f(self.median)}{unit} ({f(self.lo)}-{f(self.hi)})"


def ratios(num: list[float], den: list[float]) -> Spread:
    """Median and min-max of the per-round ratios num[r] / den[r]."""
    if len(num) != len(den):
        raise ValueError(f"paired ratios need as many rounds on both sides, got {len(num)} and {len(den)}")
    return Spread.of([a / b for a, b in zip(num, den, strict=True)])


def number(v: float, digits: int | None = None) -> str:
    """A number with about three significant figures: 0.0731, 2.31, 15.2, 1,666."""
    if digits is None:
        digits = 0 if abs(v) >= 100 else 1 if abs(v) >= 10 else 2 if abs(v) >= 0.1 else 4
    return f"{v:,.{digits}f}"


def seconds(s: float) -> str:
    """A duration in the unit that reads best: 73.1 µs, 12.7 ms, 1.61 s."""
    if s < 1e-3:
        return f"{s * 1e6:.1f} µs"
    if s < 1:
        return f"{s * 1e3:.3g} ms" if s < 0.1 else f"{s * 1e3:.1f} ms"
    return f"{s:.2f} s"


def same_number(a: float, b: float, rel: float = 1e-9) -> bool:
    """|a - b| <= rel·max(|a|, |b|): what 'equal losses' means across libraries in float64."""
    return abs(a - b) <= rel * max(abs(a), abs(b), 1e-300)


def check_same(values: dict[str, float], what: str, rel: float = 1e-9) -> float:
    """Every contender computed the same number (to ``rel``), or a clear error naming who differs."""
    ref_name, ref = next(iter(values.items()))
    for name, v in values.items():
        if not same_number(v, ref, rel):
            raise SystemExit(f"{what}: {name} gives {v!r} but {ref_name} gives {ref!r}; the contenders do not "
                             "run the same computation, so their times cannot be compared. Fix the benchmark.")
    return ref


@contextmanager
def deep_recursion(frames: int, stack_bytes: int = 512 * 2**20) -> Iterator[Callable[[Callable[[], Any]], Any]]:
    """``run(fn)`` calls ``fn`` in a thread with a big stack and a recursion limit of at least ``frames``.

    micrograd's topological sort recurses once per node of a chain; this lets it finish.
    """
    old_limit, old_stack = sys.getrecursionlimit(), threading.stack_size()
    sys.setrecursionlimit(max(old_limit, frames + 1_000))
    threading.stack_size(stack_bytes)

    def run(fn: Callable[[], Any]) -> Any:
        box: dict[str, Any] = {}

        def target() -> None:
            try:
                box["result"] = fn()
            except BaseException as e:  # handed back to the caller's thread
                box["error"] = e

        t = threading.Thread(target=target)
        t.start()
        t.join()
        if "error" in box:
            raise box["error"]
        return box["result"]

    try:
        yield run
    finally:
        threading.stack_size(old_stack)
        sys.setrecursionlimit(old_limit)


# ------------------------------------------------------------------ models shared by the baselines


def weight_matrices(model: Any) -> list[tuple[Any, Any]]:
    """(W of shape (n_in, n_out), b of shape (n_out,)) per layer of an nn.MLP, as numpy arrays."""
    import numpy as np

    out = []
    for layer in model.layers:
        W = np.array([[w.data for w in n.w] for n in layer.neurons]).T
        b = np.array([n.b.data if n.b is not None else 0.0 for n in layer.neurons])
        out.append((W, b))
    return out


# ------------------------------------------------------------------ what the machine is


def version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def machine() -> str:
    """One line: CPU, cores, pinning, load, and the version of every library a contender uses."""
    cpu = platform.processor() or platform.machine()
    try:
        found = re.search(r"model name\s*:\s*(.+)", Path("/proc/cpuinfo").read_text())
        cpu = found.group(1).strip() if found else cpu
    except OSError:
        pass
    load = " / ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    libs = ", ".join(f"{p} {version(p)}" for p in
                     ("microgradx", "micrograd", "numpy", "torch", "jax", "optax", "scikit-learn"))
    return (f"{cpu}, {os.cpu_count()} cores, {PINNED}; load average {load}; Python {platform.python_version()}; "
            f"{libs}; OPENBLAS_NUM_THREADS={os.environ['OPENBLAS_NUM_THREADS']}, "
            f"XLA_FLAGS={os.environ['XLA_FLAGS']}")


# ------------------------------------------------------------------ command line and results


def arguments(doc: str, rounds: int, quick_rounds: int) -> argparse.Namespace:
    """--quick, --rounds, --out: the options every benchmark script takes."""
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--quick", action="store_true",
                    help="a smoke run: smaller problems, fewer rounds; writes into a temporary folder")
    ap.add_argument("--rounds", type=int, default=None,
                    help=f"paired rounds (default {rounds}, --quick {quick_rounds})")
    ap.add_argument("--out", type=Path, default=None,
                    help="where the tables, results and plots go (default: this folder; --quick: a temporary one)")
    args = ap.parse_args()
    if args.rounds is None:
        args.rounds = quick_rounds if args.quick else rounds
    if args.rounds < 1:
        ap.error(f"--rounds must be at least 1, got {args.rounds}")
    if args.out is None:
        args.out = Path(tempfile.mkdtemp(prefix="microgradx-bench-")) if args.quick else HERE
    args.out.mkdir(parents=True, exist_ok=True)
    return args


@dataclass
class Goal:
    """One row of the goal table: a measured spread against a goal, where 'better' is higher or lower."""

    workload: str
    measured: Spread
    goal: float
    better: str  # "higher" (a speed-up that must reach the goal) or "lower" (a cost that must stay under it)
    unit: str = "x"

    def met(self) -> bool:
        return self.measured.median >= self.goal if self.better == "higher" else self.measured.median <= self.goal

    def text(self) -> str:
        sign = ">=" if self.better == "higher" else "<="
        verdict = "met" if self.met() else "not yet"
        return f"{self.measured.text(self.unit)}; goal {sign} {self.goal:g}{self.unit}: {verdict}"


def markdown_table(head: list[str], rows: list[list[str]], align: str = "") -> list[str]:
    """A markdown table; ``align`` gives one 'l' or 'r' per column (default: first left, rest right)."""
    align = align or "l" + "r" * (len(head) - 1)
    rule = ["---" if a == "l" else "---:" for a in align]
    return [f"| {' | '.join(r)} |" for r in [head, rule, *rows]]


def publish(args: argparse.Namespace, name: str, lines: list[str], goals: list[Goal],
            figure: Callable[[], Any] | None = None) -> None:
    """Print the markdown; write it into README.md's block for ``name``, the results and the plots.

    Files go to ``args.out``: ``README.md`` (the block between ``<!-- begin NAME -->`` and
    ``<!-- end NAME -->`` replaced, or appended), ``results/NAME.json``, ``NAME.png`` when
    ``figure`` draws one, and ``goals.png`` redrawn from every results file there.
    """
    from microgradx.files import write_atomic

    tag = "provisional: a --quick smoke run" if args.quick else f"{args.rounds} paired rounds"
    block = [f"Measured {time.strftime('%Y-%m-%d')} ({tag}) on: {machine()}.", "", *lines]
    if goals:
        block += ["", "Goals (median of per-round ratios, min-max in brackets):", ""]
        block += [f"- {g.workload}: {g.text()}" for g in goals]
    text = "\n".join(block)
    print("\n" + text, flush=True)
    readme = args.out / "README.md"
    old = readme.read_text(encoding="utf-8") if readme.exists() else ""
    begin, end = f"<!-- begin {name} -->", f"<!-- end {name} -->"
    fresh = f"{begin}\n{text}\n{end}"
    if begin in old and end in old:
        new = old[:old.index(begin)] + fresh + old[old.index(end) + len(end):]
    else:
        new = (old.rstrip("\n") + "\n\n" if old else "") + fresh + "\n"
    write_atomic(readme, new, what="benchmark README")
    results = args.out / "results"
    results.mkdir(exist_ok=True)
    record = {"name": name, "quick": args.quick, "rounds": args.rounds, "machine": machine(),
              "goals": [asdict(g) for g in goals]}
    write_atomic(results / f"{name}.json", json.dumps(record, indent=1, ensure_ascii=False) + "\n",
                 what="benchmark results")
    if figure is not None:
        save_png(figure(), args.out / f"{name}.png")
    save_png(goals_figure(results), args.out / "goals.png")
    print(f"\nwrote {readme}, {results / (name + '.json')}"
          + (f", {args.out / (name + '.png')}" if figure else "") + f", {args.out / 'goals.png'}")


# ------------------------------------------------------------------ plots


def pyplot() -> Any:
    """matplotlib's pyplot on the Agg back end (files only, no window)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def save_png(fig: Any, path: Path) -> None:
    """The figure as a PNG, written atomically (a reader never sees half a file)."""
    from microgradx.files import write_atomic

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight", metadata={"Software": None})
    pyplot().close(fig)
    write_atomic(path, buf.getvalue(), what="benchmark plot")


def goals_figure(results: Path) -> Any:
    """Every goal in every results file, as 'how far from the goal': measured / goal, 1 = the goal.

    A speed-up plots as measured / goal, a cost as goal / measured, so right of the line is met.
    """
    rows: list[tuple[str, float, float, float, str]] = []
    for path in sorted(results.glob("*.json")):
        record = json.loads(path.read_text(encoding="utf-8"))
        for g in record["goals"]:
            m, goal = g["measured"], g["goal"]
            lo, med, hi = ((m["lo"], m["median"], m["hi"]) if g["better"] == "higher"
                           else (m["hi"], m["median"], m["lo"]))
            score = [(v / goal) if g["better"] == "higher" else (goal / v) for v in (lo, med, hi)]
            sign = ">=" if g["better"] == "higher" else "<="
            label = f"{g['workload']}\n{number(m['median'])}{g['unit']} (goal {sign} {goal:g}{g['unit']})"
            rows.append((label, *score, "quick" if record["quick"] else ""))
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(8, 0.55 * len(rows) + 1.2))
    for i, (_, lo, med, hi, quick) in enumerate(rows):
        colour = "tab:green" if med >= 1 else "tab:red"
        ax.barh(i, med, color=colour, alpha=0.35 if quick else 0.8)
        ax.errorbar(med, i, xerr=[[med - lo], [hi - med]], color="black", capsize=3, lw=1)
    ax.axvline(1.0, color="black", ls="--", lw=1)
    ax.set_yticks(range(len(rows)), [r[0] for r in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("measured / goal (right of the dashed line: goal met); whiskers: min-max of per-round ratios")
    ax.set_title("microgradx speed goals")
    return fig
