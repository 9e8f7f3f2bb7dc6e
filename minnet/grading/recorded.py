"""Reference results recorded at release time and replayed in a student repository.

A student repository has no ``labs/source/``, yet its public tests call
``reference(__file__, "layers")``. At release (``MINNET_RECORD_REFERENCES=<folder>``) each
call of a solution function is stored as data: a digest of its arguments (``digest``), its
result, what it changed or wrote, the random state it advanced; ``collect`` merges the
calls into ``labs/NN_lab/reference_calls.json``. Replaying, ``reference()`` runs the
released file's text, answers a recorded call (bit-identical arguments only) with its
result and raises ``LabFailure`` for any other. Planted failures are never recorded.
What is recorded, how arguments are digested and why: docs/grading_internals.md.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import importlib
import json
import os
import re
import struct
import tempfile
import types
from collections import OrderedDict, defaultdict
from pathlib import Path

import numpy as np

from .expect import LabFailure

RECORD_ENV = "MINNET_RECORD_REFERENCES"   # folder the recording run writes calls into
CALLS_FILE = "reference_calls.json"       # in each lab folder of a student repository
MAX_DEPTH = 16
NOISE_EPS = 1000  # arguments this many epsilons (of their magnitude) from a recorded call's
#                   replay it: the last bits another BLAS build or CPU gives
CACHES = frozenset({"_path_cache"})  # attributes recorded empty (nn.Module's, keyed by id())
_PRIVATE = re.compile(r"\._private\d+$")

_stack: list = []  # one cell per recorded call running now: {"planted": a planted one ran}


class Unrecordable(Exception):
    """A value the recording cannot key or store as data."""


# --------------------------------------------------------------------------
# solution functions and planted failures of a source file
# --------------------------------------------------------------------------
def solution_kinds(source_text: str, filename: str = "<source>") -> dict:
    """{top-level def/class name: "solution" | "planted"} for the names holding a region:
    "planted" when every region in it has a ``### RELEASE AS`` part."""
    from .regions import find_regions

    lines = source_text.splitlines()
    kinds: dict = {}
    for region in find_regions(source_text, filename):
        name = _top_level_name(lines, region.begin)
        if name is None:
            continue
        kind = "planted" if region.release is not None else "solution"
        kinds[name] = "solution" if kinds.get(name) == "solution" else kind
    return kinds


def _top_level_name(lines: list, number: int):
    for line in reversed(lines[:number + 1]):
        match = re.match(r"(?:async\s+)?(?:def|class)\s+(\w+)", line)
        if match:
            return match.group(1)
        if line[:1] not in ("", " ", "\t", "#", "@", ")"):
            return None
    return None


# --------------------------------------------------------------------------
# digests of arguments
# --------------------------------------------------------------------------
@functools.lru_cache(maxsize=None)
def _minnet_types():
    from ..nn.module import Module
    from ..tensor import Tensor
    return Tensor, Module


def digest(value) -> str:
    """A canonical SHA-256 of ``value`` (see the module docstring); Unrecordable if none."""
    h = hashlib.sha256()
    _feed(h.update, value, 0, set())
    return h.hexdigest()


def call_key(args: tuple, kwargs: dict) -> str:
    return digest((tuple(args), dict(sorted(kwargs.items()))))


def _array_bytes(array: np.ndarray) -> bytes:
    if array.dtype.hasobject:
        raise Unrecordable("an array of Python objects")
    return np.ascontiguousarray(array).tobytes()


def _temporary(text: str) -> bool:
    return os.path.isabs(text) and text.startswith(tempfile.gettempdir() + os.sep)


def _callable_name(value) -> str:
    module = _PRIVATE.sub("", str(getattr(value, "__module__", "?")))
    return f"{module}.{getattr(value, '__qualname__', repr(value))}"


