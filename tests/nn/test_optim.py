"""Specification of microgradx.optim: hand-computed steps, and agreement with torch.optim over several steps."""

from __future__ import annotations

import math

import numpy as np
import pytest

from microgradx.engine import Value
from microgradx.nn.optim import (
    SGD,
    Adam,
    AdamW,
    LambdaLR,
    LinearLR,
    RMSProp,
    StepLR,
    clip_grad_norm,
    clip_grad_vector,
    make_optimizer,
)

START = [0.5, -1.5, 2.0]


def quartic(ps):
    """A non-quadratic loss so that steps differ: Σ (p - 0.3)^4 + p0·p1."""
    return sum((p - 0.3) ** 4 for p in ps) + ps[0] * ps[1]


def run_ours(make, steps=5, start=START):
    ps = [Value(x) for x in start]
    opt = make(ps)
    for _ in range(steps):
        opt.zero_grad()
        quartic(ps).backward()
        opt.step()
    return [p.data for p in ps]


def run_torch(make, steps=5, start=START):
    torch = pytest.importorskip("torch")
    ps = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    opt = make([ps])
    for _ in range(steps):
        opt.zero_grad()
        (((ps - 0.3) ** 4).sum() + ps[0] * ps[1]).backward()
        opt.step()
    return ps.detach().tolist()


# ---------------------------------------------------------------- hand-computed steps


def test_plain_sgd_is_micrograds_update():
    p = Value(1.0)
    p.grad = 0.5
    SGD([p], lr=0.1).step()
    assert p.data == pytest.approx(1.0 - 0.1 * 0.5)


def test_sgd_momentum_accumulates_velocity():
    p = Value(0.0)
    opt = SGD([p], lr=1.0, momentum=0.9)
    p.grad = 1.0
    opt.step()  # buf = 1
    assert p.data == pytest.approx(-1.0)
    p.grad = 1.0
    opt.step()  # buf = 0.9 + 1 = 1.9
    assert p.data == pytest.approx(-2.9)


def test_sgd_nesterov_looks_ahead():
    p = Value(0.0)
    opt = SGD([p], lr=1.0, momentum=0.5, nesterov=True)
    p.grad = 2.0
    opt.step()  # buf = 2; step g + μ·buf = 3
    assert p.data == pytest.approx(-3.0)


def test_sgd_weight_decay_adds_lambda_p_to_the_gradient():
    p = Value(2.0)
    p.grad = 0.0
    SGD([p], lr=0.5, weight_decay=0.1).step()
    assert p.data == pytest.approx(2.0 - 0.5 * 0.1 * 2.0)


def test_adam_first_step_moves_each_parameter_by_about_lr():
    ps = [Value(1.0), Value(1.0)]
    ps[0].grad, ps[1].grad = 1e-3, -50.0
    Adam(ps, lr=0.1).step()
    # m̂ = g, v̂ = g², so the step is lr·g/(|g| + eps) ≈ ±lr whatever the gradient's size
    assert ps[0].data == pytest.approx(0.9, abs=1e-6)
    assert ps[1].data == pytest.approx(1.1, abs=1e-6)


def test_adamw_decays_the_weight_directly():
    p = Value(2.0)
    p.grad = 0.0
    AdamW([p], lr=0.1, weight_decay=0.5).step()
    assert p.data == pytest.approx(2.0 * (1 - 0.1 * 0.5))


def test_rmsprop_first_step():
    p = Value(1.0)
    p.grad = 2.0
    RMSProp([p], lr=0.01, alpha=0.9).step()
    v = 0.1 * 4.0
    assert p.data == pytest.approx(1.0 - 0.01 * 2.0 / (math.sqrt(v) + 1e-8))


def test_gradients_built_with_create_graph_are_read_as_numbers():
    p = Value(3.0)
    (p * p).backward(create_graph=True)
    assert isinstance(p.grad, Value)
    SGD([p], lr=0.1).step()
    assert p.data == pytest.approx(3.0 - 0.1 * 6.0)


