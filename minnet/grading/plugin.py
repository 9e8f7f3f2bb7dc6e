"""The pytest plugin that turns ``pytest labs/`` into a grading run.

``labs/conftest.py`` loads it with ``from minnet.grading.plugin import *`` (a
``pytest_plugins`` line is not allowed in a non-root conftest). It adds the markers
``points(n)``, ``timeout(s)`` (default ``--lab-timeout``, 10 s) and ``hidden`` (also every
``test_hidden_*.py``), the ``credit`` fixture, runs each lab test in its own forked child
with a time limit and a memory cap (``isolation.py``: a hang or crash costs that test
only), reports the ``LabFailure`` message instead of a traceback, and ends with a grade
table and ``--grade-json PATH`` (Gradescope). More: docs/grading_internals.md.
"""
from __future__ import annotations

import json
import os
import traceback
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Optional

import pytest

from .credit import Credit, GradingSetupError, check_points, format_points
from .expect import THRESHOLDS_SEEN, LabFailure
from .isolation import (CAN_FORK, become_subreaper, hide_from_same_user, kill_orphans,
                        start_child, stop_all, wait_any)
from .sandbox import SANDBOX_UID, probe_privilege_drop, use_sandbox_uid
from .sandbox import close_all as close_sandboxes

__all__ = [
    "pytest_addoption", "pytest_configure", "pytest_ignore_collect",
    "pytest_collection_modifyitems",
    "pytest_runtest_protocol", "pytest_runtest_call", "pytest_runtest_makereport",
    "pytest_runtest_logreport", "pytest_runtest_teardown", "pytest_terminal_summary",
    "pytest_sessionfinish", "credit",
]

DEFAULT_TIMEOUT = 10.0
DEFAULT_MEMORY_MB = 2048.0
GRADE_PROPERTY = "minnet_grade"

_book_key = pytest.StashKey["GradeBook"]()
_credit_key = pytest.StashKey[Credit]()
_lab_item_key = pytest.StashKey[bool]()


# --------------------------------------------------------------------------
# options and markers
# --------------------------------------------------------------------------
def pytest_addoption(parser):
    group = parser.getgroup("minnet grading", "grading minnet's labs")
    group.addoption("--grade-json", metavar="PATH", default=None,
                    help="write the grades as a Gradescope-compatible results.json")
    group.addoption("--grade-journal-fd", metavar="FD", type=int, default=None,
                    help="write each test's start and grade as JSON lines to this inherited "
                         "file descriptor as they happen (minnet grade reads them from a pipe "
                         "and resumes if the run is killed)")
    group.addoption("--lab-timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                    help="time limit per lab test unless it has @pytest.mark.timeout "
                         "(default: %(default)s)")
    group.addoption("--lab-memory", type=float, default=DEFAULT_MEMORY_MB, metavar="MB",
                    help="memory a lab test may allocate beyond what is loaded at the start, "
                         "0 for no cap (default: %(default)s)")
    group.addoption("--lab-no-warmup", action="store_true", default=False,
                    help="do not load matplotlib and the Numba kernels before the first test "
                         "(each test then loads what it uses itself)")
    group.addoption("--lab-stop-at-first-loss", metavar="PATTERN", default=None,
                    help="in lab folders whose name matches PATTERN (fnmatch), skip the tests "
                         "after the first that loses points (minnet labs check: a mutant only "
                         "has to be caught once)")
    group.addoption("--lab-first", metavar="PATH", default=None,
                    help="JSON {lab folder: [words]}: run that folder's tests whose source "
                         "names a word first (minnet labs check: the function a mutant changed)")
    group.addoption("--lab-jobs", type=int, default=None, metavar="N",
                    help="lab tests run at once, each in its child (default: the CPUs, at "
                         "most 2; always 1 under minnet grade)")
    group.addoption("--lab-no-isolation", action="store_true", default=False,
                    help="run lab tests in the pytest process (for debugging with pdb): no "
                         "time limit, no memory cap, a crash ends the run")


MARKERS = [
    "points(n): a graded lab test worth n points (minnet.grading)",
    "timeout(seconds): the time limit of this lab test (default --lab-timeout, 10 s)",
    "hidden: a lab test students do not see before the deadline",
]


