"""Loss functions: values against hand computations, gradients, reductions, stability, errors.

Expected values are written as the arithmetic that defines them; the numbers
were also cross-checked against PyTorch 2.x while developing (the literal
constants marked "PyTorch" below).
"""
import math
import warnings

import numpy as np
import pytest

import minnet
import minnet.nn as nn
import minnet.nn.functional as F
from minnet import Tensor

LOGITS = [[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]]
LABELS = [2, 0]
# -log softmax of the target class, row by row
ROW0 = math.log(1 + math.exp(-1) + math.exp(-2))  # logsumexp(1,2,3) - 3
ROW1 = math.log(3)                                 # logsumexp(1,1,1) - 1


def logits64(values=LOGITS, requires_grad=True):
    return Tensor(np.array(values, dtype=np.float64), requires_grad=requires_grad)


def labels(values=LABELS):
    return Tensor(np.array(values, dtype=np.int64))


def rng(seed=0):
    return np.random.default_rng(seed)


# -- cross-entropy values ---------------------------------------------------------------
def test_cross_entropy_matches_hand_computation_for_each_reduction():
    x = logits64()
    assert F.cross_entropy(x, labels()).item() == pytest.approx((ROW0 + ROW1) / 2)
    assert F.cross_entropy(x, labels(), reduction="sum").item() == pytest.approx(ROW0 + ROW1)
    np.testing.assert_allclose(F.cross_entropy(x, labels(), reduction="none").numpy(), [ROW0, ROW1])
    assert F.cross_entropy(x, labels()).item() == pytest.approx(0.7531091266, abs=1e-9)  # PyTorch


def test_cross_entropy_weighted_mean_divides_by_the_sum_of_target_weights():
    weight = Tensor(np.array([1.0, 2.0, 3.0]))
    loss = F.cross_entropy(logits64(), labels(), weight=weight)
    # row 0 has target 2 (weight 3), row 1 target 0 (weight 1)
    assert loss.item() == pytest.approx((3 * ROW0 + 1 * ROW1) / (3 + 1))
    assert loss.item() == pytest.approx(0.5803575455, abs=1e-9)  # PyTorch


def test_cross_entropy_ignore_index_drops_the_row_from_sum_and_denominator():
    loss = F.cross_entropy(logits64(), labels([2, -100]))
    assert loss.item() == pytest.approx(ROW0)
    none = F.cross_entropy(logits64(), labels([2, 7]), ignore_index=7, reduction="none")
    np.testing.assert_allclose(none.numpy(), [ROW0, 0.0])


def test_cross_entropy_label_smoothing_with_weights():
    eps, num_classes = 0.1, 3
    w = np.array([1.0, 2.0, 3.0])
    x = np.array(LOGITS)
    log_probs = x - np.log(np.exp(x).sum(1, keepdims=True))
    nll = np.array([-w[2] * log_probs[0, 2], -w[0] * log_probs[1, 0]])
    smooth = -(log_probs * w).sum(1)  # -sum_c w_c log p_c, per row
    denominator = w[2] + w[0]
    expected = (1 - eps) * nll.sum() / denominator + eps / num_classes * smooth.sum() / denominator
    loss = F.cross_entropy(logits64(), labels(), weight=Tensor(w), label_smoothing=eps)
    assert loss.item() == pytest.approx(expected)
    assert loss.item() == pytest.approx(0.6309660369, abs=1e-9)  # PyTorch


def test_cross_entropy_gradient_is_softmax_minus_onehot_over_n():
    x = logits64()
    F.cross_entropy(x, labels()).backward()
    data = np.array(LOGITS)
    softmax = np.exp(data) / np.exp(data).sum(1, keepdims=True)
    onehot = np.array([[0, 0, 1], [1, 0, 0]])
    np.testing.assert_allclose(x.grad.numpy(), (softmax - onehot) / 2)


def test_cross_entropy_is_one_graph_node():
    x = logits64()
    loss = F.cross_entropy(x, labels())
    assert loss.grad_fn == "cross_entropy"
    assert loss._parents[0] is x


