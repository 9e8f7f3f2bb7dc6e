"""Tests for minnet.gradcheck: passing checks, every diagnosis, clear errors, kinks,
sampling, fast mode, Module mode and leaving the caller's objects untouched."""
import numpy as np
import pytest

import minnet
from minnet import Tensor, ops
from minnet.gradcheck import (
    GradcheckError,
    GradcheckWarning,
    check_backward,
    gradcheck,
    numerical_gradient,
    numerical_gradient_array,
    rel_error,
)
from minnet.nn import Module, Parameter


def randn(*shape, seed=0, requires_grad=True):
    return minnet.randn(*shape, seed=seed, dtype=np.float64, requires_grad=requires_grad)


def arrays(*shapes, seed=1):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for shape in shapes]


# --------------------------------------------------------------------------
# Correct ops pass
# --------------------------------------------------------------------------
@pytest.mark.parametrize("fn, shapes", [
    (lambda a, b: a + b, [(3, 1), (1, 5)]),            # broadcasting both ways
    (lambda a, b: a * b, [(7, 5), (5,)]),
    (lambda a, b: a @ b, [(3, 5), (5, 7)]),
    (lambda a: a.exp(), [(3, 5)]),
    (lambda a: (a * a + 1.0).log(), [(5, 3)]),         # log of a positive argument
    (lambda a: a.sum(dim=1), [(3, 7)]),
    (lambda a: a.mean(dim=0, keepdim=True), [(5, 3)]),
    (lambda a: (a * 3.0).sum(), [(2, 3, 5)]),          # scalar output (weight 1)
])
def test_correct_ops_pass(fn, shapes):
    inputs = [randn(*s, seed=i) for i, s in enumerate(shapes)]
    res = gradcheck(fn, inputs)
    assert res, res
    assert "PASSED" in repr(res)
    assert all(c.max_rel_error < 1e-6 for c in res.inputs), res


def test_relu_and_linear_pass_away_from_kinks():
    x = randn(5, 3)
    x.data[np.abs(x.numpy()) < 0.1] = 0.5  # keep every pre-activation away from the kink
    res = gradcheck(lambda x: x.relu(), x)
    assert res, res
    w, b = randn(7, 3, seed=1), randn(7, seed=2)
    res = gradcheck(lambda x, w, b: ops.linear(x, w, b), (x, w, b))
    assert res, res
    assert [c.name for c in res.inputs] == ["x", "w", "b"]


def test_tuple_outputs_and_non_tensor_arguments_pass():
    x = randn(3, 5)
    res = gradcheck(lambda x, scale: (x * scale, x.exp().sum(dim=0)), (x, 2.5))
    assert res, res
    assert len(res.inputs) == 1
    # integer outputs (argmax) have no gradient and are left out of L
    res = gradcheck(lambda x: (x.exp(), x.argmax(dim=1)), x)
    assert res, res


def test_result_keeps_arrays_and_supports_lookup():
    x, y = randn(3, 5), randn(3, 5, seed=1)
    res = gradcheck(lambda x, y: x * y, (x, y))
    check = res.inputs[0]
    assert res["x"] is check and res[1] is res["y"]
    assert check.analytic.shape == check.numeric.shape == check.rel_error.shape == (3, 5)
    # d/dx sum(w * x * y) = w * y: analytic and numeric both hold exactly that pattern
    np.testing.assert_allclose(check.analytic / y.numpy(), res.inputs[1].analytic / x.numpy())
    assert check.checked.all() and not check.mismatch.any()
    with pytest.raises(KeyError):
        res["z"]


# --------------------------------------------------------------------------
# Raw pieces
# --------------------------------------------------------------------------
def test_rel_error_convention():
    # |1 - 3| / (1 + 3) = 0.5; the CS231n notes' |a-b|/max(|a|,|b|) gives 2/3 (< 2x apart)
    assert rel_error(np.array([1.0]), np.array([3.0])) == pytest.approx(0.5)
    assert rel_error(np.zeros(3), np.zeros(3)) == 0.0
    assert rel_error(np.array([1.0, 2.0]), np.array([1.0, -2.0])) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="shapes"):
        rel_error(np.zeros(3), np.zeros(4))


def test_numerical_gradient_matches_hand_derivative_and_restores_x():
    x = np.array([1.0, 2.0, -0.5])
    before = x.copy()
    grad = numerical_gradient(lambda v: np.sum(v ** 3), x)
    np.testing.assert_allclose(grad, [3.0, 12.0, 0.75], rtol=1e-7)  # 3 x^2
    assert np.array_equal(x, before)
    # closure style (CS231n): f ignores its argument and reads the array it perturbs
    W = np.array([[1.0, -2.0]])
    grad_w = numerical_gradient(lambda _: float(np.sum(W * W)), W)
    np.testing.assert_allclose(grad_w, [[2.0, -4.0]], rtol=1e-7)


def test_numerical_gradient_array_matches_hand_derivative():
    x = np.array([[1.0, 2.0], [3.0, 4.0]])
    dout = np.array([[1.0, -1.0], [0.5, 2.0]])
    # f(x) = x^2 elementwise: dL/dx = 2 x * dout
    grad = numerical_gradient_array(lambda v: v * v, x, dout)
    np.testing.assert_allclose(grad, [[2.0, -4.0], [3.0, 16.0]], rtol=1e-7)
    with pytest.raises(GradcheckError, match="dout has shape"):
        numerical_gradient_array(lambda v: v * v, x, np.ones(3))


