"""What every picture needs: a Figure (or the caller's Axes), atomic saving,
reading a Monitor with clear errors, and NaN-aware smoothing."""
from __future__ import annotations

import os
from typing import Optional

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..fileio import atomic_write

# Colours with a meaning, shared by every picture (and by the tests that look for them).
TRAIN_COLOR = "#1f77b4"
VAL_COLOR = "#ff7f0e"
TARGET_COLOR = "#2ca02c"
MARK_COLOR = "#d62728"      # suggestions, failures, non-finite markers
BAND_COLOR = "#2ca02c"      # "healthy range" bands
SEVERITY_COLORS = {"error": "#d62728", "warning": "#ff9f1c", "info": "#1f77b4"}

SAVE_FORMATS = ("png", "pdf", "svg", "jpg", "jpeg")


def new_figure(width: float, height: float, constrained: bool = True) -> Figure:
    """A Figure drawn by Agg and not registered with pyplot.

    Not going through pyplot means no global state: figures are freed when
    dropped (no "too many open figures"), and it works on any backend. To show
    one in a window, draw into your own ``plt.subplots()`` axes with ``ax=``.
    ``constrained``: matplotlib places the Axes around their labels when drawn
    (without it, the caller sets the margins).
    """
    figure = Figure(figsize=(width, height), layout="constrained" if constrained else None)
    FigureCanvasAgg(figure)
    return figure


def axes_or_new(ax, width: float = 6.4, height: float = 4.0):
    """``(figure, ax)``: the caller's Axes and its Figure, or a new single-Axes Figure."""
    if ax is not None:
        return ax.figure, ax
    figure = new_figure(width, height)
    return figure, figure.add_subplot()


# Fixed margins (inches) of a grid whose every panel has a title, axis labels and a colour
# bar with a label: constrained layout measures every tick label of every Axes and bar each
# time the figure is drawn, half the drawing time of such a grid; equal panels need no search.
COLORBAR_GRID_MARGINS = dict(left=0.65, right=0.9, bottom=0.5, top=0.3, across=1.5, down=0.7)


def _set_margins(figure: Figure, rows: int, columns: int, left: float, right: float,
                 bottom: float, top: float, across: float, down: float) -> None:
    """Place a rows x columns grid with margins and gaps given in inches."""
    width, height = figure.get_size_inches()
    panel_width = (width - left - right - across * (columns - 1)) / columns
    panel_height = (height - bottom - top - down * (rows - 1)) / rows
    figure.subplots_adjust(left=left / width, right=1 - right / width,
                           bottom=bottom / height, top=1 - top / height,
                           wspace=across / panel_width, hspace=down / panel_height)


