"""The machinery of exercises that answer back: an exercise, its result, the registry and a session's progress.

An exercise turns an answer into an *observation* (a number, the outputs of the student's function on fixed
inputs, the symptom of a training run) and judges the observation, never the answer's text:

* the reference answer's observation is what a right answer must match (or ``correct`` decides);
* each typical mistake's observation is recognised the same way, and answered with that mistake's own hint;
* anything else gets advice built from what the student's answer *did* (its sign, its size, the input it
  failed on), never from the expected answer, which only :meth:`Exercise.solution` shows.

Student code runs under a step budget, not a clock alone: Pyodide (the browser course) has no threads and no
signals, so a watchdog cannot interrupt a loop. Instead ``sys.settrace`` counts the steps (lines and
bytecodes: ``while True: pass`` never starts a new line) the student's own code executes (library frames are
not traced and run at full speed) and stops it, with a message, after :data:`STEP_BUDGET` steps or
:data:`SECONDS` seconds, whichever comes first; the clock is read inside the
counter, so both limits work the same in CPython and in Pyodide.
"""

from __future__ import annotations

import functools
import math
import os
import re
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from types import FrameType
from typing import Any

import numpy as np

__all__ = [
    "Case", "Exercise", "Failed", "Feedback", "Message", "Mistake", "Progress", "Result",
    "STEP_BUDGET", "SECONDS", "all_exercises", "call_limited", "get", "progress", "register", "run_cases",
]

#: Lines of the student's own code one call may run before it is stopped as "too long".
STEP_BUDGET = 2_000_000
#: Seconds one call may take (checked inside the step counter, so it needs no thread or signal).
SECONDS = 10.0

_LIBRARY_DIRS = tuple(os.path.dirname(m.__file__ or "") + os.sep for m in (sys.modules["microgradx"], np))


class Message(str):
    """A text that shows as itself in a notebook (no quotes, real line breaks)."""

    def __repr__(self) -> str:
        return str(self)


class Feedback(Exception):
    """Raised while observing an answer that cannot be judged (wrong type, wrong shape): the message says why."""


class _OutOfSteps(BaseException):
    """Stops a student's call; a BaseException so that ``except Exception`` in their code does not swallow it."""


@dataclass(frozen=True)
class Case:
    """One input a function answer is run on, with the words a message uses to name it."""

    name: str
    args: tuple[Any, ...] = ()


@dataclass(frozen=True)
class Failed:
    """The student's code failed on one case: ``what`` is the exception's type name, or "timeout".

    Two failures are the same symptom when they fail the same way on the same case; the message is for the student.
    """

    what: str
    case: str
    message: str = field(default="", compare=False)

    def describe(self) -> str:
        if self.what == "timeout":
            return (f"your code ran for more than {STEP_BUDGET:,} steps (or {SECONDS:g} s) on input {self.case} "
                    "without returning: is there a loop whose condition never changes?")
        return f"your code raised {self.what}: {self.message} -- on input {self.case}"


@dataclass(frozen=True)
class Mistake:
    """A typical wrong answer (in the form ``check`` takes) and the hint its symptom earns."""

    answer: Any
    hint: str


@dataclass(frozen=True)
class Result:
    """What ``check`` says: ``ok`` is True (right), False (wrong) or None (not attempted); ``str()`` is the message."""

    exercise: str
    ok: bool | None
    message: str

    def __str__(self) -> str:
        mark = {True: "Right", False: "Not yet", None: "Not attempted"}[self.ok]
        return f"{mark} ({self.exercise}): {self.message}"

    def __repr__(self) -> str:
        return str(self)

    def __bool__(self) -> bool:
        return self.ok is True


def _one_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    line = text[0] if text else ""
    return line if len(line) <= 160 else line[:157] + "..."