def test_numerical_gradient_rejects_integer_and_warns_float32():
    with pytest.raises(TypeError, match="dtype int64"):
        numerical_gradient(lambda v: v.sum(), np.arange(3))
    with pytest.warns(GradcheckWarning, match="float64"):
        numerical_gradient(lambda v: float(v.sum()), np.ones(2, dtype=np.float32), eps=1e-2)


# --------------------------------------------------------------------------
# check_backward: correct layers, and each diagnosis with a deliberately wrong backward
# --------------------------------------------------------------------------
def affine_forward(x, w, b):
    return x @ w + b, (x, w)


def affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout, dout.sum(axis=0)


def square_forward(x):
    return x * x, x


def flat(res):
    """The report with line wrapping undone, for phrase searches."""
    return " ".join(str(res).split())


def diagnosis_kind(res, name):
    assert not res, res
    check = res[name]
    assert not check.passed and check.diagnosis is not None, res
    return check.diagnosis.kind


def test_check_backward_passes_correct_affine():
    x, w, b = arrays((5, 3), (3, 7), (7,))
    res = check_backward(affine_forward, affine_backward, x, w, b)
    assert res, res
    assert [c.name for c in res.inputs] == ["x", "w", "b"]


def test_factor_two_and_half():
    (x,) = arrays((5, 3))
    res = check_backward(square_forward, lambda dout, x: 4 * x * dout, x)
    assert diagnosis_kind(res, "x") == "factor"
    assert "factor of 2.0" in flat(res) and "missing 1/2 or an extra 2" in flat(res)
    res = check_backward(square_forward, lambda dout, x: x * dout, x)  # dropped the 2
    assert diagnosis_kind(res, "x") == "factor"
    assert "factor of 0.5" in flat(res)


def test_any_constant_factor():
    (x,) = arrays((5, 3))
    res = check_backward(square_forward, lambda dout, x: 2 * 3.7 * x * dout, x)
    assert diagnosis_kind(res, "x") == "factor"
    assert "3.7 x numeric" in flat(res)


def test_sign_flipped():
    (x,) = arrays((3, 5))
    res = check_backward(square_forward, lambda dout, x: -2 * x * dout, x)
    assert diagnosis_kind(res, "x") == "sign"
    assert "wrong sign" in flat(res)


def mean_loss_forward(x, w):
    """loss = mean over the N=5 samples of x_i . w (a scalar)."""
    return np.mean(x @ w), (x, w)


@pytest.mark.parametrize("scale, words", [(5.0, "5 x the numeric"), (1 / 5, "1/5 of the numeric")])
def test_batch_average_forgotten_or_doubled(scale, words):
    x, w = arrays((5, 3), (3,))

    def backward(dout, cache):
        x, w = cache
        n = x.shape[0]
        return dout * np.tile(w, (n, 1)) / n * scale, dout * x.sum(axis=0) / n * scale

    res = check_backward(mean_loss_forward, backward, x, w)
    assert diagnosis_kind(res, "x") == "batch_factor"
    assert words in flat(res) and "average over the batch twice or forget to" in flat(res)
    assert "axis 0 of x" in flat(res)


def test_transposed_square_and_reshaped():
    x, w, b = arrays((4, 4), (4, 4), (4,))

    def transposed(dout, cache):
        x, w = cache
        return dout @ w.T, dout.T @ x, dout.sum(axis=0)  # dW.T instead of dW

    res = check_backward(affine_forward, transposed, x, w, b)
    assert diagnosis_kind(res, "w") == "transposed"
    assert "analytic.T matches" in flat(res)
    assert res["x"].passed and res["b"].passed

    x, w, b = arrays((5, 3), (3, 7), (7,))

    def reshaped(dout, cache):
        x, w = cache
        return dout @ w.T, (dout.T @ x).reshape(w.shape), dout.sum(axis=0)

    res = check_backward(affine_forward, reshaped, x, w, b)
    assert diagnosis_kind(res, "w") == "transposed"
    assert "reshape" in flat(res)


def test_gradient_of_one_sample_only():
    x, w, b = arrays((5, 3), (3, 7), (7,))

    def one_sample(dout, cache):
        x, w = cache
        return dout @ w.T, x.T @ dout, dout[0]  # forgot the sum over the batch

    res = check_backward(affine_forward, one_sample, x, w, b)
    assert diagnosis_kind(res, "b") == "one_sample"
    assert "one sample only" in flat(res) and "dout.sum(axis=0)" in flat(res)


def column_sum_forward(x):
    """Every row of out is the column sum of x (a sum broadcast back): out = 1 1^T x."""
    return np.broadcast_to(x.sum(axis=0, keepdims=True), x.shape).copy(), x.shape


def test_missing_and_extra_sum_over_axis():
    (x,) = arrays((5, 3))
    res = check_backward(column_sum_forward, lambda dout, shape: dout.copy(), x)
    assert diagnosis_kind(res, "x") == "missing_sum"
    assert "sum over axis 0 is missing" in flat(res)
    identity = (lambda x: (x.copy(), None))
    res = check_backward(identity, lambda dout, _: np.broadcast_to(
        dout.sum(axis=0, keepdims=True), dout.shape).copy(), x)
    assert diagnosis_kind(res, "x") == "extra_sum"


