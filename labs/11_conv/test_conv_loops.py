"""Graded tests of lab 11: the naive convolution is written with loops, the fast one without.

`pytest labs/11_conv`. The values of both versions are graded in test_conv.py; this file
reads the source of your conv_layers.py (it does not run it): the naive functions must walk
the windows in nested Python loops, and the fast ones must compute the convolution with a
matrix product and no Python loop of their own (im2col and col2im may loop over the kh * kw
kernel offsets, as the README says). A naive version that calls the fast one, or a fast one
that calls the naive one or loops over windows, would pass the value tests without the lesson.
Names prove nothing (a renamed copy of im2col is im2col): whatever the naive functions reach in
the file must hold no strided window view, and no matrix product but one of a single window
inside the naive function's own loops over the output positions (np.dot(window.ravel(),
w[f].ravel()) is a window at a time); each must multiply a window inside two loops that walk
the output.
"""
import ast
from pathlib import Path
from types import SimpleNamespace

import pytest

from minnet.grading import expect

NAIVE = ("conv_forward_naive", "conv_backward_naive")
FAST = ("conv_forward_fast", "conv_backward_fast")
VECTORISED_HELPERS = ("conv_forward_fast", "conv_backward_fast", "im2col", "col2im")
MATRIX_PRODUCTS = ("dot", "matmul", "tensordot", "einsum", "inner")
# what turns a convolution into one vectorised call: none of it in the naive versions' reach
VECTORISED_CALLS = MATRIX_PRODUCTS + ("vdot", "as_strided", "sliding_window_view", "convolve",
                                      "correlate")
LOOPS = (ast.For, ast.While, ast.AsyncFor, ast.ListComp, ast.SetComp, ast.DictComp,
         ast.GeneratorExp)


def functions():
    """{name: ast.FunctionDef} of the student's conv_layers.py (top level)."""
    path = Path(__file__).with_name("conv_layers.py")
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except (OSError, SyntaxError, ValueError) as error:
        expect(False, f"conv_layers.py could not be read: {type(error).__name__}: {error}")
    found = {node.name: node for node in tree.body
             if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))}
    for node in tree.body:          # a top-level alias or lambda (f = conv_forward_fast) is
        if isinstance(node, ast.Assign):   # followed like a helper function
            for target in node.targets:
                if isinstance(target, ast.Name) and target.id not in found:
                    found[target.id] = SimpleNamespace(name=target.id, body=[node.value])
    return found


def own_nodes(function):
    """The nodes of ``function``'s body, nested functions and lambdas included."""
    for statement in function.body:
        yield from ast.walk(statement)


def loop_depth(node, depth=0):
    """The deepest nesting of for/while loops below ``node``."""
    here = depth + isinstance(node, (ast.For, ast.While, ast.AsyncFor))
    return max([here] + [loop_depth(child, here) for child in ast.iter_child_nodes(node)])


def called_names(function):
    names = set()
    for node in own_nodes(function):
        if isinstance(node, ast.Call):
            target = node.func
            if isinstance(target, ast.Name):
                names.add(target.id)
            elif isinstance(target, ast.Attribute):
                names.add(target.attr)
        elif isinstance(node, ast.Name):          # passed around, e.g. f = conv_forward_fast
            names.add(node.id)
    return names


def reachable(found, name):
    """The names ``name`` reaches through the file's own top-level functions: what it calls,
    what those call, and so on (a helper of the file is followed; a library call is not)."""
    seen, todo = set(), [name]
    while todo:
        for called in called_names(found[todo.pop()]) - seen:
            seen.add(called)
            if called in found:
                todo.append(called)
    return seen


def has_matrix_product(function):
    return any(isinstance(node, ast.BinOp) and isinstance(node.op, ast.MatMult)
               or isinstance(node, ast.Call) and (
                   getattr(node.func, "attr", None) in MATRIX_PRODUCTS
                   or getattr(node.func, "id", None) in MATRIX_PRODUCTS)
               for node in own_nodes(function))


def is_matrix_product(node):
    """``a @ b``, ``a @= b`` or a call of np.dot, np.matmul, np.tensordot, np.einsum, np.inner."""
    return (isinstance(node, (ast.BinOp, ast.AugAssign)) and isinstance(node.op, ast.MatMult)
            or isinstance(node, ast.Call) and (getattr(node.func, "attr", None) in MATRIX_PRODUCTS
                                               or getattr(node.func, "id", None) in MATRIX_PRODUCTS))


def vectorised_calls(function, per_window=()):
    """The lines of ``function`` with a matrix product (@, np.dot...) or a strided view of the
    windows (as_strided, sliding_window_view), whatever the function is called. ``per_window``:
    product nodes to let through, those inside the loops over the output positions (one
    window times the filter as ``np.dot(window.ravel(), w[f].ravel())`` is still a window at
    a time; public CS231n solutions write it so)."""
    allowed = {id(node) for node in per_window}
    return sorted({node.lineno for node in own_nodes(function)
                   if id(node) not in allowed and (
                       is_matrix_product(node)
                       or isinstance(node, ast.Call) and (
                           getattr(node.func, "attr", None) in VECTORISED_CALLS
                           or getattr(node.func, "id", None) in VECTORISED_CALLS))})


