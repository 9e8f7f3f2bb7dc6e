"""``Tensor.data``: PyTorch's semantics, checked against PyTorch's documented behaviour.

In PyTorch ``x.data`` is a Tensor sharing ``x``'s memory, with ``requires_grad=False``
and no ``grad_fn``; changes through it change ``x`` and are not recorded; assigning
``x.data = other`` gives ``x`` other's memory (shape and dtype may change). The expected
values below are PyTorch's (torch 2.x), written out. One deliberate difference, tested
last: minnet's ``.data`` counts versions with ``x`` (docs/pytorch.md says why).
"""
import numpy as np
import pytest

import minnet
from minnet import nn


def test_data_is_a_tensor_sharing_memory_cut_off_from_the_graph():
    x = minnet.tensor([1.0, 2.0, 3.0], requires_grad=True)
    d = x.data
    assert type(d) is minnet.Tensor
    assert d.requires_grad is False and d.is_leaf and d.grad_fn is None and d.grad is None
    assert np.shares_memory(d.numpy(), x.numpy())
    assert d.dtype == x.dtype and d.shape == x.shape
    assert x.data is not x.data  # a new tensor at every access, as in PyTorch


def test_data_of_a_non_leaf_is_a_leaf_without_grad_fn():
    x = minnet.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    assert y.grad_fn is not None
    d = y.data
    assert d.requires_grad is False and d.is_leaf and d.grad_fn is None
    assert d.tolist() == [2.0, 4.0]
    assert y.grad_fn is not None  # y itself is untouched


def test_data_of_a_parameter_is_a_plain_tensor():
    weight = nn.Linear(3, 2).weight
    assert isinstance(weight, nn.Parameter)
    assert type(weight.data) is minnet.Tensor and not weight.data.requires_grad


def test_changes_through_data_change_the_tensor_and_are_allowed_while_recording():
    # pytorch/examples regression/main.py: param.data.add_(-lr * param.grad), no no_grad()
    param = nn.Parameter(minnet.tensor([1.0, 2.0]))
    (param * 3).sum().backward()
    param.data.add_(-0.1 * param.grad)
    assert np.allclose(param.tolist(), [0.7, 1.7])
    assert param.requires_grad and param.is_leaf and isinstance(param, nn.Parameter)
    param.data.zero_()
    assert param.tolist() == [0.0, 0.0]
    param.data.copy_(minnet.tensor([5.0, 6.0]))
    assert param.tolist() == [5.0, 6.0]
    param.data[0] = 7.0
    assert param.tolist() == [7.0, 6.0]
    param.data += 1              # Tensor +=, then `param.data = <the same memory>`
    param.data -= 0.5 * param.grad
    assert np.allclose(param.tolist(), [6.5, 5.5])


def test_tensor_methods_and_numpy_on_data():
    y = minnet.tensor([3.0, 4.0], requires_grad=True) * 1
    norm = y.data.norm()                       # the old blitz autograd tutorial's loop
    assert isinstance(norm, minnet.Tensor) and norm.item() == 5.0 and not norm.requires_grad
    array = y.data.numpy()
    assert isinstance(array, np.ndarray) and array.tolist() == [3.0, 4.0]
    assert minnet.arange(3).data.tolist() == [0, 1, 2]  # integer tensors too


def test_requires_grad_on_data_does_not_touch_the_original():
    x = minnet.tensor([1.0], requires_grad=False)
    d = x.data
    d.requires_grad_()
    assert d.requires_grad and not x.requires_grad


def test_assigning_data_replaces_the_memory_keeping_the_tensor_a_leaf():
    # the manual SGD idiom: p.data = p.data - lr * p.grad
    p = minnet.tensor([1.0, 1.0], requires_grad=True)
    (p * 3).sum().backward()
    p.data = p.data - 0.1 * p.grad
    assert np.allclose(p.tolist(), [0.7, 0.7])
    assert p.requires_grad and p.is_leaf and p.grad_fn is None


def test_assigning_data_may_change_shape_and_dtype():
    p = nn.Parameter(minnet.ones(2, 3))
    p.data = minnet.zeros(4)
    assert isinstance(p, nn.Parameter) and p.shape == (4,) and p.requires_grad and p.is_leaf
    q = minnet.ones(2, requires_grad=True)
    q.data = minnet.ones(2, dtype=minnet.float64)
    assert q.dtype == np.float64 and q.requires_grad


def test_assigning_data_shares_the_new_memory_and_drops_the_old():
    b = minnet.ones(2)
    old = b.data
    new = minnet.zeros(2)
    b.data = new
    old.add_(5)                 # the old memory is no longer b's
    assert b.tolist() == [0.0, 0.0]
    new.add_(1)                 # the new memory is b's
    assert b.tolist() == [1.0, 1.0]


def test_assigning_a_graph_tensor_to_data_takes_only_its_values():
    v = minnet.ones(2, requires_grad=True)
    u = minnet.zeros(2)
    u.data = v * 2
    assert u.tolist() == [2.0, 2.0] and not u.requires_grad and u.grad_fn is None


def test_assigning_data_refuses_what_pytorch_refuses():
    q = minnet.ones(2, requires_grad=True)
    with pytest.raises(TypeError, match="expected a Tensor, got list.*from_numpy"):
        q.data = [1.0, 2.0]
    with pytest.raises(TypeError, match="expected a Tensor, got ndarray"):
        q.data = np.ones(2)
    with pytest.raises(RuntimeError, match="requires gradients must be floating point.*int64"):
        q.data = minnet.tensor([1, 2])
    plain = minnet.ones(2)
    plain.data = minnet.tensor([1, 2])           # no gradient: any dtype
    assert plain.dtype == np.int64


# -- the deliberate difference: .data counts versions with its tensor ----------------------
def test_changes_through_data_bump_the_shared_version():
    # PyTorch: t._version stays 0 and only t.data's own counter moves
    t = minnet.ones(3, requires_grad=True)
    t.data.add_(1)
    assert t._version == 1


def test_changing_a_saved_tensor_through_data_raises_instead_of_a_wrong_gradient():
    # PyTorch's own example (the 0.4 migration notes): after out.data.zero_(), torch's
    # backward silently uses the zeros and returns a wrong gradient; with detach() it raises
    a = minnet.tensor([1.0, 2.0, 3.0], requires_grad=True)
    out = a.sigmoid()
    out.data.zero_()
    with pytest.raises(RuntimeError, match="modified by an inplace operation.*'zero_|fill_'"):
        out.sum().backward()
    w = minnet.ones(3, requires_grad=True)
    loss = (w * w).sum()
    w.data.mul_(3)                                  # torch: grad 6 (from the new w)
    with pytest.raises(RuntimeError, match="input 0 of op 'mul'.*'mul_'"):
        loss.backward()


def test_assigning_data_of_a_saved_tensor_raises_too():
    r = minnet.ones(2, requires_grad=True)
    loss = (r * r).sum()
    r.data = minnet.full((2,), 5.0)
    with pytest.raises(RuntimeError, match=r"modified by an inplace operation.*Tensor\.data = "):
        loss.backward()


def test_updates_through_data_after_backward_are_the_normal_training_loop():
    w = nn.Parameter(minnet.tensor([1.0, -1.0]))
    x = minnet.tensor([2.0, 3.0])
    for _ in range(3):
        loss = (w * x).sum()
        w.grad = None
        loss.backward()
        w.data.add_(-0.5 * w.grad)     # the graph is freed: nothing pending
    assert w.tolist() == [-2.0, -5.5]
