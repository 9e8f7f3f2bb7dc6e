"""Convolution and pooling ops: conv2d, max_pool2d, avg_pool2d (PyTorch semantics).

x is (N, C, H, W) or (C, H, W); a conv weight is (F, C, kh, kw). Per axis, window
k, stride s, padding p give ``floor((size + 2p - k) / s) + 1`` outputs (``ceil``
in pooling's ``ceil_mode``). conv2d is matrix products over im2col columns
(derivation: ``minnet/kernels/conv_im2col.py``); dL/dx is skipped when x needs no
gradient (the first layer's input is data), which saves the col2im pass.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .. import kernels
from ..tensor import Tensor, is_grad_enabled


# --------------------------------------------------------------------------
# Argument helpers (shared with minnet/nn/conv.py and nn/pooling.py)
# --------------------------------------------------------------------------
def as_pair(value, name: str, fn_name: str) -> tuple:
    """``3 -> (3, 3)``; ``(2, 3) -> (2, 3)``; ``(3,) -> (3, 3)`` (as PyTorch); anything
    else is a clear error."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        return int(value), int(value)
    if isinstance(value, (tuple, list)) and len(value) == 2 and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in value):
        return int(value[0]), int(value[1])
    raise TypeError(f"{fn_name}(): {name} must be an int or a pair of ints (height, width), "
                    f"got {value!r}")


