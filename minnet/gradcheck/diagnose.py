"""Name the likely bug from the pattern of analytic (a) vs numeric (n) gradients.

A failed check says *that* a backward is wrong; the pattern usually says *how*. Patterns
are tried from the most specific to the least, the first that fits wins: ``spurious``,
``zero``, ``sign``, ``factor``, ``batch_factor``, ``constant``, ``input_term``,
``transposed``, ``one_sample``, ``missing_sum``, ``extra_sum``, ``partial_zero``,
``some_entries``, ``unknown`` (``kink`` with ``count_kinks=True``); docs/gradcheck.md has
the table. ``swapped`` and ``ignores_dout`` need several inputs' numbers: compare.py.
"""
from __future__ import annotations

import itertools
from typing import Optional

import numpy as np

from .result import Diagnosis, format_index

# A value this small in the analytic gradient counts as "zero" (not computed).
ZERO = 1e-12


def _close(x: np.ndarray, y: np.ndarray, atol: float, rtol: float) -> bool:
    return bool(np.all(np.abs(x - y) <= atol + rtol * np.abs(y)))


def _as_simple_fraction(c: float) -> Optional[tuple]:
    """(k, inverted) if c is (nearly) an integer k >= 2 or 1/k, else None."""
    magnitude = abs(c)
    for value, inverted in ((magnitude, False), (1 / magnitude if magnitude else 0, True)):
        k = round(value)
        if k >= 2 and abs(value - k) <= 1e-3 * value:
            return k, inverted
    return None


def _factor_diagnosis(c: float, sizes: dict) -> Diagnosis:
    if abs(c + 1) <= 1e-3:
        return Diagnosis(
            "sign", "The analytic gradient has the wrong sign everywhere (analytic = -numeric).",
            "look for a subtraction in the wrong order (y - t vs t - y), a dropped minus "
            "(d(-x)/dx = -1, d(1/x)/dx = -1/x^2), or a gradient that was negated for "
            "'descent' inside the backward.")
    if abs(c - 2) <= 2e-3:
        return Diagnosis(
            "factor", "Off by a factor of 2.0 — e.g. a missing 1/2 or an extra 2 "
            "(analytic = 2.0 x numeric).",
            "d(x^2)/dx = 2x but d(x^2/2)/dx = x: check whether the forward really has the "
            "1/2 your backward assumes, or whether a 2 was applied twice.")
    if abs(c - 0.5) <= 1e-3:
        return Diagnosis(
            "factor", "Off by a factor of 0.5 — e.g. a missing 2 or an extra 1/2 "
            "(analytic = 0.5 x numeric).",
            "the 2 from differentiating a square (d(x^2)/dx = 2x) is easy to drop; or the "
            "backward halves something the forward does not.")
    for base, log_name in ((10.0, "log10"), (2.0, "log2")):
        for value, direction in ((np.log(base), "the forward"), (1 / np.log(base), "the backward")):
            if abs(c - value) <= 1e-3 * value:
                return Diagnosis(
                    "factor",
                    f"Off by a factor of ln({base:g}) = {np.log(base):.6g}"
                    + (" inverted" if value < 1 else "")
                    + f": analytic = {c:.6g} x numeric at every entry.",
                    f"np.{log_name} in {direction} but the natural log's derivative in the "
                    f"{'backward' if direction == 'the forward' else 'forward'} (or the other "
                    f"way round): d log10(p)/dp = 1 / (p ln 10), d ln(p)/dp = 1 / p; use "
                    "np.log in both.")
    fraction = _as_simple_fraction(c)
    sign_note = " (and the sign is flipped)" if c < 0 else ""
    if fraction is not None and fraction[0] in sizes:
        k, inverted = fraction
        relation = f"1/{k} of" if inverted else f"{k} x"
        return Diagnosis(
            "batch_factor",
            f"The analytic gradient is {relation} the numeric one{sign_note}, and {k} is "
            f"{sizes[k]}: did you average over the batch twice or forget to?",
            ("the backward divides by N although the forward does not average (or divides "
             "twice): a mean over N in the forward means exactly one 1/N in the backward."
             if inverted else
             "the forward averages over N (a mean) but the backward does not divide by N; "
             "or the forward sums and the backward multiplies by N."))
    if fraction is not None:
        k, inverted = fraction
        relation = f"1/{k}" if inverted else f"{k}"
        shown = f"{relation} ({c:.6g})"
    else:
        shown = f"{c:.6g}"
    return Diagnosis(
        "factor",
        f"Off by a constant factor: analytic = {shown} x numeric at every entry{sign_note}.",
        "a constant (a scale, 1/temperature, a mean's 1/N, an exponent) is used differently in "
        "the forward and the backward; the shape of the gradient is right, only its size is off.")


