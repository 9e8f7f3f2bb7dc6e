"""Run every scenario broken and fixed through diagnose; print recall, precision and time.

    python benchmarks/scenario_matrix.py              # all scenarios
    python benchmarks/scenario_matrix.py dying_relu   # some
    python benchmarks/scenario_matrix.py --json out.json

Recall: the share of scenarios whose broken setup reports every one of the
scenario's codes. False alarms: codes reported on a *fixed* setup (which should
be clean of its own code and of every error). Precision is given two ways:

* clean precision: reported codes that were expected, over reported codes minus
  the broken setups' other codes (those may be genuine consequences, e.g. a too
  high learning rate also diverges the loss);
* strict precision: every reported code that was not the scenario's counts as wrong.

Prints; asserts nothing (tests/ holds the assertions).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from minnet import scenarios  # noqa: E402
from minnet.debug.diagnosis import diagnose_setup  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("names", nargs="*")
    parser.add_argument("--json", help="also write the matrix to this file")
    args = parser.parse_args()
    names = args.names or scenarios.list()
    rows = []
    for name in names:
        scenario = scenarios.get(name)
        row = {"name": name, "expected": list(scenario.codes)}
        for variant in ("broken", "fixed"):
            started = time.perf_counter()
            report = diagnose_setup(scenario.broken() if variant == "broken"
                                    else scenario.fixed())
            row[variant] = {"codes": sorted(set(report.codes)),
                            "alarms": sorted({f.code for f in report.findings
                                              if f.severity != "info"}),
                            "errors": sorted({f.code for f in report.errors}),
                            "seconds": round(time.perf_counter() - started, 2),
                            "check_failures": report.run.get("check_failures", [])}
        expected = set(row["expected"])
        row["caught"] = expected <= set(row["broken"]["codes"])
        row["fixed_clean"] = (not expected & set(row["fixed"]["codes"])
                              and not row["fixed"]["errors"])
        rows.append(row)
        broken, fixed = row["broken"], row["fixed"]
        print(f"{name:<26} {'caught' if row['caught'] else 'MISSED':<7} "
              f"{'clean' if row['fixed_clean'] else 'NOT CLEAN':<9} "
              f"{broken['seconds']:5.1f}s/{fixed['seconds']:4.1f}s  "
              f"broken: {', '.join(broken['codes']) or '-'} | fixed: "
              f"{', '.join(fixed['codes']) or '-'}", flush=True)
        for failure in broken["check_failures"] + fixed["check_failures"]:
            print(f"    ! {failure}")
    n = len(rows)
    recall = sum(r["caught"] for r in rows) / n
    clean = sum(r["fixed_clean"] for r in rows) / n
    true_positive = sum(len(set(r["expected"]) & set(r["broken"]["codes"])) for r in rows)
    # info findings (e.g. "these border pixels are always 0") are not alarms
    fixed_alarms = sum(len(set(r["fixed"]["alarms"])) for r in rows)
    other_broken = sum(len(set(r["broken"]["alarms"]) - set(r["expected"])) for r in rows)
    clean_precision = true_positive / max(1, true_positive + fixed_alarms)
    strict_precision = true_positive / max(1, true_positive + fixed_alarms + other_broken)
    total = sum(r["broken"]["seconds"] + r["fixed"]["seconds"] for r in rows)
    print(f"\n{n} scenarios: recall {recall:.0%} ({sum(r['caught'] for r in rows)}/{n}), "
          f"fixed setups clean {clean:.0%}, clean precision {clean_precision:.0%}, "
          f"strict precision {strict_precision:.0%} ({fixed_alarms} warning/error codes on fixed "
          f"setups, {other_broken} extra ones on broken setups), {total:.0f} s in all")
    if args.json:
        with open(args.json, "w", encoding="utf-8") as file:
            json.dump(rows, file, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
