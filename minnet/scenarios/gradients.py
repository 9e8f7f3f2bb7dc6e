"""Scenarios for the gradient, update and regularisation rows of the checklist.

Each ``build(broken)`` returns a Setup; broken and fixed differ only in the mistake.
All are seeded and small (two-moons, 1-D regression or digits; a few hundred steps).
"""
from __future__ import annotations


import numpy as np

from .. import nn, optim
from ..autograd import Function
from ..data import load_digits, make_moons, make_regression_1d
from ..debug.setup import Setup
from ..tensor import Tensor
from . import scenario
from ._datasets import standardise

SEED = 0


def _rng(seed: int = SEED) -> np.random.Generator:
    return np.random.default_rng(seed)


def _moons(n: int = 400):
    X, y = make_moons(n, noise=0.1, seed=SEED)
    return X.astype(np.float32), y.astype(np.int64)


def _digits():
    X, y = load_digits(return_X_y=True)
    return standardise(X).astype(np.float32), y.astype(np.int64)


def _mlp(sizes, activation, generator) -> nn.Sequential:
    """Linear layers of ``sizes`` with ``activation()`` between them (none after the last)."""
    layers = []
    for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(fan_in, fan_out, generator=generator))
        if i < len(sizes) - 2:
            layers.append(activation())
    return nn.Sequential(*layers)


# -- grad.nonfinite ------------------------------------------------------------------------------
class NaiveSoftplus(nn.Module):
    """softplus(z) = log(1 + exp(z)), switched to z for large z -- the "safe" where() that is not.

    broken: ``where(z > 20, z, log(1 + exp(z)))``. The forward looks finite (where picks z),
    but exp(z) overflows to inf for z > 88 (float32) in the branch that is not used, and its
    gradient 0 * inf = NaN flows back anyway.
    fixed:  the same with ``exp(minimum(z, 20))``: the unused branch stays finite.
    """

    def __init__(self, stable: bool):
        super().__init__()
        self.stable = stable

    def forward(self, z: Tensor) -> Tensor:
        from .. import minimum, where
        inner = minimum(z, 20.0) if self.stable else z
        return where(z._data > 20, z, (inner.exp() + 1).log())


@scenario("exp_overflow", codes=("grad.nonfinite",),
          summary="a hand-written softplus output overflows exp() in its unused branch",
          wrong="The output layer computes where(z > 20, z, log(1 + exp(z))) to keep the "
                "prediction positive. The output bias starts at the target mean (~100), so "
                "exp(z) overflows to inf in the branch where() discards; its gradient is "
                "0 * inf = NaN and the first step fills every weight with NaN.",
          fix="Clamp inside the unused branch: log(1 + exp(minimum(z, 20))).")
def exp_overflow(broken: bool) -> Setup:
    X, y = make_regression_1d(256, seed=SEED)
    y = (100.0 + y).astype(np.float32)  # a positive quantity around 100
    g = _rng()
    model = nn.Sequential(nn.Linear(1, 32, generator=g), nn.Tanh(),
                          nn.Linear(32, 1, generator=g), NaiveSoftplus(stable=not broken))
    model[2].bias._data[...] = float(y.mean())  # output bias at the data's prior
    return Setup(model, nn.MSELoss(), optim.Adam(model.parameters(), lr=1e-2), (X, y),
                 steps=150, seed=SEED)


# -- grad.exploding ---------------------------------------------------------------------------------
@scenario("exploding_gradients", codes=("grad.exploding",),
          summary="a deep ReLU net initialised 2x too large: gradients grow layer by layer",
          wrong="Eight Linear+ReLU layers with weights N(0, (2 * sqrt(2/fan_in))^2): each layer "
                "doubles the signal forward and the gradient backward, 2^7 = 128x from the last "
                "weight to the first.",
          fix="He init (kaiming_normal_, std sqrt(2/fan_in)) keeps the gradient's scale.")
