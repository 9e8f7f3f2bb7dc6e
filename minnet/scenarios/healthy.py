"""Healthy baselines: correctly set-up training runs the debugger must not flag with errors.

These are not failure scenarios (they are not in ``scenarios.list()``); they are
the control group. ``HEALTHY`` maps a name to a function returning a Setup.
A standard recipe each: standardised inputs, He/default init, Adam or SGD with
momentum at a sensible learning rate, shuffled mini-batches, mean losses.
"""
from __future__ import annotations

from .. import nn, optim
from ..data import load_digits, make_moons, make_regression_1d, train_test_split
from ..debug.setup import Setup
from ..random import manual_seed
from ._datasets import standardise


def _digits_split(seed: int = 0):
    X, y = load_digits(return_X_y=True)
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.2, seed=seed,
                                                      stratify=y)
    X_train, X_val, scaler = standardise(X_train, X_val)  # fitted on the training split only
    return X_train, X_val, y_train, y_val, scaler


def digits_mlp(seed: int = 0) -> Setup:
    """64-128-10 ReLU MLP on the standardised digits, Adam 1e-3, batch 32."""
    X_train, X_val, y_train, y_val, scaler = _digits_split(seed)
    manual_seed(seed)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Linear(128, 10))
    return Setup(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-3),
                 (X_train, y_train), val_data=(X_val, y_val), batch_size=32, steps=200,
                 seed=seed, preprocessing={"standardizer": scaler}, name="digits MLP")


def digits_cnn(seed: int = 0) -> Setup:
    """A small CNN on the 1x8x8 digits: conv 8 3x3 pad 1 - ReLU - maxpool 2 - linear 10."""
    X_train, X_val, y_train, y_val, scaler = _digits_split(seed)
    manual_seed(seed)
    model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                          nn.Flatten(), nn.Linear(8 * 4 * 4, 10))
    return Setup(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=2e-3),
                 (X_train.reshape(-1, 1, 8, 8), y_train),
                 val_data=(X_val.reshape(-1, 1, 8, 8), y_val), batch_size=32, steps=150,
                 seed=seed, name="digits CNN")


def moons_mlp(seed: int = 0) -> Setup:
    """2-32-32-2 ReLU MLP on two moons, SGD momentum 0.9, lr 0.05."""
    X, y = make_moons(n_samples=600, noise=0.15, seed=seed)
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.25, seed=seed)
    manual_seed(seed)
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                          nn.Linear(32, 2))
    return Setup(model, nn.CrossEntropyLoss(),
                 optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
                 (X_train, y_train), val_data=(X_val, y_val), batch_size=32, steps=300,
                 seed=seed, name="moons MLP")


def sine_regression(seed: int = 0) -> Setup:
    """1-32-32-1 tanh MLP fitting sin on [-3, 3], Adam 1e-2, MSE."""
    X, y = make_regression_1d(n_samples=400, kind="sine", noise=0.05, seed=seed)
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.25, seed=seed)
    manual_seed(seed)
    model = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(),
                          nn.Linear(32, 1))
    return Setup(model, nn.MSELoss(), optim.Adam(model.parameters(), lr=1e-2),
                 (X_train, y_train), val_data=(X_val, y_val), batch_size=32, steps=300,
                 seed=seed, name="sine regression")


HEALTHY = {"digits_mlp": digits_mlp, "digits_cnn": digits_cnn, "moons_mlp": moons_mlp,
           "sine_regression": sine_regression}
