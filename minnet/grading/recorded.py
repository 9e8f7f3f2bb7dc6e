"""Reference results recorded at release time and replayed in a student repository.

A student repository (``minnet labs release --to DIR``) has no ``labs/source/``:
no reference solutions. Its public tests still call ``reference(__file__, "layers")``
and compare with ``ref.affine_forward(x, w, b)``. This module makes that work:

**Recording** (at release time, ``MINNET_RECORD_REFERENCES=<folder>``): the public
tests run once against the reference solutions. Every top-level function of a
reference module is wrapped; a call of a *solution function* (one whose
definition holds a ``### BEGIN SOLUTION`` region), or of a helper during which a
solution function ran, is stored as data: its key (the function's name and a
digest of its arguments, see ``digest``), its result, the arguments it changed
in place and the global random state it advanced. One small JSON file per call
is written into the folder (the tests run in forked children), merged later by
``collect`` into ``labs/NN_lab/reference_calls.json`` of the student repository.

**Replaying** (no ``labs/source/``, ``reference_calls.json`` next to the test):
``reference()`` returns a module executed from the *released* student file's
text (kept in that JSON): its helpers outside solution regions are the reference's
own code and run as they are; its solution functions (and the recorded helpers)
return the recorded result for a recorded call, and raise ``LabFailure`` naming
the function for any other call (that check needs the instructor's grader).

No code is recorded: results are arrays, numbers, strings, containers of them,
minnet Tensors as arrays, or "the argument it was given" (an in-place function
returning its argument). A result that is anything else (a model, a Setup, a
figure on disk) is not recorded; its calls fail in the student repository, and
``collect`` lists them so the instructor sees which checks need the grader.

Argument digests (``digest``): NumPy arrays by dtype, shape and bytes; Python and
NumPy scalars by type and exact value; strings, bytes, None; lists, tuples and
dicts item by item; minnet Tensors by data, grad and requires_grad; nn.Modules by
their class tree (class and training flag of every submodule), state_dict and
parameter grads; NumPy Generators by their state; functions and classes by their
module and qualified name; other objects by their class and their ``__dict__``
(depth-limited). Anything else (an object without ``__dict__``, a cycle) makes
the call unrecordable. The digests are exact: a call is replayed only for
bit-identical arguments (seeded NumPy inputs are the same on every machine;
the result of a BLAS product may not be, which the round trip in CI shows).
"""
from __future__ import annotations

import base64
import functools
import hashlib
import json
import os
import struct
import types
from pathlib import Path

import numpy as np

from .expect import LabFailure

RECORD_ENV = "MINNET_RECORD_REFERENCES"   # folder the recording run writes calls into
CALLS_FILE = "reference_calls.json"       # in each lab folder of a student repository
MAX_DEPTH = 12

_stack: list = []  # one [touched] cell per recorded call running now (nesting)


class Unrecordable(Exception):
    """A value the recording cannot key or store as data."""


# --------------------------------------------------------------------------
# solution functions of a source file
# --------------------------------------------------------------------------
def solution_names(source_text: str, filename: str = "<source>") -> list:
    """Top-level names (def or class) whose definition holds a solution region."""
    from .release import find_regions

    lines = source_text.splitlines()
    names = set()
    for region in find_regions(source_text, filename):
        for number in range(region.begin, -1, -1):
            line = lines[number]
            if line[:1] not in ("", " ", "\t", "#") and not line.startswith(("@", ")")):
                words = line.replace("(", " ").replace(":", " ").split()
                if len(words) >= 2 and words[0] in ("def", "class"):
                    names.add(words[1])
                elif len(words) >= 3 and words[:2] == ["async", "def"]:
                    names.add(words[2])
                break
    return sorted(names)


# --------------------------------------------------------------------------
# digests of arguments
# --------------------------------------------------------------------------
def _minnet_types():
    from ..nn.module import Module
    from ..tensor import Tensor
    return Tensor, Module


def digest(value) -> str:
    """A canonical SHA-256 of ``value`` (see the module docstring); Unrecordable if none."""
    h = hashlib.sha256()
    _feed(h.update, value, 0, set())
    return h.hexdigest()


