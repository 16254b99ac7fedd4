"""For teachers: the notebooks with every exercise's reference solution filled in and executed.

``python -m microgradx.exercises DIR`` reads the course notebooks, replaces each exercise cell's template with
the reference solution, executes each notebook top to bottom in a fresh kernel (nbclient), and writes them to
``DIR``. It refuses a ``DIR`` inside the repository (the students' notebooks must never hold the answers);
nothing is written unless every notebook ran, and each file is written atomically.
"""

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path

from ..files import write_atomic
from .cells import with_exercises
from .kinds import NOTEBOOKS

#: The course notebooks of a clone (``pip install`` does not ship them: pass ``notebooks=`` then).
COURSE = Path(__file__).resolve().parents[2] / "notebooks"


def _inside(path: Path, folder: Path) -> bool:
    return path == folder or folder in path.parents


def refuse_repository(out: Path, notebooks: Path) -> None:
    """Raise ValueError if ``out`` is the notebooks folder, inside it, or inside the repository holding it."""
    out, notebooks = out.resolve(), notebooks.resolve()
    repo = notebooks.parent if (notebooks.parent / "pyproject.toml").exists() else notebooks
    if _inside(out, notebooks) or _inside(out, repo):
        raise ValueError(f"refusing to write solutions into {out}: it is inside the repository ({repo}), where "
                         "students would find them. Name a folder outside it.")


def solved_notebooks(out: str | Path, notebooks: str | Path = COURSE, only: Sequence[str] = (),
                     timeout: int = 600) -> list[Path]:
    """Write the executed, solved notebooks into ``out``; ``only`` limits them to some numbers ("01", "03")."""
    import nbclient
    import nbformat

    out, source = Path(out), Path(notebooks)
    if not source.is_dir():
        raise FileNotFoundError(f"no notebooks folder at {source}: pass the course's notebooks/ folder")
    refuse_repository(out, source)
    wanted = [n for n in NOTEBOOKS if not only or n in {f"{int(k):02d}" for k in only}]
    if only and len(wanted) != len(set(only)):
        raise ValueError(f"unknown notebook numbers in {list(only)}; the course has {', '.join(NOTEBOOKS)}")
    done: list[tuple[str, str]] = []
    for number in wanted:
        path = source / f"{NOTEBOOKS[number]}.ipynb"
        nb = with_exercises(nbformat.read(path, as_version=4), number, solved=True)  # type: ignore[no-untyped-call]
        with tempfile.TemporaryDirectory() as scratch:  # a notebook's own files go here, not into out or the repo
            nbclient.NotebookClient(nb, timeout=timeout, kernel_name="python3",
                                    resources={"metadata": {"path": scratch}}).execute()
        done.append((path.name, nbformat.writes(nb)))  # type: ignore[no-untyped-call]
    out.mkdir(parents=True, exist_ok=True)
    return [write_atomic(out / name, text, what="solved notebook") for name, text in done]