def pytest_configure(config):
    for line in MARKERS:
        config.addinivalue_line("markers", line)
    _book(config)
    _start_fork_server()  # first: its imports overlap what follows
    _salt_public_inputs(config)
    if config.getoption("grade_journal_fd", None) is not None:
        # minnet grade's pytest (PID 1 of its namespace as root): a SIGINT sent by a student's
        # process must not end the run "normally" with the remaining tests never graded
        import signal

        signal.signal(signal.SIGINT, signal.SIG_IGN)


def _salt_public_inputs(config) -> None:
    """Where the reference solutions are at hand, the public tests' seeded inputs are not
    the released ones (salted.py): a table of the released answers matches nothing. Not
    while the release records those answers."""
    from .recorded import RECORD_ENV
    from .salted import salt_public_seeds

    if os.environ.get(RECORD_ENV):
        return
    for root in _lab_roots(config):
        salt_public_seeds(root)


def _start_fork_server() -> None:
    """Start the sandbox workers' fork server now (``zygote.py``): its imports (NumPy,
    minnet, matplotlib) run while pytest collects, and the tests forked later inherit its
    request sockets. Where it cannot start, the first sandbox says why."""
    if os.name != "posix" or not CAN_FORK:
        return
    from . import zygote

    try:
        zygote.start()
    except OSError:
        pass


# --------------------------------------------------------------------------
# which tests are lab tests
# --------------------------------------------------------------------------
def _lab_roots(config) -> list:
    """Folders of the conftest.py files that loaded this plugin (normally just labs/)."""
    roots = []
    for plugin in config.pluginmanager.get_plugins():
        path = getattr(plugin, "__file__", None)
        if (path and os.path.basename(path) == "conftest.py"
                and getattr(plugin, "pytest_runtest_protocol", None) is pytest_runtest_protocol):
            roots.append(Path(path).resolve().parent)
    return roots


def is_lab_item(item) -> bool:
    """A test under a folder whose conftest loaded the plugin (tests elsewhere are untouched)."""
    known = item.stash.get(_lab_item_key, None)
    if known is None:
        path = Path(str(item.path)).resolve()
        known = any(root == path or root in path.parents for root in _lab_roots(item.config))
        item.stash[_lab_item_key] = known
    return known


def points_of(item) -> Optional[float]:
    marker = item.get_closest_marker("points")
    if marker is None:
        return None
    if len(marker.args) != 1 or marker.kwargs:
        raise GradingSetupError(f"{item.nodeid}: write @pytest.mark.points(n) with one number, "
                                f"got args {marker.args} kwargs {marker.kwargs}")
    return check_points(marker.args[0], f"{item.nodeid}: @pytest.mark.points")


def timeout_of(item) -> float:
    marker = item.get_closest_marker("timeout")
    if marker is not None and marker.args:
        return float(check_points(marker.args[0], f"{item.nodeid}: @pytest.mark.timeout"))
    return float(item.config.getoption("lab_timeout") or DEFAULT_TIMEOUT)


def is_hidden(item) -> bool:
    return (item.get_closest_marker("hidden") is not None
            or Path(str(item.path)).name.startswith("test_hidden_"))


def lab_name(item) -> str:
    return Path(str(item.path)).parent.name


def pytest_ignore_collect(collection_path, config):
    """Never collect labs/source/: its hidden tests would load the solutions as the student's
    files there (minnet grade copies them into the lab folders instead)."""
    path = Path(str(collection_path)).resolve()
    if path.name == "source" and any(path.parent == root for root in _lab_roots(config)):
        return True
    return None


def pytest_collection_modifyitems(session, config, items):
    """Check every lab test's markers once, before anything runs."""
    problems = []
    for item in items:
        if not is_lab_item(item):
            continue
        try:
            points_of(item)
            timeout_of(item)
        except GradingSetupError as error:
            problems.append(str(error))
    if problems:
        raise pytest.UsageError("minnet grading: bad markers in lab tests:\n  "
                                + "\n  ".join(problems))
    first = config.getoption("lab_first")
    if first:
        with open(first, encoding="utf-8") as file:
            items[:] = order_tests_first(items, json.load(file))


