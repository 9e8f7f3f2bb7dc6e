"""Graded tests of lab 03 (loss sanity): `pytest labs/03_loss`.

Part 1 (loss_sanity.py) checks each function against a value you can work out by
hand, and again on other seeded inputs against the reference solution (so a
pasted number scores nothing). Part 2 (loss_setups.py) grades the repaired
setups themselves: `diagnose` must report no error and not the lab's code, and
the trained model must reach the quality stated in the README -- on the lab's
data and on a second data set of other sizes.
"""
import math
import warnings

import numpy as np
import pytest

from minnet import Tensor, optim, tensor
from minnet.data import Standardizer, load_digits, make_blobs, make_regression_1d
from minnet.debug import Setup
from minnet.debug.context import train_setup
from minnet.debug.diagnosis import diagnose_setup
from minnet.grading import (expect, expect_at_least, expect_at_most, expect_close,
                            expect_no_errors, expect_no_finding, reference)
from minnet.grading.sandbox import sandboxed
from minnet.grading.untrained import optimizer_problem, parameters_problem
from minnet.nn import functional as F
from minnet.random import manual_seed

DIAGNOSE_STEPS = 60
# How far the reference solution must stay from each training-outcome threshold. Measured
# for the reference (the same to 4 digits with OpenBLAS's Haswell, SkylakeX and Sandybridge
# kernels, 1 thread and MINNET_NO_JIT; the range is over seeds 0-4; released files in
# brackets): classifier accuracy 0.907-0.937 (0.743), regression MSE 0.0019-0.0066 (0.45),
# SGD regression MSE 0.0084-0.0145 (inf), two-task MSE <= 0.0077 (0.070).
MARGIN_03_ACC = 0.05
MARGIN_03_REG = 0.02
MARGIN_03_SGD = 0.03
MARGIN_03_TWO = 0.02



# what the student's files may import (the README says so): NumPy, minnet and harmless
# standard modules; anything else is refused before the file runs
STUDENT_IMPORTS = ("numpy", "minnet", "math", "warnings", "copy", "collections")


def sanity():
    """The student's loss_sanity.py, run in the sandbox (called with data), and the reference."""
    return (sandboxed(__file__, "loss_sanity", allowed_imports=STUDENT_IMPORTS),
            reference(__file__, "loss_sanity"))


def setups():
    """The student's loss_setups.py in the sandbox: its Setups cross as data and are
    diagnosed and trained here, a loss function of the student's run over there."""
    return sandboxed(__file__, "loss_setups", allowed_imports=STUDENT_IMPORTS)


def lab_setup(made, what, X, y):
    """The Setup a student function returned, checked: minnet's own Setup (not a subclass
    whose diagnose or train says something else), the standard training step, and the
    data the test passed in (values unchanged, only the targets' shape may differ)."""
    expect(type(made) is Setup, f"{what} must return a minnet.debug.Setup, got "
                                f"{type(made).__name__}: the setup itself is graded.")
    expect(made.train_step is None and made.evaluate is None,
           f"{what}: keep the standard training step (train_step and evaluate are not part "
           "of this lab).")
    expect(isinstance(made.train_data, tuple) and len(made.train_data) == 2,
           f"{what}: train_data must stay the (X, y) pair it was given.")
    got_X, got_y = (np.asarray(part) for part in made.train_data)
    expect(got_X.shape == np.shape(X) and np.array_equal(got_X, X)
           and got_y.size == np.size(y) and np.array_equal(got_y.reshape(-1), np.ravel(y)),
           f"{what}: train_data is not the data the test passed in: repair the model or the "
           "loss, not the data.")
    return made


def diagnosed(made, what, X, y):
    """minnet's diagnosis of a checked setup (the library's function, not setup.diagnose)."""
    return diagnose_setup(lab_setup(made, what, X, y), steps=DIAGNOSE_STEPS)


def trained(made, what, X, y):
    """A checked setup trained in place by minnet's own training loop; returns the setup."""
    train_setup(lab_setup(made, what, X, y))
    return made


