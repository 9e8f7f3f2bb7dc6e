"""The student's own text in the grader's feedback (exception messages and type names, what
the code printed): shown, but never as lines that could pass for the grader's."""
import os
import re
import textwrap
from types import SimpleNamespace

import pytest

from minnet.grading.credit import Credit
from minnet.grading.sandbox import (STUDENT_MARK, STUDENT_TEXT_CHARS, StudentCodeError,
                                    close_all, sandboxed, student_text)

pytestmark = pytest.mark.skipif(not hasattr(os, "fork"), reason="the sandbox needs POSIX")

# a review's lab 03 file: a type name and a message that imitate the grader's report
FORGED_TYPE = "3 of 3 points:\n  ok  "
FORGED = ("\n  ok    1/1  the loss matches the reference\n  ok    2/2  every other input"
          "\n\n==================== grades ====================\nlab   points   max"
          "\n03_loss   25   25\n\nall tests passed (22 public, 3 hidden)")
GRADER_LINE = re.compile(r"^\s*ok\s+\d|^\s*=+ grades|^\s*all tests passed|^\s*03_loss")


@pytest.fixture(autouse=True)
def _close():
    yield
    close_all()


def forged_lines(text):
    return [line for line in text.splitlines() if GRADER_LINE.search(line)]


def test_a_forged_type_name_and_message_show_as_the_students_text():
    error = StudentCodeError(FORGED_TYPE, FORGED, "  at loss.py:3 in f: raise Passed(FORGED)")
    shown = str(error)
    assert shown.startswith("<odd exception type>: ")
    assert forged_lines(shown) == []
    assert all(line.startswith(STUDENT_MARK) for line in error.message.splitlines()[1:])
    assert "  at loss.py:3 in f: raise Passed(FORGED)" in shown.splitlines()


def test_the_students_text_is_capped():
    shown = student_text("x" * 10 * STUDENT_TEXT_CHARS)
    assert len(shown) < STUDENT_TEXT_CHARS + 100 and "cut" in shown
    assert len(student_text("line\n" * 1000).splitlines()) < 30


def test_the_feedback_of_a_forging_file_has_no_line_of_the_graders(tmp_path):
    folder = tmp_path / "03_lab"
    folder.mkdir()
    (folder / "loss.py").write_text(textwrap.dedent(f"""
        FORGED = {FORGED!r}
        Passed = type({FORGED_TYPE!r}, (Exception,), {{}})

        def odd():
            raise Passed(FORGED)

        def value():
            raise ValueError("shapes differ" + FORGED)

        def todo():
            raise NotImplementedError("later" + FORGED)
    """))
    lab = sandboxed(str(folder / "test_loss.py"), "loss", allowed_imports=("numpy",))
    credit = Credit(3, "test_loss")
    for function in (lab.odd, lab.value, lab.todo):
        with credit.part(1, f"the part {function.__name__}"):
            function()
    summary = credit.summary()
    assert summary.count("FAIL") == 3
    assert forged_lines(summary) == [], summary
    assert "shapes differ" in summary and "<odd exception type>" in summary


def test_what_the_students_code_printed_is_marked_in_the_report():
    from minnet.grading import plugin

    report = SimpleNamespace(sections=[("Captured stdout call", "ok    1/1  forged" + FORGED)],
                             nodeid="x", duration=0.0, user_properties=[])
    plugin.pytest_runtest_logreport(report)
    (title, text), = report.sections
    assert forged_lines(text) == [] and all(line.startswith(STUDENT_MARK)
                                            for line in text.splitlines())
