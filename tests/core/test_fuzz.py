"""Fuzzing the engine with random programs over the whole op table, against PyTorch float64.

Run it:

    pytest tests/core/test_fuzz.py                                    # quick (part of make test): 15-150 examples
                                                                 # per property, the same on every run
    MICROGRADX_FUZZ=deep pytest tests/core/test_fuzz.py               # deep: 3000 fresh random examples per property
    MICROGRADX_FUZZ=deep MICROGRADX_FUZZ_EXAMPLES=20000 pytest tests/core/test_fuzz.py

The programs (``tests/programs.py``) draw every row of ``microgradx.ops.OPS`` -- a new row is fuzzed as
soon as it has its entry in ``tests/oracle.py`` -- with nodes reused, constants on either side of binary
ops and dense ``Σ w·x`` blocks as an MLP layer builds them. A failure prints the shrunk program as the
straight-line code that failed (``%3 = tanh(%1)``, ...), then what differed and by how much.

What is checked:

* values, leaf and interior gradients against torch (``retain_grad``), each within a bound on its
  rounding error (relative to the size of the terms that may cancel, see ``programs.Reference``);
* second derivatives: ``backward(create_graph=True)`` then ``gradients`` of a gradient, and
  ``grad(grad(f))``, against ``torch.autograd.grad(..., create_graph=True)``;
* the compiled path: ``jit(fn)`` on a numpy batch (every node's value, ``value_and_grad``) against the
  eager engine, sample by sample;
* the error contracts on programs pushed out of the domain: eager forward, ``backward()`` (which leaves
  every leaf's ``.grad`` as it was when it fails) and the compiled path raise ``DomainError`` and never
  return nan or inf; ``backward(create_graph=True)`` works wherever ``backward()`` does;
* threads: a thread in ``no_grad()`` or tracing for ``jit`` changes nothing for another thread's graph;
  grads, traces and one shared jitted function used from several threads give the serial numbers;
* ``grad`` where users put it: inside a ``jit``-traced function (against the eager ``grad`` per sample),
  through a closure over the outer variable (against torch's mixed second derivatives), inside ``no_grad()``.

Every bug the fuzzer found is kept as a minimal reproducer at the end of this file (all fixed now). A new
one that cannot be fixed at once gets its reproducer marked ``xfail(strict=True)``, so that the fix is
noticed: the strict xfail then fails and the marker comes off.
"""

from __future__ import annotations

import math
import os
import sys
import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st

import microgradx as mx
from microgradx import DomainError, Value
from tests.programs import (
    Program,
    Reference,
    batches,
    bounded,
    hessian_rows,
    near_kink,
    programs,
    reference,
    result,
    run,
    run_values,
    torch_misses_second_order,
)

torch = pytest.importorskip("torch")

DEEP = os.environ.get("MICROGRADX_FUZZ", "").lower() == "deep"
# How far past its rounding-error bound a number may be: the bound is first order and libm and torch
# disagree by an ulp or two per elementary function; a real bug is off by far more.
SLACK = 64.0
HESSIAN_RTOL = 1e-12   # (times SLACK)


def fuzz(quick: int) -> settings:
    """``quick`` examples, the same on every run (make test); the deep profile's count, at random, when deep."""
    return settings(max_examples=settings.default.max_examples if DEEP else quick, derandomize=not DEEP,
                    deadline=None, database=None if not DEEP else settings.default.database,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much,
                                           HealthCheck.data_too_large])


def close(got: float, want: float, err: float, what: str, witness: str = "torch") -> None:
    """``got`` within SLACK times the error bound ``err`` of ``want`` (which ``witness`` computed)."""
    tol = SLACK * err + 1e-300
    assert abs(got - want) <= tol, (f"{what}: microgradx gives {got!r}, {witness} {want!r}; they differ by "
                                    f"{abs(got - want):.3g}, more than the {tol:.3g} rounding allows")


