"""Keep freed memory for the next training step instead of handing it back to the OS.

A CNN step allocates and frees tens of MB (im2col columns, activations, gradients).
glibc's malloc serves blocks above its mmap threshold from fresh pages and returns the
top of its heap above its trim threshold: then every step faults its memory back in, a
zeroed 4 KB page at a time. glibc raises both thresholds itself as blocks are freed (up
to 32 and 64 MB), but whether a process gets there depends on what it freed first;
setting them up front gives every process that end state. Cost: up to 64 MB kept.
"""
from __future__ import annotations

import ctypes
import os
import platform

# glibc's mallopt() parameter numbers (malloc.h)
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
MMAP_THRESHOLD = 32 * 2**20  # the largest value glibc's own adjustment reaches
TRIM_THRESHOLD = 2 * MMAP_THRESHOLD  # glibc's own rule: twice the mmap threshold

_applied = None  # None: not tried yet; else True/False (did mallopt accept both?)


def keep_freed_memory() -> bool:
    """Set glibc's malloc thresholds once per process; True if they are set.

    Does nothing (False) outside glibc, or when ``MINNET_HEAP_TUNING=0``.
    """
    global _applied
    if _applied is None:
        _applied = False
        wanted = os.environ.get("MINNET_HEAP_TUNING", "1").strip().lower() not in (
            "0", "false", "no", "off")
        if wanted and platform.libc_ver()[0] == "glibc":
            try:
                mallopt = ctypes.CDLL(None).mallopt
                # mallopt returns 1 on success; setting either stops glibc adjusting both
                _applied = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and \
                    bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
            except (OSError, AttributeError):
                pass
    return _applied

