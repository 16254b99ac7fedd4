"""Specification of microgradx.nn: micrograd's Neuron/Layer/MLP, plus names, options, state and files."""

from __future__ import annotations

import gc
import json
import random

import numpy as np
import pytest

from microgradx.engine import Value, no_grad
from microgradx.graph import topological_order
from microgradx.nn import MLP, Layer, ModelFileError, Module, Neuron
from microgradx.ops import DomainError

# ---------------------------------------------------------------- micrograd compatibility


def micrograd_demo_loop(Value, MLP, steps):  # noqa: N803 - the classes under test
    """micrograd's demo.ipynb moons loop, verbatim apart from the classes passed in."""
    sklearn = pytest.importorskip("sklearn.datasets")
    np.random.seed(1337)
    random.seed(1337)
    X, y = sklearn.make_moons(n_samples=100, noise=0.1)
    y = y * 2 - 1
    model = MLP(2, [16, 16, 1])

    def loss(batch_size=None):
        if batch_size is None:
            Xb, yb = X, y
        else:
            ri = np.random.permutation(X.shape[0])[:batch_size]
            Xb, yb = X[ri], y[ri]
        inputs = [list(map(Value, xrow)) for xrow in Xb]
        scores = list(map(model, inputs))
        losses = [(1 + -yi * scorei).relu() for yi, scorei in zip(yb, scores)]  # noqa: B905
        data_loss = sum(losses) * (1.0 / len(losses))
        alpha = 1e-4
        reg_loss = alpha * sum((p * p for p in model.parameters()))  # noqa: UP034
        total_loss = data_loss + reg_loss
        accuracy = [(yi > 0) == (scorei.data > 0) for yi, scorei in zip(yb, scores)]  # noqa: B905
        return total_loss, sum(accuracy) / len(accuracy)

    trace = []
    for k in range(steps):
        total_loss, acc = loss()
        model.zero_grad()
        total_loss.backward()
        learning_rate = 1.0 - 0.9 * k / 100
        for p in model.parameters():
            p.data -= learning_rate * p.grad
        trace.append((total_loss.data, acc))
    return model, trace


def test_micrograd_demo_runs_with_only_the_import_changed_and_matches_micrograd():
    micrograd_nn = pytest.importorskip("micrograd.nn")
    from micrograd.engine import Value as MGValue

    _, ours = micrograd_demo_loop(Value, MLP, 3)
    gc.disable()  # micrograd's graphs are reference cycles: collect once at the end, not all along
    try:
        _, theirs = micrograd_demo_loop(MGValue, micrograd_nn.MLP, 3)
    finally:
        gc.enable()
        gc.collect()
    for (l1, a1), (l2, a2) in zip(ours, theirs, strict=True):
        assert l1 == pytest.approx(l2, rel=1e-12)
        assert a1 == a2


def test_default_init_draws_from_the_global_random_module_like_micrograd():
    micrograd_nn = pytest.importorskip("micrograd.nn")
    random.seed(7)
    ours = [p.data for p in MLP(3, [4, 2]).parameters()]
    random.seed(7)
    theirs = [p.data for p in micrograd_nn.MLP(3, [4, 2]).parameters()]
    assert ours == theirs


def test_hidden_layers_are_relu_and_last_layer_is_linear():
    m = MLP(2, [3, 3, 1])
    assert [n.activation for n in m.layers[0].neurons] == ["relu"] * 3
    assert [n.activation for n in m.layers[1].neurons] == ["relu"] * 3
    assert m.layers[2].neurons[0].activation == "linear"


def test_one_neuron_layer_returns_a_single_value_and_wider_layers_a_list():
    assert isinstance(Layer(2, 1)([1.0, 2.0]), Value)
    out = Layer(2, 3)([1.0, 2.0])
    assert isinstance(out, list) and len(out) == 3


def test_neuron_graph_has_micrograds_shape():
    n = Neuron(2, nonlin=False, seed=0)
    x = [Value(1.0), Value(2.0)]
    out = n(x)
    # sum((w*x ...), b): ((b + w0*x0) + w1*x1)
    assert out._op.name == "add"
    left, right = out._prev
    assert right._op.name == "mul" and right._prev == (n.w[1], x[1])
    assert left._op.name == "add" and left._prev[0] is n.b
    assert left._prev[1]._prev == (n.w[0], x[0])
    assert out.data == pytest.approx(n.w[0].data * 1.0 + n.w[1].data * 2.0)


