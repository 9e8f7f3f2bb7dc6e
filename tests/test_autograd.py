"""The autograd engine: graph walking, accumulation, grad modes, hooks, dtypes.

Expected gradients are worked out by hand in the comments next to each assert.
"""
import numpy as np
import pytest

import minnet
from minnet import ops
from minnet.nn.module import Module, Parameter
from minnet.tensor import _state


def leaf(values, dtype=np.float64):
    return minnet.tensor(np.array(values, dtype=dtype), requires_grad=True)


# --------------------------------------------------------------------------
# graph shapes
# --------------------------------------------------------------------------
def test_reused_node_accumulates():
    a = leaf(3.0)
    b = a + a
    c = b + b  # c = 4a
    c.backward()
    assert a.grad.item() == 4.0


def test_diamond_graph():
    x = leaf([1.0, 2.0])
    left, right = x * 2, x * 3
    z = (left * right).sum()  # sum 6 x^2 -> dz/dx = 12 x
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), [12.0, 24.0])


@pytest.mark.parametrize("order", ["short_path_first", "long_path_first"])
def test_uneven_diamond_waits_for_every_contribution(order):
    # b reaches r directly and through a = 2b; whichever order the parents are
    # listed in, b's backward must run only after a's has delivered its part.
    x = leaf(1.5)
    b = x * 3
    a = b * 2
    r = b + a if order == "short_path_first" else a + b  # r = 9x
    r.backward()
    assert x.grad.item() == pytest.approx(9.0)


def test_deep_chain_has_no_recursion_limit():
    x = leaf(1.0)
    y = x
    for _ in range(3000):
        y = y * 1.001
    y.backward()
    assert x.grad.item() == pytest.approx(1.001 ** 3000)


def test_wide_and_deep_graph_each_node_once():
    # y_{k+1} = y_k + y_k doubles the gradient at every level: 2^40 ways to x
    x = leaf(1.0)
    y = x
    for _ in range(40):
        y = y + y
    y.backward()
    assert x.grad.item() == 2.0 ** 40


# --------------------------------------------------------------------------
# calling backward more than once
# --------------------------------------------------------------------------
def test_backward_twice_accumulates_with_retain_graph():
    x = leaf([1.0, -2.0])
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    np.testing.assert_allclose(x.grad.numpy(), 2 * (2 * np.array([1.0, -2.0])))


def test_second_backward_without_retain_graph_fails_clearly():
    x = leaf([1.0, 2.0])
    y = (x.exp() * 2).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_shared_freed_subgraph_fails_clearly():
    x = leaf([1.0, 2.0])
    h = x.exp()
    first, second = (h * 2).sum(), (h * 3).sum()
    first.backward()
    with pytest.raises(RuntimeError, match="second time"):
        second.backward()


def test_new_forward_after_backward_works():
    x = leaf(2.0)
    for _ in range(2):
        (x * x).backward()  # a fresh graph each time: accumulates 4 + 4
    assert x.grad.item() == 8.0


# --------------------------------------------------------------------------
# grad modes
# --------------------------------------------------------------------------
def test_no_grad_context_builds_no_graph():
    x = leaf([1.0])
    with minnet.no_grad():
        y = x * 2
        assert not minnet.is_grad_enabled()
    assert minnet.is_grad_enabled()
    assert not y.requires_grad and y.is_leaf


def test_no_grad_decorator_with_and_without_parentheses():
    x = leaf([1.0])

    @minnet.no_grad()
    def double(t):
        return t * 2

    @minnet.no_grad
    def triple(t):
        return t * 3

    assert not double(x).requires_grad
    assert not triple(x).requires_grad
    assert triple.__name__ == "triple"
    assert minnet.is_grad_enabled()


def test_enable_grad_inside_no_grad():
    x = leaf([1.0])
    with minnet.no_grad():
        with minnet.enable_grad():
            y = x * 2
        z = x * 2
    assert y.requires_grad and not z.requires_grad


def test_set_grad_enabled_call_context_and_decorator():
    x = leaf([1.0])
    with minnet.set_grad_enabled(False):
        assert not (x * 2).requires_grad
    assert minnet.is_grad_enabled()

    @minnet.set_grad_enabled(False)
    def frozen(t):
        return t * 2

    assert minnet.is_grad_enabled()  # decorating alone must not switch the mode
    assert not frozen(x).requires_grad
    assert minnet.is_grad_enabled()

    minnet.set_grad_enabled(False)  # a plain call takes effect at once
    try:
        assert not minnet.is_grad_enabled()
    finally:
        minnet.set_grad_enabled(True)
    assert (x * 2).requires_grad


