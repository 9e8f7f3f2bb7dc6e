"""Graded tests of lab 08 (the data pipeline): `pytest labs/08_data`.

Part 1: each tool is checked on a small example you can work out by hand and on
seeded random data against the reference solution (other shapes, other label
values), so pasting an expected value scores nothing. Part 2: each repaired
pipeline is diagnosed (`setup.diagnose(steps=60)`): the lab's data codes must be
gone and no error left; then it is trained and scored on its validation split, on
the lab's data and on a second data set of other sizes.
"""
import numpy as np
import pytest

from minnet import tensor
from minnet.debug.context import data_arrays
from minnet.grading import (expect, expect_close, expect_no_errors, expect_no_finding,
                            reference, student)

DIAGNOSE_STEPS = 60


def load():
    return student(__file__, "data_pipeline"), reference(__file__, "data_pipeline")


def lab_data():
    """The lab's data sets, built by the reference (the student cannot change them)."""
    return reference(__file__, "data_pipeline")


# ---------------------------------------------------------------------------
# part 1: tools
# ---------------------------------------------------------------------------
@pytest.mark.points(1)
def test_constant_columns(credit):
    mine, ref = load()
    with credit.part(1, "finds the constant columns (small example and 41 x 9 random)"):
        X = np.array([[0.0, 1.0, 5.0], [0.0, 2.0, 5.0], [0.0, 3.0, 5.0]])
        expect_close("constant_columns(3 x 3 example)",
                     np.asarray(mine.constant_columns(X)), np.array([True, False, True]))
        rng = np.random.default_rng(801)
        X = rng.standard_normal((41, 9))
        X[:, rng.choice(9, 3, replace=False)] = rng.standard_normal(3)
        expect_close("constant_columns(41 x 9)", np.asarray(mine.constant_columns(X)),
                     ref.constant_columns(X))


@pytest.mark.points(2)
def test_standardizer(credit):
    mine, ref = load()
    rng = np.random.default_rng(802)
    with credit.part(1, "fit_standardizer: population mean and std; std 0 becomes 1"):
        mean, std = mine.fit_standardizer(np.array([[1.0, 10.0], [3.0, 10.0]]))
        expect_close("fit_standardizer mean", mean, [2.0, 10.0])
        expect_close("fit_standardizer std (the constant column guarded)", std, [1.0, 1.0])
        X = rng.normal(50.0, 20.0, (37, 5))
        X[:, 3] = 7.0
        for name, got, want in zip(("mean", "std"), mine.fit_standardizer(X),
                                   ref.fit_standardizer(X)):
            expect_close(f"fit_standardizer(37 x 5) {name}", got, want, rtol=1e-6)
    with credit.part(1, "standardize applies the given statistics, float32"):
        X_train = rng.normal(-4.0, 3.0, (23, 4))
        X_other = rng.normal(10.0, 0.5, (13, 4))        # another distribution: its own stats differ
        mean, std = ref.fit_standardizer(X_train)
        got = np.asarray(mine.standardize(X_other, mean, std))
        expect(got.dtype == np.float32, f"standardize returned {got.dtype}; float32 expected "
                                        "(what the model trains in)")
        expect_close("standardize(X_other, training mean, training std)", got,
                     ref.standardize(X_other, mean, std), rtol=1e-5)


@pytest.mark.points(2)
def test_labels(credit):
    mine, ref = load()
    with credit.part(1, "labels 1..10 become 0..9; other label values keep their order"):
        y = np.array([3, 1, 10, 2, 5, 4, 6, 7, 9, 8, 1])
        classes = mine.label_classes(y)
        expect_close("label_classes(1..10)", np.asarray(classes), np.arange(1, 11))
        expect_close("encode_labels(1..10)", np.asarray(mine.encode_labels(y, classes)), y - 1)
        rng = np.random.default_rng(803)
        y = rng.choice([-7, 5, 12, 40], size=29)
        got = np.asarray(mine.encode_labels(y, mine.label_classes(y)))
        expect(got.dtype == np.int64, f"encode_labels returned {got.dtype}; class indices must "
                                      "be int64")
        expect_close("encode_labels(labels -7, 5, 12, 40)", got,
                     ref.encode_labels(y, ref.label_classes(y)))
    with credit.part(1, "a label the training split never had raises ValueError"):
        try:
            mine.encode_labels(np.array([1, 2, 11]), np.arange(1, 11))
        except ValueError:
            pass
        else:
            expect(False, "encode_labels([1, 2, 11], classes 1..10) returned a value; label 11 "
                          "is not a training class: raise ValueError naming it.")


