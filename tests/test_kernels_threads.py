"""The conv and pooling kernels on several threads: same numbers, any thread count, fork-safe."""
import os
import subprocess
import sys
import textwrap
import threading
import time

import numpy as np
import pytest

from minnet import kernels
from minnet.kernels import threads
from minnet.ops.conv import conv_output_size

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DTYPES = [np.float32, np.float64]

# (N, C, H, W, F, kh, kw, stride_h, stride_w, pad_h, pad_w): odd and prime sizes
CONV_CASES = [
    (7, 3, 11, 9, 5, 3, 2, 2, 1, 1, 0),
    (5, 2, 13, 7, 3, 3, 3, 1, 2, 1, 1),
    (9, 1, 6, 5, 4, 2, 2, 1, 1, 0, 1),
]
# (N, C, H, W, kh, kw, stride_h, stride_w, pad_h, pad_w, ceil_mode)
POOL_CASES = [
    (7, 3, 10, 8, 2, 2, 2, 2, 0, 0, False),   # the 2x2 fast path
    (5, 2, 9, 11, 3, 2, 2, 3, 1, 1, True),    # the general path, clipped windows
]


@pytest.fixture
def split_everything(monkeypatch):
    """Chunk even these small batches (by default a chunk must be worth a thread)."""
    monkeypatch.setattr(threads, "MIN_WORK_PER_CHUNK", 1)
    monkeypatch.setattr(threads, "_threads", threads.num_threads())
    yield
    # monkeypatch restores _threads


def conv_inputs(case, dtype, seed=0):
    n, c, h, w, f, kh, kw, sh, sw, ph, pw = case
    rng = np.random.default_rng(seed)
    out_h, out_w = conv_output_size(h, kh, sh, ph), conv_output_size(w, kw, sw, pw)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    weight_matrix = rng.standard_normal((f, c * kh * kw)).astype(dtype)
    bias = rng.standard_normal(f).astype(dtype)
    grad_out = rng.standard_normal((n, f, out_h, out_w)).astype(dtype)
    return x, weight_matrix, bias, grad_out, (kh, kw, sh, sw, ph, pw, out_h, out_w)


def run_conv(case, dtype, jit=True):
    """Forward and every gradient of one conv case, by the Numba kernels or the references."""
    x, weight_matrix, bias, grad_out, geometry = conv_inputs(case, dtype)
    out, cols = kernels.kernel("conv2d_forward", jit=jit)(x, weight_matrix, bias, *geometry)
    grads = kernels.kernel("conv2d_backward", jit=jit)(
        grad_out, cols, weight_matrix, x.shape[2], x.shape[3], *geometry[:6], True, True, True)
    return (out, cols[:, :weight_matrix.shape[1]]) + tuple(grads)  # the patches, no bias row


def pool_inputs(case, dtype, seed=1):
    n, c, h, w, kh, kw, sh, sw, ph, pw, ceil_mode = case
    rng = np.random.default_rng(seed)
    out_h = conv_output_size(h, kh, sh, ph, ceil_mode)
    out_w = conv_output_size(w, kw, sw, pw, ceil_mode)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    grad_out = rng.standard_normal((n, c, out_h, out_w)).astype(dtype)
    return x, grad_out, (kh, kw, sh, sw, ph, pw, out_h, out_w)


def run_pool(case, dtype, jit=True):
    """Max and average pooling, forward and backward."""
    x, grad_out, geometry = pool_inputs(case, dtype)
    height, width = x.shape[2], x.shape[3]
    pick = lambda name: kernels.kernel(name, jit=jit)  # noqa: E731
    out, argmax = pick("max_pool2d_forward")(x, *geometry)
    grad_max = pick("max_pool2d_backward")(grad_out, argmax, height, width)
    average = pick("avg_pool2d_forward")(x, *geometry, False, 0)
    grad_average = pick("avg_pool2d_backward")(grad_out, height, width, *geometry[:6], False, 0)
    return out, argmax, grad_max, average, grad_average


def assert_close(result, reference, dtype):
    tolerance = 1e-5 if dtype == np.float32 else 1e-12
    assert result.dtype == reference.dtype and result.shape == reference.shape
    np.testing.assert_allclose(result, reference, rtol=tolerance, atol=tolerance)


