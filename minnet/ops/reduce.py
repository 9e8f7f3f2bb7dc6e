"""Reductions over dims: sum, mean, var, std, amax, amin, max, min, logsumexp, all, any.

PyTorch's names (``input``, ``dim``, ``keepdim``) and NumPy's (``axis``,
``keepdims``); ``dim`` is None (all), an int or a tuple. Shapes: (3, 4, 5) over
dim=1 gives (3, 5), or (3, 1, 5) with keepdim; dim=None gives 0-d. Backward
re-inserts the reduced axes (``expand_reduced``) so the gradient broadcasts back.
This module's ``sum``, ``max``, ``min``, ``all``, ``any`` hide the built-ins: use
``builtins.max``.
"""
from __future__ import annotations

import builtins
import warnings
from collections import namedtuple

import numpy as np

from ..tensor import DEFAULT_DTYPE, Tensor
from ._util import expand_reduced, normalize_dims, require_tensor, resolve_dim, single_dim

# what max(dim=...) / min(dim=...) return, as torch.return_types.max / .min
MaxResult = namedtuple("max", ["values", "indices"])
MinResult = namedtuple("min", ["values", "indices"])


def _axes(a: Tensor, dim, keepdim, axis, keepdims, fn_name: str):
    """Resolve the dim arguments of a reduction to (axes, keepdim); axes None = all."""
    require_tensor(a, fn_name)
    if dim is None and axis is None and keepdims is None:
        return None, bool(keepdim)  # the common case: reduce everything
    dim, keepdim = resolve_dim(dim, axis, keepdim, keepdims, fn_name)
    if dim == ():
        dim = None  # PyTorch: an empty dim list reduces over every dim
    return normalize_dims(dim, a.ndim, fn_name), keepdim


def _reduced_count(shape: tuple, axes) -> int:
    if axes is None:
        return int(np.prod(shape))
    return int(np.prod([shape[axis] for axis in axes]))


def _require_float(a: Tensor, fn_name: str) -> None:
    if a._data.dtype.kind != "f":
        raise TypeError(f"{fn_name}(): needs a floating-point tensor, got dtype {a._data.dtype}. "
                        "Hint: convert first with .float() or .double().")


def _require_nonempty(a: Tensor, axes, fn_name: str) -> None:
    if _reduced_count(a.shape, axes) == 0:
        raise ValueError(f"{fn_name}(): cannot reduce over an empty dimension (input shape "
                         f"{a.shape}): there is no largest/smallest entry")


def sum(input: Tensor, dim=None, keepdim=False, *, dtype=None, axis=None,
        keepdims=None) -> Tensor:
    """Sum of ``input`` over ``dim`` (all dims when None): (3, 4) with dim=1 -> (3,).

    ``dtype``: the input is converted to it first (PyTorch's argument: e.g. float64 sums).
    """
    if dtype is not None:
        input = require_tensor(input, "sum")._cast_before("sum", dtype)
    axes, keepdim = _axes(input, dim, keepdim, axis, keepdims, "sum")
    out = input._data.sum(axis=axes, keepdims=keepdim)

    def backward(grad):
        # every summed entry contributed with weight 1: copy the gradient to each
        expanded = expand_reduced(grad, input.shape, axes, keepdim)
        return (np.broadcast_to(expanded, input.shape),)

    return Tensor._from_op(np.asarray(out), (input,), backward, "sum", saved=())


def mean(input: Tensor, dim=None, keepdim=False, *, dtype=None, axis=None,
         keepdims=None) -> Tensor:
    """Average of ``input`` over ``dim`` (all dims when None): (3, 4) with dim=1 -> (3,).

    ``dtype``: the input is converted to it first (e.g. the mean of integers as float64).
    """
    if dtype is not None:
        input = require_tensor(input, "mean")._cast_before("mean", dtype)
    axes, keepdim = _axes(input, dim, keepdim, axis, keepdims, "mean")
    _require_float(input, "mean")
    out = input._data.mean(axis=axes, keepdims=keepdim)
    count = _reduced_count(input.shape, axes)

    def backward(grad):
        expanded = expand_reduced(grad, input.shape, axes, keepdim) / count
        return (np.broadcast_to(expanded, input.shape),)

    return Tensor._from_op(np.asarray(out, dtype=input._data.dtype), (input,), backward, "mean",
                           saved=())


