"""Ordering ops: ``sort``, ``topk``, ``cumsum``, ``prod``, ``norm``.

``sort`` and ``topk`` pick entries: their values are differentiable (the gradient
goes back to the position each value came from, as ``max(dim)`` does), their
indices are int64 and not. ``cumsum`` and ``prod`` are reductions along a dim
whose backward is written out below; so is ``norm``'s, which follows PyTorch at the
points where |x|^p has no derivative (x = 0, ties at the max).
"""
from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from ..tensor import Tensor
from ._util import expand_reduced, normalize_dims, require_tensor, single_dim

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


def cumsum(input: Tensor, dim: int, *, dtype=None) -> Tensor:
    """Running sums along ``dim`` (same shape): [1, 2, 3] -> [1, 3, 6].

    ``dtype``: the input is converted to it first (as PyTorch's argument).
    """
    require_tensor(input, "cumsum")
    input = input._cast_before("cumsum", dtype)
    axis = single_dim(dim, input.ndim, "cumsum")
    data = input._data.astype(np.int64) if input.dtype.kind in "bu" else input._data
    out = np.cumsum(data, axis=axis) if input.ndim else data.copy()

    def backward(grad):
        # out_j = sum_{i <= j} x_i, so dL/dx_i = sum_{j >= i} grad_j: a reversed cumsum
        if input.ndim == 0:
            return (grad,)
        return (np.flip(np.cumsum(np.flip(grad, axis), axis=axis), axis),)

    return Tensor._from_op(out, (input,), backward, "cumsum", saved=())


def prod(input: Tensor, dim=None, keepdim: bool = False, *, dtype=None) -> Tensor:
    """Product of the entries (all of them, or along one ``dim``); ``dtype`` converts the
    input first. Bool and integer inputs give int64, as in PyTorch.

    d(prod)/dx_i is the product of all the other entries. It is computed as
    (product of those before i) * (product of those after i), which stays right
    when some x are 0 (out / x_i would divide by zero).
    """
    require_tensor(input, "prod")
    input = input._cast_before("prod", dtype)
    if dim is None or input.ndim == 0:
        if dim is not None:
            single_dim(dim, 0, "prod")  # a 0-d tensor accepts dim 0 or -1, as in PyTorch
        flat = input.reshape(-1) if input.ndim != 1 else input
        result = prod(flat, 0)
        return result.reshape((1,) * input.ndim) if keepdim else result
    axis = single_dim(dim, input.ndim, "prod")
    promote = dtype is None and input.dtype.kind in "biu"  # an explicit dtype is kept
    x = input._data.astype(np.int64) if promote else input._data
    out = np.prod(x, axis=axis, keepdims=keepdim, dtype=x.dtype)  # bool stays bool (NumPy: int)

    def backward(grad):
        if x.shape[axis] == 0:  # an empty product (1) depends on no entry
            return (np.zeros_like(x),)
        ones = np.ones_like(np.take(x, [0], axis=axis))
        before = np.cumprod(np.concatenate([ones, np.delete(x, -1, axis=axis)], axis), axis)
        flipped = np.flip(x, axis)
        after = np.flip(np.cumprod(np.concatenate(
            [ones, np.delete(flipped, -1, axis=axis)], axis), axis), axis)
        g = grad if keepdim else np.expand_dims(grad, axis)
        return ((g * before * after).astype(x.dtype, copy=False),)

    return Tensor._from_op(np.asarray(out), (input,), backward, "prod")


def _norm_order(p) -> float:
    """PyTorch's names for the order of a vector norm -> a float (inf for 'inf', 2 for 'fro')."""
    if p in ("fro", None):
        return 2.0
    if isinstance(p, str):
        if p in ("inf", "-inf"):
            return float(p)
        raise ValueError(f"norm(): p={p!r} is not a vector norm minnet knows (use a number, "
                         f"'fro', 'inf' or '-inf'; 'nuc' is a matrix norm minnet does not have)")
    return float(p)


def norm(input: Tensor, p="fro", dim=None, keepdim: bool = False) -> Tensor:
    """The vector p-norm (sum |x|^p)^(1/p) over all entries or over ``dim``; p=2 by default.

    p=inf is max |x|, p=-inf min |x|, p=0 the number of non-zero entries. Shapes:
    (N, C) with dim=1 -> (N,), or (N, 1) with keepdim=True.

    The backward is PyTorch's (torch.linalg.vector_norm), written out because building
    the norm from abs/pow/sqrt gives 0/0 = nan where it has a defined subgradient:
    where the norm is 0 the gradient is 0; for p < 1 an entry equal to 0 gets 0 (|x|^(p-1)
    is infinite there); for p = +-inf the gradient is shared equally between the entries
    that reach the extreme |x| (as ``amax``).
    """
    require_tensor(input, "norm")
    if input.dtype.kind != "f":
        raise TypeError(f"norm(): expected a floating-point tensor, got dtype {input.dtype}. "
                        f"Hint: convert first with .float() or .double()")
    order = _norm_order(p)
    axes = normalize_dims(dim, input.ndim, "norm")
    x = input._data
    size = x.size if axes is None else int(np.prod([x.shape[a] for a in axes]))
    if math.isinf(order) and size == 0:
        raise ValueError(f"norm(): the {p} norm of an empty slice is undefined (the max/min of "
                         f"nothing), got input shape {input.shape} and dim={dim!r}")
    magnitude = np.abs(x)
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        if order == math.inf:
            kept = np.max(magnitude, axis=axes, keepdims=True)
        elif order == -math.inf:
            kept = np.min(magnitude, axis=axes, keepdims=True)
        elif order == 0:
            kept = np.sum(magnitude != 0, axis=axes, keepdims=True).astype(x.dtype)
        elif order == 1:
            kept = np.sum(magnitude, axis=axes, keepdims=True)
        elif order == 2:
            kept = np.sqrt(np.sum(x * x, axis=axes, keepdims=True))
        else:
            kept = np.sum(magnitude ** order, axis=axes, keepdims=True) ** (1.0 / order)
    kept = kept.astype(x.dtype, copy=False)
    out = kept if keepdim else (np.squeeze(kept, axis=axes) if axes is not None else kept.reshape(()))

    def backward(grad):
        g = expand_reduced(grad, input.shape, axes, keepdim)
        with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
            if order == 0:
                dx = np.zeros_like(x)
            elif order == 1:
                dx = np.sign(x) * g
            elif math.isinf(order):
                # shared between the entries at the extreme (and any nan), as amax shares
                at_extreme = (magnitude == kept) | np.isnan(x)
                count = np.sum(at_extreme, axis=axes, keepdims=True)
                dx = np.sign(x) * at_extreme * (g / count)
            elif order < 1:
                scaled = np.where(x == 0, 0.0, np.sign(x) * magnitude ** (order - 1))
                dx = scaled * g * kept ** (1 - order)
            else:
                scale = np.where(kept == 0, 0.0, g / kept ** (order - 1))
                if order == 2:
                    dx = x * scale
                elif order < 2:
                    dx = np.sign(x) * magnitude ** (order - 1) * scale
                else:
                    dx = x * magnitude ** (order - 2) * scale
        return (np.asarray(dx, dtype=x.dtype),)

    return Tensor._from_op(np.asarray(out), (input,), backward, "norm")


def argsort(input: Tensor, dim: int = -1, descending: bool = False, stable: bool = False):
    """The indices that sort ``input`` along ``dim`` (int64, same shape): sort's second half."""
    return sort(input, dim, descending, stable).indices
