"""The public tests' random inputs, salted wherever the reference solutions are at hand.

A student repository carries the reference's answers to the public tests' calls
(``reference_calls.json``, ``recorded.py``): the inputs come from fixed seeds such as
``np.random.default_rng(101)``, so a file that looks its inputs up in a table of those
answers would score the public comparisons without computing anything (measured: up to
19 of a lab's 24 points). Where the reference solutions are present (``minnet grade``,
``minnet labs check``, an instructor's ``pytest labs/``), every generator a lab test
file seeds with an integer is seeded with (seed, salt) instead; the salt is a digest of
``labs/source/`` (reference solutions and hidden tests: nothing a student has), so the
same course grades the same file the same way every time, and a table built from the
released answers matches nothing. Correct code is graded on other numbers, with the
reference computing the expected values live; ``minnet labs check`` proves that the
reference solutions keep full marks and every mutant is still caught.

Only calls made from a lab test file (``test_*.py`` under the labs folder) are salted:
a reference solution's own ``default_rng(seed)`` (``build_model(seed)``) must stay the
same as the student's copy of it in the sandbox. Not salted: a student repository (no
``labs/source/``) and the release's recording run (``MINNET_RECORD_REFERENCES``), whose
inputs must be the released ones.
"""
from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Optional

import numpy as np

SALT_VARIABLE = "MINNET_PUBLIC_SEED_SALT"  # an instructor's own salt (an integer), or "0": off


def course_salt(labs_dir: Path) -> Optional[int]:
    """The salt of the course in ``labs_dir``: from $MINNET_PUBLIC_SEED_SALT, else a digest
    of every ``.py`` file under ``labs_dir/source`` (None: no reference solutions here)."""
    given = os.environ.get(SALT_VARIABLE)
    if given is not None:
        return int(given) or None
    source = labs_dir / "source"
    if not source.is_dir():
        return None
    digest = hashlib.sha256()
    for path in sorted(source.rglob("*.py")):
        if "__pycache__" in path.parts:
            continue
        digest.update(path.relative_to(source).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return int.from_bytes(digest.digest()[:8], "little")


def _lab_test_file(filename: str, labs_dir: str) -> bool:
    return (os.path.basename(filename).startswith("test_")
            and os.path.abspath(filename).startswith(labs_dir + os.sep))


def salt_public_seeds(labs_dir: Path, salt: int) -> None:
    """From now on, ``np.random.default_rng(seed)`` called from a lab test file under
    ``labs_dir`` with an integer seed gives the generator of ``SeedSequence([seed, salt])``."""
    original = getattr(np.random.default_rng, "unsalted", np.random.default_rng)
    folder = os.path.abspath(str(labs_dir))

    def default_rng(seed=None):
        caller = sys._getframe(1).f_code.co_filename
        if (isinstance(seed, (int, np.integer)) and not isinstance(seed, bool)
                and _lab_test_file(caller, folder)):
            seed = np.random.SeedSequence([int(seed), salt])
        return original(seed)

    default_rng.unsalted = original
    default_rng.__doc__ = original.__doc__
    np.random.default_rng = default_rng
