"""conv2d as matrix products: im2col, col2im, and the forward and backward built on them.

``im2col`` copies every patch a filter visits into a column: ``cols`` (N, C*kh*kw,
out_h*out_w), rows ordered as ``weight.reshape(F, C*kh*kw)`` (W). Per image,
``out[n] = W @ cols[n]`` (already NCHW), ``dL/dW = sum_n dOut[n] @ cols[n]^T`` and
``dL/dx[n] = col2im(W^T @ dOut[n])``; col2im, im2col's adjoint, adds each entry back
onto its pixel (a pixel in several patches gets several contributions). Each function
is a NumPy ``*_reference`` (the definition) and a ``*_numba`` run on chunks of the
batch (``threads.py``), summed per image in order: thread count never changes results.
"""
from __future__ import annotations

import numba
import numpy as np

from .threads import for_each_chunk


# --------------------------------------------------------------------------
# NumPy references
# --------------------------------------------------------------------------
def _padded_window(padded: np.ndarray, i: int, j: int, stride_h: int, stride_w: int,
                   out_h: int, out_w: int) -> np.ndarray:
    """The (N, C, out_h, out_w) view of the entries that kernel tap (i, j) touches."""
    return padded[:, :, i:i + stride_h * out_h:stride_h, j:j + stride_w * out_w:stride_w]


def im2col_reference(x, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, out_h, out_w):
    """x (N, C, H, W) -> cols (N, C * kernel_h * kernel_w, out_h * out_w)."""
    n, c = x.shape[0], x.shape[1]
    padded = np.pad(x, ((0, 0), (0, 0), (pad_h, pad_h), (pad_w, pad_w)))
    # cols6[n, c, i, j, oy, ox]: one slab per kernel tap, filled with a strided view
    cols6 = np.empty((n, c, kernel_h, kernel_w, out_h, out_w), dtype=x.dtype)
    for i in range(kernel_h):
        for j in range(kernel_w):
            cols6[:, :, i, j] = _padded_window(padded, i, j, stride_h, stride_w, out_h, out_w)
    return cols6.reshape(n, c * kernel_h * kernel_w, out_h * out_w)


def col2im_reference(cols, n, c, h, w, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w,
                     out_h, out_w):
    """cols (N, C * kernel_h * kernel_w, out_h * out_w) -> image gradient (N, C, H, W)."""
    cols6 = cols.reshape(n, c, kernel_h, kernel_w, out_h, out_w)
    padded = np.zeros((n, c, h + 2 * pad_h, w + 2 * pad_w), dtype=cols.dtype)
    for i in range(kernel_h):
        for j in range(kernel_w):
            window = _padded_window(padded, i, j, stride_h, stride_w, out_h, out_w)
            window += cols6[:, :, i, j]  # a view: adds into `padded`
    return padded[:, :, pad_h:pad_h + h, pad_w:pad_w + w].copy()


def conv2d_forward_reference(x, weight_matrix, bias, kernel_h, kernel_w, stride_h, stride_w,
                             pad_h, pad_w, out_h, out_w):
    """x (N, C, H, W), W (F, C*kh*kw), bias (F,) or None -> (out (N, F, out_h, out_w), cols)."""
    cols = im2col_reference(x, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w,
                            out_h, out_w)
    out = np.matmul(weight_matrix, cols)  # (N, F, out_h * out_w): one product per image
    if bias is not None:
        out += bias[:, None]
    return out.reshape(x.shape[0], weight_matrix.shape[0], out_h, out_w), cols


def conv2d_backward_reference(grad_out, cols, weight_matrix, height, width, kernel_h, kernel_w,
                              stride_h, stride_w, pad_h, pad_w, want_input, want_weight,
                              want_bias):
    """grad_out (N, F, out_h, out_w) -> (dL/dx (N, C, H, W), dL/dW (F, C*kh*kw), dL/dbias (F,)).

    Each gradient is None unless wanted (``want_input``, ...).
    """
    n_images, n_filters, out_h, out_w = grad_out.shape
    grad3 = grad_out.reshape(n_images, n_filters, out_h * out_w)
    grad_x = grad_weight = grad_bias = None
    if want_input:
        grad_cols = np.matmul(weight_matrix.T, grad3)  # (N, C*kh*kw, out_h * out_w)
        grad_x = col2im_reference(grad_cols, n_images, weight_matrix.shape[1] // (
            kernel_h * kernel_w), height, width, kernel_h, kernel_w, stride_h, stride_w,
            pad_h, pad_w, out_h, out_w)
    if want_weight:
        patches = cols[:, :weight_matrix.shape[1]]  # (the Numba forward adds a row of ones)
        grad_weight = np.matmul(grad3, patches.transpose(0, 2, 1)).sum(axis=0)
    if want_bias:
        grad_bias = grad3.sum(axis=(0, 2))
    return grad_x, grad_weight, grad_bias