def var(input: Tensor, dim=None, unbiased=True, keepdim=False, *, correction=None, axis=None,
        keepdims=None) -> Tensor:
    """Variance of ``input`` over ``dim``: sum((input - mean)^2) / (N - correction).

    ``correction`` defaults to 1 (Bessel's correction, the unbiased estimate),
    as ``unbiased=True`` does; ``unbiased=False`` or ``correction=0`` divides by
    N (what BatchNorm uses to normalize). As in PyTorch, ``var(x, False)``
    (a bool in the dim position) means ``unbiased=False``.
    """
    if isinstance(dim, bool):
        dim, unbiased = None, dim
    axes, keepdim = _axes(input, dim, keepdim, axis, keepdims, "var")
    _require_float(input, "var")
    if correction is None:
        correction = 1 if unbiased else 0
    count = _reduced_count(input.shape, axes)
    dof = builtins.max(count - correction, 0)
    if dof == 0:
        warnings.warn(f"var(): degrees of freedom <= 0 (reducing {count} entries with "
                      f"correction={correction}); the result is inf or nan", RuntimeWarning,
                      stacklevel=2)
    centered = input._data - np.mean(input._data, axis=axes, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.sum(centered * centered, axis=axes, keepdims=keepdim) / dof

    def backward(grad):
        # d/dx_i sum_j (x_j - m)^2 = 2 (x_i - m): the terms through m sum to zero
        expanded = expand_reduced(grad, input.shape, axes, keepdim)
        with np.errstate(divide="ignore", invalid="ignore"):
            return (expanded * (centered * (2 / dof if dof else np.inf)),)

    return Tensor._from_op(np.asarray(out, dtype=input._data.dtype), (input,), backward, "var")


def std(input: Tensor, dim=None, unbiased=True, keepdim=False, *, correction=None, axis=None,
        keepdims=None) -> Tensor:
    """Standard deviation: ``sqrt(var(...))`` with the same arguments.

    Where the standard deviation is 0 (a constant slice) sqrt has an infinite
    slope, and the chain rule would give inf * 0 = nan; as PyTorch does, the
    gradient there is defined as 0 (the function is at its minimum).
    """
    variance = var(input, dim, unbiased, keepdim, correction=correction, axis=axis,
                   keepdims=keepdims)
    out = np.sqrt(variance._data)

    def backward(grad):
        # d sqrt(v)/dv = 1 / (2 sqrt(v)), masked to 0 where sqrt(v) == 0
        with np.errstate(divide="ignore", invalid="ignore"):
            local = np.where(out == 0, 0, grad / (2 * out))
        return (local.astype(out.dtype, copy=False),)

    return Tensor._from_op(out, (variance,), backward, "std", saved=(), saves_output=True)


def _extreme(a: Tensor, axes, keepdim: bool, np_pick, op_name: str) -> Tensor:
    """amax/amin: the gradient is shared evenly among entries tied for the extreme
    (among the nan entries, when a nan made the extreme nan)."""
    _require_nonempty(a, axes, op_name)
    out = np_pick(a._data, axis=axes, keepdims=keepdim)

    def backward(grad):
        kept = out if keepdim else expand_reduced(out, a.shape, axes, False)
        # a nan input makes the extreme nan: the nan entries "won" (as PyTorch's max())
        winners = (a._data == kept) | (np.isnan(a._data) & np.isnan(kept))
        ties = np.sum(winners, axis=axes, keepdims=True)
        share = expand_reduced(grad, a.shape, axes, keepdim) / ties
        return (np.where(winners, share, 0).astype(a._data.dtype, copy=False),)

    return Tensor._from_op(np.asarray(out), (a,), backward, op_name)


def amax(input: Tensor, dim=None, keepdim=False, *, axis=None, keepdims=None) -> Tensor:
    """Largest entry of ``input`` over ``dim`` (all dims when None); ties share the
    gradient evenly. (3, 4) with dim=1 -> (3,)."""
    axes, keepdim = _axes(input, dim, keepdim, axis, keepdims, "amax")
    return _extreme(input, axes, keepdim, np.max, "amax")


def amin(input: Tensor, dim=None, keepdim=False, *, axis=None, keepdims=None) -> Tensor:
    """Smallest entry of ``input`` over ``dim`` (all dims when None); ties share the
    gradient evenly. (3, 4) with dim=1 -> (3,)."""
    axes, keepdim = _axes(input, dim, keepdim, axis, keepdims, "amin")
    return _extreme(input, axes, keepdim, np.min, "amin")


def _extreme_with_index(a: Tensor, dim, keepdim: bool, np_arg, result_type, op_name: str):
    """max/min along one dim: (values, indices); the gradient goes to the chosen index."""
    axis = single_dim(dim, a.ndim, op_name)
    if a.ndim == 0:
        return result_type(_extreme(a, (), keepdim, np.max, op_name), Tensor(np.asarray(0)))
    _require_nonempty(a, (axis,), op_name)
    indices = np.expand_dims(np_arg(a._data, axis=axis), axis)  # first occurrence wins
    values = np.take_along_axis(a._data, indices, axis=axis)
    if not keepdim:
        values = np.squeeze(values, axis)

    def backward(grad):
        kept_grad = grad if keepdim else np.expand_dims(grad, axis)
        full = np.zeros_like(a._data)
        np.put_along_axis(full, indices, kept_grad, axis=axis)
        return (full,)

    out = Tensor._from_op(values, (a,), backward, op_name)
    return result_type(out, Tensor(indices if keepdim else np.squeeze(indices, axis)))


def max(input: Tensor, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """``max(input)``: the largest entry (0-d tensor; ties share the gradient evenly).

    ``max(input, dim)``: a named tuple ``(values, indices)`` along ``dim``, each
    shaped like ``input`` without that dim; the gradient goes to the index
    reported. ``max(input, other_tensor)`` is ``maximum(input, other)``, as in
    PyTorch.
    """
    if isinstance(dim, Tensor):
        from .elementwise import maximum
        return maximum(input, dim)
    dim, keepdim = resolve_dim(dim, axis, keepdim, keepdims, "max")
    require_tensor(input, "max")
    if dim is None:
        return _extreme(input, None, False, np.max, "max")
    return _extreme_with_index(input, dim, keepdim, np.argmax, MaxResult, "max")


def min(input: Tensor, dim=None, keepdim=False, *, axis=None, keepdims=None):
    """Like ``max`` but the smallest: ``min(input)``, ``min(input, dim)`` -> (values, indices)."""
    if isinstance(dim, Tensor):
        from .elementwise import minimum
        return minimum(input, dim)
    dim, keepdim = resolve_dim(dim, axis, keepdim, keepdims, "min")
    require_tensor(input, "min")
    if dim is None:
        return _extreme(input, None, False, np.min, "min")
    return _extreme_with_index(input, dim, keepdim, np.argmin, MinResult, "min")


def logsumexp(input: Tensor, dim, keepdim=False) -> Tensor:
    """log(sum(exp(input))) over ``dim``, without overflow (the max is factored out).

    (N, C) with dim=1 -> (N,), or (N, 1) with keepdim=True.
    """
    axes, keepdim = _axes(input, dim, keepdim, None, None, "logsumexp")
    if input._data.dtype.kind in "iub":  # as PyTorch: integers give the default float dtype
        input = Tensor(input._data.astype(DEFAULT_DTYPE))
    _require_float(input, "logsumexp")
    # initial=-inf: an empty slice has peak -inf (not a NumPy error) and sum 0, so log -> -inf
    peak = np.max(input._data, axis=axes, keepdims=True, initial=-np.inf)
    peak = np.where(np.isfinite(peak), peak, 0)  # all -inf (or inf) slices: do not shift
    summed = np.sum(np.exp(input._data - peak), axis=axes, keepdims=True)
    with np.errstate(divide="ignore"):
        kept = np.log(summed) + peak
    out = kept if keepdim else np.squeeze(kept, axes if axes is not None else None)

    def backward(grad):
        # d logsumexp(x) / dx_i = softmax(x)_i
        expanded = expand_reduced(grad, input.shape, axes, keepdim)
        with np.errstate(invalid="ignore"):  # an all -inf slice has no softmax: nan, as PyTorch
            return (expanded * np.exp(input._data - kept),)

    return Tensor._from_op(np.asarray(out, dtype=input._data.dtype), (input,), backward,
                           "logsumexp")


def all(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Whether every entry is non-zero, overall or along ``dim`` (bool, not differentiable)."""
    return require_tensor(input, "all").all(dim, keepdim)


def any(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Whether some entry is non-zero, overall or along ``dim`` (bool, not differentiable)."""
    return require_tensor(input, "any").any(dim, keepdim)


MedianResult = namedtuple("median", ["values", "indices"])


def _median_index(data: np.ndarray, axis: int) -> np.ndarray:
    """Index of the lower median along ``axis`` (the ((n - 1) // 2)-th smallest); a slice
    holding a nan gives its first nan (as PyTorch: the median of such a slice is nan)."""
    order = np.argsort(data, axis=axis, kind="stable")
    middle = np.take(order, (data.shape[axis] - 1) // 2, axis=axis)
    if data.dtype.kind == "f":
        has_nan = np.isnan(data)
        middle = np.where(has_nan.any(axis=axis), np.argmax(has_nan, axis=axis), middle)
    return middle


def median(input: Tensor, dim=None, keepdim: bool = False):
    """The lower median (of two middle values, the smaller), as PyTorch: over all entries
    (a 0-d tensor) or along ``dim`` (values and indices, as ``max``). The gradient goes to
    the entry picked."""
    require_tensor(input, "median")
    if dim is None:
        _require_nonempty(input, None, "median")
        return median(input.reshape(-1), 0).values
    return _extreme_with_index(input, dim, keepdim, _median_index, MedianResult, "median")


def var_mean(input: Tensor, dim=None, unbiased=True, keepdim=False, *, correction=None):
    """(var, mean) in one call, as ``torch.var_mean``."""
    return (var(input, dim, unbiased, keepdim, correction=correction),
            mean(input, dim, keepdim))


def std_mean(input: Tensor, dim=None, unbiased=True, keepdim=False, *, correction=None):
    """(std, mean) in one call, as ``torch.std_mean``."""
    return (std(input, dim, unbiased, keepdim, correction=correction),
            mean(input, dim, keepdim))


def trace(input: Tensor) -> Tensor:
    """Sum of the main diagonal of a matrix (a 0-d tensor)."""
    require_tensor(input, "trace")
    if input.ndim != 2:
        raise ValueError(f"trace(): expects a matrix (2 dims), got shape {input.shape}")
    from .shape import diagonal
    return sum(diagonal(input))
