"""Run every course notebook top to bottom in a fresh kernel and store its outputs (``make notebook-outputs``).

The committed notebooks carry their outputs, so a student who opens one sees the drawings
and plots before running anything (JupyterLab shows the PNG of an untrusted output).
Each notebook is written atomically, and only after all of its cells ran without an error.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbclient
import nbformat

from microgradx.files import write_atomic

HERE = Path(__file__).resolve().parent


def execute(path: Path) -> None:
    """Run ``path`` in a fresh kernel from its own folder and write it back with its outputs."""
    nb = nbformat.read(path, as_version=4)
    nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}}).execute()
    for cell in nb.cells:
        cell.get("metadata", {}).pop("execution", None)  # timestamps: they would change every run
    write_atomic(path, nbformat.writes(nb).encode() + b"\n")


def main(names: list[str]) -> int:
    paths = [HERE / n for n in names] if names else sorted(HERE.glob("[0-9][0-9]_*.ipynb"))
    for path in paths:
        print(f"running {path.name} ...", flush=True)
        execute(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
