"""minnet's top-level ops take PyTorch's parameter names, so keyword calls written for torch work.

The expected names are copied by hand from PyTorch's documented signatures
(``torch.add(input, other, *, alpha=1)``, ``torch.where(condition, input, other)``,
...); torch itself is never imported. ``benchmarks/torch_parity.py signatures``
compares against the installed torch directly.
"""
import inspect

import numpy as np
import pytest

import minnet

# name -> (torch's leading positional parameters in order, other parameters torch names)
TORCH_PARAMETERS = {
    "add": (["input", "other"], ["alpha"]),
    "sub": (["input", "other"], ["alpha"]),
    "mul": (["input", "other"], []),
    "div": (["input", "other"], ["rounding_mode"]),
    "pow": (["input", "exponent"], []),
    "exp": (["input"], []),
    "log": (["input"], []),
    "sqrt": (["input"], []),
    "abs": (["input"], []),
    "neg": (["input"], []),
    "clamp": (["input", "min", "max"], []),
    "clip": (["input", "min", "max"], []),
    "maximum": (["input", "other"], []),
    "minimum": (["input", "other"], []),
    "where": (["condition", "input", "other"], []),
    "sum": (["input", "dim", "keepdim"], []),
    "mean": (["input", "dim", "keepdim"], []),
    "var": (["input", "dim"], ["keepdim", "correction", "unbiased"]),
    "std": (["input", "dim"], ["keepdim", "correction", "unbiased"]),
    "amax": (["input", "dim", "keepdim"], []),
    "amin": (["input", "dim", "keepdim"], []),
    "logsumexp": (["input", "dim", "keepdim"], []),
    "reshape": (["input", "shape"], []),
    "transpose": (["input", "dim0", "dim1"], []),
    "permute": (["input", "dims"], []),
    "flatten": (["input", "start_dim", "end_dim"], []),
    "unsqueeze": (["input", "dim"], []),
    "squeeze": (["input", "dim"], []),
    "matmul": (["input", "other"], []),
    "softmax": (["input", "dim"], []),
    "log_softmax": (["input", "dim"], []),
    "relu": (["input"], []),
    "tanh": (["input"], []),
    "sigmoid": (["input"], []),
}

POSITIONAL = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)


@pytest.mark.parametrize("name", sorted(TORCH_PARAMETERS))
def test_signature_has_torch_parameter_names(name):
    leading, others = TORCH_PARAMETERS[name]
    fn = getattr(minnet, name)
    assert fn is getattr(minnet.ops, name)
    params = inspect.signature(fn).parameters
    positional = [p for p, param in params.items() if param.kind in POSITIONAL]
    assert positional[:len(leading)] == leading, f"{name}{inspect.signature(fn)}"
    for p in leading:
        # usable by keyword, as in torch (no positional-only parameters)
        assert params[p].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD, (name, p)
    for p in others:
        assert p in params and params[p].kind is not inspect.Parameter.VAR_POSITIONAL, (name, p)


def _x(*shape, seed=0):
    return minnet.tensor(np.random.default_rng(seed).standard_normal(shape))


def _same(result, expected):
    np.testing.assert_allclose(result.numpy(), expected, rtol=1e-12, atol=1e-12)
    assert result.shape == np.shape(expected)


def test_binary_ops_by_keyword():
    x, y = _x(2, 3), _x(3, seed=1)
    _same(minnet.add(input=x, other=y), x.numpy() + y.numpy())
    _same(minnet.add(input=x, other=y, alpha=2), x.numpy() + 2 * y.numpy())
    _same(minnet.sub(input=x, other=y), x.numpy() - y.numpy())
    _same(minnet.mul(input=x, other=2.0), x.numpy() * 2)
    _same(minnet.div(input=x, other=y), x.numpy() / y.numpy())
    _same(minnet.pow(input=x, exponent=2), x.numpy() ** 2)
    _same(minnet.maximum(input=x, other=y), np.maximum(x.numpy(), y.numpy()))
    _same(minnet.minimum(input=x, other=y), np.minimum(x.numpy(), y.numpy()))
    _same(minnet.matmul(input=x, other=_x(3, 4, seed=2)), x.numpy() @ _x(3, 4, seed=2).numpy())
    condition = minnet.tensor(x.numpy() > 0)
    _same(minnet.where(condition=condition, input=x, other=y), np.where(x.numpy() > 0, x.numpy(), y.numpy()))
    _same(minnet.where(condition, x, other=0.0), np.where(x.numpy() > 0, x.numpy(), 0.0))
    _same(minnet.clamp(input=x, min=-0.5, max=0.5), np.clip(x.numpy(), -0.5, 0.5))
    _same(minnet.clip(input=x, max=0.0), np.minimum(x.numpy(), 0.0))


