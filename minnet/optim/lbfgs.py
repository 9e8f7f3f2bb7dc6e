"""L-BFGS: a quasi-Newton method that steps along an estimate of ``-H^-1 g``.

It keeps the last ``history_size`` pairs (s, y) of parameter changes s and gradient
changes y; they describe how the gradient bends, and the "two-loop recursion" turns
them into ``H^-1 g`` without ever forming the Hessian H. Each ``step(closure)`` runs up
to ``max_iter`` iterations, calling ``closure()`` (zero_grad, forward, backward, return
the loss) once per iteration, so it suits full-batch problems (small data, fitting a
curve, style transfer), not noisy mini-batches. ``torch.optim.LBFGS``'s algorithm
without a line search, for the flat vector x of all parameters::

    g = gradient at x;  stop if max|g| <= tolerance_grad
    repeat (at most max_iter times):
        first iteration:  d = -g                      (steepest descent)
        later:            y = g - g_prev,  s = t * d
                          keep (s, y) if y.s > 1e-10  (curvature is positive)
                          d = -(H^-1 g), by the two-loop recursion over the kept pairs,
                              starting from H0 = (y.s / y.y) I
        t = lr * min(1, 1 / sum|g|) on the very first iteration, else lr
        stop if g.d > -tolerance_change               (d is not a descent direction)
        x = x + t * d;  loss, g = closure()
        stop after max_iter iterations or max_eval evaluations, when max|g| <=
        tolerance_grad, when max|t * d| <= tolerance_change, or when the loss changed
        by less than tolerance_change
"""
from __future__ import annotations

import copy
from typing import Callable, Optional

import numpy as np

from ..tensor import Tensor
from .optimizer import Optimizer, _check_number