# ---------------------------------------------------------------------------
# data
# ---------------------------------------------------------------------------
def digits(n_train=600, n_test=300, seed=0):
    """Standardised 8x8 digits, split into two DISJOINT sets: (X, y) to train on (n_train)
    and (X_test, y_test) never trained on (n_test), both scaled with the training
    statistics. X float32 (n, 64), y int64 (n,)."""
    X, y = load_digits(return_X_y=True)
    rows = np.random.default_rng(seed).permutation(len(X))
    train, test = rows[:n_train], rows[n_train:n_train + n_test]
    with warnings.catch_warnings():     # border pixels are constant: centred, not scaled
        warnings.simplefilter("ignore", UserWarning)
        scaler = Standardizer().fit(X[train])
    X = scaler.transform(X).astype(np.float32)
    y = y.astype(np.int64)
    return X[train], y[train], X[test], y[test]


def blobs(n_samples=307, classes=4, features=5, seed=3):
    """A second classification data set: 4 Gaussian blobs in 5-D, standardised."""
    X, y = make_blobs(n_samples=n_samples, centers=classes, n_features=features,
                      cluster_std=2.0, seed=seed)
    X = (X - X.mean(axis=0)) / X.std(axis=0)
    return X.astype(np.float32), y.astype(np.int64)


def sine(n_samples=200, seed=0):
    """x (n, 1) in [-3, 3]; y = sin x + noise, FLAT (n,) as read from a CSV column; clean sin x."""
    x, y = make_regression_1d(n_samples, kind="sine", noise=0.1, seed=seed)
    return x, y.reshape(-1), np.sin(x).astype(np.float32)


