"""Reductions over dims: sum, mean (more to come: var, amax, max, ...).

Every reduction accepts PyTorch's ``dim``/``keepdim`` and NumPy's
``axis``/``keepdims``. Backward re-inserts the reduced axes (``expand_reduced``)
so the upstream gradient broadcasts back over the entries that were reduced.
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from ._util import check_dim, expand_reduced, resolve_dim


def _reduced_count(shape: tuple, dim) -> int:
    if dim is None:
        return int(np.prod(shape))
    axes = (dim,) if isinstance(dim, int) else dim
    return int(np.prod([shape[a] for a in axes]))


def sum(a: Tensor, dim=None, keepdim=False, *, axis=None, keepdims=None) -> Tensor:
    dim, keepdim = resolve_dim(dim, axis, keepdim, keepdims, "sum")
    check_dim(dim, a.ndim, "sum")
    out = np.sum(a.data, axis=dim, keepdims=keepdim)

    def backward(grad):
        # every summed entry contributed with weight 1
        return (np.broadcast_to(expand_reduced(grad, a.shape, dim, keepdim), a.shape),)

    return Tensor._from_op(np.asarray(out), (a,), backward, "sum")


def mean(a: Tensor, dim=None, keepdim=False, *, axis=None, keepdims=None) -> Tensor:
    dim, keepdim = resolve_dim(dim, axis, keepdim, keepdims, "mean")
    check_dim(dim, a.ndim, "mean")
    out = np.mean(a.data, axis=dim, keepdims=keepdim)
    count = _reduced_count(a.shape, dim)

    def backward(grad):
        expanded = expand_reduced(grad, a.shape, dim, keepdim) / count
        return (np.broadcast_to(expanded, a.shape).astype(a.data.dtype, copy=False),)

    return Tensor._from_op(np.asarray(out, dtype=a.data.dtype), (a,), backward, "mean")