def test_weighted_sum_under_no_grad_records_no_graph():
    with no_grad():
        out = Neuron(3, seed=0)([1.0, 2.0, 3.0])
    assert out._prev == ()


def test_weighted_sum_overflow_raises_the_engines_error_naming_the_parameter():
    n = Neuron(2, nonlin=False, seed=0)
    n.w[0].data = 1e300
    with pytest.raises(DomainError, match="w.0"):
        n([1e300, 1.0])


@pytest.mark.parametrize("make", [
    lambda nn: nn.Neuron(2), lambda nn: nn.Neuron(3, nonlin=False), lambda nn: nn.Layer(2, 1),
    lambda nn: nn.Layer(3, 5, nonlin=False), lambda nn: nn.MLP(2, [2, 1]), lambda nn: nn.MLP(2, [16, 16, 1]),
    lambda nn: nn.MLP(3, [64, 64, 2]),
], ids=["neuron", "linear neuron", "layer of one", "linear layer", "small mlp", "demo mlp", "64 wide"])
def test_repr_of_a_micrograd_shaped_model_is_micrograds_own_text(make):
    micrograd_nn = pytest.importorskip("micrograd.nn")
    import microgradx.nn as ours

    assert repr(make(ours)) == repr(make(micrograd_nn))
    assert str(make(ours)) == str(make(micrograd_nn))


def test_a_layer_wider_than_the_repr_width_writes_its_run_of_equal_neurons_once_with_its_count():
    from microgradx.nn.modules import REPR_WIDTH

    wide = REPR_WIDTH + 1
    assert repr(MLP(2, [wide, 1])) == f"MLP of [Layer of [ReLUNeuron(2) × {wide}], Layer of [LinearNeuron({wide})]]"
    assert repr(Layer(2, REPR_WIDTH)) == "Layer of [" + ", ".join(["ReLUNeuron(2)"] * REPR_WIDTH) + "]"


def test_repr_names_other_activations_and_options():
    assert repr(Neuron(3, activation="tanh", bias=False)) == "TanhNeuron(3, bias=False)"
    assert "Dropout(0.5)" in repr(Layer(2, 2, dropout=0.5))


# ---------------------------------------------------------------- parameters and names


def test_parameters_are_weights_then_bias_per_neuron_as_in_micrograd():
    n = Neuron(3)
    assert n.parameters() == n.w + [n.b]
    m = MLP(2, [3, 1])
    assert len(m.parameters()) == 3 * 3 + 4


def test_named_parameters_use_stable_dotted_names():
    m = MLP(2, [2, 1], seed=0)
    names = [name for name, _ in m.named_parameters()]
    assert names == [
        "layers.0.neurons.0.w.0", "layers.0.neurons.0.w.1", "layers.0.neurons.0.b",
        "layers.0.neurons.1.w.0", "layers.0.neurons.1.w.1", "layers.0.neurons.1.b",
        "layers.1.neurons.0.w.0", "layers.1.neurons.0.w.1", "layers.1.neurons.0.b",
    ]


def test_every_parameter_is_labelled_with_its_dotted_name():
    for module in (MLP(2, [3, 1]), Layer(2, 2), Neuron(2)):
        for name, p in module.named_parameters():
            assert p.label == name
    assert [p.label for p in Neuron(2).parameters()] == ["w.0", "w.1", "b"]
    assert Layer(2, 2).parameters()[0].label == "neurons.0.w.0"


def test_each_neuron_labels_its_output_with_its_dotted_name():
    m = MLP(2, [2, 1], seed=0)
    out = m([1.0, -1.0])
    assert out.label == "layers.1.neurons.0"
    hidden = {n.label for n in topological_order(out) if n.label and n.label.startswith("layers.0.neurons.")
              and not n.label.endswith((".b",)) and ".w." not in n.label}
    assert hidden == {"layers.0.neurons.0", "layers.0.neurons.1"}


