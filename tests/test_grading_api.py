"""minnet.grading's test-facing API: loading by path, the expect_* feedback, credit parts."""
import os
import time

import numpy as np
import pytest

import minnet
from minnet.debug.report import Finding, Report
from minnet.grading import (LabFailure, expect, expect_backward, expect_close, expect_finding,
                            expect_gradcheck, expect_no_errors, expect_no_finding, reference,
                            student)
from minnet.grading.credit import Credit, GradingSetupError


# --------------------------------------------------------------------------
# student() / reference()
# --------------------------------------------------------------------------
@pytest.fixture
def lab(tmp_path):
    """labs/07_toy/{test_toy.py, toy.py} and labs/source/07_toy/toy.py."""
    released = tmp_path / "labs" / "07_toy"
    source = tmp_path / "labs" / "source" / "07_toy"
    released.mkdir(parents=True)
    source.mkdir(parents=True)
    (released / "toy.py").write_text("def answer():\n    return 'student'\n")
    (source / "toy.py").write_text("def answer():\n    return 'reference'\n")
    test_file = released / "test_toy.py"
    test_file.write_text("")
    return test_file


def test_student_and_reference_load_the_right_files_under_distinct_names(lab):
    mine, solution = student(lab, "toy"), reference(lab, "toy")
    assert mine.answer() == "student" and solution.answer() == "reference"
    assert mine.__name__ != solution.__name__
    assert mine.__name__.endswith("07_toy.toy")


def test_reference_from_a_hidden_test_in_the_source_folder(lab):
    hidden = lab.parent.parent / "source" / "07_toy" / "test_hidden_toy.py"
    assert reference(hidden, "toy").answer() == "reference"


def test_a_changed_file_is_reloaded(lab):
    assert student(lab, "toy").answer() == "student"
    path = lab.parent / "toy.py"
    path.write_text("def answer():\n    return 'edited, and longer'\n")
    stamp = time.time() + 5
    os.utime(path, (stamp, stamp))
    assert student(lab, "toy").answer() == "edited, and longer"


def test_a_syntax_error_becomes_feedback_with_the_line(lab):
    (lab.parent / "toy.py").write_text("def answer():\n    return (1 +\n\nx = 3\n")
    with pytest.raises(LabFailure, match=r"toy.py could not be imported: SyntaxError at line \d"):
        student(lab, "toy")


def test_an_error_at_import_names_the_line(lab):
    (lab.parent / "toy.py").write_text("x = 1\nraise NotImplementedError('setup: your code')\n")
    with pytest.raises(LabFailure, match=r"NotImplementedError: setup: your code \(line 2"):
        student(lab, "toy")


def test_a_missing_student_file_is_feedback(lab):
    (lab.parent / "toy.py").unlink()
    with pytest.raises(LabFailure, match="is missing"):
        student(lab, "toy")


# --------------------------------------------------------------------------
# expect_close
# --------------------------------------------------------------------------
def test_expect_close_passes_within_tolerance():
    expect_close("x", np.array([1.0, 2.0]) + 1e-9, np.array([1.0, 2.0]))
    expect_close("tensor", minnet.tensor(np.array([1.0, 2.0])), [1.0, 2.0])


def test_expect_close_lists_the_worst_entries():
    expected = np.arange(12.0).reshape(3, 4)
    actual = expected.copy()
    actual[2, 1] += 0.5
    actual[0, 3] -= 3.0
    with pytest.raises(LabFailure) as error:
        expect_close("affine out", actual, expected)
    text = str(error.value)
    assert "2 of 12 entries differ" in text
    lines = text.splitlines()
    worst = next(i for i, line in enumerate(lines) if "index" in line)
    assert "[0, 3]" in lines[worst + 1] and "[2, 1]" in lines[worst + 2]


