"""Max and average pooling, forward and backward, on (N, C, H, W) arrays.

Window (oy, ox) covers rows ``oy * stride_h - pad_h`` up to ``+ kernel_h`` (columns
likewise), padded with -inf (max) or 0 (average). Max pooling stores each winner's flat
index ``y * W + x`` in its plane (PyTorch's ``return_indices``; ties: first maximum; NaN
wins); backward sends the gradient there. Average pooling divides by the padded window
size, the real entries (``count_include_pad=False``) or ``divisor_override``; backward
spreads ``grad / divisor``. ``out_h``/``out_w`` come from the caller (floor/ceil mode);
the Numba versions split the batch over threads without changing results.
"""
from __future__ import annotations

import numba
import numpy as np

from .threads import for_each_chunk


# --------------------------------------------------------------------------
# NumPy references
# --------------------------------------------------------------------------
def _pad_for_windows(x, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, out_h, out_w,
                     fill):
    """Pad so every window fits (ceil mode may need extra room at the bottom/right)."""
    height, width = x.shape[2], x.shape[3]
    extra_h = max(0, (out_h - 1) * stride_h + kernel_h - (height + 2 * pad_h))
    extra_w = max(0, (out_w - 1) * stride_w + kernel_w - (width + 2 * pad_w))
    return np.pad(x, ((0, 0), (0, 0), (pad_h, pad_h + extra_h), (pad_w, pad_w + extra_w)),
                  constant_values=fill)


def _tap(padded, i, j, stride_h, stride_w, out_h, out_w):
    return padded[:, :, i:i + stride_h * out_h:stride_h, j:j + stride_w * out_w:stride_w]


def max_pool2d_forward_reference(x, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w,
                                 out_h, out_w):
    """x (N, C, H, W) -> (out, argmax), both (N, C, out_h, out_w); argmax is int64."""
    width = x.shape[3]
    padded = _pad_for_windows(x, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w,
                              out_h, out_w, -np.inf)
    taps = np.stack([_tap(padded, i, j, stride_h, stride_w, out_h, out_w)
                     for i in range(kernel_h) for j in range(kernel_w)])
    best_tap = np.argmax(taps, axis=0)  # first maximum wins, NaN counts as maximum
    out = np.take_along_axis(taps, best_tap[None], axis=0)[0]
    # tap number -> (row, column) in the unpadded plane -> flat index
    rows = np.arange(out_h)[:, None] * stride_h - pad_h + best_tap // kernel_w
    cols = np.arange(out_w)[None, :] * stride_w - pad_w + best_tap % kernel_w
    return out, (rows * width + cols).astype(np.int64)


def max_pool2d_backward_reference(grad_out, argmax, height, width):
    """grad_out, argmax (N, C, out_h, out_w) -> dL/dx (N, C, height, width)."""
    n, c = grad_out.shape[0], grad_out.shape[1]
    grad_planes = np.zeros((n * c, height * width), dtype=grad_out.dtype)
    plane = np.arange(n * c)[:, None]
    np.add.at(grad_planes, (plane, argmax.reshape(n * c, -1)), grad_out.reshape(n * c, -1))
    return grad_planes.reshape(n, c, height, width)


def _avg_divisors(size, n_out, kernel, stride, pad, count_include_pad):
    """Per-window divisor along one axis (the 2-D divisor is the outer product)."""
    start = np.arange(n_out) * stride - pad
    end = np.minimum(start + kernel, size + pad)
    if count_include_pad:
        return end - start
    return np.minimum(end, size) - np.maximum(start, 0)


def _avg_divisor_grid(height, width, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w,
                      out_h, out_w, count_include_pad, divisor_override):
    if divisor_override:
        return np.full((out_h, out_w), divisor_override)
    rows = _avg_divisors(height, out_h, kernel_h, stride_h, pad_h, count_include_pad)
    cols = _avg_divisors(width, out_w, kernel_w, stride_w, pad_w, count_include_pad)
    return rows[:, None] * cols[None, :]


def avg_pool2d_forward_reference(x, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w,
                                 out_h, out_w, count_include_pad, divisor_override):
    """x (N, C, H, W) -> (N, C, out_h, out_w). ``divisor_override`` 0 means none."""
    padded = _pad_for_windows(x, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w,
                              out_h, out_w, 0)
    total = np.zeros(x.shape[:2] + (out_h, out_w), dtype=x.dtype)
    for i in range(kernel_h):
        for j in range(kernel_w):
            total += _tap(padded, i, j, stride_h, stride_w, out_h, out_w)
    divisor = _avg_divisor_grid(x.shape[2], x.shape[3], kernel_h, kernel_w, stride_h, stride_w,
                                pad_h, pad_w, out_h, out_w, count_include_pad, divisor_override)
    return (total / divisor).astype(x.dtype)


