"""``minnet labs release|check|mutants`` and ``minnet grade``: the instructor's commands.

Kept free of heavy imports at module level (``minnet --help`` loads it); the
work happens in ``release.py``, ``grade.py`` and ``mutants.py``.
"""
from __future__ import annotations

import argparse
import sys

DEFAULT_LABS = "labs"


# --------------------------------------------------------------------------
# minnet labs ...
# --------------------------------------------------------------------------
def add_labs_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="labs_action", metavar="<action>")

    release = actions.add_parser(
        "release", help="generate the student files (labs/NN/*.py) from labs/source/ and "
                        "write labs/MANIFEST.json",
        description="Replace every solution region of labs/source/NN_lab/*.py by a TODO (or "
                    "its RELEASE AS part) and write the result to labs/NN_lab/; then write the "
                    "hash manifest labs/MANIFEST.json.")
    _add_common(release)
    release.add_argument("--check", action="store_true",
                         help="write nothing; exit 1 listing the files that are out of sync")
    release.add_argument("--to", metavar="DIR", default=None,
                         help="write a standalone student repository to DIR (new or empty): "
                              "READMEs, student files, public tests, conftest, docs and the "
                              "reference results recorded from the solutions; no labs/source")

    check = actions.add_parser(
        "check", help="what CI runs: release in sync, reference solutions full marks, released "
                      "files fail every graded test, every mutant loses points",
        description="Check the labs end to end: the released files are in sync with the "
                    "sources; the reference solutions get full marks; every graded test fails "
                    "on the released student files; every mutant in labs/source/NN/mutants.py "
                    "loses at least one point.")
    _add_common(check)
    _add_grading_options(check)
    check.add_argument("--skip-mutants", action="store_true", help="leave out the mutant bank")

    mutants = actions.add_parser(
        "mutants", help="grade every known-wrong implementation of labs/source/NN/mutants.py; "
                        "each must lose points",
        description="For each mutant (name, file, old, new) the solution with `old` replaced "
                    "by `new` is graded in a temporary copy of the lab; it must lose at least "
                    "one point. Exit 1 if a mutant survives.")
    _add_common(mutants)
    _add_grading_options(mutants)


def _add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lab", action="append", default=None, metavar="NAME",
                        help="only this lab (e.g. 03_loss or 03; repeatable; default: all)")
    parser.add_argument("--labs", default=DEFAULT_LABS, metavar="DIR",
                        help="the labs folder (default: %(default)s)")


def _add_grading_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--jobs", "-j", type=int, default=None, metavar="N",
                        help="grading runs at the same time (default: the number of CPUs, at "
                             "most 2)")
    parser.add_argument("--lab-timeout", type=float, default=None, metavar="SECONDS",
                        help="time limit per test (default: the plugin's, 10 s)")


def run_labs(args: argparse.Namespace) -> int:
    action = getattr(args, "labs_action", None)
    if action is None:
        print("minnet labs: choose an action: release, check or mutants "
              "(minnet labs --help)", file=sys.stderr)
        return 2
    from .release import LabSourceError

    try:
        if action == "release":
            return release_command(args)
        if action == "mutants":
            from .mutants import mutants_command
            return mutants_command(args)
        from .mutants import check_command
        return check_command(args)
    except LabSourceError as error:
        print(f"minnet labs {action}: {error}", file=sys.stderr)
        return 2


def release_command(args: argparse.Namespace) -> int:
    from pathlib import Path

    from .release import display, release

    labs_dir = Path(args.labs)
    if not (labs_dir / "source").is_dir():
        print(f"minnet labs release: {labs_dir}/source not found: run it from the course "
              "repository's root or pass --labs DIR", file=sys.stderr)
        return 2
    if args.to is not None:
        return student_release_command(labs_dir, args)
    result = release(labs_dir, args.lab, check=args.check)
    if args.check:
        if result.out_of_sync:
            print(f"{len(result.out_of_sync)} file(s) out of sync with labs/source:")
            for path, why in result.out_of_sync:
                print(f"  {display(path)}: {why}")
            return 1
        print(f"in sync: {len(result.unchanged)} released file(s) and the manifest")
        return 0
    for path in result.written:
        print(f"wrote {display(path)}")
    for path in result.verbatim:
        print(f"note: {display(path)} has no solution region: released exactly as its source "
              "(right for a helper module, a leak for a solution)")
    print(f"{len(result.written)} file(s) written, {len(result.unchanged)} unchanged")
    return 0


