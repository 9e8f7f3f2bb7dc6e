"""Helpers shared by every op: argument coercion and un-broadcasting."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..tensor import Tensor, as_tensor


def unbroadcast(grad: np.ndarray, shape: tuple) -> np.ndarray:
    """Sum ``grad`` back down to ``shape`` (undo NumPy broadcasting).

    If ``a`` of shape (3, 1) was broadcast against (4, 3, 5), each entry of
    ``a`` was used 4 * 5 times, so its gradient is the sum over those copies:
    sum over the leading axes that broadcasting added, then over the axes
    where ``a`` had size 1.
    """
    if grad.shape == shape:
        return grad
    extra_leading = grad.ndim - len(shape)
    if extra_leading > 0:
        grad = grad.sum(axis=tuple(range(extra_leading)))
    stretched = tuple(axis for axis, size in enumerate(shape) if size == 1 and grad.shape[axis] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)


def pair(a, b) -> tuple:
    """Coerce two operands to Tensors; Python scalars take the other's dtype."""
    if not isinstance(a, Tensor):
        a = as_tensor(a, like=b)
    if not isinstance(b, Tensor):
        b = as_tensor(b, like=a)
    return a, b


def resolve_dim(dim, axis, keepdim, keepdims, fn_name: str):
    """Accept PyTorch's ``dim``/``keepdim`` and NumPy's ``axis``/``keepdims``."""
    if axis is not None:
        if dim is not None:
            raise TypeError(f"{fn_name}(): pass either dim or axis, not both")
        dim = axis
    if keepdims is not None:
        keepdim = keepdims
    if isinstance(dim, list):
        dim = tuple(dim)
    return dim, bool(keepdim)


def expand_reduced(grad: np.ndarray, input_shape: tuple, dim, keepdim: bool) -> np.ndarray:
    """Re-insert the reduced axes into ``grad`` so it broadcasts against the input."""
    if dim is None or keepdim:
        return grad  # a scalar, or already has the reduced axes as size 1: broadcasts
    axes = (dim,) if isinstance(dim, int) else tuple(dim)
    axes = tuple(sorted(a % len(input_shape) for a in axes))
    return np.expand_dims(grad, axes)


def check_dim(dim, ndim: int, fn_name: str) -> None:
    """Raise a clear IndexError when ``dim`` is out of range for a tensor of ``ndim`` dims."""
    dims = () if dim is None else ((dim,) if isinstance(dim, int) else tuple(dim))
    for d in dims:
        if not -max(ndim, 1) <= d < max(ndim, 1):
            raise IndexError(f"{fn_name}(): dim {d} is out of range for a tensor with {ndim} "
                             f"dimension(s) (expected a dim in [{-max(ndim,1)}, {max(ndim,1) - 1}])")
