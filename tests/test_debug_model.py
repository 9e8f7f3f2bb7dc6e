"""Model, initialisation and activation checks, predictions at init, and their scenarios."""
import math
import warnings

import numpy as np
import pytest

from minnet import nn, optim, scenarios
from minnet.data import make_moons
from minnet.debug.checks import activations as act_checks
from minnet.debug.checks import model as model_checks
from minnet.debug.context import DiagnosisContext
from minnet.debug.diagnosis import build_context
from minnet.debug.predict import predict_layers, trace_layers
from minnet.debug.setup import Setup
from minnet.debug.thresholds import Thresholds
from minnet.debug.whatif import FIXES
from minnet.random import manual_seed
from minnet.scenarios.healthy import HEALTHY

MINE = ("init.symmetric", "init.output_bias", "init.bad_scale", "activation.dead_relu",
        "activation.saturated", "activation.scale", "output.wrong_activation",
        "model.cannot_overfit", "model.train_mode_at_eval")
SCENARIOS = ["zero_init", "unset_output_bias", "huge_init", "dying_relu", "saturated_tanh",
             "vanishing_activations", "relu_output", "capacity_too_small", "dropout_at_eval"]


def _diagnose(setup):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return setup.diagnose()


@pytest.fixture(scope="module")
def reports():
    result = {}
    for name in SCENARIOS:
        scenario = scenarios.get(name)
        result[name] = (_diagnose(scenario.broken()), _diagnose(scenario.fixed()))
    return result


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_broken_reports_code_fixed_is_clean(reports, name):
    code = scenarios.get(name).codes[0]
    broken, fixed = reports[name]
    assert code in broken.codes
    assert code not in fixed.codes
    assert not [f for f in fixed.findings if f.severity == "error"], fixed


@pytest.mark.parametrize("name", sorted(HEALTHY))
def test_healthy_baselines_get_no_errors_from_these_checks(name):
    report = _diagnose(HEALTHY[name]())
    mine = [f for f in report.findings if f.code in MINE and f.severity == "error"]
    assert not mine, mine
    rows = report.predictions["layers"]
    assert rows and all(r["measured_std"] is not None for r in rows)


# -- predictions at initialisation --------------------------------------------------------------
def test_predictions_match_measurement_for_he_relu_net():
    manual_seed(0)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((256, 64)).astype(np.float32)
    y = rng.integers(0, 10, 256)
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(),
                          nn.Linear(256, 10))
    for layer in (model[0], model[2]):
        nn.init.kaiming_normal_(layer.weight, nonlinearity="relu", generator=rng)
        nn.init.zeros_(layer.bias)
    loss = nn.CrossEntropyLoss()
    rows = predict_layers(trace_layers(model, X, y, loss), loss, y)
    # He init: pre-activation std sqrt(2) for unit inputs, and it stays there with depth
    assert rows[0]["predicted_std"] == pytest.approx(math.sqrt(2), rel=0.02)
    for row in rows:
        # the 10-unit output layer averages over few units: a looser match
        tolerance = 0.3 if row["layer"] == "4 (Linear)" else 0.15
        assert row["measured_std"] == pytest.approx(row["predicted_std"], rel=tolerance), row
        assert row["measured_grad_rms"] == pytest.approx(row["predicted_grad_rms"], rel=0.25), row


def test_predictions_for_tanh_regression_and_unknown_layers():
    rng = np.random.default_rng(1)
    X = rng.standard_normal((128, 1, 6, 6)).astype(np.float32)
    y = rng.standard_normal((128, 1)).astype(np.float32)
    manual_seed(1)
    model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.Tanh(), nn.MaxPool2d(2), nn.Flatten(),
                          nn.Linear(36, 1))
    rows = predict_layers(trace_layers(model, X, y, nn.MSELoss()), nn.MSELoss(), y)
    assert [r["layer"] for r in rows] == ["0 (Conv2d)", "1 (Tanh)", "2 (MaxPool2d)",
                                          "3 (Flatten)", "4 (Linear)"]
    assert rows[2]["predicted_std"] is None           # no theory for max pooling
    assert rows[1]["measured_std"] == pytest.approx(rows[1]["predicted_std"], rel=0.2)
    assert rows[4]["measured_grad_rms"] == pytest.approx(rows[4]["predicted_grad_rms"], rel=0.3)


