"""Version counters: an in-place change of a tensor an op saved for backward raises, as in PyTorch.

Each case below was checked against torch 2.x: the ones that raise there raise here (with
PyTorch's opening words), the ones PyTorch allows (the op saved nothing) work here too.
"""
import numpy as np
import pytest

import minnet
from minnet import nn, optim

MESSAGE = "one of the variables needed for gradient computation has been modified by an inplace"


def test_every_inplace_op_bumps_the_version():
    x = minnet.zeros(3)
    assert x._version == 0
    x += 1
    x.add_(1)
    x.mul_(2)
    x[0] = 5
    x.zero_()
    assert x._version == 5


def test_changing_a_saved_input_under_no_grad_raises_naming_op_shape_and_versions():
    w = minnet.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)
    y = (w @ minnet.ones(2, 2)).sum()
    with minnet.no_grad():
        w += 1
    with pytest.raises(RuntimeError, match=MESSAGE) as info:
        y.backward()
    text = str(info.value)
    assert "'matmul'" in text and "(2, 2)" in text
    assert "is at version 1; expected version 0" in text and "'+='" in text


def test_optimizer_step_between_forward_and_backward_raises():
    minnet.manual_seed(0)
    model = nn.Linear(2, 2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    x = minnet.ones(4, 2)
    model(x).sum().backward()
    loss = model(x).sum()
    opt.step()  # changes the weight that 'linear' saved
    with pytest.raises(RuntimeError, match=MESSAGE) as info:
        loss.backward()
    assert "SGD.step()" in str(info.value) and "'linear'" in str(info.value)


def test_changing_a_data_input_raises():
    w = minnet.tensor([1.0, 2.0], requires_grad=True)
    x = minnet.tensor([3.0, 4.0])
    y = (w * x).sum()
    x.mul_(2)
    with pytest.raises(RuntimeError, match=MESSAGE):
        y.backward()


def test_changing_a_saved_output_raises():
    # torch: exp, tanh, sigmoid, relu, softmax save their result
    w = minnet.tensor([1.0, 2.0], requires_grad=True)
    for fn in (minnet.exp, minnet.tanh, minnet.sigmoid, minnet.relu):
        out = fn(w)
        with minnet.no_grad():
            out.mul_(2)
        with pytest.raises(RuntimeError, match="output 0"):
            out.sum().backward()


def test_ops_that_save_nothing_allow_the_change():
    # torch: AddBackward saves neither operand, so this backward is fine there too
    a = minnet.tensor([1.0, 2.0], requires_grad=True)
    b = minnet.tensor([1.0, 2.0])
    c = (a + b).sum()
    b += 1
    c.backward()
    assert a.grad.tolist() == [1.0, 1.0]


def test_views_share_the_version_counter():
    d = minnet.tensor([[1.0, 2.0], [3.0, 4.0]])
    row = d[0]
    row += 1  # changes d's memory: d's version moves too (torch: views share the counter)
    assert d._version == 1 and row._version == 1
    flat = d.reshape(4)
    flat.mul_(2)
    assert d._version == 2
    detached = d.detach()
    detached.zero_()
    assert d._version == 3


def test_a_step_after_backward_is_fine_and_so_is_the_next_iteration():
    minnet.manual_seed(0)
    model = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 1))
    opt = optim.Adam(model.parameters(), lr=0.01)
    x = minnet.randn(8, 3)
    for _ in range(3):
        opt.zero_grad()
        loss = model(x).pow(2).mean()
        loss.backward()
        opt.step()


def test_custom_function_checks_what_it_saved():
    class Square(minnet.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        def backward(ctx, grad):
            (x,) = ctx.saved_tensors
            return 2 * x * grad

    x = minnet.tensor([1.0, 2.0], requires_grad=True)
    y = Square.apply(x).sum()
    with minnet.no_grad():
        x.add_(1)
    with pytest.raises(RuntimeError, match=MESSAGE):
        y.backward()


def test_retain_graph_second_backward_still_checks():
    w = minnet.tensor([1.0, 2.0], requires_grad=True)
    y = (w * w).sum()
    y.backward(retain_graph=True)
    with minnet.no_grad():
        w.sub_(w.grad)
    with pytest.raises(RuntimeError, match=MESSAGE):
        y.backward()
    assert np.allclose(w.grad.tolist(), [2.0, 4.0])
