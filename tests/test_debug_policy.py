"""The severity policy and diagnose's handling of unusual inputs.

Policy (docs/debugger.md): error = training will not succeed as set up (a measurement or a
what-if shows it); warning = likely hurts; info = worth knowing. Healthy models, fresh or
already trained, get no error.
"""
from __future__ import annotations

import threading

import numpy as np
import pytest

import minnet
from minnet import nn, optim
from minnet.data import DataLoader, TensorDataset, make_moons
from minnet.debug import diagnose
from minnet.nn import functional as F


def _moons_setup():
    minnet.manual_seed(0)
    X, y = make_moons(n_samples=400, noise=0.1, seed=0)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 2))
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    return X, y, model, nn.CrossEntropyLoss(), optimizer


def _train(model, loss_fn, optimizer, X, y, epochs=50):
    loader = DataLoader(TensorDataset(X, y), batch_size=32, shuffle=True, seed=0)
    for _ in range(epochs):
        for X_batch, y_batch in loader:
            optimizer.zero_grad()
            loss = loss_fn(model(X_batch), y_batch)
            loss.backward()
            optimizer.step()


# -- already-trained models -------------------------------------------------------------------
def test_readme_model_trained_first_then_diagnosed_has_no_error():
    """The README's example, trained as the README trains it, then diagnosed."""
    X, y, model, loss_fn, optimizer = _moons_setup()
    _train(model, loss_fn, optimizer, X, y)
    report = diagnose(model, loss_fn, (X, y), optimizer, steps=100)
    assert report.errors == [], [str(f) for f in report.errors]
    assert not report.has("loss.diverging")   # a 0.007 loss wobbling is not divergence
    for finding in report.get("init.bad_scale") + report.get("loss.initial_unexpected"):
        assert finding.severity == "info" and "already trained" in finding.message


def test_diverging_is_an_error_only_when_the_run_ends_above_its_start():
    from minnet.debug.checks.dynamics import diverging_verdict
    rising = np.linspace(1.0, 5.0, 100)
    assert diverging_verdict(rising, 1.5, 0.5, chance=1.0, min_rise=0.1)["sustained"]
    spike_then_recover = np.full(100, 1.0)
    spike_then_recover[10] = 8.0
    verdict = diverging_verdict(spike_then_recover, 1.5, 0.5, spike=3.0, chance=1.0,
                                min_rise=0.1)
    assert verdict is not None and not verdict["sustained"]   # recovered: a warning
    # a tiny loss wobbling by a tiny amount, on a chance scale of 0.69: no finding
    wobble = 0.007 + 0.003 * np.abs(np.sin(np.arange(100.0)))
    wobble[8] = 0.03
    assert diverging_verdict(wobble, 1.5, 0.5, spike=3.0, chance=0.69, min_rise=0.1) is None


def test_slow_but_improving_tiny_batch_is_not_a_cannot_overfit_error():
    minnet.manual_seed(2)
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0], dtype=np.int64)
    model = nn.Sequential(nn.Linear(2, 4), nn.Tanh(), nn.Linear(4, 2))
    report = diagnose(model, nn.CrossEntropyLoss(), (X, y),
                      optim.SGD(model.parameters(), lr=0.1))
    assert report.errors == []


# -- output.wrong_activation, row-wise ---------------------------------------------------------
def test_softmax_over_a_single_unit_is_named():
    minnet.manual_seed(1)
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 4)).astype(np.float32)
    y = (X[:, :1] > 0).astype(np.float32)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1), nn.Softmax(dim=1))
    report = diagnose(model, nn.BCELoss(), (X, y), optim.Adam(model.parameters(), lr=1e-2))
    (finding,) = report.get("output.wrong_activation")
    assert finding.severity == "error" and "single output unit" in finding.message


def test_multi_label_targets_under_a_softmax_are_named():
    minnet.manual_seed(4)
    rng = np.random.default_rng(4)
    X = rng.normal(size=(200, 6)).astype(np.float32)
    Y = (X @ rng.normal(size=(6, 4)) > 0.3).astype(np.float32)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 4), nn.Softmax(dim=1))

    def loss_fn(p, t):
        return -(t * p.clamp(min=1e-7).log()).sum(dim=1).mean()

    report = diagnose(model, loss_fn, (X, Y), optim.SGD(model.parameters(), lr=0.1))
    (finding,) = report.get("output.wrong_activation")
    assert "multi-label" in finding.message


