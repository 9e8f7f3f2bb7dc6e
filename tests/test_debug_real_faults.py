"""Regression tests for debugger fixes found on real practitioner faults.

Each test rebuilds, in a few lines, the fault of one case of
benchmarks/real_faults/cases.py that the debugger got wrong, and checks the corrected
verdict; each is small enough to run in well under a second.
"""
import functools
import warnings

import numpy as np
import pytest

import minnet
from minnet import nn, optim
from minnet.debug import diagnose


def _blobs(n=200, classes=3, features=6, seed=0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 2.0, size=(classes, features))
    y = rng.integers(0, classes, n)
    return (centres[y] + rng.normal(size=(n, features))).astype(np.float32), y.astype(np.int64)


class _TwoLayers(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(6, 16)
        self.head = nn.Linear(16, 3)

    def forward(self, x):
        return self.head(nn.functional.relu(self.body(x)))


def _quiet(**kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return diagnose(**kwargs)


# -- optimizer_built_before_layer_replaced (nni issue 4521) ------------------------------------
def test_layer_replaced_after_the_optimizer_is_named_not_raised():
    """The optimizer still holds the old head: diagnose used to raise ValueError; now the
    new head is reported as never updated, with the replaced layer as the cause."""
    minnet.manual_seed(0)
    X, y = _blobs()
    model = _TwoLayers()
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    model.head = nn.Linear(16, 3)
    report = _quiet(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X, y),
                    optimizer=optimizer, steps=10, phases=("run",))
    finding = report.get("grad.missing")[0]
    assert finding.evidence["parameters_not_in_optimizer"] == ["head.weight", "head.bias"]
    assert finding.evidence["optimizer_tensors_not_in_model"] == 2
    assert finding.evidence["shapes_match_missing"] is True
    assert "replaced" in finding.message and "after the model is complete" in finding.fix
    # the caller's optimizer and its stale tensors are untouched
    assert len(optimizer.param_groups[0]["params"]) == 4


def test_optimizer_with_extra_tensors_of_other_shapes_is_not_called_a_replaced_layer():
    minnet.manual_seed(1)
    X, y = _blobs()
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 3))
    extra = nn.Parameter(minnet.Tensor(np.ones(5, dtype=np.float32)))
    optimizer = optim.Adam([{"params": list(model[0].parameters()) + [extra]}], lr=1e-2)
    report = _quiet(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X, y),
                    optimizer=optimizer, steps=10, phases=("run",))
    finding = report.get("grad.missing")[0]
    assert finding.evidence["shapes_match_missing"] is False
    assert "built from part of the model" in finding.message


def test_optimizer_holding_none_of_the_model_raises_a_clear_error():
    X, y = _blobs()
    model = nn.Linear(6, 3)
    other = nn.Linear(6, 3)
    with pytest.raises(ValueError, match="holds none of the model's parameters"):
        diagnose(model, nn.CrossEntropyLoss(), (X, y), optim.SGD(other.parameters(), lr=0.1),
                 steps=2)


# -- validation_split_of_unshuffled_data (Keras validation_split on sorted data) ---------------
def _split_ctx(y_train, y_val):
    from types import SimpleNamespace
    from minnet.debug.context import CLASSIFICATION
    from minnet.debug.thresholds import Thresholds
    return SimpleNamespace(y_train=y_train, y_val=y_val, task=CLASSIFICATION,
                           loss_fn=nn.CrossEntropyLoss(), thresholds=Thresholds())


def test_validation_cut_from_sorted_data_is_an_error_even_when_training_works():
    """The last 10% of class-sorted arrays hold one class: data.not_shuffled, an error that
    the policy keeps although the training loss falls (the validation score is meaningless)."""
    minnet.manual_seed(2)
    X, y = _blobs(300, 2, 6, seed=2)
    order = np.argsort(-y, kind="stable")
    X, y = X[order], y[order]
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, 2))
    report = _quiet(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X[:270], y[:270]),
                    val_data=(X[270:], y[270:]), optimizer=optim.Adam(model.parameters(), lr=1e-2),
                    steps=30, phases=("data", "run"))
    finding = report.get("data.not_shuffled")[0]
    assert finding.severity == "error"
    assert finding.evidence["classes_absent_from_val"] == [1]
    assert finding.evidence["val_single_class"] is True
    assert "train_test_split" in finding.fix