# --------------------------------------------------------------------------
# Numba kernels: loops over the images [first, last) of a batch
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


@numba.njit(cache=True, nogil=True)
def _im2col_into(x, cols, first, last, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w,
                 out_h, out_w):
    """Fill cols[n, :C*kh*kw] with image n's patches, for n in [first, last).

    Indices are unsigned (``np.uint64``): Numba then drops its check for
    negative (wrap-around) indices, which otherwise keeps the copy loop from
    being vectorised (timings: docs/performance.md). Zeroing the whole block
    first and then copying only the in-image part of each row is faster than
    zeroing the border pieces one by one.
    """
    _, channels, height, width = x.shape
    patch = channels * kernel_h * kernel_w
    rows = cols.shape[1]  # patch, or patch + 1 with conv2d's row of ones (not written here)
    per_image = out_h * out_w
    x_flat = x.reshape(-1)
    cols_flat = cols.reshape(-1)
    for n in range(first, last):
        for k in range(n * rows * per_image, (n * rows + patch) * per_image):
            cols_flat[np.uint64(k)] = 0  # where the patch hangs over the border
        for c in range(channels):
            for i in range(kernel_h):
                oy_lo, oy_hi = _valid_range(out_h, stride_h, i - pad_h, height)
                for j in range(kernel_w):
                    ox_lo, ox_hi = _valid_range(out_w, stride_w, j - pad_w, width)
                    # this tap's row of image n's matrix
                    row = (n * rows + (c * kernel_h + i) * kernel_w + j) * per_image
                    for oy in range(oy_lo, oy_hi):
                        dst = row + oy * out_w
                        # flat index of x[n, c, y, 0] shifted by the tap's column offset
                        y = oy * stride_h - pad_h + i
                        src = ((n * channels + c) * height + y) * width + j - pad_w
                        for ox in range(ox_lo, ox_hi):
                            cols_flat[np.uint64(dst + ox)] = x_flat[np.uint64(src + ox * stride_w)]


@numba.njit(cache=True, nogil=True)
def _col2im_into(cols, grad_x, first, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w,
                 out_h, out_w):
    """grad_x[first + k] = col2im of cols[k] for every image k of ``cols``."""
    _, channels, height, width = grad_x.shape
    patch = channels * kernel_h * kernel_w
    per_image = out_h * out_w
    cols_flat = cols.reshape(-1)
    grad_flat = grad_x.reshape(-1)
    for k in range(cols.shape[0]):
        n = first + k
        image = n * channels * height * width
        for p in range(channels * height * width):
            grad_flat[np.uint64(image + p)] = 0
        for c in range(channels):
            for i in range(kernel_h):
                oy_lo, oy_hi = _valid_range(out_h, stride_h, i - pad_h, height)
                for j in range(kernel_w):
                    ox_lo, ox_hi = _valid_range(out_w, stride_w, j - pad_w, width)
                    row = (k * patch + (c * kernel_h + i) * kernel_w + j) * per_image
                    for oy in range(oy_lo, oy_hi):
                        y = oy * stride_h - pad_h + i
                        src = row + oy * out_w
                        dst = ((n * channels + c) * height + y) * width + j - pad_w
                        for ox in range(ox_lo, ox_hi):
                            grad_flat[np.uint64(dst + ox * stride_w)] += \
                                cols_flat[np.uint64(src + ox)]


@numba.njit(cache=True)
def im2col_numba(x, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, out_h, out_w):
    """Same contract as ``im2col_reference`` (the whole batch, on this thread)."""
    patch = x.shape[1] * kernel_h * kernel_w
    cols = np.empty((x.shape[0], patch, out_h * out_w), dtype=x.dtype)
    _im2col_into(np.ascontiguousarray(x), cols, 0, x.shape[0], kernel_h, kernel_w, stride_h,
                 stride_w, pad_h, pad_w, out_h, out_w)
    return cols


