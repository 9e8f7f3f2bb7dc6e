"""The fork server of sandbox workers: a clean interpreter that forks one worker per Sandbox.

Started by ``zygote.py`` as ``python -I zygote_server.py PLAIN_FD MINNET_FD`` (never a fork
of the grader: no test, reference or verdict in memory), it imports NumPy once and forks in
two: the *plain* server (this process, never imports minnet, for labs 01, 02, 11) and the
*minnet* server (minnet's core, later matplotlib and ``minnet.viz``). Each request on its
SOCK_SEQPACKET socket carries four descriptors (wire, lifeline, stdout, stderr) and JSON
settings. Per request a *keeper* (outside the sandbox) forks the *worker* (own session,
limits, ``lockdown.py`` as root, sandbox uid, PID 1 of its namespace); the keeper reports
pid and exit status on the lifeline and kills what the worker left when it closes.
Servers and keepers are not dumpable. Design in full: docs/grading_internals.md.
"""
import importlib.util
import json
import os
import select
import signal
import socket
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REQUEST_BYTES = 1 << 16  # settings are a few kB
IDLE_SECONDS = 0.05  # no request for this long: import the optional libraries


def _load(name: str, filename: str):
    """One of the grader's stdlib-only modules, by path: the package ``minnet`` is never
    imported by this (so not by a plain worker)."""
    spec = importlib.util.spec_from_file_location(f"_minnet_zygote_{name}",
                                                  os.path.join(HERE, filename))
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


isolation = _load("isolation", "isolation.py")
lockdown = _load("lockdown", "lockdown.py")
worker_code = _load("worker", "sandbox_worker.py")


# --------------------------------------------------------------------------
# what each server has imported
# --------------------------------------------------------------------------
def _import_minnet_core() -> None:
    """What the labs' files and their tests' calls import of minnet (measured over every
    lab): the debugger's Monitor loads Numba for its kernels even with MINNET_NO_JIT=1
    (0.4 s per worker before), the datasets' npz files need zipfile."""
    import zipfile  # noqa: F401

    import minnet  # noqa: F401
    import minnet.data.preprocessing  # noqa: F401
    import minnet.debug.monitor  # noqa: F401
    import minnet.debug.setup  # noqa: F401
    import minnet.engine  # noqa: F401
    import minnet.nn  # noqa: F401
    import minnet.optim  # noqa: F401


def _import_plotting() -> bool:
    """matplotlib with Agg, its fonts loaded and one figure drawn (what a figure test's
    worker does first). False, doing nothing more, while matplotlib's font list is not on
    disk yet: building it takes many seconds (a fresh machine; the grader's warm-up builds
    it), and a request would wait for it here, against a test's time limit."""
    import glob
    import io

    import matplotlib
    if not glob.glob(os.path.join(matplotlib.get_cachedir(), "fontlist-v*.json")):
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import minnet.viz  # noqa: F401

    figure = plt.figure(figsize=(1, 1))
    figure.gca().set_title("zygote")
    figure.savefig(io.BytesIO(), format="png")
    plt.close(figure)
    return True


# --------------------------------------------------------------------------
# the worker: from a fork of the keeper to serving the wire
# --------------------------------------------------------------------------
def _limit(settings: dict) -> None:
    import resource

    limit = int(settings["memory_mb"]) * 1024 * 1024 * 4  # NumPy & co map ~1 GB
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    if hard != resource.RLIM_INFINITY:
        limit = min(limit, hard)
    # hard limits too: a soft one alone, the student's code may raise again
    resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    size = int(settings["file_mb"]) * 1024 * 1024  # what it writes (its stdout is the test's)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))


def _keep_only(wire_fd: int) -> None:
    """Close every descriptor but 0, 1, 2 and the wire (the servers' sockets were closed as
    objects before: nothing else here is held by a Python object that would close it)."""
    os.closerange(3, wire_fd)
    os.closerange(wire_fd + 1, os.sysconf("SC_OPEN_MAX"))


def _set_dumpable(flag: int) -> None:
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(4, flag, 0, 0, 0)  # PR_SET_DUMPABLE
    except (OSError, AttributeError):
        pass


def _become_worker(settings: dict, wire_fd: int, out_fd: int, err_fd: int) -> None:
    """In the keeper's child: set up as ``sandbox.py`` promises, then serve. Never returns."""
    status = 70
    try:
        os.setsid()
        worker_code._die_with_parent()  # the keeper: killed when the test is done with it
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out_fd, 1)
        os.dup2(err_fd, 2)
        _keep_only(wire_fd)
        os.environ.clear()
        os.environ.update(settings["environment"])
        _limit(settings)
        import tempfile

        if settings["lock_down"]:
            tempfile.tempdir = settings["scratch"]  # the grader's /tmp: a private one over it
            lockdown.lock_down(settings["hide"], [tuple(pair) for pair in settings["kept"]],
                               settings["hide_minnet"])
        tempfile.tempdir = None  # from TMPDIR: its own folder
        os.chdir(settings["workdir"])
        if settings["uid"] is not None:
            os.setgroups([])
            os.setgid(settings["uid"])
            os.setuid(settings["uid"])
        if settings["lock_down"]:
            lockdown.give_up_capabilities()  # as root, no capability left either
            worker_code._enter_pid_namespace()  # returns in the child, PID 1 there
        _set_dumpable(1)  # as a freshly started interpreter is (the servers are not)
        if "numpy" in sys.modules:  # unseeded draws differ between workers, as before
            sys.modules["numpy"].random.seed()
        sys.argv[:] = [os.path.join(HERE, "sandbox_worker.py")]
        wire = worker_code.load_wire()
        worker_code.Worker(socket.socket(fileno=wire_fd), wire).serve()
        sys.stdout.flush()
        status = 0
    except BaseException:  # noqa: BLE001 -- the test reads why on its stderr
        try:
            import traceback

            traceback.print_exc()
            sys.stderr.flush()
        except BaseException:  # noqa: BLE001
            pass
    finally:
        os._exit(status)