def _feed(put, value, depth: int, seen: set) -> None:
    Tensor, Module = _minnet_types()
    if depth > MAX_DEPTH:
        raise Unrecordable("nested too deeply")
    if isinstance(value, np.generic):
        put(f"<np:{value.dtype.str}>".encode() + _array_bytes(np.asarray(value)))
    elif isinstance(value, str) and _temporary(value):
        put(f"<temporary path:{os.path.basename(value)}>".encode())
    elif isinstance(value, os.PathLike):
        _feed(put, os.fspath(value), depth, seen)
    elif value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        put(f"<{type(value).__name__}:{value!r}>".encode())
    elif isinstance(value, np.ndarray):
        put(f"<array:{value.dtype.str}:{value.shape}>".encode() + _array_bytes(value))
    elif isinstance(value, np.dtype):
        put(f"<dtype:{value.str}>".encode())
    elif id(value) in seen:
        raise Unrecordable("a value that contains itself")
    elif isinstance(value, Tensor):
        put(f"<{type(value).__name__}:{value.requires_grad}>".encode())
        _feed(put, value._data, depth + 1, seen | {id(value)})
        _feed(put, None if value.grad is None else value.grad._data, depth + 1, seen)
    elif isinstance(value, Module):
        put(b"<module>")
        for name, module in value.named_modules():
            put(f"{name}:{_callable_name(type(module))}:{module.training};".encode())
        for name, tensor in value.state_dict().items():
            put(f"{name}=".encode())
            _feed(put, tensor._data, depth + 1, seen)
        for name, parameter in value.named_parameters():
            put(f"grad {name}=".encode())
            _feed(put, None if parameter.grad is None else parameter.grad._data, depth + 1, seen)
    elif isinstance(value, (list, tuple)):
        put(f"<{type(value).__name__}:{len(value)}>".encode())
        for item in value:
            _feed(put, item, depth + 1, seen | {id(value)})
    elif isinstance(value, dict):
        put(f"<dict:{len(value)}>".encode())
        for key, item in value.items():
            _feed(put, key, depth + 1, seen)
            _feed(put, item, depth + 1, seen | {id(value)})
    elif isinstance(value, np.random.Generator):
        put(b"<generator>")
        _feed(put, value.bit_generator.state, depth + 1, seen)
    elif isinstance(value, functools.partial):
        put(b"<partial>")
        _feed(put, (value.func, value.args, value.keywords), depth + 1, seen | {id(value)})
    elif isinstance(value, types.MethodType):
        put(f"<method:{_callable_name(value.__func__)}>".encode())
        _feed(put, value.__self__, depth + 1, seen | {id(value)})
    elif isinstance(value, (types.FunctionType, types.BuiltinFunctionType, type, np.ufunc)):
        put(f"<callable:{_callable_name(value)}>".encode())
    elif isinstance(value, types.ModuleType):
        put(f"<module object:{_PRIVATE.sub('', value.__name__)}>".encode())
    elif hasattr(value, "__dict__"):
        put(f"<object:{_callable_name(type(value))}>".encode())
        _feed(put, dict(vars(value)), depth + 1, seen | {id(value)})
    else:
        raise Unrecordable(f"an argument of type {type(value).__name__}")


# --------------------------------------------------------------------------
# values as data
# --------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _encode_array(array: np.ndarray) -> dict:
    return {"array": array.dtype.str, "shape": list(array.shape),
            "b64": _b64(_array_bytes(array))}


def _decode_array(data: dict) -> np.ndarray:
    raw = base64.b64decode(data["b64"])
    return np.frombuffer(raw, dtype=np.dtype(data["array"])).reshape(data["shape"]).copy()


def _importable(value) -> bool:
    module = getattr(value, "__module__", None) or ""
    return module.split(".")[0] in ("minnet", "numpy", "builtins", "math")


def _unrecordable(value):
    raise Unrecordable(f"a value of type {type(value).__module__}.{type(value).__qualname__}")


