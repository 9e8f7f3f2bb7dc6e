"""Values that cross the sandbox boundary, as data only.

The grader and the student's code (``sandbox.py``) talk over a socket. What crosses is
data (numbers, strings, arrays of numbers, containers of them) and minnet's own objects as
class name and state; nothing is unpickled and no code travels, so the student's side
cannot hand the grader anything that runs when read. Anything else stays where it is and
crosses as a ``Handle``. A frame: u32 header length, JSON header, u32 buffer count, then
each buffer as u64 length + bytes. Imports only the standard library and NumPy: the worker
loads it by path. More: docs/grading_internals.md.
"""
from __future__ import annotations

import json
import math
import struct

import numpy as np

ARRAY_KINDS = "biufc"          # bool, int, uint, float, complex: arrays of plain numbers
MAX_DEPTH = 64                 # nesting of lists/tuples/dicts
MAX_FRAME_BYTES = 1 << 31      # 2 GiB: more is a runaway, not a lab answer


class WireError(ValueError):
    """A value that cannot cross (an object array, a nesting too deep, a damaged frame)."""


class Handle:
    """An object left in the other process: its number there, its type name and a short repr.
    ``grader``: the object is the grader's (a model a test's function made for the student's
    code, which may only hand it back), not the student's."""

    __slots__ = ("number", "type_name", "text", "grader")

    def __init__(self, number: int, type_name: str, text: str, grader: bool = False):
        self.number, self.type_name, self.text = number, type_name, text
        self.grader = grader

    def __repr__(self) -> str:
        where = "the grader's" if self.grader else "the student's"
        return f"<{self.type_name} in {where} process: {self.text}>"


class Record:
    """Read-only fields that cross as data: what the student's code may read of an object of
    the grader's (a gradcheck report: ``record.inputs[0].kink``) without the object itself."""

    def __init__(self, **fields):
        self.__dict__.update(fields)

    @classmethod
    def of(cls, value, depth: int = 4):
        """``value``'s public attributes that are data (numbers, strings, arrays, containers
        of those, and objects as Records in turn, ``depth`` levels down)."""
        if depth < 0:
            return None
        if value is None or isinstance(value, (bool, int, float, str, np.ndarray, np.generic)):
            return value
        if isinstance(value, (list, tuple)):
            return type(value)(cls.of(item, depth - 1) for item in value)
        if isinstance(value, dict):
            return {key: cls.of(item, depth - 1) for key, item in value.items()}
        fields = {}
        for name in dir(value):
            if name.startswith("_"):
                continue
            try:
                item = getattr(value, name)
            except Exception:  # noqa: BLE001 -- a property that cannot be read here
                continue
            if not callable(item):
                fields[name] = cls.of(item, depth - 1)
        return cls(**fields)

    def __repr__(self) -> str:
        return "Record(" + ", ".join(f"{k}={v!r}" for k, v in vars(self).items()) + ")"


# --------------------------------------------------------------------------
# the codec: values <-> (JSON-able tree, byte buffers)
# --------------------------------------------------------------------------
OBJECT_PREFIX = "minnet."      # objects of minnet's own classes cross as their state
# minnet modules whose classes and functions never cross: the grader, and what touches
# files or the command line (a state naming one of their functions could make it run)
NOT_CROSSING = ("minnet.grading", "minnet.cli", "minnet.fileio", "minnet.runlog",
                "minnet.serialization", "minnet.train", "minnet.__main__", "minnet._submodules")
# but the tests' planted modules and losses (a hand-written softmax that overflows) do: plain
# minnet code a test hands the student's function, the same in both processes
PLANTED = "minnet.grading.planted"
SKIPPED_STATE = ("_path_cache",)  # caches rebuilt on demand
# what a Tensor's graph is made of: whatever a message says, it arrives without one
# (and what its op saved for backward: the inputs it would check for in-place changes, which
# would otherwise carry the whole forward graph's tensors along with every result)
GRAPH_STATE = {"_backward": None, "_parents": (), "_saved_versions": ()}
# functions of the grader's that a student's code may call back (run by the grader)
CALLABLE_TYPES = ("function", "builtin_function_or_method", "method", "ufunc", "partial")
# the attributes of crossing objects that hold a function by design (a Setup's loss and
# training step may be the student's own). Anywhere else an object arrives without code of
# the other side's: a model whose ``forward`` were the student's function would run their
# code at every step of a training the grader believes it runs itself
FUNCTION_SLOTS = {"minnet.debug.setup:Setup": ("loss_fn", "train_step", "evaluate")}


