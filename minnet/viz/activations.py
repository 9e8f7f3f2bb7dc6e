"""What the layers output over training: histograms as images, and dead ReLU units."""
from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import LogNorm

from ._common import (BAND_COLOR, check_monitor, finish, grid_axes, layer_colors,
                      require_recorded, resolve_layers, axes_or_new,
                      label_step_axis)

# Layer types whose outputs are >= 0 with exact zeros: where "dead" means something.
_RELU_LIKE = ("ReLU", "ReLU6")


def plot_activation_histograms(monitor, layers=None, ax=None, path=None, log_counts=True):
    """One image per layer: recorded step (x) against output value (y), colour = count.

    Reads ``monitor.histogram(layer)`` -> ``(counts (n_records, bins), edges)``.
    A healthy layer shows a band that stays put; a saturated tanh piles up at
    the top and bottom rows (+-1); a dead ReLU collapses into the bin at 0.
    ``layers``: labels (or paths, or indices) of the layers to show; default all.
    ``log_counts``: colour by log count, so thin tails stay visible.
    """
    where = "plot_activation_histograms()"
    check_monitor(monitor, where)
    chosen = resolve_layers(monitor, layers, where)
    steps = np.asarray(monitor.steps)
    require_recorded(steps, where)
    figure, axes = grid_axes(ax, len(chosen), where, panel_width=4.2, panel_height=2.8,
                                colorbars=True)
    for axis, layer in zip(axes, chosen):
        counts, edges = monitor.histogram(layer)
        counts = np.asarray(counts, dtype=np.float64)
        edges = np.asarray(edges, dtype=np.float64)
        if counts.ndim != 2 or counts.shape[1] != len(edges) - 1:
            raise ValueError(f"{where}: monitor.histogram({layer!r}) gave counts of shape "
                             f"{counts.shape} for {len(edges)} edges; expected "
                             f"(n_records, {len(edges) - 1})")
        # x extent: half a recording interval either side of each recorded step
        gap = float(np.median(np.diff(steps))) if len(steps) > 1 else 1.0
        extent = (steps[0] - gap / 2, steps[-1] + gap / 2, edges[0], edges[-1])
        positive = counts[counts > 0]
        # a log colour scale only helps when the counts span more than a decade; a layer
        # whose outputs all sit in one bin (every ReLU dead) would get a colour bar from
        # 925 to 1125 for a single line
        use_log = bool(log_counts and positive.size and positive.max() > 10 * positive.min())
        norm = (LogNorm(vmin=max(positive.min(), 1), vmax=max(positive.max(), 1.5))
                if use_log else None)
        # empty bins are NaN: drawn black, the darkest colour
        shown = np.where(counts > 0, counts, np.nan)
        image = axis.imshow(shown.T, origin="lower", aspect="auto", extent=extent,
                            cmap=colormaps["magma"].with_extremes(bad="black"), norm=norm,
                            interpolation="nearest", vmin=None if use_log else 0)
        low, high = value_range(monitor, layer, edges)
        axis.set_ylim(low, high)
        axis.set_title(layer, fontsize="medium")
        label_step_axis(axis)
        axis.set_ylabel("output value")
        if positive.size and np.count_nonzero(counts.sum(axis=0)) == 1:
            top, bottom = _recorded(monitor, layer, "max"), _recorded(monitor, layer, "min")
            said = ("every output is 0:\nall units dead" if top.size and np.nanmax(np.abs(
                np.r_[top, bottom])) == 0 else "every output in\none bin, every step")
            axis.text(0.5, 0.75, said, transform=axis.transAxes, ha="center", color="white",
                      fontsize="small")
        figure.colorbar(image, ax=axis, label="count" + (" (log)" if use_log else ""),
                        fraction=0.08, pad=0.03)
    return finish(figure, path, where)


def _recorded(monitor, layer: str, stat: str) -> np.ndarray:
    """``monitor.activation(layer, stat)`` as floats; empty when it was not recorded."""
    try:
        with np.errstate(invalid="ignore"):
            return np.asarray(monitor.activation(layer, stat), dtype=np.float64)
    except (KeyError, ValueError):
        return np.zeros(0)


def value_range(monitor, layer: str, edges: np.ndarray) -> tuple:
    """The y-range worth showing: the histogram's edges, but never below 0 for a layer
    whose outputs were never negative (a ReLU's axis from -0.5 suggests values it cannot
    output), and a small margin around a range that collapsed to a point."""
    low, high = float(edges[0]), float(edges[-1])
    minimum, maximum = _recorded(monitor, layer, "min"), _recorded(monitor, layer, "max")
    if minimum.size and np.all(np.isfinite(minimum)) and np.nanmin(minimum) >= 0:
        low = max(low, 0.0)
        if maximum.size and np.all(np.isfinite(maximum)):
            span = float(edges[-1] - edges[0])
            high = min(high, max(float(np.nanmax(maximum)) * 1.05, low + 0.25 * span))
    if high <= low:
        high = low + 1e-3
    return low, high


def relu_like_layers(monitor) -> list:
    """ReLU layers, and any layer whose outputs were never negative but had exact zeros."""
    types = getattr(monitor, "layer_types", {}) or {}
    chosen = []
    for layer in monitor.layers:
        if types.get(layer) in _RELU_LIKE:
            chosen.append(layer)
            continue
        with np.errstate(invalid="ignore"):
            minimum = np.asarray(monitor.activation(layer, "min"), dtype=np.float64)
            zeros = np.asarray(monitor.activation(layer, "zero_fraction"), dtype=np.float64)
        if minimum.size and np.nanmin(np.r_[minimum, np.inf]) >= 0 and np.nanmax(
                np.r_[zeros, 0]) > 0:
            chosen.append(layer)
    return chosen


def plot_dead_fraction(monitor, layers=None, ax=None, path=None, threshold=None,
                       highlight=()):
    """Fraction of dead units (0 for every sample of the batch) per layer against the step.

    ``layers``: default the ReLU-like layers. ``threshold``: draw the level a
    check compares against (e.g. 0.5) as a dashed line. ``highlight``: layers
    drawn thicker (the report uses it for the layers a finding names).
    """
    where = "plot_dead_fraction()"
    check_monitor(monitor, where)
    chosen = relu_like_layers(monitor) if layers is None else resolve_layers(monitor, layers,
                                                                              where)
    if not chosen:
        raise ValueError(f"{where}: no ReLU-like layer among {list(monitor.layers)}. Hint: "
                         f"pass layers=[...] to plot the dead fraction of others anyway.")
    highlight = set(resolve_layers(monitor, highlight, where)) if highlight else set()
    steps = np.asarray(monitor.steps)
    require_recorded(steps, where)
    figure, axis = axes_or_new(ax)
    for layer, color in zip(chosen, layer_colors(len(chosen))):
        fraction = np.asarray(monitor.activation(layer, "dead_fraction"), dtype=np.float64)
        axis.plot(steps, fraction, color=color, linewidth=3 if layer in highlight else 1.5,
                  marker="o" if len(steps) <= 30 else None, markersize=3, label=layer)
    if threshold is not None:
        axis.axhline(threshold, color=BAND_COLOR, linestyle="--", linewidth=1,
                     label=f"threshold {threshold:g}")
    axis.set_ylim(-0.03, 1.03)
    label_step_axis(axis)
    axis.set_ylabel("dead-unit fraction")
    axis.set_title("dead units (0 for every sample in the batch)")
    axis.grid(True, alpha=0.3)
    # outside the plot area: a legend must never hide the lines (or the band) it explains
    axis.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return finish(figure, path, where)
