"""Every Numba kernel equals its NumPy reference; dispatch, laziness and the disk cache."""
import os
import shutil
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from minnet import kernels
from minnet.ops.conv import conv_output_size

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DTYPES = [np.float32, np.float64]

# (N, C, H, W, kh, kw, stride_h, stride_w, pad_h, pad_w): odd, prime and degenerate sizes
CONV_GEOMETRIES = [
    (2, 3, 7, 5, 3, 3, 1, 1, 1, 1),
    (3, 2, 11, 13, 3, 2, 2, 3, 1, 0),
    (1, 5, 5, 7, 5, 3, 2, 1, 2, 1),
    (2, 1, 4, 4, 1, 1, 1, 1, 0, 0),
    (1, 2, 3, 3, 3, 3, 3, 3, 0, 0),   # a single output position
    (2, 3, 6, 9, 2, 4, 3, 2, 0, 3),   # padding wider than the kernel's half
]

# (N, C, H, W, kh, kw, stride_h, stride_w, pad_h, pad_w, ceil_mode)
POOL_GEOMETRIES = [
    (2, 3, 8, 8, 2, 2, 2, 2, 0, 0, False),
    (2, 3, 7, 9, 2, 2, 2, 2, 0, 0, False),  # the 2x2 fast path drops the odd row/column
    (2, 3, 7, 9, 2, 2, 2, 2, 0, 0, True),   # ceil mode: clipped last windows, general path
    (3, 2, 7, 5, 3, 3, 2, 2, 1, 1, False),
    (1, 5, 11, 13, 3, 2, 2, 3, 1, 0, True),
    (2, 2, 5, 7, 2, 3, 1, 2, 1, 1, True),
    (1, 1, 3, 3, 3, 3, 1, 1, 1, 1, False),
]


def both(name):
    return kernels.kernel(name, jit=True), kernels.kernel(name, jit=False)


def random_array(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def assert_same(jit_result, reference, dtype):
    assert jit_result.dtype == reference.dtype == np.dtype(dtype)
    assert jit_result.shape == reference.shape
    # sums may be added in another order (and in float64 inside the kernels)
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(jit_result, reference, rtol=tolerance, atol=tolerance)


def conv_sizes(geometry):
    n, c, h, w, kh, kw, sh, sw, ph, pw = geometry
    return conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)


# --------------------------------------------------------------------------
# convolution kernels
# --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("geometry", CONV_GEOMETRIES)
def test_im2col_and_col2im_match_reference(geometry, dtype):
    rng = np.random.default_rng(1)
    n, c, h, w, kh, kw, sh, sw, ph, pw = geometry
    out_h, out_w = conv_sizes(geometry)
    args = (kh, kw, sh, sw, ph, pw, out_h, out_w)
    x = random_array(rng, (n, c, h, w), dtype)
    jit, ref = both("im2col")
    cols = ref(x, *args)
    assert cols.shape == (n, c * kh * kw, out_h * out_w)  # one matrix per image
    np.testing.assert_array_equal(jit(x, *args), cols)  # pure copies: exactly equal
    grad_cols = random_array(rng, cols.shape, dtype)
    jit, ref = both("col2im")
    assert_same(jit(grad_cols, n, c, h, w, *args), ref(grad_cols, n, c, h, w, *args), dtype)


@pytest.mark.parametrize("geometry", CONV_GEOMETRIES[:3])
def test_col2im_is_the_adjoint_of_im2col(geometry):
    """<im2col(x), g> == <x, col2im(g)>: that is what makes col2im the backward."""
    rng = np.random.default_rng(2)
    n, c, h, w, kh, kw, sh, sw, ph, pw = geometry
    args = (kh, kw, sh, sw, ph, pw) + conv_sizes(geometry)
    x = rng.standard_normal((n, c, h, w))
    cols = kernels.kernel("im2col", jit=True)(x, *args)
    g = rng.standard_normal(cols.shape)
    back = kernels.kernel("col2im", jit=True)(g, n, c, h, w, *args)
    assert np.isclose(np.sum(cols * g), np.sum(x * back), rtol=1e-12)