def _input_term_diagnosis(av, nv, xv, name: str, atol, rtol) -> Optional[Diagnosis]:
    """Is analytic - numeric = c * x, a multiple of the input's own values?

    The classic case is L2 regularization written differently in the loss and the
    gradient: the loss has no reg term but dW has + 2 * reg * W, or the loss has
    0.5 * reg * sum(W**2) and dW has 2 * reg * W (the difference is reg * W).
    """
    difference = av - nv
    norm = float(xv @ xv)
    if norm == 0 or _close(av, nv, atol, rtol):
        return None
    only = float(av @ xv) / norm
    if abs(only) > ZERO and _close(av, only * xv, atol, rtol):
        return Diagnosis(
            "input_term",
            f"The analytic gradient is only {only:.6g} x {name}: a term proportional to the "
            f"input itself (like L2 regularization's 2 * reg * {name}); the rest of the "
            "gradient (the data loss's) is missing.",
            "the backward returns the regularization gradient alone: compute the data "
            f"loss's gradient too, and add the two (d{name} = data part + reg part).")
    c = float(difference @ xv) / norm
    if abs(c) <= ZERO or not _close(av, nv + c * xv, atol, rtol):
        return None
    if c > 0:
        what = (f"the backward has a term + {c:.6g} * {name} that the forward's gradient does "
                "not have (or the forward has it with a smaller factor)")
    else:
        what = (f"the forward's gradient has a term {-c:.6g} * {name} that the backward lacks "
                "(a term of the forward not differentiated, or with a smaller factor)")
    return Diagnosis(
        "input_term",
        f"analytic - numeric = {c:.6g} x {name} at every entry: {what}.",
        "this is the signature of L2 regularization written differently in the loss and "
        "in the gradient: loss reg * sum(W * W) has gradient 2 * reg * W, loss 0.5 * reg * "
        "sum(W * W) has gradient reg * W; make both use the same convention, and both "
        f"include it (compare {abs(c):.6g} with your reg).")


def _transposed_diagnosis(a, n, atol, rtol) -> Optional[Diagnosis]:
    """Does a hold n's numbers in the order of some transpose of the input's axes?

    A gradient computed as G.transpose(p) and then *reshaped* back to the input's
    shape satisfies a.reshape(shape[p]).transpose(inverse p) == G.
    """
    shape = a.shape
    if a.ndim < 2 or a.ndim > 4:
        return None
    for perm in itertools.permutations(range(a.ndim)):
        if perm == tuple(range(a.ndim)):
            continue
        permuted_shape = tuple(shape[p] for p in perm)
        candidate = a.reshape(permuted_shape).transpose(np.argsort(perm))
        if _close(candidate, n, atol, rtol):
            if a.ndim == 2 and shape[0] == shape[1]:
                return Diagnosis(
                    "transposed", "The analytic gradient is transposed: analytic.T matches "
                    "the numeric gradient.",
                    "for y = x @ W: dx = dout @ W.T and dW = x.T @ dout; swapping the factors "
                    "or transposing W gives the transpose.")
            return Diagnosis(
                "transposed",
                f"The analytic gradient has the right numbers in transposed order: it matches "
                f"after reshaping it to {permuted_shape} and transposing the axes back "
                f"(axes order {perm}).",
                "the gradient was computed with its axes swapped and then reshape()d to the "
                "input's shape; reshape only relabels memory, use .T / transpose() to swap "
                "axes (e.g. dW = x.T @ dout, not (dout.T @ x).reshape(W.shape)).")
    return None


def _one_sample_diagnosis(a, n, considered, per_sample, atol, rtol) -> Optional[Diagnosis]:
    if per_sample is None or per_sample.shape[0] < 2:
        return None
    av = a[considered]
    for k, row in enumerate(per_sample):
        share = row.reshape(a.shape)[considered]
        if _close(av, share, atol, rtol) and not _close(share, n[considered], atol, rtol):
            return Diagnosis(
                "one_sample",
                f"The analytic gradient holds the gradient of one sample only: it equals the "
                f"contribution of output sample {k} (of {per_sample.shape[0]}); the other "
                "samples' contributions are missing.",
                "sum over the batch axis, e.g. db = dout.sum(axis=0) rather than dout[0]; in a "
                "loop over samples accumulate with += instead of overwriting with =.")
    return None


