"""matmul (batched, 1-D promotion, broadcasting) and the fused linear op."""
import numpy as np
import pytest

import minnet
from minnet import ops


def make(shape, seed=0, requires_grad=True):
    return minnet.tensor(np.random.default_rng(seed).standard_normal(shape),
                         requires_grad=requires_grad)


MATMUL_SHAPES = [
    ((3, 5), (5, 7)),          # plain matrices
    ((5,), (5, 7)),            # vector @ matrix
    ((3, 5), (5,)),            # matrix @ vector
    ((5,), (5,)),              # dot product -> 0-d
    ((2, 3, 5), (2, 5, 7)),    # batched
    ((2, 3, 5), (5, 7)),       # batch broadcast on the left
    ((3, 5), (2, 5, 7)),       # batch broadcast on the right
    ((7, 1, 3, 5), (2, 5, 3)), # batch dims broadcast against each other
    ((5,), (2, 5, 3)),         # vector @ batch
    ((2, 3, 5), (5,)),         # batch @ vector
]


@pytest.mark.parametrize("shape_a,shape_b", MATMUL_SHAPES)
def test_matmul_forward_and_gradcheck(shape_a, shape_b):
    a, b = make(shape_a, 1), make(shape_b, 2)
    out = a @ b
    np.testing.assert_allclose(out.numpy(), np.matmul(a.numpy(), b.numpy()))
    assert isinstance(out.numpy(), np.ndarray)  # even for the 0-d dot product
    res = minnet.gradcheck(lambda a, b: a @ b, (a, b))
    assert res, res


def test_matmul_gradient_by_hand():
    a = minnet.tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    b = minnet.tensor(np.array([[5.0], [6.0]]), requires_grad=True)
    a.matmul(b).sum().backward()
    # dL/da = 1 @ b^T ; dL/db = a^T @ 1
    np.testing.assert_array_equal(a.grad.numpy(), [[5.0, 6.0], [5.0, 6.0]])
    np.testing.assert_array_equal(b.grad.numpy(), [[4.0], [6.0]])


def test_matmul_with_constant_operand_skips_its_gradient():
    w = make((5, 3), 3)
    x = make((4, 5), 4, requires_grad=False)
    (x @ w).sum().backward()
    assert x.grad is None
    np.testing.assert_allclose(w.grad.numpy(), x.numpy().T @ np.ones((4, 3)))


def test_matmul_errors_are_clear():
    with pytest.raises(ValueError, match=r"\(3, 5\) and \(4, 7\) cannot be multiplied"):
        make((3, 5)) @ make((4, 7))
    with pytest.raises(ValueError, match="at least 1 dimension"):
        make(()) @ make((3,))
    a32 = minnet.tensor(np.ones((2, 3), dtype=np.float32))
    with pytest.raises(TypeError, match="same dtype"):
        a32 @ make((3, 2))


@pytest.mark.parametrize("x_shape", [(7, 5), (2, 3, 5), (5,)])
@pytest.mark.parametrize("with_bias", [True, False])
def test_linear_forward_and_gradcheck(x_shape, with_bias):
    x = make(x_shape, 5)
    weight = make((3, 5), 6)
    bias = make((3,), 7) if with_bias else None
    expected = x.numpy() @ weight.numpy().T + (bias.numpy() if with_bias else 0.0)
    np.testing.assert_allclose(ops.linear(x, weight, bias).numpy(), expected)
    inputs = (x, weight, bias) if with_bias else (x, weight)
    res = minnet.gradcheck(lambda *args: ops.linear(*args), inputs)
    assert res, res


def test_linear_gradient_by_hand():
    x = minnet.tensor(np.array([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]))
    weight = minnet.tensor(np.array([[1.0, -1.0]]), requires_grad=True)
    bias = minnet.tensor(np.array([0.5]), requires_grad=True)
    ops.linear(x, weight, bias).sum().backward()
    np.testing.assert_array_equal(weight.grad.numpy(), [[9.0, 12.0]])  # column sums of x
    np.testing.assert_array_equal(bias.grad.numpy(), [3.0])             # one per row


def test_linear_errors_are_clear():
    weight = make((3, 5))
    with pytest.raises(ValueError, match="expects 5"):
        ops.linear(make((2, 4)), weight)
    with pytest.raises(ValueError, match=r"bias must have shape \(3,\)"):
        ops.linear(make((2, 5)), weight, make((5,)))
    with pytest.raises(TypeError, match="same dtype"):
        ops.linear(minnet.tensor(np.ones((2, 5), dtype=np.float32)), weight)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_matmul_and_linear_keep_dtype(dtype):
    x = minnet.tensor(np.ones((2, 5), dtype=dtype), requires_grad=True)
    w = minnet.tensor(np.ones((3, 5), dtype=dtype), requires_grad=True)
    out = ops.linear(x, w) + (x @ w.T)
    assert out.dtype == dtype
    out.sum().backward()
    assert x.grad.dtype == dtype and w.grad.dtype == dtype
