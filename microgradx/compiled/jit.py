"""``jit``: a function of scalar ``Value``\\ s traced once (``trace.py``), then run on whole numpy batches.

    >>> from microgradx import Value
    >>> from microgradx.compiled import jit
    >>> w = Value(0.5, label="w")
    >>> print(jit(lambda x: (w * x + 1.0).tanh()).trace(0.0))
    { lambda ; x .  params: w  consts: c0=1.0
      %0 = mul w x
      %1 = add %0 c0
      %2 = tanh %1
      return %2 }

Calling the jitted function with numpy arrays runs the recorded graph for every
sample at once (``program.py``).
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Callable
from typing import Any

import numpy as np

from ..engine import Value
from ..functional import gradients
from ..graph import topological_order
from .program import InputError, Program
from .trace import Trace, trace

__all__ = ["jit", "Jitted", "compile_loss"]


def _real(a: Any, pos: int) -> np.ndarray:
    """``a`` as a float array; complex numbers and text are refused, as ``Value`` refuses them."""
    if isinstance(a, Value) or (isinstance(a, (list, tuple)) and any(isinstance(c, Value) for c in a)):
        raise TypeError(f"argument {pos} holds Values: a jitted function takes numbers or numpy arrays "
                        "(the batch); call the function itself on Values, or pass their .data")
    kind = np.asarray(a).dtype.kind
    if kind == "c":
        raise TypeError(f"argument {pos} holds complex numbers: jit takes real numbers, as Value does (the "
                        "imaginary part would be dropped). Pass the part you mean, e.g. a.real or abs(a)")
    if kind in "USV":
        raise TypeError(f"argument {pos} holds text, not numbers: convert it first, e.g. np.asarray(a, float)")
    return np.asarray(a, dtype=float)


def _batch(a: Any, pos: int) -> np.ndarray | list[np.ndarray]:
    """Argument ``pos`` as a batch: a float array of shape (batch,) or (batch, k), or a list of columns."""
    if isinstance(a, (list, tuple)) and a and all(isinstance(c, np.ndarray) for c in a):
        parts = [_real(c, pos) for c in a]
        if any(p.ndim != 1 for p in parts):
            raise ValueError(f"argument {pos}: a list argument given as columns must hold 1-D arrays of shape "
                             "(batch,); or pass one 2-D array of shape (batch, k)")
        return parts
    try:
        arr = _real(a, pos)
    except (TypeError, ValueError) as e:
        if "argument" in str(e):
            raise
        raise TypeError(f"argument {pos} must be numbers or an array of shape (batch,) or (batch, k), got "
                        f"{type(a).__name__} ({e})") from None
    if arr.ndim == 0:
        return arr.reshape(1)
    if arr.ndim > 2:
        raise ValueError(f"argument {pos} has shape {arr.shape}: pass (batch,) per scalar argument "
                         "or (batch, k) for a list argument")
    return arr


def _owner(args: tuple[Any, ...], k: int) -> tuple[int, int | None]:
    """Which argument (and which of its columns) holds input column ``k``."""
    start = 0
    for pos, a in enumerate(args):
        b = _batch(a, pos)
        width = len(b) if isinstance(b, list) else (b.shape[1] if b.ndim == 2 else 1)
        if k < start + width:
            return pos, (k - start if isinstance(b, list) or b.ndim == 2 else None)
        start += width
    return len(args) - 1, None


def _single_list_argument(fn: Callable[..., Any], k: int) -> bool:
    """Does ``fn`` take one 2-D array as one list argument (``mlp(x)``) rather than ``k`` scalars?"""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return True
    params = list(sig.parameters.values())
    positional = [p for p in params if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    required = [p for p in positional if p.default is p.empty]
    var = any(p.kind == p.VAR_POSITIONAL for p in params)
    spread = (k > 1 and len(required) == k) or (var and not positional)
    return not spread


class Jitted:
    """``jit(fn)``: ``fn`` traced once per argument structure, then run on whole batches.

    * ``f(*arrays)`` -- every output for every sample, arrays of shape ``(batch,)``.
      Pass one array of shape ``(batch,)`` per scalar argument, a 2-D array
      ``(batch, k)`` (or a list of ``k`` numpy arrays of shape ``(batch,)``) for a
      list argument, or, for a function of ``k`` scalars, one 2-D array whose
      columns are them. A Python list of numbers is a batch, as ``np.asarray`` reads it.
      Inputs and parameters must be finite; an empty batch is refused.
    * ``f.value_and_grad(*arrays, reduction="mean")`` -- the loss reduced over the
      batch and the gradients of the shared parameters.
    * ``f.value_grad_and_outputs(*arrays, params=vector)`` -- the loss, the gradients
      and every output per sample from one forward pass (a training step).
    * ``f.param_vector(*arrays)`` / ``f.set_params(vector, *arrays)`` -- all parameters
      as one numpy vector, in the order of ``f.params(*arrays)``.
    * ``f.trace(*args)`` -- the :class:`Trace`; ``print`` it to read the graph.

    Threads may share one jitted function: each call computes in buffers of its own (the program lends
    them per call), so calls run at once; tracing a new structure happens once, under a lock.
    """

    def __init__(self, fn: Callable[..., Any]) -> None:
        if not callable(fn):
            raise TypeError(f"jit needs a function, got {type(fn).__name__}")
        self.fn = fn
        self.model: Any = fn  # whose training mode (dropout) a trace depends on; compile_loss sets its model
        # Guards the cache of programs: a structure is traced once, even when two threads call first at once.
        # (Running needs no lock: each call of a Program computes in buffers lent to it alone.)
        self._lock = threading.RLock()
        self._programs: dict[tuple[Any, ...], Program] = {}
        self._spread: dict[int, bool] = {}  # per width k: is one (batch, k) array k scalar arguments?
        self.__name__ = f"jit({getattr(fn, '__name__', 'fn')})"
        self.__doc__ = getattr(fn, "__doc__", None)

    # ------------------------------------------------------------ argument structure

    def _structure(self, args: tuple[Any, ...]) -> tuple[tuple[Any, ...], list[np.ndarray]]:
        """Per argument None (scalar) or a list length, and the inputs as the program takes them.

        Arrays, numbers and Python lists of numbers are batches alike (``np.asarray``):
        ``(batch,)`` for a scalar argument, ``(batch, k)`` for a list argument. A list
        of numpy arrays is a list argument given column by column. The inputs are
        those arrays: a ``(batch,)`` column per input, or a ``(batch, k)`` block for
        ``k`` of them (copied once, into the program's buffer).
        """
        if not args:
            raise TypeError(f"{self.__name__} needs at least one input array")
        arrays = [_batch(a, pos) for pos, a in enumerate(args)]
        if len(arrays) == 1 and isinstance(arrays[0], np.ndarray) and arrays[0].ndim == 2:
            arr = arrays[0]
            k = arr.shape[1]
            if self._spread.get(k) is None:
                self._spread[k] = not _single_list_argument(self.fn, k)
            return ((None,) * k if self._spread[k] else (k,)), [arr]
        structure: list[Any] = []
        inputs: list[np.ndarray] = []
        for a in arrays:
            if isinstance(a, list):  # a list argument, column by column
                structure.append(len(a))
                inputs.extend(a)
            else:
                structure.append(a.shape[1] if a.ndim == 2 else None)
                inputs.append(a)
        return tuple(structure), inputs

    def program(self, *args: Any) -> Program:
        """The compiled program for these arguments' structure (traced on first use, then cached)."""
        structure, _ = self._structure(args)
        return self._program_for(structure)

    def _program_for(self, structure: tuple[Any, ...]) -> Program:
        # A model may trace differently in training mode (dropout: refused) and evaluation mode.
        key = (structure, getattr(self.model, "training", None))
        with self._lock:
            prog = self._programs.get(key)
            if prog is None:
                prog = Program(trace(self.fn, structure))
                self._programs[key] = prog
            return prog

    def trace(self, *args: Any) -> Trace:
        """The trace for arguments shaped like ``args`` (numbers, arrays or lists)."""
        return self.program(*args).trace

    # ------------------------------------------------------------ running

    def _run(self, method: str, args: tuple[Any, ...], **kwargs: Any) -> Any:
        """``Program.<method>`` on these arrays; an input that is not finite is named by argument, row and column."""
        structure, inputs = self._structure(args)
        try:
            return getattr(self._program_for(structure), method)(inputs, **kwargs)
        except InputError as e:
            pos, column = _owner(args, e.input)
            where = f"row {e.sample}" + ("" if column is None else f", column {column}")
            raise ValueError(f"argument {pos} of {self.__name__} holds {e.value} at {where}: inputs must be finite "
                             "numbers. Clean or drop that row.") from None

    def __call__(self, *args: Any, params: np.ndarray | None = None) -> Any:
        return self._run("run", args, params=params)

    def value_and_grad(self, *args: Any, reduction: str = "mean", output: int = 0, write_grad: bool = True,
                       params: np.ndarray | None = None) -> tuple[float, np.ndarray]:
        """``(loss, grads)``: output ``output`` reduced over the batch, and ∂loss/∂param per parameter.

        ``reduction="mean"``: loss = (1/B) Σ_b f(x_b), so a term that does not
        depend on the inputs (an L2 penalty written inside ``fn``) counts once;
        ``"sum"``: loss = Σ_b f(x_b). ``grads[k]`` belongs to ``self.params(...)[k]``.
        With ``write_grad`` each parameter's ``.grad`` is increased by its gradient,
        exactly as ``loss.backward()`` would, so an optimizer step follows unchanged.

        ``params``: a vector of parameter values (ordered like ``self.params()``) to
        use instead of reading every ``.data``; for large models trained by an
        optimizer that keeps its own numpy copy (write it back with ``set_params``).

        As in eager ``backward()``, an op outside its domain, an overflow anywhere in
        the graph or a gradient that is not finite raises ``DomainError`` naming the op
        and the sample, and then no ``.grad`` is touched. ``grads`` is a new array.
        """
        loss, grads = self._run("value_and_grad", args, reduction=reduction, output=output, write_grad=write_grad,
                                params=params)
        if write_grad:
            _pass_on(self.params(*args), grads)
        return loss, grads

    def value_grad_and_outputs(self, *args: Any, params: np.ndarray | None = None, reduction: str = "mean",
                               output: int = 0) -> tuple[float, np.ndarray, Any]:
        """``(loss, grads, outputs)`` from one forward and one backward pass: a training step's needs.

        ``loss`` and ``grads`` are those of ``value_and_grad(..., write_grad=False)``
        (no ``.grad`` is touched); ``outputs`` is what ``f(*args)`` returns -- every
        traced output for every sample, arrays of shape ``(batch,)`` -- from the same
        forward pass, e.g. a model's scores for the training accuracy. With ``params``
        (a vector ordered like ``self.params()``), no parameter ``Value`` is read either::

            vec = f.param_vector(X, Y)                       # once
            loss, grads, (per_sample_loss, score) = f.value_grad_and_outputs(X, Y, params=vec)
            vec -= lr * grads                                # the optimizer, in numpy
            f.set_params(vec, X, Y)                          # when the Values should see it
        """
        result: tuple[float, np.ndarray, Any] = self._run("value_grad_and_outputs", args, reduction=reduction,
                                                          output=output, params=params)
        return result

    def params(self, *args: Any) -> list[Value]:
        """The shared parameters found by tracing, in the order of ``value_and_grad``'s gradients.

        (The order is the compiled program's row layout, not necessarily ``model.parameters()``'s.)
        """
        return self.program(*args).params

    def param_vector(self, *args: Any) -> np.ndarray:
        """The parameters' current values as one new vector, ordered like ``self.params(*args)``."""
        return self.program(*args).param_vector()

    def set_params(self, vector: np.ndarray, *args: Any) -> None:
        """Write a parameter vector (ordered like ``self.params(*args)``) back into the Values' ``data``.

        The vector must be finite (a ``ValueError`` names the first entry that is not).
        """
        self.program(*args).set_params(vector)

    def __repr__(self) -> str:
        return f"<{self.__name__}: {len(self._programs)} trace(s) cached>"


def _pass_on(params: list[Value], grads: np.ndarray) -> None:
    """A parameter computed before the call (``h = w * 3``) passes its gradient on to its own inputs.

    jit reads such a Value as a parameter (its number at each call), so the program's gradient
    stops at it; ``loss.backward()`` would go on: w.grad += ∂loss/∂h · ∂h/∂w. So does this.
    """
    for p, g in zip(params, grads.tolist(), strict=True):
        if p._x is None or g == 0.0:
            continue
        leaves = [n for n in topological_order(p) if n._x is None]
        own = p.grad  # backward() from p sets it to 1
        local = gradients(p, leaves)
        p.grad = own
        for leaf, d in zip(leaves, local, strict=True):
            leaf.grad += g * d


def jit(fn: Callable[..., Any]) -> Jitted:
    """Trace ``fn`` (a function of scalar ``Value``\\ s) once; run it on numpy batches.

    >>> import numpy as np
    >>> from microgradx import Value
    >>> w = Value(2.0, label="w")
    >>> f = jit(lambda x: w * x * x)
    >>> f(np.array([1.0, 2.0, 3.0]))
    array([ 2.,  8., 18.])
    """
    return Jitted(fn)


class _TargetsChecked(Jitted):
    """A jitted per-sample loss ``f(X, Y)`` whose targets ``Y`` the loss checks before each run."""

    def __init__(self, fn: Callable[..., Any], check: Callable[[Any], None]) -> None:
        super().__init__(fn)
        self._check = check

    def _run(self, method: str, args: tuple[Any, ...], **kwargs: Any) -> Any:
        if len(args) == 2:
            targets = _batch(args[1], 1)
            self._check(np.stack(targets, axis=1) if isinstance(targets, list) else targets)
        return super()._run(method, args, **kwargs)


def compile_loss(model: Callable[[list[Value]], Any], loss_fn: Callable[[Any, Any], Value]) -> Jitted:
    """The per-sample loss ``loss_fn(model(x), y)``, jitted: what ``fit(..., compiled=True)`` runs.

    ``x`` is one sample's feature list, ``y`` its target (a Value, or a list of
    Values for a one-hot or multi-output target). One training step is::

        step = compile_loss(model, loss_fn)        # once
        optimizer.zero_grad()
        loss, _ = step.value_and_grad(X, Y)        # X: (batch, n_in); Y: (batch,) or (batch, k)
        optimizer.step()                           # reads each parameter's .grad as usual

    With the default ``reduction="mean"`` the loss is the batch mean, and a penalty
    that ``loss_fn`` adds (it does not depend on x, y) counts once. A loss with a
    ``check_targets(Y)`` (hinge: ±1, bce: [0, 1], ...) has ``Y`` checked on every call,
    as the eager loss checks its numbers: traced targets hold none to check.
    """

    def per_sample_loss(x: list[Value], y: Any) -> Value:
        return loss_fn(model(x), y)

    check = getattr(loss_fn, "check_targets", None)
    jitted = jit(per_sample_loss) if check is None else _TargetsChecked(per_sample_loss, check)
    jitted.model = model
    jitted.__name__ = f"compile_loss({getattr(loss_fn, '__name__', 'loss')})"
    return jitted
