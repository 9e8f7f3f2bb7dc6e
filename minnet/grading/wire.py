"""Values that cross the sandbox boundary, as data only.

The grader and a student's code run in different processes (``sandbox.py``) and
talk over a socket. What crosses is data: numbers, strings, NumPy arrays of
numbers, and lists/tuples/dicts of those. Nothing is unpickled, no code object
or class travels, so a student's file cannot hand the grader anything that runs
when it is read. An object that is not data (a student's cache holding a lambda,
an instance of a class of their own) stays in the student's process and crosses
as an opaque ``Handle``; passed back as an argument, the handle becomes the
object again over there.

Frame layout on the socket: u32 header length, the header as JSON, u32 number
of buffers, then each buffer as u64 length + raw bytes (the arrays' contents).

This module imports only the standard library and NumPy: the sandbox worker
loads it by path, without importing minnet.
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
    """An object left in the other process: its number there, its type name and a short repr."""

    __slots__ = ("number", "type_name", "text")

    def __init__(self, number: int, type_name: str, text: str):
        self.number, self.type_name, self.text = number, type_name, text

    def __repr__(self) -> str:
        return f"<{self.type_name} in the student's process: {self.text}>"


# --------------------------------------------------------------------------
# encode: Python value -> (JSON-able header, list of byte buffers)
# --------------------------------------------------------------------------
def encode(value, buffers: list, keep=None, depth: int = 0):
    """The JSON-able form of ``value``; array contents are appended to ``buffers``.

    ``keep(obj) -> Handle``: what to do with an object that is not data (the worker
    keeps it and sends a handle); None: such an object raises WireError.
    """
    if depth > MAX_DEPTH:
        raise WireError(f"nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, np.generic) and _plain_numbers(value.dtype):  # before float: float64
        return {"$s": encode(np.asarray(value), buffers, keep, depth + 1)}
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else {"$f": repr(value)}
    if isinstance(value, Handle):
        return {"$h": value.number}
    if isinstance(value, np.ndarray) and _plain_numbers(value.dtype):
        buffers.append(np.ascontiguousarray(value).tobytes())
        return {"$a": len(buffers) - 1, "dtype": value.dtype.str, "shape": list(value.shape)}
    if type(value) in (list, tuple):
        key = "$l" if type(value) is list else "$t"
        return {key: [encode(item, buffers, keep, depth + 1) for item in value]}
    if type(value) is dict:
        return {"$d": [[encode(k, buffers, keep, depth + 1), encode(v, buffers, keep, depth + 1)]
                       for k, v in value.items()]}
    if keep is None:
        raise WireError(f"a {type(value).__name__} is not data (numbers, strings, NumPy arrays "
                        "of numbers, and lists/tuples/dicts of those)")
    kept = keep(value)
    return {"$h": kept.number, "type": kept.type_name, "text": kept.text}


def _plain_numbers(dtype) -> bool:
    return dtype.kind in ARRAY_KINDS and not dtype.hasobject and dtype.fields is None


# --------------------------------------------------------------------------
# decode: (header, buffers) -> Python value
# --------------------------------------------------------------------------
def decode(node, buffers: list, handle=None, depth: int = 0):
    """The value ``encode`` described. ``handle(number) -> object`` resolves handles."""
    if depth > MAX_DEPTH:
        raise WireError(f"nested more than {MAX_DEPTH} levels deep")
    if node is None or isinstance(node, (bool, int, float, str)):
        return node
    if isinstance(node, dict) and len(node) >= 1:
        if "$f" in node:
            text = node["$f"]
            if text not in ("nan", "inf", "-inf"):
                raise WireError(f"bad float {text!r}")
            return float(text)
        if "$a" in node:
            return _decode_array(node, buffers)
        if "$s" in node:
            return decode(node["$s"], buffers, handle, depth + 1)[()]
        if "$l" in node:
            return [decode(item, buffers, handle, depth + 1) for item in node["$l"]]
        if "$t" in node:
            return tuple(decode(item, buffers, handle, depth + 1) for item in node["$t"])
        if "$d" in node:
            result = {}
            for pair in node["$d"]:
                key = decode(pair[0], buffers, handle, depth + 1)
                try:
                    result[key] = decode(pair[1], buffers, handle, depth + 1)
                except TypeError:
                    raise WireError("a dict key that is not hashable") from None
            return result
        if "$h" in node:
            if handle is None:
                raise WireError("a handle where none is expected")
            return handle(node)
    raise WireError(f"not a value: {str(node)[:80]}")


def _decode_array(node, buffers: list) -> np.ndarray:
    dtype = np.dtype(str(node["dtype"]))
    if not _plain_numbers(dtype):
        raise WireError(f"arrays of {dtype} cannot cross")
    shape = tuple(int(size) for size in node["shape"])
    if any(size < 0 for size in shape):
        raise WireError(f"bad shape {shape}")
    data = buffers[int(node["$a"])]
    count = int(np.prod(shape, dtype=np.int64)) if shape else 1
    if len(data) != count * dtype.itemsize:
        raise WireError(f"array of shape {shape} and dtype {dtype} needs "
                        f"{count * dtype.itemsize} bytes, got {len(data)}")
    return np.frombuffer(data, dtype=dtype).reshape(shape).copy()


# --------------------------------------------------------------------------
# frames on a socket
# --------------------------------------------------------------------------
def send(sock, header: dict, buffers: list = ()) -> None:
    text = json.dumps(header, allow_nan=False).encode("utf-8")
    parts = [struct.pack("<I", len(text)), text, struct.pack("<I", len(buffers))]
    for buffer in buffers:
        parts += [struct.pack("<Q", len(buffer)), buffer]
    sock.sendall(b"".join(parts))


def _exactly(sock, size: int) -> bytes:
    if size > MAX_FRAME_BYTES:
        raise WireError(f"a frame of {size} bytes")
    chunks, missing = [], size
    while missing:
        chunk = sock.recv(min(missing, 1 << 20))
        if not chunk:
            raise EOFError("the other process closed the connection")
        chunks.append(chunk)
        missing -= len(chunk)
    return b"".join(chunks)


def recv(sock) -> tuple:
    """(header dict, [buffers]) of the next frame; EOFError when the other side is gone."""
    (length,) = struct.unpack("<I", _exactly(sock, 4))
    try:
        header = json.loads(_exactly(sock, length).decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as error:
        raise WireError(f"a damaged frame: {error}") from None
    if not isinstance(header, dict):
        raise WireError("a frame whose header is not an object")
    (count,) = struct.unpack("<I", _exactly(sock, 4))
    buffers = []
    for _ in range(count):
        (size,) = struct.unpack("<Q", _exactly(sock, 8))
        buffers.append(_exactly(sock, size))
    return header, buffers
