"""Graded tests of lab 11 (convolutions): `pytest labs/11_conv`.

Two independent references: minnet's own conv2d / max_pool2d (their outputs, and
their gradients through minnet's autograd) and finite differences
(minnet.gradcheck.check_backward); plus the reference solution where the lab fixes
a layout of its own (im2col). Every shape uses sizes that are all different
(N=2, C=3, H=7, W=5, F=4, kernel 3 x 2, outputs 4 x 3 ...), so transposed axes
cannot hide behind equal sizes.
"""
import numpy as np
import pytest

import minnet
import minnet.nn.functional as F
from minnet.grading import (LabFailure, expect, expect_backward, expect_close, expect_exact,
                            reference)
from minnet.grading.sandbox import sandboxed

# derivatives by the complex step are not derivations
HAND_WRITTEN = ("complex", "imag")
from minnet.ops.conv import conv_output_size as minnet_output_size


def load():
    """(student's conv_layers.py, reference conv_layers.py). The student's functions run in
    a sandbox process and may import only NumPy and math: the tests compare with minnet's
    conv2d/max_pool2d, which a student file could otherwise simply call."""
    return sandboxed(__file__, "conv_layers", allowed_imports=("numpy", "math"),
                     forbidden=HAND_WRITTEN), \
        reference(__file__, "conv_layers")


def conv_data(rng, n=2, c=3, h=7, w=5, f=4, kh=3, kw=2):
    """x (n, c, h, w), weight (f, c, kh, kw), bias (f,): seeded standard normal."""
    return (rng.standard_normal((n, c, h, w)), rng.standard_normal((f, c, kh, kw)),
            rng.standard_normal(f))


def minnet_conv(x, w, b, stride, pad, upstream=None):
    """minnet's conv2d: the output, and with ``upstream`` (= dL/d(out)) also (dx, dw, db)."""
    tx, tw, tb = (minnet.tensor(a, requires_grad=True) for a in (x, w, b))
    out = F.conv2d(tx, tw, tb, stride=stride, padding=pad)
    if upstream is None:
        return out.detach().numpy()
    (out * minnet.tensor(upstream)).sum().backward()
    return out.detach().numpy(), (tx.grad.numpy(), tw.grad.numpy(), tb.grad.numpy())


def minnet_pool(x, pool_h, pool_w, stride, upstream):
    """minnet's max_pool2d: (out, dx) for dL/d(out) = upstream."""
    tx = minnet.tensor(x, requires_grad=True)
    out = F.max_pool2d(tx, (pool_h, pool_w), stride=stride)
    (out * minnet.tensor(upstream)).sum().backward()
    return out.detach().numpy(), tx.grad.numpy()


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


