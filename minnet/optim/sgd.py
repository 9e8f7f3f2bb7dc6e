"""Stochastic gradient descent, with optional momentum, Nesterov and weight decay.

For each parameter ``p`` with gradient ``g`` (PyTorch's exact rule)::

    g = g + weight_decay * p                         # L2 penalty, if weight_decay != 0
    if momentum != 0:
        buf = g                       on the first step (no dampening there)
        buf = momentum * buf + (1 - dampening) * g   afterwards
        g = g + momentum * buf   if nesterov   else   buf
    p = p - lr * g
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from .. import kernels
from ..tensor import wrap_array
from .optimizer import Optimizer, _check_number


class SGD(Optimizer):
    """``SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *, maximize=False)``.

    State per parameter: ``momentum_buffer`` (only when ``momentum != 0``).
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False):
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        self._validate_group(defaults)
        super().__init__(params, defaults)

    def _validate_group(self, group: dict) -> None:
        _check_number("SGD", "learning rate", group["lr"])
        _check_number("SGD", "momentum value", group["momentum"])
        _check_number("SGD", "weight_decay value", group["weight_decay"])
        _check_number("SGD", "dampening value", group["dampening"], minimum=float("-inf"))
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"SGD: Nesterov momentum requires a momentum and zero dampening (got "
                f"momentum={group['momentum']}, dampening={group['dampening']}). "
                f"Hint: SGD(params, lr, momentum=0.9, nesterov=True).")

    def step(self, closure: Optional[Callable] = None):
        """One update of every parameter that has a gradient; returns ``closure()``'s loss.

        The update rule itself (the formulas of this module's docstring, in
        NumPy) is ``sgd_update_reference`` in ``minnet/kernels/optim_update.py``;
        by default a compiled loop that gives the same numbers runs it.
        """
        loss = self._evaluate_closure(closure)
        update = kernels.kernel("sgd_update")  # compiled, or the reference if MINNET_NO_JIT=1
        for group in self.param_groups:
            momentum = float(group["momentum"])
            for param in self._params_with_grad(group):
                buffer, first_step = None, False
                if momentum != 0:
                    buffer, first_step = self._momentum_buffer(param)
                update(param.data, self._grad_array(param), buffer, float(group["lr"]), momentum,
                       float(group["dampening"]), float(group["weight_decay"]),
                       bool(group["nesterov"]), bool(group["maximize"]), first_step)
        return loss

    def _momentum_buffer(self, param) -> tuple:
        """(the velocity array, True if it was just created and the update must fill it)."""
        state = self.state[param]
        buffer = state.get("momentum_buffer")
        if buffer is None:
            buffer = wrap_array(np.empty_like(param.data, order="C"))
            state["momentum_buffer"] = buffer
            return buffer.data, True
        return buffer.data, False
