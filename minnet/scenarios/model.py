"""Scenarios of the model itself: initialisation, activations, output layer, capacity, eval mode.

Each ``build(broken)`` returns a Setup; broken and fixed differ only in the mistake.
"""
from __future__ import annotations


import numpy as np

from .. import nn, optim
from ..data import make_moons, make_regression_1d, make_spirals
from ..debug.setup import Setup
from ..random import manual_seed
from ..tensor import Tensor, no_grad
from . import scenario
from ._datasets import digits_subset


def _digits(seed: int = 0, n: int = 1000):
    return digits_subset(n, seed)


def _linear_layers(model) -> list:
    return [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


@scenario("zero_init", codes=("init.symmetric",),
          summary="every weight starts at zero: all hidden units stay identical",
          wrong="All weights of the 64-64-10 digits MLP are set to 0 before training, so every "
                "hidden unit computes the same value and gets the same gradient.",
          fix="Keep the default random initialisation (Kaiming uniform).")
def zero_init(broken: bool) -> Setup:
    X, y = _digits()
    manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10))
    if broken:
        for layer in _linear_layers(model):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
    return Setup(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-3), (X, y),
                 batch_size=32, steps=150, seed=0)


@scenario("unset_output_bias", codes=("init.output_bias",),
          summary="regression targets centred at 2.5 std, output bias left at ~0",
          wrong="The targets (sin(x) + 2, std ~0.8) have a mean far from 0, but the last "
                "layer's bias starts near 0: the first iterations are spent moving the bias "
                "(the 'hockey stick' loss curve).",
          fix="Set the last layer's bias to the mean of the training targets before training.")
def unset_output_bias(broken: bool) -> Setup:
    X, y = make_regression_1d(n_samples=400, kind="sine", noise=0.05, seed=0)
    y = (y + 2.0).astype(np.float32)
    manual_seed(0)
    model = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(),
                          nn.Linear(32, 1))
    if not broken:
        with no_grad():
            model[4].bias._data[...] = float(y.mean())
    return Setup(model, nn.MSELoss(), optim.Adam(model.parameters(), lr=3e-3), (X, y),
                 batch_size=32, steps=200, seed=0)


@scenario("huge_init", codes=("init.bad_scale",),
          summary="weights drawn from N(0, 1): ~6x the He value, activations explode",
          wrong="Every Linear weight of the 64-64-64-10 ReLU MLP is drawn from N(0, 1) "
                "instead of N(0, 2/fan_in): each layer multiplies the signal by ~6.",
          fix="He initialisation before each ReLU (nn.init.kaiming_normal_(w, "
              "nonlinearity='relu')), Glorot for the linear output layer, biases zero.")
def huge_init(broken: bool) -> Setup:
    X, y = _digits()
    manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                          nn.Linear(64, 10))
    rng = np.random.default_rng(0)
    for layer in _linear_layers(model):
        if broken:
            nn.init.normal_(layer.weight, 0.0, 1.0, generator=rng)
        elif layer is model[4]:  # the linear output layer: Glorot
            nn.init.xavier_normal_(layer.weight, generator=rng)
        else:
            nn.init.kaiming_normal_(layer.weight, nonlinearity="relu", generator=rng)
        nn.init.zeros_(layer.bias)
    return Setup(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-3), (X, y),
                 batch_size=32, steps=150, seed=0)


@scenario("dying_relu", codes=("activation.dead_relu",),
          summary="hidden biases start at -3: most ReLUs are dead from the first step",
          wrong="The hidden layers' biases are initialised to -3 on standardised inputs, so "
                "almost every pre-activation is negative: the ReLUs output 0 for every sample "
                "and pass no gradient, and they never come back.",
          fix="Zero biases (the default-style init), so about half the inputs activate each unit.")
def dying_relu(broken: bool) -> Setup:
    X, y = make_moons(n_samples=600, noise=0.15, seed=0)
    manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                          nn.Linear(32, 2))
    rng = np.random.default_rng(0)
    for layer in (model[0], model[2]):
        nn.init.kaiming_normal_(layer.weight, nonlinearity="relu", generator=rng)
        nn.init.constant_(layer.bias, -3.0 if broken else 0.0)
    return Setup(model, nn.CrossEntropyLoss(),
                 optim.SGD(model.parameters(), lr=0.05, momentum=0.9), (X, y),
                 batch_size=32, steps=200, seed=0)


@scenario("saturated_tanh", codes=("activation.saturated",),
          summary="tanh layers with weights 5x too large: outputs stuck at +-1",
          wrong="The tanh MLP's weights are drawn from N(0, 1.5^2) (several times the Glorot "
                "value): pre-activations of several units, so most tanh outputs sit at +-1 "
                "where the gradient is ~0.",
          fix="Glorot initialisation: nn.init.xavier_normal_(w), biases zero.")
