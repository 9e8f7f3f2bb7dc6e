"""Real training faults reported by practitioners, rewritten for minnet.

Each case comes from a public question with an accepted (or self-confirmed) answer, a
tutorial page describing a bug people hit, or a forum thread. The facts carry over (the
mistake, the symptom, the fix the source gives); the programs are written anew for minnet
on small synthetic data of the same kind, and no code is copied.

For every case:

* ``source``    where the fault and its fix are described;
* ``cause``     the root cause as the source states it;
* ``expected``  the finding codes that name that cause -- any one of them counts as a hit.
                They were written down when the case was written, before the debugger was
                run on it, and were not changed afterwards;
* ``build(broken)`` the broken program (``broken=True``) or the program with the source's
                fix (``broken=False``), as keyword arguments of ``minnet.debug.diagnose``.

A case is *never* adjusted to what the debugger reports: if it misses one, the miss is
counted.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

import minnet
from minnet import nn, optim
from minnet.nn import functional as F


@dataclass(frozen=True)
class Case:
    name: str
    source: str
    cause: str
    expected: tuple
    build: Callable   # build(broken: bool) -> dict of diagnose() keyword arguments


CASES: list = []


def case(name, source, cause, expected):
    def register(build):
        CASES.append(Case(name, source, cause, tuple(expected), build))
        return build
    return register


# -- small data sets of the kinds the sources use ------------------------------------------------
def blobs(n=300, classes=2, features=4, seed=0, spread=1.0):
    """Gaussian blobs: ``classes`` clusters in ``features`` dimensions, labels 0..classes-1."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(0, 2.0, size=(classes, features))
    y = rng.integers(0, classes, n)
    X = centres[y] + rng.normal(0, spread, size=(n, features))
    return X.astype(np.float32), y.astype(np.int64)


def linear_regression_data(n=200, features=3, seed=0, x_scale=1.0, y_scale=1.0, y_shift=0.0):
    rng = np.random.default_rng(seed)
    X = rng.normal(0, 1, size=(n, features))
    w = rng.normal(0, 1, size=features)
    y = X @ w + 0.1 * rng.normal(size=n)
    return ((X * x_scale).astype(np.float32),
            (y * y_scale + y_shift).astype(np.float32).reshape(-1, 1))


def mlp(sizes, activation=nn.ReLU, last=None):
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(activation())
    if last is not None:
        layers.append(last)
    return nn.Sequential(*layers)


def seeded(seed=0):
    minnet.manual_seed(seed)


# -- the cases -------------------------------------------------------------------------------------
@case("softmax_single_unit",
      "https://whosebug.com/question/2796462/Why-does-a-binary-Keras-CNN-always-predict-1 "
      "(Stack Overflow 'Why does a binary Keras CNN always predict 1?', accepted answer)",
      "a softmax over a single output unit always outputs 1, so the binary classifier predicts "
      "one class for everything; use a sigmoid on the single unit",
      ["output.wrong_activation"])
def softmax_single_unit(broken):
    seeded(1)
    X, y = blobs(400, 2, 6, seed=1)
    last = nn.Softmax(dim=1) if broken else nn.Sigmoid()
    model = mlp([6, 16, 1], last=last)
    return dict(model=model, loss_fn=nn.BCELoss(), train_data=(X, y.reshape(-1, 1).astype(np.float32)),
                optimizer=optim.Adam(model.parameters(), lr=1e-2))


@case("softmax_before_cross_entropy",
      "https://discuss.pytorch.org/t/cross-entropy-loss-is-not-decreasing/43814/16",
      "the softmax output was passed into CrossEntropyLoss, which applies log-softmax itself; "
      "remove the softmax",
      ["loss.wrong_input"])
def softmax_before_cross_entropy(broken):
    seeded(2)
    X, y = blobs(500, 10, 20, seed=2)
    model = mlp([20, 64, 10], last=nn.Softmax(dim=1) if broken else None)
    return dict(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X, y),
                optimizer=optim.Adam(model.parameters(), lr=1e-3))


@case("softmax_then_nll",
      "https://runebook.dev/en/docs/pytorch/generated/torch.nn.softmax (common mistake: "
      "Softmax followed by NLLLoss)",
      "NLLLoss expects log-probabilities; feeding it Softmax probabilities gives a wrong loss; "
      "use LogSoftmax",
      ["loss.wrong_input"])
def softmax_then_nll(broken):
    seeded(3)
    X, y = blobs(400, 5, 8, seed=3)
    model = mlp([8, 32, 5], last=nn.Softmax(dim=1) if broken else nn.LogSoftmax(dim=1))
    return dict(model=model, loss_fn=nn.NLLLoss(), train_data=(X, y),
                optimizer=optim.SGD(model.parameters(), lr=0.1))


@case("multilabel_under_softmax",
      "https://stackoverflow.com/questions/44164749/how-does-keras-handle-multilabel-classification",
      "multi-label targets (several 1s per row) trained with a softmax output and categorical "
      "cross-entropy; the answer: don't use softmax, use sigmoid outputs with binary "
      "cross-entropy",
      ["output.wrong_activation", "loss.wrong_input"])
def multilabel_under_softmax(broken):
    seeded(4)
    rng = np.random.default_rng(4)
    X = rng.normal(size=(400, 10)).astype(np.float32)
    W = rng.normal(size=(10, 6))
    Y = (X @ W > 0.5).astype(np.float32)             # several labels on per sample

    if broken:
        model = mlp([10, 32, 6], last=nn.Softmax(dim=1))

        def loss_fn(p, t):                           # categorical cross-entropy on probabilities
            return -(t * p.clamp(min=1e-7).log()).sum(dim=1).mean()
    else:
        model = mlp([10, 32, 6])
        loss_fn = nn.BCEWithLogitsLoss()
    return dict(model=model, loss_fn=loss_fn, train_data=(X, Y),
                optimizer=optim.SGD(model.parameters(), lr=0.1, momentum=0.9))


