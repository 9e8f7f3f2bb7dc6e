"""Gradient clipping: ``clip_grad_norm_`` and ``clip_grad_value_`` (PyTorch's ``torch.nn.utils``).

Call them between ``loss.backward()`` and ``optimizer.step()``. Clipping by norm
rescales *all* gradients together, so the update keeps its direction and only its
length is capped. Clipping on almost every step hides a learning rate that is too
high (the debugger's ``optim.clipping_always``).
"""
from __future__ import annotations

import math
from typing import Iterable, Union

import numpy as np

from ..tensor import Tensor, wrap_array

_Parameters = Union[Tensor, Iterable[Tensor]]


def _grads_of(parameters: _Parameters, fn_name: str) -> list:
    """The ``.grad`` Tensors of the parameters that have one."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    grads = []
    for param in parameters:
        if not isinstance(param, Tensor):
            raise TypeError(f"{fn_name}(): expected Tensors (e.g. model.parameters()), got "
                            f"{type(param).__name__}")
        if param.grad is not None:
            grads.append(param.grad)
    return grads


def _vector_norm(array: np.ndarray, norm_type: float) -> np.ndarray:
    """``||array||_p`` over all elements, as a 0-d array of ``array``'s dtype."""
    magnitudes = np.abs(array)
    if norm_type == math.inf:
        result = magnitudes.max() if magnitudes.size else np.zeros((), array.dtype)
    elif norm_type == 2.0:
        result = np.sqrt(np.sum(magnitudes * magnitudes))
    elif norm_type == 1.0:
        result = np.sum(magnitudes)
    elif norm_type == 0.0:
        result = np.count_nonzero(array)
    else:
        result = np.sum(magnitudes ** norm_type) ** (1.0 / norm_type)
    return np.asarray(result, dtype=array.dtype)


def clip_grad_norm_(parameters: _Parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False) -> Tensor:
    """Scale all gradients in place so that their combined norm is at most ``max_norm``.

    ``total = || (||g_1||_p, ||g_2||_p, ...) ||_p``; each gradient is multiplied by
    ``min(1, max_norm / (total + 1e-6))``; parameters without ``.grad`` are ignored.
    Args:
        parameters: a Tensor or an iterable of Tensors (e.g. ``model.parameters()``).
        norm_type: p; ``float('inf')`` (or ``'inf'``) uses the largest |g|.
        error_if_nonfinite: raise instead of clipping when the total norm is NaN/inf.
    Returns the total norm *before* clipping, a 0-d Tensor.
    """
    grads = _grads_of(parameters, "clip_grad_norm_")
    max_norm = float(max_norm)
    norm_type = float(norm_type)
    if not max_norm >= 0:
        raise ValueError(f"clip_grad_norm_(): max_norm must be >= 0, got {max_norm}. Hint: a "
                         f"negative max_norm would flip the gradients' sign")
    if not norm_type >= 0:
        raise ValueError(f"clip_grad_norm_(): norm_type must be >= 0 (or inf), got {norm_type}")
    if not grads:
        return wrap_array(np.asarray(0.0, dtype=np.float32))

    dtype = np.result_type(*[g._data.dtype for g in grads])
    per_grad = np.stack([_vector_norm(g._data, norm_type).astype(dtype) for g in grads])
    total_norm = _vector_norm(per_grad, norm_type)
    if error_if_nonfinite and not np.isfinite(total_norm):
        raise RuntimeError(
            f"clip_grad_norm_(): The total norm of order {norm_type} for gradients from "
            f"`parameters` is non-finite ({total_norm.item()}), so it cannot be clipped. To "
            f"disable this error and scale the gradients by the non-finite norm anyway, set "
            f"`error_if_nonfinite=False`")
    clip_coef = np.minimum(dtype.type(max_norm) / (total_norm + dtype.type(1e-6)), dtype.type(1.0))
    with np.errstate(invalid="ignore"):  # inf * 0 = nan is the documented outcome here
        for grad in grads:
            # in place, as PyTorch's mul_: the .grad objects the optimizer reads are the same
            grad._data *= clip_coef.astype(grad._data.dtype)
    return wrap_array(total_norm)


def clip_grad_value_(parameters: _Parameters, clip_value: float) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]`` in place."""
    grads = _grads_of(parameters, "clip_grad_value_")
    clip_value = float(clip_value)
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_(): clip_value must be >= 0, got {clip_value}")
    for grad in grads:
        np.clip(grad._data, -clip_value, clip_value, out=grad._data)
