"""Loss functions as single graph nodes, with PyTorch's semantics.

Each loss reduces its per-element values ('mean' | 'sum' | 'none') and has one
``backward``. Why fused: ``cross_entropy``'s backward ``(softmax - onehot) / N``
stays finite for logits of +-1e4, where ``log(softmax(x))`` gives ``log(0)``.
Shapes: ``cross_entropy`` / ``nll_loss`` input (N, C), (N, C, d1, ...) or (C,),
target (N,) / (N, d1, ...) / () class indices, or (cross_entropy) probabilities
shaped like the input; regression and binary losses: input and target alike.
"""
from __future__ import annotations

import warnings
import numpy as np

from .. import kernels
from ..tensor import Tensor
from ._util import unbroadcast

REDUCTIONS = ("mean", "sum", "none")


# --------------------------------------------------------------------------
# Shared helpers
# --------------------------------------------------------------------------
def check_reduction(reduction: str, fn_name: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"{fn_name}(): reduction must be one of {REDUCTIONS}, got {reduction!r}")


def legacy_reduction(size_average, reduce, reduction: str, fn_name: str) -> str:
    """Map PyTorch's deprecated ``size_average``/``reduce`` flags to ``reduction``.

    They are kept only so that positional arguments line up with PyTorch's
    signatures; new code should pass ``reduction=`` ('mean' | 'sum' | 'none').
    """
    if size_average is None and reduce is None:
        return reduction
    warnings.warn(f"{fn_name}(): size_average and reduce are deprecated, use reduction= instead",
                  UserWarning, stacklevel=3)
    if reduce is False:
        return "none"
    return "sum" if size_average is False else "mean"


def _require_tensor(input, fn_name: str) -> None:
    if not isinstance(input, Tensor):
        raise TypeError(f"{fn_name}(): input must be a Tensor (the model's output), got "
                        f"{type(input).__name__}. Hint: wrap arrays with minnet.tensor(...).")
    if input._data.dtype.kind != "f":
        # PyTorch refuses too; NumPy would compute in integers and truncate (mse 1.667 -> 1)
        raise TypeError(f"{fn_name}(): input (the model's output) must be a floating-point "
                        f"tensor, got dtype {input._data.dtype}. Hint: a model outputs floats; "
                        f"if these are numbers you made, convert them with .float().")


def _as_float_tensor(value, like: Tensor, fn_name: str, what: str) -> Tensor:
    """Coerce an optional argument (weight, target, pos_weight) to a Tensor of like's dtype."""
    tensor = value if isinstance(value, Tensor) else Tensor(np.asarray(value))
    if tensor._data.dtype.kind not in "fiub":
        raise TypeError(f"{fn_name}(): {what} must be numeric, got dtype {tensor._data.dtype}")
    if tensor._data.dtype != like._data.dtype and not tensor.requires_grad:
        tensor = Tensor(tensor._data.astype(like._data.dtype))
    return tensor


def _reduce(per_element: np.ndarray, reduction: str, dtype) -> np.ndarray:
    if reduction == "mean":
        return np.asarray(per_element.mean(), dtype=dtype)
    if reduction == "sum":
        return np.asarray(per_element.sum(), dtype=dtype)
    return per_element.astype(dtype, copy=False)


def _upstream(grad: np.ndarray, shape: tuple, reduction: str) -> np.ndarray:
    """dL/d(per-element loss) for each element, from the gradient of the reduced loss."""
    if reduction == "none":
        return grad
    count = int(np.prod(shape))
    scale = grad / count if reduction == "mean" else grad
    return np.broadcast_to(scale, shape)