# -- unit tests on hand-made models -------------------------------------------------------------
def _ctx(model, X, y, loss=None, optimizer=None, thresholds=None, **setup_options):
    loss = loss or nn.CrossEntropyLoss()
    optimizer = optimizer or optim.Adam(model.parameters(), lr=1e-2)
    setup = Setup(model, loss, optimizer, (X, y), **setup_options)
    return build_context(setup, thresholds=thresholds)


def _moons():
    X, y = make_moons(n_samples=200, noise=0.1, seed=0)
    return X.astype(np.float32), y


def test_symmetric_init_exact_evidence():
    X, y = _moons()
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
    nn.init.constant_(model[0].weight, 0.3)
    findings = model_checks.symmetric_init(_ctx(model, X, y))
    assert [f.layer for f in findings] == ["0 (Linear)"]
    assert findings[0].evidence["weight_value"] == pytest.approx(0.3)
    assert findings[0].evidence["units"] == 8
    # a zero output layer alone is fine (its units differ through their targets)
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
    nn.init.zeros_(model[2].weight)
    assert model_checks.symmetric_init(_ctx(model, X, y)) == []


def test_bad_scale_ratio_and_threshold_override():
    X, y = _moons()
    manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                          nn.Linear(64, 2))
    rng = np.random.default_rng(0)
    nn.init.normal_(model[2].weight, 0.0, 0.8, generator=rng)
    findings = model_checks.bad_init_scale(_ctx(model, X, y))
    assert [f.layer for f in findings] == ["2 (Linear)"]
    evidence = findings[0].evidence
    std = float(model[2].weight.numpy().std())
    assert evidence["weight_std"] == pytest.approx(std)
    assert evidence["ratio_to_nearest"] == pytest.approx(std / math.sqrt(2 / 64))
    assert evidence["following_activation"] == "ReLU"
    assert findings[0].severity == "warning"  # 4.5x: not extreme
    relaxed = model_checks.bad_init_scale(_ctx(model, X, y, thresholds={"init_scale_ratio": 6}))
    assert relaxed == []


def test_output_bias_regression_and_imbalanced_classification():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((300, 3)).astype(np.float32)
    y = (X[:, :1] + 10.0).astype(np.float32)          # mean 10, std 1
    manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 1))
    findings = model_checks.output_bias(_ctx(model, X, y, loss=nn.MSELoss()))
    assert len(findings) == 1
    out_mean = findings[0].evidence["mean_initial_prediction"][0]
    expected = abs(out_mean - y.mean()) / y.std()
    assert findings[0].evidence["offset_in_target_std"] == pytest.approx(expected, rel=1e-4)
    # imbalanced classes 95/5 with a zero bias: KL(prior || ~uniform) ~ 0.49 nats
    labels = (rng.random(300) < 0.05).astype(np.int64)
    model = nn.Sequential(nn.Linear(3, 2))
    nn.init.zeros_(model[0].weight)
    nn.init.zeros_(model[0].bias)
    findings = model_checks.output_bias(_ctx(model, X, labels))
    prior = np.bincount(labels, minlength=2) / len(labels)
    kl = float(np.sum(prior * np.log(prior / 0.5)))
    assert findings[0].evidence["kl_nats"] == pytest.approx(kl, rel=1e-6)
    # with the bias at the log priors it is gone
    model[0].bias.data[...] = np.log(prior)
    assert model_checks.output_bias(_ctx(model, X, labels)) == []


