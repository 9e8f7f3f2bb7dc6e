"""Adam and AdamW: per-parameter step sizes from running moments of the gradient.

``torch.optim.Adam``/``AdamW``'s algorithm for parameter p, gradient g, step t = 1, 2, ...;
``Adam._update_one`` is it in NumPy::

    g = -g                                    if maximize
    p = p * (1 - lr * weight_decay)           AdamW: decoupled weight decay
    g = g + weight_decay * p                  Adam: L2 penalty folded into g
    m = m + (1 - beta1) * (g - m)             first moment (= beta1 m + (1 - beta1) g)
    v = beta2 * v + (1 - beta2) * g * g       second moment
    v = v_max = max(v_max, v)                 amsgrad only
    denom = sqrt(v) / sqrt(1 - beta2**t) + eps
    p = p - (lr / (1 - beta1**t)) * m / denom

``1 - beta**t`` corrects the bias of m and v, which start at 0 (at t=1 the step is
about ``lr * sign(g)``).
"""
from __future__ import annotations

import math

import numpy as np

from ..tensor import wrap_array
from .optimizer import Optimizer, _check_implementation_flags, _check_number, compiled_updates


def check_adam_options(name: str, group: dict) -> None:
    """lr, eps, betas and weight_decay, as every Adam-like optimizer checks them."""
    _check_number(name, "learning rate", group["lr"])
    _check_number(name, "epsilon value", group["eps"])
    betas = group["betas"]
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{name}: betas must be a pair (beta1, beta2), got {betas!r}. "
                         f"Hint: betas=(0.9, 0.999)")
    _check_number(name, "beta parameter at index 0", betas[0], 0.0, below=1.0)
    _check_number(name, "beta parameter at index 1", betas[1], 0.0, below=1.0)
    _check_number(name, "weight_decay value", group["weight_decay"])


class Adam(Optimizer):
    """``Adam(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0, amsgrad=False, *, maximize=False, decoupled_weight_decay=False)``.

    State per parameter: ``step`` (int), ``exp_avg`` (m), ``exp_avg_sq`` (v)
    and, with ``amsgrad=True``, ``max_exp_avg_sq``. PyTorch's ``foreach``/``fused``/
    ``capturable``/``differentiable`` are accepted: see ``_check_implementation_flags``.
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0, amsgrad: bool = False, *, foreach=None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False,
                 fused=None, decoupled_weight_decay: bool = False):
        _check_implementation_flags(type(self).__name__, foreach, fused, capturable,
                                    differentiable)
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad,
                        maximize=maximize, decoupled_weight_decay=decoupled_weight_decay)
        self._validate_group(defaults)
        super().__init__(params, defaults)

    def _validate_group(self, group: dict) -> None:
        check_adam_options(type(self).__name__, group)

    def _state_for(self, param, amsgrad: bool) -> dict:
        state = self.state[param]
        if not state:  # lazily created at the first step, like PyTorch
            state["step"] = 0
            state["exp_avg"] = wrap_array(np.zeros_like(param._data))
            state["exp_avg_sq"] = wrap_array(np.zeros_like(param._data))
        if amsgrad and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = wrap_array(np.zeros_like(param._data))
        return state

    def _update_one(self, param, group: dict) -> None:
        """One step of one parameter, in place: the module docstring's lines."""
        # Python floats (not NumPy scalars), so float32 arrays stay float32
        lr, eps, weight_decay = float(group["lr"]), float(group["eps"]), \
            float(group["weight_decay"])
        beta1, beta2 = (float(beta) for beta in group["betas"])
        state = self._state_for(param, group["amsgrad"])
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
        m += (1 - beta1) * (g - m)  # = beta1 * m + (1 - beta1) * g, in PyTorch's form (lerp)
        v *= beta2
        v += (1 - beta2) * g * g
        if group["amsgrad"]:
            v_max = state["max_exp_avg_sq"]._data
            np.maximum(v_max, v, out=v_max)
            v = v_max
        denom = np.sqrt(v) / math.sqrt(1 - beta2 ** t) + eps
        p -= (lr / (1 - beta1 ** t)) * m / denom

    def _fused_update_one(self, param, group: dict) -> bool:
        """The fast path: ``_update_one`` as one compiled loop, the same numbers."""
        amsgrad = bool(group["amsgrad"])
        state = self._state_for(param, amsgrad)
        beta1, beta2 = (float(beta) for beta in group["betas"])
        done = compiled_updates().adam_update_numba(
            param._data, param._grad._data, state["exp_avg"]._data,
            state["exp_avg_sq"]._data, state["max_exp_avg_sq"]._data if amsgrad else None,
            float(group["lr"]), beta1, beta2, float(group["eps"]), float(group["weight_decay"]),
            bool(group["decoupled_weight_decay"]), amsgrad, bool(group["maximize"]),
            state["step"] + 1)
        if done:
            state["step"] += 1
        return done


class AdamW(Adam):
    """``AdamW(params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, *, maximize=False)``.

    Adam with *decoupled* weight decay (Loshchilov & Hutter): the weights
    shrink by ``lr * weight_decay`` each step, independently of the adaptive
    scaling, instead of adding ``weight_decay * p`` to the gradient.
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 1e-2, amsgrad: bool = False, *, maximize: bool = False,
                 foreach=None, capturable: bool = False, differentiable: bool = False,
                 fused=None):
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize=maximize,
                         foreach=foreach, capturable=capturable,
                         differentiable=differentiable, fused=fused,
                         decoupled_weight_decay=True)

    def load_state_dict(self, state_dict: dict) -> None:
        super().load_state_dict(state_dict)
        for group in self.param_groups:  # AdamW always decays decoupled, whatever was saved
            group["decoupled_weight_decay"] = True
