"""Gradient checking: compare analytic gradients with finite differences.

``gradcheck(fn, inputs)`` checks minnet functions and Modules (autograd);
``check_backward(forward, backward, *arrays)`` hand-written NumPy layers (CS231n
style); ``numerical_gradient``, ``numerical_gradient_array`` and ``rel_error`` are the
raw pieces for labs. Both checkers return a ``GradcheckResult`` (truthy iff passed)
whose report names the likely bug. Files: numeric.py, compare.py, diagnose.py,
result.py, and the two front ends tensor_check.py, numpy_check.py. See docs/gradcheck.md.
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
