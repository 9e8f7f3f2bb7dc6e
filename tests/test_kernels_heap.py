"""kernels/heap.py: the malloc thresholds that stop a CNN step faulting its memory back in."""
import os
import platform
import subprocess
import sys
import textwrap

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# Loads the kernels (which sets the thresholds), then runs three "steps" that each fill
# eight 3 MB arrays and free them (as a CNN step does); prints whether the thresholds
# were set and the page faults of the second and third steps (the first may need fresh
# pages either way). 3 MB: NumPy asks for huge pages from 4 MB up, which fault less.
SCRIPT = textwrap.dedent("""
    import resource
    import numpy as np
    from minnet import kernels
    from minnet.kernels import heap
    kernels.kernel("im2col")
    faults = []
    for _ in range(3):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        blocks = [np.ones(3 * 2**18, dtype=np.float32) for _ in range(8)]
        del blocks
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
    print(heap.keep_freed_memory(), faults[1] + faults[2])
""")


def run_script(tuning: str) -> tuple:
    env = dict(os.environ, MINNET_HEAP_TUNING=tuning, PYTHONPATH=REPO_ROOT)
    result = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True,
                            text=True, timeout=120, check=True)
    applied, faults = result.stdout.split()
    return applied == "True", int(faults)


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_freed_memory_is_reused_without_page_faults():
    applied, faults = run_script("1")
    assert applied
    assert faults < 200  # 2 x 24 MB is 12,288 pages: from fresh pages each one faults


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="mallopt is glibc's")
def test_heap_tuning_can_be_switched_off():
    applied, faults = run_script("0")
    assert not applied
    assert faults > 6000  # glibc's own thresholds: the heap is trimmed and faulted in again
