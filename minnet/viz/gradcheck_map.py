"""Where a gradient check failed: relative error of every entry as an image."""
from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.colors import LogNorm
from matplotlib.ticker import MaxNLocator

from ._common import MARK_COLOR, finish, grid_axes


def as_matrix(array: np.ndarray) -> np.ndarray:
    """2-D view of an input's entries: scalars (1, 1), vectors (1, n), else (shape[0], rest)."""
    array = np.asarray(array)
    if array.ndim == 0:
        return array.reshape(1, 1)
    if array.ndim == 1:
        return array.reshape(1, -1)
    return array.reshape(array.shape[0], -1)


def plot_gradcheck(result, inputs=None, ax=None, path=None, floor: float = 1e-16):
    """One panel per checked input: log10 relative error per entry, failures marked.

    ``result``: what ``minnet.gradcheck`` / ``check_backward`` return. Entries
    are laid out as (first index, all the rest): a (O, C, kh, kw) conv weight
    becomes O rows of C*kh*kw. Red x: entries outside tolerance; white circle:
    entries on a kink (finite differences unreliable there); grey: entries not
    checked. Fast-mode checks (one random direction) have no per-entry error:
    their panel states the two directional derivatives instead.
    ``inputs``: names or indices of the inputs to show (default all).
    """
    where = "plot_gradcheck()"
    if not hasattr(result, "inputs") or not hasattr(result, "passed"):
        raise TypeError(f"{where}: expected a GradcheckResult (what minnet.gradcheck returns), "
                        f"got {type(result).__name__}")
    checks = list(result.inputs) if inputs is None else [result[i] for i in
                                                          ([inputs] if isinstance(inputs, (str, int)) else inputs)]
    if not checks:
        raise ValueError(f"{where}: the result has no checked inputs")
    figure, axes = grid_axes(ax, len(checks), where, panel_width=4.2, panel_height=3.4)
    for axis, check in zip(axes, checks):
        verdict = "ok" if check.passed else "FAILED"
        if check.rel_error is None:
            _directional_panel(axis, check, verdict)
            continue
        errors = as_matrix(np.asarray(check.rel_error, dtype=np.float64))
        # NaN: entries not checked, drawn grey
        shown = np.where(np.isfinite(errors), np.maximum(errors, floor), np.nan)
        finite = shown[np.isfinite(shown)]
        # at least a decade of colours, widened downwards: the top of the bar stays the
        # largest error measured (a relative error is at most 1, the bar must not say 6)
        norm = LogNorm(vmin=min(finite.min(), finite.max() / 10), vmax=finite.max()) \
            if finite.size else None
        image = axis.imshow(shown, cmap=colormaps["viridis"].with_extremes(bad="0.6"), norm=norm, interpolation="nearest",
                            aspect="auto")
        # an entry where analytic and numeric agree exactly has error 0, which a log scale
        # cannot show: it is drawn at the floor, and the bar says so
        exact = np.isfinite(errors) & (errors < floor)
        label = "relative error (log)" + (f"; exact 0 drawn at {floor:.0e}" if exact.any() else "")
        figure.colorbar(image, ax=axis, label=label)
        _mark(axis, check.mismatch, "x", MARK_COLOR, "outside tolerance")
        _mark(axis, check.kink, "o", "white", "on a kink", filled=False)
        axis.set_title(f"{check.name} {tuple(check.shape)}: {verdict}\nmax rel error "
                       f"{check.max_rel_error:.2e}, {check.n_mismatch} mismatch(es)",
                       fontsize="small", color=MARK_COLOR if not check.passed else "black")
        # entries are whole numbers, never 0.5 (min_n_ticks=1: a single row gets tick 0)
        for index_axis in (axis.xaxis, axis.yaxis):
            index_axis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
        if len(check.shape) <= 1:  # a vector (or a number) is one row: no first index
            axis.set_xlabel("entry")
            axis.set_yticks([])
        else:
            axis.set_xlabel("entry (flattened after the first index)")
            axis.set_ylabel("first index")
        if check.mismatch is not None and np.any(check.mismatch) or \
                check.kink is not None and np.any(check.kink):
            axis.legend(fontsize="x-small", loc="upper right")
    return finish(figure, path, where)


def _mark(axis, mask, marker, color, label, filled=True):
    if mask is None:
        return
    rows, columns = np.nonzero(as_matrix(np.asarray(mask, dtype=bool)))
    if rows.size:
        style = {"color": color} if filled else {"facecolors": "none", "edgecolors": color}
        axis.scatter(columns, rows, marker=marker, s=40, linewidths=1.5, label=label, **style)


def _directional_panel(axis, check, verdict):
    text = f"{check.name} {tuple(check.shape)}: {verdict}\n(fast mode: one direction, no map)"
    if check.directional is not None:
        analytic, numeric = check.directional
        text += f"\nanalytic v.grad {analytic:.6e}\nnumeric        {numeric:.6e}"
    axis.text(0.5, 0.5, text, ha="center", va="center", transform=axis.transAxes,
              family="monospace", fontsize="small")
    axis.set_axis_off()
