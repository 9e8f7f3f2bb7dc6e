"""Histograms of a model's weights, with the scale He initialisation would give."""
from __future__ import annotations

import numpy as np

from ._common import TARGET_COLOR, TRAIN_COLOR, finish, grid_axes


def plot_weight_histograms(model, bins: int = 40, include_bias: bool = False, ax=None,
                           path=None):
    """One histogram per parameter of ``model`` (weights only unless ``include_bias``).

    Each panel's title gives the mean and std; for weights with a fan-in
    (2-D and conv weights) the dashed lines at +-sqrt(2 / fan_in) show the std
    He (Kaiming) initialisation targets for ReLU networks, so a badly scaled
    layer stands out: its histogram is much wider or narrower than the lines.
    """
    where = "plot_weight_histograms()"
    if not hasattr(model, "named_parameters"):
        raise TypeError(f"{where}: expected a minnet.nn.Module, got {type(model).__name__}")
    chosen = [(name, param) for name, param in model.named_parameters()
              if include_bias or name.rsplit(".", 1)[-1] != "bias"]
    if not chosen:
        raise ValueError(f"{where}: the model has no {'parameters' if include_bias else 'weights'}"
                         f"; parameters: {[name for name, _ in model.named_parameters()]}. "
                         f"Hint: include_bias=True to plot biases too.")
    figure, axes = grid_axes(ax, len(chosen), where, panel_width=3.6, panel_height=2.6)
    for axis, (name, param) in zip(axes, chosen):
        values = np.asarray(param._data, dtype=np.float64)
        finite = values[np.isfinite(values)].ravel()
        axis.hist(finite, bins=bins, color=TRAIN_COLOR)
        if values.ndim >= 2:
            fan_in = int(np.prod(values.shape[1:]))
            he_std = np.sqrt(2.0 / fan_in)
            for sign in (-1, 1):
                axis.axvline(sign * he_std, color=TARGET_COLOR, linestyle="--", linewidth=1.2,
                             label=f"He std {he_std:.3g} (fan_in {fan_in})" if sign > 0 else None)
            axis.legend(fontsize="x-small")
        note = "" if finite.size == values.size else f", {values.size - finite.size} non-finite"
        axis.set_title(f"{name} {tuple(values.shape)}\nmean {finite.mean():.3g}, "
                       f"std {finite.std():.3g}{note}", fontsize="small")
        axis.set_xlabel("value")
        axis.set_ylabel("count")
    return finish(figure, path, where)