def _array_bytes(array: np.ndarray) -> bytes:
    if array.dtype.hasobject:
        raise Unrecordable("an array of Python objects")
    return np.ascontiguousarray(array).tobytes()


def _feed(put, value, depth: int, seen: set) -> None:
    Tensor, Module = _minnet_types()
    if depth > MAX_DEPTH:
        raise Unrecordable("nested too deeply")
    if isinstance(value, np.generic):
        put(f"<np:{value.dtype.str}>".encode() + _array_bytes(np.asarray(value)))
        return
    if value is None or isinstance(value, (bool, int, float, complex, str, bytes)):
        put(f"<{type(value).__name__}:{value!r}>".encode())
        return
    if isinstance(value, np.ndarray):
        put(f"<array:{value.dtype.str}:{value.shape}>".encode() + _array_bytes(value))
        return
    if id(value) in seen:
        raise Unrecordable("a value that contains itself")
    seen = seen | {id(value)}
    if isinstance(value, Tensor):
        put(f"<{type(value).__name__}:{value.requires_grad}>".encode())
        _feed(put, value.data, depth + 1, seen)
        _feed(put, None if value.grad is None else value.grad.data, depth + 1, seen)
    elif isinstance(value, Module):
        put(b"<module>")
        for name, module in value.named_modules():
            put(f"{name}:{_qualified(type(module))}:{module.training};".encode())
        for name, tensor in value.state_dict().items():
            put(f"{name}=".encode())
            _feed(put, tensor.data, depth + 1, seen)
        for name, parameter in value.named_parameters():
            put(f"grad {name}=".encode())
            _feed(put, None if parameter.grad is None else parameter.grad.data, depth + 1, seen)
    elif isinstance(value, (list, tuple)):
        put(f"<{type(value).__name__}:{len(value)}>".encode())
        for item in value:
            _feed(put, item, depth + 1, seen)
    elif isinstance(value, dict):
        put(f"<dict:{len(value)}>".encode())
        for key, item in value.items():
            _feed(put, key, depth + 1, seen)
            _feed(put, item, depth + 1, seen)
    elif isinstance(value, np.random.Generator):
        put(b"<generator>")
        _feed(put, value.bit_generator.state, depth + 1, seen)
    elif isinstance(value, (types.FunctionType, types.BuiltinFunctionType, type,
                            functools.partial, np.ufunc)):
        if isinstance(value, functools.partial):
            put(b"<partial>")
            _feed(put, (value.func, value.args, value.keywords), depth + 1, seen)
        else:
            put(f"<callable:{_qualified(value)}>".encode())
    elif isinstance(value, types.ModuleType):
        put(f"<module object:{value.__name__}>".encode())
    elif hasattr(value, "__dict__"):
        put(f"<object:{_qualified(type(value))}>".encode())
        _feed(put, dict(vars(value)), depth + 1, seen)
    else:
        raise Unrecordable(f"an argument of type {type(value).__name__}")


def _qualified(value) -> str:
    return f"{getattr(value, '__module__', '?')}.{getattr(value, '__qualname__', repr(value))}"


def call_key(args: tuple, kwargs: dict) -> str:
    return digest((tuple(args), dict(sorted(kwargs.items()))))


# --------------------------------------------------------------------------
# results as data
# --------------------------------------------------------------------------
def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _encode_array(array: np.ndarray) -> dict:
    return {"array": array.dtype.str, "shape": list(array.shape),
            "b64": _b64(_array_bytes(array))}


