"""``Monitor``: listens to a training run and keeps its vital signs in NumPy arrays.

Use ``with Monitor(model, optimizer, every=1, bins=32) as monitor:`` around your loop
and call ``monitor.log(loss=loss)`` after each step. Only public hooks: forward hooks
read each leaf module's output (``LAYER_STATS``), tensor hooks its gradient and the
parameters' ``.grad``, the optimizer's step hooks the update (``PARAM_STATS``). Step
``s`` is recorded when ``s % every == 0`` (cost: docs/performance.md).
"""
from __future__ import annotations

import functools
import math
from typing import Optional

import numpy as np

from ..kernels import jit_enabled, stats
from ..nn.module import ROOT_NAME, Module
from ..tensor import Tensor, is_grad_enabled, queue_callback

LAYER_STATS = ("mean", "std", "min", "max", "zero_fraction", "dead_fraction",
               "saturated_fraction", "nonfinite", "grad_rms")
PARAM_STATS = ("grad_norm", "grad_nonfinite", "weight_norm", "update_ratio", "grad_missing")

# layers whose output is bounded: (saturation limits, histogram range)
SATURATION_LIMITS = {"Tanh": (-0.99, 0.99), "Sigmoid": (0.01, 0.99)}
HISTOGRAM_RANGES = {"Tanh": (-1.0, 1.0), "Sigmoid": (0.0, 1.0)}

# The update ratio of a parameter with more entries than SAMPLED_ABOVE is measured
# on a sample of about UPDATE_SAMPLE of them, in blocks of SAMPLE_BLOCK
# consecutive entries (see ``sampled_blocks``).
SAMPLED_ABOVE = 16384
UPDATE_SAMPLE = 8192
SAMPLE_BLOCK = 16  # 64 bytes of float32: one cache line
# A layer's histogram counts the entries of the first HISTOGRAM_SAMPLES samples of
# the batch (minnet.kernels.stats: binning is the dearest statistic of a layer; every
# other statistic covers the whole batch).
HISTOGRAM_SAMPLES = 32
# Whether anything rescaled a gradient between backward and step() is told from
# the sum of squares of its first FINGERPRINT entries (see _grad_norm_at_step).
FINGERPRINT = 4096

_GRAD_RMS = LAYER_STATS.index("grad_rms")
_GRAD_NORM, _GRAD_NONFINITE, _WEIGHT_NORM, _UPDATE_RATIO, _GRAD_MISSING = range(5)
_FORMAT = "minnet.debug.Monitor/1"
_KERNEL_DTYPES = (np.float32, np.float64)  # what minnet.kernels.stats takes


# --------------------------------------------------------------------------
# Storage
# --------------------------------------------------------------------------
class _GrowableArray:
    """An array of rows ``(capacity, *row_shape)`` that doubles its capacity when full.

    Rows never written keep ``fill`` (NaN for statistics: "not recorded").
    """

    def __init__(self, row_shape: tuple = (), dtype=np.float64, fill=np.nan, capacity: int = 64):
        self.fill = fill
        self.array = np.full((capacity, *row_shape), fill, dtype=dtype)

    def at(self, index: int) -> np.ndarray:
        """The whole array, grown so that row ``index`` exists."""
        capacity = len(self.array)
        if index >= capacity:
            grown = np.full((max(2 * capacity, index + 1), *self.array.shape[1:]), self.fill,
                            dtype=self.array.dtype)
            grown[:capacity] = self.array
            self.array = grown
        return self.array

    def first(self, n: int) -> np.ndarray:
        """A copy of rows ``0..n-1`` (missing rows filled)."""
        return self.at(max(n - 1, 0))[:n].copy()


# --------------------------------------------------------------------------
# Statistics of one array (pure functions: easy to test and to read)
# --------------------------------------------------------------------------
def _sum_of_squares(flat: np.ndarray) -> float:
    """sum(x**2) via BLAS; redone in float64 if float32 overflowed."""
    total = float(np.dot(flat, flat))
    if not math.isfinite(total) and flat.dtype != np.float64:
        total = float(np.dot(flat.astype(np.float64), flat.astype(np.float64)))
    return total


def _per_unit(x: np.ndarray) -> np.ndarray:
    """``x`` as (samples, units, positions): unit = feature of (N, F), channel of (N, C, ...)."""
    if x.ndim <= 1:
        return x.reshape(-1, 1, 1)  # one unit observed once per sample
    return x.reshape(x.shape[0], x.shape[1], -1)


