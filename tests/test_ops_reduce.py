"""Reductions: dim/keepdim and axis/keepdims, gradcheck, ties, var corrections."""
import numpy as np
import pytest

import minnet
from minnet import ops


def make(shape, seed=0):
    return minnet.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


DIMS = [None, 0, -1, (0, 2), (1,), (0, 1, 2)]


@pytest.mark.parametrize("dim", DIMS)
@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("name,fn,np_fn", [
    ("sum", ops.sum, np.sum),
    ("mean", ops.mean, np.mean),
    ("amax", ops.amax, np.max),
    ("amin", ops.amin, np.min),
    ("var", ops.var, lambda x, axis, keepdims: np.var(x, axis=axis, keepdims=keepdims, ddof=1)),
    ("std", ops.std, lambda x, axis, keepdims: np.std(x, axis=axis, keepdims=keepdims, ddof=1)),
    ("logsumexp", ops.logsumexp,
     lambda x, axis, keepdims: np.log(np.sum(np.exp(x), axis=axis, keepdims=keepdims))),
])
def test_reduction_forward_and_gradcheck(name, fn, np_fn, dim, keepdim):
    x = make((3, 5, 7), 1)
    if name == "var" or name == "std":
        out = fn(x, dim, keepdim=keepdim)
        check = lambda t: fn(t, dim, keepdim=keepdim)  # noqa: E731
    else:
        out = fn(x, dim, keepdim)
        check = lambda t: fn(t, dim, keepdim)  # noqa: E731
    np.testing.assert_allclose(out.numpy(), np_fn(x.numpy(), axis=dim, keepdims=keepdim), rtol=1e-12)
    res = minnet.gradcheck(check, (x,))
    assert res, res


@pytest.mark.parametrize("name", ["sum", "mean", "amax", "amin", "var"])
def test_numpy_axis_keepdims_spelling(name):
    x = make((3, 5), 2)
    method = getattr(x, name)
    np.testing.assert_array_equal(method(axis=1, keepdims=True).numpy(),
                                  method(dim=1, keepdim=True).numpy())
    assert method(axis=(0, 1)).shape == ()
    with pytest.raises(TypeError, match="either dim or axis"):
        method(0, axis=1)


def test_sum_and_mean_gradients_by_hand():
    x = make((3, 5), 3)
    x.sum(dim=1).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.ones((3, 5)))
    x.grad = None
    x.mean(dim=0).sum().backward()  # each column averages 3 entries
    np.testing.assert_allclose(x.grad.numpy(), np.full((3, 5), 1 / 3))


def test_mean_of_integers_is_refused_clearly():
    with pytest.raises(TypeError, match="floating-point"):
        minnet.tensor([1, 2, 3]).mean()


def test_var_corrections():
    data = np.array([[1.0, 2.0, 4.0, 7.0], [0.0, 0.0, 3.0, 5.0]])
    x = minnet.tensor(data)
    np.testing.assert_allclose(x.var().numpy(), np.var(data, ddof=1))       # unbiased default
    np.testing.assert_allclose(x.var(1, unbiased=False).numpy(), np.var(data, axis=1))
    np.testing.assert_allclose(x.var(1, correction=0).numpy(), np.var(data, axis=1))
    np.testing.assert_allclose(x.var(1, correction=2).numpy(), np.var(data, axis=1, ddof=2))
    np.testing.assert_allclose(ops.var(x, False).numpy(), np.var(data))     # legacy var(x, unbiased)
    np.testing.assert_allclose(x.std(dim=1).numpy(), np.std(data, axis=1, ddof=1))


def test_var_gradient_by_hand_and_with_correction():
    x = minnet.tensor(np.array([1.0, 2.0, 6.0]), requires_grad=True)
    x.var(correction=0).backward()  # d/dx_i mean((x - m)^2) = 2 (x_i - m) / n, m = 3
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.array([-2.0, -1.0, 3.0]) / 3)
    y = make((5, 7), 4)
    res = minnet.gradcheck(lambda t: ops.var(t, 1, correction=2), (y,))
    assert res, res


def test_var_of_one_entry_warns_and_gives_nan():
    x = minnet.tensor(np.array([3.0]))
    with pytest.warns(RuntimeWarning, match="degrees of freedom"):
        v = x.var()
    assert np.isnan(v.item())


def test_amax_splits_gradient_among_ties():
    x = minnet.tensor(np.array([[1.0, 3.0, 3.0], [2.0, 2.0, 2.0]]), requires_grad=True)
    ops.amax(x, dim=1).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0.0, 0.5, 0.5], [1 / 3, 1 / 3, 1 / 3]])
    x.grad = None
    ops.amax(x).backward()  # the global max 3 appears twice
    np.testing.assert_allclose(x.grad.numpy(), [[0.0, 0.5, 0.5], [0.0, 0.0, 0.0]])
    x.grad = None
    ops.amin(x, 0).sum().backward()  # column 1: 3 vs 2 -> 2; column 0: 1
    np.testing.assert_allclose(x.grad.numpy(), [[1.0, 0.0, 0.0], [0.0, 1.0, 1.0]])


