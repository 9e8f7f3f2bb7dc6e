"""Module machinery (nn/module.py, nn/containers.py) exercised through real layers."""
import numpy as np
import pytest

import minnet
import minnet.nn as nn
import minnet.nn.functional as F
from minnet import Tensor


class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.ReLU())
        self.dropout = nn.Dropout(0.5)
        self.head = nn.Linear(5, 3)
        self.register_buffer("scale", Tensor(np.array(2.0, dtype=np.float32)))
        self.not_registered = [nn.Linear(2, 2)]  # a plain list hides modules (as in PyTorch)

    def forward(self, x):
        return self.head(self.dropout(self.encoder(x))) * self.scale


def batch(n=6, features=4, seed=0, dtype=np.float32):
    return Tensor(np.random.default_rng(seed).standard_normal((n, features)).astype(dtype))


def test_registration_and_names():
    model = TwoLayer()
    assert [name for name, _ in model.named_parameters()] == [
        "encoder.0.weight", "encoder.0.bias", "encoder.1.weight", "encoder.1.bias",
        "head.weight", "head.bias"]
    assert [name for name, _ in model.named_modules()] == [
        "", "encoder", "encoder.0", "encoder.1", "encoder.2", "dropout", "head"]
    assert [name for name, _ in model.named_children()] == ["encoder", "dropout", "head"]
    assert [name for name, _ in model.named_buffers()] == [
        "scale", "encoder.1.running_mean", "encoder.1.running_var",
        "encoder.1.num_batches_tracked"]
    assert "scale" in model.state_dict()
    assert len(list(model.parameters())) == 6


def test_shared_parameters_are_listed_once():
    layer = nn.Linear(3, 3)
    model = nn.Sequential(layer, nn.Tanh(), layer)
    assert len(list(model.parameters())) == 2


def test_train_eval_propagates_to_every_submodule():
    model = TwoLayer()
    model.eval()
    assert all(not m.training for m in model.modules())
    x = batch()
    np.testing.assert_array_equal(model(x).numpy(), model(x).numpy())  # deterministic in eval
    model.train()
    assert all(m.training for m in model.modules())
    model.encoder.eval()
    assert model.training and not model.encoder[1].training


def test_ops_record_the_module_path():
    model = nn.Sequential(nn.Linear(4, 3), nn.Sequential(nn.Tanh()))
    out = model(batch())
    assert out.module == "model.1.0 (Tanh)"
    assert out._parents[0].module == "model.0 (Linear)"


def test_forward_pre_hook_and_forward_hook():
    layer = nn.Linear(4, 2)
    calls = []

    def pre(module, args):
        calls.append(("pre", module, args[0].shape))
        return (args[0] * 0,)  # replace the input

    def post(module, args, output):
        calls.append(("post", output.shape))
        return output + 1  # replace the output

    h1 = layer.register_forward_pre_hook(pre)
    h2 = layer.register_forward_hook(post)
    out = layer(batch())
    np.testing.assert_allclose(out.numpy(), np.broadcast_to(layer.bias.numpy() + 1, (6, 2)))
    assert calls == [("pre", layer, (6, 4)), ("post", (6, 2))]
    h1.remove(), h2.remove()
    layer(batch())
    assert len(calls) == 2


def test_full_backward_hook_reports_input_and_output_gradients():
    layer = nn.Linear(4, 3).double()
    seen = []
    layer.register_full_backward_hook(
        lambda module, grad_input, grad_output: seen.append((grad_input, grad_output)))
    x = Tensor(np.random.default_rng(1).standard_normal((5, 4)), requires_grad=True)
    upstream = np.random.default_rng(2).standard_normal((5, 3))
    layer(x).backward(upstream)
    assert len(seen) == 1
    grad_input, grad_output = seen[0]
    np.testing.assert_allclose(grad_output[0].numpy(), upstream)
    np.testing.assert_allclose(grad_input[0].numpy(), upstream @ layer.weight.numpy())
    np.testing.assert_allclose(x.grad.numpy(), upstream @ layer.weight.numpy())


def test_full_backward_hook_on_data_input_gives_none():
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU())
    seen = []
    model[0].register_full_backward_hook(lambda m, gi, go: seen.append((gi, go)))
    F.cross_entropy(model(batch()), Tensor(np.array([0, 1, 2, 0, 1, 2]))).backward()
    assert len(seen) == 1
    assert seen[0][0] == (None,) and seen[0][1][0].shape == (6, 3)


def test_zero_grad():
    model = nn.Sequential(nn.Linear(4, 3))
    F.mse_loss(model(batch()), Tensor(np.zeros((6, 3), dtype=np.float32))).backward()
    assert model[0].weight.grad is not None
    model.zero_grad(set_to_none=False)
    np.testing.assert_array_equal(model[0].weight.grad.numpy(), 0)
    model.zero_grad()
    assert model[0].weight.grad is None


def test_gradients_accumulate_across_backward_calls():
    layer = nn.Linear(4, 3)
    x = batch()
    layer(x).sum().backward()
    once = layer.weight.grad.numpy().copy()
    layer(x).sum().backward()
    np.testing.assert_allclose(layer.weight.grad.numpy(), 2 * once, rtol=1e-6)


def test_double_and_float_convert_parameters_and_buffers():
    model = TwoLayer().double()
    assert all(p.dtype == np.float64 for p in model.parameters())
    assert model.encoder[1].running_mean.dtype == np.float64
    assert model.encoder[1].num_batches_tracked.dtype == np.int64  # integers stay integers
    assert model(batch(dtype=np.float64)).dtype == np.float64
    model.float()
    assert all(p.dtype == np.float32 for p in model.parameters())
    assert model.scale.dtype == np.float32