def _axis_sum_diagnosis(a, n, atol, rtol) -> Optional[Diagnosis]:
    for axis in range(a.ndim):
        if a.shape[axis] < 2:
            continue
        summed_a = np.broadcast_to(a.sum(axis=axis, keepdims=True), a.shape)
        if _close(summed_a, n, atol, rtol):
            return Diagnosis(
                "missing_sum",
                f"A sum over axis {axis} is missing: the numeric gradient equals the analytic "
                f"one summed along axis {axis} and repeated.",
                f"every entry along axis {axis} reaches the output through a shared path (a "
                "broadcast, mean or repeat in the forward), so each needs the sum of all "
                f"contributions: add .sum(axis={axis}, keepdims=True) where the broadcast is "
                "undone.")
        summed_n = np.broadcast_to(n.sum(axis=axis, keepdims=True), n.shape)
        if _close(a, summed_n, atol, rtol) and not _close(a, n, atol, rtol):
            return Diagnosis(
                "extra_sum",
                f"An extra sum over axis {axis}: the analytic gradient equals the numeric one "
                f"summed along axis {axis} and repeated.",
                f"the backward sums over axis {axis} where each entry should keep its own "
                "gradient: check which axis the broadcast in the forward really used.")
    return None


def _axis_note(bad: np.ndarray) -> str:
    """'all in row 2'-style note when the bad entries share one index along an axis."""
    indices = np.argwhere(bad)
    if len(indices) < 2:
        return ""
    for axis in range(bad.ndim):
        values = np.unique(indices[:, axis])
        if values.size == 1 and bad.shape[axis] > 1:
            return f" All of them have index {int(values[0])} along axis {axis}."
    return ""


def neighbourhood(name: str, a: np.ndarray, n: np.ndarray, index: tuple, radius: int = 1) -> str:
    """A small window of analytic and numeric values around ``index`` (bad entry marked *).

    2-D and higher: the 3 x 3 patch of the last two axes around the entry (the
    leading indices fixed); 1-D: the entry and two neighbours on each side.
    """
    if a.ndim == 0:
        return f"    {name}: analytic {float(a):.6e}, numeric {float(n):.6e}"
    if a.ndim == 1:  # view as one row so one code path prints both cases
        plane_a, plane_n, (r, c), row_radius, col_radius = a[None], n[None], (0, index[0]), 0, 2
    else:
        plane_a, plane_n = a[index[:-2]], n[index[:-2]]
        (r, c), row_radius, col_radius = index[-2:], radius, radius
    rows = range(max(0, r - row_radius), min(plane_a.shape[0], r + row_radius + 1))
    cols = range(max(0, c - col_radius), min(plane_a.shape[1], c + col_radius + 1))

    def cells(plane, row):
        texts = []
        for col in cols:
            value = plane[row, col]
            text = "?" if np.isnan(value) else f"{value: .4e}"
            texts.append((text + ("*" if (row, col) == (r, c) else " ")).rjust(13))
        return "".join(texts)

    width = 13 * len(cols)
    lines = [f"    around {name}{format_index(index)} (* = the bad entry; columns "
             f"{cols.start}..{cols.stop - 1}):",
             "      " + " " * 8 + "analytic".rjust(12).ljust(width) + "   " + "numeric".rjust(12)]
    for row in rows:
        label = f"row {row}" if a.ndim >= 2 else ""
        lines.append("      " + label.ljust(8) + cells(plane_a, row) + "   " + cells(plane_n, row))
    return "\n".join(lines)


def _entries_diagnosis(name, a, n, considered, mismatch) -> Diagnosis:
    bad = mismatch & considered
    first = tuple(int(i) for i in np.argwhere(bad)[0])
    n_bad, n_all = int(bad.sum()), int(considered.sum())
    window = neighbourhood(name, a, n, first)
    note = _axis_note(bad)
    zero_where_bad = np.all(np.abs(a[bad]) <= ZERO)
    if zero_where_bad:
        return Diagnosis(
            "partial_zero",
            f"The analytic gradient is 0 at {n_bad} of {n_all} entries where the numeric one "
            f"is not (first: {name}{format_index(first)}); elsewhere they agree.{note}",
            "part of the gradient was never written or was overwritten instead of accumulated: "
            "when an input is used twice (or inside a loop) add the contributions (dx += ...), "
            "don't assign (dx = ...); also check masks (ReLU's mask is input > 0).",
            window)
    if n_bad * 2 <= n_all:
        return Diagnosis(
            "some_entries",
            f"Only some entries are wrong: {n_bad} of {n_all} disagree (first: "
            f"{name}{format_index(first)}, analytic {a[first]:.6e} vs numeric {n[first]:.6e})."
            f"{note}",
            "look at what is special about the bad entries (a boundary, a border of a window, "
            "one row/channel, an index computed off by one). An entry that reaches the output "
            "along several paths (overlapping pooling/conv windows, a repeated index) needs the "
            "sum of their gradients: dx[...] += ..., not dx[...] = ...", window)
    return Diagnosis(
        "unknown",
        f"{n_bad} of {n_all} entries disagree and the difference follows no simple pattern "
        "(not a constant factor, sign, transpose or missing sum).",
        "re-derive the backward step by step and gradcheck the smaller pieces separately; "
        "print the window below to compare the numbers.", window)