def _log_softmax_rows(logits: np.ndarray) -> np.ndarray:
    """log softmax along the last axis, shifted by the row max so exp never overflows."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _classes_last(input: Tensor, fn_name: str) -> tuple:
    """View input (N, C, d1, ...) / (C,) as rows (M, C) with the class axis last.

    Returns ``(rows, to_input_layout)`` where ``to_input_layout`` maps an (M, C)
    array back to the input's shape.
    """
    data = input._data
    if data.ndim == 0:
        raise ValueError(f"{fn_name}(): input must have a class dimension, got a scalar. "
                         "Hint: input holds one score per class: shape (N, C) or (C,).")
    if data.ndim == 1:
        return data[None, :], lambda rows: rows.reshape(data.shape)
    moved = np.moveaxis(data, 1, -1)  # (N, d1, ..., C)
    moved_shape = moved.shape

    def to_input_layout(rows):
        return np.moveaxis(rows.reshape(moved_shape), -1, 1)

    return moved.reshape(-1, data.shape[1]), to_input_layout


def _check_class_targets(input: Tensor, target: Tensor, ignore_index: int,
                         fn_name: str) -> np.ndarray:
    """Validate integer class targets; return them flattened to (M,)."""
    shape, target_shape = input._data.shape, target._data.shape
    num_classes = shape[0] if len(shape) == 1 else shape[1]
    if target._data.dtype.kind == "f":
        raise TypeError(
            f"{fn_name}(): target has floating dtype {target._data.dtype} and shape {target.shape}, "
            f"but class-index targets must be integers. Hint: convert labels with .long() "
            f"(or np.int64); for soft labels pass probabilities shaped like the input "
            f"{input.shape}.")
    if target._data.dtype.kind not in "iu":
        raise TypeError(f"{fn_name}(): target must hold integer class indices, got dtype "
                        f"{target._data.dtype}")
    expected = () if len(shape) == 1 else (shape[0],) + shape[2:]
    if target_shape != expected:
        hint = ""
        if target.shape == input.shape:
            hint = (" Hint: the target looks one-hot encoded; pass class indices instead "
                    "(e.g. target.argmax(1)).")
        elif target.ndim == len(expected) + 1 and target.shape[-1:] == (1,):
            hint = " Hint: squeeze the trailing dimension of size 1 from the target."
        raise ValueError(f"{fn_name}(): input of shape {input.shape} needs a target of shape "
                         f"{expected}, got {target.shape}.{hint}")
    flat = target._data.reshape(-1).astype(np.int64, copy=False)
    if flat.size == 0 or (flat.min() >= 0 and flat.max() < num_classes):
        return flat  # all in range (the usual case: two passes instead of five)
    valid = flat != ignore_index
    bad = flat[valid & ((flat < 0) | (flat >= num_classes))]
    if bad.size:
        raise IndexError(
            f"{fn_name}(): target value {int(bad[0])} is out of range: class indices must be in "
            f"[0, {num_classes}) for C={num_classes} classes (input shape {input.shape}); "
            f"{bad.size} target(s) are outside. Hint: are the labels 1-based, or does the last "
            f"layer have too few outputs?")
    return flat


def _class_weight(weight, input: Tensor, num_classes: int, fn_name: str) -> np.ndarray:
    if weight is None:
        return np.ones(num_classes, dtype=input._data.dtype)
    array = np.asarray(weight._data if isinstance(weight, Tensor) else weight,
                       dtype=input._data.dtype)
    if array.shape != (num_classes,):
        raise ValueError(f"{fn_name}(): weight must have one entry per class, shape "
                         f"({num_classes},), got {array.shape}")
    return array


# --------------------------------------------------------------------------
# Classification
# --------------------------------------------------------------------------
def _weighted_class_loss(input: Tensor, target: Tensor, log_probs_of, weight, ignore_index: int,
                         reduction: str, label_smoothing: float, fn_name: str, op_name: str,
                         softmax_grad: bool) -> Tensor:
    """Shared body of cross_entropy (softmax_grad=True) and nll_loss (input = log-probs).

    Row i of the (M, C) view, target y_i (coef_i = 0 if y_i is ignored):
    ``coef_ic = (1 - eps) w[y_i] [c == y_i] + eps / C w[c]``, ``loss_i = -sum_c coef_ic logp_ic``;
    'mean' divides by sum_i w[y_i] over kept rows (PyTorch's weighted mean).
    Gradient: ``coef_i.sum() * softmax_i - coef_i`` (logits), ``-coef_i`` (log-probs).
    """
    _require_tensor(input, fn_name)
    check_reduction(reduction, fn_name)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{fn_name}(): label_smoothing must be in [0, 1], got {label_smoothing}")
    rows, to_input_layout = _classes_last(input, fn_name)
    num_classes = rows.shape[1]
    labels = _check_class_targets(input, target, ignore_index, fn_name)
    class_weight = _class_weight(weight, input, num_classes, fn_name)
    dtype = input._data.dtype

    kept = labels != ignore_index
    safe_labels = np.where(kept, labels, 0)  # ignored rows index class 0, then get coef 0
    row_index = np.arange(rows.shape[0])
    coef = np.zeros_like(rows)
    coef[row_index, safe_labels] = (1.0 - label_smoothing) * class_weight[safe_labels]
    coef += (label_smoothing / num_classes) * class_weight
    coef *= kept[:, None]

    log_probs = log_probs_of(rows)
    # entries with coefficient 0 do not take part (as in PyTorch): a masked logit of -inf
    # has log-probability -inf, and 0 * -inf would make the whole loss nan
    with np.errstate(invalid="ignore"):
        per_row = -np.where(coef == 0, 0, coef * log_probs).sum(axis=1)
    if reduction == "mean":
        denominator = (class_weight[safe_labels] * kept).sum()
        with np.errstate(divide="ignore", invalid="ignore"):  # every target ignored: 0/0 = nan
            out = np.asarray(per_row.sum() / denominator, dtype=dtype)
    elif reduction == "sum":
        out = np.asarray(per_row.sum(), dtype=dtype)
    else:
        out_shape = () if input.ndim == 1 else target.shape
        out = per_row.reshape(out_shape).astype(dtype, copy=False)

    def backward(grad):
        if reduction == "none":
            per_row_grad = grad.reshape(-1, 1)
        elif reduction == "mean" and denominator == 0:
            # no target counted (all ignored, or all weighted 0): the loss is 0/0 = nan.
            # As in PyTorch, ignored rows still get gradient 0 (they are skipped), and
            # the counted ones get grad * w / 0 = nan.
            with np.errstate(invalid="ignore"):
                per_row_grad = np.where(kept, np.nan, 0.0)[:, None] * grad
        elif reduction == "mean":
            per_row_grad = grad / denominator
        else:
            per_row_grad = grad
        with np.errstate(invalid="ignore"):
            if softmax_grad:
                probs = np.exp(log_probs)
                rows_grad = (coef.sum(axis=1, keepdims=True) * probs - coef) * per_row_grad
            else:
                # only the target's log-probability was used: the other entries get exactly 0
                rows_grad = np.zeros_like(coef)
                target_grad = -coef[row_index, safe_labels] * np.broadcast_to(
                    per_row_grad, (len(row_index), 1))[:, 0]
                rows_grad[row_index, safe_labels] = target_grad
        return to_input_layout(rows_grad.astype(dtype, copy=False)), None

    return Tensor._from_op(out, (input, target), backward, op_name)


def cross_entropy(input: Tensor, target, weight=None, size_average=None, ignore_index: int = -100,
                  reduce=None, reduction: str = "mean", label_smoothing: float = 0.0) -> Tensor:
    """Softmax + negative log-likelihood in one numerically stable node.

    input: logits (N, C), (N, C, d1, ...) or (C,). target: class indices (N,) /
    (N, d1, ...) / (), or class probabilities with the input's shape.
    """
    _require_tensor(input, "cross_entropy")
    reduction = legacy_reduction(size_average, reduce, reduction, "cross_entropy")
    target = target if isinstance(target, Tensor) else Tensor(np.asarray(target))
    logits, classes = input._data, target._data
    if classes.dtype.kind == "f" and classes.shape == logits.shape and logits.ndim >= 1:
        if ignore_index != -100:
            raise ValueError("cross_entropy(): ignore_index is for class-index targets; these "
                             "targets are class probabilities (floats, shaped like the input). "
                             "Hint: give an ignored sample all-zero probabilities instead.")
        return _soft_cross_entropy(input, target, weight, reduction, label_smoothing)
    if weight is None and label_smoothing == 0.0 and reduction == "mean" and logits.ndim == 2:
        labels = _check_class_targets(input, target, ignore_index, "cross_entropy")
        if len(labels) and not (labels == ignore_index).any():
            return _mean_cross_entropy(input, target, labels)
    return _weighted_class_loss(input, target, _log_softmax_rows, weight, ignore_index, reduction,
                                label_smoothing, "cross_entropy", "cross_entropy",
                                softmax_grad=True)


def _mean_cross_entropy(input: Tensor, target: Tensor, labels: np.ndarray) -> Tensor:
    """The usual case, (N, C) logits, N >= 1 class indices, 'mean', nothing else, in fewer passes.

    ``_weighted_class_loss``'s numbers to float rounding (its coefficients are then
    one-hot): loss = -mean_i logp[i, y_i]; dL/dlogits = (softmax - onehot) / N.
    """
    logits = input._data
    count = len(labels)
    # one pass (minnet/kernels/cross_entropy.py): sum_i -logp[i, y_i] and softmax - onehot
    loss_sum, softmax_minus_onehot = kernels.cross_entropy_rows(logits, labels)
    out = np.asarray(loss_sum / count, dtype=logits.dtype)

    def backward(grad):
        with np.errstate(invalid="ignore"):  # an inf upstream gradient times 0 gives nan quietly
            grad_input = softmax_minus_onehot * (grad / count)
        return grad_input.astype(logits.dtype, copy=False), None

    return Tensor._from_op(out, (input, target), backward, "cross_entropy")


def nll_loss(input: Tensor, target, weight=None, size_average=None, ignore_index: int = -100,
             reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of log-probabilities (e.g. the output of log_softmax)."""
    reduction = legacy_reduction(size_average, reduce, reduction, "nll_loss")
    _require_tensor(input, "nll_loss")
    target = target if isinstance(target, Tensor) else Tensor(np.asarray(target))
    return _weighted_class_loss(input, target, lambda rows: rows, weight, ignore_index, reduction,
                                0.0, "nll_loss", "nll_loss", softmax_grad=False)


