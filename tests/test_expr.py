"""The expression parser (never eval) and the `microgradx draw` command."""

from __future__ import annotations

import builtins
import math
import shutil

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from microgradx.cli import main
from microgradx.cli.expr import FUNCTIONS, ExpressionError, build, parse
from microgradx.engine import Value
from microgradx.ops import OPS, DomainError

needs_dot = pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz `dot` is not installed")


def test_parses_the_allowed_forms_and_lists_variables_in_reading_order():
    e = parse("tanh(a*b + c) - -x ** 2 / 3 + leaky_relu(y, 0.1) + +a")
    assert e.names == ("a", "b", "c", "x", "y")


def test_builds_the_same_value_as_writing_it_in_python():
    a, b, c = Value(2.0), Value(-3.0), Value(10.0)
    assert build("tanh(a*b + c)", {"a": 2, "b": -3, "c": 10}).data == (a * b + c).tanh().data


def test_leaves_are_labelled_with_their_names():
    out = build("a*b", {"a": 2.0, "b": 3.0})
    assert [c.label for c in out._prev] == ["a", "b"]


def test_functions_are_the_op_tables_prefix_rows():
    assert set(FUNCTIONS) == {op.method for op in OPS.values() if op.form == "prefix" and not op.method.startswith("_")}
    assert {"exp", "log", "tanh", "sigmoid", "relu", "sqrt", "abs", "sin", "cos", "leaky_relu"} <= set(FUNCTIONS)


@pytest.mark.parametrize("text, part", [
    ("__import__('os').system('echo hi')", "__import__"),
    ("a.__class__", "'a.__class__'"),
    ("x[0]", "'x[0]'"),
    ("lambda: 1", "'lambda: 1'"),
    ("a if b else c", "'a if b else c'"),
    ("a < b", "'a < b'"),
    ("a @ b", "MatMult"),
    ("a % b", "Mod"),
    ("'text'", "\"'text'\""),
    ("True", "'True'"),
    ("1j", "'1j'"),
    ("1e999", "'1e999'"),
    ("exp(x=1)", "keyword"),
    ("tanh(a, b)", "tanh takes exactly one argument"),
    ("open(a)", "unknown function 'open'"),
    ("[a, b]", "'[a, b]'"),
    ("_x + 1", "'_x'"),
    ("not a", "'not a'"),
    ("a +", "cannot parse"),
])
def test_anything_else_is_rejected_naming_the_offending_part(text, part):
    with pytest.raises(ExpressionError) as info:
        parse(text)
    assert part in str(info.value)