def test_requires_grad_false_freezes_parameters():
    model = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))
    model[0].requires_grad_(False)
    model(batch()).sum().backward()
    assert model[0].weight.grad is None and model[1].weight.grad is not None


def test_load_state_dict_strict_and_shape_errors():
    model = nn.Sequential(nn.Linear(4, 3))
    with pytest.raises(RuntimeError, match="missing keys"):
        model.load_state_dict({"0.weight": np.zeros((3, 4))})
    missing, unexpected = model.load_state_dict({"0.weight": np.zeros((3, 4)), "x": np.zeros(1)},
                                                strict=False)
    assert missing == ["0.bias"] and unexpected == ["x"]
    before = model.state_dict()["0.bias"].numpy().copy()
    with pytest.raises(RuntimeError, match=r"'0.weight' has shape \(4, 3\) in the state dict "
                                           r"but \(3, 4\) in the model"):
        model.load_state_dict({"0.weight": np.zeros((4, 3)), "0.bias": np.ones(3)})
    # all-or-nothing: the valid bias was not written either
    np.testing.assert_array_equal(model[0].bias.numpy(), before)


def test_load_state_dict_copies_in_place_like_pytorch():
    model = nn.Linear(3, 2)
    snapshot = model.state_dict()
    model.load_state_dict({"weight": np.ones((2, 3)), "bias": np.zeros(2, dtype=np.float64)})
    assert model.weight.dtype == np.float32 and model.bias.dtype == np.float32
    # state_dict() shares memory with the model, so the snapshot follows the load
    np.testing.assert_array_equal(snapshot["weight"].numpy(), np.ones((2, 3)))


def test_assigning_none_keeps_the_parameter_slot():
    layer = nn.Linear(3, 2)
    layer.bias = None
    assert "bias" in layer._parameters and layer.bias is None
    assert [name for name, _ in layer.named_parameters()] == ["weight"]


def test_non_persistent_buffers_stay_out_of_state_dict():
    module = nn.Module()
    module.register_buffer("kept", minnet.zeros(2))
    module.register_buffer("scratch", minnet.zeros(2), persistent=False)
    assert list(module.state_dict()) == ["kept"]
    assert {name for name, _ in module.named_buffers()} == {"kept", "scratch"}


def test_full_backward_hook_fires_when_an_input_gets_no_gradient():
    class UsesOnlyFirst(nn.Module):
        def forward(self, x, y):
            return x * 2

    module = UsesOnlyFirst()
    seen = []
    module.register_full_backward_hook(lambda m, gin, gout: seen.append((gin, gout)))
    x = minnet.tensor([1.0, 2.0], requires_grad=True)
    y = minnet.tensor([3.0, 4.0], requires_grad=True)
    module(x, y).sum().backward()
    assert len(seen) == 1
    grad_input, grad_output = seen[0]
    np.testing.assert_array_equal(grad_input[0].numpy(), [2.0, 2.0])
    assert grad_input[1] is None
    np.testing.assert_array_equal(grad_output[0].numpy(), [1.0, 1.0])


def test_state_dict_keys_for_nested_models_match_pytorch():
    model = nn.Sequential(nn.Sequential(nn.Linear(2, 2)), nn.BatchNorm2d(2))
    assert list(model.state_dict()) == ["0.0.weight", "0.0.bias", "1.weight", "1.bias",
                                        "1.running_mean", "1.running_var",
                                        "1.num_batches_tracked"]


def test_sequential_errors_and_indexing():
    with pytest.raises(TypeError, match="instance"):
        nn.Sequential(nn.ReLU)
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    assert isinstance(model[-1], nn.Linear) and len(model[1:]) == 2
    # slicing keeps the original names, as in PyTorch
    assert list(model[1:].state_dict()) == ["2.weight", "2.bias"]


def test_training_step_reduces_loss():
    minnet.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    x = batch(30)
    y = Tensor(np.random.default_rng(3).integers(0, 3, size=30))
    losses = []
    for _ in range(20):
        model.zero_grad()
        loss = F.cross_entropy(model(x), y)
        loss.backward()
        for p in model.parameters():
            p.data -= 0.5 * p.grad.data
        losses.append(loss.item())
    assert losses[-1] < 0.9 * losses[0]


def test_reassigned_parameter_keeps_its_place_as_in_pytorch():
    import numpy as np

    from minnet import nn

    layer = nn.Linear(2, 3)
    layer.weight = nn.Parameter(np.ones((3, 2), dtype=np.float32))
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    assert list(layer.state_dict()) == ["weight", "bias"]
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    model.add_module("0", nn.Linear(2, 3))
    assert [name for name, _ in model.named_children()] == ["0", "1", "2"]
    layer.scale = 2.0
    layer.scale = nn.Parameter(np.ones(1, dtype=np.float32))  # a plain attribute no longer
    assert "scale" not in vars(layer) and layer.scale is layer._parameters["scale"]


def test_lookup_by_dotted_name_and_the_pytorch_casts():
    model = nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3))
    assert model.get_submodule("1") is model[1] and model.get_submodule("") is model
    assert model.get_parameter("0.weight") is model[0].weight
    assert model.get_buffer("1.running_mean") is model[1].running_mean
    with pytest.raises(AttributeError, match="Sequential has no attribute `5`"):
        model.get_submodule("5")
    with pytest.raises(AttributeError, match="Linear has no parameter `scale`"):
        model.get_parameter("0.scale")
    model.register_module("2", nn.ReLU())
    assert len(model) == 3
    assert model.type(np.float64)[0].weight.dtype == np.float64 and model.share_memory() is model
    with pytest.raises(RuntimeError, match="Sequential.cuda\\(\\): minnet runs on the CPU only"):
        model.cuda()
    with pytest.raises(TypeError, match="no bfloat16 dtype"):
        model.bfloat16()
