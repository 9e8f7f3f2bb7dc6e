"""``minnet labs release``: generate the student files from the instructor's sources.

Each ``labs/source/NN_lab/<file>.py`` is the runnable reference solution with regions
between ``### BEGIN SOLUTION`` and ``### END SOLUTION``. Release replaces each region, at
its indentation, by ``# YOUR CODE HERE`` and ``raise NotImplementedError(...)`` (the text
after ``BEGIN SOLUTION`` is the message, if any); a region with a ``### RELEASE AS`` part
releases that part uncommented instead (a planted failure for students to find). It also
writes ``labs/MANIFEST.json``, the SHA-256 of every released file, so ``minnet grade`` sees
edited test files. Examples: docs/grading_internals.md.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .regions import LabSourceError, find_regions

SOURCE_FOLDER = "source"
MUTANTS_FILE = "mutants.py"
HIDDEN_PREFIX = "test_hidden_"
MANIFEST = "MANIFEST.json"
LAB_FOLDER = re.compile(r"^\d\d_\w+$")
# what the manifest covers in a released lab folder (outputs such as figures are not released)
MANIFEST_SUFFIXES = {".py", ".md", ".txt", ".json", ".npz", ".npy", ".csv", ".toml", ".cfg",
                     ".ini"}
DEF_LINE = re.compile(r"^(\s*)(?:async\s+)?def\s+(\w+)\s*\(")


def _enclosing_function(lines: list, line_number: int, indent: str) -> Optional[str]:
    """The name of the innermost ``def`` that contains line ``line_number``."""
    for number in range(line_number - 1, -1, -1):
        match = DEF_LINE.match(lines[number])
        if match and len(match.group(1)) < len(indent):
            return match.group(2)
    return None


def _uncomment(line: str) -> str:
    """'    # x = 1' -> '    x = 1'; '    # # note' -> '    # note'; '    #' -> ''."""
    body = line.lstrip()
    indent = line[:len(line) - len(body)]
    if body.startswith("# "):
        return indent + body[2:]
    if body.rstrip() == "#":
        return ""
    return line


def _keep_newline(text: str) -> str:
    return "\n" if text.endswith("\n") else ""


def release_text(text: str, filename: str = "<source>") -> str:
    """The student version of a source file: solution regions replaced (see module docstring)."""
    lines = text.splitlines()
    regions = find_regions(text, filename)
    out, cursor = [], 0
    for region in regions:
        out += lines[cursor:region.begin]
        if region.release is not None:
            out += [_uncomment(line) for line in lines[region.release + 1:region.end]]
        else:
            hint = region.hint
            if not hint:
                function = _enclosing_function(lines, region.begin, region.indent)
                hint = f"{function}: your code here" if function else "your code here"
            out.append(f"{region.indent}# YOUR CODE HERE")
            out.append(f"{region.indent}raise NotImplementedError({json.dumps(hint)})")
        cursor = region.end + 1
    out += lines[cursor:]
    return "\n".join(out) + _keep_newline(text)


def solution_text(text: str, filename: str = "<source>") -> str:
    """The reference solution without markers (and without the release parts)."""
    lines = text.splitlines()
    regions = find_regions(text, filename)
    out, cursor = [], 0
    for region in regions:
        out += lines[cursor:region.begin]
        stop = region.release if region.release is not None else region.end
        out += lines[region.begin + 1:stop]
        cursor = region.end + 1
    out += lines[cursor:]
    return "\n".join(out) + _keep_newline(text)


# --------------------------------------------------------------------------
# labs on disk
# --------------------------------------------------------------------------
def solution_files(labs_dir, lab: str) -> dict:
    """{student file name: reference solution text without markers}."""
    folder = Path(labs_dir) / SOURCE_FOLDER / lab
    return {name: solution_text((folder / name).read_text(encoding="utf-8"),
                                display(folder / name))
            for name in student_files(labs_dir, lab)}


def source_root(labs_dir) -> Path:
    return Path(labs_dir) / SOURCE_FOLDER


def all_labs(labs_dir) -> list:
    """Lab folder names (NN_name) that have a source folder or a released folder, sorted."""
    labs_dir = Path(labs_dir)
    names = set()
    for parent in (labs_dir, source_root(labs_dir)):
        if parent.is_dir():
            names.update(entry.name for entry in parent.iterdir()
                         if entry.is_dir() and LAB_FOLDER.match(entry.name))
    return sorted(names)


def resolve_labs(labs_dir, names) -> list:
    """Lab folder names for user-given names: '03_loss', '03', '3', 'loss' or 'labs/03_loss'."""
    known = all_labs(labs_dir)
    if not names:
        return known
    chosen = []
    for name in names:
        key = Path(str(name).rstrip("/")).name
        matches = [lab for lab in known if lab == key]
        if not matches and key.isdigit():
            matches = [lab for lab in known if lab.split("_", 1)[0] == f"{int(key):02d}"]
        if not matches:
            matches = [lab for lab in known if lab.split("_", 1)[1] == key
                       or lab.split("_", 1)[1].startswith(key)]
        if len(matches) != 1:
            found = "several labs match: " + ", ".join(matches) if matches else "no lab matches"
            raise LabSourceError(f"--lab {name}: {found}. Labs: {', '.join(known) or '(none)'}")
        if matches[0] not in chosen:
            chosen.append(matches[0])
    return chosen


def student_files(labs_dir, lab: str) -> list:
    """The files students edit in ``lab``: the .py files of its source folder, except the
    mutant bank and hidden tests."""
    folder = source_root(labs_dir) / lab
    if not folder.is_dir():
        return []
    return sorted(path.name for path in folder.glob("*.py")
                  if path.name != MUTANTS_FILE and not path.name.startswith(HIDDEN_PREFIX))


def hidden_tests(labs_dir, lab: str) -> list:
    folder = source_root(labs_dir) / lab
    return sorted(path.name for path in folder.glob(HIDDEN_PREFIX + "*.py")) \
        if folder.is_dir() else []


def planned_release(labs_dir, labs: list) -> dict:
    """{released path: text} for the student files of ``labs`` (reads the sources only)."""
    planned = {}
    for lab in labs:
        for name in student_files(labs_dir, lab):
            source = source_root(labs_dir) / lab / name
            text = source.read_text(encoding="utf-8")
            planned[Path(labs_dir) / lab / name] = release_text(text, str(source))
    return planned


def sha256_file(path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 16), b""):
            digest.update(block)
    return digest.hexdigest()


def manifest_files(labs_dir) -> list:
    """Released files the manifest covers, relative to labs/ (posix style), sorted."""
    labs_dir = Path(labs_dir)
    files = [name for name in ("README.md", "conftest.py") if (labs_dir / name).is_file()]
    for lab in all_labs(labs_dir):
        folder = labs_dir / lab
        if not folder.is_dir():
            continue
        for path in sorted(folder.rglob("*")):
            relative = path.relative_to(labs_dir)
            if (path.is_file() and path.suffix in MANIFEST_SUFFIXES
                    and not any(part.startswith((".", "__pycache__")) for part in relative.parts)):
                files.append(relative.as_posix())
    return sorted(files)


def build_manifest(labs_dir, overrides: Optional[dict] = None) -> dict:
    """The manifest of labs/ as it is on disk (``overrides``: {path: text} not yet written)."""
    labs_dir = Path(labs_dir)
    overrides = {Path(path).resolve(): text for path, text in (overrides or {}).items()}
    names = set(manifest_files(labs_dir))
    names.update(Path(path).relative_to(labs_dir.resolve()).as_posix() for path in overrides)
    hashes = {}
    for name in sorted(names):
        path = (labs_dir / name).resolve()
        if path in overrides:
            hashes[name] = hashlib.sha256(overrides[path].encode("utf-8")).hexdigest()
        else:
            hashes[name] = sha256_file(path)
    labs = all_labs(labs_dir)
    return {
        "about": "SHA-256 of every released lab file, written by `minnet labs release`; "
                 "`minnet grade` compares submissions with it.",
        "student_files": {lab: student_files(labs_dir, lab) for lab in labs
                          if student_files(labs_dir, lab)},
        "files": hashes,
    }


def manifest_text(manifest: dict) -> str:
    return json.dumps(manifest, indent=2, sort_keys=False) + "\n"


def read_manifest(labs_dir) -> Optional[dict]:
    path = Path(labs_dir) / MANIFEST
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@dataclass
class ReleaseResult:
    written: list = field(default_factory=list)     # paths whose content changed
    unchanged: list = field(default_factory=list)
    verbatim: list = field(default_factory=list)    # sources without a solution region
    out_of_sync: list = field(default_factory=list)  # --check: (path, why)


def _in_labs(name: str, labs: set) -> bool:
    """A manifest entry that belongs to one of ``labs`` or sits at the top of labs/."""
    return "/" not in name or name.split("/", 1)[0] in labs


def release(labs_dir, labs=None, check: bool = False) -> ReleaseResult:
    """Release the student files of ``labs`` (all when None) and rewrite the manifest.

    With ``check=True`` nothing is written; ``out_of_sync`` lists every file
    that differs from what a release would write (the manifest included). With
    ``labs`` given, only their manifest entries (and the top-level files') are
    renewed or compared: other labs keep the entries of the last full release.
    """
    from ..fileio import atomic_write

    labs_dir = Path(labs_dir)
    chosen = resolve_labs(labs_dir, labs)
    planned = planned_release(labs_dir, chosen)
    result = ReleaseResult()
    for path, text in planned.items():
        source = source_root(labs_dir) / path.parent.name / path.name
        if source.read_text(encoding="utf-8") == text:
            result.verbatim.append(path)  # released exactly as written: fine for helpers only
        current = path.read_text(encoding="utf-8") if path.is_file() else None
        if current == text:
            result.unchanged.append(path)
            continue
        if check:
            result.out_of_sync.append((path, "missing" if current is None else
                                       "differs from its source (run `minnet labs release`)"))
        else:
            atomic_write(path, text)
            result.written.append(path)
    partial = bool(labs) and set(chosen) != set(all_labs(labs_dir))
    scope = set(chosen) if partial else None
    manifest = build_manifest(labs_dir, planned if check else None)
    previous = read_manifest(labs_dir)
    if scope is not None and previous is not None:  # other labs keep their last entries
        manifest["files"] = dict(sorted({
            **{name: digest for name, digest in previous.get("files", {}).items()
               if not _in_labs(name, scope)},
            **{name: digest for name, digest in manifest["files"].items()
               if _in_labs(name, scope)}}.items()))
    manifest_path = labs_dir / MANIFEST
    if check:
        problem = _manifest_problem(previous, manifest, scope)
        if problem:
            result.out_of_sync.append((manifest_path, problem))
        return result
    text = manifest_text(manifest)
    current = manifest_path.read_text(encoding="utf-8") if manifest_path.is_file() else None
    if current != text:
        atomic_write(manifest_path, text)
        result.written.append(manifest_path)
    return result


def _manifest_problem(current: Optional[dict], wanted: dict, scope: Optional[set]) -> str:
    """Why the manifest on disk is out of date ('' when it is not), within ``scope`` labs."""
    if current is None:
        return "missing or unreadable (run `minnet labs release`)"
    have, want = current.get("files", {}), wanted["files"]
    if scope is not None:
        have = {name: digest for name, digest in have.items() if _in_labs(name, scope)}
        want = {name: digest for name, digest in want.items() if _in_labs(name, scope)}
    changed = sorted(name for name in want if name in have and have[name] != want[name])
    added = sorted(set(want) - set(have))
    removed = sorted(set(have) - set(want))
    parts = []
    for label, names in (("changed", changed), ("not listed", added), ("gone", removed)):
        if names:
            shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
            parts.append(f"{label}: {shown}")
    if not parts and scope is None and current.get("student_files") != wanted["student_files"]:
        parts.append("the list of student files changed")
    return "out of date (" + "; ".join(parts) + "; run `minnet labs release`)" if parts else ""


def display(path, base=None) -> str:
    """A path relative to ``base`` (default: the current folder) when it is inside it."""
    path = Path(path)
    try:
        return os.path.relpath(path, base) if not os.path.relpath(path, base).startswith("..") \
            else str(path)
    except ValueError:
        return str(path)


# --------------------------------------------------------------------------
# a student repository: minnet labs release --to DIR
# --------------------------------------------------------------------------
STUDENT_README = """\
# {title}

The graded labs of the course, for you to solve. Each lab is a folder in `labs/`:
its README says what to do and which file(s) you edit.

## Setup (once)

Install minnet with pytest into a virtual environment (your course says where minnet
comes from; from a clone of the minnet repository: `pip install '.[dev]'`):

```bash
python -m venv .venv && . .venv/bin/activate
pip install 'minnet[dev]'          # or: pip install '/path/to/minnet[dev]'
```

## Grading your work locally

```bash
pytest labs/                       # every lab: a table of points, and feedback
pytest labs/03_loss                # one lab
```

You get the same points here as the instructor's grader gives for the public tests
when your code is correct: the grader runs the same tests on other random inputs (the
same kind, other numbers) and may add hidden tests, so code that only fits these
inputs loses points there. The tests compare your results with reference results
recorded when this repository was made (`labs/NN_lab/{calls}`): edit only the files
the READMEs name, not the tests or those files.
"""
DOCS_LEFT_OUT = {"instructors.md"}  # docs/ files a student repository does not get


@dataclass
class StudentRelease:
    destination: Path
    files: list = field(default_factory=list)          # written, relative to destination
    recorded: dict = field(default_factory=dict)       # lab -> number of recorded calls
    unrecordable: list = field(default_factory=list)   # (lab, file, function, why)
    student_derived: list = field(default_factory=list)  # (lab, file, function): see collect
    recording_output: str = ""                         # the recording run's summary
    recording_ok: bool = True                          # the reference got full marks
    seconds: float = 0.0


def release_to(labs_dir, destination, labs=None, title: str = "minnet labs",
               python: Optional[str] = None) -> StudentRelease:
    """Write a standalone student repository to ``destination`` (a new or empty folder).

    It holds ``README.md``, ``labs/`` (README, conftest, and per lab its README, the
    released student files, the public tests and ``reference_calls.json``) and the
    public ``docs/`` the READMEs link to: no ``labs/source/``, no solution, no mutant,
    no hidden test. The reference results are recorded by running the public tests
    against the reference solutions (minnet/grading/recorded.py).
    """
    import shutil
    import subprocess
    import sys
    import tempfile
    import time

    from . import recorded
    from ..fileio import atomic_write

    started = time.perf_counter()
    labs_dir, destination = Path(labs_dir).resolve(), Path(destination).resolve()
    if destination.exists() and (not destination.is_dir() or any(destination.iterdir())):
        raise LabSourceError(f"--to {destination}: exists and is not an empty folder")
    if labs_dir in destination.parents or destination == labs_dir:
        raise LabSourceError(f"--to {destination}: inside the labs folder {labs_dir}")
    chosen = resolve_labs(labs_dir, labs)
    planned = planned_release(labs_dir, chosen)
    result = StudentRelease(destination)
    with tempfile.TemporaryDirectory(prefix="minnet-release-") as work:
        work = Path(work)
        copy = work / "labs"   # the full labs tree, the solutions as the student files
        shutil.copytree(labs_dir, copy, ignore=shutil.ignore_patterns(
            "__pycache__", ".*", "*.png", MANIFEST))
        for lab in chosen:
            for name in student_files(labs_dir, lab):
                source = source_root(labs_dir) / lab / name
                (copy / lab / name).write_text(
                    solution_text(source.read_text(encoding="utf-8"), str(source)),
                    encoding="utf-8")
        calls = work / "calls"
        env = dict(os.environ, **{recorded.RECORD_ENV: str(calls)})
        run = subprocess.run(
            [python or sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
             "--rootdir", str(work), *[f"labs/{lab}" for lab in chosen]],
            cwd=work, env=env, capture_output=True, text=True)
        result.recording_output = _grades_summary(run.stdout + run.stderr)
        result.recording_ok = run.returncode == 0
        written = {}
        for relative in manifest_files(labs_dir):
            if not _in_labs(relative, set(chosen)):
                continue
            path = labs_dir / relative
            written[f"labs/{relative}"] = planned.get(path, None)
            if written[f"labs/{relative}"] is None:
                written[f"labs/{relative}"] = path.read_bytes()
        for lab in chosen:
            sources = {}
            for name in student_files(labs_dir, lab):
                text = (source_root(labs_dir) / lab / name).read_text(encoding="utf-8")
                sources[Path(name).stem] = (text, planned[labs_dir / lab / name])
            content, missing, derived = recorded.collect(calls, lab, sources)
            written[f"labs/{lab}/{recorded.CALLS_FILE}"] = json.dumps(content, indent=0) + "\n"
            result.recorded[lab] = sum(len(keys) for entry in content["files"].values()
                                       for keys in entry["calls"].values())
            result.unrecordable += [(lab, *item) for item in missing]
            result.student_derived += [(lab, *item) for item in derived]
    docs = labs_dir.parent / "docs"
    if docs.is_dir():
        for path in sorted(docs.rglob("*")):
            relative = path.relative_to(docs)
            if (path.is_file() and relative.parts[0] not in DOCS_LEFT_OUT
                    and not any(part.startswith((".", "__pycache__")) for part in relative.parts)):
                written[f"docs/{relative.as_posix()}"] = path.read_bytes()
    written["README.md"] = STUDENT_README.format(title=title, calls=recorded.CALLS_FILE)
    for relative, content in sorted(written.items()):
        target = destination / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            atomic_write(target, content)
        result.files.append(relative)
    result.seconds = time.perf_counter() - started
    return result


def _grades_summary(output: str) -> str:
    """The feedback headers of the tests that lost points, the grade table and verdict of a
    pytest run's output."""
    lines = output.rstrip().splitlines()
    lost = [line for line in lines if re.match(r"^\[\w+\] \w+: \d+(\.\d+)?/\d+ points", line)]
    for index, line in enumerate(lines):
        if "grades" in line and line.startswith("="):
            return "\n".join(lost + lines[index:])
    return "\n".join(lines[-30:])


def student_release_leaks(labs_dir, destination) -> list:
    """What a student repository at ``destination`` holds that it must not: a
    ``labs/source`` folder, a mutant bank, a hidden test, or a line of a solution region
    (a line of the sources' regions found in none of the released files, public tests
    or READMEs of the course, then found in a file of ``destination``). ``docs/`` is
    compared with the course's own public docs instead. Returns problems ([] if none)."""
    from . import recorded

    labs_dir, destination = Path(labs_dir), Path(destination)
    problems, texts = [], {}
    for path in sorted(destination.rglob("*")):
        if not path.is_file():
            continue
        relative = path.relative_to(destination)
        parts = relative.parts
        if parts[:2] == ("labs", SOURCE_FOLDER):
            problems.append(f"{relative}: labs/source/ is not for students")
        if path.name == MUTANTS_FILE or path.name.startswith(HIDDEN_PREFIX):
            problems.append(f"{relative}: a mutant bank or hidden test")
        if parts[0] == "docs":
            public = labs_dir.parent / relative
            if not public.is_file() or public.read_bytes() != path.read_bytes():
                problems.append(f"{relative}: not one of the course's public docs")
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        if path.name == recorded.CALLS_FILE:  # the strings inside the JSON, unescaped
            text += "\n".join(_json_strings(json.loads(text)))
        texts[relative.as_posix()] = text
    labs = all_labs(labs_dir)
    released = planned_release(labs_dir, labs)
    public = "\n".join(list(released.values()) + [
        path.read_text(encoding="utf-8") for lab in labs for path in sorted((labs_dir / lab).glob("*"))
        if path.suffix in (".py", ".md") and path not in released])
    for lab in labs:
        for name in student_files(labs_dir, lab):
            source = source_root(labs_dir) / lab / name
            text = source.read_text(encoding="utf-8")
            lines = text.splitlines()
            for region in find_regions(text, str(source)):
                stop = region.release if region.release is not None else region.end
                for line in lines[region.begin + 1:stop]:
                    line = line.strip()
                    if len(line) < 8 or line.startswith("#") or line in public:
                        continue
                    for shown, content in texts.items():
                        if line in content:
                            problems.append(f"{shown}: holds the solution line '{line}' "
                                            f"({lab}/{name})")
    return problems


def _json_strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from _json_strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _json_strings(item)
