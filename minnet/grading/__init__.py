"""Grading minnet's labs: what graded tests call, and the pytest plugin that scores them.

A graded test (``labs/NN_lab/test_*.py``) is marked ``@pytest.mark.points(n)``, loads the
student's file with ``sandboxed``/``student`` and the reference with ``reference``, splits
its points with the ``credit`` fixture and checks with ``expect_*``, whose messages are the
feedback. The plugin (``minnet.grading.plugin``, loaded by ``labs/conftest.py``) runs each
test in a child process with limits and ends with a grade table. Instructor commands:
``minnet labs release|check|mutants`` and ``minnet grade`` (docs/instructors.md; an
example test and the design of each module: docs/grading_internals.md).
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
