"""``Setup``: everything one training run needs, in one object.

Scenarios return Setups (``scenario.broken()``, ``scenario.fixed()``), user
scripts for ``minnet doctor script.py`` return one from ``setup()``, and
``diagnose`` and the what-if reruns consume them. It only holds things; the
work happens in ``diagnose`` and ``train_setup``.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional

if TYPE_CHECKING:
    from .report import Report


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
        """Train this setup's model in place; returns a ``TrainingRun`` (losses, and the
        detached ``Monitor`` that recorded them when ``monitor=True``)."""
        from .context import train_setup
        from .monitor import Monitor
        return train_setup(self, steps=steps,
                           monitor=Monitor(self.model, self.optimizer) if monitor else None)


def diagnose(model, loss_fn: Callable, train_data, optimizer=None, val_data=None,
             steps: int = 100, batch_size: Optional[int] = None, shuffle: Optional[bool] = None,
             thresholds: Optional[Mapping[str, float]] = None, seed: int = 0,
             train_step: Optional[Callable] = None, evaluate: Optional[Callable] = None,
             clip_grad_norm: Optional[float] = None, preprocessing: Optional[dict] = None,
             task: Optional[str] = None, verify_fixes: bool = False,
             phases=None, progress: Optional[Callable[[str], None]] = None,
             record=None) -> Report:
    """Diagnose a training setup; returns a ``Report`` of ``Finding``s, root causes first.

    Args:
        model: the ``nn.Module`` to diagnose (copied; never changed).
        loss_fn: ``loss_fn(output, target)`` returning a scalar Tensor, or a dict of terms.
        train_data: ``(X, y)`` arrays, a Dataset, or a DataLoader (its batch size and
            shuffle flag are used).
        optimizer: the optimizer you train with (copied with its settings and state);
            default SGD(lr=0.01).
        val_data: optional held-out data, for leakage and evaluation checks.
        steps: optimizer steps of the short instrumented training run.
        batch_size, shuffle: how batches are drawn when ``train_data`` is not a DataLoader
            (defaults 32 and True).
        thresholds: overrides by name, e.g. ``{"dead_relu_fraction": 0.7}``; see
            ``minnet.debug.thresholds.DEFINED`` for every name, value and source.
        seed: seeds batch order and every sampled experiment.
        train_step: your own ``train_step(model, loss_fn, optimizer, X, y) -> loss`` if your
            loop differs from zero_grad / forward / backward / step.
        evaluate: your evaluation code ``evaluate(model, X, y)``, to check it runs in eval mode.
        clip_grad_norm: max norm if you clip gradients every step.
        preprocessing: e.g. ``{"standardizer": fitted_standardizer}`` for the leakage check.
        task: "classification" or "regression" (inferred when None).
        verify_fixes: also rerun training with each mechanical fix (see Report.verify_fixes).
        phases: which check phases to run.
        progress: called with a short text as each phase starts (the CLI prints it).
        record: a folder (or True for "runs") to record this diagnosis in the run log
            (config, seed, versions, the short run's losses, the findings); the run id is
            in ``report.run["run_id"]``.
    """
    from .diagnosis import PHASE_ORDER, check_arguments, diagnose_setup
    check_arguments(model, steps, batch_size)
    setup = Setup(model=model, loss_fn=loss_fn, optimizer=optimizer, train_data=train_data,
                  val_data=val_data, batch_size=32 if batch_size is None else batch_size,
                  shuffle=True if shuffle is None else shuffle, steps=steps, seed=seed,
                  train_step=train_step, evaluate=evaluate, clip_grad_norm=clip_grad_norm,
                  preprocessing=preprocessing or {}, task=task)
    return diagnose_setup(setup, steps=steps, thresholds=thresholds, verify_fixes=verify_fixes,
                          phases=PHASE_ORDER if phases is None else phases, progress=progress,
                          record=record,
                          _explicit_loader_options=(batch_size, shuffle))

