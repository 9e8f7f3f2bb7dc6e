"""Optimizers: update rules against hand-written NumPy arithmetic, groups, state, hooks.

The reference functions below (``*_reference``) are written from the published
update rules in plain float64 NumPy, independently of minnet's code. The
``TORCH_*`` literals were produced once with PyTorch 2.13 (float64) from the
same start point and gradients, and agree with the references.
"""
import numpy as np
import pytest

import minnet
from minnet import optim
from minnet.nn import Parameter
from minnet.tensor import Tensor

W0 = np.array([1.0, -2.0, 0.5])
GRADS = [np.array([0.1, -0.2, 0.3]), np.array([0.4, 0.0, -0.5]), np.array([-0.3, 0.2, 0.1])]

# torch.optim.<X>([w], **same options) from W0 with GRADS, float64, after steps 1, 2, 3
TORCH_SGD_MOMENTUM_DAMPENING_WD = [[0.98, -1.96, 0.465],
                                   [0.9370999999999999, -1.9142, 0.456175],
                                   [0.9088044999999999, -1.8734089999999999, 0.440951625]]
TORCH_SGD_NESTEROV = [[0.981, -1.962, 0.443], [0.8968999999999999, -1.9458, 0.5137],
                      [0.91421, -1.96922, 0.5133300000000001]]
TORCH_ADAM = [[0.900000009999999, -1.9000000049999999, 0.4000000033333332],
              [0.811562363975117, -1.8329941843255586, 0.42935612309812815],
              [0.7938915337896525, -1.8415809552444962, 0.44091700021106006]]
TORCH_ADAM_AMSGRAD_WD = [[0.9000000049999998, -1.9000000025, 0.40000000285714277],
                         [0.8052706811931697, -1.8079725074117132, 0.42429685622303354],
                         [0.7680443617944857, -1.7461621675943664, 0.42448360363583126]]
TORCH_ADAMW = [[0.8500000099999989, -1.8000000049999998, 0.37500000333333317],
               [0.719062363475117, -1.6429941840755584, 0.38560612293146146],
               [0.6654384151158965, -1.569431245790718, 0.37788669389782026]]
TORCH_RMSPROP_CENTERED_MOMENTUM = [
    [0.9666666722222212, -1.9666666694444441, 0.46666666984126953],
    [0.9177305540091607, -1.9340319408323199, 0.4755892980683964],
    [0.9056686847593285, -1.91827208829559, 0.471613926810184]]


# ---------------------------------------------------------------------------
# Independent references (float64 NumPy, textbook form)
# ---------------------------------------------------------------------------
def sgd_reference(w, grads, lr, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False):
    w = np.array(w, dtype=np.float64)
    velocity = None
    history = []
    for g in grads:
        d = g + weight_decay * w
        if momentum:
            velocity = d.copy() if velocity is None else momentum * velocity + (1 - dampening) * d
            d = d + momentum * velocity if nesterov else velocity
        w = w - lr * d
        history.append(w.copy())
    return history


def adam_reference(w, grads, lr, beta1=0.9, beta2=0.999, eps=1e-8, weight_decay=0.0,
                   amsgrad=False, decoupled=False):
    w = np.array(w, dtype=np.float64)
    m = np.zeros_like(w)
    v = np.zeros_like(w)
    v_max = np.zeros_like(w)
    history = []
    for t, g in enumerate(grads, start=1):
        if decoupled:
            w = w * (1 - lr * weight_decay)
        else:
            g = g + weight_decay * w
        m = beta1 * m + (1 - beta1) * g
        v = beta2 * v + (1 - beta2) * g * g
        m_hat = m / (1 - beta1 ** t)
        if amsgrad:
            v_max = np.maximum(v_max, v)
            v_hat = v_max / (1 - beta2 ** t)
        else:
            v_hat = v / (1 - beta2 ** t)
        w = w - lr * m_hat / (np.sqrt(v_hat) + eps)
        history.append(w.copy())
    return history


def rmsprop_reference(w, grads, lr, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                      centered=False):
    w = np.array(w, dtype=np.float64)
    mean_square = np.zeros_like(w)
    mean_grad = np.zeros_like(w)
    velocity = np.zeros_like(w)
    history = []
    for g in grads:
        g = g + weight_decay * w
        mean_square = alpha * mean_square + (1 - alpha) * g * g
        if centered:
            mean_grad = alpha * mean_grad + (1 - alpha) * g
            scale = np.sqrt(mean_square - mean_grad ** 2) + eps
        else:
            scale = np.sqrt(mean_square) + eps
        if momentum > 0:
            velocity = momentum * velocity + g / scale
            w = w - lr * velocity
        else:
            w = w - lr * g / scale
        history.append(w.copy())
    return history


def run_minnet(make_optimizer, grads, w0=W0, dtype=np.float64):
    """Steps a minnet optimizer over one parameter with the given gradients."""
    param = Parameter(np.array(w0, dtype=dtype))
    optimizer = make_optimizer([param])
    history = []
    for g in grads:
        param.grad = minnet.tensor(np.array(g, dtype=dtype))
        optimizer.step()
        history.append(param.numpy().copy())
    return history, param, optimizer


def many_grads(n=5, shape=(3, 5), seed=3):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(shape) for _ in range(n)], rng.standard_normal(shape)


