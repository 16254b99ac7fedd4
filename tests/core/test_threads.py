"""What the README's "Threads" paragraph promises, tested exactly (issue 20, 13).

Each thread has its own mode (recording, ``no_grad``, tracing); tracing never marks the
shared parameters, so a model can be traced while another thread backpropagates through
it; a jitted function runs one call at a time, so threads sharing it get their own numbers.
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Callable, Iterator

import numpy as np
import pytest

import microgradx as mx
from microgradx import Value
from microgradx.nn import MLP


@pytest.fixture
def fast_switching() -> Iterator[None]:
    """Threads switch every microsecond, so races show up within a few hundred iterations."""
    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(old)


def _in_background(work: Callable[[], None]) -> tuple[threading.Event, threading.Thread, list[BaseException]]:
    stop, errors = threading.Event(), []

    def loop() -> None:
        try:
            while not stop.is_set():
                work()
        except BaseException as e:  # reported by the test, not lost in the thread
            errors.append(e)

    t = threading.Thread(target=loop)
    t.start()
    return stop, t, errors


def test_tracing_a_model_while_another_thread_backpropagates_through_it_gives_the_same_trace(fast_switching):
    m = MLP(4, [16, 16, 1], seed=1)
    x = [Value(v) for v in (0.1, -0.2, 0.3, 0.4)]
    X = np.zeros((1, 4))
    want = str(mx.jit(m).trace(X))
    stop, t, errors = _in_background(lambda: m(x).backward())
    try:
        traces = [str(mx.jit(m).trace(X)) for _ in range(150)]
    finally:
        stop.set()
        t.join()
    assert not errors and all(tr == want for tr in traces)


def test_threads_sharing_one_jitted_function_each_get_their_own_batchs_numbers(fast_switching):
    f = mx.jit(MLP(3, [8, 8, 1], seed=1))
    rng = np.random.default_rng(0)
    batches = [rng.normal(size=(300, 3)) for _ in range(4)]
    want = [f(X).copy() for X in batches]
    wrong: list[int] = []

    def run(k: int) -> None:
        for _ in range(40):
            if not np.array_equal(f(batches[k]), want[k]):
                wrong.append(k)

    threads = [threading.Thread(target=run, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wrong == []


def test_grad_in_one_thread_is_unaffected_by_no_grad_in_another(fast_switching):
    def toggle() -> None:
        with mx.no_grad():
            Value(1.0) * 2.0

    stop, t, errors = _in_background(toggle)
    try:
        got = [mx.grad(lambda v: v * v.sin())(0.5) for _ in range(300)]
    finally:
        stop.set()
        t.join()
    assert not errors and set(got) == {mx.grad(lambda v: v * v.sin())(0.5)}


def test_grad_inside_no_grad_in_one_thread_leaves_another_threads_no_grad_on():
    inside = threading.Event()
    release = threading.Event()
    seen: list[bool] = []

    def other() -> None:
        with mx.no_grad():
            inside.set()
            release.wait(5)
            seen.append(mx.modes.is_recording())

    t = threading.Thread(target=other)
    t.start()
    inside.wait(5)
    with mx.no_grad():
        assert mx.grad(lambda v: v * v)(3.0) == 6.0
    release.set()
    t.join()
    assert seen == [False]
