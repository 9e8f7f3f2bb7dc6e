"""A small, readable training loop: ``fit`` and ``evaluate``.

The loop every course writes by hand, in one place so ``minnet train`` and the tests
share it: per epoch ``model.train()``, then per batch ``optimizer.zero_grad()``
(backward() ADDS to .grad), forward, loss, ``loss.backward()``, ``optimizer.step()``;
then ``model.eval()`` under ``minnet.no_grad()`` to evaluate. Nothing here is magic:
read it, then write your own loop.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from .tensor import Tensor, no_grad


class TrainingDiverged(FloatingPointError):
    """The training loss became NaN or infinite (``fit(..., stop_on_nonfinite=True)``).

    ``step`` (0-based, counted over the whole run) and ``epoch`` (1-based) say where;
    ``history`` holds what was recorded up to then."""

    def __init__(self, message: str, step: int, epoch: int, value: float, history=None):
        super().__init__(message)
        self.step, self.epoch, self.value, self.history = step, epoch, value, history


@dataclass
class EpochRecord:
    """What happened in one epoch (test fields are None without test data)."""

    epoch: int
    train_loss: float          # mean of the batch losses, weighted by batch size
    train_accuracy: Optional[float]
    test_loss: Optional[float] = None
    test_accuracy: Optional[float] = None


@dataclass
class History:
    """One `EpochRecord` per epoch, plus the loss of every single step."""

    epochs: list = field(default_factory=list)
    step_losses: list = field(default_factory=list)

    @property
    def last(self) -> EpochRecord:
        return self.epochs[-1]


def as_tensor(data) -> Tensor:
    """Arrays become Tensors; Tensors pass through unchanged."""
    return data if isinstance(data, Tensor) else Tensor(np.asarray(data))


def accuracy(logits, targets) -> float:
    """Fraction of rows whose largest logit is at the target class.

    Shapes: logits (N, C), targets (N,) integer class indices.
    """
    logits = logits._data if isinstance(logits, Tensor) else np.asarray(logits)
    targets = targets._data if isinstance(targets, Tensor) else np.asarray(targets)
    if logits.ndim != 2 or targets.shape != (logits.shape[0],):
        raise ValueError(f"accuracy: expected logits (N, C) and targets (N,), got "
                         f"{logits.shape} and {targets.shape}. Hint: accuracy is for "
                         f"classification; for regression compare losses instead.")
    return float(np.mean(logits.argmax(axis=1) == targets))


def confusion_matrix(y_true, y_pred, num_classes: Optional[int] = None) -> np.ndarray:
    """Counts (num_classes, num_classes): row = true class, column = predicted class."""
    y_true = np.asarray(y_true, dtype=np.int64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.int64).ravel()
    if y_true.shape != y_pred.shape:
        raise ValueError(f"confusion_matrix: y_true and y_pred must have the same length, got "
                         f"{y_true.size} and {y_pred.size}")
    low = int(min(y_true.min(initial=0), y_pred.min(initial=0)))
    if low < 0:
        raise ValueError(f"confusion_matrix: class labels must be >= 0, got {low}")
    high = int(max(y_true.max(initial=-1), y_pred.max(initial=-1)))
    if num_classes is None:
        num_classes = high + 1
    elif high >= num_classes:
        raise ValueError(f"confusion_matrix: label {high} does not fit num_classes="
                         f"{num_classes} (labels run from 0 to num_classes - 1)")
    matrix = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(matrix, (y_true, y_pred), 1)
    return matrix


def is_classification(outputs: np.ndarray, targets: np.ndarray) -> bool:
    """Integer targets of shape (N,) against outputs (N, C): a classification problem."""
    return targets.dtype.kind in "iu" and outputs.ndim == 2 and targets.ndim == 1


def evaluate(model, X, y, loss_fn: Optional[Callable] = None,
             batch_size: Optional[int] = None) -> dict:
    """Run ``model`` on the WHOLE of (X, y) in eval mode without recording a graph.

    Args:
        X, y: arrays or Tensors with the same first dimension N.
        loss_fn: e.g. ``nn.CrossEntropyLoss()``; its mean over all N samples is returned.
        batch_size: evaluate in chunks (for memory); the result is the same.
    Returns a dict: ``outputs`` (N, ...), ``loss``, and for classification ``accuracy``
    and ``predictions`` (N,) (else None). The model's train/eval mode is restored.
    """
    X, y = as_tensor(X), as_tensor(y)
    if X.ndim == 0 or y.ndim == 0:
        raise ValueError(f"evaluate: X and y need a first (sample) dimension, got shapes "
                         f"{X.shape} and {y.shape}")
    n = X.shape[0]
    if n == 0:
        raise ValueError("evaluate: X has no samples (its first dimension is 0): there is "
                         "nothing to evaluate")
    if y.shape[0] != n:
        raise ValueError(f"evaluate: X has {n} samples but y has {y.shape[0]}: they must match")
    if batch_size is not None and (isinstance(batch_size, bool) or
                                   not isinstance(batch_size, (int, np.integer)) or
                                   batch_size < 1):
        raise ValueError(f"evaluate: batch_size must be a positive integer or None, got "
                         f"{batch_size!r}")
    chunk = n if batch_size is None else int(batch_size)
    was_training = model.training
    model.eval()
    outputs, weighted_loss = [], 0.0
    try:
        with no_grad():
            for start in range(0, n, chunk):
                X_part, y_part = X[start:start + chunk], y[start:start + chunk]
                out = model(X_part)
                outputs.append(out._data)
                if loss_fn is not None:
                    weighted_loss += float(loss_fn(out, y_part).item()) * X_part.shape[0]
    finally:
        model.train(was_training)
    outputs = np.concatenate(outputs) if outputs else np.empty((0,))
    result = {"outputs": outputs, "loss": weighted_loss / n if loss_fn is not None else None,
              "accuracy": None, "predictions": None}
    if is_classification(outputs, y._data):
        result["predictions"] = outputs.argmax(axis=1)
        result["accuracy"] = float(np.mean(result["predictions"] == y._data))
    return result


def train_one_epoch(model, loader, loss_fn: Callable, optimizer, history: History,
                    run_log=None, stop_on_nonfinite: bool = False, epoch: int = 1) -> tuple:
    """One pass over ``loader``; returns (mean loss, accuracy or None) over the epoch.

    ``run_log`` (a ``minnet.runlog.RunLog``) receives every step's loss.
    ``stop_on_nonfinite``: raise `TrainingDiverged` at the first NaN/inf loss (before the
    optimizer steps on it)."""
    model.train()
    total_loss, correct, seen, classification = 0.0, 0, 0, True
    for X_batch, y_batch in loader:
        optimizer.zero_grad()
        out = model(X_batch)
        loss = loss_fn(out, y_batch)
        batch_loss = float(loss.item())
        history.step_losses.append(batch_loss)
        if run_log is not None:
            run_log.log_step(len(history.step_losses) - 1, loss=batch_loss)
        if stop_on_nonfinite and not math.isfinite(batch_loss):
            step = len(history.step_losses) - 1
            raise TrainingDiverged(f"the training loss became {batch_loss} at step {step} "
                                   f"(epoch {epoch}); training stopped there", step, epoch,
                                   batch_loss, history)
        loss.backward()
        optimizer.step()
        batch_size = X_batch.shape[0]
        total_loss += batch_loss * batch_size
        seen += batch_size
        classification = classification and is_classification(out._data, y_batch._data)
        if classification:
            correct += int(np.sum(out._data.argmax(axis=1) == y_batch._data))
    return total_loss / max(seen, 1), (correct / seen if classification and seen else None)


def fit(model, loader, loss_fn: Callable, optimizer, epochs: int,
        test_data: Optional[tuple] = None, scheduler=None,
        on_epoch: Optional[Callable[[EpochRecord], None]] = None, run_log=None,
        stop_on_nonfinite: bool = False) -> History:
    """Train ``model`` for ``epochs`` passes over ``loader``; returns a `History`.

    Args:
        loader: yields ``(X_batch, y_batch)`` Tensors, e.g. a `DataLoader`.
        loss_fn: ``loss_fn(outputs, targets) -> scalar Tensor``.
        test_data: optional ``(X_test, y_test)``, evaluated after every epoch.
        scheduler: optional LR scheduler, stepped once per epoch.
        on_epoch: called with each `EpochRecord`; run_log: an optional ``RunLog``.
        stop_on_nonfinite: raise `TrainingDiverged` at the first NaN/Inf loss instead of
            training on with NaN weights.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, (int, np.integer)) or epochs < 0:
        raise ValueError(f"fit: epochs must be a non-negative integer, got {epochs!r}")
    if not hasattr(loader, "__iter__"):
        raise TypeError(f"fit: loader must yield (X_batch, y_batch) pairs, e.g. a "
                        f"minnet.data.DataLoader; got {type(loader).__name__}")
    if not callable(loss_fn):
        raise TypeError(f"fit: loss_fn must be callable (e.g. nn.CrossEntropyLoss()), got "
                        f"{type(loss_fn).__name__}")
    if not hasattr(optimizer, "step") or not hasattr(optimizer, "zero_grad"):
        raise TypeError(f"fit: optimizer must have step() and zero_grad() (e.g. "
                        f"optim.Adam(model.parameters())), got {type(optimizer).__name__}")
    history = History()
    for epoch in range(1, epochs + 1):
        train_loss, train_accuracy = train_one_epoch(model, loader, loss_fn, optimizer, history,
                                                     run_log, stop_on_nonfinite, epoch)
        record = EpochRecord(epoch, train_loss, train_accuracy)
        if test_data is not None:
            result = evaluate(model, test_data[0], test_data[1], loss_fn)
            record.test_loss, record.test_accuracy = result["loss"], result["accuracy"]
        if scheduler is not None:
            scheduler.step()
        history.epochs.append(record)
        if run_log is not None:
            metrics = {name: value for name, value in vars(record).items()
                       if name != "epoch" and isinstance(value, (int, float))}
            run_log.log_step(len(history.step_losses) - 1, epoch=epoch, **metrics)
        if on_epoch is not None:
            on_epoch(record)
    return history