# ---------------------------------------------------------------------------
# Update rules
# ---------------------------------------------------------------------------
SGD_CASES = [dict(lr=0.1), dict(lr=0.1, momentum=0.9), dict(lr=0.05, momentum=0.9, dampening=0.5),
             dict(lr=0.1, momentum=0.9, weight_decay=0.01),
             dict(lr=0.1, momentum=0.8, nesterov=True, weight_decay=0.1)]


@pytest.mark.parametrize("options", SGD_CASES)
def test_sgd_matches_reference(options):
    grads, w0 = many_grads()
    got, _, _ = run_minnet(lambda p: optim.SGD(p, **options), grads, w0)
    expected = sgd_reference(w0, grads, **options)
    for step, (a, b) in enumerate(zip(got, expected)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, err_msg=f"step {step + 1}")


def test_sgd_first_momentum_step_has_no_dampening():
    # buf = grad on step 1 even with dampening 0.5: w = 1 - 0.1 * 2
    got, _, _ = run_minnet(lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.5),
                           [np.array([2.0])], w0=[1.0])
    assert got[0][0] == pytest.approx(0.8)
    # step 2 with grad 2 again: buf = 0.9*2 + 0.5*2 = 2.8, w = 0.8 - 0.28
    got, _, _ = run_minnet(lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.5),
                           [np.array([2.0])] * 2, w0=[1.0])
    assert got[1][0] == pytest.approx(0.52)


def test_sgd_against_torch_literals():
    got, _, _ = run_minnet(lambda p: optim.SGD(p, lr=0.1, momentum=0.9, dampening=0.5,
                                               weight_decay=0.1), GRADS)
    np.testing.assert_allclose(got, TORCH_SGD_MOMENTUM_DAMPENING_WD, rtol=1e-14)
    np.testing.assert_allclose(got, sgd_reference(W0, GRADS, 0.1, 0.9, 0.5, 0.1), rtol=1e-14)
    got, _, _ = run_minnet(lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True), GRADS)
    np.testing.assert_allclose(got, TORCH_SGD_NESTEROV, rtol=1e-14)


ADAM_CASES = [dict(lr=0.01), dict(lr=0.1, betas=(0.8, 0.9)), dict(lr=0.01, amsgrad=True),
              dict(lr=0.01, weight_decay=0.1), dict(lr=0.05, betas=(0.3, 0.6), eps=1e-3)]


@pytest.mark.parametrize("options", ADAM_CASES)
def test_adam_matches_reference(options):
    grads, w0 = many_grads()
    got, _, _ = run_minnet(lambda p: optim.Adam(p, **options), grads, w0)
    ref_options = dict(options)
    if "betas" in ref_options:
        ref_options["beta1"], ref_options["beta2"] = ref_options.pop("betas")
    expected = adam_reference(w0, grads, **ref_options)
    for step, (a, b) in enumerate(zip(got, expected)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, err_msg=f"step {step + 1}")


def test_adam_bias_correction_steps_1_to_3_by_hand():
    """One scalar weight, gradient 1, 2, 3: the bias-corrected moments written out."""
    lr, b1, b2, eps = 0.1, 0.9, 0.999, 1e-8
    got, param, opt = run_minnet(lambda p: optim.Adam(p, lr=lr), [[1.0], [2.0], [3.0]], w0=[0.0])
    # t=1: m=0.1, v=0.001, m_hat=1, v_hat=1 -> step = lr * 1/(1+eps)
    w1 = -lr * 1.0 / (1.0 + eps)
    # t=2: m=0.09+0.2=0.29, v=0.000999+0.004=0.004999
    m2, v2 = 0.29, 0.004999
    w2 = w1 - lr * (m2 / (1 - b1 ** 2)) / (np.sqrt(v2 / (1 - b2 ** 2)) + eps)
    # t=3: m=0.261+0.3=0.561, v=0.004994001+0.009=0.013994001
    m3, v3 = 0.561, 0.013994001
    w3 = w2 - lr * (m3 / (1 - b1 ** 3)) / (np.sqrt(v3 / (1 - b2 ** 3)) + eps)
    np.testing.assert_allclose([g[0] for g in got], [w1, w2, w3], rtol=1e-12)
    state = opt.state[param]
    assert state["step"] == 3
    np.testing.assert_allclose(state["exp_avg"].numpy(), [m3], rtol=1e-12)
    np.testing.assert_allclose(state["exp_avg_sq"].numpy(), [v3], rtol=1e-12)


def test_adam_first_step_is_about_lr_times_sign():
    grads, w0 = many_grads(n=1)
    got, _, _ = run_minnet(lambda p: optim.Adam(p, lr=0.01), grads, w0)
    np.testing.assert_allclose(got[0] - w0, -0.01 * np.sign(grads[0]), rtol=1e-5)


def test_adam_amsgrad_keeps_the_max_second_moment():
    # a large gradient, then small ones: amsgrad keeps dividing by the large v
    grads = [np.array([10.0]), np.array([0.1]), np.array([0.1]), np.array([0.1])]
    plain, _, _ = run_minnet(lambda p: optim.Adam(p, lr=0.1, betas=(0.5, 0.5)), grads, w0=[0.0])
    ams, param, opt = run_minnet(lambda p: optim.Adam(p, lr=0.1, betas=(0.5, 0.5), amsgrad=True),
                                 grads, w0=[0.0])
    np.testing.assert_allclose(ams, adam_reference([0.0], grads, 0.1, 0.5, 0.5, amsgrad=True),
                               rtol=1e-12)
    assert not np.allclose(plain, ams)
    assert opt.state[param]["max_exp_avg_sq"].numpy()[0] == pytest.approx(50.0)  # 0.5 * 10^2


