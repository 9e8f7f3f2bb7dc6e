"""The loss family of the debugger: preflight loss checks, loss-curve dynamics, scenarios."""
import math
import warnings
from types import SimpleNamespace

import numpy as np
import pytest

from minnet import nn, optim, scenarios
from minnet.debug.checks import dynamics, loss as loss_checks, monitor_findings
from minnet.debug.context import TrainingRun
from minnet.debug.diagnosis import build_context, diagnose_setup
from minnet.debug.setup import Setup
from minnet.debug.thresholds import Thresholds
from minnet.nn import functional as F
from minnet.random import manual_seed

SCENARIOS = {"overconfident_init": "loss.initial_unexpected", "double_softmax": "loss.wrong_input",
             "broadcast_mse": "loss.broadcast_shape", "sum_reduction": "loss.reduction_scale",
             "unbalanced_terms": "loss.terms_unbalanced", "log_of_zero": "loss.nonfinite",
             "lr_too_high": "loss.diverging", "lr_too_low": "loss.plateau",
             "lr_oscillating": "loss.oscillating"}
MY_CODES = set(SCENARIOS.values())


@pytest.fixture(scope="module")
def reports():
    out = {}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for name in SCENARIOS:
            s = scenarios.get(name)
            out[name] = {"broken": diagnose_setup(s.broken()), "fixed": diagnose_setup(s.fixed())}
    return out


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_broken_reports_its_code(reports, name):
    codes = [f.code for f in reports[name]["broken"].findings]
    assert SCENARIOS[name] in codes, codes
    assert SCENARIOS[name] in scenarios.get(name).codes


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_scenario_fixed_is_clean(reports, name):
    findings = reports[name]["fixed"].findings
    assert SCENARIOS[name] not in [f.code for f in findings]
    assert not [str(f) for f in findings if f.severity == "error"]


def test_findings_carry_evidence_thresholds_and_sources(reports):
    for name, code in SCENARIOS.items():
        finding = next(f for f in reports[name]["broken"].findings if f.code == code)
        assert finding.message and finding.fix and finding.source and finding.evidence
        if code not in ("loss.nonfinite", "loss.broadcast_shape"):
            assert finding.thresholds and finding.thresholds[0]["source"]


def test_predicted_vs_measured_initial_loss(reports):
    broken = reports["overconfident_init"]["broken"].predictions["loss"]
    fixed = reports["overconfident_init"]["fixed"].predictions["loss"]
    assert broken["expected"] == pytest.approx(fixed["expected"])
    assert broken["measured"] > 3 * broken["expected"]
    assert fixed["measured"] == pytest.approx(fixed["expected"], rel=0.2)


def test_nonfinite_names_the_op_by_replay(reports):
    finding = next(f for f in reports["log_of_zero"]["broken"].findings
                   if f.code == "loss.nonfinite")
    assert finding.evidence["anomaly_op"] == "log"
    assert finding.evidence["anomaly_phase"] == "forward"
    assert finding.step == finding.evidence["step"] > 0


def test_a_run_that_learnt_and_rebounds_is_not_a_plateau():
    """saturated_tanh fixed, seed 3: 0.40 -> 0.22 -> 0.28, the last third rising 21% +- 16%.
    Moving, not flat, and below its start: not stuck (a rebound is the diverging check's)."""
    rng = np.random.default_rng(3)
    steps = np.arange(150)
    curve = np.where(steps < 95, 0.40 - 0.18 * steps / 95, 0.22 + 0.06 * (steps - 95) / 55)
    curve = curve + 0.01 * rng.standard_normal(150)
    assert dynamics.plateau_loss(_curve_ctx(curve)) == []


def test_log_of_zero_fails_on_every_batch_order():
    """The scenario's NaN came from training dynamics: with seed 2's batch order the logits
    passed 17 only at step 253 of a 120-step run, so broken() showed no loss.nonfinite."""
    scenario = scenarios.get("log_of_zero")
    for seed in range(5):
        broken = scenario.broken().replace(seed=seed)
        run = broken.train()
        assert run.stopped_at is not None and run.stopped_at < 0.8 * broken.steps, seed


