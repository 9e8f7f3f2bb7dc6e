"""The trust boundary: a student's functions run in another process, called with data.

``sandboxed(__file__, "layers")`` is ``student()`` across a process boundary: calling
``layers.affine_forward(x, w, b)`` sends the arrays over a socket (``wire.py``) to a worker
(``sandbox_worker.py``, forked by ``zygote.py``'s server, never from the grader) that ran the
student's file, and brings the result back as data. Tests, references and verdicts stay in
this process, so the student's code cannot write a grade, read a hidden test or patch a
check. The worker has its own session, a capped address space, the lab's imports only
(``static_check.py`` and an import guard), and as root the lockdown (``lockdown.py``) and an
unprivileged uid where it can. What holds with and without root: docs/instructors.md
section 3; design: docs/grading_internals.md.
"""
from __future__ import annotations

import builtins
import inspect
import keyword
import os
import socket
import subprocess
import sys
import tempfile
import weakref
from typing import Optional

import numpy as np

from . import lockdown, wire
from .expect import LabFailure
from .loading import read_source
from .lockdown import hidden_paths
from .static_check import check_source

SANDBOX_UID = int(os.environ.get("MINNET_SANDBOX_UID", "65532"))
_uid = SANDBOX_UID  # this test's sandbox user: tests running at once use SANDBOX_UID + 0, 1...
# Frameworks that would do a hand-written lab's work: refused at run time unless allowed.
FRAMEWORKS = ("minnet", "torch", "tensorflow", "jax", "autograd", "scipy", "sympy", "numba",
              "theano", "keras", "sklearn")
MEMORY_MB = 2048
_open: list = []  # the sandboxes of this process, closed at the end of a test
_made_of: dict = {}  # id(result Tensor) -> (weak reference, the ops that made it over there)


def printable(text: str) -> str:
    """``text`` with control and format characters (but newlines and tabs) shown as escapes:
    a student's message printed raw could clear the instructor's terminal and draw a fake
    grade table (ESC[2J ...), or reorder what it shows (bidirectional overrides)."""
    import unicodedata

    return "".join(char if char in "\n\t" or unicodedata.category(char)[0] != "C"
                   else repr(char)[1:-1] for char in str(text))


STUDENT_MARK = "    | "  # before each line of the student's text shown in feedback
STUDENT_TEXT_CHARS = 2000
STUDENT_TEXT_LINES = 25


def student_text(text: str, first_inline: bool = True, limit: int = STUDENT_TEXT_CHARS,
                 max_lines: int = STUDENT_TEXT_LINES) -> str:
    """Text the student's code wrote (an exception's message, what it printed) made fit to
    show among the grader's own lines: printable, cut to ``limit`` characters and
    ``max_lines`` lines, and every line marked with ``STUDENT_MARK`` (the first one too
    unless ``first_inline``: it follows the grader's 'ValueError: '). A message with its own
    newlines drew 'ok 2/2' lines and a grade table under the real FAIL line."""
    text = printable(text)
    lines = text[:limit].split("\n")
    cut = len(text) > limit or len(lines) > max_lines
    lines = lines[:max_lines] + (["... (cut: the rest is too long to show)"] if cut else [])
    return "\n".join(line if first_inline and number == 0 else STUDENT_MARK + line
                     for number, line in enumerate(lines))


def student_type_name(name: str) -> str:
    """The class name of the student's exception, if it is one (an identifier): a type
    named '3 of 3 points:\\n  ok  ' would open a forged report."""
    name = str(name)
    return name if name.isidentifier() and len(name) <= 100 else "<odd exception type>"


def _student_where(where: str) -> str:
    """The worker's '  at file:line in function: code' lines; anything else it sent is the
    student's text (the worker runs the student's code, so its replies are not trusted)."""
    lines = printable(where)[:1000].split("\n")[:4]
    return "\n".join(line if line.startswith("  at ") else STUDENT_MARK + line
                     for line in lines if line)