def conv_by_taps(x, weight, stride_h, stride_w, pad_h, pad_w, out_h, out_w):
    """The definition, one kernel tap at a time: a statement independent of im2col."""
    padded = np.pad(x, ((0, 0), (0, 0), (pad_h, pad_h), (pad_w, pad_w)))
    out = np.zeros((x.shape[0], weight.shape[0], out_h, out_w))
    for i in range(weight.shape[2]):
        for j in range(weight.shape[3]):
            window = padded[:, :, i:i + stride_h * out_h:stride_h, j:j + stride_w * out_w:stride_w]
            out += np.einsum("nchw,fc->nfhw", window, weight[:, :, i, j])
    return out


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("geometry", CONV_GEOMETRIES)
def test_conv2d_kernels_match_reference_and_the_definition(geometry, dtype):
    rng = np.random.default_rng(3)
    n, c, h, w, kh, kw, sh, sw, ph, pw = geometry
    out_h, out_w = conv_sizes(geometry)
    n_filters = 4
    x = random_array(rng, (n, c, h, w), dtype)
    weight = random_array(rng, (n_filters, c, kh, kw), dtype)
    bias = random_array(rng, (n_filters,), dtype)
    weight_matrix = weight.reshape(n_filters, -1)
    args = (kh, kw, sh, sw, ph, pw, out_h, out_w)
    jit, ref = both("conv2d_forward")
    out, cols = jit(x, weight_matrix, bias, *args)
    out_ref, cols_ref = ref(x, weight_matrix, bias, *args)
    assert_same(out, out_ref, dtype)
    np.testing.assert_array_equal(cols[:, :c * kh * kw], cols_ref)
    assert np.all(cols[:, c * kh * kw:] == 1)  # the bias's row of ones, if any
    by_taps = conv_by_taps(x.astype(np.float64), weight.astype(np.float64), sh, sw, ph, pw,
                           out_h, out_w) + bias[:, None, None]
    assert_same(out, by_taps.astype(dtype), dtype)
    assert jit(x, weight_matrix, None, *args)[0].shape == (n, n_filters, out_h, out_w)

    grad_out = random_array(rng, out.shape, dtype)
    jit, ref = both("conv2d_backward")
    for wanted in [(True, True, True), (False, True, False), (True, False, False)]:
        grads = jit(grad_out, cols, weight_matrix, h, w, *args[:6], *wanted)
        grads_ref = ref(grad_out, cols_ref, weight_matrix, h, w, *args[:6], *wanted)
        for grad, grad_ref, is_wanted in zip(grads, grads_ref, wanted):
            assert (grad is None) == (grad_ref is None) == (not is_wanted)
            if is_wanted:
                assert_same(grad, grad_ref, dtype)
    # cols without the row of ones (as the reference makes them): the bias gradient by sums
    grads = jit(grad_out, cols_ref, weight_matrix, h, w, *args[:6], True, True, True)
    for grad, grad_ref in zip(grads, ref(grad_out, cols_ref, weight_matrix, h, w, *args[:6],
                                         True, True, True)):
        assert_same(grad, grad_ref, dtype)
    # the weight gradient is the adjoint of the forward: <dOut, W (x) x> = <dW, W>
    _, grad_weight, grad_bias = jit(grad_out, cols, weight_matrix, h, w, *args[:6],
                                    False, True, True)
    forward_no_bias = out - bias[:, None, None]
    tolerance = 1e-4 if dtype == np.float32 else 1e-10
    assert np.isclose(np.sum(grad_out * forward_no_bias), np.sum(grad_weight * weight_matrix),
                      rtol=tolerance)
    assert_same(grad_bias, grad_out.sum(axis=(0, 2, 3)), dtype)


# --------------------------------------------------------------------------
# pooling kernels
# --------------------------------------------------------------------------
def pool_args(geometry):
    n, c, h, w, kh, kw, sh, sw, ph, pw, ceil_mode = geometry
    out_h = conv_output_size(h, kh, sh, ph, ceil_mode)
    out_w = conv_output_size(w, kw, sw, pw, ceil_mode)
    return (n, c, h, w), (kh, kw, sh, sw, ph, pw, out_h, out_w)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("geometry", POOL_GEOMETRIES)
