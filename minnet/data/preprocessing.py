"""Preprocessing: scaling features and splitting data, the scikit-learn way.

The rule these tools exist to enforce: statistics (means, stds, minima) are
computed on the *training* data only, then applied unchanged to validation and
test data. Fitting on everything leaks information from the test set into
training and makes test scores look better than they are.

All functions take NumPy arrays (Tensors are accepted and read as arrays) and
return NumPy arrays.
"""
from __future__ import annotations

import numbers
import warnings
from typing import Optional

import numpy as np

from ..random import get_generator
from ..tensor import Tensor


def _float_array(X, where: str) -> np.ndarray:
    """X as a float array: float64 stays float64, anything else becomes float32."""
    X = X._data if isinstance(X, Tensor) else np.asarray(X)
    if X.dtype.kind not in "fiub":
        raise TypeError(f"{where}: expected numeric data, got dtype {X.dtype}")
    if X.ndim == 0 or len(X) == 0:
        raise ValueError(f"{where}: expected an array of shape (n_samples, n_features) with "
                         f"n_samples >= 1, got shape {X.shape}")
    return X if X.dtype in (np.float32, np.float64) else X.astype(np.float32)


class _FittedScaler:
    """Shared plumbing: remember the feature shape at fit, check it afterwards."""

    _fitted_attribute = ""

    def _check_fitted(self, X, method: str) -> np.ndarray:
        name = f"{type(self).__name__}.{method}"
        if getattr(self, self._fitted_attribute, None) is None:
            raise RuntimeError(f"{name}: this scaler is not fitted yet. Hint: call "
                               f"fit(X_train) first (on the training data only).")
        X = _float_array(X, name)
        if X.shape[1:] != self.feature_shape_:
            raise ValueError(f"{name}: expected samples of shape {self.feature_shape_} (as in fit), "
                             f"got array of shape {X.shape}")
        return X

    def fit_transform(self, X) -> np.ndarray:
        """``fit(X)`` then ``transform(X)``: use on the training data only."""
        return self.fit(X).transform(X)


class Standardizer(_FittedScaler):
    """Rescale every feature to mean 0 and standard deviation 1.

    ``fit(X_train)`` stores per-feature ``mean_`` and ``std_`` (population std,
    as scikit-learn's StandardScaler; shapes ``X.shape[1:]``). ``transform(X)``
    returns ``(X - mean_) / std_`` with X's float dtype (integers -> float32).

    A feature that is constant on the training data has std 0; dividing by it
    would give inf/nan, so its std is replaced by 1 (the feature is only
    centred) and a warning names the constant columns.
    """

    _fitted_attribute = "mean_"

    def __init__(self):
        self.mean_: Optional[np.ndarray] = None
        self.std_: Optional[np.ndarray] = None
        self.constant_features_: Optional[np.ndarray] = None

    def fit(self, X) -> "Standardizer":
        X = _float_array(X, "Standardizer.fit")
        # Statistics in float64: float32 sums over many samples lose digits.
        X64 = X.astype(np.float64)
        mean = X64.mean(axis=0)
        std = X64.std(axis=0)
        # Anything below a few rounding errors of the data's dtype is "constant".
        tolerance = 10 * np.finfo(X.dtype).eps * np.maximum(1.0, np.abs(mean))
        constant = std <= tolerance
        if constant.any():
            columns = [tuple(c) if len(c) > 1 else int(c[0]) for c in np.argwhere(constant)]
            warnings.warn(
                f"Standardizer.fit: feature column(s) {columns} are constant in the data "
                "(std 0); they are centred but not scaled. Hint: constant features carry no "
                "information; consider dropping them.", stacklevel=2)
        self.mean_ = mean.astype(X.dtype)
        self.std_ = np.where(constant, 1.0, std).astype(X.dtype)
        self.constant_features_ = constant
        self.feature_shape_ = X.shape[1:]
        return self

    def transform(self, X) -> np.ndarray:
        X = self._check_fitted(X, "transform")
        return ((X - self.mean_) / self.std_).astype(X.dtype, copy=False)

    def inverse_transform(self, X) -> np.ndarray:
        """Undo `transform`: ``X * std_ + mean_``."""
        X = self._check_fitted(X, "inverse_transform")
        return (X * self.std_ + self.mean_).astype(X.dtype, copy=False)

    def __repr__(self) -> str:
        state = "unfitted" if self.mean_ is None else f"fitted on features of shape {self.feature_shape_}"
        return f"Standardizer({state})"