class Codec:
    """Turns values into data and back, keeping the identity of shared objects.

    Minnet objects are rebuilt with ``cls.__new__`` and their state, running no code of
    theirs. Each object is numbered when first written (``$id``) and referred to by number
    after (``$r``), so a model's parameters and its optimizer's stay the same objects.
    ``known``: {number: object} on this side; decoding a known number updates that object in
    place (how the grader sees what a student's function did to its model). ``keep``: what to
    do with non-data (the worker keeps it, sends a Handle); ``handle``: how to turn a handle
    node back into something (a Handle in the grader, the object in the worker)."""

    def __init__(self, keep=None, handle=None, function=None, known=None, graph=None,
                 callback=None, opaque: bool = False):
        self.keep, self.handle, self.function = keep, handle, function
        self.opaque = opaque  # encode: every object that is not plain data is kept (a Handle)
        self.callback = callback  # encode: a function of this side -> its number
        self.graph = graph  # encode: Tensor -> graph node; decode: (Tensor, node) -> Tensor
        self.numbers: dict = {}      # id(object) -> its number, once written
        self.objects: dict = dict(known or {})  # number -> object
        # objects written again keep the number they arrived with (see reply_codec)
        self.preassigned = {id(value): number for number, value in self.objects.items()}
        self.counter = max(self.objects, default=0)
        self.alive: list = list(self.objects.values())  # ids stay unique while numbered

    # -- encode ---------------------------------------------------------------------------
    def encode(self, value, buffers: list, depth: int = 0):
        if depth > MAX_DEPTH:
            raise WireError(f"nested more than {MAX_DEPTH} levels deep")
        kind = type(value)  # the common cases first, by exact type (a training step sends
        if kind is str or kind is int or kind is bool or value is None:  # ~200 values)
            return value
        if kind is float:
            return value if math.isfinite(value) else {"$f": repr(value)}
        if kind is np.ndarray and id(value) not in self.numbers and _plain_numbers(value.dtype):
            return self._encode_array(value, buffers)
        if isinstance(value, np.generic) and _plain_numbers(value.dtype):  # before float
            return {"$s": self.encode(np.asarray(value), buffers, depth + 1)}
        if value is None or isinstance(value, (bool, str, int)):
            return value
        if isinstance(value, float):
            return value if math.isfinite(value) else {"$f": repr(value)}
        if isinstance(value, Handle):
            return {"$k": value.number} if value.grader else {"$h": value.number}
        if isinstance(value, Record):
            return {"$rec": self.encode(dict(vars(value)), buffers, depth + 1)}
        number = self.numbers.get(id(value))
        if number is not None:
            return {"$r": number}
        if type(value) in (list, tuple, set, frozenset):
            key = {list: "$l", tuple: "$t", set: "$set", frozenset: "$set"}[type(value)]
            node = {key: [self.encode(item, buffers, depth + 1) for item in value]}
            if type(value) is list:
                node["$id"] = self._number(value)
            return node
        if isinstance(value, dict) and type(value).__module__ in ("builtins", "collections"):
            number = self._number(value)
            node = {"$d": [[self.encode(k, buffers, depth + 1),
                            self.encode(v, buffers, depth + 1)] for k, v in value.items()],
                    "$id": number}
            if type(value).__name__ == "defaultdict" and value.default_factory is not None:
                node["default"] = _path_of(value.default_factory)
            return node
        if isinstance(value, np.ndarray) and _plain_numbers(value.dtype):
            return self._encode_array(value, buffers)
        if isinstance(value, np.random.Generator):
            state = value.bit_generator.state
            return {"$G": state["bit_generator"], "state": self.encode(state, buffers, depth + 1),
                    "$id": self._number(value)}
        if isinstance(value, type) and _crosses(value):
            return {"$class": _path_of(value)}
        if _is_function(value):
            if _crosses_function(value):
                return {"$mf": _path_of(value)}
            name = self.function(value) if self.function is not None else None
            if name is not None:
                return {"$fn": name}
        if self.callback is not None and type(value).__name__ in CALLABLE_TYPES:
            return {"$cb": self.callback(value),
                    "name": str(getattr(value, "__name__", type(value).__name__))}
        if _crosses(type(value)) and not (self.opaque and self.keep is not None):
            return self._encode_object(value, buffers, depth)
        if self.keep is None:
            raise WireError(f"a {type(value).__name__} is not data (numbers, strings, NumPy "
                            "arrays of numbers, containers of those, minnet's own objects)")
        kept = self.keep(value)
        return {"$k" if kept.grader else "$h": kept.number, "type": kept.type_name,
                "text": kept.text}

    def _encode_array(self, value: np.ndarray, buffers: list) -> dict:
        buffers.append(value.tobytes())  # C order, whatever the array's layout
        return {"$a": len(buffers) - 1, "dtype": value.dtype.str,
                "shape": list(value.shape), "$id": self._number(value)}

    def _number(self, value) -> int:
        number = self.preassigned.get(id(value))
        if number is None:
            self.counter += 1
            number = self.counter
        self.numbers[id(value)] = number
        self.objects[number] = value
        self.alive.append(value)
        return number

    def reply_codec(self, **hooks) -> "Codec":
        """A codec for the answer to what this one decoded: objects that came in are written
        back under the numbers they came with, so the other side updates its own."""
        return Codec(known=self.objects, **hooks)

    def _encode_object(self, value, buffers: list, depth: int):
        node = {"$o": _path_of(type(value)), "$id": self._number(value)}
        state = {}
        for name in _state_names(value):
            attribute = getattr(value, name, _UNSET)
            if attribute is _UNSET or name in SKIPPED_STATE or name in GRAPH_STATE:
                continue  # the graph stays behind: a Tensor arrives without one (see decode)
            if name.endswith("_hooks"):
                # hooks are functions of the side that registered them (the debugger's
                # Monitor, say): they stay there and are kept when the object comes back
                attribute = type(attribute)() if isinstance(attribute, dict) else None
            state[name] = self.encode(attribute, buffers, depth + 1)
        node["state"] = state
        if self.graph is not None and getattr(value, "_backward", None) is not None:
            node["$graph"] = self.graph(value)  # its backward stays over there, callable
        return node

    # -- decode ---------------------------------------------------------------------------
    def decode(self, node, buffers: list, depth: int = 0):
        if depth > MAX_DEPTH:
            raise WireError(f"nested more than {MAX_DEPTH} levels deep")
        kind = type(node)  # what JSON gives: exactly these types, nothing derived
        if node is None or kind is str or kind is int or kind is float or kind is bool:
            return node
        if kind is not dict or not node:
            raise WireError(f"not a value: {str(node)[:80]}")
        # the markers a training step's objects are made of first (a node carries one)
        if "$o" in node:
            return self._decode_object(node, buffers, depth)
        if "$a" in node:
            return self._decode_array(node, buffers)
        if "$d" in node:
            return self._decode_dict(node, buffers, depth)
        if "$r" in node:
            try:
                return self.objects[int(node["$r"])]
            except (KeyError, ValueError, TypeError):
                raise WireError("a reference to an object never sent") from None
        if "$l" in node:
            items = [self.decode(item, buffers, depth + 1) for item in node["$l"]]
            known = self.objects.get(node.get("$id"))
            if type(known) is list:
                known[:] = items  # changed in place over there: the same here
                return known
            self.objects[node.get("$id")] = items
            return items
        for key, kind in (("$t", tuple), ("$set", set)):
            if key in node:
                return kind(self.decode(item, buffers, depth + 1) for item in node[key])
        if "$f" in node:
            if node["$f"] not in ("nan", "inf", "-inf"):
                raise WireError(f"bad float {node['$f']!r}")
            return float(node["$f"])
        if "$s" in node:
            return self.decode(node["$s"], buffers, depth + 1)[()]
        if "$G" in node:
            return self._decode_generator(node, buffers, depth)
        if "$class" in node:
            return _resolve(node["$class"], want_class=True)
        if "$mf" in node:
            return _resolve(node["$mf"], want_class=False)
        if "$rec" in node:
            fields = self.decode(node["$rec"], buffers, depth + 1)
            if not isinstance(fields, dict) or not all(isinstance(k, str) for k in fields):
                raise WireError("a record whose fields are not named")
            if _callable_in(fields):
                # a record is read-only data (Record.of keeps no callable): a field holding a
                # minnet function would run when the other side calls record.numpy()
                raise WireError("a record whose fields hold a function or a class")
            return Record(**{k: v for k, v in fields.items() if not k.startswith("_")})
        if "$h" in node or "$k" in node or "$fn" in node or "$cb" in node:
            if self.handle is None:
                raise WireError("a handle where none is expected")
            return self.handle(node)
        raise WireError(f"not a value: {str(node)[:80]}")

    def _decode_dict(self, node, buffers: list, depth: int):
        result = {}
        if node.get("default") is not None:
            import collections

            result = collections.defaultdict(_resolve(node["default"], want_class=True))
        known = self.objects.get(node.get("$id"))
        if isinstance(known, dict):
            known.clear()  # changed in place over there: the same here
            result = known
        self.objects[node.get("$id")] = result
        for pair in node["$d"]:
            key = self.decode(pair[0], buffers, depth + 1)
            try:
                result[key] = self.decode(pair[1], buffers, depth + 1)
            except TypeError:
                raise WireError("a dict key that is not hashable") from None
        return result

    def _decode_array(self, node, buffers: list):
        array = _decode_array(node, buffers)  # a view of the frame's bytes
        number = node.get("$id")
        known = self.objects.get(number) if number is not None else None
        if isinstance(known, np.ndarray):
            if known.shape == array.shape and known.flags.writeable and \
                    not _same_values(known, array):
                known[...] = array  # changed in place over there: the same here
            return known
        array = array.copy()  # an array of its own, writable, not holding the frame
        if number is not None:
            self.objects[number] = array
        return array

    def _decode_generator(self, node, buffers: list, depth: int):
        name = str(node["$G"])
        if name not in ("PCG64", "PCG64DXSM", "MT19937", "Philox", "SFC64"):
            raise WireError(f"unknown bit generator {name!r}")
        state = self.decode(node["state"], buffers, depth + 1)
        generator = self.objects.get(node.get("$id"))
        if not isinstance(generator, np.random.Generator):
            generator = np.random.Generator(getattr(np.random, name)())
            self.objects[node.get("$id")] = generator
        generator.bit_generator.state = state
        return generator

    def _decode_object(self, node, buffers: list, depth: int):
        cls = _resolve(node["$o"], want_class=True)
        number = node.get("$id")
        known = self.objects.get(number)
        if known is not None and type(known) is not cls and _is_module(known):
            raise WireError(f"a {type(known).__name__} came back as a {cls.__name__}: a function "
                            "may change a model's values, not its layers")
        target = known if type(known) is cls else cls.__new__(cls)
        layers_before, saved = None, None
        if target is known and _is_module(known):
            # what to put back if its layers changed: its attributes and their dicts
            layers_before = _layers(known)
            saved = {name: (value, dict(value) if isinstance(value, dict) else None)
                     for name, value in vars(known).items()}
        self.objects[number] = target
        state = node.get("state") or {}
        if type(state) is not dict:
            raise WireError(f"a {cls.__name__} whose state is not named")
        if layers_before is None:
            self._set_state(target, known, cls, state, buffers, depth)
        else:
            try:
                self._set_state(target, known, cls, state, buffers, depth)
                if _layers(target) != layers_before:
                    raise WireError(f"the {cls.__name__}'s layers changed over there (a layer "
                                    "replaced, added or removed, or a parameter's shape "
                                    "changed): a function may change a model's values, not "
                                    "its layers")
            except Exception:
                _put_back(target, saved)  # the grader's model as it was, not half changed
                raise
        if "$graph" in node and self.graph is not None:
            return self.graph(target, node["$graph"])
        return target

    def _set_state(self, target, known, cls, state: dict, buffers: list, depth: int) -> None:
        """Write the decoded ``state`` (name -> value) into ``target``."""
        any_name = hasattr(target, "__dict__")  # else only its slots
        slots, function_slots = _slot_set(cls), FUNCTION_SLOTS.get(_path_of(cls), ())
        for name, value in state.items():
            if name.startswith("__") or (name not in slots and not any_name):
                raise WireError(f"{cls.__name__} has no attribute {name!r} to set")
            if _shadows_code(cls, name):
                raise WireError(f"a {cls.__name__} whose {name!r} is its own, not the class's "
                                f"{cls.__name__}.{name}: objects cross as their data only")
            if target is known and (name in GRAPH_STATE or name.endswith("_hooks")):
                continue  # this side's own hooks and graph stay (what came is not even read)
            decoded = self.decode(value, buffers, depth + 1)
            if name not in function_slots and _holds_code(decoded):
                raise WireError(f"a {cls.__name__} whose {name!r} holds a function: objects "
                                "cross as their data only (keep your functions in your file "
                                "and call them there)")
            if name.endswith("_hooks"):
                decoded = type(decoded)() if isinstance(decoded, dict) else None
            elif name in GRAPH_STATE:
                decoded = GRAPH_STATE[name]  # a graph never arrives (see $graph)
            object.__setattr__(target, name, decoded)
        if target is not known:
            for name, empty in GRAPH_STATE.items():
                if name in slots:  # a Tensor's graph fields, never written: empty here
                    object.__setattr__(target, name, empty)
        if hasattr(target, "__dict__") and "_parameters" in vars(target) and \
                "_path_cache" not in vars(target):
            object.__setattr__(target, "_path_cache", {})


