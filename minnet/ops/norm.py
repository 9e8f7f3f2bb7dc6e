"""Batch normalisation as one fused op (forward and backward side by side).

Training normalises each channel by the current batch's statistics and updates
the running estimates in place (as PyTorch); evaluation uses the running
estimates, so a sample's output no longer depends on the rest of its batch.
Shapes: input (N, C), (N, C, L) or (N, C, H, W); running_mean, running_var,
weight, bias (C,); statistics over every axis but the channel axis 1.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..tensor import Tensor


def _per_channel(array: np.ndarray, ndim: int) -> np.ndarray:
    """Reshape a (C,) array to (1, C, 1, ...) so it broadcasts against the input."""
    return array.reshape((1, -1) + (1,) * (ndim - 2))


def batch_norm(input: Tensor, running_mean: Optional[Tensor], running_var: Optional[Tensor],
               weight: Optional[Tensor] = None, bias: Optional[Tensor] = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """y = (x - mean) / sqrt(var + eps) * weight + bias, per channel (PyTorch's F.batch_norm).

    In training mode mean/var are the batch's (biased variance for normalising);
    the running estimates, if given, become ``(1 - momentum) * running + momentum * batch``
    with the *unbiased* batch variance, exactly as PyTorch.
    """
    x = input._data
    if x.ndim < 2:
        raise ValueError(f"batch_norm(): input needs shape (N, C, ...), got {input.shape}")
    num_channels = x.shape[1]
    for name, tensor in (("running_mean", running_mean), ("running_var", running_var),
                         ("weight", weight), ("bias", bias)):
        if tensor is not None and tensor.shape != (num_channels,):
            raise ValueError(f"batch_norm(): {name} has shape {tensor.shape} but the input "
                             f"{input.shape} has {num_channels} channels (axis 1)")
    axes = (0,) + tuple(range(2, x.ndim))
    count = x.size // num_channels  # values per channel
    dtype = x.dtype

    if training and count == 0:
        # an empty batch (PyTorch allows it): an empty output, running statistics left alone
        mean, var = np.zeros(num_channels, dtype), np.ones(num_channels, dtype)
    elif training:
        if count == 1:
            raise ValueError(f"batch_norm(): expected more than 1 value per channel when training, "
                             f"got input size {input.shape}. Hint: use a batch size > 1, or call "
                             f"model.eval() to use the running statistics.")
        mean = x.mean(axis=axes)
        var = x.var(axis=axes)  # biased: what the batch is normalised with
        if running_mean is not None:
            running_mean._data[...] = (1 - momentum) * running_mean._data + momentum * mean
        if running_var is not None:
            unbiased_var = var * (count / (count - 1))
            running_var._data[...] = (1 - momentum) * running_var._data + momentum * unbiased_var
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm(): running_mean and running_var are required when "
                             "training=False")
        mean = running_mean._data.astype(dtype, copy=False)
        var = running_var._data.astype(dtype, copy=False)

    inv_std = (1.0 / np.sqrt(var + eps)).astype(dtype, copy=False)
    x_hat = (x - _per_channel(mean, x.ndim)) * _per_channel(inv_std, x.ndim)
    out = x_hat
    if weight is not None:
        out = out * _per_channel(weight._data, x.ndim)
    if bias is not None:
        out = out + _per_channel(bias._data, x.ndim)
    parents = tuple(t for t in (input, weight, bias) if t is not None)

    def backward(grad):
        grad_x_hat = grad if weight is None else grad * _per_channel(weight._data, x.ndim)
        grad_input = None
        if input.requires_grad:
            if training and count:  # (an empty batch takes the other branch: no 0/0)
                # mean and var depend on x too; the three terms are d/dx of x_hat's
                # numerator, of the mean, and of the variance
                sum_grad = grad_x_hat.sum(axis=axes, keepdims=True)
                sum_grad_x_hat = (grad_x_hat * x_hat).sum(axis=axes, keepdims=True)
                grad_input = (_per_channel(inv_std, x.ndim) / count
                              * (count * grad_x_hat - sum_grad - x_hat * sum_grad_x_hat))
            else:
                grad_input = grad_x_hat * _per_channel(inv_std, x.ndim)
        grads = [grad_input]
        if weight is not None:
            grads.append((grad * x_hat).sum(axis=axes) if weight.requires_grad else None)
        if bias is not None:
            grads.append(grad.sum(axis=axes) if bias.requires_grad else None)
        return tuple(grads)

    return Tensor._from_op(out, parents, backward, "batch_norm")
