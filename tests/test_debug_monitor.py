"""minnet.debug.Monitor: every recorded number against the same number computed by hand.

The reference values are computed here with plain NumPy from the model's own
arrays (outputs rebuilt from the weights, gradients read from ``.grad``,
weights copied around ``optimizer.step()``), never from the monitor.
"""
import json

import numpy as np
import pytest

import minnet
from minnet import nn, optim
from minnet.debug.monitor import (FINGERPRINT, LAYER_STATS, PARAM_STATS, SAMPLE_BLOCK,
                                  SAMPLED_ABOVE, UPDATE_SAMPLE, Monitor, block_stride,
                                  sampled_blocks)


def mlp(seed=0, sizes=(6, 8, 3), activation=nn.ReLU):
    rng = np.random.default_rng(seed)
    return nn.Sequential(nn.Linear(sizes[0], sizes[1], generator=rng), activation(),
                         nn.Linear(sizes[1], sizes[2], generator=rng))


def batch(n=32, features=6, classes=3, seed=1, scale=1.0):
    rng = np.random.default_rng(seed)
    X = (rng.standard_normal((n, features)) * scale).astype(np.float32)
    return minnet.tensor(X), minnet.tensor(rng.integers(0, classes, n))


def train_step(model, optimizer, X, y, zero_grad=True):
    if zero_grad:
        optimizer.zero_grad()
    loss = nn.CrossEntropyLoss()(model(X), y)
    loss.backward()
    optimizer.step()
    return loss


def forward_backward(model, X, y):
    loss = nn.CrossEntropyLoss()(model(X), y)
    loss.backward()
    return loss


def hidden_output(model, X):
    """The first Linear layer's output, rebuilt from its weights in NumPy."""
    return X.numpy() @ model[0].weight.numpy().T + model[0].bias.numpy()


# --------------------------------------------------------------------------
# naming
# --------------------------------------------------------------------------
def test_layers_are_named_like_named_modules_in_forward_order():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.head = nn.Linear(8, 3, generator=np.random.default_rng(0))
            self.net = mlp(sizes=(6, 8, 8))

        def forward(self, x):
            return self.head(self.net(x))

    model = Net()
    with Monitor(model) as monitor:
        forward_backward(model, *batch())
    assert monitor.layers == ["net.0 (Linear)", "net.1 (ReLU)", "net.2 (Linear)",
                              "head (Linear)"]  # order of the forward pass, not of definition
    assert monitor.layer_types["net.1 (ReLU)"] == "ReLU"
    assert monitor.param_names == [name for name, _ in model.named_parameters()]
    assert monitor.layer_of_param == {"head.weight": "head (Linear)", "head.bias": "head (Linear)",
                                      "net.0.weight": "net.0 (Linear)",
                                      "net.0.bias": "net.0 (Linear)",
                                      "net.2.weight": "net.2 (Linear)",
                                      "net.2.bias": "net.2 (Linear)"}


# --------------------------------------------------------------------------
# layer statistics
# --------------------------------------------------------------------------
def test_layer_statistics_match_numpy_on_the_same_batch():
    model = mlp()
    X, y = batch()
    expected = hidden_output(model, X).astype(np.float64)
    relu = np.maximum(expected, 0)
    with Monitor(model) as monitor:
        forward_backward(model, X, y)
    for layer, out in (("0 (Linear)", expected), ("1 (ReLU)", relu)):
        got = {stat: monitor.activation(layer, stat)[0] for stat in LAYER_STATS}
        assert got["mean"] == pytest.approx(out.mean(), rel=1e-5, abs=1e-6)
        assert got["std"] == pytest.approx(out.std(), rel=1e-5)
        assert got["min"] == pytest.approx(out.min(), rel=1e-5)
        assert got["max"] == pytest.approx(out.max(), rel=1e-5)
        assert got["zero_fraction"] == np.mean(out == 0)
        assert got["nonfinite"] == 0
        assert np.isnan(got["saturated_fraction"])  # neither Tanh nor Sigmoid
    assert 0.2 < monitor.activation("1 (ReLU)", "zero_fraction")[0] < 0.8


def test_grad_rms_is_the_rms_of_the_gradient_reaching_the_output():
    model = mlp()
    X, y = batch()
    captured = {}

    def capture_grad(module, args, out):
        out.register_hook(lambda g: captured.update(g=g.numpy().copy()))

    model[0].register_forward_hook(capture_grad)
    with Monitor(model) as monitor:
        forward_backward(model, X, y)
    expected = np.sqrt(np.mean(captured["g"].astype(np.float64) ** 2))
    assert monitor.activation("0 (Linear)", "grad_rms")[0] == pytest.approx(expected, rel=1e-5)


