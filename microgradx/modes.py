"""How the engine records, per thread: the graph (the default), nothing (``no_grad``), or structure only (tracing).

Each thread has its own mode, as in PyTorch: a thread inside ``no_grad()`` or
tracing for ``jit`` changes nothing for the others. The engine checks one
module-level count first (how many threads are in a mode other than the default),
so when nobody uses a mode, applying an op pays for one global read; the fast paths
read ``FAST_FLOAT`` instead, which folds that count into the test of the op's result.

Tracing enters through a hook: ``tracing(tracer)`` makes every op in this thread
record structure without computing (placeholders have no numbers), and calls
``tracer.constant(v)`` for every number that becomes a ``Value`` meanwhile.
"""

from __future__ import annotations

import gc
import numbers
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol

__all__ = ["TracingError", "UNKNOWN", "Unknown", "no_grad", "enable_grad", "is_recording", "tracing",
           "current_tracer", "gc_paused", "Tracer"]


class TracingError(RuntimeError):
    """Python control flow on a Value while ``jit`` traces a function."""


class Unknown:
    """The number a traced Value holds: unknown until ``jit`` runs the graph on a batch.

    Arithmetic on it gives it back (``x.data * 2`` is still unknown), so a function that only
    builds Values traces as before. Anything that would *decide* on the number -- a comparison,
    ``bool``, ``float``, ``int``, ``round``, ``math.*``, a format -- raises :class:`TracingError`,
    as JAX's tracers do: a branch frozen at trace time would be a wrong number for other samples.
    """

    __slots__ = ()

    def _refuse(self, *_: object) -> Any:
        raise TracingError(
            "a Value's number was read while jit was tracing (x.data in an `if`, a comparison, float(), "
            "math.*, round(), a format): the inputs are placeholders then, and the traced graph would keep one "
            "branch for every sample. Write the choice with Value ops instead -- x.relu() for max(x, 0), "
            "(x - y).relu() + y for max(x, y), x.abs(), x.leaky_relu(slope) -- or call the function eagerly "
            "on Values, without jit. Nor can an op built micrograd's way, Value(math.exp(x.data), (x,), 'exp') "
            "with a _backward closure, be traced: use the op table's methods (x.exp(), x.apply(OPS[name])).")

    def _same(self, *_: object) -> Unknown:
        return self

    __lt__ = __le__ = __gt__ = __ge__ = __eq__ = __ne__ = _refuse
    __bool__ = __float__ = __int__ = __index__ = __round__ = __trunc__ = _refuse
    __floor__ = __ceil__ = __complex__ = _refuse
    __add__ = __radd__ = __sub__ = __rsub__ = __mul__ = __rmul__ = __truediv__ = __rtruediv__ = _same
    __pow__ = __rpow__ = __neg__ = __pos__ = __abs__ = _same
    __hash__ = None  # type: ignore[assignment]

    def __array_ufunc__(self, *_: object, **__: object) -> Any:  # np.exp(x.data) decides on the number too
        return self._refuse()

    def __repr__(self) -> str:
        return "<unknown while tracing>"

    def __format__(self, spec: str) -> str:
        return repr(self) if not spec else self._refuse()  # print(x.data) works; f"{x.data:.3f}" would decide


#: The ``data`` of every placeholder and op result while ``jit`` traces.
UNKNOWN = Unknown()
numbers.Real.register(Unknown)  # so number() calls float() on it, which explains the refusal


class Tracer(Protocol):
    """What ``jit`` hands the engine while it records a function."""

    def constant(self, value: Any) -> None:
        """A number became a ``Value`` while tracing: a constant of the traced graph."""


class _State(threading.local):
    """One thread's mode."""

    recording: bool = True            # False inside no_grad()
    tracer: Tracer | None = None      # set while jit traces a function in this thread
    last_backward: weakref.ref[Any] | None = None  # the root of this thread's latest backward()


STATE = _State()
_lock = threading.Lock()
#: How many threads are in a mode other than "record the graph"; the engine's fast path checks this first.
unusual = 0


class _NoNumber:
    """A type no number has: ``FAST_FLOAT`` while some thread is in an unusual mode."""


#: ``float`` while no thread is in an unusual mode, else :class:`_NoNumber`. The fast paths (fastpath.py)
#: test ``type(data) is FAST_FLOAT``: one test for "a Python float, and no mode to respect", so a
#: numpy scalar, an int or any thread's ``no_grad()`` or tracing sends the op to the checked path.
FAST_FLOAT: Any = float  # (Any: a type test against it must not narrow data for mypy)


@contextmanager
def _mode(recording: bool, tracer: Tracer | None) -> Iterator[None]:
    global unusual, FAST_FLOAT
    saved = (STATE.recording, STATE.tracer)
    was_unusual = not saved[0] or saved[1] is not None
    now_unusual = not recording or tracer is not None
    with _lock:
        unusual += now_unusual - was_unusual
        FAST_FLOAT = float if unusual == 0 else _NoNumber
    STATE.recording, STATE.tracer = recording, tracer
    try:
        yield
    finally:
        STATE.recording, STATE.tracer = saved
        with _lock:
            unusual += was_unusual - now_unusual
            FAST_FLOAT = float if unusual == 0 else _NoNumber


def no_grad() -> Any:
    """Within this block (in this thread) ops compute values but record no graph: results are leaves."""
    return _mode(False, STATE.tracer)


def enable_grad() -> Any:
    """Within this block (in this thread) ops record the graph again, also inside ``no_grad()``."""
    return _mode(True, STATE.tracer)


def tracing(tracer: Tracer) -> Any:
    """Within this block (in this thread) ops record structure only, for ``jit``; numbers are placeholders."""
    return _mode(True, tracer)


def is_recording() -> bool:
    """Do ops in this thread record the graph (not inside ``no_grad()``)?"""
    return STATE.recording


def current_tracer() -> Tracer | None:
    """The tracer recording this thread's ops, or None."""
    return STATE.tracer


_gc_lock = threading.Lock()
_gc_depth = 0  # how many gc_paused blocks are open, in all threads
_gc_restore = False  # was the collector on when the first of them opened?


class gc_paused:  # noqa: N801 - used like a function: ``with gc_paused():``
    """Pause Python's cyclic garbage collector while a large graph is built or walked.

    The engine never creates reference cycles (nodes point only to their
    children), so graphs are freed by reference counting the moment they are
    dropped. The cyclic collector has nothing to find in them, yet it would
    rescan every live node again and again while a big graph grows. Safe to
    nest and to use from several threads at once: the collector is switched off
    when the first block opens and back on (if it was on) when the last one
    closes, under a lock -- a per-block "was it on?" read races with another
    thread's switch and can leave the collector off for good. A class, not a
    generator, because it is entered on every forward and backward.
    """

    __slots__ = ()

    def __enter__(self) -> None:
        global _gc_depth, _gc_restore
        with _gc_lock:
            if _gc_depth == 0:
                _gc_restore = gc.isenabled()
                gc.disable()
            _gc_depth += 1

    def __exit__(self, *exc: object) -> None:
        global _gc_depth
        with _gc_lock:
            _gc_depth -= 1
            if _gc_depth == 0 and _gc_restore:
                gc.enable()
