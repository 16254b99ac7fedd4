"""Random expression programs over the whole op table, for the property-based tests.

A program is straight-line code over named nodes: inputs ``x0, x1, ...``,
parameters ``w0, w1, ...`` (the weights of dense blocks) and the results of its
steps ``%0, %1, ...``. A step is either one row of the op table applied to
nodes and constants (a constant may stand on either side of a binary op), or a
dense block ``%i = Σ_k w_ik·x_k (+ b_i)`` as an MLP layer builds it. Steps reuse
earlier nodes freely; the program's result is the sum of its ``outputs``.

Every row of ``microgradx.ops.OPS`` is drawn, with the operands the test oracle
(``tests/oracle.py``) guards: before an op that needs a positive operand the
generator inserts the steps ``v·v + 0.5``, before one that needs a bounded one
``2·tanh v``. The guard steps are ordinary steps of the program, so a program
prints as exactly what runs. *Stressed* programs replace a guard by a stressor
that pushes the operand out of the domain (0, negative, tiny, huge, unguarded):
they test the error contracts. *Edge* programs keep operands on the domain's
edge (``v·v``, which is 0 at 0, and leaves at 0, ±1, ...).

The same program runs on microgradx ``Value`` nodes (through the ``Value``
methods and operators a user writes, or ``Value.apply``), on torch float64
tensors (each row's PyTorch function from the oracle), and, traced by ``jit``,
on numpy batches. ``reference`` runs it in torch and also bounds the rounding
error of every value and gradient, so that comparisons are made relative to
the size of the terms that may cancel, not to the (possibly tiny) result.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Union

from hypothesis import strategies as st

from microgradx.ops import OPS, Op
from tests.oracle import ORACLE

Operand = Union[str, float]   # a node's name, or a constant
EPS = 2.0 ** -52              # the spacing of floats at 1
TINY = 2.0 ** -1022           # the smallest normal float: below it rounding errors are absolute

# Parameters tried for a row that takes one, besides the oracle's (they are all fine with the oracle's guards).
EXTRA_PARAMS = (2.0, 3.0, 0.5, 1.5, -1.0, -2.0, 0.0)
# Where a guard can send an operand instead, in stressed programs: each leaves some op's domain.
STRESSORS = ("zero", "negative", "tiny", "huge", "negative huge", "unguarded")
# Leaves and constants of edge programs: the points where domains and derivatives change.
EDGE_POINTS = (0.0, 1.0, -1.0, 0.5, -0.5, 2.0)


def _fmt(a: Operand) -> str:
    return a if isinstance(a, str) else repr(a)


@dataclass(frozen=True)
class OpStep:
    """``out = op(args)``: one row of the op table (bound to ``p`` when it takes a parameter)."""

    out: str
    op: str
    args: tuple[Operand, ...]
    p: float | None = None
    via: str = "method"     # "method": the Value method or Python operator; "apply": Value.apply(row)

    @property
    def outs(self) -> tuple[str, ...]:
        return (self.out,)

    def operands(self, out: str) -> tuple[str, ...]:
        """The nodes ``out`` reads (each once)."""
        return tuple(dict.fromkeys(a for a in self.args if isinstance(a, str)))

    def run(self, env: dict[str, Any], backend: Backend) -> None:
        env[self.out] = backend.op(OPS[self.op], [env[a] if isinstance(a, str) else a for a in self.args],
                                   self.p, self.via)

    def rounding(self, env: dict[str, float], out: str) -> float:
        """Size of the rounding error this step adds (in units of ε; subnormals round in absolute terms)."""
        return max(abs(env[out]), TINY)

    def __str__(self) -> str:
        p = "" if self.p is None else f"[{OPS[self.op].param_name}={self.p!r}]"
        via = "    # via Value.apply" if self.via == "apply" else ""
        return f"{self.out} = {self.op}{p}({', '.join(map(_fmt, self.args))}){via}"


@dataclass(frozen=True)
class DenseStep:
    """``outs[i] = b_i + Σ_k w_ik·x_k``: one dense layer, written as micrograd's neuron writes it."""

    outs: tuple[str, ...]
    xs: tuple[str, ...]
    w: tuple[tuple[str, ...], ...]     # one row of weights per output
    b: tuple[str | None, ...]          # a bias per output, or None (then the sum starts at 0)
    x_first: bool = False              # x·w instead of w·x

    def operands(self, out: str) -> tuple[str, ...]:
        i = self.outs.index(out)
        return tuple(dict.fromkeys([*self.xs, *self.w[i], *([self.b[i]] if self.b[i] else [])]))

    def run(self, env: dict[str, Any], backend: Backend) -> None:
        for out, ws, b in zip(self.outs, self.w, self.b, strict=True):
            terms = ((env[x] * env[w]) if self.x_first else (env[w] * env[x]) for w, x in zip(ws, self.xs))
            env[out] = sum(terms, env[b]) if b else sum(terms)

    def rounding(self, env: dict[str, float], out: str) -> float:
        i = self.outs.index(out)
        terms = [abs(env[w] * env[x]) for w, x in zip(self.w[i], self.xs)] + [abs(env[self.b[i]]) if self.b[i] else 0]
        return (len(terms) + 1) * max(sum(terms), TINY)

    def __str__(self) -> str:
        prod = (lambda w, x: f"{x}·{w}") if self.x_first else (lambda w, x: f"{w}·{x}")
        lines = []
        for out, ws, b in zip(self.outs, self.w, self.b, strict=True):
            s = " + ".join(prod(w, x) for w, x in zip(ws, self.xs))
            lines.append(f"{out} = {b + ' + ' if b else ''}{s}    # dense")
        return "\n".join(lines)


