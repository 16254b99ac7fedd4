"""Drawing graphs: forward and backward views, determinism, robust labels, clusters, limits."""

from __future__ import annotations

import re
import shutil
import subprocess
import xml.etree.ElementTree as ET

import graphviz
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from microgradx.draw.dot import (
    GraphTooLargeError,
    GraphvizNotFoundError,
    draw_dot,
    save,
    trace,
)
from microgradx.draw.flow import fmt
from microgradx.draw.groups import neuron_groups
from microgradx.engine import Value
from microgradx.graph import Scope
from tests.graphs import Counting, chain_rule_example

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")


def mlp_shaped(sizes: list[int], x: list[float]) -> Value:
    """A tiny MLP built by hand as nn builds one: names layers.i.neurons.j[.w.k|.b], and a Scope on
    each neuron's parameters and output (how nn tells the drawings which node is which)."""
    inputs = [Value(v, label=f"x{k}") for k, v in enumerate(x)]
    model = Scope("model", "model")
    for i, n_out in enumerate(sizes):
        outs = []
        layer = Scope(f"layers.{i}", "layer", i, model)
        for j in range(n_out):
            name = f"layers.{i}.neurons.{j}"
            scope = Scope(name, "neuron", j, layer)
            ws = [Value(0.1 * (k + 1) * (-1) ** j, label=f"{name}.w.{k}") for k in range(len(inputs))]
            act = Value(0.05 * j, label=f"{name}.b")
            for p in (*ws, act):
                p._scope = scope
            for w, xi in zip(ws, inputs, strict=True):
                act = act + w * xi
            out = act.tanh() if i < len(sizes) - 1 else act
            out.label = name
            out._scope = scope
            outs.append(out)
        inputs = outs
    loss = (inputs[0] - 1.0) ** 2
    loss.label = "loss"
    return loss


def node_ids(source: str) -> list[str]:
    return re.findall(r"^\t+(\w+) \[label=", source, flags=re.M)


def svg_texts(svg: bytes) -> list[str]:
    root = ET.fromstring(svg)
    return ["".join(t.itertext()) for t in root.iter("{http://www.w3.org/2000/svg}text")]


# ---------------------------------------------------------------- trace


def test_trace_keeps_every_edge_of_a_node_used_twice():
    a = Value(3.0, label="a")
    s = a + a
    nodes, edges = trace(s)
    assert nodes == [a, s]
    assert edges == [(a, s), (a, s)]


def test_trace_lists_children_before_parents():
    a, _, _, L = chain_rule_example()
    nodes, edges = trace(L)
    position = {n: i for i, n in enumerate(nodes)}
    assert all(position[c] < position[p] for c, p in edges)
    assert nodes[-1] is L


# ---------------------------------------------------------------- forward view


def test_draw_dot_returns_a_digraph_with_micrographs_call():
    *_, L = chain_rule_example()
    g = draw_dot(L, format="png", rankdir="TB")
    assert isinstance(g, graphviz.Digraph)
    assert g.format == "png"
    assert "rankdir=TB" in g.source


def test_forward_view_shows_label_data_and_grad_of_every_value():
    a, _, _, L = chain_rule_example()
    L.backward()
    src = draw_dot(L).source
    for name, data, grad in [("a", "2.0", "15.0"), ("b", "3.0", "6.0"), ("c", "6.0", "3.0"), ("L", "18.0", "1.0")]:
        assert re.search(rf"<b>{name}</b></td><td>data {data}</td><td>.*grad {grad}<", src), name


def test_forward_view_shows_op_symbols_from_the_op_table():
    x = Value(3.0, label="x")
    y = (x**2).tanh() * 2
    src = draw_dot(y).source
    for symbol in ("**2", "tanh", "*"):
        assert f"label=<{symbol}>" in src


def test_leaves_parameters_and_output_are_styled_differently():
    loss = mlp_shaped([1], [1.0])
    src = draw_dot(loss).source
    def fill_of(label: str) -> str:
        line = next(ln for ln in src.splitlines() if f"<b>{label}</b>" in ln)
        return re.search(r'bgcolor="(#\w+)"', line).group(1)

    styles = {fill_of("x0"), fill_of("L0.n0.w0"), fill_of("loss"), fill_of("L0.n0")}  # nn's names, short
    assert len(styles) == 4