def test_max_pool_kernels_match_reference(geometry, dtype):
    rng = np.random.default_rng(4)
    shape, args = pool_args(geometry)
    x = random_array(rng, shape, dtype)
    jit, ref = both("max_pool2d_forward")
    out, argmax = jit(x, *args)
    out_ref, argmax_ref = ref(x, *args)
    np.testing.assert_array_equal(out, out_ref)
    np.testing.assert_array_equal(argmax, argmax_ref)
    assert argmax.dtype == np.int64 and out.dtype == np.dtype(dtype)
    # every recorded index points at the value that was reported
    planes = x.reshape(shape[0], shape[1], -1)
    np.testing.assert_array_equal(np.take_along_axis(planes, argmax.reshape(
        shape[0], shape[1], -1), axis=2).reshape(out.shape), out)

    grad_out = random_array(rng, out.shape, dtype)
    jit, ref = both("max_pool2d_backward")
    assert_same(jit(grad_out, argmax, shape[2], shape[3]),
                ref(grad_out, argmax, shape[2], shape[3]), dtype)


def test_max_pool_ties_go_to_the_first_maximum_and_nan_wins():
    x = np.array([[[[1.0, 3.0, 3.0, 0.0],
                    [3.0, 2.0, np.nan, 5.0]]]])
    for use_jit in (True, False):
        out, argmax = kernels.kernel("max_pool2d_forward", jit=use_jit)(x, 2, 2, 2, 2, 0, 0,
                                                                         1, 2)
        assert argmax.tolist() == [[[[1, 6]]]], use_jit
        assert out[0, 0, 0, 0] == 3.0 and np.isnan(out[0, 0, 0, 1])
        # several NaNs: the first one in row-major window order is reported
        x_nans = np.array([[[[np.nan, 3.0, 3.0, np.nan],
                             [3.0, np.nan, np.nan, 5.0]]]])
        _, argmax = kernels.kernel("max_pool2d_forward", jit=use_jit)(x_nans, 2, 2, 2, 2, 0, 0,
                                                                      1, 2)
        assert argmax.tolist() == [[[[0, 3]]]], use_jit


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("geometry", POOL_GEOMETRIES)
@pytest.mark.parametrize("count_include_pad, divisor_override", [(True, 0), (False, 0),
                                                                 (True, 7)])
def test_avg_pool_kernels_match_reference(geometry, dtype, count_include_pad,
                                          divisor_override):
    rng = np.random.default_rng(5)
    shape, args = pool_args(geometry)
    x = random_array(rng, shape, dtype)
    jit, ref = both("avg_pool2d_forward")
    out = jit(x, *args, count_include_pad, divisor_override)
    assert_same(out, ref(x, *args, count_include_pad, divisor_override), dtype)
    grad_out = random_array(rng, out.shape, dtype)
    jit, ref = both("avg_pool2d_backward")
    extra = (count_include_pad, divisor_override)
    assert_same(jit(grad_out, shape[2], shape[3], *args[:6], *extra),
                ref(grad_out, shape[2], shape[3], *args[:6], *extra), dtype)


# --------------------------------------------------------------------------
# scatter-add (getitem backward)
# --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shape, index", [
    ((7,), np.array([0, 3, 3, -1, 6, 0])),
    ((5, 3), np.array([4, 0, 4, 4, -5])),
    ((11, 2, 3), np.array([[1, 2], [2, 10]])),
    ((3, 4), (np.array([0, 2, 0]), np.array([1, 1, 1]))),  # tuple: the np.add.at fallback
    ((6, 2), np.array([True, False, True, True, False, False])),
])
def test_scatter_add_matches_np_add_at(shape, index, dtype):
    rng = np.random.default_rng(6)
    values = random_array(rng, np.zeros(shape)[index].shape, dtype)
    jit, ref = both("scatter_add")
    out = jit(shape, index, values)
    assert_same(out, ref(shape, index, values), dtype)
    assert out.shape == shape


