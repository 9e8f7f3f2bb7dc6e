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
from minnet.debug import Setup
from minnet.debug.context import data_arrays, train_setup
from minnet.debug.diagnosis import diagnose_setup
from minnet.grading import (expect, expect_at_least, expect_close, expect_no_errors,
                            expect_no_finding, reference)
from minnet.grading.sandbox import sandboxed
from minnet.grading.untrained import drawn_afresh_problem

# the student's file runs in a sandbox process and may import only these
STUDENT_IMPORTS = ("numpy", "minnet", "math", "warnings", "copy", "collections")

# the seed of the weights the test draws for each trained run (at the scales of the
# student's model: minnet.grading.untrained.redraw_)
REDRAW_SEED = 800
DIAGNOSE_STEPS = 60
# How far the reference solution must stay from each training-outcome threshold. Measured
# (identical with OpenBLAS's Haswell, SkylakeX and Sandybridge kernels, 1 thread and
# MINNET_NO_JIT; ranges over export/data seeds 0-4): digits validation accuracy 0.927-0.967
# (0.947 and 0.982 on the graded exports; 150 validation images, one image = 0.0067), rare-event
# recall 1.0 and accuracy 0.990-1.0, regression R^2 0.993-0.997.
MARGIN_08_DIGITS = 0.02
MARGIN_08_RECALL = 0.1
MARGIN_08_RARE_ACC = 0.05
MARGIN_08_R2 = 0.05



def load():
    ref = reference(__file__, "data_pipeline")   # before any student code runs
    return sandboxed(__file__, "data_pipeline", allowed_imports=STUDENT_IMPORTS), ref


def lab_data():
    """The lab's data sets, built by the reference (the student cannot change them); load it
    before the student's file."""
    return reference(__file__, "data_pipeline")


# Fair play (that no student code replaced minnet, the grader, NumPy, the debugger's
# thresholds, checks and codes, or a name in this file) is checked by minnet.grading itself:
# after a student file's import, at the end of every credit.part and after each test.


# ---------------------------------------------------------------------------
# is it the lab's data? (a pipeline may transform its data, not swap it)
# ---------------------------------------------------------------------------
def lab_setup(made, what, seed=0):
    """The Setup a pipeline returned, checked: minnet's own Setup (not a subclass whose
    diagnose or train says something else) with the standard training step."""
    expect(type(made) is Setup, f"{what} must return a minnet.debug.Setup, got "
                                f"{type(made).__name__}: the setup itself is graded.")
    expect(made.train_step is None and made.evaluate is None and made.clip_grad_norm is None,
           f"{what}: keep the standard training step (no train_step, evaluate or "
           "clip_grad_norm).")
    expect(made.val_data is not None, f"{what}: the setup has no val_data; keep the "
                                      "validation split (the diagnosis and the grade use it).")
    # the batch order is the test's (the seed it passed): a file choosing its own could
    # resubmit with other seeds until a run is lucky
    return made.replace(seed=seed)


def columns_rescaled(got, given, tolerance=1e-4) -> bool:
    """``got`` holds ``given``'s rows in the same order, each column possibly rescaled
    (a * x + b, a > 0): what standardising does, and nothing else."""
    got = np.asarray(got, np.float64).reshape(len(got), -1)
    given = np.asarray(given, np.float64).reshape(len(given), -1)
    if got.shape != given.shape:
        return False
    for column, target in zip(given.T, got.T):
        design = np.stack([column, np.ones_like(column)], axis=1)
        (slope, offset), *_ = np.linalg.lstsq(design, target, rcond=None)
        scale = max(np.abs(target).max(), 1e-12)
        if slope <= 0 or np.abs(design @ (slope, offset) - target).max() > tolerance * scale:
            return False
    return True


def same_rows(got_X, got_y, given_X, given_y) -> bool:
    """``got`` holds exactly ``given``'s (row, label) pairs, each at least once, in any order
    and with any repeats (compared in float32): resampled, not changed, added or dropped."""
    def keys(X, y):
        X = np.ascontiguousarray(np.asarray(X, np.float32).reshape(len(X), -1))
        return {row.tobytes() + np.int64(label).tobytes() for row, label in zip(X, y)}
    return keys(got_X, got_y) == keys(given_X, given_y)


