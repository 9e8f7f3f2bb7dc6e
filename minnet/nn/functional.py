"""Functional forms of layers and losses (``import minnet.nn.functional as F``).

Everything here is stateless: parameters and running statistics are passed in.
The layers in ``minnet.nn`` call these functions; the functions call the ops
in ``minnet.ops``, where forward and backward are written.
"""
from __future__ import annotations

import numbers
import warnings
from typing import Optional

import numpy as np

from .. import ops
from ..ops.dropout import dropout as _dropout
from ..ops.loss import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    l1_loss,
    mse_loss,
    nll_loss,
    smooth_l1_loss,
)
from ..ops.margin_loss import (  # noqa: F401
    cosine_embedding_loss,
    gaussian_nll_loss,
    hinge_embedding_loss,
    margin_ranking_loss,
    multi_margin_loss,
    multilabel_soft_margin_loss,
    poisson_nll_loss,
    soft_margin_loss,
    triplet_margin_loss,
)
from ..ops.norm import batch_norm
from ..tensor import Tensor
from .sparse import embedding  # noqa: F401

from ..ops.conv_transpose import conv_transpose2d  # noqa: F401
from ..ops.resample import interpolate, pixel_shuffle, pixel_unshuffle  # noqa: F401
try:  # conv and pooling live in another file that may not exist yet
    from ..ops.conv import (adaptive_avg_pool2d, avg_pool1d, avg_pool2d, conv1d,  # noqa: F401
                            conv2d, max_pool1d, max_pool2d)
except ImportError:  # pragma: no cover - depends on the build state
    pass

__all__ = [
    "linear", "relu", "leaky_relu", "elu", "tanh", "sigmoid", "softmax", "log_softmax",
    "gelu", "silu", "softplus", "mish", "logsigmoid", "softsign", "tanhshrink", "selu", "celu",
    "hardtanh", "relu6", "hardsigmoid", "hardswish", "threshold", "hardshrink", "softshrink",
    "prelu", "glu", "normalize", "cosine_similarity", "pairwise_distance",
    "scaled_dot_product_attention",
    "dropout", "batch_norm", "layer_norm", "pad", "flatten",
    "mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "kl_div", "cross_entropy", "nll_loss",
    "binary_cross_entropy", "binary_cross_entropy_with_logits",
]


# -- layers -------------------------------------------------------------------------
def linear(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None) -> Tensor:
    """input (..., in) @ weight.T (in, out) + bias (out,) -> (..., out)."""
    return ops.linear(input, weight, bias)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    return ops.flatten(input, start_dim, end_dim)


def layer_norm(input: Tensor, normalized_shape, weight: Optional[Tensor] = None,
               bias: Optional[Tensor] = None, eps: float = 1e-5) -> Tensor:
    """Normalise each sample over its last dims (``normalized_shape``), then scale and shift.

    Shapes: input (*, *normalized_shape); weight and bias ``normalized_shape`` (or None).
    y = (x - mean) / sqrt(var + eps) * weight + bias, with the mean and the biased variance
    taken per sample over the normalized dims, as ``torch.nn.functional.layer_norm``.
    Unlike batch norm there are no running statistics: training and eval compute the same.
    Built from ops, so autograd differentiates it.
    """
    shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) \
        else tuple(normalized_shape)
    if not shape or tuple(input.shape[input.ndim - len(shape):]) != shape \
            or len(shape) > input.ndim:
        raise ValueError(f"layer_norm(): normalized_shape {shape} must be the input's last "
                         f"dims, got input shape {input.shape}. Hint: LayerNorm(d) normalises "
                         f"the last axis, e.g. the d features of (N, L, d)")
    dims = tuple(range(input.ndim - len(shape), input.ndim))
    mean = input.mean(dim=dims, keepdim=True)
    centered = input - mean
    var = (centered * centered).mean(dim=dims, keepdim=True)
    out = centered * (var + eps).rsqrt()
    if weight is not None:
        out = out * weight
    if bias is not None:
        out = out + bias
    return out


