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


def _renorm_rows(weight: Tensor, ids: np.ndarray, max_norm: float, norm_type: float) -> None:
    """Shrink, in place, the looked-up rows whose p-norm exceeds ``max_norm`` to that norm
    (PyTorch's ``max_norm``: the table itself changes, outside autograd)."""
    rows = np.unique(ids)
    table = weight._data
    norms = np.linalg.norm(table[rows], ord=norm_type, axis=1)
    too_long = norms > max_norm
    if too_long.any():
        # 1e-7 as PyTorch: the new norm ends just below max_norm
        table[rows[too_long]] *= (max_norm / (norms[too_long] + 1e-7))[:, None].astype(table.dtype)
        weight._bump_version("embedding(max_norm=...)")


def embedding(input: Tensor, weight: Tensor, padding_idx: Optional[int] = None,
              max_norm: Optional[float] = None, norm_type: float = 2.0,
              scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` (num_embeddings, dim) at the integer ids in ``input``.

    Shapes: ids (N, L) -> (N, L, dim). It is ``weight[input]``: indexing is
    differentiable, and an id used several times gets the sum of its gradients.
    ``padding_idx``: that row is looked up as any other but gets no gradient (as in
    PyTorch), so a padding token's vector stays what it is (zeros, in ``Embedding``).
    ``max_norm``: first shrink (in the table, in place) every looked-up row longer than
    that. ``scale_grad_by_freq``: divide each id's gradient by how often it occurs in
    ``input``, so frequent tokens do not dominate.
    """
    if sparse:
        raise NotImplementedError(
            "embedding(): sparse=True (sparse gradients) is not supported in minnet: gradients "
            "are dense arrays. Hint: leave sparse out; the update of a dense gradient is the same.")
    ids = input._data if isinstance(input, Tensor) else np.asarray(input)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"embedding(): the input must hold integer ids, got dtype {ids.dtype}. "
                        f"Hint: token ids are int64, e.g. minnet.tensor([[1, 4, 2]]).")
    if ids.size and (ids.min() < 0 or ids.max() >= weight.shape[0]):
        raise IndexError(f"embedding(): ids must lie in [0, {weight.shape[0]}) (num_embeddings), "
                         f"got values from {ids.min()} to {ids.max()}")
    if max_norm is not None and ids.size:
        _renorm_rows(weight, ids, float(max_norm), float(norm_type))
    rows = weight[Tensor(ids)]
    if scale_grad_by_freq and rows.requires_grad:
        counts = np.bincount(ids.reshape(-1), minlength=weight.shape[0])
        scale = np.expand_dims(1.0 / counts[ids], -1).astype(rows.dtype)
        rows.register_hook(lambda grad: grad * Tensor(scale))
    padding_row = _padding_row(padding_idx, weight.shape[0], "embedding()")
    if padding_row is None or not rows.requires_grad:
        return rows
    # the same values, but at padding positions from a detached copy: no gradient flows there
    at_padding = Tensor(np.expand_dims(ids == padding_row, -1))
    return ops.where(at_padding, rows.detach(), rows)


class Embedding(Module):
    """``Embedding(num_embeddings, embedding_dim, padding_idx=None, max_norm=None,
    norm_type=2.0, scale_grad_by_freq=False)``: weight (num_embeddings, embedding_dim)
    drawn from N(0, 1), as PyTorch; the ``padding_idx`` row starts at zero and is never
    updated (it gets no gradient). Input: integer ids of any shape -> (*shape, dim).
    ``Embedding.from_pretrained(vectors)`` starts from given vectors (frozen by default).
    """

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx: Optional[int] = None,
                 max_norm: Optional[float] = None, norm_type: float = 2.0,
                 scale_grad_by_freq: bool = False, sparse: bool = False, _weight=None,
                 _freeze: bool = False, device=None, dtype=None,
                 generator: Optional[np.random.Generator] = None):
        super().__init__()
        for name, value in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < 1:
                raise ValueError(f"Embedding(): {name} must be a positive integer, got {value!r}")
        if sparse:
            raise NotImplementedError(
                "Embedding(): sparse=True (sparse gradients) is not supported in minnet: "
                "gradients are dense arrays. Hint: leave sparse out (and use Adam or SGD "
                "instead of SparseAdam); the updates are the same.")
        from ..utils.device import check_device
        check_device(device, "Embedding")
        self.num_embeddings, self.embedding_dim = int(num_embeddings), int(embedding_dim)
        self.padding_idx = _padding_row(padding_idx, self.num_embeddings, "Embedding()")
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = scale_grad_by_freq, sparse
        if _weight is None:
            self.weight = Parameter(np.empty((self.num_embeddings, self.embedding_dim),
                                             dtype=np.dtype(dtype or DEFAULT_DTYPE)))
            init.normal_(self.weight, generator=generator)
            if self.padding_idx is not None:
                with no_grad():  # the padding token starts as the zero vector, as in PyTorch
                    self.weight[self.padding_idx] = 0.0
        else:
            if tuple(_weight.shape) != (self.num_embeddings, self.embedding_dim):
                raise ValueError(f"Embedding(): the given weight has shape {tuple(_weight.shape)}, "
                                 f"expected ({self.num_embeddings}, {self.embedding_dim}) "
                                 f"(num_embeddings, embedding_dim)")
            self.weight = Parameter(_weight, requires_grad=not _freeze)

    @classmethod
    def from_pretrained(cls, embeddings: Tensor, freeze: bool = True,
                        padding_idx: Optional[int] = None, max_norm: Optional[float] = None,
                        norm_type: float = 2.0, scale_grad_by_freq: bool = False,
                        sparse: bool = False) -> "Embedding":
        """An Embedding whose table is ``embeddings`` (rows, dim), e.g. word vectors
        trained elsewhere; ``freeze=True`` (the default) keeps them fixed in training."""
        if not isinstance(embeddings, Tensor) or embeddings.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained(): embeddings parameter is expected to "
                             f"be a 2-dimensional Tensor, got "
                             f"{getattr(embeddings, 'shape', type(embeddings).__name__)}")
        rows, dim = embeddings.shape
        return cls(rows, dim, padding_idx=padding_idx, max_norm=max_norm, norm_type=norm_type,
                   scale_grad_by_freq=scale_grad_by_freq, sparse=sparse,
                   _weight=embeddings.detach().numpy().copy(), _freeze=freeze)

    def forward(self, input: Tensor) -> Tensor:
        return embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                         self.scale_grad_by_freq)

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        if self.max_norm is not None:
            text += f", max_norm={self.max_norm}"
        if self.norm_type != 2:
            text += f", norm_type={self.norm_type}"
        if self.scale_grad_by_freq:
            text += ", scale_grad_by_freq=True"
        return text