def in_domain(prog: Program, ref: Reference, limit: float = 1e6) -> bool:
    """Finite and moderate everywhere in torch, and no kinked op near its kink."""
    return ref.finite and bounded(ref.value.values(), limit) and bounded(ref.grad.values(), limit) \
        and near_kink(prog, ref.value) is None


# ------------------------------------------------------------------ eager engine vs torch


@fuzz(100)
@given(programs())
def test_values_and_leaf_and_interior_gradients_match_pytorch(prog):
    ref = reference(prog)
    assume(in_domain(prog, ref))
    env, out = run_values(prog)
    out.backward()
    close(out.data, ref.result, ref.result_err, "the result")
    for name, v in env.items():
        close(v.data, ref.value[name], ref.err[name], f"the value of {name}")
        close(v.grad, ref.grad[name], ref.gerr[name], f"∂result/∂{name}")


def _hessian_err(row: dict[str, float], ref: Reference, r: str) -> float:
    """What the second derivatives ∂²result/∂r∂· may be off by: a first-order bound for them would need third
    derivatives, so relative to every term in sight (the row, and ∂result/∂r with its own bound)."""
    return HESSIAN_RTOL * (sum(abs(h) for h in row.values()) + abs(ref.grad[r])) + ref.gerr[r]


@fuzz(50)
@given(programs(max_steps=6), st.data())
def test_second_derivatives_through_create_graph_match_pytorch(prog, data):
    ref = reference(prog)
    assume(in_domain(prog, ref, limit=1e4) and torch_misses_second_order(prog, ref.value) is None)
    names = list(prog.leaves)
    rows = data.draw(st.lists(st.sampled_from(names), min_size=1, max_size=2, unique=True), label="rows")
    hess = hessian_rows(prog, rows)
    env, out = run_values(prog)
    out.backward(create_graph=True)
    leaves = [env[k] for k in names]
    firsts = {r: env[r].grad for r in rows}
    for r in rows:
        if not isinstance(firsts[r], Value):  # a leaf the result does not depend on: backward never visits it
            assert firsts[r] == 0.0 and not any(hess[r].values())
            continue
        close(firsts[r].data, ref.grad[r], ref.gerr[r], f"∂result/∂{r} with create_graph=True")
        for c, h in zip(names, mx.gradients(firsts[r], leaves), strict=True):
            close(float(h), hess[r][c], _hessian_err(hess[r], ref, r), f"∂²result/∂{r}∂{c}")


@fuzz(30)
@given(programs(max_steps=5), st.data())
def test_nested_grad_gives_the_second_derivatives_of_pytorch(prog, data):
    ref = reference(prog)
    assume(in_domain(prog, ref, limit=1e4) and torch_misses_second_order(prog, ref.value) is None)
    names = list(prog.leaves)
    i = data.draw(st.integers(0, len(names) - 1), label="i")
    j = data.draw(st.integers(0, len(names) - 1), label="j")
    want = hessian_rows(prog, [names[i]])[names[i]]

    def f(*args: Value | float) -> Value:  # grad passes the arguments it does not differentiate as numbers
        return result(prog, run(prog, {k: a if isinstance(a, Value) else Value(a) for k, a in zip(names, args)}))

    got = mx.grad(mx.grad(f, argnums=i), argnums=j)(*prog.leaves.values())
    close(float(got), want[names[j]], _hessian_err(want, ref, names[i]), f"∂²result/∂{names[i]}∂{names[j]}")


# ------------------------------------------------------------------ the compiled path vs the eager engine


def _jitted(prog: Program, every_node: bool = True) -> tuple[mx.Jitted, list[Value]]:
    """``jit`` of the program as a function of its inputs, returning the result (and every node); its
    parameters are shared Values, as a model's weights are."""
    params = [Value(v, label=k) for k, v in zip(prog.param_names, prog.params)]

    def program(*xs: Value) -> Value | tuple[Value, ...]:
        env = run(prog, {**dict(zip(prog.input_names, xs)), **dict(zip(prog.param_names, params))})
        return (result(prog, env), *(env[n] for n in prog.nodes)) if every_node else result(prog, env)

    return mx.jit(program), params


