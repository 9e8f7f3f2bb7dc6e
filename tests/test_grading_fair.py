"""Fair play (minnet.grading.fair): a student file that patches the grader, minnet, NumPy or the
debugger's tables scores 0 for the test, with feedback naming what it replaced; a clean file is
not flagged. The end-to-end tests grade the toy lab of test_grading_runs in a subprocess."""
import contextlib

import sys

import numpy as np
import pytest

import minnet.grading.credit as credit_module
from minnet.grading import fair
from minnet.grading.credit import Credit
from minnet.grading.isolation import CAN_FORK
from test_grading_runs import by_name, grade, make_lab

expect_module = sys.modules["minnet.grading.expect"]  # minnet.grading.expect is the function

WRONG_DOUBLE = "import numpy as np\n\n\ndef double(x):\n    return x\n"

# the repro of the review: a Credit.part that swallows every failure (scored 18/18 in lab 01)
PATCHES_CREDIT_PART = WRONG_DOUBLE + '''
import contextlib
import minnet.grading.credit as _credit


@contextlib.contextmanager
def _part(self, points, label):
    try:
        yield
    except BaseException:
        pass


_credit.Credit.part = _part
'''

# the other repro: expect_close's code swapped for a no-op (scored 17/18 in lab 01)
SWAPS_EXPECT_CODE = WRONG_DOUBLE + '''
import sys
import minnet.grading

_expect = sys.modules["minnet.grading.expect"]  # (minnet.grading.expect is also a function)


def _ok(*args, **kwargs):
    return None


_expect.expect_close.__code__ = _ok.__code__
'''

# nothing at import: the patch is made when the graded function is called
PATCHES_WHEN_CALLED = '''import numpy as np


def double(x):
    import sys
    _expect = sys.modules["minnet.grading.expect"]

    def _ok(*args, **kwargs):
        return None

    _expect.expect_close.__code__ = _ok.__code__
    return x
'''

# the checker's memory emptied as well (the check after the import then sees nothing): the
# plugin's own copy, taken before the fork, still sees the patch
EMPTIES_THE_CHECKER = PATCHES_CREDIT_PART + '''
import minnet.grading.fair as _fair

for _rows in (_fair._WATCH.readers, _fair._WATCH.keys, _fair._WATCH.values,
              _fair._WATCH.code_rows):
    _rows.clear()
'''

# a debugger threshold raised in place (frozen dataclass or not): no function replaced
RAISES_A_THRESHOLD = WRONG_DOUBLE + '''
from minnet.debug.checks import load_all
from minnet.debug.thresholds import DEFINED

load_all()
object.__setattr__(DEFINED["dead_relu_fraction"], "value", 0.99)
'''

# legitimate things a student file does: none of them is flagged
CLEAN = '''import numpy as np
import numpy.testing  # a lazily loaded NumPy submodule
from minnet import nn

np.set_printoptions(precision=3)
np.random.seed(0)


class Doubler(nn.Module):
    """A student's own subclass of a minnet class."""

    def forward(self, x):
        return 2 * x


def double(x):
    np.random.default_rng(1).standard_normal(3)
    return 2 * x
'''

needs_fork = pytest.mark.skipif(not CAN_FORK, reason="grading isolation needs os.fork")


def graded(tmp_path, student_code: str, *extra) -> dict:
    make_lab(tmp_path, student_code=student_code)
    _, results = grade(tmp_path, *extra)
    return by_name(results)["01_toy: test_double"]


@needs_fork
@pytest.mark.parametrize("extra", [(), ("--lab-no-isolation",)], ids=["forked", "in-process"])
def test_credit_part_patched_at_import_scores_zero(tmp_path, extra):
    test = graded(tmp_path, PATCHES_CREDIT_PART, *extra)
    assert (test["score"], test["max_score"]) == (0.0, 3.0), test
    assert ("toy.py replaced minnet.grading.credit.Credit.part at import: grading code may "
            "not be changed") in test["output"]


