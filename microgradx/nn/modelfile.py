"""Model files: an architecture and its parameters as JSON (never pickle), read with every check first.

::

    {"format": "microgradx.nn", "version": 1,
     "architecture": {"type": "MLP", "nin": 2, "nouts": [4, 1], ...},
     "parameters": {"layers.0.neurons.0.w.0": 0.53, ...}}
"""

from __future__ import annotations

import json
import os
from typing import Any

from ..files import write_atomic

__all__ = ["ModelFileError", "FORMAT", "FORMAT_VERSION", "MAX_PARAMETERS", "read_model_file", "write_model_file",
           "describe_config"]

FORMAT = "microgradx.nn"
FORMAT_VERSION = 1
#: The most parameters a model file may describe: checked from the architecture's numbers before
#: anything is built (a scalar engine at this size already needs gigabytes).
MAX_PARAMETERS = 10_000_000
_INT_DIGITS = 18  # longer integers are read as floats (inf if too large), never as huge Python ints


class ModelFileError(ValueError):
    """A saved model file could not be used (unreadable, not JSON, wrong architecture, ...)."""


def write_model_file(path: str | os.PathLike[str], architecture: dict[str, Any], parameters: dict[str, float]) -> None:
    """Write a model file atomically (see ``files.write_atomic``): a crash never leaves half a model behind."""
    doc = {"format": FORMAT, "version": FORMAT_VERSION, "architecture": architecture, "parameters": parameters}
    write_atomic(path, json.dumps(doc, indent=1), what="model file")


def read_model_file(path: str | os.PathLike[str]) -> tuple[dict[str, Any], dict[str, Any]]:
    """Parse and shape-check a model file; returns (architecture, parameters)."""
    name = os.fspath(path)
    try:
        with open(name, encoding="utf-8") as f:
            text = f.read()
    except OSError as e:
        raise ModelFileError(f"cannot read model file {name}: {e.strerror or e}") from None
    except UnicodeDecodeError:
        raise ModelFileError(f"{name} is not a text file, so not a model saved by microgradx") from None
    try:
        doc = json.loads(text, parse_int=_integer)
    except json.JSONDecodeError as e:
        hint = "it looks truncated" if e.pos >= len(text.rstrip()) else "it is not valid JSON"
        raise ModelFileError(f"{name}: {hint} ({e.msg} at line {e.lineno} column {e.colno}). "
                             "Save the model again with model.save(path).") from None
    except RecursionError:
        raise ModelFileError(f"{name}: its JSON is nested too deeply to be a model file; "
                             "save the model again with model.save(path)") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise ModelFileError(f"{name} is JSON but not a microgradx model file "
                             f"(expected a 'format': {FORMAT!r} entry); save one with model.save(path)")
    if doc.get("version") != FORMAT_VERSION:
        raise ModelFileError(f"{name} has format version {doc.get('version')!r}; "
                             f"this microgradx reads version {FORMAT_VERSION}")
    arch, params = doc.get("architecture"), doc.get("parameters")
    if not isinstance(arch, dict) or not isinstance(params, dict):
        raise ModelFileError(f"{name} lacks an 'architecture' object or a 'parameters' object")
    return arch, params


def _integer(digits: str) -> int | float:
    """A JSON integer: an int when short, else a float (``inf`` when too large), so that a damaged file's
    400-digit number is reported like any other non-finite parameter instead of overflowing later."""
    return int(digits) if len(digits.lstrip("-")) <= _INT_DIGITS else float(digits)


def describe_config(arch: dict[str, Any]) -> str:
    kind = arch.get("type")
    if kind == "MLP":
        return f"MLP({arch.get('nin')}, {arch.get('nouts')})"
    if kind == "Layer":
        return f"Layer({arch.get('nin')}, {arch.get('nout')})"
    if kind == "Neuron":
        return f"Neuron({arch.get('nin')})"
    return repr(arch)
