"""The engine (minnet/engine.py) and what it tells others: the node it is on, the module stack."""
import subprocess
import sys

import numpy as np
import pytest

import minnet
from minnet import engine, nn
from minnet.autograd import Function
from minnet.tensor import ModuleCall, _state


def test_import_minnet_loads_no_debugger_and_anomaly_mode_loads_on_first_use():
    code = ("import sys, minnet\n"
            "print(sorted(m for m in sys.modules if m.startswith('minnet.debug')))\n"
            "mode = minnet.detect_anomaly\n"
            "print('minnet.anomaly' in sys.modules, mode.__module__)\n"
            "print(minnet.autograd.set_detect_anomaly is minnet.set_detect_anomaly)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split("\n")[:3] == ["[]", "True minnet.anomaly", "True"]


def test_pytorch_names_of_anomaly_mode_are_the_debuggers_own():
    from minnet import anomaly
    assert minnet.detect_anomaly is anomaly.detect_anomaly
    assert minnet.autograd.detect_anomaly is anomaly.detect_anomaly
    assert minnet.AnomalyError is anomaly.AnomalyError
    with pytest.raises(AttributeError, match="no attribute 'detect_anomali'"):
        minnet.autograd.detect_anomali  # noqa: B018  (a typo still fails)


def test_observers_are_told_the_node_the_engine_is_on():
    x = minnet.tensor([1.0, 2.0], requires_grad=True)
    y = (x * 3).exp()
    seen = []
    _state.backward_observers.append(lambda node, grad, input_grads: seen.append(
        (node.op, _state.current_node is node)))
    try:
        y.sum().backward()
    finally:
        _state.backward_observers.pop()
    assert seen == [("sum", True), ("exp", True), ("mul", True)]
    assert _state.current_node is None  # and nothing is kept after the pass


def test_a_hook_runs_with_its_node_current_and_a_nested_backward_restores_it():
    a = minnet.tensor([1.0, 2.0], requires_grad=True)
    b = a * 2
    during = []

    def hook(grad):
        during.append(_state.current_node is b)
        inner = minnet.tensor([3.0], requires_grad=True)
        (inner * 2).sum().backward()  # a second backward inside the first
        during.append(_state.current_node is b)

    b.register_hook(hook)
    b.sum().backward()
    assert during == [True, True]
    assert _state.current_node is None
    np.testing.assert_allclose(a.grad.numpy(), [2.0, 2.0])


def test_an_error_in_backward_leaves_no_current_node():
    x = minnet.tensor([1.0], requires_grad=True)
    y = x * 2
    y.register_hook(lambda grad: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        y.sum().backward()
    assert _state.current_node is None


class NanBackward(Function):
    @staticmethod
    def forward(ctx, x):
        return x * 1

    @staticmethod
    def backward(ctx, grad_output):
        return grad_output * minnet.tensor(float("nan"))  # an op inside a custom backward


def test_anomaly_mode_names_the_node_of_a_custom_backward_without_reading_engine_frames():
    import inspect

    from minnet import anomaly
    assert "f_locals" not in inspect.getsource(anomaly)  # asks the engine, never inspects it
    x = minnet.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(minnet.AnomalyError) as info:
        with minnet.detect_anomaly():
            NanBackward.apply(x).sum().backward()
    assert info.value.phase == "backward"
    assert info.value.op == "NanBackward"


def test_one_module_stack_holds_each_running_module_with_its_path():
    seen = []

    class Probe(nn.Module):
        def forward(self, x):
            seen.append(list(_state.module_stack))
            return x

    inner = Probe()
    model = nn.Sequential(nn.Identity(), nn.Sequential(inner))
    model(minnet.tensor([1.0]))
    (stack,) = seen
    assert [call.label for call in stack] == ["model (Sequential)", "model.1 (Sequential)",
                                              "model.1.0 (Probe)"]
    assert stack[-1] == ModuleCall("model.1.0 (Probe)", inner, "model.1.0")
    assert _state.module_stack == []
    assert not hasattr(nn.module, "_call_stack")


def test_the_module_stack_is_emptied_when_forward_raises():
    class Broken(nn.Module):
        def forward(self, x):
            raise ValueError("broken")

    with pytest.raises(ValueError):
        nn.Sequential(Broken())(minnet.tensor([1.0]))
    assert _state.module_stack == []


def test_ops_record_the_innermost_module_label():
    model = nn.Sequential(nn.Linear(2, 2), nn.ReLU())
    out = model(minnet.tensor([[1.0, -1.0]]))
    assert out.module == "model.1 (ReLU)"
    assert minnet.tensor([1.0]).exp().module is None


# --------------------------------------------------------------------------
# The copy-avoiding fast path hands a leaf only arrays no one else holds
# --------------------------------------------------------------------------
def test_a_gradient_a_hook_kept_is_copied_for_the_leaf():
    layer = nn.Linear(3, 2, generator=np.random.default_rng(0))
    kept = []
    layer.weight.register_hook(lambda grad: kept.append(grad) or grad)  # returns what it keeps
    layer(minnet.tensor(np.ones((4, 3), np.float32))).sum().backward()
    assert not np.shares_memory(kept[0].numpy(), layer.weight.grad.numpy())


def test_a_leaf_used_twice_gets_the_engines_sum_and_add_shares_no_array():
    w = minnet.tensor([1.0, 2.0], requires_grad=True)
    b = minnet.tensor([0.5, 0.5], requires_grad=True)
    (w + b).sum().backward()  # add's backward hands one array to both inputs
    assert not np.shares_memory(w.grad.numpy(), b.grad.numpy())
    w.grad.zero_()
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 1.0])
    v = minnet.tensor([1.0, 2.0], requires_grad=True)
    (v * v + v).sum().backward()  # three contributions summed
    np.testing.assert_allclose(v.grad.numpy(), [3.0, 5.0])


def test_topological_order_puts_every_node_after_its_parents_and_visits_each_once():
    x = minnet.tensor([1.0], requires_grad=True)
    a = x * 2
    b = a + x
    c = a * b
    order = engine.topological_order(c)
    assert [id(t) for t in order] == [id(x), id(a), id(b), id(c)]
    deep = x
    for _ in range(5000):  # no recursion: deep chains are fine
        deep = deep * 1.0
    assert len(engine.topological_order(deep)) == 5001
