"""The compiled optimizer updates equal their NumPy references, number for number."""
import itertools

import numpy as np
import pytest

import minnet
from minnet import kernels, optim
from minnet.kernels import optim_update

DTYPES = [np.float32, np.float64]
SHAPES = [(7, 13), (5,), (3, 1, 11), (1,)]  # odd, prime and one-entry sizes

SGD_OPTIONS = [
    dict(momentum=m, dampening=d, weight_decay=w, nesterov=n, maximize=x)
    for m, d, w, n, x in itertools.product([0.0, 0.9], [0.0, 0.3], [0.0, 0.01], [False, True],
                                           [False, True])
    if not (n and (m == 0 or d != 0))
]
ADAM_OPTIONS = [
    dict(beta1=b1, weight_decay=w, decoupled_weight_decay=dec, amsgrad=a, maximize=x)
    for b1, w, dec, a, x in itertools.product([0.9, 0.3], [0.0, 0.1], [False, True],
                                              [False, True], [False, True])
]


def run_sgd(update, dtype, options, steps=4, seed=0):
    """Parameters and buffers after ``steps`` updates with random gradients."""
    rng = np.random.default_rng(seed)
    results = []
    for shape in SHAPES:
        param = rng.standard_normal(shape).astype(dtype)
        buffer = np.empty_like(param)
        for step in range(steps):
            grad = rng.standard_normal(shape).astype(dtype)
            update(param, grad, buffer, 0.05, options["momentum"], options["dampening"],
                   options["weight_decay"], options["nesterov"], options["maximize"], step == 0)
        results += [param, buffer if options["momentum"] else None]
    return results


def run_adam(update, dtype, options, steps=4, seed=0):
    rng = np.random.default_rng(seed)
    results = []
    for shape in SHAPES:
        param = rng.standard_normal(shape).astype(dtype)
        state = [np.zeros_like(param) for _ in range(3)]
        for step in range(1, steps + 1):
            grad = rng.standard_normal(shape).astype(dtype)
            update(param, grad, *state, 0.01, options["beta1"], 0.99, 1e-8,
                   options["weight_decay"], options["decoupled_weight_decay"],
                   options["amsgrad"], options["maximize"], step)
        results += [param, *state]
    return results


def assert_identical(compiled, reference):
    for got, expected in zip(compiled, reference, strict=True):
        if expected is None:
            continue
        assert got.dtype == expected.dtype and got.shape == expected.shape
        np.testing.assert_array_equal(got, expected)  # bit for bit, not just close


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", SGD_OPTIONS, ids=lambda o: "-".join(
    f"{k}={v}" for k, v in o.items()))
def test_sgd_kernel_equals_reference(dtype, options):
    assert_identical(run_sgd(optim_update.sgd_update_numba, dtype, options),
                     run_sgd(optim_update.sgd_update_reference, dtype, options))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("options", ADAM_OPTIONS, ids=lambda o: "-".join(
    f"{k}={v}" for k, v in o.items()))
def test_adam_kernel_equals_reference(dtype, options):
    assert_identical(run_adam(optim_update.adam_update_numba, dtype, options),
                     run_adam(optim_update.adam_update_reference, dtype, options))


def test_updates_change_the_parameters_in_place():
    """The kernels write through the caller's arrays (a Parameter keeps its array)."""
    rng = np.random.default_rng(1)
    param = rng.standard_normal((4, 6)).astype(np.float32)
    before, same_array = param.copy(), param
    optim_update.sgd_update_numba(param, np.ones_like(param), None, 0.1, 0.0, 0.0, 0.0,
                                  False, False, False)
    assert param is same_array
    np.testing.assert_allclose(param, before - 0.1, rtol=1e-6)


def test_non_contiguous_and_mixed_layouts_fall_back_and_agree():
    """A transposed parameter, a strided gradient: the same numbers, written in place."""
    rng = np.random.default_rng(2)
    base = rng.standard_normal((6, 9)).astype(np.float32)
    grads = [rng.standard_normal((18, 6)).astype(np.float32)[::2] for _ in range(3)]
    results = []
    for update in (optim_update.sgd_update_numba, optim_update.sgd_update_reference):
        param = base.copy().T  # F-ordered view
        buffer = np.empty((9, 6), np.float32)
        for step, grad in enumerate(grads):
            update(param, grad, buffer, 0.1, 0.9, 0.0, 0.01, True, False, step == 0)
        results.append(param.copy())
    np.testing.assert_array_equal(*results)


