"""Shape helpers as layers: ``Flatten``, ``Unflatten`` and ``Identity``."""
from __future__ import annotations

import numpy as np

from .. import ops
from ..tensor import Tensor
from .linear import where_called
from .module import Module


class Flatten(Module):
    """Merge dims ``start_dim..end_dim`` into one: (N, C, H, W) -> (N, C*H*W) by default.

    start_dim=1 keeps the batch dimension, which is what a Linear after a conv wants.
    """

    def __init__(self, start_dim: int = 1, end_dim: int = -1):
        super().__init__()
        self.start_dim = start_dim
        self.end_dim = end_dim

    def forward(self, input: Tensor) -> Tensor:
        ndim = max(input.ndim, 1)
        start, end = self.start_dim, self.end_dim
        if not (-ndim <= start < ndim and -ndim <= end < ndim):
            raise IndexError(f"Flatten(start_dim={start}, end_dim={end}){where_called()}: dims out "
                             f"of range for an input of shape {input.shape}. Hint: Flatten() "
                             f"keeps dim 0 as the batch, so it needs inputs of at least 2 dims.")
        start, end = start % ndim, end % ndim
        if start > end:
            raise ValueError(f"Flatten(start_dim={self.start_dim}, end_dim={self.end_dim}): "
                             f"start_dim comes after end_dim for input shape {input.shape}")
        if input.ndim == 0:
            return ops.reshape(input, (1,))
        shape = input.shape
        merged = int(np.prod(shape[start:end + 1]))
        return ops.reshape(input, shape[:start] + (merged,) + shape[end + 1:])

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Unflatten(Module):
    """Split dim ``dim`` into ``unflattened_size``: ``Unflatten(1, (16, 7, 7))`` turns
    (N, 784) into (N, 16, 7, 7), the inverse of ``Flatten`` (e.g. in a decoder)."""

    def __init__(self, dim: int, unflattened_size):
        super().__init__()
        if not isinstance(unflattened_size, (tuple, list)) or not all(
                isinstance(n, (int, np.integer)) and not isinstance(n, bool)
                for n in unflattened_size):
            raise TypeError(f"Unflatten(): unflattened_size must be a tuple of ints, got "
                            f"{unflattened_size!r}")
        self.dim, self.unflattened_size = dim, tuple(int(n) for n in unflattened_size)

    def forward(self, input: Tensor) -> Tensor:
        shape = input.shape
        if not -len(shape) <= self.dim < len(shape):
            raise IndexError(f"Unflatten(dim={self.dim}){where_called()}: dim out of range for "
                             f"an input of shape {shape}")
        dim = self.dim % len(shape)
        sizes = list(self.unflattened_size)
        if sizes.count(-1) == 1:  # one size may be inferred, as in reshape
            known = int(np.prod([n for n in sizes if n != -1]))
            if known and shape[dim] % known == 0:
                sizes[sizes.index(-1)] = shape[dim] // known
        if int(np.prod(sizes)) != shape[dim]:
            raise ValueError(f"Unflatten(dim={self.dim}, unflattened_size="
                             f"{self.unflattened_size}){where_called()}: the sizes multiply to "
                             f"{int(np.prod(sizes))}, but dim {dim} of the input {shape} has "
                             f"{shape[dim]} entries")
        return ops.reshape(input, shape[:dim] + tuple(sizes) + shape[dim + 1:])

    def extra_repr(self) -> str:
        return f"dim={self.dim}, unflattened_size={self.unflattened_size}"


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. to switch a layer off).

    Accepts and ignores any constructor arguments, as PyTorch's does.
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input
