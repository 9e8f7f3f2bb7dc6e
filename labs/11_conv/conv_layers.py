"""Lab 11 -- convolutions by hand: conv2d with loops, then vectorised with im2col; max pooling.

Layout as in PyTorch: images are (N, C, H, W) -- batch, channels, height, width --
and a conv weight is (F, C, kh, kw) -- filters, channels, kernel height, kernel
width. Layers are CS231n-style pairs, as in lab 01:

* ``forward(...) -> (out, cache)``, the cache holding what backward needs;
* ``backward(dout, cache) -> gradients``, one per input, shaped like the input.

Like every deep-learning library, "convolution" here is a *cross-correlation*:
the window is multiplied with the kernel as it is, not flipped::

    out[n, f, i, j] = b[f] + sum over c, di, dj of
                      xp[n, c, i * stride + di, j * stride + dj] * w[f, c, di, dj]

where xp is x with ``pad`` zeros added on all four sides of every image.

Check with ``minnet.gradcheck.check_backward`` and against minnet's own
``minnet.nn.functional.conv2d`` / ``max_pool2d`` (see the lab's README). Use
shapes whose sizes are all different (and prime): with H == W or kh == kw a
transposed axis goes unnoticed.
"""
import numpy as np


# ---------------------------------------------------------------------------
# Part 1: sizes and padding
# ---------------------------------------------------------------------------
def conv_output_size(size, kernel, stride, pad):
    """Number of window positions along one axis: input ``size``, window ``kernel``,
    step ``stride``, ``pad`` zeros on both ends. E.g. (7, 3, 2, 1) -> 4."""
    # YOUR CODE HERE
    raise NotImplementedError("conv_output_size: your code here")


def zero_pad(x, pad):
    """x (N, C, H, W) -> (N, C, H + 2 pad, W + 2 pad): ``pad`` zeros above, below, left
    and right of every image; the batch and channel axes are not padded."""
    # YOUR CODE HERE
    raise NotImplementedError("zero_pad: your code here")


# ---------------------------------------------------------------------------
# Part 2: the naive convolution (explicit loops)
# ---------------------------------------------------------------------------
def conv_forward_naive(x, w, b, stride=1, pad=0):
    """x (N, C, H, W), w (F, C, kh, kw), b (F,) -> out (N, F, OH, OW), cache.

    OH = conv_output_size(H, kh, stride, pad), OW = conv_output_size(W, kw, stride, pad).
    Loop over images, filters and output positions; each output entry is the sum of
    one window of the padded input times the filter, plus the filter's bias.
    """
    # YOUR CODE HERE
    raise NotImplementedError("conv_forward_naive: your code here")
    cache = (x, w, stride, pad)
    return out, cache


def conv_backward_naive(dout, cache):
    """dout (N, F, OH, OW) -> dx (N, C, H, W), dw (F, C, kh, kw), db (F,).

    Walk the same loops as the forward: the output entry out[n, f, i, j] received
    dout[n, f, i, j]; send it back to the window it was computed from (dx) and to
    the filter (dw). Entries of x in several windows, and the filter used at every
    position of every image, *add up* their contributions. The gradient of the
    padding zeros is thrown away at the end.
    """
    x, w, stride, pad = cache
    # YOUR CODE HERE
    raise NotImplementedError("conv_backward_naive: your code here")
    return dx, dw, db


# ---------------------------------------------------------------------------
# Part 3: the vectorised convolution (im2col)
# ---------------------------------------------------------------------------
def im2col(x, kh, kw, stride, pad):
    """x (N, C, H, W) -> cols (C * kh * kw, N * OH * OW): one column per window.

    Column ``n * OH * OW + i * OW + j`` holds the window of output position
    (n, i, j), flattened in the order (c, di, dj) -- the order of ``w[f].reshape(-1)``
    -- so that ``w.reshape(F, -1) @ cols`` is the whole convolution at once.
    Hint: loop over the kh * kw kernel offsets (di, dj), not over the windows: for
    one offset, ``xp[:, :, di::stride, dj::stride]`` (cut to OH x OW) holds that
    entry of every window.
    """
    # YOUR CODE HERE
    raise NotImplementedError("im2col: your code here")


def col2im(dcols, x_shape, kh, kw, stride, pad):
    """The backward of im2col: dcols (C * kh * kw, N * OH * OW) -> dx of shape x_shape.

    Each entry of x was copied into every window that covers it, so its gradient
    is the *sum* of the gradients of all those copies; entries that landed in the
    padding are dropped.
    """
    # YOUR CODE HERE
    raise NotImplementedError("col2im: your code here")


def conv_forward_fast(x, w, b, stride=1, pad=0):
    """As conv_forward_naive, with one matrix product: x (N, C, H, W), w (F, C, kh, kw),
    b (F,) -> out (N, F, OH, OW), cache."""
    # YOUR CODE HERE
    raise NotImplementedError("conv_forward_fast: your code here")
    cache = (x, w, stride, pad, cols)
    return out, cache


def conv_backward_fast(dout, cache):
    """dout (N, F, OH, OW) -> dx (N, C, H, W), dw (F, C, kh, kw), db (F,), with matrix
    products and col2im (no loop over windows)."""
    x, w, stride, pad, cols = cache
    # YOUR CODE HERE
    raise NotImplementedError("conv_backward_fast: your code here")
    return dx, dw, db


# ---------------------------------------------------------------------------
# Part 4: max pooling (naive)
# ---------------------------------------------------------------------------
def max_pool_forward_naive(x, pool_h, pool_w, stride):
    """x (N, C, H, W) -> out (N, C, OH, OW), cache: the maximum of each pool_h x pool_w
    window, windows ``stride`` apart, no padding (OH = conv_output_size(H, pool_h, stride, 0))."""
    # YOUR CODE HERE
    raise NotImplementedError("max_pool_forward_naive: your code here")
    cache = (x, pool_h, pool_w, stride)
    return out, cache


def max_pool_backward_naive(dout, cache):
    """dout (N, C, OH, OW) -> dx (N, C, H, W).

    Each window's gradient goes to the one entry that was its maximum. When several
    entries tie, send it to the first of them in row-major order (what np.argmax
    returns, and what PyTorch does); the last one, or equal shares of it, are
    subgradients too and accepted, but not all of it to every tied entry.
    Overlapping windows (stride < pool size) can share a maximum: their gradients
    add up.
    """
    x, pool_h, pool_w, stride = cache
    # YOUR CODE HERE
    raise NotImplementedError("max_pool_backward_naive: your code here")
    return dx
