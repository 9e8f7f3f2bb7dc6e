"""Element-wise arithmetic and math functions.

Each op computes its forward with NumPy, then returns ``Tensor._from_op``
with a ``backward`` closure right below the forward: given ``grad`` (dL/dout,
shaped like the output) it returns dL/d(input) for each input, summed back
to the input's shape with ``unbroadcast`` where broadcasting stretched it.
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor, as_tensor
from ._util import pair, unbroadcast


def add(a, b) -> Tensor:
    a, b = pair(a, b)
    out = a.data + b.data

    def backward(grad):
        # d(a+b)/da = d(a+b)/db = 1
        return (unbroadcast(grad, a.shape) if a.requires_grad else None,
                unbroadcast(grad, b.shape) if b.requires_grad else None)

    return Tensor._from_op(out, (a, b), backward, "add")


def sub(a, b) -> Tensor:
    a, b = pair(a, b)
    out = a.data - b.data

    def backward(grad):
        return (unbroadcast(grad, a.shape) if a.requires_grad else None,
                unbroadcast(-grad, b.shape) if b.requires_grad else None)

    return Tensor._from_op(out, (a, b), backward, "sub")


def mul(a, b) -> Tensor:
    a, b = pair(a, b)
    out = a.data * b.data

    def backward(grad):
        # product rule: d(ab)/da = b, d(ab)/db = a
        return (unbroadcast(grad * b.data, a.shape) if a.requires_grad else None,
                unbroadcast(grad * a.data, b.shape) if b.requires_grad else None)

    return Tensor._from_op(out, (a, b), backward, "mul")


def div(a, b) -> Tensor:
    a, b = pair(a, b)
    out = a.data / b.data

    def backward(grad):
        # d(a/b)/da = 1/b, d(a/b)/db = -a/b^2
        return (unbroadcast(grad / b.data, a.shape) if a.requires_grad else None,
                unbroadcast(-grad * a.data / (b.data * b.data), b.shape) if b.requires_grad else None)

    return Tensor._from_op(out, (a, b), backward, "div")


def neg(a: Tensor) -> Tensor:
    def backward(grad):
        return (-grad,)

    return Tensor._from_op(-a.data, (a,), backward, "neg")


def exp(a: Tensor) -> Tensor:
    out = np.exp(a.data)

    def backward(grad):
        return (grad * out,)  # d(e^a)/da = e^a: reuse the forward result

    return Tensor._from_op(out, (a,), backward, "exp")


def log(a: Tensor) -> Tensor:
    out = np.log(a.data)

    def backward(grad):
        return (grad / a.data,)

    return Tensor._from_op(out, (a,), backward, "log")


def astype(a: Tensor, dtype) -> Tensor:
    """Convert dtype; the gradient is converted back to ``a``'s dtype."""
    dtype = np.dtype(dtype)
    if a.data.dtype == dtype:
        return a
    out = a.data.astype(dtype)

    def backward(grad):
        return (grad.astype(a.data.dtype),)

    return Tensor._from_op(out, (a,), backward, "astype")