def diagnose(a: np.ndarray, n: np.ndarray, considered: np.ndarray, mismatch: np.ndarray,
             per_sample: Optional[np.ndarray], atol: float, rtol: float,
             context: dict) -> Optional[Diagnosis]:
    """The likely bug for one failed input (see the table in the module docstring).

    ``considered`` masks the entries to reason about (checked, not at a kink);
    ``context`` holds ``name`` (the input's name) and ``sizes`` ({N: "what N is"}).
    """
    name = context.get("name", "x")
    sizes = context.get("sizes", {})
    if not considered.any():
        return None
    if not (mismatch & considered).any():
        return Diagnosis(
            "kink", "Only entries at kinks disagree; everywhere else the gradients match.",
            "finite differences straddle the kink there, so they measure the average of the two "
            "one-sided slopes; nudge the input away from the kink (count_kinks=False ignores them).")
    av, nv = a[considered], n[considered]
    if np.all(np.abs(nv) <= atol) and not np.all(np.abs(av) <= atol):
        return Diagnosis(
            "spurious", "The numeric gradient is 0 everywhere (the output does not depend on "
            "this input) but the analytic gradient is not.",
            "the backward returns a gradient for an input the forward never uses (or uses only "
            "through a constant/non-differentiable path); check which input each gradient "
            "belongs to, and the order of the returned gradients.")
    if np.all(np.abs(av) <= ZERO):
        return Diagnosis(
            "zero", "The analytic gradient is 0 everywhere but the numeric one is not: the "
            "gradient was never computed (or never reached this input).",
            "did the backward return (or accumulate) a gradient for this input at all? With "
            "Tensors: was the input used through .data, NumPy, detach() or no_grad(), which cut "
            "the graph? Was the gradient overwritten instead of accumulated?")
    denominator = float(nv @ nv)
    if denominator > 0:
        c = float(av @ nv) / denominator
        if abs(c - 1) > 1e-3 and abs(c) > ZERO and _close(av, c * nv, atol, rtol):
            return _factor_diagnosis(c, sizes)
    if av.size > 1 and float(np.ptp(av)) <= ZERO * max(1.0, float(np.abs(av).max())) \
            and not _close(nv, np.full_like(nv, nv.mean()), atol, rtol):
        return Diagnosis(
            "constant",
            f"The analytic gradient is {av[0]:.6g} at every entry, while the numeric one "
            f"varies (from {nv.min():.6g} to {nv.max():.6g}): the backward returns a constant "
            "that does not depend on dout.",
            "a gradient carries the upstream gradient: db = dout.sum(axis=0), not np.ones(M); "
            "dx = dout * local_gradient, not np.ones_like(x).")
    values = context.get("values")
    if values is not None:
        found = _input_term_diagnosis(av, nv, np.asarray(values, dtype=np.float64)[considered],
                                      name, atol, rtol)
        if found is not None:
            return found
    everything = bool(considered.all())
    if everything:
        found = _transposed_diagnosis(a, n, atol, rtol)
        if found is not None:
            return found
    found = _one_sample_diagnosis(a, n, considered, per_sample, atol, rtol)
    if found is not None:
        return found
    if everything:
        found = _axis_sum_diagnosis(a, n, atol, rtol)
        if found is not None:
            return found
    return _entries_diagnosis(name, a, n, considered, mismatch)


def diagnose_directional(analytic: float, numeric: float, atol: float, rtol: float) -> Diagnosis:
    """fast_mode only sees one number per input: say what it can, suggest the full check."""
    rerun = ("rerun with fast_mode=False (add n_samples=... for a large input) for an "
             "entry-by-entry diagnosis.")
    if abs(numeric) > atol and abs(analytic) > ZERO:
        c = analytic / numeric
        guess = _factor_diagnosis(c, {})
        return Diagnosis(guess.kind, f"Along a random direction, analytic = {c:.6g} x numeric. "
                         f"If that holds at every entry: {guess.message}",
                         f"{guess.hint} To see which entries are wrong, {rerun}")
    if abs(analytic) <= ZERO:
        return Diagnosis("zero", "The analytic gradient is 0 along the random direction but the "
                         "numeric one is not: was the gradient computed at all?", rerun)
    return Diagnosis("spurious", "The numeric directional derivative is 0 but the analytic "
                     "one is not.", rerun)
