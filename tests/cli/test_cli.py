"""Specification of the command line: ``microgradx train ...``, and what every command promises about errors."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

import microgradx
from microgradx.cli import build_parser, main
from microgradx.nn import MLP
from microgradx.nn.recipes import RECIPES

ROOT = Path(__file__).resolve().parents[2]
ENV = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))


def microgradx_cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    """``microgradx ARGS...`` run as a user runs it: a new process, its output captured as text."""
    return subprocess.run([sys.executable, "-m", "microgradx", *args], capture_output=True, text=True, env=ENV,
                          timeout=300, cwd=kwargs.pop("cwd", ROOT), **kwargs)


def test_train_xor_reaches_full_accuracy_and_prints_the_learned_predictions(capsys):
    assert main(["train", "xor", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "on xor (4 points)" in out and "accuracy 100.0%" in out
    rows = [line.split() for line in out.splitlines() if line.strip().startswith(("0", "1"))]
    assert [(r[0], r[1], r[2], r[4]) for r in rows] == [
        ("0", "0", "-1", "-1"), ("0", "1", "+1", "+1"), ("1", "0", "+1", "+1"), ("1", "1", "-1", "-1")]


def test_progress_bar_is_shown_unless_silenced(capsys):
    main(["train", "xor", "--epochs", "5"])
    assert "5/5" in capsys.readouterr().err
    main(["train", "xor", "--epochs", "5", "--no-progress"])
    assert capsys.readouterr().err == ""


def test_save_writes_a_model_that_loads_back(tmp_path, capsys):
    path = tmp_path / "xor.json"
    assert main(["train", "xor", "--no-progress", "--save", str(path)]) == 0
    assert "Saved the model" in capsys.readouterr().out
    model = MLP.load(path)
    assert model.describe() == "MLP(2, [4, 1])"
    assert model([0.0, 1.0]).data > 0 > model([1.0, 1.0]).data


def test_seed_and_epochs_are_used(capsys):
    main(["train", "spirals", "--epochs", "2", "--seed", "3", "--no-progress"])
    first = capsys.readouterr().out
    main(["train", "spirals", "--epochs", "2", "--seed", "3", "--no-progress"])
    assert capsys.readouterr().out == first
    assert "for 2 epochs" in first


@pytest.mark.parametrize("name", ["moons", "circles"])
def test_every_data_set_trains_from_the_command_line(name, capsys):
    assert main(["train", name, "--epochs", "1", "--no-progress"]) == 0
    assert f"on {name} (100 points) for 1 epochs" in capsys.readouterr().out


def test_unknown_data_set_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "mnist"])
    assert exc.value.code == 2
    assert "invalid choice: 'mnist'" in capsys.readouterr().err


def test_bad_epochs_is_a_usage_error(capsys):
    with pytest.raises(SystemExit):
        main(["train", "xor", "--epochs", "0"])
    assert "expected a positive integer" in capsys.readouterr().err


def test_unwritable_save_path_is_reported_without_a_traceback(tmp_path, capsys):
    code = main(["train", "xor", "--epochs", "1", "--no-progress", "--save", str(tmp_path / "no" / "m.json")])
    assert code == 1
    captured = capsys.readouterr()
    assert "microgradx train: error: cannot write model file" in captured.err and "does the folder" in captured.err
    assert captured.out == ""  # checked before training


def test_a_command_is_required(capsys):
    with pytest.raises(SystemExit):
        main([])
    assert "required" in capsys.readouterr().err


def test_train_help_lists_every_recipe_with_its_default_hyper_parameters(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for name, recipe in RECIPES.items():
        (line,) = [line for line in text.splitlines() if line.strip().startswith(f"{name}:")]
        assert recipe.description in line
        assert f"lr {recipe.lr:g}" in line and f"{recipe.epochs} epochs" in line
        assert (f"L2 alpha {recipe.l2_alpha:g}" in line) == bool(recipe.l2_alpha)


def test_parser_has_one_subcommand_per_command():
    assert build_parser().parse_args(["train", "xor"]).command == "train"


def test_python_dash_m_runs_the_command_line():
    result = microgradx_cli("train", "xor", "--no-progress")
    assert result.returncode == 0, result.stderr
    assert "accuracy 100.0%" in result.stdout


# ---------------------------------------------------------------- --compiled and --plot


def test_compiled_training_runs_fit_compiled_and_gives_the_eager_numbers(monkeypatch, capsys):
    import microgradx.nn.recipes as recipes

    calls = []
    real_fit = recipes.fit
    monkeypatch.setattr(recipes, "fit", lambda *a, **kw: calls.append(kw["compiled"]) or real_fit(*a, **kw))
    assert main(["train", "moons", "--epochs", "20", "--no-progress"]) == 0
    eager = capsys.readouterr().out
    assert main(["train", "moons", "--epochs", "20", "--no-progress", "--compiled"]) == 0
    compiled = capsys.readouterr().out
    assert calls == [False, True]
    assert "(compiled)" in compiled
    assert eager.replace("20 epochs:", "20 epochs (compiled):") == compiled  # same loss and accuracy, 4 digits


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height from a PNG's header (IHDR, bytes 16-24)."""
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    return int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")