def test_cross_entropy_spatial_input_equals_flattened_rows():
    g = rng(1)
    x = g.standard_normal((2, 3, 5, 7))
    y = g.integers(0, 3, size=(2, 5, 7))
    spatial = F.cross_entropy(Tensor(x), Tensor(y), reduction="none")
    assert spatial.shape == (2, 5, 7)
    rows = Tensor(np.moveaxis(x, 1, -1).reshape(-1, 3))
    flat = F.cross_entropy(rows, Tensor(y.reshape(-1)), reduction="none")
    np.testing.assert_allclose(spatial.numpy().reshape(-1), flat.numpy())


def test_cross_entropy_unbatched_input():
    loss = F.cross_entropy(logits64(LOGITS[0]), Tensor(np.array(2)))
    assert loss.shape == () and loss.item() == pytest.approx(ROW0)


def test_cross_entropy_soft_targets_match_hard_targets_for_onehot():
    onehot = Tensor(np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]))
    assert F.cross_entropy(logits64(), onehot).item() == pytest.approx((ROW0 + ROW1) / 2)


def test_cross_entropy_keeps_float32():
    x = Tensor(np.array(LOGITS, dtype=np.float32), requires_grad=True)
    loss = F.cross_entropy(x, labels())
    loss.backward()
    assert loss.dtype == np.float32 and x.grad.dtype == np.float32


def test_nll_loss_of_log_softmax_equals_cross_entropy():
    x = np.array(LOGITS)
    log_probs = Tensor(x - np.log(np.exp(x).sum(1, keepdims=True)), requires_grad=True)
    loss = F.nll_loss(log_probs, labels())
    assert loss.item() == pytest.approx((ROW0 + ROW1) / 2)
    loss.backward()
    np.testing.assert_allclose(log_probs.grad.numpy(), [[0, 0, -0.5], [-0.5, 0, 0]])
    weighted = F.nll_loss(log_probs, labels(), weight=Tensor(np.array([1.0, 2.0, 3.0])))
    assert weighted.item() == pytest.approx((3 * ROW0 + ROW1) / 4)


# -- extreme logits ---------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_is_finite_at_extreme_logits(dtype):
    x = Tensor(np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]], dtype=dtype), requires_grad=True)
    loss = F.cross_entropy(x, labels([1, 1]))
    loss.backward()
    # row 0 puts all mass on class 0: -log p_1 = 1e4 - (-1e4) = 2e4; row 1 is right: 0
    assert loss.item() == pytest.approx(1e4)
    assert np.all(np.isfinite(x.grad.numpy()))
    np.testing.assert_allclose(x.grad.numpy(), [[0.5, -0.5, 0.0], [0.0, 0.0, 0.0]], atol=1e-6)


def test_binary_losses_are_finite_at_extreme_inputs():
    x = Tensor(np.array([1e4, -1e4, 1e4, -1e4]), requires_grad=True)
    t = Tensor(np.array([1.0, 0.0, 0.0, 1.0]))
    loss = F.binary_cross_entropy_with_logits(x, t, reduction="none")
    np.testing.assert_allclose(loss.numpy(), [0.0, 0.0, 1e4, 1e4])
    loss.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [0.0, 0.0, 1.0, -1.0])  # sigmoid(x) - t
    p = Tensor(np.array([0.0, 1.0, 0.0, 1.0]), requires_grad=True)
    bce = F.binary_cross_entropy(p, t, reduction="none")
    np.testing.assert_allclose(bce.numpy(), [100.0, 100.0, 0.0, 0.0])  # log clamped at -100
    bce.sum().backward()
    assert np.all(np.isfinite(p.grad.numpy()))


# -- regression --------------------------------------------------------------------------------
def test_mse_l1_smooth_l1_values():
    pred = Tensor(np.array([1.0, 2.0, 3.0, 0.5]))
    target = Tensor(np.array([1.0, 0.0, 0.0, 0.0]))
    # errors 0, 2, 3, 0.5
    assert F.mse_loss(pred, target).item() == pytest.approx((0 + 4 + 9 + 0.25) / 4)
    assert F.mse_loss(pred, target, reduction="sum").item() == pytest.approx(13.25)
    np.testing.assert_allclose(F.mse_loss(pred, target, reduction="none").numpy(), [0, 4, 9, 0.25])
    assert F.l1_loss(pred, target).item() == pytest.approx((0 + 2 + 3 + 0.5) / 4)
    # beta=1: 0.5 d^2 inside |d| < 1, |d| - 0.5 outside
    np.testing.assert_allclose(F.smooth_l1_loss(pred, target, reduction="none").numpy(),
                               [0.0, 1.5, 2.5, 0.125])
    # beta=2: 0.5 d^2 / 2 for |d| < 2, |d| - 1 else
    np.testing.assert_allclose(F.smooth_l1_loss(pred, target, reduction="none", beta=2.0).numpy(),
                               [0.0, 1.0, 2.0, 0.0625])
    # beta=0 is plain L1
    np.testing.assert_allclose(F.smooth_l1_loss(pred, target, reduction="none", beta=0.0).numpy(),
                               [0.0, 2.0, 3.0, 0.5])