class _Encoder:
    """Values as JSON data; an object met twice is written once (``{"same": id}``) and an
    argument of the call as ``{"argument": name}``."""

    def __init__(self, arguments: dict):
        self.arguments = {id(value): name for name, value in arguments.items()
                          if not isinstance(value, (type(None), bool, int, float, str))}
        self.ids: dict = {}
        self.keep: list = []   # the objects numbered (so that their ids stay theirs)

    def __call__(self, value, depth: int = 0, as_argument: bool = True):
        Tensor, _ = _minnet_types()
        if depth > MAX_DEPTH:
            raise Unrecordable("a value nested too deeply")
        if isinstance(value, np.generic):
            return {"scalar": value.dtype.str, "b64": _b64(_array_bytes(np.asarray(value)))}
        if value is None or isinstance(value, (bool, str)):
            return value
        if isinstance(value, (int, float)):
            if type(value) is int:
                return {"int": str(value)}
            if type(value) is float:
                return {"float": struct.pack("<d", value).hex()}
            return _unrecordable(value)
        if as_argument and id(value) in self.arguments:
            return {"argument": self.arguments[id(value)]}
        if id(value) in self.ids:
            return {"same": self.ids[id(value)]}
        if isinstance(value, np.dtype):
            return {"dtype": value.str}
        if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, type, np.ufunc)):
            if not _importable(value) or "<locals>" in getattr(value, "__qualname__", ""):
                return _unrecordable(value)
            return {"callable": [value.__module__, value.__qualname__]}
        number = len(self.ids)
        self.ids[id(value)] = number
        self.keep.append(value)
        if isinstance(value, np.ndarray):
            return {"id": number, **_encode_array(value)}
        if isinstance(value, Tensor):
            if not _importable(type(value)):
                return _unrecordable(value)
            return {"id": number, "tensor": _encode_array(value._data),
                    "class": [type(value).__module__, type(value).__qualname__],
                    "requires_grad": bool(value.requires_grad),
                    "grad": None if value.grad is None else self(value.grad, depth + 1)}
        if type(value) in (list, tuple):
            return {"id": number, type(value).__name__: [self(item, depth + 1) for item in value]}
        if type(value) in (dict, OrderedDict, defaultdict):
            return {"id": number, "ordered": type(value) is OrderedDict,
                    "default": self(value.default_factory, depth + 1)
                    if type(value) is defaultdict else None,
                    "dict": [[self(key, depth + 1), self(item, depth + 1)]
                             for key, item in value.items()]}
        if type(value) in (set, frozenset):
            return {"id": number, type(value).__name__: [self(item, depth + 1)
                                                         for item in value]}
        if isinstance(value, np.random.Generator):
            return {"id": number, "generator": _json_safe(value.bit_generator.state)}
        if hasattr(value, "__dict__") and _importable(type(value)) and \
                not isinstance(value, types.ModuleType):
            return {"id": number, "object": [type(value).__module__, type(value).__qualname__],
                    "vars": [[key, self(type(item)() if key in CACHES else item, depth + 1)]
                             for key, item in vars(value).items()]}
        return _unrecordable(value)


def _json_safe(value):
    return json.loads(json.dumps(value, default=lambda v: v.tolist() if isinstance(
        v, np.ndarray) else v.item() if isinstance(v, np.generic) else str(v)))


def _resolve(module: str, qualname: str):
    if module.split(".")[0] not in ("minnet", "numpy", "builtins", "math"):
        raise ValueError(f"recorded value names {module}.{qualname}: only minnet, NumPy and "
                         "builtins are resolved")
    value = importlib.import_module(module)
    for part in qualname.split("."):
        value = getattr(value, part)
    return value


