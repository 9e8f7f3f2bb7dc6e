"""Cross-entropy of class indices: the summed loss and its gradient in one pass over the logits.

For logits z (N, C) and labels y (N,) with every y_i in [0, C):

    loss_sum = sum_i (log sum_j exp(z_ij) - z_i,y_i)
    grad_ij  = softmax(z_i)_j - [j == y_i]        (d loss_sum / d z_ij), shape (N, C)

Each row is shifted by its max first, so exp never overflows. The NumPy reference takes
ten array operations; for the small (N, C) of a classifier, calling them costs more than
their arithmetic, so the kernel does one pass per row (the exponentials are kept for the
gradient). Sums are accumulated in float64, so for float32 logits the kernel agrees with
the reference to float32 rounding, not bit for bit.
"""
from __future__ import annotations

import math

import numba
import numpy as np


def cross_entropy_rows_reference(logits: np.ndarray, labels: np.ndarray) -> tuple:
    """(loss_sum as a Python float, grad (N, C) in the logits' dtype)."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    sums = exp.sum(axis=1, keepdims=True)
    rows = np.arange(len(labels))
    loss_sum = (np.log(sums[:, 0]) - shifted[rows, labels]).sum()
    grad = exp / sums
    grad[rows, labels] -= 1
    return float(loss_sum), grad


def cross_entropy_rows_numba(logits: np.ndarray, labels: np.ndarray) -> tuple:
    """The same as ``cross_entropy_rows_reference``, compiled (float32/float64 logits; other
    float dtypes, e.g. float16, which Numba does not compute in, run the NumPy lines)."""
    if logits.dtype not in (np.float32, np.float64):
        return cross_entropy_rows_reference(logits, labels)
    grad = np.empty(logits.shape, dtype=logits.dtype)
    return _cross_entropy_rows(logits, labels, grad), grad


# error_model="numpy": a nan or inf logit gives nan, as in NumPy, instead of raising
@numba.njit(cache=True, error_model="numpy")
def _cross_entropy_rows(logits, labels, grad):
    """Fill grad (N, C); return loss_sum. A nan logit makes its row's loss and grad nan."""
    n_rows, n_classes = logits.shape
    loss_sum = 0.0
    for i in range(n_rows):
        row_max = logits[i, 0]
        for j in range(1, n_classes):
            row_max = max(row_max, logits[i, j])
        exp_sum = 0.0
        for j in range(n_classes):
            exp_shifted = math.exp(logits[i, j] - row_max)
            grad[i, j] = exp_shifted
            exp_sum += exp_shifted
        loss_sum += math.log(exp_sum) - (logits[i, labels[i]] - row_max)
        for j in range(n_classes):
            grad[i, j] = grad[i, j] / exp_sum
        grad[i, labels[i]] -= 1
    return loss_sum