@pytest.mark.parametrize("name", sorted(RECIPES))
def test_plot_writes_the_loss_curve_and_decision_boundary_of_every_2d_data_set(name, tmp_path):
    pytest.importorskip("matplotlib")
    result = microgradx_cli("train", name, "--epochs", "3", "--no-progress", "--plot", str(tmp_path / "out.png"))
    assert result.returncode == 0, result.stderr
    assert f"Wrote the loss curve and the decision boundary to {tmp_path / 'out.png'}" in result.stdout
    assert png_size((tmp_path / "out.png").read_bytes()) == (1100, 440)  # 10 x 4 inches at 110 dpi
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.png"]  # written atomically: no temporary file


def test_plot_problems_are_found_before_training(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    assert main(["train", "xor", "--no-progress", "--plot", str(tmp_path / "out.xyz")]) == 2  # a bad value
    captured = capsys.readouterr()
    assert "cannot plot to" in captured.err and ".png" in captured.err and captured.out == ""
    assert main(["train", "xor", "--no-progress", "--plot", str(tmp_path / "no" / "out.png")]) == 1
    captured = capsys.readouterr()
    assert "cannot write plot" in captured.err and "does the folder" in captured.err and captured.out == ""


def test_plot_without_matplotlib_says_what_to_install_before_training(tmp_path):
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "from microgradx.cli import main\n"
            f"sys.exit(main(['train', 'xor', '--no-progress', '--plot', {str(tmp_path / 'x.png')!r}]))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=ENV, timeout=120)
    assert result.returncode == 1 and result.stdout == ""
    assert "microgradx train: error:" in result.stderr and "pip install 'microgradx[plot]'" in result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.splitlines()) == 1


# ---------------------------------------------------------------- errors, Ctrl-C, --version


def test_version_is_the_packages():
    result = microgradx_cli("--version")
    assert result.returncode == 0 and result.stdout == f"microgradx {microgradx.__version__}\n"


def test_ctrl_c_exits_with_one_line_and_status_130():
    proc = subprocess.Popen([sys.executable, "-m", "microgradx", "train", "moons", "--epochs", "100000"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, cwd=ROOT)
    seen = b""
    try:
        while b"epoch" not in seen:  # the progress bar: training has started
            chunk = os.read(proc.stderr.fileno(), 4096)
            assert chunk, "the command ended before training started"
            seen += chunk
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert err.decode().splitlines()[-1] == "microgradx: interrupted"
    assert b"Traceback" not in seen + err and out == b""


def test_a_closed_output_pipe_ends_quietly():
    proc = subprocess.Popen([sys.executable, "-m", "microgradx", "train", "xor", "--no-progress"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=ENV, cwd=ROOT)
    proc.stdout.close()  # like `| head -0`: nobody reads what the command prints
    err = proc.stderr.read()
    proc.wait(timeout=120)
    assert proc.returncode == 1 and err == b""


def test_an_unexpected_error_is_one_line_that_asks_for_a_report(monkeypatch, capsys):
    import microgradx.cli.train as train

    def broken(args):
        raise TypeError("something nobody expected")

    monkeypatch.setattr(train, "train_command", broken)
    monkeypatch.delenv("MICROGRADX_TRACEBACK", raising=False)
    assert main(["train", "xor"]) == 1
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith("microgradx train: error: unexpected TypeError: something nobody expected")
    assert "bug in microgradx" in line
    monkeypatch.setenv("MICROGRADX_TRACEBACK", "1")
    with pytest.raises(TypeError, match="nobody expected"):
        main(["train", "xor"])
