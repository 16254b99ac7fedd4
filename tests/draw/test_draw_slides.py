"""Drawings for slides and notebooks: layout that fits, font size, themes, Graphviz's attribute API, save()."""

from __future__ import annotations

import re
import shutil
import struct
import xml.etree.ElementTree as ET

import pytest

from microgradx.draw.dot import OUTPUT_WIDTH, PNG_SCALE, Graph, draw_dot, save
from microgradx.draw.style import SLIDE, fit_scale
from microgradx.engine import Value
from microgradx.examples import neuron
from tests.graphs import chain_rule_example

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")
SVG = "{http://www.w3.org/2000/svg}"


def rendered(g: Graph) -> ET.Element:
    return ET.fromstring(g.pipe(format="svg"))


def size_pt(svg: ET.Element) -> tuple[float, float]:
    return float(svg.get("width").removesuffix("pt")), float(svg.get("height").removesuffix("pt"))


def font_sizes(svg: ET.Element, where: str = "") -> list[float]:
    """Font sizes (pt) of the drawing's texts; ``where``: only in nodes or only in edges."""
    groups = [g for g in svg.iter(f"{SVG}g") if not where or g.get("class") == where]
    return [float(t.get("font-size")) for g in groups for t in g.iter(f"{SVG}text")]


def smallest_text_at_slide_size(svg: ET.Element) -> float:
    """The smallest text, in points, once the drawing is fitted to a 960 × 540 pt slide (never enlarged)."""
    return min(font_sizes(svg)) * fit_scale(size_pt(svg), SLIDE)


def balanced_sum(n: int) -> Value:
    """(x0 + x1) + (x2 + x3) + ...: many inputs side by side, few ops along the flow."""
    level = [Value(float(i), label=f"input_{i}") for i in range(n)]
    while len(level) > 1:
        level = [a + b for a, b in zip(level[::2], level[1::2])]
    level[0].label = "total"
    return level[0]


# ---------------------------------------------------------------- layout that fits a slide


@needs_dot
@pytest.mark.parametrize("view", ["forward", "backward"])
def test_a_neuron_fitted_to_a_slide_keeps_its_text_at_8_pt_or_more(view):
    svg = rendered(draw_dot(neuron(), view=view))
    assert smallest_text_at_slide_size(svg) >= 8.0
    left_to_right = rendered(draw_dot(neuron(), view=view, rankdir="LR"))
    assert smallest_text_at_slide_size(left_to_right) < smallest_text_at_slide_size(svg)


def test_the_layout_direction_follows_the_graphs_shape():
    # a chain of wide boxes would be far wider than tall left to right: it runs top to bottom
    assert "rankdir=TB" in draw_dot(neuron(), view="backward").source
    # sixteen inputs side by side would be far wider than tall: they are stacked, left to right
    assert "rankdir=LR" in draw_dot(balanced_sum(16)).source
    assert "rankdir=TB" in draw_dot(balanced_sum(16), rankdir="TB").source
    assert "rankdir=LR" in draw_dot(neuron(), rankdir="LR").source


def test_unknown_layout_options_are_clear_errors():
    *_, L = chain_rule_example()
    with pytest.raises(ValueError, match="rankdir must be one of auto, LR, TB, RL, BT"):
        draw_dot(L, rankdir="left")
    with pytest.raises(ValueError, match="theme must be one of 'light', 'dark', 'print'"):
        draw_dot(L, theme="neon")
    with pytest.raises(ValueError, match="fontsize must be a number of points"):
        draw_dot(L, fontsize=0)
    with pytest.raises(TypeError, match="draw a Value"):
        draw_dot(None)


# ---------------------------------------------------------------- font size, themes, the attribute API


@needs_dot
def test_fontsize_sets_every_text_of_the_drawing():
    *_, L = chain_rule_example()
    L.backward()
    assert set(font_sizes(rendered(draw_dot(L, view="backward", fontsize=16)), "node")) == {16.0}
    assert set(font_sizes(rendered(draw_dot(L, view="backward", fontsize=16)), "edge")) == {16.0}
    assert set(font_sizes(rendered(draw_dot(L, view="backward")), "node")) == {11.0}


@needs_dot
def test_graphvizs_attribute_api_restyles_the_drawing():
    *_, L = chain_rule_example()
    L.backward()
    g = draw_dot(L, view="backward")
    g.attr("node", fontsize="18")
    g.edge_attr.update(fontsize="7")
    g.graph_attr["bgcolor"] = "#123456"
    svg = rendered(g)
    assert set(font_sizes(svg, "node")) == {18.0}
    assert set(font_sizes(svg, "edge")) == {7.0}
    assert svg.find(f"{SVG}g/{SVG}polygon").get("fill") == "#123456"
    g.attr(rankdir="LR")  # a graph attribute given the graphviz way replaces the default
    assert "rankdir=LR" in g.source and "rankdir=TB" not in g.source


