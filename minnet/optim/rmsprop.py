"""RMSprop: divide the gradient by a running root-mean-square of recent gradients.

For each parameter ``p`` with gradient ``g`` (PyTorch's exact rule)::

    g = g + weight_decay * p                    # if weight_decay != 0
    v = alpha * v + (1 - alpha) * g * g         # running mean of g^2
    if centered:                                # use the variance instead of g^2
        g_avg = g_avg + (1 - alpha) * (g - g_avg)
        avg = sqrt(v - g_avg * g_avg) + eps
    else:
        avg = sqrt(v) + eps
    if momentum > 0:
        buf = momentum * buf + g / avg
        p = p - lr * buf
    else:
        p = p - lr * g / avg
"""
from __future__ import annotations


import numpy as np

from ..tensor import wrap_array
from . import _arith
from .optimizer import Optimizer, _check_number


class RMSprop(Optimizer):
    """``RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, *, maximize=False)``.

    State per parameter: ``step`` (int), ``square_avg``, and ``momentum_buffer``
    (when ``momentum > 0``) and ``grad_avg`` (when ``centered``).
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, *,
                 maximize: bool = False):
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                        momentum=momentum, centered=centered, maximize=maximize)
        self._validate_group(defaults)
        super().__init__(params, defaults)

    def _validate_group(self, group: dict) -> None:
        _check_number("RMSprop", "learning rate", group["lr"])
        _check_number("RMSprop", "epsilon value", group["eps"])
        _check_number("RMSprop", "momentum value", group["momentum"])
        _check_number("RMSprop", "weight_decay value", group["weight_decay"])
        _check_number("RMSprop", "alpha value", group["alpha"])

    def _state_for(self, param, group: dict) -> dict:
        state = self.state[param]
        if not state:  # lazily created at the first step, like PyTorch
            state["step"] = 0
            state["square_avg"] = wrap_array(np.zeros_like(param.data))
        # also created later if the group's options are changed during training
        if group["momentum"] > 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = wrap_array(np.zeros_like(param.data))
        if group["centered"] and "grad_avg" not in state:
            state["grad_avg"] = wrap_array(np.zeros_like(param.data))
        return state

    def _update_one(self, param, group: dict) -> None:
        lr = float(group["lr"])
        alpha = float(group["alpha"])
        eps = float(group["eps"])
        weight_decay = float(group["weight_decay"])
        momentum = float(group["momentum"])
        state = self._state_for(param, group)
        grad = self._grad_array(param, group["maximize"])
        state["step"] += 1

        if weight_decay != 0:
            grad = _arith.add(grad, param.data, weight_decay)  # grad + wd * p
        square_avg = state["square_avg"].data
        square_avg[...] = _arith.addcmul(square_avg * alpha, grad, grad, 1 - alpha)

        if group["centered"]:
            grad_avg = state["grad_avg"].data
            grad_avg[...] = _arith.lerp(grad_avg, grad, 1 - alpha)
            # sqrt(E[g^2] - E[g]^2): the standard deviation of recent gradients
            avg = np.sqrt(_arith.addcmul(square_avg, grad_avg, grad_avg, -1))
        else:
            avg = np.sqrt(square_avg)
        avg += eps

        if momentum > 0:
            buffer = state["momentum_buffer"].data
            buffer[...] = _arith.addcdiv(buffer * momentum, grad, avg, 1)
            param.data[...] = _arith.add(param.data, buffer, -lr)
        else:
            param.data[...] = _arith.addcdiv(param.data, grad, avg, -lr)