@case("unnormalized_linear_regression",
      "https://stats.stackexchange.com/questions/284189/simple-linear-regression-in-keras",
      "no normalisation: with raw inputs (advertising budgets in the hundreds) plain SGD gives "
      "NaN losses; standardise x and y",
      ["data.not_normalized", "data.target_scale"])
def unnormalized_linear_regression(broken):
    seeded(5)
    rng = np.random.default_rng(5)
    tv = rng.uniform(0, 300, size=(200, 1))
    sales = 7 + 0.05 * tv + rng.normal(0, 2, size=(200, 1))
    X, y = tv.astype(np.float32), sales.astype(np.float32)
    if not broken:
        X = ((X - X.mean(0)) / X.std(0)).astype(np.float32)
        y = ((y - y.mean(0)) / y.std(0)).astype(np.float32)
    model = nn.Linear(1, 1)
    return dict(model=model, loss_fn=nn.MSELoss(), train_data=(X, y), batch_size=1,
                shuffle=False, optimizer=optim.SGD(model.parameters(), lr=0.01))


@case("no_zero_grad",
      "https://stackoverflow.com/questions/48001598/why-do-we-need-to-call-zero-grad-in-pytorch",
      "gradients accumulate on every backward(); without optimizer.zero_grad() each step uses "
      "the sum of all past gradients",
      ["grad.accumulating"])
def no_zero_grad(broken):
    seeded(6)
    X, y = blobs(300, 3, 5, seed=6)
    model = mlp([5, 32, 3])

    def step_without_zero_grad(model, loss_fn, optimizer, Xb, yb):
        loss = loss_fn(model(Xb), yb)
        loss.backward()
        optimizer.step()
        return loss

    return dict(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X, y),
                optimizer=optim.SGD(model.parameters(), lr=0.05),
                train_step=step_without_zero_grad if broken else None)


class _FunctionalDropoutNet(nn.Module):
    """Dropout called as a function in forward() with training left at its default True."""

    def __init__(self, broken):
        super().__init__()
        self.broken = broken
        self.fc1 = nn.Linear(8, 32)
        self.fc2 = nn.Linear(32, 3)
        self.drop = nn.Dropout(0.5)

    def forward(self, x):
        h = F.relu(self.fc1(x))
        h = F.dropout(h, p=0.5) if self.broken else self.drop(h)
        return self.fc2(h)


@case("functional_dropout_always_on",
      "https://runebook.dev/en/docs/pytorch/generated/torch.nn.functional.dropout (F.dropout "
      "in forward() without the module's training flag: still active after model.eval())",
      "dropout applied as a function in forward() ignores model.eval(), so evaluation is "
      "random; use an nn.Dropout module (or pass training=self.training)",
      ["model.train_mode_at_eval"])
def functional_dropout_always_on(broken):
    seeded(7)
    X, y = blobs(300, 3, 8, seed=7)
    model = _FunctionalDropoutNet(broken)

    def evaluate(model, X, y):
        model.eval()
        with minnet.no_grad():
            return model(minnet.Tensor(X)).numpy()

    return dict(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X, y),
                optimizer=optim.Adam(model.parameters(), lr=1e-2), evaluate=evaluate)


class _DropoutMadeInForward(nn.Module):
    """An nn.Dropout created inside forward(): a new module every call, never registered."""

    def __init__(self, broken):
        super().__init__()
        self.broken = broken
        self.fc1 = nn.Linear(8, 32)
        self.fc2 = nn.Linear(32, 3)
        if not broken:
            self.drop = nn.Dropout(0.3)

    def forward(self, x):
        h = F.relu(self.fc1(x))
        h = nn.Dropout(0.3)(h) if self.broken else self.drop(h)
        return self.fc2(h)


@case("dropout_created_in_forward",
      "https://discuss.pytorch.org/t/confusion-about-dropout/39407 and "
      "http://iopenv.com/V26QIRRJF/The-difference-between-torch-nn-dropout-and-torch-nn-F-dropout-in-pytorch "
      "(a dropout not registered in __init__ is not switched off by model.eval())",
      "the Dropout is not a registered submodule, so model.eval() never reaches it and "
      "predictions stay random; define it in __init__",
      ["model.train_mode_at_eval"])
def dropout_created_in_forward(broken):
    seeded(8)
    X, y = blobs(300, 3, 8, seed=8)
    model = _DropoutMadeInForward(broken)
    return dict(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X, y),
                optimizer=optim.Adam(model.parameters(), lr=1e-2))


@case("relu_output_negative_targets",
      "https://stats.stackexchange.com/questions/362588/how-can-a-network-with-only-relu-nodes-output-negative-values",
      "a ReLU on the output layer can only output values >= 0; targets below zero are out of "
      "reach; use a linear output for regression",
      ["output.wrong_activation"])
def relu_output_negative_targets(broken):
    seeded(9)
    X, y = linear_regression_data(300, 4, seed=9)
    model = mlp([4, 32, 1], last=nn.ReLU() if broken else None)
    return dict(model=model, loss_fn=nn.MSELoss(), train_data=(X, y),
                optimizer=optim.Adam(model.parameters(), lr=1e-2))


@case("zero_initialisation",
      "https://community.deeplearning.ai/t/week-1-programming-assignment-initialization-exercise-1-initialize-parameters-zeros/121049",
      "all weights initialised to zero: every hidden unit computes the same thing and gets the "
      "same update, symmetry is never broken; initialise randomly",
      ["init.symmetric"])
def zero_initialisation(broken):
    seeded(10)
    X, y = blobs(300, 2, 4, seed=10)
    model = mlp([4, 16, 16, 2])
    if broken:
        for p in model.parameters():
            nn.init.zeros_(p)
    return dict(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X, y),
                optimizer=optim.SGD(model.parameters(), lr=0.1))


