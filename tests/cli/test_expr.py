"""The expression parser (never eval) and the `microgradx draw` command."""

from __future__ import annotations

import builtins
import math
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from microgradx.cli import main
from microgradx.cli.expr import FUNCTIONS, MAX_LENGTH, MAX_NAME_LENGTH, ExpressionError, build, parse
from microgradx.engine import Value
from microgradx.ops import OPS, DomainError
from tests.draw.test_animate import page_data

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
    ("exp(x=1)", "exp has no keyword argument x="),
    ("leaky_relu(a, alpha=0.1)", "alpha= in 'leaky_relu(a, alpha=0.1)' (column 1); it takes slope="),
    ("leaky_relu(a, 0.1, slope=0.2)", "slope is given twice"),
    ("leaky_relu(a, slope=b)", "the slope in 'leaky_relu(a, slope=b)' (column 1) must be a number"),
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
    with pytest.raises(DomainError, match=r"log\(a\) needs a > 0") as info:
        build("log(a)", {"a": -1.0})
    assert info.value.op is OPS["log"]


def test_overlong_or_deeply_nested_input_is_rejected_cleanly():
    with pytest.raises(ExpressionError, match="limit"):
        parse("a+" * 6000 + "a")
    with pytest.raises(ExpressionError):
        parse("(" * 5000 + "a" + ")" * 5000)