def test_zero_and_spurious_gradients():
    x, w, b = arrays((5, 3), (3, 7), (7,))
    res = check_backward(affine_forward, lambda dout, cache: (
        np.zeros((5, 3)), cache[0].T @ dout, dout.sum(axis=0)), x, w, b)
    assert diagnosis_kind(res, "x") == "zero"
    assert "never computed" in flat(res)

    def ignores_w(x, w):
        return x * 2.0, None

    res = check_backward(ignores_w, lambda dout, _: (2.0 * dout, np.ones((3,))), x, w[:, 0])
    assert diagnosis_kind(res, "w") == "spurious"


def test_partial_zero_from_a_loop_that_stops_early():
    x, w, b = arrays((5, 3), (3, 7), (7,))

    def off_by_one(dout, cache):
        x, w = cache
        dx = np.zeros_like(x)
        for i in range(x.shape[0] - 1):  # bug: the last sample is never written
            dx[i] = dout[i] @ w.T
        return dx, x.T @ dout, dout.sum(axis=0)

    res = check_backward(affine_forward, off_by_one, x, w, b)
    assert diagnosis_kind(res, "x") == "partial_zero"
    assert "index 4 along axis 0" in flat(res)
    assert "dx += ..." in flat(res)


def test_some_entries_wrong_shows_a_window():
    x, w, b = arrays((5, 3), (3, 7), (7,))

    def one_bad_entry(dout, cache):
        dx, dw, db = affine_backward(dout, cache)
        dw = dw.copy()
        dw[1, 4] += 0.5
        return dx, dw, db

    res = check_backward(affine_forward, one_bad_entry, x, w, b)
    assert diagnosis_kind(res, "w") == "some_entries"
    text = str(res)
    assert "1 of 21 disagree" in text and "w[1,4]" in text
    assert "around w[1,4]" in text and "*" in res["w"].diagnosis.detail
    assert res["w"].worst[0].index == (1, 4)


def test_unknown_pattern():
    (x,) = arrays((5, 3))
    noise = np.random.default_rng(7).standard_normal((5, 3))
    res = check_backward(square_forward, lambda dout, x: noise, x)
    assert diagnosis_kind(res, "x") == "unknown"


# --------------------------------------------------------------------------
# check_backward: clear errors instead of wrong verdicts
# --------------------------------------------------------------------------
def test_wrong_number_of_gradients():
    x, w, b = arrays((5, 3), (3, 7), (7,))
    with pytest.raises(GradcheckError, match=r"returned 2 gradient\(s\) but forward takes 3 "
                                             r"input\(s\) \(x, w, b\)"):
        check_backward(affine_forward, lambda dout, c: affine_backward(dout, c)[:2], x, w, b)
    with pytest.raises(GradcheckError, match="returned a single ndarray.*dx, dw, db"):
        check_backward(affine_forward, lambda dout, c: affine_backward(dout, c)[0], x, w, b)
    with pytest.raises(GradcheckError, match="returned None for the gradient of 'b'"):
        check_backward(affine_forward, lambda dout, c: affine_backward(dout, c)[:2] + (None,),
                       x, w, b)


@pytest.mark.parametrize("bad, words", [
    (lambda dx, dw, db: (dx, dw.T, db), ["'w' (input 1)", "(7, 3)", "(3, 7)", "transpose"]),
    (lambda dx, dw, db: (dx, dw, np.tile(db, (5, 1))), ["'b' (input 2)", "(5, 7)",
                                                       "sum over the batch axis"]),
    (lambda dx, dw, db: (dx.reshape(-1), dw, db), ["'x' (input 0)", "(15,)", "reshape"]),
])
def test_wrong_gradient_shape(bad, words):
    x, w, b = arrays((5, 3), (3, 7), (7,))
    with pytest.raises(GradcheckError) as info:
        check_backward(affine_forward, lambda dout, c: bad(*affine_backward(dout, c)), x, w, b)
    for word in words:
        assert word in str(info.value)


def test_forward_must_return_out_and_cache():
    (x,) = arrays((3,))
    with pytest.raises(GradcheckError, match=r"pair \(out, cache\)"):
        check_backward(lambda x: x * 2, lambda dout, c: dout, x)


def softmax_loss_forward(x, y):
    """Mean cross-entropy of scores x (N, C) against integer labels y (N,)."""
    shifted = x - x.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    n = x.shape[0]
    return -log_probs[np.arange(n), y].mean(), (np.exp(log_probs), y)


def softmax_loss_backward(dout, cache):
    probs, y = cache
    dx = probs.copy()
    dx[np.arange(len(y)), y] -= 1
    return dout * dx / len(y)


def test_integer_labels_are_skipped_and_wrt_selects_inputs():
    (x,) = arrays((5, 3))
    y = np.array([0, 2, 1, 1, 0])
    res = check_backward(softmax_loss_forward, softmax_loss_backward, x, y)
    assert res, res
    assert [c.name for c in res.inputs] == ["x"]
    res = check_backward(softmax_loss_forward, lambda d, c: (softmax_loss_backward(d, c), None),
                         x, y, wrt=(0,))
    assert res, res
    with pytest.raises(GradcheckError, match="integer inputs"):
        check_backward(softmax_loss_forward, softmax_loss_backward, x, y, wrt=(0, 1))
    x2, w, b = arrays((5, 3), (3, 7), (7,))
    res = check_backward(affine_forward, lambda dout, c: affine_backward(dout, c)[1:], x2, w, b,
                         wrt=(1, 2))
    assert res, res and [c.name for c in res.inputs] == ["w", "b"]


