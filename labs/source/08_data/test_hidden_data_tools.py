"""Hidden tests of lab 08 (used by `minnet grade` only): the data tools on other shapes, labels
and seeds than the public tests, against the reference solution."""
import numpy as np
import pytest

from minnet.grading import expect, expect_close, reference
from minnet.grading.sandbox import sandboxed

# the student's file runs in a sandbox process and may import only these
STUDENT_IMPORTS = ("numpy", "minnet", "math", "warnings", "copy", "collections")


def load():
    ref = reference(__file__, "data_pipeline")           # before the student's file
    return sandboxed(__file__, "data_pipeline", allowed_imports=STUDENT_IMPORTS), ref


@pytest.mark.points(3)
def test_hidden_data_tools_other_inputs(credit):
    mine, ref = load()
    rng = np.random.default_rng(9808)
    with credit.part(1, "constant columns, standardiser and standardize on (17, 6) data with "
                        "two constant columns"):
        X = rng.standard_normal((17, 6)) * [1, 100, 0.01, 1, 5, 1] + [0, -40, 3, 0, 0, 8]
        X[:, 3], X[:, 5] = 2.5, -7.0
        X_val = rng.standard_normal((5, 6)) * 3
        expect_close("constant_columns(X)", np.asarray(mine.constant_columns(X), dtype=float),
                     ref.constant_columns(X).astype(float))
        mean, std = mine.fit_standardizer(X)
        want_mean, want_std = ref.fit_standardizer(X)
        expect_close("fit_standardizer mean", mean, want_mean, rtol=1e-9, atol=1e-12)
        expect_close("fit_standardizer std", std, want_std, rtol=1e-9)
        expect_close("standardize(X_val, training statistics)",
                     mine.standardize(X_val, want_mean, want_std),
                     ref.standardize(X_val, want_mean, want_std), rtol=1e-6, atol=1e-6)
    with credit.part(1, "labels -3/0/8/21: classes, encoding, class weights"):
        y = rng.choice([21, -3, 8, 0], size=40, p=[0.5, 0.3, 0.15, 0.05])
        classes = mine.label_classes(y)
        expect_close("label_classes(y)", np.asarray(classes, dtype=float),
                     ref.label_classes(y).astype(float))
        encoded = mine.encode_labels(y, ref.label_classes(y))
        expect_close("encode_labels(y, classes)", np.asarray(encoded, dtype=float),
                     ref.encode_labels(y, ref.label_classes(y)).astype(float))
        indices = ref.encode_labels(y, ref.label_classes(y))
        expect_close("class_weights(indices, 6)", mine.class_weights(indices, 6),
                     ref.class_weights(indices, 6), rtol=1e-6)
    with credit.part(1, "balanced_indices (seed 11), majority_baseline on a tie, too_small"):
        y = np.array([2] * 9 + [0] * 3 + [1] * 5)
        got = np.sort(np.asarray(mine.balanced_indices(y, seed=11)))
        want = np.sort(ref.balanced_indices(y, seed=11))
        expect(got.shape == want.shape and np.array_equal(got, want),
               f"balanced_indices: {len(got)} rows; the reference oversamples every class to "
               f"the majority count ({len(want)} rows, each class's rows repeated in turn)")
        y_train, y_val = np.array([4, 1, 4, 1, 7]), np.array([1, 4, 4, 7, 1, 1])
        expect_close("majority_baseline (tie between 1 and 4)",
                     mine.majority_baseline(y_train, y_val),
                     ref.majority_baseline(y_train, y_val))
        for minimum in (3, 4):
            expect(bool(mine.too_small(y, minimum)) == ref.too_small(y, minimum),
                   f"too_small(y with class counts 9, 3, 5, minimum_per_class={minimum}) should "
                   f"be {ref.too_small(y, minimum)}")
