"""The error function erf and its complement erfc, element-wise (the exact GELU needs erf).

    erf(x) = 2 / sqrt(pi) * integral from 0 to x of exp(-t^2) dt        (odd, in (-1, 1))

NumPy has no erf (SciPy has, but minnet does not depend on it). Python's ``math.erf`` is
exact to the last bit or so, but works on one number at a time: the reference below calls
it once per entry, which is slow (~100 ns an entry) but obviously right. Numba compiles
the same ``math.erf`` into a loop over the array. erfc(x) = 1 - erf(x) has its own
function because for x above ~6 the subtraction rounds to 0 while erfc is still ~1e-17.
"""
from __future__ import annotations

import math

import numba
import numpy as np


def erf_reference(x: np.ndarray) -> np.ndarray:
    """erf of every entry (any shape), in x's float dtype."""
    return np.vectorize(math.erf, otypes=[np.float64])(x).astype(x.dtype, copy=False)


def erfc_reference(x: np.ndarray) -> np.ndarray:
    """erfc = 1 - erf of every entry, in x's float dtype."""
    return np.vectorize(math.erfc, otypes=[np.float64])(x).astype(x.dtype, copy=False)


def _compiled(loop, x: np.ndarray) -> np.ndarray:
    """Run a compiled entry-wise loop over x (float32/float64; other float dtypes, e.g.
    float16, which Numba does not compute in, go through float64)."""
    if x.dtype not in (np.float32, np.float64):
        return _compiled(loop, x.astype(np.float64)).astype(x.dtype)
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty_like(flat)
    loop(flat, out)
    return out.reshape(x.shape)


def erf_numba(x: np.ndarray) -> np.ndarray:
    """The same as ``erf_reference``, compiled."""
    return _compiled(_erf_flat, x)


def erfc_numba(x: np.ndarray) -> np.ndarray:
    """The same as ``erfc_reference``, compiled."""
    return _compiled(_erfc_flat, x)


@numba.njit(cache=True)
def _erf_flat(flat, out):
    for i in range(flat.shape[0]):
        # in float64 as the reference (Numba's float() of a float32 stays float32: erff)
        out[i] = math.erf(np.float64(flat[i]))


@numba.njit(cache=True)
def _erfc_flat(flat, out):
    for i in range(flat.shape[0]):
        out[i] = math.erfc(np.float64(flat[i]))