class _Decoder:
    """The inverse of _Encoder; ``into(target, data)`` puts data back into an existing
    object where it can (arrays, Tensors, objects, containers: in place)."""

    def __init__(self, arguments: dict):
        self.arguments = arguments
        self.ids: dict = {}

    def __call__(self, data):
        return self.into(None, data)

    def into(self, target, data):
        from ..tensor import Tensor

        if data is None or isinstance(data, (bool, str)):
            return data
        if "argument" in data:
            return self.arguments[data["argument"]]
        if "same" in data:
            return self.ids[data["same"]]
        if "int" in data:
            return int(data["int"])
        if "float" in data:
            return struct.unpack("<d", bytes.fromhex(data["float"]))[0]
        if "scalar" in data:
            return np.frombuffer(base64.b64decode(data["b64"]), dtype=np.dtype(data["scalar"]))[0]
        if "dtype" in data:
            return np.dtype(data["dtype"])
        if "callable" in data:
            return _resolve(*data["callable"])
        number = data["id"]
        if "array" in data:
            array = _decode_array(data)
            if isinstance(target, np.ndarray) and target.shape == array.shape and \
                    target.dtype == array.dtype and target.flags.writeable:
                target[...] = array
                array = target
            self.ids[number] = array
            return array
        if "tensor" in data:
            cls = _resolve(*data["class"])
            if isinstance(target, Tensor) and type(target) is cls:
                tensor = target
                tensor._data = _decode_array(data["tensor"])
                tensor.requires_grad = data["requires_grad"]
            else:
                tensor = cls(_decode_array(data["tensor"]), requires_grad=data["requires_grad"])
            self.ids[number] = tensor
            tensor.grad = None if data["grad"] is None else self.into(tensor.grad, data["grad"])
            return tensor
        if "list" in data or "tuple" in data:
            items = data.get("list", data.get("tuple"))
            if "list" in data:
                result = target if type(target) is list else []
                self.ids[number] = result
                old = list(result)
                result[:] = [self.into(old[i] if i < len(old) else None, item)
                             for i, item in enumerate(items)]
                return result
            result = tuple(self.into(target[i] if isinstance(target, tuple) and i < len(target)
                                     else None, item) for i, item in enumerate(items))
            self.ids[number] = result
            return result
        if "set" in data or "frozenset" in data:
            kind = set if "set" in data else frozenset
            result = kind(self(item) for item in data[kind.__name__])
            self.ids[number] = result
            return result
        if "dict" in data:
            default = self(data["default"]) if data["default"] is not None else None
            kind = OrderedDict if data["ordered"] else defaultdict if default else dict
            result = target if type(target) is kind else \
                defaultdict(default) if default else kind()
            self.ids[number] = result
            old = dict(result)
            result.clear()
            for key, item in data["dict"]:
                key = self(key)
                result[key] = self.into(old.get(key), item)
            return result
        if "generator" in data:
            if isinstance(target, np.random.Generator):
                generator = target
            else:
                bit_generator = getattr(np.random, data["generator"]["bit_generator"])
                generator = np.random.Generator(bit_generator())
            generator.bit_generator.state = data["generator"]
            self.ids[number] = generator
            return generator
        if "object" in data:
            cls = _resolve(*data["object"])
            result = target if type(target) is cls else cls.__new__(cls)
            self.ids[number] = result
            old = dict(vars(result))
            fields = vars(result)
            fields.clear()
            for key, item in data["vars"]:
                fields[key] = self.into(old.get(key), item)
            return result
        raise ValueError(f"unknown recorded value {sorted(data)}")


# --------------------------------------------------------------------------
# global random state, files written
# --------------------------------------------------------------------------
def _global_random_states() -> dict:
    from .. import random as minnet_random
    state = {"numpy": np.random.get_state(legacy=False)}
    default = getattr(minnet_random, "default_generator", None)
    if default is not None:
        state["minnet"] = default().bit_generator.state
    return _json_safe(state)


def _set_global_random_states(states: dict) -> None:
    from .. import random as minnet_random
    state = dict(states["numpy"])
    state["state"] = dict(state["state"])
    np.random.set_state(state)
    if "minnet" in states:
        minnet_random.default_generator().bit_generator.state = states["minnet"]


def _file_stamps(arguments: dict) -> dict:
    stamps = {}
    for name, value in arguments.items():
        if isinstance(value, (str, os.PathLike)) and os.path.isabs(os.fspath(value)):
            path = os.fspath(value)
            stamps[name] = (os.stat(path).st_mtime_ns, os.stat(path).st_size) \
                if os.path.isfile(path) else None
    return stamps


def _figure_from_png(path):
    """A matplotlib Figure showing the PNG a recorded call saved (what it returned)."""
    import matplotlib.image as mpimg
    from matplotlib.figure import Figure

    image = mpimg.imread(path)
    figure = Figure(figsize=(image.shape[1] / 100, image.shape[0] / 100), dpi=100)
    figure.figimage(image)
    return figure


# --------------------------------------------------------------------------
# recording
# --------------------------------------------------------------------------
def recording_folder():
    folder = os.environ.get(RECORD_ENV)
    return Path(folder) if folder else None


