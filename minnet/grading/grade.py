"""``minnet grade SUBMISSION_DIR``: grade a student's work in a clean copy of the labs.

Only the files students are meant to edit are taken from the submission: the
names of the ``.py`` files in ``labs/source/NN_lab/`` (the mutant bank and
hidden tests excepted). Everything else (tests, conftest.py, READMEs, data) comes
from the instructor's labs folder, so an edited test or conftest in a
submission has no effect -- the report says when they differ from the released
versions (by the hashes in labs/MANIFEST.json). Hidden tests
(``labs/source/NN_lab/test_hidden_*.py``) are added to the copy.

The same machinery grades the reference solutions, the released stubs and the
mutants for ``minnet labs check`` (see mutants.py): ``build_tree`` lays out a
temporary labs folder with the student files given as text, and
``run_pytest`` grades it in a separate pytest process and returns the
results.json the plugin wrote.
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


def grading_environment(single_thread: bool) -> dict:
    env = dict(os.environ)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if single_thread:  # several gradings at once on a small machine: no BLAS oversubscription
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
            env[name] = "1"
    return env


def pytest_command(tree: Path, folders: Optional[list], grade_json: Path,
                   timeout: Optional[float] = None, extra: tuple = ()) -> list:
    targets = [str(tree / folder) for folder in folders] if folders else [str(tree)]
    # --continue-on-collection-errors: one lab's broken test file must not cost every lab
    command = [sys.executable, "-m", "pytest", *targets, "--import-mode=importlib",
               "-p", "no:cacheprovider", "--continue-on-collection-errors",
               "--rootdir", str(tree.parent),
               "--grade-json", str(grade_json)]
    if timeout:
        command += ["--lab-timeout", str(timeout)]
    return command + list(extra)


def start_pytest(tree: Path, folders: Optional[list], timeout: Optional[float] = None,
                 extra: tuple = (), quiet: bool = True, single_thread: bool = False):
    """Start grading ``folders`` of ``tree`` in a new pytest process; returns (process, json path)."""
    grade_json = Path(tempfile.mkstemp(prefix="results-", suffix=".json", dir=tree.parent)[1])
    command = pytest_command(tree, folders, grade_json, timeout,
                             (("-q", "--no-header", "-rN", "--tb=no") if quiet else ()) + extra)
    process = subprocess.Popen(command, cwd=str(tree.parent),
                               env=grading_environment(single_thread),
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


def run_pytest(tree: Path, folders: Optional[list] = None, timeout: Optional[float] = None,
               extra: tuple = (), quiet: bool = True, single_thread: bool = False) -> PytestRun:
    import time

    started = time.monotonic()
    process, grade_json = start_pytest(tree, folders, timeout, extra, quiet, single_thread)
    return finish_pytest(process, grade_json, started)


# --------------------------------------------------------------------------
# what to take from a submission
# --------------------------------------------------------------------------
@dataclass
class Intake:
    taken: list = field(default_factory=list)      # (lab, name, path in submission)
    missing: list = field(default_factory=list)    # (lab, name)
    tampered: list = field(default_factory=list)   # (relative name, path in submission)

    def lines(self, submission: Path) -> list:
        lines = []
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
    try:
        return path.relative_to(base).as_posix()
    except ValueError:
        return str(path)


def _candidate_files(submission: Path) -> list:
    """Every .py file of the submission, except under source/ (never a student's own work)
    and hidden or cache folders."""
    files = []
    for path in submission.rglob("*.py"):
        parts = path.relative_to(submission).parts
        if any(part == SOURCE_FOLDER or part.startswith(".") or part == "__pycache__"
               for part in parts[:-1]):
            continue
        if path.is_file():
            files.append(path)
    return sorted(files, key=lambda p: (len(p.parts), str(p)))


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
    candidates = _candidate_files(submission)
    names = [name for lab in labs for name in student_files(labs_dir, lab)]
    unique = {name for name in names if names.count(name) == 1}
    intake, files = Intake(), {}
    for lab in labs:
        files[lab] = {}
        for name in student_files(labs_dir, lab):
            path = find_student_file(lab, name, candidates, unique)
            if path is None:
                intake.missing.append((lab, name))
                continue
            files[lab][name] = path.read_text(encoding="utf-8", errors="replace")
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
        run = run_pytest(tree, labs, timeout=args.lab_timeout, quiet=False)
    if run.results is None:
        print(f"minnet grade: pytest ended with status {run.returncode} before writing grades",
              file=sys.stderr)
        return 1
    results = run.results
    results["output"] = "\n".join(notes) + "\n\n" + results.get("output", "")
    if args.grade_json:
        atomic_write(args.grade_json, json.dumps(results, indent=2) + "\n")
        print(f"wrote {args.grade_json}")
    return 0