def test_zero_grad_clears_gradients():
    ps = [Value(1.0), Value(2.0)]
    opt = SGD(ps, lr=0.1)
    (ps[0] * ps[1]).backward()
    opt.zero_grad()
    assert [p.grad for p in ps] == [0.0, 0.0]


# ---------------------------------------------------------------- against torch.optim


@pytest.mark.parametrize("ours,theirs", [
    (lambda ps: SGD(ps, lr=0.01), lambda ps, o: o.SGD(ps, lr=0.01)),
    (lambda ps: SGD(ps, lr=0.01, momentum=0.9), lambda ps, o: o.SGD(ps, lr=0.01, momentum=0.9)),
    (lambda ps: SGD(ps, lr=0.01, momentum=0.9, dampening=0.3),
     lambda ps, o: o.SGD(ps, lr=0.01, momentum=0.9, dampening=0.3)),
    (lambda ps: SGD(ps, lr=0.01, momentum=0.8, nesterov=True, weight_decay=0.1),
     lambda ps, o: o.SGD(ps, lr=0.01, momentum=0.8, nesterov=True, weight_decay=0.1)),
    (lambda ps: Adam(ps, lr=0.05), lambda ps, o: o.Adam(ps, lr=0.05)),
    (lambda ps: Adam(ps, lr=0.05, betas=(0.8, 0.99), weight_decay=0.1),
     lambda ps, o: o.Adam(ps, lr=0.05, betas=(0.8, 0.99), weight_decay=0.1)),
    (lambda ps: AdamW(ps, lr=0.05, weight_decay=0.2), lambda ps, o: o.AdamW(ps, lr=0.05, weight_decay=0.2)),
    (lambda ps: RMSProp(ps, lr=0.01), lambda ps, o: o.RMSprop(ps, lr=0.01)),
    (lambda ps: RMSProp(ps, lr=0.01, momentum=0.5, weight_decay=0.1),
     lambda ps, o: o.RMSprop(ps, lr=0.01, momentum=0.5, weight_decay=0.1)),
], ids=["sgd", "momentum", "dampening", "nesterov+wd", "adam", "adam+betas+wd", "adamw", "rmsprop",
        "rmsprop+momentum+wd"])
def test_optimizer_matches_torch_over_several_steps(ours, theirs):
    torch = pytest.importorskip("torch")
    expected = run_torch(lambda ps: theirs(ps, torch.optim), steps=6)
    assert run_ours(ours, steps=6) == pytest.approx(expected, rel=1e-10, abs=1e-12)


@pytest.mark.parametrize("ours,theirs", [
    (lambda o: StepLR(o, step_size=2, gamma=0.5), lambda o, s: s.StepLR(o, step_size=2, gamma=0.5)),
    (lambda o: LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=4),
     lambda o, s: s.LinearLR(o, start_factor=1.0, end_factor=0.1, total_iters=4)),
    (lambda o: LambdaLR(o, lambda e: 0.9 ** e), lambda o, s: s.LambdaLR(o, lambda e: 0.9 ** e)),
], ids=["step", "linear", "lambda"])
def test_schedule_matches_torch(ours, theirs):
    torch = pytest.importorskip("torch")
    t_opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.2)
    t_sched = theirs(t_opt, torch.optim.lr_scheduler)
    opt = SGD([Value(0.0)], lr=0.2)
    sched = ours(opt)
    for _ in range(7):
        assert sched.get_last_lr() == pytest.approx(t_sched.get_last_lr(), rel=1e-12)
        t_opt.step()
        t_sched.step()
        sched.step()


def test_linear_lr_reproduces_micrograds_moons_schedule():
    opt = SGD([Value(0.0)], lr=1.0)
    sched = LinearLR(opt, start_factor=1.0, end_factor=0.1, total_iters=100)
    for k in range(100):
        assert opt.lr == pytest.approx(1.0 - 0.9 * k / 100)
        sched.step()


def test_clip_grad_norm_scales_to_max_norm_and_returns_the_old_norm():
    ps = [Value(0.0), Value(0.0)]
    ps[0].grad, ps[1].grad = 3.0, 4.0
    assert clip_grad_norm(ps, 1.0) == pytest.approx(5.0)
    assert [p.grad for p in ps] == pytest.approx([0.6, 0.8], rel=1e-5)
    assert clip_grad_norm(ps, 10.0) == pytest.approx(1.0, rel=1e-5)
    assert [p.grad for p in ps] == pytest.approx([0.6, 0.8], rel=1e-5)