def test_dead_fraction_of_relu_with_half_of_its_units_forced_dead():
    model = mlp(sizes=(6, 8, 3))
    with minnet.no_grad():
        model[0].bias.data[:4] = -100.0  # units 0-3 are negative for every sample
    with Monitor(model) as monitor:
        forward_backward(model, *batch())
    assert monitor.activation("1 (ReLU)", "dead_fraction")[0] == 0.5
    assert monitor.activation("0 (Linear)", "dead_fraction")[0] == 0.0  # negative is not zero
    activity = monitor.unit_activity("1 (ReLU)")
    assert activity.shape == (8,)
    np.testing.assert_array_equal(activity[:4], 0.0)
    assert (activity[4:] > 0).all()


def test_dead_units_of_a_conv_layer_are_counted_per_channel():
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Conv2d(2, 4, 3, padding=1, generator=rng), nn.ReLU(),
                          nn.Flatten(), nn.Linear(4 * 5 * 5, 3, generator=rng))
    with minnet.no_grad():
        model[0].bias.data[[1, 3]] = -100.0
    X = minnet.tensor(rng.standard_normal((6, 2, 5, 5)).astype(np.float32))
    y = minnet.tensor(rng.integers(0, 3, 6))
    with Monitor(model) as monitor:
        forward_backward(model, X, y)
    assert monitor.activation("1 (ReLU)", "dead_fraction")[0] == 0.5  # 2 of 4 channels
    activity = monitor.unit_activity("1 (ReLU)")
    assert activity.shape == (4,)  # one entry per channel, not per position
    np.testing.assert_array_equal(activity[[1, 3]], 0.0)
    assert (activity[[0, 2]] > 0.2).all()
    # the flattened layer sees 100 features; the dead channels' 50 of them are zero
    assert monitor.activation("2 (Flatten)", "dead_fraction")[0] == pytest.approx(0.5, abs=0.02)


@pytest.mark.parametrize("activation, saturated", [
    (nn.Tanh, lambda out: np.abs(out) > 0.99),
    (nn.Sigmoid, lambda out: (out < 0.01) | (out > 0.99)),
])
def test_saturated_fraction_of_tanh_and_sigmoid_fed_huge_inputs(activation, saturated):
    model = mlp(activation=activation)
    X, y = batch(scale=100.0)
    expected = saturated(activation()(minnet.tensor(hidden_output(model, X))).numpy())
    with Monitor(model) as monitor:
        forward_backward(model, X, y)
    got = monitor.activation(f"1 ({activation.__name__})", "saturated_fraction")[0]
    assert got == pytest.approx(expected.mean())
    assert got > 0.9
    assert np.isnan(monitor.activation("0 (Linear)", "saturated_fraction")[0])


def test_nonfinite_entries_are_counted_and_stats_describe_the_finite_ones():
    model = mlp()
    X, y = batch()
    X.data[0, 0] = np.nan  # poisons row 0 of every hidden unit
    with Monitor(model) as monitor:
        model(X)
    out = hidden_output(model, X)
    finite = out[np.isfinite(out)]
    assert monitor.activation("0 (Linear)", "nonfinite")[0] == np.count_nonzero(~np.isfinite(out))
    assert monitor.activation("0 (Linear)", "nonfinite")[0] == 8
    assert monitor.activation("0 (Linear)", "mean")[0] == pytest.approx(finite.mean(), rel=1e-5)
    counts, _ = monitor.histogram("0 (Linear)")
    assert counts[0].sum() == finite.size  # NaN entries are not in any bin