def test_random_splits_are_not_called_unshuffled():
    """Random splits of many class mixes (2-10 classes, imbalanced, 5-30% validation) never
    trip the split check; splits of sorted labels mostly do."""
    from minnet.debug.checks.data import split_not_shuffled
    rng = np.random.default_rng(0)
    for _ in range(300):
        classes, n = rng.integers(2, 11), rng.integers(60, 1500)
        y = rng.choice(classes, size=n, p=rng.dirichlet(np.ones(classes) * rng.uniform(0.3, 5)))
        perm, cut = rng.permutation(n), int(n * (1 - rng.uniform(0.05, 0.3)))
        assert split_not_shuffled(_split_ctx(y[perm[:cut]], y[perm[cut:]])) == []
    sorted_hits = 0
    for _ in range(50):
        y = np.sort(rng.integers(0, rng.integers(2, 11), rng.integers(100, 1500)))
        cut = int(len(y) * 0.8)
        sorted_hits += bool(split_not_shuffled(_split_ctx(y[:cut], y[cut:])))
    assert sorted_hits >= 45


# -- steplr_stepped_every_batch (a per-epoch scheduler stepped per batch) ----------------------
def _scheduled(kind, steps=100):
    """A 4-class blob problem trained with SGD under a scheduler stepped as ``kind`` says."""
    rng = np.random.default_rng(0)
    centres = rng.normal(0, 2, (4, 12))
    y = rng.integers(0, 4, 640)
    X = (centres[y] + 3 * rng.normal(size=(640, 12))).astype(np.float32)
    minnet.manual_seed(0)
    model = nn.Sequential(nn.Linear(12, 64), nn.ReLU(), nn.Linear(64, 4))
    schedulers = {}

    def step(model, loss_fn, optimizer, Xb, yb):
        state = schedulers.setdefault(id(optimizer), {"batch": 0})
        if "scheduler" not in state:
            state["scheduler"] = (optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
                                  if kind == "cosine_over_run"
                                  else optim.lr_scheduler.StepLR(optimizer, 10, gamma=0.5))
        optimizer.zero_grad()
        loss = loss_fn(model(Xb), yb)
        loss.backward()
        optimizer.step()
        state["batch"] += 1
        if kind != "steplr_per_epoch" or state["batch"] % 20 == 0:
            state["scheduler"].step()
        return loss

    return _quiet(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X, y),
                  optimizer=optim.SGD(model.parameters(), lr=0.02, momentum=0.9),
                  train_step=step, steps=steps, phases=("run",))


def _schedule_findings(report):
    return [f for f in report.get("update.ratio") if f.evidence.get("cause") == "lr_schedule"]


def test_per_epoch_scheduler_stepped_every_batch_is_named():
    findings = _schedule_findings(_scheduled("steplr_per_batch"))
    assert len(findings) == 1
    evidence = findings[0].evidence
    assert evidence["lr_decay"] >= 10 and evidence["median_update_ratio_last_third"] < 1e-4
    assert evidence["median_update_ratio_first_third"] >= 1e-4
    assert "once per epoch" in findings[0].fix


@pytest.mark.parametrize("kind", ["steplr_per_epoch", "cosine_over_run"])
def test_schedules_used_as_meant_are_not_called_decayed(kind):
    assert _schedule_findings(_scheduled(kind)) == []


