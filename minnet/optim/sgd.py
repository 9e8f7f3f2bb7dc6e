"""Stochastic gradient descent, with optional momentum, Nesterov and weight decay.

PyTorch's algorithm (``torch.optim.SGD``), for parameter p with gradient g,
learning rate lr, momentum mu, dampening tau, weight decay lambda; ``_update_one``
below is these lines in NumPy::

    g = -g                          if maximize (climb instead of descend)
    g = g + lambda * p              if lambda != 0 (the gradient of an L2 penalty)
    if mu != 0:
        b = g                       on the first step (no dampening there)
        b = mu * b + (1 - tau) * g  afterwards
        g = g + mu * b              if nesterov (look ahead), else g = b
    p = p - lr * g
"""
from __future__ import annotations

import numpy as np

from ..tensor import wrap_array
from .optimizer import Optimizer, _check_implementation_flags, _check_number, compiled_updates


class SGD(Optimizer):
    """``SGD(params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *, maximize=False)``.

    State per parameter: ``momentum_buffer`` (only when ``momentum != 0``).
    PyTorch's ``foreach``/``fused``/``differentiable`` are accepted: see
    ``_check_implementation_flags``.
    """

    def __init__(self, params, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False,
                 foreach=None, differentiable: bool = False, fused=None):
        _check_implementation_flags("SGD", foreach, fused, differentiable=differentiable)
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

    def _update_one(self, param, group: dict) -> None:
        """One step of one parameter, in place: the module docstring's lines."""
        # Python floats (not NumPy scalars), so float32 arrays stay float32
        lr, momentum = float(group["lr"]), float(group["momentum"])
        dampening, weight_decay = float(group["dampening"]), float(group["weight_decay"])
        p = param._data
        g = self._grad_array(param, maximize=group["maximize"])
        if weight_decay != 0:
            g = g + weight_decay * p
        if momentum != 0:
            state = self.state[param]
            if state.get("momentum_buffer") is None:
                state["momentum_buffer"] = wrap_array(g.copy())  # first step: b = g
            else:
                b = state["momentum_buffer"]._data
                b *= momentum
                b += (1 - dampening) * g
            b = state["momentum_buffer"]._data
            g = g + momentum * b if group["nesterov"] else b
        p -= lr * g

    def _fused_update_one(self, param, group: dict) -> bool:
        """The fast path: ``_update_one`` as one compiled loop, the same numbers."""
        momentum = float(group["momentum"])
        buffer, first_step = None, False
        if momentum != 0:
            state = self.state[param]
            first_step = state.get("momentum_buffer") is None
            if first_step:
                buffer = np.empty_like(param._data)  # the loop fills it with g
            else:
                buffer = state["momentum_buffer"]._data
        # the gradient as it is: one of another dtype is declined (the NumPy lines cast it)
        done = compiled_updates().sgd_update_numba(
            param._data, param._grad._data, buffer, float(group["lr"]), momentum,
            float(group["dampening"]), float(group["weight_decay"]), bool(group["nesterov"]),
            bool(group["maximize"]), first_step)
        if done and first_step:
            state["momentum_buffer"] = wrap_array(buffer)
        return done