def pytest_collection_finish(session):
    """Journal every lab test collected, with its points: minnet grade counts a collected
    test that never got a grade as 0 of its points, so no test can leave the maximum."""
    _journal(session.config, {"event": "collected", "tests": [
        {"nodeid": item.nodeid, "lab": lab_name(item), "name": item.name,
         "max_score": points_of(item) or 0.0, "hidden": is_hidden(item)}
        for item in session.items if is_lab_item(item) and points_of(item)]})


def _mentions(item, words: list) -> bool:
    import inspect

    try:
        source = inspect.getsource(item.function)
    except (AttributeError, OSError, TypeError):
        return False
    return any(word in source for word in words)


def order_tests_first(items: list, words_by_lab: dict) -> list:
    """Within each lab folder listed in ``words_by_lab``, move the tests whose source names
    one of its words (e.g. the function a mutant changed) to the front, keeping the order
    otherwise. With --lab-stop-at-first-loss the likely catcher then runs first. Sound only
    because every lab test runs in its own process: order cannot change a result."""
    first_seen = {}
    for index, item in enumerate(items):
        first_seen.setdefault(lab_name(item), index)

    def key(indexed):
        index, item = indexed
        lab = lab_name(item)
        words = words_by_lab.get(lab)
        later = 0 if not words or _mentions(item, words) else 1
        return first_seen[lab], later, index

    return [item for _, item in sorted(enumerate(items), key=key)]


# --------------------------------------------------------------------------
# the credit fixture
# --------------------------------------------------------------------------
@pytest.fixture
def credit(request):
    """Partial credit: ``with credit.part(2, "forward output"): ...`` (parts sum to the points)."""
    item = request.node
    points = points_of(item)
    if points is None:
        raise GradingSetupError(f"{item.nodeid} uses the credit fixture but has no "
                                "@pytest.mark.points(n) marker")
    tracker = Credit(points, item.name, describe_error=lambda error: feedback_for(error, item))
    item.stash[_credit_key] = tracker
    return tracker


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    """After the test body returns: a failed part fails the test; parts must add up."""
    if is_lab_item(item):  # the test's own tmp_path stays writable for the student's code
        from .lockdown import allow_writing

        allow_writing(*(item.funcargs.get(name) for name in ("tmp_path", "tmpdir")
                        if isinstance(getattr(item, "funcargs", None), dict)))
    result = yield
    tracker = item.stash.get(_credit_key, None)
    if tracker is not None and is_lab_item(item):
        tracker.finish()
    return result


# --------------------------------------------------------------------------
# feedback
# --------------------------------------------------------------------------
def _frames_in(error: BaseException, folder: Path, exclude: Path) -> list:
    frames = []
    for frame in traceback.extract_tb(error.__traceback__):
        path = Path(frame.filename)
        try:
            path = path.resolve()
        except OSError:
            continue
        if path != exclude and folder in path.parents:
            frames.append(frame)
    return frames


def _where(error: BaseException, item) -> str:
    """' at layers.py:12 in affine_forward: `out = x @ w`' for the deepest lab-file frame, and
    the test line that called it."""
    test_file = Path(str(item.path)).resolve()
    labs_root = test_file.parent.parent
    lines = []
    lab_frames = _frames_in(error, labs_root, test_file)
    for frame in lab_frames[-2:]:
        lines.append(f"  at {Path(frame.filename).name}:{frame.lineno} in {frame.name}: "
                     f"{(frame.line or '').strip()}")
    test_frames = [frame for frame in traceback.extract_tb(error.__traceback__)
                   if Path(frame.filename).resolve() == test_file]
    if test_frames and not is_hidden(item):  # a hidden test's code is not shown
        frame = test_frames[-1]
        lines.append(f"  called from {test_file.name}:{frame.lineno}: {(frame.line or '').strip()}")
    return "\n".join(lines)