def test_output_bias_skipped_when_classes_have_too_few_samples():
    # the review's f20: 15 samples of 10 classes (two classes unseen) with a uniform start
    labels = np.array([1, 1, 2, 3, 3, 4, 5, 5, 7, 7, 8, 8, 9, 9, 9], dtype=np.int64)
    X = np.random.default_rng(0).standard_normal((15, 4)).astype(np.float32)
    model = nn.Sequential(nn.Linear(4, 10))
    nn.init.zeros_(model[0].weight)
    nn.init.zeros_(model[0].bias)
    assert model_checks.output_bias(_ctx(model, X, labels)) == []
    # allowed anyway, the finding appears; its suggestion stays finite for the unseen classes
    (finding,) = model_checks.output_bias(
        _ctx(model, X, labels, thresholds={"output_bias_min_expected_per_class": 1}))
    counts = np.bincount(labels, minlength=10)
    prior = counts / 15
    seen = prior > 0
    assert finding.evidence["kl_nats"] == pytest.approx(np.sum(prior[seen] * np.log(prior[seen] * 10)))
    assert finding.evidence["expected_per_class"] == 1.5
    smoothed = np.log((counts + 0.5) / (15 + 5))
    assert finding.evidence["suggested_bias"] == pytest.approx(smoothed - smoothed.mean())
    assert min(finding.evidence["suggested_bias"]) > -3  # was -20.4 from log(1e-12)
    assert "never seen" in finding.fix


def test_output_bias_binary_suggestion_is_the_smoothed_log_odds():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((400, 3)).astype(np.float32)
    y = np.zeros((400, 1), np.float32)
    y[:8] = 1.0                                       # 8 positives in 400
    model = nn.Sequential(nn.Linear(3, 1))
    nn.init.zeros_(model[0].weight)
    nn.init.zeros_(model[0].bias)
    (finding,) = model_checks.output_bias(_ctx(model, X, y, loss=nn.BCEWithLogitsLoss()))
    p = (8 + 0.5) / (400 + 1)
    assert finding.evidence["suggested_bias"] == [pytest.approx(np.log(p / (1 - p)))]
    assert finding.evidence["class_counts"] == [392.0, 8.0]


def test_wrong_output_activation_regression_and_bounded_logits():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((200, 2)).astype(np.float32)
    y = (X[:, :1] * 2).astype(np.float32)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 1), nn.Tanh())
    findings = model_checks.wrong_output_activation(_ctx(model, X, y, loss=nn.MSELoss()))
    assert findings[0].layer == "3 (Tanh)"
    assert findings[0].evidence["fraction_unreachable"] == pytest.approx(float(np.mean(np.abs(y) > 1)))
    # cross-entropy on sigmoid "logits" with 10 classes: max probability e / (e + 9)
    labels = rng.integers(0, 10, 200)
    model = nn.Sequential(nn.Linear(2, 10), nn.Sigmoid())
    findings = model_checks.wrong_output_activation(_ctx(model, X, labels))
    assert findings[0].evidence["loss_floor"] == pytest.approx(-math.log(math.e / (math.e + 9)))


def test_cannot_overfit_and_eval_mode_checks():
    X, y = _moons()
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU())   # width 2, no real output layer
    nn.init.zeros_(model[0].weight)
    nn.init.constant_(model[0].bias, -1.0)               # every output 0: nothing can learn
    findings = model_checks.cannot_overfit(_ctx(model, X, y))
    assert findings and findings[0].severity == "error"
    assert findings[0].evidence["batch_size"] == 16

    manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.5), nn.Linear(16, 2))

    def evaluate(model, X, y):
        from minnet.tensor import Tensor, no_grad
        with no_grad():
            return model(Tensor(X)).numpy()

    findings = model_checks.train_mode_at_eval(_ctx(model, X, y, evaluate=evaluate))
    assert findings[0].evidence["layers_in_training_mode"] == ["2 (Dropout)"]
    assert findings[0].evidence["relative_difference_between_calls"] > 0
    fixed = FIXES["model.train_mode_at_eval"].apply(
        Setup(model, nn.CrossEntropyLoss(), None, (X, y), evaluate=evaluate), findings[0])
    assert model_checks.train_mode_at_eval(_ctx(model, X, y, evaluate=fixed.evaluate)) == []


class _FakeMonitor:
    """Just what the activation checks read."""

    def __init__(self, stats, types):
        self.layers = list(types)
        self.layer_types = dict(types)
        self.stats = stats
        self.model = None
        self.param_names, self.layer_of_param = [], {}

    def activation(self, layer, stat):
        return np.asarray(self.stats.get((layer, stat), [np.nan]), dtype=float)

    def unit_activity(self, layer):
        return np.ones(10)


