"""Issue 12, "Core": bad inputs give a clear error naming the layer or function, what was
expected and what came, and a hint -- or work as PyTorch does. Each case failed (a raw
NumPy/Numba error, a hang or a wrong number) before its fix."""
import numpy as np
import pytest

import minnet
import minnet.nn.functional as F
from minnet import nn
from minnet.utils.data import DataLoader, TensorDataset


@pytest.mark.parametrize("kernel", [0, -3, (3, 0)])
def test_conv2d_kernel_size_must_be_positive(kernel):
    # before: ZeroDivisionError (0) and NumPy's "negative dimensions" (-3)
    with pytest.raises(ValueError, match=r"Conv2d\(3, 2, kernel_size=.*must be positive.*Hint"):
        nn.Conv2d(3, 2, kernel)


def test_conv2d_stride_must_be_positive():
    with pytest.raises(ValueError, match="stride must be positive"):
        nn.Conv2d(3, 2, 3, stride=0)


def test_float16_conv_says_which_dtypes_work():
    # before: Numba's NotImplementedError
    layer = nn.Conv2d(3, 2, 3).half()
    assert layer.weight.dtype == np.float16
    with pytest.raises(TypeError, match=r"conv2d\(\): dtype float16 is not supported.*float32"):
        layer(minnet.ones(1, 3, 5, 5).half())


@pytest.mark.parametrize("loss", [
    lambda: nn.CrossEntropyLoss()(minnet.tensor([[1, 2], [3, 4]]), minnet.tensor([0, 1])),
    lambda: F.nll_loss(minnet.tensor([[1, 2], [3, 4]]), minnet.tensor([0, 1])),
    lambda: F.mse_loss(minnet.tensor([1, 2, 3]), minnet.tensor([2, 4, 3])),
    lambda: F.l1_loss(minnet.tensor([1, 2, 3]), minnet.tensor([2, 4, 3])),
    lambda: F.binary_cross_entropy(minnet.tensor([1, 0]), minnet.tensor([1, 0])),
])
def test_losses_refuse_integer_inputs_as_pytorch(loss):
    # before: a UFuncTypeError (cross-entropy) or a truncated integer loss (mse: 1, not 1.667)
    with pytest.raises(TypeError, match=r"_loss\(\)|cross_entropy\(\).*floating-point.*int64"):
        loss()


def test_mse_of_float_input_and_integer_target_is_exact():
    loss = F.mse_loss(minnet.tensor([1.0, 2.0, 3.0]), minnet.tensor([2, 4, 3]))
    assert loss.item() == pytest.approx(5 / 3)  # torch: 1.6666666269302368


def test_linear_with_zero_in_features_works_as_pytorch():
    # before: NumPy's "cannot reshape"; torch gives zeros (the bias is drawn from U(0, 0))
    out = nn.Linear(0, 3)(minnet.ones(2, 0))
    assert out.shape == (2, 3) and out.tolist() == [[0.0] * 3] * 2


def test_batchnorm_refuses_integer_input():
    # before: silently returned float64
    with pytest.raises(TypeError, match=r"BatchNorm1d\(3\).*float32.*int64.*Hint"):
        nn.BatchNorm1d(3)(minnet.tensor([[1, 2, 3], [4, 5, 6]]))


@pytest.mark.parametrize("data", [np.array(["a", "b"]), ["a", "b"], np.array([1 + 2j])])
def test_strings_and_complex_numbers_are_not_tensors(data):
    with pytest.raises(TypeError, match="cannot make a tensor of dtype.*Hint"):
        minnet.tensor(data)


def test_an_empty_dataloader_refuses_instead_of_looping_forever():
    # before: `while True: for batch in loader` never ended on an empty data set
    with pytest.raises(ValueError, match="empty"):
        DataLoader(TensorDataset(np.zeros((0, 2), dtype=np.float32)))


def test_assigning_a_number_to_grad_is_pytorchs_error():
    w = minnet.ones(2, requires_grad=True)
    with pytest.raises(TypeError, match="assigned grad expected to be a Tensor or None"):
        w.grad = 0.0