def avg_pool2d_backward_reference(grad_out, height, width, kernel_h, kernel_w, stride_h,
                                  stride_w, pad_h, pad_w, count_include_pad, divisor_override):
    """grad_out (N, C, out_h, out_w) -> dL/dx (N, C, height, width)."""
    n, c, out_h, out_w = grad_out.shape
    divisor = _avg_divisor_grid(height, width, kernel_h, kernel_w, stride_h, stride_w, pad_h,
                                pad_w, out_h, out_w, count_include_pad, divisor_override)
    share = (grad_out / divisor).astype(grad_out.dtype)
    padded = _pad_for_windows(np.zeros((n, c, height, width), dtype=grad_out.dtype), kernel_h,
                              kernel_w, stride_h, stride_w, pad_h, pad_w, out_h, out_w, 0)
    for i in range(kernel_h):
        for j in range(kernel_w):
            _tap(padded, i, j, stride_h, stride_w, out_h, out_w)[...] += share
    return padded[:, :, pad_h:pad_h + height, pad_w:pad_w + width].copy()


# --------------------------------------------------------------------------
# Numba kernels: loops over the planes of the images [first, last), compiled
# with nogil so that for_each_chunk can run chunks of the batch on several threads
# --------------------------------------------------------------------------
@numba.njit(cache=True)
def _window(o, stride, pad, kernel, size):
    """Input rows (or columns) [lo, hi) of window ``o``, clipped to the input."""
    start = o * stride - pad
    return max(start, 0), min(start + kernel, size)


@numba.njit(cache=True, nogil=True)
def _max_2x2_row(top, bottom, out_row, argmax_row, first_index, width):
    """One output row of 2x2 windows from input rows ``top`` and ``bottom``.

    Branch-free: on random data "is this larger?" is a coin flip the CPU cannot
    predict, and conditional expressions compile to selects (which also lets
    the compiler vectorise the loop). NaN is left out here -- it is rare -- and
    only reported: the caller then redoes the row with the NaN rule.
    """
    seen_nan = False
    for ox in range(out_row.shape[0]):
        v0, v1 = top[2 * ox], top[2 * ox + 1]
        v2, v3 = bottom[2 * ox], bottom[2 * ox + 1]
        best, tap = v0, 0
        larger = v1 > best  # strict: ties keep the first maximum
        best, tap = (v1 if larger else best), (1 if larger else tap)
        larger = v2 > best
        best, tap = (v2 if larger else best), (width if larger else tap)
        larger = v3 > best
        best, tap = (v3 if larger else best), (width + 1 if larger else tap)
        out_row[ox] = best
        argmax_row[ox] = first_index + 2 * ox + tap
        seen_nan |= (v0 != v0) | (v1 != v1) | (v2 != v2) | (v3 != v3)
    return seen_nan


@numba.njit(cache=True, nogil=True)
def _max_pool2d_2x2_into(x, out, argmax, first, last):
    """max_pool2d_forward for the common 2x2 window, stride 2, no padding.

    The general kernel spends most of its time on window bookkeeping (clipping,
    loop bounds); with exactly four taps per window those go away, and a row of
    windows is one simple loop (docs/performance.md has the timings). Same tie and
    NaN rules: ties keep the first maximum, the first NaN wins.
    """
    width = x.shape[3]
    for n in range(first, last):
        for c in range(x.shape[1]):
            for oy in range(out.shape[2]):
                top, bottom = x[n, c, 2 * oy], x[n, c, 2 * oy + 1]
                if _max_2x2_row(top, bottom, out[n, c, oy], argmax[n, c, oy], 2 * oy * width,
                                width):
                    for ox in range(out.shape[3]):  # again, with the NaN rule
                        taps = (top[2 * ox], top[2 * ox + 1], bottom[2 * ox], bottom[2 * ox + 1])
                        offsets = (0, 1, width, width + 1)
                        for k in range(4):
                            if taps[k] != taps[k]:  # the first NaN in row-major order
                                out[n, c, oy, ox] = taps[k]
                                argmax[n, c, oy, ox] = 2 * oy * width + 2 * ox + offsets[k]
                                break


