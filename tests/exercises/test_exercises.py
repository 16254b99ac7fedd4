"""The exercises answer back: references pass, typical mistakes get their own hints, nothing gives the answer away."""

from __future__ import annotations

import random
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from microgradx import Value, exercises
from microgradx.exercises import cells, core
from microgradx.exercises.kinds import NOTEBOOKS

ROOT = Path(__file__).resolve().parents[2]
ALL = exercises.all()
IDS = [e.id for e in ALL]
MISTAKES = [(e, k) for e in ALL for k in range(len(e.mistakes))]


def random_wrong(ex: exercises.Exercise, rng: random.Random) -> object:
    """An answer of the right form, drawn at random, that is not the reference."""
    ref = ex.reference
    if ex.kind == "number":
        if isinstance(ref, list):
            options = [[], [0], [1], [2], [0, 1], [0, 2], [1, 2], [0, 1, 2]]
            return rng.choice([o for o in options if o != sorted(ref)])
        bump = lambda x: x * rng.choice([-1, 1]) * rng.uniform(1.3, 4.0) + rng.choice([-1, 1]) * rng.uniform(1, 3)
        return tuple(bump(x) for x in ref) if isinstance(ref, tuple) else bump(ref)
    if ex.kind == "choice":
        return "".join(rng.choice("abcdefghij") for _ in range(8))
    if ex.id == "01.3":
        return Value(3.0, label="x") * rng.uniform(4.0, 8.0)
    value = rng.uniform(-10, 10)
    return lambda *args: value


