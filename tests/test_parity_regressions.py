"""Regressions for discrepancies with PyTorch found by benchmarks/torch_parity.py.

Each expected value is computed by hand (the comment says how); PyTorch's
behaviour was checked with the parity script, which torch is not needed for here.
"""
import warnings

import numpy as np
import pytest

import minnet
from minnet import ops
from minnet.ops import loss as L


def _grad_of(fn, data, upstream=None):
    x = minnet.Tensor(np.array(data, dtype=np.float64), requires_grad=True)
    out = fn(x)
    out.backward(np.ones(out.shape) if upstream is None else upstream)
    return out, x.grad.numpy()


# -- std: the gradient at a zero standard deviation is 0, not nan ---------------------------
def test_std_gradient_of_a_constant_slice_is_zero():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no divide-by-zero warning either
        out, grad = _grad_of(lambda x: ops.std(x, 1), [[2.0, 2.0, 2.0], [1.0, 2.0, 3.0]])
    np.testing.assert_allclose(out.numpy(), [0.0, 1.0])
    # row 1: d std / dx_i = (x_i - mean) / ((N - 1) std) = (x_i - 2) / 2
    np.testing.assert_allclose(grad, [[0.0, 0.0, 0.0], [-0.5, 0.0, 0.5]])


def test_std_gradient_unchanged_elsewhere():
    data = [[1.0, 4.0, 2.0, 7.0]]
    _, grad = _grad_of(lambda x: ops.std(x, correction=0), data)
    # population std: (x - mean) / (N * std), mean 3.5, std sqrt(22.5/4)
    std = np.sqrt(((np.array(data) - 3.5) ** 2).mean())
    np.testing.assert_allclose(grad, (np.array(data) - 3.5) / (4 * std))


# -- cross_entropy / nll_loss with nothing to average -----------------------------------------
def test_cross_entropy_all_ignored_mean_is_nan_with_zero_gradient():
    logits = minnet.Tensor(np.arange(12.0).reshape(4, 3), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        loss = L.cross_entropy(logits, np.full(4, -100))
        loss.backward()
    assert np.isnan(loss.item())
    np.testing.assert_array_equal(logits.grad.numpy(), np.zeros((4, 3)))


def test_nll_loss_zero_total_weight_nan_only_at_counted_targets():
    # rows 0 and 2 are counted with weight 0 (0/0 = nan at their target entry); row 1 is
    # ignored (gradient 0); the other entries of every row were not used: gradient 0
    logp = minnet.Tensor(-np.ones((3, 3)), requires_grad=True)
    loss = L.nll_loss(logp, np.array([0, -100, 1]), weight=minnet.Tensor([0.0, 0.0, 1.0]))
    with np.errstate(invalid="ignore"):
        loss.backward()
    assert np.isnan(loss.item())
    grad = logp.grad.numpy()
    assert np.isnan(grad[0, 0]) and np.isnan(grad[2, 1])
    grad = grad.copy()
    grad[0, 0] = grad[2, 1] = 0
    np.testing.assert_array_equal(grad, np.zeros((3, 3)))


def test_nll_loss_gradient_only_touches_targets():
    logp = minnet.Tensor(np.log(np.full((2, 3), 1 / 3)), requires_grad=True)
    L.nll_loss(logp, np.array([2, 0]), reduction="sum").backward()
    np.testing.assert_array_equal(logp.grad.numpy(), [[0, 0, -1.0], [-1.0, 0, 0]])


# -- binary_cross_entropy: PyTorch's clamp constant is float32(1e-12) -------------------------
def test_bce_gradient_clamp_uses_float32_epsilon():
    _, grad = _grad_of(lambda p: L.binary_cross_entropy(p, np.array([1.0]), reduction="sum"),
                       [1e-20])
    # (p - t) / max(p (1 - p), eps) with eps = float32(1e-12) = 9.9999999600419720e-13
    np.testing.assert_allclose(grad, [-1.0 / 9.9999999600419720e-13], rtol=1e-15)


# -- add/sub alpha, div rounding_mode (torch.add(input, other, alpha=1), ...) -----------------
def test_add_and_sub_alpha():
    a = minnet.Tensor([1.0, 2.0], requires_grad=True)
    b = minnet.Tensor([10.0, 20.0], requires_grad=True)
    out = ops.add(a, b, alpha=0.5) + ops.sub(a, b, alpha=3) + a.add(b, alpha=2)
    # a + 0.5 b + a - 3 b + a + 2 b = 3a - 0.5b
    np.testing.assert_allclose(out.numpy(), [3 - 5.0, 6 - 10.0])
    out.sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), [3.0, 3.0])
    np.testing.assert_allclose(b.grad.numpy(), [-0.5, -0.5])


def test_div_rounding_modes_and_zero_gradient():
    a = minnet.Tensor([7.0, -7.0, 7.5, -7.5], requires_grad=True)
    b = minnet.Tensor([2.0, 2.0, -2.0, -2.0], requires_grad=True)
    np.testing.assert_array_equal(ops.div(a, b, rounding_mode="trunc").numpy(), [3, -3, -3, 3])
    floor = a.div(b, rounding_mode="floor")
    np.testing.assert_array_equal(floor.numpy(), [3, -4, -4, 3])
    floor.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), np.zeros(4))
    np.testing.assert_array_equal(b.grad.numpy(), np.zeros(4))


def test_integer_div_rounding_keeps_integers():
    a = minnet.Tensor(np.array([7, -7, -6]))
    b = minnet.Tensor(np.array([2, 2, 3]))
    trunc = ops.div(a, b, rounding_mode="trunc").numpy()
    floor = ops.div(a, b, rounding_mode="floor").numpy()
    assert trunc.dtype.kind == "i" and floor.dtype.kind == "i"
    np.testing.assert_array_equal(trunc, [3, -3, -2])
    np.testing.assert_array_equal(floor, [3, -4, -2])


# -- mse_loss / l1_loss weight= (PyTorch 2.13): weighted mean divides by sum(weight) ----------
def test_weighted_mse_and_l1():
    pred = minnet.Tensor([1.0, 2.0, 4.0], requires_grad=True)
    target = np.array([0.0, 0.0, 1.0])
    weight = minnet.Tensor([1.0, 2.0, 3.0])
    mse = L.mse_loss(pred, target, weight=weight)
    # squared errors 1, 4, 9 weighted: 1 + 8 + 27 = 36, over sum(w) = 6
    np.testing.assert_allclose(mse.item(), 6.0)
    mse.backward()
    # 2 * w * diff / sum(w) = [2, 8, 18] / 6
    np.testing.assert_allclose(pred.grad.numpy(), [2 / 6, 8 / 6, 3.0])
    l1 = L.l1_loss(minnet.Tensor([1.0, -2.0, 4.0]), target, reduction="sum", weight=weight)
    np.testing.assert_allclose(l1.item(), 1 + 4 + 9.0)  # 1*1 + 2*2 + 3*3
    none = L.mse_loss(minnet.Tensor([1.0, 2.0, 4.0]), target, reduction="none", weight=weight)
    np.testing.assert_allclose(none.numpy(), [1.0, 8.0, 27.0])


def test_weighted_loss_rejects_mismatched_weight():
    import pytest
    with pytest.raises(ValueError, match="weight must have the input's shape"):
        L.mse_loss(minnet.Tensor([1.0, 2.0]), np.zeros(2), weight=minnet.Tensor([1.0]))


# -- BatchNorm bias=False (PyTorch 2.13): scale without shift ---------------------------------
def test_batchnorm_without_bias():
    bn = minnet.nn.BatchNorm1d(2, bias=False)
    assert bn.bias is None
    assert list(bn.state_dict()) == ["weight", "running_mean", "running_var",
                                     "num_batches_tracked"]
    bn.weight.data[...] = [2.0, 3.0]
    x = minnet.Tensor([[1.0, 0.0], [3.0, 4.0]], requires_grad=True)
    out = bn(x)
    # each column normalised to (-1, 1) (biased variance, eps tiny), then scaled
    np.testing.assert_allclose(out.numpy(), [[-2.0, -3.0], [2.0, 3.0]], rtol=1e-5)
    out.sum().backward()
    np.testing.assert_allclose(bn.weight.grad.numpy(), [0.0, 0.0], atol=1e-12)


# -- cross_entropy with masked (-inf) logits: unused entries do not turn the loss into nan ----
def test_cross_entropy_ignores_minus_inf_logits_of_other_classes():
    logits = minnet.Tensor([[-np.inf, 0.0, 0.0]], requires_grad=True)
    loss = L.cross_entropy(logits, np.array([2]))
    # softmax over the two finite logits: 1/2 each, so the loss is log 2
    np.testing.assert_allclose(loss.item(), np.log(2.0))
    loss.backward()
    # softmax - onehot = [0, 1/2, -1/2]
    np.testing.assert_allclose(logits.grad.numpy(), [[0.0, 0.5, -0.5]])


# -- relu passes the gradient of a nan input through (PyTorch masks only where out <= 0) -------
def test_relu_gradient_at_nan():
    x = minnet.Tensor([np.nan, -1.0, 0.0, 2.0], requires_grad=True)
    ops.relu(x).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0, 0.0, 1.0])


