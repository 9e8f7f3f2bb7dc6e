"""RNNCell/LSTMCell/GRUCell, ModuleDict/ParameterList/ParameterDict, Unflatten, and
Embedding's max_norm, scale_grad_by_freq and from_pretrained (float64)."""
import numpy as np
import pytest

import minnet
from minnet import nn

RNG = np.random.default_rng(0)
X = RNG.standard_normal((3, 2))   # (N, I)
H = RNG.standard_normal((3, 4))   # (N, H)
C = RNG.standard_normal((3, 4))


@pytest.mark.parametrize("cell_class, layer_class", [
    (nn.RNNCell, nn.RNN), (nn.LSTMCell, nn.LSTM), (nn.GRUCell, nn.GRU)])
def test_a_cell_is_one_step_of_its_layer(cell_class, layer_class):
    cell = cell_class(2, 4, dtype=np.float64)
    layer = layer_class(2, 4, dtype=np.float64)
    assert [n for n, _ in cell.named_parameters()] == ["weight_ih", "weight_hh", "bias_ih",
                                                       "bias_hh"]
    layer.load_state_dict({f"{name}_l0": value for name, value in cell.state_dict().items()})
    x = minnet.tensor(X)
    if cell_class is nn.LSTMCell:
        h, c = cell(x, (minnet.tensor(H), minnet.tensor(C)))
        _, (h_n, c_n) = layer(x.unsqueeze(0), (minnet.tensor(H[None]), minnet.tensor(C[None])))
        np.testing.assert_allclose(c.numpy(), c_n.numpy()[0], rtol=1e-14)
    else:
        h = cell(x, minnet.tensor(H))
        _, h_n = layer(x.unsqueeze(0), minnet.tensor(H[None]))
    np.testing.assert_allclose(h.numpy(), h_n.numpy()[0], rtol=1e-14)
    unbatched = cell(x[0])  # no state given: zeros; (I,) -> (H,)
    first = unbatched[0] if cell_class is nn.LSTMCell else unbatched
    assert first.shape == (4,)


def test_cells_gradcheck_and_refuse_bad_states():
    cell = nn.LSTMCell(2, 3, dtype=np.float64)
    x = minnet.tensor(X, requires_grad=True)
    h0 = minnet.tensor(H[:, :3], requires_grad=True)
    c0 = minnet.tensor(C[:, :3], requires_grad=True)
    assert minnet.gradcheck(lambda x, h, c: cell(x, (h, c))[1], (x, h0, c0))
    gru = nn.GRUCell(2, 3, bias=False, dtype=np.float64)
    assert minnet.gradcheck(lambda x, h: gru(x, h), (x, h0))
    with pytest.raises(TypeError, match="LSTMCell: hx should be a tuple \\(h, c\\)"):
        cell(x, h0)
    with pytest.raises(RuntimeError, match="GRUCell: expected hidden state of shape \\(3, 3\\)"):
        gru(x, minnet.zeros(3, 4, dtype=minnet.float64))
    with pytest.raises(ValueError, match="RNNCell: expected input of shape \\(N, 5\\)"):
        nn.RNNCell(5, 2)(minnet.zeros(2, 3))


def test_module_and_parameter_containers_register_what_they_hold():
    class Model(nn.Module):
        def __init__(self):
            super().__init__()
            self.heads = nn.ModuleDict({"a": nn.Linear(2, 3), "b": nn.Linear(2, 1)})
            self.scales = nn.ParameterList([minnet.ones(2), nn.Parameter(minnet.zeros(1))])
            self.extra = nn.ParameterDict({"w": minnet.ones(3)})

    model = Model()
    assert list(model.state_dict()) == ["heads.a.weight", "heads.a.bias", "heads.b.weight",
                                        "heads.b.bias", "scales.0", "scales.1", "extra.w"]
    assert all(p.requires_grad for p in model.parameters())
    assert list(model.heads.keys()) == ["a", "b"] and "b" in model.heads
    model.heads["c"] = nn.Identity()
    assert len(model.heads) == 3 and isinstance(model.scales[0], nn.Parameter)
    with pytest.raises(TypeError, match="ModuleDict: 'd' must be a Module"):
        model.heads["d"] = minnet.ones(1)
    with pytest.raises(ValueError, match="element #0 should be a \\(name, value\\) pair"):
        nn.ModuleDict([nn.ReLU()])


def test_unflatten_inverts_flatten():
    x = minnet.tensor(np.arange(24.0).reshape(2, 12))
    y = nn.Unflatten(1, (3, 4))(x)
    assert y.shape == (2, 3, 4)
    np.testing.assert_array_equal(nn.Flatten()(y).numpy(), x.numpy())
    assert nn.Unflatten(-1, (2, -1))(x).shape == (2, 2, 6)
    with pytest.raises(ValueError, match="the sizes multiply to 10"):
        nn.Unflatten(1, (2, 5))(x)


