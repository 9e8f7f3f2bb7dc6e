"""nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d: shapes, parameters, init, repr, errors, gradcheck."""
import math

import numpy as np
import pytest

import minnet
from minnet.nn.conv import Conv2d
from minnet.nn.containers import Sequential
from minnet.nn.pooling import AvgPool2d, MaxPool2d


def images(*shape, dtype=np.float32, seed=0):
    return minnet.tensor(np.random.default_rng(seed).standard_normal(shape).astype(dtype))


def test_conv2d_parameters_follow_pytorch():
    layer = Conv2d(3, 8, 5, generator=np.random.default_rng(0))
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    assert layer.weight.shape == (8, 3, 5, 5) and layer.bias.shape == (8,)
    assert layer.weight.dtype == np.float32 and layer.weight.requires_grad
    assert list(layer.state_dict()) == ["weight", "bias"]
    no_bias = Conv2d(3, 8, (3, 2), bias=False)
    assert no_bias.bias is None and list(no_bias.state_dict()) == ["weight"]
    assert no_bias.weight.shape == (8, 3, 3, 2)
    assert Conv2d(1, 2, 3, dtype=np.float64).weight.dtype == np.float64


def test_conv2d_init_is_uniform_within_one_over_sqrt_fan_in():
    layer = Conv2d(4, 64, 3, generator=np.random.default_rng(1))
    bound = 1 / math.sqrt(4 * 3 * 3)
    weights = layer.weight.numpy()
    assert np.abs(weights).max() <= bound and np.abs(layer.bias.numpy()).max() <= bound
    # a uniform on [-b, b] fills the range and has variance b^2 / 3
    assert np.abs(weights).max() > 0.95 * bound
    assert abs(weights.var() - bound ** 2 / 3) < 0.1 * bound ** 2 / 3


def test_conv2d_init_is_nn_init_kaiming_uniform_and_bias_bound_as_in_pytorch():
    # the layer's default init is exactly these two calls on one generator, in this order
    layer = Conv2d(3, 5, (2, 4), generator=np.random.default_rng(11))
    weight = minnet.nn.Parameter(np.empty((5, 3, 2, 4), dtype=np.float32))
    bias = minnet.nn.Parameter(np.empty(5, dtype=np.float32))
    rng = np.random.default_rng(11)
    minnet.nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=rng)
    bound = 1 / math.sqrt(3 * 2 * 4)
    minnet.nn.init.uniform_(bias, -bound, bound, generator=rng)
    np.testing.assert_array_equal(layer.weight.numpy(), weight.numpy())
    np.testing.assert_array_equal(layer.bias.numpy(), bias.numpy())


def test_conv2d_init_is_reproducible_with_a_generator():
    a = Conv2d(2, 3, 3, generator=np.random.default_rng(7))
    b = Conv2d(2, 3, 3, generator=np.random.default_rng(7))
    c = Conv2d(2, 3, 3, generator=np.random.default_rng(8))
    np.testing.assert_array_equal(a.weight.numpy(), b.weight.numpy())
    assert not np.array_equal(a.weight.numpy(), c.weight.numpy())


@pytest.mark.parametrize("kwargs, expected", [
    (dict(), (2, 8, 26, 26)),
    (dict(padding=1), (2, 8, 28, 28)),
    (dict(stride=2, padding=1), (2, 8, 14, 14)),
    (dict(stride=(1, 2), padding=(0, 1)), (2, 8, 26, 14)),
    (dict(padding="same"), (2, 8, 28, 28)),
    (dict(padding="valid"), (2, 8, 26, 26)),
    (dict(kernel_size=(2, 4), padding="same"), (2, 8, 28, 28)),
])
def test_conv2d_output_shapes(kwargs, expected):
    kwargs = {"kernel_size": 3, **kwargs}
    layer = Conv2d(1, 8, **kwargs)
    assert layer(images(2, 1, 28, 28)).shape == expected
    assert layer(images(1, 28, 28)).shape == expected[1:]  # a single (C, H, W) image