class MinMaxScaler(_FittedScaler):
    """Rescale every feature linearly so its training min/max map to ``feature_range``.

    Constant features (max == min) map to the lower end of the range.
    """

    _fitted_attribute = "data_min_"

    def __init__(self, feature_range: tuple = (0.0, 1.0)):
        low, high = feature_range
        if not low < high:
            raise ValueError(f"MinMaxScaler: feature_range must be (low, high) with low < high, "
                             f"got {feature_range}")
        self.feature_range = (float(low), float(high))
        self.data_min_: Optional[np.ndarray] = None
        self.data_max_: Optional[np.ndarray] = None

    def fit(self, X) -> "MinMaxScaler":
        X = _float_array(X, "MinMaxScaler.fit")
        self.data_min_ = X.min(axis=0)
        self.data_max_ = X.max(axis=0)
        self.feature_shape_ = X.shape[1:]
        return self

    def _scale(self, dtype) -> np.ndarray:
        """Output units per input unit, per feature (1 where the feature is constant)."""
        data_range = (self.data_max_ - self.data_min_).astype(np.float64)
        low, high = self.feature_range
        return ((high - low) / np.where(data_range == 0, 1.0, data_range)).astype(dtype)

    def transform(self, X) -> np.ndarray:
        X = self._check_fitted(X, "transform")
        low = X.dtype.type(self.feature_range[0])
        return ((X - self.data_min_.astype(X.dtype)) * self._scale(X.dtype) + low).astype(X.dtype, copy=False)

    def inverse_transform(self, X) -> np.ndarray:
        X = self._check_fitted(X, "inverse_transform")
        low = X.dtype.type(self.feature_range[0])
        return ((X - low) / self._scale(X.dtype) + self.data_min_.astype(X.dtype)).astype(X.dtype, copy=False)


def one_hot(labels, num_classes: int = -1, dtype=np.float32) -> np.ndarray:
    """Labels (N,) of integers in [0, num_classes) -> one-hot array (N, num_classes).

    ``num_classes=-1`` (PyTorch's default) uses ``labels.max() + 1``.
    """
    labels = labels._data if isinstance(labels, Tensor) else np.asarray(labels)
    if labels.dtype.kind not in "iu":
        raise TypeError(f"one_hot: labels must be integers, got dtype {labels.dtype}. "
                        "Hint: class indices, e.g. y.astype(np.int64).")
    if num_classes == -1:
        num_classes = int(labels.max()) + 1 if labels.size else 0
    if labels.size and (labels.min() < 0 or labels.max() >= num_classes):
        raise ValueError(f"one_hot: labels must lie in [0, {num_classes}), got values from "
                         f"{labels.min()} to {labels.max()}")
    return np.eye(num_classes, dtype=dtype)[labels]


# --------------------------------------------------------------------------
# train_test_split
# --------------------------------------------------------------------------
def train_test_split(*arrays, test_size=0.25, seed: Optional[int] = 0,
                     stratify=None, generator: Optional[np.random.Generator] = None) -> list:
    """Randomly split arrays into train and test parts, in scikit-learn's order.

    ``X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.2)``
    Args:
        *arrays: arrays or Tensors with the same first dimension N, split by the same rows.
        test_size: a fraction in (0, 1) (``ceil(test_size * N)`` test rows, as in
            scikit-learn) or a number of rows in [1, N - 1].
        seed: seed for the shuffle (default 0: the same split every run); or ``generator``.
        stratify: labels (N,); each class then gets its share of the test rows.
    """
    if not arrays:
        raise ValueError("train_test_split: give at least one array, e.g. train_test_split(X, y)")
    n = _common_length(arrays)
    n_test = _test_count(test_size, n)
    rng = get_generator(generator, seed)
    if stratify is None:
        order = rng.permutation(n)
        test_index, train_index = order[:n_test], order[n_test:]
    else:
        train_index, test_index = _stratified_indices(stratify, n, n_test, rng)
    result = []
    for array in arrays:
        result += [_take(array, train_index), _take(array, test_index)]
    return result


