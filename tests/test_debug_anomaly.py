"""Anomaly mode: the first NaN/Inf raises AnomalyError naming op, module, phase, inputs and line."""
import warnings

import numpy as np
import pytest

import minnet
from minnet import nn
from minnet import anomaly
from minnet.tensor import _state

THIS_FILE = __file__


def line_of(marker: str) -> int:
    """The line number in this file of the line ending with ``# marker``."""
    with open(THIS_FILE) as f:
        hits = [n for n, text in enumerate(f, 1) if text.rstrip().endswith(f"# {marker}")]
    assert len(hits) == 1, marker
    return hits[0]


@pytest.fixture(autouse=True)
def quiet_numpy_and_clean_state():
    # NumPy warns about log(0) and friends: that is what these tests provoke
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        yield
    assert not anomaly.is_anomaly_enabled(), "a test left anomaly mode on"
    assert anomaly._on_forward not in _state.forward_observers
    assert anomaly._on_backward not in _state.backward_observers


class Log(nn.Module):
    def forward(self, x):
        return x.log()  # LOG_LINE


class Sqrt(nn.Module):
    def forward(self, x):
        return x.sqrt()  # SQRT_LINE


def relu_then_log_net():
    """Linear -> ReLU -> Log: the ReLU zeros make log produce -inf."""
    minnet.manual_seed(0)
    return nn.Sequential(nn.Linear(4, 8), nn.ReLU(), Log())


def batch(rows=16, seed=0):
    return minnet.tensor(np.random.default_rng(seed).normal(size=(rows, 4)).astype(np.float32))


# --------------------------------------------------------------------------
# Forward
# --------------------------------------------------------------------------
def test_log_of_zero_names_op_module_count_and_the_users_line():
    net, x = relu_then_log_net(), batch()
    hidden = net[1](net[0](x)).numpy()
    expected_zeros = int((hidden == 0).sum())
    assert 0 < expected_zeros < hidden.size  # the setup really has some zeros
    with pytest.raises(minnet.AnomalyError) as info:
        with minnet.detect_anomaly():
            net(x)
    error = info.value
    assert error.op == "log"
    assert error.module == "model.2 (Log)"
    assert error.phase == "forward"
    assert error.code == "loss.nonfinite"
    assert error.stats["zeros"] == expected_zeros
    assert error.stats["inf"] == expected_zeros and error.stats["nan"] == 0
    assert error.stats["size"] == hidden.size
    assert error.stats["min_input"] == 0.0
    assert error.source.file == THIS_FILE
    assert error.source.line == line_of("LOG_LINE")
    assert error.source.code.startswith("return x.log()")
    message = str(error)
    assert f"log got 0.0 at {expected_zeros} of {hidden.size} positions, min input 0.0" in message
    assert "model.2 (Log)" in message and f"{THIS_FILE}:{line_of('LOG_LINE')}" in message


def test_exp_overflow_reports_input_max_and_threshold():
    values = np.zeros(64, dtype=np.float32)
    values[[3, 10, 40]] = [100.0, 812.3, 90.0]
    with pytest.raises(minnet.AnomalyError) as info:
        with minnet.detect_anomaly():
            minnet.tensor(values).exp()  # EXP_LINE
    error = info.value
    limit = float(np.log(np.finfo(np.float32).max))
    assert error.op == "exp" and error.module is None
    assert error.stats["overflowed"] == 3
    assert error.stats["max_input"] == pytest.approx(812.3, rel=1e-6)
    assert error.stats["threshold"] == pytest.approx(limit)
    assert "exp overflowed: input max 812.3 > log(float32 max) 88.7 at 3 of 64 positions" \
        in str(error)
    assert error.source.line == line_of("EXP_LINE")


def test_zero_over_zero_counts_zero_denominators():
    numerator = minnet.tensor([0.0, 1.0, 2.0, 0.0])
    denominator = minnet.tensor([0.0, 0.0, 1.0, 3.0])
    with pytest.raises(minnet.AnomalyError) as info:
        with minnet.detect_anomaly():
            numerator / denominator
    error = info.value
    assert error.op == "div"
    assert error.stats["zero_denominators"] == 2
    assert error.stats["zero_over_zero"] == 1
    assert error.stats["nan"] == 1 and error.stats["inf"] == 1
    assert "zero denominator at 2 of 4 positions (0/0 = NaN at 1 of them)" in str(error)