def test_unary_ops_by_keyword():
    x = _x(2, 3)
    positive = minnet.tensor(np.abs(x.numpy()) + 0.5)
    _same(minnet.exp(input=x), np.exp(x.numpy()))
    _same(minnet.log(input=positive), np.log(positive.numpy()))
    _same(minnet.sqrt(input=positive), np.sqrt(positive.numpy()))
    _same(minnet.abs(input=x), np.abs(x.numpy()))
    _same(minnet.neg(input=x), -x.numpy())
    _same(minnet.relu(input=x), np.maximum(x.numpy(), 0))
    _same(minnet.tanh(input=x), np.tanh(x.numpy()))
    _same(minnet.sigmoid(input=x), 1 / (1 + np.exp(-x.numpy())))
    e = np.exp(x.numpy() - x.numpy().max(axis=1, keepdims=True))
    _same(minnet.softmax(input=x, dim=1), e / e.sum(axis=1, keepdims=True))
    _same(minnet.log_softmax(input=x, dim=1), np.log(e / e.sum(axis=1, keepdims=True)))


def test_reductions_by_keyword_and_numpy_aliases():
    x = _x(3, 4)
    _same(minnet.sum(input=x, dim=1), x.numpy().sum(axis=1))
    _same(minnet.sum(input=x, dim=1, keepdim=True), x.numpy().sum(axis=1, keepdims=True))
    _same(minnet.sum(x, axis=1, keepdims=True), x.numpy().sum(axis=1, keepdims=True))
    _same(minnet.mean(input=x, dim=0), x.numpy().mean(axis=0))
    _same(minnet.var(input=x, dim=1, correction=0), x.numpy().var(axis=1))
    _same(minnet.var(x, 1, False), x.numpy().var(axis=1))  # torch's var(input, dim, unbiased)
    _same(minnet.std(input=x, dim=1, keepdim=True), x.numpy().std(axis=1, ddof=1, keepdims=True))
    _same(minnet.amax(input=x, dim=1), x.numpy().max(axis=1))
    _same(minnet.amin(input=x, dim=(0, 1)), x.numpy().min())
    peak = x.numpy().max(axis=1)
    _same(minnet.logsumexp(input=x, dim=1),
          peak + np.log(np.exp(x.numpy() - peak[:, None]).sum(axis=1)))


def test_reshape_accepts_torch_and_separate_int_forms():
    x = _x(6)
    expected = x.numpy().reshape(2, 3)
    for result in (minnet.reshape(x, (2, 3)), minnet.reshape(x, [2, 3]),
                   minnet.reshape(input=x, shape=(2, 3)), minnet.reshape(x, shape=(2, -1)),
                   minnet.reshape(x, 2, 3), x.reshape(2, 3), x.reshape((2, 3)), x.view(2, 3),
                   minnet.ops.view(input=x, shape=(2, 3))):
        _same(result, expected)
    _same(minnet.reshape(x, 6), x.numpy())
    _same(minnet.reshape(_x(1, 1), ()), _x(1, 1).numpy().reshape(()))
    with pytest.raises(TypeError, match=r"reshape\(\).*either as one tuple or as separate ints"):
        minnet.reshape(x, (2, 3), 1)
    with pytest.raises(ValueError, match=r"reshape\(\): cannot reshape .* \(6,\)"):
        minnet.reshape(x, shape=(4, 2))


def test_permute_accepts_torch_and_separate_int_forms():
    x = _x(2, 3, 4)
    expected = np.transpose(x.numpy(), (2, 0, 1))
    for result in (minnet.permute(x, (2, 0, 1)), minnet.permute(input=x, dims=(2, 0, 1)),
                   minnet.permute(x, dims=[2, 0, 1]), minnet.permute(x, 2, 0, 1),
                   x.permute(2, 0, 1), x.permute((2, 0, 1))):
        _same(result, expected)
    scalar = minnet.tensor(3.0)
    _same(scalar.T, np.asarray(3.0))  # .T of a 0-d tensor permutes no dims
    _same(minnet.permute(scalar), np.asarray(3.0))
    _same(_x(2, 3).T, _x(2, 3).numpy().T)
    with pytest.raises(ValueError, match=r"permute\(\): the tensor has 3 dims"):
        minnet.permute(x, dims=(1, 0))
    with pytest.raises(TypeError, match=r"permute\(\).*either as one tuple"):
        minnet.permute(x, (2, 0), 1)


def test_other_shape_ops_by_keyword():
    x = _x(2, 1, 3)
    _same(minnet.transpose(input=x, dim0=0, dim1=2), np.swapaxes(x.numpy(), 0, 2))
    _same(minnet.flatten(input=x, start_dim=1), x.numpy().reshape(2, 3))
    _same(minnet.unsqueeze(input=x, dim=0), x.numpy()[None])
    _same(minnet.squeeze(input=x, dim=1), x.numpy()[:, 0])
    _same(minnet.squeeze(input=x), x.numpy()[:, 0])


def test_keyword_calls_back_propagate():
    x = minnet.tensor(np.arange(6.0), requires_grad=True)
    y = minnet.tensor(np.full(3, 2.0), requires_grad=True)
    out = minnet.reshape(input=x, shape=(2, 3))
    out = minnet.mul(input=minnet.permute(input=out, dims=(1, 0)), other=minnet.unsqueeze(y, 1))
    minnet.sum(input=out).backward()
    np.testing.assert_allclose(x.grad.numpy(), np.full(6, 2.0))
    np.testing.assert_allclose(y.grad.numpy(), x.numpy().reshape(2, 3).sum(axis=0))
