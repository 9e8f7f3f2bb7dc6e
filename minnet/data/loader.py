"""DataLoader: turns a Dataset into (shuffled) mini-batches of Tensors.

One pass is one *epoch*: every sample appears exactly once. With ``shuffle=True``
each epoch draws a fresh order from the loader's generator: epochs differ, and two
loaders with the same ``seed`` give the same orders. Without ``seed``/``generator``
it draws from minnet's default generator, so ``minnet.manual_seed(n)`` makes runs
reproducible.
"""
from __future__ import annotations

import itertools
import math
import numbers
import warnings
from typing import Callable, Iterator, Optional

import numpy as np

from ..random import Generator, default_generator, get_generator
from ..tensor import Tensor
from .dataset import IterableDataset, as_batch_tensor, as_data_array


class DataLoader:
    """Iterate over ``dataset`` in batches of ``batch_size`` samples.

    Args:
        dataset: any object with ``__len__`` and ``__getitem__`` (a `Dataset`).
        batch_size: samples per batch (the last may be smaller); drop_last: skip it then.
        shuffle: a new random order every epoch (from seed / generator); sampler: an iterable
            of sample indices giving the order instead.
        collate_fn: samples -> batch; default `default_collate` (for `TensorDataset(X, y)`:
            ``[X_batch, y_batch]``, float32/float64, int64).
        batch_sampler: an iterable of index lists, one per batch (e.g. a `BatchSampler`),
            instead of batch_size/shuffle/sampler/drop_last.
        num_workers, pin_memory, timeout, worker_init_fn, persistent_workers,
            prefetch_factor, multiprocessing_context, pin_memory_device, in_order: accepted
            for PyTorch code and ignored (main process, CPU).
    """

    def __init__(self, dataset, batch_size: int = 1, shuffle: bool = False,
                 drop_last: bool = False, seed: Optional[int] = None,
                 generator: Optional[np.random.Generator] = None,
                 collate_fn: Optional[Callable] = None, sampler=None, num_workers: int = 0,
                 pin_memory: bool = False, timeout: float = 0, worker_init_fn=None,
                 persistent_workers: bool = False, prefetch_factor=None, batch_sampler=None,
                 multiprocessing_context=None, pin_memory_device: str = "",
                 in_order: bool = True):
        if isinstance(dataset, IterableDataset):
            if shuffle or sampler is not None or batch_sampler is not None:
                raise ValueError(f"DataLoader with IterableDataset: expected unspecified "
                                 f"shuffle, sampler and batch_sampler options (the stream "
                                 f"decides the order), got shuffle={shuffle}")
            _init_stream(self, dataset, batch_size, drop_last, collate_fn, num_workers)
            return
        if batch_sampler is not None:
            # the batch sampler gives whole batches: the options that make batches are its
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("DataLoader: batch_sampler option is mutually exclusive with "
                                 "batch_size, shuffle, sampler, and drop_last")
            batch_size = 1
        check_loader_arguments(dataset, batch_size, shuffle, seed, generator)
        if sampler is not None and shuffle:
            raise ValueError("DataLoader: sampler option is mutually exclusive with shuffle "
                             "(the sampler decides the order)")
        self.dataset = dataset
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self._stream = False  # True for an IterableDataset (see _init_stream)
        self.num_workers = num_workers
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.collate_fn = collate_fn
        # An explicit seed/generator gives the loader its own stream of orders;
        # otherwise each epoch asks the (re-seedable) default generator.
        self.generator = get_generator(generator, seed) if (generator is not None or seed is not None) else None
        n = len(dataset)
        if n == 0:
            # PyTorch refuses this only with shuffle=True; an empty loader silently yields
            # nothing, and a loop such as `while True: for batch in loader` then never ends
            raise ValueError(f"DataLoader: the dataset ({type(dataset).__name__}) is empty: "
                             f"len(dataset) == 0, so there is nothing to load. Hint: check the "
                             f"data loading or the train/test split that produced it.")
        if self.drop_last and 0 < n < self.batch_size:
            warnings.warn(f"DataLoader: drop_last=True with batch_size={self.batch_size} larger than "
                          f"the dataset ({n} samples) yields no batches at all. Hint: lower "
                          "batch_size or set drop_last=False.", stacklevel=2)

    def __len__(self) -> int:
        """Number of batches per epoch."""
        if self._stream:
            # a stream that knows its length: as PyTorch, the batches it would make
            n = len(self.dataset)  # TypeError if the dataset does not define __len__
            return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)
        if self.batch_sampler is not None:
            return len(self.batch_sampler)
        n = len(self.dataset) if self.sampler is None else len(self.sampler)
        return n // self.batch_size if self.drop_last else math.ceil(n / self.batch_size)

    def __iter__(self) -> Iterator:
        if self._stream:
            return self._stream_batches()
        if self.batch_sampler is not None:
            return (self._fetch(np.asarray(list(indices), dtype=np.int64))
                    for indices in self.batch_sampler)
        if self.sampler is not None:
            return self._sampler_batches()
        # The order is drawn now, when the epoch starts, as in PyTorch.
        return self._batches(self._epoch_order())

    def _stream_batches(self) -> Iterator:
        """Consecutive samples of an IterableDataset, batch_size at a time."""
        samples = iter(self.dataset)
        while True:
            batch = list(itertools.islice(samples, self.batch_size))
            if not batch or (self.drop_last and len(batch) < self.batch_size):
                return
            yield (self.collate_fn or default_collate)(batch)

    def _sampler_batches(self) -> Iterator:
        """Batches of the sampler's indices, read as they come: a sampler may be very long
        (``RandomSampler(ds, replacement=True, num_samples=10**10)``, an endless loader)."""
        indices = iter(self.sampler)
        while True:
            batch = np.fromiter(itertools.islice(indices, self.batch_size), dtype=np.int64)
            if len(batch) == 0 or (self.drop_last and len(batch) < self.batch_size):
                return
            yield self._fetch(batch)

    def _epoch_order(self) -> np.ndarray:
        n = len(self.dataset)
        if not self.shuffle:
            return np.arange(n)
        rng = self.generator if self.generator is not None else default_generator()
        return rng.permutation(n)

    def _batches(self, order: np.ndarray) -> Iterator:
        n_batches = len(self)
        for b in range(n_batches):
            indices = order[b * self.batch_size:(b + 1) * self.batch_size]
            yield self._fetch(indices)

    def _fetch(self, indices: np.ndarray):
        get_batch = getattr(self.dataset, "get_batch", None)
        if get_batch is not None and self.collate_fn is None:
            return get_batch(indices)  # fast path: one gather per array
        samples = [self.dataset[int(i)] for i in indices]
        return (self.collate_fn or default_collate)(samples)

    def __repr__(self) -> str:
        if self._stream:
            return (f"DataLoader({type(self.dataset).__name__} (a stream), batch_size="
                    f"{self.batch_size}, drop_last={self.drop_last})")
        return (f"DataLoader({type(self.dataset).__name__} of {len(self.dataset)} samples, "
                f"batch_size={self.batch_size}, shuffle={self.shuffle}, drop_last={self.drop_last}, "
                f"{len(self)} batches)")


