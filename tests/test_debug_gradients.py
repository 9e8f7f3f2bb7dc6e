"""The gradient, update and regularisation checks and their scenarios.

* every scenario of this family: diagnose(broken) reports its code, diagnose(fixed) reports
  neither that code nor any error;
* each check on hand-made evidence (a stand-in Monitor with chosen numbers): the exact
  statistic lands in the evidence, and overriding the threshold flips the verdict;
* healthy baselines (digits MLP, moons MLP, tanh regression, small CNN) get no error from
  these checks.
"""
import math
import warnings

import numpy as np
import pytest

import minnet
from minnet import nn, optim, scenarios
from minnet.data import Standardizer, load_digits, make_moons, make_regression_1d
from minnet.debug.checks import gradients as grad_checks
from minnet.debug.checks import updates as update_checks
from minnet.debug.context import DiagnosisContext, TrainingRun
from minnet.debug.diagnosis import diagnose_setup
from minnet.debug.setup import Setup
from minnet.debug.thresholds import Thresholds

FAMILY = ("grad.", "update.", "optim.", "reg.")
SCENARIOS = {
    "exp_overflow": "grad.nonfinite",
    "exploding_gradients": "grad.exploding",
    "vanishing_gradients": "grad.vanishing",
    "frozen_layer": "grad.missing",
    "no_zero_grad": "grad.accumulating",
    "wrong_backward": "grad.incorrect",
    "clipping_hides_lr": "optim.clipping_always",
    "too_much_weight_decay": "reg.too_strong",
}


def _quiet_diagnose(setup, **options):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return diagnose_setup(setup, **options)


@pytest.fixture(scope="module")
def reports():
    """diagnose(broken) and diagnose(fixed) of every scenario, computed once."""
    return {(name, variant): _quiet_diagnose(getattr(scenarios.get(name), variant)())
            for name in SCENARIOS for variant in ("broken", "fixed")}


# -- scenarios ------------------------------------------------------------------------------
@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_broken_scenario_reports_its_code(reports, name):
    report = reports[(name, "broken")]
    assert report.has(SCENARIOS[name]), (name, report.codes)
    assert SCENARIOS[name] in scenarios.get(name).codes


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_fixed_scenario_has_neither_the_code_nor_any_error(reports, name):
    report = reports[(name, "fixed")]
    assert not report.has(SCENARIOS[name]), (name, [str(f) for f in report.get(SCENARIOS[name])])
    assert not report.errors, (name, [str(f) for f in report.errors])


def test_nonfinite_gradient_names_the_op_and_layer_from_the_anomaly_replay(reports):
    (finding,) = reports[("exp_overflow", "broken")].get("grad.nonfinite")
    assert finding.evidence["op"] == "exp"
    assert "NaiveSoftplus" in finding.layer
    assert finding.evidence["first_step"] == 0
    assert finding.evidence["op_max_input"] > 88  # log(float32 max): the overflow it explains
    assert finding.severity == "error"


def test_exploding_reports_growth_towards_the_input(reports):
    (finding,) = reports[("exploding_gradients", "broken")].get("grad.exploding")
    # weights 2x He over 8 layers: the gradient doubles per layer on its way back
    assert finding.evidence["first_to_last_output_grad_rms_ratio"] > 10
    assert finding.layer == "0 (Linear)"


def test_vanishing_ratio_in_the_sigmoid_net_is_tiny(reports):
    (finding,) = reports[("vanishing_gradients", "broken")].get("grad.vanishing")
    assert finding.evidence["first_to_last_grad_rms_ratio"] < 1e-6
    assert "Sigmoid" in finding.message


def test_wrong_backward_names_the_custom_layer(reports):
    (finding,) = reports[("wrong_backward", "broken")].get("grad.incorrect")
    assert "Swish" in finding.layer
    assert finding.evidence["mismatched_entries"] > 0
    assert finding.evidence["max_rel_error"] > 1e-3


def test_weight_decay_finding_compares_with_an_unregularised_copy(reports):
    (finding,) = reports[("too_much_weight_decay", "broken")].get("reg.too_strong")
    ev = finding.evidence
    assert ev["weight_decay"] == 1.0
    assert ev["loss_ratio"] == pytest.approx(ev["data_loss"] / ev["loss_without_regularisation"])
    assert ev["loss_ratio"] > 2


def test_gradcheck_tolerance_override_changes_the_verdict():
    setup = scenarios.get("wrong_backward").broken()
    loose = _quiet_diagnose(setup, phases=("preflight",),
                            thresholds={"gradcheck_rtol": 10.0, "gradcheck_atol": 10.0})
    assert not loose.has("grad.incorrect")
    strict = _quiet_diagnose(setup, phases=("preflight",))
    assert strict.has("grad.incorrect")


def test_mechanical_fix_restores_zero_grad(reports):
    report = reports[("no_zero_grad", "broken")]
    results = report.verify_fixes(steps=60, codes=("grad.accumulating",))
    (result,) = results
    assert result["finding_gone"], result


def test_mechanical_fixes_build_repaired_copies_without_touching_the_original():
    setup = scenarios.get("too_much_weight_decay").broken()
    before = [p.numpy().copy() for p in setup.model.parameters()]
    (finding,) = _quiet_diagnose(setup).get("reg.too_strong")
    repaired = update_checks.drop_regularisation(setup, finding)
    assert all(g["weight_decay"] == 0.0 for g in repaired.optimizer.param_groups)
    assert all(g["weight_decay"] == 1.0 for g in setup.optimizer.param_groups)
    assert repaired.model is not setup.model
    for p, original in zip(setup.model.parameters(), before):
        np.testing.assert_array_equal(p.numpy(), original)