@pytest.mark.parametrize("actual, expected, pattern", [
    (np.zeros((4, 3)), np.zeros((3, 4)), r"shape \(4, 3\), expected \(3, 4\)\. It is the transpose"),
    (np.zeros((5, 1)), np.zeros(5), r"extra axis of size 1"),
    (np.zeros((2, 3, 4)), np.zeros((3, 4)), r"sum over the batch axis"),
    (np.array([1, 2]), np.array([1.0, 2.0]), r"dtype int\d+, expected floating point"),
    (np.array([1.0, np.nan]), np.array([1.0, 2.0]), r"1 of 2 entries are nan .*first at \[1\]"),
    (None, np.zeros(2), r"got None"),
    ("abc", np.zeros(2), r"expected a NumPy array .* got a str"),
    (-np.arange(1.0, 4.0), np.arange(1.0, 4.0), r"opposite sign"),
    (np.arange(1.0, 4.0) / 8, np.arange(1.0, 4.0), r"0\.125 times the expected value"),
    (np.zeros(3), np.arange(1.0, 4.0), r"every entry is 0 where .* nothing was computed"),
])
def test_expect_close_explains_the_mismatch(actual, expected, pattern):
    with pytest.raises(LabFailure, match=pattern):
        expect_close("out", actual, expected)


def test_expect_close_scalar():
    with pytest.raises(LabFailure, match=r"got 2\.5, expected 2\.3"):
        expect_close("loss", 2.5, 2.3)


def test_expect_is_a_plain_check():
    expect(True, "never shown")
    with pytest.raises(LabFailure, match="^the loss should fall$"):
        expect(False, "the loss should fall")
    assert issubclass(LabFailure, AssertionError)


# --------------------------------------------------------------------------
# gradient checks
# --------------------------------------------------------------------------
def _affine_forward(x, w):
    return x @ w, (x, w)


def _affine_backward(dout, cache):
    x, w = cache
    return dout @ w.T, x.T @ dout


def _affine_backward_wrong(dout, cache):
    x, w = cache
    return dout @ w.T, 2 * x.T @ dout


def test_expect_backward():
    rng = np.random.default_rng(0)
    x, w = rng.standard_normal((3, 5)), rng.standard_normal((5, 2))
    assert expect_backward(_affine_forward, _affine_backward, x, w)
    with pytest.raises(LabFailure) as error:
        expect_backward(_affine_forward, _affine_backward_wrong, x, w, name="affine")
    text = str(error.value)
    assert text.startswith("affine: the analytic gradient does not match")
    assert "FAILED" in text and "w" in text


def test_expect_backward_setup_error_is_feedback():
    with pytest.raises(LabFailure, match="(?s)could not run.*pair"):
        expect_backward(lambda x: x, _affine_backward, np.ones((2, 2)))


def test_expect_gradcheck():
    x = minnet.tensor(np.linspace(-1, 1, 6), dtype=np.float64, requires_grad=True)
    assert expect_gradcheck(lambda t: (t * t).sum(), (x,))
    with pytest.raises(LabFailure, match="(?s)could not run.*NumPy array"):
        expect_gradcheck(lambda t: t.sum(), np.ones(3), name="sum")


# --------------------------------------------------------------------------
# debugger reports
# --------------------------------------------------------------------------
def _report(*codes_and_severities):
    return Report([Finding(code, f"{code} seen", severity=severity, layer="net.1 (ReLU)",
                           evidence={"dead_fraction": 0.7})
                   for code, severity in codes_and_severities])


def test_expect_no_errors_lists_the_errors():
    expect_no_errors(_report(("activation.dead_relu", "warning")))
    with pytest.raises(LabFailure) as error:
        expect_no_errors(_report(("loss.nonfinite", "error"), ("activation.dead_relu", "warning")),
                         what="the repaired run")
    text = str(error.value)
    assert text.startswith("the repaired run: the debugger still reports 1 error(s)")
    assert "loss.nonfinite" in text and "dead_relu" not in text
    assert "docs/checklist.md#lossnonfinite" in text and "fix:" in text