def two_curves(n_samples=256, seed=0):
    """x (n, 1) in [-3, 3]; y (n, 2) = (sin x, cos x) + noise; the clean curves."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3.0, 3.0, size=(n_samples, 1)).astype(np.float32)
    clean = np.concatenate([np.sin(x), np.cos(x)], axis=1).astype(np.float32)
    return x, (clean + 0.05 * rng.standard_normal(clean.shape)).astype(np.float32), clean


def predict(model, X):
    model.eval()
    return model(tensor(X)).numpy()


# ---------------------------------------------------------------------------
# part 1: what the loss should be
# ---------------------------------------------------------------------------
@pytest.mark.points(3)
def test_expected_initial_cross_entropy(credit):
    mine, ref = sanity()
    rng = np.random.default_rng(301)
    with credit.part(1, "10 balanced classes: ln 10 = 2.3026"):
        labels = np.repeat(np.arange(10), 7)
        expect_close("expected_initial_cross_entropy(balanced, 10)",
                     mine.expected_initial_cross_entropy(labels, 10), math.log(10), rtol=1e-6)
    with credit.part(1, "imbalanced labels, C = 13: the entropy of the class frequencies"):
        p = rng.dirichlet(np.ones(13) * 0.5)
        labels = rng.choice(13, size=211, p=p)
        expect_close("expected_initial_cross_entropy(imbalanced, 13)",
                     mine.expected_initial_cross_entropy(labels, 13),
                     ref.expected_initial_cross_entropy(labels, 13), rtol=1e-6)
    with credit.part(1, "a class with no samples adds nothing (0 ln 0 = 0), C = 7"):
        rng = np.random.default_rng(3011)   # its own: the part above cannot change its data
        labels = rng.choice([0, 2, 3], size=97, p=[0.6, 0.3, 0.1])
        got = mine.expected_initial_cross_entropy(labels, 7)
        expect(np.isfinite(got), f"expected_initial_cross_entropy returned {got} for labels "
                                 "that never use classes 1, 4, 5 and 6: p ln p is 0 for p = 0, "
                                 "skip those classes instead of taking log(0).")
        expect_close("expected_initial_cross_entropy(missing classes, 7)", got,
                     ref.expected_initial_cross_entropy(labels, 7), rtol=1e-6)


@pytest.mark.points(2)
def test_expected_initial_mse(credit):
    mine, ref = sanity()
    rng = np.random.default_rng(302)
    with credit.part(1, "y = [1, 2, 3, 4]: var(y) = 1.25"):
        expect_close("expected_initial_mse([1, 2, 3, 4])",
                     mine.expected_initial_mse(np.array([1.0, 2.0, 3.0, 4.0])), 1.25)
    with credit.part(1, "other targets, (37,) and (29, 3), not centred"):
        for shape in ((37,), (29, 3)):
            y = (5.0 + 3.0 * rng.standard_normal(shape)) * rng.uniform(0.5, 2.0, shape[1:])
            expect_close(f"expected_initial_mse(y of shape {shape})",
                         mine.expected_initial_mse(y), ref.expected_initial_mse(y), rtol=1e-6)


@pytest.mark.points(3)
def test_mean_squared_error(credit):
    mine, _ = sanity()
    rng = np.random.default_rng(303)
    n = 23
    prediction_values = rng.standard_normal((n, 1)).astype(np.float32)
    target = rng.standard_normal(n).astype(np.float32)          # flat, as from a CSV
    independent = float(((prediction_values[:, 0] - target) ** 2).mean())
    with credit.part(1, "(N, 1) predictions against (N,) targets: the mean of N squares"):
        loss = mine.mean_squared_error(Tensor(prediction_values), target)
        got = float(np.asarray(loss.item() if hasattr(loss, "item") else loss))
        expect(abs(got - independent) <= 1e-5 * max(1.0, independent),
               f"mean_squared_error gave {got:.6g}, the mean of the N = {n} squared "
               f"differences is {independent:.6g}"
               + (". Your value matches the (N, N) broadcast: (N, 1) - (N,) compares every "
                  "prediction with every target." if abs(got - float(
                      ((prediction_values - target[None, :]) ** 2).mean())) < 1e-5 else "."))
    with credit.part(1, "its gradient is 2 (p - t) / N (through minnet autograd)"):
        prediction = Tensor(prediction_values, requires_grad=True)
        mine.mean_squared_error(prediction, target).backward()
        expect(prediction.grad is not None, "mean_squared_error: no gradient reached the "
                                            "prediction (use Tensor operations, not NumPy)")
        expect_close("d mean_squared_error / d prediction", prediction.grad.numpy(),
                     2 * (prediction_values - target[:, None]) / n, rtol=1e-5, atol=1e-7)
    with credit.part(1, "different numbers of entries raise ValueError"):
        try:
            mine.mean_squared_error(Tensor(prediction_values), target[:-2])
        except ValueError:
            pass
        else:
            expect(False, "mean_squared_error((23, 1) predictions, (21,) targets) returned "
                          "a value: it must raise ValueError naming both shapes.")


@pytest.mark.points(2)
def test_batch_repeat_ratio(credit):
    mine, ref = sanity()
    rng = np.random.default_rng(304)
    output = rng.standard_normal((11, 1)).astype(np.float32)
    target = rng.standard_normal((11, 1)).astype(np.float32)
    with credit.part(1, "mean MSE gives 1.0, summed MSE gives 2.0, a per-sample sum averaged "
                        "over the samples 1.0"):
        expect_close("batch_repeat_ratio(F.mse_loss)",
                     mine.batch_repeat_ratio(F.mse_loss, output, target), 1.0, rtol=1e-5)
        summed = lambda o, t: F.mse_loss(o, t, reduction="sum")  # noqa: E731
        expect_close("batch_repeat_ratio(mse summed)",
                     mine.batch_repeat_ratio(summed, output, target), 2.0, rtol=1e-5)
        # the batch is axis 0: repeating along another axis doubles this loss instead
        per_sample = lambda o, t: F.mse_loss(o, t, reduction="sum") / o.shape[0]  # noqa: E731
        expect_close("batch_repeat_ratio(squares summed per sample, averaged over the N "
                     "samples)", mine.batch_repeat_ratio(per_sample, output, target), 1.0,
                     rtol=1e-5, hint="repeat the batch along axis 0 (the samples): "
                                     "np.concatenate([x, x]) or axis=0; another axis makes "
                                     "each sample longer instead of the batch larger")
    with credit.part(1, "other losses: cross_entropy, and a sum divided by sqrt(N)"):
        logits = rng.standard_normal((13, 5)).astype(np.float32)
        labels = rng.integers(0, 5, 13)
        expect_close("batch_repeat_ratio(F.cross_entropy)",
                     mine.batch_repeat_ratio(F.cross_entropy, logits, labels),
                     ref.batch_repeat_ratio(F.cross_entropy, logits, labels), rtol=1e-5)
        odd = lambda o, t: F.mse_loss(o, t, reduction="sum") / math.sqrt(len(o))  # noqa: E731
        expect_close("batch_repeat_ratio(sum / sqrt(N))",
                     mine.batch_repeat_ratio(odd, output, target),
                     ref.batch_repeat_ratio(odd, output, target), rtol=1e-5)


@pytest.mark.points(1)
def test_balancing_weights(credit):
    mine, ref = sanity()
    rng = np.random.default_rng(305)
    terms = {name: float(10.0 ** rng.uniform(-3, 3)) for name in ("data", "penalty", "aux")}
    with credit.part(1, "every weighted term starts at 1.0"):
        weights = mine.balancing_weights(terms)
        expect(isinstance(weights, dict) and set(weights) == set(terms),
               f"balancing_weights must return a dict with the keys {sorted(terms)}, got "
               f"{weights!r}")
        expect_close("weight * initial value per term",
                     np.array([weights[k] * terms[k] for k in sorted(terms)]),
                     np.array([ref.balancing_weights(terms)[k] * terms[k] for k in sorted(terms)]),
                     rtol=1e-6)


# ---------------------------------------------------------------------------
# part 2: the repaired setups
# ---------------------------------------------------------------------------
@pytest.mark.points(5)
@pytest.mark.timeout(20)
def test_classifier_repaired(credit):
    lab = setups()
    X, y, X_test, y_test = digits(600, 300, seed=0)
    report = diagnosed(lab.classifier_setup(X, y), "classifier_setup", X, y)
    with credit.part(1, "cross_entropy gets logits (no loss.wrong_input)"):
        expect_no_finding(report, "loss.wrong_input", what="classifier_setup")
    with credit.part(1, "the initial loss of the LOGITS is about ln 10 (no loss.wrong_input "
                        "and no loss.initial_unexpected)"):
        # a final Softmax squeezes the outputs into [0, 1] and hides an overconfident
        # initialisation: the initial loss only counts once cross_entropy gets logits
        expect_no_finding(report, "loss.wrong_input", what="classifier_setup")
        expect_no_finding(report, "loss.initial_unexpected", what="classifier_setup")
    with credit.part(2, "diagnose reports no error, and the trained model is >= 85% accurate "
                        "on 300 other digits"):
        expect_no_errors(report, what="classifier_setup")
        setup = trained(lab.classifier_setup(X, y), "classifier_setup", X, y)
        accuracy = float((predict(setup.model, X_test).argmax(axis=1) == y_test).mean())
        expect_at_least("classifier_setup: accuracy on 300 other digits after training",
                        accuracy, 0.85, margin=MARGIN_03_ACC,
                        hint="The model did not learn the digits: look at the loss and the "
                             "output layer again.")
    with credit.part(1, "on another data set (4 classes, 5 features): no wrong_input, no "
                        "initial_unexpected, no error"):
        X2, y2 = blobs()
        report2 = diagnosed(lab.classifier_setup(X2, y2, seed=1), "classifier_setup on blobs",
                            X2, y2)
        expect_no_finding(report2, "loss.wrong_input", what="classifier_setup on blobs")
        expect_no_finding(report2, "loss.initial_unexpected", what="classifier_setup on blobs")
        expect_no_errors(report2, what="classifier_setup on blobs")


# what the released file trains each regression setup with: the repairs are in the loss and
# the targets, never in the model or how it trains
RELEASED_OPTIMIZERS = {
    "regression_setup": lambda model: optim.Adam(model.parameters(), lr=1e-2),
    "sgd_regression_setup": lambda model: optim.SGD(model.parameters(), lr=0.02, momentum=0.9),
    "two_task_setup": lambda model: optim.Adam(model.parameters(), lr=1e-2),
}


def expect_released_start(setup, what, seed, outputs=1):
    """``setup`` starts as the released file builds it: regression_mlp(outputs) at
    manual_seed(seed), untrained, and a fresh optimizer of the released kind and settings (a
    review's net trained at import time, given lr=1e-12, scored the trained parts for
    nothing)."""
    manual_seed(seed)
    model = reference(__file__, "loss_setups").regression_mlp(outputs=outputs)
    problem = (parameters_problem(setup.model, model, f"{what}()'s model")
               or optimizer_problem(setup.optimizer, RELEASED_OPTIMIZERS[what](model),
                                    setup.model, what=f"{what}()'s optimizer"))
    expect(problem is None, f"{problem}. The lab repairs the loss and the targets; keep the "
                            "model and its optimizer as released.")


def fitted_error(setup, what, x, y, clean):
    """Train the (checked) setup; the MSE of its predictions against the clean curve(s)."""
    trained(setup, what, x, y)
    prediction = predict(setup.model, x)
    return float(((prediction.reshape(clean.shape) - clean) ** 2).mean())


@pytest.mark.points(2)
def test_regression_repaired(credit):
    lab = setups()
    with credit.part(1, "no loss.broadcast_shape and no error"):
        x, y, _ = sine(200, seed=0)
        report = diagnosed(lab.regression_setup(x, y), "regression_setup", x, y)
        expect_no_finding(report, "loss.broadcast_shape", what="regression_setup")
        expect_no_errors(report, what="regression_setup")
    with credit.part(1, "trained: MSE against sin(x) below 0.03, on 200 and on 173 samples"):
        for n, seed in ((200, 0), (173, 5)):
            x, y, clean = sine(n, seed=seed)
            setup = lab.regression_setup(x, y, seed=seed)
            expect_released_start(setup, "regression_setup", seed)
            error = fitted_error(setup, "regression_setup", x, y, clean)
            expect_at_most(f"regression_setup on {n} samples: MSE against sin(x) after "
                           "training", error, 0.03, margin=MARGIN_03_REG,
                           hint="The model did not learn the curve.")


@pytest.mark.points(2)
@pytest.mark.timeout(30)      # the student's loss runs in the sandbox at every step: 2-10 s
def test_sgd_regression_repaired(credit):
    lab = setups()
    with credit.part(1, "no loss.reduction_scale and no error"):
        x, y, _ = sine(256, seed=0)
        y = y.reshape(-1, 1)
        report = diagnosed(lab.sgd_regression_setup(x, y), "sgd_regression_setup", x, y)
        expect_no_finding(report, "loss.reduction_scale", what="sgd_regression_setup")
        expect_no_errors(report, what="sgd_regression_setup")
    with credit.part(1, "trained: MSE against sin(x) below 0.05, on 256 and on 331 samples"):
        for n, seed in ((256, 0), (331, 7)):
            x, y, clean = sine(n, seed=seed)
            y = y.reshape(-1, 1)
            setup = lab.sgd_regression_setup(x, y, seed=seed)
            expect_released_start(setup, "sgd_regression_setup", seed)
            error = fitted_error(setup, "sgd_regression_setup", x, y, clean)
            expect_at_most(f"sgd_regression_setup on {n} samples: MSE against sin(x) after "
                           "training", error, 0.05, margin=MARGIN_03_SGD,
                           hint="The model did not learn the curve.")


@pytest.mark.points(2)
@pytest.mark.timeout(30)      # the student's loss runs in the sandbox at every step: 2-10 s
def test_two_task_repaired(credit):
    lab = setups()
    with credit.part(1, "no loss.terms_unbalanced and no error"):
        x, y, _ = two_curves(256, seed=0)
        report = diagnosed(lab.two_task_setup(x, y), "two_task_setup", x, y)
        expect_no_finding(report, "loss.terms_unbalanced", what="two_task_setup")
        expect_no_errors(report, what="two_task_setup")
    with credit.part(1, "trained: both curves fitted (MSE below 0.03 each), on 256 and 199 "
                        "samples"):
        for n, seed in ((256, 0), (199, 4)):
            x, y, clean = two_curves(n, seed=seed)
            setup = lab.two_task_setup(x, y, seed=seed)
            expect_released_start(setup, "two_task_setup", seed, outputs=2)
            setup = trained(setup, "two_task_setup", x, y)
            errors = ((predict(setup.model, x) - clean) ** 2).mean(axis=0)
            for error, curve in zip(errors, ("sin(x)", "cos(x)")):
                expect_at_most(f"two_task_setup on {n} samples: MSE against {curve} after "
                               "training (both curves must be fitted)", float(error), 0.03,
                               margin=MARGIN_03_TWO)
