"""Rprop (resilient backpropagation): each weight has its own step size, grown while the
gradient keeps its sign and shrunk when it flips; only the gradient's sign is used.

``torch.optim.Rprop``'s algorithm for parameter p, gradient g; ``_update_one`` is it in NumPy::

    g = -g                                          if maximize
    sign = sign(g * g_prev)                         same direction (+1), flipped (-1), or 0
    factor = eta_plus where sign > 0, eta_minus where sign < 0, 1 where sign == 0
    step = clip(step * factor, step_min, step_max)  starts at lr
    g = 0 where sign < 0                            after a flip: no move, and no flip next time
    p = p - sign(g) * step
    g_prev = g

Meant for full-batch training: with mini-batches the sign of g is noisy.
"""
from __future__ import annotations

import numpy as np

from ..tensor import wrap_array
from .optimizer import Optimizer, _check_implementation_flags, _check_number


class Rprop(Optimizer):
    """``Rprop(params, lr=1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *, maximize=False)``.

    State per parameter: ``step`` (int), ``prev`` (the previous gradient, 0 after a flip)
    and ``step_size`` (one per weight).
    """

    def __init__(self, params, lr: float = 1e-2, etas=(0.5, 1.2), step_sizes=(1e-6, 50), *,
                 capturable: bool = False, foreach=None, maximize: bool = False,
                 differentiable: bool = False):
        _check_implementation_flags("Rprop", foreach, None, capturable, differentiable)
        defaults = dict(lr=lr, etas=etas, step_sizes=step_sizes, maximize=maximize)
        self._validate_group(defaults)
        super().__init__(params, defaults)

    def _validate_group(self, group: dict) -> None:
        _check_number("Rprop", "learning rate", group["lr"])
        eta_minus, eta_plus = group["etas"]
        if not 0.0 < eta_minus < 1.0 < eta_plus:
            raise ValueError(f"Rprop: Invalid eta values: {eta_minus}, {eta_plus} (expected "
                             f"0 < eta_minus < 1 < eta_plus)")

    def _update_one(self, param, group: dict) -> None:
        """One step of one parameter, in place: the module docstring's lines."""
        eta_minus, eta_plus = (float(eta) for eta in group["etas"])
        step_min, step_max = (float(size) for size in group["step_sizes"])
        state = self.state[param]
        if not state:  # lazily created at the first step, like PyTorch
            state["step"] = 0
            state["prev"] = wrap_array(np.zeros_like(param._data))
            state["step_size"] = wrap_array(np.full_like(param._data, float(group["lr"])))
        state["step"] += 1
        g = np.array(self._grad_array(param, maximize=group["maximize"]))  # a copy, also 0-d
        prev, step = state["prev"]._data, state["step_size"]._data
        sign = np.sign(g * prev)
        step *= np.where(sign > 0, eta_plus, np.where(sign < 0, eta_minus, 1.0)).astype(step.dtype)
        np.clip(step, step_min, step_max, out=step)
        g[sign < 0] = 0
        param._data -= np.sign(g) * step
        prev[...] = g
