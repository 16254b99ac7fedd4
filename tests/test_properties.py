"""Random expression graphs over the whole op table: backprop vs finite differences and vs PyTorch."""

from __future__ import annotations

import pytest
from hypothesis import assume, given

from microgradx import Value, gradcheck, no_grad
from tests.programs import all_finite, near_kink, programs, run_torch, run_values


def output(nodes, n_inputs):
    """Sum every node the program made: each one's gradient path reaches the inputs."""
    out = nodes[n_inputs]
    for v in nodes[n_inputs + 1:]:
        out = out + v
    return out


@given(programs(n_inputs=2))
def test_backprop_matches_finite_differences_on_random_graphs(case):
    xs, prog = case
    with no_grad():
        probe = run_values([Value(x) for x in xs], prog)
    assume(all_finite(probe, limit=1e4) and not near_kink(probe, prog, 2, tol=1e-3))

    def f(a, b):
        return output(run_values([a, b], prog), 2)

    assert gradcheck(f, *xs, eps=1e-6, atol=1e-5, rtol=1e-4).ok


@given(programs(n_inputs=3, max_ops=10))
def test_backprop_matches_pytorch_to_1e_9_on_random_graphs(case):
    torch = pytest.importorskip("torch")
    xs, prog = case
    leaves = [Value(x) for x in xs]
    nodes = run_values(leaves, prog)
    assume(all_finite(nodes) and not near_kink(nodes, prog, 3, tol=1e-9))
    out = output(nodes, 3)
    out.backward()

    ts = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in xs]
    t_out = output_torch(run_torch(ts, prog), 3)
    t_out.backward()
    assert out.data == pytest.approx(t_out.item(), rel=1e-9, abs=1e-12)
    for v, t in zip(leaves, ts):
        expected = 0.0 if t.grad is None else t.grad.item()
        assert v.grad == pytest.approx(expected, rel=1e-9, abs=1e-9)


def output_torch(nodes, n_inputs):
    out = nodes[n_inputs]
    for v in nodes[n_inputs + 1:]:
        out = out + v
    return out
