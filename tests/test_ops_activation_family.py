"""GELU, SiLU, Softplus and the other activations beyond ReLU/sigmoid/tanh: values against
closed forms written here in NumPy and math, float64 gradchecks, PyTorch's conventions at
the kinks, nan passing through, the layers, and clear errors."""
import math

import numpy as np
import pytest

import minnet
from minnet import nn, ops
from minnet.nn import functional as F

SELU_ALPHA, SELU_SCALE = ops.activation.SELU_ALPHA, ops.activation.SELU_SCALE


def make(shape=(3, 7), seed=0, scale=2.0, kinks=()):
    """A float64 leaf; entries within 0.05 of a kink are moved off it (gradcheck's
    +-eps must not straddle one)."""
    data = np.random.default_rng(seed).standard_normal(shape) * scale
    for kink in kinks:
        data = np.where(np.abs(data - kink) < 0.05, kink + 0.3, data)
    return minnet.tensor(data, requires_grad=True)


def np_sigmoid(x):
    return 1 / (1 + np.exp(-x))


def np_erf(x):
    return np.vectorize(math.erf)(x)


def np_softplus(x, beta=1.0, threshold=20.0):
    return np.where(beta * x > threshold, x, np.log1p(np.exp(beta * x)) / beta)


CASES = [  # name, function, NumPy closed form, kinks
    ("gelu", ops.gelu, lambda x: 0.5 * x * (1 + np_erf(x / np.sqrt(2))), ()),
    ("gelu_tanh", lambda a: ops.gelu(a, approximate="tanh"),
     lambda x: 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3))), ()),
    ("silu", ops.silu, lambda x: x * np_sigmoid(x), ()),
    ("softplus", ops.softplus, np_softplus, ()),
    ("softplus_beta", lambda a: ops.softplus(a, beta=2.0, threshold=3.0),
     lambda x: np_softplus(x, 2.0, 3.0), (1.5,)),
    ("mish", ops.mish, lambda x: x * np.tanh(np.log1p(np.exp(x))), ()),
    ("logsigmoid", ops.logsigmoid, lambda x: np.log(np_sigmoid(x)), ()),
    ("softsign", ops.softsign, lambda x: x / (1 + np.abs(x)), (0,)),
    ("tanhshrink", ops.tanhshrink, lambda x: x - np.tanh(x), ()),
    ("selu", ops.selu,
     lambda x: SELU_SCALE * np.where(x > 0, x, SELU_ALPHA * (np.exp(x) - 1)), (0,)),
    ("celu", lambda a: ops.celu(a, alpha=0.5),
     lambda x: np.maximum(x, 0) + np.minimum(0, 0.5 * (np.exp(x / 0.5) - 1)), (0,)),
    ("hardtanh", lambda a: ops.hardtanh(a, -2.0, 0.5), lambda x: np.clip(x, -2.0, 0.5),
     (-2.0, 0.5)),
    ("relu6", lambda a: ops.relu6(a * 3), lambda x: np.clip(3 * x, 0, 6), (0, 2)),
    ("hardsigmoid", ops.hardsigmoid, lambda x: np.clip(x / 6 + 0.5, 0, 1), (-3, 3)),
    ("hardswish", ops.hardswish, lambda x: x * np.clip(x + 3, 0, 6) / 6, (-3, 3)),
    ("threshold", lambda a: ops.threshold(a, 0.5, -1.0), lambda x: np.where(x > 0.5, x, -1.0),
     (0.5,)),
    ("hardshrink", ops.hardshrink, lambda x: np.where(np.abs(x) > 0.5, x, 0), (-0.5, 0.5)),
    ("softshrink", lambda a: ops.softshrink(a, 0.3),
     lambda x: np.where(x > 0.3, x - 0.3, np.where(x < -0.3, x + 0.3, 0)), (-0.3, 0.3)),
    ("glu", lambda a: ops.glu(a, 0), lambda x: x[:2] * np_sigmoid(x[2:]), ()),
]


@pytest.mark.parametrize("name,fn,closed_form,kinks", CASES, ids=[c[0] for c in CASES])
def test_value_and_float64_gradcheck(name, fn, closed_form, kinks):
    x = make((4, 6), seed=len(name), kinks=kinks)
    np.testing.assert_allclose(fn(x).numpy(), closed_form(x.numpy()), rtol=1e-12, atol=1e-12)
    result = minnet.gradcheck(fn, (x,))
    assert result, result