# -- norm: PyTorch's vector norm at p = -inf and 0, and its subgradients at zero ------------
def test_norm_minus_inf_and_zero_orders():
    x = minnet.Tensor(np.array([[3.0, -0.5, 0.0], [-2.0, 4.0, 1.0]]))
    # p=-inf is min |x| (it used to give 1: sum |x|^-inf ** (1/-inf) = 0 ** -0)
    np.testing.assert_array_equal(minnet.norm(x, p=-np.inf, dim=1).numpy(), [0.0, 1.0])
    np.testing.assert_array_equal(x.norm(p="-inf").numpy(), 0.0)
    # p=0 counts the non-zero entries (it used to divide by zero in 1/p)
    np.testing.assert_array_equal(x.norm(p=0, dim=1).numpy(), [2.0, 3.0])
    out, grad = _grad_of(lambda t: t.norm(p=0), [[1.0, 0.0, 2.0]])
    assert out.item() == 2.0
    np.testing.assert_array_equal(grad, np.zeros((1, 3)))


def test_norm_gradient_is_zero_where_the_norm_is_zero():
    # 2-norm of a zero vector: x / ||x|| = 0/0; PyTorch defines it as 0 (so does sqrt's
    # 0/0 nowhere else); the other row is x / ||x|| = [3, 4] / 5
    out, grad = _grad_of(lambda t: t.norm(dim=1), [[0.0, 0.0], [3.0, 4.0]])
    np.testing.assert_array_equal(out.numpy(), [0.0, 5.0])
    np.testing.assert_allclose(grad, [[0.0, 0.0], [0.6, 0.8]], rtol=1e-15)
    for p in (3, 1.5):
        _, grad = _grad_of(lambda t: t.norm(p=p), [0.0, 0.0, 0.0])
        np.testing.assert_array_equal(grad, np.zeros(3))


def test_norm_below_one_gives_zero_gradient_at_a_zero_entry():
    # p = 0.5: d/dx_i = sign(x_i) |x_i|^(p-1) * norm^(1-p); at x_i = 0 PyTorch masks to 0
    _, grad = _grad_of(lambda t: t.norm(p=0.5), [0.0, 1.0, 4.0])
    norm = (1.0 + 2.0) ** 2  # (sqrt 1 + sqrt 4)^2 = 9
    np.testing.assert_allclose(grad, [0.0, 1.0 * norm ** 0.5, 4.0 ** -0.5 * norm ** 0.5])


def test_norm_inf_shares_the_gradient_between_ties():
    # as amax: max |x| is reached twice (|-3| and 3), each gets half, with x's sign
    _, grad = _grad_of(lambda t: t.norm(p=np.inf), [-3.0, 1.0, 3.0])
    np.testing.assert_array_equal(grad, [-0.5, 0.0, 0.5])
    _, grad = _grad_of(lambda t: t.norm(p=-np.inf), [-1.0, 1.0, 3.0])
    np.testing.assert_array_equal(grad, [-0.5, 0.5, 0.0])


def test_norm_gradcheck_every_order():
    x = minnet.Tensor(np.random.default_rng(3).uniform(0.5, 2.0, (3, 4))
                      * np.array([1, -1, 1, -1]), requires_grad=True)
    for p in (0.5, 1, 1.5, 2, 3, np.inf, -np.inf, -1):
        for dim, keepdim in ((None, False), (1, False), ((0, 1), True), (-2, True)):
            result = minnet.gradcheck(lambda t: t.norm(p=p, dim=dim, keepdim=keepdim), (x,))
            assert result, (p, dim, result)


def test_norm_dtype_empty_and_integer_input():
    assert minnet.Tensor(np.ones(3, dtype=np.float32)).norm().dtype == np.float32
    # an empty reduced dim: the sum is 0, so the norm is 0 (it used to raise ZeroDivisionError)
    np.testing.assert_array_equal(minnet.Tensor(np.zeros((0, 4))).norm(dim=0).numpy(),
                                  np.zeros(4))
    import pytest
    with pytest.raises(TypeError, match="floating-point"):  # as PyTorch's vector_norm
        minnet.tensor([1, 2]).norm()


# -- prod / logsumexp over an empty dim -------------------------------------------------------
def test_prod_of_an_empty_dim_is_one_with_an_empty_gradient():
    out, grad = _grad_of(lambda t: t.prod(0), np.zeros((0, 3)))
    np.testing.assert_array_equal(out.numpy(), np.ones(3))  # used to fail in backward
    assert grad.shape == (0, 3)


def test_logsumexp_of_an_empty_dim_is_minus_inf_and_integers_give_float32():
    out = ops.logsumexp(minnet.Tensor(np.zeros((0, 3))), 0)
    np.testing.assert_array_equal(out.numpy(), np.full(3, -np.inf))  # used to raise
    ints = ops.logsumexp(minnet.tensor([[0, 0], [1, 1]]), 1)  # used to raise a TypeError
    assert ints.dtype == np.float32
    np.testing.assert_allclose(ints.numpy(), [np.log(2), 1 + np.log(2)], rtol=1e-6)


# -- dtypes PyTorch infers: clamp of an int tensor by a float, as_tensor of a list ------------
def test_clamp_of_integers_by_a_float_bound_is_float32():
    x = minnet.tensor([3, -2, 5])
    assert x.clamp(0.5, 4).dtype == np.float32  # NumPy's int64 + float promotion gave float64
    np.testing.assert_array_equal(x.clamp(0.5, 4).numpy(), [3.0, 0.5, 4.0])
    assert x.clamp(0, 4).dtype == np.int64


def test_as_tensor_infers_dtypes_as_tensor_does():
    assert minnet.as_tensor([1, 2]).dtype == np.int64  # was float32 (the Tensor class's rule)
    assert minnet.as_tensor([1.5]).dtype == np.float32
    assert minnet.as_tensor([True]).dtype == np.bool_


# -- Embedding / F.embedding padding_idx (PyTorch: the row is looked up, never updated) -------
def test_embedding_padding_idx_row_starts_at_zero_and_gets_no_gradient():
    layer = minnet.nn.Embedding(5, 3, padding_idx=-1)  # -1 means row 4, as in PyTorch
    assert layer.padding_idx == 4 and repr(layer) == "Embedding(5, 3, padding_idx=4)"
    np.testing.assert_array_equal(layer.weight.numpy()[4], np.zeros(3))
    ids = minnet.tensor([[0, 4, 4], [1, 0, 3]])
    layer(ids).sum().backward()
    # d sum / d row = the number of times the row is used, except the padding row
    np.testing.assert_array_equal(layer.weight.grad.numpy()[:, 0], [2.0, 1.0, 0.0, 1.0, 0.0])


def test_functional_embedding_padding_idx_keeps_the_values():
    weight = minnet.Tensor(np.arange(6.0).reshape(3, 2), requires_grad=True)
    out = minnet.nn.functional.embedding(minnet.tensor([1, 2, 1]), weight, padding_idx=1)
    np.testing.assert_array_equal(out.numpy(), [[2.0, 3.0], [4.0, 5.0], [2.0, 3.0]])
    out.backward(np.ones((3, 2)))
    np.testing.assert_array_equal(weight.grad.numpy(), [[0, 0], [0, 0], [1.0, 1.0]])
    # the padding row's zero gradient is by definition not its derivative, so gradcheck the
    # other rows: a fixed padding row appended to the checked ones
    padding = minnet.Tensor(np.ones((1, 2)))
    result = minnet.gradcheck(
        lambda w: minnet.nn.functional.embedding(minnet.tensor([[0, 2], [1, 1]]),
                                                 minnet.cat([w, padding]), padding_idx=2),
        (minnet.Tensor(np.random.default_rng(0).standard_normal((2, 2)), requires_grad=True),))
    assert result, result


def test_embedding_padding_idx_out_of_range_is_refused():
    import pytest
    for bad in (5, -6):
        with pytest.raises(ValueError, match="padding_idx must be an int in \\[-5, 5\\)"):
            minnet.nn.Embedding(5, 3, padding_idx=bad)


# -- BatchNorm's repr names bias= (PyTorch 2.13) ----------------------------------------------
def test_batchnorm_repr_as_pytorch():
    nn = minnet.nn
    assert repr(nn.BatchNorm1d(3)) == ("BatchNorm1d(3, eps=1e-05, momentum=0.1, affine=True, "
                                       "bias=True, track_running_stats=True)")
    assert "affine=False, bias=False," in repr(nn.BatchNorm2d(3, affine=False))
    assert "affine=True, bias=False," in repr(nn.BatchNorm2d(3, bias=False))


# -- max()/min()/amax of a slice holding nan: the gradient goes to the nan entries ------------
def test_max_of_a_slice_with_nan_sends_the_gradient_to_the_nan():
    # PyTorch's max(): the result is nan and the gradient is shared among the nan entries
    # (minnet gave 0 everywhere, as if no entry had produced the result)
    out, grad = _grad_of(lambda t: t.max(), [1.0, np.nan, 3.0, np.nan])
    assert np.isnan(out.item())
    np.testing.assert_array_equal(grad, [0.0, 0.5, 0.0, 0.5])
    _, grad = _grad_of(lambda t: ops.amin(t, 1), [[1.0, np.nan], [2.0, 0.5]])
    np.testing.assert_array_equal(grad, [[0.0, 1.0], [0.0, 1.0]])