def expect_max_pool_subgradient(what, layers, x, pool_h, pool_w, stride, upstream):
    """max_pool_backward_naive on an input with ties: each window's gradient goes to its maximum
    entries only, in shares >= 0 that add up to 1 -- all of it to the first maximum (np.argmax's
    choice, and PyTorch's), to the last, or split among the tied entries: every such rule is a
    subgradient of the maximum. Probed one output position at a time (dout 1 there, 0
    elsewhere), which gives each window's shares; then dx for ``upstream`` must be those shares
    times upstream, added up (overlapping windows add)."""
    cache = layers.max_pool_forward_naive(x, pool_h, pool_w, stride)[1]
    got = layers.max_pool_backward_naive(upstream, cache)
    expect(np.shape(got) == x.shape, f"{what}: dx has shape {np.shape(got)}, expected the "
                                     f"input's shape {x.shape}")
    combined = np.zeros(x.shape)
    for i in range(upstream.shape[2]):
        for j in range(upstream.shape[3]):
            rows = slice(i * stride, i * stride + pool_h)
            columns = slice(j * stride, j * stride + pool_w)
            probe = np.zeros(upstream.shape)
            probe[:, :, i, j] = 1.0
            share = np.asarray(layers.max_pool_backward_naive(probe, cache), dtype=np.float64)
            expect(share.shape == x.shape, f"{what}: dx has shape {share.shape}, expected "
                                           f"{x.shape}")
            window = x[:, :, rows, columns]
            maxima = np.zeros(x.shape, dtype=bool)
            maxima[:, :, rows, columns] = window == window.max(axis=(2, 3), keepdims=True)
            where = f"the window of output [n, c, {i}, {j}] (rows {rows.start}..{rows.stop - 1}, " \
                    f"columns {columns.start}..{columns.stop - 1} of x)"
            if np.any(share[~maxima]):
                stray = list(map(int, np.argwhere((share != 0) & ~maxima)[0]))
                raise LabFailure(f"{what}: {where} sends gradient to an entry that is not its "
                                 f"maximum (first at x{stray}): only the maximum produced the "
                                 "output")
            expect(np.all(share >= 0), f"{what}: {where} sends a negative share of its gradient "
                                       "to a maximum")
            totals = share.sum(axis=(2, 3))
            if not np.allclose(totals, 1.0, rtol=0, atol=1e-12):
                n, c = map(int, np.argwhere(~np.isclose(totals, 1.0, rtol=0, atol=1e-12))[0])
                tied = int(maxima[n, c].sum())
                everyone = tied > 1 and np.isclose(totals[n, c], tied)
                raise LabFailure(
                    f"{what}: {where} passes on {totals[n, c]:.6g} times its gradient (n={n}, "
                    f"c={c}), not exactly once"
                    + (f": each of its {tied} tied maxima got all of it (a mask window == "
                       "window.max()?). Send it to one of them (np.argmax's first, as PyTorch) "
                       "or split it among them." if everyone else "."))
            combined += upstream[:, :, i, j][:, :, None, None] * share
    expect_exact(f"{what} dx (vs each window's shares times dout, added up)", got, combined)


def expect_gradients(what, got, expected):
    """Compare a (dx, dw, db) tuple entry by entry, with a message for a wrong return value."""
    expect(isinstance(got, (tuple, list)) and len(got) == 3,
           f"{what} must return a tuple (dx, dw, db), got {type(got).__name__}"
           + (f" of length {len(got)}" if isinstance(got, (tuple, list)) else ""))
    for name, g, e in zip(("dx", "dw", "db"), got, expected):
        expect_close(f"{what} {name}", g, e, rtol=1e-6, atol=1e-9)


# ---------------------------------------------------------------------------
# Part 1: sizes and padding
# ---------------------------------------------------------------------------
@pytest.mark.points(2)
def test_output_size_and_padding(credit):
    layers, ref = load()
    with credit.part(1, "conv_output_size agrees with minnet's (PyTorch's) formula"):
        for size in range(1, 12):
            for kernel in range(1, 5):
                for stride in range(1, 4):
                    for pad in range(3):
                        if size + 2 * pad < kernel:
                            continue
                        got = layers.conv_output_size(size, kernel, stride, pad)
                        want = minnet_output_size(size, kernel, stride, pad)
                        expect(got == want, f"conv_output_size(size={size}, kernel={kernel}, "
                                            f"stride={stride}, pad={pad}) returned {got}; "
                                            f"expected {want}")
    with credit.part(1, "zero_pad pads H and W on both sides with zeros, nothing else"):
        rng = np.random.default_rng(1101)
        x = rng.standard_normal((2, 3, 7, 5))
        for pad in (1, 2):
            expect_close(f"zero_pad(x, {pad})", layers.zero_pad(x, pad), ref.zero_pad(x, pad))


