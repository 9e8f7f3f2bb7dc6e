"""Shape helpers as layers: ``Flatten`` and ``Identity``."""
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


class Identity(Module):
    """Returns its input unchanged (a placeholder, e.g. to switch a layer off).

    Accepts and ignores any constructor arguments, as PyTorch's does.
    """

    def __init__(self, *args, **kwargs):
        super().__init__()

    def forward(self, input):
        return input
