"""Shape ops: reshape/view, transpose, permute, flatten, (un)squeeze, expand,
getitem, cat, stack, pad -- forward against NumPy and gradcheck in float64."""
import numpy as np
import pytest

import minnet
from minnet import ops


def make(shape, seed=0):
    return minnet.tensor(np.random.default_rng(seed).standard_normal(shape), requires_grad=True)


@pytest.mark.parametrize("name,fn,np_fn", [
    ("reshape", lambda t: t.reshape(5, 21), lambda x: x.reshape(5, 21)),
    ("reshape_tuple", lambda t: ops.reshape(t, (-1, 7)), lambda x: x.reshape(-1, 7)),
    ("view", lambda t: t.view(3, -1), lambda x: x.reshape(3, -1)),
    ("transpose", lambda t: t.transpose(0, 2), lambda x: np.swapaxes(x, 0, 2)),
    ("transpose_neg", lambda t: t.transpose(-1, -2), lambda x: np.swapaxes(x, -1, -2)),
    ("permute", lambda t: t.permute(2, 0, 1), lambda x: np.transpose(x, (2, 0, 1))),
    ("permute_tuple", lambda t: ops.permute(t, (1, 2, 0)), lambda x: np.transpose(x, (1, 2, 0))),
    ("T", lambda t: t.T, lambda x: x.T),
    ("flatten", lambda t: t.flatten(), lambda x: x.reshape(-1)),
    ("flatten_1", lambda t: t.flatten(1), lambda x: x.reshape(3, 35)),
    ("flatten_0_1", lambda t: ops.flatten(t, 0, 1), lambda x: x.reshape(15, 7)),
    ("unsqueeze", lambda t: t.unsqueeze(1), lambda x: x[:, None]),
    ("unsqueeze_end", lambda t: t.unsqueeze(-1), lambda x: x[..., None]),
    ("squeeze_all", lambda t: t.unsqueeze(0).unsqueeze(2).squeeze(), lambda x: x),
    ("squeeze_dim", lambda t: t.unsqueeze(1).squeeze(1), lambda x: x),
    ("squeeze_not_one", lambda t: t.squeeze(0), lambda x: x),
    ("expand", lambda t: t[:, :1].expand(2, 3, 4, 7), lambda x: np.broadcast_to(x[:, :1], (2, 3, 4, 7))),
    ("expand_minus_one", lambda t: t[:1].expand(2, 3, -1, -1),
     lambda x: np.broadcast_to(x[:1], (2, 3, 5, 7))),
    ("clone", ops.clone, lambda x: x.copy()),
])
def test_shape_ops_forward_and_gradcheck(name, fn, np_fn):
    x = make((3, 5, 7), 1)
    np.testing.assert_array_equal(fn(x).numpy(), np_fn(x.numpy()))
    res = minnet.gradcheck(fn, (x,))
    assert res, res


def test_views_share_memory_but_clone_does_not():
    x = make((3, 4))
    assert np.shares_memory(x.reshape(4, 3).numpy(), x.numpy())
    assert np.shares_memory(x.transpose(0, 1).numpy(), x.numpy())
    assert np.shares_memory(x[1:].numpy(), x.numpy())
    assert not np.shares_memory(ops.clone(x).numpy(), x.numpy())


INDEXES = [
    ("int", 1),
    ("negative_int", -1),
    ("slice", slice(1, None)),
    ("step_slice", (slice(None), slice(None, None, 2))),
    ("none_ellipsis", (None, Ellipsis, 3)),
    ("ellipsis_middle", (0, Ellipsis, slice(2, 5))),
    ("int_array", np.array([2, 0])),
    ("repeated_int_array", ([0, 0, 2, 0], slice(None), [6, 6, 1, 6])),
    ("bool_mask_rows", np.array([True, False, True])),
    ("2d_int_array", np.array([[0, 1], [1, 1]])),
]


@pytest.mark.parametrize("name,index", INDEXES, ids=[name for name, _ in INDEXES])
def test_getitem_forward_and_gradcheck(name, index):
    x = make((3, 5, 7), 2)
    np.testing.assert_array_equal(x[index].numpy(), x.numpy()[index])
    res = minnet.gradcheck(lambda t: t[index], (x,))
    assert res, res


def test_getitem_bool_mask_tensor():
    x = make((3, 5), 3)
    mask = x > 0
    np.testing.assert_array_equal(x[mask].numpy(), x.numpy()[x.numpy() > 0])
    x[mask].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), (x.numpy() > 0).astype(np.float64))


def test_getitem_repeated_indices_accumulate():
    x = minnet.tensor(np.array([10.0, 20.0, 30.0]), requires_grad=True)
    index = minnet.tensor([0, 0, 2, 0])  # an int64 Tensor index
    picked = x[index]
    np.testing.assert_array_equal(picked.numpy(), [10.0, 10.0, 30.0, 10.0])
    (picked * minnet.tensor(np.array([1.0, 2.0, 3.0, 4.0]))).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0 + 2.0 + 4.0, 0.0, 3.0])


def test_getitem_out_of_range_is_clear():
    with pytest.raises(IndexError, match=r"shape \(3,\)"):
        make((3,))[5]


