"""The teaching notebooks run top to bottom in a fresh kernel, and are committed with their outputs.

Each notebook's claims are checked here, not in the notebook: after the last cell has run, the
notebook's ``CHECKS`` run in the same kernel and see its variables. A student reads the lesson;
the test reads the asserts.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # runs every notebook in a fresh kernel: minutes (make test-fast skips it)

NOTEBOOK_DIR = Path(__file__).resolve().parents[2] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
MAX_BYTES = 1_500_000  # committed with outputs, but no megabytes of base64

# What each notebook shows, checked on its own variables once it has run.
CHECKS = {
    "01_values_and_the_chain_rule": """
assert (a.grad, b.grad, c.grad, f.grad) == (6.0, -4.0, -2.0, 4.0)
assert report.ok
assert abs(numeric - (-3.0)) < 1e-6
""",
    "02_backward_pass": """
assert a.grad == b.data * d.data + c.data   # d(out)/da = b·d + c·1 = -16.5
x2 = Value(3.0); y2 = x2 + x2; z2 = y2 * y2; z2.backward()
assert x2.grad == 24.0 and naive != 24.0
assert (first, w.grad) == (4.0, 4.0)
assert len(frames) >= 3
""",
    "03_a_neuron": """
assert abs(o.data - 0.7071) < 1e-4
assert abs(w1.grad - 1.0) < 1e-6 and w2.grad == 0.0 and abs(b.grad - 0.5) < 1e-6
assert [round(p.grad, 6) for p in neuron.parameters()] == [round(w1.grad, 6), 0.0, round(b.grad, 6)]
assert report.ok
""",
    "04_xor_mlp": """
assert accuracy(model, X, y) == 1.0 and history.loss[-1] < 1e-3          # the MLP learns XOR
assert max(r["accuracy"] for r in runs) <= 0.75                          # one neuron never does
assert accuracy(one_layer, X, y) < 1.0 and line_acc.max() == 0.75        # no line gets all four
assert and_mistakes[-5:] == [0] * 5 and min(xor_mistakes) > 0            # the perceptron rule
assert np.array_equal(predict(loaded, X), predict(model, X))             # the file holds the model
assert loaded.state_dict() == model.state_dict()
assert [n.grad for n in hidden_nodes] == [w.data for w in out.w]         # d score / d h_i = w_i
assert (hidden[:, 0][[1, 2, 3]] > 0).all() and hidden[0, 0] < 0          # h1 ≈ OR
""",
    "05_moons_and_optimizers": """
assert accuracy(model, X, y) == 1.0                                       # micrograd's demo: 100%
assert max(abs(a - b) for a, b in zip(eager.loss, compiled.loss)) < 1e-12 and param_diff < 1e-12
assert all(h.loss[-1] < runs["SGD (lr 0.1)"].loss[-1] for name, h in runs.items() if name != "SGD (lr 0.1)")
assert set(nonzero) <= {"layers.2.neurons.0.b"} and all(abs(g) < 1e-15 for g in nonzero.values())
assert accuracy(zero_model, X, y) < 1.0                                   # zero init: nothing learns
assert len(np.unique(zero1, axis=0)) == 1 and len(np.unique(zero2, axis=0)) == 1
assert len(np.unique(hidden1, axis=0)) == 1 and len(np.unique(hidden2, axis=0)) == 1
assert accuracy(same_model, X, y) < 1.0 and len(np.unique(random_hidden1, axis=0)) == 16
assert ratio > 100                                                        # vanishing gradients
assert probs.max() - probs.min() < 0.05
assert deep["sigmoid"]["history"].loss[-1] > 0.6 and deep["relu"]["history"].accuracy[-1] == 1.0
""",
    "06_tracing_and_speed": """
assert abs(loss_comp - loss_eager) <= 1e-9 * abs(loss_eager)
assert np.max(np.abs(grads_comp - grads_eager)) <= 1e-9 * np.max(np.abs(grads_eager))
assert np.allclose(batched, one_by_one, rtol=1e-12, atol=0)
assert not traced_the_if
assert trace.n_ops == 27 and f_small.program(np.zeros((1, 2))).n_groups == 3
assert w_diff < 1e-9
assert history.accuracy[-1] >= 0.90 and mx.train.accuracy(model, X, y) >= 0.90
assert test_acc >= 0.85
""",
    "07_higher_order": """