def call_limited(fn: Callable[[], Any], steps: int | None = None, seconds: float | None = None) -> Any:
    """Call ``fn()``, stopping it with ``_OutOfSteps`` after ``steps`` lines of non-library code or ``seconds``
    (by default :data:`STEP_BUDGET` and :data:`SECONDS`)."""
    steps = STEP_BUDGET if steps is None else steps
    seconds = SECONDS if seconds is None else seconds
    count = 0
    deadline = time.monotonic() + seconds

    def count_lines(frame: FrameType, event: str, arg: Any) -> Any:
        nonlocal count
        if event == "line" or event == "opcode":  # opcodes too: `while True: pass` never starts a new line
            count += 1
            if count > steps or (count % 4096 == 0 and time.monotonic() > deadline):
                raise _OutOfSteps
        return count_lines

    def on_call(frame: FrameType, event: str, arg: Any) -> Any:
        if frame.f_code.co_filename.startswith(_LIBRARY_DIRS):
            return None  # the library's own frames run untraced, at full speed
        frame.f_trace_opcodes = True
        return count_lines

    previous = sys.gettrace()
    sys.settrace(on_call)
    try:
        return fn()
    finally:
        sys.settrace(previous)


def run_cases(fn: Any, cases: Sequence[Case], measure: Callable[..., Any]) -> tuple[Any, ...]:
    """``measure(fn, *case.args)`` for every case, each under the step budget; a failure becomes a :class:`Failed`."""
    if not callable(fn):
        raise Feedback(f"expected a function (write `def ...` and pass its name), got {type(fn).__name__}")
    out: list[Any] = []
    for case in cases:
        try:
            out.append(call_limited(functools.partial(measure, fn, *case.args)))
        except _OutOfSteps:
            out.append(Failed("timeout", case.name))
        except Feedback:
            raise
        except RecursionError as error:
            out.append(Failed("RecursionError", case.name, _one_line(error)))
        except Exception as error:  # the student's exception, reported in one line with its input
            out.append(Failed(type(error).__name__, case.name, _one_line(error)))
    return tuple(out)


def same(a: Any, b: Any, rtol: float = 1e-6, atol: float = 1e-9) -> bool:
    """Do two observations agree (numbers within a tolerance, the rest exactly)?"""
    if isinstance(a, (Failed, str)) or isinstance(b, (Failed, str)):
        return type(a) is type(b) and bool(a == b)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return len(a) == len(b) and all(same(x, y, rtol, atol) for x, y in zip(a, b))
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        return x.shape == y.shape and bool(np.allclose(x, y, rtol=rtol, atol=atol))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        if math.isnan(a) or math.isnan(b):
            return False
        return math.isclose(a, b, rel_tol=rtol, abs_tol=atol)
    return bool(a == b)


def as_number(answer: Any) -> float:
    """The answer as a float, or Feedback saying what was given instead."""
    if isinstance(answer, bool) or not isinstance(answer, (int, float, np.integer, np.floating)):
        if hasattr(answer, "data") and isinstance(answer.data, (int, float)):
            raise Feedback("expected a plain number, got a Value: give its `.data` or `.grad`, whichever is asked")
        raise Feedback(f"expected a number, got {type(answer).__name__} {answer!r:.40}")
    x = float(answer)
    if not math.isfinite(x):
        raise Feedback(f"your answer is {x}: a derivative here is a finite number")
    return x


def as_numbers(answer: Any, n: int) -> tuple[float, ...]:
    """The answer as ``n`` floats (a tuple or list), or Feedback."""
    if not isinstance(answer, (tuple, list, np.ndarray)) or len(answer) != n:
        raise Feedback(f"expected {n} numbers, as a tuple like ({', '.join(['...'] * n)})")
    return tuple(as_number(x) for x in answer)


def number_advice(got: float, expected: float) -> str:
    """Advice from the sign and size of a wrong number, without the number itself."""
    if expected != 0 and got != 0 and (got > 0) != (expected > 0):
        return ("the sign is wrong. Nudge the input up a little and see whether the output goes up (positive) "
                "or down (negative); then recheck each factor's sign.")
    if expected == 0:
        return "not zero as it should be: find the factor on the path that is zero."
    if got == 0:
        return "zero, but this one is not: some path does carry a gradient. Which factor did you set to 0?"
    ratio = abs(got / expected)
    if 0.98 < ratio < 1.02:
        return "close, but not within the tolerance: keep more digits (3 significant are enough)."
    size = "too large" if ratio > 1 else "too small"
    return f"the sign is right but the size is {size}. Recheck each factor along the path (and the arithmetic)."


