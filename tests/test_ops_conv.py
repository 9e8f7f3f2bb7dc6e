"""conv2d, max_pool2d, avg_pool2d: values against naive loops, gradchecks, both kernel paths."""
import numpy as np
import pytest

import minnet
from minnet import kernels
from minnet.ops.conv import avg_pool2d, conv2d, max_pool2d


@pytest.fixture(params=["jit", "no_jit"])
def kernel_path(request, monkeypatch):
    """Run the test once with the Numba kernels and once with MINNET_NO_JIT=1."""
    monkeypatch.setenv("MINNET_NO_JIT", "1" if request.param == "no_jit" else "0")
    return request.param


def leaf(array, requires_grad=True):
    return minnet.tensor(np.asarray(array), requires_grad=requires_grad)


# --------------------------------------------------------------------------
# naive definitions, written independently of the library
# --------------------------------------------------------------------------
def naive_conv2d(x, weight, bias, stride, padding):
    n, c, h, w = x.shape
    f, _, kh, kw = weight.shape
    padded = np.zeros((n, c, h + 2 * padding[0], w + 2 * padding[1]))
    padded[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w] = x
    out_h = (h + 2 * padding[0] - kh) // stride[0] + 1
    out_w = (w + 2 * padding[1] - kw) // stride[1] + 1
    out = np.zeros((n, f, out_h, out_w))
    for b in range(n):
        for k in range(f):
            for i in range(out_h):
                for j in range(out_w):
                    patch = padded[b, :, i * stride[0]:i * stride[0] + kh,
                                   j * stride[1]:j * stride[1] + kw]
                    out[b, k, i, j] = np.sum(patch * weight[k]) + (0 if bias is None else bias[k])
    return out


