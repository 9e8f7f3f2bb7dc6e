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

from .. import kernels
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
    negative = input._data <= 0   # not "not x > 0": a nan passes its gradient, as PyTorch's
    # exp only of the non-positive part: exp of a large positive entry would overflow
    exp_negative = np.exp(np.minimum(input._data, 0))
    out = np.where(negative, alpha * np.expm1(np.minimum(input._data, 0)), input._data)

    def backward(grad):
        # d/dx alpha*(e^x - 1) = alpha*e^x (= alpha at x == 0, as PyTorch)
        return (np.where(negative, grad * (alpha * exp_negative), grad),)

    return Tensor._from_op(out, (input,), backward, "elu")


def tanh(input: Tensor) -> Tensor:
    """Hyperbolic tangent, element-wise (same shape; integers give float32)."""
    input = as_float(input)
    out = np.tanh(input._data)

    def backward(grad):
        return (grad * (1 - out * out),)  # tanh' = 1 - tanh^2

    return Tensor._from_op(out, (input,), backward, "tanh", saved=(), saves_output=True)


def _stable_sigmoid(x: np.ndarray) -> np.ndarray:
    """sigmoid(x) without overflow, exp only ever of -|x|: with e = exp(-|x|) in (0, 1],
    sigmoid(x) = 1/(1+e) for x >= 0 and e/(1+e) for x < 0."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid(input: Tensor) -> Tensor:
    """1 / (1 + exp(-input)), element-wise (same shape), without overflow for any input."""
    input = as_float(input)
    out = _stable_sigmoid(input._data)

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


# -- smooth relatives of ReLU ----------------------------------------------------------
def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """x * Phi(x), Phi the standard normal CDF (same shape): ReLU with a smooth knee, the
    activation of BERT and GPT.

    ``approximate="tanh"`` uses 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 x^3))), as
    PyTorch's option of that name; the default ``"none"`` is exact, through erf.
    """
    input = as_float(require_tensor(input, "gelu"))
    x = input._data
    if approximate == "none":
        cdf = 0.5 * (1 + kernels.erf(x * np.sqrt(0.5)))   # Phi(x) = (1 + erf(x / sqrt 2)) / 2
        pdf = np.exp(-0.5 * x * x) / np.sqrt(2 * np.pi)   # phi(x), Phi's derivative
        out = x * cdf

        def backward(grad):
            return (grad * (cdf + x * pdf),)   # product rule: Phi(x) + x * phi(x)
    elif approximate == "tanh":
        inner = np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)
        t = np.tanh(inner)
        out = 0.5 * x * (1 + t)

        def backward(grad):
            d_inner = np.sqrt(2 / np.pi) * (1 + 3 * 0.044715 * x * x)
            return (grad * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * d_inner),)
    else:
        raise ValueError(f"gelu(): approximate must be 'none' or 'tanh', got {approximate!r}")
    return Tensor._from_op(out.astype(x.dtype, copy=False), (input,), backward, "gelu")


def silu(input: Tensor) -> Tensor:
    """x * sigmoid(x), also called swish (same shape)."""
    input = as_float(require_tensor(input, "silu"))
    x = input._data
    s = _stable_sigmoid(x)

    def backward(grad):
        return (grad * (s * (1 + x * (1 - s))),)   # s + x * s * (1 - s)

    return Tensor._from_op(x * s, (input,), backward, "silu")


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    """log(1 + exp(beta * x)) / beta, a smooth ReLU (same shape). Where beta * x >
    ``threshold`` the result is x itself (as PyTorch: there the two differ by < 1e-9)."""
    input = as_float(require_tensor(input, "softplus"))
    x = input._data
    scaled = beta * x
    linear = scaled > threshold
    # logaddexp(0, z) = log(1 + e^z) without overflow for large z
    out = np.where(linear, x, np.logaddexp(0, scaled) / beta).astype(x.dtype, copy=False)

    def backward(grad):
        return (np.where(linear, grad, grad * _stable_sigmoid(scaled)),)   # d/dx = sigmoid(bx)

    return Tensor._from_op(out, (input,), backward, "softplus")


def mish(input: Tensor) -> Tensor:
    """x * tanh(softplus(x)) (same shape)."""
    input = as_float(require_tensor(input, "mish"))
    x = input._data
    t = np.tanh(np.logaddexp(0, x))

    def backward(grad):
        # tanh(sp) + x * (1 - tanh(sp)^2) * sp', and sp' = sigmoid(x)
        return (grad * (t + x * (1 - t * t) * _stable_sigmoid(x)),)

    return Tensor._from_op((x * t).astype(x.dtype, copy=False), (input,), backward, "mish")


def logsigmoid(input: Tensor) -> Tensor:
    """log(sigmoid(x)) = -softplus(-x), computed without overflow (same shape)."""
    input = as_float(require_tensor(input, "logsigmoid"))
    x = input._data

    def backward(grad):
        return (grad * _stable_sigmoid(-x),)   # d/dx log sigmoid(x) = 1 - sigmoid(x)

    return Tensor._from_op(-np.logaddexp(0, -x).astype(x.dtype, copy=False), (input,),
                           backward, "logsigmoid")


def softsign(input: Tensor) -> Tensor:
    """x / (1 + |x|), in (-1, 1) (same shape)."""
    input = as_float(require_tensor(input, "softsign"))
    x = input._data
    denominator = 1 + np.abs(x)

    def backward(grad):
        return (grad / (denominator * denominator),)

    return Tensor._from_op(x / denominator, (input,), backward, "softsign")


def tanhshrink(input: Tensor) -> Tensor:
    """x - tanh(x) (same shape)."""
    input = as_float(require_tensor(input, "tanhshrink"))
    t = np.tanh(input._data)

    def backward(grad):
        return (grad * (t * t),)   # 1 - (1 - tanh^2)

    return Tensor._from_op(input._data - t, (input,), backward, "tanhshrink")


# -- the ELU family ---------------------------------------------------------------------
SELU_ALPHA = 1.6732632423543772848170429916717
SELU_SCALE = 1.0507009873554804934193349852946


def selu(input: Tensor) -> Tensor:
    """SELU_SCALE * elu(x, SELU_ALPHA) (same shape): with these two constants, inputs of
    mean 0 and variance 1 come out with mean 0 and variance 1 (self-normalising nets)."""
    input = as_float(require_tensor(input, "selu"))
    x = input._data
    negative = x <= 0   # not "not x > 0": a nan passes its gradient, as PyTorch's
    exp_negative = np.exp(np.minimum(x, 0))   # exp only of the non-positive part, as elu
    out = SELU_SCALE * np.where(negative, SELU_ALPHA * np.expm1(np.minimum(x, 0)), x)

    def backward(grad):
        return (SELU_SCALE * np.where(negative, grad * (SELU_ALPHA * exp_negative), grad),)

    return Tensor._from_op(out.astype(x.dtype, copy=False), (input,), backward, "selu")


def celu(input: Tensor, alpha: float = 1.0) -> Tensor:
    """x for x > 0, alpha * (exp(x / alpha) - 1) otherwise (same shape); slope 1 at 0 from
    both sides for every alpha (elu's is alpha on the left)."""
    if alpha == 0:
        raise ValueError("celu(): alpha must not be 0 (it divides the input). Hint: "
                         "alpha=1.0 is the default.")
    input = as_float(require_tensor(input, "celu"))
    x = input._data
    negative = x <= 0   # a nan passes its gradient, as PyTorch's
    negative_part = np.minimum(x, 0) / alpha   # exp only of the non-positive part
    out = np.where(negative, alpha * np.expm1(negative_part), x).astype(x.dtype, copy=False)

    def backward(grad):
        return (np.where(negative, grad * np.exp(negative_part), grad),)

    return Tensor._from_op(out, (input,), backward, "celu")


# -- piecewise linear --------------------------------------------------------------------
def _check_bounds(low: float, high: float, fn_name: str) -> None:
    if low > high:
        raise ValueError(f"{fn_name}(): min_val ({low}) must not exceed max_val ({high}).")


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0) -> Tensor:
    """x clipped to [min_val, max_val] (same shape). The gradient is 0 at and beyond the
    bounds, as PyTorch's (a nan passes through, with its gradient)."""
    _check_bounds(min_val, max_val, "hardtanh")
    input = require_tensor(input, "hardtanh")
    x = input._data
    outside = (x <= min_val) | (x >= max_val)   # not "inside": a nan is neither

    def backward(grad):
        return (np.where(outside, 0, grad).astype(grad.dtype, copy=False),)

    out = np.clip(x, min_val, max_val).astype(x.dtype, copy=False)
    return Tensor._from_op(out, (input,), backward, "hardtanh")