def encode(value, arguments: dict, depth: int = 0):
    """``value`` as JSON data; an argument object itself as {"argument": name}."""
    Tensor, Module = _minnet_types()
    if depth > MAX_DEPTH:
        raise Unrecordable("a result nested too deeply")
    if not isinstance(value, (type(None), bool, int, float, str, np.generic)):
        for name, argument in arguments.items():
            if value is argument:
                return {"argument": name}
    if isinstance(value, np.generic):
        return {"scalar": value.dtype.str, "b64": _b64(_array_bytes(np.asarray(value)))}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return {"int": str(value)} if type(value) is int else _unrecordable(value)
    if isinstance(value, float):
        return {"float": struct.pack("<d", value).hex()} if type(value) is float \
            else _unrecordable(value)
    if isinstance(value, np.ndarray):
        return _encode_array(value)
    if isinstance(value, Tensor) and type(value) is Tensor:
        return {"tensor": _encode_array(value.data), "requires_grad": bool(value.requires_grad),
                "grad": None if value.grad is None else _encode_array(value.grad.data)}
    if isinstance(value, (list, tuple)) and type(value) in (list, tuple):
        return {type(value).__name__: [encode(item, arguments, depth + 1) for item in value]}
    if type(value) is dict:
        return {"dict": [[encode(key, arguments, depth + 1), encode(item, arguments, depth + 1)]
                         for key, item in value.items()]}
    return _unrecordable(value)


def _unrecordable(value):
    raise Unrecordable(f"a result of type {type(value).__module__}.{type(value).__qualname__}")


def _decode_array(data: dict) -> np.ndarray:
    raw = base64.b64decode(data["b64"])
    return np.frombuffer(raw, dtype=np.dtype(data["array"])).reshape(data["shape"]).copy()


def decode(data, arguments: dict):
    from ..tensor import Tensor

    if data is None or isinstance(data, (bool, str)):
        return data
    if "argument" in data:
        return arguments[data["argument"]]
    if "int" in data:
        return int(data["int"])
    if "float" in data:
        return struct.unpack("<d", bytes.fromhex(data["float"]))[0]
    if "scalar" in data:
        return np.frombuffer(base64.b64decode(data["b64"]), dtype=np.dtype(data["scalar"]))[0]
    if "array" in data:
        return _decode_array(data)
    if "tensor" in data:
        tensor = Tensor(_decode_array(data["tensor"]), requires_grad=data["requires_grad"])
        if data["grad"] is not None:
            tensor.grad = Tensor(_decode_array(data["grad"]))
        return tensor
    if "list" in data:
        return [decode(item, arguments) for item in data["list"]]
    if "tuple" in data:
        return tuple(decode(item, arguments) for item in data["tuple"])
    if "dict" in data:
        return {_hashable(decode(key, arguments)): decode(item, arguments)
                for key, item in data["dict"]}
    raise ValueError(f"unknown recorded value {sorted(data)}")


def _hashable(key):
    return key


# --------------------------------------------------------------------------
# arguments changed in place, global random state
# --------------------------------------------------------------------------
def _state(value):
    """What an argument holds (data), to put back into it at replay."""
    Tensor, Module = _minnet_types()
    if isinstance(value, np.ndarray):
        return _encode_array(value)
    if isinstance(value, Tensor):
        return {"tensor": _encode_array(value.data), "requires_grad": bool(value.requires_grad),
                "grad": None if value.grad is None else _encode_array(value.grad.data)}
    if isinstance(value, Module):
        return {"module": [[name, _encode_array(t.data)] for name, t in value.state_dict().items()],
                "grads": [[name, None if p.grad is None else _encode_array(p.grad.data)]
                          for name, p in value.named_parameters()],
                "training": [module.training for _, module in value.named_modules()]}
    if isinstance(value, np.random.Generator):
        return {"generator": json.loads(json.dumps(value.bit_generator.state))}
    if type(value) is list:
        return {"list_items": [_state(item) if _restorable(item) else encode(item, {})
                               for item in value],
                "restorable": [_restorable(item) for item in value]}
    if type(value) is dict:
        return {"dict_items": [[encode(key, {}), _state(item) if _restorable(item)
                                else encode(item, {}), _restorable(item)]
                               for key, item in value.items()]}
    raise Unrecordable(f"an argument of type {type(value).__name__} changed in place")


def _restorable(value) -> bool:
    Tensor, Module = _minnet_types()
    return isinstance(value, (np.ndarray, Tensor, Module, np.random.Generator)) or \
        type(value) in (list, dict)


