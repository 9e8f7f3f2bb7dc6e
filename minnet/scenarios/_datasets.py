"""Data every scenario family uses: a seeded subset of the digits, standardised quietly.

The digits have a few border pixels that are 0 in every image; Standardizer
centres such columns without scaling them and warns. In a scenario that is
expected, so the warning is silenced here, in one place.
"""
from __future__ import annotations

import warnings
from typing import Optional

import numpy as np

from ..data import Standardizer, load_digits


def standardise(X_train: np.ndarray, X_val: Optional[np.ndarray] = None):
    """Standardise with training statistics: ``X`` alone, or ``(X_train, X_val, scaler)``."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        scaler = Standardizer().fit(X_train)
    if X_val is None:
        return scaler.transform(X_train)
    return scaler.transform(X_train), scaler.transform(X_val), scaler


def digits_subset(n_samples: Optional[int] = None, seed: int = 0) -> tuple:
    """``n_samples`` digits drawn without replacement (all, shuffled, when None), standardised
    with their own statistics: X float32 (n, 64), y int64 (n,)."""
    X, y = load_digits(return_X_y=True)
    index = np.random.default_rng(seed).permutation(len(X))[:n_samples]
    return standardise(X[index]).astype(np.float32), y[index].astype(np.int64)
