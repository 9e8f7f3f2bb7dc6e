"""Graded tests of lab 01 (backprop by hand): `pytest labs/01_backprop`.

Every function is checked three ways: its output against the reference
solution, its gradients against finite differences (minnet.gradcheck's
check_backward) and against the reference. Inputs are seeded random arrays
with prime-sized, pairwise different dimensions (N=7, D=11, M=5, C=13), so a
missing transpose or a sum over the wrong axis cannot hide behind equal sizes.
"""
import numpy as np
import pytest

from minnet.grading import (LabFailure, expect, expect_backward, expect_close, expect_exact,
                            reference)
from minnet.grading.sandbox import sandboxed

# derivatives by the complex step are not derivations
HAND_WRITTEN = ("complex", "imag")

N, D, M, C = 7, 11, 5, 13          # batch, input features, output features, classes


def load():
    """(student's layers.py, reference layers.py). The student's functions run in a sandbox
    process and may import only NumPy and math: a layers.py that wrapped minnet Tensors
    and called .backward() would pass without one derivation."""
    return sandboxed(__file__, "layers", allowed_imports=("numpy", "math"),
                     forbidden=HAND_WRITTEN), \
        reference(__file__, "layers")


def away_from_zero(rng, shape, margin=0.1):
    """Standard normal entries pushed to |x| >= margin: no ReLU kink for finite differences."""
    x = rng.standard_normal(shape)
    return np.where(np.abs(x) < margin, np.where(x < 0, -margin, margin), x)


def expect_backward_float64(forward, backward, *arrays, name):
    """``expect_backward``, once the forward is known to keep float64: finite differences of a
    forward that returns float32 are rounding noise (float32 keeps about 7 digits, the check
    needs about 10), and a right backward would then be reported as wrong."""
    dtype = np.asarray(forward(*arrays)[0]).dtype
    expect(dtype.kind != "f" or dtype.itemsize >= 8,
           f"{name}: the forward returns {dtype} for float64 inputs, so its finite differences "
           "are rounding noise (float32 keeps about 7 digits, the check needs about 10) and the "
           "backward cannot be checked against them. Keep float64 in the forward: np.zeros(shape) "
           "is float64 by default (or use dtype=x.dtype), and no .astype(np.float32).")
    return expect_backward(forward, backward, *arrays, name=name)


def expect_relu_backward(name, got, x, dout):
    """relu_backward's dx: dout where x > 0, 0 where x < 0, and where x is exactly 0 any slope
    from 0 to 1 times dout -- every one is a subgradient of max(0, x) at its kink (PyTorch
    takes 0, `x >= 0` masks take 1). Exact to float64 rounding."""
    want = dout * (x > 0)
    if np.shape(got) == x.shape:
        try:
            got_array = np.asarray(got, dtype=np.float64)
        except (TypeError, ValueError):
            got_array = None
        if got_array is not None:
            kink = (x == 0) & (dout != 0)
            slope = np.zeros(x.shape)
            slope[kink] = got_array[kink] / dout[kink]
            valid = kink & (slope >= 0.0) & (slope <= 1.0)
            want = np.where(valid, got_array, want)
    expect_exact(name, got, want)


def loss_as_layer(loss_fn, *fixed):
    """Turn ``loss, dx = loss_fn(x, *fixed)`` into a forward/backward pair for check_backward."""
    def forward(x):
        loss, _ = loss_fn(x, *fixed)
        return loss, x

    def backward(dout, x):
        _, dx = loss_fn(x, *fixed)
        return dout * dx

    return forward, backward


# ---------------------------------------------------------------------------
# affine
# ---------------------------------------------------------------------------
@pytest.mark.points(4)
def test_affine(credit):
    layers, ref = load()
    rng = np.random.default_rng(101)
    x, w, b = rng.standard_normal((N, D)), rng.standard_normal((D, M)), rng.standard_normal(M)
    # every part's data drawn here, before any part runs: a part that fails half-way must not
    # change the next part's inputs (a student repository replays the reference's results
    # recorded for exactly these)
    dout = rng.standard_normal((N, M))
    x2, w2 = rng.standard_normal((3, 2)), rng.standard_normal((2, 17))
    b2 = rng.standard_normal(17)
    dout2 = rng.standard_normal((3, 17))
    with credit.part(1, "affine_forward matches the reference"):
        out, _ = layers.affine_forward(x, w, b)
        expect_close("affine_forward(x, w, b) out", out, ref.affine_forward(x, w, b)[0])
    with credit.part(2, "affine_backward matches finite differences (check_backward) and is "
                        "exact"):
        expect_backward_float64(layers.affine_forward, layers.affine_backward, x, w, b,
                                name="affine_forward/affine_backward")
        got = layers.affine_backward(dout, layers.affine_forward(x, w, b)[1])
        for name, g, e in zip(("dx", "dw", "db"), got,
                              ref.affine_backward(dout, ref.affine_forward(x, w, b)[1])):
            expect_exact(f"affine_backward {name}", g, e)
    with credit.part(1, "affine_backward matches the reference on other shapes (N=3, D=2, M=17)"):
        got = layers.affine_backward(dout2, layers.affine_forward(x2, w2, b2)[1])
        expected = ref.affine_backward(dout2, ref.affine_forward(x2, w2, b2)[1])
        expect(isinstance(got, tuple) and len(got) == 3,
               f"affine_backward must return a tuple (dx, dw, db), got {type(got).__name__}"
               + (f" of length {len(got)}" if isinstance(got, (tuple, list)) else ""))
        for name, g, e in zip(("dx", "dw", "db"), got, expected):
            expect_exact(f"affine_backward {name}", g, e)