def test_double_softmax_names_the_softmax_layer(reports):
    finding = next(f for f in reports["double_softmax"]["broken"].findings
                   if f.code == "loss.wrong_input")
    assert finding.layer == "3 (Softmax)"
    assert finding.evidence["row_sum_min"] == pytest.approx(1, abs=1e-5)


# -- preflight checks on hand-made setups ------------------------------------------------------
def _ctx(model, loss_fn, X, y, thresholds=None, **options):
    setup = Setup(model, loss_fn, optim.SGD(model.parameters(), lr=0.01), (X, y), **options)
    return build_context(setup, thresholds=thresholds)


def _classification_data(n=210, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 5)).astype(np.float32)
    y = rng.integers(0, classes, size=n)
    return X, y


def test_initial_loss_evidence_is_the_label_entropy():
    manual_seed(1)
    X, y = _classification_data()
    model = nn.Sequential(nn.Linear(5, 3))
    model[0].weight.data = model[0].weight.data * 100
    ctx = _ctx(model, F.cross_entropy, X, y)
    [finding] = loss_checks.initial_loss(ctx)
    p = np.bincount(y, minlength=3) / len(y)
    entropy = -(p * np.log(p)).sum()
    assert finding.evidence["expected_initial_loss"] == pytest.approx(entropy, rel=1e-5)
    measured = F.cross_entropy(model(__import__("minnet").tensor(X)), y).item()
    assert finding.evidence["measured_initial_loss"] == pytest.approx(measured, rel=1e-5)
    assert finding.evidence["ratio"] == pytest.approx(measured / entropy, rel=1e-5)
    # the same setup with the factor raised above the ratio: no finding
    relaxed = _ctx(model, F.cross_entropy, X, y,
                   thresholds={"initial_loss_factor": 2 * finding.evidence["ratio"]})
    assert loss_checks.initial_loss(relaxed) == []


def test_initial_loss_regression_expects_the_variance():
    manual_seed(2)
    rng = np.random.default_rng(0)
    X = rng.standard_normal((100, 2)).astype(np.float32)
    y = (3 + 0.5 * rng.standard_normal((100, 1))).astype(np.float32)
    ctx = _ctx(nn.Sequential(nn.Linear(2, 1)), F.mse_loss, X, y)
    loss_checks.initial_loss(ctx)
    assert ctx.predictions["loss"]["expected"] == pytest.approx(y.var(), rel=1e-4)


def test_log_softmax_with_nll_is_right_and_with_cross_entropy_wrong():
    manual_seed(3)
    X, y = _classification_data()
    model = nn.Sequential(nn.Linear(5, 3), nn.LogSoftmax(dim=1))
    assert loss_checks.loss_input(_ctx(model, F.nll_loss, X, y)) == []
    [finding] = loss_checks.loss_input(_ctx(model, F.cross_entropy, X, y))
    assert finding.evidence["kind"] == "log-probabilities"
    assert finding.evidence["logsumexp_max"] == pytest.approx(0, abs=1e-5)
    assert loss_checks.loss_input(_ctx(nn.Sequential(nn.Linear(5, 3)), F.cross_entropy, X, y)) == []


