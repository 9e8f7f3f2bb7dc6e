"""The attack bank: student files that try to score what they did not earn.

Each ``labs/source/_attacks/*.py`` starts with a docstring naming its ``lab``, the student
``file`` it replaces and the points it earns ``honest``-ly. ``minnet labs check`` grades
each as a submission with ``minnet grade`` (its lab only, hidden tests included) in a
process of its own, and fails when one scores more than ``honest``, leaks a hidden test or
a reference into its feedback, changes the instructor's labs folder, or leaves a process
running. Example: docs/grading_internals.md.
"""
from __future__ import annotations

import hashlib
import json
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from .release import HIDDEN_PREFIX, SOURCE_FOLDER

BANK_FOLDER = "_attacks"
FIELD = re.compile(r"^(lab|file|honest|needs|leak_marker):\s*(\S+)\s*$", re.MULTILINE)
# ``leak_marker: TEXT``: the attack raises TEXT with what it smuggled across (another test's
# inputs): TEXT in the feedback means the channel is open
# what an attack's defence may need of the machine (``needs: namespaces``): minnet grade
# as root with Linux PID and mount namespaces (see grade.jail_prefix)
SECONDS = 300.0


@dataclass
class Attack:
    name: str
    lab: str
    file: str
    honest: float
    text: str
    needs: str = ""
    leak_marker: str = ""


@dataclass
class Outcome:
    attack: Attack
    score: Optional[float]
    max_score: Optional[float]
    problems: list
    skipped: str = ""  # why it was not graded on this machine
    lab_maxima: dict = field(default_factory=dict)  # the control run: lab -> its maximum


def load_bank(labs_dir) -> list:
    """The attacks of ``labs/source/_attacks``, sorted by name (empty if there is none)."""
    folder = Path(labs_dir) / SOURCE_FOLDER / BANK_FOLDER
    attacks = []
    for path in sorted(folder.glob("*.py")) if folder.is_dir() else []:
        text = path.read_text(encoding="utf-8")
        fields = dict(FIELD.findall(text.split('"""')[1] if text.count('"""') >= 2 else ""))
        if not {"lab", "file", "honest"} <= set(fields):
            raise ValueError(f"{path}: its docstring must name lab:, file: and honest:")
        attacks.append(Attack(path.stem, fields["lab"], fields["file"],
                              float(fields["honest"]), text, fields.get("needs", ""),
                              fields.get("leak_marker", "")))
    return attacks


def tree_digest(labs_dir) -> str:
    """One hash of every file under the labs folder (names and contents)."""
    digest = hashlib.sha256()
    root = Path(labs_dir)
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def secret_lines(labs_dir, lab: str) -> list:
    """Distinctive lines of the lab's reference solutions and hidden tests: none of them may
    appear in the feedback a submission gets."""
    source = Path(labs_dir) / SOURCE_FOLDER / lab
    released = set()  # what the student repository shows anyway (a planted failure's lines)
    for path in sorted((Path(labs_dir) / lab).glob("*.py")):
        released.update(line.strip() for line in path.read_text(encoding="utf-8").splitlines())
    lines = set()
    for path in sorted(source.glob("*.py")) if source.is_dir() else []:
        if path.name == "mutants.py":
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if len(line) >= 40 and not line.startswith(("#", '"""', "def ", "import ", "from ")):
                lines.add(line)
            if path.name.startswith(HIDDEN_PREFIX) and line.startswith("def test_"):
                lines.add(line)
    return sorted(lines - released)


