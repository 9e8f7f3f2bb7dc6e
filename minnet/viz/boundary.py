"""Decision regions of a classifier on 2-D inputs, with the data on top."""
from __future__ import annotations

import numpy as np
from matplotlib.colors import ListedColormap, to_rgb

from ._common import axes_or_new, finish
from ._model import leaf_modules, predict

# class k: region in a light tint, points in the full colour
CLASS_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                "#7f7f7f", "#bcbd22", "#17becf"]


def light(color, amount: float = 0.65):
    """``color`` mixed with white (``amount`` of white)."""
    return tuple(c + (1 - c) * amount for c in to_rgb(color))


def plot_decision_boundary(model, X, y, resolution: int = 200, margin: float = 0.5,
                           threshold=None, ax=None, path=None, title=None):
    """Colour the plane by the class ``model`` predicts; scatter ``X`` coloured by ``y``.

    ``X``: (N, 2) inputs; ``y``: (N,) integer labels (or 0/1 floats, (N,) or (N, 1)).
    Outputs (N, C) with C >= 2 are read by argmax; a single output is a binary
    score compared with ``threshold`` (default 0.5 if the model ends in a
    Sigmoid, else 0, i.e. a logit). The grid spans the data plus ``margin``;
    the model runs in eval mode without a graph and its mode is restored.
    """
    where = "plot_decision_boundary()"
    X = np.asarray(getattr(X, "_data", X) if not isinstance(X, np.ndarray) else X, dtype=np.float64)
    y = np.asarray(getattr(y, "_data", y) if not isinstance(y, np.ndarray) else y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"{where}: X must have shape (N, 2) (two input features), got "
                         f"{X.shape}. Hint: for more features, plot two of them or a 2-D "
                         f"projection and train the model on those.")
    y = y.reshape(len(y), -1)[:, 0] if y.ndim == 2 and y.shape[1] == 1 else y
    if y.shape != (len(X),):
        raise ValueError(f"{where}: y must have shape ({len(X)},) (one label per row of X), "
                         f"got {y.shape}")
    if not 2 <= resolution <= 2000:
        raise ValueError(f"{where}: resolution must be in [2, 2000], got {resolution}")
    labels = np.rint(y).astype(int)
    (x_low, y_low), (x_high, y_high) = X.min(axis=0) - margin, X.max(axis=0) + margin
    grid_x, grid_y = np.meshgrid(np.linspace(x_low, x_high, resolution),
                                 np.linspace(y_low, y_high, resolution))
    grid = np.column_stack([grid_x.ravel(), grid_y.ravel()])
    classes = _predicted_classes(model, grid, threshold, where).reshape(resolution, resolution)
    n_classes = int(max(classes.max(), labels.max())) + 1
    colors = [CLASS_COLORS[k % len(CLASS_COLORS)] for k in range(n_classes)]

    figure, axis = axes_or_new(ax, 5.5, 5.0)
    axis.imshow(classes, origin="lower", extent=(x_low, x_high, y_low, y_high), aspect="auto",
                cmap=ListedColormap([light(c) for c in colors]), vmin=-0.5,
                vmax=n_classes - 0.5, interpolation="nearest")
    if n_classes > 1:  # the boundary itself as a thin dark line
        axis.contour(grid_x, grid_y, classes, levels=np.arange(n_classes - 1) + 0.5,
                     colors="0.25", linewidths=0.8)
    for k in range(n_classes):
        chosen = labels == k
        if chosen.any():
            axis.scatter(X[chosen, 0], X[chosen, 1], s=14, color=colors[k], edgecolors="white",
                         linewidths=0.4, label=f"class {k}")
    accuracy = float(np.mean(_predicted_classes(model, X, threshold, where) == labels))
    axis.set_xlim(x_low, x_high)
    axis.set_ylim(y_low, y_high)
    axis.set_xlabel("x[0]")
    axis.set_ylabel("x[1]")
    axis.set_title(title or f"decision regions (training accuracy {accuracy:.1%})")
    axis.legend(fontsize="small", loc="upper right")
    return finish(figure, path, where)


def _predicted_classes(model, X, threshold, where) -> np.ndarray:
    output = predict(model, X)
    if output.ndim == 1 or (output.ndim == 2 and output.shape[1] == 1):
        if threshold is None:
            leaves = leaf_modules(model)
            ends_in_sigmoid = bool(leaves) and type(leaves[-1][1]).__name__ == "Sigmoid"
            threshold = 0.5 if ends_in_sigmoid else 0.0
        return (output.reshape(-1) > threshold).astype(int)
    if output.ndim == 2:
        return np.argmax(output, axis=1)
    raise ValueError(f"{where}: the model's output must be (N, classes) or (N, 1), got shape "
                     f"{output.shape} for input (N, 2)")
