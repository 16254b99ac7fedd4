"""Drawings and the player on a teacher's slides (issue 23): PNG size, leaf order, one direction, highlights."""

from __future__ import annotations

import json
import re
import shutil
import struct
import subprocess
import xml.etree.ElementTree as ET

import pytest

from microgradx.cli import main
from microgradx.draw.animate import animate_backward, animation_html, backward_steps
from microgradx.draw.dot import draw_dot, png_size, save
from microgradx.draw.explain import explain
from microgradx.draw.flow import short_name
from microgradx.draw.pdf import PdfError, join_pdfs, page_count
from microgradx.draw.style import SLIDE, THEMES, fit_scale
from microgradx.engine import Value
from microgradx.examples import neuron
from microgradx.graph import topological_order
from tests.graphs import chain_rule_example

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


# ---------------------------------------------------------------- leaves as written, one direction per graph


def leaf_positions(g) -> dict[str, float]:
    """Each leaf box's place across the flow, read from ``dot -Tjson`` (x for top-to-bottom, y for left-to-right)."""
    across = 0 if g.graph_attr["rankdir"] in ("TB", "BT") else 1
    out = {}
    for obj in json.loads(g.pipe(format="json"))["objects"]:
        name = re.search(r"<td><b>([^<]*)</b></td>", obj.get("label", ""))
        if name and "pos" in obj:
            out[name.group(1)] = float(obj["pos"].split(",")[across])
    return out


@needs_dot
@pytest.mark.parametrize("view", ["forward", "backward"])
def test_the_neurons_leaves_stand_in_the_order_the_formula_writes_them(view):
    where = leaf_positions(draw_dot(neuron(), view=view))
    xs = [where[name] for name in ("x1", "w1", "x2", "w2")]
    assert xs == sorted(xs) and len(set(xs)) == 4
    assert where["x1*w1"] < where["x2*w2"]


def wide() -> Value:
    level = [Value(float(i), label=f"x{i}") for i in range(16)]
    while len(level) > 1:
        level = [a + b for a, b in zip(level[::2], level[1::2])]
    return level[0]


def long() -> Value:
    x = Value(0.5, label="x")
    for _ in range(12):
        x = (x * 0.9).tanh()
    return x


@pytest.mark.parametrize("make", [neuron, wide, long, lambda: chain_rule_example()[-1]])
def test_every_view_of_one_graph_runs_in_one_direction(make):
    root = make()
    if root.grad == 0:  # (the neuron comes differentiated)
        root.backward()
    directions = {draw_dot(root).graph_attr["rankdir"], draw_dot(root, view="backward").graph_attr["rankdir"]}
    directions |= {frame.graph_attr["rankdir"] for frame in backward_steps(root)}
    assert len(directions) == 1


@needs_dot
def test_the_player_page_runs_in_the_direction_of_the_still_drawings():
    root = long()
    root.backward()
    rankdir = draw_dot(root).graph_attr["rankdir"]
    page = animation_html(root)
    svg = draw_dot(root, view="backward", rankdir=rankdir).pipe(format="svg").decode()
    width = re.search(r'<svg width="(\d+)pt"', svg).group(1)
    assert f'<svg width="{width}pt"' in page  # laid out the same way, so equally wide


# ---------------------------------------------------------------- highlight: one term of the chain rule


def named(root: Value, label: str) -> Value:
    return next(n for n in topological_order(root) if n.label == label)


def edge_attrs(source: str) -> dict[tuple[str, str], str]:
    """Each edge's attribute list in the DOT source, by (tail, head) node ids."""
    return {(m.group(1), m.group(2)): m.group(3) for m in re.finditer(r"\t(\w+) -> (\w+) \[(.*)\]", source)}


def box_of(source: str, label: str) -> str:
    """The DOT line of the box whose name cell is ``label``."""
    return next(line for line in source.splitlines() if re.search(rf"<td>(<b>|<font [^>]*>){re.escape(label)}<", line))