def _put_back(module, saved: dict) -> None:
    """Restore a module's attributes (and the items of its dicts) saved before a decode."""
    vars(module).clear()
    for name, (value, items) in saved.items():
        if items is not None:
            value.clear()
            value.update(items)
        vars(module)[name] = value


def _is_module(value) -> bool:
    """An nn.Module, told by its state (the worker may run without minnet)."""
    state = getattr(value, "__dict__", None)
    return isinstance(state, dict) and "_modules" in state and "_parameters" in state


def _layers(module, depth: int = 0) -> tuple:
    """A Module's layer tree: every sub-layer's name and class, every parameter's name and
    shape. A mutating call's changes come back to the grader's model only where this stays
    the same (a layer swapped for another would make the grader's checks read numbers the
    student's code chose)."""
    if depth > MAX_DEPTH:
        raise WireError(f"a model nested more than {MAX_DEPTH} levels deep")
    state = vars(module)
    parameters = tuple((name, None if value is None else tuple(getattr(value, "shape", ())))
                       for name, value in dict(state.get("_parameters") or {}).items())
    children = tuple((name, type(child).__qualname__,
                      _layers(child, depth + 1) if _is_module(child) else None)
                     for name, child in dict(state.get("_modules") or {}).items())
    return type(module).__qualname__, parameters, children


