"""Settings shared by every test: NumPy's BLAS on one thread, and what ``slow`` means.

The suite runs in two steps (README.md, .ci/run):

    python -m pytest tests -m "not slow"   # the README's test command, within 2 minutes
    python -m pytest tests -m slow         # the end-to-end checks, a CI step of their own

``@pytest.mark.slow`` marks a check that runs something whole: the labs graded in a
subprocess, the docs' examples or a notebook executed, the CLI tour, a fresh interpreter
compiling the kernels. Every test runs in CI; ``python -m pytest tests`` runs them all.
"""
import os

import numpy as np  # noqa: F401  (loaded first: threadpoolctl limits the BLAS it finds loaded)
import pytest
from threadpoolctl import threadpool_limits

# The tests check results, not speed. OpenBLAS's threads spin while they wait for work, so
# the small matrix products of the tests cost far more CPU on two threads than on one, the
# more so on a busy machine: a 25-epoch digits run took 5.0 s of CPU on 2 threads and 0.7 s
# on 1 (load ~8 on 2 cores). In this process only: subprocesses the tests start run as a
# user's would, and the kernels' own threads (minnet.kernels.threads) are left alone.
threadpool_limits(limits=1, user_api="blas")


def _processes_with(marker: str) -> list:
    """PIDs whose command line holds ``marker`` (from /proc, this PID namespace's view)."""
    found = []
    for entry in os.listdir("/proc"):
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as file:
                if marker.encode() in file.read():
                    found.append(int(entry))
        except (OSError, ValueError):
            continue
    return found


@pytest.fixture
def processes_with():
    """``processes_with(marker)``: the PIDs whose command line holds ``marker`` (the tests
    that check that a student's process does not outlive its test find it so)."""
    return _processes_with
