"""Lab 02 with honest forwards and every backward computed by central finite differences of
the student's own forward, in NumPy alone (nothing to refuse statically): no derivation.
lab: 02_autograd_op
file: custom_ops.py
honest: 6
"""
import numpy as np
from minnet.autograd import Function

H = 1e-6


def _softplus(x):
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def _prelu(x, slope):
    return np.where(x > 0, x, slope * x)


def _layer_norm(x, weight, bias, eps):
    mean, var = x.mean(axis=-1, keepdims=True), x.var(axis=-1, keepdims=True)
    return (x - mean) / np.sqrt(var + eps) * weight + bias


def _numeric(f, arrays, grad):
    arrays = [np.array(a, dtype=np.float64) for a in arrays]
    grads = []
    for array in arrays:
        result = np.zeros_like(array)
        flat, out = array.reshape(-1), result.reshape(-1)
        for i in range(flat.size):
            old = flat[i]
            flat[i] = old + H
            plus = np.sum(f(*arrays) * grad)
            flat[i] = old - H
            minus = np.sum(f(*arrays) * grad)
            flat[i] = old
            out[i] = (plus - minus) / (2 * H)
        grads.append(result)
    return grads


class Softplus(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.save_for_backward(x.data)
        return _softplus(x.data)

    @staticmethod
    def backward(ctx, grad_output):
        return _numeric(_softplus, ctx.saved_tensors, grad_output.data)[0]


class PReLU(Function):
    @staticmethod
    def forward(ctx, x, slope):
        ctx.save_for_backward(x.data, slope.data)
        return _prelu(x.data, slope.data)

    @staticmethod
    def backward(ctx, grad_output):
        return tuple(_numeric(_prelu, ctx.saved_tensors, grad_output.data))


class LayerNorm(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, eps):
        ctx.save_for_backward(x.data, weight.data, bias.data)
        ctx.eps = eps
        return _layer_norm(x.data, weight.data, bias.data, eps)

    @staticmethod
    def backward(ctx, grad_output):
        eps = ctx.eps
        grads = _numeric(lambda x, w, b: _layer_norm(x, w, b, eps), ctx.saved_tensors,
                         grad_output.data)
        return (*grads, None)


def softplus(x):
    return Softplus.apply(x)


def prelu(x, slope):
    return PReLU.apply(x, slope)


def layer_norm(x, weight, bias, eps=1e-5):
    return LayerNorm.apply(x, weight, bias, eps)


def kink_free(x, margin=1e-3):
    raise NotImplementedError


def kinks_found(result):
    raise NotImplementedError
