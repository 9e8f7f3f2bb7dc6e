"""Save and load state dicts as ``.npz`` files (``minnet.save`` / ``minnet.load``).

A state dict (``{"0.weight": Tensor, ...}``) is stored as a NumPy ``.npz`` archive any
NumPy program reads, and loaded with ``allow_pickle=False``: loading never runs code
from the file. Nested dicts, lists and tuples (an optimizer's state) are stored under
``/``-joined paths, with a JSON layout entry recording each path's kind and integer
keys so ``load`` rebuilds the structure. Writes are atomic (``minnet.fileio``).
"""
from __future__ import annotations

import json
import os
from collections import OrderedDict
from collections.abc import Mapping

import numpy as np

from .fileio import atomic_write
from .tensor import Tensor

_LAYOUT_KEY = "__minnet_layout__"
_FORMAT = "minnet-state-v1"
_SEPARATOR = "/"


def _flatten(obj, path: str, arrays: dict, layout: dict, int_keys: list) -> None:
    """Walk ``obj``, putting each leaf array in ``arrays`` and each node's kind in ``layout``."""
    if isinstance(obj, Mapping):
        layout[path] = "dict"
        for key, value in obj.items():
            if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
                child_name = str(int(key))
            elif isinstance(key, str):
                if _SEPARATOR in key or not key or key == _LAYOUT_KEY:
                    raise ValueError(f"save(): key {key!r} is not allowed (keys must be non-empty "
                                     f"and must not contain {_SEPARATOR!r})")
                child_name = key
            else:
                raise TypeError(f"save(): keys must be strings or integers, got {key!r} "
                                f"({type(key).__name__}) at {path or 'the top level'}")
            child = f"{path}{_SEPARATOR}{child_name}" if path else child_name
            if child in layout:
                raise ValueError(f"save(): keys {key!r} and {child_name!r} collide at "
                                 f"{path or 'the top level'}")
            if child_name != key:
                int_keys.append(child)
            _flatten(value, child, arrays, layout, int_keys)
    elif isinstance(obj, (list, tuple)):
        layout[path] = "tuple" if isinstance(obj, tuple) else "list"
        for index, value in enumerate(obj):
            _flatten(value, f"{path}{_SEPARATOR}{index}" if path else str(index), arrays, layout,
                     int_keys)
    elif isinstance(obj, Tensor):
        layout[path] = "tensor"
        arrays[path] = obj._data
    elif isinstance(obj, np.ndarray):
        if obj.dtype.kind == "O":
            raise TypeError(f"save(): '{path}' is an object array, which cannot be saved without "
                            f"pickle. Hint: convert it to a numeric array.")
        layout[path] = "array"
        arrays[path] = obj
    elif isinstance(obj, (bool, int, float, np.number, np.bool_)):
        layout[path] = type(obj).__name__ if isinstance(obj, (bool, int, float)) else "array"
        arrays[path] = np.asarray(obj)
    elif isinstance(obj, str):  # e.g. ReduceLROnPlateau's mode="min" in a scheduler's state
        layout[path] = "str"
        # its code points (no pickle needed to load them); a NumPy string array would drop
        # trailing "\0" characters
        arrays[path] = np.frombuffer(obj.encode("utf-32-le"), dtype="<u4")
    elif obj is None:
        layout[path] = "none"
    else:
        raise TypeError(f"save(): cannot save '{path}' of type {type(obj).__name__}. Supported: "
                        f"Tensors, NumPy arrays, numbers, strings, None, and dicts/lists of "
                        f"these.")


def save(obj, path) -> None:
    """Write a state dict (or nested dicts/lists of arrays) to ``path`` as ``.npz``, atomically.

    ``path`` is used as given (no ``.npz`` suffix is added).
    """
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"save(): expected a file path, got {type(path).__name__}")
    if not os.fsdecode(path):
        raise ValueError("save(): the file path is empty")
    if not isinstance(obj, Mapping):
        raise TypeError(f"save(): expected a state dict (a mapping of names to tensors), got "
                        f"{type(obj).__name__}. Hint: save model.state_dict(), not the model.")
    arrays: dict = {}
    layout: dict = {}
    int_keys: list = []
    try:
        _flatten(obj, "", arrays, layout, int_keys)
    except RecursionError:
        raise ValueError("save(): the state is nested too deeply (hundreds of levels of "
                         "dicts/lists), or holds a dict or list that contains itself") from None
    arrays[_LAYOUT_KEY] = np.array(json.dumps({"format": _FORMAT, "layout": layout,
                                               "int_keys": int_keys}))
    atomic_write(path, lambda file: np.savez(file, **arrays))


def _damaged(path: str, detail: str) -> ValueError:
    return ValueError(f"load(): {path!r} is damaged or not a minnet/NumPy .npz file: {detail}. "
                      f"Hint: files written by minnet.save or np.savez load; a copy cut short "
                      f"(full disk, interrupted download) must be saved again.")


_KINDS = {"dict", "list", "tuple", "tensor", "array", "none", "bool", "int", "float", "str"}


