"""Hidden tests of lab 07 (used by `minnet grade` only): the stable losses and the missing-value
repair on other shapes, scales, dims and seeds than the public tests, against the reference."""
import numpy as np
import pytest

import minnet
from minnet import Tensor
from minnet.grading import expect, expect_close, reference
from minnet.grading.sandbox import ops_behind, sandboxed

# as the public tests: minnet's own softmax / cross-entropy are not written by hand
BY_HAND_FORBIDDEN = ("log_softmax", "logsumexp", "cross_entropy", "nll_loss", "LogSoftmax",
                     "CrossEntropyLoss", "NLLLoss", "Softmax")
LIBRARY_OPS = ("log_softmax", "softmax", "logsumexp", "cross_entropy", "nll_loss")


# the functions whose contract is to change their arguments (a model, an optimizer, a state):
# only their changes reach the test's objects; every other function works on copies
MUTATES = ("first_anomaly",)

# what nan_hunting.py may import (the README says so)
STUDENT_IMPORTS = ("numpy", "minnet", "math", "warnings", "copy", "collections")


def load():
    return (sandboxed(__file__, "nan_hunting", allowed_imports=STUDENT_IMPORTS,
                      forbidden=BY_HAND_FORBIDDEN, mutates=MUTATES),
            reference(__file__, "nan_hunting"))


def expect_by_hand(result, what):
    """The ops that made ``result`` in the sandbox (as the engine recorded them there) hold
    none of minnet's own softmax / cross-entropy."""
    borrowed = sorted(set(ops_behind(result) or ()) & set(LIBRARY_OPS))
    expect(not borrowed, f"{what} uses minnet's own {', '.join(borrowed)}: write it from exp, "
                         "log and sum with the max shift")


def value_and_grad(fn, logits, *rest, by_hand=None):
    x = Tensor(np.array(logits, dtype=np.float64), requires_grad=True)
    with np.errstate(all="ignore"):
        out = fn(x, *rest)
        if by_hand:  # the student's function: written from exp, log and sum
            expect_by_hand(out, by_hand)
        out.sum().backward()
    expect(x.grad is not None, "no gradient reached the input: use Tensor operations")
    return out.numpy(), x.grad.numpy()


@pytest.mark.points(3)
def test_hidden_stable_ops_other_inputs(credit):
    mine, ref = load()
    rng = np.random.default_rng(9707)
    with credit.part(1, "stable_log_softmax on (3, 11) logits of +-800, along dim 1 and dim 0"):
        logits = 800 * rng.standard_normal((3, 11))
        for dim in (1, 0):
            got, got_grad = value_and_grad(lambda x: mine.stable_log_softmax(x, dim=dim), logits,
                                           by_hand="stable_log_softmax")
            want, want_grad = value_and_grad(lambda x: ref.stable_log_softmax(x, dim=dim), logits)
            expect_close(f"stable_log_softmax(logits +-800, dim={dim})", got, want, rtol=1e-9,
                         atol=1e-9)
            expect_close(f"its gradient (dim={dim})", got_grad, want_grad, rtol=1e-6, atol=1e-9)
    with credit.part(1, "softmax_cross_entropy on 1 sample and on 17 samples with Tensor "
                        "targets; binary_cross_entropy at exactly 0 and 1"):
        for n in (1, 17):
            logits = 300 * rng.standard_normal((n, 6))
            targets = rng.integers(0, 6, n)
            for wrap in (np.asarray, lambda t: Tensor(t)):
                got, got_grad = value_and_grad(mine.softmax_cross_entropy, logits, wrap(targets),
                                               by_hand="softmax_cross_entropy")
                want, want_grad = value_and_grad(ref.softmax_cross_entropy, logits,
                                                 wrap(targets))
                expect_close(f"softmax_cross_entropy ({n} samples)", got, want, rtol=1e-9)
                expect_close(f"its gradient ({n} samples)", got_grad, want_grad, rtol=1e-6,
                             atol=1e-12)
        p = np.array([[0.0], [1.0], [0.3], [1.0], [0.0]])
        t = np.array([[0.0], [1.0], [1.0], [0.0], [1.0]])
        with np.errstate(all="ignore"):
            got = mine.binary_cross_entropy(Tensor(p), t).numpy()
        expect_close("binary_cross_entropy(p with exact 0s and 1s)", got,
                     ref.binary_cross_entropy(Tensor(p), t).numpy(), rtol=1e-5)
    with credit.part(1, "column_means and fill_missing on float64 (13, 4) data with NaN and "
                        "+-inf"):
        X = rng.standard_normal((13, 4)) * 10 + 50
        X[rng.random(X.shape) < 0.25] = np.nan
        X[2, 1], X[5, 3] = np.inf, -np.inf
        means = ref.column_means(X)
        expect_close("column_means(X with NaN and +-inf)", mine.column_means(X), means,
                     rtol=1e-9)
        filled = mine.fill_missing(X, means)
        expect(np.asarray(filled).dtype == np.float64, "fill_missing must keep float64")
        expect_close("fill_missing(X, means)", filled, ref.fill_missing(X, means), rtol=1e-9)