_SLOTS: dict = {}  # class -> the names of its slots (and its bases')
_SLOT_SETS: dict = {}  # class -> the same as a set
_SHADOWS: dict = {}  # (class, attribute name) -> _shadows_code's answer
_UNSET = object()


def _slots_of(cls) -> list:
    slots = _SLOTS.get(cls)
    if slots is None:
        slots = []
        for klass in cls.__mro__:
            names = klass.__dict__.get("__slots__", ())
            slots += [names] if isinstance(names, str) else [name for name in names
                                                              if name != "__weakref__"]
        _SLOTS[cls], _SLOT_SETS[cls] = slots, frozenset(slots)
    return slots


def _slot_set(cls) -> frozenset:
    if cls not in _SLOT_SETS:
        _slots_of(cls)
    return _SLOT_SETS[cls]


def _state_names(value) -> list:
    """The attributes that make up an object's state: its slots and its __dict__."""
    slots = _slots_of(type(value))
    state = getattr(value, "__dict__", None)
    return slots + list(state) if state is not None else slots


def _shadows_code(cls, name: str) -> bool:
    """True when an instance attribute ``name`` would hide code of ``cls``: a method, a
    property, anything the class defines that runs when read (its slots excepted). Asked
    once per class and name: minnet's classes do not grow methods while grading."""
    answer = _SHADOWS.get((cls, name))
    if answer is None:
        import inspect

        defined = None if name in _slot_set(cls) else inspect.getattr_static(cls, name, None)
        answer = defined is not None and (callable(defined) or hasattr(defined, "__get__"))
        if len(_SHADOWS) < 10000:  # names come from the other side: a bounded memory
            _SHADOWS[(cls, name)] = answer
    return answer


