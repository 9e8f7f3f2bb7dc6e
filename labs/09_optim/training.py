"""Lab 09, part 3: a training run that the debugger should find healthy.

As released, this run "trains": nothing crashes and the loss is a number. It is
still broken, in more than one way. Diagnose it (see the README), repair it here,
and keep what is not broken as it is (the data, the model, the clipping).
"""
import numpy as np

from minnet import nn, optim
from minnet.data import make_regression_1d
from minnet.debug.setup import Setup

MAX_GRAD_NORM = 1.0  # gradient clipping: meant as a guard against rare spikes


def load_data(seed=0):
    """Noisy sin(x) on [-3, 3]: 256 training and 64 validation points, float32 (N, 1) each."""
    X, y = make_regression_1d(320, kind="sine", noise=0.1, seed=seed)
    return X[:256], y[:256], X[256:], y[256:]


def build_model(seed=0):
    """A 1-32-32-1 tanh network, seeded."""
    generator = np.random.default_rng(seed)
    return nn.Sequential(nn.Linear(1, 32, generator=generator), nn.Tanh(),
                         nn.Linear(32, 32, generator=generator), nn.Tanh(),
                         nn.Linear(32, 1, generator=generator))


def train_step(model, loss_fn, optimizer, X, y):
    """One optimizer step on the batch (X, y) (Tensors) with the gradient norm clipped
    to MAX_GRAD_NORM. Returns the loss Tensor."""
    loss = loss_fn(model(X), y)
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), MAX_GRAD_NORM)
    optimizer.step()
    return loss


def make_setup(seed=0):
    """The whole run as a minnet Setup: ``make_setup().train()`` trains it (200 steps),
    ``minnet.debug.diagnose_setup(make_setup())`` checks it."""
    X_train, y_train, X_val, y_val = load_data(seed)
    model = build_model(seed)
    optimizer = optim.SGD(model.parameters(), lr=1.0, momentum=0.9)
    batch_size = len(X_train)
    return Setup(model, nn.MSELoss(), optimizer, (X_train, y_train), val_data=(X_val, y_val),
                 batch_size=batch_size, steps=200, seed=seed, train_step=train_step)
