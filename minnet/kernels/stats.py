"""Statistics the Monitor takes every step, each in a single pass (for ``minnet.debug.Monitor``).

Activations
-----------

``activation_stats(x, hist_low, hist_high, bins, saturation_low, saturation_high,
hist_samples=None)`` describes an output ``x`` of any float shape and returns

    (mean, std, low, high, zeros, nonfinite, saturated, counts, unit_nonzero)

* ``mean``, ``std`` (population std), ``low``, ``high``: of the finite
  entries (NaN when there are none);
* ``zeros``: entries exactly 0; ``nonfinite``: NaN or +-Inf entries;
  ``saturated``: entries ``< saturation_low`` or ``> saturation_high``
  (pass -inf/inf to count none);
* ``counts`` (bins,) int64: entries in ``bins`` equal bins between
  ``hist_low`` and ``hist_high``; values below/above land in the end bins
  (+-Inf too), NaN in none. Only the entries of the first ``hist_samples``
  samples (``x[:hist_samples]``; all when None) are counted: binning is the
  dearest statistic (a scattered increment per entry), and the shape of a
  distribution is drawn as well from 32 samples as from 128;
* ``unit_nonzero`` (units,) bool: whether the unit was ever != 0 over the
  batch. A unit is a feature of an (N, F) output, a channel of (N, C, H, W)
  (axis 1 in general); a 0-d or 1-D output is one unit. A unit that is 0
  for every sample (and position) is "dead".

Two versions give the same numbers up to float rounding:

* ``activation_stats_reference`` -- plain NumPy, one line per statistic:
  about ten passes over the output;
* ``activation_stats_numba`` -- one compiled loop that reads each entry once.
  On a 128 x 256 float32 layer output the reference takes about 700 us,
  the kernel about 30 (benchmarks/bench_monitor.py measures the Monitor).

The Monitor calls the compiled loop through ``activation_stats_into(x,
buffers, counts)``: the settings and output arrays live in an
``ActivationBuffers`` made once per layer, the histogram goes straight into
the Monitor's storage row, and nothing is returned but the buffers' results
array -- on small layers the call's overhead, not the loop, was the cost.

Updates
-------
``update_squares(after, before)`` -> ``(||after - before||**2, ||after||**2, ||before||**2)``
for a parameter after and before ``optimizer.step()`` (1-D arrays of one shape and
dtype: the Monitor's snapshots are made from the parameters), summed in float64:
the update ratio and the weight norm in one read of both arrays.

Accuracy: the activation sums run in float64 on entries shifted by the first finite
entry, ``sum(x - K)`` and ``sum((x - K)**2)``. Shifting keeps the variance
``E[(x-K)^2] - E[x-K]^2`` from cancelling away when the mean is large
against the spread (the textbook one-pass formula's weakness); float64
keeps float32 outputs' sums exact enough without a second pass.
"""
from __future__ import annotations

import math

import numba
import numpy as np

# Entries handled side by side; each has its own accumulators and its own
# copy of the histogram (a run of equal values, a ReLU's zeros, would
# otherwise make every increment wait for the previous one to reach memory).
_LANES = 8


# --------------------------------------------------------------------------
# NumPy reference
# --------------------------------------------------------------------------
def activation_stats_reference(x, hist_low, hist_high, bins, saturation_low, saturation_high,
                               hist_samples=None):
    """See the module docstring; plain NumPy."""
    x = _checked(x, bins, hist_low, hist_high)
    flat = x.reshape(-1).astype(np.float64)
    finite = flat[np.isfinite(flat)]
    if finite.size:
        mean, std = float(finite.mean()), float(finite.std())
        low, high = float(finite.min()), float(finite.max())
    else:
        mean = std = low = high = math.nan
    zeros = int(np.count_nonzero(flat == 0))
    nonfinite = flat.size - finite.size
    own = x.reshape(-1)  # thresholds compared in the array's dtype, as NumPy does
    real = x.dtype.type
    saturated = int(np.count_nonzero((own < real(saturation_low)) | (own > real(saturation_high))))

    binned = _as_units(x)[:hist_samples].reshape(-1).astype(np.float64)
    in_bin_units = (binned[~np.isnan(binned)] - hist_low) * (bins / (hist_high - hist_low))
    index = np.clip(in_bin_units, 0, bins - 1).astype(np.int64)  # truncation = floor here
    counts = np.bincount(index, minlength=bins).astype(np.int64)

    unit_nonzero = (_as_units(x) != 0).any(axis=(0, 2))
    return mean, std, low, high, zeros, nonfinite, saturated, counts, unit_nonzero