# -- hand-made evidence: a stand-in Monitor --------------------------------------------------
class FakeMonitor:
    """The parts of the Monitor API the checks read, filled with chosen numbers."""

    def __init__(self, model=None, optimizer=None, n_steps=4, params=None, layers=None,
                 scalars=None, layer_of_param=None, layer_types=None):
        self.model, self.optimizer, self.n_steps = model, optimizer, n_steps
        self._params = params or {}          # name -> {stat: array}
        self._layers = layers or {}          # layer -> {stat: array}
        self._scalars = scalars or {}
        self.layers = list(self._layers)
        self.param_names = list(self._params)
        self.layer_of_param = layer_of_param or {}
        self.layer_types = layer_types or {}
        self.steps = np.arange(n_steps)

    @property
    def scalar_names(self):
        return list(self._scalars)

    def param(self, name, stat):
        return np.asarray(self._params[name].get(stat, np.full(self.n_steps, np.nan)), float)

    def activation(self, layer, stat):
        return np.asarray(self._layers[layer].get(stat, np.full(self.n_steps, np.nan)), float)

    def scalar(self, name):
        return np.asarray(self._scalars[name], float)


def _ctx(monitor, thresholds=None, **fields):
    base = dict(model=monitor.model if monitor else None, loss_fn=None, optimizer=None,
                make_optimizer=None, X_train=None, y_train=None, X_val=None, y_val=None,
                task=None, n_classes=None, batch_size=0, shuffle=True, steps=4, seed=0,
                thresholds=Thresholds(thresholds), monitor=monitor)
    base.update(fields)
    return DiagnosisContext(**base)


def _two_layer_model():
    g = np.random.default_rng(0)
    return nn.Sequential(nn.Linear(4, 4, generator=g), nn.ReLU(), nn.Linear(4, 2, generator=g))


def test_accumulating_reads_the_stale_gradient_norm():
    monitor = FakeMonitor(scalars={"stale_grad_norm": [0.0, 2.0, 2.0, 3.0],
                                   "grad_norm_total": [1.0, 2.0, 3.0, 4.0]})
    (finding,) = grad_checks.accumulating_gradients(_ctx(monitor))
    assert finding.evidence["stale_step_fraction"] == 1.0
    assert finding.evidence["median_stale_grad_norm"] == 2.0
    assert finding.thresholds[0]["name"] == "stale_grad_fraction"
    assert not grad_checks.accumulating_gradients(
        _ctx(monitor, thresholds={"stale_grad_fraction": 1.01}))
    zeroed = FakeMonitor(scalars={"stale_grad_norm": [0.0, 0.0, 0.0, 0.0]})
    assert not grad_checks.accumulating_gradients(_ctx(zeroed))


@pytest.mark.parametrize("zero_grad_at,expected", [
    ("before forward", False), ("after forward, before backward", False),
    ("after step", False), ("never", True)])
def test_accumulating_judges_the_gradients_backward_adds_to(zero_grad_at, expected):
    """A new user's report: PyTorch's own tutorials call zero_grad() after the forward pass;
    the gradient left on the parameters matters only when backward() starts adding to it."""
    from minnet.debug import Monitor
    X = minnet.tensor(np.random.default_rng(0).normal(size=(64, 4)).astype(np.float32))
    y = minnet.tensor(np.random.default_rng(1).integers(0, 2, 64))
    model = _two_layer_model()
    sgd = minnet.optim.SGD(model.parameters(), lr=0.1)
    loss_fn = nn.CrossEntropyLoss()
    with Monitor(model, sgd) as monitor:
        for _ in range(12):
            if zero_grad_at == "before forward":
                sgd.zero_grad()
            loss = loss_fn(model(X), y)
            if zero_grad_at == "after forward, before backward":
                sgd.zero_grad()
            loss.backward()
            sgd.step()
            if zero_grad_at == "after step":
                sgd.zero_grad()
            monitor.log(loss=loss)
    stale = monitor.scalar("stale_grad_norm")[1:]
    assert (stale > 0).all() if expected else (stale == 0).all()
    assert bool(grad_checks.accumulating_gradients(_ctx(monitor))) == expected


def _weight_monitor(first_norm, last_norm, model):
    return FakeMonitor(
        model=model,
        params={"0.weight": {"grad_norm": [first_norm] * 4, "grad_missing": [0.0] * 4},
                "2.weight": {"grad_norm": [last_norm] * 4, "grad_missing": [0.0] * 4}},
        layers={"0 (Linear)": {}, "1 (ReLU)": {}, "2 (Linear)": {}},
        layer_of_param={"0.weight": "0 (Linear)", "2.weight": "2 (Linear)"})


def test_vanishing_compares_grad_rms_normalised_by_size():
    model = _two_layer_model()  # 0.weight has 16 entries, 2.weight 8
    monitor = _weight_monitor(4e-6, math.sqrt(8) * 0.1, model)  # RMS 1e-6 and 0.1
    (finding,) = grad_checks.vanishing_gradients(_ctx(monitor))
    assert finding.evidence["first_to_last_grad_rms_ratio"] == pytest.approx(1e-5)
    assert finding.layer == "0 (Linear)"
    assert not grad_checks.vanishing_gradients(
        _ctx(monitor, thresholds={"grad_vanishing_ratio": 1e-6}))
    healthy = _weight_monitor(4 * 0.05, math.sqrt(8) * 0.1, model)
    assert not grad_checks.vanishing_gradients(_ctx(healthy))


def test_exploding_reads_global_norm_and_output_gradient_growth():
    monitor = FakeMonitor(
        model=_two_layer_model(),
        params={"0.weight": {}, "2.weight": {}},
        layers={"0 (Linear)": {"grad_rms": [50.0] * 4}, "1 (ReLU)": {"grad_rms": [9.0] * 4},
                "2 (Linear)": {"grad_rms": [1.0] * 4}},
        layer_of_param={"0.weight": "0 (Linear)", "2.weight": "2 (Linear)"},
        scalars={"grad_norm_total": [5.0, 6.0, 7.0, 8.0]})
    (finding,) = grad_checks.exploding_gradients(_ctx(monitor))
    assert finding.evidence["first_to_last_output_grad_rms_ratio"] == pytest.approx(50.0)
    assert finding.evidence["median_global_grad_norm"] == pytest.approx(6.5)
    assert not grad_checks.exploding_gradients(
        _ctx(monitor, thresholds={"grad_growth_across_layers": 100.0}))
    # the global-norm limit alone
    flagged = grad_checks.exploding_gradients(
        _ctx(monitor, thresholds={"grad_growth_across_layers": 100.0, "grad_norm_limit": 6.0}))
    assert flagged and flagged[0].layer is None