def test_max_without_dim_is_a_scalar_that_splits_ties():
    x = minnet.tensor(np.array([[5.0, 1.0], [5.0, 0.0]]), requires_grad=True)
    top = x.max()
    assert isinstance(top, minnet.Tensor) and top.shape == () and top.item() == 5.0
    top.backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0.5, 0.0], [0.5, 0.0]])
    x.grad = None
    low = x.min()
    assert low.item() == 0.0
    low.backward()
    np.testing.assert_allclose(x.grad.numpy(), [[0.0, 0.0], [0.0, 1.0]])


def test_max_with_dim_returns_values_and_indices_and_routes_to_the_index():
    x = minnet.tensor(np.array([[1.0, 4.0, 4.0], [7.0, 2.0, 7.0]]), requires_grad=True)
    result = x.max(dim=1)
    values, indices = result  # unpacks like torch.return_types.max
    assert result.values is values and result.indices is indices
    np.testing.assert_array_equal(values.numpy(), [4.0, 7.0])
    np.testing.assert_array_equal(indices.numpy(), [1, 0])  # first occurrence, like PyTorch
    assert indices.dtype == np.int64
    values.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]])

    x.grad = None
    values, indices = ops.min(x, 0, keepdim=True)
    assert values.shape == (1, 3) and indices.shape == (1, 3)
    np.testing.assert_array_equal(indices.numpy(), [[0, 1, 0]])
    values.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0, 0.0, 1.0], [0.0, 1.0, 0.0]])


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("keepdim", [False, True])
def test_max_min_dim_gradcheck(dim, keepdim):
    x = make((5, 3, 7), 5)
    for fn, np_fn in ((ops.max, np.max), (ops.min, np.min)):
        values = fn(x, dim, keepdim).values
        np.testing.assert_array_equal(values.numpy(), np_fn(x.numpy(), axis=dim, keepdims=keepdim))
        res = minnet.gradcheck(lambda t: fn(t, dim, keepdim).values, (x,))
        assert res, res
    res = minnet.gradcheck(lambda t: ops.max(t), (x,))
    assert res, res


def test_max_with_tensor_argument_is_maximum():
    a = minnet.tensor(np.array([1.0, 5.0]))
    b = minnet.tensor(np.array([3.0, 2.0]))
    np.testing.assert_array_equal(ops.max(a, b).numpy(), [3.0, 5.0])
    np.testing.assert_array_equal(a.min(b).numpy(), [1.0, 2.0])


def test_argmax_argmin_match_numpy():
    x = make((3, 5), 6)
    np.testing.assert_array_equal(x.argmax(dim=1).numpy(), np.argmax(x.numpy(), axis=1))
    assert x.argmin().item() == np.argmin(x.numpy())
    assert x.argmax(0, keepdim=True).shape == (1, 5)


def test_logsumexp_is_stable():
    x = minnet.tensor(np.array([[1e4, 1e4], [-1e4, 0.0], [-np.inf, -np.inf]]), requires_grad=True)
    out = ops.logsumexp(x, 1)
    np.testing.assert_allclose(out.numpy()[:2], [1e4 + np.log(2.0), 0.0])
    assert out.numpy()[2] == -np.inf
    out[:2].sum().backward()
    np.testing.assert_allclose(x.grad.numpy()[:2], [[0.5, 0.5], [0.0, 1.0]])


def test_reduction_errors_are_clear():
    x = make((3, 5))
    with pytest.raises(IndexError, match="dim 2 is out of range"):
        x.sum(2)
    with pytest.raises(ValueError, match="same dimension twice"):
        x.mean((0, -2))
    with pytest.raises(ValueError, match="empty"):
        minnet.tensor(np.zeros((0, 3))).amax(0)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reductions_keep_dtype(dtype):
    x = minnet.tensor(np.arange(6, dtype=dtype).reshape(2, 3), requires_grad=True)
    outputs = [x.sum(), x.mean(0), x.var(1), x.std(), x.amax(), x.amin(1), x.max(),
               x.max(1).values, ops.logsumexp(x, 0)]
    for out in outputs:
        assert out.dtype == dtype
    sum(o.sum() for o in outputs).backward()
    assert x.grad.dtype == dtype


def test_reductions_of_0d_tensor():
    x = minnet.tensor(np.array(2.5), requires_grad=True)
    assert x.sum().item() == 2.5 and x.sum(0).item() == 2.5 and x.amax(-1).item() == 2.5
    x.mean(0).backward()
    assert x.grad.item() == 1.0
