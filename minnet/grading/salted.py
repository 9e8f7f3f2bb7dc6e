"""The public tests' random inputs, salted wherever the reference solutions are at hand.

Why: a student repository carries the reference's answers for the public tests' fixed
seeds (``reference_calls.json``), so a lookup table could score without computing. Where
``labs/source/`` is present (``minnet grade``, ``minnet labs check``, an instructor's
``pytest labs/``), ``salt_public_seeds`` makes ``np.random.default_rng(seed)`` called from a
lab test file draw from ``SeedSequence([seed, salt])``, the salt a digest of the lab's
sources (or ``MINNET_PUBLIC_SEED_SALT``). Reference solutions' own seeds, student
repositories and the release's recording run stay unsalted. More: docs/grading_internals.md.
"""
from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Optional

import numpy as np

SALT_VARIABLE = "MINNET_PUBLIC_SEED_SALT"  # an instructor's own salt (an integer), or "0": off


def lab_salt(labs_dir: Path, lab: str) -> Optional[int]:
    """The salt of ``lab`` (a folder name such as ``04_init``): $MINNET_PUBLIC_SEED_SALT
    mixed with the lab's name if set, else a digest of the lab's reference sources
    (``labs_dir/source/<lab>/*.py`` but its mutant bank). Per lab, so that grading one lab
    or all of them, in any tree, draws the same inputs. None: no reference sources here."""
    given = os.environ.get(SALT_VARIABLE)
    digest = hashlib.sha256(lab.encode() + b"\0")
    if given is not None:
        if not int(given):
            return None
        digest.update(given.encode())
    else:
        source = labs_dir / "source" / lab
        files = sorted(path for path in source.glob("*.py") if path.name != "mutants.py")
        if not files:
            return None
        for path in files:
            digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    return int.from_bytes(digest.digest()[:8], "little")


def _lab_of_test_file(filename: str, labs_dir: str) -> Optional[str]:
    """``04_init`` for labs/04_init/test_x.py and labs/source/04_init/test_hidden_x.py."""
    if not os.path.basename(filename).startswith("test_"):
        return None
    relative = os.path.relpath(os.path.abspath(filename), labs_dir).split(os.sep)
    if relative[0] == "source":
        relative = relative[1:]
    return relative[0] if len(relative) == 2 and relative[0] != os.pardir else None


def salt_public_seeds(labs_dir: Path) -> None:
    """From now on, ``np.random.default_rng(seed)`` called from a lab test file under
    ``labs_dir`` with an integer seed gives the generator of ``SeedSequence([seed, salt])``,
    the salt that lab's (``lab_salt``); unchanged for a lab without reference sources."""
    original = getattr(np.random.default_rng, "unsalted", np.random.default_rng)
    folder = os.path.abspath(str(labs_dir))
    salts: dict = {}  # lab -> its salt (or None), computed at its first draw

    def default_rng(seed=None):
        if isinstance(seed, (int, np.integer)) and not isinstance(seed, bool):
            lab = _lab_of_test_file(sys._getframe(1).f_code.co_filename, folder)
            if lab is not None:
                if lab not in salts:
                    salts[lab] = lab_salt(Path(folder), lab)
                if salts[lab] is not None:
                    seed = np.random.SeedSequence([int(seed), salts[lab]])
        return original(seed)

    default_rng.unsalted = original
    default_rng.__doc__ = original.__doc__
    np.random.default_rng = default_rng