def test_caller_arrays_untouched_even_if_forward_writes_inputs():
    x = np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)
    before = x.copy()

    def scaling_forward(x):
        x *= 2.0  # a (bad) forward that writes into its input
        return x, None

    with pytest.warns(GradcheckWarning, match="float32"):
        res = check_backward(scaling_forward, lambda dout, _: 2.0 * dout, x)
    assert res, res
    assert any("wrote into its input(s) x in place" in w for w in res.warnings)
    assert x.dtype == np.float32 and np.array_equal(x, before)
    assert res["x"].original_dtype == np.float32


# --------------------------------------------------------------------------
# check_backward with the signatures of real CS231n layers (measured on student
# code, docs/gradcheck.md "Measured on real student code"); minimal re-creations
# --------------------------------------------------------------------------
def normalize_forward(x, gamma, layer_param):
    """A batchnorm-like layer taking a settings dict that it also writes to (running mean)."""
    eps = layer_param.get("eps", 1e-5)
    mean = x.mean(axis=0)
    layer_param["running_mean"] = 0.9 * layer_param.get("running_mean", 0.0) + 0.1 * mean
    centred = x - mean
    scale = 1.0 / np.sqrt((centred ** 2).mean(axis=0) + eps)
    return gamma * centred * scale, (centred, scale, gamma)


def normalize_backward(dout, cache):
    centred, scale, gamma = cache
    xhat = centred * scale
    dxhat = dout * gamma
    dx = scale * (dxhat - dxhat.mean(axis=0) - xhat * (dxhat * xhat).mean(axis=0))
    return dx, (dout * xhat).sum(axis=0)


def test_settings_dicts_are_passed_through_and_left_untouched():
    x, gamma = arrays((6, 4), (4,))
    layer_param = {"mode": "train", "eps": 1e-5}
    res = check_backward(normalize_forward, normalize_backward, x, gamma, layer_param)
    assert res, res
    assert [c.name for c in res.inputs] == ["x", "gamma"]
    assert layer_param == {"mode": "train", "eps": 1e-5}  # the forward wrote into a copy

    def wrong_backward(dout, cache):  # forgets the mean terms of the normalization
        centred, scale, gamma = cache
        return dout * gamma * scale, (dout * centred * scale).sum(axis=0)

    res = check_backward(normalize_forward, wrong_backward, x, gamma, layer_param)
    assert not res and not res["x"].passed and res["gamma"].passed


def linear_loss(W, X, y, reg):
    """A loss-and-gradient function, CS231n's softmax_loss_naive signature: -> (loss, dW)."""
    scores = X @ W
    loss = 0.5 * (scores[np.arange(len(y)), y] ** 2).mean() + reg * (W * W).sum()
    dscores = np.zeros_like(scores)
    dscores[np.arange(len(y)), y] = scores[np.arange(len(y)), y] / len(y)
    return loss, X.T @ dscores + 2 * reg * W


def test_a_loss_returning_its_gradient_with_a_number_setting():
    W, X = arrays((5, 3), (4, 5))
    y = np.array([0, 2, 1, 1])
    # reg=0.1 is a setting (passed through, not checked); X is a float array, so the
    # backward returning dW only must say which input it belongs to, and the error says how
    with pytest.raises(GradcheckError, match=r"wrt=\(0,\)"):
        check_backward(linear_loss, lambda dout, dW: dW, W, X, y, 0.1)
    res = check_backward(linear_loss, lambda dout, dW: dW, W, X, y, 0.1, wrt=0)
    assert res, res
    assert [c.name for c in res.inputs] == ["W"]
    # a float number listed in wrt is checked (as a 0-d array): d loss / d reg is not 0
    res = check_backward(linear_loss, lambda dout, dW: (dW, 0.0), W, X, y, 0.1, wrt=(0, 3))
    assert not res.passed and res["W"].passed and res["reg"].diagnosis.kind == "zero"


def gated_step_forward(x, h, c):
    """Two outputs, CS231n's lstm_step_forward convention: -> (next_h, next_c, cache)."""
    next_c = c * np.tanh(x) + h
    return np.tanh(next_c), next_c, (x, h, c, next_c)


def gated_step_backward(dnext_h, dnext_c, cache):
    x, h, c, next_c = cache
    dc_total = dnext_c + dnext_h * (1 - np.tanh(next_c) ** 2)
    return dc_total * c * (1 - np.tanh(x) ** 2), dc_total, dc_total * np.tanh(x)


def test_forward_with_two_outputs_and_cache():
    x, h, c = arrays((3, 4), (3, 4), (3, 4))
    res = check_backward(gated_step_forward, gated_step_backward, x, h, c)
    assert res, res

    def forgets_dnext_c(dnext_h, dnext_c, cache):  # only the path through next_h
        return gated_step_backward(dnext_h, np.zeros_like(dnext_c), cache)

    res = check_backward(gated_step_forward, forgets_dnext_c, x, h, c)
    assert not res and {c.name for c in res.failed} == {"x", "h", "c"}
    # a one-output layer that returns its cache in two pieces gets told so
    with pytest.raises(GradcheckError, match="read as 2 outputs and a cache"):
        check_backward(lambda x: (2 * x, x, None), lambda dout, cache: 2 * dout, x)