def standardised_on_training_split(X_train, limit=1e-3) -> bool:
    """Every non-constant column of the training inputs has mean 0 and std 1: the
    statistics came from the training split itself (not from train + validation)."""
    X = np.asarray(X_train, np.float64).reshape(len(X_train), -1)
    mean, std = X.mean(axis=0), X.std(axis=0)
    live = std > 1e-6
    return bool(live.any() and np.abs(mean[live]).max() < limit
                and np.abs(std[live] - 1.0).max() < limit)


def constant_pixels_kept(setup, X) -> int:
    """How many more input columns the setup trains on than the export has non-constant
    pixels (> 0: constant pixels kept, e.g. disguised with a little noise)."""
    X_train = data_arrays(setup.train_data, "setup.train_data")[0]
    informative = int(np.count_nonzero(np.asarray(X).max(axis=0) != np.asarray(X).min(axis=0)))
    return int(np.asarray(X_train).reshape(len(X_train), -1).shape[1]) - informative


def expect_constant_pixels_dropped(setup, X, what):
    extra = constant_pixels_kept(setup, X)
    expect(extra <= 0, f"{what}: the model gets {extra} more input columns than the export "
                       "has non-constant pixels: drop the constant pixels (constant_columns on "
                       "the training split), do not disguise them.")


def digits_split_problem(setup, X, y):
    """None when the digits setup's splits are the lab's data split honestly, else what is
    wrong: every exported image once (exact duplicates may be dropped), a validation
    split of >= 20%, no image in both splits (beyond the export's own duplicates), no
    class count larger than the export's."""
    X_train, y_train, _ = data_arrays(setup.train_data, "setup.train_data")
    X_val, y_val, _ = data_arrays(setup.val_data, "setup.val_data")
    _, exported_copies = np.unique(np.asarray(X).reshape(len(X), -1), axis=0,
                                   return_counts=True)
    total = len(X_train) + len(X_val)
    if total > len(X) or total < len(exported_copies) or len(X_val) < 0.2 * len(X):
        return (f"the splits hold {len(X_train)} training and {len(X_val)} validation rows of "
                f"the {len(X)} exported: split the export 75/25, each row once (dropping "
                "exact duplicates is fine, dropping other rows is not).")
    _, counts = np.unique(y, return_counts=True)
    got = np.bincount(np.concatenate([np.asarray(y_train), np.asarray(y_val)]).astype(np.int64),
                      minlength=len(counts))
    if len(got) != len(counts) or np.any(got > counts):
        return (f"the class counts over both splits are {got.tolist()}; the export has "
                f"{counts.tolist()} (classes in sorted order): every label once, encoded.")
    repeated = int(exported_copies[exported_copies > 1].sum())
    train_rows = {row.tobytes() for row in np.ascontiguousarray(
        np.asarray(X_train, np.float32).reshape(len(X_train), -1))}
    shared = sum(row.tobytes() in train_rows for row in np.ascontiguousarray(
        np.asarray(X_val, np.float32).reshape(len(X_val), -1)))
    if shared > repeated:
        return (f"{shared} validation images also appear in the training split: validate on "
                "images the model never trained on.")
    return None


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
    # each part has its own generator: a part that fails half-way cannot change the data of
    # the next (whose reference result a student release replays)
    with credit.part(1, "fit_standardizer: population mean and std; std 0 becomes 1"):
        rng = np.random.default_rng(802)
        mean, std = mine.fit_standardizer(np.array([[1.0, 10.0], [3.0, 10.0]]))
        expect_close("fit_standardizer mean", mean, [2.0, 10.0])
        expect_close("fit_standardizer std (the constant column guarded)", std, [1.0, 1.0])
        X = rng.normal(50.0, 20.0, (37, 5))
        X[:, 3] = 7.0
        got = mine.fit_standardizer(X)
        # unpacked, not zipped: zip would stop at once on an empty tuple (a review's
        # fit_standardizer returned () for any input but the literal one: 1 point)
        expect(isinstance(got, (tuple, list)) and len(got) == 2,
               f"fit_standardizer(37 x 5) returned {type(got).__name__} of length "
               f"{len(got) if hasattr(got, '__len__') else '?'}: return (mean, std)")
        for name, got, want in zip(("mean", "std"), got, ref.fit_standardizer(X)):
            expect_close(f"fit_standardizer(37 x 5) {name}", got, want, rtol=1e-6)
    with credit.part(1, "standardize applies the given statistics, float32"):
        rng = np.random.default_rng(8021)
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
        for counts in ((10, 12, 30), (7, 7, 9)):       # the boundary: exactly the minimum
            y = np.repeat(np.arange(3), counts)
            minimum = min(counts)
            got = mine.too_small(y, minimum)
            expect(not bool(got), f"too_small(class counts {list(counts)}, {minimum}) returned "
                                  f"{got!r}: the smallest class has exactly {minimum} samples, "
                                  "which is not fewer than the minimum, so False")
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
    """Train the (checked) setup with minnet's own loop, from weights the test draws itself at
    the scales the student's model has (a model handed over trained, with an optimizer that
    cannot move it, would otherwise pass); return (its output on the validation inputs, the
    validation targets)."""
    problem = drawn_afresh_problem(setup, np.random.default_rng(REDRAW_SEED),
                                   "the pipeline's setup")
    expect(problem is None, problem)
    train_setup(setup)
    X_val, y_val, _ = data_arrays(setup.val_data, "setup.val_data")   # arrays, Dataset or loader
    setup.model.eval()
    return setup.model(tensor(np.asarray(X_val))).numpy(), np.asarray(y_val)


