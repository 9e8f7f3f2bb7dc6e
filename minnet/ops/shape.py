"""Ops that move entries around without changing them: reshape, getitem, ...

Their backward routes each gradient entry back to where it came from.
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor


def _shape_from_args(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def reshape(a: Tensor, *shape) -> Tensor:
    shape = _shape_from_args(shape)
    try:
        out = a.data.reshape(shape)
    except ValueError:
        raise ValueError(f"reshape(): cannot reshape a tensor of shape {a.shape} "
                         f"({a.data.size} elements) into shape {shape}") from None

    def backward(grad):
        return (grad.reshape(a.shape),)

    return Tensor._from_op(out, (a,), backward, "reshape")


def clone(a: Tensor) -> Tensor:
    def backward(grad):
        return (grad,)

    return Tensor._from_op(a.data.copy(), (a,), backward, "clone")


def getitem(a: Tensor, index) -> Tensor:
    """``a[index]`` with slices, integers, None, Ellipsis and integer/bool arrays.

    Backward scatters the gradient back with ``np.add.at`` so that an entry
    selected twice (``a[[0, 0]]``) receives both contributions.
    """
    if isinstance(index, Tensor):
        index = index.data
    elif isinstance(index, tuple):
        index = tuple(i.data if isinstance(i, Tensor) else i for i in index)
    out = a.data[index]

    def backward(grad):
        full = np.zeros_like(a.data)
        np.add.at(full, index, grad)
        return (full,)

    return Tensor._from_op(np.array(out, copy=True), (a,), backward, "getitem")