class StudentCodeError(Exception):
    """An exception raised by the student's code in the worker, re-raised here as text:
    printable, length-capped, each line of the student's own past the first marked
    (``student_text``), the type name only if it is one."""

    def __init__(self, type_name: str, message: str, where: str):
        type_name, message = student_type_name(type_name), student_text(message)
        where = _student_where(where)
        self.type_name, self.message, self.where = type_name, message, where
        super().__init__(f"{type_name}: {message}" + (f"\n{where}" if where else ""))


_can_drop: Optional[bool] = None  # None: not tried yet


def dropping_privileges() -> bool:
    """True where the worker runs as another, unprivileged user: the grader is root and the
    interpreter is one that user may run (not one under root's 0700 home, for example)."""
    return hasattr(os, "geteuid") and os.geteuid() == 0 and _can_drop is not False


def probe_privilege_drop() -> None:
    """As root, once in the grader before tests are forked: can the sandbox user run this
    interpreter? (Not one under root's 0700 home.) Tests forked later know it, so none
    pays for a failed start, nor the parent for a sweep of a uid nothing runs as."""
    global _can_drop
    if not dropping_privileges() or _can_drop is not None:
        return
    try:
        subprocess.run([sys.executable, "-I", "-S", "-c", ""], preexec_fn=_become_unprivileged,
                       cwd="/", stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)
        _can_drop = True
    except (OSError, subprocess.SubprocessError):  # PermissionError: not this interpreter
        _can_drop = False  # workers stay root, locked down all the same


def use_sandbox_uid(uid: int) -> None:
    """The uid this process's sandboxes run as where privileges are dropped (the plugin
    gives tests that run at once different ones, so one's worker cannot signal the other's)."""
    global _uid
    _uid = uid


def _become_unprivileged() -> None:  # in the probe, between fork and exec
    os.setgroups([])
    os.setgid(_uid)
    os.setuid(_uid)


FILE_MB = 64  # the largest file the worker may write


def _matplotlib_cache(workdir: str) -> str:
    """The grader's matplotlib folder (its font list is slow to build, once) when matplotlib is
    loaded here and that folder can be read; a fresh one otherwise."""
    matplotlib = sys.modules.get("matplotlib")
    if matplotlib is not None:
        try:
            folder = matplotlib.get_cachedir()
            if folder and os.path.isdir(folder):
                return folder
        except Exception:  # noqa: BLE001 -- only a speed-up
            pass
    return workdir


def _start_worker(fd: int, workdir: str, environment: dict, hide_minnet: bool = False):
    """Ask the fork server (``zygote.py``) for a worker serving ``fd``: as the unprivileged
    user where the probe found it can run this interpreter, and as root locked down
    (``lockdown.py``); its handle (pid, poll, wait, kill)."""
    from . import zygote

    hide = hidden_paths()  # minnet grade asks for more: the grading tree hidden
    locked = lockdown.available()
    settings = dict(workdir=workdir, environment=environment, hide=hide,
                    kept=(lockdown.kept_in_tmp(workdir, hide, [_matplotlib_cache(workdir)])
                          if locked else []),
                    hide_minnet=hide_minnet, lock_down=locked,
                    uid=_uid if dropping_privileges() else None,
                    scratch=tempfile.gettempdir(), memory_mb=MEMORY_MB, file_mb=FILE_MB)
    return zygote.spawn(settings, fd, with_minnet=not hide_minnet)