@pytest.mark.points(2)
def test_balanced_indices(credit):
    mine, _ = load()
    rng = np.random.default_rng(804)
    y = np.concatenate([np.zeros(53, np.int64), np.full(7, 1), np.full(19, 2)])
    with credit.part(1, "every class ends with the majority count; every row appears, "
                        "evenly repeated"):
        index = np.asarray(mine.balanced_indices(y, seed=3))
        expect(index.dtype.kind in "iu", f"balanced_indices must return integer indices, "
                                         f"got {index.dtype}")
        counts = np.bincount(y[index], minlength=3)
        expect(np.all(counts == 53), f"class counts after balancing are {counts.tolist()}; "
                                     "each class should have 53 (the majority count)")
        uses = np.bincount(index, minlength=len(y))
        for c, n in ((0, 53), (1, 7), (2, 19)):
            rows = uses[y == c]
            expect(rows.min() >= 1 and rows.max() - rows.min() <= 1,
                   f"class {c} ({n} rows): each row is used between {rows.min()} and "
                   f"{rows.max()} times; repeat the rows in turn (np.resize) so every row is "
                   "used, as evenly as possible")
    with credit.part(1, "shuffled, reproducible with the seed, different for another seed"):
        y2 = rng.permutation(np.repeat([0, 1], [31, 5]))
        first, again = mine.balanced_indices(y2, seed=5), mine.balanced_indices(y2, seed=5)
        other = mine.balanced_indices(y2, seed=6)
        expect(np.array_equal(first, again), "balanced_indices(y, seed=5) gave two different "
                                             "results: use np.random.default_rng(seed)")
        expect(not np.array_equal(first, other), "balanced_indices gives the same order for "
                                                 "seeds 5 and 6: the seed is not used")
        labels = y2[np.asarray(first)]
        runs = int(np.count_nonzero(np.diff(labels))) + 1
        expect(runs > 10, f"the balanced rows come in {runs} label runs: shuffle them")


@pytest.mark.points(1)
def test_class_weights(credit):
    mine, ref = load()
    with credit.part(1, "N / (C * count), 0 for an absent class"):
        expect_close("class_weights([0, 0, 0, 1], 2)",
                     np.asarray(mine.class_weights(np.array([0, 0, 0, 1]), 2)), [2 / 3, 2.0],
                     rtol=1e-6)
        y = np.random.default_rng(805).choice([0, 1, 3, 4], size=47, p=[0.6, 0.2, 0.15, 0.05])
        expect_close("class_weights(47 labels, C = 5, class 2 absent)",
                     np.asarray(mine.class_weights(y, 5)), ref.class_weights(y, 5), rtol=1e-6)


@pytest.mark.points(2)
def test_make_loader(credit):
    mine, _ = load()
    X = np.arange(46, dtype=np.float32).reshape(23, 2)
    y = np.arange(23, dtype=np.int64)

    def epoch(loader):
        labels = [batch[1].numpy() for batch in loader]
        return labels, np.concatenate(labels)

    with credit.part(1, "batches of the given size covering every row once per epoch"):
        loader = mine.make_loader(X, y, batch_size=5, seed=0)
        batches, order = epoch(loader)
        expect([len(b) for b in batches] == [5, 5, 5, 5, 3],
               f"batch sizes {[len(b) for b in batches]}; expected [5, 5, 5, 5, 3]")
        expect(sorted(order.tolist()) == list(range(23)), "an epoch does not visit every row "
                                                          "exactly once")
    with credit.part(1, "shuffled every epoch, reproducibly with its seed"):
        loader = mine.make_loader(X, y, batch_size=5, seed=0)
        first, second = epoch(loader)[1], epoch(loader)[1]
        expect(not np.array_equal(first, np.arange(23)), "the first epoch is in the stored "
                                                         "order: shuffle=True")
        expect(not np.array_equal(first, second), "two epochs have the same order: the loader "
                                                  "must reshuffle every epoch")
        again = epoch(mine.make_loader(X, y, batch_size=5, seed=0))[1]
        expect(np.array_equal(first, again), "two loaders with seed=0 give different orders: "
                                             "pass the seed to the DataLoader")