def feedback_for(error: BaseException, item) -> str:
    """What a student reads for an exception raised while grading ``item``."""
    if isinstance(error, LabFailure):
        return str(error)
    from .sandbox import StudentCodeError

    if isinstance(error, StudentCodeError):  # raised in the sandbox: its message has the lines
        return str(error)
    if isinstance(error, GradingSetupError):
        return f"grading error in the test itself (tell your instructor): {error}"
    where = _where(error, item)
    where = "\n" + where if where else ""
    if isinstance(error, SystemExit):
        return (f"sys.exit({error.code!r}) called{where}\nLab code must return its result; "
                "ending the process is not allowed.")
    if isinstance(error, NotImplementedError):  # a TODO stub: where it is, nothing more
        message = str(error) or "not implemented"
        frames = _frames_in(error, Path(str(item.path)).resolve().parent.parent,
                            Path(str(item.path)).resolve())
        place = f" ({Path(frames[-1].filename).name}:{frames[-1].lineno})" if frames else ""
        return f"not implemented yet: {message}{place}"
    if isinstance(error, MemoryError):
        limit = item.config.getoption("lab_memory")
        cap = f" (a lab test may allocate about {limit:g} MB)" if limit else ""
        return (f"MemoryError: out of memory{cap}{where}\nAn array far larger than intended? "
                "Check the shapes you allocate.")
    if isinstance(error, AssertionError):
        text = str(error).strip() or "assertion failed"
        return f"{text}{where}"
    return f"{type(error).__name__}: {error}{where}"


@dataclass
class Grade:
    nodeid: str
    lab: str
    name: str
    max_score: float
    score: float
    output: str = ""
    hidden: bool = False
    passed: bool = False
    thresholds: list = field(default_factory=list)  # expect_at_least/at_most records


def _grade_of(item, score: float, passed: bool, output: str) -> Grade:
    return Grade(nodeid=item.nodeid, lab=lab_name(item), name=item.name,
                 max_score=points_of(item) or 0.0, score=score, output=output,
                 hidden=is_hidden(item), passed=passed)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Score the test and replace the traceback by feedback (lab tests only)."""
    report = yield
    if not is_lab_item(item) or points_of(item) is None:
        return report
    tracker = item.stash.get(_credit_key, None)
    points = points_of(item)
    grade = None
    if call.when == "setup" and report.failed:
        grade = _grade_of(item, 0.0, False, "the test could not start:\n"
                          + feedback_for(call.excinfo.value, item))
    elif call.when == "setup" and report.skipped:
        grade = _grade_of(item, 0.0, False, f"skipped: {_skip_reason(report)}")
    elif call.when == "call":
        thresholds = list(THRESHOLDS_SEEN)
        if report.passed:
            output = tracker.summary() if tracker is not None and tracker.parts else ""
            grade = _grade_of(item, points, True, output)
        elif report.skipped:
            grade = _grade_of(item, 0.0, False, f"skipped: {_skip_reason(report)}")
        else:
            grade = _failed_grade(item, call.excinfo.value, tracker)
        grade.thresholds = thresholds
    if grade is not None:
        report.user_properties.append((GRADE_PROPERTY, asdict(grade)))
        if report.failed:
            report.longrepr = _feedback_text(grade)
    return report


@pytest.hookimpl(trylast=True)
def pytest_runtest_teardown(item, nextitem):
    """A test's sandboxed student processes end with the test (isolated or not)."""
    if is_lab_item(item):
        close_sandboxes()


def _isolated(item) -> bool:
    """Lab tests run in forked children (the default)."""
    return CAN_FORK and not item.config.getoption("lab_no_isolation")


def _feedback_text(grade: Grade) -> str:
    """What the terminal shows for a failed test: '[lab] test: 1/3 points' and the feedback."""
    lines = grade.output.splitlines()
    if lines and lines[0].endswith(" points:") and " of " in lines[0]:
        lines = lines[1:]  # the parts' summary line repeats the header
    return (f"[{grade.lab}] {grade.name}: {format_points(grade.score)}/"
            f"{format_points(grade.max_score)} points\n" + "\n".join(lines))


def _skip_reason(report) -> str:
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2])
    return str(longrepr)


def _failed_grade(item, error: BaseException, tracker: Optional[Credit]) -> Grade:
    if isinstance(error, GradingSetupError) or tracker is None or not tracker.parts:
        return _grade_of(item, 0.0, False, feedback_for(error, item))
    if tracker.finished:
        return _grade_of(item, tracker.earned, False, str(error))  # failed parts only
    # the test stopped outside any part: the parts that passed before still count
    output = (tracker.summary() + "\n  then the test stopped:\n"
              + "\n".join("        " + line for line in feedback_for(error, item).splitlines()))
    return _grade_of(item, tracker.earned, False, output)