def _holds_code(value, depth: int = 0) -> bool:
    """True when ``value`` is, or a list/tuple/dict/set in it holds, something callable that
    is not minnet's own (a function of the student's, a handle; minnet's objects and
    functions are checked where they are decoded)."""
    if depth > MAX_DEPTH:
        return True
    if type(value) in _PLAIN_TYPES:
        return False
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_holds_code(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return any(_holds_code(item, depth + 1) for pair in value.items() for item in pair)
    if isinstance(value, (Handle, Record)):
        return False  # not callable; a handle is only ever given back
    if isinstance(value, type) or not callable(value):
        return False
    return not (_crosses(type(value)) or _crosses_function(value))


_PLAIN_TYPES = frozenset((np.ndarray, int, float, bool, str, type(None)))


def _callable_in(value, depth: int = 0) -> bool:
    """True when ``value``, or anything in its lists, tuples, sets, dicts and Records, is
    callable (a function, a class, a handle's stand-in for one): what a Record never holds."""
    if depth > MAX_DEPTH:
        return True
    if type(value) in _PLAIN_TYPES:
        return False
    if isinstance(value, (list, tuple, set, frozenset)):
        return any(_callable_in(item, depth + 1) for item in value)
    if isinstance(value, dict):
        return any(_callable_in(item, depth + 1) for pair in value.items() for item in pair)
    if isinstance(value, Record):
        return _callable_in(vars(value), depth + 1)
    return callable(value) or isinstance(value, Handle)


def _path_of(thing) -> str:
    return f"{thing.__module__}:{thing.__qualname__}"


def _crosses(cls) -> bool:
    """Classes whose objects cross as state: minnet's own (the grader's never)."""
    module = getattr(cls, "__module__", "") or ""
    return (module == "minnet" or module.startswith(OBJECT_PREFIX)) and \
        (module == PLANTED or not module.startswith(NOT_CROSSING)) and \
        "<locals>" not in cls.__qualname__


def _is_function(value) -> bool:
    """A plain function (not a class, not a callable object such as a Module)."""
    return type(value).__name__ in ("function", "builtin_function_or_method",
                                    "RemoteFunction", "ufunc")


def _crosses_function(function) -> bool:
    module = getattr(function, "__module__", None) or ""
    qualname = getattr(function, "__qualname__", "") or ""
    return ((module == "minnet" or module.startswith(OBJECT_PREFIX))
            and (module == PLANTED or not module.startswith(NOT_CROSSING)) and "<" not in qualname)


_RESOLVED: dict = {}  # (path, want_class) -> what _resolve found there


def _resolve(path: str, want_class: bool):
    """minnet's class or function at 'module:qualname' (nothing outside minnet); looked up
    once per path (every Parameter of a model names the same class)."""
    key = (path, want_class) if type(path) is str else None
    thing = _RESOLVED.get(key)
    if thing is None:
        thing = _find(str(path), want_class)
        if key is not None:
            _RESOLVED[key] = thing
    return thing


def _find(path: str, want_class: bool):
    module_name, _, qualname = path.partition(":")
    allowed = (module_name in ("minnet", "builtins", "collections")
               or module_name.startswith(OBJECT_PREFIX))
    if not allowed or not qualname or (module_name.startswith(NOT_CROSSING)
                                        and module_name != PLANTED):
        raise WireError(f"{path!r} cannot cross (only minnet's own classes and functions)")
    import importlib

    try:
        thing = importlib.import_module(module_name)
        for part in qualname.split("."):
            thing = getattr(thing, part)
    except (ImportError, AttributeError):
        raise WireError(f"{path!r} cannot cross (there is no such thing)") from None
    if want_class != isinstance(thing, type):
        raise WireError(f"{path!r} is not a {'class' if want_class else 'function'}")
    if getattr(thing, "__module__", None) != module_name or \
            getattr(thing, "__qualname__", None) != qualname:
        # only what is defined there, by its own name: never a module it imported
        # ("minnet.tensor:np.ctypeslib.os.system")
        raise WireError(f"{path!r} cannot cross (not defined under that name)")
    if module_name in ("builtins", "collections") and thing not in (dict, list, set, int,
                                                                     float):
        raise WireError(f"{path!r} cannot cross")
    return thing


def encode(value, buffers: list, keep=None):
    """``Codec(keep=keep).encode(value, buffers)``: one value on its own."""
    return Codec(keep=keep).encode(value, buffers)


def decode(node, buffers: list, handle=None):
    """``Codec(handle=handle).decode(node, buffers)``: one value on its own."""
    return Codec(handle=handle).decode(node, buffers)


def _plain_numbers(dtype) -> bool:
    return dtype.kind in ARRAY_KINDS and not dtype.hasobject and dtype.fields is None


_DTYPES: dict = {}  # "<f4" -> np.dtype('float32'), for the dtypes that may cross


def _decode_array(node, buffers: list) -> np.ndarray:
    """The array a node describes, as a view of the frame's bytes (copy it to keep it)."""
    name = node["dtype"]
    dtype = _DTYPES.get(name) if type(name) is str else None
    if dtype is None:
        dtype = np.dtype(str(name))
        if not _plain_numbers(dtype):
            raise WireError(f"arrays of {dtype} cannot cross")
        _DTYPES[str(name)] = dtype
    shape = tuple(int(size) for size in node["shape"])
    if any(size < 0 for size in shape):
        raise WireError(f"bad shape {shape}")
    try:
        data = buffers[int(node["$a"])]
    except (IndexError, ValueError, TypeError):
        raise WireError("an array without its bytes") from None
    count = math.prod(shape)
    if len(data) != count * dtype.itemsize:
        raise WireError(f"array of shape {shape} and dtype {dtype} needs "
                        f"{count * dtype.itemsize} bytes, got {len(data)}")
    return np.frombuffer(data, dtype=dtype).reshape(shape)


def _same_values(known: np.ndarray, array: np.ndarray) -> bool:
    """Equal contents (NaNs equal): bytes compared where the dtypes agree."""
    if known.dtype == array.dtype and known.flags.c_contiguous:
        return known.tobytes() == array.tobytes()
    return np.array_equal(known, array, equal_nan=True)


# --------------------------------------------------------------------------
# frames on a socket
# --------------------------------------------------------------------------
def send(sock, header: dict, buffers: list = ()) -> None:
    """One frame: u64 length of the rest, u32 header length, the header as JSON, u32 number
    of buffers, each buffer's u64 length, then the buffers' bytes (one read on the other
    side instead of three per array)."""
    text = json.dumps(header, allow_nan=False).encode("utf-8")
    lengths = struct.pack(f"<I{len(text)}sI{len(buffers)}Q", len(text), text, len(buffers),
                          *(len(buffer) for buffer in buffers))
    size = len(lengths) + sum(len(buffer) for buffer in buffers)
    sock.sendall(b"".join([struct.pack("<Q", size), lengths, *buffers]))


def _exactly(sock, size: int) -> bytes:
    if size > MAX_FRAME_BYTES:
        raise WireError(f"a frame of {size} bytes")
    data = bytearray(size)
    view, received = memoryview(data), 0
    while received < size:
        count = sock.recv_into(view[received:], size - received)
        if not count:
            raise EOFError("the other process closed the connection")
        received += count
    return data


def recv(sock) -> tuple:
    """(header dict, [buffers]) of the next frame; EOFError when the other side is gone."""
    (size,) = struct.unpack("<Q", bytes(_exactly(sock, 8)))
    frame = memoryview(_exactly(sock, size))
    try:
        (length,) = struct.unpack_from("<I", frame, 0)
        header = json.loads(bytes(frame[4:4 + length]).decode("utf-8"))
        offset = 4 + length
        (count,) = struct.unpack_from("<I", frame, offset)
        sizes = struct.unpack_from(f"<{count}Q", frame, offset + 4)
    except (struct.error, UnicodeDecodeError, ValueError) as error:
        raise WireError(f"a damaged frame: {error}") from None
    if not isinstance(header, dict):
        raise WireError("a frame whose header is not an object")
    offset += 4 + 8 * count
    buffers = []
    for length in sizes:
        if offset + length > size:
            raise WireError("a damaged frame: buffers longer than the frame")
        buffers.append(frame[offset:offset + length])
        offset += length
    return header, buffers