def _monitor_ctx(monitor, thresholds=None):
    return DiagnosisContext(model=None, loss_fn=None, optimizer=None, make_optimizer=None,
                            X_train=None, y_train=None, X_val=None, y_val=None, task=None,
                            n_classes=None, batch_size=0, shuffle=True, steps=0, seed=0,
                            thresholds=Thresholds(thresholds), monitor=monitor)


def test_dead_relu_uses_init_and_late_median_and_override():
    types = {"0 (Linear)": "Linear", "1 (ReLU)": "ReLU", "2 (Linear)": "Linear"}
    dead = [0.1, 0.2, 0.3, 0.5, 0.6, 0.7, 0.8, 0.8]   # last quarter: [0.8, 0.8]
    monitor = _FakeMonitor({("1 (ReLU)", "dead_fraction"): dead}, types)
    findings = act_checks.dead_relu(_monitor_ctx(monitor))
    assert findings[0].evidence["dead_fraction_late"] == pytest.approx(0.8)
    assert findings[0].evidence["dead_fraction_at_init"] == pytest.approx(0.1)
    assert findings[0].severity == "warning"
    assert act_checks.dead_relu(_monitor_ctx(monitor, {"dead_relu_fraction": 0.85})) == []


def test_dead_relu_onset_and_cause_at_init_from_the_feeding_layer():
    types = {"0 (Linear)": "Linear", "1 (ReLU)": "ReLU", "2 (Linear)": "Linear"}
    stats = {("1 (ReLU)", "dead_fraction"): [1.0, 1.0, 1.0, 1.0],
             ("0 (Linear)", "mean"): [-5.0, -5.0], ("0 (Linear)", "std"): [0.3, 0.3]}
    monitor = _FakeMonitor(stats, types)
    monitor.layer_of_param = {"0.weight": "0 (Linear)", "0.bias": "0 (Linear)"}
    ctx = _monitor_ctx(monitor)
    ctx.cache["initial_parameters"] = {"0.weight": np.zeros((4, 3)), "0.bias": np.full(4, -4.0)}
    (finding,) = act_checks.dead_relu(ctx)
    assert finding.onset == "init"
    assert finding.evidence["cause_at_init"] == "bias"
    assert finding.evidence["bias_mean"] == pytest.approx(-4.0)
    assert finding.evidence["pre_mean"] == pytest.approx(-5.0)
    assert "0 (Linear)'s bias" in finding.fix and "learning rate" not in finding.fix
    # a shift the bias does not explain (bias ~0): the inputs or the layer before
    ctx = _monitor_ctx(monitor)
    ctx.cache["initial_parameters"] = {"0.bias": np.zeros(4)}
    (finding,) = act_checks.dead_relu(ctx)
    assert finding.evidence["cause_at_init"] == "shift"
    # not shifted (mean -0.1 within its std 0.3): no cause named
    stats[("0 (Linear)", "mean")] = [-0.1, -0.1]
    (finding,) = act_checks.dead_relu(_monitor_ctx(_FakeMonitor(stats, types)))
    assert finding.evidence["cause_at_init"] is None
    # alive at init, dead late: the updates did it
    stats[("1 (ReLU)", "dead_fraction")] = [0.1, 0.9, 1.0, 1.0]
    (finding,) = act_checks.dead_relu(_monitor_ctx(_FakeMonitor(stats, types)))
    assert finding.onset == "training" and "learning rate" in finding.fix


def _review_digits_mlp(seed, lr, hidden, bias=None):
    """The review's F07 / F12 setups: digits / 16 (pixels in [0, 1]), ReLU MLP, SGD momentum."""
    from minnet.data import load_digits
    from minnet.debug import diagnose
    X, y = load_digits(return_X_y=True)
    X, y = (X / 16).astype(np.float32), y.astype(np.int64)
    manual_seed(seed)
    sizes = [64] + hidden + [10]
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    if bias is not None:
        for layer in layers[:-1:2]:
            layer.bias.data[...] = bias
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return diagnose(model, nn.CrossEntropyLoss(), (X, y),
                        optim.SGD(model.parameters(), lr=lr, momentum=0.9), steps=100)