# ---------------------------------------------------------------------------
# Part 2: naive convolution
# ---------------------------------------------------------------------------
@pytest.mark.points(5)
def test_conv_naive(credit):
    layers, _ = load()
    rng = np.random.default_rng(1102)
    x, w, b = conv_data(rng)
    with credit.part(1, "conv_forward_naive matches minnet's conv2d (stride 1, pad 0)"):
        expect_close("conv_forward_naive(x, w, b, stride=1, pad=0) out",
                     layers.conv_forward_naive(x, w, b, 1, 0)[0], minnet_conv(x, w, b, 1, 0))
    with credit.part(1, "conv_forward_naive matches minnet's conv2d (stride 2, pad 1)"):
        expect_close("conv_forward_naive(x, w, b, stride=2, pad=1) out",
                     layers.conv_forward_naive(x, w, b, 2, 1)[0], minnet_conv(x, w, b, 2, 1))
    with credit.part(2, "conv_backward_naive matches finite differences (stride 2, pad 1)"):
        expect_backward_float64(lambda x, w, b: layers.conv_forward_naive(x, w, b, 2, 1),
                                layers.conv_backward_naive, x, w, b,
                                name="conv naive, stride 2, pad 1")
    with credit.part(1, "conv_backward_naive matches minnet's autograd (other shapes, stride 1, "
                        "pad 2 and pad 0)"):
        x2, w2, b2 = conv_data(rng, n=3, c=2, h=5, w=6, f=3, kh=2, kw=3)
        upstream = rng.standard_normal(minnet_conv(x2, w2, b2, 1, 2).shape)
        _, expected = minnet_conv(x2, w2, b2, 1, 2, upstream)
        got = layers.conv_backward_naive(upstream, layers.conv_forward_naive(x2, w2, b2, 1, 2)[1])
        expect_gradients("conv_backward_naive (stride 1, pad 2)", got, expected)
        # pad 0: cutting the padding off with dxp[:, :, pad:-pad, pad:-pad] leaves nothing
        # there (-0 is 0): the bug students' solutions made most often
        upstream = rng.standard_normal(minnet_conv(x2, w2, b2, 1, 0).shape)
        _, expected = minnet_conv(x2, w2, b2, 1, 0, upstream)
        got = layers.conv_backward_naive(upstream, layers.conv_forward_naive(x2, w2, b2, 1, 0)[1])
        empty = (isinstance(got, (tuple, list)) and len(got) == 3
                 and 0 in np.shape(got[0]) and 0 not in x2.shape)
        expect(not empty, f"conv_backward_naive with pad=0 returned dx of shape "
                          f"{np.shape(got[0]) if empty else ''}, expected {x2.shape}: a slice "
                          "like dxp[:, :, pad:-pad, pad:-pad] is empty when pad is 0 (-0 is 0). "
                          "Hint: cut with dxp[:, :, pad:pad + H, pad:pad + W].")
        expect_gradients("conv_backward_naive (stride 1, pad 0)", got, expected)


# ---------------------------------------------------------------------------
# Part 3: im2col and the fast convolution
# ---------------------------------------------------------------------------
@pytest.mark.points(3)
def test_im2col(credit):
    layers, ref = load()
    # each part has its own generator: a part that fails half-way cannot change the data of
    # the next (whose reference result a student release replays)
    rng = np.random.default_rng(1103)
    x = rng.standard_normal((2, 3, 7, 5))
    with credit.part(1, "im2col matches the reference layout (kernel 3 x 2, stride 2, pad 1)"):
        expect_close("im2col(x, 3, 2, stride=2, pad=1)", layers.im2col(x, 3, 2, 2, 1),
                     ref.im2col(x, 3, 2, 2, 1))
    with credit.part(1, "col2im is the adjoint of im2col: sum(im2col(x) * c) == sum(x * "
                        "col2im(c)) (overlapping windows add up)"):
        rng = np.random.default_rng(1113)
        x3 = rng.standard_normal((3, 2, 6, 7))
        cols = np.asarray(layers.im2col(x3, 3, 2, 1, 1))
        c = rng.standard_normal(cols.shape)
        back = np.asarray(layers.col2im(c, x3.shape, 3, 2, 1, 1))
        expect(back.shape == x3.shape, f"col2im returned shape {back.shape}; expected the "
                                       f"input's shape {x3.shape}")
        expect_close("sum(x * col2im(c)) (vs sum(im2col(x) * c))", np.sum(x3 * back),
                     np.sum(cols * c), rtol=1e-9, atol=1e-9)
    with credit.part(1, "col2im matches the reference (kernel 2 x 3, stride 2, pad 2)"):
        rng = np.random.default_rng(1123)
        x4 = rng.standard_normal((2, 3, 5, 7))
        c4 = rng.standard_normal(ref.im2col(x4, 2, 3, 2, 2).shape)
        expect_close("col2im(c, x.shape, 2, 3, stride=2, pad=2)",
                     layers.col2im(c4, x4.shape, 2, 3, 2, 2), ref.col2im(c4, x4.shape, 2, 3, 2, 2))


