"""Datasets: things you can index to get one sample, as in ``torch.utils.data``.

A `Dataset` says how many samples there are (``len(ds)``) and what sample ``i`` is
(``ds[i]``); a `DataLoader` (``loader.py``) uses that to build shuffled mini-batches.
Array-backed datasets (`TensorDataset` and its `Subset`s) also offer ``get_batch(indices)``:
one fancy-indexing operation per array instead of one Python call per sample, which the
DataLoader uses when it exists.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..random import get_generator
from ..tensor import Tensor, wrap_array


def as_data_array(data, where: str) -> np.ndarray:
    """Turn user data (ndarray, Tensor, list) into an ndarray with minnet's dtype rules.

    float64 stays float64 and float32 stays float32 (as ``torch.tensor`` does
    for NumPy arrays); other floats and Python floats become float32; every
    integer type becomes int64 (what ``cross_entropy`` expects for labels);
    booleans stay booleans. ``where`` names the caller for error messages.
    """
    came_from_python = not isinstance(data, (np.ndarray, Tensor))
    array = data._data if isinstance(data, Tensor) else np.asarray(data)
    kind = array.dtype.kind
    if kind == "f":
        keep = array.dtype in (np.float32, np.float64) and not came_from_python
        return array if keep else array.astype(np.float32)
    if kind in "iu":
        return array if array.dtype == np.int64 else array.astype(np.int64)
    if kind == "b":
        return array
    raise TypeError(f"{where}: cannot use data of dtype {array.dtype} "
                    f"(type {type(data).__name__}). Hint: pass numeric NumPy arrays or Tensors.")


def as_batch_tensor(array: np.ndarray) -> Tensor:
    """Wrap a freshly gathered batch array as a Tensor without another copy."""
    return wrap_array(as_data_array(array, "DataLoader"))


class Dataset:
    """Base class: subclasses define ``__len__`` and ``__getitem__(index)``.

    ``__getitem__`` returns one sample, usually a tuple ``(features, label)``
    of arrays, numbers or Tensors; the DataLoader stacks samples into batches.
    """

    def __getitem__(self, index):
        raise NotImplementedError(
            f"{type(self).__name__} must define __getitem__(self, index) returning one sample")

    def __len__(self) -> int:
        raise NotImplementedError(
            f"{type(self).__name__} must define __len__(self) returning the number of samples")



class IterableDataset:
    """Base class for a stream of samples: subclasses define ``__iter__`` (no indexing,
    and ``__len__`` only if they know it), e.g. lines read from a file one at a time.

    A DataLoader reads the stream in order and batches consecutive samples; it cannot
    shuffle it or use a sampler (shuffle in ``__iter__`` instead).
    """

    def __iter__(self):
        raise NotImplementedError(
            f"{type(self).__name__} must define __iter__(self) yielding samples")

class TensorDataset(Dataset):
    """Samples made of rows of arrays: ``ds[i] == (a[i], b[i], ...)``.

    Args:
        *tensors: NumPy arrays or Tensors (or nested lists), all with the same first
            dimension ``N``, e.g. ``X`` (N, D) and ``y`` (N,). Floating arrays keep
            float32/float64, integer arrays become int64; arrays already of those
            dtypes are stored, not copied.
    """

    def __init__(self, *tensors):
        if not tensors:
            raise ValueError("TensorDataset: give at least one array, e.g. TensorDataset(X, y)")
        arrays = [as_data_array(t, f"TensorDataset (argument {i})") for i, t in enumerate(tensors)]
        for i, array in enumerate(arrays):
            if array.ndim == 0:
                raise ValueError(f"TensorDataset: argument {i} is a scalar (shape ()); every "
                                 "argument needs a first dimension that indexes samples")
        lengths = [len(a) for a in arrays]
        if len(set(lengths)) != 1:
            shapes = ", ".join(f"argument {i}: shape {a.shape}" for i, a in enumerate(arrays))
            raise ValueError(
                f"TensorDataset: all arrays must have the same length (first dimension), got "
                f"lengths {lengths} ({shapes}). Hint: features and labels must describe the "
                "same samples, in the same order.")
        self.arrays = tuple(arrays)

    @property
    def tensors(self) -> tuple:
        """The stored data as Tensors (PyTorch's attribute name); they share memory."""
        return tuple(wrap_array(a) for a in self.arrays)

    def __len__(self) -> int:
        return len(self.arrays[0])

    def __getitem__(self, index):
        """One sample ``(a[i], b[i], ...)``; a slice, list or Tensor of indices gives the
        rows as one Tensor per array, as PyTorch (``ds[:5]`` -> ``(X[:5], y[:5])``)."""
        if isinstance(index, (slice, list, np.ndarray, Tensor)):
            rows = index._data if isinstance(index, Tensor) else index
            return tuple(Tensor(np.asarray(a[rows])) for a in self.arrays)
        index = check_index(index, len(self), "TensorDataset")
        # np.asarray keeps a float64 scalar row float64 (Tensor() would make it float32).
        return tuple(Tensor(np.asarray(a[index])) for a in self.arrays)

    def get_batch(self, indices: np.ndarray) -> list:
        """The samples at ``indices`` (1-D int array), one Tensor per stored array."""
        return [as_batch_tensor(a[indices]) for a in self.arrays]


class Subset(Dataset):
    """The samples of ``dataset`` at positions ``indices`` (a view, no copy)."""

    def __init__(self, dataset: Dataset, indices: Sequence[int]):
        self.dataset = dataset
        self.indices = np.asarray(indices, dtype=np.int64).reshape(-1)
        n = len(dataset)
        if self.indices.size and (self.indices.min() < -n or self.indices.max() >= n):
            raise IndexError(f"Subset: indices must lie in [0, {n}) for a dataset of length {n}, "
                             f"got values from {self.indices.min()} to {self.indices.max()}")
        if hasattr(dataset, "get_batch"):
            # Offer the fast batch path only when the wrapped dataset has one.
            self.get_batch = lambda indices: dataset.get_batch(self.indices[indices])

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index):
        index = check_index(index, len(self), "Subset")
        return self.dataset[int(self.indices[index])]


