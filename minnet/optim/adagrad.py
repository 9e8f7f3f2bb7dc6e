"""Adagrad: each weight's step shrinks with the sum of all its squared gradients so far.

``torch.optim.Adagrad``'s algorithm for parameter p, gradient g; ``_update_one`` is it in NumPy::

    g = -g                                            if maximize
    g = g + weight_decay * p                          if weight_decay != 0
    clr = lr / (1 + (step - 1) * lr_decay)            step counts from 1
    s = s + g * g                                     s starts at initial_accumulator_value
    p = p - clr * g / (sqrt(s) + eps)

Weights with large past gradients take small steps and rarely-updated weights large
ones, which suits sparse features; since ``s`` only grows, the steps only shrink
(RMSprop and Adam keep a decaying average instead).
"""
from __future__ import annotations

import numpy as np

from ..tensor import wrap_array
from .optimizer import Optimizer, _check_implementation_flags, _check_number


class Adagrad(Optimizer):
    """``Adagrad(params, lr=0.01, lr_decay=0, weight_decay=0, initial_accumulator_value=0,
    eps=1e-10, *, maximize=False)``.

    State per parameter: ``step`` (int) and ``sum`` (s, the accumulated squared gradients).
    """

    def __init__(self, params, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, foreach=None, *,
                 maximize: bool = False, differentiable: bool = False, fused=None):
        _check_implementation_flags("Adagrad", foreach, fused, differentiable=differentiable)
        defaults = dict(lr=lr, lr_decay=lr_decay, eps=eps, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, maximize=maximize)
        self._validate_group(defaults)
        super().__init__(params, defaults)

    def _validate_group(self, group: dict) -> None:
        _check_number("Adagrad", "learning rate", group["lr"])
        _check_number("Adagrad", "lr_decay value", group["lr_decay"])
        _check_number("Adagrad", "weight_decay value", group["weight_decay"])
        _check_number("Adagrad", "initial_accumulator_value value",
                      group["initial_accumulator_value"])
        _check_number("Adagrad", "epsilon value", group["eps"])

    def _update_one(self, param, group: dict) -> None:
        """One step of one parameter, in place: the module docstring's lines."""
        # Python floats (not NumPy scalars), so float32 arrays stay float32
        lr, lr_decay, eps = float(group["lr"]), float(group["lr_decay"]), float(group["eps"])
        weight_decay = float(group["weight_decay"])
        state = self.state[param]
        if not state:  # lazily created at the first step
            state["step"] = 0
            state["sum"] = wrap_array(np.full_like(param._data,
                                                   float(group["initial_accumulator_value"])))
        state["step"] += 1
        p = param._data
        g = self._grad_array(param, maximize=group["maximize"])
        if weight_decay != 0:
            g = g + weight_decay * p
        clr = lr / (1 + (state["step"] - 1) * lr_decay)
        s = state["sum"]._data
        s += g * g
        p -= clr * g / (np.sqrt(s) + eps)
