"""Public tests whose later parts a student release may not be able to replay.

A student repository replays reference results recorded for exact inputs (``recorded.py``).
When one seeded generator feeds several ``credit.part`` blocks, a part that fails half-way
leaves the generator elsewhere, the next part draws inputs never recorded, and correct code
loses it there (not under ``minnet grade``). ``shared_generators`` finds such tests by reading
them: a generator made outside the parts and drawn from in two or more. The fix: each part
makes its own generator as its first line. More: docs/grading_internals.md.
"""
from __future__ import annotations

import ast
from pathlib import Path


def _is_generator_call(node) -> bool:
    """``np.random.default_rng(...)`` or ``default_rng(...)``."""
    return isinstance(node, ast.Call) and (
        getattr(node.func, "attr", None) == "default_rng"
        or getattr(node.func, "id", None) == "default_rng")


def _is_part(node) -> bool:
    """A ``with credit.part(...)`` block."""
    return isinstance(node, ast.With) and any(
        isinstance(item.context_expr, ast.Call)
        and getattr(item.context_expr.func, "attr", None) == "part" for item in node.items)


def _names(nodes, kind) -> set:
    return {node.id for top in nodes for node in ast.walk(top)
            if isinstance(node, ast.Name) and isinstance(node.ctx, kind)}


def shared_generators(source: str) -> list:
    """[(test name, generator name, number of parts drawing from it)] for every test function
    of ``source`` in which a generator made outside its ``credit.part`` blocks is used by two
    or more of them (a block that assigns the name itself uses its own)."""
    found = []
    for function in ast.parse(source).body:
        if not (isinstance(function, ast.FunctionDef) and function.name.startswith("test")):
            continue
        parts = [node for node in ast.walk(function) if _is_part(node)]
        inside = {id(node) for part in parts for node in ast.walk(part)}
        generators = {target.id for node in ast.walk(function)
                      if isinstance(node, ast.Assign) and id(node) not in inside
                      and _is_generator_call(node.value)
                      for target in node.targets if isinstance(target, ast.Name)}
        references = _reference_names(function)
        for name in sorted(generators):
            users = [part for part in parts if name in _names(part.body, ast.Load)
                     and name not in _names(part.body, ast.Store)]
            # only a later part that calls the reference can miss its recorded result
            if any(_calls_reference(part, references) for part in users[1:]):
                found.append((function.name, name, len(users)))
    return found


def _reference_names(function) -> set:
    """Names that hold a reference module in ``function``: ``ref = reference(...)``, or a
    name with "ref" in it unpacked from a call (``mine, ref = load()``)."""
    names = set()
    for node in ast.walk(function):
        if not (isinstance(node, ast.Assign) and isinstance(node.value, ast.Call)):
            continue
        direct = getattr(node.value.func, "id", None) == "reference"
        for target in node.targets:
            for name in ast.walk(target):
                if isinstance(name, ast.Name) and (direct or "ref" in name.id):
                    names.add(name.id)
    return names


def _calls_reference(part, references) -> bool:
    return any(isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
               and isinstance(node.func.value, ast.Name) and node.func.value.id in references
               for node in ast.walk(part))


def replay_gaps(labs_dir, labs=None) -> list:
    """[(lab, test file, test, generator, parts)] over the public tests of ``labs_dir``
    (``labs``: lab folder names, default all)."""
    gaps = []
    for folder in sorted(Path(labs_dir).iterdir()):
        if not folder.is_dir() or folder.name == "source" or (labs and folder.name not in labs):
            continue
        for path in sorted(folder.glob("test_*.py")):
            try:
                shared = shared_generators(path.read_text(encoding="utf-8"))
            except (OSError, SyntaxError, ValueError):
                continue
            gaps += [(folder.name, path.name, *entry) for entry in shared]
    return gaps
