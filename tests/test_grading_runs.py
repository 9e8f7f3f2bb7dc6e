"""Grading runs end to end on a toy lab in tmp_path: the plugin (isolation, time limit, crash,
sys.exit, memory cap, partial credit, grade table, results.json), minnet grade and the mutant
bank. Each test starts pytest or minnet in a subprocess, as an instructor would."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from minnet.grading.isolation import CAN_FORK

pytestmark = [pytest.mark.skipif(not CAN_FORK, reason="grading isolation needs os.fork"),
              pytest.mark.slow]  # each test grades in a subprocess

SOLUTION = '''import numpy as np


def double(x):
    """x (N,) -> 2 x."""
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION
'''

TESTS = '''import numpy as np
import pytest
from minnet.grading import expect, expect_close, reference, student


@pytest.mark.points(3)
def test_double(credit):
    toy = student(__file__, "toy")
    with credit.part(1, "on [1, 2]"):
        expect_close("double([1, 2])", toy.double(np.array([1.0, 2.0])), [2.0, 4.0])
    with credit.part(2, "on random inputs"):
        x = np.random.default_rng(0).standard_normal(7)
        expect_close("double(x)", toy.double(x), reference(__file__, "toy").double(x))
'''

MISBEHAVING = '''import os
import sys
import numpy as np
import pytest
from minnet.grading import expect


@pytest.mark.points(1)
@pytest.mark.timeout(1)
def test_hang():
    while True:
        pass


@pytest.mark.points(1)
def test_segfault():
    import ctypes
    ctypes.string_at(0)


@pytest.mark.points(1)
def test_exit():
    sys.exit(3)


@pytest.mark.points(1)
def test_os_exit():
    os._exit(0)


@pytest.mark.points(1)
def test_huge_allocation():
    big = np.ones((1 << 30) // 8 * 4)  # 4 GB, far above --lab-memory
    expect(big.sum() > 0, "unreachable")


@pytest.mark.points(2)
def test_parts_do_not_add_up(credit):
    with credit.part(1, "only part"):
        pass


@pytest.mark.points(1)
def test_fine_after_all_that():
    expect(True, "")
'''


def make_lab(root: Path, student_code: str = None, hidden: bool = False) -> Path:
    """root/labs with lab 01_toy: source, released student file, tests, conftest."""
    labs = root / "labs"
    (labs / "source" / "01_toy").mkdir(parents=True)
    (labs / "01_toy").mkdir()
    (labs / "conftest.py").write_text("from minnet.grading.plugin import *  # noqa\n")
    (labs / "source" / "01_toy" / "toy.py").write_text(SOLUTION)
    (labs / "01_toy" / "test_toy.py").write_text(TESTS)
    if hidden:
        (labs / "source" / "01_toy" / "test_hidden_toy.py").write_text(
            TESTS.replace("def test_double", "def test_double_hidden"))
    (root / "pytest.ini").write_text("[pytest]\n")
    run(root, "-m", "minnet", "labs", "release")
    if student_code is not None:
        (labs / "01_toy" / "toy.py").write_text(student_code)
    return labs


def run(cwd: Path, *args, check: bool = True) -> subprocess.CompletedProcess:
    env = dict(os.environ, MINNET_GRADING_WARMUP="0", PYTHONDONTWRITEBYTECODE="1")
    result = subprocess.run([sys.executable, *args], cwd=cwd, env=env, capture_output=True,
                            text=True, timeout=180)
    if check and result.returncode not in (0, 1):
        raise AssertionError(f"{args} ended with {result.returncode}:\n{result.stdout}\n"
                             f"{result.stderr}")
    return result


def grade(cwd: Path, *extra, target: str = "labs") -> tuple:
    """pytest labs/ with --grade-json: (completed process, results.json as a dict)."""
    path = cwd / "results.json"
    result = run(cwd, "-m", "pytest", target, "-p", "no:cacheprovider", "--grade-json",
                 str(path), *extra)
    return result, json.loads(path.read_text())


def by_name(results: dict) -> dict:
    return {test["name"]: test for test in results["tests"]}


def test_partial_credit_table_and_results_json(tmp_path):
    # the literal check pasted in: its twin on other inputs scores nothing
    make_lab(tmp_path, student_code="import numpy as np\n\ndef double(x):\n"
                                    "    return np.array([2.0, 4.0]) if x.size == 2 else x\n")
    result, results = grade(tmp_path)
    test = by_name(results)["01_toy: test_double"]
    assert (test["score"], test["max_score"]) == (1.0, 3.0)
    assert "ok    1/1  on [1, 2]" in test["output"]
    assert "FAIL  0/2  on random inputs" in test["output"] and "7 of 7 entries" in test["output"]
    assert (results["score"], results["max_score"]) == (1.0, 3.0)
    assert test["visibility"] == "visible"
    assert "grades" in result.stdout and "01_toy" in result.stdout
    assert "all public tests passed" not in result.stdout
    assert "Traceback" not in result.stdout


def test_full_marks_says_all_public_tests_passed(tmp_path):
    # the hidden test in labs/source/ is not collected by `pytest labs`
    make_lab(tmp_path, student_code="def double(x):\n    return x + x\n", hidden=True)
    result, results = grade(tmp_path)
    assert results["score"] == results["max_score"] == 3.0
    assert [test["name"] for test in results["tests"]] == ["01_toy: test_double"]
    assert "all public tests passed" in result.stdout
    assert results["output"] == "all public tests passed"


def test_misbehaving_tests_end_at_zero_with_the_reason(tmp_path):
    labs = make_lab(tmp_path)
    (labs / "01_toy" / "test_misbehaving.py").write_text(MISBEHAVING)
    result, results = grade(tmp_path, "--lab-memory", "512",
                            target="labs/01_toy/test_misbehaving.py")
    tests = by_name(results)
    reasons = {
        "test_hang": "TIMEOUT",  # after 1 s, or 2 s of wall time when 2 tests run at once
        "test_segfault": "crashed: killed by signal 11 (SIGSEGV)",
        "test_exit": "sys.exit(3) called",
        "test_os_exit": "crashed: the process ended early",
        "test_huge_allocation": "MemoryError",
        "test_parts_do_not_add_up": "add up to 1 point(s)",
    }
    for name, reason in reasons.items():
        entry = tests[f"01_toy: {name}"]
        assert entry["score"] == 0, (name, entry)
        assert reason in entry["output"], (name, entry["output"])
    hang = tests["01_toy: test_hang"]["output"]
    assert "TIMEOUT after 1 s" in hang or "over its limit of 1 s" in hang, hang
    assert tests["01_toy: test_fine_after_all_that"]["score"] == 1.0
    assert results["max_score"] == 8.0 and results["score"] == 1.0
    assert "grades" in result.stdout


AT_ONCE = '''import os
import time
import pytest
from minnet.grading import expect


def started(name):
    with open(os.environ["STARTS_FILE"], "a") as starts:
        starts.write(name + "\\n")


@pytest.mark.points(1)
def test_a_first_in_order():
    started("a")
    time.sleep(0.5)


@pytest.mark.points(1)
def test_b_short_limit():
    started("b")
    expect(False, "b fails")


@pytest.mark.points(2)
@pytest.mark.timeout(30)
def test_c_long_limit():
    started("c")
    time.sleep(0.5)


@pytest.mark.points(1)
def test_d_last():
    started("d")
    os._exit(0)
'''


def test_two_tests_at_once_report_in_pytest_order(tmp_path):
    # two children at once: the test with the longest limit starts before the tests ahead of
    # it in the file (b waits for a free slot: a or c ended), yet the reports, the grades and
    # results.json keep pytest's order, and a crash still costs its own test only
    labs = make_lab(tmp_path)
    (labs / "01_toy" / "test_at_once.py").write_text(AT_ONCE)
    starts = tmp_path / "starts.txt"
    os.environ["STARTS_FILE"] = str(starts)
    try:
        result, results = grade(tmp_path, "--lab-jobs", "2", "-v",
                                target="labs/01_toy/test_at_once.py")
    finally:
        del os.environ["STARTS_FILE"]
    order = starts.read_text().split()
    assert sorted(order) == ["a", "b", "c", "d"] and set(order[:2]) == {"a", "c"}, order
    names = [test["name"] for test in results["tests"]]
    assert names == [f"01_toy: test_{name}" for name in
                     ("a_first_in_order", "b_short_limit", "c_long_limit", "d_last")]
    assert [test["score"] for test in results["tests"]] == [1.0, 0.0, 2.0, 0.0]
    assert "crashed: the process ended early" in results["tests"][3]["output"]
    lines = [line for line in result.stdout.splitlines()
             if line.startswith("labs/01_toy/test_at_once.py::")]
    assert [line.split("::")[1].split()[0] for line in lines] == [
        "test_a_first_in_order", "test_b_short_limit", "test_c_long_limit", "test_d_last"]


def test_tests_outside_labs_are_untouched(tmp_path):
    make_lab(tmp_path)
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_plain.py").write_text(
        "import os\n\ndef test_in_process():\n    assert os.getpid() == int(os.environ['PARENT'])\n")
    result = subprocess.run(
        [sys.executable, "-c", "import os, sys, pytest; os.environ['PARENT'] = str(os.getpid()); "
         "sys.exit(pytest.main(['tests', 'labs', '-q', '-p', 'no:cacheprovider']))"],
        cwd=tmp_path, capture_output=True, text=True, timeout=180,
        env=dict(os.environ, MINNET_GRADING_WARMUP="0"))
    assert "1 passed" in result.stdout and "1 failed" in result.stdout, result.stdout


def test_grade_uses_released_tests_and_adds_hidden_ones(tmp_path):
    make_lab(tmp_path, hidden=True)
    submission = tmp_path / "submission" / "01_toy"
    submission.mkdir(parents=True)
    (submission / "toy.py").write_text("def double(x):\n    return 3 * x\n")
    (submission / "test_toy.py").write_text(
        "import pytest\n\n@pytest.mark.points(3)\ndef test_double():\n    pass\n")
    (submission.parent / "conftest.py").write_text("raise SystemExit('tampered')\n")
    path = tmp_path / "graded.json"
    result = run(tmp_path, "-m", "minnet", "grade", "submission", "--grade-json", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    results = json.loads(path.read_text())
    tests = by_name(results)
    assert tests["01_toy: test_double"]["score"] == 0  # the submitted always-pass test is ignored
    assert tests["01_toy: test_double_hidden"]["visibility"] == "after_published"
    assert results["max_score"] == 6.0 and results["score"] == 0
    assert "taken   01_toy/toy.py" in results["output"]
    assert "01_toy/test_toy.py" in results["output"] and "differs from the released" \
        in results["output"]
    assert "conftest.py" in result.stdout


def test_mutants_surviving_fail_the_command(tmp_path):
    labs = make_lab(tmp_path)
    (labs / "source" / "01_toy" / "mutants.py").write_text(
        'MUTANTS = [\n'
        '    dict(name="plus", file="toy.py", old="return 2 * x", new="return 2 + x"),\n'
        '    dict(name="same thing", file="toy.py", old="return 2 * x", new="return x * 2"),\n'
        ']\n')
    result = run(tmp_path, "-m", "minnet", "labs", "mutants", "--jobs", "1")
    assert result.returncode == 1, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    plus = next(line for line in lines if " plus " in line)
    assert plus.split()[2:4] == ["3", "test_double"]
    assert any("same thing" in line and "SURVIVED" in line for line in lines)
    # without the equivalent mutant, check passes: sync, solutions, released, mutants
    (labs / "source" / "01_toy" / "mutants.py").write_text(
        'MUTANTS = [dict(name="plus", file="toy.py", old="return 2 * x", new="return 2 + x")]\n')
    result = run(tmp_path, "-m", "minnet", "labs", "check", "--jobs", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "minnet labs check passed" in result.stdout


def test_bad_markers_stop_the_run_before_any_test(tmp_path):
    labs = make_lab(tmp_path)
    (labs / "01_toy" / "test_bad.py").write_text(
        "import pytest\n\n@pytest.mark.points(-2)\ndef test_negative():\n    pass\n")
    result = run(tmp_path, "-m", "pytest", "labs", "-p", "no:cacheprovider", check=False)
    assert result.returncode == 4, result.stdout + result.stderr  # pytest's usage error
    assert "test_bad.py::test_negative: @pytest.mark.points: points must be a positive number, " \
           "got -2" in result.stderr


INTERRUPTING_TESTS = '''import numpy as np
import pytest
from minnet.grading import expect, student


@pytest.mark.points(1)
def test_a_interrupts():
    student(__file__, "toy").double(np.ones(2))


@pytest.mark.points(2)
def test_b_fails():
    expect(False, "wrong")


@pytest.mark.points(3)
def test_c_passes():
    pass
'''


def test_an_interrupted_grader_loses_no_test_from_the_maximum(tmp_path):
    """A student's code that sends SIGINT to the grading process (pytest would stop and end
    "normally"): every collected test is still graded, or scores 0 of its points; the
    maximum comes from the collected markers, not from what was graded."""
    labs = make_lab(tmp_path)
    (labs / "01_toy" / "test_toy.py").write_text(INTERRUPTING_TESTS)
    run(tmp_path, "-m", "minnet", "labs", "release")
    submission = tmp_path / "submission" / "01_toy"
    submission.mkdir(parents=True)
    (submission / "toy.py").write_text(
        "import os, signal\n\ndef double(x):\n    os.kill(os.getppid(), signal.SIGINT)\n"
        "    return 2 * x\n")
    path = tmp_path / "graded.json"
    result = run(tmp_path, "-m", "minnet", "grade", "submission", "--grade-json", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    results = json.loads(path.read_text())
    assert results["max_score"] == 6.0, results
    assert by_name(results)["01_toy: test_c_passes"]["score"] == 3.0


@pytest.mark.parametrize("link", ["file", "folder", "relative"])
def test_grade_refuses_a_linked_student_file(tmp_path, link):
    # a link to the reference solution would be graded as the student's work: full marks for
    # nothing. Refused, noted, and the released stub graded in its place (0 points)
    labs = make_lab(tmp_path)
    submission = tmp_path / "submission"
    solution = labs / "source" / "01_toy"
    if link == "folder":
        submission.mkdir()
        (submission / "01_toy").symlink_to(solution)
    else:
        (submission / "01_toy").mkdir(parents=True)
        target = solution / "toy.py"
        if link == "relative":
            target = Path(os.path.relpath(target, submission / "01_toy"))
        (submission / "01_toy" / "toy.py").symlink_to(target)
    path = tmp_path / "graded.json"
    result = run(tmp_path, "-m", "minnet", "grade", "submission", "--grade-json", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    results = json.loads(path.read_text())
    assert results["score"] == 0 and results["max_score"] == 3.0
    assert "REFUSED 01_toy" in results["output"] and "a symbolic link" in results["output"]
    assert "MISSING 01_toy/toy.py" in results["output"]
    assert "taken" not in results["output"]


def test_take_submission_reads_only_regular_files_inside(tmp_path):
    from minnet.grading.grade import take_submission

    labs = make_lab(tmp_path)
    submission = tmp_path / "submission"
    (submission / "01_toy").mkdir(parents=True)
    os.mkfifo(submission / "01_toy" / "toy.py")  # reading it would block the grader
    files, intake = take_submission(labs, submission, ["01_toy"])
    assert files == {"01_toy": {}} and intake.missing == [("01_toy", "toy.py")]
    assert [(path.name, why) for path, why in intake.refused] == [("toy.py",
                                                                   "not a regular file")]
    (submission / "01_toy" / "toy.py").unlink()
    (submission / "01_toy" / "toy.py").write_text("def double(x):\n    return x + x\n")
    files, intake = take_submission(labs, submission, ["01_toy"])
    assert files["01_toy"]["toy.py"].startswith("def double") and not intake.refused
