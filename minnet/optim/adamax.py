"""Adamax: Adam with the infinity norm, a running maximum of |g| instead of a mean of g^2.

``torch.optim.Adamax``'s algorithm for parameter p, gradient g, step t = 1, 2, ...;
``_update_one`` is it in NumPy::

    g = -g                                     if maximize
    g = g + weight_decay * p                   if weight_decay != 0
    m = m + (1 - beta1) * (g - m)              first moment, as Adam
    u = max(beta2 * u, |g| + eps)              decays slowly, jumps up at a large |g|
    p = p - (lr / (1 - beta1**t)) * m / u

``u`` needs no bias correction: a maximum is not pulled towards its zero start.
"""
from __future__ import annotations

import numpy as np

from ..tensor import wrap_array
from .adam import check_adam_options
from .optimizer import Optimizer, _check_implementation_flags


class Adamax(Optimizer):
    """``Adamax(params, lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, *, maximize=False)``.

    State per parameter: ``step`` (int), ``exp_avg`` (m) and ``exp_inf`` (u).
    """

    def __init__(self, params, lr: float = 2e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, foreach=None, *, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False):
        _check_implementation_flags("Adamax", foreach, None, capturable, differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, maximize=maximize)
        self._validate_group(defaults)
        super().__init__(params, defaults)

    def _validate_group(self, group: dict) -> None:
        check_adam_options("Adamax", group)

    def _update_one(self, param, group: dict) -> None:
        """One step of one parameter, in place: the module docstring's lines."""
        lr, eps, weight_decay = float(group["lr"]), float(group["eps"]), \
            float(group["weight_decay"])
        beta1, beta2 = (float(beta) for beta in group["betas"])
        state = self.state[param]
        if not state:  # lazily created at the first step, like PyTorch
            state["step"] = 0
            state["exp_avg"] = wrap_array(np.zeros_like(param._data))
            state["exp_inf"] = wrap_array(np.zeros_like(param._data))
        state["step"] += 1
        p = param._data
        g = self._grad_array(param, maximize=group["maximize"])
        if weight_decay != 0:
            g = g + weight_decay * p
        m, u = state["exp_avg"]._data, state["exp_inf"]._data
        m += (1 - beta1) * (g - m)
        u *= beta2
        np.maximum(u, np.abs(g) + eps, out=u)
        p -= (lr / (1 - beta1 ** state["step"])) * m / u
