"""Layers: shapes, PyTorch names, gradchecks (input and parameters), BatchNorm, Dropout, errors."""
import math

import numpy as np
import pytest

import minnet
import minnet.nn as nn
import minnet.nn.functional as F
from minnet import Tensor


def rng(seed=0):
    return np.random.default_rng(seed)


def x64(*shape, seed=0, scale=1.0, shift=0.0):
    return Tensor(rng(seed).standard_normal(shape) * scale + shift, requires_grad=True)


# -- Linear ----------------------------------------------------------------------------------
def test_linear_shapes_and_names_follow_pytorch():
    layer = nn.Linear(5, 3)
    assert layer.weight.shape == (3, 5) and layer.bias.shape == (3,)
    assert list(layer.state_dict()) == ["weight", "bias"]
    assert layer.weight.dtype == np.float32
    assert nn.Linear(5, 3, bias=False).bias is None
    assert list(nn.Linear(5, 3, bias=False).state_dict()) == ["weight"]
    assert nn.Linear(2, 2, dtype=np.float64).weight.dtype == np.float64
    assert nn.Linear(2, 2, device="cpu").weight.shape == (2, 2)
    with pytest.raises(ValueError, match="CPU"):
        nn.Linear(2, 2, device="cuda")
    assert repr(layer) == "Linear(in_features=5, out_features=3, bias=True)"


def test_linear_computes_x_wt_plus_b_on_batched_inputs():
    layer = nn.Linear(3, 2, dtype=np.float64)
    layer.load_state_dict({"weight": np.array([[1.0, 0.0, -1.0], [2.0, 1.0, 0.0]]),
                           "bias": np.array([0.5, -0.5])})
    out = layer(Tensor(np.array([[[1.0, 2.0, 3.0]], [[0.0, 1.0, 0.0]]])))  # (2, 1, 3)
    assert out.shape == (2, 1, 2)
    np.testing.assert_allclose(out.numpy(), [[[1 - 3 + 0.5, 2 + 2 - 0.5]], [[0.5, 0.5]]])


def test_linear_generator_makes_init_reproducible():
    a = nn.Linear(4, 3, generator=np.random.default_rng(1))
    b = nn.Linear(4, 3, generator=np.random.default_rng(1))
    np.testing.assert_array_equal(a.weight.numpy(), b.weight.numpy())
    np.testing.assert_array_equal(a.bias.numpy(), b.bias.numpy())


@pytest.mark.parametrize("bias", [True, False])
def test_gradcheck_linear(bias):
    layer = nn.Linear(5, 3, bias=bias, generator=rng(2)).double()
    res = minnet.gradcheck(layer, (x64(7, 5),))
    assert res, res
    res = minnet.gradcheck(layer, (x64(2, 3, 5, seed=1),))  # extra batch dims
    assert res, res


def test_linear_shape_error_names_layer_path_and_hint():
    model = nn.Sequential(nn.Linear(64, 10))
    with pytest.raises(ValueError) as error:
        model(Tensor(np.zeros((32, 63), dtype=np.float32)))
    message = str(error.value)
    assert "Linear(in_features=64, out_features=10) at model.0 expected input (..., 64), " \
           "got (32, 63)" in message
    assert "Hint" in message and "in_features=63" in message


def test_linear_rejects_integer_input():
    with pytest.raises(TypeError, match=r"x.float\(\)"):
        nn.Linear(3, 2)(Tensor(np.zeros((4, 3), dtype=np.int64)))


def test_linear_error_suggests_flatten_for_image_input():
    with pytest.raises(ValueError, match="Flatten"):
        nn.Linear(12, 2)(Tensor(np.zeros((4, 3, 2, 2), dtype=np.float32)))