def relu6(input: Tensor) -> Tensor:
    """min(max(x, 0), 6) (same shape): hardtanh(x, 0, 6)."""
    return hardtanh(require_tensor(input, "relu6"), 0.0, 6.0)


def hardsigmoid(input: Tensor) -> Tensor:
    """relu6(x + 3) / 6: sigmoid's piecewise-linear stand-in, 0 below -3, 1 above 3."""
    input = as_float(require_tensor(input, "hardsigmoid"))
    x = input._data
    inside = (x > -3) & (x < 3)

    def backward(grad):
        return (np.where(inside, grad / 6, 0).astype(grad.dtype, copy=False),)

    out = (np.clip(x + 3, 0, 6) / 6).astype(x.dtype, copy=False)
    return Tensor._from_op(out, (input,), backward, "hardsigmoid")


def hardswish(input: Tensor) -> Tensor:
    """x * relu6(x + 3) / 6 (same shape): silu's piecewise stand-in (MobileNetV3)."""
    input = as_float(require_tensor(input, "hardswish"))
    x = input._data

    def backward(grad):
        # 0 up to -3, x/3 + 1/2 between, 1 from 3 on (the boundaries as PyTorch's)
        slope = np.where(x <= -3, 0.0, np.where(x < 3, x / 3 + 0.5, 1.0))
        return ((grad * slope).astype(grad.dtype, copy=False),)

    out = (x * np.clip(x + 3, 0, 6) / 6).astype(x.dtype, copy=False)
    return Tensor._from_op(out, (input,), backward, "hardswish")


