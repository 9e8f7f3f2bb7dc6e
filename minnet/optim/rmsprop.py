"""RMSprop: divide the gradient by a running root-mean-square of recent gradients.

``torch.optim.RMSprop``'s algorithm for parameter p, gradient g; ``_update_one`` is it in NumPy::

    g = -g                                    if maximize
    g = g + weight_decay * p                  if weight_decay != 0
    v = alpha * v + (1 - alpha) * g * g       running mean of g^2
    if centered:                              use the variance instead of g^2
        g_avg = g_avg + (1 - alpha) * (g - g_avg)
        avg = sqrt(v - g_avg * g_avg) + eps
    else:
        avg = sqrt(v) + eps
    if momentum > 0:
        b = momentum * b + g / avg
        p = p - lr * b
    else:
        p = p - lr * g / avg
"""
from __future__ import annotations

import numpy as np

from ..tensor import wrap_array
from .optimizer import Optimizer, _check_implementation_flags, _check_number


class RMSprop(Optimizer):
    """``RMSprop(params, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0, momentum=0, centered=False, *, maximize=False)``.

    State per parameter: ``step`` (int), ``square_avg``, and ``momentum_buffer``
    (when ``momentum > 0``) and ``grad_avg`` (when ``centered``).
    """

    def __init__(self, params, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, *,
                 capturable: bool = False, foreach=None, maximize: bool = False,
                 differentiable: bool = False):
        _check_implementation_flags("RMSprop", foreach, None, capturable, differentiable)
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
            state["square_avg"] = wrap_array(np.zeros_like(param._data))
        # also created later if the group's options are changed during training
        if group["momentum"] > 0 and "momentum_buffer" not in state:
            state["momentum_buffer"] = wrap_array(np.zeros_like(param._data))
        if group["centered"] and "grad_avg" not in state:
            state["grad_avg"] = wrap_array(np.zeros_like(param._data))
        return state

    def _update_one(self, param, group: dict) -> None:
        """One step of one parameter, in place: the module docstring's lines."""
        # Python floats (not NumPy scalars), so float32 arrays stay float32
        lr, alpha, eps = float(group["lr"]), float(group["alpha"]), float(group["eps"])
        weight_decay, momentum = float(group["weight_decay"]), float(group["momentum"])
        state = self._state_for(param, group)
        state["step"] += 1
        p = param._data
        g = self._grad_array(param, maximize=group["maximize"])
        if weight_decay != 0:
            g = g + weight_decay * p
        v = state["square_avg"]._data
        v *= alpha
        v += (1 - alpha) * g * g
        if group["centered"]:
            g_avg = state["grad_avg"]._data
            g_avg += (1 - alpha) * (g - g_avg)
            avg = np.sqrt(v - g_avg * g_avg) + eps  # the spread of recent gradients
        else:
            avg = np.sqrt(v) + eps
        if momentum > 0:
            b = state["momentum_buffer"]._data
            b *= momentum
            b += g / avg
            p -= lr * b
        else:
            p -= lr * g / avg