def _eager_samples(prog: Program, cols: list[list[float]]) -> list[tuple[dict, Value]]:
    """The eager engine on each sample (forward and backward), with fresh leaves."""
    out = []
    for sample in zip(*cols):
        env, res = run_values(prog, prog.with_inputs(sample))
        res.backward()
        out.append((env, res))
    return out


def _check_compiled_values(f: mx.Jitted, X: list[np.ndarray], prog: Program, eager: list, refs: list) -> None:
    got = f(*X)
    for b, ((env, res), ref) in enumerate(zip(eager, refs)):
        close(float(got[0][b]), res.data, ref.result_err, f"the compiled result of sample {b}", "eager")
        for k, n in enumerate(prog.nodes):
            close(float(got[1 + k][b]), env[n].data, ref.err[n], f"the compiled {n} of sample {b}", "eager")


def _check_compiled_gradients(f: mx.Jitted, X: list[np.ndarray], prog: Program, eager: list, refs: list,
                              params: list[Value], before: list[float]) -> None:
    for p, g in zip(params, before):
        p.grad = g
    loss, grads = f.value_and_grad(*X)
    batch = len(eager)
    close(loss, sum(res.data for _, res in eager) / batch, sum(r.result_err for r in refs) / batch,
          "the compiled mean loss", "eager")
    order = f.params(*X)
    for k, name in enumerate(prog.param_names):
        p = params[k]
        if p not in order:  # a weight of no traced output
            continue
        g = grads[order.index(p)]
        want = sum(env[name].grad for env, _ in eager) / batch
        err = sum(r.gerr[name] for r in refs) / batch + 1e-16 * sum(abs(env[name].grad) for env, _ in eager)
        close(float(g), want, err, f"the compiled mean gradient of {name}", "eager")
        assert p.grad == before[k] + g, f"value_and_grad must add its gradient to {name}.grad"


@fuzz(50)
@given(st.data())
def test_compiled_batch_matches_the_eager_engine_in_values_and_gradients(data):
    prog = data.draw(programs(), label="program")
    cols = data.draw(batches(prog), label="input columns (one list per input)")
    refs = [reference(prog, prog.with_inputs(s)) for s in zip(*cols)]
    assume(all(in_domain(prog, r) for r in refs))
    eager = _eager_samples(prog, cols)
    f, params = _jitted(prog)
    X = [np.array(c) for c in cols]
    before = data.draw(st.lists(st.floats(-1, 1), min_size=len(params), max_size=len(params)),
                       label="parameter grads before")
    _check_compiled_values(f, X, prog, eager, refs)
    _check_compiled_gradients(f, X, prog, eager, refs, params, before)


# ------------------------------------------------------------------ error contracts (out of the domain)


def _torch_forward_finite(ref: Reference) -> bool:
    return all(math.isfinite(v) for v in ref.value.values())


STRESSED = st.one_of(programs(mode="stress"), programs(mode="steep"))


@fuzz(150)
@given(STRESSED, st.data())
def test_out_of_domain_eager_raises_domain_error_and_backward_keeps_every_grad(prog, data):
    with np.errstate(all="ignore"):
        ref = reference(prog)
    try:
        env, out = run_values(prog)
    except DomainError:
        event("forward raised DomainError")
        return
    assert _torch_forward_finite(ref), "torch's forward gives nan or inf, yet microgradx raised nothing"
    assert all(math.isfinite(v.data) for v in env.values()), "a node holds nan or inf, silently"
    leaves = [env[k] for k in prog.leaves]
    before = data.draw(st.lists(st.sampled_from([0.0, 1.5, -2.25]), min_size=len(leaves), max_size=len(leaves)),
                       label="leaf grads before backward")
    for leaf, g in zip(leaves, before):
        leaf.grad = g
    create_graph = data.draw(st.booleans(), label="create_graph")
    try:
        out.backward(create_graph=create_graph)
    except DomainError:
        event("backward raised DomainError")
        assert [leaf.grad for leaf in leaves] == before, "a failed backward() changed a leaf's grad"
        return
    event("no error")
    grads = {k: (v.grad.data if isinstance(v.grad, Value) else v.grad) for k, v in env.items()}
    bad = {k: g for k, g in grads.items() if not math.isfinite(g)}
    assert not bad, f"backward() returned without error, leaving non-finite gradients {bad}"
    if ref.finite and near_kink(prog, ref.value) is None:
        for k, g in zip(prog.leaves, before):
            close(grads[k] - g, ref.grad[k], ref.gerr[k] + 1e-16 * abs(g), f"∂result/∂{k}")


