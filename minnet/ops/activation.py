"""Activation functions and softmax.

Numerical care, because students will push these to extremes:
* ``sigmoid`` only ever calls ``exp`` on ``-|x|``, so it cannot overflow;
* ``softmax``/``log_softmax`` subtract the max along ``dim`` first, so the
  largest exponent is exp(0) = 1 and logits of +-1e4 stay finite;
* ``elu`` evaluates ``exp`` only on the non-positive part of the input.
"""
from __future__ import annotations

import warnings

import numpy as np

from ..tensor import Tensor
from ._util import as_float, require_tensor, single_dim


def relu(input: Tensor) -> Tensor:
    """max(input, 0), element-wise (same shape)."""
    out = np.maximum(input._data, 0)
    # out is positive, 0 or nan: not "out > 0", a nan input passes its gradient through (PyTorch)
    mask = out != 0

    def backward(grad):
        # the subgradient at exactly 0 is taken as 0, as in PyTorch
        return (grad * mask,)

    return Tensor._from_op(out, (input,), backward, "relu", saved=(), saves_output=True)


def leaky_relu(input: Tensor, negative_slope: float = 0.01) -> Tensor:
    """``input`` where input > 0, else ``negative_slope * input`` (same shape; integers give
    float32, as elu)."""
    input = as_float(input)
    positive = input._data > 0
    out = np.where(positive, input._data, input._data * negative_slope)

    def backward(grad):
        # at exactly 0 the slope on the negative side is used, as in PyTorch
        return (np.where(positive, grad, grad * negative_slope),)

    return Tensor._from_op(out, (input,), backward, "leaky_relu")


def elu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """``input`` where input > 0, else ``alpha * (exp(input) - 1)`` (same shape)."""
    input = as_float(input)
    positive = input._data > 0
    # exp only of the non-positive part: exp of a large positive entry would overflow
    exp_negative = np.exp(np.minimum(input._data, 0))
    out = np.where(positive, input._data, alpha * np.expm1(np.minimum(input._data, 0)))

    def backward(grad):
        # d/dx alpha*(e^x - 1) = alpha*e^x (= alpha at x == 0, as PyTorch)
        return (np.where(positive, grad, grad * (alpha * exp_negative)),)

    return Tensor._from_op(out, (input,), backward, "elu")


def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent, element-wise (same shape; integers give float32)."""
    input = as_float(input)
    out = np.tanh(input._data)

    def backward(grad):
        return (grad * (1 - out * out),)  # tanh' = 1 - tanh^2

    return Tensor._from_op(out, (input,), backward, "tanh", saved=(), saves_output=True)


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + exp(-input)), element-wise (same shape), without overflow for any input."""
    input = as_float(input)
    # with e = exp(-|x|) in (0, 1]:  sigmoid(x) = 1/(1+e) for x >= 0, e/(1+e) for x < 0
    e = np.exp(-np.abs(input._data))
    out = np.where(input._data >= 0, 1 / (1 + e), e / (1 + e))

    def backward(grad):
        return (grad * (out * (1 - out)),)

    return Tensor._from_op(out, (input,), backward, "sigmoid", saved=(),
                           saves_output=True)


def _softmax_dim(a: Tensor, dim, fn_name: str):
    if dim is None:
        # PyTorch's legacy rule for F.softmax without dim (deprecated there too)
        warnings.warn(f"{fn_name}(): implicit dimension choice is deprecated; pass dim= "
                      "(usually dim=-1, the class dimension)", UserWarning, stacklevel=3)
        dim = 0 if a.ndim in (0, 1, 3) else 1
    axis = single_dim(dim, a.ndim, fn_name)
    return None if a.ndim == 0 else axis  # a 0-d tensor is its own (one-entry) slice


def _slice_max(data: np.ndarray, axis) -> np.ndarray:
    """The largest entry of each slice, kept as a size-1 dim; an empty input has no
    entries to compare (``initial`` lets NumPy reduce it to an empty result)."""
    return np.max(data, axis=axis, keepdims=True, initial=-np.inf)


def softmax(input: Tensor, dim=None, dtype=None) -> Tensor:
    """exp(input) / sum(exp(input)) along ``dim``: each slice becomes a probability vector.

    Same shape as ``input``; e.g. logits (N, C) with dim=1 -> class probabilities (N, C).
    ``dtype`` converts the input first (as PyTorch's).
    """
    input = as_float(require_tensor(input, "softmax")._cast_before("softmax", dtype))
    axis = _softmax_dim(input, dim, "softmax")
    shifted = input._data - _slice_max(input._data, axis)  # largest entry -> exp(0)
    e = np.exp(shifted)
    out = e / np.sum(e, axis=axis, keepdims=True)

    def backward(grad):
        # Jacobian-vector product: s * (g - sum(g * s))
        return (out * (grad - np.sum(grad * out, axis=axis, keepdims=True)),)

    return Tensor._from_op(out, (input,), backward, "softmax", saved=(),
                           saves_output=True)


def log_softmax(input: Tensor, dim=None, dtype=None) -> Tensor:
    """input - logsumexp(input) along ``dim``, computed stably (same shape as ``input``;
    ``dtype`` converts the input first)."""
    input = as_float(require_tensor(input, "log_softmax")._cast_before("log_softmax", dtype))
    axis = _softmax_dim(input, dim, "log_softmax")
    shifted = input._data - _slice_max(input._data, axis)
    with np.errstate(divide="ignore"):  # only an empty slice sums to 0 (and has no output)
        out = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))

    def backward(grad):
        # d/dx_j (x_i - logsumexp x) = delta_ij - softmax_j
        return (grad - np.exp(out) * np.sum(grad, axis=axis, keepdims=True),)

    return Tensor._from_op(out, (input,), backward, "log_softmax", saved=(),
                           saves_output=True)
