"""Ops that move entries around without changing them.

reshape/view, transpose, permute, flatten, unsqueeze, squeeze, expand, getitem, cat,
stack, split/chunk, repeat, tril/triu, pad, clone; then flip, roll, narrow, movedim,
tile, unbind, hstack/vstack, diagonal and diag, most of them one of the first ops with
other arguments. Their backward routes each gradient entry back to where it came from
(and sums entries that were used several times).
Like PyTorch's views, reshape/transpose/... results share memory with their
input whenever NumPy can do it without a copy; no op ever writes into it.
"""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor
from ._util import _CATEGORY, into, normalize_dims, python_scalar, require_tensor, single_dim


def _view(out: Tensor, input: Tensor) -> Tensor:
    """When ``out`` shares ``input``'s memory, an in-place change of one changes the other:
    they share one version counter (as PyTorch's views do)."""
    if np.may_share_memory(out._data, input._data):
        out._share_version(input)
    return out


def _shape_from_args(shape) -> tuple:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list)):
        return tuple(shape[0])
    return tuple(shape)


def _sizes(first, more: tuple, fn_name: str, arg_name: str) -> tuple:
    """PyTorch's one-sequence form ``(2, 3)`` or the separate ints ``2, 3`` -> a tuple.

    ``first`` is the op's named parameter (``shape`` or ``dims``); ``more`` its
    extra positional arguments, which only the separate-ints form has.
    """
    if isinstance(first, (tuple, list)):
        if more:
            raise TypeError(f"{fn_name}(): pass {arg_name} either as one tuple or as separate "
                            f"ints, not both (got {first!r} followed by {more!r})")
        return tuple(first)
    return (first,) + tuple(more)


def reshape(input: Tensor, shape, *more_sizes) -> Tensor:
    """Same entries in a new shape (one size may be -1: inferred).

    ``reshape(input, (2, 3))`` or ``reshape(input, shape=(2, 3))`` as in PyTorch;
    separate sizes ``reshape(input, 2, 3)`` work too (as ``Tensor.reshape``).
    Shapes: (6,) -> (2, 3); (4, 5, 6) with shape (4, -1) -> (4, 30).
    """
    require_tensor(input, "reshape")
    shape = _sizes(shape, more_sizes, "reshape", "shape")
    try:
        out = input._data.reshape(shape)
    except (ValueError, TypeError):
        raise ValueError(f"reshape(): cannot reshape a tensor of shape {input.shape} "
                         f"({input._data.size} elements) into shape {shape}. Hint: the product "
                         f"of the new sizes must be {input._data.size} (at most one size may be "
                         "-1).") from None

    def backward(grad):
        return (grad.reshape(input.shape),)

    return _view(Tensor._from_op(out, (input,), backward, "reshape", saved=()), input)


def view(input: Tensor, shape, *more_sizes) -> Tensor:
    """PyTorch's ``view``: here the same as ``reshape`` (NumPy copies only when it must)."""
    return reshape(input, shape, *more_sizes)


def clone(input: Tensor) -> Tensor:
    """A copy of ``input`` (same shape) that gradients flow through."""
    def backward(grad):
        return (grad,)

    return Tensor._from_op(input._data.copy(), (input,), backward, "clone", saved=())


def transpose(input: Tensor, dim0: int, dim1: int) -> Tensor:
    """Swap dims ``dim0`` and ``dim1``: (2, 3, 4) with (0, 2) -> (4, 3, 2)."""
    require_tensor(input, "transpose")
    axis0 = single_dim(dim0, input.ndim, "transpose")
    axis1 = single_dim(dim1, input.ndim, "transpose")
    if input.ndim == 0:
        return input
    out = np.swapaxes(input._data, axis0, axis1)

    def backward(grad):
        return (np.swapaxes(grad, axis0, axis1),)

    return _view(Tensor._from_op(out, (input,), backward, "transpose", saved=()), input)


