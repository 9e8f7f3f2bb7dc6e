"""``diagnose_setup``: a preflight and a short instrumented training run on a copy of the model.

``minnet.debug.diagnose(model, loss_fn, data, ...)`` (setup.py) wraps its arguments
in a ``Setup`` and calls this. In order, on deep copies (the caller's model and
optimizer stay untouched): infer the task; ``data`` checks on the arrays;
``preflight`` experiments at the initial weights; a ``steps``-step run under a
``Monitor``; ``run`` checks on what it recorded; findings linked into cause ->
effect chains, root cause first. The phases: docs/debugger.md.
"""
from __future__ import annotations

import functools
import warnings
from typing import TYPE_CHECKING, Callable, Mapping, Optional

import numpy as np

from ..tensor import Tensor
from . import whatif
from .checks import run_checks
from .context import (CLASSIFICATION, DiagnosisContext, copy_model, data_arrays, infer_task,
                      match_model_dtype, optimizer_factory, run_training)
from .monitor import Monitor
from .policy import enforce
from .report import Report
from .thresholds import Thresholds

if TYPE_CHECKING:
    from .setup import Setup

PHASE_ORDER = ("data", "preflight", "run")


def check_arguments(model, steps, batch_size) -> None:
    """Clear errors for arguments diagnose cannot work with (before anything is copied)."""
    if not hasattr(model, "parameters") or not callable(getattr(model, "__call__", None)):
        raise TypeError(f"diagnose(model): expected an nn.Module, got {type(model).__name__}")
    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"diagnose(steps={steps!r}): steps must be a positive whole number of "
                         f"optimizer steps for the short training run (default 100)")
    if batch_size is not None and (isinstance(batch_size, bool)
                                   or not isinstance(batch_size, (int, np.integer))
                                   or batch_size < 1):
        raise ValueError(f"diagnose(batch_size={batch_size!r}): batch_size must be a positive "
                         f"whole number (or None for 32, or the DataLoader's own)")
    if not list(model.parameters()):
        raise ValueError("diagnose(model): the model has no parameters, so there is nothing to "
                         "train or diagnose. Hint: layers must be attributes of the module (or "
                         "in nn.Sequential / nn.ModuleList) to be registered.")


def _check_data(X, y, where: str) -> None:
    """X and y must hold the same, non-zero number of samples."""
    if np.ndim(X) == 0 or np.ndim(y) == 0:
        raise ValueError(f"{where}: X and y must be arrays with one row per sample, got shapes "
                         f"{np.shape(X)} and {np.shape(y)}")
    if len(X) == 0:
        raise ValueError(f"{where}: the data set is empty (0 samples); diagnose needs samples to "
                         f"train on")
    if len(X) != len(y):
        raise ValueError(f"{where}: X has {len(X)} samples but y has {len(y)}; they must pair "
                         f"up one to one")


def build_context(setup: Setup, steps: Optional[int] = None,
                  thresholds: Optional[Mapping[str, float]] = None,
                  _explicit_loader_options=(None, None)) -> DiagnosisContext:
    """The DiagnosisContext for ``setup``: arrays, copies, thresholds (no checks run yet)."""
    X, y, loader_options = data_arrays(setup.train_data, "diagnose(train_data)")
    _check_data(X, y, "diagnose(train_data)")
    X_val = y_val = None
    if setup.val_data is not None:
        X_val, y_val, _ = data_arrays(setup.val_data, "diagnose(val_data)")
        _check_data(X_val, y_val, "diagnose(val_data)")
    X, y, X_val, y_val = match_model_dtype(setup.model, X, y, X_val, y_val)
    explicit_batch, explicit_shuffle = _explicit_loader_options
    batch_size = explicit_batch or loader_options.get("batch_size", setup.batch_size)
    shuffle = (explicit_shuffle if explicit_shuffle is not None
               else loader_options.get("shuffle", setup.shuffle))
    task = setup.task or infer_task(setup.loss_fn, y)
    n_classes = None
    if task == CLASSIFICATION and y.dtype.kind in "iub" and y.size:
        n_classes = int(y.max()) + 1
    initial = copy_model(setup.model)
    make_optimizer = optimizer_factory(setup.optimizer, setup.model)
    working = copy_model(setup.model)
    return DiagnosisContext(
        model=working, loss_fn=setup.loss_fn, optimizer=make_optimizer(working),
        make_optimizer=make_optimizer, X_train=X, y_train=y, X_val=X_val, y_val=y_val,
        task=task, n_classes=n_classes, batch_size=batch_size, shuffle=shuffle,
        steps=steps or setup.steps, seed=setup.seed, thresholds=Thresholds(thresholds),
        train_step=setup.train_step, evaluate=setup.evaluate,
        clip_grad_norm=setup.clip_grad_norm, preprocessing=dict(setup.preprocessing),
        setup=setup, _initial_model=initial)


