"""Loss and metric curves: train solid, validation dashed, one panel per quantity."""
from __future__ import annotations

from typing import Optional

import numpy as np

from ._common import (MARK_COLOR, TRAIN_COLOR, VAL_COLOR, as_array, finish, grid_axes,
                      positive_or_nan, smooth_ema,
                      label_step_axis, wrapped_title)

# Scalars the Monitor records for its own checks: not curves a user logged.
_MONITOR_INTERNAL = ("lr", "stale_grad_norm", "grad_norm_total", "grad_norm_at_step")
_VAL_PREFIXES = ("val_", "val/", "valid_", "validation_", "test_")  # held-out curves
_TRAIN_PREFIXES = ("train_", "train/")


def plot_curves(source, names=None, log: bool = False, smooth: float = 0.0, ax=None,
                path=None, title: Optional[str] = None):
    """Curves of logged scalars against the step, one panel per quantity; returns the Figure.

    ``source``: a Monitor (by default every scalar you logged, not ``lr`` nor its own), a dict
    ``{name: 1-D array}`` or one 1-D array of losses; ``names`` picks some. ``val_x`` (or
    ``val/x``) is drawn dashed in ``x``'s panel, ``train_x`` solid there. NaN entries (steps
    with nothing logged) are skipped; a curve's first non-finite value after finite ones is
    marked with an x. ``log``: log-scale y; ``smooth`` in [0, 1): moving-average factor (the
    raw curve stays, faint); ``ax``: one Axes per panel; ``path``: also save the figure there.
    """
    where = "plot_curves()"
    curves = _curves_from(source, names, where)
    panels = {}
    for name, values in curves.items():
        panels.setdefault(_quantity(name), []).append((name, values))
    figure, axes = grid_axes(ax, len(panels), where, panel_width=5.0, panel_height=3.2,
                             max_columns=2)
    for axis, (quantity, members) in zip(axes, panels.items()):
        for name, values in members:
            _draw_curve(axis, name, values, log, smooth)
        label_step_axis(axis)
        axis.set_ylabel(quantity + (" (log)" if log else ""))
        if log:
            axis.set_yscale("log")
        axis.grid(True, alpha=0.3)
        axis.legend(fontsize="small")
        if title and len(panels) == 1:
            width = axis.get_position().width * figure.get_figwidth()
            axis.set_title(wrapped_title(title, width))
    if title and len(panels) > 1:
        figure.suptitle(wrapped_title(title, figure.get_figwidth()))
    return finish(figure, path, where)


def plot_loss(source, val=None, log: bool = False, smooth: float = 0.0, ax=None, path=None,
              title: Optional[str] = None, val_label: str = "val_loss"):
    """The loss curve (and the validation loss, if given or logged as ``val_loss``).

    ``source``: a Monitor (scalars ``loss`` and ``val_loss``), a 1-D array of
    training losses, or a TrainingRun (``.losses``). ``val``: optional array of
    validation losses, one per step (NaN where not measured), drawn as ``val_label``
    (e.g. "test_loss" when it is measured on the test set).
    """
    where = "plot_loss()"
    if hasattr(source, "scalar_names"):
        logged = list(source.scalar_names)
        if "loss" not in logged:
            raise KeyError(f"{where}: the monitor has no scalar 'loss'; it logged {logged}. "
                           f"Hint: call monitor.log(loss=loss) in your loop.")
        curves = {"loss": source.scalar("loss")}
        for name in logged:
            if _quantity(name) == "loss" and name != "loss":
                curves[name] = source.scalar(name)
    else:
        losses = getattr(source, "losses", source)
        curves = {"loss": as_array(losses, where, "the losses")}
    if val is not None:
        curves[val_label] = as_array(val, where, "val")
    return plot_curves(curves, log=log, smooth=smooth, ax=ax, path=path,
                       title=title or "loss")


def _curves_from(source, names, where: str) -> dict:
    if hasattr(source, "scalar_names") and hasattr(source, "scalar"):
        logged = list(source.scalar_names)
        if names is None:
            names = [name for name in logged if name not in _MONITOR_INTERNAL
                     and not name.startswith("lr/")]
        unknown = [name for name in ([names] if isinstance(names, str) else names)
                   if name not in logged]
        if unknown:
            raise KeyError(f"{where}: the monitor has no scalar(s) {unknown}; it logged "
                           f"{logged}. Hint: monitor.log(name=value) records a scalar.")
        names = [names] if isinstance(names, str) else names
        curves = {name: as_array(source.scalar(name), where, name) for name in names}
    elif isinstance(source, dict):
        chosen = source if names is None else {name: source[name] for name in names}
        curves = {name: as_array(values, where, repr(name)) for name, values in chosen.items()}
    else:
        curves = {"loss": as_array(getattr(source, "losses", source), where, "the losses")}
    if not curves:
        raise ValueError(f"{where}: nothing to plot (no scalars). Hint: log a loss with "
                         f"monitor.log(loss=...), or pass {{'loss': losses}}.")
    return curves


def _quantity(name: str) -> str:
    """The panel a curve belongs to: 'val_loss' and 'train_loss' both go to 'loss'."""
    for prefix in _VAL_PREFIXES + _TRAIN_PREFIXES:
        if name.startswith(prefix) and len(name) > len(prefix):
            return name[len(prefix):]
    return name


def _is_validation(name: str) -> bool:
    return name.startswith(_VAL_PREFIXES)


def _draw_curve(ax, name: str, values: np.ndarray, log: bool, smooth: float) -> None:
    steps = np.arange(len(values))
    shown = positive_or_nan(values) if log else np.where(np.isfinite(values), values, np.nan)
    kept = np.isfinite(shown)  # skip gaps so sparse validation points join up
    color = VAL_COLOR if _is_validation(name) else TRAIN_COLOR
    style = "--" if _is_validation(name) else "-"
    marker = "o" if kept.sum() <= 30 and _is_validation(name) else None
    if smooth:
        ax.plot(steps[kept], shown[kept], color=color, alpha=0.25, linewidth=1)
        smoothed = smooth_ema(shown, smooth)
        kept = np.isfinite(smoothed)
        ax.plot(steps[kept], smoothed[kept], color=color, linestyle=style, linewidth=1.8,
                label=f"{name} (smoothed {smooth:g})")
    else:
        ax.plot(steps[kept], shown[kept], color=color, linestyle=style, marker=marker,
                markersize=3, linewidth=1.5, label=name)
    _mark_nonfinite(ax, steps, values, name)


def _mark_nonfinite(ax, steps, values, name) -> None:
    """A dotted line where a curve logged at every step turns NaN/inf for good: the blow-up.

    Curves with gaps (validation every k steps) are NaN between their points by
    design, so for them only an inf counts.
    """
    finite = np.isfinite(values)
    if finite.all() or not finite.any():
        return
    first_bad = int(np.argmin(finite))
    dense_before = first_bad > 0
    never_recovers = not finite[first_bad:].any()
    if np.isinf(values).any():
        first_bad = int(np.argmax(np.isinf(values)))
    elif not (dense_before and never_recovers):
        return
    ax.axvline(steps[first_bad], color=MARK_COLOR, linestyle=":", linewidth=1.2,
               label=f"{name} non-finite from step {first_bad}")
