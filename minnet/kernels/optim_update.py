"""The optimizers' fast path: one parameter's SGD or Adam/AdamW step as one compiled loop.

The rules are the NumPy lines of ``SGD._update_one`` and ``Adam._update_one``
(``minnet/optim``), which make a temporary array per operation; these loops read
and write each entry once. Same operations, same order, same dtype (Numba, like
NumPy, rounds after each multiply and add; each Python number is rounded to the
dtype first), so the numbers are equal bit for bit: ``tests/test_kernels_optim.py``.

Arrays: ``param``, ``grad`` and the state all have the parameter's shape. An update
writes ``param`` and the state in place and returns True, or returns False untouched
for a layout the loops do not take (then the optimizer runs its NumPy lines).
"""
from __future__ import annotations

import math

import numba
import numpy as np


def sgd_update_numba(param, grad, momentum_buffer, lr, momentum, dampening, weight_decay,
                     nesterov, maximize, first_step) -> bool:
    """``SGD._update_one``'s lines for one parameter; ``first_step``: fill the new buffer.

    ``momentum_buffer`` is ignored when ``momentum == 0``.
    """
    flat = _flat_views(param, grad, momentum_buffer if momentum != 0 else None)
    if flat is None:
        return False
    _sgd_loop(*flat, lr, momentum, 1 - dampening, weight_decay, nesterov, maximize, first_step)
    return True


@numba.njit(cache=True)
def _sgd_loop(param, grad, buffer, lr, momentum, one_minus_dampening, weight_decay,
              nesterov, maximize, first_step):
    """All arrays 1-D; the numbers are Python floats."""
    real = param.dtype.type  # each number rounded to the arrays' dtype, as NumPy does
    lr, momentum, weight_decay = real(lr), real(momentum), real(weight_decay)
    one_minus_dampening = real(one_minus_dampening)
    for i in range(param.shape[0]):
        g = grad[i]
        if maximize:
            g = -g
        if weight_decay != 0:
            g = g + weight_decay * param[i]
        if momentum != 0:
            if first_step:
                b = g
            else:
                b = buffer[i] * momentum + one_minus_dampening * g
            buffer[i] = b
            g = g + momentum * b if nesterov else b
        param[i] = param[i] - lr * g


def adam_update_numba(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1, beta2,
                      eps, weight_decay, decoupled_weight_decay, amsgrad, maximize,
                      step) -> bool:
    """``Adam._update_one``'s lines for one parameter; ``step`` counts from 1, this one included.

    ``max_exp_avg_sq`` is used only when ``amsgrad``.
    """
    flat = _flat_views(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq if amsgrad else None)
    if flat is None:
        return False
    decay = weight_decay != 0
    _adam_loop(*flat, 1 - lr * weight_decay, weight_decay, decay and decoupled_weight_decay,
               decay and not decoupled_weight_decay, 1 - beta1, beta2, 1 - beta2,
               math.sqrt(1 - beta2 ** step), eps, lr / (1 - beta1 ** step), amsgrad, maximize)
    return True


# error_model="numpy": a division by zero gives inf or nan, as in NumPy, instead of raising
# ZeroDivisionError; without that check in every iteration the loop is vectorized (8x faster)
@numba.njit(cache=True, error_model="numpy")
def _adam_loop(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, shrink, weight_decay,
               decoupled, coupled, one_minus_beta1, beta2, one_minus_beta2,
               bias_correction2_sqrt, eps, step_size, amsgrad, maximize):
    """All arrays 1-D; the numbers are Python floats (formed as ``_update_one`` forms them)."""
    real = param.dtype.type  # each number rounded to the arrays' dtype, as NumPy does
    shrink, weight_decay, eps, step_size = real(shrink), real(weight_decay), real(eps), \
        real(step_size)
    one_minus_beta1, beta2, one_minus_beta2 = real(one_minus_beta1), real(beta2), \
        real(one_minus_beta2)
    bias_correction2_sqrt = real(bias_correction2_sqrt)
    for i in range(param.shape[0]):
        g = grad[i]
        if maximize:
            g = -g
        p = param[i]
        if decoupled:
            p = p * shrink
        elif coupled:
            g = g + weight_decay * p
        m = exp_avg[i]
        m = m + one_minus_beta1 * (g - m)
        exp_avg[i] = m
        v = exp_avg_sq[i] * beta2 + one_minus_beta2 * g * g
        exp_avg_sq[i] = v
        if amsgrad:
            v = np.maximum(max_exp_avg_sq[i], v)  # np.maximum: a nan wins, as in NumPy
            max_exp_avg_sq[i] = v
        denom = np.sqrt(v) / bias_correction2_sqrt + eps
        param[i] = p - step_size * m / denom


def _flat_views(param, grad, *state):
    """1-D views of ``param``, ``grad`` and the state arrays (None ones become empty), or None.

    The loops write through ``param`` and the state, so those must be C-contiguous,
    writeable (``flags.carray``) float32/float64 arrays of one dtype and shape;
    ``grad`` is only read and may be copied into a contiguous array.
    """
    dtype, shape = param.dtype, param.shape
    if dtype.char not in "fd" or not param.flags.carray \
            or grad.dtype != dtype or grad.shape != shape:
        return None
    views = [param.ravel(), np.ascontiguousarray(grad).ravel()]
    for array in state:
        if array is None:
            views.append(_EMPTY[dtype.char])
        elif array.dtype != dtype or array.shape != shape or not array.flags.carray:
            return None
        else:
            views.append(array.ravel())
    return views


_EMPTY = {"f": np.empty(0, np.float32), "d": np.empty(0, np.float64)}  # stands for an unused state
