"""Sandbox workers forked by the fork server (minnet.grading.zygote, zygote_server): what
each worker holds and sees, how it ends, and what happens when the server is gone."""
import json
import os
import signal
import time

import numpy as np
import pytest

from minnet.grading import LabFailure, lockdown, zygote
from minnet.grading.sandbox import Sandbox, SandboxedModule, close_all

pytestmark = pytest.mark.skipif(not os.path.isdir("/proc/self") or not hasattr(os, "fork"),
                                reason="the fork server needs Linux")

STUDENT = """
import os, stat, sys
import numpy as np

def product(a, b):
    return a @ b

def modules():
    return sorted({name.split(".")[0] for name in sys.modules})

def open_fds():
    found = []
    for fd in range(1024):
        try:
            mode = os.fstat(fd).st_mode
        except OSError:
            continue
        found.append([fd, stat.S_ISSOCK(mode)])
    return found

def pid():
    return os.getpid()

def tag():
    return TAG

def reach(pid):
    try:
        os.kill(pid, 0)
        signalled = "signalled"
    except OSError as error:
        signalled = type(error).__name__
    try:
        open(f"/proc/{pid}/mem", "rb").close()
        memory = "opened"
    except OSError as error:
        memory = type(error).__name__
    return [signalled, memory]

def spawn(marker):
    import subprocess
    subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", marker],
                     start_new_session=True)

def die(how):
    if how == "exit":
        os._exit(9)
    if how == "crash":  # a fault (as root it is PID 1 there, which ignores kill(1, ...))
        import ctypes
        ctypes.string_at(0)
    return np.ones(1 << 33)  # 64 GB: over the address-space cap
"""

ALLOWED = ("numpy", "os", "stat", "sys", "subprocess", "ctypes")


def worker(tmp_path, with_minnet=False, tag="a"):
    path = tmp_path / f"student_{tag}.py"
    path.write_text(STUDENT + f"\nTAG = {tag!r}\n")
    allowed = ALLOWED + (("minnet",) if with_minnet else ())
    return SandboxedModule(Sandbox(str(path), f"student_{tag}", allowed))


@pytest.fixture(autouse=True)
def _close():
    yield
    close_all()


def _servers() -> list:
    """PIDs of this process's fork servers: the plain one and its child with minnet."""
    pids = []
    for server in zygote._servers.values():
        pids.append(server.process.pid)
        with open(f"/proc/{server.process.pid}/task/{server.process.pid}/children") as file:
            pids.extend(int(pid) for pid in file.read().split())
    return pids


def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as file:
            return file.read().rsplit(b")", 1)[1].split()[0] == b"Z"
    except OSError:
        return True