def test_embedding_max_norm_scale_grad_by_freq_and_from_pretrained():
    weight = np.array([[3.0, 4.0], [0.3, 0.4], [6.0, 8.0]])
    emb = nn.Embedding(3, 2, max_norm=1.0, dtype=np.float64)
    emb.weight.data[...] = weight
    emb(minnet.tensor([0, 1]))
    # row 0 (norm 5) shrunk to norm 1 (PyTorch: max_norm / (norm + 1e-7)); row 1 kept; row 2
    # was not looked up, so it is untouched
    np.testing.assert_allclose(emb.weight.numpy()[0], weight[0] / (5 + 1e-7), rtol=1e-15)
    np.testing.assert_array_equal(emb.weight.numpy()[1:], weight[1:])

    freq = nn.Embedding(3, 2, scale_grad_by_freq=True, dtype=np.float64)
    freq(minnet.tensor([[2, 2, 2, 0]])).sum().backward()
    # torch 2.13 gives [[1, 1], [0, 0], [1, 1]]: each row's gradient divided by its count
    np.testing.assert_array_equal(freq.weight.grad.numpy(), [[1, 1], [0, 0], [1, 1]])

    frozen = nn.Embedding.from_pretrained(minnet.tensor(weight))
    assert not frozen.weight.requires_grad and frozen.embedding_dim == 2
    np.testing.assert_array_equal(frozen(minnet.tensor([2])).numpy(), weight[[2]])
    assert nn.Embedding.from_pretrained(minnet.tensor(weight), freeze=False).weight.requires_grad
    with pytest.raises(NotImplementedError, match="sparse=True \\(sparse gradients\\)"):
        nn.Embedding(3, 2, sparse=True)
    assert nn.Conv2d(1, 2, 3, device="cpu").weight.shape == (2, 1, 3, 3)


def _by_hand(x: np.ndarray, axes: tuple, eps: float = 1e-5) -> np.ndarray:
    return (x - x.mean(axis=axes, keepdims=True)) / np.sqrt(x.var(axis=axes, keepdims=True)
                                                            + eps)


def test_group_norm_normalises_each_group_and_gradchecks():
    x = RNG.standard_normal((2, 6, 3, 2)) * 3 + 1
    gn = nn.GroupNorm(3, 6, dtype=np.float64)
    grouped = x.reshape(2, 3, -1)
    np.testing.assert_allclose(gn(minnet.tensor(x)).numpy(),
                               _by_hand(grouped, (2,)).reshape(x.shape), rtol=1e-12, atol=1e-12)
    gn.weight.data[...] = np.arange(1.0, 7.0)
    gn.bias.data[...] = 0.5
    xt = minnet.tensor(x[:, :, :2, :1].copy(), requires_grad=True)
    assert minnet.gradcheck(lambda v, w, b: gn(v), (xt, gn.weight, gn.bias))
    assert nn.GroupNorm(2, 4, bias=False).bias is None
    with pytest.raises(ValueError, match="num_channels \\(6\\) must be divisible by num_groups"):
        nn.GroupNorm(4, 6)


def test_instance_norm_per_sample_and_channel_with_running_stats():
    x = RNG.standard_normal((3, 2, 5)) * 2 - 1
    inorm = nn.InstanceNorm1d(2, dtype=np.float64)
    np.testing.assert_allclose(inorm(minnet.tensor(x)).numpy(), _by_hand(x, (2,)), rtol=1e-12,
                               atol=1e-12)
    image = minnet.tensor(x[:2, :, :3].reshape(2, 2, 3))  # (C, H, W): no batch dim
    np.testing.assert_allclose(nn.InstanceNorm2d(2, affine=True, dtype=np.float64)(image).numpy(),
                               _by_hand(image.numpy(), (1, 2)), rtol=1e-12, atol=1e-12)
    tracked = nn.InstanceNorm1d(2, track_running_stats=True, momentum=0.5, dtype=np.float64)
    tracked(minnet.tensor(x))
    # running = 0.5 * initial + 0.5 * (per-sample statistics averaged over the batch)
    np.testing.assert_allclose(tracked.running_mean.numpy(), 0.5 * x.mean(axis=(0, 2)),
                               rtol=1e-12)
    np.testing.assert_allclose(tracked.running_var.numpy(),
                               0.5 + 0.5 * x.var(axis=2, ddof=1).mean(axis=0), rtol=1e-12)
    tracked.eval()
    expected = (x - tracked.running_mean.numpy()[None, :, None]) / np.sqrt(
        tracked.running_var.numpy()[None, :, None] + 1e-5)
    np.testing.assert_allclose(tracked(minnet.tensor(x)).numpy(), expected, rtol=1e-12)
    xt = minnet.tensor(x[:1, :, :3].copy(), requires_grad=True)
    assert minnet.gradcheck(lambda v: nn.InstanceNorm1d(2)(v), (xt,))