@pytest.mark.points(1)
def test_majority_baseline(credit):
    mine, ref = load()
    with credit.part(1, "accuracy of always predicting the training majority"):
        expect_close("majority_baseline([0, 1, 1], [1, 0, 1, 1])",
                     mine.majority_baseline(np.array([0, 1, 1]), np.array([1, 0, 1, 1])), 0.75)
        rng = np.random.default_rng(806)
        y_train = rng.choice(6, size=59, p=[0.1, 0.1, 0.1, 0.4, 0.2, 0.1])
        y_val = rng.choice(6, size=31)
        expect_close("majority_baseline(6 classes)", mine.majority_baseline(y_train, y_val),
                     ref.majority_baseline(y_train, y_val))


@pytest.mark.points(1)
def test_too_small(credit):
    mine, ref = load()
    with credit.part(1, "the smallest class against the minimum"):
        got = mine.too_small(np.repeat([0, 1, 2], 5))
        expect(isinstance(got, (bool, np.bool_)) and bool(got),
               f"too_small(5 samples in each of 3 classes) returned {got!r}: 5 per class is "
               "below the minimum of 10, so True")
        rng = np.random.default_rng(807)
        for n, minimum in ((40, 10), (200, 10), (90, 25), (31, 3)):
            y = rng.choice(4, size=n, p=[0.55, 0.25, 0.15, 0.05])
            expect(mine.too_small(y, minimum) == ref.too_small(y, minimum),
                   f"too_small(labels with counts {np.bincount(y).tolist()}, {minimum}) returned "
                   f"{mine.too_small(y, minimum)!r}")


# ---------------------------------------------------------------------------
# part 2: the repaired pipelines
# ---------------------------------------------------------------------------
def trained_val_output(setup):
    """Train the setup and return (its output on the validation inputs, the val targets)."""
    setup.train()
    X_val, y_val, _ = data_arrays(setup.val_data, "setup.val_data")   # arrays, Dataset or loader
    setup.model.eval()
    return setup.model(tensor(np.asarray(X_val))).numpy(), np.asarray(y_val)


def expect_clean(report, codes, what):
    for code in codes:
        expect_no_finding(report, code, what=what)
    expect_no_errors(report, what=what)


DIGITS_CODES = ("data.labels_invalid", "data.leakage", "data.input_independent",
                "data.constant_feature")


@pytest.mark.points(6)
@pytest.mark.timeout(25)
def test_digits_pipeline_repaired(credit):
    mine, data = student(__file__, "data_pipeline"), lab_data()
    X, y = data.exported_digits()
    report = mine.digits_pipeline(X, y).diagnose(steps=DIAGNOSE_STEPS)
    with credit.part(1, "labels in [0, C) (no data.labels_invalid)"):
        expect_no_finding(report, "data.labels_invalid", what="digits_pipeline")
    with credit.part(1, "statistics from the training split only (no data.leakage)"):
        expect_no_finding(report, "data.leakage", what="digits_pipeline")
    with credit.part(1, "labels still belong to their images (no data.input_independent)"):
        expect_no_finding(report, "data.input_independent", what="digits_pipeline")
    with credit.part(1, "constant pixels dropped (no data.constant_feature)"):
        expect_no_finding(report, "data.constant_feature", what="digits_pipeline")
    with credit.part(1, "no error; trained: >= 90% on a validation split of >= 20%, far above "
                        "the majority baseline"):
        expect_no_errors(report, what="digits_pipeline")
        setup = mine.digits_pipeline(X, y)
        output, y_val = trained_val_output(setup)
        expect(len(y_val) >= 0.2 * len(y), f"digits_pipeline: the validation split has "
                                           f"{len(y_val)} of {len(y)} rows; keep 25%")
        accuracy = float((output.argmax(axis=1) == y_val).mean())
        baseline = data.majority_baseline(data_arrays(setup.train_data)[1], y_val)
        expect(accuracy >= 0.9 and accuracy > baseline + 0.5,
               f"digits_pipeline: validation accuracy {accuracy:.1%} (majority baseline "
               f"{baseline:.1%}); needs >= 90%")
    with credit.part(1, "another export (7 classes, 450 rows, seed 2): same codes gone, no "
                        "error, >= 90%"):
        X, y = data.exported_digits(n_samples=450, classes=7, seed=2)
        report = mine.digits_pipeline(X, y, seed=2).diagnose(steps=DIAGNOSE_STEPS)
        expect_clean(report, DIGITS_CODES, "digits_pipeline on another export")
        output, y_val = trained_val_output(mine.digits_pipeline(X, y, seed=2))
        accuracy = float((output.argmax(axis=1) == y_val).mean())
        expect(accuracy >= 0.9, f"digits_pipeline on another export: validation accuracy "
                                f"{accuracy:.1%} < 90%")