def test_one_no_grad_object_can_be_entered_twice():
    guard = minnet.no_grad()
    with guard:
        with guard:
            assert not minnet.is_grad_enabled()
        assert not minnet.is_grad_enabled()
    assert minnet.is_grad_enabled()


def test_no_grad_restores_mode_after_exception():
    with pytest.raises(ValueError):
        with minnet.no_grad():
            raise ValueError("boom")
    assert minnet.is_grad_enabled()


# --------------------------------------------------------------------------
# leaves, detach, requires_grad
# --------------------------------------------------------------------------
def test_detach_shares_data_and_cuts_the_graph():
    x = leaf([1.0, 2.0])
    y = x * 3
    d = y.detach()
    assert not d.requires_grad and d.is_leaf
    assert np.shares_memory(d.numpy(), y.numpy())
    z = (d * x).sum()  # only the direct path to x counts: dz/dx = d = 3x
    z.backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 6.0])


def test_integer_tensors_cannot_require_grad():
    with pytest.raises(TypeError, match="floating-point"):
        minnet.tensor([1, 2, 3], requires_grad=True)
    with pytest.raises(TypeError, match="floating-point"):
        minnet.tensor([True, False]).requires_grad_()


def test_requires_grad_propagates_only_from_inputs_that_need_it():
    x = leaf([1.0])
    c = minnet.tensor([2.0], dtype=np.float64)
    assert (x * c).requires_grad and not (c * c).requires_grad
    assert (x * c).grad_fn == "mul" and c.grad_fn is None
    assert x.is_leaf and not (x * c).is_leaf
    with pytest.raises(RuntimeError, match="leaf"):
        (x * c).requires_grad_(False)


def test_constant_input_gets_no_grad():
    x = leaf([1.0, 2.0])
    c = minnet.tensor([5.0, 6.0], dtype=np.float64)
    (x * c).sum().backward()
    assert c.grad is None
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 6.0])


def test_backward_on_tensor_without_grad_fails_clearly():
    with pytest.raises(RuntimeError, match="does not require grad"):
        minnet.tensor([1.0]).sum().backward()


def test_non_scalar_backward_needs_gradient():
    x = leaf([1.0, 2.0, 3.0])
    y = x * x
    with pytest.raises(RuntimeError, match="scalar"):
        y.backward()
    with pytest.raises(RuntimeError, match="shape"):
        y.backward(gradient=np.ones(2))
    y.backward(gradient=minnet.tensor(np.array([1.0, 0.0, 2.0])))
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 0.0, 12.0])  # 2x * gradient


def test_grad_is_a_fresh_array_not_an_alias():
    x = leaf([1.0, 2.0])
    upstream = np.array([1.0, 1.0])
    (x * 1.0).backward(gradient=upstream)
    x.grad.data[0] = 99.0
    assert upstream[0] == 1.0


# --------------------------------------------------------------------------
# hooks and retain_grad
# --------------------------------------------------------------------------
def test_hook_sees_and_replaces_gradient():
    x = leaf([1.0, 2.0])
    seen = []

    def double(grad):
        seen.append(grad.numpy().copy())
        return grad * 2

    handle = x.register_hook(double)
    (x * 3).sum().backward()
    np.testing.assert_allclose(seen[0], [3.0, 3.0])
    np.testing.assert_allclose(x.grad.numpy(), [6.0, 6.0])

    handle.remove()
    x.grad = None
    (x * 3).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [3.0, 3.0])
    assert len(seen) == 1


def test_hook_on_intermediate_changes_what_reaches_the_leaf():
    x = leaf([1.0, 2.0])
    h = x * 2
    h.register_hook(lambda g: g * 0)
    (h * h).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.0])


def test_hook_returning_none_keeps_gradient_and_bad_shape_fails():
    x = leaf([1.0, 2.0])
    x.register_hook(lambda g: None)
    (x * 5).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [5.0, 5.0])
    y = leaf([1.0, 2.0])
    y.register_hook(lambda g: minnet.tensor(np.ones(3)))
    with pytest.raises(RuntimeError, match="shape"):
        (y * 5).sum().backward()


def test_hook_needs_requires_grad():
    with pytest.raises(RuntimeError, match="doesn't require"):
        minnet.tensor([1.0]).register_hook(lambda g: g)