NOT_ATTEMPTED = "replace the `...` with your answer, then run the cell again."


class Exercise:
    """One exercise: a statement, a reference answer, typical mistakes, and a check that answers back.

    ``observe(answer)`` turns an answer into what is judged; ``correct(observation)`` decides (by default:
    the same as the reference's observation); ``advise(answer, observation)`` explains an unrecognised wrong
    answer. ``template`` is the code cell a student fills in; ``name`` the variable or function it defines.
    """

    def __init__(self, id: str, notebook: str, kind: str, statement: str, reference: Any, *,
                 observe: Callable[[Any], Any], mistakes: Iterable[Mistake], hint: str, explanation: str,
                 solution_code: str, template: str, name: str = "answer",
                 correct: Callable[[Any], bool] | None = None,
                 advise: Callable[[Any, Any], str] | None = None,
                 rtol: float = 1e-6, atol: float = 1e-9, cases: Sequence[Case] = ()) -> None:
        if kind not in ("number", "function", "graph", "choice"):
            raise ValueError(f"unknown kind {kind!r}")
        self.id, self.notebook, self.kind, self.statement = id, notebook, kind, statement
        self.reference = reference
        self.mistakes: tuple[Mistake, ...] = tuple(mistakes)
        self._observe, self._correct, self._advise = observe, correct, advise
        self._hint, self._explanation, self.solution_code = hint, explanation, solution_code
        self.template, self.name, self.rtol, self.atol = template, name, rtol, atol
        self.cases = tuple(cases)
        self._expected: Any = None
        self._mistake_obs: list[Any] | None = None

    def __repr__(self) -> str:
        return f"Exercise({self.id!r}, {self.kind}: {self.statement.splitlines()[0]})"

    def _same(self, a: Any, b: Any) -> bool:
        return same(a, b, self.rtol, self.atol)

    def expected(self) -> Any:
        """The reference answer's observation (computed once)."""
        if self._expected is None:
            self._expected = self._observe(self.reference)
        return self._expected

    def _is_correct(self, obs: Any) -> bool:
        if self._correct is not None:
            return self._correct(obs)
        return self._same(obs, self.expected())

    def _diagnose(self, answer: Any) -> tuple[bool | None, str]:
        if answer is None or answer is Ellipsis:
            return None, NOT_ATTEMPTED
        try:
            obs = self._observe(answer)
        except Feedback as feedback:
            return False, str(feedback)
        outcomes = obs if self.cases and isinstance(obs, tuple) else ()
        if outcomes and all(o is None for o in outcomes):
            return None, "your function returns None: fill in its body (it still holds `...`), then run again."
        if self._is_correct(obs):
            return True, "well done."
        if self._mistake_obs is None:
            self._mistake_obs = [self._observe(m.answer) for m in self.mistakes]
        for mistake, mobs in zip(self.mistakes, self._mistake_obs):
            if self._same(obs, mobs):
                return False, mistake.hint
        return False, self._advice(answer, obs, outcomes)

    def _advice(self, answer: Any, obs: Any, outcomes: tuple[Any, ...]) -> str:
        """What to tell a student whose answer is wrong in no way a listed mistake foresaw (never the answer)."""
        for o in outcomes:
            if isinstance(o, Failed):
                return o.describe()
        for o, case in zip(outcomes, self.cases):
            if o is None:
                return f"your function returned None on input {case.name}: is a `return` missing?"
        if self._advise is not None:
            return self._advise(answer, obs)
        if self.kind == "number" and isinstance(obs, float):
            return number_advice(obs, self.expected())
        if self.kind == "number" and isinstance(obs, tuple):
            off = [str(k + 1) for k, (a, b) in enumerate(zip(obs, self.expected())) if not self._same(a, b)]
            which = f"number {off[0]} is" if len(off) == 1 else f"numbers {', '.join(off)} are"
            return f"of your {len(obs)} numbers, {which} not right yet."
        for o, e, case in zip(outcomes, self.expected(), self.cases):
            if not self._same(o, e):
                shown = (np.array2string(o, precision=4, separator=", ").replace("\n", "")
                         if isinstance(o, np.ndarray) else repr(o))
                shown = shown if len(shown) <= 120 else shown[:117] + "..."
                return f"on input {case.name} your function gives {shown}, which is not right yet."
        return "that is not it yet. Try `ex.hint()`."

    def check(self, answer: Any) -> Result:
        """Judge ``answer``: right, wrong with advice a student can act on, or not attempted (``...``/None)."""
        ok, message = self._diagnose(answer)
        _SESSION[self.id] = ok if answer is not None and answer is not Ellipsis else _SESSION.get(self.id)
        return Result(self.id, ok, message)

    def hint(self) -> Message:
        """A nudge towards the answer that does not give it away."""
        return Message(f"Hint ({self.id}): {self._hint}")

    def solution(self) -> Message:
        """The reference answer, as code, and why it is right."""
        return Message(f"Solution ({self.id}):\n{self.solution_code.rstrip()}\n\n{self._explanation}")


