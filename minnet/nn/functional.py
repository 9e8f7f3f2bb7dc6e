"""Functional forms of layers and losses (``import minnet.nn.functional as F``).

Everything here is stateless: parameters and running statistics are passed in.
The layers in ``minnet.nn`` call these functions; the functions call the ops
in ``minnet.ops``, where forward and backward are written.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .. import ops
from ..ops.dropout import dropout
from ..ops.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from ..ops.norm import batch_norm
from ..tensor import Tensor

try:  # conv and pooling live in another file that may not exist yet
    from ..ops.conv import avg_pool2d, conv2d, max_pool2d  # noqa: F401
except ImportError:  # pragma: no cover - depends on the build state
    pass

__all__ = [
    "linear", "relu", "leaky_relu", "elu", "tanh", "sigmoid", "softmax", "log_softmax",
    "dropout", "batch_norm", "pad", "flatten",
    "mse_loss", "l1_loss", "smooth_l1_loss", "cross_entropy", "nll_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits",
]


# -- layers -------------------------------------------------------------------------
def linear(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None) -> Tensor:
    """input (..., in) @ weight.T (in, out) + bias (out,) -> (..., out)."""
    return ops.linear(input, weight, bias)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    return input.flatten(start_dim, end_dim)


# -- activations ----------------------------------------------------------------------
def relu(input: Tensor, inplace: bool = False) -> Tensor:
    return ops.relu(input)


def leaky_relu(input: Tensor, negative_slope: float = 0.01, inplace: bool = False) -> Tensor:
    return ops.leaky_relu(input, negative_slope)


def elu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    return ops.elu(input, alpha)


def tanh(input: Tensor) -> Tensor:
    return ops.tanh(input)


def sigmoid(input: Tensor) -> Tensor:
    return ops.sigmoid(input)


def softmax(input: Tensor, dim: int, dtype=None) -> Tensor:
    if dtype is not None:
        input = input.astype(dtype)
    return ops.softmax(input, dim)


def log_softmax(input: Tensor, dim: int, dtype=None) -> Tensor:
    if dtype is not None:
        input = input.astype(dtype)
    return ops.log_softmax(input, dim)


# -- padding ------------------------------------------------------------------------------
def pad(input: Tensor, pad: tuple, mode: str = "constant", value: float = 0.0) -> Tensor:
    """Pad the last dims, PyTorch order: ``pad=(left, right, top, bottom, ...)``.

    Pairs apply from the last dim backwards: (1, 2) pads the last dim with 1
    before and 2 after; (1, 1, 2, 2) also pads the second-to-last dim by 2.
    Only ``mode='constant'`` is supported. Backward slices the padding off.
    """
    if mode != "constant":
        raise NotImplementedError(f"pad(): only mode='constant' is supported, got {mode!r}")
    if len(pad) % 2 or len(pad) // 2 > input.ndim:
        raise ValueError(f"pad(): pad must have an even length of at most 2 * ndim = "
                         f"{2 * input.ndim} entries, got {tuple(pad)} for input shape "
                         f"{input.shape}")
    widths = [(0, 0)] * input.ndim
    for pair_index in range(len(pad) // 2):
        widths[input.ndim - 1 - pair_index] = (int(pad[2 * pair_index]),
                                               int(pad[2 * pair_index + 1]))
    if any(before < 0 or after < 0 for before, after in widths):
        raise ValueError(f"pad(): negative padding {tuple(pad)} is not supported")
    out = np.pad(input.data, widths, mode="constant", constant_values=value)
    keep = tuple(slice(before, before + size) for (before, _), size in zip(widths, input.shape))

    def backward(grad):
        return (grad[keep],)

    return Tensor._from_op(out, (input,), backward, "pad")