def test_highlighting_a_node_emphasises_its_paths_to_the_output_and_fades_the_rest():
    o = neuron()
    g = draw_dot(o, view="backward", highlight=named(o, "x1"))
    theme = THEMES["light"]
    edges = edge_attrs(g.source)
    lit = [a for a in edges.values() if f'color="{theme.current}"' in a]
    faded = [a for a in edges.values() if f'color="{theme.cluster_border}"' in a]
    # x1 -> *, x1*w1 -> +, (x1*w1 + x2*w2) -> +, n -> tanh, and the four op -> box edges on the way
    assert len(lit) == 8 and all("penwidth=2.5" in a for a in lit)
    assert len(faded) == len(edges) - 8 and not any("penwidth" in a for a in faded)
    for name in ("x1", "x1*w1", "n", "o"):
        assert f'color="{theme.current}"' in box_of(g.source, name)
    for name in ("w1", "x2", "w2", "b", "x2*w2"):
        line = box_of(g.source, name)
        assert f'bgcolor="{theme.background}" color="{theme.cluster_border}"' in line
        assert theme.grad not in line  # its numbers muted too


def test_highlighting_a_set_draws_one_term_of_explain():
    # x1.grad's one term runs x1 -> x1*w1 -> ... -> o: the set names x1 and that path, not w1's.
    o = neuron()
    path = {named(o, n) for n in ("x1", "x1*w1", "x1*w1 + x2*w2", "n", "o")}
    g = draw_dot(o, highlight=path, theme="dark")
    theme = THEMES["dark"]
    lit = [k for k, a in edge_attrs(g.source).items() if f'color="{theme.current}"' in a]
    assert len(lit) == 8
    assert f'color="{theme.cluster_border}"' in box_of(g.source, "w1").split("table")[1]


def test_a_drawing_without_highlight_fades_nothing():
    o = neuron()
    source = draw_dot(o).source
    assert THEMES["light"].cluster_border not in source and "penwidth" not in source


def test_highlight_refuses_what_is_not_in_the_graph():
    o = neuron()
    with pytest.raises(ValueError, match="not part of the graph"):
        draw_dot(o, highlight=Value(1.0, label="stranger"))
    with pytest.raises(TypeError, match="highlight must"):
        draw_dot(o, highlight="x1")
    with pytest.raises(ValueError, match="leave collapse= out"):
        draw_dot(o, highlight=named(o, "x1"), collapse="neuron")


def test_a_highlighted_drawing_is_byte_stable():
    o = neuron()
    path = [named(o, n) for n in ("x2", "x2*w2", "n")]
    assert draw_dot(o, highlight=path).source == draw_dot(o, highlight=list(reversed(path))).source


# ---------------------------------------------------------------- each thing named once


def test_explain_names_a_value_labelled_with_its_formula_once_and_a_single_path_once():
    o = neuron()
    for n in topological_order(o):  # one backward pass alone
        n.grad = 0.0
    o.backward()
    assert explain(named(o, "w1"), o) == "w1.grad = 1.0 (x1*w1: ∂(x1*w1)/∂w1 = x1 = 2.0, upstream 0.5)"
    assert explain(named(o, "x1*w1"), o) == ("(x1*w1).grad = 0.5 (x1*w1 + x2*w2: "
                                             "∂(x1*w1 + x2*w2)/∂(x1*w1) = 1.0, upstream 0.5)")
    assert explain(named(o, "b"), o) == "b.grad = 0.5 (n = (x1*w1 + x2*w2)+b: ∂n/∂b = 1.0, upstream 0.5)"


def caption(frame) -> str:
    """A frame's caption as one line of text (its box and line breaks left out)."""
    return re.sub(r"<[^>]*>", "", frame.graph_attr["label"][1:-1].replace("<br/>", " "))


def test_the_player_names_the_node_it_processes_once():
    o = neuron()
    captions = [caption(f) for f in backward_steps(o)]
    step = next(c for c in captions if "x1*w1 + x2*w2 passes" in c)
    assert step == ("step 3/5: x1*w1 + x2*w2 passes (x1*w1 + x2*w2).grad = 0.5 on: (x1*w1).grad += 0.5 × 1.0 = "
                    "0.5; (x2*w2).grad += 0.5 × 1.0 = 0.5")
    assert not any("(x1*w1+x2*w2)" in c or "= x1*w1 passes" in c for c in captions)