Step = Union[OpStep, DenseStep]


@dataclass(frozen=True)
class Program:
    """Inputs, parameters (with their values), steps, and the nodes whose sum is the result."""

    inputs: tuple[float, ...]
    params: tuple[float, ...]
    steps: tuple[Step, ...]
    outputs: tuple[str, ...]

    @property
    def input_names(self) -> list[str]:
        return [f"x{i}" for i in range(len(self.inputs))]

    @property
    def param_names(self) -> list[str]:
        return [f"w{j}" for j in range(len(self.params))]

    @property
    def leaves(self) -> dict[str, float]:
        """Every leaf (inputs, then parameters) with its value."""
        return dict(zip(self.input_names + self.param_names, self.inputs + self.params))

    def with_inputs(self, inputs: Sequence[float]) -> dict[str, float]:
        """The leaves with other input values (one sample of a batch), the parameters as they are."""
        return {**dict(zip(self.input_names, inputs)), **dict(zip(self.param_names, self.params))}

    @property
    def nodes(self) -> list[str]:
        """Every step output, in order."""
        return [o for s in self.steps for o in s.outs]

    def varying(self) -> set[str]:
        """The nodes that depend on an input (the rest are the same for every sample of a batch)."""
        out = set(self.input_names)
        for step in self.steps:
            out.update(o for o in step.outs if out.intersection(step.operands(o)))
        return out

    def ops_used(self) -> set[str]:
        return {s.op for s in self.steps if isinstance(s, OpStep)}

    def _repr_pretty_(self, printer: Any, cycle: bool) -> None:  # how hypothesis prints a failing example
        printer.text(repr(self))

    def __repr__(self) -> str:
        head = ", ".join(f"{k} = {v!r}" for k, v in self.leaves.items())
        body = "\n".join(f"  {line}" for s in self.steps for line in str(s).splitlines())
        return f"\nprogram({head}):\n{body}\n  result = {' + '.join(self.outputs)}\n"


# --------------------------------------------------------------------- running


class Backend:
    """How a program's ops run on one kind of number."""

    def op(self, row: Op, xs: list[Any], p: float | None, via: str) -> Any:
        raise NotImplementedError


class ValueBackend(Backend):
    """microgradx: ``x.tanh()``, ``x ** 2.0``, ``2.0 - x`` (the reflected operators), or ``x.apply(row)``."""

    def op(self, row: Op, xs: list[Any], p: float | None, via: str) -> Any:
        from microgradx import Value

        op = row.bind(p) if row.has_param else row
        if via == "apply" or (row.arity == 2 and not _operator(row)):
            first = xs[0] if isinstance(xs[0], Value) else Value(xs[0])
            return first.apply(op, *xs[1:])
        if row.arity == 2:
            return _operator(row)(*xs)  # type: ignore[misc]
        method = getattr(xs[0], row.method)
        return method(p) if row.has_param else method()


