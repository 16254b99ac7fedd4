"""Checks a command makes before its work: the programs it needs are installed and its outputs can be written.

Training for a minute and then failing on a missing ``dot``, a missing matplotlib
or a read-only folder wastes the minute; these checks fail first, with a message
that says what is missing and the command that installs it.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import graphviz

from ..draw.dot import INSTALL_HELP, GraphvizNotFoundError
from ..files import check_writable

__all__ = ["MissingProgramError", "need_dot", "need_matplotlib", "writable_file", "writable_folder", "one_line"]

PLOT_INSTALL = "pip install 'microgradx[plot]'"


class MissingProgramError(RuntimeError):
    """A program or an optional package the command needs is not installed; the message says how to install it."""


def one_line(text: str) -> str:
    """``text`` with its lines joined by ``; `` (the command line prints every error as one line)."""
    return "; ".join(" ".join(line.split()) for line in text.splitlines() if line.strip())


def _install_commands() -> str:
    """The drawing library's install advice on one line: ``sudo apt-get install graphviz (Debian/Ubuntu); ...``."""
    rows = [line.split(":", 1) for line in INSTALL_HELP.splitlines() if line.startswith(" ") and ":" in line]
    return "; ".join(f"{command.strip()} ({where.strip()})" for where, command in rows)


def need_dot(why: str, also: str = "") -> None:
    """MissingProgramError, with the install commands (and ``also``), unless Graphviz's ``dot`` runs."""
    try:
        graphviz.version()
    except (graphviz.ExecutableNotFound, GraphvizNotFoundError):
        raise MissingProgramError(f"{why} needs Graphviz's `dot` program, which was not found on PATH; "
                                  f"install Graphviz with one of: {_install_commands()}{also}") from None
    except (OSError, RuntimeError, subprocess.SubprocessError):
        pass  # dot is there but `dot -V` failed oddly: the drawing itself will say what Graphviz said


def need_matplotlib(why: str) -> None:
    """MissingProgramError, with the pip command, unless matplotlib imports."""
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise MissingProgramError(f"{why} needs matplotlib, which is not installed: {PLOT_INSTALL}") from None


def writable_file(path: str | os.PathLike[str], what: str) -> None:
    """OSError (write_atomic's, naming ``path``) unless a file can be written there."""
    check_writable(path, what)


def writable_folder(folder: str | os.PathLike[str], what: str) -> Path:
    """Create ``folder`` if needed and check a file can be written in it; OSError saying which and why."""
    path = Path(folder)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise OSError(f"cannot write {what} in {path}: it is a file, not a folder; give a folder name") from None
    except OSError as e:
        reason = e.strerror or type(e).__name__
        raise OSError(f"cannot create the folder {path} for {what}: {reason}; give a folder you can write "
                      "in (for example one under your home folder)") from None
    try:
        check_writable(path / "check", what)  # creates and removes a temporary file beside path/check
    except OSError as e:
        reason = os.strerror(e.errno) if e.errno else str(e)
        raise OSError(f"cannot write {what} in the folder {path}: {reason}; give a folder you can write in") from None
    return path