def test_scatter_add_accumulates_duplicates():
    out = kernels.scatter_add((3, 2), np.array([1, 1, 1]), np.ones((3, 2)))
    np.testing.assert_array_equal(out, [[0, 0], [3, 3], [0, 0]])


# --------------------------------------------------------------------------
# dispatch, laziness, cache
# --------------------------------------------------------------------------
# --------------------------------------------------------------------------
# cross-entropy of class indices (loss and gradient in one pass)
# --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("n_rows, n_classes", [(1, 1), (1, 4), (7, 3), (128, 10), (5, 300)])
def test_cross_entropy_rows_matches_reference(n_rows, n_classes, dtype):
    rng = np.random.default_rng(n_rows * 1000 + n_classes)
    logits = random_array(rng, (n_rows, n_classes), dtype) * 5
    labels = rng.integers(0, n_classes, n_rows)
    jit, ref = both("cross_entropy_rows")
    (jit_loss, jit_grad), (ref_loss, ref_grad) = jit(logits, labels), ref(logits, labels)
    assert_same(jit_grad, ref_grad, dtype)
    assert jit_loss == pytest.approx(ref_loss, rel=1e-5 if dtype == np.float32 else 1e-12)
    # the definition: -sum_i log softmax(z_i)[y_i], each gradient row sums to 0
    exact = logits.astype(np.float64)
    log_softmax = exact - exact.max(1, keepdims=True)
    log_softmax -= np.log(np.exp(log_softmax).sum(1, keepdims=True))
    assert jit_loss == pytest.approx(-log_softmax[np.arange(n_rows), labels].sum(), rel=1e-5)
    np.testing.assert_allclose(jit_grad.sum(1), 0, atol=1e-5)


def test_cross_entropy_rows_takes_float16_through_the_numpy_lines():
    """Numba does not compute in float16: such logits are not a crash but the reference."""
    logits = np.array([[0.5, -1.0, 2.0], [1.0, 1.0, 1.0]], dtype=np.float16)
    labels = np.array([2, 0])
    jit, ref = both("cross_entropy_rows")
    (jit_loss, jit_grad), (ref_loss, ref_grad) = jit(logits, labels), ref(logits, labels)
    assert jit_grad.dtype == np.float16 and jit_loss == ref_loss
    np.testing.assert_array_equal(jit_grad, ref_grad)


def test_cross_entropy_rows_extreme_and_nan_logits_and_views():
    jit, ref = both("cross_entropy_rows")
    labels = np.array([1, 2, 2])
    logits = np.array([[1e4, -1e4, 0.0], [3.0, 1e4, -1e4], [np.nan, 0.0, 1.0]])
    (jit_loss, jit_grad), (ref_loss, ref_grad) = jit(logits, labels), ref(logits, labels)
    np.testing.assert_array_equal(np.isnan(jit_grad), np.isnan(ref_grad))
    np.testing.assert_allclose(jit_grad[:2], ref_grad[:2], atol=1e-12)  # finite: no overflow
    assert np.isnan(jit_grad[2]).all() and np.isnan(jit_loss) and np.isnan(ref_loss)
    loss_without_nan_row = jit(logits[:2], labels[:2])[0]
    # each row's label is 2e4 below its max: exp(-2e4) underflows, the log does not
    assert loss_without_nan_row == pytest.approx(4e4) == ref(logits[:2], labels[:2])[0]
    # a non-contiguous view (the transpose of a (C, N) array) gives the same numbers
    columns = np.random.default_rng(0).standard_normal((4, 6))
    targets = np.array([0, 3, 1, 2, 3, 0])
    jit_loss, jit_grad = jit(columns.T, targets)
    ref_loss, ref_grad = ref(np.ascontiguousarray(columns.T), targets)
    assert jit_loss == pytest.approx(ref_loss, rel=1e-12)
    np.testing.assert_allclose(jit_grad, ref_grad, rtol=1e-12, atol=1e-15)