@needs_fork
def test_expect_close_code_swapped_at_import_scores_zero(tmp_path):
    test = graded(tmp_path, SWAPS_EXPECT_CODE)
    assert test["score"] == 0.0, test
    assert "toy.py replaced minnet.grading.expect.expect_close (its __code__) at import" \
        in test["output"]


@needs_fork
def test_patch_made_inside_a_student_function_scores_zero(tmp_path):
    test = graded(tmp_path, PATCHES_WHEN_CALLED)
    assert test["score"] == 0.0, test
    assert "minnet.grading.expect.expect_close (its __code__)" in test["output"]
    assert "grading code may not be changed" in test["output"]
    assert "while the part 'on [1, 2]' ran" in test["output"]


@needs_fork
def test_emptying_the_checker_does_not_switch_it_off(tmp_path):
    test = graded(tmp_path, EMPTIES_THE_CHECKER)
    assert test["score"] == 0.0, test
    assert ("your code replaced minnet.grading.credit.Credit.part during this test: grading "
            "code may not be changed") in test["output"]


@needs_fork
def test_debugger_threshold_changed_in_place_scores_zero(tmp_path):
    test = graded(tmp_path, RAISES_A_THRESHOLD)
    assert test["score"] == 0.0, test
    assert "minnet.debug.thresholds.DEFINED['dead_relu_fraction'].value" in test["output"]


@needs_fork
def test_clean_student_file_is_not_flagged(tmp_path):
    test = graded(tmp_path, CLEAN)
    assert test["score"] == test["max_score"] == 3.0, test
    assert "grading code" not in test["output"]


# ---------------------------------------------------------------------------
# the checker in this process (monkeypatch puts everything back)
# ---------------------------------------------------------------------------
def test_changed_names_a_replaced_method_and_forgets_it_once_restored(monkeypatch):
    fair.watch()
    label = "minnet.grading.credit.Credit.part"
    assert label not in fair.changed()
    with monkeypatch.context() as patch:
        patch.setattr(Credit, "part", lambda self, points, label: contextlib.nullcontext())
        assert label in fair.changed()
        with pytest.raises(fair.GradingTampered, match="layers.py replaced .*Credit.part"):
            fair.expect_unchanged("layers.py", "at import")
    assert label not in fair.changed()


def test_the_check_survives_a_patched_checker_and_builtins(monkeypatch):
    fair.watch()
    changed = fair.changed  # as the plugin holds it, taken before any student code
    monkeypatch.setattr(fair, "changed", lambda: [])
    monkeypatch.setattr(expect_module.expect_close, "__code__", (lambda *a, **k: None).__code__)
    real_getattr = getattr
    # a getattr that hides the swap (monkeypatch itself needs the real one: patched last)
    monkeypatch.setattr("builtins.getattr", lambda obj, *rest: real_getattr(obj, *rest)
                        if rest[0] != "__code__" else None)
    try:
        found = changed()
    finally:
        monkeypatch.undo()
    assert "minnet.grading.expect.expect_close (its __code__)" in found
    assert "minnet.grading.fair.changed" in found
    assert "builtins.getattr" in found


def test_a_part_fails_when_its_code_changes_the_grader(monkeypatch):
    fair.watch()
    tracker = Credit(2, "test_toy")
    with tracker.part(1, "clean"):
        np.zeros(3)
    with tracker.part(1, "patches"):
        monkeypatch.setattr(credit_module, "check_points", lambda points, where: 1.0)
    monkeypatch.undo()
    assert [part.passed for part in tracker.parts] == [True, False]
    assert "minnet.grading.credit.check_points" in tracker.parts[1].message
    assert "while the part 'patches' ran" in tracker.parts[1].message


def test_a_changed_minnet_constant_is_named_and_state_is_not(monkeypatch):
    import minnet.grading.plugin as plugin

    fair.watch()
    monkeypatch.setattr(plugin, "DEFAULT_TIMEOUT", 1e9)
    np.random.seed(3)  # state, not code: never flagged
    found = fair.changed()
    monkeypatch.undo()
    assert "minnet.grading.plugin.DEFAULT_TIMEOUT" in found
    assert not [label for label in found if label.startswith("numpy.")]