@case("confident_output_log_zero",
      "https://forums.fast.ai/t/cross-entropy-error-log-1-1-inf/1441",
      "the network's raw inputs (pixel values 0-255) made its sigmoid outputs exactly 1.0, "
      "so -log(1 - p) was infinite; the poster: 'Normalizing the input solved my problem'",
      ["data.not_normalized"])
def confident_output_log_zero(broken):
    seeded(11)
    rng = np.random.default_rng(11)
    X = rng.integers(0, 256, size=(300, 64)).astype(np.float32)
    y = (X[:, :32].mean(1) > X[:, 32:].mean(1)).astype(np.float32).reshape(-1, 1)
    if not broken:
        X = X / 255.0
    model = mlp([64, 1], last=nn.Sigmoid())

    def loss_fn(p, t):   # hand-written binary cross-entropy, as in the thread
        return -(t * p.log() + (1 - t) * (1 - p).log()).mean()

    return dict(model=model, loss_fn=loss_fn, train_data=(X, y),
                optimizer=optim.SGD(model.parameters(), lr=0.1))


@case("learning_rate_skyrockets",
      "https://datascience.stackexchange.com/questions/15962/why-is-learning-rate-causing-my-neural-networks-weights-to-skyrocket",
      "the learning rate 0.001 was too high for this problem (the loss rose from thousands to "
      "NaN); 0.0001 trained fine",
      ["loss.diverging", "loss.nonfinite", "update.ratio", "grad.exploding"])
def learning_rate_skyrockets(broken):
    seeded(12)
    X, y = linear_regression_data(300, 10, seed=12, x_scale=8.0, y_scale=30.0)
    model = mlp([10, 64, 1])
    return dict(model=model, loss_fn=nn.MSELoss(), train_data=(X, y),
                optimizer=optim.SGD(model.parameters(), lr=1e-3 if broken else 1e-4))


class _DetachedWeightNet(nn.Module):
    def __init__(self, broken):
        super().__init__()
        self.broken = broken
        self.hidden = nn.Linear(6, 16)
        self.out = nn.Linear(16, 3)

    def forward(self, x):
        h = F.relu(self.hidden(x))
        if self.broken:   # the weight used in forward is cut off from the graph
            return F.linear(h, self.out.weight.detach(), self.out.bias)
        return self.out(h)


@case("detached_weight",
      "https://prodopsy.com/how-can-the-backward-function-in-tensor-influence-the-matrix-in-model",
      "the weight was detached from the graph, so backward() never reaches it and it is never "
      "updated",
      ["grad.missing"])
def detached_weight(broken):
    seeded(13)
    X, y = blobs(300, 3, 6, seed=13)
    model = _DetachedWeightNet(broken)
    return dict(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X, y),
                optimizer=optim.SGD(model.parameters(), lr=0.1))


@case("labels_start_at_one",
      "https://duoke360.com/post/34062 (RuntimeError: Assertion cur_target >= 0 && cur_target "
      "< n_classes failed: labels numbered 1..n_classes)",
      "class labels numbered from 1, so the largest equals n_classes and is out of range; map "
      "them to 0..n_classes-1",
      ["data.labels_invalid"])
def labels_start_at_one(broken):
    seeded(14)
    X, y = blobs(300, 4, 6, seed=14)
    if broken:
        y = y + 1
    model = mlp([6, 32, 4])
    return dict(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X, y),
                optimizer=optim.SGD(model.parameters(), lr=0.1))


@case("relu_output_log_zero",
      "https://whosebug.com/question/2638247/How-does-Keras-deal-with-log-0-for-categorical-cross-entropy",
      "a ReLU output layer gives many exact zeros, and the cross-entropy takes their log "
      "(Keras hides it by clipping); the output must be a softmax",
      ["output.wrong_activation", "loss.nonfinite"])
def relu_output_log_zero(broken):
    seeded(15)
    X, y = blobs(400, 4, 10, seed=15)
    Y = np.eye(4, dtype=np.float32)[y]
    model = mlp([10, 32, 4], last=nn.ReLU() if broken else nn.Softmax(dim=1))

    def loss_fn(p, t):   # categorical cross-entropy written by hand
        return -(t * p.log()).sum(dim=1).mean()

    return dict(model=model, loss_fn=loss_fn, train_data=(X, Y),
                optimizer=optim.Adam(model.parameters(), lr=1e-3))


@case("sigmoid_output_targets_0_100",
      "http://stackoverflow.com/questions/14982358/backpropagation-algorithm-matlab-output-values-are-saturating-to-1/14982792",
      "a sigmoid output unit trained on targets between 0 and 100 saturates at 1; the output "
      "range cannot reach the targets (scale the targets to [0, 1] or use a linear output)",
      ["output.wrong_activation", "data.target_scale"])
def sigmoid_output_targets_0_100(broken):
    seeded(16)
    rng = np.random.default_rng(16)
    X = rng.normal(size=(300, 43)).astype(np.float32)
    score = X[:, :5].sum(1)
    y = (100 / (1 + np.exp(-score))).astype(np.float32).reshape(-1, 1)
    if broken:
        model = mlp([43, 20, 1], activation=nn.Sigmoid, last=nn.Sigmoid())
    else:
        model = mlp([43, 20, 1], activation=nn.Sigmoid)
        y = (y / 100).astype(np.float32)
    return dict(model=model, loss_fn=nn.MSELoss(), train_data=(X, y),
                optimizer=optim.SGD(model.parameters(), lr=0.1))


@case("sigmoid_output_in_thousands",
      "http://stackoverflow.com/questions/9048031/neural-network-output-scaling-the-output-range",
      "the output layer uses a sigmoid, whose range [0, 1] cannot produce outputs in the "
      "thousands; for regression use the raw linear output",
      ["output.wrong_activation"])
