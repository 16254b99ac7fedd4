"""Random expression graphs over the whole op table: backprop vs finite differences and vs PyTorch.

(The full fuzz suite, with error bounds, second derivatives, the compiled path and the error
contracts, is ``test_fuzz.py``; these two are the short, plain versions.)
"""

from __future__ import annotations

import pytest
from hypothesis import assume, given

from microgradx import gradcheck, no_grad
from tests.programs import bounded, near_kink, programs, result, run, run_values


def _values(prog, **leaves):
    with no_grad():
        env, _ = run_values(prog, leaves or None)
    return env


@given(programs(max_inputs=2, dense=False))
def test_backprop_matches_finite_differences_on_random_graphs(prog):
    env = _values(prog)
    assume(bounded((v.data for v in env.values()), 1e4)
           and near_kink(prog, {k: v.data for k, v in env.items()}, tol=1e-3) is None)
    names = list(prog.leaves)

    def f(*args):
        return result(prog, run(prog, dict(zip(names, args))))

    assert gradcheck(f, *prog.leaves.values(), eps=1e-6, atol=1e-5, rtol=1e-4).ok


@given(programs(max_steps=10, dense=False))
def test_backprop_matches_pytorch_to_1e_9_on_random_graphs(prog):
    torch = pytest.importorskip("torch")
    from tests.programs import TorchBackend

    env, out = run_values(prog)
    assume(bounded(v.data for v in env.values()) and near_kink(prog, {k: v.data for k, v in env.items()}, 1e-9) is None)
    out.backward()
    ts = {k: torch.tensor(x, dtype=torch.float64, requires_grad=True) for k, x in prog.leaves.items()}
    t_out = result(prog, run(prog, ts, TorchBackend()))
    t_out.backward()
    assert out.data == pytest.approx(t_out.item(), rel=1e-9, abs=1e-12)
    for k, t in ts.items():
        expected = 0.0 if t.grad is None else t.grad.item()
        assert env[k].grad == pytest.approx(expected, rel=1e-9, abs=1e-9)

