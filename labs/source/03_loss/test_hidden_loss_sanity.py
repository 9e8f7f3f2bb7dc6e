"""Hidden tests of lab 03 (used by `minnet grade` only): the loss sanity functions on other
labels, targets, shapes and seeds than the public tests, against the reference solution."""
import numpy as np
import pytest

from minnet import Tensor
from minnet.grading import expect, expect_close, reference
from minnet.grading.sandbox import sandboxed
from minnet.nn import functional as F


def load():
    return (sandboxed(__file__, "loss_sanity", allowed_imports=("numpy", "minnet", "math", "warnings", "copy",
                                                         "collections")),
            reference(__file__, "loss_sanity"))


@pytest.mark.points(3)
def test_hidden_loss_sanity_other_inputs(credit):
    mine, ref = load()
    rng = np.random.default_rng(9303)
    with credit.part(1, "initial cross-entropy for 3 and 17 classes, initial MSE of (41, 2) "
                        "targets"):
        for classes, n in ((3, 50), (17, 389)):
            labels = rng.choice(classes, size=n, p=rng.dirichlet(np.ones(classes)))
            expect_close(f"expected_initial_cross_entropy({n} labels, {classes})",
                         mine.expected_initial_cross_entropy(labels, classes),
                         ref.expected_initial_cross_entropy(labels, classes), rtol=1e-6)
        y = rng.standard_normal((41, 2)) * [0.3, 7.0] + [-2.0, 11.0]
        expect_close("expected_initial_mse(y of shape (41, 2))", mine.expected_initial_mse(y),
                     ref.expected_initial_mse(y), rtol=1e-6)
    with credit.part(1, "mean_squared_error: (7,) predictions against (7, 1) targets, and a "
                        "(1, 1) batch"):
        for p_shape, t_shape in (((7,), (7, 1)), ((1, 1), (1,))):
            p = rng.standard_normal(p_shape).astype(np.float32)
            t = rng.standard_normal(t_shape).astype(np.float32)
            want = float(((p.reshape(-1) - t.reshape(-1)) ** 2).mean())
            loss = mine.mean_squared_error(Tensor(p), t)
            got = float(np.asarray(loss.item() if hasattr(loss, "item") else loss))
            expect_close(f"mean_squared_error(prediction {p_shape}, target {t_shape})", got, want,
                         rtol=1e-5)
    with credit.part(1, "batch_repeat_ratio of a summed cross-entropy, balancing_weights of "
                        "two terms"):
        logits = rng.standard_normal((6, 4)).astype(np.float32)
        labels = rng.integers(0, 4, 6)
        summed = lambda o, t: F.cross_entropy(o, t, reduction="sum")  # noqa: E731
        expect_close("batch_repeat_ratio(cross_entropy summed)",
                     mine.batch_repeat_ratio(summed, logits, labels),
                     ref.batch_repeat_ratio(summed, logits, labels), rtol=1e-5)
        terms = {"reconstruction": 123.4, "kl": 0.0071}
        weights = mine.balancing_weights(terms)
        expect(isinstance(weights, dict) and set(weights) == set(terms),
               f"balancing_weights must return a dict with the keys {sorted(terms)}")
        for name, value in terms.items():
            expect_close(f"weighted initial term {name!r}", weights[name] * value, 1.0,
                         rtol=1e-6)
