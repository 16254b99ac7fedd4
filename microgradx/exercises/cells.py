"""The exercise cells at the end of each notebook, generated from the registry (so they never go stale).

Each notebook ends with a markdown cell "Exercises" listing the statements, a code cell importing the
registry, one code cell per exercise, and a cell showing the notebook's progress. A student's cell holds the
exercise's template (``answer = ...`` or a ``def`` whose body is ``...``) and ``ex.check(...)``; a teacher's
holds the reference solution in its place. Every generated cell carries ``metadata.microgradx.exercise``, so
regenerating replaces them instead of appending twice, and the notebook's own cells are never touched.
"""

from __future__ import annotations

from typing import Any

from .core import Exercise, all_exercises
from .kinds import NOTEBOOKS

TAG = "microgradx"


def exercises_of(number: str) -> list[Exercise]:
    """A notebook's exercises, by its two-digit number."""
    return [e for e in all_exercises() if e.id.startswith(number + ".")]


def header(number: str) -> str:
    """The markdown cell that opens a notebook's exercises."""
    lines = ["## Exercises", "",
             "Try these before looking anything up. In each cell replace the `...` with your answer and run it: "
             "`ex.check(...)` says whether it is right, or what is wrong. Stuck? Uncomment `ex.hint()`; "
             "`ex.solution()` shows the answer. The last cell shows your progress.", ""]
    lines += [f"{k}. **{e.id}** ({e.kind}) {e.statement}" for k, e in enumerate(exercises_of(number), start=1)]
    return "\n".join(lines)


def code(exercise: Exercise, solved: bool = False) -> str:
    """The code cell of one exercise: its template (or, for teachers, the reference solution) and the check."""
    body = exercise.template.rstrip()
    if solved:  # the solution keeps the template's imports (the template is what it replaces)
        imports = [line for line in body.splitlines() if line.startswith(("import ", "from "))]
        body = "\n".join(imports + [""] * bool(imports) + [exercise.solution_code.rstrip()])
    return (f"# Exercise {exercise.id}\n{body}\n\n"
            f'ex = exercises.get("{exercise.id}")\nex.check({exercise.name})\n# ex.hint()\n# ex.solution()')


def cells(number: str, solved: bool = False) -> list[tuple[str, str, str]]:
    """(cell type, source, key) for every generated cell of notebook ``number``, in order."""
    out = [("markdown", header(number), "header"), ("code", "from microgradx import exercises", "import")]
    out += [("code", code(e, solved), e.id) for e in exercises_of(number)]
    out.append(("code", f'exercises.progress("{number}")', "progress"))
    return out


def with_exercises(nb: Any, number: str, solved: bool = False) -> Any:
    """``nb`` (an nbformat notebook) with its generated cells removed and fresh ones appended, outputs empty."""
    import nbformat

    if number not in NOTEBOOKS:
        raise ValueError(f"no notebook {number!r}")
    nb.cells = [c for c in nb.cells if TAG not in c.get("metadata", {})]
    for kind, source, key in cells(number, solved):
        make = nbformat.v4.new_markdown_cell if kind == "markdown" else nbformat.v4.new_code_cell
        nb.cells.append(make(source, metadata={TAG: {"exercise": key}}))  # type: ignore[no-untyped-call]
    return nb
