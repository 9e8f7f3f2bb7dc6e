"""The worker's view of the system when the grader runs as root (Linux): ``lock_down``.

Runs in the sandbox worker after the fork server forked it, still as root, whether or not it
can then drop to the sandbox user (it stays uid 0 where the interpreter lives under root's
0700 home, and then only this keeps it powerless): its own mount namespace with every
filesystem read-only and the hidden grading tree empty, a private tmpfs for the temporary
folder, a minimal ``/dev``, ``/proc``'s dangerous parts read-only or hidden, minnet's package
emptied for labs that do not allow it, empty network and IPC namespaces, a PID namespace
for its children, and no capability (``no_new_privs``). Each step is best effort (a
container may refuse namespaces). Each step and its reason: docs/grading_internals.md.
"""
from __future__ import annotations

import os
import sys
import tempfile

HIDE_VARIABLE = "MINNET_GRADING_HIDE"  # paths the grader hides from the worker (os.pathsep)
CLONE_NEWNS, CLONE_NEWNET, CLONE_NEWPID = 0x20000, 0x40000000, 0x20000000
CLONE_NEWIPC = 0x08000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS, PR_CAP_AMBIENT = 24, 38, 47
PR_CAP_AMBIENT_CLEAR_ALL = 4
DEVICES = ("null", "zero", "random", "urandom")
READ_ONLY_PROC = ("/proc/sys", "/proc/bus", "/proc/fs", "/proc/irq")
MASKED_PROC = ("/proc/sysrq-trigger", "/proc/kcore", "/proc/keys", "/proc/timer_list",
               "/proc/sched_debug")
PACKAGE = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))  # minnet/
# what the worker runs of minnet when the lab does not allow minnet (loaded by path)
WORKER_FILES = ("grading/sandbox_worker.py", "grading/wire.py", "grading/sandbox_autograd.py")


def available() -> bool:
    """True where ``lock_down`` applies: Linux, as root."""
    return sys.platform.startswith("linux") and hasattr(os, "geteuid") and os.geteuid() == 0


def hidden_paths() -> list:
    """What ``minnet grade`` asked to hide: the grading tree, the instructor's labs."""
    return [path for path in os.environ.get(HIDE_VARIABLE, "").split(os.pathsep)
            if path and os.path.exists(path)]


def allow_writing(*paths) -> None:
    """Folders of the current test the student's code may write to under the temporary
    folder (where a figure is saved): kept writable in the worker's private temporary
    folder. The plugin calls it in each test's own process."""
    _writable[:] = [os.path.realpath(str(path)) for path in paths if path]


_writable: list = []


def writable_folders() -> list:
    """The folders ``allow_writing`` named that exist (the current test's tmp_path)."""
    return [folder for folder in _writable if os.path.isdir(folder)]


def remove_links() -> None:
    """Remove what is not a regular file or folder from the folders the student's code may
    write to (the grader calls it after each reply): a link there would make the test read
    or write where the link points (a reference's picture) when it opens the student's file."""
    import stat

    for folder in _writable:
        for root, folders, files in os.walk(folder):
            for name in folders + files:
                path = os.path.join(root, name)
                try:
                    mode = os.lstat(path).st_mode
                    if not (stat.S_ISREG(mode) or stat.S_ISDIR(mode)):
                        os.unlink(path)
                except OSError:
                    continue


def _under(path: str, folder: str) -> bool:
    return path == folder or path.startswith(folder.rstrip(os.sep) + os.sep)


def kept_in_tmp(workdir: str, hide: list, also_readable=()) -> list:
    """[(path, writable)]: what the worker still sees of the temporary folder once it has a
    private one: its own folder and the test's (writable); the interpreter, its libraries
    and minnet where they live there (read-only). Never a hidden path."""
    scratch = os.path.realpath(tempfile.gettempdir())
    readable = [sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(sys.executable),
                os.path.dirname(os.path.realpath(sys.executable)), os.path.dirname(PACKAGE),
                *also_readable, *sys.path]
    kept: dict = {}
    for path, writable in [(workdir, True), *[(path, True) for path in _writable],
                           *[(path, False) for path in readable]]:
        path = os.path.realpath(path) if path else ""
        if not path or not os.path.isdir(path) or not _under(path, scratch) or path == scratch \
                or any(_under(path, os.path.realpath(secret)) for secret in hide):
            continue
        kept[path] = kept.get(path, False) or writable
    chosen: list = []
    for path in sorted(kept, key=len):  # a read-only folder inside one kept already: done
        if not kept[path] and any(_under(path, done) and not rw for done, rw in chosen):
            continue
        chosen.append((path, kept[path]))
    return chosen