# --------------------------------------------------------------------------
# The main job: an MLP on the bundled 8x8 digits (``minnet train``)
# --------------------------------------------------------------------------
@dataclass
class DigitsResult:
    """Everything ``minnet train`` shows: the model, the data it saw, and its mistakes."""

    model: object
    history: History
    test_accuracy: float
    confusion: np.ndarray          # (10, 10): row = true digit, column = predicted
    X_test_raw: np.ndarray         # (N_test, 64) pixels 0..16, before standardising
    y_test: np.ndarray             # (N_test,)
    predictions: np.ndarray        # (N_test,)
    probabilities: np.ndarray      # (N_test, 10) softmax of the outputs
    seconds: float


def digits_experiment(epochs: int = 25, seed: int = 0, lr: float = 1e-3, hidden: int = 256,
                      batch_size: int = 32, test_size: float = 0.25,
                      log: Optional[Callable[[str], None]] = None,
                      record: Optional[str] = None) -> DigitsResult:
    """Train 64-``hidden``-10 (ReLU) with Adam on the 8x8 digits; evaluate on a held-out split.

    The split is stratified and seeded; the `Standardizer` is fitted on the
    training split only, so no statistic of the test images leaks into training.
    ``seed`` also fixes the initial weights and the batch order: the same seed
    gives the same numbers on the same machine.
    """
    import time
    import warnings

    for name, value in (("epochs", epochs), ("hidden", hidden), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ValueError(f"digits_experiment: {name} must be a positive integer, got "
                             f"{value!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"digits_experiment: seed must be an integer >= 0, got {seed!r}")
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"digits_experiment: lr must be a finite number > 0, got {lr!r}")
    if not (isinstance(test_size, (int, float)) and 0 < test_size < 1):
        raise ValueError(f"digits_experiment: test_size must be a fraction between 0 and 1, "
                         f"got {test_size!r}")

    from . import nn, optim
    from .data import DataLoader, Standardizer, TensorDataset, load_digits, train_test_split

    started = time.perf_counter()
    X, y = load_digits(return_X_y=True)
    X_train_raw, X_test_raw, y_train, y_test = train_test_split(
        X, y, test_size=test_size, seed=seed, stratify=y)
    with warnings.catch_warnings():
        # A few border pixels are always 0 in the digits: centring them is all we can do.
        warnings.simplefilter("ignore", UserWarning)
        scaler = Standardizer().fit(X_train_raw)
    X_train, X_test = scaler.transform(X_train_raw), scaler.transform(X_test_raw)

    init_rng = np.random.default_rng(seed)
    model = nn.Sequential(nn.Linear(64, hidden, generator=init_rng), nn.ReLU(),
                          nn.Linear(hidden, 10, generator=init_rng))
    optimizer = optim.Adam(model.parameters(), lr=lr)
    loader = DataLoader(TensorDataset(X_train, y_train), batch_size=batch_size, shuffle=True,
                        seed=seed)
    if log is not None:
        log(f"digits: {len(y_train)} training / {len(y_test)} test images (8x8), "
            f"model 64-{hidden}-10 ReLU, Adam lr={lr}, batch {batch_size}, seed {seed}")

    def report(record: EpochRecord) -> None:
        if log is not None:
            log(f"epoch {record.epoch:3d}  train loss {record.train_loss:.4f}  "
                f"train acc {record.train_accuracy:.3f}  test loss {record.test_loss:.4f}  "
                f"test acc {record.test_accuracy:.3f}")

    run_log = None
    if record:  # a run-log folder, e.g. "runs"
        from .runlog import RunLog
        run_log = RunLog.start("digits-mlp", root=record, seed=seed, config={
            "epochs": epochs, "lr": lr, "hidden": hidden, "batch_size": batch_size,
            "test_size": test_size, "optimizer": "Adam", "model": f"64-{hidden}-10 ReLU"})
    try:
        with np.errstate(over="ignore", invalid="ignore"):  # a NaN loss is reported below
            history = fit(model, loader, nn.CrossEntropyLoss(), optimizer, epochs,
                          test_data=(X_test, y_test), on_epoch=report, run_log=run_log,
                          stop_on_nonfinite=True)
    except TrainingDiverged as error:
        error.args = (f"{error.args[0]}. With lr={lr} Adam's steps are too big for this "
                      f"model: the weights overflowed. Try a smaller --lr (the default is "
                      f"1e-3); 'minnet doctor --scenario lr_too_high' shows this failure "
                      f"diagnosed.",)
        if run_log is not None:
            run_log.finish("failed", error=f"TrainingDiverged: {error}")
            error.args = (f"{error.args[0]} (recorded as run {run_log.id})",)
        raise
    except BaseException as error:
        if run_log is not None:
            status = "interrupted" if isinstance(error, KeyboardInterrupt) else "failed"
            run_log.finish(status, error=f"{type(error).__name__}: {error}")
        raise
    final = evaluate(model, X_test, y_test)
    if run_log is not None:
        run_log.finish(summary={"test_accuracy": final["accuracy"],
                                "seconds": time.perf_counter() - started})
        if log is not None:
            log(f"recorded as run {run_log.id} in {record}/ ('minnet runs' lists runs)")
    outputs = final["outputs"].astype(np.float64)
    shifted = np.exp(outputs - outputs.max(axis=1, keepdims=True))
    return DigitsResult(model=model, history=history, test_accuracy=final["accuracy"],
                        confusion=confusion_matrix(y_test, final["predictions"], 10),
                        X_test_raw=np.asarray(X_test_raw), y_test=np.asarray(y_test),
                        predictions=final["predictions"],
                        probabilities=shifted / shifted.sum(axis=1, keepdims=True),
                        seconds=time.perf_counter() - started)


def format_confusion(matrix: np.ndarray) -> list:
    """Text lines of a confusion matrix; rows are true classes, columns predictions."""
    n = matrix.shape[0]
    lines = ["true\\pred " + " ".join(f"{k:>4d}" for k in range(n))]
    for k in range(n):
        lines.append(f"{k:>9d} " + " ".join(f"{v:>4d}" if v else "   ." for v in matrix[k]))
    return lines


PIXEL_SHADES = " .:-=+*#%@"  # 0..16 mapped to 10 characters, light to dark


def format_digits(images: np.ndarray, captions: list) -> list:
    """8x8 images (values 0..16) side by side as ASCII art, each with a caption underneath."""
    levels = np.clip(np.rint(images * (len(PIXEL_SHADES) - 1) / 16), 0, len(PIXEL_SHADES) - 1)
    blocks = [["".join(PIXEL_SHADES[int(v)] * 2 for v in row) for row in image.reshape(8, 8)]
              for image in levels]
    width = 16
    lines = ["   ".join(block[r] for block in blocks) for r in range(8)]
    lines.append("   ".join(f"{caption:<{width}}"[:width] for caption in captions))
    return lines


def print_digits_summary(result: DigitsResult, log: Callable[[str], None] = print,
                         n_mistakes: int = 5) -> None:
    """What the network learned: test accuracy, confusion matrix, a few mistakes."""
    n_test = len(result.y_test)
    n_right = int(np.sum(result.predictions == result.y_test))
    log("")
    log(f"test accuracy: {result.test_accuracy:.4f} ({n_right}/{n_test} test images) "
        f"in {result.seconds:.1f} s")
    log("")
    log("confusion matrix (rows: true digit, columns: predicted digit; '.' = 0):")
    for line in format_confusion(result.confusion):
        log(line)
    wrong = np.flatnonzero(result.predictions != result.y_test)
    if wrong.size == 0:
        log("\nno test image was misclassified.")
        return
    # Most confident mistakes first: those say most about what the model got wrong.
    confidence = result.probabilities[wrong, result.predictions[wrong]]
    shown = wrong[np.argsort(-confidence)][:n_mistakes]
    log("")
    log(f"{len(wrong)} misclassified test images; the {len(shown)} most confident mistakes:")
    captions = [f"{result.y_test[i]} as {result.predictions[i]} "
                f"{result.probabilities[i, result.predictions[i]]:.0%}" for i in shown]
    for line in format_digits(result.X_test_raw[shown], captions):
        log(line)


def plot_digits_losses(result: DigitsResult, path) -> None:
    """The loss curves of ``minnet train --plot``: every step's training loss, and each
    epoch's test loss at that epoch's last step (dashed). Needs matplotlib."""
    from .viz import plot_loss

    losses = np.asarray(result.history.step_losses, dtype=np.float64)
    test = np.full(losses.shape, np.nan)
    steps_per_epoch = len(losses) // max(len(result.history.epochs), 1)
    for record in result.history.epochs:
        if record.test_loss is not None:
            test[min(record.epoch * steps_per_epoch, len(losses)) - 1] = record.test_loss
    import matplotlib.pyplot as plt
    figure = plot_loss(losses, val=test, path=path, val_label="test_loss",
                       title=f"digits MLP: loss per step (test: per epoch), "
                             f"test accuracy {result.test_accuracy:.3f}")
    plt.close(figure)
