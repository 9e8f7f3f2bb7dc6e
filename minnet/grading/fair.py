"""Fair play: a student's file may not change the code that grades it.

Student code runs in the grading process, so a lab file could, when it is
imported, replace ``Credit.part`` by a version that swallows failures, swap the
``__code__`` of ``expect_close`` for a no-op, raise a debugger threshold, or
replace ``numpy.allclose``. This module remembers what grading relies on before
any student code runs and names whatever changed afterwards::

    watch()                          # remember what is loaded now (again: only what is new)
    watch_namespace("test_loss", vars(test_module))
    changed()                        # ['minnet.grading.credit.Credit.part', ...]
    expect_unchanged("layers.py", "at import")   # LabFailure naming the first changes

What is remembered, by identity (and ``__code__`` for Python functions):

* every function, class, module and descriptor in the modules of minnet (the
  grading package included), NumPy, pytest and pluggy, and in builtins, and
  every member of the classes they define; minnet's UPPER_CASE constants;
* every entry of minnet.debug's tables (checks registry, codes, thresholds,
  ...) and the fields of what they hold: the verdicts of every repair lab
  depend on them;
* the names in a graded test module (watch_namespace), and the reference
  solutions loaded through ``reference()``.

Only what is *replaced or removed* counts: new attributes (NumPy's lazy
submodules, a student's own subclass) and changed values (random state,
print options, matplotlib settings) are not looked at.

Everything the check itself calls is captured when this module is imported
(before any student code runs), so replacing ``builtins.id`` or
``fair.changed`` does not switch the check off. That is a speed bump, not a
wall: see the limits in docs/instructors.md#fair-play.
"""
from __future__ import annotations

import builtins
import sys
import types

from .expect import LabFailure

# the packages whose functions and classes grading relies on (a name equal to one of these or
# below it: "numpy" and "numpy.linalg", never "minnet_labs")
WATCHED_PACKAGES = ("minnet", "numpy", "pytest", "_pytest", "pluggy", "builtins")
# reference solutions loaded by reference() (minnet_labs.reference.<lab>.<file>)
REFERENCE_PREFIX = "minnet_labs.reference."
# minnet.debug's tables: a threshold raised or a check removed changes every verdict
TABLE_PACKAGE = "minnet.debug"
# tables that legitimately change while a test runs (bookkeeping, not rules)
VOLATILE_TABLES = frozenset({"minnet.debug.anomaly._created_at"})
SHOWN = 5  # changes named in the feedback
MARK = "grading code may not be changed"  # in every fair-play message

_MISSING = object()
_DESCRIPTORS = (property, classmethod, staticmethod, types.ModuleType, type)


def _watched_module(name: str) -> bool:
    return (any(name == package or name.startswith(package + ".")
                for package in WATCHED_PACKAGES)
            or name.startswith(REFERENCE_PREFIX))


def _codes(value) -> tuple:
    """The code objects behind a function-like value: a function's ``__code__``, a method's or
    classmethod's function, a property's getter/setter, a decorator's ``__wrapped__``."""
    codes = []
    for part in (value, getattr(value, "__func__", None), getattr(value, "__wrapped__", None),
                 getattr(value, "fget", None), getattr(value, "fset", None)):
        code = getattr(part, "__code__", None) if part is not None else None
        if isinstance(code, types.CodeType):
            codes.append((part, code))
    return tuple(codes)


def _constant(key: str, value) -> bool:
    """A public UPPER_CASE name bound to a number, string or tuple: a constant of minnet's by
    convention (its state, which changes while a test runs, is lower case or private)."""
    return (key.isupper() and not key.startswith("_")
            and isinstance(value, (int, float, str, tuple, frozenset)))


def _relied_on(value) -> bool:
    """A function, class, module or descriptor: what a patch would replace."""
    return callable(value) or isinstance(value, _DESCRIPTORS)