def test_sign_of_a_bool_tensor_is_itself():
    # torch.sign(torch.tensor([True, False])) -> tensor([True, False]); NumPy's sign raised
    out = minnet.tensor([True, False]).sign()
    assert out.dtype == np.bool_ and out.tolist() == [True, False]


# -- LambdaLR state_dict keeps the state of callable-object schedules (as PyTorch) ------------
def test_lambdalr_state_dict_saves_callable_objects():
    class Warmup:  # a schedule object with state of its own
        def __init__(self):
            self.steps = 3

        def __call__(self, epoch):
            return min(1.0, (epoch + 1) / self.steps)

    def make(first_group_fn):
        w = minnet.nn.Parameter(minnet.zeros(1))
        b = minnet.nn.Parameter(minnet.zeros(1))
        opt = minnet.optim.SGD([{"params": [w]}, {"params": [b]}], lr=1.0)
        return minnet.optim.lr_scheduler.LambdaLR(opt, [first_group_fn, lambda e: 0.5 ** e])

    warmup = Warmup()
    warmup.steps = 10
    state = make(warmup).state_dict()
    # PyTorch: None for a function (not saved), the attributes of a callable object
    assert state["lr_lambdas"] == [{"steps": 10}, None]
    fresh = Warmup()
    restored = make(fresh)
    restored.load_state_dict(state)
    assert fresh.steps == 10 and "lr_lambdas" in state


# -- conv2d dilation= and groups=, Conv2d padding_mode= (were NotImplementedError) ------------
def _conv_inputs(channels=4, filters=6, per_group=4, kernel=(3, 2), seed=0):
    rng = np.random.default_rng(seed)
    x = minnet.Tensor(rng.standard_normal((2, channels, 7, 6)), requires_grad=True)
    w = minnet.Tensor(rng.standard_normal((filters, per_group) + kernel), requires_grad=True)
    b = minnet.Tensor(rng.standard_normal(filters), requires_grad=True)
    return x, w, b


def test_conv2d_dilation_is_a_conv_with_a_spread_kernel():
    F = minnet.nn.functional
    x, w, b = _conv_inputs()
    out = F.conv2d(x, w, b, padding=1, dilation=(2, 1))
    # the dilated kernel written out by hand: taps 2 rows apart, a zero row between
    spread = np.zeros((6, 4, 5, 2))
    spread[:, :, ::2] = w.numpy()
    expected = F.conv2d(x.detach(), minnet.Tensor(spread), b.detach(), padding=1)
    np.testing.assert_allclose(out.numpy(), expected.numpy(), rtol=1e-12, atol=1e-12)
    assert out.shape == (2, 6, 5, 7)  # H: 7 + 2 - 2*(3-1) - 1 + 1 = 5; W: 6 + 2 - 1 = 7
    for kwargs in ({"dilation": 2, "padding": 2}, {"dilation": (2, 3), "padding": "same"},
                   {"dilation": 2, "stride": 2}):
        result = minnet.gradcheck(lambda x, w, b: F.conv2d(x, w, b, **kwargs), (x, w, b))
        assert result, (kwargs, result)


def test_conv2d_groups_are_independent_convolutions():
    F = minnet.nn.functional
    x, w, b = _conv_inputs(per_group=2)
    out = F.conv2d(x, w, b, padding=1, groups=2)
    # group g: input channels 2g, 2g+1 -> filters 3g .. 3g+2
    for g in range(2):
        part = F.conv2d(x.detach()[:, 2 * g:2 * g + 2], w.detach()[3 * g:3 * g + 3],
                        b.detach()[3 * g:3 * g + 3], padding=1)
        np.testing.assert_allclose(out.numpy()[:, 3 * g:3 * g + 3], part.numpy(), rtol=1e-12)
    result = minnet.gradcheck(lambda x, w, b: F.conv2d(x, w, b, stride=2, groups=2,
                                                       dilation=(1, 2)), (x, w, b))
    assert result, result
    x, w, b = _conv_inputs(filters=8, per_group=1)  # depthwise: groups = channels
    result = minnet.gradcheck(lambda x, w: F.conv2d(x, w, groups=4, padding=1), (x, w))
    assert result, result


def test_conv2d_groups_must_divide_the_channels():
    import pytest
    x, w, _ = _conv_inputs(per_group=2)
    with pytest.raises(ValueError, match="groups=3"):
        minnet.nn.functional.conv2d(x, w, groups=3)
    with pytest.raises(ValueError, match="divides both in_channels"):
        minnet.nn.Conv2d(4, 6, 3, groups=4)


def test_conv2d_layer_padding_modes_pad_first():
    nn, F = minnet.nn, minnet.nn.functional
    x, _, _ = _conv_inputs()
    for mode in ("reflect", "replicate", "circular"):
        layer = nn.Conv2d(4, 6, 3, padding=(1, 2), padding_mode=mode, dilation=(1, 2)).double()
        expected = F.conv2d(F.pad(x, (2, 2, 1, 1), mode=mode), layer.weight, layer.bias,
                            dilation=(1, 2))
        np.testing.assert_allclose(layer(x).numpy(), expected.numpy(), rtol=1e-12)
        assert f"padding_mode={mode}" in repr(layer)
        result = minnet.gradcheck(lambda t: layer(t), (x,))
        assert result, (mode, result)
    same = nn.Conv2d(4, 6, (3, 2), padding="same", padding_mode="reflect", groups=2).double()
    assert same.weight.shape == (6, 2, 3, 2) and same(x).shape == x.shape[:1] + (6, 7, 6)


# -- where(condition) alone: the indices of the True entries, as torch.nonzero(as_tuple=True) -
def test_where_with_only_a_condition_gives_indices():
    rows, cols = minnet.where(minnet.tensor([[0.0, 2.0], [3.0, 0.0]]) > 0)
    assert rows.dtype == np.int64 and rows.tolist() == [0, 1] and cols.tolist() == [1, 0]
    (only,) = minnet.where(minnet.tensor([0, 5, 0, 7]))  # any dtype: non-zero entries
    assert only.tolist() == [1, 3]
    import pytest
    with pytest.raises(TypeError, match="give both input and other"):
        minnet.where(minnet.tensor([True]), 1.0)


# -- unique(dim=): the distinct slices along a dim (was NotImplementedError) ------------------
def test_unique_along_a_dim():
    x = minnet.tensor([[3, 1, 2], [2, 3, 1], [3, 1, 2], [0, 5, 5]])
    rows, inverse, counts = minnet.unique(x, dim=0, return_inverse=True, return_counts=True)
    # the distinct rows in lexicographic order; each input row's position among them
    assert rows.tolist() == [[0, 5, 5], [2, 3, 1], [3, 1, 2]]
    assert inverse.tolist() == [2, 1, 2, 0] and counts.tolist() == [1, 1, 2]
    columns = minnet.unique(x, dim=-1)
    assert columns.tolist() == [[1, 2, 3], [3, 1, 2], [1, 2, 3], [5, 5, 0]]