def test_nn_values_go_by_short_names_in_explain_and_the_player():
    from microgradx.nn import MLP

    model = MLP(2, [3, 1], activation="tanh", seed=0)
    out = model([0.5, -1.0])
    out.backward()
    w = model.layers[0].neurons[1].w[0]
    assert explain(w, out).startswith("L0.n1.w0.grad = ")
    assert re.fullmatch(r"L0\.n1\.w0\.grad = -?[\d.]+ \((v\d+) = L0\.n1\.w0\*x0: ∂\1/∂L0\.n1\.w0 = x0 = 0\.5, "
                        r"upstream -?[\d.]+\)", explain(w, out))
    frames = [caption(f) for f in backward_steps(out, collapse="neuron")]
    assert frames[0] == "step 0/4: seed L1.n0.grad = 1.0 (∂L1.n0/∂L1.n0 = 1)"
    assert frames[1].startswith("step 1/4: L1.n0 passes its gradient back through its 6 ops to L0.n0, L0.n1, L0.n2")
    assert "layers." not in "".join(frames) and "op(s)" not in "".join(frames)


def test_short_names_join_only_nns_parts_to_their_indices():
    assert short_name("layers.0.neurons.3.w.1") == "L0.n3.w1"
    assert short_name("layers.2.neurons.0.b") == "L2.n0.b"
    assert short_name("x.7") == "x7"
    assert short_name("my.value") == "my.value" and short_name("w") == "w"


@needs_dot
def test_the_cli_names_each_subexpression_as_written(tmp_path, capsys):
    steps = tmp_path / "steps.html"
    assert main(["draw", *NEURON, "-o", str(tmp_path / "n.dot"), "--backward", "--steps", str(steps)]) == 0
    source = (tmp_path / "n.dot").read_text(encoding="utf-8")
    for part in ("x1*w1", "x2*w2", "x1*w1 + x2*w2", "x1*w1 + x2*w2 + b", "out"):
        assert f"<td><b>{part}</b></td>" in source
    page = steps.read_text(encoding="utf-8")
    assert not re.search(r"\bv\d+\b", source + page)
    assert "out = tanh(x1*w1 + x2*w2 + b) passes out.grad = 1.0 on" in page


# ---------------------------------------------------------------- the player's steps as slides


def pdfinfo_pages(path) -> int | None:
    """The page count an independent reader (poppler's pdfinfo) finds, or None when it is not installed."""
    if shutil.which("pdfinfo") is None:
        return None
    out = subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True, check=True).stdout
    return int(re.search(r"^Pages:\s+(\d+)", out, re.M).group(1))


@needs_dot
def test_the_steps_saved_as_pdf_are_one_page_per_step(tmp_path):
    o = neuron()
    steps = len(list(backward_steps(o)))
    path = animate_backward(o).save(tmp_path / "steps.pdf")
    data = path.read_bytes()
    assert data.startswith(b"%PDF-") and page_count(data) == steps == 6
    assert pdfinfo_pages(path) in (None, steps)
    assert animate_backward(o, tmp_path / "again.pdf").read_bytes() == data  # byte-stable: no creation date


@needs_dot
def test_a_collapsed_models_steps_are_slides_too(tmp_path):
    from microgradx.nn import MLP

    model = MLP(2, [3, 1], activation="tanh", seed=0)
    out = model([0.5, -1.0])
    out.backward()
    path = animate_backward(out, tmp_path / "nn.pdf", collapse="neuron")
    assert page_count(path.read_bytes()) == len(list(backward_steps(out, collapse="neuron")))
    assert pdfinfo_pages(path) in (None, page_count(path.read_bytes()))


@needs_dot
def test_the_cli_writes_the_steps_as_slides(tmp_path, capsys):
    steps = tmp_path / "steps.pdf"
    assert main(["draw", *NEURON, "-o", str(tmp_path / "n.svg"), "--steps", str(steps)]) == 0
    assert page_count(steps.read_bytes()) == 6


def layout_of(frame) -> tuple[str, dict[str, str]]:
    """Where Graphviz puts things in ``frame``: the drawing's bounding box and each node's centre."""
    data = json.loads(subprocess.run(["dot", "-Tjson"], input=frame.source.encode(), capture_output=True,
                                     check=True).stdout)
    return data["bb"], {o["name"]: o["pos"] for o in data["objects"] if "pos" in o}


def mlp_out(collapse_sizes=(3, 1)):
    from microgradx.nn import MLP

    out = MLP(2, list(collapse_sizes), activation="tanh", seed=0)([0.5, -1.0])
    out.backward()
    return out