def test_update_ratio_direction_and_suggested_factor():
    model = _two_layer_model()
    monitor = FakeMonitor(
        model=model, params={"0.weight": {"update_ratio": [1e-5] * 4},
                             "0.bias": {"update_ratio": [1.0] * 4},  # biases are ignored
                             "2.weight": {"update_ratio": [2e-5, 1e-5, 1e-5, 1e-5]}},
        layer_of_param={"0.weight": "0 (Linear)", "2.weight": "2 (Linear)"},
        scalars={"lr": [0.01] * 4})
    (finding,) = update_checks.update_ratio(_ctx(monitor))
    ev = finding.evidence
    assert ev["direction"] == "too_low"
    assert ev["median_update_ratio"] == pytest.approx(1e-5)
    assert ev["suggested_lr_factor"] == pytest.approx(100.0)
    assert ev["suggested_lr"] == pytest.approx(1.0)
    assert not update_checks.update_ratio(_ctx(monitor, thresholds={"update_ratio_low": 1e-6}))
    high = FakeMonitor(model=model, params={"0.weight": {"update_ratio": [0.2] * 4}},
                       layer_of_param={"0.weight": "0 (Linear)"}, scalars={"lr": [1.0] * 4})
    (finding,) = update_checks.update_ratio(_ctx(high))
    assert finding.evidence["direction"] == "too_high"
    # aimed at the top of the band (3e-2): 0.2 -> 10x lower
    assert finding.evidence["suggested_lr_factor"] == pytest.approx(0.1)
    assert finding.evidence["suggested_lr"] == pytest.approx(0.1)


def test_update_ratio_does_not_call_a_converged_run_slow():
    """A new user's report: PyTorch's two-layer tutorial (SGD 1e-4, summed MSE) drives the
    loss from 648 to 2e-6; its median update ratio, taken mostly after convergence, sat
    below the band and the Monitor said 'the learning rate looks too low'."""
    model = _two_layer_model()
    ratios = {"0.weight": {"update_ratio": [1e-5] * 20},
              "2.weight": {"update_ratio": [1e-5] * 20}}
    layers = {"0.weight": "0 (Linear)", "2.weight": "2 (Linear)"}
    converged = FakeMonitor(model=model, params=ratios, layer_of_param=layers,
                            scalars={"lr": [1e-4] * 20,
                                     "loss": list(648.0 * 0.3 ** np.arange(20))})
    assert not update_checks.update_ratio(_ctx(converged))
    crawling = FakeMonitor(model=model, params=ratios, layer_of_param=layers,
                           scalars={"lr": [1e-4] * 20, "loss": list(np.linspace(2.3, 2.1, 20))})
    (finding,) = update_checks.update_ratio(_ctx(crawling))
    assert finding.evidence["direction"] == "too_low"


def test_update_ratio_factor_comes_from_the_steps_before_the_loss_blew_up():
    """Review item 8: after a blow-up the ratios describe a broken net, not the lr."""
    model = _two_layer_model()
    ratios = {"0.weight": {"update_ratio": [5.0, 5.0, 0.06, 0.06, 0.06, 0.06]}}
    kw = dict(model=model, n_steps=6, params=ratios, layer_of_param={"0.weight": "0 (Linear)"})
    blown = FakeMonitor(scalars={"lr": [1.0] * 6, "loss": [1, 1.2, 3, 3, 3, 3]}, **kw)
    (finding,) = update_checks.update_ratio(_ctx(blown))
    assert finding.evidence["factor_basis_ratio"] == pytest.approx(5.0)
    assert finding.evidence["suggested_lr_factor"] == pytest.approx(0.01)
    calm = FakeMonitor(scalars={"lr": [1.0] * 6, "loss": [1, 1, 1, 1, 1, 1]}, **kw)
    (finding,) = update_checks.update_ratio(_ctx(calm))
    assert finding.evidence["factor_basis_ratio"] == pytest.approx(0.06)
    assert finding.evidence["suggested_lr_factor"] == pytest.approx(0.1)


def test_missing_gradient_only_for_parameters_the_optimizer_holds():
    model = _two_layer_model()
    model[0].requires_grad_(False)
    held = optim.SGD(model.parameters(), lr=0.1)  # holds the frozen layer: a mistake
    monitor = FakeMonitor(model=model, params={},
                          layer_of_param={"0.weight": "0 (Linear)", "0.bias": "0 (Linear)"})
    findings = grad_checks.missing_gradients(_ctx(monitor, optimizer=held))
    assert sorted(f.evidence["parameter"] for f in findings) == ["0.bias", "0.weight"]
    assert all(f.severity == "error" for f in findings)
    # deliberately frozen: the optimizer holds only the trainable parameters
    on_purpose = optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    assert not grad_checks.missing_gradients(_ctx(monitor, optimizer=on_purpose))


def test_missing_gradient_of_a_trainable_parameter_that_never_gets_one():
    model = _two_layer_model()
    opt = optim.SGD(model.parameters(), lr=0.1)
    params = {name: {"grad_missing": [0.0] * 4} for name, _ in model.named_parameters()}
    params["2.bias"] = {"grad_missing": [1.0, 1.0, 1.0, 1.0]}
    monitor = FakeMonitor(model=model, params=params, layer_of_param={"2.bias": "2 (Linear)"})
    (finding,) = grad_checks.missing_gradients(_ctx(monitor, optimizer=opt))
    assert finding.evidence == {"parameter": "2.bias", "missing_fraction": 1.0,
                                "requires_grad": True, "in_optimizer": True}
    assert not grad_checks.missing_gradients(
        _ctx(monitor, optimizer=opt, thresholds={"grad_missing_fraction": 1.5}))


def test_nonfinite_gradient_from_the_monitor_alone():
    monitor = FakeMonitor(
        model=_two_layer_model(),
        params={"0.weight": {"grad_nonfinite": [0, 0, 3, 16]},
                "2.weight": {"grad_nonfinite": [0, 0, 0, 8]}},
        layer_of_param={"0.weight": "0 (Linear)"}, scalars={"grad_norm_total": [1, 1, 1, 1]})
    (finding,) = grad_checks.nonfinite_gradients(_ctx(monitor))
    assert finding.evidence["first_step"] == 2
    assert finding.evidence["parameters_with_nonfinite_grad"] == ["0.weight"]
    assert finding.layer == "0 (Linear)"