def _operator(row: Op) -> Callable[[Any, Any], Any] | None:
    """``operator.add`` for a row whose method is ``__add__``: ``2.0 + x`` then calls ``x.__radd__``."""
    name = row.method
    return getattr(operator, name[2:-2], None) if name.startswith("__") and name.endswith("__") else None


class TorchBackend(Backend):
    """PyTorch float64, each row's function from the oracle (the independent witness)."""

    def op(self, row: Op, xs: list[Any], p: float | None, via: str) -> Any:
        import torch

        ts = [x if isinstance(x, torch.Tensor) else torch.tensor(x, dtype=torch.float64) for x in xs]
        fn = ORACLE[row.name].torch
        return fn(*ts, p) if row.has_param else fn(*ts)


def run(prog: Program, leaves: dict[str, Any], backend: Backend | None = None) -> dict[str, Any]:
    """Every node of the program (leaves included), computed from ``leaves``."""
    env = dict(leaves)
    backend = backend or ValueBackend()
    for step in prog.steps:
        step.run(env, backend)
    return env


def result(prog: Program, env: dict[str, Any]) -> Any:
    """The program's result: the sum of its outputs."""
    out = env[prog.outputs[0]]
    for name in prog.outputs[1:]:
        out = out + env[name]
    return out


def run_values(prog: Program, leaves: dict[str, float] | None = None) -> tuple[dict[str, Any], Any]:
    """(every node, the result) as microgradx Values, the leaves made fresh from ``leaves``."""
    from microgradx import Value

    env = run(prog, {k: Value(v, label=k) for k, v in (leaves or prog.leaves).items()})
    return env, result(prog, env)


# --------------------------------------------------------------------- generating


@dataclass
class _Builder:
    """The state of one program being drawn."""

    draw: Callable[..., Any]
    mode: str                                   # "domain", "stress" or "edge"
    inputs: list[float]
    params: list[float] = field(default_factory=list)
    steps: list[Step] = field(default_factory=list)
    pool: list[str] = field(default_factory=list)
    stressed: int = 0

    def new(self) -> str:
        return f"%{sum(len(s.outs) for s in self.steps)}"

    def emit(self, op: str, args: tuple[Operand, ...], p: float | None = None, via: str = "method") -> str:
        step = OpStep(self.new(), op, args, p, via)
        self.steps.append(step)
        self.pool.append(step.out)
        return step.out

    def node(self) -> str:
        """An earlier node, recent ones first (so programs shrink towards chains); any node may be reused."""
        return self.pool[len(self.pool) - 1 - self.draw(st.integers(0, len(self.pool) - 1))]

    def constant(self, guard: str) -> float:
        if self.mode == "edge":
            return self.draw(st.sampled_from([c for c in EDGE_POINTS if guard != "positive" or c > 0]))
        lo, hi = {"positive": (0.25, 3.0), "bounded": (-2.0, 2.0)}.get(guard, (-3.0, 3.0))
        return self.draw(st.floats(lo, hi, allow_nan=False))

    def guard(self, v: str, guard: str, stress: str | None = None) -> str:
        """``v`` moved inside the domain as the oracle's guard says, or pushed out of it by ``stress``."""
        if stress == "unguarded" or (guard == "any" and stress is None):
            return v
        if stress is None and guard == "bounded":
            return self.emit("mul", (self.emit("tanh", (v,)), 2.0))       # 2·tanh v in (-2, 2)
        if stress == "zero":
            return self.emit("mul", (v, 0.0))
        square = self.emit("mul", (v, v))
        if stress == "negative":
            return self.emit("sub", (-0.5, square))                       # -0.5 - v·v < 0
        if self.mode == "edge" and stress is None:
            return square                                                 # v·v >= 0, = 0 at v = 0
        positive = self.emit("add", (square, 0.5))                        # v·v + 0.5 > 0
        scale = {"tiny": 1e-300, "huge": 1e200, "negative huge": -1e200}.get(stress or "")
        return positive if scale is None else self.emit("mul", (positive, scale))

    def stressor(self, guard: str) -> str | None:
        """How to push an operand with this guard out of the domain (None: leave it be). An operand any
        value suits can still be made tiny or huge: then gradients overflow where values do not."""
        if self.mode == "steep":  # operands near where derivatives are infinite (1/x, log, sqrt near 0)
            return self.draw(st.sampled_from([None, "tiny"])) if guard == "positive" else None
        if guard == "any":
            return self.draw(st.sampled_from([None, None, None, "tiny", "huge"]))
        return self.draw(st.sampled_from([None, *STRESSORS]))

    def op_step(self, name: str, stress: bool = False) -> None:
        row, case = OPS[name], ORACLE[name]
        p = self.draw(st.sampled_from(tuple(dict.fromkeys([case.param, *EXTRA_PARAMS])))) if row.has_param else None
        const_at = self.draw(st.sampled_from([None, None, 0, 1])) if row.arity == 2 else None
        args: list[Operand] = []
        for i, g in enumerate(case.guard):
            if i == const_at:
                args.append(self.constant(g))
                continue
            s = self.stressor(g) if stress else None
            self.stressed += s is not None
            args.append(self.guard(self.node(), g, s))
        self.emit(name, tuple(args), p, self.draw(st.sampled_from(["method", "apply"])))

    def dense_step(self) -> None:
        xs = tuple(self.node() for _ in range(self.draw(st.integers(2, 4))))
        n_out = self.draw(st.integers(2, 3))  # a layer: several neurons reading the same inputs
        first = len(self.params)
        self.params += [self.draw(st.floats(-1.0, 1.0, allow_nan=False)) for _ in range(n_out * (len(xs) + 1))]
        names = [f"w{j}" for j in range(first, len(self.params))]
        w = tuple(tuple(names[i * len(xs):(i + 1) * len(xs)]) for i in range(n_out))
        bias = self.draw(st.booleans())
        b = tuple(names[n_out * len(xs) + i] if bias else None for i in range(n_out))
        step = DenseStep(tuple(f"%{int(self.new()[1:]) + i}" for i in range(n_out)), xs, w, b,
                         self.draw(st.booleans()))
        self.steps.append(step)
        self.pool += [*names, *step.outs]