def test_pool_output_shapes_and_defaults():
    x = images(2, 3, 7, 7)
    assert MaxPool2d(2)(x).shape == (2, 3, 3, 3)
    assert MaxPool2d(2, ceil_mode=True)(x).shape == (2, 3, 4, 4)
    assert MaxPool2d(3, stride=1, padding=1)(x).shape == (2, 3, 7, 7)
    assert AvgPool2d(2)(x).shape == (2, 3, 3, 3)
    assert AvgPool2d((3, 1), stride=(2, 1), padding=(1, 0))(x).shape == (2, 3, 4, 7)
    out, indices = MaxPool2d(2, return_indices=True)(x)
    assert indices.shape == out.shape and indices.dtype == np.int64
    assert MaxPool2d(2).stride == 2 and list(MaxPool2d(2).parameters()) == []


def test_reprs_match_pytorch():
    assert repr(Conv2d(1, 8, 3, padding=1)) == \
        "Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"
    assert repr(Conv2d(3, 4, (3, 5), stride=2, bias=False)) == \
        "Conv2d(3, 4, kernel_size=(3, 5), stride=(2, 2), bias=False)"
    assert repr(MaxPool2d(2)) == \
        "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    assert repr(AvgPool2d(3, 2, 1)) == "AvgPool2d(kernel_size=3, stride=2, padding=1)"


def test_small_cnn_trains_end_to_end():
    """Forward + backward through conv, relu, pool, conv, pool, linear fills every grad."""
    from minnet import ops
    rng = np.random.default_rng(2)
    conv1, conv2 = Conv2d(1, 4, 3, padding=1, generator=rng), Conv2d(4, 6, 3, generator=rng)
    weight = minnet.tensor(rng.standard_normal((6 * 2 * 2, 3)).astype(np.float32) * 0.1,
                           requires_grad=True)
    x = images(5, 1, 11, 11)
    h = MaxPool2d(2)(ops.relu(conv1(x)))           # (5, 4, 5, 5)
    h = AvgPool2d(2, ceil_mode=True)(conv2(h))     # (5, 6, 2, 2)
    loss = (h.reshape(5, -1) @ weight).sum()
    loss.backward()
    for param in (conv1.weight, conv1.bias, conv2.weight, conv2.bias, weight):
        assert param.grad is not None and param.grad.shape == param.shape
        assert np.all(np.isfinite(param.grad.numpy())) and np.any(param.grad.numpy() != 0)


def test_conv2d_module_gradcheck_in_float64():
    layer = Conv2d(2, 3, (3, 2), stride=2, padding=1, generator=np.random.default_rng(3))
    layer.double()
    x = minnet.tensor(np.random.default_rng(4).standard_normal((2, 2, 7, 5)),
                      requires_grad=True)
    result = minnet.gradcheck(layer, (x,))
    assert result, result


def test_conv2d_module_same_padding_even_kernel_gradcheck_in_float64():
    layer = Conv2d(2, 3, (2, 4), padding="same", generator=np.random.default_rng(5)).double()
    x = minnet.tensor(np.random.default_rng(6).standard_normal((2, 2, 5, 6)),
                      requires_grad=True)
    assert layer(x).shape == (2, 3, 5, 6)
    result = minnet.gradcheck(layer, (x,))
    assert result, result


def test_conv2d_channel_error_names_layer_shapes_and_hint():
    layer = Conv2d(3, 8, 3)
    with pytest.raises(ValueError) as error:
        layer(images(4, 1, 28, 28))
    message = str(error.value)
    assert "Conv2d(3, 8, kernel_size=(3, 3))" in message
    assert "(N, 3, H, W)" in message and "got 1 channel" in message
    assert "(4, 1, 28, 28)" in message and "Hint" in message


def test_conv2d_channel_error_says_1_channel_not_1_channels():
    with pytest.raises(ValueError) as error:
        Conv2d(1, 4, 3)(images(2, 3, 8, 8))
    message = str(error.value)
    assert "with 1 channel, got 3 channels" in message
    assert "1 channels" not in message