def _wrappable(module: types.ModuleType, kinds: dict):
    """(name, owner, attribute, function, kind, is static) for every top-level function of
    ``module`` and every method of its classes that hold a region."""
    for name, value in list(vars(module).items()):
        if getattr(value, "__module__", None) != module.__name__:
            continue
        if isinstance(value, types.FunctionType):
            yield name, module, name, value, kinds.get(name, "helper"), False
        elif isinstance(value, type) and name in kinds:
            for member, raw in list(vars(value).items()):
                function = raw.__func__ if isinstance(raw, staticmethod) else raw
                if isinstance(function, types.FunctionType):
                    yield (f"{name}.{member}", value, member, function, kinds[name],
                           isinstance(raw, staticmethod))


def record_module(module: types.ModuleType, lab: str, stem: str, source_text: str,
                  folder) -> None:
    """Wrap the functions of the reference ``module`` so that their calls are recorded."""
    kinds = solution_kinds(source_text)
    target = Path(folder) / lab / stem
    target.mkdir(parents=True, exist_ok=True)
    for name, owner, attribute, function, kind, static in _wrappable(module, kinds):
        if kind == "helper":
            continue               # runs as released in a student repository
        wrapped = _recording(function, name, kind, target)
        setattr(owner, attribute, staticmethod(wrapped) if static else wrapped)


def _arguments(args: tuple, kwargs: dict) -> dict:
    named = {str(index): value for index, value in enumerate(args)}
    named.update(kwargs)
    return named