def diagnose_setup(setup: Setup, steps: Optional[int] = None,
                   thresholds: Optional[Mapping[str, float]] = None, verify_fixes: bool = False,
                   phases=PHASE_ORDER, progress: Optional[Callable[[str], None]] = None,
                   record=None, _explicit_loader_options=(None, None)) -> Report:
    """``diagnose`` for a ``Setup`` (a scenario's broken()/fixed(), or a user script's setup())."""
    # The user's loss may warn while the checks experiment with it (e.g. mse_loss on shapes
    # that broadcast): the report explains those conditions, so the warnings would be noise.
    # A loss written as a closure over the caller's model (e.g. an L2 term summing
    # model.parameters()) reaches the caller's parameters, not the copy's: put their
    # .grad back as it was, so the caller's objects are left untouched whatever the loss does.
    params = list(setup.model.parameters())
    saved_grads = [None if p.grad is None else p.grad._data.copy() for p in params]
    # Dropout in the copies draws from minnet's global generator: put its stream back as it
    # was, so diagnosing does not change the user's next random numbers (and next loss)
    from .. import random as minnet_random
    generator = minnet_random._default
    generator_state = generator.bit_generator.state
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            return _diagnose_setup(setup, steps, thresholds, verify_fixes, phases, progress,
                                   record, _explicit_loader_options)
    finally:
        minnet_random._default = generator
        generator.bit_generator.state = generator_state
        for param, grad in zip(params, saved_grads):
            if grad is None:
                param.grad = None
            elif param.grad is None or param.grad._data.shape != grad.shape:
                param.grad = Tensor(grad)
            else:
                param.grad._data[...] = grad


def _diagnose_setup(setup, steps, thresholds, verify_fixes, phases, progress, record,
                    _explicit_loader_options) -> Report:
    say = progress or (lambda text: None)
    ctx = build_context(setup, steps, thresholds, _explicit_loader_options)
    findings = []
    if "data" in phases:
        say("checking the data")
        findings += run_checks(ctx, "data")
    # A check that crashes (e.g. on labels out of range, already reported) is listed in
    # the report's run["check_failures"] and its text, rather than warned about.
    if "preflight" in phases:
        say("preflight: initial loss, shapes, one-batch overfit, baselines, gradcheck")
        ctx.cache["forward_fails"], ctx.cache["loss_fails"] = forward_failure(ctx)
        findings += run_checks(ctx, "preflight", quiet=True)
    if "run" in phases:
        say(f"training a copy for {ctx.steps} steps under the monitor")
        monitor = Monitor(ctx.model, ctx.optimizer)
        try:
            ctx.run = run_training(ctx.model, ctx.loss_fn, ctx.optimizer, ctx.X_train,
                                   ctx.y_train, steps=ctx.steps, batch_size=ctx.batch_size,
                                   shuffle=ctx.shuffle, seed=ctx.seed, train_step=ctx.train_step,
                                   clip_grad_norm=ctx.clip_grad_norm, monitor=monitor)
        finally:
            monitor.detach()
        ctx.monitor = monitor
        say("reading the run")
        findings += run_checks(ctx, "run", quiet=True)
    # the written severity policy (policy.py): already-trained models, runs that trained anyway
    findings = enforce(_deduplicate(findings), ctx)
    report = Report(findings, predictions=ctx.predictions, run=_run_summary(ctx),
                    thresholds=ctx.thresholds.table(), context=ctx,
                    verifier=functools.partial(whatif.verify_fixes, diagnose_setup=diagnose_setup))
    if verify_fixes:
        say("verifying fixes")
        report.verify_fixes()
    if record:
        from ..runlog import DEFAULT_ROOT, record_diagnosis
        root = DEFAULT_ROOT if record is True else str(record)
        report.run["run_id"] = record_diagnosis(report, setup, setup.name or "diagnosis", root)
    return report


def forward_failure(ctx: DiagnosisContext) -> tuple:
    """``(forward error, loss error)``: ``"TypeError: ..."`` when the model's forward pass, or
    else the loss, raises on the one-batch overfit sample (one sample of each class first, so
    a label the loss refuses is in it); None when it runs. The preflight checks that need
    what raises are then skipped, not run to fail one by one (checks/__init__.py, ``needs``);
    the short run shows the same exception as run.crashed."""
    from .checks.model import OVERFIT_BATCH, tiny_batch
    try:
        X, y = tiny_batch(ctx, int(ctx.thresholds[OVERFIT_BATCH]))
        output = ctx.forward(ctx.fresh_model(), X)
    except Exception as error:  # noqa: BLE001 - what the user's setup raises is the finding
        return f"{type(error).__name__}: {error}", None
    try:
        ctx.loss_value(output, y)
    except Exception as error:  # noqa: BLE001
        return None, f"{type(error).__name__}: {error}"
    return None, None


def _deduplicate(findings: list) -> list:
    """One finding per (code, layer): keep the most severe (first on ties)."""
    rank = {"error": 0, "warning": 1, "info": 2}
    kept = {}
    for finding in findings:
        key = (finding.code, finding.layer)
        if key not in kept or rank[finding.severity] < rank[kept[key].severity]:
            kept[key] = finding
    return list(kept.values())


def _setup_name(ctx: DiagnosisContext) -> str:
    """What was diagnosed, for report titles: the setup's name (a scenario's says "broken" or
    "fixed"), else the model's class and the data's size."""
    setup = ctx.setup
    if setup is not None and setup.name:
        return setup.name
    return (f"{type(setup.model).__name__ if setup is not None else 'model'} on "
            f"{len(ctx.X_train)} samples, {ctx.task}")


def _run_summary(ctx: DiagnosisContext) -> dict:
    run = ctx.run
    if run is None:
        return {}
    finite = run.losses[np.isfinite(run.losses)]
    return {"setup": _setup_name(ctx),
            "steps": run.steps, "first_loss": float(finite[0]) if finite.size else None,
            "last_loss": float(finite[-1]) if finite.size else None,
            "stopped_at": run.stopped_at,
            "check_failures": ctx.cache.get("check_failures", []),
            "checks_skipped": ctx.cache.get("checks_skipped", []),
            "checks_skipped_because": (ctx.cache.get("forward_fails")
                                       or ctx.cache.get("loss_fails")),
            "error": f"{type(run.error).__name__}: {run.error}" if run.error else None,
            "losses": run.losses}
