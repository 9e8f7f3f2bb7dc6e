"""Direct convolution loops: the alternative to im2col + matrix product.

Written straight from the definition (no bias; the op adds it)::

    out[n, f, oy, ox] = sum over c, i, j of
        weight[f, c, i, j] * x[n, c, oy * stride_h - pad_h + i, ox * stride_w - pad_w + j]

and its two gradients. The op layer (``minnet/ops/conv.py``) uses im2col
because it measured faster (``conv_im2col.py``) on the course CNN (see
``benchmarks/bench_kernels.py``); these loops stay for that comparison and
as a second, independent statement of what a convolution computes.

References (``*_reference``) loop over the kh * kw kernel taps and let NumPy
do a small tensor contraction per tap; the Numba kernels loop over every
index. Their outer loop is a ``prange`` over the batch (forward, input
gradient) or over the output channels (weight gradient), so no two threads
would write the same memory; they are compiled serial here because they are
not used in training, and the benchmark compiles a ``parallel=True`` copy
(``numba.njit(parallel=True)(kernel.py_func)``) to compare both.
"""
from __future__ import annotations

import numba
import numpy as np


# --------------------------------------------------------------------------
# NumPy references
# --------------------------------------------------------------------------
def _tap(array, i, j, stride_h, stride_w, out_h, out_w):
    """The (N, C, out_h, out_w) strided view that kernel tap (i, j) multiplies."""
    return array[:, :, i:i + stride_h * out_h:stride_h, j:j + stride_w * out_w:stride_w]


def conv2d_forward_reference(x, weight, stride_h, stride_w, pad_h, pad_w, out_h, out_w):
    """x (N, C, H, W), weight (F, C, kh, kw) -> out (N, F, out_h, out_w)."""
    padded = np.pad(x, ((0, 0), (0, 0), (pad_h, pad_h), (pad_w, pad_w)))
    out = np.zeros((x.shape[0], weight.shape[0], out_h, out_w), dtype=x.dtype)
    for i in range(weight.shape[2]):
        for j in range(weight.shape[3]):
            window = _tap(padded, i, j, stride_h, stride_w, out_h, out_w)
            out += np.einsum("nchw,fc->nfhw", window, weight[:, :, i, j])
    return out


def conv2d_grad_input_reference(grad_out, weight, height, width, stride_h, stride_w, pad_h,
                                pad_w):
    """grad_out (N, F, out_h, out_w) -> dL/dx (N, C, height, width)."""
    n, _, out_h, out_w = grad_out.shape
    padded = np.zeros((n, weight.shape[1], height + 2 * pad_h, width + 2 * pad_w),
                      dtype=grad_out.dtype)
    for i in range(weight.shape[2]):
        for j in range(weight.shape[3]):
            window = _tap(padded, i, j, stride_h, stride_w, out_h, out_w)
            window += np.einsum("nfhw,fc->nchw", grad_out, weight[:, :, i, j])
    return padded[:, :, pad_h:pad_h + height, pad_w:pad_w + width].copy()


def conv2d_grad_weight_reference(x, grad_out, kernel_h, kernel_w, stride_h, stride_w, pad_h,
                                 pad_w):
    """x (N, C, H, W), grad_out (N, F, out_h, out_w) -> dL/dweight (F, C, kh, kw)."""
    out_h, out_w = grad_out.shape[2], grad_out.shape[3]
    padded = np.pad(x, ((0, 0), (0, 0), (pad_h, pad_h), (pad_w, pad_w)))
    grad_weight = np.empty((grad_out.shape[1], x.shape[1], kernel_h, kernel_w), dtype=x.dtype)
    for i in range(kernel_h):
        for j in range(kernel_w):
            window = _tap(padded, i, j, stride_h, stride_w, out_h, out_w)
            grad_weight[:, :, i, j] = np.einsum("nfhw,nchw->fc", grad_out, window)
    return grad_weight


# --------------------------------------------------------------------------
# Numba kernels
# --------------------------------------------------------------------------
@numba.njit(cache=True)
def conv2d_forward_numba(x, weight, stride_h, stride_w, pad_h, pad_w, out_h, out_w):
    n_images, channels, height, width = x.shape
    n_filters, _, kernel_h, kernel_w = weight.shape
    out = np.zeros((n_images, n_filters, out_h, out_w), dtype=x.dtype)
    for n in numba.prange(n_images):
        for f in range(n_filters):
            for c in range(channels):
                for i in range(kernel_h):
                    for j in range(kernel_w):
                        w = weight[f, c, i, j]
                        for oy in range(out_h):
                            y = oy * stride_h - pad_h + i
                            if y < 0 or y >= height:
                                continue
                            for ox in range(out_w):
                                xx = ox * stride_w - pad_w + j
                                if 0 <= xx < width:
                                    out[n, f, oy, ox] += w * x[n, c, y, xx]
    return out


@numba.njit(cache=True)
def conv2d_grad_input_numba(grad_out, weight, height, width, stride_h, stride_w, pad_h, pad_w):
    n_images, n_filters, out_h, out_w = grad_out.shape
    _, channels, kernel_h, kernel_w = weight.shape
    grad_x = np.zeros((n_images, channels, height, width), dtype=grad_out.dtype)
    for n in numba.prange(n_images):
        for f in range(n_filters):
            for c in range(channels):
                for i in range(kernel_h):
                    for j in range(kernel_w):
                        w = weight[f, c, i, j]
                        for oy in range(out_h):
                            y = oy * stride_h - pad_h + i
                            if y < 0 or y >= height:
                                continue
                            for ox in range(out_w):
                                xx = ox * stride_w - pad_w + j
                                if 0 <= xx < width:
                                    grad_x[n, c, y, xx] += w * grad_out[n, f, oy, ox]
    return grad_x


@numba.njit(cache=True)
def conv2d_grad_weight_numba(x, grad_out, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w):
    n_images, channels, height, width = x.shape
    n_filters, out_h, out_w = grad_out.shape[1], grad_out.shape[2], grad_out.shape[3]
    grad_weight = np.zeros((n_filters, channels, kernel_h, kernel_w), dtype=x.dtype)
    for f in numba.prange(n_filters):
        for n in range(n_images):
            for c in range(channels):
                for i in range(kernel_h):
                    for j in range(kernel_w):
                        total = 0.0
                        for oy in range(out_h):
                            y = oy * stride_h - pad_h + i
                            if y < 0 or y >= height:
                                continue
                            for ox in range(out_w):
                                xx = ox * stride_w - pad_w + j
                                if 0 <= xx < width:
                                    total += grad_out[n, f, oy, ox] * x[n, c, y, xx]
                        grad_weight[f, c, i, j] += total
    return grad_weight
