"""Scenarios for the data family: what goes wrong before the model sees a single batch.

Each ``build(broken)`` returns a seeded Setup; broken and fixed differ only in the
mistake (the same model, optimizer, steps and seed). Data sets are small so that
every diagnosis takes a few seconds.
"""
from __future__ import annotations


import numpy as np

from .. import nn, optim
from ..data import Standardizer, load_digits, make_blobs, make_moons, make_regression_1d
from ..data import train_test_split
from ..debug.setup import Setup
from ..random import manual_seed
from . import scenario
from ._datasets import standardise

SEED = 0


def _digits_split(n_samples: int = 900, seed: int = SEED):
    """Raw digits (pixels 0..16), a seeded subset split 75/25: X_train, X_val, y_train, y_val."""
    X, y = load_digits(return_X_y=True)
    index = np.random.default_rng(seed).permutation(len(X))[:n_samples]
    return train_test_split(X[index], y[index], test_size=0.25, seed=seed, stratify=y[index])


def _digits_mlp(hidden: int = 64, outputs: int = 10):
    return nn.Sequential(nn.Linear(64, hidden), nn.ReLU(), nn.Linear(hidden, outputs))


def _blobs(n_samples: int, seed: int = SEED):
    """Three Gaussian blobs in 4-D, standardised: X float32 (n, 4), y int64 (n,)."""
    X, y = make_blobs(n_samples=n_samples, centers=3, n_features=4, cluster_std=2.5, seed=seed)
    return standardise(X).astype(np.float32), y


def _blobs_mlp(inputs: int = 4, hidden: int = 32, outputs: int = 3):
    return nn.Sequential(nn.Linear(inputs, hidden), nn.ReLU(), nn.Linear(hidden, outputs))


# --------------------------------------------------------------------------
# the values in the arrays
# --------------------------------------------------------------------------
@scenario("nan_inputs", codes=("data.nonfinite",),
          summary="missing measurements stored as NaN reach the model",
          wrong="2% of the input entries are NaN (missing values). Every batch that contains one "
                "gets a NaN loss, and the first such step turns every weight into NaN.",
          fix="The missing entries are imputed with the training column mean before training.")
def nan_inputs(broken: bool) -> Setup:
    manual_seed(SEED)
    X, y = _blobs(400)
    missing = np.random.default_rng(SEED).random(X.shape) < 0.02
    X = X.copy()
    X[missing] = np.nan
    if not broken:
        column_mean = np.nanmean(X, axis=0)
        X = np.where(np.isnan(X), column_mean, X).astype(np.float32)
    model = _blobs_mlp()
    return Setup(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-2), (X, y),
                 batch_size=32, steps=100, seed=SEED)


@scenario("unnormalized_inputs", codes=("data.not_normalized",),
          summary="raw 8-bit pixel values (0..255) go straight into a tanh network",
          wrong="The digits are scaled to 8-bit intensities 0..255 and fed as they are: first-layer "
                "pre-activations are in the hundreds, every tanh unit saturates at +-1 and its "
                "gradient vanishes.",
          fix="The inputs are standardised with training-set statistics (Standardizer).")
def unnormalized_inputs(broken: bool) -> Setup:
    X_train, X_val, y_train, y_val = _digits_split()
    X_train, X_val = np.round(X_train * 255 / 16), np.round(X_val * 255 / 16)
    if not broken:
        X_train, X_val, _ = standardise(X_train, X_val)
    manual_seed(SEED)
    model = nn.Sequential(nn.Linear(64, 64), nn.Tanh(), nn.Linear(64, 10))
    return Setup(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
                 (X_train.astype(np.float32), y_train),
                 val_data=(X_val.astype(np.float32), y_val), batch_size=32, steps=150, seed=SEED)


@scenario("constant_feature", codes=("data.constant_feature",),
          summary="a sensor stuck at one value adds a constant column to the inputs",
          wrong="Beside four informative (standardised) features, a fifth column holds 1.0 for "
                "every sample (a stuck sensor). It carries no information, costs weights, and "
                "any standardisation without a guard divides it by a std of 0.",
          fix="The constant column is dropped before training (and the first layer takes 4 "
              "inputs instead of 5).")
def constant_feature(broken: bool) -> Setup:
    X, y = _blobs(400)
    if broken:
        X = np.concatenate([X, np.ones((len(X), 1), np.float32)], axis=1)
    manual_seed(SEED)
    model = _blobs_mlp(inputs=X.shape[1])
    return Setup(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-2), (X, y),
                 batch_size=32, steps=100, seed=SEED)