def _soft_cross_entropy(input: Tensor, target: Tensor, weight, reduction: str,
                        label_smoothing: float) -> Tensor:
    """Cross-entropy against class probabilities (PyTorch's 'soft' targets).

    loss_i = -sum_c w_c * t'_ic * logp_ic with t' = (1 - eps) t + eps / C;
    'mean' divides by the number of rows (not by the weights, as in PyTorch).
    """
    fn_name = "cross_entropy"
    check_reduction(reduction, fn_name)
    rows, to_input_layout = _classes_last(input, fn_name)
    target_rows, _ = _classes_last(target, fn_name)
    num_classes = rows.shape[1]
    class_weight = _class_weight(weight, input, num_classes, fn_name)
    dtype = input._data.dtype
    smoothed = (1.0 - label_smoothing) * target_rows.astype(dtype) + label_smoothing / num_classes
    coef = smoothed * class_weight
    log_probs = _log_softmax_rows(rows)
    per_row = -(coef * log_probs).sum(axis=1)
    out_shape = () if input.ndim == 1 else (input.shape[0],) + input.shape[2:]
    out = _reduce(per_row.reshape(out_shape), reduction, dtype)

    def backward(grad):
        per_row_grad = _upstream(grad, out_shape, reduction).reshape(-1, 1)
        grad_input = grad_target = None
        if input.requires_grad:
            rows_grad = (coef.sum(axis=1, keepdims=True) * np.exp(log_probs) - coef) * per_row_grad
            grad_input = to_input_layout(rows_grad.astype(dtype, copy=False))
        if target.requires_grad:
            rows_grad = -(1.0 - label_smoothing) * class_weight * log_probs * per_row_grad
            grad_target = to_input_layout(rows_grad).astype(target._data.dtype, copy=False)
        return grad_input, grad_target

    return Tensor._from_op(out, (input, target), backward, "cross_entropy")


