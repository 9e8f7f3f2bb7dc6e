"""The learning-rate range test (Smith 2015, "Cyclical Learning Rates"; fastai's ``lr_find``).

Train a few dozen minibatches while the lr grows exponentially from ``start_lr`` to
``end_lr``: the loss is flat (too small), falls (useful), then shoots up. A good lr is
where it falls fastest, well before the minimum (already at the edge of divergence).
The loss is an Adam-style bias-corrected moving average; the test stops when it
exceeds ``diverge_threshold`` x its best (after 10% of the steps) or is not finite. A
throwaway optimizer copy is stepped; the model's weights, grads and modes are restored.
"""
from __future__ import annotations

import copy
import math
from collections import OrderedDict, defaultdict
from typing import Callable, Optional

import numpy as np

from ..random import get_generator
from ..tensor import Tensor
from .optimizer import Optimizer
from .sgd import SGD


class LRFindResult:
    """What ``lr_find`` measured: NumPy arrays with one entry per step run.

    ``lrs`` (exponentially increasing), ``losses`` (smoothed: what to look at; also
    ``smoothed_losses``), ``raw_losses`` (as computed); ``diverged`` (stopped early because
    the loss blew up), ``stop_reason`` (a sentence), ``num_iter`` (steps planned).
    """

    def __init__(self, lrs, raw_losses, smoothed_losses, diverged: bool, stop_reason: str,
                 num_iter: int):
        self.num_iter = num_iter
        self.lrs = np.asarray(lrs, dtype=np.float64)
        self.raw_losses = np.asarray(raw_losses, dtype=np.float64)
        self.losses = np.asarray(smoothed_losses, dtype=np.float64)
        self.smoothed_losses = self.losses
        self.diverged = diverged
        self.stop_reason = stop_reason

    @property
    def best_loss(self) -> float:
        """The lowest smoothed loss."""
        return float(np.nanmin(self.losses))

    def _trimmed(self, skip_start: Optional[int], skip_end: int):
        """lrs and smoothed losses without the first and last few points.

        The first points are noisy (the average has seen only a few batches)
        and the last ones are the blow-up; fastai skips the first 10% of the
        planned steps and the last 5 for the same reason. If that leaves
        fewer than 3 points, the whole curve is used.
        """
        if skip_start is None:
            skip_start = self.num_iter // 10
        end = len(self.lrs) - skip_end
        if end - skip_start < 3:
            skip_start, end = 0, len(self.lrs)
        if end < 3:
            raise ValueError(f"LRFindResult: only {len(self.lrs)} steps were recorded, too few "
                             f"to read the curve. Hint: lower start_lr or raise "
                             f"diverge_threshold.")
        return self.lrs[skip_start:end], self.losses[skip_start:end]

    def lr_at_min_loss(self, skip_start: Optional[int] = None, skip_end: int = 5) -> float:
        """The learning rate where the smoothed loss was lowest (ends trimmed)."""
        lrs, losses = self._trimmed(skip_start, skip_end)
        return float(lrs[int(np.nanargmin(losses))])

    def suggestion(self, method: str = "steepest", skip_start: Optional[int] = None,
                   skip_end: int = 5, window: float = 0.5) -> float:
        """A learning rate to train with, read from the smoothed curve.

        ``"steepest"`` (default): the lr of the most negative slope d(loss)/d(log10 lr),
        each slope taken across ``window`` decades either side so that leftover batch
        noise does not pass for a steep drop. ``"min/10"``: a tenth of the lr at the
        lowest smoothed loss, more conservative (safer with tiny, noisy batches). Both
        skip the first ``skip_start`` points (default 10% of ``num_iter``) and the last
        ``skip_end``, as fastai does. Look at ``plot()`` too.
        """
        if method in ("min/10", "min_div_10", "minimum"):
            return self.lr_at_min_loss(skip_start, skip_end) / 10
        if method != "steepest":
            raise ValueError(f"LRFindResult.suggestion(): unknown method {method!r}; use "
                             f"'steepest' or 'min/10'")
        lrs, losses = self._trimmed(skip_start, skip_end)
        log_lrs = np.log10(lrs)
        decades_per_step = (log_lrs[-1] - log_lrs[0]) / (len(log_lrs) - 1)
        half_width = max(1, int(round(window / decades_per_step)))
        slopes = [_slope_around(log_lrs, losses, i, half_width) for i in range(len(lrs))]
        return float(lrs[int(np.nanargmin(slopes))])

    def plot(self, ax=None, show_raw: bool = True):
        """Loss against learning rate (log scale) with the suggestion marked; returns the Axes."""
        import matplotlib.pyplot as plt  # imported here: minnet itself never needs matplotlib

        if ax is None:
            _, ax = plt.subplots(figsize=(6, 4))
        if show_raw:
            ax.plot(self.lrs, self.raw_losses, color="0.75", linewidth=1, label="raw loss")
        ax.plot(self.lrs, self.losses, color="C0", label="smoothed loss")
        try:
            suggested = self.suggestion()
            ax.axvline(suggested, color="C3", linestyle="--",
                       label=f"steepest descent: lr={suggested:.2g}")
        except ValueError:
            pass
        ax.set_xscale("log")
        ax.set_xlabel("learning rate")
        ax.set_ylabel("loss")
        ax.set_title("LR range test")
        ax.legend()
        return ax

    def __repr__(self):
        return (f"LRFindResult({len(self.lrs)} steps, lr {self.lrs[0]:.3g}..{self.lrs[-1]:.3g}, "
                f"best smoothed loss {self.best_loss:.4g}, "
                f"{self.stop_reason})") if len(self.lrs) else "LRFindResult(no steps)"


