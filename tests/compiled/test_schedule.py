"""The compiler's passes (microgradx.compiled.schedule), one at a time, on traces of a few nodes."""

from __future__ import annotations

import numpy as np

from microgradx import Value
from microgradx.compiled.schedule import (
    DotGroup,
    OpGroup,
    RunGroup,
    SumGroup,
    U,
    V,
    build,
    groups,
    matrix_products,
    row_layout,
    schedule,
    stages,
    sums,
)
from microgradx.compiled.trace import trace


def node(tr, name):
    """The index of the node printed as ``name``."""
    return tr.names().index(name)


def passes(tr):
    st = stages(tr)
    sm = sums(tr, st)
    dots = matrix_products(tr, st, sm)
    grouping = groups(tr, st, sm, dots)
    return st, sm, dots, grouping, row_layout(tr, st, grouping, dots)


# ------------------------------------------------------------------ 1. stages


def test_stages_a_node_on_parameters_only_is_uniform_and_one_on_an_input_is_per_sample():
    w = Value(2.0, label="w")
    tr = trace(lambda x: (w * w) * x + x.tanh(), [None])  # %0 = w·w, %1 = %0·x, %2 = tanh x, %3 = %1 + %2
    st = stages(tr)
    assert st.uniform[node(tr, "w")] and st.uniform[node(tr, "%0")]
    assert not st.uniform[node(tr, "x")] and not st.uniform[node(tr, "%1")] and not st.uniform[node(tr, "%2")]
    assert st.needs_grad[node(tr, "%0")] and st.needs_grad[node(tr, "%1")]
    assert not st.needs_grad[node(tr, "%2")]  # tanh x depends on no parameter
    assert st.uses[node(tr, "x")] == 2 and st.uses[node(tr, "%3")] == 1  # the output counts as a use
    assert st.parent[node(tr, "%1")] == node(tr, "%3")


# ------------------------------------------------------------------ 2. sums


def test_sums_fold_a_chain_of_adds_used_once_and_keep_the_terms_left_to_right():
    a, b = Value(1.0, label="a"), Value(2.0, label="b")
    tr = trace(lambda x: x.tanh() + a + b, [None])  # %1 = tanh x + a, %2 = %1 + b
    st = stages(tr)
    sm = sums(tr, st)
    assert sm.absorbed[node(tr, "%1")]
    assert sm.terms == {node(tr, "%2"): [node(tr, "%0"), node(tr, "a"), node(tr, "b")]}


def test_sums_keep_a_partial_sum_that_is_used_elsewhere():
    a = Value(1.0, label="a")

    def f(x):
        s = x + a
        return (s + x) * s  # s is read twice: it stays a node of its own

    tr = trace(f, [None])
    sm = sums(tr, stages(tr))
    assert not sm.absorbed[node(tr, "%0")]
    assert sm.terms[node(tr, "%1")] == [node(tr, "%0"), node(tr, "x")]


# ------------------------------------------------------------------ 3. matrix products


def test_matrix_products_contract_sums_of_weighted_rows_that_share_their_x():
    w0, w1, b0, b1 = (Value(v, label=n) for v, n in [(0.5, "w0"), (-1.0, "w1"), (0.1, "b0"), (0.2, "b1")])
    tr = trace(lambda x: (w0 * x + b0, w1 * x + b1), [None])  # two neurons reading the same x
    st = stages(tr)
    dots = matrix_products(tr, st, sums(tr, st))
    first, second = node(tr, "%1"), node(tr, "%3")
    assert set(dots) == {first, second}
    assert dots[first].weights == [node(tr, "w0")] and dots[first].xs == [node(tr, "x")]
    assert dots[first].others == [node(tr, "b0")] and dots[first].products == [node(tr, "%0")]


def test_matrix_products_leave_a_lone_short_sum_alone():
    w, b = Value(0.5, label="w"), Value(0.1, label="b")
    tr = trace(lambda x: w * x + b, [None])
    st = stages(tr)
    assert matrix_products(tr, st, sums(tr, st)) == {}


# ------------------------------------------------------------------ 4. groups


def test_groups_put_nodes_of_one_op_at_one_level_together_and_order_by_level():
    tr = trace(lambda x, y: (x.tanh(), y.tanh(), x.tanh().exp()), [None, None])
    st, sm, dots, grouping, _ = passes(tr)
    members = [grouping.nodes[s:e].tolist() for s, e in zip(grouping.bounds[:-1], grouping.bounds[1:], strict=True)]
    tanhs = [i for i in range(tr.n_nodes) if tr.node(i).op is not None and tr.node(i).op.name == "tanh"]
    assert members[0] == tanhs  # level 1: all three tanh, one group
    assert grouping.level.tolist() == [1, 2] and grouping.kind == ["op", "op"]
    assert grouping.stage.tolist() == [V, V]


def test_groups_run_the_uniform_stage_first():
    w = Value(2.0, label="w")
    tr = trace(lambda x: x * w.exp(), [None])
    _, _, _, grouping, _ = passes(tr)
    assert grouping.stage.tolist() == [U, V]


# ------------------------------------------------------------------ 5. row layout


