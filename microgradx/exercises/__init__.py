"""Exercises that answer back: two or more at the end of every notebook, each with check, hint and solution.

    >>> from microgradx import exercises
    >>> ex = exercises.get("01.1")
    >>> ex.check(...)                   # not attempted yet
    >>> ex.check(1.5)                   # a typical mistake, answered with its own hint
    >>> exercises.progress("01")        # done / wrong / not attempted, for this session

``all()`` lists every exercise (``.id``, ``.notebook``, ``.kind``, ``.statement``, ``.reference``,
``.mistakes``); the reference solutions live in this package, never in the notebooks; ``python -m
microgradx.exercises DIR`` writes the notebooks with them filled in and executed, for teachers.
"""

from __future__ import annotations

from . import chain, matrices, networks, training  # noqa: F401  (importing them registers their exercises)
from .core import Exercise, Mistake, Progress, Result, all_exercises, get, progress

__all__ = ["Exercise", "Mistake", "Progress", "Result", "all", "get", "progress"]


def all() -> list[Exercise]:  # noqa: A001  (the name the issue asks for; shadows the builtin only here)
    """Every exercise, in course order (ids "01.1", "01.2", ...)."""
    return all_exercises()