class Sandbox:
    """One worker process running one student file."""

    def __init__(self, path: str, module_name: str, allowed_imports=None, stand_ins=(),
                 mutates=()):
        self.path = os.path.abspath(path)
        self.mutates = _contract(mutates)  # the functions whose argument changes come back
        self.shown = os.path.basename(self.path)
        self.workdir = tempfile.mkdtemp(prefix="minnet-sandbox-")
        probe_privilege_drop()  # done once per grading in the plugin; here where it was not
        if dropping_privileges():
            # its own folder and the test's tmp_path (root's, 0700) are the sandbox user's
            for folder in (self.workdir, *lockdown.writable_folders()):
                os.chown(folder, _uid, _uid)
        ours, theirs = socket.socketpair()
        environment = {key: value for key, value in os.environ.items()
                       if key in ("PATH", "LANG", "LC_ALL", "OMP_NUM_THREADS",
                                  "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
                                  "OPENBLAS_CORETYPE", "MINNET_NO_JIT")}
        # minnet without Numba over there: no compiling or cache loading per worker (the
        # kernels' NumPy twins give the same numbers), and never a cache file of compiled
        # code that the grader's own process would later load. TMPDIR: its temporary files
        # go to its own folder (as root, the one writable place of its private /tmp)
        environment.update(HOME=self.workdir, TMPDIR=self.workdir,
                           MPLCONFIGDIR=_matplotlib_cache(self.workdir), MPLBACKEND="Agg",
                           NUMBA_CACHE_DIR=self.workdir, MINNET_NO_JIT="1",
                           PYTHONDONTWRITEBYTECODE="1")
        # a lab that does not allow minnet: its worker does not see minnet's core at all
        hide_minnet = allowed_imports is not None and "minnet" not in allowed_imports
        try:
            self.process = _start_worker(theirs.fileno(), self.workdir, environment,
                                         hide_minnet)
        except BaseException:
            ours.close()
            import shutil

            shutil.rmtree(self.workdir, ignore_errors=True)
            raise
        finally:
            theirs.close()
        self.sock = ours
        self.callbacks: list = []  # (function, opaque): the grader's functions handed over
        self.remote_functions: dict = {}
        self.function_classes: dict = {}  # name -> the grader's Function running the student's
        self.kept_here: dict = {}  # number -> an object of the grader's the worker holds a
        # handle to (opaque callbacks: a model the test built, which the student's code may
        # only hand back)
        _open.append(self)
        refused = [name for name in FRAMEWORKS
                   if allowed_imports is None or name not in allowed_imports]
        source = read_source(self.path)  # a BOM, CRLF endings, a coding line: as Python reads
        answer = self._ask({"op": "load", "source": source, "filename": self.shown,
                            "module_name": module_name, "refused_imports": refused,
                            "stand_ins": list(stand_ins),
                            "allowed_imports": (None if allowed_imports is None
                                                else sorted(allowed_imports))})
        self.functions = set(answer["functions"])
        self.parameter_names = answer.get("parameters") or {}
        self.values = answer["values"]
        self.class_names = set(answer.get("function_classes") or ())

    def _ask(self, request: dict, buffers: list = (), codec: Optional[wire.Codec] = None):
        try:
            wire.send(self.sock, request, list(buffers))
            reply, reply_buffers = wire.recv(self.sock)
            while reply.get("op") == "callback":  # the student's code calls a test's function
                self._call_back(reply, reply_buffers)
                reply, reply_buffers = wire.recv(self.sock)
        except (EOFError, OSError) as error:
            raise LabFailure(self._death_message()) from error
        finally:
            lockdown.remove_links()  # before the test opens what the student's code wrote
        if reply.get("ok") is not True:
            raise StudentCodeError(str(reply.get("type", "Error")),
                                   str(reply.get("message", "")), str(reply.get("where", "")))
        # objects the request carried come back under their numbers. For a function whose
        # contract is to change its arguments (``mutates``: a training step, an in-place init)
        # decoding updates the grader's own model, optimizer, arrays... in place, as an
        # in-process call would; any other function gets copies, so what it does to its
        # arguments never reaches the grader's objects (a test's reference computes after it)
        inputs = codec.objects if codec is not None else {}
        synced = getattr(codec, "synced", ())  # what the contract lets change: see call()
        sync = bool(request.get("sync"))
        answer = wire.Codec(handle=self._incoming, function=self._function_name,
                            known={number: inputs[number] for number in synced} if sync
                            else None,
                            graph=lambda tensor, node: self._connect(tensor, node, inputs,
                                                                     request.get("function")))
        value = answer.decode(reply.get("value"), reply_buffers)
        if sync and "args" in reply:
            answer.decode(reply["args"], reply_buffers)
        return value

    def _death_message(self) -> str:
        try:
            status = self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            status = None
        if status is not None and status < 0:
            from .isolation import describe_signal

            how = describe_signal(-status)
        else:
            how = f"it ended with exit status {status}"
        return (f"the process running {self.shown} stopped while the grader waited for it "
                f"({how}): os._exit(), a crash in compiled code, or memory exhausted?")

    def _incoming(self, node):
        """A handle from the worker: one of the student's functions (callable here, run
        there) or an object left there."""
        if "$fn" in node:
            return self.function(str(node["$fn"]))
        if "$k" in node:
            try:
                return self.kept_here[int(node["$k"])]
            except (KeyError, ValueError, TypeError):
                raise wire.WireError("an unknown handle of the grader's") from None
        # its type name and short repr are the student's text: one printable line
        return wire.Handle(int(node["$h"]), student_type_name(node.get("type", "object")),
                           printable(str(node.get("text", ""))[:200]).replace("\n", "\\n"))

    def _connect(self, tensor, node: dict, known: dict, function):
        """A result Tensor whose graph stayed in the worker becomes a node of the grader's
        graph: its parents are the grader's input Tensors, its backward asks the worker to
        backpropagate there and returns the gradients the student's code produced."""
        from ..tensor import Tensor

        parents = tuple(known[number] for number in node.get("inputs", ())
                        if isinstance(known.get(number), Tensor))
        if not parents:
            return tensor
        graph = int(node["graph"])
        shapes = [parent.shape for parent in parents]

        def backward(grad):
            buffers: list = []
            grads = self._ask({"op": "backward", "graph": graph,
                               "grad": wire.Codec().encode(np.asarray(grad), buffers)}, buffers)
            if not isinstance(grads, list) or len(grads) != len(parents):
                raise LabFailure(f"{function}: its backward returned gradients that do not "
                                 f"match its inputs")
            return tuple(np.zeros(shape) if g is None else np.asarray(g, dtype=np.float64)
                         .reshape(shape) for g, shape in zip(grads, shapes))

        result = Tensor._from_op(tensor.numpy(), parents, backward, f"{function} (your code)")
        _made_of[id(result)] = (weakref.ref(result), tuple(str(op) for op in node.get("ops", ())))
        return result

    def function(self, name: str) -> "RemoteFunction":
        """The student's function ``name``: one object per name, so ``is`` compares as it
        would in-process (``setup.train_step is lab.train_step``)."""
        if name not in self.remote_functions:
            self.remote_functions[name] = RemoteFunction(self, name)
        return self.remote_functions[name]

    def set_value(self, name: str, value) -> None:
        """Set a module-level constant of the student's file (a test lowering MAX_STEPS)."""
        buffers: list = []
        self._ask({"op": "set", "name": name, "value": wire.Codec().encode(value, buffers)},
                  buffers)
        self.values[name] = value

    def _callback_number(self, function, opaque: bool = False) -> int:
        self.callbacks.append((function, opaque))
        return len(self.callbacks) - 1

    def _keep_here(self, value) -> wire.Handle:
        number = len(self.kept_here) + 1
        self.kept_here[number] = value
        return wire.Handle(number, type(value).__name__, "", grader=True)

    def _call_back(self, request: dict, buffers: list) -> None:
        """Run one of the grader's functions for the student's code, with data. An opaque
        function's results that are not plain data stay here: the worker gets handles."""
        incoming = wire.Codec(handle=self._incoming, function=self._function_name)
        try:
            function, opaque = self.callbacks[int(request["callback"])]
            args = incoming.decode(request["args"], buffers)
            kwargs = incoming.decode(request["kwargs"], buffers)
            value = function(*args, **kwargs)
            out: list = []
            codec = (self._codec(keep=self._keep_here, opaque=True) if opaque
                     else self._codec())
            reply = {"ok": True, "value": codec.encode(value, out)}
        except Exception as error:  # noqa: BLE001 -- reported to the student's side
            out, reply = [], {"ok": False, "type": type(error).__name__,
                              "message": str(error)[:2000]}
        wire.send(self.sock, reply, out)

    def _codec(self, **options) -> wire.Codec:
        return wire.Codec(function=self._function_name, callback=self._callback_number,
                          **options)

    def _function_name(self, function):
        if isinstance(function, RemoteFunction) and function._box is self:
            return function.__name__
        return None

    def function_class(self, name: str):
        """The student's ``Function`` subclass ``name`` as a minnet ``Function`` of the grader's:
        ``apply`` builds the graph here, its forward and backward run the student's in the
        worker with arrays (where minnet's autograd is a stand-in without an engine:
        ``sandbox_autograd.py``). One class per name."""
        if name not in self.function_classes:
            from ..autograd import Function
            from ..tensor import Tensor

            box = self

            def forward(ctx, *args):
                buffers: list = []
                values = [arg.detach().numpy() if isinstance(arg, Tensor) else arg
                          for arg in args]
                request = {"op": "function_forward", "class": name,
                           "needs": [bool(need) for need in ctx.needs_input_grad],
                           "args": wire.Codec().encode(values, buffers)}
                ctx.in_sandbox, output = box._ask_student(request, buffers, f"{name}.forward")
                return np.asarray(output)

            def backward(ctx, grad_output):
                buffers: list = []
                codec = wire.Codec()
                request = {"op": "function_backward", "class": name,
                           "ctx": codec.encode(ctx.in_sandbox, buffers),
                           "grad": codec.encode(grad_output.detach().numpy(), buffers)}
                grads = box._ask_student(request, buffers, f"{name}.backward")
                if not isinstance(grads, list):
                    raise LabFailure(f"{name}.backward returned {type(grads).__name__}: return "
                                     "one gradient per forward argument")
                return tuple(grads)

            self.function_classes[name] = type(name, (Function,), {
                "forward": staticmethod(forward), "backward": staticmethod(backward),
                "__module__": os.path.splitext(self.shown)[0],
                "__doc__": f"{name} of {self.shown}, run in the sandbox"})
        return self.function_classes[name]

    def _ask_student(self, request: dict, buffers: list, what: str):
        """``_ask`` for a call of the student's code: its exceptions as the grader's own."""
        try:
            return self._ask(request, buffers)
        except StudentCodeError as error:
            if error.type_name == "NotImplementedError":
                raise NotImplementedError(error.message or what) from None
            raise as_builtin(error) from None
        except wire.WireError as error:
            raise LabFailure(f"{what}: {error}") from None

    def replace(self, name: str, function) -> None:
        """Make the student's module call the grader's ``function`` where it calls its own
        ``name`` (None: its own again). What ``function`` returns that is not plain data stays
        in the grader: the student's code gets a handle it can only give back."""
        buffers: list = []
        number = None if function is None else self._callback_number(function, opaque=True)
        self._ask({"op": "replace", "name": name, "callback": number}, buffers)

    def call(self, function: str, args: tuple, kwargs: dict):
        """Call the student's ``function`` with data. For a function that mutates by contract,
        ``codec.synced`` holds the numbers of what its changes may reach: the objects written
        for the arguments the contract names, and nothing first written for another (the
        test's X and y stay the test's, whatever the function does to its copies)."""
        buffers: list = []
        codec = self._codec()
        codec.synced = set()
        changes = self.mutates.get(function, False)
        nodes, changing = [], []
        for key, value in [*enumerate(args), *kwargs.items()]:
            first = codec.counter
            nodes.append(codec.encode(value, buffers, 1))
            if changes is not False and (_model_like(value) if changes is None
                                         else key in changes):
                codec.synced.update(range(first + 1, codec.counter + 1))
                changing.append(key)
        keywords = dict(kwargs)
        # "changing": the arguments whose changes the worker sends back (the others' would be
        # decoded here only to be dropped: a training step's batch, its loss)
        request = {"op": "call", "function": function, "sync": changes is not False,
                   "changing": changing,
                   "args": {"$t": nodes[:len(args)]},
                   "kwargs": {"$d": [[key, node] for key, node
                                     in zip(keywords, nodes[len(args):])],
                              "$id": codec._number(keywords)}}
        result = self._ask(request, buffers, codec)
        if changes is not False:
            _expect_given_back(function, result, [*args, *kwargs.values()])
        return result

    def close(self) -> None:
        """End the worker and everything it started: its keeper (``zygote_server.py``) kills
        its session, and as root its PID namespace (gone with the worker's child that is its
        PID 1); elsewhere a process that left the session was re-parented to the keeper, a
        subreaper, which kills it too: never a kill of every process of a uid, which would
        reach other gradings' workers on the machine."""
        try:
            self.sock.close()
        except OSError:
            pass
        self.process.kill()  # its keeper kills its session and what left it, then answers
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        self.process.close()
        import shutil

        shutil.rmtree(self.workdir, ignore_errors=True)
        if self in _open:
            _open.remove(self)