def _init_stream(loader: DataLoader, dataset, batch_size, drop_last, collate_fn,
                 num_workers) -> None:
    """The DataLoader of an IterableDataset: batches of consecutive samples."""
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) \
            or batch_size < 1:
        raise ValueError(f"DataLoader: batch_size must be a positive integer, got "
                         f"batch_size={batch_size!r}")
    loader.dataset, loader.batch_size, loader.drop_last = dataset, int(batch_size), bool(drop_last)
    loader.collate_fn, loader.num_workers, loader._stream = collate_fn, num_workers, True
    loader.sampler = loader.batch_sampler = loader.generator = None
    loader.shuffle = False


def check_loader_arguments(dataset, batch_size, shuffle, seed, generator) -> None:
    if not (hasattr(dataset, "__len__") and hasattr(dataset, "__getitem__")):
        raise TypeError(f"DataLoader: dataset must define __len__ and __getitem__, got "
                        f"{type(dataset).__name__}. Hint: wrap arrays as TensorDataset(X, y).")
    if isinstance(batch_size, bool) or not isinstance(batch_size, numbers.Integral) or batch_size < 1:
        raise ValueError(f"DataLoader: batch_size must be a positive integer, got batch_size={batch_size!r}")
    if shuffle is not None and not isinstance(shuffle, (bool, np.bool_)):
        raise TypeError(f"DataLoader: shuffle must be True or False, got shuffle={shuffle!r}")
    if seed is not None and generator is not None:
        raise ValueError("DataLoader: pass seed= or generator=, not both")
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, numbers.Integral)):
        raise TypeError(f"DataLoader: seed must be an integer, got seed={seed!r}")
    if generator is not None and not isinstance(generator, (np.random.Generator, Generator)):
        raise TypeError(f"DataLoader: generator must be a minnet.Generator or a "
                        f"np.random.Generator, got {type(generator).__name__}. "
                        f"Hint: minnet.Generator().manual_seed(0).")


def default_collate(samples: list):
    """Stack a list of samples into a batch.

    Samples that are tuples/lists become a list with one batched Tensor per
    field; dicts become a dict; arrays, Tensors and numbers become one Tensor
    with a new leading batch dimension.
    """
    first = samples[0]
    if isinstance(first, (tuple, list)):
        if any(len(s) != len(first) for s in samples):
            raise ValueError("DataLoader: samples in a batch have different numbers of fields "
                             f"(e.g. {len(first)} and {next(len(s) for s in samples if len(s) != len(first))})")
        return [default_collate(list(field)) for field in zip(*samples)]
    if isinstance(first, (str, bytes)):
        return list(samples)  # text stays text, as in PyTorch: a list of the batch's strings
    if isinstance(first, dict):
        return {key: default_collate([s[key] for s in samples]) for key in first}
    if isinstance(first, (Tensor, np.ndarray, np.generic)):
        arrays = [np.asarray(s) for s in samples]
        shapes = {a.shape for a in arrays}
        if len(shapes) > 1:
            raise ValueError(f"DataLoader: cannot stack samples of different shapes {sorted(shapes)} "
                             "into one batch. Hint: pad or resize samples to a common shape.")
        return as_batch_tensor(np.stack(arrays))
    if isinstance(first, numbers.Number):
        return as_batch_tensor(as_data_array(samples, "DataLoader"))
    raise TypeError(f"DataLoader: do not know how to batch samples of type {type(first).__name__}. "
                    "Hint: return arrays, Tensors, numbers or tuples of them from __getitem__, "
                    "or pass collate_fn=.")