def test_masked_array_output_is_read_with_its_mask():
    """np.ma.masked_less(x, 0) as a ReLU: np.asarray would unmask it (an identity) and a
    correct backward would fail; masked entries count as 0, as NumPy's masked sums do."""
    (x,) = arrays((5, 4))
    relu = lambda x: (np.ma.masked_less(x, 0), x)
    res = check_backward(relu, lambda dout, x: dout * (x > 0), x)
    assert res, res
    assert any("masked array" in w for w in res.warnings)
    dout = np.ones((5, 4))
    with pytest.warns(GradcheckWarning, match="masked array"):
        numeric = numerical_gradient_array(lambda v: relu(v)[0], x.copy(), dout)
    assert rel_error(numeric, 1.0 * (x > 0)) < 1e-8


def test_raw_numerical_gradient_refuses_a_forward_that_writes_into_x():
    """An in-place ReLU (out = x; out[out < 0] = 0) zeroes x's negative entries during the
    nudging: the numeric gradient used to come out wrong without a word."""
    (x,) = arrays((4, 3))
    before = x.copy()

    def in_place_relu(x):
        out = x
        out[out < 0] = 0
        return out

    with pytest.raises(GradcheckError, match="changed x in place.*np.maximum"):
        numerical_gradient_array(in_place_relu, x, np.ones((4, 3)))
    assert np.array_equal(x, before)  # put back as it was
    with pytest.raises(GradcheckError, match="changed x in place"):
        numerical_gradient(lambda v: in_place_relu(v).sum(), x)
    assert np.array_equal(x, before)
    # reading x through a closure and leaving it alone is still fine
    assert rel_error(numerical_gradient(lambda _: float((x ** 2).sum()), x), 2 * x) < 1e-8


def test_keepdims_gradient_shape_gets_a_keepdims_hint():
    x, gamma = arrays((6, 4), (4,))

    def keepdims_dgamma(dout, cache):
        dx, dgamma = normalize_backward(dout, cache)
        return dx, dgamma[None, :]  # what (dout * xhat).sum(axis=0, keepdims=True) gives

    with pytest.raises(GradcheckError, match="keepdims=True"):
        check_backward(normalize_forward, keepdims_dgamma, x, gamma, {"eps": 1e-5})


def test_regularization_in_the_gradient_only_is_named():
    """loss without its reg term, dW with + 2 * reg * W: analytic - numeric = 2 reg W."""
    W, X = arrays((5, 3), (4, 5))
    y = np.array([0, 2, 1, 1])
    reg = 0.25

    def loss_forgetting_reg(W, X, y):
        loss, dW = linear_loss(W, X, y, 0.0)
        return loss, dW + 2 * reg * W

    res = check_backward(loss_forgetting_reg, lambda dout, dW: dW, W, X, y, wrt=0)
    d = res["W"].diagnosis
    assert d.kind == "input_term" and "0.5 x W" in d.message and "regularization" in d.hint
    res = check_backward(lambda W, X, y: (linear_loss(W, X, y, reg)[0], linear_loss(W, X, y, 0.0)[1]),
                         lambda dout, dW: dW, W, X, y, wrt=0)  # the reg term not differentiated
    d = res["W"].diagnosis
    assert d.kind == "input_term" and "-0.5 x W" in d.message and "lacks" in d.message


def test_data_gradient_missing_and_log10_are_named():
    W, X = arrays((5, 3), (4, 5))
    y = np.array([0, 2, 1, 1])
    reg = 0.25
    # the loss has its data part and reg * sum(W^2); the gradient has only 2 * reg * W
    res = check_backward(lambda W, X, y: (linear_loss(W, X, y, reg)[0], 2 * reg * W),
                         lambda dout, dW: dW, W, X, y, wrt=0)
    d = res["W"].diagnosis
    assert d.kind == "input_term" and "only 0.5 x W" in d.message and "data" in d.message

    def log10_loss(W, X, y):  # forward in log10, gradient of the natural log
        scores = X @ W
        p = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
        rows = np.arange(len(y))
        dscores = p.copy()
        dscores[rows, y] -= 1
        return -np.log10(p[rows, y]).mean(), X.T @ dscores / len(y)

    res = check_backward(log10_loss, lambda dout, dW: dW, W, X, y, wrt=0)
    d = res["W"].diagnosis
    assert d.kind == "factor" and "ln(10)" in d.message and "np.log10" in d.hint


def test_a_small_missing_term_passes_with_a_note():
    """A normalization backward that forgot the eps of sqrt(var + eps): within tolerance,
    but far from the ~1e-9 agreement of a correct layer, so the report says so."""
    x, gamma = arrays((6, 4), (4,))  # variances ~1: leaving out eps = 1e-5 changes dx by ~1e-5

    def without_eps(dout, cache):
        centred, scale, gamma = cache
        exact = 1.0 / np.sqrt((centred ** 2).mean(axis=0))
        return normalize_backward(dout, (centred, exact, gamma))

    res = check_backward(normalize_forward, without_eps, x, gamma, {"eps": 1e-5})
    assert res, res
    assert any("x passed, but its gradients agree only to" in w for w in res.warnings)
    correct = check_backward(normalize_forward, normalize_backward, x, gamma, {"eps": 1e-5})
    assert correct and not any("agree only" in w for w in correct.warnings)