# --------------------------------------------------------------------------
# for_each_chunk
# --------------------------------------------------------------------------
@pytest.mark.parametrize("n_items, work, thread_count", [(1, 10, 2), (7, 1, 2), (64, 10**6, 2),
                                                         (64, 10**6, 1), (5, 10**6, 8)])
def test_chunks_cover_the_batch_once_in_order(n_items, work, thread_count):
    bounds = threads.chunk_bounds(n_items, work, thread_count)
    covered = [item for first, last in bounds for item in range(first, last)]
    assert covered == list(range(n_items))
    assert all(last > first for first, last in bounds)
    assert len(bounds) <= max(1, thread_count * threads.CHUNKS_PER_THREAD)


def test_little_work_stays_in_one_chunk():
    assert threads.chunk_bounds(64, 10, 2) == [(0, 64)]  # 640 entries: not worth a thread


def test_for_each_chunk_runs_chunks_on_helper_threads(split_everything):
    threads.set_num_threads(2)
    seen = []

    def work(first, last):
        time.sleep(0.05)  # releases the GIL, as the kernels do
        seen.append((first, last, threading.get_ident()))

    threads.for_each_chunk(8, work, 1)
    assert sorted((first, last) for first, last, _ in seen) == [(k, k + 1) for k in range(8)]
    assert len({ident for _, _, ident in seen}) == 2, "a helper thread should take chunks"


def test_one_thread_runs_everything_here_in_one_call():
    calls = []
    previous = threads.num_threads()
    threads.set_num_threads(1)
    try:
        threads.for_each_chunk(64, lambda first, last: calls.append(
            (first, last, threading.get_ident())), 10**6)
    finally:
        threads.set_num_threads(previous)
    assert calls == [(0, 64, threading.get_ident())]


def test_an_error_in_a_chunk_is_raised_by_the_caller(split_everything):
    threads.set_num_threads(2)

    def work(first, last):
        time.sleep(0.01)
        if first == 5:
            raise ValueError("chunk 5 failed")

    with pytest.raises(ValueError, match="chunk 5 failed"):
        threads.for_each_chunk(8, work, 1)
    threads.for_each_chunk(8, lambda first, last: None, 1)  # still usable afterwards


def test_set_num_threads_and_environment_errors(monkeypatch):
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(ValueError, match="set_num_threads"):
            threads.set_num_threads(bad)
    monkeypatch.setenv("MINNET_NUM_THREADS", "many")
    with pytest.raises(ValueError, match=r"MINNET_NUM_THREADS must be a whole number.*'many'"):
        threads._threads_from_environment()
    monkeypatch.setenv("MINNET_NUM_THREADS", "3")
    assert threads._threads_from_environment() == 3
    monkeypatch.delenv("MINNET_NUM_THREADS")
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert threads._threads_from_environment() == 1
    monkeypatch.setenv("OMP_NUM_THREADS", "3,1")  # OpenMP's nested list: the first counts
    assert threads._threads_from_environment() == 3
    monkeypatch.setenv("OMP_NUM_THREADS", "lots")  # not ours to refuse: ignored
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "2")
    assert threads._threads_from_environment() == 2


