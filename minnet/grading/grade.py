"""``minnet grade SUBMISSION_DIR``: grade a student's work in a clean copy of the labs.

Only the files students edit (the ``.py`` names in ``labs/source/NN_lab/`` but mutants and
hidden tests) come from the submission; tests, conftest, READMEs and data come from the
instructor's labs, so an edited test changes nothing (the report names it, by the hashes in
``labs/MANIFEST.json``). Hidden tests are added. ``build_tree``, ``start_pytest`` and
``finish_pytest`` also grade references, stubs and mutants for ``minnet labs check``;
``grade_to_the_end`` grades a submission even if a test kills the grading process. More:
docs/grading_internals.md; guarantees: docs/instructors.md section 5.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .loading import decode_source
from .release import (HIDDEN_PREFIX, SOURCE_FOLDER, display, hidden_tests, planned_release,
                      read_manifest, resolve_labs, sha256_file, student_files)

IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache", ".*")


# --------------------------------------------------------------------------
# a temporary labs folder
# --------------------------------------------------------------------------
@dataclass
class LabCopy:
    """One lab folder in a temporary tree: ``folder`` (its name there) graded as ``lab``."""
    lab: str                 # the instructor's lab, e.g. 01_backprop
    folder: str              # its folder name in the tree (01_backprop, or 01_backprop__m03)
    files: dict              # student file name -> text to grade
    hidden: bool = True      # add labs/source/<lab>/test_hidden_*.py


def build_tree(labs_dir, root, copies: list) -> Path:
    """Lay out ``root/labs`` for grading and return it.

    For each LabCopy: ``labs/<folder>/`` is a copy of the released lab folder with
    the given student files written over it (and the hidden tests added);
    ``labs/source/<folder>/`` is a copy of the lab's sources, so reference()
    finds the solutions whatever the folder is called.
    """
    labs_dir, root = Path(labs_dir), Path(root)
    tree = root / "labs"
    tree.mkdir(parents=True, exist_ok=True)
    conftest = labs_dir / "conftest.py"
    if conftest.is_file():
        shutil.copy2(conftest, tree / "conftest.py")
    else:  # an instructor's tree without it still grades
        (tree / "conftest.py").write_text("from minnet.grading.plugin import *  # noqa\n")
    # a pytest.ini makes root the rootdir: the caller's own pytest settings do not apply
    (root / "pytest.ini").write_text("[pytest]\n")
    for copy in copies:
        released = labs_dir / copy.lab
        target = tree / copy.folder
        if released.is_dir():
            shutil.copytree(released, target, ignore=IGNORED)
        else:
            target.mkdir(parents=True)
        source = labs_dir / SOURCE_FOLDER / copy.lab
        if source.is_dir():
            shutil.copytree(source, tree / SOURCE_FOLDER / copy.folder, ignore=IGNORED)
        for name, text in copy.files.items():
            (target / name).write_text(text, encoding="utf-8")
        if copy.hidden:
            for name in hidden_tests(labs_dir, copy.lab):
                shutil.copy2(source / name, target / name)
    return tree


@dataclass
class PytestRun:
    returncode: int
    results: Optional[dict]       # the results.json the plugin wrote (None if pytest failed early)
    output: str                   # pytest's terminal output (empty when streamed)
    seconds: float

    def tests(self) -> dict:
        """{(folder, test name): entry} from results.json."""
        entries = {}
        for entry in (self.results or {}).get("tests", []):
            folder, _, name = entry["name"].partition(": ")
            entries[(folder, name)] = entry
        return entries


def grading_environment(single_thread: bool, hide: tuple = ()) -> dict:
    env = dict(os.environ)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if hide and jail_prefix():  # sandboxed student processes see these empty (as root)
        from .lockdown import HIDE_VARIABLE

        env[HIDE_VARIABLE] = os.pathsep.join(str(path) for path in hide)
    if single_thread:  # several gradings at once on a small machine: no BLAS oversubscription
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = "1"
    return env


def pytest_command(tree: Path, folders: Optional[list], grade_json: Optional[Path],
                   timeout: Optional[float] = None, extra: tuple = ()) -> list:
    targets = [str(tree / folder) for folder in folders] if folders else [str(tree)]
    # --continue-on-collection-errors: one lab's broken test file must not cost every lab;
    # tmp_path_retention_policy=none: the tests' tmp_path folders (what a student's code
    # wrote there) are removed when pytest ends, not kept in the system's /tmp (pytest keeps
    # the last three runs' by default: a review left 360 MB per grading there)
    command = [sys.executable, "-m", "pytest", *targets, "--import-mode=importlib",
               "-p", "no:cacheprovider", "--continue-on-collection-errors",
               "--rootdir", str(tree.parent), "-o", "tmp_path_retention_policy=none"]
    if grade_json is not None:
        command += ["--grade-json", str(grade_json)]
    if timeout:
        command += ["--lab-timeout", str(timeout)]
    return command + list(extra)


def start_pytest(tree: Path, folders: Optional[list], timeout: Optional[float] = None,
                 extra: tuple = (), quiet: bool = True, single_thread: bool = False,
                 sandbox_uid: Optional[int] = None):
    """Start grading ``folders`` of ``tree`` in a new pytest process; returns (process, json path).
    ``sandbox_uid``: its workers' uid as root (pytest processes at once need their own: each
    kills every process of its uid after each test)."""
    grade_json = Path(tempfile.mkstemp(prefix="results-", suffix=".json", dir=tree.parent)[1])
    # several gradings at once (single_thread): each grades its tests one at a time
    command = pytest_command(tree, folders, grade_json, timeout,
                             (("-q", "--no-header", "-rN", "--tb=no") if quiet else ())
                             + (("--lab-jobs", "1") if single_thread else ()) + extra)
    environment = grading_environment(single_thread)
    if sandbox_uid is not None:
        environment["MINNET_SANDBOX_UID"] = str(sandbox_uid)
    process = subprocess.Popen(command, cwd=str(tree.parent), env=environment,
                               stdout=subprocess.PIPE if quiet else None,
                               stderr=subprocess.STDOUT if quiet else None, text=True)
    return process, grade_json


def finish_pytest(process, grade_json: Path, started: float) -> PytestRun:
    import time

    output, _ = process.communicate()
    results = None
    try:
        text = grade_json.read_text(encoding="utf-8")
        results = json.loads(text) if text.strip() else None
    except (OSError, ValueError):
        results = None
    return PytestRun(process.returncode, results, output or "", time.monotonic() - started)


def grade_to_the_end(tree: Path, folders: list, timeout: Optional[float] = None,
                     restarts: int = 5, labs_dir: Optional[Path] = None) -> tuple:
    """(results.json dict or None, notes): grade ``folders`` even if the grading process is
    killed on the way (a submission calling ``os.kill(os.getppid(), 9)``, say).

    The plugin journals each test's start and grade as it happens. When pytest ends without
    finishing, the test that started and has no grade is the one it died in: it scores 0
    and the run resumes with the tests not yet graded. The results come from the journal
    and this process, never from a file the tests' processes could leave behind.
    """
    from .isolation import become_subreaper, hide_from_same_user, kill_orphans
    from .plugin import GradeBook, Grade

    # what the tests' processes leave running is re-parented here and killed after each run,
    # before any result is written; same-user processes cannot open this one's pipes
    become_subreaper()
    hide_from_same_user()
    graded, lost, notes = {}, {}, []
    collected: dict = {}  # nodeid -> entry: every lab test with points pytest collected
    collection_errors: list = []
    for attempt in range(restarts + 1):
        skip = tuple(f"--deselect={nodeid}" for nodeid in [*graded, *lost])
        run, entries = _run_with_journal(tree, folders, timeout, skip, labs_dir)
        kill_orphans()
        started, finished = {}, None
        for entry in entries:
            if entry.get("event") == "end":
                finished = entry
            elif entry.get("event") == "collected":
                for test in entry.get("tests", []):
                    collected.setdefault(test["nodeid"], test)
            elif entry.get("event") == "start":
                started[entry["nodeid"]] = entry
            elif entry.get("event") == "grade":
                grade = entry["grade"]
                graded.setdefault(grade["nodeid"], (grade, float(entry.get("seconds", 0.0))))
        if finished is not None:
            collection_errors = [str(error) for error in finished.get("collection_errors", [])]
        ungraded = [nodeid for nodeid in collected if nodeid not in graded and nodeid not in lost]
        if finished is not None and not ungraded:
            break
        # ended early, "normally" or not (an interrupt, a kill): the test that started and
        # has no grade scores 0, and the run resumes with the tests not yet graded
        victims = [entry for nodeid, entry in started.items() if nodeid not in graded]
        if not victims:
            notes.append(f"the grading process ended with status {run.returncode} outside any "
                         "test: the tests it had not reached score 0")
            break
        for entry in victims:
            lost[entry["nodeid"]] = entry
        notes.append(f"the grading process stopped during {victims[-1]['nodeid']} "
                     f"(status {run.returncode}): that test scores 0; the others were "
                     "graded in a new process")
    if not graded and not lost:
        return None, notes
    book = GradeBook()
    for nodeid, (grade, seconds) in graded.items():
        book.record(Grade(**grade))
        book.seconds[nodeid] = seconds
    for nodeid, entry in lost.items():
        book.record(Grade(nodeid=nodeid, lab=entry["lab"], name=entry["name"],
                          max_score=float(entry.get("max_score") or 0.0), score=0.0,
                          output="this test stopped the grading process (a signal to it, or a "
                                 "crash that took the grader down) and scores 0",
                          hidden=bool(entry.get("hidden")), passed=False))
    for nodeid, entry in collected.items():  # the maximum comes from what was collected
        if nodeid not in graded and nodeid not in lost:
            book.record(Grade(nodeid=nodeid, lab=entry["lab"], name=entry["name"],
                              max_score=float(entry.get("max_score") or 0.0), score=0.0,
                              output="this test was never graded (the grading process stopped "
                                     "before it) and scores 0",
                              hidden=bool(entry.get("hidden")), passed=False))
    return book.results_json(tuple(collection_errors)), notes


def jail_prefix() -> list:
    """``unshare --pid --mount --fork --mount-proc --kill-child`` where it works (Linux, as
    root, util-linux installed): the grader is then PID 1 of a PID namespace with its own
    /proc. Processes of the tests see neither ``minnet grade`` nor any process outside (no
    PID to signal, no command line to read), cannot kill the grader (a namespace's init
    ignores SIGKILL sent from inside) and cannot outlive it. Empty where unavailable."""
    global _jail
    if os.environ.get("MINNET_GRADING_NAMESPACES") == "0":  # to see the fallback at work
        return []
    if _jail is None:
        _jail = []
        unshare = shutil.which("unshare")
        if unshare and sys.platform.startswith("linux") and os.geteuid() == 0:
            prefix = [unshare, "--pid", "--mount", "--fork", "--mount-proc", "--kill-child"]
            try:
                trial = subprocess.run(prefix + ["true"], capture_output=True, timeout=10)
                if trial.returncode == 0:
                    _jail = prefix
            except (OSError, subprocess.SubprocessError):
                pass
    return list(_jail)


_jail: Optional[list] = None


def jailed(command: list) -> list:
    return jail_prefix() + command


def secrets_of(tree: Path, labs_dir: Optional[Path]) -> tuple:
    """What a sandboxed student process must not see at all: the whole grading tree
    (references, hidden and public tests; the student's file reaches the worker as text),
    the instructor's labs folder and the course repository's history."""
    paths = [tree.parent]
    if labs_dir is not None:
        labs_dir = Path(labs_dir).resolve()
        paths.append(labs_dir)
        root = course_root(labs_dir)
        if root is not None:
            paths.append(root / ".git")
    return tuple(str(path) for path in paths if path.exists())


def course_root(labs_dir: Path) -> Optional[Path]:
    """The repository holding the labs folder (the nearest folder with .git), if any."""
    for folder in (labs_dir, *labs_dir.parents):
        if (folder / ".git").exists():
            return folder
    return None


def _run_with_journal(tree: Path, folders: list, timeout: Optional[float], extra: tuple,
                      labs_dir: Optional[Path] = None):
    """Run pytest with the journal on a pipe only this process reads; (PytestRun, entries)."""
    import threading
    import time

    read_fd, write_fd = os.pipe()
    chunks: list = []
    reader = threading.Thread(target=_drain, args=(read_fd, chunks), daemon=True)
    reader.start()
    started = time.monotonic()
    command = jailed(pytest_command(tree, folders, None, timeout,
                                    ("--grade-journal-fd", str(write_fd), *extra)))
    try:
        process = subprocess.Popen(command, cwd=str(tree.parent), pass_fds=(write_fd,),
                                   env=grading_environment(False, secrets_of(tree, labs_dir)))
    finally:
        os.close(write_fd)
    try:
        process.wait()
    except KeyboardInterrupt:  # the grader's pytest ignores SIGINT: Ctrl-C here ends it
        process.kill()
        process.wait()
        raise
    reader.join()
    run = PytestRun(process.returncode, None, "", time.monotonic() - started)
    return run, _journal_entries(b"".join(chunks))


def _drain(fd: int, chunks: list) -> None:
    with os.fdopen(fd, "rb") as pipe:
        for chunk in iter(lambda: pipe.read(1 << 16), b""):
            chunks.append(chunk)


def _journal_entries(data: bytes) -> list:
    entries = []
    for line in data.decode("utf-8", errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line cut short when the process died
        if isinstance(entry, dict):
            entries.append(entry)
    return entries


# --------------------------------------------------------------------------
# what to take from a submission
# --------------------------------------------------------------------------
@dataclass
class Intake:
    taken: list = field(default_factory=list)      # (lab, name, path in submission)
    missing: list = field(default_factory=list)    # (lab, name)
    tampered: list = field(default_factory=list)   # (relative name, path in submission)
    refused: list = field(default_factory=list)    # (path in submission, why): not read

    def lines(self, submission: Path) -> list:
        lines = []
        for path, why in self.refused:
            lines.append(f"  REFUSED {_relative(path, submission)}  ({why}: not read; a file "
                         "the lab needs is graded as missing)")
        for lab, name, path in self.taken:
            lines.append(f"  taken   {lab}/{name}  <- {_relative(path, submission)}")
        for lab, name in self.missing:
            lines.append(f"  MISSING {lab}/{name}  (not in the submission: the released "
                         "stub is graded)")
        return lines

    def tamper_lines(self, submission: Path) -> list:
        return [f"  {name}  ({_relative(path, submission)}) differs from the released version: "
                "ignored, the released file was used" for name, path in self.tampered]


def _relative(path: Path, base: Path) -> str:
    """``path`` relative to ``base``, printable (a submission's file names are the student's
    text: no terminal escapes)."""
    from .sandbox import printable

    try:
        return printable(path.relative_to(base).as_posix())
    except ValueError:
        return printable(str(path))


def _candidate_files(submission: Path) -> tuple:
    """(files, refused): every .py file of the submission, except under source/ (never a
    student's own work) and hidden or cache folders; and [(path, why)] of those that are not
    a regular file inside the submission. A symbolic link (the file or a folder on its way)
    is refused, never followed: a link to the reference solution would be graded as the
    student's work (a git clone or an unzipped upload keeps links)."""
    files, refused = [], []
    for folder, folders, names in os.walk(submission):  # never enters a linked folder
        parts = Path(folder).relative_to(submission).parts
        if any(part == SOURCE_FOLDER or part.startswith(".") or part == "__pycache__"
               for part in parts):
            folders[:] = []
            continue
        for name in sorted(names + [entry for entry in folders
                                    if os.path.islink(os.path.join(folder, entry))]):
            path = Path(folder) / name
            if not (name.endswith(".py") or name in folders):
                continue  # a .py file, or a linked folder (never entered)
            why = _not_regular(path, submission)
            if why:
                refused.append((path, why))
            else:
                files.append(path)
    return sorted(files, key=lambda p: (len(p.parts), str(p))), sorted(refused)


def _not_regular(path: Path, submission: Path) -> str:
    """Why ``path`` may not be read as a student's file ('' when it may): it must be a
    regular file, reached without a symbolic link, that stays inside the submission."""
    import stat

    try:
        mode = os.lstat(path).st_mode
    except OSError as error:
        return f"cannot be read: {error.strerror}"
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if not stat.S_ISREG(mode):
        return "not a regular file"
    if not _inside(path.resolve(), submission.resolve()):
        return "outside the submission"
    return ""


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


def _read_regular(path: Path) -> str:
    """The text of a student's file, opened without following a link (O_NOFOLLOW): what
    was checked is what is read."""
    descriptor = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
    with os.fdopen(descriptor, "rb") as file:
        return decode_source(file.read())  # written to the copy as UTF-8, "\n" line endings


def find_student_file(lab: str, name: str, candidates: list, unique_names: set) -> Optional[Path]:
    """The submission's version of ``lab/name``: inside a folder named ``lab`` if any (shallowest
    first), else a file ``name`` anywhere when no other lab has a file of that name."""
    in_lab = [path for path in candidates if path.name == name and path.parent.name == lab]
    if in_lab:
        return in_lab[0]
    if name in unique_names:
        anywhere = [path for path in candidates if path.name == name]
        if anywhere:
            return anywhere[0]
    return None


def take_submission(labs_dir: Path, submission: Path, labs: list) -> tuple:
    """({lab: {name: text}}, Intake) for the student files of ``labs`` found in ``submission``."""
    candidates, refused = _candidate_files(submission)
    names = [name for lab in labs for name in student_files(labs_dir, lab)]
    unique = {name for name in names if names.count(name) == 1}
    intake, files = Intake(refused=refused), {}
    for lab in labs:
        files[lab] = {}
        for name in student_files(labs_dir, lab):
            path = find_student_file(lab, name, candidates, unique)
            if path is None:
                intake.missing.append((lab, name))
                continue
            files[lab][name] = _read_regular(path)
            intake.taken.append((lab, name, path))
    intake.tampered = find_tampered(labs_dir, submission, labs, candidates)
    return files, intake


def find_tampered(labs_dir: Path, submission: Path, labs: list, candidates: list) -> list:
    """Test files and conftest.py in the submission whose hash differs from MANIFEST.json."""
    manifest = read_manifest(labs_dir) or {}
    hashes = manifest.get("files", {})
    tampered = []
    for path in candidates:
        name = path.name
        if not (name.startswith("test_") or name == "conftest.py"):
            continue
        lab = path.parent.name
        key = f"{lab}/{name}" if lab in labs else (name if name == "conftest.py" else None)
        if key is None or key not in hashes:
            if lab in labs and name.startswith("test_") and not name.startswith(HIDDEN_PREFIX):
                tampered.append((f"{lab}/{name}", path))  # a test file we never released
            continue
        if sha256_file(path) != hashes[key]:
            tampered.append((key, path))
    return tampered


# --------------------------------------------------------------------------
# the command
# --------------------------------------------------------------------------
def grade_command(args) -> int:
    from ..fileio import atomic_write

    labs_dir = Path(args.labs)
    submission = Path(args.submission)
    if not (labs_dir / SOURCE_FOLDER).is_dir():
        print(f"minnet grade: {display(labs_dir)}/{SOURCE_FOLDER} not found: grading needs the "
              "instructor's labs folder (run from the course repository's root or pass "
              "--labs DIR)", file=sys.stderr)
        return 2
    if not submission.is_dir():
        print(f"minnet grade: the submission {submission} is not a folder", file=sys.stderr)
        return 2
    labs = resolve_labs(labs_dir, args.lab)
    labs = [lab for lab in labs if (labs_dir / lab).is_dir()]
    files, intake = take_submission(labs_dir, submission.resolve(), labs)
    notes = [f"Graded {len(labs)} lab(s) from {submission}:"] + intake.lines(submission.resolve())
    tamper = intake.tamper_lines(submission.resolve())
    if tamper:
        notes += ["Test files in the submission that differ from the released ones:"] + tamper
    if read_manifest(labs_dir) is None:
        notes.append("(labs/MANIFEST.json not found: test files were not compared; run "
                     "`minnet labs release`)")
    print("\n".join(notes), flush=True)
    with tempfile.TemporaryDirectory(prefix="minnet-grade-") as root:
        # a file missing from the submission is graded as released (generated from its source
        # here, so an instructor's working copy of labs/NN_lab/ cannot stand in for it)
        released = {(path.parent.name, path.name): text
                    for path, text in planned_release(labs_dir, labs).items()}
        copies = [LabCopy(lab, lab, {**{name: text for (owner, name), text in released.items()
                                        if owner == lab}, **files[lab]},
                          hidden=not args.no_hidden) for lab in labs]
        tree = build_tree(labs_dir, root, copies)
        results, problems = grade_to_the_end(tree, labs, timeout=args.lab_timeout,
                                             labs_dir=labs_dir)
    for problem in problems:
        print(f"minnet grade: {problem}", file=sys.stderr)
    if results is None:
        print("minnet grade: no test could be graded", file=sys.stderr)
        return 1
    results["output"] = "\n".join(notes + problems) + "\n\n" + results.get("output", "")
    if args.grade_json:
        atomic_write(args.grade_json, json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.grade_json}")
    return 0