def _eager_outcome(prog: Program, cols: list[list[float]]) -> tuple[str, DomainError | None]:
    """What the eager engine does on the batch: ("forward", error) if the forward pass raises on some
    sample, else ("backward", error) if the backward pass does, else ("ok", None)."""
    results = []
    for sample in zip(*cols):
        try:
            results.append(run_values(prog, prog.with_inputs(sample))[1])
        except DomainError as e:
            return "forward", e
    for res in results:
        try:
            res.backward()
        except DomainError as e:
            return "backward", e
    return "ok", None


def _compiled_raises(call: Callable[[], object]) -> bool:
    """Does ``call()`` raise a DomainError?"""
    try:
        call()
    except DomainError:
        return True
    return False


@fuzz(80)
@given(st.data())
def test_out_of_domain_compiled_path_raises_domain_error_as_eager_does(data):
    prog = data.draw(STRESSED, label="program")
    cols = data.draw(batches(prog), label="input columns (one list per input)")
    every_node = data.draw(st.booleans(), label="jit returns every node")
    eager, error = _eager_outcome(prog, cols)
    event(f"eager: {eager}")
    f, params = _jitted(prog, every_node)
    X = [np.array(c) for c in cols]
    for p in params:
        p.grad = 0.25
    if eager == "forward":  # the compiled forward must fail too, also where only an interior node overflows
        for what, call in (("call", lambda: f(*X)), ("value_and_grad", lambda: f.value_and_grad(*X))):
            assert _compiled_raises(call), f"eager raised {error}; the compiled {what} did not"
    else:
        outs = f(*X)
        assert all(np.all(np.isfinite(o)) for o in (outs if every_node else [outs])), "nan or inf returned"
        # A failing eager backward may fail on an input's gradient, which the compiled path does not
        # compute: then it may succeed, but only with finite gradients.
        try:
            loss, grads = f.value_and_grad(*X)
        except DomainError:
            assert eager == "backward", "the compiled backward raised where the eager one did not"
            event("compiled backward raised DomainError")
        else:
            assert math.isfinite(loss), "value_and_grad returned a nan or inf loss"
            assert np.all(np.isfinite(grads)), f"value_and_grad returned the gradients {grads}, silently"
            return
    assert all(p.grad == 0.25 for p in params), "a failed value_and_grad changed a parameter's grad"


@fuzz(100)
@given(programs(mode="edge", max_steps=6))
def test_create_graph_backward_works_wherever_plain_backward_does(prog):
    try:
        env, out = run_values(prog)
        out.backward()
    except DomainError:
        event("rejected: backward() raised")
        assume(False)
    plain = {k: env[k].grad for k in prog.leaves}
    env2, out2 = run_values(prog)
    out2.backward(create_graph=True)
    for k, g in plain.items():
        got = env2[k].grad
        if not isinstance(got, Value):  # a leaf the result does not depend on
            assert got == g == 0.0
            continue
        assert math.isclose(got.data, g, rel_tol=1e-12, abs_tol=1e-300) or abs(got.data - g) <= 1e-12 * (
            1 + max(abs(v.data) for v in env.values())), f"∂result/∂{k}: create_graph gives {got.data!r}, plain {g!r}"


# ------------------------------------------------------------------ threads


def _grads(prog: Program) -> tuple[float, list[float]]:
    env, out = run_values(prog)
    out.backward()
    return out.data, [env[k].grad for k in prog.leaves]


