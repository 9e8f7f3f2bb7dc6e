"""Gradient clipping (``clip_grad_norm_``, ``clip_grad_value_``, and ``clip_grad_norm_``'s
two halves ``get_total_norm`` and ``clip_grads_with_norm_``) and the flattening of
parameters into one vector and back (PyTorch's ``torch.nn.utils``).

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


def _arrays_of(tensors: _Parameters, fn_name: str) -> list:
    """The arrays of a Tensor or of an iterable of Tensors (Nones skipped)."""
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    arrays = []
    for tensor in tensors:
        if tensor is None:
            continue
        if not isinstance(tensor, Tensor):
            raise TypeError(f"{fn_name}(): expected Tensors, got {type(tensor).__name__}")
        arrays.append(tensor._data)
    return arrays


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


def _check_foreach(fn_name: str, foreach) -> None:
    """``foreach`` picks PyTorch's multi-tensor kernels; minnet's one loop gives the same numbers."""
    if foreach not in (None, True, False):
        raise TypeError(f"{fn_name}(): foreach must be None, True or False, got {foreach!r}")


def get_total_norm(tensors: _Parameters, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """The p-norm of all ``tensors`` together, ``|| (||t_1||_p, ||t_2||_p, ...) ||_p``,
    as a 0-d Tensor (e.g. of the gradients: ``get_total_norm(p.grad for p in ...)``)."""
    _check_foreach("get_total_norm", foreach)
    arrays = _arrays_of(tensors, "get_total_norm")
    norm_type = float(norm_type)
    if not norm_type >= 0:
        raise ValueError(f"get_total_norm(): norm_type must be >= 0 (or inf), got {norm_type}")
    if not arrays:
        return wrap_array(np.asarray(0.0, dtype=np.float32))
    dtype = np.result_type(*[a.dtype for a in arrays])
    per_tensor = np.stack([_vector_norm(a, norm_type).astype(dtype) for a in arrays])
    total_norm = _vector_norm(per_tensor, norm_type)
    if error_if_nonfinite and not np.isfinite(total_norm):
        raise RuntimeError(
            f"clip_grad_norm_(): The total norm of order {norm_type} for gradients from "
            f"`parameters` is non-finite ({total_norm.item()}), so it cannot be clipped. To "
            f"disable this error and scale the gradients by the non-finite norm anyway, set "
            f"`error_if_nonfinite=False`")
    return wrap_array(total_norm)


def clip_grads_with_norm_(parameters: _Parameters, max_norm: float, total_norm,
                          foreach=None) -> None:
    """Multiply every ``.grad`` in place by ``min(1, max_norm / (total_norm + 1e-6))``."""
    _check_foreach("clip_grads_with_norm_", foreach)
    grads = _grads_of(parameters, "clip_grads_with_norm_")
    max_norm = float(max_norm)
    if not max_norm >= 0:
        raise ValueError(f"clip_grad_norm_(): max_norm must be >= 0, got {max_norm}. Hint: a "
                         f"negative max_norm would flip the gradients' sign")
    if not grads:
        return
    total_norm = np.asarray(total_norm._data if isinstance(total_norm, Tensor) else total_norm)
    dtype = np.result_type(*[g._data.dtype for g in grads])
    total_norm = total_norm.astype(dtype)
    clip_coef = np.minimum(dtype.type(max_norm) / (total_norm + dtype.type(1e-6)), dtype.type(1.0))
    with np.errstate(invalid="ignore"):  # inf * 0 = nan is the documented outcome here
        for grad in grads:
            # in place, as PyTorch's mul_: the .grad objects the optimizer reads are the same
            grad._data *= clip_coef.astype(grad._data.dtype)


def clip_grad_norm_(parameters: _Parameters, max_norm: float, norm_type: float = 2.0,
                    error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """Scale all gradients in place so that their combined norm is at most ``max_norm``.

    ``total = || (||g_1||_p, ||g_2||_p, ...) ||_p``; each gradient is multiplied by
    ``min(1, max_norm / (total + 1e-6))``; parameters without ``.grad`` are ignored.
    Args:
        parameters: a Tensor or an iterable of Tensors (e.g. ``model.parameters()``).
        norm_type: p; ``float('inf')`` (or ``'inf'``) uses the largest |g|.
        error_if_nonfinite: raise instead of clipping when the total norm is NaN/inf.
        foreach: accepted for PyTorch's sake; changes no number.
    Returns the total norm *before* clipping, a 0-d Tensor.
    """
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    parameters = list(parameters)  # read twice: a generator would be empty the second time
    max_norm = float(max_norm)
    if not max_norm >= 0:
        raise ValueError(f"clip_grad_norm_(): max_norm must be >= 0, got {max_norm}. Hint: a "
                         f"negative max_norm would flip the gradients' sign")
    grads = _grads_of(parameters, "clip_grad_norm_")
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total_norm)
    return total_norm


def clip_grad_value_(parameters: _Parameters, clip_value: float, foreach=None) -> None:
    """Clamp every gradient element into ``[-clip_value, clip_value]`` in place."""
    _check_foreach("clip_grad_value_", foreach)
    grads = _grads_of(parameters, "clip_grad_value_")
    clip_value = float(clip_value)
    if not clip_value >= 0:
        raise ValueError(f"clip_grad_value_(): clip_value must be >= 0, got {clip_value}")
    for grad in grads:
        np.clip(grad._data, -clip_value, clip_value, out=grad._data)


def parameters_to_vector(parameters: Iterable[Tensor]) -> Tensor:
    """All parameters flattened and joined into one 1-D Tensor (differentiable)."""
    from .. import ops
    flat = [param.reshape(-1) for param in parameters]
    if not flat:
        raise ValueError("parameters_to_vector(): got no parameters")
    return ops.cat(flat, 0)


def vector_to_parameters(vec: Tensor, parameters: Iterable[Tensor]) -> None:
    """Copy consecutive pieces of the 1-D ``vec`` into the parameters, in place (the inverse
    of ``parameters_to_vector``; not recorded by autograd)."""
    if not isinstance(vec, Tensor):
        raise TypeError(f"vector_to_parameters(): expected vec to be a Tensor, but got "
                        f"{type(vec).__name__}")
    values = vec._data.reshape(-1)
    start = 0
    for param in parameters:
        size = param._data.size
        if start + size > values.size:
            raise ValueError(f"vector_to_parameters(): vec has {values.size} entries, fewer "
                             f"than the parameters need")
        param._data[...] = values[start:start + size].reshape(param._data.shape)
        param._bump_version("vector_to_parameters")
        start += size
    if start != values.size:
        raise ValueError(f"vector_to_parameters(): vec has {values.size} entries, the "
                         f"parameters {start}")



def clip_grad_norm(parameters: _Parameters, max_norm: float, norm_type: float = 2.0,
                   error_if_nonfinite: bool = False, foreach=None) -> Tensor:
    """Deprecated: use ``clip_grad_norm_`` (PyTorch's old name, with its warning)."""
    import warnings
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`torch.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)