def test_no_jit_env_var_switches_to_the_references(monkeypatch):
    from minnet.kernels import conv_im2col
    monkeypatch.setenv("MINNET_NO_JIT", "1")
    assert not kernels.jit_enabled()
    assert kernels.kernel("im2col") is conv_im2col.im2col_reference
    monkeypatch.setenv("MINNET_NO_JIT", "0")
    assert kernels.jit_enabled()
    assert kernels.kernel("im2col") is conv_im2col.im2col_numba


def test_unknown_kernel_name_is_a_clear_error():
    with pytest.raises(KeyError, match="no kernel named 'im2row'.*im2col"):
        kernels.kernel("im2row")


def test_info_reports_jit_and_cache_location(monkeypatch):
    monkeypatch.setenv("MINNET_NO_JIT", "1")
    report = kernels.info()
    assert report["jit_enabled"] is False
    assert report["numba_version"]
    assert isinstance(report["cache_dir"], str) and report["cache_dir"]


def run_python(code, env_extra, pythonpath=REPO_ROOT):
    env = dict(os.environ, PYTHONPATH=pythonpath, **env_extra)
    env.pop("NUMBA_DISABLE_JIT", None)
    if "NUMBA_CACHE_DIR" not in env_extra:
        env.pop("NUMBA_CACHE_DIR", None)
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                            text=True, env=env, cwd=pythonpath, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_import_minnet_loads_no_numba():
    out = run_python("""
        import sys, minnet
        print("numba" in sys.modules, "minnet.kernels.conv_im2col" in sys.modules)
    """, {})
    assert out == "False False", out


CACHE_PROBE = """
    import numpy as np
    from minnet.kernels import scatter
    scatter.scatter_add_numba((4, 2), np.array([1, 1, 3]), np.ones((3, 2)))
    stats = scatter.scatter_add_rows_numba.stats
    print(sum(stats.cache_hits.values()), sum(stats.cache_misses.values()))
"""


def assert_second_run_loads_from_cache(env, pythonpath=REPO_ROOT):
    first = run_python(CACHE_PROBE, env, pythonpath)
    second = run_python(CACHE_PROBE, env, pythonpath)
    assert first == "0 1", f"first run should compile (hits, misses): {first}"
    assert second == "1 0", f"second run should load from the cache (hits, misses): {second}"


@pytest.mark.slow  # two fresh interpreters, the first compiling
def test_compiled_kernels_are_reused_from_numba_cache_dir(tmp_path):
    """With NUMBA_CACHE_DIR set, a second process loads the kernel instead of compiling."""
    assert_second_run_loads_from_cache({"NUMBA_CACHE_DIR": str(tmp_path), "MINNET_NO_JIT": "0"})
    assert any(name.endswith(".nbc") for _, _, files in os.walk(tmp_path) for name in files)


@pytest.mark.slow  # two fresh interpreters, the first compiling
def test_compiled_kernels_are_cached_next_to_an_installed_copy(tmp_path):
    """A copy of the package elsewhere (as pip installs it) caches in its own __pycache__."""
    shutil.copytree(os.path.join(REPO_ROOT, "minnet"), tmp_path / "minnet",
                    ignore=shutil.ignore_patterns("__pycache__"))
    assert_second_run_loads_from_cache({"MINNET_NO_JIT": "0"}, pythonpath=str(tmp_path))
    cache_files = os.listdir(tmp_path / "minnet" / "kernels" / "__pycache__")
    assert any(name.startswith("scatter.") and name.endswith(".nbc") for name in cache_files)


# --------------------------------------------------------------------------
# BLAS threads inside conv2d (threadpoolctl, a dependency; absent -> no limit)
# --------------------------------------------------------------------------
def blas_thread_counts():
    from threadpoolctl import threadpool_info

    return [lib["num_threads"] for lib in threadpool_info() if lib["user_api"] == "blas"]


@pytest.fixture
def fresh_blas_controller(monkeypatch):
    """Forget the cached threadpoolctl handle so each test sees its own environment."""
    monkeypatch.setattr(kernels, "_blas_controller", None)
    monkeypatch.delenv("MINNET_BLAS_THREADS", raising=False)


