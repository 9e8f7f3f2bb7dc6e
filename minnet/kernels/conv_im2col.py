"""im2col / col2im: turn a convolution into one matrix product.

A 2-D convolution slides a (C, kh, kw) filter over the input. ``im2col``
copies every patch the filter visits into one column of a matrix::

    cols[(c * kh + i) * kw + j, (n * out_h + oy) * out_w + ox]
        = x[n, c, oy * stride_h - pad_h + i, ox * stride_w - pad_w + j]   (0 outside)

so ``cols`` has shape (C * kh * kw, N * out_h * out_w). Row order matches
``weight.reshape(F, C * kh * kw)``, hence the whole forward pass is a single
BLAS product ``weight_matrix @ cols`` of shape (F, N * out_h * out_w).

``col2im`` is the adjoint (the backward of im2col): it adds each column entry
back onto the input pixel it was copied from. Pixels that several patches
share (stride < kernel) receive several contributions, which is exactly the
chain rule for a value that was used several times.

Each function comes twice: ``*_reference`` (plain NumPy, the readable
definition, also used when ``MINNET_NO_JIT=1``) and ``*_numba`` (compiled
loops; serial, see ``im2col_numba``).
"""
from __future__ import annotations

import numba
import numpy as np


# --------------------------------------------------------------------------
# NumPy references
# --------------------------------------------------------------------------
def _padded_window(padded: np.ndarray, i: int, j: int, stride_h: int, stride_w: int,
                   out_h: int, out_w: int) -> np.ndarray:
    """The (N, C, out_h, out_w) view of the entries that kernel tap (i, j) touches."""
    return padded[:, :, i:i + stride_h * out_h:stride_h, j:j + stride_w * out_w:stride_w]


def im2col_reference(x, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, out_h, out_w):
    """x (N, C, H, W) -> cols (C * kernel_h * kernel_w, N * out_h * out_w)."""
    n, c = x.shape[0], x.shape[1]
    padded = np.pad(x, ((0, 0), (0, 0), (pad_h, pad_h), (pad_w, pad_w)))
    # cols6[c, i, j, n, oy, ox]: one slab per kernel tap, filled with a strided view
    cols6 = np.empty((c, kernel_h, kernel_w, n, out_h, out_w), dtype=x.dtype)
    for i in range(kernel_h):
        for j in range(kernel_w):
            window = _padded_window(padded, i, j, stride_h, stride_w, out_h, out_w)
            cols6[:, i, j] = window.transpose(1, 0, 2, 3)
    return cols6.reshape(c * kernel_h * kernel_w, n * out_h * out_w)


def col2im_reference(cols, n, c, h, w, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w,
                     out_h, out_w):
    """cols (C * kernel_h * kernel_w, N * out_h * out_w) -> image gradient (N, C, H, W)."""
    cols6 = cols.reshape(c, kernel_h, kernel_w, n, out_h, out_w)
    padded = np.zeros((n, c, h + 2 * pad_h, w + 2 * pad_w), dtype=cols.dtype)
    for i in range(kernel_h):
        for j in range(kernel_w):
            window = _padded_window(padded, i, j, stride_h, stride_w, out_h, out_w)
            window += cols6[:, i, j].transpose(1, 0, 2, 3)  # a view: adds into `padded`
    return padded[:, :, pad_h:pad_h + h, pad_w:pad_w + w].copy()


# --------------------------------------------------------------------------
# Numba kernels
# --------------------------------------------------------------------------
@numba.njit(cache=True)
def _valid_range(n_out, stride, offset, size):
    """The outputs o in [lo, hi) whose input position o * stride + offset lies in [0, size)."""
    lo = 0
    if offset < 0:
        lo = (-offset + stride - 1) // stride
    hi = 0
    if size - offset > 0:
        hi = min(n_out, (size - offset + stride - 1) // stride)
    return lo, max(lo, hi)


@numba.njit(cache=True)
def im2col_numba(x, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, out_h, out_w):
    """Same contract as ``im2col_reference``.

    Speed notes, measured on the course CNN (benchmarks/bench_kernels.py):
    * Indices are made unsigned (``np.uint64``): Numba then drops its check
      for negative (wrap-around) indices, which otherwise keeps the copy loop
      from being vectorised -- about 3x faster here.
    * Serial on purpose: Numba's parallel worker threads, once started, slow
      down the multi-threaded BLAS product that follows on a 2-core machine.
    """
    n_images, channels, height, width = x.shape
    per_image = out_h * out_w
    cols = np.zeros((channels * kernel_h * kernel_w, n_images * per_image), dtype=x.dtype)
    x_flat = np.ascontiguousarray(x).reshape(-1)
    for c in range(channels):
        for i in range(kernel_h):
            oy_lo, oy_hi = _valid_range(out_h, stride_h, i - pad_h, height)
            for j in range(kernel_w):
                # only the columns whose patch has this tap inside the image; the rest stay 0
                ox_lo, ox_hi = _valid_range(out_w, stride_w, j - pad_w, width)
                cols_row = cols[(c * kernel_h + i) * kernel_w + j]
                for n in range(n_images):
                    for oy in range(oy_lo, oy_hi):
                        y = oy * stride_h - pad_h + i
                        dst = n * per_image + oy * out_w
                        # flat index of x[n, c, y, 0] shifted by the tap's column offset
                        src = ((n * channels + c) * height + y) * width + j - pad_w
                        for ox in range(ox_lo, ox_hi):
                            cols_row[np.uint64(dst + ox)] = x_flat[np.uint64(src + ox * stride_w)]
    return cols


@numba.njit(cache=True)
def col2im_numba(cols, n_images, channels, height, width, kernel_h, kernel_w, stride_h,
                 stride_w, pad_h, pad_w, out_h, out_w):
    """Same contract as ``col2im_reference`` (serial, unsigned indices: see ``im2col_numba``)."""
    per_image = out_h * out_w
    grad_x = np.zeros((n_images, channels, height, width), dtype=cols.dtype)
    grad_flat = grad_x.reshape(-1)
    for n in range(n_images):
        for c in range(channels):
            for i in range(kernel_h):
                oy_lo, oy_hi = _valid_range(out_h, stride_h, i - pad_h, height)
                for j in range(kernel_w):
                    ox_lo, ox_hi = _valid_range(out_w, stride_w, j - pad_w, width)
                    cols_row = cols[(c * kernel_h + i) * kernel_w + j]
                    for oy in range(oy_lo, oy_hi):
                        y = oy * stride_h - pad_h + i
                        src = n * per_image + oy * out_w
                        dst = ((n * channels + c) * height + y) * width + j - pad_w
                        for ox in range(ox_lo, ox_hi):
                            grad_flat[np.uint64(dst + ox * stride_w)] += \
                                cols_row[np.uint64(src + ox)]
    return grad_x
