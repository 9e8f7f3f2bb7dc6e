"""Patterns in the labs' graded tests that let a student's value skip a check (read, not run)."""
import ast
import glob
import os

LABS = os.path.join(os.path.dirname(__file__), os.pardir, "labs")
# the names the lab tests give the student's sandboxed module
STUDENT_MODULES = {"lab", "mine", "ops", "layers", "module"}


def lab_test_files():
    files = (glob.glob(os.path.join(LABS, "[0-9]*", "test_*.py"))
             + glob.glob(os.path.join(LABS, "source", "[0-9]*", "test_hidden_*.py")))
    assert len(files) >= 12
    return sorted(files)


def calls_the_student(node) -> bool:
    """``mine.f(...)`` (or ``lab.``, ``ops.``...) anywhere inside ``node``."""
    return any(isinstance(inner, ast.Call) and isinstance(inner.func, ast.Attribute)
               and isinstance(inner.func.value, ast.Name)
               and inner.func.value.id in STUDENT_MODULES for inner in ast.walk(node))


def test_no_lab_test_zips_over_what_the_students_code_returned():
    """``for got, want in zip(mine.f(x), ref.f(x))`` checks nothing when ``mine.f`` returns an
    empty tuple: zip stops at the shortest. Lab 08's fit_standardizer and lab 12's
    compose_linear scored a part each that way (returning () for any input but the literal
    one). Unpack the student's value, or check its length, before zipping."""
    found = []
    for path in lab_test_files():
        with open(path, encoding="utf-8") as file:
            tree = ast.parse(file.read())
        for node in ast.walk(tree):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id == "zip" and any(calls_the_student(arg)
                                                      for arg in node.args)):
                found.append(f"{os.path.relpath(path, LABS)}:{node.lineno}")
    assert not found, f"zip over a student's result (unpack it first): {found}"