def test_broadcast_shape_only_when_the_loss_mixes_samples():
    manual_seed(4)
    rng = np.random.default_rng(1)
    X = rng.standard_normal((50, 2)).astype(np.float32)
    y = rng.standard_normal(50).astype(np.float32)
    model = nn.Sequential(nn.Linear(2, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        [finding] = loss_checks.prediction_shape(_ctx(model, F.mse_loss, X, y, task="regression"))
        assert finding.evidence["broadcast_shape"] == [7, 7]
        assert finding.severity == "error"
        squeezing = lambda out, target: F.mse_loss(out.squeeze(1), target)  # noqa: E731
        assert loss_checks.prediction_shape(_ctx(model, squeezing, X, y, task="regression")) == []


def test_reduction_ratio_is_exactly_two_for_a_sum():
    manual_seed(5)
    X, y = _classification_data()
    model = nn.Sequential(nn.Linear(5, 3))
    summed = lambda out, target: F.cross_entropy(out, target, reduction="sum")  # noqa: E731
    [finding] = loss_checks.reduction(_ctx(model, summed, X, y, batch_size=16))
    assert finding.evidence["ratio"] == pytest.approx(2.0, rel=1e-6)
    assert finding.evidence["batch"] == 16
    assert loss_checks.reduction(_ctx(model, F.cross_entropy, X, y)) == []
    relaxed = _ctx(model, summed, X, y, thresholds={"reduction_batch_ratio": 2.5})
    assert loss_checks.reduction(relaxed) == []


def test_term_balance_ratio_and_override():
    manual_seed(6)
    X, y = _classification_data()
    model = nn.Sequential(nn.Linear(5, 3))

    def terms(weight):
        return lambda out, target: {"ce": F.cross_entropy(out, target),
                                    "penalty": weight * (out ** 2).mean()}

    [finding] = loss_checks.term_balance(_ctx(model, terms(1e4), X, y))
    values = finding.evidence["terms"]
    assert finding.evidence["value_ratio"] == pytest.approx(
        max(values.values()) / min(values.values()), rel=1e-6)
    assert loss_checks.term_balance(_ctx(model, terms(1.0), X, y)) == []
    big = max(finding.evidence["value_ratio"], finding.evidence["grad_ratio"])
    relaxed = _ctx(model, terms(1e4), X, y, thresholds={"loss_term_ratio": 2 * big})
    assert loss_checks.term_balance(relaxed) == []


# -- loss-curve dynamics on hand-made curves ---------------------------------------------------
def _curve_ctx(losses, thresholds=None, stopped_at=None):
    losses = np.asarray(losses, dtype=float)
    run = TrainingRun(losses=losses, stopped_at=stopped_at, steps=len(losses))
    return SimpleNamespace(run=run, monitor=None, thresholds=Thresholds(thresholds), cache={},
                           X_train=None, loss_fn=None)


def _noisy_decay(steps=120, seed=0):
    rng = np.random.default_rng(seed)
    return 2.3 * np.exp(-np.arange(steps) / 25) + 0.1 + 0.05 * rng.random(steps)


def test_healthy_curve_has_no_dynamics_finding():
    ctx = _curve_ctx(_noisy_decay())
    for fn in (dynamics.diverging_loss, dynamics.plateau_loss, dynamics.oscillating_loss,
               dynamics.nonfinite_loss):
        assert fn(ctx) == []


def test_diverging_evidence_and_override():
    losses = np.concatenate([np.linspace(2.3, 1.0, 40), np.linspace(1.0, 6.0, 60)])
    [finding] = dynamics.diverging_loss(_curve_ctx(losses))
    width = 10
    means = np.convolve(losses, np.ones(width) / width, mode="valid")
    assert finding.evidence["peak"] == pytest.approx(means.max())
    assert finding.evidence["peak_over_start"] == pytest.approx(means.max() / means[0])
    assert dynamics.diverging_loss(_curve_ctx(losses, {"diverging_loss_factor": 10,
                                                       "diverging_rebound_fraction": 10})) == []


def test_plateau_needs_flat_and_far():
    flat = 2.3 - 0.001 * np.arange(120)
    [finding] = dynamics.plateau_loss(_curve_ctx(flat))
    assert finding.evidence["achievable"] is None   # no data: progress measured towards 0
    assert finding.evidence["progress_fraction"] == pytest.approx(
        (finding.evidence["start"] - finding.evidence["end"]) / finding.evidence["start"])
    assert dynamics.plateau_loss(_curve_ctx(flat, {"plateau_progress_fraction": 0.01})) == []


def test_oscillation_autocorrelation():
    steps = np.arange(120)
    bouncing = 1.0 + 0.3 * (-1.0) ** steps
    [finding] = dynamics.oscillating_loss(_curve_ctx(bouncing))
    assert finding.evidence["change_autocorrelation"] == pytest.approx(-1.0)
    assert finding.evidence["sign_flip_fraction"] == 1.0
    white = 1.0 + 0.3 * np.random.default_rng(0).random(120)   # batch noise: about -0.5
    assert dynamics.oscillating_loss(_curve_ctx(white)) == []
    assert dynamics.oscillating_loss(_curve_ctx(bouncing,
                                                {"oscillation_amplitude": 2.0})) == []


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # other checks want a full Monitor
def test_monitor_findings_read_the_logged_loss():
    losses = np.concatenate([np.linspace(2.3, 1.0, 40), np.linspace(1.0, 50.0, 40), [np.inf]])
    monitor = SimpleNamespace(scalar_names=["loss"], scalar=lambda name: losses,
                              n_steps=len(losses), model=None)
    codes = {f.code for f in monitor_findings(monitor)}
    assert {"loss.diverging", "loss.nonfinite"} <= codes
    sparse = np.full(100, np.nan)
    sparse[::10] = 1.0    # logged every 10th step: the NaNs in between are not a NaN loss
    monitor.scalar = lambda name: sparse
    assert "loss.nonfinite" not in {f.code for f in monitor_findings(monitor)}


# -- what-if fixes ----------------------------------------------------------------------------
def test_lr_fix_scales_every_param_group():
    manual_seed(7)
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    opt = optim.SGD([{"params": model[0].parameters(), "lr": 0.5},
                     {"params": model[2].parameters(), "lr": 2.0}])
    setup = Setup(model, F.mse_loss, opt, (np.zeros((4, 2)), np.zeros((4, 1))))
    repaired = dynamics.scaled_learning_rate(setup, 0.1)
    assert [g["lr"] for g in repaired.optimizer.param_groups] == pytest.approx([0.05, 0.2])
    assert [g["lr"] for g in opt.param_groups] == [0.5, 2.0]
    assert repaired.model is not model


def test_remove_softmax_fix_trains_on_logits():
    broken = scenarios.get("double_softmax").broken()
    repaired = loss_checks.remove_final_softmax(broken, None)
    assert not isinstance(repaired.model[len(repaired.model) - 1], nn.Softmax)
    assert isinstance(broken.model[len(broken.model) - 1], nn.Softmax)
    assert len(list(repaired.optimizer.param_groups[0]["params"])) == 4


def test_healthy_digits_mlp_has_no_loss_errors():
    from minnet.data import Standardizer, load_digits
    manual_seed(0)
    X, y = load_digits(return_X_y=True)
    X = Standardizer().fit_transform(X[:500]).astype(np.float32)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    setup = Setup(model, F.cross_entropy, optim.Adam(model.parameters(), lr=1e-3), (X, y[:500]),
                  steps=120)
    report = diagnose_setup(setup, phases=("preflight", "run"))
    assert not [f for f in report.findings if f.code in MY_CODES]
    assert math.isclose(report.predictions["loss"]["expected"], math.log(10), rel_tol=0.02)


# -- regressions from the independent review (/tmp/review_findings.md items 1, 8, 9, 11) ---------
def _review_digits_mlp(lr, seed):
    """The reviewer's digits setup: pixels / 16, 64-64-10 ReLU MLP, SGD momentum 0.9."""
    from minnet.data import load_digits
    manual_seed(seed)
    X, y = load_digits(return_X_y=True)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    return Setup(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=lr, momentum=0.9),
                 ((X / 16).astype(np.float32), y.astype(np.int64)), steps=100)


def test_review_f07_blow_up_inside_the_first_window_is_diverging():
    """lr=5: 2.29, 3.75, ..., 50.5 at step 6, ends ~3.0. The first window holds the blow-up,
    so growth is measured from the initial loss (it used to be missed)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = diagnose_setup(_review_digits_mlp(5.0, seed=7))
    [finding] = report.get("loss.diverging")
    ev = finding.evidence
    assert ev["first_window"] > 3 * ev["initial"]        # the old reference was the blown-up one
    assert ev["start"] == pytest.approx(ev["initial"])
    assert ev["peak_over_start"] > 1.5


def test_diverging_measures_from_the_initial_loss_and_spikes():
    # the review's F07 curve, shape only: rises at once, one huge step, settles above the start
    losses = np.array([2.29, 3.75, 4.48, 4.64, 5.41, 7.54, 50.55, 5.73, 5.67, 6.30]
                      + [3.0] * 90)
    [finding] = dynamics.diverging_loss(_curve_ctx(losses))
    assert finding.evidence["start"] == 2.29 and finding.evidence["reason"] == "above_start"
    # a lone spike far above the untrained loss, on an otherwise falling curve
    spiky = _noisy_decay()
    spiky[60] = 4 * 2.3
    [finding] = dynamics.diverging_loss(_curve_ctx(spiky))
    assert finding.evidence["reason"] == "spike"
    assert finding.evidence["max_over_initial"] == pytest.approx(spiky[60] / spiky[0])
    assert dynamics.diverging_loss(_curve_ctx(spiky, {"diverging_spike_factor": 5})) == []
    # back near the untrained value after a fast fall is not a spike
    recovered = _noisy_decay()
    recovered[60] = recovered[0]
    assert dynamics.diverging_loss(_curve_ctx(recovered)) == []


def test_plateau_message_says_no_progress_instead_of_negative_percent():
    rising = 1.10 + 0.0001 * np.arange(120)
    [finding] = dynamics.plateau_loss(_curve_ctx(rising))
    assert finding.evidence["progress_fraction"] < 0
    assert "-0%" not in finding.message and "%" in finding.message
    assert "no progress" in finding.message


class _RatioMonitor:
    """Just what update.ratio reads: one weight with a chosen update ratio per step."""

    def __init__(self, ratio, steps=120):
        self.model = nn.Sequential(nn.Linear(2, 2))
        self.optimizer = None
        self.n_steps, self.steps = steps, np.arange(steps)
        self.param_names, self.layer_of_param, self.layers = ["0.weight"], {"0.weight": "0 (Linear)"}, []
        self.scalar_names = ["lr"]
        self._ratio = ratio

    def param(self, name, stat):
        return np.full(self.n_steps, self._ratio)

    def scalar(self, name):
        return np.full(self.n_steps, 0.1)


@pytest.mark.parametrize("ratio, says", [(0.5, "lower it"), (1e-6, "raise the learning rate"),
                                         (1e-3, "If the updates are tiny")])
def test_plateau_advice_follows_the_update_ratio_direction(ratio, says):
    ctx = _curve_ctx(2.3 - 0.001 * np.arange(120))
    ctx.monitor, ctx.optimizer = _RatioMonitor(ratio), None
    [finding] = dynamics.plateau_loss(ctx)
    assert says in finding.fix
    if ratio == 0.5:
        assert "raise the learning rate" not in finding.fix.lower().replace("do not raise", "")
        assert finding.evidence["update_ratio_direction"] == "too_high"


def test_review_f13_nonfinite_names_the_layer_like_the_monitor():
    """NaN inputs: the anomaly replay's "model.0 (Linear)" is reported as "0 (Linear)"."""
    from minnet.data import make_regression_1d
    manual_seed(13)
    X, y = make_regression_1d(200, seed=13)
    X = np.concatenate([X, np.random.default_rng(0).normal(size=X.shape)], 1).astype(np.float32)
    X[[3, 50, 77, 120, 199], 1] = np.nan
    model = nn.Sequential(nn.Linear(2, 32), nn.Tanh(), nn.Linear(32, 1))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = diagnose_setup(Setup(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=0.05),
                                      (X, y.astype(np.float32)), steps=100))
    [finding] = report.get("loss.nonfinite")
    assert finding.layer == "0 (Linear)"
    assert finding.evidence["anomaly_module"] == "model.0 (Linear)"