def conv_output_size(size: int, kernel: int, stride: int, padding: int,
                     ceil_mode: bool = False) -> int:
    """Number of window positions along one axis (PyTorch's formula).

    Ceil mode rounds the number of strides up, so a window may run past the input's
    end: even a kernel longer than input plus padding (span -1, stride 2) gives one.
    """
    span = size + 2 * padding - kernel
    if span < 0 and not ceil_mode:
        return 0
    steps = -(-span // stride) if ceil_mode else span // stride
    out = max(steps + 1, 0)
    # ceil mode: the last window must start inside the input or its left padding
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1
    return out


def _batched(x: Tensor, fn_name: str, expected: str) -> tuple:
    """(N, C, H, W) data of x and whether x was a single (C, H, W) image."""
    if x.ndim == 4:
        return x._data, False
    if x.ndim == 3:
        return x._data[None], True
    raise ValueError(f"{fn_name}(): expected a 4-D input {expected} or a 3-D single image, "
                     f"got shape {x.shape}. Hint: images must be NCHW; add a batch axis "
                     f"with x.unsqueeze(0) or a channel axis with x.unsqueeze(1).")


def _check_float(x: Tensor, fn_name: str) -> None:
    if x.dtype.kind != "f":
        raise TypeError(f"{fn_name}(): expected a floating-point input, got dtype {x.dtype}. "
                        f"Hint: convert with .float().")
    if x.dtype not in (np.float32, np.float64):
        # the compiled kernels exist for float32 and float64 only
        raise TypeError(f"{fn_name}(): dtype {x.dtype} is not supported, only float32 and "
                        f"float64 (PyTorch also runs float16 on the CPU; minnet's compiled "
                        f"kernels do not). Hint: convert the input and the layer with "
                        f".float().")


def _check_output_size(out_h: int, out_w: int, height: int, width: int, kernel: tuple,
                       padding: tuple, fn_name: str, dilation: tuple = (1, 1)) -> None:
    if out_h < 1 or out_w < 1:
        if dilation == (1, 1):
            window = f"the kernel {kernel}"
        else:  # the user gave the taps, not the dilated extent: name both
            window = (f"the kernel {kernel} spread by dilation {dilation} to "
                      f"{tuple(d * (k - 1) + 1 for k, d in zip(kernel, dilation))}")
        raise ValueError(f"{fn_name}(): the input's spatial size ({height}, {width}) plus "
                         f"padding {padding} is smaller than {window}, so the "
                         f"output would be empty. Hint: use a smaller kernel, more padding, "
                         f"or a larger input.")


def _check_dilation(dilation, fn_name: str) -> tuple:
    """An int or (h, w) pair of positive ints -> (h, w)."""
    pair = as_pair(dilation, "dilation", fn_name)
    if min(pair) < 1:
        raise ValueError(f"{fn_name}(): dilation must be positive, got {pair}. Hint: dilation "
                         f"is the distance between the kernel's taps; 1 means adjacent taps "
                         f"(no dilation).")
    return pair


# --------------------------------------------------------------------------
# conv2d
# --------------------------------------------------------------------------
def _conv_padding(padding, kernel: tuple, stride: tuple) -> tuple:
    """(pad_h, pad_w, extra_h, extra_w): padding on both sides, plus extra after only.

    'same' pads k - 1 in total along each axis, (k - 1) // 2 before and the rest
    after, as PyTorch does: an even kernel needs one more row/column after
    than before, which the symmetric kernels cannot express -- hence ``extra``.
    """
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0, 0, 0
        if padding == "same":
            if stride != (1, 1):
                raise ValueError(f"conv2d(): padding='same' is not supported for strided "
                                 f"convolutions (stride={stride}), as in PyTorch. Hint: use "
                                 f"stride=1, or an integer padding with the stride.")
            before_h, before_w = (kernel[0] - 1) // 2, (kernel[1] - 1) // 2
            return (before_h, before_w,
                    kernel[0] - 1 - 2 * before_h, kernel[1] - 1 - 2 * before_w)
        raise ValueError(f"conv2d(): padding must be an int, a pair of ints, 'same' or "
                         f"'valid', got {padding!r}")
    pad_h, pad_w = as_pair(padding, "padding", "conv2d")
    if pad_h < 0 or pad_w < 0:
        raise ValueError(f"conv2d(): padding must be non-negative, got {(pad_h, pad_w)}")
    return pad_h, pad_w, 0, 0


def _channels(count: int) -> str:
    """'1 channel', '3 channels': error messages read as English."""
    return f"{count} channel" if count == 1 else f"{count} channels"


def _check_conv_operands(fn_name: str, input: Tensor, weight: Tensor, bias: Optional[Tensor],
                         groups: int, layout: str) -> None:
    """The checks conv1d and conv2d share: a float input, a weight (F, C / groups, *kernel)
    matching the input's C channels, a bias (F,), one dtype. ``layout`` is the input's,
    e.g. '(N, C, H, W)'; the weight has one dim fewer than a batched input."""
    _check_float(input, fn_name)
    expected_ndim = layout.count(",") + 1  # (N, C, H, W) -> weight (F, C, kh, kw): 4 dims
    kernel_text = "kh, kw" if expected_ndim == 4 else "kernel_size"
    if weight.ndim != expected_ndim:
        raise ValueError(f"{fn_name}(): weight must be {expected_ndim}-D (out_channels, "
                         f"in_channels / groups, {kernel_text}), got shape {weight.shape}")
    n_filters, channels = weight.shape[0], input.shape[-expected_ndim + 1]
    if groups == 1 and weight.shape[1] != channels:
        fix = ("channels-last (NHWC) images need x.permute(0, 3, 1, 2)" if expected_ndim == 4
               else "channels-last (N, L, C) sequences need x.transpose(1, 2)")
        raise ValueError(
            f"{fn_name}(): weight of shape {weight.shape} expects {_channels(weight.shape[1])} "
            f"in the input, but the input has {_channels(channels)} (input shape "
            f"{input.shape}). Hint: the input must be {layout} with C = weight.shape[1]; "
            f"{fix}.")
    if channels % groups or n_filters % groups or weight.shape[1] * groups != channels:
        raise ValueError(
            f"{fn_name}(): groups={groups} needs the input's channels and the weight's filters "
            f"to split into {groups} equal groups, and a weight of shape ({n_filters}, "
            f"C / groups, {kernel_text}); got an input with {_channels(channels)} (shape "
            f"{input.shape}) and a weight of shape {weight.shape}. Hint: groups must divide "
            f"both C and out_channels, and weight.shape[1] must be C / groups.")
    if bias is not None and bias.shape != (n_filters,):
        raise ValueError(f"{fn_name}(): bias must have shape ({n_filters},), one value per "
                         f"filter, got {bias.shape}")
    for name, other in (("weight", weight), ("bias", bias)):
        if other is not None and other.dtype != input.dtype:
            raise TypeError(f"{fn_name}(): input dtype {input.dtype} and {name} dtype "
                            f"{other.dtype} differ. Hint: convert one of them (.float() or "
                            f".double()), e.g. model.double() for gradcheck.")


def conv2d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride=1, padding=0,
           dilation=1, groups=1) -> Tensor:
    """2-D cross-correlation, as ``torch.nn.functional.conv2d``.

    Shapes: input (N, C, H, W) or (C, H, W); weight (F, C // groups, kh, kw); bias (F,)
    or None -> (N, F, OH, OW) with OH = (H + 2*pad_h - dilation_h*(kh - 1) - 1) //
    stride_h + 1 (same for W). ``stride``, ``padding`` and ``dilation`` are ints or
    (h, w) pairs; padding may also be 'valid' (no padding) or 'same' (output as large
    as the input; stride 1 only; an uneven total pads one more row/column after than
    before, as PyTorch does).

    ``groups`` g splits the channels into g independent convolutions, each from C/g input
    channels to F/g output channels, whose outputs are concatenated (g = C is a depthwise
    convolution). It is done as g calls of the one-group convolution: simple, not fast.
    """
    dilation = _check_dilation(dilation, "conv2d")
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"conv2d(): groups must be a positive int, got {groups!r}. Hint: "
                         f"groups=1 is the usual convolution, groups=C a depthwise one.")
    if groups == 1:
        return _conv2d_one_group(input, weight, bias, stride, padding, dilation)
    _batched(input, "conv2d", "(N, C, H, W)")  # the shape check and its message
    _check_conv_operands("conv2d", input, weight, bias, groups, "(N, C, H, W)")
    from .shape import cat
    per_input, per_output = input.shape[-3] // groups, weight.shape[0] // groups
    outputs = []
    for group in range(groups):
        inputs = slice(group * per_input, (group + 1) * per_input)
        filters = slice(group * per_output, (group + 1) * per_output)
        outputs.append(_conv2d_one_group(input[..., inputs, :, :], weight[filters],
                                         None if bias is None else bias[filters], stride,
                                         padding, dilation))
    return cat(outputs, dim=-3)