def test_histograms_count_every_entry_with_fixed_edges():
    model = mlp(activation=nn.Tanh)
    X, y = batch()
    optimizer = optim.SGD(model.parameters(), lr=0.5)
    outputs = []

    def keep_output(module, args, out):
        outputs.append(out.numpy().copy())

    model[1].register_forward_hook(keep_output)
    first_linear = hidden_output(model, X)
    with Monitor(model, optimizer, bins=16) as monitor:
        for _ in range(3):
            train_step(model, optimizer, X, y)
    for layer in monitor.layers:
        counts, edges = monitor.histogram(layer)
        assert counts.shape == (3, 16) and edges.shape == (17,)
        assert (counts.sum(axis=1) == X.shape[0] * {"0": 8, "1": 8, "2": 3}[layer[0]]).all()
    counts, edges = monitor.histogram("1 (Tanh)")
    np.testing.assert_allclose(edges, np.linspace(-1, 1, 17))
    for record, out in enumerate(outputs):
        np.testing.assert_array_equal(counts[record], np.histogram(out, bins=edges)[0])
    _, edges = monitor.histogram("0 (Linear)")  # from the first record: [min, max] +- span/2
    low, high = first_linear.min(), first_linear.max()
    span = high - low
    np.testing.assert_allclose(edges[[0, -1]], [low - span / 2, high + span / 2], rtol=1e-5)


def test_values_outside_the_fixed_edges_land_in_the_end_bins():
    model = nn.Sequential(nn.Linear(2, 2, generator=np.random.default_rng(0)))
    with Monitor(model, bins=4) as monitor:
        model(minnet.tensor(np.ones((3, 2), np.float32)))
        monitor.step()
        model(minnet.tensor(np.full((3, 2), 1000.0, np.float32)))
        monitor.step()
        model(minnet.tensor(np.full((3, 2), -1000.0, np.float32)))
    counts, _ = monitor.histogram("0 (Linear)")
    assert counts[1].sum() == 6 and counts[2].sum() == 6
    # each output unit is +-1000 * (w0 + w1) + b: far outside the first record's range
    assert counts[1][[0, -1]].sum() == 6 and counts[2][[0, -1]].sum() == 6
    np.testing.assert_array_equal(counts[1][[0, -1]], counts[2][[-1, 0]])


