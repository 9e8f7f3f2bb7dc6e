"""How long grading takes, and how big the grader is.

    python benchmarks/bench_grading.py [--lab 01_backprop] [--repeat 2] [--before REV] [--jobs N]

Prints, for the reference solutions laid out as a student's finished work:
* one lab graded warm (the second of ``--repeat`` runs: Numba's cache and the OS's
  file cache are filled by the first), as ``pytest labs/NN`` runs it;
* every lab at once, as ``pytest labs/`` runs it;
* the line count of minnet/grading now and at ``--before`` (the start of issue 9).
Goals (issue 9): one lab warm <= 5 s, all labs <= 60 s on 2 cores. Run it on a quiet
machine; on a loaded one the figures say little. ``--jobs N``: lab tests at once (the
plugin's ``--lab-jobs``; default the CPUs, at most 2), e.g. 1 to compare.
"""
from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from minnet.grading.grade import LabCopy, build_tree, pytest_command  # noqa: E402
from minnet.grading.release import all_labs, solution_files  # noqa: E402


def grade_seconds(tree: Path, folders: list, jobs: int = 0) -> tuple:
    """(wall seconds, CPU seconds of pytest and every process it waited for: the forked
    tests and their sandbox workers) of grading ``folders``."""
    command = pytest_command(tree, folders, Path(tempfile.mktemp(suffix=".json")),
                             extra=("-q", "--no-header")
                             + (("--lab-jobs", str(jobs)) if jobs else ()))
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, cwd=str(tree.parent), capture_output=True, text=True)
    wall = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def line_count(revision: str = "") -> int:
    if not revision:
        return sum(len(path.read_text().splitlines())
                   for path in (ROOT / "minnet" / "grading").glob("*.py"))
    names = subprocess.run(["git", "ls-tree", "--name-only", revision, "minnet/grading/"],
                           cwd=ROOT, capture_output=True, text=True).stdout.split()
    total = 0
    for name in names:
        if name.endswith(".py"):
            text = subprocess.run(["git", "show", f"{revision}:{name}"], cwd=ROOT,
                                  capture_output=True, text=True).stdout
            total += len(text.splitlines())
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", action="append", default=None)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--before", default="2fa9c39")
    parser.add_argument("--jobs", type=int, default=0, help="lab tests at once (--lab-jobs)")
    parser.add_argument("--skip-all", action="store_true", help="leave out the all-labs run")
    args = parser.parse_args()
    labs_dir = ROOT / "labs"
    labs = all_labs(labs_dir)
    chosen = args.lab or ["01_backprop", "06_gradients"]
    with tempfile.TemporaryDirectory(prefix="minnet-bench-grading-") as root:
        copies = [LabCopy(lab, lab, solution_files(labs_dir, lab)) for lab in labs]
        tree = build_tree(labs_dir, root, copies)
        for lab in chosen:
            times = [grade_seconds(tree, [lab], args.jobs) for _ in range(max(1, args.repeat))]
            print(f"one lab warm   {lab:<24} {times[-1][0]:6.1f} s  CPU {times[-1][1]:5.1f} s"
                  "   (runs: " + ", ".join(f"{t:.1f}" for t, _ in times) + ")")
        if not args.skip_all:
            wall, cpu = grade_seconds(tree, labs, args.jobs)
            print(f"all labs       {len(labs)} labs                  {wall:6.1f} s  CPU "
                  f"{cpu:5.1f} s")
    print(f"load average while measuring: {os.getloadavg()[0]:.1f} (on "
          f"{os.cpu_count()} CPUs): above the CPU count the wall times are mostly waiting")
    print(f"minnet/grading lines: {line_count(args.before)} at {args.before}, "
          f"{line_count()} now")


if __name__ == "__main__":
    main()
