"""The debugger's subcommands: ``minnet scenarios``, ``minnet doctor --scenario``, ``minnet tour``.

Registered in cli.py's COMMANDS; each is an ``add_*_arguments(parser)`` and a
``run_*(args) -> exit code`` pair, as there. Heavy imports happen inside ``run_*``.
cli.py itself checks the arguments, loads setup scripts for ``doctor SCRIPT`` and runs
``minnet runs``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

TOUR_SCENARIOS = ("unnormalized_inputs", "double_softmax", "dying_relu", "no_zero_grad",
                  "lr_too_high")


def progress(text: str) -> None:
    """Long runs show what they are doing, on stderr (stdout stays clean for --json)."""
    print(f"  ... {text}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------
# minnet scenarios
# --------------------------------------------------------------------------
def add_scenarios_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", nargs="?", help="show one scenario in full")
    parser.add_argument("--json", action="store_true", help="print JSON")


def run_scenarios(args: argparse.Namespace) -> int:
    from . import scenarios
    if args.name:
        try:
            chosen = [scenarios.get(args.name)]
        except KeyError as error:
            print(f"minnet scenarios: {error.args[0]}", file=sys.stderr)
            return 2
    else:
        chosen = scenarios.all()
    if args.json:
        print(json.dumps([{"name": s.name, "codes": list(s.codes), "summary": s.summary,
                           "wrong": s.wrong, "fix": s.fix} for s in chosen], indent=2))
        return 0
    if args.name:
        print(chosen[0].describe())
        return 0
    width = max((len(s.name) for s in chosen), default=10)
    for s in chosen:
        print(f"{s.name:<{width}}  {', '.join(s.codes):<28}  {s.summary}")
    print(f"\n{len(chosen)} scenarios. 'minnet doctor --scenario NAME' diagnoses one, "
          "broken and fixed.")
    return 0


# --------------------------------------------------------------------------
# minnet doctor
# --------------------------------------------------------------------------
def add_doctor_arguments(parser: argparse.ArgumentParser) -> None:
    target = parser.add_mutually_exclusive_group()
    target.add_argument("script", nargs="?", help="a Python file whose setup() returns a "
                        "minnet.debug.Setup (or model, loss_fn, optimizer, train_data[, val_data])")
    target.add_argument("--scenario", help="diagnose a built-in scenario, broken and fixed")
    parser.add_argument("--steps", type=int, default=None,
                        help="training steps of the short run (default: the setup's own)")
    parser.add_argument("--verify", action="store_true",
                        help="also rerun with each mechanical fix next to a control")
    parser.add_argument("--json", action="store_true", help="print the report(s) as JSON")
    parser.add_argument("--out", default="reports",
                        help="folder for the saved reports (default: %(default)s)")
    parser.add_argument("--no-save", action="store_true", help="save nothing")
    parser.add_argument("--record", action="store_true",
                        help="also record the run in the run log (runs/)")


def side_by_side(left_title: str, left, right_title: str, right, width: int = 58) -> str:
    """Two reports' finding tables next to each other."""
    def rows(report):
        if not report.findings:
            return ["(no findings)"]
        return [f"{f.severity:<7} {f.code}" + (f" @ {f.layer}" if f.layer else "")
                for f in report.findings]

    left_rows, right_rows = rows(left), rows(right)
    lines = [f"{left_title:<{width}} | {right_title}", f"{'-' * width}-+-{'-' * width}"]
    for i in range(max(len(left_rows), len(right_rows))):
        a = left_rows[i] if i < len(left_rows) else ""
        b = right_rows[i] if i < len(right_rows) else ""
        lines.append(f"{a[:width]:<{width}} | {b[:width]}")
    return "\n".join(lines)


def save_report(report, folder: str, stem: str) -> list:
    """report.json always; report.html when the visualisers can draw it."""
    saved = [report.save(os.path.join(folder, f"{stem}.json"))]
    html_path = os.path.join(folder, f"{stem}.html")
    try:
        report.render(html_path)
        saved.append(html_path)
    except ImportError as error:  # e.g. matplotlib missing: the JSON still holds everything
        print(f"  (no HTML report: {error})", file=sys.stderr)
    return [str(path) for path in saved]


def run_doctor(args: argparse.Namespace) -> int:
    """``minnet doctor --scenario NAME``: the scenario broken and fixed, side by side."""
    from .debug.diagnosis import diagnose_setup
    if args.steps is not None and args.steps < 1:
        print(f"minnet doctor: --steps must be positive, got {args.steps}", file=sys.stderr)
        return 2
    if not args.scenario and not args.script:
        print("minnet doctor: give a script (its setup() returns a Setup) or --scenario NAME; "
              "'minnet scenarios' lists the scenarios", file=sys.stderr)
        return 2
    say = None if args.json else progress
    if args.scenario:
        from . import scenarios
        try:
            scenario = scenarios.get(args.scenario)
        except KeyError as error:
            print(f"minnet doctor: {error.args[0]}", file=sys.stderr)
            return 2
        reports = {}
        for variant in ("broken", "fixed"):
            if say:
                say(f"{scenario.name}: diagnosing the {variant} setup")
            setup = scenario.broken() if variant == "broken" else scenario.fixed()
            reports[variant] = (setup, diagnose_setup(setup, steps=args.steps,
                                                      verify_fixes=args.verify and
                                                      variant == "broken", progress=say))
        return _print_scenario(args, scenario, reports)
    raise AssertionError("a setup script is diagnosed by cli.py, not here")


