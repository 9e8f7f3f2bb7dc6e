"""A static check of a student file against its lab's rules, before it runs.

The sandbox is the wall; this is the second layer, for the labs whose point is to *write it
by hand*: a file that imports what the lab does not allow, or reaches into Python's
machinery (``__code__``, ``__globals__``, ``sys._getframe``, ``eval``) to borrow code, is
refused with the line and the rule instead of being graded::

    problems = check_source(text, "layers.py", allowed_imports={"numpy", "math"})
    # ["layers.py:3: `import minnet`: lab files may import only math, numpy"]
"""
from __future__ import annotations

import ast

# Names that run or fetch code given as data, or reach other frames and modules.
FORBIDDEN_CALLS = {
    "eval", "exec", "compile", "__import__", "globals", "locals", "vars", "getattr",
    "setattr", "delattr", "open", "breakpoint", "memoryview",
}
# Dunder attributes a hand-written layer never needs; everything else that starts and ends
# with two underscores is refused too (except these harmless ones).
# Attributes that reach the operating system or the interpreter through another module
# (``np.ctypeslib.os``, ``np.testing._private.utils.sys.modules``): a lab file never needs them.
FORBIDDEN_ATTRIBUTES = {
    "os", "sys", "subprocess", "ctypes", "builtins", "importlib", "shutil", "socket", "signal",
    "gc", "inspect", "threading", "multiprocessing", "exec",
    "import_module", "getppid", "_exit",
    # code smuggled in as data: unpickling and code objects run whatever they describe
    "pickle", "marshal", "loads", "runstring", "types", "FunctionType", "CodeType",
    "operator", "attrgetter", "methodcaller", "ctypeslib",
    # eval under other names in public modules (numpy.f2py.crackfortran.myeval)
    "f2py", "crackfortran", "myeval", "distutils",
}
# Files and URLs: nothing a lab computes is read from or written to disk (np.load unpickles;
# np.genfromtxt / loadtxt also fetch URLs: data out, answers in). Refused like the others,
# except on a method's own self: a student's class may well have a `load` or `save` method.
# (The others never are: a method is also callable as `Mine.run(np.testing._private.utils)`,
# so `self.runstring` in one would reach exec.)
FILE_ATTRIBUTES = {
    "load", "save", "savez", "fromfile", "tofile", "memmap", "DataSource", "genfromtxt",
    "loadtxt", "fromregex", "urlopen", "request",
}
FORBIDDEN_ATTRIBUTES |= FILE_ATTRIBUTES
# Starting, replacing or signalling processes, whatever the receiver (``os.posix_spawn``,
# ``o = os; o.execv``, ``from os import forkpty``): a child is a process the worker's limits
# do not add up over (each gets its own address space cap), and an exec leaves the sandbox's
# code behind. No lab computes anything with one.
PROCESS_ATTRIBUTES = {
    "system", "popen", "startfile", "fork", "forkpty", "register_at_fork",
    "posix_spawn", "posix_spawnp", "spawnl", "spawnle", "spawnlp", "spawnlpe",
    "spawnv", "spawnve", "spawnvp", "spawnvpe",
    "execl", "execle", "execlp", "execlpe", "execv", "execve", "execvp", "execvpe",
    "subprocess", "Popen", "check_output", "check_call", "getoutput", "getstatusoutput",
    "fork_exec", "pty", "multiprocessing", "ProcessPoolExecutor", "concurrent", "asyncio",
    "create_subprocess_exec", "create_subprocess_shell", "ctypes", "cffi",
    "kill", "killpg", "pidfd_open", "pidfd_send_signal", "unshare", "setns",
    "resource", "setrlimit", "prlimit",
}
HARMLESS_DUNDERS = {"__init__", "__name__", "__doc__", "__len__", "__call__", "__repr__",
                    "__str__", "__eq__", "__hash__", "__iter__", "__next__", "__enter__",
                    "__exit__", "__class__", "__main__"}
# Dunder names a tidy module or class defines for itself (``__all__ = [...]``, a class's
# ``__slots__``): plain data of the file's own, reaching nothing. (A bare ``spawn`` is not a
# process attribute either: NumPy's ``Generator.spawn`` and ``SeedSequence.spawn`` split
# random streams, and the modules whose ``spawn`` starts one, pty, multiprocessing and
# distutils, are refused by name.)
OWN_DUNDER_NAMES = {"__all__", "__slots__", "__version__", "__author__", "__license__"}


# Names of the student's own objects, whose private attributes are theirs to use
OWN_OBJECTS = ("self", "cls", "ctx")
# Private names a lab file may use on any object: minnet's documented way to write an op
# (docs/autograd.md: ``a._data``, ``Tensor._from_op``) and namedtuple's public methods
DOCUMENTED_PRIVATE = {"_data", "_from_op", "_replace", "_asdict", "_fields", "_make"}
# Private names that are read and called, never written: minnet builds every graph node
# through ``Tensor._from_op`` and the grader records the ops there (which op made a result),
# so a lab file that rebinds it, even through a method's ``self``, rewrites that record.
NEVER_WRITTEN = {"_from_op"}