def test_every_notebook_has_at_least_two_exercises_and_the_course_at_least_forty():
    per_notebook = {n: sum(e.notebook == name for e in ALL) for n, name in NOTEBOOKS.items()}
    assert len(ALL) >= 40 and min(per_notebook.values()) >= 2, per_notebook
    assert {e.notebook for e in ALL} == {p.stem for p in (ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")}


def test_exercises_come_in_several_kinds_with_unique_ids_in_course_order():
    assert {e.kind for e in ALL} == {"number", "function", "graph", "choice"}
    assert len(set(IDS)) == len(IDS) and all(re.fullmatch(r"\d\d\.\d+", i) for i in IDS)
    assert IDS == sorted(IDS, key=lambda i: tuple(map(int, i.split("."))))
    assert all(e.id[:2] == e.notebook[:2] and e.statement and e.mistakes for e in ALL)


@pytest.mark.parametrize("ex", ALL, ids=IDS)
def test_the_reference_solution_passes(ex):
    result = ex.check(ex.reference)
    assert result.ok is True, str(result)


@pytest.mark.parametrize("ex, k", MISTAKES, ids=[f"{e.id}-{k}" for e, k in MISTAKES])
def test_a_listed_mistake_fails_with_its_own_hint(ex, k):
    mistake = ex.mistakes[k]
    result = ex.check(mistake.answer)
    assert result.ok is False and result.message == mistake.hint


@pytest.mark.parametrize("ex", ALL, ids=IDS)
def test_each_mistake_has_a_hint_of_its_own(ex):
    hints = [m.hint for m in ex.mistakes]
    assert len(set(hints)) == len(hints) and ex.hint() not in hints


@pytest.mark.parametrize("blank", [..., None], ids=["ellipsis", "None"])
@pytest.mark.parametrize("ex", ALL, ids=IDS)
def test_a_blank_answer_reports_not_attempted(ex, blank):
    result = ex.check(blank)
    assert result.ok is None and str(result).startswith("Not attempted")


@pytest.mark.parametrize("ex", ALL, ids=IDS)
def test_random_wrong_answers_fail(ex):
    rng = random.Random(f"wrong {ex.id}")
    for _ in range(3):
        result = ex.check(random_wrong(ex, rng))
        assert result.ok is False, str(result)
        assert result.message and "\n" not in result.message


def _revealing(ex: exercises.Exercise) -> list[str]:
    """Texts that would give the answer away if a failing message contained them."""
    texts = [ex.solution_code.strip()]
    if ex.kind == "function":
        texts += [line.strip() for line in ex.solution_code.splitlines() if line.strip().startswith("return ")]
    refs = ex.reference if isinstance(ex.reference, (tuple, list)) else [ex.reference]
    if isinstance(ex.reference, dict):
        refs = list(ex.reference.values())
    if ex.kind in ("number", "choice"):
        for r in refs:
            if isinstance(r, (int, float)):
                texts += [t for t in (repr(float(r)), f"{r:g}") if len(t) >= 3]
            elif isinstance(r, str):
                texts.append(r)
    return texts


@pytest.mark.parametrize("ex", ALL, ids=IDS)
def test_no_failing_message_or_hint_contains_the_answer(ex):
    rng = random.Random(f"leak {ex.id}")
    answers = [m.answer for m in ex.mistakes] + [random_wrong(ex, rng) for _ in range(3)]
    messages = [ex.check(a).message for a in answers] + [str(ex.hint())]
    for text in _revealing(ex):
        pattern = re.compile(rf"(?<![\w.]){re.escape(text)}(?![\w])")  # whole words: "he" occurs inside "the"
        for message in messages:
            assert not pattern.search(message), f"{ex.id} gives away {text!r}: {message}"
    assert any(text in ex.solution() for text in _revealing(ex))  # solution() is where the answer lives


def test_a_students_exception_is_reported_in_one_line_with_the_input_it_failed_on():
    def my_topo(root):
        return [root] + [1 / 0]

    result = exercises.get("02.1").check(my_topo)
    assert result.ok is False
    assert result.message == ("your code raised ZeroDivisionError: division by zero -- on input b * b with b = a + a")


def test_code_that_runs_too_long_is_stopped_and_told_so(monkeypatch):
    monkeypatch.setattr(core, "STEP_BUDGET", 10_000)

    def my_clip(g, c):
        while np.linalg.norm(g) > c:  # never changes g: loops forever
            pass
        return g

    result = exercises.get("13.2").check(my_clip)
    assert result.ok is False
    assert "more than 10,000 steps" in result.message and "g = [30, −40] (norm 50), c = 5" in result.message


def test_a_loop_that_catches_every_exception_is_still_stopped(monkeypatch):
    monkeypatch.setattr(core, "STEP_BUDGET", 10_000)

    def my_newton_step(f, x):
        while True:
            try:
                x = x + 0
            except Exception:
                pass

    assert "without returning" in exercises.get("07.2").check(my_newton_step).message


def test_a_one_line_endless_loop_that_never_starts_a_new_line_is_stopped_too():
    # `while True: pass` jumps back within one line: no line event ever fires, only bytecodes run.
    def my_newton_step(f, x):
        while True: pass  # noqa: E701 -- the student's one-liner is the point

    assert "without returning" in exercises.get("07.2").check(my_newton_step).message


def test_a_function_whose_body_is_still_an_ellipsis_is_not_attempted():
    def my_softmax(scores):
        ...

    result = exercises.get("08.2").check(my_softmax)
    assert result.ok is None and "fill in its body" in result.message


def test_an_answer_of_the_wrong_type_is_told_what_was_expected():
    assert exercises.get("01.1").check("6").message.startswith("expected a number, got str")
    assert "expected a function" in exercises.get("02.1").check(3.0).message
    assert "plain number" in exercises.get("01.1").check(Value(-4.5)).message


def test_hint_and_solution_show_as_text():
    ex = exercises.get("03.2")
    assert repr(ex.hint()) == str(ex.hint()) and ex.hint().startswith("Hint (03.2)")
    assert "def my_sigmoid(v):" in ex.solution() and "v.grad +=" in ex.solution()


def test_progress_reflects_what_this_session_checked(monkeypatch):
    monkeypatch.setattr(core, "_SESSION", {})
    ex1, ex2, ex3 = exercises.get("01.1"), exercises.get("01.2"), exercises.get("01.3")
    assert exercises.progress("01").not_attempted == ("01.1", "01.2", "01.3")
    ex1.check(ex1.reference)
    ex2.check(ex2.mistakes[0].answer)
    ex3.check(...)
    report = exercises.progress(1)
    assert (report.done, report.wrong, report.not_attempted) == (("01.1",), ("01.2",), ("01.3",))
    ex2.check(ex2.reference)
    assert exercises.progress("01_values_and_the_chain_rule").done == ("01.1", "01.2")
    assert str(exercises.progress("01")).startswith("notebook 01: 2 of 3 done")


def test_progress_of_an_unknown_notebook_says_so():
    with pytest.raises(ValueError, match="notebook 99 has no exercises"):
        exercises.progress("99")


@pytest.mark.parametrize("number", sorted(NOTEBOOKS))
def test_each_notebook_ends_with_its_generated_exercise_cells_stored_unattempted(number):
    nbformat = pytest.importorskip("nbformat")
    nb = nbformat.read(ROOT / "notebooks" / f"{NOTEBOOKS[number]}.ipynb", as_version=4)
    expected = cells.cells(number)
    tail = nb.cells[-len(expected):]
    assert [(c.cell_type, c.source) for c in tail] == [(kind, source) for kind, source, _ in expected]
    assert all(cells.TAG in c.metadata for c in tail)
    assert sum(cells.TAG in c.metadata for c in nb.cells) == len(expected)
    for c in tail:  # stored as a student meets them: run (the notebooks keep their outputs), not attempted
        if c.cell_type == "code" and ".check(" in c.source:
            shown = "".join("".join(o.get("data", {}).get("text/plain", o.get("text", ""))) for o in c.outputs)
            assert shown.startswith("Not attempted"), f"{shown[:80]!r} in {c.source[:40]!r}"


@pytest.mark.parametrize("ex", ALL, ids=IDS)
def test_the_students_cell_runs_unattempted_and_the_teachers_cell_passes(ex):
    for solved, verdict in ((False, None), (True, True)):
        namespace: dict[str, object] = {}
        exec("from microgradx import exercises", namespace)
        exec(cells.code(ex, solved=solved), namespace)
        assert ex.check(namespace[ex.name]).ok is verdict


def test_check_paths_use_no_threads_subprocesses_or_signals():
    """They must run in Pyodide (the browser course) too."""
    folder = ROOT / "microgradx" / "exercises"
    for path in folder.glob("*.py"):
        if path.name in ("teacher.py", "__main__.py", "cells.py"):
            continue  # the teacher's command runs notebooks with nbclient, outside any check
        source = path.read_text()
        assert not re.search(r"^\s*(import|from)\s+(threading|subprocess|signal|multiprocessing)\b", source, re.M), path


def _teacher(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "microgradx.exercises", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=600)


def test_the_teacher_command_writes_solved_executed_notebooks_into_a_folder(tmp_path):
    pytest.importorskip("nbclient")
    before = {p: p.read_bytes() for p in (ROOT / "notebooks").iterdir()}
    out = tmp_path / "solutions"
    run = _teacher(str(out), "--only", "01,03", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert sorted(p.name for p in out.iterdir()) == ["01_values_and_the_chain_rule.ipynb", "03_a_neuron.ipynb"]
    import nbformat

    nb = nbformat.read(out / "03_a_neuron.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert [c.execution_count for c in code] == list(range(1, len(code) + 1))
    shown = "".join(o.get("text", "") + str(o.get("data", {}).get("text/plain", "")) for c in code for o in c.outputs)
    assert "Right (03.1)" in shown and "Right (03.2)" in shown and "notebook 03: 2 of 2 done" in shown
    assert not any(o.get("output_type") == "error" for c in code for o in c.outputs)
    assert {p: p.read_bytes() for p in (ROOT / "notebooks").iterdir()} == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["solutions"]


@pytest.mark.parametrize("target", ["notebooks", "notebooks/solved", "solved"])
def test_the_teacher_command_refuses_to_write_into_the_repository(target, capsys):
    from microgradx.exercises.__main__ import main

    before = sorted(ROOT.rglob("*.ipynb"))
    assert main([str(ROOT / target), "--only", "01"]) == 2
    assert "refusing to write solutions" in capsys.readouterr().err
    assert not (ROOT / "solved").exists() and not (ROOT / "notebooks" / "solved").exists()
    assert sorted(ROOT.rglob("*.ipynb")) == before
