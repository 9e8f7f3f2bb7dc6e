"""The debugger's checks: small functions that read the evidence and return Findings.

Each check lives in the module of its family (data.py, loss.py, model.py,
activations.py, gradients.py, training.py, ...) and registers itself::

    @check(phase="data", codes=("data.nonfinite",))
    def nonfinite_data(ctx) -> list[Finding]:
        ...

Phases, in the order ``diagnose`` runs them:

* ``"data"``      reads only the arrays (``ctx.X_train``, ``ctx.y_train``, ...);
* ``"preflight"`` may run experiments on ``ctx.fresh_model()`` copies (initial loss,
                  overfit one batch, zero inputs, gradcheck, determinism ...);
* ``"run"``       reads the short training run: ``ctx.monitor`` and ``ctx.run``.

Checks of phase "run" that need only a Monitor (``needs=("monitor",)``) also
serve ``Monitor.findings()`` for people who run their own training loop.

Every module in this package is imported by ``load_all()``, so adding a file
with checks is all it takes to add them.
"""
from __future__ import annotations

import traceback
import warnings
from dataclasses import dataclass
from typing import Callable

PHASES = ("data", "preflight", "run")


@dataclass(frozen=True)
class Check:
    name: str
    phase: str
    codes: tuple
    function: Callable
    needs: tuple  # "monitor", "run", "data": what the check reads


REGISTRY: list = []


def check(phase: str, codes, needs=()) -> Callable:
    """Register a check function for ``phase`` that may emit findings with ``codes``."""
    if phase not in PHASES:
        raise ValueError(f"check(): phase must be one of {PHASES}, got {phase!r}")
    codes = (codes,) if isinstance(codes, str) else tuple(codes)
    from ..codes import get
    for code in codes:
        get(code)  # unknown codes fail at import, not in a user's diagnosis

    def register(function: Callable) -> Callable:
        name = f"{function.__module__.rsplit('.', 1)[-1]}.{function.__name__}"
        REGISTRY[:] = [c for c in REGISTRY if c.name != name]  # re-import replaces
        REGISTRY.append(Check(name, phase, codes, function, tuple(needs)))
        return function

    return register


def load_all() -> list:
    """Import every check module in this package (once); returns the registry."""
    from ..._submodules import import_all
    import_all(__name__, __path__)
    return REGISTRY


def run_checks(ctx, phase="run", only=None, quiet: bool = False) -> list:
    """Run every registered check of ``phase`` on ``ctx``; returns their findings.

    ``run_checks(monitor, thresholds)`` (what ``Monitor.findings()`` calls) runs the
    Monitor-only run checks on a Monitor instead: see ``monitor_findings``.

    A check that crashes does not end the diagnosis. Its error is kept in
    ``ctx.cache["check_failures"]`` and, unless ``quiet``, warned about naming the
    check. ``diagnose`` passes ``quiet=True`` once the data are known to be broken
    (e.g. labels out of range): later checks are then expected to trip over them.
    ``only``: restrict to checks emitting these codes.
    """
    if not hasattr(ctx, "thresholds"):  # a Monitor, from Monitor.findings()
        return monitor_findings(ctx, None if isinstance(phase, str) else phase)
    findings = []
    failures = ctx.cache.setdefault("check_failures", []) if hasattr(ctx, "cache") else []
    for entry in load_all():
        if entry.phase != phase:
            continue
        if only is not None and not set(entry.codes) & set(only):
            continue
        try:
            result = entry.function(ctx) or []
        except Exception as error:  # noqa: BLE001
            failures.append(f"{entry.name}: {type(error).__name__}: {error}")
            if not quiet:
                warnings.warn(f"minnet.debug: check {entry.name} failed with "
                              f"{type(error).__name__}: {error}\n"
                              f"{traceback.format_exc(limit=3)}", RuntimeWarning, stacklevel=2)
            continue
        findings.extend(result)
    return findings


def monitor_findings(monitor, thresholds=None) -> list:
    """Findings from the run-phase checks that need only a Monitor (for ``Monitor.findings()``)."""
    from ..context import DiagnosisContext
    from ..thresholds import Thresholds
    if not isinstance(thresholds, Thresholds):
        thresholds = Thresholds(thresholds)
    ctx = DiagnosisContext(model=getattr(monitor, "model", None), loss_fn=None, optimizer=None,
                           make_optimizer=None, X_train=None, y_train=None, X_val=None,
                           y_val=None, task=None, n_classes=None, batch_size=0, shuffle=True,
                           steps=getattr(monitor, "n_steps", 0), seed=0, thresholds=thresholds,
                           monitor=monitor)
    findings = []
    for entry in load_all():
        if entry.phase == "run" and set(entry.needs) <= {"monitor"}:
            try:
                findings.extend(entry.function(ctx) or [])
            except Exception as error:  # noqa: BLE001
                warnings.warn(f"minnet.debug: check {entry.name} failed: {error}", RuntimeWarning)
    return findings


# what Monitor.findings() calls (the name in the Monitor's agreed API)
def run_monitor_checks(monitor, thresholds=None) -> list:
    return monitor_findings(monitor, thresholds)
