"""A 1-D fit taken apart: the network's output is a sum of one curve per hidden unit.

For ``Sequential(Linear(1, H), act, Linear(H, 1))`` the output is

    f(x) = b2 + sum_j w2_j * act(w1_j * x + b1_j)

so each hidden unit j contributes one bent curve (a hinge for ReLU, an S for
tanh), scaled by its output weight. Seeing the pieces shows how the network
builds the fit, and which units do nothing (flat curves) or are dead.
"""
from __future__ import annotations

import numpy as np

from ._common import MARK_COLOR, TARGET_COLOR, TRAIN_COLOR, finish, grid_axes
from ._model import predict


def plot_function_fit(model, X, y=None, target=None, resolution: int = 400,
                      margin: float = 0.1, ax=None, path=None):
    """Target, fit, and each hidden unit's contribution ``w2_j * act(w1_j x + b1_j)``.

    ``model``: ``Sequential(Linear(1, H), activation, Linear(1 ... H, 1))``.
    ``X``: the training inputs, (N,) or (N, 1) (sets the x range; scattered
    with ``y`` if given). ``target``: optional callable, the true function.
    ``ax``: None (two panels: fit on top, unit contributions below), one Axes
    (everything together) or two Axes. The contributions plus ``b2`` are
    checked to add up to the model's own output. Returns the Figure.
    """
    where = "plot_function_fit()"
    first, activation, last = _unpack(model, where)
    X = np.asarray(getattr(X, "_data", X), dtype=np.float64).reshape(-1)
    if X.size == 0:
        raise ValueError(f"{where}: X is empty")
    span = max(X.max() - X.min(), 1e-12)
    xs = np.linspace(X.min() - margin * span, X.max() + margin * span, resolution)

    w1 = np.asarray(first.weight._data, float)[:, 0]           # (H,)
    b1 = _bias(first, len(w1))
    w2 = np.asarray(last.weight._data, float)[0]               # (H,)
    b2 = float(_bias(last, 1)[0])
    hidden = _apply(activation, xs[:, None] * w1[None, :] + b1[None, :], first.weight._data.dtype)   # (R, H)
    contributions = hidden * w2[None, :]                                   # (R, H)
    fit = contributions.sum(axis=1) + b2
    output = predict(model, xs[:, None]).reshape(-1)
    if not np.allclose(fit, output, rtol=1e-5, atol=1e-6 * max(1.0, np.abs(output).max())):
        raise ValueError(f"{where}: the sum of the unit contributions does not reproduce the "
                         f"model's output (max difference {np.abs(fit - output).max():.3g}). "
                         f"Hint: the model must be exactly Linear(1, H), activation, "
                         f"Linear(H, 1) with no dropout or normalisation.")

    together = ax is not None and not isinstance(ax, (list, tuple, np.ndarray))
    figure, axes = grid_axes(ax, 1 if together else 2, where, panel_width=6.4,
                             panel_height=3.2, max_columns=1)
    fit_axis, unit_axis = (axes[0], axes[0]) if together else axes
    if y is not None:
        ys = np.asarray(getattr(y, "_data", y), dtype=np.float64).reshape(-1)
        if ys.shape != X.shape:
            raise ValueError(f"{where}: y must have one value per x: X has {X.size}, y has "
                             f"{ys.size}")
        fit_axis.scatter(X, ys, s=8, color="0.55", label="data", zorder=1)
    if target is not None:
        fit_axis.plot(xs, np.asarray(target(xs), float).reshape(-1), color=TARGET_COLOR,
                      linestyle="--", linewidth=2, label="target", zorder=3)
    fit_axis.plot(xs, output, color=TRAIN_COLOR, linewidth=2.5, label="network fit", zorder=4)
    fit_axis.set_title(f"1-D fit with {len(w1)} hidden {type(activation).__name__} units")
    fit_axis.legend(fontsize="small")

    cmap = __import__("matplotlib").colormaps["viridis"]
    for j in range(len(w1)):
        unit_axis.plot(xs, contributions[:, j], color=cmap(j / max(1, len(w1) - 1)),
                       linewidth=1.2, zorder=2,
                       label="unit contributions" if j == 0 else None)
    unit_axis.axhline(b2, color=MARK_COLOR, linestyle=":", linewidth=1, label=f"b2 = {b2:.3g}")
    if not together:
        unit_axis.set_title("each unit j: w2_j * act(w1_j x + b1_j)  (they add up to the fit)")
        unit_axis.legend(fontsize="small")
    for axis in axes:
        axis.set_xlabel("x")
        axis.grid(True, alpha=0.3)
    return finish(figure, path, where)


def _unpack(model, where):
    children = list(model.children()) if hasattr(model, "children") else []
    shapes = [type(child).__name__ for child in children]
    ok = (len(children) == 3 and shapes[0] == shapes[2] == "Linear"
          and children[0].weight.shape[1] == 1 and children[2].weight.shape[0] == 1
          and children[2].weight.shape[1] == children[0].weight.shape[0])
    if not ok:
        detail = [f"{s}{tuple(c.weight.shape) if hasattr(c, 'weight') else ''}"
                  for s, c in zip(shapes, children)]
        raise ValueError(f"{where}: expected Sequential(Linear(1, H), activation, Linear(H, 1)), "
                         f"got {type(model).__name__} of {detail or 'no children'}. Hint: this "
                         f"picture takes apart a one-hidden-layer network on 1-D inputs.")
    return children


def _bias(linear, size):
    bias = getattr(linear, "bias", None)
    return np.zeros(size) if bias is None else np.asarray(bias._data, float).reshape(-1)


def _apply(activation, values: np.ndarray, dtype) -> np.ndarray:
    """The activation module itself on a NumPy array (so any activation works)."""
    from ..tensor import Tensor, no_grad
    with no_grad():
        out = activation(Tensor(values.astype(dtype)))
    return np.asarray(out._data, dtype=np.float64)