def test_parameters_returns_a_fresh_list_each_call():
    m = MLP(2, [2, 1])
    ps = m.parameters()
    ps.clear()
    assert len(m.parameters()) == 9


def test_zero_grad_resets_every_gradient():
    m = MLP(2, [3, 1], seed=1)
    m([1.0, 2.0]).backward()
    assert any(p.grad != 0 for p in m.parameters())
    m.zero_grad()
    assert all(p.grad == 0.0 for p in m.parameters())


# ---------------------------------------------------------------- options


def test_same_seed_gives_the_same_model_and_leaves_global_random_alone():
    random.seed(3)
    before = random.random()
    random.seed(3)
    a = MLP(2, [4, 1], seed=42)
    b = MLP(2, [4, 1], seed=42)
    assert a.state_dict() == b.state_dict()
    assert random.random() == before
    assert MLP(2, [4, 1], seed=43).state_dict() != a.state_dict()


def test_a_random_random_instance_is_an_accepted_seed():
    a = MLP(2, [3, 1], seed=random.Random(5))
    b = MLP(2, [3, 1], seed=random.Random(5))
    assert a.state_dict() == b.state_dict()


@pytest.mark.parametrize("activation,expected", [
    ("relu", lambda z: max(0.0, z)),
    ("tanh", np.tanh),
    ("sigmoid", lambda z: 1 / (1 + np.exp(-z))),
    ("leaky_relu", lambda z: z if z > 0 else 0.01 * z),
    ("linear", lambda z: z),
])
def test_activation_is_applied_to_the_weighted_sum(activation, expected):
    n = Neuron(2, activation=activation, seed=0)
    n.b.data = 0.3
    for x in ([1.0, -2.0], [-1.0, 0.5]):
        z = n.w[0].data * x[0] + n.w[1].data * x[1] + 0.3
        assert n(x).data == pytest.approx(expected(z))


def test_uniform_init_is_micrograds_u_minus1_1_with_zero_bias():
    n = Neuron(1000, seed=0)
    ws = np.array([w.data for w in n.w])
    assert ws.min() >= -1 and ws.max() <= 1 and ws.min() < -0.9 and ws.max() > 0.9
    assert n.b.data == 0.0


def test_xavier_init_is_bounded_by_sqrt_6_over_fan_in_plus_fan_out():
    layer = Layer(200, 50, init="xavier", seed=0)
    ws = np.array([p.data for n in layer.neurons for p in n.w])
    bound = np.sqrt(6 / 250)
    assert np.abs(ws).max() <= bound and np.abs(ws).max() > 0.9 * bound


def test_he_init_has_variance_two_over_fan_in():
    layer = Layer(100, 100, init="he", seed=0)
    ws = np.array([p.data for n in layer.neurons for p in n.w])
    assert ws.var() == pytest.approx(2 / 100, rel=0.05)


def test_zeros_init_makes_all_hidden_neurons_identical():
    m = MLP(2, [3, 1], init="zeros", activation="tanh")
    out = m([0.5, -1.0])
    out.backward()
    grads = [[p.grad for p in n.parameters()] for n in m.layers[0].neurons]
    assert grads[0] == grads[1] == grads[2]


def test_bias_can_be_switched_off():
    n = Neuron(2, bias=False, seed=0)
    assert n.b is None and len(n.parameters()) == 2
    assert n([1.0, 1.0]).data == pytest.approx(max(0.0, n.w[0].data + n.w[1].data))
    assert len(MLP(2, [3, 1], bias=False).parameters()) == 6 + 3


def test_unknown_activation_or_init_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown activation 'softmax'"):
        Neuron(2, activation="softmax")
    with pytest.raises(ValueError, match="unknown init 'normal'"):
        Neuron(2, init="normal")


def test_dropout_zeroes_and_rescales_outputs_in_training_mode_only():
    layer = Layer(2, 200, dropout=0.5, activation="linear", init="zeros", seed=0)
    for n in layer.neurons:
        n.b.data = 1.0
    outs = [o.data for o in layer([1.0, 1.0])]
    assert set(outs) == {0.0, 2.0}
    assert 60 < outs.count(0.0) < 140
    layer.eval()
    assert {o.data for o in layer([1.0, 1.0])} == {1.0}
    assert layer.train() is layer and layer.training