@numba.njit(cache=True)
def col2im_numba(cols, n_images, channels, height, width, kernel_h, kernel_w, stride_h,
                 stride_w, pad_h, pad_w, out_h, out_w):
    """Same contract as ``col2im_reference`` (the whole batch, on this thread)."""
    grad_x = np.empty((n_images, channels, height, width), dtype=cols.dtype)
    _col2im_into(np.ascontiguousarray(cols), grad_x, 0, kernel_h, kernel_w, stride_h,
                 stride_w, pad_h, pad_w, out_h, out_w)
    return grad_x


def _product_work(n_filters, patch, positions):
    """Work per image for for_each_chunk: im2col's entries plus the product's (F*K*P / 8)."""
    return patch * positions + n_filters * patch * positions // 8


def conv2d_forward_numba(x, weight_matrix, bias, kernel_h, kernel_w, stride_h, stride_w,
                         pad_h, pad_w, out_h, out_w):
    """Same contract as ``conv2d_forward_reference``; chunks of images on several threads.

    The bias rides in the product: one more weight column, times a row of ones
    under each image's patches (so ``cols`` has C*kh*kw + 1 rows then).
    ``[W | bias] @ [cols; 1] = W @ cols + bias`` in one pass instead of two, and
    the backward's ``dOut @ [cols; 1]^T`` ends with the bias gradient's column.
    """
    x = np.ascontiguousarray(x)
    n_images = x.shape[0]
    n_filters, patch = weight_matrix.shape
    positions = out_h * out_w
    if bias is None:
        weights, rows = weight_matrix, patch
    else:
        weights, rows = np.concatenate((weight_matrix, bias[:, None]), axis=1), patch + 1
    cols = np.empty((n_images, rows, positions), dtype=x.dtype)
    out = np.empty((n_images, n_filters, positions), dtype=x.dtype)

    def images(first, last):
        _im2col_into(x, cols, first, last, kernel_h, kernel_w, stride_h, stride_w, pad_h,
                     pad_w, out_h, out_w)
        if bias is not None:
            cols[first:last, patch] = 1
        np.matmul(weights, cols[first:last], out=out[first:last])

    for_each_chunk(n_images, images, _product_work(n_filters, patch, positions))
    return out.reshape(n_images, n_filters, out_h, out_w), cols


def conv2d_backward_numba(grad_out, cols, weight_matrix, height, width, kernel_h, kernel_w,
                          stride_h, stride_w, pad_h, pad_w, want_input, want_weight, want_bias):
    """Same contract as ``conv2d_backward_reference``; chunks of images on several threads.

    ``cols`` may carry the forward's row of ones: then the bias gradient is the
    last column of the weight gradient's product.
    """
    n_images, n_filters, out_h, out_w = grad_out.shape
    patch = weight_matrix.shape[1]
    grad3 = np.ascontiguousarray(grad_out).reshape(n_images, n_filters, out_h * out_w)
    channels = patch // (kernel_h * kernel_w)
    bias_in_product = want_bias and cols is not None and cols.shape[1] == patch + 1
    grad_x = np.empty((n_images, channels, height, width), grad_out.dtype) if want_input \
        else None
    # one partial sum per image, added up below in image order: the same result
    # whatever the chunks and threads
    products = want_weight or bias_in_product
    weight_parts = np.empty((n_images, n_filters, cols.shape[1]), grad_out.dtype) \
        if products else None
    bias_parts = np.empty((n_images, n_filters), grad_out.dtype) \
        if want_bias and not bias_in_product else None

    def images(first, last):
        grad_chunk = grad3[first:last]
        if products:
            np.matmul(grad_chunk, cols[first:last].transpose(0, 2, 1),
                      out=weight_parts[first:last])
        if bias_parts is not None:
            np.sum(grad_chunk, axis=2, out=bias_parts[first:last])
        if want_input:
            grad_cols = np.matmul(weight_matrix.T, grad_chunk)
            _col2im_into(grad_cols, grad_x, first, kernel_h, kernel_w, stride_h, stride_w,
                         pad_h, pad_w, out_h, out_w)

    for_each_chunk(n_images, images, _product_work(n_filters, patch, out_h * out_w))
    grad_weight = grad_bias = None
    if products:
        summed = weight_parts.sum(axis=0)
        grad_weight = np.ascontiguousarray(summed[:, :patch]) if want_weight else None
        grad_bias = np.ascontiguousarray(summed[:, patch]) if bias_in_product else None
    if bias_parts is not None:
        grad_bias = bias_parts.sum(axis=0)
    return grad_x, grad_weight, grad_bias
