"""Specification of the command line: ``microgradx train ...``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from microgradx.cli import build_parser, main
from microgradx.nn import MLP
from microgradx.nn.recipes import RECIPES

ROOT = Path(__file__).resolve().parents[1]


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
    assert "microgradx train: error: cannot save to" in captured.err and "does not exist" in captured.err
    assert captured.out == ""  # checked before training


def test_a_command_is_required(capsys):
    with pytest.raises(SystemExit):
        main([])
    assert "required" in capsys.readouterr().err


def test_train_help_lists_every_recipe(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train", "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    for name in RECIPES:
        assert f"{name}:" in text


def test_parser_has_one_subcommand_per_command():
    assert build_parser().parse_args(["train", "xor"]).command == "train"


def test_python_dash_m_runs_the_command_line():
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    result = subprocess.run([sys.executable, "-m", "microgradx", "train", "xor", "--no-progress"],
                            capture_output=True, text=True, env=env, timeout=120, cwd=ROOT)
    assert result.returncode == 0, result.stderr
    assert "accuracy 100.0%" in result.stdout