def random_split(dataset: Dataset, lengths: Sequence[int], seed=None, generator=None) -> list:
    """Split ``dataset`` into non-overlapping random `Subset`s of the given lengths.

    ``lengths`` are counts that add up to ``len(dataset)`` or fractions that add
    up to 1 (the leftover samples from rounding go to the first subsets, one each).
    """
    n = len(dataset)
    lengths = list(lengths)
    if lengths and all(isinstance(x, float) for x in lengths) and abs(sum(lengths) - 1) < 1e-6:
        counts = [int(np.floor(n * frac)) for frac in lengths]
        for i in range(n - sum(counts)):
            counts[i % len(counts)] += 1
        lengths = counts
    if any(int(x) != x or x < 0 for x in lengths) or sum(lengths) != n:
        raise ValueError(f"random_split: lengths must be non-negative counts summing to the "
                         f"dataset length {n} (or fractions summing to 1), got {lengths}")
    order = get_generator(generator, seed).permutation(n)
    ends = np.cumsum(lengths)
    return [Subset(dataset, order[end - length:end]) for end, length in zip(ends, lengths)]


def check_index(index, length: int, where: str) -> int:
    """Validate a single integer sample index (negative counts from the end)."""
    if isinstance(index, Tensor) and index.ndim == 0 and index.dtype.kind in "iu":
        index = int(index.item())  # a 0-d integer tensor, e.g. from torch.randint
    if isinstance(index, (bool, np.bool_)) or not isinstance(index, (int, np.integer)):
        raise TypeError(f"{where}: index must be an integer, got {type(index).__name__} "
                        f"{index!r}. Hint: use a DataLoader to get batches.")
    if not -length <= index < length:
        raise IndexError(f"{where}: index {index} is out of range for a dataset of length {length}")
    return int(index) % length


class ConcatDataset(Dataset):
    """The samples of several datasets one after the other (``torch.utils.data.ConcatDataset``)."""

    def __init__(self, datasets):
        self.datasets = list(datasets)
        if not self.datasets:
            raise ValueError("ConcatDataset: datasets should not be an empty iterable")
        self.cumulative_sizes = np.cumsum([len(d) for d in self.datasets]).tolist()

    def __len__(self) -> int:
        return self.cumulative_sizes[-1]

    def __getitem__(self, index):
        index = check_index(index, len(self), "ConcatDataset")
        which = int(np.searchsorted(self.cumulative_sizes, index, side="right"))
        start = self.cumulative_sizes[which - 1] if which else 0
        return self.datasets[which][index - start]