# -- dropout_keeps_too_little, fixed and trained: the loss.diverging false alarm ----------------
@functools.lru_cache(maxsize=1)
def _trained_dropout_mlp():
    """Trained once for both tests (600 steps); diagnose works on copies, so sharing is safe."""
    from minnet.debug.context import run_training
    rng = np.random.default_rng(38)
    X = rng.normal(size=(500, 6)).astype(np.float32)
    y = ((X[:, 0] * X[:, 1] > 0) ^ (X[:, 2] > 0.5)).astype(np.int64)
    minnet.manual_seed(38)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.1),
                          nn.Linear(16, 16), nn.ReLU(), nn.Dropout(0.1), nn.Linear(16, 2))
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    run_training(model, nn.CrossEntropyLoss(), optimizer, X, y, steps=600, batch_size=32,
                 shuffle=True, seed=1)
    return model, optimizer, X, y


def test_trained_dropout_model_is_not_called_diverging():
    """A trained dropout MLP's batch losses (training mode, ~0.25) sit above its evaluation
    loss (~0.14): measured against the evaluation value the run 'grew' 1.8x (a loss.diverging
    error on a correctly set up program). The yardstick is now the training-mode loss."""
    from minnet.debug.checks import dynamics
    model, optimizer, X, y = _trained_dropout_mlp()
    report = _quiet(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X, y),
                    optimizer=optimizer, steps=100, phases=("run",))
    assert not report.has("loss.diverging"), report.codes
    assert not report.errors


def test_training_mode_initial_loss_is_above_the_evaluation_loss_with_dropout():
    from minnet.debug.checks.dynamics import initial_loss_value, initial_training_loss
    from minnet.debug.diagnosis import diagnose_setup  # noqa: F401 (builds contexts)
    from minnet.debug.diagnosis import build_context
    from minnet.debug.setup import Setup
    model, optimizer, X, y = _trained_dropout_mlp()
    ctx = build_context(Setup(model=model, loss_fn=nn.CrossEntropyLoss(), optimizer=optimizer,
                              train_data=(X, y)), 10, None, (None, None))
    state = minnet.random._default.bit_generator.state
    assert initial_training_loss(ctx) > 1.3 * initial_loss_value(ctx)
    assert minnet.random._default.bit_generator.state == state   # the stream is untouched


# -- dropout_keeps_too_little (keep_prob 0.2 in a small network) -------------------------------
def _xorish_with_dropout(p):
    rng = np.random.default_rng(38)
    X = rng.normal(size=(500, 6)).astype(np.float32)
    y = ((X[:, 0] * X[:, 1] > 0) ^ (X[:, 2] > 0.5)).astype(np.int64)
    minnet.manual_seed(38)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(p),
                          nn.Linear(16, 16), nn.ReLU(), nn.Dropout(p), nn.Linear(16, 2))
    return _quiet(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X, y),
                  optimizer=optim.Adam(model.parameters(), lr=1e-2), steps=100, phases=("run",))


def test_dropout_that_stops_learning_is_too_strong_regularisation():
    """With dropout 0.8 the loss stays at chance (0.69) while the same net without dropout
    reaches 0.44: a loss ratio of 1.6, under regularised_loss_ratio (2), so it was missed;
    the progress from the loss of guessing (~0% of the unregularised net's) names it."""
    finding = _xorish_with_dropout(0.8).get("reg.too_strong")[0]
    assert finding.evidence["loss_ratio"] < 2
    assert finding.evidence["progress_fraction"] < 0.05
    assert finding.severity == "error"


def test_dropout_that_slows_but_does_not_stop_learning_is_no_error():
    """Dropout 0.3 in the same net covers 23-36% of the way (seeds 0-2): not an error."""
    report = _xorish_with_dropout(0.3)
    assert all(f.severity != "error" for f in report.get("reg.too_strong"))


# -- majority_class_always_predicted, fixed with class weights ---------------------------------
def _imbalanced(weighted):
    rng = np.random.default_rng(32)
    y = np.where(rng.random(800) < 0.03, 1, 0).astype(np.int64)
    X = rng.normal(size=(800, 8)).astype(np.float32)
    X[y == 1, :2] += 1.0
    minnet.manual_seed(32)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))
    counts = np.bincount(y, minlength=2).astype(np.float32)
    loss_fn = (nn.CrossEntropyLoss(weight=minnet.Tensor(counts.sum() / (2 * counts)))
               if weighted else nn.CrossEntropyLoss())
    return _quiet(model=model, loss_fn=loss_fn, train_data=(X, y),
                  optimizer=optim.Adam(model.parameters(), lr=1e-2), steps=20,
                  phases=("data", "preflight"))


