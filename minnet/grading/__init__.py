"""Grading minnet's labs: what graded tests call, and the pytest plugin that scores them.

In a graded test (``labs/NN_lab/test_*.py``)::

    import pytest
    from minnet.grading import student, reference, expect_close, expect_backward

    @pytest.mark.points(4)
    def test_affine(credit):
        layers = student(__file__, "layers")      # labs/NN_lab/layers.py
        ref = reference(__file__, "layers")       # labs/source/NN_lab/layers.py
        with credit.part(2, "forward output"):
            expect_close("affine_forward out", layers.affine_forward(x, w, b)[0],
                         ref.affine_forward(x, w, b)[0])
        with credit.part(2, "backward matches finite differences"):
            expect_backward(layers.affine_forward, layers.affine_backward, x, w, b)

The plugin (``minnet.grading.plugin``, loaded by ``labs/conftest.py``) adds the
markers ``points(n)``, ``timeout(s)`` and ``hidden``, the ``credit`` fixture,
runs every graded test in its own child process with a time and memory limit,
and ends with a grade table (``--grade-json PATH`` for Gradescope).

Instructor commands: ``minnet labs release|check|mutants`` and ``minnet grade``
(see docs/instructors.md).
"""
from .expect import (
    LabFailure,
    expect,
    expect_at_least,
    expect_at_most,
    expect_backward,
    expect_close,
    expect_exact,
    expect_finding,
    expect_gradcheck,
    expect_no_errors,
    expect_no_finding,
    student_picture,
)
from .loading import reference, student

__all__ = [
    "student", "reference", "LabFailure", "expect", "expect_close", "expect_exact", "expect_at_least",
    "expect_at_most", "expect_backward",
    "expect_gradcheck", "expect_no_errors", "expect_finding", "expect_no_finding",
    "student_picture",
]
