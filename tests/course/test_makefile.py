"""The Makefile's set-up: every target that installs the package has a rule that does it.

Dry runs (``make -n``) with make's built-in rules off, so a stamp no rule makes is an error here
instead of make's guess (it once tried to link ``.venv/.installed`` with cc, and `make demo` failed
on a fresh clone).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = [pytest.mark.slow, pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")]


def make(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["make", "--no-builtin-rules", "--no-print-directory", *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def extras_installed_by_targets() -> set[str]:
    """The extras each target passes to ``$(call install,...)`` (the empty string: the package alone)."""
    text = (ROOT / "Makefile").read_text()
    named = re.findall(r"\$\(call install,(.*)\)\s*$", text, re.M)
    # (EXTRAS is `make test`'s, "test" unless the caller sets it; $(comma) is a comma)
    return {m.strip().replace("$(EXTRAS)", "test").replace("$(comma)", ",") for m in named}


@pytest.mark.parametrize("extras", sorted(extras_installed_by_targets()))
def test_the_install_stamp_of_every_target_has_a_rule_that_runs_pip(extras):
    venv = f"VENV={ROOT / '.venv-dry-run-never-made'}"  # (a dry run makes nothing, so this stays a name)
    found = make("--eval", f"print-stamp: ; @echo $(call installed,{extras})", "print-stamp", venv)
    assert found.returncode == 0, found.stderr
    stamp = found.stdout.strip()
    dry = make("-n", stamp, f"EXTRAS_NOW={extras}", venv)
    assert dry.returncode == 0, f"make has no rule for {stamp}: {dry.stderr}"
    wanted = f"pip install --quiet -e '.[{extras}]'" if extras else "pip install --quiet -e '.'"
    assert wanted in dry.stdout