def test_show_grad_false_hides_gradients():
    *_, L = chain_rule_example()
    L.backward()
    src = draw_dot(L, show_grad=False).source
    assert "grad " not in src and ".grad" not in src


def test_drawing_before_backward_says_so_instead_of_showing_zero_gradients():
    *_, L = chain_rule_example()
    src = draw_dot(L).source
    assert "backward() has not been called on L" in src
    assert "grad ?" in src
    assert "grad 0.0" not in src


# ---------------------------------------------------------------- backward view


def test_backward_view_reverses_edges_in_a_second_colour():
    *_, L = chain_rule_example()
    L.backward()
    forward, backward = draw_dot(L).source, draw_dot(L, view="backward").source
    edge = re.compile(r"^\t\w+ -> \w+(.*)$", re.M)
    assert all("dir=back" not in attrs for attrs in edge.findall(forward))
    back_edges = edge.findall(backward)
    assert back_edges and all("dir=back" in attrs and "color=" in attrs for attrs in back_edges)


def test_backward_view_labels_each_edge_with_local_derivative_and_contribution():
    *_, L = chain_rule_example()
    L.backward()
    src = draw_dot(L, view="backward").source
    assert "∂c/∂a = b = 3.0<br/>upstream 3.0 × local 3.0 = 9.0" in src
    assert "∂d/∂a = 1.0<br/>upstream 6.0 × local 1.0 = 6.0" in src
    assert "∂L/∂c = d = 3.0<br/>upstream 1.0 × local 3.0 = 3.0" in src


def test_backward_view_shows_the_sum_for_a_node_reached_by_several_paths():
    a, _, _, L = chain_rule_example()
    L.backward()
    assert "grad 9.0 + 6.0 = 15.0" in draw_dot(L, view="backward").source
    assert a.grad == 15.0


def test_backward_view_of_a_plus_a_has_two_labelled_edges():
    a = Value(3.0, label="a")
    s = a + a
    s.label = "s"
    s.backward()
    src = draw_dot(s, view="backward").source
    assert src.count("label=<∂s/∂a = 1.0<br/>upstream 1.0 × local 1.0 = 1.0>") == 2
    assert "grad 1.0 + 1.0 = 2.0" in src


def test_backward_view_before_backward_shows_local_derivatives_but_no_contributions():
    *_, L = chain_rule_example()
    src = draw_dot(L, view="backward").source
    assert "∂c/∂a = b = 3.0<br/>upstream ? × local 3.0" in src
    assert "backward() has not been called" in src


def test_value_nodes_carry_the_explanation_as_a_tooltip():
    a, _, _, L = chain_rule_example()
    L.backward()
    src = draw_dot(L).source
    assert "tooltip=\"a.grad = 15.0 = 9.0 (c = a*b: ∂c/∂a = b = 3.0, upstream 3.0)" in src


# ---------------------------------------------------------------- determinism


def test_same_graph_built_twice_gives_byte_identical_source():
    sources = []
    for _ in range(2):
        junk = [Value(float(i)) for i in range(50)]  # shift the id()s between the two builds
        *_, L = chain_rule_example()
        L.backward()
        sources.append((draw_dot(L).source, draw_dot(L, view="backward").source))
        del junk
    assert sources[0] == sources[1]


def test_node_ids_follow_the_written_order_not_object_ids():
    *_, L = chain_rule_example()
    ids = node_ids(draw_dot(L).source)
    assert ids[0] == "n0"
    assert all(re.fullmatch(r"n\d+(op)?", i) for i in ids)


# ---------------------------------------------------------------- robust labels

awkward = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=30) | st.sampled_from(
    ['{ } | < > " \\', "a\\", "\\N \\G \\L", "<b>x</b>", "line 1\nline 2", "\\\"", "émoji 😀 ∂ →", "\x00\x1b[0m",
     "&amp; &lt;", "]]>", "\"quoted\"", "\\n"])