def _nonfinite_at_step_2():
    return FakeMonitor(
        model=_two_layer_model(),
        params={"0.weight": {"grad_nonfinite": [0, 0, 3, 16]},
                "2.weight": {"grad_nonfinite": [0, 0, 0, 8]}},
        layer_of_param={"0.weight": "0 (Linear)"},
        scalars={"grad_norm_total": [1, 1, np.nan, np.nan]})


def test_nonfinite_gradient_of_a_nonfinite_loss_is_not_a_finding_of_its_own():
    """lr_too_high blows up to ~1e38: with the Numba kernels the first overflow was in the
    network (loss NaN, backward fills the gradients with NaN: grad.nonfinite), with the NumPy
    reference in cross_entropy (loss inf, finite gradients: no grad.nonfinite). The step whose
    loss was non-finite is loss.nonfinite's; only earlier steps count."""
    losses = np.array([2.0, 3.0, np.nan, np.nan])
    run = TrainingRun(losses=losses, stopped_at=2, steps=3)
    assert grad_checks.nonfinite_gradients(_ctx(_nonfinite_at_step_2(), run=run)) == []
    # a NaN gradient while the loss was still finite is reported (exp_overflow's case)
    run = TrainingRun(losses=np.array([2.0, 3.0, 4.0, np.nan]), stopped_at=3, steps=4)
    (finding,) = grad_checks.nonfinite_gradients(_ctx(_nonfinite_at_step_2(), run=run))
    assert finding.evidence["first_step"] == 2
    # a Monitor in the user's loop: the logged loss says the same
    monitor = _nonfinite_at_step_2()
    monitor._scalars["loss"] = losses
    assert grad_checks.nonfinite_gradients(_ctx(monitor)) == []


def test_a_step_that_raised_is_not_a_nonfinite_gradient():
    """labels_out_of_range, seed 2: the first batch had no bad label, the second raised in the
    loss; its global gradient norm, never measured, is NaN and was read as a NaN gradient."""
    monitor = FakeMonitor(model=_two_layer_model(), n_steps=2,
                          params={"0.weight": {"grad_nonfinite": [0, np.nan]}},
                          scalars={"grad_norm_total": [1.5, np.nan]})
    run = TrainingRun(losses=np.array([2.3, np.nan]), stopped_at=1, steps=1,
                      error=IndexError("target value 10 is out of range"))
    assert grad_checks.nonfinite_gradients(_ctx(monitor, run=run)) == []


def test_clipping_always_reads_norms_before_clipping():
    run = TrainingRun(losses=np.ones(4), grad_norms_before_clip=np.array([3.0, 0.5, 4.0, 5.0]),
                      steps=4)
    (finding,) = update_checks.clipping_always(_ctx(None, run=run, clip_grad_norm=1.0))
    assert finding.evidence["clipped_fraction"] == 0.75
    assert finding.evidence["median_norm_before_clip"] == 3.5
    assert not update_checks.clipping_always(
        _ctx(None, run=run, clip_grad_norm=1.0, thresholds={"clipping_active_fraction": 0.8}))
    assert not update_checks.clipping_always(_ctx(None, run=run, clip_grad_norm=None))


def test_weight_decay_penalty_is_half_wd_times_squared_norm():
    model = _two_layer_model()
    opt = optim.AdamW(model.parameters(), weight_decay=0.5)
    expected = 0.25 * sum(float(np.sum(p.numpy().astype(np.float64) ** 2))
                          for p in model.parameters())
    penalty, decay = update_checks.weight_decay_penalty(opt)
    assert decay == 0.5 and penalty == pytest.approx(expected)


# -- update.ratio on learning rates far off, and healthy baselines ---------------------------
def _moons_setup(lr, steps=120):
    X, y = make_moons(400, noise=0.1, seed=0)
    g = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(2, 32, generator=g), nn.ReLU(),
                          nn.Linear(32, 32, generator=g), nn.ReLU(), nn.Linear(32, 2, generator=g))
    return Setup(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=lr,
                                                         momentum=0.9),
                 (X.astype(np.float32), y.astype(np.int64)), steps=steps)


def test_update_ratio_flags_a_learning_rate_far_too_low_and_says_raise_it():
    report = _quiet_diagnose(_moons_setup(1e-6), phases=("run",))
    (finding,) = report.get("update.ratio")
    assert finding.evidence["direction"] == "too_low"
    assert finding.evidence["suggested_lr_factor"] >= 100
    assert "Raise" in finding.fix


def _healthy_setups():
    X, y = load_digits(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Xs = Standardizer().fit_transform(X).astype(np.float32)
    y = y.astype(np.int64)
    g = np.random.default_rng(0)
    digits = nn.Sequential(nn.Linear(64, 128, generator=g), nn.ReLU(),
                           nn.Linear(128, 10, generator=g))
    cnn = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(),
                        nn.Linear(128, 10, generator=g))
    Xr, yr = make_regression_1d(200, seed=0)
    regression = nn.Sequential(nn.Linear(1, 32, generator=g), nn.Tanh(),
                               nn.Linear(32, 32, generator=g), nn.Tanh(),
                               nn.Linear(32, 1, generator=g))
    return {
        "digits_mlp": Setup(digits, nn.CrossEntropyLoss(), optim.Adam(digits.parameters(), 1e-3),
                            (Xs, y), steps=150),
        "digits_cnn": Setup(cnn, nn.CrossEntropyLoss(), optim.Adam(cnn.parameters(), 1e-3),
                            ((X / 16.0).reshape(-1, 1, 8, 8).astype(np.float32), y), steps=100),
        "regression_tanh": Setup(regression, nn.MSELoss(),
                                 optim.Adam(regression.parameters(), 1e-2), (Xr, yr), steps=150),
        "moons_mlp": _moons_setup(0.05, steps=150),
    }


