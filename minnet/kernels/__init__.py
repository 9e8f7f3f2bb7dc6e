"""Hot loops: Numba kernels, each next to the plain NumPy code it must equal.

Kernels take and return NumPy arrays; nothing here knows Tensors or imports the
rest of minnet. The functions below pick, on every call, the Numba kernel
(``<module>.<name>_numba``, compiled on first use and cached on disk) or, when
``MINNET_NO_JIT=1``, the NumPy reference (``<name>_reference``): slower, easy to
step through, and what the kernels are tested against. Numba and the kernel
modules are imported on the first call, which keeps ``import minnet`` fast.
``optim_update`` is the optimizers' fast path; ``Optimizer.step`` chooses it.
"""
from __future__ import annotations

import contextlib
import os

_resolved: dict = {}  # name -> (Numba kernel, NumPy reference); filled by the first call


def jit_enabled() -> bool:
    """True unless the environment variable ``MINNET_NO_JIT`` is set to 1/true/yes/on.

    Read on every call, so tests can switch paths with ``monkeypatch.setenv``.
    """
    return os.environ.get("MINNET_NO_JIT", "").strip().lower() not in ("1", "true", "yes", "on")


def _load_kernels() -> dict:
    """Import the kernel modules (and Numba) and list every kernel with its reference."""
    from . import conv_im2col, cross_entropy, heap, pool, scatter, special, stats
    heap.keep_freed_memory()  # conv and pooling free tens of MB a step: keep it (heap.py)
    return {
        "im2col": (conv_im2col.im2col_numba, conv_im2col.im2col_reference),
        "col2im": (conv_im2col.col2im_numba, conv_im2col.col2im_reference),
        "conv2d_forward": (conv_im2col.conv2d_forward_numba,
                           conv_im2col.conv2d_forward_reference),
        "conv2d_backward": (conv_im2col.conv2d_backward_numba,
                            conv_im2col.conv2d_backward_reference),
        "max_pool2d_forward": (pool.max_pool2d_forward_numba, pool.max_pool2d_forward_reference),
        "max_pool2d_backward": (pool.max_pool2d_backward_numba,
                                pool.max_pool2d_backward_reference),
        "avg_pool2d_forward": (pool.avg_pool2d_forward_numba, pool.avg_pool2d_forward_reference),
        "avg_pool2d_backward": (pool.avg_pool2d_backward_numba,
                                pool.avg_pool2d_backward_reference),
        "scatter_add": (scatter.scatter_add_numba, scatter.scatter_add_reference),
        "activation_stats": (stats.activation_stats_numba, stats.activation_stats_reference),
        "update_squares": (stats.update_squares_numba, stats.update_squares_reference),
        "cross_entropy_rows": (cross_entropy.cross_entropy_rows_numba,
                               cross_entropy.cross_entropy_rows_reference),
        "erf": (special.erf_numba, special.erf_reference),
        "erfc": (special.erfc_numba, special.erfc_reference),
    }


def kernel(name: str, jit: bool | None = None):
    """The implementation of kernel ``name``: Numba if ``jit`` (default: ``jit_enabled()``)."""
    if not _resolved:
        _resolved.update(_load_kernels())
    if name not in _resolved:
        raise KeyError(f"minnet.kernels: no kernel named {name!r}; "
                       f"known kernels: {sorted(_resolved)}")
    compiled, reference = _resolved[name]
    return compiled if (jit_enabled() if jit is None else jit) else reference


def _dispatcher(name: str):
    def call(*args):
        return kernel(name)(*args)

    call.__name__ = name
    call.__qualname__ = name
    call.__doc__ = (f"Run kernel ``{name}`` (Numba, or the NumPy reference when "
                    f"MINNET_NO_JIT=1); listed in minnet/kernels/__init__.py.")
    return call