def test_mse_gradient_reaches_both_arguments():
    pred = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    target = Tensor(np.array([0.0, 0.0]), requires_grad=True)
    F.mse_loss(pred, target).backward()
    np.testing.assert_allclose(pred.grad.numpy(), [1.0, 2.0])  # 2 * d / N
    np.testing.assert_allclose(target.grad.numpy(), [-1.0, -2.0])


def test_mse_broadcast_warns_and_keeps_pytorch_semantics():
    pred = Tensor(np.array([[1.0], [2.0], [3.0]]))
    target = Tensor(np.array([1.0, 2.0, 3.0]))
    with pytest.warns(UserWarning) as record:
        loss = F.mse_loss(pred, target)
    message = str(record[0].message)
    assert "(3,)" in message and "(3, 1)" in message and "N x N" in message
    # PyTorch broadcasts to 3 x 3: mean over all pairs (i - j)^2
    pairs = [(i - j) ** 2 for i in (1, 2, 3) for j in (1, 2, 3)]
    assert loss.item() == pytest.approx(sum(pairs) / 9)


def test_same_shape_regression_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        F.mse_loss(Tensor(np.ones((3, 1))), Tensor(np.zeros((3, 1))))


# -- binary ---------------------------------------------------------------------------------------
def test_binary_cross_entropy_values():
    p = Tensor(np.array([0.8, 0.3]))
    t = Tensor(np.array([1.0, 0.0]))
    expected = -(math.log(0.8) + math.log(0.7)) / 2
    assert F.binary_cross_entropy(p, t).item() == pytest.approx(expected)
    w = Tensor(np.array([2.0, 1.0]))
    assert F.binary_cross_entropy(p, t, weight=w).item() == pytest.approx(
        -(2 * math.log(0.8) + math.log(0.7)) / 2)


def test_bce_with_logits_values_and_pos_weight():
    x = Tensor(np.array([0.0, 2.0]))
    t = Tensor(np.array([1.0, 0.0]))
    np.testing.assert_allclose(F.binary_cross_entropy_with_logits(x, t, reduction="none").numpy(),
                               [math.log(2), math.log(1 + math.exp(2))])
    # pos_weight multiplies only the positive-target term
    np.testing.assert_allclose(
        F.binary_cross_entropy_with_logits(x, t, reduction="none",
                                           pos_weight=Tensor(np.array(3.0))).numpy(),
        [3 * math.log(2), math.log(1 + math.exp(2))])


def test_bce_with_logits_equals_bce_of_sigmoid():
    g = rng(2)
    x = g.standard_normal((5, 3))
    t = g.random((5, 3))
    p = 1 / (1 + np.exp(-x))
    assert F.binary_cross_entropy_with_logits(Tensor(x), Tensor(t)).item() == pytest.approx(
        F.binary_cross_entropy(Tensor(p), Tensor(t)).item())


# -- gradchecks ------------------------------------------------------------------------------------
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("options", [
    {}, {"weight": np.array([0.5, 2.0, 1.0, 3.0, 0.7])}, {"label_smoothing": 0.3},
    {"weight": np.array([0.5, 2.0, 1.0, 3.0, 0.7]), "label_smoothing": 0.2, "ignore_index": 1},
])
def test_gradcheck_cross_entropy(reduction, options):
    g = rng(3)
    x = Tensor(g.standard_normal((7, 5)), requires_grad=True)
    y = Tensor(np.array([0, 1, 4, 3, 1, 2, 4]))
    options = dict(options)
    if "weight" in options:
        options["weight"] = Tensor(options["weight"])
    res = minnet.gradcheck(lambda x: F.cross_entropy(x, y, reduction=reduction, **options), (x,))
    assert res, res