def _expect_given_back(function: str, result, arguments: list) -> None:
    """A function that changes a model in place returns that model (or a layer of it), never
    another one: a test that measured what ``init_weights_`` returned got a stack of
    BatchNorm layers made to pass, while the net it had handed over kept a wrong init."""
    from ..nn import Module

    returned = [item for item in (result if type(result) in (tuple, list) else (result,))
                if isinstance(item, Module)]
    if not returned:
        return
    given = {id(layer) for argument in arguments if isinstance(argument, Module)
             for layer in argument.modules()}
    for module in returned:
        if id(module) not in given:
            raise LabFailure(f"{function} changes the model it is given in place; it returned "
                             f"another {type(module).__name__}, not one it was given. Change "
                             "the model you were given and return it.")


def _contract(mutates) -> dict:
    """{function: None (its model-like arguments change) or the arguments that change}."""
    if isinstance(mutates, dict):
        return {name: None if changes is None else frozenset(changes)
                for name, changes in mutates.items()}
    return {name: None for name in mutates}


def _model_like(value) -> bool:
    """What a mutating function may change by default: minnet's objects that hold a
    training's state (a model, an optimizer, a Setup) and NumPy Generators, never plain
    data (arrays, Tensors, lists, dicts: a test's X and y) nor a module without parameters
    (a loss: a step that zeroed a shared loss's class weights made every run, the
    reference's too, stand still)."""
    from ..nn import Module
    from ..tensor import Tensor

    if isinstance(value, Module) and not any(True for _ in value.parameters()):
        return False
    return isinstance(value, np.random.Generator) or (
        wire._crosses(type(value)) and not isinstance(value, Tensor))