def _in_mode_until(mode: Callable[[], Any], entered: threading.Event, leave: threading.Event) -> threading.Thread:
    """A thread that enters ``mode`` (a context manager factory), signals, and stays until told to leave."""
    def body() -> None:
        with mode():
            entered.set()
            leave.wait(10)

    t = threading.Thread(target=body)
    t.start()
    assert entered.wait(10)
    return t


@fuzz(15)
@given(programs(max_steps=6))
def test_a_thread_inside_no_grad_does_not_change_another_threads_graph(prog):
    with np.errstate(all="ignore"):
        ref = reference(prog)
    assume(in_domain(prog, ref))
    want = _grads(prog)
    entered, leave = threading.Event(), threading.Event()
    t = _in_mode_until(mx.no_grad, entered, leave)
    try:
        assert _grads(prog) == want, "the graph built while another thread was in no_grad() differs"
    finally:
        leave.set()
        t.join()
    assert _grads(prog) == want


def test_threads_entering_and_leaving_no_grad_interleaved_leave_recording_on():
    a_in, a_out, b_in, b_out = (threading.Event() for _ in range(4))
    ta = _in_mode_until(mx.no_grad, a_in, a_out)   # A in
    tb = _in_mode_until(mx.no_grad, b_in, b_out)   # B in
    a_out.set()
    ta.join()                                      # A out
    b_out.set()
    tb.join()                                      # B out
    x = Value(2.0)
    y = (x * x).tanh()
    y.backward()
    assert mx.modes.is_recording() and x.grad == pytest.approx(4 * (1 - math.tanh(4.0) ** 2))


def test_a_thread_toggling_no_grad_in_a_loop_does_not_change_another_threads_gradients():
    x0, w0 = Value(0.3), Value(-1.2)
    want = None
    stop = threading.Event()

    def toggle() -> None:
        while not stop.is_set():
            with mx.no_grad():
                (Value(1.0) * 2.0).tanh()

    t = threading.Thread(target=toggle)
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads often, so that the loops interleave
    t.start()
    try:
        for _ in range(300):
            x0.grad = w0.grad = 0.0
            out = ((x0 * w0).tanh() + x0 * x0).sigmoid() * w0
            out.backward()
            got = (out.data, x0.grad, w0.grad)
            want = want or got
            assert got == want and out._prev, "a graph built while another thread toggled no_grad() differs"
    finally:
        stop.set()
        t.join()
        sys.setswitchinterval(interval)


def test_a_thread_tracing_for_jit_does_not_change_another_threads_comparisons_or_checks():
    entered, leave = threading.Event(), threading.Event()

    def slow(x: Value) -> Value:
        entered.set()
        leave.wait(10)
        return x * 2.0

    t = threading.Thread(target=lambda: mx.jit(slow)(np.array([1.0, 2.0])))
    t.start()
    try:
        assert entered.wait(10)
        a = Value(3.0)
        assert a > 1.0
        with pytest.raises(DomainError):
            Value(1e308) * 10
        b = a.log() * a
        b.backward()
        assert a.grad == pytest.approx(math.log(3.0) + 1.0)
    finally:
        leave.set()
        t.join()


# ------------------------------------------------------------------ gradients inside jit, closures, no_grad, threads
# (the generators that would have found issue 20's wrong numbers: each builds ``grad`` into a random program
# the way a user would -- inside a traced function, through a closure over an outer variable, inside no_grad,
# and from several threads at once -- and holds it to an independent witness.)


def _as_function(prog: Program, names: list[str], fixed: dict[str, Any]) -> Callable[..., Value]:
    """The program as a function of the leaves ``names``; the other leaves come from ``fixed``."""
    def f(*xs: Any) -> Value:
        leaves = {**fixed, **{k: x if isinstance(x, Value) else Value(x) for k, x in zip(names, xs)}}
        return result(prog, run(prog, leaves))  # type: ignore[no-any-return]

    return f


