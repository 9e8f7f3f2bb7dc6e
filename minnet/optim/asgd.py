"""ASGD: SGD that also keeps a running average ``ax`` of the weights (Polyak averaging).

The averaged weights are often better than the last ones when SGD ends up bouncing
around a minimum; averaging starts after ``t0`` steps. ``torch.optim.ASGD``'s algorithm
for parameter p, gradient g, step t = 1, 2, ...; ``_update_one`` is it in NumPy::

    g = -g                                     if maximize
    g = g + weight_decay * p                   if weight_decay != 0
    p = p * (1 - lambd * eta)                  decay
    p = p - eta * g                            the SGD step (eta starts at lr)
    ax = ax + mu * (p - ax)                    the average (ax = p while mu == 1)
    eta = lr / (1 + lambd * lr * t) ** alpha   the next step's size
    mu = 1 / max(1, t - t0)                    the next average's weight

``optimizer.state[p]["ax"]`` holds the averaged weights.
"""
from __future__ import annotations

import numpy as np

from ..tensor import wrap_array
from .optimizer import Optimizer, _check_implementation_flags, _check_number


class ASGD(Optimizer):
    """``ASGD(params, lr=1e-2, lambd=1e-4, alpha=0.75, t0=1e6, weight_decay=0, *, maximize=False)``.

    State per parameter: ``step`` (int), ``eta`` and ``mu`` (floats; PyTorch: 0-d tensors)
    and ``ax`` (the averaged weights).
    """

    def __init__(self, params, lr: float = 1e-2, lambd: float = 1e-4, alpha: float = 0.75,
                 t0: float = 1e6, weight_decay: float = 0, foreach=None,
                 maximize: bool = False, differentiable: bool = False,
                 capturable: bool = False):
        _check_implementation_flags("ASGD", foreach, None, capturable, differentiable)
        defaults = dict(lr=lr, lambd=lambd, alpha=alpha, t0=t0, weight_decay=weight_decay,
                        maximize=maximize)
        self._validate_group(defaults)
        super().__init__(params, defaults)

    def _validate_group(self, group: dict) -> None:
        _check_number("ASGD", "learning rate", group["lr"])
        _check_number("ASGD", "weight_decay value", group["weight_decay"])

    def _update_one(self, param, group: dict) -> None:
        """One step of one parameter, in place: the module docstring's lines."""
        lr, lambd, alpha = float(group["lr"]), float(group["lambd"]), float(group["alpha"])
        t0, weight_decay = float(group["t0"]), float(group["weight_decay"])
        state = self.state[param]
        if not state:  # lazily created at the first step, like PyTorch
            state["step"] = 0
            state["eta"] = lr
            state["mu"] = 1.0
            state["ax"] = wrap_array(np.zeros_like(param._data))
        state["step"] += 1
        t = state["step"]
        p = param._data
        g = self._grad_array(param, maximize=group["maximize"])
        if weight_decay != 0:
            g = g + weight_decay * p
        eta = state["eta"]
        p *= 1 - lambd * eta
        p -= eta * g
        ax = state["ax"]._data
        if state["mu"] != 1:
            ax += (p - ax) * state["mu"]
        else:
            ax[...] = p
        state["eta"] = lr / ((1 + lambd * lr * t) ** alpha)
        state["mu"] = 1 / max(1, t - t0)