def sigmoid_output_in_thousands(broken):
    seeded(17)
    rng = np.random.default_rng(17)
    X = rng.uniform(-1, 1, size=(300, 2)).astype(np.float32)
    y = (500 + 400 * X[:, :1] - 300 * X[:, 1:]).astype(np.float32) / (1 if broken else 1000)
    model = mlp([2, 16, 1], activation=nn.Tanh, last=nn.Sigmoid() if broken else None)
    return dict(model=model, loss_fn=nn.MSELoss(), train_data=(X, y),
                optimizer=optim.Adam(model.parameters(), lr=1e-2))


@case("weight_decay_dominates",
      "https://datascience.stackexchange.com/questions/10547/how-important-is-the-balance-between-the-components-of-a-loss-value",
      "with weight decay added the loss jumped from ~0.3 to ~22: the regularisation term "
      "dominates the data term, so the optimiser minimises the weights, not the error",
      ["loss.terms_unbalanced", "reg.too_strong"])
def weight_decay_dominates(broken):
    seeded(18)
    X, y = linear_regression_data(300, 8, seed=18, y_scale=0.5)
    model = mlp([8, 128, 128, 1])
    params = list(model.parameters())
    factor = 0.1 if broken else 1e-5

    def loss_fn(pred, target):   # an L2 penalty added to the loss by hand, as in the question
        data = ((pred - target) ** 2).mean()
        penalty = (params[0] ** 2).sum()
        for p in params[1:]:
            penalty = penalty + (p ** 2).sum()
        return {"data": data, "weight_decay": penalty * factor}

    return dict(model=model, loss_fn=loss_fn, train_data=(X, y),
                optimizer=optim.SGD(model.parameters(), lr=0.01))


@case("scaler_fitted_on_all_data",
      "https://theneuralbase.com/feature-engineering-for-ml/learn/beginner/scaling-leak-fit-on-all-data/",
      "the scaler was fitted on the whole data set before the split, so the test rows shaped "
      "the training statistics; fit it on the training split only",
      ["data.leakage"])
def scaler_fitted_on_all_data(broken):
    from minnet.data import Standardizer
    seeded(19)
    rng = np.random.default_rng(19)
    X = rng.normal(3, 2, size=(400, 5)).astype(np.float32)
    X[300:] += 2.0                      # the held-out rows come from a later period
    y = (X[:, 0] + X[:, 1] > 6).astype(np.int64)
    raw_train, raw_val = X[:300], X[300:]
    scaler = Standardizer().fit(X if broken else raw_train)
    X_train, X_val = scaler.transform(raw_train), scaler.transform(raw_val)
    model = mlp([5, 16, 2])
    return dict(model=model, loss_fn=nn.CrossEntropyLoss(),
                train_data=(X_train.astype(np.float32), y[:300]),
                val_data=(X_val.astype(np.float32), y[300:]),
                preprocessing={"standardizer": scaler, "raw_train": raw_train,
                               "raw_val": raw_val},
                optimizer=optim.SGD(model.parameters(), lr=0.1))


@case("sigmoid_before_bce_with_logits",
      "http://www.philkr.net/cs342/doc/sigmoid/ ('you don't need to pass the input tensor to "
      "the sigmoid layer before training with BCEWithLogitsLoss')",
      "BCEWithLogitsLoss applies the sigmoid itself; a Sigmoid output before it squashes the "
      "logits twice",
      ["loss.wrong_input"])
def sigmoid_before_bce_with_logits(broken):
    seeded(20)
    X, y = blobs(400, 2, 6, seed=20)
    model = mlp([6, 16, 1], last=nn.Sigmoid() if broken else None)
    return dict(model=model, loss_fn=nn.BCEWithLogitsLoss(),
                train_data=(X, y.reshape(-1, 1).astype(np.float32)),
                optimizer=optim.Adam(model.parameters(), lr=1e-2))


@case("cross_entropy_stuck_dead_relu",
      "https://discuss.pytorch.org/t/cross-entropy-loss-is-not-decreasing/43814/16 (second "
      "cause in the same answer)",
      "with Adam at a large learning rate the parameters went negative, every ReLU output 0 "
      "with zero gradient and the loss stayed at ln(10) = 2.30; use a smaller learning rate",
      ["activation.dead_relu", "loss.diverging", "update.ratio", "loss.plateau"])
def cross_entropy_stuck_dead_relu(broken):
    seeded(21)
    X, y = blobs(500, 10, 20, seed=21)
    model = mlp([20, 64, 64, 10])
    return dict(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X, y),
                optimizer=optim.Adam(model.parameters(), lr=0.5 if broken else 1e-3))


@case("mse_target_shape_broadcasts",
      "https://blog.gitcode.com/622b5fd6838803808dcfbf68d2df7a66.html (MSE with predictions "
      "(batch, 1) and targets (batch,): broadcasting gives a different value than intended)",
      "predictions of shape (N, 1) against targets of shape (N,) broadcast to (N, N); make the "
      "shapes equal",
      ["loss.broadcast_shape"])
def mse_target_shape_broadcasts(broken):
    seeded(22)
    X, y = linear_regression_data(256, 3, seed=22)
    if broken:
        y = y.reshape(-1)
    model = mlp([3, 16, 1])
    return dict(model=model, loss_fn=nn.MSELoss(), train_data=(X, y),
                optimizer=optim.SGD(model.parameters(), lr=0.05))


@case("learning_rate_too_small",
      "https://theneuralbase.com/keras/learn/beginner/loss-not-decreasing-learning-rate/",
      "the learning rate is so small that the weights barely move and the loss looks flat; try "
      "larger learning rates",
      ["loss.plateau", "update.ratio"])
def learning_rate_too_small(broken):
    seeded(23)
    X, y = blobs(300, 2, 10, seed=23)
    model = mlp([10, 32, 2])
    return dict(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X, y),
                optimizer=optim.SGD(model.parameters(), lr=1e-6 if broken else 0.05))