def run_attack(labs_dir, attack: Attack, full_marks: Optional[float] = None) -> Outcome:
    """Grade one attack with ``minnet grade`` in a fresh process; what went wrong, if any.
    ``full_marks``: the lab's maximum (from the control run); a submission that makes tests
    vanish from the maximum instead of scoring 0 on them is caught by it."""
    from .grade import jail_prefix

    if attack.needs == "namespaces" and not jail_prefix():
        return Outcome(attack, None, None, [], skipped="its defence needs minnet grade as "
                                                       "root with Linux namespaces (unshare)")
    problems = []
    before = tree_digest(labs_dir)
    with tempfile.TemporaryDirectory(prefix="minnet-attack-") as root:
        submission = Path(root) / "submission"
        (submission / attack.lab).mkdir(parents=True)
        (submission / attack.lab / attack.file).write_text(attack.text, encoding="utf-8")
        results_path = Path(root) / "results.json"
        command = [sys.executable, "-m", "minnet", "grade", str(submission), "--labs",
                   str(labs_dir), "--lab", attack.lab, "--grade-json", str(results_path)]
        try:
            finished = subprocess.run(command, capture_output=True, text=True, timeout=SECONDS)
            output = finished.stdout + finished.stderr
        except subprocess.TimeoutExpired:
            return Outcome(attack, None, None, [f"minnet grade took over {SECONDS:g} s"])
        time.sleep(1.0)  # a daemon left behind would rewrite the results now
        try:
            results = json.loads(results_path.read_text(encoding="utf-8"))
            score, maximum = float(results["score"]), float(results["max_score"])
        except (OSError, ValueError, KeyError, TypeError):
            return Outcome(attack, None, None, ["no readable results.json:\n"
                                                + output[-1500:]])
        if full_marks is not None and abs(maximum - full_marks) > 1e-9:
            problems.append(f"its maximum is {maximum:g}, the lab's is {full_marks:g}: tests "
                            "left the maximum instead of scoring 0")
        if score > attack.honest + 1e-9:
            graded = [f"{test['name']}: {test['score']:g}/{test['max_score']:g}"
                      for test in results.get("tests", []) if test.get("score")]
            problems.append(f"scored {score:g}/{maximum:g}, honestly worth {attack.honest:g} "
                            f"({'; '.join(graded)})")
        feedback = json.dumps(results)
        leaked = [line for line in secret_lines(labs_dir, attack.lab)
                  if json.dumps(line)[1:-1] in feedback]
        if attack.leak_marker and attack.leak_marker in feedback:
            problems.append(f"its feedback shows what it carried across workers "
                            f"({attack.leak_marker})")
        if leaked:
            problems.append(f"its feedback shows {len(leaked)} line(s) of the reference "
                            f"solution or hidden tests, e.g. {leaked[0]!r}")
    if tree_digest(labs_dir) != before:
        problems.append("the instructor's labs folder changed while it was graded")
    return Outcome(attack, score, maximum, problems)


def run_bank(labs_dir, labs: Optional[list] = None) -> list:
    attacks = [attack for attack in load_bank(labs_dir) if labs is None or attack.lab in labs]
    attacked = sorted({attack.lab for attack in attacks})
    if not attacked:
        return []
    control = run_control(labs_dir, attacked)  # first: each lab's maximum, to compare with
    outcomes = [run_attack(labs_dir, attack, control.lab_maxima.get(attack.lab))
                for attack in attacks]
    return outcomes + [control]


def run_control(labs_dir, labs: list) -> Outcome:
    """The same protections must not cost an honest submission anything: the reference
    solutions of the attacked labs, graded by ``minnet grade`` as a submission, score full
    marks (a protection that hid something a test needs would show here)."""
    from .release import solution_files

    control = Attack("(control) the reference solutions", ",".join(labs), "*", float("inf"), "")
    with tempfile.TemporaryDirectory(prefix="minnet-control-") as root:
        submission = Path(root) / "submission"
        for lab in labs:
            (submission / lab).mkdir(parents=True)
            for name, text in solution_files(labs_dir, lab).items():
                (submission / lab / name).write_text(text, encoding="utf-8")
        results_path = Path(root) / "results.json"
        command = [sys.executable, "-m", "minnet", "grade", str(submission), "--labs",
                   str(labs_dir), "--grade-json", str(results_path)]
        for lab in labs:
            command += ["--lab", lab]
        try:
            subprocess.run(command, capture_output=True, text=True, timeout=SECONDS * 2)
            results = json.loads(results_path.read_text(encoding="utf-8"))
            score, maximum = float(results["score"]), float(results["max_score"])
        except (subprocess.TimeoutExpired, OSError, ValueError, KeyError, TypeError) as error:
            return Outcome(control, None, None, [f"minnet grade of the solutions failed: "
                                                 f"{type(error).__name__}"])
    problems = [] if score >= maximum else [
        f"the reference solutions score {score:g}/{maximum:g} under minnet grade: " + "; ".join(
            f"{test['name']} {test['score']:g}/{test['max_score']:g}"
            for test in results.get("tests", []) if test["score"] < test["max_score"])]
    control.honest = maximum
    maxima: dict = {}
    for test in results.get("tests", []):
        lab = str(test.get("name", "")).partition(": ")[0]
        maxima[lab] = maxima.get(lab, 0.0) + float(test.get("max_score") or 0.0)
    return Outcome(control, score, maximum, problems, lab_maxima=maxima)


def bank_lines(outcomes: list) -> list:
    lines = []
    for outcome in outcomes:
        attack = outcome.attack
        if outcome.skipped:
            lines.append(f"  - {attack.lab:<22} {attack.name:<32} not graded here: "
                         f"{outcome.skipped}")
            continue
        score = ("?" if outcome.score is None
                 else f"{outcome.score:g}/{outcome.max_score:g}")
        flag = "!" if outcome.problems else " "
        lines.append(f"  {flag} {attack.lab:<22} {attack.name:<32} scored {score:>9}  "
                     f"(honest {attack.honest:g})")
        lines += [f"      {problem}" for problem in outcome.problems]
    return lines


if __name__ == "__main__":  # python -m minnet.grading.attacks [LABS_DIR]
    bank = run_bank(sys.argv[1] if len(sys.argv) > 1 else "labs")
    print("\n".join(bank_lines(bank)))
    sys.exit(1 if any(outcome.problems for outcome in bank) else 0)
