"""nn.init: gains, fans, distributions' statistics, in-place behaviour, generators."""
import math

import numpy as np
import pytest

import minnet
import minnet.nn as nn
from minnet import Tensor
from minnet.nn import init


def weight(*shape, dtype=np.float64):
    return Tensor(np.zeros(shape, dtype=dtype), requires_grad=True)


def test_calculate_gain_values():
    assert init.calculate_gain("linear") == 1
    assert init.calculate_gain("conv2d") == 1
    assert init.calculate_gain("sigmoid") == 1
    assert init.calculate_gain("tanh") == pytest.approx(5 / 3)
    assert init.calculate_gain("relu") == pytest.approx(math.sqrt(2))
    assert init.calculate_gain("leaky_relu") == pytest.approx(math.sqrt(2 / (1 + 0.01 ** 2)))
    assert init.calculate_gain("leaky_relu", 0.2) == pytest.approx(math.sqrt(2 / 1.04))
    assert init.calculate_gain("selu") == 0.75
    with pytest.raises(ValueError, match="unsupported nonlinearity"):
        init.calculate_gain("swish")


def test_fan_in_and_fan_out_for_linear_and_conv_weights():
    assert init._calculate_fan_in_and_fan_out(weight(7, 3)) == (3, 7)
    # conv (out=5, in=3, 2x2): each output sees 3*2*2 inputs, each input feeds 5*2*2 outputs
    assert init._calculate_fan_in_and_fan_out(weight(5, 3, 2, 2)) == (12, 20)
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        init._calculate_fan_in_and_fan_out(weight(5))


def test_initialisers_work_in_place_and_return_the_tensor():
    w = weight(3, 4)
    original = w.numpy()
    for fn in (init.zeros_, init.ones_, lambda t: init.constant_(t, 0.25),
               init.xavier_uniform_, init.kaiming_normal_, init.lecun_normal_):
        assert fn(w) is w
        assert w.numpy() is original  # same array, modified in place
    assert w.grad_fn is None and w.requires_grad  # still a leaf parameter
    init.constant_(w, 0.25)
    assert np.all(w.numpy() == 0.25)


def test_dtype_is_kept():
    w = weight(3, 4, dtype=np.float32)
    init.normal_(w)
    assert w.dtype == np.float32


def test_uniform_and_normal_statistics():
    w = weight(200, 300)
    init.uniform_(w, -2.0, 3.0, generator=np.random.default_rng(0))
    assert w.numpy().min() >= -2 and w.numpy().max() < 3
    assert w.numpy().mean() == pytest.approx(0.5, abs=0.02)
    init.normal_(w, mean=1.0, std=0.5, generator=np.random.default_rng(0))
    assert w.numpy().mean() == pytest.approx(1.0, abs=0.01)
    assert w.numpy().std() == pytest.approx(0.5, rel=0.01)


def test_xavier_statistics():
    fan_in, fan_out = 300, 200
    w = weight(fan_out, fan_in)
    std = math.sqrt(2 / (fan_in + fan_out))
    init.xavier_normal_(w, generator=np.random.default_rng(1))
    assert w.numpy().std() == pytest.approx(std, rel=0.01)
    init.xavier_uniform_(w, gain=2.0, generator=np.random.default_rng(1))
    bound = 2.0 * math.sqrt(6 / (fan_in + fan_out))
    assert np.abs(w.numpy()).max() <= bound and np.abs(w.numpy()).max() > 0.99 * bound
    assert w.numpy().std() == pytest.approx(2 * std, rel=0.01)


@pytest.mark.parametrize("mode", ["fan_in", "fan_out"])
def test_kaiming_statistics_use_the_chosen_fan(mode):
    w = weight(100, 50, 3, 3)  # fan_in = 450, fan_out = 900
    fan = 450 if mode == "fan_in" else 900
    init.kaiming_normal_(w, mode=mode, nonlinearity="relu", generator=np.random.default_rng(2))
    assert w.numpy().std() == pytest.approx(math.sqrt(2 / fan), rel=0.01)
    init.kaiming_uniform_(w, a=0.2, mode=mode, generator=np.random.default_rng(2))
    bound = math.sqrt(3) * math.sqrt(2 / (1 + 0.2 ** 2)) / math.sqrt(fan)
    assert np.abs(w.numpy()).max() <= bound and np.abs(w.numpy()).max() > 0.99 * bound
    with pytest.raises(ValueError, match="mode"):
        init.kaiming_normal_(w, mode="fan_avg")


def test_lecun_normal_statistics():
    w = weight(300, 400)
    init.lecun_normal_(w, generator=np.random.default_rng(3))
    assert w.numpy().std() == pytest.approx(1 / math.sqrt(400), rel=0.01)