def close_all() -> None:
    """Close every sandbox this process opened (the plugin calls it after each test)."""
    for box in list(_open):
        box.close()


def ops_behind(tensor):
    """The names of the ops the student's code used in the sandbox to make ``tensor`` (a
    result of one of its functions), or None for a Tensor made here."""
    entry = _made_of.get(id(tensor))
    if entry is None or entry[0]() is not tensor:
        return None
    return entry[1]


def as_builtin(error: StudentCodeError) -> Exception:
    """A ValueError raised by the student's code is a ValueError here too (tests check
    ``pytest.raises(ValueError)``); other exceptions stay StudentCodeErrors."""
    kind = getattr(builtins, error.type_name, None)
    if (isinstance(kind, type) and issubclass(kind, Exception)
            and not issubclass(kind, (AssertionError, StopIteration, StopAsyncIteration))):
        try:
            return kind(str(error.message) + (f"\n{error.where}" if error.where else ""))
        except Exception:  # noqa: BLE001 -- e.g. UnicodeError's own constructor
            return error
    return error


class RemoteFunction:
    """A student's function, called in the worker with data."""

    def __init__(self, box: Sandbox, name: str):
        self._box, self.__name__ = box, name
        self.__qualname__ = name
        # the student's parameter names (x, w, b), so that a gradient check names the inputs
        # as the student's own check_backward does; names that are not identifiers are dropped
        names = box.parameter_names.get(name) or []
        if isinstance(names, list) and all(isinstance(n, str) and n.isidentifier()
                                           and not keyword.iskeyword(n) for n in names) \
                and len(set(names)) == len(names):
            self.__signature__ = inspect.Signature(
                [inspect.Parameter(n, inspect.Parameter.POSITIONAL_OR_KEYWORD) for n in names])

    def __call__(self, *args, **kwargs):
        try:
            return self._box.call(self.__name__, args, kwargs)
        except StudentCodeError as error:
            if error.type_name == "NotImplementedError":
                raise NotImplementedError(error.message or self.__name__) from None
            raise as_builtin(error) from None
        except wire.WireError as error:
            raise LabFailure(f"{self.__name__}: {error}") from None

    def __repr__(self) -> str:
        return f"<function {self.__name__} of {self._box.shown}, run in the sandbox>"