def _rebuild(layout: dict, arrays: dict, int_keys: set, path: str):
    """Rebuild the saved structure from its layout in one pass (linear in its size)."""
    children: dict = {name: [] for name, kind in layout.items()
                      if kind in ("dict", "list", "tuple")}
    for name in layout:  # the layout is written depth first: children in saved order
        if name == "":
            continue
        parent = name.rpartition(_SEPARATOR)[0]
        if parent not in children:
            raise _damaged(path, f"entry {name!r} has no container {parent or 'at the top'!r}")
        children[parent].append(name)

    def leaf(name: str, kind: str):
        if kind == "none":
            return None
        if name not in arrays:
            raise _damaged(path, f"the layout names {name!r} but the archive has no such array")
        array = arrays[name]
        if kind == "tensor":
            return Tensor(array)
        if kind in ("bool", "int", "float"):
            if array.size != 1:
                raise _damaged(path, f"{name!r} should hold one number, holds {array.shape}")
            return {"bool": bool, "int": int, "float": float}[kind](array.item())
        if kind == "str":
            if array.dtype != np.dtype("<u4") or array.ndim != 1:
                raise _damaged(path, f"{name!r} should hold a string's code points, holds "
                                     f"{array.dtype} {array.shape}")
            try:
                return array.tobytes().decode("utf-32-le")
            except UnicodeDecodeError:
                raise _damaged(path, f"{name!r} holds numbers that are not characters") from None
        return array

    built: dict = {}
    for name in reversed(list(layout)):  # every child comes after its parent: build bottom up
        kind = layout[name]
        if kind not in _KINDS:
            raise _damaged(path, f"entry {name!r} has unknown kind {kind!r}")
        if name in children:
            items = [built.pop(child) for child in children[name]]
            if kind == "dict":
                start = len(name) + 1 if name else 0
                built[name] = OrderedDict(
                    (int(child[start:]) if child in int_keys else child[start:], item)
                    for child, item in zip(children[name], items))
            else:
                built[name] = tuple(items) if kind == "tuple" else items
        else:
            built[name] = leaf(name, kind)
    return built[""]


def load(path, map_location=None, weights_only=True) -> "OrderedDict":
    """Read a file written by ``save``; tensors come back as Tensors, in the saved order.

    A plain ``.npz`` written by ``np.savez`` also loads: every array becomes a Tensor.
    ``map_location`` and ``weights_only`` exist so PyTorch-style calls work:
    minnet has only the CPU, and never unpickles code, whatever ``weights_only`` says.

    Errors name the file: FileNotFoundError, IsADirectoryError or PermissionError when it
    cannot be opened, ValueError when its content is damaged or not a state archive.
    """
    if map_location is not None:
        from .tensor import _check_device
        _check_device(map_location)
    if not isinstance(path, (str, bytes, os.PathLike)):
        raise TypeError(f"load(): expected a file path, got {type(path).__name__}")
    path = os.fsdecode(path)
    try:
        file = open(path, "rb")
    except FileNotFoundError:
        raise FileNotFoundError(f"load(): no such file: {path!r}") from None
    except IsADirectoryError:
        raise IsADirectoryError(f"load(): {path!r} is a folder, not a saved file") from None
    except PermissionError:
        raise PermissionError(f"load(): no permission to read {path!r}") from None
    except OSError as error:
        raise OSError(f"load(): cannot open {path!r}: {error.strerror or error}") from None
    with file:  # closed whatever happens below: no leaked handle on a damaged file
        start = file.read(6)
        file.seek(0)
        if not start:
            raise _damaged(path, "it is empty (0 bytes)")
        if not start.startswith((b"PK\x03\x04", b"PK\x05\x06", b"\x93NUMPY")):
            raise _damaged(path, f"it is not a zip archive (it starts with {start!r})")
        try:
            archive = np.load(file, allow_pickle=False)
        except Exception as error:  # BadZipFile, EOFError, ValueError, OSError, ...
            raise _damaged(path, f"{type(error).__name__}: {error}") from None
        if not hasattr(archive, "files"):  # a .npy file: np.load gave a bare array
            raise ValueError(f"load(): {path!r} holds a single array, not a state dict archive. "
                             f"Hint: save dicts with minnet.save (or np.savez).")
        with archive:
            try:
                arrays = {name: archive[name] for name in archive.files}
            except Exception as error:  # a member cut short, a bad .npy header, ...
                raise _damaged(path, f"{type(error).__name__}: {error}") from None
    layout_entry = arrays.pop(_LAYOUT_KEY, None)
    if layout_entry is None:
        return OrderedDict((name, Tensor(array)) for name, array in arrays.items())
    try:
        meta = json.loads(str(layout_entry))
    except ValueError as error:
        raise _damaged(path, f"its layout entry is not valid JSON ({error})") from None
    if not isinstance(meta, dict):
        raise _damaged(path, "its layout entry is not a JSON object")
    if meta.get("format") != _FORMAT:
        raise ValueError(f"load(): {path!r} has unknown format {meta.get('format')!r} "
                         f"(this minnet reads {_FORMAT!r}). Hint: a newer minnet wrote it?")
    layout, int_keys = meta.get("layout"), meta.get("int_keys", [])
    if not isinstance(layout, dict) or "" not in layout or not isinstance(int_keys, list) \
            or not all(isinstance(k, str) and isinstance(v, str) for k, v in layout.items()):
        raise _damaged(path, "its layout entry does not describe a saved structure")
    bad_int = [k for k in int_keys if not (isinstance(k, str) and
                                           k.rpartition(_SEPARATOR)[2].lstrip("-").isdigit())]
    if bad_int:
        raise _damaged(path, f"its layout marks {bad_int[0]!r} as an integer key")
    return _rebuild(layout, arrays, set(int_keys), path)
