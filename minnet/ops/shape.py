"""Ops that move entries around without changing them.

reshape/view, transpose, permute, flatten, unsqueeze, squeeze, expand,
getitem, cat, stack, pad, clone. Their backward routes each gradient entry
back to where it came from (and sums entries that were used several times).
Like PyTorch's views, reshape/transpose/... results share memory with their
input whenever NumPy can do it without a copy; no op ever writes into it.
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from ._util import normalize_dims, python_scalar, require_tensor, single_dim


def _shape_from_args(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def reshape(a: Tensor, *shape) -> Tensor:
    """Same entries in a new shape (one size may be -1: inferred)."""
    require_tensor(a, "reshape")
    shape = _shape_from_args(shape)
    try:
        out = a.data.reshape(shape)
    except (ValueError, TypeError):
        raise ValueError(f"reshape(): cannot reshape a tensor of shape {a.shape} "
                         f"({a.data.size} elements) into shape {shape}. Hint: the product of "
                         f"the new sizes must be {a.data.size} (at most one size may be -1)."
                         ) from None

    def backward(grad):
        return (grad.reshape(a.shape),)

    return Tensor._from_op(out, (a,), backward, "reshape")


def view(a: Tensor, *shape) -> Tensor:
    """PyTorch's ``view``: here the same as ``reshape`` (NumPy copies only when it must)."""
    return reshape(a, *shape)


def clone(a: Tensor) -> Tensor:
    def backward(grad):
        return (grad,)

    return Tensor._from_op(a.data.copy(), (a,), backward, "clone")