@numba.njit(cache=True, nogil=True)
def _max_pool2d_into(x, out, argmax, first, last, kernel_h, kernel_w, stride_h, stride_w,
                     pad_h, pad_w):
    """max_pool2d_forward for any window, for the images [first, last).

    Unsigned (``np.uint64``) flat indices skip Numba's negative-index check; the
    running maximum uses conditional expressions, which compile to branch-free
    selects (timings: docs/performance.md). A flag records whether a window holds
    a NaN, and only then a second pass finds the first one.
    """
    _, channels, height, width = x.shape
    out_h, out_w = out.shape[2], out.shape[3]
    x_flat = x.reshape(-1)
    out_flat = out.reshape(-1)
    argmax_flat = argmax.reshape(-1)
    for plane in range(first * channels, last * channels):
        base = plane * height * width
        for oy in range(out_h):
            y_lo, y_hi = _window(oy, stride_h, pad_h, kernel_h, height)
            for ox in range(out_w):
                x_lo, x_hi = _window(ox, stride_w, pad_w, kernel_w, width)
                best_index = y_lo * width + x_lo
                best = x_flat[np.uint64(base + best_index)]
                has_nan = False
                for y in range(y_lo, y_hi):
                    for xx in range(x_lo, x_hi):
                        index = y * width + xx
                        value = x_flat[np.uint64(base + index)]
                        larger = value > best  # strict: ties keep the first maximum
                        best_index = index if larger else best_index
                        best = value if larger else best
                        has_nan |= value != value
                if has_nan:  # scan backwards so the first NaN is the one kept
                    for y in range(y_hi - 1, y_lo - 1, -1):
                        for xx in range(x_hi - 1, x_lo - 1, -1):
                            value = x_flat[np.uint64(base + y * width + xx)]
                            if value != value:
                                best = value
                                best_index = y * width + xx
                position = np.uint64((plane * out_h + oy) * out_w + ox)
                out_flat[position] = best
                argmax_flat[position] = best_index


def max_pool2d_forward_numba(x, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w,
                             out_h, out_w):
    """Same contract as ``max_pool2d_forward_reference``; chunks of images on several threads."""
    x = np.ascontiguousarray(x)
    n_images, channels, height, width = x.shape
    out = np.empty((n_images, channels, out_h, out_w), dtype=x.dtype)
    argmax = np.empty((n_images, channels, out_h, out_w), dtype=np.int64)
    whole_2x2 = (kernel_h == kernel_w == stride_h == stride_w == 2 and pad_h == pad_w == 0
                 and 2 * out_h <= height and 2 * out_w <= width)

    def images(first, last):
        if whole_2x2:  # every window whole: the fast path
            _max_pool2d_2x2_into(x, out, argmax, first, last)
        else:
            _max_pool2d_into(x, out, argmax, first, last, kernel_h, kernel_w, stride_h,
                             stride_w, pad_h, pad_w)

    for_each_chunk(n_images, images, channels * height * width)
    return out, argmax


@numba.njit(cache=True, nogil=True)
def _max_pool2d_backward_into(grad_out, argmax, grad_x, first, last):
    """grad_x[n] = each output's gradient sent to its maximum, for n in [first, last)."""
    _, channels, out_h, out_w = grad_out.shape
    height, width = grad_x.shape[2], grad_x.shape[3]
    per_plane = out_h * out_w
    grad_flat = grad_x.reshape(-1)
    grad_out_flat = grad_out.reshape(-1)
    argmax_flat = argmax.reshape(-1)
    for plane in range(first * channels, last * channels):
        base = plane * height * width
        for p in range(height * width):
            grad_flat[np.uint64(base + p)] = 0
        for k in range(plane * per_plane, (plane + 1) * per_plane):
            grad_flat[np.uint64(base + argmax_flat[k])] += grad_out_flat[k]


def max_pool2d_backward_numba(grad_out, argmax, height, width):
    """Same contract as ``max_pool2d_backward_reference``; chunks of images on several threads."""
    grad_out, argmax = np.ascontiguousarray(grad_out), np.ascontiguousarray(argmax)
    n_images, channels = grad_out.shape[0], grad_out.shape[1]
    grad_x = np.empty((n_images, channels, height, width), dtype=grad_out.dtype)
    for_each_chunk(n_images, lambda first, last: _max_pool2d_backward_into(
        grad_out, argmax, grad_x, first, last), channels * height * width)
    return grad_x


