"""minnet/kernels/stats.py: the one-pass kernel against its NumPy reference and plain NumPy.

Random shapes (odd and prime sizes, 0-d to 4-D), float32 and float64, with
and without NaN/Inf entries, ReLU-like outputs full of zeros, dead units.
"""
import math
import zlib

import numpy as np
import pytest

from minnet import kernels
from minnet.kernels import stats

SHAPES = [(), (7,), (1, 1), (13, 17), (128, 10), (31, 256), (5, 3, 7, 11), (2, 1, 3, 3),
          (3, 4, 1), (6, 2, 5, 5, 2)]
NAMES = ("mean", "std", "low", "high", "zeros", "nonfinite", "saturated", "counts",
         "unit_nonzero")


def sample(shape, dtype, seed, relu=False, nonfinite=False, dead=False, offset=0.0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * 2 + offset
    if relu:
        x = np.maximum(x, 0)
    x = np.asarray(x, dtype=dtype)
    if dead and x.ndim >= 2 and x.shape[1] > 1:
        x[:, ::2] = 0  # every other unit is 0 for every sample
    if nonfinite and x.size >= 3:
        flat = x.reshape(-1)
        picks = rng.choice(x.size, 3, replace=False)
        flat[picks] = (np.nan, np.inf, -np.inf)
    return x


def by_hand(x, low, high, bins, sat_low, sat_high):
    """The statistics with nothing but textbook NumPy calls."""
    flat = x.reshape(-1)
    finite = flat[np.isfinite(flat)].astype(np.float64)
    counts = np.histogram(np.clip(flat[~np.isnan(flat)].astype(np.float64), low, high),
                          bins=bins, range=(low, high))[0]
    units = x.reshape(-1, 1, 1) if x.ndim <= 1 else x.reshape(x.shape[0], x.shape[1], -1)
    real = x.dtype.type
    return dict(mean=finite.mean() if finite.size else math.nan,
                std=finite.std() if finite.size else math.nan,
                low=finite.min() if finite.size else math.nan,
                high=finite.max() if finite.size else math.nan,
                zeros=np.count_nonzero(flat == 0), nonfinite=flat.size - finite.size,
                saturated=np.count_nonzero((flat < real(sat_low)) | (flat > real(sat_high))),
                counts=counts, unit_nonzero=(units != 0).any(axis=(0, 2)))


def assert_same(got, expected, exact_counts=True):
    got = dict(zip(NAMES, got))
    for name in ("mean", "std", "low", "high"):
        if math.isnan(expected[name]):
            assert math.isnan(got[name]), name
        else:
            assert got[name] == pytest.approx(expected[name], rel=1e-9, abs=1e-12), name
    for name in ("zeros", "nonfinite", "saturated"):
        assert got[name] == expected[name], name
    np.testing.assert_array_equal(got["unit_nonzero"], expected["unit_nonzero"])
    if exact_counts:
        np.testing.assert_array_equal(got["counts"], expected["counts"])
    else:  # np.histogram decides entries on an edge by comparison: allow a rare move
        assert got["counts"].sum() == expected["counts"].sum()
        assert np.abs(got["counts"] - expected["counts"]).sum() <= 2


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("variant", ["plain", "relu", "nonfinite", "dead"])
def test_kernel_equals_reference_and_numpy(dtype, shape, variant):
    seed = zlib.crc32(repr((str(dtype), shape, variant)).encode())  # same in every run
    x = sample(shape, dtype, seed, relu=variant == "relu", nonfinite=variant == "nonfinite",
               dead=variant == "dead")
    args = (x, -3.0, 2.5, 7, -0.99, 0.99)
    kernel = stats.activation_stats_numba(*args)
    reference = stats.activation_stats_reference(*args)
    for name, a, b in zip(NAMES, kernel, reference):
        if name in ("counts", "unit_nonzero"):
            np.testing.assert_array_equal(a, b, err_msg=name)
            assert a.dtype == b.dtype, name
        elif isinstance(b, float) and math.isnan(b):
            assert math.isnan(a), name
        else:
            assert a == pytest.approx(b, rel=1e-12, abs=1e-12), name
    assert_same(kernel, by_hand(*args), exact_counts=False)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_variance_survives_a_large_mean(dtype):
    """The shifted sums keep the spread when the mean is 1e4 spreads away (no cancellation)."""
    x = sample((64, 33), dtype, 3, offset=2e4)
    mean, std = stats.activation_stats_numba(x, -1.0, 1.0, 4, -np.inf, np.inf)[:2]
    expected = x.astype(np.float64)
    assert mean == pytest.approx(expected.mean(), rel=1e-12)
    assert std == pytest.approx(expected.std(), rel=1e-9)


def test_all_nonfinite_and_all_zero_outputs():
    x = np.full((4, 3), np.nan, np.float32)
    x[0, 0] = np.inf
    for implementation in (stats.activation_stats_numba, stats.activation_stats_reference):
        got = dict(zip(NAMES, implementation(x, 0.0, 1.0, 5, 0.01, 0.99)))
        assert all(math.isnan(got[name]) for name in ("mean", "std", "low", "high"))
        assert got["nonfinite"] == 12 and got["zeros"] == 0 and got["saturated"] == 1
        np.testing.assert_array_equal(got["counts"], [0, 0, 0, 0, 1])  # +Inf: top bin
        np.testing.assert_array_equal(got["unit_nonzero"], [True] * 3)  # NaN is not 0
        got = dict(zip(NAMES, implementation(np.zeros((5, 2, 3)), -1.0, 1.0, 4, -np.inf, np.inf)))
        assert (got["mean"], got["std"], got["zeros"]) == (0.0, 0.0, 30)
        np.testing.assert_array_equal(got["counts"], [0, 0, 30, 0])
        np.testing.assert_array_equal(got["unit_nonzero"], [False, False])


def test_non_contiguous_input_is_accepted():
    x = sample((20, 30), np.float32, 4).T  # (30, 20) view, not C-contiguous
    assert_same(stats.activation_stats_numba(x, -3.0, 3.0, 8, -1.0, 1.0),
                by_hand(x, -3.0, 3.0, 8, -1.0, 1.0))


def test_bad_arguments_raise_clear_errors():
    with pytest.raises(TypeError, match="float32 or float64"):
        stats.activation_stats_numba(np.ones(3, np.int64), 0.0, 1.0, 4, 0.0, 1.0)
    with pytest.raises(ValueError, match="hist_low < hist_high"):
        stats.activation_stats_reference(np.ones(3), 1.0, 1.0, 4, 0.0, 1.0)


def test_without_saturation_limits_the_saturated_fraction_is_nan():
    x = sample((8, 4), np.float64, 9)
    buffers = stats.ActivationBuffers(x, 4, -3.0, 3.0, -np.inf, np.inf)
    results = stats.activation_stats_into(x, buffers, np.empty(4, np.int64))
    assert math.isnan(results[6]) and buffers.tallies[2] == 0


def test_registered_and_no_jit_runs_the_reference(monkeypatch):
    monkeypatch.setenv("MINNET_NO_JIT", "1")
    assert kernels.kernel("activation_stats") is stats.activation_stats_reference
    monkeypatch.delenv("MINNET_NO_JIT")
    assert kernels.kernel("activation_stats") is stats.activation_stats_numba


def test_buffers_reused_across_calls_give_each_call_its_own_numbers():
    """activation_stats_into with one ActivationBuffers per shape (as the Monitor keeps them)."""
    shape = (16, 5, 3)
    buffers = stats.ActivationBuffers(np.zeros(shape, np.float32), 6, -2.0, 2.0, -1.0, 1.0)
    counts = np.empty(6, np.int64)
    for seed, variant in enumerate(("relu", "dead", "nonfinite", "plain")):
        x = sample(shape, np.float32, seed, relu=variant == "relu", dead=variant == "dead",
                   nonfinite=variant == "nonfinite")
        assert buffers.fits(x)
        row = np.full(9, -1.0)  # a Monitor record row: the kernel writes the first 8
        assert stats.activation_stats_into(x, buffers, counts, row[:8]).base is row
        expected = stats.activation_stats_reference(x, -2.0, 2.0, 6, -1.0, 1.0)
        mean, std, low, high, zero_fraction, dead_fraction, saturated_fraction, nonfinite = row[:8]
        for got, want in ((mean, expected[0]), (std, expected[1]), (low, expected[2]),
                          (high, expected[3])):
            assert got == pytest.approx(want, rel=1e-12, abs=1e-12)
        zeros, dead, saturated, nonfinite_count = buffers.tallies
        assert (zeros, saturated, nonfinite_count) == (expected[4], expected[6], expected[5])
        assert nonfinite == nonfinite_count and row[8] == -1.0
        assert zero_fraction == zeros / x.size and saturated_fraction == saturated / x.size
        np.testing.assert_array_equal(counts, expected[7])
        np.testing.assert_array_equal(buffers.unit_nonzero, expected[8])
        assert dead == np.count_nonzero(~expected[8]) and dead_fraction == dead / shape[1]
    assert not buffers.fits(np.zeros(shape, np.float64))
    assert not buffers.fits(np.zeros((16, 5), np.float32))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_update_squares_are_the_squared_update_norms(dtype):
    rng = np.random.default_rng(7)
    before = rng.standard_normal(1000 + 37).astype(dtype)  # not a multiple of the columns
    after = (before - 1e-3 * rng.standard_normal(before.size)).astype(dtype)
    a, b = after.astype(np.float64), before.astype(np.float64)
    norms = [np.linalg.norm(a - b), np.linalg.norm(a), np.linalg.norm(b)]
    for implementation in (stats.update_squares_numba, stats.update_squares_reference):
        got = np.sqrt(implementation(after, before))
        np.testing.assert_allclose(got, norms, rtol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("shape", [(128, 37), (45, 3, 5, 7), (100,), (33, 1)], ids=str)
@pytest.mark.parametrize("hist_samples", [1, 32, 1000])
def test_the_histogram_counts_only_the_first_hist_samples_samples(dtype, shape, hist_samples):
    x = sample(shape, dtype, seed=5, relu=True, nonfinite=True)
    args = (x, -3.0, 2.5, 7, -np.inf, np.inf)
    kernel = stats.activation_stats_numba(*args, hist_samples=hist_samples)
    reference = stats.activation_stats_reference(*args, hist_samples=hist_samples)
    # the histogram: exactly the first samples' entries; everything else: the whole batch
    expected = by_hand(x, *args[1:])
    expected["counts"] = by_hand(x[:hist_samples], *args[1:])["counts"]
    assert_same(kernel, expected, exact_counts=False)
    assert_same(reference, expected, exact_counts=False)
    np.testing.assert_array_equal(kernel[7], reference[7])
    counted = x[:hist_samples]
    assert kernel[7].sum() == np.count_nonzero(~np.isnan(counted))