# -- activations -------------------------------------------------------------------------------
ACTIVATION_CASES = [
    (nn.ReLU(), lambda v: np.maximum(v, 0)),
    (nn.LeakyReLU(0.2), lambda v: np.where(v > 0, v, 0.2 * v)),
    (nn.LeakyReLU(), lambda v: np.where(v > 0, v, 0.01 * v)),
    (nn.ELU(alpha=0.7), lambda v: np.where(v > 0, v, 0.7 * (np.exp(v) - 1))),
    (nn.Tanh(), np.tanh),
    (nn.Sigmoid(), lambda v: 1 / (1 + np.exp(-v))),
    (nn.Softmax(dim=1), lambda v: np.exp(v) / np.exp(v).sum(1, keepdims=True)),
    (nn.Softmax(dim=0), lambda v: np.exp(v) / np.exp(v).sum(0, keepdims=True)),
    (nn.LogSoftmax(dim=1), lambda v: v - np.log(np.exp(v).sum(1, keepdims=True))),
]


@pytest.mark.parametrize("layer, reference", ACTIVATION_CASES,
                         ids=[repr(c[0]) for c in ACTIVATION_CASES])
def test_activation_values_and_gradcheck(layer, reference):
    x = x64(5, 7, seed=3)
    np.testing.assert_allclose(layer(x).numpy(), reference(x.numpy()), rtol=1e-12, atol=1e-12)
    res = minnet.gradcheck(layer, (x,))
    assert res, res
    assert list(layer.state_dict()) == []


def test_activation_keeps_float32():
    x = Tensor(np.ones((2, 3), dtype=np.float32))
    for layer, _ in ACTIVATION_CASES:
        assert layer(x).dtype == np.float32


def test_softmax_without_dim_warns_and_uses_pytorch_legacy_choice():
    x = x64(3, 4)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        out = nn.Softmax()(x)
    np.testing.assert_allclose(out.numpy().sum(1), 1.0)  # 2-D input: dim 1


def test_activation_reprs():
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)"


# -- Flatten and Identity ------------------------------------------------------------------------
def test_flatten_and_identity():
    x = x64(2, 3, 5, 7)
    assert nn.Flatten()(x).shape == (2, 105)
    assert nn.Flatten(0, -1)(x).shape == (210,)
    assert nn.Flatten(1, 2)(x).shape == (2, 15, 7)
    res = minnet.gradcheck(nn.Flatten(), (x,))
    assert res, res
    assert nn.Identity(54, unused="yes")(x) is x
    with pytest.raises(IndexError, match="Flatten"):
        nn.Flatten()(x64(3))


# -- BatchNorm ------------------------------------------------------------------------------------
def test_batchnorm_parameters_and_buffers_follow_pytorch():
    bn = nn.BatchNorm1d(3)
    assert list(bn.state_dict()) == ["weight", "bias", "running_mean", "running_var",
                                     "num_batches_tracked"]
    np.testing.assert_array_equal(bn.weight.numpy(), [1, 1, 1])
    np.testing.assert_array_equal(bn.bias.numpy(), [0, 0, 0])
    np.testing.assert_array_equal(bn.running_mean.numpy(), [0, 0, 0])
    np.testing.assert_array_equal(bn.running_var.numpy(), [1, 1, 1])
    assert bn.num_batches_tracked.dtype == np.int64 and bn.num_batches_tracked.shape == ()
    assert [name for name, _ in bn.named_parameters()] == ["weight", "bias"]
    assert list(nn.BatchNorm2d(3, affine=False, track_running_stats=False).state_dict()) == []


def test_batchnorm_training_normalises_each_channel():
    x = x64(8, 3, seed=4, scale=3.0, shift=5.0)
    out = nn.BatchNorm1d(3).double()(x).numpy()
    np.testing.assert_allclose(out.mean(0), 0, atol=1e-12)
    np.testing.assert_allclose(out.var(0), 1 / (1 + 1e-5 / x.numpy().var(0)), rtol=1e-9)


