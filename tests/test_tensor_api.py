"""The PyTorch-shaped conveniences around Tensor: .data assignment (more in
test_tensor_data.py), in-place updates,
devices, factories, logical ops, custom autograd Functions and save/load of nested state."""
import numpy as np
import pytest

import minnet
from minnet import nn
from minnet.autograd import Function


# -- .data ------------------------------------------------------------------------------------
def test_data_assignment_from_a_tensor_keeps_an_array_inside():
    p = minnet.tensor([1.0, 2.0], requires_grad=True)
    p.grad = minnet.tensor([0.5, 0.5])
    p.data = p.data - 0.1 * p.grad      # the tensor takes the result's memory, not the Tensor
    assert isinstance(p.numpy(), np.ndarray)
    np.testing.assert_allclose(p.numpy(), [0.95, 1.95], rtol=1e-6)
    p.data -= 0.1 * p.grad.data
    np.testing.assert_allclose(p.numpy(), [0.9, 1.9], rtol=1e-6)


# -- in-place ops -------------------------------------------------------------------------------
def test_inplace_update_of_a_parameter_under_no_grad():
    p = minnet.tensor([1.0, 2.0, 3.0], requires_grad=True)
    with minnet.no_grad():
        p -= 0.5
        p.mul_(2).add_(minnet.tensor([1.0, 1.0, 1.0]), alpha=-3)
        p.clamp_(min=-2.0)
    np.testing.assert_allclose(p.numpy(), [-2.0, 0.0, 2.0])
    assert p.requires_grad and p.is_leaf


def test_inplace_on_a_leaf_that_requires_grad_raises_with_a_hint():
    p = minnet.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="no_grad"):
        p += 1
    with pytest.raises(RuntimeError, match="in place"):
        p.zero_()


def test_inplace_on_a_graph_node_raises():
    p = minnet.tensor([1.0, 2.0], requires_grad=True)
    hidden = p * 2
    with pytest.raises(RuntimeError, match="x = x \\+"):
        hidden.add_(1)
    with pytest.raises(RuntimeError):
        hidden[0] = 5.0


def test_inplace_on_plain_tensors_and_setitem():
    x = minnet.arange(6, dtype=np.float32).reshape(2, 3)
    x[x > 3] = 0.0
    np.testing.assert_array_equal(x.numpy(), [[0, 1, 2], [3, 0, 0]])
    x.fill_(7)
    assert np.all(x.numpy() == 7)
    x.copy_(np.ones((2, 3)))
    assert np.all(x.numpy() == 1)
    x.div_(4)
    np.testing.assert_allclose(x.numpy(), 0.25)


def test_inplace_result_of_wrong_shape_or_kind_raises_clearly():
    x = minnet.zeros(2, 3)
    with pytest.raises(RuntimeError, match=r"shape \(4,\)"):
        x.copy_(np.ones(4))
    counts = minnet.tensor([1, 2, 3])   # int64
    with pytest.raises(RuntimeError, match="can't be cast"):
        counts += 0.5


def test_grad_zero_inplace_is_allowed():
    p = minnet.tensor([1.0, 2.0], requires_grad=True)
    (p * p).sum().backward()
    p.grad.zero_()
    np.testing.assert_array_equal(p.grad.numpy(), [0.0, 0.0])


# -- logical ops and masked_fill ----------------------------------------------------------------
def test_logical_operators():
    x = minnet.tensor([-1.0, 0.5, 2.0, 3.0])
    mask = (x > 0) & (x < 2.5)
    np.testing.assert_array_equal(mask.numpy(), [False, True, True, False])
    np.testing.assert_array_equal(((x < 0) | (x > 2.5)).numpy(), [True, False, False, True])
    np.testing.assert_array_equal((~mask).numpy(), [True, False, False, True])
    np.testing.assert_array_equal(((x > 0) ^ (x > 1)).numpy(), [False, True, False, False])
    with pytest.raises(TypeError, match="bool or integer"):
        ~x


def test_masked_fill_value_and_gradient():
    x = minnet.tensor([1.0, 2.0, 3.0], requires_grad=True, dtype=np.float64)
    y = x.masked_fill(minnet.tensor([True, False, True]), -1.0)
    np.testing.assert_array_equal(y.numpy(), [-1.0, 2.0, -1.0])
    (y * y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 4.0, 0.0])


