"""The op table: every operation microgradx knows, defined exactly once.

Each :class:`Op` row gives an operation's name, its display symbol, its forward
computation, its local derivatives and its domain. The functions are written
once against a small *math backend* ``m`` (``m.exp``, ``m.where``, ...), so the
same line runs on

* Python floats      (``FLOAT``: the eager engine),
* numpy arrays       (``NUMPY``: the compiled batch executor),
* ``Value`` nodes    (``VALUE``: ``backward(create_graph=True)``, which builds
  the backward pass as a graph that can be differentiated again).

The eager engine, the compiled path, the drawings (edge labels) and the
gradient explanations all read this table. Adding an op is one row here.

Local derivatives are the partials of the op's output with respect to each of
its inputs, written in terms of the inputs ``x, y`` and the output ``out``::

    out = x * y        ∂out/∂x = y            ∂out/∂y = x
    out = tanh(x)      ∂out/∂x = 1 - out²
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import lru_cache, partial
from typing import Any

import numpy as np

from .modes import Unknown

# exp(x) is finite for x below this (log of the largest float).
EXP_MAX = 709.782712893384


class DomainError(ArithmeticError):
    """An op was applied outside its domain (log of a negative, division by zero, ...), or overflowed.

    ``op`` and ``operands`` say where; the message names them, and the operands' labels when known.
    """

    def __init__(self, message: str, op: Op | None = None, operands: tuple[float, ...] = (),
                 kind: str = "domain") -> None:
        super().__init__(message)
        self.op, self.operands, self.kind = op, operands, kind

    def with_labels(self, labels: tuple[str | None, ...]) -> DomainError:
        """The same error, its message naming the operands by these labels."""
        if self.op is None or not any(labels):
            return self
        message = (overflow_message if self.kind == "overflow" else domain_message)(self.op, self.operands, labels)
        return DomainError(message, self.op, self.operands, self.kind)


# --------------------------------------------------------------------- backends


def _where(cond: Any, a: Any, b: Any) -> Any:
    return a if cond else b


def _sigmoid(x: float) -> float:
    # Two branches so that exp never overflows: σ(x) = 1/(1+e^-x) = e^x/(1+e^x).
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def _np_sigmoid(x: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(x))
    out: np.ndarray = np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))
    return out


def _sign(x: float) -> float:
    return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)


def _step(x: float) -> float:
    return 1.0 if x > 0 else 0.0


def _np_step(x: np.ndarray) -> np.ndarray:
    out: np.ndarray = np.greater(x, 0.0).astype(float)  # (half the time of np.where(x > 0, 1.0, 0.0))
    return out


def _maximum(x: float, y: float) -> float:
    return x if x > y else y


class _Backend:
    """A namespace of elementary functions over one kind of number."""

    def __init__(self, name: str, **functions: Callable[..., Any]) -> None:
        self.name = name
        self.__dict__.update(functions)

    def __repr__(self) -> str:
        return f"<math backend {self.name}>"


FLOAT: Any = _Backend(
    "float",
    exp=math.exp, log=math.log, log1p=math.log1p, tanh=math.tanh, sin=math.sin, cos=math.cos,
    sqrt=math.sqrt, abs=abs, sigmoid=_sigmoid, sign=_sign, step=_step, maximum=_maximum, where=_where,
)
NUMPY: Any = _Backend(
    "numpy",
    exp=np.exp, log=np.log, log1p=np.log1p, tanh=np.tanh, sin=np.sin, cos=np.cos,
    sqrt=np.sqrt, abs=np.abs, sigmoid=_np_sigmoid, sign=np.sign, step=_np_step, maximum=np.maximum, where=np.where,
)
# On Value nodes the elementary functions are the Value methods themselves, so
# a derivative computed with this backend is recorded as a graph. ``sign`` and
# ``step`` are step functions whose own derivative is 0: they return plain constants.
VALUE: Any = _Backend(
    "Value",
    exp=lambda v: v.exp(), log=lambda v: v.log(), log1p=lambda v: (v + 1.0).log(), tanh=lambda v: v.tanh(),
    sin=lambda v: v.sin(), cos=lambda v: v.cos(), sqrt=lambda v: v.sqrt(),
    abs=lambda v: v.abs(), sigmoid=lambda v: v.sigmoid(),
    sign=lambda v: _value_sign(v), step=lambda v: _value_step(v), where=lambda c, a, b: _value_where(c, a, b),
    maximum=lambda v, c: (v - c).relu() + c,  # max(v, c) for a constant c
)


def _value_step(v: Any) -> Any:
    """[v > 0]: a constant where v's number is known; a ``step`` node while jit traces (it is unknown then)."""
    return v._apply(STEP) if isinstance(v.data, Unknown) else _step(v.data)


