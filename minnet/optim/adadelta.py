"""Adadelta: a per-weight step size from running averages of squared gradients and steps.

``torch.optim.Adadelta``'s algorithm for parameter p, gradient g; ``_update_one`` is it in NumPy::

    g = -g                                            if maximize
    g = g + weight_decay * p                          if weight_decay != 0
    v = rho * v + (1 - rho) * g * g                   running mean of g^2
    delta = sqrt(u + eps) / sqrt(v + eps) * g         step in units of past steps
    u = rho * u + (1 - rho) * delta * delta           running mean of step^2
    p = p - lr * delta

The ratio of the two root-mean-squares gives each step the parameter's units: hence the
default ``lr`` of 1.0.
"""
from __future__ import annotations

import numpy as np

from ..tensor import wrap_array
from .optimizer import Optimizer, _check_implementation_flags, _check_number


class Adadelta(Optimizer):
    """``Adadelta(params, lr=1.0, rho=0.9, eps=1e-6, weight_decay=0, *, maximize=False)``.

    State per parameter: ``step`` (int), ``square_avg`` (v) and ``acc_delta`` (u).
    """

    def __init__(self, params, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach=None, *, capturable: bool = False,
                 maximize: bool = False, differentiable: bool = False):
        _check_implementation_flags("Adadelta", foreach, None, capturable, differentiable)
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
        """One step of one parameter, in place: the module docstring's lines."""
        # Python floats (not NumPy scalars), so float32 arrays stay float32
        lr, rho, eps = float(group["lr"]), float(group["rho"]), float(group["eps"])
        weight_decay = float(group["weight_decay"])
        state = self.state[param]
        if not state:  # lazily created at the first step, like PyTorch
            state["step"] = 0
            state["square_avg"] = wrap_array(np.zeros_like(param._data))
            state["acc_delta"] = wrap_array(np.zeros_like(param._data))
        state["step"] += 1
        p = param._data
        g = self._grad_array(param, maximize=group["maximize"])
        if weight_decay != 0:
            g = g + weight_decay * p
        v, u = state["square_avg"]._data, state["acc_delta"]._data
        v *= rho
        v += (1 - rho) * g * g
        delta = np.sqrt(u + eps) / np.sqrt(v + eps) * g
        u *= rho
        u += (1 - rho) * delta * delta
        p -= lr * delta