def test_sqrt_of_negative_even_without_a_graph():
    # under no_grad no graph is recorded (no _parents), yet the inputs are still explained
    with pytest.raises(minnet.AnomalyError) as info:
        with minnet.detect_anomaly(), minnet.no_grad():
            minnet.tensor([4.0, -0.5, -2.0, 9.0]).sqrt()
    error = info.value
    assert error.op == "sqrt"
    assert error.stats["negatives"] == 2 and error.stats["min_input"] == -2.0
    assert error.stats["nan"] == 2
    assert "sqrt got a negative input at 2 of 4 positions, min input -2.0" in str(error)


def test_nan_coming_from_the_data_is_blamed_on_the_data():
    data = minnet.tensor([1.0, np.nan, 3.0])
    with pytest.raises(minnet.AnomalyError) as info:
        with minnet.detect_anomaly():
            data * 2.0
    assert info.value.code == "data.nonfinite"
    assert info.value.stats["inputs_already_nonfinite"] == 1
    assert "already holding 1 NaN" in str(info.value)


def test_intended_minus_inf_mask_is_not_an_anomaly():
    logits = minnet.tensor(np.random.default_rng(1).normal(size=(4, 5)).astype(np.float32),
                           requires_grad=True)
    mask = np.zeros((4, 5), dtype=bool)
    mask[:, 3] = True
    with minnet.detect_anomaly():
        masked = logits.masked_fill(minnet.tensor(mask), float("-inf"))
        loss = nn.functional.cross_entropy(masked, minnet.tensor([0, 1, 2, 4]))
        loss.backward()
    assert np.isfinite(logits.grad.numpy()).all()
    assert np.isneginf(masked.numpy()[:, 3]).all()  # the -inf really went through


# --------------------------------------------------------------------------
# Backward
# --------------------------------------------------------------------------
def test_sqrt_at_zero_gives_an_infinite_gradient_reported_in_backward():
    x = minnet.tensor([[0.0, 4.0, 9.0], [1.0, 0.0, 16.0]], requires_grad=True)
    layer = nn.Sequential(Sqrt())
    with pytest.raises(minnet.AnomalyError) as info:
        with minnet.detect_anomaly():
            out = layer(x)  # the forward is fine: sqrt(0) = 0
            assert np.isfinite(out.numpy()).all()
            out.sum().backward()
    error = info.value
    assert error.phase == "backward" and error.code == "grad.nonfinite"
    assert error.op == "sqrt" and error.module == "model.0 (Sqrt)"
    assert error.stats["input_index"] == 0
    assert error.stats["inf"] == 2 and error.stats["zero_inputs"] == 2
    assert error.stats["grad_out_nan"] == 0 and error.stats["grad_out_inf"] == 0
    # the line that created the op during the forward pass, not the backward() call
    assert error.source.file == THIS_FILE and error.source.line == line_of("SQRT_LINE")
    assert "incoming gradient was finite" in str(error)
    assert "input 0 is 0.0 at 2 of 6 positions" in str(error)


