"""Inverted dropout as one op: the random mask is drawn once and reused by backward."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..random import get_generator
from ..tensor import Tensor


def dropout(input: Tensor, p: float = 0.5, training: bool = True,
            generator: Optional[np.random.Generator] = None) -> Tensor:
    """Zero each entry with probability ``p`` and scale the survivors by 1 / (1 - p).

    The scaling keeps the expected value of every entry unchanged, so nothing
    needs rescaling at evaluation time, when dropout is the identity.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout(): probability p has to be between 0 and 1, got {p}")
    if not training or p == 0.0:
        return input
    if p == 1.0:
        scaled_mask = np.zeros_like(input._data)  # everything dropped (PyTorch gives zeros too)
    else:
        rng = get_generator(generator)
        keep = rng.random(input.shape) >= p
        scaled_mask = keep.astype(input._data.dtype) / input._data.dtype.type(1.0 - p)
    out = input._data * scaled_mask

    def backward(grad):
        return (grad * scaled_mask,)

    return Tensor._from_op(out, (input,), backward, "dropout", saved=())
