"""Sandbox workers from a fork server: ``spawn(settings, wire_fd, with_minnet)``.

The first ``spawn`` of a process starts the server (``start``, ``zygote_server.py``: one
clean interpreter, never a fork of the grader, that imports NumPy, and in its minnet half
minnet and matplotlib, once); processes forked later (the plugin's tests) inherit its
request sockets and use the same server. A request carries the worker's wire, stdout,
stderr and a *lifeline* on which the worker's keeper answers (pid, then exit status);
closing it ends the worker and what it left running. A server that died or does not take
the request is replaced once; nothing here waits longer than ``ANSWER_SECONDS``. Design:
docs/grading_internals.md.
"""
from __future__ import annotations

import atexit
import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from typing import Optional

from . import isolation
from .expect import LabFailure

SERVER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "zygote_server.py")
ANSWER_SECONDS = 120.0  # the first request waits for the server's imports (a loaded machine)
SEND_SECONDS = 30.0
# what the server's imports read from the environment (thread counts, where matplotlib
# finds its font cache): a process whose values differ gets a server of its own
SERVER_VARIABLES = ("PATH", "LANG", "LC_ALL", "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS",
                    "MKL_NUM_THREADS", "OPENBLAS_CORETYPE", "HOME", "MPLCONFIGDIR")


def server_environment() -> dict:
    environment = {key: os.environ[key] for key in SERVER_VARIABLES if key in os.environ}
    # minnet without Numba in workers (the kernels' NumPy twins give the same numbers)
    environment.update(MINNET_NO_JIT="1", MPLBACKEND="Agg", PYTHONDONTWRITEBYTECODE="1")
    return environment


class _Server:
    """A running fork server: its two request sockets (plain, with minnet)."""

    def __init__(self, environment: dict):
        self.owner = os.getpid()
        pairs = [socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET) for _ in range(2)]
        theirs = [pair[1].fileno() for pair in pairs]
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-I", SERVER, *map(str, theirs)], pass_fds=theirs,
                env=environment, cwd="/", stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                start_new_session=True)  # stderr: the grader's, for a server that fails
        finally:
            for pair in pairs:
                pair[1].close()
        self.sockets = {False: pairs[0][0], True: pairs[1][0]}
        for sock in self.sockets.values():
            sock.settimeout(SEND_SECONDS)
        isolation.SERVICES.add(self.process.pid)  # not a test's leftover: kill_orphans spares it

    def stop(self, wait: float = 10.0) -> None:
        """Close this process's ends; the server ends when no process holds one. The process
        that started it waits for it (its CPU time counts where the grader waits)."""
        for sock in self.sockets.values():
            sock.close()
        if os.getpid() != self.owner:
            return
        isolation.SERVICES.discard(self.process.pid)
        try:
            self.process.wait(timeout=wait)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


_servers: dict = {}  # environment items -> _Server
_stopped_at_exit: list = []  # [True] once stop_all is registered


def start() -> None:
    """Start the fork server for this process's environment now, if none is running (the
    plugin calls it before the tests are forked; its imports run meanwhile)."""
    _server()


def _server(fresh: bool = False) -> _Server:
    environment = server_environment()
    key = tuple(sorted(environment.items()))
    server = _servers.get(key)
    if server is None or fresh:
        if server is not None:
            server.stop(wait=2.0)
        if not _stopped_at_exit:
            atexit.register(stop_all)
            _stopped_at_exit.append(True)
        server = _servers[key] = _Server(environment)
    return server


def stop_all() -> None:
    """End this process's use of its servers (at exit)."""
    for server in list(_servers.values()):
        server.stop()
    _servers.clear()


def _output_fds() -> list:
    """This process's stdout and stderr (pytest's capture files in a test), for the worker."""
    fds = []
    for fd in (1, 2):
        try:
            os.fstat(fd)
            fds.append(fd)
        except OSError:
            fds.append(os.open(os.devnull, os.O_WRONLY))
    return fds


def spawn(settings: dict, wire_fd: int, with_minnet: bool) -> "WorkerProcess":
    """Ask the fork server for a worker serving ``wire_fd`` set up as ``settings`` say
    (``sandbox.Sandbox`` builds them); its handle, or LabFailure saying why not."""
    payload = json.dumps(settings).encode()
    problem = "unknown"
    for attempt in range(2):  # a server that died is replaced once
        try:
            server = _server(fresh=attempt > 0)
        except OSError as error:
            problem = f"the fork server could not start ({error})"
            break
        lifeline, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        outputs = _output_fds()
        try:
            socket.send_fds(server.sockets[with_minnet], [payload],
                            [wire_fd, theirs.fileno(), *outputs])
        except OSError as error:  # gone (EPIPE, ECONNREFUSED), or full for SEND_SECONDS
            problem = f"the fork server did not take the request ({error})"
            lifeline.close()
            continue
        finally:
            theirs.close()
            for fd in outputs:
                if fd > 2:
                    os.close(fd)
        worker = WorkerProcess(None, lifeline)
        if worker._hear(ANSWER_SECONDS) and worker.pid is not None:
            return worker
        lifeline.close()
        if worker.returncode is None:
            problem = f"the fork server did not answer within {ANSWER_SECONDS:g} s"
            break
        problem = "the fork server ended before it started the worker"
    raise LabFailure(f"the grader could not start the process that runs the student's code: "
                     f"{problem}. This is a problem of the grading machine, not of the "
                     f"student's file: see the grader's error output.")


class WorkerProcess:
    """A worker as ``subprocess.Popen`` showed it (``pid``, ``poll``, ``wait``, ``kill``,
    ``returncode``), through the lifeline to its keeper, which started it and reaps it."""

    def __init__(self, pid: Optional[int], lifeline: socket.socket):
        self.pid, self.returncode, self._lifeline = pid, None, lifeline

    def _hear(self, timeout: Optional[float]) -> bool:
        """Read one message of the keeper's within ``timeout`` s; False if none came."""
        if self._lifeline is None:
            return False
        ready, _, _ = select.select([self._lifeline], [], [], timeout)
        if not ready:
            return False
        try:
            data = self._lifeline.recv(4096)
        except OSError:
            data = b""
        if not data:  # the keeper is gone, and its worker with it (killed with it)
            self._lifeline.close()
            self._lifeline = None
            if self.returncode is None:
                self.returncode = -signal.SIGKILL
            return True
        message = json.loads(data)
        if "pid" in message:
            self.pid = int(message["pid"])
        if "returncode" in message:
            self.returncode = int(message["returncode"])
        return True

    def poll(self) -> Optional[int]:
        while self.returncode is None and self._hear(0):
            pass
        return self.returncode

    def wait(self, timeout: Optional[float] = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            left = None if deadline is None else deadline - time.monotonic()
            if (left is not None and left <= 0) or not self._hear(left):
                raise subprocess.TimeoutExpired("sandbox worker", timeout)
        return self.returncode

    def kill(self) -> None:
        """Ask the keeper to end the worker, its session (as root its PID namespace) and
        whatever it left running; ``wait`` then returns its status."""
        if self._lifeline is not None:
            try:
                self._lifeline.send(b"kill")
            except OSError:
                pass

    def close(self) -> None:
        """Let go of the lifeline: a worker still running is killed by its keeper."""
        if self._lifeline is not None:
            self._lifeline.close()
            self._lifeline = None