def test_mlp_applies_dropout_to_hidden_layers_only():
    m = MLP(2, [4, 4, 1], dropout=0.3)
    assert [layer.dropout for layer in m.layers] == [0.3, 0.3, 0.0]
    m.eval()
    assert not any(mod.training for mod in m.modules())


# ---------------------------------------------------------------- inputs


@pytest.mark.parametrize("x", [[0.5, -1.0], (0.5, -1.0), np.array([0.5, -1.0]), [Value(0.5), Value(-1.0)],
                               [np.float32(0.5), -1]])
def test_inputs_may_be_numbers_arrays_or_values(x):
    m = MLP(2, [3, 1], seed=0)
    assert m(x).data == pytest.approx(m([0.5, -1.0]).data)


def test_value_inputs_are_used_as_given_so_gradients_reach_them():
    m = MLP(2, [3, 1], seed=0)
    x = [Value(0.5), Value(-1.0)]
    m(x).backward()
    assert any(xi.grad != 0 for xi in x)


@pytest.mark.parametrize("module", [Neuron(2), Layer(2, 3), MLP(2, [3, 1])])
def test_wrong_input_length_says_expected_and_got(module):
    with pytest.raises(ValueError, match="expected 2 inputs, got 3"):
        module([1.0, 2.0, 3.0])


def test_a_batch_array_is_rejected_with_advice():
    with pytest.raises(ValueError, match="single sample"):
        MLP(2, [1])(np.zeros((4, 2)))


def test_forward_pass_pauses_the_cyclic_gc_and_restores_it():
    seen = []

    class Probe(Module):
        def forward(self, x):
            seen.append(gc.isenabled())
            return x

    assert gc.isenabled()
    Probe()([1.0])
    assert seen == [False] and gc.isenabled()
    gc.disable()
    try:
        Probe()([1.0])
        assert not gc.isenabled()
    finally:
        gc.enable()


# ---------------------------------------------------------------- state and files


def test_state_dict_round_trip_restores_outputs():
    a, b = MLP(2, [4, 1], seed=0), MLP(2, [4, 1], seed=1)
    b.load_state_dict(a.state_dict())
    assert b([0.3, 0.7]).data == a([0.3, 0.7]).data


def test_load_state_dict_with_wrong_keys_names_them_and_changes_nothing():
    m = MLP(2, [2, 1], seed=0)
    before = m.state_dict()
    state = dict(before)
    del state["layers.1.neurons.0.b"]
    state["layers.9.neurons.0.b"] = 1.0
    with pytest.raises(ValueError, match=r"missing 1 parameter.*'layers.1.neurons.0.b'.*unexpected"):
        m.load_state_dict(state)
    assert m.state_dict() == before


def test_load_state_dict_rejects_non_numbers_before_changing_anything():
    m = MLP(2, [2, 1], seed=0)
    before = m.state_dict()
    state = {k: 5.0 for k in before}
    state["layers.1.neurons.0.b"] = "x"
    with pytest.raises(ValueError, match="must be a number"):
        m.load_state_dict(state)
    assert m.state_dict() == before


def test_save_and_load_restore_an_identical_model(tmp_path):
    m = MLP(2, [4, 3, 1], activation="tanh", seed=0, dropout=0.1)
    path = tmp_path / "model.json"
    m.save(path)
    doc = json.loads(path.read_text())
    assert doc["architecture"]["type"] == "MLP" and doc["architecture"]["nouts"] == [4, 3, 1]
    loaded = MLP.load(path)
    assert loaded.config() == m.config()
    assert loaded.state_dict() == m.state_dict()
    assert [p.label for p in loaded.parameters()] == [p.label for p in m.parameters()]
    m.eval()
    loaded.eval()
    assert loaded([0.1, 0.2]).data == m([0.1, 0.2]).data