@pytest.mark.parametrize("name", ["digits_mlp", "digits_cnn", "regression_tanh", "moons_mlp"])
def test_healthy_baselines_get_no_error_from_these_checks(name):
    report = _quiet_diagnose(_healthy_setups()[name])
    ours = [f for f in report.findings if f.code.startswith(FAMILY)]
    assert not [f for f in ours if f.severity == "error"], [str(f) for f in ours]
    # and none of the gradient codes at all: these nets train well
    assert not [f for f in ours if f.code.startswith("grad.")], [str(f) for f in ours]


@pytest.mark.parametrize("name, direction", [("lr_too_low", "too_low"),
                                             ("lr_too_high", "too_high")])
def test_update_ratio_on_the_learning_rate_scenarios(name, direction):
    """The loss family's lr scenarios: update.ratio says which way the lr is off."""
    broken = _quiet_diagnose(scenarios.get(name).broken(), phases=("run",))
    assert direction in [f.evidence["direction"] for f in broken.get("update.ratio")]
    fixed = _quiet_diagnose(scenarios.get(name).fixed(), phases=("run",))
    assert not fixed.has("update.ratio")


# -- regressions from the independent review (/tmp/review_findings.md items 2, 3, 7, 10) -----------
def _review_spirals():
    from minnet.data import make_spirals
    X, y = make_spirals(300, 3, noise=0.15, seed=3)
    return X.astype(np.float32), y.astype(np.int64)


def _review_mlp(sizes, activation=nn.ReLU, seed=0):
    from minnet.random import manual_seed
    manual_seed(seed)
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


def test_review_f22_zero_grad_between_backward_and_step_is_an_error():
    """No weight ever moves: update.ratio reports it as an error (it used to be dropped)."""
    model = _review_mlp([2, 64, 64, 3], seed=22)

    def step(model, loss_fn, optimizer, X, y):
        loss = loss_fn(model(X), y)
        loss.backward()
        optimizer.zero_grad()   # the mistake: clears the gradient step() needs
        optimizer.step()
        return loss
    setup = Setup(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-2),
                  _review_spirals(), train_step=step, steps=100)
    (finding,) = _quiet_diagnose(setup, phases=("run",)).get("update.ratio")
    assert finding.severity == "error"
    assert finding.evidence["weights_never_moved"] == ["0.weight", "2.weight", "4.weight"]
    assert finding.evidence["suggested_lr_factor"] == math.inf


def test_still_weights_with_zero_gradients_are_left_to_the_dead_unit_checks():
    """Review F12 (biases -5, every ReLU dead): weights get gradient 0 and never move; that is
    not a misplaced zero_grad."""
    model = _two_layer_model()
    still = {"update_ratio": [0.0] * 4, "grad_norm": [0.0] * 4}
    monitor = FakeMonitor(model=model, params={"0.weight": still, "2.weight": still},
                          scalars={"lr": [0.1] * 4})
    assert not [f for f in update_checks.update_ratio(_ctx(monitor)) if f.severity == "error"]
    moving_grads = {"update_ratio": [0.0] * 4, "grad_norm": [0.3] * 4}
    monitor = FakeMonitor(model=model, params={"0.weight": moving_grads, "2.weight": moving_grads},
                          scalars={"lr": [0.1] * 4})
    (finding,) = update_checks.update_ratio(_ctx(monitor))
    assert finding.severity == "error"
    assert finding.evidence["median_grad_norm_after_backward"] == {"0.weight": 0.3, "2.weight": 0.3}


def test_still_weights_outside_the_optimizer_are_not_an_update_ratio_error():
    model = _two_layer_model()
    only_last = optim.SGD(model[2].parameters(), lr=0.1)
    monitor = FakeMonitor(model=model, optimizer=only_last,
                          params={"0.weight": {"update_ratio": [0.0] * 4},
                                  "2.weight": {"update_ratio": [1e-3] * 4}})
    assert not update_checks.update_ratio(_ctx(monitor))


def test_review_f21_optimizer_on_the_last_layer_only():
    """Hidden layer trainable but not in the optimizer: grad.missing names it, and the
    gradients it keeps (nobody zeroes them) are not mistaken for a missing zero_grad."""
    from minnet.data import load_digits
    X, y = load_digits(return_X_y=True)
    model = _review_mlp([64, 64, 10], seed=21)
    setup = Setup(model, nn.CrossEntropyLoss(), optim.SGD(model[2].parameters(), lr=0.1),
                  ((X / 16).astype(np.float32), y.astype(np.int64)), steps=100)
    report = _quiet_diagnose(setup, phases=("run",))
    assert not report.has("grad.accumulating"), [str(f) for f in report.get("grad.accumulating")]
    (finding,) = report.get("grad.missing")
    assert finding.evidence["parameters_not_in_optimizer"] == ["0.weight", "0.bias"]
    assert finding.severity == "warning" and finding.layer == "0 (Linear)"


def test_stale_gradients_counted_only_on_the_optimizers_parameters():
    """The same partial optimizer with the zero_grad really forgotten is still caught."""
    from minnet.data import load_digits
    X, y = load_digits(return_X_y=True)
    model = _review_mlp([64, 32, 10], seed=1)

    def no_zero_grad(model, loss_fn, optimizer, X, y):
        loss = loss_fn(model(X), y)
        loss.backward()
        optimizer.step()
        return loss
    setup = Setup(model, nn.CrossEntropyLoss(), optim.SGD(model[2].parameters(), lr=0.01),
                  ((X / 16).astype(np.float32), y.astype(np.int64)), steps=30,
                  train_step=no_zero_grad)
    (finding,) = _quiet_diagnose(setup, phases=("run",)).get("grad.accumulating")
    assert finding.evidence["measured_on"].startswith("the optimizer's parameters")
    assert finding.evidence["stale_step_fraction"] == 1.0


def _vanishing_monitor(first_rms):
    model = _two_layer_model()
    return FakeMonitor(model=model, params={
        "0.weight": {"grad_norm": [first_rms * 4] * 4, "grad_missing": [0.0] * 4},
        "2.weight": {"grad_norm": [1.0 * math.sqrt(8)] * 4, "grad_missing": [0.0] * 4}},
        layers={"0 (Linear)": {}, "2 (Linear)": {}},
        layer_of_param={"0.weight": "0 (Linear)", "2.weight": "2 (Linear)"})


