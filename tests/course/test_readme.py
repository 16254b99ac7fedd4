"""Every Python block in the README runs, and prints what the README says it prints."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[2] / "README.md"
BLOCK = re.compile(r"```(\w+)\n(.*?)```", re.S)


def examples() -> list[tuple[str, str | None]]:
    """(python code, the ```text block right after it, if any)."""
    blocks = [(m.group(1), m.group(2)) for m in BLOCK.finditer(README.read_text())]
    out = []
    for i, (lang, code) in enumerate(blocks):
        if lang == "python":
            nxt = blocks[i + 1] if i + 1 < len(blocks) else None
            out.append((code, nxt[1] if nxt and nxt[0] == "text" else None))
    return out


def test_the_readme_has_python_examples():
    assert len(examples()) >= 2


@pytest.mark.parametrize("code, expected", examples(), ids=lambda x: (x or "")[:30])
def test_readme_example_runs_and_prints_what_it_says(code, expected, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    buf = io.StringIO()
    with contextlib.redirect_stdout(buf):
        exec(compile(code, str(README), "exec"), {"__name__": "__readme__"})
    if expected is not None:
        assert buf.getvalue().strip() == expected.strip()