def _reader(mapping):
    """``read(key, default)``: the entry of ``mapping`` now (a dict, a class's mappingproxy, a
    list or a set), ``default`` once it is gone."""
    if isinstance(mapping, (set, frozenset)):
        return lambda key, default, table=mapping: key if key in table else default
    if isinstance(mapping, list):
        return (lambda key, default, table=mapping, size=len:
                table[key] if 0 <= key < size(table) else default)
    return mapping.get


class GradingTampered(LabFailure):
    """Student code changed something grading relies on: the test scores 0 (the message says
    what was replaced and by which file, when known)."""


class _Watch:
    """The remembered state: one (label, mapping, key, value, codes) row per watched name."""

    def __init__(self):
        self.rows: list = []
        self.modules: dict = {}  # module name -> module object already watched
        # the same rows as parallel lists, for a fast check (a comprehension, ~1 ms for 16k):
        self.readers: list = []  # reader(key, default) -> the value now (a dict's .get)
        self.keys: list = []
        self.values: list = []
        self.code_rows: list = []  # (function, its code object, row index)

    # -- remembering ----------------------------------------------------------------------
    def add(self, label: str, mapping, key, value, home: bool = True) -> None:
        """One row; ``home``: the label is where ``value`` is defined (not a re-export), the
        name preferred in feedback when one object is reachable under several names."""
        codes = _codes(value)
        index = len(self.rows)
        self.rows.append((label, mapping, key, value, codes, home))
        self.readers.append(_reader(mapping))
        self.keys.append(key)
        self.values.append(value)
        self.code_rows += [(function, code, index) for function, code in codes]

    def add_module(self, name: str, module) -> None:
        self.modules[name] = module
        names = vars(module)
        ours = name == "minnet" or name.startswith(("minnet.", REFERENCE_PREFIX))
        for key, value in list(names.items()):
            if ours and _constant(key, value):  # e.g. WORST_SHOWN, DEFAULT_TIMEOUT
                self.add(f"{name}.{key}", names, key, value)
                continue
            # another package's private module state (pytest swaps _pytest.assertion.util.
            # _reprcompare in and out for every test) is its own business, not ours
            if not _relied_on(value) or (key.startswith("_") and not ours):
                continue
            self.add(f"{name}.{key}", names, key, value,
                     getattr(value, "__module__", None) == name)
            if isinstance(value, type) and getattr(value, "__module__", None) == name:
                members = vars(value)
                for member, item in list(members.items()):
                    if _relied_on(item) and member not in ("__doc__", "__weakref__", "__dict__"):
                        self.add(f"{name}.{key}.{member}", members, member, item)
        if name == TABLE_PACKAGE or name.startswith(TABLE_PACKAGE + "."):
            self.add_tables(name, names)

    def add_tables(self, name: str, names: dict) -> None:
        for key, table in list(names.items()):
            where = f"{name}.{key}"
            if (key.startswith("__") or where in VOLATILE_TABLES
                    or not isinstance(table, (dict, list, set, frozenset))):
                continue
            if isinstance(table, dict):
                entries = list(table.items())
            elif isinstance(table, list):
                entries = list(enumerate(table))
            else:
                entries = [(item, item) for item in table]
            for index, item in entries:
                self.add(f"{where}[{index!r}]", table, index, item)
                if hasattr(item, "__dict__") and not isinstance(
                        item, (type, types.ModuleType, types.FunctionType)):
                    fields = vars(item)
                    for field, value in list(fields.items()):
                        self.add(f"{where}[{index!r}].{field}", fields, field, value)

    def add_namespace(self, label: str, names: dict) -> None:
        """Every name of ``names`` (a test module's globals), whatever its value."""
        for key, value in list(names.items()):
            self.add(f"{label}.{key}", names, key, value)


