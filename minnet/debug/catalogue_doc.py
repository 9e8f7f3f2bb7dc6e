"""Generate docs/checklist.md from the registries, so the docs cannot drift from the code.

    python -m minnet.debug.catalogue_doc > docs/checklist.md

For every code: what it means (codes.py), how minnet detects it (the checks
that emit it, their docstrings, and the thresholds they read, with values,
sources and reasons), the scenario that shows it, the fix and the source
item. tests/test_debug_docs.py checks that docs/checklist.md is up to date.
"""
from __future__ import annotations

import inspect
import re

from . import codes
from .checks import CHECKS, FIXES
from .thresholds import DEFINED, Threshold

FAMILY_TITLES = {"data": "Data and preprocessing", "loss": "Loss",
                 "init": "Model, initialisation and activations", "activation": None,
                 "output": None, "model": None, "grad": "Gradients and updates",
                 "update": None, "optim": None, "reg": "Regularisation and batch", "batch": None,
                 "run": "Beyond the catalogue: minnet's own codes"}

SOURCES = """Sources (short names as in checklist_contract.md): *37R* "37 Reasons why your Neural Network is
not working" (S. Ivanov); *SHAO* "Checklist for debugging neural networks" (C. Shao); *HOLDEN*
"My Neural Network isn't working! What should I do?" (D. Holden); *RECIPE* "A Recipe for
Training Neural Networks" (A. Karpathy); *TWEET* Karpathy's "most common neural net mistakes";
*CS231N* the Stanford CS231n notes."""


def _source_with_helpers(function) -> str:
    """The check's source plus that of the same-module functions it calls (one level)."""
    try:
        source = inspect.getsource(function)
    except (OSError, TypeError):
        return ""
    module_globals = getattr(function, "__globals__", {})
    for identifier in dict.fromkeys(re.findall(r"\b([A-Za-z_][A-Za-z0-9_]*)\(", source)):
        helper = module_globals.get(identifier)
        if (inspect.isfunction(helper) and helper is not function
                and helper.__module__ == function.__module__):
            try:
                source += inspect.getsource(helper)
            except (OSError, TypeError):
                pass
    return source


def thresholds_read_by(function) -> list:
    """Names of the thresholds a check reads, in the order its source (and its helpers')
    first mentions them: module constants holding one (``DEAD``) or string literals naming one."""
    source = _source_with_helpers(function)
    if not source:
        return []
    module_globals = getattr(function, "__globals__", {})
    names = []
    for quoted, identifier in re.findall(r"[\"']([a-z0-9_]+)[\"']|\b([A-Z][A-Z0-9_]*)\b", source):
        if quoted in DEFINED:
            names.append(quoted)
        elif isinstance(module_globals.get(identifier), Threshold):
            names.append(module_globals[identifier].name)
    return list(dict.fromkeys(names))


def checklist_markdown() -> str:
    checks = CHECKS
    lines = ["# The failure catalogue: how minnet detects each failure",
             "",
             "Generated from minnet's check and fix lists by `python -m minnet.debug.catalogue_doc` "
             "(do not edit by hand). The contract it implements is [checklist_contract.md](checklist_contract.md).",
             "Every threshold can be overridden per call: "
             "`diagnose(..., thresholds={\"name\": value})`.",
             "",
             SOURCES, ""]
    lines.append("| code | severity | scenario | source |")
    lines.append("|---|---|---|---|")
    for entry in codes.CODES.values():
        scenarios = ", ".join(f"`{s}`" for s in entry.scenarios)
        lines.append(f"| [`{entry.code}`](#{codes.anchor(entry.code)}) | {entry.severity} | "
                     f"{scenarios} | {entry.source} |")
    for entry in codes.CODES.values():
        title = FAMILY_TITLES.get(entry.family)
        if title and not any(line == f"## {title}" for line in lines):
            lines += ["", f"## {title}"]
        # the heading's own anchor is #activationdead_relu; the explicit id keeps the dotted
        # form (#activation.dead_relu) working too, for links written before
        lines += ["", f'<a id="{entry.code}"></a>', "", f"### `{entry.code}`", "",
                  f"**{entry.title[0].upper() + entry.title[1:]}** ({entry.severity} by default). "
                  f"Signal: {entry.signal}.", ""]
        emitters = [c for c in checks if entry.code in c.codes]
        if emitters:
            lines.append("How minnet detects it:")
            lines.append("")
            for check in emitters:
                doc = inspect.getdoc(check.function) or "(no description)"
                doc = " ".join(doc.split())
                lines.append(f"- `{check.name}` ({check.phase}): {doc}")
                for name in thresholds_read_by(check.function):
                    threshold = DEFINED[name]
                    lines.append(f"  - threshold `{name}` = {threshold.value:g} "
                                 f"({threshold.source}): {threshold.why}")
        else:
            lines.append("How minnet detects it: **not detected yet** (no check emits this code).")
        lines.append("")
        scenarios = ", ".join(f"`{s}`" for s in entry.scenarios)
        lines.append(f"Scenario: {scenarios} — `minnet doctor --scenario {entry.scenarios[0]}` "
                     "shows it broken and fixed.")
        lines.append("")
        lines.append(f"Fix: {entry.fix}")
        if entry.code in FIXES:
            lines.append(f"Mechanical fix tried by `report.verify_fixes()`: "
                         f"{FIXES[entry.code].description}.")
        lines.append("")
        lines.append(f"Source: {entry.source}.")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(checklist_markdown(), end="")
