"""Lab 05: dying ReLUs, saturated tanh, and an output activation that cannot reach the targets.

Part 1: measure. ``dead_fraction`` and ``saturated_fraction`` compute, from a layer's outputs,
the two statistics minnet's Monitor records and the debugger judges.
Part 2: repair. ``relu_setup``, ``tanh_setup`` and ``regression_setup`` each return a
``minnet.debug.Setup`` (model, loss, optimizer, data, steps) that trains badly. Diagnose them
(``python labs/05_activations/activation_health.py`` does), find out why, and repair them.
``pytest labs/05_activations`` grades.
"""
from __future__ import annotations

import warnings

import numpy as np

import minnet
from minnet import nn, optim
from minnet.data import load_digits, make_moons, make_regression_1d, train_test_split
from minnet.data.preprocessing import Standardizer
from minnet.debug import Setup

TANH_LIMIT = 0.99            # |tanh| beyond this is "saturated": its slope is below 0.02
SIGMOID_LIMITS = (0.01, 0.99)  # sigmoid outside this interval: slope below ~0.01


# ---------------------------------------------------------------------------------------------
# Part 1: the statistics
# ---------------------------------------------------------------------------------------------
def dead_fraction(activations: np.ndarray) -> float:
    """Fraction of *units* that are dead on this batch.

    ``activations``: a ReLU layer's output, (N, units) -- N samples -- or (N, channels, ...)
    for a conv layer, where a unit is a channel (axis 1) and the positions count as more
    samples. A unit is dead when it outputs exactly 0 for every sample (and position): it
    passes no gradient, so nothing will revive it. Returns a float in [0, 1].
    """
    ### BEGIN SOLUTION
    a = np.asarray(activations)
    per_unit = a.reshape(a.shape[0], a.shape[1], -1)       # (N, units, positions)
    alive = (per_unit != 0).any(axis=(0, 2))               # (units,)
    return float(1.0 - alive.mean())
    ### END SOLUTION


def saturated_fraction(activations: np.ndarray, kind: str) -> float:
    """Fraction of the *entries* of a tanh or sigmoid output that sit in the flat tails.

    kind "tanh":    |a| > TANH_LIMIT (0.99)
    kind "sigmoid": a < 0.01 or a > 0.99 (SIGMOID_LIMITS)
    Strict inequalities: a value of exactly 0.99 is not saturated. Any shape; returns a float.
    """
    ### BEGIN SOLUTION
    a = np.asarray(activations)
    if kind == "tanh":
        flat_tails = np.abs(a) > TANH_LIMIT
    elif kind == "sigmoid":
        low, high = SIGMOID_LIMITS
        flat_tails = (a < low) | (a > high)
    else:
        raise ValueError(f"saturated_fraction(): kind must be 'tanh' or 'sigmoid', got {kind!r}")
    return float(flat_tails.mean())
    ### END SOLUTION


def layer_outputs(model: nn.Sequential, X: np.ndarray) -> list:
    """The output of every module of ``model`` on ``X``, as NumPy arrays (no graph)."""
    outputs = []
    with minnet.no_grad():
        x = minnet.tensor(np.asarray(X, dtype=np.float32))
        for module in model:
            x = module(x)
            outputs.append(x.numpy().copy())
    return outputs


# ---------------------------------------------------------------------------------------------
# Part 2: the data (given; the tests use these functions from the reference solution)
# ---------------------------------------------------------------------------------------------
def moons_data(seed: int = 0):
    """Two-moons: 600 samples, 480 for training and 120 for validation, float32/int64."""
    X, y = make_moons(n_samples=600, noise=0.15, seed=seed)
    X_train, X_val, y_train, y_val = train_test_split(X.astype(np.float32), y.astype(np.int64),
                                                      test_size=0.2, seed=seed)
    return X_train, y_train, X_val, y_val


def raw_digits(seed: int = 0):
    """The 8x8 digits as they come (pixels 0..16): 1437 for training, 360 for validation."""
    X, y = load_digits(return_X_y=True)
    X_train, X_val, y_train, y_val = train_test_split(X.astype(np.float32), y.astype(np.int64),
                                                      test_size=0.2, seed=seed)
    return X_train, y_train, X_val, y_val


def sine_data(seed: int = 0):
    """y = sin(x) + noise on [-3, 3]: targets go down to -1. 320 train / 80 validation, (N, 1)."""
    X, y = make_regression_1d(n_samples=400, kind="sine", noise=0.05, seed=seed)
    X_train, X_val, y_train, y_val = train_test_split(X.astype(np.float32), y.astype(np.float32),
                                                      test_size=0.2, seed=seed)
    return X_train, y_train, X_val, y_val