@needs_dot
@pytest.mark.parametrize("make, collapse", [(neuron, None), (mlp_out, "neuron"), (mlp_out, None)])
def test_every_step_is_drawn_on_one_layout_nothing_moves_between_slides(make, collapse):
    frames = list(backward_steps(make(), collapse=collapse))
    layouts = [layout_of(f) for f in frames]
    assert len(frames) > 2 and all(layout == layouts[0] for layout in layouts)  # same box, every node in place
    # ... while what they show changes: the first step knows one gradient, the last all of them
    assert frames[0].source.count("grad ?") > 2 and "grad ?" not in frames[-1].source


@needs_dot
def test_the_steps_on_one_layout_draw_without_a_graphviz_warning():
    for frame in backward_steps(neuron()):
        done = subprocess.run(["dot", "-Tsvg"], input=frame.source.encode(), capture_output=True)
        assert done.returncode == 0 and done.stderr == b""  # no "table size too small", no label cut


@needs_dot
def test_the_steps_saved_as_png_are_one_picture_per_step_of_one_size(tmp_path):
    o = neuron()
    first = animate_backward(o).save(tmp_path / "steps.png", width=1280)
    frames = sorted(tmp_path.glob("steps-*.png"))
    assert first == tmp_path / "steps-00.png" and [f.name for f in frames] == [f"steps-0{k}.png" for k in range(6)]
    sizes = {png_size(f.read_bytes()) for f in frames}
    assert len(sizes) == 1 and sizes.pop()[0] == 1280  # every slide the same size: nothing jumps
    assert animate_backward(o, tmp_path / "again.png") == tmp_path / "again-00.png"  # the path form too


@needs_dot
def test_png_steps_refuse_frames_of_an_earlier_longer_run_instead_of_mixing_them_in(tmp_path):
    stale = tmp_path / "steps-17.png"
    stale.write_bytes(b"an earlier run's frame")
    with pytest.raises(FileExistsError, match="steps-17.png from an earlier run"):
        animate_backward(neuron()).save(tmp_path / "steps.png")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["steps-17.png"]  # nothing written, nothing deleted
    with pytest.raises(ValueError, match="PNG's size in pixels"):
        animate_backward(neuron()).save(tmp_path / "steps.pdf", width=1920)


@needs_dot
def test_the_cli_writes_the_steps_as_pictures_of_the_width_asked(tmp_path, capsys):
    steps = tmp_path / "steps.png"
    assert main(["draw", *NEURON, "-o", str(tmp_path / "n.svg"), "--steps", str(steps), "--width", "800"]) == 0
    frames = sorted(tmp_path.glob("steps-*.png"))
    assert len(frames) == 6 and {png_size(f.read_bytes())[0] for f in frames} == {800}
    assert capsys.readouterr().out.count("wrote ") == 7  # the drawing and every step


def test_joining_pdfs_renumbers_references_but_never_touches_stream_data():
    def one_page(text: bytes) -> bytes:
        objects = [b"<< /Type /Pages /Kids [ 3 0 R ] /Count 1 >>",
                   b"<< /Type /Catalog /Pages 1 0 R >>",
                   b"<< /Type /Page /Parent 1 0 R /Contents 4 0 R >>",
                   b"<< /Length %d >>\nstream\n" % len(text) + text + b"\nendstream"]
        out = bytearray(b"%PDF-1.5\n")
        offsets = []
        for n, body in enumerate(objects, 1):
            offsets.append(len(out))
            out += b"%d 0 obj\n" % n + body + b"\nendobj\n"
        xref = len(out)
        out += b"xref\n0 5\n0000000000 65535 f \n" + b"".join(b"%010d 00000 n \n" % o for o in offsets)
        out += b"trailer\n<< /Size 5 /Root 2 0 R >>\nstartxref\n%d\n%%%%EOF\n" % xref
        return bytes(out)

    joined = join_pdfs([one_page(b"BT (1 0 R endobj) Tj ET"), one_page(b"BT (2 0 R) Tj ET")])
    assert page_count(joined) == 2
    assert b"(1 0 R endobj)" in joined and b"(2 0 R)" in joined  # stream bytes exactly as they were
    assert joined.count(b"/Parent 1 0 R") == 2  # both pages under the one new page tree