def test_adam_against_torch_literals():
    got, _, _ = run_minnet(lambda p: optim.Adam(p, lr=0.1), GRADS)
    np.testing.assert_allclose(got, TORCH_ADAM, rtol=1e-13)
    got, _, _ = run_minnet(lambda p: optim.Adam(p, lr=0.1, betas=(0.8, 0.9), weight_decay=0.1,
                                                amsgrad=True), GRADS)
    np.testing.assert_allclose(got, TORCH_ADAM_AMSGRAD_WD, rtol=1e-13)
    np.testing.assert_allclose(got, adam_reference(W0, GRADS, 0.1, 0.8, 0.9, weight_decay=0.1,
                                                   amsgrad=True), rtol=1e-13)


def test_adamw_decoupled_weight_decay():
    got, _, _ = run_minnet(lambda p: optim.AdamW(p, lr=0.1, weight_decay=0.5), GRADS)
    np.testing.assert_allclose(got, TORCH_ADAMW, rtol=1e-13)
    np.testing.assert_allclose(got, adam_reference(W0, GRADS, 0.1, weight_decay=0.5,
                                                   decoupled=True), rtol=1e-13)
    coupled, _, _ = run_minnet(lambda p: optim.Adam(p, lr=0.1, weight_decay=0.5), GRADS)
    assert not np.allclose(got, coupled)


def test_adamw_with_zero_gradient_only_shrinks_the_weights():
    zeros = [np.zeros(3)] * 4
    got, _, opt = run_minnet(lambda p: optim.AdamW(p, lr=0.1), zeros)
    assert opt.defaults["weight_decay"] == 1e-2  # PyTorch's AdamW default
    for step, w in enumerate(got, start=1):
        np.testing.assert_allclose(w, W0 * (1 - 0.1 * 0.01) ** step, rtol=1e-14)


RMSPROP_CASES = [dict(lr=0.01), dict(lr=0.01, centered=True), dict(lr=0.01, momentum=0.9),
                 dict(lr=0.01, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.1),
                 dict(lr=0.1, eps=1e-2)]


@pytest.mark.parametrize("options", RMSPROP_CASES)
def test_rmsprop_matches_reference(options):
    grads, w0 = many_grads()
    got, _, _ = run_minnet(lambda p: optim.RMSprop(p, **options), grads, w0)
    expected = rmsprop_reference(w0, grads, **options)
    for step, (a, b) in enumerate(zip(got, expected)):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-14, err_msg=f"step {step + 1}")


def test_rmsprop_against_torch_literals():
    options = dict(lr=0.01, alpha=0.9, momentum=0.5, centered=True, weight_decay=0.1)
    got, param, opt = run_minnet(lambda p: optim.RMSprop(p, **options), GRADS)
    np.testing.assert_allclose(got, TORCH_RMSPROP_CENTERED_MOMENTUM, rtol=1e-13)
    assert set(opt.state[param]) == {"step", "square_avg", "momentum_buffer", "grad_avg"}


@pytest.mark.parametrize("make", [
    lambda p: optim.SGD(p, lr=0.1, momentum=0.9, maximize=True),
    lambda p: optim.Adam(p, lr=0.1, maximize=True),
    lambda p: optim.RMSprop(p, lr=0.1, maximize=True)])
def test_maximize_equals_minimizing_the_negated_gradient(make):
    up, _, _ = run_minnet(make, GRADS)
    down, _, _ = run_minnet(lambda p: _without_maximize(make(p)), [-g for g in GRADS])
    np.testing.assert_allclose(up, down, rtol=1e-14)


def _without_maximize(optimizer):
    for group in optimizer.param_groups:
        group["maximize"] = False
    return optimizer


def test_defaults_are_pytorchs():
    p = [Parameter(np.zeros(2))]
    assert optim.SGD(p).defaults == dict(lr=1e-3, momentum=0, dampening=0, weight_decay=0,
                                         nesterov=False, maximize=False)
    adam = optim.Adam(p).defaults
    assert (adam["lr"], adam["betas"], adam["eps"], adam["weight_decay"], adam["amsgrad"]) == \
        (1e-3, (0.9, 0.999), 1e-8, 0, False)
    rms = optim.RMSprop(p).defaults
    assert (rms["lr"], rms["alpha"], rms["eps"], rms["weight_decay"], rms["momentum"],
            rms["centered"]) == (1e-2, 0.99, 1e-8, 0, 0, False)


# ---------------------------------------------------------------------------
# dtype, skipping, in-place updates, real gradients
# ---------------------------------------------------------------------------
@pytest.mark.parametrize("make", [
    lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.1),
    lambda p: optim.Adam(p, lr=0.1, amsgrad=True, weight_decay=0.1),
    lambda p: optim.AdamW(p, lr=0.1),
    lambda p: optim.RMSprop(p, lr=0.1, centered=True, momentum=0.9, weight_decay=0.1)])
