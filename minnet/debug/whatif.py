"""What-if: rerun a short training with a finding's mechanical fix applied, next to a control.

A *mechanical fix* ``fix(setup, finding) -> Setup`` returns a repaired copy (He/Glorot
init, standardised inputs, lr / 10, ...); ``minnet.debug.checks.FIXES`` lists one per code.
``verify_fixes`` trains the untouched control and each repaired copy for the same steps from
the same weights and batch order, then diagnoses the copy again: did the finding go away,
did the loss improve? The repair is shown, never applied to the user's model.
"""
from __future__ import annotations

from typing import Callable, Optional

import numpy as np

from .checks import FIXES  # the mechanical fix of each code, listed beside the checks


def _final_loss(losses: np.ndarray) -> float:
    """Mean of the last 10% of finite losses (inf when training blew up)."""
    if not np.all(np.isfinite(losses)) and np.isnan(losses).all():
        return float("inf")
    finite = losses[np.isfinite(losses)]
    if finite.size < len(losses):       # stopped on a non-finite loss
        return float("inf")
    tail = finite[-max(1, len(finite) // 10):]
    return float(tail.mean())


def verify_fixes(report, diagnose_setup: Callable, steps: Optional[int] = None,
                 codes=None) -> list:
    """For each finding with a mechanical fix: control vs repaired run; results on the findings.

    ``diagnose_setup(setup, steps=..., phases=...)`` diagnoses a setup (passed in by
    ``minnet.debug.diagnosis``, which this module sits below).
    """
    ctx = report.context
    if ctx is None or ctx.setup is None:
        raise ValueError("verify_fixes(): this report has no setup to rerun (it was loaded from "
                         "JSON, or built by hand). Run diagnose(...) again.")
    setup = ctx.setup
    steps = steps or ctx.steps
    control = diagnose_setup(setup, steps=steps, phases=("run",))
    control_loss = _final_loss(control.run["losses"])
    results = []
    for finding in report.findings:
        if codes is not None and finding.code not in codes:
            continue
        if codes is None and finding.severity == "info":
            continue  # each what-if is a full rerun: spend it on warnings and errors
        fix = FIXES.get(finding.code)
        if fix is None:
            continue
        try:
            repaired_setup = fix.apply(setup, finding)
            repaired = diagnose_setup(repaired_setup, steps=steps)
        except Exception as error:  # noqa: BLE001 - a failed what-if is reported, not raised
            result = {"code": finding.code, "fix": fix.description, "error": repr(error),
                      "summary": f"could not try '{fix.description}': {error}"}
        else:
            repaired_loss = _final_loss(repaired.run.get("losses", np.array([np.nan])))
            gone = not any(f.code == finding.code and f.layer == finding.layer
                           for f in repaired.findings)
            improved = repaired_loss < control_loss
            result = {"code": finding.code, "layer": finding.layer, "fix": fix.description,
                      "finding_gone": gone, "control_loss": control_loss,
                      "fixed_loss": repaired_loss, "loss_improved": bool(improved),
                      "remaining": repaired.codes,
                      "summary": (f"'{fix.description}': finding "
                                  f"{'gone' if gone else 'still there'}; final loss "
                                  f"{control_loss:.4g} -> {repaired_loss:.4g} "
                                  f"({'better' if improved else 'not better'})")}
        finding.verification = result
        results.append(result)
    return results
