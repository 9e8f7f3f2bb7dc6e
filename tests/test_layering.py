"""minnet's layers, read from the import statements of every module in minnet/ (ast, nothing
imported), so that they stay as docs/reading.md and issue 13 describe them:

* core (tensor, engine, autograd, anomaly, ops, nn, optim, data, utils, gradcheck,
  kernels, random, serialization, fileio) never imports the debugger, the visualisers, the scenarios or
  the grader;
* ``minnet.kernels`` is the ground floor: it imports nothing else of minnet;
* ``minnet.viz`` draws arrays and records: it never imports ``minnet.debug``,
  ``minnet.scenarios`` or ``minnet.grading``;
* no import cycles between modules;
* ``import minnet`` does not load the debugger.

How an import counts:

* Every import counts, wherever it is written: at module level or inside a function (a
  lazy import delays a dependency, it does not remove it). Imports under
  ``if TYPE_CHECKING:`` do not count (they never run).
* One exception, for cycles only: the ``Tensor`` methods in ``minnet/tensor.py`` are
  one-line forwards to the core module that does the work (``x.relu()`` ->
  ``ops.activation.relu(x)``, ``x.backward()`` -> ``engine.run_backward``, ``x.grad_fn``
  -> ``autograd.Node``, ``x.normal_()`` -> ``nn.init.normal_``), importing it inside the
  method. Those function-level imports from tensor.py into core modules are left out of
  the cycle check; module-level imports of tensor.py and every other module count.
* ``from package import name`` depends on ``package.name`` when that is a module (a file
  or a folder in minnet/), else on ``package``. An import depends on the module it names,
  not on the packages above it (whose ``__init__`` Python also runs).
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "minnet"

CORE = ("minnet.tensor", "minnet.engine", "minnet.autograd", "minnet.anomaly", "minnet.ops", "minnet.nn", "minnet.optim",
        "minnet.data", "minnet.utils", "minnet.gradcheck", "minnet.kernels", "minnet.random",
        "minnet.serialization", "minnet.fileio")
UPPER = ("minnet.debug", "minnet.viz", "minnet.scenarios", "minnet.grading")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def within(name: str, prefixes) -> bool:
    """Whether module ``name`` is one of ``prefixes`` or inside one of them."""
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _absolute(module: str, node: ast.ImportFrom) -> str:
    """The absolute name ``from <node.module> import ...`` refers to, inside ``module``."""
    if not node.level:
        return node.module or ""
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    for _ in range(node.level - 1):
        package = package.rpartition(".")[0]
    return f"{package}.{node.module}" if node.module else package


def imports_of(module: str) -> list:
    """``(imported minnet module, line, lazy)`` for every import statement of ``module``."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"), str(MODULES[module]))
    found = []

    def visit(node, lazy: bool):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking_only(child):
                for other in child.orelse:
                    visit_statement(other, lazy)
                continue
            visit_statement(child, lazy)

    def visit_statement(child, lazy: bool):
        if isinstance(child, ast.Import):
            for alias in child.names:
                add(alias.name, child.lineno, lazy)
        elif isinstance(child, ast.ImportFrom):
            base = _absolute(module, child)
            for alias in child.names:
                full = f"{base}.{alias.name}"
                add(full if full in MODULES else base, child.lineno, lazy)
        else:
            inner = lazy or isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef,
                                               ast.Lambda))
            visit(child, inner)

    def add(name: str, line: int, lazy: bool):
        if not within(name, ("minnet",)):
            return
        while name not in MODULES and "." in name:  # `import minnet.ops.x.y` of a name
            name = name.rpartition(".")[0]
        if name != module:
            found.append((name, line, lazy))

    visit(tree, False)
    return found


IMPORTS = {module: imports_of(module) for module in MODULES}


def where(module: str, line: int) -> str:
    return f"{MODULES[module].relative_to(ROOT)}:{line}"


def forbidden(importers, imported) -> list:
    return [f"{where(module, line)}: {module} imports {name}"
            for module, found in IMPORTS.items() if within(module, importers)
            for name, line, _ in found if within(name, imported)]


def test_the_scan_sees_the_package():
    """The test reads real imports (guards against a scan that finds nothing)."""
    assert {"minnet.tensor", "minnet.nn.module", "minnet.debug.monitor",
            "minnet.kernels.stats"} <= set(MODULES)
    assert any(name == "minnet.tensor" for name, _, _ in IMPORTS["minnet.nn.module"])


def test_core_never_imports_the_debugger_viz_scenarios_or_grader():
    assert forbidden(CORE, UPPER) == []


def test_kernels_import_nothing_else_of_minnet():
    found = [f"{where(module, line)}: {module} imports {name}"
             for module, imports in IMPORTS.items() if within(module, ("minnet.kernels",))
             for name, line, _ in imports if not within(name, ("minnet.kernels",))]
    assert found == []


def test_viz_is_a_drawing_layer_below_the_debugger():
    assert forbidden(("minnet.viz",), ("minnet.debug", "minnet.scenarios", "minnet.grading")) \
        == []


def graph() -> dict:
    """Module -> the minnet modules it imports (edges of the cycle check)."""
    edges = {module: set() for module in MODULES}
    for module, imports in IMPORTS.items():
        for name, _, lazy in imports:
            if module == "minnet.tensor" and lazy and within(name, CORE):
                continue  # Tensor methods forwarding to the core (see the docstring)
            edges[module].add(name)
    return edges


def cycles(edges: dict) -> list:
    """The strongly connected components with more than one module (Tarjan), sorted."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []
    counter = [0]

    def connect(node):
        index[node] = low[node] = counter[0]
        counter[0] += 1
        stack.append(node)
        on_stack.add(node)
        for target in sorted(edges.get(node, ())):
            if target not in index:
                connect(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(edges)))
    for node in sorted(edges):
        if node not in index:
            connect(node)
    return sorted(found)


def test_the_cycle_finder_finds_a_cycle():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_between_modules():
    edges = graph()
    report = []
    for component in cycles(edges):
        members = set(component)
        report.append(" <-> ".join(component) + ": " + "; ".join(dict.fromkeys(
            f"{where(module, line)} imports {name}" for module in component
            for name, line, _ in IMPORTS[module] if name in members and name in edges[module])))
    assert report == [], "\n".join(report)


@pytest.mark.parametrize("statement", ["import minnet", "import minnet.nn, minnet.optim"])
def test_import_minnet_does_not_load_the_debugger(statement):
    code = (f"import sys; {statement}; "
            "print(sorted(m for m in sys.modules if m.startswith(('minnet.debug', 'minnet.viz', "
            "'minnet.scenarios', 'minnet.grading'))))")
    environment = dict(os.environ, PYTHONPATH=str(ROOT))
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=str(ROOT), env=environment, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]", result.stdout


def missing_modules(module: str) -> list:
    """``from minnet.x import y`` / ``import minnet.x`` naming a module that does not exist.

    Such an import fails only when it runs; inside a function behind a broad ``except``
    (optional evidence, a fallback) it fails silently, as a check's anomaly replay did
    when anomaly mode moved into the core.
    """
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"), str(MODULES[module]))
    missing = []
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            names = [_absolute(module, node)]
        elif isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            continue
        missing += [f"{where(module, node.lineno)}: {name}" for name in names
                    if within(name, ("minnet",)) and name not in MODULES]
    return missing


def test_every_import_of_minnet_names_an_existing_module():
    assert [entry for module in MODULES for entry in missing_modules(module)] == []
