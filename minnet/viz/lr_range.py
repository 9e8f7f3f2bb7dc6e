"""The LR range test: loss against a growing learning rate, with the suggestion marked."""
from __future__ import annotations

import numpy as np

from ._common import MARK_COLOR, TRAIN_COLOR, axes_or_new, finish


def plot_lr_find(result, method: str = "steepest", show_raw: bool = True, ax=None, path=None):
    """Plot a ``minnet.optim.lr_find`` result: lrs (log x) against the smoothed loss.

    The raw minibatch losses are drawn faint behind; the suggested learning
    rate (``result.suggestion(method)``) is a dashed vertical line with a dot
    on the curve. When the curve is too short to suggest anything, the title
    says so instead. Returns the Figure.
    """
    where = "plot_lr_find()"
    for attribute in ("lrs", "losses", "raw_losses"):
        if not hasattr(result, attribute):
            raise TypeError(f"{where}: expected the LRFindResult returned by "
                            f"minnet.optim.lr_find, got {type(result).__name__} without "
                            f".{attribute}")
    lrs = np.asarray(result.lrs, dtype=np.float64)
    losses = np.asarray(result.losses, dtype=np.float64)
    if lrs.size == 0:
        raise ValueError(f"{where}: the result holds no steps")
    figure, axis = axes_or_new(ax)
    if show_raw:
        raw = np.asarray(result.raw_losses, dtype=np.float64)
        axis.plot(lrs, np.where(np.isfinite(raw), raw, np.nan), color="0.7", linewidth=1,
                  label="raw minibatch loss")
    finite = np.isfinite(losses)
    axis.plot(lrs[finite], losses[finite], color=TRAIN_COLOR, linewidth=2, label="smoothed loss")
    title = "LR range test"
    try:
        suggested = float(result.suggestion(method))
    except ValueError as error:  # too few points to read the curve
        title += f"\n(no suggestion: {error})"
    else:
        at = int(np.argmin(np.abs(np.log(lrs) - np.log(suggested))))
        axis.axvline(suggested, color=MARK_COLOR, linestyle="--", linewidth=1.5,
                     label=f"suggested lr = {suggested:.2g} ({method})")
        axis.plot([lrs[at]], [losses[at]], "o", color=MARK_COLOR, markersize=7)
    if getattr(result, "diverged", False):
        title += "\n" + str(getattr(result, "stop_reason", "stopped: the loss diverged"))
    axis.set_xscale("log")
    axis.set_xlabel("learning rate (log)")
    axis.set_ylabel("loss")
    axis.set_title(title, fontsize="medium")
    axis.grid(True, which="both", alpha=0.3)
    axis.legend(fontsize="small")
    # the blow-up at the end can be orders of magnitude: keep the useful part readable
    if finite.any():
        low, high = np.nanmin(losses[finite]), losses[finite][0]
        span = max(high - low, 1e-12)
        top = min(np.nanmax(losses[finite]), high + 3 * span)
        axis.set_ylim(low - 0.1 * span, top + 0.1 * span)
    return finish(figure, path, where)
