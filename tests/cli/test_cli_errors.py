"""The command line as a new user meets it: what is missing is said before the work, bad values exit 2, messages
name what the user wrote (issue 20, items 25-31)."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import microgradx as mx
from microgradx.cli import main

ROOT = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """``main(argv)`` as (status, stdout, stderr); argparse's own exit (status 2) counts as a status too."""
    try:
        status = main(argv)
    except SystemExit as e:
        status = int(e.code or 0)
    out, err = capsys.readouterr()
    return status, out, err


def error_line(err: str) -> str:
    """The error line (argparse prints the usage above it); asserts it is the last line, with no traceback."""
    assert "Traceback" not in err and "this is a bug" not in err
    return err.splitlines()[-1]


# ---------------------------------------------------------------- 25: what is missing, said before the work


@pytest.fixture
def no_dot(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """A PATH on which Graphviz's ``dot`` cannot be found."""
    (tmp_path / "empty-bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))


@pytest.mark.parametrize("argv", [["demo", "--out", "{tmp}/out"], ["gallery", "{tmp}/viz"]])
def test_demo_and_gallery_without_dot_say_how_to_install_it_before_computing_anything(argv, no_dot, tmp_path,
                                                                                         capsys):
    status, out, err = run([a.format(tmp=tmp_path) for a in argv], capsys)
    line = error_line(err)
    assert status == 1 and out == "" and len(err.splitlines()) == 1
    assert "needs Graphviz's `dot` program, which was not found on PATH" in line
    assert "sudo apt-get install graphviz (Debian/Ubuntu)" in line and "brew install graphviz (macOS)" in line
    assert "conda install -c conda-forge graphviz" in line
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty-bin"]  # no folder made either


def test_draw_without_dot_offers_the_dot_source_which_needs_no_graphviz(no_dot, tmp_path, capsys):
    status, _, err = run(["draw", "a*2", "--set", "a=1", "-o", str(tmp_path / "x.png")], capsys)
    assert status == 1 and "or write the DOT source alone with -o NAME.dot" in error_line(err)
    assert run(["draw", "a*2", "--set", "a=1", "-o", str(tmp_path / "x.dot")], capsys)[0] == 0
    assert "->" in (tmp_path / "x.dot").read_text(encoding="utf-8")


def test_plot_without_matplotlib_names_the_pip_command_and_blames_no_bug(tmp_path):
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "from microgradx.cli import main\n"
            f"sys.exit(main(['train', 'xor', '--no-progress', '--plot', {str(tmp_path / 'x.png')!r}]))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=120)
    assert result.returncode == 1 and result.stdout == ""
    assert result.stderr == ("microgradx train: error: --plot needs matplotlib, which is not installed: "
                             "pip install 'microgradx[plot]'\n")


def test_a_missing_package_is_an_install_hint_not_a_bug_report(monkeypatch, capsys):
    import microgradx.cli.train as train

    def missing(args):
        raise ModuleNotFoundError("No module named 'tqdm'", name="tqdm")

    monkeypatch.setattr(train, "train_command", missing)
    status, _, err = run(["train", "xor"], capsys)
    assert status == 1 and "No module named 'tqdm'; reinstall microgradx" in error_line(err)


# ---------------------------------------------------------------- 26: Ctrl-C while the command is still importing

SLOW_IMPORT = '''
import sys, time

class SlowEngine:  # holds the import of microgradx.engine until the test has pressed Ctrl-C
    def find_spec(self, name, path=None, target=None):
        if name == "microgradx.engine":
            sys.stderr.write("importing\\n")
            sys.stderr.flush()
            time.sleep(120)
        return None

sys.meta_path.insert(0, SlowEngine())
'''


def test_ctrl_c_while_the_command_is_still_importing_exits_quietly_with_130(tmp_path):
    (tmp_path / "sitecustomize.py").write_text(SLOW_IMPORT, encoding="utf-8")
    env = dict(ENV, PYTHONPATH=str(tmp_path) + os.pathsep + ENV["PYTHONPATH"])
    proc = subprocess.Popen([sys.executable, "-m", "microgradx", "train", "xor"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=env, cwd=tmp_path)
    seen = b""
    try:
        while b"importing" not in seen:
            chunk = os.read(proc.stderr.fileno(), 4096)
            assert chunk, f"the command ended before importing the engine: {seen!r}"
            seen += chunk
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130 and out == b""
    assert (seen + err).decode().splitlines() == ["importing", "microgradx: interrupted"]


def test_a_program_that_imports_microgradx_keeps_pythons_ctrl_c():
    code = "import signal, microgradx; print(signal.getsignal(signal.SIGINT) is signal.default_int_handler)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=120)
    assert result.stdout == "True\n", result.stderr


def test_the_command_itself_gets_pythons_ctrl_c_back_when_it_starts():
    code = ("import contextlib, io, signal, sys\n"
            "sys.argv[0] = '/usr/local/bin/microgradx'  # as the installed script runs\n"
            "from microgradx.cli import main\n"
            "quiet = signal.getsignal(signal.SIGINT) is not signal.default_int_handler\n"
            "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
            "    main(['--version'])\n"
            "print(quiet, signal.getsignal(signal.SIGINT) is signal.default_int_handler)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=120)
    assert result.stdout == "True True\n", result.stderr


# ---------------------------------------------------------------- 27: bad values exit 2, before any work


@pytest.mark.parametrize("argv, message", [
    (["draw", "a", "--set", "a=1", "--fontsize", "0"], "argument --fontsize: expected a number of points between 4"),
    (["draw", "a", "--set", "a=1", "--fontsize", "1000"], "between 4 and 72, got 1000.0"),
    (["draw", "a", "--set", "a=1", "--fontsize", "big"], "argument --fontsize: expected a number, got 'big'"),
    (["draw", "a", "--set", "a=1", "--max-nodes", "0"], "argument --max-nodes: expected a positive integer, got 0"),
    (["train", "xor", "--lr", "-1"], "argument --lr: the learning rate must be a finite number > 0, got -1"),
    (["train", "xor", "--lr", "nan"], "must be a finite number > 0, got nan"),
    (["train", "xor", "--lr", "inf"], "must be a finite number > 0, got inf"),
    (["train", "xor", "--lr", "0"], "must be a finite number > 0, got 0"),
])
def test_a_bad_value_exits_2_with_one_error_line(argv, message, tmp_path, capsys):
    status, out, err = run([*argv, *(["-o", str(tmp_path / "g.svg")] if argv[0] == "draw" else [])], capsys)
    assert status == 2 and out == "" and message in error_line(err)
    assert list(tmp_path.iterdir()) == []


def test_a_graph_larger_than_the_users_max_nodes_exits_2_naming_that_limit(tmp_path, capsys):
    status, _, err = run(["draw", "x*y + 1", "--set", "x=1", "--set", "y=2", "--max-nodes", "1",
                          "-o", str(tmp_path / "g.svg")], capsys)
    line = error_line(err)
    assert status == 2 and "more nodes than --max-nodes 1 allows: raise --max-nodes" in line
    assert "minutes" not in line  # one node more than 1 is no work for Graphviz


# ---------------------------------------------------------------- 28: outputs checked before the work


def test_save_to_a_folder_is_refused_before_training(tmp_path, capsys):
    status, out, err = run(["train", "xor", "--no-progress", "--save", str(tmp_path)], capsys)
    assert status == 1 and out == ""
    assert f"cannot write model file {tmp_path}: it is a folder; give a file name" in error_line(err)


@pytest.fixture
def read_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """A folder in which no file can be created or made (EROFS), as on a read-only mount; even root cannot."""
    folder = tmp_path / "ro"
    folder.mkdir()
    real_open, real_mkdir = os.open, os.mkdir

    def check(path) -> None:
        if Path(os.path.abspath(path)).parent == folder:
            raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path))

    def opener(path, *args, **kwargs):
        check(path)
        return real_open(path, *args, **kwargs)

    def maker(path, *args, **kwargs):
        check(path)
        return real_mkdir(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", opener)
    monkeypatch.setattr(os, "mkdir", maker)
    return folder


def test_save_into_a_read_only_folder_is_refused_before_training(read_only, capsys):
    status, out, err = run(["train", "xor", "--no-progress", "--save", str(read_only / "m.json")], capsys)
    assert status == 1 and out == ""
    assert "Read-only file system" in error_line(err) and f"the folder {read_only} must be writable" in err
    assert list(read_only.iterdir()) == []


def test_demo_in_a_read_only_folder_says_so_before_computing_anything(read_only, monkeypatch, capsys):
    monkeypatch.chdir(read_only)
    status, out, err = run(["demo"], capsys)
    line = error_line(err)
    assert status == 1 and out == ""
    assert line == ("microgradx demo: error: cannot create the folder out for the demo's drawings: Read-only file "
                    "system; give a folder you can write in (for example one under your home folder)")


def test_demo_and_gallery_refuse_a_file_given_as_their_folder(tmp_path, capsys):
    (tmp_path / "f").write_text("mine", encoding="utf-8")
    for argv in (["demo", "--out", str(tmp_path / "f")], ["gallery", str(tmp_path / "f")]):
        status, out, err = run(argv, capsys)
        assert status == 1 and out == "" and "it is a file, not a folder" in error_line(err)
    assert (tmp_path / "f").read_text(encoding="utf-8") == "mine"


def test_a_plot_format_matplotlib_cannot_write_exits_2_before_training(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    status, out, err = run(["train", "xor", "--no-progress", "--plot", str(tmp_path / "xor.txt")], capsys)
    assert status == 2 and out == "" and "cannot plot to" in error_line(err) and ".png" in err


def test_draw_checks_its_outputs_before_drawing(tmp_path, capsys):
    status, _, err = run(["draw", "a", "--set", "a=1", "-o", str(tmp_path / "g.txt")], capsys)
    assert status == 2 and "cannot tell the format of" in error_line(err)
    status, _, err = run(["draw", "a", "--set", "a=1", "-o", str(tmp_path)], capsys)
    assert status == 1 and "it is a folder" in error_line(err)
    status, out, err = run(["draw", "a", "--set", "a=1", "-o", str(tmp_path / "g.svg"),
                            "--steps", str(tmp_path / "no" / "s.html")], capsys)
    assert status == 1 and "cannot write step-by-step page" in error_line(err) and out == ""
    assert list(tmp_path.iterdir()) == []  # the drawing was not made either


@pytest.mark.skipif(not Path("/proc/self").is_dir(), reason="needs Linux's /proc")
def test_a_folder_that_takes_no_files_is_not_asked_whether_it_exists(capsys):
    status, _, err = run(["draw", "a", "--set", "a=1", "-o", "/proc/a.svg"], capsys)
    line = error_line(err)
    assert status == 1 and "the folder /proc does not take new files" in line and "exist?" not in line


# ---------------------------------------------------------------- 29: messages in the user's words


def test_a_division_by_zero_names_the_users_variable_not_the_ops_operands(tmp_path, capsys):
    status, _, err = run(["draw", "1/x", "--set", "x=0", "-o", str(tmp_path / "g.svg")], capsys)
    assert status == 1
    assert error_line(err) == ("microgradx draw: error: '1/x' (column 1) is undefined at x = 0.0: 1/x needs the "
                               "divisor x != 0. Change the --set values (or the expression) so that this holds.")


def test_a_power_error_shows_the_expression_not_the_internal_op_name(tmp_path, capsys):
    status, _, err = run(["draw", "y**x", "--set", "x=0.5", "--set", "y=-1", "-o", str(tmp_path / "g.svg")], capsys)
    line = error_line(err)
    assert status == 1 and "vpow" not in line
    assert "'y**x' (column 1) is undefined at y = -1.0, x = 0.5: y**x needs base y > 0" in line


def test_an_error_inside_a_larger_expression_names_that_part_and_its_column(tmp_path, capsys):
    status, _, err = run(["draw", "2*log(x-y)", "--set", "x=1", "--set", "y=1", "-o", str(tmp_path / "g.svg")],
                         capsys)
    assert status == 1
    assert "'log(x-y)' (column 3) is undefined at x-y = 0.0: log(x-y) needs (x-y) > 0" in error_line(err)


def test_an_operand_used_twice_is_listed_once(tmp_path, capsys):
    status, _, err = run(["draw", "x*x", "--set", "x=1e200", "-o", str(tmp_path / "g.svg")], capsys)
    assert status == 1 and "'x*x' (column 1) overflows at x = 1e+200: the result is too large" in error_line(err)


def test_a_derivative_that_is_not_finite_names_the_part_of_the_expression(tmp_path, capsys):
    status, _, err = run(["draw", "3 + y**0.5", "--set", "y=0", "-o", str(tmp_path / "g.svg")], capsys)
    line = error_line(err)
    assert status == 1 and "'y**0.5' (column 5) has no finite derivative at y = 0.0" in line
    assert "pow(x" not in line and "x = 0.0" not in line  # not the op's own operand names
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("text, where", [("x +", "at the end (column 4)"), ("x y", "at column 3"),
                                         ("", "(the expression is empty)")])
def test_parse_errors_count_columns_from_1(text, where, tmp_path, capsys):
    status, _, err = run(["draw", "--", text, "-o", str(tmp_path / "g.svg")], capsys)
    assert status == 2 and error_line(err).endswith(where) and "column 0" not in err


# ---------------------------------------------------------------- 30: leaky_relu's slope by name


def test_draw_accepts_leaky_relu_with_its_slope_by_name_as_its_help_advertises(tmp_path, capsys):
    status, out, _ = run(["draw", "leaky_relu(x, slope=0.5)", "--set", "x=-2", "-o", str(tmp_path / "g.dot")],
                         capsys)
    assert status == 0 and out.startswith("leaky_relu(x, slope=0.5) = -1.0\n")
    status, out, _ = run(["draw", "--help"], capsys)
    assert status == 0 and "leaky_relu(x, slope=0.01)" in " ".join(out.split())


def test_the_function_form_takes_the_parameter_by_name_like_the_method():
    v = mx.Value(-2.0)
    assert mx.leaky_relu(v, slope=0.1).data == v.leaky_relu(slope=0.1).data == -0.2
    assert mx.leaky_relu(-2.0, slope=0.1) == -0.2
    with pytest.raises(TypeError, match="multiple values for argument 'slope'"):
        mx.leaky_relu(v, 0.1, slope=0.2)
    with pytest.raises(TypeError, match="unexpected keyword argument 'alpha'; it takes slope="):
        mx.leaky_relu(v, alpha=0.1)


# ---------------------------------------------------------------- 31: usage of the command concerned, help text


def test_an_unknown_option_of_a_command_shows_that_commands_usage(capsys):
    status, _, err = run(["train", "xor", "--bogus"], capsys)
    assert status == 2 and err.startswith("usage: microgradx train ")
    assert error_line(err) == "microgradx train: error: unrecognized arguments: --bogus"


@pytest.mark.parametrize("argv, suggestion", [
    (["--versoin"], "unrecognized arguments: --versoin (did you mean --version?)"),
    (["train", "xor", "--epoch", "2", "--no-progres", "--sede", "1"], "(did you mean --seed?)"),
    (["trian", "xor"], "invalid choice: 'trian' (choose from 'train', 'draw', 'demo', 'gallery') (did you mean "
                       "train?)"),
    (["train", "XOR"], "(did you mean xor?)"),
    (["draw", "a", "--set", "a=1", "--rankdir", "lr"], "(did you mean LR?)"),
])
def test_a_misspelling_is_answered_with_the_nearest_name(argv, suggestion, capsys):
    status, _, err = run(argv, capsys)
    assert status == 2 and suggestion in error_line(err)


@pytest.mark.parametrize("argv", [["--help"], ["train", "--help"], ["draw", "--help"], ["demo", "--help"],
                                  ["gallery", "--help"]])
def test_help_shows_no_markup(argv, capsys):
    status, out, _ = run(argv, capsys)
    assert status == 0 and out.startswith("usage: microgradx") and "``" not in out