def test_batchnorm_running_stats_after_steps_match_hand_computation():
    bn = nn.BatchNorm1d(2, momentum=0.1).double()
    batches = [np.array([[1.0, 2.0], [3.0, 6.0]]),
               np.array([[0.0, 1.0], [2.0, 1.0], [4.0, 4.0]])]
    running_mean, running_var = np.zeros(2), np.ones(2)
    for batch in batches:
        bn(Tensor(batch))
        n = batch.shape[0]
        # running = 0.9 * running + 0.1 * batch statistic; the variance is unbiased (n - 1)
        running_mean = 0.9 * running_mean + 0.1 * batch.mean(0)
        running_var = 0.9 * running_var + 0.1 * batch.var(0) * n / (n - 1)
    # step 1: mean (2, 4), unbiased var (2, 8) -> running_mean (0.2, 0.4), running_var (1.1, 1.7)
    np.testing.assert_allclose(running_mean, [0.9 * 0.2 + 0.1 * 2.0, 0.9 * 0.4 + 0.1 * 2.0])
    np.testing.assert_allclose(bn.running_mean.numpy(), running_mean)
    np.testing.assert_allclose(bn.running_var.numpy(), running_var)
    assert int(bn.num_batches_tracked.item()) == 2


def test_batchnorm_momentum_none_is_a_cumulative_average():
    bn = nn.BatchNorm1d(1, momentum=None).double()
    means = []
    for batch in ([[1.0], [3.0]], [[5.0], [7.0]], [[0.0], [0.0]]):
        bn(Tensor(np.array(batch)))
        means.append(np.mean(batch))
    np.testing.assert_allclose(bn.running_mean.numpy(), [np.mean(means)])


def test_batchnorm_eval_uses_running_stats():
    bn = nn.BatchNorm2d(3).double()
    bn.load_state_dict({"running_mean": np.array([1.0, 2.0, 3.0]),
                        "running_var": np.array([4.0, 1.0, 0.25]),
                        "weight": np.array([2.0, 1.0, 1.0]),
                        "bias": np.array([0.0, 0.0, 1.0])}, strict=False)
    bn.eval()
    x = np.ones((2, 3, 2, 2))
    out = bn(Tensor(x)).numpy()
    expected = [2 * (1 - 1) / math.sqrt(4 + 1e-5), (1 - 2) / math.sqrt(1 + 1e-5),
                (1 - 3) / math.sqrt(0.25 + 1e-5) + 1]
    np.testing.assert_allclose(out[0, :, 0, 0], expected)
    assert int(bn.num_batches_tracked.item()) == 0  # eval does not update anything
    np.testing.assert_array_equal(bn.running_mean.numpy(), [1, 2, 3])
    # one sample is fine in eval mode
    assert bn(Tensor(np.ones((1, 3, 1, 1)))).shape == (1, 3, 1, 1)


@pytest.mark.parametrize("shape, cls", [((7, 3), nn.BatchNorm1d), ((5, 3, 2), nn.BatchNorm1d),
                                        ((2, 3, 5, 3), nn.BatchNorm2d)])
@pytest.mark.parametrize("training", [True, False])
def test_gradcheck_batchnorm(shape, cls, training):
    bn = cls(3).double()
    bn.load_state_dict({"weight": rng(5).standard_normal(3), "bias": rng(6).standard_normal(3),
                        "running_mean": rng(7).standard_normal(3),
                        "running_var": rng(8).random(3) + 0.5}, strict=False)
    bn.train(training)
    res = minnet.gradcheck(bn, (x64(*shape, seed=9, scale=2.0, shift=1.0),))
    assert res, res


def test_gradcheck_batchnorm_without_affine():
    res = minnet.gradcheck(nn.BatchNorm1d(3, affine=False).double(), (x64(5, 3, seed=10),))
    assert res, res


def test_batchnorm_errors_name_layer_and_shapes():
    model = nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(6))
    with pytest.raises(ValueError, match=r"BatchNorm1d\(6\) at model.1 expected 6 channels"):
        model(Tensor(np.zeros((3, 4), dtype=np.float32)))
    with pytest.raises(ValueError, match="BatchNorm2d"):
        nn.BatchNorm1d(3)(Tensor(np.zeros((2, 3, 4, 4))))
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(Tensor(np.zeros((1, 3))))


def test_functional_batch_norm_without_running_stats():
    x = x64(6, 2, seed=11)
    out = F.batch_norm(x, None, None, training=True)
    expected = (x.numpy() - x.numpy().mean(0)) / np.sqrt(x.numpy().var(0) + 1e-5)
    np.testing.assert_allclose(out.numpy(), expected)


