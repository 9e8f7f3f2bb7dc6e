"""The statistics ``minnet.debug.Monitor`` takes at every record, each in one pass.

``activation_stats(x, hist_low, hist_high, bins, saturation_low, saturation_high,
hist_samples=None)`` -> ``(mean, std, low, high, zeros, nonfinite, saturated, counts,
unit_nonzero)`` of a layer output (finite entries' moments; ``counts`` (bins,) a histogram;
``unit_nonzero`` (units,): was each unit (axis 1) ever != 0). ``update_squares(after,
before)`` -> float64 squared norms of ``after - before``, ``after``, ``before``. NumPy
``*_reference`` and Numba ``*_numba`` agree up to rounding; sums are shifted by the
first finite entry so the one-pass variance does not cancel.
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
    mean, std, low, high = activation_stats_into(x, buffers, counts)[:4]
    zeros, _, saturated, nonfinite = buffers.tallies
    return (float(mean), float(std), float(low), float(high), int(zeros), int(nonfinite),
            int(saturated), counts, buffers.unit_nonzero)


class ActivationBuffers:
    """The settings and output arrays of ``activation_stats_into`` for one output shape.

    Made once per layer and reused, so a record passes arrays and allocates nothing
    (on small layers the call's overhead, not the loop, was the cost).
    ``settings`` (6,): hist_low, bins per unit of x, saturation low/high (rounded to
    x's dtype, as NumPy compares), entries per sample, samples histogrammed;
    ``unit_nonzero`` (units,) bool; ``tallies`` (4,) int64: zeros, dead units,
    saturated, nonfinite; ``results`` (8,): see ``activation_stats_into``.
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
        self.tallies = np.empty(4, np.int64)
        self.results = np.empty(8)

    def fits(self, x: np.ndarray) -> bool:
        """Whether these buffers were made for an array of ``x``'s shape and dtype."""
        return x.shape == self.shape and x.dtype == self.dtype


def activation_stats_into(x, buffers, counts, results=None) -> np.ndarray:
    """``activation_stats`` with the settings and outputs in ``buffers``; fills ``counts``.

    ``buffers``: an ``ActivationBuffers`` made for ``x``'s shape and dtype with
    ``counts.size`` bins. Writes into ``results`` (8,) float64 (default
    ``buffers.results``; the Monitor passes its record's row) and returns it: mean, std,
    low, high, then the fractions of zero entries, dead units and saturated entries
    (NaN when both saturation limits are infinite), then the count of NaN/Inf entries.
    Also fills ``buffers.unit_nonzero`` and ``buffers.tallies``.
    """
    if results is None:
        results = buffers.results
    _stats_into(x.ravel(), buffers.settings, counts, buffers.unit_nonzero, buffers.tallies,
                results)  # ravel: a view of a C-contiguous x, else a copy
    return results


@numba.njit(cache=True)
def _stats_into(flat, settings, counts, unit_nonzero, tallies, results):
    """Every statistic in one pass over ``flat``, the (samples, units, positions) array.

    Each column (unit, position) has its own accumulators, so the loop over a row updates
    arrays element by element and compiles to vector instructions (a single running sum
    may not be reordered); rows are taken four at a time. Extremes and zero counts stay
    in x's dtype and int32: narrower lanes, more entries per instruction.
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
    low = np.full(row, np.inf, flat.dtype)
    high = np.full(row, -np.inf, flat.dtype)
    zeros = np.zeros(row, np.int32)   # per column: also tells the dead units
    saturated = np.zeros(row, np.int32)
    bin_of = np.empty(row, np.int64)
    histogram = np.zeros((_LANES, bins + 1), np.int64)  # column ``bins``: NaN, dropped
    # four samples at a time: each accumulator is read and written once per four entries
    whole = samples - samples % 4
    for sample in range(0, whole, 4):
        a = sample * row
        b, c, e = a + row, a + 2 * row, a + 3 * row
        for j in range(row):
            v0, v1, v2, v3 = flat[a + j], flat[b + j], flat[c + j], flat[e + j]
            d0, d1 = np.float64(v0) - shift, np.float64(v1) - shift
            d2, d3 = np.float64(v2) - shift, np.float64(v3) - shift
            total[j] += (d0 + d1) + (d2 + d3)
            total_sq[j] += (d0 * d0 + d1 * d1) + (d2 * d2 + d3 * d3)
            low[j] = min(low[j], min(min(v0, v1), min(v2, v3)))
            high[j] = max(high[j], max(max(v0, v1), max(v2, v3)))
            zeros[j] += (np.int32(v0 == 0) + np.int32(v1 == 0)) + (np.int32(v2 == 0)
                                                                   + np.int32(v3 == 0))
    for sample in range(whole, samples):
        start = sample * row
        for j in range(row):
            v = flat[start + j]
            d = np.float64(v) - shift
            total[j] += d
            total_sq[j] += d * d
            low[j] = min(low[j], v)
            high[j] = max(high[j], v)
            zeros[j] += v == 0
    for sample in range(samples):
        start = sample * row
        if count_saturation:
            for j in range(row):
                v = flat[start + j]
                saturated[j] += (v < saturation_low) | (v > saturation_high)
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
    n_zeros = np.int64(0)
    n_saturated = np.int64(0)
    for j in range(row):
        n_zeros += zeros[j]
        n_saturated += saturated[j]
    sum_shifted = total.sum()
    sum_sq_shifted = total_sq.sum()
    lowest = np.float64(low.min()) if row else np.inf
    highest = np.float64(high.max()) if row else -np.inf
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
    tallies[0], tallies[1], tallies[2], tallies[3] = n_zeros, dead, n_saturated, nonfinite
    results[4] = n_zeros / n if n else np.nan
    results[5] = dead / n_units if n_units else np.nan
    results[6] = n_saturated / n if count_saturation and n else np.nan
    results[7] = nonfinite
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


_COLUMNS = 64  # entries summed side by side, each in its own accumulator


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
