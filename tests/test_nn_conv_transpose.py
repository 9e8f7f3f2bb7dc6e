"""conv_transpose2d and nn.ConvTranspose2d: the adjoint of conv2d, each pixel scattering a
scaled kernel, gradchecks over strides, padding, output_padding, dilation and groups."""
import numpy as np
import pytest

import minnet
from minnet import nn
from minnet.nn import functional as F

RNG = np.random.default_rng(0)


def leaf(shape):
    return minnet.tensor(RNG.normal(size=shape), requires_grad=True)


def scatter_kernels(x, w, stride):
    """The definition written as loops: each input pixel adds x * kernel at stride steps."""
    n, c_in, h, width = x.shape
    _, c_out, kh, kw = w.shape
    out = np.zeros((n, c_out, (h - 1) * stride + kh, (width - 1) * stride + kw))
    for i in range(h):
        for j in range(width):
            out[:, :, i * stride:i * stride + kh, j * stride:j * stride + kw] += np.einsum(
                "nc,cokl->nokl", x[:, :, i, j], w)
    return out


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_each_pixel_scatters_a_scaled_kernel(stride):
    x, w = leaf((2, 3, 4, 5)), leaf((3, 2, 3, 2))
    np.testing.assert_allclose(F.conv_transpose2d(x, w, stride=stride).numpy(),
                               scatter_kernels(x.numpy(), w.numpy(), stride), rtol=1e-12)


def test_it_is_the_adjoint_of_conv2d():
    # <conv2d(a, w), b> = <a, conv_transpose2d(b, w)> for the same stride and padding
    a, w = RNG.normal(size=(2, 3, 9, 8)), RNG.normal(size=(4, 3, 3, 3))
    b = RNG.normal(size=(2, 4, 5, 4))   # conv2d's output size for a (9, 8) input
    left = (F.conv2d(minnet.tensor(a), minnet.tensor(w), stride=2, padding=1).numpy() * b).sum()
    right = (a * F.conv_transpose2d(minnet.tensor(b), minnet.tensor(w), stride=2, padding=1,
                                    output_padding=(0, 1)).numpy()).sum()
    assert left == pytest.approx(right, rel=1e-12)


@pytest.mark.parametrize("options", [dict(), dict(stride=2, padding=1, output_padding=1),
                                     dict(dilation=2), dict(groups=2, stride=2)])
def test_gradcheck(options):
    x, w, b = leaf((2, 4, 3, 3)), leaf((4, 2, 3, 2)), leaf((2 * options.get("groups", 1),))
    result = minnet.gradcheck(lambda a, k, c: F.conv_transpose2d(a, k, c, **options), (x, w, b))
    assert result, result


def test_layer_doubles_the_size_and_reaches_an_output_size():
    layer = nn.ConvTranspose2d(4, 6, kernel_size=2, stride=2)
    assert layer.weight.shape == (4, 6, 2, 2) and layer(minnet.randn(1, 4, 5, 5)).shape == \
        (1, 6, 10, 10)
    strided = nn.ConvTranspose2d(4, 6, 3, stride=2, padding=1)
    assert strided(minnet.randn(1, 4, 7, 7)).shape == (1, 6, 13, 13)
    assert strided(minnet.randn(1, 4, 7, 7), output_size=(14, 14)).shape == (1, 6, 14, 14)
    assert repr(strided) == ("ConvTranspose2d(4, 6, kernel_size=(3, 3), stride=(2, 2), "
                             "padding=(1, 1))")


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match=r"conv_transpose2d\(\): weight must be \(C_in, "
                                         r"C_out / groups, kh, kw\).*in-channels first"):
        F.conv_transpose2d(minnet.randn(1, 3, 4, 4), minnet.randn(2, 3, 3, 3))
    with pytest.raises(ValueError, match="output_padding .* must be >= 0 and smaller than "
                                         "the stride"):
        F.conv_transpose2d(minnet.randn(1, 3, 4, 4), minnet.randn(3, 2, 3, 3),
                           output_padding=1)
    with pytest.raises(ValueError, match="groups=2 must divide"):
        nn.ConvTranspose2d(3, 4, 3, groups=2)
