"""Run functions in forked child processes with a time and memory limit.

A student's code may loop forever, segfault, call ``os._exit`` or allocate 80 GB; in the
pytest process any of these would end the grading run without a report. In a child each
ends only that child, and its outcome says what happened::

    child = start_child(work, timeout=10, memory_mb=2048)
    wait_any([child, other])  # returns when one of them has ended
    child.outcome.payload     # bytes work() returned, or None
    child.outcome.problem     # None, "TIMEOUT after 10 s", "crashed: killed by signal 11 ..."

Forked, the child inherits what is already imported (NumPy, Numba, minnet).
"""
from __future__ import annotations

import os
import select
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from typing import Callable, Optional

CAN_FORK = hasattr(os, "fork") and sys.platform != "win32"
CHILD_FAILED = 70  # exit status of a child whose work() raised (the traceback is on its stderr)


@dataclass
class ChildOutcome:
    payload: Optional[bytes]
    problem: Optional[str]
    seconds: float


def virtual_memory_bytes() -> Optional[int]:
    """This process's address-space size (Linux /proc), or None where unknown."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def limit_memory(memory_mb: Optional[float]) -> None:
    """Cap the address space at what is mapped now plus ``memory_mb`` MB (Linux only).

    The cap is relative: NumPy, OpenBLAS and Numba/LLVM have already mapped a few
    hundred MB of address space (much of it reserved, not used), and an absolute
    cap below that would break them. A larger allocation then raises MemoryError
    in the child instead of exhausting the shared machine.
    """
    if not memory_mb or not sys.platform.startswith("linux"):
        return
    import resource

    current = virtual_memory_bytes()
    if current is None:
        return
    limit = current + int(memory_mb * 1024 * 1024)
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash leaves no core file behind
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    resource.setrlimit(resource.RLIMIT_AS, (limit, hard))


def signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return f"signal {number}"


def describe_signal(number: int) -> str:
    """'killed by signal 11 (SIGSEGV)', with what the common ones usually mean."""
    name = signal_name(number)
    meaning = {
        "SIGSEGV": ": an out-of-bounds access in compiled (Numba) code, or a stack overflow",
        "SIGKILL": ": killed from outside, often by the system when memory ran out",
        "SIGABRT": ": the process aborted (a failed internal check in a C library)",
        "SIGBUS": ": a bad memory access",
        "SIGFPE": ": an arithmetic fault (integer division by zero in compiled code)",
    }.get(name, "")
    return f"killed by signal {number} ({name}){meaning}"


def _child_main(work: Callable[[], bytes], write_fd: int, memory_mb) -> None:
    """In the child: set limits, run work(), send its bytes, and leave without cleanup."""
    status = 0
    try:
        os.setpgid(0, 0)  # its own process group: a timeout kills whatever it started too
    except OSError:
        pass
    try:
        limit_memory(memory_mb)
        payload = work()
        view = memoryview(payload)
        while view:
            written = os.write(write_fd, view)
            view = view[written:]
    except BaseException:  # noqa: BLE001 -- whatever happens, the parent must hear of it
        status = CHILD_FAILED
        try:
            traceback.print_exc()
        except BaseException:  # noqa: BLE001
            pass
    finally:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:  # noqa: BLE001
            pass
        os._exit(status)  # no atexit handlers, no parent-owned buffers flushed twice


def _kill_group(pid: int) -> None:
    for target in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            target()
            return
        except (ProcessLookupError, PermissionError, OSError):
            continue


@dataclass
class Child:
    """A forked child running ``work()``: what its pipe has sent so far, and, once it has
    ended (or was stopped at its time limit), its ``outcome``."""
    pid: int
    read_fd: int
    started: float
    timeout: float
    chunks: list
    outcome: Optional[ChildOutcome] = None

    @property
    def deadline(self) -> float:
        return self.started + self.timeout


def start_child(work: Callable[[], bytes], timeout: float, memory_mb: Optional[float] = None,
                close_in_child: tuple = ()) -> Child:
    """Fork and run ``work()`` (returning bytes) in the child; ``wait_any`` collects it.
    ``close_in_child``: descriptors of the parent's the child must not keep (the pipes of
    other children running at the same time)."""
    read_fd, write_fd = os.pipe()
    start = time.monotonic()
    pid = os.fork()
    if pid == 0:  # pragma: no cover -- the child never returns from here
        os.close(read_fd)
        for fd in close_in_child:
            try:
                os.close(fd)
            except OSError:
                pass
        _child_main(work, write_fd, memory_mb)
    os.close(write_fd)
    return Child(pid, read_fd, start, timeout, [])


def wait_any(children: list) -> None:
    """Wait until at least one of the running ``children`` has ended or passed its time
    limit (then it is killed); sets their ``outcome``. Every running child's pipe is read
    meanwhile, so none blocks on a full pipe while another is waited for."""
    running = [child for child in children if child.outcome is None]
    try:
        while running and all(child.outcome is None for child in running):
            now = time.monotonic()
            for child in running:
                if now >= child.deadline:
                    _kill_group(child.pid)
                    _end(child, timed_out=True)
            waiting = [child for child in running if child.outcome is None]
            if len(waiting) < len(running):
                break
            ready, _, _ = select.select([child.read_fd for child in waiting], [], [],
                                        max(0.0, min(child.deadline for child in waiting) - now))
            for child in waiting:
                if child.read_fd in ready:
                    chunk = os.read(child.read_fd, 1 << 16)
                    if chunk:
                        child.chunks.append(chunk)
                    else:  # the child closed its end: it finished (or died)
                        _end(child, timed_out=False)
    except BaseException:  # Ctrl-C in the parent: take the children down with us
        stop_all(running)
        raise


def stop_all(children: list) -> None:
    """Kill and reap every child still running (the session ended before their turn)."""
    for child in children:
        if child.outcome is None:
            _kill_group(child.pid)
            _end(child, timed_out=True)


def _end(child: Child, timed_out: bool) -> None:
    """Reap ``child`` and set its outcome."""
    _, status = os.waitpid(child.pid, 0)
    os.close(child.read_fd)
    seconds = time.monotonic() - child.started
    payload = b"".join(child.chunks)
    if timed_out:
        outcome = ChildOutcome(None, f"TIMEOUT after {child.timeout:g} s", seconds)
    elif os.WIFSIGNALED(status):
        outcome = ChildOutcome(None, "crashed: " + describe_signal(os.WTERMSIG(status)), seconds)
    else:
        code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else -1
        if code == CHILD_FAILED:
            outcome = ChildOutcome(None, "crashed: the grading process failed (see its error "
                                         "output)", seconds)
        elif code != 0 or not payload:
            outcome = ChildOutcome(None, f"crashed: the process ended early with exit status "
                                         f"{code} (os._exit() called, or the interpreter was "
                                         f"shut down)", seconds)
        else:
            outcome = ChildOutcome(payload, None, seconds)
    child.outcome = outcome


# --------------------------------------------------------------------------
# what a test leaves running
# --------------------------------------------------------------------------
def become_subreaper() -> bool:
    """Linux: processes orphaned below this one (a student's daemon that double-forked or
    called setsid to leave its group) are re-parented to this process instead of init, so
    ``kill_orphans`` finds them. False where the system does not offer it."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(36, 1, 0, 0, 0) == 0  # PR_SET_CHILD_SUBREAPER
    except (OSError, AttributeError):
        return False


