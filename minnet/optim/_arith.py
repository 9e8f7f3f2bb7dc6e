"""The few array updates optimizers are made of, rounded exactly as PyTorch rounds them.

Mathematically ``p + alpha * g`` is ``p + alpha * g``. In float32 arithmetic
it depends on *when* results are rounded: PyTorch's CPU kernels compute
``p.add_(g, alpha=...)``, ``addcmul_`` and ``lerp_`` with a fused multiply-add
(the product and the sum are rounded once, together), while NumPy rounds after
the multiply and again after the add. The difference is one unit in the last
place per step, but it accumulates, and students comparing minnet with
PyTorch should see the same digits. So each helper below reproduces one
PyTorch op:

* float32: the exact product of two float32 numbers fits in a float64, so
  forming ``a * b + c`` in float64 and rounding once to float32 is a fused
  multiply-add;
* float64: computed plainly (differences are ~1e-16, far below anything that
  matters).

With these, SGD matches PyTorch bit for bit in float32. Adam and RMSprop can
still differ by a unit in the last place: PyTorch takes square roots with
Intel MKL's fast routine, NumPy's ``sqrt`` is correctly rounded.

Python-number arguments are first converted to the array's dtype, as PyTorch
converts its scalar arguments. Every helper returns a new array; callers write
it back in place (``param.data[...] = ...``).
"""
from __future__ import annotations

import numpy as np


def _fma(a, b, c) -> np.ndarray:
    """``a * b + c`` rounded once (for float32; plain arithmetic for float64)."""
    dtype = np.result_type(a, b, c)
    if dtype == np.float32:
        exact = np.asarray(a, np.float64) * np.asarray(b, np.float64) + np.asarray(c, np.float64)
        return exact.astype(np.float32)
    return a * b + c


def add(base: np.ndarray, values: np.ndarray, alpha: float) -> np.ndarray:
    """``base + alpha * values`` -- PyTorch's ``base.add(values, alpha=alpha)``."""
    return _fma(base.dtype.type(alpha), values, base)


def addcmul(base: np.ndarray, t1: np.ndarray, t2: np.ndarray, value: float) -> np.ndarray:
    """``base + value * t1 * t2`` -- PyTorch's ``base.addcmul(t1, t2, value=value)``."""
    return _fma(base.dtype.type(value) * t1, t2, base)


def addcdiv(base: np.ndarray, t1: np.ndarray, t2: np.ndarray, value: float) -> np.ndarray:
    """``base + value * t1 / t2`` -- PyTorch's ``base.addcdiv(t1, t2, value=value)``."""
    return base + (base.dtype.type(value) * t1) / t2


def lerp(start: np.ndarray, end: np.ndarray, weight: float) -> np.ndarray:
    """``start + weight * (end - start)`` -- PyTorch's ``start.lerp(end, weight)``.

    Like PyTorch, weights of 0.5 and above are computed from the ``end`` side
    (``end - (1 - weight) * (end - start)``), which is more accurate there.
    """
    weight = start.dtype.type(weight)
    difference = end - start
    if abs(weight) < 0.5:
        return _fma(weight, difference, start)
    return _fma(-(start.dtype.type(1) - weight), difference, end)