# -- devices and dtypes ---------------------------------------------------------------------------
def test_to_accepts_cpu_dtype_and_tensor():
    x = minnet.ones(2)
    assert x.device == "cpu"
    assert x.to("cpu") is x and x.cpu() is x
    assert x.to(np.float64).dtype == np.float64
    assert x.to(minnet.double).dtype == np.float64
    assert x.to("cpu", dtype=minnet.float64).dtype == np.float64
    assert x.to(minnet.zeros(1, dtype=np.float64)).dtype == np.float64
    with pytest.raises(RuntimeError, match="CPU only"):
        x.to("cuda")


def test_module_to_and_cpu():
    model = nn.Linear(3, 2)
    assert model.to("cpu") is model and model.cpu() is model
    model.to(np.float64)
    assert model.weight.dtype == np.float64 and model.bias.dtype == np.float64
    with pytest.raises(RuntimeError, match="CPU only"):
        model.to("cuda:0")


def test_dtype_aliases_match_torch_names():
    assert minnet.float is np.float32 and minnet.double is np.float64
    assert minnet.long is np.int64 and minnet.float32 is np.float32


# -- factories -------------------------------------------------------------------------------------
def test_factories():
    array = np.arange(3.0)
    shared = minnet.from_numpy(array)
    array[0] = 10.0
    assert shared.numpy()[0] == 10.0      # shares memory, as torch.from_numpy does
    with pytest.raises(TypeError, match="np.ndarray"):
        minnet.from_numpy([1, 2])
    np.testing.assert_array_equal(minnet.eye(2, 3).numpy(), np.eye(2, 3))
    assert minnet.eye(3).dtype == np.float32
    np.testing.assert_allclose(minnet.linspace(-3, 3, 7).numpy(), [-3, -2, -1, 0, 1, 2, 3])
    ints = minnet.randint(0, 5, (4, 3), seed=1)
    assert ints.shape == (4, 3) and ints.dtype == np.int64
    assert ints.numpy().min() >= 0 and ints.numpy().max() < 5
    np.testing.assert_array_equal(ints.numpy(), minnet.randint(0, 5, (4, 3), seed=1).numpy())
    like = minnet.randn_like(minnet.zeros(2, 5, dtype=np.float64), seed=3)
    assert like.shape == (2, 5) and like.dtype == np.float64
    assert minnet.allclose(minnet.ones(2), np.ones(2)) and not minnet.allclose(minnet.ones(2), 0)


def test_randn_draws_from_the_default_generator_reproducibly():
    minnet.manual_seed(5)
    first = minnet.randn(3).numpy()
    second = minnet.randn(3).numpy()
    assert not np.array_equal(first, second)       # a stream, not the same draw every call
    minnet.manual_seed(5)
    np.testing.assert_array_equal(minnet.randn(3).numpy(), first)
    np.testing.assert_array_equal(minnet.randn(3, seed=9).numpy(), minnet.randn(3, seed=9).numpy())


# -- errors name the module ---------------------------------------------------------------------
def test_errors_inside_a_module_name_it():
    class Broken(nn.Module):
        def forward(self, x):
            raise ValueError("boom")

    model = nn.Sequential(nn.Linear(2, 2), Broken())
    with pytest.raises(ValueError) as info:
        model(minnet.ones(1, 2))
    notes = getattr(info.value, "__notes__", [])
    if hasattr(info.value, "add_note"):  # Python >= 3.11: an exception note
        assert len(notes) == 1 and "1 (Broken)" in notes[0]   # only the innermost module
    else:                                # Python 3.10: appended to the message
        assert "1 (Broken)" in str(info.value) and str(info.value).count("raised inside") == 1


def test_optimizer_given_the_model_itself():
    model = nn.Linear(2, 1)
    with pytest.raises(TypeError, match=r"model.parameters\(\)"):
        minnet.optim.SGD(model, lr=0.1)


# -- custom autograd Functions --------------------------------------------------------------------
class Cube(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x)
        return x * x * x

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * 3 * x * x


