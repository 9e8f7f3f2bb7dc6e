"""Small synthetic data sets for experiments that run in seconds.

Every generator is deterministic: it takes ``seed=`` (default 0) or
``generator=`` (a ``np.random.Generator``, which then takes precedence).
Classification generators return ``X`` float32 of shape (n_samples, n_features)
and ``y`` int64 of shape (n_samples,), with the classes as balanced as
``n_samples`` allows (counts differ by at most one) and, with
``shuffle=True`` (the default), the rows in random order.
"""
from __future__ import annotations

import numbers
from typing import Optional, Sequence, Union

import numpy as np

from ..random import get_generator

_TWO_PI = 2 * np.pi


# --------------------------------------------------------------------------
# argument checks and shared helpers
# --------------------------------------------------------------------------
def _check_count(value, name: str, where: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < minimum:
        raise ValueError(f"{where}: {name} must be an integer >= {minimum}, got {name}={value!r}")
    return int(value)


def _check_noise(value, name: str, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(f"{where}: {name} must be a number >= 0, got {name}={value!r}")
    return float(value)


def _class_sizes(n_samples: int, n_classes: int) -> list:
    """Split n_samples into n_classes counts that differ by at most one."""
    base, extra = divmod(n_samples, n_classes)
    return [base + (k < extra) for k in range(n_classes)]


def _finish(X: np.ndarray, y: np.ndarray, shuffle: bool, rng: np.random.Generator):
    """Cast to the documented dtypes and optionally shuffle the rows together."""
    X = X.astype(np.float32)
    y = y.astype(np.int64)
    if shuffle:
        order = rng.permutation(len(y))
        X, y = X[order], y[order]
    return X, y


# --------------------------------------------------------------------------
# classification
# --------------------------------------------------------------------------
def make_spirals(n_samples: int = 300, n_classes: int = 3, noise: float = 0.2,
                 seed: Optional[int] = 0, generator: Optional[np.random.Generator] = None,
                 shuffle: bool = True):
    """Interleaved spiral arms, one per class (the CS231n toy problem).

    Class k's points have radius r evenly in [0, 1] and angle ``4 r + k * 2 pi / n_classes``
    plus Gaussian jitter ``noise``; the point is ``(r sin(angle), r cos(angle))``. No line
    separates the arms: a linear classifier gets about 55% right, a small MLP close to 100%.
    Returns X float32 (n_samples, 2) and y int64 (n_samples,) in 0 .. n_classes - 1.
    """
    where = "make_spirals"
    n_samples = _check_count(n_samples, "n_samples", where)
    n_classes = _check_count(n_classes, "n_classes", where)
    noise = _check_noise(noise, "noise", where)
    rng = get_generator(generator, seed)
    points, labels = [], []
    for k, size in enumerate(_class_sizes(n_samples, n_classes)):
        radius = np.linspace(0.0, 1.0, size)
        angle = 4.0 * radius + k * _TWO_PI / n_classes + rng.normal(0.0, noise, size)
        points.append(np.stack([radius * np.sin(angle), radius * np.cos(angle)], axis=1))
        labels.append(np.full(size, k))
    return _finish(np.concatenate(points), np.concatenate(labels), shuffle, rng)


def make_moons(n_samples: int = 200, noise: float = 0.1, seed: Optional[int] = 0,
               generator: Optional[np.random.Generator] = None, shuffle: bool = True):
    """Two interleaving half circles (as scikit-learn's ``make_moons``).

    Class 0: the upper half of the unit circle, ``(cos t, sin t)`` for t in [0, pi].
    Class 1: a lower half circle shifted right and down, ``(1 - cos t, 0.5 - sin t)``.
    Each coordinate then gets Gaussian noise of std ``noise``.

    Returns:
        X: float32 (n_samples, 2); without noise x in [-1, 2], y in [-0.5, 1].
        y: int64 (n_samples,), values 0 and 1.
    """
    where = "make_moons"
    n_samples = _check_count(n_samples, "n_samples", where, minimum=2)
    noise = _check_noise(noise, "noise", where)
    rng = get_generator(generator, seed)
    n_upper, n_lower = _class_sizes(n_samples, 2)
    t_upper = np.linspace(0.0, np.pi, n_upper)
    t_lower = np.linspace(0.0, np.pi, n_lower)
    upper = np.stack([np.cos(t_upper), np.sin(t_upper)], axis=1)
    lower = np.stack([1.0 - np.cos(t_lower), 0.5 - np.sin(t_lower)], axis=1)
    X = np.concatenate([upper, lower]) + rng.normal(0.0, noise, (n_samples, 2))
    y = np.concatenate([np.zeros(n_upper), np.ones(n_lower)])
    return _finish(X, y, shuffle, rng)


def make_blobs(n_samples: int = 300, centers: Union[int, Sequence] = 3,
               cluster_std: Union[float, Sequence[float]] = 1.0, n_features: int = 2,
               seed: Optional[int] = 0, generator: Optional[np.random.Generator] = None,
               center_box: tuple = (-10.0, 10.0), shuffle: bool = True):
    """Gaussian clusters, one per class.

    Args:
        centers: the number of clusters (centres drawn uniformly from ``center_box``) or
            an array (n_centers, n_features) of centres, which fixes ``n_features``.
        cluster_std: the std of every cluster, or one std per cluster.
    Returns X float32 (n_samples, n_features) and y int64 (n_samples,), each point's cluster.
    """
    where = "make_blobs"
    n_samples = _check_count(n_samples, "n_samples", where)
    rng = get_generator(generator, seed)
    if isinstance(centers, numbers.Integral) and not isinstance(centers, bool):
        n_centers = _check_count(centers, "centers", where)
        n_features = _check_count(n_features, "n_features", where)
        low, high = center_box
        center_points = rng.uniform(low, high, size=(n_centers, n_features))
    else:
        center_points = np.asarray(centers, dtype=np.float64)
        if center_points.ndim != 2 or len(center_points) == 0:
            raise ValueError(f"{where}: centers must be an int or an array of shape "
                             f"(n_centers, n_features), got shape {center_points.shape}")
        n_centers = len(center_points)
    stds = np.asarray(cluster_std, dtype=np.float64)
    if stds.ndim == 0:
        stds = np.full(n_centers, float(stds))
    if stds.shape != (n_centers,) or not np.all(stds >= 0):
        raise ValueError(f"{where}: cluster_std must be a number >= 0 or one per center "
                         f"({n_centers} values), got cluster_std={cluster_std!r}")
    points, labels = [], []
    for k, size in enumerate(_class_sizes(n_samples, n_centers)):
        points.append(center_points[k] + rng.normal(0.0, stds[k], (size, center_points.shape[1])))
        labels.append(np.full(size, k))
    return _finish(np.concatenate(points), np.concatenate(labels), shuffle, rng)


def make_xor(n_samples: int = 200, noise: float = 0.1, seed: Optional[int] = 0,
             generator: Optional[np.random.Generator] = None, shuffle: bool = True):
    """Four Gaussian clusters at the corners (+-1, +-1); label 1 where the signs differ.

    Class 0 at (1, 1) and (-1, -1), class 1 at (1, -1) and (-1, 1), each point its corner
    plus noise of std ``noise``. No single line separates the classes, which is why a
    network without a hidden layer cannot learn it. Returns X float32 (n_samples, 2) and
    y int64 (n_samples,).
    """
    where = "make_xor"
    n_samples = _check_count(n_samples, "n_samples", where, minimum=2)
    noise = _check_noise(noise, "noise", where)
    rng = get_generator(generator, seed)
    # Alternate classes when handing out remainders so class counts differ by <= 1.
    corners = np.array([[1.0, 1.0], [1.0, -1.0], [-1.0, -1.0], [-1.0, 1.0]])
    corner_labels = [0, 1, 0, 1]
    points, labels = [], []
    for corner, label, size in zip(corners, corner_labels, _class_sizes(n_samples, 4)):
        points.append(corner + rng.normal(0.0, noise, (size, 2)))
        labels.append(np.full(size, label))
    return _finish(np.concatenate(points), np.concatenate(labels), shuffle, rng)


def make_xor_table():
    """The exact 4-point XOR truth table.

    Returns:
        X: float32 (4, 2): (0, 0), (0, 1), (1, 0), (1, 1).
        y: int64 (4,): 0, 1, 1, 0. For an MSE or BCE target use
        ``y.reshape(-1, 1).astype(np.float32)``.
    """
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], dtype=np.float32)
    y = np.array([0, 1, 1, 0], dtype=np.int64)
    return X, y


