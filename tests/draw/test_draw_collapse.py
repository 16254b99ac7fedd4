"""Collapsed views of nn models: right numbers, index order, labelled edges, batches; bounded gradient cells."""

from __future__ import annotations

import math
import re
import shutil
import xml.etree.ElementTree as ET

import pytest

from microgradx.draw.cells import sum_text
from microgradx.draw.dot import draw_dot
from microgradx.graph import topological_order
from microgradx.nn import MLP

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")
SVG = "{http://www.w3.org/2000/svg}"


def mlp_loss(sizes: list[int], xs: list[list[float]], activation: str = "tanh", seed: int = 0):
    """Σ (model(x) - 1)² over the samples, after backward(); returns (loss, model, outputs per sample)."""
    model = MLP(len(xs[0]), sizes, activation=activation, seed=seed)
    total, outs = None, []
    for x in xs:
        out = model(x)
        outs.append(out)
        term = (out - 1.0) ** 2
        total = term if total is None else total + term
    total.label = "loss"
    total.backward()
    return total, model, outs


def texts_in_order(svg: bytes, prefix: str, node: str | None = None) -> list[tuple[str, float, float]]:
    """(text, x, y) of every SVG text starting with ``prefix`` (only inside the drawn node ``node``, if given)."""
    root = ET.fromstring(svg)
    scope = root
    if node is not None:
        scope = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "node"
                     and g.find(f"{SVG}title").text == node)
    return [(t.text, float(t.get("x")), float(t.get("y"))) for t in scope.iter(f"{SVG}text")
            if (t.text or "").startswith(prefix)]


def layer_outputs(model, x):
    """Each layer's neuron outputs for input x, computed again (the witness for the drawing's numbers)."""
    outs, h = [], x
    for layer in model.layers:
        h = layer(h)
        h = h if isinstance(h, list) else [h]
        outs.append([v.data for v in h])
    return outs


# ---------------------------------------------------------------- layer boxes


def test_a_layer_box_shows_every_neurons_numbers_not_the_last_ones():
    loss, model, _ = mlp_loss([4, 1], [[0.5, -1.0]])
    src = draw_dot(loss, view="backward", collapse="layer").source
    hidden = layer_outputs(model, [0.5, -1.0])[0]
    box = next(line for line in src.splitlines() if "<b>L0</b>" in line)  # model.layers[0], as a slide writes it
    shown = re.search(r"out \[([^\]]+)\]", box).group(1).split(", ")
    assert [float(v) for v in shown] == pytest.approx(hidden, rel=1e-3)
    grads = re.search(r"grad \[([^\]]+)\]", box).group(1).split(", ")
    # the gradient of each hidden output: what flows into it from the output neuron
    outputs = [n for n in _nodes(loss) if getattr(n, "_scope", None) is not None and n._prev
               and n._scope.parent.name == "layers.0"]
    expected = [n.grad for n in sorted(outputs, key=lambda n: n._scope.index)]
    assert [float(g) for g in grads] == pytest.approx(expected, rel=1e-3)


def test_a_wide_layer_box_gives_a_range_instead_of_sixteen_numbers():
    loss, model, _ = mlp_loss([16, 1], [[0.5, -1.0]])
    src = draw_dot(loss, collapse="layer").source
    hidden = layer_outputs(model, [0.5, -1.0])[0]
    m = re.search(r"out 16 values in \[(\S+), (\S+)\]", src)
    assert (float(m.group(1)), float(m.group(2))) == pytest.approx((min(hidden), max(hidden)), rel=1e-3)


# ---------------------------------------------------------------- neuron rows