@needs_dot
@settings(max_examples=40, deadline=None)
@given(labels=st.lists(awkward, min_size=2, max_size=2))
def test_any_label_text_renders(labels):
    x, y = Value(1.5, label=labels[0] or None), Value(-2.0, label=labels[1] or None)
    out = (x * y).tanh()
    out.label = labels[0] + labels[1] or None
    out.backward()
    for view in ("forward", "backward"):
        g = draw_dot(out, view=view)
        svg = subprocess.run(["dot", "-Tsvg"], input=g.source.encode("utf-8"), capture_output=True, timeout=20)
        assert svg.returncode == 0, svg.stderr.decode()
        texts = " ".join(svg_texts(svg.stdout))  # parses as XML
        for lab in labels:
            for word in lab.split():
                if word.isprintable() and word.isascii():
                    assert word in texts


# ---------------------------------------------------------------- higher order


def test_gradient_graph_from_create_graph_can_be_drawn():
    x = Value(0.5, label="x")
    y = x.tanh()
    y.backward(create_graph=True)
    dydx = x.grad
    assert isinstance(dydx, Value)
    src = draw_dot(dydx).source
    assert "tanh" in src and "backward() has not been called" in src
    x.grad = 0.0
    dydx.backward()
    src = draw_dot(dydx, view="backward").source
    expected = -2 * y.data * (1 - y.data**2)
    assert x.grad == pytest.approx(expected)
    assert "backward() has not been called" not in src


# ---------------------------------------------------------------- clusters and collapse


def test_nn_nodes_are_grouped_by_neuron_and_layer():
    loss = mlp_shaped([2, 1], [1.0, -1.0])
    neurons, layers = neuron_groups(trace(loss)[0])
    assert [g.name for g in neurons] == ["layers.0.neurons.0", "layers.0.neurons.1", "layers.1.neurons.0"]
    assert [g.name for g in layers] == ["layers.0", "layers.1"]
    first = neurons[0]
    labels = {n.label for n in first.members if n.label}
    assert labels == {"layers.0.neurons.0", "layers.0.neurons.0.w.0", "layers.0.neurons.0.w.1",
                      "layers.0.neurons.0.b"}
    assert len(first.members) == 3 + 2 + 2 + 1  # 3 params, 2 products, 2 sums, tanh
    second_layer = neurons[2].members
    assert not any(n.label and n.label.startswith("layers.0") for n in second_layer)


def test_forward_view_draws_neuron_clusters_inside_layer_clusters():
    src = draw_dot(mlp_shaped([2, 1], [1.0, -1.0])).source
    assert src.count("subgraph cluster_") == 5
    assert "label=<L0.n1>" in src and "label=<L1>" in src  # model.layers[0].neurons[1], as a slide writes it


@pytest.mark.parametrize("collapse, groups", [("neuron", 3), ("layer", 2)])
def test_collapse_draws_one_summary_node_per_group(collapse, groups):
    loss = mlp_shaped([2, 1], [1.0, -1.0])
    loss.backward()
    src = draw_dot(loss, collapse=collapse).source
    summaries = re.findall(r'port="r\d+"', src)  # one row (with its port) per neuron, or per layer
    assert len(summaries) == groups
    assert "<b>layers.0.neurons.0.w.0</b>" not in src  # parameters are inside the summaries
    assert "<b>x0</b>" in src and "<b>loss</b>" in src


def test_collapsed_neurons_are_connected_as_the_network_is():
    loss = mlp_shaped([2, 1], [1.0, -1.0])
    src = draw_dot(loss, collapse="neuron", rankdir="LR").source
    edges = set(re.findall(r"^\t(t\d+:r\d+)x:e -> (t\d+:r\d+)i\d+:w", src, flags=re.M))
    assert edges == {("t0:r0", "t1:r0"), ("t0:r1", "t1:r0")}  # both hidden neurons feed the output neuron


def test_graph_above_the_node_limit_raises_and_suggests_collapse():
    loss = mlp_shaped([4, 4, 1], [1.0, 2.0])
    with pytest.raises(GraphTooLargeError, match="collapse='neuron'"):
        draw_dot(loss, max_nodes=50)
    assert draw_dot(loss, max_nodes=50, collapse="neuron") is not None


def test_node_limit_is_configurable_and_checked():
    *_, L = chain_rule_example()
    with pytest.raises(GraphTooLargeError, match="max_nodes=3"):
        draw_dot(L, max_nodes=3)
    with pytest.raises(ValueError, match="max_nodes must be a positive int"):
        draw_dot(L, max_nodes=0)


