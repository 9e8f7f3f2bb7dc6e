"""``minnet labs mutants`` and ``minnet labs check``: proof that the graded tests tell right from wrong.

Each lab's ``labs/source/NN_lab/mutants.py`` lists known-wrong implementations
(``MUTANTS``: dicts of ``name``, ``file``, ``old``, ``new``, ``why``): the reference with
``old`` (exactly once) replaced by ``new``; each must lose at least one point. ``minnet labs
check`` (CI) also checks that the released files match the sources, the references get full
marks and every graded test fails on the released stubs. All copies are laid out in one
temporary labs tree and graded by a few pytest processes at once (``--jobs``); a mutant
stops at the first test that catches it. Example: docs/grading_internals.md.
"""
from __future__ import annotations

import json
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .grade import LabCopy, build_tree, finish_pytest, start_pytest
from .sandbox import SANDBOX_UID
from .release import (DEF_LINE, MUTANTS_FILE, SOURCE_FOLDER, LabSourceError, display,
                      planned_release, release, resolve_labs, solution_files, student_files)

MUTANT_KEYS = ("name", "file", "old", "new")
MIN_MUTANTS = 5  # per lab (the labs' contract)
RELEASED_SUFFIX = "__released"
MUTANT_SUFFIX = "__m"


@dataclass
class Mutant:
    lab: str
    index: int
    name: str
    file: str
    old: str
    new: str
    why: str = ""
    function: Optional[str] = None   # the function it changes (set when it is applied)

    @property
    def folder(self) -> str:
        return f"{self.lab}{MUTANT_SUFFIX}{self.index:02d}"


def changed_function(text: str, old: str) -> Optional[str]:
    """The name of the function whose code contains the first occurrence of ``old`` (None at
    module level): the nearest ``def`` above it that is indented less, or its own line."""
    start = text.find(old)
    if start < 0:
        return None
    lines = text.splitlines()
    number = text.count("\n", 0, start)
    own = DEF_LINE.match(lines[number])
    if own:
        return own.group(2)
    indent = len(lines[number]) - len(lines[number].lstrip())
    for line in reversed(lines[:number]):
        match = DEF_LINE.match(line)
        if match and len(match.group(1)) < indent:
            return match.group(2)
    return None


def load_mutants(labs_dir, lab: str) -> list:
    """The MUTANTS of ``labs/source/<lab>/mutants.py`` (empty if the lab has none), validated."""
    from .expect import LabFailure
    from .loading import load_module

    path = Path(labs_dir) / SOURCE_FOLDER / lab / MUTANTS_FILE
    if not path.is_file():
        return []
    where = display(path)
    try:
        module = load_module(path, role="mutants")
    except LabFailure as error:
        raise LabSourceError(f"{where}: {error}") from None
    bank = getattr(module, "MUTANTS", None)
    if not isinstance(bank, (list, tuple)):
        raise LabSourceError(f"{where}: define MUTANTS = [dict(name=..., file=..., old=..., "
                             f"new=..., why=...), ...], got {type(bank).__name__}")
    files = student_files(labs_dir, lab)
    mutants, seen = [], set()
    for index, entry in enumerate(bank, 1):
        if not isinstance(entry, dict) or any(key not in entry for key in MUTANT_KEYS):
            raise LabSourceError(f"{where}: mutant {index} must be a dict with keys "
                                 f"{', '.join(MUTANT_KEYS)} (and why), got {entry!r:.120}")
        if entry["file"] not in files:
            raise LabSourceError(f"{where}: mutant {entry['name']!r} changes {entry['file']!r}, "
                                 f"which is not a student file of {lab} ({', '.join(files)})")
        if entry["name"] in seen:
            raise LabSourceError(f"{where}: two mutants are called {entry['name']!r}")
        seen.add(entry["name"])
        mutants.append(Mutant(lab, index, str(entry["name"]), entry["file"], str(entry["old"]),
                              str(entry["new"]), str(entry.get("why", ""))))
    return mutants