def _dilate_kernel(weight: Tensor, dilation: tuple) -> Tensor:
    """(F, C, kh, kw) -> (F, C, dh*(kh - 1) + 1, dw*(kw - 1) + 1), the taps d apart and
    zeros between them: a dilated convolution is the plain one with this kernel.

    Forward writes the taps into a zero array; backward reads their gradients back out
    (the zeros are constants, their gradients are dropped).
    """
    dilation_h, dilation_w = dilation
    n_filters, channels, kernel_h, kernel_w = weight.shape
    spread = np.zeros((n_filters, channels, dilation_h * (kernel_h - 1) + 1,
                       dilation_w * (kernel_w - 1) + 1), dtype=weight.dtype)
    spread[:, :, ::dilation_h, ::dilation_w] = weight._data

    def backward(grad):
        return (np.ascontiguousarray(grad[:, :, ::dilation_h, ::dilation_w]),)

    return Tensor._from_op(spread, (weight,), backward, "dilate_kernel")


def _conv2d_one_group(input: Tensor, weight: Tensor, bias: Optional[Tensor], stride,
                      padding, dilation: tuple) -> Tensor:
    """conv2d with one group: matrix products over im2col columns.

    A dilation other than 1 convolves with the spread kernel of ``_dilate_kernel``, which
    costs (dh*(kh-1)+1)*(dw*(kw-1)+1) / (kh*kw) times the taps' work: simple, not fast.
    """
    data, unbatched = _batched(input, "conv2d", "(N, C, H, W)")
    _check_conv_operands("conv2d", input, weight, bias, 1, "(N, C, H, W)")
    taps = weight.shape[2:]
    if dilation != (1, 1):
        weight = _dilate_kernel(weight, dilation)
    n_filters, channels, kernel_h, kernel_w = weight.shape
    stride_h, stride_w = as_pair(stride, "stride", "conv2d")
    if stride_h < 1 or stride_w < 1:
        raise ValueError(f"conv2d(): stride must be positive, got {(stride_h, stride_w)}")
    pad_h, pad_w, extra_h, extra_w = _conv_padding(padding, (kernel_h, kernel_w),
                                                   (stride_h, stride_w))
    n_images, _, height, width = data.shape
    if extra_h or extra_w:  # 'same' with an even kernel: the uneven part, added by hand
        data = np.pad(data, ((0, 0), (0, 0), (0, extra_h), (0, extra_w)))
    padded_h, padded_w = height + extra_h, width + extra_w
    out_h = conv_output_size(padded_h, kernel_h, stride_h, pad_h)
    out_w = conv_output_size(padded_w, kernel_w, stride_w, pad_w)
    _check_output_size(out_h, out_w, height, width, taps, (pad_h, pad_w), "conv2d", dilation)

    geometry = (kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, out_h, out_w)
    weight_matrix = weight._data.reshape(n_filters, -1)         # (F, C*kh*kw)
    bias_data = None if bias is None else bias._data
    # one BLAS thread per product: the kernels split the batch over threads instead
    with kernels.blas_threads_limit():
        out, cols = kernels.conv2d_forward(np.ascontiguousarray(data), weight_matrix,
                                           bias_data, *geometry)  # cols (N, C*kh*kw, OH*OW)
    if unbatched:
        out = out[0]
    # cols is only needed for dL/dweight: let it go at once otherwise
    saved_cols = cols if (weight.requires_grad and is_grad_enabled()) else None
    del cols, data

    def backward(grad):
        grad4 = grad[None] if unbatched else grad
        with kernels.blas_threads_limit():
            grad_x, grad_weight, grad_bias = kernels.conv2d_backward(
                grad4, saved_cols, weight_matrix, padded_h, padded_w, *geometry[:6],
                input.requires_grad, weight.requires_grad,
                bias is not None and bias.requires_grad)
        if grad_x is not None:
            if extra_h or extra_w:  # the hand-added zeros are not part of the input
                grad_x = np.ascontiguousarray(grad_x[:, :, :height, :width])
            if unbatched:
                grad_x = grad_x[0]
        if grad_weight is not None:
            grad_weight = grad_weight.reshape(weight.shape)
        if bias is None:
            return grad_x, grad_weight
        return grad_x, grad_weight, grad_bias

    parents = (input, weight) if bias is None else (input, weight, bias)
    return Tensor._from_op(out, parents, backward, "conv2d")