def student_release_command(labs_dir, args: argparse.Namespace) -> int:
    """``minnet labs release --to DIR``: a student repository (see release.release_to)."""
    from .release import display, release, release_to, student_release_leaks

    if args.check:
        print("minnet labs release: --to and --check do not go together", file=sys.stderr)
        return 2
    for path, why in release(labs_dir, args.lab, check=True).out_of_sync:
        print(f"note: {display(path)}: {why}; the student files are written from labs/source "
              "all the same", file=sys.stderr)
    print("recording the reference results: the public tests run against the solutions ...")
    result = release_to(labs_dir, args.to, args.lab)
    print(result.recording_output)
    for lab, count in result.recorded.items():
        print(f"  {lab}: {count} reference call(s) recorded")
    for lab, file, function, why in result.unrecordable:
        print(f"  note: {lab}/{file}.py {function}(): not recorded ({why}); the tests that "
              "need it fail in the student repository")
    for lab, file, function in result.student_derived:
        print(f"  note: {lab}/{file}.py {function}() was given what the student's code made "
              "(a model it trained, an array it changed): replayed only for the solution's "
              "answer, so a correct but different answer fails that check in the student "
              "repository; grade such checks with a helper of the test instead")
    from .replay_lint import replay_gaps

    for lab, test_file, test, generator, parts in replay_gaps(labs_dir, set(result.recorded)):
        print(f"  note: {lab}/{test_file}::{test}: one generator ({generator}) feeds {parts} of "
              "its parts: a part that fails half-way changes the next one's data, whose "
              "reference call the student repository then lacks; give each part its own")
    print(f"wrote {len(result.files)} file(s) to {display(result.destination)} in "
          f"{result.seconds:.0f} s")
    leaks = student_release_leaks(labs_dir, result.destination)
    for problem in leaks:
        print(f"  LEAK: {problem}", file=sys.stderr)
    if leaks:
        return 1
    print("checked: no labs/source, mutant bank, hidden test or solution line in it")
    if not result.recording_ok:
        print("the reference solutions did not get full marks while recording: the student "
              "repository is incomplete (see above)", file=sys.stderr)
        return 1
    return 0


# --------------------------------------------------------------------------
# minnet grade SUBMISSION_DIR
# --------------------------------------------------------------------------
def add_grade_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("submission", metavar="SUBMISSION_DIR", nargs="?", default=None,
                        help="the student's submission: a copy of labs/ or the lab folders")
    parser.add_argument("--grade-json", metavar="PATH", default=None,
                        help="write a Gradescope-compatible results.json")
    parser.add_argument("--labs", default=DEFAULT_LABS, metavar="DIR",
                        help="the instructor's labs folder, with source/ (default: %(default)s)")
    parser.add_argument("--lab", action="append", default=None, metavar="NAME",
                        help="grade only this lab (repeatable; default: all)")
    parser.add_argument("--no-hidden", action="store_true",
                        help="leave out the hidden tests (labs/source/NN/test_hidden_*.py)")
    parser.add_argument("--lab-timeout", type=float, default=None, metavar="SECONDS",
                        help="time limit per test (default: the plugin's, 10 s)")


def run_grade(args: argparse.Namespace) -> int:
    if args.submission is None:
        print("minnet grade: give the submission's folder, e.g. minnet grade "
              "/autograder/submission --grade-json results.json (minnet grade --help)",
              file=sys.stderr)
        return 2
    from .grade import grade_command
    from .release import LabSourceError

    try:
        return grade_command(args)
    except LabSourceError as error:
        print(f"minnet grade: {error}", file=sys.stderr)
        return 2