def test_custom_function_whose_backward_makes_nan():
    class Halve(minnet.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 0.5

        @staticmethod
        def backward(ctx, grad):
            return grad * np.nan  # BROKEN_BACKWARD_LINE

    class HalveNumpy(minnet.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            return x * 0.5

        @staticmethod
        def backward(ctx, grad):
            return np.full(grad.shape, np.nan, dtype=np.float32)  # numpy only: no op to see

    x = minnet.tensor([1.0, 2.0], requires_grad=True)
    # the NaN is made by an op (mul) inside the backward: still a backward anomaly of Halve
    with pytest.raises(minnet.AnomalyError) as info:
        with minnet.detect_anomaly():
            nn.Sequential(_Apply(Halve))(x).sum().backward()
    error = info.value
    assert error.phase == "backward" and error.code == "grad.nonfinite"
    assert error.op == "Halve" and error.module == "model.0 (_Apply)"
    assert error.stats["nan"] == 2
    assert error.source.line == line_of("BROKEN_BACKWARD_LINE")
    assert "op 'mul' in the backward of op 'Halve'" in str(error)
    # the NaN array is returned straight from NumPy: the engine's backward observer sees it
    with pytest.raises(minnet.AnomalyError) as info:
        with minnet.detect_anomaly():
            out = HalveNumpy.apply(x)  # HALVE_NUMPY_LINE
            out.sum().backward()
    error = info.value
    assert error.phase == "backward" and error.op == "HalveNumpy"
    assert error.stats["nan"] == 2 and error.stats["grad_out_nan"] == 0
    assert error.source.line == line_of("HALVE_NUMPY_LINE")


class _Apply(nn.Module):
    """Wraps a custom Function as a layer, so the error can name a module path."""

    def __init__(self, function):
        super().__init__()
        self.function = function

    def forward(self, x):
        return self.function.apply(x)


def test_incoming_gradient_already_nonfinite_is_said_so():
    x = minnet.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(minnet.AnomalyError) as info:
        with minnet.detect_anomaly():
            (x * 3.0).backward(gradient=minnet.tensor([np.nan, 1.0]))
    assert info.value.stats["grad_out_nan"] == 1
    assert "incoming gradient was already non-finite" in str(info.value)


def test_backward_of_a_graph_built_outside_anomaly_mode_has_no_source():
    x = minnet.tensor([0.0, 1.0], requires_grad=True)
    out = x.sqrt().sum()
    with pytest.raises(minnet.AnomalyError) as info:
        with minnet.detect_anomaly():
            out.backward()
    assert info.value.source is None
    assert "created outside anomaly mode" in str(info.value)


# --------------------------------------------------------------------------
# The switch: context manager, decorator, nesting, set_detect_anomaly, cost when off
# --------------------------------------------------------------------------
def test_no_error_and_no_observers_left_after_a_healthy_block():
    net, x = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 1)), batch()
    forward_before = list(_state.forward_observers)
    backward_before = list(_state.backward_observers)
    with minnet.detect_anomaly():
        assert anomaly.is_anomaly_enabled()
        net(x).pow(2).mean().backward()
    assert not anomaly.is_anomaly_enabled()
    assert _state.forward_observers == forward_before
    assert _state.backward_observers == backward_before
    assert anomaly._created_at == {}  # creation records are dropped with the mode


def test_the_error_leaves_the_mode_off():
    with pytest.raises(minnet.AnomalyError):
        with minnet.detect_anomaly():
            minnet.tensor([0.0]).log()
    assert not anomaly.is_anomaly_enabled()


def test_nested_blocks_restore_the_previous_state():
    with minnet.detect_anomaly():
        with minnet.detect_anomaly(check_nan=False):
            assert anomaly.is_anomaly_enabled()
            assert not anomaly.is_anomaly_check_nan_enabled()
            minnet.tensor([0.0]).log()  # not checked: no error
        assert anomaly.is_anomaly_check_nan_enabled()
        with pytest.raises(minnet.AnomalyError):
            minnet.tensor([0.0]).log()
        assert anomaly.is_anomaly_enabled()  # the inner block did not switch it off
    assert not anomaly.is_anomaly_enabled()


def test_decorator_with_and_without_parentheses():
    @minnet.detect_anomaly()
    def with_parens(t):
        assert anomaly.is_anomaly_enabled()
        return t.log()

    @minnet.detect_anomaly
    def bare(t):
        return t.log()

    for func in (with_parens, bare):
        with pytest.raises(minnet.AnomalyError):
            func(minnet.tensor([0.0]))
        assert not anomaly.is_anomaly_enabled()
        assert np.isfinite(func(minnet.tensor([2.0])).numpy()).all()


def test_set_detect_anomaly_switches_at_once_and_restores_as_context():
    minnet.set_detect_anomaly(True)
    try:
        assert anomaly.is_anomaly_enabled()
        with minnet.set_detect_anomaly(False):
            assert not anomaly.is_anomaly_enabled()
            assert anomaly._on_forward not in _state.forward_observers
        assert anomaly.is_anomaly_enabled()
    finally:
        minnet.set_detect_anomaly(False)
    assert not anomaly.is_anomaly_enabled()


def test_off_costs_nothing_the_engine_has_no_observer_to_call():
    # with the mode off, _from_op and _propagate find empty observer lists
    assert _state.forward_observers == []
    assert _state.backward_observers == []
    out = minnet.tensor([0.0]).log()  # and nothing is checked
    assert np.isneginf(out.numpy()).all()


def test_error_converts_to_plain_data():
    with pytest.raises(minnet.AnomalyError) as info:
        with minnet.detect_anomaly():
            minnet.tensor([0.0, 1.0]).log()
    data = info.value.to_dict()
    assert data["code"] == "loss.nonfinite" and data["phase"] == "forward"
    assert data["source"]["line"] == info.value.source.line
    assert all(isinstance(v, (int, float)) for v in data["stats"].values())