def test_trunc_normal_stays_in_bounds():
    w = weight(50, 50)
    init.trunc_normal_(w, std=1.0, a=-0.5, b=0.5, generator=np.random.default_rng(4))
    assert w.numpy().min() >= -0.5 and w.numpy().max() <= 0.5


def test_generator_makes_initialisation_reproducible():
    a, b = weight(4, 5), weight(4, 5)
    init.kaiming_uniform_(a, generator=np.random.default_rng(7))
    init.kaiming_uniform_(b, generator=np.random.default_rng(7))
    np.testing.assert_array_equal(a.numpy(), b.numpy())
    minnet.manual_seed(11)
    init.normal_(a)
    minnet.manual_seed(11)
    init.normal_(b)
    np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_linear_default_init_is_uniform_one_over_sqrt_fan_in():
    layer = nn.Linear(400, 300, generator=np.random.default_rng(5))
    bound = 1 / math.sqrt(400)  # kaiming_uniform_(a=sqrt(5)): sqrt(3) * sqrt(1/3) / sqrt(400)
    for param in (layer.weight, layer.bias):
        assert np.abs(param.numpy()).max() <= bound
        assert np.abs(param.numpy()).max() > 0.98 * bound
    # U(-b, b) has std b / sqrt(3)
    assert layer.weight.numpy().std() == pytest.approx(bound / math.sqrt(3), rel=0.01)


def test_initialisers_record_no_graph():
    w = weight(3, 3)
    init.xavier_normal_(w)
    assert w.is_leaf and w.grad is None


def test_orthogonal_rows_or_columns_are_orthonormal_times_gain():
    wide = nn.Parameter(np.zeros((5, 8)))
    init.orthogonal_(wide, gain=2.0, generator=np.random.default_rng(0))
    q = wide.numpy()
    np.testing.assert_allclose(q @ q.T, 4 * np.eye(5), atol=1e-12)
    tall = minnet.zeros(8, 2, 3, dtype=minnet.float64)  # dimensions after the first flattened
    init.orthogonal_(tall, generator=np.random.default_rng(0))
    q = tall.numpy().reshape(8, 6)
    np.testing.assert_allclose(q.T @ q, np.eye(6), atol=1e-12)
    assert not wide.grad_fn and wide.requires_grad
    with pytest.raises(ValueError, match="orthogonal_\\(\\): only tensors with 2 or more"):
        init.orthogonal_(minnet.zeros(3))


def test_eye_and_dirac_make_identity_layers():
    w = minnet.zeros(3, 5)
    np.testing.assert_array_equal(init.eye_(w).numpy(), np.eye(3, 5))
    # torch.nn.init.dirac_(torch.empty(4, 2, 3, 3), groups=2): one 1 per (group, channel)
    k = init.dirac_(minnet.ones(4, 2, 3, 3), groups=2).numpy()
    assert k.sum() == 4
    assert k[0, 0, 1, 1] == k[1, 1, 1, 1] == k[2, 0, 1, 1] == k[3, 1, 1, 1] == 1
    x = minnet.tensor(np.random.default_rng(0).standard_normal((1, 3, 6)))
    conv = nn.Conv1d(3, 3, 3, padding=1, bias=False, dtype=minnet.float64)
    init.dirac_(conv.weight)
    np.testing.assert_allclose(conv(x).numpy(), x.numpy(), rtol=1e-15)  # the identity
    with pytest.raises(ValueError, match="dirac_\\(\\): dim 0 \\(4\\) must be divisible"):
        init.dirac_(minnet.zeros(4, 2, 3), groups=3)
    with pytest.raises(ValueError, match="eye_\\(\\): only 2-D tensors"):
        init.eye_(minnet.zeros(2, 2, 2))


def test_sparse_zeroes_the_same_count_in_every_column():
    w = init.sparse_(minnet.zeros(10, 6), sparsity=0.3, std=0.5,
                     generator=np.random.default_rng(0)).numpy()
    assert ((w == 0).sum(axis=0) == 3).all()  # ceil(0.3 * 10)


def test_deprecated_names_without_underscore_still_work_and_warn():
    w = minnet.zeros(3, 3)
    with pytest.warns(FutureWarning, match="`nn.init.constant` is now deprecated in favor of "
                                           "`nn.init.constant_`"):
        init.constant(w, 0.5)
    assert (w.numpy() == 0.5).all()
    with pytest.warns(FutureWarning, match="xavier_uniform_"):
        init.xavier_uniform(w, gain=1.0)
