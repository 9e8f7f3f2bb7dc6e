"""Atomic file writes: whatever a user asked minnet to write is either all there or untouched.

Everything minnet writes for a user (saved state dicts, reports, run logs,
figures, grades) goes through ``atomic_write``: the content is written to a
temporary file in the same directory, flushed to disk, then moved over the
target in one ``os.replace`` step. A crash or Ctrl-C mid-write leaves the old
file (or none), never half of a new one.
"""
from __future__ import annotations

import contextlib
import os
import tempfile
from typing import Callable, Iterator, Union

PathLike = Union[str, os.PathLike]


@contextlib.contextmanager
def atomic_open(path: PathLike, mode: str = "wb") -> Iterator:
    """``with atomic_open(path, "w") as file: ...``: the file appears only when the block succeeds."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open(): mode must be 'w' or 'wb', got {mode!r}")
    path = os.fspath(path)
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    suffix = os.path.splitext(path)[1]
    handle, temp_path = tempfile.mkstemp(prefix=".tmp-", suffix=suffix, dir=directory)
    try:
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(handle, mode, encoding=encoding) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())  # the bytes are on disk before the rename makes them visible
        os.replace(temp_path, path)
    except BaseException:
        if os.path.exists(temp_path):
            os.remove(temp_path)
        raise


def atomic_write(path: PathLike, content: Union[str, bytes, Callable]) -> str:
    """Write ``content`` (text, bytes, or ``callable(file)`` that writes bytes) to ``path`` atomically.

    Returns the path written, as a string.
    """
    if callable(content):
        with atomic_open(path, "wb") as file:
            content(file)
    else:
        with atomic_open(path, "w" if isinstance(content, str) else "wb") as file:
            file.write(content)
    return os.fspath(path)
