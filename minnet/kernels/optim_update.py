"""Optimizer updates: SGD and Adam/AdamW for one parameter, in place.

Each update has two versions that must give the same numbers:

* ``*_reference`` -- plain NumPy, one line per formula: read these to learn
  the update rules. Each line makes a temporary array, so a step of a
  784-256-128-10 MLP (235,000 weights) walks memory about 20 times.
* ``*_numba`` -- one compiled loop that reads and writes each entry once.
  In a training step of that MLP this takes optimizer.step from about
  0.5 ms to about 0.1 ms (docs/performance.md).

Rounding matters: minnet's optimizers match PyTorch bit for bit in float32
(``minnet/optim/_arith.py`` explains why and how). ``a * b + c`` rounded once
is done by forming it in float64 and rounding to float32; the loops do that
with ``_fused_multiply_add``; every other operation is done in the array's
own dtype, in the same order as the reference. So reference and kernel agree
exactly, which ``tests/test_kernels_optim.py`` checks.

Scalar arguments (``lr``, ``momentum``, ...) are Python numbers, as in the
optimizer's parameter groups. Combinations of them (``1 - dampening``) are
formed in Python (float64) and then, like every number that meets an array,
converted to the parameter's dtype, as PyTorch converts its scalar arguments.

Shapes: ``param``, ``grad`` and every state array have the same shape; the
updates write ``param`` and the state arrays in place and return nothing.
"""
from __future__ import annotations

import math

import numba
import numpy as np
from numba import types
from numba.extending import overload

from ..optim import _arith


# --------------------------------------------------------------------------
# SGD
# --------------------------------------------------------------------------
def sgd_update_reference(param, grad, momentum_buffer, lr, momentum, dampening, weight_decay,
                         nesterov: bool, maximize: bool, first_step: bool) -> None:
    """One SGD step of one parameter (PyTorch's rule, see ``minnet/optim/sgd.py``).

    ``momentum_buffer`` is ignored when ``momentum == 0``; on the first step
    (``first_step``) it is overwritten with the gradient.
    """
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = _arith.add(grad, param, weight_decay)  # grad + wd * p
    if momentum != 0:
        if first_step:
            momentum_buffer[...] = grad  # the first buffer is the gradient itself
        else:
            # momentum * buf + (1 - dampening) * grad
            momentum_buffer[...] = _arith.add(momentum_buffer * momentum, grad, 1 - dampening)
        if nesterov:
            grad = _arith.add(grad, momentum_buffer, momentum)  # look ahead: grad + momentum * buf
        else:
            grad = momentum_buffer
    param[...] = _arith.add(param, grad, -lr)  # p - lr * grad


def sgd_update_numba(param, grad, momentum_buffer, lr, momentum, dampening, weight_decay,
                     nesterov: bool, maximize: bool, first_step: bool) -> None:
    """Same contract as ``sgd_update_reference``; one compiled pass over the entries."""
    flat = _flat_views(param, grad, momentum_buffer if momentum != 0 else None)
    if flat is None:  # an unusual layout (e.g. a transposed view): the reference handles it
        sgd_update_reference(param, grad, momentum_buffer, lr, momentum, dampening,
                             weight_decay, nesterov, maximize, first_step)
        return
    flat_param, flat_grad, flat_buffer = flat
    real = param.dtype.type  # each Python number becomes the dtype, as in the reference
    _sgd_loop(flat_param, flat_grad, flat_buffer, real(-lr), real(momentum),
              real(1 - dampening), real(weight_decay), bool(nesterov), bool(maximize),
              bool(first_step))


@numba.njit(cache=True)
def _sgd_loop(param, grad, buffer, neg_lr, momentum, one_minus_dampening, weight_decay,
              nesterov, maximize, first_step):
    """The reference's lines, entry by entry (all arrays 1-D, scalars of their dtype)."""
    if momentum != 0 and not (maximize or weight_decay != 0 or nesterov or first_step):
        # The usual case gets a loop without branches, which the compiler turns
        # into vector instructions: 40 instead of 63 us for 200,000 entries.
        for i in range(param.shape[0]):
            b = _fused_multiply_add(one_minus_dampening, grad[i], buffer[i] * momentum)
            buffer[i] = b
            param[i] = _fused_multiply_add(neg_lr, b, param[i])
        return
    for i in range(param.shape[0]):
        g = grad[i]
        if maximize:
            g = -g
        if weight_decay != 0:
            g = _fused_multiply_add(weight_decay, param[i], g)
        if momentum != 0:
            if first_step:
                b = g
            else:
                b = _fused_multiply_add(one_minus_dampening, g, buffer[i] * momentum)
            buffer[i] = b
            if nesterov:
                g = _fused_multiply_add(momentum, b, g)
            else:
                g = b
        param[i] = _fused_multiply_add(neg_lr, g, param[i])