def huber_loss(input: Tensor, target, reduction: str = "mean", delta: float = 1.0,
               weight: Optional[Tensor] = None) -> Tensor:
    """Huber loss: 0.5 * d^2 where |d| < delta, delta * (|d| - 0.5 * delta) beyond, d = input -
    target (``torch.nn.functional.huber_loss``). It is ``delta * smooth_l1_loss(beta=delta)``:
    the gradient is d inside and +-delta outside, so outliers pull with a bounded force.

    ``weight`` (the input's shape) multiplies each entry; 'mean' is then the mean of the
    weighted entries, as PyTorch's huber_loss (not divided by the sum of the weights).
    Built from ops, so autograd differentiates it.
    """
    from ..ops.loss import _regression_pair, check_reduction
    check_reduction(reduction, "huber_loss")
    if isinstance(delta, bool) or not isinstance(delta, numbers.Real) or not delta > 0:
        raise ValueError(f"huber_loss(): delta must be a positive number, got {delta!r}. "
                         f"Hint: delta is where the loss turns from squared to linear, e.g. 1.0.")
    # the target in the input's dtype (as every minnet loss), a shape mismatch warned about
    target, _ = _regression_pair(input, target, "huber_loss")
    diff = input - target
    size = diff.abs()
    per_entry = ops.where(size < delta, 0.5 * diff * diff, delta * (size - 0.5 * delta))
    if weight is not None:
        if tuple(weight.shape) != tuple(input.shape):
            raise ValueError(f"huber_loss(): weight must have the input's shape {input.shape}, "
                             f"got {weight.shape}")
        per_entry = per_entry * weight
    if reduction == "none":
        return per_entry
    return per_entry.sum() if reduction == "sum" else per_entry.mean()


def kl_div(input: Tensor, target, size_average=None, reduce=None, reduction: str = "mean",
           log_target: bool = False) -> Tensor:
    """KL divergence of ``target`` from the distribution whose log-probabilities are ``input``
    (``torch.nn.functional.kl_div``): per entry target * (log target - input), 0 where
    target is 0 (``log_target=True``: target holds log-probabilities, exp(t) * (t - input)).

    reduction 'batchmean' (sum / batch size) is the true KL divergence per sample; 'mean'
    divides by every entry and warns, as PyTorch. Built from ops, so autograd
    differentiates it (w.r.t. the target too; where the target is exactly 0 its gradient
    is -input here, PyTorch's is nan).
    """
    from ..ops.loss import _regression_pair, legacy_reduction
    reduction = legacy_reduction(size_average, reduce, reduction, "kl_div")
    if reduction not in ("none", "mean", "sum", "batchmean"):
        raise ValueError(f"kl_div(): reduction must be 'none', 'mean', 'sum' or 'batchmean', "
                         f"got {reduction!r}")
    # a Tensor input, the target in its dtype, a shape mismatch warned about (as every loss)
    target, _ = _regression_pair(input, target, "kl_div")
    if log_target:
        per_entry = target.exp() * (target - input)
    else:
        # x log x with 0 log 0 = 0: log of 1 where the target is 0 keeps nan out of backward
        # (a negative target is no probability: its log stays nan, as PyTorch's)
        safe = ops.where(target != 0, target, 1.0)
        per_entry = target * safe.log() - target * input
    if reduction == "none":
        return per_entry
    if reduction == "mean":
        warnings.warn("kl_div(): reduction='mean' divides the summed divergence by the number "
                      "of entries (batch size x classes), which is not the KL divergence. "
                      "Hint: reduction='batchmean' divides by the batch size only, as the "
                      "definition does (PyTorch gives the same warning).", UserWarning,
                      stacklevel=2)
        return per_entry.mean()
    total = per_entry.sum()
    return total / (input.shape[0] if input.ndim else 1) if reduction == "batchmean" else total


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


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    return ops.gelu(input, approximate)


def silu(input: Tensor, inplace: bool = False) -> Tensor:
    return ops.silu(input)