def test_conv2d_error_spots_channels_last_images_and_flat_batches():
    with pytest.raises(ValueError, match=r"channels-last \(NHWC\).*permute\(0, 3, 1, 2\)"):
        Conv2d(3, 8, 3)(images(2, 28, 28, 3))
    with pytest.raises(ValueError, match=r"got shape \(2, 784\).*flat vectors.*reshape"):
        Conv2d(1, 8, 3)(images(2, 784))
    with pytest.raises(TypeError, match="expected a Tensor input, got ndarray"):
        Conv2d(1, 8, 3)(np.zeros((1, 1, 5, 5)))


def test_error_inside_a_model_names_the_layer_path():
    model = Sequential(Conv2d(1, 4, 3), Conv2d(3, 4, 3))
    with pytest.raises(ValueError, match=r"Conv2d\(3, 4, kernel_size=\(3, 3\)\) at model\.1 "
                                         r"expected .* got 4 channels"):
        model(images(1, 1, 8, 8))


def test_pool_errors_name_the_layer():
    with pytest.raises(ValueError, match=r"MaxPool2d\(kernel_size=2.*got shape \(4, 10\)"):
        MaxPool2d(2)(images(4, 10))
    with pytest.raises(ValueError, match="padding .* half the kernel size"):
        AvgPool2d(2, padding=2)(images(1, 1, 6, 6))


def test_constructor_argument_errors():
    with pytest.raises(ValueError, match="in_channels must be a positive integer"):
        Conv2d(0, 8, 3)
    with pytest.raises(TypeError, match="kernel_size must be an int or a pair"):
        Conv2d(1, 8, 2.5)
    with pytest.raises(ValueError, match="groups must be a positive int that divides"):
        Conv2d(4, 8, 3, groups=3)  # groups=2 is supported since dilation/groups were added
    with pytest.raises(ValueError, match=r"padding='same' is not supported for strided"):
        Conv2d(1, 8, 2, stride=2, padding="same")
    with pytest.raises(ValueError, match=r"'same' or 'valid', got 'full'"):
        Conv2d(1, 8, 3, padding="full")


# --------------------------------------------------------------------------
# Conv1d, MaxPool1d, AvgPool1d; dilation, groups and padding modes of the layers
# --------------------------------------------------------------------------
def sequences(*shape, dtype=np.float32, seed=0):
    return images(*shape, dtype=dtype, seed=seed)


def test_conv1d_input_errors_name_the_layer_and_give_a_hint():
    from minnet.nn.conv import Conv1d
    layer = Conv1d(3, 6, 3)
    with pytest.raises(TypeError, match=r"Conv1d\(3, 6, kernel_size=\(3,\)\) expected a Tensor "
                                        r"input, got ndarray"):
        layer(np.ones((2, 3, 10), dtype=np.float32))
    with pytest.raises(ValueError, match=r"got 4 channels .*Hint: in_channels must equal"):
        layer(sequences(2, 4, 10))
    with pytest.raises(ValueError, match=r"channels-last \(N, L, C\); use x.transpose"):
        layer(sequences(2, 10, 3))
    with pytest.raises(ValueError, match=r"got shape \(2, 3, 4, 10\). Hint: images .* Conv2d"):
        layer(sequences(2, 3, 4, 10))
    with pytest.raises(ValueError, match=r"conv1d\(\): the sequence's length 2"):
        layer(sequences(2, 3, 2))


def test_conv_constructor_errors_for_dilation_and_groups():
    from minnet.nn.conv import Conv1d
    for layer in (Conv1d, Conv2d):
        name = layer.__name__
        with pytest.raises(ValueError, match=rf"{name}\(\): groups must be .*divides both "
                                             rf"in_channels \(4\).*Hint"):
            layer(4, 6, 3, groups=4)
        with pytest.raises(ValueError, match=rf"{name}\(\): padding_mode must be one of"):
            layer(4, 6, 3, padding_mode="zero")
        with pytest.raises(ValueError, match=rf"{name}\(\): dilation must be"):
            layer(4, 6, 3, dilation=0)
    with pytest.raises(ValueError, match=r"Conv1d\(\): kernel_size must be at least 1"):
        Conv1d(4, 6, 0)
    with pytest.raises(TypeError, match=r"Conv1d\(\): kernel_size must be an int or a 1-tuple"):
        Conv1d(4, 6, (3, 3))


