"""nn.GRU: PyTorch's gate equations and parameter layout, checked against torch 2.13's
outputs for the same weights (written out here; no torch import) and gradchecked."""
import numpy as np
import pytest

import minnet
from minnet import nn

X = np.cos(np.arange(12) * 0.7).reshape(3, 2, 2)  # (L=3, N=2, I=2)


def _fill(module):
    """Deterministic weights, the same ones the torch reference run used."""
    for k, (_, p) in enumerate(module.named_parameters()):
        p.data[...] = 0.5 * np.sin(np.arange(p.numel()) + k).reshape(p.shape)


def test_gru_layout_is_pytorchs():
    gru = nn.GRU(2, 3, num_layers=2)
    assert [n for n, _ in gru.named_parameters()] == [
        "weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
        "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1"]
    assert gru.weight_ih_l0.shape == (9, 2) and gru.weight_hh_l0.shape == (9, 3)
    assert gru.weight_ih_l1.shape == (9, 3) and gru.bias_hh_l1.shape == (9,)
    assert gru.weight_ih_l0.dtype == np.float32
    bound = 1 / np.sqrt(3)  # PyTorch's init: U(-1/sqrt(H), 1/sqrt(H)) everywhere
    assert all(np.abs(p.numpy()).max() <= bound for p in gru.parameters())


def test_gru_matches_torch_two_layers():
    gru = nn.GRU(2, 3, num_layers=2, dtype=np.float64)
    _fill(gru)
    out, h = gru(minnet.tensor(X))
    last = [[-0.052557702753975324, 0.4257711134137916, 0.6480563736364767],
            [-0.14605394982915731, 0.5213673133052361, 0.5787593755078926]]
    assert out.shape == (3, 2, 3) and h.shape == (2, 2, 3)
    np.testing.assert_allclose(out.numpy()[-1], last, rtol=1e-12)
    np.testing.assert_allclose(h.numpy(), [
        [[0.48149699895487197, 0.07284122050164765, -0.47732064566612714],
         [0.4485720060362183, 0.15262062269090987, -0.310290512046696]], last], rtol=1e-12)


def test_gru_matches_torch_with_an_initial_state():
    gru = nn.GRU(2, 3, num_layers=2, dtype=np.float64)
    _fill(gru)
    _, h = gru(minnet.tensor(X), minnet.tensor(0.3 * np.ones((2, 2, 3))))
    np.testing.assert_allclose(h.numpy(), [
        [[0.5563575596224741, 0.112030066241805, -0.44050505029162107],
         [0.5248433186964413, 0.1801944825809944, -0.23730326847256783]],
        [[-0.10596013340169495, 0.5398647841994619, 0.5890902102523377],
         [-0.1931762582801781, 0.6299620023932246, 0.5032386675965808]]], rtol=1e-12)


def test_gru_without_bias_batch_first_and_unbatched():
    gru = nn.GRU(2, 3, bias=False, batch_first=True, dtype=np.float64)
    _fill(gru)
    assert [n for n, _ in gru.named_parameters()] == ["weight_ih_l0", "weight_hh_l0"]
    out, h = gru(minnet.tensor(X.transpose(1, 0, 2)))  # (N, L, I)
    expected = [[-0.03972750139392483, 0.0626522433875839, -0.3720312785932117],
                [-0.07441857103805168, 0.09650523187068472, -0.08547160095166194]]
    np.testing.assert_allclose(out.numpy()[:, -1], expected, rtol=1e-12)
    np.testing.assert_allclose(h.numpy()[0], expected, rtol=1e-12)
    gru.batch_first = False
    single, h1 = gru(minnet.tensor(X[:, 0]))  # unbatched (L, I)
    assert single.shape == (3, 3) and h1.shape == (1, 3)
    np.testing.assert_allclose(h1.numpy()[0], expected[0], rtol=1e-12)


@pytest.mark.parametrize("num_layers", [1, 2])
def test_gru_gradcheck_float64(num_layers):
    gru = nn.GRU(2, 3, num_layers=num_layers, dtype=np.float64,
                 generator=np.random.default_rng(0))
    x = minnet.tensor(np.random.default_rng(1).standard_normal((4, 2, 2)), requires_grad=True)
    h0 = minnet.tensor(np.random.default_rng(2).standard_normal((num_layers, 2, 3)) * 0.5,
                       requires_grad=True)
    names = [n for n, _ in gru.named_parameters()]

    def run(inp, hx, *weights):  # the module computes with the weights gradcheck hands in
        gru._parameters.update(zip(names, weights))
        return gru(inp, hx)

    weights = tuple(getattr(gru, n) for n in names)
    assert minnet.gradcheck(lambda inp, hx, *w: run(inp, hx, *w)[0], (x, h0, *weights))
    assert minnet.gradcheck(lambda inp, hx, *w: run(inp, hx, *w)[1], (x, h0, *weights))


def test_gru_rejects_bad_input_with_a_clear_error():
    gru = nn.GRU(2, 3)
    with pytest.raises(ValueError, match="GRU: expected 2 input features"):
        gru(minnet.ones(3, 1, 5))
    with pytest.raises(NotImplementedError, match="GRU\\(\\): dropout and bidirectional"):
        nn.GRU(2, 3, bidirectional=True)
