"""Partial credit inside one graded test: ``with credit.part(2, "forward output"): ...``.

A test marked ``@pytest.mark.points(4)`` may split its points into parts. A failing part
scores 0 and keeps its message; the following parts still run; the test fails if any part
failed. The parts must add up to the marker's points, checked when the test ends, so a
miscounted test is caught the first time the reference is graded. The student's code never
runs in this process (``sandbox.py``): it cannot change a part's verdict. Example:
docs/grading_internals.md.
"""
from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Callable, Optional

from .expect import LabFailure


class GradingSetupError(Exception):
    """A mistake in a graded test itself (not the student's): e.g. parts that do not add up."""


@dataclass
class Part:
    label: str
    points: float
    passed: Optional[bool] = None   # None while running (or never finished)
    message: str = ""


def format_points(points: float) -> str:
    """3 -> '3', 2.5 -> '2.5'."""
    return f"{points:g}"


def check_points(points, where: str) -> float:
    """A positive number of points, or GradingSetupError naming ``where``."""
    if isinstance(points, bool) or not isinstance(points, (int, float)) or not points > 0:
        raise GradingSetupError(f"{where}: points must be a positive number, got {points!r}")
    return float(points)


class Credit:
    """The parts of one graded test and what each scored.

    ``points`` is the test's marker value; ``describe_error(error)`` turns an
    exception raised inside a part into feedback (set by the plugin so that
    the message names the student's file and line).
    """

    def __init__(self, points: float, test_name: str = "test",
                 describe_error: Optional[Callable[[BaseException], str]] = None):
        self.points = points
        self.test_name = test_name
        self.parts: list = []
        self.finished = False  # the test body ran to its end (finish() was called)
        self._describe_error = describe_error or (lambda error: f"{type(error).__name__}: {error}")

    @contextlib.contextmanager
    def part(self, points, label: str):
        """Run the block as one part worth ``points``; a failure inside scores 0 for it only."""
        import pytest  # the plugin's world: pytest.fail() inside a part is a failure of the part

        value = check_points(points, f"{self.test_name}: credit.part(..., {label!r})")
        record = Part(str(label), value)
        self.parts.append(record)
        try:
            yield record
        except (Exception, pytest.fail.Exception) as error:
            if isinstance(error, GradingSetupError):
                raise
            record.passed = False
            record.message = self._describe_error(error)
        else:
            record.passed = True

    # -- after the test --------------------------------------------------------------------
    @property
    def earned(self) -> float:
        return sum(part.points for part in self.parts if part.passed)

    @property
    def failed(self) -> list:
        return [part for part in self.parts if not part.passed]

    def check_total(self) -> None:
        """The parts add up to the marker's points (call when the test ran to its end)."""
        total = sum(part.points for part in self.parts)
        if self.parts and abs(total - self.points) > 1e-9:
            listing = " + ".join(f"{format_points(p.points)} ({p.label})" for p in self.parts)
            raise GradingSetupError(
                f"{self.test_name}: the credit parts add up to {format_points(total)} point(s) "
                f"({listing}) but the test is marked @pytest.mark.points("
                f"{format_points(self.points)}). Make the parts sum to the marker's points.")

    def finish(self) -> None:
        """After a test body returned: raise LabFailure (all parts' feedback) if a part failed."""
        self.check_total()
        self.finished = True
        if self.failed:
            raise LabFailure(self.summary())

    def summary(self) -> str:
        """Every part: ok/FAIL, points, label, and the message of each failed part."""
        lines = [f"{format_points(self.earned)} of {format_points(self.points)} points:"]
        for part in self.parts:
            if part.passed:
                status = "ok  "
            elif part.passed is None:
                status = "stop"
            else:
                status = "FAIL"
            earned = part.points if part.passed else 0
            lines.append(f"  {status}  {format_points(earned)}/{format_points(part.points)}  "
                         f"{part.label}")
            if part.message:
                lines += ["        " + line for line in part.message.splitlines()]
        return "\n".join(lines)