def hide_from_same_user() -> bool:
    """Linux: make this process non-dumpable, so another process of the same user cannot
    open its /proc entries (its pipes under /proc/PID/fd, its memory) or attach a debugger
    to it. The grader does this before any student code runs; children forked from it
    inherit it, a freshly executed interpreter (the sandbox worker) does not."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        return libc.prctl(4, 0, 0, 0, 0) == 0  # PR_SET_DUMPABLE 0
    except (OSError, AttributeError):
        return False


def _children_of(pid: int) -> list:
    """PIDs whose parent is ``pid`` (from /proc; empty where there is no /proc)."""
    children = []
    try:
        entries = os.listdir("/proc")
    except OSError:
        return children
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if len(fields) > 1 and int(fields[1]) == pid:
            children.append(int(entry))
    return children


# this process's own helpers that are no test's leftovers (the sandbox's fork server,
# zygote.py): kill_orphans spares them
SERVICES: set = set()


def kill_orphans(keep: tuple = ()) -> int:
    """Kill and reap every child of this process not in ``keep`` nor ``SERVICES`` (after a
    test: whatever the test's code started and left behind, re-parented here); returns how
    many.

    As PID 1 of a PID namespace (``minnet grade`` runs the grader so, see grade.py) every
    other process in the namespace is the tests': all are killed at once."""
    killed = 0
    keep = (*keep, *SERVICES)
    if os.getpid() == 1 and not keep:
        try:
            os.kill(-1, signal.SIGKILL)  # all but this process, inside the namespace only
        except ProcessLookupError:
            pass
    for _ in range(10):  # a dying process's own children are re-parented here in turn
        children = [pid for pid in _children_of(os.getpid()) if pid not in keep]
        if not children:
            break
        for pid in children:
            try:
                os.kill(pid, signal.SIGKILL)
                killed += 1
            except (ProcessLookupError, PermissionError):
                pass
        for pid in children:
            try:
                os.waitpid(pid, 0)
            except ChildProcessError:
                pass
    return killed

