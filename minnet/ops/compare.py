"""Comparisons and arg-reductions: results are booleans or indices, not differentiable.

``eq(a, b)`` is ``a == b`` (a bool tensor; shapes broadcast), ``equal(a, b)`` one
Python bool for "same shape and same values", ``argmax``/``argmin`` int64 indices.
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from ._util import require_tensor, single_dim


def _array(value):
    return value._data if isinstance(value, Tensor) else value


def _compare(input, other, fn, name: str) -> Tensor:
    require_tensor(input, name)
    try:
        return Tensor(fn(input._data, _array(other)))
    except ValueError:
        raise ValueError(f"{name}(): shapes {input.shape} and {np.shape(_array(other))} cannot "
                         "be broadcast together") from None


def eq(input, other) -> Tensor:
    return _compare(input, other, np.equal, "eq")


def ne(input, other) -> Tensor:
    return _compare(input, other, np.not_equal, "ne")


def gt(input, other) -> Tensor:
    return _compare(input, other, np.greater, "gt")


def ge(input, other) -> Tensor:
    return _compare(input, other, np.greater_equal, "ge")


def lt(input, other) -> Tensor:
    return _compare(input, other, np.less, "lt")


def le(input, other) -> Tensor:
    return _compare(input, other, np.less_equal, "le")


def equal(input, other) -> bool:
    """True if both have the same shape and the same values (a Python bool)."""
    a, b = np.asarray(_array(input)), np.asarray(_array(other))
    return a.shape == b.shape and bool(np.array_equal(a, b))


def isclose(input, other, rtol: float = 1e-05, atol: float = 1e-08,
            equal_nan: bool = False) -> Tensor:
    """|input - other| <= atol + rtol * |other|, entry by entry (bool; shapes broadcast)."""
    for name, tolerance in (("rtol", rtol), ("atol", atol)):
        if tolerance < 0:  # a negative tolerance would quietly make everything "not close"
            raise ValueError(f"isclose(): {name} must be greater than or equal to zero, "
                             f"got {tolerance}")
    return Tensor(np.isclose(_array(input), _array(other), rtol=rtol, atol=atol,
                             equal_nan=equal_nan))


def _arg(fn, input, dim, keepdim: bool, name: str) -> Tensor:
    """Index of the extreme entry over all entries (dim=None, as PyTorch) or along ``dim``."""
    require_tensor(input, name)
    if input._data.size == 0:
        raise ValueError(f"{name}(): the input is empty (shape {input.shape}); there is no "
                         "entry to pick")
    if dim is None:
        out = np.asarray(fn(input._data), dtype=np.int64)
        return Tensor(out.reshape((1,) * input.ndim) if keepdim else out)
    axis = single_dim(dim, input.ndim, name)
    if input.ndim == 0:
        return Tensor(np.asarray(0, dtype=np.int64))
    out = fn(input._data, axis=axis).astype(np.int64)
    return Tensor(np.expand_dims(out, axis) if keepdim else out)


def argmax(input, dim=None, keepdim: bool = False) -> Tensor:
    """Position of the largest entry (of the flattened input when ``dim`` is None);
    (N, C) with dim=1 -> (N,), e.g. the predicted class of each row."""
    return _arg(np.argmax, input, dim, keepdim, "argmax")


def argmin(input, dim=None, keepdim: bool = False) -> Tensor:
    return _arg(np.argmin, input, dim, keepdim, "argmin")


def unique(input, sorted: bool = True, return_inverse: bool = False,
           return_counts: bool = False, dim=None):
    """The distinct values (sorted), optionally with each entry's position among them
    (``return_inverse``) and how often each occurs (``return_counts``).

    With ``dim``: the distinct slices along that dim (e.g. the distinct rows for dim=0),
    in lexicographic order; ``inverse`` then gives each slice's position (one per slice).
    """
    require_tensor(input, "unique")
    if dim is None:
        values, inverse, counts = np.unique(input._data, return_inverse=True,
                                            return_counts=True)
        inverse = inverse.reshape(input.shape)
    else:
        axis = single_dim(dim, input.ndim, "unique")
        values, inverse, counts = np.unique(input._data, return_inverse=True,
                                            return_counts=True, axis=axis)
        inverse = inverse.reshape(-1)
    result = (Tensor(values.astype(input.dtype)),)
    if return_inverse:
        result += (Tensor(inverse.astype(np.int64)),)
    if return_counts:
        result += (Tensor(counts.astype(np.int64)),)
    return result[0] if len(result) == 1 else result


# -- tests of each entry and logic on bools (bool results, no gradient) -------------------
def _test(input, fn, name: str) -> Tensor:
    require_tensor(input, name)
    return Tensor(np.asarray(fn(input._data)))


def isnan(input) -> Tensor:
    """True where the entry is nan (e.g. ``loss.isnan()`` before ``backward``)."""
    return _test(input, np.isnan, "isnan")


def isinf(input) -> Tensor:
    return _test(input, np.isinf, "isinf")


def isposinf(input) -> Tensor:
    return _test(input, np.isposinf, "isposinf")


def isneginf(input) -> Tensor:
    return _test(input, np.isneginf, "isneginf")


def isfinite(input) -> Tensor:
    """True where the entry is neither nan nor +-inf."""
    return _test(input, np.isfinite, "isfinite")


def logical_not(input) -> Tensor:
    """True where the entry is 0 / False (any dtype; the result is bool)."""
    return _test(input, np.logical_not, "logical_not")


def logical_and(input, other) -> Tensor:
    """Entry-wise AND of the truth values (non-zero is True; shapes broadcast)."""
    return _compare(input, other, np.logical_and, "logical_and")


def logical_or(input, other) -> Tensor:
    return _compare(input, other, np.logical_or, "logical_or")


def logical_xor(input, other) -> Tensor:
    return _compare(input, other, np.logical_xor, "logical_xor")


def count_nonzero(input, dim=None) -> Tensor:
    """How many entries are non-zero, in all (dim=None) or along ``dim`` (int64)."""
    require_tensor(input, "count_nonzero")
    axis = None if dim is None else tuple(
        single_dim(d, input.ndim, "count_nonzero") for d in
        (dim if isinstance(dim, (tuple, list)) else (dim,)))
    return Tensor(np.asarray(np.count_nonzero(input._data, axis=axis), dtype=np.int64))