def test_save_writes_atomically_and_leaves_no_temporary_files(tmp_path):
    path = tmp_path / "model.json"
    MLP(2, [1], seed=0).save(path)
    MLP(2, [3, 1], seed=0).save(path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["model.json"]
    assert MLP.load(path).nouts == [3, 1]


def test_saving_into_a_missing_folder_names_the_path(tmp_path):
    target = tmp_path / "missing" / "m.json"
    with pytest.raises(OSError, match=r"cannot write model file .*m.json.*does the folder"):
        MLP(2, [1]).save(target)


def test_loading_does_not_consume_global_random_numbers(tmp_path):
    MLP(2, [3, 1], seed=0).save(tmp_path / "m.json")
    random.seed(1)
    expected = random.random()
    random.seed(1)
    MLP.load(tmp_path / "m.json")
    assert random.random() == expected


def test_neuron_and_layer_save_and_load_too(tmp_path):
    for module, cls in ((Neuron(3, activation="sigmoid", seed=0), Neuron), (Layer(2, 2, seed=0), Layer)):
        module.save(tmp_path / "m.json")
        assert cls.load(tmp_path / "m.json").state_dict() == module.state_dict()


def test_loading_a_file_of_another_module_type_says_which(tmp_path):
    Layer(2, 2).save(tmp_path / "layer.json")
    with pytest.raises(ModelFileError, match="holds a Layer, not a MLP"):
        MLP.load(tmp_path / "layer.json")


@pytest.fixture
def saved(tmp_path):
    model = MLP(2, [4, 1], seed=0)
    path = tmp_path / "model.json"
    model.save(path)
    return path


def _untouched(check):
    m = MLP(2, [4, 1], seed=5)
    before = m.state_dict()
    check(m)
    assert m.state_dict() == before


def test_truncated_file_is_a_clear_error_and_leaves_the_model_untouched(saved):
    text = saved.read_text()
    saved.write_text(text[: len(text) // 2])
    with pytest.raises(ModelFileError, match="truncated"):
        MLP.load(saved)
    _untouched(lambda m: _expect(ModelFileError, "truncated", m.restore, saved))


def test_file_that_is_not_json_is_a_clear_error(saved):
    saved.write_text("this is not json")
    _untouched(lambda m: _expect(ModelFileError, "not valid JSON", m.restore, saved))
    _expect(ModelFileError, "not valid JSON", MLP.load, saved)


def test_json_that_is_not_a_model_file_is_a_clear_error(saved):
    saved.write_text('{"weights": [1, 2, 3]}')
    _expect(ModelFileError, "not a microgradx model file", MLP.load, saved)


def test_file_of_another_architecture_is_refused_by_restore(saved):
    m = MLP(2, [16, 1], seed=0)
    before = m.state_dict()
    _expect(ModelFileError, r"holds MLP\(2, \[4, 1\]\) but this model is MLP\(2, \[16, 1\]\)", m.restore, saved)
    assert m.state_dict() == before


def test_wrong_parameter_count_is_a_clear_error_and_leaves_the_model_untouched(saved):
    doc = json.loads(saved.read_text())
    doc["parameters"].popitem()
    saved.write_text(json.dumps(doc))
    _expect(ModelFileError, "has 16 parameters but MLP\\(2, \\[4, 1\\]\\) has 17", MLP.load, saved)
    _untouched(lambda m: _expect(ModelFileError, "has 16 parameters", m.restore, saved))


def test_non_finite_parameter_in_file_is_refused(saved):
    text = saved.read_text().replace('"layers.0.neurons.0.b": 0.0', '"layers.0.neurons.0.b": NaN')
    saved.write_text(text)
    _untouched(lambda m: _expect(ModelFileError, "must be finite", m.restore, saved))


def test_missing_file_is_a_clear_error(tmp_path):
    _expect(ModelFileError, "cannot read model file", MLP.load, tmp_path / "nope.json")


def test_restore_loads_parameters_into_an_existing_model(saved):
    m = MLP(2, [4, 1], seed=9)
    m.restore(saved)
    assert m.state_dict() == MLP(2, [4, 1], seed=0).state_dict()


def _expect(exc, pattern, fn, *args):
    with pytest.raises(exc, match=pattern):
        fn(*args)
    return True


# ---------------------------------------------------------------- what training asks a module


@pytest.mark.parametrize("module, nin, n_outputs", [
    (Neuron(3), 3, 1), (Layer(3, 4), 3, 4), (MLP(3, [5, 2]), 3, 2), (MLP(3, [5, 1]), 3, 1),
])
def test_a_module_says_how_many_inputs_it_takes_and_outputs_it_gives(module, nin, n_outputs):
    assert module.nin == nin and module.n_outputs == n_outputs
    out = module([0.5] * nin)
    assert (1 if isinstance(out, Value) else len(out)) == n_outputs


def test_a_module_says_whether_training_draws_random_numbers():
    assert not MLP(2, [3, 1]).has_dropout
    assert MLP(2, [3, 1], dropout=0.2).has_dropout and Layer(2, 2, dropout=0.5).has_dropout


# ---------------------------------------------------------------- bad arguments and damaged files (issue 11)


@pytest.mark.parametrize("nouts", [None, 3, [], "16", {"a": 1}])
def test_mlp_layer_sizes_must_be_a_non_empty_list(nouts):
    with pytest.raises(ValueError, match="nouts must be a non-empty list of layer sizes"):
        MLP(2, nouts)


def test_layer_sizes_may_be_any_sequence_of_ints():
    assert MLP(2, (3, np.int64(1))).nouts == [3, 1]


def test_an_unknown_activation_is_refused_even_without_hidden_layers():
    with pytest.raises(ValueError, match="unknown activation 'bogus'"):
        MLP(2, [1], activation="bogus")


def test_dropout_on_an_mlp_without_hidden_layers_is_refused():
    with pytest.raises(ValueError, match="has none"):
        MLP(2, [1], dropout=0.5)
    with pytest.raises(ValueError, match=r"dropout must be a probability in \[0, 1\)"):
        MLP(2, [3, 1], dropout=1.5)


def test_bias_must_be_a_flag():
    with pytest.raises(TypeError, match="bias must be True or False"):
        Neuron(2, bias="no")


@pytest.mark.parametrize("x, pattern", [({"a": 1.0, "b": 2.0}, "dict would give its keys"),
                                        ({1.0, 2.0}, "a set has no order"), ("ab", "got a str"),
                                        ((v for v in (1.0, 2.0)), "got a generator")])
def test_inputs_without_an_order_are_refused(x, pattern):
    with pytest.raises(TypeError, match=pattern):
        MLP(2, [1])(x)


def test_a_deep_copy_of_a_model_is_a_separate_model_with_the_same_numbers():
    import copy

    for model in (MLP(2, [3, 1], seed=0), MLP(2, [3, 1], dropout=0.5), MLP(2, [3, 1], dropout=0.5, seed=4)):
        twin = copy.deepcopy(model)
        assert twin.state_dict() == model.state_dict()
        assert not {id(p) for p in twin.parameters()} & {id(p) for p in model.parameters()}
        model.eval(), twin.eval()
        assert twin([0.3, -0.7]).data == model([0.3, -0.7]).data
        twin.layers[0].neurons[0].w[0].data += 1.0
        assert twin.state_dict() != model.state_dict()


def test_parameters_see_a_replaced_weight():
    model = MLP(2, [2, 1], seed=0)
    model.parameters()
    new = Value(3.0)
    model.layers[0].neurons[0].w[1] = new
    assert any(p is new for p in model.parameters())
    from microgradx.nn.optim import SGD

    assert any(p is new for p in SGD(model.parameters(), lr=0.1).params)


def _damage(saved, old, new):
    text = saved.read_text()
    assert old in text
    saved.write_text(text.replace(old, new, 1))


def test_an_architecture_too_large_to_build_is_refused_before_building(saved):
    doc = json.loads(saved.read_text())
    doc["architecture"].update(nin=100000, nouts=[100000, 1])
    saved.write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match=r"10,000,200,001 parameters, more than the 10,000,000"):
        MLP.load(saved)


def test_an_architecture_that_does_not_fit_the_parameter_count_is_refused_before_building(saved):
    doc = json.loads(saved.read_text())
    doc["architecture"].update(nouts=[4000, 1])
    saved.write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match=r"has 17 parameters but MLP\(2, \[4000, 1\]\) has 16001"):
        MLP.load(saved)


@pytest.mark.parametrize("digits", [400, 5000])
def test_a_huge_integer_parameter_is_named_not_an_overflow(saved, digits):
    _damage(saved, '"layers.0.neurons.0.b": 0.0', '"layers.0.neurons.0.b": ' + "9" * digits)
    with pytest.raises(ModelFileError, match=r"model.json: parameter 'layers.0.neurons.0.b' is inf \(too large"):
        MLP.load(saved)
    _untouched(lambda m: _expect(ModelFileError, "layers.0.neurons.0.b", m.restore, saved))


def test_deeply_nested_json_is_a_model_file_error(saved):
    saved.write_text('{"format": "microgradx.nn", "version": 1, "architecture": ' + "[" * 100000 + "]" * 100000 + "}")
    _untouched(lambda m: _expect(ModelFileError, "model.json: its JSON is nested too deeply", m.restore, saved))


@pytest.mark.parametrize("entry, value, pattern", [("nin", '"2"', "nin must be a positive int"),
                                                   ("bias", '"yes"', "bias must be True or False"),
                                                   ("nouts", "null", "nouts must be a non-empty list")])
def test_a_damaged_architecture_is_named(saved, entry, value, pattern):
    doc = json.loads(saved.read_text())
    doc["architecture"][entry] = json.loads(value)
    saved.write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match=pattern):
        MLP.load(saved)


