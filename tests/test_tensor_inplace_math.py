"""In-place math (exp_, relu_, masked_fill_, scatter_, index_add_, ...): the same values as
the ops, the same object back, and the same guards as every in-place change."""
import numpy as np
import pytest

import minnet

X = np.random.default_rng(0).uniform(-2, 2, size=(3, 4))


@pytest.mark.parametrize("name,args,op", [
    ("abs_", (), minnet.abs), ("neg_", (), minnet.neg), ("exp_", (), minnet.exp),
    ("square_", (), minnet.square), ("pow_", (3,), lambda t: t ** 3),
    ("sigmoid_", (), minnet.sigmoid), ("tanh_", (), minnet.tanh), ("relu_", (), minnet.relu),
    ("floor_", (), minnet.floor), ("sin_", (), minnet.sin), ("erf_", (), minnet.erf),
])
def test_inplace_math_equals_the_op_and_returns_self(name, args, op):
    t = minnet.tensor(X)
    expected = op(minnet.tensor(X)).numpy()
    assert getattr(t, name)(*args) is t
    np.testing.assert_allclose(t.numpy(), expected, rtol=1e-15)


def test_masked_fill_scatter_and_index_add_in_place():
    t = minnet.zeros(4)
    t.masked_fill_(minnet.tensor([True, False, True, False]), 5.0)
    assert t.tolist() == [5.0, 0.0, 5.0, 0.0]
    t = minnet.zeros(2, 3)
    t.scatter_(1, minnet.tensor([[2], [0]]), value=1.0)
    assert t.tolist() == [[0, 0, 1], [1, 0, 0]]
    t = minnet.zeros(3, 2)
    t.index_add_(0, minnet.tensor([0, 0, 2]), minnet.ones(3, 2), alpha=2)
    assert t.tolist() == [[4, 4], [0, 0], [2, 2]]   # index 0 named twice: added twice
    with pytest.raises(IndexError, match=r"index_add_\(\): index \[5\]"):
        t.index_add_(0, minnet.tensor([5]), minnet.ones(1, 2))


def test_inplace_math_keeps_the_guards_of_inplace_changes():
    with pytest.raises(RuntimeError, match="exp_: result type float32 can't be cast .* int64"):
        minnet.tensor([1, 2]).exp_()
    weight = minnet.randn(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="relu_: a leaf tensor that requires grad"):
        weight.relu_()
    with minnet.no_grad():
        weight.clamp_(-1, 1).tanh_()     # as an optimizer or an init would: allowed
    data = minnet.tensor(X)
    out = (minnet.tensor(X, requires_grad=True) * data).sum()
    data.exp_()                          # mul saved `data` for its backward
    with pytest.raises(RuntimeError, match="changed in place|modified|version"):
        out.backward()