# --------------------------------------------------------------------------
# Numba kernel
# --------------------------------------------------------------------------
def activation_stats_numba(x, hist_low, hist_high, bins, saturation_low, saturation_high,
                           hist_samples=None):
    """Same contract as ``activation_stats_reference``; one compiled pass over the entries."""
    x = _checked(x, bins, hist_low, hist_high)
    buffers = ActivationBuffers(x, int(bins), hist_low, hist_high, saturation_low, saturation_high,
                                hist_samples)
    counts = np.empty(int(bins), np.int64)
    mean, std, low, high, zeros, _, saturated, nonfinite = activation_stats_into(x, buffers, counts)
    return (float(mean), float(std), float(low), float(high), int(zeros), int(nonfinite),
            int(saturated), counts, buffers.unit_nonzero)


class ActivationBuffers:
    """The settings and output arrays of ``activation_stats_into`` for one output shape.

    The Monitor keeps one per layer and reuses it every record, so a call
    passes five arrays and gets nothing back (a Numba call that takes eight
    arguments and returns two arrays costs several microseconds; the loop
    itself, for a 128 x 10 output, about two).

    * ``settings`` (6,) float64: hist_low, bins per unit of x, saturation
      low/high (rounded to x's dtype, as NumPy compares them), entries per
      sample, samples histogrammed;
    * ``unit_nonzero`` (units,) bool: whether each unit was ever != 0;
    * ``results`` (8,) float64: mean, std, low, high, zeros, dead units,
      saturated, nonfinite (counts as floats).
    """

    def __init__(self, x: np.ndarray, bins: int, hist_low: float, hist_high: float,
                 saturation_low: float, saturation_high: float, hist_samples=None):
        self.shape, self.dtype, self.bins = x.shape, x.dtype, bins
        real = x.dtype.type
        units = _as_units(x)
        samples = units.shape[0] if hist_samples is None else min(int(hist_samples),
                                                                  units.shape[0])
        self.settings = np.array([hist_low, bins / (float(hist_high) - float(hist_low)),
                                  real(saturation_low), real(saturation_high),
                                  units.shape[1] * units.shape[2], samples], dtype=np.float64)
        self.unit_nonzero = np.empty(units.shape[1], np.bool_)
        self.results = np.empty(8)

    def fits(self, x: np.ndarray) -> bool:
        """Whether these buffers were made for an array of ``x``'s shape and dtype."""
        return x.shape == self.shape and x.dtype == self.dtype


def activation_stats_into(x, buffers, counts) -> np.ndarray:
    """``activation_stats`` with the settings and outputs in ``buffers``; fills ``counts``.

    ``buffers``: an ``ActivationBuffers`` made for ``x``'s shape and dtype with
    ``counts.size`` bins. Returns ``buffers.results`` (8,) float64: mean, std,
    low, high, zeros, dead units, saturated, nonfinite; fills ``buffers.unit_nonzero``.
    """
    _stats_into(x.ravel(), buffers.settings, counts, buffers.unit_nonzero,
                buffers.results)  # ravel: a view of a C-contiguous x, else a copy
    return buffers.results


