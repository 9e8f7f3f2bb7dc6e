"""Activations and softmax: forward against NumPy formulas, gradcheck, extremes."""
import warnings

import numpy as np
import pytest

import minnet
from minnet import ops


def make(shape, seed=0, scale=1.0, avoid_zero=False):
    data = np.random.default_rng(seed).standard_normal(shape) * scale
    if avoid_zero:  # keep gradcheck's +-eps away from the kink at 0
        data = np.where(np.abs(data) < 0.05, 0.3, data)
    return minnet.tensor(data, requires_grad=True)


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@pytest.mark.parametrize("name,fn,reference,kinked", [
    ("relu", ops.relu, lambda x: np.maximum(x, 0), True),
    ("leaky_relu", ops.leaky_relu, lambda x: np.where(x > 0, x, 0.01 * x), True),
    ("leaky_relu_0.2", lambda a: ops.leaky_relu(a, negative_slope=0.2),
     lambda x: np.where(x > 0, x, 0.2 * x), True),
    ("elu", ops.elu, lambda x: np.where(x > 0, x, np.exp(x) - 1), True),
    ("elu_alpha", lambda a: ops.elu(a, alpha=0.7), lambda x: np.where(x > 0, x, 0.7 * (np.exp(x) - 1)),
     True),
    ("tanh", ops.tanh, np.tanh, False),
    ("sigmoid", ops.sigmoid, np_sigmoid, False),
])
@pytest.mark.parametrize("shape", [(3, 5), (2, 7, 3)])
def test_activation_forward_and_gradcheck(name, fn, reference, kinked, shape):
    x = make(shape, 1, scale=2.0, avoid_zero=kinked)
    np.testing.assert_allclose(fn(x).numpy(), reference(x.numpy()), rtol=1e-12, atol=1e-12)
    res = minnet.gradcheck(fn, (x,))
    assert res, res


def test_tensor_methods_match_ops():
    x = make((3, 5), 2)
    np.testing.assert_array_equal(x.relu().numpy(), ops.relu(x).numpy())
    np.testing.assert_array_equal(x.sigmoid().numpy(), ops.sigmoid(x).numpy())
    np.testing.assert_array_equal(x.tanh().numpy(), ops.tanh(x).numpy())
    np.testing.assert_array_equal(x.softmax(0).numpy(), ops.softmax(x, 0).numpy())
    np.testing.assert_array_equal(x.log_softmax(-1).numpy(), ops.log_softmax(x, -1).numpy())


def test_gradients_at_zero_follow_pytorch():
    x = minnet.tensor(np.zeros(1), requires_grad=True)
    for fn, expected in [(ops.relu, 0.0), (lambda a: ops.leaky_relu(a, 0.1), 0.1),
                         (lambda a: ops.elu(a, 2.0), 2.0)]:
        x.grad = None
        fn(x).sum().backward()
        assert x.grad.item() == pytest.approx(expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sigmoid_is_stable_at_extremes(dtype):
    x = minnet.tensor(np.array([-1000.0, -50.0, 0.0, 50.0, 1000.0], dtype=dtype),
                      requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any overflow RuntimeWarning fails the test
        y = ops.sigmoid(x)
        y.sum().backward()
    assert y.dtype == dtype
    assert np.all(np.isfinite(y.numpy())) and np.all(np.isfinite(x.grad.numpy()))
    assert y.numpy()[0] == 0.0 and y.numpy()[-1] == 1.0 and y.numpy()[2] == 0.5
    assert x.grad.numpy()[2] == 0.25  # s(1 - s) at 0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_elu_does_not_overflow_for_large_inputs(dtype):
    x = minnet.tensor(np.array([-1000.0, 1000.0], dtype=dtype), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        y = ops.elu(x)
        y.sum().backward()
    np.testing.assert_allclose(y.numpy(), [-1.0, 1000.0])
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 1.0])


@pytest.mark.parametrize("fn,reference", [
    (ops.softmax, np_softmax),
    (ops.log_softmax, lambda x, axis: np.log(np_softmax(x, axis))),
])
@pytest.mark.parametrize("shape,dim", [((3, 5), -1), ((3, 5), 0), ((2, 7, 3), 1), ((7,), 0)])
def test_softmax_family_forward_and_gradcheck(fn, reference, shape, dim):
    x = make(shape, 3, scale=2.0)
    np.testing.assert_allclose(fn(x, dim).numpy(), reference(x.numpy(), dim), rtol=1e-12, atol=1e-12)
    res = minnet.gradcheck(lambda t: fn(t, dim), (x,))
    assert res, res


def test_softmax_rows_sum_to_one():
    probs = ops.softmax(make((5, 7), 4, scale=10.0), dim=1)
    np.testing.assert_allclose(probs.numpy().sum(axis=1), np.ones(5))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_and_log_softmax_finite_for_huge_logits(dtype):
    logits = np.array([[1e4, -1e4, 0.0], [-1e4, -1e4, -1e4], [1e4, 1e4, -1e4]], dtype=dtype)
    x = minnet.tensor(logits, requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        probs = ops.softmax(x, dim=1)
        log_probs = ops.log_softmax(x, dim=1)
        (probs * minnet.tensor(np.array([1.0, 2.0, 3.0], dtype=dtype))).sum().backward()
        grad_softmax = x.grad.numpy().copy()
        x.grad = None
        log_probs[:, 0].sum().backward()
    for array in (probs.numpy(), log_probs.numpy(), grad_softmax, x.grad.numpy()):
        assert np.all(np.isfinite(array))
    np.testing.assert_allclose(probs.numpy()[0], [1.0, 0.0, 0.0])
    np.testing.assert_allclose(probs.numpy()[1], [1 / 3] * 3, rtol=1e-6)
    np.testing.assert_allclose(log_probs.numpy()[0], [0.0, -2e4, -1e4])
    np.testing.assert_allclose(log_probs.numpy()[2, :2], [-np.log(2.0)] * 2, rtol=1e-6)
    # d log_softmax_0 / dx = onehot(0) - softmax
    np.testing.assert_allclose(x.grad.numpy(), [[0.0, 0.0, 0.0], [2 / 3, -1 / 3, -1 / 3],
                                             [0.5, -0.5, 0.0]], atol=1e-6)
    assert probs.dtype == dtype and log_probs.dtype == dtype


def test_softmax_without_dim_warns_and_uses_pytorch_legacy_rule():
    x = make((2, 3), 5)
    with pytest.warns(UserWarning, match="implicit"):
        y = ops.softmax(x)
    np.testing.assert_allclose(y.numpy(), np_softmax(x.numpy(), 1))  # 2-D: dim 1


def test_softmax_bad_dim_is_clear():
    with pytest.raises(IndexError, match="out of range"):
        ops.softmax(make((2, 3)), dim=2)


def test_relu_gradient_is_zero_at_and_below_zero_and_passes_through_nan_as_pytorch():
    x = minnet.Tensor(np.array([-2.0, -0.0, 0.0, 3.0, np.nan]), requires_grad=True)
    ops.relu(x).backward(minnet.Tensor(np.full(5, 7.0)))
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0, 7.0, 7.0])