def softplus(input: Tensor, beta: float = 1.0, threshold: float = 20.0) -> Tensor:
    return ops.softplus(input, beta, threshold)


def mish(input: Tensor, inplace: bool = False) -> Tensor:
    return ops.mish(input)


def logsigmoid(input: Tensor) -> Tensor:
    return ops.logsigmoid(input)


def softsign(input: Tensor) -> Tensor:
    return ops.softsign(input)


def tanhshrink(input: Tensor) -> Tensor:
    return ops.tanhshrink(input)


def selu(input: Tensor, inplace: bool = False) -> Tensor:
    return ops.selu(input)


def celu(input: Tensor, alpha: float = 1.0, inplace: bool = False) -> Tensor:
    return ops.celu(input, alpha)


def hardtanh(input: Tensor, min_val: float = -1.0, max_val: float = 1.0,
             inplace: bool = False) -> Tensor:
    return ops.hardtanh(input, min_val, max_val)


def relu6(input: Tensor, inplace: bool = False) -> Tensor:
    return ops.relu6(input)


def hardsigmoid(input: Tensor, inplace: bool = False) -> Tensor:
    return ops.hardsigmoid(input)


def hardswish(input: Tensor, inplace: bool = False) -> Tensor:
    return ops.hardswish(input)


def threshold(input: Tensor, threshold: float, value: float, inplace: bool = False) -> Tensor:
    return ops.threshold(input, threshold, value)


def hardshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    return ops.hardshrink(input, lambd)


def softshrink(input: Tensor, lambd: float = 0.5) -> Tensor:
    return ops.softshrink(input, lambd)


def prelu(input: Tensor, weight: Tensor) -> Tensor:
    return ops.prelu(input, weight)


def glu(input: Tensor, dim: int = -1) -> Tensor:
    return ops.glu(input, dim)


def normalize(input: Tensor, p: float = 2.0, dim: int = 1, eps: float = 1e-12) -> Tensor:
    """input / max(||input||_p, eps) along ``dim``: unit-length rows (dim=1) of an (N, D)
    input; ``eps`` keeps an all-zero row from dividing by 0."""
    return input / ops.clamp_min(ops.sorting.norm(input, p, dim, keepdim=True), eps)


def cosine_similarity(x1: Tensor, x2: Tensor, dim: int = 1, eps: float = 1e-8) -> Tensor:
    """The cosine of the angle between x1 and x2 along ``dim`` (shapes broadcast; ``dim``
    is removed): each is divided by max(its norm, eps) first, then the products summed."""
    unit1 = x1 / ops.clamp_min(ops.sorting.norm(x1, 2, dim, keepdim=True), eps)
    unit2 = x2 / ops.clamp_min(ops.sorting.norm(x2, 2, dim, keepdim=True), eps)
    return ops.sum(unit1 * unit2, dim)


def pairwise_distance(x1: Tensor, x2: Tensor, p: float = 2.0, eps: float = 1e-6,
                      keepdim: bool = False) -> Tensor:
    """||x1 - x2 + eps||_p over the last dim: (N, D), (N, D) -> (N,). The eps keeps the
    gradient of a zero distance finite (as PyTorch)."""
    return ops.sorting.norm(x1 - x2 + eps, p, -1, keepdim=keepdim)


def implicit_softmax_dim(ndim: int, fn_name: str, stacklevel: int) -> int:
    """PyTorch's legacy choice of dim when none is given (with the same warning)."""
    warnings.warn(f"Implicit dimension choice for {fn_name} has been deprecated. Change the call "
                  f"to include dim=X as an argument.", UserWarning, stacklevel=stacklevel)
    return 0 if ndim in (0, 1, 3) else 1


def softmax(input: Tensor, dim: Optional[int] = None, _stacklevel: int = 3,
            dtype=None) -> Tensor:
    """exp(x) / sum(exp(x)) along ``dim``; ``dtype`` converts the input first."""
    if dim is None:
        dim = implicit_softmax_dim(input.ndim, "softmax", _stacklevel)
    if dtype is not None:
        input = input.astype(dtype)
    return ops.softmax(input, dim)