def permute(input: Tensor, dims=(), *more_dims) -> Tensor:
    """Reorder dims: output dim i is input dim ``dims[i]``.

    ``permute(input, (1, 0))`` or ``permute(input, dims=(1, 0))`` as in PyTorch;
    separate ints ``permute(input, 1, 0)`` work too (as ``Tensor.permute``).
    Shapes: (2, 3, 4) with dims (2, 0, 1) -> (4, 2, 3). A 0-d tensor takes no dims.
    """
    require_tensor(input, "permute")
    dims = _sizes(dims, more_dims, "permute", "dims")
    if len(dims) != input.ndim:
        raise ValueError(f"permute(): the tensor has {input.ndim} dims (shape {input.shape}) "
                         f"but {len(dims)} were given: {dims}. Hint: list every dim once.")
    axes = tuple(single_dim(d, input.ndim, "permute") for d in dims)
    if sorted(axes) != list(range(input.ndim)):
        raise ValueError(f"permute(): {dims} is not a permutation of the dims "
                         f"{tuple(range(input.ndim))}: every dim must appear exactly once")
    out = np.transpose(input._data, axes)
    inverse = tuple(np.argsort(axes))

    def backward(grad):
        return (np.transpose(grad, inverse),)

    return _view(Tensor._from_op(out, (input,), backward, "permute", saved=()), input)


