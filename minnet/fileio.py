"""Atomic file writes: whatever a user asked minnet to write is either all there or untouched.

Everything minnet writes for a user goes through ``atomic_write``: a temporary file in
the same directory, flushed, then ``os.replace``d over the target, so a crash or Ctrl-C
leaves the old file (or none), never half a new one. A new file gets
``0o666 & ~umask`` (as ``open()`` would: shared course folders can read it); an existing
one keeps its bits. Temporaries (``.tmp-minnet-<host>-<pid>-<random><suffix>``) are
removed on any exception; those of killed processes are removed by later writes to the
folder (docs/saving.md, "no leftovers").
"""
from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import socket
import tempfile
import time
from typing import Callable, Iterator, Union

PathLike = Union[str, os.PathLike]

TEMP_PREFIX = ".tmp-minnet-"
STALE_SECONDS = 3600.0   # a temporary file untouched this long is left from a dead write
# a dead writer's file must also be untouched this long: a process in another container
# with the same host name can look dead from here while it writes
DEAD_WRITER_SECONDS = 60.0
# the names of temporary files written by earlier minnet versions (mkstemp(prefix=".tmp-"))
_OLD_TEMP_NAME = re.compile(r"^\.tmp-[a-z0-9_]{8}(\.[A-Za-z0-9]+)?$")
_TEMP_NAME = re.compile(r"^\.tmp-minnet-([0-9a-f]{8})-(\d+)-")


def host_tag() -> str:
    """8 hex digits naming this machine (temporary files of other machines are not judged
    by their pid)."""
    return hashlib.sha1(socket.gethostname().encode("utf-8", "replace")).hexdigest()[:8]


def current_umask() -> int:
    """The process's umask, read without changing it where the system allows."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)  # the only portable way to read it is to set it...
    os.umask(mask)          # ...and put it back at once
    return mask


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists on this machine."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, but belongs to someone else
        return True
    except OSError:
        return False
    return True


def remove_stale_temp_files(directory: str, now: float | None = None) -> list:
    """Remove the temporary files of writes that were killed; returns the paths removed.

    Removed: ours from a process of this machine that no longer runs (untouched for
    `DEAD_WRITER_SECONDS`), and any (ours, or from an older minnet's ``.tmp-XXXXXXXX``
    names) untouched for `STALE_SECONDS`.
    """
    now = time.time() if now is None else now
    removed = []
    try:
        names = os.listdir(directory)
    except OSError:
        return removed
    me = host_tag()
    for name in names:
        match = _TEMP_NAME.match(name)
        if match is None and not _OLD_TEMP_NAME.match(name):
            continue
        path = os.path.join(directory, name)
        try:
            age = now - os.lstat(path).st_mtime
            pid = int(match.group(2)) if match else None
            dead = match is not None and match.group(1) == me and pid != os.getpid() \
                and not pid_alive(pid)
            if (dead and age > DEAD_WRITER_SECONDS) or age > STALE_SECONDS:
                os.remove(path)
                removed.append(path)
        except OSError:  # gone already, or not ours to remove
            continue
    return removed


def _check_target(path: str, directory: str) -> None:
    if os.path.isdir(path):
        raise IsADirectoryError(f"cannot write {path!r}: it is a folder. Hint: give a file "
                                "name inside it.")
    parent = directory
    while not os.path.exists(parent) and os.path.dirname(parent) != parent:
        parent = os.path.dirname(parent)
    if parent and not os.path.isdir(parent):
        raise NotADirectoryError(f"cannot write {path!r}: {parent!r} is a file, not a folder")


@contextlib.contextmanager
def atomic_open(path: PathLike, mode: str = "wb") -> Iterator:
    """``with atomic_open(path, "w") as file: ...``: the file appears only when the block succeeds."""
    if mode not in ("w", "wb"):
        raise ValueError(f"atomic_open(): mode must be 'w' or 'wb', got {mode!r}")
    path = os.fsdecode(path)
    if not path:
        raise ValueError("atomic_open(): the file path is empty")
    directory = os.path.dirname(os.path.abspath(path))
    _check_target(path, directory)
    if os.path.exists(path) and not os.path.isfile(path) and not os.path.isdir(path):
        # a device or a pipe (/dev/null, /dev/stdout): written through, never replaced by a
        # renamed regular file (that would turn /dev/null into a file)
        with open(path, mode, **({} if "b" in mode else {"encoding": "utf-8"})) as file:
            yield file
        return
    os.makedirs(directory, exist_ok=True)
    remove_stale_temp_files(directory)
    try:
        mode_bits = os.stat(path).st_mode & 0o7777   # an existing file keeps its permissions
    except OSError:
        mode_bits = 0o666 & ~current_umask()
    suffix = os.path.splitext(path)[1]
    temp_path = None
    try:
        try:
            handle, temp_path = tempfile.mkstemp(
                prefix=f"{TEMP_PREFIX}{host_tag()}-{os.getpid()}-", suffix=suffix, dir=directory)
        except PermissionError:
            raise PermissionError(errno.EACCES, f"cannot write {path!r}: no permission to "
                                  f"create files in {directory!r}") from None
        encoding = None if "b" in mode else "utf-8"
        with os.fdopen(handle, mode, encoding=encoding) as file:
            yield file
            file.flush()
            os.fsync(file.fileno())  # the bytes are on disk before the rename makes them visible
        os.chmod(temp_path, mode_bits)  # mkstemp makes 0600 whatever the umask
        os.replace(temp_path, path)
        temp_path = None
    except OSError as error:
        if error.errno is not None and error.filename is None:  # e.g. a full disk: say where
            raise type(error)(error.errno, error.strerror, path) from None
        raise
    finally:
        if temp_path is not None:  # the block or the write failed (or Ctrl-C): no leftovers
            with contextlib.suppress(OSError):
                os.remove(temp_path)


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