# --------------------------------------------------------------------------
# Regression
# --------------------------------------------------------------------------
def _regression_pair(input: Tensor, target, fn_name: str) -> tuple:
    """Coerce target, check broadcasting, and warn when shapes differ (as PyTorch does)."""
    _require_tensor(input, fn_name)
    target = _as_float_tensor(target, input, fn_name, "target")
    try:
        out_shape = np.broadcast_shapes(input.shape, target.shape)
    except ValueError:
        raise ValueError(f"{fn_name}(): input shape {input.shape} and target shape {target.shape} "
                         f"cannot be broadcast together. Hint: prediction and target should "
                         f"have the same shape.") from None
    if input.shape != target.shape:
        consequence = ""
        if out_shape != input.shape and out_shape != target.shape:
            consequence = (f" They broadcast to {out_shape}: every prediction is compared with "
                           f"every target (e.g. (N, 1) vs (N,) gives an N x N loss).")
        warnings.warn(
            f"{fn_name}(): using a target size {target.shape} that is different to the input "
            f"size {input.shape}. This will likely lead to incorrect results due to "
            f"broadcasting.{consequence} Please ensure they have the same size (e.g. "
            f"pred.squeeze(1) or target.reshape(pred.shape)).", UserWarning, stacklevel=4)
    return target, out_shape


