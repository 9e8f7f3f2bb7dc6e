"""The short training run itself: did it run at all?

The run-time checks read what the run recorded; when the model, the loss or
the training step raised an exception, there is nothing to read, and saying
"no findings" would be a lie. This check turns the exception into a finding.
"""
from __future__ import annotations

import traceback

from ..report import Finding


def _where(error: BaseException) -> str:
    """The innermost frame of the traceback outside minnet, as 'file:line in function'."""
    frames = traceback.extract_tb(error.__traceback__)
    outside = [f for f in frames if "/minnet/" not in f.filename.replace("\\", "/")]
    frame = (outside or frames or [None])[-1]
    return f"{frame.filename}:{frame.lineno} in {frame.name}" if frame else "unknown"


def run_crashed(ctx) -> list:
    """The model, the loss or the training step raised during the short run: quote the exception
    and the step, so the report never reads as clean while nothing could be measured."""
    run = ctx.run
    if run is None or run.error is None:
        return []
    error = run.error
    text = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
    notes = " ".join(getattr(error, "__notes__", []))
    step = run.stopped_at if run.stopped_at is not None else run.steps
    message = (f"Training stopped at step {step}: {type(error).__name__}: {text}"
               f"{' ' + notes if notes else ''}. The run-time checks (activations, gradients, "
               f"updates, the loss curve) had nothing to read.")
    return [Finding("run.crashed", message, step=step,
                    evidence={"exception": type(error).__name__, "message": text,
                              "step": step, "where": _where(error)})]