# -- regressions from the second review (/tmp/review2_findings.md: f06, f32, h2, f09) ----------
def _moons_binary(seed):
    from minnet.data import make_moons
    X, y = make_moons(n_samples=400, noise=0.15, seed=seed)
    X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
    return X, y.astype(np.float32).reshape(-1, 1)


def _binary_mlp(sizes, final=None):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    return nn.Sequential(*(layers + ([final] if final is not None else [])))


def test_review2_f06_sigmoid_then_bce_with_logits_is_wrong_input():
    """Sigmoid output into BCEWithLogitsLoss: the loss applies a second sigmoid. Was missed
    (only class-index targets were examined); the expected loss now reads as the binary entropy."""
    X, y = _moons_binary(6)
    manual_seed(6)
    model = _binary_mlp([2, 32, 32, 1], nn.Sigmoid())
    ctx = _ctx(model, nn.BCEWithLogitsLoss(), X, y)
    [finding] = loss_checks.loss_input(ctx)
    ev = finding.evidence
    assert finding.layer == "5 (Sigmoid)" and ev["mistake"] == "sigmoid_twice"
    assert 0 <= ev["output_min"] <= ev["output_max"] <= 1
    # perfect probabilities (outputs = targets) under a logits loss: y softplus(-1) + (1-y) ln 2
    floor = float((y * math.log1p(math.exp(-1)) + (1 - y) * math.log(2)).mean())
    assert ev["loss_at_targets"] == pytest.approx(floor, rel=1e-4)
    assert ev["ratio"] == pytest.approx(ev["loss_at_targets"] / ev["loss_at_target_logits"])
    assert ev["ratio"] > 100
    relaxed = _ctx(model, nn.BCEWithLogitsLoss(), X, y, thresholds={"logits_loss_ratio": 2 * ev["ratio"]})
    assert loss_checks.loss_input(relaxed) == []
    # the right pairings are clean: Sigmoid + BCELoss, logits + BCEWithLogitsLoss, Sigmoid + MSE
    assert loss_checks.loss_input(_ctx(model, nn.BCELoss(), X, y)) == []
    assert loss_checks.loss_input(_ctx(model, nn.MSELoss(), X, y)) == []
    logits = _binary_mlp([2, 32, 32, 1])
    assert loss_checks.loss_input(_ctx(logits, nn.BCEWithLogitsLoss(), X, y)) == []
    # the expected initial loss is explained as the binary entropy, not var(y)
    loss_checks.initial_loss(ctx)
    p = float(y.mean())
    assert ctx.predictions["loss"]["expected"] == pytest.approx(
        -(p * math.log(p) + (1 - p) * math.log(1 - p)), rel=1e-4)
    assert ctx.predictions["loss"]["why"].startswith("H(p) = -p ln p - (1-p) ln(1-p)")
    # the what-if fix drops the Sigmoid
    repaired = loss_checks.repair_loss_input(ctx.setup, finding)
    assert not isinstance(repaired.model[len(repaired.model) - 1], nn.Sigmoid)