def grid_axes(ax, n_panels: int, where: str, panel_width: float = 4.0,
              panel_height: float = 2.6, max_columns: int = 3,
              colorbars: bool = False) -> tuple:
    """``(figure, [axes...])`` with one Axes per panel.

    ``ax`` may be None (a new Figure with a grid), or a sequence of exactly
    ``n_panels`` Axes supplied by the caller. ``colorbars``: every panel gets a
    labelled colour bar (fixed margins that leave room for it).
    """
    if ax is not None:
        axes = list(np.ravel(ax)) if isinstance(ax, (list, tuple, np.ndarray)) else [ax]
        if len(axes) != n_panels:
            raise ValueError(f"{where}: got {len(axes)} Axes for {n_panels} panel(s). Hint: pass "
                             f"ax=None to get a new Figure, or one Axes per panel.")
        return axes[0].figure, axes
    columns = min(max_columns, max(1, n_panels))
    rows = -(-n_panels // columns)
    figure = new_figure(panel_width * columns, panel_height * rows, constrained=not colorbars)
    grid = figure.subplots(rows, columns, squeeze=False)
    if colorbars:
        _set_margins(figure, rows, columns, **COLORBAR_GRID_MARGINS)
    axes = list(grid.ravel())
    for extra in axes[n_panels:]:
        extra.set_visible(False)
    return figure, axes[:n_panels]


def save_figure(figure: Figure, path, where: str, format: Optional[str] = None,
                dpi: int = 100) -> Optional[str]:
    """Save ``figure`` to ``path`` atomically (the format from the suffix); returns the path."""
    if path is None:
        return None
    format = (format or os.path.splitext(os.fspath(path))[1].lstrip(".")).lower()
    if format not in SAVE_FORMATS:
        raise ValueError(f"{where}: cannot save a figure as {format or 'a file without suffix'!r} "
                         f"({os.fspath(path)!r}); use one of {', '.join(SAVE_FORMATS)}. Hint: "
                         f"name the file e.g. 'loss.png'.")
    return atomic_write(path, lambda file: figure.savefig(file, format=format, dpi=dpi))


def finish(figure: Figure, path, where: str, format: Optional[str] = None) -> Figure:
    save_figure(figure, path, where, format)
    return figure


# -- reading a Monitor --------------------------------------------------------------------------
_MONITOR_METHODS = ("layers", "steps", "activation", "param", "param_names", "scalar")


def check_monitor(monitor, where: str) -> None:
    missing = [name for name in _MONITOR_METHODS if not hasattr(monitor, name)]
    if missing:
        raise TypeError(f"{where}: expected a minnet.debug.Monitor (or an object with "
                        f"{', '.join(_MONITOR_METHODS)}), got {type(monitor).__name__} without "
                        f"{', '.join(missing)}. Hint: train under `with Monitor(model, "
                        f"optimizer) as monitor:` and pass the monitor.")


def resolve_layer(monitor, layer, where: str) -> str:
    """The Monitor's label for ``layer``: the label itself ("1 (ReLU)"), its path ("1"),
    or its position in ``monitor.layers`` (an int)."""
    known = list(monitor.layers)
    if isinstance(layer, (int, np.integer)) and not isinstance(layer, bool):
        if -len(known) <= layer < len(known):
            return known[layer]
        raise IndexError(f"{where}: layer index {layer} out of range: the monitor recorded "
                         f"{len(known)} layer(s): {known}")
    if layer in known:
        return layer
    by_path = [label for label in known if label.split(" (")[0] == layer]
    if len(by_path) == 1:
        return by_path[0]
    raise KeyError(f"{where}: unknown layer {layer!r}; the monitor recorded these layers: "
                   f"{known}. Hint: use a label exactly as listed (or its path, e.g. '1').")


def resolve_layers(monitor, layers, where: str) -> list:
    if layers is None:
        return list(monitor.layers)
    if isinstance(layers, (str, int)):
        layers = [layers]
    return [resolve_layer(monitor, layer, where) for layer in layers]


def resolve_params(monitor, params, where: str) -> list:
    known = list(monitor.param_names)
    if isinstance(params, str):
        params = [params]
    unknown = [name for name in params if name not in known]
    if unknown:
        raise KeyError(f"{where}: unknown parameter(s) {unknown}; the monitor recorded: {known}. "
                       f"Hint: names are as in model.named_parameters(), e.g. '0.weight'.")
    return list(params)


def param_label(monitor, name: str) -> str:
    """"0 (Linear) weight" for "0.weight" when the Monitor knows the layer, else the name."""
    layer = getattr(monitor, "layer_of_param", {}).get(name)
    if layer:
        return f"{layer} {name.rsplit('.', 1)[-1]}"
    return name


def default_weight_params(monitor) -> list:
    """Weights only (biases start at 0, so their ratios and norms say little); all if none."""
    names = list(monitor.param_names)
    weights = [name for name in names if name.rsplit(".", 1)[-1] == "weight"]
    return weights or names


def require_recorded(steps: np.ndarray, where: str) -> None:
    if len(steps) == 0:
        raise ValueError(f"{where}: the monitor has no recorded steps yet. Hint: run at least "
                         f"one training step (forward, backward, optimizer.step()) under it.")


# -- numbers --------------------------------------------------------------------------------------
def smooth_ema(values: np.ndarray, factor: float) -> np.ndarray:
    """Bias-corrected exponential moving average that skips NaN/inf (they stay NaN).

    ``factor`` in [0, 1): 0 is no smoothing, 0.9 averages over ~10 points.
    """
    values = np.asarray(values, dtype=np.float64)
    if not 0 <= factor < 1:
        raise ValueError(f"smoothing factor must be in [0, 1), got {factor}")
    if factor == 0:
        return values.copy()
    smoothed = np.full_like(values, np.nan)
    average, seen = 0.0, 0
    for i, value in enumerate(values):
        if np.isfinite(value):
            average = factor * average + (1 - factor) * value
            seen += 1
            smoothed[i] = average / (1 - factor ** seen)
    return smoothed


def positive_or_nan(values) -> np.ndarray:
    """For log axes: zeros, negatives and infinities become NaN (a gap in the line)."""
    values = np.array(values, dtype=np.float64)
    values[~(np.isfinite(values) & (values > 0))] = np.nan
    return values


def as_array(values, where: str, name: str) -> np.ndarray:
    if hasattr(values, "_data") and not isinstance(values, np.ndarray):  # a minnet Tensor
        values = values._data
    array = np.asarray(values, dtype=np.float64)
    if array.ndim != 1:
        raise ValueError(f"{where}: {name} must be 1-D (one value per step), got shape "
                         f"{array.shape}")
    return array


def layer_colors(n: int) -> list:
    """Distinguishable colours for n layers (tab10, then a continuous map)."""
    from matplotlib import colormaps
    if n <= 10:
        return [colormaps["tab10"](i) for i in range(n)]
    return [colormaps["viridis"](i / max(1, n - 1)) for i in range(n)]


def label_step_axis(axis) -> None:
    """x axis = training steps: labelled "step", ticks on whole steps only.

    A run that stopped after two steps (a NaN) would otherwise get ticks at 0.2, 0.4, ...
    """
    axis.set_xlabel("step")
    axis.xaxis.set_major_locator(MaxNLocator(integer=True))


def wrapped_title(text: str, width_inches: float, fontsize_points: float = 12.0) -> str:
    """``text`` broken into lines that fit ``width_inches`` (a title is never cut off).

    An average character of the default sans-serif font is about 0.6 of the font size wide;
    matplotlib does not wrap titles itself, and a long one runs off the figure's edge.
    """
    import textwrap
    characters = max(20, int(width_inches * 72 / (0.6 * fontsize_points)))
    return textwrap.fill(text, characters)