def mutated_files(labs_dir, mutant: Mutant, solutions: Optional[dict] = None) -> dict:
    """The lab's solution files with ``mutant`` applied to its file."""
    files = dict(solutions if solutions is not None else solution_files(labs_dir, mutant.lab))
    text = files[mutant.file]
    count = text.count(mutant.old)
    if count != 1:
        raise LabSourceError(
            f"labs/source/{mutant.lab}/{MUTANTS_FILE}: mutant {mutant.name!r}: `old` "
            f"({mutant.old!r:.80}) occurs {count} times in {mutant.file} (solution, markers "
            "stripped); it must occur exactly once: quote more of the line to make it unique")
    if mutant.new == mutant.old:
        raise LabSourceError(f"labs/source/{mutant.lab}/{MUTANTS_FILE}: mutant {mutant.name!r}: "
                             "`new` equals `old`, so nothing changes")
    files[mutant.file] = text.replace(mutant.old, mutant.new)
    mutant.function = changed_function(text, mutant.old)
    return files


# --------------------------------------------------------------------------
# grading many copies at once
# --------------------------------------------------------------------------
def default_jobs() -> int:
    import os

    return max(1, min(2, os.cpu_count() or 1))


def grade_copies(labs_dir, copies: list, jobs: int, timeout: Optional[float],
                 stop_pattern: Optional[str], first: Optional[dict] = None) -> dict:
    """Grade every LabCopy; returns {folder: [test entries of results.json]} and the runs.

    ``stop_pattern``: folders (fnmatch) that stop at their first lost point;
    ``first``: {folder: [words]}, tests naming a word run first in that folder.
    """
    jobs = max(1, min(jobs, len(copies)))
    if jobs > 1:
        _fill_kernel_cache()
    with tempfile.TemporaryDirectory(prefix="minnet-labs-check-") as root:
        tree = build_tree(labs_dir, root, copies)
        # interleave: each job gets a mix of cheap and expensive labs
        chunks = [[copy.folder for copy in copies[start::jobs]] for start in range(jobs)]
        extra = ("--lab-stop-at-first-loss", stop_pattern) if stop_pattern else ()
        if first:
            first_path = Path(root) / "first.json"
            first_path.write_text(json.dumps(first), encoding="utf-8")
            extra += ("--lab-first", str(first_path))
        started = time.monotonic()
        # each process its own sandbox uid (as root): no worker can signal another process's
        # (a kill by uid once took one being started: 'Bad exception data from child')
        processes = [start_pytest(tree, chunk, timeout=timeout, extra=extra,
                                  single_thread=jobs > 1, sandbox_uid=SANDBOX_UID + 2 * number)
                     for number, chunk in enumerate(chunks) if chunk]
        runs = [finish_pytest(process, path, started) for process, path in processes]
    by_folder = {copy.folder: [] for copy in copies}
    for run in runs:
        for (folder, _), entry in run.tests().items():
            by_folder.setdefault(folder, []).append(entry)
    return {"tests": by_folder, "runs": runs}


def _fill_kernel_cache() -> None:
    """Compile the Numba kernels here first when their disk cache is empty (a fresh CI
    checkout): otherwise every parallel pytest process compiles them all at once, several
    times slower than loading them from the cache (docs/performance.md, "The grader")."""
    from .. import kernels

    try:
        cold = kernels.jit_enabled() and kernels.info().get("cache_files", 1) == 0
    except Exception:  # noqa: BLE001 -- only an optimisation
        return
    if cold:
        from .warmup import warm_up_kernels

        print("   compiling the Numba kernels once (their cache is empty) ...", flush=True)
        warm_up_kernels()


def _failed_runs(runs: list) -> list:
    """Lines for pytest processes that did not produce grades (errors before any test)."""
    lines = []
    for run in runs:
        errors = ((run.results or {}).get("extra_data") or {}).get("collection_errors") or []
        if errors:
            lines.append("test files that could not be collected: " + ", ".join(errors))
        if run.results is None or run.returncode not in (0, 1):
            tail = "\n".join(run.output.strip().splitlines()[-15:])
            lines.append(f"pytest ended with status {run.returncode}:\n{tail}")
    return lines


def _test_name(entry: dict) -> str:
    return entry["name"].partition(": ")[2]


def _points(value: float) -> str:
    return f"{value:g}"