# --------------------------------------------------------------------------
# the kernels: equal to the references, bit-identical for any number of threads
# --------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CONV_CASES)
def test_threaded_conv_matches_the_reference(split_everything, case, dtype):
    threads.set_num_threads(2)
    for result, reference in zip(run_conv(case, dtype), run_conv(case, dtype, jit=False)):
        assert_close(result, reference, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", POOL_CASES)
def test_threaded_pooling_matches_the_reference(split_everything, case, dtype):
    threads.set_num_threads(2)
    results, references = run_pool(case, dtype), run_pool(case, dtype, jit=False)
    np.testing.assert_array_equal(results[1], references[1])  # the same argmax
    for result, reference in zip(results, references):
        assert_close(result, reference, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_results_are_bit_identical_for_1_2_and_3_threads(split_everything, dtype):
    """Each chunk writes its own images; the weight and bias gradients are summed from
    one partial per image in image order: nothing depends on how the batch was split."""
    results = {}
    for thread_count in (1, 2, 3):
        threads.set_num_threads(thread_count)
        results[thread_count] = ([run_conv(case, dtype) for case in CONV_CASES] +
                                 [run_pool(case, dtype) for case in POOL_CASES])
    for thread_count in (2, 3):
        for arrays, arrays_one_thread in zip(results[thread_count], results[1]):
            for array, array_one_thread in zip(arrays, arrays_one_thread):
                np.testing.assert_array_equal(array, array_one_thread)


def test_two_caller_threads_at_once_get_correct_results(split_everything):
    """A second caller does not wait for the helpers: it runs its job on its own thread."""
    threads.set_num_threads(2)
    expected = run_conv(CONV_CASES[0], np.float64)
    failures = []

    def caller():
        for _ in range(20):
            for result, reference in zip(run_conv(CONV_CASES[0], np.float64), expected):
                if not np.array_equal(result, reference):
                    failures.append("different result")

    callers = [threading.Thread(target=caller) for _ in range(3)]
    for thread in callers:
        thread.start()
    for thread in callers:
        thread.join(timeout=120)
    assert not failures and not any(thread.is_alive() for thread in callers)


# --------------------------------------------------------------------------
# processes: fork after the helpers started; no Numba threading layer
# --------------------------------------------------------------------------
def run_python(code):
    env = dict(os.environ, PYTHONPATH=REPO_ROOT)
    env.pop("NUMBA_DISABLE_JIT", None)
    env.pop("MINNET_NO_JIT", None)
    result = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True,
                            text=True, env=env, cwd=REPO_ROOT, timeout=300)
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX-only")
def test_a_forked_child_runs_the_threaded_kernels():
    """The lab grader forks: a child must not wait for helper threads it does not have."""
    out = run_python("""
        import os, signal
        import numpy as np
        from minnet.kernels import pool, threads
        threads.set_num_threads(2)
        threads.MIN_WORK_PER_CHUNK = 1
        x = np.random.default_rng(0).standard_normal((16, 3, 8, 8))
        first = pool.max_pool2d_forward_numba(x, 2, 2, 2, 2, 0, 0, 4, 4)[0]  # helpers start
        pid = os.fork()
        if pid == 0:
            import threading
            signal.alarm(60)  # a hang would fail the parent's wait below
            again = pool.max_pool2d_forward_numba(x, 2, 2, 2, 2, 0, 0, 4, 4)[0]
            helpers = [t for t in threading.enumerate() if t.name.startswith("minnet-kernels")]
            os._exit(3 if not np.array_equal(first, again) else 4 if len(helpers) != 1 else 0)
        _, status = os.waitpid(pid, 0)
        print(os.waitstatus_to_exitcode(status))
    """)
    assert out == "0", f"the forked child exited with {out}"


def test_kernels_never_start_numbas_threading_layer():
    """No parallel=True anywhere: Numba's thread pool (whose GNU OpenMP layer kills a
    forked child that uses it) is never loaded."""
    out = run_python("""
        import numba
        import numpy as np
        import minnet
        from minnet import nn
        model = nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                              nn.AvgPool2d(2), nn.Flatten(), nn.Linear(4 * 4 * 4, 3))
        x = minnet.tensor(np.ones((32, 1, 16, 16), dtype=np.float32), requires_grad=True)
        model(x).sum().backward()
        try:
            numba.threading_layer()
        except ValueError:
            print("not initialized")
    """)
    assert out == "not initialized"


def test_a_refused_helper_thread_leaves_the_work_to_the_caller(split_everything, monkeypatch):
    """Under a tight memory limit the OS may refuse a thread: the job still runs, here."""
    def refuse(self):
        raise RuntimeError("can't start new thread")

    monkeypatch.setattr(threads, "_helpers", [])
    monkeypatch.setattr(threading.Thread, "start", refuse)
    threads.set_num_threads(2)
    ran_on = []
    threads.for_each_chunk(6, lambda first, last: ran_on.append(threading.get_ident()), 1)
    assert ran_on == [threading.get_ident()] * 6