# -- randomness left in eval mode ---------------------------------------------------------------
class _DropoutInForward(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(4, 3)

    def forward(self, x):
        return self.fc(nn.Dropout(0.5)(x))


def test_dropout_created_in_forward_is_found_and_the_global_rng_is_untouched():
    minnet.manual_seed(3)
    rng = np.random.default_rng(3)
    X = rng.normal(size=(120, 4)).astype(np.float32)
    y = rng.integers(0, 3, 120)
    model = _DropoutInForward()
    before = minnet.random.default_generator().bit_generator.state
    report = diagnose(model, nn.CrossEntropyLoss(), (X, y),
                      optim.Adam(model.parameters(), lr=1e-2), steps=20)
    assert report.has("model.train_mode_at_eval")
    assert minnet.random.default_generator().bit_generator.state == before


def test_functional_dropout_with_its_default_training_flag_is_found():
    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 3)

        def forward(self, x):
            return self.fc(F.dropout(x, p=0.5))

    rng = np.random.default_rng(5)
    X = rng.normal(size=(120, 4)).astype(np.float32)
    y = rng.integers(0, 3, 120)
    report = diagnose(Net(), nn.CrossEntropyLoss(), (X, y), steps=20)
    assert report.has("model.train_mode_at_eval")


# -- issue 12: inputs diagnose cannot work with give one clear error ------------------------------
def _small():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(40, 3)).astype(np.float32)
    y = rng.integers(0, 2, 40)
    return X, y, nn.Sequential(nn.Linear(3, 2))


@pytest.mark.parametrize("data", [
    (np.zeros((0, 3), np.float32), np.zeros(0, np.int64)),
    TensorDataset(np.zeros((0, 3), np.float32), np.zeros(0, np.int64)),
])
def test_empty_data_is_a_clear_error_not_a_hang(data):
    _, _, model = _small()
    with pytest.raises(ValueError, match="empty"):
        diagnose(model, nn.CrossEntropyLoss(), data, steps=5)


@pytest.mark.parametrize("n_x, n_y", [(40, 30), (30, 40)])
def test_x_and_y_of_different_lengths(n_x, n_y):
    X, y, model = _small()
    with pytest.raises(ValueError, match=f"X has {n_x} samples but y has {n_y}"):
        diagnose(model, nn.CrossEntropyLoss(), (X[:n_x], np.resize(y, n_y)), steps=5)


@pytest.mark.parametrize("steps", [-5, 0, 2.5, True])
def test_bad_steps(steps):
    X, y, model = _small()
    with pytest.raises(ValueError, match="steps"):
        diagnose(model, nn.CrossEntropyLoss(), (X, y), steps=steps)


@pytest.mark.parametrize("batch_size", [0, -1, 1.5])
def test_bad_batch_size_is_not_silently_32(batch_size):
    X, y, model = _small()
    with pytest.raises(ValueError, match="batch_size"):
        diagnose(model, nn.CrossEntropyLoss(), (X, y), batch_size=batch_size, steps=5)


def test_model_without_parameters():
    X, y, _ = _small()
    with pytest.raises(ValueError, match="no parameters"):
        diagnose(nn.Sequential(nn.ReLU()), nn.CrossEntropyLoss(), (X, y), steps=5)


class _HoldsALock(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)
        self.lock = threading.Lock()

    def forward(self, x):
        with self.lock:
            return self.fc(x)


def test_model_holding_a_lock_is_diagnosed():
    X, y, _ = _small()
    model = _HoldsALock()
    report = diagnose(model, nn.CrossEntropyLoss(), (X, y), steps=10)
    assert report.run["steps"] == 10


class _CachesItsGraph(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 2)
        self.last = None

    def forward(self, x):
        out = self.fc(x)
        self.last = out
        return out


def test_model_caching_a_deep_graph_is_diagnosed():
    X, y, _ = _small()
    model = _CachesItsGraph()
    t = minnet.Tensor(np.ones(3, np.float32), requires_grad=True)
    for _ in range(5000):   # a 5,000-deep graph kept on the model
        t = t * 1.0
    model.last = t
    report = diagnose(model, nn.CrossEntropyLoss(), (X, y), steps=10)
    assert report.run["steps"] == 10
    assert model.last is t   # the user's model is untouched