# --------------------------------------------------------------------------
# reports
# --------------------------------------------------------------------------
@dataclass
class MutantResult:
    mutant: Mutant
    lost: float
    caught_by: list = field(default_factory=list)

    @property
    def survived(self) -> bool:
        return self.lost <= 0


def score_mutants(mutants: list, tests: dict, solution_tests: dict) -> list:
    results = []
    for mutant in mutants:
        entries = tests.get(mutant.folder, [])
        expected = {_test_name(entry) for entry in solution_tests.get(mutant.lab, [])}
        lost = sum(entry["max_score"] - entry["score"] for entry in entries)
        caught = [_test_name(entry) for entry in entries if entry["score"] < entry["max_score"]]
        if not entries and expected:  # nothing graded at all: the whole run broke
            lost, caught = float("inf"), ["(no test could run)"]
        results.append(MutantResult(mutant, lost, caught))
    return results


def mutant_table(results: list, stopped_early: bool) -> list:
    rows = [("lab", "mutant", "points lost", "caught by")]
    for result in results:
        lost = "all" if result.lost == float("inf") else _points(result.lost)
        if stopped_early and result.lost > 0 and result.lost != float("inf"):
            lost = f">={lost}"
        rows.append((result.mutant.lab, result.mutant.name, "SURVIVED" if result.survived
                     else lost, ", ".join(result.caught_by) or "-"))
    widths = [max(len(row[c]) for row in rows) for c in range(3)]
    return ["  " + "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths))
            + "  " + row[3] for row in rows]


def solution_problems(tests: dict, labs: list) -> list:
    lines = []
    for lab in labs:
        entries = tests.get(lab, [])
        if not entries:
            lines.append(f"  {lab}: no graded test ran")
        for entry in entries:
            if entry["score"] < entry["max_score"]:
                first = (entry.get("output") or "").strip().splitlines()[:6]
                lines.append(f"  {lab}: {_test_name(entry)} scored {_points(entry['score'])}/"
                             f"{_points(entry['max_score'])}")
                lines += ["      " + line for line in first]
    return lines


def released_problems(tests: dict, solution_tests: dict, labs: list) -> tuple:
    """(problems, warnings): tests that pass on the released files; tests earning points there."""
    problems, warnings = [], []
    for lab in labs:
        entries = {(_test_name(e)): e for e in tests.get(lab + RELEASED_SUFFIX, [])}
        for name in sorted({_test_name(e) for e in solution_tests.get(lab, [])}):
            entry = entries.get(name)
            if entry is None:
                problems.append(f"  {lab}: {name} did not run on the released files")
            elif entry["score"] >= entry["max_score"]:
                problems.append(f"  {lab}: {name} passes on the released files: it cannot tell "
                                "the stub (or the planted failure) from a solution")
            elif entry["score"] > 0:
                warnings.append(f"  {lab}: {name} gives {_points(entry['score'])}/"
                                f"{_points(entry['max_score'])} points for the released files")
    return problems, warnings


def timing_lines(tests: dict, labs: list, lab_limit: float = 15.0,
                 test_limit: float = 3.0) -> list:
    """The reference solution's time per lab and its slowest test; '!' marks what is over the
    budget (labspec: < 3 s per test, < 15 s per lab) -- measured while other gradings ran."""
    lines = []
    for lab in labs:
        entries = tests.get(lab, [])
        seconds = [(entry.get("extra_data", {}).get("seconds", 0.0), _test_name(entry))
                   for entry in entries]
        if not seconds:
            continue
        total = sum(value for value, _ in seconds)
        slowest, name = max(seconds)
        flag = "!" if total > lab_limit or slowest > test_limit else " "
        lines.append(f"  {flag} {lab:<24} {total:6.1f} s   slowest {slowest:5.1f} s  {name}")
    return lines


def threshold_lines(tests: dict, labs: list) -> tuple:
    """(lines, thin): every training-outcome threshold the reference solutions met, with the
    slack they kept and the margin their test asks for; ``thin`` lists those below it."""
    from .expect import threshold_slack

    lines, thin = [], []
    for lab in labs:
        for entry in tests.get(lab, []):
            for record in entry.get("extra_data", {}).get("thresholds", []):
                slack = threshold_slack(record)
                flag = "!" if slack < record["margin"] else " "
                text = (f"  {flag} {lab:<24} {_test_name(entry)}: {record['name']} = "
                        f"{record['value']:.4g} ({record['direction']} {record['threshold']:.4g};"
                        f" slack {slack:.3g}, margin asked {record['margin']:.3g})")
                lines.append(text)
                if flag == "!":
                    thin.append(text)
    return lines, thin