def test_a_missing_architecture_entry_is_named(saved):
    doc = json.loads(saved.read_text())
    del doc["architecture"]["nin"]
    saved.write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match="lacks the entry 'nin'"):
        MLP.load(saved)


def test_load_state_dict_refuses_a_huge_integer_without_overflowing():
    m = MLP(2, [1], seed=0)
    state = m.state_dict()
    state["layers.0.neurons.0.w.0"] = 10 ** 400
    with pytest.raises(ValueError, match="too large for a float"):
        m.load_state_dict(state)


def test_saving_non_finite_parameters_is_refused_and_the_good_file_stays(saved):
    good = saved.read_text()
    m = MLP(2, [4, 1], seed=0)
    m.layers[1].neurons[0].b.data = float("nan")
    with pytest.raises(ValueError, match=r"parameter 'layers.1.neurons.0.b' is nan.*was not written"):
        m.save(saved)
    assert saved.read_text() == good


# ---------------------------------------------------------------- how models show themselves (issue 13)


def test_mlp_summary_has_one_row_per_layer_with_its_parameter_count():
    model = MLP(3, [4, 2], activation="tanh", seed=0)
    rows = model.summary()
    assert [(r["layer"], r["nin"], r["nout"], r["activation"], r["parameters"]) for r in rows] == [
        ("layers.0", 3, 4, "tanh", 16), ("layers.1", 4, 2, "linear", 10)]
    w = [p.data for p in model.layers[0].parameters() if p.label.split(".")[-2] == "w"]
    assert rows[0]["weights"] == (min(w), max(w))


