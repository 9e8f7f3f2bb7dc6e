"""The labs' catalogue (labs/README.md) agrees with the labs and with the checklist.

labs/README.md has one table row per lab: its folder, the checklist codes it
covers, its points and its time. These tests hold that table to the truth:

* every lab folder has a row, and every row a folder with a README, a source
  and graded tests;
* a row's codes are exactly the codes the lab's README links to
  (docs/checklist.md#<anchor>), and every anchor exists;
* together the labs cover every code of the checklist (docs/checklist_contract.md);
* a row's points are the sum of the lab's ``@pytest.mark.points(N)`` markers,
  and the lab README says the same ("(N points)");
* docs/course.md lists the labs in the same order.

They read files only (no lab is run): grading the labs is `minnet labs check`.
"""
import re
from pathlib import Path

import pytest

from minnet.debug.codes import CODES

ROOT = Path(__file__).resolve().parents[1]
LABS = ROOT / "labs"
ROW = re.compile(r"^\|\s*\[(?P<lab>\d\d_[a-z0-9_]+)\]\((?P=lab)/?\)\s*\|(?P<cells>.*)\|\s*$")
CODE = re.compile(r"`([a-z]+\.[a-z_]+)`")
POINTS_MARKER = re.compile(r"@pytest\.mark\.points\((\d+)\)")
CHECKLIST_LINK = re.compile(r"checklist\.md#([a-z_]+)\)")


def lab_folders() -> list:
    return sorted(path.name for path in LABS.iterdir()
                  if path.is_dir() and re.fullmatch(r"\d\d_[a-z0-9_]+", path.name))


def catalogue() -> dict:
    """lab folder -> {"codes": set, "points": int, "cells": [...]} from labs/README.md."""
    rows = {}
    for line in (LABS / "README.md").read_text(encoding="utf-8").splitlines():
        match = ROW.match(line)
        if match:
            cells = [cell.strip() for cell in match["cells"].split("|")]
            points = [int(cell) for cell in cells if cell.isdigit()]
            rows[match["lab"]] = {"codes": set(CODE.findall(line)),
                                  "points": points[0] if points else None, "cells": cells}
    return rows


def checklist_codes() -> set:
    """The codes of the contract (docs/CHECKLIST.md's tables)."""
    text = (ROOT / "docs" / "checklist_contract.md").read_text(encoding="utf-8")
    return set(re.findall(r"^\| `([a-z]+\.[a-z_]+)` \|", text, flags=re.M))


def anchor_to_code() -> dict:
    return {code.replace(".", ""): code for code in CODES}


def marker_points(lab: str) -> int:
    return sum(int(n) for path in (LABS / lab).glob("test_*.py")
               for n in POINTS_MARKER.findall(path.read_text(encoding="utf-8")))


def test_every_lab_folder_has_a_row_and_every_row_a_complete_lab():
    rows = catalogue()
    assert sorted(rows) == lab_folders()
    assert len(rows) >= 12
    for lab in rows:
        assert (LABS / lab / "README.md").is_file(), lab
        assert list((LABS / lab).glob("test_*.py")), f"{lab}: no graded tests"
        assert list((LABS / "source" / lab).glob("*.py")), f"{lab}: no source in labs/source"
        assert (LABS / "source" / lab / "mutants.py").is_file(), f"{lab}: no mutant bank"


def test_the_labs_cover_every_checklist_code():
    covered = set().union(*(row["codes"] for row in catalogue().values()))
    missing = checklist_codes() - covered
    assert not missing, f"checklist codes no lab covers: {sorted(missing)}"
    assert covered <= set(CODES), f"unknown codes in labs/README.md: {covered - set(CODES)}"


@pytest.mark.parametrize("lab", lab_folders())
def test_a_rows_codes_are_the_codes_its_readme_links_to(lab):
    readme = (LABS / lab / "README.md").read_text(encoding="utf-8")
    anchors = set(CHECKLIST_LINK.findall(readme))
    known = anchor_to_code()
    unknown = anchors - set(known)
    assert not unknown, f"{lab}/README.md links to anchors docs/checklist.md lacks: {unknown}"
    assert {known[anchor] for anchor in anchors} == catalogue()[lab]["codes"]
    checklist_page = (ROOT / "docs" / "checklist.md").read_text(encoding="utf-8")
    for anchor in anchors:  # the generated page has a section per code
        assert f"### `{known[anchor]}`" in checklist_page


@pytest.mark.parametrize("lab", lab_folders())
def test_a_rows_points_are_the_labs_markers_and_its_readme_says_the_same(lab):
    points = marker_points(lab)
    assert points > 0, f"{lab}: no @pytest.mark.points markers"
    assert catalogue()[lab]["points"] == points
    readme = (LABS / lab / "README.md").read_text(encoding="utf-8")
    stated = set(re.findall(r"\((\d+) points\)", readme))
    assert stated, f"{lab}/README.md never says how many points the lab has ('(N points)')"
    assert stated == {str(points)}, f"{lab}/README.md states {stated} points, markers sum to {points}"


def test_the_course_page_lists_the_labs_in_the_catalogues_order():
    course = (ROOT / "docs" / "course.md").read_text(encoding="utf-8")
    positions = [course.find(f"labs/{lab}") for lab in catalogue()]
    assert -1 not in positions, "docs/course.md does not link every lab"
    assert positions == sorted(positions)


def test_the_released_labs_and_manifest_are_in_sync_with_the_sources():
    """What `minnet labs release --check` checks, in the test suite too: an edited source,
    test or README without a new release shows up before CI's labs check."""
    from minnet.grading.release import release

    result = release(LABS, check=True)
    assert not result.out_of_sync, (f"out of sync: {result.out_of_sync}. "
                                    f"Hint: run `minnet labs release` and commit labs/.")
