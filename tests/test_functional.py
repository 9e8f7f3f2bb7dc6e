"""nn.functional: every functional form agrees with its layer and is differentiable."""
import numpy as np
import pytest

import minnet
import minnet.nn as nn
import minnet.nn.functional as F
from minnet import Tensor


def x64(*shape, seed=0):
    return Tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


def test_functional_names_exist():
    for name in ("linear", "relu", "leaky_relu", "elu", "tanh", "sigmoid", "softmax",
                 "log_softmax", "dropout", "batch_norm", "pad", "mse_loss", "l1_loss",
                 "smooth_l1_loss", "cross_entropy", "nll_loss", "binary_cross_entropy",
                 "binary_cross_entropy_with_logits"):
        assert callable(getattr(F, name)), name


def test_conv_functions_are_reexported_when_present():
    try:
        from minnet.ops import conv
    except ImportError:
        assert not hasattr(F, "conv2d")
        return
    for name in ("conv2d", "max_pool2d", "avg_pool2d"):
        assert getattr(F, name) is getattr(conv, name)


def test_linear_matches_layer_and_gradchecks():
    layer = nn.Linear(5, 3).double()
    x = x64(7, 5)
    np.testing.assert_allclose(F.linear(x, layer.weight, layer.bias).numpy(), layer(x).numpy())
    w = x64(3, 5, seed=1)
    b = x64(3, seed=2)
    res = minnet.gradcheck(F.linear, (x, w, b))
    assert res, res
    res = minnet.gradcheck(F.linear, (x, w))
    assert res, res


@pytest.mark.parametrize("fn, layer", [
    (F.relu, nn.ReLU()), (lambda x: F.leaky_relu(x, 0.3), nn.LeakyReLU(0.3)),
    (lambda x: F.elu(x, 1.5), nn.ELU(1.5)), (F.tanh, nn.Tanh()), (F.sigmoid, nn.Sigmoid()),
    (lambda x: F.softmax(x, dim=-1), nn.Softmax(-1)),
    (lambda x: F.log_softmax(x, dim=0), nn.LogSoftmax(0)),
])
def test_activation_functions_match_layers_and_gradcheck(fn, layer):
    x = x64(3, 5, 7, seed=3)
    np.testing.assert_allclose(fn(x).numpy(), layer(x).numpy())
    res = minnet.gradcheck(fn, (x,))
    assert res, res


def test_softmax_without_dim_warns_like_pytorch():
    x = x64(2, 3)
    with pytest.warns(UserWarning, match="Implicit dimension"):
        out = F.softmax(x)
    np.testing.assert_allclose(out.numpy().sum(1), 1.0)


def test_softmax_dtype_argument_and_stability():
    x = Tensor(np.array([[1e4, 0.0, -1e4]], dtype=np.float32))
    out = F.softmax(x, dim=1, dtype=np.float64)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), [[1, 0, 0]])
    assert np.all(np.isfinite(F.log_softmax(x, dim=1).numpy()))


def test_batch_norm_functional_matches_layer_and_gradchecks():
    x = x64(5, 3, 2, seed=4)
    weight, bias = x64(3, seed=5), x64(3, seed=6)
    bn = nn.BatchNorm1d(3).double()
    bn.load_state_dict({"weight": weight.numpy(), "bias": bias.numpy()}, strict=False)
    running_mean = Tensor(np.zeros(3))
    running_var = Tensor(np.ones(3))
    out = F.batch_norm(x, running_mean, running_var, weight, bias, training=True)
    np.testing.assert_allclose(out.numpy(), bn(x).numpy())
    np.testing.assert_allclose(running_mean.numpy(), bn.running_mean.numpy())
    res = minnet.gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
                           (x, weight, bias))
    assert res, res
    res = minnet.gradcheck(lambda x, w, b: F.batch_norm(x, running_mean, running_var, w, b),
                           (x, weight, bias))
    assert res, res


def test_pad_is_pytorch_ordered():
    x = x64(2, 3)
    out = F.pad(x, (1, 2))  # last dim: 1 before, 2 after
    assert out.shape == (2, 6)
    np.testing.assert_array_equal(out.numpy()[:, 1:4], x.numpy())
    assert F.pad(x, (1, 1, 2, 0), value=5.0).shape == (4, 5)
    res = minnet.gradcheck(lambda x: F.pad(x, (1, 2, 0, 1)), (x,))
    assert res, res


def test_dropout_functional():
    x = x64(4, 5)
    out = F.dropout(x, p=0.5, training=True, generator=np.random.default_rng(0))
    assert set(np.unique(out.numpy()[out.numpy() != 0] / x.numpy()[out.numpy() != 0]).round(6)) == {2.0}
    with pytest.raises(ValueError, match="between 0 and 1"):
        F.dropout(x, p=-0.1)
