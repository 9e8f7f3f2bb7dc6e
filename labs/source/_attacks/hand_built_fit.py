"""Lab 12's fits without learning: a network built by hand from the target function itself
(ReLU pieces through sin / hard_function) and "trained" with lr=0.0 so that train() is called
but nothing moves; then the returned network is the hand-built one.
lab: 12_function_fit
file: function_fit.py
honest: 0
"""
import numpy as np

from minnet import nn, optim
from minnet.data import hard_function, make_regression_1d
from minnet.tensor import Tensor, no_grad


def load_data(kind="sine", n_samples=200, seed=0):
    return make_regression_1d(n_samples, kind=kind, noise=0.05, seed=seed)


def train(model, X, y, steps=300, lr=0.05, momentum=0.0):
    optimizer = optim.SGD(model.parameters(), lr=lr, momentum=momentum)
    losses = []
    for _ in range(steps):
        optimizer.zero_grad()
        loss = nn.MSELoss()(model(Tensor(X)), Tensor(y))
        loss.backward()
        optimizer.step()
        losses.append(float(loss.item()))
    return losses


def _pieces(f, count=60):
    knots = np.linspace(-3.0, 3.0, count + 1)
    values = f(knots)
    slopes = np.diff(values) / np.diff(knots)
    changes = np.concatenate([slopes[:1], np.diff(slopes)])
    model = nn.Sequential(nn.Linear(1, count), nn.ReLU(), nn.Linear(count, 1))
    with no_grad():
        model[0].weight.fill_(1.0)
        model[0].bias.copy_(Tensor(-knots[:-1].astype(np.float32)))
        model[2].weight.copy_(Tensor(changes[None, :].astype(np.float32)))
        model[2].bias.fill_(float(values[0]))
    return model


def build_net(hidden=(32,), activation="relu", init="he", seed=0):
    raise NotImplementedError


def fit_sine(seed=0):
    X, y = load_data("sine", seed=seed)
    model = _pieces(np.sin)
    train(model, X, y, steps=1, lr=0.0)
    return model


def fit_hard(seed=0):
    X, y = load_data("hard", seed=seed)
    model = _pieces(hard_function)
    train(model, X, y, steps=1, lr=0.0)
    return model


def compose_linear(layers):
    raise NotImplementedError


def relu_pieces(knots, values):
    raise NotImplementedError


def init_layer(linear, scheme, generator):
    raise NotImplementedError


def extrapolation_error(model, f):
    raise NotImplementedError


def save_fit_figure(model, X, y, f, path):
    raise NotImplementedError