def test_float32_stays_float32_and_close_to_float64(make):
    grads, w0 = many_grads()
    got32, param, opt = run_minnet(make, grads, w0, dtype=np.float32)
    got64, _, _ = run_minnet(make, grads, w0, dtype=np.float64)
    assert all(w.dtype == np.float32 for w in got32)
    assert param.numpy().dtype == np.float32
    for value in opt.state[param].values():
        if isinstance(value, Tensor):
            assert value.dtype == np.float32
    np.testing.assert_allclose(got32[-1], got64[-1], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("no_jit", ["0", "1"])
def test_sgd_float32_rounds_as_numpy_one_ulp_from_pytorch(monkeypatch, no_jit):
    """p - lr*g rounds the product, then the difference, as NumPy's float32 arithmetic does
    (on the fast path too). PyTorch's CPU kernels round a multiply-add once where the CPU
    has FMA: here one unit in the last place apart.

    torch_result was produced by torch 2.13: w.add_(g, alpha=-0.1) in float32.
    """
    monkeypatch.setenv("MINNET_NO_JIT", no_jit)
    w0 = np.array([1.6347830295562744], dtype=np.float32)
    g = np.array([0.6419163942337036], dtype=np.float32)
    torch_result = np.float32(1.5705913305282593)
    rounded_twice = w0[0] - np.float32(0.1) * g[0]
    got, _, _ = run_minnet(lambda p: optim.SGD(p, lr=0.1), [g], w0, dtype=np.float32)
    assert got[0][0] == rounded_twice
    assert abs(got[0][0] - torch_result) == np.spacing(torch_result)


def test_parameters_without_grad_are_skipped():
    a, b = Parameter(np.ones(2)), Parameter(np.ones(2))
    for make in (lambda: optim.SGD([a, b], lr=0.1, momentum=0.9), lambda: optim.Adam([a, b]),
                 lambda: optim.RMSprop([a, b], centered=True)):
        opt = make()
        a.grad, b.grad = minnet.tensor(np.ones(2, dtype=np.float64)), None
        before = a.numpy().copy()
        opt.step()
        assert np.all(a.numpy() != before)
        np.testing.assert_array_equal(b.numpy(), np.ones(2))
        assert b not in opt.state or not opt.state[b]
        a.data[...] = 1.0


def test_updates_are_in_place_and_outside_the_graph():
    param = Parameter(np.array([1.0, 2.0]))
    array_before = param.numpy()
    opt = optim.SGD([param], lr=0.5)
    loss = (param * param).sum()
    loss.backward()
    opt.step()
    assert param.numpy() is array_before  # same array: views and references stay valid
    np.testing.assert_allclose(param.numpy(), [0.0, 0.0])
    assert param.is_leaf and param.grad_fn is None


def test_training_a_quadratic_with_backward():
    target = minnet.tensor(np.array([3.0, -1.0, 2.0]))
    for make, steps in ((lambda p: optim.SGD(p, lr=0.1, momentum=0.9), 200),
                        (lambda p: optim.Adam(p, lr=0.1), 500),
                        (lambda p: optim.RMSprop(p, lr=0.01), 500)):
        param = Parameter(np.zeros(3))
        opt = make([param])
        for _ in range(steps):
            opt.zero_grad()
            diff = param - target
            (diff * diff).sum().backward()
            opt.step()
        np.testing.assert_allclose(param.numpy(), target.numpy(), atol=2e-2)


def test_step_closure_is_evaluated_with_grad_enabled():
    param = Parameter(np.array([2.0]))
    opt = optim.SGD([param], lr=0.25)
    seen = []

    def closure():
        seen.append(minnet.is_grad_enabled())
        opt.zero_grad()
        loss = (param * param).sum()
        loss.backward()
        return loss

    loss = opt.step(closure)
    assert seen == [True]
    assert loss.item() == 4.0
    np.testing.assert_allclose(param.numpy(), [1.0])  # 2 - 0.25 * 4


def test_step_runs_without_grad_recording_even_in_a_user_subclass():
    class Halve(optim.Optimizer):
        def __init__(self, params):
            super().__init__(params, {})

        def step(self, closure=None):
            self.grad_mode_inside = minnet.is_grad_enabled()
            for group in self.param_groups:
                for p in group["params"]:
                    p.data[...] = p.numpy() / 2

    param = Parameter(np.array([4.0]))
    opt = Halve([param])
    calls = []
    opt.register_step_post_hook(lambda o, a, k: calls.append("post"))
    opt.step()
    assert opt.grad_mode_inside is False and minnet.is_grad_enabled()
    assert calls == ["post"] and param.numpy()[0] == 2.0


def test_zero_grad():
    param = Parameter(np.array([1.0, 2.0]))
    opt = optim.SGD([param], lr=0.1)
    (param * param).sum().backward()
    grad_tensor = param.grad
    opt.zero_grad(set_to_none=False)
    assert param.grad is grad_tensor
    np.testing.assert_array_equal(param.grad.numpy(), [0.0, 0.0])
    opt.zero_grad()
    assert param.grad is None


# ---------------------------------------------------------------------------
# Parameter groups
# ---------------------------------------------------------------------------
def test_param_groups_have_their_own_options():
    a, b = Parameter(np.array([1.0])), Parameter(np.array([1.0]))
    opt = optim.SGD([{"params": [a]}, {"params": b, "lr": 0.5, "momentum": 0.9}], lr=0.1)
    assert len(opt.param_groups) == 2
    assert opt.param_groups[0]["lr"] == 0.1 and opt.param_groups[0]["momentum"] == 0
    assert opt.param_groups[1]["lr"] == 0.5 and opt.param_groups[1]["params"] == [b]
    a.grad = minnet.tensor(np.array([1.0]))
    b.grad = minnet.tensor(np.array([1.0]))
    opt.step()
    assert a.numpy()[0] == pytest.approx(0.9) and b.numpy()[0] == pytest.approx(0.5)


def test_add_param_group_and_named_parameters():
    a, b = Parameter(np.array([1.0])), Parameter(np.array([2.0]))
    opt = optim.Adam([a], lr=0.01)
    opt.add_param_group({"params": [b], "lr": 0.1})
    assert opt.param_groups[1]["betas"] == (0.9, 0.999) and opt.param_groups[1]["lr"] == 0.1
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [a]})
    named = optim.SGD([("w", a), ("b", b)], lr=0.1)
    assert named.param_groups[0]["param_names"] == ["w", "b"]
    assert named.param_groups[0]["params"] == [a, b]