@numba.njit(cache=True)
def _stats_into(flat, settings, counts, unit_nonzero, results):
    """Every statistic in one pass over ``flat`` = the (samples, units, positions) array.

    The pass walks the output sample by sample. Each column (unit, position)
    of a sample's row has its own accumulators, so the row loop is an
    element-by-element update of arrays, which the compiler turns into vector
    instructions (it may not reorder a single running sum: that would change
    its rounding). The columns are combined at the end. For the first
    ``binned_samples`` samples the histogram is counted right after the row: a
    vector loop computes the bins, a second loop adds them up.
    The accumulators are allocated here: separate new arrays are what lets the
    compiler vectorize (views of one preallocated block might overlap).
    """
    n = flat.shape[0]
    n_units = unit_nonzero.shape[0]
    bins = counts.shape[0]
    hist_low, bin_scale = settings[0], settings[1]
    saturation_low, saturation_high = settings[2], settings[3]
    row = np.int64(settings[4])  # entries per sample: units * positions
    samples = n // row if row else 0
    binned_samples = np.int64(settings[5])
    positions = row // n_units if n_units else 0
    shift = 0.0  # K: the first finite entry
    for i in range(n):
        if math.isfinite(flat[i]):
            shift = np.float64(flat[i])
            break
    count_saturation = saturation_low > -np.inf or saturation_high < np.inf
    top_bin = np.float64(bins - 1)
    total = np.zeros(row)
    total_sq = np.zeros(row)
    low = np.full(row, np.inf)
    high = np.full(row, -np.inf)
    zeros = np.zeros(row, np.int64)   # per column: also tells the dead units
    saturated = np.zeros(row, np.int64)
    bin_of = np.empty(row, np.int64)
    histogram = np.zeros((_LANES, bins + 1), np.int64)  # column ``bins``: NaN, dropped
    for sample in range(samples):
        start = sample * row
        for j in range(row):
            v = flat[start + j]
            value = np.float64(v)
            d = value - shift
            total[j] += d
            total_sq[j] += d * d
            low[j] = min(low[j], value)
            high[j] = max(high[j], value)
            zeros[j] += v == 0
        if count_saturation:
            for j in range(row):
                value = np.float64(flat[start + j])
                saturated[j] += (value < saturation_low) | (value > saturation_high)
        if sample < binned_samples:
            for j in range(row):
                value = np.float64(flat[start + j])
                t = (value - hist_low) * bin_scale
                t = max(min(t, top_bin), 0.0)
                bin_of[j] = np.int64(t) if value == value else bins  # NaN: in no bin
            for j in range(row):
                histogram[j & (_LANES - 1), bin_of[j]] += 1
    for b in range(bins):
        counts[b] = 0
        for lane in range(_LANES):
            counts[b] += histogram[lane, b]
    dead = 0
    for unit in range(n_units):
        alive = False
        for p in range(positions):
            alive |= zeros[unit * positions + p] < samples
        unit_nonzero[unit] = alive
        dead += not alive
    n_zeros = zeros.sum()
    n_saturated = saturated.sum()
    sum_shifted = total.sum()
    sum_sq_shifted = total_sq.sum()
    lowest = low.min() if row else np.inf
    highest = high.max() if row else -np.inf
    nonfinite = 0
    if not math.isfinite(sum_sq_shifted):
        # NaN or +-Inf somewhere (or float64 overflow): redo the moments over the finite entries
        sum_shifted = sum_sq_shifted = 0.0
        lowest, highest = np.inf, -np.inf
        for i in range(n):
            value = np.float64(flat[i])
            if math.isfinite(value):
                d = value - shift
                sum_shifted += d
                sum_sq_shifted += d * d
                lowest = min(lowest, value)
                highest = max(highest, value)
            else:
                nonfinite += 1
    count = n - nonfinite
    results[4], results[5], results[6], results[7] = n_zeros, dead, n_saturated, nonfinite
    if count == 0:
        results[0] = results[1] = results[2] = results[3] = np.nan
        return
    mean_shifted = sum_shifted / count
    variance = max(sum_sq_shifted / count - mean_shifted * mean_shifted, 0.0)
    results[0] = shift + mean_shifted
    results[1] = math.sqrt(variance)
    results[2] = lowest
    results[3] = highest


# --------------------------------------------------------------------------
# update norms
# --------------------------------------------------------------------------
def update_squares_reference(after, before):
    """``(||after - before||**2, ||after||**2, ||before||**2)``: 1-D arrays of one dtype, unchecked."""
    a, b = after.astype(np.float64), before.astype(np.float64)
    d = a - b
    return float(np.dot(d, d)), float(np.dot(a, a)), float(np.dot(b, b))


def update_squares_numba(after, before):
    """Same as ``update_squares_reference``, in one compiled pass over both arrays.

    Unchecked: for callers that know both arrays are contiguous, 1-D, float32/float64
    and alike (the Monitor: its snapshots are made from the parameters).
    """
    return _update_squares_loop(after, before)


_COLUMNS = 64  # entries summed side by side (see _stats_loop's docstring)


@numba.njit(cache=True)
def _update_squares_loop(after, before):
    n = after.shape[0]
    update_sq = np.zeros(_COLUMNS)
    after_sq = np.zeros(_COLUMNS)
    before_sq = np.zeros(_COLUMNS)
    whole = n - n % _COLUMNS
    for start in range(0, whole, _COLUMNS):
        for j in range(_COLUMNS):
            a = np.float64(after[start + j])
            b = np.float64(before[start + j])
            update_sq[j] += (a - b) * (a - b)
            after_sq[j] += a * a
            before_sq[j] += b * b
    for i in range(whole, n):
        a = np.float64(after[i])
        b = np.float64(before[i])
        update_sq[0] += (a - b) * (a - b)
        after_sq[0] += a * a
        before_sq[0] += b * b
    return update_sq.sum(), after_sq.sum(), before_sq.sum()


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------
def _checked(x, bins, hist_low, hist_high) -> np.ndarray:
    x = np.asarray(x)
    if x.dtype not in (np.float32, np.float64):
        raise TypeError(f"activation_stats: x must be float32 or float64, got {x.dtype}. "
                        f"Hint: x.astype(np.float64).")
    if int(bins) < 1 or not float(hist_high) > float(hist_low):
        raise ValueError(f"activation_stats: need bins >= 1 and hist_low < hist_high, got "
                         f"bins={bins}, range=({hist_low}, {hist_high})")
    return x


def _as_units(x: np.ndarray) -> np.ndarray:
    """``x`` as (samples, units, positions): unit = axis 1; 0-d/1-D outputs are one unit."""
    if x.ndim <= 1:
        return x.reshape(-1, 1, 1)
    return x.reshape(x.shape[0], x.shape[1], -1)