# --------------------------------------------------------------------------
# isolation: each lab test in a child process
# --------------------------------------------------------------------------
def _serialize(item, reports: list) -> bytes:
    hook = item.config.hook
    return json.dumps([hook.pytest_report_to_serializable(config=item.config, report=report)
                       for report in reports], default=str).encode()


def _deserialize(item, payload: bytes) -> list:
    hook = item.config.hook
    reports = []
    for data in json.loads(payload.decode()):
        report = hook.pytest_report_from_serializable(config=item.config, data=data)
        report.user_properties = [tuple(pair) for pair in report.user_properties]
        reports.append(report)
    return reports


def _within_bounds(item, report):
    """A child's report as the parent trusts it: the grade's identity and maximum are the
    parent's own (from the item and its marker), its score is clamped to [0, maximum]."""
    points = points_of(item)
    properties = []
    for name, value in report.user_properties:
        if name != GRADE_PROPERTY:
            continue
        if points is None:
            continue  # only a graded test carries a grade
        grade = Grade(**{key: value[key] for key in ("output", "thresholds") if key in value},
                      **{key: value.get(key) for key in ("score", "passed")},
                      nodeid=item.nodeid, lab=lab_name(item), name=item.name,
                      max_score=points, hidden=is_hidden(item))
        try:
            score = float(grade.score)
        except (TypeError, ValueError):
            score = 0.0
        grade.score = min(max(score, 0.0), points) if score == score else 0.0
        grade.passed = bool(grade.passed is True and grade.score == points
                            and report.outcome == "passed")
        grade.output = str(grade.output)[:20000]
        properties.append((GRADE_PROPERTY, asdict(grade)))
    report.user_properties = properties
    return report


def _problem_report(item, problem: str, seconds: float):
    """The report of a test whose child process timed out or crashed: 0 points, the reason."""
    from _pytest.reports import TestReport

    points = points_of(item)
    output = f"{problem}\nThe test was stopped and scores 0."
    if problem.startswith("TIMEOUT"):
        output += (" An endless loop, or far more work than needed? The reference solution "
                   "takes a fraction of the limit.")
    report = TestReport(item.nodeid, item.location, {name: 1 for name in item.keywords},
                        "failed", f"{item.name}: {output}", "call", duration=seconds,
                        user_properties=[])
    if points is not None:
        grade = _grade_of(item, 0.0, False, output)
        report.user_properties.append((GRADE_PROPERTY, asdict(grade)))
        report.longrepr = _feedback_text(grade)
    return report


_warmed_key = pytest.StashKey[bool]()
_protected_key = pytest.StashKey[bool]()


def _protect_parent_once(config) -> None:
    """Before the first fork: this process adopts what tests leave running, and other
    processes of its user cannot open its /proc entries (nor its children's)."""
    if config.stash.get(_protected_key, False):
        return
    config.stash[_protected_key] = True
    become_subreaper()
    hide_from_same_user()
    probe_privilege_drop()


def _prepare_parent_once(config, slots: dict) -> None:
    """Load the heavy libraries here once, so tests forked later inherit them, and freeze
    the garbage collector's view of what is loaded, so children do not copy every page the
    parent's objects sit on when they collect (docs/performance.md, "The grader"). With
    two tests at once the first one is already running meanwhile (on the other CPU, loading
    what it needs itself); its time limit counts from the end of the warm-up, as its pipe
    was not read until then."""
    if config.stash.get(_warmed_key, False):
        return
    config.stash[_warmed_key] = True
    if not config.getoption("lab_no_warmup") and os.environ.get("MINNET_GRADING_WARMUP",
                                                                  "1") != "0":
        from .warmup import warm_up

        try:
            warm_up()
        except Exception as error:  # noqa: BLE001 -- a failed warm-up only costs time
            reporter = config.pluginmanager.get_plugin("terminalreporter")
            if reporter is not None:
                reporter.write_line(f"minnet grading: warm-up failed ({type(error).__name__}: "
                                    f"{error}); tests load what they need themselves")
    from ..debug.checks import load_all

    load_all()  # every debugger check loaded once here, not in each forked test
    import gc

    gc.collect()
    gc.freeze()
    import time

    for started in slots.values():
        started.child.started = time.monotonic()