def _elementwise_regression(input, target, reduction, fn_name, values_and_slope,
                            weight=None) -> Tensor:
    """Shared body: ``values_and_slope(diff) -> (loss, dloss/ddiff)`` with diff = input - target.

    With a per-element ``weight`` (shaped like the input) each loss is multiplied by
    its weight and 'mean' becomes the weighted mean sum(w * loss) / sum(w), as in
    PyTorch's ``mse_loss(..., weight=)``. The weight is a constant (no gradient).
    """
    check_reduction(reduction, fn_name)
    target, out_shape = _regression_pair(input, target, fn_name)
    diff = input._data - target._data
    per_element, slope = values_and_slope(diff)
    weight_array = None
    if weight is not None:
        weight_array = np.asarray(weight._data if isinstance(weight, Tensor) else weight,
                                  dtype=input._data.dtype)
        if weight_array.shape != input.shape:
            raise ValueError(f"{fn_name}(): weight must have the input's shape {input.shape}, "
                             f"got {weight_array.shape} (Weights and input must have the same "
                             f"size)")
        per_element = per_element * weight_array
        slope = slope * weight_array
    if weight_array is not None and reduction == "mean":
        total_weight = weight_array.sum()
        with np.errstate(divide="ignore", invalid="ignore"):
            out = np.asarray(per_element.sum() / total_weight, dtype=input._data.dtype)
    else:
        out = _reduce(per_element, reduction, input._data.dtype)

    def backward(grad):
        if weight_array is not None and reduction == "mean":
            with np.errstate(divide="ignore", invalid="ignore"):
                grad_diff = np.broadcast_to(grad / total_weight, out_shape) * slope
        else:
            grad_diff = _upstream(grad, out_shape, reduction) * slope
        return (unbroadcast(grad_diff, input.shape).astype(input._data.dtype, copy=False)
                if input.requires_grad else None,
                unbroadcast(-grad_diff, target.shape).astype(target._data.dtype, copy=False)
                if target.requires_grad else None)

    return Tensor._from_op(out, (input, target), backward, fn_name)