@numba.njit(cache=True)
def _avg_divisor(oy, ox, height, width, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w,
                 count_include_pad, divisor_override):
    if divisor_override != 0:
        return divisor_override
    y0 = oy * stride_h - pad_h
    x0 = ox * stride_w - pad_w
    y1 = min(y0 + kernel_h, height + pad_h)
    x1 = min(x0 + kernel_w, width + pad_w)
    if count_include_pad:
        return (y1 - y0) * (x1 - x0)
    return (min(y1, height) - max(y0, 0)) * (min(x1, width) - max(x0, 0))


@numba.njit(cache=True, nogil=True)
def _avg_pool2d_into(x, out, first, last, kernel_h, kernel_w, stride_h, stride_w, pad_h,
                     pad_w, count_include_pad, divisor_override):
    """avg_pool2d_forward for the images [first, last) (flat views, unsigned indices)."""
    _, channels, height, width = x.shape
    out_h, out_w = out.shape[2], out.shape[3]
    x_flat = x.reshape(-1)
    out_flat = out.reshape(-1)
    for plane in range(first * channels, last * channels):
        base = plane * height * width
        for oy in range(out_h):
            y_lo, y_hi = _window(oy, stride_h, pad_h, kernel_h, height)
            for ox in range(out_w):
                x_lo, x_hi = _window(ox, stride_w, pad_w, kernel_w, width)
                total = 0.0
                for y in range(y_lo, y_hi):
                    row = base + y * width
                    for xx in range(x_lo, x_hi):
                        total += x_flat[np.uint64(row + xx)]
                divisor = _avg_divisor(oy, ox, height, width, kernel_h, kernel_w, stride_h,
                                       stride_w, pad_h, pad_w, count_include_pad,
                                       divisor_override)
                out_flat[np.uint64((plane * out_h + oy) * out_w + ox)] = total / divisor


def avg_pool2d_forward_numba(x, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w,
                             out_h, out_w, count_include_pad, divisor_override):
    """Same contract as ``avg_pool2d_forward_reference``; chunks of images on several threads."""
    x = np.ascontiguousarray(x)
    n_images, channels, height, width = x.shape
    out = np.empty((n_images, channels, out_h, out_w), dtype=x.dtype)
    for_each_chunk(n_images, lambda first, last: _avg_pool2d_into(
        x, out, first, last, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w,
        count_include_pad, divisor_override), channels * height * width)
    return out


@numba.njit(cache=True, nogil=True)
def _avg_pool2d_backward_into(grad_out, grad_x, first, last, kernel_h, kernel_w, stride_h,
                              stride_w, pad_h, pad_w, count_include_pad, divisor_override):
    """avg_pool2d_backward for the images [first, last) (flat views, unsigned indices)."""
    _, channels, out_h, out_w = grad_out.shape
    height, width = grad_x.shape[2], grad_x.shape[3]
    grad_flat = grad_x.reshape(-1)
    grad_out_flat = grad_out.reshape(-1)
    for plane in range(first * channels, last * channels):
        base = plane * height * width
        for p in range(height * width):
            grad_flat[np.uint64(base + p)] = 0
        for oy in range(out_h):
            y_lo, y_hi = _window(oy, stride_h, pad_h, kernel_h, height)
            for ox in range(out_w):
                x_lo, x_hi = _window(ox, stride_w, pad_w, kernel_w, width)
                divisor = _avg_divisor(oy, ox, height, width, kernel_h, kernel_w, stride_h,
                                       stride_w, pad_h, pad_w, count_include_pad,
                                       divisor_override)
                share = grad_out_flat[np.uint64((plane * out_h + oy) * out_w + ox)] / divisor
                for y in range(y_lo, y_hi):
                    row = base + y * width
                    for xx in range(x_lo, x_hi):
                        grad_flat[np.uint64(row + xx)] += share


def avg_pool2d_backward_numba(grad_out, height, width, kernel_h, kernel_w, stride_h, stride_w,
                              pad_h, pad_w, count_include_pad, divisor_override):
    """Same contract as ``avg_pool2d_backward_reference``; chunks of images on several threads."""
    grad_out = np.ascontiguousarray(grad_out)
    n_images, channels = grad_out.shape[0], grad_out.shape[1]
    grad_x = np.empty((n_images, channels, height, width), dtype=grad_out.dtype)
    for_each_chunk(n_images, lambda first, last: _avg_pool2d_backward_into(
        grad_out, grad_x, first, last, kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w,
        count_include_pad, divisor_override), channels * height * width)
    return grad_x
