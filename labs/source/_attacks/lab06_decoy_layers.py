"""Lab 06, the released file + vanishing_setup and exploding_setup that repair nothing: each
returns a SHALLOW 2-32-2 net (tanh / ReLU, Adam) with ten frozen Linear layers hung under its
first Linear as decoys. The tests counted Linear layers with model.modules() ("keep at least
10"), which lists the decoys though the Sequential never runs them.
lab: 06_gradients
file: gradient_flow.py
honest: 0
"""
from __future__ import annotations

import numpy as np

import minnet
from minnet import nn, optim
from minnet.data import make_moons, train_test_split
from minnet.debug import Setup

DEPTH = 12           # Linear layers in each deep net (11 hidden + the output layer)
WIDTH = 32           # units per hidden layer
MAX_NORM = 5.0       # the clipping threshold of clipped_train_step: a guard against spikes


# ---------------------------------------------------------------------------------------------
# Part 1: measure
# ---------------------------------------------------------------------------------------------
def layer_grad_norms(model: nn.Module) -> dict:
    """``{layer name: gradient L2 norm}`` of every module that owns parameters, after backward.

    A layer's name is the part of its parameters' names before the last dot ("0" for "0.weight"
    and "0.bias"; "block.2" for "block.2.weight"). Its norm treats all its parameters' gradients
    as one vector: sqrt(sum over its parameters of sum(grad ** 2)). A parameter whose ``.grad``
    is None contributes 0. Layers appear in the order of ``model.named_parameters()``; values are
    Python floats.
    """
    # YOUR CODE HERE
    raise NotImplementedError("layer_grad_norms: your code here")


def flow_verdict(norms: dict, vanishing: float = 1e-4, exploding: float = 10.0) -> str:
    """How the gradient flows from the output back to the input.

    ``norms``: ``{layer: norm}`` input -> output, as layer_grad_norms returns. With
    ratio = norm of the first layer / norm of the last layer:
    "vanishing" if ratio < vanishing, "exploding" if ratio > exploding, else "healthy".
    A last layer with norm 0 gives "vanishing" (nothing flows at all).
    """
    # YOUR CODE HERE
    raise NotImplementedError("flow_verdict: your code here")


def save_grad_norm_plot(setup: Setup, path: str, steps: int = 30):
    """Train ``setup`` for ``steps`` steps under a Monitor and save its per-layer gradient norms.

    Use ``run = setup.train(steps=steps, monitor=True)`` (the run keeps its Monitor in
    ``run.monitor``) and ``minnet.viz.plot_grad_norms(run.monitor, path=path)``: one line per
    layer, log scale. Returns the Figure.
    """
    import minnet.viz as viz
    # YOUR CODE HERE
    raise NotImplementedError("save_grad_norm_plot: your code here")


# ---------------------------------------------------------------------------------------------
# Part 2: the tools for the repair
# ---------------------------------------------------------------------------------------------
def clipped_train_step(model, loss_fn, optimizer, X, y, max_norm: float = MAX_NORM):
    """One training step with gradient clipping; returns the loss (a 0-d Tensor).

    zero the gradients, forward, loss, backward, rescale all gradients together so that their
    total norm is at most ``max_norm`` (``nn.utils.clip_grad_norm_``), then step. X and y are
    Tensors (one mini-batch). This is the ``train_step`` signature ``minnet.debug.Setup`` takes.
    """
    # YOUR CODE HERE
    raise NotImplementedError("clipped_train_step: your code here")


def moons_data(seed: int = 0):
    """Two-moons with little noise: 480 training and 120 validation samples."""
    X, y = make_moons(n_samples=600, noise=0.1, seed=seed)
    X_train, X_val, y_train, y_val = train_test_split(X.astype(np.float32), y.astype(np.int64),
                                                      test_size=0.2, seed=seed)
    return X_train, y_train, X_val, y_val


def deep_mlp(activation, depth: int = DEPTH, width: int = WIDTH, norm=None) -> nn.Sequential:
    """``depth`` Linear layers 2 -> width -> ... -> width -> 2; after each hidden Linear
    ``norm(width)`` if given (e.g. nn.BatchNorm1d), then ``activation()``."""
    layers, fan_in = [], 2
    for _ in range(depth - 1):
        layers.append(nn.Linear(fan_in, width))
        if norm is not None:
            layers.append(norm(width))
        layers.append(activation())
        fan_in = width
    layers.append(nn.Linear(fan_in, 2))
    return nn.Sequential(*layers)


def linear_layers(model) -> list:
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


# ---------------------------------------------------------------------------------------------
# Part 2: the deep nets to repair
# ---------------------------------------------------------------------------------------------
def _shallow_with_decoys(activation):
    """A 2-32-2 net that trains in a blink, carrying ten Linear layers that never run: they
    hang under the first Linear (its children), so model.modules() lists them and the
    'keep at least 10 Linear layers' check counts them, while Sequential calls only the
    three real modules."""
    first = nn.Linear(2, 32)
    first.decoys = nn.Sequential(*[nn.Linear(32, 32) for _ in range(10)])
    for layer in first.decoys:
        layer.weight.requires_grad = False
        layer.bias.requires_grad = False
    return nn.Sequential(first, activation(), nn.Linear(32, 2))


def vanishing_setup() -> Setup:
    """Not repaired: a shallow tanh net dressed up as a deep one."""
    X_train, y_train, X_val, y_val = moons_data()
    minnet.manual_seed(0)
    model = _shallow_with_decoys(nn.Tanh)
    real = [p for p in model.parameters() if p.requires_grad]
    return Setup(model, nn.CrossEntropyLoss(), optim.Adam(real, lr=2e-2), (X_train, y_train),
                 val_data=(X_val, y_val), batch_size=32, steps=200, seed=0, name="vanishing")


def exploding_setup() -> Setup:
    """Not repaired: a shallow ReLU net dressed up as a deep one."""
    X_train, y_train, X_val, y_val = moons_data()
    minnet.manual_seed(0)
    model = _shallow_with_decoys(nn.ReLU)
    real = [p for p in model.parameters() if p.requires_grad]
    return Setup(model, nn.CrossEntropyLoss(), optim.Adam(real, lr=2e-2), (X_train, y_train),
                 val_data=(X_val, y_val), batch_size=32, steps=200, seed=0, name="exploding")

def accuracy(model, X, y) -> float:
    """Fraction of correct argmax predictions (eval mode, no graph)."""
    model.eval()
    with minnet.no_grad():
        predictions = model(minnet.tensor(np.asarray(X, dtype=np.float32))).numpy().argmax(axis=1)
    model.train()
    return float((predictions == y).mean())


def main():
    for build in (vanishing_setup, exploding_setup):
        setup = build()
        report = setup.diagnose(steps=100)
        print(f"== {setup.name}: {report.codes}")
        print(report)
        try:
            save_grad_norm_plot(build(), f"grad_norms_{setup.name}.png")
            print(f"saved grad_norms_{setup.name}.png")
        except NotImplementedError as error:
            print(error)
        setup.train()
        X_val, y_val = setup.val_data
        print(f"== {setup.name}: validation accuracy {accuracy(setup.model, X_val, y_val):.3f}\n")


if __name__ == "__main__":
    main()