def test_clip_grad_norm_matches_torch():
    torch = pytest.importorskip("torch")
    t = torch.tensor([1.0, -2.0, 3.0], dtype=torch.float64, requires_grad=True)
    t.grad = torch.tensor([10.0, -20.0, 5.0], dtype=torch.float64)
    total = torch.nn.utils.clip_grad_norm_([t], 2.5)
    ps = [Value(x) for x in (1.0, -2.0, 3.0)]
    for p, g in zip(ps, (10.0, -20.0, 5.0), strict=True):
        p.grad = g
    assert clip_grad_norm(ps, 2.5) == pytest.approx(total.item())
    assert [p.grad for p in ps] == pytest.approx(t.grad.tolist(), rel=1e-12)


# ---------------------------------------------------------------- errors


def test_empty_parameter_list_is_a_clear_error():
    with pytest.raises(ValueError, match="empty parameter list"):
        SGD([], lr=0.1)


def test_non_value_parameter_is_a_clear_error():
    with pytest.raises(TypeError, match="parameter 0 is a float, not a Value"):
        SGD([1.0], lr=0.1)


@pytest.mark.parametrize("make,pattern", [
    (lambda ps: SGD(ps, lr=-1.0), "lr must be a finite number >= 0, got -1.0"),
    (lambda ps: SGD(ps, lr=0.1, nesterov=True), "Nesterov momentum needs momentum > 0"),
    (lambda ps: Adam(ps, betas=(1.0, 0.9)), r"beta1 must be a number in \[0, 1\), got 1.0"),
    (lambda ps: RMSProp(ps, alpha=1.5), r"alpha must be a number in \[0, 1\], got 1.5"),
])
def test_bad_hyperparameters_are_clear_errors(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make([Value(0.0)])


def test_optimizers_are_made_by_name():
    opt = make_optimizer("Adam", [Value(0.0)], lr=0.01)
    assert isinstance(opt, Adam) and opt.lr == 0.01
    with pytest.raises(ValueError, match="unknown optimizer 'lbfgs'"):
        make_optimizer("lbfgs", [Value(0.0)], lr=0.01)


def test_repr_shows_the_hyperparameters():
    assert repr(SGD([Value(0.0)], lr=0.1, momentum=0.9)) == (
        "SGD(1 parameters, lr=0.1, momentum=0.9, nesterov=False, weight_decay=0.0)")


# ---------------------------------------------------------------- bad arguments (issue 11)


def test_make_optimizer_with_no_name_says_what_to_pass():
    with pytest.raises(TypeError, match="named by a string"):
        make_optimizer(None, [Value(0.0)], lr=0.1)


@pytest.mark.parametrize("betas", [0.9, (0.9,), (0.9, 0.99, 0.999), "ab"])
def test_betas_must_be_a_pair(betas):
    with pytest.raises(ValueError, match=r"betas must be a pair \(beta1, beta2\)"):
        Adam([Value(0.0)], betas=betas)


def test_passing_the_model_instead_of_its_parameters_says_so():
    from microgradx.nn import MLP

    with pytest.raises(TypeError, match=r"pass model.parameters\(\)"):
        SGD(MLP(2, [1]))
    with pytest.raises(TypeError, match=r"single Value: pass \[v\]"):
        SGD(Value(1.0))


def test_the_same_parameter_twice_is_refused():
    p = Value(1.0, label="w")
    with pytest.raises(ValueError, match=r"parameter 2 \(w\) is the same Value as parameter 0"):
        SGD([p, Value(2.0), p], lr=0.1)


@pytest.mark.parametrize("value, error", [("0.1", TypeError), (True, TypeError), (float("nan"), ValueError),
                                          (-0.1, ValueError)])
def test_learning_rate_must_be_a_finite_number_at_least_zero_also_when_changed_later(value, error):
    with pytest.raises(error, match="lr must be"):
        SGD([Value(0.0)], lr=value)
    opt = SGD([Value(0.0)], lr=0.1)
    with pytest.raises(error, match="lr must be"):
        opt.lr = value
    assert opt.lr == 0.1


@pytest.mark.parametrize("make", [lambda o: StepLR(o, step_size=1.5), lambda o: StepLR(o, step_size=True),
                                  lambda o: LinearLR(o, total_iters=2.5)])
def test_schedule_lengths_must_be_whole_numbers(make):
    with pytest.raises(ValueError, match="must be a positive int"):
        make(SGD([Value(0.0)], lr=0.1))


def test_a_schedule_that_would_make_the_learning_rate_nan_or_negative_is_refused_naming_the_epoch():
    opt = SGD([Value(0.0)], lr=0.1)
    with pytest.raises(ValueError, match="LambdaLR would set the learning rate to nan at epoch 0"):
        LambdaLR(opt, lambda e: float("nan"))
    sched = LambdaLR(opt, lambda e: 1.0 - e)
    sched.step()
    with pytest.raises(ValueError, match=r"to -0.1 at epoch 2"):
        sched.step()
    assert opt.lr == 0.0  # the last good rate stays


# ---------------------------------------------------------------- the vector path (fit(compiled=True) uses it)

OPTIMIZERS = {
    "sgd": (lambda ps: SGD(ps, lr=0.05), lambda ps, o: o.SGD(ps, lr=0.05)),
    "sgd+wd": (lambda ps: SGD(ps, lr=0.05, weight_decay=0.1), lambda ps, o: o.SGD(ps, lr=0.05, weight_decay=0.1)),
    "momentum+dampening": (lambda ps: SGD(ps, lr=0.05, momentum=0.9, dampening=0.2),
                           lambda ps, o: o.SGD(ps, lr=0.05, momentum=0.9, dampening=0.2)),
    "nesterov+wd": (lambda ps: SGD(ps, lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01),
                    lambda ps, o: o.SGD(ps, lr=0.05, momentum=0.8, nesterov=True, weight_decay=0.01)),
    "adam": (lambda ps: Adam(ps, lr=0.01), lambda ps, o: o.Adam(ps, lr=0.01)),
    "adam+wd": (lambda ps: Adam(ps, lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1),
                lambda ps, o: o.Adam(ps, lr=0.01, betas=(0.8, 0.95), eps=1e-6, weight_decay=0.1)),
    "adamw": (lambda ps: AdamW(ps, lr=0.01, weight_decay=0.3), lambda ps, o: o.AdamW(ps, lr=0.01, weight_decay=0.3)),
    "rmsprop": (lambda ps: RMSProp(ps, lr=0.01), lambda ps, o: o.RMSprop(ps, lr=0.01)),
    "rmsprop+momentum+wd": (lambda ps: RMSProp(ps, lr=0.01, alpha=0.9, momentum=0.5, weight_decay=0.1),
                            lambda ps, o: o.RMSprop(ps, lr=0.01, alpha=0.9, momentum=0.5, weight_decay=0.1)),
}


def _random_steps(seed, n=40, steps=12):
    rng = np.random.default_rng(seed)
    return rng.normal(size=n), [rng.normal(size=n) * rng.choice([1e-3, 1.0, 30.0]) for _ in range(steps)]


def _scalar_reference(name, p, gs):
    """Each update rule written out per parameter, on Python floats, as the optimizers' docstrings give it."""
    p = list(map(float, p))
    state = {}
    for t, g in enumerate(gs, start=1):
        for i in range(len(p)):
            p[i] = _scalar_step(name, state.setdefault(i, {}), t, p[i], float(g[i]))
    return p


def _scalar_step(name, s, t, p, g):
    if name.startswith("sgd") or name in ("momentum+dampening", "nesterov+wd"):
        lr, mu, tau, wd, nesterov = {"sgd": (0.05, 0, 0, 0, False), "sgd+wd": (0.05, 0, 0, 0.1, False),
                                     "momentum+dampening": (0.05, 0.9, 0.2, 0, False),
                                     "nesterov+wd": (0.05, 0.8, 0, 0.01, True)}[name]
        g += wd * p
        if mu:
            s["b"] = g if t == 1 else mu * s["b"] + (1 - tau) * g
            g = g + mu * s["b"] if nesterov else s["b"]
        return p - lr * g
    if name.startswith("adam"):
        lr, b1, b2, eps, wd = {"adam": (0.01, 0.9, 0.999, 1e-8, 0), "adam+wd": (0.01, 0.8, 0.95, 1e-6, 0.1),
                               "adamw": (0.01, 0.9, 0.999, 1e-8, 0.3)}[name]
        if name == "adamw":
            p *= 1 - lr * wd
        else:
            g += wd * p
        s["m"] = b1 * s.get("m", 0.0) + (1 - b1) * g
        s["v"] = b2 * s.get("v", 0.0) + (1 - b2) * g * g
        m_hat, v_hat = s["m"] / (1 - b1 ** t), s["v"] / (1 - b2 ** t)
        return p - lr * m_hat / (math.sqrt(v_hat) + eps)
    lr, a, mu, wd = {"rmsprop": (0.01, 0.99, 0, 0), "rmsprop+momentum+wd": (0.01, 0.9, 0.5, 0.1)}[name]
    g += wd * p
    s["v"] = a * s.get("v", 0.0) + (1 - a) * g * g
    d = g / (math.sqrt(s["v"]) + 1e-8)
    if mu:
        s["buf"] = mu * s.get("buf", 0.0) + d
        d = s["buf"]
    return p - lr * d


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_value_path_vector_path_and_the_written_out_rule_agree_on_random_steps(name):
    make = OPTIMIZERS[name][0]
    start, gs = _random_steps(seed=len(name))
    values = [Value(float(x)) for x in start]
    by_value = make(values)
    vector = start.copy()
    by_vector = make([Value(0.0) for _ in start])
    for g in gs:
        for v, gi in zip(values, g.tolist(), strict=True):
            v.grad = gi
        by_value.step()
        by_vector.update(vector, g)
    assert [v.data for v in values] == pytest.approx(vector.tolist(), rel=1e-12, abs=1e-15)
    assert vector.tolist() == pytest.approx(_scalar_reference(name, start, gs), rel=1e-12, abs=1e-15)
    assert by_value.steps == by_vector.steps == len(gs)


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_vector_path_matches_torch_optim_on_random_steps(name):
    torch = pytest.importorskip("torch")
    ours, theirs = OPTIMIZERS[name]
    start, gs = _random_steps(seed=7 + len(name))
    vector = start.copy()
    opt = ours([Value(0.0) for _ in start])
    t = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    t_opt = theirs([t], torch.optim)
    for g in gs:
        opt.update(vector, g)
        t.grad = torch.tensor(g, dtype=torch.float64)
        t_opt.step()
    assert vector.tolist() == pytest.approx(t.detach().tolist(), rel=1e-10, abs=1e-13)


def test_clip_grad_vector_matches_torch_and_the_value_path():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    for scale in (1e-3, 1.0, 1e3):
        g = rng.normal(size=25) * scale
        t = torch.zeros(25, dtype=torch.float64, requires_grad=True)
        t.grad = torch.tensor(g)
        total_t = torch.nn.utils.clip_grad_norm_([t], 2.0)
        ps = [Value(0.0) for _ in g]
        for p, gi in zip(ps, g.tolist(), strict=True):
            p.grad = gi
        vec = g.copy()
        assert clip_grad_vector(vec, 2.0) == pytest.approx(total_t.item(), rel=1e-12)
        assert clip_grad_norm(ps, 2.0) == pytest.approx(total_t.item(), rel=1e-12)
        assert vec.tolist() == pytest.approx(t.grad.tolist(), rel=1e-12)
        assert [p.grad for p in ps] == pytest.approx(t.grad.tolist(), rel=1e-12)


def test_clip_grad_norm_of_a_model_says_to_pass_its_parameters():
    from microgradx.nn import MLP

    with pytest.raises(TypeError, match=r"pass model.parameters\(\)"):
        clip_grad_norm(MLP(2, [1]), 1.0)