def test_mlp_shows_a_parameter_table_in_jupyter():
    page = MLP(2, [16, 16, 1], seed=0)._repr_html_()
    assert page.count("<tr>") == 1 + 3  # the header and one row per layer
    assert "MLP(2, [16, 16, 1]): 337 parameters" in page and "2 → 16" in page


def test_every_nn_submodule_lists_its_public_names():
    import importlib

    for name in ("modules", "losses", "optim", "data", "train", "steps", "evaluate", "history", "arrays",
                 "recipes", "modelfile", "module", "args"):
        module = importlib.import_module(f"microgradx.nn.{name}")
        assert module.__all__ and all(hasattr(module, n) for n in module.__all__), name


# ---------------------------------------------------------------- argument checks, written once (issue 19)


@pytest.mark.parametrize("call", [
    lambda bad: Neuron(bad), lambda bad: MLP(2, [bad, 1]),
    lambda bad: __import__("microgradx").fit(MLP(2, [1]), [[0.0, 1.0]], [1.0], epochs=bad, progress=False),
    lambda bad: __import__("microgradx").nn.optim.StepLR(__import__("microgradx").nn.optim.SGD([Value(0.0)]), bad),
], ids=["Neuron nin", "MLP layer size", "fit epochs", "StepLR step_size"])
def test_a_count_that_is_not_a_positive_int_gets_the_same_sentence_everywhere(call):
    with pytest.raises(ValueError, match=r"^\w[\w ]* must be a positive int \(1, 2, 3, \.\.\.\), got 0$"):
        call(0)
    with pytest.raises(TypeError, match=r"must be a positive int \(1, 2, 3, \.\.\.\), got 2.0 \(a float\); write 2$"):
        call(2.0)
    with pytest.raises(TypeError, match=r"got '3' \(a str\)$"):
        call("3")


