"""The loss curve as the run checks read it: where it turned non-finite, where it blew up.

Shared by the checks of the loss (dynamics), the gradients and the updates, which all
set aside the steps of a net that has already blown up.
"""
from __future__ import annotations

from typing import Optional

import numpy as np


def logged_nonfinite(losses: np.ndarray) -> Optional[int]:
    """First step whose *logged* loss is NaN/Inf, from a Monitor's ``loss`` scalar.

    A Monitor stores NaN for steps where nothing was logged, so a NaN counts only when the
    loss was logged densely before it (>= 90% of the earlier steps) and stays non-finite
    from there on (a NaN loss never recovers); an Inf always counts.
    """
    finite = np.isfinite(losses)
    for step in np.flatnonzero(~finite):
        if np.isinf(losses[step]):
            return int(step)
        if step > 0 and finite[:step].mean() >= 0.9 and not finite[step:].any():
            return int(step)
    return None


def steps_before_divergence(monitor) -> np.ndarray:
    """Boolean mask over the recorded steps: those before the logged loss first rose above
    1.5x its first value or turned non-finite (all True when no loss was logged or it never
    did). Update ratios and gradients after a blow-up describe a broken net, not the
    learning rate or the flow through a working one."""
    steps = np.asarray(monitor.steps, dtype=int)
    keep = np.ones(len(steps), dtype=bool)
    if "loss" not in getattr(monitor, "scalar_names", ()):
        return keep
    loss = np.asarray(monitor.scalar("loss"), dtype=np.float64)
    logged = np.flatnonzero(np.isfinite(loss))
    if logged.size == 0:
        return keep
    first = loss[logged[0]]
    bad = np.flatnonzero(~np.isfinite(loss[logged[0]:]) |
                         (loss[logged[0]:] > 1.5 * abs(first)))
    if bad.size == 0:
        return keep
    return steps < logged[0] + bad[0]
