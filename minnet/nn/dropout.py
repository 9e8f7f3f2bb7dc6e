"""``Dropout``: randomly zero activations during training."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..ops.dropout import dropout
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