@case("weights_from_randn",
      "https://github.com/Rockung/sma (CS231n-style notebook: 10 tanh layers with weights "
      "from np.random.randn * 1.0: 'almost all neurons completely saturated, either -1 and 1'; "
      "Xavier initialisation fixes it) and https://ho1-lee.github.io/why-Initialize-weights",
      "weights drawn from N(0, 1) in a deep tanh network saturate every unit; use Glorot "
      "initialisation",
      ["init.bad_scale", "activation.saturated"])
def weights_from_randn(broken):
    seeded(24)
    X, y = blobs(300, 3, 32, seed=24)
    model = mlp([32, 64, 64, 64, 3], activation=nn.Tanh)
    if broken:
        for m in model.modules():
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0.0, 1.0)
    return dict(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X, y),
                optimizer=optim.SGD(model.parameters(), lr=0.05))


@case("summed_loss_large_batch",
      "https://codewithsundeep.com/discussion/solution/67482379 (gradients of a batch summed, "
      "not averaged: the optimal learning rate had to be below 1e-4; answer: average, a sum "
      "grows with the batch and explodes) and "
      "https://stats.stackexchange.com/questions/201452/is-it-common-practice-to-minimize-the-mean-loss-over-the-batches-instead-of-the",
      "the loss is summed over the batch instead of averaged, so the gradient and the step "
      "grow with the batch size and training blows up; average it",
      ["loss.reduction_scale", "loss.diverging", "loss.nonfinite"])
def summed_loss_large_batch(broken):
    seeded(25)
    X, y = linear_regression_data(512, 5, seed=25)
    model = mlp([5, 32, 1])
    loss_fn = nn.MSELoss(reduction="sum" if broken else "mean")
    return dict(model=model, loss_fn=loss_fn, train_data=(X, y), batch_size=256,
                optimizer=optim.SGD(model.parameters(), lr=0.05))


# -- cases added in a second round (expected codes written before running them) ----------------
@case("softmax_over_the_batch",
      "https://openillumi.com/en/en-pytorch-softmax-dim-multidim-tensor-resolve ('Using the "
      "incorrect dim (e.g., normalizing across the batch dimension instead of the class "
      "dimension) generates invalid probability distributions')",
      "the softmax normalises over dim 0, the batch, instead of the classes: each row is no "
      "probability distribution and a sample's prediction depends on the rest of the batch; "
      "use dim=1",
      ["output.wrong_activation", "loss.wrong_input"])
def softmax_over_the_batch(broken):
    seeded(26)
    X, y = blobs(400, 4, 8, seed=26)
    model = mlp([8, 32, 4], last=nn.Softmax(dim=0 if broken else 1))

    def loss_fn(p, target):   # -log p[y] on the softmax output, written by hand
        picked = p[np.arange(len(target.numpy())), target.numpy().astype(np.int64)]
        return -picked.clamp(min=1e-7).log().mean()

    return dict(model=model, loss_fn=loss_fn, train_data=(X, y),
                optimizer=optim.Adam(model.parameters(), lr=1e-2))


# -- cases added in a third round (sources found by searching practitioner threads for the
# -- symptoms; expected codes written and committed before the debugger was run on them) ------
@case("classes_presented_in_order",
      "https://stats.stackexchange.com/questions/325475/neural-network-gives-incorrect-outputs-although-its-backpropagates-correctly",
      "the network was trained on all the '1' examples, then on all the '2' examples, and "
      "forgot the first class; the answer: shuffle the training set randomly",
      ["data.not_shuffled"])
def classes_presented_in_order(broken):
    seeded(27)
    X, y = blobs(400, 2, 4, seed=27, spread=2.0)
    order = np.argsort(y, kind="stable")
    X, y = X[order], y[order]
    model = mlp([4, 32, 2])
    return dict(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X, y),
                shuffle=not broken, optimizer=optim.SGD(model.parameters(), lr=0.1))


@case("validation_split_of_unshuffled_data",
      "https://rocuku.github.io/keras-validation-split-shuffle/ (Keras validation_split takes "
      "the last samples before shuffling)",
      "the data was not shuffled before the split: the validation set, the last 10% of the "
      "arrays, held only negative samples, so the validation score was meaningless; shuffle "
      "before splitting",
      ["data.not_shuffled"])
def validation_split_of_unshuffled_data(broken):
    seeded(28)
    X, y = blobs(500, 2, 6, seed=28)
    order = np.argsort(-y, kind="stable")          # positives first, negatives last
    X, y = X[order], y[order]
    if not broken:
        perm = np.random.default_rng(28).permutation(len(y))
        X, y = X[perm], y[perm]
    cut = int(0.9 * len(y))
    model = mlp([6, 32, 2])
    return dict(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X[:cut], y[:cut]),
                val_data=(X[cut:], y[cut:]), optimizer=optim.Adam(model.parameters(), lr=1e-2))


class _BatchNormNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(10, 32)
        self.bn = nn.BatchNorm1d(32)
        self.fc2 = nn.Linear(32, 3)

    def forward(self, x):
        return self.fc2(F.relu(self.bn(self.fc1(x))))


@case("batchnorm_tested_in_train_mode",
      "https://discuss.pytorch.org/t/what-does-model-eval-do-for-batchnorm-layer/7146 "
      "('When evaluating you should use eval() mode and then batch size doesnt matter')",
      "a model with batch normalisation was evaluated without model.eval(): the BN layer "
      "normalised with the test batch's statistics instead of the running ones, so a test "
      "sample's output depends on the batch it comes in",
      ["model.train_mode_at_eval"])
