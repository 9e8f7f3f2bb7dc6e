"""``torch.utils.data`` for minnet: ``from minnet.utils.data import DataLoader, TensorDataset``.

The classes live in ``minnet.data`` (with minnet's own extras: synthetic data sets,
scalers, the digits); this module gives them PyTorch's import path, so tutorial code
runs with ``torch`` renamed to ``minnet`` and never silently picks up real PyTorch.
Samplers are iterables of indices, as in PyTorch.
"""
from __future__ import annotations

from typing import Iterator, Optional, Sized

from ..data.dataset import (ConcatDataset, Dataset, IterableDataset, Subset, TensorDataset,
                            random_split)
from ..data.loader import DataLoader, default_collate
from ..data.sampler import BatchSampler, SubsetRandomSampler, WeightedRandomSampler
from ..random import get_generator

__all__ = ["DataLoader", "Dataset", "TensorDataset", "Subset", "ConcatDataset", "random_split",
           "default_collate", "Sampler", "SequentialSampler", "RandomSampler",
           "get_worker_info", "IterableDataset", "BatchSampler", "SubsetRandomSampler",
           "WeightedRandomSampler"]


class Sampler:
    """Base class: an iterable of dataset indices (``__iter__``) with a ``__len__``."""

    def __init__(self, data_source: Optional[Sized] = None):
        self.data_source = data_source

    def __iter__(self) -> Iterator[int]:
        raise NotImplementedError(f"{type(self).__name__} must define __iter__")

    def __len__(self) -> int:
        return len(self.data_source)


class SequentialSampler(Sampler):
    """0, 1, ..., len(data_source) - 1."""

    def __iter__(self) -> Iterator[int]:
        return iter(range(len(self.data_source)))


class RandomSampler(Sampler):
    """A fresh random order of the indices at every pass (``generator=`` makes it repeatable)."""

    def __init__(self, data_source: Sized, replacement: bool = False,
                 num_samples: Optional[int] = None, generator=None):
        super().__init__(data_source)
        self.replacement = replacement
        self.num_samples = len(data_source) if num_samples is None else int(num_samples)
        self.generator = generator

    def __iter__(self) -> Iterator[int]:
        rng = get_generator(self.generator)
        n = len(self.data_source)
        if self.replacement:  # drawn in chunks: num_samples may be huge (an endless loader)
            return (int(i) for start in range(0, self.num_samples, 4096)
                    for i in rng.integers(0, n, min(4096, self.num_samples - start)))
        return iter(rng.permutation(n)[:self.num_samples].tolist())

    def __len__(self) -> int:
        return self.num_samples


def get_worker_info():
    """None: minnet loads data in the main process (there are no worker processes)."""
    return None
