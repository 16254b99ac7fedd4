"""The command line: ``microgradx train | draw | demo | gallery`` (see ``main.py``)."""

from .main import build_parser, main

__all__ = ["main", "build_parser"]