def _already_lost(item) -> bool:
    """--lab-stop-at-first-loss: this test's folder matches and has already lost points."""
    import fnmatch

    pattern = item.config.getoption("lab_stop_at_first_loss")
    lab = lab_name(item)
    if not pattern or not fnmatch.fnmatchcase(lab, pattern):
        return False
    return any(grade.lab == lab and grade.score < grade.max_score
               for grade in _book(item.config).grades.values())


def lab_jobs(config) -> int:
    """How many lab tests run at once: ``--lab-jobs``, by default the CPUs this process may
    use, at most 2. One at a time under ``minnet grade`` (its journal names the test the
    grader died in), with ``--lab-stop-at-first-loss`` (a test's turn depends on the grades
    before it) and without isolation."""
    asked = config.getoption("lab_jobs", None)
    if (config.getoption("grade_journal_fd", None) is not None or not CAN_FORK
            or config.getoption("lab_stop_at_first_loss", None)
            or config.getoption("lab_no_isolation", False)):
        return 1
    if asked:
        return max(1, int(asked))
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    return max(1, min(2, cpus))


@dataclass
class _Started:
    """A lab test forked ahead of its turn: its child, its sandbox uid, whether its leftovers
    were cleaned up."""
    child: object
    uid: int
    cleaned: bool = False


_started_key = pytest.StashKey[dict]()


def _start(item, nextitem, slots: dict) -> None:
    """Fork ``item``'s child, in the lowest free slot (its sandbox uid as root)."""
    from _pytest.runner import runtestprotocol

    config = item.config
    journal_fd = config.getoption("grade_journal_fd", None)
    busy = {started.uid for started in slots.values() if not started.cleaned}
    uid = next(SANDBOX_UID + slot for slot in range(len(slots) + 1)
               if SANDBOX_UID + slot not in busy)
    others = tuple(started.child.read_fd for started in slots.values()
                   if started.child.outcome is None)

    def run_test() -> bytes:  # in the child
        if journal_fd is not None:
            os.close(journal_fd)  # the grades journal is the parent's to write
        import faulthandler
        faulthandler.disable()  # a crash is reported as "killed by signal 11", not a C stack dump
        use_sandbox_uid(uid)  # tests running at once never share a sandbox user
        reports = runtestprotocol(item, log=False, nextitem=nextitem)
        close_sandboxes()
        return _serialize(item, reports)

    THRESHOLDS_SEEN.clear()  # each test's thresholds are its own
    # tests running at once share the CPUs: each limit is stretched by the tests at once, so
    # a limit never fires because a sibling took half of the machine
    slots[item.nodeid] = _Started(start_child(run_test, timeout_of(item) * lab_jobs(config),
                                              config.getoption("lab_memory"), others), uid)


def _start_ahead(item, slots: dict) -> None:
    """Fork lab tests after ``item`` while fewer than --lab-jobs run: the longest time limit
    first (a long test started last would run alone at the end), then in pytest's order."""
    jobs = lab_jobs(item.config)

    def free() -> bool:
        return sum(started.child.outcome is None for started in slots.values()) < jobs

    if not free():
        return
    items = item.session.items
    following = []
    for index in range(items.index(item) + 1, len(items)):
        later = items[index]
        if not is_lab_item(later) or not _isolated(later):
            break  # a test run in this process waits for its turn, and so do those after it
        if later.nodeid not in slots:
            following.append((-timeout_of(later), index, later))
    for _, index, later in sorted(following, key=lambda entry: entry[:2]):
        if not free():
            return
        _start(later, items[index + 1] if index + 1 < len(items) else None, slots)


def _clean_up_ended(slots: dict) -> None:
    """Whatever an ended test started and left running is gone: its daemons (re-parented
    here, a subreaper; as root, what its workers started died with their PID namespaces)."""
    running = tuple(started.child.pid for started in slots.values()
                    if started.child.outcome is None)
    for started in slots.values():
        if started.child.outcome is not None and not started.cleaned:
            kill_orphans(keep=running)
            started.cleaned = True