def batchnorm_tested_in_train_mode(broken):
    seeded(29)
    X, y = blobs(400, 3, 10, seed=29)
    model = _BatchNormNet()

    def evaluate(model, X, y):
        if not broken:
            model.eval()
        with minnet.no_grad():
            return model(minnet.Tensor(X)).numpy()

    return dict(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X, y),
                optimizer=optim.Adam(model.parameters(), lr=1e-2), evaluate=evaluate)


@case("one_sigmoid_unit_for_ten_digits",
      "https://datascience.stackexchange.com/questions/38604/too-low-accuracy-on-mnist-dataset-using-a-neural-network",
      "ten digit classes (labels 0..9) trained through one sigmoid output with binary "
      "cross-entropy: the loss went negative and accuracy stayed at chance (~11%); use ten "
      "outputs with a (sparse) categorical cross-entropy",
      ["data.labels_invalid", "output.wrong_activation", "loss.wrong_input"])
def one_sigmoid_unit_for_ten_digits(broken):
    seeded(30)
    from minnet.data import load_digits
    X, y = load_digits(return_X_y=True)
    X = (X / 16.0).astype(np.float32)
    if broken:
        model = mlp([64, 64, 1], last=nn.Sigmoid())
        return dict(model=model, loss_fn=nn.BCELoss(),
                    train_data=(X, y.astype(np.float32).reshape(-1, 1)),
                    optimizer=optim.Adam(model.parameters(), lr=1e-3))
    model = mlp([64, 64, 10])
    return dict(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X, y.astype(np.int64)),
                optimizer=optim.Adam(model.parameters(), lr=1e-3))


@case("steplr_stepped_every_batch",
      "https://runebook.dev/en/docs/pytorch/generated/torch.optim.lr_scheduler.lrscheduler/torch.optim.lr_scheduler.LRScheduler.step",
      "StepLR (meant per epoch) was stepped inside the batch loop: the learning rate "
      "plummets within the first epochs and the model stops learning; step it once per epoch",
      ["loss.plateau", "update.ratio"])
def steplr_stepped_every_batch(broken):
    seeded(31)
    X, y = blobs(640, 4, 12, seed=31, spread=3.0)
    model = mlp([12, 64, 4])
    schedulers = {}      # one scheduler per optimizer: diagnose trains copies of it
    batches_per_epoch = 640 // 32

    def step_with_scheduler(model, loss_fn, optimizer, Xb, yb):
        state = schedulers.setdefault(id(optimizer), {
            "scheduler": optim.lr_scheduler.StepLR(optimizer, step_size=10, gamma=0.5),
            "batch": 0})
        optimizer.zero_grad()
        loss = loss_fn(model(Xb), yb)
        loss.backward()
        optimizer.step()
        state["batch"] += 1
        if broken or state["batch"] % batches_per_epoch == 0:
            state["scheduler"].step()
        return loss

    return dict(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X, y),
                optimizer=optim.SGD(model.parameters(), lr=0.02, momentum=0.9),
                train_step=step_with_scheduler)


@case("majority_class_always_predicted",
      "https://decodetrail.com/question/why-does-my-cnn-predict-only-one-class-no-matter-what-image-i-give-it/",
      "one class dominates the data set, so the network minimises the loss by always "
      "predicting it; use class weights or balanced sampling",
      ["data.class_imbalance"])
def majority_class_always_predicted(broken):
    seeded(32)
    rng = np.random.default_rng(32)
    y = np.where(rng.random(800) < 0.03, 1, 0).astype(np.int64)
    X = rng.normal(size=(800, 8)).astype(np.float32)
    X[y == 1, :2] += 1.0
    model = mlp([8, 16, 2])
    if broken:
        loss_fn = nn.CrossEntropyLoss()
    else:
        counts = np.bincount(y, minlength=2).astype(np.float32)
        loss_fn = nn.CrossEntropyLoss(weight=minnet.Tensor(counts.sum() / (2 * counts)))
    return dict(model=model, loss_fn=loss_fn, train_data=(X, y),
                optimizer=optim.Adam(model.parameters(), lr=1e-2))


@case("features_and_labels_shuffled_apart",
      "https://www.onenoughtone.com/problems/synchronized-data-permutation ('If we shuffle X "
      "and y independently, we would break the fundamental relationship between features "
      "and labels, effectively corrupting our dataset')",
      "X and y were shuffled with two independent permutations, so every label belongs to a "
      "random sample; shuffle both with one permutation",
      ["data.input_independent"])
def features_and_labels_shuffled_apart(broken):
    seeded(33)
    X, y = blobs(500, 3, 8, seed=33)
    rng = np.random.default_rng(33)
    perm = rng.permutation(len(y))
    X = X[perm]
    y = y[rng.permutation(len(y))] if broken else y[perm]
    model = mlp([8, 32, 3])
    return dict(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X, y),
                optimizer=optim.Adam(model.parameters(), lr=1e-2))


class _SequenceRegressor(nn.Module):
    def __init__(self, recurrent_scale):
        super().__init__()
        self.rnn = nn.RNN(4, 32, batch_first=True)
        self.head = nn.Linear(32, 1)
        if recurrent_scale is not None:
            nn.init.normal_(self.rnn.weight_hh_l0, 0.0, recurrent_scale)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1])


@case("rnn_without_gradient_clipping",
      "https://mlkatas.com/kata/53 ('Train a deep RNN without gradient clipping on a long "
      "sequence. You'll likely observe NaN values in the loss or very large, unstable losses')",
      "exploding gradients in a recurrent network trained on long sequences; clip the "
      "gradient norm (clip_grad_norm_) before optimizer.step()",
      ["grad.exploding", "loss.nonfinite", "loss.diverging", "grad.nonfinite",
       "optim.clipping_always"])
