"""Builders for the four kinds of exercise: a number, a function, a graph the student builds, a choice that must work.

Each builder fills in what its kind shares (how an answer is read, the cell template, the solution code) so an
exercise definition states only its own content: the question, the reference, the typical mistakes and hints.
"""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from collections.abc import Callable, Sequence
from typing import Any

from .core import Case, Exercise, Mistake, as_number, as_numbers, register, run_cases, same

NOTEBOOKS = {
    "01": "01_values_and_the_chain_rule", "02": "02_backward_pass", "03": "03_a_neuron", "04": "04_xor_mlp",
    "05": "05_moons_and_optimizers", "06": "06_tracing_and_speed", "07": "07_higher_order", "08": "08_digits",
    "09": "09_backprop_in_matrix_form", "10": "10_losses", "11": "11_initialisation", "12": "12_dead_relu",
    "13": "13_exploding_gradients", "14": "14_batches_and_loss_surfaces", "15": "15_overfitting_and_regularisation",
}


def plain_source(function: Callable[..., Any]) -> str:
    """A function's source as a student writes it in a notebook: the type annotations (kept in the package for
    mypy) taken off every ``def`` line, the body and its comments untouched."""
    lines = textwrap.dedent(inspect.getsource(function)).splitlines()
    defs = [n for n in ast.walk(ast.parse("\n".join(lines))) if isinstance(n, ast.FunctionDef)]
    for node in sorted(defs, key=lambda n: n.lineno, reverse=True):
        args = node.args
        for a in [*args.posonlyargs, *args.args, *args.kwonlyargs, args.vararg, args.kwarg]:
            if a is not None:
                a.annotation = None
        indent = lines[node.lineno - 1][: len(lines[node.lineno - 1]) - len(lines[node.lineno - 1].lstrip())]
        header = f"{indent}def {node.name}({ast.unparse(args)}):"
        lines[node.lineno - 1: node.body[0].lineno - 1] = [header]
    return re.sub(r"  # type: ignore\[[\w-]+\]", "", "\n".join(lines)) + "\n"


def _notebook(id: str) -> str:
    return NOTEBOOKS[id.split(".")[0]]


def number(id: str, statement: str, reference: Any, *, expected_by: Callable[[], Any],
           mistakes: Sequence[tuple[Any, str]], hint: str, explanation: str, rtol: float = 2e-3,
           atol: float = 1e-6, what: str = "a number", advise: Callable[[Any, Any], str] | None = None,
           observe: Callable[[Any], Any] | None = None) -> Exercise:
    """A number (or a few) worked out by hand. ``expected_by`` computes it with the library: an independent witness,
    so the hand-written ``reference`` is itself checked by the tests. ``observe`` reads other answer forms."""
    n = len(reference) if isinstance(reference, tuple) else 0

    def read(answer: Any) -> Any:
        return as_numbers(answer, n) if n else as_number(answer)

    def correct(obs: Any) -> bool:
        return same(obs, expected_by(), rtol, atol)

    return register(Exercise(
        id, _notebook(id), "number", statement, reference, observe=observe or read, correct=correct,
        mistakes=[Mistake(a, h) for a, h in mistakes], hint=hint, explanation=explanation,
        solution_code=f"answer = {reference!r}", template=f"answer = ...  # your answer: {what}",
        rtol=rtol, atol=atol, advise=advise))


def function(id: str, statement: str, reference: Callable[..., Any], *, cases: Sequence[Case],
             measure: Callable[..., Any], mistakes: Sequence[tuple[Callable[..., Any], str]], hint: str,
             explanation: str, template: str, rtol: float = 1e-6, atol: float = 1e-9,
             advise: Callable[[Any, Any], str] | None = None,
             expected_by: Callable[[], Any] | None = None, kind: str = "function") -> Exercise:
    """A function the student writes (kind "graph" when it returns a graph built from Values), run on ``cases``;
    ``measure(fn, *args)`` turns one run into an observation."""

    def observe(answer: Any) -> Any:
        return run_cases(answer, cases, measure)

    correct = None
    if expected_by is not None:
        witness = expected_by

        def correct(obs: Any) -> bool:
            return same(obs, witness(), rtol, atol)

    return register(Exercise(
        id, _notebook(id), kind, statement, reference, observe=observe, correct=correct,
        mistakes=[Mistake(f, h) for f, h in mistakes], hint=hint, explanation=explanation,
        solution_code=plain_source(reference), template=textwrap.dedent(template).strip(),
        name=reference.__name__, rtol=rtol, atol=atol, cases=cases, advise=advise))


def graph(id: str, statement: str, reference: Callable[..., Any], *, observe: Callable[[Any], Any],
          mistakes: Sequence[tuple[Callable[..., Any], str]], hint: str, explanation: str, template: str,
          correct: Callable[[Any], bool] | None = None, advise: Callable[[Any, Any], str] | None = None) -> Exercise:
    """A graph the student builds with Values: ``reference`` and each mistake are builders; the answer is the output."""
    source = plain_source(reference)
    return register(Exercise(
        id, _notebook(id), "graph", statement, reference(), observe=observe, correct=correct,
        mistakes=[Mistake(f(), h) for f, h in mistakes], hint=hint, explanation=explanation,
        solution_code=f"{source}\nanswer = {reference.__name__}()", template=textwrap.dedent(template).strip(),
        advise=advise))


def choice(id: str, statement: str, reference: Any, *, judge: Callable[[Any], Any],
           mistakes: Sequence[tuple[Any, str]], hint: str, explanation: str, what: str,
           advise: Callable[[Any, Any], str] | None = None) -> Exercise:
    """A choice that must work: ``judge(answer)`` tries it and returns "ok" or the symptom of what went wrong."""
    return register(Exercise(
        id, _notebook(id), "choice", statement, reference, observe=judge, correct=lambda obs: obs == "ok",
        mistakes=[Mistake(a, h) for a, h in mistakes], hint=hint, explanation=explanation,
        solution_code=f"answer = {reference!r}", template=f"answer = ...  # your answer: {what}", advise=advise))
