"""The untrusted side of the sandbox: runs one student file and answers calls.

Started by ``sandbox.Sandbox`` as ``python -I sandbox_worker.py FD WIRE_PATH`` in
a fresh interpreter (no memory shared with the grader: no tests, references or
verdicts to find), in a session of its own, as an unprivileged user when the
grader runs as root. It loads ``wire.py`` by path, so minnet itself is never
imported here unless the lab allows it.

Requests (``wire`` frames): ``load`` (the file's text, its name, the imports the
lab allows) and ``call`` (a function name and its arguments as data). Each reply
is the result as data, or the exception as text with the student's lines.
"""
import importlib.abc
import importlib.util
import os
import socket
import sys
import traceback
import types


KEPT_GRAPHS = 256  # result graphs kept for a later backward()


def _load_wire(path):
    spec = importlib.util.spec_from_file_location("_minnet_sandbox_wire", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _die_with_parent():
    """Linux: this process gets SIGKILL when the grader's process that started it ends."""
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
        self.filename = "?"
        self.kept = {}  # handle number -> object that is not data
        self.call_inputs = []  # (number, Tensor) of the call being answered
        self.graphs = []       # handles of result graphs, oldest first
        self.handles = 0

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
            number = int(node["$cb"])
            name = str(node.get("name", "function"))

            def grader_function(*args, **kwargs):
                return self.call_back(number, args, kwargs)

            grader_function.__name__ = grader_function.__qualname__ = name
            return grader_function
        return self.resolve(node)

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
        return {"graph": number, "inputs": [number for number, _ in inputs]}

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
        name = request["module_name"]
        module = types.ModuleType(name)
        module.__file__ = self.filename
        sys.modules[name] = module
        code = compile(request["source"], self.filename, "exec")
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
        return {"functions": functions, "values": values}

    def call(self, request, buffers):
        function = getattr(self.module, request["function"])
        codec = self.wire.Codec(handle=self.incoming)
        args = codec.decode(request["args"], buffers)
        kwargs = codec.decode(request["kwargs"], buffers)
        self.call_inputs = [(number, value) for number, value in codec.objects.items()
                            if hasattr(value, "_backward") and hasattr(value, "requires_grad")]
        return function(*args, **kwargs), codec, (args, kwargs)

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


def main():
    _die_with_parent()
    fd, wire_path = int(sys.argv[1]), sys.argv[2]
    wire = _load_wire(wire_path)
    sock = socket.socket(fileno=fd)
    del sys.argv[1:]
    Worker(sock, wire).serve()
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()