def _eventually(condition, seconds=10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return condition()


def test_a_forked_worker_multiplies_matrices_as_a_fresh_interpreter_does(tmp_path):
    # OpenBLAS was loaded (and its threads started) in the server before the fork; the
    # workers used to be fresh interpreters (this test process runs BLAS on one thread,
    # conftest.py, so its own product may differ in the last bit)
    import subprocess
    import sys

    script = ("import numpy as np, sys; rng = np.random.default_rng(0); "
              "a, b = rng.standard_normal((300, 200)), rng.standard_normal((200, 250)); "
              "np.save(sys.argv[1], a @ b)")
    subprocess.run([sys.executable, "-I", "-c", script, str(tmp_path / "fresh.npy")],
                   check=True, env=zygote.server_environment())
    fresh = np.load(tmp_path / "fresh.npy")
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((300, 200)), rng.standard_normal((200, 250))
    for with_minnet in (False, True):
        got = worker(tmp_path, with_minnet).product(a, b)
        np.testing.assert_array_equal(got, fresh)


def test_a_lab_without_minnet_gets_a_worker_that_never_imported_it(tmp_path):
    plain = worker(tmp_path).modules()
    assert "minnet" not in plain and "matplotlib" not in plain and "numpy" in plain
    assert "minnet" in worker(tmp_path, with_minnet=True, tag="b").modules()


def test_the_worker_holds_no_descriptor_but_its_own(tmp_path):
    # the server's request sockets (every test's way to the server) and the lifeline to the
    # keeper are closed before the student's file runs: stdin, stdout, stderr and the wire
    for with_minnet in (False, True):
        fds = worker(tmp_path, with_minnet).open_fds()
        assert [fd for fd, _ in fds][:3] == [0, 1, 2]
        assert len(fds) == 4 and fds[3][1], fds  # the fourth is the wire, a socket


def test_each_worker_is_a_process_of_its_own_with_fresh_random_state(tmp_path):
    first, second = worker(tmp_path), worker(tmp_path, tag="b")
    assert first.pid() != second.pid() or lockdown.available()  # as root both are PID 1
    assert (first.tag(), second.tag()) == ("a", "b")


def test_the_worker_cannot_reach_the_server(tmp_path):
    # as root: its own PID namespace (no pid to signal); everywhere: the server is not
    # dumpable, so not even a worker of the same user opens its memory
    module = worker(tmp_path)
    server = _servers()[0]
    signalled, memory = module.reach(server)
    if lockdown.available():
        assert signalled == "ProcessLookupError"
    assert memory == "PermissionError", memory
    if lockdown.available():
        # nor its PID-namespace parent, a root process outside the namespace (a review
        # wrote into it through /proc/<pid>/mem when it was a fresh, dumpable interpreter)
        assert module.reach(module._box.process.pid) == ["ProcessLookupError",
                                                          "PermissionError"]


def test_exit_status_signal_and_memory_cap_are_reported_as_before(tmp_path):
    with pytest.raises(LabFailure, match="exit status 9"):
        worker(tmp_path).die("exit")
    # as root the worker's PID-namespace parent passes the signal on as 128 + its number
    with pytest.raises(LabFailure, match=r"killed by signal 11 \(SIGSEGV\)|exit status 139"):
        worker(tmp_path).die("crash")
    with pytest.raises(MemoryError):
        worker(tmp_path).die("memory")


def _in_child(work) -> tuple:
    """Fork a child (as the plugin forks a test) running ``work()``, which returns JSON
    data; (pid, read end of the pipe the data comes on)."""
    read_fd, write_fd = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover -- in the child
        status = 1
        try:
            os.close(read_fd)
            os.write(write_fd, json.dumps(work()).encode() + b"\n")
            status = 0
            time.sleep(60)
        finally:
            os._exit(status)
    os.close(write_fd)
    return pid, read_fd


def _read_line(fd: int) -> object:
    data = b""
    while not data.endswith(b"\n"):
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    os.close(fd)
    return json.loads(data)


def test_a_worker_dies_with_the_test_that_asked_for_it(tmp_path, processes_with):
    # the plugin SIGKILLs a test at its time limit: nobody closes the Sandbox then
    import uuid

    zygote.start()  # started here: the child inherits it, as forked tests do
    marker = f"minnet-zygote-test-{uuid.uuid4().hex}"

    def work():
        module = worker(tmp_path)
        module.spawn(marker)  # a daemon that left the worker's session
        return module._box.process.pid

    child, read_fd = _in_child(work)
    pid = _read_line(read_fd)
    assert _eventually(lambda: bool(processes_with(marker)))
    os.kill(child, signal.SIGKILL)
    os.waitpid(child, 0)
    assert _eventually(lambda: _gone(pid)), "the worker outlived its test"
    assert _eventually(lambda: not processes_with(marker)), "its daemon outlived the test"


def test_two_tests_asking_at_once_each_get_their_own_worker(tmp_path):
    zygote.start()
    go_read, go_write = os.pipe()

    def work(tag):
        def run():
            os.read(go_read, 1)  # both ask at the same moment
            module = worker(tmp_path, tag=tag)
            return [module.tag(), module._box.process.pid]
        return run

    children = [_in_child(work(tag)) for tag in ("a", "b")]
    os.write(go_write, b"xx")
    answers = [_read_line(read_fd) for _, read_fd in children]
    for child, _ in children:
        os.kill(child, signal.SIGKILL)
        os.waitpid(child, 0)
    assert [tag for tag, _ in answers] == ["a", "b"]
    assert answers[0][1] != answers[1][1]


def test_a_server_that_died_is_replaced(tmp_path):
    worker(tmp_path).tag()
    for pid in _servers():
        os.kill(pid, signal.SIGKILL)
    assert worker(tmp_path).tag() == "a"
    assert worker(tmp_path, with_minnet=True).tag() == "a"


def test_a_server_that_cannot_start_fails_the_test_clearly(tmp_path, monkeypatch):
    monkeypatch.setattr(zygote, "_servers", {})
    monkeypatch.setattr(zygote, "SERVER", str(tmp_path / "missing_server.py"))
    started = time.monotonic()
    with pytest.raises(LabFailure, match="could not start the process that runs the student"):
        worker(tmp_path)
    assert time.monotonic() - started < zygote.ANSWER_SECONDS
    zygote.stop_all()
