"""The optimizers' fast path (compiled loops) gives their NumPy rules' numbers, bit for bit.

The NumPy rule is each optimizer's ``_update_one`` (``minnet/optim/sgd.py``,
``adam.py``), what ``MINNET_NO_JIT=1`` runs; the fast path is
``minnet/kernels/optim_update.py``, which ``Optimizer.step`` tries first.
"""
import itertools

import numpy as np
import pytest

import minnet
from minnet import optim
from minnet.kernels import optim_update

DTYPES = [np.float32, np.float64]
SHAPES = [(7, 13), (5,), (3, 1, 11), (1,)]  # odd, prime and one-entry sizes

SGD_OPTIONS = [
    dict(lr=0.05, momentum=m, dampening=d, weight_decay=w, nesterov=n, maximize=x)
    for m, d, w, n, x in itertools.product([0.0, 0.9], [0.0, 0.3], [0.0, 0.01], [False, True],
                                           [False, True])
    if not (n and (m == 0 or d != 0))
]
ADAM_OPTIONS = [
    dict(lr=0.01, betas=(b1, 0.99), weight_decay=w, amsgrad=a, maximize=x, decoupled=dec)
    for b1, w, dec, a, x in itertools.product([0.9, 0.3], [0.0, 0.1], [False, True],
                                              [False, True], [False, True])
]


def make_optimizer(params, options):
    options = dict(options)
    if "betas" not in options:
        return optim.SGD(params, **options)
    if options.pop("decoupled"):
        return optim.AdamW(params, **options)
    return optim.Adam(params, **options)


def train(monkeypatch, fast, options, dtype, steps=4, seed=0, shapes=SHAPES, grads=None):
    """Parameters and every state array after ``steps`` steps with seeded random gradients.

    ``fast``: the compiled loops must do every update (the NumPy rule fails the test if
    called); otherwise ``MINNET_NO_JIT=1`` must make the optimizer run its NumPy rule only.
    """
    with monkeypatch.context() as patch:
        patch.setenv("MINNET_NO_JIT", "0" if fast else "1")
        unused = "_update_one" if fast else "_fused_update_one"
        for cls in (optim.SGD, optim.Adam):
            patch.setattr(cls, unused, lambda *a: pytest.fail(f"{unused} ran"))
        rng = np.random.default_rng(seed)
        params = [minnet.nn.Parameter(rng.standard_normal(shape).astype(dtype))
                  for shape in shapes]
        arrays = [p.numpy() for p in params]
        optimizer = make_optimizer(params, options)
        for step in range(steps):
            for p in params:
                g = rng.standard_normal(p.shape) if grads is None else grads[step]
                p.grad = minnet.tensor(np.asarray(g, dtype=dtype))
            optimizer.step()
        for p, array in zip(params, arrays):
            assert p.numpy() is array  # updated in place: views and references stay valid
            assert p._version == steps
        return [p.numpy() for p in params] + [
            value.numpy() for p in params for value in optimizer.state[p].values()
            if isinstance(value, minnet.Tensor)]


def assert_identical(fast, numpy_rule):
    assert len(fast) == len(numpy_rule)
    for got, expected in zip(fast, numpy_rule):
        assert got.dtype == expected.dtype and got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)  # bit for bit, not just close


def option_id(options):
    return "-".join(f"{k}={v}" for k, v in options.items() if k != "lr")


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", SGD_OPTIONS, ids=option_id)
def test_sgd_fast_path_equals_the_numpy_rule(monkeypatch, dtype, options):
    assert_identical(train(monkeypatch, True, options, dtype),
                     train(monkeypatch, False, options, dtype))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", ADAM_OPTIONS, ids=option_id)
def test_adam_fast_path_equals_the_numpy_rule(monkeypatch, dtype, options):
    assert_identical(train(monkeypatch, True, options, dtype),
                     train(monkeypatch, False, options, dtype))


def test_non_finite_gradients_take_the_same_path(monkeypatch):
    """nan and inf: the same numbers (amsgrad's max keeps a nan, as np.maximum does)."""
    grad = np.array([np.nan, np.inf, -np.inf, 1.0, 0.0])
    for options in (ADAM_OPTIONS[0], dict(ADAM_OPTIONS[0], amsgrad=True), SGD_OPTIONS[-1]):
        with np.errstate(invalid="ignore", over="ignore"):
            results = [train(monkeypatch, fast, options, np.float32, steps=2, shapes=[(5,)],
                             grads=[grad, grad]) for fast in (True, False)]
        assert_identical(*results)
        assert np.isnan(results[0][0][0])


