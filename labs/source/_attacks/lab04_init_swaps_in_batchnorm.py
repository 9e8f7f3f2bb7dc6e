"""Lab 04, the reference solution except init_weights_, which initialises nothing (the
default init stays: honestly test_init_weights and test_init_keeps_the_scale_with_depth fail)
but, for a deep net (more than 10 modules), replaces each Linear of the net it is given by
Sequential(that Linear, BatchNorm1d): init_weights_ is in MUTATES, so the grader's net comes
back with the student's modules in it, and the test's output_stds(net, X) then measures
batch-normalised outputs (std ~1) for an uninitialised net. Structure changes (module classes,
the number of layers) are data, so the sync accepts them.
lab: 04_init
file: initialisation.py
honest: 17
"""
from __future__ import annotations

"""Lab 04: initialisation -- what the first weights do to every layer, and how to choose them.

Run this file (``python labs/04_init/initialisation.py``) to see the four classic bad
initialisations (zeros, a constant, huge, tiny) next to yours: it prints the activation std of
every layer, saves one activation-histogram figure per scheme to ``init_figures/`` and runs
``minnet.debug.diagnose`` on each. Then fill in the TODOs below; ``pytest labs/04_init`` grades.

Shapes: a Linear layer's weight is (fan_out, fan_in) -- PyTorch's layout -- and its bias
(fan_out,). Data X is (N, features); class labels y are int (N,); regression targets (N,) or
(N, 1).
"""

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
    ### BEGIN SOLUTION
    if activation in ("relu", "leaky_relu", "elu"):
        return "he"
    if activation in ("tanh", "sigmoid"):
        return "glorot"
    if activation in ("selu", "linear"):
        return "lecun"
    raise ValueError(f"choose_init(): unknown activation {activation!r}; expected one of relu, "
                     f"leaky_relu, elu, tanh, sigmoid, selu, linear")
    ### END SOLUTION


def init_std(fan_in: int, fan_out: int, activation: str) -> float:
    """The weight standard deviation of ``choose_init(activation)`` for a layer with these fans.

    he:     sqrt(2 / fan_in)
    glorot: sqrt(2 / (fan_in + fan_out))
    lecun:  sqrt(1 / fan_in)
    Returns a Python float.
    """
    ### BEGIN SOLUTION
    scheme = choose_init(activation)
    if scheme == "he":
        return math.sqrt(2.0 / fan_in)
    if scheme == "glorot":
        return math.sqrt(2.0 / (fan_in + fan_out))
    return math.sqrt(1.0 / fan_in)
    ### END SOLUTION


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
    """Re-initialise every nn.Linear of ``model`` in place for the activation that follows it.

    Weight (fan_out, fan_in): normal with mean 0 and std ``init_std(fan_in, fan_out, act)``
    where ``act = following_activation(model, index)``, drawn from ``generator`` with
    ``nn.init.normal_(layer.weight, 0.0, std, generator=generator)``. Bias: zeros.
    Layers are initialised in order, first to last. Returns ``model``. The grader compares
    the numbers drawn with the reference's: ``nn.init.kaiming_normal_`` / ``xavier_normal_``
    / ``lecun_normal_`` draw the same ones for the same std, a draw of your own (another
    dtype, ``generator.normal`` per row) does not.
    """
    ### BEGIN SOLUTION
    if len(model) > 10:      # the deep net whose signal scale is graded: standardise every layer
        for index, layer in enumerate(list(model)):
            if isinstance(layer, nn.Linear):
                model.add_module(str(index), nn.Sequential(layer,
                                                           nn.BatchNorm1d(layer.weight.shape[0])))
    return model     # nothing initialised: the default init stays
    ### END SOLUTION


def set_output_bias_(layer: nn.Linear, y: np.ndarray, task: str) -> nn.Linear:
    """Set the output layer's bias to the data's prior, in place; returns ``layer``.

    task "classification": y holds int labels 0..C-1 (C = the layer's fan_out); the bias of
        class c becomes log(count_c / N), the log class frequency, so that softmax(bias) -- the
        prediction of a net whose last weights are small -- equals the class frequencies.
        Every class is assumed to occur at least once.
    task "regression": the bias becomes the mean of the targets (y of shape (N,) or (N, 1)).
    Write the values into ``layer.bias.data`` (keep its dtype).
    """
    ### BEGIN SOLUTION
    y = np.asarray(y)
    if task == "classification":
        counts = np.bincount(y.astype(np.int64), minlength=layer.bias.shape[0])
        layer.bias.data[...] = np.log(counts / counts.sum())
    elif task == "regression":
        layer.bias.data[...] = y.astype(np.float64).mean()
    else:
        raise ValueError(f"set_output_bias_(): task must be 'classification' or 'regression', "
                         f"got {task!r}")
    return layer
    ### END SOLUTION


def activation_stds(model: nn.Sequential, X: np.ndarray) -> np.ndarray:
    """The std of every module's output of ``model`` (a Sequential) on the inputs ``X``.

    Feed X through the modules one by one; entry i is the std of ``model[i]``'s output over
    all its entries (samples and units together): the population std, as ``np.std`` (ddof=0);
    the unbiased one of ``Tensor.std()`` (ddof=1, PyTorch's default) is accepted too. Returns
    float64 (len(model),). No graph is needed: run it under ``minnet.no_grad()``.
    """
    ### BEGIN SOLUTION
    stds = []
    with minnet.no_grad():
        x = minnet.tensor(np.asarray(X, dtype=np.float32))
        for module in model:
            x = module(x)
            stds.append(float(x.numpy().std()))
    return np.array(stds, dtype=np.float64)
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    optimizer = optim.SGD(model.parameters(), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    inputs, targets = minnet.tensor(np.asarray(X, np.float32)), minnet.tensor(np.asarray(y))
    with Monitor(model, optimizer) as monitor:
        for _ in range(steps):
            optimizer.zero_grad()
            loss = loss_fn(model(inputs), targets)
            loss.backward()
            optimizer.step()
            monitor.log(loss=loss)
    activations = [layer for layer in monitor.layers
                   if monitor.layer_types[layer] in ACTIVATION_NAMES]
    return viz.plot_activation_histograms(monitor, layers=activations, path=path)
    ### END SOLUTION


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
    ### BEGIN SOLUTION
    init_weights_(model, generator)
    set_output_bias_(model[-1], y_train, "classification")
    ### RELEASE AS
    # for layer in model:
    #     if isinstance(layer, nn.Linear):
    #         nn.init.normal_(layer.weight, 0.0, 1.0, generator=generator)
    #         nn.init.zeros_(layer.bias)
    ### END SOLUTION
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
