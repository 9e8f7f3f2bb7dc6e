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
    """Boolean mask over the recorded steps: those before the run blew up (all True when no
    loss was logged or it never did). Update ratios and gradients after a blow-up describe a
    broken net, not the learning rate or the flow through a working one.

    The blow-up: the logged loss turned non-finite for good (``logged_nonfinite``), or rose
    above 1.5x its first value and stayed there to the end. Steps with nothing logged (NaN
    in a Monitor) are neither, and one noisy batch above the line that comes back is not one.
    """
    steps = np.asarray(monitor.steps, dtype=int)
    keep = np.ones(len(steps), dtype=bool)
    if "loss" not in getattr(monitor, "scalar_names", ()):
        return keep
    loss = np.asarray(monitor.scalar("loss"), dtype=np.float64)
    logged = np.flatnonzero(np.isfinite(loss))
    if logged.size == 0:
        return keep
    start = logged[0]
    nonfinite = logged_nonfinite(loss)
    end = len(loss) if nonfinite is None else nonfinite
    values = loss[start:end]
    observed = ~np.isnan(values)  # inf is observed (and above the line); NaN: nothing logged
    above = np.where(observed, values > 1.5 * abs(loss[start]), True)
    stays_above = np.logical_and.accumulate(above[::-1])[::-1]  # above from here to the end
    rises = np.flatnonzero(stays_above & observed)
    if rises.size:
        end = start + rises[0]
    elif nonfinite is None:
        return keep
    return steps < end


def loss_curve(ctx) -> np.ndarray:
    """Per-step training losses: the short run's, else the Monitor's ``loss`` scalar."""
    if getattr(ctx, "run", None) is not None:
        stopped = ctx.run.stopped_at
        last = -1 if stopped is None else stopped
        return np.asarray(ctx.run.losses[:max(ctx.run.steps, last + 1)], dtype=np.float64)
    monitor = getattr(ctx, "monitor", None)
    if monitor is not None and "loss" in getattr(monitor, "scalar_names", ()):
        return np.asarray(monitor.scalar("loss"), dtype=np.float64)
    return np.zeros(0)


def first_and_last_tenth(losses: np.ndarray) -> Optional[tuple]:
    """The first and the last tenth of the finite losses (None with fewer than 10)."""
    finite = losses[np.isfinite(losses)]
    if finite.size < 10:
        return None
    tenth = max(finite.size // 10, 1)
    return finite[:tenth], finite[-tenth:]


def loss_fall(losses: np.ndarray) -> float:
    """How many times lower the loss ends than it starts: the median of the first tenth of
    the finite losses over that of the last tenth (1.0 with too few to say; inf when the
    end is exactly 0)."""
    tenths = first_and_last_tenth(losses)
    if tenths is None:
        return 1.0
    first, last = (float(np.median(window)) for window in tenths)
    if first <= 0:
        return 1.0
    return first / last if last > 0 else float("inf")
