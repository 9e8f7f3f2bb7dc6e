"""``nn.Embedding``: a lookup table of learned vectors, one row per token id."""
from __future__ import annotations

from typing import Optional

import numpy as np

from .. import ops
from ..tensor import DEFAULT_DTYPE, Tensor, no_grad
from . import init
from .module import Module, Parameter


def _padding_row(padding_idx: Optional[int], num_embeddings: int, where: str) -> Optional[int]:
    """PyTorch's ``padding_idx`` check: None, or a row in [-num_embeddings, num_embeddings),
    negatives counting from the end; returns the row as a non-negative index."""
    if padding_idx is None:
        return None
    if not isinstance(padding_idx, (int, np.integer)) or isinstance(padding_idx, bool) \
            or not -num_embeddings <= padding_idx < num_embeddings:
        raise ValueError(f"{where}: padding_idx must be an int in [{-num_embeddings}, "
                         f"{num_embeddings}) (num_embeddings={num_embeddings}), got "
                         f"{padding_idx!r}. Hint: padding_idx is the id of the padding token, "
                         f"a row of the table (e.g. 0), or None for no padding token.")
    return int(padding_idx) % num_embeddings


def embedding(input: Tensor, weight: Tensor, padding_idx: Optional[int] = None) -> Tensor:
    """Rows of ``weight`` (num_embeddings, dim) at the integer ids in ``input``.

    Shapes: ids (N, L) -> (N, L, dim). It is ``weight[input]``: indexing is
    differentiable, and an id used several times gets the sum of its gradients.
    ``padding_idx``: that row is looked up as any other but gets no gradient (as in
    PyTorch), so a padding token's vector stays what it is (zeros, in ``Embedding``).
    """
    ids = input._data if isinstance(input, Tensor) else np.asarray(input)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"embedding(): the input must hold integer ids, got dtype {ids.dtype}. "
                        f"Hint: token ids are int64, e.g. minnet.tensor([[1, 4, 2]]).")
    if ids.size and (ids.min() < 0 or ids.max() >= weight.shape[0]):
        raise IndexError(f"embedding(): ids must lie in [0, {weight.shape[0]}) (num_embeddings), "
                         f"got values from {ids.min()} to {ids.max()}")
    rows = weight[Tensor(ids)]
    padding_row = _padding_row(padding_idx, weight.shape[0], "embedding()")
    if padding_row is None or not rows.requires_grad:
        return rows
    # the same values, but at padding positions from a detached copy: no gradient flows there
    at_padding = Tensor(np.expand_dims(ids == padding_row, -1))
    return ops.where(at_padding, rows.detach(), rows)


class Embedding(Module):
    """``Embedding(num_embeddings, embedding_dim, padding_idx=None)``: weight
    (num_embeddings, embedding_dim) drawn from N(0, 1), as PyTorch; the ``padding_idx`` row
    starts at zero and is never updated (it gets no gradient). Input: integer ids of any
    shape -> (*shape, dim)."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: Optional[int] = None,
                 dtype=None, device=None, generator: Optional[np.random.Generator] = None):
        super().__init__()
        for name, value in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Embedding(): {name} must be a positive integer, got {value!r}")
        from ..utils.device import check_device
        check_device(device, "Embedding")
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.padding_idx = _padding_row(padding_idx, self.num_embeddings, "Embedding()")
        self.weight = Parameter(np.empty((self.num_embeddings, self.embedding_dim),
                                         dtype=np.dtype(dtype or DEFAULT_DTYPE)))
        init.normal_(self.weight, generator=generator)
        if self.padding_idx is not None:
            with no_grad():  # the padding token starts as the zero vector, as in PyTorch
                self.weight[self.padding_idx] = 0.0

    def forward(self, input: Tensor) -> Tensor:
        return embedding(input, self.weight, self.padding_idx)

    def extra_repr(self) -> str:
        padding = "" if self.padding_idx is None else f", padding_idx={self.padding_idx}"
        return f"{self.num_embeddings}, {self.embedding_dim}{padding}"
