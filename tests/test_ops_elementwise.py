"""Element-wise ops: forward against NumPy, gradcheck in float64, edge cases."""
import numpy as np
import pytest

import minnet
from minnet import ops


def make(shape, seed=0, low=None, high=None, requires_grad=True):
    """A float64 tensor of standard normals (or uniforms in [low, high))."""
    rng = np.random.default_rng(seed)
    data = rng.standard_normal(shape) if low is None else rng.uniform(low, high, shape)
    return minnet.tensor(data, requires_grad=requires_grad)


# shape pairs that exercise broadcasting, with prime-sized dims
BROADCAST_SHAPES = [
    ((3, 5), (3, 5)),
    ((3, 5), (5,)),
    ((7, 1, 5), (3, 1)),
    ((), (2, 3)),
    ((5, 1), (1, 7)),
]


@pytest.mark.parametrize("shape_a,shape_b", BROADCAST_SHAPES)
@pytest.mark.parametrize("name,fn,np_fn", [
    ("add", lambda a, b: a + b, np.add),
    ("sub", lambda a, b: a - b, np.subtract),
    ("mul", lambda a, b: a * b, np.multiply),
    ("div", lambda a, b: a / b, np.divide),
    ("maximum", ops.maximum, np.maximum),
    ("minimum", ops.minimum, np.minimum),
    ("pow", lambda a, b: a ** b, np.power),
])
def test_binary_ops_forward_and_gradcheck(name, fn, np_fn, shape_a, shape_b):
    if name in ("div", "pow"):
        a = make(shape_a, 1, 0.5, 2.0)  # positive bases; divisors away from 0
        b = make(shape_b, 2, 0.5, 2.0)
    else:
        a, b = make(shape_a, 1), make(shape_b, 2)
    np.testing.assert_allclose(fn(a, b).numpy(), np_fn(a.numpy(), b.numpy()))
    res = minnet.gradcheck(fn, (a, b))
    assert res, res


@pytest.mark.parametrize("name,fn,np_fn,low,high", [
    ("neg", ops.neg, np.negative, None, None),
    ("exp", ops.exp, np.exp, None, None),
    ("log", ops.log, np.log, 0.3, 3.0),
    ("sqrt", ops.sqrt, np.sqrt, 0.3, 3.0),
    ("abs", ops.abs, np.abs, None, None),
    ("square", lambda a: a ** 2, np.square, None, None),
    ("cube", lambda a: a ** 3, lambda x: x ** 3, None, None),
    ("inv_sqrt", lambda a: a ** -0.5, lambda x: x ** -0.5, 0.3, 3.0),
    ("rpow", lambda a: 3.0 ** a, lambda x: 3.0 ** x, None, None),
    ("clip", lambda a: ops.clip(a, -0.5, 0.7), lambda x: np.clip(x, -0.5, 0.7), None, None),
    ("clamp_min", lambda a: ops.clamp(a, min=0.1), lambda x: np.maximum(x, 0.1), None, None),
    ("clamp_max", lambda a: a.clamp(max=0.2), lambda x: np.minimum(x, 0.2), None, None),
])
@pytest.mark.parametrize("shape", [(3, 5), (7,), ()])
def test_unary_ops_forward_and_gradcheck(name, fn, np_fn, low, high, shape):
    a = make(shape, 3, low, high)
    np.testing.assert_allclose(fn(a).numpy(), np_fn(a.numpy()))
    res = minnet.gradcheck(fn, (a,))
    assert res, res


def test_pow_gradients_by_hand():
    a = minnet.tensor(np.array([2.0, 3.0]), requires_grad=True)
    b = minnet.tensor(np.array([3.0, 0.5]), requires_grad=True)
    (a ** b).sum().backward()
    # d/da a^b = b a^(b-1);  d/db a^b = a^b ln a
    np.testing.assert_allclose(a.grad.numpy(), [3 * 4.0, 0.5 * 3.0 ** -0.5])
    np.testing.assert_allclose(b.grad.numpy(), [8 * np.log(2.0), np.sqrt(3.0) * np.log(3.0)])


def test_pow_edge_cases_at_zero_follow_pytorch():
    # exponent 0: gradient 0 even at base 0 (not 0 * inf)
    a = minnet.tensor(np.array([0.0, 2.0]), requires_grad=True)
    (a ** 0).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [0.0, 0.0])
    # tensor exponent: base 0 with exponent >= 0 gives 0 exponent-gradient (not nan)
    base = minnet.tensor(np.array([0.0, 0.0, 2.0]), requires_grad=True)
    exponent = minnet.tensor(np.array([0.0, 2.0, 1.0]), requires_grad=True)
    (base ** exponent).sum().backward()
    np.testing.assert_array_equal(exponent.grad.numpy(), [0.0, 0.0, 2 * np.log(2.0)])
    np.testing.assert_array_equal(base.grad.numpy(), [0.0, 0.0, 1.0])  # 0*0^-1 -> 0; 2*0^1; 1