def test_retain_grad_needs_requires_grad():
    with pytest.raises(RuntimeError, match="does not require grad"):
        minnet.tensor([1.0]).retain_grad()


def test_retain_grad_keeps_intermediate_gradient():
    x = leaf([1.0, 2.0])
    h = x * 3
    kept = (x * 4).retain_grad()
    (h * kept).sum().backward()  # d/d kept = h = 3x
    assert h.grad is None
    np.testing.assert_allclose(kept.grad.numpy(), [3.0, 6.0])


# --------------------------------------------------------------------------
# dtypes
# --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved_through_forward_and_backward(dtype):
    x = minnet.tensor(np.array([[0.5, -1.5, 2.0], [1.0, 0.25, -0.75]], dtype=dtype),
                      requires_grad=True)
    w = minnet.tensor(np.full((3, 2), 0.5, dtype=dtype), requires_grad=True)
    h = (x @ w).tanh() * 2.0 + np.float64(1.0)          # numpy float64 scalar must not promote
    h = h ** 2 / 3 - ops.sigmoid(h) + 2.0 ** h
    out = (ops.log_softmax(h, dim=1).mean() + ops.var(x) + ops.amax(x) + x.abs().sqrt().sum()
           + ops.maximum(x, 0.5).mean() + ops.clip(x, -1.0, 1.0).sum() + ops.std(x, 0).sum()
           + ops.pad(x, (1, 1), value=0.5).sum() + ops.elu(x).sum() + ops.leaky_relu(x).sum())
    assert h.dtype == dtype and out.dtype == dtype
    out.backward()
    assert x.grad.dtype == dtype and w.grad.dtype == dtype


def test_mixed_precision_gives_each_leaf_its_own_dtype_of_grad():
    a = minnet.tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    b = minnet.tensor(np.array([3.0, 4.0], dtype=np.float64), requires_grad=True)
    out = (a * b).sum()
    assert out.dtype == np.float64  # NumPy/PyTorch promotion
    out.backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64
    np.testing.assert_allclose(a.grad.numpy(), [3.0, 4.0])


def test_python_floats_default_to_float32():
    assert minnet.tensor([1.0, 2.0]).dtype == np.float32
    assert minnet.tensor(np.array([1.0])).dtype == np.float64


# --------------------------------------------------------------------------
# no op mutates its inputs
# --------------------------------------------------------------------------
def _every_op_call():
    """(name, fn, input arrays) for every op; inputs are float64 with positive entries."""
    rng = np.random.default_rng(0)
    m = rng.random((3, 4)) + 0.5
    v = rng.random(4) + 0.5
    m3 = rng.random((2, 3, 4)) + 0.5
    sq = rng.random((4, 5)) + 0.5
    mask = minnet.tensor(m > 1.0)
    return [
        ("add", lambda a, b: a + b, [m, v]),
        ("sub", lambda a, b: a - b, [m, v]),
        ("mul", lambda a, b: a * b, [m, v]),
        ("div", lambda a, b: a / b, [m, v]),
        ("neg", lambda a: -a, [m]),
        ("pow_scalar", lambda a: a ** 3, [m]),
        ("pow_tensor", lambda a, b: a ** b, [m, v]),
        ("rpow", lambda a: 2.0 ** a, [m]),
        ("exp", ops.exp, [m]), ("log", ops.log, [m]), ("sqrt", ops.sqrt, [m]),
        ("abs", ops.abs, [m]),
        ("clip", lambda a: ops.clip(a, 0.7, 1.2), [m]),
        ("clip_tensor", lambda a, lo: ops.clip(a, lo, None), [m, v]),
        ("maximum", ops.maximum, [m, v]), ("minimum", ops.minimum, [m, v]),
        ("where", lambda a, b: ops.where(mask, a, b), [m, v]),
        ("astype", lambda a: ops.astype(a, np.float32), [m]),
        ("relu", ops.relu, [m]), ("leaky_relu", ops.leaky_relu, [m]), ("elu", ops.elu, [m]),
        ("tanh", ops.tanh, [m]), ("sigmoid", ops.sigmoid, [m]),
        ("softmax", lambda a: ops.softmax(a, 1), [m]),
        ("log_softmax", lambda a: ops.log_softmax(a, 0), [m]),
        ("sum", lambda a: ops.sum(a, 1), [m]), ("mean", lambda a: ops.mean(a, 0), [m]),
        ("var", lambda a: ops.var(a, 1), [m]), ("std", lambda a: ops.std(a), [m]),
        ("amax", lambda a: ops.amax(a, 0), [m]), ("amin", lambda a: ops.amin(a), [m]),
        ("max", lambda a: ops.max(a, 1).values, [m]), ("min", lambda a: ops.min(a), [m]),
        ("logsumexp", lambda a: ops.logsumexp(a, 1), [m]),
        ("reshape", lambda a: a.reshape(4, 3), [m]), ("view", lambda a: a.view(-1), [m]),
        ("transpose", lambda a: a.transpose(0, 2), [m3]),
        ("permute", lambda a: a.permute(2, 0, 1), [m3]),
        ("flatten", lambda a: a.flatten(1), [m3]),
        ("unsqueeze", lambda a: a.unsqueeze(1), [m]),
        ("squeeze", lambda a: a.reshape(3, 1, 4).squeeze(), [m]),
        ("expand", lambda a: a.expand(3, 4), [v]),
        ("getitem_basic", lambda a: a[1:, ::2], [m]),
        ("getitem_adv", lambda a: a[[0, 0, 2]], [m]),
        ("getitem_mask", lambda a: a[mask], [m]),
        ("cat", lambda a, b: ops.cat([a, b], 0), [m, m]),
        ("stack", lambda a, b: ops.stack([a, b], 1), [m, m]),
        ("pad", lambda a: ops.pad(a, (1, 2)), [m]),
        ("pad_reflect", lambda a: ops.pad(a, (1, 2), mode="reflect"), [m]),
        ("clone", ops.clone, [m]),
        ("matmul", lambda a, b: a @ b, [m, sq]),
        ("linear", lambda x, w, b: ops.linear(x, w, b), [m, sq.T.copy(), rng.random(5)]),
    ]


