"""Collapsed views on a slide (issue 23): every edge into a neuron comes in at a cell of its own, which names
where it comes from and holds the gradient flowing along it; a 16-16-1 net fits a slide with readable text.

The witness for each port's number is a finite difference of that one neuron, called again on its own.
"""

from __future__ import annotations

import re
import shutil
import xml.etree.ElementTree as ET

import pytest

from microgradx import MLP, draw_dot
from microgradx.draw.style import SLIDE, fit_scale

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")
SVG = "{http://www.w3.org/2000/svg}"
Box = tuple[float, float, float, float]


def scored(sizes: list[int], x: list[float], seed: int = 0):
    model = MLP(len(x), sizes, seed=seed)
    score = model(x)
    score.label = "score"
    score.backward()
    return model, score


def numbers(points: str) -> list[tuple[float, float]]:
    values = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?(?:e-?\d+)?", points)]
    return list(zip(values[::2], values[1::2]))


def cells(svg: ET.Element) -> list[tuple[Box, list[str]]]:
    """Every table cell of the drawing (its rectangle) and the texts inside it, in drawing order (a cell is drawn
    as two polygons, its fill and its border: each rectangle is listed once)."""
    out: dict[Box, list[str]] = {}
    for g in svg.iter(f"{SVG}g"):
        if g.get("class") != "node":
            continue
        shapes = [numbers(p.get("points")) for p in g.iter(f"{SVG}polygon")]
        texts = [(float(t.get("x")), float(t.get("y")), t.text or "") for t in g.iter(f"{SVG}text")]
        for pts in shapes:
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            box = (min(xs), max(xs), min(ys), max(ys))
            inside = [s for x, y, s in texts if box[0] <= x <= box[1] and box[2] <= y <= box[3]]
            if inside and box[1] - box[0] < 400:  # a cell, not the whole table's outline
                out[box] = inside
    return list(out.items())


def edges_into_rows(svg: ET.Element) -> list[tuple[float, float]]:
    """Where each drawn edge into a table meets it (the path's last point), bundles left out."""
    out = []
    for g in svg.iter(f"{SVG}g"):
        if g.get("class") == "edge":
            head = g.find(f"{SVG}title").text.split("->")[1]
            label = " ".join(t.text or "" for t in g.iter(f"{SVG}text"))
            if head.startswith("t") and "connections" not in label:
                out.append(numbers(g.find(f"{SVG}path").get("d"))[-1])
    return out


def on_border(point: tuple[float, float], box: Box, tolerance: float = 2.5) -> bool:
    x, y = point
    inside = box[0] - tolerance <= x <= box[1] + tolerance and box[2] - tolerance <= y <= box[3] + tolerance
    near_side = min(abs(x - box[0]), abs(x - box[1]), abs(y - box[2]), abs(y - box[3])) <= tolerance
    return inside and near_side


def port_cells(svg: ET.Element) -> list[tuple[Box, str, float]]:
    """Port cells (``source number``: a muted name, then the gradient): rectangle, name, number."""
    return [(box, texts[0].strip(), float(texts[1])) for box, texts in cells(svg)
            if len(texts) == 2 and re.fullmatch(r"(x\d+|L\d+\.n\d+)", texts[0].strip())]


def neuron_slope(neuron, inputs: list[float], j: int, h: float = 1e-6) -> float:
    """∂neuron/∂input_j by a central difference: the neuron called again on its own."""
    up, down = list(inputs), list(inputs)
    up[j] += h
    down[j] -= h
    return (neuron(up).data - neuron(down).data) / (2 * h)


def expected_ports(model, x: list[float]) -> list[tuple[str, int, float]]:
    """(source name, neuron, gradient along the edge) for every edge into the first and the last layer."""
    first = model.layers[0]
    hidden = [x]
    for layer in model.layers:
        out = layer(hidden[-1])
        hidden.append([v.data for v in (out if isinstance(out, list) else [out])])
    final = model.layers[-1].neurons[0]
    out = []
    for i, neuron in enumerate(first.neurons):
        upstream = _grad_of_neuron_output(model, x, 0, i)
        out += [(f"x{j}", i, upstream * neuron_slope(neuron, x, j)) for j in range(len(x))]
    last = len(model.layers) - 1
    out += [(f"L{last - 1}.n{j}", 0, neuron_slope(final, hidden[last], j)) for j in range(len(hidden[last]))]
    return out


def _grad_of_neuron_output(model, x: list[float], layer: int, i: int, h: float = 1e-6) -> float:
    """∂score/∂(layer's neuron i's output) by a central difference on the rest of the network."""
    acts = list(x)
    for layer_module in model.layers[:layer + 1]:
        out = layer_module(acts)
        acts = [v.data for v in (out if isinstance(out, list) else [out])]

    def rest(a: list[float]) -> float:
        for layer_module in model.layers[layer + 1:]:
            o = layer_module(a)
            a = [v.data for v in (o if isinstance(o, list) else [o])]
        return a[0]

    up, down = list(acts), list(acts)
    up[i] += h
    down[i] -= h
    return (rest(up) - rest(down)) / (2 * h)


@needs_dot
@pytest.mark.parametrize("sizes, x, rankdir", [([4, 1], [1.0, 0.0], "auto"), ([5, 1], [0.5, -1.0], "TB"),
                                               ([16, 16, 1], [0.5, -1.0], "auto"), ([3, 1], [0.5, 2.0], "LR")])
def test_every_edge_into_a_neuron_comes_in_at_its_own_cell_holding_its_gradient(sizes, x, rankdir):
    model, score = scored(sizes, x)
    svg = ET.fromstring(draw_dot(score, view="backward", collapse="neuron", rankdir=rankdir).pipe(format="svg"))
    ports = port_cells(svg)
    expected = expected_ports(model, x)
    assert len(ports) == len(expected)
    for source, neuron, share in expected:
        assert any(name == source and shown == pytest.approx(share, rel=2e-3, abs=2e-4)
                   for _, name, shown in ports), (source, neuron, share)
    # each edge meets exactly one port cell, at its border, and each port cell is met by exactly one edge
    touched = []
    for end in edges_into_rows(svg):
        touching = [k for k, (box, _, _) in enumerate(ports) if on_border(end, box)]
        assert len(touching) == 1, end
        touched += touching
    assert sorted(touched) == list(range(len(ports)))


def test_the_forward_view_names_each_edges_source_in_its_cell():
    _, score = scored([2, 1], [1.0, -1.0])
    src = draw_dot(score, collapse="neuron", rankdir="LR").source
    ports = re.findall(r'port="(r\d+i\d+)"><font color="[^"]+">([^<]+)</font></td>', src)  # the name alone
    assert ports == [("r0i0", "x0"), ("r0i1", "x1"), ("r1i0", "x0"), ("r1i1", "x1"),  # L0's two neurons
                     ("r0i0", "L0.n0"), ("r0i1", "L0.n1")]                          # L1's one


@needs_dot
def test_a_16_16_1_net_fits_a_slide_with_text_of_8_pt_or_more():
    _, score = scored([16, 16, 1], [0.5, -1.0])
    for view in ("forward", "backward"):
        svg = ET.fromstring(draw_dot(score, view=view, collapse="neuron").pipe(format="svg"))
        size = tuple(float(svg.get(k).removesuffix("pt")) for k in ("width", "height"))
        smallest = min(float(t.get("font-size")) for t in svg.iter(f"{SVG}text"))
        assert smallest * fit_scale(size, SLIDE) >= 8.0, (view, size)