@functools.lru_cache(maxsize=1024)  # called for every parameter at every record
def block_stride(shape: tuple) -> int:
    """Every how many blocks of ``SAMPLE_BLOCK`` entries the update ratio is measured.

    0 means "every entry, no sampling": parameters of up to ``SAMPLED_ABOVE``
    entries. Above, the smallest stride that keeps about ``UPDATE_SAMPLE``
    entries and is co-prime with the last dimension and with the entries per
    output unit (``size // shape[0]``), so that the blocks visit every column
    and every unit instead of a lattice of them.
    """
    size = math.prod(shape)
    if size <= SAMPLED_ABOVE:
        return 0
    stride = -(-size // UPDATE_SAMPLE)
    periods = [shape[-1], size // shape[0]] if len(shape) >= 2 else []
    while any(math.gcd(stride, period) != 1 for period in periods):
        stride += 1
    return stride


def sampled_blocks(array: np.ndarray) -> np.ndarray:
    """The entries of ``array`` the update ratio is measured on.

    Small arrays: all of them, 1-D. Large ones: a strided view (blocks, SAMPLE_BLOCK)
    of every ``block_stride``-th block (whole blocks: spaced-out entries would still
    touch every cache line). Copying every weight of a large layer around ``step()``
    was a large share of the Monitor's cost; ~8,192 sampled entries give the ratio
    within about 2% on a log scale.
    """
    flat = array.reshape(-1)
    stride = block_stride(array.shape)
    if stride == 0:
        return flat
    whole = flat.size - flat.size % SAMPLE_BLOCK
    return flat[:whole].reshape(-1, SAMPLE_BLOCK)[::stride]


def unit_active_fraction(x: np.ndarray) -> np.ndarray:
    """Per unit, the fraction of samples (and positions) where it is > 0: shape (units,)."""
    return (_per_unit(np.asarray(x)) > 0).mean(axis=(0, 2))


def _histogram_edges(kind: str, low: float, high: float, bins: int) -> np.ndarray:
    """Fixed edges for a layer: its output's natural range, else the first record's +-span/2."""
    if kind in HISTOGRAM_RANGES:
        low, high = HISTOGRAM_RANGES[kind]
    else:
        if not (math.isfinite(low) and math.isfinite(high)):
            low, high = -1.0, 1.0
        span = high - low
        if not span > 0:  # constant output (e.g. all zeros): still a usable range
            span = abs(high) if high != 0 else 1.0
        low, high = low - span / 2, high + span / 2
    return np.linspace(low, high, bins + 1)


def layer_statistics(x: np.ndarray, kind: str, edges: Optional[np.ndarray]) -> tuple:
    """Statistics of one layer output ``x`` (float32/float64, any shape), in one pass.

    Returns ``(values, counts)``: ``values`` in ``LAYER_STATS`` order (``grad_rms`` NaN,
    filled in backward), ``counts`` the histogram over ``edges`` of the first
    ``HISTOGRAM_SAMPLES`` samples (None if ``edges`` is None). Moments describe the
    finite entries; NaN is in no bin, out-of-range values and +-Inf in the end bins.
    """
    n = x.size
    if edges is None:  # no bins yet: a throwaway single bin
        low_edge, high_edge, bins = 0.0, 1.0, 1
    else:
        low_edge, high_edge, bins = float(edges[0]), float(edges[-1]), len(edges) - 1
    below, above = SATURATION_LIMITS.get(kind, (-math.inf, math.inf))
    activation_stats = (stats.activation_stats_numba if jit_enabled()
                        else stats.activation_stats_reference)
    mean, std, low, high, zeros, nonfinite, saturated, counts, unit_nonzero = \
        activation_stats(x, low_edge, high_edge, bins, below, above, HISTOGRAM_SAMPLES)
    dead_fraction = (unit_nonzero.size - np.count_nonzero(unit_nonzero)) / unit_nonzero.size
    saturated_fraction = saturated / n if kind in SATURATION_LIMITS else np.nan
    values = (mean, std, low, high, zeros / n, dead_fraction, saturated_fraction,
              float(nonfinite), np.nan)
    return values, (None if edges is None else counts)


class _WeightSample:
    """One parameter's sampled entries before ``step()``, in buffers kept from step to step.

    ``view`` is ``sampled_blocks(data)``, a view of the parameter: ``take_before``
    copies it into ``before``; after the step ``squares_after_step`` compares. A
    sampled view is gathered into ``gathered`` first (the kernel wants 1-D contiguous).
    """

    def __init__(self, data: np.ndarray):
        self._read_from(data)
        self.before = np.empty(self.view.shape, data.dtype)
        self.before_flat = self.before.reshape(-1)
        self.gathered = np.empty(self.view.shape, data.dtype) if self.view.ndim == 2 else None
        # the sample's mean square times this is the whole parameter's sum of squares
        self.scale = data.size / self.view.size

    def _read_from(self, data: np.ndarray) -> None:
        """Point the view at ``data`` (the parameter's array may be replaced by a like one)."""
        self.array, self.view = data, sampled_blocks(data)

    def fits(self, data: np.ndarray) -> bool:
        return data.shape == self.array.shape and data.dtype == self.array.dtype

    def take_before(self, data: np.ndarray) -> None:
        if data is not self.array:
            self._read_from(data)
        np.copyto(self.before, self.view)

    def squares_after_step(self, data: np.ndarray, update_squares):
        """``(||update||**2, ||weight||**2, ||weight before||**2)``, or None if ``data``
        no longer fits. Sampled: the update's and the before-weights' squares of the
        sample (their ratio is the estimate), the weight's scaled to every entry."""
        if data is not self.array:
            if not self.fits(data):
                return None
            self._read_from(data)
        if self.gathered is None:
            return update_squares(self.view, self.before_flat)
        np.copyto(self.gathered, self.view)
        update_sq, weight_sq, weight_sq_before = update_squares(self.gathered.reshape(-1),
                                                                self.before_flat)
        return update_sq, weight_sq * self.scale, weight_sq_before


# --------------------------------------------------------------------------
# The monitor
# --------------------------------------------------------------------------
class Monitor:
    """Records per-layer, per-parameter and per-step statistics of a training run.

    Args:
        model: the ``Module`` being trained; every leaf module gets a forward hook.
        optimizer: optional; its step hooks advance ``step_index`` and measure updates.
            Without one, call ``monitor.step()`` after each training step.
        every: record layer/parameter statistics on steps ``0, every, 2*every, ...``.
        bins: number of histogram bins per layer.
    """

    def __init__(self, model: Module, optimizer=None, every: int = 1, bins: int = 32):
        if not isinstance(model, Module):
            raise TypeError(f"Monitor(): model must be a minnet.nn.Module, got "
                            f"{type(model).__name__}. Hint: Monitor(model, optimizer).")
        if optimizer is not None and not hasattr(optimizer, "register_step_post_hook"):
            raise TypeError(f"Monitor(): optimizer must be a minnet.optim.Optimizer (or None), "
                            f"got {type(optimizer).__name__}")
        for option, value in (("every", every), ("bins", bins)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise ValueError(f"Monitor(): {option} must be an integer >= 1, got {value!r}")
        self._init_storage(int(every), int(bins))
        self.model, self.optimizer = model, optimizer
        self._attached = True
        self._handles: list = []         # module and optimizer hooks
        self._output_handles: list = []  # tensor hooks of the current step's layer outputs
        self._grad_fingerprints: Optional[tuple] = None  # (step, squares per parameter)
        self._snapshot_step = -1
        self._callback_queued = False

        modules = dict(model.named_modules())
        for path, module in modules.items():
            if not any(True for _ in module.children()):
                name = _layer_name(path, module)
                hook = module.register_forward_hook(self._make_layer_hook(name, module))
                self._handles.append(hook)
        self._handles.append(model.register_forward_pre_hook(self._on_model_call))
        for name, param in model.named_parameters():
            owner = name.rpartition(".")[0]
            self.param_names.append(name)
            self._params.append(param)
            self.layer_of_param[name] = _layer_name(owner, modules[owner])
        self._param_stats = _GrowableArray((len(self._params), len(PARAM_STATS)))
        self._samples = [None] * len(self._params)
        # gradients left from the previous step are read when this step's backward first
        # reaches a parameter: zero_grad() may come before backward() or after step()
        self._stale_step: Optional[int] = None
        for param in self._params:
            if param.requires_grad:
                self._handles.append(param.register_hook(self._on_parameter_grad))
        if optimizer is not None:
            self._handles.append(optimizer.register_step_pre_hook(self._before_optimizer_step))
            self._handles.append(optimizer.register_step_post_hook(self._after_optimizer_step))

    def _init_storage(self, every: int, bins: int) -> None:
        self.every, self.bins = every, bins
        self.step_index = 0
        self.n_steps = 0
        self.layers: list = []
        self.layer_types: dict = {}
        self.param_names: list = []
        self.layer_of_param: dict = {}
        self.scalar_names: list = []
        self._params: list = []
        self._samples: list = []  # per parameter: a _WeightSample (None: not measured)
        self._forward_step: Optional[int] = None  # step of the latest training forward
        self._record: int = -1                     # its record row, -1 if not recorded
        self._jit = True                           # compiled kernels (MINNET_NO_JIT unset)
        self._n_records = 0
        self._steps = _GrowableArray((), dtype=np.int64, fill=-1)
        self._layer_stats: dict = {}    # layer -> _GrowableArray (records, LAYER_STATS)
        self._histograms: dict = {}     # layer -> _GrowableArray (records, bins) int64
        self._edges: dict = {}          # layer -> (bins + 1,) edges, fixed at first record
        self._last_output: dict = {}    # layer -> output array of the last record
        self._buffers: dict = {}        # layer -> stats.ActivationBuffers (kernel work arrays)
        self._latest_call: dict = {}    # layer -> token of its latest call
        self._unit_activity: dict = {}  # filled only by from_dict
        self._param_stats = _GrowableArray((0, len(PARAM_STATS)))
        self._scalars: dict = {}        # name -> _GrowableArray (steps,)

    # -- attaching and detaching -------------------------------------------------
    def detach(self) -> None:
        """Remove every hook this monitor added (idempotent). Recorded data stays readable."""
        for handle in self._handles + self._output_handles:
            handle.remove()
        self._handles, self._output_handles = [], []
        self._attached = False

    def __enter__(self) -> "Monitor":
        return self

    def __exit__(self, *exc) -> bool:
        self.detach()
        return False

    def __repr__(self) -> str:
        state = "attached" if self._attached else "detached"
        return (f"Monitor({state}, every={self.every}, steps={self.n_steps}, "
                f"records={self._n_records}, layers={len(self.layers)}, "
                f"params={len(self.param_names)})")

    def _repr_html_(self) -> str:
        """How Jupyter shows a Monitor: what it recorded and, per layer, the latest
        activation statistics (findings: ``monitor.findings()``, plots: ``minnet.viz``)."""
        import html
        e = html.escape
        rows = []
        for layer in self.layers:
            stats = self._layer_stats[layer].first(self._n_records)
            if not len(stats):
                continue
            last = stats[-1]
            std, dead = last[LAYER_STATS.index("std")], last[LAYER_STATS.index("dead_fraction")]
            rows.append(f"<tr><td>{e(layer)}</td><td>{std:.4g}</td><td>{dead:.0%}</td></tr>")
        loss = ""
        if "loss" in self.scalar_names:
            values = self.scalar("loss")
            finite = values[np.isfinite(values)]
            if finite.size:
                loss = f"; loss {finite[0]:.4g} -> {finite[-1]:.4g}"
        table = ("<table><tr><th>layer</th><th>activation std (latest)</th>"
                 "<th>dead fraction (latest)</th></tr>" + "".join(rows) + "</table>"
                 if rows else "<p>No layer recorded yet.</p>")
        return (f"<div class='minnet-monitor'><b>{e(repr(self))}</b>"
                f"<p>{self.n_steps} step(s), {self._n_records} record(s){e(loss)}</p>"
                f"{table}</div>")

    # -- the step timeline ---------------------------------------------------------
    def step(self) -> None:
        """Advance ``step_index`` by one (needed only when no optimizer was given)."""
        self._see_step(self.step_index)
        self.step_index += 1

    def _see_step(self, step: int) -> None:
        if step >= self.n_steps:
            self.n_steps = step + 1

    def _is_training_pass(self) -> bool:
        return self._attached and is_grad_enabled() and self.model.training

    def _record_row(self, step: int) -> int:
        """The record row of ``step`` (appended if ``step`` has none yet)."""
        last = self._n_records - 1
        if last >= 0 and self._steps.array[last] == step:
            return last
        row = self._n_records
        self._steps.at(row)[row] = step
        self._n_records += 1
        return row

    def _begin_step(self) -> None:
        """At the first training forward of a step: stale gradients, record row."""
        step = self.step_index
        if self._forward_step == step:
            return
        self._forward_step = step
        self._see_step(step)
        self._output_handles = []  # the previous step's graph is gone with its hooks
        self._callback_queued = False
        if step % self.every == 0:
            self._record = self._record_row(step)
            self._jit = jit_enabled()  # read once a record: it looks at the environment
            self._stale_step = step    # stale_grad_norm: read by the first parameter gradient
        else:
            self._record = -1

    def _on_parameter_grad(self, grad) -> None:
        """The first parameter gradient of a recorded step's backward: every ``.grad`` still
        holds what was there before this backward (leaves accumulate after their hooks), so
        a non-zero norm is the previous step's gradient, about to be added to."""
        step = self._stale_step
        if step is not None and step == self.step_index and self._attached:
            self._stale_step = None
            self._set_scalar("stale_grad_norm", step, self._global_grad_norm())
        return None

    # -- hooks ---------------------------------------------------------------------------
    # They run on every training step, so they stay lean: an unrecorded step returns
    # after a few comparisons, and a recorded one reads each array once.
    def _on_model_call(self, module, args) -> None:
        if self._is_training_pass():
            self._begin_step()

    def _make_layer_hook(self, name: str, module: Module):
        kind = type(module).__name__

        def on_output(module, args, output):
            if not isinstance(output, Tensor) or not self._is_training_pass():
                return None
            if self._forward_step != self.step_index:
                self._begin_step()
            if name not in self.layer_types:
                self._add_layer(name, kind)
            record = self._record
            if record < 0:  # an unrecorded step: nothing to read
                return None
            call = self._latest_call[name] = object()  # so the last call's gradient wins
            row = self._record_layer(name, kind, output.numpy(), record)
            if output.requires_grad:
                self._output_handles.append(
                    output.register_hook(self._make_grad_hook(name, record, call, row)))
            return None

        return on_output

    def _make_grad_hook(self, name: str, record: int, call: object, row):
        """The tensor hook of a layer output: ``row`` is the record's row of the layer's
        statistics (a view: valid while the table has not grown), None to look it up."""
        def on_output_grad(grad):
            if not self._attached:
                return None
            if self._latest_call[name] is call:
                flat = grad.numpy().reshape(-1)
                rms = math.sqrt(_sum_of_squares(flat) / flat.size) if flat.size else np.nan
                table = self._layer_stats[name]
                if row is None or row.base is not table.array:  # grown since: look it up
                    table.at(record)[record, _GRAD_RMS] = rms
                else:
                    row[_GRAD_RMS] = rms
            if not self._callback_queued:
                self._callback_queued = True
                queue_callback(self._on_backward_end)
            return None

        return on_output_grad

    def _on_backward_end(self) -> None:
        """Read every parameter's ``.grad`` once the backward pass has finished."""
        self._callback_queued = False
        record = self._record
        if not self._attached or self._forward_step is None or record < 0:
            return
        rows = self._param_stats.at(record)[record]
        total = 0.0
        fingerprints = []  # did anything change the gradients before step()?
        for j, param in enumerate(self._params):
            grad = param.grad
            if grad is None:
                rows[j, _GRAD_NORM], rows[j, _GRAD_NONFINITE] = np.nan, 0.0
                rows[j, _GRAD_MISSING] = float(param.requires_grad)
                fingerprints.append(None)
                continue
            flat = grad.numpy().reshape(-1)
            squares = _sum_of_squares(flat)
            fingerprints.append(squares if flat.size <= FINGERPRINT
                                else _sum_of_squares(flat[:FINGERPRINT]))
            total += squares
            finite = math.isfinite(squares)
            rows[j, _GRAD_NORM] = math.sqrt(squares)
            rows[j, _GRAD_NONFINITE] = 0 if finite else flat.size - np.count_nonzero(
                np.isfinite(flat))
            rows[j, _GRAD_MISSING] = float(param.requires_grad and squares == 0)
            if self.optimizer is None:
                rows[j, _WEIGHT_NORM] = math.sqrt(_sum_of_squares(param.numpy().reshape(-1)))
        self._set_scalar("grad_norm_total", self._forward_step, math.sqrt(total))
        self._grad_fingerprints = (self._forward_step, fingerprints)

    def _before_optimizer_step(self, optimizer, args, kwargs) -> None:
        step = self.step_index
        self._see_step(step)
        for i, group in enumerate(optimizer.param_groups):
            self._set_scalar("lr" if i == 0 else f"lr/{i}", step, float(group["lr"]))
        if step % self.every == 0:
            self._set_scalar("grad_norm_at_step", step, self._grad_norm_at_step(step))
            self._snapshot_weights()
            self._snapshot_step = step
        return None

    def _after_optimizer_step(self, optimizer, args, kwargs) -> None:
        step = self.step_index
        if self._snapshot_step == step:
            record = self._record_row(step)
            rows = self._param_stats.at(record)[record]
            update_squares = (stats.update_squares_numba if self._jit
                              else stats.update_squares_reference)
            for j, (param, sample) in enumerate(zip(self._params, self._samples)):
                data = param.numpy()
                measured = None if sample is None else sample.squares_after_step(data,
                                                                                 update_squares)
                if measured is None:
                    # replaced by a parameter of another size or dtype, or float16: no ratio
                    rows[j, _WEIGHT_NORM] = math.sqrt(_sum_of_squares(data.reshape(-1)))
                    continue
                update_sq, weight_sq, weight_sq_before = measured
                rows[j, _WEIGHT_NORM] = math.sqrt(weight_sq)
                rows[j, _UPDATE_RATIO] = _ratio(math.sqrt(update_sq), math.sqrt(weight_sq_before))
        self._snapshot_step = -1
        self.step_index = step + 1

    def _global_grad_norm(self) -> float:
        """The global L2 norm of every parameter's ``.grad`` now (None counts as 0).

        Read at the optimizer's pre-step hook it is the gradient ``step()`` will use:
        below ``grad_norm_total`` (end of backward) when the loop clipped or rescaled
        the gradients in between, so clipping shows whoever does it.
        """
        total = 0.0
        for param in self._params:
            grad = param.grad
            if grad is not None:
                total += _sum_of_squares(grad.numpy().reshape(-1))
        return math.sqrt(total)

    def _grad_norm_at_step(self, step: int) -> float:
        """The global gradient norm ``step()`` is about to use.

        If the squares of every gradient's first ``FINGERPRINT`` entries are those the
        end of backward saw, nothing rescaled them (clipping changes every entry) and
        the norm is ``grad_norm_total``; otherwise it is measured again in full. A
        change confined to later entries of a large gradient goes unseen.
        """
        recorded = self._grad_fingerprints
        if recorded is None or recorded[0] != step:
            return self._global_grad_norm()
        for param, squares in zip(self._params, recorded[1]):
            grad = param.grad
            if grad is None or squares is None:
                if grad is None and squares is None:
                    continue
                return self._global_grad_norm()
            if _sum_of_squares(grad.numpy().reshape(-1)[:FINGERPRINT]) != squares:
                return self._global_grad_norm()
        return float(self._scalars["grad_norm_total"].array[step])

    def _snapshot_weights(self) -> None:
        """Copy every parameter's sampled entries (``sampled_blocks``) into buffers kept
        from step to step (np.copyto: no new arrays)."""
        for j, param in enumerate(self._params):
            data = param.numpy()
            sample = self._samples[j]
            if sample is not None and data is sample.array:  # the usual case: same array
                np.copyto(sample.before, sample.view)
                continue
            if sample is None or not sample.fits(data):
                sample = self._samples[j] = (_WeightSample(data) if data.dtype in _KERNEL_DTYPES
                                             else None)
            if sample is not None:
                sample.take_before(data)

    # -- recording -------------------------------------------------------------------
    def _add_layer(self, name: str, kind: str) -> None:
        self.layers.append(name)
        self.layer_types[name] = kind
        self._layer_stats[name] = _GrowableArray((len(LAYER_STATS),))
        self._histograms[name] = _GrowableArray((self.bins,), dtype=np.int64, fill=0)

    def _record_layer(self, name: str, kind: str, x: np.ndarray, record: int):
        """Write the statistics of output ``x`` into record ``record``; returns that row
        of the layer's table (None for an empty output)."""
        if x.dtype.char not in "fd":  # integers, bools, float16: the kernels take float32/64
            x = x.astype(np.float64)
        if x.size == 0:
            return None
        edges = self._edges.get(name)
        if edges is None:  # first record: fix the bins from this output's range
            values = layer_statistics(x, kind, None)[0]
            edges = self._edges[name] = _histogram_edges(kind, values[2], values[3], self.bins)
        counts = self._histograms[name].at(record)[record]
        row = self._layer_stats[name].at(record)[record]
        if self._jit:
            # the compiled kernel writes LAYER_STATS but grad_rms straight into the row,
            # with settings and work arrays kept per layer: a record allocates nothing
            buffers = self._buffers.get(name)
            if buffers is None or not buffers.fits(x):
                below, above = SATURATION_LIMITS.get(kind, (-math.inf, math.inf))
                buffers = self._buffers[name] = stats.ActivationBuffers(
                    x, self.bins, edges[0], edges[-1], below, above, HISTOGRAM_SAMPLES)
            stats.activation_stats_into(x, buffers, counts, row[:_GRAD_RMS])
            row[_GRAD_RMS] = np.nan  # until the backward pass
        else:
            values, counts[:] = layer_statistics(x, kind, edges)
            row[:] = values
        self._last_output[name] = x
        return row

    def log(self, **scalars) -> None:
        """Record scalars (floats or 0-d Tensors) for the step of the latest training forward.

        ``monitor.log(loss=loss, accuracy=0.9)``; logging after ``optimizer.step()``
        still lands on the step that computed them.
        """
        step = self.step_index if self._forward_step is None else self._forward_step
        for name, value in scalars.items():
            self._set_scalar(name, step, _as_float(name, value))

    def _set_scalar(self, name: str, step: int, value: float) -> None:
        column = self._scalars.get(name)
        if column is None:
            column = self._scalars[name] = _GrowableArray(())
            self.scalar_names.append(name)
        array = column.array
        if step >= len(array):
            array = column.at(step)
        array[step] = value
        if step >= self.n_steps:
            self.n_steps = step + 1

    # -- reading ---------------------------------------------------------------------
    @property
    def steps(self) -> np.ndarray:
        """The recorded step indices, shape (n_records,)."""
        return self._steps.first(self._n_records)

    def activation(self, layer: str, stat: str) -> np.ndarray:
        """One statistic of a layer's output per recorded step, shape (n_records,)."""
        table = self._layer_stats[self._check_layer(layer)]
        return table.first(self._n_records)[:, _check_stat(stat, LAYER_STATS, "activation")]

    def histogram(self, layer: str) -> tuple:
        """``(counts (n_records, bins) int64, edges (bins + 1,))`` of a layer's output
        (the entries of the batch's first ``HISTOGRAM_SAMPLES`` samples)."""
        layer = self._check_layer(layer)
        edges = self._edges.get(layer)
        edges = np.full(self.bins + 1, np.nan) if edges is None else edges.copy()
        return self._histograms[layer].first(self._n_records), edges

    def unit_activity(self, layer: str) -> np.ndarray:
        """Per unit, the fraction of samples where it was > 0, at the last record."""
        layer = self._check_layer(layer)
        if layer in self._last_output:
            return unit_active_fraction(self._last_output[layer])
        return np.asarray(self._unit_activity.get(layer, np.zeros(0)), dtype=np.float64).copy()

    def param(self, name: str, stat: str) -> np.ndarray:
        """One statistic of a parameter per recorded step, shape (n_records,)."""
        if name not in self.param_names:
            raise KeyError(f"Monitor.param(): no parameter {name!r}; the model has "
                           f"{self.param_names}")
        column = _check_stat(stat, PARAM_STATS, "param")
        return self._param_stats.first(self._n_records)[:, self.param_names.index(name), column]

    def scalar(self, name: str) -> np.ndarray:
        """A per-step scalar for steps 0..n_steps-1 (NaN where it was not logged)."""
        if name not in self._scalars:
            raise KeyError(f"Monitor.scalar(): nothing recorded under {name!r}; recorded: "
                           f"{self.scalar_names}. Hint: monitor.log({name}=value).")
        return self._scalars[name].first(self.n_steps)

    def findings(self, thresholds: Optional[dict] = None) -> list:
        """The run checks that need only a Monitor, on what was recorded (a list of
        ``Finding``s; ``thresholds``: overrides by name, as for ``diagnose``)."""
        from .checks import monitor_findings
        return monitor_findings(self, thresholds)

    def _check_layer(self, layer: str) -> str:
        if layer not in self._layer_stats:
            hint = ("no training forward pass was recorded yet" if not self.layers
                    else f"recorded layers: {self.layers}")
            raise KeyError(f"Monitor: no layer {layer!r} ({hint})")
        return layer

    # -- saving ------------------------------------------------------------------------
    def to_dict(self) -> dict:
        """Everything recorded, as plain lists and dicts (ready for JSON)."""
        n = self._n_records
        layer_stats = {}
        histograms = {}
        for layer in self.layers:
            table = self._layer_stats[layer].first(n)
            layer_stats[layer] = {stat: table[:, i].tolist() for i, stat in enumerate(LAYER_STATS)}
            counts, edges = self.histogram(layer)
            histograms[layer] = {"counts": counts.tolist(), "edges": edges.tolist()}
        params = self._param_stats.first(n)
        return {
            "format": _FORMAT,
            "every": self.every, "bins": self.bins,
            "step_index": self.step_index, "n_steps": self.n_steps,
            "steps": self.steps.tolist(),
            "layers": list(self.layers), "layer_types": dict(self.layer_types),
            "layer_stats": layer_stats, "histograms": histograms,
            "unit_activity": {layer: self.unit_activity(layer).tolist() for layer in self.layers},
            "param_names": list(self.param_names), "layer_of_param": dict(self.layer_of_param),
            "param_stats": {name: {stat: params[:, j, i].tolist()
                                   for i, stat in enumerate(PARAM_STATS)}
                            for j, name in enumerate(self.param_names)},
            "scalars": {name: self.scalar(name).tolist() for name in self.scalar_names},
        }

    @classmethod
    def from_dict(cls, data: dict) -> "Monitor":
        """A detached, read-only Monitor rebuilt from ``to_dict()``'s output."""
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            raise ValueError(f"Monitor.from_dict(): expected a dict made by Monitor.to_dict() "
                             f"(format {_FORMAT!r}), got "
                             f"{data.get('format') if isinstance(data, dict) else type(data)}")
        monitor = cls.__new__(cls)
        monitor._init_storage(int(data["every"]), int(data["bins"]))
        monitor.model = monitor.optimizer = None
        monitor._attached = False
        monitor._handles, monitor._output_handles = [], []
        monitor.step_index, monitor.n_steps = int(data["step_index"]), int(data["n_steps"])
        steps = np.asarray(data["steps"], dtype=np.int64)
        n = monitor._n_records = len(steps)
        monitor._steps.at(n)[:n] = steps
        for layer in data["layers"]:
            monitor._add_layer(layer, data["layer_types"][layer])
            stats = data["layer_stats"][layer]
            monitor._layer_stats[layer].at(n)[:n] = np.array(
                [stats[stat] for stat in LAYER_STATS], dtype=np.float64).T.reshape(n, -1)
            histogram = data["histograms"][layer]
            counts = np.asarray(histogram["counts"], dtype=np.int64).reshape(n, monitor.bins)
            monitor._histograms[layer].at(n)[:n] = counts
            edges = np.asarray(histogram["edges"], dtype=np.float64)
            if not np.isnan(edges).all():
                monitor._edges[layer] = edges
            monitor._unit_activity[layer] = np.asarray(data["unit_activity"][layer], np.float64)
        monitor.param_names = list(data["param_names"])
        monitor.layer_of_param = dict(data["layer_of_param"])
        monitor._param_stats = _GrowableArray((len(monitor.param_names), len(PARAM_STATS)))
        table = monitor._param_stats.at(n)
        for j, name in enumerate(monitor.param_names):
            for i, stat in enumerate(PARAM_STATS):
                table[:n, j, i] = data["param_stats"][name][stat]
        for name, values in data["scalars"].items():
            column = monitor._scalars[name] = _GrowableArray(())
            column.at(len(values))[:len(values)] = values
            monitor.scalar_names.append(name)
        return monitor


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------
def _layer_name(path: str, module: Module) -> str:
    """``"0 (Linear)"``: the module's path in ``named_modules`` and its type.

    Graph nodes record the same module as ``"model.0 (Linear)"`` (the outermost
    module is called ``model`` there); the model itself, when it is a leaf,
    is ``"model (Linear)"`` here too.
    """
    return f"{path or ROOT_NAME} ({type(module).__name__})"


def _ratio(update_norm: float, weight_norm: float) -> float:
    if weight_norm > 0:
        return update_norm / weight_norm
    return math.inf if update_norm > 0 else np.nan  # a zero weight that moved / did not


def _check_stat(stat: str, known: tuple, method: str) -> int:
    if stat not in known:
        raise KeyError(f"Monitor.{method}(): unknown statistic {stat!r}; expected one of {known}")
    return known.index(stat)


def _as_float(name: str, value) -> float:
    if isinstance(value, Tensor):
        value = value.numpy()
    array = np.asarray(value)
    if array.size != 1 or array.dtype.kind not in "biuf":
        raise TypeError(f"Monitor.log(): {name} must be a number or a one-element Tensor, got "
                        f"{type(value).__name__} of shape {array.shape}. Hint: log loss.item() "
                        f"or a mean, not a whole batch.")
    return float(array.reshape(()))
