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

from ..tensor import wrap_array
from . import _arith
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
        """One update of every parameter that has a gradient; returns ``closure()``'s loss."""
        loss = self._evaluate_closure(closure)
        for group in self.param_groups:
            lr = float(group["lr"])
            momentum = float(group["momentum"])
            dampening = float(group["dampening"])
            weight_decay = float(group["weight_decay"])
            for param in self._params_with_grad(group):
                grad = self._grad_array(param, group["maximize"])
                if weight_decay != 0:
                    grad = _arith.add(grad, param.data, weight_decay)  # grad + wd * p
                if momentum != 0:
                    grad = self._apply_momentum(param, grad, momentum, dampening,
                                                group["nesterov"])
                # p - lr * grad, written into the same array: the Parameter stays the same object
                param.data[...] = _arith.add(param.data, grad, -lr)
        return loss

    def _apply_momentum(self, param, grad, momentum, dampening, nesterov):
        """Update the velocity buffer and return the direction to step along."""
        state = self.state[param]
        buffer = state.get("momentum_buffer")
        if buffer is None:
            buffer = wrap_array(grad.copy())  # first step: the buffer is the gradient itself
            state["momentum_buffer"] = buffer
        else:
            # momentum * buf + (1 - dampening) * grad
            buffer.data[...] = _arith.add(buffer.data * momentum, grad, 1 - dampening)
        if nesterov:
            return _arith.add(grad, buffer.data, momentum)  # look ahead: grad + momentum * buf
        return buffer.data
