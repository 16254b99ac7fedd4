"""The drawing's parts: options checked once, themes by keyword, one renderer (dot or the browser's), long labels."""

from __future__ import annotations

import dataclasses
import re
import shutil
import sys
import types

import pytest

import microgradx.draw.dot as dot
import microgradx.draw.options as options
from microgradx import Value
from microgradx.draw import animate_backward, animation_html, backward_steps, draw_dot, render_bytes, save
from microgradx.draw.dot import GraphTooLargeError
from microgradx.draw.flow import walk_within
from microgradx.draw.markup import MAX_TOOLTIP, attr_text, html_text
from microgradx.draw.options import DrawOptions, draw_options
from microgradx.draw.style import THEMES, Theme
from microgradx.examples import neuron, xor_network
from microgradx.graph import topological_order
from tests.graphs import chain_rule_example

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")


# ---------------------------------------------------------------- options, checked once


def test_options_are_frozen_once_made():
    opts = draw_options(view="backward", fontsize=14)
    with pytest.raises(dataclasses.FrozenInstanceError):
        opts.fontsize = 20  # type: ignore[misc]
    assert opts.backward and opts.fontsize == 14.0 and opts.theme is THEMES["light"]


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"view": "sideways"}, "view must be 'forward' or 'backward'"),
    ({"collapse": "model"}, "collapse must be None, 'neuron' or 'layer'"),
    ({"max_nodes": 0}, "max_nodes must be a positive int"),
    ({"rankdir": "XY"}, "rankdir must be one of auto, LR, TB, RL, BT"),
    ({"fontsize": 100}, "fontsize must be a number of points between 4 and 72"),
    ({"theme": "neon"}, "theme must be one of 'light', 'dark', 'print'"),
])
def test_a_bad_option_is_named_with_its_choices(kwargs, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        draw_options(**kwargs)


def counting_theme_lookups(monkeypatch) -> list[object]:
    calls: list[object] = []
    real = options.theme_of

    def counted(theme):
        calls.append(theme)
        return real(theme)

    monkeypatch.setattr(options, "theme_of", counted)
    return calls


def test_a_drawing_looks_its_theme_up_once(monkeypatch):
    calls = counting_theme_lookups(monkeypatch)
    draw_dot(xor_network(), view="backward", collapse="neuron", theme="dark")
    assert calls == ["dark"]


def test_an_animation_looks_its_theme_up_once_for_all_its_frames(monkeypatch):
    calls = counting_theme_lookups(monkeypatch)
    frames = list(backward_steps(neuron(), theme="print"))
    assert len(frames) > 3 and calls == ["print"]


def test_a_drawing_builds_one_set_of_texts(monkeypatch):
    built = []
    real = dot.Texts

    def counted(*args, **kwargs):
        built.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(dot, "Texts", counted)
    *_, L = chain_rule_example()
    draw_dot(L)  # no backward yet: the caption asks the same texts whether gradients are known
    assert len(built) == 1


def test_the_frames_of_an_animation_share_one_grouping_of_the_model(monkeypatch):
    import microgradx.draw.scene as scene

    grouped = []
    real = scene.model_structure

    def counted(*args, **kwargs):
        grouped.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(scene, "model_structure", counted)
    frames = list(backward_steps(xor_network(), collapse="neuron"))
    assert len(frames) > 3 and len(grouped) == 1


def test_the_one_walk_gives_the_engines_topological_order():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    c = a * b + a
    d = (c * c).tanh() + b * c + 1
    for root in (d, neuron(), xor_network()):
        order, seen = walk_within(root, 10**9)
        assert order == topological_order(root) and len(seen) == len(order)


def test_the_walk_stops_just_past_its_limit():
    y = Value(1.0)
    for _ in range(1000):
        y = y * 1.0001
    order, seen = walk_within(y, 50)
    assert order is None and len(seen) == 51


# ---------------------------------------------------------------- themes


def test_a_theme_is_built_by_keywords_only():
    with pytest.raises(TypeError):
        Theme("mine", "white")  # type: ignore[misc]
    mine = dataclasses.replace(THEMES["light"], name="mine", grad="#010203")
    assert 'color="#010203"' in draw_dot(neuron(), view="backward", theme=mine).source


def test_a_theme_without_a_fill_for_every_role_is_refused():
    fills = dict(THEMES["light"].fills)
    del fills["param"]
    with pytest.raises(ValueError, match="no fill colour for param"):
        draw_options(theme=dataclasses.replace(THEMES["light"], name="thin", fills=fills))


def sentinel_theme() -> Theme:
    """A theme whose every colour is a distinct value no built-in theme uses."""
    colours = iter(f"#0000{i:02x}" for i in range(1, 60))
    fields = {f.name: next(colours) for f in dataclasses.fields(Theme) if f.name not in ("name", "fills")}
    fills = {role: next(colours) for role in THEMES["light"].fills}
    return Theme(name="sentinel", fills=fills, **fields)


def colours_in(text: str) -> set[str]:
    return {c.lower() for c in re.findall(r"#[0-9a-fA-F]{6}\b", text)}


@pytest.mark.parametrize("collapse", [None, "neuron", "layer"])
@pytest.mark.parametrize("view", ["forward", "backward"])
def test_every_colour_of_a_drawing_comes_from_its_theme(view, collapse):
    theme = sentinel_theme()
    allowed = {v for f in dataclasses.fields(Theme) if isinstance(v := getattr(theme, f.name), str)}
    allowed |= set(theme.fills.values())
    source = draw_dot(xor_network(), view=view, collapse=collapse, theme=theme).source
    assert colours_in(source) and colours_in(source) <= allowed


@needs_dot
def test_every_colour_of_the_player_and_its_inline_frame_comes_from_its_theme():
    theme = sentinel_theme()
    allowed = {v for f in dataclasses.fields(Theme) if isinstance(v := getattr(theme, f.name), str)}
    allowed |= set(theme.fills.values())
    anim = animate_backward(neuron(), theme=theme)
    assert colours_in(anim._repr_html_()) <= allowed
    assert "#d1d5db" not in animate_backward(neuron(), theme="dark")._repr_html_()


# ---------------------------------------------------------------- one renderer: dot, or the browser's


@pytest.fixture
def in_the_browser(monkeypatch):
    """Pyodide as the library sees it: sys.platform is emscripten, no program can start, and the site's
    renderer module ``microgradx.draw.wasm`` offers ``render_svg``."""
    rendered: list[str] = []

    def render_svg(source: str) -> str:
        rendered.append(source)
        return '<?xml version="1.0"?>\n<svg width="10pt" height="10pt" viewBox="0 0 10 10"><g id="wasm"/></svg>'

    def no_processes(*args, **kwargs):
        raise OSError(138, "emscripten does not support processes")

    monkeypatch.setattr(sys, "platform", "emscripten")
    monkeypatch.setitem(sys.modules, "microgradx.draw.wasm", types.SimpleNamespace(render_svg=render_svg))
    monkeypatch.setattr("graphviz.pipe", no_processes)
    monkeypatch.setattr("graphviz.Digraph.pipe", no_processes)
    return rendered


def test_in_the_browser_every_svg_comes_from_the_webassembly_renderer(in_the_browser, tmp_path):
    g = draw_dot(neuron(), view="backward")
    bundle, _ = g._repr_mimebundle_()
    assert 'id="wasm"' in bundle["image/svg+xml"] and "image/png" not in bundle  # no PNG in the browser
    assert 'id="wasm"' in g.pipe(format="svg", encoding="utf-8")
    assert b'id="wasm"' in render_bytes(g, "svg")
    assert b'id="wasm"' in save(g, tmp_path / "n.svg").read_bytes()
    assert 'id="wasm"' in animation_html(neuron())
    assert in_the_browser[0] == g.source and len(in_the_browser) == 5


def test_in_the_browser_a_png_is_refused_with_what_to_do_instead(in_the_browser, tmp_path):
    with pytest.raises(ValueError, match="only as SVG"):
        save(draw_dot(neuron()), tmp_path / "n.png")
    assert not (tmp_path / "n.png").exists()


# ---------------------------------------------------------------- long labels (Graphviz refuses > 16384 bytes)


def test_a_long_line_is_cut_visibly_with_its_length():
    text = html_text("x" * 9000)
    assert text.endswith("… (9000 characters)") and len(text) < 1000


def test_a_long_tooltip_is_cut_visibly_and_says_where_the_whole_is():
    text = str(attr_text("a.grad = " + "+ 1.0 (v = a+a: ∂v/∂a = 1.0) " * 400))
    assert len(text) <= MAX_TOOLTIP and text.endswith("characters; explain(node) gives it all)")


def test_a_drawn_label_past_sixty_characters_ends_in_an_ellipsis():
    a = Value(2.0, label="a" * 9000)
    source = draw_dot(a * 3).source
    assert "a" * 59 + "…" in source and "a" * 61 not in source


@needs_dot
@pytest.mark.parametrize("label", ["a" * 9000, '"\\<&' * 5000, "∂" * 20000])
@pytest.mark.parametrize("view", ["forward", "backward"])
def test_labels_of_thousands_of_characters_still_draw(label, view):
    a, b = Value(2.0, label=label), Value(3.0, label="b")
    c = a * b
    c.label = label + " times b"
    c.backward()
    svg = render_bytes(draw_dot(c, view=view), "svg").decode("utf-8")
    assert svg.rstrip().endswith("</svg>") and "…" in svg


def test_a_value_used_by_ops_far_apart_is_refused_before_graphviz_runs(monkeypatch):
    monkeypatch.setattr(dot, "render", lambda *a: pytest.fail("rendered"))
    a = Value(1.0, label="a")
    total = a
    for _ in range(199):
        total = total + a
    with pytest.raises(GraphTooLargeError, match="far apart.*Graphviz would take minutes"):
        draw_dot(total)
    assert isinstance(draw_dot(total, max_nodes=10**6), dot.Graph)  # raised on purpose: drawn (not rendered)


def test_draw_dot_keeps_its_keyword_arguments_and_their_defaults():
    assert isinstance(draw_options(), DrawOptions)
    assert draw_dot.__kwdefaults__ == {"view": "forward", "show_grad": True, "collapse": None,
                                       "max_nodes": 2000, "fontsize": 11, "theme": "light", "highlight": None}