@needs_dot
@pytest.mark.parametrize("rankdir, axis", [("LR", 2), ("TB", 1)])
def test_neurons_and_inputs_are_drawn_in_index_order(rankdir, axis):
    loss, _, _ = mlp_loss([12, 1], [[0.5, -1.0, 2.0]])
    svg = draw_dot(loss, collapse="neuron", rankdir=rankdir).pipe(format="svg")
    rows = [r for r in texts_in_order(svg, "n", node="t0") if re.fullmatch(r"n\d+", r[0])]  # the first table's
    assert [t for t, *_ in rows] == [f"n{j}" for j in range(12)]  # rows, L0.n0 ..., written in index order ...
    along = [pos[axis - 1] for _, *pos in rows]
    assert along == sorted(along) and len(set(along)) == 12  # ... and drawn in it, down (LR) or across (TB)
    boxes = [g.find(f"{SVG}title").text for g in ET.fromstring(svg).iter(f"{SVG}g") if g.get("class") == "node"]
    inputs = [r for name in boxes if not name.startswith("t") for r in texts_in_order(svg, "x", node=name)
              if re.fullmatch(r"x\d", r[0])]  # the input boxes (not the tables' port cells): nn's x.0, short
    assert [t for t, *_ in sorted(inputs, key=lambda r: r[axis])] == ["x0", "x1", "x2"]


def _boxes(root: ET.Element) -> dict[str, tuple[float, float, float, float]]:
    """Each drawn node's bounding box (x0, x1, y0, y1) from its polygons and ellipses."""
    boxes = {}
    for g in root.iter(f"{SVG}g"):
        if g.get("class") == "node":
            xs, ys = [], []
            for poly in g.iter(f"{SVG}polygon"):
                for pt in poly.get("points").split():
                    x, y = map(float, pt.split(","))
                    xs.append(x)
                    ys.append(y)
            for e in g.iter(f"{SVG}ellipse"):
                cx, cy, rx, ry = (float(e.get(k)) for k in ("cx", "cy", "rx", "ry"))
                xs += [cx - rx, cx + rx]
                ys += [cy - ry, cy + ry]
            boxes[g.find(f"{SVG}title").text] = (min(xs), max(xs), min(ys), max(ys))
    return boxes


@needs_dot
@pytest.mark.parametrize("collapse, rankdir", [(None, "LR"), (None, "TB"), ("neuron", "LR"), ("neuron", "TB")])
def test_arrowheads_touch_the_boxes_they_point_at(collapse, rankdir):
    """In the backward view each arrowhead sits at its edge's tail: it must touch that box (it stopped short)."""
    loss, _, _ = mlp_loss([2, 1], [[1.0, 0.0]])
    root = ET.fromstring(draw_dot(loss, view="backward", collapse=collapse, rankdir=rankdir).pipe(format="svg"))
    boxes = _boxes(root)
    checked = 0
    for g in root.iter(f"{SVG}g"):
        head = next(g.iter(f"{SVG}polygon"), None)
        if g.get("class") != "edge" or head is None:  # (invisible edges keep a column in order)
            continue
        x0, x1, y0, y1 = boxes[g.find(f"{SVG}title").text.split("->")[0].split(":")[0]]
        tip = [tuple(map(float, p.split(","))) for p in head.get("points").split()]
        gap = min(math.hypot(max(x0 - x, 0, x - x1), max(y0 - y, 0, y - y1)) for x, y in tip)
        assert gap < 1.5, f"an arrowhead stops {gap:.1f} pt short of its box"
        checked += 1
    assert checked > 5


def test_collapsed_backward_edges_carry_the_gradient_flowing_along_them():
    loss, model, _ = mlp_loss([3, 1], [[0.5, -1.0]])
    src = draw_dot(loss, view="backward", collapse="neuron", rankdir="LR").source
    out_neuron = model.layers[1].neurons[0]
    hidden = [n for n in _nodes(loss) if getattr(n, "_scope", None) is not None and n._prev
              and n._scope.parent.name == "layers.0"]
    for h in hidden:
        j = h._scope.index
        share = h.grad  # all of a hidden output's gradient comes from the output neuron: upstream × w_j
        assert share == pytest.approx(_output_grad(loss, model) * out_neuron.w[j].data)
        # the edge comes in at a cell of its own on the output neuron's row, which names it and holds the share
        port = re.search(rf"^\tt0:r{j}x:e -> t1:(r0i\d+):w ", src, flags=re.M).group(1)
        assert re.search(rf'port="{port}"><font[^>]*>L0.n{j} </font><font[^>]*><b>{re.escape(_fmt(share))}</b>',
                         src), j