def _make_comparer(rows, readers, keys, values, code_rows):
    """``changed()`` over these rows (lists that grow, or tuples frozen at one moment), bound
    to builtins captured now: never a module attribute a student file could replace later
    (builtins.getattr, fair.changed, ...)."""
    missing, sorted_, get_attr, id_, repr_, zip_, enumerate_ = (
        _MISSING, builtins.sorted, builtins.getattr, builtins.id, builtins.repr, builtins.zip,
        builtins.enumerate)

    def changed() -> list:
        """Labels of the remembered names whose object or code is no longer the same (one
        label per object: where it is defined rather than a re-export)."""
        stale = [index for index, (read, key, value) in enumerate_(zip_(readers, keys, values))
                 if read(key, missing) is not value]
        swapped = [(function, index) for function, code, index in code_rows
                   if get_attr(function, "__code__", None) is not code]
        if not stale and not swapped:
            return []
        found = {}  # (mapping, key) or the function whose code changed -> (label, home)
        for index in stale:
            label, mapping, key, value, codes, home = rows[index]
            gone = readers[index](key, missing) is missing
            found[(id_(mapping), repr_(key))] = (label + (" (removed)" if gone else ""), True)
        for function, index in swapped:
            label, home = rows[index][0], rows[index][5]
            previous = found.get(id_(function))
            if previous is None or (home and not previous[1]):
                found[id_(function)] = (f"{label} (its __code__)", home)
        return sorted_(label for label, _ in found.values())

    return changed


def _make_checker(watch: _Watch):
    """``(watch_new, watch_namespace, changed, frozen)`` bound to builtins captured now."""
    modules, len_, list_of, tuple_ = sys.modules, builtins.len, builtins.list, builtins.tuple
    watched_module, add_module, add_namespace = (_watched_module, watch.add_module,
                                                 watch.add_namespace)
    known, make_comparer = watch.modules, _make_comparer

    def watch_new() -> None:
        """Remember the watched modules loaded since the last call (the others are kept)."""
        if len_(modules) == watch_new.seen:
            return
        for name, module in list_of(modules.items()):
            if module is not None and known.get(name) is not module and watched_module(name):
                add_module(name, module)
        watch_new.seen = len_(modules)
    watch_new.seen = -1

    def frozen():
        """A ``changed()`` of its own over tuples of what is remembered now: emptying or
        rewriting the remembered lists later (fair._WATCH) does not change what it compares
        with. The plugin takes one per test in the parent, before the fork."""
        return make_comparer(tuple_(watch.rows), tuple_(watch.readers), tuple_(watch.keys),
                             tuple_(watch.values), tuple_(watch.code_rows))

    changed = make_comparer(watch.rows, watch.readers, watch.keys, watch.values,
                            watch.code_rows)
    return watch_new, add_namespace, changed, frozen


_WATCH = _Watch()
watch, watch_namespace, changed, frozen = _make_checker(_WATCH)


def describe(changes: list, who: str, when: str) -> str:
    """'layers.py replaced minnet.grading.credit.Credit.part at import: grading code may not
    be changed ...' for the first SHOWN changes."""
    named = ", ".join(changes[:SHOWN]) + (f" and {len(changes) - SHOWN} more"
                                          if len(changes) > SHOWN else "")
    return (f"{who} replaced {named} {when}: {MARK}. Lab files must not patch minnet, "
            "NumPy, pytest, builtins or the tests; this test scores 0.")


def _make_expect_unchanged(changed_now, message, failure):
    def expect_unchanged(who: str, when: str) -> None:
        """Raise LabFailure naming what changed since it was remembered (nothing: return)."""
        changes = changed_now()
        if changes:
            raise failure(message(changes, who, when))
    return expect_unchanged


expect_unchanged = _make_expect_unchanged(changed, describe, GradingTampered)


def guard():
    """``(watch, changed, describe, frozen)`` as they are now: what the plugin keeps."""
    return watch, changed, describe, frozen


def private_copy(function):
    """A new function object with ``function``'s code, globals, defaults and closure: a
    student who swaps ``function.__code__`` later does not change the copy (made in the parent
    process before a test is forked)."""
    copy = types.FunctionType(function.__code__, function.__globals__, function.__name__,
                              function.__defaults__, function.__closure__)
    copy.__kwdefaults__ = function.__kwdefaults__
    return copy