def _slope_around(x: np.ndarray, y: np.ndarray, i: int, half_width: int) -> float:
    """Slope of y over x between the points ``half_width`` before and after i (clipped at the ends)."""
    left, right = max(i - half_width, 0), min(i + half_width, len(x) - 1)
    return float((y[right] - y[left]) / (x[right] - x[left]))


def lr_find(model, loss_fn: Callable, data, optimizer=None, *, start_lr: float = 1e-7,
            end_lr: float = 10.0, num_iter: int = 100, smooth: float = 0.98,
            diverge_threshold: float = 4.0, batch_size: int = 32,
            seed: Optional[int] = None, generator: Optional[np.random.Generator] = None
            ) -> LRFindResult:
    """Run the LR range test (see the module docstring); returns an ``LRFindResult``.

    Args:
        model: a Module; its weights, gradients and mode are restored afterwards.
        loss_fn: ``loss_fn(model(x), y) -> scalar Tensor``.
        data: ``(X, y)`` (seeded shuffled minibatches of ``batch_size``: ``seed``/``generator``)
            or an iterable of ``(x, y)`` batches such as a DataLoader (cycled when exhausted).
        optimizer: an Optimizer (class and options copied, itself never stepped) or
            ``params -> Optimizer``; default plain SGD. Its lr is overridden every step.
        start_lr, end_lr, num_iter: lr_i = start_lr * (end_lr/start_lr)**(i/(num_iter-1)).
        smooth: loss smoothing factor in [0, 1); diverge_threshold: stop above this x the best.
    """
    _check_arguments(start_lr, end_lr, num_iter, smooth, diverge_threshold, batch_size)
    trial_optimizer = _trial_optimizer(model, optimizer)
    batches = _batch_stream(data, batch_size, get_generator(generator, seed))
    saved = _save_model(model)
    model.train()
    try:
        # the test ends by blowing training up on purpose: overflow is expected there
        with np.errstate(over="ignore", invalid="ignore"):
            return _run_range_test(model, loss_fn, batches, trial_optimizer, start_lr,
                                   end_lr, num_iter, smooth, diverge_threshold)
    finally:
        _restore_model(model, saved)


def _check_arguments(start_lr, end_lr, num_iter, smooth, diverge_threshold, batch_size):
    if not 0 < start_lr < end_lr:
        raise ValueError(f"lr_find(): need 0 < start_lr < end_lr, got start_lr={start_lr}, "
                         f"end_lr={end_lr}")
    if not isinstance(num_iter, int) or num_iter < 2:
        raise ValueError(f"lr_find(): num_iter must be an int >= 2, got {num_iter!r}")
    if not 0 <= smooth < 1:
        raise ValueError(f"lr_find(): smooth must be in [0, 1), got {smooth}")
    if not diverge_threshold > 1:
        raise ValueError(f"lr_find(): diverge_threshold must be > 1 (inf: stop only on NaN/inf "
                         f"losses), got {diverge_threshold}")
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"lr_find(): batch_size must be a positive int, got {batch_size!r}")


def _trial_optimizer(model, optimizer) -> Optimizer:
    """A fresh optimizer over the model's parameters that the caller never sees."""
    if optimizer is None:
        return SGD(model.parameters())
    if isinstance(optimizer, Optimizer):
        _check_optimizes_model(optimizer, model)
        # same class and per-group options, but empty state and no hooks: the
        # caller's optimizer (and the debugger listening to it) stays untouched
        trial = object.__new__(type(optimizer))
        trial.__dict__.update(optimizer.__dict__)
        trial.state = defaultdict(dict)
        trial.param_groups = [{key: (list(value) if key == "params" else copy.deepcopy(value))
                               for key, value in group.items()}
                              for group in optimizer.param_groups]
        trial._optimizer_step_pre_hooks = OrderedDict()
        trial._optimizer_step_post_hooks = OrderedDict()
        trial._inside_step = False
        return trial
    if callable(optimizer):
        trial = optimizer(model.parameters())
        if not isinstance(trial, Optimizer):
            raise TypeError(f"lr_find(): the optimizer factory returned "
                            f"{type(trial).__name__}, expected an Optimizer")
        _check_optimizes_model(trial, model)
        return trial
    raise TypeError(f"lr_find(): optimizer must be an Optimizer or a callable params -> "
                    f"Optimizer, got {type(optimizer).__name__}")