# ---------------------------------------------------------------------------------------------
# Part 2: the three setups to repair
# ---------------------------------------------------------------------------------------------
def relu_setup() -> Setup:
    """A 2-32-32-2 ReLU classifier on two-moons."""
    X_train, y_train, X_val, y_val = moons_data()
    minnet.manual_seed(0)
    rng = np.random.default_rng(0)
    ### BEGIN SOLUTION
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                          nn.Linear(32, 2))
    for layer in (model[0], model[2], model[4]):
        nn.init.kaiming_normal_(layer.weight, nonlinearity="relu", generator=rng)
        nn.init.zeros_(layer.bias)
    optimizer = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    ### RELEASE AS
    # model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
    #                       nn.Linear(32, 2))
    # for layer in (model[0], model[2], model[4]):
    #     nn.init.kaiming_normal_(layer.weight, nonlinearity="relu", generator=rng)
    #     nn.init.constant_(layer.bias, -1.0)
    # optimizer = optim.SGD(model.parameters(), lr=1.5, momentum=0.9)
    ### END SOLUTION
    return Setup(model, nn.CrossEntropyLoss(), optimizer, (X_train, y_train),
                 val_data=(X_val, y_val), batch_size=32, steps=200, seed=0, name="relu")


def tanh_setup() -> Setup:
    """A 64-64-64-10 tanh classifier on the digits."""
    X_train, y_train, X_val, y_val = raw_digits()
    minnet.manual_seed(0)
    rng = np.random.default_rng(0)
    ### BEGIN SOLUTION
    with warnings.catch_warnings():  # border pixels are constant: centred only, as intended
        warnings.simplefilter("ignore", UserWarning)
        scaler = Standardizer().fit(X_train)
    X_train, X_val = scaler.transform(X_train), scaler.transform(X_val)
    model = nn.Sequential(nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(),
                          nn.Linear(64, 10))
    for layer in (model[0], model[2], model[4]):
        nn.init.xavier_normal_(layer.weight, generator=rng)
        nn.init.zeros_(layer.bias)
    ### RELEASE AS
    # model = nn.Sequential(nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(),
    #                       nn.Linear(64, 10))
    # for layer in (model[0], model[2], model[4]):
    #     nn.init.normal_(layer.weight, 0.0, 0.5, generator=rng)
    #     nn.init.zeros_(layer.bias)
    ### END SOLUTION
    optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    return Setup(model, nn.CrossEntropyLoss(), optimizer, (X_train, y_train),
                 val_data=(X_val, y_val), batch_size=32, steps=150, seed=0, name="tanh")


def regression_setup() -> Setup:
    """A 1-32-32-1 network fitting sin(x) with the mean squared error."""
    X_train, y_train, X_val, y_val = sine_data()
    minnet.manual_seed(0)
    ### BEGIN SOLUTION
    model = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(),
                          nn.Linear(32, 1))
    ### RELEASE AS
    # model = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(),
    #                       nn.Linear(32, 1), nn.ReLU())
    ### END SOLUTION
    optimizer = optim.Adam(model.parameters(), lr=1e-2)
    return Setup(model, nn.MSELoss(), optimizer, (X_train, y_train), val_data=(X_val, y_val),
                 batch_size=32, steps=200, seed=0, name="regression")


# ---------------------------------------------------------------------------------------------
# Evaluation (given)
# ---------------------------------------------------------------------------------------------
def evaluate(model, X, y) -> float:
    """Accuracy for class labels (int y), mean squared error for float targets."""
    model.eval()
    with minnet.no_grad():
        out = model(minnet.tensor(np.asarray(X, dtype=np.float32))).numpy()
    model.train()
    if np.asarray(y).dtype.kind in "iu":
        return float((out.argmax(axis=1) == y).mean())
    return float(np.mean((out.reshape(len(y), -1) - np.asarray(y).reshape(len(y), -1)) ** 2))


def main():
    for build in (relu_setup, tanh_setup, regression_setup):
        setup = build()
        report = setup.diagnose(steps=100)
        print(f"== {setup.name}: {report.codes}")
        print(report)
        setup.train()
        X_val, y_val = setup.val_data
        print(f"== {setup.name}: after training, validation score "
              f"{evaluate(setup.model, X_val, y_val):.4f}\n")


if __name__ == "__main__":
    main()