def test_parse_and_build_never_call_eval(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("eval/exec must not be used")
    for name in ("eval", "exec"):  # (ast.parse itself calls compile, with the AST-only flag)
        monkeypatch.setattr(builtins, name, forbidden)
    assert build("sqrt(a) * 2", {"a": 4.0}).data == 4.0


def test_missing_and_unused_variables_are_clear_errors():
    with pytest.raises(ExpressionError, match="no value for b.*--set b=<number>"):
        build("a*b", {"a": 1.0})
    with pytest.raises(ExpressionError, match="z set but not used"):
        build("a", {"a": 1.0, "z": 2.0})


def test_domain_errors_come_from_the_op_table():
    with pytest.raises(DomainError, match="log needs x > 0"):
        build("log(a)", {"a": -1.0})


def test_overlong_or_deeply_nested_input_is_rejected_cleanly():
    with pytest.raises(ExpressionError, match="limit"):
        parse("a+" * 6000 + "a")
    with pytest.raises(ExpressionError):
        parse("(" * 5000 + "a" + ")" * 5000)


# Random expressions: the text and the same computation written with Values.
LEAVES = {"a": 0.7, "b": -1.3, "c": 2.1}
UNARY = ["tanh", "sin", "cos", "sigmoid", "abs", "exp"]


def trees(depth: int):
    leaf = st.sampled_from(sorted(LEAVES)).map(lambda n: (n, lambda v, n=n: v[n])) | \
        st.sampled_from([0.5, 2, 3.0]).map(lambda k: (repr(k), lambda v, k=k: k))
    if depth == 0:
        return leaf
    sub = trees(depth - 1)
    binary = st.tuples(sub, st.sampled_from(["+", "-", "*"]), sub).map(
        lambda t: (f"({t[0][0]} {t[1]} {t[2][0]})",
                   lambda v, t=t: {"+": lambda p, q: p + q, "-": lambda p, q: p - q, "*": lambda p, q: p * q}[t[1]](
                       t[0][1](v), t[2][1](v))))
    unary = st.tuples(st.sampled_from(UNARY), sub).map(
        lambda t: (f"{t[0]}({t[1][0]})", lambda v, t=t: getattr(_lift(t[1][1](v)), t[0])()))
    neg = sub.map(lambda s: (f"-{s[0]}", lambda v, s=s: -s[1](v)))
    return leaf | binary | unary | neg


def _lift(x):
    return x if isinstance(x, Value) else Value(x)


@settings(max_examples=60, deadline=None)
@given(tree=trees(3))
def test_random_expressions_build_the_same_graph_as_python(tree):
    text, fn = tree
    e = parse(text)
    values = {n: LEAVES[n] for n in e.names}
    try:
        out = e.build(values)
        expected = fn({n: Value(x, label=n) for n, x in LEAVES.items()})
    except DomainError:
        assume(False)
    assert out.data == pytest.approx(_lift(expected).data, rel=1e-12, abs=1e-12)


@settings(max_examples=40, deadline=None)
@given(tree=trees(2))
def test_gradients_of_built_expressions_match_finite_differences(tree):
    text, _ = tree
    e = parse(text)
    assume(e.names)
    values = {n: LEAVES[n] for n in e.names}
    out = e.build(values)
    out.backward()
    leaves = {c.label: c for c in _all(out) if c.label in values and not c._prev}
    h = 1e-6
    for name in e.names:
        up = e.build({**values, name: values[name] + h}).data
        down = e.build({**values, name: values[name] - h}).data
        numeric = (up - down) / (2 * h)
        assume(math.isfinite(numeric))
        assert leaves[name].grad == pytest.approx(numeric, rel=1e-4, abs=1e-5)


def _all(root):
    seen, stack = [], [root]
    while stack:
        n = stack.pop()
        if all(n is not s for s in seen):
            seen.append(n)
            stack.extend(n._prev)
    return seen


# ---------------------------------------------------------------- the draw command


def run(argv):
    """The real command line, as `microgradx draw ...` runs it."""
    return main(argv)


@needs_dot
def test_draw_command_writes_the_svg_and_prints_its_path(tmp_path, capsys):
    out = tmp_path / "graph.svg"
    status = run(["draw", "tanh(a*b + c)", "--set", "a=2", "--set", "b=-3", "--set", "c=10", "-o", str(out)])
    assert status == 0
    assert out.read_text(encoding="utf-8").lstrip().startswith("<?xml")
    assert f"wrote {out}" in capsys.readouterr().out
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graph.svg"]


@needs_dot
def test_draw_command_backward_view_and_steps(tmp_path):
    dot, html = tmp_path / "g.dot", tmp_path / "steps.html"
    status = run(["draw", "a*b + a", "--set", "a=2", "--set", "b=3", "-o", str(dot), "--backward",
                  "--steps", str(html)])
    assert status == 0
    assert "∂v2/∂a = b = 3.0" in dot.read_text(encoding="utf-8")
    assert html.read_text(encoding="utf-8").count('<template class="frame"') == 3


@pytest.mark.parametrize("argv, message, status", [
    (["draw", "a.b", "--set", "a=1"], "'a.b' (column 1) is not allowed", 2),
    (["draw", "a*b", "--set", "a=1"], "no value for b", 2),
    (["draw", "log(a)", "--set", "a=-1"], "log needs x > 0", 1),
    (["draw", "a", "--set", "a=1", "--set", "a=2"], "--set a is given twice", 1),
])
def test_draw_command_errors_go_to_stderr_with_a_status(argv, message, status, tmp_path, capsys):
    assert run([*argv, "-o", str(tmp_path / "x.svg")]) == status
    assert message in capsys.readouterr().err
    assert not (tmp_path / "x.svg").exists()


def test_draw_command_rejects_a_malformed_set(capsys):
    with pytest.raises(SystemExit):
        run(["draw", "a", "--set", "a"])
    assert "expected NAME=NUMBER" in capsys.readouterr().err


def test_draw_command_without_dot_says_how_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["draw", "a*2", "--set", "a=1", "-o", str(tmp_path / "x.svg")]) == 1
    assert "sudo apt-get install graphviz" in capsys.readouterr().err

