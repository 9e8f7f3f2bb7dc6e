"""interpolate (nearest, linear, bilinear, trilinear), Upsample and pixel_shuffle: values
from their definitions, gradchecks, PyTorch's coordinate conventions."""
import numpy as np
import pytest

import minnet
from minnet import nn
from minnet.nn import functional as F

RNG = np.random.default_rng(0)


def leaf(shape):
    return minnet.tensor(RNG.normal(size=shape), requires_grad=True)


def test_nearest_doubling_repeats_each_pixel_and_sums_its_gradients():
    x = leaf((1, 1, 2, 3))
    out = F.interpolate(x, scale_factor=2)
    np.testing.assert_array_equal(out.numpy()[0, 0], x.numpy()[0, 0].repeat(2, 0).repeat(2, 1))
    out.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), 4.0)   # each pixel read four times


def test_bilinear_with_align_corners_keeps_the_corners_and_interpolates_between():
    x = minnet.tensor(np.array([[[[0.0, 1.0], [2.0, 3.0]]]]))   # f(i, j) = 2i + j
    out = F.interpolate(x, size=(3, 3), mode="bilinear", align_corners=True).numpy()[0, 0]
    np.testing.assert_allclose(out, 2 * np.array([0, .5, 1])[:, None] + np.array([0, .5, 1]))
    # without align_corners the pixel centres line up: doubling a ramp keeps it a ramp inside
    ramp = minnet.tensor(np.arange(4.0).reshape(1, 1, 4))
    np.testing.assert_allclose(F.interpolate(ramp, scale_factor=2, mode="linear").numpy()[0, 0],
                               [0, .25, .75, 1.25, 1.75, 2.25, 2.75, 3])


@pytest.mark.parametrize("shape,options", [
    ((1, 2, 3, 4), dict(size=(5, 7), mode="bilinear")),
    ((1, 2, 3, 4), dict(scale_factor=1.5, mode="bilinear", align_corners=True)),
    ((2, 2, 5), dict(size=3, mode="linear")),
    ((1, 1, 2, 2, 3), dict(scale_factor=2, mode="trilinear")),
    ((1, 2, 3, 4), dict(size=(6, 2), mode="nearest-exact")),
])
def test_gradcheck(shape, options):
    result = minnet.gradcheck(lambda x: F.interpolate(x, **options), (leaf(shape),))
    assert result, result


def test_pixel_shuffle_moves_channel_groups_into_blocks_and_back():
    x = leaf((2, 8, 3, 5))
    shuffled = F.pixel_shuffle(x, 2)
    assert shuffled.shape == (2, 2, 6, 10)
    # output pixel (h * 2 + i, w * 2 + j) of channel c is input channel c * 4 + i * 2 + j
    np.testing.assert_array_equal(shuffled.numpy()[1, 1, 2 * 2 + 1, 3 * 2 + 0],
                                  x.numpy()[1, 1 * 4 + 1 * 2 + 0, 2, 3])
    np.testing.assert_array_equal(F.pixel_unshuffle(shuffled, 2).numpy(), x.numpy())
    result = minnet.gradcheck(lambda t: F.pixel_shuffle(t, 2), (x,))
    assert result, result


def test_layers_and_errors():
    assert nn.Upsample(scale_factor=2, mode="bilinear")(minnet.randn(1, 3, 4, 5)).shape == \
        (1, 3, 8, 10)
    assert nn.PixelShuffle(3)(minnet.randn(1, 9, 2, 2)).shape == (1, 1, 6, 6)
    with pytest.raises(ValueError, match="mode 'bilinear' needs a 4-D input"):
        F.interpolate(minnet.randn(1, 2, 5), size=3, mode="bilinear")
    with pytest.raises(ValueError, match="give exactly one of size and scale_factor"):
        F.interpolate(minnet.randn(1, 2, 5))
    with pytest.raises(ValueError, match="bicubic and area are not in minnet"):
        F.interpolate(minnet.randn(1, 2, 5, 5), size=3, mode="bicubic")