# --------------------------------------------------------------------------
# Adam / AdamW
# --------------------------------------------------------------------------
def adam_update_reference(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1, beta2,
                          eps, weight_decay, decoupled_weight_decay: bool, amsgrad: bool,
                          maximize: bool, step: int) -> None:
    """One Adam (or AdamW) step of one parameter (see ``minnet/optim/adam.py``).

    ``step`` counts from 1 (this update included). ``max_exp_avg_sq`` is used
    only when ``amsgrad``.
    """
    if maximize:
        grad = -grad
    if weight_decay != 0:
        if decoupled_weight_decay:
            param *= 1 - lr * weight_decay  # AdamW: shrink the weights directly
        else:
            grad = _arith.add(grad, param, weight_decay)  # Adam: grad + wd * p
    exp_avg[...] = _arith.lerp(exp_avg, grad, 1 - beta1)  # beta1 * m + (1 - beta1) * g
    exp_avg_sq[...] = _arith.addcmul(exp_avg_sq * beta2, grad, grad, 1 - beta2)

    bias_correction1 = 1 - beta1 ** step
    bias_correction2_sqrt = math.sqrt(1 - beta2 ** step)
    step_size = lr / bias_correction1

    second_moment = exp_avg_sq
    if amsgrad:
        np.maximum(max_exp_avg_sq, exp_avg_sq, out=max_exp_avg_sq)
        second_moment = max_exp_avg_sq
    denom = np.sqrt(second_moment) / bias_correction2_sqrt + eps
    param[...] = _arith.addcdiv(param, exp_avg, denom, -step_size)  # p - step_size * m / denom


def adam_update_numba(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1, beta2,
                      eps, weight_decay, decoupled_weight_decay: bool, amsgrad: bool,
                      maximize: bool, step: int) -> None:
    """Same contract as ``adam_update_reference``; one compiled pass over the entries."""
    flat = _flat_views(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq if amsgrad else None)
    if flat is None:
        adam_update_reference(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, lr, beta1, beta2,
                              eps, weight_decay, decoupled_weight_decay, amsgrad, maximize, step)
        return
    flat_param, flat_grad, flat_avg, flat_avg_sq, flat_max = flat
    # The scalars exactly as the reference's array expressions round them: each
    # Python number becomes the dtype before it meets an array (NumPy 2's rule).
    real = param.dtype.type
    weight = real(1 - beta1)
    decay = weight_decay != 0
    _adam_loop(flat_param, flat_grad, flat_avg, flat_avg_sq, flat_max,
               real(1 - lr * weight_decay), real(weight_decay),
               decay and bool(decoupled_weight_decay), decay and not decoupled_weight_decay,
               weight, -(real(1) - weight), bool(abs(weight) < 0.5),
               real(beta2), real(1 - beta2),
               real(math.sqrt(1 - beta2 ** step)), real(eps), real(-(lr / (1 - beta1 ** step))),
               bool(amsgrad), bool(maximize))


@numba.njit(cache=True)
def _adam_loop(param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, shrink, weight_decay,
               decoupled, coupled, weight1, weight1_from_end, lerp_from_start,
               beta2, one_minus_beta2, bias_correction2_sqrt, eps, neg_step_size,
               amsgrad, maximize):
    """The reference's lines, entry by entry (all arrays 1-D, scalars of their dtype)."""
    for i in range(param.shape[0]):
        g = grad[i]
        if maximize:
            g = -g
        p = param[i]
        if decoupled:
            p = p * shrink
        elif coupled:
            g = _fused_multiply_add(weight_decay, p, g)
        m = exp_avg[i]
        difference = g - m
        if lerp_from_start:  # _arith.lerp: the more accurate side for this weight
            m = _fused_multiply_add(weight1, difference, m)
        else:
            m = _fused_multiply_add(weight1_from_end, difference, g)
        exp_avg[i] = m
        v = _fused_multiply_add(one_minus_beta2 * g, g, exp_avg_sq[i] * beta2)
        exp_avg_sq[i] = v
        if amsgrad:
            v = np.maximum(max_exp_avg_sq[i], v)
            max_exp_avg_sq[i] = v
        denom = np.sqrt(v) / bias_correction2_sqrt + eps
        param[i] = p + (neg_step_size * m) / denom


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def _fused_multiply_add(a, b, c):
    """``a * b + c`` rounded once for float32 (see ``_arith._fma``); compiled via overload."""
    return _arith._fma(a, b, c)


@overload(_fused_multiply_add)
def _fused_multiply_add_compiled(a, b, c):
    if isinstance(c, types.Float) and c.bitwidth == 32:
        def fma32(a, b, c):
            # the product of two float32 numbers is exact in float64: one rounding, at the end
            return np.float32(np.float64(a) * np.float64(b) + np.float64(c))
        return fma32

    def plain(a, b, c):
        return a * b + c
    return plain


def _flat_views(param, grad, *state):
    """1-D views of ``param`` and the state arrays (None ones become empty), or None.

    The loops need C-contiguous arrays of one dtype and shape that they can
    write through; anything else (rare: a hand-made view, a state of another
    shape after ``load_state_dict``) goes to the reference. ``grad`` is only
    read, so it may be copied into a contiguous array.
    """
    if not param.flags.c_contiguous or not param.flags.writeable \
            or param.dtype not in (np.float32, np.float64):
        return None
    flat_state = []
    for array in state:
        if array is None:
            flat_state.append(np.empty(0, param.dtype))
            continue
        if array.dtype != param.dtype or array.shape != param.shape \
                or not array.flags.c_contiguous or not array.flags.writeable:
            return None
        flat_state.append(array.reshape(-1))
    if grad.dtype != param.dtype or grad.shape != param.shape:
        return None
    return (param.reshape(-1), np.ascontiguousarray(grad).reshape(-1), *flat_state)