@pytest.mark.parametrize("name,fn,arrays", _every_op_call(), ids=lambda v: v if isinstance(v, str) else "")
def test_no_op_mutates_its_inputs(name, fn, arrays):
    inputs = [minnet.tensor(a.copy(), requires_grad=True) for a in arrays]
    before = [a.copy() for a in arrays]
    out = fn(*inputs)
    out_before = out.numpy().copy()
    upstream = np.ones(out.shape, dtype=out.dtype)
    upstream_before = upstream.copy()
    out.backward(gradient=upstream)
    for t, original in zip(inputs, before):
        np.testing.assert_array_equal(t.numpy(), original, err_msg=f"{name} changed an input")
        assert t.grad is not None, f"{name}: no gradient reached an input"
    np.testing.assert_array_equal(out.numpy(), out_before, err_msg=f"{name}: backward changed the output")
    np.testing.assert_array_equal(upstream, upstream_before,
                                  err_msg=f"{name}: backward changed the incoming gradient")


# --------------------------------------------------------------------------
# module paths and observers
# --------------------------------------------------------------------------
class _Inner(Module):
    def __init__(self):
        super().__init__()
        self.scale = Parameter(np.array([2.0]))

    def forward(self, x):
        return (x * self.scale).relu()


class _Outer(Module):
    def __init__(self):
        super().__init__()
        self.inner = _Inner()

    def forward(self, x):
        shifted = x + 1.0
        return self.inner(shifted).sum()


def test_ops_record_the_module_that_created_them():
    model = _Outer()
    x = leaf([1.0, -3.0])
    out = model(x)
    assert out.op == "sum" and out.module == "model (_Outer)"
    relu_node = out._parents[0]
    mul_node = relu_node._parents[0]
    assert relu_node.op == "relu" and relu_node.module == "model.inner (_Inner)"
    assert mul_node.op == "mul" and mul_node.module == "model.inner (_Inner)"
    assert mul_node._parents[0].module == "model (_Outer)"  # the add before the inner call
    assert (x * 2).module is None  # outside any module


def test_forward_and_backward_observers_see_every_op():
    forward_ops, backward_ops = [], []

    def on_forward(node, inputs):
        forward_ops.append((node.op, len(inputs)))

    def on_backward(node, grad, parent_grads):
        backward_ops.append((node.op, grad.shape, len(parent_grads)))

    _state.forward_observers.append(on_forward)
    _state.backward_observers.append(on_backward)
    try:
        x = leaf([1.0, 2.0])
        (x.exp() * 2).sum().backward()
    finally:
        _state.forward_observers.remove(on_forward)
        _state.backward_observers.remove(on_backward)
    assert forward_ops == [("exp", 1), ("mul", 2), ("sum", 1)]
    assert backward_ops == [("sum", (), 1), ("mul", (2,), 2), ("exp", (2,), 1)]


