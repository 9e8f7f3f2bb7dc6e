"""clip_grad_norm_ / clip_grad_value_: totals and scaling by hand and against PyTorch 2.13."""
import math

import numpy as np
import pytest

import minnet
from minnet import optim
from minnet.nn import Parameter
from minnet.nn.utils import clip_grad_norm_, clip_grad_value_

G1 = np.array([[3.0, -4.0], [1.0, 2.0]], dtype=np.float32)
G2 = np.array([0.5, -12.0], dtype=np.float32)

# torch.nn.utils.clip_grad_norm_([a, b], 5.0, norm_type=...) with a.grad=G1, b.grad=G2 (float32)
TORCH_CLIPPED = {
    2.0: (13.20037841796875, [[1.1363308429718018, -1.5151078701019287],
                              [0.3787769675254822, 0.7575539350509644]],
          [0.1893884837627411, -4.545323371887207]),
    1.0: (22.5, [[0.6666666269302368, -0.8888888359069824],
                 [0.2222222089767456, 0.4444444179534912]],
          [0.1111111044883728, -2.6666665077209473]),
    math.inf: (12.0, [[1.2499998807907104, -1.6666665077209473],
                      [0.4166666269302368, 0.8333332538604736]],
               [0.2083333134651184, -4.999999523162842]),
    3.0: (12.227434158325195, [[1.2267495393753052, -1.635666012763977],
                               [0.40891650319099426, 0.8178330063819885]],
          [0.20445825159549713, -4.906998157501221]),
}


def params_with_grads(*grads):
    params = []
    for g in grads:
        p = Parameter(np.zeros_like(g))
        p.grad = minnet.tensor(g.copy())
        params.append(p)
    return params


def test_total_norm_and_scaling_by_hand():
    a, b = params_with_grads(G1, G2)
    total = clip_grad_norm_([a, b], max_norm=5.0)
    by_hand = math.sqrt(9 + 16 + 1 + 4 + 0.25 + 144)  # all gradients as one vector
    assert isinstance(total, minnet.Tensor) and total.dtype == np.float32 and total.shape == ()
    assert total.item() == pytest.approx(by_hand, rel=1e-6)
    coef = 5.0 / (by_hand + 1e-6)
    np.testing.assert_allclose(a.grad.numpy(), G1 * coef, rtol=1e-6)
    np.testing.assert_allclose(b.grad.numpy(), G2 * coef, rtol=1e-6)
    combined = np.sqrt(np.sum(a.grad.numpy() ** 2) + np.sum(b.grad.numpy() ** 2))
    assert combined == pytest.approx(5.0, rel=1e-5)
    assert a.grad.dtype == np.float32


@pytest.mark.parametrize("norm_type", [2.0, 1.0, math.inf, 3.0])
def test_against_torch(norm_type):
    a, b = params_with_grads(G1, G2)
    total = clip_grad_norm_([a, b], 5.0, norm_type=norm_type)
    torch_total, torch_a, torch_b = TORCH_CLIPPED[norm_type]
    assert total.item() == pytest.approx(torch_total, rel=1e-6)
    np.testing.assert_allclose(a.grad.numpy(), torch_a, rtol=1e-6)
    np.testing.assert_allclose(b.grad.numpy(), torch_b, rtol=1e-6)


def test_inf_norm_is_the_largest_magnitude_and_accepts_the_string():
    a, b = params_with_grads(G1, G2)
    assert clip_grad_norm_([a, b], 100.0, norm_type="inf").item() == 12.0


def test_no_clipping_below_max_norm():
    a, b = params_with_grads(G1, G2)
    total = clip_grad_norm_((p for p in [a, b]), max_norm=100.0)  # a generator works too
    assert total.item() == pytest.approx(13.2003788, rel=1e-6)
    np.testing.assert_array_equal(a.grad.numpy(), G1)
    np.testing.assert_array_equal(b.grad.numpy(), G2)


def test_parameters_without_grad_are_ignored_and_single_tensor_accepted():
    (a,) = params_with_grads(np.array([3.0, 4.0]))
    frozen = Parameter(np.ones(3))
    total = clip_grad_norm_([a, frozen], max_norm=1.0)
    assert total.item() == pytest.approx(5.0) and total.dtype == np.float64
    assert frozen.grad is None
    np.testing.assert_allclose(a.grad.numpy(), [0.6, 0.8], rtol=1e-6)
    (single,) = params_with_grads(np.array([6.0, 8.0]))
    assert clip_grad_norm_(single, 5.0).item() == pytest.approx(10.0)
    np.testing.assert_allclose(single.grad.numpy(), [3.0, 4.0], rtol=1e-6)
    assert clip_grad_norm_([Parameter(np.ones(2))], 1.0).item() == 0.0


