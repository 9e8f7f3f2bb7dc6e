"""Hidden tests of lab 01 (used by `minnet grade` only): the layers on other shapes,
seeds and scales than the public tests, against the reference solution."""
import numpy as np
import pytest

from minnet.grading import expect, expect_close, expect_exact, reference
from minnet.grading.sandbox import sandboxed

# derivatives by the complex step are not derivations
HAND_WRITTEN = ("complex", "imag")


def load():
    """(student's layers.py in the sandbox, as the public tests load it; the reference)."""
    return sandboxed(__file__, "layers", allowed_imports=("numpy", "math"),
                     forbidden=HAND_WRITTEN), \
        reference(__file__, "layers")


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


@pytest.mark.points(3)
def test_hidden_layers_other_shapes(credit):
    layers, ref = load()
    rng = np.random.default_rng(9101)
    with credit.part(1, "affine forward and backward on a batch of 1 and on (19, 3) -> 2"):
        for n, d, m in ((1, 6, 4), (19, 3, 2)):
            x, w, b = rng.standard_normal((n, d)), rng.standard_normal((d, m)), rng.standard_normal(m)
            dout = rng.standard_normal((n, m))
            expect_close(f"affine_forward out ({n}x{d} @ {d}x{m})",
                         layers.affine_forward(x, w, b)[0], ref.affine_forward(x, w, b)[0])
            got = layers.affine_backward(dout, layers.affine_forward(x, w, b)[1])
            want = ref.affine_backward(dout, ref.affine_forward(x, w, b)[1])
            expect(isinstance(got, (tuple, list)) and len(got) == 3,
                   "affine_backward must return (dx, dw, db)")
            for name, g, e in zip(("dx", "dw", "db"), got, want):
                expect_exact(f"affine_backward {name} ({n}x{d} @ {d}x{m})", g, e)
    with credit.part(1, "relu and sigmoid backward on a 4-D input with exact zeros"):
        x = rng.standard_normal((2, 3, 4, 5)) * 4
        x[rng.random(x.shape) < 0.25] = 0.0
        dout = rng.standard_normal(x.shape)
        expect_relu_backward("relu_backward dx (4-D, exact zeros)",
                             layers.relu_backward(dout, layers.relu_forward(x)[1]), x, dout)
        expect_exact("sigmoid_backward dx (4-D)",
                     layers.sigmoid_backward(dout, layers.sigmoid_forward(x)[1]),
                     ref.sigmoid_backward(dout, ref.sigmoid_forward(x)[1]))
    with credit.part(1, "softmax_loss with 2 classes and 23 samples, mse_loss on (23, 1)"):
        scores, labels = 5 * rng.standard_normal((23, 2)), rng.integers(0, 2, size=23)
        loss, dx = layers.softmax_loss(scores, labels)
        want_loss, want_dx = ref.softmax_loss(scores, labels)
        expect_close("softmax_loss loss (23 x 2)", np.asarray(loss, dtype=float), want_loss)
        expect_exact("softmax_loss dx (23 x 2)", dx, want_dx)
        pred, target = rng.standard_normal((23, 1)), rng.standard_normal((23, 1))
        loss, dx = layers.mse_loss(pred, target)
        want_loss, want_dx = ref.mse_loss(pred, target)
        expect_close("mse_loss loss (23 x 1)", np.asarray(loss, dtype=float), want_loss)
        expect_exact("mse_loss dx (23 x 1)", dx, want_dx)