def test_row_layout_puts_each_matrix_products_weights_row_major_then_its_biases_in_consecutive_rows():
    w = [[Value(0.1 * (i + j), label=f"w{i}{j}") for j in range(2)] for i in range(2)]
    b = [Value(0.0, label=f"b{i}") for i in range(2)]
    tr = trace(lambda x, y: tuple(w[i][0] * x + w[i][1] * y + b[i] for i in range(2)), [None, None])
    _, _, _, _, layout = passes(tr)
    rows = {name: int(layout.row[node(tr, name)]) for name in ["w00", "w01", "w10", "w11", "b0", "b1", "x", "y"]}
    assert [rows[n] for n in ["w00", "w01", "w10", "w11", "b0", "b1"]] == [0, 1, 2, 3, 4, 5]
    assert (rows["x"], rows["y"]) == (0, 1)  # V: the inputs first
    assert layout.n_rows == (6, 4)  # U: six parameters; V: two inputs, two sums


# ------------------------------------------------------------------ build and schedule


def test_build_reads_contiguous_rows_as_a_view_and_repeated_rows_with_a_segment_sum():
    a, b = Value(0.4, label="a"), Value(-1.1, label="b")
    tr = trace(lambda x: (a * x + b * x).relu() + (a * x + a * x).tanh(), [None])
    st, sm, dots, grouping, layout = passes(tr)
    built = build(tr, st, sm, dots, grouping, layout)
    dot = next(g for g in built if isinstance(g, DotGroup))  # both sums: [[a, b], [a, a]] @ [x, x]
    assert dot.weights.repeated is not None and dot.xs.repeated is not None  # a and x are read twice
    relu = next(g for g in built if isinstance(g, OpGroup) and g.op.name == "relu")
    assert relu.args[0].idx is None and relu.args[0].start == dot.start  # one row of the dot: a view
    total = built[-1]  # relu + tanh: a short sum, added position by position
    assert isinstance(total, SumGroup) and [len(c) for c in total.columns] == [1, 1]


def test_the_schedule_knows_the_output_rows_and_which_node_each_row_holds():
    w = Value(2.0, label="w")
    tr = trace(lambda x: (w * x).tanh(), [None])
    plan = schedule(tr)
    stage, row = plan.outputs[0]
    assert stage == V and plan.row_nodes[V][row] == tr.outputs[0]
    assert plan.param_order.tolist() == [0] and plan.u_template.shape == (plan.n_rows[U], 1)
    assert "V level   2  tanh" in plan.text("f", tr.n_ops)
    np.testing.assert_array_equal(plan.u_template[:, 0], 0.0)  # w's row is filled at each call


def test_build_keeps_a_long_chain_of_one_node_levels_as_one_run():
    w = Value(0.9, label="w")

    def f(x):
        for _ in range(40):
            x = (x * w + 0.1).tanh()
        return x

    tr = trace(f, [None])
    plan = schedule(tr)
    (run,) = plan.groups
    assert isinstance(run, RunGroup) and run.size == 120  # mul, add, tanh per step: 120 levels
    assert (run.level, run.last_level) == (1, 120)
    assert sorted(op.name for op in run.ops) == ["add", "mul", "tanh"]
    first = run.step(0)  # x·w: reads x (an input) and w (uniform, needs a gradient)
    assert first.op.name == "mul"
    assert [(r.src, r.start, r.needs_grad) for r in first.args] == [(V, 0, False), (U, 0, True)]
    assert "run" in plan.text("f", tr.n_ops) and "one node per level to 120" in plan.text("f", tr.n_ops)


def test_a_short_chain_stays_one_group_per_level():
    tr = trace(lambda x: x.tanh().exp().sin(), [None])
    assert [g.name for g in schedule(tr).groups] == ["tanh", "exp", "sin"]


# ------------------------------------------------------------------ the passes share nothing but their results


def test_passes_interleaved_over_two_traces_give_what_each_gives_alone():
    a = Value(0.5, label="a")
    one = trace(lambda x: (a * x + x + 1.0).relu(), [None])
    two = trace(lambda x, y: (x * y).tanh() + a * a + y, [None, None])
    alone = [passes(tr) for tr in (one, two)]
    st = [stages(one), stages(two)]  # each pass run on one trace, then on the other, before the next pass
    sm = [sums(one, st[0]), sums(two, st[1])]
    dots = [matrix_products(one, st[0], sm[0]), matrix_products(two, st[1], sm[1])]
    grouping = [groups(one, st[0], sm[0], dots[0]), groups(two, st[1], sm[1], dots[1])]
    layout = [row_layout(one, st[0], grouping[0], dots[0]), row_layout(two, st[1], grouping[1], dots[1])]
    for k in (0, 1):
        assert sm[k].terms == alone[k][1].terms
        np.testing.assert_array_equal(grouping[k].nodes, alone[k][3].nodes)
        np.testing.assert_array_equal(layout[k].row, alone[k][4].row)


def test_the_compiler_modules_keep_no_cache_between_schedules():
    from microgradx.compiled import lower
    from microgradx.compiled import passes as passes_module
    from microgradx.compiled import schedule as schedule_module

    for module in (passes_module, lower, schedule_module):
        cached = [name for name, obj in vars(module).items() if hasattr(obj, "cache_clear")]
        assert not cached, f"{module.__name__} keeps a cache: {cached}"


def test_every_name_the_schedule_module_exported_before_the_split_still_imports_from_it():
    import microgradx.compiled.schedule as old_place
    from microgradx.compiled import groups as groups_module

    before = ["Schedule", "Group", "OpGroup", "SumGroup", "DotGroup", "RunGroup", "Rows", "Terms", "schedule",
              "stages", "sums", "matrix_products", "groups", "row_layout", "build", "U", "V", "levels"]
    assert all(hasattr(old_place, name) for name in before)
    assert old_place.Rows is groups_module.Rows and old_place.Schedule is groups_module.Schedule
