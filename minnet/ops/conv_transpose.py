"""Transposed convolution ("deconvolution"): the layer that upsamples in autoencoders, GANs
and U-Nets, as ``torch.nn.functional.conv_transpose2d``.

conv2d maps an image to a smaller one with the matrix product ``out = W @ im2col(x)``.
The transposed convolution is that map run backwards, the product with ``W^T``:
``out = col2im(W^T @ x)``. Each input pixel scatters a copy of the kernel, scaled by its
value, onto the output, ``stride`` pixels apart; where copies overlap they add. It is
exactly what conv2d's backward does to the output gradient, so the two share kernels,
and its own backward is a plain convolution (for the input) and a product of columns
(for the weight).
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .. import kernels
from ..tensor import Tensor
from .conv import _batched, _check_dilation, _check_float, _dilate_kernel, as_pair


def conv_transpose2d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride=1,
                     padding=0, output_padding=0, groups: int = 1, dilation=1) -> Tensor:
    """Shapes: input (N, C_in, H, W) or (C_in, H, W); weight (C_in, C_out // groups, kh, kw)
    (PyTorch's layout: in-channels first); bias (C_out,) -> (N, C_out, OH, OW) with
    OH = (H - 1) * stride - 2 * padding + dilation * (kh - 1) + output_padding + 1.

    ``padding`` trims the output's borders (it undoes a conv2d's padding);
    ``output_padding`` (< stride or dilation) adds rows and columns at the end, to reach
    the size a strided conv2d started from when several sizes map to one.
    """
    data, unbatched = _batched(input, "conv_transpose2d", "(N, C_in, H, W)")
    _check_float(input, "conv_transpose2d")
    if not isinstance(groups, (int, np.integer)) or isinstance(groups, bool) or groups < 1:
        raise ValueError(f"conv_transpose2d(): groups must be a positive int, got {groups!r}")
    if weight.ndim != 4 or weight.shape[0] != data.shape[1] or data.shape[1] % groups:
        raise ValueError(f"conv_transpose2d(): weight must be (C_in, C_out / groups, kh, kw) "
                         f"with C_in = the input's {data.shape[1]} channels (divisible by "
                         f"groups={groups}), got weight {weight.shape} for input "
                         f"{input.shape}. Hint: the transposed layer's weight has the "
                         f"in-channels first, unlike conv2d's.")
    out_channels = weight.shape[1] * groups
    if bias is not None and bias.shape != (out_channels,):
        raise ValueError(f"conv_transpose2d(): bias must have shape ({out_channels},), got "
                         f"{bias.shape}")
    for name, other in (("weight", weight), ("bias", bias)):
        if other is not None and other.dtype != input.dtype:
            raise TypeError(f"conv_transpose2d(): input dtype {input.dtype} and {name} dtype "
                            f"{other.dtype} differ. Hint: convert one of them (.float() or "
                            f".double()).")
    stride = as_pair(stride, "stride", "conv_transpose2d")
    padding = as_pair(padding, "padding", "conv_transpose2d")
    output_padding = as_pair(output_padding, "output_padding", "conv_transpose2d")
    dilation = _check_dilation(dilation, "conv_transpose2d")
    if min(stride) < 1 or min(padding) < 0:
        raise ValueError(f"conv_transpose2d(): stride must be positive and padding >= 0, got "
                         f"stride {stride}, padding {padding}")
    for extra, step, spread in zip(output_padding, stride, dilation):
        if not 0 <= extra < max(step, spread):
            raise ValueError(f"conv_transpose2d(): output_padding {output_padding} must be "
                             f">= 0 and smaller than the stride {stride} or the dilation "
                             f"{dilation}")
    if groups > 1:
        from .shape import cat
        per_in, per_out = data.shape[1] // groups, weight.shape[1]
        batched = input if not unbatched else input.unsqueeze(0)
        outputs = [_one_group(batched[:, g * per_in:(g + 1) * per_in],
                              weight[g * per_in:(g + 1) * per_in],
                              None if bias is None else bias[g * per_out:(g + 1) * per_out],
                              stride, padding, output_padding, dilation)
                   for g in range(groups)]
        out = cat(outputs, dim=1)
        return out.squeeze(0) if unbatched else out
    batched = input if not unbatched else input.unsqueeze(0)
    out = _one_group(batched, weight, bias, stride, padding, output_padding, dilation)
    return out.squeeze(0) if unbatched else out


def _one_group(input: Tensor, weight: Tensor, bias: Optional[Tensor], stride: tuple,
               padding: tuple, output_padding: tuple, dilation: tuple) -> Tensor:
    """conv_transpose2d of a batched (N, C_in, H, W) input with one group."""
    if dilation != (1, 1):
        weight = _dilate_kernel(weight, dilation)   # (C_in, C_out, spread kh, spread kw)
    x = np.ascontiguousarray(input._data)
    n_images, in_channels, height, width = x.shape
    _, out_channels, kernel_h, kernel_w = weight.shape
    (stride_h, stride_w), (pad_h, pad_w) = stride, padding
    out_h = (height - 1) * stride_h - 2 * pad_h + kernel_h + output_padding[0]
    out_w = (width - 1) * stride_w - 2 * pad_w + kernel_w + output_padding[1]
    if out_h < 1 or out_w < 1:
        raise ValueError(f"conv_transpose2d(): padding {padding} trims the whole output "
                         f"(size ({out_h}, {out_w})) for input ({height}, {width}) and kernel "
                         f"({kernel_h}, {kernel_w}). Hint: use less padding.")
    # the conv2d this one transposes maps (out_h, out_w) images to (height, width) ones
    geometry = (kernel_h, kernel_w, stride_h, stride_w, pad_h, pad_w, height, width)
    weight_matrix = weight._data.reshape(in_channels, -1)     # (C_in, C_out*kh*kw)
    columns = np.matmul(weight_matrix.T, x.reshape(n_images, in_channels, -1))
    out = kernels.col2im(columns, n_images, out_channels, out_h, out_w, *geometry)
    if bias is not None:
        out += bias._data.reshape(1, -1, 1, 1)

    def backward(grad):
        grad = np.ascontiguousarray(grad)
        # the columns each output pixel would contribute: conv2d's im2col of the gradient
        grad_columns = kernels.im2col(grad, *geometry)        # (N, C_out*kh*kw, H*W)
        grad_x = grad_w = grad_b = None
        if input.requires_grad:   # a plain convolution of the gradient: W @ columns
            grad_x = np.matmul(weight_matrix, grad_columns).reshape(x.shape)
        if weight.requires_grad:  # out = col2im(W^T x): dL/dW^T = sum_n columns_n x_n^T
            grad_w = np.tensordot(x.reshape(n_images, in_channels, -1), grad_columns,
                                  axes=([0, 2], [0, 2])).reshape(weight.shape)
        if bias is not None and bias.requires_grad:
            grad_b = grad.sum(axis=(0, 2, 3))
        return (grad_x, grad_w) if bias is None else (grad_x, grad_w, grad_b)

    parents = (input, weight) if bias is None else (input, weight, bias)
    return Tensor._from_op(out, parents, backward, "conv_transpose2d")
