"""``Dropout`` (randomly zero activations during training) and ``Dropout1d``/``Dropout2d``
(zero whole channels)."""
from __future__ import annotations

from typing import Optional

import numpy as np

from .. import ops
from ..ops.dropout import dropout
from ..random import get_generator
from ..tensor import Tensor
from .module import Module


class Dropout(Module):
    """Inverted dropout: in training, zero each entry with probability ``p`` and
    scale the rest by 1 / (1 - p); in eval mode, the identity.

    Default p=0.5 (PyTorch's, from the original dropout paper for hidden
    units). The scaling keeps each entry's expected value, so the trained
    network needs no change at evaluation time. Masks are drawn from
    ``generator`` (default: minnet's seeded generator), so runs are reproducible.
    """

    def __init__(self, p: float = 0.5, inplace: bool = False,
                 generator: Optional[np.random.Generator] = None):
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout(): probability p has to be between 0 and 1, got {p}")
        self.p = p
        self.inplace = inplace
        self.generator = generator

    def forward(self, input: Tensor) -> Tensor:
        return dropout(input, self.p, self.training, self.generator)

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class _ChannelDropout(Module):
    """Zero whole channels: in training each channel of each sample is kept with probability
    ``1 - p`` (and scaled by 1 / (1 - p)) or zeroed entirely.

    Neighbouring entries of a feature map are strongly correlated, so dropping single
    entries barely regularises a conv net; dropping a channel removes the feature.
    Input (N, C, *spatial) or, without the batch dim, (C, *spatial).
    """

    _spatial_dims = 1

    def __init__(self, p: float = 0.5, inplace: bool = False,
                 generator: Optional[np.random.Generator] = None):
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0.0 <= p <= 1.0:
            raise ValueError(f"{type(self).__name__}(): dropout probability has to be between "
                             f"0 and 1, but got {p!r}")
        self.p, self.inplace, self.generator = p, inplace, generator

    def forward(self, input: Tensor) -> Tensor:
        batched_dims = 2 + self._spatial_dims
        if input.ndim not in (batched_dims - 1, batched_dims):
            raise ValueError(f"{type(self).__name__}: expected input of {batched_dims - 1} or "
                             f"{batched_dims} dims ((C, ...) or (N, C, ...)), got shape "
                             f"{input.shape}")
        if not self.training or self.p == 0:
            return input
        channels = input.shape[:input.ndim - self._spatial_dims]  # (N, C) or (C,)
        mask_shape = channels + (1,) * self._spatial_dims
        if self.p == 1:
            scaled_mask = np.zeros(mask_shape, dtype=input.dtype)
        else:
            keep = get_generator(self.generator).random(mask_shape) >= self.p
            scaled_mask = keep.astype(input.dtype) / np.dtype(input.dtype).type(1.0 - self.p)
        return ops.mul(input, Tensor(scaled_mask))  # broadcast over the spatial dims

    def extra_repr(self) -> str:
        return f"p={self.p}, inplace={self.inplace}"


class Dropout1d(_ChannelDropout):
    """Zero whole channels of (N, C, L) or (C, L) inputs (after Conv1d layers)."""

    _spatial_dims = 1


class Dropout2d(_ChannelDropout):
    """Zero whole channels of (N, C, H, W) or (C, H, W) inputs (after Conv2d layers)."""

    _spatial_dims = 2