def _leaf(mode: str) -> st.SearchStrategy[float]:
    if mode == "edge":
        return st.sampled_from(EDGE_POINTS)
    return st.floats(-2.0, 2.0, allow_nan=False)


@st.composite
def programs(draw: Callable[..., Any], mode: str = "domain", max_steps: int = 8, dense: bool = True,
             max_inputs: int = 3) -> Program:
    """A random program over every row of the op table.

    ``mode``: ``"domain"`` keeps every operand inside its op's domain (the oracle's guards);
    ``"stress"`` pushes some operands out of it (at least one); ``"steep"`` makes some positive operands tiny,
    where derivatives like 1/x overflow (and may end with a huge gain), to make backward() fail;
    ``"edge"`` keeps them on the domain's edge.
    """
    b = _Builder(draw, mode, [draw(_leaf(mode)) for _ in range(draw(st.integers(1, max_inputs)))])
    b.pool = [f"x{i}" for i in range(len(b.inputs))]
    names = sorted(OPS)
    for _ in range(draw(st.integers(1, max_steps))):
        if dense and draw(st.integers(0, 5)) == 0:
            b.dense_step()
        else:
            b.op_step(draw(st.sampled_from(names)), stress=mode in ("stress", "steep"))
    stress = mode in ("stress", "steep")
    if stress and not b.stressed:  # one more step, with a guarded operand pushed out of its domain
        b.op_step(draw(st.sampled_from([n for n in names if _pushable(n, mode)])), stress=True)
    if stress and draw(st.booleans()):  # a huge gain at the end: gradients overflow before values do
        b.emit("mul", (b.steps[-1].outs[-1], draw(st.sampled_from([1e100, 1e250]))))
    nodes = [o for s in b.steps for o in s.outs]
    extra = draw(st.lists(st.sampled_from(nodes), max_size=3, unique=True))
    outputs = tuple(dict.fromkeys([nodes[-1], *extra]))
    return Program(tuple(b.inputs), tuple(b.params), _pruned(b.steps, outputs), outputs)