def test_expect_finding_and_no_finding():
    report = _report(("activation.dead_relu", "warning"))
    expect_finding(report, "activation.dead_relu")
    expect_no_finding(report, "grad.exploding")
    expect_finding(list(report), "activation.dead_relu")  # monitor.findings() gives a list
    with pytest.raises(LabFailure, match="(?s)expected the debugger to report grad.exploding.*"
                                         "dead_relu"):
        expect_finding(report, "grad.exploding")
    with pytest.raises(LabFailure, match="still reports activation.dead_relu"):
        expect_no_finding(report, "activation.dead_relu")


# --------------------------------------------------------------------------
# credit parts
# --------------------------------------------------------------------------
def test_credit_parts_score_and_keep_going():
    credit = Credit(4, "test_affine")
    with credit.part(1, "forward"):
        pass
    with credit.part(2, "backward"):
        expect(False, "dx is wrong")
    with credit.part(1, "shapes"):
        raise NotImplementedError("affine_backward: your code here")
    assert credit.earned == 1
    with pytest.raises(LabFailure) as error:
        credit.finish()
    text = str(error.value)
    assert text.splitlines()[0] == "1 of 4 points:"
    assert "ok    1/1  forward" in text and "FAIL  0/2  backward" in text
    assert "dx is wrong" in text and "your code here" in text


def test_credit_parts_must_add_up():
    credit = Credit(4, "test_affine")
    with credit.part(3, "everything"):
        pass
    with pytest.raises(GradingSetupError, match=r"add up to 3 .*points\(4\)"):
        credit.finish()
    with pytest.raises(GradingSetupError, match="positive"):
        with credit.part(0, "nothing"):
            pass


def test_credit_all_parts_pass():
    credit = Credit(2, "t")
    with credit.part(1.5, "a"):
        pass
    with credit.part(0.5, "b"):
        pass
    credit.finish()
    assert credit.earned == 2


# --------------------------------------------------------------------------
# thresholds on training outcomes and their margins
# --------------------------------------------------------------------------
def test_expect_at_least_and_at_most_record_value_threshold_and_margin():
    from minnet.grading import expect_at_least, expect_at_most
    from minnet.grading.expect import THRESHOLDS_SEEN, threshold_slack

    THRESHOLDS_SEEN.clear()
    expect_at_least("val accuracy", 0.97, 0.9, margin=0.05)
    expect_at_most("final loss", 0.02, 0.1, margin=0.03)
    with pytest.raises(LabFailure, match=r"val accuracy is 0.8, expected >= 0.9. train longer"):
        expect_at_least("val accuracy", 0.8, 0.9, margin=0.05, hint="train longer")
    with pytest.raises(LabFailure, match="expected <= 0.1"):
        expect_at_most("final loss", float("nan"), 0.1, margin=0.03)
    with pytest.raises(LabFailure, match="expected a number"):
        expect_at_least("val accuracy", "high", 0.9, margin=0.05)
    assert [record["name"] for record in THRESHOLDS_SEEN] == [
        "val accuracy", "final loss", "val accuracy", "final loss"]
    slacks = [threshold_slack(record) for record in THRESHOLDS_SEEN]
    assert np.allclose(slacks[:3], [0.07, 0.08, -0.1])
    THRESHOLDS_SEEN.clear()


def test_labs_check_flags_a_threshold_met_by_less_than_its_margin():
    from minnet.grading.mutants import threshold_lines

    def entry(value):
        return {"name": "06_gradients: test_repair", "score": 2, "max_score": 2,
                "extra_data": {"thresholds": [{"name": "accuracy", "value": value,
                                               "threshold": 0.9, "direction": ">=",
                                               "margin": 0.05}]}}

    lines, thin = threshold_lines({"06_gradients": [entry(0.99)]}, ["06_gradients"])
    assert len(lines) == 1 and not thin and "slack 0.09" in lines[0]
    lines, thin = threshold_lines({"06_gradients": [entry(0.92)]}, ["06_gradients"])
    assert len(thin) == 1 and thin[0].lstrip().startswith("!")