def _value_sign(v: Any) -> Any:
    """sign(v) = [v > 0] - [-v > 0]: a constant where v's number is known, else two ``step`` nodes."""
    return v._apply(STEP) - (-v)._apply(STEP) if isinstance(v.data, Unknown) else _sign(v.data)


def _value_where(cond: Any, a: Any, b: Any) -> Any:
    """``a if cond else b``; for a traced step ``cond`` (0 or 1) it is b + cond·(a - b), recorded."""
    if isinstance(cond, (bool, int, float)):
        return a if cond else b
    return b + cond * (a - b)


# --------------------------------------------------------------------- the table


@dataclass(frozen=True, eq=False)
class Op(str):
    """One row of the op table.

    ``forward(m, *xs)`` computes the output; ``local(m, out, *xs)`` returns the
    tuple of local derivatives ∂out/∂xᵢ; ``domain(*xs)`` is truthy where the op
    is undefined (works elementwise on arrays). Parametrised ops (``x ** p``,
    ``leaky_relu(x, slope)``) take ``p=`` and are used through :meth:`bind`.

    The rest of a row states facts that the other parts read instead of guessing:

    * ``form``: how it is written -- ``"infix"`` (``x + y``), ``"prefix"`` (``tanh(x)``)
      or ``"postfix"`` (``x**2``);
    * ``method``: the ``Value`` method that applies it (``"__add__"``, ``"tanh"``);
    * ``default``: the parameter used when none is given (leaky ReLU's slope);
    * ``sum_like``: out = x + y, so ∂out/∂x = ∂out/∂y = 1 (the compiler fuses chains of them into sums);
    * ``bilinear``: out = x·y, so ∂out/∂x = y, ∂out/∂y = x (the compiler turns Σ w·x into a matrix product);
    * ``kinks``: where the derivative jumps (finite differences are meaningless there);
    * ``activation``: offered as a neuron's activation in ``nn``.

    An ``Op`` is also the string of its display symbol (``'+'``, ``'**2'``):
    micrograd stored ``_op`` as that string, and code written for it
    (``uid + n._op``, ``dot.node(label=n._op)``, ``n._op == '+'``) keeps working.
    """

    name: str
    symbol: str
    arity: int
    forward: Callable[..., Any]
    local: Callable[..., tuple[Any, ...]]
    local_text: tuple[str, ...]
    doc: str
    method: str
    form: str = "prefix"
    domain: Callable[..., Any] | None = None
    domain_text: str = ""
    default: float | None = None
    sum_like: bool = False
    bilinear: bool = False
    kinks: tuple[float, ...] = ()
    activation: bool = False
    param_name: str = "p"
    user_defined: bool = False
    param: float | None = None
    has_param: bool = field(default=False, repr=False)

    def __new__(cls, **fields: Any) -> Op:
        symbol, param = fields["symbol"], fields.get("param")
        return super().__new__(cls, symbol.format(p=format_param(param)) if fields.get("has_param") else symbol)

    # Ops are table rows: two rows are equal only if they are the same row (a
    # plain string still compares by text, for micrograd code).
    def __eq__(self, other: object) -> bool:
        return self is other if isinstance(other, Op) else str.__eq__(self, other)

    __hash__ = object.__hash__

    def __reduce__(self) -> tuple[Any, ...]:
        # Rows are singletons: copying or pickling a row gives the row itself (a user's op: the same row again).
        if self.user_defined:
            return (user_op, (self.symbol, self.arity))
        return (_row, (self.name, self.param))

    @property
    def infix(self) -> bool:
        """Written between its operands: ``x + y``."""
        return self.form == "infix"

    @property
    def kinked(self) -> bool:
        """Its derivative jumps somewhere (relu, abs, ...)."""
        return bool(self.kinks)

    def bind(self, p: float) -> Op:
        """This op with its parameter fixed (cached, so equal params share one Op)."""
        return _bind(self, float(p))

    def bound(self, p: float | None = None) -> Op:
        """The op ready to apply: bound to ``p``, or to its default parameter; itself if it takes none."""
        if not self.has_param or self.param is not None:
            return self
        if p is None:
            if self.default is None:
                raise TypeError(f"{self.name} needs a parameter: {self.name}.bind(p), e.g. x ** 2")
            p = self.default
        return self.bind(p)

    @property
    def display(self) -> str:
        """The symbol drawn in graphs, with the parameter filled in: ``**2``."""
        return self.symbol.format(p=format_param(self.param)) if self.has_param else self.symbol

    @property
    def display_name(self) -> str:
        """A capitalised name for reprs: ``ReLU``, ``Tanh``, ``LeakyReLU``."""
        head = self.symbol.split("(")[0]
        return head if head[:1].isupper() and head.isascii() else self.name.replace("_", " ").title().replace(" ", "")

    def describe_local(self, i: int, names: dict[str, str]) -> str:
        """Formula of ∂out/∂(input i) with operand names filled in: ``1 - c²``."""
        values = {"p": format_param(self.param), "pm1": format_param((self.param or 0.0) - 1.0)}
        return self.local_text[i].format(**values, **names)

    def evaluate(self, *xs: float) -> float:
        """The op on plain floats, checked: a :class:`DomainError` outside its domain or on overflow."""
        domain = self.domain
        if domain is not None and domain(*xs):
            raise DomainError(domain_message(self, xs, (None,) * len(xs)), self, xs, "domain")
        try:
            out: float = self.forward(FLOAT, *xs)
        except (ArithmeticError, ValueError) as e:
            kind = "overflow" if isinstance(e, OverflowError) else "domain"
            message = overflow_message if kind == "overflow" else domain_message
            raise DomainError(message(self, xs, (None,) * len(xs)), self, xs, kind) from None
        if out - out != 0.0:  # inf or nan: overflowed
            raise DomainError(overflow_message(self, xs, (None,) * len(xs)), self, xs, "overflow")
        return out

    def __str__(self) -> str:
        return self.display

    def __repr__(self) -> str:
        return f"Op({self.name!r}{'' if self.param is None else f', p={self.param}'})"