def _restore(target, state) -> None:
    """Put a recorded state back into the argument ``target`` (in place)."""
    from ..tensor import Tensor

    if "array" in state:
        target[...] = _decode_array(state)
    elif "tensor" in state:
        target.data[...] = _decode_array(state["tensor"])
        target.grad = None if state["grad"] is None else Tensor(_decode_array(state["grad"]))
    elif "module" in state:
        target.load_state_dict({name: _decode_array(array) for name, array in state["module"]})
        parameters = dict(target.named_parameters())
        for name, grad in state["grads"]:
            parameters[name].grad = None if grad is None else Tensor(_decode_array(grad))
        for (_, module), training in zip(target.named_modules(), state["training"]):
            module.training = training
    elif "generator" in state:
        target.bit_generator.state = state["generator"]
    elif "list_items" in state:
        items = []
        for index, (item, restorable) in enumerate(zip(state["list_items"], state["restorable"])):
            if restorable and index < len(target):
                _restore(target[index], item)
                items.append(target[index])
            else:
                items.append(decode(item, {}))
        target[:] = items
    elif "dict_items" in state:
        old = dict(target)
        target.clear()
        for key, item, restorable in state["dict_items"]:
            key = decode(key, {})
            if restorable and key in old:
                _restore(old[key], item)
                target[key] = old[key]
            else:
                target[key] = decode(item, {})


def _arguments(function, args: tuple, kwargs: dict) -> dict:
    named = {str(index): value for index, value in enumerate(args)}
    named.update(kwargs)
    return named


def _global_random_states() -> dict:
    from .. import random as minnet_random
    state = {"numpy": np.random.get_state(legacy=False)}
    try:
        state["minnet"] = minnet_random.default_generator().bit_generator.state
    except Exception:  # noqa: BLE001 (an older minnet.random without default_generator)
        pass
    return json.loads(json.dumps(state, default=_json_default))


