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
    ### BEGIN SOLUTION
    return (size + 2 * pad - kernel) // stride + 1
    ### END SOLUTION


def zero_pad(x, pad):
    """x (N, C, H, W) -> (N, C, H + 2 pad, W + 2 pad): ``pad`` zeros above, below, left
    and right of every image; the batch and channel axes are not padded."""
    ### BEGIN SOLUTION
    return np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    ### END SOLUTION


# ---------------------------------------------------------------------------
# Part 2: the naive convolution (explicit loops)
# ---------------------------------------------------------------------------
def conv_forward_naive(x, w, b, stride=1, pad=0):
    """x (N, C, H, W), w (F, C, kh, kw), b (F,) -> out (N, F, OH, OW), cache.

    OH = conv_output_size(H, kh, stride, pad), OW = conv_output_size(W, kw, stride, pad).
    Loop over images, filters and output positions; each output entry is the sum of
    one window of the padded input times the filter, plus the filter's bias.
    """
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    out_h, out_w = conv_output_size(H, kh, stride, pad), conv_output_size(W, kw, stride, pad)
    xp = zero_pad(x, pad)
    out = np.empty((N, F, out_h, out_w))
    for n in range(N):
        for f in range(F):
            for i in range(out_h):
                for j in range(out_w):
                    top, left = i * stride, j * stride
                    window = xp[n, :, top:top + kh, left:left + kw]     # (C, kh, kw)
                    out[n, f, i, j] = np.sum(window * w[f]) + b[f]
    ### END SOLUTION
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
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    out_h, out_w = dout.shape[2], dout.shape[3]
    xp = zero_pad(x, pad)
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    db = dout.sum(axis=(0, 2, 3))                  # b[f] is added at every n, i, j
    for n in range(N):
        for f in range(F):
            for i in range(out_h):
                for j in range(out_w):
                    top, left = i * stride, j * stride
                    grad = dout[n, f, i, j]
                    dw[f] += xp[n, :, top:top + kh, left:left + kw] * grad
                    dxp[n, :, top:top + kh, left:left + kw] += w[f] * grad
    dx = dxp[:, :, pad:pad + H, pad:pad + W]       # cut the padding off again
    ### END SOLUTION
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
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    out_h, out_w = conv_output_size(H, kh, stride, pad), conv_output_size(W, kw, stride, pad)
    xp = zero_pad(x, pad)
    patches = np.empty((C, kh, kw, N, out_h, out_w), dtype=xp.dtype)
    for di in range(kh):
        for dj in range(kw):
            rows = slice(di, di + stride * out_h, stride)     # di + stride * i, i < OH
            columns = slice(dj, dj + stride * out_w, stride)  # dj + stride * j, j < OW
            patches[:, di, dj] = xp[:, :, rows, columns].transpose(1, 0, 2, 3)  # (C, N, OH, OW)
    return patches.reshape(C * kh * kw, N * out_h * out_w)
    ### END SOLUTION


def col2im(dcols, x_shape, kh, kw, stride, pad):
    """The backward of im2col: dcols (C * kh * kw, N * OH * OW) -> dx of shape x_shape.

    Each entry of x was copied into every window that covers it, so its gradient
    is the *sum* of the gradients of all those copies; entries that landed in the
    padding are dropped.
    """
    ### BEGIN SOLUTION
    N, C, H, W = x_shape
    out_h, out_w = conv_output_size(H, kh, stride, pad), conv_output_size(W, kw, stride, pad)
    patches = dcols.reshape(C, kh, kw, N, out_h, out_w)
    dxp = np.zeros((N, C, H + 2 * pad, W + 2 * pad), dtype=dcols.dtype)
    for di in range(kh):
        for dj in range(kw):
            rows = slice(di, di + stride * out_h, stride)
            columns = slice(dj, dj + stride * out_w, stride)
            dxp[:, :, rows, columns] += patches[:, di, dj].transpose(1, 0, 2, 3)
    return dxp[:, :, pad:pad + H, pad:pad + W]
    ### END SOLUTION


def conv_forward_fast(x, w, b, stride=1, pad=0):
    """As conv_forward_naive, with one matrix product: x (N, C, H, W), w (F, C, kh, kw),
    b (F,) -> out (N, F, OH, OW), cache."""
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    out_h, out_w = conv_output_size(H, kh, stride, pad), conv_output_size(W, kw, stride, pad)
    cols = im2col(x, kh, kw, stride, pad)                        # (C*kh*kw, N*OH*OW)
    out_rows = w.reshape(F, -1) @ cols + b[:, None]              # (F, N*OH*OW)
    out = out_rows.reshape(F, N, out_h, out_w).transpose(1, 0, 2, 3)
    ### END SOLUTION
    cache = (x, w, stride, pad, cols)
    return out, cache


def conv_backward_fast(dout, cache):
    """dout (N, F, OH, OW) -> dx (N, C, H, W), dw (F, C, kh, kw), db (F,), with matrix
    products and col2im (no loop over windows)."""
    x, w, stride, pad, cols = cache
    ### BEGIN SOLUTION
    F, _, kh, kw = w.shape
    dout_rows = dout.transpose(1, 0, 2, 3).reshape(F, -1)         # (F, N*OH*OW), as out_rows
    db = dout_rows.sum(axis=1)
    dw = (dout_rows @ cols.T).reshape(w.shape)                   # sums over every window
    dcols = w.reshape(F, -1).T @ dout_rows                       # (C*kh*kw, N*OH*OW)
    dx = col2im(dcols, x.shape, kh, kw, stride, pad)
    ### END SOLUTION
    return dx, dw, db


# ---------------------------------------------------------------------------
# Part 4: max pooling (naive)
# ---------------------------------------------------------------------------
def max_pool_forward_naive(x, pool_h, pool_w, stride):
    """x (N, C, H, W) -> out (N, C, OH, OW), cache: the maximum of each pool_h x pool_w
    window, windows ``stride`` apart, no padding (OH = conv_output_size(H, pool_h, stride, 0))."""
    ### BEGIN SOLUTION
    N, C, H, W = x.shape
    out_h, out_w = conv_output_size(H, pool_h, stride, 0), conv_output_size(W, pool_w, stride, 0)
    out = np.empty((N, C, out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            row, col = i * stride, j * stride
            out[:, :, i, j] = x[:, :, row:row + pool_h, col:col + pool_w].max(axis=(2, 3))
    ### END SOLUTION
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
    ### BEGIN SOLUTION
    N, C, out_h, out_w = dout.shape
    dx = np.zeros_like(x)
    for n in range(N):
        for c in range(C):
            for i in range(out_h):
                for j in range(out_w):
                    row, col = i * stride, j * stride
                    window = x[n, c, row:row + pool_h, col:col + pool_w]
                    di, dj = np.unravel_index(np.argmax(window), window.shape)
                    dx[n, c, row + di, col + dj] += dout[n, c, i, j]
    ### END SOLUTION
    return dx