def _common_length(arrays) -> int:
    lengths = []
    for i, array in enumerate(arrays):
        shape = np.shape(array._data if isinstance(array, Tensor) else array)
        if len(shape) == 0:
            raise ValueError(f"train_test_split: argument {i} is a scalar; every argument needs a "
                             "first dimension that indexes samples")
        lengths.append(shape[0])
    if len(set(lengths)) != 1:
        raise ValueError(f"train_test_split: all arrays must have the same length (first "
                         f"dimension), got lengths {lengths}")
    return lengths[0]


def _test_count(test_size, n: int) -> int:
    """Number of test rows for ``test_size`` (fraction or count) out of ``n``."""
    if isinstance(test_size, bool) or not isinstance(test_size, numbers.Real):
        raise TypeError(f"train_test_split: test_size must be a number, got test_size={test_size!r}")
    if isinstance(test_size, numbers.Integral):
        if not 1 <= test_size <= n - 1:
            raise ValueError(f"train_test_split: an integer test_size must lie in [1, {n - 1}] for "
                             f"{n} samples, got test_size={test_size}")
        return int(test_size)
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"train_test_split: a fractional test_size must lie strictly between 0 "
                         f"and 1, got test_size={test_size}. Hint: 0.2 keeps 20% for testing.")
    n_test = int(np.ceil(test_size * n))
    if not 1 <= n_test <= n - 1:
        raise ValueError(f"train_test_split: test_size={test_size} of {n} samples leaves "
                         f"{n_test} test and {n - n_test} train samples; both need at least one")
    return n_test


def _stratified_indices(stratify, n: int, n_test: int, rng: np.random.Generator):
    """Train and test row indices with each class split in the same proportion."""
    labels = stratify._data if isinstance(stratify, Tensor) else np.asarray(stratify)
    if labels.shape != (n,):
        raise ValueError(f"train_test_split: stratify must be labels of shape ({n},), got shape "
                         f"{labels.shape}")
    classes, class_of_row, counts = np.unique(labels, return_inverse=True, return_counts=True)
    if counts.min() < 2:
        raise ValueError(f"train_test_split: class {classes[counts.argmin()]!r} has only "
                         f"{counts.min()} sample; stratify needs at least 2 per class")
    if not len(classes) <= n_test <= n - len(classes):
        raise ValueError(f"train_test_split: with stratify, the test and train parts each need "
                         f"at least as many samples as there are classes ({len(classes)}); got "
                         f"{n_test} test and {n - n_test} train samples")
    test_per_class = _apportion(counts, n_test)
    train_index, test_index = [], []
    for c, n_test_c in enumerate(test_per_class):
        rows = rng.permutation(np.flatnonzero(class_of_row == c))
        test_index.append(rows[:n_test_c])
        train_index.append(rows[n_test_c:])
    # Shuffle again so the classes are mixed, not in blocks.
    return rng.permutation(np.concatenate(train_index)), rng.permutation(np.concatenate(test_index))


def _apportion(counts: np.ndarray, total: int) -> np.ndarray:
    """Split ``total`` over classes in proportion to ``counts`` (largest remainders).

    Each class first gets the whole part of its exact share; the rows left over
    go, one each, to the classes with the largest fractional parts (ties: the
    lower class index first), so the result is deterministic and sums to ``total``.
    """
    exact = counts * total / counts.sum()
    share = np.floor(exact).astype(np.int64)
    leftover = total - share.sum()
    by_remainder = np.argsort(-(exact - share), kind="stable")
    share[by_remainder[:leftover]] += 1
    return share


def _take(array, index: np.ndarray):
    """Rows ``index`` of an array, keeping Tensors as Tensors and lists as arrays."""
    if isinstance(array, Tensor):
        return Tensor(array._data[index])
    return np.asarray(array)[index]