@lru_cache(maxsize=1024)
def _bind(op: Op, p: float) -> Op:
    if not op.has_param:
        raise TypeError(f"op {op.name!r} takes no parameter")
    dom = None if op.domain is None else partial(op.domain, p=p)
    return replace(op, param=p, forward=partial(op.forward, p=p), local=partial(op.local, p=p), domain=dom)


def _row(name: str, param: float | None) -> Op:
    """The table row ``name`` (bound to ``param``): what a copied or unpickled row turns back into."""
    op = OPS[name]
    return op if param is None else op.bind(param)


def format_param(x: float | None) -> str:
    """An op parameter as drawn and printed: ``2`` for 2.0, ``0.01``."""
    if x is None:
        return ""
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _is_fraction(p: float) -> bool:
    return p % 1.0 != 0.0


OPS: dict[str, Op] = {}


def _user_defined(*args: Any, **kwargs: Any) -> Any:
    raise TypeError("a user-defined op has no formula in the op table: its _backward closure is its derivative")


@lru_cache(maxsize=256)
def user_op(symbol: str, arity: int) -> Op:
    """The row for an op a user built micrograd's way, ``Value(data, (x,), 'sin')`` with a ``_backward`` closure.

    It is drawn with its symbol and explained as user-defined; the closure gives its derivative.
    """
    return Op(name=symbol or "op", symbol=symbol, arity=arity, forward=_user_defined, local=_user_defined,
              local_text=("user-defined",) * arity, doc=f"{symbol}: a user-defined op (its _backward closure)",
              method="", user_defined=True)