def expect_same_data(setup, checked, what):
    """The setup a test trains holds the data of the one it checked: the pipeline runs again
    for a fresh model, and may not hand the checks one split and the training another."""
    same = all(np.array_equal(np.asarray(a), np.asarray(b))
               for part in ("train_data", "val_data")
               for a, b in zip(data_arrays(getattr(setup, part))[:2],
                               data_arrays(getattr(checked, part))[:2]))
    expect(same, f"{what}: a second call gave other training or validation data than the "
                 "first (the one checked): the pipeline must split and prepare the same way "
                 "every time")


def majority_accuracy(y_train, y_val):
    """Accuracy on y_val of always predicting y_train's most frequent class: the test's own
    measure (the student's split is not the reference's, so a student release cannot
    replay the reference's majority_baseline for it)."""
    classes, counts = np.unique(np.asarray(y_train), return_counts=True)
    return float(np.mean(np.asarray(y_val) == classes[np.argmax(counts)]))


def expect_clean(report, codes, what):
    for code in codes:
        expect_no_finding(report, code, what=what)
    expect_no_errors(report, what=what)


DIGITS_CODES = ("data.labels_invalid", "data.leakage", "data.input_independent",
                "data.constant_feature")


@pytest.mark.points(6)
@pytest.mark.timeout(25)
def test_digits_pipeline_repaired(credit):
    data = lab_data()
    mine = sandboxed(__file__, "data_pipeline", allowed_imports=STUDENT_IMPORTS)
    X, y = data.exported_digits()
    what = "digits_pipeline"
    setup = lab_setup(mine.digits_pipeline(X, y), what)
    problem = digits_split_problem(setup, X, y)
    report = diagnose_setup(setup, steps=DIAGNOSE_STEPS)

    def honest_split():
        expect(problem is None, f"{what}: {problem}")

    with credit.part(1, "labels in [0, C) (no data.labels_invalid)"):
        honest_split()
        expect_no_finding(report, "data.labels_invalid", what=what)
    with credit.part(1, "statistics from the training split only (no data.leakage; the training "
                 "inputs have mean 0 and std 1 per pixel)"):
        honest_split()
        expect_no_finding(report, "data.leakage", what=what)
        expect(standardised_on_training_split(data_arrays(setup.train_data)[0]),
               f"{what}: the training inputs are not standardised with their own statistics "
               "(some pixel's mean is not 0 or its std not 1): fit the standardizer on the "
               "training split only, after splitting.")
    with credit.part(1, "labels still belong to their images (no data.input_independent)"):
        honest_split()
        expect_no_finding(report, "data.input_independent", what=what)
    with credit.part(1, "constant pixels dropped (no data.constant_feature)"):
        honest_split()
        expect_no_finding(report, "data.constant_feature", what=what)
        expect_constant_pixels_dropped(setup, X, what)
    with credit.part(1, "no error; trained: >= 90% on a validation split of >= 20%, far above "
                 "the majority baseline"):
        honest_split()
        expect_no_errors(report, what=what)
        checked, setup = setup, lab_setup(mine.digits_pipeline(X, y), what)
        expect_same_data(setup, checked, what)
        output, y_val = trained_val_output(setup)
        accuracy = float((output.argmax(axis=1) == y_val).mean())
        baseline = majority_accuracy(data_arrays(setup.train_data)[1], y_val)
        expect(accuracy > baseline + 0.5,
               f"{what}: validation accuracy {accuracy:.1%} is not far above the majority "
               f"baseline {baseline:.1%}")
        expect_at_least(f"{what}: validation accuracy", accuracy, 0.9, margin=MARGIN_08_DIGITS)
    with credit.part(1, "another export (7 classes, 450 rows, seed 2): same codes gone, no "
                 "error, >= 90%"):
        X, y = data.exported_digits(n_samples=450, classes=7, seed=2)
        what = "digits_pipeline on another export"
        setup = lab_setup(mine.digits_pipeline(X, y, seed=2), what, seed=2)
        problem = digits_split_problem(setup, X, y)
        honest_split()
        expect(standardised_on_training_split(data_arrays(setup.train_data)[0]),
               f"{what}: the training inputs are not standardised with their own statistics.")
        expect_constant_pixels_dropped(setup, X, what)
        expect_clean(diagnose_setup(setup, steps=DIAGNOSE_STEPS), DIGITS_CODES, what)
        checked, setup = setup, lab_setup(mine.digits_pipeline(X, y, seed=2), what, seed=2)
        expect_same_data(setup, checked, what)
        output, y_val = trained_val_output(setup)
        accuracy = float((output.argmax(axis=1) == y_val).mean())
        expect_at_least(f"{what}: validation accuracy", accuracy, 0.9,
                        margin=MARGIN_08_DIGITS)