def test_regression_prediction_explains_the_variance():
    X, y = _moons_binary(1)
    target = (3 * y + X[:, :1]).astype(np.float32)     # not in [0, 1]
    ctx = _ctx(nn.Sequential(nn.Linear(2, 1)), F.mse_loss, X, target, task="regression")
    loss_checks.initial_loss(ctx)
    assert ctx.predictions["loss"]["why"].startswith("var(y)")
    assert ctx.predictions["loss"]["expected"] == pytest.approx(target.var(), rel=1e-4)


def test_review2_f32_logits_into_bce_loss_is_wrong_input():
    """Raw scores into BCELoss: the run raised at step 0 and the report said "No findings"."""
    X, y = _moons_binary(32)
    manual_seed(32)
    model = _binary_mlp([2, 32, 1])
    setup = Setup(model, nn.BCELoss(), optim.Adam(model.parameters(), lr=3e-3), (X, y))
    ctx = build_context(setup)
    [finding] = loss_checks.loss_input(ctx)
    ev = finding.evidence
    assert ev["mistake"] == "sigmoid_missing" and finding.severity == "error"
    assert ev["loss"] is None and "probabilities" in ev["loss_error"]
    X_s, y_s, output = loss_checks.initial_sample(ctx)   # the sample the check probed
    assert ev["output_min"] == pytest.approx(float(output.min()))
    assert ev["output_max"] == pytest.approx(float(output.max()))
    assert ev["output_min"] < 0 or ev["output_max"] > 1   # not probabilities
    probabilities = 1 / (1 + np.exp(-output.astype(np.float64)))
    bce = -(y_s * np.log(probabilities) + (1 - y_s) * np.log(1 - probabilities)).mean()
    assert ev["loss_after_sigmoid"] == pytest.approx(bce, rel=1e-4)
    assert loss_checks.term_balance(ctx) == []    # a loss that raises is not a check failure
    # the diagnosis reports it (before the crash of the run); the fix appends a Sigmoid
    report = diagnose_setup(setup, phases=("preflight",))
    assert "loss.wrong_input" in [f.code for f in report.findings]
    repaired = loss_checks.repair_loss_input(setup, finding)
    out = ctx.forward(repaired.model, X[:20])
    assert out.min() >= 0 and out.max() <= 1
    # logits into BCEWithLogitsLoss are fine
    assert loss_checks.loss_input(_ctx(model, nn.BCEWithLogitsLoss(), X, y)) == []