class SandboxedModule:
    """The student's module as the tests see it: its functions and data constants."""

    def __init__(self, box: Sandbox):
        self._box = box
        self.__file__ = box.path
        self.__name__ = os.path.splitext(box.shown)[0]

    def __getattr__(self, name: str):
        box = self.__dict__["_box"]
        if name in box.class_names:
            return box.function_class(name)
        if name in box.functions:
            return box.function(name)
        if name in box.values:
            return box.values[name]
        raise AttributeError(f"{box.shown} has no function or constant {name!r}: did you "
                             f"rename or delete it? Keep the names the lab gives.")

    def __setattr__(self, name: str, value) -> None:
        box = self.__dict__.get("_box")
        if box is not None and name in box.values:
            box.set_value(name, value)  # the constant changes where the code reads it
        else:
            object.__setattr__(self, name, value)

    def __dir__(self):
        return sorted(self._box.functions) + sorted(self._box.values)


def sandboxed(test_file, name: str, allowed_imports=("numpy", "math"), forbidden=(),
              module_name: Optional[str] = None, stand_ins=(), mutates=()) -> SandboxedModule:
    """The student's module ``name`` of the lab of ``test_file``, running in a sandbox.

    ``allowed_imports``: top-level packages the file may import (checked statically; minnet and
    other frameworks refused at run time unless listed). ``forbidden``: names and attributes
    the lab rules out (``static_check.check_source``). ``stand_ins``: modules replaced in the
    worker (``("minnet.autograd",)``, lab 02). ``mutates``: functions whose contract is to
    change their arguments; only their changes come back, and only to model-like arguments
    (models, optimizers, Setups, Generators), or, given a dict, to the arguments it names by
    position or keyword (``{"momentum_step": (2, "state")}``). Other functions work on copies."""
    from .loading import student_path

    path = student_path(test_file, name)
    if not os.path.isfile(path):
        raise LabFailure(f"The file {os.path.basename(path)} is missing. It belongs to this "
                         "lab: restore it (e.g. from the released labs) and fill in the TODOs.")
    problems = check_source(read_source(path), os.path.basename(path),
                            tuple(allowed_imports) + tuple(stand_ins), forbidden)
    if problems:
        raise LabFailure("your file breaks this lab's rules, so it was not run:\n  "
                         + "\n  ".join(problems))
    if os.name != "posix":  # no socketpair/preexec here: graded in-process (docs: limits)
        from .loading import student

        return student(test_file, name)
    module_name = module_name or os.path.splitext(os.path.basename(path))[0]
    try:
        box = Sandbox(path, module_name, allowed_imports, stand_ins, mutates)
    except StudentCodeError as error:
        raise LabFailure(f"{os.path.basename(path)} could not be imported: {error}\nCode at "
                         "the top level of the file runs on import: keep your work inside the "
                         "functions.") from None
    return SandboxedModule(box)