# --------------------------------------------------------------------------
# Tensor methods (each maps to an op)
# --------------------------------------------------------------------------
def test_every_tensor_method_matches_numpy_and_is_differentiable():
    data = np.random.default_rng(1).uniform(0.5, 2.0, (3, 5))
    other = np.random.default_rng(2).uniform(0.5, 2.0, (5,))
    cases = [
        (lambda t: t.add(2.0), data + 2.0), (lambda t: t.sub(other), data - other),
        (lambda t: t.mul(other), data * other), (lambda t: t.div(2.0), data / 2.0),
        (lambda t: t.neg(), -data), (lambda t: -t, -data), (lambda t: +t, data),
        (lambda t: abs(t - 1.0), np.abs(data - 1.0)),
        (lambda t: t.pow(3), data ** 3), (lambda t: t.square(), data ** 2),
        (lambda t: t.matmul(minnet.tensor(np.ones((5, 2)))), data @ np.ones((5, 2))),
        (lambda t: t.maximum(minnet.tensor(other)), np.maximum(data, other)),
        (lambda t: t.minimum(minnet.tensor(other)), np.minimum(data, other)),
        (lambda t: t.exp(), np.exp(data)), (lambda t: t.log(), np.log(data)),
        (lambda t: t.sqrt(), np.sqrt(data)), (lambda t: t.abs(), data),
        (lambda t: t.clip(0.7, 1.5), np.clip(data, 0.7, 1.5)),
        (lambda t: t.clamp(min=1.0), np.maximum(data, 1.0)),
        (lambda t: t.relu(), data), (lambda t: t.tanh(), np.tanh(data)),
        (lambda t: t.sigmoid(), 1 / (1 + np.exp(-data))),
        (lambda t: t.softmax(1), np.exp(data) / np.exp(data).sum(1, keepdims=True)),
        (lambda t: t.log_softmax(0), data - np.log(np.exp(data).sum(0))),
        (lambda t: t.sum(), data.sum()), (lambda t: t.mean(1), data.mean(1)),
        (lambda t: t.var(0), data.var(0, ddof=1)), (lambda t: t.std(), data.std(ddof=1)),
        (lambda t: t.amax(1), data.max(1)), (lambda t: t.amin(), data.min()),
        (lambda t: t.max(), data.max()), (lambda t: t.min(1).values, data.min(1)),
        (lambda t: t.logsumexp(1), np.log(np.exp(data).sum(1))),
        (lambda t: t.reshape(5, 3), data.reshape(5, 3)), (lambda t: t.view(-1), data.ravel()),
        (lambda t: t.reshape_as(minnet.zeros(15)), data.ravel()),
        (lambda t: t.view_as(minnet.zeros(5, 3)), data.reshape(5, 3)),
        (lambda t: t[0].expand(2, 5), np.broadcast_to(data[0], (2, 5))),
        (lambda t: t[:, :1].expand_as(t), np.broadcast_to(data[:, :1], (3, 5))),
        (lambda t: t.transpose(0, 1), data.T), (lambda t: t.t(), data.T),
        (lambda t: t.T, data.T), (lambda t: t.permute(1, 0), data.T),
        (lambda t: t.flatten(), data.ravel()), (lambda t: t.unsqueeze(0), data[None]),
        (lambda t: t.unsqueeze(0).squeeze(), data), (lambda t: t.contiguous(), data),
        (lambda t: t.clone(), data), (lambda t: t.double(), data),
        (lambda t: t[1:, [0, 0]], data[1:, [0, 0]]),
    ]
    for i, (method, expected) in enumerate(cases):
        x = minnet.tensor(data.copy(), requires_grad=True)
        out = method(x)
        np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, err_msg=f"case {i}")
        out.sum().backward()
        assert x.grad is not None and x.grad.shape == x.shape, f"case {i}"


def test_comparisons_and_argmax_are_not_differentiable():
    x = leaf([1.0, 3.0, 2.0])
    assert (x > 1.5).dtype == np.bool_ and not (x > 1.5).requires_grad
    assert (x == 3.0).tolist() == [False, True, False]
    assert x.argmax().item() == 1 and not x.argmax().requires_grad
