"""Scaled dot-product attention and nn.MultiheadAttention: the formula, masks that really
hide what they hide, float64 gradchecks, PyTorch's parameter names and conventions."""
import numpy as np
import pytest

import minnet
from minnet import nn
from minnet.nn import functional as F

RNG = np.random.default_rng(0)


def leaf(shape):
    return minnet.tensor(RNG.normal(size=shape), requires_grad=True)


def np_softmax(x):
    e = np.exp(x - x.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def test_attention_is_softmax_of_scaled_scores_times_values():
    q, k, v = leaf((2, 5, 8)), leaf((2, 6, 8)), leaf((2, 6, 3))
    expected = np_softmax(q.numpy() @ k.numpy().swapaxes(-1, -2) / np.sqrt(8)) @ v.numpy()
    np.testing.assert_allclose(F.scaled_dot_product_attention(q, k, v).numpy(), expected,
                               rtol=1e-12)
    result = minnet.gradcheck(F.scaled_dot_product_attention, (q, k, v))
    assert result, result


def test_a_causal_query_never_sees_later_keys():
    q, k, v = leaf((4, 8)), leaf((4, 8)), leaf((4, 8))
    out = F.scaled_dot_product_attention(q, k, v, is_causal=True).numpy()
    changed_v = v.numpy().copy()
    changed_v[2:] += 100.0                      # change the last two values only
    out_changed = F.scaled_dot_product_attention(q, k, minnet.tensor(changed_v),
                                                 is_causal=True).numpy()
    np.testing.assert_allclose(out_changed[:2], out[:2])   # queries 0, 1 see keys 0..1
    assert not np.allclose(out_changed[2:], out[2:])
    # a bool mask in this function is True where attending is allowed
    allowed = np.tril(np.ones((4, 4), dtype=bool))
    np.testing.assert_allclose(F.scaled_dot_product_attention(q, k, v, attn_mask=allowed).numpy(),
                               out)


def test_multihead_attention_matches_its_formula_written_out():
    layer = nn.MultiheadAttention(8, 2, batch_first=True, dtype=np.float64)
    x = leaf((3, 5, 8))
    out, weights = layer(x, x, x, average_attn_weights=False)
    W, b = layer.in_proj_weight.numpy(), layer.in_proj_bias.numpy()
    qkv = x.numpy() @ W.T + b                                     # (3, 5, 24)
    q, k, v = (qkv[..., i * 8:(i + 1) * 8].reshape(3, 5, 2, 4).transpose(0, 2, 1, 3)
               for i in range(3))
    expected_weights = np_softmax(q @ k.transpose(0, 1, 3, 2) / 2.0)   # sqrt(head dim 4)
    joined = (expected_weights @ v).transpose(0, 2, 1, 3).reshape(3, 5, 8)
    expected = joined @ layer.out_proj.weight.numpy().T + layer.out_proj.bias.numpy()
    np.testing.assert_allclose(weights.numpy(), expected_weights, rtol=1e-12)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)
    assert [name for name, _ in layer.named_parameters()] == [
        "in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias"]


def test_multihead_attention_gradcheck_and_masks():
    layer = nn.MultiheadAttention(4, 2, dtype=np.float64)   # (L, N, E) by default
    q, kv = leaf((3, 2, 4)), leaf((5, 2, 4))
    padding = np.zeros((2, 5), dtype=bool)
    padding[:, 3:] = True                                   # the last two keys are padding
    result = minnet.gradcheck(lambda a, b: layer(a, b, b, key_padding_mask=padding)[0], (q, kv))
    assert result, result
    out, weights = layer(q, kv, kv, key_padding_mask=padding)
    assert weights.shape == (2, 3, 5) and np.all(weights.numpy()[..., 3:] == 0)
    changed = kv.numpy().copy()
    changed[3:] = 50.0                                      # padding content does not matter
    np.testing.assert_allclose(layer(q, minnet.tensor(changed), minnet.tensor(changed),
                                     key_padding_mask=padding)[0].numpy(), out.numpy())


def test_multihead_attention_errors_name_the_layer():
    with pytest.raises(ValueError, match="embed_dim .10. must be a positive multiple of "
                                         "num_heads .3."):
        nn.MultiheadAttention(10, 3)
    layer = nn.MultiheadAttention(4, 2)
    with pytest.raises(ValueError, match=r"expected query \(L, N, 4\)"):
        layer(minnet.randn(3, 2, 5), minnet.randn(3, 2, 5), minnet.randn(3, 2, 5))
    with pytest.raises(ValueError, match="is_causal=True is only a hint"):
        x = minnet.randn(3, 2, 4)
        layer(x, x, x, is_causal=True)
    with pytest.raises(ValueError, match="kdim and vdim"):
        nn.MultiheadAttention(4, 2, kdim=3)