class replacing:
    """``with replacing(module, build_net=twin):`` the student's module calls ``twin`` where
    it calls its own ``build_net`` (lab 12 records what a fit builds and trains). Sandboxed,
    ``twin`` runs in the grader and what it returns that is not data (the model) stays there;
    in-process (no sandbox), the module's attribute is swapped."""

    def __init__(self, module, **functions):
        self.module, self.functions, self.saved = module, functions, {}

    def __enter__(self):
        box = self.module.__dict__.get("_box") if isinstance(self.module, SandboxedModule) \
            else None
        for name, function in self.functions.items():
            if box is not None:
                box.replace(name, function)
            else:
                self.saved[name] = getattr(self.module, name)
                setattr(self.module, name, function)
        return self.module

    def __exit__(self, *exc_info):
        box = self.module.__dict__.get("_box") if isinstance(self.module, SandboxedModule) \
            else None
        for name in self.functions:
            if box is not None:
                try:
                    box.replace(name, None)
                except LabFailure:
                    pass  # the worker is gone: nothing left to restore
            else:
                setattr(self.module, name, self.saved[name])
        return False


def _watch_when_recording() -> None:
    """``minnet labs release --to``: recording remembers what the student's functions return."""
    from . import recorded

    if os.environ.get(recorded.RECORD_ENV):
        recorded.watch_sandbox(RemoteFunction)


_watch_when_recording()
