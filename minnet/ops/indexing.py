"""Picking entries by an index tensor: gather, scatter, index_select, masked_select, take.

Each backward sends the gradient back to the entries that were picked. An entry picked
twice receives both gradients, so the backwards *add* into place (``np.add.at``, or the
compiled scatter-add for whole rows) instead of assigning, which would keep only one.
"""
from __future__ import annotations

import numpy as np

from .. import kernels
from ..tensor import Tensor
from ._util import require_tensor, single_dim, unbroadcast


def _index_array(index, fn_name: str) -> np.ndarray:
    data = index._data if isinstance(index, Tensor) else np.asarray(index)
    if data.dtype.kind not in "iu":
        raise TypeError(f"{fn_name}(): index must hold integers (int64), got dtype {data.dtype}. "
                        f"Hint: labels.long() or minnet.tensor(indices, dtype=minnet.int64).")
    return data


def _check_bounds(index: np.ndarray, size: int, fn_name: str, what: str) -> None:
    if index.size and (index.min() < 0 or index.max() >= size):
        bad = index.min() if index.min() < 0 else index.max()
        raise IndexError(f"{fn_name}(): index {int(bad)} is out of bounds for {what} of size "
                         f"{size} (valid: 0 to {size - 1}).")


def _along_dim(index: np.ndarray, dim: int) -> tuple:
    """The full coordinates that ``index`` (indices along ``dim``) points at: a tuple of one
    integer array per dim, each of index's shape, for np.add.at and fancy indexing."""
    grid = list(np.indices(index.shape, sparse=True))
    grid[dim] = index
    return tuple(grid)


def _check_gather_shapes(x: np.ndarray, index: np.ndarray, dim: int, fn_name: str) -> None:
    if index.ndim != x.ndim:
        raise ValueError(f"{fn_name}(): index must have as many dims as the input ({x.ndim}), "
                         f"got shape {index.shape} for input {x.shape}. Hint: "
                         f"labels.unsqueeze(1) turns (N,) labels into the (N, 1) index of "
                         f"gather(1, ...).")
    for d in range(x.ndim):
        if d != dim and index.shape[d] > x.shape[d]:
            raise ValueError(f"{fn_name}(): index shape {index.shape} is larger than the input "
                             f"{x.shape} in dim {d} (only dim {dim} may differ).")
    _check_bounds(index, x.shape[dim] if x.ndim else 1, fn_name, f"dim {dim}")


def gather(input: Tensor, dim: int, index) -> Tensor:
    """out[i][j] = input[index[i][j]][j] for dim 0, input[i][index[i][j]] for dim 1, ...

    Shapes: index has input's number of dims; the output has index's shape. The classic
    use: the score of each sample's label, ``logits.gather(1, labels.unsqueeze(1))`` (N, 1).
    """
    require_tensor(input, "gather")
    index = _index_array(index, "gather")
    if input.ndim == 0 and index.ndim == 0:  # a 0-d tensor is its own one-entry row
        return gather(input.reshape(1), dim, index.reshape(1)).reshape(())
    x = input._data
    dim = single_dim(dim, x.ndim, "gather")
    _check_gather_shapes(x, index, dim, "gather")
    where = _along_dim(index, dim)
    out = x[where]

    def backward(grad):
        full = np.zeros_like(x)
        np.add.at(full, where, grad)  # a twice-gathered entry gets both gradients
        return (full,)

    return Tensor._from_op(out, (input,), backward, "gather", saved=())


def scatter(input: Tensor, dim: int, index, src=None, *, value=None, reduce=None) -> Tensor:
    """A copy of ``input`` with ``src[i][j]`` written to row ``index[i][j]`` (dim 0; the
    same pattern as gather, the other way). ``src`` may be a number (or pass ``value=``).

    Where ``index`` names one place twice, which write wins is unspecified (PyTorch says
    the same); the gradient goes to the place's final value only through the input's
    other entries and to ``src`` by gathering.
    """
    if reduce is not None:
        raise ValueError(f"scatter(): reduce={reduce!r} is not supported by minnet. Hint: "
                         f"scatter_add adds the values; PyTorch deprecates reduce here too.")
    require_tensor(input, "scatter")
    if src is None:
        src = value
    if src is None:
        raise TypeError("scatter(): give the values to write, as src (a Tensor) or value "
                        "(a number).")
    src_is_tensor = isinstance(src, Tensor)
    where, used = _scatter_places(input, dim, index, src if src_is_tensor else None, "scatter")
    out = input._data.copy()
    out[where] = src._data[used] if src_is_tensor else src

    def backward(grad):
        grad_input = grad.copy()
        grad_input[where] = 0  # overwritten entries do not depend on the input
        if not src_is_tensor:
            return (grad_input,)
        grad_src = np.zeros_like(src._data)
        grad_src[used] = grad[where]
        return grad_input, grad_src

    parents = (input, src) if src_is_tensor else (input,)
    return Tensor._from_op(out, parents, backward, "scatter", saved=())