# ---------------------------------------------------------------------------
# ReLU
# ---------------------------------------------------------------------------
@pytest.mark.points(3)
def test_relu(credit):
    layers, ref = load()
    rng = np.random.default_rng(102)
    x = away_from_zero(rng, (N, D))
    dout = rng.standard_normal(x.shape)                # every part's data before the parts
    x0 = rng.standard_normal((M, C))
    x0[rng.random((M, C)) < 0.3] = 0.0                 # exact zeros: the kink itself
    dout0 = rng.standard_normal((M, C))                # signs unrelated to x0's
    with credit.part(1, "relu_forward matches the reference"):
        expect_close("relu_forward(x) out", layers.relu_forward(x)[0], ref.relu_forward(x)[0])
    with credit.part(1, "relu_backward matches finite differences (inputs away from the kink) "
                        "and is exact"):
        expect_backward_float64(layers.relu_forward, layers.relu_backward, x, name="relu")
        expect_exact("relu_backward dx", layers.relu_backward(dout, layers.relu_forward(x)[1]),
                     ref.relu_backward(dout, ref.relu_forward(x)[1]))
    with credit.part(1, "relu_backward at exactly x = 0 (a slope from 0 to 1: PyTorch's 0, a "
                        "mask x >= 0's 1), and the mask comes from x"):
        got = layers.relu_backward(dout0, layers.relu_forward(x0)[1])
        expect_relu_backward("relu_backward dx (x has exact zeros, dout has both signs)", got,
                             x0, dout0)


# ---------------------------------------------------------------------------
# sigmoid
# ---------------------------------------------------------------------------
@pytest.mark.points(3)
def test_sigmoid(credit):
    layers, ref = load()
    rng = np.random.default_rng(103)
    x = 3 * rng.standard_normal((N, D))
    dout = rng.standard_normal(x.shape)                # every part's data before the parts
    x3 = 2 * rng.standard_normal((2, 3, 17))
    dout3 = rng.standard_normal(x3.shape)
    with credit.part(1, "sigmoid_forward matches the reference"):
        expect_close("sigmoid_forward(x) out", layers.sigmoid_forward(x)[0],
                     ref.sigmoid_forward(x)[0])
    with credit.part(1, "sigmoid_backward matches finite differences (check_backward) and is "
                        "exact"):
        expect_backward_float64(layers.sigmoid_forward, layers.sigmoid_backward, x, name="sigmoid")
        expect_exact("sigmoid_backward dx",
                     layers.sigmoid_backward(dout, layers.sigmoid_forward(x)[1]),
                     ref.sigmoid_backward(dout, ref.sigmoid_forward(x)[1]))
    with credit.part(1, "sigmoid_backward matches the reference on another shape (2, 3, 17)"):
        got = layers.sigmoid_backward(dout3, layers.sigmoid_forward(x3)[1])
        expected = ref.sigmoid_backward(dout3, ref.sigmoid_forward(x3)[1])
        expect_exact("sigmoid_backward dx", got, expected)