@pytest.mark.parametrize("shapes,dim", [
    (((3, 5), (3, 2), (3, 7)), 1),
    (((2, 5), (3, 5)), 0),
    (((2, 3, 5), (2, 3, 5)), -1),
])
def test_cat_forward_and_gradcheck(shapes, dim):
    tensors = [make(shape, i) for i, shape in enumerate(shapes)]
    out = ops.cat(tensors, dim)
    np.testing.assert_array_equal(out.numpy(), np.concatenate([t.numpy() for t in tensors], axis=dim))
    res = minnet.gradcheck(lambda *ts: ops.cat(ts, dim), tensors)
    assert res, res


@pytest.mark.parametrize("dim", [0, 1, 2, -1])
def test_stack_forward_and_gradcheck(dim):
    tensors = [make((3, 5), i) for i in range(3)]
    out = ops.stack(tensors, dim)
    np.testing.assert_array_equal(out.numpy(), np.stack([t.numpy() for t in tensors], axis=dim))
    res = minnet.gradcheck(lambda *ts: ops.stack(ts, dim), tensors)
    assert res, res


def test_cat_and_stack_pass_gradient_only_where_needed():
    a = make((2, 3))
    c = minnet.tensor(np.ones((2, 3)))
    ops.cat([a, c, a], dim=0).sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.full((2, 3), 2.0))  # used twice
    assert c.grad is None


def test_cat_and_stack_errors_are_clear():
    with pytest.raises(ValueError, match=r"tensor 1 has shape \(3, 4\)"):
        ops.cat([make((2, 3)), make((3, 4))], dim=0)
    with pytest.raises(ValueError, match="same shape"):
        ops.stack([make((2, 3)), make((3, 2))])
    with pytest.raises(TypeError, match="list or tuple"):
        ops.cat(make((2, 3)))


# expected values computed by hand for a 1 x 4 row [1, 2, 3, 4]
PAD_CASES = [
    ("constant", (2, 1), 0, [0, 0, 1, 2, 3, 4, 0]),
    ("constant", (1, 0), 9.5, [9.5, 1, 2, 3, 4]),
    ("constant", (-1, 2), 0, [2, 3, 4, 0, 0]),  # negative padding crops
    ("reflect", (2, 1), None, [3, 2, 1, 2, 3, 4, 3]),
    ("replicate", (2, 1), None, [1, 1, 1, 2, 3, 4, 4]),
    ("circular", (2, 1), None, [3, 4, 1, 2, 3, 4, 1]),
]


@pytest.mark.parametrize("mode,pad,value,expected", PAD_CASES)
def test_pad_modes_by_hand(mode, pad, value, expected):
    x = minnet.tensor(np.array([[1.0, 2.0, 3.0, 4.0]]))
    kwargs = {} if value is None else {"value": value}
    np.testing.assert_array_equal(ops.pad(x, pad, mode=mode, **kwargs).numpy(), [expected])


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("pad", [(1, 2), (2, 1, 0, 3), (0, 0, 1, 1)])
def test_pad_gradcheck(mode, pad):
    x = make((2, 3, 5, 7), 4)
    res = minnet.gradcheck(lambda t: ops.pad(t, pad, mode=mode), (x,))
    assert res, res


def test_pad_pairs_start_from_last_dim():
    x = minnet.tensor(np.ones((2, 3)))
    assert ops.pad(x, (1, 2)).shape == (2, 6)
    assert ops.pad(x, (1, 2, 3, 0)).shape == (5, 6)
    np.testing.assert_array_equal(ops.pad(x, (0, 0, 1, 0)).numpy()[0], [0.0, 0.0, 0.0])


def test_pad_reflect_gradient_counts_copies():
    x = minnet.tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    ops.pad(x, (2, 2), mode="reflect").sum().backward()  # [3 2 | 1 2 3 | 2 1]
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 3.0, 2.0])
    x.grad = None
    ops.pad(x, (-1, 1)).sum().backward()  # crop the first entry away
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 1.0])


def test_pad_errors_are_clear():
    x = make((2, 3))
    with pytest.raises(ValueError, match="even length"):
        ops.pad(x, (1, 2, 3))
    with pytest.raises(ValueError, match="smaller than"):
        ops.pad(x, (3, 0), mode="reflect")
    with pytest.raises(ValueError, match="unknown mode"):
        ops.pad(x, (1, 1), mode="mirror")


def test_shape_errors_are_clear():
    x = make((3, 5))
    with pytest.raises(ValueError, match=r"cannot reshape a tensor of shape \(3, 5\)"):
        x.reshape(4, 4)
    with pytest.raises(ValueError, match="permutation"):
        x.permute(0, 0)
    with pytest.raises(ValueError, match="2 dims"):
        x.permute(0, 1, 2)
    with pytest.raises(IndexError, match="out of range"):
        x.transpose(0, 2)
    with pytest.raises(ValueError, match="cannot expand"):
        x.expand(3, 6)


def test_t_and_matrix_transpose():
    x = make((3, 5))
    np.testing.assert_array_equal(x.t().numpy(), x.numpy().T)
    with pytest.raises(ValueError, match="<= 2"):
        make((2, 3, 4)).t()


def test_squeeze_tuple_of_dims():
    x = make((1, 3, 1, 5))
    assert x.squeeze((0, 2)).shape == (3, 5)
    assert x.squeeze(-2).shape == (1, 3, 5)
    assert x.unsqueeze(4).shape == (1, 3, 1, 5, 1)
    with pytest.raises(IndexError):
        x.unsqueeze(6)