@fuzz(40)
@given(st.data())
def test_grad_inside_jit_matches_the_eager_grad_sample_by_sample(data):
    prog = data.draw(programs(max_steps=6), label="program")
    cols = data.draw(batches(prog), label="input columns (one list per input)")
    refs = [reference(prog, prog.with_inputs(s)) for s in zip(*cols)]
    assume(all(in_domain(prog, r, limit=1e4) for r in refs))
    params = {k: Value(v, label=k) for k, v in zip(prog.param_names, prog.params)}
    k = data.draw(st.integers(0, len(prog.input_names) - 1), label="differentiate by input")
    g = mx.grad(_as_function(prog, prog.input_names, params), argnums=k)
    got = mx.jit(g)(*[np.array(c) for c in cols])
    x = prog.input_names[k]
    for b, sample in enumerate(zip(*cols)):
        close(float(got[b]), g(*sample), refs[b].gerr[x] + 1e-15 * abs(refs[b].grad[x]),
              f"jit of ∂result/∂{x}, sample {b}", "eager grad")


@fuzz(30)
@given(programs(max_steps=5), st.data())
def test_nested_grad_through_a_closure_gives_the_mixed_second_derivative_of_pytorch(prog, data):
    names = list(prog.leaves)
    assume(len(names) >= 2)
    ref = reference(prog)
    assume(in_domain(prog, ref, limit=1e4) and torch_misses_second_order(prog, ref.value) is None)
    i, j = data.draw(st.lists(st.sampled_from(names), min_size=2, max_size=2, unique=True), label="(outer, inner)")
    rest = {k: Value(v, label=k) for k, v in prog.leaves.items() if k not in (i, j)}

    def outer(xi: Value) -> Value:  # xi reaches the inner function only through this closure
        inner = _as_function(prog, [j], {**rest, i: xi})
        return mx.grad(inner)(prog.leaves[j])  # type: ignore[no-any-return]

    want = hessian_rows(prog, [j])[j]
    close(float(mx.grad(outer)(prog.leaves[i])), want[i], _hessian_err(want, ref, j), f"∂²result/∂{i}∂{j}")


@fuzz(30)
@given(programs(max_steps=6))
def test_grad_and_value_and_grad_inside_no_grad_equal_them_outside(prog):
    with np.errstate(all="ignore"):
        ref = reference(prog)
    assume(in_domain(prog, ref))
    names = list(prog.leaves)
    vg = mx.value_and_grad(_as_function(prog, names, {}), argnums=tuple(range(len(names))))
    want = vg(*prog.leaves.values())
    with mx.no_grad():
        assert vg(*prog.leaves.values()) == want, "value_and_grad inside no_grad() differs"
        assert mx.grad(_as_function(prog, names, {}))(*prog.leaves.values()) == want[1][0]
    close(want[0], ref.result, ref.result_err, "the result")


@fuzz(10)
@given(programs(max_steps=6))
def test_grads_traces_and_jitted_runs_in_several_threads_equal_the_serial_ones(prog):
    with np.errstate(all="ignore"):
        ref = reference(prog)
    assume(in_domain(prog, ref))
    f, params = _jitted(prog, every_node=False)
    X = [np.full(3, v) for v in prog.leaves.values()][: len(prog.input_names)]
    want_run, want_trace = f(*X).copy(), str(mx.jit(f.fn).trace(*X))
    vg = mx.value_and_grad(_as_function(prog, prog.input_names, dict(zip(prog.param_names, params))),
                           argnums=tuple(range(len(prog.input_names))))
    inputs = list(prog.with_inputs([x[0] for x in X]).values())[: len(prog.input_names)]
    want_vg = vg(*inputs)
    wrong: list[str] = []

    def work() -> None:
        for _ in range(15):
            if not np.array_equal(f(*X), want_run):
                wrong.append("a shared jitted function")
            if str(mx.jit(f.fn).trace(*X)) != want_trace:
                wrong.append("a trace")
            if vg(*inputs) != want_vg:
                wrong.append("value_and_grad")
            result(prog, run(prog, dict(zip(prog.param_names, params)) | {k: Value(v) for k, v in
                                        zip(prog.input_names, inputs)})).backward()  # writes the params' grads

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    threads = [threading.Thread(target=work) for _ in range(3)]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(interval)
    assert not wrong, f"different numbers from another thread's work: {sorted(set(wrong))}"