def _scatter_places(input: Tensor, dim: int, index, src: Tensor, fn_name: str) -> tuple:
    """scatter's and scatter_add's checks; (where: the places written, used: the part of
    ``src`` that is written, index's shape from its corner)."""
    x = input._data
    if x.ndim == 0:
        raise ValueError(f"{fn_name}(): the input is 0-d; there is no dim to write along. "
                         f"Hint: reshape it to (1,) first.")
    dim = single_dim(dim, x.ndim, fn_name)
    index = _index_array(index, fn_name)
    _check_gather_shapes(x, index, dim, fn_name)
    if src is not None and (src.ndim != index.ndim or any(
            s < i for s, i in zip(src.shape, index.shape))):
        raise ValueError(f"{fn_name}(): src must have index's number of dims and be at least "
                         f"as large in each, got src {src.shape} and index {index.shape}.")
    return _along_dim(index, dim), tuple(slice(0, n) for n in index.shape)


def scatter_add(input: Tensor, dim: int, index, src: Tensor) -> Tensor:
    """A copy of ``input`` with ``src[i][j]`` added to row ``index[i][j]`` (dim 0; places
    named twice get both). Shapes as ``scatter``."""
    require_tensor(input, "scatter_add")
    require_tensor(src, "scatter_add", "src")
    where, used = _scatter_places(input, dim, index, src, "scatter_add")
    out = input._data.copy()
    np.add.at(out, where, src._data[used])

    def backward(grad):
        grad_src = np.zeros_like(src._data)
        grad_src[used] = grad[where]  # d out[where] / d src = 1
        return grad, grad_src

    return Tensor._from_op(out, (input, src), backward, "scatter_add", saved=())


def index_select(input: Tensor, dim: int, index) -> Tensor:
    """The slices ``index`` (1-D integers) of ``input`` along ``dim``, in that order.
    Shape: input's, with dim ``dim`` of size len(index)."""
    require_tensor(input, "index_select")
    x = input._data
    dim = single_dim(dim, max(x.ndim, 1), "index_select")
    index = _index_array(index, "index_select")
    if index.ndim > 1:
        raise ValueError(f"index_select(): index must be 1-D, got shape {index.shape}. "
                         f"Hint: gather picks a different entry per position.")
    index = index.reshape(-1)
    _check_bounds(index, x.shape[dim] if x.ndim else 1, "index_select", f"dim {dim}")
    out = np.take(x, index, axis=dim) if x.ndim else x.reshape(1)[index].reshape(())

    def backward(grad):
        if not x.ndim:
            return (np.asarray(grad.sum(), dtype=x.dtype),)
        # the same rows picked twice add up: scatter-add along dim, moved to the front
        moved = kernels.scatter_add(np.moveaxis(x, dim, 0).shape, index,
                                    np.ascontiguousarray(np.moveaxis(grad, dim, 0)))
        return (np.moveaxis(moved, 0, dim),)

    return Tensor._from_op(out, (input,), backward, "index_select", saved=())


def masked_select(input: Tensor, mask) -> Tensor:
    """The entries of ``input`` where ``mask`` (bool, broadcast with input) is True, as a
    1-D tensor in row-major order."""
    require_tensor(input, "masked_select")
    m = mask._data if isinstance(mask, Tensor) else np.asarray(mask)
    if m.dtype != np.bool_:
        raise TypeError(f"masked_select(): mask must be a bool tensor, got dtype {m.dtype}. "
                        f"Hint: x > 0 gives one.")
    try:
        x_full, m_full = np.broadcast_arrays(input._data, m)
    except ValueError:
        raise ValueError(f"masked_select(): mask shape {m.shape} cannot be broadcast with "
                         f"the input's {input.shape}.") from None
    out = x_full[m_full]

    def backward(grad):
        full = np.zeros(x_full.shape, dtype=grad.dtype)
        full[m_full] = grad
        return (unbroadcast(full, input.shape),)  # entries repeated by broadcasting add up

    return Tensor._from_op(out, (input,), backward, "masked_select", saved=())


def take(input: Tensor, index) -> Tensor:
    """Entries of the flattened ``input`` at ``index``; the output has index's shape."""
    require_tensor(input, "take")
    x = input._data
    index = _index_array(index, "take")
    if index.size and (index.min() < -x.size or index.max() >= x.size):
        bad = index.min() if index.min() < -x.size else index.max()
        raise IndexError(f"take(): index {int(bad)} is out of bounds for a tensor of "
                         f"{x.size} entries (shape {x.shape}).")
    flat_index = np.where(index < 0, index + x.size, index)
    out = x.reshape(-1)[flat_index]

    def backward(grad):
        flat = np.zeros(x.size, dtype=x.dtype)
        np.add.at(flat, flat_index, grad)
        return (flat.reshape(x.shape),)

    return Tensor._from_op(out, (input,), backward, "take", saved=())


def nonzero(input: Tensor, *, as_tuple: bool = False):
    """Where ``input`` is non-zero: an (n, ndim) int64 tensor of coordinates, or with
    ``as_tuple=True`` one 1-D index tensor per dim (NumPy's ``np.nonzero``)."""
    require_tensor(input, "nonzero")
    coordinates = np.nonzero(np.atleast_1d(input._data))
    if as_tuple:
        return tuple(Tensor(c.astype(np.int64)) for c in coordinates)
    stacked = np.stack(coordinates, axis=1) if input.ndim else \
        np.zeros((len(coordinates[0]), 0), np.int64)
    return Tensor(stacked.astype(np.int64))
