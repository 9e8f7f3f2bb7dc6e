"""Named, documented thresholds for the debugger's checks.

Every number a check compares against is declared once, next to the check, as a named
constant with its source and reason (``DEAD = define("dead_relu_fraction", ...)``); the
check reads ``ctx.thresholds[DEAD]``. A user overrides any of them per call by name,
``diagnose(..., thresholds={"dead_relu_fraction": 0.7})``, and every finding shows its
statistic next to the threshold and that threshold's source, so a verdict can be checked
by hand.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Optional


@dataclass(frozen=True)
class Threshold:
    name: str       # e.g. "dead_relu_fraction"
    value: float    # the default
    source: str     # where the value comes from, e.g. "SHAO 3" or "CS231N"
    why: str        # one sentence: what crossing it means

    def describe(self, value: Optional[float] = None) -> dict:
        """The record a finding carries: name, value in force, default, source, reason."""
        return {"name": self.name, "value": self.value if value is None else value,
                "default": self.value, "source": self.source, "why": self.why}


DEFINED: dict = {}


def define(name: str, value: float, source: str, why: str) -> Threshold:
    """Declare a threshold (once, at import of the check module that uses it)."""
    existing = DEFINED.get(name)
    if existing is not None and existing.value != value:
        raise ValueError(f"threshold {name!r} defined twice with different values "
                         f"({existing.value} and {value})")
    threshold = Threshold(name, float(value), source, why)
    DEFINED[name] = threshold
    return threshold


class Thresholds:
    """The thresholds in force for one diagnosis: defaults plus the caller's overrides.

    Checks read a value by the constant ``define`` returned, ``thresholds[DEAD]``
    (``describe(DEAD)``: the record a finding carries); a user overrides one by its name,
    ``Thresholds({"dead_relu_fraction": 0.7})``. Unknown override names raise (a typo must
    not silently leave the default in force). The names known are those defined so far:
    importing ``minnet.debug.checks`` defines them all.
    """

    def __init__(self, overrides: Optional[Mapping[str, float]] = None):
        self.overrides = dict(overrides or {})
        unknown = sorted(set(self.overrides) - set(DEFINED))
        if unknown:
            raise KeyError(f"diagnose(): unknown threshold name(s) {unknown}; known: "
                           f"{', '.join(sorted(DEFINED))}")

    def __getitem__(self, threshold) -> float:
        """The value in force of ``threshold`` (a ``Threshold``, or its name)."""
        name = threshold.name if isinstance(threshold, Threshold) else threshold
        if name in self.overrides:
            return float(self.overrides[name])
        try:
            return DEFINED[name].value
        except KeyError:
            raise KeyError(f"no threshold named {name!r} is defined") from None

    def describe(self, threshold) -> dict:
        name = threshold.name if isinstance(threshold, Threshold) else threshold
        return DEFINED[name].describe(self[name])

    def table(self) -> list:
        """Every threshold with its value in force, for reports and docs."""
        return [DEFINED[name].describe(self[name]) for name in sorted(DEFINED)]