@pytest.mark.points(3)
@pytest.mark.timeout(20)
def test_rare_event_pipeline_repaired(credit):
    mine, data = student(__file__, "data_pipeline"), lab_data()
    report = mine.rare_event_pipeline(*data.rare_events()).diagnose(steps=DIAGNOSE_STEPS)
    with credit.part(1, "batches shuffled (no data.not_shuffled)"):
        expect_no_finding(report, "data.not_shuffled", what="rare_event_pipeline")
    with credit.part(1, "classes balanced in training (no data.class_imbalance)"):
        expect_no_finding(report, "data.class_imbalance", what="rare_event_pipeline")
    with credit.part(1, "no error; trained: rare events found (recall >= 80%) and >= 90% "
                        "accurate, here and on another set (480 normal, 24 rare, seed 5)"):
        expect_no_errors(report, what="rare_event_pipeline")
        for n_normal, n_rare, seed in ((400, 20, 0), (480, 24, 5)):
            rows = data.rare_events(n_normal=n_normal, n_rare=n_rare, seed=seed)
            output, y_val = trained_val_output(mine.rare_event_pipeline(*rows, seed=seed))
            predicted = output.argmax(axis=1)
            recall = float((predicted[y_val == 1] == 1).mean())
            accuracy = float((predicted == y_val).mean())
            expect(recall >= 0.8 and accuracy >= 0.9,
                   f"rare_event_pipeline ({n_rare} rare events, seed {seed}): recall of the "
                   f"rare class {recall:.0%}, accuracy {accuracy:.1%}; needs >= 80% and >= 90%")


@pytest.mark.points(3)
@pytest.mark.timeout(20)
def test_regression_pipeline_repaired(credit):
    mine, data = student(__file__, "data_pipeline"), lab_data()
    report = mine.regression_pipeline(*data.power_demand()).diagnose(steps=DIAGNOSE_STEPS)
    with credit.part(1, "inputs standardised (no data.not_normalized)"):
        expect_no_finding(report, "data.not_normalized", what="regression_pipeline")
    with credit.part(1, "targets standardised (no data.target_scale)"):
        expect_no_finding(report, "data.target_scale", what="regression_pipeline")
    with credit.part(1, "no error; trained: R^2 >= 0.9 on the validation split, here and on "
                        "another sample (223 rows, seed 4)"):
        expect_no_errors(report, what="regression_pipeline")
        for n, seed in ((300, 0), (223, 4)):
            output, y_val = trained_val_output(
                mine.regression_pipeline(*data.power_demand(n_samples=n, seed=seed), seed=seed))
            residual = ((output.reshape(y_val.shape) - y_val) ** 2).mean()
            r2 = 1.0 - residual / y_val.var()
            expect(r2 >= 0.9, f"regression_pipeline ({n} rows, seed {seed}): validation R^2 "
                              f"{r2:.3f} < 0.9 (R^2 does not depend on the units, so it "
                              "compares fairly however you scaled the targets)")