# -- Dropout ---------------------------------------------------------------------------------------
def test_dropout_scales_survivors_and_zeroes_about_p():
    x = Tensor(np.ones((200, 100), dtype=np.float32))
    out = nn.Dropout(0.3, generator=np.random.default_rng(0))(x).numpy()
    kept = out != 0
    np.testing.assert_allclose(out[kept], 1 / 0.7, rtol=1e-6)
    assert kept.mean() == pytest.approx(0.7, abs=0.01)
    assert out.mean() == pytest.approx(1.0, abs=0.02)  # expectation preserved
    assert out.dtype == np.float32


def test_dropout_is_deterministic_with_a_seed_and_identity_in_eval():
    x = x64(10, 10)
    a = nn.Dropout(0.5, generator=np.random.default_rng(3))(x).numpy()
    b = nn.Dropout(0.5, generator=np.random.default_rng(3))(x).numpy()
    np.testing.assert_array_equal(a, b)
    minnet.manual_seed(5)
    c = nn.Dropout()(x).numpy()
    minnet.manual_seed(5)
    np.testing.assert_array_equal(c, nn.Dropout()(x).numpy())
    layer = nn.Dropout(0.9).eval()
    assert layer(x) is x
    assert F.dropout(x, 0.5, training=False) is x
    np.testing.assert_array_equal(F.dropout(x, 1.0).numpy(), 0)


def test_dropout_gradient_uses_the_same_mask():
    x = x64(5, 7)
    out = F.dropout(x, 0.4, True, generator=np.random.default_rng(1))
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), (out.numpy() != 0) / 0.6)
    res = minnet.gradcheck(
        lambda x: F.dropout(x, 0.4, True, generator=np.random.default_rng(1)), (x,))
    assert res, res


def test_dropout_rejects_bad_p():
    with pytest.raises(ValueError, match="between 0 and 1"):
        nn.Dropout(1.5)


# -- models ----------------------------------------------------------------------------------------
def test_sequential_state_dict_keys_match_pytorch():
    model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))
    assert list(model.state_dict()) == ["0.weight", "0.bias", "1.weight", "1.bias",
                                        "1.running_mean", "1.running_var",
                                        "1.num_batches_tracked"]


def test_load_state_dict_from_numpy_arrays():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.BatchNorm1d(3))
    g = rng(12)
    state = {"0.weight": g.standard_normal((3, 4)), "0.bias": g.standard_normal(3),
             "2.weight": g.standard_normal(3), "2.bias": g.standard_normal(3),
             "2.running_mean": g.standard_normal(3), "2.running_var": g.random(3),
             "2.num_batches_tracked": np.array(7)}
    model.load_state_dict(state)
    np.testing.assert_allclose(model[0].weight.numpy(), state["0.weight"].astype(np.float32))
    assert model[0].weight.dtype == np.float32
    assert int(model[2].num_batches_tracked.item()) == 7


def test_gradcheck_small_model_end_to_end():
    model = nn.Sequential(nn.Linear(5, 7, generator=rng(13)), nn.BatchNorm1d(7), nn.Tanh(),
                          nn.Linear(7, 3, generator=rng(14))).double()
    y = Tensor(np.array([0, 2, 1, 1, 0]))
    x = x64(5, 5, seed=15)
    res = minnet.gradcheck(lambda x: F.cross_entropy(model(x), y), (x,))
    assert res, res
    res = minnet.gradcheck(model, (x,))
    assert res, res