def test_blas_threads_limit_with_threadpoolctl_sets_and_restores(fresh_blas_controller,
                                                                 monkeypatch):
    # threadpoolctl is a dependency (pyproject.toml), so it is here in every install
    from threadpoolctl import threadpool_limits

    assert "1 inside conv2d" in kernels.blas_threads_report()
    with threadpool_limits(limits=2, user_api="blas"):  # a known starting state
        before = blas_thread_counts()
        assert before, "threadpoolctl found no BLAS under NumPy"
        with kernels.blas_threads_limit():
            assert blas_thread_counts() == [1] * len(before)
        assert blas_thread_counts() == before  # restored on exit
        monkeypatch.setenv("MINNET_BLAS_THREADS", "0")  # 0: leave BLAS alone
        with kernels.blas_threads_limit():
            assert blas_thread_counts() == before
    assert "not limited" in kernels.blas_threads_report()


def test_blas_threads_limit_without_threadpoolctl_does_nothing(fresh_blas_controller,
                                                               monkeypatch):
    monkeypatch.setitem(sys.modules, "threadpoolctl", None)  # makes the import fail
    with kernels.blas_threads_limit():
        pass
    assert kernels._blas_controller is False
    assert "threadpoolctl is not installed" in kernels.blas_threads_report()
    # conv2d still computes, unlimited
    from minnet.ops.conv import conv2d
    import minnet

    x = minnet.tensor(np.ones((1, 1, 3, 3)), requires_grad=True)
    out = conv2d(x, minnet.tensor(np.ones((1, 1, 2, 2)), requires_grad=True))
    out.sum().backward()
    assert out.tolist() == [[[[4.0, 4.0], [4.0, 4.0]]]]


def test_conv2d_runs_every_matrix_product_under_the_limit(monkeypatch):
    import contextlib

    import minnet
    from minnet.ops.conv import conv2d

    depth = []
    entries = []

    @contextlib.contextmanager
    def counting_limit():
        depth.append(1)
        entries.append(len(depth))
        yield
        depth.pop()

    monkeypatch.setattr(kernels, "blas_threads_limit", counting_limit)
    x = minnet.tensor(np.ones((2, 2, 5, 5)), requires_grad=True)
    weight = minnet.tensor(np.ones((3, 2, 3, 3)), requires_grad=True)
    conv2d(x, weight, padding=1).sum().backward()
    # the forward's products, then the backward's (dL/dx and dL/dweight), each under it
    assert entries == [1, 1] and depth == []


def test_blas_threads_setting_rejects_nonsense(monkeypatch):
    monkeypatch.setenv("MINNET_BLAS_THREADS", "two")
    with pytest.raises(ValueError, match=r"MINNET_BLAS_THREADS must be a whole number.*'two'"):
        kernels.blas_threads_setting()
    monkeypatch.setenv("MINNET_BLAS_THREADS", "-1")
    with pytest.raises(ValueError, match="MINNET_BLAS_THREADS"):
        kernels.blas_threads_setting()
    monkeypatch.setenv("MINNET_BLAS_THREADS", "2")
    assert kernels.blas_threads_setting() == 2


@pytest.mark.parametrize("name", ["erf", "erfc"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.float16])
def test_erf_and_erfc_match_reference(name, dtype):
    jit, ref = both(name)
    x = np.concatenate([np.random.default_rng(0).normal(0, 2, 300), [0.0, -0.0, 6.0, -30.0,
                                                                     np.inf, -np.inf, np.nan]])
    x = x.astype(dtype)
    out_jit, out_ref = jit(x), ref(x)
    assert out_jit.dtype == out_ref.dtype == dtype
    np.testing.assert_array_equal(out_jit, out_ref)
    assert out_ref[-3:-1].tolist() == ([1.0, -1.0] if name == "erf" else [0.0, 2.0])
    # any shape, views, empty
    grid = np.random.default_rng(1).normal(size=(4, 6)).astype(dtype)[:, ::2]
    np.testing.assert_array_equal(jit(grid), ref(grid))
    assert jit(np.empty((0, 3), dtype)).shape == (0, 3)