def test_scalar_base_pow():
    x = minnet.tensor(np.array([0.0, 1.0, 2.0]), requires_grad=True)
    y = 2.0 ** x
    np.testing.assert_allclose(y.numpy(), [1.0, 2.0, 4.0])
    y.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), np.log(2.0) * np.array([1.0, 2.0, 4.0]))
    assert x.pow(2).numpy().tolist() == [0.0, 1.0, 4.0]


def test_maximum_minimum_split_ties_evenly():
    a = minnet.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    b = minnet.tensor(np.array([1.0, 5.0, 0.0]), requires_grad=True)
    ops.maximum(a, b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [0.5, 0.0, 1.0])
    np.testing.assert_array_equal(b.grad.numpy(), [0.5, 1.0, 0.0])
    a.grad = b.grad = None
    a.minimum(b).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [0.5, 1.0, 0.0])
    np.testing.assert_array_equal(b.grad.numpy(), [0.5, 0.0, 1.0])


def test_maximum_tie_with_broadcast_scalar():
    a = minnet.tensor(np.array([[0.0, 1.0], [-1.0, 0.0]]), requires_grad=True)
    ops.maximum(a, 0.0).sum().backward()  # like relu, but ties at 0 get half
    np.testing.assert_array_equal(a.grad.numpy(), [[0.5, 1.0], [0.0, 0.5]])


def test_clip_gradient_includes_bounds():
    x = minnet.tensor(np.array([-2.0, -1.0, 0.0, 1.0, 2.0]), requires_grad=True)
    x.clip(-1.0, 1.0).sum().backward()
    # PyTorch: the gradient passes where min <= x <= max (bounds included)
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 1.0, 1.0, 0.0])


def test_clip_with_tensor_bounds_gradcheck():
    x = make((3, 5), 4)
    low = make((5,), 5, -1.0, -0.2)
    high = make((3, 1), 6, 0.2, 1.0)
    fn = lambda x, low, high: ops.clip(x, low, high)  # noqa: E731
    np.testing.assert_allclose(fn(x, low, high).numpy(),
                               np.minimum(np.maximum(x.numpy(), low.numpy()), high.numpy()))
    res = minnet.gradcheck(fn, (x, low, high))
    assert res, res


def test_clip_needs_a_bound():
    with pytest.raises(ValueError, match="at least one"):
        ops.clip(make((2,)))


def test_abs_subgradient_at_zero_is_zero():
    x = minnet.tensor(np.array([-2.0, 0.0, 3.0]), requires_grad=True)
    x.abs().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [-1.0, 0.0, 1.0])


@pytest.mark.parametrize("shape_a,shape_b", [((3, 5), (3, 5)), ((5,), (7, 1))])
def test_where_forward_and_gradcheck(shape_a, shape_b):
    a, b = make(shape_a, 7), make(shape_b, 8)
    cond = np.random.default_rng(9).random(np.broadcast_shapes(shape_a, shape_b)) > 0.5
    fn = lambda a, b: ops.where(minnet.tensor(cond), a, b)  # noqa: E731
    np.testing.assert_array_equal(fn(a, b).numpy(), np.where(cond, a.numpy(), b.numpy()))
    res = minnet.gradcheck(fn, (a, b))
    assert res, res


def test_where_with_scalar_and_non_bool_condition():
    x = minnet.tensor(np.array([-1.0, 2.0]), requires_grad=True)
    y = ops.where(x > 0, x, 0.0)
    assert y.dtype == np.float64 and y.numpy().tolist() == [0.0, 2.0]
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0])
    with pytest.raises(TypeError, match="boolean"):
        ops.where(minnet.tensor([1, 0]), x, x)


def test_broadcast_error_is_clear():
    with pytest.raises(ValueError, match=r"\(3, 5\) and \(4,\) cannot be broadcast"):
        make((3, 5)) + make((4,))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scalars_do_not_change_dtype(dtype):
    x = minnet.tensor(np.array([1.0, 2.0], dtype=dtype), requires_grad=True)
    for y in (x + 1, 2 * x, x - 0.5, 1 / x, x ** 2, x ** 0.5, 2.0 ** x, x * np.float64(3.0),
              np.float64(1.5) - x, ops.maximum(x, 1.0), ops.clip(x, np.float64(0.0), 1.5),
              ops.where(x > 1, x, 0.0)):
        assert y.dtype == dtype


def test_astype_roundtrip_gradient_dtype():
    x = minnet.tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    y = x.double()
    assert y.dtype == np.float64 and x.float() is x
    (y * 3).sum().backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_operators_with_numpy_on_the_left():
    x = minnet.tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = np.array([3.0, 4.0]) * x  # ndarray * Tensor -> Tensor.__rmul__
    assert isinstance(y, minnet.Tensor)
    y.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])


def test_integer_inputs_give_float32_like_pytorch():
    ints = minnet.tensor([1, 2, 4])
    for out in (ints / 2, ints / ints, ops.exp(ints), ops.log(ints), ops.sqrt(ints), ints ** 0.5,
                ops.sigmoid(ints), ops.tanh(ints), ops.softmax(ints, 0), ops.elu(ints)):
        assert out.dtype == np.float32
    np.testing.assert_allclose((ints / 2).numpy(), [0.5, 1.0, 2.0])
    assert (ints * 2).dtype == np.int64 and (ints + ints).dtype == np.int64