def _lab_points(tests: dict, labs: list) -> tuple:
    score = sum(e["score"] for lab in labs for e in tests.get(lab, []))
    maximum = sum(e["max_score"] for lab in labs for e in tests.get(lab, []))
    return score, maximum


# --------------------------------------------------------------------------
# the commands
# --------------------------------------------------------------------------
def _prepare(args, with_released: bool, with_mutants: bool):
    labs_dir = Path(args.labs)
    if not (labs_dir / SOURCE_FOLDER).is_dir():
        raise LabSourceError(f"{labs_dir}/{SOURCE_FOLDER} not found: run from the course "
                             "repository's root or pass --labs DIR")
    labs = [lab for lab in resolve_labs(labs_dir, args.lab) if (labs_dir / lab).is_dir()]
    copies, mutants = [], []
    for lab in labs:
        solutions = solution_files(labs_dir, lab)
        copies.append(LabCopy(lab, lab, solutions))
        if with_released:
            released = {path.name: text for path, text in planned_release(labs_dir, [lab]).items()}
            copies.append(LabCopy(lab, lab + RELEASED_SUFFIX, released))
        if with_mutants:
            for mutant in load_mutants(labs_dir, lab):
                copies.append(LabCopy(lab, mutant.folder, mutated_files(labs_dir, mutant,
                                                                        solutions)))
                mutants.append(mutant)
    return labs_dir, labs, copies, mutants


def mutants_command(args) -> int:
    started = time.monotonic()
    labs_dir, labs, copies, mutants = _prepare(args, with_released=False, with_mutants=True)
    if not mutants:
        print("no mutants: add labs/source/NN_lab/mutants.py (see docs/instructors.md)")
        return 1
    print(f"grading {len(mutants)} mutant(s) of {len(labs)} lab(s) and their reference "
          f"solutions ({args.jobs or default_jobs()} at a time) ...", flush=True)
    graded = grade_copies(labs_dir, copies, args.jobs or default_jobs(), args.lab_timeout, None)
    tests = graded["tests"]
    status = 0
    broken = _failed_runs(graded["runs"])
    if broken:
        print("\n".join(broken))
        status = 1
    problems = solution_problems(tests, labs)
    if problems:
        print("the reference solutions do not get full marks, so points lost by a mutant mean "
              "little:")
        print("\n".join(problems))
        status = 1
    results = score_mutants(mutants, tests, tests)
    print("\n".join(mutant_table(results, stopped_early=False)))
    survivors = [result for result in results if result.survived]
    for result in survivors:
        print(f"SURVIVED: {result.mutant.lab} / {result.mutant.name}: no test lost a point"
              + (f" (the mistake: {result.mutant.why})" if result.mutant.why else ""))
    print(f"{len(results) - len(survivors)} of {len(results)} mutants caught in "
          f"{time.monotonic() - started:.0f} s")
    return 1 if survivors else status


def duplicate_test_names(labs_dir) -> dict:
    """{test file name: [labs]} for names that occur in more than one released lab."""
    from .release import all_labs

    seen = {}
    for lab in all_labs(labs_dir):
        for path in sorted((Path(labs_dir) / lab).glob("test_*.py")):
            seen.setdefault(path.name, []).append(lab)
    return {name: labs for name, labs in seen.items() if len(labs) > 1}