def test_a_mean_over_several_axes_is_named_by_their_product():
    """Spatial statistics over H x W: dividing by H * W = 6 in the backward only."""
    (x,) = arrays((2, 3, 3, 2))
    res = check_backward(lambda x: (x.sum(axis=(0, 2, 3)), x.shape),
                         lambda dout, shape: np.broadcast_to(dout[None, :, None, None], shape) / 6,
                         x)
    d = res["x"].diagnosis
    assert d.kind == "batch_factor" and "axes 2..3 of x (3 x 2)" in d.message


def test_overwritten_overlapping_windows_hint_at_accumulating():
    """Max over overlapping windows (stride 1) with dx[...] = instead of +=."""
    (x,) = arrays((1, 6))

    def window_max(x):
        return np.array([[x[0, j:j + 3].max() for j in range(4)]]), x

    def overwrite(dout, x):
        dx = np.zeros_like(x)
        for j in range(4):
            dx[0, j + int(np.argmax(x[0, j:j + 3]))] = dout[0, j]  # should be +=
        return dx

    res = check_backward(window_max, overwrite, np.array([[0.1, 0.9, 0.2, 0.3, 1.5, 0.4]]))
    assert not res and "dx[...] += ..." in res["x"].diagnosis.hint


def test_non_contiguous_inputs_are_checked():
    """x.T is Fortran-ordered: the working copy must still be perturbable entry by entry."""
    x, w, b = arrays((3, 5), (7, 3), (7,))
    res = check_backward(affine_forward, affine_backward, x.T, w.T, b)
    assert res, res


def test_backward_that_ignores_dout():
    """db = np.ones(M) (a constant) and relu's dx = (x > 0) (right for dout = 1 only)."""
    x, w, b = arrays((5, 3), (3, 4), (4,))

    def ones_db(dout, cache):
        dx, dw, _ = affine_backward(dout, cache)
        return dx, dw, np.ones(4)

    res = check_backward(affine_forward, ones_db, x, w, b)
    assert diagnosis_kind(res, "b") == "constant" and res["x"].passed
    assert "dout.sum(axis=0)" in res["b"].diagnosis.hint
    res = check_backward(lambda x: (np.maximum(x, 0), x), lambda dout, x: 1.0 * (x > 0), x)
    assert diagnosis_kind(res, "x") == "ignores_dout"


def test_gradients_returned_in_another_order():
    def swapped(dout, cache):
        dx, dw, db = affine_backward(dout, cache)
        return dw, dx, db

    x, w, b = arrays((4, 4), (4, 4), (4,))  # same shapes: a verdict, naming the swap
    res = check_backward(affine_forward, swapped, x, w, b)
    assert diagnosis_kind(res, "x") == "swapped" and diagnosis_kind(res, "w") == "swapped"
    assert "numeric gradient of w" in res["x"].diagnosis.message
    x, w, b = arrays((5, 3), (3, 4), (4,))  # different shapes: the error says whose shape it is
    with pytest.raises(GradcheckError, match=r"\(3, 4\) is the shape of w: are the gradients "
                                             "returned in another order"):
        check_backward(affine_forward, swapped, x, w, b)


# --------------------------------------------------------------------------
# Custom Tensor ops with a deliberately wrong backward
# --------------------------------------------------------------------------
def square_missing_two(a):
    out = a.numpy() * a.numpy()

    def backward(grad):
        return (grad * a.numpy(),)  # bug: should be 2 * a

    return Tensor._from_op(out, (a,), backward, "square")


def neg_flipped(a):
    def backward(grad):
        return (grad,)  # bug: d(-a)/da = -1

    return Tensor._from_op(-a.numpy(), (a,), backward, "neg")


def matmul_transposed(a, b):
    def backward(grad):
        return grad @ b.numpy().T, (a.numpy().T @ grad).T  # bug: dB transposed

    return Tensor._from_op(a.numpy() @ b.numpy(), (a, b), backward, "matmul")


def add_bias_one_sample(x, bias):
    def backward(grad):
        return grad, grad[-1]  # bug: gradient of the last sample only

    return Tensor._from_op(x.numpy() + bias.numpy(), (x, bias), backward, "add_bias")


def mean_rows_doubled(x):
    n = x.shape[0]

    def backward(grad):
        return (np.broadcast_to(grad / n / n, x.shape),)  # bug: divides by N twice

    return Tensor._from_op(x.numpy().mean(axis=0), (x,), backward, "mean_rows")


@pytest.mark.parametrize("fn, shapes, name, kind", [
    (square_missing_two, [(3, 5)], "a", "factor"),
    (neg_flipped, [(3, 5)], "a", "sign"),
    (matmul_transposed, [(3, 3), (3, 3)], "b", "transposed"),
    (add_bias_one_sample, [(5, 3), (3,)], "bias", "one_sample"),
    (mean_rows_doubled, [(7, 3)], "x", "batch_factor"),
])
def test_custom_op_bugs_are_diagnosed(fn, shapes, name, kind):
    inputs = [randn(*s, seed=i) for i, s in enumerate(shapes)]
    res = gradcheck(fn, inputs)
    assert diagnosis_kind(res, name) == kind


def test_custom_op_returning_wrong_count_or_shape_raises_clearly():
    def forgets_b(a, b):
        return Tensor._from_op(a.numpy() * b.numpy(), (a, b), lambda g: (g * b.numpy(),), "mymul")

    def wrong_shape(a, b):
        return Tensor._from_op(a.numpy() * b.numpy(), (a, b), lambda g: (g * b.numpy(), g * a.numpy()),
                               "mymul")

    x = randn(3, 4)
    with pytest.raises(GradcheckError, match=r"'mymul' returned 1 gradient\(s\) but the op has 2"):
        gradcheck(forgets_b, (x, randn(3, 4, seed=1)))
    with pytest.raises(GradcheckError, match=r"shape \(3, 4\) for its input 1, which has shape "
                                             r"\(4,\)"):
        gradcheck(wrong_shape, (x, randn(4, seed=1)))