# --------------------------------------------------------------------------
# regression
# --------------------------------------------------------------------------
def hard_function(x: np.ndarray) -> np.ndarray:
    """The "hard" target of `make_regression_1d`, noise-free.

    ``f(x) = tanh(10 (x - 1)) + 0.5 sin(3 x) exp(-x^2)``: on [-3, 3], flat near -1 for
    x < -2, a smooth wiggle in the middle, a steep step of height 2 at x = 1 (slope 10),
    flat near +1 for x > 2. A small network fits the wiggle quickly and the step slowly:
    it needs units whose kink sits right at x = 1.
    """
    return np.tanh(10.0 * (x - 1.0)) + 0.5 * np.sin(3.0 * x) * np.exp(-x ** 2)


_TARGETS = {"sine": np.sin, "hard": hard_function}


def make_regression_1d(n_samples: int = 200, kind: str = "sine", noise: float = 0.1,
                       seed: Optional[int] = 0, generator: Optional[np.random.Generator] = None):
    """Noisy samples of a 1-D function, for function-approximation experiments.

    x is drawn uniformly from [-3, 3]; the target is ``f(x) + noise * N(0, 1)``
    with ``f = sin`` for ``kind="sine"`` and `hard_function` for ``kind="hard"``.
    The rows are not sorted; for a line plot use ``order = X[:, 0].argsort()``.

    Returns:
        X: float32 (n_samples, 1) in [-3, 3].
        y: float32 (n_samples, 1).
    """
    where = "make_regression_1d"
    n_samples = _check_count(n_samples, "n_samples", where)
    noise = _check_noise(noise, "noise", where)
    if kind not in _TARGETS:
        raise ValueError(f"{where}: kind must be one of {sorted(_TARGETS)}, got kind={kind!r}")
    rng = get_generator(generator, seed)
    x = rng.uniform(-3.0, 3.0, size=(n_samples, 1))
    y = _TARGETS[kind](x) + noise * rng.standard_normal((n_samples, 1))
    return x.astype(np.float32), y.astype(np.float32)