def _mount_points() -> list:
    """Every mount point of this namespace, shortest first (/proc/self/mountinfo)."""
    points = set()
    with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as mountinfo:
        for line in mountinfo:
            fields = line.split()
            if len(fields) > 4:  # field 5 is the mount point, with octal escapes
                points.add(fields[4].encode().decode("unicode_escape"))
    return sorted(points, key=len)


class _Mounts:
    """mount(2) through libc, with the few moves lock_down makes."""

    def __init__(self, libc):
        self.libc = libc

    def mount(self, source, target, kind, flags, data=None) -> bool:
        encode = lambda value: None if value is None else os.fsencode(value)  # noqa: E731
        return self.libc.mount(encode(source), encode(target), encode(kind), flags,
                               encode(data)) == 0

    def read_only(self, path: str, flags: int = 0) -> bool:
        return self.mount(None, path, None, MS_REMOUNT | MS_BIND | MS_RDONLY | flags)

    def bind(self, handle: int, target: str, flags: int) -> bool:
        """Bind what ``handle`` (an O_PATH descriptor opened before a tmpfs hid it) names
        onto ``target``, with ``flags`` (read-only, nosuid...)."""
        if not self.mount(f"/proc/self/fd/{handle}", target, None, MS_BIND):
            return False
        return self.mount(None, target, None, MS_REMOUNT | MS_BIND | flags)

    def tmpfs(self, target: str, options: str, flags: int = MS_NOSUID | MS_NODEV) -> bool:
        return self.mount("tmpfs", target, "tmpfs", flags, options)


def _open_paths(paths) -> list:
    """[(O_PATH descriptor, path)] of those that exist: kept across the mount that hides
    them, to bind them back."""
    handles = []
    for path in paths:
        try:
            handles.append((os.open(path, os.O_PATH | os.O_NOFOLLOW), path))
        except OSError:
            continue
    return handles


def _close(handles) -> None:
    for handle, *_ in handles:
        os.close(handle)


def _private_tmp(mounts: _Mounts, kept: list) -> None:
    """The temporary folder: a private empty tmpfs with ``kept`` bound back in."""
    scratch = tempfile.gettempdir()
    handles = []
    for path, writable in kept:
        for handle, _ in _open_paths([path]):
            handles.append((handle, path, writable))
    if mounts.tmpfs(scratch, "size=256m,mode=1777"):
        for handle, path, writable in handles:
            os.makedirs(path, exist_ok=True)
            mounts.bind(handle, path, MS_NOSUID | MS_NODEV | (0 if writable else MS_RDONLY))
    elif mounts.mount(scratch, scratch, None, MS_BIND):  # no tmpfs: shared, writable
        mounts.mount(None, scratch, None, MS_REMOUNT | MS_BIND | MS_NOSUID | MS_NODEV)
    _close(handles)


def _minimal_dev(mounts: _Mounts) -> None:
    """/dev: a read-only tmpfs with null, zero, random and urandom bound in, the usual
    links to /proc/self/fd, and a private /dev/shm (gone with the worker)."""
    handles = _open_paths(f"/dev/{name}" for name in DEVICES)
    if mounts.tmpfs("/dev", "size=64k,mode=755", MS_NOSUID | MS_NOEXEC):
        for handle, path in handles:
            open(path, "w").close()  # a mount point for the device
            mounts.bind(handle, path, MS_NOSUID | MS_NOEXEC)
        for name, target in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"),
                             ("stdout", "/proc/self/fd/1"), ("stderr", "/proc/self/fd/2")):
            os.symlink(target, f"/dev/{name}")
        os.mkdir("/dev/shm")
        mounts.tmpfs("/dev/shm", "size=64m,mode=1777", MS_NOSUID | MS_NODEV | MS_NOEXEC)
        mounts.read_only("/dev", MS_NOSUID | MS_NOEXEC)
    _close(handles)


def _quiet_proc(mounts: _Mounts) -> None:
    """/proc's system-wide settings read-only; the trigger files and the kernel's memory and
    keys hidden (/dev/null in their place)."""
    for path in READ_ONLY_PROC:
        if os.path.isdir(path):
            mounts.mount(path, path, None, MS_BIND | MS_REC)
    for point in _mount_points():  # the binds and what is mounted below them (binfmt_misc)
        if any(_under(point, path) for path in READ_ONLY_PROC):
            mounts.read_only(point, MS_NOSUID | MS_NODEV | MS_NOEXEC)
    for path in MASKED_PROC:
        if os.path.exists(path):
            mounts.mount("/dev/null", path, None, MS_BIND)