@scenario("unscaled_targets", codes=("data.target_scale",),
          summary="regression targets in the thousands (a price in dollars) trained with MSE",
          wrong="The targets are 2000 + 500 sin(x): mean 2000, std ~350. The net starts near 0, "
                "so the initial MSE is ~4 million, the gradients are huge and the first many "
                "steps only move the output bias.",
          fix="The targets are standardised with training statistics (and predictions would be "
              "mapped back with y_std and y_mean).")
def unscaled_targets(broken: bool) -> Setup:
    X, y = make_regression_1d(n_samples=300, kind="sine", noise=0.05, seed=SEED)
    y = (2000.0 + 500.0 * y).astype(np.float32)
    if not broken:
        y = ((y - y.mean()) / y.std()).astype(np.float32)
    manual_seed(SEED)
    model = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(),
                          nn.Linear(32, 1))
    return Setup(model, nn.MSELoss(), optim.Adam(model.parameters(), lr=1e-2), (X, y),
                 batch_size=32, steps=200, seed=SEED)


# --------------------------------------------------------------------------
# the labels
# --------------------------------------------------------------------------
@scenario("sorted_labels", codes=("data.not_shuffled",),
          summary="the training set is sorted by label and never shuffled",
          wrong="The digits are stored sorted by class and the loop takes batches in order "
                "(shuffle=False): almost every batch holds a single digit, each step fits that "
                "digit and forgets the others.",
          fix="The same sorted data, shuffled every epoch (shuffle=True).")
def sorted_labels(broken: bool) -> Setup:
    X_train, X_val, y_train, y_val = _digits_split()
    X_train, X_val, _ = standardise(X_train, X_val)
    order = np.argsort(y_train, kind="stable")
    manual_seed(SEED)
    model = _digits_mlp()
    return Setup(model, nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=0.05, momentum=0.9),
                 (X_train[order], y_train[order]), val_data=(X_val, y_val), batch_size=32,
                 shuffle=not broken, steps=150, seed=SEED)


@scenario("imbalanced_classes", codes=("data.class_imbalance",),
          summary="one class is 20x rarer than the other",
          wrong="Of the two moons, 400 samples belong to class 0 and only 20 to class 1: "
                "predicting class 0 everywhere is already 95% accurate, and the rare class's "
                "gradient is drowned out.",
          fix="The rare class is oversampled (its samples repeated) until both classes are "
              "equally frequent in training.")
def imbalanced_classes(broken: bool) -> Setup:
    X, y = make_moons(n_samples=800, noise=0.15, seed=SEED)
    rare = np.nonzero(y == 1)[0][:20]
    keep = np.concatenate([np.nonzero(y == 0)[0], rare])
    X, y = X[keep], y[keep]
    if not broken:
        repeats = np.repeat(np.nonzero(y == 1)[0], 20)
        X, y = np.concatenate([X[y == 0], X[repeats]]), np.concatenate([y[y == 0], y[repeats]])
    manual_seed(SEED)
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 2))
    return Setup(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-2),
                 (X.astype(np.float32), y), batch_size=32, steps=150, seed=SEED)


@scenario("labels_out_of_range", codes=("data.labels_invalid",),
          summary="1-based labels (1..10) for a 10-output classifier",
          wrong="The digit labels were stored as 1..10 (a 1-based export): label 10 points past "
                "the last of the 10 outputs, so cross_entropy raises an IndexError (in other "
                "frameworks: a crash on the GPU or silently wrong classes).",
          fix="The labels are made 0-based (y - 1).")
def labels_out_of_range(broken: bool) -> Setup:
    X_train, X_val, y_train, y_val = _digits_split()
    X_train, X_val, _ = standardise(X_train, X_val)
    if broken:
        y_train, y_val = y_train + 1, y_val + 1
    manual_seed(SEED)
    model = _digits_mlp()
    return Setup(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-3),
                 (X_train, y_train), val_data=(X_val, y_val), batch_size=32, steps=120, seed=SEED)


@scenario("float_labels", codes=("data.labels_invalid",),
          summary="class labels stored as floats (0.0, 1.0, ...) given to cross-entropy",
          wrong="The labels were read from a CSV as float64; a class loss needs integer class "
                "indices, so cross_entropy refuses them.",
          fix="The labels are converted to int64.")
def float_labels(broken: bool) -> Setup:
    X, y = _blobs(300)
    if broken:
        y = y.astype(np.float64)
    manual_seed(SEED)
    model = _blobs_mlp()
    return Setup(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-2), (X, y),
                 batch_size=32, steps=100, seed=SEED)


