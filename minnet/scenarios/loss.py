"""Scenarios for the loss family: what goes wrong between the model's output and the loss,
and how the learning rate shows up in the loss curve.

Each ``build(broken)`` returns a seeded Setup; broken and fixed differ only in the
mistake. Data sets are small so that every diagnosis takes a few seconds.
"""
from __future__ import annotations

import numpy as np

from .. import nn, optim
from ..data import make_moons, make_regression_1d
from ..debug.setup import Setup
from ..nn import functional as F
from ..random import manual_seed
from . import scenario
from ._datasets import digits_subset

SEED = 0


def _digits(n_samples: int = 600, seed: int = SEED):
    """A seeded subset of the 8x8 digits, standardised with its own statistics: (X, y)."""
    return digits_subset(n_samples, seed)


def _digits_mlp(hidden: int = 64):
    return nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, 10))


def _regression_mlp(hidden: int = 32, outputs: int = 1):
    return nn.Sequential(nn.Linear(1, hidden), nn.Tanh(), nn.Linear(hidden, hidden), nn.Tanh(),
                         nn.Linear(hidden, outputs))


# --------------------------------------------------------------------------
# the output and the loss
# --------------------------------------------------------------------------
@scenario("overconfident_init", codes=("loss.initial_unexpected",),
          summary="the output layer starts with weights 50x too large: the first predictions "
                  "are confidently wrong",
          wrong="The last Linear layer's weights are multiplied by 50 after construction, so the "
                "initial logits have a large spread and the initial cross-entropy is several "
                "times ln(10) = 2.30.",
          fix="The last layer keeps its default (small) initialisation: the initial loss is "
              "about ln(10).")
def overconfident_init(broken: bool) -> Setup:
    manual_seed(SEED)
    X, y = _digits()
    model = _digits_mlp()
    if broken:
        model[2].weight._data = model[2].weight._data * 50.0
    return Setup(model, F.cross_entropy, optim.Adam(model.parameters(), lr=1e-3), (X, y),
                 batch_size=32, steps=120, seed=SEED)


@scenario("double_softmax", codes=("loss.wrong_input",),
          summary="the model ends in Softmax and its probabilities go into cross_entropy, "
                  "which applies log-softmax again",
          wrong="model = Sequential(..., Linear(64, 10), Softmax(dim=1)) trained with "
                "F.cross_entropy: softmax is applied twice, the loss can only move between "
                "about 1.46 and 2.30 and its gradients are small.",
          fix="The final Softmax is removed: cross_entropy gets the logits.")
def double_softmax(broken: bool) -> Setup:
    manual_seed(SEED)
    X, y = _digits()
    layers = [nn.Linear(64, 64), nn.ReLU(), nn.Linear(64, 10)]
    if broken:
        layers.append(nn.Softmax(dim=1))
    model = nn.Sequential(*layers)
    return Setup(model, F.cross_entropy, optim.Adam(model.parameters(), lr=1e-3), (X, y),
                 batch_size=32, steps=120, seed=SEED)


@scenario("broadcast_mse", codes=("loss.broadcast_shape",),
          summary="predictions (N, 1) against targets (N,): mse_loss broadcasts to (N, N)",
          wrong="The regression targets are flattened to shape (N,) while the model predicts "
                "(N, 1); F.mse_loss broadcasts them to an N x N matrix, comparing every "
                "prediction with every target, so the net learns only the mean of y.",
          fix="The targets keep shape (N, 1), like the predictions.")
def broadcast_mse(broken: bool) -> Setup:
    manual_seed(SEED)
    X, y = make_regression_1d(200, kind="sine", noise=0.1, seed=SEED)
    if broken:
        y = y.reshape(-1)
    model = _regression_mlp()
    return Setup(model, F.mse_loss, optim.Adam(model.parameters(), lr=1e-2), (X, y),
                 batch_size=32, steps=150, seed=SEED, task="regression")


def _summed_mse(output, target):
    return F.mse_loss(output, target, reduction="sum")


@scenario("sum_reduction", codes=("loss.reduction_scale",),
          summary="the loss is summed over the batch, so SGD's steps are batch-size times "
                  "larger than the learning rate suggests",
          wrong="loss_fn = mse_loss(..., reduction='sum') with SGD(lr=0.02) and batches of 64: "
                "the gradient is 64x the mean's, an effective learning rate of 1.28.",
          fix="loss_fn = mse_loss(..., reduction='mean') (the default).")
def sum_reduction(broken: bool) -> Setup:
    manual_seed(SEED)
    X, y = make_regression_1d(256, kind="sine", noise=0.1, seed=SEED)
    model = _regression_mlp()
    loss_fn = _summed_mse if broken else F.mse_loss
    return Setup(model, loss_fn, optim.SGD(model.parameters(), lr=0.02, momentum=0.9), (X, y),
                 batch_size=64, steps=150, seed=SEED, task="regression")