def rare_event_problem(setup, X_train, y_train, X_val, y_val):
    """None when the rare-event setup trains on the given training rows (each at least once,
    resampled, in any order) and validates on the given validation split, else what is
    wrong."""
    got_X, got_y, _ = data_arrays(setup.train_data, "setup.train_data")
    if not same_rows(got_X, got_y, X_train, y_train):
        return ("the training data is not made of the given training rows: resample and "
                "reorder them, but keep every one (the rare ones too) and change or add none.")
    val_X, val_y, _ = data_arrays(setup.val_data, "setup.val_data")
    if not (np.array_equal(np.asarray(val_y), y_val) and columns_rescaled(val_X, X_val)):
        return "val_data is not the given validation split (X_val, y_val), in its order."
    return None


@pytest.mark.points(3)
@pytest.mark.timeout(20)
def test_rare_event_pipeline_repaired(credit):
    data = lab_data()
    mine = sandboxed(__file__, "data_pipeline", allowed_imports=STUDENT_IMPORTS)
    what = "rare_event_pipeline"
    rows = data.rare_events()
    setup = lab_setup(mine.rare_event_pipeline(*rows), what)
    problem = rare_event_problem(setup, *rows)
    report = diagnose_setup(setup, steps=DIAGNOSE_STEPS)
    with credit.part(1, "batches reshuffled every epoch (no data.not_shuffled)"):
        expect(problem is None, f"{what}: {problem}")
        expect_no_finding(report, "data.not_shuffled", what=what)
        options = data_arrays(setup.train_data, "setup.train_data")[2]
        expect(options.get("shuffle", setup.shuffle),
               f"{what}: the training batches are not reshuffled every epoch (shuffle=False): "
               "a fixed order, even a mixed one, is the same batches every epoch.")
    with credit.part(1, "classes balanced in training (no data.class_imbalance)"):
        expect(problem is None, f"{what}: {problem}")
        expect_no_finding(report, "data.class_imbalance", what=what)
    with credit.part(1, "no error; trained: rare events found (recall >= 80%) and >= 90% "
                 "accurate, here and on another set (480 normal, 24 rare, seed 5)"):
        expect(problem is None, f"{what}: {problem}")
        expect_no_errors(report, what=what)
        for n_normal, n_rare, seed in ((400, 20, 0), (480, 24, 5)):
            rows = data.rare_events(n_normal=n_normal, n_rare=n_rare, seed=seed)
            setup = lab_setup(mine.rare_event_pipeline(*rows, seed=seed), what, seed=seed)
            problem = rare_event_problem(setup, *rows)
            expect(problem is None, f"{what} (seed {seed}): {problem}")
            output, _ = trained_val_output(setup)
            y_val = rows[3]                       # the given labels, checked equal above
            predicted = output.argmax(axis=1)
            recall = float((predicted[y_val == 1] == 1).mean())
            accuracy = float((predicted == y_val).mean())
            expect_at_least(f"{what} ({n_rare} rare events, seed {seed}): recall of the rare "
                            "class", recall, 0.8, margin=MARGIN_08_RECALL)
            expect_at_least(f"{what} ({n_rare} rare events, seed {seed}): validation accuracy",
                            accuracy, 0.9, margin=MARGIN_08_RARE_ACC)