# --------------------------------------------------------------------------
# Pooling
# --------------------------------------------------------------------------
def _pool_geometry(data_shape, kernel_size, stride, padding, ceil_mode, fn_name,
                   dilation=(1, 1)):
    """Validate pooling arguments; return (kh, kw, sh, sw, ph, pw, OH, OW).

    With ``dilation`` d a window spans d*(k - 1) + 1 entries, which sets OH and OW."""
    kernel_h, kernel_w = as_pair(kernel_size, "kernel_size", fn_name)
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        stride = (kernel_h, kernel_w)  # PyTorch: stride defaults to kernel_size
    stride_h, stride_w = as_pair(stride, "stride", fn_name)
    pad_h, pad_w = as_pair(padding, "padding", fn_name)
    if min(kernel_h, kernel_w, stride_h, stride_w) < 1:
        raise ValueError(f"{fn_name}(): kernel_size and stride must be positive, got "
                         f"kernel_size={(kernel_h, kernel_w)}, stride={(stride_h, stride_w)}")
    if pad_h < 0 or pad_w < 0 or pad_h > kernel_h // 2 or pad_w > kernel_w // 2:
        raise ValueError(f"{fn_name}(): padding {(pad_h, pad_w)} must be between 0 and half "
                         f"the kernel size {(kernel_h, kernel_w)} (as in PyTorch), so that "
                         f"every window overlaps the input")
    height, width = data_shape[2], data_shape[3]
    dilation_h, dilation_w = dilation
    out_h = conv_output_size(height, dilation_h * (kernel_h - 1) + 1, stride_h, pad_h, ceil_mode)
    out_w = conv_output_size(width, dilation_w * (kernel_w - 1) + 1, stride_w, pad_w, ceil_mode)
    _check_output_size(out_h, out_w, height, width, (kernel_h, kernel_w), (pad_h, pad_w),
                       fn_name, dilation)
    return kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, out_h, out_w


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over each window, as ``torch.nn.functional.max_pool2d``.

    Shapes: (N, C, H, W) or (C, H, W) -> (N, C, OH, OW). Padding counts as -inf.
    With ``return_indices=True`` also returns the int64 flat index ``y * W + x``
    of each maximum in its (H, W) plane. The gradient goes only to the maximum.
    ``dilation`` d takes the window's entries d apart (a window spans d*(k - 1) + 1).
    """
    dilation = _check_dilation(dilation, "max_pool2d")
    _check_float(input, "max_pool2d")
    data, unbatched = _batched(input, "max_pool2d", "(N, C, H, W)")
    geometry = _pool_geometry(data.shape, kernel_size, stride, padding, ceil_mode, "max_pool2d",
                              dilation)
    height, width = data.shape[2], data.shape[3]
    if dilation == (1, 1):
        out, argmax = kernels.max_pool2d_forward(np.ascontiguousarray(data), *geometry)
    else:
        out, argmax = _dilated_max_pool(data, geometry, dilation)

    def backward(grad):
        grad4 = np.ascontiguousarray(grad[None] if unbatched else grad)
        grad_x = kernels.max_pool2d_backward(grad4, argmax, height, width)
        return (grad_x[0] if unbatched else grad_x,)

    result = Tensor._from_op(out[0] if unbatched else out, (input,), backward, "max_pool2d")
    if return_indices:
        return result, Tensor(argmax[0] if unbatched else argmax)
    return result


def _dilated_max_pool(data: np.ndarray, geometry: tuple, dilation: tuple):
    """max_pool2d's forward with dilation, in NumPy: (values, flat argmax indices).

    Each of the kh*kw taps is a strided view of the -inf-padded input; the maximum over
    the taps (the first one on ties, as the compiled kernel) and its flat index y * W + x.
    The backward is the compiled kernel's, which only needs those indices.
    """
    kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, out_h, out_w = geometry
    dilation_h, dilation_w = dilation
    height, width = data.shape[2], data.shape[3]
    span_h, span_w = dilation_h * (kernel_h - 1) + 1, dilation_w * (kernel_w - 1) + 1
    # pad after by enough for the last (ceil mode) window to fit as well
    after_h = max(pad_h, (out_h - 1) * stride_h + span_h - height - pad_h)
    after_w = max(pad_w, (out_w - 1) * stride_w + span_w - width - pad_w)
    padded = np.pad(data, ((0, 0), (0, 0), (pad_h, after_h), (pad_w, after_w)),
                    constant_values=-np.inf)
    taps, tap_rows, tap_cols = [], [], []
    for i in range(kernel_h):
        for j in range(kernel_w):
            top, left = i * dilation_h, j * dilation_w
            taps.append(padded[:, :, top:top + stride_h * (out_h - 1) + 1:stride_h,
                               left:left + stride_w * (out_w - 1) + 1:stride_w])
            tap_rows.append(top - pad_h)
            tap_cols.append(left - pad_w)
    taps = np.stack(taps)                                   # (kh*kw, N, C, OH, OW)
    best = np.argmax(taps, axis=0)
    out = np.take_along_axis(taps, best[None], axis=0)[0]
    rows = np.asarray(tap_rows)[best] + (np.arange(out_h) * stride_h)[:, None]
    cols = np.asarray(tap_cols)[best] + (np.arange(out_w) * stride_w)[None, :]
    return np.ascontiguousarray(out), (rows * width + cols).astype(np.int64)


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True, divisor_override=None) -> Tensor:
    """Mean over each window, as ``torch.nn.functional.avg_pool2d``.

    Shapes: (N, C, H, W) or (C, H, W) -> (N, C, OH, OW). Padding counts as 0;
    ``count_include_pad`` decides whether padded entries count in the divisor;
    ``divisor_override`` (a positive int) replaces the divisor altogether.
    """
    _check_float(input, "avg_pool2d")
    data, unbatched = _batched(input, "avg_pool2d", "(N, C, H, W)")
    geometry = _pool_geometry(data.shape, kernel_size, stride, padding, ceil_mode, "avg_pool2d")
    if divisor_override is not None and (not isinstance(divisor_override, (int, np.integer))
                                         or divisor_override <= 0):
        raise ValueError(f"avg_pool2d(): divisor_override must be a positive int or None, "
                         f"got {divisor_override!r}")
    divisor = int(divisor_override or 0)  # the kernels read 0 as "no override"
    height, width = data.shape[2], data.shape[3]
    include_pad = bool(count_include_pad)
    out = kernels.avg_pool2d_forward(np.ascontiguousarray(data), *geometry, include_pad, divisor)

    def backward(grad):
        grad4 = np.ascontiguousarray(grad[None] if unbatched else grad)
        grad_x = kernels.avg_pool2d_backward(grad4, height, width, *geometry[:6], include_pad,
                                             divisor)
        return (grad_x[0] if unbatched else grad_x,)

    return Tensor._from_op(out[0] if unbatched else out, (input,), backward, "avg_pool2d")


def _adaptive_bins(size: int, out_size: int) -> list:
    """PyTorch's bins: output cell i averages input rows floor(i*size/out) .. ceil((i+1)*size/out)."""
    return [(i * size // out_size, -(-(i + 1) * size // out_size)) for i in range(out_size)]


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Mean over bins chosen so the output is ``output_size`` whatever the input's size.

    Shapes: (N, C, H, W) or (C, H, W) -> (N, C, OH, OW); ``output_size`` is an int,
    a pair, or a pair with None (keep that size). With H divisible by OH the bins are
    plain windows of H // OH rows; otherwise neighbouring bins overlap by a row.
    """
    _check_float(input, "adaptive_avg_pool2d")
    data, unbatched = _batched(input, "adaptive_avg_pool2d", "(N, C, H, W)")
    height, width = data.shape[2], data.shape[3]
    if isinstance(output_size, (tuple, list)) and len(output_size) == 2:
        output_size = (height if output_size[0] is None else output_size[0],
                       width if output_size[1] is None else output_size[1])
    out_h, out_w = as_pair(output_size, "output_size", "adaptive_avg_pool2d")
    if out_h <= 0 or out_w <= 0 or height == 0 or width == 0:
        raise ValueError(f"adaptive_avg_pool2d(): output_size must be positive and the input "
                         f"non-empty, got output_size {output_size!r} for input shape "
                         f"{input.shape}")
    rows, cols = _adaptive_bins(height, out_h), _adaptive_bins(width, out_w)
    out = np.empty(data.shape[:2] + (out_h, out_w), dtype=data.dtype)
    for i, (r0, r1) in enumerate(rows):
        for j, (c0, c1) in enumerate(cols):
            out[:, :, i, j] = data[:, :, r0:r1, c0:c1].mean(axis=(2, 3))

    def backward(grad):
        grad4 = grad[None] if unbatched else grad
        grad_x = np.zeros(data.shape, dtype=grad.dtype)
        for i, (r0, r1) in enumerate(rows):
            for j, (c0, c1) in enumerate(cols):
                # each entry of a bin gets an equal share of the bin's gradient
                count = (r1 - r0) * (c1 - c0)
                grad_x[:, :, r0:r1, c0:c1] += grad4[:, :, i, j, None, None] / count
        return (grad_x[0] if unbatched else grad_x,)

    return Tensor._from_op(out[0] if unbatched else out, (input,), backward,
                           "adaptive_avg_pool2d", saved=())


# --------------------------------------------------------------------------
# 1-D versions: a sequence (N, C, L) is an image one row high, (N, C, 1, L)
# --------------------------------------------------------------------------
def _as_row_image(input: Tensor, fn_name: str) -> Tensor:
    """(N, C, L) -> (N, C, 1, L) and (C, L) -> (C, 1, L), with a clear error otherwise."""
    if not isinstance(input, Tensor) or input.ndim not in (2, 3):
        shape = getattr(input, "shape", type(input).__name__)
        raise ValueError(f"{fn_name}(): expected a 3-D input (N, C, L) or a 2-D single "
                         f"sequence (C, L), got {shape}. Hint: sequences are channels-first; "
                         f"(N, L, C) data needs x.transpose(1, 2).")
    return input.unsqueeze(-2)


def _single(value, name: str, fn_name: str, minimum: int = 0) -> int:
    """``3`` or ``(3,)`` -> 3 (PyTorch's 1-D layers take both), at least ``minimum``."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{fn_name}(): {name} must be an int or a 1-tuple, got {value!r}")
    if value < minimum:
        raise ValueError(f"{fn_name}(): {name} must be at least {minimum}, got {value}")
    return int(value)


def _check_length(length: int, kernel: int, dilation: int, padding: int, out_length: int,
                  fn_name: str) -> None:
    """The 1-D form of ``_check_output_size``: a window longer than the padded sequence."""
    if out_length < 1:
        spread = f" (kernel_size {kernel} at dilation {dilation})" if dilation != 1 else ""
        raise ValueError(f"{fn_name}(): the sequence's length {length} plus padding {padding} "
                         f"on each side is shorter than the window's span "
                         f"{dilation * (kernel - 1) + 1}{spread}, so the output would be "
                         f"empty. Hint: use a smaller kernel, more padding, or a longer "
                         f"sequence.")


def conv1d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride=1, padding=0,
           dilation=1, groups=1) -> Tensor:
    """1-D cross-correlation, as ``torch.nn.functional.conv1d``: conv2d on a one-row image.

    Shapes: input (N, C, L) or (C, L); weight (F, C // groups, k); bias (F,) or None ->
    (N, F, OL) with OL = (L + 2*padding - dilation*(k - 1) - 1) // stride + 1.
    The arguments are checked here, so that an error speaks of sequences, not of the
    one-row images conv2d sees.
    """
    row = _as_row_image(input, "conv1d")
    stride = _single(stride, "stride", "conv1d", minimum=1)
    dilation = _single(dilation, "dilation", "conv1d", minimum=1)
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"conv1d(): groups must be a positive int, got {groups!r}")
    _check_conv_operands("conv1d", input, weight, bias, groups, "(N, C, L)")
    kernel, length = weight.shape[-1], input.shape[-1]
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise ValueError(f"conv1d(): padding must be an int, 'same' or 'valid', got "
                             f"{padding!r}")
        if padding == "same" and stride != 1:
            raise ValueError(f"conv1d(): padding='same' is not supported for strided "
                             f"convolutions (stride={stride}), as in PyTorch. Hint: use "
                             f"stride=1, or an integer padding with the stride.")
        row_padding = padding
        if padding == "valid":
            _check_length(length, kernel, dilation, 0,
                          conv_output_size(length, dilation * (kernel - 1) + 1, stride, 0),
                          "conv1d")
    else:
        padding = _single(padding, "padding", "conv1d")
        _check_length(length, kernel, dilation, padding,
                      conv_output_size(length, dilation * (kernel - 1) + 1, stride, padding),
                      "conv1d")
        row_padding = (0, padding)
    out = conv2d(row, weight.unsqueeze(-2), bias, (1, stride), row_padding, (1, dilation), groups)
    return out.squeeze(-2)


def _pool1d_arguments(input: Tensor, kernel_size, stride, padding, dilation, ceil_mode,
                      fn_name: str) -> tuple:
    """Checks for max_pool1d/avg_pool1d in 1-D terms; returns the one-row image and the
    (1, k)-style pairs that max_pool2d/avg_pool2d take."""
    row = _as_row_image(input, fn_name)
    _check_float(input, fn_name)
    kernel = _single(kernel_size, "kernel_size", fn_name, minimum=1)
    stride = kernel if stride is None or stride == () else _single(stride, "stride", fn_name,
                                                                   minimum=1)
    padding = _single(padding, "padding", fn_name)
    dilation = _single(dilation, "dilation", fn_name, minimum=1)
    if padding > kernel // 2:
        raise ValueError(f"{fn_name}(): padding {padding} must be at most half the kernel "
                         f"size {kernel} (as in PyTorch), so that every window overlaps the "
                         f"sequence. Hint: use a larger kernel_size or less padding.")
    length = input.shape[-1]
    _check_length(length, kernel, dilation, padding,
                  conv_output_size(length, dilation * (kernel - 1) + 1, stride, padding,
                                   ceil_mode), fn_name)
    return row, (1, kernel), (1, stride), (0, padding), (1, dilation)


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """Max over each window of a sequence, as ``torch.nn.functional.max_pool1d``.

    (N, C, L) or (C, L) -> (N, C, OL); indices (``return_indices``) are positions in L.
    """
    row, kernel, stride, padding, dilation = _pool1d_arguments(
        input, kernel_size, stride, padding, dilation, ceil_mode, "max_pool1d")
    result = max_pool2d(row, kernel, stride, padding, dilation, ceil_mode, return_indices)
    if return_indices:  # the flat index y * L + x with y = 0 is already the position in L
        return result[0].squeeze(-2), result[1].squeeze(-2)
    return result.squeeze(-2)


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode=False,
               count_include_pad=True) -> Tensor:
    """Mean over each window of a sequence, as ``torch.nn.functional.avg_pool1d``.

    (N, C, L) or (C, L) -> (N, C, OL).
    """
    row, kernel, stride, padding, _ = _pool1d_arguments(
        input, kernel_size, stride, padding, 1, ceil_mode, "avg_pool1d")
    return avg_pool2d(row, kernel, stride, padding, ceil_mode, count_include_pad).squeeze(-2)