def test_a_layout_the_loops_do_not_take_runs_the_numpy_rule(monkeypatch):
    """A Fortran-ordered momentum buffer (loaded from a checkpoint): the kernel refuses it
    untouched, the optimizer runs its NumPy rule, and the numbers are the same."""
    rng = np.random.default_rng(2)
    param = rng.standard_normal((6, 9)).astype(np.float32)
    buffer = np.asfortranarray(rng.standard_normal((6, 9)).astype(np.float32))
    grad = rng.standard_normal((6, 9)).astype(np.float32)
    before = param.copy()
    assert not optim_update.sgd_update_numba(param, grad, buffer, 0.1, 0.9, 0.0, 0.0, False,
                                             False, False)
    np.testing.assert_array_equal(param, before)

    results = []
    for no_jit in ("0", "1"):
        monkeypatch.setenv("MINNET_NO_JIT", no_jit)
        p = minnet.nn.Parameter(param.copy())
        optimizer = optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True)
        optimizer.load_state_dict({"state": {0: {"momentum_buffer": buffer.copy(order="F")}},
                                   "param_groups": optimizer.state_dict()["param_groups"]})
        assert not optimizer.state[p]["momentum_buffer"].numpy().flags.c_contiguous
        for _ in range(3):
            p.grad = minnet.tensor(grad)
            optimizer.step()
        results.append([p.numpy(), optimizer.state[p]["momentum_buffer"].numpy()])
    assert_identical(*results)


def test_a_strided_gradient_is_read_by_the_loops(monkeypatch):
    rng = np.random.default_rng(3)
    grad = rng.standard_normal((12, 5))[::2]  # a view: not contiguous
    fast = optim_update.sgd_update_numba
    param = np.ones((6, 5))
    assert fast(param, grad, None, 0.5, 0.0, 0.0, 0.0, False, False, False)
    np.testing.assert_array_equal(param, 1 - 0.5 * grad)


# --------------------------------------------------------------------------
# The autograd engine hands linear's new gradient arrays to the parameters
# without a copy (minnet/tensor.py, _propagate); they must still be private.
# --------------------------------------------------------------------------
def test_uncopied_linear_gradients_are_private_to_each_parameter():
    rng = np.random.default_rng(4)
    layer = minnet.nn.Linear(5, 3, generator=rng)
    x = minnet.tensor(rng.standard_normal((4, 5)), dtype=np.float32, requires_grad=True)
    layer(x).sum().backward()
    grads = [layer.weight.grad.numpy(), layer.bias.grad.numpy(), x.grad.numpy()]
    for i, a in enumerate(grads):
        for b in grads[i + 1:]:
            assert not np.shares_memory(a, b)
    expected_bias = layer.bias.grad.numpy().copy()
    layer.weight.grad.data[...] = 0  # as clip_grad_norm_ or zero_grad(set_to_none=False) may
    np.testing.assert_array_equal(layer.bias.grad.numpy(), expected_bias)
    layer(x).sum().backward()  # a second backward accumulates onto the zeroed weight grad
    np.testing.assert_allclose(layer.weight.grad.numpy(), np.tile(x.numpy().sum(0), (3, 1)), rtol=1e-6)
    np.testing.assert_allclose(layer.bias.grad.numpy(), 2 * expected_bias)


def test_gradients_seen_by_a_backward_observer_are_copied_for_the_parameters():
    """The debugger's observers may keep the arrays they see: then .grad gets its own copy."""
    from minnet.tensor import _state
    rng = np.random.default_rng(5)
    layer = minnet.nn.Linear(4, 2, generator=rng)
    seen = []
    _state.backward_observers.append(lambda node, grad, parent_grads: seen.extend(
        g for g in parent_grads if g is not None))
    try:
        layer(minnet.tensor(rng.standard_normal((3, 4)), dtype=np.float32)).sum().backward()
    finally:
        _state.backward_observers.pop()
    assert seen
    for kept in seen:
        assert not np.shares_memory(kept, layer.weight.grad.numpy())
        assert not np.shares_memory(kept, layer.bias.grad.numpy())
