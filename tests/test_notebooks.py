"""The teaching notebooks run top to bottom in a fresh kernel, and are committed with their outputs."""

from __future__ import annotations

from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("[0-9][0-9]_*.ipynb"))
MAX_BYTES = 1_500_000  # committed with outputs, but no megabytes of base64


def test_the_course_has_its_notebooks():
    names = [p.stem for p in NOTEBOOKS]
    assert names == [
        "01_values_and_the_chain_rule", "02_backward_pass", "03_a_neuron", "04_xor_mlp",
        "05_moons_and_optimizers", "06_tracing_and_speed", "07_higher_order", "08_digits",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_committed_notebook_has_fresh_outputs_and_is_small(path):
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(path, as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert code, "a notebook without code"
    counts = [c.execution_count for c in code]
    assert None not in counts, "some cells were never run: re-run the notebook top to bottom and save it"
    assert counts == list(range(1, len(code) + 1)), "cells ran out of order: restart the kernel and run all"
    assert sum(len(c.outputs) for c in code) >= len(code) // 2, "outputs are missing"
    for c in code:
        for out in c.outputs:
            assert out.get("output_type") != "error", f"a committed cell failed: {c.source[:60]!r}"
    assert path.stat().st_size < MAX_BYTES


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom_in_a_fresh_kernel(path, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error