def _check_optimizes_model(optimizer: Optimizer, model) -> None:
    """Refuse an optimizer that holds parameters the model does not have."""
    model_ids = {id(p) for p in model.parameters()}
    foreign = sum(1 for group in optimizer.param_groups for p in group["params"]
                  if id(p) not in model_ids)
    if foreign:
        raise ValueError(
            f"lr_find(): the optimizer holds {foreign} parameter(s) that are not this model's, "
            f"so the test would train something else. Hint: build it from "
            f"model.parameters() of the same model.")


def _batch_stream(data, batch_size: int, rng: np.random.Generator):
    """An endless iterator of (x, y) Tensor batches."""
    if isinstance(data, (tuple, list)) and len(data) == 2 \
            and all(isinstance(part, (np.ndarray, Tensor)) for part in data):
        return _array_batches(data[0], data[1], batch_size, rng)
    if not hasattr(data, "__iter__"):
        raise TypeError(f"lr_find(): data must be (X, y) arrays or an iterable of (x, y) "
                        f"batches such as a DataLoader, got {type(data).__name__}")
    return _cycled_batches(data)


def _array_batches(inputs, targets, batch_size: int, rng: np.random.Generator):
    inputs = inputs._data if isinstance(inputs, Tensor) else np.asarray(inputs)
    targets = targets._data if isinstance(targets, Tensor) else np.asarray(targets)
    if len(inputs) != len(targets):
        raise ValueError(f"lr_find(): X and y have different numbers of samples "
                         f"({len(inputs)} vs {len(targets)})")
    if len(inputs) == 0:
        raise ValueError("lr_find(): the data set is empty")
    batch_size = min(batch_size, len(inputs))
    while True:  # one shuffled pass after another
        order = rng.permutation(len(inputs))
        for start in range(0, len(order) - batch_size + 1, batch_size):
            chosen = order[start:start + batch_size]
            yield Tensor(inputs[chosen]), Tensor(targets[chosen])


def _cycled_batches(loader):
    while True:
        produced = False
        for batch in loader:
            produced = True
            if not (isinstance(batch, (tuple, list)) and len(batch) == 2):
                raise ValueError(f"lr_find(): each batch must be a pair (x, y), got "
                                 f"{type(batch).__name__}")
            x, y = batch
            yield (x if isinstance(x, Tensor) else Tensor(x)), \
                  (y if isinstance(y, Tensor) else Tensor(y))
        if not produced:
            raise ValueError("lr_find(): the data iterable yielded no batches. Hint: is it a "
                             "generator that was already consumed?")


def _run_range_test(model, loss_fn, batches, optimizer, start_lr, end_lr, num_iter, smooth,
                    diverge_threshold) -> LRFindResult:
    growth = (end_lr / start_lr) ** (1.0 / (num_iter - 1))
    lrs, raw_losses, smoothed_losses = [], [], []
    average, best = 0.0, math.inf
    diverged, stop_reason = False, f"ran all {num_iter} steps"
    for i in range(num_iter):
        lr = float(start_lr * growth ** i)
        for group in optimizer.param_groups:
            group["lr"] = lr
        x, y = next(batches)
        optimizer.zero_grad()
        loss = loss_fn(model(x), y)
        if not isinstance(loss, Tensor) or loss._data.size != 1:
            raise TypeError(f"lr_find(): loss_fn(model(x), y) must return a scalar Tensor, got "
                            f"{type(loss).__name__} {getattr(loss, 'shape', '')}")
        loss_value = float(loss.item())
        lrs.append(lr)
        raw_losses.append(loss_value)
        if not math.isfinite(loss_value):
            smoothed_losses.append(math.inf)
            diverged, stop_reason = True, f"loss became {loss_value} at step {i} (lr={lr:.3g})"
            break
        average = smooth * average + (1 - smooth) * loss_value
        smoothed = average / (1 - smooth ** (i + 1))
        smoothed_losses.append(smoothed)
        best = min(best, smoothed)
        # the first tenth of the steps is not judged: the average has seen too few
        # batches there, and one lucky low first loss would make any later one "diverge"
        if i >= num_iter // 10 and smoothed > diverge_threshold * best:
            diverged = True
            stop_reason = (f"stopped at step {i} (lr={lr:.3g}): smoothed loss {smoothed:.4g} > "
                           f"{diverge_threshold} x best {best:.4g}")
            break
        loss.backward()
        optimizer.step()
    return LRFindResult(lrs, raw_losses, smoothed_losses, diverged, stop_reason, num_iter)


def _save_model(model) -> dict:
    """Copies of everything training touches: weights, buffers, grads, modes."""
    tensors = [t for _, t in model.named_parameters()] + [t for _, t in model.named_buffers()]
    return {
        # (tensor, its array object, a copy of the values): restoring writes the values
        # back into the very same array, so references the caller holds stay valid
        "values": [(t, t._data, t._data.copy()) for t in tensors],
        "grads": [(param, None if param.grad is None else param.grad._data.copy())
                  for param in model.parameters()],
        "training": [(module, module.training) for module in model.modules()],
    }


def _restore_model(model, saved: dict) -> None:
    for tensor, array, values in saved["values"]:
        array[...] = values
        tensor._data = array
    for param, grad in saved["grads"]:
        param.grad = None if grad is None else Tensor(grad)
    for module, training in saved["training"]:
        object.__setattr__(module, "training", training)