def test_unknown_view_or_collapse_is_a_clear_error():
    *_, L = chain_rule_example()
    with pytest.raises(ValueError, match="view must be 'forward' or 'backward'"):
        draw_dot(L, view="sideways")
    with pytest.raises(ValueError, match="collapse must be None, 'neuron' or 'layer'"):
        draw_dot(L, collapse="module")


# ---------------------------------------------------------------- rendering


@needs_dot
def test_save_writes_svg_png_and_dot_atomically(tmp_path):
    *_, L = chain_rule_example()
    L.backward()
    g = draw_dot(L, view="backward")
    svg, png, dotfile = save(g, tmp_path / "g.svg"), save(g, tmp_path / "g.png"), save(g, tmp_path / "g.dot")
    assert "9.0" in " ".join(svg_texts(svg.read_bytes()))
    assert png.read_bytes().startswith(b"\x89PNG")
    assert dotfile.read_text(encoding="utf-8") == g.source
    assert sorted(p.name for p in tmp_path.iterdir()) == ["g.dot", "g.png", "g.svg"]  # no temp files left


@needs_dot
def test_jupyter_gets_inline_svg():
    *_, L = chain_rule_example()
    bundle, _ = draw_dot(L)._repr_mimebundle_()
    assert bundle["image/svg+xml"].lstrip().startswith("<?xml")


