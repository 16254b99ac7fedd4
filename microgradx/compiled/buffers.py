"""The buffers a program runs in: one set per call, lent from a small pool and given back.

A call of a :class:`~.program.Program` needs the value buffers U ``(n_uniform, 1)`` and
V ``(n_varying, batch)``, the gradient buffers shaped the same, and every group's
steps bound to them (``kernels.py``). Binding and fresh large arrays (page faults on
first touch) cost time on every call, so a set is kept for the next call of the same
batch size -- but never shared:

* **One call, one set.** A call takes a set from the pool (or binds a new one) and gives
  it back when it returns, so two threads calling one program at once each run in
  buffers of their own and get their own answers, in parallel where numpy releases the GIL.
  The lock guards only the pool's list, never a computation.
* **Small sets are kept, large ones are not.** A set goes back to the pool only while the
  pool then holds at most ``KEEP_BYTES`` of value and gradient buffers (and at most
  ``KEEP`` sets, oldest dropped first): a training batch's buffers are reused step after
  step, and a one-off large batch (a prediction over 500,000 rows) releases its buffers
  when the call returns.
"""

from __future__ import annotations

import threading

import numpy as np

from .groups import Schedule, V
from .kernels import Step, bind_backward, bind_forward

__all__ = ["Bound", "Pool", "KEEP", "KEEP_BYTES"]

KEEP = 4  # sets kept: a training batch and its last short one, or one per thread for a few threads
KEEP_BYTES = 64 * 2**20  # value and gradient buffers kept at most (a big evaluation batch is not kept)


class Bound:
    """One batch size's buffers and every group's steps bound to them (the backward steps on first use).

    Used by one call at a time (the pool lends it to one caller); outputs and gradients
    are copied out, so nothing returned to the caller aliases its buffers.
    """

    __slots__ = ("plan", "batch", "values", "forward", "grads", "clear", "steps_back", "nbytes")

    def __init__(self, plan: Schedule, batch: int) -> None:
        self.plan, self.batch = plan, batch
        # U starts as the template (constants in place); the parameters are written into it per call
        self.values = [plan.u_template.copy(), np.empty((plan.n_rows[V], batch))]
        self.forward = bind_forward(plan.groups, self.values)
        self.grads: list[np.ndarray] = []  # the gradient buffers and backward steps, bound on first use
        self.clear: Step = _nothing
        self.steps_back: list[Step] = []
        self.nbytes = self._nbytes()  # its value and gradient buffers' bytes

    def _nbytes(self) -> int:
        return sum(int(b.nbytes) for b in (*self.values, *self.grads))

    def backward(self, seed: tuple[int, int, float]) -> list[np.ndarray]:
        """∂loss/∂row for every row of both stages, from ∂loss/∂output = ``seed`` = (stage, row, value)."""
        grads = self.grads
        if not grads:
            grads = self.grads = [np.empty_like(b) for b in self.values]
            self.clear, self.steps_back = bind_backward(self.plan.groups, self.values, grads, self.plan.outputs)
            self.nbytes = self._nbytes()
        self.clear()
        stage, r, value = seed
        grads[stage][r] = value
        for step in self.steps_back:
            step()
        return grads


def _nothing() -> None:
    """No gradient buffers yet: nothing to clear."""


class Pool:
    """The sets of buffers of one program that no call is using, most recently given back last."""

    def __init__(self, plan: Schedule) -> None:
        self.plan = plan
        self._free: list[Bound] = []
        self._kept = 0  # bytes of the sets in _free
        self._lock = threading.Lock()

    def take(self, batch: int) -> Bound:
        """A set for ``batch`` samples that no other call is using: a kept one, or a new one."""
        with self._lock:
            free = self._free
            for k in range(len(free) - 1, -1, -1):
                if free[k].batch == batch:
                    bound = free.pop(k)
                    self._kept -= bound.nbytes
                    return bound
        return Bound(self.plan, batch)  # (bound outside the lock: binding a large program takes a while)

    def give(self, bound: Bound) -> None:
        """Keep ``bound`` for a later call if the kept sets stay within ``KEEP`` and ``KEEP_BYTES``."""
        if bound.nbytes > KEEP_BYTES:
            return  # released now, with the call
        with self._lock:
            free = self._free
            free.append(bound)
            self._kept += bound.nbytes
            while len(free) > KEEP or self._kept > KEEP_BYTES:
                self._kept -= free.pop(0).nbytes

    def retained_bytes(self) -> int:
        """Bytes of value and gradient buffers kept between calls."""
        return self._kept
