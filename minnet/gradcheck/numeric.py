"""Finite differences for plain NumPy functions, and the relative error (labs, CS231n style)::

    dW_num = numerical_gradient(lambda W: loss(W, X, y), W)
    print(rel_error(dW, dW_num))   # ~1e-8 or smaller when the backward is right

Both gradient functions perturb ``x`` *in place* and put each entry back exactly,
so ``f`` may ignore its argument and read ``x`` through a closure
(``f = lambda _: net.loss(X, y)`` while ``x`` is a weight of ``net``).
"""
from __future__ import annotations

import warnings

import numpy as np

from .result import GradcheckError, GradcheckWarning

# The smallest denominator in the relative error, so two zeros compare as 0, not 0/0.
REL_ERROR_FLOOR = 1e-8


def rel_error_array(analytic, numeric) -> np.ndarray:
    """Entry-wise ``|a - n| / max(1e-8, |a| + |n|)`` (0 for perfect agreement, 1 at worst)."""
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    return np.abs(a - n) / np.maximum(REL_ERROR_FLOOR, np.abs(a) + np.abs(n))


def rel_error(a, b) -> float:
    """The largest entry-wise relative error ``|a - b| / max(1e-8, |a| + |b|)``.

    Same formula as CS231n's notebook helper. The course notes divide by
    ``max(|a|, |b|)`` instead; ours is smaller by at most a factor 2
    (``|a| + |b| <= 2 max(|a|, |b|)``). Shapes must match.
    """
    a = np.asarray(a._data if hasattr(a, "_data") and not isinstance(a, np.ndarray) else a)
    b = np.asarray(b._data if hasattr(b, "_data") and not isinstance(b, np.ndarray) else b)
    if a.shape != b.shape:
        raise ValueError(f"rel_error(): the arrays have different shapes {a.shape} and {b.shape}. "
                         "Hint: a gradient has the shape of its input; compare like with like.")
    if a.size == 0:
        return 0.0
    return float(np.max(rel_error_array(a, b)))


def _check_perturbable(x, fn_name: str) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{fn_name}(): x must be a NumPy array (it is perturbed in place), got "
                        f"{type(x).__name__}. Hint: np.asarray(x, dtype=np.float64).")
    if x.dtype.kind != "f":
        raise TypeError(f"{fn_name}(): x has dtype {x.dtype}, but only floating-point arrays can "
                        "be nudged by eps. Hint: x = x.astype(np.float64).")
    if x.dtype != np.float64:
        warnings.warn(f"{fn_name}(): x is {x.dtype}; finite differences need float64 (float32 "
                      "keeps ~7 digits, so (L(x+eps) - L(x-eps)) is mostly rounding noise). "
                      "Hint: x = x.astype(np.float64).", GradcheckWarning, stacklevel=3)
    return x


def _check_eps(eps, fn_name: str) -> float:
    import math
    if isinstance(eps, bool) or not isinstance(eps, (int, float, np.integer, np.floating)) \
            or not math.isfinite(eps) or eps <= 0:
        raise ValueError(f"{fn_name}(): eps must be a finite number > 0, got {eps!r}. Hint: "
                         "1e-6 suits float64 (the default).")
    return float(eps)


def _each_entry(x: np.ndarray):
    """Yield every multi-index of ``x`` (works for views too: no reshape(-1) needed)."""
    return np.ndindex(*x.shape)


def _check_untouched(x: np.ndarray, snapshot: np.ndarray, index: tuple, fn_name: str) -> None:
    """f must not write into x: the nudges would land on changed values (CS231n's in-place
    ReLU, out = x; out[out < 0] = 0, silently gives a wrong numeric gradient)."""
    x[index] = snapshot[index]
    if not np.array_equal(x, snapshot, equal_nan=True):
        changed = np.argwhere(x != snapshot)
        first = tuple(int(i) for i in changed[0]) if len(changed) else index
        x[...] = snapshot  # put x back as the caller gave it
        raise GradcheckError(
            f"{fn_name}(): f changed x in place ({len(changed)} entries, first at {list(first)}) "
            "while its entries were being nudged, so the numeric gradient would be measured on "
            "other values. The forward writes into its input (e.g. out = x; out[out < 0] = 0). "
            "Hint: compute a new array (out = np.maximum(x, 0), or x.copy() first); a layer "
            "must not modify its input.")


def numerical_gradient(f, x: np.ndarray, eps: float = 1e-6) -> np.ndarray:
    """dL/dx of a scalar function ``L = f(x)`` by central differences.

    ``grad[i] = (f(x + eps e_i) - f(x - eps e_i)) / (2 eps)`` for each entry i;
    shape of the result = shape of ``x``. Costs 2 * x.size calls of ``f``.
    """
    x = _check_perturbable(x, "numerical_gradient")
    eps = _check_eps(eps, "numerical_gradient")
    grad = np.zeros(x.shape, dtype=np.float64)
    snapshot = x.copy()
    for index in _each_entry(x):
        original = x[index]
        try:
            x[index] = original + eps
            plus = float(f(x))
            _check_untouched(x, snapshot, index, "numerical_gradient")
            x[index] = original - eps
            minus = float(f(x))
            _check_untouched(x, snapshot, index, "numerical_gradient")
        finally:
            x[index] = original
        grad[index] = (plus - minus) / (2 * eps)
    return grad


def _output_copy(value) -> np.ndarray:
    """A float64 copy of f(x) (f may return the same buffer each call); a masked array's
    masked entries count as 0, as in NumPy's masked sums (np.array would unmask them)."""
    if isinstance(value, np.ma.MaskedArray):
        warnings.warn("numerical_gradient_array(): f(x) is a NumPy masked array; its masked "
                      "entries were counted as 0. Hint: return a plain array (np.maximum(x, 0), "
                      "np.where(mask, x, 0)).", GradcheckWarning, stacklevel=3)
        return value.astype(np.float64).filled(0.0)
    return np.array(value, dtype=np.float64)


def numerical_gradient_array(f, x: np.ndarray, dout, eps: float = 1e-6) -> np.ndarray:
    """dL/dx for ``L = sum(f(x) * dout)`` (an array-valued ``f``), by central differences.

    ``dout`` is the upstream gradient, shaped like ``f(x)``; the result is shaped
    like ``x``. This is what a layer's ``backward(dout, cache)`` should return.
    """
    x = _check_perturbable(x, "numerical_gradient_array")
    eps = _check_eps(eps, "numerical_gradient_array")
    dout = np.asarray(dout, dtype=np.float64)
    grad = np.zeros(x.shape, dtype=np.float64)
    snapshot = x.copy()
    for index in _each_entry(x):
        original = x[index]
        try:
            x[index] = original + eps
            plus = _output_copy(f(x))
            _check_untouched(x, snapshot, index, "numerical_gradient_array")
            x[index] = original - eps
            minus = _output_copy(f(x))
            _check_untouched(x, snapshot, index, "numerical_gradient_array")
        finally:
            x[index] = original
        if plus.shape != dout.shape:
            raise GradcheckError(f"numerical_gradient_array(): f(x) has shape {plus.shape} but "
                                 f"dout has shape {dout.shape}; they must match. Hint: dout is "
                                 "the upstream gradient dL/d(output), shaped like the output.")
        grad[index] = np.sum((plus - minus) * dout) / (2 * eps)
    return grad