def test_review2_h2_noisy_slow_descent_is_no_plateau():
    """The review's h2 (3-output regression, RMSprop 1e-3): 0.55 -> 0.34 in 150 steps with a
    noisy tail measured as "changed -1.4%" by half-means: a false loss.plateau warning."""
    rng = np.random.default_rng(102)
    n, d, k = 600, 8, 3
    X = rng.normal(size=(n, d))
    W = rng.normal(size=(d, k)) / np.sqrt(d)
    Y = np.tanh(X @ W) + 0.3 * (X[:, :k] ** 2 - 1) + 0.05 * rng.normal(size=(n, k))
    Y = (Y - Y.mean(0)) / Y.std(0)
    manual_seed(102)
    model = nn.Sequential(nn.Linear(8, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(),
                          nn.Linear(64, 3))
    setup = Setup(model, nn.MSELoss(), optim.RMSprop(model.parameters(), lr=1e-3), (X[:480], Y[:480]),
                  steps=150)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        report = diagnose_setup(setup, phases=("run",))
    assert "loss.plateau" not in [f.code for f in report.findings]
    trend = dynamics.tail_trend(np.asarray(report.run["losses"], dtype=float))
    # the fitted tail is too noisy to call flat: the descent could well be above 3%
    assert trend["last_third_change"] + trend["last_third_change_se"] > 0.03


def test_plateau_is_noise_aware():
    rng = np.random.default_rng(0)
    steps = np.arange(150)
    slow = 0.55 * np.exp(-steps / 300) + 0.08 * rng.standard_normal(150)   # falls 14%/third
    assert dynamics.plateau_loss(_curve_ctx(slow)) == []
    flat_noisy = 2.3 + 0.01 * rng.standard_normal(150)                     # truly flat
    [finding] = dynamics.plateau_loss(_curve_ctx(flat_noisy))
    ev = finding.evidence
    third = flat_noisy[-50:]
    slope = np.polyfit(np.arange(50), third, 1)[0]
    assert ev["last_third_change"] == pytest.approx(-slope * 50 / third.mean(), rel=1e-6)
    assert ev["last_third_change_bound"] == pytest.approx(
        ev["last_third_change"] + ev["last_third_change_se"])
    assert finding.severity == "warning"
    # a margin of many standard errors: the same tail can no longer be called flat, which
    # clears a run that made progress (ends below its start) ...
    wide = ev["last_third_change_se"] and (0.03 - ev["last_third_change"]) / ev["last_third_change_se"]
    wide_margin = {"plateau_noise_margin": wide + 1}
    falling_a_little = flat_noisy - 0.001 * np.arange(150) / 150
    assert dynamics.plateau_loss(_curve_ctx(falling_a_little, wide_margin)) == []
    # ... but not one that ends where it started (2.2965 -> 2.2974): it learnt nothing
    [finding] = dynamics.plateau_loss(_curve_ctx(flat_noisy, wide_margin))
    assert finding.evidence["tail_flat"] is False and "learnt nothing" in finding.message


def test_plateau_does_not_follow_the_sign_of_the_tail_noise():
    """A run that learns nothing and wanders (saturated tanh on unscaled digits: up 20%, back
    down, ending above its start) was a plateau or not by its last third's noise: nothing when
    the tail rose 3% (rising: not flat) or fell 12% (still falling), a warning when it fell 2.6%."""
    rng = np.random.default_rng(5)
    steps = np.arange(150)
    noise = 0.1 * rng.standard_normal(150)
    for tail in (-0.15, -0.05, 0.0, 0.05, 0.15):   # a last third falling 15% .. rising 15%
        curve = 2.2 + 0.5 * np.minimum(steps, 100) / 100 + noise
        curve[100:] -= tail * 2.7 * (steps[100:] - 100) / 50
        assert curve[-15:].mean() >= curve[:15].mean()
        [finding] = dynamics.plateau_loss(_curve_ctx(curve))
        assert finding.evidence["progress_fraction"] <= 0


def test_plateau_after_a_large_fall_is_info():
    # fell 40% (from 2.3 to ~1.38) and stays flat there, far above zero
    curve = np.concatenate([np.linspace(2.3, 1.38, 60), np.full(90, 1.38)])
    [finding] = dynamics.plateau_loss(_curve_ctx(curve))
    assert finding.severity == "info"
    assert finding.evidence["dropped_fraction"] == pytest.approx(
        (finding.evidence["start"] - finding.evidence["end"]) / finding.evidence["start"])
    [finding] = dynamics.plateau_loss(_curve_ctx(curve, {"plateau_dropped_fraction": 0.45}))
    assert finding.severity == "warning"


def test_review2_f09_term_on_parameters_outside_the_model():
    """CE + 1000 * L2 as a closure over the ORIGINAL model: on the diagnosed copy the L2 term
    gives no gradient; the finding said "training follows 'l2'" with evidence l2 grad = 0."""
    manual_seed(9)
    X, y = _classification_data(n=120, classes=3)
    model = nn.Sequential(nn.Linear(5, 16), nn.ReLU(), nn.Linear(16, 3))

    def loss_fn(out, target):
        l2 = sum((p * p).sum() for p in model.parameters())
        return {"ce": F.cross_entropy(out, target), "l2": 1000.0 * l2}

    ctx = _ctx(model, loss_fn, X, y, batch_size=32)
    [finding] = loss_checks.term_balance(ctx)
    ev = finding.evidence
    assert ev["terms_outside_model"] == ["l2"] and ev["outside_tensors"] == {"l2": 4}
    assert ev["term_grad_norms_on_model"]["l2"] == 0
    # its pull is measured on the parameters it does reach: 2000 * ||w|| over the model
    norm = math.sqrt(sum(float((p.numpy().astype(np.float64) ** 2).sum()) for p in model.parameters()))
    assert ev["term_grad_norms"]["l2"] == pytest.approx(2000 * norm, rel=1e-4)
    assert "outside the model" in finding.message and "closure" in finding.message
    assert all(p.grad is None for p in model.parameters())    # the caller's grads untouched
    # a penalty computed from the model being trained is a normal, reachable term
    inside = lambda out, target: {"ce": F.cross_entropy(out, target),  # noqa: E731
                                  "act": (out * out).mean()}
    assert loss_checks.term_balance(_ctx(model, inside, X, y)) == []
