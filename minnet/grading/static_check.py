"""A static check of a student file against its lab's rules, before it runs.

The sandbox (``sandbox.py``) is the wall: the student's code runs in another
process and only data comes back. This is the second layer, for the labs whose
point is to *write it by hand*: a file that imports a library the lab does not
allow, or reaches into Python's machinery (``__code__``, ``__globals__``,
``sys._getframe``, ``eval``) to borrow someone else's code, is refused with the
line and the rule, instead of being graded.

    problems = check_source(text, "layers.py", allowed_imports={"numpy", "math"})
    # ["layers.py:3: `import minnet`: lab files may import only math, numpy"]
"""
from __future__ import annotations

import ast

# Names that run or fetch code given as data, or reach other frames and modules.
FORBIDDEN_CALLS = {
    "eval", "exec", "compile", "__import__", "globals", "locals", "vars", "getattr",
    "setattr", "delattr", "open", "breakpoint", "input", "memoryview",
}
# Dunder attributes a hand-written layer never needs; everything else that starts and ends
# with two underscores is refused too (except these harmless ones).
# Attributes that reach the operating system or the interpreter through another module
# (``np.ctypeslib.os``, ``np.testing._private.utils.sys.modules``): a lab file never needs them.
FORBIDDEN_ATTRIBUTES = {
    "os", "sys", "subprocess", "ctypes", "builtins", "importlib", "shutil", "socket", "signal",
    "gc", "inspect", "threading", "multiprocessing", "exec",
    "import_module", "system", "popen", "fork", "kill", "getppid", "_exit",
}
HARMLESS_DUNDERS = {"__init__", "__name__", "__doc__", "__len__", "__call__", "__repr__",
                    "__str__", "__eq__", "__hash__", "__iter__", "__next__", "__enter__",
                    "__exit__", "__class__", "__main__"}


# The grader's own package: a student file has no business there (its modules hold os, signal...)
GRADER_PACKAGE = "minnet.grading"


def _private_module(module: str) -> bool:
    """``numpy._pytesttester``: a library's private module (its helpers import os, sys...)."""
    return any(part.startswith("_") for part in module.split(".") if part != "__future__")


def _grader_module(module: str) -> bool:
    return module == GRADER_PACKAGE or module.startswith(GRADER_PACKAGE + ".")


_MODULE_WHY = ("a private module or the grader's own package is not for lab files: use "
               "the library's public API")


def _root(module: str) -> str:
    return module.split(".", 1)[0]


def _root_name(node) -> str:
    """'np' for np.testing._private.utils (the name an attribute chain starts from)."""
    while isinstance(node, ast.Attribute):
        node = node.value
    return node.id if isinstance(node, ast.Name) else ""


def check_source(text: str, filename: str, allowed_imports, forbidden=()) -> list:
    """Problems found in ``text`` (empty if none), each 'file:line: what: why'.

    ``forbidden``: names and attributes this lab rules out besides the general rules
    (e.g. ``("complex", "imag")``: a derivative by the complex step is not a derivation);
    "complex" also refuses complex literals such as ``1e-20j``."""
    # a package ("numpy") allows its submodules; a dotted name ("minnet.autograd", a stand-in
    # the sandbox provides) allows that module alone
    allowed = sorted({name for name in allowed_imports if "." not in name} | {"__future__"})
    exact = {name for name in allowed_imports if "." in name}
    shown = ", ".join(sorted(set(allowed) - {"__future__"} | exact)) or "nothing"

    def allowed_module(module: str) -> bool:
        return _root(module) in allowed or module in exact
    try:
        tree = ast.parse(text, filename=filename)
    except SyntaxError:
        return []  # the import itself reports syntax errors, with the line
    problems = []

    def problem(node, what: str, why: str) -> None:
        problems.append(f"{filename}:{node.lineno}: {what}: {why}")

    module_aliases = {(alias.asname or alias.name).split(".", 1)[0]
                      for node in ast.walk(tree) if isinstance(node, (ast.Import, ast.ImportFrom))
                      for alias in node.names}
    forbidden = set(forbidden)
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, complex) \
                and "complex" in forbidden:
            problem(node, f"`{node.value!r}`", "complex numbers are not part of this lab")
        elif isinstance(node, (ast.Name, ast.Attribute)) and \
                (getattr(node, "id", None) or getattr(node, "attr", None)) in forbidden:
            name = getattr(node, "id", None) or node.attr
            problem(node, f"`{name}`", "this lab rules it out (see its README)")
        if isinstance(node, ast.Import):
            for alias in node.names:
                if not allowed_module(alias.name):
                    problem(node, f"`import {alias.name}`", f"this lab's files may import only "
                                                            f"{shown}")
                elif _private_module(alias.name) or _grader_module(alias.name):
                    problem(node, f"`import {alias.name}`", _MODULE_WHY)
        elif isinstance(node, ast.ImportFrom):
            module = node.module or ""
            for alias in node.names:
                imported = f"`from {module} import {alias.name}`"
                if alias.name in forbidden:
                    problem(node, imported, "this lab rules it out (see its README)")
                elif alias.name.startswith("__") and alias.name not in HARMLESS_DUNDERS:
                    problem(node, imported, "reaching into Python's machinery is not allowed "
                                            "in lab files")
                elif alias.name in FORBIDDEN_ATTRIBUTES or alias.name in FORBIDDEN_CALLS:
                    problem(node, imported, "reaching the operating system or the interpreter "
                                            "through another module is not allowed in lab files")
                elif alias.name.startswith("_") or _grader_module(f"{module}.{alias.name}"):
                    problem(node, imported, _MODULE_WHY)
            if node.level:
                problem(node, "a relative import", "lab files are single modules")
            elif not allowed_module(module):
                problem(node, f"`from {module} import ...`",
                        f"this lab's files may import only {shown}")
            elif _private_module(module) or _grader_module(module):
                problem(node, f"`from {module} import ...`", _MODULE_WHY)
        elif isinstance(node, ast.Attribute):
            if node.attr.startswith("__") and node.attr not in HARMLESS_DUNDERS:
                problem(node, f"`.{node.attr}`", "reaching into Python's machinery is not "
                                                 "allowed in lab files")
            elif node.attr in ("_getframe", "f_back", "f_globals", "f_locals", "gi_frame",
                               "tb_frame", "cr_frame"):
                problem(node, f"`.{node.attr}`", "inspecting frames is not allowed in lab files")
            elif node.attr in FORBIDDEN_ATTRIBUTES:
                problem(node, f"`.{node.attr}`", "reaching the operating system or the "
                                                 "interpreter through another module is not "
                                                 "allowed in lab files")
            elif node.attr.startswith("_") and _root_name(node) in module_aliases:
                problem(node, f"`.{node.attr}`", "a library's private parts are not for lab "
                                                 "files: use its public API")
            elif node.attr.startswith("_") and isinstance(node.ctx, (ast.Store, ast.Del)) \
                    and _root_name(node) not in ("self", "cls", "ctx"):
                # out._parents = (): rewriting how a library's object was made
                problem(node, f"`.{node.attr} = ...`", "changing another object's private "
                                                       "parts is not allowed in lab files")
        elif isinstance(node, ast.Name):
            if node.id in FORBIDDEN_CALLS:
                problem(node, f"`{node.id}`", "running code given as text or looking names up "
                                              "by string is not allowed in lab files")
            elif node.id.startswith("__") and node.id not in HARMLESS_DUNDERS \
                    and node.id != "__file__":
                problem(node, f"`{node.id}`", "reaching into Python's machinery is not "
                                              "allowed in lab files")
    return problems
