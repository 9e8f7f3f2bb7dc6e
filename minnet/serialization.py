"""Save and load state dicts as ``.npz`` files (``minnet.save`` / ``minnet.load``).

A state dict maps names to tensors: ``{"0.weight": Tensor, "0.bias": Tensor}``.
It is stored as a NumPy ``.npz`` archive (a zip of ``.npy`` arrays) that any
NumPy program can read, and loaded with ``allow_pickle=False``: loading a file
never runs code from it, unlike pickle-based formats.

Nested dicts, lists and tuples of arrays and numbers (e.g. an optimizer's
state, whose keys are parameter indices) are supported too: their entries are
stored under paths joined by ``/``, and a small JSON layout entry records what
each path was (tensor, array, number, dict, list, tuple) and which dict keys
were integers, so ``load`` rebuilds the same structure.

Writes are atomic: the archive goes to a temporary file in the same directory,
which then replaces ``path`` in one ``os.replace`` step. A crash mid-write
leaves the old file (or no file), never a truncated one.
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
        arrays[path] = obj.data
    elif isinstance(obj, np.ndarray):
        if obj.dtype.kind == "O":
            raise TypeError(f"save(): '{path}' is an object array, which cannot be saved without "
                            f"pickle. Hint: convert it to a numeric array.")
        layout[path] = "array"
        arrays[path] = obj
    elif isinstance(obj, (bool, int, float, np.number, np.bool_)):
        layout[path] = type(obj).__name__ if isinstance(obj, (bool, int, float)) else "array"
        arrays[path] = np.asarray(obj)
    elif obj is None:
        layout[path] = "none"
    else:
        raise TypeError(f"save(): cannot save '{path}' of type {type(obj).__name__}. Supported: "
                        f"Tensors, NumPy arrays, numbers, None, and dicts/lists of these.")


def save(obj, path) -> None:
    """Write a state dict (or nested dicts/lists of arrays) to ``path`` as ``.npz``, atomically.

    ``path`` is used as given (no ``.npz`` suffix is added).
    """
    if not isinstance(obj, Mapping):
        raise TypeError(f"save(): expected a state dict (a mapping of names to tensors), got "
                        f"{type(obj).__name__}. Hint: save model.state_dict(), not the model.")
    arrays: dict = {}
    layout: dict = {}
    int_keys: list = []
    _flatten(obj, "", arrays, layout, int_keys)
    arrays[_LAYOUT_KEY] = np.array(json.dumps({"format": _FORMAT, "layout": layout,
                                               "int_keys": int_keys}))
    atomic_write(path, lambda file: np.savez(file, **arrays))


def _rebuild(path: str, layout: dict, arrays, int_keys: set) -> object:
    kind = layout[path]
    prefix = f"{path}{_SEPARATOR}" if path else ""
    if kind in ("dict", "list", "tuple"):
        # direct children, in saved order (the layout is written depth first)
        children = [p for p in layout if p.startswith(prefix) and p != path
                    and _SEPARATOR not in p[len(prefix):]]
        if kind == "dict":
            return OrderedDict(
                (int(child[len(prefix):]) if child in int_keys else child[len(prefix):],
                 _rebuild(child, layout, arrays, int_keys))
                for child in children)
        items = [_rebuild(child, layout, arrays, int_keys) for child in children]
        return tuple(items) if kind == "tuple" else items
    if kind == "none":
        return None
    array = arrays[path]
    if kind == "tensor":
        return Tensor(array)
    if kind in ("bool", "int", "float"):
        return {"bool": bool, "int": int, "float": float}[kind](array.item())
    return array


def load(path, map_location=None, weights_only=True) -> "OrderedDict":
    """Read a file written by ``save``; tensors come back as Tensors, in the saved order.

    A plain ``.npz`` written by ``np.savez`` also loads: every array becomes a Tensor.
    ``map_location`` and ``weights_only`` exist so PyTorch-style calls work:
    minnet has only the CPU, and never unpickles code, whatever ``weights_only`` says.
    """
    if map_location is not None:
        from .tensor import _check_device
        _check_device(map_location)
    path = os.fspath(path)
    try:
        archive = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise FileNotFoundError(f"load(): no such file: {path!r}") from None
    except (ValueError, OSError) as error:
        raise ValueError(f"load(): {path!r} is not a readable .npz archive ({error}). Hint: "
                         f"files written by minnet.save or np.savez can be loaded.") from None
    if not hasattr(archive, "files"):  # a .npy file: np.load gave a bare array
        raise ValueError(f"load(): {path!r} holds a single array, not a state dict archive. "
                         f"Hint: save dicts with minnet.save (or np.savez).")
    with archive:
        arrays = {name: archive[name] for name in archive.files}
    layout_entry = arrays.pop(_LAYOUT_KEY, None)
    if layout_entry is None:
        return OrderedDict((name, Tensor(array)) for name, array in arrays.items())
    meta = json.loads(str(layout_entry))
    if meta.get("format") != _FORMAT:
        raise ValueError(f"load(): {path!r} has unknown format {meta.get('format')!r}")
    return _rebuild("", meta["layout"], arrays, set(meta.get("int_keys", ())))