def test_grad_objects_are_scaled_in_place():
    (a,) = params_with_grads(np.array([30.0, 40.0]))
    grad_tensor, grad_array = a.grad, a.grad.numpy()
    clip_grad_norm_([a], 1.0)
    assert a.grad is grad_tensor and a.grad.numpy() is grad_array


def test_nonfinite_norm():
    a, b = params_with_grads(np.array([1.0, np.inf]), np.array([1.0, 2.0]))
    with pytest.raises(RuntimeError, match="non-finite"):
        clip_grad_norm_([a, b], 1.0, error_if_nonfinite=True)
    total = clip_grad_norm_([a, b], 1.0)  # default: scales by the non-finite norm anyway
    assert math.isinf(total.item())
    np.testing.assert_array_equal(b.grad.numpy(), [0.0, 0.0])


def test_bad_max_norm():
    a, = params_with_grads(np.array([1.0]))
    with pytest.raises(ValueError, match="max_norm"):
        clip_grad_norm_([a], -1.0)
    with pytest.raises(TypeError, match="expected Tensors"):
        clip_grad_norm_([np.ones(2)], 1.0)


def test_clip_grad_value():
    a, b = params_with_grads(G1, G2)
    assert clip_grad_value_([a, b], 2.5) is None
    np.testing.assert_array_equal(a.grad.numpy(), [[2.5, -2.5], [1.0, 2.0]])
    np.testing.assert_array_equal(b.grad.numpy(), [0.5, -2.5])
    assert a.grad.dtype == np.float32
    with pytest.raises(ValueError, match="clip_value"):
        clip_grad_value_([a], -1)


def test_clipping_inside_a_training_step():
    model = minnet.nn.Linear(3, 2)
    opt = optim.SGD(model.parameters(), lr=0.1)
    x = minnet.tensor(np.full((4, 3), 100.0, dtype=np.float32))
    model(x).sum().backward()
    total = clip_grad_norm_(model.parameters(), max_norm=1.0)
    assert total.item() > 1.0
    after = math.sqrt(sum(float(np.sum(p.grad.numpy() ** 2)) for p in model.parameters()))
    assert after == pytest.approx(1.0, rel=1e-4)
    opt.step()


def test_clip_grad_norm_reads_a_generator_once_and_takes_foreach():
    a, b = Parameter(G1.astype(np.float64)), Parameter(G2.astype(np.float64))
    a.grad, b.grad = minnet.tensor(G1.astype(np.float64)), minnet.tensor(G2.astype(np.float64))
    total = clip_grad_norm_((p for p in (a, b)), 5.0, foreach=True)
    expected = math.sqrt((G1.astype(np.float64) ** 2).sum() + (G2.astype(np.float64) ** 2).sum())
    assert total.item() == pytest.approx(expected, rel=1e-15)
    np.testing.assert_allclose(b.grad.numpy(), G2 * 5.0 / (expected + 1e-6), rtol=1e-7)
    with pytest.raises(TypeError, match="clip_grad_value_\\(\\): foreach must be None"):
        clip_grad_value_([a], 1.0, foreach="yes")


def test_get_total_norm_and_clip_grads_with_norm_are_the_two_halves():
    from minnet.nn.utils import clip_grads_with_norm_, get_total_norm
    a, b = Parameter(np.zeros((2, 2))), Parameter(np.zeros(2))
    a.grad, b.grad = minnet.tensor(G1.astype(np.float64)), minnet.tensor(G2.astype(np.float64))
    total = get_total_norm([a.grad, b.grad], norm_type=1.0)
    assert total.item() == 22.5
    clip_grads_with_norm_([a, b], 4.5, total)
    np.testing.assert_allclose(a.grad.numpy(), G1.astype(np.float64) * 4.5 / (22.5 + 1e-6),
                               rtol=1e-15)


def test_parameters_to_vector_and_back():
    from minnet.nn.utils import parameters_to_vector, vector_to_parameters
    a, b = Parameter(np.arange(4.0).reshape(2, 2)), Parameter(np.array([7.0]))
    vec = parameters_to_vector([a, b])
    np.testing.assert_array_equal(vec.numpy(), [0, 1, 2, 3, 7])
    (vec * minnet.tensor(np.arange(5.0))).sum().backward()  # differentiable, as in PyTorch
    np.testing.assert_array_equal(a.grad.numpy(), [[0, 1], [2, 3]])
    vector_to_parameters(minnet.tensor([9.0, 8, 7, 6, 5]), [a, b])
    np.testing.assert_array_equal(a.numpy(), [[9, 8], [7, 6]])
    assert b.numpy().tolist() == [5.0]
    with pytest.raises(ValueError, match="vec has 3 entries, fewer than the parameters need"):
        vector_to_parameters(minnet.tensor([1.0, 2, 3]), [a, b])