def mse_loss(input: Tensor, target, size_average=None, reduce=None,
             reduction: str = "mean", weight=None) -> Tensor:
    """Mean squared error: (input - target)^2, reduced (weighted by ``weight`` if given)."""
    reduction = legacy_reduction(size_average, reduce, reduction, "mse_loss")
    return _elementwise_regression(input, target, reduction, "mse_loss",
                                   lambda diff: (diff * diff, 2 * diff), weight)


def l1_loss(input: Tensor, target, size_average=None, reduce=None,
            reduction: str = "mean", weight=None) -> Tensor:
    """Mean absolute error |input - target|; the subgradient at 0 is 0, as in PyTorch."""
    reduction = legacy_reduction(size_average, reduce, reduction, "l1_loss")
    return _elementwise_regression(input, target, reduction, "l1_loss",
                                   lambda diff: (np.abs(diff), np.sign(diff)), weight)


def smooth_l1_loss(input: Tensor, target, size_average=None, reduce=None,
                   reduction: str = "mean", beta: float = 1.0) -> Tensor:
    """Huber-like loss: 0.5 d^2 / beta where |d| < beta, else |d| - 0.5 beta (beta=0: L1)."""
    reduction = legacy_reduction(size_average, reduce, reduction, "smooth_l1_loss")
    if beta < 0:
        raise ValueError(f"smooth_l1_loss(): beta must be >= 0, got {beta}")

    def values_and_slope(diff):
        size = np.abs(diff)
        if beta == 0:
            return size, np.sign(diff)
        quadratic = size < beta
        # np.where evaluates both branches; dividing by beta > 0 is always safe
        values = np.where(quadratic, 0.5 * diff * diff / beta, size - 0.5 * beta)
        slope = np.where(quadratic, diff / beta, np.sign(diff))
        return values.astype(diff.dtype, copy=False), slope.astype(diff.dtype, copy=False)

    return _elementwise_regression(input, target, reduction, "smooth_l1_loss", values_and_slope)


# --------------------------------------------------------------------------
# Binary classification
# --------------------------------------------------------------------------
def _binary_pair(input: Tensor, target, weight, fn_name: str) -> tuple:
    _require_tensor(input, fn_name)
    target = _as_float_tensor(target, input, fn_name, "target")
    if target.shape != input.shape:
        raise ValueError(f"{fn_name}(): target size {target.shape} must be the same as input size "
                         f"{input.shape}. Hint: for one output per sample use shapes (N,) for "
                         f"both, or (N, 1) for both (squeeze/reshape one of them).")
    weight_array = None
    if weight is not None:
        weight_array = np.asarray(weight._data if isinstance(weight, Tensor) else weight,
                                  dtype=input._data.dtype)
        try:
            np.broadcast_shapes(weight_array.shape, input.shape)
        except ValueError:
            raise ValueError(f"{fn_name}(): weight of shape {weight_array.shape} does not "
                             f"broadcast to the input shape {input.shape}") from None
    return target, weight_array