# ------------------------------------------------------------------ the generator itself


def test_the_generator_draws_every_row_of_the_op_table_dense_blocks_and_constants_on_both_sides():
    seen: set[str] = set()
    shapes: set[str] = set()

    @settings(max_examples=400, derandomize=True, database=None, deadline=None)
    @given(programs())
    def collect(prog: Program) -> None:
        seen.update(prog.ops_used())
        text = repr(prog)
        shapes.update(s for s in ("dense", "apply") if s in text)
        for step in prog.steps:
            args = getattr(step, "args", ())
            if len(args) == 2:
                shapes.add("constant left" if isinstance(args[0], float) else "")
                shapes.add("constant right" if isinstance(args[1], float) else "")

    collect()
    assert seen == set(mx.OPS)
    assert {"dense", "apply", "constant left", "constant right"} <= shapes


# ------------------------------------------------------------------ reproducers of the bugs found (xfail)


def test_compiled_path_raises_on_an_interior_overflow_as_eager_does():
    # ((x·x + 0.5)·1e200) ** (-0.5 - ((x·x + 0.5)·1e200)²): the square overflows (eager raises), the
    # power of the infinite exponent is 0 again, and the compiled call returns 0.0.
    def f(x: Value) -> Value:
        big = (x * x + 0.5) * 1e200
        return big ** (-0.5 - big * big)

    with pytest.raises(DomainError):
        f(Value(0.0))
    with pytest.raises(DomainError):
        mx.jit(f)(np.array([0.0]))


def test_create_graph_backward_of_a_power_works_at_zero_where_backward_does():
    x = Value(0.0)
    (x ** 1.5).backward()
    assert x.grad == 0.0
    y = Value(0.0)
    (y ** 1.5).backward(create_graph=True)   # raises: pow(x, p=0.5) with x = 0.0 is undefined
    assert y.grad.data == 0.0


def test_compiled_value_and_grad_raises_on_a_gradient_overflow_and_keeps_grad():
    # ∂(1/y)/∂y = -1/y² overflows at y = 1e-300; eager raises, the compiled path returned w.grad = -inf.
    w = Value(1.0)
    with pytest.raises(DomainError):
        (1.0 / (w * 1e-300 + Value(0.0))).backward()
    assert w.grad == 0.0
    f = mx.jit(lambda x: 1.0 / (w * 1e-300 + x))
    with pytest.raises(DomainError):
        f.value_and_grad(np.array([0.0]))
    assert w.grad == 0.0


def test_compiled_uniform_weighted_sum_of_a_deep_parameter_expression_gives_the_eager_value():
    a = Value(1.0)
    w = [Value(0.0), Value(0.0), Value(0.0), Value(1.0)]

    def f(x: Value) -> Value:
        h = a.abs().abs()                    # no input in it: computed once per batch (the uniform stage)
        return sum(h * wi for wi in w) * x   # 0 + h·w0 + ... + h·w3: five terms, scheduled as a dot

    assert f(Value(2.0)).data == 2.0
    assert mx.jit(f)(np.array([2.0]))[0] == 2.0   # gives 0.0


def test_compiled_gradient_through_a_saturated_tanh_of_an_infinite_derivative_is_zero_as_in_eager():
    # tanh(1e300) = 1: its local derivative is 0, so nothing flows to (w·1e-300 + x) ** -1, whose local
    # derivative -1/y² overflows. Eager gives w.grad = 0; the compiled path computes 0·inf = nan.
    w = Value(1.0)
    f = lambda x: ((w * 1e-300 + x) ** -1.0).tanh()  # noqa: E731
    f(Value(0.0)).backward()
    assert w.grad == 0.0
    _, grads = mx.jit(f).value_and_grad(np.array([0.0]))
    assert grads[0] == 0.0 and w.grad == 0.0