class ScaledExp(Function):
    """exp(scale * x): a non-Tensor argument gets None as its gradient."""

    @staticmethod
    def forward(ctx, x, scale):
        out = minnet.exp(x * scale)
        ctx.save_for_backward(out)
        ctx.scale = scale
        return out

    @staticmethod
    def backward(ctx, grad_output):
        (out,) = ctx.saved_tensors
        return grad_output * out * ctx.scale, None


def test_function_gradchecks():
    rng = np.random.default_rng(0)
    x = minnet.tensor(rng.standard_normal((3, 5)), dtype=np.float64, requires_grad=True)
    assert minnet.gradcheck(Cube.apply, (x,)).passed
    assert minnet.gradcheck(lambda t: ScaledExp.apply(t, 0.7), (x,)).passed
    y = Cube.apply(x)
    assert y.op == "Cube" and y.requires_grad


def test_function_needs_input_grad_and_no_recording_inside_forward():
    seen = {}

    class Probe(Function):
        @staticmethod
        def forward(ctx, a, b):
            seen["needs"] = ctx.needs_input_grad
            out = a * b
            seen["recorded"] = out.requires_grad
            return out

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output, None

    Probe.apply(minnet.ones(2, requires_grad=True), minnet.ones(2))
    assert seen == {"needs": (True, False), "recorded": False}


def test_function_with_wrong_gradient_count_or_shape_raises():
    class TooFew(Function):
        @staticmethod
        def forward(ctx, a, b):
            return a + b

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output

    class WrongShape(Function):
        @staticmethod
        def forward(ctx, a):
            return a.sum()

        @staticmethod
        def backward(ctx, grad_output):
            return grad_output            # a scalar, not shaped like a

    a = minnet.ones(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="returned 1 gradient"):
        TooFew.apply(a, minnet.ones(3)).sum().backward()
    with pytest.raises(RuntimeError, match=r"shape \(\) for argument 0"):
        WrongShape.apply(a).backward()


# -- save/load of nested state ---------------------------------------------------------------------
def test_optimizer_state_round_trip(tmp_path):
    model = nn.Linear(3, 2)
    optimizer = minnet.optim.Adam(model.parameters(), lr=0.01)
    model(minnet.ones(4, 3)).sum().backward()
    optimizer.step()
    state = optimizer.state_dict()
    minnet.save(state, tmp_path / "adam.npz")
    loaded = minnet.load(tmp_path / "adam.npz", map_location="cpu")
    assert set(loaded["state"]) == set(state["state"])       # integer keys stay integers
    assert all(isinstance(key, int) for key in loaded["state"])
    for index, entry in state["state"].items():
        for name, value in entry.items():
            np.testing.assert_array_equal(np.asarray(getattr(loaded["state"][index][name], "data",
                                                              loaded["state"][index][name])),
                                          np.asarray(getattr(value, "data", value)))
    twin = nn.Linear(3, 2)
    twin.load_state_dict(model.state_dict())
    fresh = minnet.optim.Adam(twin.parameters(), lr=0.5)
    fresh.load_state_dict(loaded)
    assert fresh.param_groups[0]["lr"] == 0.01
    # the moments and step came back: one more identical step gives identical weights
    for m in (model, twin):
        m.zero_grad()
        m(minnet.ones(4, 3)).sum().backward()
    optimizer.step()
    fresh.step()
    for a, b in zip(model.parameters(), twin.parameters()):
        np.testing.assert_array_equal(a.numpy(), b.numpy())


def test_save_keeps_tuples_and_refuses_colliding_keys(tmp_path):
    minnet.save({"betas": (0.9, 0.999), "sizes": [1, 2]}, tmp_path / "t.npz")
    loaded = minnet.load(tmp_path / "t.npz")
    assert isinstance(loaded["betas"], tuple) and isinstance(loaded["sizes"], list)
    with pytest.raises(ValueError, match="collide"):
        minnet.save({1: np.ones(1), "1": np.zeros(1)}, tmp_path / "c.npz")
    assert not (tmp_path / "c.npz").exists()
    with pytest.raises(RuntimeError, match="CPU only"):
        minnet.load(tmp_path / "t.npz", map_location="cuda")