def rnn_without_gradient_clipping(broken):
    seeded(34)
    rng = np.random.default_rng(34)
    X = rng.normal(size=(256, 40, 4)).astype(np.float32)
    y = X[:, :, 0].sum(axis=1, keepdims=True).astype(np.float32) / np.sqrt(40)
    model = _SequenceRegressor(recurrent_scale=0.2)
    return dict(model=model, loss_fn=nn.MSELoss(), train_data=(X, y),
                optimizer=optim.SGD(model.parameters(), lr=0.2),
                clip_grad_norm=None if broken else 1.0)


class _ReplacedHeadNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Linear(10, 32)
        self.head = nn.Linear(32, 4)

    def forward(self, x):
        return self.head(F.relu(self.body(x)))


@case("optimizer_built_before_layer_replaced",
      "https://github.com/microsoft/nni/issues/4521 ('the parameters registered in the "
      "optimizer are outdated ... an easy way is reinitializing a new optimizer')",
      "a layer of the model was replaced after the optimizer had been created: the optimizer "
      "still updates the old layer's tensors and the new layer never trains; create the "
      "optimizer after the model is final",
      ["grad.missing", "update.ratio"])
def optimizer_built_before_layer_replaced(broken):
    seeded(35)
    X, y = blobs(400, 4, 10, seed=35)
    model = _ReplacedHeadNet()
    if broken:
        optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
        model.head = nn.Linear(32, 4)            # replaced after the optimizer was built
    else:
        model.head = nn.Linear(32, 4)
        optimizer = optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    return dict(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X, y),
                optimizer=optimizer)


@case("nan_values_in_training_data",
      "https://theneuralbase.com/tensorflow/learn/beginner/nan-loss-learning-rate-or-data/ "
      "('data contains inf, nan, or extreme outliers that propagate through the network')",
      "missing values (NaN) in the training features make the loss NaN from the first batch "
      "on; no learning rate fixes it, clean the data",
      ["data.nonfinite"])
def nan_values_in_training_data(broken):
    seeded(36)
    X, y = blobs(400, 2, 10, seed=36)
    holes = np.random.default_rng(36).random(X.shape) < 0.01
    X[holes] = np.nan
    if not broken:
        keep = ~np.isnan(X).any(axis=1)
        X, y = X[keep], y[keep]
    model = mlp([10, 16, 2])
    return dict(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X, y),
                optimizer=optim.Adam(model.parameters(), lr=1e-2))


@case("house_prices_targets_in_thousands",
      "https://community.deeplearning.ai/t/multiple-linear-regression-housing-prices-problem-cost-too-high/211759",
      "inputs were z-scored but the price targets were left in the thousands: the predictions "
      "start near 0 and the cost is huge; z-scoring the targets too brought the cost down",
      ["data.target_scale", "init.output_bias"])
def house_prices_targets_in_thousands(broken):
    seeded(37)
    X, y = linear_regression_data(500, 8, seed=37, y_scale=60.0, y_shift=180.0)
    if not broken:
        y = ((y - y.mean()) / y.std()).astype(np.float32)
    model = mlp([8, 32, 1])
    return dict(model=model, loss_fn=nn.MSELoss(), train_data=(X, y),
                optimizer=optim.SGD(model.parameters(), lr=0.01))


@case("dropout_keeps_too_little",
      "https://errorhandle.ai/keep-prob-value-in-dropout-and-getting-worst-resultypescript-with-dropout "
      "('A very low keep_prob (like 0.2) can overly damage the network's learning capacity')",
      "dropout that keeps only 20% of the units (rate 0.8) in a small network: it cannot "
      "fit the training data; keep 0.5-0.9 of the units",
      ["reg.too_strong", "model.cannot_overfit", "loss.plateau"])
def dropout_keeps_too_little(broken):
    seeded(38)
    rng = np.random.default_rng(38)
    X = rng.normal(size=(500, 6)).astype(np.float32)
    y = ((X[:, 0] * X[:, 1] > 0) ^ (X[:, 2] > 0.5)).astype(np.int64)
    model = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Dropout(0.8 if broken else 0.1),
                          nn.Linear(16, 16), nn.ReLU(), nn.Dropout(0.8 if broken else 0.1),
                          nn.Linear(16, 2))
    return dict(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X, y),
                optimizer=optim.Adam(model.parameters(), lr=1e-2))


# -- cases added in a fourth round (written and committed before the debugger ran on them) ----
@case("raw_inputs_to_a_model_trained_on_normalised_ones",
      "http://stackoverflow.com/questions/20570029/neural-network-model-fails-to-predict-outer-world-data",
      "the network was trained on normalised features but new instances were fed to it "
      "without normalisation ('outer world data can not be normalised'), and it predicted "
      "every sample as positive; apply the training normalisation to every input",
      ["data.not_normalized", "data.leakage"])
def raw_inputs_to_a_model_trained_on_normalised_ones(broken):
    seeded(39)
    rng = np.random.default_rng(39)
    X = rng.normal(50, 5, size=(600, 12)).astype(np.float32)   # raw features around 50
    y = (X[:, 0] + 0.5 * X[:, 1] - X[:, 2] > 25).astype(np.int64)
    from minnet.data import Standardizer
    scaler = Standardizer().fit(X[:500])
    X_train, X_val = scaler.transform(X[:500]), X[500:]
    if not broken:
        X_val = scaler.transform(X_val)
    model = mlp([12, 32, 2])
    return dict(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X_train, y[:500]),
                val_data=(X_val.astype(np.float32), y[500:]),
                optimizer=optim.Adam(model.parameters(), lr=1e-2),
                preprocessing={"standardizer": scaler})


@case("validation_standardised_with_its_own_statistics",
      "https://community.deeplearning.ai/t/c1-w2-lab03-feature-scaling-and-learning-rate-soln-normalizing-the-testing-data/161389",
      "the new data must be normalised with the mean and std of the training set, not with "
      "statistics recomputed on the new data: the model was trained for the training "
      "normalisation and 'if you apply a different normalization, your model won't work'",
      ["data.leakage"])
