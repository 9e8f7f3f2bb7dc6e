"""Load a lab's student file or reference solution by path: ``student(__file__, "layers")``.

Each file is loaded from its path under a unique module name
(``minnet_labs.student.01_backprop.layers``), never by ``import layers``: two labs' files,
or a student file and its reference, would share one ``sys.modules`` slot and one could
silently stand in for the other. Modules are cached per path and (mtime, size), so an
edited file is reloaded; a file that cannot be imported raises ``LabFailure`` with the
location in the student's file, so only the tests using it lose points. Layout:
docs/grading_internals.md.
"""
from __future__ import annotations

import importlib.util
import itertools
import os
import sys
import traceback
import types

from . import recorded as _recorded
from .expect import LabFailure

MODULE_PREFIX = "minnet_labs"
SOURCE_FOLDER = "source"

_cache: dict = {}  # absolute path -> (stamp, module)
_private_names = itertools.count(1)  # numbers the private modules' names


def decode_source(data: bytes) -> str:
    """A Python file's bytes as the text Python itself would run: its encoding as Python reads
    it (a UTF-8 byte-order mark, which Windows editors write, dropped; a ``coding:`` line
    obeyed) and its line endings as ``\n``. Undecodable bytes become U+FFFD (the compiler then
    names the line), never an exception here."""
    try:
        return importlib.util.decode_source(data)
    except (SyntaxError, LookupError, UnicodeDecodeError):
        text = data.decode("utf-8", errors="replace").removeprefix("\ufeff")
        return text.replace("\r\n", "\n").replace("\r", "\n")


def read_source(path) -> str:
    """``decode_source`` of the file at ``path``."""
    with open(path, "rb") as file:
        return decode_source(file.read())


def lab_folder(test_file) -> str:
    """The folder of the lab a test file belongs to (its directory), absolute."""
    return os.path.dirname(os.path.abspath(os.fspath(test_file)))


def student_path(test_file, name: str) -> str:
    """``labs/NN_lab/<name>.py`` next to the test file."""
    return os.path.join(lab_folder(test_file), _file_name(name, "student"))


def reference_path(test_file, name: str) -> str:
    """``labs/source/NN_lab/<name>.py`` for a test in ``labs/NN_lab/``.

    A test that already lives in ``labs/source/NN_lab/`` (a hidden test run in
    place) finds the solution next to itself.
    """
    folder = lab_folder(test_file)
    parent, lab = os.path.split(folder)
    if os.path.basename(parent) == SOURCE_FOLDER:
        return os.path.join(folder, _file_name(name, "reference"))
    return os.path.join(parent, SOURCE_FOLDER, lab, _file_name(name, "reference"))


def student(test_file, name: str) -> types.ModuleType:
    """The student's module ``name`` from the lab folder of ``test_file`` (pass ``__file__``)."""
    prepare = None
    if _recorded.recording_folder() is not None:   # `minnet labs release --to`: see recorded.py
        source = reference_path(test_file, name)
        text = open(source, encoding="utf-8").read() if os.path.isfile(source) else ""

        def prepare(module):
            _recorded.mark_student_module(module, text)
    return load_module(student_path(test_file, name), role="student", prepare=prepare)


def reference(test_file, name: str) -> types.ModuleType:
    """The reference solution of module ``name`` (``labs/source/<lab>/<name>.py``).

    Executed afresh on every call as a private module: in neither the loader's
    cache nor ``sys.modules`` once loaded. Call it before ``student()``: then nothing
    the student's file does on import (an entry in ``sys.modules``, in the loader's
    cache) can stand in for the reference the tests compare with.
    """
    path = reference_path(test_file, name)
    lab = os.path.basename(lab_folder(test_file))
    stem = os.path.splitext(_file_name(name, "reference"))[0]
    if not os.path.isfile(path):
        released = _recorded.recorded_file(lab_folder(test_file), stem)
        if released is not None:     # a student repository: replay the recorded results
            return _load_replaying(lab, stem, released)
        raise FileNotFoundError(
            f"reference(): no reference solution {path}. The graded tests need the lab "
            "sources (labs/source/) or the recorded reference results of a student release "
            f"({_recorded.CALLS_FILE}): run them from a full checkout of the course repository, "
            "or grade with `minnet grade`, which copies them.")
    prepare = None
    folder = _recorded.recording_folder()
    if folder is not None:           # `minnet labs release --to`: record every call
        with open(path, encoding="utf-8") as file:
            source_text = file.read()

        def prepare(module):
            _recorded.record_module(module, lab, stem, source_text, folder)
    return load_module(path, role="reference", private=True, prepare=prepare)