def _op(**kw: Any) -> Op:
    op = Op(**kw)
    OPS[op.name] = op
    return op


# Binary arithmetic.
ADD = _op(name="add", symbol="+", arity=2, form="infix", method="__add__", sum_like=True,
          forward=lambda m, x, y: x + y,
          local=lambda m, out, x, y: (1.0, 1.0),
          local_text=("1", "1"), doc="x + y")
SUB = _op(name="sub", symbol="-", arity=2, form="infix", method="__sub__",
          forward=lambda m, x, y: x - y,
          local=lambda m, out, x, y: (1.0, -1.0),
          local_text=("1", "-1"), doc="x - y")
MUL = _op(name="mul", symbol="*", arity=2, form="infix", method="__mul__", bilinear=True,
          forward=lambda m, x, y: x * y,
          local=lambda m, out, x, y: (y, x),
          local_text=("{y}", "{x}"), doc="x * y")
DIV = _op(name="div", symbol="/", arity=2, form="infix", method="__truediv__",
          forward=lambda m, x, y: x / y,
          local=lambda m, out, x, y: (1.0 / y, -out / y),
          local_text=("1/{y}", "-{out}/{y}"), doc="x / y",
          domain=lambda x, y: y == 0, domain_text="the divisor y != 0")
VPOW = _op(name="vpow", symbol="^", arity=2, form="infix", method="__pow__",
           forward=lambda m, x, y: x ** y,
           local=lambda m, out, x, y: _vpow_local(m, out, x, y),
           local_text=("{y}·{x}^({y}-1)", "{out}·ln({x})"),
           doc="x ** y with a Value exponent: ∂/∂y = x^y·ln x needs x > 0 (at x = 0, y > 0: 0, as torch and JAX)",
           domain=lambda x, y: (x < 0) | ((x == 0) & (y <= 0)),
           domain_text="base x > 0, or x = 0 with y > 0 (a Value exponent needs ln x; for a fixed exponent use "
                       "x ** number)")


def _vpow_local(m: Any, out: Any, x: Any, y: Any) -> tuple[Any, Any]:
    """(∂/∂x, ∂/∂y) of x^y = (y·x^(y-1), x^y·ln x). At x = 0 (y > 0) x^y is 0 near y, so ∂/∂y = 0 (the limit
    torch and JAX take), and ∂/∂x = y·0^(y-1): 0 for y > 1, 1 for y = 1, infinite for y < 1."""
    if m is VALUE:  # recorded as a graph, to be differentiated again
        if not isinstance(x.data, Unknown) and x.data == 0.0:
            return _vpow_local_at_zero(x, y)
        return y * x ** (y - 1.0), out * m.log(x)
    positive = x > 0
    base = m.where(positive, x, 1.0)  # ln x and x^(y-1) are taken only where x > 0
    at_zero = m.where(y > 1, 0.0, m.where(y == 1, 1.0, math.inf))
    return m.where(positive, y * base ** (y - 1.0), at_zero), m.where(positive, out * m.log(base), 0.0)



def _vpow_local_at_zero(x: Any, y: Any) -> tuple[Any, Any]:
    """The local derivatives of 0^y as a graph. For y > 1, ∂/∂x = y·x^(y-1) (0 here) and ∂/∂y = 0, which
    stay right when differentiated again (x^y·ln x and its derivatives tend to 0). For y <= 1 the
    derivatives of ∂/∂y by x are infinite at x = 0: refused, never a silently wrong 0 -- unless the base
    is a constant (``0.0 ** y``), which no one differentiates by: then 0^y = 0 for all y > 0, exactly."""
    if y.data > 1.0 or getattr(x, "_constant", False):  # a constant base: 0^y is 0 for every y > 0, exactly
        return (y * x ** (y - 1.0) if y.data > 1.0 else 0.0), 0.0
    raise DomainError(f"x ** y with x = 0 and y = {y.data!r}: its derivative as a graph (backward(create_graph=True), "
                      "grad of grad) is infinite at x = 0 for y <= 1. Keep the base away from 0, or use "
                      "backward() without create_graph for the first derivative.", VPOW, (0.0, float(y.data)))