def _hide(mounts: _Mounts, paths: list) -> None:
    """Each folder an empty read-only tmpfs, each file an empty one."""
    for path in paths:
        if os.path.isdir(path):
            mounts.tmpfs(path, "size=4k,mode=500", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC)
        elif os.path.exists(path):
            mounts.mount("/dev/null", path, None, MS_BIND)


def _other_minnet_copies() -> list:
    """Every other folder this interpreter could import minnet from: a grader run from a
    source tree (``python -m pytest`` in a clone) while ``pip install .`` put a copy in
    site-packages, which the worker (``python -I``) imports instead."""
    import site

    roots = [*sys.path, *site.getsitepackages(), site.getusersitepackages()]
    copies = []
    for root in roots:
        folder = os.path.realpath(os.path.join(root or os.curdir, "minnet"))
        if folder != os.path.realpath(PACKAGE) and folder not in copies \
                and os.path.isfile(os.path.join(folder, "__init__.py")):
            copies.append(folder)
    return copies


def _hide_minnet_core(mounts: _Mounts) -> None:
    """minnet's package an empty read-only folder but for the worker's own files; every
    other installed copy of minnet simply empty."""
    _hide(mounts, _other_minnet_copies())
    keep = [os.path.join(PACKAGE, name) for name in WORKER_FILES]
    handles = _open_paths(keep)
    if mounts.tmpfs(PACKAGE, "size=64k,mode=755", MS_NOSUID | MS_NODEV):
        for handle, path in handles:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            open(path, "w").close()
            mounts.bind(handle, path, MS_RDONLY | MS_NOSUID | MS_NODEV)
        mounts.read_only(PACKAGE, MS_NOSUID | MS_NODEV)
    _close(handles)


def _drop_capabilities(libc) -> None:
    """Every capability out of the bounding set (an executed program never gets one back,
    root or not), the inheritable and ambient sets emptied, no_new_privs. The effective
    set of this process stays until ``give_up_capabilities``: setuid to the sandbox user
    still works."""
    try:
        with open("/proc/sys/kernel/cap_last_cap", encoding="ascii") as file:
            last = int(file.read())
    except (OSError, ValueError):
        last = 63
    for capability in range(last + 1):
        libc.prctl(PR_CAPBSET_DROP, capability, 0, 0, 0)
    libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    import ctypes

    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()  # two of {effective, permitted, inheritable}
    if libc.capget(header, data) == 0:
        data[2] = data[5] = 0  # inheritable
        libc.capset(header, data)
    libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)


def give_up_capabilities() -> None:
    """Empty this process's effective, permitted and inheritable sets: what an exec after
    ``lock_down`` did (its bounding set is empty), for a worker forked without one. Called
    after the uid drop (which needs them) or in its place."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    header = (ctypes.c_uint32 * 2)(0x20080522, 0)  # _LINUX_CAPABILITY_VERSION_3, this process
    data = (ctypes.c_uint32 * 6)()  # all zero
    if libc.capset(header, data) != 0:
        raise OSError(ctypes.get_errno(), "capset: could not give up the capabilities")


def lock_down(hide: list, kept: list, hide_minnet: bool) -> None:
    """As root, in the worker before it serves (see the module's docstring; then
    ``give_up_capabilities``). ``hide``: paths
    shown empty; ``kept``: what of the temporary folder stays (``kept_in_tmp``);
    ``hide_minnet``: the lab does not allow minnet."""
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    mounts = _Mounts(libc)
    if libc.unshare(CLONE_NEWNS) == 0:
        mounts.mount("none", "/", None, MS_REC | MS_PRIVATE)
        for point in _mount_points():  # read-only here only: the mounts are this namespace's
            if not _under(point, "/proc") and not _under(point, "/dev"):
                mounts.read_only(point)
        _private_tmp(mounts, kept)
        _hide(mounts, hide)
        if hide_minnet:
            _hide_minnet_core(mounts)
        _quiet_proc(mounts)
        _minimal_dev(mounts)
    libc.unshare(CLONE_NEWNET)
    # System V shared memory and message queues of its own: a segment carried a hidden
    # test's inputs to a later worker and outlived the grading
    libc.unshare(CLONE_NEWIPC)
    # the worker's children (its working process, see sandbox_worker.main) start in a PID
    # namespace of their own: no process of the grader's to signal
    libc.unshare(CLONE_NEWPID)
    _drop_capabilities(libc)
