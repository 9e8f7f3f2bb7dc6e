"""Update/parameter ratio per layer: how big each optimizer step is relative to the weights.

Karpathy's rule of thumb (CS231n): ||lr * update|| / ||weights|| near 1e-3 is a
healthy step size; far below 1e-4 the layer barely learns (lr too small), far
above 1e-2 it is being thrown around (lr too large).
"""
from __future__ import annotations

import numpy as np

from ._common import (BAND_COLOR, axes_or_new, check_monitor, default_weight_params, finish,
                      layer_colors, param_label, positive_or_nan, require_recorded,
                      resolve_layers, resolve_params,
                      label_step_axis)

TARGET_RATIO = 1e-3
HEALTHY_BAND = (1e-4, 1e-2)


def plot_update_ratio(monitor, params=None, ax=None, path=None, target: float = TARGET_RATIO,
                      band=HEALTHY_BAND, highlight=()):
    """``update_ratio`` of each parameter against the step, log y, the healthy band shaded.

    ``params``: parameter names (default: the weights; biases start at 0, so their
    ratio is meaningless early on). The target is a dashed line, ``band`` a
    shaded y-range. ``highlight``: layers whose lines are drawn thicker.
    """
    where = "plot_update_ratio()"
    check_monitor(monitor, where)
    names = default_weight_params(monitor) if params is None else \
        resolve_params(monitor, params, where)
    steps = np.asarray(monitor.steps)
    require_recorded(steps, where)
    low, high = band
    if not 0 < low < target < high:
        raise ValueError(f"{where}: need 0 < band[0] < target < band[1], got band={band}, "
                         f"target={target}")
    highlight = set(resolve_layers(monitor, highlight, where)) if highlight else set()
    figure, axis = axes_or_new(ax)
    axis.axhspan(low, high, color=BAND_COLOR, alpha=0.15, linewidth=0,
                 label=f"healthy {low:.0e} to {high:.0e}")
    axis.axhline(target, color=BAND_COLOR, linestyle="--", linewidth=1.2,
                 label=f"target {target:g}")
    all_ratios = []
    for name, color in zip(names, layer_colors(len(names))):
        ratio = positive_or_nan(monitor.param(name, "update_ratio"))
        all_ratios.append(ratio)
        label = param_label(monitor, name)
        bold = any(label.startswith(layer) for layer in highlight)
        axis.plot(steps, ratio, color=color, linewidth=3 if bold else 1.5, label=label)
    axis.set_yscale("log")
    axis.set_ylim(*_y_limits(all_ratios, low, high))
    label_step_axis(axis)
    axis.set_ylabel("||update|| / ||parameter|| (log)")
    axis.set_title("update / parameter ratio")
    axis.grid(True, which="both", alpha=0.3)
    # outside the plot area: a legend must never hide the lines (or the band) it explains
    axis.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return finish(figure, path, where)


def _y_limits(curves, low, high):
    """Always show the whole band, and every recorded ratio."""
    values = np.concatenate([c[np.isfinite(c)] for c in curves] + [np.array([low, high])])
    return values.min() / 3, values.max() * 3