# Unary ops.
NEG = _op(name="neg", symbol="neg", arity=1, method="__neg__",
          forward=lambda m, x: -x,
          local=lambda m, out, x: (-1.0,),
          local_text=("-1",), doc="-x")
POW = _op(name="pow", symbol="**{p}", arity=1, form="postfix", method="__pow__", has_param=True,
          forward=lambda m, x, p: x ** p,
          local=lambda m, out, x, p: (p * x ** (p - 1.0) if p != 0 else 0.0 * x,),
          local_text=("{p}·{x}^{pm1}",), doc="x ** p for a constant p: d/dx = p·x^(p-1)",
          domain=lambda x, p: ((x < 0) & _is_fraction(p)) | ((x == 0) & (p < 0)),
          domain_text="x >= 0 for a fractional power, and x != 0 for a negative power")
EXP = _op(name="exp", symbol="exp", arity=1, method="exp",
          forward=lambda m, x: m.exp(x),
          local=lambda m, out, x: (out,),
          local_text=("{out}",), doc="e^x: d/dx = e^x",
          domain=lambda x: x > EXP_MAX, domain_text=f"x <= {EXP_MAX:.2f} (beyond, e^x overflows)")
LOG = _op(name="log", symbol="log", arity=1, method="log",
          forward=lambda m, x: m.log(x),
          local=lambda m, out, x: (1.0 / x,),
          local_text=("1/{x}",), doc="ln x: d/dx = 1/x",
          domain=lambda x: x <= 0, domain_text="x > 0")
SQRT = _op(name="sqrt", symbol="sqrt", arity=1, method="sqrt",
           forward=lambda m, x: m.sqrt(x),
           local=lambda m, out, x: (0.5 / out,),
           local_text=("1/(2·{out})",), doc="√x: d/dx = 1/(2√x)",
           domain=lambda x: x <= 0, domain_text="x > 0 (at 0 the derivative 1/(2√x) is infinite)")
TANH = _op(name="tanh", symbol="tanh", arity=1, method="tanh", activation=True,
           forward=lambda m, x: m.tanh(x),
           local=lambda m, out, x: (1.0 - out * out,),
           local_text=("1 - {out}²",), doc="tanh x: d/dx = 1 - tanh² x")
SIGMOID = _op(name="sigmoid", symbol="σ", arity=1, method="sigmoid", activation=True,
              forward=lambda m, x: m.sigmoid(x),
              local=lambda m, out, x: (out * (1.0 - out),),
              local_text=("{out}·(1 - {out})",), doc="σ(x) = 1/(1+e^-x): d/dx = σ(x)(1 - σ(x))")
RELU = _op(name="relu", symbol="ReLU", arity=1, method="relu", kinks=(0.0,), activation=True,
           forward=lambda m, x: m.maximum(x, 0.0),
           local=lambda m, out, x: (m.step(x),),
           local_text=("[{x} > 0]",), doc="max(0, x): d/dx = 1 if x > 0 else 0")
LEAKY_RELU = _op(name="leaky_relu", symbol="LeakyReLU({p})", arity=1, method="leaky_relu", has_param=True,
                 param_name="slope",
                 default=0.01, kinks=(0.0,), activation=True,
                 forward=lambda m, x, p: m.where(x > 0, x, p * x),
                 local=lambda m, out, x, p: (m.where(m.step(x), 1.0, p),),  # step, so a traced x is recorded
                 local_text=("1 if {x} > 0 else {p}",),
                 doc="x if x > 0 else p·x: d/dx = 1 if x > 0 else p")