_REGISTRY: dict[str, Exercise] = {}
_SESSION: dict[str, bool | None] = {}


def register(exercise: Exercise) -> Exercise:
    """Add an exercise to the registry (ids are unique)."""
    if exercise.id in _REGISTRY:
        raise ValueError(f"exercise {exercise.id} is defined twice")
    _REGISTRY[exercise.id] = exercise
    return exercise


def _sort_key(id: str) -> tuple[int, int]:
    nb, k = id.split(".")
    return int(nb), int(k)


def all_exercises() -> list[Exercise]:
    """Every exercise, in course order."""
    return [_REGISTRY[k] for k in sorted(_REGISTRY, key=_sort_key)]


def get(id: str) -> Exercise:
    """The exercise with this id, e.g. ``get("03.2")``."""
    try:
        return _REGISTRY[id]
    except KeyError:
        raise KeyError(f"no exercise {id!r}; the ids are {', '.join(sorted(_REGISTRY, key=_sort_key))}") from None


def _notebook_number(notebook: str | int) -> str:
    match = re.match(r"\s*0*(\d+)", str(notebook))
    if match is None:
        raise ValueError(f"which notebook? give its number (3 or '03') or its name ('03_a_neuron'), got {notebook!r}")
    return f"{int(match.group(1)):02d}"


@dataclass(frozen=True)
class Progress:
    """A notebook's exercises as this session checked them: done, wrong (last check failed), not attempted."""

    notebook: str
    done: tuple[str, ...]
    wrong: tuple[str, ...]
    not_attempted: tuple[str, ...]

    def __str__(self) -> str:
        total = len(self.done) + len(self.wrong) + len(self.not_attempted)
        lines = [f"notebook {self.notebook}: {len(self.done)} of {total} done"]
        for label, ids in (("done", self.done), ("wrong", self.wrong), ("not attempted", self.not_attempted)):
            if ids:
                lines.append(f"  {label:14s} {', '.join(ids)}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        return str(self)


def progress(notebook: str | int) -> Progress:
    """Where this session stands on a notebook's exercises (from the answers checked since the kernel started)."""
    number = _notebook_number(notebook)
    ids = [e.id for e in all_exercises() if e.id.startswith(number + ".")]
    if not ids:
        raise ValueError(f"notebook {number} has no exercises")
    state = {i: _SESSION.get(i) for i in ids}
    return Progress(number, tuple(i for i in ids if state[i] is True), tuple(i for i in ids if state[i] is False),
                    tuple(i for i in ids if state[i] is None))
