"""Run every course notebook top to bottom in a fresh kernel and store its outputs (``make notebook-outputs``).

The committed notebooks carry their outputs, so a student who opens one sees the drawings
and plots before running anything (JupyterLab shows the PNG of an untrusted output).
Each notebook is written atomically, and only after all of its cells ran without an error.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import nbclient
import nbformat

from microgradx.files import write_atomic

HERE = Path(__file__).resolve().parent


# Run first, then dropped: progress bars as text, not widgets. A stored widget is only its first frame
# ("0%") when the notebook is opened again; stored text ends at the bar's last frame ("100%").
TEXT_BARS = "import tqdm.auto, tqdm.std\ntqdm.auto.tqdm = tqdm.std.tqdm"


def execute(path: Path) -> None:
    """Run ``path`` in a fresh kernel from its own folder and write it back with its outputs."""
    nb = nbformat.read(path, as_version=4)
    nb.cells.insert(0, nbformat.v4.new_code_cell(TEXT_BARS))
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    del nb.cells[0]
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)  # timestamps: they would change every run
        if cell.cell_type == "code":  # numbered from 1 again, as if the set-up cell had not run
            cell.execution_count -= 1
            for out in cell.outputs:
                if out.get("execution_count"):
                    out["execution_count"] -= 1
    write_atomic(path, nbformat.writes(nb).encode() + b"\n")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", metavar="NOTEBOOK",
                        help="notebook file names in this folder (default: every course notebook)")
    names = parser.parse_args(argv).names
    paths = [HERE / n for n in names] if names else sorted(HERE.glob("[0-9][0-9]_*.ipynb"))
    missing = [p.name for p in paths if not p.is_file()]
    if missing:
        parser.error(f"no notebook {', '.join(missing)} in {HERE}")
    for path in paths:
        started = time.perf_counter()
        execute(path)
        print(f"{path.name}: {time.perf_counter() - started:.1f} s, {path.stat().st_size / 1000:.0f} kB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