def test_cut_graph_is_reported_as_never_computed():
    x = randn(3, 4)
    res = gradcheck(lambda x: Tensor(np.exp(x.numpy())), x)  # NumPy cuts the graph
    assert diagnosis_kind(res, "x") == "zero"
    assert any("does not require grad" in w for w in res.warnings)


# --------------------------------------------------------------------------
# float32, kinks, sampling, fast mode, raise_exception
# --------------------------------------------------------------------------
def test_float32_inputs_warn_and_are_checked_in_float64():
    x = minnet.randn(3, 5, seed=0, requires_grad=True)  # float32 by default
    before = x.numpy().copy()
    with pytest.warns(GradcheckWarning, match="x is float32"):
        res = gradcheck(lambda x: x.exp(), x)
    assert res, res
    assert res["x"].max_rel_error < 1e-6  # float64 precision, not float32's
    assert any("float32" in w for w in res.warnings)
    assert x.dtype == np.float32 and np.array_equal(x.numpy(), before) and x.grad is None


def test_kink_is_detected_reported_and_not_counted_by_default():
    x = randn(3, 4)
    x.data[np.abs(x.numpy()) < 0.1] = 0.5
    x.data[1, 2] = 0.0  # exactly on ReLU's kink
    with pytest.warns(GradcheckWarning, match="kink"):
        res = gradcheck(lambda x: x.relu(), x)
    assert res, res
    check = res["x"]
    assert check.kink[1, 2] and check.n_kinks == 1
    assert check.mismatch[1, 2]  # central difference says w/2, analytic says 0
    assert any("x[1,2] is at a kink (e.g. ReLU/max/abs at 0)" in w for w in res.warnings)
    with pytest.warns(GradcheckWarning):
        strict = gradcheck(lambda x: x.relu(), x, count_kinks=True)
    assert not strict and strict["x"].n_mismatch == 1
    assert strict["x"].diagnosis.kind == "kink"


def test_smooth_zero_gradient_is_not_a_kink():
    x = randn(2, 3)
    x.data[0, 1] = 0.0  # d(x^2)/dx = 0 here, with curvature: one-sided slopes differ, no kink
    res = gradcheck(lambda x: (x * x * 50.0).sum(), x)
    assert res, res
    assert res["x"].n_kinks == 0


def test_sampling_checks_a_subset_and_still_finds_a_planted_bug():
    x = randn(40, 50)
    res = gradcheck(lambda x: x.exp(), x, n_samples=30)
    assert res, res
    check = res["x"]
    assert check.n_checked == 30 and check.checked.sum() == 30
    assert np.isnan(check.numeric[~check.checked]).all()
    res = gradcheck(square_missing_two, x, n_samples=30)
    assert not res and res["a"].n_mismatch == 30
    assert res["a"].diagnosis.kind == "factor"


def test_fast_mode_passes_correct_ops_and_finds_a_planted_bug():
    x, w = randn(6, 5), randn(5, 4, seed=1)
    res = gradcheck(lambda x, w: (x @ w).exp(), (x, w), fast_mode=True)
    assert res, res
    assert res["x"].directional is not None and res["x"].numeric is None
    res = gradcheck(matmul_transposed, (randn(4, 4), randn(4, 4, seed=1)), fast_mode=True)
    assert not res and res["a"].passed and not res["b"].passed
    assert "fast_mode=False" in flat(res)
    res = gradcheck(square_missing_two, randn(4, 4), fast_mode=True)
    assert res["a"].diagnosis.kind == "factor" and "analytic = 0.5 x numeric" in flat(res)


def test_raise_exception_and_nothing_to_check():
    x = randn(3, 3)
    with pytest.raises(GradcheckError, match="gradcheck failed"):
        gradcheck(neg_flipped, x, raise_exception=True)
    with pytest.raises(GradcheckError, match="nothing to check"):
        gradcheck(lambda x: x * 2.0, randn(3, requires_grad=False))
    with pytest.raises(GradcheckError, match="returned ndarray"):
        gradcheck(lambda x: x.numpy() * 2, x)


def test_report_is_a_readable_table():
    res = gradcheck(square_missing_two, randn(3, 5))
    text = repr(res)
    assert text.splitlines()[0].startswith("gradcheck: FAILED")
    assert "max rel error" in text and "worst entries" in text and "likely bug" in text
    assert all(len(line) <= 110 for line in text.splitlines())


# --------------------------------------------------------------------------
# Modules
# --------------------------------------------------------------------------
class TinyLinear(Module):
    def __init__(self, in_features, out_features, seed=0):
        super().__init__()
        rng = np.random.default_rng(seed)
        self.weight = Parameter(rng.standard_normal((out_features, in_features)).astype(np.float32))
        self.bias = Parameter(rng.standard_normal(out_features).astype(np.float32))
        self.register_buffer("calls", Tensor(np.zeros(1)))

    def forward(self, x):
        self.calls.data += 1  # a buffer updated in place by every forward
        return ops.linear(x, self.weight, self.bias).tanh()


