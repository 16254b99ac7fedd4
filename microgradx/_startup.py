"""Ctrl-C while the ``microgradx`` command is still importing: status 130 and one line, not a traceback.

Importing the package (numpy, graphviz, the op table) takes a few tenths of a second, before
the command line's own ``except KeyboardInterrupt`` exists. When, and only when, this process
is the ``microgradx`` command (its script, or ``python -m microgradx``), importing this module
(the package's first import) installs a SIGINT handler that ends it as the command line would after Ctrl-C;
:func:`interrupts_raise` (the first thing the command does) puts Python's handler back.
A program that imports microgradx keeps Python's own Ctrl-C behaviour untouched.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType

__all__ = ["interrupts_quiet_while_importing", "interrupts_raise"]

INTERRUPTED = 130  # 128 + SIGINT


def _is_the_command() -> bool:
    """Whether this process runs the ``microgradx`` command rather than a program that imports microgradx."""
    script = os.path.basename(sys.argv[0]) if sys.argv else ""
    if script in ("microgradx", "microgradx.exe", "microgradx-script.py"):
        return True
    argv = list(getattr(sys, "orig_argv", []))
    return any((a == "-m" and b == "microgradx") or a == "-mmicrogradx" for a, b in zip(argv, [*argv[1:], ""]))


def _end_quietly(signum: int, frame: FrameType | None) -> None:
    os.write(2, b"microgradx: interrupted\n")
    os._exit(INTERRUPTED)  # nothing is written yet that would need flushing; no half-imported state survives


def interrupts_quiet_while_importing() -> None:
    """Install :func:`_end_quietly` for SIGINT if this is the command and Python's handler is in place."""
    if (_is_the_command() and threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
        signal.signal(signal.SIGINT, _end_quietly)


def interrupts_raise() -> None:
    """Put back Python's SIGINT handler (KeyboardInterrupt), if the import installed ours."""
    if (signal.getsignal(signal.SIGINT) is _end_quietly
            and threading.current_thread() is threading.main_thread()):
        signal.signal(signal.SIGINT, signal.default_int_handler)


interrupts_quiet_while_importing()