def test_expect_close_hint_replaces_the_generic_guesses():
    from minnet.grading import expect_close

    with pytest.raises(LabFailure) as error:   # a constant factor, with the test's own hint
        expect_close("init std", np.array([2.0, 4.0]), np.array([1.0, 2.0]),
                     hint="std = gain / sqrt(fan_in)")
    assert "std = gain / sqrt(fan_in)" in str(error.value)
    assert "batch size" not in str(error.value)
    with pytest.raises(LabFailure) as error:   # non-finite entries, with the test's own hint
        expect_close("column means", np.array([np.nan, 1.0]), np.array([0.5, 1.0]),
                     hint="skip the missing entries (np.nanmean)")
    assert "np.nanmean" in str(error.value) and "log(0)" not in str(error.value)
    with pytest.raises(LabFailure) as error:   # without a hint the guess follows the factor
        expect_close("x", np.array([2.0, 4.0]), np.array([1.0, 2.0]))
    assert "a factor 2" in str(error.value) and "square" in str(error.value)
    with pytest.raises(LabFailure) as error:   # 8x: a sum over 8 where a mean was meant
        expect_close("loss", np.array([8.0, 16.0]), np.array([1.0, 2.0]))
    assert "a missing division by 8" in str(error.value) and "batch size" in str(error.value)
    with pytest.raises(LabFailure) as error:
        expect_close("loss", np.array([0.25, 0.5]), np.array([1.0, 2.0]))
    assert "an extra division by 4" in str(error.value)


def test_expect_exact_tells_finite_differences_from_a_derivation():
    from minnet.grading import expect_exact

    exact = np.linspace(-1.0, 1.0, 7)
    expect_exact("dx", exact * (1 + 1e-14), exact)
    with pytest.raises(LabFailure, match="do not differentiate numerically"):
        expect_exact("dx", exact + 1e-8, exact)
    with pytest.raises(LabFailure) as error:   # plainly wrong: no finite-difference hint
        expect_exact("dx", -exact, exact)
    assert "numerically" not in str(error.value)


def test_student_picture_reads_a_file_of_the_students_own_never_a_link(tmp_path):
    # a review kept a link to the reference's picture alive from a background process
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from minnet.grading import LabFailure, student_picture

    figure = plt.figure(figsize=(2, 1), dpi=50)
    figure.savefig(tmp_path / "mine.png")
    plt.close(figure)
    assert student_picture(tmp_path / "mine.png").shape[:2] == (50, 100)
    (tmp_path / "linked.png").symlink_to(tmp_path / "mine.png")
    with pytest.raises(LabFailure, match="file of your own"):
        student_picture(tmp_path / "linked.png")
    (tmp_path / "folder.png").mkdir()
    with pytest.raises(LabFailure):
        student_picture(tmp_path / "folder.png")



def test_grading_removes_what_tests_wrote_to_tmp_path(tmp_path):
    """What a student's code writes to tmp_path is removed when grading ends, not left in
    the system's /tmp (a review filled it with 360 MB per grading)."""
    import subprocess

    from minnet.grading.grade import pytest_command

    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "test_writes.py").write_text(
        "def test_writes(tmp_path):\n"
        "    (tmp_path / 'filler.txt').write_text('x' * 1000)\n"
        "    print('WROTE', tmp_path)\n")
    command = pytest_command(tree, None, None, extra=("-s",))
    run = subprocess.run(command, cwd=str(tmp_path), capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    written = next(line.split("WROTE ", 1)[1].strip() for line in run.stdout.splitlines()
                   if "WROTE " in line)
    assert written.endswith("test_writes0") and not os.path.exists(written)
