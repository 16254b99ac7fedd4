"""Drawings and the player on a teacher's slides (issue 23): PNG size, leaf order, one direction, highlights."""

from __future__ import annotations

import shutil
import struct

import pytest

from microgradx.cli import main
from microgradx.draw.dot import draw_dot, save
from microgradx.examples import neuron

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")
NEURON = ["tanh(x1*w1 + x2*w2 + b)", "--set", "x1=2", "--set", "w1=-3", "--set", "x2=0", "--set", "w2=1",
          "--set", "b=6.8814"]


def png_width(path) -> int:
    """The width in the PNG's header (IHDR, right after the 8-byte signature and the chunk's length and type)."""
    data = path.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and data[12:16] == b"IHDR"
    return struct.unpack(">I", data[16:20])[0]


# ---------------------------------------------------------------- PNG of a given width


@needs_dot
@pytest.mark.parametrize("width", [1920, 1280, 333])
def test_a_png_saved_with_a_width_is_exactly_that_many_pixels_wide(tmp_path, width):
    g = draw_dot(neuron(), view="backward")
    assert png_width(save(g, tmp_path / "x.png", width=width)) == width
    assert png_width(tmp_path / g.save(str(tmp_path / "y.png"), width=width)) == width  # the method too


@needs_dot
def test_a_png_width_leaves_the_svg_and_the_source_as_they_were(tmp_path):
    g = draw_dot(neuron())
    source, svg = g.source, g.pipe(format="svg")
    save(g, tmp_path / "x.png", width=1920)
    assert g.source == source and g.pipe(format="svg") == svg and "dpi" not in source


@needs_dot
def test_a_png_width_draws_text_sharply_not_scaled_up(tmp_path):
    # A 1920-px PNG of a drawing ~1100 px wide at 96 dpi is drawn at a higher dpi, not magnified:
    # it holds more distinct colours (anti-aliased glyph edges) than the 96-dpi PNG enlarged would.
    g = draw_dot(neuron(), view="backward")
    small = save(g, tmp_path / "small.png").read_bytes()
    big = save(g, tmp_path / "big.png", width=1920).read_bytes()
    assert png_width(tmp_path / "small.png") < 1920 and len(big) > 1.5 * len(small)


@needs_dot
@pytest.mark.parametrize("width, name, message", [(0, "x.png", "whole number of pixels"),
                                                  (1.5, "x.png", "whole number of pixels"),
                                                  (1920, "x.svg", "PNG's size in pixels")])
def test_a_bad_png_width_is_refused_before_anything_is_written(tmp_path, width, name, message):
    with pytest.raises(ValueError, match=message):
        save(draw_dot(neuron()), tmp_path / name, width=width)
    assert list(tmp_path.iterdir()) == []


@needs_dot
def test_the_cli_draws_a_png_of_the_width_asked(tmp_path, capsys):
    out = tmp_path / "neuron.png"
    assert main(["draw", *NEURON, "-o", str(out), "--backward", "--width", "1920"]) == 0
    assert png_width(out) == 1920


def test_the_cli_refuses_a_width_for_an_svg(tmp_path, capsys):
    assert main(["draw", *NEURON, "-o", str(tmp_path / "n.svg"), "--width", "1920"]) == 2
    assert "--width sets a PNG's size" in capsys.readouterr().err