def saturated_tanh(broken: bool) -> Setup:
    X, y = make_moons(n_samples=600, noise=0.15, seed=0)
    X = ((X - X.mean(axis=0)) / X.std(axis=0)).astype(np.float32)
    manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 64), nn.Tanh(), nn.Linear(64, 64), nn.Tanh(),
                          nn.Linear(64, 2))
    rng = np.random.default_rng(0)
    for layer in _linear_layers(model):
        if broken and layer is not model[4]:
            nn.init.normal_(layer.weight, 0.0, 1.5, generator=rng)
        else:
            nn.init.xavier_normal_(layer.weight, generator=rng)
        nn.init.zeros_(layer.bias)
    return Setup(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.05),
                 (X, y), batch_size=32, steps=150, seed=0)


@scenario("vanishing_activations", codes=("activation.scale",),
          summary="8 tanh layers initialised with std 0.01: the signal fades layer by layer",
          wrong="Every weight of an 8-layer tanh MLP is drawn from N(0, 0.01^2) (the old "
                "'small random numbers' advice): each layer multiplies the activations' std "
                "by ~0.1, so deep layers see almost nothing.",
          fix="Glorot initialisation with the tanh gain (nn.init.xavier_normal_(w, gain=5/3)) "
              "keeps the std near 1 with depth.")
def vanishing_activations(broken: bool) -> Setup:
    X, y = _digits()
    manual_seed(0)
    layers = []
    width = 64
    for _ in range(7):
        layers += [nn.Linear(width, 64), nn.Tanh()]
    layers.append(nn.Linear(64, 10))
    model = nn.Sequential(*layers)
    rng = np.random.default_rng(0)
    for layer in _linear_layers(model):
        if broken:
            nn.init.normal_(layer.weight, 0.0, 0.01, generator=rng)
        else:  # gain 5/3 for tanh (nn.init.calculate_gain('tanh')) keeps the std from drifting
            nn.init.xavier_normal_(layer.weight, gain=nn.init.calculate_gain("tanh"),
                                   generator=rng)
        nn.init.zeros_(layer.bias)
    return Setup(model, nn.CrossEntropyLoss(),
                 optim.SGD(model.parameters(), lr=0.05, momentum=0.9), (X, y),
                 batch_size=32, steps=100, seed=0)


@scenario("relu_output", codes=("output.wrong_activation",),
          summary="a ReLU on the output of a regression net whose targets go negative",
          wrong="The sine-regression MLP ends in nn.ReLU(), so it can never predict the "
                "negative half of sin(x).",
          fix="End with the Linear layer (a linear output).")
def relu_output(broken: bool) -> Setup:
    X, y = make_regression_1d(n_samples=400, kind="sine", noise=0.05, seed=0)
    manual_seed(0)
    layers = [nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 1)]
    if broken:
        layers.append(nn.ReLU())
    model = nn.Sequential(*layers)
    return Setup(model, nn.MSELoss(), optim.Adam(model.parameters(), lr=1e-2), (X, y),
                 batch_size=32, steps=200, seed=0)


@scenario("capacity_too_small", codes=("model.cannot_overfit",),
          summary="a linear classifier on three interleaved spirals",
          wrong="A single Linear(2, 3) layer separates classes with straight lines: it cannot "
                "even memorise 16 spiral points.",
          fix="Add a hidden layer: Linear(2, 64) - ReLU - Linear(64, 3).")
def capacity_too_small(broken: bool) -> Setup:
    X, y = make_spirals(n_samples=300, n_classes=3, noise=0.1, seed=0)
    manual_seed(0)
    if broken:
        model = nn.Sequential(nn.Linear(2, 3))
    else:
        model = nn.Sequential(nn.Linear(2, 64), nn.ReLU(), nn.Linear(64, 3))
    return Setup(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-2), (X, y),
                 batch_size=32, steps=200, seed=0)


def _evaluate_without_eval(model, X, y):
    with no_grad():
        return model(Tensor(X))._data


def _evaluate_with_eval(model, X, y):
    model.eval()
    try:
        with no_grad():
            return model(Tensor(X))._data
    finally:
        model.train()


@scenario("dropout_at_eval", codes=("model.train_mode_at_eval",),
          summary="evaluation forgets model.eval(): dropout stays on",
          wrong="evaluate() runs the digits MLP without model.eval(), so Dropout(0.5) keeps "
                "dropping units: the same image gets a different prediction every time.",
          fix="evaluate() calls model.eval() first (and model.train() afterwards).")
def dropout_at_eval(broken: bool) -> Setup:
    X, y = _digits()
    manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10))
    return Setup(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-3), (X, y),
                 batch_size=32, steps=100, seed=0,
                 evaluate=_evaluate_without_eval if broken else _evaluate_with_eval)