def threshold(input: Tensor, threshold: float, value: float) -> Tensor:
    """x where x > threshold, else ``value`` (same shape); the gradient is 0 where replaced."""
    input = require_tensor(input, "threshold")
    x = input._data
    replaced = x <= threshold   # a nan is not replaced, as PyTorch's

    def backward(grad):
        return (np.where(replaced, 0, grad).astype(grad.dtype, copy=False),)

    out = np.where(replaced, value, x).astype(x.dtype, copy=False)
    return Tensor._from_op(out, (input,), backward, "threshold")


def _check_lambd(lambd: float, fn_name: str) -> None:
    if not lambd >= 0:
        raise ValueError(f"{fn_name}(): lambd must be >= 0, got {lambd}. Hint: it is the "
                         f"half-width of the band around 0 that is set to 0 (default 0.5).")


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x where |x| > lambd, else 0 (same shape)."""
    _check_lambd(lambd, "hardshrink")
    input = require_tensor(input, "hardshrink")
    x = input._data
    band = (x >= -lambd) & (x <= lambd)

    def backward(grad):
        return (np.where(band, 0, grad).astype(grad.dtype, copy=False),)

    return Tensor._from_op(np.where(band, 0, x).astype(x.dtype, copy=False), (input,),
                           backward, "hardshrink")


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    """x - lambd above lambd, x + lambd below -lambd, 0 in between (same shape): the
    proximal step of an L1 penalty."""
    _check_lambd(lambd, "softshrink")
    input = as_float(require_tensor(input, "softshrink"))
    x = input._data
    band = (x >= -lambd) & (x <= lambd)

    def backward(grad):
        return (np.where(band, 0, grad).astype(grad.dtype, copy=False),)

    out = np.where(band, 0, x - np.sign(x) * lambd).astype(x.dtype, copy=False)
    return Tensor._from_op(out, (input,), backward, "softshrink")


# -- with a parameter or a split ---------------------------------------------------------
def prelu(input: Tensor, weight: Tensor) -> Tensor:
    """x where x > 0, else weight * x, with one learned slope per channel (dim 1) or one
    for all. Shapes: input (N, C, ...) or (N,), weight (C,) or (1,) -> input's shape."""
    input, weight = require_tensor(input, "prelu"), require_tensor(weight, "prelu", "weight")
    x, w = input._data, weight._data
    channels = x.shape[1] if x.ndim >= 2 else 1
    if w.ndim != 1 or w.shape[0] not in (1, channels):
        raise ValueError(f"prelu(): weight must have shape (1,) or ({channels},) (one slope per "
                         f"channel, dim 1 of the input {x.shape}), got {w.shape}. Hint: "
                         f"nn.PReLU(num_parameters={channels}).")
    # the weight lined up with dim 1: (C,) -> (C, 1, ..., 1); one slope for inputs of < 2 dims
    w_view = w.reshape((-1,) + (1,) * (x.ndim - 2)) if x.ndim >= 2 else w.reshape(())
    positive = x > 0
    out = np.where(positive, x, w_view * x)

    def backward(grad):
        grad_x = np.where(positive, grad, grad * w_view)
        grad_w = np.where(positive, 0, grad * x)   # d out / d w = x on the negative side
        summed = tuple(axis for axis in range(x.ndim) if not (axis == 1 and w.shape[0] > 1))
        return grad_x, np.sum(grad_w, axis=summed).reshape(w.shape).astype(w.dtype, copy=False)

    return Tensor._from_op(out, (input, weight), backward, "prelu")


def glu(input: Tensor, dim: int = -1) -> Tensor:
    """Gated linear unit: split ``input`` in halves a, b along ``dim``; a * sigmoid(b).
    Shape: ``dim`` halves (its size must be even)."""
    input = as_float(require_tensor(input, "glu"))
    x = input._data
    if x.ndim == 0:
        raise ValueError("glu(): a 0-d tensor cannot be halved. Hint: give it a dim of even "
                         "size.")
    axis = single_dim(dim, x.ndim, "glu")
    if x.shape[axis] % 2:
        raise ValueError(f"glu(): dim {dim} must have an even size to be halved, got "
                         f"{x.shape[axis]} (input shape {x.shape}).")
    a, b = np.split(x, 2, axis=axis)
    gate = _stable_sigmoid(b)

    def backward(grad):
        # d/da = sigmoid(b); d/db = a * sigmoid(b) * (1 - sigmoid(b))
        return (np.concatenate([grad * gate, grad * a * gate * (1 - gate)], axis=axis),)

    return Tensor._from_op((a * gate).astype(x.dtype, copy=False), (input,), backward, "glu")