def test_gradcheck_cross_entropy_spatial_and_soft_targets():
    g = rng(4)
    x = Tensor(g.standard_normal((2, 3, 5)), requires_grad=True)
    y = Tensor(g.integers(0, 3, size=(2, 5)))
    res = minnet.gradcheck(lambda x: F.cross_entropy(x, y, label_smoothing=0.1), (x,))
    assert res, res
    probs = g.random((2, 3, 5))
    soft = Tensor(probs / probs.sum(1, keepdims=True), requires_grad=True)
    res = minnet.gradcheck(lambda x, t: F.cross_entropy(x, t, reduction="none"), (x, soft))
    assert res, res


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradcheck_nll_loss(reduction):
    g = rng(5)
    x = Tensor(g.standard_normal((7, 3)), requires_grad=True)
    y = Tensor(g.integers(0, 3, size=7))
    w = Tensor(np.array([0.3, 1.0, 2.0]))
    res = minnet.gradcheck(lambda x: F.nll_loss(x, y, weight=w, reduction=reduction), (x,))
    assert res, res


@pytest.mark.parametrize("loss_fn", [F.mse_loss, F.l1_loss, F.smooth_l1_loss,
                                     lambda a, b, reduction: F.smooth_l1_loss(
                                         a, b, reduction=reduction, beta=0.4)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradcheck_regression_losses(loss_fn, reduction):
    g = rng(6)
    pred = Tensor(g.standard_normal((5, 3)), requires_grad=True)
    target = Tensor(g.standard_normal((5, 3)), requires_grad=True)
    res = minnet.gradcheck(lambda a, b: loss_fn(a, b, reduction=reduction), (pred, target))
    assert res, res


def test_gradcheck_mse_with_broadcast_target():
    g = rng(7)
    pred = Tensor(g.standard_normal((7, 1)), requires_grad=True)
    target = Tensor(g.standard_normal(7), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = minnet.gradcheck(lambda a, b: F.mse_loss(a, b), (pred, target))
    assert res, res


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_gradcheck_binary_losses(reduction):
    g = rng(8)
    p = Tensor(g.uniform(0.05, 0.95, size=(5, 3)), requires_grad=True)
    t = Tensor(g.random((5, 3)), requires_grad=True)
    w = Tensor(g.random(3) + 0.5)
    res = minnet.gradcheck(lambda p, t: F.binary_cross_entropy(p, t, weight=w,
                                                               reduction=reduction), (p, t))
    assert res, res
    x = Tensor(g.standard_normal((5, 3)) * 3, requires_grad=True)
    pos_weight = Tensor(np.array([0.5, 2.0, 5.0]))
    res = minnet.gradcheck(lambda x, t: F.binary_cross_entropy_with_logits(
        x, t, weight=w, reduction=reduction, pos_weight=pos_weight), (x, t))
    assert res, res


# -- errors ----------------------------------------------------------------------------------------
def test_target_out_of_range_names_value_and_num_classes():
    with pytest.raises(IndexError, match=r"target value 3 .*C=3"):
        F.cross_entropy(logits64(), labels([3, 0]))
    with pytest.raises(IndexError, match=r"target value -1"):
        F.nll_loss(logits64(), labels([-1, 0]))


def test_float_targets_to_cross_entropy_raise_with_hint():
    with pytest.raises(TypeError, match=r"\.long\(\)"):
        F.cross_entropy(logits64(), Tensor(np.array([2.0, 0.0])))


def test_wrong_target_shape_and_onehot_hint():
    with pytest.raises(ValueError, match="one-hot"):
        F.cross_entropy(logits64(), Tensor(np.array([[0, 0, 1], [1, 0, 0]])))
    with pytest.raises(ValueError, match=r"\(2,\)"):
        F.cross_entropy(logits64(), labels([0, 1, 2]))


def test_other_loss_errors():
    with pytest.raises(ValueError, match="reduction"):
        F.mse_loss(Tensor(np.ones(2)), Tensor(np.ones(2)), reduction="average")
    with pytest.raises(ValueError, match="cannot be broadcast"):
        F.mse_loss(Tensor(np.ones(3)), Tensor(np.ones(4)))
    with pytest.raises(ValueError, match="sigmoid"):
        F.binary_cross_entropy(Tensor(np.array([1.5])), Tensor(np.array([1.0])))
    with pytest.raises(ValueError, match="same as input size"):
        F.binary_cross_entropy_with_logits(Tensor(np.ones((3, 1))), Tensor(np.ones(3)))
    with pytest.raises(ValueError, match="weight"):
        F.cross_entropy(logits64(), labels(), weight=Tensor(np.ones(4)))
    for loss_fn in (F.cross_entropy, F.nll_loss, F.mse_loss, F.binary_cross_entropy_with_logits):
        with pytest.raises(TypeError, match="must be a Tensor"):
            loss_fn(np.zeros((2, 3)), labels())


# -- modules ---------------------------------------------------------------------------------------
def test_loss_modules_match_functional():
    g = rng(9)
    x = Tensor(g.standard_normal((4, 3)))
    y = Tensor(np.array([0, 2, 1, 2]))
    w = Tensor(np.array([1.0, 2.0, 0.5]))
    assert nn.CrossEntropyLoss(weight=w, label_smoothing=0.1)(x, y).item() == pytest.approx(
        F.cross_entropy(x, y, weight=w, label_smoothing=0.1).item())
    assert nn.NLLLoss(reduction="sum")(x, y).item() == pytest.approx(
        F.nll_loss(x, y, reduction="sum").item())
    t = Tensor(g.standard_normal((4, 3)))
    assert nn.MSELoss()(x, t).item() == pytest.approx(F.mse_loss(x, t).item())
    assert nn.L1Loss(reduction="sum")(x, t).item() == pytest.approx(
        F.l1_loss(x, t, reduction="sum").item())
    assert nn.SmoothL1Loss(beta=0.5)(x, t).item() == pytest.approx(
        F.smooth_l1_loss(x, t, beta=0.5).item())
    p = Tensor(g.uniform(0.1, 0.9, size=(4, 3)))
    b = Tensor(g.random((4, 3)))
    assert nn.BCELoss()(p, b).item() == pytest.approx(F.binary_cross_entropy(p, b).item())
    pw = Tensor(np.array([1.0, 2.0, 3.0]))
    assert nn.BCEWithLogitsLoss(pos_weight=pw)(x, b).item() == pytest.approx(
        F.binary_cross_entropy_with_logits(x, b, pos_weight=pw).item())
    with pytest.raises(ValueError, match="reduction"):
        nn.MSELoss(reduction="avg")


def test_legacy_size_average_and_reduce_map_to_reduction():
    x, y = logits64(), labels()
    with pytest.warns(UserWarning, match="deprecated"):
        assert F.cross_entropy(x, y, None, False).item() == pytest.approx(ROW0 + ROW1)
    with pytest.warns(UserWarning, match="deprecated"):
        assert F.nll_loss(x, y, reduce=False).shape == (2,)
    with pytest.warns(UserWarning, match="deprecated"):
        assert nn.MSELoss(size_average=False).reduction == "sum"
    # keyword arguments land where PyTorch puts them
    assert nn.CrossEntropyLoss(None, None, 5).ignore_index == 5


def test_huber_and_kl_div_modules_check_their_options_when_made():
    import minnet.nn as nn
    for bad in (0, -1.0, "1", True, float("nan")):
        with pytest.raises(ValueError, match=r"HuberLoss\(\): delta must be a positive number.*"
                                             r"Hint"):
            nn.HuberLoss(delta=bad)
    with pytest.raises(ValueError, match=r"HuberLoss\(\): reduction must be one of"):
        nn.HuberLoss(reduction="avg")
    with pytest.raises(ValueError, match=r"KLDivLoss\(\): reduction must be 'none', 'mean', "
                                         r"'sum' or 'batchmean'"):
        nn.KLDivLoss(reduction="avg")
    # the module computes what its functional form computes, options passed through
    rng = np.random.default_rng(0)
    x = minnet.tensor(rng.standard_normal((4, 3)), requires_grad=True)
    y = minnet.tensor(rng.standard_normal((4, 3)))
    assert nn.HuberLoss("sum", delta=0.5)(x, y).item() == F.huber_loss(
        x, y, reduction="sum", delta=0.5).item()
    log_p = F.log_softmax(x, dim=1)
    q = F.softmax(minnet.tensor(rng.standard_normal((4, 3))), dim=1)
    assert nn.KLDivLoss(reduction="batchmean")(log_p, q).item() == pytest.approx(
        float(np.sum(q.numpy() * (np.log(q.numpy()) - log_p.numpy())) / 4), rel=1e-12)