def test_non_finite_gradients_propagate_identically():
    """nan and inf take the same path through both (amsgrad's max keeps a nan, as np.maximum)."""
    grad = np.array([np.nan, np.inf, -np.inf, 1.0, 0.0], np.float32)
    for options in (ADAM_OPTIONS[0], dict(ADAM_OPTIONS[0], amsgrad=True)):
        outs = []
        for update in (optim_update.adam_update_numba, optim_update.adam_update_reference):
            param = np.ones(5, np.float32)
            state = [np.zeros(5, np.float32) for _ in range(3)]
            with np.errstate(invalid="ignore"):
                update(param, grad, *state, 0.01, options["beta1"], 0.99, 1e-8, 0.0, False,
                       options["amsgrad"], False, 1)
            outs.append([param, *state])
        for got, expected in zip(*outs):
            np.testing.assert_array_equal(got, expected)
        assert np.isnan(outs[0][0][0])


@pytest.mark.parametrize("make", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
    lambda ps: optim.AdamW(ps, lr=0.01, amsgrad=True),
])
def test_no_jit_runs_the_reference(monkeypatch, make):
    """MINNET_NO_JIT=1: the optimizers call the NumPy reference, and get the same numbers."""
    calls = []
    for name in ("sgd_update_reference", "adam_update_reference"):
        original = getattr(optim_update, name)

        def counting(*args, _original=original):
            calls.append(_original.__name__)
            return _original(*args)

        monkeypatch.setattr(optim_update, name, counting)
    monkeypatch.setattr(kernels, "_resolved", {})  # forget the functions resolved so far

    def train(no_jit):
        if no_jit:
            monkeypatch.setenv("MINNET_NO_JIT", "1")
        else:
            monkeypatch.delenv("MINNET_NO_JIT", raising=False)
        rng = np.random.default_rng(3)
        params = [minnet.nn.Parameter(rng.standard_normal(s).astype(np.float32))
                  for s in ((5, 3), (3,))]
        optimizer = make(params)
        for _ in range(3):
            for p in params:
                p.grad = minnet.tensor(rng.standard_normal(p.shape).astype(np.float32))
            optimizer.step()
        return [p.data.copy() for p in params]

    compiled = train(no_jit=False)
    assert calls == []
    reference = train(no_jit=True)
    assert len(calls) == 6  # two parameters, three steps
    for got, expected in zip(compiled, reference):
        np.testing.assert_array_equal(got, expected)


# --------------------------------------------------------------------------
# The autograd engine hands linear's new gradient arrays to the parameters
# without a copy (minnet/tensor.py, _propagate); they must still be private.
# --------------------------------------------------------------------------
def test_uncopied_linear_gradients_are_private_to_each_parameter():
    rng = np.random.default_rng(4)
    layer = minnet.nn.Linear(5, 3, generator=rng)
    x = minnet.tensor(rng.standard_normal((4, 5)), dtype=np.float32, requires_grad=True)
    layer(x).sum().backward()
    grads = [layer.weight.grad.data, layer.bias.grad.data, x.grad.data]
    for i, a in enumerate(grads):
        for b in grads[i + 1:]:
            assert not np.shares_memory(a, b)
    expected_bias = layer.bias.grad.data.copy()
    layer.weight.grad.data[...] = 0  # as clip_grad_norm_ or zero_grad(set_to_none=False) may
    np.testing.assert_array_equal(layer.bias.grad.data, expected_bias)
    layer(x).sum().backward()  # a second backward accumulates onto the zeroed weight grad
    np.testing.assert_allclose(layer.weight.grad.data, np.tile(x.data.sum(0), (3, 1)), rtol=1e-6)
    np.testing.assert_allclose(layer.bias.grad.data, 2 * expected_bias)


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
        assert not np.shares_memory(kept, layer.weight.grad.data)
        assert not np.shares_memory(kept, layer.bias.grad.data)