def log_softmax(input: Tensor, dim: Optional[int] = None, _stacklevel: int = 3,
                dtype=None) -> Tensor:
    """log(softmax(x)) along ``dim``, computed stably."""
    if dim is None:
        dim = implicit_softmax_dim(input.ndim, "log_softmax", _stacklevel)
    if dtype is not None:
        input = input.astype(dtype)
    return ops.log_softmax(input, dim)


# -- regularisation and padding ---------------------------------------------------------------
def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False,
            generator: Optional[np.random.Generator] = None) -> Tensor:
    """Inverted dropout (identity when ``training`` is False); masks come from ``generator``.

    ``inplace`` is accepted for PyTorch compatibility; minnet never modifies its input.
    """
    return _dropout(input, p, training, generator)


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask=None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale=None,
                                 enable_gqa: bool = False,
                                 generator: Optional[np.random.Generator] = None) -> Tensor:
    """softmax(query @ key^T * scale + mask) @ value, the attention of transformers.

    Shapes: query (..., L, E), key (..., S, E), value (..., S, Ev) -> (..., L, Ev); ``scale``
    defaults to 1 / sqrt(E), so that the scores of unit-variance entries have variance ~1
    and the softmax does not saturate. ``attn_mask`` (broadcast to (..., L, S)): bool, True
    where a query *may* attend (PyTorch's convention here), or float, added to the scores.
    ``is_causal``: query i sees keys 0..i only. ``dropout_p`` drops attention weights (pass
    0 in evaluation, as PyTorch expects).
    """
    if enable_gqa:
        raise ValueError("scaled_dot_product_attention(): enable_gqa=True (grouped-query "
                         "attention) is not supported by minnet. Hint: repeat the key and "
                         "value heads to the query's number of heads.")
    if query.shape[-1] != key.shape[-1] or key.shape[-2] != value.shape[-2]:
        raise ValueError(f"scaled_dot_product_attention(): expected query (..., L, E), key "
                         f"(..., S, E), value (..., S, Ev), got {query.shape}, {key.shape}, "
                         f"{value.shape}")
    if is_causal and attn_mask is not None:
        raise ValueError("scaled_dot_product_attention(): give attn_mask or is_causal=True, "
                         "not both (PyTorch refuses the pair too)")
    scale = 1 / np.sqrt(query.shape[-1]) if scale is None else scale
    scores = ops.matmul(query, ops.transpose(key, -2, -1)) * scale   # (..., L, S)
    if is_causal:
        attn_mask = np.tril(np.ones((query.shape[-2], key.shape[-2]), dtype=bool))
    if attn_mask is not None:
        mask = attn_mask._data if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
        if mask.dtype == np.bool_:
            # -inf before the softmax: exp(-inf) = 0, so masked keys get no weight
            scores = ops.where(Tensor(mask), scores, float("-inf"))
        elif isinstance(attn_mask, Tensor):
            scores = scores + attn_mask   # a learned bias keeps its gradient
        else:
            scores = scores + Tensor(mask.astype(scores.dtype, copy=False))
    weights = ops.softmax(scores, -1)
    if dropout_p > 0:
        weights = _dropout(weights, dropout_p, True, generator)
    return ops.matmul(weights, value)


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """Integer labels (*) -> int64 one-hot (*, num_classes), as ``F.one_hot``
    (``num_classes=-1``: the largest label + 1)."""
    labels = tensor._data if isinstance(tensor, Tensor) else np.asarray(tensor)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"one_hot(): labels must be an integer tensor, got dtype {labels.dtype}")
    if num_classes == -1:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"one_hot(): labels must lie in [0, {num_classes}), got values from "
                         f"{labels.min()} to {labels.max()}")
    return Tensor(np.eye(num_classes, dtype=np.int64)[labels])


def pad(input: Tensor, pad, mode: str = "constant", value=None) -> Tensor:
    """Pad the last dims, PyTorch order: ``pad=(left, right, top, bottom, ...)``."""
    return ops.pad(input, pad, mode, value)