@needs_dot
@pytest.mark.parametrize("theme, background, text", [("light", "white", "#111827"), ("dark", "#111827", "#e5e7eb"),
                                                     ("print", "white", None)])
def test_themes_change_colours(theme, background, text):
    *_, L = chain_rule_example()
    L.backward()
    svg = rendered(draw_dot(L, view="backward", theme=theme))
    assert svg.find(f"{SVG}g/{SVG}polygon").get("fill") == background
    data_texts = {t.get("fill") for t in svg.iter(f"{SVG}text") if (t.text or "").startswith("data")}
    assert data_texts == {text}  # Graphviz writes no fill for black
    if theme == "print":  # black on white for handouts: no colour anywhere
        colours = set(re.findall(r'(?:fill|stroke)="([^"]+)"', ET.tostring(svg, encoding="unicode")))
        assert colours <= {"black", "white", "none", "transparent", "#404040", "#808080"}


# ---------------------------------------------------------------- notebooks and files


@needs_dot
def test_in_jupyter_the_drawing_shrinks_to_the_output_width():
    *_, L = chain_rule_example()
    svg = draw_dot(L)._repr_mimebundle_()[0]["image/svg+xml"]
    assert svg.lstrip().startswith("<?xml")
    root = svg[svg.index("<svg"):svg.index(">", svg.index("<svg"))]
    assert 'style="max-width: 100%; height: auto;"' in root and "viewBox=" in root


@needs_dot
def test_save_writes_by_suffix_and_leaves_no_stray_dot_file(tmp_path):
    *_, L = chain_rule_example()
    L.backward()
    g = draw_dot(L, view="backward")
    assert save(g, tmp_path / "a.pdf").read_bytes().startswith(b"%PDF")
    assert (tmp_path / g.save(str(tmp_path / "b.png"))).read_bytes().startswith(b"\x89PNG")  # the method too
    g.save(str(tmp_path / "c.gv"))  # a DOT name saves the source, as graphviz does
    assert (tmp_path / "c.gv").read_text(encoding="utf-8").startswith("digraph")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pdf", "b.png", "c.gv"]
    with pytest.raises(ValueError, match="cannot tell the format"):
        save(g, tmp_path / "d.docx")
    with pytest.raises(TypeError, match="pass draw_dot"):
        save(L, tmp_path / "e.svg")


@needs_dot
def test_render_still_works_the_graphviz_way(tmp_path):
    *_, L = chain_rule_example()
    out = draw_dot(L).render(tmp_path / "graph", format="svg")
    assert out.endswith("graph.svg")


def png_size(png: bytes) -> tuple[int, int]:
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    return struct.unpack(">II", png[16:24])


def svg_tag(svg: str) -> str:
    return svg[svg.index("<svg"):svg.index(">", svg.index("<svg"))]


@needs_dot
def test_a_notebook_stores_a_png_beside_the_svg_both_fitted_to_the_output_width():
    # JupyterLab shows an untrusted notebook's PNG, never its SVG: a picture before anything runs.
    data, metadata = draw_dot(neuron(), view="backward")._repr_mimebundle_()  # about 1120 px wide as drawn
    tag = svg_tag(data["image/svg+xml"])
    width, height = (float(re.search(rf' {k}="([0-9.]+)px"', tag).group(1)) for k in ("width", "height"))
    assert width == OUTPUT_WIDTH == metadata["image/png"]["width"] and "viewBox=" in tag
    box = [float(v) for v in re.search(r'viewBox="([^"]+)"', tag).group(1).split()]
    assert abs(height / width - box[3] / box[2]) < 0.01  # proportions kept
    png_w, png_h = png_size(data["image/png"])
    assert png_w >= PNG_SCALE * OUTPUT_WIDTH and abs(png_h / png_w - box[3] / box[2]) < 0.01  # crisp when shrunk


@needs_dot
def test_a_small_drawing_keeps_its_natural_size_in_a_notebook():
    a = Value(2.0, label="a")
    data, metadata = draw_dot(a * 3)._repr_mimebundle_()
    tag = svg_tag(data["image/svg+xml"])
    width = float(re.search(r' width="([0-9.]+)px"', tag).group(1))
    assert width < OUTPUT_WIDTH and metadata["image/png"]["width"] == round(width)


@needs_dot
def test_a_notebook_bundle_honours_include_and_exclude():
    g = draw_dot(neuron())
    assert set(g._repr_mimebundle_(include=["image/svg+xml"])[0]) == {"image/svg+xml"}
    assert set(g._repr_mimebundle_(exclude=["image/svg+xml"])[0]) == {"image/png"}