@pytest.mark.parametrize("first_rms, severity", [(1e-5, "warning"), (5.8e-8, "error")])
def test_vanishing_severity_scales_with_the_margin(first_rms, severity):
    """Review item 7: 5.8e-8 (F11, ten sigmoid layers) is 1700x past 1e-4: an error."""
    (finding,) = grad_checks.vanishing_gradients(_ctx(_vanishing_monitor(first_rms)))
    assert finding.evidence["first_to_last_grad_rms_ratio"] == pytest.approx(first_rms)
    assert finding.severity == severity


def test_a_first_layer_with_exactly_zero_gradients_is_vanishing_not_skipped():
    """A tanh stuck at +-1 in float32 passes exactly 0 back: the monitor counts those steps in
    grad_missing too, and the check skipped the weight as grad.missing's business, while
    grad.missing leaves all-zero gradients to this check; and a ratio of 0 divided by zero."""
    model = _two_layer_model()
    zero_on_every_step = [0.0, 0.0, 0.0, 0.0]
    monitor = FakeMonitor(model=model, params={
        "0.weight": {"grad_norm": zero_on_every_step, "grad_missing": [1.0, 1.0, 1.0, 1.0]},
        "2.weight": {"grad_norm": [1.0] * 4, "grad_missing": [0.0] * 4}},
        layers={"0 (Linear)": {}, "2 (Linear)": {}},
        layer_of_param={"0.weight": "0 (Linear)", "2.weight": "2 (Linear)"})
    (finding,) = grad_checks.vanishing_gradients(_ctx(monitor))
    assert finding.evidence["first_grad_rms"] == 0
    assert finding.severity == "error" and "exactly zero" in finding.message
    # a gradient that is None (no .grad) on most steps stays grad.missing's business
    absent = FakeMonitor(model=model, params={
        "0.weight": {"grad_norm": [np.nan, np.nan, np.nan, 1e-3],
                     "grad_missing": [1.0, 1.0, 1.0, 0.0]},
        "2.weight": {"grad_norm": [1.0] * 4, "grad_missing": [0.0] * 4}},
        layers={"0 (Linear)": {}, "2 (Linear)": {}},
        layer_of_param={"0.weight": "0 (Linear)", "2.weight": "2 (Linear)"})
    assert not grad_checks.vanishing_gradients(_ctx(absent))


@pytest.mark.parametrize("zero_steps", [48, 52])
def test_vanishing_does_not_hinge_on_half_the_steps_having_zero_gradient(zero_steps):
    """A saturated tanh layer on unscaled inputs: the first weight's gradient is exactly 0 on
    about half the steps and of normal size (RMS 5% of the last weight's) on the others. The
    median over the run was 0 (error, 'frozen') or normal (no finding) as 52% or 48% of the
    steps were zero -- the docs' example flipped with the seed. The mean is what the weight
    receives, and does not flip: not vanishing either way."""
    model = _two_layer_model()  # 0.weight 16 entries, 2.weight 8
    first = np.where(np.arange(100) < zero_steps, 0.0, 4 * 0.05)   # RMS 0.05 when non-zero
    monitor = FakeMonitor(model=model, n_steps=100, params={
        "0.weight": {"grad_norm": first, "grad_missing": (first == 0).astype(float)},
        "2.weight": {"grad_norm": np.full(100, math.sqrt(8)), "grad_missing": np.zeros(100)}},
        layers={"0 (Linear)": {}, "2 (Linear)": {}},
        layer_of_param={"0.weight": "0 (Linear)", "2.weight": "2 (Linear)"})
    assert grad_checks.vanishing_gradients(_ctx(monitor)) == []
    (row, _) = grad_checks.weight_grad_rms(monitor)
    assert row[2] == pytest.approx(0.05 * (100 - zero_steps) / 100)
    # a gradient that is tiny on the non-zero steps still vanishes, and says how often it was 0
    tiny = FakeMonitor(model=model, n_steps=100, params={
        "0.weight": {"grad_norm": first * 1e-5, "grad_missing": (first == 0).astype(float)},
        "2.weight": {"grad_norm": np.full(100, math.sqrt(8)), "grad_missing": np.zeros(100)}},
        layers={"0 (Linear)": {}, "2 (Linear)": {}},
        layer_of_param={"0.weight": "0 (Linear)", "2.weight": "2 (Linear)"})
    (finding,) = grad_checks.vanishing_gradients(_ctx(tiny))
    assert finding.severity == "error"
    assert finding.evidence["first_zero_grad_step_fraction"] == zero_steps / 100
    assert f"{zero_steps}% of the steps" in finding.message


def test_vanishing_is_not_carried_by_a_few_blown_up_steps():
    """sum_reduction, seed 1: a diverging run whose last weight's gradient reached 1e20 on a
    few steps; a mean over the steps made the first weight 'vanishing' (ratio 2.5e-15, an
    error) on that seed only. The typical size when the gradient flows is what counts."""
    model = _two_layer_model()
    last = np.full(100, math.sqrt(8) * 0.1)       # RMS 0.1
    last[-3:] = 1e20                               # the blow-up at the end of the run
    monitor = FakeMonitor(model=model, n_steps=100, params={
        "0.weight": {"grad_norm": np.full(100, 4 * 0.05), "grad_missing": np.zeros(100)},
        "2.weight": {"grad_norm": last, "grad_missing": np.zeros(100)}},
        layers={"0 (Linear)": {}, "2 (Linear)": {}},
        layer_of_param={"0.weight": "0 (Linear)", "2.weight": "2 (Linear)"})
    assert grad_checks.vanishing_gradients(_ctx(monitor)) == []
    assert grad_checks.flowing_median([0.0, 0.0, 2.0, 3.0, 4.0, np.nan]) == 3.0 * 3 / 5
    assert grad_checks.flowing_median([0.0, 0.0]) == 0.0