def _two_curves(n_samples: int = 256, seed: int = SEED):
    """x in [-3, 3] and two targets of the same scale: sin(x) and cos(x), plus noise."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(-3.0, 3.0, size=(n_samples, 1))
    y = np.concatenate([np.sin(x), np.cos(x)], axis=1) + 0.05 * rng.standard_normal((n_samples, 2))
    return x.astype(np.float32), y.astype(np.float32)


def _multitask_loss(cosine_weight: float):
    def loss_fn(output, target):
        # two named terms: the debugger compares them (a dict of terms is summed for training)
        return {"sine": F.mse_loss(output[:, 0], target[:, 0]),
                "cosine": cosine_weight * F.mse_loss(output[:, 1], target[:, 1])}
    return loss_fn


@scenario("unbalanced_terms", codes=("loss.terms_unbalanced",),
          summary="a two-task loss where one term is weighted 1000x: the other task is ignored",
          wrong="loss = {'sine': mse(sin), 'cosine': 1000 * mse(cos)} (a weight meant as 1e-3 "
                "typed as 1e3... or never tuned): the cosine term's value and gradient are "
                "~1000x the sine term's.",
          fix="Both terms have weight 1: their values and gradients are comparable.")
def unbalanced_terms(broken: bool) -> Setup:
    manual_seed(SEED)
    X, y = _two_curves()
    model = _regression_mlp(outputs=2)
    loss_fn = _multitask_loss(1000.0 if broken else 1.0)
    return Setup(model, loss_fn, optim.Adam(model.parameters(), lr=1e-2), (X, y),
                 batch_size=32, steps=150, seed=SEED, task="regression")


def _handwritten_bce(probability, target):
    # the textbook formula on probabilities: log(1 - p) is log(0) once p rounds to 1.0
    return -(target * probability.log() + (1 - target) * (1 - probability).log()).mean()


@scenario("log_of_zero", codes=("loss.nonfinite",),
          summary="a hand-written binary cross-entropy on sigmoid outputs takes log(0) once the "
                  "model is confident",
          wrong="The model ends in Sigmoid and the loss is -(y log p + (1-y) log(1-p)). When a "
                "logit passes ~17, p rounds to exactly 1.0 in float32, log(1 - p) = -inf and "
                "0 * -inf = nan: the loss becomes nan.",
          fix="The Sigmoid is dropped and the loss is F.binary_cross_entropy_with_logits, which "
              "computes the same quantity stably from the logits.")
def log_of_zero(broken: bool) -> Setup:
    manual_seed(SEED)
    X, y = make_moons(200, noise=0.05, seed=SEED)
    # Separable moons, spread 3x (std ~2.5, still unit-ish): the logits grow past 17 within
    # 35-182 steps on every one of 30 batch orders (seeds), while Adam's lr stays at 0.05.
    # (At lr 0.1 on the unscaled moons one seed took 253 steps, past the run, and the fixed
    # variant lost half its ReLUs on 2 seeds of 5.)
    X = (3 * X).astype(np.float32)
    y = y.astype(np.float32).reshape(-1, 1)
    layers = [nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(), nn.Linear(32, 1)]
    if broken:
        model = nn.Sequential(*layers, nn.Sigmoid())
        loss_fn = _handwritten_bce
    else:
        model = nn.Sequential(*layers)
        loss_fn = F.binary_cross_entropy_with_logits
    return Setup(model, loss_fn, optim.Adam(model.parameters(), lr=0.05), (X, y),
                 batch_size=32, steps=250, seed=SEED, task="classification")


# --------------------------------------------------------------------------
# the learning rate, as the loss curve shows it
# --------------------------------------------------------------------------
@scenario("lr_too_high", codes=("loss.diverging",),
          summary="SGD with a learning rate ~50x too high: the loss climbs above its start",
          wrong="SGD(lr=5.0, momentum=0.9) on the digits MLP, where lr=0.1 trains well: every "
                "step overshoots and the loss grows instead of falling.",
          fix="SGD(lr=0.1, momentum=0.9).")
def lr_too_high(broken: bool) -> Setup:
    manual_seed(SEED)
    X, y = _digits()
    model = _digits_mlp()
    lr = 5.0 if broken else 0.1
    return Setup(model, F.cross_entropy, optim.SGD(model.parameters(), lr=lr, momentum=0.9),
                 (X, y), batch_size=32, steps=120, seed=SEED)


@scenario("lr_too_low", codes=("loss.plateau",),
          summary="SGD with a learning rate 1000x too low: the loss hardly moves from ln(10)",
          wrong="SGD(lr=1e-4, momentum=0.9) on the digits MLP, where lr=0.1 trains well (1000x lower; updates ~1e-4 of the weights per step, a tenth of the usual 1e-3): after "
                "the whole run the loss is still close to its initial 2.3.",
          fix="SGD(lr=0.1, momentum=0.9).")
def lr_too_low(broken: bool) -> Setup:
    manual_seed(SEED)
    X, y = _digits()
    model = _digits_mlp()
    lr = 1e-4 if broken else 0.1
    return Setup(model, F.cross_entropy, optim.SGD(model.parameters(), lr=lr, momentum=0.9),
                 (X, y), batch_size=32, steps=120, seed=SEED)


LR_OSCILLATING = 1.0


@scenario("lr_oscillating", codes=("loss.oscillating",),
          summary="full-batch gradient descent with a learning rate 10x too high for an L1 "
                  "loss: the loss bounces between two levels every step",
          wrong="A linear model fitted with F.l1_loss by SGD(lr=1.0) on the whole data set at "
                "once. The L1 gradient keeps its size near the minimum, so every step jumps "
                "over the valley floor and the next jumps back: a two-step cycle that never "
                "settles (updates ~4% of the weights per step).",
          fix="SGD(lr=0.1): the loss falls smoothly and settles (updates ~1e-3 of the weights).")
def lr_oscillating(broken: bool) -> Setup:
    manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    X = rng.uniform(-1.0, 1.0, size=(128, 3)).astype(np.float32)
    y = (X @ np.array([[1.5], [-2.0], [0.5]]) + 0.3
         + 0.1 * rng.standard_normal((128, 1))).astype(np.float32)
    model = nn.Sequential(nn.Linear(3, 1))
    lr = LR_OSCILLATING if broken else LR_OSCILLATING / 10
    return Setup(model, F.l1_loss, optim.SGD(model.parameters(), lr=lr), (X, y),
                 batch_size=len(X), shuffle=False, steps=150, seed=SEED, task="regression")