im2col = _dispatcher("im2col")
col2im = _dispatcher("col2im")
conv2d_forward = _dispatcher("conv2d_forward")  # im2col + one product per image
conv2d_backward = _dispatcher("conv2d_backward")
max_pool2d_forward = _dispatcher("max_pool2d_forward")
max_pool2d_backward = _dispatcher("max_pool2d_backward")
avg_pool2d_forward = _dispatcher("avg_pool2d_forward")
avg_pool2d_backward = _dispatcher("avg_pool2d_backward")
scatter_add = _dispatcher("scatter_add")  # np.add.at replacement for getitem's backward
activation_stats = _dispatcher("activation_stats")  # a layer output's statistics, one pass
update_squares = _dispatcher("update_squares")  # squared norms of a step's update and weights
cross_entropy_rows = _dispatcher("cross_entropy_rows")  # a classifier's loss and gradient, one pass
erf = _dispatcher("erf")  # the error function, element-wise (the exact GELU)
erfc = _dispatcher("erfc")  # 1 - erf, without the cancellation


_blas_controller = None  # threadpoolctl's handle on NumPy's BLAS; False when unavailable


def blas_threads_setting() -> int:
    """BLAS threads inside conv2d from ``MINNET_BLAS_THREADS``: 1 by default, 0 = leave alone."""
    setting = os.environ.get("MINNET_BLAS_THREADS", "1").strip() or "0"
    try:
        threads = int(setting)
    except ValueError:
        threads = -1
    if threads < 0:
        raise ValueError(f"MINNET_BLAS_THREADS must be a whole number >= 0 (0 leaves BLAS "
                         f"alone), got {setting!r}. Hint: unset it to use the default, 1.")
    return threads


def blas_threads_limit():
    """Context manager: run NumPy's BLAS on ``MINNET_BLAS_THREADS`` threads (default 1).

    conv2d's matrix products are small (e.g. 16 x 72 x 12,544). A second BLAS
    thread gains little on them, and when the machine is busy a product that
    waits for a descheduled helper thread can take many times longer
    (docs/performance.md, "BLAS threads inside conv2d"). ``MINNET_BLAS_THREADS=0``
    leaves BLAS alone. Uses ``threadpoolctl`` (a dependency: the maintained way
    to change BLAS threads at run time); if it is missing or does not know the
    BLAS, this does nothing. The limit is
    process-wide while it lasts, as BLAS thread counts are.
    """
    global _blas_controller
    threads = blas_threads_setting()
    if threads == 0:
        return contextlib.nullcontext()
    if _blas_controller is None:
        try:
            from threadpoolctl import ThreadpoolController
            _blas_controller = ThreadpoolController().select(user_api="blas")
        except Exception:  # not installed, or an unknown BLAS: run unlimited
            _blas_controller = False
    if not _blas_controller:
        return contextlib.nullcontext()
    return _blas_controller.limit(limits=threads)


def blas_threads_report() -> str:
    """What ``minnet info`` says about BLAS threads inside conv2d."""
    try:
        threads = blas_threads_setting()
    except ValueError as error:
        return f"invalid ({error})"
    if threads == 0:
        return "not limited (MINNET_BLAS_THREADS=0)"
    try:
        import threadpoolctl  # noqa: F401
    except ImportError:
        return f"{threads} wanted, but threadpoolctl is not installed: not limited"
    return f"{threads} inside conv2d (MINNET_BLAS_THREADS)"


def info() -> dict:
    """What ``minnet info`` prints about kernels: JIT on/off, Numba version, cache folder.

    Imports Numba (but compiles nothing) to ask it where it would write its cache.
    """
    report = {
        "jit_enabled": jit_enabled(),
        "numba_version": None,
        "numba_disable_jit": os.environ.get("NUMBA_DISABLE_JIT", "0") not in ("", "0"),
        "cache_dir": None,
        "cache_files": 0,
        "blas_threads": blas_threads_report(),
    }
    try:
        import numba
        report["numba_version"] = numba.__version__
        from . import conv_im2col
        cache = getattr(conv_im2col.im2col_numba, "_cache", None)
        cache_dir = getattr(cache, "_cache_path", None)  # private Numba detail; best effort
        report["cache_dir"] = cache_dir
        if cache_dir and os.path.isdir(cache_dir):
            report["cache_files"] = sum(name.endswith(".nbc") for name in os.listdir(cache_dir))
    except Exception as error:  # info must never crash the CLI
        report["error"] = f"{type(error).__name__}: {error}"
    return report