def test_known_values():
    # Phi(1) = 0.841344746..., so gelu(1) = Phi(1); gelu(-1) = -(1 - Phi(1))
    out = ops.gelu(minnet.tensor([1.0, -1.0, 0.0], dtype=np.float64)).numpy()
    np.testing.assert_allclose(out, [0.8413447460685429, -0.15865525393145707, 0.0], rtol=1e-15)
    # SELU keeps a standard normal input near mean 0, variance 1 (its defining property)
    z = np.random.default_rng(0).standard_normal(400_000)
    y = ops.selu(minnet.tensor(z)).numpy()
    assert abs(y.mean()) < 0.01 and abs(y.var() - 1) < 0.01


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_extreme_inputs_stay_finite(dtype):
    x = minnet.tensor(np.array([-1e4, -50.0, 50.0, 1e4], dtype=dtype), requires_grad=True)
    for fn in (ops.gelu, ops.silu, ops.softplus, ops.mish, ops.logsigmoid, ops.selu, ops.celu):
        x.grad = None
        out = fn(x)
        out.sum().backward()
        assert out.dtype == dtype and np.isfinite(out.numpy()).all(), fn.__name__
        assert np.isfinite(x.grad.numpy()).all(), fn.__name__
    # far out, the smooth ones are ReLU (or -ReLU(-x) for logsigmoid) to float rounding
    big = minnet.tensor(np.array([-60.0, 60.0], dtype=dtype))
    for fn in (ops.gelu, ops.silu, ops.softplus, ops.mish):
        np.testing.assert_allclose(fn(big).numpy(), [0.0, 60.0], atol=1e-6)
    np.testing.assert_allclose(ops.logsigmoid(big).numpy(), [-60.0, 0.0], atol=1e-6)


def gradient_at(fn, points):
    x = minnet.tensor(np.array(points, dtype=np.float64), requires_grad=True)
    fn(x).sum().backward()
    return x.grad.numpy()


def test_gradients_at_the_kinks_follow_pytorch():
    # bounds belong to the flat side (PyTorch's hardtanh/hardsigmoid/threshold/shrink)
    np.testing.assert_array_equal(gradient_at(ops.hardtanh, [-1.0, 1.0, 0.0]), [0, 0, 1])
    np.testing.assert_array_equal(gradient_at(ops.relu6, [0.0, 6.0, 3.0]), [0, 0, 1])
    np.testing.assert_allclose(gradient_at(ops.hardsigmoid, [-3.0, 3.0, 0.0]), [0, 0, 1 / 6])
    np.testing.assert_allclose(gradient_at(ops.hardswish, [-3.0, 3.0, 0.0]), [0, 1, 0.5])
    np.testing.assert_array_equal(
        gradient_at(lambda a: ops.threshold(a, 1.0, 5.0), [1.0, 1.5]), [0, 1])
    np.testing.assert_array_equal(gradient_at(ops.hardshrink, [-0.5, 0.5, 0.7]), [0, 0, 1])
    np.testing.assert_array_equal(gradient_at(ops.softshrink, [-0.5, 0.5, -0.7]), [0, 0, 1])
    # the ELU family takes the left-hand slope at 0: alpha * scale for SELU, 1 for CELU
    np.testing.assert_allclose(gradient_at(ops.selu, [0.0]), [SELU_SCALE * SELU_ALPHA])
    np.testing.assert_allclose(gradient_at(lambda a: ops.celu(a, 3.0), [0.0]), [1.0])


def test_a_nan_passes_its_gradient_through_as_in_pytorch():
    for fn, slope in ((ops.hardtanh, 1.0), (ops.elu, 1.0), (ops.selu, SELU_SCALE),
                      (ops.celu, 1.0), (lambda a: ops.threshold(a, 0.0, 2.0), 1.0)):
        x = minnet.tensor(np.array([np.nan]), requires_grad=True)
        out = fn(x)
        out.sum().backward()
        assert np.isnan(out.numpy()).all()
        np.testing.assert_allclose(x.grad.numpy(), [slope])


@pytest.mark.parametrize("x_shape,w_shape", [((4, 3, 5), (3,)), ((4, 3), (1,)), ((6,), (1,)),
                                             ((2, 3, 4, 4), (3,)), ((), (1,))])
def test_prelu_values_and_gradcheck_of_input_and_slopes(x_shape, w_shape):
    x = make(x_shape, seed=1, kinks=(0,))
    w = minnet.tensor(np.random.default_rng(2).uniform(0.1, 0.5, w_shape), requires_grad=True)
    w_view = w.numpy().reshape((-1,) + (1,) * (len(x_shape) - 2)) if len(x_shape) >= 2 \
        else w.numpy().reshape(())
    expected = np.where(x.numpy() > 0, x.numpy(), w_view * x.numpy())
    np.testing.assert_allclose(ops.prelu(x, w).numpy(), expected, rtol=1e-15)
    result = minnet.gradcheck(ops.prelu, (x, w))
    assert result, result


