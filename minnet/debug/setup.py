"""``Setup``: everything one training run needs, in one object.

Scenarios return Setups (``scenario.broken()``, ``scenario.fixed()``), user
scripts for ``minnet doctor script.py`` return one from ``setup()``, and
``diagnose`` and the what-if reruns consume them. It only holds things; the
work happens in ``diagnose`` and ``train_setup``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Optional


@dataclass
class Setup:
    """A runnable training setup.

    model          an ``nn.Module``
    loss_fn        ``loss_fn(output, target) -> scalar Tensor``; it may instead return a dict
                   of named scalar terms (e.g. ``{"data": mse, "penalty": reg}``) whose sum is
                   the loss: the debugger then compares the terms
    optimizer      an ``optim.Optimizer`` over ``model.parameters()``
    train_data     ``(X, y)`` arrays, a Dataset or a DataLoader
    val_data       optional held-out ``(X, y)``, Dataset or DataLoader
    batch_size     mini-batch size when ``train_data`` is not already a DataLoader
    shuffle        whether batches are shuffled every epoch (a DataLoader's own flag wins)
    steps          optimizer steps for a training run (diagnose's short run uses this too)
    seed           seeds batch order and anything random in training
    train_step     optional ``train_step(model, loss_fn, optimizer, X, y) -> loss`` replacing
                   the standard zero_grad / forward / backward / step (scenarios use it to
                   reproduce mistakes in the loop itself, e.g. a forgotten zero_grad)
    evaluate       optional ``evaluate(model, X, y) -> output array``: the user's evaluation
                   code (the debugger checks it runs the model in eval mode)
    clip_grad_norm optional max norm for ``nn.utils.clip_grad_norm_`` in every step
    preprocessing  optional dict describing preprocessing, e.g. {"standardizer": fitted
                   Standardizer, "raw_train": X_train_raw, "raw_val": X_val_raw}, so leakage
                   of statistics from held-out data can be detected
    task           "classification" or "regression"; None: inferred from the loss and targets
    name, notes    for reports
    """
    model: Any
    loss_fn: Callable
    optimizer: Any
    train_data: Any
    val_data: Any = None
    batch_size: int = 32
    shuffle: bool = True
    steps: int = 200
    seed: int = 0
    train_step: Optional[Callable] = None
    evaluate: Optional[Callable] = None
    clip_grad_norm: Optional[float] = None
    preprocessing: dict = field(default_factory=dict)
    task: Optional[str] = None
    name: str = ""
    notes: str = ""

    def replace(self, **changes) -> "Setup":
        """A copy with some fields changed (the objects themselves are shared, not copied)."""
        return replace(self, **changes)

    def diagnose(self, **options):
        """``diagnose`` this setup: see ``minnet.debug.diagnose``."""
        from .diagnosis import diagnose_setup
        return diagnose_setup(self, **options)

    def train(self, steps: Optional[int] = None, monitor: bool = False):
        """Train this setup's model in place; returns a ``TrainingRun`` (losses, monitor...)."""
        from .context import train_setup
        return train_setup(self, steps=steps, monitor=monitor)