SOFTPLUS = _op(name="softplus", symbol="softplus", arity=1, method="softplus", activation=True,
               forward=lambda m, x: m.where(x > 0, x, 0.0) + m.log1p(m.exp(-m.abs(x))),
               local=lambda m, out, x: (m.sigmoid(x),),
               local_text=("σ({x})",), doc="ln(1 + e^x), computed without overflow: d/dx = σ(x)")
ABS = _op(name="abs", symbol="abs", arity=1, method="abs", kinks=(0.0,),
          forward=lambda m, x: m.abs(x),
          local=lambda m, out, x: (m.sign(x),),
          local_text=("sign({x})",), doc="|x|: d/dx = sign(x) (0 at 0)")
SIN = _op(name="sin", symbol="sin", arity=1, method="sin",
          forward=lambda m, x: m.sin(x),
          local=lambda m, out, x: (m.cos(x),),
          local_text=("cos({x})",), doc="sin x: d/dx = cos x")
COS = _op(name="cos", symbol="cos", arity=1, method="cos",
          forward=lambda m, x: m.cos(x),
          local=lambda m, out, x: (-m.sin(x),),
          local_text=("-sin({x})",), doc="cos x: d/dx = -sin x")


# Not a row of OPS (no function of that name is offered): the step [x > 0] of which the derivatives of relu,
# abs and leaky_relu are made. Eagerly it is a constant 0 or 1; it becomes a node only when jit traces a
# gradient (mx.grad inside jit), where x's number is unknown and a constant would freeze one branch.
STEP = Op(name="step", symbol="step", arity=1, method="", kinks=(0.0,),
          forward=lambda m, x: m.step(x),
          local=lambda m, out, x: (0.0,),
          local_text=("0",), doc="[x > 0]: 1 if x > 0 else 0; d/dx = 0 (away from 0)")


def _describe(op: Op, datas: tuple[float, ...], labels: tuple[str | None, ...]) -> str:
    """``log(x) with x = -1.0 ('a')``: the op and its operands, named by label when set."""
    names = "xy"
    head = f"x {op.symbol} y" if op.form == "infix" else f"{op.name}({', '.join(names[: op.arity])})"
    if op.has_param:
        head = f"{op.name}(x, p={format_param(op.param)})"
    operands = ", ".join(f"{names[i]} = {d!r}" + (f" ({lab!r})" if lab else "")
                         for i, (d, lab) in enumerate(zip(datas, labels)))
    return f"{head} with {operands}"


def domain_message(op: Op, datas: tuple[float, ...], labels: tuple[str | None, ...]) -> str:
    """Explain a domain error: which op, which operand values and labels, what must hold."""
    return (f"{_describe(op, datas, labels)} is undefined: {op.name} needs {op.domain_text}. "
            "Change the input (or the expression) so that this holds.")


def overflow_message(op: Op, datas: tuple[float, ...], labels: tuple[str | None, ...]) -> str:
    """Explain a result too large for a float."""
    return (f"{_describe(op, datas, labels)} overflows: the result is not a finite float. "
            "Scale the inputs down, or look for a runaway value earlier in the computation.")


def gradient_message(op: Op, datas: tuple[float, ...], labels: tuple[str | None, ...], local: float,
                     upstream: float) -> str:
    """Explain a gradient that is not a finite number: which op, which operands, which factors."""
    return (f"the gradient through {_describe(op, datas, labels)} is not a finite number: the local derivative "
            f"{local!r} times the upstream gradient {upstream!r}. Every leaf's grad is as it was before backward(). "
            "Rescale the inputs, or keep them away from where the derivative is infinite (log or 1/x near 0, say).")


#: The prefix rows by the name of their ``Value`` method (``exp``, ``tanh``, ``leaky_relu``, ...): the
#: functions an expression may call, and ``mx.sin`` & co.
FUNCTIONS: dict[str, Op] = {op.method: op for op in OPS.values()
                            if op.form == "prefix" and op.method.isidentifier() and not op.method.startswith("_")}
