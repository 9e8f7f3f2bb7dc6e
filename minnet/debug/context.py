"""What a diagnosis works on: the data as arrays, copies of the model and optimizer,
and one training loop that every part of the debugger shares.

``DiagnosisContext`` is handed to every check. It never touches the caller's
model or optimizer: ``diagnose`` deep-copies both first, and ``fresh_model()``
gives further copies at their initial state for preflight experiments
(overfit one batch, zero inputs, ...).
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import numpy as np

from ..tensor import Tensor, no_grad

CLASSIFICATION, REGRESSION = "classification", "regression"


# -- data -------------------------------------------------------------------------------------
def data_arrays(data, where: str = "diagnose") -> tuple:
    """``(X, y)`` NumPy arrays from ``(X, y)``, a Dataset or a DataLoader.

    Returns ``(X, y, loader_options)``; ``loader_options`` holds a DataLoader's
    ``batch_size`` and ``shuffle`` (empty for arrays and Datasets).
    """
    from ..data import DataLoader
    options = {}
    if isinstance(data, DataLoader):
        options = {"batch_size": data.batch_size, "shuffle": data.shuffle}
        data = data.dataset
    if isinstance(data, (tuple, list)) and len(data) == 2:
        X, y = data
        return _array(X), _array(y), options
    arrays = getattr(data, "arrays", None)  # TensorDataset
    if arrays is not None and len(arrays) == 2:
        return arrays[0], arrays[1], options
    if hasattr(data, "__len__") and hasattr(data, "__getitem__"):
        if len(data) == 0:
            raise ValueError(f"{where}: the data set is empty (0 samples); diagnose needs "
                             f"samples to train on")
        samples = [data[i] for i in range(len(data))]
        if samples and len(samples[0]) == 2:
            X = np.stack([_array(sample[0]) for sample in samples])
            y = np.stack([_array(sample[1]) for sample in samples])
            return X, y, options
    raise TypeError(f"{where}: data must be (X, y) arrays, a Dataset of (x, y) samples or a "
                    f"DataLoader over one; got {type(data).__name__}. Hint: diagnose(model, "
                    f"loss_fn, (X_train, y_train), ...)")


def _array(value) -> np.ndarray:
    return value._data if isinstance(value, Tensor) else np.asarray(value)


def match_model_dtype(model, *arrays) -> tuple:
    """Floating arrays cast to the dtype of the model's parameters (float32 by default).

    NumPy makes float64 by default, minnet's layers float32; a training loop
    feeding one to the other fails with a dtype error. The debugger feeds the
    data the way a correct loop would, so it can look at everything else.
    """
    dtype = next((p.dtype for p in model.parameters() if p.dtype.kind == "f"), None)
    if dtype is None:
        return arrays
    return tuple(a.astype(dtype) if a is not None and a.dtype.kind == "f" and a.dtype != dtype
                 else a for a in arrays)


def infer_task(loss_fn, y: np.ndarray) -> str:
    """Classification when the loss is a class loss or the targets are integer class indices."""
    name = getattr(loss_fn, "__name__", "") or type(loss_fn).__name__
    name = name.lower()
    if any(key in name for key in ("crossentropy", "cross_entropy", "nll")):
        if "binary" not in name and "bce" not in name:
            return CLASSIFICATION
    if y.dtype.kind in "iub" and y.ndim == 1:
        return CLASSIFICATION
    return REGRESSION


# -- model and optimizer copies ---------------------------------------------------------------
def copy_model(model):
    """A deep copy: same structure and values, no shared arrays, hooks and grads dropped.

    A model may hold things deepcopy cannot copy (a threading lock, a file handle) or a
    tensor that still carries a long autograd graph (e.g. ``self.last_output`` cached in
    forward(), thousands of ops deep). Those are handled instead of failing: an attribute
    that cannot be copied is shared with the original (the checks never use it), and a
    cached non-parameter tensor is copied without its graph.
    """
    try:
        twin = copy.deepcopy(model)
    except (TypeError, RecursionError, copy.Error, AttributeError, ValueError) as first_error:
        twin = _copy_sharing_uncopyable(model, first_error)
    for _, module in twin.named_modules():
        for hooks in ("_forward_pre_hooks", "_forward_hooks", "_backward_hooks"):
            if hasattr(module, hooks):
                getattr(module, hooks).clear()
    for param in twin.parameters():
        param.grad = None
    return twin


def _copy_sharing_uncopyable(model, first_error):
    """deepcopy with a memo that shares uncopyable attributes and detaches cached graphs."""
    memo: dict = {}
    for _, module in model.named_modules():
        for name, value in vars(module).items():
            if name in ("_parameters", "_buffers", "_modules"):
                continue
            if isinstance(value, Tensor) and value._parents:
                memo[id(value)] = Tensor(value._data.copy())     # the value, not its history
                continue
            try:
                copy.deepcopy(value)
            except Exception:  # noqa: BLE001 - anything deepcopy refuses is shared instead
                memo[id(value)] = value
    try:
        return copy.deepcopy(model, memo)
    except Exception as error:  # noqa: BLE001
        raise ValueError(
            f"diagnose() works on a copy of your model and could not copy it: "
            f"{type(first_error).__name__}: {first_error}. Hint: a module attribute holds "
            f"something that cannot be copied; keep such objects outside the model (or "
            f"define __deepcopy__ for it).") from error


def optimizer_factory(optimizer, model) -> Callable:
    """``make(model_copy) -> optimizer``: the user's optimizer class and settings on a copy.

    Parameters are matched by their position in ``model.parameters()``; the
    optimizer's state (momentum buffers, Adam moments) is copied too.

    Tensors the optimizer holds that are not the model's (a layer replaced after the
    optimizer was built, or a loss with learnable weights) are left out of the copy:
    updating them cannot change the copy's outputs, and the copy must not touch the
    caller's tensors. ``make.foreign`` lists their shapes, for grad.missing to report.
    """
    if optimizer is None:
        from ..optim import SGD
        return lambda twin: SGD(twin.parameters(), lr=0.01)
    positions = {id(p): i for i, p in enumerate(model.parameters())}
    groups, foreign = [], []
    for group_index, group in enumerate(optimizer.param_groups):
        indices = [positions.get(id(p)) for p in group["params"]]
        foreign += [tuple(p.shape) for p, i in zip(group["params"], indices) if i is None]
        settings = {k: copy.deepcopy(v) for k, v in group.items() if k != "params"}
        groups.append((settings, [i for i in indices if i is not None]))
    if not any(indices for _, indices in groups):
        raise ValueError("diagnose(): the optimizer holds none of the model's parameters "
                         f"({len(foreign)} other tensors). Hint: build it from "
                         "model.parameters(), after the model is complete (a layer replaced "
                         "afterwards is not in an optimizer built before).")
    state = copy.deepcopy(optimizer.state_dict())
    if foreign:
        state = _state_without_foreign(state, optimizer, positions)
    groups = [(settings, indices) for settings, indices in groups if indices]
    cls = type(optimizer)

    def make(twin):
        params = list(twin.parameters())
        built = cls([dict(settings, params=[params[i] for i in indices])
                     for settings, indices in groups])
        built.load_state_dict(copy.deepcopy(state))
        return built

    make.foreign = foreign
    return make


def _state_without_foreign(state: dict, optimizer, positions: dict) -> dict:
    """The optimizer's state_dict with the tensors that are not the model's taken out.

    state_dict numbers the parameters across groups in order; the kept ones are
    renumbered the same way, and groups left empty are dropped (as ``make`` drops them).
    """
    renumbered, groups, new_index = {}, [], 0
    for group, saved in zip(optimizer.param_groups, state["param_groups"]):
        kept = []
        for param, old_index in zip(group["params"], saved["params"]):
            if id(param) not in positions:
                continue
            if old_index in state["state"]:
                renumbered[new_index] = state["state"][old_index]
            kept.append(new_index)
            new_index += 1
        if kept:
            groups.append(dict(saved, params=kept))
    return dict(state, state=renumbered, param_groups=groups)


# -- the training loop ---------------------------------------------------------------------------
def total_loss(loss) -> tuple:
    """``(loss Tensor, terms)``: a loss_fn may return a Tensor or a dict of named terms."""
    if isinstance(loss, dict):
        terms = dict(loss)
        if not terms:
            raise ValueError("loss_fn returned an empty dict of terms")
        values = list(terms.values())
        total = values[0]
        for value in values[1:]:
            total = total + value
        return total, terms
    if not isinstance(loss, Tensor):
        raise TypeError(f"loss_fn must return a scalar Tensor (or a dict of them), got "
                        f"{type(loss).__name__}")
    return loss, {}


def standard_train_step(model, loss_fn, optimizer, X, y, clip_grad_norm=None, record=None):
    """One optimizer step as every training loop should do it; returns the loss Tensor.

    ``record`` (a dict) receives the loss terms and, with clipping, the norm before clipping.
    """
    optimizer.zero_grad()
    loss, terms = total_loss(loss_fn(model(X), y))
    loss.backward()
    if record is not None:
        record["terms"] = {name: float(term.item()) for name, term in terms.items()}
    if clip_grad_norm is not None:
        from ..nn.utils import clip_grad_norm_
        norm = clip_grad_norm_(model.parameters(), clip_grad_norm)
        if record is not None:
            record["grad_norm_before_clip"] = float(norm.item())
    optimizer.step()
    return loss


def batch_iterator(X: np.ndarray, y: np.ndarray, batch_size: int, shuffle: bool, seed: int):
    """Endless (X_batch, y_batch) Tensors, epoch after epoch, in a seeded order."""
    rng = np.random.default_rng(seed)
    n = len(X)
    if n == 0:   # an endless loop over no batches would hang
        raise ValueError("batch_iterator: the data set is empty (0 samples)")
    batch_size = max(1, min(int(batch_size), n))
    while True:
        order = rng.permutation(n) if shuffle else np.arange(n)
        for start in range(0, n - batch_size + 1, batch_size):
            index = order[start:start + batch_size]
            yield Tensor(X[index]), Tensor(y[index])


@dataclass
class TrainingRun:
    """What one training run left behind: per-step numbers and, if asked, the Monitor."""
    losses: np.ndarray                      # (steps,) training loss per step (nan if not finite)
    terms: dict = field(default_factory=dict)        # term name -> (steps,) array
    grad_norms_before_clip: Optional[np.ndarray] = None
    monitor: Any = None
    stopped_at: Optional[int] = None        # step where the loss became non-finite, if it did
    error: Optional[BaseException] = None   # an exception that ended the run early
    steps: int = 0


def run_training(model, loss_fn, optimizer, X, y, steps: int, batch_size: int, shuffle: bool,
                 seed: int = 0, train_step: Optional[Callable] = None,
                 clip_grad_norm: Optional[float] = None, monitor=None,
                 stop_on_nonfinite: bool = True) -> TrainingRun:
    """Train for ``steps`` optimizer steps; never raises for a failing model.

    A non-finite loss stops the run (recorded in ``stopped_at``); an exception
    raised by the model or the loss is kept in ``error`` for the checks to read.
    """
    losses = np.full(steps, np.nan)
    terms: dict = {}
    clip_norms = np.full(steps, np.nan) if clip_grad_norm is not None else None
    run = TrainingRun(losses=losses, terms=terms, grad_norms_before_clip=clip_norms,
                      monitor=monitor)
    batches = batch_iterator(X, y, batch_size, shuffle, seed)
    model.train()
    with np.errstate(all="ignore"):  # overflow is what the checks are looking for, not noise
        for step in range(steps):
            X_batch, y_batch = next(batches)
            record: dict = {}
            try:
                if train_step is not None:
                    loss = train_step(model, loss_fn, optimizer, X_batch, y_batch)
                    loss, step_terms = total_loss(loss)
                    record["terms"] = {k: float(v.item()) for k, v in step_terms.items()}
                else:
                    loss = standard_train_step(model, loss_fn, optimizer, X_batch, y_batch,
                                               clip_grad_norm, record)
            except Exception as error:  # noqa: BLE001 - the debugger reports it, not crashes
                run.error = error
                run.stopped_at = step
                break
            value = float(loss.item())
            losses[step] = value
            for name, term in record.get("terms", {}).items():
                terms.setdefault(name, np.full(steps, np.nan))[step] = term
            if clip_norms is not None and "grad_norm_before_clip" in record:
                clip_norms[step] = record["grad_norm_before_clip"]
            if monitor is not None:
                monitor.log(loss=value)
                if getattr(monitor, "optimizer", None) is None:
                    monitor.step()
            run.steps = step + 1
            if stop_on_nonfinite and not math.isfinite(value):
                run.stopped_at = step
                break
    return run


def train_setup(setup, steps: Optional[int] = None, monitor=None) -> TrainingRun:
    """Train ``setup.model`` in place with its optimizer and settings (see ``Setup.train``).

    ``monitor``: an attached ``Monitor`` to record the run (detached at the end), or None.
    """
    X, y, options = data_arrays(setup.train_data, "Setup.train")
    X, y = match_model_dtype(setup.model, X, y)
    try:
        return run_training(setup.model, setup.loss_fn, setup.optimizer, X, y,
                            steps=steps or setup.steps,
                            batch_size=options.get("batch_size", setup.batch_size),
                            shuffle=options.get("shuffle", setup.shuffle), seed=setup.seed,
                            train_step=setup.train_step, clip_grad_norm=setup.clip_grad_norm,
                            monitor=monitor)
    finally:
        if monitor is not None:
            monitor.detach()


# -- the context handed to checks ----------------------------------------------------------------
@dataclass
class DiagnosisContext:
    """Everything a check may read. Checks must not modify ``model`` or ``optimizer``
    (the short run's copies): they experiment on ``fresh_model()`` copies instead."""
    model: Any                   # the working copy, trained by the short run
    loss_fn: Callable
    optimizer: Any               # the working copy's optimizer
    make_optimizer: Callable     # make_optimizer(model_copy) -> a fresh optimizer like the user's
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: Optional[np.ndarray]
    y_val: Optional[np.ndarray]
    task: str                    # "classification" or "regression"
    n_classes: Optional[int]
    batch_size: int
    shuffle: bool
    steps: int
    seed: int
    thresholds: Any              # a Thresholds
    train_step: Optional[Callable] = None
    evaluate: Optional[Callable] = None
    clip_grad_norm: Optional[float] = None
    preprocessing: dict = field(default_factory=dict)
    setup: Any = None            # the Setup this came from (what-if reruns rebuild from it)
    monitor: Any = None          # the Monitor of the short run (None during preflight)
    run: Optional[TrainingRun] = None
    predictions: dict = field(default_factory=dict)  # predicted vs measured, filled by checks
    cache: dict = field(default_factory=dict)        # things several checks need, computed once
    _initial_model: Any = None

    def fresh_model(self):
        """A new copy of the model at its initial (pre-training) state."""
        return copy_model(self._initial_model)

    def train(self, model, steps: int, X=None, y=None, batch_size=None, shuffle=None,
              optimizer=None, monitor=None, train_step="default") -> TrainingRun:
        """Train a copy the way the user's setup trains (same optimizer settings, loop)."""
        X = self.X_train if X is None else X
        y = self.y_train if y is None else y
        return run_training(
            model, self.loss_fn, optimizer or self.make_optimizer(model), X, y, steps=steps,
            batch_size=self.batch_size if batch_size is None else batch_size,
            shuffle=self.shuffle if shuffle is None else shuffle, seed=self.seed,
            train_step=self.train_step if train_step == "default" else train_step,
            clip_grad_norm=self.clip_grad_norm, monitor=monitor)

    def forward(self, model, X: np.ndarray, train_mode: bool = False) -> np.ndarray:
        """The model's output for ``X`` as an array, without recording a graph."""
        was_training = model.training
        model.train(train_mode)
        try:
            with no_grad(), np.errstate(all="ignore"):
                return model(Tensor(X))._data
        finally:
            model.train(was_training)

    def loss_value(self, output: np.ndarray, y: np.ndarray) -> float:
        """The loss of ``output`` against ``y`` as a float (terms summed)."""
        with no_grad(), np.errstate(all="ignore"):
            loss, _ = total_loss(self.loss_fn(Tensor(output), Tensor(y)))
        return float(loss.item())

    def finite_rows(self) -> np.ndarray:
        """Indices of the training samples whose inputs and targets are all finite (every
        sample when none is, or the arrays are not numeric).

        The experiments on a few samples (initial loss, one-batch overfit, gradcheck...)
        draw from these: a NaN row is data.nonfinite's finding, and whether a seeded draw of
        16 samples happened to hold one (nan_inputs: 4 seeds of 5) must not decide theirs."""
        if "finite_rows" not in self.cache:
            n = len(self.X_train)
            try:
                ok = np.ones(n, dtype=bool)
                for array in (self.X_train, self.y_train):
                    values = np.asarray(array)
                    if values.dtype.kind in "fc":
                        ok &= np.isfinite(values.reshape(n, -1)).all(axis=1)
            except (TypeError, ValueError):
                ok = np.ones(n, dtype=bool)
            self.cache["finite_rows"] = np.flatnonzero(ok) if ok.any() else np.arange(n)
        return self.cache["finite_rows"]

    def sample(self, n: int, seed: Optional[int] = None) -> tuple:
        """``n`` training samples with finite values, drawn without replacement (seeded)."""
        rng = np.random.default_rng(self.seed if seed is None else seed)
        rows = self.finite_rows()
        index = rows[rng.choice(len(rows), size=min(n, len(rows)), replace=False)]
        return self.X_train[index], self.y_train[index]