# -- BatchNorm on an empty batch in training (PyTorch allows it) -------------------------------
def test_batchnorm_training_on_an_empty_batch():
    layer = minnet.nn.BatchNorm2d(3)
    x = minnet.Tensor(np.zeros((0, 3, 2, 2)), requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no 0/0 on the way
        out = layer.double()(x)
        out.sum().backward()
    assert out.shape == (0, 3, 2, 2) and x.grad.shape == (0, 3, 2, 2)
    # running statistics untouched, the batch still counted (as PyTorch)
    np.testing.assert_array_equal(layer.running_mean.numpy(), np.zeros(3))
    np.testing.assert_array_equal(layer.running_var.numpy(), np.ones(3))
    assert layer.num_batches_tracked.item() == 1
    np.testing.assert_array_equal(layer.weight.grad.numpy(), np.zeros(3))
    import pytest
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        layer(minnet.Tensor(np.zeros((1, 3, 1, 1))))  # one value per channel: still refused


# -- ceil_mode pooling with a window longer than the (padded) input: one output, as PyTorch ---
def test_ceil_mode_pooling_window_longer_than_the_input():
    F = minnet.nn.functional
    x = minnet.Tensor(np.arange(4.0).reshape(1, 1, 2, 2), requires_grad=True)
    # torch: floor((2 - 3 + (2 - 1)) / 2) + 1 = 1 window, over the whole 2x2 input
    out, indices = F.max_pool2d(x, 3, 2, ceil_mode=True, return_indices=True)
    assert out.tolist() == [[[[3.0]]]] and indices.tolist() == [[[[3]]]]
    mean = F.avg_pool2d(x, 3, 2, ceil_mode=True)  # divisor: the 2x2 entries inside
    np.testing.assert_allclose(mean.numpy(), [[[[1.5]]]])
    mean.backward(np.ones((1, 1, 1, 1)))
    np.testing.assert_allclose(x.grad.numpy(), np.full((1, 1, 2, 2), 0.25))
    import pytest
    with pytest.raises(ValueError, match="output would be empty"):
        F.max_pool2d(x, 3, 2)  # without ceil_mode there is no window (torch refuses too)


# -- max_pool2d dilation= (was NotImplementedError) -------------------------------------------
def test_max_pool2d_dilation():
    F = minnet.nn.functional
    x = minnet.Tensor(np.arange(25.0).reshape(1, 1, 5, 5), requires_grad=True)
    out, indices = F.max_pool2d(x, 2, 1, dilation=2, return_indices=True)
    # window at (i, j) holds x[i, j], x[i, j+2], x[i+2, j], x[i+2, j+2]: the max is the last
    expected = np.arange(25.0).reshape(5, 5)[2:, 2:]
    np.testing.assert_array_equal(out.numpy()[0, 0], expected)
    np.testing.assert_array_equal(indices.numpy()[0, 0], expected.astype(np.int64))
    rng = np.random.default_rng(0)
    y = minnet.Tensor(rng.standard_normal((2, 3, 7, 8)), requires_grad=True)
    for kwargs in ({"kernel_size": 3, "stride": 2, "padding": 1, "dilation": 2, "ceil_mode": True},
                   {"kernel_size": (2, 3), "dilation": (3, 1)}):
        result = minnet.gradcheck(lambda t: F.max_pool2d(t, **kwargs), (y,))
        assert result, (kwargs, result)
    layer = minnet.nn.MaxPool2d(3, 2, 1, dilation=2, ceil_mode=True)
    np.testing.assert_array_equal(layer(y).numpy(),
                                  F.max_pool2d(y, 3, 2, 1, dilation=2, ceil_mode=True).numpy())


# -- cat/stack of float32 with int64: float32, as PyTorch (NumPy gives float64) ---------------
def test_cat_and_stack_promote_as_pytorch():
    floats = minnet.Tensor(np.ones((1, 2), dtype=np.float32), requires_grad=True)
    ints = minnet.tensor([[1, 2]])
    joined = minnet.cat([floats, ints])
    assert joined.dtype == np.float32 and minnet.stack([ints, floats]).dtype == np.float32
    joined.sum().backward()
    assert floats.grad.dtype == np.float32
    assert minnet.cat([floats, minnet.Tensor(np.ones((1, 2)))]).dtype == np.float64
    assert minnet.cat([ints, minnet.tensor([[True, False]])]).dtype == np.int64


# -- optim.Adagrad (torch.optim.Adagrad's rule) ------------------------------------------------
def test_adagrad_steps_by_hand():
    p = minnet.nn.Parameter(minnet.Tensor(np.array([1.0, -2.0])))
    opt = minnet.optim.Adagrad([p], lr=0.5, lr_decay=0.5, initial_accumulator_value=1.0,
                               weight_decay=0.1, eps=0.0)
    expected, s = np.array([1.0, -2.0]), np.ones(2)
    for step, grad in enumerate(([3.0, 0.0], [-1.0, 2.0]), start=1):
        p.grad = minnet.Tensor(np.array(grad))
        opt.step()
        g = np.array(grad) + 0.1 * expected          # weight decay
        s = s + g * g                                  # accumulated squares
        expected = expected - 0.5 / (1 + (step - 1) * 0.5) * g / np.sqrt(s)
        np.testing.assert_allclose(p.numpy(), expected, rtol=1e-14)
    assert opt.state[p]["step"] == 2
    np.testing.assert_allclose(opt.state[p]["sum"].numpy(), s, rtol=1e-14)
    import pytest
    with pytest.raises(ValueError, match="Invalid lr_decay"):
        minnet.optim.Adagrad([p], lr_decay=-1)


# -- lr_scheduler.LinearLR (warmup) and OneCycleLR, as PyTorch ---------------------------------
def _sgd_with_two_groups(momentum=0.9):
    w, b = minnet.nn.Parameter(minnet.zeros(1)), minnet.nn.Parameter(minnet.zeros(1))
    return minnet.optim.SGD([{"params": [w]}, {"params": [b], "lr": 0.5}], lr=0.1,
                            momentum=momentum)


def test_linear_lr_warms_up_then_holds():
    opt = _sgd_with_two_groups()
    scheduler = minnet.optim.lr_scheduler.LinearLR(opt, start_factor=0.25, total_iters=3)
    seen = [scheduler.get_last_lr()]
    for _ in range(5):
        opt.step()
        scheduler.step()
        seen.append(scheduler.get_last_lr())
    # factor 0.25, 0.5, 0.75, 1, 1, 1 of each group's lr
    np.testing.assert_allclose([s[0] for s in seen], [0.025, 0.05, 0.075, 0.1, 0.1, 0.1])
    np.testing.assert_allclose([s[1] for s in seen], [0.125, 0.25, 0.375, 0.5, 0.5, 0.5])


def test_one_cycle_lr_schedule_and_momentum():
    import math
    import pytest
    opt = _sgd_with_two_groups()
    scheduler = minnet.optim.lr_scheduler.OneCycleLR(opt, max_lr=1.0, total_steps=10)
    lrs, momenta = [opt.param_groups[0]["lr"]], [opt.param_groups[0]["momentum"]]
    for _ in range(9):
        opt.step()
        scheduler.step()
        lrs.append(opt.param_groups[0]["lr"])
        momenta.append(opt.param_groups[0]["momentum"])

    def cos_anneal(start, end, fraction):
        return end + (start - end) / 2 * (math.cos(math.pi * fraction) + 1)
    # rise over steps 0..2 (pct_start 0.3 of 10, minus 1) from 1/25 to 1, fall to 1/25/1e4
    expected = [cos_anneal(0.04, 1.0, s / 2) for s in range(3)] + \
        [cos_anneal(1.0, 0.04 / 1e4, (s - 2) / 7) for s in range(3, 10)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)
    assert momenta[0] == 0.95 and momenta[2] == pytest.approx(0.85) and momenta[-1] == 0.95
    opt.step()
    scheduler.step()  # step 10 is still allowed (as torch); the 11th raises
    with pytest.raises(ValueError, match="total_steps is 10"):
        scheduler.step()


# -- nn.LayerNorm / F.layer_norm (torch.nn.LayerNorm) ------------------------------------------
def test_layer_norm_normalises_each_sample_over_its_last_dims():
    nn, F = minnet.nn, minnet.nn.functional
    layer = nn.LayerNorm(4)
    assert repr(layer) == "LayerNorm((4,), eps=1e-05, elementwise_affine=True, bias=True)"
    assert list(layer.state_dict()) == ["weight", "bias"] and layer.weight.dtype == np.float32
    out = layer(minnet.tensor([[1.0, 2.0, 3.0, 4.0], [2.0, 2.0, 2.0, 2.0]]))
    # row 0: mean 2.5, biased variance 1.25; row 1: constant, so 0 (not nan)
    expected = (np.array([1.0, 2.0, 3.0, 4.0]) - 2.5) / np.sqrt(1.25 + 1e-5)
    np.testing.assert_allclose(out.numpy(), [expected, np.zeros(4)], rtol=1e-6, atol=1e-7)
    rng = np.random.default_rng(0)
    x = minnet.Tensor(rng.standard_normal((2, 3, 4)), requires_grad=True)
    w = minnet.Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    b = minnet.Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    result = minnet.gradcheck(lambda x, w, b: F.layer_norm(x, (3, 4), w, b, eps=1e-3), (x, w, b))
    assert result, result
    import pytest
    with pytest.raises(ValueError, match="must be the input's last dims"):
        F.layer_norm(x, (3,))
    assert nn.LayerNorm(3, elementwise_affine=False).weight is None


# -- Conv1d, MaxPool1d, AvgPool1d and their F.* forms (a sequence is a one-row image) --------
def test_conv1d_and_1d_pooling_are_their_2d_versions_on_one_row():
    nn, F = minnet.nn, minnet.nn.functional
    rng = np.random.default_rng(0)
    x = minnet.Tensor(rng.standard_normal((2, 4, 9)), requires_grad=True)
    w = minnet.Tensor(rng.standard_normal((6, 2, 3)), requires_grad=True)
    b = minnet.Tensor(rng.standard_normal(6), requires_grad=True)
    out = F.conv1d(x, w, b, stride=2, padding=1, dilation=2, groups=2)
    as_2d = F.conv2d(x.detach()[:, :, None], w.detach()[:, :, None], b.detach(), stride=(1, 2),
                     padding=(0, 1), dilation=(1, 2), groups=2)
    np.testing.assert_allclose(out.numpy(), as_2d.numpy()[:, :, 0], rtol=1e-12)
    assert out.shape == (2, 6, 4)  # (9 + 2 - 2*2 - 1) // 2 + 1
    result = minnet.gradcheck(lambda x, w, b: F.conv1d(x, w, b, padding="same", dilation=2),
                              (x, minnet.Tensor(rng.standard_normal((6, 4, 3)),
                                                requires_grad=True), b))
    assert result, result
    values, indices = F.max_pool1d(x, 3, 2, 1, ceil_mode=True, return_indices=True)
    assert values.shape == indices.shape == (2, 4, 5)
    np.testing.assert_array_equal(np.take_along_axis(x.numpy(), indices.numpy(), -1),
                                  values.numpy())  # indices are positions in L
    assert minnet.gradcheck(lambda t: F.avg_pool1d(t, 3, 2, 1, count_include_pad=False), (x,))
    layer = nn.Conv1d(4, 6, 3, padding=1, padding_mode="reflect")
    assert repr(layer) == ("Conv1d(4, 6, kernel_size=(3,), stride=(1,), padding=(1,), "
                           "padding_mode=reflect)")
    assert layer(minnet.Tensor(np.ones((4, 5), dtype=np.float32))).shape == (6, 5)


# -- HuberLoss / F.huber_loss and KLDivLoss / F.kl_div ------------------------------------------
def test_huber_loss_by_hand_and_gradcheck():
    F = minnet.nn.functional
    x = minnet.Tensor(np.array([0.25, -1.0, 3.0]), requires_grad=True)
    target = np.zeros(3)
    loss = F.huber_loss(x, target, reduction="none", delta=0.5)
    # |d| < 0.5: 0.5 d^2; else 0.5 * (|d| - 0.25)
    np.testing.assert_allclose(loss.numpy(), [0.03125, 0.375, 1.375])
    weighted = F.huber_loss(x, target, delta=0.5, weight=minnet.Tensor([1.0, 2.0, 3.0]))
    np.testing.assert_allclose(weighted.item(), (0.03125 + 0.75 + 4.125) / 3)  # mean of w*l
    result = minnet.gradcheck(lambda t: F.huber_loss(t, minnet.Tensor([0.1, 0.2, 0.3]),
                                                     delta=0.7), (x,))
    assert result, result
    assert repr(minnet.nn.HuberLoss(delta=2.0)) == "HuberLoss()"


def test_kl_div_reductions_and_gradcheck():
    F = minnet.nn.functional
    p = np.array([[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]])        # a zero entry: 0 log 0 = 0
    q = np.array([[0.25, 0.5, 0.25], [0.3, 0.3, 0.4]])
    log_q = minnet.Tensor(np.log(q), requires_grad=True)
    per_sample = (np.where(p > 0, p * np.log(np.where(p > 0, p, 1) / q), 0)).sum(axis=1)
    np.testing.assert_allclose(F.kl_div(log_q, p, reduction="batchmean").item(),
                               per_sample.mean())
    np.testing.assert_allclose(F.kl_div(log_q, minnet.Tensor(np.log(np.clip(p, 1e-300, 1))),
                                        reduction="sum", log_target=True).item(),
                               per_sample.sum(), rtol=1e-12)
    import pytest
    with pytest.warns(UserWarning, match="batchmean"):
        F.kl_div(log_q, p)  # 'mean' divides by every entry: PyTorch warns
    result = minnet.gradcheck(
        lambda x, t: F.kl_div(x, t, reduction="batchmean"),
        (log_q, minnet.Tensor(np.array([[0.1, 0.6, 0.3], [0.2, 0.3, 0.5]]), requires_grad=True)))
    assert result, result


# -- Tensor.sum/softmax/log_softmax dtype=, all/any(dim, keepdim) ------------------------------
def test_sum_and_softmax_dtype_cast_the_input_first():
    ints = minnet.tensor(np.array([[3, -2, 5], [0, 7, -1]]))
    total = ints.sum(dtype=np.float64)
    assert total.dtype == np.float64 and total.item() == 12.0
    rows = ints.sum(1, True, dtype=np.float32)
    assert rows.dtype == np.float32 and rows.shape == (2, 1)
    # cast before summing: 1.5 and 2.5 become 1 and 2
    assert minnet.Tensor([1.5, 2.5]).sum(dtype=np.int64).item() == 3
    x = minnet.Tensor(np.array([1.0, 2.0], np.float32), requires_grad=True)
    y = x.sum(dtype=np.float64)
    y.backward()
    assert y.dtype == np.float64 and x.grad.dtype == np.float32  # the gradient casts back
    import pytest
    with pytest.raises(RuntimeError, match="floating-point"):
        x.sum(dtype=np.int64)  # PyTorch: "Autograd not support dtype: Long"
    logits = minnet.Tensor(np.array([[1.5, -2.0], [0.0, 3.0]], np.float32))
    soft = logits.softmax(1, dtype=np.float64)
    log_soft = logits.log_softmax(dim=1, dtype=np.float64)
    assert soft.dtype == log_soft.dtype == np.float64
    expected = np.exp([1.5, -2.0]) / np.exp([1.5, -2.0]).sum()
    np.testing.assert_allclose(soft.numpy()[0], expected, rtol=1e-13)  # float64 math
    np.testing.assert_allclose(log_soft.numpy()[0], np.log(expected), rtol=1e-13)
    # an integer tensor can take a softmax once cast
    np.testing.assert_allclose(minnet.tensor([1, 2]).softmax(0, dtype=np.float64).numpy(),
                               [1 / (1 + np.e), np.e / (1 + np.e)])
    result = minnet.gradcheck(lambda t: t.softmax(0, dtype=np.float64).sum(dtype=np.float64)
                              * t.log_softmax(1, dtype=np.float64)[0, 1],
                              (minnet.Tensor(np.random.default_rng(0).normal(size=(2, 3)),
                                             requires_grad=True),))
    assert result, result


def test_all_and_any_along_a_dim():
    a = minnet.Tensor(np.array([[1.5, -2.0], [0.0, 3.0]]))
    np.testing.assert_array_equal(a.all(1).numpy(), [True, False])
    np.testing.assert_array_equal(a.any(dim=0, keepdim=True).numpy(), [[True, True]])
    np.testing.assert_array_equal(a.all(dim=0).numpy(), [False, True])
    assert a.all().item() is False and a.any().item() is True
    assert a.all(dim=(0, 1)).shape == () and a.all(dim=(0, 1), keepdim=True).shape == (1, 1)
    assert a.all(-1).dtype == np.bool_
    # as PyTorch, a uint8 tensor gives uint8
    assert minnet.Tensor(np.array([1, 2], np.uint8), dtype=np.uint8).all(0).dtype == np.uint8
    import pytest
    with pytest.raises(IndexError, match="out of range"):
        a.any(2)


# -- // and % (floor_divide, remainder) and fmod ------------------------------------------------
def test_floor_divide_and_remainder_follow_the_sign_of_the_divisor():
    a = minnet.tensor([7, -7, 7, -7])
    b = minnet.tensor([2, 2, -2, -2])
    # floor(3.5) = 3, floor(-3.5) = -4; a % b = a - b * (a // b)
    np.testing.assert_array_equal((a // b).numpy(), [3, -4, -4, 3])
    np.testing.assert_array_equal((a % b).numpy(), [1, 1, -1, -1])
    np.testing.assert_array_equal(minnet.fmod(a, b).numpy(), [1, -1, 1, -1])  # sign of a
    assert (a // b).dtype == (a % b).dtype == np.int64
    np.testing.assert_array_equal((7 // minnet.tensor([2, -2])).numpy(), [3, -4])
    np.testing.assert_array_equal((7 % minnet.tensor([2, -2])).numpy(), [1, -1])
    # an int tensor and a float number give float32, as PyTorch
    halves = a % 2.5
    assert halves.dtype == np.float32
    np.testing.assert_array_equal(halves.numpy(), [2.0, 0.5, 2.0, 0.5])
    np.testing.assert_array_equal((a // 2.5).numpy(), [2.0, -3.0, 2.0, -3.0])
    # floats: dividing by zero gives inf / nan, as PyTorch
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_array_equal((minnet.Tensor([1.0, -1.0]) // 0).numpy(), [np.inf, -np.inf])
        assert np.isnan((minnet.Tensor([1.0, -1.0]) % 0).numpy()).all()
    np.testing.assert_array_equal(minnet.remainder(minnet.Tensor([5.0, -5.0]), np.inf).numpy(),
                                  [5.0, np.inf])
    # methods and the functions agree
    np.testing.assert_array_equal(a.remainder(3).numpy(), minnet.remainder(a, 3).numpy())
    np.testing.assert_array_equal(a.floor_divide(3).numpy(), minnet.floor_divide(a, 3).numpy())
    np.testing.assert_array_equal(a.fmod(3).numpy(), [1, -1, 1, -1])


def test_integer_division_by_zero_and_bool_raise():
    import pytest
    a = minnet.tensor([7, -7])
    for fn in (lambda: a // 0, lambda: a % minnet.tensor([1, 0]), lambda: minnet.fmod(a, 0)):
        with pytest.raises(RuntimeError, match="division by zero"):
            fn()
    with pytest.raises(TypeError, match="bool"):
        minnet.tensor([True]) % minnet.tensor([True])
    with pytest.raises(ValueError, match="broadcast"):
        minnet.tensor([1, 2]) // minnet.tensor([1, 2, 3])


def test_inplace_floor_divide_and_remainder():
    import pytest
    x = minnet.tensor([5, 6])
    x //= 2
    np.testing.assert_array_equal(x.numpy(), [2, 3])
    x %= 2
    np.testing.assert_array_equal(x.numpy(), [0, 1])
    assert x.dtype == np.int64 and x._version == 2
    np.testing.assert_array_equal(minnet.tensor([3, -4]).fmod_(3).numpy(), [0, -1])
    np.testing.assert_array_equal(minnet.tensor([3, 4]).floor_divide_(2).numpy(), [1, 2])
    np.testing.assert_array_equal(minnet.tensor([1, 2]).remainder_(2).numpy(), [1, 0])
    with pytest.raises(RuntimeError, match="can't be cast"):
        y = minnet.tensor([5, 6])
        y //= 2.5  # float result into an int tensor, as PyTorch
    with pytest.raises(RuntimeError, match="division by zero"):
        y = minnet.tensor([5, 6])
        y %= 0
    p = minnet.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf"):
        p %= 2


def test_remainder_and_fmod_gradients():
    rng = np.random.default_rng(1)
    # keep a / b away from whole numbers, where remainder jumps
    a = minnet.Tensor(rng.uniform(-5, 5, (3, 4)), requires_grad=True)
    b = minnet.Tensor(rng.uniform(0.7, 1.9, (4,)) * np.array([1, -1, 1, -1]), requires_grad=True)
    q = a.numpy() / b.numpy()
    assert np.abs(q - np.round(q)).min() > 1e-3
    for fn in (minnet.remainder, minnet.fmod, lambda x, y: x % y):
        result = minnet.gradcheck(fn, (a, b))
        assert result, result
    # hand check: d(a % b)/da = 1, d(a % b)/db = -floor(a / b); fmod uses trunc
    x = minnet.Tensor([5.5, -5.5, 3.0], requires_grad=True)
    y = minnet.Tensor([2.0, 2.0, -2.0], requires_grad=True)
    (x % y).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(y.grad.numpy(), [-2.0, 3.0, 2.0])
    x.grad = y.grad = None
    minnet.fmod(x, y).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [-2.0, 2.0, 1.0])
    # a number as the divisor: only the tensor gets a gradient
    z = minnet.Tensor([1.0, 2.0], requires_grad=True)
    (z % 0.7).sum().backward()
    np.testing.assert_array_equal(z.grad.numpy(), [1.0, 1.0])


def test_floor_divide_has_no_derivative_as_pytorch():
    import pytest
    x = minnet.Tensor([5.5, -5.5], requires_grad=True)
    out = x // 2
    # PyTorch: the result requires grad, but backward raises "derivative ... not implemented"
    assert out.requires_grad
    np.testing.assert_array_equal(out.numpy(), [2.0, -3.0])
    with pytest.raises(RuntimeError, match="not implemented"):
        out.sum().backward()
    with minnet.no_grad():
        assert not (x // 2).requires_grad


# -- load_state_dict returns PyTorch's named tuple -----------------------------------------------
def test_load_state_dict_returns_named_incompatible_keys():
    layer = minnet.nn.Linear(2, 3)
    result = layer.load_state_dict({"weight": layer.weight.detach(), "extra": np.ones(1)},
                                   strict=False)
    missing, unexpected = result  # still unpacks as a tuple
    assert missing == result.missing_keys == ["bias"]
    assert unexpected == result.unexpected_keys == ["extra"]
    assert isinstance(result, tuple) and result == (["bias"], ["extra"])
    assert repr(result) == "_IncompatibleKeys(missing_keys=['bias'], unexpected_keys=['extra'])"
    matched = layer.load_state_dict(layer.state_dict())  # strict, nothing amiss: empty
    assert matched.missing_keys == [] and matched.unexpected_keys == [] and matched == ([], [])
    assert repr(matched) == str(matched) == "<All keys matched successfully>"


def test_huber_loss_keeps_the_input_dtype_and_warns_on_broadcasting_like_the_other_losses():
    """A float64 target made huber_loss float64 (mse/l1/smooth_l1 cast it to the input's
    dtype, as documented in docs/pytorch.md; PyTorch's huber_loss gives float32 here too)."""
    F = minnet.nn.functional
    prediction = minnet.tensor(np.ones(3, np.float32))
    for target in (minnet.tensor(np.zeros(3)), [0.0, 0.0, 0.0]):
        assert F.huber_loss(prediction, target).dtype == minnet.float32
        assert F.huber_loss(prediction, target).dtype == F.mse_loss(prediction, target).dtype
    with pytest.warns(UserWarning, match="huber_loss.*target size"):
        F.huber_loss(prediction, minnet.tensor(np.zeros((3, 1), np.float32)))


def test_leaky_relu_of_integers_is_float32_as_elu():
    F = minnet.nn.functional
    out = F.leaky_relu(minnet.tensor([1, -2]), negative_slope=0.5)
    assert out.dtype == F.elu(minnet.tensor([1, -2])).dtype == minnet.float32
    np.testing.assert_allclose(out.numpy(), [1.0, -1.0])


def test_top_level_all_any_and_sum_dtype_as_torch():
    """torch.all/torch.any and torch.sum(x, dtype=) existed only as Tensor methods here."""
    x = minnet.tensor([[1.0, 0.0], [3.0, 4.0]])
    assert not minnet.all(x).item() and minnet.any(x).item()
    np.testing.assert_array_equal(minnet.all(x, dim=1).numpy(), [False, True])
    np.testing.assert_array_equal(minnet.any(x, 0, keepdim=True).numpy(), [[True, True]])
    assert minnet.sum(x, dtype=minnet.float64).dtype == minnet.float64
    assert minnet.sum(x, 1, dtype=minnet.float64).numpy().tolist() == [1.0, 7.0]
    with pytest.raises(TypeError, match="all\\(\\): input must be a Tensor"):
        minnet.all([True, False])


def test_kl_div_and_huber_loss_check_their_inputs_like_the_other_losses():
    F = minnet.nn.functional
    log_q = minnet.tensor(np.log(np.full((2, 3), 1 / 3, np.float32)))
    p = minnet.tensor(np.full((2, 3), 1 / 3))  # float64: cast to the input's float32
    assert F.kl_div(log_q, p, reduction="batchmean").dtype == minnet.float32
    with pytest.raises(TypeError, match="kl_div\\(\\): input must be a Tensor"):
        F.kl_div(np.zeros((2, 3)), p)
    with pytest.raises(ValueError, match="kl_div\\(\\): input shape \\(2, 3\\) and target shape"):
        F.kl_div(log_q, minnet.tensor(np.ones((3, 1), np.float32)))
    with pytest.warns(UserWarning, match="kl_div\\(\\): reduction='mean'.*batchmean"):
        F.kl_div(log_q, p)
    for delta in ("a", True, 0, -1.0):
        with pytest.raises(ValueError, match="huber_loss\\(\\): delta must be a positive number"):
            F.huber_loss(log_q, p, delta=delta)


# == found by PyTorch's own OpInfo samples (benchmarks/opinfo_parity.py) =====================
def _f64(data, requires_grad=False):
    return minnet.tensor(np.array(data, dtype=np.float64), requires_grad=requires_grad)


def test_div_floor_floors_the_exact_quotient_as_floor_divide():
    # -0.001 is stored as slightly more than 1/1000 in magnitude, so the exact quotient
    # -0.25 / -0.001 is 249.99..., and its floor 249 (Python: -0.25 // -0.001 == 249.0);
    # floor of the rounded quotient (250.0) gave 250
    a, b = _f64([-0.25, 0.25, 7.0, -7.0]), _f64([-0.001, 0.001, 2.0, 2.0])
    expected = [-0.25 // -0.001, 0.25 // 0.001, 3.0, -4.0]
    assert expected[:2] == [249.0, 249.0]
    np.testing.assert_array_equal(ops.div(a, b, rounding_mode="floor").numpy(), expected)
    np.testing.assert_array_equal((a // b).numpy(), expected)  # the same as //


def test_clamp_promotes_with_a_tensor_bound_of_another_dtype():
    x = minnet.tensor([1.5, -2.0, 3.0])                        # float32
    low = minnet.tensor(np.zeros(3, np.int32), dtype=np.int32)
    out = ops.clamp(x, low)
    assert out.dtype == np.float32                              # NumPy would give float64
    np.testing.assert_array_equal(out.numpy(), [1.5, 0.0, 3.0])


def test_clamp_of_integers_by_a_float_number_keeps_the_fraction():
    # PyTorch: clamp(tensor([1, 5, -3]), 0.5) == tensor([1.0, 5.0, 0.5]); the bound used to
    # be cast to the integer dtype first (0.5 -> 0), giving 0.0
    out = ops.clamp(minnet.tensor([1, 5, -3]), 0.5)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out.numpy(), [1.0, 5.0, 0.5])
    assert ops.clamp(minnet.tensor([1, 5, -3]), 0, 2).tolist() == [1, 2, 0]   # stays int64


def test_clamp_gradcheck_with_tensor_bounds_of_another_dtype():
    x = _f64([[0.3, -1.2, 2.5], [1.1, 0.2, -0.4]], requires_grad=True)
    low = minnet.tensor(np.full(3, -1.0, np.float32), dtype=np.float32)
    high = _f64([2.0, 2.0, 1.0], requires_grad=True)
    assert minnet.gradcheck(lambda x, h: ops.clamp(x, low, h), (x, high))


@pytest.mark.parametrize("op", [ops.maximum, ops.minimum])
def test_maximum_minimum_gradient_goes_to_the_nan_input(op):
    # the output is NaN where an input is; PyTorch gives the gradient to both sides
    # there (neither lost); minnet used to give all of it to the other, non-NaN input
    nan = float("nan")
    a = _f64([nan, 1.0, nan, 2.0, 3.0], requires_grad=True)
    b = _f64([1.0, nan, nan, 2.0, 0.0], requires_grad=True)
    op(a, b).backward(np.ones(5))
    win_a = 1.0 if op is ops.maximum else 0.0     # 3 vs 0: the larger or the smaller wins
    np.testing.assert_array_equal(a.grad.numpy(), [1.0, 1.0, 1.0, 0.5, win_a])
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 1.0, 1.0, 0.5, 1.0 - win_a])


@pytest.mark.parametrize("op", [ops.maximum, ops.minimum])
def test_maximum_minimum_gradcheck(op):
    a = _f64([[0.3, -1.2, 2.5], [1.1, 0.2, -0.4]], requires_grad=True)
    b = _f64([0.1, 0.5, -2.0], requires_grad=True)
    assert minnet.gradcheck(op, (a, b))


@pytest.mark.parametrize("fn", [ops.softmax, ops.log_softmax])
def test_softmax_of_an_empty_input_is_empty(fn):
    # PyTorch: softmax(zeros(5, 0, 0), -1) has shape (5, 0, 0); NumPy's max used to raise
    # "zero-size array to reduction operation maximum which has no identity"
    for shape, dim in [((5, 0, 0), -1), ((5, 0, 3), 1), ((0,), 0)]:
        x = minnet.zeros(*shape, dtype=np.float64, requires_grad=True)
        out = fn(x, dim)
        assert out.shape == shape
        out.sum().backward()
        assert x.grad.shape == shape


@pytest.mark.parametrize("fn", [ops.softmax, ops.log_softmax])
def test_softmax_function_takes_dtype(fn):
    # torch.softmax(input, dim, dtype=...) converts the input first, as the method does
    out = fn(minnet.tensor([1, 2]), 0, dtype=minnet.float64)
    assert out.dtype == np.float64
    probabilities = np.exp([1.0, 2.0]) / np.exp([1.0, 2.0]).sum()
    expected = probabilities if fn is ops.softmax else np.log(probabilities)
    np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12)
    x = _f64([[0.3, -1.2, 2.5], [1.1, 0.2, -0.4]], requires_grad=True)
    assert minnet.gradcheck(lambda t: fn(t, 1, dtype=np.float64), (x,))


def test_masked_fill_keeps_the_tensors_dtype():
    # PyTorch: the value is converted to self's dtype; a bool tensor filled with 10 stays
    # bool (True), where minnet used to promote to int64
    flags = minnet.tensor([True, False, False])
    out = flags.masked_fill(minnet.tensor([False, True, False]), 10)
    assert out.dtype == np.bool_ and out.tolist() == [True, True, False]
    exact = _f64([1.0, 2.0]).masked_fill(minnet.tensor([False, True]), 0.1)
    assert exact.tolist() == [1.0, 0.1]               # 0.1 in float64, not via float32
    assert minnet.tensor([1, 2]).masked_fill(minnet.tensor([True, False]), 2.7).tolist() == [2, 2]


def test_masked_fill_refuses_a_value_tensor_with_dims():
    x = _f64([1.0, 2.0])
    with pytest.raises(ValueError, match=r"masked_fill\(\).*0-d tensor.*shape \(2,\)"):
        x.masked_fill(x > 1, _f64([5.0, 6.0]))


def test_masked_fill_gradcheck_value_and_self():
    x = _f64([[0.3, -1.2, 2.5], [1.1, 0.2, -0.4]], requires_grad=True)
    value = _f64(0.7, requires_grad=True)
    mask = minnet.tensor([[True, False, True], [False, False, True]])
    assert minnet.gradcheck(lambda x, v: x.masked_fill(mask, v), (x, value))


def test_square_of_bool_is_int64():
    out = ops.square(minnet.tensor([True, False]))   # PyTorch: int64; NumPy: int8
    assert out.dtype == np.int64 and out.tolist() == [1, 0]


def test_prod_of_bool_and_small_integers_is_int64():
    assert ops.prod(minnet.tensor(True)).dtype == np.int64          # used to stay bool
    assert ops.prod(minnet.tensor([True, True]), 0).dtype == np.int64
    small = minnet.tensor(np.array([3, 4], np.int32), dtype=np.int32)
    assert ops.prod(small).dtype == np.int64 and ops.prod(small).item() == 12


def test_prod_of_a_0d_tensor_is_a_new_tensor_with_a_gradient():
    x = _f64(2.5, requires_grad=True)
    out = x.prod(0, keepdim=True)
    assert out is not x and out.shape == () and out.item() == 2.5
    out.backward()
    assert x.grad.item() == 1.0


@pytest.mark.parametrize("call", [
    lambda x: x.prod(1, dtype=np.float64),
    lambda x: ops.prod(x, dtype=np.float64),
    lambda x: x.cumsum(0, dtype=np.float64),
    lambda x: ops.cumsum(x, 1, dtype=np.float64),
    lambda x: x.mean(dtype=np.float64),
    lambda x: ops.mean(x, 0, dtype=np.float64),
])
def test_prod_cumsum_mean_take_dtype(call):
    # torch.prod/cumsum/mean(..., dtype=...) convert the input first; float32 in, float64 out
    data = np.array([[0.5, -1.5, 2.0], [1.25, 3.0, -0.75]], np.float32)
    x32 = minnet.tensor(data, requires_grad=True)
    out = call(x32)
    assert out.dtype == np.float64
    np.testing.assert_allclose(out.numpy(), call(_f64(data)).numpy(), rtol=1e-15)
    out.sum().backward()
    assert x32.grad.dtype == np.float32               # the gradient comes back in float32
    assert minnet.gradcheck(call, (_f64(data, requires_grad=True),))


def test_cumsum_dtype_of_integers():
    out = minnet.tensor([1, 2, 3]).cumsum(0, dtype=minnet.float32)
    assert out.dtype == np.float32 and out.tolist() == [1.0, 3.0, 6.0]


def test_arange_with_an_integer_dtype_truncates_the_bounds_first():
    # PyTorch casts start, end and step to the integer dtype before counting: arange(3.1)
    # in int64 is 0, 1, 2 (minnet counted in floats: 0, 1, 2, 3)
    assert minnet.arange(3.1, dtype=minnet.int64).tolist() == [0, 1, 2]
    assert minnet.arange(0.0, -8.000001, -4.0, dtype=minnet.int64).tolist() == [0, -4]
    assert minnet.arange(0, 1, 0.25).tolist() == [0.0, 0.25, 0.5, 0.75]   # floats unchanged


@pytest.mark.parametrize("args, words", [
    ((0, 3, 0), "step must be nonzero"),
    ((0, float("inf")), "unsupported range"),
    ((0, -3, 2), ".*inconsistent with step sign"),    # NumPy: an empty range, silently
    ((0, 3, -1), ".*inconsistent with step sign"),
])
def test_arange_refuses_what_pytorch_refuses(args, words):
    with pytest.raises(ValueError, match=r"arange\(\): " + words):
        minnet.arange(*args)


def test_arange_empty_and_decreasing_ranges_still_work():
    assert minnet.arange(0).tolist() == [] and minnet.arange(2, 2).tolist() == []
    assert minnet.arange(5, 0, -2).tolist() == [5, 3, 1]


def test_linspace_checks_steps_and_bounds():
    with pytest.raises(ValueError, match=r"linspace\(\): steps must be a non-negative int"):
        minnet.linspace(0, 3, -1)                  # was NumPy's "Number of samples, -1, ..."
    with pytest.raises(ValueError, match=r"linspace\(\): start must be a number or a 0-d"):
        minnet.linspace(minnet.tensor([0, 1]), minnet.tensor([2, 3]), 1)   # was a (1, 2) result
    # integer dtype: bounds truncated first (4.3 -> 4), values truncated, as PyTorch
    assert minnet.linspace(4.3, -3, 5, dtype=minnet.int64).tolist() == [4, 2, 0, -1, -3]
    assert minnet.linspace(minnet.tensor(0.0), 1, 3).tolist() == [0.0, 0.5, 1.0]


def test_eye_and_multinomial_refuse_negative_sizes_clearly():
    with pytest.raises(ValueError, match=r"eye\(\): sizes must be non-negative"):
        minnet.eye(-1)
    for count in (-1, 0):
        with pytest.raises(ValueError, match=r"multinomial\(\): num_samples must be a positive"):
            minnet.multinomial(minnet.tensor([1.0, 2.0]), count)


def test_cat_skips_1d_empty_tensors_as_pytorch():
    # the accumulation loop acc = tensor([]); acc = cat([acc, row]) works in PyTorch
    acc = minnet.tensor([])                                   # float32, shape (0,)
    rows = minnet.tensor([[1, 2]])
    out = ops.cat([acc, rows, rows])
    assert out.shape == (2, 2) and out.dtype == np.float32    # the empty one counts in the dtype
    empty = _f64(np.zeros(0), requires_grad=True)
    b = _f64(np.arange(6.0).reshape(2, 3), requires_grad=True)
    joined = ops.cat([b, empty, b], dim=1)
    assert joined.shape == (2, 6)
    joined.backward(np.arange(12.0).reshape(2, 6))
    # b is used twice: its gradient is the sum of the two 3-column pieces
    np.testing.assert_array_equal(b.grad.numpy(), [[3.0, 5.0, 7.0], [15.0, 17.0, 19.0]])
    assert empty.grad.shape == (0,)
    assert minnet.gradcheck(lambda b: ops.cat([empty, b, empty, b], dim=0), (b,))


def test_cat_of_0d_tensors_names_the_problem():
    with pytest.raises(ValueError, match=r"cat\(\): zero-dimensional tensor \(at position 0\)"):
        ops.cat([minnet.tensor(1.0), minnet.tensor(2.0)])   # was NumPy's message


def test_cat_out():
    out = minnet.zeros(4, 3)
    result = ops.cat([minnet.ones(2, 3), minnet.full((2, 3), 2.0)], out=out)
    assert result is out and out.sum().item() == 18.0


def test_neg_of_bool_names_the_function():
    with pytest.raises(TypeError, match=r"neg\(\): .*bool.*Hint: use ~x"):
        -minnet.tensor([True, False])   # was NumPy's "The numpy boolean negative ..."


def test_reflected_logical_operators():
    # PyTorch: True | mask and 1 & flags work (minnet had no __ror__/__rand__/__rxor__)
    mask = minnet.tensor([True, False])
    assert (True | mask).tolist() == [True, True]
    assert (True & mask).tolist() == [True, False]
    assert (True ^ mask).tolist() == [False, True]
    assert (1 & minnet.tensor([1, 2, 3])).tolist() == [1, 0, 1]


def test_tensor_where_method():
    x = _f64([1.0, -2.0, 3.0], requires_grad=True)
    out = x.where(x > 0, 0.0)                                 # torch.where(x > 0, x, 0.0)
    assert out.tolist() == [1.0, 0.0, 3.0]
    out.sum().backward()
    assert x.grad.tolist() == [1.0, 0.0, 1.0]


def test_pooling_sizes_given_as_one_element_tuples():
    # PyTorch expands kernel_size=(2,) and padding=(1,) to both dims, as an int
    x = _f64(np.arange(16.0).reshape(1, 1, 4, 4), requires_grad=True)
    from minnet.nn import functional as F
    out = F.avg_pool2d(x, (2,), (2,), (1,))
    np.testing.assert_array_equal(out.numpy(), F.avg_pool2d(x, 2, 2, 1).numpy())
    assert minnet.gradcheck(lambda x: F.avg_pool2d(x, (2,), (2,), (1,)), (x,))


@pytest.mark.parametrize("mode, pad, expected", [
    # reflect/replicate pad from the whole row, then crop (PyTorch's index rule)
    ("reflect", (-1, 2), [1.0, 2.0, 3.0, 4.0, 3.0, 2.0]),
    ("replicate", (2, -3), [0.0, 0.0, 0.0, 1.0]),
    ("reflect", (-2, -1), [2.0, 3.0]),
    # circular crops first, then wraps what is left
    ("circular", (-1, 2), [1.0, 2.0, 3.0, 4.0, 1.0, 2.0]),
    ("circular", (1, -2), [2.0, 0.0, 1.0, 2.0]),
])
def test_pad_negative_amounts_crop_in_every_mode(mode, pad, expected):
    # PyTorch allows negative padding in all modes; minnet refused it outside 'constant'
    row = _f64([[0.0, 1.0, 2.0, 3.0, 4.0]], requires_grad=True)
    out = ops.pad(row, pad, mode=mode)
    np.testing.assert_array_equal(out.numpy(), [expected])
    assert minnet.gradcheck(lambda t: ops.pad(t, pad, mode=mode), (row,))


def test_pad_circular_refuses_more_than_is_left_after_cropping():
    with pytest.raises(ValueError, match=r"pad\(\): circular padding \(0, 4\) can be at most "
                                         r"the size 2 of dim 1 after cropping"):
        ops.pad(_f64([[0.0, 1.0, 2.0, 3.0, 4.0]]), (-3, 4), mode="circular")


@pytest.mark.parametrize("power", [
    lambda: minnet.tensor([2, 3]) ** -1,
    lambda: minnet.tensor([2, 3]) ** minnet.tensor([1, -1]),
    lambda: 2 ** minnet.tensor([-1]),
])
def test_integer_to_a_negative_integer_power_names_pow(power):
    # was NumPy's "Integers to negative integer powers are not allowed." from deep inside
    with pytest.raises(ValueError, match=r"pow\(\): integers to negative integer powers.*Hint"):
        power()
    assert (minnet.tensor([2.0, 4.0]) ** -1).tolist() == [0.5, 0.25]   # float bases are fine


@pytest.mark.parametrize("tolerance", [{"rtol": -0.4}, {"atol": -0.4}])
def test_isclose_refuses_a_negative_tolerance(tolerance):
    name = next(iter(tolerance))
    with pytest.raises(ValueError, match=rf"isclose\(\): {name} must be greater than or equal"):
        ops.isclose(minnet.tensor(1.0), minnet.tensor(1.0), **tolerance)
    assert ops.isclose(minnet.tensor([1.0, 2.0]), minnet.tensor([1.0, 2.1])).tolist() == \
        [True, False]


def test_div_in_place_takes_rounding_mode():
    x = _f64([7.0, -7.0, -0.25])
    y = x.div_(_f64([2.0, 2.0, -0.001]), rounding_mode="floor")
    assert y is x and x.tolist() == [3.0, -4.0, 249.0]
    z = _f64([7.0, -7.0]).div_(2, rounding_mode="trunc")
    assert z.tolist() == [3.0, -3.0]
    with pytest.raises(ValueError, match="rounding_mode must be"):
        _f64([1.0]).div_(2, rounding_mode="round")


def test_prod_keeps_an_explicit_dtype():
    # prod(..., dtype=torch.bool) is a logical "all" in PyTorch; NumPy's prod gives int64
    flags = minnet.tensor([[True, False], [True, True]])
    out = ops.prod(flags, 1, dtype=minnet.bool)
    assert out.dtype == np.bool_ and out.tolist() == [False, True]
    small = minnet.tensor(np.array([3, 4], np.int32), dtype=np.int32)
    assert ops.prod(small, 0, dtype=np.int32).dtype == np.int32


def test_square_method_matches_the_function():
    assert minnet.tensor([True, False]).square().dtype == np.int64   # was int8 via pow
    x = _f64([1.5, -2.0], requires_grad=True)
    assert minnet.gradcheck(lambda t: t.square(), (x,))


def test_einsum_repeated_letter_reads_the_diagonal():
    # PyTorch: einsum("ii->", A) is the trace, "ii->i" the diagonal; minnet refused both
    a = _f64(np.arange(9.0).reshape(3, 3), requires_grad=True)
    assert ops.einsum("ii->", a).item() == 0.0 + 4.0 + 8.0
    assert ops.einsum("ii->i", a).tolist() == [0.0, 4.0, 8.0]
    ops.einsum("ii->i", a).backward(np.array([1.0, 2.0, 3.0]))
    np.testing.assert_array_equal(a.grad.numpy(), np.diag([1.0, 2.0, 3.0]))  # 0 off the diagonal
    rng = np.random.default_rng(0)
    c = _f64(rng.standard_normal((2, 3, 2)), requires_grad=True)
    d = _f64(rng.standard_normal((3, 4)), requires_grad=True)
    assert minnet.gradcheck(lambda c, d: ops.einsum("iji,jk->ik", c, d), (c, d))
    with pytest.raises(ValueError, match=r"einsum\(\): subscripts 'ii' do not fit .* equal sizes"):
        ops.einsum("ii->i", minnet.ones(2, 3))


def test_einsum_implicit_form():
    # without '->' the output has the letters used once, sorted (PyTorch's and NumPy's rule)
    rng = np.random.default_rng(0)
    a = _f64(rng.standard_normal((2, 3)), requires_grad=True)
    b = _f64(rng.standard_normal((3, 4)), requires_grad=True)
    np.testing.assert_allclose(ops.einsum("ij,jk", a, b).numpy(), a.numpy() @ b.numpy())
    np.testing.assert_array_equal(ops.einsum("ji", a).numpy(), a.numpy().T)   # 'ji->ij'
    assert ops.einsum("ii", _f64(np.eye(3) * 2)).item() == 6.0                 # the trace
    assert minnet.gradcheck(lambda a, b: ops.einsum("kj,ji", b.T, a.T), (a, b))
    with pytest.raises(ValueError, match=r"einsum\(\): '\.\.\.' is not supported"):
        ops.einsum("...ij->...ji", a)


# -- found running public PyTorch scripts and torch's module tests (6 Dec) -----------------
def test_numpy_float_scalars_keep_their_dtype():
    assert minnet.tensor(np.float64(1.5)).dtype == np.float64      # torch: float64
    assert minnet.tensor(np.float32(1.5)).dtype == np.float32
    assert minnet.tensor(1.5).dtype == np.float32                  # a Python float: default


def test_variable_returns_a_new_tensor_and_leaves_its_argument_alone():
    t = minnet.tensor([1.0, 2.0])
    v = minnet.autograd.Variable(t, requires_grad=True)
    assert v is not t and v.requires_grad and not t.requires_grad
    assert np.shares_memory(v.numpy(), t.numpy())


def test_type_takes_the_legacy_tensor_types_and_cuda_says_there_is_no_gpu():
    assert minnet.tensor([1.5, 2.5]).type(minnet.LongTensor).tolist() == [1, 2]
    with pytest.raises(RuntimeError, match=r"Tensor.cuda\(\): minnet runs on the CPU only"):
        minnet.tensor([1.0]).cuda()


def test_kl_div_of_a_negative_target_is_nan_and_soft_targets_refuse_ignore_index():
    import warnings
    from minnet.nn import functional as F
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        value = F.kl_div(minnet.tensor([0.1, 0.2]).log(), minnet.tensor([-0.5, 0.5]),
                         reduction="sum")
    assert np.isnan(value.item())
    with pytest.raises(ValueError, match="ignore_index is for class-index targets"):
        F.cross_entropy(minnet.randn(2, 3), minnet.rand(2, 3), ignore_index=1)