@pytest.mark.points(5)
def test_conv_fast(credit):
    layers, _ = load()
    rng = np.random.default_rng(1104)
    x, w, b = conv_data(rng)
    with credit.part(1, "conv_forward_fast matches minnet's conv2d (stride 1, pad 0)"):
        expect_close("conv_forward_fast(x, w, b, stride=1, pad=0) out",
                     layers.conv_forward_fast(x, w, b, 1, 0)[0], minnet_conv(x, w, b, 1, 0))
    with credit.part(1, "conv_forward_fast matches minnet's conv2d (other shapes, stride 2, "
                        "pad 1)"):
        x2, w2, b2 = conv_data(rng, n=3, c=2, h=11, w=13, f=5, kh=3, kw=5)
        expect_close("conv_forward_fast(x, w, b, stride=2, pad=1) out",
                     layers.conv_forward_fast(x2, w2, b2, 2, 1)[0], minnet_conv(x2, w2, b2, 2, 1))
    with credit.part(2, "conv_backward_fast matches minnet's autograd (stride 2, pad 1)"):
        upstream = rng.standard_normal(minnet_conv(x, w, b, 2, 1).shape)
        _, expected = minnet_conv(x, w, b, 2, 1, upstream)
        got = layers.conv_backward_fast(upstream, layers.conv_forward_fast(x, w, b, 2, 1)[1])
        expect_gradients("conv_backward_fast", got, expected)
    with credit.part(1, "conv_backward_fast matches finite differences (stride 1, pad 1)"):
        x3, w3, b3 = conv_data(rng, n=2, c=2, h=5, w=7, f=3, kh=3, kw=2)
        expect_backward_float64(lambda x, w, b: layers.conv_forward_fast(x, w, b, 1, 1),
                                layers.conv_backward_fast, x3, w3, b3,
                                name="conv fast, stride 1, pad 1")


# ---------------------------------------------------------------------------
# Part 4: max pooling
# ---------------------------------------------------------------------------
@pytest.mark.points(4)
def test_max_pool(credit):
    layers, _ = load()
    rng = np.random.default_rng(1105)
    x = rng.standard_normal((2, 3, 7, 11))
    with credit.part(1, "max_pool_forward_naive matches minnet's max_pool2d (pool 2 x 3, "
                        "stride 2)"):
        expected_out, _ = minnet_pool(x, 2, 3, 2, rng.standard_normal((2, 3, 3, 5)))
        expect_close("max_pool_forward_naive(x, 2, 3, stride=2) out",
                     layers.max_pool_forward_naive(x, 2, 3, 2)[0], expected_out)
    with credit.part(1, "max_pool_backward_naive matches finite differences (no ties)"):
        expect_backward_float64(lambda x: layers.max_pool_forward_naive(x, 2, 3, 2),
                                layers.max_pool_backward_naive, x, name="max pool, 2 x 3, stride 2")
    with credit.part(1, "max_pool_backward_naive with ties: each window's gradient goes to its "
                        "maximum once (to the first, as minnet/PyTorch, or shared among the tied "
                        "ones), not to every tied entry"):
        ties = rng.integers(0, 3, size=(2, 3, 6, 5)).astype(np.float64)   # many equal maxima
        upstream = rng.standard_normal((2, 3, 3, 2))
        expect_max_pool_subgradient("max_pool_backward_naive (input with ties, pool 2 x 2, "
                                    "stride 2)", layers, ties, 2, 2, 2, upstream)
    with credit.part(1, "max pooling with overlapping windows (pool 3 x 2, stride 1): the "
                        "output, and shared maxima add up in the backward"):
        x5 = rng.standard_normal((2, 2, 5, 7))
        upstream = rng.standard_normal((2, 2, 3, 6))
        expected_out, expected = minnet_pool(x5, 3, 2, 1, upstream)
        out, cache = layers.max_pool_forward_naive(x5, 3, 2, 1)
        # a pool 3 high and 2 wide: an output size computed from the pool height alone is one
        # column short here
        expect_close("max_pool_forward_naive(x, 3, 2, stride=1) out", out, expected_out)
        got = layers.max_pool_backward_naive(upstream, cache)
        expect_close("max_pool_backward_naive dx (pool 3 x 2, stride 1)", got, expected)