# ---------------------------------------------------------------------------
# softmax cross-entropy
# ---------------------------------------------------------------------------
@pytest.mark.points(5)
def test_softmax_loss(credit):
    layers, ref = load()
    rng = np.random.default_rng(104)
    x = 2 * rng.standard_normal((N, C))
    y = rng.integers(0, C, size=N)
    x5, y5 = rng.standard_normal((5, 3)), rng.integers(0, 3, size=5)  # every part's data first
    big = x + 1000.0 * rng.choice([-1.0, 1.0], size=(N, 1))   # each row shifted by +-1000
    with credit.part(1, "softmax_loss: the loss matches the reference"):
        loss, _ = layers.softmax_loss(x, y)
        expect_close("softmax_loss(x, y) loss", np.asarray(loss, dtype=float),
                     np.asarray(ref.softmax_loss(x, y)[0]))
    with credit.part(2, "softmax_loss: dx matches finite differences of the loss"):
        forward, backward = loss_as_layer(layers.softmax_loss, y)
        expect_backward_float64(forward, backward, x, name="softmax_loss")
    with credit.part(1, "softmax_loss is a mean over the batch: a batch repeated twice gives "
                        "the same loss and half the gradient per copy"):
        loss1, dx1 = layers.softmax_loss(x5, y5)
        loss2, dx2 = layers.softmax_loss(np.concatenate([x5, x5]), np.concatenate([y5, y5]))
        doubled = ("repeating the batch doubles a sum over its samples but leaves a mean "
                   "alone: divide by the number of samples N (loss and dx)")
        expect_close("loss of the batch repeated twice (vs the loss of the batch)",
                     np.asarray(loss2, dtype=float), np.asarray(loss1, dtype=float),
                     hint=doubled)
        expect_close("dx of the first copy of the repeated batch (vs half the batch's dx)",
                     dx2[:5], dx1 / 2, hint=doubled)
        expect_exact("softmax_loss dx", dx1, ref.softmax_loss(x5, y5)[1])
    with credit.part(1, "softmax_loss is stable: scores around +-1000 give a finite loss and "
                        "gradient, the same as the scores shifted to 0"):
        expect_stable_softmax_loss(layers, x, y, big)
        loss_big, dx_big = layers.softmax_loss(big, y)
        # softmax is shift-invariant per row: compared with the same code on the unshifted
        # scores, so a scale mistake elsewhere (a missing 1/N) does not lose this point too
        loss_own, dx_own = layers.softmax_loss(x, y)
        expect_close("softmax_loss loss on scores +-1000 (vs your loss on the same scores "
                     "shifted to 0)", np.asarray(loss_big, dtype=float),
                     np.asarray(loss_own, dtype=float), rtol=1e-6, atol=1e-6)
        expect_close("softmax_loss dx on scores +-1000 (vs your dx on the same scores shifted "
                     "to 0)", dx_big, dx_own, rtol=1e-6, atol=1e-8)


def finite_result(layers, scores, y):
    """softmax_loss on ``scores``: (finite loss and dx?, what NumPy said) -- NumPy's warnings
    and errors caught, so that an overflow and an underflow can be told apart."""
    with np.errstate(all="ignore"):
        try:
            loss, dx = layers.softmax_loss(scores, y)
        except FloatingPointError as error:
            return False, str(error)
    return bool(np.all(np.isfinite(np.asarray(loss, dtype=float)))
                and np.all(np.isfinite(np.asarray(dx, dtype=float)))), ""


def expect_stable_softmax_loss(layers, x, y, big):
    """Scores around +-1000 give a finite loss and gradient; when they do not, say which of
    the two classic mistakes it is: no shift at all (exp(1000) overflows to inf) or one shift
    for the whole batch (a row far below the global maximum underflows to exp(...) = 0 in
    every entry, then log(0) = -inf and 0/0 = nan)."""
    finite, _ = finite_result(layers, big, y)
    if finite:
        return
    every_row_high, _ = finite_result(layers, x + 1000.0, y)
    if not every_row_high:
        raise LabFailure("softmax_loss gives inf/nan on scores around +1000: exp(1000) "
                         "overflows to inf. Hint: subtract each row's maximum before exp "
                         "(x - x.max(axis=1, keepdims=True)); softmax does not change.")
    raise LabFailure("softmax_loss is finite when every row's scores are around +1000, but not "
                     "when some rows are around +1000 and others around -1000: exp UNDERflows "
                     "there. Subtracting one maximum for the whole batch leaves the rows far "
                     "below it at exp(-2000) = 0 in every entry, then log(0) = -inf or 0/0 = nan. "
                     "Hint: subtract each row's own maximum (x.max(axis=1, keepdims=True)).")


# ---------------------------------------------------------------------------
# mean squared error
# ---------------------------------------------------------------------------
@pytest.mark.points(3)
def test_mse_loss(credit):
    layers, ref = load()
    rng = np.random.default_rng(105)
    x, target = rng.standard_normal((N, M)), rng.standard_normal((N, M))
    with credit.part(1, "mse_loss: the loss matches the reference (mean over all entries)"):
        loss, _ = layers.mse_loss(x, target)
        expect_close("mse_loss(x, target) loss", np.asarray(loss, dtype=float),
                     np.asarray(ref.mse_loss(x, target)[0]))
    with credit.part(1, "mse_loss: dx matches finite differences of the loss"):
        forward, backward = loss_as_layer(layers.mse_loss, target)
        expect_backward_float64(forward, backward, x, name="mse_loss")
    with credit.part(1, "mse_loss: dx matches the reference on another shape (13, 2)"):
        x2, t2 = rng.standard_normal((13, 2)), rng.standard_normal((13, 2))
        expect_exact("mse_loss dx", layers.mse_loss(x2, t2)[1], ref.mse_loss(x2, t2)[1])