def test_without_dot_the_source_works_and_rendering_says_how_to_install(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` on PATH
    *_, L = chain_rule_example()
    g = draw_dot(L)
    assert "digraph" in g.source
    for render in (lambda: g.pipe(format="svg"), lambda: save(g, tmp_path / "x.svg"), g._repr_mimebundle_):
        with pytest.raises(GraphvizNotFoundError) as info:
            render()
        message = str(info.value)
        assert "sudo apt-get install graphviz" in message
        assert "brew install graphviz" in message and "conda install -c conda-forge graphviz" in message
    assert isinstance(info.value, graphviz.ExecutableNotFound)
    assert not (tmp_path / "x.svg").exists()


# ---------------------------------------------------------------- micrograd compatibility


def micrograd_style_draw(root):
    """The idioms of micrograd's trace_graph notebook: a set-based trace, ids from id(), ``uid + n._op``."""
    nodes, edges = set(), set()
    stack = [root]
    while stack:
        v = stack.pop()
        if v not in nodes:
            nodes.add(v)
            for child in v._prev:
                edges.add((child, v))
                stack.append(child)
    dot = graphviz.Digraph(format="svg", graph_attr={"rankdir": "LR"})
    for n in nodes:
        uid = str(id(n))
        dot.node(name=uid, label="{ data %.4f | grad %.4f }" % (n.data, n.grad), shape="record")  # noqa: UP031
        if n._op:
            dot.node(name=uid + n._op, label=str(n._op))
            dot.edge(uid + n._op, uid)
    for n1, n2 in edges:
        dot.edge(str(id(n1)), str(id(n2)) + n2._op)
    return dot


def test_micrograd_notebook_idioms_work_on_microgradx_values():
    *_, L = chain_rule_example()
    L.backward()
    src = micrograd_style_draw(L).source
    assert src.count("[label=\"*\"]") == 2 and src.count("[label=\"+\"]") == 1
    assert "grad 15.0000" in src


def test_micrograd_notebook_passes_the_op_itself_as_a_label():
    *_, L = chain_rule_example()
    dot = graphviz.Digraph()
    dot.node(name=str(id(L)) + L._op, label=L._op)
    assert 'label="*"' in dot.source


def test_backward_view_counts_edge_labels_against_the_limit():
    """dot lays out each edge label like a node: labelled graphs get slow sooner."""
    loss = mlp_shaped([2, 1], [1.0, -1.0])
    forward_nodes = len(node_ids(draw_dot(loss).source))
    assert draw_dot(loss, max_nodes=forward_nodes) is not None
    with pytest.raises(GraphTooLargeError, match="nodes and edge labels"):
        draw_dot(loss, view="backward", max_nodes=forward_nodes)


# ---------------------------------------------------------------- names and op shapes


def test_an_unlabelled_leaf_is_drawn_as_an_input_not_as_a_constant():
    a = Value(2.0)  # the user's value, unnamed
    out = a + 1
    out.label = "out"
    out.backward()
    src = draw_dot(out).source
    lines = [ln for ln in src.splitlines() if "<table" in ln]
    leaf = next(ln for ln in lines if ">v0<" in ln or ">v1<" in ln)
    constant = next(ln for ln in lines if "<td>1</td>" in ln)
    assert re.search(r'bgcolor="(#\w+)"', leaf).group(1) != re.search(r'bgcolor="(#\w+)"', constant).group(1)


def test_constants_are_shown_by_their_value():
    a = Value(2.0, label="a")
    b = a + 1
    b.label = "b"
    c = b * -3.0
    c.label = "c"
    c.backward()
    src = draw_dot(c, view="backward").source
    assert "∂b/∂1 = 1.0" in src and "∂c/∂(-3) = b = 3.0" in src
    assert "v0" not in src and "v1" not in src


def test_a_long_op_name_is_a_rounded_box_not_a_huge_circle():
    x = Value(-2.0, label="x")
    y = x.leaky_relu(0.1).tanh()
    src = draw_dot(y).source
    leaky = next(ln for ln in src.splitlines() if "label=<LeakyReLU(0.1)>" in ln)
    assert "shape=box" in leaky and "rounded" in leaky
    assert "shape=circle" in next(ln for ln in src.splitlines() if "label=<tanh>" in ln)


# ---------------------------------------------------------------- user-defined ops (micrograd's way)


def micrograd_sin(x: Value) -> Value:
    import math

    out = Value(math.sin(x.data), (x,), "sin")

    def _backward():
        x.grad += math.cos(x.data) * out.grad

    out._backward = _backward
    return out


def test_a_user_defined_op_is_drawn_and_explained_as_user_defined():
    import math

    from microgradx.draw.explain import explain

    x = Value(0.5, label="x")
    y = micrograd_sin(x) * 2.0
    y.label = "y"
    y.backward()
    assert x.grad == pytest.approx(2 * math.cos(0.5))
    src = draw_dot(y, view="backward").source
    assert "= user-defined = 0.8776" in src  # its closure measured: cos(0.5)
    assert "label=<sin>" in src
    assert "user-defined = 0.8776" in explain(x, y) and "= sin(x)" in explain(x, y)


# ---------------------------------------------------------------- second derivatives


def test_a_gradient_accumulated_over_two_passes_is_drawn_honestly_with_one_warning():
    x = Value(0.5, label="x")
    y = x.tanh()
    y.backward(create_graph=True)
    g = x.grad
    g.label = "dy/dx"
    g.backward()  # x.grad was not zeroed: it now holds dy/dx + d²y/dx²
    first, second = 1 - y.data ** 2, -2 * y.data * (1 - y.data ** 2)
    assert x.grad.data == pytest.approx(first + second)
    with pytest.warns(UserWarning, match="earlier backward") as caught:
        src = draw_dot(g, view="backward").source
    assert len(caught) == 1
    cell = re.search(r"<b>x</b>.*?<b>(grad [^<]*)</b>", src).group(1)
    assert cell == f"grad {fmt(first)} earlier − {fmt(-second)} = {fmt(first + second)}"


# ---------------------------------------------------------------- resources: refuse before any work


def chain(n: int) -> Value:
    y = Value(0.1, label="x")
    for _ in range(n):
        y = y * 1.0001
    return y


def test_drawing_a_huge_graph_is_refused_after_counting_just_past_the_limit(monkeypatch):
    root = chain(60_000)
    count = Counting(monkeypatch)
    with pytest.raises(GraphTooLargeError, match="more than max_nodes=2000"):
        draw_dot(root)
    assert count.locals == 0 and count.prev <= 2 * 2000 + 10


def test_a_collapsed_drawing_reads_at_most_its_walk_limit(monkeypatch):
    import microgradx.draw.dot as dot

    monkeypatch.setattr(dot, "COLLAPSE_WALK_LIMIT", 5000)
    root = chain(30_000)
    count = Counting(monkeypatch)
    with pytest.raises(GraphTooLargeError, match="more than 5000 nodes"):
        draw_dot(root, collapse="neuron")
    assert count.locals == 0 and count.prev <= 5000 + 10


def test_collapsed_rows_count_against_the_node_limit():
    loss = mlp_shaped([4, 4, 1], [1.0, 2.0])
    with pytest.raises(GraphTooLargeError, match="nodes and rows"):
        draw_dot(loss, collapse="neuron", max_nodes=5)
