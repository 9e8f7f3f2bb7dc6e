"""Solution regions of a lab's source file: the ``### BEGIN SOLUTION`` ... ``### END
SOLUTION`` markers (with an optional ``### RELEASE AS`` part) that ``minnet labs release``
replaces and that recording (``recorded.py``) reads, in a module of their own so that both
can use them without importing each other."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

BEGIN, RELEASE, END = "### BEGIN SOLUTION", "### RELEASE AS", "### END SOLUTION"


class LabSourceError(ValueError):
    """A lab source that cannot be released (unbalanced markers, ...), naming file:line."""


# --------------------------------------------------------------------------
# solution regions
# --------------------------------------------------------------------------
@dataclass
class Region:
    begin: int                   # 0-based line numbers of the markers
    end: int
    release: Optional[int] = None
    hint: str = ""
    indent: str = ""


def _marker(line: str) -> Optional[str]:
    stripped = line.strip()
    for marker in (BEGIN, RELEASE, END):
        if stripped == marker or stripped.startswith(marker + " "):
            return marker
    return None


def find_regions(text: str, filename: str = "<source>") -> list:
    """The solution regions of a source file; LabSourceError (file:line) if unbalanced."""
    regions, open_region = [], None
    for number, line in enumerate(text.splitlines()):
        marker = _marker(line)
        where = f"{filename}:{number + 1}"
        if marker == BEGIN:
            if open_region is not None:
                raise LabSourceError(f"{where}: '{BEGIN}' inside the region opened at line "
                                     f"{open_region.begin + 1}; close it with '{END}' first")
            indent = line[:len(line) - len(line.lstrip())]
            open_region = Region(begin=number, end=-1, hint=line.strip()[len(BEGIN):].strip(),
                                 indent=indent)
        elif marker == RELEASE:
            if open_region is None:
                raise LabSourceError(f"{where}: '{RELEASE}' outside a solution region (no "
                                     f"'{BEGIN}' before it)")
            if open_region.release is not None:
                raise LabSourceError(f"{where}: a second '{RELEASE}' in the region opened at "
                                     f"line {open_region.begin + 1}")
            open_region.release = number
        elif marker == END:
            if open_region is None:
                raise LabSourceError(f"{where}: '{END}' without a matching '{BEGIN}'")
            open_region.end = number
            regions.append(open_region)
            open_region = None
    if open_region is not None:
        raise LabSourceError(f"{filename}:{open_region.begin + 1}: '{BEGIN}' is never closed "
                             f"(no '{END}' after it)")
    return regions