def test_a_layer_called_twice_in_a_step_keeps_its_last_call():
    shared = nn.Linear(4, 4, generator=np.random.default_rng(0))

    class Twice(nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = shared

        def forward(self, x):
            return self.layer(self.layer(x) * 10.0)

    model = Twice()
    X = minnet.tensor(np.random.default_rng(1).standard_normal((5, 4)).astype(np.float32))
    captured = []

    def capture_grad(module, args, out):
        out.register_hook(lambda g: captured.append(g.numpy().copy()))

    shared.register_forward_hook(capture_grad)
    with Monitor(model) as monitor:
        out = model(X)
        (out ** 2).sum().backward()
    W, b = shared.weight.numpy(), shared.bias.numpy()
    second = ((X.numpy() @ W.T + b) * 10.0) @ W.T + b
    assert monitor.activation("layer (Linear)", "mean")[0] == pytest.approx(second.mean(), rel=1e-5)
    # backward reaches the second call's output first: captured[0] is its gradient
    expected = np.sqrt(np.mean(captured[0].astype(np.float64) ** 2))
    assert monitor.activation("layer (Linear)", "grad_rms")[0] == pytest.approx(expected, rel=1e-5)


# --------------------------------------------------------------------------
# parameter statistics
# --------------------------------------------------------------------------
def test_grad_norms_match_the_gradients_by_hand():
    model = mlp()
    X, y = batch()
    with Monitor(model) as monitor:
        forward_backward(model, X, y)
    squares = 0.0
    for name, param in model.named_parameters():
        norm = np.linalg.norm(param.grad.numpy().astype(np.float64))
        squares += norm ** 2
        assert monitor.param(name, "grad_norm")[0] == pytest.approx(norm, rel=1e-5)
        assert monitor.param(name, "grad_nonfinite")[0] == 0
        assert monitor.param(name, "grad_missing")[0] == 0
        assert monitor.param(name, "weight_norm")[0] == pytest.approx(
            np.linalg.norm(param.numpy().astype(np.float64)), rel=1e-5)
        assert np.isnan(monitor.param(name, "update_ratio")[0])  # no optimizer
    assert monitor.scalar("grad_norm_total")[0] == pytest.approx(np.sqrt(squares), rel=1e-5)


def _global_norm(model):
    return float(np.sqrt(sum(np.sum(p.grad.numpy().astype(np.float64) ** 2)
                             for p in model.parameters() if p.grad is not None)))


def test_grad_norm_at_step_is_what_the_optimizer_sees_after_clipping():
    model = mlp(seed=3)
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    X, y = batch(scale=3.0)
    after_backward, at_step = [], []
    with Monitor(model, optimizer) as monitor:
        for max_norm in (None, 0.05, None, 0.01):
            optimizer.zero_grad()
            nn.CrossEntropyLoss()(model(X), y).backward()
            after_backward.append(_global_norm(model))
            if max_norm is not None:
                nn.utils.clip_grad_norm_(model.parameters(), max_norm)
            at_step.append(_global_norm(model))
            optimizer.step()
    np.testing.assert_allclose(monitor.scalar("grad_norm_total"), after_backward, rtol=1e-6)
    np.testing.assert_allclose(monitor.scalar("grad_norm_at_step"), at_step, rtol=1e-6)
    # unclipped steps: the same number twice; clipped ones: capped at max_norm
    assert at_step[0] == pytest.approx(after_backward[0]) and after_backward[1] > 0.05
    np.testing.assert_allclose(monitor.scalar("grad_norm_at_step")[[1, 3]], [0.05, 0.01],
                               rtol=1e-4)


def test_update_ratio_is_the_update_norm_over_the_weight_norm_around_a_step():
    model = mlp()
    X, y = batch()
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    with Monitor(model, optimizer) as monitor:
        for step in range(3):
            optimizer.zero_grad()
            forward_backward(model, X, y)
            before = {name: p.numpy().astype(np.float64) for name, p in model.named_parameters()}
            optimizer.step()
            for name, param in model.named_parameters():
                after = param.numpy().astype(np.float64)
                ratio = np.linalg.norm(after - before[name]) / np.linalg.norm(before[name])
                assert monitor.param(name, "update_ratio")[step] == pytest.approx(ratio, rel=1e-4)
                assert monitor.param(name, "weight_norm")[step] == pytest.approx(
                    np.linalg.norm(after), rel=1e-5)  # after the step
    assert monitor.step_index == 3
    np.testing.assert_array_equal(monitor.steps, [0, 1, 2])
    np.testing.assert_allclose(monitor.scalar("lr"), [0.1, 0.1, 0.1])


def test_lr_of_every_parameter_group_is_kept():
    model = mlp()
    optimizer = optim.SGD([{"params": model[0].parameters()},
                           {"params": model[2].parameters(), "lr": 0.01}], lr=0.1)
    with Monitor(model, optimizer) as monitor:
        train_step(model, optimizer, *batch())
    assert monitor.scalar("lr")[0] == pytest.approx(0.1)
    assert monitor.scalar("lr/1")[0] == pytest.approx(0.01)


def test_grad_missing_for_a_parameter_not_used_in_forward():
    class Partly(nn.Module):
        def __init__(self):
            super().__init__()
            rng = np.random.default_rng(0)
            self.used = nn.Linear(6, 3, generator=rng)
            self.unused = nn.Linear(6, 3, generator=rng)

        def forward(self, x):
            return self.used(x)

    model = Partly()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    with Monitor(model, optimizer) as monitor:
        train_step(model, optimizer, *batch())
    for name in ("unused.weight", "unused.bias"):
        assert monitor.param(name, "grad_missing")[0] == 1.0
        assert np.isnan(monitor.param(name, "grad_norm")[0])
        assert monitor.param(name, "update_ratio")[0] == 0.0  # nothing moved it
    for name in ("used.weight", "used.bias"):
        assert monitor.param(name, "grad_missing")[0] == 0.0
    assert monitor.layers == ["used (Linear)"]  # never called: no layer record


def test_a_gradient_of_exactly_zero_counts_as_missing():
    model = mlp()
    X, y = batch()
    with Monitor(model) as monitor:
        (model(X) * 0.0).sum().backward()
    assert (monitor.param("0.weight", "grad_missing") == 1.0).all()
    assert monitor.param("0.weight", "grad_norm")[0] == 0.0


@pytest.mark.filterwarnings("ignore:invalid value encountered")
def test_nonfinite_gradients_are_counted():
    model = mlp()
    X, y = batch()
    with Monitor(model) as monitor:
        out = model(X)
        out.backward(np.full(out.shape, np.inf, dtype=np.float32))
    assert monitor.param("2.bias", "grad_nonfinite")[0] == 3
    assert np.isinf(monitor.param("2.bias", "grad_norm")[0])


# --------------------------------------------------------------------------
# the step timeline
# --------------------------------------------------------------------------
def test_every_3_records_steps_0_3_6_logged_scalars_every_step_gradient_norms_when_recorded():
    model = mlp()
    X, y = batch()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    losses = []
    with Monitor(model, optimizer, every=3) as monitor:
        for _ in range(7):
            losses.append(train_step(model, optimizer, X, y).item())
            monitor.log(loss=losses[-1])
    np.testing.assert_array_equal(monitor.steps, [0, 3, 6])
    assert monitor.n_steps == 7
    assert monitor.activation("1 (ReLU)", "mean").shape == (3,)
    assert monitor.param("0.weight", "update_ratio").shape == (3,)
    assert np.isfinite(monitor.param("0.weight", "update_ratio")).all()
    np.testing.assert_allclose(monitor.scalar("loss"), losses)
    assert np.isfinite(monitor.scalar("lr")).all() and monitor.scalar("lr").shape == (7,)
    recorded = np.isin(np.arange(7), [0, 3, 6])
    for name in ("stale_grad_norm", "grad_norm_total", "grad_norm_at_step"):
        values = monitor.scalar(name)
        assert values.shape == (7,)
        # measured on recorded steps only: an unrecorded step reads no array
        np.testing.assert_array_equal(np.isfinite(values), recorded, err_msg=name)
    per_param = np.array([monitor.param(name, "grad_norm") for name in monitor.param_names])
    np.testing.assert_allclose(monitor.scalar("grad_norm_total")[recorded],
                               np.sqrt((per_param ** 2).sum(axis=0)), rtol=1e-12)


def test_log_after_optimizer_step_lands_on_the_step_that_computed_the_loss():
    model = mlp()
    X, y = batch()
    optimizer = optim.SGD(model.parameters(), lr=0.5)
    losses = []
    with Monitor(model, optimizer) as monitor:
        for step in range(4):
            loss = train_step(model, optimizer, X, y)  # step_index advances inside
            assert monitor.step_index == step + 1
            monitor.log(loss=loss, accuracy=float(step))  # a 0-d Tensor and a float
            losses.append(loss.item())
    np.testing.assert_allclose(monitor.scalar("loss"), losses)
    np.testing.assert_array_equal(monitor.scalar("accuracy"), [0, 1, 2, 3])
    assert monitor.n_steps == 4
    assert losses[-1] < losses[0]


def test_manual_step_without_an_optimizer():
    model = mlp()
    X, y = batch()
    with Monitor(model, every=2) as monitor:
        for step in range(3):
            monitor.log(loss=forward_backward(model, X, y))
            monitor.step()
    np.testing.assert_array_equal(monitor.steps, [0, 2])
    assert monitor.n_steps == 3 and monitor.step_index == 3
    assert np.isfinite(monitor.scalar("loss")).all()


def test_stale_grad_norm_is_zero_with_zero_grad_and_positive_without():
    X, y = batch()
    for zero_grad in (True, False):
        model = mlp()
        optimizer = optim.SGD(model.parameters(), lr=0.1)
        with Monitor(model, optimizer) as monitor:
            for _ in range(3):
                train_step(model, optimizer, X, y, zero_grad=zero_grad)
        stale = monitor.scalar("stale_grad_norm")
        assert stale[0] == 0.0  # nothing before the first step
        if zero_grad:
            np.testing.assert_array_equal(stale, 0.0)
        else:
            # without zero_grad the grads of step s are still there at step s+1's forward
            total = monitor.scalar("grad_norm_total")
            np.testing.assert_allclose(stale[1:], total[:-1], rtol=1e-5)
            assert (stale[1:] > 0).all()


def test_zero_grad_to_zeros_also_counts_as_clean():
    model = mlp()
    X, y = batch()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    with Monitor(model, optimizer) as monitor:
        for _ in range(2):
            optimizer.zero_grad(set_to_none=False)
            forward_backward(model, X, y)
            optimizer.step()
    np.testing.assert_array_equal(monitor.scalar("stale_grad_norm"), [0.0, 0.0])


def test_eval_passes_are_not_recorded():
    model = mlp()
    X, y = batch()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    with Monitor(model, optimizer) as monitor:
        train_step(model, optimizer, X, y)
        before = {layer: monitor.activation(layer, "mean") for layer in monitor.layers}
        with minnet.no_grad():
            model(X * 50.0)  # would change every statistic if it were recorded
        model.eval()
        model(X * 50.0)  # grad on but eval mode: not training either
        model.train()
        assert monitor.n_steps == 1
        np.testing.assert_array_equal(monitor.steps, [0])
        for layer in monitor.layers:
            np.testing.assert_array_equal(monitor.activation(layer, "mean"), before[layer])
        monitor.log(val_loss=1.5)  # validation scalars land on the last training step
    np.testing.assert_array_equal(monitor.scalar("val_loss"), [1.5])


# --------------------------------------------------------------------------
# attaching and detaching
# --------------------------------------------------------------------------
def hook_dicts(model, optimizer):
    dicts = [optimizer._optimizer_step_pre_hooks, optimizer._optimizer_step_post_hooks]
    for module in model.modules():
        dicts += [module._forward_hooks, module._forward_pre_hooks]
    return dicts + [p._hooks or {} for p in model.parameters()]   # the parameters' own


def test_detach_removes_every_hook_and_is_idempotent():
    model = mlp()
    X, y = batch()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    monitor = Monitor(model, optimizer)
    n_params = len(list(model.parameters()))
    assert sum(len(d) for d in hook_dicts(model, optimizer)) == 3 + 1 + 2 + n_params
    out = model(X)  # a graph with the monitor's tensor hooks, not yet backpropagated
    monitor.detach()
    monitor.detach()
    assert all(len(d) == 0 for d in hook_dicts(model, optimizer))
    nn.CrossEntropyLoss()(out, y).backward()  # the pending tensor hooks are gone too
    optimizer.step()
    assert monitor.n_steps == 1 and monitor.step_index == 0
    for name in ("grad_norm_total", "stale_grad_norm"):  # read in the backward, after detach:
        with pytest.raises(KeyError):                    # not recorded
            monitor.scalar(name)


def test_context_manager_detaches_on_exception():
    model = mlp()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(RuntimeError, match="boom"):
        with Monitor(model, optimizer):
            raise RuntimeError("boom")
    assert all(len(d) == 0 for d in hook_dicts(model, optimizer))


def test_bad_arguments_raise_clear_errors():
    model = mlp()
    with pytest.raises(TypeError, match="Module"):
        Monitor(object())
    with pytest.raises(TypeError, match="optimizer"):
        Monitor(model, optimizer=model)
    with pytest.raises(ValueError, match="every"):
        Monitor(model, every=0)
    with pytest.raises(ValueError, match="bins"):
        Monitor(model, bins=0)
    with Monitor(model) as monitor:
        forward_backward(model, *batch())
        with pytest.raises(TypeError, match="loss"):
            monitor.log(loss=np.ones(3))
        with pytest.raises(KeyError, match="grad_rms"):
            monitor.param("0.weight", "grad_rms")
        with pytest.raises(KeyError, match="recorded layers"):
            monitor.activation("0", "mean")
        with pytest.raises(KeyError, match="monitor.log"):
            monitor.scalar("accuracy")


# --------------------------------------------------------------------------
# storage, saving, findings
# --------------------------------------------------------------------------
def test_storage_grows_past_its_initial_capacity():
    model = nn.Sequential(nn.Linear(3, 2, generator=np.random.default_rng(0)), nn.ReLU())
    X = minnet.tensor(np.ones((4, 3), np.float32))
    with Monitor(model) as monitor:
        for step in range(150):
            model(X).sum().backward()
            monitor.log(step=step)
            monitor.step()
    assert monitor.n_steps == 150 and len(monitor.steps) == 150
    np.testing.assert_array_equal(monitor.scalar("step"), np.arange(150))
    assert np.isfinite(monitor.param("0.weight", "grad_norm")).all()


def test_to_dict_from_dict_round_trip_through_json():
    model = mlp()
    X, y = batch()
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    with Monitor(model, optimizer, every=2, bins=8) as monitor:
        for _ in range(5):
            monitor.log(loss=train_step(model, optimizer, X, y))
    copy = Monitor.from_dict(json.loads(json.dumps(monitor.to_dict())))
    assert copy.layers == monitor.layers and copy.param_names == monitor.param_names
    assert copy.layer_types == monitor.layer_types
    assert copy.layer_of_param == monitor.layer_of_param
    assert copy.scalar_names == monitor.scalar_names
    assert (copy.n_steps, copy.step_index, copy.every, copy.bins) == (5, 5, 2, 8)
    np.testing.assert_array_equal(copy.steps, monitor.steps)
    for layer in monitor.layers:
        for stat in LAYER_STATS:
            np.testing.assert_array_equal(copy.activation(layer, stat),
                                          monitor.activation(layer, stat))
        for got, expected in zip(copy.histogram(layer), monitor.histogram(layer)):
            np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(copy.unit_activity(layer), monitor.unit_activity(layer))
    for name in monitor.param_names:
        for stat in PARAM_STATS:
            np.testing.assert_array_equal(copy.param(name, stat), monitor.param(name, stat))
    for name in monitor.scalar_names:
        np.testing.assert_array_equal(copy.scalar(name), monitor.scalar(name))
    with pytest.raises(ValueError, match="to_dict"):
        Monitor.from_dict({"layers": []})


def test_findings_of_a_forced_dead_relu_layer():
    model = mlp()
    with Monitor(model) as monitor:
        forward_backward(model, *batch())
    healthy = [f.code for f in monitor.findings() if f.severity != "info"]
    assert "activation.dead_relu" not in healthy
    with minnet.no_grad():
        model[0].bias.data[...] = -100.0      # every unit of the first ReLU dead
    with Monitor(model) as monitor:
        forward_backward(model, *batch())
    assert "activation.dead_relu" in [f.code for f in monitor.findings()]


# --------------------------------------------------------------------------
# compiled and NumPy paths
# --------------------------------------------------------------------------
def record_a_short_run(every=2, steps=5):
    model = mlp(sizes=(6, 8, 3), activation=nn.Tanh)  # Tanh: saturation counted too
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    with Monitor(model, optimizer, every=every, bins=8) as monitor:
        for step in range(steps):
            X, y = batch(seed=step, scale=3.0)
            monitor.log(loss=train_step(model, optimizer, X, y))
    return monitor


def test_numba_and_numpy_paths_record_the_same_numbers(monkeypatch):
    """The per-layer buffers of the compiled path (reused every record) change nothing."""
    # both runs train with the same loss code: the compiled cross-entropy agrees with its
    # NumPy lines to float32 rounding only, which five steps of training would carry on
    from minnet import kernels
    monkeypatch.setattr(kernels, "cross_entropy_rows",
                        kernels.kernel("cross_entropy_rows", jit=False))
    compiled = record_a_short_run().to_dict()
    monkeypatch.setenv("MINNET_NO_JIT", "1")
    reference = record_a_short_run().to_dict()
    assert compiled["steps"] == reference["steps"] == [0, 2, 4]
    for layer in compiled["layers"]:
        for stat in LAYER_STATS:
            np.testing.assert_allclose(compiled["layer_stats"][layer][stat],
                                       reference["layer_stats"][layer][stat],
                                       rtol=1e-9, atol=1e-12, err_msg=f"{layer} {stat}")
        assert compiled["histograms"][layer] == reference["histograms"][layer]
    assert compiled["layer_stats"]["1 (Tanh)"]["saturated_fraction"][0] > 0
    for name, values in compiled["scalars"].items():
        np.testing.assert_allclose(values, reference["scalars"][name], rtol=1e-9, err_msg=name)


def test_recorded_steps_measure_clipping_unrecorded_steps_read_nothing():
    """Both global gradient norms on recorded steps (clipping shows there), NaN between."""
    model = mlp()
    optimizer = optim.SGD(model.parameters(), lr=0.1)
    X, y = batch(scale=5.0)
    after_backward, at_step = [], []
    with Monitor(model, optimizer, every=2) as monitor:
        for step in range(6):
            optimizer.zero_grad()
            nn.CrossEntropyLoss()(model(X), y).backward()
            grads = [p.grad.numpy() for p in model.parameters()]
            after_backward.append(np.sqrt(sum(float((g.astype(np.float64) ** 2).sum())
                                              for g in grads)))
            if step in (2, 3):  # clip on recorded step 2 and unrecorded step 3
                nn.utils.clip_grad_norm_(model.parameters(), 0.01)
            at_step.append(np.sqrt(sum(float((p.grad.numpy().astype(np.float64) ** 2).sum())
                                       for p in model.parameters())))
            optimizer.step()
    np.testing.assert_array_equal(monitor.steps, [0, 2, 4])
    recorded = [0, 2, 4]
    np.testing.assert_allclose(monitor.scalar("grad_norm_total")[recorded],
                               np.array(after_backward)[recorded], rtol=1e-5)
    np.testing.assert_allclose(monitor.scalar("grad_norm_at_step")[recorded],
                               np.array(at_step)[recorded], rtol=1e-5)
    assert monitor.scalar("grad_norm_at_step")[2] < 0.011 < monitor.scalar("grad_norm_total")[2]
    assert np.isnan(monitor.scalar("grad_norm_at_step")[[1, 3, 5]]).all()
    assert np.isnan(monitor.scalar("grad_norm_total")[[1, 3, 5]]).all()


# --------------------------------------------------------------------------
# large parameters: the update ratio on a sample of blocks, clipping by fingerprint
# --------------------------------------------------------------------------


@pytest.mark.parametrize("shape", [(256, 784), (300, 401), (64, 3, 31, 29), (131072,)])
def test_a_large_parameter_is_sampled_in_spread_out_blocks(shape):
    weights = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    stride = block_stride(shape)
    sample = sampled_blocks(weights)
    assert stride > 1 and sample.shape[1] == SAMPLE_BLOCK
    assert UPDATE_SAMPLE * 0.8 <= sample.size <= UPDATE_SAMPLE * 1.2
    # whole consecutive blocks, every stride-th one, read from the array itself (a view)
    np.testing.assert_array_equal(sample[:, 1] - sample[:, 0], 1)
    np.testing.assert_array_equal(np.diff(sample[:, 0]), stride * SAMPLE_BLOCK)
    assert np.shares_memory(sample, weights)
    if len(shape) >= 2:  # co-prime strides: the blocks visit every column and every unit
        columns = sample.astype(np.int64) % shape[-1]
        assert np.unique(columns).size == shape[-1]
        units = sample[:, 0].astype(np.int64) // (weights.size // shape[0])
        assert np.unique(units).size == shape[0]


def test_a_parameter_up_to_the_limit_is_measured_whole():
    weights = np.ones((256, SAMPLED_ABOVE // 256), np.float32)
    assert block_stride(weights.shape) == 0
    assert sampled_blocks(weights).shape == (weights.size,)


def big_mlp(seed=0):
    return mlp(seed, sizes=(401, 300, 3))  # first weight: 120,300 entries, sampled


def test_a_sampled_update_ratio_and_weight_norm_are_within_a_few_percent_of_the_full_ones():
    model = big_mlp()
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    X, y = batch(n=64, features=401)
    with Monitor(model, optimizer) as monitor:
        for _ in range(4):
            before = model[0].weight.numpy().astype(np.float64)
            train_step(model, optimizer, X, y)
            after = model[0].weight.numpy().astype(np.float64)
    assert block_stride(model[0].weight.shape) > 1
    exact = np.linalg.norm(after - before) / np.linalg.norm(before)
    measured = monitor.param("0.weight", "update_ratio")[-1]
    assert exact > 0 and abs(measured / exact - 1) < 0.05, (measured, exact)
    np.testing.assert_allclose(monitor.param("0.weight", "weight_norm")[-1],
                               np.linalg.norm(after), rtol=0.03)
    # an unsampled parameter stays exact
    bias = model[0].bias.numpy().astype(np.float64)
    np.testing.assert_allclose(monitor.param("0.bias", "weight_norm")[-1],
                               np.linalg.norm(bias), rtol=1e-6)


def test_clipping_of_large_gradients_is_seen_and_an_untouched_step_reuses_the_norm():
    model = big_mlp()
    optimizer = optim.SGD(model.parameters(), lr=0.01)
    X, y = batch(n=64, features=401, scale=5.0)
    assert model[0].weight.numpy().size > FINGERPRINT
    with Monitor(model, optimizer) as monitor:
        for step in range(4):
            optimizer.zero_grad()
            nn.CrossEntropyLoss()(model(X), y).backward()
            if step % 2:
                nn.utils.clip_grad_norm_(model.parameters(), 0.01)
            optimizer.step()
    total, at_step = monitor.scalar("grad_norm_total"), monitor.scalar("grad_norm_at_step")
    assert (total > 0.011).all()
    np.testing.assert_allclose(at_step[1::2], 0.01, rtol=1e-5)  # clipped: measured again
    np.testing.assert_array_equal(at_step[0::2], total[0::2])   # untouched: the same norm


def test_a_large_batch_histogram_counts_the_first_32_samples_other_statistics_all():
    from minnet.debug.monitor import HISTOGRAM_SAMPLES
    model = mlp(sizes=(6, 8, 3))
    X, y = batch(n=100)
    with Monitor(model) as monitor:
        out = model[0](X).numpy()  # the first layer's output, for the reference
        model(X)
    counts, edges = monitor.histogram("0 (Linear)")
    assert HISTOGRAM_SAMPLES == 32 and counts[0].sum() == 32 * 8
    np.testing.assert_array_equal(counts[0], np.histogram(out[:32], bins=edges)[0])
    assert monitor.activation("0 (Linear)", "mean")[0] == pytest.approx(out.mean(), rel=1e-6)