def binary_cross_entropy(input: Tensor, target, weight=None, size_average=None, reduce=None,
                         reduction: str = "mean") -> Tensor:
    """-w (t log p + (1 - t) log(1 - p)) for probabilities p in [0, 1].

    Each log is clamped to >= -100 (as PyTorch does), so p = 0 or 1 gives a large
    but finite loss; the gradient divides by max(p (1 - p), 1e-12) for the same reason.
    """
    fn_name = "binary_cross_entropy"
    reduction = legacy_reduction(size_average, reduce, reduction, fn_name)
    check_reduction(reduction, fn_name)
    target, weight_array = _binary_pair(input, target, weight, fn_name)
    p, t = input._data, target._data
    if p.size and (np.nanmin(p) < 0 or np.nanmax(p) > 1):
        raise ValueError(f"{fn_name}(): all input elements must be probabilities in [0, 1], got "
                         f"values in [{np.nanmin(p):.4g}, {np.nanmax(p):.4g}]. Hint: apply "
                         f"sigmoid first, or better use binary_cross_entropy_with_logits on the "
                         f"raw scores (it is numerically stable).")
    with np.errstate(divide="ignore"):
        log_p = np.maximum(np.log(p), -100)
        log_not_p = np.maximum(np.log1p(-p), -100)
    per_element = -(t * log_p + (1 - t) * log_not_p)
    if weight_array is not None:
        per_element = per_element * weight_array
    out = _reduce(per_element, reduction, p.dtype)
    # PyTorch's clamp constant is the float32 value nearest 1e-12 (also for float64 inputs)
    eps = np.asarray(np.float32(1e-12), dtype=p.dtype)

    def backward(grad):
        upstream = _upstream(grad, per_element.shape, reduction)
        if weight_array is not None:
            upstream = upstream * weight_array
        grad_input = grad_target = None
        if input.requires_grad:
            grad_input = (upstream * (p - t) / np.maximum(p * (1 - p), eps)).astype(p.dtype)
        if target.requires_grad:
            grad_target = (upstream * (log_not_p - log_p)).astype(t.dtype)
        return grad_input, grad_target

    return Tensor._from_op(out, (input, target), backward, fn_name)


def binary_cross_entropy_with_logits(input: Tensor, target, weight=None, size_average=None,
                                     reduce=None, reduction: str = "mean",
                                     pos_weight=None) -> Tensor:
    """Sigmoid + binary cross-entropy in one stable node (input = logits x).

    With l = 1 + (pos_weight - 1) t:
        loss = (1 - t) x + l * softplus(-x),  softplus(-x) = log1p(exp(-|x|)) + max(-x, 0)
    which never exponentiates a positive number. d loss / dx = (1 - t) - l * sigmoid(-x),
    which is sigmoid(x) - t without pos_weight.
    """
    fn_name = "binary_cross_entropy_with_logits"
    reduction = legacy_reduction(size_average, reduce, reduction, fn_name)
    check_reduction(reduction, fn_name)
    target, weight_array = _binary_pair(input, target, weight, fn_name)
    x, t = input._data, target._data
    pos_weight_array = None
    if pos_weight is not None:
        pos_weight_array = np.asarray(pos_weight._data if isinstance(pos_weight, Tensor)
                                      else pos_weight, dtype=x.dtype)
        try:
            np.broadcast_shapes(pos_weight_array.shape, x.shape)
        except ValueError:
            raise ValueError(f"{fn_name}(): pos_weight of shape {pos_weight_array.shape} does not "
                             f"broadcast to the input shape {x.shape}; it needs one entry per "
                             f"class (the last dimension, {x.shape[-1:]})") from None
    softplus_neg_x = np.log1p(np.exp(-np.abs(x))) + np.maximum(-x, 0)
    log_weight = 1 if pos_weight_array is None else 1 + (pos_weight_array - 1) * t
    per_element = (1 - t) * x + log_weight * softplus_neg_x
    if weight_array is not None:
        per_element = per_element * weight_array
    out = _reduce(per_element.astype(x.dtype, copy=False), reduction, x.dtype)

    def backward(grad):
        upstream = _upstream(grad, per_element.shape, reduction)
        if weight_array is not None:
            upstream = upstream * weight_array
        grad_input = grad_target = None
        if input.requires_grad:
            # sigmoid(-x) = 1 / (1 + e^x) = exp(-softplus(x)), softplus(x) = softplus(-x) + x >= 0
            sigmoid_neg_x = np.exp(-(softplus_neg_x + x))
            grad_input = (upstream * ((1 - t) - log_weight * sigmoid_neg_x)).astype(x.dtype)
        if target.requires_grad:
            pos_term = 0 if pos_weight_array is None else (pos_weight_array - 1) * softplus_neg_x
            grad_target = (upstream * (-x + pos_term)).astype(t.dtype)
        return grad_input, grad_target

    return Tensor._from_op(out, (input, target), backward, fn_name)