def _print_scenario(args, scenario, reports) -> int:
    broken_setup, broken = reports["broken"]
    fixed_setup, fixed = reports["fixed"]
    saved = []
    if not args.no_save:
        for variant, (_, report) in reports.items():
            saved += save_report(report, args.out, f"{scenario.name}-{variant}")
    if args.record:
        from .runlog import record_diagnosis
        for variant, (setup, report) in reports.items():
            record_diagnosis(report, setup, f"{scenario.name}-{variant}")
    if args.json:
        print(json.dumps({"scenario": scenario.name, "codes": list(scenario.codes),
                          "broken": broken.to_dict(), "fixed": fixed.to_dict()}, indent=2,
                         default=str))
        return 0
    print(scenario.describe())
    print()
    print(side_by_side("BROKEN", broken, "FIXED", fixed))
    expected = set(scenario.codes)
    found = expected & set(broken.codes)
    print(f"\nbroken: {'reports' if found == expected else 'MISSES'} "
          f"{', '.join(sorted(expected))}; fixed: "
          f"{'clean of it' if not expected & set(fixed.codes) else 'STILL reports it'}"
          f"{', no errors' if not fixed.errors else ', but has errors'}.")
    print("\n== The broken setup's report ==\n")
    print(broken)
    for path in saved:
        print(f"saved {path}")
    return 0


# --------------------------------------------------------------------------
# minnet tour
# --------------------------------------------------------------------------
def add_tour_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", default="reports",
                        help="folder for the reports (default: %(default)s)")
    parser.add_argument("--scenarios", nargs="*", default=list(TOUR_SCENARIOS),
                        help="which scenarios (default: %(default)s)")
    parser.add_argument("--json", action="store_true",
                        help="print every report as JSON instead of the tour's text")


def run_tour(args: argparse.Namespace) -> int:
    """A few classic failures: each diagnosed broken and fixed, reports written to disk."""
    from . import scenarios
    from .debug.diagnosis import diagnose_setup
    known = set(scenarios.list())
    missing = [name for name in args.scenarios if name not in known]
    if missing:
        print(f"minnet tour: unknown scenario(s) {missing}; 'minnet scenarios' lists them",
              file=sys.stderr)
        return 2
    if args.json:
        tour = []
        for name in args.scenarios:
            scenario = scenarios.get(name)
            progress(f"{name}: diagnosing broken and fixed")
            tour.append({"scenario": name, "codes": list(scenario.codes),
                         "broken": diagnose_setup(scenario.broken()).to_dict(),
                         "fixed": diagnose_setup(scenario.fixed()).to_dict()})
        print(json.dumps(tour, indent=2, default=str))
        return 0
    print("minnet tour: classic training failures, each reproduced (broken), diagnosed, and "
          "repaired (fixed).\n")
    started = time.perf_counter()
    summary = []
    for number, name in enumerate(args.scenarios, 1):
        scenario = scenarios.get(name)
        print(f"== {number}/{len(args.scenarios)} {scenario.name}: {scenario.summary}")
        print(f"   what is wrong: {scenario.wrong}")
        broken = diagnose_setup(scenario.broken())
        fixed = diagnose_setup(scenario.fixed())
        lead = broken.findings[0] if broken.findings else None
        if lead is not None:
            print(f"   diagnosis (root cause first): [{lead.severity}] {lead.code}"
                  + (f" in {lead.layer}" if lead.layer else "") + f": {lead.message}")
            print(f"   fix: {lead.fix}")
        print(f"   the repair: {scenario.fix}")
        print(f"   loss after {broken.run.get('steps')} steps: broken "
              f"{_loss_text(broken)}, fixed {_loss_text(fixed)}; fixed setup findings: "
              f"{', '.join(f'{f.code} ({f.severity})' for f in fixed.findings) or 'none'}")
        paths = save_report(broken, args.out, f"{name}-broken") + \
            save_report(fixed, args.out, f"{name}-fixed")
        print(f"   reports: {', '.join(p for p in paths if p.endswith('.html')) or paths[0]}\n",
              flush=True)
        summary.append((name, set(scenario.codes) <= set(broken.codes), not fixed.errors))
    caught = sum(found for _, found, _ in summary)
    clean = sum(ok for _, _, ok in summary)
    print(f"{caught}/{len(summary)} failures named on the broken setups, {clean}/{len(summary)} "
          f"fixed setups without errors, in {time.perf_counter() - started:.0f} s. Reports in "
          f"{os.path.abspath(args.out)}. Next: 'minnet scenarios' lists every failure; "
          "'minnet doctor --scenario NAME' shows one in full.")
    return 0


def _loss_text(report) -> str:
    last = report.run.get("last_loss")
    stopped = report.run.get("stopped_at")
    if stopped is not None and (last is None or report.run.get("steps", 0) <= stopped):
        return f"non-finite at step {stopped}"
    return f"{last:.4g}" if isinstance(last, float) else str(last)