def walks_output(loop):
    """A for-loop over something other than a literal range (range(1) walks nothing)."""
    iterable = loop.iter
    literal_range = (isinstance(iterable, ast.Call) and getattr(iterable.func, "id", None) == "range"
                     and all(isinstance(arg, ast.Constant) for arg in iterable.args))
    return isinstance(loop, (ast.For, ast.AsyncFor)) and not literal_range


def products_in_loops(function, loop_variables_used=True):
    """The window products of ``function``: each multiplication (``*``, ``*=``, np.multiply, or
    a matrix product of the window) inside at least two nested for-loops that walk sizes, in a
    statement that uses those loops' variables (the window and the output position it is
    computed for). ``loop_variables_used=False``: any product inside those loops (a window cut
    out on the line before, ``np.einsum(..., window, w)``, counts as well)."""
    found = []

    def visit(node, loops, statement):
        if isinstance(node, ast.stmt):
            statement = node
        if isinstance(node, (ast.For, ast.AsyncFor, ast.While)):
            for child in ast.iter_child_nodes(node):
                inside = child in node.body or child in node.orelse
                visit(child, loops + [node] if inside else loops, statement)
            return
        product = (isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult)
                   or isinstance(node, ast.AugAssign) and isinstance(node.op, ast.Mult)
                   or isinstance(node, ast.Call) and "multiply" in (
                       getattr(node.func, "attr", None), getattr(node.func, "id", None))
                   or is_matrix_product(node))
        walking = [loop for loop in loops if walks_output(loop)]
        if product and len(walking) >= 2 and statement is not None:
            variables = {name.id for loop in walking for name in ast.walk(loop.target)
                         if isinstance(name, ast.Name)}
            used = {name.id for name in ast.walk(statement) if isinstance(name, ast.Name)}
            if variables & used or not loop_variables_used:
                found.append(node)
        for child in ast.iter_child_nodes(node):
            visit(child, loops, statement)

    for statement in function.body:
        visit(statement, [], None)
    return found


def expect_defined(found, name):
    expect(name in found, f"conv_layers.py has no top-level function {name}")
    stub = any(isinstance(node, ast.Raise) and "NotImplementedError" in ast.dump(node)
               for node in found[name].body)
    expect(not stub, f"{name} is not written yet (it raises NotImplementedError)")


@pytest.mark.points(1)
def test_naive_uses_loops(credit):
    found = functions()
    with credit.part(1, "conv_forward_naive and conv_backward_naive walk the windows in nested "
                        "loops and do not call the vectorised functions"):
        for name in NAIVE:
            expect_defined(found, name)
            depth = max(loop_depth(statement) for statement in found[name].body)
            expect(depth >= 2,
                   f"{name} has {'no loop' if depth == 0 else 'a single, unnested loop'}: the "
                   "naive convolution walks the windows with nested loops (images, filters, "
                   "output rows and columns), one window at a time")
            borrowed = sorted(reachable(found, name) & set(VECTORISED_HELPERS))
            expect(not borrowed,
                   f"{name} uses {', '.join(borrowed)} (directly or through a helper of the "
                   "file): the naive version is written with its own loops, independently "
                   "of the vectorised one")
            for helper in sorted(({name} | reachable(found, name)) & set(found)):
                # a product of one window inside the naive function's own loops over the
                # output positions is a window at a time; anywhere else it is the fast way
                lines = vectorised_calls(found[helper], per_window=products_in_loops(
                    found[helper], loop_variables_used=False) if helper == name else ())
                expect(not lines,
                       f"{name} reaches {helper}, which has a matrix product or a strided "
                       f"window view (line {', '.join(map(str, lines))}) outside the loops over "
                       "the output positions: the naive version multiplies each window by the "
                       "filter and sums, one window at a time, under whatever name")
            expect(products_in_loops(found[name]),
                   f"{name} multiplies no window inside its loops: the window times the filter "
                   "(or dout times the window, in the backward) belongs inside the loops over "
                   "the output positions (two nested loops at least, over the output's sizes)")


@pytest.mark.points(1)
def test_fast_has_no_loops(credit):
    found = functions()
    with credit.part(1, "conv_forward_fast and conv_backward_fast use a matrix product and no "
                        "Python loop (nor the naive functions)"):
        for name in FAST:
            expect_defined(found, name)
            loops = [node for node in own_nodes(found[name]) if isinstance(node, LOOPS)]
            expect(not loops,
                   f"{name} has a Python loop or comprehension (line {loops[0].lineno if loops else '?'}"
                   "): the fast version does the whole convolution with im2col/col2im and one "
                   "matrix product")
            borrowed = sorted(reachable(found, name) & set(NAIVE))
            expect(not borrowed, f"{name} calls {', '.join(borrowed)} (directly or through a "
                                 "helper of the file): the fast version must not fall back on "
                                 "the loops")
            expect(has_matrix_product(found[name]),
                   f"{name} has no matrix product (@, np.dot, np.matmul, np.tensordot, "
                   "np.einsum): the fast version is one matrix product over im2col's columns")