def test_class_weights_that_balance_the_loss_are_acknowledged():
    """The source's fix (inverse-frequency class weights) used to get the same warning and the
    advice to add the weights it has, plus init.output_bias asking for the raw log
    frequencies, which a weighted loss does not want (its best constant guess is uniform)."""
    plain, weighted = _imbalanced(False), _imbalanced(True)
    assert plain.get("data.class_imbalance")[0].severity == "warning"
    assert plain.has("init.output_bias")
    finding = weighted.get("data.class_imbalance")[0]
    assert finding.severity == "info" and finding.evidence["weighted_ratio"] < 1.01
    assert "Keep the class weights" in finding.fix
    assert not weighted.has("init.output_bias")


# -- one_sigmoid_unit_for_ten_digits (DS.SE 38604) ---------------------------------------------
def test_ten_class_labels_under_a_binary_loss_get_a_ten_output_fix_and_no_bias_advice():
    """Labels 0..9 into BCELoss: the fix used to say 'map the labels to {0, 1}', and
    init.output_bias computed 'class frequencies [-3.49, 4.49]' and a bias of nan."""
    rng = np.random.default_rng(30)
    X = rng.normal(size=(300, 8)).astype(np.float32)
    y = rng.integers(0, 10, 300).astype(np.float32).reshape(-1, 1)
    minnet.manual_seed(30)
    model = nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 1), nn.Sigmoid())
    report = _quiet(model=model, loss_fn=nn.BCELoss(), train_data=(X, y),
                    optimizer=optim.Adam(model.parameters(), lr=1e-3), steps=10,
                    phases=("data", "preflight"))
    finding = report.get("data.labels_invalid")[0]
    assert finding.evidence["distinct_values"] == 10
    assert "10 outputs" in finding.fix and "CrossEntropyLoss" in finding.fix
    assert not report.has("init.output_bias")


def test_binary_labels_out_of_range_keep_the_binary_fix():
    X = np.random.default_rng(1).normal(size=(100, 4)).astype(np.float32)
    y = np.where(X[:, :1] > 0, 1.0, -1.0).astype(np.float32)      # -1/+1 coding
    model = nn.Sequential(nn.Linear(4, 1), nn.Sigmoid())
    report = _quiet(model=model, loss_fn=nn.BCELoss(), train_data=(X, y), steps=5,
                    phases=("data",))
    assert "map the labels to {0, 1}" in report.get("data.labels_invalid")[0].fix


# -- house_prices_targets_in_thousands: the loss.nonfinite fix text ----------------------------
def test_nonfinite_fix_gives_stable_forms_only_for_ops_that_need_them():
    from minnet.debug.checks.dynamics import _nonfinite_fix
    overflow = _nonfinite_fix({"op": "mse_loss", "hint": "values this large usually mean "
                               "exploding activations or a too high learning rate"})
    assert overflow.startswith("Values this large") and "logits" not in overflow
    log_zero = _nonfinite_fix({"op": "log", "hint": "Keep the argument positive: clamp(p, "
                               "min=1e-8); for probabilities, work with logits"})
    assert log_zero.count("logits") == 1      # the hint's, not repeated
    assert "stable forms" in _nonfinite_fix({"op": "div", "hint": ""})


# -- raw_inputs_to_a_model_trained_on_normalised_ones (SO 20570029) ----------------------------
def _split_ctx_inputs(X_train, X_val):
    from types import SimpleNamespace
    from minnet.debug.thresholds import Thresholds
    return SimpleNamespace(X_train=X_train, X_val=X_val, thresholds=Thresholds(), cache={})