def test_joining_refuses_what_is_not_a_readable_pdf():
    with pytest.raises(PdfError, match="cross-reference"):
        join_pdfs([b"%PDF-1.7\n... object streams only ...\nstartxref\n9\n%%EOF"])
    with pytest.raises(PdfError, match="no pages"):
        join_pdfs([])


# ---------------------------------------------------------------- make demo's drawings on a slide

SVG = "{http://www.w3.org/2000/svg}"


def smallest_text_on_a_slide(path) -> float:
    """The smallest text of an SVG, in points, once fitted to a 1920 x 1080 px (960 x 540 pt) slide."""
    svg = ET.fromstring(path.read_bytes())
    size = tuple(float(svg.get(k).removesuffix("pt")) for k in ("width", "height"))
    return min(float(t.get("font-size")) for t in svg.iter(f"{SVG}text")) * fit_scale(size, SLIDE)


@needs_dot
def test_the_demos_slides_keep_their_text_at_8_pt_or_more_and_it_says_where_the_whole_graph_is(tmp_path):
    from microgradx.cli.demo import draw_xor
    from microgradx.nn.recipes import RECIPES

    model = RECIPES["xor"].train(seed=0, progress=False).model
    slides, poster = draw_xor(model, tmp_path)
    assert [p.name for p, _ in slides] == ["xor_neurons.svg", "xor_hidden_neuron.svg"]
    for path, _ in slides:
        assert smallest_text_on_a_slide(path) >= 8.0, path.name
    assert poster.name == "xor_whole_backward.svg" and smallest_text_on_a_slide(poster) < 8.0  # why it is a poster
    assert all(p.grad == 0 for p in model.parameters())  # the demo leaves no gradient behind


def test_an_edge_into_a_constant_carries_the_chain_rule_without_a_derivative_by_a_number():
    a = Value(-4.0, label="a")
    c = a + 1.0
    c.label = "c"
    c.backward()
    src = draw_dot(c, view="backward").source
    edges = "\n".join(line for line in src.splitlines() if " -> " in line)
    assert "∂c/∂1" not in edges and "∂c/∂a = 1.0" in edges  # not a derivative "by the number 1"
    into_constant = [line for line in src.splitlines() if "upstream 1.0 × local 1.0 = 1.0" in line]
    assert len(into_constant) == 2  # the constant's edge says what flows along it, as a's does
    assert sum("<br/>" not in line for line in into_constant) == 1
    unlabelled = draw_dot(c, view="backward", show_grad=False).source
    assert "label=<local 1.0>" in unlabelled and "label=<∂c/∂a = 1.0>" in unlabelled


@needs_dot
@pytest.mark.parametrize("make, collapse", [(neuron, None), (mlp_out, "neuron")])
def test_every_step_fitted_to_a_slide_keeps_its_text_at_8_pt_or_more(make, collapse, tmp_path):
    for k, frame in enumerate(backward_steps(make(), collapse=collapse)):
        path = tmp_path / f"step{k}.svg"
        path.write_bytes(frame.pipe(format="svg"))
        assert smallest_text_on_a_slide(path) >= 8.0, k


def test_the_steps_as_dot_sources_need_no_graphviz(monkeypatch):
    import microgradx.draw.stills as stills
    from microgradx.draw.render import GraphvizNotFoundError

    def no_dot(source, format="svg"):
        raise GraphvizNotFoundError("dot is not installed")

    monkeypatch.setattr(stills, "render", no_dot)
    frames = list(backward_steps(neuron()))
    assert len(frames) == 6 and "step 5/5" in frames[-1].source  # each frame sized by its own texts
    assert "fixedsize" not in frames[0].source


@needs_dot
def test_the_cli_refuses_png_steps_over_an_earlier_runs_frames_in_one_line_and_writes_nothing(tmp_path, capsys):
    (tmp_path / "steps-17.png").write_bytes(b"an earlier run's frame")
    out = tmp_path / "n.svg"
    assert main(["draw", *NEURON, "-o", str(out), "--steps", str(tmp_path / "steps.png")]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "steps-17.png from an earlier run" in err and "remove them" in err
    assert "Graphviz" not in err and "Traceback" not in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["steps-17.png"]  # not even the drawing
