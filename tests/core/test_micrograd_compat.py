"""micrograd's code runs unchanged on microgradx with only the package name swapped."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

MICROGRAD_README = '''
from micrograd.engine import Value

a = Value(-4.0)
b = Value(2.0)
c = a + b
d = a * b + b**3
c += c + 1
c += 1 + c + (-a)
d += d * 2 + (b + a).relu()
d += 3 * d + (b - a).relu()
e = c - d
f = e**2
g = f / 2.0
g += 10.0 / f
print(f'{g.data:.4f}') # prints 24.7041, the outcome of this forward pass
g.backward()
print(f'{a.grad:.4f}') # prints 138.8338, i.e. the numerical value of dg/da
print(f'{b.grad:.4f}') # prints 645.5773, i.e. the numerical value of dg/db
'''


def test_micrograds_readme_example_prints_the_same_numbers():
    code = MICROGRAD_README.replace("micrograd", "microgradx")
    root = Path(__file__).resolve().parents[2]
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, check=True)
    assert out.stdout.split() == ["24.7041", "138.8338", "645.5773"]


def test_micrograds_backward_twice_bug_is_fixed():
    # micrograd issues #8 / #102: a second backward() double-counts interior gradients.
    from microgradx.engine import Value

    a = Value(-4.0)
    b = Value(2.0)
    g = (a * b + b ** 3).relu() * a
    g.backward()
    once = (a.grad, b.grad)
    g.backward()
    assert (a.grad, b.grad) == (2 * once[0], 2 * once[1])


def test_a_user_defined_op_built_micrograds_way_backpropagates_through_its_closure():
    import math

    from microgradx.engine import Value

    x = Value(0.3, label="x")
    out = Value(math.sin(x.data), (x,), "sin")

    def _backward() -> None:
        x.grad += math.cos(x.data) * out.grad

    out._backward = _backward
    y = out * out
    y.backward()
    assert x.grad == 2 * math.sin(0.3) * math.cos(0.3)
    assert out._op == "sin" and out._prev == (x,) and out.local_derivatives() == (math.cos(0.3),)


def test_backward_step_and_prev_setter_work_on_the_tables_nodes_as_in_micrograd():
    from microgradx.engine import Value

    a, b, c = Value(2.0), Value(3.0), Value(5.0)
    out = a * b
    out.grad = 1.0
    out._backward()  # one step of the chain rule, as the lecture calls it by hand
    assert (a.grad, b.grad) == (3.0, 2.0)
    out._prev = (a, c)
    assert out._prev == (a, c)


def test_old_import_paths_still_work():
    from microgradx.engine import Constant, DomainError, TracingError, Value, _lift, gc_paused, no_grad  # noqa: F401
    from microgradx.graph import backward_order, scope_of, topological_order  # noqa: F401

    assert isinstance(_lift(2.0), Constant) and _lift(2.0).data == 2.0


def test_a_user_op_whose_inputs_repeat_gives_each_edge_its_share_as_x_plus_x_does():
    # MiniTorch's test_chain_rule2: the closure adds out.grad twice into the one input it names twice.
    from microgradx import Value, explain

    x = Value(3.0, label="x")
    out = Value(2 * x.data, (x, x), "twice")

    def _backward():
        x.grad += out.grad
        x.grad += out.grad

    out._backward = _backward
    assert out.local_derivatives() == (x + x).local_derivatives() == (1.0, 1.0)
    out.backward()
    assert x.grad == 2.0
    text = explain(x)
    assert "accumulated by other backward() calls" not in text and "= 1.0" in text