def test_constructor_errors():
    param = Parameter(np.zeros(2))
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.SGD([param], lr=-0.1)
    with pytest.raises(ValueError, match="Nesterov momentum requires a momentum"):
        optim.SGD([param], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="Nesterov"):
        optim.SGD([param], lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)
    with pytest.raises(ValueError, match="beta parameter at index 1"):
        optim.Adam([param], betas=(0.9, 1.0))
    with pytest.raises(ValueError, match="epsilon"):
        optim.RMSprop([param], eps=-1)
    with pytest.raises(ValueError, match="momentum"):
        optim.SGD([param], momentum=-0.5)
    with pytest.raises(ValueError, match="weight_decay"):
        optim.AdamW([param], weight_decay=-1)
    with pytest.raises(TypeError, match="single Parameter|single Tensor"):
        optim.SGD(param, lr=0.1)
    with pytest.raises(TypeError, match="sets"):
        optim.SGD([{"params": {param}}])
    with pytest.raises(TypeError, match="can only optimize Tensors"):
        optim.SGD([np.zeros(2)])
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([param * 2])
    with pytest.raises(ValueError, match="Invalid learning rate"):
        optim.SGD([{"params": [param], "lr": -1.0}])


def test_consumed_generator_gives_a_helpful_error():
    model = minnet.nn.Linear(3, 2)
    params = model.parameters()
    optim.SGD(params, lr=0.1)
    with pytest.raises(ValueError, match="empty parameter list.*generator"):
        optim.SGD(params, lr=0.1)


def test_repr_lists_groups():
    opt = optim.SGD([Parameter(np.zeros(1))], lr=0.1, momentum=0.9)
    text = repr(opt)
    assert text.startswith("SGD (") and "Parameter Group 0" in text and "momentum: 0.9" in text


# ---------------------------------------------------------------------------
# Hooks
# ---------------------------------------------------------------------------
def test_step_hooks_fire_in_order_and_can_be_removed():
    param = Parameter(np.array([1.0]))
    opt = optim.Adam([param], lr=0.1)
    events = []

    def pre(o, args, kwargs):
        events.append(("pre", o is opt, param.numpy()[0]))

    def post(o, args, kwargs):
        events.append(("post", o is opt, param.numpy()[0]))

    pre_handle = opt.register_step_pre_hook(pre)
    post_handle = opt.register_step_post_hook(post)
    param.grad = minnet.tensor(np.array([1.0]))
    opt.step()
    assert [e[:2] for e in events] == [("pre", True), ("post", True)]
    assert events[0][2] == 1.0 and events[1][2] == pytest.approx(0.9)
    pre_handle.remove()
    post_handle.remove()
    opt.step()
    assert len(events) == 2


def test_hooks_measure_update_ratio_like_the_debugger_will():
    param = Parameter(np.full(4, 2.0))
    opt = optim.SGD([param], lr=0.01)
    snapshot, ratios = {}, []
    opt.register_step_pre_hook(lambda o, a, k: snapshot.update(w=param.numpy().copy()))
    opt.register_step_post_hook(lambda o, a, k: ratios.append(
        np.linalg.norm(param.numpy() - snapshot["w"]) / np.linalg.norm(snapshot["w"])))
    param.grad = minnet.tensor(np.ones(4))
    opt.step()
    assert ratios == [pytest.approx(0.01 / 2.0)]


def test_pre_hook_can_replace_arguments_and_hooks_fire_once_for_super_step():
    class LoggedSGD(optim.SGD):
        def step(self, closure=None):
            return super().step(closure)

    param = Parameter(np.array([1.0]))
    opt = LoggedSGD([param], lr=0.5)
    calls = []
    opt.register_step_post_hook(lambda o, a, k: calls.append(k))

    def closure():
        opt.zero_grad()
        loss = (param * param).sum()
        loss.backward()
        return loss

    opt.register_step_pre_hook(lambda o, args, kwargs: ((), {"closure": closure}))
    loss = opt.step()
    assert loss is not None and loss.item() == 1.0
    assert param.numpy()[0] == 0.0  # 1 - 0.5 * 2
    assert calls == [{"closure": closure}]  # once, although two step() methods ran


# ---------------------------------------------------------------------------
# state_dict
# ---------------------------------------------------------------------------
def test_state_dict_layout_matches_pytorch():
    a, b, c = (Parameter(np.ones(2)) for _ in range(3))
    opt = optim.Adam([{"params": [a, b]}, {"params": [c], "lr": 0.1}])
    for p in (a, c):
        p.grad = minnet.tensor(np.ones(2, dtype=np.float64))
    opt.step()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sd["param_groups"][1]["lr"] == 0.1
    assert set(sd["state"]) == {0, 2}  # b had no gradient: no state
    assert set(sd["state"][0]) == {"step", "exp_avg", "exp_avg_sq"}
    assert sd["state"][0]["step"] == 1
    # a snapshot: later steps do not change it
    saved = sd["state"][0]["exp_avg"].numpy().copy()
    opt.step()
    np.testing.assert_array_equal(sd["state"][0]["exp_avg"].numpy(), saved)