def regression_problem(setup, x_train, y_train, x_val, y_val):
    """None when the regression setup trains and validates on the given splits (each
    column possibly standardised), else what is wrong."""
    got_x, got_y, _ = data_arrays(setup.train_data, "setup.train_data")
    val_x, val_y, _ = data_arrays(setup.val_data, "setup.val_data")
    if not (columns_rescaled(got_x, x_train) and columns_rescaled(got_y, y_train)):
        return ("train_data is not the given training split (rescaling each column is fine; "
                "adding, dropping or reordering rows is not).")
    if not (columns_rescaled(val_x, x_val) and columns_rescaled(val_y, y_val)):
        return ("val_data is not the given validation split (rescaling each column is fine; "
                "adding, dropping or reordering rows is not).")
    return None


@pytest.mark.points(3)
@pytest.mark.timeout(20)
def test_regression_pipeline_repaired(credit):
    data = lab_data()
    mine = sandboxed(__file__, "data_pipeline", allowed_imports=STUDENT_IMPORTS)
    what = "regression_pipeline"
    rows = data.power_demand()
    setup = lab_setup(mine.regression_pipeline(*rows), what)
    problem = regression_problem(setup, *rows)
    report = diagnose_setup(setup, steps=DIAGNOSE_STEPS)
    x_fit, y_fit, _ = data_arrays(setup.train_data, "setup.train_data")
    with credit.part(1, "inputs standardised with the training split's statistics (no "
                 "data.not_normalized)"):
        expect(problem is None, f"{what}: {problem}")
        expect_no_finding(report, "data.not_normalized", what=what)
        expect(standardised_on_training_split(x_fit),
               f"{what}: the training temperatures do not have mean 0 and std 1: standardise "
               "them with the training split's statistics.")
    with credit.part(1, "targets standardised with the training split's statistics (no "
                 "data.target_scale)"):
        expect(problem is None, f"{what}: {problem}")
        expect_no_finding(report, "data.target_scale", what=what)
        expect(standardised_on_training_split(y_fit),
               f"{what}: the training targets do not have mean 0 and std 1: standardise "
               "them with the training split's statistics (and keep those to map "
               "predictions back to kW).")
    with credit.part(1, "no error; trained: R^2 >= 0.9 on the validation split, here and on "
                 "another sample (223 rows, seed 4)"):
        expect(problem is None, f"{what}: {problem}")
        expect_no_errors(report, what=what)
        for n, seed in ((300, 0), (223, 4)):
            rows = data.power_demand(n_samples=n, seed=seed)
            setup = lab_setup(mine.regression_pipeline(*rows, seed=seed), what, seed=seed)
            problem = regression_problem(setup, *rows)
            expect(problem is None, f"{what} ({n} rows, seed {seed}): {problem}")
            output, y_val = trained_val_output(setup)
            residual = ((output.reshape(y_val.shape) - y_val) ** 2).mean()
            r2 = 1.0 - residual / y_val.var()
            expect_at_least(f"{what} ({n} rows, seed {seed}): validation R^2", float(r2), 0.9,
                            margin=MARGIN_08_R2,
                            hint="R^2 does not depend on the units, so it compares fairly "
                                 "however you scaled the targets.")