# --------------------------------------------------------------------------
# the keeper: one per worker
# --------------------------------------------------------------------------
def _tell(lifeline: socket.socket, message: dict) -> None:
    try:
        lifeline.send(json.dumps(message).encode())
    except OSError:
        pass  # the test is gone: nobody to tell


def _returncode(status: int) -> int:
    """subprocess's convention: the exit code, or minus the signal that ended it."""
    return -os.WTERMSIG(status) if os.WIFSIGNALED(status) else os.WEXITSTATUS(status)


def _end_worker(pid: int) -> int:
    """Kill the worker's session (as root its PID 1: the namespace goes with it), reap it,
    then every process it left that is now this subreaper's child."""
    for kill in (lambda: os.killpg(pid, signal.SIGKILL), lambda: os.kill(pid, signal.SIGKILL)):
        try:
            kill()
            break
        except OSError:
            continue
    _, status = os.waitpid(pid, 0)
    isolation.kill_orphans()
    return _returncode(status)


def _keep(lifeline: socket.socket, pid: int) -> None:
    """Report the worker's exit; end it and its leftovers when the lifeline asks or closes."""
    try:
        watch = os.pidfd_open(pid)
    except (AttributeError, OSError):
        watch = None  # an older kernel: look every 50 ms
    returncode = None
    while True:
        waiting = [lifeline] + ([watch] if watch is not None and returncode is None else [])
        ready, _, _ = select.select(waiting, [], [],
                                    None if watch is not None or returncode is not None
                                    else 0.05)
        if returncode is None:
            done, status = os.waitpid(pid, os.WNOHANG)
            if done:
                returncode = _returncode(status)
                _tell(lifeline, {"returncode": returncode})
        if lifeline in ready:  # "kill" (Sandbox.close), or closed: the test is done with it
            if returncode is None:
                returncode = _end_worker(pid)
            else:
                isolation.kill_orphans()
            _tell(lifeline, {"returncode": returncode})
            return


def _keeper(settings: dict, fds: list, servers: list) -> None:
    """In a fork of the server: fork the worker, watch it. Never returns."""
    try:
        for server in servers:
            server.close()
        wire_fd, lifeline_fd, out_fd, err_fd = fds
        lifeline = socket.socket(fileno=lifeline_fd)
        isolation.become_subreaper()  # what the worker leaves behind comes here
        pid = os.fork()
        if pid == 0:
            lifeline.close()
            _become_worker(settings, wire_fd, out_fd, err_fd)
        for fd in (wire_fd, out_fd, err_fd):
            os.close(fd)
        _tell(lifeline, {"pid": pid})
        _keep(lifeline, pid)
    finally:
        os._exit(0)


# --------------------------------------------------------------------------
# the servers
# --------------------------------------------------------------------------
def _serve(requests: socket.socket, idle_work: list) -> None:
    """Fork a keeper per request until every client has closed its end; then wait for the
    keepers (and a child server), so their CPU time is counted where the grader waits."""
    wait = IDLE_SECONDS
    while True:
        ready, _, _ = select.select([requests], [], [], wait if idle_work else 1.0)
        _reap()
        if not ready:
            if idle_work:
                work = idle_work.pop(0)
                try:
                    if work() is False:
                        idle_work.append(work)  # not possible yet: again in a second
                        wait = 1.0
                except Exception:  # noqa: BLE001 -- only a speed-up: workers import it then
                    pass
            continue
        try:
            message, fds, flags, _ = socket.recv_fds(requests, REQUEST_BYTES, 4)
        except OSError:
            break
        if not message and not fds:
            break  # every process of the grader has closed its end
        try:
            if flags & (socket.MSG_TRUNC | socket.MSG_CTRUNC) or len(fds) != 4:
                continue  # malformed: closing the fds tells the client (EOF on its lifeline)
            settings = json.loads(message)
            if os.fork() == 0:
                _keeper(settings, fds, [requests])
        except Exception:  # noqa: BLE001 -- one bad request must not end the server
            continue
        finally:
            for fd in fds:
                os.close(fd)
    requests.close()
    while True:
        try:
            os.wait()
        except ChildProcessError:
            break


def _reap() -> None:
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


def main() -> None:
    for fd in (0, 1, 2):  # open, so that no descriptor received later lands there
        try:
            os.fstat(fd)
        except OSError:
            os.open(os.devnull, os.O_RDWR)
    plain = socket.socket(fileno=int(sys.argv[1]))
    with_minnet = socket.socket(fileno=int(sys.argv[2]))
    worker_code._die_with_parent()  # the grader's process that started it
    isolation.hide_from_same_user()
    import numpy  # noqa: F401 -- what every worker uses

    worker_code.load_wire()
    if os.fork() == 0:  # the minnet server: its own imports, its own socket
        try:
            plain.close()
            try:
                _import_minnet_core()
            except Exception:  # noqa: BLE001 -- each worker then imports (and reports) it
                pass
            import gc

            gc.freeze()  # workers do not copy the pages of what is loaded when they collect
            _serve(with_minnet, [_import_plotting, gc.freeze])
        finally:
            os._exit(0)
    with_minnet.close()
    import gc

    gc.freeze()
    _serve(plain, [])


if __name__ == "__main__":
    main()
