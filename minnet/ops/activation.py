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


def relu(a: Tensor) -> Tensor:
    """max(a, 0)."""
    out = np.maximum(a.data, 0)
    mask = ~(out <= 0)  # not "out > 0": a nan input passes its gradient through, as in PyTorch

    def backward(grad):
        # the subgradient at exactly 0 is taken as 0, as in PyTorch
        return (grad * mask,)

    return Tensor._from_op(out, (a,), backward, "relu")


def leaky_relu(a: Tensor, negative_slope: float = 0.01) -> Tensor:
    """a where a > 0, else ``negative_slope * a``."""
    positive = a.data > 0
    out = np.where(positive, a.data, a.data * negative_slope)

    def backward(grad):
        # at exactly 0 the slope on the negative side is used, as in PyTorch
        return (np.where(positive, grad, grad * negative_slope),)

    return Tensor._from_op(out, (a,), backward, "leaky_relu")


def elu(a: Tensor, alpha: float = 1.0) -> Tensor:
    """a where a > 0, else ``alpha * (exp(a) - 1)``."""
    a = as_float(a)
    positive = a.data > 0
    # exp only of the non-positive part: exp of a large positive entry would overflow
    exp_negative = np.exp(np.minimum(a.data, 0))
    out = np.where(positive, a.data, alpha * np.expm1(np.minimum(a.data, 0)))

    def backward(grad):
        # d/da alpha*(e^a - 1) = alpha*e^a (= alpha at a == 0, as PyTorch)
        return (np.where(positive, grad, grad * (alpha * exp_negative)),)

    return Tensor._from_op(out, (a,), backward, "elu")


def tanh(a: Tensor) -> Tensor:
    a = as_float(a)
    out = np.tanh(a.data)

    def backward(grad):
        return (grad * (1 - out * out),)

    return Tensor._from_op(out, (a,), backward, "tanh")


def sigmoid(a: Tensor) -> Tensor:
    """1 / (1 + exp(-a)), computed without overflow for any a."""
    a = as_float(a)
    # with e = exp(-|a|) in (0, 1]:  sigmoid(a) = 1/(1+e) for a >= 0, e/(1+e) for a < 0
    e = np.exp(-np.abs(a.data))
    out = np.where(a.data >= 0, 1 / (1 + e), e / (1 + e))

    def backward(grad):
        return (grad * (out * (1 - out)),)

    return Tensor._from_op(out, (a,), backward, "sigmoid")


def _softmax_dim(a: Tensor, dim, fn_name: str):
    if dim is None:
        # PyTorch's legacy rule for F.softmax without dim (deprecated there too)
        warnings.warn(f"{fn_name}(): implicit dimension choice is deprecated; pass dim= "
                      "(usually dim=-1, the class dimension)", UserWarning, stacklevel=3)
        dim = 0 if a.ndim in (0, 1, 3) else 1
    axis = single_dim(dim, a.ndim, fn_name)
    return None if a.ndim == 0 else axis  # a 0-d tensor is its own (one-entry) slice


def softmax(a: Tensor, dim=None) -> Tensor:
    """exp(a) / sum(exp(a)) along ``dim``: each slice becomes a probability vector."""
    a = as_float(require_tensor(a, "softmax"))
    axis = _softmax_dim(a, dim, "softmax")
    shifted = a.data - np.max(a.data, axis=axis, keepdims=True)  # largest entry -> exp(0)
    e = np.exp(shifted)
    out = e / np.sum(e, axis=axis, keepdims=True)

    def backward(grad):
        # Jacobian-vector product: s * (g - sum(g * s))
        return (out * (grad - np.sum(grad * out, axis=axis, keepdims=True)),)

    return Tensor._from_op(out, (a,), backward, "softmax")


def log_softmax(a: Tensor, dim=None) -> Tensor:
    """a - logsumexp(a) along ``dim``, computed stably."""
    a = as_float(require_tensor(a, "log_softmax"))
    axis = _softmax_dim(a, dim, "log_softmax")
    shifted = a.data - np.max(a.data, axis=axis, keepdims=True)
    out = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))

    def backward(grad):
        # d/da_j (a_i - logsumexp a) = delta_ij - softmax_j
        return (grad - np.exp(out) * np.sum(grad, axis=axis, keepdims=True),)

    return Tensor._from_op(out, (a,), backward, "log_softmax")