def transpose(a: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap two dims."""
    require_tensor(a, "transpose")
    axis0 = single_dim(dim0, a.ndim, "transpose")
    axis1 = single_dim(dim1, a.ndim, "transpose")
    if a.ndim == 0:
        return a
    out = np.swapaxes(a.data, axis0, axis1)

    def backward(grad):
        return (np.swapaxes(grad, axis0, axis1),)

    return Tensor._from_op(out, (a,), backward, "transpose")


def permute(a: Tensor, *dims) -> Tensor:
    """Reorder dims: output dim i is input dim ``dims[i]``."""
    require_tensor(a, "permute")
    dims = _shape_from_args(dims)
    if len(dims) != a.ndim:
        raise ValueError(f"permute(): the tensor has {a.ndim} dims (shape {a.shape}) but "
                         f"{len(dims)} were given: {dims}. Hint: list every dim once.")
    axes = tuple(single_dim(d, a.ndim, "permute") for d in dims)
    if sorted(axes) != list(range(a.ndim)):
        raise ValueError(f"permute(): {dims} is not a permutation of the dims "
                         f"{tuple(range(a.ndim))}: every dim must appear exactly once")
    out = np.transpose(a.data, axes)
    inverse = tuple(np.argsort(axes))

    def backward(grad):
        return (np.transpose(grad, inverse),)

    return Tensor._from_op(out, (a,), backward, "permute")


def flatten(a: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` (inclusive) into one."""
    require_tensor(a, "flatten")
    if a.ndim == 0:
        return reshape(a, 1)
    start = single_dim(start_dim, a.ndim, "flatten")
    end = single_dim(end_dim, a.ndim, "flatten")
    if start > end:
        raise ValueError(f"flatten(): start_dim ({start_dim}) comes after end_dim ({end_dim})")
    merged = int(np.prod(a.shape[start:end + 1]))
    return reshape(a, a.shape[:start] + (merged,) + a.shape[end + 1:])


def unsqueeze(a: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dim at position ``dim`` (in [-ndim-1, ndim])."""
    require_tensor(a, "unsqueeze")
    axis = single_dim(dim, a.ndim, "unsqueeze", extra=1)
    return reshape(a, a.shape[:axis] + (1,) + a.shape[axis:])


def squeeze(a: Tensor, dim=None) -> Tensor:
    """Remove size-1 dims (all of them, or those in ``dim``; others are left alone)."""
    require_tensor(a, "squeeze")
    axes = normalize_dims(dim, a.ndim, "squeeze")
    if axes is None:
        axes = range(a.ndim)
    drop = {axis for axis in axes if a.shape[axis] == 1}
    return reshape(a, tuple(size for axis, size in enumerate(a.shape) if axis not in drop))


def expand(a: Tensor, *sizes) -> Tensor:
    """Broadcast to a larger shape without copying (-1 keeps a size)."""
    require_tensor(a, "expand")
    sizes = _shape_from_args(sizes)
    if len(sizes) < a.ndim:
        raise ValueError(f"expand(): the target shape {sizes} has fewer dims than the tensor "
                         f"(shape {a.shape})")
    lead = len(sizes) - a.ndim
    target = tuple(a.shape[i - lead] if size == -1 and i >= lead else size
                   for i, size in enumerate(sizes))
    try:
        out = np.broadcast_to(a.data, target)
    except ValueError:
        raise ValueError(f"expand(): cannot expand shape {a.shape} to {sizes}: only size-1 "
                         "dims can grow") from None

    def backward(grad):
        from ._util import unbroadcast
        return (unbroadcast(grad, a.shape),)

    return Tensor._from_op(out, (a,), backward, "expand")


# --------------------------------------------------------------------------
# indexing
# --------------------------------------------------------------------------
def _plain_index(index) -> tuple:
    """Tensors inside an index -> their arrays; always a tuple."""
    if not isinstance(index, tuple):
        index = (index,)
    return tuple(i.data if isinstance(i, Tensor) else i for i in index)


def _is_basic(index: tuple) -> bool:
    """True for ints/slices/None/Ellipsis only: no entry can be picked twice."""
    return all(i is None or i is Ellipsis or isinstance(i, (slice, int, np.integer))
               and not isinstance(i, bool) for i in index)


def getitem(a: Tensor, index) -> Tensor:
    """``a[index]`` with slices, integers, None, Ellipsis and integer/bool arrays.

    Basic indexing returns a view and its backward writes the gradient into
    the selected region. Advanced (array) indexing can pick one entry several
    times (``a[[0, 0]]``), so its backward scatter-adds with ``np.add.at``:
    both picks contribute.
    """
    require_tensor(a, "getitem")
    index = _plain_index(index)
    try:
        out = a.data[index]
    except IndexError as error:
        raise IndexError(f"getitem(): index {index!r} does not fit a tensor of shape "
                         f"{a.shape}: {error}") from None
    basic = _is_basic(index)
    if not basic:
        out = np.asarray(out)

    def backward(grad):
        full = np.zeros_like(a.data)
        if basic:
            full[index] = grad
        else:
            np.add.at(full, index, grad)
        return (full,)

    return Tensor._from_op(np.asarray(out), (a,), backward, "getitem")


# --------------------------------------------------------------------------
# joining
# --------------------------------------------------------------------------
def _check_tensor_list(tensors, fn_name: str) -> list:
    if isinstance(tensors, Tensor) or not hasattr(tensors, "__iter__"):
        raise TypeError(f"{fn_name}(): expected a list or tuple of Tensors, got "
                        f"{type(tensors).__name__}. Hint: {fn_name}([a, b], dim=0).")
    tensors = list(tensors)
    if not tensors:
        raise ValueError(f"{fn_name}(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        require_tensor(t, fn_name, f"element {i}")
    return tensors


def cat(tensors, dim: int = 0) -> Tensor:
    """Join tensors along an existing dim; all other sizes must match."""
    tensors = _check_tensor_list(tensors, "cat")
    first = tensors[0]
    axis = single_dim(dim, first.ndim, "cat")
    for i, t in enumerate(tensors):
        if t.ndim != first.ndim or any(t.shape[d] != first.shape[d]
                                       for d in range(first.ndim) if d != axis):
            raise ValueError(f"cat(): sizes must match except in dim {dim}, but tensor 0 has "
                             f"shape {first.shape} and tensor {i} has shape {t.shape}")
    out = np.concatenate([t.data for t in tensors], axis=axis)
    bounds = np.cumsum([t.shape[axis] for t in tensors])[:-1]

    def backward(grad):
        pieces = np.split(grad, bounds, axis=axis)
        return tuple(piece if t.requires_grad else None for piece, t in zip(pieces, tensors))

    return Tensor._from_op(out, tuple(tensors), backward, "cat")


def stack(tensors, dim: int = 0) -> Tensor:
    """Join same-shaped tensors along a new dim inserted at ``dim``."""
    tensors = _check_tensor_list(tensors, "stack")
    first = tensors[0]
    axis = single_dim(dim, first.ndim, "stack", extra=1)
    for i, t in enumerate(tensors):
        if t.shape != first.shape:
            raise ValueError(f"stack(): every tensor must have the same shape, but tensor 0 "
                             f"has shape {first.shape} and tensor {i} has shape {t.shape}")
    out = np.stack([t.data for t in tensors], axis=axis)

    def backward(grad):
        return tuple(np.take(grad, i, axis=axis) if t.requires_grad else None
                     for i, t in enumerate(tensors))

    return Tensor._from_op(out, tuple(tensors), backward, "stack")


# --------------------------------------------------------------------------
# padding
# --------------------------------------------------------------------------
_NUMPY_PAD_MODE = {"reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def _pad_pairs(a: Tensor, pad) -> list:
    """PyTorch's flat pad tuple -> one (before, after) pair per dim of ``a``.

    ``pad`` lists pairs starting from the LAST dim: (left, right) pads the
    last dim, (left, right, top, bottom) the last two, and so on.
    """
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2 or len(pad) // 2 > a.ndim:
        raise ValueError(f"pad(): pad must have an even length of at most 2 * ndim = "
                         f"{2 * a.ndim} (input shape {a.shape}), got {pad}. Hint: pairs start "
                         "from the last dim: (left, right, top, bottom) for an image.")
    pairs = [(0, 0)] * a.ndim
    for i in range(len(pad) // 2):
        pairs[a.ndim - 1 - i] = (pad[2 * i], pad[2 * i + 1])
    return pairs


def pad(a: Tensor, pad, mode: str = "constant", value=None) -> Tensor:
    """Pad (or, with negative amounts in constant mode, crop) ``a`` like ``F.pad``.

    ``mode``: 'constant' (fill with ``value``, default 0), 'reflect' (mirror
    without repeating the edge), 'replicate' (repeat the edge), 'circular'
    (wrap around).
    """
    require_tensor(a, "pad")
    pairs = _pad_pairs(a, pad)
    if mode == "constant":
        return _pad_constant(a, pairs, 0 if value is None else python_scalar(value))
    if mode not in _NUMPY_PAD_MODE:
        raise ValueError(f"pad(): unknown mode {mode!r}; expected 'constant', 'reflect', "
                         "'replicate' or 'circular'")
    if value not in (None, 0):
        raise ValueError(f"pad(): value= is only used by mode='constant', not {mode!r}")
    for axis, (before, after) in enumerate(pairs):
        size = a.shape[axis]
        if before < 0 or after < 0:
            raise ValueError(f"pad(): negative padding is only allowed in constant mode")
        if mode == "reflect" and (before >= size or after >= size) and (before or after):
            raise ValueError(f"pad(): reflect padding ({before}, {after}) must be smaller than "
                             f"the size {size} of dim {axis} (input shape {a.shape})")
        if mode == "circular" and (before > size or after > size):
            raise ValueError(f"pad(): circular padding ({before}, {after}) can be at most the "
                             f"size {size} of dim {axis} (input shape {a.shape})")
    return _pad_by_index(a, pairs, _NUMPY_PAD_MODE[mode])


def _pad_constant(a: Tensor, pairs: list, value) -> Tensor:
    out_shape = tuple(size + before + after for size, (before, after) in zip(a.shape, pairs))
    if any(size < 0 for size in out_shape):
        raise ValueError(f"pad(): padding {pairs} would give the negative shape {out_shape} "
                         f"for an input of shape {a.shape}")
    # the part of the input that survives (negative pads crop) and where it lands
    source = tuple(slice(max(-before, 0), size - max(-after, 0))
                   for size, (before, after) in zip(a.shape, pairs))
    target = tuple(slice(max(before, 0), max(before, 0) + max(s.stop - s.start, 0))
                   for s, (before, _) in zip(source, pairs))
    out = np.full(out_shape, value, dtype=a.data.dtype)
    out[target] = a.data[source]

    def backward(grad):
        full = np.zeros_like(a.data)
        full[source] = grad[target]
        return (full,)

    return Tensor._from_op(out, (a,), backward, "pad")


def _pad_by_index(a: Tensor, pairs: list, numpy_mode: str) -> Tensor:
    """Non-constant modes: each output position copies some input position."""
    # for every padded dim, which input position each output position copies
    sources = {axis: np.pad(np.arange(a.shape[axis]), pair, mode=numpy_mode)
               for axis, pair in enumerate(pairs) if pair != (0, 0)}
    out = a.data
    for axis, source in sources.items():
        out = np.take(out, source, axis=axis)

    def backward(grad):
        # undo the dims in reverse, summing gradients of copies of the same entry
        for axis in reversed(list(sources)):
            source = sources[axis]
            shape = list(grad.shape)
            shape[axis] = a.shape[axis]
            summed = np.zeros(shape, dtype=grad.dtype)
            np.add.at(summed, (slice(None),) * axis + (source,), grad)
            grad = summed
        return (grad,)

    return Tensor._from_op(np.array(out, copy=len(sources) == 0), (a,), backward, "pad")