@pytest.mark.parametrize("terms", [1000, MAX_LENGTH // 2])
def test_a_long_flat_sum_is_not_nested_too_deeply(terms):
    a = None
    out = build("+".join(["a"] * terms), {"a": 1.5})
    out.backward()
    (a,) = {id(n): n for n in _all(out) if n.label == "a"}.values()
    assert out.data == 1.5 * terms and a.grad == terms


@pytest.mark.parametrize("text", ["-" * 9990 + "a", "a**" * 3000 + "a", "leaky_relu(a, " + "-" * 9000 + "1)"])
def test_what_pythons_parser_cannot_nest_is_a_clear_error(text):
    with pytest.raises(ExpressionError, match="nested too deeply for Python's parser") as info:
        parse(text)
    assert len(str(info.value)) < 400  # the expression is quoted by its start and its length, not in full
    assert f"({len(text)} characters)" in str(info.value)


def test_deep_nesting_that_parses_builds_without_recursion():
    assert build("-" * 4000 + "a", {"a": 2.0}).data == 2.0
    assert build("leaky_relu(a, " + "-" * 3001 + "0.5)", {"a": -2.0}).data == 1.0  # slope -0.5
    out = build("a" + "*1" * 3000, {"a": 3.0})
    out.backward()
    assert out.data == 3.0


def test_a_name_longer_than_the_limit_is_refused_by_its_start():
    name = "a" * (MAX_NAME_LENGTH + 1)
    with pytest.raises(ExpressionError, match=f"is {MAX_NAME_LENGTH + 1} characters long; names may have at most"):
        parse(f"{name} * 2")
    assert parse("b" * MAX_NAME_LENGTH).names == ("b" * MAX_NAME_LENGTH,)


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
    assert "∂(a*b)/∂a = b = 3.0" in dot.read_text(encoding="utf-8")
    assert len(page_data(html.read_text(encoding="utf-8"))["frames"]) == 3


@pytest.mark.parametrize("argv, message, status", [
    (["draw", "a.b", "--set", "a=1"], "'a.b' (column 1) is not allowed", 2),
    (["draw", "a*b", "--set", "a=1"], "no value for b", 2),
    (["draw", "log(a)", "--set", "a=-1"], "'log(a)' (column 1) is undefined at a = -1.0: log(a) needs a > 0", 1),
    (["draw", "a", "--set", "a=1", "--set", "a=2"], "--set a is given twice", 2),
    (["draw", "a", "--set", "a=nan"], "--set a=nan: the value must be a finite number", 2),
    (["draw", "a", "--set", "a=-inf"], "--set a=-inf: the value must be a finite number", 2),
    (["draw", "a", "--set", "a=1e999"], "--set a=1e999: the value must be a finite number", 2),
    (["draw", "a", "--set", "a=two"], "--set a='two': not a number", 2),
    (["draw", "a", "--set", "a" * 200 + "=1"], "the name is 200 characters long; names may have at most 100", 2),
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



ROOT = Path(__file__).resolve().parents[2]


def microgradx_cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    """``microgradx ARGS...`` as a user runs it: a new process, its output captured as text."""
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-m", "microgradx", *args], capture_output=True, text=True, env=env,
                          timeout=300, cwd=cwd)


def one_line_error(result: subprocess.CompletedProcess) -> str:
    """The single line a failed command prints (never a traceback)."""
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.splitlines()
    assert line.startswith("microgradx draw: error: ")
    return line


@pytest.mark.parametrize("argv", [
    ["-a*b", "--set", "a=2", "--set", "b=3"],
    ["--set", "a=2", "--set", "b=3", "--", "-a*b"],
    ["--", "-a*b", "--set", "a=2", "--set", "b=3"],
    ["--set=a=2", "-a*b", "--set", "b=3", "--back"],
])
def test_an_expression_may_start_with_a_minus(argv, tmp_path, capsys):
    assert main(["draw", *argv, "-o", str(tmp_path / "g.dot")]) == 0
    assert capsys.readouterr().out.splitlines()[0] == "-a*b = -6.0"
    assert (tmp_path / "g.dot").exists()


def test_an_expression_starting_with_a_minus_from_a_shell(tmp_path):
    result = microgradx_cli("draw", "-a*b", "--set", "a=2", "--set", "b=3", "-o", "g.dot", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "-a*b = -6.0\nwrote g.dot\n"


def test_an_unknown_option_is_still_reported(capsys):
    with pytest.raises(SystemExit):
        main(["draw", "a*b", "--set", "a=1", "--set", "b=1", "--bakcward"])
    assert "unrecognized arguments: --bakcward" in capsys.readouterr().err


def test_a_flat_sum_of_a_thousand_terms_is_drawn(tmp_path):
    text = "a" + "+1" * 999
    result = microgradx_cli("draw", text, "--set", "a=1", "--max-nodes", "3000", "-o", "sum.dot", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{text[:80]}… ({len(text)} characters) = 1000.0\n")
    assert (tmp_path / "sum.dot").read_text(encoding="utf-8").count("->") >= 1999


@pytest.mark.parametrize("expression, sets, message", [
    ("leaky_relu(a, " + "-" * 9000 + "1)", ["a=1"], "nested too deeply for Python's parser"),
    ("a" * 9000 + "*2", ["a=1"], "names may have at most 100"),
    ("+".join(["a"] * 6000), ["a=1"], "the limit is 10000"),
])
def test_hostile_expressions_give_one_line_and_status_2(expression, sets, message, tmp_path):
    result = microgradx_cli("draw", expression, *[f"--set={s}" for s in sets], "-o", "x.svg", cwd=tmp_path)
    assert result.returncode == 2
    line = one_line_error(result)
    assert message in line and len(line) < 500
    assert list(tmp_path.iterdir()) == []


@needs_dot
def test_a_drawing_graphviz_cannot_lay_out_is_one_line_never_a_traceback(tmp_path):
    # a is used 1000 times: its gradient gathers 1000 contributions, which a drawing may spell out.
    result = microgradx_cli("draw", "+".join(["a"] * 1000), "--set", "a=1", "--max-nodes", "5000",
                            "-o", "sum.svg", cwd=tmp_path)
    if result.returncode:  # refused before Graphviz starts (its layout would take minutes), or Graphviz's own error
        line = one_line_error(result)
        assert "Graphviz would take minutes" in line or "Graphviz could not draw the graph" in line
        assert "more nodes than" not in line  # 1000 terms are far fewer nodes than 5000: say what is too many
    else:
        assert (tmp_path / "sum.svg").read_text(encoding="utf-8").rstrip().endswith("</svg>")


def test_graphviz_failures_are_named_as_graphviz_failures(monkeypatch, tmp_path, capsys):
    import microgradx.cli.draw as draw

    def dot_fails(graph, path):
        raise subprocess.CalledProcessError(1, ["dot", "-Tsvg"], stderr=b"Error: syntax error in line 5\nmore")

    def dot_stops_reading(graph, path):
        raise BrokenPipeError(32, "Broken pipe")

    monkeypatch.setattr(draw, "save", dot_fails)
    assert main(["draw", "a", "--set", "a=1", "-o", str(tmp_path / "x.svg")]) == 1
    assert capsys.readouterr().err == ("microgradx draw: error: Graphviz could not draw the graph: "
                                       "Error: syntax error in line 5\n")
    monkeypatch.setattr(draw, "save", dot_stops_reading)
    assert main(["draw", "a", "--set", "a=1", "-o", str(tmp_path / "x.svg")]) == 1
    assert "Graphviz could not draw the graph (Broken pipe)" in capsys.readouterr().err


@needs_dot
def test_output_to_dev_stdout_is_the_drawing_alone(tmp_path):
    result = microgradx_cli("draw", "a*2", "--set", "a=1", "-o", "/dev/stdout", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("<?xml") and result.stdout.rstrip().endswith("</svg>")
    assert result.stderr == "a*2 = 2.0\nwrote /dev/stdout\n"  # the report moves out of the drawing's way


@pytest.mark.skipif(not os.path.exists("/dev/null"), reason="needs /dev/null")
def test_output_to_dev_null_leaves_it_a_device(tmp_path):
    result = microgradx_cli("draw", "a*2", "--set", "a=1", "-o", "/dev/null", "--steps", "/dev/null")
    assert result.returncode == 0, result.stderr
    assert os.path.exists("/dev/null") and not os.path.isfile("/dev/null")


@needs_dot
def test_the_help_example_is_the_neuron_whose_numbers_it_states(tmp_path, capsys):
    from microgradx.cli.draw import EXAMPLE

    argv = shlex.split(EXAMPLE)
    assert argv[:2] == ["microgradx", "draw"]
    argv[argv.index("-o") + 1] = str(tmp_path / "neuron.dot")
    assert main(argv[1:]) == 0
    o = float(capsys.readouterr().out.splitlines()[0].rpartition(" = ")[2])
    assert o == pytest.approx(0.7071, abs=1e-4) and 1 - o**2 == pytest.approx(0.5, abs=1e-4)  # not saturated
    values = dict(s.split("=") for s in argv[argv.index("--set"):] if "=" in s and not s.startswith("-"))
    x1 = Value(float(values["x1"]), label="x1")
    w1 = Value(float(values["w1"]), label="w1")
    n = x1 * w1 + float(values["x2"]) * float(values["w2"]) + float(values["b"])
    n.tanh().backward()
    assert x1.grad == pytest.approx(-1.5, abs=1e-3) and w1.grad == pytest.approx(1.0, abs=1e-3)
    drawing = (tmp_path / "neuron.dot").read_text(encoding="utf-8")
    assert "grad -1.5" in drawing and "grad 0.5" in drawing



def test_the_cli_modules_teach_with_the_same_unsaturated_neuron():
    import importlib

    for name in ("main", "draw", "expr"):
        module = importlib.import_module(f"microgradx.cli.{name}")  # cli.main is also the function main
        assert "tanh(x1*w1 + x2*w2 + b)" in (module.__doc__ or "")
        assert "c=10" not in (module.__doc__ or "")  # tanh(4) = 0.9993: every gradient shown was 0.0013