def check_command(args) -> int:
    started = time.monotonic()
    labs_dir = Path(args.labs)
    failures = 0

    print("1. released files in sync with labs/source/ ...", flush=True)
    sync = release(labs_dir, args.lab, check=True)
    if sync.out_of_sync:
        failures += 1
        for path, why in sync.out_of_sync:
            print(f"  {display(path)}: {why}")
    else:
        print(f"  ok ({len(sync.unchanged)} student file(s) and the manifest)")
    clashes = duplicate_test_names(labs_dir)
    if clashes:
        failures += 1
        print("  test file names used by more than one lab (`pytest labs/` cannot import both):")
        print("\n".join(f"    {name}: {', '.join(labs)}" for name, labs in clashes.items()))

    with_mutants = not args.skip_mutants
    labs_dir, labs, copies, mutants = _prepare(args, with_released=True, with_mutants=with_mutants)
    jobs = args.jobs or default_jobs()
    print(f"   grading {len(copies)} copies ({len(labs)} solution(s), {len(labs)} released, "
          f"{len(mutants)} mutant(s)), {jobs} at a time ...", flush=True)
    # a mutant's folder stops at its first lost point; the tests that name the function it
    # changed run first, so that point is usually lost by the first test
    first = {mutant.folder: [mutant.function] for mutant in mutants if mutant.function}
    graded = grade_copies(labs_dir, copies, jobs, args.lab_timeout, f"*{MUTANT_SUFFIX}[0-9]*",
                          first)
    tests = graded["tests"]
    broken = _failed_runs(graded["runs"])
    if broken:
        failures += 1
        print("\n".join(broken))

    print("2. reference solutions get full marks ...")
    problems = solution_problems(tests, labs)
    score, maximum = _lab_points(tests, labs)
    if problems:
        failures += 1
        print("\n".join(problems))
    else:
        print(f"  ok ({_points(score)}/{_points(maximum)} points)")
    print("  time of the reference solutions (! over 15 s per lab or 3 s per test):")
    print("\n".join(timing_lines(tests, labs)))

    lines, thin = threshold_lines(tests, labs)
    print("  training-outcome thresholds of the reference solutions (! slack below the "
          "margin asked: the grade may depend on the machine):")
    print("\n".join(lines) if lines else "    (none recorded)")
    if thin:
        failures += 1
        print(f"  {len(thin)} threshold(s) with too thin a margin")

    print("3. every graded test fails on the released student files ...")
    problems, warnings = released_problems(tests, tests, labs)
    if problems:
        failures += 1
        print("\n".join(problems))
    else:
        count = sum(len(tests.get(lab, [])) for lab in labs)
        print(f"  ok ({count} graded test(s) all fail)")
    if warnings:
        print("  note: partial credit for the unmodified released files:")
        print("\n".join(warnings))

    if with_mutants:
        print("4. every mutant loses points ...")
        results = score_mutants(mutants, tests, tests)
        survivors = [result for result in results if result.survived]
        if results:
            print("\n".join(mutant_table(results, stopped_early=True)))
        counts = {lab: sum(m.lab == lab for m in mutants) for lab in labs}
        missing = [lab for lab, count in counts.items() if count == 0]
        few = [f"{lab} ({count})" for lab, count in counts.items() if 0 < count < MIN_MUTANTS]
        if missing:
            failures += 1
            print(f"  labs without a mutant bank (labs/source/NN/{MUTANTS_FILE}): "
                  f"{', '.join(missing)}")
        if few:
            print(f"  note: fewer than {MIN_MUTANTS} mutants: {', '.join(few)}")
        if survivors:
            failures += 1
            for result in survivors:
                print(f"  SURVIVED: {result.mutant.lab} / {result.mutant.name}"
                      + (f" ({result.mutant.why})" if result.mutant.why else ""))
        else:
            print(f"  ok ({len(results)} mutant(s) caught)")
    from .attacks import bank_lines, load_bank, run_bank

    bank_labs = [lab for lab in labs if any(attack.lab == lab for attack in load_bank(labs_dir))]
    if bank_labs:
        print(f"5. the attack bank ({SOURCE_FOLDER}/_attacks) scores nothing unearned ...",
              flush=True)
        outcomes = run_bank(labs_dir, bank_labs)
        print("\n".join(bank_lines(outcomes)))
        if any(outcome.problems for outcome in outcomes):
            failures += 1
        else:
            print(f"  ok ({len(outcomes)} attack(s) scored at most their honest points)")
    seconds = time.monotonic() - started
    verdict = "passed" if not failures else f"FAILED ({failures} problem(s))"
    print(f"minnet labs check {verdict} in {seconds:.0f} s")
    sys.stdout.flush()
    return 0 if not failures else 1
