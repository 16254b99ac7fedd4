"""The compiled path: trace a function of scalar ``Value``\\ s once, then run it on whole numpy batches.

* ``trace``    -- run the function on placeholders and record a small readable IR
* ``schedule`` -- the compiler: its passes (``passes``: stages, sums, matrix products, groups, row
  layout) in order, then ``lower``, which makes them the executable groups of ``groups``
* ``program``  -- execute a schedule forward and backward with numpy (``kernels``: each group's steps;
  ``buffers``: the buffers each call runs in)
* ``jit``      -- ``jit(fn)`` and ``compile_loss``: the user-facing wrappers
"""

from .jit import Jitted, compile_loss, jit
from .program import Program
from .trace import Trace, trace

__all__ = ["jit", "Jitted", "compile_loss", "Trace", "trace", "Program"]
