"""Multi-head attention, as ``torch.nn.MultiheadAttention`` (same parameter names, so its
state dicts load unchanged).

Each of the H heads projects the inputs to its own queries, keys and values of size
E / H, attends (``F.scaled_dot_product_attention``), and the heads' outputs, joined back to
E features, go through one more linear layer. The three input projections are stored as
one (3E, E) matrix, ``in_proj_weight``: rows 0..E-1 make the queries, E..2E-1 the keys,
2E..3E-1 the values.
"""
from __future__ import annotations

from typing import Optional

import numpy as np

from .. import ops
from ..random import get_generator
from ..tensor import DEFAULT_DTYPE, Tensor
from . import functional as F
from . import init
from .linear import Linear, check_device
from .module import Module, Parameter


class MultiheadAttention(Module):
    """Attention with ``num_heads`` heads over ``embed_dim`` features.

    Shapes: query (L, N, E), key and value (S, N, E) -> output (L, N, E) and, with
    ``need_weights``, the attention weights (N, L, S) averaged over the heads (or
    (N, H, L, S)); ``batch_first=True`` puts N first; unbatched (L, E) inputs work too.
    Masks follow PyTorch's convention *for this layer*: a bool ``key_padding_mask`` (N, S)
    or ``attn_mask`` (L, S) / (N * H, L, S) is True where attending is NOT allowed; float
    masks are added to the scores.
    """

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 add_bias_kv: bool = False, add_zero_attn: bool = False, kdim=None, vdim=None,
                 batch_first: bool = False, device=None, dtype=None,
                 generator: Optional[np.random.Generator] = None):
        super().__init__()
        check_device(device, "MultiheadAttention")
        if embed_dim <= 0 or num_heads <= 0 or embed_dim % num_heads:
            raise ValueError(f"MultiheadAttention(): embed_dim ({embed_dim}) must be a positive "
                             f"multiple of num_heads ({num_heads}): each head gets "
                             f"embed_dim / num_heads features")
        for name, value in (("add_bias_kv", add_bias_kv), ("add_zero_attn", add_zero_attn)):
            if value:
                raise ValueError(f"MultiheadAttention(): {name}=True is not supported by minnet")
        if kdim not in (None, embed_dim) or vdim not in (None, embed_dim):
            raise ValueError("MultiheadAttention(): kdim and vdim other than embed_dim are not "
                             "supported by minnet. Hint: project key and value to embed_dim "
                             "features first.")
        self.embed_dim, self.num_heads, self.head_dim = embed_dim, num_heads, embed_dim // num_heads
        self.dropout, self.batch_first = dropout, batch_first
        self.kdim = self.vdim = embed_dim
        dtype = np.dtype(dtype or DEFAULT_DTYPE)
        self.in_proj_weight = Parameter(np.empty((3 * embed_dim, embed_dim), dtype=dtype))
        if bias:
            self.in_proj_bias = Parameter(np.empty(3 * embed_dim, dtype=dtype))
        else:
            self.register_parameter("in_proj_bias", None)
        rng = get_generator(generator)
        self.out_proj = Linear(embed_dim, embed_dim, bias=bias, dtype=dtype, generator=rng)
        self._reset_parameters(rng)

    def _reset_parameters(self, rng) -> None:
        # PyTorch's: Glorot for the joint input projection, zero biases
        init.xavier_uniform_(self.in_proj_weight, generator=rng)
        if self.in_proj_bias is not None:
            init.constant_(self.in_proj_bias, 0.0)
            init.constant_(self.out_proj.bias, 0.0)

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask=None,
                need_weights: bool = True, attn_mask=None, average_attn_weights: bool = True,
                is_causal: bool = False):
        unbatched = query.ndim == 2
        if unbatched:   # (L, E) -> (L, 1, E)
            query, key, value = (t.unsqueeze(1) for t in (query, key, value))
            if key_padding_mask is not None:
                key_padding_mask = np.asarray(getattr(key_padding_mask, "_data",
                                                      key_padding_mask))[None]
        elif self.batch_first:   # (N, L, E) -> (L, N, E)
            query, key, value = (ops.transpose(t, 0, 1) for t in (query, key, value))
        if query.ndim != 3 or query.shape[-1] != self.embed_dim or key.shape != value.shape \
                or key.shape[1:] != query.shape[1:]:
            raise ValueError(f"MultiheadAttention(embed_dim={self.embed_dim}): expected query "
                             f"(L, N, {self.embed_dim}) and key, value (S, N, {self.embed_dim}) "
                             f"(N first with batch_first=True), got {tuple(query.shape)}, "
                             f"{tuple(key.shape)}, {tuple(value.shape)}")
        if is_causal and attn_mask is None:
            raise ValueError("MultiheadAttention: is_causal=True is only a hint about attn_mask "
                             "(as in PyTorch); pass the causal mask itself as attn_mask")
        L, N, E = query.shape
        S, H, D = key.shape[0], self.num_heads, self.head_dim
        w_q, w_k, w_v = (self.in_proj_weight[i * E:(i + 1) * E] for i in range(3))
        b_q, b_k, b_v = ((None,) * 3 if self.in_proj_bias is None else
                         (self.in_proj_bias[i * E:(i + 1) * E] for i in range(3)))

        def heads(x, weight, b, length):   # (length, N, E) -> (N, H, length, D)
            projected = ops.linear(x, weight, b)
            return ops.permute(projected.reshape(length, N, H, D), (1, 2, 0, 3))

        q, k, v = heads(query, w_q, b_q, L), heads(key, w_k, b_k, S), heads(value, w_v, b_v, S)
        scores = ops.matmul(q, ops.transpose(k, -2, -1)) / np.sqrt(D)   # (N, H, L, S)
        bias = self._mask_bias(attn_mask, key_padding_mask, N, L, S, scores.dtype)
        if bias is not None:
            scores = scores + bias
        weights = ops.softmax(scores, -1)
        if self.training and self.dropout > 0:
            weights = F.dropout(weights, self.dropout, True)
        heads_out = ops.matmul(weights, v)   # (N, H, L, D)
        joined = ops.permute(heads_out, (2, 0, 1, 3)).reshape(L, N, E)
        output = self.out_proj(joined)
        if unbatched:
            output = output.squeeze(1)
        elif self.batch_first:
            output = ops.transpose(output, 0, 1)
        if not need_weights:
            return output, None
        shown = weights.mean(1) if average_attn_weights else weights
        return output, (shown.squeeze(0) if unbatched else shown)

    def _mask_bias(self, attn_mask, key_padding_mask, N: int, L: int, S: int, dtype):
        """The masks as one additive bias broadcasting to (N, H, L, S): -inf where attending
        is not allowed (bool True), the values themselves for float masks; None without any."""
        H = self.num_heads
        shapes = {"attn_mask": {(L, S): (1, 1, L, S), (N * H, L, S): (N, H, L, S)},
                  "key_padding_mask": {(N, S): (N, 1, 1, S)}}
        bias = None
        for name, mask in (("attn_mask", attn_mask), ("key_padding_mask", key_padding_mask)):
            if mask is None:
                continue
            data = np.asarray(getattr(mask, "_data", mask))
            if data.shape not in shapes[name]:
                raise ValueError(f"MultiheadAttention: {name} of shape {data.shape} does not "
                                 f"fit; expected one of {sorted(shapes[name])} (L={L}, S={S}, "
                                 f"N={N}, H={H})")
            data = data.reshape(shapes[name][data.shape])
            term = np.where(data, -np.inf, 0.0) if data.dtype == np.bool_ else data
            bias = term if bias is None else bias + term
        return None if bias is None else Tensor(np.asarray(bias, dtype=dtype))

    def extra_repr(self) -> str:
        return ""
