"""Transformer encoder/decoder layers: PyTorch's submodule names, the residual blocks in
both orders, gradchecks, causal masking through a stack, independent copies."""
import numpy as np
import pytest

import minnet
from minnet import nn


def leaf(shape, seed=0):
    return minnet.tensor(np.random.default_rng(seed).normal(size=shape), requires_grad=True)


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_is_its_two_residual_blocks(norm_first):
    layer = nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0, norm_first=norm_first,
                                       dtype=np.float64).eval()
    x = leaf((3, 2, 4))

    def attend(h):
        return layer.self_attn(h, h, h, need_weights=False)[0]

    def feed_forward(h):
        return layer.linear2(layer.linear1(h).relu())

    if norm_first:
        h = x + attend(layer.norm1(x))
        expected = h + feed_forward(layer.norm2(h))
    else:
        h = layer.norm1(x + attend(x))
        expected = layer.norm2(h + feed_forward(h))
    np.testing.assert_allclose(layer(x).numpy(), expected.numpy(), rtol=1e-12)
    result = minnet.gradcheck(lambda a: layer(a), (x,))
    assert result, result


def test_a_causal_stack_keeps_early_positions_blind_to_later_ones():
    layer = nn.TransformerEncoderLayer(4, 2, 8, dropout=0.0, batch_first=True, dtype=np.float64)
    encoder = nn.TransformerEncoder(layer, 2).eval()
    assert [name for name, _ in encoder.named_parameters()][:2] == [
        "layers.0.self_attn.in_proj_weight", "layers.0.self_attn.in_proj_bias"]
    # the copies start equal but are separate parameters
    assert encoder.layers[0].linear1.weight is not encoder.layers[1].linear1.weight
    x = leaf((1, 5, 4))
    mask = np.triu(np.ones((5, 5), dtype=bool), 1)   # True above the diagonal: not allowed
    out = encoder(x, mask=mask).numpy()
    later_changed = x.numpy().copy()
    later_changed[:, 3:] += 10.0
    out_changed = encoder(minnet.tensor(later_changed), mask=mask).numpy()
    np.testing.assert_allclose(out_changed[:, :3], out[:, :3], rtol=1e-12)
    assert not np.allclose(out_changed[:, 3:], out[:, 3:])


def test_decoder_layer_attends_to_memory_and_gradchecks():
    layer = nn.TransformerDecoderLayer(4, 2, 8, dropout=0.0, dtype=np.float64).eval()
    assert {"self_attn.in_proj_weight", "multihead_attn.in_proj_weight", "norm3.weight"} <= {
        name for name, _ in layer.named_parameters()}
    tgt, memory = leaf((3, 2, 4)), leaf((5, 2, 4), seed=1)
    assert layer(tgt, memory).shape == (3, 2, 4)
    result = minnet.gradcheck(lambda t, m: layer(t, m), (tgt, memory))
    assert result, result


def test_bad_activation_is_named():
    with pytest.raises(ValueError, match="TransformerEncoderLayer.*'relu', 'gelu'"):
        nn.TransformerEncoderLayer(4, 2, activation="tanh")