@scenario("shuffled_labels", codes=("data.input_independent",),
          summary="the labels were shuffled separately from the inputs",
          wrong="The training labels were permuted on their own (e.g. shuffling y but not X), so "
                "no label belongs to its image. The model can memorise the training set but "
                "predicts held-out digits no better than a model that never sees the inputs.",
          fix="Inputs and labels are kept paired.")
def shuffled_labels(broken: bool) -> Setup:
    X_train, X_val, y_train, y_val = _digits_split()
    X_train, X_val, _ = standardise(X_train, X_val)
    if broken:
        y_train = np.random.default_rng(SEED).permutation(y_train)
    manual_seed(SEED)
    model = _digits_mlp(hidden=128)
    return Setup(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=3e-3),
                 (X_train, y_train), val_data=(X_val, y_val), batch_size=32, steps=150, seed=SEED)


# --------------------------------------------------------------------------
# the split
# --------------------------------------------------------------------------
@scenario("normalize_before_split", codes=("data.leakage",),
          summary="the Standardizer was fitted on all the data before the train/val split",
          wrong="Standardizer().fit(X) on the whole data set, then the split: the validation "
                "samples shaped the training inputs' statistics, so validation scores are "
                "optimistic.",
          fix="Split first, then fit the Standardizer on the training split only.")
def normalize_before_split(broken: bool) -> Setup:
    X, y = make_blobs(n_samples=400, centers=3, n_features=4, cluster_std=2.5, seed=SEED)
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.3, seed=SEED)
    scaler = Standardizer().fit(np.concatenate([X_train, X_val]) if broken else X_train)
    X_train, X_val = scaler.transform(X_train), scaler.transform(X_val)
    manual_seed(SEED)
    model = _blobs_mlp()
    return Setup(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-2),
                 (X_train, y_train), val_data=(X_val, y_val), batch_size=32, steps=100,
                 seed=SEED, preprocessing={"standardizer": scaler})


@scenario("duplicate_split", codes=("data.leakage",),
          summary="a quarter of the validation samples are copies of training samples",
          wrong="The data set holds duplicated rows (a file appended twice in part) and was "
                "split afterwards: 25% of the validation samples also occur in training, so "
                "the validation score partly measures memorisation.",
          fix="Duplicates are removed before the split.")
def duplicate_split(broken: bool) -> Setup:
    X, y = make_blobs(n_samples=400, centers=3, n_features=4, cluster_std=2.5, seed=SEED)
    X_train, X_val, y_train, y_val = train_test_split(X, y, test_size=0.25, seed=SEED)
    X_train, X_val, _ = standardise(X_train, X_val)
    if broken:
        copies = np.arange(0, len(X_val), 4)
        X_val = X_val.copy()
        X_val[copies] = X_train[copies]
        y_val = y_val.copy()
        y_val[copies] = y_train[copies]
    manual_seed(SEED)
    model = _blobs_mlp()
    return Setup(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-2),
                 (X_train, y_train), val_data=(X_val, y_val), batch_size=32, steps=100, seed=SEED)


# --------------------------------------------------------------------------
# the amount of data and the batch
# --------------------------------------------------------------------------
@scenario("tiny_dataset", codes=("data.too_few_samples",),
          summary="15 samples (5 per class) to train a 3-class network",
          wrong="Only 5 samples per class: the network memorises them in a few steps and "
                "anything it reports about generalisation is noise.",
          fix="300 samples (100 per class) from the same distribution, same network and "
              "batch size.")
def tiny_dataset(broken: bool) -> Setup:
    X, y = _blobs(300)
    if broken:
        keep = np.concatenate([np.nonzero(y == c)[0][:5] for c in range(3)])
        X, y = X[keep], y[keep]
    manual_seed(SEED)
    model = _blobs_mlp()
    return Setup(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-2), (X, y),
                 batch_size=4, steps=100, seed=SEED)


@scenario("full_batch", codes=("batch.too_large",),
          summary="every step uses the whole training set as one batch",
          wrong="batch_size equals the number of samples (full-batch gradient descent): one "
                "update per epoch and no gradient noise.",
          fix="Mini-batches of 32.")
def full_batch(broken: bool) -> Setup:
    X, y = make_moons(n_samples=400, noise=0.15, seed=SEED)
    manual_seed(SEED)
    model = nn.Sequential(nn.Linear(2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                          nn.Linear(32, 2))
    return Setup(model, nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-2), (X, y),
                 batch_size=len(X) if broken else 32, steps=150, seed=SEED)