def exploding_gradients(broken: bool) -> Setup:
    X, y = _moons()
    g = _rng()
    model = _mlp([2] + [32] * 7 + [2], nn.ReLU, g)
    gain = 2.0 if broken else 1.0
    for layer in model:
        if isinstance(layer, nn.Linear):
            fan_in = layer.weight.shape[1]
            layer.weight._data[...] = g.normal(0, gain * np.sqrt(2 / fan_in), layer.weight.shape)
            layer.bias._data[...] = 0.0
    return Setup(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.01), (X, y),
                 steps=150, seed=SEED)


# -- grad.vanishing --------------------------------------------------------------------------------------
@scenario("vanishing_gradients", codes=("grad.vanishing",),
          summary="a deep sigmoid net: each layer multiplies the gradient by <= 0.25",
          wrong="Ten Linear+Sigmoid layers with the default init: every sigmoid scales the "
                "gradient by its slope (at most 0.25) and the weights by ~0.6, so the first "
                "layer's gradient is ~1e-8 of the last's.",
          fix="ReLU activations with He init (kaiming_normal_) keep the gradient's scale.")
def vanishing_gradients(broken: bool) -> Setup:
    X, y = _moons()
    g = _rng()
    model = _mlp([2] + [32] * 9 + [2], nn.Sigmoid if broken else nn.ReLU, g)
    if not broken:
        for layer in model:
            if isinstance(layer, nn.Linear):
                nn.init.kaiming_normal_(layer.weight, nonlinearity="relu", generator=g)
                layer.bias._data[...] = 0.0
    return Setup(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-3), (X, y),
                 steps=150, seed=SEED)


# -- grad.missing -------------------------------------------------------------------------------------------
@scenario("frozen_layer", codes=("grad.missing",),
          summary="a hidden layer frozen by mistake (requires_grad=False) while the optimizer holds it",
          wrong="model[0].requires_grad_(False) was left over from a fine-tuning experiment; the "
                "optimizer is built from model.parameters(), so it holds the frozen weights but "
                "they never receive a gradient and never train.",
          fix="No freezing: every parameter the optimizer holds requires grad.")
def frozen_layer(broken: bool) -> Setup:
    X, y = _digits()
    g = _rng()
    model = _mlp([64, 32, 10], nn.ReLU, g)
    if broken:
        model[0].requires_grad_(False)
    return Setup(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-3), (X, y),
                 steps=150, seed=SEED)


# -- grad.accumulating ----------------------------------------------------------------------------------------
def step_without_zero_grad(model, loss_fn, optimizer, X, y):
    """A training step that forgot optimizer.zero_grad(): gradients pile up across steps."""
    loss = loss_fn(model(X), y)
    loss.backward()
    optimizer.step()
    return loss


@scenario("no_zero_grad", codes=("grad.accumulating",),
          summary="the training loop never calls optimizer.zero_grad(): the steps grow until "
                  "the loss blows up",
          wrong="train_step does forward, backward, step but no zero_grad: backward() adds to "
                "the previous gradients, so after t steps each update is the sum of t "
                "gradients. With SGD(lr=0.05, momentum=0.9) the steps keep growing and the "
                "loss, after a first fall, climbs far above its start.",
          fix="The standard step: optimizer.zero_grad() before loss.backward(); the same SGD "
              "settles near zero loss.")
def no_zero_grad(broken: bool) -> Setup:
    X, y = _moons()
    g = _rng()
    model = _mlp([2, 32, 32, 2], nn.ReLU, g)
    return Setup(model, nn.CrossEntropyLoss(),
                 optim.SGD(model.parameters(), lr=0.05, momentum=0.9), (X, y),
                 steps=150, seed=SEED, train_step=step_without_zero_grad if broken else None)