assert abs(x.grad - (-2 * t * (1 - t * t))) < 1e-12
assert derivatives == (-4.0, 12.0, 30.0)
assert abs(df(x_n)) < 1e-10 and abs(df(x_gd)) > 1e-3                     # Newton is there, descent is not
assert abs(df(newton[-3])) < 1e-6 < abs(df(newton[-5]))                  # the last steps square the error
""",
    "08_digits": """
assert test_acc >= 0.95
assert confusion.sum() == len(y_test) and np.trace(confusion) == np.sum(predicted == y_test)
assert abs(np.trace(confusion) / len(y_test) - test_acc) < 1e-12
assert len(wrong) == len(y_test) - np.trace(confusion)
assert np.allclose(probs.sum(axis=1), 1.0)
assert history.loss[-1] < history.loss[0]
assert program.trace.n_ops > 4000 and program.n_groups < 20
""",
    "09_backprop_in_matrix_form": """
assert abs(node("layers.0.neurons.1").grad - (-0.2408 - 0.5767)) < 1e-4   # the sum of two edges, as the prose says
model.zero_grad()
again = (model(x) - t) ** 2
again.backward()
single = matrix_backprop(matrices(model), np.array(x)[:, None], np.array([[t]]))
for (gW, gb), (sW, sb) in zip(single, scalar_grads(model)):
    assert np.abs(gW - sW).max() < 1e-12 and np.abs(gb - sb).max() < 1e-12   # δ aᵀ = backward(), one sample
assert batch_diff < 1e-12 and len(by_graph) == 20                          # and a batch of 50
assert "dot" in per_sample.program(X, y).schedule()
""",
    "10_losses": """
assert np.abs(np.array([v.grad for v in scores]) - (p - one_hot)).max() < 1e-12   # softmax CE: p - one-hot
at_minus_6 = {name: c[0, 1] for name, c in curves.items()}
assert at_minus_6["cross-entropy (bce_with_logits)"] < -0.99 and abs(at_minus_6["squared error on σ(z)"]) < 0.02
mse_run, ce_run = stall["squared error on σ(z)"], stall["cross-entropy"]
assert ce_run.grad_norms[0]["model"] > 20 * mse_run.grad_norms[0]["model"]
assert ce_run.accuracy[19] > 0.9 and mse_run.accuracy[19] < 0.1          # the stall
for z in (-3.0, 0.5, 4.0):                                                 # BCE is 2-class cross-entropy
    assert abs(softmax_cross_entropy([[0.0, z]], [1]).data - bce_with_logits([z], [1.0]).data) < 1e-12
assert wave_history.loss[-1] < 0.05
""",
    "11_initialisation": """
relu_u, relu_x, relu_h = (spread["relu", k] for k in ("uniform", "xavier", "he"))
assert relu_u[-1] > 500 * relu_u[0] and max(gradient["relu", "uniform"]) > 1e6       # explodes
assert relu_x[-1] < relu_x[0] / 10                                                  # fades
assert 0.3 < relu_h[-1] / relu_h[0] < 3                                             # steady
assert min(spread["tanh", "uniform"]) > 0.8                                         # saturated tanh
assert "uniform" not in runs and runs["he"].accuracy[-1] > 0.9                     # diverged / learned
assert runs["xavier"].loss[49] > 0.6 > runs["he"].loss[49]                          # xavier's plateau
""",
    "12_dead_relu": """
assert sum(v.data == 0.0 for v in model.layers[0]([0.5, -1.0])) == 2                # two neurons off
assert x0.grad != 0 and "upstream 0.0" in explain(x0, score)
relu_runs, leaky_runs = results["relu"], results["leaky_relu"]
assert any(r["accuracy"] <= 0.5 for r in relu_runs) and all(r["accuracy"] > 0.5 for r in leaky_runs)
assert np.mean([r["accuracy"] for r in leaky_runs]) > np.mean([r["accuracy"] for r in relu_runs])
assert (~table).all(axis=0).reshape(4, 4).all(axis=1).any()                        # a whole layer dead
""",
    "13_exploding_gradients": """
assert abs(chain_gradient(1.1, 60) - 1.1 ** 60) < 1e-9 * 1.1 ** 60
assert "diverged" in diverged                                                       # unclipped: fit stops
for name in ("U(−1, 1), clipped at 1", "U(−1, 1), clipped at 5"):
    h = runs[name]
    assert h.accuracy[-1] > 0.9 and np.sqrt(sum(v ** 2 for v in h.grad_norms[0].values())) > 1000
