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
    """A runnable training setup (the arguments of ``diagnose``, kept together).

        model, optimizer  an ``nn.Module`` and an ``optim.Optimizer`` over its parameters
        loss_fn        ``loss_fn(output, target) -> scalar Tensor``, or a dict of named scalar
                       terms summed into the loss (the debugger then compares the terms)
        train_data     ``(X, y)`` arrays, a Dataset or a DataLoader; ``val_data`` likewise, optional
        batch_size, shuffle   used when ``train_data`` is not a DataLoader
        steps, seed    optimizer steps of a training run; the seed of everything random
        train_step     optional ``train_step(model, loss_fn, optimizer, X, y) -> loss`` in place
                       of zero_grad / forward / backward / step (scenarios' loop mistakes)
        evaluate       optional ``evaluate(model, X, y) -> output array`` (checked for eval mode)
        clip_grad_norm optional max norm for ``nn.utils.clip_grad_norm_`` in every step
        preprocessing  optional dict for the leakage checks: {"standardizer": fitted,
                       "raw_train": X_train_raw, "raw_val": X_val_raw}
        task           "classification" or "regression" (None: inferred); name, notes: for reports
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
        model, loss_fn, train_data, val_data, optimizer (default SGD(lr=0.01)), steps,
            batch_size (32), shuffle (True), seed, train_step, evaluate, clip_grad_norm,
            preprocessing, task: as in ``Setup``; model and optimizer are copied, never changed.
        thresholds: overrides by name, ``{"dead_relu_fraction": 0.7}`` (all: ``thresholds.DEFINED``).
        verify_fixes: also rerun training with each mechanical fix (``Report.verify_fixes``).
        phases: the check phases to run; progress: called with each phase's name.
        record: a folder (True: "runs") for the run log; the id is ``report.run["run_id"]``.
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