def _load_replaying(lab: str, stem: str, released: dict) -> types.ModuleType:
    """The released student file's text run as a private reference module whose solution
    functions replay the recorded results (minnet/grading/recorded.py)."""
    name = f"{MODULE_PREFIX}.reference.{lab}.{stem}._private{next(_private_names)}"
    module = types.ModuleType(name)
    module.__file__ = f"<{lab}/{stem}.py as released, with recorded reference results>"
    code = compile(released["released"], module.__file__, "exec")
    sys.modules[name] = module
    try:
        exec(code, module.__dict__)
    except Exception:
        sys.modules.pop(name, None)
        raise
    _recorded.replay_module(module, released, lab, stem)
    return module


def _file_name(name: str, role: str) -> str:
    if not isinstance(name, str) or not name or os.sep in name or "/" in name:
        raise ValueError(f"{role}(): name must be a module name such as 'layers', got {name!r}")
    return name if name.endswith(".py") else name + ".py"


def _module_name(path: str, role: str) -> str:
    """A unique, importable-looking name: minnet_labs.<role>.<lab folder>.<file stem>."""
    lab = os.path.basename(os.path.dirname(path))
    stem = os.path.splitext(os.path.basename(path))[0]
    return f"{MODULE_PREFIX}.{role}.{lab}.{stem}"


def _stamp(path: str) -> tuple:
    info = os.stat(path)
    return info.st_mtime_ns, info.st_size


def load_module(path, role: str = "student", private: bool = False,
                prepare=None) -> types.ModuleType:
    """Execute the Python file at ``path`` as a fresh module (cached per path and mtime).

    ``private``: executed anew under a name of its own (``..._private<n>``), never
    served from the cache. ``prepare(module)`` runs after the file.
    """
    path = os.path.abspath(os.fspath(path))
    if not os.path.isfile(path):
        raise LabFailure(f"The file {_shown(path)} is missing. It belongs to this lab: "
                         "restore it (e.g. from the released labs) and fill in the TODOs.")
    stamp = _stamp(path)
    cached = None if private else _cache.get(path)
    if cached is not None and cached[0] == stamp:
        return cached[1]
    name = _module_name(path, role)
    if private:
        name += f"._private{next(_private_names)}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    # registered while it runs: dataclasses, pickling and typing look the module up by name
    previous = sys.modules.get(name)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except Exception as error:
        if previous is not None:
            sys.modules[name] = previous
        else:
            sys.modules.pop(name, None)
        raise LabFailure(import_failure_message(path, error)) from None
    if prepare is not None:
        prepare(module)
    if private:
        return module
    _cache[path] = (stamp, module)
    return module


def _shown(path: str) -> str:
    """A path as a student recognises it: relative to the current folder when inside it."""
    try:
        relative = os.path.relpath(path)
    except ValueError:
        return path
    return path if relative.startswith("..") else relative


def import_failure_message(path: str, error: BaseException) -> str:
    """Feedback for a file that could not be imported: what, where, and the line."""
    shown = _shown(path)
    if isinstance(error, SyntaxError) and os.path.abspath(error.filename or "") == path:
        pointer = ""
        if error.text:
            pointer = f"\n    {error.text.rstrip()}"
            if error.offset:
                pointer += "\n    " + " " * (error.offset - 1) + "^"
        return (f"{shown} could not be imported: {type(error).__name__} at line {error.lineno}: "
                f"{error.msg}{pointer}\nFix the syntax first: nothing in this file can be graded "
                "until Python can read it.")
    where = ""
    frames = [frame for frame in traceback.extract_tb(error.__traceback__)
              if os.path.abspath(frame.filename) == path]
    if frames:
        frame = frames[-1]
        where = f" (line {frame.lineno}: {(frame.line or '').strip()})"
    return (f"{shown} could not be imported: {type(error).__name__}: {error}{where}.\n"
            "Code at the top level of the file runs on import: keep your work inside the "
            "functions.")