# -- grad.incorrect ----------------------------------------------------------------------------------------------
class _SwishFunction(Function):
    """swish(x) = x * sigmoid(x); d/dx = s + x * s * (1 - s)."""

    buggy = False

    @staticmethod
    def forward(ctx, x):
        s = 1 / (1 + np.exp(-x._data))
        ctx.save_for_backward(x)
        return Tensor(x._data * s)

    @classmethod
    def gradient(cls, x: np.ndarray) -> np.ndarray:
        s = 1 / (1 + np.exp(-x))
        if cls.buggy:
            return s  # forgot the product rule: the x * s * (1 - s) term is missing
        return s + x * s * (1 - s)


class _BuggySwish(_SwishFunction):
    buggy = True

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * Tensor(_BuggySwish.gradient(x._data).astype(x._data.dtype))


class _CorrectSwish(_SwishFunction):
    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return grad_output * Tensor(_CorrectSwish.gradient(x._data).astype(x._data.dtype))


class Swish(nn.Module):
    """A custom activation written with minnet.autograd.Function (forward and backward by hand)."""

    def __init__(self, buggy: bool):
        super().__init__()
        self.function = _BuggySwish if buggy else _CorrectSwish

    def forward(self, x: Tensor) -> Tensor:
        return self.function.apply(x)


@scenario("wrong_backward", codes=("grad.incorrect",),
          summary="a custom Swish activation whose hand-written backward forgets the product rule",
          wrong="Swish.backward returns grad * sigmoid(x) instead of grad * (s + x*s*(1-s)): "
                "the term from differentiating x in x*sigmoid(x) is missing. Training still "
                "runs, on wrong gradients.",
          fix="The backward with the product rule: grad * (s + x * s * (1 - s)).")
def wrong_backward(broken: bool) -> Setup:
    X, y = _moons()
    g = _rng()
    model = nn.Sequential(nn.Linear(2, 32, generator=g), Swish(buggy=broken),
                          nn.Linear(32, 2, generator=g))
    return Setup(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-2), (X, y),
                 steps=150, seed=SEED)


# -- optim.clipping_always -----------------------------------------------------------------------------------------
@scenario("clipping_hides_lr", codes=("optim.clipping_always",),
          summary="gradient clipping on every step hides a learning rate 100x too high",
          wrong="SGD(lr=1.0, momentum=0.9) with clip_grad_norm=1.0 on a 1-D regression: the "
                "updates would blow up, clipping caps every one of them, and the loss bounces "
                "far above where it started instead of turning NaN -- the clip hides the real "
                "problem.",
          fix="lr=0.01 with the same clip: clipping only catches rare spikes.")
def clipping_hides_lr(broken: bool) -> Setup:
    X, y = make_regression_1d(256, seed=SEED)
    g = _rng()
    model = _mlp([1, 32, 32, 1], nn.Tanh, g)
    lr = 1.0 if broken else 0.01
    return Setup(model, nn.MSELoss(), optim.SGD(model.parameters(), lr=lr, momentum=0.9),
                 (X, y), steps=150, seed=SEED, clip_grad_norm=1.0)


# -- reg.too_strong ----------------------------------------------------------------------------------------------------
@scenario("too_much_weight_decay", codes=("reg.too_strong",),
          summary="weight decay 1.0: the optimizer shrinks the weights instead of fitting",
          wrong="Adam(weight_decay=1.0) adds 1.0 * w to every gradient: the penalty 0.5*||w||^2 "
                "outweighs the cross-entropy, the weights stay near 0 and the training loss "
                "stays near ln(10).",
          fix="weight_decay=1e-4.")
def too_much_weight_decay(broken: bool) -> Setup:
    X, y = _digits()
    g = _rng()
    model = _mlp([64, 64, 10], nn.ReLU, g)
    decay = 1.0 if broken else 1e-4
    return Setup(model, nn.CrossEntropyLoss(),
                 optim.Adam(model.parameters(), lr=3e-3, weight_decay=decay), (X, y),
                 steps=150, seed=SEED)
