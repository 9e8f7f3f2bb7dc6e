"""Ordering ops: ``sort``, ``topk``, ``cumsum``, ``prod``, ``norm``.

``sort`` and ``topk`` pick entries: their values are differentiable (the gradient
goes back to the position each value came from, as ``max(dim)`` does), their
indices are int64 and not. ``cumsum`` and ``prod`` are reductions along a dim
whose backward is written out below; ``norm`` is built from other ops, so autograd
differentiates it with no backward of its own.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..tensor import Tensor
from ._util import require_tensor, single_dim

# what sort/topk return, as torch.return_types.sort / .topk
SortResult = namedtuple("sort", ["values", "indices"])
TopkResult = namedtuple("topk", ["values", "indices"])


def _pick_along(input: Tensor, indices: np.ndarray, axis: int, name: str) -> Tensor:
    """``input``'s entries at ``indices`` along ``axis`` (take_along_axis), differentiable."""
    values = np.take_along_axis(input._data, indices, axis=axis)

    def backward(grad):
        full = np.zeros_like(input._data)
        np.put_along_axis(full, indices, grad, axis=axis)  # each index is picked once
        return (full,)

    return Tensor._from_op(values, (input,), backward, name, saved=())


def sort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False):
    """Sorted values and the indices they came from, along ``dim`` (same shape as input).

    Ties keep their original order (a stable sort), which PyTorch only promises with
    ``stable=True``.
    """
    require_tensor(input, "sort")
    if input.ndim == 0:
        return SortResult(input, Tensor(np.asarray(0)))
    axis = single_dim(dim, input.ndim, "sort")
    keys = input._data.astype(np.int64) if input.dtype.kind in "bu" else input._data
    indices = np.argsort(-keys if descending else keys, axis=axis, kind="stable")
    return SortResult(_pick_along(input, indices, axis, "sort"), Tensor(indices))


def topk(input: Tensor, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
    """The ``k`` largest (or smallest) entries along ``dim`` and their indices.

    Shapes: (N, C) with k=3, dim=1 -> values (N, 3) and indices (N, 3).
    """
    require_tensor(input, "topk")
    axis = single_dim(dim, input.ndim, "topk") if input.ndim else 0
    size = input.shape[axis] if input.ndim else 1
    if not 0 <= k <= size:
        raise ValueError(f"topk(): k ({k}) is out of range: dim {dim} of shape {input.shape} "
                         f"has {size} entries")
    values, indices = sort(input, dim=dim, descending=largest)
    if input.ndim == 0:
        return TopkResult(values, indices)
    chosen = (slice(None),) * axis + (slice(0, k),)
    return TopkResult(values[chosen], indices[chosen])


def cumsum(input: Tensor, dim: int) -> Tensor:
    """Running sums along ``dim`` (same shape): [1, 2, 3] -> [1, 3, 6]."""
    require_tensor(input, "cumsum")
    axis = single_dim(dim, input.ndim, "cumsum")
    data = input._data.astype(np.int64) if input.dtype.kind in "bu" else input._data
    out = np.cumsum(data, axis=axis) if input.ndim else data.copy()

    def backward(grad):
        # out_j = sum_{i <= j} x_i, so dL/dx_i = sum_{j >= i} grad_j: a reversed cumsum
        if input.ndim == 0:
            return (grad,)
        return (np.flip(np.cumsum(np.flip(grad, axis), axis=axis), axis),)

    return Tensor._from_op(out, (input,), backward, "cumsum", saved=())


def prod(input: Tensor, dim=None, keepdim: bool = False) -> Tensor:
    """Product of the entries (all of them, or along one ``dim``).

    d(prod)/dx_i is the product of all the other entries. It is computed as
    (product of those before i) * (product of those after i), which stays right
    when some x are 0 (out / x_i would divide by zero).
    """
    require_tensor(input, "prod")
    if dim is None:
        flat = input.reshape(-1) if input.ndim != 1 else input
        result = prod(flat, 0)
        return result.reshape((1,) * input.ndim) if keepdim else result
    axis = single_dim(dim, input.ndim, "prod")
    x = input._data.astype(np.int64) if input.dtype.kind in "bu" else input._data
    if input.ndim == 0:
        return input
    out = np.prod(x, axis=axis, keepdims=keepdim)

    def backward(grad):
        ones = np.ones_like(np.take(x, [0], axis=axis))
        before = np.cumprod(np.concatenate([ones, np.delete(x, -1, axis=axis)], axis), axis)
        flipped = np.flip(x, axis)
        after = np.flip(np.cumprod(np.concatenate(
            [ones, np.delete(flipped, -1, axis=axis)], axis), axis), axis)
        g = grad if keepdim else np.expand_dims(grad, axis)
        return ((g * before * after).astype(x.dtype, copy=False),)

    return Tensor._from_op(np.asarray(out), (input,), backward, "prod")


def norm(input: Tensor, p="fro", dim=None, keepdim: bool = False) -> Tensor:
    """The p-norm (sum |x|^p)^(1/p) over all entries or ``dim``; p=2 ('fro') by default.

    Built from abs, pow, sum (and sqrt), so its gradient comes from theirs: at x = 0
    the 2-norm's gradient is 0/0; PyTorch defines it as 0, and so does sqrt here when
    every entry is 0 (see the test).
    """
    require_tensor(input, "norm")
    if p in ("fro", 2, 2.0):
        squares = (input * input).sum(dim=dim, keepdim=keepdim)
        return squares.sqrt()
    if p in (float("inf"), "inf"):
        return input.abs().amax(dim=dim, keepdim=keepdim)
    if p == 1:
        return input.abs().sum(dim=dim, keepdim=keepdim)
    return (input.abs() ** p).sum(dim=dim, keepdim=keepdim) ** (1.0 / p)