def _recording(function, name: str, kind: str, target: Path):
    @functools.wraps(function)
    def recorded(*args, **kwargs):
        arguments = _arguments(args, kwargs)
        reason = ""
        try:
            key = call_key(args, kwargs)
            before = {n: digest(v) for n, v in arguments.items()}
        except Unrecordable as why:
            key, before, reason = None, {}, str(why)
        randoms, files = _global_random_states(), _file_stamps(arguments)
        derived = kind == "solution" and _made_by(_student_made, arguments)
        # given a repaired model or Setup: its data would show the repair (exact key only)
        repaired = kind == "solution" and _made_by(_planted_made, arguments)
        encoded = _encoded_arguments(arguments) if kind == "solution" and not repaired \
            else Unrecordable("given what a repair made")
        cell = {"planted": kind == "planted"}
        _stack.append(cell)
        try:
            result = function(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 (recorded, then raised again)
            _stack.pop()
            _mark_outer(cell)
            if kind == "solution" and not cell["planted"] and key is not None and \
                    type(error).__module__ == "builtins":
                _write(target, name, key, {"raises": type(error).__name__,
                                           "message": str(error)})
            raise
        _stack.pop()
        _mark_outer(cell)
        if kind == "planted":
            _remember(_planted_made, result)
        if kind == "planted" or cell["planted"]:
            return result          # a planted failure (or a call using one): never recorded
        if key is None:
            _write(target, name, "unkeyed-" + hashlib.sha256(reason.encode()).hexdigest()[:16],
                   {"unrecordable": f"its arguments: {reason}"})
            return result
        entry = _entry(result, arguments, before, randoms, files, encoded)
        if repaired and (entry.get("changed") or _made_by(_planted_made, result)):
            entry = {"unrecordable": "it changes or returns what a repaired (planted) "
                                     "function made: recording it would show the repair"}
        if derived:
            entry["student_derived"] = True
        _write(target, name, key, entry)
        return result

    return recorded


def _encoded_arguments(arguments: dict):
    """The arguments as data (before the call), for the tolerant look-up at replay; the
    Unrecordable itself if they cannot be written as data."""
    try:
        return json.loads(json.dumps(_Encoder({})(dict(arguments), as_argument=False)))
    except Unrecordable as why:
        return why


# --------------------------------------------------------------------------
# arguments made by the student's code (recording only)
# --------------------------------------------------------------------------
_student_made: dict = {}  # id -> the object a student function returned or changed (kept alive)
_planted_made: dict = {}  # id -> the object a planted failure (repaired) returned


def mark_student_module(module: types.ModuleType, source_text: str = "") -> None:
    """While recording: wrap the student module's functions so that what they return or
    change in place is remembered; a reference call given such an object is marked
    ``student_derived`` (its result holds only for the solution's own answer). What its
    planted failures return (the repaired model or Setup: the student file is the
    solution while recording) is remembered as *planted* too (see _recording)."""
    kinds = solution_kinds(source_text) if source_text else {}
    for name, value in list(vars(module).items()):
        if isinstance(value, types.FunctionType) and value.__module__ == module.__name__:
            setattr(module, name, _marking(value, kinds.get(name) == "planted"))


def watch_sandbox(remote_function) -> None:
    """While recording: what a sandboxed student function returns (sandbox.py: the student's
    file runs in a worker, results come back as data) is remembered like a student module's
    results. ``remote_function``: sandbox.RemoteFunction, patched by sandbox.py when it is
    imported in a recording run (recording does not import the sandbox itself)."""
    call = remote_function.__call__

    @functools.wraps(call)
    def remembered(self, *args, **kwargs):
        Tensor, Module = _minnet_types()
        given = {id(item) for item in _objects((args, kwargs))}
        watched = [value for value in (*args, *kwargs.values())
                   if isinstance(value, (Tensor, Module))]
        before = [_versions(value) for value in watched]
        result = call(self, *args, **kwargs)
        _remember(_student_made, result, given)   # the wire gives an argument back as itself
        if _sandbox_kinds(self._box.path).get(self.__name__) == "planted":
            _remember(_planted_made, result, given)
        for value, versions in zip(watched, before):
            if _versions(value) != versions:      # changed in place (the worker's changes)
                _remember(_student_made, value)
        return result

    remote_function.__call__ = remembered


@functools.lru_cache(maxsize=None)
def _sandbox_kinds(student_path: str) -> dict:
    """solution_kinds of the reference of a student file (labs/source/<lab>/<file>)."""
    folder, name = os.path.split(os.path.abspath(student_path))
    source = os.path.join(os.path.dirname(folder), "source", os.path.basename(folder), name)
    if not os.path.isfile(source):
        return {}
    with open(source, encoding="utf-8") as file:
        return solution_kinds(file.read(), source)


def _remember(made: dict, value, given=()) -> None:
    """Remember the objects in ``value``, except those in ``given`` (ids of what the function
    was called with: lab 01's forward returns its inputs in its cache, unchanged)."""
    for item in _objects(value):
        if id(item) not in given:
            made[id(item)] = item


def _marking(function, planted: bool):
    @functools.wraps(function)
    def marked(*args, **kwargs):
        given = {id(item) for item in _objects((args, kwargs))}
        if _marking_depth[0]:        # inside another student function: that one counts
            result = function(*args, **kwargs)
            if planted:
                _remember(_planted_made, result, given)
            return result
        Tensor, Module = _minnet_types()
        watched = {name: value for name, value in _arguments(args, kwargs).items()
                   if isinstance(value, (Tensor, Module))}   # a model it trains in place
        before = {name: _versions(value) for name, value in watched.items()}
        _marking_depth[0] += 1
        try:
            result = function(*args, **kwargs)
        finally:
            _marking_depth[0] -= 1
        _remember(_student_made, result, given)
        if planted:
            _remember(_planted_made, result, given)
        for name, value in watched.items():
            if _versions(value) != before[name]:
                _remember(_student_made, value)
        return result

    return marked


_marking_depth = [0]


def _versions(value) -> tuple:
    """Cheap fingerprint of a Tensor or Module: its tensors' version counters (bumped by
    every in-place change and optimizer step) and grads."""
    Tensor, _ = _minnet_types()
    tensors = [value] if isinstance(value, Tensor) else list(value.parameters())
    return tuple((id(t), t._version, id(t.grad), None if t.grad is None else t.grad._version)
                 for t in tensors)


def _objects(value, depth: int = 0, seen=None):
    """The mutable objects in ``value`` (containers, attributes, a Module's parameters)."""
    Tensor, Module = _minnet_types()
    seen = set() if seen is None else seen
    if depth > 6 or id(value) in seen or value is None or \
            isinstance(value, (bool, int, float, str, bytes, np.generic, type,
                               types.FunctionType, types.ModuleType)):
        return
    seen.add(id(value))
    yield value
    if isinstance(value, Tensor):
        yield value._data
    elif isinstance(value, Module):
        for parameter in value.parameters():
            yield from _objects(parameter, depth + 1, seen)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from _objects(item, depth + 1, seen)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _objects(item, depth + 1, seen)
    elif hasattr(value, "__dict__") and not isinstance(value, np.ndarray):
        for item in vars(value).values():
            yield from _objects(item, depth + 1, seen)


def _made_by(made: dict, value) -> bool:
    """Does ``value`` hold an object remembered in ``made``?"""
    return bool(made) and any(made.get(id(item)) is item for item in _objects(value))


def _mark_outer(cell: dict) -> None:
    for outer in _stack:
        outer["planted"] = outer["planted"] or cell["planted"]


def _entry(result, arguments: dict, before: dict, randoms: dict, files: dict,
           encoded_arguments) -> dict:
    try:
        entry: dict = {} if isinstance(encoded_arguments, Unrecordable) else \
            {"arguments": encoded_arguments}     # kept only when they can be data
        written = {}
        for name, stamp in files.items():
            path = os.fspath(arguments[name])
            if os.path.isfile(path) and (os.stat(path).st_mtime_ns, os.stat(path).st_size) \
                    != stamp:
                with open(path, "rb") as file:
                    written[name] = _b64(file.read())
        if written:
            entry["files"] = written
        if type(result).__module__.startswith("matplotlib") and \
                type(result).__name__ == "Figure":
            entry["result"] = {"figure": next(iter(written), None)}
        else:
            entry["result"] = _Encoder(arguments)(result)
        changed = {}
        for name, value in arguments.items():
            try:
                now = digest(value)
            except Unrecordable:
                now = None
            if now != before.get(name):
                changed[name] = _Encoder({})(value, as_argument=False)
        if changed:
            entry["changed"] = changed
        after = _global_random_states()
        if after != randoms:
            entry["random_state"] = after
        return entry
    except Unrecordable as why:
        return {"unrecordable": str(why)}


def _write(target: Path, name: str, key: str, entry: dict) -> None:
    path = target / f"{name}.{key}.json"
    if path.exists():
        return
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(json.dumps({"name": name, "key": key, **entry}), encoding="utf-8")
    os.replace(temporary, path)


def collect(folder, lab: str, sources: dict) -> tuple:
    """``(calls file content, unrecordable, derived)`` for one lab from the recording
    ``folder``.

    ``sources``: {stem: (source text, released text)}. ``unrecordable`` lists
    ``(stem, function, why)`` for the calls whose result could not be stored;
    ``derived`` ``(stem, function)`` for calls given an object the student's code made
    or changed (a model the student trained): their recorded result holds for the
    solution's answer only, so a correct answer that differs from it (another valid
    repair, another order of random draws) fails that check in a student repository.
    """
    files, unrecordable, derived = {}, [], []
    for stem, (source_text, released_text) in sorted(sources.items()):
        calls: dict = {}
        for path in sorted((Path(folder) / lab / stem).glob("*.json")):
            entry = json.loads(path.read_text(encoding="utf-8"))
            name, key = entry.pop("name"), entry.pop("key")
            if "unrecordable" in entry:
                unrecordable.append((stem, name, entry["unrecordable"]))
            if entry.get("student_derived"):
                derived.append((stem, name))
            calls.setdefault(name, {})[key] = entry
        files[stem] = {"released": released_text, "kinds": solution_kinds(source_text),
                       "calls": calls}
    content = {"about": "Reference results recorded by `minnet labs release --to` for the "
                        "public tests (minnet/grading/recorded.py); no solution code.",
               "files": files}
    return content, sorted(set(unrecordable)), sorted(set(derived))


# --------------------------------------------------------------------------
# replaying
# --------------------------------------------------------------------------
_calls_cache: dict = {}


def recorded_file(lab_folder, stem: str):
    """The recorded entry of ``stem`` in the lab's calls file, or None."""
    path = Path(lab_folder) / CALLS_FILE
    if not path.is_file():
        return None
    stamp = path.stat().st_mtime_ns
    cached = _calls_cache.get(str(path))
    if cached is None or cached[0] != stamp:
        cached = (stamp, json.loads(path.read_text(encoding="utf-8")))
        _calls_cache[str(path)] = cached
    return cached[1]["files"].get(stem)


def replay_module(module: types.ModuleType, recorded: dict, lab: str, stem: str) -> None:
    """Wrap the functions of ``module`` (executed from the released text) to replay."""
    for name, owner, attribute, function, kind, static in _wrappable(module, recorded["kinds"]):
        if kind == "solution":
            wrapped = _replaying(function, name, recorded["calls"].get(name, {}),
                                 f"{lab}/{stem}.py")
            setattr(owner, attribute, staticmethod(wrapped) if static else wrapped)


def _not_recorded(what: str, why: str) -> LabFailure:
    return LabFailure(
        f"the reference result of {what} {why}. This check needs the reference "
        "solution: it runs only with the instructor's grader (`minnet grade`, or a full "
        "course repository with labs/source/). Your code is not at fault for this message; "
        "the other checks still grade it.")


def _nearest(calls: dict, args: tuple, kwargs: dict):
    """The recorded call whose arguments equal these up to floating-point noise
    (NOISE_EPS), or None."""
    try:
        wanted = json.loads(json.dumps(_Encoder({})(_arguments(args, kwargs),
                                                    as_argument=False)))
    except Unrecordable:
        return None
    for entry in calls.values():
        if "arguments" in entry and _close(wanted, entry["arguments"]):
            return entry
    return None


def _close_arrays(x: np.ndarray, y: np.ndarray) -> bool:
    """Equal, or for floats within NOISE_EPS machine epsilons of the larger magnitude."""
    if x.dtype.kind not in "fc" or x.size == 0:
        return bool(np.array_equal(x, y))
    if not np.array_equal(np.isnan(x), np.isnan(y)):
        return False
    x, y = np.nan_to_num(x, nan=0.0), np.nan_to_num(y, nan=0.0)
    tolerance = NOISE_EPS * np.finfo(x.dtype).eps * max(1e-30, float(np.max(np.abs(y))))
    return bool(np.all(np.abs(x - y) <= tolerance))


def _close(a, b) -> bool:
    if isinstance(a, dict) and isinstance(b, dict):
        if "array" in a and "array" in b:
            if a["array"] != b["array"] or a["shape"] != b["shape"]:
                return False
            return _close_arrays(_decode_array(a), _decode_array(b))
        if "float" in a and "float" in b:
            return _close_arrays(*(np.array(struct.unpack("<d", bytes.fromhex(v["float"])))
                                   for v in (a, b)))
        return a.keys() == b.keys() and all(_close(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_close(x, y) for x, y in zip(a, b))
    if isinstance(a, str) and isinstance(b, str) and _temporary(a) and _temporary(b):
        return os.path.basename(a) == os.path.basename(b)
    return a == b


def _replaying(function, name: str, calls: dict, where: str):
    @functools.wraps(function)
    def replayed(*args, **kwargs):
        try:
            key, reason = call_key(args, kwargs), ""
        except Unrecordable as why:
            key, reason = None, str(why)
        entry = calls.get(key) if key is not None else None
        if entry is None:
            entry = _nearest(calls, args, kwargs)
        if entry is None or "unrecordable" in entry:
            if key is None:
                raise _not_recorded(f"{where}: {name}(...)", f"cannot be looked up ({reason})")
            if entry is not None:
                raise _not_recorded(f"{where}: {name}(...)",
                                    f"could not be recorded ({entry['unrecordable']})")
            raise _not_recorded(f"{where}: {name}(...) for these arguments",
                                "was not recorded when this repository was released (the "
                                "arguments differ from the ones the reference was given)")
        if "raises" in entry:
            import builtins
            raise getattr(builtins, entry["raises"], RuntimeError)(entry["message"])
        arguments = _arguments(args, kwargs)
        for argument, content in entry.get("files", {}).items():
            from ..fileio import atomic_write  # a figure the reference drew, written whole

            atomic_write(os.fspath(arguments[argument]), base64.b64decode(content))
        for argument, state in entry.get("changed", {}).items():
            _Decoder({}).into(arguments[argument], state)
        if "random_state" in entry:
            _set_global_random_states(entry["random_state"])
        result = entry["result"]
        if isinstance(result, dict) and "figure" in result:
            return None if result["figure"] is None else \
                _figure_from_png(os.fspath(arguments[result["figure"]]))
        return _Decoder(arguments)(result)

    return replayed