def test_vanishing_reads_only_the_steps_before_the_loss_blew_up():
    """sum_reduction: the loss reaches 1e36 within a few steps; the gradients of the blown-up
    net after that made grad.vanishing an error on three seeds and a warning on two. Only the
    steps before the loss rose past 1.5x its start count, and a handful say nothing."""
    model = _two_layer_model()
    n = 40
    loss = np.where(np.arange(n) < 4, 2.0, 1e30)
    first = np.where(np.arange(n) < 4, 4 * 0.05, 1e-9)     # healthy, then 'vanishing'
    monitor = FakeMonitor(model=model, n_steps=n, params={
        "0.weight": {"grad_norm": first, "grad_missing": np.zeros(n)},
        "2.weight": {"grad_norm": np.full(n, math.sqrt(8) * 0.1), "grad_missing": np.zeros(n)}},
        layers={"0 (Linear)": {}, "2 (Linear)": {}}, scalars={"loss": loss},
        layer_of_param={"0.weight": "0 (Linear)", "2.weight": "2 (Linear)"})
    assert grad_checks.vanishing_gradients(_ctx(monitor)) == []
    monitor._scalars["loss"] = np.full(n, 2.0)             # no blow-up: every step counts
    (finding,) = grad_checks.vanishing_gradients(_ctx(monitor))
    assert finding.severity == "error"


def test_no_zero_grad_broken_ends_worse_than_fixed(reports):
    """Review item 10: the lesson reads right: the accumulating run ends far above the fixed one."""
    broken = reports[("no_zero_grad", "broken")].context.run.losses
    fixed = reports[("no_zero_grad", "fixed")].context.run.losses
    assert np.nanmean(broken[-10:]) > 10 * np.nanmean(fixed[-10:])
    assert np.nanmean(broken[-10:]) > broken[0]


@pytest.mark.parametrize("name", ["H1", "H2", "H3"])
def test_review_healthy_setups_get_no_update_ratio_warning(name):
    """The reviewer's healthy runs whose ratios sat 1.1-1.6x above the 1e-2 edge."""
    from minnet.data import load_digits, make_blobs
    if name == "H1":   # spirals 2-64-64-3 ReLU, Adam 1e-2
        model = _review_mlp([2, 64, 64, 3], seed=101)
        data, opt = _review_spirals(), optim.Adam(model.parameters(), lr=1e-2)
    elif name == "H2":  # digits CNN on pixels / 16, SGD 0.05 momentum 0.9
        from minnet.random import manual_seed
        manual_seed(102)
        X, y = load_digits(return_X_y=True)
        model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Conv2d(8, 16, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.Flatten(), nn.Linear(64, 10))
        data = ((X / 16).reshape(-1, 1, 8, 8).astype(np.float32), y.astype(np.int64))
        opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    else:               # blobs 2-16-4 tanh, SGD 0.1
        X, y = make_blobs(400, centers=4, cluster_std=1.5, seed=5)
        data = (((X - X.mean(0)) / X.std(0)).astype(np.float32), y.astype(np.int64))
        model = _review_mlp([2, 16, 4], nn.Tanh, seed=103)
        opt = optim.SGD(model.parameters(), lr=0.1)
    report = _quiet_diagnose(Setup(model, nn.CrossEntropyLoss(), opt, data, steps=100),
                             phases=("run",))
    # at most an info note: their ratios sit between the catalogue's 1e-2 and the 3e-2 warning
    assert all(f.severity == "info" for f in report.get("update.ratio")), \
        [str(f) for f in report.get("update.ratio")]


# -- optim.clipping_always whoever clips (the second review's f18 / f18b) --------------------
def _digits_clip_setup(own_step: bool, max_norm=1e-3):
    """Digits 64-64-10 ReLU, SGD 0.1, gradients clipped to ``max_norm`` every step: by
    diagnose's own step (clip_grad_norm=) or by the user's train_step (f18 / f18b)."""
    X, y = load_digits(return_X_y=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Xs = Standardizer().fit_transform(X).astype(np.float32)
    g = np.random.default_rng(18)
    model = nn.Sequential(nn.Linear(64, 64, generator=g), nn.ReLU(),
                          nn.Linear(64, 10, generator=g))

    def train_step(model, loss_fn, optimizer, X, y):
        optimizer.zero_grad()
        loss = loss_fn(model(X), y)
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), max_norm)
        optimizer.step()
        return loss
    return Setup(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.1),
                 (Xs, y.astype(np.int64)), steps=100, clip_grad_norm=max_norm,
                 train_step=train_step if own_step else None)


@pytest.fixture(scope="module")
def clip_reports():
    return {own: _quiet_diagnose(_digits_clip_setup(own), phases=("run",))
            for own in (True, False)}


@pytest.mark.parametrize("own_step", [True, False])
def test_too_tight_clip_is_found_whoever_clips_and_says_raise_max_norm(clip_reports, own_step):
    report = clip_reports[own_step]
    (finding,) = report.get("optim.clipping_always")
    evidence = finding.evidence
    assert evidence["clipped_fraction"] == 1.0
    assert evidence["clip_grad_norm"] == pytest.approx(1e-3, rel=1e-4)  # estimated in a user step
    assert evidence["measured_by"].startswith("Monitor" if own_step else "diagnose")
    assert evidence["verdict"] == "too_tight"
    # the suggested max norm is the median gradient norm, hundreds of times the clip
    assert evidence["suggested_max_norm"] == evidence["median_norm_before_clip"] > 0.1
    assert f"{evidence['median_norm_before_clip']:.3g}" in finding.fix
    assert "Raise max_norm" in finding.fix and "Lower the learning rate" not in finding.fix
    # update.ratio: too low, blamed on the clip, with no learning-rate increase suggested
    (ratio,) = report.get("update.ratio")
    assert ratio.evidence["direction"] == "too_low" and ratio.evidence["limited_by_clipping"]
    assert ratio.evidence["suggested_lr_factor"] == 1.0
    assert "clip" in ratio.message and "Raise the learning rate" not in ratio.fix


