"""The severity policy, applied to every diagnosis after the checks have run.

error: training will not succeed as set up (a measurement or what-if shows it);
warning: it likely hurts, but this run still trains; info: worth knowing. Checks set
severities from their own evidence; this module applies the two facts known only
after all checks: on an already-trained model, findings about the initialisation
become info; when the short run trained anyway, predicted failures become warnings.
Details: docs/debugger.md, "The severity policy".
"""
from __future__ import annotations

import math

import numpy as np

# findings about the initial weights: on an already-trained model they describe trained ones
INIT_CODES = ("init.bad_scale", "init.output_bias", "loss.initial_unexpected")

# predictions that training will fail, which a run that trained well refutes. Findings that
# say the results are *wrong* (leakage, a wrong loss input, broadcasting shapes, train mode
# at evaluation, labels out of range...) are not here: a falling loss does not make them right.
PERFORMANCE_CODES = ("init.bad_scale", "activation.dead_relu", "activation.saturated",
                     "activation.scale", "grad.vanishing", "grad.exploding", "update.ratio",
                     "model.cannot_overfit", "data.not_normalized", "loss.plateau",
                     "optim.clipping_always", "data.not_shuffled")

# "trained well": the short run's last window is below this fraction of the chance-level loss
TRAINED_FRACTION = 0.5


def enforce(findings: list, ctx) -> list:
    """Apply the policy to ``findings`` (in place; also returned)."""
    if _already_trained(ctx):
        for finding in findings:
            if finding.code in INIT_CODES and finding.severity != "info":
                _lower(finding, "info",
                       "This model is already trained (its loss before the short run beats "
                       "guessing by more than the initial-loss factor), so this describes its "
                       "trained weights, not an initialisation.")
    trained = _run_trained_well(ctx)
    if trained is not None:
        end, chance = trained
        for finding in findings:
            if (finding.code in PERFORMANCE_CODES and finding.severity == "error"
                    and not _judges_results(finding)):
                _lower(finding, "warning",
                       f"Measured: the short run still trained (its loss ended at {end:.4g}, "
                       f"below half the {chance:.4g} of guessing), so this likely hurts but "
                       "does not stop training: a warning, not an error.")
    return findings


def _judges_results(finding) -> bool:
    """A finding of a performance code that says the *results* are wrong, which a falling
    training loss cannot refute: a validation split holding a single class (data.not_shuffled
    on the split, not on the training order), or validation inputs on another scale than the
    training inputs (data.not_normalized on the validation split), measure nothing however
    well training goes."""
    return bool(finding.evidence.get("val_single_class")
                or finding.evidence.get("applies_to") == "validation inputs")


def _lower(finding, severity: str, why: str) -> None:
    finding.evidence["severity_before_policy"] = finding.severity
    finding.evidence["severity_reason"] = why
    finding.severity = severity
    finding.message = f"{finding.message} {why}"


def _already_trained(ctx) -> bool:
    from .checks.loss import already_trained
    try:
        return bool(already_trained(ctx))
    except Exception:  # noqa: BLE001 - the policy never breaks a diagnosis
        return False


def _run_trained_well(ctx):
    """``(end loss, chance loss)`` when the short run's last tenth ended below
    ``TRAINED_FRACTION`` of the chance-level loss, else None."""
    run = getattr(ctx, "run", None)
    if run is None or run.error is not None or run.stopped_at is not None or run.steps < 10:
        return None
    from .checks.loss import chance_loss
    try:
        chance = chance_loss(ctx)
    except Exception:  # noqa: BLE001
        return None
    losses = np.asarray(run.losses[:run.steps], dtype=np.float64)
    if chance is None or chance <= 0 or not np.all(np.isfinite(losses)):
        return None
    end = float(losses[-max(5, run.steps // 10):].mean())
    if not math.isfinite(end) or end >= TRAINED_FRACTION * chance:
        return None
    return end, chance
