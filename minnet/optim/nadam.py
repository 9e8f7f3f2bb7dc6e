"""NAdam: Adam with Nesterov momentum (Dozat, 2016): the step looks one momentum step ahead.

``torch.optim.NAdam``'s algorithm for parameter p, gradient g, step t = 1, 2, ...;
``_update_one`` is it in NumPy::

    g = -g                                         if maximize
    p = p * (1 - lr * weight_decay)                if decoupled_weight_decay (NAdamW)
    g = g + weight_decay * p                       otherwise, if weight_decay != 0
    mu_t = beta1 * (1 - 0.5 * 0.96**(t * momentum_decay))     the momentum schedule
    mu_product = mu_1 * mu_2 * ... * mu_t
    m = m + (1 - beta1) * (g - m)                  first moment, as Adam
    v = beta2 * v + (1 - beta2) * g * g            second moment, as Adam
    denom = sqrt(v / (1 - beta2**t)) + eps
    p = p - lr * (1 - mu_t) / (1 - mu_product) * g / denom                  this gradient
    p = p - lr * mu_{t+1} / (1 - mu_product * mu_{t+1}) * m / denom         next momentum
"""
from __future__ import annotations

import numpy as np

from ..tensor import wrap_array
from .adam import check_adam_options
from .optimizer import Optimizer, _check_implementation_flags, _check_number


class NAdam(Optimizer):
    """``NAdam(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, momentum_decay=4e-3, decoupled_weight_decay=False, *, maximize=False)``.

    State per parameter: ``step`` (int), ``mu_product`` (a float), ``exp_avg``, ``exp_avg_sq``.
    """

    def __init__(self, params, lr: float = 2e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach=None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False):
        _check_implementation_flags("NAdam", foreach, None, capturable, differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay,
                        momentum_decay=momentum_decay,
                        decoupled_weight_decay=decoupled_weight_decay, maximize=maximize)
        self._validate_group(defaults)
        super().__init__(params, defaults)

    def _validate_group(self, group: dict) -> None:
        check_adam_options("NAdam", group)
        _check_number("NAdam", "momentum_decay value", group["momentum_decay"])

    def _update_one(self, param, group: dict) -> None:
        """One step of one parameter, in place: the module docstring's lines."""
        lr, eps, weight_decay = float(group["lr"]), float(group["eps"]), \
            float(group["weight_decay"])
        beta1, beta2 = (float(beta) for beta in group["betas"])
        momentum_decay = float(group["momentum_decay"])
        state = self.state[param]
        if not state:  # lazily created at the first step, like PyTorch
            state["step"] = 0
            state["mu_product"] = 1.0
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
        mu = beta1 * (1.0 - 0.5 * 0.96 ** (t * momentum_decay))
        mu_next = beta1 * (1.0 - 0.5 * 0.96 ** ((t + 1) * momentum_decay))
        state["mu_product"] *= mu
        mu_product = state["mu_product"]
        m, v = state["exp_avg"]._data, state["exp_avg_sq"]._data
        m += (1 - beta1) * (g - m)
        v *= beta2
        v += (1 - beta2) * g * g
        denom = np.sqrt(v / (1 - beta2 ** t)) + eps
        p -= lr * (1.0 - mu) / (1.0 - mu_product) * g / denom
        p -= lr * mu_next / (1.0 - mu_product * mu_next) * m / denom