@pytest.mark.parametrize("make", [
    lambda p: optim.SGD(p, lr=0.1, momentum=0.9, nesterov=True),
    lambda p: optim.Adam(p, lr=0.05, amsgrad=True),
    lambda p: optim.AdamW(p, lr=0.05, weight_decay=0.1),
    lambda p: optim.RMSprop(p, lr=0.01, momentum=0.9, centered=True)])
def test_state_dict_round_trip_resumes_identically(make):
    grads, w0 = many_grads(n=6)
    # uninterrupted run
    full, _, _ = run_minnet(make, grads, w0, dtype=np.float32)
    # 3 steps, save, then a new parameter + optimizer loads and does the rest
    first, param, opt = run_minnet(make, grads[:3], w0, dtype=np.float32)
    saved = opt.state_dict()
    opt.step()  # the original keeps going: must not affect the saved dict
    resumed_param = Parameter(first[-1].copy())
    resumed = make([resumed_param])
    resumed.load_state_dict(saved)
    for g in grads[3:]:
        resumed_param.grad = minnet.tensor(g.astype(np.float32))
        resumed.step()
    np.testing.assert_array_equal(resumed_param.numpy(), full[-1])


def test_load_state_dict_casts_and_validates():
    p64 = Parameter(np.ones(3))
    opt64 = optim.Adam([p64], lr=0.1)
    p64.grad = minnet.tensor(np.ones(3, dtype=np.float64))
    opt64.step()
    p32 = Parameter(np.ones(3, dtype=np.float32))
    opt32 = optim.Adam([p32], lr=0.5)
    opt32.load_state_dict(opt64.state_dict())
    assert opt32.state[p32]["exp_avg"].dtype == np.float32
    assert opt32.param_groups[0]["lr"] == 0.1 and opt32.param_groups[0]["params"] == [p32]
    two_groups = optim.Adam([{"params": [Parameter(np.ones(3))]},
                             {"params": [Parameter(np.ones(3))]}])
    with pytest.raises(ValueError, match="different number of parameter groups"):
        two_groups.load_state_dict(opt64.state_dict())
    bigger = optim.Adam([Parameter(np.ones(3)), Parameter(np.ones(3))])
    with pytest.raises(ValueError, match="doesn't match the size"):
        bigger.load_state_dict(opt64.state_dict())
    wrong_shape = optim.Adam([Parameter(np.ones(4))])
    with pytest.raises(ValueError, match="shape"):
        wrong_shape.load_state_dict(opt64.state_dict())


# ---------------------------------------------------------------------------
# Adagrad: reference, float32, state_dict round trip (also through minnet.save), errors
# ---------------------------------------------------------------------------
def adagrad_reference(w0, grads, lr=0.01, lr_decay=0.0, weight_decay=0.0,
                      initial_accumulator_value=0.0, eps=1e-10, maximize=False):
    """Duchi et al.'s rule with PyTorch's options, float64, one step per gradient."""
    w = np.array(w0, dtype=np.float64)
    total = np.full_like(w, initial_accumulator_value)
    history = []
    for step, g in enumerate(grads, start=1):
        g = -np.asarray(g) if maximize else np.asarray(g)
        g = g + weight_decay * w
        total = total + g ** 2
        w = w - lr / (1 + (step - 1) * lr_decay) * g / (np.sqrt(total) + eps)
        history.append(w.copy())
    return history


ADAGRAD_CASES = [dict(lr=0.1), dict(lr=0.1, lr_decay=0.5, initial_accumulator_value=0.2),
                 dict(lr=0.05, weight_decay=0.1, eps=1e-3, maximize=True)]


@pytest.mark.parametrize("options", ADAGRAD_CASES)
def test_adagrad_matches_reference_in_float64_and_float32(options):
    grads, w0 = many_grads(n=5)
    expected = adagrad_reference(w0, grads, **options)
    history, _, _ = run_minnet(lambda p: optim.Adagrad(p, **options), grads, w0)
    np.testing.assert_allclose(history, expected, rtol=1e-13, atol=1e-15)
    history32, param32, opt32 = run_minnet(lambda p: optim.Adagrad(p, **options), grads, w0,
                                           dtype=np.float32)
    assert param32.dtype == np.float32 and opt32.state[param32]["sum"].dtype == np.float32
    np.testing.assert_allclose(history32, expected, rtol=1e-5, atol=1e-6)


def test_adagrad_state_dict_round_trip_resumes_identically(tmp_path):
    make = lambda p: optim.Adagrad(p, lr=0.1, lr_decay=0.1,  # noqa: E731
                                   initial_accumulator_value=0.5)
    grads, w0 = many_grads(n=6)
    full, _, _ = run_minnet(make, grads, w0, dtype=np.float32)
    first, param, opt = run_minnet(make, grads[:3], w0, dtype=np.float32)
    saved = opt.state_dict()
    assert list(saved["state"][0]) == ["step", "sum"] and saved["state"][0]["step"] == 3
    sum_at_save = saved["state"][0]["sum"].numpy().copy()
    param.grad = minnet.tensor(grads[3].astype(np.float32))
    opt.step()  # the original keeps going: must not change the saved dict
    np.testing.assert_array_equal(saved["state"][0]["sum"].numpy(), sum_at_save)
    minnet.save(saved, tmp_path / "adagrad.mn")
    resumed_param = Parameter(first[-1].copy())
    resumed = make([resumed_param])
    resumed.load_state_dict(minnet.load(tmp_path / "adagrad.mn"))
    for g in grads[3:]:
        resumed_param.grad = minnet.tensor(g.astype(np.float32))
        resumed.step()
    np.testing.assert_array_equal(resumed_param.numpy(), full[-1])