def test_loosening_the_clip_is_the_mechanical_fix_of_a_tight_one(clip_reports):
    setup = _digits_clip_setup(own_step=False)
    (finding,) = clip_reports[False].get("optim.clipping_always")
    repaired = update_checks.lower_lr_under_clipping(setup, finding)
    assert repaired.clip_grad_norm == pytest.approx(finding.evidence["median_norm_before_clip"])
    assert repaired.optimizer.param_groups[0]["lr"] == 0.1  # the learning rate kept
    with pytest.raises(ValueError, match="train_step"):  # the clip is in the user's code
        update_checks.lower_lr_under_clipping(_digits_clip_setup(own_step=True), finding)


def test_clip_that_hides_a_high_lr_still_says_lower_it(reports):
    (finding,) = reports[("clipping_hides_lr", "broken")].get("optim.clipping_always")
    assert finding.evidence["verdict"] == "hides_lr"
    assert "Lower the learning rate" in finding.fix


def _user_loop(rescale, steps=40, lr=0.1):
    """A user's own loop on moons under a Monitor; ``rescale(params)`` runs after backward."""
    from minnet import tensor
    from minnet.debug.monitor import Monitor
    X, y = make_moons(256, noise=0.1, seed=0)
    g = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(2, 32, generator=g), nn.ReLU(), nn.Linear(32, 2, generator=g))
    optimizer = optim.SGD(model.parameters(), lr=lr)
    rng = np.random.default_rng(1)
    with Monitor(model, optimizer) as monitor:
        for _ in range(steps):
            index = rng.choice(len(X), 32, replace=False)
            optimizer.zero_grad()
            loss = nn.CrossEntropyLoss()(model(tensor(X[index].astype(np.float32))),
                                         tensor(y[index].astype(np.int64)))
            loss.backward()
            rescale(list(model.parameters()))
            optimizer.step()
            monitor.log(loss=loss)
    return monitor


def test_monitor_findings_catch_clipping_in_a_users_own_loop():
    monitor = _user_loop(lambda params: nn.utils.clip_grad_norm_(params, 2e-3))
    (finding,) = [f for f in monitor.findings() if f.code == "optim.clipping_always"]
    assert finding.evidence["clip_grad_norm"] == pytest.approx(2e-3, rel=1e-3)
    assert finding.evidence["clipped_fraction"] == 1.0
    assert finding.evidence["verdict"] == "too_tight"
    # a higher share demanded than measured: no finding
    assert not [f for f in monitor.findings({"clipping_active_fraction": 1.0})
                if f.code == "optim.clipping_always"]


def test_gradients_rescaled_but_not_capped_are_not_clipping():
    def divide_by_four(params):  # e.g. averaging over 4 accumulated batches: no cap
        for p in params:
            p.grad.data *= 0.25
    monitor = _user_loop(divide_by_four)
    at_step, total = monitor.scalar("grad_norm_at_step"), monitor.scalar("grad_norm_total")
    np.testing.assert_allclose(at_step, total / 4, rtol=1e-5)  # every step shrunk ...
    assert not [f for f in monitor.findings() if f.code == "optim.clipping_always"]  # ... no cap
    unclipped = _user_loop(lambda params: None)
    assert not [f for f in unclipped.findings() if f.code == "optim.clipping_always"]


def test_clipping_from_hand_made_monitor_norms():
    # steps 0-2 clipped to 0.5 (norm at step < after backward), step 3 left alone
    monitor = FakeMonitor(scalars={"grad_norm_total": [2.0, 3.0, 4.0, 0.3],
                                   "grad_norm_at_step": [0.5, 0.5, 0.5, 0.3]})
    clipping = update_checks.clipping_evidence(_ctx(monitor))
    assert clipping["max_norm"] == 0.5
    assert clipping["clipped"].tolist() == [True, True, True, False]
    (finding,) = update_checks.clipping_always(_ctx(monitor))
    assert finding.evidence["clipped_fraction"] == 0.75
    assert finding.evidence["median_norm_before_clip"] == 2.5
    assert not update_checks.clipping_always(
        _ctx(monitor, thresholds={"clipping_active_fraction": 0.8}))


@pytest.mark.parametrize("loss, kept", [
    # a loss logged every 5th step: the NaN between are steps with nothing logged
    ([2.0] + [np.nan] * 4 + [1.9] + [np.nan] * 4 + [1.8], [1] * 11),
    ([2.0, 2.1, 3.5, 1.9, 1.8, 1.7], [1] * 6),            # one noisy batch above 1.5x: no blow-up
    ([2.0, 1.9, 3.5, 8.0, 50.0, 1e30], [1, 1, 0, 0, 0, 0]),  # above 1.5x from step 2 to the end
    ([2.0, 1.9, 1.8, np.inf, 1.7], [1, 1, 1, 0, 0]),       # an inf loss always counts
    ([2.0, 1.9, 1.8, np.nan, np.nan, np.nan], [1, 1, 1, 0, 0, 0]),  # logged densely, then nan
])
def test_steps_before_divergence_reads_a_blow_up_not_gaps_or_one_noisy_batch(loss, kept):
    """Review: unlogged steps (NaN in a Monitor) and one minibatch above 1.5x the first loss
    were read as a blow-up, and grad.vanishing then saw too few steps and said nothing."""
    from minnet.debug.checks.loss_steps import steps_before_divergence
    monitor = FakeMonitor(n_steps=len(loss), scalars={"loss": loss})
    np.testing.assert_array_equal(steps_before_divergence(monitor), np.array(kept, bool))


def test_vanishing_is_found_when_the_loss_is_logged_every_fifth_step():
    model = _two_layer_model()
    steps = 60
    loss = np.full(steps, np.nan)
    loss[::5] = np.linspace(2.3, 2.2, len(loss[::5]))
    monitor = FakeMonitor(model=model, n_steps=steps, scalars={"loss": loss}, params={
        "0.weight": {"grad_norm": [4e-6] * steps, "grad_missing": [0.0] * steps},
        "2.weight": {"grad_norm": [math.sqrt(8) * 0.1] * steps, "grad_missing": [0.0] * steps}},
        layers={"0 (Linear)": {}, "2 (Linear)": {}},
        layer_of_param={"0.weight": "0 (Linear)", "2.weight": "2 (Linear)"})
    (finding,) = grad_checks.vanishing_gradients(_ctx(monitor))
    assert finding.evidence["first_to_last_grad_rms_ratio"] == pytest.approx(1e-5)
