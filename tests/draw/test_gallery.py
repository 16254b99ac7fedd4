"""The committed gallery in viz/ is exactly what the code draws now."""

from __future__ import annotations

import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from microgradx.cli.gallery import animations, entries
from microgradx.examples import neuron, readme_expression, second_derivative
from microgradx.graph import topological_order
from tests.draw.test_animate import page_data
from tests.draw.test_draw_slides import smallest_text_at_slide_size

VIZ = Path(__file__).resolve().parents[2] / "viz"


@pytest.mark.parametrize("name", sorted(entries()))
def test_committed_dot_file_equals_what_the_code_draws_now(name):
    committed = (VIZ / f"{name}.dot").read_text(encoding="utf-8")
    assert committed == entries()[name]().source, f"viz/{name}.dot is stale: run `make viz` and commit"


@pytest.mark.parametrize("name", sorted(entries()))
def test_each_entry_has_a_committed_svg_shown_in_the_readme(name):
    root = ET.parse(VIZ / f"{name}.svg").getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    assert f"({name}.svg)" in (VIZ / "README.md").read_text(encoding="utf-8")


def test_the_neuron_animation_is_committed_and_linked():
    page = (VIZ / "neuron_steps.html").read_text(encoding="utf-8")
    assert len(page_data(page)["frames"]) == 6  # seed + tanh, +, +, *, *
    assert "(neuron_steps.html)" in (VIZ / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", sorted(animations()))
def test_committed_animations_are_what_the_code_makes_now(name):
    if shutil.which("dot") is None:
        pytest.skip("Graphviz `dot` is not installed")
    committed = page_data((VIZ / f"{name}.html").read_text(encoding="utf-8"))
    assert committed == page_data(animations()[name]()), f"viz/{name}.html is stale: run `make viz` and commit"
    assert f"({name}.html)" in (VIZ / "README.md").read_text(encoding="utf-8")


@pytest.mark.parametrize("name", ["neuron_forward", "neuron_backward"])
def test_the_neuron_views_are_legible_on_a_slide(name):
    """Fitted to a 960 × 540 pt slide, the smallest text of the committed drawing is still 8 pt or more."""
    root = ET.parse(VIZ / f"{name}.svg").getroot()
    assert smallest_text_at_slide_size(root) >= 8.0


def test_gallery_numbers_are_micrograds():
    g = readme_expression()
    leaves = {n.label: n for n in _leaves(g)}
    a, b = leaves["a"], leaves["b"]
    assert (round(g.data, 4), round(a.grad, 4), round(b.grad, 4)) == (24.7041, 138.8338, 645.5773)
    o = neuron()
    assert round(o.data, 4) == 0.7071


def test_second_derivative_is_right():
    dydx = second_derivative()
    x = next(n for n in _leaves(dydx) if n.label == "x")
    y = 0.46211715726000974  # tanh(0.5)
    assert dydx.data == pytest.approx(1 - y * y)
    assert x.grad == pytest.approx(-2 * y * (1 - y * y))


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")
def test_build_writes_every_file(tmp_path):
    from microgradx.cli.gallery import build

    names = sorted(p.name for p in build(tmp_path))
    assert names == sorted([f"{n}.{ext}" for n in entries() for ext in ("dot", "svg")]
                           + [f"{n}.html" for n in animations()])
    for n in entries():
        assert (tmp_path / f"{n}.dot").read_bytes() == (VIZ / f"{n}.dot").read_bytes()


def _leaves(root):
    return [n for n in topological_order(root) if not n._prev]