def test_dense_layers_are_joined_by_one_edge_not_a_band():
    loss, _, _ = mlp_loss([16, 16, 1], [[0.5, -1.0]])
    src = draw_dot(loss, view="backward", collapse="neuron").source
    between = re.findall(r"^\tt0(?::\S+)? -> t1(?::\S+)? \[(.*)\]$", src, flags=re.M)
    assert len(between) == 1 and "256 connections" in between[0]
    ports = re.findall(r"^\tt1:r\d+x:\w -> t2:(r0i\d+):\w", src, flags=re.M)  # 16 edges: drawn each, at a cell
    assert sorted(ports) == sorted(f"r0i{i}" for i in range(16))                  # of its own


def test_a_batch_loss_draws_shared_parameters_once_and_each_sample_apart():
    xs = [[0.5, -1.0], [1.0, 0.3], [-0.2, 0.8]]
    loss, model, _ = mlp_loss([2, 1], xs)
    src = draw_dot(loss, view="backward", collapse="neuron").source
    for k in range(3):
        assert f"L0 · sample {k}" in src and f"L1 · sample {k}" in src
    assert src.count(">L0 parameters<") == 1 and src.count(">L1 parameters<") == 1
    params = re.search(r"L0 parameters<br/>each (\d+) params", src)  # the same for each neuron: said once
    assert params.group(1) == "3"
    # the shared parameters' gradient is the sum over the samples, as backward() left it
    w = model.layers[0].neurons[0].w[0]
    assert f"{_fmt(w.grad)}, " in src or f"[{_fmt(w.grad)}" in src
    # a sample's neuron says what it stands for: its own ops, no parameters counted again
    assert "5 nodes</font>" in src and not re.search(r"(?<![\w.])0 params", src)
    assert "L0.n0 params" in src  # the shared parameters' edges come in at cells that say so
    layer = draw_dot(loss, collapse="layer").source
    assert layer.count("<b>L0</b>") == 1  # the parameters, once
    assert layer.count("<b>L0 · sample") == 3


# ---------------------------------------------------------------- bounded gradient cells


def test_a_sum_of_many_terms_lists_the_nonzero_ones_and_counts():
    parts = [0.5, 0.0, -333.25, 0.0, 0.0, 1.25, 0.0, -0.5, 0.0, 0.0, 0.0]
    assert sum_text(parts, math.fsum(parts)) == "0.5 − 333.2 + 1.25 − 0.5 = −332.0 (4 of 11 paths nonzero)"
    assert sum_text([1.0, -2.0], -1.0) == "1.0 − 2.0 = −1.0"
    many = [0.1 * (i + 1) for i in range(6)] + [0.0] * 3
    assert sum_text(many, math.fsum(many)).endswith("+ … = 2.1 (6 of 9 paths nonzero)")
    assert sum_text([1.0] * 5, 5.0) == "1.0 + 1.0 + 1.0 + 1.0 + … = 5.0 (5 paths)"


def test_an_input_of_a_wide_relu_layer_has_a_bounded_gradient_cell():
    loss, _, _ = mlp_loss([16, 1], [[0.5, -1.0]], activation="relu", seed=3)
    src = draw_dot(loss, view="backward").source
    cell = re.search(r"<b>(grad [^<]*paths[^<]*)</b>", src).group(1)
    assert "+ -" not in src and "+ 0.0" not in cell
    assert re.search(r"\((\d+) of (\d+) paths nonzero\)", cell)
    assert len(cell) < 120


def _fmt(x: float) -> str:
    from microgradx.draw.flow import fmt

    return fmt(x)


def _output_grad(loss, model) -> float:
    out = next(n for n in _nodes(loss) if getattr(n, "_scope", None) is model.layers[1].neurons[0].scope
               and n._prev)
    return out.grad


def _nodes(root):
    return topological_order(root)
