"""Functional forms of layers and losses (``import minnet.nn.functional as F``).

Everything here is stateless: parameters and running statistics are passed in.
The layers in ``minnet.nn`` call these functions; the functions call the ops
in ``minnet.ops``, where forward and backward are written.
"""
from __future__ import annotations

from typing import Optional

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
from ..ops.shape import pad  # F.pad(input, pad, mode='constant', value=None)
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
    return ops.flatten(input, start_dim, end_dim)


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