def test_an_argument_of_the_wrong_kind_is_both_a_type_error_and_a_value_error():
    from microgradx.nn.args import ArgumentKindError, real

    with pytest.raises(ArgumentKindError) as e:
        real("lr", "0.1")
    assert isinstance(e.value, TypeError) and isinstance(e.value, ValueError)
    assert str(e.value) == "lr must be a finite number >= 0, got '0.1' (a str)"


@pytest.mark.parametrize("kwargs, message", [
    ({"value": -1.0}, "lr must be a finite number >= 0, got -1.0"),
    ({"value": float("nan")}, "lr must be a finite number >= 0, got nan"),
    ({"value": 1.0, "low": 0.0, "high": 1.0, "open_high": True}, "lr must be a number in [0, 1), got 1.0"),
    ({"value": 0, "open_low": True, "note": "a step size"}, "lr must be a finite number > 0 (a step size), got 0"),
    ({"value": 10 ** 400}, "lr must be a finite number >= 0, got " + "1" + "0" * 39 + "... (too large for a float)"),
])
def test_a_number_out_of_its_range_is_named_with_its_range_and_value(kwargs, message):
    from microgradx.nn.args import real

    with pytest.raises(ValueError) as e:
        real("lr", **kwargs)
    assert str(e.value) == message


def test_numpy_numbers_pass_the_checks_as_plain_python_numbers():
    from microgradx.nn.args import flag, positive_int, probability, real

    assert type(positive_int("n", np.int64(3))) is int and positive_int("n", np.int64(3)) == 3
    assert type(real("lr", np.float32(0.5))) is float and probability("p", np.float64(0.25)) == 0.25
    assert flag("bias", np.bool_(False)) is False


def test_a_choice_that_is_not_a_name_lists_the_names():
    with pytest.raises(TypeError, match=r"activation must be a name, one of 'tanh', .*'linear'; got 3 \(an int\)"):
        Neuron(2, activation=3)


# ---------------------------------------------------------------- lists written by hand, held to their tables


def test_the_activations_in_the_modules_docstring_are_the_tables():
    import re

    from microgradx.nn import ACTIVATIONS, modules

    listed = re.search(r"f ∈ \{([^}]*)\}", modules.__doc__).group(1)
    assert [name.strip() for name in listed.split(",")] == list(ACTIVATIONS)


def test_every_initialisation_is_described_in_the_neurons_docstring():
    import re

    from microgradx.nn import INITS

    sentence = Neuron.__doc__[Neuron.__doc__.index("``init``"):]
    assert set(INITS) <= set(re.findall(r"``(\w+)``", sentence))


def test_the_readme_names_every_activation_and_initialisation():
    import re
    from pathlib import Path

    from microgradx.nn import ACTIVATIONS, INITS

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    acts, inits = re.search(r"add activations \(`([^`]*)`\), initialisations\s+\(`([^`]*)`\)", readme).groups()
    assert sorted(acts.split()) == sorted(ACTIVATIONS) and sorted(inits.split()) == sorted(INITS)


# ---------------------------------------------------------------- files name a registered type, nothing else


@pytest.mark.parametrize("kind", ["Module", "Value", "os.system", "__import__", None, ["MLP"]])
def test_a_file_naming_a_type_outside_the_registered_ones_builds_nothing(saved, kind):
    doc = json.loads(saved.read_text())
    doc["architecture"]["type"] = kind
    saved.write_text(json.dumps(doc))
    with pytest.raises(ModelFileError, match="unknown module type .*; expected one of Neuron, Layer, MLP"):
        Module.load(saved)


def test_module_load_rebuilds_whichever_registered_type_the_file_holds(tmp_path):
    Layer(3, 2, activation="tanh", seed=0).save(tmp_path / "layer.json")
    loaded = Module.load(tmp_path / "layer.json")
    assert type(loaded) is Layer and loaded.config() == Layer(3, 2, activation="tanh").config()