def _pushable(name: str, mode: str) -> bool:
    """Has the row an operand that the stressors of ``mode`` push somewhere (see ``_Builder.stressor``)?"""
    guard = ORACLE[name].guard
    return "positive" in guard if mode == "steep" else set(guard) != {"any"}


def _pruned(steps: list[Step], outputs: tuple[str, ...]) -> tuple[Step, ...]:
    """Only the steps (and dense rows) the outputs depend on: every node of a program counts for its result."""
    needed = set(outputs)
    kept: list[Step] = []
    for step in reversed(steps):
        outs = [o for o in step.outs if o in needed]
        if not outs:
            continue
        if isinstance(step, DenseStep) and len(outs) < len(step.outs):
            rows = [step.outs.index(o) for o in outs]
            step = DenseStep(tuple(outs), step.xs, tuple(step.w[i] for i in rows), tuple(step.b[i] for i in rows),
                             step.x_first)
        for o in outs:
            needed.update(step.operands(o))
        kept.append(step)
    return tuple(reversed(kept))


@st.composite
def batches(draw: Callable[..., Any], prog: Program, max_batch: int = 4, mode: str = "domain") -> list[list[float]]:
    """Input columns for ``jit``: one list per input, sample 0 being the program's own inputs."""
    n = draw(st.integers(1, max_batch))
    rest = [[draw(_leaf(mode)) for _ in prog.inputs] for _ in range(n - 1)]
    samples = [list(prog.inputs), *rest]
    return [list(col) for col in zip(*samples)]


# --------------------------------------------------------------------- the reference (torch float64)


@dataclass
class Reference:
    """The program in torch float64, with a bound on the rounding error of everything it computed.

    ``err[n]`` bounds the forward error of node ``n`` to first order (each step adds ε times its own
    size; errors of its operands come through its local derivatives). ``gerr[n]`` bounds the error of
    ∂result/∂n the same way over the backward pass: each local derivative is wrong by ε times its size
    (at least ε: a local like 1 - tanh² cancels) plus its own derivative times its operands' errors.
    """

    value: dict[str, float]
    grad: dict[str, float]
    err: dict[str, float]
    gerr: dict[str, float]
    result: float
    result_err: float
    finite: bool

    def max_abs(self) -> float:
        return max(abs(v) for v in self.value.values())


def reference(prog: Program, leaves: dict[str, float] | None = None) -> Reference:
    """Run ``prog`` in torch float64: values, ∂result/∂(every node), and error bounds for both."""
    import torch

    leaves = leaves or prog.leaves
    ts = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in leaves.items()}
    env = run(prog, ts, TorchBackend())
    value = {k: t.item() for k, t in env.items()}
    finite = all(math.isfinite(v) for v in value.values())
    edges = {}  # node -> [(operand, local, d local/d operand_j for each operand j)]
    for step in prog.steps:
        for out in step.outs:
            edges[out] = _locals(env, out, step.operands(out)) if finite else []
    err = dict.fromkeys(leaves, 0.0)
    for step in prog.steps:
        for out in step.outs:
            err[out] = EPS * step.rounding(value, out) + sum(abs(d) * err[a] for a, d, _ in edges[out] if err[a])
    out_t = result(prog, env)
    for t in env.values():
        if t.requires_grad and not t.is_leaf:
            t.retain_grad()
    grad = dict.fromkeys(env, 0.0)
    if finite and math.isfinite(out_t.item()):
        out_t.backward()
        grad = {k: 0.0 if t.grad is None else t.grad.item() for k, t in env.items()}
    gerr = _gradient_errors(prog, edges, err)
    res = out_t.item()
    res_err = sum(err[o] for o in prog.outputs) + EPS * len(prog.outputs) * sum(abs(value[o]) for o in prog.outputs)
    finite = finite and math.isfinite(res) and all(math.isfinite(g) for g in grad.values())
    return Reference(value, grad, err, gerr, res, res_err, finite)


