"""Matrix products: ``matmul`` (with batching) and the fused ``linear``."""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from ._util import pair, unbroadcast


def _check_same_dtype(a: Tensor, b: Tensor, fn_name: str) -> None:
    """PyTorch refuses to multiply float32 by float64 (or ints by floats); so do we.

    Silently promoting would turn a whole float32 model into float64 because
    one batch came straight from NumPy, doubling memory and time.
    """
    if a.data.dtype != b.data.dtype:
        raise TypeError(f"{fn_name}(): both operands must have the same dtype, got "
                        f"{a.data.dtype} and {b.data.dtype}. Hint: convert the data with "
                        f".float() (float32, the default) or the model with .double().")


def matmul(a, b) -> Tensor:
    """``a @ b`` with NumPy's rules: 1-D operands are promoted, batch dims broadcast.

    Shapes: (..., n, k) @ (..., k, m) -> (..., n, m).
    """
    a, b = pair(a, b)
    _check_same_dtype(a, b, "matmul")
    if a.ndim == 0 or b.ndim == 0:
        raise ValueError(f"matmul(): both operands need at least 1 dimension, got shapes "
                         f"{a.shape} and {b.shape}. Hint: use * for scalar multiplication.")
    k_a = a.shape[-1]
    k_b = b.shape[-2] if b.ndim >= 2 else b.shape[0]
    if k_a != k_b:
        raise ValueError(f"matmul(): shapes {a.shape} and {b.shape} cannot be multiplied: "
                         f"the last dim of the first ({k_a}) must equal the "
                         f"{'second-to-last' if b.ndim >= 2 else 'only'} dim of the second ({k_b}).")
    out = np.asarray(np.matmul(a.data, b.data))  # 1-D @ 1-D gives a NumPy scalar

    def backward(grad):
        # Work with at least 2-D views so one formula covers every case:
        # dA = dOut @ B^T, dB = A^T @ dOut, then undo the 1-D promotion and
        # sum over broadcast batch dims.
        a2 = a.data[None, :] if a.ndim == 1 else a.data
        b2 = b.data[:, None] if b.ndim == 1 else b.data
        g2 = grad
        if b.ndim == 1:  # (this order also works when both are 1-D and grad is 0-d)
            g2 = np.expand_dims(g2, -1)
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        grad_a = grad_b = None
        if a.requires_grad:
            grad_a = np.matmul(g2, np.swapaxes(b2, -1, -2))
            if a.ndim == 1:
                grad_a = np.squeeze(grad_a, -2)
            grad_a = unbroadcast(grad_a, a.shape)
        if b.requires_grad:
            grad_b = np.matmul(np.swapaxes(a2, -1, -2), g2)
            if b.ndim == 1:
                grad_b = np.squeeze(grad_b, -1)
            grad_b = unbroadcast(grad_b, b.shape)
        return grad_a, grad_b

    return Tensor._from_op(out, (a, b), backward, "matmul")


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """``x @ weight.T + bias`` as one node (what ``nn.Linear`` calls).

    Shapes: x (..., in_features), weight (out_features, in_features),
    bias (out_features,) -> (..., out_features). Fusing the three steps into
    one node saves two graph nodes per layer and skips the input gradient when
    the input is data (``x.requires_grad`` is False).
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"linear(): input must be a Tensor, got {type(x).__name__}. "
                        "Hint: wrap arrays with minnet.tensor(...).")
    if weight.ndim != 2:
        raise ValueError(f"linear(): weight must be 2-D (out_features, in_features), got shape "
                         f"{weight.shape}")
    if bias is not None and bias.shape != (weight.shape[0],):
        raise ValueError(f"linear(): bias must have shape ({weight.shape[0]},) to match the "
                         f"weight {weight.shape}, got {bias.shape}")
    _check_same_dtype(x, weight, "linear")
    if x.ndim == 0 or x.shape[-1:] != weight.shape[1:]:
        raise ValueError(f"linear(): input has {x.shape[-1] if x.ndim else 'no'} features "
                         f"(shape {x.shape}) but the weight expects {weight.shape[1]} "
                         f"(weight shape {weight.shape})")
    x2d = x.data.reshape(-1, x.shape[-1])
    out2d = x2d @ weight.data.T
    if bias is not None:
        if bias.data.dtype == out2d.dtype:
            out2d += bias.data  # in place: out2d is a new array, no need for another
        else:
            out2d = out2d + bias.data  # (a bias of another dtype promotes, as before)
    out = out2d.reshape(x.shape[:-1] + (weight.shape[0],))
    parents = (x, weight) if bias is None else (x, weight, bias)

    def backward(grad):
        g2d = grad.reshape(-1, weight.shape[0])
        grad_x = (g2d @ weight.data).reshape(x.shape) if x.requires_grad else None
        grad_w = g2d.T @ x2d if weight.requires_grad else None
        if bias is None:
            return grad_x, grad_w
        grad_b = g2d.sum(axis=0) if bias.requires_grad else None
        return grad_x, grad_w, grad_b

    # every gradient above is a new array: the engine may hand it to a leaf uncopied
    backward.returns_new_arrays = True
    return Tensor._from_op(out, parents, backward, "linear")
