"""Hidden tests of lab 11 (used by `minnet grade` only): both convolutions and max pooling on
other shapes, strides, paddings and seeds than the public tests, against the reference."""
import numpy as np
import pytest

from minnet.grading import LabFailure, expect, expect_close, expect_exact, reference
from minnet.grading.sandbox import sandboxed

# derivatives by the complex step are not derivations
HAND_WRITTEN = ("complex", "imag")


def load():
    """(student's conv_layers.py in the sandbox, as the public tests load it; the reference)."""
    return sandboxed(__file__, "conv_layers", allowed_imports=("numpy", "math"),
                     forbidden=HAND_WRITTEN), \
        reference(__file__, "conv_layers")


def expect_triple(what, got, want):
    expect(isinstance(got, (tuple, list)) and len(got) == 3,
           f"{what} must return (dx, dw, db)")
    for name, g, e in zip(("dx", "dw", "db"), got, want):
        expect_close(f"{what} {name}", g, e, rtol=1e-6, atol=1e-9)


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


@pytest.mark.points(3)
def test_hidden_conv_other_shapes(credit):
    layers, ref = load()
    rng = np.random.default_rng(11011)
    # (N, C, H, W), (F, kh, kw), stride, pad: a 1x1 kernel, a kernel as tall as the input,
    # stride 3 with padding 2, one image and one channel
    cases = [((1, 1, 6, 9), (2, 1, 1), 1, 0), ((3, 2, 5, 8), (3, 5, 3), 3, 2),
             ((2, 4, 9, 4), (1, 2, 4), 2, 1)]
    for label, (forward, backward) in (("naive", ("conv_forward_naive", "conv_backward_naive")),
                                       ("fast", ("conv_forward_fast", "conv_backward_fast"))):
        with credit.part(1, f"{label} convolution forward and backward on 1x1, 5x3 stride 3 "
                            "pad 2, and 2x4 stride 2 pad 1 kernels"):
            for (n, c, h, w), (f, kh, kw), stride, pad in cases:
                x, wt = rng.standard_normal((n, c, h, w)), rng.standard_normal((f, c, kh, kw))
                b = rng.standard_normal(f)
                what = f"{forward}(x {x.shape}, w {wt.shape}, stride={stride}, pad={pad})"
                out, cache = getattr(layers, forward)(x, wt, b, stride, pad)
                want, want_cache = getattr(ref, forward)(x, wt, b, stride, pad)
                expect_close(f"{what} out", out, want, rtol=1e-6, atol=1e-9)
                dout = rng.standard_normal(want.shape)
                expect_triple(f"{backward} after {what}", getattr(layers, backward)(dout, cache),
                              getattr(ref, backward)(dout, want_cache))
    with credit.part(1, "max pooling 3 x 1 with stride 2 and 2 x 2 with stride 1, with ties"):
        for (pool_h, pool_w, stride), shape in (((3, 1, 2), (2, 3, 7, 5)),
                                                ((2, 2, 1), (1, 2, 4, 6))):
            x = rng.integers(-3, 4, size=shape).astype(np.float64)     # many ties
            out, cache = layers.max_pool_forward_naive(x, pool_h, pool_w, stride)
            want, want_cache = ref.max_pool_forward_naive(x, pool_h, pool_w, stride)
            what = f"max_pool_forward_naive(x {shape}, {pool_h}, {pool_w}, stride={stride})"
            expect_close(f"{what} out", out, want)
            dout = rng.standard_normal(want.shape)
            expect_max_pool_subgradient(f"max_pool_backward_naive after {what}", layers, x,
                                        pool_h, pool_w, stride, dout)