# The grader's own package: a student file has no business there (its modules hold os, signal...)
GRADER_PACKAGE = "minnet.grading"


def _private_module(module: str) -> bool:
    """``numpy._pytesttester``: a library's private module (its helpers import os, sys...)."""
    return any(part.startswith("_") for part in module.split(".") if part != "__future__")


def _grader_module(module: str) -> bool:
    return module == GRADER_PACKAGE or module.startswith(GRADER_PACKAGE + ".")


_MODULE_WHY = ("a private module or the grader's own package is not for lab files: use "
               "the library's public API")


_PROCESS_WHY = ("starting, replacing or signalling processes is not allowed in lab files: "
                "the work runs in this one")


def _root(module: str) -> str:
    return module.split(".", 1)[0]


def _own_object(attribute, parents, method_only: bool = False) -> bool:
    """``self._cache`` in a method whose first parameter is ``self`` (or ``cls``, ``ctx``),
    without a default and never rebound: the student's own object. Anything else
    (``t = np.testing; t._private``, ``def f(self=np.testing)``) is another library's.
    ``method_only``: the function must be defined in a class body (a module-level
    ``def patch(cls): cls._x = ...`` called as ``patch(Tensor)`` writes a library's class)."""
    root = attribute
    while isinstance(root, ast.Attribute):
        root = root.value
    if not isinstance(root, ast.Name) or root.id not in OWN_OBJECTS:
        return False
    node = attribute
    while node in parents:
        node = parents[node]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            arguments = node.args
            positional = [*arguments.posonlyargs, *arguments.args]
            if positional and positional[0].arg == root.id:
                if method_only and not isinstance(parents.get(node), ast.ClassDef):
                    return False
                return len(arguments.defaults) < len(positional) and not any(
                    isinstance(inner, ast.Name) and inner.id == root.id
                    and isinstance(inner.ctx, (ast.Store, ast.Del)) for inner in ast.walk(node))
    return False


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

    forbidden = set(forbidden)
    parents = {child: parent for parent in ast.walk(tree) for child in ast.iter_child_nodes(parent)}
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
                elif alias.name in PROCESS_ATTRIBUTES:
                    problem(node, imported, _PROCESS_WHY)
                elif alias.name == "*":
                    problem(node, imported, "a star import hides which names the file uses: "
                                            "import the names you need")
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
            if isinstance(node.ctx, (ast.Store, ast.Del)) and node.attr.startswith("_") and (
                    node.attr in NEVER_WRITTEN or not _own_object(node, parents, True)):
                # assigned, augmented, deleted, a for/with target: only a method's own
                # self/cls; reading and calling the documented names stays allowed
                problem(node, f"`.{node.attr}` written", "a library's (or another object's) "
                                                         "private parts are not for lab files "
                                                         "to change: only a method's own self")
            elif node.attr.startswith("__") and node.attr not in HARMLESS_DUNDERS:
                problem(node, f"`.{node.attr}`", "reaching into Python's machinery is not "
                                                 "allowed in lab files")
            elif node.attr in ("_getframe", "f_back", "f_globals", "f_locals", "gi_frame",
                               "tb_frame", "cr_frame"):
                problem(node, f"`.{node.attr}`", "inspecting frames is not allowed in lab files")
            elif node.attr in PROCESS_ATTRIBUTES:
                # no exemption for self: `def f(self): return self.system` called as f(os)
                problem(node, f"`.{node.attr}`", _PROCESS_WHY)
            elif node.attr in FORBIDDEN_ATTRIBUTES and not (
                    node.attr in FILE_ATTRIBUTES and _own_object(node, parents, True)):
                problem(node, f"`.{node.attr}`", "reaching the operating system or the "
                                                 "interpreter through another module is not "
                                                 "allowed in lab files")
            elif node.attr.startswith("_") and not node.attr.startswith("__") \
                    and node.attr not in DOCUMENTED_PRIVATE and not _own_object(node, parents):
                # any root, not only an import's name: `t = np.testing; t._private...` too;
                # writing one (out._parents = ()) would rewrite how a library's object was made
                problem(node, f"`.{node.attr}`", "a library's (or another object's) private "
                                                 "parts are not for lab files: use its "
                                                 "public API")
        elif isinstance(node, ast.MatchClass):
            # `case object(posix_spawn=spawn):` looks an attribute up by the keyword's name
            for name in node.kwd_attrs:
                if name.startswith("_") or name in FORBIDDEN_ATTRIBUTES \
                        or name in PROCESS_ATTRIBUTES:
                    problem(node, f"`{name}=` in a class pattern", "a pattern that reads an "
                                                                   "attribute follows the "
                                                                   "attribute rules: refused")
        elif isinstance(node, ast.Name):
            if node.id in FORBIDDEN_CALLS:
                problem(node, f"`{node.id}`", "running code given as text or looking names up "
                                              "by string is not allowed in lab files")
            elif node.id.startswith("__") and node.id not in HARMLESS_DUNDERS \
                    and node.id != "__file__" and node.id not in OWN_DUNDER_NAMES:
                problem(node, f"`{node.id}`", "reaching into Python's machinery is not "
                                              "allowed in lab files")
    return problems