def test_review_f12_dead_relus_from_negative_biases_blame_the_init_not_the_data():
    # before: data.not_normalized (warning, a false alarm on digits / 16) was reported as the
    # cause of both dead layers, and the fix said nothing about the -5 biases
    report = _review_digits_mlp(12, 0.05, [100, 100], bias=-5.0)
    assert not report.has("data.not_normalized")
    dead = report.get("activation.dead_relu")
    assert [f.layer for f in dead] == ["1 (ReLU)", "3 (ReLU)"]
    for finding in dead:
        assert finding.onset == "init" and finding.severity == "error"
        assert finding.evidence["cause_at_init"] == "bias"
        assert finding.evidence["bias_mean"] == pytest.approx(-5.0)
        assert "bias" in finding.fix
        assert not finding.caused_by, finding.caused_by


def test_review_f07_dead_relus_after_a_blow_up_have_onset_training():
    # lr 5: 17% of the units dead at init, 100% after the blow-up
    report = _review_digits_mlp(7, 5.0, [64])
    (finding,) = report.get("activation.dead_relu")
    assert finding.evidence["dead_fraction_at_init"] < 0.5 < finding.evidence["dead_fraction_late"]
    assert finding.onset == "training"
    assert not report.has("data.not_normalized")


def test_saturation_skips_the_output_layer():
    types = {"0 (Linear)": "Linear", "1 (Tanh)": "Tanh", "2 (Linear)": "Linear",
             "3 (Sigmoid)": "Sigmoid"}
    monitor = _FakeMonitor({("1 (Tanh)", "saturated_fraction"): [0.95, 0.97],
                            ("3 (Sigmoid)", "saturated_fraction"): [0.99, 0.99]}, types)
    findings = act_checks.saturated(_monitor_ctx(monitor))
    assert [f.layer for f in findings] == ["1 (Tanh)"]
    assert findings[0].severity == "error"
    assert findings[0].evidence["saturated_fraction"] == pytest.approx(0.97)
    assert findings[0].onset == "init"
    late = _FakeMonitor({("1 (Tanh)", "saturated_fraction"): [0.1, 0.2, 0.97, 0.97]}, types)
    assert act_checks.saturated(_monitor_ctx(late))[0].onset == "training"


def test_activation_scale_needs_a_run_with_a_trend():
    names = [f"{2 * i} (Linear)" for i in range(6)]
    types = {}
    for i, name in enumerate(names):
        types[name] = "Linear"
        types[f"{2 * i + 1} (Tanh)"] = "Tanh"

    def monitor_for(stds):
        return _FakeMonitor({(n, "std"): [s] for n, s in zip(names, stds)}, types)

    shrinking = [1.0, 0.3, 0.1, 0.03, 0.01, 1.0]   # the last (output) layer is not judged
    findings = act_checks.activation_scale(_monitor_ctx(monitor_for(shrinking)))
    assert findings[0].evidence["run_length"] == 4
    assert findings[0].evidence["last_std"] == pytest.approx(0.01)
    assert findings[0].onset == "init"
    drifting = [0.45, 0.42, 0.4, 0.38, 0.36, 1.0]   # below the band but no 2x trend
    assert act_checks.activation_scale(_monitor_ctx(monitor_for(drifting))) == []
    two = [1.0, 0.3, 0.1, 1.0, 1.0, 1.0]
    assert act_checks.activation_scale(_monitor_ctx(monitor_for(two))) == []
    assert act_checks.activation_scale(
        _monitor_ctx(monitor_for(two), {"activation_scale_layers": 2}))


def test_reinitialised_copy_uses_he_before_relu_and_leaves_original():
    manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 256), nn.ReLU(), nn.Linear(256, 256), nn.Tanh(),
                          nn.Linear(256, 10))
    for layer in (model[0], model[2], model[4]):
        nn.init.zeros_(layer.weight)
    twin = model_checks.reinitialised_copy(model, seed=0)
    assert float(np.abs(model[0].weight.numpy()).max()) == 0.0
    assert float(twin[0].weight.numpy().std()) == pytest.approx(math.sqrt(2 / 64), rel=0.05)
    assert float(twin[2].weight.numpy().std()) == pytest.approx(math.sqrt(2 / 512), rel=0.05)
    assert float(twin[4].weight.numpy().std()) == pytest.approx(math.sqrt(2 / 266), rel=0.1)