class LBFGS(Optimizer):
    """``LBFGS(params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
    tolerance_change=1e-9, history_size=100, line_search_fn=None)``.

    One parameter group only; ``step`` needs a closure. ``line_search_fn='strong_wolfe'``
    is refused (not implemented in minnet). The state (of the whole optimizer, kept under
    the first parameter as in PyTorch): ``func_evals``, ``n_iter``, the last direction
    ``d`` and step ``t``, the pairs ``old_dirs`` (y) and ``old_stps`` (s), ``ro`` (1 / y.s),
    ``H_diag``, ``prev_flat_grad``, ``prev_loss``.
    """

    def __init__(self, params, lr: float = 1, max_iter: int = 20,
                 max_eval: Optional[int] = None, tolerance_grad: float = 1e-7,
                 tolerance_change: float = 1e-9, history_size: int = 100,
                 line_search_fn: Optional[str] = None):
        if line_search_fn is not None:
            raise NotImplementedError(
                f"LBFGS: line_search_fn={line_search_fn!r} is not implemented in minnet; only "
                f"fixed steps of size lr (line_search_fn=None). Hint: leave line_search_fn out "
                f"and, if the loss oscillates, lower lr.")
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        history_size=history_size, line_search_fn=line_search_fn)
        self._validate_group(defaults)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups): "
                             "it treats all parameters as one vector")
        self._params = self.param_groups[0]["params"]

    def _validate_group(self, group: dict) -> None:
        _check_number("LBFGS", "learning rate", group["lr"])
        for option in ("max_iter", "max_eval", "history_size"):
            value = group[option]
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"LBFGS: {option} must be a positive integer, got {value!r}")

    def add_param_group(self, param_group: dict) -> None:
        if getattr(self, "param_groups", None):
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        super().add_param_group(param_group)

    def load_state_dict(self, state_dict: dict) -> None:
        """As the base class, but the state is vectors over all parameters (not shaped like
        the first one), kept as they were saved: NumPy arrays, lists of them, numbers."""
        saved_state = state_dict["state"]
        super().load_state_dict({**state_dict, "state": {}})
        for index, entries in saved_state.items():
            self.state[self._params[index]] = {
                key: value._data.copy() if isinstance(value, Tensor) else copy.deepcopy(value)
                for key, value in entries.items()}

    # -- the parameters as one flat vector -------------------------------------------
    def _flat_grad(self) -> np.ndarray:
        return np.concatenate([
            np.zeros(p._data.size, p._data.dtype) if p._grad is None
            else p._grad._data.reshape(-1).astype(p._data.dtype, copy=False)
            for p in self._params])

    def _add_to_params(self, step_size: float, direction: np.ndarray) -> None:
        """x = x + step_size * direction, each parameter in place."""
        start = 0
        for p in self._params:
            size = p._data.size
            p._data += step_size * direction[start:start + size].reshape(p._data.shape)
            p._bump_version("LBFGS.step()")
            start += size

    # -- the step ----------------------------------------------------------------------
    def step(self, closure: Optional[Callable] = None):
        """Up to ``max_iter`` L-BFGS iterations; returns the loss before the first of them."""
        if closure is None:
            raise RuntimeError("LBFGS.step() needs a closure that re-evaluates the model and "
                               "returns the loss. Hint: def closure(): optimizer.zero_grad(); "
                               "loss = loss_fn(model(x), y); loss.backward(); return loss")
        group = self.param_groups[0]
        lr, max_iter, max_eval = float(group["lr"]), group["max_iter"], group["max_eval"]
        tolerance_grad, tolerance_change = group["tolerance_grad"], group["tolerance_change"]
        history_size = group["history_size"]
        state = self.state[self._params[0]]
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        first_loss = self._evaluate_closure(closure)
        loss = float(first_loss.item() if isinstance(first_loss, Tensor) else first_loss)
        evaluations = 1
        state["func_evals"] += 1
        g = self._flat_grad()
        if np.abs(g).max() <= tolerance_grad:
            return first_loss  # already at a stationary point

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps = state.get("old_dirs"), state.get("old_stps")
        ro, H_diag = state.get("ro"), state.get("H_diag")
        g_prev, loss_prev = state.get("prev_flat_grad"), state.get("prev_loss")

        iteration = 0
        while iteration < max_iter:
            iteration += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -g
                old_dirs, old_stps, ro, H_diag = [], [], [], 1.0
            else:
                y = g - g_prev
                s = d * t
                ys = float(y @ s)
                if ys > 1e-10:  # keep the pair only where the curvature is positive
                    if len(old_dirs) == history_size:
                        old_dirs.pop(0), old_stps.pop(0), ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    H_diag = ys / float(y @ y)  # the scale of the initial H^-1
                d = self._two_loop(-g, old_dirs, old_stps, ro, H_diag)
            g_prev, loss_prev = g.copy(), loss

            t = min(1.0, 1.0 / np.abs(g).sum()) * lr if state["n_iter"] == 1 else lr
            if float(g @ d) > -tolerance_change:
                break  # not a descent direction: nothing more to gain

            self._add_to_params(t, d)
            step_evaluations = 0
            if iteration != max_iter:
                loss = self._evaluate_closure(closure)
                loss = float(loss.item() if isinstance(loss, Tensor) else loss)
                g = self._flat_grad()
                step_evaluations = 1
            evaluations += step_evaluations
            state["func_evals"] += step_evaluations

            if iteration == max_iter or evaluations >= max_eval:
                break
            if np.abs(g).max() <= tolerance_grad:
                break
            if np.abs(d * t).max() <= tolerance_change or abs(loss - loss_prev) < tolerance_change:
                break

        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=H_diag,
                     prev_flat_grad=g_prev, prev_loss=loss_prev)
        return first_loss

    @staticmethod
    def _two_loop(q: np.ndarray, old_dirs: list, old_stps: list, ro: list,
                  H_diag: float) -> np.ndarray:
        """H^-1 q from the kept pairs (y = old_dirs, s = old_stps), newest first then back."""
        q = q.copy()
        alphas = [0.0] * len(old_dirs)
        for i in range(len(old_dirs) - 1, -1, -1):
            alphas[i] = float(old_stps[i] @ q) * ro[i]
            q -= alphas[i] * old_dirs[i]
        r = q * H_diag
        for i in range(len(old_dirs)):
            beta = float(old_dirs[i] @ r) * ro[i]
            r += (alphas[i] - beta) * old_stps[i]
        return r
