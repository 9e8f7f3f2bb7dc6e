"""Gradient checking: compare analytic gradients with finite differences.

* ``gradcheck(fn, inputs)``   -- minnet functions of Tensors and Modules (autograd).
* ``check_backward(forward, backward, *arrays)`` -- hand-written NumPy layers
  (CS231n style: ``forward(*arrays) -> (out, cache)``, ``backward(dout, cache)``).
* ``numerical_gradient``, ``numerical_gradient_array``, ``rel_error`` -- the raw
  pieces for labs.

Both checkers return a ``GradcheckResult``: truthy iff passed, printable as a
report that names the likely bug when the check fails. See docs/gradcheck.md.

Files: ``numeric.py`` (finite differences, rel_error), ``compare.py`` (the
entry-by-entry comparison and kink detection), ``diagnose.py`` (naming the
bug), ``result.py`` (result objects and the report), ``tensor_check.py`` and
``numpy_check.py`` (the two front ends).
"""
from .numeric import numerical_gradient, numerical_gradient_array, rel_error
from .numpy_check import check_backward
from .result import (
    Diagnosis,
    Entry,
    GradcheckError,
    GradcheckResult,
    GradcheckWarning,
    InputCheck,
)
from .tensor_check import gradcheck

__all__ = [
    "gradcheck", "check_backward", "numerical_gradient", "numerical_gradient_array",
    "rel_error", "GradcheckResult", "InputCheck", "Diagnosis", "Entry", "GradcheckError",
    "GradcheckWarning",
]