def _json_default(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(type(value).__name__)


def _set_global_random_states(states: dict) -> None:
    from .. import random as minnet_random
    if "numpy" in states:
        state = dict(states["numpy"])
        state["state"] = dict(state["state"])
        np.random.set_state(state)
    if "minnet" in states:
        minnet_random.default_generator().bit_generator.state = states["minnet"]


# --------------------------------------------------------------------------
# recording
# --------------------------------------------------------------------------
def recording_folder():
    folder = os.environ.get(RECORD_ENV)
    return Path(folder) if folder else None


def record_module(module: types.ModuleType, lab: str, stem: str, source_text: str,
                  folder) -> None:
    """Wrap the top-level functions of the reference ``module`` so their calls are recorded."""
    solutions = set(solution_names(source_text))
    target = Path(folder) / lab / stem
    target.mkdir(parents=True, exist_ok=True)
    for name, value in list(vars(module).items()):
        if isinstance(value, types.FunctionType) and value.__module__ == module.__name__:
            setattr(module, name, _recording(value, name, name in solutions, target))


def _recording(function, name: str, is_solution: bool, target: Path):
    @functools.wraps(function)
    def recorded(*args, **kwargs):
        arguments = _arguments(function, args, kwargs)
        try:
            key, before = call_key(args, kwargs), {n: digest(v) for n, v in arguments.items()}
        except Unrecordable as why:
            key, before, reason = None, {}, str(why)
        randoms = _global_random_states()
        cell = [False]
        _stack.append(cell)
        try:
            result = function(*args, **kwargs)
        except Exception as error:  # noqa: BLE001 (recorded, then raised again)
            _stack.pop()
            if (is_solution or cell[0]) and key is not None and \
                    type(error).__module__ == "builtins":
                _write(target, name, key, {"raises": type(error).__name__,
                                           "message": str(error)})
            raise
        _stack.pop()
        if not (is_solution or cell[0]):
            return result
        for outer in _stack:
            outer[0] = True
        if key is None:
            _write(target, name, "unkeyed-" + hashlib.sha256(reason.encode()).hexdigest()[:12],
                   {"unrecordable": f"its arguments: {reason}"})
            return result
        try:
            entry = {"result": encode(result, arguments)}
            changed = {n: _state(v) for n, v in arguments.items()
                       if before.get(n) != _safe_digest(v)}
            if changed:
                entry["changed"] = changed
            after = _global_random_states()
            if after != randoms:
                entry["random_state"] = after
        except Unrecordable as why:
            entry = {"unrecordable": str(why)}
        _write(target, name, key, entry)
        return result

    return recorded


def _safe_digest(value):
    try:
        return digest(value)
    except Unrecordable:
        return None


def _write(target: Path, name: str, key: str, entry: dict) -> None:
    path = target / f"{name}.{key}.json"
    if path.exists():
        return
    temporary = path.with_name(f".{path.name}.{os.getpid()}")
    temporary.write_text(json.dumps({"name": name, "key": key, **entry}), encoding="utf-8")
    os.replace(temporary, path)


def collect(folder, lab: str, sources: dict) -> tuple:
    """``(calls file content, unrecordable)`` for one lab from the recording ``folder``.

    ``sources``: {stem: (source text, released text)}. ``unrecordable`` lists
    ``(stem, function, why)`` for the calls whose result could not be stored.
    """
    files, unrecordable = {}, []
    for stem, (source_text, released_text) in sorted(sources.items()):
        calls: dict = {}
        for path in sorted((Path(folder) / lab / stem).glob("*.json")):
            entry = json.loads(path.read_text(encoding="utf-8"))
            name, key = entry.pop("name"), entry.pop("key")
            if "unrecordable" in entry:
                unrecordable.append((stem, name, entry["unrecordable"]))
            calls.setdefault(name, {})[key] = entry
        files[stem] = {"released": released_text, "solutions": solution_names(source_text),
                       "calls": calls}
    content = {"about": "Reference results recorded by `minnet labs release --to` for the "
                        "public tests (minnet/grading/recorded.py); no solution code.",
               "files": files}
    return content, sorted(set(unrecordable))


# --------------------------------------------------------------------------
# replaying
# --------------------------------------------------------------------------
_calls_cache: dict = {}


def calls_file(lab_folder) -> Path:
    return Path(lab_folder) / CALLS_FILE


def recorded_file(lab_folder, stem: str):
    """The recorded entry of ``stem`` in the lab's calls file, or None."""
    path = calls_file(lab_folder)
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
    solutions = set(recorded["solutions"])
    for name, value in list(vars(module).items()):
        if isinstance(value, types.FunctionType) and value.__module__ == module.__name__:
            calls = recorded["calls"].get(name, {})
            if name in solutions or calls:
                setattr(module, name, _replaying(value, name, name in solutions, calls,
                                                 f"{lab}/{stem}.py"))
        elif name in solutions:  # a class with solution methods: not replayable
            setattr(module, name, _missing_class(name, f"{lab}/{stem}.py"))


def _not_recorded(what: str, why: str) -> LabFailure:
    return LabFailure(
        f"the reference result of {what} {why}. This check needs the reference "
        "solution: it runs only with the instructor's grader (`minnet grade`, or a full "
        "course repository with labs/source/). Your code is not at fault for this message; "
        "the other checks still grade it.")


def _missing_class(name: str, where: str):
    def unavailable(*args, **kwargs):
        raise _not_recorded(f"{where}: {name}", "is not in this student repository")
    return unavailable


def _replaying(function, name: str, is_solution: bool, calls: dict, where: str):
    @functools.wraps(function)
    def replayed(*args, **kwargs):
        try:
            key = call_key(args, kwargs)
        except Unrecordable as why:
            key, reason = None, str(why)
        entry = calls.get(key) if key is not None else None
        if entry is None or "unrecordable" in entry:
            if not is_solution:       # a helper: the reference's own code, released as is
                return function(*args, **kwargs)
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
        arguments = _arguments(function, args, kwargs)
        for argument, state in entry.get("changed", {}).items():
            _restore(arguments[argument], state)
        if "random_state" in entry:
            _set_global_random_states(entry["random_state"])
        return decode(entry["result"], arguments)

    return replayed
