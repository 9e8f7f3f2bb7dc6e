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
    with pytest.raises(ValueError, match="proj_size argument is only supported for LSTM"):
        nn.GRU(2, 3, proj_size=2)
    with pytest.raises(RuntimeError, match=r"GRU: expected hidden size \(1, 1, 3\)"):
        gru(minnet.ones(3, 1, 2), minnet.zeros(2, 1, 3))


def test_bidirectional_lstm_matches_torch_two_layers():
    """Reference numbers from torch 2.13's nn.LSTM(2, 3, num_layers=2, bidirectional=True)
    with these weights (float64)."""
    lstm = nn.LSTM(2, 3, num_layers=2, bidirectional=True, dtype=np.float64)
    assert [n for n, _ in lstm.named_parameters()][4:9] == [
        "weight_ih_l0_reverse", "weight_hh_l0_reverse", "bias_ih_l0_reverse",
        "bias_hh_l0_reverse", "weight_ih_l1"]
    assert lstm.weight_ih_l1.shape == (12, 6)  # layer 1 reads both directions: 2H features
    _fill(lstm)
    out, (h, c) = lstm(minnet.tensor(X))
    assert out.shape == (3, 2, 6) and h.shape == c.shape == (4, 2, 3)
    np.testing.assert_allclose(out.numpy()[-1], [
        [-0.2929047826075242, -0.2898097236473816, -0.2748501541987723,
         0.13384269540274904, 0.08280085076378613, -0.05836964888860029],
        [-0.30410947326272075, -0.29550350591686414, -0.2876976575757255,
         0.1425373065840152, 0.09358486195961291, -0.05051343475896668]], rtol=1e-12)
    np.testing.assert_allclose(h.numpy()[:, 0], [
        [0.15972033920865134, 0.1718475384242194, -0.14861521196976732],
        [-0.06783804942188361, 0.10595375033228789, 0.3181443752069075],
        [-0.2929047826075242, -0.2898097236473816, -0.2748501541987723],
        [0.18799499719141843, 0.13710160267848562, -0.14831451555983644]], rtol=1e-12)
    np.testing.assert_allclose(c.numpy()[:, 1, 0], [
        0.45529439127641247, -0.01094082082681631, -0.5551679346801263, 0.6586145209224803],
        rtol=1e-12)
    # the reverse direction's final state is its state after reading step 0
    np.testing.assert_allclose(h.numpy()[3], out.numpy()[0, :, 3:], rtol=0)


def test_bidirectional_gru_gradcheck_with_initial_state():
    gru = nn.GRU(2, 2, num_layers=2, bidirectional=True, batch_first=True, dtype=np.float64)
    _fill(gru)
    x = minnet.tensor(X.transpose(1, 0, 2).copy(), requires_grad=True)  # (N, L, I)
    h0 = minnet.tensor(0.1 * np.arange(16.0).reshape(4, 2, 2), requires_grad=True)
    names = [n for n, _ in gru.named_parameters()]

    def run(inp, hx, *weights):
        for name, w in zip(names, weights):
            gru._parameters[name] = w
        out, h = gru(inp, hx)
        return out.sum() + (h * h).sum()

    assert minnet.gradcheck(run, (x, h0, *(getattr(gru, n) for n in names)))


def test_rnn_dropout_acts_between_layers_only_in_training():
    rnn = nn.RNN(2, 3, num_layers=2, dropout=1.0, dtype=np.float64)
    _fill(rnn)
    x = minnet.tensor(X)
    out_train, _ = rnn(x)
    # p=1 zeroes layer 0's output, so layer 1 sees zeros: h_t = tanh(b + W_hh h_{t-1})
    w_hh, b = rnn.weight_hh_l1.numpy(), rnn.bias_ih_l1.numpy() + rnn.bias_hh_l1.numpy()
    h = np.zeros((2, 3))
    for t in range(3):
        h = np.tanh(b + h @ w_hh.T)
        np.testing.assert_allclose(out_train.numpy()[t], h, rtol=1e-12)
    rnn.eval()
    no_dropout = nn.RNN(2, 3, num_layers=2, dtype=np.float64)
    no_dropout.load_state_dict(rnn.state_dict())
    np.testing.assert_array_equal(rnn(x)[0].numpy(), no_dropout(x)[0].numpy())
    with pytest.warns(UserWarning, match="non-zero dropout expects num_layers greater than 1"):
        nn.LSTM(2, 3, dropout=0.5)
    with pytest.raises(ValueError, match="dropout should be a number in range"):
        nn.LSTM(2, 3, num_layers=2, dropout=1.5)


def test_lstm_proj_size_zero_is_accepted_and_other_sizes_refused():
    assert nn.LSTM(2, 3, proj_size=0).proj_size == 0
    with pytest.raises(NotImplementedError, match="LSTM\\(\\): proj_size=2"):
        nn.LSTM(2, 3, proj_size=2)
    with pytest.raises(TypeError, match="hx should be a tuple \\(h_0, c_0\\)"):
        nn.LSTM(2, 3)(minnet.ones(4, 1, 2), minnet.zeros(1, 1, 3))


def test_recurrent_switches_must_be_bools_and_sizes_ints():
    """PyTorch's module error samples: bias='False' would otherwise switch the bias on."""
    with pytest.raises(TypeError, match="LSTM\\(\\): bias should be of type bool, got: str"):
        nn.LSTM(2, 3, bias="False")
    with pytest.raises(TypeError, match="GRU\\(\\): batch_first should be of type bool"):
        nn.GRU(2, 3, batch_first=1)
    with pytest.raises(TypeError, match="RNN\\(\\): hidden_size should be of type int, got: "
                                        "float 5.0"):
        nn.RNN(2, 5.0)
    with pytest.raises(ValueError, match="GRUCell\\(\\): input_size must be a positive"):
        nn.GRUCell(0, 3)
    with pytest.raises(ValueError, match="BatchNorm1d\\(\\): eps must be positive"):
        nn.BatchNorm1d(3, eps=-1)