def test_raw_validation_inputs_after_standardised_training_are_named_not_input_independence():
    """Training on standardised features and validating on raw ones (mean 50): reported as
    data.input_independent (the zero-input baseline was scored on the mis-scaled validation
    set); now data.not_normalized on the validation inputs, an error the policy keeps."""
    from minnet.data import Standardizer
    rng = np.random.default_rng(39)
    X = rng.normal(50, 5, size=(400, 12)).astype(np.float32)
    y = (X[:, 0] + 0.5 * X[:, 1] - X[:, 2] > 25).astype(np.int64)
    scaler = Standardizer().fit(X[:300])
    minnet.manual_seed(39)
    model = nn.Sequential(nn.Linear(12, 32), nn.ReLU(), nn.Linear(32, 2))
    report = _quiet(model=model, loss_fn=nn.CrossEntropyLoss(),
                    train_data=(scaler.transform(X[:300]), y[:300]), val_data=(X[300:], y[300:]),
                    optimizer=optim.Adam(model.parameters(), lr=1e-2), steps=40)
    finding = report.get("data.not_normalized")[0]
    assert finding.evidence["applies_to"] == "validation inputs"
    assert finding.evidence["train_inputs_normalised"] is True
    assert finding.severity == "error"
    assert not report.has("data.input_independent")


def test_correct_splits_and_a_few_shifted_features_are_not_called_mis_scaled():
    from minnet.data import Standardizer
    from minnet.debug.checks.data import val_inputs_unlike_train, val_standardised_on_its_own
    rng = np.random.default_rng(0)
    for _ in range(200):
        n, f = rng.integers(40, 800), rng.integers(1, 20)
        X = rng.normal(rng.normal(0, 50, f), rng.uniform(0.01, 100, f), size=(n, f))
        cut = int(n * 0.8)
        scaler = Standardizer().fit(X[:cut])
        ctx = _split_ctx_inputs(scaler.transform(X[:cut]), scaler.transform(X[cut:]))
        assert val_inputs_unlike_train(ctx) == [] and val_standardised_on_its_own(ctx) == []
    X = rng.normal(size=(500, 12))
    X_val = X[400:].copy()
    X_val[:, :2] += 5                      # a genuine shift in 2 of 12 features
    assert val_inputs_unlike_train(_split_ctx_inputs(X[:400], X_val)) == []


# -- validation_standardised_with_its_own_statistics (deeplearning.ai forum 161389) ------------
def test_each_split_standardised_on_itself_is_leakage_of_the_wrong_statistics():
    from minnet.data import Standardizer
    from minnet.debug.checks.data import val_standardised_on_its_own
    rng = np.random.default_rng(40)
    X = rng.normal(5, 3, size=(300, 4))
    X_train = Standardizer().fit(X[:250]).transform(X[:250])
    own = Standardizer().fit(X[250:]).transform(X[250:])
    finding = val_standardised_on_its_own(_split_ctx_inputs(X_train, own))[0]
    assert finding.code == "data.leakage" and finding.evidence["fitted_on"] == "each split on itself"
    assert val_standardised_on_its_own(_split_ctx_inputs(X_train, X_train)) == []


# -- data.input_independent against the noise of the held-out sample --------------------------
def _baseline_ctx(baseline, outputs=None):
    from types import SimpleNamespace
    from minnet.debug.context import CLASSIFICATION
    from minnet.debug.thresholds import Thresholds
    cache = {"zero_input_baseline": baseline}
    if outputs is not None:
        cache["zero_input_baseline.real_output"], cache["zero_input_baseline.zero_output"] = outputs
    loss = nn.CrossEntropyLoss()

    def loss_value(output, y):
        return float(loss(minnet.Tensor(output), minnet.Tensor(y)).item())
    return SimpleNamespace(cache=cache, X_train=np.zeros((500, 3)), task=CLASSIFICATION,
                           thresholds=Thresholds(), loss_value=loss_value)