def validation_standardised_with_its_own_statistics(broken):
    seeded(40)
    rng = np.random.default_rng(40)
    X = rng.normal(0, 1, size=(700, 6)) * [1, 3, 10, 1, 2, 5] + [0, 5, 50, 1, -3, 10]
    y = ((X[:, 1] - 5) / 3 + (X[:, 2] - 50) / 10 > 0.5).astype(np.int64)
    order = np.argsort(X[:, 1] + rng.normal(0, 2, size=700))   # later samples run higher
    X, y = X[order].astype(np.float32), y[order]
    from minnet.data import Standardizer
    train_scaler = Standardizer().fit(X[:600])
    val_scaler = Standardizer().fit(X[600:]) if broken else train_scaler
    model = mlp([6, 32, 2])
    return dict(model=model, loss_fn=nn.CrossEntropyLoss(),
                train_data=(train_scaler.transform(X[:600]), y[:600]),
                val_data=(val_scaler.transform(X[600:]), y[600:]),
                optimizer=optim.Adam(model.parameters(), lr=1e-2),
                preprocessing={"standardizer": val_scaler} if broken else
                {"standardizer": train_scaler})


@case("optimizer_step_before_backward",
      "https://theneuralbase.com/pytorch/learn/beginner/forward-pass-loss-backward-step/ "
      "('The article's sequential order (zero -> forward -> loss -> backward -> step) is "
      "correct and will break if reordered, especially if step comes before backward')",
      "optimizer.step() was called before loss.backward(): after zero_grad the step sees no "
      "gradient, so the weights never change; call backward() first",
      ["update.ratio", "loss.plateau", "grad.missing"])
def optimizer_step_before_backward(broken):
    seeded(41)
    X, y = blobs(400, 3, 8, seed=41)
    model = mlp([8, 32, 3])

    def step_then_backward(model, loss_fn, optimizer, Xb, yb):
        optimizer.zero_grad()
        loss = loss_fn(model(Xb), yb)
        optimizer.step()
        loss.backward()
        return loss

    return dict(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X, y),
                optimizer=optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
                train_step=step_then_backward if broken else None)


@case("binary_net_collapses_to_one_half",
      "https://datascience.stackexchange.com/questions/28481/reason-for-having-both-low-loss-and-same-predicted-class",
      "binary classifier (BCE, SGD lr 0.01) learnt, then converged to loss ~0.69 predicting 0.5 "
      "for everything; the answer: the learning rate is too high, reduce it to 0.001 and use "
      "Adam",
      ["update.ratio", "loss.diverging", "activation.dead_relu", "loss.plateau"])
def binary_net_collapses_to_one_half(broken):
    seeded(42)
    rng = np.random.default_rng(42)
    X = rng.normal(size=(600, 20)).astype(np.float32)
    y = (X[:, :5].sum(axis=1) > 0).astype(np.float32).reshape(-1, 1)
    model = mlp([20, 64, 64, 1])
    optimizer = (optim.SGD(model.parameters(), lr=1.0, momentum=0.9) if broken
                 else optim.Adam(model.parameters(), lr=1e-3))
    return dict(model=model, loss_fn=nn.BCEWithLogitsLoss(), train_data=(X, y),
                optimizer=optimizer)


# -- cases added in a fifth round (written and committed before the debugger ran on them) -----
@case("one_output_unit_with_cross_entropy",
      "https://datascience.stackexchange.com/questions/37128/how-to-use-cross-entropy-loss-in-pytorch-for-binary-prediction "
      "('Your network must have two final neural nodes, if your input can belong to one of "
      "two different classes')",
      "a binary classifier with a single output unit trained with CrossEntropyLoss, which "
      "needs one output per class (N, C) and class indices in 0..C-1; use two outputs (or "
      "one output with BCEWithLogitsLoss)",
      ["data.labels_invalid", "output.wrong_activation", "loss.wrong_input"])
def one_output_unit_with_cross_entropy(broken):
    seeded(43)
    X, y = blobs(400, 2, 6, seed=43)
    model = mlp([6, 16, 1 if broken else 2])
    return dict(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X, y),
                optimizer=optim.Adam(model.parameters(), lr=1e-2))


@case("same_subjects_in_train_and_validation",
      "https://datascience.stackexchange.com/questions/77981/is-using-samples-from-the-same-person-in-both-trainset-and-testset-considers-bei "
      "('Yes, this is a form of data leakage ... If, for example, you flip images so that you "
      "double the number of instances in your dataset, you must keep both flipped instances "
      "together when splitting the data')",
      "several slightly different samples of the same subject (augmented copies) were split "
      "at random, so the validation set holds near-copies of training samples and its score "
      "is inflated; split by subject",
      ["data.leakage"])
def same_subjects_in_train_and_validation(broken):
    seeded(44)
    rng = np.random.default_rng(44)
    subjects = rng.normal(size=(120, 16))
    labels = rng.integers(0, 2, 120)                     # a label per subject, weakly tied to X
    subjects[:, 0] += 0.3 * (2 * labels - 1)
    copies = 5
    X = (np.repeat(subjects, copies, axis=0)
         + 0.05 * rng.normal(size=(120 * copies, 16))).astype(np.float32)
    y = np.repeat(labels, copies).astype(np.int64)
    subject_of = np.repeat(np.arange(120), copies)
    if broken:
        order = rng.permutation(len(y))                  # copies scattered over both splits
        train, val = order[:480], order[480:]
    else:
        held = rng.permutation(120)[:24]                 # whole subjects held out
        val = np.flatnonzero(np.isin(subject_of, held))
        train = np.flatnonzero(~np.isin(subject_of, held))
    model = mlp([16, 64, 2])
    return dict(model=model, loss_fn=nn.CrossEntropyLoss(), train_data=(X[train], y[train]),
                val_data=(X[val], y[val]), optimizer=optim.Adam(model.parameters(), lr=1e-2))