def flatten(input: Tensor, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    """Merge dims ``start_dim..end_dim`` (inclusive) into one: (2, 3, 4) -> (24,), or
    (2, 12) with start_dim=1."""
    require_tensor(input, "flatten")
    if input.ndim == 0:
        return reshape(input, 1)
    start = single_dim(start_dim, input.ndim, "flatten")
    end = single_dim(end_dim, input.ndim, "flatten")
    if start > end:
        raise ValueError(f"flatten(): start_dim ({start_dim}) comes after end_dim ({end_dim})")
    merged = int(np.prod(input.shape[start:end + 1]))
    return reshape(input, input.shape[:start] + (merged,) + input.shape[end + 1:])


def unsqueeze(input: Tensor, dim: int) -> Tensor:
    """Insert a size-1 dim at position ``dim`` (in [-ndim-1, ndim]): (3, 4) with dim=1
    -> (3, 1, 4)."""
    require_tensor(input, "unsqueeze")
    axis = single_dim(dim, input.ndim, "unsqueeze", extra=1)
    return reshape(input, input.shape[:axis] + (1,) + input.shape[axis:])


def squeeze(input: Tensor, dim=None) -> Tensor:
    """Remove size-1 dims (all of them, or those in ``dim``; others are left alone):
    (3, 1, 4, 1) -> (3, 4), or (3, 4, 1) with dim=1."""
    require_tensor(input, "squeeze")
    axes = normalize_dims(dim, input.ndim, "squeeze")
    if axes is None:
        axes = range(input.ndim)
    drop = {axis for axis in axes if input.shape[axis] == 1}
    kept = tuple(size for axis, size in enumerate(input.shape) if axis not in drop)
    return reshape(input, kept)


def expand(input: Tensor, *sizes) -> Tensor:
    """Broadcast to a larger shape without copying (-1 keeps a size).

    Shapes: (3, 1) expanded to (2, 3, 4) -> (2, 3, 4); sizes may be one tuple.
    """
    require_tensor(input, "expand")
    sizes = _shape_from_args(sizes)
    if len(sizes) < input.ndim:
        raise ValueError(f"expand(): the target shape {sizes} has fewer dims than the tensor "
                         f"(shape {input.shape})")
    lead = len(sizes) - input.ndim
    target = tuple(input.shape[i - lead] if size == -1 and i >= lead else size
                   for i, size in enumerate(sizes))
    try:
        out = np.broadcast_to(input._data, target)
    except ValueError:
        raise ValueError(f"expand(): cannot expand shape {input.shape} to {sizes}: only size-1 "
                         "dims can grow") from None

    def backward(grad):
        from ._util import unbroadcast
        return (unbroadcast(grad, input.shape),)

    return _view(Tensor._from_op(out, (input,), backward, "expand", saved=()), input)


# --------------------------------------------------------------------------
# indexing
# --------------------------------------------------------------------------
def _plain_index(index) -> tuple:
    """Tensors inside an index -> their arrays; always a tuple."""
    if not isinstance(index, tuple):
        index = (index,)
    return tuple(i._data if isinstance(i, Tensor) else i for i in index)


def _is_basic(index: tuple) -> bool:
    """True for ints/slices/None/Ellipsis only: no entry can be picked twice."""
    return all(i is None or i is Ellipsis or isinstance(i, (slice, int, np.integer))
               and not isinstance(i, bool) for i in index)


def getitem(input: Tensor, index) -> Tensor:
    """``input[index]`` with slices, integers, None, Ellipsis and integer/bool arrays.

    Basic indexing returns a view and its backward writes the gradient into
    the selected region. Advanced (array) indexing can pick one entry several
    times (``input[[0, 0]]``), so its backward scatter-adds with ``np.add.at``:
    both picks contribute.
    """
    require_tensor(input, "getitem")
    index = _plain_index(index)
    try:
        out = input._data[index]
    except IndexError as error:
        raise IndexError(f"getitem(): index {index!r} does not fit a tensor of shape "
                         f"{input.shape}: {error}") from None
    basic = _is_basic(index)
    if not basic:
        out = np.asarray(out)

    def backward(grad):
        full = np.zeros_like(input._data)
        if basic:
            full[index] = grad
        else:
            np.add.at(full, index, grad)
        return (full,)

    return _view(Tensor._from_op(np.asarray(out), (input,), backward, "getitem", saved=()),
                 input)


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


def _joined_dtype(tensors) -> np.dtype:
    """The dtype of cat/stack by PyTorch's promotion: the highest category (bool < int <
    float) wins, then the widest dtype within it; float32 with int64 is float32 (NumPy's
    concatenate would give float64)."""
    top = max(_CATEGORY.get(t.dtype.kind, 3) for t in tensors)
    return np.result_type(*[t.dtype for t in tensors if _CATEGORY.get(t.dtype.kind, 3) == top])


def cat(tensors, dim: int = 0, *, out=None) -> Tensor:
    """Join tensors along an existing dim; all other sizes must match.

    As PyTorch, a 1-D empty tensor (shape (0,)) is skipped whatever the others' shapes, so
    the loop ``acc = tensor([]); acc = cat([acc, row])`` works; it still takes part in
    the dtype.
    """
    if out is not None:
        return into(out, cat(tensors, dim))
    tensors = _check_tensor_list(tensors, "cat")
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise ValueError(f"cat(): zero-dimensional tensor (at position {i}) cannot be "
                             "concatenated. Hint: stack() makes a new dim, or unsqueeze(0) first.")
    kept = [i for i, t in enumerate(tensors) if t.shape != (0,)] or [0]  # positions joined
    first = tensors[kept[0]]
    axis = single_dim(dim, first.ndim, "cat")
    for i in kept:
        t = tensors[i]
        if t.ndim != first.ndim or any(t.shape[d] != first.shape[d]
                                       for d in range(first.ndim) if d != axis):
            raise ValueError(f"cat(): sizes must match except in dim {dim}, but tensor "
                             f"{kept[0]} has shape {first.shape} and tensor {i} has shape "
                             f"{t.shape}")
    result = np.concatenate([tensors[i]._data for i in kept], axis=axis,
                            dtype=_joined_dtype(tensors))
    bounds = np.cumsum([tensors[i].shape[axis] for i in kept])[:-1]

    def backward(grad):
        pieces = dict(zip(kept, np.split(grad, bounds, axis=axis)))
        return tuple(pieces.get(i, np.zeros((0,), grad.dtype)) if t.requires_grad else None
                     for i, t in enumerate(tensors))

    return Tensor._from_op(result, tuple(tensors), backward, "cat", saved=())


def stack(tensors, dim: int = 0) -> Tensor:
    """Join same-shaped tensors along a new dim inserted at ``dim``."""
    tensors = _check_tensor_list(tensors, "stack")
    first = tensors[0]
    axis = single_dim(dim, first.ndim, "stack", extra=1)
    for i, t in enumerate(tensors):
        if t.shape != first.shape:
            raise ValueError(f"stack(): every tensor must have the same shape, but tensor 0 "
                             f"has shape {first.shape} and tensor {i} has shape {t.shape}")
    out = np.stack([t._data for t in tensors], axis=axis, dtype=_joined_dtype(tensors))

    def backward(grad):
        return tuple(np.take(grad, i, axis=axis) if t.requires_grad else None
                     for i, t in enumerate(tensors))

    return Tensor._from_op(out, tuple(tensors), backward, "stack", saved=())


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


def pad(input: Tensor, pad, mode: str = "constant", value=None) -> Tensor:
    """Pad (or, with negative amounts, crop) ``input`` like ``F.pad``.

    ``mode``: 'constant' (fill with ``value``, default 0), 'reflect' (mirror
    without repeating the edge), 'replicate' (repeat the edge), 'circular'
    (wrap around).
    """
    require_tensor(input, "pad")
    pairs = _pad_pairs(input, pad)
    if mode == "constant":
        return _pad_constant(input, pairs, 0 if value is None else python_scalar(value))
    if mode not in _NUMPY_PAD_MODE:
        raise ValueError(f"pad(): unknown mode {mode!r}; expected 'constant', 'reflect', "
                         "'replicate' or 'circular'")
    if value not in (None, 0):
        raise ValueError(f"pad(): value= is only used by mode='constant', not {mode!r}")
    for axis, (before, after) in enumerate(pairs):
        size = input.shape[axis]
        if size + before + after < 0:
            raise ValueError(f"pad(): padding ({before}, {after}) would give dim {axis} a "
                             f"negative size (input shape {input.shape})")
        if mode == "circular":  # wraps around what is left after cropping
            size += min(before, 0) + min(after, 0)
        before, after = max(before, 0), max(after, 0)  # a negative amount crops: no limit
        if mode == "reflect" and (before >= size or after >= size) and (before or after):
            raise ValueError(f"pad(): reflect padding ({before}, {after}) must be smaller than "
                             f"the size {size} of dim {axis} (input shape {input.shape})")
        if mode == "circular" and (before > size or after > size):
            raise ValueError(f"pad(): circular padding ({before}, {after}) can be at most the "
                             f"size {size} of dim {axis} after cropping (input shape "
                             f"{input.shape})")
    return _pad_by_index(input, pairs, _NUMPY_PAD_MODE[mode])


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
    out = np.full(out_shape, value, dtype=a._data.dtype)
    out[target] = a._data[source]

    def backward(grad):
        full = np.zeros_like(a._data)
        full[source] = grad[target]
        return (full,)

    return Tensor._from_op(out, (a,), backward, "pad", saved=())


def _pad_by_index(a: Tensor, pairs: list, numpy_mode: str) -> Tensor:
    """Non-constant modes: each output position copies some input position.

    A negative amount crops. As in PyTorch, 'reflect' and 'replicate' pad from the
    uncropped input and crop after; 'circular' crops first and wraps what is left.
    """
    def source_positions(size, before, after):  # which input position each output copies
        crop_before, crop_after = max(-before, 0), max(-after, 0)
        grow = (max(before, 0), max(after, 0))
        if numpy_mode == "wrap":
            return np.pad(np.arange(crop_before, size - crop_after), grow, mode="wrap")
        padded = np.pad(np.arange(size), grow, mode=numpy_mode)
        return padded[crop_before:len(padded) - crop_after]

    sources = {axis: source_positions(a.shape[axis], *pair)
               for axis, pair in enumerate(pairs) if pair != (0, 0)}
    out = a._data
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

    return Tensor._from_op(np.array(out, copy=len(sources) == 0), (a,), backward, "pad",
                           saved=())


# --------------------------------------------------------------------------
# splitting, repeating, triangles
# --------------------------------------------------------------------------
def split(input: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """Pieces of ``input`` along ``dim``: of ``split_size`` each (the last may be smaller),
    or of the sizes listed. Each piece is a slice, so gradients flow back through getitem."""
    require_tensor(input, "split")
    axis = single_dim(dim, input.ndim, "split")
    size = input.shape[axis]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = [int(s) for s in split_size_or_sections]
        if sum(sizes) != size:
            raise ValueError(f"split(): sizes {sizes} must add up to {size}, the size of dim "
                             f"{dim} (input shape {input.shape})")
    else:
        step = int(split_size_or_sections)
        if step <= 0:
            raise ValueError(f"split(): split_size must be positive, got {step}")
        sizes = [min(step, size - start) for start in range(0, size, step)]
    bounds = np.cumsum([0] + sizes)
    lead = (slice(None),) * axis
    return tuple(input[lead + (slice(int(a), int(b)),)] for a, b in zip(bounds[:-1], bounds[1:]))


def chunk(input: Tensor, chunks: int, dim: int = 0) -> tuple:
    """``chunks`` pieces along ``dim`` of ceil(size / chunks) entries (maybe fewer pieces)."""
    require_tensor(input, "chunk")
    if chunks <= 0:
        raise ValueError(f"chunk(): chunks must be positive, got {chunks}")
    size = input.shape[single_dim(dim, input.ndim, "chunk")]
    return split(input, max(-(-size // chunks), 1), dim)


def repeat(input: Tensor, *sizes) -> Tensor:
    """Tile ``input``: (2, 3) repeated (2, 1) -> (4, 3). Each entry is used several times,
    so its gradient is the sum over its copies."""
    require_tensor(input, "repeat")
    reps = _shape_from_args(sizes)
    if len(reps) < input.ndim:
        raise ValueError(f"repeat(): give at least one repeat count per dim: {len(reps)} for a "
                         f"tensor of shape {input.shape}")
    shape = (1,) * (len(reps) - input.ndim) + input.shape  # leading new dims, as PyTorch
    out = np.tile(input._data.reshape(shape), reps)

    def backward(grad):
        # view the output as (r0, s0, r1, s1, ...) and sum over the repeat axes
        paired = grad.reshape([n for r, s in zip(reps, shape) for n in (r, s)])
        return (paired.sum(axis=tuple(range(0, 2 * len(reps), 2))).reshape(input.shape),)

    return Tensor._from_op(out, (input,), backward, "repeat", saved=())


def _triangle(input: Tensor, diagonal: int, lower: bool, name: str) -> Tensor:
    require_tensor(input, name)
    if input.ndim < 2:
        raise ValueError(f"{name}(): input must have at least 2 dims, got shape {input.shape}")
    rows, cols = input.shape[-2:]
    keep = (np.tri(rows, cols, diagonal, dtype=bool) if lower
            else ~np.tri(rows, cols, diagonal - 1, dtype=bool))
    out = np.where(keep, input._data, np.zeros((), dtype=input.dtype))

    def backward(grad):
        return (np.where(keep, grad, np.zeros((), dtype=grad.dtype)),)

    return Tensor._from_op(out, (input,), backward, name, saved=())


def tril(input: Tensor, diagonal: int = 0) -> Tensor:
    """Zero above the ``diagonal``-th diagonal of the last two dims (same shape)."""
    return _triangle(input, diagonal, True, "tril")


def triu(input: Tensor, diagonal: int = 0) -> Tensor:
    """Zero below the ``diagonal``-th diagonal of the last two dims (same shape)."""
    return _triangle(input, diagonal, False, "triu")


# --------------------------------------------------------------------------
# rearranging: each of these is one of the ops above with other arguments
# --------------------------------------------------------------------------
def flip(input: Tensor, dims) -> Tensor:
    """Reverse the order of entries along each dim in ``dims``: input[..., ::-1, ...]
    (a copy in PyTorch; the backward flips the gradient back, as getitem's does)."""
    require_tensor(input, "flip")
    axes = normalize_dims(dims, input.ndim, "flip") or ()
    index = tuple(slice(None, None, -1) if axis in axes else slice(None)
                  for axis in range(input.ndim))
    return getitem(input, index).clone()


def fliplr(input: Tensor) -> Tensor:
    """flip(input, 1): left-right for a matrix (at least 2 dims)."""
    if getattr(input, "ndim", 0) < 2:
        raise ValueError(f"fliplr(): the input must have at least 2 dims, got shape "
                         f"{getattr(input, 'shape', None)}")
    return flip(input, (1,))


def flipud(input: Tensor) -> Tensor:
    """flip(input, 0): up-down (at least 1 dim)."""
    if getattr(input, "ndim", 0) < 1:
        raise ValueError("flipud(): the input must have at least 1 dim, got a 0-d tensor")
    return flip(input, (0,))


def roll(input: Tensor, shifts, dims=None) -> Tensor:
    """Shift entries along ``dims`` by ``shifts``, wrapping around: roll([1, 2, 3], 1) ->
    [3, 1, 2]. With ``dims=None`` the flattened tensor is rolled (shape kept)."""
    require_tensor(input, "roll")
    if dims is None:
        if isinstance(shifts, (tuple, list)) and len(shifts) != 1:
            raise ValueError(f"roll(): without dims, give one shift, got {shifts}")
        shift = shifts[0] if isinstance(shifts, (tuple, list)) else shifts
        out = np.roll(input._data, shift)

        def backward(grad):
            return (np.roll(grad, -shift),)  # roll back by the same amount
    else:
        shift_list = tuple(shifts) if isinstance(shifts, (tuple, list)) else (shifts,)
        dim_list = tuple(dims) if isinstance(dims, (tuple, list)) else (dims,)
        if len(shift_list) != len(dim_list):
            raise ValueError(f"roll(): shifts {shifts} and dims {dims} must have the same "
                             f"length (one shift per dim)")
        axes = tuple(single_dim(d, input.ndim, "roll") for d in dim_list)
        out = np.roll(input._data, shift_list, axes)

        def backward(grad):
            return (np.roll(grad, tuple(-s for s in shift_list), axes),)

    return Tensor._from_op(out, (input,), backward, "roll", saved=())


def narrow(input: Tensor, dim: int, start: int, length: int) -> Tensor:
    """``length`` entries along ``dim`` from ``start`` (a view, as input[:, start:start+length])."""
    require_tensor(input, "narrow")
    axis = single_dim(dim, input.ndim, "narrow")
    size = input.shape[axis]
    start = int(start) + (size if int(start) < 0 else 0)
    if not 0 <= start <= size or length < 0 or start + length > size:
        raise IndexError(f"narrow(): start {start} and length {length} do not fit dim {dim} "
                         f"of size {size} (shape {input.shape})")
    return getitem(input, (slice(None),) * axis + (slice(start, start + length),))


def movedim(input: Tensor, source, destination) -> Tensor:
    """Move dim(s) ``source`` to position(s) ``destination``, the others keeping their
    order: (2, 3, 4) with movedim(0, -1) -> (3, 4, 2). A permute."""
    require_tensor(input, "movedim")
    sources = tuple(source) if isinstance(source, (tuple, list)) else (source,)
    targets = tuple(destination) if isinstance(destination, (tuple, list)) else (destination,)
    if len(sources) != len(targets):
        raise ValueError(f"movedim(): source {source} and destination {destination} must "
                         f"name as many dims")
    sources = [single_dim(d, input.ndim, "movedim") for d in sources]
    targets = [single_dim(d, input.ndim, "movedim") for d in targets]
    if len(set(sources)) != len(sources) or len(set(targets)) != len(targets):
        raise ValueError(f"movedim(): repeated dim in source {source} or destination "
                         f"{destination}")
    order = [d for d in range(input.ndim) if d not in sources]
    for target, source_dim in sorted(zip(targets, sources)):
        order.insert(target, source_dim)
    return permute(input, tuple(order))


def swapaxes(input: Tensor, axis0: int, axis1: int) -> Tensor:
    """transpose(input, axis0, axis1) (NumPy's name; PyTorch has both)."""
    return transpose(input, axis0, axis1)


swapdims = swapaxes


def t(input: Tensor) -> Tensor:
    """Transpose a matrix (2 dims); 0-d and 1-d tensors come back as they are."""
    require_tensor(input, "t")
    if input.ndim > 2:
        raise ValueError(f"t(): expects a tensor with at most 2 dims, got shape {input.shape}. "
                         f"Hint: transpose(x, d0, d1) or x.mT for batches of matrices.")
    return transpose(input, 0, 1) if input.ndim == 2 else input


def tile(input: Tensor, dims) -> Tensor:
    """repeat, where fewer counts than dims are padded with 1s in front (NumPy's tile)."""
    require_tensor(input, "tile")
    reps = _shape_from_args((dims,))
    return repeat(input, (1,) * (input.ndim - len(reps)) + tuple(reps))


def broadcast_to(input: Tensor, size) -> Tensor:
    """expand(input, size): the gradient of the copies is summed back."""
    return expand(require_tensor(input, "broadcast_to"), size)


def ravel(input: Tensor) -> Tensor:
    """The entries as one dim, in row-major order (reshape(-1))."""
    return reshape(require_tensor(input, "ravel"), -1)


def unbind(input: Tensor, dim: int = 0) -> tuple:
    """The slices along ``dim``, that dim removed: (3, 4) with dim 0 -> three (4,) tensors."""
    require_tensor(input, "unbind")
    axis = single_dim(dim, input.ndim, "unbind")
    if input.ndim == 0:
        raise ValueError("unbind(): a 0-d tensor has no dim to unbind")
    return tuple(getitem(input, (slice(None),) * axis + (i,)) for i in range(input.shape[axis]))


def hstack(tensors) -> Tensor:
    """Join side by side: along dim 1, or dim 0 for 1-D tensors (as NumPy's hstack)."""
    tensors = _check_tensor_list(tensors, "hstack")
    return cat(tensors, 0 if tensors[0].ndim == 1 else 1)


def vstack(tensors) -> Tensor:
    """Join one above the other along dim 0, 1-D tensors becoming rows."""
    tensors = _check_tensor_list(tensors, "vstack")
    return cat([t.reshape(1, -1) if t.ndim == 1 else t for t in tensors], 0)


row_stack = vstack


def diagonal(input: Tensor, offset: int = 0, dim1: int = 0, dim2: int = 1) -> Tensor:
    """The entries input[i, i + offset] (over dims dim1, dim2), as a last dim.
    Shapes: (n, m) -> (number of such i,); (b, n, n) with dim1=1, dim2=2 -> (b, n)."""
    require_tensor(input, "diagonal")
    if input.ndim < 2:
        raise ValueError(f"diagonal(): needs at least 2 dims, got shape {input.shape}. "
                         f"Hint: diag(v) builds a matrix from a vector.")
    axis1 = single_dim(dim1, input.ndim, "diagonal")
    axis2 = single_dim(dim2, input.ndim, "diagonal")
    if axis1 == axis2:
        raise ValueError(f"diagonal(): dim1 and dim2 must differ, both are {axis1}")
    out = np.diagonal(input._data, offset, axis1, axis2).copy()
    length = out.shape[-1]
    # entry i of the diagonal sits at row i + max(-offset, 0), column i + max(offset, 0)
    rows = np.arange(length) + max(-offset, 0)
    cols = np.arange(length) + max(offset, 0)

    def backward(grad):
        full = np.zeros_like(input._data)
        # a view with dim1, dim2 last (the other dims keep their order, as in np.diagonal)
        np.moveaxis(full, (axis1, axis2), (-2, -1))[..., rows, cols] = grad
        return (full,)

    return Tensor._from_op(out, (input,), backward, "diagonal", saved=())


_diagonal = diagonal  # (diag's argument is called diagonal, as PyTorch's)


def diag(input: Tensor, diagonal: int = 0) -> Tensor:
    """From a vector (n,): the matrix with it on diagonal ``diagonal``; from a matrix: its
    diagonal ``diagonal`` as a vector (as NumPy's diag)."""
    require_tensor(input, "diag")
    if input.ndim == 2:
        return _diagonal(input, diagonal)
    if input.ndim != 1:
        raise ValueError(f"diag(): expects a vector or a matrix, got shape {input.shape}")
    out = np.diag(input._data, diagonal)

    def backward(grad):
        return (np.diag(grad, diagonal).copy(),)

    return Tensor._from_op(out, (input,), backward, "diag", saved=())


def diff(input: Tensor, n: int = 1, dim: int = -1, prepend=None, append=None) -> Tensor:
    """Differences of neighbours along ``dim``, ``n`` times: x[1:] - x[:-1] (the dim
    shrinks by n). ``prepend``/``append`` are joined to ``input`` first."""
    require_tensor(input, "diff")
    if input.ndim == 0:
        raise ValueError("diff(): needs at least one dim, got a 0-d tensor")
    axis = single_dim(dim, input.ndim, "diff")
    parts = [p for p in (prepend, input, append) if p is not None]
    out = cat(parts, axis) if len(parts) > 1 else input
    for _ in range(n):
        later = (slice(None),) * axis + (slice(1, None),)
        earlier = (slice(None),) * axis + (slice(None, -1),)
        out = getitem(out, later) - getitem(out, earlier)
    return out