def test_input_independence_is_judged_against_the_held_out_noise(monkeypatch):
    """rnn_without_gradient_clipping, fixed, seed 1: a model that gained 7% on its training
    data scored 5% worse than the zero-input model on 64 held-out samples and was called
    input-independent (an error on a correct program). features_and_labels_shuffled_apart,
    seed 2: a held-out accuracy 0.04 above the zero-input model's on 125 samples (one
    standard error) counted as 'the inputs help'. Both are now weighed against the paired
    standard errors."""
    from minnet.debug.checks import data
    weak = {"steps": 100, "held_out": "25% of train", "n_held_out": 64,
            "real_held_out_loss": 0.92, "zero_held_out_loss": 0.873,
            "real_train_loss": 0.974, "zero_train_loss": 1.045}
    monkeypatch.setattr(data, "_paired_standard_errors", lambda ctx, zero: (0.05, 0.0))
    assert data.input_independent(_baseline_ctx(weak)) == []
    memorised = {"steps": 100, "held_out": "25% of train", "n_held_out": 125,
                 "real_held_out_loss": 1.15, "zero_held_out_loss": 1.10,
                 "real_train_loss": 0.70, "zero_train_loss": 1.10,
                 "real_held_out_accuracy": 0.36, "zero_held_out_accuracy": 0.32}
    monkeypatch.setattr(data, "_paired_standard_errors", lambda ctx, zero: (0.02, 0.045))
    finding = data.input_independent(_baseline_ctx(memorised))[0]
    assert finding.evidence["held_out_accuracy_standard_error"] == 0.045


def test_paired_standard_errors_are_those_of_the_per_sample_differences():
    from minnet.debug.checks.data import _paired_standard_errors
    y = np.array([0, 1, 0, 1, 1, 0, 1, 0], dtype=np.int64)
    real = np.zeros((8, 2), dtype=np.float32)
    real[np.arange(8), y] = 2.0                      # confident and right
    zero = np.zeros((8, 2), dtype=np.float32)        # uniform: ln 2 per sample
    real[0] = [0.0, 2.0]                             # one confident mistake
    ctx = _baseline_ctx({}, outputs=((real, y), (zero, y)))
    gain_se, accuracy_se = _paired_standard_errors(ctx, zero_loss=float(np.log(2)))
    right, wrong = np.log(1 + np.exp(-2.0)), np.log(1 + np.exp(2.0))
    diffs = np.array([np.log(2) - wrong] + [np.log(2) - right] * 7)
    assert gain_se == pytest.approx(diffs.std(ddof=1) / np.sqrt(8) / np.log(2), rel=1e-4)
    correct = np.array([0] + [1] * 7, dtype=float)   # real right 7/8; zero (argmax 0) on y
    zero_correct = (y == 0).astype(float)
    assert accuracy_se == pytest.approx((correct - zero_correct).std(ddof=1) / np.sqrt(8))


def test_input_independence_with_a_nominal_accuracy_gain_is_a_warning(monkeypatch):
    """same_subjects_in_train_and_validation, fixed (split by subject): a model memorising
    96 subjects (train loss 0.03) scored 0.59 vs 0.50 held-out accuracy on 120 samples: a
    data.input_independent error on a correct program. Above the zero-input model but
    within the noise, the data cannot tell weak dependence from none: a warning."""
    from minnet.debug.checks import data
    memorised = {"steps": 100, "held_out": "validation set", "n_held_out": 120,
                 "real_held_out_loss": 0.842, "zero_held_out_loss": 0.694,
                 "real_train_loss": 0.034, "zero_train_loss": 0.692,
                 "real_held_out_accuracy": 0.592, "zero_held_out_accuracy": 0.5}
    monkeypatch.setattr(data, "_paired_standard_errors", lambda ctx, zero: (0.154, 0.061))
    finding = data.input_independent(_baseline_ctx(memorised))[0]
    assert finding.severity == "warning" and "overfits" in finding.message
    at_chance = dict(memorised, real_held_out_accuracy=0.5)
    assert data.input_independent(_baseline_ctx(at_chance))[0].severity == "error"
