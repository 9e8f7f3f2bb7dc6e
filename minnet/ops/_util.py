"""Helpers shared by every op: argument coercion, dims, and un-broadcasting."""
from __future__ import annotations

import numbers
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


def python_scalar(value):
    """NumPy scalars -> Python numbers.

    Under NumPy 2's promotion rules a ``np.float64`` scalar turns a float32
    array into float64, while a Python float does not; converting keeps
    ``float32 tensor * np.float64(2)`` float32, as in PyTorch.
    """
    if isinstance(value, np.generic):
        return value.item()
    return value


def pair(a, b, promote: bool = True) -> tuple:
    """Coerce two operands to Tensors; Python scalars take the other's dtype.

    With ``promote``, operands of different dtypes are converted to the one
    PyTorch's type promotion gives (see ``result_dtype``).
    """
    if not isinstance(a, Tensor):
        a = as_tensor(python_scalar(a), like=b if isinstance(b, Tensor) else None)
    if not isinstance(b, Tensor):
        b = as_tensor(python_scalar(b), like=a)
    if promote and a._data.dtype != b._data.dtype:
        dtype = result_dtype(a, b)
        a, b = a.astype(dtype), b.astype(dtype)
    return a, b


_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}  # bool < integer < floating


def result_dtype(a: Tensor, b: Tensor) -> np.dtype:
    """The dtype of ``a op b`` by PyTorch's rules (NumPy's differ):

    * a higher category wins: float32 tensor ** int64 tensor is float32 (NumPy: float64);
    * a 0-d tensor (or number) only decides when its category is higher than the
      other operand's: float32 tensor + float64 0-d tensor stays float32;
    * otherwise the wider dtype of the same category: float32 + float64 -> float64.
    """
    category_a, category_b = _CATEGORY.get(a.dtype.kind, 3), _CATEGORY.get(b.dtype.kind, 3)
    if (a.ndim == 0) != (b.ndim == 0):  # one is 0-d: it counts only if of a higher category
        zero_d, shaped = (a, b) if a.ndim == 0 else (b, a)
        if _CATEGORY.get(zero_d.dtype.kind, 3) <= _CATEGORY.get(shaped.dtype.kind, 3):
            return shaped.dtype
        return zero_d.dtype
    if category_a != category_b:
        return a.dtype if category_a > category_b else b.dtype
    return np.result_type(a.dtype, b.dtype)


def as_float(a: Tensor) -> Tensor:
    """Integer/bool tensors -> float32 (the default dtype) before a float-valued op.

    NumPy would give float64 for ``exp(int_array)`` or ``int_array / 2``;
    PyTorch gives its default float dtype, float32.
    """
    if a._data.dtype.kind in "iub":
        return Tensor(a._data.astype(np.float32))
    return a


def is_number(value) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool) \
        or isinstance(value, np.generic) and value.dtype.kind in "iuf"


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


def normalize_dims(dim, ndim: int, fn_name: str) -> Optional[tuple]:
    """``dim`` (None, an int or a tuple, negatives allowed) -> sorted positive axes.

    None means "every dim". As in PyTorch, a 0-d tensor accepts dim 0 or -1,
    which reduces nothing. Raises a clear IndexError for out-of-range or
    repeated dims.
    """
    if dim is None:
        return None
    dims = (dim,) if isinstance(dim, (int, np.integer)) else tuple(dim)
    limit = max(ndim, 1)
    axes = []
    for d in dims:
        if not isinstance(d, (int, np.integer)) or isinstance(d, bool):
            raise TypeError(f"{fn_name}(): dim must be an int or a tuple of ints, got {dim!r}")
        if not -limit <= d < limit:
            raise IndexError(f"{fn_name}(): dim {d} is out of range for a tensor with {ndim} "
                             f"dimension(s) (expected a dim in [{-limit}, {limit - 1}])")
        axes.append(int(d) % limit)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{fn_name}(): dim {dim!r} names the same dimension twice")
    if ndim == 0:
        return ()
    return tuple(sorted(axes))


def expand_reduced(grad: np.ndarray, input_shape: tuple, axes, keepdim: bool) -> np.ndarray:
    """Re-insert the reduced axes into ``grad`` so it broadcasts against the input.

    ``axes`` comes from ``normalize_dims`` (None = every axis was reduced).
    """
    if keepdim:
        return grad  # the reduced axes are still there with size 1: broadcasts
    if axes is None:
        return grad.reshape((1,) * len(input_shape))
    return np.expand_dims(grad, axes) if axes else grad


def single_dim(dim, ndim: int, fn_name: str, extra: int = 0) -> int:
    """One dim (negatives allowed) -> a positive axis in ``range(ndim + extra)``.

    ``extra=1`` is for ops that insert a dim (unsqueeze, stack).
    """
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{fn_name}(): dim must be an int, got {dim!r}")
    limit = max(ndim + extra, 1)
    if not -limit <= dim < limit:
        raise IndexError(f"{fn_name}(): dim {dim} is out of range for a tensor with {ndim} "
                         f"dimension(s) (expected a dim in [{-limit}, {limit - 1}])")
    return int(dim) % limit


def require_tensor(value, fn_name: str, arg_name: str = "input") -> Tensor:
    if not isinstance(value, Tensor):
        raise TypeError(f"{fn_name}(): {arg_name} must be a Tensor, got {type(value).__name__}. "
                        "Hint: wrap arrays with minnet.tensor(...).")
    return value


def into(out, result: Tensor) -> Tensor:
    """PyTorch's ``out=`` argument: write ``result`` into the tensor ``out`` and return it.

    As in PyTorch, not for results that need a gradient (``out`` would be an in-place
    change of a graph tensor).
    """
    if out is None:
        return result
    if result.requires_grad:
        raise RuntimeError("functions with out=... arguments don't support automatic "
                           "differentiation, but one of the arguments requires grad. Hint: "
                           "write y = f(x) instead of f(x, out=y).")
    return out.copy_(result)