# -- LayerNorm and Embedding(padding_idx): errors, gradchecks, state_dict ------------------------
def test_layer_norm_module_errors_name_the_layer():
    layer = nn.LayerNorm((3, 4))
    with pytest.raises(ValueError, match=r"LayerNorm\(\(3, 4\)\) expected an input whose last 2 "
                                         r"dim\(s\) are \(3, 4\).*got shape \(2, 4, 3\).*Hint"):
        layer(Tensor(np.ones((2, 4, 3), dtype=np.float32)))
    with pytest.raises(TypeError, match=r"LayerNorm\(\(3, 4\)\) expected a Tensor input, got "
                                        r"ndarray"):
        layer(np.ones((2, 3, 4), dtype=np.float32))
    with pytest.raises(TypeError, match=r"LayerNorm\(\(3, 4\)\) expected a floating-point input"):
        layer(Tensor(np.ones((2, 3, 4), dtype=np.int64)))
    with pytest.raises(ValueError, match=r"LayerNorm\(\(3, 4\)\) expected .* got shape \(4,\)"):
        layer(Tensor(np.ones(4, dtype=np.float32)))  # fewer dims than normalized_shape
    for bad in (0, 5.0, (), (3, -1), True):
        with pytest.raises(ValueError, match=r"LayerNorm\(\): normalized_shape must be .*Hint"):
            nn.LayerNorm(bad)


def test_layer_norm_module_gradcheck_with_parameters_and_state_dict():
    layer = nn.LayerNorm(5, eps=1e-3, dtype=np.float64)
    with minnet.no_grad():
        layer.weight._data[...] = rng(1).standard_normal(5)
        layer.bias._data[...] = rng(2).standard_normal(5)
    x = x64(2, 3, 5)
    result = minnet.gradcheck(lambda t, w, b: layer(t), (x, layer.weight, layer.bias))
    assert result, result
    out = layer(x).numpy()
    normalised = (out - layer.bias.numpy()) / layer.weight.numpy()
    np.testing.assert_allclose(normalised.mean(-1), 0, atol=1e-12)
    copy = nn.LayerNorm(5, eps=1e-3, dtype=np.float64)
    copy.load_state_dict(layer.state_dict())
    assert list(copy.state_dict()) == ["weight", "bias"]
    np.testing.assert_array_equal(copy(x).numpy(), out)
    layer.eval()  # no running statistics: eval computes the same
    np.testing.assert_array_equal(layer(x).numpy(), out)
    assert list(nn.LayerNorm(5, elementwise_affine=False).state_dict()) == []
    assert list(nn.LayerNorm(5, bias=False).state_dict()) == ["weight"]


def test_embedding_padding_idx_state_dict_and_errors():
    source = nn.Embedding(6, 3, padding_idx=-1, generator=rng(0))
    assert source.padding_idx == 5 and not source.weight.numpy()[5].any()
    target = nn.Embedding(6, 3, padding_idx=5, generator=rng(1))
    target.load_state_dict(source.state_dict())
    ids = Tensor(np.array([[0, 5, 2], [5, 5, 1]]))
    np.testing.assert_array_equal(target(ids).numpy(), source(ids).numpy())
    target(ids).sum().backward()
    assert not target.weight.grad.numpy()[5].any() and target.weight.grad.numpy()[0].all()
    with pytest.raises(ValueError, match=r"Embedding\(\): padding_idx must be an int in "
                                         r"\[-6, 6\).*got 6.*Hint"):
        nn.Embedding(6, 3, padding_idx=6)
    with pytest.raises(ValueError, match=r"padding_idx must be an int"):
        nn.Embedding(6, 3, padding_idx=1.0)


@pytest.mark.parametrize("layer, shape, spatial", [(nn.Dropout2d, (8, 6, 3, 3), 2),
                                                   (nn.Dropout1d, (8, 6, 5), 1),
                                                   (nn.Dropout2d, (6, 3, 3), 2)])  # unbatched
def test_channel_dropout_zeroes_whole_channels_and_scales_the_rest(layer, shape, spatial):
    drop = layer(0.25, generator=np.random.default_rng(0))
    x = minnet.tensor(np.ones(shape), requires_grad=True)
    y = drop(x)
    channels = y.numpy().reshape(-1, int(np.prod(shape[-spatial:])))  # one row per channel
    for row in channels:  # each channel all 0 or all 1 / (1 - p)
        assert set(row.tolist()) in ({0.0}, {1 / 0.75})
    assert 0 < (channels[:, 0] == 0).sum() < len(channels)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), y.numpy())  # the gradient uses the same mask
    drop.eval()
    assert drop(x) is x
    with pytest.raises(ValueError, match="Dropout2d: expected input of 3 or 4 dims"):
        nn.Dropout2d()(minnet.ones(2, 3))