def naive_pool(x, kernel, stride, padding, reduce):
    """Pooling over windows clipped to the input (floor mode)."""
    n, c, h, w = x.shape
    out_h = (h + 2 * padding - kernel) // stride + 1
    out_w = (w + 2 * padding - kernel) // stride + 1
    out = np.zeros((n, c, out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            top, left = i * stride - padding, j * stride - padding
            window = x[:, :, max(top, 0):top + kernel, max(left, 0):left + kernel]
            out[:, :, i, j] = reduce(window)
    return out


# --------------------------------------------------------------------------
# conv2d
# --------------------------------------------------------------------------
def test_conv2d_hand_computed_example(kernel_path):
    x = leaf(np.arange(16.0).reshape(1, 1, 4, 4))
    weight = leaf(np.ones((1, 1, 2, 2)))
    out = conv2d(x, weight, leaf(np.array([0.5])))
    # each output is the sum of a 2x2 block plus 0.5
    assert out.tolist() == [[[[10.5, 14.5, 18.5], [26.5, 30.5, 34.5], [42.5, 46.5, 50.5]]]]
    out.sum().backward()
    # inner pixels are in 4 windows, edges in 2, corners in 1
    assert x.grad.numpy()[0, 0].tolist() == [[1, 2, 2, 1], [2, 4, 4, 2], [2, 4, 4, 2],
                                          [1, 2, 2, 1]]


@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1), ((1, 2), (2, 0)), (3, 2)])
def test_conv2d_forward_matches_naive_loops(kernel_path, stride, padding):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 7, 5))
    weight = rng.standard_normal((5, 3, 3, 2))
    bias = rng.standard_normal(5)
    pair = lambda v: v if isinstance(v, tuple) else (v, v)  # noqa: E731
    out = conv2d(leaf(x), leaf(weight), leaf(bias), stride, padding)
    np.testing.assert_allclose(out.numpy(), naive_conv2d(x, weight, bias, pair(stride),
                                                      pair(padding)), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("stride, padding", [(1, 0), (2, 1), ((2, 1), (1, 2))])
def test_conv2d_gradcheck(kernel_path, stride, padding):
    rng = np.random.default_rng(1)
    x = leaf(rng.standard_normal((2, 3, 7, 5)))
    weight = leaf(rng.standard_normal((5, 3, 3, 3)))
    bias = leaf(rng.standard_normal(5))
    result = minnet.gradcheck(lambda a, w, b: conv2d(a, w, b, stride, padding),
                              (x, weight, bias))
    assert result, result


def test_conv2d_gradcheck_without_bias_and_single_image(kernel_path):
    rng = np.random.default_rng(2)
    x = leaf(rng.standard_normal((2, 5, 7)))  # (C, H, W): no batch axis
    weight = leaf(rng.standard_normal((3, 2, 2, 3)))
    result = minnet.gradcheck(lambda a, w: conv2d(a, w, None, 2, 1), (x, weight))
    assert result, result
    # H: (5 + 2 - 2) // 2 + 1 = 3, W: (7 + 2 - 3) // 2 + 1 = 4
    assert conv2d(x, weight, None, 2, 1).shape == (3, 3, 4)


def test_conv2d_keeps_float32_and_skips_the_input_gradient_for_data(monkeypatch):
    rng = np.random.default_rng(3)
    x = leaf(rng.standard_normal((2, 1, 6, 6)).astype(np.float32), requires_grad=False)
    weight = leaf(rng.standard_normal((4, 1, 3, 3)).astype(np.float32))
    bias = leaf(np.zeros(4, dtype=np.float32))

    def col2im_must_not_run(*args):
        raise AssertionError("col2im ran although the input does not require grad")

    monkeypatch.setattr(kernels, "col2im", col2im_must_not_run)
    out = conv2d(x, weight, bias, padding=1)
    assert out.dtype == np.float32 and out.shape == (2, 4, 6, 6)
    out.sum().backward()
    assert x.grad is None
    assert weight.grad.dtype == np.float32 and bias.grad.dtype == np.float32
    np.testing.assert_allclose(bias.grad.numpy(), np.full(4, 72.0))  # 2 images * 36 positions


def test_conv2d_padding_same_and_valid():
    x = leaf(np.ones((1, 2, 5, 7)), requires_grad=False)
    weight = leaf(np.ones((3, 2, 3, 5)))
    assert conv2d(x, weight, padding="same").shape == (1, 3, 5, 7)
    assert conv2d(x, weight, padding="valid").shape == (1, 3, 3, 3)


def naive_conv2d_same(x, weight, bias):
    """'same' as PyTorch pads it: k - 1 zeros per axis, (k - 1) // 2 before, the rest after."""
    n, c, h, w = x.shape
    kh, kw = weight.shape[2:]
    top, left = (kh - 1) // 2, (kw - 1) // 2
    padded = np.zeros((n, c, h + kh - 1, w + kw - 1))
    padded[:, :, top:top + h, left:left + w] = x
    return naive_conv2d(padded, weight, bias, (1, 1), (0, 0))


@pytest.mark.parametrize("kernel", [(2, 2), (4, 3), (2, 5), (3, 3), (1, 4)])
def test_conv2d_same_matches_naive_loops_for_even_and_odd_kernels(kernel_path, kernel):
    rng = np.random.default_rng(sum(kernel))
    x = rng.standard_normal((2, 3, 6, 7))
    weight = rng.standard_normal((4, 3) + kernel)
    bias = rng.standard_normal(4)
    out = conv2d(leaf(x), leaf(weight), leaf(bias), padding="same")
    assert out.shape == (2, 4, 6, 7)
    np.testing.assert_allclose(out.numpy(), naive_conv2d_same(x, weight, bias), atol=1e-12)


def test_conv2d_same_even_kernel_matches_pytorch_values_and_gradients(kernel_path):
    # Literals from torch.nn.functional.conv2d(x, w, padding='same') and
    # .sum().backward() in PyTorch 2.13: the extra zero row/column of an even
    # kernel goes after (bottom/right), so the last row and column see less.
    x = leaf(np.arange(12.0).reshape(1, 1, 3, 4))
    weight = leaf(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
    out = conv2d(x, weight, padding="same")
    assert out.tolist() == [[[[34, 44, 54, 24], [74, 84, 94, 40], [26, 29, 32, 11]]]]
    out.sum().backward()
    assert x.grad.tolist() == [[[[1, 3, 3, 3], [4, 10, 10, 10], [4, 10, 10, 10]]]]
    assert weight.grad.tolist() == [[[[66, 54], [60, 48]]]]


@pytest.mark.parametrize("kernel", [(2, 2), (4, 3), (3, 2)])
def test_conv2d_same_even_kernel_gradcheck(kernel_path, kernel):
    rng = np.random.default_rng(7)
    x = leaf(rng.standard_normal((2, 2, 5, 4)))
    weight = leaf(rng.standard_normal((3, 2) + kernel))
    bias = leaf(rng.standard_normal(3))
    result = minnet.gradcheck(lambda a, w, b: conv2d(a, w, b, padding="same"),
                              (x, weight, bias))
    assert result, result
    single = leaf(rng.standard_normal((2, 5, 4)))  # a single (C, H, W) image too
    result = minnet.gradcheck(lambda a, w: conv2d(a, w, padding="same"), (single, weight))
    assert result, result


def test_conv2d_same_and_valid_argument_errors():
    x = leaf(np.ones((1, 1, 5, 5)))
    weight = leaf(np.ones((1, 1, 2, 2)))
    with pytest.raises(ValueError, match=r"'same' is not supported for strided.*stride=\(2, 2\)"):
        conv2d(x, weight, stride=2, padding="same")
    with pytest.raises(ValueError, match=r"padding must be an int, a pair of ints, 'same' or "
                                         r"'valid', got 'full'"):
        conv2d(x, weight, padding="full")
    with pytest.raises(ValueError, match=r"padding must be non-negative"):
        conv2d(x, weight, padding=-1)


def test_functional_first_argument_is_named_input_as_in_pytorch():
    import minnet.nn.functional as F

    x = leaf(np.arange(16.0).reshape(1, 1, 4, 4))
    weight = leaf(np.ones((1, 1, 2, 2)))
    assert F.conv2d(input=x, weight=weight).tolist() == F.conv2d(x, weight).tolist()
    assert F.max_pool2d(input=x, kernel_size=2).tolist() == [[[[5, 7], [13, 15]]]]
    assert F.avg_pool2d(input=x, kernel_size=2).tolist() == [[[[2.5, 4.5], [10.5, 12.5]]]]
    assert F.max_pool2d(x, 2).tolist() == [[[[5, 7], [13, 15]]]]


def test_conv2d_errors_name_the_problem():
    x = leaf(np.ones((2, 1, 5, 5)))
    with pytest.raises(ValueError, match=r"expects 3 channels in the input, but the input has "
                                         r"1 channel \(input shape \(2, 1, 5, 5\)\)"):
        conv2d(x, leaf(np.ones((4, 3, 3, 3))))
    with pytest.raises(ValueError, match=r"expects 1 channel in the input, but the input has "
                                         r"2 channels"):
        conv2d(leaf(np.ones((2, 2, 5, 5))), leaf(np.ones((4, 1, 3, 3))))
    with pytest.raises(ValueError, match=r"4-D input.*got shape \(5, 5\).*Hint"):
        conv2d(leaf(np.ones((5, 5))), leaf(np.ones((4, 1, 3, 3))))
    with pytest.raises(ValueError, match=r"spatial size \(5, 5\).*smaller than the kernel"):
        conv2d(x, leaf(np.ones((4, 1, 7, 7))))
    with pytest.raises(TypeError, match=r"float64 and weight dtype float32"):
        conv2d(x, leaf(np.ones((4, 1, 3, 3), dtype=np.float32)))
    with pytest.raises(ValueError, match=r"bias must have shape \(4,\)"):
        conv2d(x, leaf(np.ones((4, 1, 3, 3))), leaf(np.ones(3)))
    with pytest.raises(TypeError, match="stride must be an int or a pair"):
        conv2d(x, leaf(np.ones((4, 1, 3, 3))), stride=(1, 2, 3))


# --------------------------------------------------------------------------
# pooling
# --------------------------------------------------------------------------
def test_max_pool2d_hand_computed_example_with_indices(kernel_path):
    x = leaf(np.array([[[[1.0, 2.0, 5.0, 0.0],
                         [4.0, 3.0, 1.0, 1.0],
                         [0.0, 0.0, 2.0, 2.0],
                         [9.0, 0.0, 2.0, 3.0]]]]))
    out, indices = max_pool2d(x, 2, return_indices=True)
    assert out.tolist() == [[[[4.0, 5.0], [9.0, 3.0]]]]
    assert indices.tolist() == [[[[4, 2], [12, 15]]]]  # flat positions y * 4 + x
    out.backward(np.array([[[[1.0, 2.0], [3.0, 4.0]]]]))
    assert x.grad.numpy()[0, 0].tolist() == [[0, 0, 2, 0], [1, 0, 0, 0], [0, 0, 0, 0],
                                          [3, 0, 0, 4]]


@pytest.mark.parametrize("kernel, stride, padding", [(2, 2, 0), (3, 2, 1), (3, 1, 1)])
def test_pooling_forward_matches_naive_loops(kernel_path, kernel, stride, padding):
    x = np.random.default_rng(4).standard_normal((2, 3, 7, 5))
    expected_max = naive_pool(x, kernel, stride, padding, lambda w: w.max(axis=(2, 3)))
    np.testing.assert_array_equal(max_pool2d(leaf(x), kernel, stride, padding).numpy(),
                                  expected_max)
    window_sums = naive_pool(x, kernel, stride, padding, lambda w: w.sum(axis=(2, 3)))
    window_counts = naive_pool(np.ones_like(x), kernel, stride, padding,
                               lambda w: w.sum(axis=(2, 3)))
    np.testing.assert_allclose(avg_pool2d(leaf(x), kernel, stride, padding).numpy(),
                               window_sums / kernel ** 2, rtol=1e-12)
    np.testing.assert_allclose(avg_pool2d(leaf(x), kernel, stride, padding,
                                          count_include_pad=False).numpy(),
                               window_sums / window_counts, rtol=1e-12)


@pytest.mark.parametrize("kernel, stride, padding, ceil_mode", [(2, 2, 0, False), (3, 2, 1, False),
                                                                ((3, 2), (2, 3), (1, 0), True)])
def test_max_pool2d_gradcheck(kernel_path, kernel, stride, padding, ceil_mode):
    # distinct values a step apart: finite differences never cross a tie
    values = np.random.default_rng(5).permutation(2 * 3 * 7 * 5).reshape(2, 3, 7, 5) * 0.1
    x = leaf(values)
    result = minnet.gradcheck(lambda a: max_pool2d(a, kernel, stride, padding,
                                                   ceil_mode=ceil_mode), (x,))
    assert result, result


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize("kernel, stride, padding, ceil_mode", [(2, 2, 0, False), (3, 2, 1, False),
                                                                ((3, 2), (2, 3), (1, 1), True)])
def test_avg_pool2d_gradcheck(kernel_path, kernel, stride, padding, ceil_mode,
                              count_include_pad):
    x = leaf(np.random.default_rng(6).standard_normal((2, 3, 7, 5)))
    result = minnet.gradcheck(lambda a: avg_pool2d(a, kernel, stride, padding, ceil_mode,
                                                   count_include_pad), (x,))
    assert result, result


def test_avg_pool2d_divisors_at_the_border(kernel_path):
    x = leaf(np.ones((1, 1, 2, 2)))
    # 2x2 windows with padding 1: each of the 4 corner windows holds one real entry
    assert avg_pool2d(x, 2, 2, 1).tolist() == [[[[0.25, 0.25], [0.25, 0.25]]]]
    assert avg_pool2d(x, 2, 2, 1, count_include_pad=False).tolist() == [[[[1.0, 1.0],
                                                                          [1.0, 1.0]]]]
    assert avg_pool2d(x, 2, 2, 1, divisor_override=2).tolist() == [[[[0.5, 0.5], [0.5, 0.5]]]]


def test_ceil_mode_output_sizes():
    x = leaf(np.zeros((1, 1, 5, 5)), requires_grad=False)
    assert max_pool2d(x, 2).shape == (1, 1, 2, 2)
    assert max_pool2d(x, 2, ceil_mode=True).shape == (1, 1, 3, 3)
    # (H=5, k=2, s=2, p=1): ceil((5 + 2 - 2) / 2) + 1 = 4 windows, but the 4th would start
    # at row 6 = H + p, inside the right padding only: PyTorch drops it (verified: 3)
    assert avg_pool2d(x, 2, 2, 1, ceil_mode=True).shape == (1, 1, 3, 3)


def test_pooling_keeps_float32_and_single_images(kernel_path):
    x = leaf(np.random.default_rng(7).standard_normal((3, 6, 6)).astype(np.float32))
    for pool in (max_pool2d, avg_pool2d):
        out = pool(x, 2)
        assert out.shape == (3, 3, 3) and out.dtype == np.float32
        out.sum().backward()
        assert x.grad.shape == (3, 6, 6) and x.grad.dtype == np.float32
        x.grad = None


def test_pooling_errors_name_the_problem():
    x = leaf(np.ones((1, 1, 4, 4)))
    with pytest.raises(ValueError, match="padding .* half the kernel size"):
        max_pool2d(x, 2, padding=2)
    with pytest.raises(ValueError, match=r"spatial size \(4, 4\).*smaller than the kernel"):
        avg_pool2d(x, 5)
    with pytest.raises(ValueError, match="divisor_override must be a positive int"):
        avg_pool2d(x, 2, divisor_override=0)
    with pytest.raises(ValueError, match="dilation must be positive"):
        max_pool2d(x, 2, dilation=0)  # dilation=2 is supported since 2026-12
    with pytest.raises(TypeError, match="floating-point"):
        max_pool2d(minnet.tensor(np.ones((1, 1, 4, 4), dtype=np.int64)), 2)


# --------------------------------------------------------------------------
# dilation, groups and the 1-D forms (conv1d, max_pool1d, avg_pool1d)
# --------------------------------------------------------------------------
def naive_conv2d_general(x, weight, bias, stride, padding, dilation, groups):
    """The definition: output channel k of group g sums input channels of group g over taps
    placed dilation apart."""
    n, c, h, w = x.shape
    f, c_per_group, kh, kw = weight.shape
    padded = np.zeros((n, c, h + 2 * padding[0], w + 2 * padding[1]))
    padded[:, :, padding[0]:padding[0] + h, padding[1]:padding[1] + w] = x
    span_h, span_w = dilation[0] * (kh - 1) + 1, dilation[1] * (kw - 1) + 1
    out_h = (h + 2 * padding[0] - span_h) // stride[0] + 1
    out_w = (w + 2 * padding[1] - span_w) // stride[1] + 1
    out = np.zeros((n, f, out_h, out_w))
    for k in range(f):
        group = k // (f // groups)
        channels = slice(group * c_per_group, (group + 1) * c_per_group)
        for i in range(out_h):
            for j in range(out_w):
                top, left = i * stride[0], j * stride[1]
                patch = padded[:, channels, top:top + span_h:dilation[0],
                               left:left + span_w:dilation[1]]
                out[:, k, i, j] = np.sum(patch * weight[k], axis=(1, 2, 3))
        out[:, k] += 0 if bias is None else bias[k]
    return out


@pytest.mark.parametrize("stride, padding, dilation, groups",
                         [(1, (0, 0), (2, 2), 1), (2, (1, 2), (1, 3), 1), (1, (1, 1), (1, 1), 2),
                          (1, (2, 0), (2, 1), 4), ((2, 1), (1, 1), (3, 2), 2)])
def test_conv2d_dilation_and_groups_match_the_definition(kernel_path, stride, padding,
                                                         dilation, groups):
    rng = np.random.default_rng(10)
    x = rng.standard_normal((2, 4, 9, 8))
    weight = rng.standard_normal((8, 4 // groups, 3, 2))
    bias = rng.standard_normal(8)
    pair = stride if isinstance(stride, tuple) else (stride, stride)
    out = conv2d(leaf(x), leaf(weight), leaf(bias), stride, padding, dilation, groups)
    np.testing.assert_allclose(out.numpy(), naive_conv2d_general(
        x, weight, bias, pair, padding, dilation, groups), rtol=1e-12, atol=1e-12)


def test_conv2d_dilation_and_groups_gradcheck(kernel_path):
    rng = np.random.default_rng(11)
    x = leaf(rng.standard_normal((4, 6, 7)))  # a single (C, H, W) image
    weight = leaf(rng.standard_normal((6, 2, 2, 3)))
    bias = leaf(rng.standard_normal(6))
    result = minnet.gradcheck(lambda a, w, b: conv2d(a, w, b, 1, "same", (2, 1), 2),
                              (x, weight, bias))
    assert result, result


def test_dilate_kernel_gradcheck():
    from minnet.ops.conv import _dilate_kernel
    weight = leaf(np.random.default_rng(12).standard_normal((2, 3, 2, 3)))
    spread = _dilate_kernel(weight, (3, 2))
    assert spread.shape == (2, 3, 4, 5) and spread.numpy()[:, :, 1:3].sum() == 0
    result = minnet.gradcheck(lambda w: _dilate_kernel(w, (3, 2)) * 1.5, (weight,))
    assert result, result


def naive_max_pool2d_dilated(x, kernel, stride, padding, dilation):
    n, c, h, w = x.shape
    padded = np.full((n, c, h + 2 * padding, w + 2 * padding), -np.inf)
    padded[:, :, padding:padding + h, padding:padding + w] = x
    span = dilation * (kernel - 1) + 1
    out_h, out_w = (h + 2 * padding - span) // stride + 1, (w + 2 * padding - span) // stride + 1
    out = np.zeros((n, c, out_h, out_w))
    for i in range(out_h):
        for j in range(out_w):
            window = padded[:, :, i * stride:i * stride + span:dilation,
                            j * stride:j * stride + span:dilation]
            out[:, :, i, j] = window.max(axis=(2, 3))
    return out


def test_max_pool2d_dilation_matches_the_definition_and_gradcheck(kernel_path):
    rng = np.random.default_rng(13)
    x = rng.standard_normal((2, 3, 9, 8))
    out = max_pool2d(leaf(x), 3, 2, 1, dilation=2)
    np.testing.assert_array_equal(out.numpy(), naive_max_pool2d_dilated(x, 3, 2, 1, 2))
    result = minnet.gradcheck(lambda t: max_pool2d(t, 2, 1, 1, dilation=(2, 3), ceil_mode=True),
                              (leaf(x),))
    assert result, result


def test_1d_ops_are_the_2d_ops_on_one_row_and_gradcheck(kernel_path):
    from minnet.ops.conv import avg_pool1d, conv1d, max_pool1d
    rng = np.random.default_rng(14)
    x = leaf(rng.standard_normal((2, 4, 11)))
    weight, bias = leaf(rng.standard_normal((6, 2, 3))), leaf(rng.standard_normal(6))
    out = conv1d(x, weight, bias, 2, 1, 2, 2)
    np.testing.assert_allclose(out.numpy(), naive_conv2d_general(
        x.numpy()[:, :, None], weight.numpy()[:, :, None], bias.numpy(), (1, 2), (0, 1),
        (1, 2), 2)[:, :, 0], rtol=1e-12, atol=1e-12)
    result = minnet.gradcheck(lambda a, w, b: conv1d(a, w, b, 2, 1, 2, 2), (x, weight, bias))
    assert result, result
    result = minnet.gradcheck(lambda a: max_pool1d(a, 3, 2, 1, dilation=2, ceil_mode=True), (x,))
    assert result, result
    result = minnet.gradcheck(lambda a: avg_pool1d(a, 4, 3, 2, ceil_mode=True), (x,))
    assert result, result


def test_conv1d_errors_speak_of_sequences_not_one_row_images():
    from minnet.ops.conv import conv1d
    x, weight = leaf(np.ones((2, 4, 10))), leaf(np.ones((6, 2, 3)))
    cases = [
        (lambda: conv1d(x, leaf(np.ones((6, 3, 3)))), ValueError,
         r"conv1d\(\): weight of shape \(6, 3, 3\) expects 3 channels.*has 4 channels.*"
         r"\(N, C, L\).*transpose"),
        (lambda: conv1d(x, weight, groups=3), ValueError, r"conv1d\(\): groups=3 .*Hint"),
        (lambda: conv1d(leaf(np.ones((2, 4, 4))), leaf(np.ones((6, 4, 3))), dilation=2),
         ValueError, r"conv1d\(\): the sequence's length 4 .* span 5 \(kernel_size 3 at "
                     r"dilation 2\).*Hint"),
        (lambda: conv1d(leaf(np.ones((2, 4, 10), dtype=np.int64), False), weight, groups=2),
         TypeError, r"conv1d\(\): expected a floating-point input"),
        (lambda: conv1d(x, weight, stride=0, groups=2), ValueError,
         r"conv1d\(\): stride must be at least 1, got 0"),
        (lambda: conv1d(x, weight, dilation=-1, groups=2), ValueError,
         r"conv1d\(\): dilation must be at least 1"),
        (lambda: conv1d(x, weight, padding=-1, groups=2), ValueError,
         r"conv1d\(\): padding must be at least 0"),
        (lambda: conv1d(x, weight, leaf(np.ones(5)), groups=2), ValueError,
         r"conv1d\(\): bias must have shape \(6,\)"),
        (lambda: conv1d(x, weight, stride=2, padding="same", groups=2), ValueError,
         r"conv1d\(\): padding='same' is not supported for strided"),
    ]
    for call, error, pattern in cases:
        with pytest.raises(error, match=pattern) as info:
            call()
        assert "conv2d" not in str(info.value) and ", 1, " not in str(info.value), info.value


def test_1d_pooling_errors_speak_of_sequences():
    from minnet.ops.conv import avg_pool1d, max_pool1d
    x = leaf(np.ones((2, 3, 4)))
    cases = [
        (lambda: max_pool1d(x, 6), ValueError, r"max_pool1d\(\): the sequence's length 4"),
        (lambda: max_pool1d(x, 2, dilation=4), ValueError, r"max_pool1d\(\): .* span 5"),
        (lambda: max_pool1d(x, 2, padding=2), ValueError,
         r"max_pool1d\(\): padding 2 must be at most half the kernel size 2"),
        (lambda: avg_pool1d(x, 0), ValueError, r"avg_pool1d\(\): kernel_size must be at least 1"),
        (lambda: avg_pool1d(x, 2, stride=0), ValueError, r"avg_pool1d\(\): stride must be at "),
        (lambda: avg_pool1d(leaf(np.ones((2, 3, 4), dtype=np.int64), False), 2), TypeError,
         r"avg_pool1d\(\): expected a floating-point input"),
        (lambda: max_pool1d(leaf(np.ones((2, 3, 4, 4))), 2), ValueError,
         r"max_pool1d\(\): expected a 3-D input \(N, C, L\)"),
    ]
    for call, error, pattern in cases:
        with pytest.raises(error, match=pattern) as info:
            call()
        assert "2d" not in str(info.value), info.value


def test_dilation_errors_name_the_taps_and_the_dilation():
    x = leaf(np.ones((1, 2, 5, 5)))
    with pytest.raises(ValueError, match=r"conv2d\(\): .*kernel \(3, 3\) spread by dilation "
                                         r"\(3, 3\) to \(7, 7\).*Hint"):
        conv2d(x, leaf(np.ones((4, 2, 3, 3))), dilation=3)
    with pytest.raises(ValueError, match=r"max_pool2d\(\): .*kernel \(2, 2\) spread by "
                                         r"dilation \(5, 5\) to \(6, 6\)"):
        max_pool2d(x, 2, dilation=5)
    for bad in (0, -1, (1, 0)):
        with pytest.raises(ValueError, match=r"dilation must be positive.*Hint"):
            conv2d(x, leaf(np.ones((4, 2, 3, 3))), dilation=bad)
    with pytest.raises(ValueError, match=r"groups=1 is the usual convolution"):
        conv2d(x, leaf(np.ones((4, 2, 3, 3))), groups=0)
    # with dilation, a channel mismatch is still the plain channel message
    with pytest.raises(ValueError, match=r"expects 3 channels in the input, but the input has 2"):
        conv2d(x, leaf(np.ones((4, 3, 2, 2))), dilation=2)