def pytest_runtest_protocol(item, nextitem):
    """Run a lab test in a forked child with its time limit; the parent logs the reports in
    pytest's order, while up to --lab-jobs tests run at once."""
    if not is_lab_item(item):
        return None
    if _already_lost(item):
        return True  # not run, not graded: the folder already lost points
    if not _isolated(item):
        THRESHOLDS_SEEN.clear()  # each test's thresholds are its own
        return None  # pytest's own protocol, in this process
    _protect_parent_once(item.config)
    slots = item.config.stash.setdefault(_started_key, {})
    ihook = item.ihook
    _journal(item.config, {"event": "start", "nodeid": item.nodeid, "lab": lab_name(item),
                           "name": item.name, "max_score": points_of(item),
                           "hidden": is_hidden(item)})
    ihook.pytest_runtest_logstart(nodeid=item.nodeid, location=item.location)
    if lab_jobs(item.config) == 1:
        _prepare_parent_once(item.config, slots)
    if item.nodeid not in slots:
        _start(item, nextitem, slots)
    _prepare_parent_once(item.config, slots)  # two at once: while the first test runs
    _start_ahead(item, slots)
    while slots[item.nodeid].child.outcome is None:
        wait_any([started.child for started in slots.values()])
        _clean_up_ended(slots)
        if slots[item.nodeid].child.outcome is None:
            _start_ahead(item, slots)
    outcome = slots.pop(item.nodeid).child.outcome
    problem = outcome.problem
    jobs = lab_jobs(item.config)
    if problem is not None and problem.startswith("TIMEOUT") and jobs > 1:
        problem = (f"TIMEOUT: over its limit of {timeout_of(item):g} s (stopped after "
                   f"{timeout_of(item) * jobs:g} s of wall time, as {jobs} tests ran at once)")
    if problem is None:
        try:
            reports = [_within_bounds(item, report)
                       for report in _deserialize(item, outcome.payload)]
        except (ValueError, TypeError, KeyError, AttributeError) as error:
            reports = [_problem_report(item, f"crashed: the test's report could not be read "
                                             f"({type(error).__name__})", outcome.seconds)]
    else:
        reports = [_problem_report(item, problem, outcome.seconds)]
    for report in reports:
        ihook.pytest_runtest_logreport(report=report)
        for name, value in report.user_properties:
            if name == GRADE_PROPERTY:
                _journal(item.config, {"event": "grade", "grade": value,
                                       "seconds": report.duration or 0.0})
    ihook.pytest_runtest_logfinish(nodeid=item.nodeid, location=item.location)
    return True


def _stop_started(config) -> None:
    """At the end of the session (-x, Ctrl-C, an error): tests forked ahead and not logged
    are stopped and cleaned up."""
    slots = config.stash.get(_started_key, {})
    stop_all([started.child for started in slots.values()])
    _clean_up_ended(slots)
    slots.clear()


def _journal(config, entry: dict) -> None:
    """One JSON line to the --grade-journal-fd pipe, written at once: a run killed later
    still leaves every finished test's grade with minnet grade."""
    fd = config.getoption("grade_journal_fd", None)
    if fd is None:
        return
    data = (json.dumps(entry, default=str) + "\n").encode()
    while data:
        data = data[os.write(fd, data):]