assert np.sqrt(sum(v ** 2 for v in runs["He init, no clipping"].grad_norms[0].values())) < 10
""",
    "14_batches_and_loss_surfaces": """
final = {k: c[0][-1] for k, c in curves.items()}
assert final[10] < final[None] / 3 and final[1] < final[None] / 3     # per sample processed, small batches win
assert abs(np.log(curves[10][0][1] / curves[None][0][20])) < 0.25     # per step, about the same
steps = {k: np.linalg.norm(np.diff(p, axis=0), axis=1) for k, p in batch_paths.items()}
assert steps["batch 1"].std() > 3 * steps[f"full batch ({n})"].std()  # SGD's noise
dist = {k: np.hypot(*(p[-1] - (ws[best], bs[best]))) for k, p in optimizer_paths.items()}
assert dist["momentum (lr 0.02, μ 0.9)"] < dist["SGD (lr 0.08)"] and dist["Adam (lr 0.2)"] < dist["SGD (lr 0.08)"]
""",
    "15_overfitting_and_regularisation": """
assert plain_history.loss[-1] < 0.05 and plain_history.val_loss[-1] > 2.5 * min(plain_history.val_loss)  # overfits
assert early_history.epochs < plain_history.epochs and best["epoch"] == int(np.argmin(early_history.val_loss)) + 1
assert abs(validation_loss(early) - min(early_history.val_loss)) < 1e-9    # early stopping went back to the best
assert l2_best["alpha"] not in (alphas[0], alphas[-1])                  # the sweet spot is inside the sweep
assert l2_best["val_loss"] < plain_history.val_loss[-1] / 2
assert dropout_history.val_loss[-1] < plain_history.val_loss[149]
assert validation_loss(more) < validation_loss(plain) / 3
""",
}


def test_the_course_has_its_notebooks():
    names = [p.stem for p in NOTEBOOKS]
    assert names == [
        "01_values_and_the_chain_rule", "02_backward_pass", "03_a_neuron", "04_xor_mlp",
        "05_moons_and_optimizers", "06_tracing_and_speed", "07_higher_order", "08_digits",
        "09_backprop_in_matrix_form", "10_losses", "11_initialisation", "12_dead_relu",
        "13_exploding_gradients", "14_batches_and_loss_surfaces", "15_overfitting_and_regularisation",
    ]


def test_every_notebook_has_its_checks_here():
    assert set(CHECKS) == {p.stem for p in NOTEBOOKS}


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
def test_every_committed_drawing_and_player_shows_untrusted_as_a_png_that_fits_the_output_area(path):
    # JupyterLab renders neither SVG nor HTML of an untrusted notebook (every notebook a student downloads):
    # a PNG beside them is what shows before anything runs. 800 px fits the output area at 1280 px wide.
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(path, as_version=4)
    pictures = 0
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            data = out.get("data", {})
            page = "".join(data.get("text/html", ""))
            if "<iframe" in page:  # the player: sanitized untrusted, its frame goes and its first frame stays
                first = re.search(r'<img src="data:image/png;base64,[^"]+" width="(\d+)"', page)
                assert first and int(first.group(1)) <= 800, f"a player without its first frame in {cell.source[:60]!r}"
                pictures += 1
            elif "image/svg+xml" in data:
                assert "image/png" in data, f"a drawing without a PNG in {cell.source[:60]!r}"
                width = out.get("metadata", {}).get("image/png", {}).get("width")
                assert width is not None and width <= 800, f"a PNG {width} px wide in {cell.source[:60]!r}"
                pictures += 1
    drawn = any("draw_dot" in c.source or "animate_backward" in c.source for c in nb.cells if c.cell_type == "code")
    assert pictures > 0 or not drawn


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_students_read_no_asserts(path):
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(path, as_version=4)
    asserts = [line for c in nb.cells if c.cell_type == "code"
               for line in c.source.splitlines() if line.lstrip().startswith("assert ")]
    assert not asserts, f"move these checks into CHECKS in {Path(__file__).name}: {asserts[:3]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom_in_a_fresh_kernel(path, tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_code_cell(CHECKS[path.stem]))
    before = sorted(NOTEBOOK_DIR.iterdir())
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()  # raises CellExecutionError, with the cell and traceback, on any error (checks included)
    left = sorted(p.name for p in tmp_path.iterdir())
    assert not left, f"running the notebook wrote {left} into its folder: write into a temporary folder instead"
    assert sorted(NOTEBOOK_DIR.iterdir()) == before, "running the notebook changed the notebooks folder"
