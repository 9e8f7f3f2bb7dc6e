"""Split a batch over threads: how the conv and pooling kernels use several cores.

``for_each_chunk(n_items, work, work_per_item)`` calls ``work(first, last)`` on
consecutive ranges of the batch, here and on helper threads; ``work`` must release
the GIL (Numba ``nogil=True`` kernels, NumPy's products). Chunks are claimed one at
a time from a shared counter, so a helper the OS has not scheduled claims nothing
and a busy machine costs at most the one-thread time (why not BLAS's or Numba's
threads: docs/performance.md). Results do not depend on the number of threads.
Threads: ``MINNET_NUM_THREADS``, else ``OMP_NUM_THREADS``/``OPENBLAS_NUM_THREADS``,
else the CPUs available; ``set_num_threads`` changes it at run time.
"""
from __future__ import annotations

import os
import queue
import threading

# A chunk must be worth handing to another thread (waking one costs ~10-50 us),
# and there should be a few chunks per thread so that a slow thread delays the
# end by one small chunk. work_per_item is counted in array entries read or
# written (or multiply-adds / 8 for matrix products: about the same time).
MIN_WORK_PER_CHUNK = 50_000
CHUNKS_PER_THREAD = 4

_threads = None  # set by set_num_threads or read from the environment on first use
_helpers: list = []  # one queue.SimpleQueue of jobs per helper thread
_one_job_at_a_time = threading.Lock()  # a second caller thread runs its job alone


def _threads_from_environment() -> int:
    setting = os.environ.get("MINNET_NUM_THREADS", "").strip()
    if setting:
        if not setting.isdigit() or int(setting) < 1:
            raise ValueError(f"MINNET_NUM_THREADS must be a whole number >= 1, got "
                             f"{setting!r}. Hint: unset it to use one thread per CPU.")
        return int(setting)
    for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        # OpenMP also allows lists ("4,2": 4 threads, then 2 when nested): the first counts
        first = os.environ.get(name, "").split(",")[0].strip()
        if first.isdigit() and int(first) >= 1:
            return int(first)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def num_threads() -> int:
    """How many threads (this one included) the conv and pooling kernels use."""
    global _threads
    if _threads is None:
        _threads = _threads_from_environment()
    return _threads


def set_num_threads(threads: int) -> None:
    """Use ``threads`` threads (1 = everything on the calling thread)."""
    global _threads
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise ValueError(f"set_num_threads(): expected a whole number >= 1, got {threads!r}")
    _threads = threads


def chunk_bounds(n_items: int, work_per_item: int, threads: int) -> list:
    """[(first, last), ...]: consecutive ranges covering range(n_items), nearly equal."""
    by_work = (n_items * work_per_item) // MIN_WORK_PER_CHUNK
    chunks = max(1, min(n_items, threads * CHUNKS_PER_THREAD, by_work))
    edges = [n_items * k // chunks for k in range(chunks + 1)]
    return list(zip(edges[:-1], edges[1:]))


class _Job:
    """The chunks of one for_each_chunk call; any thread may claim the next one."""

    def __init__(self, work, bounds):
        self.work = work
        self.bounds = bounds
        self.claimed = 0
        self.unfinished = len(bounds)
        self.lock = threading.Lock()
        self.finished = threading.Event()
        self.error = None

    def run(self) -> None:
        """Claim and run chunks until none is left."""
        while True:
            with self.lock:
                index = self.claimed
                if index == len(self.bounds):
                    return
                self.claimed = index + 1
            try:
                self.work(*self.bounds[index])
            except BaseException as error:  # re-raised by the calling thread
                self.error = error
            with self.lock:
                self.unfinished -= 1
                if self.unfinished == 0:
                    self.finished.set()


def _helper_loop(jobs: queue.SimpleQueue) -> None:
    while True:
        jobs.get().run()  # blocks (no spinning) until there is a job


def _start_helpers(count: int) -> int:
    """Have ``count`` helper threads; returns how many there are (fewer if the OS refuses)."""
    while len(_helpers) < count:
        jobs = queue.SimpleQueue()
        try:
            threading.Thread(target=_helper_loop, args=(jobs,), daemon=True,
                             name=f"minnet-kernels-{len(_helpers) + 1}").start()
        except RuntimeError:  # no room for another thread (e.g. a memory limit): do without
            break
        _helpers.append(jobs)
    return min(count, len(_helpers))


def for_each_chunk(n_items: int, work, work_per_item: int) -> None:
    """Call ``work(first, last)`` for consecutive ranges covering ``range(n_items)``.

    On up to ``num_threads()`` threads; everything on this thread when there is
    one thread, little work, or another thread is already running a job here.
    Returns when every chunk is done; an error in any chunk is raised here.
    """
    threads = num_threads()
    bounds = chunk_bounds(n_items, work_per_item, threads) if threads > 1 else [(0, n_items)]
    if len(bounds) == 1 or not _one_job_at_a_time.acquire(blocking=False):
        for first, last in bounds:
            work(first, last)
        return
    try:
        job = _Job(work, bounds)
        for jobs in _helpers[:_start_helpers(min(threads, len(bounds)) - 1)]:
            jobs.put(job)
        job.run()
        job.finished.wait()  # only chunks a helper claimed and is still running
    finally:
        _one_job_at_a_time.release()
    if job.error is not None:
        raise job.error


def _forget_helpers_after_fork() -> None:
    """A forked child has none of its parent's threads: start new helpers when needed."""
    global _one_job_at_a_time
    _helpers.clear()
    _one_job_at_a_time = threading.Lock()


if hasattr(os, "register_at_fork"):  # POSIX; elsewhere there is no fork
    os.register_at_fork(after_in_child=_forget_helpers_after_fork)