def test_adagrad_constructor_errors():
    param = Parameter(np.ones(2))
    for option in ("lr", "lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
        with pytest.raises(ValueError, match=r"Adagrad: Invalid .*: -1 \(must be >= 0.0\)"):
            optim.Adagrad([param], **{option: -1})
    with pytest.raises(TypeError, match=r"Adagrad: learning rate must be a number, got NoneType"):
        optim.Adagrad([param], lr=None)


@pytest.mark.parametrize("name, flags", [
    ("SGD", dict(foreach=True, fused=True, differentiable=False)),
    ("Adam", dict(foreach=False, fused=True, capturable=False, differentiable=False)),
    ("AdamW", dict(foreach=True, fused=None, capturable=False)),
    ("RMSprop", dict(foreach=True, capturable=False, differentiable=False)),
    ("Adagrad", dict(foreach=None, fused=True, differentiable=False)),
    ("Adadelta", dict(foreach=True, capturable=False, differentiable=False)),
])
def test_pytorchs_implementation_flags_are_accepted_and_change_no_number(name, flags):
    """foreach/fused pick how PyTorch runs the same rule; minnet has one implementation."""
    runs = []
    for extra in ({}, flags):
        w = Parameter(W0.copy())
        opt = getattr(optim, name)([w], lr=0.1, **extra)
        for g in GRADS:
            w.grad = minnet.tensor(g)
            opt.step()
        runs.append(w.numpy())
        assert not set(flags) & set(opt.param_groups[0])  # nothing stored that does nothing
    np.testing.assert_array_equal(runs[0], runs[1])


@pytest.mark.parametrize("name, option", [("Adam", "capturable"), ("SGD", "differentiable"),
                                          ("RMSprop", "differentiable"),
                                          ("Adadelta", "capturable")])
def test_capturable_and_differentiable_true_are_refused_by_name(name, option):
    with pytest.raises(NotImplementedError, match=f"{name}: {option}=True .* not supported"):
        getattr(optim, name)([Parameter(W0.copy())], **{option: True})
    with pytest.raises(TypeError, match="foreach must be None, True or False"):
        getattr(optim, name)([Parameter(W0.copy())], foreach="yes")


def test_a_tensor_lr_must_have_one_element():
    w = Parameter(W0.copy())
    with pytest.raises(ValueError, match="SGD: Tensor learning rate must be 1-element, got "
                                         "shape \\(2,\\)"):
        optim.SGD([w], lr=minnet.tensor([0.1, 0.1]))
    opt = optim.SGD([w], lr=minnet.tensor(0.5))  # one element: as PyTorch, a 0-d tensor works
    w.grad = minnet.tensor(GRADS[0])
    opt.step()
    np.testing.assert_allclose(w.numpy(), W0 - 0.5 * GRADS[0], rtol=1e-15)


# torch.optim 2.13, float64 (torch.set_default_dtype(torch.float64): NAdam's mu_product is
# then a float64 as minnet's), from W0 with GRADS; steps 1, 2, 3
TORCH_MORE = {
    ("Adamax", (("lr", 0.1), ("weight_decay", 0.1))): [
        [0.9000000049999998, -1.9000000025, 0.40000000285714277],
        [0.8280343781318088, -1.8275591423635476, 0.4165903914901146],
        [0.798951644521177, -1.7833974403798192, 0.4156943374727973]],
    ("NAdam", (("lr", 0.1), ("weight_decay", 0.1), ("momentum_decay", 0.01))): [
        [0.8943510105497504, -1.8943510079085257, 0.3943510082858435],
        [0.7952375137433512, -1.8439076014712625, 0.473736205802108],
        [0.8301172174896541, -1.838792622535892, 0.4476522551174195]],
    ("NAdam", (("lr", 0.1), ("weight_decay", 0.1), ("decoupled_weight_decay", True))): [
        [0.8843548327289779, -1.8743548274467197, 0.38935482568596697],
        [0.7726013332865249, -1.8493041780257884, 0.47183568948151333],
        [0.8242655847575349, -1.9059960956143116, 0.4508750672727611]],
    ("RAdam", (("lr", 0.1), ("weight_decay", 0.1), ("decoupled_weight_decay", True))): [
        [0.98, -1.96, 0.46499999999999997],
        [0.9444105263157894, -1.9309263157894736, 0.4724552631578947],
        [0.9297634690231112, -1.913019266653719, 0.4716790500097106]],
}


@pytest.mark.parametrize("name, options", list(TORCH_MORE))
def test_adamax_nadam_radam_match_torch(name, options):
    w = Parameter(W0.copy())
    opt = getattr(optim, name)([w], **dict(options))
    for g, expected in zip(GRADS, TORCH_MORE[(name, options)]):
        w.grad = minnet.tensor(g)
        opt.step()
        np.testing.assert_allclose(w.numpy(), expected, rtol=1e-14)


def test_radam_switches_from_momentum_steps_to_rectified_adam_steps():
    """With beta2 = 0.8, rho_t first exceeds 5 at step 7: steps 1-6 are lr * m_hat only."""
    w = Parameter(W0.copy())
    opt = optim.RAdam([w], lr=0.1, betas=(0.9, 0.8))
    for step in range(9):
        w.grad = minnet.tensor(GRADS[step % 3])
        opt.step()
        if step == 4:  # torch 2.13, float64
            np.testing.assert_allclose(
                w.numpy(), [0.937655263424095, -1.9634634938065199, 0.4878632694386547],
                rtol=1e-14)
    np.testing.assert_allclose(
        w.numpy(), [0.8897400924087024, -1.9551067508263495, 0.5053754483407342], rtol=1e-14)
    assert sorted(opt.state[w]) == ["exp_avg", "exp_avg_sq", "step"] and opt.state[w]["step"] == 9


A_SPD = np.array([[3.0, 0.5, 0.0], [0.5, 2.0, 0.3], [0.0, 0.3, 1.0]])


def _quadratic_closure(opt, w):
    """0.5 w.A w - sum(w): minimum at A^-1 1."""
    def closure():
        opt.zero_grad()
        loss = 0.5 * (w * (minnet.tensor(A_SPD) @ w)).sum() - w.sum()
        loss.backward()
        return loss
    return closure


def test_lbfgs_matches_torch_and_resumes_from_its_state_dict():
    w = Parameter(np.array([1.0, -2.0, 0.5]))
    opt = optim.LBFGS([w], lr=0.5, max_iter=4, history_size=2)
    loss = opt.step(_quadratic_closure(opt, w))
    # torch.optim.LBFGS 2.13, float64, same arguments: the loss before the step, the point
    # after 4 iterations, the evaluations counted
    assert loss.item() == pytest.approx(4.824999999999999, rel=1e-15)
    np.testing.assert_allclose(w.numpy(), [0.3479101821852315, 0.04202852392073503,
                                           0.9075282961469264], rtol=1e-13)
    assert opt.state[w]["func_evals"] == 4 and opt.state[w]["n_iter"] == 4
    resumed = optim.LBFGS([w], lr=0.5, max_iter=4, history_size=2)
    resumed.load_state_dict(opt.state_dict())
    assert resumed.step(_quadratic_closure(resumed, w)).item() == \
        pytest.approx(-0.6835808608558978, rel=1e-13)
    np.testing.assert_allclose(w.numpy(), [0.28822424698515264, 0.2773482892746953,
                                           0.9150243102498183], rtol=1e-12)
    assert len(resumed.state[w]["old_dirs"]) == 2  # history_size pairs kept
    for _ in range(5):
        resumed.step(_quadratic_closure(resumed, w))
    # near the minimum (it stops once the loss changes by less than tolerance_change)
    np.testing.assert_allclose(w.numpy(), np.linalg.solve(A_SPD, np.ones(3)), atol=1e-4)


def test_lbfgs_refuses_what_it_does_not_do():
    w = Parameter(np.ones(2))
    with pytest.raises(NotImplementedError, match="line_search_fn='strong_wolfe' is not "
                                                  "implemented"):
        optim.LBFGS([w], line_search_fn="strong_wolfe")
    with pytest.raises(ValueError, match="LBFGS doesn't support per-parameter options"):
        optim.LBFGS([{"params": [w]}, {"params": [Parameter(np.ones(1))], "lr": 0.1}])
    with pytest.raises(RuntimeError, match="LBFGS.step\\(\\) needs a closure"):
        optim.LBFGS([w]).step()


def test_rprop_and_asgd_match_torch():
    """torch.optim 2.13, float64, from W0 with GRADS (3 steps)."""
    w = Parameter(W0.copy())
    rprop = optim.Rprop([w], lr=0.1, etas=(0.4, 1.5), step_sizes=(0.01, 0.2))
    for g, expected in zip(GRADS, [[0.9, -1.9, 0.4], [0.75, -1.9, 0.4], [0.75, -2.0, 0.36]]):
        w.grad = minnet.tensor(g)
        rprop.step()
        np.testing.assert_allclose(w.numpy(), expected, rtol=1e-15)
    # the step sizes grew (same sign), shrank (flip) or stayed, within [0.01, 0.2]
    np.testing.assert_allclose(rprop.state[w]["step_size"].numpy(), [0.06, 0.1, 0.04], rtol=1e-14)
    np.testing.assert_array_equal(rprop.state[w]["prev"].numpy(), [0.0, 0.2, 0.1])

    w = Parameter(W0.copy())
    asgd = optim.ASGD([w], lr=0.1, lambd=0.01, t0=0, weight_decay=0.1)
    for g in GRADS:
        w.grad = minnet.tensor(g)
        asgd.step()
    np.testing.assert_allclose(w.numpy(), [0.9480284522756508, -1.9351788283252112,
                                           0.49377729958576494], rtol=1e-14)
    np.testing.assert_allclose(asgd.state[w]["ax"].numpy(), [0.9381487478695033,
                                                             -1.9358284838519215,
                                                             0.5015670805715883], rtol=1e-14)
    assert asgd.state[w]["mu"] == pytest.approx(1 / 3) and \
        asgd.state[w]["eta"] == pytest.approx(0.0997755890053364, rel=1e-15)