# --------------------------------------------------------------------------
# the grade book, the table and results.json
# --------------------------------------------------------------------------
@dataclass
class GradeBook:
    grades: dict = field(default_factory=dict)   # nodeid -> Grade, in run order
    seconds: dict = field(default_factory=dict)  # nodeid -> setup + call + teardown time

    def record(self, grade: Grade) -> None:
        self.grades[grade.nodeid] = grade

    def labs(self) -> list:
        """[(lab, points, max)] in first-seen order."""
        rows = {}
        for grade in self.grades.values():
            score, maximum = rows.get(grade.lab, (0.0, 0.0))
            rows[grade.lab] = (score + grade.score, maximum + grade.max_score)
        return [(lab, score, maximum) for lab, (score, maximum) in rows.items()]

    @property
    def score(self) -> float:
        return sum(grade.score for grade in self.grades.values())

    @property
    def max_score(self) -> float:
        return sum(grade.max_score for grade in self.grades.values())

    def verdict(self, collection_errors: int = 0) -> str:
        """'all public tests passed' (never 'all tests' unless hidden tests ran), or what failed.

        ``collection_errors``: test files that could not be collected; their tests never
        ran, so the run cannot claim that everything passed.
        """
        grades = list(self.grades.values())
        failed = [grade for grade in grades if not grade.passed]
        hidden = sum(grade.hidden for grade in grades)
        if not grades:
            verdict = "no graded test ran"
        elif failed:
            verdict = (f"{len(failed)} of {len(grades)} graded tests did not get full marks "
                       "(each one's feedback says why)")
        elif collection_errors:
            verdict = f"the {len(grades)} graded tests that ran passed"
        elif hidden:
            verdict = f"all tests passed ({len(grades) - hidden} public, {hidden} hidden)"
        else:
            verdict = "all public tests passed"
        if collection_errors:
            verdict += (f"; {collection_errors} error(s) during collection: the points of tests "
                        "that could not be collected are missing from the maximum")
        return verdict

    def table(self) -> list:
        rows = [("lab", "points", "max")]
        rows += [(lab, format_points(score), format_points(maximum))
                 for lab, score, maximum in self.labs()]
        rows.append(("total", format_points(self.score), format_points(self.max_score)))
        width = max(len(row[0]) for row in rows)
        lines = []
        for number, (lab, score, maximum) in enumerate(rows):
            if number == len(rows) - 1:
                lines.append("-" * (width + 18))
            lines.append(f"{lab:<{width}}  {score:>7}  {maximum:>7}")
        return lines

    def results_json(self, collection_errors: tuple = ()) -> dict:
        """Gradescope's results.json: score, max_score and one entry per test (test files
        that could not be collected are listed in extra_data)."""
        tests = []
        names = [(grade.lab, grade.name) for grade in self.grades.values()]
        for grade in self.grades.values():
            name = f"{grade.lab}: {grade.name}"
            if names.count((grade.lab, grade.name)) > 1:  # same test name in two files
                name = f"{grade.lab}: {grade.nodeid.rsplit('/', 1)[-1]}"
            tests.append({
                "name": name,
                "score": grade.score,
                "max_score": grade.max_score,
                "output": grade.output or "passed",
                "visibility": "after_published" if grade.hidden else "visible",
                "extra_data": {"seconds": round(self.seconds.get(grade.nodeid, 0.0), 3),
                               "thresholds": grade.thresholds},
            })
        return {"score": self.score, "max_score": self.max_score,
                "output": self.verdict(len(collection_errors)), "tests": tests,
                "extra_data": {"collection_errors": list(collection_errors)}}


_running_book: Optional[GradeBook] = None  # pytest_runtest_logreport is given no config


def _book(config) -> GradeBook:
    """The grade book of this session (created on first use)."""
    global _running_book
    book = config.stash.get(_book_key, None)
    if book is None:
        book = config.stash[_book_key] = GradeBook()
    _running_book = book
    return book


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_logreport(report):
    """Collect each lab test's grade and run time (in the parent, from the child's reports).
    First of all: what the test printed (the student's code's prints too) is shown
    printable and marked as the student's, before the terminal reporter sees it (a print()
    cleared the instructor's screen and drew a fake grade table above the real one)."""
    from .sandbox import student_text

    report.sections = [(title, student_text(text, first_inline=False, limit=8000,
                                            max_lines=100)) for title, text in report.sections]
    book = _running_book
    if book is None:
        return
    book.seconds[report.nodeid] = book.seconds.get(report.nodeid, 0.0) + (report.duration or 0)
    for name, value in report.user_properties:
        if name == GRADE_PROPERTY:
            book.record(Grade(**value))


def _collection_errors(config) -> list:
    """Test files that failed to import (their tests are missing from the grades)."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is None:
        return []
    return [report.nodeid for report in reporter.stats.get("error", [])
            if getattr(report, "when", "collect") == "collect"]


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    book = _book(config)
    if not book.grades:
        return
    terminalreporter.section("grades")
    for line in book.table():
        terminalreporter.write_line(line)
    terminalreporter.write_line("")
    errors = len(_collection_errors(config))
    terminalreporter.write_line(book.verdict(errors), bold=True, red=bool(errors))


def pytest_sessionfinish(session, exitstatus):
    _stop_started(session.config)
    _journal(session.config, {"event": "end",
                              "collection_errors": _collection_errors(session.config)})
    path = session.config.getoption("grade_json", None)
    if not path:
        return
    from ..fileio import atomic_write

    book = _book(session.config)
    atomic_write(path, json.dumps(book.results_json(_collection_errors(session.config)),
                                  indent=2) + "\n")
