"""Gradient norms per layer over training (log scale: vanishing and exploding both show)."""
from __future__ import annotations

import numpy as np

from ._common import (axes_or_new, check_monitor, finish, layer_colors, param_label,
                      positive_or_nan, require_recorded, resolve_layers, resolve_params,
                      label_step_axis)


def plot_grad_norms(monitor, by: str = "layer", layers=None, params=None, ax=None, path=None,
                    highlight=()):
    """L2 norm of the gradient against the step, one line per layer (or parameter), log y.

    ``by="layer"``: the norm over all of a layer's parameters together,
    sqrt(sum of each parameter's grad_norm squared), via ``monitor.layer_of_param``.
    ``by="param"``: one line per parameter (``params`` chooses which).
    Lines falling decade after decade toward the input layers is the picture
    of vanishing gradients; lines climbing out of the top, of exploding ones.
    Zero and NaN norms leave gaps (log scale).
    """
    where = "plot_grad_norms()"
    check_monitor(monitor, where)
    steps = np.asarray(monitor.steps)
    require_recorded(steps, where)
    curves = _norms_by_layer(monitor, layers, where) if by == "layer" else \
        _norms_by_param(monitor, params, where) if by == "param" else None
    if curves is None:
        raise ValueError(f"{where}: by must be 'layer' or 'param', got {by!r}")
    highlight = set(resolve_layers(monitor, highlight, where)) if highlight else set()
    figure, axis = axes_or_new(ax)
    for (label, norms), color in zip(curves.items(), layer_colors(len(curves))):
        bold = any(label.startswith(layer) for layer in highlight)
        axis.plot(steps, positive_or_nan(norms), color=color, linewidth=3 if bold else 1.5,
                  label=label)
    axis.set_yscale("log")
    label_step_axis(axis)
    axis.set_ylabel("gradient L2 norm (log)")
    axis.set_title("gradient norm per " + by)
    axis.grid(True, which="both", alpha=0.3)
    # outside the plot area: a legend must never hide the lines (or the band) it explains
    axis.legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return finish(figure, path, where)


def _norms_by_param(monitor, params, where) -> dict:
    names = list(monitor.param_names) if params is None else resolve_params(monitor, params, where)
    return {param_label(monitor, name): np.asarray(monitor.param(name, "grad_norm"), float)
            for name in names}


def _norms_by_layer(monitor, layers, where) -> dict:
    layer_of = dict(getattr(monitor, "layer_of_param", {}) or {})
    owners = {}
    for name in monitor.param_names:
        # without layer_of_param, a parameter "0.weight" belongs to the module path "0"
        owner = layer_of.get(name) or name.rsplit(".", 1)[0]
        owners.setdefault(owner, []).append(name)
    if layers is not None:
        wanted = resolve_layers(monitor, layers, where)
        missing = [layer for layer in wanted if layer not in owners]
        if missing:
            raise KeyError(f"{where}: layer(s) {missing} have no parameters; layers with "
                           f"parameters: {list(owners)}")
        owners = {layer: owners[layer] for layer in wanted}
    curves = {}
    for owner, names in owners.items():
        squares = [np.asarray(monitor.param(name, "grad_norm"), float) ** 2 for name in names]
        curves[owner] = np.sqrt(np.sum(squares, axis=0))
    if not curves:
        raise ValueError(f"{where}: the monitor recorded no parameters")
    return curves