def test_prelu_layer_learns_its_slope_and_saves_it():
    layer = nn.PReLU(num_parameters=3, dtype=np.float64)
    assert [name for name, _ in layer.named_parameters()] == ["weight"]
    np.testing.assert_array_equal(layer.weight.numpy(), [0.25, 0.25, 0.25])
    x = minnet.tensor(-np.ones((2, 3, 4)))
    layer(x).sum().backward()
    np.testing.assert_array_equal(layer.weight.grad.numpy(), [-8.0, -8.0, -8.0])
    copy = nn.PReLU(3, init=0.1, dtype=np.float64)
    copy.load_state_dict(layer.state_dict())
    np.testing.assert_array_equal(copy.weight.numpy(), layer.weight.numpy())


def test_layers_call_their_functions_with_their_settings():
    x = make((4, 6), seed=3)
    pairs = [(nn.GELU(), F.gelu(x)), (nn.GELU("tanh"), F.gelu(x, approximate="tanh")),
             (nn.SiLU(), F.silu(x)), (nn.Mish(), F.mish(x)),
             (nn.Softplus(2.0, 1.0), F.softplus(x, 2.0, 1.0)), (nn.LogSigmoid(), F.logsigmoid(x)),
             (nn.Softsign(), F.softsign(x)), (nn.Tanhshrink(), F.tanhshrink(x)),
             (nn.SELU(), F.selu(x)), (nn.CELU(0.3), F.celu(x, 0.3)),
             (nn.Hardtanh(-0.2, 0.4), F.hardtanh(x, -0.2, 0.4)), (nn.ReLU6(), F.relu6(x)),
             (nn.Hardsigmoid(), F.hardsigmoid(x)), (nn.Hardswish(), F.hardswish(x)),
             (nn.Threshold(0.1, 9.0), F.threshold(x, 0.1, 9.0)),
             (nn.Hardshrink(0.2), F.hardshrink(x, 0.2)), (nn.Softshrink(0.2), F.softshrink(x, 0.2)),
             (nn.GLU(0), F.glu(x, 0))]
    for layer, expected in pairs:
        np.testing.assert_array_equal(layer(x).numpy(), expected.numpy(), err_msg=repr(layer))
    assert repr(nn.GELU("tanh")) == "GELU(approximate='tanh')"
    assert repr(nn.Hardtanh()) == "Hardtanh(min_val=-1.0, max_val=1.0)"
    assert repr(nn.Softshrink(0.3)) == "Softshrink(0.3)"


def test_float32_stays_float32_and_integers_become_float32():
    x32 = minnet.tensor(np.linspace(-4, 4, 9, dtype=np.float32))
    for fn in (ops.gelu, ops.silu, ops.softplus, ops.mish, ops.logsigmoid, ops.softsign,
               ops.tanhshrink, ops.selu, ops.celu, ops.hardtanh, ops.relu6, ops.hardsigmoid,
               ops.hardswish, ops.hardshrink, ops.softshrink):
        assert fn(x32).dtype == np.float32, fn.__name__
    assert ops.gelu(minnet.tensor([-1, 0, 2])).dtype == np.float32
    # clipping integers keeps them integers (PyTorch's hardtanh/relu6 too)
    assert ops.relu6(minnet.tensor([-1, 3, 9])).tolist() == [0, 3, 6]


def test_bad_arguments_are_named():
    x = minnet.tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match="gelu.*approximate.*'none' or 'tanh'"):
        ops.gelu(x, approximate="exact")
    with pytest.raises(ValueError, match="GELU.*approximate"):
        nn.GELU("erf")
    with pytest.raises(ValueError, match=r"glu\(\): dim 1 must have an even size.*got 3"):
        ops.glu(x, 1)
    with pytest.raises(ValueError, match=r"prelu\(\): weight must have shape \(1,\) or \(3,\)"):
        ops.prelu(x, minnet.tensor(np.ones(2)))
    with pytest.raises(ValueError, match=r"hardtanh\(\): min_val \(2.0\) must not exceed"):
        ops.hardtanh(x, 2.0, 1.0)
    with pytest.raises(ValueError, match="celu.*alpha must not be 0"):
        ops.celu(x, 0.0)
    with pytest.raises(ValueError, match="softshrink.*lambd must be >= 0"):
        ops.softshrink(x, -0.1)
    with pytest.raises(ValueError, match="PReLU.*num_parameters"):
        nn.PReLU(0)
    with pytest.raises(TypeError, match="gelu"):
        ops.gelu(np.ones(3))
