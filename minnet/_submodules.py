"""Import every module of a package once: how check and scenario modules register themselves."""
from __future__ import annotations

import importlib
import pkgutil

_done: set = set()


def import_all(package_name: str, package_path) -> None:
    """Import each non-private module of the package (once per process)."""
    if package_name in _done:
        return
    for info in pkgutil.iter_modules(package_path):
        if not info.name.startswith("_"):
            importlib.import_module(f"{package_name}.{info.name}")
    _done.add(package_name)
