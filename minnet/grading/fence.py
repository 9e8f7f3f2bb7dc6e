"""Running a student's code with parts of minnet switched off.

A lab that asks for a backward pass derived by hand, a convolution written in
NumPy or an initialiser computed from its formula compares the student's result
with minnet's own. A student file that simply called minnet's version would pass
without a line of its own. While the student's code runs, the functions a lab
names here raise instead::

    with switched_off([minnet.tensor.run_backward], "lab 01: derive it by hand"):
        student_module.affine_backward(dout, cache)

    layers = Fenced(student(__file__, "layers"), blocked_functions, "lab 01: ...")
    layers.affine_backward(dout, cache)       # every call runs inside switched_off

The functions' code objects are swapped (and restored afterwards), so references
the student took at import time (``from minnet.ops.conv import conv2d``) are
switched off too. Only plain functions without closures can be switched off.
"""
from __future__ import annotations

import contextlib
import types
from typing import Callable, Iterable

_PLACEHOLDER = "minnet.grading.fence: switched off"


def _switched_off_template(*args, **kwargs):
    raise RuntimeError("minnet.grading.fence: switched off")


def _raising_code(message: str) -> types.CodeType:
    """A code object that raises ``RuntimeError(message)`` whatever it is called with.

    The message is a constant of the code itself: a swapped-in code object runs
    with the globals of the function it replaced, so it cannot look anything up.
    """
    code = _switched_off_template.__code__
    return code.replace(co_consts=tuple(message if const == _PLACEHOLDER else const
                                        for const in code.co_consts))


_active: dict = {}   # function -> its own code object, while switched off
_depth = [0]         # nested switched_off blocks: only the outermost swaps and restores


@contextlib.contextmanager
def switched_off(functions: Iterable[Callable], message: str):
    """While the block runs, each of ``functions`` raises ``RuntimeError(message)``."""
    if _depth[0] == 0:
        raising = _raising_code(message)
        for function in functions:
            if not isinstance(function, types.FunctionType) or function.__code__.co_freevars:
                raise TypeError(f"switched_off(): {function!r} is not a plain function "
                                f"without closures; its code cannot be swapped")
            _active[function] = function.__code__
        for function in _active:
            function.__code__ = raising
    _depth[0] += 1
    try:
        yield
    finally:
        _depth[0] -= 1
        if _depth[0] == 0:
            for function, code in _active.items():
                function.__code__ = code
            _active.clear()


class Fenced:
    """A student's module whose functions each run inside ``switched_off``.

    ``blocked``: a function returning the functions to switch off (called at each
    call, so that modules are imported only when needed); ``message``: what the
    student reads when their code reaches one of them.
    """

    def __init__(self, module: types.ModuleType, blocked: Callable[[], list], message: str):
        self._module, self._blocked, self._message = module, blocked, message

    def __getattr__(self, name: str):
        value = getattr(self._module, name)
        if not callable(value):
            return value

        def fenced(*args, **kwargs):
            with switched_off(self._blocked(), self._message):
                return value(*args, **kwargs)

        fenced.__name__ = getattr(value, "__name__", name)
        return fenced


def gradient_machinery() -> list:
    """minnet's autograd engine and its numerical-gradient helpers."""
    import importlib

    numeric = importlib.import_module("minnet.gradcheck.numeric")
    return [importlib.import_module("minnet.tensor").run_backward,
            numeric.numerical_gradient, numeric.numerical_gradient_array]
