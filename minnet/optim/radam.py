"""RAdam: Adam whose adaptive step is switched on gradually (Liu et al., 2019).

In the first steps ``v`` rests on a handful of gradients, so ``1 / sqrt(v)`` is noisy;
RAdam measures that with ``rho_t`` (the length of the approximated simple moving average)
and, until ``rho_t > 5``, takes plain momentum steps; then it scales Adam's step by a
rectification factor ``r`` that grows towards 1. ``torch.optim.RAdam``'s algorithm for
parameter p, gradient g, step t = 1, 2, ...; ``_update_one`` is it in NumPy::

    g = -g                                          if maximize
    p = p * (1 - lr * weight_decay)                 if decoupled_weight_decay
    g = g + weight_decay * p                        otherwise, if weight_decay != 0
    m = m + (1 - beta1) * (g - m)
    v = beta2 * v + (1 - beta2) * g * g
    m_hat = m / (1 - beta1**t)
    rho_inf = 2 / (1 - beta2) - 1
    rho_t = rho_inf - 2 t beta2**t / (1 - beta2**t)
    if rho_t > 5:
        r = sqrt((rho_t - 4)(rho_t - 2) rho_inf / ((rho_inf - 4)(rho_inf - 2) rho_t))
        p = p - lr * m_hat * sqrt(1 - beta2**t) / (sqrt(v) + eps) * r
    else:
        p = p - lr * m_hat
"""
from __future__ import annotations

import math

import numpy as np

from ..tensor import wrap_array
from .adam import check_adam_options
from .optimizer import Optimizer, _check_implementation_flags


class RAdam(Optimizer):
    """``RAdam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, decoupled_weight_decay=False, *, maximize=False)``.

    State per parameter: ``step`` (int), ``exp_avg`` (m) and ``exp_avg_sq`` (v).
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, decoupled_weight_decay: bool = False, *,
                 foreach=None, maximize: bool = False, capturable: bool = False,
                 differentiable: bool = False):
        _check_implementation_flags("RAdam", foreach, None, capturable, differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        self._validate_group(defaults)
        super().__init__(params, defaults)

    def _validate_group(self, group: dict) -> None:
        check_adam_options("RAdam", group)

    def _update_one(self, param, group: dict) -> None:
        """One step of one parameter, in place: the module docstring's lines."""
        lr, eps, weight_decay = float(group["lr"]), float(group["eps"]), \
            float(group["weight_decay"])
        beta1, beta2 = (float(beta) for beta in group["betas"])
        state = self.state[param]
        if not state:  # lazily created at the first step, like PyTorch
            state["step"] = 0
            state["exp_avg"] = wrap_array(np.zeros_like(param._data))
            state["exp_avg_sq"] = wrap_array(np.zeros_like(param._data))
        state["step"] += 1
        t = state["step"]
        p = param._data
        g = self._grad_array(param, maximize=group["maximize"])
        if weight_decay != 0:
            if group["decoupled_weight_decay"]:
                p *= 1 - lr * weight_decay
            else:
                g = g + weight_decay * p
        m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
        m += (1 - beta1) * (g - m)
        v *= beta2
        v += (1 - beta2) * g * g
        bias_correction2 = 1 - beta2 ** t
        m_hat = m / (1 - beta1 ** t)
        rho_inf = 2 / (1 - beta2) - 1
        rho_t = rho_inf - 2 * t * (beta2 ** t) / bias_correction2
        if rho_t > 5.0:
            rectification = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf
                                      / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
            adaptive = math.sqrt(bias_correction2) / (np.sqrt(v) + eps)
            p -= m_hat * lr * adaptive * rectification
        else:
            p -= m_hat * lr