def _locals(env: dict[str, Any], out: str, operands: Sequence[str]) -> list[tuple[str, float, list[float]]]:
    """(operand, ∂out/∂operand, [∂²out/∂operand∂operand_j ...]) for each operand of node ``out``."""
    import torch

    ins = [env[a] for a in operands]
    firsts = torch.autograd.grad(env[out], ins, create_graph=True, allow_unused=True)
    rows = []
    for a, d in zip(operands, firsts, strict=True):
        if d is None:
            rows.append((a, 0.0, [0.0] * len(ins)))
            continue
        seconds = torch.autograd.grad(d, ins, retain_graph=True, allow_unused=True) if d.requires_grad else ()
        rows.append((a, d.item(), [0.0 if s is None else s.item() for s in seconds] or [0.0] * len(ins)))
    return rows


def _gradient_errors(prog: Program, edges: dict[str, Any], err: dict[str, float]) -> dict[str, float]:
    """Bound on the error of ∂result/∂node for every node (see ``Reference``), by a backward pass over bounds."""
    gabs = dict.fromkeys(err, 0.0)   # Σ over paths of |product of locals|: the terms that may cancel
    gerr = dict.fromkeys(err, 0.0)
    for o in prog.outputs:
        gabs[o] += 1.0
    for out in reversed(prog.nodes):
        operands = [a for a, _, _ in edges[out]]
        for a, d, second in edges[out]:
            local_err = EPS * max(1.0, abs(d)) + sum(abs(s) * err[b] for s, b in zip(second, operands) if err[b])
            gabs[a] += abs(d) * gabs[out]
            gerr[a] += abs(d) * gerr[out] + (local_err + EPS * abs(d)) * gabs[out]
    # 0·inf (a zero local derivative times an infinite one's error) makes nan: no bound then.
    return {k: math.inf if math.isnan(e) else e for k, e in ((k, gerr[k] + EPS * gabs[k]) for k in gerr)}


# --------------------------------------------------------------------- conditions


def near_kink(prog: Program, value: dict[str, float], tol: float = 1e-7) -> str | None:
    """The first step whose op has a kink (relu, abs, ...) within ``tol`` of its operand, or None."""
    for step in prog.steps:
        if not isinstance(step, OpStep) or not OPS[step.op].kinked:
            continue
        for a in step.args:
            x = value[a] if isinstance(a, str) else a
            if any(abs(x - k) <= tol * max(1.0, abs(x)) for k in OPS[step.op].kinks):
                return step.out
    return None


def torch_misses_second_order(prog: Program, value: dict[str, float]) -> str | None:
    """The first ``x ** y`` (Value exponent) whose exponent is exactly 0, or None.

    There torch's second derivatives are wrong: its pow backward returns ``where(y == 0, 0, y·x^(y-1))``
    for ∂/∂x, a constant 0 that drops the term ∂y/∂· · x^(y-1) of the next derivative. microgradx and
    finite differences agree with each other there (``tests/core/test_higher_order.py``), so torch is no
    witness for those second derivatives.
    """
    for step in prog.steps:
        if isinstance(step, OpStep) and step.op == "vpow":
            y = step.args[1]
            if (value[y] if isinstance(y, str) else y) == 0.0:
                return step.out
    return None


def bounded(values: Iterable[float], limit: float = 1e6) -> bool:
    """Every value finite and below ``limit`` in size."""
    return all(math.isfinite(v) and abs(v) < limit for v in values)


def all_finite(nodes: Iterable[Any]) -> bool:
    return all(math.isfinite(v.data) for v in nodes)


def hessian_rows(prog: Program, rows: Sequence[str]) -> dict[str, dict[str, float]]:
    """∂²result/∂r∂leaf for each leaf ``r`` in ``rows``, by torch's ``autograd.grad(..., create_graph=True)``."""
    import torch

    ts = {k: torch.tensor(v, dtype=torch.float64, requires_grad=True) for k, v in prog.leaves.items()}
    out = result(prog, run(prog, ts, TorchBackend()))
    names = list(ts)
    firsts = torch.autograd.grad(out, list(ts.values()), create_graph=True, allow_unused=True)
    hess: dict[str, dict[str, float]] = {}
    for r in rows:
        g = firsts[names.index(r)]
        if g is None or not g.requires_grad:
            hess[r] = dict.fromkeys(names, 0.0)
            continue
        seconds = torch.autograd.grad(g, list(ts.values()), retain_graph=True, allow_unused=True)
        hess[r] = {k: 0.0 if s is None else s.item() for k, s in zip(names, seconds, strict=True)}
    return hess
