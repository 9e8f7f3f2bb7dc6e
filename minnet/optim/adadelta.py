"""Adadelta: a per-weight step size from running averages of squared gradients and steps.

For each parameter ``p`` with gradient ``g`` (PyTorch's exact rule)::

    g = g + weight_decay * p                          # if weight_decay != 0
    v = rho * v + (1 - rho) * g * g                   # running mean of g^2
    delta = sqrt(u + eps) / sqrt(v + eps) * g         # step in units of past steps
    u = rho * u + (1 - rho) * delta * delta           # running mean of step^2
    p = p - lr * delta

The ratio of the two root-mean-squares gives each step the units of the
parameter, which is why the default ``lr`` is 1.0.
"""
from __future__ import annotations


import numpy as np

from ..tensor import wrap_array
from . import _arith
from .optimizer import Optimizer, _check_number


class Adadelta(Optimizer):
    """``Adadelta(params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, *, maximize=False)``.

    State per parameter: ``step`` (int), ``square_avg`` (v) and ``acc_delta`` (u).
    """

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, *, maximize: bool = False):
        defaults = dict(lr=lr, rho=rho, eps=eps, weight_decay=weight_decay, maximize=maximize)
        self._validate_group(defaults)
        super().__init__(params, defaults)

    def _validate_group(self, group: dict) -> None:
        _check_number("Adadelta", "learning rate", group["lr"])
        _check_number("Adadelta", "epsilon value", group["eps"])
        _check_number("Adadelta", "weight_decay value", group["weight_decay"])
        if not 0.0 <= group["rho"] <= 1.0:
            raise ValueError(f"Adadelta: Invalid rho value: {group['rho']} (expected 0 <= rho "
                             f"<= 1)")

    def _update_one(self, param, group: dict) -> None:
        state = self.state[param]
        if not state:
            state["step"] = 0
            state["square_avg"] = wrap_array(np.zeros_like(param.data))
            state["acc_delta"] = wrap_array(np.zeros_like(param.data))
        state["step"] += 1
        rho, eps, lr = group["rho"], group["eps"], group["lr"]
        grad = self._grad_array(param, group["maximize"])
        if group["weight_decay"] != 0:
            grad = _arith.add(grad, param.data, group["weight_decay"])  # g + wd * p
        dtype = param.data.dtype.type
        square_avg, acc_delta = state["square_avg"].data, state["acc_delta"].data
        square_avg[...] = _arith.addcmul(square_avg * dtype(rho), grad, grad, 1 - rho)
        delta = np.sqrt(acc_delta + dtype(eps)) / np.sqrt(square_avg + dtype(eps)) * grad
        acc_delta[...] = _arith.addcmul(acc_delta * dtype(rho), delta, delta, 1 - rho)
        param.data[...] = _arith.add(param.data, delta, -lr)
