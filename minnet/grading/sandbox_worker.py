"""The untrusted side of the sandbox: runs one student file and answers calls.

Forked per ``sandbox.Sandbox`` by the fork server (``zygote_server.py``, a ``python -I``
interpreter holding no test, reference or verdict), which loads this file and ``wire.py``
by path: minnet is not imported unless the lab allows it. Requests (``wire`` frames, by
``op``): ``load``, ``call``, ``backward``, ``function_forward``, ``function_backward``,
``replace``, ``set``; each reply is the result as data, or the exception as text with the
student's lines. Each request: docs/grading_internals.md.
"""
import importlib.abc
import inspect
import importlib.util
import linecache
import os
import sys
import traceback
import types
import weakref


KEPT_GRAPHS = 256  # result graphs kept for a later backward()
# stand-ins a lab may ask for instead of the real module (see sandbox_autograd.py)
STAND_INS = {"minnet.autograd": "sandbox_autograd.py"}


def _positional_names(function) -> list:
    """The names of a student function's positional parameters (for the grader's feedback,
    which names inputs as the student's own gradient checks do); [] when unknown."""
    try:
        return [p.name for p in inspect.signature(function).parameters.values()
                if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except Exception:  # noqa: BLE001 -- builtins, odd callables: no names, no harm
        return []


def load_wire():
    """``wire.py``, next to this file, loaded by path once (not as part of minnet)."""
    module = sys.modules.get("_minnet_sandbox_wire")
    if module is None:
        path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "wire.py")
        spec = importlib.util.spec_from_file_location("_minnet_sandbox_wire", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules[spec.name] = module
    return module


def _die_with_parent():
    """Linux: this process gets SIGKILL when the process that forked it ends."""
    try:
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


class ImportGuard(importlib.abc.MetaPathFinder):
    """Refuses the student's file imports of packages the lab does not allow (a library the
    lab allows may import what it needs itself: minnet uses numba)."""

    def __init__(self, allowed, refused, student_module):
        self.allowed, self.refused = set(allowed), set(refused)
        self.student_module = student_module

    def _asked_by_student(self) -> bool:
        frame = sys._getframe(2)
        while frame is not None:
            name = frame.f_globals.get("__name__", "")
            if not name.startswith(("importlib", "_frozen_importlib")) and name != __name__:
                return name == self.student_module
            frame = frame.f_back
        return False

    def find_spec(self, fullname, path=None, target=None):
        root = fullname.split(".", 1)[0]
        if root in self.refused and root not in self.allowed and (
                "minnet" not in self.allowed or self._asked_by_student()):
            allowed = ", ".join(sorted(self.allowed)) or "the standard library"
            raise ImportError(f"`import {fullname}` is not allowed in this lab (the lab's files "
                              f"may use only {allowed})")
        return None


class Worker:
    def __init__(self, sock, wire):
        self.sock, self.wire = sock, wire
        self.module = None
        self.autograd = None  # the stand-in minnet.autograd, when the lab uses it
        self.replaced = {}    # name -> the student's own function, while a test replaces it
        self.filename = "?"
        self.kept = {}  # handle number -> object that is not data
        self.call_inputs = []  # (number, Tensor) of the call being answered
        self.graphs = []       # handles of result graphs, oldest first
        self.handles = 0
        self.made_by_ops = {}  # id(Tensor) -> (weak reference, op, parents, graph recorded)
        self.recorder = None  # (Tensor, its recording _from_op) once record_ops ran

    # -- handles --------------------------------------------------------------------------
    def next_handle(self) -> int:
        self.handles += 1
        return self.handles

    def keep(self, value):
        number = self.next_handle()
        self.kept[number] = value
        text = repr(value) if not isinstance(value, types.FunctionType) else value.__qualname__
        return self.wire.Handle(number, type(value).__name__, text[:60])

    def resolve(self, node):
        try:
            return self.kept[int(node["$h"])]
        except (KeyError, ValueError, TypeError):
            raise self.wire.WireError("an unknown handle") from None

    # -- requests -------------------------------------------------------------------------
    def function_name(self, function):
        """A function of the student's module travels by name."""
        name = getattr(function, "__name__", None)
        if self.module is not None and name and getattr(self.module, name, None) is function:
            return name
        return None

    def incoming(self, node):
        if "$fn" in node:
            return getattr(self.module, str(node["$fn"]))
        if "$cb" in node:
            return self.grader_function(int(node["$cb"]), str(node.get("name", "function")))
        if "$k" in node:  # an object of the grader's: the student's code may only hand it back
            return self.wire.Handle(int(node["$k"]), str(node.get("type", "object")),
                                    str(node.get("text", "")), grader=True)
        return self.resolve(node)

    def grader_function(self, number: int, name: str):
        def grader_function(*args, **kwargs):
            return self.call_back(number, args, kwargs)

        grader_function.__name__ = grader_function.__qualname__ = name
        return grader_function

    def install_stand_ins(self, names) -> None:
        """Put the stand-in modules the lab asks for where its file imports them from."""
        folder = os.path.dirname(os.path.abspath(__file__))
        for name in names:
            if name not in STAND_INS:
                raise ValueError(f"no stand-in for {name}")
            spec = importlib.util.spec_from_file_location(name, os.path.join(
                folder, STAND_INS[name]))
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            package, _, leaf = name.rpartition(".")
            if package:  # an empty package, so that `from minnet.autograd import ...` works
                parent = sys.modules.setdefault(package, types.ModuleType(package))
                setattr(parent, leaf, module)
            sys.modules[name] = module
            if name == "minnet.autograd":
                self.autograd = module

    def student_class(self, name):
        value = getattr(self.module, str(name), None)
        if not (isinstance(value, type) and self.autograd is not None
                and issubclass(value, self.autograd.Function)):
            raise TypeError(f"{name} is not a Function class of {self.filename}")
        return value

    def function_forward(self, request, buffers):
        cls = self.student_class(request["class"])
        args = self.wire.Codec(handle=self.incoming).decode(request["args"], buffers)
        ctx, output = self.autograd.forward_of(cls, request["needs"], args)
        return [self.keep(ctx), output]

    def function_backward(self, request, buffers):
        cls = self.student_class(request["class"])
        codec = self.wire.Codec(handle=self.incoming)
        ctx = codec.decode(request["ctx"], buffers)
        return self.autograd.backward_of(cls, ctx, codec.decode(request["grad"], buffers))

    def replace(self, request):
        """A test's function in place of the student's ``name`` (which the student's other
        functions then call), or the student's own back (``callback`` None)."""
        name = str(request["name"])
        if request.get("callback") is None:
            if name in self.replaced:
                setattr(self.module, name, self.replaced.pop(name))
            return None
        self.replaced.setdefault(name, getattr(self.module, name, None))
        setattr(self.module, name, self.grader_function(int(request["callback"]), name))
        return None

    def graph_of(self, output):
        """A result Tensor with a graph: kept here with the call's input Tensors that need a
        gradient, so the grader can backpropagate through it later (op 'backward')."""
        inputs = [(number, tensor) for number, tensor in self.call_inputs
                  if getattr(tensor, "requires_grad", False)]
        number = self.next_handle()
        self.kept[number] = (output, [tensor for _, tensor in inputs])
        self.graphs.append(number)
        if len(self.graphs) > KEPT_GRAPHS:  # a training loop: only recent graphs are used
            self.kept.pop(self.graphs.pop(0), None)
        return {"graph": number, "inputs": [number for number, _ in inputs],
                "ops": self.ops_in(output)}

    def ops_in(self, output, limit: int = 10000) -> list:
        """The names of the ops that made ``output`` here (a lab that asks for a function
        written from exp, log and sum checks that no library softmax is among them), as the
        engine recorded them when it made each Tensor (``record_ops``): not the Tensors'
        ``op`` and ``_parents`` attributes, which the student's code could rewrite."""
        names, seen, stack = set(), set(), [output]
        while stack and len(seen) < limit:
            node = stack.pop()
            if id(node) in seen:
                continue
            seen.add(id(node))
            made = self.made_by_ops.get(id(node))
            if made is None or made[0]() is not node:
                continue  # a leaf (or a Tensor made before the recording started)
            _, op, parents, recorded = made
            if recorded:
                names.add(str(op))
            stack.extend(parents)
        return sorted(names)

    def record_ops(self) -> None:
        """Note, as minnet's engine makes each Tensor from an op, its op name and parents
        (``Tensor._from_op`` is the one place the graph is built), out of the student's
        reach; ``ops_in`` reads this record."""
        try:
            from minnet.tensor import Tensor
        except ImportError:
            return
        made, make = self.made_by_ops, Tensor._from_op.__func__

        def _from_op(cls, data, parents, backward, op, *args, **kwargs):
            out = make(cls, data, parents, backward, op, *args, **kwargs)
            key = id(out)
            made[key] = (weakref.ref(out, lambda _, key=key: made.pop(key, None)), op,
                         tuple(parents), getattr(out, "_backward", None) is not None)
            return out

        Tensor._from_op = classmethod(_from_op)
        self.recorder = (Tensor, Tensor.__dict__["_from_op"])

    def check_recorder(self) -> None:
        """Refuse to answer when the student's code took ``Tensor._from_op`` out of the
        recorder's hands (a wrapper that renames "softmax" to "div"): the ops behind the
        answer would be the student's account, not the engine's."""
        if self.recorder is not None:
            tensor_class, recorder = self.recorder
            if tensor_class.__dict__.get("_from_op") is not recorder:
                raise RuntimeError("Tensor._from_op was replaced by the lab file: the grader "
                                   "records through it which ops made a result, so this "
                                   "answer is refused (leave minnet's own methods as they are)")

    def backward(self, request, buffers):
        try:
            output, inputs = self.kept[int(request["graph"])]
        except KeyError:
            raise RuntimeError(f"backward through a result of more than {KEPT_GRAPHS} calls "
                               "ago: its graph is gone") from None
        codec = self.wire.Codec()
        grad = codec.decode(request["grad"], buffers)
        for tensor in inputs:
            tensor.grad = None
        output.backward(type(output)(grad), retain_graph=True)
        return [None if tensor.grad is None else tensor.grad.numpy() for tensor in inputs]

    def reply_value(self, value, codec=None, args=None):
        self.check_recorder()
        buffers = []
        hooks = dict(keep=self.keep, function=self.function_name, graph=self.graph_of)
        codec = codec.reply_codec(**hooks) if codec is not None else self.wire.Codec(**hooks)
        header = {"ok": True, "value": codec.encode(value, buffers)}
        if args is not None:  # what the call did to its arguments, for the grader to see
            header["args"] = codec.encode(args, buffers)
        self.wire.send(self.sock, header, buffers)

    def reply_error(self, error):
        frames = [frame for frame in traceback.extract_tb(error.__traceback__)
                  if frame.filename == self.filename]
        where = [f"  at {os.path.basename(frame.filename)}:{frame.lineno} in {frame.name}: "
                 f"{(frame.line or '').strip()}" for frame in frames[-2:]]
        try:
            message = str(error)
        except Exception:  # noqa: BLE001 -- a student's exception whose __str__ raises
            message = "(its message could not be shown)"
        self.wire.send(self.sock, {"ok": False, "type": type(error).__name__,
                                   "message": message[:4000], "where": "\n".join(where)})

    def load(self, request):
        self.filename = request["filename"]
        allowed = request["allowed_imports"]
        if allowed is not None:
            sys.meta_path.insert(0, ImportGuard(allowed, request["refused_imports"],
                                                request["module_name"]))
        self.install_stand_ins(request.get("stand_ins") or ())
        if allowed is None or "minnet" in allowed:
            self.record_ops()
        name = request["module_name"]
        module = types.ModuleType(name)
        module.__file__ = self.filename
        sys.modules[name] = module
        code = compile(request["source"], self.filename, "exec")
        # the file itself may be out of reach here: feedback quotes its lines from the source
        linecache.cache[self.filename] = (len(request["source"]), None,
                                          request["source"].splitlines(True), self.filename)
        exec(code, module.__dict__)  # noqa: S102 -- this process exists to run it
        self.module = module
        functions = sorted(key for key, value in vars(module).items()
                           if callable(value) and not key.startswith("__"))
        values = {}
        for key, value in vars(module).items():
            if key.startswith("__") or callable(value) or isinstance(value, types.ModuleType):
                continue
            if not isinstance(value, (bool, int, float, str, tuple, list, dict)) and \
                    type(value).__module__ != "numpy":
                continue  # constants only: objects stay in the module
            try:
                self.wire.encode(value, [])
            except (self.wire.WireError, TypeError):
                continue
            values[key] = value
        classes = [key for key, value in vars(module).items()
                   if isinstance(value, type) and self.autograd is not None
                   and issubclass(value, self.autograd.Function)
                   and value is not self.autograd.Function]
        return {"functions": functions, "values": values, "function_classes": classes,
                "parameters": {key: _positional_names(getattr(module, key))
                               for key in functions}}

    def call(self, request, buffers):
        function = getattr(self.module, request["function"])
        codec = self.wire.Codec(handle=self.incoming)
        args = codec.decode(request["args"], buffers)
        kwargs = codec.decode(request["kwargs"], buffers)
        self.call_inputs = [(number, value) for number, value in codec.objects.items()
                            if hasattr(value, "_backward") and hasattr(value, "requires_grad")]
        result = function(*args, **kwargs)
        if not request.get("sync"):
            return result, codec, None
        # what the call did to its arguments goes back only where the grader keeps it: the
        # arguments it names (positions and keywords), the others as None
        changing = set(request.get("changing") or ())
        return result, codec, (tuple(arg if position in changing else None
                                     for position, arg in enumerate(args)),
                               {key: arg for key, arg in kwargs.items() if key in changing})

    def serve(self):
        while True:
            try:
                request, buffers = self.wire.recv(self.sock)
            except EOFError:
                return
            if not self.answer(request, buffers):
                return

    def answer(self, request, buffers) -> bool:
        """Carry out one request of the grader and reply; False when told to stop."""
        codec = args = None
        try:
            if request.get("op") == "load":
                result = self.load(request)
            elif request.get("op") == "call":
                result, codec, args = self.call(request, buffers)
            elif request.get("op") == "backward":
                result = self.backward(request, buffers)
            elif request.get("op") == "function_forward":
                result = self.function_forward(request, buffers)
            elif request.get("op") == "function_backward":
                result = self.function_backward(request, buffers)
            elif request.get("op") == "replace":
                result = self.replace(request)
            elif request.get("op") == "set":
                result = setattr(self.module, str(request["name"]),
                                 self.wire.Codec().decode(request["value"], buffers))
            else:
                return False
        except BaseException as error:  # noqa: BLE001 -- sys.exit() is an answer too
            self.reply_error(error)
            return True
        try:
            self.reply_value(result, codec, args)
        except BaseException as error:  # noqa: BLE001 -- e.g. an object array returned
            self.reply_error(error)
        return True

    def call_back(self, number, args, kwargs):
        """Call a function of the grader's (a test's loss function, np.sin) with data: the
        grader runs it and answers; requests it makes meanwhile are answered here."""
        buffers = []
        codec = self.wire.Codec(keep=self.keep, function=self.function_name)
        self.wire.send(self.sock, {"op": "callback", "callback": number,
                                   "args": codec.encode(tuple(args), buffers),
                                   "kwargs": codec.encode(dict(kwargs), buffers)}, buffers)
        while True:
            message, buffers = self.wire.recv(self.sock)
            if "op" in message:  # the grader calls us again while running its function
                self.answer(message, buffers)
                continue
            if message.get("ok") is not True:
                raise RuntimeError(f"the grader's function failed: {message.get('message')}")
            return self.wire.Codec(handle=self.incoming).decode(message.get("value"), buffers)


def _enter_pid_namespace() -> None:
    """As root the lockdown made a PID namespace for this process's children: fork, and let
    the child, PID 1 there, do the work. It can then signal no process outside (``kill(1)``
    is itself, the grader and the fork server have no PID there), and every process the
    student's code starts dies with it. This process only waits and passes the child's exit
    on."""
    child = os.fork()
    if child == 0:
        _die_with_parent()
        return
    _, status = os.waitpid(child, 0)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 128 + os.WTERMSIG(status))
