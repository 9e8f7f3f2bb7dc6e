"""Every classic training failure, on demand: broken and fixed.

    s = scenarios.get("dying_relu")        # scenarios.list(): the names
    print(s.describe())                    # what is wrong, checklist item, the fix
    report = minnet.debug.diagnose_setup(s.broken())

A scenario is one seeded ``build(broken: bool) -> Setup``; broken and fixed differ only in
the mistake, so the difference between their reports *is* the lesson. Modules register
scenarios with ``@scenario(...)`` and are imported on first use.
"""
from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Callable

from ..debug.setup import Setup


@dataclass(frozen=True)
class Scenario:
    name: str            # e.g. "dying_relu"
    codes: tuple         # the finding codes its broken setup must produce
    summary: str         # one line
    wrong: str           # what is wrong in broken(), in a few sentences
    fix: str             # what fixed() changes
    build: Callable      # build(broken: bool) -> Setup

    def broken(self) -> Setup:
        return self._make(True)

    def fixed(self) -> Setup:
        return self._make(False)

    def _make(self, broken: bool) -> Setup:
        setup = self.build(broken)
        if not isinstance(setup, Setup):
            raise TypeError(f"scenario {self.name!r}: build() must return a Setup, got "
                            f"{type(setup).__name__}")
        variant = "broken" if broken else "fixed"
        return setup.replace(name=setup.name or f"{self.name} ({variant})")

    @property
    def sources(self) -> str:
        from ..debug.codes import get
        return "; ".join(f"{code}: {get(code).source}" for code in self.codes)

    def describe(self) -> str:
        """What is wrong, which checklist item it is, and what the fix changes."""
        from ..debug.codes import source_legend
        legend = source_legend([self.sources])
        return (f"{self.name}: {self.summary}\n"
                f"  codes:   {', '.join(self.codes)} (checklist: {self.sources})\n"
                f"  broken:  {self.wrong}\n"
                f"  fixed:   {self.fix}"
                + (f"\n  sources: {'; '.join(legend)}" if legend else ""))

    def train(self, variant: str = "broken", steps=None, monitor: bool = False):
        """Build ``variant`` ("broken" or "fixed") and train it; returns the TrainingRun."""
        if variant not in ("broken", "fixed"):
            raise ValueError(f"Scenario.train(): variant must be 'broken' or 'fixed', "
                             f"got {variant!r}")
        setup = self.broken() if variant == "broken" else self.fixed()
        return setup.train(steps=steps, monitor=monitor)

    def diagnose(self, variant: str = "broken", **options):
        setup = self.broken() if variant == "broken" else self.fixed()
        return setup.diagnose(**options)


REGISTRY: dict = {}


def scenario(name: str, codes, summary: str, wrong: str, fix: str) -> Callable:
    """Register ``build(broken) -> Setup`` as the scenario ``name``."""
    codes = (codes,) if isinstance(codes, str) else tuple(codes)
    from ..debug.codes import get
    for code in codes:
        get(code)

    def register(build: Callable) -> Callable:
        REGISTRY[name] = Scenario(name, codes, summary, wrong, fix, build)
        return build

    return register


def _load_all() -> None:
    from .._submodules import import_all
    import_all(__name__, __path__)


def list() -> builtins.list:  # noqa: A001  (scenarios.list(), as the issue names it)
    """Names of every scenario, sorted."""
    _load_all()
    return sorted(REGISTRY)


def get(name: str) -> Scenario:
    """The scenario called ``name``; a clear error listing the names otherwise."""
    _load_all()
    try:
        return REGISTRY[name]
    except KeyError:
        close = [n for n in REGISTRY if name.lower() in n or n in name.lower()]
        hint = f" Did you mean {close[0]!r}?" if close else ""
        raise KeyError(f"no scenario named {name!r}.{hint} Known: "
                       f"{', '.join(sorted(REGISTRY))}") from None


def all() -> builtins.list:  # noqa: A001
    _load_all()
    return [REGISTRY[name] for name in sorted(REGISTRY)]
