"""``nn.Embedding``: a lookup table of learned vectors, one row per token id."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ..tensor import DEFAULT_DTYPE, Tensor
from . import init
from .module import Module, Parameter


def embedding(input: Tensor, weight: Tensor) -> Tensor:
    """Rows of ``weight`` (num_embeddings, dim) at the integer ids in ``input``.

    Shapes: ids (N, L) -> (N, L, dim). It is ``weight[input]``: indexing is
    differentiable, and an id used several times gets the sum of its gradients.
    """
    ids = input._data if isinstance(input, Tensor) else np.asarray(input)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"embedding(): the input must hold integer ids, got dtype {ids.dtype}. "
                        f"Hint: token ids are int64, e.g. minnet.tensor([[1, 4, 2]]).")
    if ids.size and (ids.min() < 0 or ids.max() >= weight.shape[0]):
        raise IndexError(f"embedding(): ids must lie in [0, {weight.shape[0]}) (num_embeddings), "
                         f"got values from {ids.min()} to {ids.max()}")
    return weight[Tensor(ids)]


class Embedding(Module):
    """``Embedding(num_embeddings, embedding_dim)``: weight (num_embeddings, embedding_dim)
    drawn from N(0, 1), as PyTorch. Input: integer ids of any shape -> (*shape, dim)."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: Optional[int] = None,
                 dtype=None, device=None, generator: Optional[np.random.Generator] = None):
        super().__init__()
        for name, value in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Embedding(): {name} must be a positive integer, got {value!r}")
        from ..utils.device import check_device
        check_device(device, "Embedding")
        if padding_idx is not None:
            raise NotImplementedError("Embedding(): padding_idx is not implemented in minnet")
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.weight = Parameter(np.empty((self.num_embeddings, self.embedding_dim),
                                         dtype=np.dtype(dtype or DEFAULT_DTYPE)))
        init.normal_(self.weight, generator=generator)

    def forward(self, input: Tensor) -> Tensor:
        return embedding(input, self.weight)

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"