def test_conv1d_padding_modes_pad_first_including_same_with_dilation():
    from minnet.nn.conv import Conv1d
    F = minnet.nn.functional
    x = sequences(2, 4, 9, dtype=np.float64)
    for mode in ("reflect", "replicate", "circular"):
        for padding, sides in ((2, (2, 2)), ("same", (3, 3)), ("valid", (0, 0))):
            layer = Conv1d(4, 6, 4, padding=padding, dilation=2, padding_mode=mode,
                           dtype=np.float64)  # 'same': 2 * (4 - 1) = 6 split 3 + 3
            expected = F.conv1d(F.pad(x, sides, mode=mode), layer.weight, layer.bias,
                                dilation=2)
            np.testing.assert_allclose(layer(x).numpy(), expected.numpy(), rtol=1e-12)
    even = Conv1d(4, 6, 2, padding="same", padding_mode="circular", dtype=np.float64)
    np.testing.assert_allclose(even(x).numpy(), F.conv1d(F.pad(x, (0, 1), mode="circular"),
                                                         even.weight, even.bias).numpy())


def test_grouped_and_dilated_layers_gradcheck_in_float64():
    from minnet.nn.conv import Conv1d
    conv1 = Conv1d(4, 6, 3, padding="same", dilation=2, groups=2, padding_mode="reflect",
                   dtype=np.float64)
    x = minnet.tensor(sequences(2, 4, 7, dtype=np.float64).numpy(), requires_grad=True)
    result = minnet.gradcheck(lambda t: conv1(t), (x,))
    assert result, result
    conv2 = Conv2d(4, 4, 3, padding=2, dilation=2, groups=4, dtype=np.float64)
    x = minnet.tensor(images(2, 4, 6, 5, dtype=np.float64).numpy(), requires_grad=True)
    result = minnet.gradcheck(lambda t, w, b: minnet.nn.functional.conv2d(
        t, w, b, padding=2, dilation=2, groups=4), (x, conv2.weight, conv2.bias))
    assert result, result


def test_new_conv_layers_state_dict_round_trip():
    from minnet.nn.conv import Conv1d
    for make in (lambda seed: Conv1d(4, 6, 3, dilation=2, groups=2,
                                     generator=np.random.default_rng(seed)),
                 lambda seed: Conv2d(4, 6, 3, groups=2, dilation=(1, 2), bias=False,
                                     padding_mode="circular",
                                     generator=np.random.default_rng(seed))):
        source, target = make(0), make(1)
        x = sequences(2, 4, 9) if isinstance(source, Conv1d) else images(2, 4, 7, 7)
        assert not np.allclose(source(x).numpy(), target(x).numpy())
        target.load_state_dict(source.state_dict())
        assert list(target.state_dict()) == list(source.state_dict())
        np.testing.assert_array_equal(source(x).numpy(), target(x).numpy())
        with pytest.raises(Exception, match="weight"):  # a non-grouped weight does not fit
            make(0).load_state_dict({**source.state_dict(), "weight": np.ones(
                (6, 4) + source.kernel_size, dtype=np.float32)})


def test_1d_pool_layers_name_themselves_in_shape_errors():
    from minnet.nn.pooling import AvgPool1d, MaxPool1d
    with pytest.raises(ValueError, match=r"MaxPool1d\(kernel_size=2.*got shape \(2, 3, 4, 4\)"
                                         r".*need MaxPool2d"):
        MaxPool1d(2)(images(2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"AvgPool1d\(kernel_size=\(2,\).*got shape \(3,\)"):
        AvgPool1d(2)(images(3))
    with pytest.raises(TypeError, match=r"MaxPool1d\(.*expected a Tensor input"):
        MaxPool1d(2)([1.0, 2.0])
    assert MaxPool1d(2)(sequences(3, 8)).shape == (3, 4)
    assert AvgPool1d(3, 2, 1)(sequences(2, 3, 8)).shape == (2, 3, 4)