class WrongWeightGrad(TinyLinear):
    def forward(self, x):
        w, b = self.weight, self.bias

        def backward(grad):
            return grad @ w.numpy(), 2 * grad.T @ x.numpy(), grad.sum(axis=0)  # bug: 2 x dW

        return Tensor._from_op(x.numpy() @ w.numpy().T + b.numpy(), (x, w, b), backward, "linear")


class TinyDropout(Module):
    def __init__(self, p=0.5, seed=0):
        super().__init__()
        self.p, self.generator = p, np.random.default_rng(seed)

    def forward(self, x):
        if not self.training:
            return x * 1.0
        keep = (self.generator.random(x.shape) >= self.p) / (1 - self.p)
        return x * Tensor(keep)


def test_module_parameters_checked_and_restored():
    model = TinyLinear(3, 5)
    model.bias.grad = Tensor(np.full(5, 7.0, dtype=np.float32))  # a leftover gradient
    weight_array, bias_grad = model.weight.numpy(), model.bias.grad
    before = weight_array.copy()
    calls_before = model.calls.numpy().copy()
    x = randn(4, 3)
    with pytest.warns(GradcheckWarning, match="weight, bias are float32"):
        res = gradcheck(model, x)
    assert res, res
    assert [c.name for c in res.inputs] == ["x", "weight", "bias"]
    assert res["weight"].original_dtype == np.float32
    # the caller's module is as it was: same arrays, dtype, values, grads, buffers
    assert model.weight.numpy() is weight_array and model.weight.dtype == np.float32
    assert np.array_equal(model.weight.numpy(), before)
    assert model.weight.grad is None and model.bias.grad is bias_grad
    assert np.array_equal(model.calls.numpy(), calls_before)
    assert x.grad is None


def test_module_with_wrong_parameter_gradient():
    model = WrongWeightGrad(3, 5).double()
    res = gradcheck(model, randn(4, 3))
    assert not res and res["x"].passed and res["bias"].passed
    assert diagnosis_kind(res, "weight") == "factor"


def test_train_mode_dropout_is_detected():
    model = minnet.nn.Sequential(TinyLinear(3, 5).double(), TinyDropout())
    with pytest.raises(GradcheckError, match=r"not deterministic.*TinyDropout.*model.eval\(\)"):
        gradcheck(model, randn(4, 3))
    res = gradcheck(model.eval(), randn(4, 3))
    assert res, res
    assert model.training is False


# --------------------------------------------------------------------------
# Jupyter: a result displays as HTML (issue 12)
# --------------------------------------------------------------------------
def test_result_has_an_html_view_with_the_verdict_table_and_likely_bug():
    (x,) = arrays((3, 5))
    failed = check_backward(square_forward, lambda dout, x: -2 * x * dout, x)
    page = failed._repr_html_()
    assert "gradcheck: FAILED" in page and "<table" in page and "likely bug" in page
    assert "<code>sign</code>" in page and "worst entries" in page
    assert "<script" not in page
    passed = gradcheck(lambda a: (a * a).sum(), [randn(3)])
    page = passed._repr_html_()
    assert "gradcheck: PASSED" in page and "likely bug" not in page
    # names are escaped: an input called "<b>" does not become markup
    from minnet.gradcheck.result import GradcheckResult, InputCheck
    odd = GradcheckResult(False, [InputCheck("<b>x</b>", (1,), False, 1.0, np.zeros(1))])
    assert "&lt;b&gt;x&lt;/b&gt;" in odd._repr_html_()


@pytest.mark.slow  # starts a Jupyter kernel
def test_result_displays_as_html_in_an_executed_notebook(monkeypatch):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(
        "import numpy as np, minnet\n"
        "from minnet.gradcheck import gradcheck\n"
        "x = minnet.Tensor(np.arange(3.0), requires_grad=True)\n"
        "gradcheck(lambda t: (t * t).sum(), [x])")]
    import os
    from pathlib import Path
    package_parent = str(Path(minnet.__file__).resolve().parents[1])  # the kernel's minnet
    monkeypatch.setenv("PYTHONPATH", package_parent + os.pathsep + os.environ.get("PYTHONPATH", ""))
    try:
        nbclient.NotebookClient(notebook, timeout=240, kernel_name="python3").execute()
    except Exception as error:  # no kernel spec installed, etc.: nothing minnet can fix
        if "NoSuchKernel" in type(error).__name__:
            pytest.skip(f"no Jupyter kernel: {error}")
        raise
    (output,) = [o for o in notebook.cells[0].outputs if o.output_type == "execute_result"]
    assert "gradcheck: PASSED" in output.data["text/html"]
    assert "gradcheck: PASSED" in output.data["text/plain"]


@pytest.mark.filterwarnings("ignore::RuntimeWarning")
def test_a_nan_or_inf_gradient_fails_instead_of_passing():
    """NaN compares False with everything: a NaN backward used to PASS."""
    for bad in (np.nan, np.inf):
        res = check_backward(lambda a: (a * 2, None), lambda d, c: d * bad, np.ones(3))
        assert not res and res["a"].n_mismatch == 3 and "FAILED" in repr(res)
        fast = check_backward(lambda a: (a * 2, None), lambda d, c: d * bad, np.ones(3),
                              fast_mode=True)
        assert not fast
    with pytest.raises(GradcheckError, match="holds NaN or inf"):
        gradcheck(lambda t: t.log().sum(), [Tensor(np.array([-1.0, 2.0]), requires_grad=True)])