# -- the other false-alarm classes of issue 10 ------------------------------------------------------
def test_labels_out_of_range_come_before_the_crash_they_cause():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 4)).astype(np.float32)
    y = rng.integers(1, 4, 120)          # 1-based labels for 3 outputs
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    report = diagnose(model, nn.CrossEntropyLoss(), (X, y), steps=10)
    assert report.codes[:2] == ["data.labels_invalid", "run.crashed"]
    assert report.get("run.crashed")[0].caused_by == ["data.labels_invalid"]


def test_softmax_then_hand_written_log_loss_is_not_a_wrong_input():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(200, 5)).astype(np.float32)
    y = rng.integers(0, 4, 200)
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 4), nn.Softmax(dim=1))

    def loss_fn(p, target):   # -log p[y], written by hand: correct for probabilities
        picked = p[np.arange(len(target.numpy())), target.numpy().astype(np.int64)]
        return -picked.clamp(min=1e-7).log().mean()

    report = diagnose(model, loss_fn, (X, y), steps=20)
    assert not report.has("loss.wrong_input")


def test_gradcheck_is_not_fooled_by_inputs_around_3e9():
    rng = np.random.default_rng(0)
    X = (rng.normal(size=(100, 3)) * 3e9).astype(np.float32)
    y = rng.integers(0, 2, 100)
    model = nn.Sequential(nn.Linear(3, 8), nn.ReLU(), nn.Linear(8, 2))
    report = diagnose(model, nn.CrossEntropyLoss(), (X, y), steps=10)
    assert not report.has("grad.incorrect")
    assert report.has("data.not_normalized")


def test_a_loss_that_never_moves_is_a_plateau():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 4)).astype(np.float32)
    y = (np.sqrt(2 / 3) * np.sign(rng.normal(size=(300, 1)))).astype(np.float32)
    model = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 1), nn.ReLU())
    model[2].bias.data[...] = -100.0      # the output ReLU is dead: the loss is stuck at 2/3
    report = diagnose(model, nn.MSELoss(), (X, y), optim.SGD(model.parameters(), lr=0.01))
    (plateau,) = report.get("loss.plateau")
    assert plateau.severity == "error" and "never moved" in plateau.message


def test_an_init_cause_of_units_that_died_during_training_is_only_possible():
    from minnet.debug.report import Finding, Report
    bad_init = Finding("init.bad_scale", "weights 4x too large", layer="0 (Linear)")
    died = Finding("activation.dead_relu", "died after a spike", layer="1 (ReLU)",
                   severity="error", onset="training")
    Report([bad_init, died])
    assert bad_init.severity == "warning"
    assert "possible cause" in bad_init.message and "verify_fixes" in bad_init.message


def test_scores_into_a_hand_written_loss_for_probabilities_is_a_wrong_input():
    """No softmax before -sum(y log p): the loss rewards outputs above 1 without bound."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 6)).astype(np.float32)
    y = rng.integers(0, 3, 300)
    X[np.arange(300), y] += 2
    Y = np.eye(3, dtype=np.float32)[y]

    def categorical_cross_entropy(p, t):
        return -(t * p.clamp(min=1e-7).log()).sum(dim=1).mean()

    for last, wrong in ((None, True), (nn.Softmax(dim=1), False)):
        layers = [nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3)] + ([last] if last else [])
        model = nn.Sequential(*layers)
        report = diagnose(model, categorical_cross_entropy, (X, Y),
                          optim.SGD(model.parameters(), lr=0.1), steps=30)
        assert report.has("loss.wrong_input") == wrong, report.codes
        if wrong:
            assert report.get("loss.wrong_input")[0].evidence["mistake"] == "softmax_missing"
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))   # MSE on one-hot: fine
    report = diagnose(model, nn.MSELoss(), (X, Y), optim.SGD(model.parameters(), lr=0.1), steps=30)
    assert not report.has("loss.wrong_input")


def test_class_indices_given_to_mse_name_the_mismatch_before_the_crash():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 6)).astype(np.float32)
    y = (X[:, 0] > 0).astype(np.int64)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 2))
    report = diagnose(model, nn.MSELoss(), (X, y), steps=10)
    assert report.codes[0] == "data.labels_invalid"
    assert "class indices" in report.findings[0].message
